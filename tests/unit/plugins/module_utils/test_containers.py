"""A container's record: env keys, resolv.conf words, hosts lines and names that cannot escape their line."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _bridges as bridges
from ansible_collections.seed.container_net.plugins.module_utils import _containers as containers
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state


def lab_state():
    state = empty_state()
    state['bridges']['br0'] = bridges.record('br0', {'subnet': '10.1.0.0/24'}, state, None)
    return state


def record(**params):
    params.setdefault('name', 'web')
    params.setdefault('bridge', 'br0')
    return containers.record(params, lab_state())


def test_good_values_are_kept():
    rec = record(hostname='web.example', env={'A': 'x', '_b1': 'two\nlines "q" $HOME', 'EMPTY': None, 'N': 5},
                 dns=['10.1.0.1'], dns_search=['example.com', 'b.example'], dns_options=['ndots:2', 'edns0'],
                 extra_hosts=['db.local:10.1.0.9', 'x:10.1.0.10'], exposed_ports=[' 80/tcp', '53/udp '])
    assert rec['hostname'] == 'web.example'
    assert rec['env'] == {'A': 'x', '_b1': 'two\nlines "q" $HOME', 'EMPTY': '', 'N': '5'}
    assert rec['dns_search'] == ['example.com', 'b.example'] and rec['dns_options'] == ['ndots:2', 'edns0']
    assert rec['extra_hosts'] == [{'host': 'db.local', 'ip': '10.1.0.9'}, {'host': 'x', 'ip': '10.1.0.10'}]
    assert rec['exposed_ports'] == [{'port': 53, 'proto': 'udp'}, {'port': 80, 'proto': 'tcp'}]


@pytest.mark.parametrize('key', ['A B', 'A\nB', 'A\n', '1A', 'A=B', 'A-B', '', 'A.B', 'Ä', 'A\0', 'A\t', 1])
def test_env_keys_must_be_variable_names(key):
    with pytest.raises(ParamError) as e:
        record(env={key: 'v4lue'})
    assert str(e.value) == 'env key %r is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)' % str(key)


def test_env_value_with_nul_is_refused_naming_the_key_not_the_secret():
    with pytest.raises(ParamError) as e:
        record(env={'TOKEN': 's3cr\0t'})
    assert "env 'TOKEN'" in str(e.value) and 'NUL' in str(e.value) and 's3cr' not in str(e.value)


@pytest.mark.parametrize('field, values', [
    ('dns_search', ['x\nnameserver 1.2.3.4']),
    ('dns_search', ['ok.example', 'a b']),
    ('dns_search', ['x\r']),
    ('dns_search', ['x\0']),
    ('dns_search', ['']),
    ('dns_options', ['ndots:1\nnameserver 1.2.3.4']),
    ('dns_options', ['ndots:1 edns0']),
    ('dns_options', ['ndots:1\t']),
])
def test_resolv_conf_words_stay_one_word_on_their_line(field, values):
    with pytest.raises(ParamError) as e:
        record(**{field: values})
    i = len(values) - 1
    assert str(e.value) == '%s[%d] %r is not a single word (no whitespace, newline or NUL)' % (field, i, values[i])


@pytest.mark.parametrize('hostname', ['h\n', 'h\r', 'h\0', 'h x', '-h', 'h_x', 'h.', 'a' * 64])
def test_hostname_is_a_host_name_to_the_end(hostname):
    with pytest.raises(ParamError, match=r'^hostname .* is not a valid host name$'):
        record(hostname=hostname)


@pytest.mark.parametrize('name', ['web\n', 'web\r', 'we b', '-web', '.', '..', 'web/x', 'web\0'])
def test_container_name_is_dockers_rule_to_the_end(name):
    with pytest.raises(ParamError) as e:
        record(name=name)
    assert str(e.value).startswith('name %r is not a valid name' % name)


@pytest.mark.parametrize('entries, message', [
    (['evil\nhost:10.0.0.1'], "extra_hosts[0] host 'evil\\nhost' is not a valid host name"),
    (['a b:10.0.0.1'], "extra_hosts[0] host 'a b' is not a valid host name"),
    (['ok:10.0.0.1', 'h\r:10.0.0.2'], "extra_hosts[1] host 'h\\r' is not a valid host name"),
    (['h\0:10.0.0.2'], "extra_hosts[0] host 'h\\x00' is not a valid host name"),
    (['-h:10.0.0.2'], "extra_hosts[0] host '-h' is not a valid host name"),
    (['h:10.0.0.1\n'], "extra_hosts[0] '10.0.0.1\n' is not a valid IPv4 address"),  # _ipam quotes with '%s'
    (['h:10.0.0.1\nnameserver 1.2.3.4'], 'extra_hosts[0] '),
    (['nohost'], "extra_hosts[0] 'nohost' is not HOST:IP"),
    ([':10.0.0.1'], "extra_hosts[0] ':10.0.0.1' is not HOST:IP"),
])
def test_extra_hosts_refused(entries, message):
    with pytest.raises(ParamError) as e:
        containers.parse_extra_hosts(entries)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize('entry', ['80\n', '80/tcp\n', '80\n/tcp', '\n80', '80\r', '80\0', '٣', '²'])
def test_exposed_ports_with_a_newline_or_odd_digits_are_refused(entry):
    with pytest.raises(ParamError, match=r'^exposed_ports\[0\] '):
        record(exposed_ports=[entry])


def test_mac_with_trailing_newline_is_refused():
    with pytest.raises(ParamError, match=r"^networks\[0\]\.mac "):
        record(bridge=None, networks=[{'bridge': 'br0', 'mac': '02:42:0a:01:00:05\n'}])

"""Container files: Docker's hosts layout, resolv.conf filtering, env quoting that survives anything."""

import importlib.machinery
import importlib.util
import os

import pytest

import oracle
from ansible_collections.seed.container_net.plugins.module_utils import _container_files as files
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state


EXEC_HELPER = os.path.join(oracle.ROOT, 'roles', 'host', 'files', 'container-exec')
_loader = importlib.machinery.SourceFileLoader('container_exec', EXEC_HELPER)
container_exec = importlib.util.module_from_spec(importlib.util.spec_from_loader('container_exec', _loader))
_loader.exec_module(container_exec)


def state_with_link():
    s = empty_state()
    s['bridges']['br0'] = {'subnet': '172.17.0.0/16', 'gateway': '172.17.0.1', 'icc': False}
    s['containers']['labdb'] = {'hostname': 'dbhost', 'networks': [{'bridge': 'br0', 'ip': '172.17.0.2'}],
                                'exposed_ports': [{'port': 5432, 'proto': 'tcp'}], 'env': {'PW': 'secret'}}
    s['containers']['labweb'] = {'hostname': '42dbb66f86b0', 'networks': [{'bridge': 'br0', 'ip': '172.17.0.3'}],
                                 'exposed_ports': [], 'env': {'MY_DB_ENV_PW': 'own wins'}}
    s['links']['labweb/my-db'] = {'receiver': 'labweb', 'source': 'labdb', 'alias': 'my-db'}
    return s


def test_receiver_hosts_file_matches_oracle_layout():
    expected = oracle.block_after('--- /etc/hosts inside labweb', stop=('',))
    assert files.render_hosts(state_with_link(), 'labweb').splitlines() == expected


def test_source_hosts_file_is_unchanged_by_link():
    expected = oracle.block_after('--- /etc/hosts inside labdb', stop=('',))
    assert files.render_hosts(state_with_link(), 'labdb').splitlines() == expected


def test_receivers_own_variables_win():
    env = files.container_env(state_with_link(), 'labweb')
    assert env['MY_DB_ENV_PW'] == 'own wins'
    assert env['MY_DB_PORT_5432_TCP_ADDR'] == '172.17.0.2'


@pytest.mark.parametrize('value', ['', 'a b  c', 'x=y=z', 'say "hi"', "it's", '$HOME and ${X}', 'back\\slash',
                                   '`cmd`', 'tab\there', 'line1\nline2', 'ünïcode'])
def test_env_values_round_trip(value):
    s = empty_state()
    s['containers']['c'] = {'hostname': 'h', 'networks': [], 'exposed_ports': [], 'env': {'K': value, 'DB.A_1': 'v'}}
    rendered = files.render_environment(s, 'c')
    assert container_exec.parse_environment(rendered) == {'K': value, 'DB.A_1': 'v'}


def test_resolv_conf_drops_loopback_resolvers_and_honours_dns_options():
    host = 'nameserver 127.0.0.53\nnameserver 10.9.9.9\nsearch corp.example\n'
    assert files.render_resolv_conf({}, host) == 'nameserver 10.9.9.9\nsearch corp.example\n'
    explicit = {'dns': ['10.1.1.1'], 'dns_search': ['a.example'], 'dns_options': ['ndots:2']}
    assert files.render_resolv_conf(explicit, host) == 'nameserver 10.1.1.1\nsearch a.example\noptions ndots:2\n'


def test_temporary_files_a_killed_run_left_are_removed_and_nothing_else(tmp_path):
    """kill -9 between mkstemp and rename leaves `.cnet-*` beside the file; the next plan removes it
    (kept or removed container, registry directory), and leaves the operator's own files alone."""
    etc, registry = tmp_path / 'etc', tmp_path / 'registry'
    for d in (etc / 'labweb', etc / 'gone', registry):
        d.mkdir(parents=True)
        (d / '.cnet-abc123').write_text('half')
        (d / 'operator-notes').write_text('mine')
    old = state_with_link()
    old['containers']['gone'] = dict(old['containers']['labdb'])
    result = files.plan(old, state_with_link(), str(etc), str(registry))
    stale = sorted(str(d / '.cnet-abc123') for d in (etc / 'labweb', etc / 'gone', registry))
    assert sorted(p for p in result.removes if '.cnet-' in p) == stale
    assert not any('operator-notes' in p for p in result.removes)
    result.apply()
    assert sorted(os.listdir(str(registry))) == ['operator-notes']
    assert sorted(os.listdir(str(etc / 'gone'))) == ['operator-notes']  # the directory stays: not empty


def test_resolv_conf_on_a_dns_network_points_at_its_gateway_as_docker_at_127_0_0_11():
    host = 'nameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n'
    bridges = {'plain': {'gateway': '10.0.0.1'}, 'front': {'gateway': '10.1.0.1', 'dns': True},
               'back': {'gateway': '10.2.0.1', 'dns': True}}
    on_both = {'networks': [{'bridge': 'plain'}, {'bridge': 'back'}, {'bridge': 'front'}], 'dns': ['10.9.9.9']}
    assert files.render_resolv_conf(on_both, host, bridges) == \
        'nameserver 10.2.0.1\nsearch corp.example\noptions edns0 trust-ad ndots:0\n'
    own = {'networks': [{'bridge': 'front'}], 'dns_search': ['a.example'], 'dns_options': ['ndots:2', 'edns0']}
    assert files.render_resolv_conf(own, host, bridges) == 'nameserver 10.1.0.1\nsearch a.example\noptions ndots:2 edns0\n'
    assert files.render_resolv_conf({'networks': [{'bridge': 'plain'}]}, host, bridges) == \
        'search corp.example\noptions edns0 trust-ad\n'

"""Names and values that could escape their line, file, path or rule are refused before the host changes.

A lab with a bridge and two containers (one linked to the other, one port published) is converged
first; then each bad call must fail, name its field, and leave every link, address, route, rule,
set, namespace, registry and container file exactly as it was. Each module also gets a control
call that differs only in the bad value and succeeds, so no case passes because the call was
broken anyway.
"""

import pytest

SUBNET = '10.93.0.0/24'


def converged(lab):
    br = lab.name('br')
    lab.ok('docker_bridge', name=br, subnet=SUBNET)
    lab.ok('container_netns', name=lab.name('db'), bridge=br, hostname='db', exposed_ports=['80/tcp'],
           env={'DB_USER': 'app'}, dns=['10.93.0.1'], dns_search=['lab.example'], extra_hosts=['up:10.93.0.200'])
    lab.ok('container_netns', name=lab.name('web'), bridge=br)
    lab.ok('container_link', receiver=lab.name('web'), source=lab.name('db'), alias='db')
    lab.ok('port_publish', container=lab.name('db'), ports=['18080:80'])
    return br


# Each call: (module, arguments from the lab and one value). The bad cases below pass a bad value
# where the control cases pass a good one; `new` is a container the call would create.
def bridge(lab, name):
    return 'docker_bridge', dict(name=name(lab), subnet='10.94.0.0/24')


def netns(lab, **kw):
    args = dict(name=lab.name('new'), bridge=lab.name('br'))
    args.update(kw)
    return 'container_netns', args


def link(lab, alias):
    return 'container_link', dict(receiver=lab.name('db'), source=lab.name('web'), alias=alias)


def publish(lab, port):
    return 'port_publish', dict(container=lab.name('db'), ports=['18080:80', port])


def topology(lab, env=None, bridge_name=None):
    bridges = [dict(name=lab.name('br'), subnet=SUBNET)]
    if bridge_name:
        bridges.append(dict(name=bridge_name(lab), subnet='10.95.0.0/24'))
    return 'container_net_topology', dict(
        bridges=bridges,
        containers=[dict(name=lab.name('new'), bridge=lab.name('br'), env=env or {'OK': 'v4lue'})])


BAD = [
    # bridge names: one rule, IFNAMSIZ and [A-Za-z0-9][A-Za-z0-9_.-]*
    ('bridge-plus', lambda lab: bridge(lab, lambda l: l.name('b+')), 'name'),
    ('bridge-colon', lambda lab: bridge(lab, lambda l: l.name('b:1')), 'name'),
    ('bridge-slash', lambda lab: bridge(lab, lambda l: l.name('b.x/y')), 'name'),
    ('bridge-percent', lambda lab: bridge(lab, lambda l: l.name('b%1')), 'name'),
    ('bridge-bang', lambda lab: bridge(lab, lambda l: l.name('b!')), 'name'),
    ('bridge-quote', lambda lab: bridge(lab, lambda l: l.name('b"')), 'name'),
    ('bridge-space', lambda lab: bridge(lab, lambda l: l.name('b x')), 'name'),
    ('bridge-newline', lambda lab: bridge(lab, lambda l: l.name('b') + '\n'), 'name'),
    ('bridge-leading-dash', lambda lab: bridge(lab, lambda l: '-' + l.name('b')[:10]), 'name'),
    ('bridge-leading-bang', lambda lab: bridge(lab, lambda l: '!' + l.name('b')[:10]), 'name'),
    ('bridge-too-long', lambda lab: bridge(lab, lambda l: l.name('b' * 16)[:16]), 'name'),
    # container env: keys are variable names, values anything but NUL
    ('env-key-space', lambda lab: netns(lab, env={'A B': 'v4lue'}), 'env'),
    ('env-key-newline', lambda lab: netns(lab, env={'A\nB': 'v4lue'}), 'env'),
    ('env-key-digit', lambda lab: netns(lab, env={'1A': 'v4lue'}), 'env'),
    ('env-key-equals', lambda lab: netns(lab, env={'A=B': 'v4lue'}), 'env'),
    ('env-value-nul', lambda lab: netns(lab, env={'A': 'v4l\0ue'}), 'env'),
    # words of hosts and resolv.conf lines, names
    ('extra-hosts-newline', lambda lab: netns(lab, extra_hosts=['evil\nhost:10.0.0.1']), 'extra_hosts'),
    ('extra-hosts-space', lambda lab: netns(lab, extra_hosts=['a b:10.0.0.1']), 'extra_hosts'),
    ('dns-search-newline', lambda lab: netns(lab, dns_search=['x\nnameserver 1.2.3.4']), 'dns_search'),
    ('dns-options-newline', lambda lab: netns(lab, dns_options=['ndots:1\nnameserver 1.2.3.4']), 'dns_options'),
    ('hostname-newline', lambda lab: netns(lab, hostname='h\n'), 'hostname'),
    ('name-newline', lambda lab: netns(lab, name=lab.name('c') + '\n'), 'name'),
    ('exposed-ports-newline', lambda lab: netns(lab, exposed_ports=['80\n']), 'exposed_ports'),
    ('link-alias-newline', lambda lab: link(lab, 'db\n'), 'alias'),
    ('publish-newline', lambda lab: publish(lab, '18081:80\n'), 'ports'),
    # the topology names the item and the field
    ('topology-env-key', lambda lab: topology(lab, env={'A B': 'v4lue'}), 'containers[0]'),
    ('topology-bridge-name', lambda lab: topology(lab, bridge_name=lambda l: l.name('b+')), 'bridges[1]'),
]

GOOD = [
    ('docker_bridge', lambda lab: bridge(lab, lambda l: l.name('b.1'))),
    ('container_netns', lambda lab: netns(lab, env={'A_B': 'two\nlines', '_1': ''}, extra_hosts=['evil-host:10.0.0.1'],
                                          dns_search=['x.example'], dns_options=['ndots:1'], hostname='h',
                                          exposed_ports=['80'])),
    ('container_link', lambda lab: link(lab, 'db')),
    ('port_publish', lambda lab: publish(lab, '18081:80')),
    ('container_net_topology', lambda lab: topology(lab, env={'A_B': 'v4lue'})),
]


@pytest.mark.parametrize('call, field', [(c, f) for dummy, c, f in BAD], ids=[i for i, dummy, dummy2 in BAD])
def test_bad_value_is_refused_naming_the_field_and_changes_nothing(lab, call, field):
    converged(lab)
    module, args = call(lab)
    before = lab.snapshot()
    result = lab.module(module, **args)
    assert result.get('failed'), result
    assert field in result['msg'], result['msg']
    assert 'Traceback' not in result['msg'] and 'exception' not in result, result
    if module == 'container_net_topology':
        assert ('env' if field == 'containers[0]' else 'name') in result['msg'], result['msg']
    assert lab.snapshot() == before


@pytest.mark.parametrize('call', [c for dummy, c in GOOD], ids=[m for m, dummy in GOOD])
def test_the_same_call_with_a_good_value_succeeds(lab, call):
    converged(lab)
    module, args = call(lab)
    before = lab.snapshot()
    result = lab.ok(module, **args)
    assert result['changed'], result
    assert lab.snapshot() != before

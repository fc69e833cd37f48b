"""Names and values that could escape their line, file, path or rule, and values the modules, roles and the
container-net command cannot act on, are refused before the host changes.

A lab with a bridge and two containers (one linked to the other, one port published) is converged
first; then each bad call must fail, name its field, and leave every link, address, route, rule,
set, namespace, registry and container file exactly as it was. The modules are called one by one,
the roles through ansible-playbook (their argument specs, or the module behind them, refuse the
variable) and the host's container-net command with bad arguments or a registry it cannot read.
Each kind also gets control calls that differ only in the bad value and succeed, so no case passes
because the call was broken anyway.
"""

import json
import os
import sys

import pytest

from labhost import ETC_NETNS

SUBNET = '10.93.0.0/24'


def converged(lab):
    """The lab in one call (what docker_bridge, container_netns, container_link and port_publish would make one by one)."""
    br = lab.name('br')
    lab.ok('container_net_topology', bridges=[dict(name=br, subnet=SUBNET)], containers=[
        dict(name=lab.name('db'), bridge=br, hostname='db', exposed_ports=['80/tcp'], env={'DB_USER': 'app'},
             dns=['10.93.0.1'], dns_search=['lab.example'], extra_hosts=['up:10.93.0.200'], ports=['18080:80']),
        dict(name=lab.name('web'), bridge=br, links=['%s:db' % lab.name('db')])])
    return br


# ---- modules ------------------------------------------------------------------------------------------
# Each call: (module, arguments from the lab and one value). The bad cases below pass a bad value
# where the control cases pass a good one; `new` is a container the call would create. Every name
# a call could create carries the lab's prefix, so even a call that wrongly succeeds stays in the lab.
def given(**args):
    """The arguments that are set (None: the call leaves that option out)."""
    return dict((k, v) for k, v in args.items() if v is not None)


def bridge(lab, name=lambda l: l.name('nb'), **kw):
    return 'docker_bridge', dict(dict(name=name(lab), subnet='10.94.0.0/24'), **kw)


def netns(lab, **kw):
    return 'container_netns', given(**dict(dict(name=lab.name('new'), bridge=lab.name('br')), **kw))


def attach(lab, **network):
    """A new container on the lab's bridge through `networks`, with `network`'s ip or mac."""
    return netns(lab, bridge=None, networks=[dict(bridge=lab.name('br'), **network)])


def link(lab, alias, receiver='db', source='web'):
    return 'container_link', given(receiver=lab.name(receiver), source=source and lab.name(source), alias=alias)


def publish(lab, port, container='db', **kw):
    """`port` published next to what db already publishes (18080:80)."""
    return 'port_publish', dict(container=lab.name(container), ports=(['18080:80'] if container == 'db' else []) + [port],
                                **kw)


def topology(lab, containers=None, bridges=()):
    """The lab's bridge plus `bridges`, and `containers` (on the lab's bridge unless they say `networks`), or one
    new container; short names get the lab's prefix."""
    return 'container_net_topology', dict(
        bridges=[dict(name=lab.name('br'), subnet=SUBNET)] + [dict(b, name=lab.name(b['name'])) for b in bridges],
        containers=[dict({} if 'networks' in c else dict(bridge=lab.name('br')), **dict(c, name=lab.name(c['name'])))
                    for c in containers or [dict(name='new', env={'OK': 'v4lue'})]])


def info(lab, **kw):
    return 'container_net_info', kw


def corrupted(edit, call):
    """`call`, made after the lab's registry document became edit(document): a truncated copy, one from a
    newer collection, another JSON document. The snapshot is taken after the edit, so the refusal must keep it."""
    def prepare(lab):
        path = os.path.join(lab.registry, 'state.json')
        with open(path) as f:
            text = f.read()
        with open(path, 'w') as f:
            f.write(edit(text))
        return call(lab)
    return prepare


def truncated(text):
    return text[:len(text) // 2]


def from_a_newer_collection(text):
    return json.dumps(dict(json.loads(text), version=99))


def not_a_registry(text):
    return '[]'


def malformed_containers(text):
    return json.dumps(dict(json.loads(text), containers=[]))


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
    ('bridge-name-not-a-bridge', lambda lab: bridge(lab, lambda l: 'lo'), ('name', 'not a bridge')),
    # bridge addressing: a strict IPv4 network of its own, the gateway and the range inside it
    ('bridge-subnet-not-a-network', lambda lab: bridge(lab, subnet='10.94.0.300/24'), 'subnet'),
    ('bridge-subnet-host-bits', lambda lab: bridge(lab, subnet='10.94.0.5/24'), ('subnet', 'host bits')),
    ('bridge-subnet-no-prefix', lambda lab: bridge(lab, subnet='10.94.0.0'), 'subnet'),
    ('bridge-subnet-too-small', lambda lab: bridge(lab, subnet='10.94.0.0/31'), 'subnet'),
    ('bridge-subnet-overlapping', lambda lab: bridge(lab, subnet='10.93.0.128/25'), ('subnet', 'overlaps')),
    ('bridge-readdressed-with-containers', lambda lab: bridge(lab, lambda l: l.name('br'), subnet='10.96.0.0/24'),
     ('subnet', 'containers attached')),
    ('bridge-removed-with-containers', lambda lab: bridge(lab, lambda l: l.name('br'), state='absent'),
     ('name', 'containers attached')),
    ('bridge-gateway-outside-subnet', lambda lab: bridge(lab, gateway='10.95.0.1'), 'gateway'),
    ('bridge-ip-range-outside-subnet', lambda lab: bridge(lab, ip_range='10.95.0.0/25'), 'ip_range'),
    ('bridge-ip-range-host-bits', lambda lab: bridge(lab, ip_range='10.94.0.5/25'), 'ip_range'),
    ('bridge-ip-range-no-address', lambda lab: bridge(lab, ip_range='10.94.0.255/32'), ('ip_range', 'no address')),
    ('bridge-mtu-too-small', lambda lab: bridge(lab, mtu=67), 'mtu'),
    ('bridge-mtu-too-large', lambda lab: bridge(lab, mtu=65536), 'mtu'),
    ('bridge-host-binding-not-an-address', lambda lab: bridge(lab, host_binding_ipv4='any'), 'host_binding_ipv4'),
    ('bridge-unknown-option', lambda lab: bridge(lab, colour='red'), 'colour'),
    ('bridge-registry-not-a-document', corrupted(not_a_registry, bridge), ('registry', 'not a registry document')),
    ('bridge-registry-dir-relative', lambda lab: bridge(lab, registry_dir=lab.id + '-registry', check_mode=True),
     ('registry_dir', 'absolute')),
    ('bridge-registry-dir-relative-applied', lambda lab: bridge(lab, registry_dir=lab.id + '-registry'),
     ('registry_dir', 'absolute')),
    ('bridge-registry-dir-a-file', lambda lab: bridge(lab, registry_dir=lab.registry + '/state.json'),
     ('registry_dir', 'not a directory')),
    ('netns-etc-dir-relative', lambda lab: netns(lab, netns_etc_dir='etc/netns'), ('netns_etc_dir', 'absolute')),
    # container env: keys are variable names, values anything but NUL
    ('env-key-space', lambda lab: netns(lab, env={'A B': 'v4lue'}), 'env'),
    ('env-key-newline', lambda lab: netns(lab, env={'A\nB': 'v4lue'}), 'env'),
    ('env-key-digit', lambda lab: netns(lab, env={'1A': 'v4lue'}), 'env'),
    ('env-key-equals', lambda lab: netns(lab, env={'A=B': 'v4lue'}), 'env'),
    ('env-value-nul', lambda lab: netns(lab, env={'A': 'v4l\0ue'}), 'env'),
    # words of hosts and resolv.conf lines, names
    ('extra-hosts-newline', lambda lab: netns(lab, extra_hosts=['evil\nhost:10.0.0.1']), 'extra_hosts'),
    ('extra-hosts-space', lambda lab: netns(lab, extra_hosts=['a b:10.0.0.1']), 'extra_hosts'),
    ('extra-hosts-bad-address', lambda lab: netns(lab, extra_hosts=['up:10.0.0.300']), 'extra_hosts[0]'),
    ('dns-not-an-address', lambda lab: netns(lab, dns=['10.93.0']), 'dns[0]'),
    ('dns-search-newline', lambda lab: netns(lab, dns_search=['x\nnameserver 1.2.3.4']), 'dns_search'),
    ('dns-options-newline', lambda lab: netns(lab, dns_options=['ndots:1\nnameserver 1.2.3.4']), 'dns_options'),
    ('hostname-newline', lambda lab: netns(lab, hostname='h\n'), 'hostname'),
    ('hostname-label-too-long', lambda lab: netns(lab, hostname='h' * 64), 'hostname'),
    ('name-newline', lambda lab: netns(lab, name=lab.name('c') + '\n'), 'name'),
    ('name-too-long', lambda lab: netns(lab, name=lab.name('x' * 250)), ('name', 'characters long')),
    ('exposed-ports-newline', lambda lab: netns(lab, exposed_ports=['80\n']), 'exposed_ports'),
    ('exposed-ports-out-of-range', lambda lab: netns(lab, exposed_ports=['65536/tcp']), 'exposed_ports[0]'),
    ('exposed-ports-unknown-protocol', lambda lab: netns(lab, exposed_ports=['80/icmp']), 'exposed_ports[0]'),
    # a container's networks: bridges of the registry, each once; addresses and MACs the bridge can carry
    ('networks-unknown-bridge', lambda lab: netns(lab, bridge=lab.name('nosuch')), 'networks[0].bridge'),
    ('networks-bridge-twice', lambda lab: netns(lab, bridge=None, networks=[dict(bridge=lab.name('br'))] * 2),
     'networks[1].bridge'),
    ('networks-and-bridge', lambda lab: netns(lab, networks=[dict(bridge=lab.name('br'))]), 'networks|bridge'),
    ('ip-outside-subnet', lambda lab: attach(lab, ip='10.94.0.5'), 'networks[0].ip'),
    ('ip-is-the-gateway', lambda lab: attach(lab, ip='10.93.0.1'), ('networks[0].ip', 'gateway')),
    ('ip-taken', lambda lab: attach(lab, ip='10.93.0.2'), ('networks[0].ip', 'taken')),  # db's
    ('ip-not-an-address', lambda lab: attach(lab, ip='db'), 'networks[0].ip'),
    ('mac-malformed', lambda lab: attach(lab, mac='02:42:0a:5d:00:zz'), 'networks[0].mac'),
    ('mac-multicast', lambda lab: attach(lab, mac='01:00:5e:00:00:01'), 'networks[0].mac'),
    ('mac-zero', lambda lab: attach(lab, mac='00:00:00:00:00:00'), 'networks[0].mac'),
    # links: between two containers of the registry that share a network, by a name-like alias
    ('link-alias-newline', lambda lab: link(lab, 'db\n'), 'alias'),
    ('link-alias-leading-dash', lambda lab: link(lab, '-web'), 'alias'),
    ('link-alias-too-long', lambda lab: link(lab, 'a' * 250), ('alias', 'characters long')),
    ('link-unknown-source', lambda lab: link(lab, 'x', source='nosuch'), 'source'),
    ('link-unknown-receiver', lambda lab: link(lab, 'x', receiver='nosuch'), 'receiver'),
    ('link-to-itself', lambda lab: link(lab, 'x', source='db'), ('source', 'itself')),
    ('link-no-source', lambda lab: link(lab, 'x', source=None), 'source'),
    # published ports: Docker's -p forms, IPv4 host addresses of this host, no clash
    ('publish-newline', lambda lab: publish(lab, '18081:80\n'), 'ports'),
    ('publish-host-port-out-of-range', lambda lab: publish(lab, '65536:80'), 'ports[1]'),
    ('publish-range-length-mismatch', lambda lab: publish(lab, '18081-18083:81-82'), ('ports[1]', 'different sizes')),
    ('publish-host-ip-not-an-address', lambda lab: publish(lab, '10.0.0.300:18081:80'), ('ports[1]', 'host_ip')),
    ('publish-host-ip-not-on-this-host', lambda lab: publish(lab, '192.0.2.1:18081:80'), ('ports[1]', 'host_ip')),
    ('publish-host-ip-a-number', lambda lab: publish(lab, dict(host_ip=2130706433, host_port=18081, container_port=80)),
     'ports[1].host_ip'),
    ('publish-unknown-protocol', lambda lab: publish(lab, '18081:80/icmp'), ('ports[1]', 'protocol')),
    ('publish-ipv6-host-ip', lambda lab: publish(lab, '[::1]:18081:80'), ('ports[1]', 'IPv6')),
    ('publish-a-list', lambda lab: publish(lab, [18081, 80]), 'ports[1]'),
    ('publish-dict-unknown-key', lambda lab: publish(lab, dict(container_port=80, host_port=18081, proto='udp')),
     ('ports[1]', 'proto')),
    ('publish-clash-within-the-call', lambda lab: publish(lab, '18080:81'), ('ports[1]', 'clashes')),
    ('publish-clash-with-another-container', lambda lab: publish(lab, '18080:80', container='web'), ('ports[0]', 'clashes')),
    ('publish-unknown-container', lambda lab: publish(lab, '18081:80', container='nosuch'), 'container'),
    ('publish-allowed-source-host-bits', lambda lab: publish(lab, '18081:80', allowed_sources=['10.0.0.1/24']),
     'allowed_sources[0]'),
    # the topology names the item and the field
    ('topology-env-key', lambda lab: topology(lab, [dict(name='new', env={'A B': 'v4lue'})]), ('containers[0]', 'env')),
    ('topology-bridge-name', lambda lab: topology(lab, bridges=[dict(name='b+', subnet='10.95.0.0/24')]),
     ('bridges[1]', 'name')),
    ('topology-bridge-twice', lambda lab: topology(lab, bridges=[dict(name='br', subnet=SUBNET)]),
     ('bridges[1]', 'duplicate name')),
    ('topology-bridge-overlapping', lambda lab: topology(lab, bridges=[dict(name='b2', subnet='10.93.0.128/25')]),
     ('bridges[1]', 'overlaps')),
    ('topology-container-twice', lambda lab: topology(lab, [dict(name='new'), dict(name='new')]),
     ('containers[1]', 'duplicate name')),
    ('topology-container-name-too-long', lambda lab: topology(lab, [dict(name='x' * 250)]),
     ('containers[0]', 'name', 'characters long')),
    ('topology-container-unknown-key', lambda lab: topology(lab, [dict(name='new', colour='red')]), 'containers.colour'),
    ('topology-ip-taken', lambda lab: topology(lab, [dict(name='new', networks=[dict(bridge=lab.name('br'), ip='10.93.0.2')])]),
     ('containers[0]', 'networks[0].ip', 'taken')),
    ('topology-link-unknown-container', lambda lab: topology(lab, [dict(name='new', links=[lab.name('nosuch') + ':x'])]),
     ('containers[0]', 'links[0]', 'not a declared container')),
    ('topology-link-alias-twice', lambda lab: topology(lab, [
        dict(name='new'), dict(name='new2'), dict(name='new3', links=[lab.name('new') + ':x', dict(source=lab.name('new2'), alias='x')])]),
     ('containers[2]', 'links[1]', "alias 'x'")),
    ('topology-link-unknown-key', lambda lab: topology(lab, [dict(name='new'), dict(name='new2', links=[
        dict(source=lab.name('new'), alais='x')])]), ('containers[1]', 'links[0]', 'alais')),
    ('topology-port-clash', lambda lab: topology(lab, [dict(name='new', ports=['18080:80'])]),
     ('containers[0]', 'ports[0]', 'clashes')),
    # what is in force: no options of its own, and a registry it can read
    ('info-unknown-option', lambda lab: info(lab, colour='red'), 'colour'),
    ('info-registry-truncated', corrupted(truncated, info), ('registry', 'corrupt or truncated')),
    ('info-registry-from-a-newer-collection', corrupted(from_a_newer_collection, info), ('registry', 'newer')),
]

# Bugs these cases found that are not fixed yet: the case stays, strict, until the fix makes it pass.
KNOWN = {}  # cases that expose a bug not fixed yet: strict xfail, so a fix shows

GOOD = [
    ('docker_bridge', lambda lab: bridge(lab, lambda l: l.name('b.1'))),
    ('docker_bridge-addressing', lambda lab: bridge(lab, gateway='10.94.0.254', ip_range='10.94.0.128/25',
                                                    host_binding_ipv4='127.0.0.1')),
    ('docker_bridge-smallest', lambda lab: bridge(lab, subnet='10.94.0.0/30', ip_range='10.94.0.2/32', mtu=68)),
    ('docker_bridge-largest-mtu', lambda lab: bridge(lab, mtu=65535)),
    ('container_netns', lambda lab: netns(lab, env={'A_B': 'two\nlines', '_1': ''}, extra_hosts=['evil-host:10.0.0.1'],
                                          dns_search=['x.example'], dns_options=['ndots:1'], hostname='h',
                                          exposed_ports=['80'])),
    ('container_netns-limits', lambda lab: netns(lab, name=lab.name('x' * 245)[:245], hostname='h' * 63, dns=['10.93.0.1'],
                                                 exposed_ports=['65535/tcp', '80-90/tcp', '53/udp'])),
    ('container_netns-address', lambda lab: attach(lab, ip='10.93.0.254')),
    ('container_netns-mac', lambda lab: attach(lab, mac='02:42:0A:5D:00:FE')),
    ('container_link', lambda lab: link(lab, 'db')),
    ('container_link-longest-alias', lambda lab: link(lab, 'a' * (244 - len(lab.name('db'))))),
    ('port_publish', lambda lab: publish(lab, '18081:80')),
    ('port_publish-range', lambda lab: publish(lab, '127.0.0.1:18081-18082:81-82/udp', allowed_sources=['10.0.0.0/24'])),
    ('port_publish-dict', lambda lab: publish(lab, dict(host_ip='127.0.0.1', host_port=18081, container_port=80))),
    ('container_net_topology', lambda lab: topology(lab, [dict(name='new', env={'A_B': 'v4lue'})])),
    ('container_net_topology-links', lambda lab: topology(lab, [
        dict(name='new'), dict(name='new2'),
        dict(name='new3', links=[lab.name('new') + ':x', dict(source=lab.name('new2'), alias='y')], ports=['18090:80'])])),
]


def params(cases):
    return [pytest.param(*case[1:], id=case[0], marks=[pytest.mark.xfail(strict=True, reason=KNOWN[case[0]])]
                         if case[0] in KNOWN else []) for case in cases]


def words(expected):
    return expected if isinstance(expected, tuple) else (expected,)


@pytest.mark.parametrize('call, field', params(BAD))
def test_bad_value_is_refused_naming_the_field_and_changes_nothing(lab, call, field):
    converged(lab)
    module, args = call(lab)
    before = lab.snapshot()
    result = lab.module(module, **args)
    assert result.get('failed'), result
    for word in words(field):
        assert word in result['msg'], result['msg']
    assert 'Traceback' not in result['msg'] and 'exception' not in result, result
    assert lab.snapshot() == before


@pytest.mark.parametrize('call', params(GOOD))
def test_the_same_call_with_a_good_value_succeeds(lab, call):
    converged(lab)
    module, args = call(lab)
    before = lab.snapshot()
    result = lab.ok(module, **args)
    assert result['changed'], result
    assert lab.snapshot() != before


def test_info_on_the_good_registry_reports_it_in_sync(lab):
    """The control of the info cases: the same call on the registry as converged."""
    converged(lab)
    before = lab.snapshot()
    module, args = info(lab)
    result = lab.ok(module, **args)
    assert result['drift']['in_sync'] and sorted(result['containers']) == [lab.name('db'), lab.name('web')], result
    assert lab.snapshot() == before


# ---- roles --------------------------------------------------------------------------------------------
# Each play: (role, variables as inventory would give them, whether only the role's argument validation
# runs). The host and web_db roles install packages and services, so their cases stop after the
# validation (the only task tagged `always`); the topology role runs for real, module included.
ROLE_PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - seed.container_net.%s
"""


def topology_role(lab, containers=None, bridges=(), **variables):
    """The topology role on the lab's registry, declaring what topology() gives the module."""
    dummy, args = topology(lab, containers, bridges)
    return 'topology', dict(dict(container_net_bridges=args['bridges'], container_net_containers=args['containers'],
                                 container_net_registry_dir=lab.registry, container_net_python=sys.executable),
                            **variables), False


def validated(role, **variables):
    return lambda lab: (role, variables, True)


def run_role(lab, monkeypatch, role, variables, validation_only):
    if validation_only:
        monkeypatch.setenv('ANSIBLE_RUN_TAGS', 'cnet-no-task-has-this-tag')
    return lab.playbook(ROLE_PLAY % role, extra_vars=variables, check=False)


def failure(out):
    """The failed task's result as the default callback prints it, and its error: the argument errors of a
    validation (the result also holds the whole spec, every variable's name), or the module's message."""
    result = json.loads(next(line for line in out.stdout.splitlines() if line.startswith('fatal: ')).split(' => ', 1)[1])
    return result, '\n'.join(result.get('argument_errors') or [result['msg']])


ROLE_BAD = [
    ('topology-state-not-a-choice', lambda lab: topology_role(lab, container_net_state='gone'), ('container_net_state', 'gone')),
    ('topology-prune-not-a-bool', lambda lab: topology_role(lab, container_net_prune='sometimes'), 'container_net_prune'),
    ('topology-bridges-not-a-list', lambda lab: topology_role(lab, container_net_bridges=dict(name=lab.name('br'), subnet=SUBNET)),
     'container_net_bridges'),
    ('topology-container-not-a-dict', lambda lab: topology_role(lab, container_net_containers=[lab.name('new')]),
     'container_net_containers'),
    ('topology-bridge-subnet', lambda lab: topology_role(lab, bridges=[dict(name='b2', subnet='10.95.0.5/24')]),
     ('bridges[1]', 'subnet', 'host bits')),
    ('topology-container-twice', lambda lab: topology_role(lab, [dict(name='new'), dict(name='new')]),
     ('containers[1]', 'duplicate name')),
    ('topology-link-unknown-container', lambda lab: topology_role(lab, [dict(name='new', links=[lab.name('nosuch')])]),
     ('containers[0]', 'links[0]', 'not a declared container')),
    ('topology-container-unknown-key', lambda lab: topology_role(lab, [dict(name='new', colour='red')]), 'containers.colour'),
    ('topology-port-out-of-range', lambda lab: topology_role(lab, [dict(name='new', ports=['18081:65536'])]),
     ('containers[0]', 'ports[0]', '65536')),
    ('web_db-http-port-not-a-number', validated('web_db', web_db_http_port='eighty'), 'web_db_http_port'),
    ('web_db-state-not-a-choice', validated('web_db', web_db_state='gone'), 'web_db_state'),
    ('host-restore-unit-not-a-choice', validated('host', container_net_host_restore_unit='sometimes'),
     'container_net_host_restore_unit'),
    ('host-install-packages-not-a-bool', validated('host', container_net_host_install_packages='perhaps'),
     'container_net_host_install_packages'),
]

ROLE_GOOD = [
    ('topology', lambda lab: topology_role(lab, [dict(name='new', ports=['18081:80'])], container_net_prune=False)),
    ('web_db', validated('web_db', web_db_http_port=8081, web_db_state='present')),
    ('host', validated('host', container_net_host_restore_unit='false', container_net_host_install_packages=False)),
]


@pytest.mark.parametrize('play, field', params(ROLE_BAD))
def test_bad_role_variable_is_refused_naming_it_and_changes_nothing(lab, monkeypatch, play, field):
    converged(lab)
    role, variables, validation_only = play(lab)
    before = lab.snapshot()
    out = run_role(lab, monkeypatch, role, variables, validation_only)
    assert out.returncode != 0 and 'failed=1' in out.stdout, out.stdout + out.stderr
    result, error = failure(out)
    for word in words(field):
        assert word in error, error
    assert 'Traceback' not in out.stdout + out.stderr and 'exception' not in result, out.stdout + out.stderr
    assert lab.snapshot() == before


@pytest.mark.parametrize('play', params(ROLE_GOOD))
def test_the_same_role_with_good_variables_succeeds(lab, monkeypatch, play):
    converged(lab)
    role, variables, validation_only = play(lab)
    before = lab.snapshot()
    out = run_role(lab, monkeypatch, role, variables, validation_only)
    assert out.returncode == 0 and 'failed=0' in out.stdout, out.stdout + out.stderr
    assert (lab.snapshot() != before) == (not validation_only)  # only the topology role ran its tasks


# ---- the container-net command ------------------------------------------------------------------------
# Each call gives the arguments (after --registry-dir of the lab). Exit 2 is a usage error or a registry
# that cannot be read, 1 a name the registry does not hold; nothing goes to stdout, no traceback to stderr.
def restore(lab):
    """restore where it has work to do: a container's hosts file is gone (as a cleanup would leave it)."""
    os.unlink(os.path.join(ETC_NETNS, lab.name('web'), 'hosts'))
    return ('restore',)


CLI_BAD = [
    ('unknown-command', lambda lab: ('frobnicate',), 2, "invalid choice: 'frobnicate'"),
    ('no-command', lambda lab: (), 2, 'required: COMMAND'),
    ('unknown-option', lambda lab: ('ps', '--colour'), 2, 'unrecognized arguments: --colour'),
    ('restore-unknown-option', lambda lab: restore(lab) + ('--force',), 2, 'unrecognized arguments: --force'),
    ('network-no-command', lambda lab: ('network',), 2, 'required: ls|inspect'),
    ('port-no-name', lambda lab: ('port',), 2, 'required: name'),
    ('inspect-unknown-container', lambda lab: ('inspect', lab.name('db'), lab.name('nosuch')), 1,
     ("no such container: '", "nosuch'")),
    ('port-unknown-container', lambda lab: ('port', lab.name('nosuch')), 1, ("no such container: '", "nosuch'")),
    ('network-inspect-unknown-bridge', lambda lab: ('network', 'inspect', lab.name('nosuch')), 1,
     ("no such network: '", "nosuch'")),
    ('restore-registry-truncated', corrupted(truncated, restore), 2, ('registry', 'corrupt or truncated')),
    ('restore-registry-from-a-newer-collection', corrupted(from_a_newer_collection, restore), 2, ('registry', 'newer')),
    ('restore-registry-not-a-document', corrupted(not_a_registry, restore), 2, ('registry', 'not a registry document')),
    ('check-registry-malformed', corrupted(malformed_containers, lambda lab: ('check',)), 2,
     ('registry', 'malformed containers')),
    ('ps-registry-truncated', corrupted(truncated, lambda lab: ('ps',)), 2, ('registry', 'corrupt or truncated')),
]

CLI_GOOD = [
    ('restore', restore),
    ('inspect', lambda lab: ('inspect', lab.name('db'), lab.name('web'))),
    ('port', lambda lab: ('port', lab.name('db'))),
    ('network-inspect', lambda lab: ('network', 'inspect', lab.name('br'))),
    ('ps', lambda lab: ('ps', '--json')),
    ('check', lambda lab: ('check',)),
]


@pytest.mark.parametrize('call, code, message', params(CLI_BAD))
def test_bad_command_line_exits_non_zero_naming_what_is_wrong_and_changes_nothing(lab, call, code, message):
    converged(lab)
    argv = call(lab)
    before = lab.snapshot()
    out = lab.cli(*argv)
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    for word in words(message):
        assert word in out.stderr, out.stderr
    assert out.stdout == '' and 'Traceback' not in out.stderr, out.stdout + out.stderr
    assert lab.snapshot() == before


@pytest.mark.parametrize('call', params(CLI_GOOD))
def test_the_same_command_line_with_good_arguments_succeeds(lab, call):
    converged(lab)
    argv = call(lab)
    before = lab.snapshot()
    out = lab.cli(*argv)
    assert out.returncode == 0 and out.stdout, (out.returncode, out.stdout, out.stderr)
    assert (lab.snapshot() != before) == (argv[0] == 'restore')  # restore rewrote the hosts file, views write nothing

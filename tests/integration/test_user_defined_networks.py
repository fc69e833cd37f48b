"""Names on user-defined networks, on a real kernel: the host's resolver (started by the runs
themselves, a detached supervisor here where systemd is not PID 1), real clients (dig, getent,
redis-cli) in the containers, a real upstream (dnsmasq) in a lab namespace of its own."""

import os

import pytest

from labhost import exited, wait_for

UPSTREAM, UPSTREAM_NAME, UPSTREAM_IP = '10.199.0.2', 'outside.example', '198.51.100.7'


def start_upstream(lab):
    """dnsmasq in a namespace of its own, wired to the lab host: it knows one name, nothing else.
    Every container on a DNS network in these tests names it in `dns` (its upstream), so nothing
    is ever forwarded to the machine's own resolvers."""
    ns = lab.add_peer('up', '10.199.0.1/24', UPSTREAM + '/24')
    lab.serve(ns, 'dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --user=root '
                  '--listen-address=%s --bind-interfaces --local=/#/ --address=/%s/%s' % (UPSTREAM, UPSTREAM_NAME, UPSTREAM_IP),
              tcp=[53], udp=[53])


def dig(lab, ns, name, qtype='A', tcp=False):
    """dig from inside a container, with the resolv.conf the container sees: (status, sorted answers)."""
    out = lab.in_ns(ns, 'dig +time=2 +tries=1 %s %s %s' % ('+tcp' if tcp else '+notcp', qtype, name), check=False)
    status = next((line.split('status: ')[1].split(',')[0] for line in out.stdout.splitlines() if 'status: ' in line),
                  'no answer: %s' % out.stdout[-200:])
    answers = []
    section = False
    for line in out.stdout.splitlines():
        if line.startswith(';; ANSWER SECTION'):
            section = True
        elif section and not line.strip():
            section = False
        elif section:
            answers.append(line.split()[-1])
    return status, sorted(answers)


@pytest.fixture
def named(lab):
    """Two DNS networks, an internal DNS network, a default bridge; containers on them; the
    resolver and an upstream running."""
    n = lab.name
    for name, subnet, extra in (('fr', '10.61.0.0/24', {'dns': True}), ('bk', '10.62.0.0/24', {'dns': True}),
                                ('pl', '10.63.0.0/24', {}), ('vt', '10.64.0.0/24', {'dns': True, 'internal': True})):
        lab.ok('docker_bridge', name=n(name), subnet=subnet, **extra)
    containers = {
        'web': [{'bridge': n('fr'), 'aliases': ['www']}],
        'api': [{'bridge': n('fr'), 'aliases': ['svc']}, {'bridge': n('bk')}],
        'db': [{'bridge': n('bk'), 'aliases': ['database', 'svc']}],
        'old': [{'bridge': n('pl')}],
        'safe': [{'bridge': n('vt')}],
    }
    ips = {}
    for short, networks in containers.items():
        result = lab.ok('container_netns', name=n(short), networks=networks, dns=[UPSTREAM])
        ips[short] = dict((net['bridge'], net['ip']) for net in result['container']['networks'])
    start_upstream(lab)
    return {'ips': ips, 'resolver': lab.resolver_pid()}


def test_names_and_aliases_resolve_on_shared_networks_only(lab, named):
    n, ips = lab.name, named['ips']
    fr, bk = n('fr'), n('bk')
    assert dig(lab, n('web'), n('api')) == ('NOERROR', [ips['api'][fr]])
    assert dig(lab, n('web'), 'svc') == ('NOERROR', [ips['api'][fr]])        # alias on front: api only
    assert dig(lab, n('web'), '%s.%s' % (n('api'), fr)) == ('NOERROR', [ips['api'][fr]])
    assert dig(lab, n('api'), 'svc') == ('NOERROR', sorted([ips['api'][fr], ips['db'][bk]]))  # shared alias: all
    assert dig(lab, n('api'), 'database') == ('NOERROR', [ips['db'][bk]])   # its second network answers too
    assert dig(lab, n('api'), 'www', tcp=True) == ('NOERROR', [ips['web'][fr]])
    assert dig(lab, n('db'), n('api')) == ('NOERROR', [ips['api'][bk]])     # the address it can reach
    # scoping, both directions: nothing of back for web, nothing of front for db, no names on the default bridge
    for ns, name in ((n('web'), n('db')), (n('web'), 'database'), (n('db'), n('web')), (n('db'), 'www'),
                     (n('web'), n('old')), (n('safe'), n('web'))):
        assert dig(lab, ns, name) == ('NXDOMAIN', []), (ns, name)
    # the control: the same resolver answers the same names to those who share the network
    assert dig(lab, n('api'), n('db')) == ('NOERROR', [ips['db'][bk]])
    # glibc with the container's resolv.conf: the gateway as its one name server, ndots:0
    out = lab.in_ns(n('web'), 'getent hosts www; cat /etc/resolv.conf').stdout
    assert out.startswith('%s ' % ips['web'][fr]) and 'nameserver %s.1\n' % ips['web'][fr].rsplit('.', 1)[0] in out
    assert 'options ndots:0' in out
    assert lab.in_ns(n('api'), 'getent hosts database').stdout.startswith('%s ' % ips['db'][bk])
    old = lab.in_ns(n('old'), 'cat /etc/resolv.conf').stdout  # the default bridge: the host's servers
    assert '10.63.0.1' not in old and 'ndots:0' not in old


def test_other_types_ptr_and_upstream(lab, named):
    n, ips = lab.name, named['ips']
    assert dig(lab, n('web'), n('api'), 'AAAA') == ('NOERROR', [])  # IPv4-only name: empty, not NXDOMAIN
    assert dig(lab, n('web'), '-x %s' % ips['api'][n('fr')], '') == ('NOERROR', [n('api') + '.'])
    assert dig(lab, n('web'), UPSTREAM_NAME) == ('NOERROR', [UPSTREAM_IP])  # forwarded, from the host side
    assert dig(lab, n('web'), UPSTREAM_NAME, tcp=True) == ('NOERROR', [UPSTREAM_IP])
    assert dig(lab, n('safe'), UPSTREAM_NAME) == ('NXDOMAIN', [])  # an internal network never asks outside
    assert dig(lab, n('safe'), n('safe')) == ('NOERROR', [ips['safe'][n('vt')]])


def test_connect_and_disconnect_change_names_on_a_live_container(lab, named):
    n, ips = lab.name, named['ips']
    fr, bk = n('fr'), n('bk')
    lab.serve(n('db'), 'redis-server --port 6379 --bind 0.0.0.0 --save "" --appendonly no --protected-mode no',
              tcp=[6379])
    assert dig(lab, n('web'), 'database') == ('NXDOMAIN', [])
    # connect web to back: the same namespace, now on two networks; names of back resolve
    result = lab.ok('container_netns', name=n('web'), networks=[{'bridge': fr, 'aliases': ['www']}, {'bridge': bk}],
                    dns=[UPSTREAM])
    assert result['changed']
    assert dig(lab, n('web'), 'database') == ('NOERROR', [ips['db'][bk]])  # at once: the run has returned
    assert lab.in_ns(n('web'), 'redis-cli -h database ping').stdout == 'PONG\n'
    assert dig(lab, n('db'), n('web'))[1] == [lab.ok('container_net_info')['containers'][n('web')]['networks'][1]['ip']]
    # disconnect it again: back's names are gone for web, web's for back
    lab.ok('container_netns', name=n('web'), networks=[{'bridge': fr, 'aliases': ['www']}], dns=[UPSTREAM])
    assert dig(lab, n('web'), 'database') == ('NXDOMAIN', [])
    assert dig(lab, n('db'), n('web')) == ('NXDOMAIN', [])
    assert lab.in_ns(n('api'), 'redis-cli -h database ping').stdout == 'PONG\n'  # the control


def test_a_link_alias_on_a_dns_network_resolves_for_its_receiver_only(lab, named):
    n, ips = lab.name, named['ips']
    lab.ok('container_link', receiver=n('api'), source=n('db'), alias='cache')
    assert dig(lab, n('api'), 'cache') == ('NOERROR', [ips['db'][n('bk')]])
    assert dig(lab, n('db'), 'cache') == ('NXDOMAIN', [])
    lab.ok('container_netns', name=n('web2'), networks=[{'bridge': n('bk')}], dns=[UPSTREAM])
    assert dig(lab, n('web2'), 'database') == ('NOERROR', [ips['db'][n('bk')]])  # the control, asked at once
    assert dig(lab, n('web2'), 'cache') == ('NXDOMAIN', [])


def test_info_lists_names_and_turning_names_off_under_aliases_is_refused(lab, named):
    n, ips = lab.name, named['ips']
    lab.ok('container_link', receiver=n('api'), source=n('db'), alias='cache')
    info = lab.ok('container_net_info')
    assert info['names']['networks'][n('fr')]['svc'] == [ips['api'][n('fr')]]
    assert info['names']['networks'][n('bk')][n('db') + '.' + n('bk')] == [ips['db'][n('bk')]]
    assert n('pl') not in info['names']['networks']
    assert info['names']['links'] == {n('api'): {'cache': [ips['db'][n('bk')]]}}
    assert info['drift']['in_sync'] is True
    before = lab.snapshot()
    result = lab.module('docker_bridge', name=n('bk'), subnet='10.62.0.0/24', dns=False)
    assert result.get('failed') and result['msg'].startswith('dns:') and n('db') in result['msg'], result
    assert lab.snapshot() == before


def test_bad_aliases_name_the_field_and_change_nothing(lab, named):
    n = lab.name
    before = lab.snapshot()
    for networks, field in (([{'bridge': n('fr'), 'aliases': ['no good']}], 'networks[0].aliases[0]'),
                            ([{'bridge': n('fr')}, {'bridge': n('bk'), 'aliases': ['-x']}], 'networks[1].aliases[0]'),
                            ([{'bridge': n('pl'), 'aliases': ['fine']}], 'networks[0].aliases')):
        result = lab.module('container_netns', name=n('web'), networks=networks, dns=[UPSTREAM])
        assert result.get('failed') and field in result['msg'], result
        assert lab.snapshot() == before
    assert lab.resolver_pid() == named['resolver'] and not exited(named['resolver'])


def test_topology_declares_dns_networks_idempotently(lab):
    n = lab.name
    bridges = [{'name': n('nm'), 'subnet': '10.65.0.0/24', 'dns': True}]
    containers = [{'name': n('red'), 'networks': [{'bridge': n('nm'), 'aliases': ['cache']}], 'dns': [UPSTREAM]},
                  {'name': n('app'), 'bridge': n('nm'), 'dns': [UPSTREAM]}]
    assert lab.ok('container_net_topology', bridges=bridges, containers=containers)['changed']
    again = lab.ok('container_net_topology', bridges=bridges, containers=containers)
    assert again['changed'] is False
    start_upstream(lab)
    lab.serve(n('red'), 'redis-server --port 6379 --bind 0.0.0.0 --save "" --appendonly no --protected-mode no',
              tcp=[6379])
    assert lab.in_ns(n('app'), 'redis-cli -h cache ping; redis-cli -h %s ping' % n('red')).stdout == 'PONG\nPONG\n'
    # dropping the alias from the declaration takes the name away (diff mode shows it)
    containers[0]['networks'][0]['aliases'] = []
    result = lab.module('container_net_topology', diff=True, bridges=bridges, containers=containers)
    names = next(d for d in result['diff'] if d['before_header'] == 'names (DNS networks)')
    assert result['changed'] and '%s cache 10.65.0.2\n' % n('nm') in names['before'] and 'cache' not in names['after']
    assert dig(lab, n('app'), 'cache') == ('NXDOMAIN', [])


def test_the_resolver_is_started_kept_and_removed_by_the_runs(lab):
    n = lab.name
    assert lab.resolver_pid() is None
    lab.ok('docker_bridge', name=n('pl'), subnet='10.67.0.0/24')
    assert lab.resolver_pid() is None  # no DNS network, no resolver
    check = lab.module('docker_bridge', check_mode=True, name=n('ls'), subnet='10.66.0.0/24', dns=True)
    assert check['changed'] and lab.resolver_pid() is None  # check mode starts nothing
    lab.ok('docker_bridge', name=n('ls'), subnet='10.66.0.0/24', dns=True)
    supervisor = lab.resolver_pid()
    assert supervisor and lab.ok('docker_bridge', name=n('ls'), subnet='10.66.0.0/24', dns=True)['changed'] is False
    ip = lab.ok('container_netns', name=n('one'), bridge=n('ls'), dns=[UPSTREAM])['container']['ip']
    assert dig(lab, n('one'), n('one')) == ('NOERROR', [ip])

    def worker():
        with open('/proc/%d/task/%d/children' % (supervisor, supervisor)) as f:
            return int(f.read().split()[0])
    first = worker()
    os.kill(first, 9)  # the resolver dies: its supervisor starts another
    wait_for(lambda: exited(first) and dig(lab, n('one'), n('one')) == ('NOERROR', [ip]), 15, 'a new resolver')
    second = worker()
    os.kill(supervisor, 9)  # the supervisor dies: its resolver goes along, the host has drifted
    wait_for(lambda: exited(supervisor) and exited(second), 10, 'supervisor and resolver gone')
    drift = lab.ok('container_net_info')['drift']
    assert not drift['in_sync'] and 'start the resolver for DNS networks' in drift['kernel']
    lab.ok('docker_bridge', name=n('ls'), subnet='10.66.0.0/24', dns=True)  # any run starts it again
    assert lab.resolver_pid() not in (None, supervisor)
    assert dig(lab, n('one'), n('one')) == ('NOERROR', [ip])
    # the last DNS network goes: so does the resolver, and nothing of it is left
    supervisor = lab.resolver_pid()
    lab.ok('container_netns', name=n('one'), state='absent')
    lab.ok('docker_bridge', name=n('ls'), state='absent')
    assert lab.resolver_pid() is None and exited(supervisor)
    lab.ok('docker_bridge', name=n('pl'), state='absent')
    assert not os.path.exists(lab.registry)


def test_restore_after_a_reboot_brings_the_resolver_and_the_names_back(lab, named):
    n, ips = lab.name, named['ips']
    supervisor = named['resolver']
    # a reboot: every process, namespace and bridge gone; the registry and the files stay
    os.kill(supervisor, 9)
    wait_for(lambda: exited(supervisor), 10, 'the resolver gone')
    for short in ('web', 'api', 'db', 'old', 'safe'):
        lab.sh('ip netns delete %s' % n(short))
    for short in ('fr', 'bk', 'pl', 'vt'):
        lab.sh('ip link delete %s' % n(short))
    assert lab.cli('check').returncode == 1
    out = lab.cli('restore')
    assert out.returncode == 0 and out.stdout == 'restored\n', out.stderr
    assert lab.resolver_pid() not in (None, supervisor)
    assert dig(lab, n('web'), 'svc') == ('NOERROR', [ips['api'][n('fr')]])
    assert dig(lab, n('api'), 'database', tcp=True) == ('NOERROR', [ips['db'][n('bk')]])
    assert lab.cli('check').returncode == 0 and lab.cli('restore').stdout == 'nothing to restore\n'


@pytest.mark.parametrize('proto', ['tcp', 'udp'])
def test_a_gateway_port_held_by_another_server_fails_the_run_clearly_then_a_run_completes(lab, proto):
    n = lab.name
    lab.ok('docker_bridge', name=n('bz'), subnet='10.68.0.0/24')
    squatter = lab.echo(lab.ns, 'not dns\n', bind='10.68.0.1', **{proto: [53]})
    result = lab.module('docker_bridge', name=n('bz'), subnet='10.68.0.0/24', dns=True)
    assert result.get('failed') and '10.68.0.1 port 53' in result['msg'] and 'another DNS server' in result['msg'], result
    assert 'resolver.log' in result['msg'] and lab.ok('container_net_info')['drift']['unfinished_run']
    squatter.kill()
    squatter.wait()
    assert lab.ok('docker_bridge', name=n('bz'), subnet='10.68.0.0/24', dns=True)['changed']
    assert lab.ok('container_net_info')['drift']['in_sync']
    lab.ok('docker_bridge', name=n('bz'), state='absent')
    assert lab.resolver_pid() is None and not os.path.exists(lab.registry)


def test_the_topology_role_starts_a_resolver_that_outlives_the_play(lab):
    """Through ansible-playbook: the module's code comes in a zip that is gone when the play ends;
    the resolver it forked keeps answering with the code it had loaded."""
    n = lab.name
    bridges = [{'name': n('rl'), 'subnet': '10.69.0.0/24', 'dns': True}]
    containers = [{'name': n('ra'), 'networks': [{'bridge': n('rl'), 'aliases': ['alpha']}], 'dns': [UPSTREAM]},
                  {'name': n('rb'), 'bridge': n('rl'), 'dns': [UPSTREAM]}]
    out = lab.topology_role(bridges, containers)
    assert 'changed=1' in out.stdout, out.stdout
    pid = lab.resolver_pid()
    assert pid and dig(lab, n('rb'), 'alpha') == ('NOERROR', ['10.69.0.2'])
    assert dig(lab, n('rb'), n('rb'), tcp=True) == ('NOERROR', ['10.69.0.3'])
    out = lab.topology_role(bridges, containers)
    assert 'changed=0' in out.stdout and lab.resolver_pid() == pid, out.stdout
    lab.topology_role(bridges, containers, state='absent')
    assert lab.resolver_pid() is None and exited(pid)

"""Dual-stack bridges (subnet_v6): both families between containers, from the host, and away again."""

import os
import re
import shutil
import sys

import pytest

from labhost import (BACKEND, ETC_NETNS, ROOT, ip6tables_save, link_elements, owned_rules, sh, tcp_request, udp_request,
                     wait_for)
from test_user_defined_networks import dig

sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit'))
import oracle  # noqa: E402  pylint: disable=wrong-import-position

CONTAINER_EXEC = os.path.join(ROOT, 'roles', 'host', 'files', 'container-exec')

SUBNET, SUBNET6 = '10.97.0.0/24', 'fd00:97::/64'


def test_dual_stack_bridge_gives_containers_both_families_and_leaves_nothing_behind(lab):
    br = lab.name('ds')
    before = lab.snapshot()
    bridge = lab.ok('docker_bridge', name=br, subnet=SUBNET, subnet_v6=SUBNET6)['bridge']
    assert (bridge['enable_ipv6'], bridge['subnet_v6'], bridge['gateway_v6']) == (True, SUBNET6, 'fd00:97::1')
    a, b = lab.name('a'), lab.name('b')
    ca = lab.ok('container_netns', name=a, bridge=br)['container']
    cb = lab.ok('container_netns', name=b, bridge=br)['container']
    assert (ca['ip'], ca['ip6'], cb['ip6']) == ('10.97.0.2', 'fd00:97::2', 'fd00:97::3')
    assert 'fd00:97::1' in lab.in_ns(a, 'ip -6 route show default').stdout
    lab.echo(b, 'b\n', tcp=[7000], udp=[7001], bind='::')
    for ip in ('10.97.0.3', 'fd00:97::3'):
        assert tcp_request(lab, a, ip, 7000) == 'b\n', ip
        assert udp_request(lab, a, ip, 7001) == 'b\n', ip
        assert tcp_request(lab, lab.ns, ip, 7000) == 'b\n', ip  # the host reaches its containers
    # a second run of each writes nothing
    converged = lab.snapshot()
    assert not lab.ok('docker_bridge', name=br, subnet=SUBNET, subnet_v6=SUBNET6)['changed']
    assert not lab.ok('container_netns', name=a, bridge=br)['changed']
    assert lab.snapshot() == converged
    lab.ok('container_netns', name=a, state='absent')
    lab.ok('container_netns', name=b, state='absent')
    lab.ok('docker_bridge', name=br, state='absent')
    after = lab.snapshot()
    assert 'CNET' not in ip6tables_save(lab) and 'cnet' not in owned_rules(lab), BACKEND
    assert after['ip6tables'] == before['ip6tables'] and after['links'] == before['links']


def oracle_hosts(lab, receiver, db_ip, db_ip6, own_ip, own_ip6, hostname):
    """The --ipv6 oracle's hosts file of labweb, with Docker's addresses and names replaced by ours."""
    lines = oracle.block_after('--- /etc/hosts inside labweb', stop=('',), path=oracle.ORACLE6)
    subs = (('fd00:dead:beef::242:ac11:2', db_ip6), ('fd00:dead:beef::242:ac11:3', own_ip6),
            ('172.17.0.2', db_ip), ('172.17.0.3', own_ip), ('labdb', lab.name('db')), ('db31ab042006', hostname),
            ('my-db', 'cache'))
    out = []
    for line in lines:
        for old, new in subs:
            line = line.replace(old, new)
        out.append(line)
    return out


@pytest.mark.skipif(not shutil.which('redis-server'), reason='redis-server from apt is installed by scripts/bootstrap')
def test_a_link_on_a_dual_stack_icc_off_bridge_passes_over_ipv6_too_and_nothing_else_does(lab):
    """Docker 20.10 writes the IPv6 hosts line of a link (glibc returns it first) but accepts the link's
    ports over IPv4 only, so the client's first try is dropped; here the link's ports pass over both."""
    br = lab.name('br')
    lab.ok('docker_bridge', name=br, subnet=SUBNET, subnet_v6=SUBNET6, icc=False)
    db, web, other = lab.name('db'), lab.name('web'), lab.name('other')
    cdb = lab.ok('container_netns', name=db, bridge=br, hostname='dbhost', exposed_ports=['6379/tcp'])['container']
    cweb = lab.ok('container_netns', name=web, bridge=br, hostname='webhost')['container']
    lab.ok('container_netns', name=other, bridge=br)
    assert lab.ok('container_link', receiver=web, source=db, alias='cache')['changed']
    with open(os.path.join(ETC_NETNS, web, 'hosts')) as f:
        assert f.read().splitlines() == oracle_hosts(lab, web, cdb['ip'], cdb['ip6'], cweb['ip'], cweb['ip6'], 'webhost')
    lab.serve(db, 'redis-server --port 6379 --bind "* -::*" --save "" --appendonly no --protected-mode no '
                  '--dir /tmp --daemonize no', tcp=[6379])
    lab.echo(db, 'db-7000\n', tcp=[7000], udp=[7001], bind='::')
    # the real client over both families (hiredis takes the alias's IPv4 line; by address over IPv6)
    out = os.popen('%s %s %s -- sh -c "redis-cli -h cache ping && redis-cli -h %s client list"'
                   % (sys.executable, CONTAINER_EXEC, web, cdb['ip6'])).read()
    assert out.splitlines()[0] == 'PONG' and 'addr=[%s]:' % cweb['ip6'] in out, out
    # glibc gives the alias's IPv6 line first (as in the oracle); a client that connects in that order
    # (Python's create_connection) is answered over IPv6 on its first try
    first = "import socket; s = socket.create_connection(('cache', 6379), timeout=3); s.sendall(b'PING\\r\\n'); " \
            "print(s.getpeername()[0], s.recv(64).decode().strip())"
    out = os.popen('%s %s %s -- python3 -c "%s"' % (sys.executable, CONTAINER_EXEC, web, first)).read()
    assert out.split() == [cdb['ip6'], '+PONG'], out
    # nothing else within the bridge: an unexposed port of the source, an unlinked neighbour (also by link-local)
    blocked = [(web, cdb['ip6'], 'tcp', 7000), (web, cdb['ip6'], 'udp', 7001), (other, cdb['ip6'], 'tcp', 6379),
               (other, cdb['ip6'], 'tcp', 7000), (other, link_local(lab, db) + '%eth0', 'tcp', 7000)]
    for ns, ip, proto, port in blocked:
        got = tcp_request(lab, ns, ip, port) if proto == 'tcp' else udp_request(lab, ns, ip, port)
        assert got is None, (ns, ip, proto, port)
    # controls: the same servers answer the host
    assert tcp_request(lab, lab.ns, cdb['ip6'], 7000) == 'db-7000\n'
    assert udp_request(lab, lab.ns, cdb['ip6'], 7001) == 'db-7000\n'
    if BACKEND == 'nftables':
        assert link_elements(lab, 'links6') == {(br, cweb['ip6'], cdb['ip6'], 'tcp', 6379)}


def link_local(lab, ns):
    out = lab.in_ns(ns, 'ip -6 -o addr show dev eth0 scope link').stdout
    return out.split()[3].split('/')[0]


def test_published_ports_on_both_families_and_ipv6_only_ones(lab):
    lan = lab.add_peer('lan', '10.98.0.1/24', '10.98.0.2/24')
    lab.add_peer_ipv6('lan', 'fd00:98::1', 'fd00:98::2', routes=[SUBNET6])
    br, web = lab.name('br'), lab.name('web')
    lab.ok('docker_bridge', name=br, subnet=SUBNET, subnet_v6=SUBNET6)
    c = lab.ok('container_netns', name=web, bridge=br, exposed_ports=['80/tcp', '81/tcp', '82/tcp', '53/udp'])
    c = c['container']
    for port in (80, 81, 82):
        lab.echo(web, 'web-%d\n' % port, tcp=[port], bind='::')
    lab.echo(web, 'web-53\n', udp=[53], bind='::')
    spec = ['18080:80', '[::]:18081:81', '1053:53/udp']
    result = lab.ok('port_publish', container=web, ports=spec)['ports']
    assert result['docker_port'] == ['80/tcp -> 0.0.0.0:18080', '80/tcp -> [::]:18080', '81/tcp -> [::]:18081',
                                     '53/udp -> 0.0.0.0:1053', '53/udp -> [::]:1053']
    assert result['container_ip6'] == c['ip6']
    assert tcp_request(lab, lan, '10.98.0.1', 18080) == 'web-80\n'
    assert tcp_request(lab, lan, 'fd00:98::1', 18080) == 'web-80\n'
    assert tcp_request(lab, lan, 'fd00:98::1', 18081) == 'web-81\n'
    assert udp_request(lab, lan, 'fd00:98::1', 1053) == 'web-53\n'
    assert udp_request(lab, lan, '10.98.0.1', 1053) == 'web-53\n'
    # an IPv6-only mapping is not published on IPv4; unpublished ports are not routed in over IPv6
    assert tcp_request(lab, lan, '10.98.0.1', 18081) is None
    assert tcp_request(lab, lan, c['ip6'], 82) is None and tcp_request(lab, lan, c['ip6'], 80) is None
    assert tcp_request(lab, lab.ns, c['ip6'], 82) == 'web-82\n'  # control: the host reaches it
    snap = lab.snapshot()
    assert lab.ok('port_publish', container=web, ports=spec)['changed'] is False
    assert lab.snapshot() == snap
    # what the kernel cannot honour is refused before anything changes
    for ports, words in ((['[::1]:18090:80'], "ports[0] host_ip '::1'"),
                         (['[fd00:98::7]:18090:80'], "ports[0] host_ip 'fd00:98::7' is not an address of this host")):
        out = lab.module('port_publish', container=web, ports=ports)
        assert out['failed'] and words in out['msg'], out['msg']
    assert lab.snapshot() == snap
    lab.ok('port_publish', container=web, state='absent')
    assert tcp_request(lab, lan, 'fd00:98::1', 18081) is None
    assert '-j DNAT' not in ip6tables_save(lab) and 'dnat ip' not in owned_rules(lab)


def test_names_answer_aaaa_on_a_dual_stack_dns_network(lab):
    br = lab.name('fr')
    lab.ok('docker_bridge', name=br, subnet=SUBNET, subnet_v6=SUBNET6, dns=True)
    web = lab.ok('container_netns', name=lab.name('web'), networks=[{'bridge': br, 'aliases': ['www']}],
                 dns=['10.199.0.2'])['container']
    api = lab.name('api')
    lab.ok('container_netns', name=api, networks=[{'bridge': br}], dns=['10.199.0.2'])
    assert dig(lab, api, 'www', 'AAAA') == ('NOERROR', [web['ip6']])
    assert dig(lab, api, 'www', 'A') == ('NOERROR', [web['ip']])
    assert dig(lab, api, lab.name('web'), 'AAAA', tcp=True) == ('NOERROR', [web['ip6']])
    lab.echo(lab.name('web'), 'www\n', tcp=[8000], bind='::')
    # a real resolver path: glibc asks both, connects to the IPv6 answer first
    out = lab.in_ns(api, 'getent ahostsv6 www').stdout.split()
    assert out[0] == web['ip6']
    assert tcp_request(lab, api, web['ip6'], 8000) == 'www\n'
    lab.ok('container_netns', name=lab.name('web'), state='absent')
    lab.ok('container_netns', name=api, state='absent')
    lab.ok('docker_bridge', name=br, state='absent')


def test_ipv6_is_turned_on_and_off_a_bridge_without_containers(lab):
    br = lab.name('br')
    lab.ok('docker_bridge', name=br, subnet=SUBNET)
    assert lab.sh('cat /proc/sys/net/ipv6/conf/%s/disable_ipv6' % br).stdout.strip() == '1'
    snap = lab.snapshot()
    checked = lab.module('docker_bridge', name=br, subnet=SUBNET, subnet_v6=SUBNET6, check_mode=True)
    assert checked['changed'] and lab.snapshot() == snap
    assert lab.ok('docker_bridge', name=br, subnet=SUBNET, subnet_v6=SUBNET6)['changed']
    assert lab.sh('cat /proc/sys/net/ipv6/conf/%s/disable_ipv6' % br).stdout.strip() == '0'
    assert 'fd00:97::1/64' in lab.sh('ip -6 addr show dev %s' % br).stdout
    assert lab.ok('docker_bridge', name=br, subnet=SUBNET)['changed']
    assert lab.sh('cat /proc/sys/net/ipv6/conf/%s/disable_ipv6' % br).stdout.strip() == '1'
    assert 'CNET' not in ip6tables_save(lab) and lab.snapshot()['addrs'] == snap['addrs']
    out = lab.module('docker_bridge', name=br, subnet=SUBNET, subnet_v6='fd00:97::/64', enable_ipv6=False)
    assert out['failed'] and out['msg'].startswith("subnet_v6: bridge '%s' has enable_ipv6: false" % br)


def test_restore_after_a_reboot_brings_both_families_back(lab):
    br, db, web = lab.name('br'), lab.name('db'), lab.name('web')
    bridges = [{'name': br, 'subnet': SUBNET, 'subnet_v6': SUBNET6, 'icc': False}]
    containers = [{'name': db, 'bridge': br, 'exposed_ports': ['5432/tcp']},
                  {'name': web, 'bridge': br, 'links': ['%s:db' % db], 'exposed_ports': ['80/tcp'], 'ports': ['8080:80']}]
    result = lab.ok('container_net_topology', bridges=bridges, containers=containers)

    def view():
        snap = lab.snapshot()
        out = dict((k, snap[k]) for k in ('files', 'netns', 'nft'))
        out['rules'] = re.sub(r'\[\d+:\d+\]', '[counters]', snap['iptables'] + snap['ip6tables'])
        for name in (db, web):
            out[name] = lab.in_ns(name, 'ip -o addr show scope global | cut -d" " -f2-; ip route; ip -6 route show '
                                        'default; ip -o link show eth0 | grep -o "link/ether [^ ]*"').stdout
        out[br] = lab.sh('ip -o addr show dev %s scope global | cut -d" " -f2-; sysctl -n net.ipv6.conf.all.forwarding'
                         % br).stdout
        return out
    converged = view()
    # a reboot: namespaces, the bridge, every owned rule of both families and the IPv6 forwarding switch gone
    for name in (db, web):
        sh(['ip', 'netns', 'del', name])
    lab.sh('ip link del %s' % br)
    lab.sh('iptables-save | grep -v CNET- | iptables-restore; ip6tables-save | grep -v CNET- | ip6tables-restore; '
           'nft delete table inet container_net 2>/dev/null; sysctl -qw net.ipv6.conf.all.forwarding=0')
    wait_for(lambda: br not in lab.sh('ip -o link show').stdout and 'vc' not in lab.sh('ip -o link show').stdout,
             what='the veths to go')
    restored = lab.cli('restore')
    assert restored.returncode == 0 and restored.stdout == 'restored\n', restored.stderr
    assert view() == converged
    lab.echo(db, 'db\n', tcp=[5432], bind='::')
    assert tcp_request(lab, web, result['containers'][db]['ip6'], 5432) == 'db\n'
    assert lab.cli('check').returncode == 0


def test_ipv6_turned_off_inside_a_container_is_repaired_and_its_ipv6_publishes_pin_its_network(lab):
    br, v4only, web = lab.name('br'), lab.name('v4'), lab.name('web')
    lab.ok('docker_bridge', name=br, subnet=SUBNET, subnet_v6=SUBNET6)
    lab.ok('docker_bridge', name=v4only, subnet='10.96.0.0/24')
    c = lab.ok('container_netns', name=web, bridge=br, exposed_ports=['80/tcp'])['container']
    lab.echo(web, 'web\n', tcp=[80], bind='::')
    # a hand (or an image's sysctl) turns IPv6 off inside: drift, and a run puts it back
    lab.in_ns(web, 'sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1')
    assert c['ip6'] not in lab.in_ns(web, 'ip -6 addr').stdout  # the kernel took the address away
    assert lab.ok('container_netns', name=web, bridge=br, exposed_ports=['80/tcp'])['changed']
    assert tcp_request(lab, lab.ns, c['ip6'], 80) == 'web\n' and tcp_request(lab, lab.ns, c['ip'], 80) == 'web\n'
    assert not lab.ok('container_netns', name=web, bridge=br, exposed_ports=['80/tcp'])['changed']
    # a port published on IPv6 keeps its container on a network with IPv6
    lab.ok('port_publish', container=web, ports=['[::]:18080:80'])
    snap = lab.snapshot()
    out = lab.module('container_netns', name=web, networks=[{'bridge': v4only}, {'bridge': br}], exposed_ports=['80/tcp'])
    assert out['failed'] and out['msg'].startswith("networks: container '%s' publishes ports on IPv6" % web), out['msg']
    assert lab.snapshot() == snap

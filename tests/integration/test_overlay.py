"""An overlay across hosts on a real kernel: each host is a lab namespace with its own registry, the
underlay a switch (a bridge in a namespace of its own) between them. Two runs per host as the
topology role makes them: its own containers first, then the other members' containers from their
facts (FDB entries, links across hosts)."""

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys

import pytest

from labhost import BACKEND, Lab, exited, sh, tcp_request, udp_request, wait_for
from test_user_defined_networks import dig

UNDERLAY = '10.240.0.%d'
SUBNET = '10.230.0.0/16'


class Fleet:
    def __init__(self, lab, collections_path, tmp_path, count):
        self.labs = [lab] + [Lab(collections_path, tmp_path / ('host%d' % i)) for i in range(2, count + 1)]
        for other in self.labs[1:]:
            other.procs = []
        self.switch = lab.add_peer_ns('sw')
        lab.in_ns(self.switch, 'ip link add sw0 type bridge && ip link set sw0 up')
        self.hosts = {}
        for i, host in enumerate(self.labs, 1):
            port = '%sp%d' % (lab.id, i)
            lab.in_ns(self.switch, 'ip link add %s type veth peer name ul0 netns %s && ip link set %s master sw0 up'
                      % (port, host.ns, port))
            host.sh('ip addr add %s/24 dev ul0 && ip link set ul0 up' % (UNDERLAY % i))
            self.hosts['h%d' % i] = {'underlay': UNDERLAY % i}

    def stranger(self, short, address):
        """A namespace on the underlay that is no member (`address` on its ul0)."""
        lab = self.labs[0]
        ns = lab.add_peer_ns(short)
        lab.in_ns(self.switch, 'ip link add %s%s type veth peer name ul0 netns %s && ip link set %s%s master sw0 up'
                  % (lab.id, short, ns, lab.id, short))
        lab.in_ns(ns, 'ip addr add %s/24 dev ul0 && ip link set ul0 up' % address)
        return ns

    def teardown(self):
        for host in self.labs[1:]:
            host.teardown()

    def run(self, i, overlays, containers, remote=None, prune=False):
        """One host's run: the first phase without `remote` (links to unknown containers wait), the second with it."""
        args = dict(remote_containers=list(remote)) if remote is not None else dict(defer_remote_links=True)
        return self.labs[i - 1].ok('container_net_topology', overlays=overlays, hosts=self.hosts, host='h%d' % i,
                                   containers=containers, prune=prune, **args)


def vxlan_name(bridge):
    """The VXLAN port's name, spelt out as _overlay.vxlan_name makes it (its name is part of the contract)."""
    return 'vx' + hashlib.sha1(bridge.encode('utf-8')).hexdigest()[:11]


def remote_of(declared, facts, host):
    """What another member is told of a host's containers: its declaration and its facts."""
    out = []
    for c in declared:
        nets = [{'bridge': n['bridge'], 'ip': n['ip'], 'mac': n['mac']} for n in facts['containers'][c['name']]['networks']]
        out.append({'name': c['name'], 'host': host, 'hostname': c.get('hostname'), 'networks': nets,
                    'exposed_ports': c.get('exposed_ports', []), 'env': c.get('env', {}), 'links': c.get('links', [])})
    return out


def datagrams_seen(server, server_ns, ip, record, forged, member, bind=None, port=7001):
    """One datagram from `forged` (lab, ns), then one from `member`, to a recording server at `ip`. A
    forged datagram needs no answer: once the member's (sent after, same path) is recorded, the
    forged one would have been too. What the server recorded."""
    server.echo(server_ns, 'u\n', udp=[port], record=record, bind=bind)
    udp_request(forged[0], forged[1], ip, port, data='forged', timeout=0.5)
    assert udp_request(member[0], member[1], ip, port, data='member') == 'u\n'
    wait_for(lambda: os.path.exists(record) and 'member' in open(record).read(), what='the member datagram')
    with open(record) as f:
        return f.read()


def inject_vxlan(fleet, stranger, vni, gateway, own_cidr, record, local='10.240.0.99', to=UNDERLAY % 1, port=7001):
    """A stranger (a namespace of h1's lab, or (lab, namespace)) at `local` sends VXLAN with the
    overlay's VNI to `to` (h1's underlay address, or any other of h1's), for a server on h1's overlay
    gateway (it knows the gateway's MAC: no ARP needed); h2, a member, sends the same way (datagrams_seen)."""
    h1, h2 = fleet.labs[:2]
    stranger = stranger if isinstance(stranger, tuple) else (h1, stranger)
    mac = '02:42:' + ':'.join('%02x' % int(b) for b in gateway.split('.'))
    stranger[0].in_ns(stranger[1], 'ip link add vx0 type vxlan id %d local %s dstport 4789 nolearning && '
                                   'bridge fdb append 00:00:00:00:00:00 dev vx0 dst %s && ip addr add %s dev vx0 && '
                                   'ip link set vx0 up && ip neigh add %s lladdr %s dev vx0'
                      % (vni, local, to, own_cidr, gateway, mac))
    return datagrams_seen(h1, h1.ns, gateway, record, stranger, (h2, h2.ns), bind=gateway, port=port)


def converge(fleet, overlays, declared):
    """Both phases on every host; the facts of the second. Between them each host's WireGuard public
    keys (facts of its first phase) go to the others, as the role's overlay_hosts filter passes them."""
    first = dict((i, fleet.run(i, overlays, declared[i])) for i in declared)
    for i, got in first.items():
        keys = dict((n, o['wireguard_public_key']) for n, o in got['overlays'].items() if o.get('wireguard_public_key'))
        if keys:
            fleet.hosts['h%d' % i]['wireguard'] = keys
    remote = dict((i, [r for j in declared if j != i for r in remote_of(declared[j], first[j], 'h%d' % j)])
                  for i in declared)
    return dict((i, fleet.run(i, overlays, declared[i], remote[i])) for i in declared), remote


def test_a_vxlan_overlay_links_a_web_to_a_db_on_another_host_and_nothing_else_passes(lab, collections_path, tmp_path):
    fleet = Fleet(lab, collections_path, tmp_path, 3)
    try:
        h1, h2, h3 = fleet.labs
        ov = [{'name': lab.name('ov'), 'subnet': SUBNET, 'members': ['h1', 'h2', 'h3'], 'icc': False}]
        br = ov[0]['name']
        web, other, db, cache = lab.name('web'), lab.name('oth'), lab.name('db'), lab.name('ca')
        declared = {
            1: [{'name': web, 'networks': [{'bridge': br}], 'exposed_ports': ['80/tcp'], 'links': ['%s:db' % db]},
                {'name': other, 'networks': [{'bridge': br}]}],
            2: [{'name': db, 'hostname': 'dbhost', 'networks': [{'bridge': br}], 'exposed_ports': ['5432/tcp'],
                 'env': {'PGUSER': 'app'}}],
            3: [{'name': cache, 'networks': [{'bridge': br}], 'exposed_ports': ['6379/tcp']}],
        }
        facts, remote = converge(fleet, ov, declared)
        ip = dict((n, c['ip']) for f in facts.values() for n, c in f['containers'].items())
        mac = dict((n, c['networks'][0]['mac']) for f in facts.values() for n, c in f['containers'].items())
        assert (ip[web], ip[db], ip[cache]) == ('10.230.0.2', '10.230.1.2', '10.230.2.2')
        # the link's variables and hosts line on the receiver's host, from the source's host
        with open(os.path.join('/etc/netns', web, 'environment')) as f:
            env = dict((k, v.strip('"')) for k, v in (line.split('=', 1) for line in f.read().splitlines()))
        assert env['DB_PORT_5432_TCP_ADDR'] == ip[db] and env['DB_ENV_PGUSER'] == 'app'
        with open(os.path.join('/etc/netns', web, 'hosts')) as f:
            assert '%s\tdb dbhost %s\n' % (ip[db], db) in f.read()
        # container_link takes a source on another host too (as the topology's links do)
        linked = h1.ok('container_link', receiver=other, source=db, alias='pg')['link']
        assert linked['env']['PG_PORT_5432_TCP_ADDR'] == ip[db] and linked['hosts_line'].startswith(ip[db])
        h1.ok('container_link', receiver=other, source=db, alias='pg', state='absent')
        # static FDB, no learning; MTU 50 below the underlay's everywhere
        vx = vxlan_name(br)
        fdb = h1.sh('bridge fdb show dev %s' % vx).stdout
        for entry in ('00:00:00:00:00:00 dst %s' % (UNDERLAY % 2), '00:00:00:00:00:00 dst %s' % (UNDERLAY % 3),
                      '%s dst %s' % (mac[db], UNDERLAY % 2), '%s dst %s' % (mac[cache], UNDERLAY % 3)):
            assert entry in fdb, (entry, fdb)
        details = json.loads(h1.sh('ip -d -j link show %s' % vx).stdout)[0]
        assert details['mtu'] == 1450 and details['linkinfo']['info_data']['learning'] is False
        assert '1450' in lab.in_ns(web, 'cat /sys/class/net/eth0/mtu').stdout
        # traffic: the link's port across hosts, nothing else (icc off holds across hosts)
        h2.echo(db, 'db-5432\n', tcp=[5432])
        h2.echo(db, 'db-7000\n', tcp=[7000])
        h1.echo(web, 'web-80\n', tcp=[80])
        assert tcp_request(lab, web, 'db', 5432) == 'db-5432\n'
        assert tcp_request(lab, web, ip[db], 7000) is None        # unexposed
        assert tcp_request(lab, other, ip[db], 5432) is None      # unlinked
        assert tcp_request(lab, db, ip[web], 80) is None          # the link is one way
        assert tcp_request(h2, h2.ns, ip[db], 7000) == 'db-7000\n'  # control: its host reaches it
        # another member's host is a neighbour on the stretched bridge, not the container's own host
        assert tcp_request(h2, h2.ns, ip[web], 80) is None
        # a stranger on the underlay cannot inject frames: its VXLAN is dropped before decapsulation.
        # It knows the gateway's MAC (no ARP needed) and sends one datagram to a server on h1's overlay
        # address; then a member's host sends one the same way: once that one is recorded, the
        # stranger's (sent first, same path) would have been too.
        stranger = fleet.stranger('st', '10.240.0.99')
        seen = inject_vxlan(fleet, stranger, facts[1]['bridges'][br]['overlay']['vni'], '10.230.0.1', '10.230.0.250/16',
                            str(tmp_path / 'gateway-udp'))
        assert 'forged' not in seen and '10.230.1.1' in seen, seen
        # a lost VXLAN port (a reboot, a hand) is drift, and container-net restore brings it back whole
        h1.sh('ip link del %s' % vx)
        assert h1.cli('check').returncode == 1
        restored = h1.cli('restore')
        assert restored.returncode == 0 and restored.stdout == 'restored\n', restored.stderr
        assert all(entry in h1.sh('bridge fdb show dev %s' % vx).stdout for entry in (
            '00:00:00:00:00:00 dst %s' % (UNDERLAY % 2), '%s dst %s' % (mac[db], UNDERLAY % 2)))
        assert tcp_request(lab, web, 'db', 5432) == 'db-5432\n'
        # a second run of each host changes nothing, in either phase
        for i in (1, 2, 3):
            assert not fleet.run(i, ov, declared[i])['changed'], i
            assert not fleet.run(i, ov, declared[i], remote[i])['changed'], i
        # h3 leaves: the others drop its FDB entries and its VXLAN accept; it removes its share
        ov2 = [dict(ov[0], members=['h1', 'h2'])]
        for i in (1, 2):
            fleet.run(i, ov2, declared[i], [r for r in remote[i] if r['host'] != 'h3'])
        assert UNDERLAY % 3 not in h1.sh('bridge fdb show dev %s' % vx).stdout
        assert UNDERLAY % 3 not in h1.sh('iptables -S CNET-INPUT 2>/dev/null; nft list table inet container_net '
                                         '2>/dev/null', check=False).stdout
        fleet.run(3, ov2, [], remote=[], prune=True)
        assert h3.sh('ip link show %s' % br, check=False).returncode != 0
        assert h3.sh('ip link show %s' % vx, check=False).returncode != 0
        assert tcp_request(lab, web, 'db', 5432) == 'db-5432\n'  # the others still talk
        # The kernel's VXLAN socket takes the VNI on any of h1's addresses: a namespace on another
        # bridge of h1 sends it to its own gateway
        vni, pb = facts[1]['bridges'][br]['overlay']['vni'], lab.name('pb')
        h1.sh('ip link add %s type bridge && ip addr add 10.226.0.1/24 dev %s && ip link set %s up' % (pb, pb, pb))
        plain = h1.attach_plain_ns('pl', pb, '10.226.0.2/24', '10.226.0.1')
        seen = inject_vxlan(fleet, plain, vni, '10.230.0.1', '10.230.0.250/16', str(tmp_path / 'local-udp'),
                            local='10.226.0.2', to='10.226.0.1', port=7002)
        assert 'forged' not in seen and '10.230.1.1' in seen, seen
        # A container of another bridge on h2 sends it to h1 as h2 does: masqueraded to h2's underlay
        # address on its way, it would pass h1 as h2's own
        h2.ok('docker_bridge', name=lab.name('pb2'), subnet='10.225.0.0/24')
        c2 = lab.name('c2')
        h2.ok('container_netns', name=c2, networks=[{'bridge': lab.name('pb2'), 'ip': '10.225.0.2'}])
        seen = inject_vxlan(fleet, (h2, c2), vni, '10.230.0.1', '10.230.0.249/16', str(tmp_path / 'peer-udp'),
                            local='10.225.0.2', port=7003)
        assert 'forged' not in seen and '10.230.1.1' in seen, seen
    finally:
        fleet.teardown()


def test_names_across_hosts_isolation_from_other_networks_and_refusals_before_any_change(lab, collections_path,
                                                                                         tmp_path):
    fleet = Fleet(lab, collections_path, tmp_path, 2)
    try:
        h1, h2 = fleet.labs
        br, plain = lab.name('ov'), lab.name('pl')
        ov = [{'name': br, 'subnet': SUBNET, 'members': ['h1', 'h2'], 'dns': True}]
        web, db, iso = lab.name('web'), lab.name('db'), lab.name('iso')
        other = lab.name('oth')
        declared = {1: [{'name': web, 'networks': [{'bridge': br}], 'dns': ['10.199.0.2'], 'links': ['%s:database' % db]},
                        {'name': other, 'networks': [{'bridge': br}], 'dns': ['10.199.0.2']}],
                    2: [{'name': db, 'networks': [{'bridge': br}], 'exposed_ports': ['5432/tcp'],
                         'dns': ['10.199.0.2']}]}
        facts, remote = converge(fleet, ov, declared)
        ip_db = facts[2]['containers'][db]['ip']
        # names of the other host's containers on an overlay DNS network (icc on: any port), and a
        # link's alias for its receiver only, as Docker resolves it on a user-defined network
        assert dig(lab, web, db) == ('NOERROR', [ip_db])
        assert dig(lab, web, 'database') == ('NOERROR', [ip_db])
        assert dig(lab, other, db) == ('NOERROR', [ip_db]) and dig(lab, other, 'database')[1] == []  # forwarded, unknown
        h2.echo(db, 'db\n', tcp=[5432])
        assert tcp_request(lab, web, ip_db, 5432) == 'db\n'
        # a container of another network of h1 reaches nothing on the overlay, here or there
        h1.ok('docker_bridge', name=plain, subnet='10.229.0.0/24')
        h1.ok('container_netns', name=iso, bridge=plain)
        assert tcp_request(lab, iso, ip_db, 5432) is None
        assert tcp_request(lab, iso, facts[1]['containers'][web]['ip'], 5432) is None
        # what the inventory gets wrong is refused on every host before anything changes; so is
        # docker_bridge on an overlay's share (a record of its own would drop the VXLAN guard)
        snaps = [h.snapshot() for h in fleet.labs]
        out = h1.module('docker_bridge', name=br, subnet=SUBNET, mtu=1400)
        assert out['failed'] and out['msg'].startswith("name: bridge '%s' is an overlay's share" % br), out['msg']
        bad = ov + [{'name': lab.name('ov2'), 'subnet': '10.230.128.0/20', 'members': ['h1', 'h2']}]
        for i in (1, 2):
            out = fleet.labs[i - 1].module('container_net_topology', overlays=bad, hosts=fleet.hosts, host='h%d' % i,
                                           containers=declared[i], remote_containers=remote[i])
            assert out['failed'] and "overlays[1].subnet '10.230.128.0/20' overlaps subnet 10.230.0.0/16" in out['msg']
        out = h2.module('container_net_topology', overlays=ov, hosts=fleet.hosts, host='h2', containers=declared[2],
                        bridges=[{'name': lab.name('b2'), 'subnet': '10.230.64.0/24'}], remote_containers=remote[2])
        assert out['failed'] and "bridges[0] '%s': subnet '10.230.64.0/24' overlaps subnet 10.230.0.0/16" \
            % lab.name('b2') in out['msg']
        assert [h.snapshot() for h in fleet.labs] == snaps
    finally:
        fleet.teardown()


@pytest.mark.parametrize('declared', ['overlays', 'bridge'])
def test_the_topology_role_converges_a_fleet_in_two_phases_and_a_second_play_changes_nothing(lab, collections_path,
                                                                                             tmp_path, declared):
    """One play over two hosts (each a lab namespace: its interpreter enters it), declarations in
    inventory only, as an operator writes them: in container_net_overlays, or as `overlay:` on the
    bridge with every default."""
    fleet = Fleet(lab, collections_path, tmp_path, 2)
    try:
        br, web, db = lab.name('ov'), lab.name('web'), lab.name('db')
        hosts = {}
        for i, host in enumerate(fleet.labs, 1):
            wrapper = tmp_path / ('python-h%d' % i)
            wrapper.write_text('#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' % (host.ns, sys.executable))
            wrapper.chmod(0o755)
            hosts['h%d' % i] = {'ansible_connection': 'local', 'ansible_python_interpreter': str(wrapper),
                                'container_net_python': str(wrapper), 'container_net_registry_dir': host.registry,
                                'container_net_firewall_backend': BACKEND,
                                'container_net_underlay_address': UNDERLAY % i}
        hosts['h1']['container_net_containers'] = [{'name': web, 'bridge': br, 'links': ['%s:db' % db]}]
        hosts['h2']['container_net_containers'] = [{'name': db, 'bridge': br, 'exposed_ports': ['5432/tcp'],
                                                    'hostname': 'dbhost'}]
        group_vars = {'container_net_overlays': [{'name': br, 'subnet': SUBNET, 'icc': False}]}
        if declared == 'bridge':
            group_vars = {'container_net_bridges': [{'name': br, 'subnet': SUBNET, 'icc': False, 'overlay': {}}]}
        inventory = {'all': {'hosts': hosts, 'vars': group_vars}}
        (tmp_path / 'inventory.yml').write_text(json.dumps(inventory))
        (tmp_path / 'play.yml').write_text('- hosts: all\n  gather_facts: false\n  roles:\n'
                                           '    - seed.container_net.topology\n')
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_STDOUT_CALLBACK='default')
        play = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(tmp_path / 'inventory.yml'),
                '-f', '2', str(tmp_path / 'play.yml')]
        first = sh(play, check=False, env=env, timeout=300)
        assert first.returncode == 0, first.stdout + first.stderr
        fleet.labs[1].echo(db, 'db\n', tcp=[5432])
        assert tcp_request(lab, web, 'db', 5432) == 'db\n'  # by the link's alias, across hosts
        again = sh(play, check=False, env=env, timeout=300)
        assert again.returncode == 0 and again.stdout.count('changed=0') == 2, again.stdout
        # the role's absent takes each host's share of the overlay away with its containers
        gone = sh(play + ['-e', 'container_net_state=absent'], check=False, env=env, timeout=300)
        assert gone.returncode == 0, gone.stdout + gone.stderr
        for host in fleet.labs:
            assert host.sh('ip link show %s' % br, check=False).returncode != 0
            assert not os.path.exists(os.path.join(host.registry, 'state.json'))  # an empty registry is removed
    finally:
        fleet.teardown()


def test_a_routed_overlay_routes_blocks_between_hosts_unmasqueraded_and_nothing_else_gets_in(lab, collections_path,
                                                                                             tmp_path):
    fleet = Fleet(lab, collections_path, tmp_path, 2)
    try:
        h1, h2 = fleet.labs
        br, plain = lab.name('rt'), lab.name('pl')
        ov = [{'name': br, 'mode': 'routed', 'subnet': '10.231.0.0/16', 'members': ['h1', 'h2']}]
        web, db, iso = lab.name('web'), lab.name('db'), lab.name('iso')
        declared = {1: [{'name': web, 'bridge': br, 'links': ['%s:db' % db]}],
                    2: [{'name': db, 'bridge': br, 'exposed_ports': ['5432/tcp']}]}
        facts, remote = converge(fleet, ov, declared)
        ip_web, ip_db = facts[1]['containers'][web]['ip'], facts[2]['containers'][db]['ip']
        assert (ip_web, ip_db) == ('10.231.0.2', '10.231.1.2')
        assert facts[1]['bridges'][br]['subnet'] == '10.231.0.0/24' and facts[1]['bridges'][br]['mtu'] == 1500
        assert '10.231.1.0/24 via %s' % (UNDERLAY % 2) in h1.sh('ip route').stdout
        # by the link's alias across hosts; the server sees the container, not its host (no masquerade)
        record = str(tmp_path / 'db-peers')
        h2.echo(db, 'db\n', tcp=[5432], record=record)
        assert tcp_request(lab, web, 'db', 5432) == 'db\n'
        with open(record) as f:
            assert f.read().split()[0] == ip_web
        # another network of h1 reaches it only masqueraded as h1, which the raw guard of h2 drops;
        # a stranger on the underlay with a route to the block is dropped the same way
        h1.ok('docker_bridge', name=plain, subnet='10.229.0.0/24')
        h1.ok('container_netns', name=iso, bridge=plain)
        stranger = fleet.stranger('st', '10.240.0.99')
        lab.in_ns(stranger, 'ip route add 10.231.1.0/24 via %s' % (UNDERLAY % 2))
        assert tcp_request(lab, iso, ip_db, 5432) is None
        assert tcp_request(lab, stranger, ip_db, 5432) is None
        assert tcp_request(h2, h2.ns, ip_db, 5432) == 'db\n'  # control: the same server answers its host
        # a container of another bridge of h2 forging an address of h1's block: the peers' blocks come
        # in from the underlay's link only. One datagram needs no answer; web's, sent after, is recorded
        spoof = lab.name('sp')
        h2.ok('docker_bridge', name=lab.name('p2'), subnet='10.228.0.0/24')
        h2.ok('container_netns', name=spoof, bridge=lab.name('p2'))
        lab.in_ns(spoof, 'ip addr add 10.231.0.77/32 dev eth0 && ip route add 10.231.1.0/24 via 10.228.0.1 src 10.231.0.77')
        seen = datagrams_seen(h2, db, ip_db, str(tmp_path / 'db-udp'), (h2, spoof), (lab, web))
        assert 'forged' not in seen and 'member' in seen, seen
        lab.in_ns(spoof, 'ip addr del 10.231.0.77/32 dev eth0')  # a hand's change a run would repair as drift
        for i in (1, 2):
            assert not fleet.run(i, ov, declared[i])['changed'] and not fleet.run(i, ov, declared[i], remote[i])['changed']
        # h1 leaves; h2 keeps its block by its index (member order alone would move it to block 0,
        # which a bridge with containers refuses) and drops the route to h1's
        fleet.hosts['h2']['index'] = 1
        fleet.run(2, [dict(ov[0], members=['h2'])], declared[2], [])
        assert '10.231.0.0/24' not in h2.sh('ip route').stdout
        fleet.run(1, [dict(ov[0], members=['h1'])], [], [], prune=True)
        assert '10.231.1.0/24' not in h1.sh('ip route').stdout
    finally:
        fleet.teardown()


@pytest.mark.parametrize('encrypted', [False, True], ids=['plain', 'encrypted'])
def test_icc_off_on_a_routed_overlay_admits_the_links_pairs_across_hosts_and_nothing_else(
        lab, collections_path, tmp_path, encrypted):
    fleet = Fleet(lab, collections_path, tmp_path, 2)
    try:
        h1, h2 = fleet.labs
        br = lab.name('ri')
        ov = [dict({'name': br, 'mode': 'routed', 'subnet': '10.225.0.0/16', 'members': ['h1', 'h2'], 'icc': False},
                   **({'encrypted': True, 'tunnel_subnet': '10.224.0.0/24'} if encrypted else {}))]
        web, other, db, peer = lab.name('web'), lab.name('oth'), lab.name('db'), lab.name('pe')
        declared = {1: [{'name': web, 'bridge': br, 'links': ['%s:db' % db]}, {'name': other, 'bridge': br}],
                    2: [{'name': db, 'bridge': br, 'exposed_ports': ['5432/tcp']}, {'name': peer, 'bridge': br}]}
        facts, remote = converge(fleet, ov, declared)
        ip_db, ip_peer = facts[2]['containers'][db]['ip'], facts[2]['containers'][peer]['ip']
        h2.echo(db, 'db\n', tcp=[5432, 7000])
        assert tcp_request(lab, web, 'db', 5432) == 'db\n'        # the link's port, by its alias
        assert tcp_request(lab, web, ip_db, 7000) is None          # not exposed
        assert tcp_request(lab, other, ip_db, 5432) is None        # not linked, same overlay, other host
        assert tcp_request(h2, peer, ip_db, 5432) is None          # not linked, same bridge (icc off as ever)
        assert tcp_request(h2, h2.ns, ip_db, 7000) == 'db\n'      # control: the server answers its host
        h1.echo(other, 'other\n', tcp=[8080])
        assert tcp_request(h2, db, facts[1]['containers'][other]['ip'], 8080) is None  # the link is one way
        assert tcp_request(h1, h1.ns, facts[1]['containers'][other]['ip'], 8080) == 'other\n'  # control
        for i in (1, 2):
            assert not fleet.run(i, ov, declared[i])['changed'], i
            assert not fleet.run(i, ov, declared[i], remote[i])['changed'], i
    finally:
        fleet.teardown()


class Capture:
    """tcpdump on one interface of a namespace, awaited until it listens; the bytes it saw, once stopped."""

    def __init__(self, ns, ifname, path):
        self.path = path
        self.err = open(path + '.err', 'w+')
        self.proc = subprocess.Popen(['nsenter', '--net=/run/netns/%s' % ns, 'tcpdump', '-i', ifname, '-U', '-n',
                                      '--immediate-mode',
                                      '-s', '0', '-w', path], stdout=subprocess.DEVNULL, stderr=self.err)
        wait_for(lambda: 'listening on' in open(path + '.err').read(), what='tcpdump on %s' % ifname)

    def seen(self):
        with open(self.path, 'rb') as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)
        self.err.close()
        with open(self.path, 'rb') as f:
            return f.read()


@pytest.mark.parametrize('mode', ['vxlan', 'routed'])
def test_an_encrypted_overlay_carries_a_link_over_wireguard_and_the_underlay_sees_no_plaintext(
        lab, collections_path, tmp_path, mode):
    fleet = Fleet(lab, collections_path, tmp_path, 2)
    captures = []
    try:
        h1, h2 = fleet.labs
        br = lab.name('wg')
        ov = [{'name': br, 'mode': mode, 'subnet': '10.227.0.0/16', 'encrypted': True,
               'tunnel_subnet': '10.226.0.0/24', 'members': ['h1', 'h2']}]
        web, db, other = lab.name('web'), lab.name('db'), lab.name('oth')
        declared = {1: [{'name': web, 'networks': [{'bridge': br}], 'links': ['%s:db' % db]},
                        {'name': other, 'networks': [{'bridge': br}]}],
                    2: [{'name': db, 'networks': [{'bridge': br}], 'exposed_ports': ['5432/tcp']}]}
        facts, remote = converge(fleet, ov, declared)
        ip_web, ip_db = facts[1]['containers'][web]['ip'], facts[2]['containers'][db]['ip']
        share = [f['overlays'][br] for f in (facts[1], facts[2])]
        assert [s['tunnel'] for s in share] == ['10.226.0.1', '10.226.0.2']
        assert share[0]['peers_without_key'] == [] and share[0]['wireguard_public_key'] != share[1]['wireguard_public_key']
        # the private key stays on its host, readable by root alone
        key = os.path.join(h1.registry, 'wireguard', br + '.key')
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert open(key).read().strip() not in json.dumps(facts[1])
        # peers, endpoints and allowed addresses as WireGuard sees them
        wg1 = share[0]['interface']
        dump = h1.sh('wg show %s dump' % wg1).stdout.splitlines()
        peer = dump[1].split('\t')
        allowed = '10.226.0.2/32' + (',10.227.1.0/24' if mode == 'routed' else '')
        assert peer[0] == share[1]['wireguard_public_key'] and peer[2] == '%s:51820' % (UNDERLAY % 2)
        assert sorted(peer[3].split(',')) == sorted(allowed.split(','))
        assert facts[1]['bridges'][br]['mtu'] == (1370 if mode == 'vxlan' else 1420)
        # the link by its alias across hosts; on the underlay only WireGuard, inside the tunnel the data
        h2.echo(db, 'db-secret-reply\n', tcp=[5432], record=str(tmp_path / 'db-peers'))
        h2.echo(db, 'db-7000\n', tcp=[7000])
        under = Capture(h2.ns, 'ul0', str(tmp_path / 'underlay.pcap'))
        inside = Capture(h2.ns, share[1]['interface'], str(tmp_path / 'tunnel.pcap'))
        captures += [under, inside]
        assert tcp_request(lab, web, 'db', 5432, data='web-secret-query') == 'db-secret-reply\n'
        # written as seen (-U, immediate mode): await the exchange's last packets in both files
        wait_for(lambda: b'db-secret-reply' in inside.seen() and len(under.seen()) > 1000, what='the captures')
        on_underlay, in_tunnel = under.stop(), inside.stop()
        assert b'db-secret-reply' in in_tunnel and b'web-secret-query' in in_tunnel  # control: the capture works
        assert b'db-secret-reply' not in on_underlay and b'web-secret-query' not in on_underlay
        assert len(on_underlay) > 1000  # the same exchange, sealed
        # icc holds across hosts as on one bridge (on); another network, a stranger on the underlay
        # (even forging a source of h1's block) and an unlinked port of another bridge get nothing
        assert tcp_request(lab, other, ip_db, 7000) == 'db-7000\n'
        stranger = fleet.stranger('st', '10.240.0.99')
        lab.in_ns(stranger, 'ip addr add 10.227.0.77/32 dev ul0 && ip route add 10.227.1.0/24 via %s src 10.227.0.77'
                  % (UNDERLAY % 2))
        assert tcp_request(lab, stranger, ip_db, 7000) is None
        assert tcp_request(h2, h2.ns, ip_db, 7000) == 'db-7000\n'  # control: its host reaches it
        seen = datagrams_seen(h2, db, ip_db, str(tmp_path / 'db-udp'), (lab, stranger), (lab, other))
        assert 'forged' not in seen and 'member' in seen, seen
        if mode == 'vxlan':
            # plain VXLAN with the overlay's VNI to h1's underlay address: the kernel's VXLAN socket
            # would take it on any address; only what came through the WireGuard link is let in
            seen = inject_vxlan(fleet, stranger, facts[1]['bridges'][br]['overlay']['vni'], '10.227.0.1',
                                '10.227.0.250/16', str(tmp_path / 'gateway-udp'))
            assert 'forged' not in seen and 'member' in seen, seen
        # restore rebuilds a lost WireGuard link with its key and peers
        h1.sh('ip link del %s' % wg1)
        assert h1.cli('check').returncode == 1
        restored = h1.cli('restore')
        assert restored.returncode == 0, restored.stderr
        assert tcp_request(lab, web, 'db', 5432) == 'db-secret-reply\n'
        for i in (1, 2):
            assert not fleet.run(i, ov, declared[i])['changed'], i
            assert not fleet.run(i, ov, declared[i], remote[i])['changed'], i
        # h2 leaves: h1 drops its peer; h2 removes its link and its key
        fleet.run(1, [dict(ov[0], members=['h1'])], [dict(c, links=[]) for c in declared[1]], [])
        assert h1.sh('wg show %s peers' % wg1).stdout.strip() == ''
        fleet.run(2, [dict(ov[0], members=['h1'])], [], [], prune=True)
        assert h2.sh('ip link show %s' % share[1]['interface'], check=False).returncode != 0
        assert not os.path.exists(os.path.join(h2.registry, 'wireguard', br + '.key'))
    finally:
        for capture in captures:
            if not exited(capture.proc.pid):
                capture.proc.kill()
                capture.proc.wait()
        fleet.teardown()

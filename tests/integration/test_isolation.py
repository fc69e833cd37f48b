"""Who may reach whom, as a matrix: every source against every target, TCP and UDP, on a real kernel.

Each cell's verdict comes from the model in README ("Who may reach whom"); a cell that must be
blocked is paired with a control: the same server answers an allowed client in the same run.
All probes of one round run at once (a blocked probe waits out its timeout; they overlap).
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from labhost import BACKEND, tcp_request, udp_request

LAN_LAB, LAN_PEER = '10.95.0.1', '10.95.0.2'
FORGER_LAB, FORGER_PEER = '10.96.0.1', '10.96.0.2'
SUBNETS = {'a': '10.91.0.0/24', 'b': '10.92.0.0/24', 'c': '10.93.0.0/24', 'i': '10.94.0.0/24'}
# The same lab, dual stack: every bridge also has an IPv6 subnet, the LAN an IPv6 route to each.
LAN_LAB6, LAN_PEER6 = 'fd00:95::1', 'fd00:95::2'
FORGER_LAB6, FORGER_PEER6 = 'fd00:96::1', 'fd00:96::2'
SUBNETS6 = {'a': 'fd00:91::/64', 'b': 'fd00:92::/64', 'c': 'fd00:93::/64', 'i': 'fd00:94::/64'}

# Targets: (name, container, tcp port, udp port, how it is addressed). Published ports are tried
# through the host port (what any client would use) and routed straight to the container.
TARGETS = (
    ('published via host port', 'pub', 18000, 18001, 'host'),
    ('published, routed to the container', 'pub', 8000, 8001, 'direct'),
    ('unpublished exposed port', 'pub', 9000, 9001, 'direct'),
    ('linked port', 'db', 5432, 5353, 'direct'),
    ('port on bridge b (icc on)', 'bon', 7000, 7001, 'direct'),
    ('port on internal bridge i', 'int', 7000, 7001, 'direct'),
)
SOURCES = ('same bridge, linked', 'same bridge, unlinked', 'other bridge, icc on', 'other bridge, icc off',
           'internal bridge', 'host', 'LAN with a route', 'LAN forging 127.0.0.1')
Y, N = True, False
# The model (README): rows are sources, columns TARGETS in order.
MODEL = {
    # bridge a (icc off): the link's ports; published ports through the host port, as anyone
    'same bridge, linked': (Y, N, N, Y, N, N),
    'same bridge, unlinked': (Y, N, N, N, N, N),
    # another bridge: only through a published host port (b's own port: same bridge, icc on)
    'other bridge, icc on': (Y, N, N, N, Y, N),
    'other bridge, icc off': (Y, N, N, N, N, N),
    # nothing in or out of an internal bridge (i's own port: same bridge, icc on)
    'internal bridge': (N, N, N, N, N, Y),
    'host': (Y, Y, Y, Y, Y, Y),                     # the host reaches its containers (as Docker)
    'LAN with a route': (Y, N, N, N, N, N),         # published host ports only, never routed inside
    'LAN forging 127.0.0.1': (N, N, N, N, N, N),    # moby#45610: nothing addressed to 127/8 from outside
}
# IPv6 holds the same model: links pass over IPv6 too (Docker 20.10 accepts them over IPv4 only,
# though its hosts lines name the IPv6 address first), and the forger sends to ::1 instead.


def build(lab, family=4):
    names = dict((k, lab.name(k)) for k in ('a', 'b', 'c', 'i', 'pub', 'db', 'lnk', 'unl', 'bon', 'bsrc', 'coff',
                                            'int', 'isrc'))
    bridges = [{'name': names['a'], 'subnet': SUBNETS['a'], 'icc': False},
               {'name': names['b'], 'subnet': SUBNETS['b']},
               {'name': names['c'], 'subnet': SUBNETS['c'], 'icc': False},
               {'name': names['i'], 'subnet': SUBNETS['i'], 'internal': True}]
    if family == 6:
        for bridge, key in zip(bridges, 'abci'):
            bridge['subnet_v6'] = SUBNETS6[key]
    containers = [
        {'name': names['pub'], 'bridge': names['a'], 'exposed_ports': ['8000/tcp', '8001/udp', '9000/tcp', '9001/udp'],
         'ports': ['18000:8000', '18001:8001/udp', '127.0.0.1:18002:8000']},
        {'name': names['db'], 'bridge': names['a'], 'exposed_ports': ['5432/tcp', '5353/udp']},
        {'name': names['lnk'], 'bridge': names['a'], 'links': ['%s:db' % names['db']]},
        {'name': names['unl'], 'bridge': names['a']},
        {'name': names['bon'], 'bridge': names['b'], 'exposed_ports': ['7000/tcp', '7001/udp']},
        {'name': names['bsrc'], 'bridge': names['b']},
        {'name': names['coff'], 'bridge': names['c']},
        {'name': names['int'], 'bridge': names['i'], 'exposed_ports': ['7000/tcp', '7001/udp']},
        {'name': names['isrc'], 'bridge': names['i']},
    ]
    result = lab.ok('container_net_topology', bridges=bridges, containers=containers)
    ips = dict((n, c['ip6' if family == 6 else 'ip']) for n, c in result['containers'].items())
    lan = lab.add_peer('lan', LAN_LAB + '/24', LAN_PEER + '/24')
    for subnet in sorted(SUBNETS.values()):  # a neighbour that routes every subnet via us
        lab.in_ns(lan, 'ip route add %s via %s' % (subnet, LAN_LAB))
    forger = lab.add_peer('fgd', FORGER_LAB + '/24', FORGER_PEER + '/24')
    dev = lab.in_ns(forger, "ip -o link | awk -F': ' '$2 != \"lo\" {print $2}' | cut -d@ -f1").stdout.strip()
    lab.in_ns(forger, 'sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.%s.route_localnet=1 && '
                      'ip route del 127.0.0.0/8 dev lo table local && ip route del 127.0.0.1 dev lo table local && '
                      'ip route add 127.0.0.0/8 via %s dev %s' % (dev, FORGER_LAB, dev))
    if family == 6:
        lab.add_peer_ipv6('lan', LAN_LAB6, LAN_PEER6, routes=sorted(SUBNETS6.values()))
        lab.add_peer_ipv6('fgd', FORGER_LAB6, FORGER_PEER6)
        # ::1 routed to the host instead of lo (the kernel drops it on the wire either side)
        lab.in_ns(forger, 'ip -6 route del local ::1 table local && ip -6 route add ::1/128 via %s dev %s'
                  % (FORGER_LAB6, dev))
    # Servers that name themselves: an answer proves which server it came from.
    for short, tcp, udp in (('pub', [8000, 9000], [8001, 9001]), ('db', [5432], [5353]),
                            ('bon', [7000], [7001]), ('int', [7000], [7001])):
        for port in tcp + udp:
            proto = 'tcp' if port in tcp else 'udp'
            lab.echo(names[short], '%s-%d\n' % (short, port), bind='::' if family == 6 else None, **{proto: [port]})
    return names, ips, lan, forger


def source_ns(lab, names, lan, forger, source):
    return {'same bridge, linked': names['lnk'], 'same bridge, unlinked': names['unl'],
            'other bridge, icc on': names['bsrc'], 'other bridge, icc off': names['coff'],
            'internal bridge': names['isrc'], 'host': lab.ns, 'LAN with a route': lan,
            'LAN forging 127.0.0.1': forger}[source]


def address(source, target, ips, names, family=4):
    label, container, tcp, udp, how = target
    if source == 'LAN forging 127.0.0.1':
        return '::1' if family == 6 else '127.0.0.1'  # packets for loopback routed to the host, to every port
    if how == 'direct':
        return ips[names[container]]
    if family == 6:
        return LAN_LAB6  # the host's own IPv6 address (::1 is never DNAT'ed)
    if source == 'host':
        return '127.0.0.1'
    return LAN_LAB  # a host address, as a container or the LAN would dial it


def expected_answer(target, proto):
    label, container, tcp, udp, how = target
    port = {'tcp': tcp, 'udp': udp}[proto]
    if how == 'host':
        port = {18000: 8000, 18001: 8001}[port]
    return '%s-%d\n' % (container, port)


def probe(lab, ns, ip, proto, port):
    if proto == 'tcp':
        return tcp_request(lab, ns, ip, port)
    return udp_request(lab, ns, ip, port)


@pytest.mark.parametrize('family', [4, 6], ids=['ipv4', 'ipv6'])
def test_attack_matrix_every_source_against_every_target(lab, family):
    names, ips, lan, forger = build(lab, family)
    cells = []
    for source in SOURCES:
        ns = source_ns(lab, names, lan, forger, source)
        for target, allowed in zip(TARGETS, MODEL[source]):
            for proto in ('tcp', 'udp'):
                port = target[2] if proto == 'tcp' else target[3]
                cells.append((source, target, proto, ns, address(source, target, ips, names, family), port, allowed))
    if family == 4:  # the forger also tries the loopback-only publish, which only the host may use
        cells.append(('LAN forging 127.0.0.1', ('loopback-only publish', 'pub', 18002, None, 'host'), 'tcp', forger,
                      '127.0.0.1', 18002, False))
        cells.append(('host', ('loopback-only publish', 'pub', 18002, None, 'host'), 'tcp', lab.ns, '127.0.0.1', 18002,
                      True))
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda c: probe(lab, c[3], c[4], c[2], c[5]), cells))
    wrong = []
    for (source, target, proto, ns, ip, port, allowed), got in zip(cells, answers):
        want = ('pub-8000\n' if target[0] == 'loopback-only publish' else expected_answer(target, proto)) \
            if allowed else None
        if got != want:
            wrong.append('%s -> %s (%s %s:%d): got %r, model says %r' % (source, target[0], proto, ip, port, got, want))
    assert not wrong, '\n'.join(wrong)
    # Controls, after every blocked probe: each server answers an allowed client in the same run,
    # so a "blocked" cell above was the rule, not a dead server.
    lan_lab = LAN_LAB6 if family == 6 else LAN_LAB
    controls = [(names['lnk'], ips[names['db']], 'tcp', 5432, 'db-5432\n'),
                (names['lnk'], ips[names['db']], 'udp', 5353, 'db-5353\n'),
                (lan, lan_lab, 'tcp', 18000, 'pub-8000\n'), (lan, lan_lab, 'udp', 18001, 'pub-8001\n')]
    for short, tcp, udp in (('pub', 9000, 9001), ('pub', 8000, 8001), ('bon', 7000, 7001), ('int', 7000, 7001)):
        controls.append((lab.ns, ips[names[short]], 'tcp', tcp, '%s-%d\n' % (short, tcp)))
        controls.append((lab.ns, ips[names[short]], 'udp', udp, '%s-%d\n' % (short, udp)))
    for ns, ip, proto, port, want in controls:
        assert probe(lab, ns, ip, proto, port) == want, (ns, ip, proto, port)


def eui64_link_local(mac):
    octets = [int(x, 16) for x in mac.split(':')]
    octets[0] ^= 2
    words = octets[:3] + [0xff, 0xfe] + octets[3:]
    return 'fe80::%x:%x:%x:%x' % tuple((words[i] << 8) | words[i + 1] for i in range(0, 8, 2))


def test_ipv6_link_local_neighbour_reaches_nothing_that_ipv4_blocks(lab):
    """A neighbour with IPv6 on an icc=false bridge: the collection's containers have none at all."""
    names, ips, lan, forger = build(lab)
    bridge = names['a']
    # an IPv6-capable namespace the collection does not manage, plugged into the bridge, and one more as
    # the control that link-local IPv6 itself works on this bridge
    attacker = lab.attach_plain_ns('v6a', bridge, '10.91.0.250/24', '10.91.0.1')
    helper = lab.attach_plain_ns('v6h', bridge, '10.91.0.251/24', '10.91.0.1')
    for ns in (attacker, helper):
        lab.in_ns(ns, 'sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth0.disable_ipv6=0')
    helper_ll = wait_link_local(lab, helper)
    lab.echo(helper, 'helper\n', tcp=[8000], bind='::')
    # the servers of pub and db listen on IPv6 too (dual stack), so a reachable address would answer
    lab.echo(names['pub'], 'pub-v6\n', tcp=[8100], udp=[8101], bind='::')
    lab.echo(names['db'], 'db-v6\n', tcp=[5442], udp=[5363], bind='::')
    macs = dict((s, lab.ok('container_netns', name=names[s], bridge=bridge,
                           exposed_ports=ex)['container']['networks'][0]['mac'])
                for s, ex in (('pub', ['8000/tcp', '8001/udp', '9000/tcp', '9001/udp']),
                              ('db', ['5432/tcp', '5353/udp'])))
    cells = [(attacker, '%s%%eth0' % eui64_link_local(macs[s]), proto, port)
             for s, ports in (('pub', (('tcp', 8100), ('udp', 8101))), ('db', (('tcp', 5442), ('udp', 5363))))
             for proto, port in ports]
    # and the same from the unlinked container itself, towards the linked one
    cells.append((names['unl'], '%s%%eth0' % eui64_link_local(macs['db']), 'tcp', 5442))
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda c: probe(lab, *c), cells))
    assert answers == [None] * len(cells), list(zip(cells, answers))
    for short in ('pub', 'db', 'lnk', 'unl'):
        assert lab.in_ns(names[short], 'ip -6 -o addr').stdout == '', short  # no IPv6 address at all
        assert lab.in_ns(names[short], 'cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6').stdout.strip() == '1'
    assert lab.sh('cat /proc/sys/net/ipv6/conf/%s/disable_ipv6' % bridge).stdout.strip() == '1'
    # all-nodes multicast: only the helper answers (nobody of the collection's has IPv6)
    pings = lab.in_ns(attacker, 'ping -6 -c2 -i0.3 -w3 ff02::1%eth0', check=False).stdout
    responders = set(line.split()[3].rstrip(':').split('%')[0] for line in pings.splitlines() if 'bytes from' in line)
    assert responders <= {helper_ll, wait_link_local(lab, attacker)}, pings
    # controls: the same servers answer allowed clients
    if BACKEND == 'nftables':
        # the inet table's icc stage holds for IPv6 too: even the two plain neighbours cannot talk
        assert tcp_request(lab, attacker, '%s%%eth0' % helper_ll, 8000) is None
        assert tcp_request(lab, helper, '::1', 8000) == 'helper\n'
    else:  # iptables judges IPv4 only: link-local IPv6 works on this bridge, just not to the collection's
        assert tcp_request(lab, attacker, '%s%%eth0' % helper_ll, 8000) == 'helper\n'
    assert tcp_request(lab, lab.ns, ips[names['pub']], 8100) == 'pub-v6\n'
    assert udp_request(lab, lab.ns, ips[names['pub']], 8101) == 'pub-v6\n'
    assert tcp_request(lab, lab.ns, ips[names['db']], 5442) == 'db-v6\n'


def wait_link_local(lab, ns):
    from labhost import wait_for

    def found():
        out = lab.in_ns(ns, 'ip -6 -o addr show dev eth0 scope link').stdout
        return out.split()[3].split('/')[0] if out and 'tentative' not in out else None
    return wait_for(found, what='a link-local address in %s' % ns)


@pytest.mark.parametrize('shift', [False, True])
def test_published_ranges_map_port_by_port(lab, shift):
    """Host port h+k reaches container port c+k, TCP and UDP, shifted or not."""
    outside = lab.add_peer('out', LAN_LAB + '/24', LAN_PEER + '/24')
    br = lab.name('br')
    lab.ok('docker_bridge', name=br, subnet=SUBNETS['a'])
    web = lab.name('web')
    lab.ok('container_netns', name=web, bridge=br, exposed_ports=['7000-7002/tcp', '7000-7002/udp'])
    host = 40004 if shift else 7000
    result = lab.ok('port_publish', container=web, ports=['%d-%d:7000-7002' % (host, host + 2),
                                                          '%d-%d:7000-7002/udp' % (host, host + 2)])
    assert result['ports']['docker_port'] == ['7000-7002/tcp -> 0.0.0.0:%d-%d' % (host, host + 2),
                                              '7000-7002/udp -> 0.0.0.0:%d-%d' % (host, host + 2)]
    for k in range(3):
        lab.echo(web, 'port-%d\n' % (7000 + k), tcp=[7000 + k], udp=[7000 + k])
    got = [(tcp_request(lab, outside, LAN_LAB, host + k), udp_request(lab, outside, LAN_LAB, host + k))
           for k in range(3)]
    assert got == [('port-%d\n' % (7000 + k),) * 2 for k in range(3)]
    assert lab.ok('port_publish', container=web, ports=['%d-%d:7000-7002' % (host, host + 2),
                                                        '%d-%d:7000-7002/udp' % (host, host + 2)])['changed'] is False


def test_routed_bridge_publishes_by_container_address_and_takes_replies(lab):
    """ip_masquerade: false: no raw guard (replies come back addressed to the containers), so the
    ingress stage alone decides: published container ports routed straight in, nothing else."""
    lan = lab.add_peer('lan', LAN_LAB + '/24', LAN_PEER + '/24')
    lab.in_ns(lan, 'ip route add %s via %s' % (SUBNETS['a'], LAN_LAB))
    br, web = lab.name('br'), lab.name('web')
    lab.ok('docker_bridge', name=br, subnet=SUBNETS['a'], ip_masquerade=False)
    ip = lab.ok('container_netns', name=web, bridge=br, exposed_ports=['8000/tcp', '9000/tcp'])['container']['ip']
    lab.ok('port_publish', container=web, ports=['18000:8000'])
    lab.echo(web, 'web-8000\n', tcp=[8000])
    lab.echo(web, 'web-9000\n', tcp=[9000])
    lab.echo(lan, '{peer}\n', tcp=[7070])
    assert tcp_request(lab, lan, ip, 8000) == 'web-8000\n'          # published, routed in
    assert tcp_request(lab, lan, LAN_LAB, 18000) == 'web-8000\n'    # and through the host port
    assert tcp_request(lab, lan, ip, 9000) is None                  # unpublished: dropped at ingress
    assert tcp_request(lab, lab.ns, ip, 9000) == 'web-9000\n'       # control: the host reaches it
    assert tcp_request(lab, web, LAN_PEER, 7070) == '%s\n' % ip      # not masqueraded; the reply passes

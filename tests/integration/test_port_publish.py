"""port_publish against a real kernel: DNAT from outside, from the host, hairpin, loopback safety, UDP remaps."""

import pytest

from labhost import BACKEND, break_rules, dnat_ports, owned_rules, tcp_request, udp_request, wait_for

LAB_IP = '10.251.0.1'


def setup(lab, exposed=('80/tcp', '53/udp', '7000-7002/tcp')):
    outside = lab.add_peer('out', LAB_IP + '/24', '10.251.0.2/24')
    br = lab.name('br')
    lab.ok('docker_bridge', name=br, subnet='10.87.0.0/24')
    web = lab.name('web')
    ip = lab.ok('container_netns', name=web, bridge=br, exposed_ports=list(exposed))['container']['ip']
    return outside, web, ip


def publish(lab, container, **kw):
    return lab.module('port_publish', container=container, **kw)


def test_tcp_udp_and_ranges_from_outside_from_host_and_hairpin(lab):
    outside, web, ip = setup(lab)
    result = publish(lab, web, ports=['8080:80', '1053:53/udp', '7000-7002:7000-7002', '127.0.0.1:15432:80'])
    assert result['changed'] and not result.get('failed'), result
    assert result['ports']['docker_port'] == ['80/tcp -> 0.0.0.0:8080', '53/udp -> 0.0.0.0:1053',
                                              '7000-7002/tcp -> 0.0.0.0:7000-7002', '80/tcp -> 127.0.0.1:15432']
    lab.echo(web, 'web\n', tcp=[80])
    lab.echo(web, 'dns\n', udp=[53])
    lab.echo(web, 'range\n', tcp=[7001])
    assert tcp_request(lab, outside, LAB_IP, 8080) == 'web\n'
    assert udp_request(lab, outside, LAB_IP, 1053) == 'dns\n'
    assert tcp_request(lab, outside, LAB_IP, 7001) == 'range\n'
    # from the lab host itself: its own address, and 127.0.0.1 where published there
    assert tcp_request(lab, lab.ns, LAB_IP, 8080) == 'web\n'
    assert tcp_request(lab, lab.ns, '127.0.0.1', 15432) == 'web\n'
    assert tcp_request(lab, lab.ns, '127.0.0.1', 8080) == 'web\n'
    # hairpin: the container reaches its own published port through the host's address
    assert tcp_request(lab, web, LAB_IP, 8080) == 'web\n'
    assert lab.sh('cat /proc/sys/net/ipv4/conf/%s/route_localnet' % lab.name('br')).stdout.strip() == '1'


def test_loopback_publish_is_not_reachable_from_outside_even_with_a_route(lab, tmp_path):
    outside, web, ip = setup(lab)
    ports = ['127.0.0.1:15432:80', '127.0.0.1:1053:53/udp', '1054:53/udp']  # 1054: the control's way in
    assert publish(lab, web, ports=ports)['changed']
    lab.echo(web, 'web\n', tcp=[80])
    received = tmp_path / 'received'
    received.write_text('')
    lab.echo(web, '', udp=[53], record=received)
    # The outside sends packets for 127.0.0.1 to the lab host (moby#45610's attack).
    dev = lab.in_ns(outside, "ip -o link | awk -F': ' '$2 != \"lo\" {print $2}' | cut -d@ -f1").stdout.strip()
    lab.in_ns(outside, 'sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.%s.route_localnet=1 && '
                       'ip route del 127.0.0.0/8 dev lo table local && ip route del 127.0.0.1 dev lo table local && '
                       'ip route add 127.0.0.1/32 via %s dev %s' % (dev, LAB_IP, dev))

    def attack(word):
        """What the server has received once a control datagram, sent after the attack over the same
        link and queue to an allowed port, has arrived (so the attack's fate is decided by then)."""
        lab.in_ns(outside, 'printf %s | socat -u - UDP:127.0.0.1:1053,bind=10.251.0.2' % word)
        lab.in_ns(outside, 'printf control-%s | socat -u - UDP:%s:1054,bind=10.251.0.2' % (word, LAB_IP))
        wait_for(lambda: 'control-%s' % word in received.read_text(), what='the control datagram')
        return [line.split()[1] for line in received.read_text().splitlines() if not line.split()[1].startswith('control-')]

    assert attack('blocked') == []
    # Control: without the raw-table drop the same packets do reach the container (the attack is real).
    break_rules(lab, 'iptables -t raw -F CNET-RAW', 'raw_prerouting')
    assert attack('through') == ['through']
    assert publish(lab, web, ports=ports)['changed'] is True  # repaired
    assert attack('again') == ['through']
    # The host itself still reaches its loopback publish.
    assert tcp_request(lab, lab.ns, '127.0.0.1', 15432) == 'web\n'


def test_allowed_sources(lab):
    outside, web, ip = setup(lab)
    stranger = lab.add_peer('o2', '10.252.0.1/24', '10.252.0.2/24')
    assert publish(lab, web, ports=['8080:80'], allowed_sources=['10.251.0.0/24'])['changed']
    lab.echo(web, 'web\n', tcp=[80])
    assert tcp_request(lab, outside, LAB_IP, 8080) == 'web\n'
    assert tcp_request(lab, stranger, '10.252.0.1', 8080) is None
    assert tcp_request(lab, stranger, ip, 80) is None  # nor by routing to the container directly


@pytest.mark.parametrize('family', [4, 6], ids=['ipv4', 'ipv6'])
def test_udp_remap_while_client_keeps_sending(lab, family):
    outside = lab.add_peer('out', LAB_IP + '/24', '10.251.0.2/24')
    br, web = lab.name('br'), lab.name('web')
    lab.ok('docker_bridge', name=br, subnet='10.87.0.0/24', **({'subnet_v6': 'fd00:87::/64'} if family == 6 else {}))
    lab.ok('container_netns', name=web, bridge=br, exposed_ports=['5001/udp', '5002/udp'])
    target, prefix = LAB_IP, ''
    if family == 6:  # the conntrack entries to flush are IPv6 ones
        lab.add_peer_ipv6('out', 'fd00:251::1', 'fd00:251::2')
        target, prefix = 'fd00:251::1', '[::]:'
    lab.echo(web, 'old\n', udp=[5001], bind='::' if family == 6 else None)
    lab.echo(web, 'new\n', udp=[5002], bind='::' if family == 6 else None)

    def send():
        return udp_request(lab, outside, target, 1053, source_port=40053)
    # moby#8795: a client sending before the mapping exists must not stay stuck once it does.
    assert send() is None
    assert publish(lab, web, ports=[prefix + '1053:5001/udp'])['changed']
    assert send() == 'old\n'
    assert publish(lab, web, ports=[prefix + '1053:5002/udp'])['changed']
    assert send() == 'new\n'


def test_empty_host_port_is_chosen_once_and_publish_all(lab):
    outside, web, ip = setup(lab)
    lab.sh('sysctl -qw net.ipv4.ip_local_port_range="40000 40010" net.ipv4.ip_local_reserved_ports=40000')
    lab.echo(lab.ns, '', tcp=[40001])  # a listener to skip
    first = publish(lab, web, ports=['127.0.0.1::80'])
    assert first['ports']['mappings'][0]['host_port'] == 40002 and first['ports']['mappings'][0]['random']
    assert publish(lab, web, ports=['127.0.0.1::80'])['changed'] is False
    everything = publish(lab, web, ports=['127.0.0.1::80'], publish_all=True)
    assert everything['ports']['docker_port'] == [
        '80/tcp -> 127.0.0.1:40002', '53/udp -> 0.0.0.0:40001', '80/tcp -> 0.0.0.0:40003',
        '7000-7002/tcp -> 0.0.0.0:40004-40006']
    again = publish(lab, web, ports=['127.0.0.1::80'], publish_all=True)
    assert again['changed'] is False and again['ports'] == everything['ports']
    lab.echo(web, 'web\n', tcp=[80])
    assert tcp_request(lab, outside, LAB_IP, 40003) == 'web\n'
    # the exposed range got a shifted host range: it maps port by port (40005 -> 7001)
    lab.echo(web, 'range-7001\n', tcp=[7001])
    assert tcp_request(lab, outside, LAB_IP, 40005) == 'range-7001\n'
    assert tcp_request(lab, outside, LAB_IP, 40004) is None  # 7000: nothing listens there


def test_idempotent_check_mode_and_absent_leave_host_identical(lab):
    outside, web, ip = setup(lab)
    before = lab.snapshot()
    args = dict(ports=['8080:80', '127.0.0.1:1053:53/udp'])
    assert publish(lab, web, check_mode=True, **args)['changed'] is True
    assert lab.snapshot() == before
    assert publish(lab, web, **args)['changed'] is True
    published = lab.snapshot()
    assert publish(lab, web, **args)['changed'] is False
    assert lab.snapshot() == published
    diff = publish(lab, web, diff=True, check_mode=True, ports=['8081:80'])
    rules = [d for d in diff['diff'] if d['before_header'].startswith(BACKEND)][0]
    spelled = '. %d :' if BACKEND == 'nftables' else 'dport %d'  # a map element, or a rule
    assert spelled % 8080 in rules['before'] and spelled % 8081 in rules['after']
    assert publish(lab, web, state='absent')['changed'] is True
    assert lab.snapshot() == before


def test_removing_the_container_unpublishes(lab):
    outside, web, ip = setup(lab)
    assert publish(lab, web, ports=['8080:80'])['changed']
    assert dnat_ports(lab) == {('tcp', 8080)}
    assert lab.ok('container_netns', name=web, state='absent')['changed']
    assert ('dnat ip' if BACKEND == 'nftables' else '-j DNAT') not in owned_rules(lab)
    assert dnat_ports(lab) == set()


@pytest.mark.parametrize('ports, field, words', [
    (['0:80'], 'ports[0]', 'not a port number'),
    (['8080:65536'], 'ports[0]', 'not a port number'),
    (['7000-7003:7000-7002'], 'ports[0]', 'different sizes'),
    (['8080:80/icmp'], 'ports[0]', 'unknown protocol'),
    (['192.0.2.99:8080:80'], 'ports[0]', 'not an address of this host'),
    (['8080:80', '9090:80', '8080:81'], 'ports[2]', 'clashes with published port'),
    (['9999:80'], 'ports[0]', 'clashes with a socket listening'),
    (['6000:80'], 'ports[0]', 'clashes with published port'),
    ([{'host_port': 8080}], 'ports[0]', 'container_port is required'),
])
def test_bad_input_fails_naming_field_and_changes_nothing(lab, ports, field, words):
    outside, web, ip = setup(lab)
    other = lab.name('oth')
    lab.ok('container_netns', name=other, bridge=lab.name('br'))
    lab.ok('port_publish', container=other, ports=['6000:80'])
    lab.echo(lab.ns, '', tcp=[9999])
    before = lab.snapshot()
    result = publish(lab, web, ports=ports)
    assert result.get('failed'), result
    assert result['msg'].startswith(field) and words in result['msg'], result['msg']
    assert lab.snapshot() == before

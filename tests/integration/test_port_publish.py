"""port_publish against a real kernel: DNAT from outside, from the host, hairpin, loopback safety, UDP remaps."""

import pytest

from labhost import iptables_save, tcp_request, udp_request

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
    lab.serve(web, "socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:'echo web'")
    lab.serve(web, "socat UDP-RECVFROM:53,reuseaddr,fork SYSTEM:'echo dns'")
    lab.serve(web, "socat TCP-LISTEN:7001,reuseaddr,fork SYSTEM:'echo range'")
    assert tcp_request(lab, outside, LAB_IP, 8080) == 'web\n'
    assert udp_request(lab, outside, LAB_IP, 1053) == 'dns\n'
    assert tcp_request(lab, outside, LAB_IP, 7001) == 'range\n'
    # from the lab host itself: its own address, and 127.0.0.1 where published there
    assert lab.sh("printf x | timeout 3 socat -t2 - TCP:%s:8080,shut-none" % LAB_IP).stdout == 'web\n'
    assert lab.sh("printf x | timeout 3 socat -t2 - TCP:127.0.0.1:15432,shut-none").stdout == 'web\n'
    assert lab.sh("printf x | timeout 3 socat -t2 - TCP:127.0.0.1:8080,shut-none").stdout == 'web\n'
    # hairpin: the container reaches its own published port through the host's address
    assert tcp_request(lab, web, LAB_IP, 8080) == 'web\n'
    assert lab.sh('cat /proc/sys/net/ipv4/conf/%s/route_localnet' % lab.name('br')).stdout.strip() == '1'


def test_loopback_publish_is_not_reachable_from_outside_even_with_a_route(lab, tmp_path):
    outside, web, ip = setup(lab)
    assert publish(lab, web, ports=['127.0.0.1:15432:80', '127.0.0.1:1053:53/udp'])['changed']
    lab.serve(web, "socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:'echo web'")
    received = tmp_path / 'received'
    received.write_text('')
    lab.serve(web, 'socat -u UDP-RECV:53,reuseaddr OPEN:%s,append' % received)
    # The outside sends packets for 127.0.0.1 to the lab host (moby#45610's attack).
    dev = lab.in_ns(outside, "ip -o link | awk -F': ' '$2 != \"lo\" {print $2}' | cut -d@ -f1").stdout.strip()
    lab.in_ns(outside, 'sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.%s.route_localnet=1 && '
                       'ip route del 127.0.0.0/8 dev lo table local && ip route del 127.0.0.1 dev lo table local && '
                       'ip route add 127.0.0.1/32 via %s dev %s' % (dev, LAB_IP, dev))

    def attack(word):
        lab.in_ns(outside, 'printf %s | socat -u - UDP:127.0.0.1:1053,bind=10.251.0.2' % word)
        lab.in_ns(outside, 'sleep 0.5')
        return received.read_text()

    assert attack('blocked') == ''
    # Control: without the raw-table drop the same packets do reach the container (the attack is real).
    lab.sh('iptables -t raw -F CNET-RAW')
    assert attack('through') == 'through'
    assert publish(lab, web, ports=['127.0.0.1:15432:80', '127.0.0.1:1053:53/udp'])['changed'] is True  # repaired
    assert attack('again') == 'through'
    # The host itself still reaches its loopback publish.
    assert lab.sh("printf x | timeout 3 socat -t2 - TCP:127.0.0.1:15432,shut-none").stdout == 'web\n'


def test_allowed_sources(lab):
    outside, web, ip = setup(lab)
    stranger = lab.add_peer('o2', '10.252.0.1/24', '10.252.0.2/24')
    assert publish(lab, web, ports=['8080:80'], allowed_sources=['10.251.0.0/24'])['changed']
    lab.serve(web, "socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:'echo web'")
    assert tcp_request(lab, outside, LAB_IP, 8080) == 'web\n'
    assert tcp_request(lab, stranger, '10.252.0.1', 8080) is None
    assert tcp_request(lab, stranger, ip, 80) is None  # nor by routing to the container directly


def test_udp_remap_while_client_keeps_sending(lab):
    outside, web, ip = setup(lab, exposed=('5001/udp', '5002/udp'))
    lab.serve(web, "socat UDP-RECVFROM:5001,reuseaddr,fork SYSTEM:'echo old'")
    lab.serve(web, "socat UDP-RECVFROM:5002,reuseaddr,fork SYSTEM:'echo new'")
    send = 'printf x | timeout 3 socat -T1 - UDP:%s:1053,sourceport=40053,reuseaddr' % LAB_IP
    # moby#8795: a client sending before the mapping exists must not stay stuck once it does.
    assert lab.in_ns(outside, send, check=False).stdout == ''
    assert publish(lab, web, ports=['1053:5001/udp'])['changed']
    assert lab.in_ns(outside, send, check=False).stdout == 'old\n'
    assert publish(lab, web, ports=['1053:5002/udp'])['changed']
    assert lab.in_ns(outside, send, check=False).stdout == 'new\n'


def test_empty_host_port_is_chosen_once_and_publish_all(lab):
    outside, web, ip = setup(lab)
    lab.sh('sysctl -qw net.ipv4.ip_local_port_range="40000 40010" net.ipv4.ip_local_reserved_ports=40000')
    lab.serve(lab.ns, 'socat TCP-LISTEN:40001,bind=0.0.0.0,reuseaddr,fork SYSTEM:true')  # a listener to skip
    first = publish(lab, web, ports=['127.0.0.1::80'])
    assert first['ports']['mappings'][0]['host_port'] == 40002 and first['ports']['mappings'][0]['random']
    assert publish(lab, web, ports=['127.0.0.1::80'])['changed'] is False
    everything = publish(lab, web, ports=['127.0.0.1::80'], publish_all=True)
    assert everything['ports']['docker_port'] == [
        '80/tcp -> 127.0.0.1:40002', '53/udp -> 0.0.0.0:40001', '80/tcp -> 0.0.0.0:40003',
        '7000-7002/tcp -> 0.0.0.0:40004-40006']
    again = publish(lab, web, ports=['127.0.0.1::80'], publish_all=True)
    assert again['changed'] is False and again['ports'] == everything['ports']
    lab.serve(web, "socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:'echo web'")
    assert tcp_request(lab, outside, LAB_IP, 40003) == 'web\n'


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
    rules = [d for d in diff['diff'] if d['before_header'].startswith('iptables')][0]
    assert '--dport 8080' in rules['before'] and '--dport 8081' in rules['after']
    assert publish(lab, web, state='absent')['changed'] is True
    assert lab.snapshot() == before


def test_removing_the_container_unpublishes(lab):
    outside, web, ip = setup(lab)
    assert publish(lab, web, ports=['8080:80'])['changed']
    assert '--dport 8080' in iptables_save(lab)
    assert lab.ok('container_netns', name=web, state='absent')['changed']
    assert 'DNAT' not in iptables_save(lab) and '--dport 8080' not in iptables_save(lab)


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
    lab.serve(lab.ns, 'socat TCP-LISTEN:9999,reuseaddr,fork SYSTEM:true')
    before = lab.snapshot()
    result = publish(lab, web, ports=ports)
    assert result.get('failed'), result
    assert result['msg'].startswith(field) and words in result['msg'], result['msg']
    assert lab.snapshot() == before

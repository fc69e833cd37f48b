"""Names on DNS networks: the resolver's view of a registry, its decisions and the wire format."""

import struct

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _dns as dns
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError


def bridge(gateway, dns_on=True, internal=False):
    return {'gateway': gateway, 'dns': dns_on, 'internal': internal}


def container(*nets, **extra):
    return dict({'networks': [{'bridge': b, 'ip': ip, 'aliases': list(aliases)} for b, ip, aliases in nets]}, **extra)


STATE = {
    'bridges': {'front': bridge('10.1.0.1'), 'back': bridge('10.2.0.1'), 'plain': bridge('10.3.0.1', dns_on=False),
                'vault': bridge('10.4.0.1', internal=True)},
    'containers': {
        'web': container(('front', '10.1.0.2', ['www'])),
        'api': container(('front', '10.1.0.3', ['svc']), ('back', '10.2.0.3', [])),
        'db': container(('back', '10.2.0.4', ['database', 'svc'])),
        'old': container(('plain', '10.3.0.2', [])),
        'safe': container(('vault', '10.4.0.2', []), dns=['192.0.2.53']),
        'relay': container(('front', '10.1.0.5', []), dns=['192.0.2.53']),
    },
    'links': {'api/db': {'receiver': 'api', 'source': 'db', 'alias': 'mydb'},
              'web/db': {'receiver': 'web', 'source': 'db', 'alias': 'hidden'}},
}


@pytest.fixture(scope='module')
def zone():
    return dns.view(STATE)


def test_listens_on_each_dns_bridge_gateway_only(zone):
    assert zone['listen'] == {'front': '10.1.0.1', 'back': '10.2.0.1', 'vault': '10.4.0.1'}
    assert '10.3.0.2' not in zone['askers']  # the default-bridge behaviour: no names


@pytest.mark.parametrize('asker, name, expected', [
    ('10.1.0.2', 'api', ['10.1.0.3']),                # by container name, on the network shared
    ('10.1.0.2', 'API.', ['10.1.0.3']),               # case and a trailing dot do not matter
    ('10.1.0.2', 'svc', ['10.1.0.3']),                # a network alias
    ('10.1.0.2', 'api.front', ['10.1.0.3']),          # NAME.NETWORK
    ('10.1.0.3', 'db', ['10.2.0.4']),                 # on two networks: the second one answers too
    ('10.1.0.3', 'web', ['10.1.0.2']),
    ('10.2.0.3', 'web', ['10.1.0.2']),                # whichever address it asks from
    ('10.1.0.3', 'svc', ['10.1.0.3', '10.2.0.4']),    # a shared alias: every holder
    ('10.1.0.3', 'mydb', ['10.2.0.4']),               # its link's alias, the source on a shared network
    ('10.2.0.4', 'api', ['10.2.0.3']),                # the address on the network shared with the asker
])
def test_names_answer_on_networks_the_asker_shares(zone, asker, name, expected):
    assert dns.decide(zone, asker, name, dns.TYPE_A) == ('answer', dns.RCODE_OK, expected)


@pytest.mark.parametrize('asker, name', [
    ('10.1.0.2', 'db'),           # db is on back only: web is not
    ('10.1.0.2', 'database'),
    ('10.1.0.2', 'db.back'),
    ('10.1.0.2', 'hidden'),       # a link alias whose source shares no DNS network with the receiver
    ('10.2.0.4', 'www'),
    ('10.2.0.4', 'mydb'),         # a link alias is the receiver's alone
    ('10.2.0.4', 'old'),          # a default-bridge container has no name
])
def test_no_name_answers_from_a_network_the_asker_is_not_on(zone, asker, name):
    assert dns.decide(zone, asker, name, dns.TYPE_A) == ('forward', [])


def test_internal_networks_never_forward(zone):
    assert dns.decide(zone, '10.4.0.2', 'example.org', dns.TYPE_A) == ('answer', dns.RCODE_NXDOMAIN, [])
    assert dns.decide(zone, '10.4.0.2', 'safe', dns.TYPE_A) == ('answer', dns.RCODE_OK, ['10.4.0.2'])


def test_upstreams_are_the_containers_own_then_the_hosts(zone):
    assert dns.decide(zone, '10.1.0.5', 'example.org', dns.TYPE_A) == ('forward', ['192.0.2.53'])
    assert dns.decide(zone, '10.1.0.2', 'example.org', dns.TYPE_A) == ('forward', [])


def test_unknown_askers_are_refused(zone):
    assert dns.decide(zone, '10.3.0.2', 'web', dns.TYPE_A) == ('answer', dns.RCODE_REFUSED, [])
    assert dns.decide(zone, '192.0.2.1', 'web', dns.TYPE_A) == ('answer', dns.RCODE_REFUSED, [])


def test_aaaa_of_an_ipv4_only_name_is_empty_not_nxdomain(zone):
    assert dns.decide(zone, '10.1.0.2', 'api', dns.TYPE_AAAA) == ('answer', dns.RCODE_OK, [])


def test_ptr_for_addresses_on_shared_networks_only(zone):
    assert dns.decide(zone, '10.1.0.2', '3.0.1.10.in-addr.arpa', dns.TYPE_PTR) == ('answer', dns.RCODE_OK, ['api'])
    assert dns.decide(zone, '10.1.0.2', '4.0.2.10.in-addr.arpa', dns.TYPE_PTR) == ('forward', [])


def test_the_view_follows_disconnect():
    state = {'bridges': STATE['bridges'], 'links': {},
             'containers': dict(STATE['containers'], api=container(('back', '10.2.0.3', [])))}
    zone = dns.view(state)
    assert dns.decide(zone, '10.1.0.2', 'api', dns.TYPE_A) == ('forward', [])
    assert dns.decide(zone, '10.1.0.2', 'svc', dns.TYPE_A) == ('forward', [])
    assert '10.1.0.3' not in zone['askers']


def query(name, qtype=dns.TYPE_A, qid=0x1234, rd=True):
    labels = b''.join(struct.pack('!B', len(l)) + l.encode() for l in name.split('.')) + b'\x00'
    return struct.pack('!HHHHHH', qid, 0x0100 if rd else 0, 1, 0, 0, 0) + labels + struct.pack('!HH', qtype, 1)


def test_wire_round_trip_of_an_a_answer():
    q = query('web.front')
    assert dns.parse_query(q)[2:5] == ('web.front', dns.TYPE_A, 1)
    r = dns.build_response(q, dns.RCODE_OK, dns.TYPE_A, ['10.1.0.2', '10.1.0.9'])
    qid, flags, qd, an, ns, ar = struct.unpack('!HHHHHH', r[:12])
    assert (qid, qd, an, ns, ar) == (0x1234, 1, 2, 0, 0)
    assert flags & 0x8000 and flags & 0x0400 and flags & 0x0100 and flags & 0x0080 and flags & 0x0F == 0
    first = r[len(q):]
    assert struct.unpack('!HHHIH', first[:12]) == (0xC00C, dns.TYPE_A, 1, dns.TTL, 4)
    assert first[12:16] == bytes([10, 1, 0, 2])


def test_wire_ptr_and_nxdomain():
    q = query('3.0.1.10.in-addr.arpa', dns.TYPE_PTR)
    r = dns.build_response(q, dns.RCODE_OK, dns.TYPE_PTR, ['api'])
    assert r.endswith(b'\x03api\x00')
    r = dns.build_response(query('nope'), dns.RCODE_NXDOMAIN, dns.TYPE_A, [])
    assert struct.unpack('!H', r[2:4])[0] & 0x0F == dns.RCODE_NXDOMAIN and struct.unpack('!H', r[6:8])[0] == 0


def test_udp_answers_too_big_are_truncated():
    ips = ['10.1.%d.%d' % (i // 200, i % 200 + 1) for i in range(40)]
    r = dns.build_response(query('svc'), dns.RCODE_OK, dns.TYPE_A, ips, max_size=dns.MAX_UDP)
    assert struct.unpack('!H', r[2:4])[0] & 0x0200 and struct.unpack('!H', r[6:8])[0] == 0
    assert len(dns.build_response(query('svc'), dns.RCODE_OK, dns.TYPE_A, ips)) > dns.MAX_UDP


@pytest.mark.parametrize('data', [b'', b'\x00' * 11, query('a')[:-2], b'\x12\x34\x81\x00' + query('a')[4:],
                                  query('a')[:12] + b'\xc0\x0c\x00\x01\x00\x01'])
def test_malformed_queries_raise_format_error(data):
    with pytest.raises(dns.FormatError):
        dns.parse_query(data)


@pytest.mark.parametrize('value', ['db', 'my-db', 'db_1', 'svc.internal', 'a' * 63])
def test_valid_names(value):
    assert dns.check_dns_name(value, 'aliases') == value


@pytest.mark.parametrize('value', ['', '-db', 'db-', 'a b', 'db..x', 'a' * 64, 'x.' * 127 + 'x', 'd\nb', 3])
def test_invalid_names_name_the_field(value):
    with pytest.raises(ParamError, match='aliases'):
        dns.check_dns_name(value, 'aliases')


def test_resolv_conf_upstreams_keep_host_stubs():
    text = 'search lan\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n# x\nnameserver ::1\nnameserver 192.0.2.2\n'
    assert dns.upstreams_from_resolv_conf(text) == ['127.0.0.53', '192.0.2.1', '::1']


def test_rendered_names_list_networks_and_link_aliases():
    text = dns.render_names(STATE)
    assert 'front svc 10.1.0.3\n' in text and 'back svc 10.2.0.4\n' in text and 'link api mydb 10.2.0.4\n' in text
    assert 'old' not in text and 'hidden' not in text


def test_the_view_grows_with_memberships_not_askers_times_names():
    n = 3000
    state = {'bridges': {'big': bridge('10.8.0.1')}, 'links': {},
             'containers': dict(('c%d' % i, container(('big', '10.8.%d.%d' % (i // 250, i % 250 + 2), [])))
                                for i in range(n))}
    zone = dns.view(state)
    assert len(zone['networks']['big']['names']) == 2 * n and len(zone['askers']) == n
    assert all(set(entry) == {'container', 'networks', 'links', 'forward', 'upstreams'} for entry in zone['askers'].values())
    assert dns.decide(zone, '10.8.0.2', 'c2999', dns.TYPE_A) == ('answer', dns.RCODE_OK, ['10.8.11.251'])

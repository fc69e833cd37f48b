"""The resolver's answering path (Resolver.handle) without sockets: who gets an answer at all,
which messages are refused, the upstream order and the bound on queries upstream. The upstream
seam (_ask_udp) is replaced; the real sockets are exercised by the integration tests."""

import asyncio
import json
import struct

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _dns as dns
from ansible_collections.seed.container_net.plugins.module_utils import _dns_server as server
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state

WEB, DB, STRANGER = '10.1.0.2', '10.1.0.3', '192.0.2.9'


def query(name, qtype=dns.TYPE_A, opcode=0, qclass=1, qr=False):
    labels = b''.join(struct.pack('!B', len(l)) + l.encode() for l in name.split('.')) + b'\x00'
    flags = (0x8000 if qr else 0) | (opcode << 11) | 0x0100
    return struct.pack('!HHHHHH', 0x4242, flags, 1, 0, 0, 0) + labels + struct.pack('!HH', qtype, qclass)


def rcode(answer):
    return answer[3] & 0x0F


@pytest.fixture
def resolver(tmp_path):
    state = empty_state()
    state['bridges']['front'] = {'gateway': '10.1.0.1', 'dns': True, 'internal': False}
    state['containers']['web'] = {'networks': [{'bridge': 'front', 'ip': WEB}]}
    state['containers']['db'] = {'networks': [{'bridge': 'front', 'ip': DB}], 'dns': ['192.0.2.53', '192.0.2.54']}
    (tmp_path / 'state.json').write_text(json.dumps(state))
    conf = tmp_path / 'resolv.conf'
    conf.write_text('nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n')
    return server.Resolver(str(tmp_path), resolv_conf=str(conf), log=lambda msg: None)


def handle(resolver, data, asker, proto='udp'):
    return asyncio.run(resolver.handle(data, asker, dns.MAX_UDP if proto == 'udp' else dns.MAX_TCP, proto))


def test_a_known_asker_gets_its_names(resolver):
    answer = handle(resolver, query('db'), WEB)
    assert rcode(answer) == dns.RCODE_OK and answer.endswith(bytes([10, 1, 0, 3]))


@pytest.mark.parametrize('data', [query('db', qr=True), b'\x42\x42\x01', b''])
def test_responses_and_scraps_get_nothing_back_from_anyone(resolver, data):
    assert handle(resolver, data, WEB) is None and handle(resolver, data, STRANGER) is None


def test_strangers_get_refused_and_nothing_more(resolver):
    answer = handle(resolver, query('db'), STRANGER)
    assert rcode(answer) == dns.RCODE_REFUSED and struct.unpack('!H', answer[6:8])[0] == 0
    assert len(answer) == len(query('db'))  # no amplification
    assert handle(resolver, query('db')[:14], STRANGER) is None  # malformed: not even a FORMERR


def test_malformed_from_a_container_is_formerr(resolver):
    assert rcode(handle(resolver, query('db')[:14], WEB)) == dns.RCODE_FORMERR


@pytest.mark.parametrize('kwargs', [{'opcode': 5}, {'opcode': 4}, {'opcode': 1}, {'qclass': 3}])
def test_updates_notifies_and_other_classes_are_not_passed_on(resolver, kwargs, monkeypatch):
    monkeypatch.setattr(resolver, '_ask_udp', pytest.fail)
    assert rcode(handle(resolver, query('example.org', **kwargs), WEB)) == dns.RCODE_NOTIMP


def test_upstreams_in_order_next_on_timeout_servfail_or_refused(resolver, monkeypatch):
    asked = []

    async def ask(server_ip, data):
        asked.append(server_ip)
        if server_ip == '192.0.2.1':
            raise asyncio.TimeoutError()
        if server_ip == '192.0.2.2':
            return dns.build_response(data, dns.RCODE_REFUSED, dns.TYPE_A, [])
        if server_ip == '192.0.2.3':
            return dns.build_response(data, dns.RCODE_NXDOMAIN, dns.TYPE_A, [])  # a final answer
        return dns.build_response(data, dns.RCODE_SERVFAIL, dns.TYPE_A, [])
    monkeypatch.setattr(resolver, '_ask_udp', ask)
    assert rcode(handle(resolver, query('example.org'), WEB)) == dns.RCODE_NXDOMAIN
    assert asked == ['192.0.2.1', '192.0.2.2', '192.0.2.3']  # the host's servers: web has none of its own
    del asked[:]
    assert rcode(handle(resolver, query('example.org'), DB)) == dns.RCODE_SERVFAIL  # its own, both failing
    assert asked == ['192.0.2.53', '192.0.2.54']


def test_one_container_cannot_hold_every_upstream_socket(resolver, monkeypatch):
    async def scenario():
        release = asyncio.Event()

        async def slow(server_ip, data):
            await release.wait()
            return dns.build_response(data, dns.RCODE_OK, dns.TYPE_A, ['198.51.100.1'])
        monkeypatch.setattr(resolver, '_ask_udp', slow)
        held = [asyncio.ensure_future(resolver.handle(query('n%d.example' % i), WEB, dns.MAX_UDP, 'udp'))
                for i in range(server.MAX_FORWARDS_PER_ASKER)]
        await asyncio.sleep(0)
        over = await resolver.handle(query('one-more.example'), WEB, dns.MAX_UDP, 'udp')
        other = asyncio.ensure_future(resolver.handle(query('db-asks.example'), DB, dns.MAX_UDP, 'udp'))
        await asyncio.sleep(0)
        release.set()
        return over, await other, await asyncio.gather(*held)
    over, other, held = asyncio.run(scenario())
    assert rcode(over) == dns.RCODE_SERVFAIL  # the 65th of one asker, at once
    assert rcode(other) == dns.RCODE_OK and all(rcode(a) == dns.RCODE_OK for a in held)
    assert resolver._forwarding == {}  # pylint: disable=protected-access


def test_tcp_answers_keep_what_fits_udp_answers_truncate(resolver):
    ips = ['10.1.%d.%d' % (i // 250, i % 250 + 1) for i in range(5000)]
    q = query('svc')
    tcp = dns.build_response(q, dns.RCODE_OK, dns.TYPE_A, ips, dns.MAX_TCP)
    assert len(tcp) <= dns.MAX_TCP and 4000 < struct.unpack('!H', tcp[6:8])[0] < 5000
    udp = dns.build_response(q, dns.RCODE_OK, dns.TYPE_A, ips, dns.MAX_UDP)
    assert struct.unpack('!H', udp[2:4])[0] & 0x0200 and struct.unpack('!H', udp[6:8])[0] == 0


def test_forward_pointing_compression_and_overlong_names_are_refused():
    q = query('a')
    forward = q[:12] + b'\xc0\x20' + q[-4:] + b'\x00' * 20
    with pytest.raises(dns.FormatError):
        dns.parse_query(forward)
    long_name = '.'.join(['a' * 63] * 5)
    with pytest.raises(dns.FormatError):
        dns.parse_query(query(long_name))

"""Encrypted overlays, pure logic: tunnel addresses and MTU from inventory, the refusals, public keys
kept from the registry, WireGuard's configuration as data, and the rows that pin a routed overlay's
peer blocks to the WireGuard link."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _overlay as overlay
from ansible_collections.seed.container_net.plugins.module_utils import _policy as policy
from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils import _topology as topology
from ansible_collections.seed.container_net.plugins.module_utils import _wireguard as wireguard
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state

from test_overlay_plan import HOSTS, NoLinks, Reads

KEY = dict(('h%d' % i, chr(ord('A') + i) * 42 + 'A=') for i in (1, 2, 3))
ENC = {'name': 'ov0', 'subnet': '10.230.0.0/16', 'members': ['h1', 'h2', 'h3'], 'encrypted': True,
       'tunnel_subnet': '10.229.0.0/24'}


def keyed(*members):
    return dict((m, dict(HOSTS[m], wireguard={'ov0': KEY[m]}) if m in members else dict(HOSTS[m])) for m in HOSTS)


@pytest.fixture(autouse=True)
def tools(monkeypatch):
    monkeypatch.setattr(wireguard, 'check_tools', lambda field: None)  # the host's tools are not pure logic


def test_each_member_takes_a_tunnel_address_by_its_block_and_the_mtu_leaves_room_for_both_headers():
    planned = overlay.plan([dict(ENC)], keyed('h1', 'h2'))['ov0']
    assert [(m, s['tunnel'], s['public_key']) for m, s in sorted(planned['members'].items())] == [
        ('h1', '10.229.0.1', KEY['h1']), ('h2', '10.229.0.2', KEY['h2']), ('h3', '10.229.0.3', None)]
    assert planned['mtu'] == 1500 - 80 - 50
    assert overlay.plan([dict(ENC, mode='routed')], HOSTS)['ov0']['mtu'] == 1420


@pytest.mark.parametrize('change, hosts, words', [
    ({'tunnel_subnet': None}, HOSTS, 'overlays[0].tunnel_subnet is required with encrypted: true'),
    ({'tunnel_subnet': '10.230.9.0/24'}, HOSTS, "tunnel_subnet '10.230.9.0/24' overlaps its subnet"),
    ({'tunnel_subnet': '10.229.0.0/30'}, HOSTS, "has no address for host 'h3'"),
    ({'wireguard_port': 70000}, HOSTS, 'overlays[0].wireguard_port 70000 is not a port number'),
    ({}, dict(HOSTS, h2={'underlay': '10.240.0.2', 'wireguard': {'ov0': 'secret'}}),
     "host 'h2' wireguard public key for 'ov0' is not a WireGuard key"),
])
def test_a_bad_encrypted_declaration_names_the_field(change, hosts, words):
    with pytest.raises(ParamError) as e:
        overlay.plan([dict(ENC, **change)], hosts)
    assert words in str(e.value)


def test_an_encrypted_and_a_plain_vxlan_overlay_do_not_share_a_port_and_tunnels_keep_off_the_underlay():
    plain = {'name': 'ov1', 'subnet': '10.231.0.0/16', 'members': ['h1', 'h2', 'h3']}
    with pytest.raises(ParamError, match="overlays.1..port 4789 is also the port of overlay 'ov0', which is encrypted"):
        overlay.plan([dict(ENC), plain], HOSTS)
    assert overlay.plan([dict(ENC), dict(plain, port=4790)], HOSTS)['ov1']['port'] == 4790
    with pytest.raises(ParamError, match="tunnel_subnet '10.240.0.0/24' holds host 'h1''s underlay address 10.240.0.1"):
        overlay.plan([dict(ENC, tunnel_subnet='10.240.0.0/24')], HOSTS)


def test_two_encrypted_overlays_take_their_own_tunnel_ranges_and_ports():
    other = dict(ENC, name='ov1', subnet='10.231.0.0/16', tunnel_subnet='10.229.0.128/25')
    with pytest.raises(ParamError, match="overlays.1..tunnel_subnet '10.229.0.128/25' overlaps tunnel_subnet of "
                                         "overlay 'ov0'"):
        overlay.plan([dict(ENC), other], HOSTS)
    with pytest.raises(ParamError, match="overlays.1..wireguard_port 51820 is also the WireGuard port of overlay 'ov0'"):
        overlay.plan([dict(ENC), dict(other, tunnel_subnet='10.228.0.0/24', port=4790)], HOSTS)


def test_a_udp_port_is_vxlans_or_wireguards_never_both():
    """One socket per port on a host, and the peers' accept of the one would admit the other."""
    with pytest.raises(ParamError, match=r"overlays\[0\]: port 4790 is both its VXLAN and its WireGuard port"):
        overlay.plan([dict(ENC, port=4790, wireguard_port=4790)], HOSTS)
    plain = {'name': 'ov1', 'subnet': '10.231.0.0/16', 'members': ['h1', 'h2', 'h3'], 'port': 4790}
    with pytest.raises(ParamError, match=r"overlays\[1\]: VXLAN port 4790 is the WireGuard port of overlay 'ov0'"):
        overlay.plan([dict(ENC, wireguard_port=4790), plain], HOSTS)
    with pytest.raises(ParamError, match=r"overlays\[1\]: WireGuard port 4790 is the VXLAN port of overlay 'ov1'"):
        overlay.plan([plain, dict(ENC, wireguard_port=4790)], HOSTS)
    # a routed overlay has no VXLAN port: its port setting takes no socket
    routed = dict(ENC, mode='routed', port=51820)
    assert overlay.plan([routed], HOSTS)['ov0']['encrypted']['port'] == 51820


def declared(me, hosts, state=None):
    state = state or empty_state()
    topology.declare(state, [], [], False, NoLinks(), Reads(), overlays=[dict(ENC)], hosts=hosts, me=me)
    return state


def test_a_peer_key_not_given_this_run_stays_as_recorded_and_a_new_one_replaces_it():
    state = declared('h1', keyed('h2', 'h3'))
    peers = state['bridges']['ov0']['overlay']['peers']
    assert (peers['h2']['public_key'], peers['h3']['public_key']) == (KEY['h2'], KEY['h3'])
    state = declared('h1', HOSTS, state)  # the first phase of the next run: no facts of the others yet
    assert state['bridges']['ov0']['overlay']['peers']['h2']['public_key'] == KEY['h2']
    rotated = dict(HOSTS, h2=dict(HOSTS['h2'], wireguard={'ov0': 'Z' * 42 + 'E='}))
    state = declared('h1', rotated, state)
    assert state['bridges']['ov0']['overlay']['peers']['h2']['public_key'] == 'Z' * 42 + 'E='
    encrypted = state['bridges']['ov0']['overlay']['encrypted']
    assert encrypted == {'interface': wireguard.ifname('ov0', '10.240.0.1'), 'port': 51820,
                         'address': '10.229.0.1/24', 'mtu': 1420}


def test_wireguard_takes_the_peers_with_keys_vxlan_and_routes_run_between_tunnel_addresses():
    state = declared('h1', keyed('h2'))
    rec = state['bridges']['ov0']['overlay']
    assert wireguard.wanted(rec) == (51820, {KEY['h2']: ('10.240.0.2:51820', ('10.229.0.2/32',))})
    assert overlay.fdb_wanted(state, 'ov0') == [('00:00:00:00:00:00', '10.229.0.2'), ('00:00:00:00:00:00', '10.229.0.3')]
    rows = [(dict(r.match), r.verdict) for r in policy.rows(state)[0] if r.chain == 'CNET-INPUT']
    wg = rec['encrypted']['interface']
    # WireGuard from the peers only; VXLAN from their tunnel addresses through the WireGuard link only,
    # and plain VXLAN to the underlay address dropped (the VXLAN socket takes the VNI on any address)
    assert rows == [
        ({'src': '10.240.0.2', 'dst': '10.240.0.1', 'proto': 'udp', 'dport': (51820, 51820)}, 'ACCEPT'),
        ({'src': '10.240.0.3', 'dst': '10.240.0.1', 'proto': 'udp', 'dport': (51820, 51820)}, 'ACCEPT'),
        ({'src': '10.229.0.2', 'dst': '10.229.0.1', 'iif': wg, 'proto': 'udp', 'dport': (4789, 4789)}, 'ACCEPT'),
        ({'src': '10.229.0.3', 'dst': '10.229.0.1', 'iif': wg, 'proto': 'udp', 'dport': (4789, 4789)}, 'ACCEPT'),
        ({'dst': '10.229.0.1', 'proto': 'udp', 'dport': (4789, 4789)}, 'DROP'),
        ({'dst': '10.240.0.1', 'proto': 'udp', 'dport': (4789, 4789)}, 'DROP'),
        ({'dst': '10.240.0.1', 'proto': 'udp', 'dport': (51820, 51820)}, 'DROP'),
        ({'family': 4, 'proto': 'udp', 'dport': (4789, 4789), 'vni': overlay.default_vni('ov0')}, 'DROP')]


def test_a_routed_encrypted_member_admits_the_peers_blocks_from_its_wireguard_link_only():
    state = empty_state()
    topology.declare(state, [], [], False, NoLinks(), Reads(), overlays=[dict(ENC, mode='routed')],
                     hosts=keyed('h1', 'h3'), me='h2')
    rec = state['bridges']['ov0']['overlay']
    wg = rec['encrypted']['interface']
    assert wireguard.wanted(rec)[1] == {KEY['h1']: ('10.240.0.1:51820', ('10.229.0.1/32', '10.230.0.0/24')),
                                        KEY['h3']: ('10.240.0.3:51820', ('10.229.0.3/32', '10.230.2.0/24'))}
    v4 = rules.render(state).rendered()
    assert [l for l in v4['raw']['chains']['CNET-RAW'] if '-j ACCEPT' in l] == [
        '-A CNET-RAW -s 10.230.%d.0/24 -d 10.230.1.0/24 -i %s -m comment --comment "cnet:bridge:ov0" -j ACCEPT'
        % (i, wg) for i in (0, 2)]
    assert '-A CNET-INGRESS -s 10.230.0.0/24 -i %s -o ov0 -m comment --comment "cnet:bridge:ov0" -j ACCEPT' % wg \
        in v4['filter']['chains']['CNET-INGRESS']


def test_the_configuration_round_trips_through_wg_show_dump():
    peers = {KEY['h2']: ('10.240.0.2:51820', ('10.229.0.2/32', '10.230.1.0/24'))}
    text = wireguard.config_text('PRIV', 51820, peers)
    assert text == ('[Interface]\nPrivateKey = PRIV\nListenPort = 51820\n\n[Peer]\nPublicKey = %s\n'
                    'Endpoint = 10.240.0.2:51820\nAllowedIPs = 10.229.0.2/32, 10.230.1.0/24\n' % KEY['h2'])
    dump = 'PRIV\tPUB\t51820\toff\n%s\t(none)\t10.240.0.2:51820\t10.230.1.0/24,10.229.0.2/32\t0\t0\t0\toff\n' % KEY['h2']
    assert wireguard.parse_dump(dump) == ('PRIV', 51820, peers, set())
    assert wireguard.parse_dump('PRIV\tPUB\t51820\toff\nK\t(none)\t(none)\t(none)\t0\t0\t0\toff\n') == (
        'PRIV', 51820, {'K': (None, ())}, set())
    assert wireguard.in_force(wireguard.parse_dump(dump), 'PRIV', 51820, peers)
    # a peer that roamed after a handshake keeps its new endpoint; one that never shook hands is set
    roamed = dump.replace('10.240.0.2:51820\t10.230', '192.0.2.9:40000\t10.230')
    assert not wireguard.in_force(wireguard.parse_dump(roamed), 'PRIV', 51820, peers)
    shaken = roamed.replace('\t0\t0\t0\toff', '\t1765000000\t10\t10\toff')
    assert wireguard.in_force(wireguard.parse_dump(shaken), 'PRIV', 51820, peers)
    assert not wireguard.in_force(wireguard.parse_dump(shaken), 'PRIV', 51821, peers)


def test_the_link_name_fits_ifnamsiz_and_differs_per_host():
    names = [wireguard.ifname('ov0', u) for u in ('10.240.0.1', '10.240.0.2')]
    assert names[0] != names[1] and all(len(n) <= 15 and n.startswith('wg') for n in names)


def test_a_tunnel_range_overlapping_a_local_bridge_is_refused_on_its_host():
    with pytest.raises(ParamError, match="tunnel_subnet 10.229.0.0/24 overlaps subnet 10.229.0.0/25 of bridge 'br0'"):
        topology.declare(empty_state(), [{'name': 'br0', 'subnet': '10.229.0.0/25'}], [], False, NoLinks(), Reads(),
                         overlays=[dict(ENC)], hosts=HOSTS, me='h1')

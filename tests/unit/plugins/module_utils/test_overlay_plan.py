"""Overlays across hosts, pure logic: blocks from inventory, checks across the whole inventory, the
bridge records each host takes, remote containers, FDB entries, the VXLAN guard and cross-host links."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _container_files as files
from ansible_collections.seed.container_net.plugins.module_utils import _dns as dns
from ansible_collections.seed.container_net.plugins.module_utils import _nft as nft
from ansible_collections.seed.container_net.plugins.module_utils import _overlay as overlay
from ansible_collections.seed.container_net.plugins.module_utils import _policy as policy
from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils import _topology as topology
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state

HOSTS = {'h1': {'underlay': '10.240.0.1'}, 'h2': {'underlay': '10.240.0.2'}, 'h3': {'underlay': '10.240.0.3'}}
OV = {'name': 'ov0', 'subnet': '10.230.0.0/16', 'members': ['h1', 'h2', 'h3'], 'icc': False}


class NoLinks:
    """The kernel as declare() asks it: no link of these names exists yet."""

    @staticmethod
    def link(name):
        return None


class Reads:
    """The host's reads: it holds every underlay address here, on ul0 (each test plays one host)."""

    def __init__(self, addresses=('10.240.0.1', '10.240.0.2', '10.240.0.3')):
        self.addresses = dict((a, 'ul0') for a in addresses)

    def get(self, key, *args):
        return {'addresses': self.addresses, 'range': (32768, 32800, set()), 'listeners': {}}[key]


def test_blocks_follow_the_member_order_and_an_explicit_index_wins():
    planned = overlay.plan([dict(OV)], HOSTS)['ov0']
    assert [(m, s['block'], s['gateway']) for m, s in sorted(planned['members'].items())] == [
        ('h1', '10.230.0.0/24', '10.230.0.1'), ('h2', '10.230.1.0/24', '10.230.1.1'),
        ('h3', '10.230.2.0/24', '10.230.2.1')]
    assert planned['mtu'] == 1450 and planned['vni'] == overlay.default_vni('ov0') and planned['port'] == 4789
    hosts = dict(HOSTS, h3={'underlay': '10.240.0.3', 'index': 9})
    assert overlay.plan([dict(OV)], hosts)['ov0']['members']['h3']['block'] == '10.230.9.0/24'


@pytest.mark.parametrize('change, hosts, words', [
    ({'members': ['h1', 'h9']}, HOSTS, "overlays[0].members[1] 'h9' is not a host of the inventory"),
    ({'members': ['h1', 'h1']}, HOSTS, "overlays[0].members[1] 'h1' is listed twice"),
    ({}, dict(HOSTS, h2={}), "host 'h2' has no underlay address"),
    ({}, dict(HOSTS, h2={'underlay': '10.240.0.1'}), "hosts 'h1' and 'h2' have the same underlay address"),
    ({}, dict(HOSTS, h3={'underlay': '10.240.0.3', 'index': 0}), "hosts 'h1' and 'h3' both take block 0"),
    ({'host_prefix': 30, 'subnet': '10.230.0.0/29'}, dict(HOSTS, h3={'underlay': '10.240.0.3', 'index': 2}),
     "host 'h3' index 2 is not a block of 10.230.0.0/29"),
    ({'host_prefix': 16}, HOSTS, 'host_prefix 16 must be longer'),
    ({'subnet': '10.230.0.1/16'}, HOSTS, "overlays[0].subnet '10.230.0.1/16' has host bits set"),
    ({'vni': 0x1000000}, HOSTS, 'vni 16777216 is out of range'),
    ({'underlay_mtu': 100}, HOSTS, 'underlay_mtu 100 leaves no room'),
    ({'name': 'a/b'}, HOSTS, 'overlays[0].name'),
])
def test_a_bad_declaration_names_the_field(change, hosts, words):
    with pytest.raises(ParamError) as e:
        overlay.plan([dict(OV, **change)], hosts)
    assert words in str(e.value)


def test_overlays_of_one_inventory_do_not_overlap_nor_share_a_vni():
    with pytest.raises(ParamError, match=r"overlays\[1\].subnet '10.230.4.0/24' overlaps subnet 10.230.0.0/16 of "
                                         r"overlay 'ov0'"):
        overlay.plan([dict(OV), dict(OV, name='ov1', subnet='10.230.4.0/24', host_prefix=26)], HOSTS)
    with pytest.raises(ParamError, match="overlays.1..vni 7 is also the VNI of overlay 'ov0'"):
        overlay.plan([dict(OV, vni=7), dict(OV, name='ov1', subnet='10.231.0.0/16', vni=7)], HOSTS)


def host_state(me, bridges=(), containers=(), remote=(), members=('h1', 'h2', 'h3'), reads=None):
    state = empty_state()
    topology.declare(state, list(bridges), list(containers), False, NoLinks(), reads or Reads(),
                     overlays=[dict(OV, members=list(members))], hosts=HOSTS, me=me, remote_decl=list(remote))
    return state


def test_each_member_takes_the_whole_subnet_its_own_gateway_and_leases_from_its_block():
    state = host_state('h2', containers=[{'name': 'db', 'networks': [{'bridge': 'ov0'}], 'exposed_ports': ['5432/tcp']}])
    bridge = state['bridges']['ov0']
    assert (bridge['subnet'], bridge['gateway'], bridge['ip_range'], bridge['mtu']) == (
        '10.230.0.0/16', '10.230.1.1', '10.230.1.0/24', 1450)
    assert state['containers']['db']['networks'][0]['ip'] == '10.230.1.2'
    assert sorted(bridge['overlay']['peers']) == ['h1', 'h3'] and bridge['overlay']['underlay'] == '10.240.0.2'
    # a host that is not a member takes nothing of it
    assert 'ov0' not in host_state('h3', members=('h1', 'h2'))['bridges']


def test_a_local_bridge_overlapping_an_overlay_is_refused_with_every_other_problem():
    with pytest.raises(ParamError) as e:
        host_state('h1', bridges=[{'name': 'br0', 'subnet': '10.230.5.0/24'}],
                   containers=[{'name': 'web', 'networks': [{'bridge': 'nope'}]}])
    assert '2 problems' in str(e.value) and "overlaps subnet 10.230.0.0/16 of bridge 'ov0'" in str(e.value)


REMOTE_DB = {'name': 'db', 'host': 'h2', 'hostname': 'dbhost', 'exposed_ports': ['5432/tcp'], 'env': {'PGUSER': 'app'},
             'networks': [{'bridge': 'ov0', 'ip': '10.230.1.2'}], 'links': []}


def test_a_web_linked_to_a_db_on_another_host_gets_the_env_hosts_line_and_the_pair():
    state = host_state('h1', containers=[{'name': 'web', 'networks': [{'bridge': 'ov0'}], 'links': ['db']}],
                       remote=[REMOTE_DB])
    assert state['remote']['db']['networks'] == [{'bridge': 'ov0', 'ip': '10.230.1.2', 'mac': '02:42:0a:e6:01:02'}]
    env = dict(files.container_env(state, 'web'))
    assert env['DB_PORT_5432_TCP_ADDR'] == '10.230.1.2' and env['DB_ENV_PGUSER'] == 'app'
    assert '10.230.1.2\tdb dbhost\n' in files.render_hosts(state, 'web')
    pairs = rules.render(state).rendered()['filter']['chains']['CNET-LINKS']
    assert pairs[0].startswith('-A CNET-LINKS -s 10.230.0.2/32 -d 10.230.1.2/32 -i ov0 -o ov0 -p tcp -m tcp --dport 5432')
    assert overlay.fdb_wanted(state, 'ov0') == [
        ('00:00:00:00:00:00', '10.240.0.2'), ('00:00:00:00:00:00', '10.240.0.3'), ('02:42:0a:e6:01:02', '10.240.0.2')]


def test_the_source_host_opens_the_same_pair_for_a_remote_receiver(tmp_path):
    web = {'name': 'web', 'host': 'h1', 'networks': [{'bridge': 'ov0', 'ip': '10.230.0.2'}], 'links': ['db']}
    state = host_state('h2', containers=[{'name': 'db', 'networks': [{'bridge': 'ov0'}], 'exposed_ports': ['5432/tcp']}],
                       remote=[web])
    assert sorted(state['links']) == ['web/db']
    pairs = rules.render(state).rendered()['filter']['chains']['CNET-LINKS']
    assert pairs[0].startswith('-A CNET-LINKS -s 10.230.0.2/32 -d 10.230.1.2/32 -i ov0 -o ov0 -p tcp -m tcp --dport 5432')
    # files here for this host's container only: the remote receiver's host writes its own
    writes = files.plan(empty_state(), state, str(tmp_path)).writes
    assert sorted(set(path.split('/')[-2] for path, dummy, dummy2 in writes)) == ['db']


@pytest.mark.parametrize('entry, words', [
    (dict(REMOTE_DB, networks=[{'bridge': 'ov0', 'ip': '10.230.0.9'}]), "ip '10.230.0.9' is not in block 10.230.1.0/24"),
    (dict(REMOTE_DB, host='h9'), "host 'h9' is not a member of overlay 'ov0'"),
    (dict(REMOTE_DB, name='web'), "name 'web' is also a container of this host"),
])
def test_bad_remote_containers_name_the_field(entry, words):
    with pytest.raises(ParamError) as e:
        host_state('h1', containers=[{'name': 'web', 'networks': [{'bridge': 'ov0'}]}], remote=[entry])
    assert 'remote_containers[0]' in str(e.value) and words in str(e.value)


def test_vxlan_reaches_the_host_from_the_peers_only():
    state = host_state('h1')
    rows = [r for r in policy.rows(state)[0] if r.chain == 'CNET-INPUT']
    assert [(dict(r.match).get('src'), r.verdict) for r in rows] == [
        ('10.240.0.2', 'ACCEPT'), ('10.240.0.3', 'ACCEPT'), (None, 'DROP'), (None, 'DROP')]
    rendered = rules.render(state).rendered()['filter']
    assert '-A INPUT -m comment --comment "cnet:jump" -j CNET-INPUT' in rendered['jumps']
    # the overlay's VNI from anyone else, on any address of the host (iptables-save's own spelling)
    vni = overlay.default_vni('ov0')
    assert rendered['chains']['CNET-INPUT'][-2:] == [
        '-A CNET-INPUT -d 10.240.0.1/32 -p udp -m udp --dport 4789 -m comment --comment "cnet:overlay:ov0" -j DROP',
        '-A CNET-INPUT -p udp -m udp --dport 4789 -m u32 --u32 "0x0>>0x16&0x3c@0xc>>0x8=0x%x" '
        '-m comment --comment "cnet:overlay:ov0" -j DROP' % vni]
    vni_row = [r for r in rows if 'vni' in dict(r.match)][0]
    assert nft.spell(vni_row) == 'meta nfproto ipv4 udp dport 4789 @th,96,24 0x%x drop' % vni
    assert policy.family(vni_row) == 4  # never in ip6tables: the VXLAN socket is IPv4, u32 reads an IPv4 header


def test_a_members_containers_send_no_vxlan_to_its_peers():
    """Masqueraded to this host's address, a container's datagram would pass a peer as this host's."""
    rows = [r for r in policy.rows(host_state('h1'))[0] if r.chain == 'CNET-RAW' and 'vni' in dict(r.match)]
    assert [(dict(r.match)['dst'], dict(r.match)['dport'], r.verdict) for r in rows] == [
        ('10.240.0.2', (4789, 4789), 'DROP'), ('10.240.0.3', (4789, 4789), 'DROP')]
    assert not [r for r in policy.rows(host_state('h1', members=('h1',)))[0] if 'vni' in dict(r.match)
                and r.chain == 'CNET-RAW']


def test_a_routed_member_is_its_block_and_lets_the_peers_blocks_in_unmasqueraded():
    state = empty_state()
    topology.declare(state, [], [], False, NoLinks(), Reads(), overlays=[dict(OV, mode='routed', icc=True)],
                     hosts=HOSTS, me='h2')
    with pytest.raises(ParamError, match="subnet 10.230.0.0/16 overlaps subnet 10.230.0.0/24 of bridge 'br0'"):
        topology.declare(empty_state(), [{'name': 'br0', 'subnet': '10.230.0.0/24'}], [], False, NoLinks(), Reads(),
                         overlays=[dict(OV, mode='routed', icc=True)], hosts=HOSTS, me='h2')
    bridge = state['bridges']['ov0']
    assert (bridge['subnet'], bridge['gateway'], bridge['ip_range'], bridge['mtu']) == (
        '10.230.1.0/24', '10.230.1.1', None, 1500)
    v4 = rules.render(state).rendered()
    # from the underlay's link only: a local container forging a peer's address gets nowhere
    assert [l for l in v4['raw']['chains']['CNET-RAW'] if '-j ACCEPT' in l] == [
        '-A CNET-RAW -s 10.230.%d.0/24 -d 10.230.1.0/24 -i ul0 -m comment --comment "cnet:bridge:ov0" -j ACCEPT' % i
        for i in (0, 2)]
    assert v4['nat']['chains']['CNET-POSTROUTING'][:2] == [
        '-A CNET-POSTROUTING -s 10.230.1.0/24 -d 10.230.%d.0/24 -m comment --comment "cnet:bridge:ov0" -j RETURN' % i
        for i in (0, 2)]
    ingress = v4['filter']['chains']['CNET-INGRESS']
    drop = ingress.index('-A CNET-INGRESS ! -i ov0 -o ov0 -m comment --comment "cnet:bridge:ov0" -j DROP')
    assert ingress.index('-A CNET-INGRESS -s 10.230.0.0/24 -i ul0 -o ov0 -m comment --comment "cnet:bridge:ov0" -j ACCEPT') \
        < drop


class Routes:
    def __init__(self, have):
        self.have = have

    def gateway_routes(self):
        return dict(self.have)


def step(description, action):
    return description


def test_routes_to_the_peers_blocks_and_only_the_overlays_stale_ones_go():
    old = empty_state()
    topology.declare(old, [], [], False, NoLinks(), Reads(), overlays=[dict(OV, mode='routed', icc=True)],
                     hosts=HOSTS, me='h1')
    new = empty_state()
    topology.declare(new, [], [], False, NoLinks(), Reads(),
                     overlays=[dict(OV, mode='routed', icc=True, members=['h1', 'h2'])], hosts=HOSTS, me='h1')
    have = {'10.230.1.0/24': '10.240.0.2', '10.230.2.0/24': '10.240.0.3', '192.0.2.0/24': '10.240.0.254'}
    assert overlay.route_steps(Routes(have), old, new, step) == ['delete route 10.230.2.0/24 via 10.240.0.3']
    assert overlay.route_steps(Routes({}), old, new, step) == ['route 10.230.1.0/24 via 10.240.0.2']


def test_icc_off_on_a_routed_overlay_lets_the_peers_blocks_in_through_the_link_pairs_only():
    web = {'name': 'web', 'host': 'h1', 'networks': [{'bridge': 'ov0', 'ip': '10.230.0.2'}], 'links': ['db']}
    state = empty_state()
    topology.declare(state, [], [{'name': 'db', 'networks': [{'bridge': 'ov0'}], 'exposed_ports': ['5432/tcp']}],
                     False, NoLinks(), Reads(), overlays=[dict(OV, mode='routed')], hosts=HOSTS, me='h2',
                     remote_decl=[web])
    v4 = rules.render(state).rendered()['filter']['chains']
    ingress = v4['CNET-INGRESS']
    gate = ingress.index('-A CNET-INGRESS -s 10.230.0.0/24 -i ul0 -o ov0 -m comment --comment "cnet:bridge:ov0" '
                         '-j CNET-LINKS')
    assert gate < ingress.index('-A CNET-INGRESS ! -i ov0 -o ov0 -m comment --comment "cnet:bridge:ov0" -j DROP')
    assert not [l for l in ingress if '10.230.0.0/24' in l and l.endswith('-j ACCEPT')]
    # the pair matches the way out of the bridge only: the request comes in from the underlay
    assert v4['CNET-LINKS'] == [
        '-A CNET-LINKS -s 10.230.0.2/32 -d 10.230.1.2/32 -o ov0 -p tcp -m tcp --dport 5432 -m comment --comment '
        '"cnet:link:web/db" -j ACCEPT',
        '-A CNET-LINKS -s 10.230.1.2/32 -d 10.230.0.2/32 -o ov0 -p tcp -m tcp --sport 5432 -m comment --comment '
        '"cnet:link:web/db" -j ACCEPT']


def test_a_host_whose_underlay_is_not_its_own_is_refused():
    with pytest.raises(ParamError, match="hosts: 'h1' underlay 10.240.0.1 is not an address of this host"):
        host_state('h1', reads=Reads(['192.0.2.1']))


def test_vxlan_overlays_share_a_port_only_with_the_same_members():
    with pytest.raises(ParamError, match=r"overlays\[1\].port 4789 is also the port of overlay 'ov0'"):
        overlay.plan([dict(OV), dict(OV, name='ov1', subnet='10.231.0.0/16', members=['h1', 'h2'])], HOSTS)
    assert sorted(overlay.plan([dict(OV), dict(OV, name='ov1', subnet='10.231.0.0/16')], HOSTS)) == ['ov0', 'ov1']


def test_a_static_address_stays_in_the_hosts_block():
    with pytest.raises(ParamError, match=r"networks\[0\].ip '10.230.1.9' is outside this host's block 10.230.0.0/24"):
        host_state('h1', containers=[{'name': 'web', 'networks': [{'bridge': 'ov0', 'ip': '10.230.1.9'}]}])


def test_remote_names_clash_only_on_the_overlays_and_never_twice():
    plain = dict(REMOTE_DB, name='web', networks=[{'bridge': 'br-elsewhere', 'ip': '10.9.0.2'}])
    state = host_state('h1', containers=[{'name': 'web', 'networks': [{'bridge': 'ov0'}]}], remote=[plain])
    assert state['remote'] == {}  # a container of its own host's bridge: not ours to know
    twice = dict(REMOTE_DB, host='h3', networks=[{'bridge': 'ov0', 'ip': '10.230.2.2'}])
    with pytest.raises(ParamError, match="remote_containers.1. 'db': name 'db' is also a container of host 'h2'"):
        host_state('h1', remote=[REMOTE_DB, twice])


def test_the_guard_drops_vxlan_to_this_hosts_underlay_only():
    rows = [r for r in policy.rows(host_state('h1'))[0] if r.chain == 'CNET-INPUT' and r.verdict == 'DROP']
    assert [dict(r.match).get('dst') for r in rows] == ['10.240.0.1', None]  # and the VNI, on any address


def test_removing_the_overlays_forgets_the_other_members():
    state = host_state('h1', containers=[{'name': 'web', 'networks': [{'bridge': 'ov0'}], 'links': ['db']}],
                       remote=[REMOTE_DB])
    topology.remove(state, [], [{'name': 'web'}], [dict(OV)])
    assert state['bridges'] == {} and state['remote'] == {} and state['links'] == {}


def test_a_limited_play_replaces_only_the_containers_of_the_hosts_it_speaks_for():
    cache = {'name': 'cache', 'host': 'h3', 'networks': [{'bridge': 'ov0', 'ip': '10.230.2.2'}], 'links': []}
    state = host_state('h1', containers=[{'name': 'web', 'networks': [{'bridge': 'ov0'}], 'links': ['db']}],
                       remote=[REMOTE_DB, cache])
    # h3 is not in this play: what h2 says replaces h2's, h3's stay
    topology.declare(state, [], [{'name': 'web', 'networks': [{'bridge': 'ov0'}], 'links': ['db']}], False, NoLinks(),
                     Reads(), overlays=[dict(OV)], hosts=HOSTS, me='h1', remote_decl=[REMOTE_DB], remote_hosts=['h1', 'h2'])
    assert sorted(state['remote']) == ['cache', 'db'] and sorted(state['links']) == ['web/db']
    topology.declare(state, [], [{'name': 'web', 'networks': [{'bridge': 'ov0'}]}], False, NoLinks(), Reads(),
                     overlays=[dict(OV)], hosts=HOSTS, me='h1', remote_decl=[])
    assert state['remote'] == {}


def test_a_links_alias_resolves_for_its_receiver_when_the_source_is_on_another_host():
    state = empty_state()
    topology.declare(state, [], [{'name': 'web', 'networks': [{'bridge': 'ov0'}], 'links': ['db:database']},
                                 {'name': 'other', 'networks': [{'bridge': 'ov0'}]}], False, NoLinks(), Reads(),
                     overlays=[dict(OV, dns=True)], hosts=HOSTS, me='h1', remote_decl=[REMOTE_DB])
    table = dns.names(state)
    assert table['links'] == {'web': {'database': ['10.230.1.2']}}
    assert table['networks']['ov0']['db'] == ['10.230.1.2']
    view = dns.view(state)  # the other host's container asks its own resolver, not this one
    assert sorted(a['container'] for a in view['askers'].values()) == ['other', 'web']
    assert dns.decide(view, '10.230.0.2', 'database', 1) == ('answer', 0, ['10.230.1.2'])


def test_an_overlay_declared_on_its_bridge_is_the_same_overlay():
    as_overlay = host_state('h2', containers=[{'name': 'db', 'networks': [{'bridge': 'ov0'}]}])
    on_bridge = empty_state()
    topology.declare(on_bridge, [{'name': 'ov0', 'subnet': '10.230.0.0/16', 'icc': False, 'mtu': 1500,
                                  'overlay': {'members': ['h1', 'h2', 'h3'], 'mode': 'vxlan'}}],
                     [{'name': 'db', 'networks': [{'bridge': 'ov0'}]}], False, NoLinks(), Reads(), hosts=HOSTS, me='h2')
    assert on_bridge['bridges'] == as_overlay['bridges']
    assert on_bridge['containers']['db']['networks'] == as_overlay['containers']['db']['networks']
    # a host it does not span takes nothing of it, and prune takes its former share away
    topology.declare(on_bridge, [{'name': 'ov0', 'subnet': '10.230.0.0/16', 'overlay': {'members': ['h1', 'h3']}}],
                     [], True, NoLinks(), Reads(), hosts=HOSTS, me='h2')
    assert 'ov0' not in on_bridge['bridges']


@pytest.mark.parametrize('bridge, words', [
    ({'gateway': '10.230.0.1'}, "bridges[0] 'ov0': gateway: a bridge with overlay set takes only subnet, icc, dns"),
    ({'mtu': 9000, 'internal': True}, "bridges[0] 'ov0': internal, mtu: a bridge with overlay set"),
    ({'overlay': {'members': ['h1', 'h9']}}, "bridges[0].overlay.members[1] 'h9' is not a host of the inventory"),
])
def test_an_overlay_on_a_bridge_names_the_bridges_field(bridge, words):
    decl = dict({'name': 'ov0', 'subnet': '10.230.0.0/16', 'overlay': {}}, **bridge)
    with pytest.raises(ParamError) as e:
        topology.declare(empty_state(), [decl], [], False, NoLinks(), Reads(), hosts=HOSTS, me='h1')
    assert words in str(e.value)


def test_an_overlay_declared_both_ways_is_declared_twice():
    with pytest.raises(ParamError, match=r"bridges\[0\].overlay.name 'ov0' is declared twice"):
        topology.declare(empty_state(), [{'name': 'ov0', 'subnet': '10.231.0.0/16', 'overlay': {}}], [], False,
                         NoLinks(), Reads(), overlays=[dict(OV)], hosts=HOSTS, me='h1')

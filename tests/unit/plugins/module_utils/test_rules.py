"""Rules rendered from the registry: bridge policy and link pairs only where icc is off."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state


def state(icc=True, internal=False, masquerade=True):
    s = empty_state()
    s['bridges']['br0'] = {'subnet': '10.1.0.0/24', 'gateway': '10.1.0.1', 'icc': icc, 'internal': internal,
                           'ip_masquerade': masquerade}
    s['containers']['db'] = {'hostname': 'db', 'networks': [{'bridge': 'br0', 'ip': '10.1.0.2'}],
                             'exposed_ports': [{'port': 5432, 'proto': 'tcp'}]}
    s['containers']['web'] = {'hostname': 'web', 'networks': [{'bridge': 'br0', 'ip': '10.1.0.3'}],
                              'exposed_ports': []}
    s['links']['web/db'] = {'receiver': 'web', 'source': 'db', 'alias': 'db'}
    return s


def lines(s, table, chain):
    return rules.render(s).rendered().get(table, {'chains': {}})['chains'].get(chain, [])


def test_forward_jumps_through_the_stages_in_order():
    assert lines(state(), 'filter', 'CNET-FORWARD') == [
        '-A CNET-FORWARD -m comment --comment "cnet:stage:%s" -j CNET-%s' % (stage, stage.upper())
        for stage in ('ingress', 'icc', 'egress')]  # no internal bridge: no jump to an empty isolation stage
    s = state()
    s['bridges']['br1'] = dict(s['bridges']['br0'], subnet='10.2.0.0/24', internal=True)
    assert [line.split()[-1] for line in lines(s, 'filter', 'CNET-FORWARD')] == [
        'CNET-ISOLATION', 'CNET-INGRESS', 'CNET-ICC', 'CNET-EGRESS']


def test_icc_on_accepts_bridge_traffic_and_adds_no_link_rules():
    assert lines(state(), 'filter', 'CNET-ICC') == [
        '-A CNET-ICC -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j ACCEPT']
    assert lines(state(), 'filter', 'CNET-LINKS') == []


def test_ingress_takes_replies_and_published_ports_and_drops_the_rest():
    assert lines(state(), 'filter', 'CNET-INGRESS') == [
        '-A CNET-INGRESS -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "cnet:bridge:br0" '
        '-j ACCEPT',
        '-A CNET-INGRESS -o br0 -m conntrack --ctstate DNAT -m comment --comment "cnet:bridge:br0" -j CNET-PORTS',
        '-A CNET-INGRESS ! -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j DROP']
    assert lines(state(), 'filter', 'CNET-EGRESS') == [
        '-A CNET-EGRESS -i br0 ! -o br0 -m comment --comment "cnet:bridge:br0" -j ACCEPT']


def test_raw_guard_drops_routed_container_traffic_unless_the_bridge_is_routed():
    assert lines(state(), 'raw', 'CNET-RAW') == [
        '-A CNET-RAW -d 10.1.0.0/24 ! -i br0 -m addrtype ! --dst-type LOCAL -m comment --comment "cnet:bridge:br0" '
        '-j DROP']
    assert lines(state(masquerade=False), 'raw', 'CNET-RAW') == []


def test_icc_off_drops_after_the_link_chain():
    assert lines(state(icc=False), 'filter', 'CNET-ICC') == [
        '-A CNET-ICC -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j CNET-LINKS',
        '-A CNET-ICC -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j DROP']
    assert lines(state(icc=False), 'filter', 'CNET-LINKS') == [
        '-A CNET-LINKS -s 10.1.0.3/32 -d 10.1.0.2/32 -i br0 -o br0 -p tcp -m tcp --dport 5432 '
        '-m comment --comment "cnet:link:web/db" -j ACCEPT',
        '-A CNET-LINKS -s 10.1.0.2/32 -d 10.1.0.3/32 -i br0 -o br0 -p tcp -m tcp --sport 5432 '
        '-m comment --comment "cnet:link:web/db" -j ACCEPT',
    ]


@pytest.mark.parametrize('host, container, to', [
    ((8080, 8080), (80, 80), '10.1.0.2:80'),
    ((7000, 7002), (7000, 7002), '10.1.0.2:7000-7002'),
    ((40004, 40006), (7000, 7002), '10.1.0.2:7000-7002/40004'),
])
def test_published_ranges_map_port_by_port(host, container, to):
    s = state()
    s['ports']['db'] = {'allowed_sources': [], 'mappings': [
        {'host_ip': '0.0.0.0', 'host_port': host[0], 'host_end': host[1], 'port': container[0], 'end': container[1],
         'proto': 'tcp', 'random': False}]}
    dnat = lines(s, 'nat', 'CNET-DNAT')
    hport = '%d' % host[0] if host[0] == host[1] else '%d:%d' % host
    assert dnat == ['-A CNET-DNAT -p tcp -m tcp --dport %s -m comment --comment "cnet:port:db" '
                    '-j DNAT --to-destination %s' % (hport, to)]
    cport = '%d' % container[0] if container[0] == container[1] else '%d:%d' % container
    assert lines(s, 'filter', 'CNET-PORTS') == [
        '-A CNET-PORTS -d 10.1.0.2/32 -o br0 -p tcp -m tcp --dport %s -m comment --comment "cnet:port:db" -j ACCEPT'
        % cport]
    assert lines(s, 'raw', 'CNET-RAW')[-1] == (
        '-A CNET-RAW -d 127.0.0.0/8 ! -i lo -m comment --comment "cnet:ports:loopback" -j DROP')


def test_internal_bridge_drops_both_directions_and_does_not_masquerade():
    assert lines(state(internal=True), 'filter', 'CNET-ISOLATION') == [
        '-A CNET-ISOLATION -i br0 ! -o br0 -m comment --comment "cnet:bridge:br0" -j DROP',
        '-A CNET-ISOLATION ! -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j DROP']
    assert lines(state(internal=True), 'filter', 'CNET-EGRESS') == []
    assert lines(state(internal=True), 'nat', 'CNET-POSTROUTING') == []


def test_link_rules_follow_the_sources_current_address():
    s = state(icc=False)
    s['containers']['db']['networks'][0]['ip'] = '10.1.0.99'
    assert all('10.1.0.99' in r for r in lines(s, 'filter', 'CNET-LINKS'))


def test_masquerade_for_the_subnet_leaving_elsewhere():
    assert lines(state(), 'nat', 'CNET-POSTROUTING') == [
        '-A CNET-POSTROUTING -s 10.1.0.0/24 ! -o br0 -m comment --comment "cnet:bridge:br0" -j MASQUERADE']
    assert lines(state(masquerade=False), 'nat', 'CNET-POSTROUTING') == []


def test_the_nftables_backends_pass_in_iptables_accepts_each_bridges_traffic_both_ways():
    assert rules.render_pass(state()).rendered() == {'filter': {
        'chains': {'CNET-FORWARD': ['-A CNET-FORWARD -i br0 -m comment --comment "cnet:nft-pass:br0" -j ACCEPT',
                                    '-A CNET-FORWARD -o br0 -m comment --comment "cnet:nft-pass:br0" -j ACCEPT']},
        'jumps': ['-A FORWARD -m comment --comment "cnet:jump" -j CNET-FORWARD']}}
    assert rules.render_pass(empty_state()).rendered() == {}


def test_no_bridges_renders_nothing():
    assert rules.render(empty_state()).rendered() == {}


def many_links_state(ports):
    """web linked to db over icc=false, db exposing `ports` consecutive TCP ports from 7000."""
    s = state(icc=False)
    s['containers']['db']['exposed_ports'] = [{'port': 7000, 'end': 7000 + ports - 1, 'proto': 'tcp'}]
    return s


def test_links_up_to_the_budget_stay_dockers_rule_pairs():
    s = many_links_state(rules.LINK_SET_ABOVE)
    assert len(lines(s, 'filter', 'CNET-LINKS')) == 2 * rules.LINK_SET_ABOVE
    assert rules.render(s).sets == {}


def test_links_beyond_the_budget_become_one_set_and_two_rules():
    s = many_links_state(rules.LINK_SET_ABOVE + 1)
    assert lines(s, 'filter', 'CNET-LINKS') == [
        '-A CNET-LINKS -i br0 -o br0 -m set --match-set CNET-L-br0 dst,dst,src -m comment --comment "cnet:links:br0" '
        '-j ACCEPT',
        '-A CNET-LINKS -i br0 -o br0 -m set --match-set CNET-L-br0 src,src,dst -m comment --comment "cnet:links:br0" '
        '-j ACCEPT',
    ]
    members = rules.render(s).sets['CNET-L-br0']
    assert len(members) == rules.LINK_SET_ABOVE + 1
    assert '10.1.0.2,tcp:7000,10.1.0.3' in members  # source, port, receiver


def test_set_members_follow_the_sources_current_address():
    s = many_links_state(40)
    s['containers']['db']['networks'][0]['ip'] = '10.1.0.99'
    assert all(m.startswith('10.1.0.99,') for m in rules.render(s).sets['CNET-L-br0'])


def second_bridge(s, ports):
    s['bridges']['br1'] = dict(s['bridges']['br0'], subnet='10.2.0.0/24', gateway='10.2.0.1')
    s['containers']['a'] = {'hostname': 'a', 'networks': [{'bridge': 'br1', 'ip': '10.2.0.2'}],
                            'exposed_ports': [{'port': 80, 'end': 80 + ports - 1, 'proto': 'tcp'}]}
    s['containers']['b'] = {'hostname': 'b', 'networks': [{'bridge': 'br1', 'ip': '10.2.0.3'}], 'exposed_ports': []}
    s['links']['b/a'] = {'receiver': 'b', 'source': 'a', 'alias': 'a'}
    return s


def test_the_budget_counts_the_whole_chain_not_one_bridge():
    # 20 + 20 pairs: no bridge is over 32 alone, but the one chain all bridges walk would be
    s = second_bridge(many_links_state(20), 20)
    assert sorted(rules.render(s).sets) == ['CNET-L-br0', 'CNET-L-br1']
    assert len(lines(s, 'filter', 'CNET-LINKS')) == 4
    # 20 + 10 pairs stay Docker's rule pairs on both bridges
    s = second_bridge(many_links_state(20), 10)
    assert rules.render(s).sets == {} and len(lines(s, 'filter', 'CNET-LINKS')) == 60

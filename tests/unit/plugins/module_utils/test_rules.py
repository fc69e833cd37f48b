"""Rules rendered from the registry: bridge policy and link pairs only where icc is off."""

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


def test_icc_on_accepts_bridge_traffic_and_adds_no_link_rules():
    fwd = lines(state(), 'filter', 'CNET-FORWARD')
    assert '-A CNET-FORWARD -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j ACCEPT' in fwd
    assert lines(state(), 'filter', 'CNET-LINKS') == []


def test_icc_off_drops_after_the_link_chain():
    fwd = lines(state(icc=False), 'filter', 'CNET-FORWARD')
    jump = fwd.index('-A CNET-FORWARD -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j CNET-LINKS')
    drop = fwd.index('-A CNET-FORWARD -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j DROP')
    assert jump < drop
    assert lines(state(icc=False), 'filter', 'CNET-LINKS') == [
        '-A CNET-LINKS -s 10.1.0.3/32 -d 10.1.0.2/32 -i br0 -o br0 -p tcp -m tcp --dport 5432 '
        '-m comment --comment "cnet:link:web/db" -j ACCEPT',
        '-A CNET-LINKS -s 10.1.0.2/32 -d 10.1.0.3/32 -i br0 -o br0 -p tcp -m tcp --sport 5432 '
        '-m comment --comment "cnet:link:web/db" -j ACCEPT',
    ]


def test_link_rules_follow_the_sources_current_address():
    s = state(icc=False)
    s['containers']['db']['networks'][0]['ip'] = '10.1.0.99'
    assert all('10.1.0.99' in r for r in lines(s, 'filter', 'CNET-LINKS'))


def test_internal_bridge_drops_both_directions_and_does_not_masquerade():
    fwd = lines(state(internal=True), 'filter', 'CNET-FORWARD')
    assert '-A CNET-FORWARD -i br0 ! -o br0 -m comment --comment "cnet:bridge:br0" -j DROP' in fwd
    assert '-A CNET-FORWARD ! -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j DROP' in fwd
    assert lines(state(internal=True), 'nat', 'CNET-POSTROUTING') == []


def test_masquerade_for_the_subnet_leaving_elsewhere():
    assert lines(state(), 'nat', 'CNET-POSTROUTING') == [
        '-A CNET-POSTROUTING -s 10.1.0.0/24 ! -o br0 -m comment --comment "cnet:bridge:br0" -j MASQUERADE']
    assert lines(state(masquerade=False), 'nat', 'CNET-POSTROUTING') == []


def test_no_bridges_renders_nothing():
    assert rules.render(empty_state()).rendered() == {}

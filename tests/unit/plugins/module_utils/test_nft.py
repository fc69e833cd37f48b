"""The nftables spelling of the policy's rows, the owned table's transaction and its digest."""

import json

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _nft as nft
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state

from test_rules import state


def chain(text, name):
    """The rules of one chain of a rendered table."""
    body = text.split('\tchain %s {\n' % name, 1)[1].split('\n\t}', 1)[0]
    return [line.strip() for line in body.splitlines() if not line.strip().startswith('type ')]


def published(host, container, proto='tcp', host_ip='0.0.0.0', sources=()):
    s = state()
    s['ports']['db'] = {'allowed_sources': list(sources), 'mappings': [
        {'host_ip': host_ip, 'host_port': host[0], 'host_end': host[1], 'port': container[0], 'end': container[1],
         'proto': proto, 'random': False}]}
    return s


def test_the_stages_keep_the_iptables_order_and_meaning():
    text = nft.render(state(icc=False))
    assert chain(text, 'forward') == ['jump ingress', 'jump icc', 'jump egress']
    assert chain(text, 'ingress') == [
        'oifname "br0" ct state established,related accept',
        'oifname "br0" ct status dnat jump published',
        'iifname != "br0" oifname "br0" drop']
    assert chain(text, 'icc') == ['iifname "br0" oifname "br0" jump links', 'iifname "br0" oifname "br0" drop']
    assert chain(text, 'egress') == ['iifname "br0" oifname != "br0" accept']
    assert chain(text, 'raw_prerouting') == ['ip daddr 10.1.0.0/24 iifname != "br0" fib daddr type != local drop']
    assert chain(text, 'nat_postrouting') == ['ip saddr 10.1.0.0/24 oifname != "br0" masquerade']
    assert 'type filter hook forward priority filter; policy accept;' in text
    assert 'type filter hook prerouting priority raw; policy accept;' in text


def test_links_are_set_elements_matched_by_two_rules_whatever_their_number():
    text = nft.render(state(icc=False))
    assert chain(text, 'links') == [
        'oifname . ip saddr . ip daddr . meta l4proto . th dport @links accept',
        'oifname . ip daddr . ip saddr . meta l4proto . th sport @links accept']
    assert nft.link_elements(state(icc=False)) == ['"br0" . 10.1.0.3 . 10.1.0.2 . tcp . 5432']
    assert nft.link_elements(state(icc=True)) == []  # icc on: the bridge accepts everything anyway
    many = state(icc=False)
    for i in range(200):
        many['containers']['w%d' % i] = {'hostname': 'w', 'networks': [{'bridge': 'br0', 'ip': '10.1.1.%d' % i}],
                                         'exposed_ports': []}
        many['links']['w%d/db' % i] = {'receiver': 'w%d' % i, 'source': 'db', 'alias': 'db'}
    assert len(nft.link_elements(many)) == 201 and chain(nft.render(many), 'links') == chain(text, 'links')


def lookup(text, name):
    """The elements of one map or set of a rendered table."""
    body = text.split(' %s {\n' % name, 1)[1].split('\n\t}', 1)[0]
    return [e.strip() for e in body.split('elements = { ', 1)[1].rstrip(' }').split(',')]


@pytest.mark.parametrize('host, container, to', [
    ((8080, 8080), (80, 80), ['tcp . 8080 : 10.1.0.2 . 80']),
    ((7000, 7002), (7000, 7002), ['tcp . 7000 : 10.1.0.2 . 7000', 'tcp . 7001 : 10.1.0.2 . 7001',
                                  'tcp . 7002 : 10.1.0.2 . 7002']),
    ((40004, 40006), (7000, 7002), ['tcp . 40004 : 10.1.0.2 . 7000', 'tcp . 40005 : 10.1.0.2 . 7001',
                                    'tcp . 40006 : 10.1.0.2 . 7002']),
])
def test_published_ranges_map_port_by_port(host, container, to):
    """Published ports are elements of one map, whatever their number (one lookup per packet)."""
    text = nft.render(published(host, container))
    assert chain(text, 'published_dnat') == ['meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports4']
    assert lookup(text, 'ports4') == to
    assert lookup(text, 'published4') == ['"br0" . 10.1.0.2 . tcp . %d' % p for p in range(container[0], container[1] + 1)]
    assert lookup(text, 'hairpin4') == ['10.1.0.2 . 10.1.0.2 . tcp . %d' % p for p in range(container[0], container[1] + 1)]
    assert chain(text, 'published') == ['oifname . ip daddr . meta l4proto . th dport @published4 accept']
    assert chain(text, 'nat_prerouting') == ['fib daddr type local jump published_dnat']
    assert chain(text, 'nat_output') == ['fib daddr type local jump published_dnat']
    assert 'ip daddr 127.0.0.0/8 iifname != "lo" drop' in chain(text, 'raw_prerouting')


def test_a_host_address_is_part_of_the_key():
    text = nft.render(published((53, 53), (53, 53), 'udp', '127.0.0.1'))
    assert chain(text, 'published_dnat') == [
        'meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @ports_addr4']
    assert lookup(text, 'ports_addr4') == ['127.0.0.1 . udp . 53 : 10.1.0.2 . 53']


def test_a_host_address_and_allowed_sources_narrow_the_dnat():
    text = nft.render(published((53, 53), (53, 53), 'udp', '127.0.0.1', ['192.0.2.0/24']))
    assert chain(text, 'published_dnat') == ['ip saddr 192.0.2.0/24 ip daddr 127.0.0.1 udp dport 53 dnat ip to 10.1.0.2:53']
    assert chain(text, 'published') == ['ip saddr 192.0.2.0/24 ip daddr 10.1.0.2 oifname "br0" udp dport 53 accept']


def test_no_bridges_render_no_table_and_the_transaction_deletes_what_is_there():
    assert nft.render(empty_state()) == ''
    assert nft.payload('', exists=True) == 'table inet container_net\ndelete table inet container_net\n'
    assert nft.payload('', exists=False) == ''
    text = nft.render(state())
    # declare first: the delete of a missing table would fail the whole transaction
    assert nft.payload(text, exists=False).startswith('table inet container_net\ndelete table inet container_net\n'
                                                      'table inet container_net {\n')


def test_udp_mappings_that_change_are_flushed_and_tcp_ones_are_not():
    before = published((5000, 5001), (53, 54), 'udp')
    after = published((5000, 5001), (63, 64), 'udp')
    assert nft.udp_dnat_ports(before, after) == [5000, 5001]
    assert nft.udp_dnat_ports(before, before) == []
    assert nft.udp_dnat_ports(published((80, 80), (80, 80)), published((80, 80), (81, 81))) == []


def listing(elems, handle=3):
    return json.dumps({'nftables': [
        {'metainfo': {'version': '1.0.6'}},
        {'table': {'family': 'inet', 'name': 'container_net', 'handle': handle}},
        {'set': {'family': 'inet', 'name': 'links', 'table': 'container_net', 'handle': handle + 1, 'elem': elems}}]})


def test_the_listing_digest_ignores_handles_metadata_and_element_order_only():
    a = nft.listing_digest(listing([{'concat': ['br0', '10.0.0.2']}, {'concat': ['br0', '10.0.0.3']}]))
    b = nft.listing_digest(listing([{'concat': ['br0', '10.0.0.3']}, {'concat': ['br0', '10.0.0.2']}], handle=9))
    c = nft.listing_digest(listing([{'concat': ['br0', '10.0.0.3']}]))
    assert a == b != c
    assert nft.listing_digest('not json') is None

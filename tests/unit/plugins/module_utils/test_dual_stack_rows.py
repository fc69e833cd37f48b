"""Dual stack, pure logic: IPv6 addressing, the rows of each family, both spellings, ports, names,
and the hosts lines value for value against the Docker 20.10 --ipv6 oracle."""

import struct

import pytest

import oracle
from ansible_collections.seed.container_net.plugins.module_utils import _bridges as bridges
from ansible_collections.seed.container_net.plugins.module_utils import _container_files as files
from ansible_collections.seed.container_net.plugins.module_utils import _containers as containers
from ansible_collections.seed.container_net.plugins.module_utils import _dns as dns
from ansible_collections.seed.container_net.plugins.module_utils import _ipam as ipam
from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _nft as nft
from ansible_collections.seed.container_net.plugins.module_utils import _policy as policy
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state

from test_links import LABDB_ENV


def bridge_params(**kw):
    return dict(dict((k, None) for k in bridges.argument_spec()), **kw)


def add_bridge(state, name, **kw):
    state['bridges'][name] = bridges.record(name, bridge_params(**kw), state, None, seed='host-1')
    return state['bridges'][name]


def add_container(state, name, *nets, **kw):
    params = dict(name=name, networks=[dict(n) for n in nets], **kw)
    state['containers'][name] = containers.record(params, state)
    return state['containers'][name]


def lab(icc=False):
    """br0 dual stack (icc as asked), db exposing 5432, web linked to it, db publishing 8080:5432."""
    s = empty_state()
    add_bridge(s, 'br0', subnet='10.1.0.0/24', subnet_v6='fd00:1::/64', icc=icc)
    add_container(s, 'db', {'bridge': 'br0'}, exposed_ports=['5432/tcp'], hostname='db')
    add_container(s, 'web', {'bridge': 'br0'}, hostname='web')
    s['links']['web/db'] = {'receiver': 'web', 'source': 'db', 'alias': 'db'}
    return s


# ---- addressing ---------------------------------------------------------------------------------

def test_a_dual_stack_bridge_takes_the_first_address_as_gateway_and_leases_the_lowest_free():
    s = lab()
    assert {k: s['bridges']['br0'][k] for k in bridges.V6_KEYS} == {
        'subnet_v6': 'fd00:1::/64', 'gateway_v6': 'fd00:1::1', 'prefixlen_v6': 64, 'ip_range_v6': None,
        'host_binding_ipv6': '::'}
    assert [n['ip6'] for c in ('db', 'web') for n in s['containers'][c]['networks']] == ['fd00:1::2', 'fd00:1::3']
    # kept across runs, whatever else was taken meanwhile
    again = containers.record(dict(name='web', networks=[{'bridge': 'br0'}], hostname='web'), s)
    assert again['networks'][0]['ip6'] == 'fd00:1::3'


def test_an_ipv4_only_bridge_and_its_containers_have_no_ipv6_keys():
    s = empty_state()
    rec = add_bridge(s, 'br0', subnet='10.1.0.0/24')
    assert not set(bridges.V6_KEYS) & set(rec)
    assert 'ip6' not in add_container(s, 'a', {'bridge': 'br0'})['networks'][0]
    assert rules.render(s, 6).rendered() == {} and 'links6' not in nft.render(s)
    with pytest.raises(ParamError, match=r"networks\[0\]\.ip6: bridge 'br0' has no IPv6"):
        add_container(s, 'b', {'bridge': 'br0', 'ip6': 'fd00::5'})


def test_enable_ipv6_without_a_subnet_takes_a_stable_ula_64_per_host_and_bridge():
    one, two = empty_state(), empty_state()
    a = add_bridge(one, 'br0', subnet='10.1.0.0/24', enable_ipv6=True)['subnet_v6']
    assert a == add_bridge(two, 'br0', subnet='10.1.0.0/24', enable_ipv6=True)['subnet_v6']
    assert a.startswith('fd') and a.endswith('::/64')
    assert add_bridge(two, 'br1', subnet='10.2.0.0/24', enable_ipv6=True)['subnet_v6'] != a
    other_host = bridges.record('br0', bridge_params(subnet='10.1.0.0/24', enable_ipv6=True), empty_state(), None,
                                seed='host-2')
    assert other_host['subnet_v6'] != a
    # once chosen it is kept, whatever the seed says later
    kept = bridges.record('br0', bridge_params(subnet='10.1.0.0/24', enable_ipv6=True), one, None, seed='host-9')
    assert kept['subnet_v6'] == a


@pytest.mark.parametrize('kw, words', [
    (dict(subnet_v6='fd00:1::/64', enable_ipv6=False), "subnet_v6: bridge 'br0' has enable_ipv6: false"),
    (dict(subnet_v6='fd00:1::1/64'), "subnet_v6 'fd00:1::1/64' has host bits set"),
    (dict(subnet_v6='fd00:1::/121'), 'too small'),
    (dict(subnet_v6='fe80::/64'), 'not a unicast network'),
    (dict(subnet_v6='10.9.0.0/24'), "subnet_v6 '10.9.0.0/24' is not a valid IPv6 CIDR"),
    (dict(subnet_v6='fd00:1::/64', gateway_v6='fd00:2::1'), "gateway_v6 'fd00:2::1' is not a host address"),
    (dict(subnet_v6='fd00:1::/64', gateway_v6='[fd00:1::1]'), 'without brackets'),
    (dict(subnet_v6='fd00:1::/64', ip_range_v6='fd00:2::/80'), "ip_range_v6 'fd00:2::/80' is not inside"),
    (dict(subnet_v6='fd00:1::/64', host_binding_ipv6='0.0.0.0'), "host_binding_ipv6 '0.0.0.0' is not a valid IPv6"),
    (dict(subnet_v6='fd00:9::/48'), "subnet_v6 'fd00:9::/48' overlaps subnet_v6 fd00:9::/64 of bridge 'other'"),
])
def test_bad_ipv6_options_name_the_field(kw, words):
    s = empty_state()
    add_bridge(s, 'other', subnet='10.9.0.0/24', subnet_v6='fd00:9::/64')
    with pytest.raises(ParamError) as e:
        add_bridge(s, 'br0', subnet='10.1.0.0/24', **kw)
    assert words in str(e.value)


def test_ipv6_addressing_of_a_bridge_with_containers_is_not_changed_under_them():
    s = lab()
    with pytest.raises(ParamError, match=r"subnet_v6: bridge 'br0' has containers attached \(db, web\)"):
        add_bridge(s, 'br0', subnet='10.1.0.0/24')
    with pytest.raises(ParamError, match='subnet_v6: bridge'):
        add_bridge(s, 'br0', subnet='10.1.0.0/24', subnet_v6='fd00:2::/64')


def test_static_ipv6_addresses_are_checked_like_ipv4_ones():
    s = lab()
    cases = (('fd00:1::1', 'is the gateway_v6'), ('fd00:1::2', "already taken on bridge 'br0' by container 'db'"),
             ('fd00:2::5', 'is not a host address'), ('10.1.0.9', 'not a valid IPv6 address'))
    for ip6, words in cases:
        with pytest.raises(ParamError) as e:
            add_container(s, 'x', {'bridge': 'br0', 'ip6': ip6})
        assert str(e.value).startswith("networks[0].ip6 '%s' " % ip6) and words in str(e.value)
    assert add_container(s, 'x', {'bridge': 'br0', 'ip6': 'FD00:1::ABC'})['networks'][0]['ip6'] == 'fd00:1::abc'


def test_a_range_is_allocated_lazily_and_exhausts_with_a_named_error():
    s = empty_state()
    add_bridge(s, 'br0', subnet='10.1.0.0/24', subnet_v6='fd00:1::/64', ip_range_v6='fd00:1::ff00/127')
    assert add_container(s, 'a', {'bridge': 'br0'})['networks'][0]['ip6'] == 'fd00:1::ff00'
    assert add_container(s, 'b', {'bridge': 'br0'})['networks'][0]['ip6'] == 'fd00:1::ff01'
    with pytest.raises(ParamError, match="no free IPv6 address left on bridge 'br0'"):
        add_container(s, 'c', {'bridge': 'br0'})


def test_addresses_of_different_families_never_overlap():
    assert not ipam.overlaps('10.0.0.0/8', '::a00:0/104')
    assert ipam.overlaps('fd00::/8', 'fd00:1::/64')


# ---- rows per family ----------------------------------------------------------------------------

def test_rows_that_name_an_address_hold_for_its_family_and_the_others_for_both():
    s = lab(icc=False)
    rows, dummy = policy.rows(s)
    fams = dict((r, policy.family(r)) for r in rows)
    assert set(fams.values()) == {None, 4, 6}
    raw6 = [r for r in rows if r.chain == 'CNET-RAW' and policy.family(r) == 6]
    assert [dict(r.match)['dst'] for r in raw6] == ['fd00:1::/64']
    nat6 = [r for r in rows if r.chain == 'CNET-POSTROUTING' and policy.family(r) == 6]
    assert [dict(r.match)['src'] for r in nat6] == ['fd00:1::/64']


def test_ip6tables_gets_the_stages_the_ipv6_guards_and_links_and_iptables_none_of_them():
    s = lab(icc=False)
    v4 = rules.render(s).rendered()
    v6 = rules.render(s, 6).rendered()
    flat4 = '\n'.join(l for t in v4.values() for c in t['chains'].values() for l in c)
    flat6 = '\n'.join(l for t in v6.values() for c in t['chains'].values() for l in c)
    assert 'fd00' not in flat4 and '10.1.0.' not in flat6
    assert v6['filter']['chains']['CNET-ICC'] == [
        '-A CNET-ICC -i br0 -o br0 -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m comment --comment "cnet:bridge:br0" '
        '-j ACCEPT',
        '-A CNET-ICC -i br0 -o br0 -p ipv6-icmp -m icmp6 --icmpv6-type 136 -m comment --comment "cnet:bridge:br0" '
        '-j ACCEPT',
        '-A CNET-ICC -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j CNET-LINKS',
        '-A CNET-ICC -i br0 -o br0 -m comment --comment "cnet:bridge:br0" -j DROP']
    # Docker's pair, spelled for the IPv6 addresses (Docker 20.10 writes none: its IPv6 link is dropped)
    assert v6['filter']['chains']['CNET-LINKS'] == [
        '-A CNET-LINKS -s fd00:1::3/128 -d fd00:1::2/128 -i br0 -o br0 -p tcp -m tcp --dport 5432 '
        '-m comment --comment "cnet:link:web/db" -j ACCEPT',
        '-A CNET-LINKS -s fd00:1::2/128 -d fd00:1::3/128 -i br0 -o br0 -p tcp -m tcp --sport 5432 '
        '-m comment --comment "cnet:link:web/db" -j ACCEPT']
    assert v6['raw']['chains']['CNET-RAW'] == [
        '-A CNET-RAW -d fd00:1::/64 ! -i br0 -m addrtype ! --dst-type LOCAL -m comment --comment "cnet:bridge:br0" '
        '-j DROP']
    assert 'CNET-ICC' in v4['filter']['chains'] and 'icmp6' not in flat4


def published_state(mappings, sources=()):
    s = lab(icc=True)
    s['ports']['db'] = {'allowed_sources': list(sources), 'mappings': [
        dict({'proto': 'tcp', 'random': False, 'end': m['port'], 'host_end': m['host_port']}, **m) for m in mappings]}
    return s


def test_an_ipv6_mapping_is_dnated_to_the_container_ipv6_address_in_its_family_only():
    s = published_state([{'host_ip': '0.0.0.0', 'host_port': 8080, 'port': 5432},
                         {'host_ip': '::', 'host_port': 8080, 'port': 5432}])
    dnat4 = rules.render(s).rendered()['nat']['chains']['CNET-DNAT']
    dnat6 = rules.render(s, 6).rendered()['nat']['chains']['CNET-DNAT']
    assert dnat4 == ['-A CNET-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "cnet:port:db" '
                     '-j DNAT --to-destination 10.1.0.2:5432']
    assert dnat6 == ['-A CNET-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "cnet:port:db" '
                     '-j DNAT --to-destination [fd00:1::2]:5432']
    text = nft.render(s)
    dnat = [l.strip() for l in text.split('chain published_dnat {')[1].split('}')[0].splitlines() if l.strip()]
    assert dnat == ['meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports4',
                    'meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @ports6']
    assert 'type inet_proto . inet_service : ipv6_addr . inet_service' in text
    assert 'elements = { tcp . 8080 : fd00:1::2 . 5432 }' in text
    assert 'elements = { fd00:1::2 . fd00:1::2 . tcp . 5432 }' in text  # hairpin
    # with allowed sources a mapping stays a rule, spelled for its family
    s['ports']['db']['allowed_sources'] = ['2001:db8::/32']
    assert 'ip6 saddr 2001:db8::/32 tcp dport 8080 dnat ip6 to [fd00:1::2]:5432' in nft.render(s)


def test_allowed_sources_of_one_family_admit_nobody_over_the_other():
    s = published_state([{'host_ip': '::', 'host_port': 8080, 'port': 5432},
                         {'host_ip': '0.0.0.0', 'host_port': 8080, 'port': 5432}], sources=['192.0.2.0/24'])
    assert 'CNET-DNAT' not in rules.render(s, 6).rendered()['nat']['chains'] or \
        not rules.render(s, 6).rendered()['nat']['chains']['CNET-DNAT']
    assert rules.render(s).rendered()['nat']['chains']['CNET-DNAT'][0].startswith('-A CNET-DNAT -s 192.0.2.0/24 ')
    s = published_state([{'host_ip': '::', 'host_port': 8080, 'port': 5432}], sources=['2001:db8::/32'])
    assert rules.render(s, 6).rendered()['nat']['chains']['CNET-DNAT'][0].startswith('-A CNET-DNAT -s 2001:db8::/32 ')


def test_nft_links_of_each_family_are_one_set_each():
    s = lab(icc=False)
    text = nft.render(s)
    assert nft.link_elements(s) == ['"br0" . 10.1.0.3 . 10.1.0.2 . tcp . 5432']
    assert nft.link_elements(s, 6) == ['"br0" . fd00:1::3 . fd00:1::2 . tcp . 5432']
    assert 'type ifname . ipv6_addr . ipv6_addr . inet_proto . inet_service' in text
    assert 'oifname . ip6 saddr . ip6 daddr . meta l4proto . th dport @links6 accept' in text
    assert 'meta nfproto ipv6 iifname "br0" oifname "br0" meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit ' \
           'accept' in text


def test_many_links_become_an_ipset_per_bridge_and_family():
    s = lab(icc=False)
    for i in range(20):
        add_container(s, 'w%d' % i, {'bridge': 'br0'})
        s['links']['w%d/db' % i] = {'receiver': 'w%d' % i, 'source': 'db', 'alias': 'db'}
    v4, v6 = rules.render(s), rules.render(s, 6)
    assert sorted(v4.sets) == ['CNET-L-br0'] and sorted(v6.sets) == ['CNET-L6-br0']
    assert 'fd00:1::2,tcp:5432,fd00:1::3' in v6.sets['CNET-L6-br0']
    assert '--match-set CNET-L6-br0' in '\n'.join(v6.rendered()['filter']['chains']['CNET-LINKS'])


# ---- ports --------------------------------------------------------------------------------------

class Reads:
    def get(self, key, *args):
        return {'addresses': {'192.0.2.1', '2001:db8::1'}, 'range': (32768, 32800, set()),
                'listeners': {}}[key]


def test_ipv6_publish_forms_parse():
    assert ports.parse_publish('[::]:8080:80', 'p')['host_ip'] == '::'
    assert ports.parse_publish('[2001:db8::1]::80/udp', 'p') == {
        'host_ip': '2001:db8::1', 'port': 80, 'end': 80, 'proto': 'udp', 'host_port': None, 'host_end': None}
    assert ports.parse_publish({'host_ip': '::', 'container_port': 80}, 'p')['host_ip'] == '::'


def test_a_mapping_without_an_address_is_published_on_both_families_on_one_port():
    specs = [(ports.parse_publish('80', 'ports[0]'), 'ports[0]'), (ports.parse_publish('9000:90', 'ports[1]'), 'ports[1]')]
    done = ports.assign(specs, '0.0.0.0', [], [], Reads(), default_ip6='::')
    assert [ports.describe(m) for m in done] == ['80/tcp -> 0.0.0.0:32768', '80/tcp -> [::]:32768',
                                                 '90/tcp -> 0.0.0.0:9000', '90/tcp -> [::]:9000']
    assert [m['random'] for m in done] == [True, True, False, False]
    # kept on the next run, both halves
    assert ports.assign(specs, '0.0.0.0', done, [], Reads(), default_ip6='::') == done


@pytest.mark.parametrize('entry, has6, words', [
    ('[::1]:8080:80', True, "host_ip '::1': the kernel does not route the IPv6 loopback"),
    ('[::ffff:10.0.0.1]:8080:80', True, 'IPv4-mapped'),
    ('[::]:8080:80', False, "host_ip '::' is IPv6, but the container has no IPv6 address"),
    ('[2001:db8::9]:8080:80', True, "host_ip '2001:db8::9' is not an address of this host"),
])
def test_ipv6_publishes_the_kernel_cannot_honour_are_refused(entry, has6, words):
    with pytest.raises(ParamError) as e:
        ports.assign([(ports.parse_publish(entry, 'ports[0]'), 'ports[0]')], '0.0.0.0', [], [], Reads(),
                     default_ip6='::' if has6 else None)
    assert str(e.value).startswith('ports[0] ') and words in str(e.value)


def test_mappings_and_listeners_clash_within_a_family_only():
    v4 = {'host_ip': '0.0.0.0', 'host_port': 80, 'host_end': 80, 'proto': 'tcp'}
    v6 = dict(v4, host_ip='::')
    assert not ports.overlapping(v4, v6) and ports.overlapping(v6, dict(v6, host_ip='2001:db8::1'))
    assert ports.listener_clash('::', {'2001:db8::1'}) and not ports.listener_clash('0.0.0.0', {'2001:db8::1'})
    assert ports.listener_clash('0.0.0.0', {'0.0.0.0', '::'}) and ports.listener_clash('2001:db8::1', {'::'})
    assert not ports.listener_clash('2001:db8::1', {'2001:db8::2'})


# ---- names --------------------------------------------------------------------------------------

def dns_state():
    s = empty_state()
    add_bridge(s, 'front', subnet='10.1.0.0/24', subnet_v6='fd00:1::/64', dns=True)
    add_container(s, 'web', {'bridge': 'front', 'aliases': ['www']})
    add_container(s, 'api', {'bridge': 'front'})
    return s


@pytest.mark.parametrize('qtype, want', [
    (dns.TYPE_A, ['10.1.0.2']), (dns.TYPE_AAAA, ['fd00:1::2']), (dns.TYPE_ANY, ['10.1.0.2', 'fd00:1::2']),
    (15, []),  # MX of our name: an empty answer, not NXDOMAIN
])
def test_names_on_a_dual_stack_network_answer_a_and_aaaa(qtype, want):
    zone = dns.view(dns_state())
    for asker in ('10.1.0.3', 'fd00:1::3'):  # over either family
        assert dns.decide(zone, asker, 'www', qtype) == ('answer', dns.RCODE_OK, want)


def test_reverse_names_of_both_families_answer_the_container():
    zone = dns.view(dns_state())
    ptr6 = '.'.join(reversed('fd000001000000000000000000000002')) + '.ip6.arpa'
    assert dns.decide(zone, '10.1.0.3', ptr6, dns.TYPE_PTR) == ('answer', dns.RCODE_OK, ['web'])
    assert dns.decide(zone, '10.1.0.3', '2.0.1.10.in-addr.arpa', dns.TYPE_PTR) == ('answer', dns.RCODE_OK, ['web'])
    assert dns.reverse_address('1.2.ip6.arpa') is None


def test_an_aaaa_record_carries_the_16_address_bytes():
    query = struct.pack('!HHHHHH', 7, 0x0100, 1, 0, 0, 0) + b'\x03www\x00' + struct.pack('!HH', dns.TYPE_AAAA, 1)
    answer = dns.build_response(query, dns.RCODE_OK, dns.TYPE_AAAA, ['fd00:1::2'])
    assert answer[-18:] == struct.pack('!H', 16) + bytes.fromhex('fd000001000000000000000000000002')
    assert struct.unpack('!H', answer[len(query) + 2:len(query) + 4])[0] == dns.TYPE_AAAA


# ---- the --ipv6 oracle --------------------------------------------------------------------------

def oracle_lab():
    """The oracle's default bridge and containers, at its addresses (Docker builds IPv6 ones from the MAC)."""
    s = empty_state()
    add_bridge(s, 'docker0', subnet='172.17.0.0/16', subnet_v6='fd00:dead:beef::/64', icc=False)
    add_container(s, 'labdb', {'bridge': 'docker0', 'ip': '172.17.0.2', 'ip6': 'fd00:dead:beef::242:ac11:2'},
                  hostname='dbhost', exposed_ports=['5432/tcp', '53/udp', '8080/tcp'], env=LABDB_ENV)
    add_container(s, 'labweb', {'bridge': 'docker0', 'ip': '172.17.0.3', 'ip6': 'fd00:dead:beef::242:ac11:3'},
                  hostname='db31ab042006')
    add_container(s, 'labweb2', {'bridge': 'docker0', 'ip': '172.17.0.4', 'ip6': 'fd00:dead:beef::242:ac11:4'},
                  hostname='98039e596159')
    s['links']['labweb/my-db'] = links.record(s, 'labweb', 'labdb', 'my-db')
    s['links']['labweb2/labdb'] = links.record(s, 'labweb2', 'labdb', 'labdb')
    return s


@pytest.mark.parametrize('marker, name', [
    ('--- /etc/hosts inside labweb', 'labweb'),
    ('--- /etc/hosts inside labweb2', 'labweb2'),
    ('--- /etc/hosts inside labdb (source)', 'labdb'),
])
def test_hosts_files_match_the_ipv6_oracle_line_for_line(marker, name):
    expected = oracle.block_after(marker, stop=('',), path=oracle.ORACLE6)
    assert expected and files.render_hosts(oracle_lab(), name).splitlines() == expected


def test_link_env_stays_ipv4_as_in_the_ipv6_oracle():
    expected = oracle.env_with_prefix(oracle.block_after('$ /usr/bin/docker exec labweb sh -c tr', path=oracle.ORACLE6),
                                      'MY_DB')
    s = oracle_lab()
    got = dict(links.resolve(s, s['links']['labweb/my-db'])['env'])
    assert expected and got == expected


def test_ipv6_dnat_lines_match_the_oracle_spelling():
    saved = oracle.block_after('$ ip netns exec labdocker6 ip6tables-save', stop=('',), path=oracle.ORACLE6)
    docker = [l for l in saved if '--to-destination [' in l]
    assert '-A DOCKER ! -i docker0 -p tcp -m tcp --dport 18081 -j DNAT --to-destination ' \
           '[fd00:dead:beef::242:ac11:5]:81' in docker
    row = policy.Row('nat', 'CNET-DNAT', (('proto', 'tcp'), ('dport', (18081, 18081))),
                     ('DNAT', 'fd00:dead:beef::242:ac11:5', (81, 81), (18081, 18081)), 'port:labpub')
    assert rules.spell(row) == '-p tcp -m tcp --dport 18081 -j DNAT --to-destination [fd00:dead:beef::242:ac11:5]:81'
    assert rules.spell(row) in [l.split(' docker0 ', 1)[1] for l in docker]


def test_a_bridge_bound_to_one_ipv4_address_publishes_there_alone():
    s = empty_state()
    add_bridge(s, 'br0', subnet='10.1.0.0/24', subnet_v6='fd00:1::/64', host_binding_ipv4='127.0.0.1')
    add_container(s, 'web', {'bridge': 'br0'}, exposed_ports=['80/tcp'])
    entry = ports.record('web', {'ports': ['8080:80']}, s, Reads())
    assert [ports.describe(m) for m in entry['mappings']] == ['80/tcp -> 127.0.0.1:8080']
    s['bridges']['br0']['host_binding_ipv4'] = '0.0.0.0'
    entry = ports.record('web', {'ports': ['8080:80']}, s, Reads())
    assert [ports.describe(m) for m in entry['mappings']] == ['80/tcp -> 0.0.0.0:8080', '80/tcp -> [::]:8080']

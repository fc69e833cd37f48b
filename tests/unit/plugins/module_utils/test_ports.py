"""Docker's -p / --expose forms, host port choice and clashes (pure)."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _firewall as fw
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError


@pytest.mark.parametrize('text, expected', [
    ('8080:80', dict(host_ip='', host_port=8080, host_end=8080, port=80, end=80, proto='tcp')),
    ('127.0.0.1:5000:5000', dict(host_ip='127.0.0.1', host_port=5000, host_end=5000, port=5000, end=5000, proto='tcp')),
    ('127.0.0.1::5000', dict(host_ip='127.0.0.1', host_port=None, host_end=None, port=5000, end=5000, proto='tcp')),
    ('5000:5000/udp', dict(host_ip='', host_port=5000, host_end=5000, port=5000, end=5000, proto='udp')),
    ('7000-7005:7000-7005', dict(host_ip='', host_port=7000, host_end=7005, port=7000, end=7005, proto='tcp')),
    ('9000:9000/sctp', dict(host_ip='', host_port=9000, host_end=9000, port=9000, end=9000, proto='sctp')),
    ('80', dict(host_ip='', host_port=None, host_end=None, port=80, end=80, proto='tcp')),
    ('53/UDP', dict(host_ip='', host_port=None, host_end=None, port=53, end=53, proto='udp')),
    ({'host_ip': '10.0.0.1', 'host_port': 8443, 'container_port': 443, 'protocol': 'tcp'},
     dict(host_ip='10.0.0.1', host_port=8443, host_end=8443, port=443, end=443, proto='tcp')),
    ({'container_port': '7000-7001'}, dict(host_ip='', host_port=None, host_end=None, port=7000, end=7001, proto='tcp')),
])
def test_publish_forms(text, expected):
    assert ports.parse_publish(text, 'ports[0]') == expected


@pytest.mark.parametrize('text, words', [
    ('0:80', 'not a port number'),
    ('8080:65536', 'not a port number'),
    ('7000-7003:7000-7002', 'different sizes'),
    ('80/icmp', 'unknown protocol'),
    ('80/', 'empty protocol'),
    ('a:b:c:d', 'is not [IP:]'),
    ('[::1]80:80', 'is not [IPV6]:'),
    ('[10.0.0.1]:80:80', 'is not [IPV6]:'),
    ('[::]:80', 'is not [IPV6]:'),
    ('8080:abc', 'not a port or a port range'),
    ('7005-7000:7005-7000', 'ends before it starts'),
    ({'host_port': 1}, 'container_port is required'),
    ({'container_port': 1, 'hostport': 1}, 'unknown keys'),
])
def test_bad_publish_forms_name_the_field(text, words):
    with pytest.raises(ParamError) as e:
        ports.parse_publish(text, 'ports[3]')
    assert str(e.value).startswith('ports[3]') and words in str(e.value)


def test_exposed_ports_normalized_and_validated():
    assert ports.parse_exposed(['53/udp', '5432', '7000-7002/tcp', '5432/tcp']) == [
        {'port': 53, 'proto': 'udp'}, {'port': 5432, 'proto': 'tcp'}, {'port': 7000, 'end': 7002, 'proto': 'tcp'}]
    for bad, index in ((['0'], 0), (['80', '65536'], 1), (['abc/tcp'], 0)):
        with pytest.raises(ParamError, match=r'exposed_ports\[%d\]' % index):
            ports.parse_exposed(bad)


def test_free_block_skips_reserved_and_busy():
    assert ports.free_block(1, 40000, 40010, {40000}, {40001}) == 40002
    assert ports.free_block(3, 40000, 40010, set(), {40001}) == 40002
    assert ports.free_block(3, 40000, 40003, set(), {40001}) is None
    assert ports.parse_port_list('8080, 9000-9002') == {8080, 9000, 9001, 9002}


@pytest.mark.parametrize('a, b, clash', [
    (('0.0.0.0', 80, 80, 'tcp'), ('127.0.0.1', 80, 80, 'tcp'), True),
    (('10.0.0.1', 80, 80, 'tcp'), ('127.0.0.1', 80, 80, 'tcp'), False),
    (('0.0.0.0', 80, 80, 'tcp'), ('0.0.0.0', 80, 80, 'udp'), False),
    (('0.0.0.0', 7000, 7005, 'tcp'), ('0.0.0.0', 7005, 7010, 'tcp'), True),
])
def test_overlapping(a, b, clash):
    def m(t):
        return dict(zip(('host_ip', 'host_port', 'host_end', 'proto'), t))
    assert ports.overlapping(m(a), m(b)) is clash


def test_udp_dnat_changes_are_found_for_conntrack_flush():
    def nat(*lines):
        return {'nat': {'chains': {'CNET-DNAT': list(lines)}, 'jumps': []}}
    old = nat('-A CNET-DNAT -p udp -m udp --dport 1053 -m comment --comment "cnet:port:a" -j DNAT --to-destination 10.0.0.2:53',
              '-A CNET-DNAT -p tcp -m tcp --dport 80 -m comment --comment "cnet:port:a" -j DNAT --to-destination 10.0.0.2:80')
    new = nat('-A CNET-DNAT -p udp -m udp --dport 1053 -m comment --comment "cnet:port:a" -j DNAT --to-destination 10.0.0.2:54',
              '-A CNET-DNAT -p udp -m udp --dport 7000:7001 -m comment --comment "cnet:port:a" -j DNAT --to-destination 10.0.0.2:7000-7001',
              '-A CNET-DNAT -p tcp -m tcp --dport 80 -m comment --comment "cnet:port:a" -j DNAT --to-destination 10.0.0.2:80')
    assert fw.udp_dnat_ports(old, new) == [1053, 7000, 7001]
    assert fw.udp_dnat_ports(new, new) == []


@pytest.mark.parametrize('entry', ['8080:80\n', '8080:80/tcp\n', '8080\n:80', '80\n/tcp', '8080:80\r', '8080:80\0',
                                   {'container_port': '80\n'}, {'container_port': 80, 'host_port': '8080\n'},
                                   {'container_port': 80, 'protocol': 'tcp\n'}, '8080:²'])
def test_publish_forms_with_a_newline_or_odd_digits_are_refused(entry):
    with pytest.raises(ParamError, match=r'^ports\[0\]'):
        ports.parse_publish(entry, 'ports[0]')


@pytest.mark.parametrize('proto', [7, ['tcp'], {'p': 'tcp'}])
def test_a_protocol_that_is_not_a_string_is_refused_naming_the_field(proto):
    with pytest.raises(ParamError, match=r"^ports\[0\] .* unknown protocol"):
        ports.parse_publish({'container_port': 80, 'protocol': proto}, 'ports[0]')

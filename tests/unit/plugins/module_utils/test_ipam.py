"""IPAM: bridge addressing, allocation and static addresses (pure)."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _ipam as ipam
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError


def bridge(subnet='10.0.0.0/24', gateway=None, ip_range=None):
    return ipam.bridge_addressing(subnet, gateway, ip_range)


def test_defaults_gateway_to_first_host():
    assert bridge() == {'subnet': '10.0.0.0/24', 'gateway': '10.0.0.1', 'prefixlen': 24, 'ip_range': None}


@pytest.mark.parametrize('subnet, gateway, ip_range, field', [
    ('10.0.0.0/33', None, None, 'subnet'),
    ('10.0.0.0', None, None, 'subnet'),
    ('10.0.0.5/24', None, None, 'subnet'),
    ('10.0.0.0/31', None, None, 'subnet'),
    ('banana', None, None, 'subnet'),
    ('10.0.0.0/24', '10.0.1.1', None, 'gateway'),
    ('10.0.0.0/24', '10.0.0.0', None, 'gateway'),
    ('10.0.0.0/24', '10.0.0.255', None, 'gateway'),
    ('10.0.0.0/24', 'x', None, 'gateway'),
    ('10.0.0.0/24', None, '10.0.1.0/25', 'ip_range'),
    ('10.0.0.0/24', None, '10.0.0.0/23', 'ip_range'),
    ('10.0.0.0/24', None, '10.0.0.1/25', 'ip_range'),
])
def test_bad_addressing_names_the_field(subnet, gateway, ip_range, field):
    with pytest.raises(ParamError) as e:
        bridge(subnet, gateway, ip_range)
    assert str(e.value).startswith(field + ' ')


def test_allocation_skips_network_gateway_broadcast_and_taken():
    b = bridge('10.0.0.0/29', gateway='10.0.0.2')
    assert ipam.allocate('b', b, {}) == '10.0.0.1'
    assert ipam.allocate('b', b, {'10.0.0.1': 'x'}) == '10.0.0.3'
    taken = dict(('10.0.0.%d' % i, 'x') for i in (1, 3, 4, 5, 6))
    with pytest.raises(ParamError, match='exhausted'):
        ipam.allocate('b', b, taken)


def test_allocation_stays_inside_ip_range():
    b = bridge('10.0.0.0/24', ip_range='10.0.0.128/30')
    got = []
    for dummy in range(4):
        got.append(ipam.allocate('b', b, dict((ip, 'x') for ip in got)))
    assert got == ['10.0.0.128', '10.0.0.129', '10.0.0.130', '10.0.0.131']
    with pytest.raises(ParamError, match="networks: no free address left on bridge 'b'"):
        ipam.allocate('b', b, dict((ip, 'x') for ip in got))


@pytest.mark.parametrize('ip, message', [
    ('10.0.1.5', 'is not a host address'),
    ('10.0.0.255', 'is not a host address'),
    ('10.0.0.1', 'is the gateway'),
    ('10.0.0.7', "already taken on bridge 'b' by container 'other'"),
    ('nope', 'not a valid IPv4 address'),
])
def test_static_addresses_are_checked(ip, message):
    with pytest.raises(ParamError, match=message):
        ipam.check_static(ip, 'b', bridge(), {'10.0.0.7': 'other'}, 'networks[0].ip')


def test_mac_follows_docker_rule():
    assert ipam.mac_for('172.17.0.2') == '02:42:ac:11:00:02'


def test_overlaps():
    assert ipam.overlaps('10.0.0.0/16', '10.0.5.0/24')
    assert ipam.overlaps('10.0.5.0/24', '10.0.0.0/16')
    assert not ipam.overlaps('10.0.0.0/24', '10.0.1.0/24')

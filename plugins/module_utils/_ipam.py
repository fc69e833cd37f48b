# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address math for bridges and leases (pure functions over netaddr).

Leases live in the registry (one address per container and network), so allocation here only
needs the set of addresses already taken; the registry lock makes that set authoritative.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError  # noqa: F401

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as e:
    netaddr = None
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = e


def network(value, field):
    """A strict IPv4 CIDR: no host bits, at least two usable addresses."""
    try:
        net = netaddr.IPNetwork(value, version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ParamError("%s '%s' is not a valid IPv4 CIDR" % (field, value))
    if '/' not in str(value):
        raise ParamError("%s '%s' is not a valid IPv4 CIDR (no prefix length)" % (field, value))
    if net.ip != net.network:
        raise ParamError("%s '%s' has host bits set; the network is %s" % (field, value, net.cidr))
    if net.prefixlen > 30:
        raise ParamError("%s '%s' is too small: a bridge needs a /30 or larger" % (field, value))
    return net


def address(value, field):
    try:
        return netaddr.IPAddress(value, version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ParamError("%s '%s' is not a valid IPv4 address" % (field, value))


def usable(net):
    """Host addresses of a subnet: never its network or broadcast address."""
    return net.first + 1, net.last - 1


def bridge_addressing(subnet, gateway=None, ip_range=None):
    """Validate and normalize a bridge's subnet, gateway and allocation range."""
    net = network(subnet, 'subnet')
    lo, hi = usable(net)
    gw = address(gateway, 'gateway') if gateway else netaddr.IPAddress(lo)
    if not lo <= int(gw) <= hi:
        raise ParamError("gateway '%s' is not a host address of subnet %s" % (gw, net.cidr))
    out = {'subnet': str(net.cidr), 'gateway': str(gw), 'prefixlen': net.prefixlen, 'ip_range': None}
    if ip_range:
        rng = network_loose(ip_range, 'ip_range')
        if rng.first < net.first or rng.last > net.last:
            raise ParamError("ip_range '%s' is not inside subnet %s" % (ip_range, net.cidr))
        first, last = max(lo, rng.first), min(hi, rng.last)  # what candidates() would hand out
        if last - first + 1 - (1 if first <= int(gw) <= last else 0) < 1:
            raise ParamError("ip_range '%s' holds no address a container could get (not the network or broadcast "
                             "address of subnet %s, nor gateway %s)" % (ip_range, net.cidr, gw))
        out['ip_range'] = str(rng.cidr)
    return out


def network_loose(value, field):
    """A sub-range may be as small as one address (/32)."""
    try:
        net = netaddr.IPNetwork(value, version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ParamError("%s '%s' is not a valid IPv4 CIDR" % (field, value))
    if '/' not in str(value) or net.ip != net.network:
        raise ParamError("%s '%s' is not a valid IPv4 CIDR" % (field, value))
    return net


def overlaps(a, b):
    x, y = netaddr.IPNetwork(a), netaddr.IPNetwork(b)
    return x.first <= y.last and y.first <= x.last


def candidates(bridge):
    """Addresses containers may get on a bridge, in allocation order."""
    net = netaddr.IPNetwork(bridge['subnet'])
    lo, hi = usable(net)
    if bridge.get('ip_range'):
        rng = netaddr.IPNetwork(bridge['ip_range'])
        lo, hi = max(lo, rng.first), min(hi, rng.last)
    gw = int(netaddr.IPAddress(bridge['gateway']))
    return (netaddr.IPAddress(i) for i in range(lo, hi + 1) if i != gw)


def allocate(bridge_name, bridge, taken):
    """The lowest free address of the bridge's range (as Docker's default IPAM does)."""
    for ip in candidates(bridge):
        if str(ip) not in taken:
            return str(ip)
    raise ParamError("networks: no free address left on bridge '%s' (range %s exhausted)"
                     % (bridge_name, bridge.get('ip_range') or bridge['subnet']))


def check_static(ip, bridge_name, bridge, taken, field):
    """A requested address must be a host address of the subnet, not the gateway, and free."""
    addr = address(ip, field)
    net = netaddr.IPNetwork(bridge['subnet'])
    lo, hi = usable(net)
    if not lo <= int(addr) <= hi:
        raise ParamError("%s '%s' is not a host address of bridge '%s' subnet %s"
                         % (field, ip, bridge_name, bridge['subnet']))
    if str(addr) == bridge['gateway']:
        raise ParamError("%s '%s' is the gateway of bridge '%s'" % (field, ip, bridge_name))
    if str(addr) in taken:
        raise ParamError("%s '%s' is already taken on bridge '%s' by container '%s'"
                         % (field, ip, bridge_name, taken[str(addr)]))
    return str(addr)


def mac_for(ip):
    """Docker's rule: 02:42 followed by the IPv4 address, stable across re-creation."""
    return '02:42:' + ':'.join('%02x' % int(o) for o in str(ip).split('.'))

# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address math for bridges and leases (pure functions over netaddr).

Leases live in the registry (one address per container and network), so allocation here only
needs the set of addresses already taken; the registry lock makes that set authoritative.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError  # noqa: F401

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as e:
    netaddr = None
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = e


FAMILY_NAMES = {4: 'IPv4', 6: 'IPv6'}


def network(value, field, version=4):
    """A strict CIDR of one family: no host bits, at least two usable addresses (IPv4) or a /64 to
    /120 (IPv6: room for the gateway and containers, never smaller than a neighbour cache line)."""
    kind = FAMILY_NAMES[version]
    try:
        net = netaddr.IPNetwork(value, version=version)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ParamError("%s '%s' is not a valid %s CIDR" % (field, value, kind))
    if '/' not in str(value):
        raise ParamError("%s '%s' is not a valid %s CIDR (no prefix length)" % (field, value, kind))
    if net.ip != net.network:
        raise ParamError("%s '%s' has host bits set; the network is %s" % (field, value, net.cidr))
    if version == 4 and net.prefixlen > 30:
        raise ParamError("%s '%s' is too small: a bridge needs a /30 or larger" % (field, value))
    if version == 6 and net.prefixlen > 120:
        raise ParamError("%s '%s' is too small: an IPv6 bridge needs a /120 or larger" % (field, value))
    if version == 6 and (net.ip.is_link_local() or net.ip.is_multicast() or net.ip.is_loopback()):
        raise ParamError("%s '%s' is not a unicast network (link-local, multicast and loopback are the kernel's)"
                         % (field, value))
    return net


def address(value, field, version=4):
    if version == 6 and isinstance(value, str) and value.startswith('['):
        raise ParamError("%s '%s' is not a valid IPv6 address (write it without brackets)" % (field, value))
    try:
        return netaddr.IPAddress(value, version=version)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ParamError("%s '%s' is not a valid %s address" % (field, value, FAMILY_NAMES[version]))


def any_address(value, field):
    """An IPv4 or IPv6 address (normalized text)."""
    if isinstance(value, str) and ':' in value:
        return str(address(value, field, 6))
    return str(address(value, field, 4))


def family(value):
    """4 or 6 for an address or CIDR string."""
    return 6 if ':' in str(value) else 4


def usable(net):
    """Host addresses of a subnet: never its network (IPv6: subnet-router anycast) or broadcast address."""
    if net.version == 6:
        return net.first + 1, net.last
    return net.first + 1, net.last - 1


def bridge_addressing(subnet, gateway=None, ip_range=None, version=4):
    """Validate and normalize a bridge's subnet, gateway and allocation range of one family
    (the IPv6 ones are the same options with a `_v6` suffix)."""
    suffix = '_v6' if version == 6 else ''
    net = network(subnet, 'subnet' + suffix, version)
    lo, hi = usable(net)
    gw = address(gateway, 'gateway' + suffix, version) if gateway else netaddr.IPAddress(lo, version=version)
    if not lo <= int(gw) <= hi:
        raise ParamError("gateway%s '%s' is not a host address of subnet %s" % (suffix, gw, net.cidr))
    out = {'subnet': str(net.cidr), 'gateway': str(gw), 'prefixlen': net.prefixlen, 'ip_range': None}
    if ip_range:
        rng = network_loose(ip_range, 'ip_range' + suffix, version)
        if rng.first < net.first or rng.last > net.last:
            raise ParamError("ip_range%s '%s' is not inside subnet %s" % (suffix, ip_range, net.cidr))
        first, last = max(lo, rng.first), min(hi, rng.last)  # what candidates() would hand out
        if last - first + 1 - (1 if first <= int(gw) <= last else 0) < 1:
            raise ParamError("ip_range%s '%s' holds no address a container could get (not the network or broadcast "
                             "address of subnet %s, nor gateway %s)" % (suffix, ip_range, net.cidr, gw))
        out['ip_range'] = str(rng.cidr)
    if version == 6:
        return dict(('%s_v6' % k, v) for k, v in out.items())
    return out


def network_loose(value, field, version=4):
    """A sub-range may be as small as one address (/32, /128)."""
    kind = FAMILY_NAMES[version]
    try:
        net = netaddr.IPNetwork(value, version=version)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ParamError("%s '%s' is not a valid %s CIDR" % (field, value, kind))
    if '/' not in str(value) or net.ip != net.network:
        raise ParamError("%s '%s' is not a valid %s CIDR" % (field, value, kind))
    return net


def any_network(value, field):
    """An IPv4 or IPv6 CIDR (allowed_sources)."""
    return network_loose(value, field, family(value))


def ula_subnet(seed):
    """A stable ULA /64 (RFC 4193: fd00::/8, 40-bit global ID, subnet 0) derived from `seed`,
    for a bridge that asks for IPv6 without naming a subnet."""
    digest = hashlib.sha256(seed.encode('utf-8')).digest()
    global_id = int.from_bytes(digest[:5], 'big')
    return str(netaddr.IPNetwork(((0xfd << 120) | (global_id << 80), 64), version=6).cidr)


def overlaps(a, b):
    x, y = netaddr.IPNetwork(a), netaddr.IPNetwork(b)
    return x.version == y.version and x.first <= y.last and y.first <= x.last


def _keys(version):
    suffix = '_v6' if version == 6 else ''
    return 'subnet' + suffix, 'gateway' + suffix, 'ip_range' + suffix


def candidates(bridge, version=4):
    """Addresses containers may get on a bridge, in allocation order (lazily: a /64 is never listed)."""
    subnet, gateway, ip_range = _keys(version)
    net = netaddr.IPNetwork(bridge[subnet])
    lo, hi = usable(net)
    if bridge.get(ip_range):
        rng = netaddr.IPNetwork(bridge[ip_range])
        lo, hi = max(lo, rng.first), min(hi, rng.last)
    skip = set([int(netaddr.IPAddress(bridge[gateway]))])
    if version == 4:  # an overlay host's block keeps its own network and broadcast addresses free
        skip.update(int(netaddr.IPAddress(a)) for a in bridge.get('reserved') or [])
    i = lo
    while i <= hi:
        if i not in skip:
            yield netaddr.IPAddress(i, version=version)
        i += 1


def allocate(bridge_name, bridge, taken, version=4):
    """The lowest free address of the bridge's range (as Docker's default IPAM does)."""
    for ip in candidates(bridge, version):
        if str(ip) not in taken:
            return str(ip)
    subnet, dummy, ip_range = _keys(version)
    raise ParamError("networks: no free %saddress left on bridge '%s' (range %s exhausted)"
                     % ('IPv6 ' if version == 6 else '', bridge_name, bridge.get(ip_range) or bridge[subnet]))


def check_static(ip, bridge_name, bridge, taken, field, version=4):
    """A requested address must be a host address of the subnet, not the gateway, and free."""
    subnet, gateway, dummy = _keys(version)
    addr = address(ip, field, version)
    net = netaddr.IPNetwork(bridge[subnet])
    lo, hi = usable(net)
    if not lo <= int(addr) <= hi:
        raise ParamError("%s '%s' is not a host address of bridge '%s' %s %s"
                         % (field, ip, bridge_name, subnet, bridge[subnet]))
    if str(addr) == bridge[gateway]:
        raise ParamError("%s '%s' is the %s of bridge '%s'" % (field, ip, gateway, bridge_name))
    if version == 4 and bridge.get('reserved') and addr not in netaddr.IPNetwork(bridge['ip_range']):
        raise ParamError("%s '%s' is outside this host's block %s of overlay '%s' (the other members lease the rest)"
                         % (field, ip, bridge['ip_range'], bridge_name))
    if version == 4 and str(addr) in (bridge.get('reserved') or []):
        raise ParamError("%s '%s' is the network or broadcast address of this host's block of overlay '%s'"
                         % (field, ip, bridge_name))
    if str(addr) in taken:
        raise ParamError("%s '%s' is already taken on bridge '%s' by container '%s'"
                         % (field, ip, bridge_name, taken[str(addr)]))
    return str(addr)


def mac_for(ip):
    """Docker's rule: 02:42 followed by the IPv4 address, stable across re-creation."""
    return '02:42:' + ':'.join('%02x' % int(o) for o in str(ip).split('.'))

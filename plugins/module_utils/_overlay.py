# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Networks across hosts (pure): one declaration in inventory, each member host's share of it.

An overlay is declared once (`container_net_overlays`) and spans its member hosts:
- `vxlan` (default): one stretched subnet; each host's bridge carries the whole subnet, its own
  gateway (the first address of its block) and leases from its block only; a VXLAN port on the
  bridge with static FDB entries for every peer (broadcast, head-end replicated) and every remote
  container (no flood-and-learn); MTU = underlay MTU - 50.
- `routed`: each host's bridge is its block, with routes to the peers' blocks via their underlay
  addresses; no encapsulation, the underlay's MTU. The peers' blocks pass the raw guard and are
  not masqueraded, so a container sees its peers' real addresses; at the ingress stage they pass as
  from the same bridge (icc on) or through the link pairs only (icc off).
Blocks are computed from inventory (a member's `index`, else its place in `members`) and checked
across the whole inventory before any host is touched: every host computes the same answer.

`encrypted: true` puts either mode over WireGuard between the members (_wireguard.py): each member
takes a tunnel address from `tunnel_subnet` (by its block index), VXLAN and the routes run between
tunnel addresses instead of underlay addresses, and only WireGuard's UDP crosses the underlay.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.seed.container_net.plugins.module_utils import _ipam as ipam
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError

MODES = ('vxlan', 'routed')
VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
WIREGUARD_OVERHEAD = 80  # outer IPv6 40 (an IPv4 underlay needs 20) + UDP 8 + WireGuard 32, as wg-quick
DEFAULT_PORT = 4789
DEFAULT_WIREGUARD_PORT = 51820
WIREGUARD_KEY_RE = re.compile(r'^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$')


def argument_spec():
    """One overlay's options (container_net_topology's `overlays`)."""
    return dict(
        name=dict(type='str', required=True),
        mode=dict(type='str', default='vxlan', choices=list(MODES)),
        subnet=dict(type='str', required=True),
        host_prefix=dict(type='int', default=24),
        vni=dict(type='int'),
        port=dict(type='int', default=DEFAULT_PORT),
        members=dict(type='list', elements='str'),
        underlay_mtu=dict(type='int', default=1500),
        icc=dict(type='bool', default=True),
        dns=dict(type='bool', default=False),
        encrypted=dict(type='bool', default=False),
        tunnel_subnet=dict(type='str'),
        wireguard_port=dict(type='int', default=DEFAULT_WIREGUARD_PORT),
    )


# what an overlay declared as `overlay:` on a bridge takes from the bridge's own options
FROM_BRIDGE = ('subnet', 'icc', 'dns')


def bridge_option_spec():
    """`overlay:` on a bridge declaration (container_net_topology's `bridges`): the overlay's own
    options; its name, subnet, icc and dns are the bridge's."""
    spec = argument_spec()
    for key in ('name',) + FROM_BRIDGE:
        del spec[key]
    return spec


def default_vni(name):
    """A stable VNI per overlay name (1..16777215), so hosts agree without saying it."""
    return int(hashlib.sha256(name.encode('utf-8')).hexdigest()[:6], 16) % 16777214 + 1


def vxlan_name(bridge):
    """The bridge's VXLAN port: 'vx' and a digest of the bridge name, 13 bytes (IFNAMSIZ is 15)."""
    return 'vx' + hashlib.sha1(bridge.encode('utf-8')).hexdigest()[:11]


def _members(decl, hosts, field):
    members = decl.get('members')
    if members is None:
        members = sorted(hosts)
    if not members:
        raise ParamError('%s.members: an overlay needs at least one member host' % field)
    seen = set()
    for i, member in enumerate(members):
        if member not in hosts:
            raise ParamError("%s.members[%d] '%s' is not a host of the inventory given (hosts)" % (field, i, member))
        if member in seen:
            raise ParamError("%s.members[%d] '%s' is listed twice" % (field, i, member))
        seen.add(member)
    return list(members)


def _underlays(members, hosts, field):
    out = {}
    owners = {}
    for member in members:
        value = hosts[member].get('underlay')
        if not value:
            raise ParamError("%s: host '%s' has no underlay address (container_net_underlay_address or ansible_host)"
                             % (field, member))
        addr = str(ipam.address(value, "%s: host '%s' underlay" % (field, member)))
        if addr in owners:
            raise ParamError("%s: hosts '%s' and '%s' have the same underlay address %s" % (field, owners[addr], member, addr))
        owners[addr] = member
        out[member] = addr
    return out


def _blocks(decl, members, hosts, net, field):
    prefix = decl.get('host_prefix') or 24
    if not net.prefixlen < prefix <= 30:
        raise ParamError('%s.host_prefix %d must be longer than the subnet\'s /%d and at most /30'
                         % (field, prefix, net.prefixlen))
    count = 2 ** (prefix - net.prefixlen)
    indexes = {}
    for position, member in enumerate(members):
        index = hosts[member].get('index')
        index = position if index is None else index
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
            raise ParamError("%s: host '%s' index %r is not a block of %s (0-%d of /%d)"
                             % (field, member, index, net.cidr, count - 1, prefix))
        if index in indexes:
            raise ParamError("%s: hosts '%s' and '%s' both take block %d of %s"
                             % (field, indexes[index], member, index, net.cidr))
        indexes[index] = member
    blocks = {}
    for index, member in indexes.items():
        block = ipam.netaddr.IPNetwork((net.first + index * 2 ** (32 - prefix), prefix), version=4)
        blocks[member] = (index, str(block.cidr))
    return blocks


def _tunnels(decl, blocks, net, planned, hosts, field):
    """Each member's WireGuard tunnel address: the tunnel subnet's address number (block index + 1)."""
    if not decl.get('tunnel_subnet'):
        raise ParamError('%s.tunnel_subnet is required with encrypted: true (one address per member for the '
                         'WireGuard tunnel, a range used nowhere else)' % field)
    tnet = ipam.network(decl['tunnel_subnet'], field + '.tunnel_subnet')
    ranges = [(net.cidr, 'its subnet')]
    ranges += [(spec['subnet'], "subnet of overlay '%s'" % other) for other, spec in planned.items()]
    ranges += [(spec['encrypted']['tunnel_subnet'], "tunnel_subnet of overlay '%s'" % other)
               for other, spec in planned.items() if spec['encrypted']]
    for cidr, what in ranges:
        if ipam.overlaps(str(tnet.cidr), str(cidr)):
            raise ParamError("%s.tunnel_subnet '%s' overlaps %s %s" % (field, tnet.cidr, what, cidr))
    out = {}
    for member, (index, dummy) in blocks.items():
        if ipam.netaddr.IPAddress(hosts[member]['underlay']) in tnet:
            raise ParamError("%s.tunnel_subnet '%s' holds host '%s''s underlay address %s"
                             % (field, tnet.cidr, member, hosts[member]['underlay']))
        if index + 2 >= tnet.size:
            raise ParamError("%s.tunnel_subnet '%s' has no address for host '%s' (block %d)"
                             % (field, tnet.cidr, member, index))
        out[member] = str(ipam.netaddr.IPAddress(tnet.first + index + 1))
    return str(tnet.cidr), out


def _public_key(hosts, member, name, field):
    key = ((hosts[member] or {}).get('wireguard') or {}).get(name)
    if key is not None and not WIREGUARD_KEY_RE.match(str(key)):
        raise ParamError("%s: host '%s' wireguard public key for '%s' is not a WireGuard key (44 base64 characters)"
                         % (field, member, name))
    return key


def plan(overlays, hosts, fields=None):
    """Every overlay of the inventory, validated as a whole: {name: {mode, subnet, vni, port, mtu,
    icc, dns, members: {host: {underlay, block, gateway}}}}. `hosts`: {inventory name: {'underlay':
    address, 'index': optional block number}}. Refused (naming the field) before any host changes;
    `fields` names where each declaration was written (default overlays[i])."""
    out = {}
    seen_vni = {}
    for i, decl in enumerate(overlays or []):
        field = fields[i] if fields else 'overlays[%d]' % i
        name = decl.get('name')
        from ansible_collections.seed.container_net.plugins.module_utils._bridges import check_ifname
        check_ifname(name, field + '.name')
        if name in out:
            raise ParamError("%s.name '%s' is declared twice" % (field, name))
        mode = decl.get('mode') or 'vxlan'
        if mode not in MODES:
            raise ParamError("%s.mode '%s' is not one of %s" % (field, mode, ', '.join(MODES)))
        net = ipam.network(decl.get('subnet'), field + '.subnet')
        for other, spec in out.items():
            if ipam.overlaps(spec['subnet'], str(net.cidr)):
                raise ParamError("%s.subnet '%s' overlaps subnet %s of overlay '%s'"
                                 % (field, net.cidr, spec['subnet'], other))
        members = _members(decl, hosts, field)
        underlays = _underlays(members, hosts, field)
        blocks = _blocks(decl, members, hosts, net, field)
        vni = decl.get('vni') or default_vni(name)
        if not 1 <= vni <= 16777215:
            raise ParamError('%s.vni %d is out of range (1-16777215)' % (field, vni))
        if mode == 'vxlan':
            if vni in seen_vni:
                raise ParamError("%s.vni %d is also the VNI of overlay '%s'" % (field, vni, seen_vni[vni]))
            seen_vni[vni] = name
        port = decl.get('port') or DEFAULT_PORT
        if not 1 <= port <= 65535:
            raise ParamError('%s.port %d is not a port number' % (field, port))
        for other, spec in out.items():
            # the kernel's VXLAN socket of a port takes every VNI: a peer of one overlay could send into
            # another's, so overlays that share a port share their members
            if mode == 'vxlan' and spec['mode'] == 'vxlan' and spec['port'] == port and \
                    sorted(spec['members']) != sorted(members):
                raise ParamError("%s.port %d is also the port of overlay '%s', which has other members; give this "
                                 "overlay a port of its own" % (field, port, other))
            # and a plain overlay's peers (or who forges them) could send into an encrypted one's VNI
            if mode == 'vxlan' and spec['mode'] == 'vxlan' and spec['port'] == port and \
                    bool(spec['encrypted']) != bool(decl.get('encrypted')):
                raise ParamError("%s.port %d is also the port of overlay '%s', which is %s; an encrypted and a plain "
                                 "overlay need ports of their own" % (field, port, other,
                                                                      'encrypted' if spec['encrypted'] else 'plain'))
        encrypted, tunnels = None, {}
        if decl.get('encrypted'):
            tunnel_subnet, tunnels = _tunnels(decl, blocks, net, out, hosts, field)
            wg_port = decl.get('wireguard_port') or DEFAULT_WIREGUARD_PORT
            if not 1 <= wg_port <= 65535:
                raise ParamError('%s.wireguard_port %d is not a port number' % (field, wg_port))
            for other, spec in out.items():  # one listening socket per tunnel on a host
                if spec['encrypted'] and spec['encrypted']['port'] == wg_port:
                    raise ParamError("%s.wireguard_port %d is also the WireGuard port of overlay '%s'"
                                     % (field, wg_port, other))
            encrypted = {'tunnel_subnet': tunnel_subnet, 'port': wg_port}
        # one UDP socket per port on a host: a port is VXLAN's or WireGuard's, never both (the peers'
        # accept of the one would admit the other)
        mine = _udp_ports(mode, port, encrypted)
        if mine['VXLAN'] is not None and mine['VXLAN'] == mine['WireGuard']:
            raise ParamError('%s: port %d is both its VXLAN and its WireGuard port' % (field, port))
        for other, spec in out.items():
            theirs = _udp_ports(spec['mode'], spec['port'], spec['encrypted'])
            for kind, their_kind in (('VXLAN', 'WireGuard'), ('WireGuard', 'VXLAN')):
                if mine[kind] is not None and mine[kind] == theirs[their_kind]:
                    raise ParamError("%s: %s port %d is the %s port of overlay '%s'"
                                     % (field, kind, mine[kind], their_kind, other))
        underlay_mtu = decl.get('underlay_mtu') or 1500
        mtu = underlay_mtu - (WIREGUARD_OVERHEAD if encrypted else 0) - (VXLAN_OVERHEAD if mode == 'vxlan' else 0)
        if mtu < 68:
            raise ParamError('%s.underlay_mtu %d leaves no room for an overlay' % (field, underlay_mtu))
        shares = {}
        for m in members:
            share = {'underlay': underlays[m], 'block': blocks[m][1],
                     'gateway': str(ipam.netaddr.IPNetwork(blocks[m][1]).network + 1)}
            if encrypted:
                share.update(tunnel=tunnels[m], public_key=_public_key(hosts, m, name, field))
            shares[m] = share
        out[name] = {
            'mode': mode, 'subnet': str(net.cidr), 'vni': vni, 'port': port, 'mtu': mtu,
            'icc': bool(decl.get('icc', True)), 'dns': bool(decl.get('dns', False)),
            'encrypted': encrypted, 'members': shares,
        }
    return out


def _udp_ports(mode, port, encrypted):
    return {'VXLAN': port if mode == 'vxlan' else None, 'WireGuard': (encrypted or {}).get('port')}


def bridge_params(name, overlay, me):
    """docker_bridge parameters of `me`'s share of an overlay: vxlan, the whole subnet with the host's
    own gateway, leases from its block; routed, the block."""
    share = overlay['members'][me]
    subnet, ip_range = (overlay['subnet'], share['block']) if overlay['mode'] == 'vxlan' else (share['block'], None)
    return {'subnet': subnet, 'gateway': share['gateway'], 'ip_range': ip_range,
            'mtu': overlay['mtu'], 'icc': overlay['icc'], 'dns': overlay['dns']}


def routed_peer_blocks(bridge):
    """The peers' blocks of a routed overlay bridge (empty for any other bridge) and the interface
    they arrive on: the WireGuard link of an encrypted overlay (its keys say who sent them), else the
    link of the host's underlay address (so no local container forges a peer's address)."""
    overlay = bridge.get('overlay') or {}
    if overlay.get('mode') != 'routed':
        return [], None
    tunnel = overlay.get('encrypted')
    return (sorted(share['block'] for share in overlay['peers'].values()),
            tunnel['interface'] if tunnel else overlay.get('underlay_interface'))


def hop(share):
    """Where a peer's VXLAN and routed traffic go: its tunnel address, or its underlay address."""
    return share.get('tunnel') or share['underlay']


def bridge_overlay(name, overlay, me, recorded=None):
    """The `overlay` key of a bridge record: what the kernel and the firewall need of the peers.
    `recorded`: the key as the registry has it; a peer's public key not given this run stays."""
    from ansible_collections.seed.container_net.plugins.module_utils import _wireguard as wireguard
    peers = dict((m, dict(share)) for m, share in overlay['members'].items() if m != me)
    mine = overlay['members'][me]
    out = {'name': name, 'mode': overlay['mode'], 'vni': overlay['vni'], 'port': overlay['port'],
           'underlay': mine['underlay'], 'subnet': overlay['subnet'], 'peers': peers}
    if overlay['encrypted']:
        old_peers = (recorded or {}).get('peers') or {}
        for m, share in peers.items():
            if share['public_key'] is None:
                share['public_key'] = (old_peers.get(m) or {}).get('public_key')
        prefix = ipam.netaddr.IPNetwork(overlay['encrypted']['tunnel_subnet']).prefixlen
        out['tunnel'] = mine['tunnel']
        out['encrypted'] = {'interface': wireguard.ifname(name, mine['underlay']), 'port': overlay['encrypted']['port'],
                            'address': '%s/%d' % (mine['tunnel'], prefix),
                            'mtu': overlay['mtu'] + (VXLAN_OVERHEAD if overlay['mode'] == 'vxlan' else 0)}
    return out


# ---- containers on other hosts -------------------------------------------------------------------

def remote_record(entry, state, field):
    """The registry record of a container another member host runs (its name, address and MAC
    there, from that host's facts; hostname, exposed ports, env and links from its declaration)."""
    from ansible_collections.seed.container_net.plugins.module_utils import _containers as containers
    from ansible_collections.seed.container_net.plugins.module_utils import _links as links
    from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
    name = links.check_name(entry.get('name'), field + '.name')
    host = entry.get('host')
    nets = []
    for i, net in enumerate(entry.get('networks') or []):
        nfield = '%s.networks[%d]' % (field, i)
        bridge = state['bridges'].get(net.get('bridge'))
        overlay = (bridge or {}).get('overlay')
        if overlay is None:
            continue  # a network of its own host only: nothing here reaches it
        share = overlay['peers'].get(host)
        if share is None:
            raise ParamError("%s: host '%s' is not a member of overlay '%s'" % (nfield, host, net.get('bridge')))
        ip = str(ipam.address(net.get('ip'), nfield + '.ip'))
        if ipam.netaddr.IPAddress(ip) not in ipam.netaddr.IPNetwork(share['block']):
            raise ParamError("%s.ip '%s' is not in block %s of host '%s'" % (nfield, ip, share['block'], host))
        mac = (net.get('mac') or ipam.mac_for(ip)).lower()
        if not containers.MAC_RE.match(mac):
            raise ParamError("%s.mac '%s' is not a MAC address" % (nfield, net.get('mac')))
        nets.append({'bridge': net['bridge'], 'ip': ip, 'mac': mac})
    if not nets:
        return None  # a container of its own host's bridges only: its name may be anyone's here
    if name in state['containers']:
        raise ParamError("%s.name '%s' is also a container of this host (names are unique across an overlay)"
                         % (field, name))
    hostname = entry.get('hostname') or name
    if not containers.HOSTNAME_RE.match(hostname):
        raise ParamError("%s.hostname %r is not a valid host name" % (field, hostname))
    return {'host': host, 'hostname': hostname, 'networks': nets,
            'exposed_ports': ports.parse_exposed(entry.get('exposed_ports'), field + '.exposed_ports'),
            'env': containers.check_env(entry.get('env'))}


# ---- kernel --------------------------------------------------------------------------------------

ZERO_MAC = '00:00:00:00:00:00'


def fdb_wanted(state, bridge_name):
    """Static FDB entries of an overlay bridge's VXLAN port: every peer for broadcast (head-end
    replication), and every remote container's MAC at its host."""
    overlay = state['bridges'][bridge_name]['overlay']
    out = set((ZERO_MAC, hop(share)) for share in overlay['peers'].values())
    for rec in state.get('remote', {}).values():
        share = overlay['peers'].get(rec['host'])
        if share is not None:
            out.update((net['mac'], hop(share)) for net in rec['networks'] if net['bridge'] == bridge_name)
    return sorted(out)


def steps(netlink, name, state, host_links, step):
    """Kernel steps of bridge `name`'s VXLAN port and FDB (none, or its removal, for any other bridge)."""
    vx = vxlan_name(name)
    link = host_links.get(vx)
    bridge = state['bridges'].get(name) if state else None
    overlay = (bridge or {}).get('overlay')
    if not overlay or overlay['mode'] != 'vxlan':
        if link is not None:
            return [step('delete vxlan %s' % vx, lambda: netlink.delete_link(link['index']))]
        return []
    wanted = fdb_wanted(state, name)
    local = hop(overlay)
    spec = (overlay['vni'], local, overlay['port'])
    out = []
    if link is not None and (link['kind'] != 'vxlan' or netlink.vxlan_info(vx) != spec):
        out.append(step('delete vxlan %s (vni, underlay or port changed)' % vx,
                        lambda: netlink.delete_link(link['index'])))
        link = None
    if link is None:
        def create():
            netlink.add_vxlan(vx, overlay['vni'], local, overlay['port'], bridge['mtu'],
                              netlink.bridge_index(name))
            index = netlink.index(vx)
            for mac, dst in wanted:
                netlink.fdb_add(index, mac, dst)
        out.append(step('create vxlan %s vni %d local %s port %d on %s, %d fdb entries'
                        % (vx, overlay['vni'], local, overlay['port'], name, len(wanted)), create))
        return out
    bridge_link = host_links.get(name)
    if link['master'] != (bridge_link or {}).get('index') or link['mtu'] != bridge['mtu'] or not link['up']:
        out.append(step('attach %s to %s, mtu %d, up' % (vx, name, bridge['mtu']), lambda: netlink.set_link(
            link['index'], master=netlink.bridge_index(name), mtu=bridge['mtu'], state='up')))
    have = netlink.fdb(link['index'])
    for mac, dst in sorted(set(have) - set(wanted)):
        out.append(step('fdb del %s dst %s dev %s' % (mac, dst, vx),
                        lambda m=mac, d=dst: netlink.fdb_del(link['index'], m, d)))
    for mac, dst in sorted(set(wanted) - set(have)):
        out.append(step('fdb append %s dst %s dev %s' % (mac, dst, vx),
                        lambda m=mac, d=dst: netlink.fdb_add(link['index'], m, d)))
    return out


def route_steps(netlink, old, new, step):
    """Routes to the peers' blocks of routed overlays via their underlay addresses; routes into an
    overlay's range (of `old` or `new`) that no peer needs any more go."""
    wanted, ranges = {}, set()
    for state in (old, new):
        for bridge in state['bridges'].values():
            overlay = bridge.get('overlay') or {}
            if overlay.get('mode') == 'routed':
                ranges.add(overlay['subnet'])
    for bridge in new['bridges'].values():
        overlay = bridge.get('overlay') or {}
        if overlay.get('mode') == 'routed':
            wanted.update((share['block'], hop(share)) for share in overlay['peers'].values())
    if not ranges:
        return []
    have = netlink.gateway_routes()
    out = []
    for dst, gateway in sorted(have.items()):
        if dst not in wanted and any(ipam.netaddr.IPNetwork(dst) in ipam.netaddr.IPNetwork(r) for r in ranges):
            out.append(step('delete route %s via %s' % (dst, gateway), lambda d=dst, g=gateway: netlink.delete_route(d, g)))
    for dst, gateway in sorted(wanted.items()):
        if have.get(dst) != gateway:
            out.append(step('route %s via %s' % (dst, gateway), lambda d=dst, g=gateway: netlink.replace_route(d, g)))
    return out


def input_rows(state):
    """VXLAN reaches the host from the overlay's peers only: a forged encapsulated frame from anyone
    else would otherwise be bridged straight to the containers. An encrypted overlay's VXLAN comes
    from the peers' tunnel addresses through its WireGuard link only (plain VXLAN to the underlay
    address is dropped too), and its WireGuard port is open to the peers only.

    The kernel's VXLAN socket takes a VNI on any local address (a container's gateway, 127.0.0.1),
    so the overlay's VNI is dropped on every address after the peers' rows. Other tools' VNIs on the
    same port stay theirs."""
    from ansible_collections.seed.container_net.plugins.module_utils._policy import Row
    rows, drops, vnis = [], {}, []
    for name in sorted(state['bridges']):
        overlay = state['bridges'][name].get('overlay')
        if not overlay:
            continue
        owner = 'overlay:' + name
        tunnel = overlay.get('encrypted')
        if tunnel:
            wg_port = (tunnel['port'], tunnel['port'])
            rows.extend(Row('filter', 'CNET-INPUT', (('src', share['underlay']), ('dst', overlay['underlay']),
                                                     ('proto', 'udp'), ('dport', wg_port)), 'ACCEPT', owner)
                        for share in sorted(overlay['peers'].values(), key=lambda s: s['underlay']))
            drops.setdefault((overlay['underlay'], wg_port), name)
        if overlay['mode'] != 'vxlan':
            continue
        port = (overlay['port'], overlay['port'])
        via = (('iif', tunnel['interface']),) if tunnel else ()
        for peer in sorted(hop(share) for share in overlay['peers'].values()):
            rows.append(Row('filter', 'CNET-INPUT', (('src', peer), ('dst', hop(overlay))) + via +
                            (('proto', 'udp'), ('dport', port)), 'ACCEPT', owner))
        drops.setdefault((hop(overlay), port), name)
        drops.setdefault((overlay['underlay'], port), name)
        # IPv4 only: the VXLAN socket is, and u32 reads an IPv4 header
        vnis.append(((('family', 4), ('proto', 'udp'), ('dport', port), ('vni', overlay['vni'])), owner))
    # after every overlay's peers (overlays with the same members may share a port); only to this
    # host's own underlay and tunnel addresses, or with an overlay's VNI: other tools' tunnels stay theirs
    rows.extend(Row('filter', 'CNET-INPUT', (('dst', addr), ('proto', 'udp'), ('dport', port)), 'DROP',
                    'overlay:' + drops[(addr, port)]) for addr, port in sorted(drops))
    rows.extend(Row('filter', 'CNET-INPUT', match, 'DROP', owner) for match, owner in vnis)
    return rows


def forward_rows(state):
    """Only a member itself speaks VXLAN to its peers. A container's datagram to a peer's VXLAN
    port (masqueraded to this host's address on its way) would pass there as the peer's own: it is
    dropped before it is routed, in raw PREROUTING, where the host's own VXLAN never passes."""
    from ansible_collections.seed.container_net.plugins.module_utils._policy import Row
    rows = []
    for name in sorted(state['bridges']):
        overlay = state['bridges'][name].get('overlay') or {}
        if overlay.get('mode') != 'vxlan':
            continue
        port = (overlay['port'], overlay['port'])
        rows.extend(Row('raw', 'CNET-RAW', (('dst', peer), ('proto', 'udp'), ('dport', port), ('vni', overlay['vni'])),
                        'DROP', 'overlay:' + name)
                    for peer in sorted(set(hop(share) for share in overlay['peers'].values())))
    return rows

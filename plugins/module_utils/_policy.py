# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who may reach whom, as data: the stages a packet of an owned bridge passes and their rows.

Pure. The model (README, "Who may reach whom") is Docker 28's:
- raw PREROUTING (`CNET-RAW`), before conntrack and DNAT can let anything through: nothing is
  routed to a container address of a NAT'ing bridge from anywhere but its own bridge (the LAN,
  other bridges; the host itself is not routed, so it still reaches its containers), and nothing
  addressed to 127/8 arrives from outside (moby#45610);
- filter FORWARD (`CNET-FORWARD`) jumps through one chain per stage, in this order:
  isolation (internal bridges: nothing in or out), ingress (into a bridge from anywhere: replies
  and connections to published ports only), icc (within a bridge: all, or linked exposed ports),
  egress (out of a non-internal bridge). Ingress of every bridge comes before egress of any, so a
  connection between two bridges is decided by its target's ingress: only published ports.

Rows are family-neutral data (a row is `Row(table, chain, match, verdict, owner)`, `match` a
tuple of (key, value), a value starting with '!' negated); `_rules` spells them for iptables, an
nftables backend spells the same rows. A new feature adds rows to a stage, never a rule beside it.
A row that names an address holds for that address's family only (`family`); every other row
holds for both, so a dual-stack bridge's IPv6 passes the same stages as its IPv4.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _overlay as overlay

Row = namedtuple('Row', 'table chain match verdict owner')

# (chain, what it decides), in the order CNET-FORWARD jumps to them.
FORWARD_STAGES = (
    ('CNET-ISOLATION', 'internal bridges: nothing in, nothing out'),
    ('CNET-INGRESS', 'into a bridge: replies and published ports, nothing else'),
    ('CNET-ICC', 'within a bridge: everything (icc) or linked exposed ports'),
    ('CNET-EGRESS', 'out of a non-internal bridge'),
)
# Chains rows may jump to, declared even while empty (targets of jumps).
FILTER_CHAINS = ('CNET-LINKS', 'CNET-PORTS') + tuple(c for c, dummy in FORWARD_STAGES) + ('CNET-FORWARD',)
ESTABLISHED = 'RELATED,ESTABLISHED'

# Up to this many port pairs in all, links are Docker's own rule pairs, value for value with the
# oracle; above it every icc-off bridge's pairs become members of one ipset per bridge matched by
# two rules. CNET-LINKS is one chain that every bridge's new connections walk, and each rule costs
# about 80 ns (bench/RESULTS.md: 10,000 links made a connect 8x slower), so the budget is counted
# over the whole chain, not per bridge.
LINK_SET_ABOVE = 32


WILDCARDS = ('0.0.0.0', '::')
ND_TYPES = (135, 136)  # ICMPv6 neighbour solicitation, advertisement


def _family_of(value):
    return 6 if ':' in value else 4


def family(row):
    """4 or 6 for a row that names an address (in a match or a DNAT target) or a family, None for both."""
    for key, value in row.match:
        if key == 'family':
            return value
        if key in ('src', 'dst'):
            return _family_of(value.lstrip('!'))
    if isinstance(row.verdict, tuple) and row.verdict[0] == 'DNAT':
        return _family_of(row.verdict[1])
    return None


def for_family(rows, version):
    """The rows that hold for IPv4 (4) or IPv6 (6)."""
    return [r for r in rows if family(r) in (None, version)]


def dual_stack(state):
    return any(b.get('subnet_v6') for b in state['bridges'].values())


def _filter(chain, match, verdict, owner):
    return Row('filter', chain, tuple(match), verdict, owner)


def stage_rows(used):
    """CNET-FORWARD: one jump per stage that has rows (`used`), in order."""
    return [_filter('CNET-FORWARD', (), chain, 'stage:' + chain[len('CNET-'):].lower())
            for chain, dummy in FORWARD_STAGES if chain in used]


def bridge_rows(name, bridge):
    """Each stage's rows for one bridge, its masquerade and its raw-table guard."""
    owner = 'bridge:' + name
    peer_blocks, tunnel = overlay.routed_peer_blocks(bridge)
    via = (('iif', tunnel),) if tunnel else ()
    rows = []
    if bridge['internal']:
        rows.append(_filter('CNET-ISOLATION', (('iif', name), ('oif', '!' + name)), 'DROP', owner))
        rows.append(_filter('CNET-ISOLATION', (('iif', '!' + name), ('oif', name)), 'DROP', owner))
    else:
        rows.append(_filter('CNET-INGRESS', (('oif', name), ('ctstate', ESTABLISHED)), 'ACCEPT', owner))
        # Only what came through a published host port: routed to a container address it is not
        # DNAT'ed (and was dropped in raw already, unless the bridge is routed on purpose). The gate
        # also spares every other new connection the walk through the port rules.
        gate = (('oif', name),) if not bridge['ip_masquerade'] else (('oif', name), ('ctstate', 'DNAT'))
        rows.append(_filter('CNET-INGRESS', gate, 'CNET-PORTS', owner))
        # a routed overlay's other members' containers, routed here: as from the same bridge (icc on),
        # or their links' pairs only (icc off)
        rows.extend(_filter('CNET-INGRESS', (('src', block),) + via + (('oif', name),),
                            'ACCEPT' if bridge['icc'] else 'CNET-LINKS', owner) for block in peer_blocks)
        rows.append(_filter('CNET-INGRESS', (('iif', '!' + name), ('oif', name)), 'DROP', owner))
        rows.append(_filter('CNET-EGRESS', (('iif', name), ('oif', '!' + name)), 'ACCEPT', owner))
    if bridge['icc']:
        rows.append(_filter('CNET-ICC', (('iif', name), ('oif', name)), 'ACCEPT', owner))
    else:
        if bridge.get('subnet_v6'):
            # neighbour discovery between containers (only addresses, no data), so that linked
            # containers find each other over IPv6 as over ARP, which the firewall does not see
            rows.extend(_filter('CNET-ICC', (('family', 6), ('iif', name), ('oif', name), ('proto', 'ipv6-icmp'),
                                             ('icmp6_type', t)), 'ACCEPT', owner) for t in ND_TYPES)
        rows.append(_filter('CNET-ICC', (('iif', name), ('oif', name)), 'CNET-LINKS', owner))
        rows.append(_filter('CNET-ICC', (('iif', name), ('oif', name)), 'DROP', owner))
    subnets = [bridge['subnet']] + ([bridge['subnet_v6']] if bridge.get('subnet_v6') else [])
    # to a routed overlay's peers: not masqueraded (they see the container), past the raw guard
    rows.extend(Row('nat', 'CNET-POSTROUTING', (('src', bridge['subnet']), ('dst', block)), 'RETURN', owner)
                for block in peer_blocks)
    rows.extend(Row('raw', 'CNET-RAW', (('src', block),) + via + (('dst', bridge['subnet']),), 'ACCEPT', owner)
                for block in peer_blocks)
    if not bridge['internal'] and bridge['ip_masquerade']:
        rows.extend(Row('nat', 'CNET-POSTROUTING', (('src', subnet), ('oif', '!' + name)), 'MASQUERADE', owner)
                    for subnet in subnets)
    if bridge['ip_masquerade'] or bridge['internal']:
        # Routed straight to a container (from the LAN or another bridge) instead of to a
        # published host port: dropped before conntrack. The gateway is the host's own address.
        # A bridge without masquerade is routed on purpose: its replies come back addressed to the
        # containers, so there the ingress stage decides.
        rows.extend(Row('raw', 'CNET-RAW', (('dst', subnet), ('iif', '!' + name), ('dst_type', '!LOCAL')),
                        'DROP', owner) for subnet in subnets)
    return rows


def published(state, name):
    """(bridge, container's network there, mappings) of a container's published ports, or None."""
    entry = state['ports'].get(name)
    container = state['containers'].get(name)
    if not entry or not container or not container['networks']:
        return None
    net = container['networks'][0]
    return net['bridge'], net, entry


def port_rows(state, name):
    """A container's published ports: DNAT from host addresses, ingress accept of what was DNAT'ed
    there (from any source: LAN, other bridges, the same bridge), hairpin masquerade."""
    found = published(state, name)
    if found is None:
        return []
    bridge_name, net, entry = found
    owner = 'port:' + name
    rows = []
    for m in entry['mappings']:
        version = _family_of(m['host_ip'])
        cip = net.get('ip6') if version == 6 else net['ip']
        if not cip:
            continue  # (refused by the container's record) nothing to DNAT an IPv6 mapping to
        # sources of the mapping's family only: a v4-only allow list lets no IPv6 client in
        sources = [c for c in entry.get('allowed_sources') or [] if _family_of(c) == version] \
            if entry.get('allowed_sources') else [None]
        p = m['proto']
        host = (m['host_port'], m['host_end'])
        cport = (m['port'], m['end'])
        dst = () if m['host_ip'] in WILDCARDS else (('dst', m['host_ip']),)
        for src in sources:
            s = (('src', src),) if src else ()
            rows.append(Row('nat', 'CNET-DNAT', s + dst + (('proto', p), ('dport', host)),
                            ('DNAT', cip, cport, host), owner))
            rows.append(_filter('CNET-PORTS', s + (('dst', cip), ('oif', bridge_name), ('proto', p), ('dport', cport)),
                                'ACCEPT', owner))
        rows.append(Row('nat', 'CNET-POSTROUTING', (('src', cip), ('dst', cip), ('proto', p), ('dport', cport)),
                        'MASQUERADE', owner))
    return rows


def localnet_bridges(state):
    """Bridges that carry connections from the host's loopback to a published port (127.x or
    wildcard host address): they need route_localnet and a masquerade of 127/8 sources."""
    out = set()
    for name, entry in state['ports'].items():
        found = published(state, name)
        if found and any(m['host_ip'] == '0.0.0.0' or m['host_ip'].startswith('127.') for m in entry['mappings']):
            out.add(found[0])
    return out


def loopback_rows(state):
    """Localnet masquerade per bridge, and one raw guard: nothing addressed to 127/8 comes in from
    outside (a forged 127.0.0.1 would otherwise be DNAT'ed to a published port, moby#45610)."""
    rows = [Row('nat', 'CNET-POSTROUTING', (('src', '127.0.0.0/8'), ('oif', bridge)), 'MASQUERADE', 'ports:' + bridge)
            for bridge in sorted(localnet_bridges(state))]
    if any(published(state, name) for name in state['ports']):
        rows.append(Row('raw', 'CNET-RAW', (('dst', '127.0.0.0/8'), ('iif', '!lo')), 'DROP', 'ports:loopback'))
    return rows


def link_set_name(bridge, version=4):
    # bridge names have at most 15 characters; ipset allows 31
    return ('CNET-L6-' if version == 6 else 'CNET-L-') + bridge


def set_family(name):
    return 6 if name.startswith('CNET-L6-') else 4


def link_matching(state):
    """(whether links are matched by sets, {bridge with icc off: [(link key, receiver_ip, source_ip, ports)]})."""
    per_bridge = {}
    for key in sorted(state['links']):
        for found in links.accept_ports(state, state['links'][key]):
            if not state['bridges'][found[0]]['icc']:
                per_bridge.setdefault(found[0], []).append((key,) + found[1:])
    pairs = sum(len(entry[3]) for entries in per_bridge.values() for entry in entries)
    return pairs > LINK_SET_ABOVE, per_bridge


def link_ifaces(state, bridge):
    """The interfaces a link's pair matches: in and out of its bridge, as Docker's; on a routed overlay
    out of it only (a peer's container comes in from the underlay, past the ingress stage's gate)."""
    if overlay.routed_peer_blocks(state['bridges'][bridge])[0]:
        return (('oif', bridge),)
    return (('iif', bridge), ('oif', bridge))


def link_pair_rows(key, bridge, receiver_ip, source_ip, ports, ifaces=None):
    """Docker's ACCEPT pair per exposed port of a link, in the oracle's order."""
    rows = []
    ifaces = ifaces or (('iif', bridge), ('oif', bridge))
    for p in ports:
        for src, dst, way in ((receiver_ip, source_ip, 'dport'), (source_ip, receiver_ip, 'sport')):
            rows.append(_filter('CNET-LINKS', (('src', src), ('dst', dst)) + ifaces +
                                (('proto', p['proto']), (way, (p['port'], p['port']))), 'ACCEPT', 'link:' + key))
    return rows


def link_rows(state):
    """(CNET-LINKS rows, {set name: members}): two set-matching rows per bridge, or Docker's pairs."""
    use_set, per_bridge = link_matching(state)
    rows, sets = [], {}
    if use_set:
        for bridge in sorted(per_bridge):
            for version in (4, 6):
                members = set(links.set_entry(r_ip, s_ip, p) for key, r_ip, s_ip, ports in per_bridge[bridge]
                              if _family_of(r_ip) == version for p in ports)
                if not members:
                    continue
                name = link_set_name(bridge, version)
                sets[name] = members
                for flags in ('dst,dst,src', 'src,src,dst'):  # request to the source, reply from it
                    rows.append(_filter('CNET-LINKS', (('family', version),) + link_ifaces(state, bridge) +
                                        (('set', (name, flags)),), 'ACCEPT', 'links:' + bridge))
        return rows, sets
    by_key = {}
    for bridge, entries in per_bridge.items():
        for entry in entries:
            by_key.setdefault(entry[0], []).append((bridge,) + entry[1:])
    for key in sorted(by_key):
        for found in by_key[key]:
            rows.extend(link_pair_rows(key, *found, ifaces=link_ifaces(state, found[0])))
    return rows, sets


def rows(state):
    """Every row the registry implies (empty without bridges), and the link sets."""
    if not state['bridges']:
        return [], {}
    out = []
    for name in sorted(state['bridges']):
        out.extend(bridge_rows(name, state['bridges'][name]))
    for name in sorted(state['ports']):
        out.extend(port_rows(state, name))
    out.extend(loopback_rows(state))
    out.extend(overlay.input_rows(state))
    out.extend(overlay.forward_rows(state))
    linked, sets = link_rows(state)
    return stage_rows(set(r.chain for r in out)) + out + linked, sets

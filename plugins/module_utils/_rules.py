# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every rule the registry implies, rendered in iptables-save's canonical spelling.

Pure: the same registry always renders the same rules, which is what makes a second run write
nothing and a firewall reload repairable by any run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils._firewall import Ruleset


def bridge_rules(rs, name, bridge):
    """Forwarding policy of one bridge in CNET-FORWARD and its masquerade in CNET-POSTROUTING."""
    owner = 'bridge:' + name
    fwd = 'CNET-FORWARD'
    if bridge['internal']:
        rs.add('filter', fwd, '-i %s ! -o %s -j DROP' % (name, name), owner)
        rs.add('filter', fwd, '! -i %s -o %s -j DROP' % (name, name), owner)
    else:
        rs.add('filter', fwd, '-o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT' % name, owner)
        rs.add('filter', fwd, '! -i %s -o %s -j CNET-PORTS' % (name, name), owner)
        rs.add('filter', fwd, '-i %s ! -o %s -j ACCEPT' % (name, name), owner)
    if bridge['icc']:
        rs.add('filter', fwd, '-i %s -o %s -j ACCEPT' % (name, name), owner)
    else:
        rs.add('filter', fwd, '-i %s -o %s -j CNET-LINKS' % (name, name), owner)
        rs.add('filter', fwd, '-i %s -o %s -j DROP' % (name, name), owner)
    if bridge['ip_masquerade'] and not bridge['internal']:
        rs.add('nat', 'CNET-POSTROUTING', '-s %s ! -o %s -j MASQUERADE' % (bridge['subnet'], name), owner)


def _range(start, end, sep):
    return str(start) if start == end else '%d%s%d' % (start, sep, end)


def port_rules(rs, state, name):
    """DNAT (from outside and from the host), forward accept, hairpin masquerade; loopback-only
    publishes are also dropped in raw PREROUTING unless they come in on lo (Docker >= 28)."""
    entry = state['ports'][name]
    container = state['containers'].get(name)
    if not container or not container['networks']:
        return
    net = container['networks'][0]
    bridge, cip = net['bridge'], net['ip']
    owner = 'port:' + name
    sources = entry.get('allowed_sources') or [None]
    for m in entry['mappings']:
        p = m['proto']
        hport = _range(m['host_port'], m['host_end'], ':')
        cport = _range(m['port'], m['end'], ':')
        to = '%s:%s' % (cip, _range(m['port'], m['end'], '-'))
        dst = '' if m['host_ip'] == '0.0.0.0' else '-d %s/32 ' % m['host_ip']
        for src in sources:
            s = '-s %s ' % src if src else ''
            rs.add('nat', 'CNET-DNAT', '%s%s-p %s -m %s --dport %s -j DNAT --to-destination %s'
                   % (s, dst, p, p, hport, to), owner)
            rs.add('filter', 'CNET-PORTS', '%s-d %s/32 ! -i %s -o %s -p %s -m %s --dport %s -j ACCEPT'
                   % (s, cip, bridge, bridge, p, p, cport), owner)
        rs.add('nat', 'CNET-POSTROUTING', '-s %s/32 -d %s/32 -p %s -m %s --dport %s -j MASQUERADE'
               % (cip, cip, p, p, cport), owner)
        if m['host_ip'].startswith('127.'):
            rs.add('raw', 'CNET-RAW', '-d %s/32 ! -i lo -p %s -m %s --dport %s -j DROP'
                   % (m['host_ip'], p, p, hport), owner)


def localnet_bridges(state):
    """Bridges that carry connections from the host's loopback to a published port (127.x or
    wildcard host address): they need route_localnet and a masquerade of 127/8 sources."""
    out = set()
    for name, entry in state['ports'].items():
        container = state['containers'].get(name)
        if container and container['networks'] and any(
                m['host_ip'] == '0.0.0.0' or m['host_ip'].startswith('127.') for m in entry['mappings']):
            out.add(container['networks'][0]['bridge'])
    return out


def render(state):
    """The complete owned rule set for a registry document."""
    rs = Ruleset()
    if not state['bridges']:
        return rs
    for chain in ('CNET-LINKS', 'CNET-PORTS', 'CNET-FORWARD'):
        rs.declare('filter', chain)
    for name in sorted(state['bridges']):
        bridge_rules(rs, name, state['bridges'][name])
    for name in sorted(state['ports']):
        port_rules(rs, state, name)
    for bridge in sorted(localnet_bridges(state)):
        rs.add('nat', 'CNET-POSTROUTING', '-s 127.0.0.0/8 -o %s -j MASQUERADE' % bridge, 'ports:' + bridge)
    link_rules(rs, state)
    return rs


# Up to this many port pairs in all, links are Docker's own rule pairs, value for value with the
# oracle; above it every icc-off bridge's pairs become members of one ipset per bridge matched by
# two rules. CNET-LINKS is one chain that every bridge's new connections walk, and each rule costs
# about 80 ns (bench/RESULTS.md: 10,000 links made a connect 8x slower), so the budget is counted
# over the whole chain, not per bridge.
LINK_SET_ABOVE = 32


def link_set_name(bridge):
    return 'CNET-L-' + bridge  # bridge names have at most 15 characters; ipset allows 31


def link_matching(state):
    """(whether links are matched by sets, {bridge with icc off: [(link key, receiver_ip, source_ip, ports)]})."""
    per_bridge = {}
    for key in sorted(state['links']):
        found = links.accept_ports(state, state['links'][key])
        if found and not state['bridges'][found[0]]['icc']:
            per_bridge.setdefault(found[0], []).append((key,) + found[1:])
    pairs = sum(len(entry[3]) for entries in per_bridge.values() for entry in entries)
    return pairs > LINK_SET_ABOVE, per_bridge


def link_rules(rs, state):
    """CNET-LINKS: two set-matching rules per bridge, or Docker's pairs link by link."""
    use_set, per_bridge = link_matching(state)
    if use_set:
        for bridge in sorted(per_bridge):
            name = link_set_name(bridge)
            rs.add_set(name, [links.set_entry(r_ip, s_ip, p) for key, r_ip, s_ip, ports in per_bridge[bridge]
                              for p in ports])
            for flags in ('dst,dst,src', 'src,src,dst'):  # request to the source, reply from it
                rs.add('filter', 'CNET-LINKS', '-i %s -o %s -m set --match-set %s %s -j ACCEPT'
                       % (bridge, bridge, name, flags), 'links:' + bridge)
        return
    by_key = dict((entry[0], (bridge,) + entry[1:]) for bridge, entries in per_bridge.items() for entry in entries)
    for key in sorted(by_key):
        bridge, r_ip, s_ip, ports = by_key[key]
        for rule in links.link_rules(r_ip, s_ip, bridge, ports):
            rs.add('filter', 'CNET-LINKS', rule, 'link:' + key)

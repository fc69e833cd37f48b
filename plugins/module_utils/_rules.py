# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy's rows (`_policy`) spelled for iptables, as iptables-save prints them back.

Pure: the same registry always renders the same rules, which is what makes a second run write
nothing and a firewall reload repairable by any run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.container_net.plugins.module_utils import _policy as policy
from ansible_collections.seed.container_net.plugins.module_utils._firewall import Ruleset

# Re-exported for the modules that report link matching.
link_matching = policy.link_matching
link_set_name = policy.link_set_name
localnet_bridges = policy.localnet_bridges
LINK_SET_ABOVE = policy.LINK_SET_ABOVE

# iptables-save prints the basic matches in this order, then the extensions as they were given.
BASIC = ('src', 'dst', 'iif', 'oif', 'proto')
FLAGS = {'src': '-s', 'dst': '-d', 'iif': '-i', 'oif': '-o', 'proto': '-p'}


def _neg(value):
    return ('! ', value[1:]) if isinstance(value, str) and value.startswith('!') else ('', value)


def _cidr(value):
    return value if '/' in value else value + ('/128' if ':' in value else '/32')


def _ports(span, sep):
    start, end = span
    return str(start) if start == end else '%d%s%d' % (start, sep, end)


def spell_match(match):
    """A row's match as iptables-save spells it."""
    values = dict(match)
    out = []
    for key in BASIC:
        if key in values:
            neg, value = _neg(values[key])
            out.append('%s%s %s' % (neg, FLAGS[key], _cidr(value) if key in ('src', 'dst') else value))
    for key, value in match:
        if key in ('dport', 'sport'):
            out.append('-m %s --%s %s' % (values['proto'], key, _ports(value, ':')))
        elif key == 'ctstate':
            out.append('-m conntrack --ctstate %s' % value)
        elif key == 'set':
            out.append('-m set --match-set %s %s' % value)
        elif key == 'dst_type':
            neg, value = _neg(value)
            out.append('-m addrtype %s--dst-type %s' % (neg, value))
        elif key == 'icmp6_type':
            out.append('-m icmp6 --icmpv6-type %d' % value)
        elif key == 'vni':  # the VXLAN header's VNI: 12 bytes into the UDP header, its top 24 bits
            out.append('-m u32 --u32 "0x0>>0x16&0x3c@0xc>>0x8=0x%x"' % value)
        elif key not in BASIC + ('family',):  # the family is the table's (iptables or ip6tables)
            raise ValueError('unknown match %s' % key)
    return ' '.join(out)


def spell_verdict(verdict):
    if isinstance(verdict, tuple) and verdict[0] == 'DNAT':
        dummy, ip, cport, hport = verdict
        to = '%s:%s' % ('[%s]' % ip if ':' in ip else ip, _ports(cport, '-'))
        if cport[0] != cport[1] and cport[0] != hport[0]:
            # A shifted range maps port by port: host hport[0]+k -> container cport[0]+k.
            to += '/%d' % hport[0]
        return 'DNAT --to-destination ' + to
    return verdict


def spell(row):
    """A row as `MATCHES -j TARGET` (Ruleset adds the chain and the owner's comment)."""
    matches = spell_match(row.match)
    return ('%s -j %s' % (matches, spell_verdict(row.verdict))) if matches else '-j %s' % spell_verdict(row.verdict)


def render(state, version=4):
    """The complete owned rule set for a registry document: iptables' (4) or ip6tables' (6, empty
    without a dual-stack bridge)."""
    rs = Ruleset()
    rows, sets = policy.rows(state)
    rows = policy.for_family(rows, version) if version == 4 or policy.dual_stack(state) else []
    sets = dict((name, members) for name, members in sets.items() if policy.set_family(name) == version)
    if not rows:
        return rs
    for chain in policy.FILTER_CHAINS:
        rs.declare('filter', chain)
    for row in rows:
        rs.add(row.table, row.chain, spell(row), row.owner)
    for name in sorted(sets):
        rs.add_set(name, sets[name])
    return rs


def render_pass(state, version=4):
    """Under the nftables backend, where iptables is installed: its FORWARD chain accepts the owned
    bridges' traffic. An nft accept ends only its own table's chain, so without this a DROP policy
    there (Docker sets one) would drop what the table allowed. Every packet to or from an owned
    bridge is also judged by the table, whose drops are final whichever hook runs first, so this
    opens nothing the table blocks."""
    rs = Ruleset()
    for name in sorted(b for b, rec in state['bridges'].items() if version == 4 or rec.get('subnet_v6')):
        for flag in ('-i', '-o'):
            rs.add('filter', 'CNET-FORWARD', '%s %s -j ACCEPT' % (flag, name), 'nft-pass:' + name)
    return rs


def link_rules(key, bridge, receiver_ip, source_ip, ports):
    """One link's Docker rule pair per port, as spelled in CNET-LINKS (without the owner's tag)."""
    return [spell(row) for row in policy.link_pair_rows(key, bridge, receiver_ip, source_ip, ports)]

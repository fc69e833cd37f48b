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


def render(state):
    """The complete owned rule set for a registry document."""
    rs = Ruleset()
    if not state['bridges']:
        return rs
    for chain in ('CNET-LINKS', 'CNET-PORTS', 'CNET-FORWARD'):
        rs.declare('filter', chain)
    for name in sorted(state['bridges']):
        bridge_rules(rs, name, state['bridges'][name])
    for key in sorted(state['links']):
        link = state['links'][key]
        resolved = links.resolve(state, link)
        if resolved and not state['bridges'][resolved['bridge']]['icc']:
            for rule in resolved['rules']:
                rs.add('filter', 'CNET-LINKS', rule, 'link:' + key)
    return rs

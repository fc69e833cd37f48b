# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables backend: the policy's rows (`_policy`) spelled as one owned table, written whole.

The collection owns `table inet container_net` and nothing else in the ruleset. Every change
rewrites the table in one `nft -f` transaction (declare, delete, define: the kernel swaps old for
new atomically, so no packet sees a half-written table). Links are one set of
(bridge . receiver . source . protocol . port) elements matched by two rules, whatever their
number; no ipset.

Hooks and priorities (`nft list chain` spells them so):
- `raw_prerouting` (prerouting, raw -300): before conntrack, as iptables' raw table;
- `forward` (forward, filter 0): the stages in the same order as CNET-FORWARD;
- `nat_prerouting`/`nat_output` (dstnat -100) and `nat_postrouting` (srcnat 100), as iptables' nat.
A drop in any table ends a packet, so every drop here keeps its meaning beside other tables. An
accept only ends this table's chain: another table's base chain on the same hook still judges the
packet. For iptables' FORWARD (Docker sets its policy to DROP) the backend keeps a pass there
(`_rules.render_pass`); firewalld's zones are the operator's (README, "Firewall backends").

Pure except `NftClient`, which runs nft.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.seed.container_net.plugins.module_utils import _policy as policy

TABLE = 'container_net'
FAMILY = 'inet'
QUALIFIED = '%s %s' % (FAMILY, TABLE)
LINK_SET = 'links'
LINK_SETS = ((4, LINK_SET, 'ip', 'ipv4_addr'), (6, 'links6', 'ip6', 'ipv6_addr'))
ICMP6_TYPES = {135: 'nd-neighbor-solicit', 136: 'nd-neighbor-advert'}
NFPROTO = {4: 'ipv4', 6: 'ipv6'}

# iptables chain of a row -> (nft chain, base chain declaration or None)
CHAINS = (
    ('CNET-RAW', 'raw_prerouting', 'type filter hook prerouting priority raw; policy accept;'),
    ('CNET-FORWARD', 'forward', 'type filter hook forward priority filter; policy accept;'),
    ('CNET-INPUT', 'input', 'type filter hook input priority filter; policy accept;'),
    ('CNET-ISOLATION', 'isolation', None),
    ('CNET-INGRESS', 'ingress', None),
    ('CNET-ICC', 'icc', None),
    ('CNET-EGRESS', 'egress', None),
    ('CNET-PORTS', 'published', None),
    ('CNET-LINKS', 'links', None),
    ('CNET-DNAT', 'published_dnat', None),
    ('CNET-POSTROUTING', 'nat_postrouting', 'type nat hook postrouting priority srcnat; policy accept;'),
)
NAMES = dict((chain, name) for chain, name, dummy in CHAINS)
# Published ports are reached for traffic to a local address, from outside and from the host.
DNAT_HOOKS = (
    ('nat_prerouting', 'type nat hook prerouting priority dstnat; policy accept;'),
    ('nat_output', 'type nat hook output priority -100; policy accept;'),  # dstnat is prerouting's word
)
CTSTATE = {policy.ESTABLISHED: 'ct state established,related', 'DNAT': 'ct status dnat'}
VERDICTS = {'ACCEPT': 'accept', 'DROP': 'drop', 'MASQUERADE': 'masquerade', 'RETURN': 'return'}


def _quote(name):
    return '"%s"' % name


def _value(key, value):
    """(operator, value) of a row's match value, '!' meaning not equal."""
    neg = isinstance(value, str) and value.startswith('!')
    value = value[1:] if neg else value
    if key in ('iif', 'oif'):
        value = _quote(value)
    return ('!= ' if neg else ''), value


def _ports(span):
    start, end = span
    return str(start) if start == end else '%d-%d' % (start, end)


def spell_match(match):
    """A row's match as nft statements, in the order nft prints them back."""
    values = dict(match)
    out = []
    if 'family' in values and not ('src' in values or 'dst' in values):
        out.append('meta nfproto %s' % NFPROTO[values['family']])
    for key, word in (('src', 'saddr'), ('dst', 'daddr'), ('iif', 'iifname'), ('oif', 'oifname')):
        if key in values:
            op, value = _value(key, values[key])
            if key in ('src', 'dst'):
                word = '%s %s' % ('ip6' if ':' in value else 'ip', word)
            out.append('%s %s%s' % (word, op, value))
    proto = values.get('proto')
    ports = [(k, values[k]) for k in ('dport', 'sport') if k in values]
    if proto and ports:
        out.extend('%s %s %s' % (proto, k, _ports(span)) for k, span in ports)
    elif proto:
        out.append('meta l4proto %s' % proto)
    if 'ctstate' in values:
        out.append(CTSTATE[values['ctstate']])
    if 'dst_type' in values:
        op, value = _value('dst_type', values['dst_type'])
        out.append('fib daddr type %s%s' % (op, value.lower()))
    if 'icmp6_type' in values:
        out.append('icmpv6 type %s' % ICMP6_TYPES[values['icmp6_type']])
    if 'vni' in values:  # the VXLAN header's VNI: bits 32-55 after the UDP header
        out.append('@th,96,24 0x%x' % values['vni'])
    unknown = set(values) - {'src', 'dst', 'iif', 'oif', 'proto', 'dport', 'sport', 'ctstate', 'dst_type',
                             'family', 'icmp6_type', 'vni'}
    if unknown:
        raise ValueError('no nft spelling for match %s' % ', '.join(sorted(unknown)))
    return out


def spell_verdict(verdict, proto=None):
    if isinstance(verdict, tuple) and verdict[0] == 'DNAT':
        dummy, ip, cport, hport = verdict
        family, addr = ('ip6', '[%s]' % ip) if ':' in ip else ('ip', ip)
        if cport[0] == hport[0] or cport[0] == cport[1]:
            # same ports either side (a range keeps each port), or many host ports to one
            return 'dnat %s to %s:%s' % (family, addr, _ports(cport))
        # a shifted range maps port by port: host hport[0]+k -> container cport[0]+k
        pairs = ', '.join('%d : %d' % (hport[0] + k, cport[0] + k) for k in range(cport[1] - cport[0] + 1))
        return 'dnat %s to %s : %s dport map { %s }' % (family, ip, proto, pairs)
    if verdict in VERDICTS:
        return VERDICTS[verdict]
    return 'jump ' + NAMES[verdict]


def spell(row):
    match = row.match
    if policy.family(row) == 6 and not any(k in ('src', 'dst', 'family') for k, dummy in match):
        match = (('family', 6),) + tuple(match)  # a DNAT to IPv6 from any address (`dnat ip` implies IPv4)
    return ' '.join(spell_match(match) + [spell_verdict(row.verdict, dict(row.match).get('proto'))])


def link_element(bridge, receiver_ip, source_ip, port):
    """One element of the link set: a request from receiver to source on an exposed port, on a bridge."""
    return '%s . %s . %s . %s . %d' % (_quote(bridge), receiver_ip, source_ip, port['proto'], port['port'])


def link_elements_by_family(state):
    """{4: [elements], 6: [elements]} of the link sets, from one pass over the links."""
    dummy, per_bridge = policy.link_matching(state)
    out = {4: set(), 6: set()}
    for bridge, entries in per_bridge.items():
        for key, receiver_ip, source_ip, ports in entries:
            out[6 if ':' in receiver_ip else 4].update(link_element(bridge, receiver_ip, source_ip, p) for p in ports)
    return dict((version, sorted(elements)) for version, elements in out.items())


def link_elements(state, version=4):
    return link_elements_by_family(state)[version]


def link_rows(set_name=LINK_SET, ip='ip'):
    """Request (receiver -> source port) and reply (source port -> receiver) both looked up in one set,
    by the bridge they go out of: the chain is entered only for traffic into a bridge (from the same
    bridge, or from a routed overlay's peer blocks), so that is the link's bridge either way."""
    return [
        'oifname . %s saddr . %s daddr . meta l4proto . th dport @%s accept' % (ip, ip, set_name),
        'oifname . %s daddr . %s saddr . meta l4proto . th sport @%s accept' % (ip, ip, set_name),
    ]


# Published ports without allowed sources, as maps and sets (kube-proxy's nftables model): one
# lookup per packet and one element per port, whatever their number. Per family:
# (name, type, rule, chain); ADDR is the family's address type, IP its payload keyword.
PORT_LOOKUPS = (
    ('ports', 'inet_proto . inet_service : ADDR . inet_service',
     'meta nfproto NFPROTO dnat IP to meta l4proto . th dport map @NAME', 'CNET-DNAT'),
    ('ports_addr', 'ADDR . inet_proto . inet_service : ADDR . inet_service',
     'meta nfproto NFPROTO dnat IP to IP daddr . meta l4proto . th dport map @NAME', 'CNET-DNAT'),
    ('published', 'ifname . ADDR . inet_proto . inet_service',
     'oifname . IP daddr . meta l4proto . th dport @NAME accept', 'CNET-PORTS'),
    ('hairpin', 'ADDR . ADDR . inet_proto . inet_service',
     'IP saddr . IP daddr . meta l4proto . th dport @NAME masquerade', 'CNET-POSTROUTING'),
)


def _span(span):
    return range(span[0], span[1] + 1)


def port_elements(row):
    """(lookup name, elements) of a published-port row that a map or set holds, or None for a row that
    stays a rule (one with allowed sources, or not a port's)."""
    if not row.owner.startswith('port:'):
        return None
    m = dict(row.match)
    if 'src' in m and row.chain != 'CNET-POSTROUTING':
        return None  # allowed sources: the few rules that name them
    version = policy.family(row)
    proto = m['proto']
    if row.chain == 'CNET-DNAT':
        dummy, ip, cport, dummy2 = row.verdict
        pairs = zip(_span(m['dport']), _span(cport))
        if 'dst' in m:
            return 'ports_addr%d' % version, ['%s . %s . %d : %s . %d' % (m['dst'], proto, h, ip, c) for h, c in pairs]
        return 'ports%d' % version, ['%s . %d : %s . %d' % (proto, h, ip, c) for h, c in pairs]
    if row.chain == 'CNET-PORTS':
        return 'published%d' % version, ['%s . %s . %s . %d' % (_quote(m['oif']), m['dst'], proto, p)
                                         for p in _span(m['dport'])]
    if row.chain == 'CNET-POSTROUTING' and m.get('src') == m.get('dst'):
        return 'hairpin%d' % version, ['%s . %s . %s . %d' % (m['src'], m['dst'], proto, p) for p in _span(m['dport'])]
    return None


def port_lookups(rows):
    """(rows left as rules, [(declaration lines, rule, chain)]) for the published-port lookups in use."""
    elements = {}
    rest = []
    for row in rows:
        found = port_elements(row)
        if found is None:
            rest.append(row)
        else:
            elements.setdefault(found[0], []).extend(found[1])
    lookups = []
    for version, addr, ip in ((4, 'ipv4_addr', 'ip'), (6, 'ipv6_addr', 'ip6')):
        for base, kind, rule, chain in PORT_LOOKUPS:
            name = '%s%d' % (base, version)
            if not elements.get(name):
                continue
            words = (('ADDR', addr), ('NFPROTO', NFPROTO[version]), ('IP', ip), ('NAME', name))
            for word, value in words:
                kind, rule = kind.replace(word, value), rule.replace(word, value)
            decl = ['\t%s %s {' % ('map' if ':' in kind else 'set', name), '\t\ttype ' + kind,
                    '\t\telements = { %s }' % ',\n\t\t\t     '.join(sorted(set(elements[name]))), '\t}']
            lookups.append((decl, rule, chain))
    return rest, lookups


def render(state):
    """The owned table as nft text (without the delete that precedes it), or '' when nothing is wanted."""
    rows, dummy = policy.rows(state)
    if not rows:
        return ''
    body = dict((chain, []) for chain, dummy, dummy in CHAINS)
    rows, lookups = port_lookups(rows)
    for row in rows:
        if row.chain == 'CNET-LINKS':
            continue  # Docker's pairs (and ipsets) are the iptables spelling; here one set holds them all
        body[row.chain].append(spell(row))
    lines = ['table %s {' % QUALIFIED]
    for decl, rule, chain in lookups:
        lines += decl
        body[chain].append(rule)
    by_family = link_elements_by_family(state)  # 10,000 links: matched once, not once per set
    for version, set_name, ip, addr_type in LINK_SETS:
        elements = by_family[version]
        if version == 6 and not policy.dual_stack(state):
            continue  # an IPv4-only host's table stays as it was
        if elements:
            body['CNET-LINKS'] += link_rows(set_name, ip)
        lines.append('\tset %s {' % set_name)
        lines.append('\t\ttype ifname . %s . %s . inet_proto . inet_service' % (addr_type, addr_type))
        if elements:
            lines.append('\t\telements = { %s }' % ',\n\t\t\t     '.join(elements))
        lines.append('\t}')
    if body['CNET-DNAT']:
        for name, hook in DNAT_HOOKS:
            lines += ['', '\tchain %s {' % name, '\t\t' + hook, '\t\tfib daddr type local jump %s' % NAMES['CNET-DNAT'],
                      '\t}']
    for chain, name, hook in CHAINS:
        if not body[chain] and chain not in ('CNET-LINKS', 'CNET-PORTS'):
            continue  # only a jump target exists empty; an unused stage is not jumped to (stage_rows)
        lines += ['', '\tchain %s {' % name]
        if hook:
            lines.append('\t\t' + hook)
        lines += ['\t\t' + rule for rule in body[chain]]
        lines.append('\t}')
    lines.append('}')
    return '\n'.join(lines) + '\n'


def payload(text, exists):
    """One transaction: make sure the table exists, delete it, define it anew (or leave it deleted)."""
    head = 'table %s\ndelete table %s\n' % (QUALIFIED, QUALIFIED) if exists or text else ''
    return head + text


def digest(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def listing_digest(listing):
    """A digest of `nft -j list table` that ignores what changes without anyone changing the table:
    handles, the listing's own metadata, and the order of set elements (hash order)."""
    try:
        items = json.loads(listing)['nftables']
    except (ValueError, KeyError, TypeError):
        return None
    out = []
    for item in items:
        if not isinstance(item, dict) or 'metainfo' in item:
            continue
        item = json.loads(json.dumps(item))
        for body in item.values():
            if isinstance(body, dict):
                body.pop('handle', None)
                if isinstance(body.get('elem'), list):
                    body['elem'] = sorted(body['elem'], key=lambda e: json.dumps(e, sort_keys=True))
        out.append(item)
    return digest(json.dumps(out, sort_keys=True))


def udp_dnat_ports(old_state, new_state):
    """Host UDP ports whose DNAT changes between two registry states (their conntrack entries are stale)."""
    def udp_dnat(state):
        return set(r for r in policy.rows(state)[0] if r.chain == 'CNET-DNAT' and dict(r.match)['proto'] == 'udp')
    ports = set()
    for row in udp_dnat(old_state) ^ udp_dnat(new_state):
        start, end = dict(row.match)['dport']
        ports.update(range(start, end + 1))
    return sorted(ports)


class NftClient:
    """The nft command: read the owned table, check and apply a transaction."""

    def __init__(self, run_command, nft_path):
        self._run = run_command
        self._nft = nft_path

    def read(self):
        """(whether the table exists, the digest of its listing)."""
        rc, out, err = self._run([self._nft, '-j', 'list', 'table', FAMILY, TABLE])
        if rc != 0:
            if 'No such file' in err:
                return False, None
            raise NftError('nft list table %s failed: %s' % (QUALIFIED, err.strip()))
        return True, listing_digest(out)

    def listing(self):
        """The table as nft prints it ('' when there is none), to show drift."""
        rc, out, err = self._run([self._nft, 'list', 'table', FAMILY, TABLE])
        return out if rc == 0 else ''

    def check(self, text):
        """`nft -c`: the kernel's verdict on a transaction, nothing applied."""
        self._apply(text, ['-c'])

    def apply(self, text):
        self._apply(text, [])

    def _apply(self, text, extra):
        if not text:
            return
        rc, out, err = self._run([self._nft] + extra + ['-f', '-'], data=text, binary_data=True)
        if rc != 0:
            raise NftError('nft -f failed for table %s: %s\n%s' % (QUALIFIED, err.strip(), text))


class NftError(Exception):
    pass

# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iptables chains the collection owns: render, read back, diff, one restore per table.

The collection owns every chain named CNET-* and exactly one jump per built-in chain into them
(tagged `cnet:jump`). Everything else in every table belongs to someone else and is never
rewritten: changes go through `iptables-restore --noflush`, which only re-declares (flushes)
the owned chains.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

OWNED_PREFIX = 'CNET-'
JUMP_COMMENT = 'cnet:jump'
BUILTIN_CHAINS = {
    'filter': ('INPUT', 'FORWARD', 'OUTPUT'),
    'nat': ('PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'),
    'raw': ('PREROUTING', 'OUTPUT'),
    'mangle': ('PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'),
}
# Where each owned entry chain is hooked in: (table, built-in chain, matches, owned chain).
JUMPS = (
    ('filter', 'INPUT', '', 'CNET-INPUT'),
    ('filter', 'FORWARD', '', 'CNET-FORWARD'),
    ('nat', 'PREROUTING', '-m addrtype --dst-type LOCAL ', 'CNET-DNAT'),
    ('nat', 'OUTPUT', '-m addrtype --dst-type LOCAL ', 'CNET-DNAT'),
    ('nat', 'POSTROUTING', '', 'CNET-POSTROUTING'),
    ('raw', 'PREROUTING', '', 'CNET-RAW'),
)
# Owned chains in the order they are declared (a chain is declared before any jump into it).
CHAIN_ORDER = ('CNET-LINKS', 'CNET-PORTS', 'CNET-ISOLATION', 'CNET-INGRESS', 'CNET-ICC', 'CNET-EGRESS', 'CNET-FORWARD',
               'CNET-INPUT', 'CNET-DNAT', 'CNET-POSTROUTING', 'CNET-RAW')


def comment(owner):
    """The tag every owned rule carries, in iptables-save's own spelling."""
    return '-m comment --comment "cnet:%s"' % owner


def jump_rule(builtin, matches, target):
    return '-A %s %s%s -j %s' % (builtin, matches, comment('jump'), target)


class Ruleset:
    """Desired owned content: {table: {chain: [rule lines '-A CHAIN ...']}}, filled by renderers."""

    def __init__(self):
        self.tables = {}
        self.sets = {}  # owned ipsets: {name: set of members in `ipset save` spelling}

    def declare(self, table, chain):
        """An owned chain that exists even while empty (it is the target of a jump)."""
        self.tables.setdefault(table, {}).setdefault(chain, [])

    def add(self, table, chain, rule, owner):
        """Append `rule` (matches and target, without '-A CHAIN') owned by `owner`."""
        matches, sep, target = rule.rpartition(' -j ') if not rule.startswith('-j ') else ('', ' -j ', rule[3:])
        if not sep:
            raise ValueError('rule without target: %s' % rule)
        line = '-A %s %s %s -j %s' % (chain, matches, comment(owner), target) if matches \
            else '-A %s %s -j %s' % (chain, comment(owner), target)
        self.tables.setdefault(table, {}).setdefault(chain, []).append(line)

    def add_set(self, name, members):
        self.sets.setdefault(name, set()).update(members)

    def rendered(self):
        """Per table: owned chains (declared even when empty) and the jumps into them."""
        out = {}
        for table, chains in self.tables.items():
            if not any(chains.values()):
                continue
            wanted = dict((c, list(r)) for c, r in chains.items())
            jumps = []
            for jt, builtin, matches, target in JUMPS:
                if jt == table and target in wanted:
                    jumps.append(jump_rule(builtin, matches, target))
            out[table] = {'chains': wanted, 'jumps': jumps}
        return out


def parse_save(text):
    """iptables-save output -> {table: {'chains': {owned: [rules]}, 'jumps': [...], 'other': [...]}}.

    'other' keeps every line that is not the collection's, to prove it is left untouched.
    """
    tables = {}
    table = None
    for line in text.splitlines():
        if line.startswith('*'):
            table = line[1:]
            tables[table] = {'chains': {}, 'jumps': [], 'other': []}
            continue
        if table is None or line.startswith('#') or line == 'COMMIT':
            continue
        entry = tables[table]
        if line.startswith(':'):
            name = line[1:].split(' ', 1)[0]
            if name.startswith(OWNED_PREFIX):
                entry['chains'].setdefault(name, [])
            else:
                entry['other'].append(line.rsplit(' ', 1)[0])  # counters vary; policy does not
        elif line.startswith('-A '):
            chain = line.split(' ', 2)[1]
            if chain.startswith(OWNED_PREFIX):
                entry['chains'].setdefault(chain, []).append(line)
            elif '--comment "%s"' % JUMP_COMMENT in line:
                entry['jumps'].append(line)
            else:
                entry['other'].append(line)
    return tables


def plan(actual, desired):
    """{table: restore payload} for every table whose owned content differs; {} when in sync."""
    payloads = {}
    for table in sorted(set(actual) | set(desired)):
        have = actual.get(table, {'chains': {}, 'jumps': []})
        want = desired.get(table, {'chains': {}, 'jumps': []})
        if have['chains'] == want['chains'] and sorted(have['jumps']) == sorted(want['jumps']):
            continue
        if not have['chains'] and not have['jumps'] and not want['chains']:
            continue
        payloads[table] = _payload(table, have, want)
    return payloads


def _order(chains):
    known = [c for c in CHAIN_ORDER if c in chains]
    return known + sorted(c for c in chains if c not in CHAIN_ORDER)


def _payload(table, have, want):
    lines = ['*' + table]
    # Declaring a chain flushes it, so stale rules go and jumps between owned chains stay valid.
    for chain in _order(set(want['chains']) | set(have['chains'])):
        lines.append(':%s - [0:0]' % chain)
    remaining = list(have['jumps'])
    for jump in have['jumps']:
        if remaining.count(jump) > (1 if jump in want['jumps'] else 0):
            remaining.remove(jump)
            lines.append('-D' + jump[2:])
    for chain in _order(set(have['chains']) - set(want['chains'])):
        lines.append('-X %s' % chain)
    for chain in _order(want['chains']):
        lines.extend(want['chains'][chain])
    for jump in reversed(want['jumps']):
        if jump not in remaining:
            builtin = jump.split(' ', 2)[1]
            lines.append('-I %s 1%s' % (builtin, jump[len('-A ') + len(builtin):]))
    lines.append('COMMIT')
    return '\n'.join(lines) + '\n'


# Link sets are hash:ip,port,ip; maxelem is a ceiling, not an allocation.
SET_CREATE = 'create %s hash:ip,port,ip family %s hashsize 1024 maxelem 1048576'


def parse_ipset_save(text):
    """`ipset save` output -> {owned set name: set of members}; other tools' sets are left out."""
    sets = {}
    for line in text.splitlines():
        words = line.split(' ', 2)
        if len(words) < 3 or not words[1].startswith(OWNED_PREFIX):
            continue
        if words[0] == 'create':
            sets.setdefault(words[1], set())
        elif words[0] == 'add':
            sets.setdefault(words[1], set()).add(words[2])
    return sets


def plan_sets(actual, desired):
    """(`ipset restore` payload run before the rules that use the sets, sets to destroy after
    the rules that used them are gone). Members are added and deleted one by one, so a
    connection allowed before and after the change is allowed throughout."""
    lines = []
    for name in sorted(desired):
        have = actual.get(name)
        if have is None:
            lines.append(SET_CREATE % (name, 'inet6' if name.startswith(OWNED_PREFIX + 'L6-') else 'inet'))
            have = set()
        lines.extend('del %s %s' % (name, m) for m in sorted(have - desired[name]))
        lines.extend('add %s %s' % (name, m) for m in sorted(desired[name] - have))
    return ''.join(line + '\n' for line in lines), sorted(set(actual) - set(desired))


def rule_diff(actual, desired, actual_sets=None, desired_sets=None):
    """Human-readable before/after of the owned rules and link sets, for diff mode."""
    def flat(tables, sets):
        out = []
        for table in sorted(tables):
            entry = tables[table]
            if not entry['chains'] and not entry['jumps']:
                continue
            out.append('*' + table)
            out.extend(sorted(entry['jumps']))
            for chain in _order(entry['chains']):
                out.extend(entry['chains'][chain])
        for name in sorted(sets or {}):
            out.append('ipset ' + name)
            out.extend('add %s %s' % (name, m) for m in sorted(sets[name]))
        return '\n'.join(out) + ('\n' if out else '')
    return flat(actual, actual_sets), flat(desired, desired_sets)


UDP_DNAT_RE = re.compile(r'^-A CNET-DNAT .*-p udp -m udp --dport (\d+)(?::(\d+))? .*-j DNAT ')


def udp_dnat_ports(actual, desired):
    """Host UDP ports whose DNAT rules appear, change or go away: their conntrack entries are
    stale (moby#8795: a client that kept sending keeps hitting the old destination)."""
    def rules(tables):
        return set(tables.get('nat', {}).get('chains', {}).get('CNET-DNAT', []))
    ports = set()
    for line in rules(actual) ^ rules(desired):
        m = UDP_DNAT_RE.match(line)
        if m:
            start = int(m.group(1))
            ports.update(range(start, int(m.group(2) or start) + 1))
    return sorted(ports)


class Firewall:
    """Reads all tables once, writes one iptables-restore transaction per changed table; one
    instance per family (iptables for IPv4, ip6tables for IPv6)."""

    def __init__(self, run_command, get_bin_path, version=4):
        self._run = run_command  # AnsibleModule.run_command
        self._bin = get_bin_path  # AnsibleModule.get_bin_path
        self.version = version
        self.cmd = 'ip6tables' if version == 6 else 'iptables'
        self._saved = None
        self._sets = None

    def installed(self):
        return bool(self._bin(self.cmd + '-save'))

    def saved(self):
        if self._saved is None:
            rc, out, err = self._run([self.cmd + '-save'])
            if rc != 0:
                raise FirewallError('%s-save failed: %s' % (self.cmd, err.strip()))
            self._saved = parse_save(out)
        return self._saved

    def actual(self):
        return dict((t, {'chains': e['chains'], 'jumps': e['jumps']}) for t, e in self.saved().items())

    def existing_tables(self):
        return set(self.saved())

    def has_nft(self):
        return bool(self._bin('nft'))

    def apply(self, payloads):
        for table in sorted(payloads):
            rc, out, err = self._run([self.cmd + '-restore', '--noflush', '--wait'], data=payloads[table],
                                     binary_data=True)
            if rc != 0:
                raise FirewallError('%s-restore failed for table %s: %s\n%s'
                                    % (self.cmd, table, err.strip(), payloads[table]))
        self._saved = None

    def actual_sets(self, needed):
        """The owned ipsets, read where ipset is installed. A plan that needs sets (`needed`: their
        names) fails here, before anything is changed, when ipset is missing or broken."""
        ipset = self._bin('ipset')
        if needed and not ipset:
            raise FirewallError('the links of %s are matched by ipset, but ipset is not installed: install the '
                                'ipset package (the host role does)' % ', '.join(needed))
        if self._sets is None:
            rc, out, err = self._run([ipset, 'save']) if ipset else (0, '', '')
            if rc != 0 and needed:
                raise FirewallError('ipset save failed: %s' % err.strip())
            mine = (lambda name: name.startswith(OWNED_PREFIX + 'L6-')) if self.version == 6 else \
                (lambda name: not name.startswith(OWNED_PREFIX + 'L6-'))  # sets of the other family are its own
            self._sets = dict((k, v) for k, v in (parse_ipset_save(out) if rc == 0 else {}).items() if mine(k))
        return self._sets

    def apply_sets(self, payload):
        if payload:
            self._restore_sets(payload)

    def destroy_sets(self, names):
        if names:
            self._restore_sets(''.join('destroy %s\n' % name for name in names))

    def _restore_sets(self, payload):
        rc, out, err = self._run([self._bin('ipset', required=True), 'restore'], data=payload, binary_data=True)
        if rc != 0:
            raise FirewallError('ipset restore failed: %s' % err.strip())
        self._sets = None

    def flush_udp_conntrack(self, ports):
        """Delete conntrack entries by original destination port (exit 1 means none matched)."""
        for port in ports:
            self._run(['conntrack', '-D', '-f', 'ipv6' if self.version == 6 else 'ipv4', '-p', 'udp',
                       '--orig-port-dst', str(port)])

    def drop_empty_tables(self, tables):
        """Of `tables` (created by the collection), those it may forget: gone, or deleted now
        because nft shows nothing at all left in them. iptables-legacy tables are forgotten,
        never deleted: `nft delete table` would hit an nft table of the same name instead."""
        rc, out, err = self._run([self.cmd, '-V'])
        if rc != 0 or '(nf_tables)' not in out:
            return sorted(tables)
        nft = self._bin('nft')
        existing = self.existing_tables()
        dropped = []
        for table in sorted(tables):
            if table not in existing:
                dropped.append(table)
                continue
            if not nft:
                continue
            family = 'ip6' if self.version == 6 else 'ip'
            rc, out, err = self._run([nft, '-j', 'list', 'table', family, table])
            # Another tool's rule, set or chain may appear between the look and the delete: nft's
            # command line cannot delete a table only if it is empty, so the two run back to back.
            if rc == 0 and nft_table_is_empty(out, table):
                rc, out, err = self._run([nft, 'delete', 'table', family, table])
                if rc == 0:
                    dropped.append(table)
        self._saved = None
        return dropped


def nft_table_is_empty(listing, table):
    """Whether `nft -j list table ip TABLE` shows only the table and its built-in base chains
    with policy accept: no rule, set, map, flowtable, stateful object or other chain."""
    try:
        items = json.loads(listing)['nftables']
    except (ValueError, KeyError, TypeError):
        return False
    if not isinstance(items, list):
        return False
    builtin = BUILTIN_CHAINS.get(table, ())
    for item in items:
        if not isinstance(item, dict) or not item:
            return False
        for kind, body in item.items():
            if kind in ('metainfo', 'table'):
                continue
            if kind == 'chain' and isinstance(body, dict) and body.get('name') in builtin \
                    and body.get('hook') == body['name'].lower() and body.get('policy') == 'accept':
                continue
            return False
    return True


class FirewallError(Exception):
    pass

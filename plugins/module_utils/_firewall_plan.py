# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall seam: which backend holds a host's rules, and the plan a run makes for it.

A run renders the whole registry's rows (`_policy`) for the host's backend and compares them with
what is there: iptables (`_firewall`, `_rules`: owned CNET-* chains, ipsets) or nftables (`_nft`:
one owned table). Both plans offer `_module` the same surface: `changed`, `drift()`, `diff()`,
`apply()`. The backend is kept in the registry so that every module on a host agrees; a switch is
one plan that writes the new backend's rules first and then removes the old one's, so a path that
must stay blocked is blocked by one or both at every moment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.seed.container_net.plugins.module_utils import _firewall as firewall
from ansible_collections.seed.container_net.plugins.module_utils import _nft as nft
from ansible_collections.seed.container_net.plugins.module_utils import _policy as policy
from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state

BACKENDS = ('iptables', 'nftables')
CHOICES = ('auto',) + BACKENDS
NFT_MIN = (1, 0)


class Host:
    """What the host offers, asked once per run and only when a choice needs it."""

    def __init__(self, run_command, get_bin_path):
        self.run = run_command
        self.bin = get_bin_path
        self._answers = {}

    def _ask(self, key, how):
        if key not in self._answers:
            self._answers[key] = how()
        return self._answers[key]

    def nft_version(self):
        """nft's version as a tuple, or None without nft."""
        def how():
            path = self.bin('nft')
            if not path:
                return None
            rc, out, err = self.run([path, '--version'])
            m = re.search(r'v(\d+)\.(\d+)', out)
            return (int(m.group(1)), int(m.group(2))) if rc == 0 and m else None
        return self._ask('nft', how)

    def iptables_variant(self):
        """'nf_tables', 'legacy', or None without iptables."""
        def how():
            if not self.bin('iptables'):
                return None
            rc, out, err = self.run(['iptables', '-V'])
            m = re.search(r'\((nf_tables|legacy)\)', out)
            return m.group(1) if m else ('legacy' if rc == 0 else None)
        return self._ask('iptables', how)


def choose(requested, recorded, host):
    """The backend for this run: the one asked for, else (auto) the registry's, else the host's best."""
    if requested == 'nftables':
        version = host.nft_version()
        if version is None or version < NFT_MIN:
            raise ParamError('firewall_backend: nftables needs nft >= %d.%d on the host (%s); install the nftables '
                             'package (the host role does) or use iptables'
                             % (NFT_MIN + ('found %d.%d' % version if version else 'nft not found',)))
        return requested
    if requested == 'iptables':
        if host.iptables_variant() is None:
            raise ParamError('firewall_backend: iptables is not installed on the host; install it or use nftables')
        return requested
    if requested not in (None, 'auto'):
        raise ParamError('firewall_backend: %r is not one of %s' % (requested, ', '.join(CHOICES)))
    if recorded in BACKENDS:
        return recorded
    version = host.nft_version()
    if version is not None and version >= NFT_MIN and host.iptables_variant() != 'legacy':
        return 'nftables'
    return 'iptables'


class IptablesPlan:
    """Owned CNET-* chains per table (one iptables-restore each) and link ipsets, of one family."""

    def __init__(self, fw, record, desired, flush_udp=True):
        """`record`: the registry's firewall section (created tables are remembered there); `desired`:
        the Ruleset wanted; `flush_udp`: whether the published UDP mappings are these rules' (not
        when nftables holds them and iptables only passes the bridges' traffic)."""
        self.fw = fw
        self.record = record
        self.flush_udp = flush_udp
        self.header = '%s (owned chains, link sets)' % fw.cmd
        self.tables_key = 'created_tables6' if fw.version == 6 else 'created_tables'
        self.prefix = 'ip6:' if fw.version == 6 else ''
        self.actual_rules = fw.actual()
        self.desired_rules, self.desired_sets = desired.rendered(), desired.sets
        self.payloads = firewall.plan(self.actual_rules, self.desired_rules)
        self.actual_sets = fw.actual_sets(needed=sorted(self.desired_sets))
        self.set_payload, self.unused_sets = firewall.plan_sets(self.actual_sets, self.desired_sets)
        self._track_tables()
        self.changed = bool(self.payloads or self.set_payload or self.unused_sets)

    def drift(self):
        return [self.prefix + t for t in sorted(self.payloads)] + \
            ([self.prefix + 'ipset'] if self.set_payload or self.unused_sets else [])

    def diff(self):
        # sorting 10,000 link set members is only worth it when shown
        return firewall.rule_diff(self.actual_rules, self.desired_rules, self.actual_sets, self.desired_sets)

    def check(self):
        """Nothing to ask beforehand: iptables-restore refuses a payload whole, at apply."""

    def apply(self):
        self.fw.apply_sets(self.set_payload)  # members first: the rules that use them follow
        self.fw.apply(self.payloads)
        self.fw.destroy_sets(self.unused_sets)
        if self.flush_udp:
            self.fw.flush_udp_conntrack(firewall.udp_dnat_ports(self.actual_rules, self.desired_rules))
        self._drop_tables()

    def _track_tables(self):
        """Remember tables the collection creates, so that it can remove them again when empty."""
        created = self.record.setdefault(self.tables_key, [])
        existing = self.fw.existing_tables()
        for table in self.payloads:
            if table not in existing and table not in created:
                created.append(table)
        created.sort()
        if not created and self.tables_key != 'created_tables':
            del self.record[self.tables_key]  # an IPv4-only host's record stays as it was

    def _drop_tables(self):
        created = self.record.get(self.tables_key, [])
        unused = [t for t in created if t not in self.desired_rules]
        if unused and self.fw.has_nft():
            for table in self.fw.drop_empty_tables(unused):
                created.remove(table)
        elif unused:
            for table in unused:  # iptables-legacy keeps its tables: nothing left to remove
                created.remove(table)
        if not created and self.tables_key != 'created_tables':
            self.record.pop(self.tables_key, None)


class NftPlan:
    """The owned table `inet container_net`, rewritten whole when it differs from the registry's.

    In sync means: the table's listing is the one recorded after the last write (a reload, a flush or
    a hand edit changes it) and the registry renders the same text as then."""

    header = 'nftables (table %s)' % nft.QUALIFIED

    def __init__(self, client, record, target, actual_state, flush=None):
        """`actual_state`: what the registry says is on the host; `flush(ports)`: drops UDP conntrack
        entries of changed mappings (None when the table is being removed after a switch)."""
        self.client = client
        self.record = record
        self.text = nft.render(target)
        self.actual_state = actual_state
        self.target = target
        self.flush = flush
        self.exists, listing = client.read()
        seen = record.get('nft') or {}
        if self.text:
            in_sync = self.exists and seen.get('rendered') == nft.digest(self.text) and seen.get('listing') == listing
        else:
            in_sync = not self.exists
        self.changed = not in_sync

    def drift(self):
        return [nft.QUALIFIED] if self.changed else []

    def diff(self):
        return (self.client.listing() if self.exists else ''), self.text

    def check(self):
        """`nft -c`: the kernel's verdict on the transaction, in check mode too."""
        if self.changed:
            self.client.check(nft.payload(self.text, self.exists))

    def apply(self):
        self.client.apply(nft.payload(self.text, self.exists))
        if self.text:
            self.exists, listing = self.client.read()
            self.record['nft'] = {'rendered': nft.digest(self.text), 'listing': listing}
        else:
            self.record.pop('nft', None)
        if self.flush is not None:
            self.flush(nft.udp_dnat_ports(self.actual_state, self.target))


class Plan:
    """The run's firewall plan: the chosen backend's, then the removal of any other backend's rules."""

    def __init__(self, parts):
        self.parts = parts
        self.changed = any(p.changed for p in parts)
        self.header = parts[0].header

    def drift(self):
        return [name for p in self.parts for name in p.drift()]

    def diff(self):
        befores, afters = [], []
        for p in self.parts:
            before, after = p.diff()
            if before or after:
                befores.append('# %s\n%s' % (p.header, before))
                afters.append('# %s\n%s' % (p.header, after))
        return ''.join(befores), ''.join(afters)

    def check(self):
        for p in self.parts:
            p.check()

    def apply(self):
        for p in self.parts:
            if p.changed:
                p.apply()


def plan(requested, old, new, previous, host):
    """The firewall plan of a run from `old` (what may be on the host) to `new` (records the backend).

    `previous`: backends the registry (and an unfinished run's journal) recorded."""
    record = new['firewall']
    backend = choose(requested, record.get('backend'), host)
    if new['bridges']:
        record['backend'] = backend
    else:  # nothing left to hold rules: the next first bridge chooses afresh
        record.pop('backend', None)
    fw = firewall.Firewall(host.run, host.bin)
    fw6 = firewall.Firewall(host.run, host.bin, version=6)
    # ip6tables is read where IPv6 is (or was) in use: an IPv4-only host's runs never touch it
    with_fw6 = fw6.installed() and (policy.dual_stack(new) or policy.dual_stack(old) or
                                    bool(record.get('created_tables6')))
    if backend == 'iptables' and policy.dual_stack(new) and not fw6.installed():
        raise ParamError('firewall_backend: the iptables backend holds the IPv6 rules of dual-stack bridges in '
                         'ip6tables, which is not installed; install it (the iptables package) or use nftables')
    if backend == 'nftables':
        def flush(ports):
            for f in (fw, fw6) if with_fw6 else (fw,):
                f.flush_udp_conntrack(ports)
        parts = [NftPlan(nft.NftClient(host.run, host.bin('nft', required=True)), record, new, old, flush=flush)]
        if host.iptables_variant() is not None or 'iptables' in previous:
            # iptables' FORWARD keeps passing what the table judged (and a switch from iptables ends here)
            parts.append(IptablesPlan(fw, record, rules.render_pass(new), flush_udp=False))
            if with_fw6:
                parts.append(IptablesPlan(fw6, record, rules.render_pass(new, 6), flush_udp=False))
    else:
        parts = [IptablesPlan(fw, record, rules.render(new))]
        if with_fw6:
            parts.append(IptablesPlan(fw6, record, rules.render(new, 6)))
        if 'nftables' in previous:
            parts.append(NftPlan(nft.NftClient(host.run, host.bin('nft', required=True)), record, empty_state(), old))
    return Plan(parts)

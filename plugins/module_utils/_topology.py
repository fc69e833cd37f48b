# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole host in one call: apply a declaration of bridges and containers (with their links and
published ports) to the registry, and plan the kernel steps for every object at once.

Each object is validated by the same functions the single-object modules use; every problem is
collected, so one run reports all of them before anything on the host changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.container_net.plugins.module_utils import _bridges as bridges
from ansible_collections.seed.container_net.plugins.module_utils import _containers as containers
from ansible_collections.seed.container_net.plugins.module_utils import _ipam as ipam
from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _overlay as overlay
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils import _wireguard as wireguard
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError


class Problems:
    """Collects ParamErrors with the place in the declaration they belong to."""

    def __init__(self):
        self.items = []

    def attempt(self, where, fn, *args):
        try:
            return fn(*args)
        except ParamError as e:
            self.items.append('%s: %s' % (where, e))
            return None

    def add(self, where, message):
        self.items.append('%s: %s' % (where, message))

    def raise_if_any(self):
        if self.items:
            raise ParamError('%d problem%s in the declaration, nothing was changed:\n- %s'
                             % (len(self.items), '' if len(self.items) == 1 else 's', '\n- '.join(self.items)))


def parse_link(entry):
    """`SOURCE[:ALIAS]` (Docker's --link) or {source, alias}."""
    if isinstance(entry, dict):
        unknown = set(entry) - set(('source', 'alias'))
        if unknown:  # a misspelt alias would otherwise fall back to the source's name
            raise ParamError("unknown keys %s (a link has source and alias)" % ', '.join(sorted(unknown)))
        return entry.get('source'), entry.get('alias') or entry.get('source')
    if isinstance(entry, (list, tuple)):
        raise ParamError("%r is neither SOURCE[:ALIAS] nor a dict with source and alias" % (entry,))
    source, dummy, alias = str(entry).partition(':')
    return source, alias or source


def _where(kind, i, entry):
    name = entry.get('name') if isinstance(entry, dict) else None
    return "%s[%d] '%s'" % (kind, i, name) if name else '%s[%d]' % (kind, i)


def _duplicates(problems, kind, entries):
    seen = {}
    for i, entry in enumerate(entries):
        name = entry.get('name')
        if name is None:
            problems.add('%s[%d]' % (kind, i), 'name is required')
        elif name in seen:
            problems.add(_where(kind, i, entry), 'duplicate name (also %s[%d])' % (kind, seen[name]))
        else:
            seen[name] = i
    return seen


def split_bridges(problems, bridge_decl, overlays):
    """Bridges declared with `overlay:` are overlays named by the bridge: (every overlay, where each
    was declared). Such a bridge's gateway, ranges and MTU come from the overlay, so setting them is
    refused rather than ignored."""
    out = list(overlays or [])
    fields = ['overlays[%d]' % i for i in range(len(out))]
    spec = bridges.argument_spec()
    for i, b in enumerate(bridge_decl):
        if b.get('overlay') is None:
            continue
        where = _where('bridges', i, b)
        taken = [k for k in sorted(spec) if k not in overlay.FROM_BRIDGE and b.get(k) not in (None, spec[k].get('default'))]
        if taken:
            problems.add(where, '%s: a bridge with overlay set takes only %s of the bridge options (the overlay '
                                'sets its gateways, ranges and MTU)' % (', '.join(taken), ', '.join(overlay.FROM_BRIDGE)))
        decl = dict(b['overlay'], name=b.get('name'))
        decl.update((k, b[k]) for k in overlay.FROM_BRIDGE if b.get(k) is not None)
        out.append(decl)
        fields.append('bridges[%d].overlay' % i)
    return out, fields


def declare_overlays(state, problems, overlays, hosts, me, netlink, reads, fields=None):
    """This host's share of the inventory's overlays as bridge records (with their `overlay` key);
    the names of the overlay bridges declared for this host. The whole inventory is checked, so a
    conflict on any host fails every host before any changes."""
    if not overlays:
        return []
    if me not in (hosts or {}):
        problems.add('host', "'%s' is not one of hosts (the inventory's hosts with their underlay addresses)" % me)
        return []
    planned = problems.attempt('overlays', overlay.plan, overlays, hosts, fields)
    if planned is None:
        return []
    mine = (hosts[me] or {}).get('underlay')
    if any(me in spec['members'] for spec in planned.values()) and mine not in reads.get('addresses'):
        problems.add('hosts', "'%s' underlay %s is not an address of this host (container_net_underlay_address)"
                     % (me, mine))
    names = []
    for i, name in enumerate(sorted(planned)):
        spec = planned[name]
        if me not in spec['members']:
            continue
        where = "overlays '%s'" % name
        if spec['encrypted']:
            problems.attempt(where, wireguard.check_tools, where)
        recorded = (state['bridges'].get(name) or {}).get('overlay')
        rec = problems.attempt(where, bridges.record, name, dict(bridges.DEFAULTS, **overlay.bridge_params(name, spec, me)),
                               state, netlink.link(name))
        if rec:
            rec['overlay'] = overlay.bridge_overlay(name, spec, me, recorded)
            if spec['mode'] == 'routed' and not spec['encrypted']:
                # the peers' blocks come in there only: a local container forging one gets nowhere
                rec['overlay']['underlay_interface'] = reads.get('addresses').get(mine)
            if spec['mode'] == 'vxlan':  # the block is a range of the subnet: its ends stay free
                block = ipam.netaddr.IPNetwork(spec['members'][me]['block'])
                rec['reserved'] = [str(block.network), str(block.broadcast)]
            state['bridges'][name] = rec
            names.append(name)
    return names


def check_routed_ranges(state, problems, overlay_names):
    """A routed overlay's whole range is routed here (the peers' blocks), not only this host's block;
    an encrypted overlay's tunnel range is on its WireGuard link. Neither may overlap a local bridge."""
    for name in overlay_names:
        overlay_rec = state['bridges'][name]['overlay']
        ranges = [('subnet', overlay_rec['subnet'])] if overlay_rec['mode'] == 'routed' else []
        if overlay_rec.get('encrypted'):
            ranges.append(('tunnel_subnet', str(ipam.netaddr.IPNetwork(overlay_rec['encrypted']['address']).cidr)))
        for what, cidr in ranges:
            for other, b in sorted(state['bridges'].items()):
                if ipam.overlaps(b['subnet'], cidr) and (other != name or what != 'subnet'):
                    problems.add("overlays '%s'" % name, "%s %s overlaps subnet %s of bridge '%s'"
                                 % (what, cidr, b['subnet'], other))


def declare_remote(state, problems, remote_decl, container_names, remote_hosts=None):
    """Containers other member hosts run on this host's overlays, and their links to this host's
    (None: as the registry has them, from the last run that named them). `remote_hosts`: the hosts
    `remote_decl` speaks for (a play limited to some hosts); the others' records stay as they are."""
    if remote_decl is None:
        return

    def replaced(name):
        record = state['remote'].get(name)
        return record is None or remote_hosts is None or record['host'] in remote_hosts
    for key in [k for k, l in state['links'].items()
                if l['receiver'] not in state['containers'] and replaced(l['receiver'])]:
        del state['links'][key]  # links of remote receivers are exactly the declared ones
    state['remote'] = dict((n, r) for n, r in state['remote'].items() if not replaced(n))
    wanted_links = []
    for i, entry in enumerate(remote_decl or []):
        where = _where('remote_containers', i, entry)
        rec = problems.attempt(where, overlay.remote_record, entry, state, where)
        if rec and entry['name'] in state['remote']:
            problems.add(where, "name '%s' is also a container of host '%s' on this host's overlays"
                         % (entry['name'], state['remote'][entry['name']]['host']))
        elif rec:
            state['remote'][entry['name']] = rec
            for j, link in enumerate(entry.get('links') or []):
                wanted_links.append(('%s links[%d]' % (where, j), entry['name'], link))
    for where, receiver, entry in wanted_links:
        parsed = problems.attempt(where, parse_link, entry)
        if parsed and parsed[0] in container_names:  # only a link into this host's containers concerns it
            rec = problems.attempt(where, links.record, state, receiver, parsed[0], parsed[1])
            if rec:
                state['links'][links.link_key(receiver, parsed[1])] = rec


def declare(state, bridge_decl, container_decl, prune, netlink, reads, overlays=None, hosts=None, me=None,
            remote_decl=None, defer_remote_links=False, remote_hosts=None):
    """Change registry `state` to the declaration; raise one ParamError listing every problem.
    `defer_remote_links`: a link whose source is neither declared here nor a known remote container
    is left for a later run (the first overlay phase, before the other hosts' facts exist)."""
    problems = Problems()
    overlays, overlay_fields = split_bridges(problems, bridge_decl, overlays)
    bridge_names = _duplicates(problems, 'bridges', bridge_decl)
    container_names = _duplicates(problems, 'containers', container_decl)
    if prune:
        for name in sorted(set(state['containers']) - set(container_names)):
            containers.forget(state, name)
    overlay_names = declare_overlays(state, problems, overlays, hosts, me, netlink, reads, overlay_fields)
    # a bridge with overlay set is on this host as a member only (a host that left it prunes it)
    bridge_names = dict((n, i) for n, i in bridge_names.items() if bridge_decl[i].get('overlay') is None)
    for name in overlay_names:
        if name in bridge_names:
            problems.add("overlays '%s'" % name, 'also declared in bridges')
    bridge_names = dict(bridge_names, **dict((n, -1) for n in overlay_names))
    for i, b in enumerate(bridge_decl):
        if b.get('overlay') is not None:
            continue  # an overlay (above)
        where = _where('bridges', i, b)
        rec = problems.attempt(where, bridges.record, b.get('name'), dict((k, b.get(k)) for k in bridges.argument_spec()),
                               state, netlink.link(b['name']) if b.get('name') else None)
        if rec:
            state['bridges'][b['name']] = rec
    check_routed_ranges(state, problems, overlay_names)
    for i, c in enumerate(container_decl):
        rec = problems.attempt(_where('containers', i, c), containers.record, c, state)
        if rec:
            state['containers'][c['name']] = rec
    declare_remote(state, problems, remote_decl, container_names, remote_hosts)
    for name in container_names:  # a declared container's links and ports are exactly the declared ones
        for key in [k for k, l in state['links'].items() if l['receiver'] == name]:
            del state['links'][key]
        state['ports'].pop(name, None)
    for i, c in enumerate(container_decl):
        where = _where('containers', i, c)
        if c.get('name') not in state['containers']:
            continue
        aliases = {}
        for j, entry in enumerate(c.get('links') or []):
            parsed = problems.attempt('%s links[%d]' % (where, j), parse_link, entry)
            if parsed is None:
                continue
            source, alias = parsed
            if alias in aliases:  # one receiver's alias names one link (the later would replace the earlier)
                problems.add('%s links[%d]' % (where, j), "alias '%s' is also the alias of links[%d]" % (alias, aliases[alias]))
                continue
            aliases[alias] = j
            if source not in container_names and source not in state['remote']:
                if defer_remote_links:
                    continue
                problems.add('%s links[%d]' % (where, j), "source '%s' is not a declared container (of this host or "
                                                          "of an overlay's remote_containers)" % source)
                continue
            rec = problems.attempt('%s links[%d]' % (where, j), links.record, state, c['name'], source, alias)
            if rec:
                state['links'][links.link_key(c['name'], alias)] = rec
        if c.get('ports') or c.get('publish_all'):
            rec = problems.attempt(where, ports.record, c['name'], c, state, reads)
            if rec:
                state['ports'][c['name']] = rec
    if prune:
        for name in sorted(set(state['bridges']) - set(bridge_names)):
            if problems.attempt("bridge '%s' (pruned)" % name, bridges.check_removable, state, name) is None \
                    and not bridges.attached(state, name):
                del state['bridges'][name]
    forget_stale_remote(state)
    problems.raise_if_any()


def remove(state, bridge_decl, container_decl, overlays=None):
    """Take the declared objects off the host (state: absent), containers before their bridges; the
    overlays' shares (and what the host knew of the other members) go with them."""
    for c in container_decl:
        containers.forget(state, c.get('name'))
    names = [b.get('name') for b in bridge_decl] + [o.get('name') for o in overlays or []]
    for name in names:
        if name in state['bridges']:
            bridges.check_removable(state, name)
            del state['bridges'][name]
    forget_stale_remote(state)


def forget_stale_remote(state):
    """Remote containers on no overlay of this host any more, and their links, go."""
    overlay_bridges = set(n for n, b in state['bridges'].items() if b.get('overlay'))
    for name in sorted(state['remote']):
        if not any(net['bridge'] in overlay_bridges for net in state['remote'][name]['networks']):
            del state['remote'][name]
            for key in [k for k, l in state['links'].items() if name in (l['receiver'], l['source'])]:
                del state['links'][key]


def host_steps(netlink, old, new, step, registry_dir):
    """Kernel steps for every bridge and container of `old` and `new`, from one dump of host links."""
    host_links = dict((l['name'], l) for l in netlink.links())
    out = []
    for name in sorted(new['bridges']):
        out.extend(bridges.steps(netlink, name, new['bridges'][name], host_links.get(name), step))
        out.extend(wireguard.steps(netlink, name, old, new, host_links, registry_dir, step))
        out.extend(overlay.steps(netlink, name, new, host_links, step))
    for name in sorted(set(old['containers']) | set(new['containers'])):
        out.extend(containers.steps(netlink, name, old['containers'].get(name), new['containers'].get(name),
                                    new['bridges'], step, host_links=host_links))
    for name in sorted(set(old['bridges']) - set(new['bridges'])):
        out.extend(overlay.steps(netlink, name, None, host_links, step))
        out.extend(wireguard.steps(netlink, name, old, None, host_links, registry_dir, step))
        out.extend(bridges.steps(netlink, name, None, host_links.get(name), step))
    out.extend(overlay.route_steps(netlink, old, new, step))
    return out


def overlay_facts(state, registry_dir):
    """This host's share of each overlay; an encrypted one's public key is for the other members."""
    out = {}
    for name in sorted(state['bridges']):
        rec = state['bridges'][name].get('overlay')
        if not rec:
            continue
        out[name] = {'mode': rec['mode'], 'underlay': rec['underlay'], 'subnet': rec['subnet'],
                     'peers': sorted(rec['peers'])}
        if rec.get('encrypted'):
            out[name].update(interface=rec['encrypted']['interface'], tunnel=rec['tunnel'],
                             wireguard_public_key=wireguard.public_key(registry_dir, name),
                             peers_without_key=sorted(m for m, s in rec['peers'].items() if not s.get('public_key')))
    return out


def facts(state, etc_dir, registry_dir=None):
    """Everything in force, by kind; link env values from the source's env are masked."""
    link_facts = {}
    for key in sorted(state['links']):
        link = state['links'][key]
        shared = links.where(state, link)  # not links.resolve: no env rendering for 10,000 links
        hosts_line = links.hosts_line(link['alias'], shared[2], links.container(state, link['source'])['hostname'],
                                      link['source']) if shared else None
        link_facts[key] = dict(link, bridge=shared[0] if shared else None, hosts_line=hosts_line)
    return {
        'bridges': dict((n, bridges.facts(state, n)) for n in sorted(state['bridges'])),
        'containers': dict((n, containers.facts(n, state['containers'][n], state['bridges'], etc_dir))
                           for n in sorted(state['containers'])),
        'links': link_facts,
        'ports': dict((n, ports.facts(state, n)) for n in sorted(state['ports'])),
        'remote_containers': dict((n, dict((k, v) for k, v in r.items() if k != 'env'))  # env values are secrets
                                  for n, r in sorted(state.get('remote', {}).items())),
        'overlays': overlay_facts(state, registry_dir) if registry_dir else {},
    }

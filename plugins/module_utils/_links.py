# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker legacy links (`--link SOURCE:ALIAS`) as pure functions: env vars, hosts lines, rules.

Ground truth is Docker 20.10's output (shared/spec/docker-20.10-links-oracle.txt); the rules
mirror moby's daemon/links/links.go.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError

# Docker's container name rule, also applied to link aliases (\Z: '$' would let a trailing newline in).
NAME_RE = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z')
HIDDEN_SOURCE_ENV = ('HOME', 'PATH')
# Every owned rule is tagged `cnet:KIND:NAME` in its comment, of which iptables keeps 255 bytes: a longer
# tag comes back cut short, so the rule never matches its rendering again (and two names could share one).
COMMENT_MAX = 255


def check_name(value, field):
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ParamError("%s %r is not a valid name: only [a-zA-Z0-9][a-zA-Z0-9_.-]* is allowed"
                         % (field, value))
    return value


def tag_room(kind):
    """How long the NAME of a rule tag `cnet:KIND:NAME` may be."""
    return COMMENT_MAX - len('cnet:%s:' % kind)


def link_key(receiver, alias):
    return '%s/%s' % (receiver, alias)


def env_prefix(alias):
    """Docker upper-cases the alias and turns '-' into '_'; other characters stay."""
    return alias.upper().replace('-', '_')


def port_sort_key(port):
    """Docker 20.10: by number; on the same number TCP first."""
    return (port['port'], 0 if port['proto'] == 'tcp' else 1, port['proto'])


def expand_ports(exposed):
    """Exposed entries ({port, end, proto}) -> single ports in Docker's order."""
    singles = []
    for entry in exposed:
        for number in range(entry['port'], entry.get('end', entry['port']) + 1):
            singles.append({'port': number, 'proto': entry['proto']})
    unique = dict(((p['port'], p['proto']), p) for p in singles)
    return sorted(unique.values(), key=port_sort_key)


def port_runs(ports):
    """Runs of consecutive numbers of one protocol, longer than one port: (proto, start, end)."""
    runs = []
    for proto in sorted(set(p['proto'] for p in ports)):
        numbers = [p['port'] for p in ports if p['proto'] == proto]
        start = prev = numbers[0]
        for n in numbers[1:] + [None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            if prev != start:
                runs.append((proto, start, prev))
            if n is not None:
                start = prev = n
    return runs


def render_link_env(receiver, alias, source_ip, exposed, source_env):
    """The variables a receiver gets for one link, in Docker's order (a list of (name, value))."""
    a = env_prefix(alias)
    env = [('%s_NAME' % a, '/%s/%s' % (receiver, alias))]
    ports = expand_ports(exposed)
    if ports:
        first = ports[0]
        env.append(('%s_PORT' % a, '%s://%s:%d' % (first['proto'], source_ip, first['port'])))
    for p in ports:
        base = '%s_PORT_%d_%s' % (a, p['port'], p['proto'].upper())
        env.extend([
            (base, '%s://%s:%d' % (p['proto'], source_ip, p['port'])),
            (base + '_ADDR', source_ip),
            (base + '_PORT', str(p['port'])),
            (base + '_PROTO', p['proto']),
        ])
    for proto, start, end in port_runs(ports):
        base = '%s_PORT_%d_%s' % (a, start, proto.upper())
        env.extend([
            (base + '_START', '%s://%s:%d' % (proto, source_ip, start)),
            (base + '_PORT_START', str(start)),
            (base + '_END', '%s://%s:%d' % (proto, source_ip, end)),
            (base + '_PORT_END', str(end)),
        ])
    for key in sorted(source_env or {}):
        if key not in HIDDEN_SOURCE_ENV:
            env.append(('%s_ENV_%s' % (a, key), source_env[key]))
    return env


def hosts_line(alias, source_ip, source_hostname, source_name):
    """`IP<TAB>ALIAS HOSTNAME NAME`, the name left out when it equals the alias."""
    names = [alias, source_hostname]
    if source_name != alias:
        names.append(source_name)
    return '%s\t%s' % (source_ip, ' '.join(names))


def shared_network(receiver, source):
    """The first of the receiver's networks that the source is on too: (bridge, r_ip, s_ip)."""
    source_nets = dict((n['bridge'], n['ip']) for n in source['networks'])
    for net in receiver['networks']:
        if net['bridge'] in source_nets:
            return net['bridge'], net['ip'], source_nets[net['bridge']]
    return None


def container(state, name):
    """A container of this host, or one another host of an overlay runs (`remote`)."""
    return state['containers'].get(name) or state.get('remote', {}).get(name)


def record(state, receiver, source, alias, field_prefix=''):
    """The registry record of link `receiver` <- `source` as `alias` (validated against the registry)."""
    f = field_prefix
    check_name(receiver, f + 'receiver')
    check_name(source, f + 'source')
    check_name(alias, f + 'alias')
    for field, name in ((f + 'receiver', receiver), (f + 'source', source)):
        if container(state, name) is None:
            raise ParamError("%s '%s' is not a container managed by seed.container_net.container_netns"
                             % (field, name))
    if receiver == source:
        raise ParamError("%ssource '%s' is the receiver itself: a container cannot link to itself" % (f, source))
    if receiver not in state['containers'] and source not in state['containers']:
        raise ParamError("%sreceiver '%s' and source '%s' both run on other hosts" % (f, receiver, source))
    if shared_network(container(state, receiver), container(state, source)) is None:
        raise ParamError("%ssource '%s' shares no network with receiver '%s'" % (f, source, receiver))
    if len(link_key(receiver, alias)) > tag_room('link'):
        raise ParamError("%salias '%s' makes the link %d characters long as RECEIVER/ALIAS; at most %d fit the tag "
                         "of its rules (cnet:link:RECEIVER/ALIAS)" % (f, alias, len(link_key(receiver, alias)), tag_room('link')))
    return {'receiver': receiver, 'source': source, 'alias': alias}


def where(state, link):
    """(bridge, receiver_ip, source_ip) of a link, or None while the two share no network."""
    return shared_network(container(state, link['receiver']), container(state, link['source']))


def ipv6_pair(state, link, bridge):
    """(receiver_ip6, source_ip6) on the link's shared bridge where both ends have IPv6 there, else None."""
    ends = []
    for name in (link['receiver'], link['source']):
        ip6 = next((n.get('ip6') for n in container(state, name)['networks'] if n['bridge'] == bridge), None)
        if not ip6:
            return None
        ends.append(ip6)
    return tuple(ends)


def accept_ports(state, link):
    """What a link lets through when icc is off, without rendering env or hosts lines:
    [(bridge, receiver_ip, source_ip, single ports)], one per family the two share (empty while
    they share no network). Docker 20.10 writes hosts lines with both addresses but accepts IPv4
    only, so a client that takes the IPv6 line first is dropped; here both families pass."""
    shared = where(state, link)
    if shared is None:
        return []
    ports = expand_ports(container(state, link['source'])['exposed_ports'])
    out = [shared + (ports,)]
    pair6 = ipv6_pair(state, link, shared[0])
    if pair6:
        out.append((shared[0],) + pair6 + (ports,))
    return out


def set_entry(receiver_ip, source_ip, port):
    """A link set member, in `ipset save` spelling: SOURCE,PROTO:PORT,RECEIVER (hash:ip,port,ip)."""
    return '%s,%s:%d,%s' % (source_ip, port['proto'], port['port'], receiver_ip)


def resolve(state, link):
    """Everything rendered for one link, from the registry as it is now (so never stale)."""
    receiver = container(state, link['receiver'])
    source = container(state, link['source'])
    shared = shared_network(receiver, source)
    if shared is None:
        return None
    bridge, receiver_ip, source_ip = shared
    pair6 = ipv6_pair(state, link, bridge)
    lines = [hosts_line(link['alias'], ip, source['hostname'], link['source'])
             for ip in (source_ip, pair6[1] if pair6 else None) if ip]
    return {
        'bridge': bridge,
        'receiver_ip': receiver_ip,
        'source_ip': source_ip,
        'source_ip6': pair6[1] if pair6 else None,
        # link variables are IPv4 (as Docker's with --ipv6 too); hosts lines name both addresses
        'env': render_link_env(link['receiver'], link['alias'], source_ip, source['exposed_ports'],
                               source.get('env')),
        'hosts_line': lines[0],
        'hosts_lines': lines,
    }

# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ports as Docker writes them (pure): exposed ports, `-p`/`-P` mappings, host port choice, clashes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._ipam import any_address as address_of
from ansible_collections.seed.container_net.plugins.module_utils._ipam import any_network as network_of

PROTOCOLS = ('tcp', 'udp', 'sctp')
# ASCII digits only, and \Z: '$' would also match before a trailing newline.
RANGE_RE = re.compile(r'([0-9]+)(?:-([0-9]+))?\Z')
BRACKETED_RE = re.compile(r'\[([^\]]*)\]:(.*)\Z')  # [IPv6]:HOSTPORT:CONTAINERPORT
WILDCARD = {4: '0.0.0.0', 6: '::'}
NUMBER_RE = re.compile(r'[0-9]+\Z')


def argument_spec():
    """Published-port options, shared by port_publish and container_net_topology."""
    return dict(
        ports=dict(type='list', elements='raw', default=[]),
        publish_all=dict(type='bool', default=False),
        allowed_sources=dict(type='list', elements='str', default=[]),
    )


def port_number(value, field):
    if not NUMBER_RE.match(str(value)) or not 1 <= int(value) <= 65535:
        raise ParamError("%s %r is not a port number (1-65535)" % (field, value))
    return int(value)


def port_range(text, field):
    """'N' or 'N-M' -> (N, M), both valid ports with N <= M."""
    m = RANGE_RE.match(str(text))
    if not m:
        raise ParamError("%s %r is not a port or a port range (N or N-M)" % (field, text))
    start = port_number(m.group(1), field)
    end = port_number(m.group(2), field) if m.group(2) else start
    if end < start:
        raise ParamError("%s '%s' is a range that ends before it starts" % (field, text))
    return start, end


def protocol(value, field):
    proto = (value or 'tcp').lower() if isinstance(value, str) or not value else None
    if proto not in PROTOCOLS:
        raise ParamError("%s '%s' has an unknown protocol (one of %s)" % (field, value, ', '.join(PROTOCOLS)))
    return proto


def _one_line(entry, field):
    """The entry as text without surrounding blanks; a newline, CR or NUL anywhere is refused, not stripped."""
    text = str(entry)
    if any(c in text for c in '\r\n\0'):
        raise ParamError("%s %r has a newline, carriage return or NUL in it" % (field, entry))
    return text.strip()


def parse_exposed(entries, field='exposed_ports'):
    """Docker's --expose forms -> sorted unique [{port, end?, proto}]."""
    out = {}
    for i, entry in enumerate(entries or []):
        item = '%s[%d]' % (field, i)
        text = _one_line(entry, item)
        ports, sep, proto = text.partition('/')
        start, end = port_range(ports, item)
        spec = {'port': start, 'proto': protocol(proto if sep else None, item)}
        if end != start:
            spec['end'] = end
        out[(start, end, spec['proto'])] = spec
    return [out[k] for k in sorted(out)]


def format_exposed(spec):
    if 'end' in spec:
        return '%d-%d/%s' % (spec['port'], spec['end'], spec['proto'])
    return '%d/%s' % (spec['port'], spec['proto'])


# ---- published ports (Docker -p / -P) -----------------------------------------------------------

def join_range(start, end):
    return str(start) if start == end else '%d-%d' % (start, end)


def parse_publish(entry, field):
    """One `-p` string or dict -> {host_ip, host_port, host_end, port, end, proto} (host_port None: pick one).

    Forms: [IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/PROTO], an IPv6 address in brackets
    (`[::]:8080:80`). Without an address: the bridge's host_binding_ipv4, and host_binding_ipv6
    too for a container with IPv6 (as Docker with --ipv6).
    """
    if isinstance(entry, dict):
        unknown = set(entry) - set(('host_ip', 'host_port', 'container_port', 'protocol'))
        if unknown:
            raise ParamError("%s has unknown keys: %s" % (field, ', '.join(sorted(unknown))))
        if entry.get('container_port') in (None, ''):
            raise ParamError("%s.container_port is required" % field)
        host_ip = entry.get('host_ip') or ''
        if not isinstance(host_ip, str):  # netaddr would read an integer as an address
            raise ParamError("%s.host_ip %r is not an IP address" % (field, host_ip))
        host = '' if entry.get('host_port') in (None, '') else str(entry['host_port'])
        container = str(entry['container_port'])
        proto = entry.get('protocol')
    elif not isinstance(entry, (str, int)) or isinstance(entry, bool):
        raise ParamError("%s %r is neither a -p string nor a dict" % (field, entry))
    else:
        text = _one_line(entry, field)
        bracketed = BRACKETED_RE.match(text)
        if '[' in text and (not bracketed or ':' not in bracketed.group(1)):
            raise ParamError("%s '%s' is not [IPV6]:[HOSTPORT]:CONTAINERPORT[/PROTO]" % (field, entry))
        host_ip6 = bracketed.group(1) if bracketed else None
        if bracketed:
            text = 'v6:' + bracketed.group(2)  # a placeholder address, so the split below sees three parts
        rest, sep, proto = text.partition('/')
        if sep and not proto:
            raise ParamError("%s '%s' has an empty protocol" % (field, entry))
        parts = rest.split(':')
        if len(parts) > 3 or not parts[-1]:
            raise ParamError("%s '%s' is not [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]" % (field, entry))
        container = parts[-1]
        host = parts[-2] if len(parts) >= 2 else ''
        host_ip = parts[0] if len(parts) == 3 else ''
        if host_ip6 is not None:
            if len(parts) != 3:
                raise ParamError("%s '%s' is not [IPV6]:[HOSTPORT]:CONTAINERPORT[/PROTO]" % (field, entry))
            host_ip = host_ip6
    start, end = port_range(container, field + ' container port')
    spec = {'host_ip': host_ip, 'port': start, 'end': end, 'proto': protocol(proto, field),
            'host_port': None, 'host_end': None}
    if host:
        hstart, hend = port_range(host, field + ' host port')
        if hend - hstart != end - start:
            raise ParamError("%s '%s': host range %s and container range %s have different sizes"
                             % (field, entry, join_range(hstart, hend), join_range(start, end)))
        spec['host_port'], spec['host_end'] = hstart, hend
    return spec


def overlapping(a, b):
    """Two mappings clash when protocol and host ports overlap on the same (or a wildcard) address."""
    if a['proto'] != b['proto'] or (':' in a['host_ip']) != (':' in b['host_ip']):
        return False  # IPv4 and IPv6 mappings are DNAT'ed in different families
    if a['host_ip'] != b['host_ip'] and not set(WILDCARD.values()) & set((a['host_ip'], b['host_ip'])):
        return False
    return a['host_port'] <= b['host_end'] and b['host_port'] <= a['host_end']


def free_block(size, low, high, reserved, busy):
    """Lowest run of `size` ports in [low, high] none of which is reserved or busy."""
    start = low
    while start + size - 1 <= high:
        clash = [p for p in range(start, start + size) if p in reserved or p in busy]
        if not clash:
            return start
        start = clash[-1] + 1
    return None


def parse_port_list(text):
    """ip_local_reserved_ports syntax: '8080,9000-9010' -> set of ports."""
    out = set()
    for part in (text or '').replace(' ', '').split(','):
        if part:
            a, dummy, b = part.partition('-')
            out.update(range(int(a), int(b or a) + 1))
    return out


def describe(mapping):
    """A mapping as `docker port` prints it: 5432/tcp -> 127.0.0.1:15432, 80/tcp -> [::]:8080."""
    host_ip = '[%s]' % mapping['host_ip'] if ':' in mapping['host_ip'] else mapping['host_ip']
    return '%s/%s -> %s:%s' % (join_range(mapping['port'], mapping['end']), mapping['proto'], host_ip,
                               join_range(mapping['host_port'], mapping['host_end']))


def listener_clash(host_ip, bound):
    """Whether sockets bound at `bound` (addresses, wildcards among them) take a mapping's host
    address: same family, and either side the wildcard or the same address."""
    version = 6 if ':' in host_ip else 4
    same = set(a for a in bound if (':' in a) == (version == 6))
    return bool(same) and (host_ip == WILDCARD[version] or host_ip in same or WILDCARD[version] in same)


class HostReads:
    """What assignment needs to know of the host, read lazily once (injected, so assign stays pure)."""

    def __init__(self, addresses, listeners, port_range):
        self._addresses, self._listeners, self._range = addresses, listeners, port_range
        self._cache = {}

    def get(self, key, *args):
        if (key,) + args not in self._cache:
            source = {'addresses': self._addresses, 'listeners': self._listeners, 'range': self._range}[key]
            self._cache[(key,) + args] = source(*args)
        return self._cache[(key,) + args]


def with_ipv6_twins(specs, default_ip6):
    """Docker with --ipv6: a mapping without a host address is published on both families, the
    IPv6 twin on the same host port (a random port is chosen once, for both)."""
    out = []
    for spec, field in specs:
        out.append((spec, field))
        if default_ip6 and not spec['host_ip']:
            out.append((dict(spec, host_ip=default_ip6, twin=True), field))
    return out


def check_host_ip(addr, field, reads, has_ipv6):
    if addr == '::1' or addr.startswith('::ffff:'):
        raise ParamError("%s host_ip '%s': the kernel does not route %s to a container (no IPv6 route_localnet); "
                         "publish on 127.0.0.1 or ::" % (field, addr, 'the IPv6 loopback' if addr == '::1'
                                                         else 'an IPv4-mapped address'))
    if ':' in addr and not has_ipv6:
        raise ParamError("%s host_ip '%s' is IPv6, but the container has no IPv6 address (its first network's bridge "
                         "has no subnet_v6)" % (field, addr))
    if addr not in WILDCARD.values() and not addr.startswith('127.') and addr not in reads.get('addresses'):
        raise ParamError("%s host_ip '%s' is not an address of this host" % (field, addr))


def assign(specs, default_ip, previous, others, reads, default_ip6=None):
    """Fill host addresses and ports of parsed specs; refuse clashes; keep ports chosen on earlier runs.

    `specs` are (spec, field) pairs; `previous` the container's mappings of the last run; `others`
    every other container's mappings (with their `owner`, for the error message); `default_ip6`:
    where mappings without an address are published too (None: IPv4 only).
    """
    done = []
    for spec, field in with_ipv6_twins(specs, default_ip6):
        twin = spec.pop('twin', False)
        spec = dict(spec, host_ip=spec['host_ip'] or default_ip)
        addr = address_of(spec['host_ip'], field + ' host_ip')
        check_host_ip(addr, field, reads, default_ip6 is not None)
        spec['host_ip'] = addr
        twin_of_random = twin and spec['host_port'] is None
        if twin_of_random:
            spec['host_port'], spec['host_end'] = done[-1]['host_port'], done[-1]['host_end']
        size = spec['end'] - spec['port']
        spec['random'] = twin_of_random or spec['host_port'] is None
        same = [m for m in previous if all(m[k] == spec[k] for k in ('host_ip', 'port', 'end', 'proto', 'random'))
                and (spec['random'] or m['host_port'] == spec['host_port'])]
        listeners = reads.get('listeners', spec['proto']) if spec['proto'] in ('tcp', 'udp') else {}
        if twin_of_random:
            pass  # the port its IPv4 twin took
        elif spec['random'] and same:
            spec['host_port'], spec['host_end'] = same[0]['host_port'], same[0]['host_end']
        elif spec['random']:
            low, high, reserved = reads.get('range')
            taken = set(p for m in others + done if m['proto'] == spec['proto']
                        for p in range(m['host_port'], m['host_end'] + 1))
            start = free_block(size + 1, low, high, reserved, taken | set(listeners))
            if start is None:
                raise ParamError("%s: no free host port left in %d-%d" % (field, low, high))
            spec['host_port'], spec['host_end'] = start, start + size
        for m in others + done:
            if overlapping(spec, m):
                owner = " of container '%s'" % m['owner'] if m.get('owner') else ''
                raise ParamError("%s %s clashes with published port %s%s" % (field, describe(spec), describe(m), owner))
        if not same:  # a port this mapping already held is not someone else's listener
            for port in range(spec['host_port'], spec['host_end'] + 1):
                bound = listeners.get(port, set())
                if listener_clash(spec['host_ip'], bound):
                    raise ParamError("%s %s clashes with a socket listening on %s:%d/%s"
                                     % (field, describe(spec), sorted(bound)[0], port, spec['proto']))
        done.append(spec)
    return done


def record(name, params, state, reads):
    """The registry entry of a container's published ports from port_publish's parameters."""
    container = state['containers'].get(name)
    if container is None:
        raise ParamError("container '%s' is not a container managed by seed.container_net.container_netns" % name)
    bridge_name = container['networks'][0]['bridge']
    bridge = state['bridges'][bridge_name]
    if bridge['internal']:
        raise ParamError("container '%s' is on internal bridge '%s', which cannot publish ports" % (name, bridge_name))
    sources = [str(network_of(c, 'allowed_sources[%d]' % i).cidr)
               for i, c in enumerate(params.get('allowed_sources') or [])]
    specs = [(parse_publish(p, 'ports[%d]' % i), 'ports[%d]' % i) for i, p in enumerate(params.get('ports') or [])]
    if params.get('publish_all'):
        for exposed in container['exposed_ports']:
            specs.append(({'host_ip': '', 'port': exposed['port'], 'end': exposed.get('end', exposed['port']),
                           'proto': exposed['proto'], 'host_port': None, 'host_end': None},
                          'publish_all (%s)' % format_exposed(exposed)))
    previous = state['ports'].get(name, {}).get('mappings', [])
    others = [dict(m, owner=c) for c, e in state['ports'].items() if c != name for m in e['mappings']]
    # as Docker: a mapping without an address gets its IPv6 twin only where the IPv4 default is the
    # wildcard (a bridge bound to 127.0.0.1 publishes there alone)
    default_ip6 = bridge.get('host_binding_ipv6') if container['networks'][0].get('ip6') and \
        bridge['host_binding_ipv4'] == '0.0.0.0' else None
    mappings = assign(specs, bridge['host_binding_ipv4'], previous, others, reads, default_ip6)
    return {'mappings': mappings, 'allowed_sources': sources, 'publish_all': bool(params.get('publish_all'))}


def facts(state, name):
    entry = state['ports'].get(name)
    if not entry:
        return {}
    return {
        'container': name,
        'container_ip': state['containers'][name]['networks'][0]['ip'],
        'container_ip6': state['containers'][name]['networks'][0].get('ip6'),
        'mappings': [{'host_ip': m['host_ip'], 'host_port': m['host_port'], 'host_port_end': m['host_end'],
                      'container_port': m['port'], 'container_port_end': m['end'], 'protocol': m['proto'],
                      'random': m['random']} for m in entry['mappings']],
        'docker_port': [describe(m) for m in entry['mappings']],
        'allowed_sources': entry['allowed_sources'],
    }

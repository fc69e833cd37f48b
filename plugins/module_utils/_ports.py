# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port specifications as Docker writes them (pure): exposed ports `N[-M][/proto]`."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError

PROTOCOLS = ('tcp', 'udp', 'sctp')
RANGE_RE = re.compile(r'^(\d+)(?:-(\d+))?$')


def port_number(value, field):
    if not str(value).isdigit() or not 1 <= int(value) <= 65535:
        raise ParamError("%s '%s' is not a port number (1-65535)" % (field, value))
    return int(value)


def port_range(text, field):
    """'N' or 'N-M' -> (N, M), both valid ports with N <= M."""
    m = RANGE_RE.match(str(text))
    if not m:
        raise ParamError("%s '%s' is not a port or a port range (N or N-M)" % (field, text))
    start = port_number(m.group(1), field)
    end = port_number(m.group(2), field) if m.group(2) else start
    if end < start:
        raise ParamError("%s '%s' is a range that ends before it starts" % (field, text))
    return start, end


def protocol(value, field):
    proto = (value or 'tcp').lower()
    if proto not in PROTOCOLS:
        raise ParamError("%s '%s' has an unknown protocol (one of %s)" % (field, value, ', '.join(PROTOCOLS)))
    return proto


def parse_exposed(entries, field='exposed_ports'):
    """Docker's --expose forms -> sorted unique [{port, end?, proto}]."""
    out = {}
    for i, entry in enumerate(entries or []):
        item = '%s[%d]' % (field, i)
        text = str(entry).strip()
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

def _join_range(start, end):
    return str(start) if start == end else '%d-%d' % (start, end)


def parse_publish(entry, field):
    """One `-p` string or dict -> {host_ip, host_port, host_end, port, end, proto} (host_port None: pick one).

    Forms: [IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/PROTO]; IPv4 only.
    """
    if isinstance(entry, dict):
        unknown = set(entry) - set(('host_ip', 'host_port', 'container_port', 'protocol'))
        if unknown:
            raise ParamError("%s has unknown keys: %s" % (field, ', '.join(sorted(unknown))))
        if entry.get('container_port') in (None, ''):
            raise ParamError("%s.container_port is required" % field)
        host_ip = entry.get('host_ip') or ''
        host = '' if entry.get('host_port') in (None, '') else str(entry['host_port'])
        container = str(entry['container_port'])
        proto = entry.get('protocol')
    else:
        text = str(entry).strip()
        if '[' in text:
            raise ParamError("%s '%s': IPv6 host addresses are not supported" % (field, entry))
        rest, sep, proto = text.partition('/')
        if sep and not proto:
            raise ParamError("%s '%s' has an empty protocol" % (field, entry))
        parts = rest.split(':')
        if len(parts) > 3 or not parts[-1]:
            raise ParamError("%s '%s' is not [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]" % (field, entry))
        container = parts[-1]
        host = parts[-2] if len(parts) >= 2 else ''
        host_ip = parts[0] if len(parts) == 3 else ''
    start, end = port_range(container, field + ' container port')
    spec = {'host_ip': host_ip, 'port': start, 'end': end, 'proto': protocol(proto, field),
            'host_port': None, 'host_end': None}
    if host:
        hstart, hend = port_range(host, field + ' host port')
        if hend - hstart != end - start:
            raise ParamError("%s '%s': host range %s and container range %s have different sizes"
                             % (field, entry, _join_range(hstart, hend), _join_range(start, end)))
        spec['host_port'], spec['host_end'] = hstart, hend
    return spec


def overlapping(a, b):
    """Two mappings clash when protocol and host ports overlap on the same (or a wildcard) address."""
    if a['proto'] != b['proto']:
        return False
    if a['host_ip'] != b['host_ip'] and '0.0.0.0' not in (a['host_ip'], b['host_ip']):
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
    """A mapping as `docker port` prints it: 5432/tcp -> 127.0.0.1:15432."""
    return '%s/%s -> %s:%s' % (_join_range(mapping['port'], mapping['end']), mapping['proto'], mapping['host_ip'],
                               _join_range(mapping['host_port'], mapping['host_end']))

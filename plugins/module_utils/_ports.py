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

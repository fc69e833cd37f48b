# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names on user-defined networks (bridges with `dns: true`): what each container may resolve, and
the DNS wire format the host's one resolver speaks.

Everything here is pure: `view(state)` turns the registry into the resolver's view, `decide()`
answers one question for one asker, `parse_query`/`build_response` are the wire format (RFC 1035).
The resolver process (`_dns_server.py`) only moves bytes between sockets and these functions.

Scoping is Docker's: the asker is known by its source address; it resolves the names of every DNS
network it is attached to (all of them, so a container on two networks never stops at the first
one's NXDOMAIN), plus the aliases of its links that sit on a network it shares with the source.
No name of a network it is not on ever answers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
import struct

from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError

TTL = 600  # Docker's embedded DNS
MAX_UDP = 512
MAX_TCP = 65535
TYPE_A, TYPE_PTR, TYPE_AAAA, TYPE_ANY = 1, 12, 28, 255
CLASS_IN = 1
RCODE_OK, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_NOTIMP, RCODE_REFUSED = 0, 1, 2, 3, 4, 5
# One label: letters, digits, '-' and '_' (Docker and Compose names use '_'), not starting or ending with '-'.
LABEL_RE = re.compile(r'(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z')


def check_dns_name(value, field):
    """A name other containers will look up: one or more valid labels, at most 253 characters."""
    if not isinstance(value, str) or not value or len(value) > 253 or \
            not all(LABEL_RE.match(label) for label in value.rstrip('.').split('.')):
        raise ParamError("%s %r is not a valid DNS name (labels of 1-63 letters, digits, '-' or '_', "
                         "separated by dots, 253 characters at most)" % (field, value))
    return value


def _key(name):
    return name.rstrip('.').lower()


def addresses(net):
    """A container's addresses on one network: IPv4, and IPv6 on a dual-stack one."""
    return [net['ip']] + ([net['ip6']] if net.get('ip6') else [])


def _networks(state):
    """Per DNS network its names and reverse entries; per container its (bridge, ip) on them."""
    networks = {}
    for bridge, rec in state['bridges'].items():
        if rec.get('dns'):
            networks[bridge] = {'gateway': rec['gateway'], 'internal': bool(rec.get('internal')),
                                'names': {}, 'ptr': {}}
    members = {}  # container -> [(bridge, ip)] on DNS networks, in its own order
    remote = state.get('remote', {})
    for cname in sorted(state['containers']) + sorted(remote):
        local = cname in state['containers']
        for net in (state['containers'][cname] if local else remote[cname])['networks']:
            if net['bridge'] not in networks:
                continue
            table = networks[net['bridge']]
            addrs = addresses(net)
            for name in [cname, '%s.%s' % (cname, net['bridge'])] + list(net.get('aliases') or []):
                ips = table['names'].setdefault(_key(name), [])
                ips.extend(ip for ip in addrs if ip not in ips)
            for ip in addrs:
                table['ptr'][ip] = cname
            # every container's (bridge, ip) here: a remote one is named (and a link source) here, and
            # asks its own host's resolver
            members.setdefault(cname, []).append((net['bridge'], net['ip']))
            if net.get('ip6'):  # an asker may come over either family
                members[cname].append((net['bridge'], net['ip6']))
    return networks, members


def names(state):
    """What resolves where: {'networks': {bridge: {name: [ips]}}, 'links': {receiver: {alias: [ips]}}}."""
    networks, members = _networks(state)
    return {'networks': dict((b, net['names']) for b, net in networks.items()),
            'links': _link_aliases(state, members)}


def render_names(state):
    """`names(state)` one per line, for diff mode: `NETWORK NAME IP...` and `link RECEIVER ALIAS IP...`."""
    table = names(state)
    lines = ['%s %s %s' % (bridge, name, ' '.join(ips))
             for bridge, entries in sorted(table['networks'].items()) for name, ips in sorted(entries.items())]
    lines += ['link %s %s %s' % (receiver, alias, ' '.join(ips))
              for receiver, aliases in sorted(table['links'].items()) for alias, ips in sorted(aliases.items())]
    return ''.join(line + '\n' for line in lines)


def view(state):
    """The resolver's view of the registry: {'listen': {bridge: gateway}, 'networks': {bridge:
    {'names': {name: [ips]}, 'ptr': {ip: name}}}, 'askers': {ip: {'networks': [bridges], 'links':
    {alias: [ips]}, 'forward': bool, 'upstreams': [...]}}}.

    An asker refers to its networks' tables rather than holding a merged copy: the view grows with
    the memberships, not with askers times names (10,000 containers on one network)."""
    networks, members = _networks(state)
    link_aliases = _link_aliases(state, members)
    askers = {}
    for cname, nets in members.items():
        container = state['containers'].get(cname)
        if container is None:
            continue  # another host's container asks its own host's resolver
        entry = {'container': cname, 'networks': sorted(set(b for b, dummy in nets), key=[b for b, d in nets].index),
                 'links': link_aliases.get(cname, {}),
                 'forward': any(not networks[b]['internal'] for b, dummy in nets),
                 'upstreams': list(container.get('dns') or [])}
        for dummy, ip in nets:
            askers[ip] = entry
    return {'listen': dict((b, n['gateway']) for b, n in networks.items()), 'askers': askers,
            'networks': dict((b, {'names': n['names'], 'ptr': n['ptr']}) for b, n in networks.items())}


def _lookup(zone, entry, key):
    """The addresses of `key` for an asker: its link aliases first (its own), else every network's."""
    if key in entry['links']:
        return list(entry['links'][key])
    found = None
    for bridge in entry['networks']:
        ips = zone['networks'][bridge]['names'].get(key)
        if ips:
            found = (found or []) + [ip for ip in ips if ip not in (found or [])]
    return found


def _link_aliases(state, members):
    """receiver -> {alias: [source ips]} for links whose ends share a DNS network (Docker resolves a
    link's alias on a user-defined network for the receiver only); the source may be on another
    member of an overlay."""
    out = {}
    for key in sorted(state['links']):
        link = state['links'][key]
        receiver, source = link['receiver'], link['source']
        if receiver not in state['containers']:
            continue  # answered by the receiver's own host
        shared = set(b for b, dummy in members.get(receiver, [])) & set(b for b, dummy in members.get(source, []))
        ips = [ip for b, ip in members.get(source, []) if b in shared]
        if ips and link.get('alias'):
            out.setdefault(receiver, {})[_key(link['alias'])] = ips
    return out


def reverse_address(key):
    """The address a PTR name stands for (in-addr.arpa, or ip6.arpa with 32 nibbles), else None."""
    if key.endswith('.in-addr.arpa'):
        return '.'.join(reversed(key[:-len('.in-addr.arpa')].split('.')))
    if key.endswith('.ip6.arpa'):
        nibbles = key[:-len('.ip6.arpa')].split('.')
        if len(nibbles) != 32 or not all(len(n) == 1 and n in '0123456789abcdef' for n in nibbles):
            return None
        digits = ''.join(reversed(nibbles))
        return str(ipaddress.IPv6Address(int(digits, 16)))
    return None


def decide(zone, asker, qname, qtype):
    """What to do with one question from `asker`: ('answer', rcode, [rdata]) or ('forward', upstreams).

    rdata is an IPv4 address string for A, a name for PTR. An unknown asker is refused: the
    resolver serves the containers of its networks, nobody else."""
    entry = zone['askers'].get(asker)
    if entry is None:
        return ('answer', RCODE_REFUSED, [])
    key = _key(qname)
    ip = reverse_address(key) if qtype == TYPE_PTR else None
    if ip is not None:
        for bridge in entry['networks']:
            if ip in zone['networks'][bridge]['ptr']:
                return ('answer', RCODE_OK, [zone['networks'][bridge]['ptr'][ip]])
    else:
        ips = _lookup(zone, entry, key)
        if ips:
            # the name is ours: A and AAAA answer with the addresses of their family, any other type
            # is an empty answer (AAAA of an IPv4-only container must not be NXDOMAIN, or resolvers
            # give up on the A they also asked for)
            wanted = {TYPE_A: (False,), TYPE_AAAA: (True,), TYPE_ANY: (False, True)}.get(qtype, ())
            return ('answer', RCODE_OK, [a for a in ips if (':' in a) in wanted])
    if not entry['forward']:
        return ('answer', RCODE_NXDOMAIN, [])  # internal networks never ask outside
    return ('forward', entry['upstreams'])


# ---- wire format ---------------------------------------------------------------------------------
class FormatError(ValueError):
    """Not a DNS query we can answer (too short, bad name, not a query)."""


def _read_name(data, offset):
    """A name and the offset after it. Pointers may only point back (a forward one would land in
    the answer the response appends), and a name is at most 255 bytes (RFC 1035 3.1)."""
    labels, end, size = [], None, 1
    while True:
        if offset >= len(data):
            raise FormatError('name runs past the message')
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise FormatError('bad compression pointer')
            target = ((length & 0x3F) << 8) | data[offset + 1]
            if target >= offset:  # also ends any loop: every jump goes strictly back
                raise FormatError('compression pointer does not point back')
            if end is None:
                end = offset + 2
            offset = target
            continue
        if length & 0xC0:
            raise FormatError('bad label type')
        offset += 1
        if length == 0:
            break
        size += length + 1
        if size > 255:
            raise FormatError('name longer than 255 bytes')
        labels.append(data[offset:offset + length].decode('ascii', 'replace'))
        offset += length
    return '.'.join(labels), (end if end is not None else offset)


def is_query(data):
    """A message with a whole header that is not a response: anything else gets no answer at all
    (answering responses can start a loop between two servers)."""
    return len(data) >= 12 and not data[2] & 0x80


def opcode(flags):
    return (flags >> 11) & 0xF


def parse_query(data):
    """(id, flags, qname, qtype, qclass, question_end) of a query with one question."""
    if not is_query(data):
        raise FormatError('not a query')
    qid, flags, qdcount = struct.unpack('!HHH', data[:6])
    if qdcount != 1:
        raise FormatError('not a query with one question')
    qname, offset = _read_name(data, 12)
    if offset + 4 > len(data):
        raise FormatError('question runs past the message')
    qtype, qclass = struct.unpack('!HH', data[offset:offset + 4])
    return qid, flags, qname, qtype, qclass, offset + 4


def _encode_name(name):
    out = b''
    for label in name.rstrip('.').split('.'):
        if label:
            raw = label.encode('ascii')
            out += struct.pack('!B', len(raw)) + raw
    return out + b'\x00'


def build_response(query, rcode, qtype, rdata, max_size=None):
    """The answer to `query` (its bytes): header, its own question, one record per rdata.

    Authoritative, recursion available. Past `max_size`: over UDP (512) truncated, TC set and no
    records, so the client asks again over TCP; over TCP (65535) as many records as fit."""
    qid, flags, dummy, dummy2, dummy3, qend = parse_query(query)
    answers = []
    for value in rdata:
        if qtype == TYPE_PTR:
            rtype, payload = TYPE_PTR, _encode_name(value)
        elif ':' in value:
            rtype, payload = TYPE_AAAA, ipaddress.IPv6Address(value).packed
        else:
            rtype, payload = TYPE_A, bytes(int(o) for o in value.split('.'))
        # 0xC00C: the question's name at offset 12
        answers.append(struct.pack('!HHHIH', 0xC00C, rtype, CLASS_IN, TTL, len(payload)) + payload)
    out_flags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    question = query[12:qend]
    if max_size is not None and 12 + len(question) + sum(len(a) for a in answers) > max_size:
        if max_size <= MAX_UDP:
            out_flags |= 0x0200
            answers = []
        else:
            room = max_size - 12 - len(question)
            kept = []
            for a in answers:
                if len(a) > room:
                    break
                kept.append(a)
                room -= len(a)
            answers = kept
    return struct.pack('!HHHHHH', qid, out_flags, 1, len(answers), 0, 0) + question + b''.join(answers)


def error_response(query, rcode):
    """A header-only answer with `rcode` (FORMERR needs only the id and the opcode)."""
    if len(query) < 4:
        return None
    qid, flags = struct.unpack('!HH', query[:4])
    return struct.pack('!HHHHHH', qid, 0x8000 | (flags & 0x7900) | 0x0080 | rcode, 0, 0, 0, 0)


def upstreams_from_resolv_conf(text):
    """nameserver lines of the host's resolv.conf, at most 3 as glibc reads them; loopback stubs
    (127.0.0.53) included: the resolver dials them from the host's own namespace."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ['nameserver'] and len(words) > 1:
            out.append(words[1])
    return out[:3]

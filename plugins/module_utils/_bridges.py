# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bridge: its registry record (validated), the kernel steps for it and the host sysctls it needs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.seed.container_net.plugins.module_utils import _ipam as ipam
from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._netlink import (
    IFNAMSIZ, ipv6_conf, read_sysctl, sysctl_name, write_sysctl)

# A bridge name reaches iptables (where 'br+' is a wildcard and a leading '-' or '!' an option),
# sysctl paths and ip(8): ASCII letters, digits and '_.-', starting with a letter or digit.
IFNAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*\Z')
IFNAME_RULE = "at most %d bytes of ASCII letters, digits, '_', '.' and '-', starting with a letter or digit" % IFNAMSIZ
DEFAULTS = dict(gateway=None, ip_range=None, mtu=1500, icc=True, ip_masquerade=True, internal=False,
                host_binding_ipv4='0.0.0.0', dns=False)


def argument_spec():
    """A bridge's options, shared by docker_bridge and container_net_topology."""
    return dict(
        subnet=dict(type='str'),
        gateway=dict(type='str'),
        ip_range=dict(type='str'),
        mtu=dict(type='int', default=1500),
        icc=dict(type='bool', default=True),
        ip_masquerade=dict(type='bool', default=True),
        internal=dict(type='bool', default=False),
        host_binding_ipv4=dict(type='str', default='0.0.0.0'),
        dns=dict(type='bool', default=False),
    )


def check_ifname(name, field='name'):
    if not isinstance(name, str) or len(name.encode('utf-8')) > IFNAMSIZ or not IFNAME_RE.match(name):
        raise ParamError("%s %r is not a valid interface name (%s)" % (field, name, IFNAME_RULE))
    return name


def attached(state, name):
    return sorted(c for c, spec in state['containers'].items() if any(n['bridge'] == name for n in spec['networks']))


def record(name, params, state, existing_link):
    """The registry record for bridge `name` from its parameters (DEFAULTS fill what is missing)."""
    p = dict(DEFAULTS, **dict((k, v) for k, v in params.items() if v is not None))
    check_ifname(name)
    if existing_link is not None and existing_link['kind'] != 'bridge' and name not in state['bridges']:
        raise ParamError("name '%s' exists as a %s interface, not a bridge" % (name, existing_link['kind'] or 'physical'))
    if not p.get('subnet'):
        raise ParamError("subnet is required for bridge '%s'" % name)
    if not isinstance(p['mtu'], int) or not 68 <= p['mtu'] <= 65535:
        raise ParamError("mtu '%s' is out of range (68-65535)" % p['mtu'])
    ipam.address(p['host_binding_ipv4'], 'host_binding_ipv4')
    bridge = ipam.bridge_addressing(p['subnet'], p['gateway'], p['ip_range'])
    for other, spec in sorted(state['bridges'].items()):
        if other != name and ipam.overlaps(spec['subnet'], bridge['subnet']):
            raise ParamError("subnet '%s' overlaps subnet %s of bridge '%s'" % (bridge['subnet'], spec['subnet'], other))
    old = state['bridges'].get(name)
    users = attached(state, name)
    if old and users and (old['subnet'], old['gateway']) != (bridge['subnet'], bridge['gateway']):
        raise ParamError("subnet: bridge '%s' has containers attached (%s); detach them before readdressing"
                         % (name, ', '.join(users)))
    bridge.update(mtu=p['mtu'], icc=bool(p['icc']), ip_masquerade=bool(p['ip_masquerade']),
                  internal=bool(p['internal']), host_binding_ipv4=p['host_binding_ipv4'])
    if p['dns']:  # kept only where set: records of bridges without names stay as they were
        bridge['dns'] = True
    elif old and old.get('dns'):
        aliased = sorted(c for c in users for n in state['containers'][c]['networks'] if n['bridge'] == name and n.get('aliases'))
        if aliased:
            raise ParamError("dns: bridge '%s' has containers with network aliases (%s), which need names; remove "
                             "their aliases first" % (name, ', '.join(aliased)))
    return bridge


def check_removable(state, name):
    users = attached(state, name)
    if users:
        raise ParamError("name: bridge '%s' still has containers attached: %s" % (name, ', '.join(users)))


def steps(netlink, name, want, link, step):
    """Kernel steps for bridge `name` towards record `want` (None: gone); `link` is what is there."""
    out = []
    if want is None:
        if link is not None and link['kind'] == 'bridge':
            out.append(step('delete bridge %s' % name, lambda: netlink.delete_link(link['index'])))
        return out
    want_addr = '%s/%d' % (want['gateway'], want['prefixlen'])
    mac = ipam.mac_for(want['gateway'])
    if link is None:
        def create():
            created = netlink.add_bridge(name, want['mtu'])
            netlink.disable_ipv6(name)  # before it is up: no link-local address is ever assigned
            # An explicit MAC keeps the kernel from changing it as ports come and go.
            netlink.set_link(created['index'], address=mac)
            netlink.add_addr(created['index'], want_addr)
            netlink.set_link(created['index'], state='up')
        out.append(step('create bridge %s mtu %d address %s' % (name, want['mtu'], want_addr), create))
        return out
    index = link['index']
    if link['mtu'] != want['mtu']:
        out.append(step('set %s mtu %d' % (name, want['mtu']), lambda: netlink.set_link(index, mtu=want['mtu'])))
    for addr in link['addrs']:
        if addr != want_addr:
            out.append(step('remove address %s from %s' % (addr, name), lambda a=addr: netlink.del_addr(index, a)))
    if want_addr not in link['addrs']:
        out.append(step('add address %s to %s' % (want_addr, name), lambda: netlink.add_addr(index, want_addr)))
    if link.get('ipv6'):
        out.append(step('sysctl %s=1' % sysctl_name(ipv6_conf(name)), lambda: netlink.disable_ipv6(name)))
    if not link['up']:
        out.append(step('set %s up' % name, lambda: netlink.set_link(index, state='up')))
    return out


def sysctl_steps(old, new, run_command, step):
    """ip_forward for bridges that route, br_netfilter where icc is off, route_localnet where the
    host's loopback reaches published ports (and back to 0 where it no longer does)."""
    out = []
    bridges = new['bridges'].values()
    if any(not b['internal'] for b in bridges) and read_sysctl('net.ipv4.ip_forward') != '1':
        out.append(step('sysctl net.ipv4.ip_forward=1', lambda: write_sysctl('net.ipv4.ip_forward', 1)))
    if any(not b['icc'] for b in bridges):
        key = 'net.bridge.bridge-nf-call-iptables'
        if read_sysctl(key) is None:
            def load():
                run_command(['modprobe', 'br_netfilter'], check_rc=True)
                write_sysctl(key, 1)
            out.append(step('load br_netfilter; sysctl %s=1' % key, load))
        elif read_sysctl(key) != '1':
            out.append(step('sysctl %s=1' % key, lambda: write_sysctl(key, 1)))
    want, had = rules.localnet_bridges(new), rules.localnet_bridges(old)
    for bridge in sorted(want | (had & set(new['bridges']))):  # a deleted bridge takes its sysctls along
        key = ('net', 'ipv4', 'conf', bridge, 'route_localnet')
        value = '1' if bridge in want else '0'
        current = read_sysctl(key)
        if current is not None and current != value:
            out.append(step('sysctl %s=%s' % (sysctl_name(key), value), lambda k=key, v=value: write_sysctl(k, v)))
        elif current is None and bridge in want:  # the bridge is created in this run
            out.append(step('sysctl %s=1' % sysctl_name(key), lambda k=key: write_sysctl(k, '1')))
    return out


def facts(state, name):
    bridge = state['bridges'].get(name)
    if bridge is None:
        return {}
    out = dict(bridge, name=name)
    out.pop('prefixlen', None)
    out['containers'] = attached(state, name)
    return out

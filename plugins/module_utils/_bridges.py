# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bridge: its registry record (validated), the kernel steps for it and the host sysctls it needs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
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
                host_binding_ipv4='0.0.0.0', dns=False, enable_ipv6=None, subnet_v6=None, gateway_v6=None,
                ip_range_v6=None, host_binding_ipv6='::')
V6_KEYS = ('subnet_v6', 'gateway_v6', 'prefixlen_v6', 'ip_range_v6', 'host_binding_ipv6')


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
        enable_ipv6=dict(type='bool'),
        subnet_v6=dict(type='str'),
        gateway_v6=dict(type='str'),
        ip_range_v6=dict(type='str'),
        host_binding_ipv6=dict(type='str', default='::'),
    )


def host_seed():
    """What makes a default ULA prefix differ between hosts: the machine ID (else the host name)."""
    try:
        with open('/etc/machine-id') as f:
            return f.read().strip()
    except (IOError, OSError):
        return os.uname()[1]


def dual_stack(bridge):
    return bool(bridge.get('subnet_v6'))


def ipv6_addressing(name, p, old, seed):
    """The IPv6 half of a bridge record, or {} for an IPv4-only bridge."""
    if p['enable_ipv6'] is False:
        given = [k for k in ('subnet_v6', 'gateway_v6', 'ip_range_v6') if p.get(k)]
        if given:
            raise ParamError("%s: bridge '%s' has enable_ipv6: false; set enable_ipv6: true (or leave it out) to "
                             "give it IPv6" % (given[0], name))
        return {}
    if not p['enable_ipv6'] and not p.get('subnet_v6'):
        return {}
    # A ULA /64 where none is named: kept once chosen, unique per host and bridge.
    subnet = p.get('subnet_v6') or (old or {}).get('subnet_v6') or ipam.ula_subnet('%s\0%s' % (seed, name))
    out = ipam.bridge_addressing(subnet, p.get('gateway_v6'), p.get('ip_range_v6'), version=6)
    out['host_binding_ipv6'] = str(ipam.address(p['host_binding_ipv6'], 'host_binding_ipv6', 6))
    return out


def check_ifname(name, field='name'):
    if not isinstance(name, str) or len(name.encode('utf-8')) > IFNAMSIZ or not IFNAME_RE.match(name):
        raise ParamError("%s %r is not a valid interface name (%s)" % (field, name, IFNAME_RULE))
    return name


def attached(state, name):
    return sorted(c for c, spec in state['containers'].items() if any(n['bridge'] == name for n in spec['networks']))


def record(name, params, state, existing_link, seed=None):
    """The registry record for bridge `name` from its parameters (DEFAULTS fill what is missing);
    `seed` makes a default IPv6 prefix unique to this host."""
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
    old = state['bridges'].get(name)
    bridge.update(ipv6_addressing(name, p, old, seed if seed is not None else host_seed()))
    for key in ('subnet', 'subnet_v6'):
        for other, spec in sorted(state['bridges'].items()):
            if bridge.get(key) and spec.get(key) and other != name and ipam.overlaps(spec[key], bridge[key]):
                raise ParamError("%s '%s' overlaps %s %s of bridge '%s'" % (key, bridge[key], key, spec[key], other))
    users = attached(state, name)
    addressing = ('subnet', 'gateway', 'subnet_v6', 'gateway_v6')
    if old and users and tuple(old.get(k) for k in addressing) != tuple(bridge.get(k) for k in addressing):
        field = 'subnet' if (old['subnet'], old['gateway']) != (bridge['subnet'], bridge['gateway']) else 'subnet_v6'
        raise ParamError("%s: bridge '%s' has containers attached (%s); detach them before readdressing"
                         % (field, name, ', '.join(users)))
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
    want_addrs = gateway_addrs(want)
    ipv6 = dual_stack(want)
    mac = ipam.mac_for(want['gateway'])
    if link is None:
        def create():
            created = netlink.add_bridge(name, want['mtu'])
            # Before it is up: an IPv4-only bridge never gets a link-local address; a dual-stack
            # one gets its addresses without duplicate address detection (the subnet is its own).
            netlink.set_ipv6(name, ipv6)
            # An explicit MAC keeps the kernel from changing it as ports come and go.
            netlink.set_link(created['index'], address=mac)
            for addr in want_addrs:
                netlink.add_addr(created['index'], addr)
            netlink.set_link(created['index'], state='up')
        out.append(step('create bridge %s mtu %d address %s' % (name, want['mtu'], ', '.join(want_addrs)), create))
        return out
    index = link['index']
    if link['mtu'] != want['mtu']:
        out.append(step('set %s mtu %d' % (name, want['mtu']), lambda: netlink.set_link(index, mtu=want['mtu'])))
    if bool(link.get('ipv6')) != ipv6 and link.get('ipv6') is not None:
        out.append(step('sysctl %s=%d' % (sysctl_name(ipv6_conf(name)), 0 if ipv6 else 1),
                        lambda: netlink.set_ipv6(name, ipv6)))
    have = link['addrs'] if ipv6 else [a for a in link['addrs'] if ':' not in a]  # disabling IPv6 drops them
    for addr in have:
        if addr not in want_addrs:
            out.append(step('remove address %s from %s' % (addr, name), lambda a=addr: netlink.del_addr(index, a)))
    for addr in want_addrs:
        if addr not in link['addrs'] or (':' in addr and not link.get('ipv6')):
            out.append(step('add address %s to %s' % (addr, name), lambda a=addr: netlink.add_addr(index, a)))
    if not link['up']:
        out.append(step('set %s up' % name, lambda: netlink.set_link(index, state='up')))
    return out


def gateway_addrs(bridge):
    """The bridge's own addresses (CIDR): its gateway, and its IPv6 gateway on a dual-stack bridge."""
    out = ['%s/%d' % (bridge['gateway'], bridge['prefixlen'])]
    if dual_stack(bridge):
        out.append('%s/%d' % (bridge['gateway_v6'], bridge['prefixlen_v6']))
    return out


def _ensure(key, value, step):
    """A step that sets a host sysctl where it differs (none where the kernel lacks the key)."""
    current = read_sysctl(key)
    if current is not None and current != str(value):
        return [step('sysctl %s=%s' % (key, value), lambda: write_sysctl(key, value))]
    return []


def sysctl_steps(old, new, run_command, step):
    """ip_forward for bridges that route, br_netfilter where icc is off, route_localnet where the
    host's loopback reaches published ports (and back to 0 where it no longer does)."""
    out = []
    bridges = new['bridges'].values()
    if any(not b['internal'] for b in bridges) and read_sysctl('net.ipv4.ip_forward') != '1':
        out.append(step('sysctl net.ipv4.ip_forward=1', lambda: write_sysctl('net.ipv4.ip_forward', 1)))
    if any(dual_stack(b) and not b['internal'] for b in bridges):
        out.extend(_ensure('net.ipv6.conf.all.forwarding', 1, step))
    # Bridged frames between two containers reach the firewall only through br_netfilter; without
    # the IPv6 switch, IPv6 (link-local too) between containers would pass icc: false unseen.
    keys = [k for k, want in (('net.bridge.bridge-nf-call-iptables', any(not b['icc'] for b in bridges)),
                              ('net.bridge.bridge-nf-call-ip6tables',
                               any(not b['icc'] and dual_stack(b) for b in bridges))) if want]
    if keys and read_sysctl(keys[0]) is None:
        def load():
            run_command(['modprobe', 'br_netfilter'], check_rc=True)
            for key in keys:
                write_sysctl(key, 1)
        out.append(step('load br_netfilter; sysctl %s=1' % '=1, '.join(keys), load))
    else:
        for key in keys:
            out.extend(_ensure(key, 1, step))
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
    out.pop('prefixlen_v6', None)
    out['enable_ipv6'] = dual_stack(bridge)
    out['containers'] = attached(state, name)
    return out

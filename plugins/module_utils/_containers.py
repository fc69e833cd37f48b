# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A container's network namespace: its registry record (with IPAM) and the kernel steps for it.

Kept apart from any one module so that every module converging containers shares one planner.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import os
import re

from ansible_collections.seed.container_net.plugins.module_utils import _dns as dns
from ansible_collections.seed.container_net.plugins.module_utils import _ipam as ipam
from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils._errors import HostError, ParamError
from ansible_collections.seed.container_net.plugins.module_utils._netlink import (
    disable_ipv6_here, enable_ipv6_here, netns_exists, netns_path, netns_persistence_problem)

# \Z, not $: '$' also matches before a trailing newline, which would end up in the rendered files.
MAC_RE = re.compile(r'[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z')
ZERO_MAC = '00:00:00:00:00:00'
HOSTNAME_RE = re.compile(r'[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\Z')
ENV_KEY_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')
# One word of a space-separated resolv.conf line: no whitespace (newlines included), no NUL.
WORD_RE = re.compile(r'[^\s\x00]+\Z')


def argument_spec():
    """A container's options, shared by container_netns and container_net_topology."""
    return dict(
        networks=dict(type='list', elements='dict', options=dict(
            bridge=dict(type='str', required=True),
            ip=dict(type='str'),
            ip6=dict(type='str'),
            mac=dict(type='str'),
            aliases=dict(type='list', elements='str', default=[]),
        )),
        bridge=dict(type='str'),
        hostname=dict(type='str'),
        exposed_ports=dict(type='list', elements='str', default=[]),
        env=dict(type='dict', default={}, no_log=True),
        dns=dict(type='list', elements='str', default=[]),
        dns_search=dict(type='list', elements='str', default=[]),
        dns_options=dict(type='list', elements='str', default=[]),
        extra_hosts=dict(type='list', elements='str', default=[]),
    )


def veth_name(container, bridge):
    """Host end of a container's veth: deterministic, 13 bytes (IFNAMSIZ is 15)."""
    return 'vc' + hashlib.sha1(('%s\0%s' % (container, bridge)).encode('utf-8')).hexdigest()[:11]


def leases(state, bridge, except_container, key='ip'):
    """Addresses (`key`: 'ip' or 'ip6') taken on a bridge, by container: the registry is the lease database."""
    taken = {}
    for name, spec in state['containers'].items():
        if name == except_container:
            continue
        for net in spec['networks']:
            if net['bridge'] == bridge and net.get(key):
                taken[net[key]] = name
    return taken


def _lease6(name, bridge, spec, req, kept, state, field):
    """The container's IPv6 address on a dual-stack bridge: asked for, kept from the last run, or the lowest free."""
    if not spec.get('subnet_v6'):
        if req.get('ip6'):
            raise ParamError("%s.ip6: bridge '%s' has no IPv6 (no subnet_v6)" % (field, bridge))
        return None
    taken = leases(state, bridge, name, 'ip6')
    if req.get('ip6'):
        return ipam.check_static(req['ip6'], bridge, spec, taken, field + '.ip6', version=6)
    old = kept.get(bridge, {}).get('ip6')
    if old and old not in taken and ipam.netaddr.IPAddress(old) in ipam.netaddr.IPNetwork(spec['subnet_v6']):
        return old
    return ipam.allocate(bridge, spec, taken, version=6)


def parse_extra_hosts(entries):
    out = []
    for i, entry in enumerate(entries or []):
        host, sep, ip = str(entry).partition(':')
        if not sep or not host:
            raise ParamError("extra_hosts[%d] %r is not HOST:IP" % (i, entry))
        if not HOSTNAME_RE.match(host):
            raise ParamError("extra_hosts[%d] host %r is not a valid host name" % (i, host))
        out.append({'host': host, 'ip': str(ipam.address(ip, 'extra_hosts[%d]' % i))})
    return out


def desired_networks(name, requested, state, previous):
    """Normalize `networks`; keep each network's lease and interface name across runs."""
    kept = dict((n['bridge'], n) for n in (previous or {}).get('networks', []))
    seen = set()
    out = []
    for i, req in enumerate(requested):
        field = 'networks[%d]' % i
        bridge = req.get('bridge')
        if bridge not in state['bridges']:
            raise ParamError("%s.bridge '%s' is not a bridge managed by seed.container_net.docker_bridge"
                             % (field, bridge))
        if bridge in seen:
            raise ParamError("%s.bridge '%s' is listed twice" % (field, bridge))
        seen.add(bridge)
        spec = state['bridges'][bridge]
        taken = leases(state, bridge, name)
        if req.get('ip'):
            ip = ipam.check_static(req['ip'], bridge, spec, taken, field + '.ip')
        elif bridge in kept and kept[bridge]['ip'] not in taken and \
                ipam.netaddr.IPAddress(kept[bridge]['ip']) in ipam.netaddr.IPNetwork(spec['subnet']):
            ip = kept[bridge]['ip']
        else:
            ip = ipam.allocate(bridge, spec, taken)
        mac = (req.get('mac') or '').lower() or ipam.mac_for(ip)
        if not MAC_RE.match(mac) or int(mac[:2], 16) & 1 or mac == ZERO_MAC:  # as the kernel: no group, no zero
            raise ParamError("%s.mac '%s' is not a unicast MAC address" % (field, req.get('mac')))
        net = {'bridge': bridge, 'ip': ip, 'mac': mac, 'veth': veth_name(name, bridge),
               'ifname': kept[bridge]['ifname'] if bridge in kept else None}
        ip6 = _lease6(name, bridge, spec, req, kept, state, field)
        if ip6:  # kept only on dual-stack bridges, as a bridge's subnet_v6
            net['ip6'] = ip6
        aliases = [dns.check_dns_name(a, '%s.aliases[%d]' % (field, k)) for k, a in enumerate(req.get('aliases') or [])]
        if aliases and not spec.get('dns'):
            raise ParamError("%s.aliases: bridge '%s' has no names (dns: false); network aliases need a bridge "
                             "with dns: true" % (field, bridge))
        if aliases:  # kept only where set, as a bridge's dns
            net['aliases'] = aliases
        out.append(net)
    used = set(n['ifname'] for n in out if n['ifname'])
    for net in out:  # a new network takes the lowest free ethN; the others keep theirs
        if net['ifname'] is None:
            net['ifname'] = next('eth%d' % k for k in range(len(out) + len(used) + 1) if 'eth%d' % k not in used)
            used.add(net['ifname'])
    return out


def check_env(env):
    """Variable names a shell and systemd's EnvironmentFile= both accept; any value but NUL
    (newlines are fine: the environment file quotes them)."""
    out = {}
    for key, value in (env or {}).items():
        key, value = str(key), '' if value is None else str(value)
        if not ENV_KEY_RE.match(key):
            raise ParamError("env key %r is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)" % key)
        if '\0' in value:  # the value itself is secret (no_log): name the key only
            raise ParamError("env %r has a NUL byte in its value, which no environment can hold" % key)
        out[key] = value
    return out


def check_words(values, field):
    """Entries that become words of one resolv.conf line: one word each, on that line."""
    for i, value in enumerate(values or []):
        if not isinstance(value, str) or not WORD_RE.match(value):
            raise ParamError("%s[%d] %r is not a single word (no whitespace, newline or NUL)" % (field, i, value))
    return list(values or [])


def record(params, state):
    """The registry record of the container the params describe (validated, addresses leased)."""
    name = links.check_name(params['name'], 'name')
    if len(name) > links.tag_room('port'):  # also a file name under /run/netns and /etc/netns
        raise ParamError("name '%s...' is %d characters long; at most %d fit the tag of its rules (cnet:port:NAME)"
                         % (name[:24], len(name), links.tag_room('port')))
    previous = state['containers'].get(name)
    requested = params.get('networks') or ([{'bridge': params['bridge']}] if params.get('bridge') else [])
    if not requested:
        raise ParamError("networks: a container needs at least one network (or bridge)")
    hostname = params.get('hostname') or (previous or {}).get('hostname') or \
        binascii.hexlify(os.urandom(6)).decode('ascii')
    if not HOSTNAME_RE.match(hostname):
        raise ParamError("hostname %r is not a valid host name" % hostname)
    for i, ns in enumerate(params.get('dns') or []):
        ipam.any_address(ns, 'dns[%d]' % i)
    networks = desired_networks(name, requested, state, previous)
    published6 = [m for m in (state['ports'].get(name) or {}).get('mappings', []) if ':' in m['host_ip']]
    if published6 and not networks[0].get('ip6'):
        raise ParamError("networks: container '%s' publishes ports on IPv6 (%s); its first network must have IPv6, "
                         "or unpublish those first" % (name, ', '.join(ports.describe(m) for m in published6)))
    return {
        'hostname': hostname,
        'networks': networks,
        'exposed_ports': ports.parse_exposed(params.get('exposed_ports')),
        'env': check_env(params.get('env')),
        'dns': list(params.get('dns') or []),
        'dns_search': check_words(params.get('dns_search'), 'dns_search'),
        'dns_options': check_words(params.get('dns_options'), 'dns_options'),
        'extra_hosts': parse_extra_hosts(params.get('extra_hosts')),
    }


def forget(state, name):
    """Drop a container and everything that refers to it: links both ways and its published ports."""
    state['containers'].pop(name, None)
    state['ports'].pop(name, None)
    for key in [k for k, link in state['links'].items() if name in (link['receiver'], link['source'])]:
        del state['links'][key]


def steps(netlink, name, old, new, bridges, step, host_links=None):
    """Kernel steps that take container `name` from what is there to record `new` (None: gone).

    `step(description, action)` builds one step; nothing here writes. `host_links` (name -> link)
    lets a caller planning many containers dump the host's links once.
    """
    out = []
    exists = netns_exists(name)
    if host_links is None:
        host_links = dict((l['name'], l) for l in netlink.links())
    wanted = dict((n['veth'], n) for n in (new or {}).get('networks', []))
    # veths of networks no longer wanted (or of a container going away) are deleted explicitly:
    # deleting the namespace alone frees them asynchronously, after the run has returned.
    for net in (old or {}).get('networks', []):
        if net['veth'] not in wanted and net['veth'] in host_links:
            idx = host_links[net['veth']]['index']
            out.append(step('delete veth %s (%s on %s)' % (net['veth'], net['ifname'], net['bridge']),
                            lambda i=idx: netlink.delete_link(i)))
    if new is None:
        if exists or os.path.lexists(netns_path(name)):  # bound, or the placeholder of a killed creation
            out.append(step('delete netns %s' % name, lambda: netlink.delete_netns(name)))
        return out
    if not exists:
        problem = netns_persistence_problem()
        if problem:
            raise HostError('name: cannot create network namespace %s: %s' % (name, problem))

        def inside_new():
            disable_ipv6_here(('all', 'default'))  # interfaces that arrive later inherit 'default'
            if ipv6_ifnames(new):
                enable_ipv6_here(('lo',))

        def create():
            netlink.create_netns(name, inside=inside_new)
        out.append(step('create netns %s' % name, create))
        inside = {}
    else:
        inside = dict((l['name'], l) for l in netlink.links(ns=name))
        # IPv6 only where a dual-stack network (and then lo) asks for it: nothing else is reachable
        # over link-local addresses that icc and the ingress stage would not see.
        v6 = ipv6_ifnames(new)
        with_ipv6 = sorted(n for n, l in inside.items() if l.get('ipv6') and n not in v6)
        if with_ipv6:
            def off():
                netlink.disable_ipv6('all', 'default', *with_ipv6, ns=name)
            out.append(step('disable IPv6 in %s (%s)' % (name, ', '.join(with_ipv6)), off))
        if 'lo' in v6 and 'lo' in inside and not inside['lo'].get('ipv6'):
            out.append(step('enable IPv6 on lo in %s' % name, lambda: netlink.enable_ipv6('lo', ns=name)))
    lo = inside.get('lo')
    if not lo or not lo['up']:
        out.append(step('set lo up in %s' % name, lambda: netlink.set_link(LOOPBACK_INDEX, ns=name, state='up')))
    first_recreated = False
    for i, net in enumerate(new['networks']):
        net_steps = _network_steps(netlink, name, net, bridges[net['bridge']], host_links, inside, step)
        first_recreated = first_recreated or (i == 0 and any(s.description.startswith('create veth') for s in net_steps))
        out.extend(net_steps)
    gateway = bridges[new['networks'][0]['bridge']]['gateway']
    # A recreated first veth takes the default route with it, whatever was read before.
    if first_recreated or netlink.default_gateway(ns=name) != gateway:
        out.append(step('default route via %s in %s' % (gateway, name),
                        lambda: netlink.replace_default_route(gateway, ns=name)))
    first6 = next((n for n in new['networks'] if n.get('ip6')), None)
    if first6 is not None:
        gateway6 = bridges[first6['bridge']]['gateway_v6']
        recreated = any(s.description.startswith('create veth %s ' % first6['veth']) for s in out)
        if recreated or not exists or netlink.default_gateway(ns=name, family=6) != gateway6:
            out.append(step('default route via %s in %s' % (gateway6, name),
                            lambda: netlink.replace_default_route(gateway6, ns=name)))
    return out


def ipv6_ifnames(spec):
    """Interfaces of a container that carry IPv6: those on dual-stack networks, and lo with them."""
    names = set(n['ifname'] for n in (spec or {}).get('networks', []) if n.get('ip6'))
    return names | {'lo'} if names else names


LOOPBACK_INDEX = 1  # the kernel gives lo index 1 in every network namespace


def addresses(net, bridge):
    """A container interface's addresses (CIDR), as the link dump lists them (sorted)."""
    out = ['%s/%d' % (net['ip'], bridge['prefixlen'])]
    if net.get('ip6'):
        out.append('%s/%d' % (net['ip6'], bridge['prefixlen_v6']))
    return sorted(out)


def _network_steps(netlink, name, net, bridge, host_links, inside, step):
    out = []
    cidrs = addresses(net, bridge)
    cidr = ', '.join(cidrs)
    mtu = bridge['mtu']
    host = host_links.get(net['veth'])
    peer = inside.get(net['ifname'])
    if host is None or peer is None or peer['kind'] != 'veth':
        def create():
            if host is not None:
                netlink.delete_link(host['index'])
            netlink.add_veth(net['veth'], net['ifname'], name, netlink.bridge_index(net['bridge']), mtu, net['mac'])
            netlink.set_hairpin(netlink.index(net['veth']))
            peer = netlink.index(net['ifname'], ns=name)
            if net.get('ip6'):
                netlink.enable_ipv6(net['ifname'], ns=name)
            netlink.set_link(peer, ns=name, state='up')  # MAC and MTU came with the veth
            for addr in cidrs:
                netlink.add_addr(peer, addr, ns=name)
        out.append(step('create veth %s <-> %s:%s on %s, %s' % (net['veth'], name, net['ifname'], net['bridge'], cidr),
                        create))
        return out
    bridge_link = host_links.get(net['bridge']) or netlink.link(net['bridge'])
    if host['master'] != (bridge_link or {}).get('index') or host['mtu'] != mtu or not host['up'] \
            or not host['hairpin']:
        out.append(step('attach %s to %s, mtu %d, hairpin, up' % (net['veth'], net['bridge'], mtu),
                        lambda: _attach_host(netlink, net, mtu)))
    v6_off = bool(net.get('ip6')) and not peer.get('ipv6')
    if peer['mac'] != net['mac'] or peer['mtu'] != mtu or peer['addrs'] != cidrs or not peer['up'] or v6_off:
        out.append(step('configure %s:%s mac %s mtu %d address %s' % (name, net['ifname'], net['mac'], mtu, cidr),
                        lambda: _configure_peer(netlink, name, net, cidrs, mtu, peer['addrs'])))
    return out


def _attach_host(netlink, net, mtu):
    index = netlink.index(net['veth'])
    netlink.set_link(index, master=netlink.bridge_index(net['bridge']), mtu=mtu, state='up')
    # With br_netfilter, DNAT to a container on the same bridge is bridged back out the port the
    # frame came in on: hairpin lets a container reach its own published port (as Docker does).
    netlink.set_hairpin(index)


def _configure_peer(netlink, ns, net, cidrs, mtu, current_addrs):
    index = netlink.index(net['ifname'], ns=ns)
    if net.get('ip6'):
        netlink.enable_ipv6(net['ifname'], ns=ns)
    netlink.set_link(index, ns=ns, address=net['mac'], mtu=mtu, state='up')
    for addr in current_addrs:
        if addr not in cidrs:
            netlink.del_addr(index, addr, ns=ns)
    for addr in cidrs:
        if addr not in current_addrs:
            netlink.add_addr(index, addr, ns=ns)


def _net_facts(net, bridge):
    out = dict(net, gateway=bridge['gateway'], prefixlen=bridge['prefixlen'])
    if net.get('ip6'):
        out.update(gateway_v6=bridge['gateway_v6'], prefixlen_v6=bridge['prefixlen_v6'])
    return out


def facts(name, spec, bridges, etc_dir):
    if spec is None:
        return {}
    return {
        'name': name,
        'hostname': spec['hostname'],
        'netns': name,
        'netns_path': netns_path(name),
        'networks': [_net_facts(n, bridges[n['bridge']]) for n in spec['networks']],
        'ip': spec['networks'][0]['ip'] if spec['networks'] else None,
        'gateway': bridges[spec['networks'][0]['bridge']]['gateway'] if spec['networks'] else None,
        'ip6': next((n['ip6'] for n in spec['networks'] if n.get('ip6')), None),
        'exposed_ports': [ports.format_exposed(p) for p in spec['exposed_ports']],
        'env_keys': sorted(spec.get('env') or {}),
        'files': [os.path.join(etc_dir, name, f) for f in ('hosts', 'resolv.conf', 'environment')],
    }

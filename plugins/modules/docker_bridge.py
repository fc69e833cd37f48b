#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: docker_bridge
short_description: A docker0-like Linux bridge with address management, masquerade and isolation
version_added: 0.1.0
description:
  - Creates, updates or removes a Linux bridge that containers (see M(seed.container_net.container_netns))
    attach to, with the semantics of a Docker bridge network.
  - The bridge carries the gateway address; C(net.ipv4.ip_forward) is enabled; traffic from the subnet
    leaving through any other interface is masqueraded; egress and replies are accepted in the
    forward path.
  - With O(icc=false) bridge-internal traffic is dropped except for the ports opened by
    M(seed.container_net.container_link); C(br_netfilter) is loaded and
    C(net.bridge.bridge-nf-call-iptables=1) is set so the rules really see bridged frames.
author:
  - seed.container_net developers (@seed)
extends_documentation_fragment:
  - seed.container_net.common
  - seed.container_net.common.attributes
options:
  name:
    description: Name of the bridge interface (at most 15 bytes).
    type: str
    required: true
  state:
    description: Whether the bridge exists.
    type: str
    choices: [present, absent]
    default: present
  subnet:
    description: IPv4 subnet of the bridge in CIDR notation. Required with O(state=present).
    type: str
  gateway:
    description: Address of the bridge itself, the containers' default gateway. Defaults to the first host of O(subnet).
    type: str
  ip_range:
    description: Sub-range of O(subnet) that container addresses are allocated from (CIDR). Defaults to the whole subnet.
    type: str
  mtu:
    description: MTU of the bridge and of the veths attached to it.
    type: int
    default: 1500
  icc:
    description: Inter-container communication. V(false) drops traffic between containers of this bridge except linked ports.
    type: bool
    default: true
  ip_masquerade:
    description: Masquerade traffic from the subnet that leaves through another interface.
    type: bool
    default: true
  internal:
    description: Drop all traffic between the bridge and other interfaces (no egress, no published ports).
    type: bool
    default: false
  host_binding_ipv4:
    description: Default host address for ports published to containers on this bridge.
    type: str
    default: 0.0.0.0
'''

EXAMPLES = r'''
- name: A bridge like docker0
  seed.container_net.docker_bridge:
    name: cnet0
    subnet: 172.30.0.0/16

- name: An isolated bridge where only linked ports may talk
  seed.container_net.docker_bridge:
    name: backend0
    subnet: 10.88.0.0/24
    ip_range: 10.88.0.128/25
    icc: false
    mtu: 1450

- name: Remove the bridge, its rules and its registry entry
  seed.container_net.docker_bridge:
    name: backend0
    state: absent
'''

RETURN = r'''
bridge:
  description: The bridge as recorded and configured (empty after O(state=absent)).
  returned: always
  type: dict
  sample:
    name: cnet0
    subnet: 172.30.0.0/16
    gateway: 172.30.0.1
    ip_range: null
    mtu: 1500
    icc: true
    ip_masquerade: true
    internal: false
    host_binding_ipv4: 0.0.0.0
    containers: []
'''

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.container_net.plugins.module_utils import _ipam as ipam
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, Step, common_args
from ansible_collections.seed.container_net.plugins.module_utils._netlink import (
    IFNAMSIZ, read_sysctl, write_sysctl)

IFNAME_RE = re.compile(r'^[^\s/:]+$')


def host_sysctl_steps(netlink, state, module):
    """ip_forward for bridges that route, br_netfilter for bridges that filter bridged frames."""
    steps = []
    if any(not b['internal'] for b in state['bridges'].values()) and read_sysctl('net.ipv4.ip_forward') != '1':
        steps.append(Step('sysctl net.ipv4.ip_forward=1', lambda: write_sysctl('net.ipv4.ip_forward', 1)))
    if any(not b['icc'] for b in state['bridges'].values()):
        key = 'net.bridge.bridge-nf-call-iptables'
        if read_sysctl(key) is None:
            def load():
                module.run_command(['modprobe', 'br_netfilter'], check_rc=True)
                write_sysctl(key, 1)
            steps.append(Step('load br_netfilter; sysctl %s=1' % key, load))
        elif read_sysctl(key) != '1':
            steps.append(Step('sysctl %s=1' % key, lambda: write_sysctl(key, 1)))
    return steps


class BridgeManager(Manager):
    kind = 'docker_bridge'

    def update(self, state):
        p = self.params
        name = p['name']
        if len(name.encode('utf-8')) > IFNAMSIZ or not IFNAME_RE.match(name) or name in ('.', '..'):
            raise ParamError("name '%s' is not a valid interface name (at most %d bytes, no '/', ':' or spaces)"
                             % (name, IFNAMSIZ))
        users = sorted(c for c, spec in state['containers'].items()
                       if any(n['bridge'] == name for n in spec['networks']))
        if p['state'] == 'absent':
            if users:
                raise ParamError("name: bridge '%s' still has containers attached: %s" % (name, ', '.join(users)))
            state['bridges'].pop(name, None)
            return
        existing = self.netlink.link(name)
        if existing is not None and existing['kind'] != 'bridge' and name not in state['bridges']:
            raise ParamError("name '%s' exists as a %s interface, not a bridge" % (name, existing['kind'] or 'physical'))
        if not 68 <= p['mtu'] <= 65535:
            raise ParamError("mtu '%s' is out of range (68-65535)" % p['mtu'])
        ipam.address(p['host_binding_ipv4'], 'host_binding_ipv4')
        bridge = ipam.bridge_addressing(p['subnet'], p['gateway'], p['ip_range'])
        for other, spec in sorted(state['bridges'].items()):
            if other != name and ipam.overlaps(spec['subnet'], bridge['subnet']):
                raise ParamError("subnet '%s' overlaps subnet %s of bridge '%s'" % (bridge['subnet'], spec['subnet'], other))
        old = state['bridges'].get(name)
        if old and users and (old['subnet'], old['gateway']) != (bridge['subnet'], bridge['gateway']):
            raise ParamError("subnet: bridge '%s' has containers attached (%s); detach them before readdressing"
                             % (name, ', '.join(users)))
        bridge.update(mtu=p['mtu'], icc=p['icc'], ip_masquerade=p['ip_masquerade'], internal=p['internal'],
                      host_binding_ipv4=p['host_binding_ipv4'])
        state['bridges'][name] = bridge

    def kernel_plan(self, old, new):
        name = self.params['name']
        nl = self.netlink
        link = nl.link(name)
        steps = []
        if name not in new['bridges']:
            if link is not None and link['kind'] == 'bridge':
                steps.append(Step('delete bridge %s' % name, lambda: nl.delete_link(link['index'])))
            return steps
        want = new['bridges'][name]
        want_addr = '%s/%d' % (want['gateway'], want['prefixlen'])
        if link is None:
            def create():
                created = nl.add_bridge(name, want['mtu'])
                # An explicit MAC keeps the kernel from changing it as ports come and go.
                nl.set_link(created['index'], address=ipam.mac_for(want['gateway']))
                nl.add_addr(created['index'], want_addr)
                nl.set_link(created['index'], state='up')
            steps.append(Step('create bridge %s mtu %d address %s' % (name, want['mtu'], want_addr), create))
        else:
            index = link['index']
            if link['mtu'] != want['mtu']:
                steps.append(Step('set %s mtu %d' % (name, want['mtu']),
                                  lambda: nl.set_link(index, mtu=want['mtu'])))
            for addr in link['addrs']:
                if addr != want_addr:
                    steps.append(Step('remove address %s from %s' % (addr, name),
                                      lambda a=addr: nl.del_addr(index, a)))
            if want_addr not in link['addrs']:
                steps.append(Step('add address %s to %s' % (want_addr, name), lambda: nl.add_addr(index, want_addr)))
            if not link['up']:
                steps.append(Step('set %s up' % name, lambda: nl.set_link(index, state='up')))
        return steps + host_sysctl_steps(nl, new, self.module)

    def facts(self, state):
        name = self.params['name']
        bridge = state['bridges'].get(name)
        if bridge is None:
            return {'bridge': {}}
        out = dict(bridge, name=name)
        out.pop('prefixlen', None)
        out['containers'] = sorted(c for c, spec in state['containers'].items()
                                   if any(n['bridge'] == name for n in spec['networks']))
        return {'bridge': out}

    def view(self, state):
        return self.facts(state)['bridge']


def main():
    module = AnsibleModule(
        argument_spec=common_args(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            subnet=dict(type='str'),
            gateway=dict(type='str'),
            ip_range=dict(type='str'),
            mtu=dict(type='int', default=1500),
            icc=dict(type='bool', default=True),
            ip_masquerade=dict(type='bool', default=True),
            internal=dict(type='bool', default=False),
            host_binding_ipv4=dict(type='str', default='0.0.0.0'),
        ),
        required_if=[('state', 'present', ['subnet'])],
        supports_check_mode=True,
    )
    BridgeManager(module).run()


if __name__ == '__main__':
    main()

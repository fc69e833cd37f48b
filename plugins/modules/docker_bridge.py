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
  - Up to 32 linked port pairs on the host's bridges with O(icc=false) in all are Docker's own ACCEPT
    rule pairs; beyond that each such bridge's pairs become members of its ipset C(CNET-L-BRIDGE) (type
    C(hash:ip,port,ip)) matched by two rules, so a new connection costs the same behind 10 links as
    behind 10,000. That needs the C(ipset) command (installed by the C(seed.container_net.host) role).
author:
  - seed.container_net developers (@seed)
extends_documentation_fragment:
  - seed.container_net.common
  - seed.container_net.common.attributes
options:
  name:
    description:
      - Name of the bridge interface, at most 15 bytes of ASCII letters, digits, C(_), C(.) and C(-), starting
        with a letter or digit (so no C(/), C(:), C(%), C(+), C(!), quotes or whitespace; iptables reads C(+) as a
        wildcard and a leading C(-) or C(!) as an option). Anything else is refused before the host is touched.
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
  dns:
    description:
      - A user-defined network (Docker's C(docker network create)) whose containers resolve each
        other by container name, by network alias (O(seed.container_net.container_netns#module:networks[].aliases))
        and as C(NAME.BRIDGE), through the host's resolver (C(container-net dns)) on the bridge's gateway
        address; their C(resolv.conf) names that address, with C(options ndots:0).
      - V(false) is Docker's default bridge, without names; links write hosts lines.
    type: bool
    default: false
  host_binding_ipv4:
    description: Default host address for ports published to containers on this bridge.
    type: str
    default: 0.0.0.0
  enable_ipv6:
    description:
      - A dual-stack bridge (Docker's C(--ipv6)). Its containers get an IPv6 address besides the IPv4
        one, with a default route via O(gateway_v6); the isolation model (internal, icc, ingress,
        published ports only) holds for IPv6 in the same stages as for IPv4, with ip6tables or in
        the same C(inet) table. Linked containers reach each other's exposed ports over both families.
      - V(true) without O(subnet_v6) takes a ULA C(/64) (C(fdXX:XXXX:XXXX::/64)) derived from the
        machine ID and the bridge name, kept once chosen.
      - Left out, a bridge is dual-stack exactly when O(subnet_v6) is set. V(false) with an IPv6 option
        is refused.
      - A bridge without IPv6 keeps IPv6 off on itself and on its containers' interfaces, so nothing
        reaches them over link-local addresses.
      - Dual stack sets C(net.ipv6.conf.all.forwarding=1) on the host (which stops the host from taking
        router advertisements on interfaces with C(accept_ra=1)) and, with O(icc=false),
        C(net.bridge.bridge-nf-call-ip6tables=1).
    type: bool
  subnet_v6:
    description: IPv6 subnet of the bridge (CIDR, C(/64) to C(/120)); implies O(enable_ipv6=true).
    type: str
  gateway_v6:
    description: IPv6 address of the bridge itself. Defaults to the first address after the subnet's own (C(::1)).
    type: str
  ip_range_v6:
    description: Sub-range of O(subnet_v6) that container IPv6 addresses are allocated from (lowest free first).
    type: str
  host_binding_ipv6:
    description:
      - Default IPv6 host address of published ports. A mapping without a host address is published on
        O(host_binding_ipv4) and, for a container with IPv6 where O(host_binding_ipv4) is C(0.0.0.0), on this
        address too, on the same host port (as Docker with C(--ipv6)).
    type: str
    default: "::"
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

- name: A dual-stack bridge (IPv4 and IPv6)
  seed.container_net.docker_bridge:
    name: web0
    subnet: 10.89.0.0/24
    subnet_v6: fd00:89::/64

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
    enable_ipv6: false
    containers: []
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.container_net.plugins.module_utils import _bridges as bridges
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, Step, common_args


class BridgeManager(Manager):
    kind = 'docker_bridge'
    _link = None

    def link(self):
        """The bridge as the kernel has it, read once per run (nothing changes it before apply)."""
        if self._link is None:
            self._link = {'found': self.netlink.link(self.params['name'])}
        return self._link['found']

    def update(self, state):
        name = bridges.check_ifname(self.params['name'])
        if (state['bridges'].get(name) or {}).get('overlay'):
            # its VXLAN port, routes and guard are the topology's: a record made here would drop them
            raise ParamError("name: bridge '%s' is an overlay's share on this host; change or remove it through "
                             "seed.container_net.container_net_topology's overlays" % name)
        if self.params['state'] == 'absent':
            bridges.check_removable(state, name)
            state['bridges'].pop(name, None)
        else:
            params = dict((k, self.params[k]) for k in bridges.argument_spec())
            state['bridges'][name] = bridges.record(name, params, state, self.link())

    def kernel_plan(self, old, new):
        name = self.params['name']
        return bridges.steps(self.netlink, name, new['bridges'].get(name), self.link(), Step)

    def facts(self, state):
        return {'bridge': bridges.facts(state, self.params['name'])}

    def view(self, state):
        return self.facts(state)['bridge']


def main():
    module = AnsibleModule(
        argument_spec=common_args(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            **bridges.argument_spec()
        ),
        required_if=[('state', 'present', ['subnet'])],
        supports_check_mode=True,
    )
    BridgeManager(module).run()


if __name__ == '__main__':
    main()

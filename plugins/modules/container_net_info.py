#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: container_net_info
short_description: What seed.container_net has in force on a host, and where the kernel drifted from it
version_added: 0.1.0
description:
  - Reports the bridges, containers, links and published ports recorded in the host's registry.
  - Compares them with the kernel, the firewall and the files, and reports the drift as the steps a run of any
    module of the collection would take to repair it (a deleted namespace after a reboot, a flushed firewall,
    an edited hosts file). It never changes anything.
author:
  - seed.container_net developers (@seed)
extends_documentation_fragment:
  - seed.container_net.common
  - seed.container_net.common.attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything.
  diff_mode:
    support: none
options: {}
'''

EXAMPLES = r'''
- name: What is in force, and is it intact?
  seed.container_net.container_net_info:
  register: cnet

- name: Fail when the kernel drifted from the registry
  ansible.builtin.assert:
    that: cnet.drift.in_sync
    fail_msg: "{{ cnet.drift }}"
'''

RETURN = r'''
bridges:
  description: Bridges by name, as M(seed.container_net.docker_bridge) returns them.
  returned: always
  type: dict
containers:
  description: Containers by name, as M(seed.container_net.container_netns) returns them.
  returned: always
  type: dict
links:
  description: Links by C(RECEIVER/ALIAS) with C(receiver), C(source), C(alias), C(bridge) and C(hosts_line).
  returned: always
  type: dict
ports:
  description: Published ports by container, as M(seed.container_net.port_publish) returns them.
  returned: always
  type: dict
names:
  description:
    - What the host's resolver answers on networks with O(seed.container_net.docker_bridge#module:dns=true).
  returned: always
  type: dict
  contains:
    networks:
      description: By network, each name (container name, C(NAME.NETWORK), network alias) and its addresses.
      type: dict
      returned: always
    links:
      description: By receiver, the aliases of its links that resolve for it alone, and their addresses.
      type: dict
      returned: always
  sample:
    networks: {front: {web: [10.1.0.2], web.front: [10.1.0.2], www: [10.1.0.2]}}
    links: {}
drift:
  description: Differences between the registry and the host.
  returned: always
  type: dict
  contains:
    in_sync: {description: Nothing drifted., type: bool, returned: always}
    kernel: {description: Kernel steps a run would take., type: list, elements: str, returned: always}
    firewall_backend:
      description: The backend the host's rules live in (C(iptables) or C(nftables)), as a run would choose it.
      type: str
      returned: always
    firewall_tables:
      description:
        - Tables whose owned chains differ from the registry; C(ipset) when the owned link sets differ.
        - With nftables, C(inet container_net) when the owned table is missing or not as last written.
      type: list
      elements: str
      returned: always
    firewall:
      description: Owned rules and link set members as they are (C(actual)) and as the registry renders them (C(expected)).
      type: dict
      returned: always
    files: {description: Container files that would be written or removed., type: list, elements: str, returned: always}
    unfinished_run:
      description:
        - A run began applying and did not finish (killed, or a step failed); the registry names every object it may
          have left, and the next run or C(container-net restore) completes it.
      type: bool
      returned: always
  sample:
    in_sync: false
    kernel: ["create netns web", "set lo up in web", "create veth vc0123456789a <-> web:eth0 on cnet0, 172.30.0.3/24"]
    firewall_tables: []
    firewall: {}
    files: []
    unfinished_run: false
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.container_net.plugins.module_utils import _dns as dns
from ansible_collections.seed.container_net.plugins.module_utils import _topology as topology
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, Step, common_args


class InfoManager(Manager):
    kind = 'container_net_info'
    read_only = True

    def update(self, state):
        """Nothing to change: the registry itself is the desired state."""

    def kernel_plan(self, old, new):
        return topology.host_steps(self.netlink, old, new, Step, self.params['registry_dir'])

    def facts(self, state):
        return dict(topology.facts(state, self.params['netns_etc_dir'], self.params['registry_dir']), names=dns.names(state))


def main():
    module = AnsibleModule(argument_spec=common_args(), supports_check_mode=True)
    InfoManager(module).run()


if __name__ == '__main__':
    main()

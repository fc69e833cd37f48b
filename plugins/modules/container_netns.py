#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: container_netns
short_description: A container's network namespace, addressed, named and usable by any runtime
version_added: 0.1.0
description:
  - Creates, updates or removes a named network namespace for one container, attached to one or more
    bridges made by M(seed.container_net.docker_bridge) through veth pairs (C(eth0), C(eth1), ... inside).
  - Addresses come from the bridge's range and stay the container's own across re-runs, a deleted namespace
    and reboots; concurrent runs never hand out one address twice (the registry is locked).
  - Writes C(/etc/netns/NAME/hosts) (Docker's default hosts file, its own line last), C(resolv.conf) and
    C(environment) (mode 0600, the container's env and its links' variables), which C(ip netns exec NAME)
    bind-mounts over C(/etc). systemd (C(NetworkNamespacePath=/run/netns/NAME), C(EnvironmentFile=)),
    podman (C(--network ns:/run/netns/NAME)) and runc can use the namespace as it is.
  - Adding an entry to O(networks) connects the live container to another bridge, removing one disconnects
    it; other interfaces are not touched (Docker's C(network connect) and C(network disconnect)).
  - O(state=absent) removes the namespace, veths, leases and files, and every link and published port
    that involves the container, with their rules and hosts lines.
author:
  - seed.container_net developers (@seed)
extends_documentation_fragment:
  - seed.container_net.common
  - seed.container_net.common.attributes
options:
  name:
    description:
      - Container name, also the name of its network namespace (Docker's rule C([a-zA-Z0-9][a-zA-Z0-9_.-]*)).
      - At most 245 characters, so that the tag of its rules (C(cnet:port:NAME)) fits iptables' 255-byte comment.
    type: str
    required: true
  state:
    description: Whether the container's namespace exists.
    type: str
    choices: [present, absent]
    default: present
  networks:
    description:
      - Bridges the container is attached to. The first one carries the default route.
    type: list
    elements: dict
    suboptions:
      bridge:
        description: Name of a bridge managed by M(seed.container_net.docker_bridge).
        type: str
        required: true
      ip:
        description: Static address on that bridge. Default is the lowest free address of its range.
        type: str
      ip6:
        description:
          - Static IPv6 address on a dual-stack bridge (one with
            O(seed.container_net.docker_bridge#module:subnet_v6)). Default is the lowest free address of its IPv6 range.
          - The first network with IPv6 carries the IPv6 default route.
        type: str
      mac:
        description: MAC address. Default is Docker's C(02:42) followed by the IPv4 address.
        type: str
      aliases:
        description:
          - Names other containers on this network resolve to this container's address, besides its
            name (Docker's C(--network-alias)); several containers may share one. Only on a bridge with
            O(seed.container_net.docker_bridge#module:dns=true).
        type: list
        elements: str
        default: []
  bridge:
    description: Shorthand for O(networks) with one entry.
    type: str
  hostname:
    description: Host name of the container. Default is a 12-hex-digit id, as Docker; it is kept across runs.
    type: str
  exposed_ports:
    description:
      - Ports the container exposes (Docker's C(--expose)), such as C(5432/tcp), C(53/udp) or C(7000-7002/tcp).
        Links publish them as C(ALIAS_PORT_*) variables and open them when the bridge has C(icc=false).
    type: list
    elements: str
    default: []
  env:
    description:
      - The container's environment. Links into this container publish it to receivers as C(ALIAS_ENV_*)
        (except C(HOME) and C(PATH)). Written to a mode 0600 file; may hold secrets.
      - Keys are variable names (C([A-Za-z_][A-Za-z0-9_]*)); values may hold anything but a NUL byte.
    type: dict
    default: {}
  dns:
    description: Name servers for C(resolv.conf). Default is the host's, without loopback resolvers.
    type: list
    elements: str
    default: []
  dns_search:
    description: Search domains for C(resolv.conf), one word each (no whitespace or newline).
    type: list
    elements: str
    default: []
  dns_options:
    description: Options for C(resolv.conf), for example C(ndots:2), one word each (no whitespace or newline).
    type: list
    elements: str
    default: []
  extra_hosts:
    description: Additional C(HOST:IP) lines for the hosts file (Docker's C(--add-host)).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: A database container on one bridge
  seed.container_net.container_netns:
    name: db
    bridge: cnet0
    hostname: dbhost
    exposed_ports: [5432/tcp]
    env:
      POSTGRES_PASSWORD: "{{ vault_db_password }}"

- name: A web container on two networks with a static address on the first
  seed.container_net.container_netns:
    name: web
    networks:
      - bridge: frontend0
        ip: 10.90.0.10
      - bridge: backend0
    dns: [10.90.0.1]

- name: Run a command in it
  ansible.builtin.command: ip netns exec web getent hosts db

- name: Remove it, with its links and published ports
  seed.container_net.container_netns:
    name: web
    state: absent
'''

RETURN = r'''
container:
  description: The container's network facts (empty after O(state=absent)). Env values are never returned.
  returned: always
  type: dict
  contains:
    name: {description: Container name., type: str, returned: success}
    hostname: {description: Host name., type: str, returned: success}
    netns_path: {description: "Path of the network namespace, for C(NetworkNamespacePath=).", type: str, returned: success}
    ip: {description: Address on the first network., type: str, returned: success}
    gateway: {description: Default gateway., type: str, returned: success}
    ip6: {description: IPv6 address on the first dual-stack network (null without one)., type: str, returned: success}
    networks:
      description:
        - One entry per network, with C(bridge), C(ip), C(prefixlen), C(mac), C(gateway), C(ifname) and C(veth);
          on a dual-stack bridge also C(ip6), C(prefixlen_v6) and C(gateway_v6).
      type: list
      elements: dict
      returned: success
    exposed_ports: {description: Normalized exposed ports., type: list, elements: str, returned: success}
    env_keys: {description: Names of the container's own variables., type: list, elements: str, returned: success}
    files: {description: Files written for the container., type: list, elements: str, returned: success}
  sample:
    name: db
    hostname: dbhost
    netns: db
    netns_path: /run/netns/db
    ip: 172.30.0.2
    gateway: 172.30.0.1
    networks:
      - {bridge: cnet0, ip: 172.30.0.2, prefixlen: 16, mac: "02:42:ac:1e:00:02", gateway: 172.30.0.1,
         ifname: eth0, veth: vc1a2b3c4d5e6}
    exposed_ports: [5432/tcp]
    env_keys: [POSTGRES_PASSWORD]
    files: [/etc/netns/db/hosts, /etc/netns/db/resolv.conf, /etc/netns/db/environment]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.container_net.plugins.module_utils import _containers as containers
from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, Step, common_args


class ContainerManager(Manager):
    kind = 'container_netns'

    def update(self, state):
        name = links.check_name(self.params['name'], 'name')
        if self.params['state'] == 'absent':
            containers.forget(state, name)
        else:
            state['containers'][name] = containers.record(self.params, state)

    def kernel_plan(self, old, new):
        name = self.params['name']
        return containers.steps(self.netlink, name, old['containers'].get(name), new['containers'].get(name),
                                new['bridges'], Step)

    def facts(self, state):
        name = self.params['name']
        return {'container': containers.facts(name, state['containers'].get(name), state['bridges'],
                                              self.params['netns_etc_dir'])}

    def view(self, state):
        view = self.facts(state)['container']
        view.pop('files', None)
        return view


def main():
    module = AnsibleModule(
        argument_spec=common_args(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            **containers.argument_spec()
        ),
        mutually_exclusive=[('networks', 'bridge')],
        required_if=[('state', 'present', ('networks', 'bridge'), True)],
        supports_check_mode=True,
    )
    ContainerManager(module).run()


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: port_publish
short_description: Docker's C(-p) and C(-P) in the kernel, safe by default
version_added: 0.1.0
description:
  - Publishes ports of a container made by M(seed.container_net.container_netns) on the host, as
    C(docker run -p) and C(-P) do without the userland proxy, in the collection's own chains.
  - DNAT for traffic arriving from outside and from the host itself, forwarding accepted to the
    container port, hairpin MASQUERADE so a container reaches its own published port.
  - A port published on a 127.0.0.0/8 address is reachable from the host itself only (C(route_localnet)
    on the bridge, as Docker) and dropped in raw PREROUTING when it arrives on any other interface
    (as Docker 28; earlier Dockers exposed it to the LAN, moby#45610).
  - An empty host port takes the lowest free port of C(net.ipv4.ip_local_port_range), minus
    C(ip_local_reserved_ports), listening sockets and other mappings; it is kept on every re-run.
  - When a UDP mapping appears, changes or goes away, its conntrack entries are flushed, so a client that
    keeps sending follows the new mapping at once (moby#8795).
  - The mapping follows the container's current address (its first network), so it never goes stale.
author:
  - seed.container_net developers (@seed)
extends_documentation_fragment:
  - seed.container_net.common
  - seed.container_net.common.attributes
options:
  container:
    description: The container whose ports are published.
    type: str
    required: true
  ports:
    description:
      - Docker C(-p) strings C([IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|udp|sctp]), for example
        V(8080:80), V(127.0.0.1:5000:5000), V(127.0.0.1::5000), V(5000:5000/udp), V(7000-7005:7000-7005),
        or dicts with keys C(host_ip), C(host_port), C(container_port) and C(protocol).
      - An IPv6 host address goes in brackets, V([::]:8080:80) (or C(host_ip) V(::) in a dict), for a container
        on a dual-stack bridge; it is DNAT'ed to the container's IPv6 address. V(::1) is refused (the kernel
        does not route the IPv6 loopback to another interface; use V(127.0.0.1)).
      - The host address defaults to the bridge's C(host_binding_ipv4); for a container with IPv6 the port
        is published on the bridge's C(host_binding_ipv6) (V(::)) too, on the same host port, as Docker with C(--ipv6).
      - The list replaces what was published for the container before.
    type: list
    elements: raw
    default: []
  publish_all:
    description: Docker's C(-P). Publish every exposed port of the container on a free host port.
    type: bool
    default: false
  allowed_sources:
    description:
      - CIDRs (IPv4 or IPv6) that may connect to the published ports. Default is everyone.
      - Each mapping takes the CIDRs of its own family; an IPv6 mapping with only IPv4 CIDRs listed admits nobody.
    type: list
    elements: str
    default: []
  state:
    description: V(absent) unpublishes every port of the container.
    type: str
    choices: [present, absent]
    default: present
'''

EXAMPLES = r'''
- name: Publish the web container on port 8080 and PostgreSQL on loopback only
  seed.container_net.port_publish:
    container: web
    ports:
      - "8080:80"
      - "127.0.0.1:15432:5432"

- name: Every exposed port on a free port, reachable from the office network only
  seed.container_net.port_publish:
    container: api
    publish_all: true
    allowed_sources: [192.0.2.0/24]
  register: published

- name: Show the mappings like docker port
  ansible.builtin.debug:
    var: published.ports.docker_port

- name: Unpublish
  seed.container_net.port_publish:
    container: web
    state: absent
'''

RETURN = r'''
ports:
  description: The mappings in force for the container (empty after O(state=absent)).
  returned: always
  type: dict
  contains:
    container: {description: The container., type: str, returned: success}
    container_ip: {description: The address the mappings lead to., type: str, returned: success}
    container_ip6: {description: The IPv6 address IPv6 mappings lead to (null without one)., type: str, returned: success}
    mappings:
      description: One entry per mapping with C(host_ip), C(host_port), C(host_port_end), C(container_port),
        C(container_port_end), C(protocol) and C(random) (the host port was chosen by the module).
      type: list
      elements: dict
      returned: success
    docker_port:
      description: The mappings as C(docker port) prints them.
      type: list
      elements: str
      returned: success
    allowed_sources: {description: CIDRs that may connect (empty for everyone)., type: list, elements: str, returned: success}
  sample:
    container: web
    container_ip: 172.30.0.3
    container_ip6: null
    docker_port: ["80/tcp -> 0.0.0.0:8080", "5432/tcp -> 127.0.0.1:15432"]
    allowed_sources: []
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, common_args


class PortManager(Manager):
    kind = 'port_publish'

    def update(self, state):
        name = links.check_name(self.params['container'], 'container')
        if self.params['state'] == 'absent':
            state['ports'].pop(name, None)
        else:
            state['ports'][name] = ports.record(name, self.params, state, self.host_reads())

    def facts(self, state):
        return {'ports': ports.facts(state, self.params['container'])}

    def view(self, state):
        return self.facts(state)['ports']


def main():
    module = AnsibleModule(
        argument_spec=common_args(
            container=dict(type='str', required=True),
            **ports.argument_spec(),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        supports_check_mode=True,
    )
    PortManager(module).run()


if __name__ == '__main__':
    main()

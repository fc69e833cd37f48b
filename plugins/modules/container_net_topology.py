#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: container_net_topology
short_description: Converge a host's bridges, containers, links and published ports in one call
version_added: 0.1.0
description:
  - Applies a whole declaration (what M(seed.container_net.docker_bridge), M(seed.container_net.container_netns),
    M(seed.container_net.container_link) and M(seed.container_net.port_publish) do one object at a time) in a
    single module call, with the same semantics, so a host with hundreds of containers converges in seconds
    rather than one Ansible task per object.
  - The whole declaration is validated before anything is touched; every problem (duplicate names, links to
    undeclared containers, clashing host ports, bad addresses, ...) is reported in one error.
  - A declared container's O(containers[].links) and O(containers[].ports) are the complete set for it.
    With O(prune=true), bridges and containers the registry holds but the declaration does not are removed.
author:
  - seed.container_net developers (@seed)
extends_documentation_fragment:
  - seed.container_net.common
  - seed.container_net.common.attributes
options:
  bridges:
    description: Bridges, with the options of M(seed.container_net.docker_bridge).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Bridge name, as in M(seed.container_net.docker_bridge), at most 15 bytes of ASCII letters, digits,
          C(_), C(.) and C(-), starting with a letter or digit.
        type: str
        required: true
      subnet: {description: IPv4 subnet (CIDR)., type: str, required: true}
      gateway: {description: Bridge address; default the first host of the subnet., type: str}
      ip_range: {description: Sub-range addresses are allocated from., type: str}
      mtu: {description: MTU of the bridge and its veths., type: int, default: 1500}
      icc: {description: Inter-container communication; V(false) leaves only linked ports open., type: bool, default: true}
      ip_masquerade: {description: Masquerade traffic leaving the subnet., type: bool, default: true}
      internal: {description: No traffic between the bridge and other interfaces., type: bool, default: false}
      host_binding_ipv4: {description: Default host address of published ports., type: str, default: 0.0.0.0}
      dns: {description: A user-defined network whose containers resolve each other by name and alias., type: bool, default: false}
      enable_ipv6: {description: "Dual stack; left out, dual stack exactly when O(bridges[].subnet_v6) is set.", type: bool}
      subnet_v6: {description: IPv6 subnet (CIDR)., type: str}
      gateway_v6: {description: IPv6 bridge address; default the subnet's C(::1)., type: str}
      ip_range_v6: {description: Sub-range IPv6 addresses are allocated from., type: str}
      host_binding_ipv6: {description: Default IPv6 host address of published ports., type: str, default: "::"}
      overlay:
        description:
          - Makes the bridge an overlay across hosts, declared where the bridge is (as in O(overlays), which see).
            Its name, O(bridges[].subnet), O(bridges[].icc) and O(bridges[].dns) are the overlay's. The overlay
            sets each member's gateway, range and MTU, so the other bridge options are refused with it where
            they differ from their defaults.
          - "V({}) is an overlay with every default: VXLAN over every host of O(hosts)."
        type: dict
        suboptions:
          mode: {description: "As O(overlays[].mode).", type: str, default: vxlan, choices: [vxlan, routed]}
          host_prefix: {description: "As O(overlays[].host_prefix).", type: int, default: 24}
          vni: {description: "As O(overlays[].vni).", type: int}
          port: {description: "As O(overlays[].port).", type: int, default: 4789}
          members: {description: "As O(overlays[].members).", type: list, elements: str}
          underlay_mtu: {description: "As O(overlays[].underlay_mtu).", type: int, default: 1500}
          encrypted: {description: "As O(overlays[].encrypted).", type: bool, default: false}
          tunnel_subnet: {description: "As O(overlays[].tunnel_subnet).", type: str}
          wireguard_port: {description: "As O(overlays[].wireguard_port).", type: int, default: 51820}
  containers:
    description: Containers, with the options of M(seed.container_net.container_netns) plus their links and ports.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Container name (also its netns name)., type: str, required: true}
      bridge: {description: Shorthand for one network., type: str}
      networks:
        description: Networks; the first carries the default route.
        type: list
        elements: dict
        suboptions:
          bridge: {description: Bridge name., type: str, required: true}
          ip: {description: Static address., type: str}
          ip6: {description: Static IPv6 address (dual-stack bridges)., type: str}
          mac: {description: MAC address., type: str}
          aliases: {description: "Network aliases (bridges with O(bridges[].dns=true) only).", type: list, elements: str, default: []}
      hostname: {description: Host name; default a kept 12-hex-digit id., type: str}
      exposed_ports: {description: "Exposed ports (C(5432/tcp), C(53/udp), C(7000-7002/tcp)).", type: list, elements: str, default: []}
      env: {description: The container's environment (secret; mode 0600 file)., type: dict, default: {}}
      dns: {description: Name servers., type: list, elements: str, default: []}
      dns_search: {description: Search domains., type: list, elements: str, default: []}
      dns_options: {description: resolv.conf options., type: list, elements: str, default: []}
      extra_hosts: {description: "C(HOST:IP) hosts lines.", type: list, elements: str, default: []}
      links:
        description: "Links into this container: Docker's C(SOURCE[:ALIAS]) strings or dicts with C(source) and C(alias)."
        type: list
        elements: raw
        default: []
      ports:
        description: Published ports, in the forms of M(seed.container_net.port_publish).
        type: list
        elements: raw
        default: []
      publish_all: {description: Publish every exposed port on a free host port (Docker C(-P))., type: bool, default: false}
      allowed_sources: {description: CIDRs that may connect to the published ports., type: list, elements: str, default: []}
  overlays:
    description:
      - Networks across hosts, declared once for the whole inventory (C(container_net_overlays)); each
        member host converges its share. Every host checks the whole declaration (blocks, subnets, VNIs,
        underlay addresses) before it changes anything, so all hosts agree or none changes.
      - C(vxlan) (the default) stretches one subnet over the members. Each member's bridge has its own
        gateway, the first address of its block, and leases addresses from that block only. A VXLAN port
        (C(vx) + digest of the name, no learning) carries static FDB entries. The all-zeros MAC goes to every
        peer (head-end replicated broadcast), and every remote container's MAC goes to its host. Bridge and
        veths get an MTU 50 below the underlay's. UDP to the VXLAN port is accepted from the peers only.
      - Containers join an overlay as they join any bridge (O(containers[].networks[].bridge) is the overlay's name).
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: "The overlay's bridge name on every member (at most 15 bytes).", type: str, required: true}
      mode:
        description:
          - C(vxlan), one stretched subnet over VXLAN.
          - C(routed), each member's bridge is its block, with routes to the peers' blocks via their underlay
            addresses. No encapsulation and the underlay's MTU, for hosts that share a segment or an underlay
            that routes those blocks. The peers' blocks pass the raw guard and the ingress stage and are not
            masqueraded, from the underlay address's link only. With O(overlays[].icc=false) they pass their links'
            pairs only, as on one bridge. Unencrypted, the underlay is trusted, as with any direct routing.
        type: str
        default: vxlan
        choices: [vxlan, routed]
      subnet: {description: The overlay's IPv4 range (CIDR)., type: str, required: true}
      host_prefix: {description: Prefix length of each member's block of the range., type: int, default: 24}
      vni: {description: VXLAN network identifier; default derived from the name., type: int}
      port: {description: VXLAN UDP port., type: int, default: 4789}
      members:
        description: Inventory names of the member hosts, in block order (append new hosts at the end); default every host of O(hosts), sorted.
        type: list
        elements: str
      underlay_mtu: {description: "MTU of the underlay; the overlay takes 50 less (VXLAN), and 80 more when encrypted.", type: int, default: 1500}
      icc: {description: Inter-container communication across the overlay; V(false) leaves linked ports only., type: bool, default: true}
      dns: {description: "Names of the overlay's containers, resolved on every member.", type: bool, default: false}
      encrypted:
        description:
          - Run the overlay over WireGuard between its members (either mode). Each member gets a link (C(wg) + digest)
            with an address from O(overlays[].tunnel_subnet). Its private key is generated on the host, kept in the
            registry with mode 0600, and never leaves it. VXLAN and the routes run between tunnel addresses, so only
            WireGuard's UDP crosses the underlay.
          - Public keys go to the other members through the facts of the run (RV(overlays)) and O(hosts).
            The topology role's second phase passes them on. A peer whose key is not known yet joins on a later run.
          - Needs C(wg) (wireguard-tools) and the kernel's WireGuard module, or C(wireguard-go) where the kernel
            has none. Routed blocks are admitted only from the WireGuard link, where a peer's key vouches for them.
        type: bool
        default: false
      tunnel_subnet:
        description: IPv4 range of the tunnel addresses (required with O(overlays[].encrypted)); member block N takes address N+1.
        type: str
      wireguard_port: {description: "WireGuard's UDP port on every member (one per encrypted overlay, and no overlay's VXLAN port).", type: int, default: 51820}
  hosts:
    description:
      - The inventory's hosts as the overlays see them, by inventory name, with C(underlay) (the address peers send
        VXLAN to) and optionally C(index) (the host's block; default its place in O(overlays[].members)).
      - C(wireguard), a mapping of overlay names to that host's public key, is needed for encrypted overlays.
        A key left out stays as the registry recorded it.
    type: dict
    default: {}
  host:
    description: This host's inventory name (C(inventory_hostname)), one of O(hosts).
    type: str
  remote_containers:
    description:
      - Containers other members run on the overlays, from their declarations and their hosts' facts (C(name),
        C(host), C(networks) with C(bridge), C(ip) and C(mac), C(hostname), C(exposed_ports), C(env) and C(links)).
        They get FDB entries, names on overlay DNS networks, and they can be link sources. A link of theirs
        into this host's container opens its icc pair here too.
      - Left out, the remote containers the registry recorded on the last run that named them stay as they are.
    type: list
    elements: dict
    suboptions:
      name: {description: Container name (unique across the overlay's hosts)., type: str, required: true}
      host: {description: Inventory name of the host that runs it., type: str, required: true}
      hostname: {description: Its host name (hosts lines of links)., type: str}
      networks:
        description: Its networks there; those that are overlays of this host count.
        type: list
        elements: dict
        default: []
        suboptions:
          bridge: {description: Overlay name., type: str, required: true}
          ip: {description: Its address there., type: str, required: true}
          mac: {description: Its MAC there; default Docker's C(02:42) + address., type: str}
      exposed_ports: {description: Its exposed ports (link variables and icc pairs)., type: list, elements: str, default: []}
      env: {description: Its environment (link variables; secret)., type: dict, default: {}}
      links: {description: "Its links (C(SOURCE[:ALIAS])); those into this host's containers open their pair here.",
              type: list, elements: raw, default: []}
  remote_hosts:
    description:
      - The hosts O(remote_containers) speaks for (a play limited to some hosts, or a host whose first phase
        failed). The recorded containers of the other members stay as they are. Left out, O(remote_containers)
        replaces them all.
    type: list
    elements: str
  defer_remote_links:
    description:
      - Leave out, without an error, links whose source is neither declared here nor a known remote container.
        The topology role's first overlay phase sets it, since no host knows the others' addresses yet.
    type: bool
    default: false
  prune:
    description: Remove bridges and containers that the registry holds and the declaration does not.
    type: bool
    default: false
  state:
    description: V(absent) removes the declared containers and bridges (with their links and ports).
    type: str
    choices: [present, absent]
    default: present
'''

EXAMPLES = r'''
- name: The web + db topology
  seed.container_net.container_net_topology:
    bridges:
      - name: cnet0
        subnet: 172.30.0.0/24
        icc: false
    containers:
      - name: db
        bridge: cnet0
        hostname: db
        exposed_ports: [5432/tcp]
        env: {POSTGRES_PASSWORD: "{{ vault_db_password }}"}
      - name: web
        bridge: cnet0
        links: ["db:database"]
        ports: ["8080:8080"]
    prune: true

- name: An overlay declared on its bridge, across the hosts given (the topology role passes them from inventory)
  seed.container_net.container_net_topology:
    bridges:
      - name: ov0
        subnet: 10.230.0.0/16
        dns: true
        overlay: {mode: vxlan, members: [host1, host2]}
    hosts:
      host1: {underlay: 192.0.2.11}
      host2: {underlay: 192.0.2.12}
    host: host1
    containers:
      - name: web
        bridge: ov0
'''

RETURN = r'''
bridges:
  description: Bridges in force, by name.
  returned: always
  type: dict
containers:
  description: Containers in force, by name.
  returned: always
  type: dict
links:
  description: Links in force, by C(RECEIVER/ALIAS).
  returned: always
  type: dict
ports:
  description: Published ports in force, by container.
  returned: always
  type: dict
remote_containers:
  description: Containers of other hosts on this host's overlays, by name (C(host), C(hostname), C(networks), C(exposed_ports)).
  returned: always
  type: dict
overlays:
  description:
    - This host's share of each overlay, by name (C(mode), C(underlay), C(subnet), C(peers)).
    - An encrypted one adds C(interface), C(tunnel), C(wireguard_public_key) (for the other members' O(hosts)) and
      C(peers_without_key).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.container_net.plugins.module_utils import _bridges as bridges
from ansible_collections.seed.container_net.plugins.module_utils import _containers as containers
from ansible_collections.seed.container_net.plugins.module_utils import _overlay as overlay
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils import _topology as topology
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, Step, common_args


class TopologyManager(Manager):
    kind = 'container_net_topology'

    def update(self, state):
        if self.params['state'] == 'absent':
            topology.remove(state, self.params['bridges'], self.params['containers'], self.params['overlays'])
        else:
            topology.declare(state, self.params['bridges'], self.params['containers'], self.params['prune'],
                             self.netlink, self.host_reads(), overlays=self.params['overlays'],
                             hosts=self.params['hosts'], me=self.params['host'],
                             remote_decl=self.params['remote_containers'],
                             defer_remote_links=self.params['defer_remote_links'],
                             remote_hosts=self.params['remote_hosts'])

    def kernel_plan(self, old, new):
        return topology.host_steps(self.netlink, old, new, Step, self.params['registry_dir'])

    def facts(self, state):
        return topology.facts(state, self.params['netns_etc_dir'], self.params['registry_dir'])

    def view(self, state):
        facts = self.facts(state)
        return {'bridges': sorted(facts['bridges']),
                'containers': dict((n, c['ip']) for n, c in facts['containers'].items()),
                'links': sorted(facts['links']),
                'ports': dict((n, p['docker_port']) for n, p in facts['ports'].items())}


def main():
    bridge_options = dict(name=dict(type='str', required=True), **bridges.argument_spec())
    bridge_options['subnet']['required'] = True
    bridge_options['overlay'] = dict(type='dict', options=overlay.bridge_option_spec())
    container_options = dict(name=dict(type='str', required=True), links=dict(type='list', elements='raw', default=[]),
                             **dict(containers.argument_spec(), **ports.argument_spec()))
    module = AnsibleModule(
        argument_spec=common_args(
            bridges=dict(type='list', elements='dict', default=[], options=bridge_options),
            containers=dict(type='list', elements='dict', default=[], options=container_options),
            overlays=dict(type='list', elements='dict', default=[], options=overlay.argument_spec()),
            hosts=dict(type='dict', default={}),
            host=dict(type='str'),
            defer_remote_links=dict(type='bool', default=False),
            remote_hosts=dict(type='list', elements='str'),
            remote_containers=dict(type='list', elements='dict', options=dict(
                name=dict(type='str', required=True), host=dict(type='str', required=True), hostname=dict(type='str'),
                networks=dict(type='list', elements='dict', default=[], options=dict(
                    bridge=dict(type='str', required=True), ip=dict(type='str', required=True), mac=dict(type='str'))),
                exposed_ports=dict(type='list', elements='str', default=[]),
                env=dict(type='dict', default={}, no_log=True),
                links=dict(type='list', elements='raw', default=[]))),
            prune=dict(type='bool', default=False),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        supports_check_mode=True,
    )
    TopologyManager(module).run()


if __name__ == '__main__':
    main()

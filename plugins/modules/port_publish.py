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
      - The host address defaults to the bridge's C(host_binding_ipv4).
      - The list replaces what was published for the container before.
    type: list
    elements: raw
    default: []
  publish_all:
    description: Docker's C(-P). Publish every exposed port of the container on a free host port.
    type: bool
    default: false
  allowed_sources:
    description: CIDRs that may connect to the published ports. Default is everyone.
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
    docker_port: ["80/tcp -> 0.0.0.0:8080", "5432/tcp -> 127.0.0.1:15432"]
    allowed_sources: []
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.container_net.plugins.module_utils import _ipam as ipam
from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, Step, common_args
from ansible_collections.seed.container_net.plugins.module_utils._netlink import (
    host_addresses, listening_ports, read_sysctl, write_sysctl)


def local_port_range():
    low, high = (read_sysctl('net.ipv4.ip_local_port_range') or '32768 60999').split()
    return int(low), int(high), ports.parse_port_list(read_sysctl('net.ipv4.ip_local_reserved_ports'))


class PortManager(Manager):
    kind = 'port_publish'

    def update(self, state):
        name = links.check_name(self.params['container'], 'container')
        if self.params['state'] == 'absent':
            state['ports'].pop(name, None)
            return
        container = state['containers'].get(name)
        if container is None:
            raise ParamError("container '%s' is not a container managed by seed.container_net.container_netns" % name)
        bridge = state['bridges'][container['networks'][0]['bridge']]
        if bridge['internal']:
            raise ParamError("container '%s' is on internal bridge '%s', which cannot publish ports"
                             % (name, container['networks'][0]['bridge']))
        sources = [str(ipam.network_loose(c, 'allowed_sources[%d]' % i).cidr)
                   for i, c in enumerate(self.params['allowed_sources'])]
        specs = [(ports.parse_publish(p, 'ports[%d]' % i), 'ports[%d]' % i) for i, p in enumerate(self.params['ports'])]
        if self.params['publish_all']:
            for exposed in container['exposed_ports']:
                specs.append(({'host_ip': '', 'port': exposed['port'], 'end': exposed.get('end', exposed['port']),
                               'proto': exposed['proto'], 'host_port': None, 'host_end': None},
                              'publish_all (%s)' % ports.format_exposed(exposed)))
        previous = state['ports'].get(name, {}).get('mappings', [])
        others = [m for c, e in state['ports'].items() if c != name for m in e['mappings']]
        mappings = self._assign(specs, bridge['host_binding_ipv4'], previous, others)
        state['ports'][name] = {'mappings': mappings, 'allowed_sources': sources,
                                'publish_all': self.params['publish_all']}

    def _assign(self, specs, default_ip, previous, others):
        """Fill host addresses and ports; refuse clashes; keep ports chosen on earlier runs."""
        addresses = host_addresses(self.netlink)
        low, high, reserved = local_port_range()
        listeners = {}
        done = []
        for spec, field in specs:
            spec = dict(spec, host_ip=spec['host_ip'] or default_ip)
            addr = str(ipam.address(spec['host_ip'], field + ' host_ip'))
            if addr != '0.0.0.0' and not addr.startswith('127.') and addr not in addresses:
                raise ParamError("%s host_ip '%s' is not an address of this host" % (field, addr))
            spec['host_ip'] = addr
            size = spec['end'] - spec['port']
            spec['random'] = spec['host_port'] is None
            same = [m for m in previous if all(m[k] == spec[k] for k in ('host_ip', 'port', 'end', 'proto', 'random'))
                    and (spec['random'] or m['host_port'] == spec['host_port'])]
            if spec['random'] and same:
                spec['host_port'], spec['host_end'] = same[0]['host_port'], same[0]['host_end']
            elif spec['random']:
                taken = set(p for m in others + done if m['proto'] == spec['proto']
                            for p in range(m['host_port'], m['host_end'] + 1))
                busy = taken | set(self._listeners(listeners, spec['proto']))
                start = ports.free_block(size + 1, low, high, reserved, busy)
                if start is None:
                    raise ParamError("%s: no free host port left in %d-%d" % (field, low, high))
                spec['host_port'], spec['host_end'] = start, start + size
            for m in others + done:
                if ports.overlapping(spec, m):
                    raise ParamError("%s %s clashes with published port %s" % (field, ports.describe(spec),
                                                                               ports.describe(m)))
            if not same:
                for port in range(spec['host_port'], spec['host_end'] + 1):
                    bound = self._listeners(listeners, spec['proto']).get(port, set())
                    if bound and (spec['host_ip'] == '0.0.0.0' or spec['host_ip'] in bound or '0.0.0.0' in bound):
                        raise ParamError("%s %s clashes with a socket listening on %s:%d/%s"
                                         % (field, ports.describe(spec), sorted(bound)[0], port, spec['proto']))
            done.append(spec)
        return done

    @staticmethod
    def _listeners(cache, proto):
        if proto not in cache:
            cache[proto] = listening_ports(proto) if proto in ('tcp', 'udp') else {}
        return cache[proto]

    def kernel_plan(self, old, new):
        """route_localnet on the bridges that carry loopback connections, and back off when none do."""
        steps = []
        want, had = rules.localnet_bridges(new), rules.localnet_bridges(old)
        for bridge in sorted(want | had):
            key = 'net.ipv4.conf.%s.route_localnet' % bridge
            value = '1' if bridge in want else '0'
            current = read_sysctl(key)
            if current is not None and current != value:
                steps.append(Step('sysctl %s=%s' % (key, value), lambda k=key, v=value: write_sysctl(k, v)))
        return steps

    def facts(self, state):
        name = self.params['container']
        entry = state['ports'].get(name)
        if not entry:
            return {'ports': {}}
        return {'ports': {
            'container': name,
            'container_ip': state['containers'][name]['networks'][0]['ip'],
            'mappings': [{'host_ip': m['host_ip'], 'host_port': m['host_port'], 'host_port_end': m['host_end'],
                          'container_port': m['port'], 'container_port_end': m['end'], 'protocol': m['proto'],
                          'random': m['random']} for m in entry['mappings']],
            'docker_port': [ports.describe(m) for m in entry['mappings']],
            'allowed_sources': entry['allowed_sources'],
        }}

    def view(self, state):
        return self.facts(state)['ports']


def main():
    module = AnsibleModule(
        argument_spec=common_args(
            container=dict(type='str', required=True),
            ports=dict(type='list', elements='raw', default=[]),
            publish_all=dict(type='bool', default=False),
            allowed_sources=dict(type='list', elements='str', default=[]),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        supports_check_mode=True,
    )
    PortManager(module).run()


if __name__ == '__main__':
    main()

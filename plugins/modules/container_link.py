#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: container_link
short_description: Docker's legacy container links (C(--link SOURCE:ALIAS)), exact and never stale
version_added: 0.1.0
description:
  - Links a receiving container to a source container as C(docker run --link SOURCE:ALIAS) does, with
    Docker 20.10's exact output.
  - The receiver's C(/etc/netns/RECEIVER/environment) gets the link's variables (C(ALIAS_NAME),
    C(ALIAS_PORT), C(ALIAS_PORT_N_PROTO*), port range variables and C(ALIAS_ENV_*) from the source's env);
    its own variables win on a clash. Its hosts file gets C(IP<TAB>ALIAS SOURCE_HOSTNAME SOURCE_NAME).
  - When the shared bridge has C(icc=false), the two ACCEPT rules Docker writes per exposed port of the
    source are added to the collection's C(CNET-LINKS) chain, and nothing more. Once the host has more
    than 32 such port pairs in all, they are members of the bridge's ipset C(CNET-L-BRIDGE) instead
    (see M(seed.container_net.docker_bridge)).
  - Everything is rendered from the registry, so when the source gets a new address (re-created, moved
    to another network) the next run of any module of the collection updates env, hosts line and rules
    (Docker leaves them stale, moby#10164, moby#24043).
  - Use C(container-exec RECEIVER -- COMMAND) (installed by the C(seed.container_net.host) role) to
    run a command in the receiver with its environment.
author:
  - seed.container_net developers (@seed)
extends_documentation_fragment:
  - seed.container_net.common
  - seed.container_net.common.attributes
options:
  receiver:
    description: The container that receives the link (Docker's container started with C(--link)).
    type: str
    required: true
  source:
    description: The linked container. It must share a network with the receiver.
    type: str
    required: true
  alias:
    description: Name of the link inside the receiver. Defaults to O(source).
    type: str
  state:
    description: Whether the link exists.
    type: str
    choices: [present, absent]
    default: present
'''

EXAMPLES = r'''
- name: Link web to db as "database" (docker run --link db:database web)
  seed.container_net.container_link:
    receiver: web
    source: db
    alias: database
  register: link

- name: Use the address the link publishes
  ansible.builtin.debug:
    msg: "{{ link.link.env.DATABASE_PORT_5432_TCP_ADDR }}"

- name: Remove the link, its variables, hosts line and rules
  seed.container_net.container_link:
    receiver: web
    source: db
    alias: database
    state: absent
'''

RETURN = r'''
link:
  description: The link (empty after O(state=absent)).
  returned: always
  type: dict
  contains:
    receiver: {description: Receiving container., type: str, returned: success}
    source: {description: Source container., type: str, returned: success}
    alias: {description: Alias of the link., type: str, returned: success}
    bridge: {description: The network the link goes over (the receiver's first network shared with the source)., type: str, returned: success}
    hosts_line: {description: The line added to the receiver's hosts file., type: str, returned: success}
    env:
      description:
        - The variables the link gives the receiver. Values of C(ALIAS_ENV_*), copied from the source's env
          which may hold secrets, are masked here; the environment file has them.
      type: dict
      returned: success
    rules:
      description:
        - The ACCEPT rules in force for the link (only when the bridge has C(icc=false) and, with the iptables
          backend, matches its links by rules).
      type: list
      elements: str
      returned: success
    set_members:
      description:
        - The link's members (C(SOURCE_IP,PROTO:PORT,RECEIVER_IP)) of the bridge's ipset, when the bridge has
          C(icc=false) and the host more than 32 linked port pairs in all.
        - With the nftables backend, its elements of the table's C(links) set whenever the bridge has
          C(icc=false) (C("BRIDGE" . RECEIVER_IP . SOURCE_IP . PROTO . PORT)).
      type: list
      elements: str
      returned: success
  sample:
    receiver: web
    source: db
    alias: database
    bridge: cnet0
    hosts_line: "172.30.0.2\tdatabase dbhost db"
    env:
      DATABASE_NAME: /web/database
      DATABASE_PORT: tcp://172.30.0.2:5432
      DATABASE_PORT_5432_TCP: tcp://172.30.0.2:5432
      DATABASE_PORT_5432_TCP_ADDR: 172.30.0.2
      DATABASE_PORT_5432_TCP_PORT: "5432"
      DATABASE_PORT_5432_TCP_PROTO: tcp
      DATABASE_ENV_POSTGRES_PASSWORD: VALUE_SPECIFIED_IN_NO_LOG_PARAMETER
    rules: []
    set_members: []
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _nft as nft
from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, common_args

MASKED = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


class LinkManager(Manager):
    kind = 'container_link'

    @property
    def key(self):
        return links.link_key(self.params['receiver'], self.alias)

    @property
    def alias(self):
        return self.params['alias'] if self.params['alias'] is not None else self.params['source']

    def update(self, state):
        if self.params['state'] == 'absent':
            for field in ('receiver', 'source', 'alias'):
                links.check_name(self.params[field] if field != 'alias' else self.alias, field)
            state['links'].pop(self.key, None)
        else:
            state['links'][self.key] = links.record(state, self.params['receiver'], self.params['source'], self.alias)

    def facts(self, state):
        link = state['links'].get(self.key)
        resolved = links.resolve(state, link) if link else None
        if not resolved:
            return {'link': {}}
        prefix = links.env_prefix(link['alias']) + '_ENV_'
        use_set, per_bridge = rules.link_matching(state)
        nftables = state['firewall'].get('backend') == 'nftables'  # one set, whatever the number
        in_force = resolved['bridge'] in per_bridge  # the bridge has icc off
        r_ip, s_ip = resolved['receiver_ip'], resolved['source_ip']
        exposed = links.expand_ports(links.container(state, link['source'])['exposed_ports'])  # here or on a peer
        member = (lambda p: nft.link_element(resolved['bridge'], r_ip, s_ip, p)) if nftables \
            else (lambda p: links.set_entry(r_ip, s_ip, p))
        return {'link': {
            'receiver': link['receiver'], 'source': link['source'], 'alias': link['alias'],
            'bridge': resolved['bridge'],
            'hosts_line': resolved['hosts_line'],
            'env': dict((k, MASKED if k.startswith(prefix) else v) for k, v in resolved['env']),
            'rules': rules.link_rules(self.key, resolved['bridge'], r_ip, s_ip, exposed)
            if in_force and not (use_set or nftables) else [],
            'set_members': [member(p) for p in exposed] if in_force and (use_set or nftables) else [],
        }}

    def view(self, state):
        view = self.facts(state)['link']
        if view:
            view['env'] = sorted(view['env'])
        return view


def main():
    module = AnsibleModule(
        argument_spec=common_args(
            receiver=dict(type='str', required=True),
            source=dict(type='str', required=True),
            alias=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        supports_check_mode=True,
    )
    LinkManager(module).run()


if __name__ == '__main__':
    main()

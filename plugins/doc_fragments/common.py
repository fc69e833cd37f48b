# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  registry_dir:
    description:
      - Directory of the host-local registry that records bridges, containers, leases, links and
        published ports. Every module of the collection reads and writes it under a file lock;
        firewall rules and container files are rendered from it.
      - Use the same value for all tasks that manage one host.
    type: path
    default: /var/lib/container_net
  netns_etc_dir:
    description:
      - Directory under which each container gets C(NAME/hosts), C(NAME/resolv.conf) and
        C(NAME/environment). C(ip netns exec NAME) bind-mounts the files found in
        C(/etc/netns/NAME) over C(/etc), so change it only when another runtime reads them.
    type: path
    default: /etc/netns
requirements:
  - python >= 3.9
  - pyroute2 >= 0.9
  - netaddr
  - iptables (nf_tables or legacy backend) on the managed host
notes:
  - Rules live in the chains the collection owns (C(CNET-*)), each tagged with
    C(-m comment --comment "cnet:KIND:NAME"), reached through one jump per built-in chain and
    written with one C(iptables-restore --noflush) transaction per table. Rules of the user and
    of other tools are never rewritten.
'''

    ATTRIBUTES = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: linux
'''

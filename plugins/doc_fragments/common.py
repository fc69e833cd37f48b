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
  firewall_backend:
    description:
      - Where the host's rules live. C(iptables) - chains named C(CNET-*) in the iptables tables,
        reached by one jump per built-in chain, links beyond 32 port pairs in ipsets.
        C(nftables) - one owned table C(inet container_net), rewritten whole in one C(nft -f)
        transaction; links in one set; no ipset.
      - C(auto) keeps the backend the registry recorded for the host, so that every module on a host
        agrees. A host without one gets C(nftables) where C(nft) >= 1.0 is installed and iptables
        is not the legacy variant; else C(iptables).
      - An nftables accept ends only its own table's chain. Where iptables is installed, the
        C(nftables) backend therefore keeps one tagged jump in iptables' C(FORWARD) chain to
        C(CNET-FORWARD), which accepts the bridges' traffic the table has already judged (its drops
        are final), so that a C(DROP) policy there (Docker's) does not drop it.
      - Naming the other backend switches the host in this run - the new backend's rules are
        written first, then the old backend's are removed - and records it.
      - Set it once for a play with C(module_defaults) and the action group
        C(seed.container_net.container_net).
    type: str
    choices: [auto, iptables, nftables]
    default: auto
requirements:
  - python >= 3.9
  - pyroute2 >= 0.9
  - netaddr
  - iptables (nf_tables or legacy variant) or nft >= 1.0 on the managed host
notes:
  - With iptables, rules live in the chains the collection owns (C(CNET-*)), each tagged with
    C(-m comment --comment "cnet:KIND:NAME"), reached through one jump per built-in chain and
    written with one C(iptables-restore --noflush) transaction per table. With nftables they live
    in the table C(inet container_net) alone. Rules of the user and of other tools are never
    rewritten.
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

# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the topology role tells each member of the overlays about the others (see
container_net_topology's `hosts` and `remote_containers`)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def overlay_hosts(hostvars, hosts, results=('container_net_topology_local', 'container_net_topology_result')):
    """Each host's underlay address, block index and, once its first phase has run, its WireGuard
    public keys (the `overlays` facts of `results`)."""
    out = {}
    for name in hosts:
        hv = hostvars[name]
        entry = {'underlay': hv.get('container_net_underlay_address') or hv.get('ansible_host') or name}
        if hv.get('container_net_host_index') is not None:
            entry['index'] = int(hv['container_net_host_index'])
        keys = {}
        for result in results:
            for bridge, share in ((hv.get(result) or {}).get('overlays') or {}).items():
                if share.get('wireguard_public_key'):
                    keys.setdefault(bridge, share['wireguard_public_key'])
        if keys:
            entry['wireguard'] = keys
        out[name] = entry
    return out


def overlay_remote(hostvars, hosts, me, result='container_net_topology_local'):
    """The other hosts' containers: their declarations, with the address and MAC their first phase got."""
    out = []
    for name in hosts:
        if name == me:
            continue
        hv = hostvars[name]
        facts = (hv.get(result) or {}).get('containers') or {}
        for c in hv.get('container_net_containers') or []:
            got = facts.get(c.get('name'))
            if not got:
                continue
            out.append({'name': c['name'], 'host': name, 'hostname': got.get('hostname'),
                        'networks': [{'bridge': n['bridge'], 'ip': n['ip'], 'mac': n['mac']} for n in got['networks']],
                        'exposed_ports': c.get('exposed_ports') or [], 'env': c.get('env') or {},
                        'links': c.get('links') or []})
    return out


class FilterModule(object):
    def filters(self):
        return {'overlay_hosts': overlay_hosts, 'overlay_remote': overlay_remote}

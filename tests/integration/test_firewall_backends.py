"""Switching a live host between the iptables and nftables backends, and the owned state each leaves.

A watcher connects round after round through the switch (both ways): paths that must stay blocked
never connect, the allowed ones keep connecting, the old backend's objects are gone afterwards and
a second run changes nothing.
"""

import json
import os
import subprocess

import pytest

from labhost import BACKEND, PROBE, PYTHON, iptables_save, wait_for

OTHER = {'iptables': 'nftables', 'nftables': 'iptables'}[BACKEND]
LAN_LAB, LAN_PEER = '10.97.0.1', '10.97.0.2'
LAN_LAB6, LAN_PEER6 = 'fd00:97::1', 'fd00:97::2'
SUBNET6 = 'fd00:98::/64'


def owned(lab, cmd='iptables-save'):
    """(owned iptables (or ip6tables) lines, whether the owned nft table exists, owned ipsets)."""
    rules = [line for line in iptables_save(lab, cmd).splitlines() if 'CNET-' in line or 'cnet:' in line]
    table = lab.sh('nft list table inet container_net', check=False).returncode == 0
    sets = [line for line in lab.sh('ipset list -n', check=False).stdout.split() if line.startswith('CNET-')]
    return rules, table, sets


def topology(lab, backend, family=4):
    br = lab.name('br')
    names = dict((k, lab.name(k)) for k in ('pub', 'db', 'web', 'unl'))
    bridge = dict({'name': br, 'subnet': '10.98.0.0/24', 'icc': False}, **({'subnet_v6': SUBNET6} if family == 6 else {}))
    return lab.ok('container_net_topology', firewall_backend=backend,
                  bridges=[bridge],
                  containers=[
                      {'name': names['pub'], 'bridge': br, 'exposed_ports': ['80/tcp'], 'ports': ['18080:80']},
                      {'name': names['db'], 'bridge': br, 'exposed_ports': ['5432/tcp']},
                      {'name': names['web'], 'bridge': br, 'links': ['%s:db' % names['db']]},
                      {'name': names['unl'], 'bridge': br}]), names


def watch(lab, ns, targets, tmp_path, tag):
    ready, until = str(tmp_path / ('ready-' + tag)), str(tmp_path / ('until-' + tag))
    proc = subprocess.Popen(['ip', 'netns', 'exec', ns, PYTHON, PROBE, 'watch', '--ready', ready, '--until', until]
                            + ['%s:%d' % t for t in targets], stdout=subprocess.PIPE, text=True)
    lab.procs.append(proc)
    wait_for(lambda: os.path.exists(ready), 15, 'the watcher in %s to finish a round' % ns)
    return proc, until


@pytest.mark.parametrize('family', [4, 6], ids=['ipv4', 'ipv6'])
def test_a_switch_either_way_never_opens_a_blocked_path_and_leaves_only_the_new_backend(lab, tmp_path, family):
    result, names = topology(lab, BACKEND, family)
    ips = dict((n, c['ip6' if family == 6 else 'ip']) for n, c in result['containers'].items())
    for short, ports in (('pub', [80]), ('db', [5432, 6000])):
        lab.echo(names[short], short + '\n', tcp=ports, bind='::' if family == 6 else None)
    lan = lab.add_peer('lan', LAN_LAB + '/24', LAN_PEER + '/24')
    lab.in_ns(lan, 'ip route add 10.98.0.0/24 via %s' % LAN_LAB)
    lan_lab = LAN_LAB
    if family == 6:
        lab.add_peer_ipv6('lan', LAN_LAB6, LAN_PEER6, routes=[SUBNET6])
        lan_lab = LAN_LAB6
    db, pub = ips[names['db']], ips[names['pub']]
    watchers = {
        # allowed: the link's port (not the source's unexposed one), the published port through the host
        'web': ((db, 5432), (db, 6000)),
        # blocked: the linked container's other port, an unlinked neighbour, the LAN routed inside
        'unl': ((db, 5432), (pub, 80)),
        'lan': ((lan_lab, 18080), (db, 5432), (pub, 80)),
    }
    for backend in (OTHER, BACKEND):
        procs = dict((w, watch(lab, names.get(w, lan), targets, tmp_path, w + backend)) for w, targets in watchers.items())
        switched = topology(lab, backend, family)[0]
        assert switched['changed'], backend
        counts = {}
        for w, (proc, until) in procs.items():
            open(until, 'w').close()
            counts[w] = json.loads(proc.communicate(timeout=30)[0])
        allowed = {('web', '%s:5432' % db), ('lan', '%s:18080' % lan_lab)}
        for w, per_target in counts.items():
            for target, (connected, tries) in per_target.items():
                assert tries >= 2, (w, target, tries)
                if (w, target) in allowed:
                    assert connected == tries, (backend, w, target, connected, tries)  # and no gap either
                else:
                    assert connected == 0, (backend, w, target, connected, tries)
        rules, table, sets = owned(lab)
        if backend == 'nftables':
            # iptables keeps only the pass for the bridge's traffic (README, "Firewall backends")
            pass_only = [line for line in rules if line == ':CNET-FORWARD - [0:0]' or 'cnet:jump' in line
                         or '"cnet:nft-pass:%s"' % lab.name('br') in line]
            assert table and sets == [] and rules == pass_only and len(rules) == 4
            if family == 6:  # and so does ip6tables
                rules6 = owned(lab, 'ip6tables-save')[0]
                assert len(rules6) == 4 and all('CNET-FORWARD' in line or 'cnet:jump' in line for line in rules6)
        else:
            assert rules and not table
            assert bool(owned(lab, 'ip6tables-save')[0]) == (family == 6)
        again = topology(lab, backend, family)[0]
        assert not again['changed'] and lab.ok('container_net_info', firewall_backend='auto')['drift']['in_sync']
        # a run that names no backend keeps the one the host has now
        assert not topology(lab, 'auto', family)[0]['changed']
        assert lab.ok('container_net_info', firewall_backend='auto')['drift']['firewall_backend'] == backend

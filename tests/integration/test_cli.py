"""The host's container-net command on a real kernel: restore after a simulated reboot and after a
firewall reload, check's exit code, Docker-like views, a corrupt registry refused."""

import json
import os
import re

from labhost import iptables_save, sh, tcp_request, wait_for

LAB_IP = '10.254.0.1'


def converge(lab):
    outside = lab.add_peer('out', LAB_IP + '/24', '10.254.0.2/24')
    br = lab.name('br')
    db, web = lab.name('db'), lab.name('web')
    lab.ok('container_net_topology', bridges=[{'name': br, 'subnet': '10.89.0.0/24', 'icc': False}], containers=[
        {'name': db, 'bridge': br, 'hostname': 'db', 'exposed_ports': ['5432/tcp'],
         'env': {'POSTGRES_PASSWORD': 'never-printed'}},
        {'name': web, 'bridge': br, 'exposed_ports': ['80/tcp'], 'links': ['%s:db' % db], 'ports': ['8080:80']}])
    return outside, br, db, web


def serve(lab, db, web):
    lab.echo(db, 'db-ok\n', tcp=[5432])
    lab.echo(web, 'web-ok\n', tcp=[80])


def works(lab, outside, web):
    """The demo's paths: the link by its alias inside web, the published port from outside."""
    return tcp_request(lab, web, 'db', 5432) == 'db-ok\n' and tcp_request(lab, outside, LAB_IP, 8080) == 'web-ok\n'


def kernel_view(lab, containers, bridge):
    """What a restore must bring back as it was: each container's MAC, addresses and routes, the
    bridge's address, every owned rule and set, the container files (host veth ends get new
    indexes and MACs from the kernel, as any reboot gives them)."""
    snap = lab.snapshot()
    view = dict((k, snap[k]) for k in ('ipsets', 'netns', 'files'))
    view['iptables'] = re.sub(r'\[\d+:\d+\]', '[counters]', snap['iptables'])
    for name in containers:
        view[name] = lab.in_ns(name, 'ip -o link show eth0 | grep -o "link/ether [^ ]*"; ip -o addr show | cut -d" " -f2-; '
                                     'ip route; cat /proc/sys/net/ipv6/conf/all/disable_ipv6').stdout
    view[bridge] = lab.sh('ip -o addr show dev %s | cut -d" " -f2-; ip -o link show dev %s | grep -o "link/ether [^ ]*"; '
                          'cat /proc/sys/net/ipv6/conf/%s/disable_ipv6' % (bridge, bridge, bridge)).stdout
    return view


def await_veths_gone(lab):
    """The kernel frees a deleted namespace's veths asynchronously; a rebooted host has none left."""
    with open(os.path.join(lab.registry, 'state.json')) as f:
        veths = [n['veth'] for c in json.load(f)['containers'].values() for n in c['networks']]
    wait_for(lambda: not any(v in lab.sh('ip -o link show').stdout for v in veths), what='the veths to go')


def test_restore_rebuilds_a_host_after_a_simulated_reboot(lab):
    outside, br, db, web = converge(lab)
    converged = kernel_view(lab, (db, web), br)
    assert lab.cli('check').returncode == 0
    # A reboot: every namespace, veth, bridge, rule and sysctl gone; the registry and /etc/netns stay.
    for name in (db, web):
        sh(['ip', 'netns', 'del', name])
    lab.sh('ip link del %s' % br)
    await_veths_gone(lab)
    lab.sh('iptables-save | grep -v CNET- | iptables-restore')  # back to the boot-time rules
    lab.sh('for t in filter nat raw; do iptables -t $t -S | grep -q CNET- && exit 1; done; true')
    drift = lab.cli('check', '--json')
    assert drift.returncode == 1 and not json.loads(drift.stdout)['in_sync']
    restored = lab.cli('restore')
    assert restored.returncode == 0 and restored.stdout == 'restored\n', restored.stderr
    assert kernel_view(lab, (db, web), br) == converged  # same addresses, MACs, routes, rules, files
    serve(lab, db, web)
    assert works(lab, outside, web)
    again = lab.cli('restore')
    assert again.returncode == 0 and again.stdout == 'nothing to restore\n'
    assert lab.cli('check').returncode == 0


def test_restore_repairs_a_firewall_reload(lab):
    outside, br, db, web = converge(lab)
    serve(lab, db, web)
    assert works(lab, outside, web)
    user_rule = '-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT'
    # what a reload of a saved ruleset (netfilter-persistent, iptables-restore, nft flush) leaves
    lab.sh('nft flush ruleset && iptables %s' % user_rule)
    assert not works(lab, outside, web)

    def others():  # rules that are not the collection's (tables it recreates add only their built-in chains)
        return sorted(line for line in iptables_save(lab).splitlines() if line.startswith('-A ') and 'cnet:' not in line)
    before_user = others()
    assert lab.cli('restore').returncode == 0
    assert works(lab, outside, web)
    assert others() == before_user == [user_rule]  # the user's rule as it was, nothing else of anyone's


def test_views_as_docker_shows_them_and_secrets_stay_hidden(lab):
    outside, br, db, web = converge(lab)
    ps = lab.cli('ps', '--json')
    rows = dict((r['Names'], r) for r in json.loads(ps.stdout))
    assert rows[web]['Ports'] == '0.0.0.0:8080->80/tcp' and rows[web]['Networks'] == br
    assert rows[web]['Status'] == 'up' and rows[db]['IPAddress'].startswith('10.89.0.')
    assert lab.cli('ps').stdout.splitlines()[0].split()[:3] == ['CONTAINER', 'ID', 'NAMES']
    assert lab.cli('port', web).stdout == '80/tcp -> 0.0.0.0:8080\n'
    assert json.loads(lab.cli('port', web, '--json').stdout) == ['80/tcp -> 0.0.0.0:8080']
    assert [r['Name'] for r in json.loads(lab.cli('network', 'ls', '--json').stdout)] == [br]
    net = json.loads(lab.cli('network', 'inspect', br).stdout)[0]
    assert net['IPAM']['Config'] == [{'Subnet': '10.89.0.0/24', 'Gateway': '10.89.0.1'}]
    assert net['Options']['com.docker.network.bridge.enable_icc'] == 'false'
    assert sorted(c['Name'] for c in net['Containers'].values()) == [db, web]
    info = json.loads(lab.cli('inspect', web).stdout)[0]
    assert info['HostConfig']['Links'] == ['/%s:/%s/db' % (db, web)]
    assert info['NetworkSettings']['Ports'] == {'80/tcp': [{'HostIp': '0.0.0.0', 'HostPort': '8080'}]}
    assert 'DB_ENV_POSTGRES_PASSWORD=<hidden>' in info['Config']['Env']
    everything = ''.join(lab.cli(*a).stdout for a in (('ps', '--json'), ('inspect', db, web), ('network', 'inspect', br)))
    assert 'never-printed' not in everything
    missing = lab.cli('inspect', lab.name('nosuch'))
    assert missing.returncode == 1 and "no such container: '%s'" % lab.name('nosuch') in missing.stderr


def test_a_corrupt_registry_is_refused_and_nothing_changes(lab):
    outside, br, db, web = converge(lab)
    state = os.path.join(lab.registry, 'state.json')
    with open(state) as f:
        good = f.read()
    for name in (db, web):
        sh(['ip', 'netns', 'del', name])
    await_veths_gone(lab)
    for corrupt in (good[:len(good) // 2], '', '{"version": 99, "bridges": {}}', '[]'):
        with open(state, 'w') as f:
            f.write(corrupt)
        before = lab.snapshot()
        out = lab.cli('restore')
        assert out.returncode == 2 and 'registry' in out.stderr and 'Traceback' not in out.stderr, out.stderr
        assert lab.snapshot() == before
        result = lab.module('container_netns', name=db, bridge=br)
        assert result.get('failed') and 'registry' in result['msg'] and 'Traceback' not in result['msg'], result
    with open(state, 'w') as f:
        f.write(good)
    assert lab.cli('restore').returncode == 0 and lab.cli('check').returncode == 0

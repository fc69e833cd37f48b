"""Benchmarks of seed.container_net against the kernel's own floor (the bench section of README.md).

Every host is a lab network namespace made here and removed again; traffic stays inside them.
Writes bench/RESULTS.md and bench/converge.png. Timings are reported, never asserted.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
from labhost import Lab  # noqa: E402  pylint: disable=wrong-import-position

PY = sys.executable
LINE_RATE = '10gbit'  # the overlay section's underlay, as a common server NIC


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, check=True, **kw)


def pinned(cmd, cpu):
    """`cmd` on one core. Unpinned, a single-stream iperf3 swung 11.5-17 Gbit/s between runs here,
    as the scheduler put client and server on one core or on two; pinned, every path gets the same
    placement (client, and with it the sender's softirq work, on core 0; server on core 1)."""
    if (os.cpu_count() or 1) >= 2 and shutil.which('taskset'):
        return 'taskset -c %d %s' % (cpu, cmd)
    return cmd


def median_spread(values):
    return statistics.median(values), (min(values), max(values))


def median_latency(rounds):
    """Per figure, the median of several rounds' medians."""
    return dict((k, statistics.median(r[k] for r in rounds)) for k in ('ccr', 'rr'))


class Bench:
    def __init__(self, collections_path, out_dir):
        self.collections_path = collections_path
        self.out_dir = out_dir
        self.results = {}

    def lab(self):
        lab = Lab(self.collections_path, tempfile.mkdtemp(prefix='cnet-bench-'))
        lab.procs = []
        return lab

    # ---- converge ----------------------------------------------------------------------------
    def declaration(self, lab, n):
        br = lab.name('br')
        containers = []
        for i in range(n):
            c = {'name': lab.name('c%d' % i), 'bridge': br, 'exposed_ports': ['80/tcp'],
                 'ports': ['%d:80' % (20000 + i)]}
            if i:
                c['links'] = ['%s:prev' % lab.name('c%d' % (i - 1))]
            containers.append(c)
        return [{'name': br, 'subnet': '10.%d.0.0/16' % (100 + n % 100), 'icc': False}], containers

    @staticmethod
    def role_run(lab, bridges, containers, state='present'):
        start = time.perf_counter()
        out = lab.topology_role(bridges, containers, state=state, check=True)
        return time.perf_counter() - start, out.stdout

    def floor(self, lab, bridges, containers):
        """The same kernel objects from one ip -batch file (plus one per container netns) and one restore."""
        br = bridges[0]
        net = br['subnet'].split('/')[0].rsplit('.', 2)[0]
        host_batch = ['link add %sf type bridge' % br['name'][:12], 'addr add %s.0.1/16 dev %sf' % (net, br['name'][:12]),
                      'link set %sf up' % br['name'][:12]]
        ns_batches = {}
        rules = ['*filter', ':FLOOR - [0:0]']
        nat = ['*nat', ':FLOORNAT - [0:0]']
        for i, c in enumerate(containers):
            ns = c['name'] + 'f'
            ip = '%s.%d.%d' % (net, (i + 2) // 256, (i + 2) % 256)
            host_batch += ['netns add %s' % ns, 'link add vf%s type veth peer name eth0 netns %s' % (ns[-10:], ns),
                           'link set vf%s master %sf up' % (ns[-10:], br['name'][:12])]
            ns_batches[ns] = ['link set lo up', 'addr add %s/16 dev eth0' % ip, 'link set eth0 up',
                              'route add default via %s.0.1' % net]
            rules.append('-A FLOOR -s %s.0.9/32 -d %s/32 -i %sf -o %sf -p tcp -m tcp --dport 80 -j ACCEPT'
                         % (net, ip, br['name'][:12], br['name'][:12]))
            nat.append('-A FLOORNAT -p tcp -m tcp --dport %d -j DNAT --to-destination %s:80' % (21000 + i, ip))
        start = time.perf_counter()
        lab.sh("ip -batch - <<'EOF'\n%s\nEOF" % '\n'.join(host_batch))
        for ns, batch in ns_batches.items():
            sh(['ip', '-n', ns, '-batch', '-'], input='\n'.join(batch) + '\n')
        lab.sh("iptables-restore --noflush <<'EOF'\n%s\nCOMMIT\n%s\nCOMMIT\nEOF" % ('\n'.join(rules), '\n'.join(nat)))
        elapsed = time.perf_counter() - start
        for ns in ns_batches:
            sh(['ip', 'netns', 'del', ns])
        lab.sh('ip link del %sf; iptables -F FLOOR; iptables -X FLOOR; iptables -t nat -F FLOORNAT; '
               'iptables -t nat -X FLOORNAT' % br['name'][:12])
        return elapsed

    @staticmethod
    def restore_after_reboot(lab, bridges, containers):
        """A reboot's loss (every namespace, veth, bridge and owned rule gone; registry and files kept),
        then `container-net restore` timed as a whole process, Python start included, no Ansible."""
        for c in containers:
            sh(['ip', 'netns', 'del', c['name']])
        lab.sh('ip link del %s' % bridges[0]['name'])
        lab.sh('iptables-save | grep -v CNET- | iptables-restore')
        deadline = time.monotonic() + 120
        while 'veth' in lab.sh('ip -o link show type veth').stdout and time.monotonic() < deadline:
            time.sleep(0.05)  # the kernel frees deleted namespaces' veths asynchronously
        start = time.perf_counter()
        out = lab.cli('restore')
        elapsed = time.perf_counter() - start
        assert out.returncode == 0 and out.stdout == 'restored\n', out.stderr
        assert lab.cli('check').returncode == 0
        return elapsed

    def converge(self, sizes, repeats):
        rows = []
        for n in sizes:
            first, rerun, floors, restores = [], [], [], []
            for dummy in range(repeats):
                lab = self.lab()
                try:
                    bridges, containers = self.declaration(lab, n)
                    t, out = self.role_run(lab, bridges, containers)
                    assert 'changed=1' in out, out
                    first.append(t)
                    t, out = self.role_run(lab, bridges, containers)
                    assert 'changed=0' in out, out
                    rerun.append(t)
                    restores.append(self.restore_after_reboot(lab, bridges, containers))
                    self.role_run(lab, bridges, containers, state='absent')
                    floors.append(self.floor(lab, bridges, containers))
                finally:
                    lab.teardown()
            rows.append({'n': n, 'first': median_spread(first), 'rerun': median_spread(rerun),
                         'floor': median_spread(floors), 'restore': median_spread(restores)})
            last = rows[-1]
            print('converge N=%d first %.2fs rerun %.2fs restore %.2fs floor %.2fs'
                  % (n, last['first'][0], last['rerun'][0], last['restore'][0], last['floor'][0]))
        self.results['converge'] = rows

    # ---- data path -------------------------------------------------------------------------
    @staticmethod
    def latency(lab, ns, ip, port, count):
        """connect+request+close and request/response round trips, in microseconds (client inside ns).

        The client closes with a reset (SO_LINGER 0): a normal close leaves its port in TIME_WAIT,
        and after some 16,000 connections in a minute the kernel's search for a free ephemeral
        port made every connect take 2.5-4 ms, with rules and without alike (measured here).
        """
        code = r'''
import socket, struct, time, json, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ccr = []
reset = struct.pack('ii', 1, 0)
for i in range(n):
    t = time.perf_counter(); s = socket.create_connection((ip, port)); s.sendall(b'x'); s.recv(16)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, reset); s.close()
    ccr.append((time.perf_counter() - t) * 1e6)
s = socket.create_connection((ip, port)); rr = []
for i in range(n):
    t = time.perf_counter(); s.sendall(b'x'); s.recv(16); rr.append((time.perf_counter() - t) * 1e6)
print(json.dumps({'ccr': sorted(ccr)[len(ccr) // 2], 'rr': sorted(rr)[len(rr) // 2]}))
'''
        out = lab.in_ns(ns, "%s -c %s %s %d %d" % (PY, shquote(code), ip, port, count), timeout=300)
        return json.loads(out.stdout)

    @staticmethod
    def echo_server(lab, ns, port):
        code = r'''
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('0.0.0.0', int(sys.argv[1]))); srv.listen(256)
def serve(c):
    try:
        while True:
            d = c.recv(16)
            if not d: break
            c.sendall(d)
    except OSError:
        pass  # the latency client resets its connections
    c.close()
while True:
    c, a = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
'''
        lab.serve(ns, '%s -c %s %d' % (PY, shquote(code), port), tcp=[port])

    def iperf(self, lab, ns, ip, port, runs=3):
        """Median of a few short iperf3 runs: one run on a 2-core machine swings by 15%. The client
        goes on the first core, its server on the second (`pinned`)."""
        rates = []
        for dummy in range(runs):
            out = lab.in_ns(ns, pinned('iperf3 -c %s -p %d -t 2 -J' % (ip, port), 0), timeout=60)
            rates.append(json.loads(out.stdout)['end']['sum_received']['bits_per_second'] / 1e6)
        return statistics.median(rates)

    def datapath(self, count, link_rules):
        lab = self.lab()
        out = {}
        try:
            outside = lab.add_peer('out', '10.250.9.1/24', '10.250.9.2/24')
            lab.in_ns(outside, 'ip route add 10.99.0.0/24 via 10.250.9.1')
            br = lab.name('br')
            decl_b = [{'name': br, 'subnet': '10.99.0.0/24', 'icc': False}]
            decl_c = [{'name': lab.name('src'), 'bridge': br, 'exposed_ports': ['5201/tcp', '7000/tcp'],
                       'ports': ['15201:5201', '17000:7000']},
                      {'name': lab.name('rcv'), 'bridge': br, 'links': ['%s:src' % lab.name('src')]}]
            r = lab.module('container_net_topology', bridges=decl_b, containers=decl_c)
            assert not r.get('failed'), r
            src_ip = r['containers'][lab.name('src')]['ip']
            src, rcv = lab.name('src'), lab.name('rcv')
            self.echo_server(lab, src, 7000)
            lab.serve(src, pinned('iperf3 -s -p 5201', 1), tcp=[5201])
            lab.serve(lab.ns, 'socat TCP-LISTEN:27000,reuseaddr,fork TCP:%s:7000' % src_ip, tcp=[27000])
            lab.serve(lab.ns, 'socat TCP-LISTEN:25201,reuseaddr,fork TCP:%s:5201' % src_ip, tcp=[25201])
            # Rounds visit every path in turn, the rule-free bridge (owned chains flushed, icc on in
            # effect) included, so that a slow spell of this noisy machine hits all paths alike.
            paths = (('linked', rcv, src_ip, 7000, 5201), ('published', outside, '10.250.9.1', 17000, 15201),
                     ('proxy', outside, '10.250.9.1', 27000, 25201))
            saved = lab.sh('iptables-save').stdout
            samples = dict((p[0], []) for p in paths + (('norules',), ('direct',)))
            for dummy in range(5):
                for key, ns, ip, port, iperf_port in paths:
                    samples[key].append(dict(self.latency(lab, ns, ip, port, count),
                                             mbps=self.iperf(lab, ns, ip, iperf_port, runs=1)))
                # the floor: no owned rules at all. Routing from outside straight to the container is
                # dropped in raw PREROUTING when the rules are in force, so it is only measured here.
                lab.sh('iptables -F CNET-FORWARD; iptables -F CNET-LINKS; iptables -t raw -F CNET-RAW; '
                       'iptables -P FORWARD ACCEPT')
                samples['norules'].append(dict(self.latency(lab, rcv, src_ip, 7000, count),
                                               mbps=self.iperf(lab, rcv, src_ip, 5201, runs=1)))
                samples['direct'].append(dict(self.latency(lab, outside, src_ip, 7000, count),
                                              mbps=self.iperf(lab, outside, src_ip, 5201, runs=1)))
                restore(lab, saved)
            for key, rounds in samples.items():
                out[key] = dict(median_latency(rounds), mbps=statistics.median(r['mbps'] for r in rounds))
            # 10,000 links' worth of rule pairs ahead of the real one, the way links lay them out
            fill = ['*filter', ':CNET-LINKS - [0:0]']
            for i in range(link_rules):
                a, b = '10.98.%d.%d' % (i // 250, i % 250 + 1), '10.97.%d.%d' % (i // 250, i % 250 + 1)
                fill.append('-A CNET-LINKS -s %s/32 -d %s/32 -i %s -o %s -p tcp -m tcp --dport 5432 -j ACCEPT' % (a, b, br, br))
                fill.append('-A CNET-LINKS -s %s/32 -d %s/32 -i %s -o %s -p tcp -m tcp --sport 5432 -j ACCEPT' % (b, a, br, br))
            restore(lab, '\n'.join(fill) + '\nCOMMIT\n', noflush=True)
            real = [l for l in saved.splitlines() if l.startswith('-A CNET-LINKS ')]
            restore(lab, '*filter\n%s\nCOMMIT\n' % '\n'.join(real), noflush=True)
            out['links_10k'] = dict(self.latency(lab, rcv, src_ip, 7000, count),
                                    mbps=self.iperf(lab, rcv, src_ip, 5201), rules=link_rules * 2 + len(real))
            restore(lab, saved)
            out['links_10k_set'] = self.mesh(lab, decl_b, decl_c, link_rules, count, src_ip)
        finally:
            lab.teardown()
        out['count'] = count
        self.results['datapath'] = out
        print(json.dumps(out, indent=1))

    def mesh(self, lab, decl_b, decl_c, links, count, src_ip):
        """At least `links` real links: src, rcv and fillers, every container linked to every other
        (each exposing src's two ports), converged by one module call; then rcv -> src again."""
        src, rcv = decl_c[0]['name'], decl_c[1]['name']
        size = 2
        while size * (size - 1) < links:
            size += 1
        names = [src, rcv] + [lab.name('f%d' % i) for i in range(size - 2)]
        mesh = [dict(decl_c[0])] + [{'name': n, 'bridge': decl_b[0]['name'], 'exposed_ports': ['5201/tcp', '7000/tcp']}
                                    for n in names[1:]]
        for c in mesh:
            c['links'] = ['%s:%s' % (n, n[len(lab.id):]) for n in names if n != c['name']]
        start = time.perf_counter()
        r = lab.module('container_net_topology', bridges=decl_b, containers=mesh)
        first = time.perf_counter() - start
        assert not r.get('failed'), r.get('msg')
        start = time.perf_counter()
        again = lab.module('container_net_topology', bridges=decl_b, containers=mesh)
        rerun = time.perf_counter() - start
        assert again.get('changed') is False, again
        members = lab.sh('ipset list -t CNET-L-%s' % decl_b[0]['name']).stdout
        saved = lab.sh('iptables-save').stdout
        rules = [l for l in saved.splitlines() if l.startswith('-A CNET-LINKS')]
        # Rounds alternate between the converged rules and none at all on the same mesh, so drift
        # on a noisy machine (101 fresh interfaces settling, say) hits both sides alike.
        with_set, without = [], []
        for dummy in range(5):
            with_set.append(self.latency(lab, rcv, src_ip, 7000, count))
            lab.sh('iptables -F CNET-FORWARD; iptables -F CNET-LINKS; iptables -P FORWARD ACCEPT')
            without.append(self.latency(lab, rcv, src_ip, 7000, count))
            restore(lab, saved)
            print('mesh round: set-matched %.0f µs, no rules %.0f µs' % (with_set[-1]['ccr'], without[-1]['ccr']))
        return dict(median_latency(with_set), mbps=self.iperf(lab, rcv, src_ip, 5201), norules=median_latency(without),
                    links=size * (size - 1), link_rules=len(rules), converge_s=first, rerun_s=rerun,
                    members=int(members.split('Number of entries:')[1].split()[0]))

    # ---- firewall backends -----------------------------------------------------------------------
    def backends(self, count, ports=1000, links=10000, rounds=5):
        """Both backends side by side, one lab each, the same declarations: the run that adds `ports`
        published ports and its re-run, the run that adds `links` links and its re-run, then connect
        latency behind those links, rounds alternating with the owned rules removed (no rules)."""
        out = {}
        for backend in ('iptables', 'nftables'):
            lab = self.lab()
            try:
                out[backend] = self._backend(lab, backend, count, ports, links, rounds)
            finally:
                lab.teardown()
            print('backend %s: %s' % (backend, json.dumps(out[backend])))
        self.results['backends'] = out

    # ---- across hosts ------------------------------------------------------------------------
    def overlay(self, count, sizes=(1, 3, 6), per_host=5):
        """Hosts are lab namespaces on one underlay (a switch namespace). Container to container
        across two hosts over the VXLAN overlay against the underlay itself (host to host), then the
        topology role converging 1, 3 and 6 hosts in one play (forks = hosts, `per_host` containers each)."""
        out = {}
        labs = [self.lab() for dummy in range(max(sizes))]
        try:
            switch = labs[0].add_peer_ns('sw')
            labs[0].in_ns(switch, 'ip link add sw0 type bridge && ip link set sw0 up')
            hosts = {}
            for i, lab in enumerate(labs, 1):
                port = '%sp%d' % (labs[0].id, i)
                labs[0].in_ns(switch, 'ip link add %s type veth peer name ul0 netns %s && ip link set %s master sw0 up'
                              % (port, lab.ns, port))
                lab.sh('ip addr add 10.241.0.%d/24 dev ul0 && ip link set ul0 up' % i)
                if shutil.which('ethtool'):  # as a NIC has it; a veth's GRO is off, and VXLAN's receive path leans on it
                    lab.sh('ethtool -K ul0 gro on', check=False)
                hosts['h%d' % i] = {'underlay': '10.241.0.%d' % i}
            a, b = labs[0], labs[1]
            # the kernel alone on the routed path (two spare hosts, no rules of ours): what two more
            # veths, a bridge and forwarding on each side cost before any rule
            plain = []
            for i, lab in enumerate(labs[2:4]):
                peer = '10.241.0.%d' % (4 - i)
                lab.sh('ip link add kb type bridge && ip addr add 10.239.%d.1/24 dev kb && ip link set kb up '
                       '&& ip route add 10.239.%d.0/24 via %s && sysctl -qw net.ipv4.ip_forward=1' % (i, 1 - i, peer))
                plain.append(lab.attach_plain_ns('kn', 'kb', '10.239.%d.2/24' % i, '10.239.%d.1' % i))
            # one overlay per mode, side by side on the same two hosts: (key, declaration, address on h2)
            tunnel = {'encrypted': True, 'tunnel_subnet': '10.236.0.0/24', 'port': 4790}  # not plain vxlan's port
            paths = [('vxlan', {'subnet': '10.232.0.0/16'}, '10.232.1.2'),
                     ('routed', {'subnet': '10.234.0.0/16', 'mode': 'routed'}, '10.234.1.2'),
                     ('vxlan+wireguard', dict(tunnel, subnet='10.235.0.0/16'), '10.235.1.2'),
                     ('routed+wireguard', dict(tunnel, subnet='10.237.0.0/16', mode='routed',
                                               tunnel_subnet='10.238.0.0/24', wireguard_port=51821), '10.237.1.2')]
            ov = [dict(decl, name=a.name('o%d' % i), members=['h1', 'h2']) for i, (key, decl, ip) in enumerate(paths)]
            declared = dict((me, [{'name': lab.name('x%d%s' % (i, me)), 'bridge': o['name']} for i, o in enumerate(ov)])
                            for lab, me in ((a, 'h1'), (b, 'h2')))
            for dummy in range(2):  # the second run has the other member's WireGuard key (the role's second phase)
                for lab, me in ((a, 'h1'), (b, 'h2')):
                    r = lab.module('container_net_topology', overlays=ov, hosts=hosts, host=me, containers=declared[me])
                    assert not r.get('failed'), r.get('msg')
                    keys = dict((n, o['wireguard_public_key']) for n, o in r['overlays'].items()
                                if o.get('wireguard_public_key'))
                    hosts[me]['wireguard'] = keys
            targets = [('underlay', a, a.ns, b.ns, b, '10.241.0.2')]
            targets += [(key, a, declared['h1'][i]['name'], declared['h2'][i]['name'], b, ip)
                        for i, (key, decl, ip) in enumerate(paths)]
            targets.insert(2, ('routed, kernel alone', labs[2], plain[0], plain[1], labs[3], '10.239.1.2'))
            for key, dummy, dummy2, server_ns, lab, ip in targets:
                self.echo_server(lab, server_ns, 7000)
                lab.serve(server_ns, pinned('iperf3 -s -p 5201 -B %s' % ip, 1), tcp=[5201])
            rounds = dict((t[0], []) for t in targets)
            for dummy in range(5):  # alternating, so that drift of the machine hits every path alike
                for key, lab, ns, dummy2, dummy3, ip in targets:
                    mbps = self.iperf(lab, ns, ip, 5201, runs=1)
                    rounds[key].append(dict(self.latency(lab, ns, ip, 7000, count), mbps=mbps))
            # Then with a line rate on the underlay, as a NIC's wire has one: a veth has none, so above
            # the sender's core is the limit and every hop shows; a 10 Gbit/s token bucket on each
            # switch port (the wire) is what the goals' "full underlay speed" is about
            for port in labs[0].in_ns(switch, 'ls /sys/class/net/sw0/brif').stdout.split():
                labs[0].in_ns(switch, 'tc qdisc add dev %s root tbf rate %s burst 4mb latency 20ms'
                              % (port, LINE_RATE))
            for n in range(5):
                for key, lab, ns, dummy2, dummy3, ip in targets:
                    rounds[key][n]['line_mbps'] = self.iperf(lab, ns, ip, 5201, runs=1)
            for key, values in rounds.items():
                out[key] = dict(median_latency(values), mbps=statistics.median(r['mbps'] for r in values),
                                line_mbps=statistics.median(r['line_mbps'] for r in values))
            out['line_rate'] = LINE_RATE
            for i, lab in enumerate(labs[2:4]):
                for proc in lab.procs:
                    proc.kill()
                    proc.wait()
                lab.procs = []
                lab.sh('ip link del kb && ip route del 10.239.%d.0/24' % (1 - i))
            for lab in labs[:2]:
                for proc in lab.procs:
                    proc.kill()
                    proc.wait()
                lab.procs = []
                r = lab.module('container_net_topology', containers=[], remote_containers=[], prune=True)
                assert not r.get('failed'), r.get('msg')
            out['converge'] = dict((n, self._fleet_play(labs[:n], per_host)) for n in sizes)
            out['wireguard'] = 'kernel' if os.path.isdir('/sys/module/wireguard') else 'wireguard-go'
        finally:
            for lab in labs:
                lab.teardown()
        print('overlay: %s' % json.dumps(out))
        self.results['overlay'] = out

    def _fleet_play(self, labs, per_host):
        """(first play s, re-run s) of the topology role over these hosts in one play, forks = hosts."""
        d = tempfile.mkdtemp(prefix='cnet-bench-fleet-')
        try:
            hosts = {}
            ov = labs[0].name('fo%d' % len(labs))
            for i, lab in enumerate(labs, 1):
                wrapper = os.path.join(d, 'python-h%d' % i)
                with open(wrapper, 'w') as f:
                    f.write('#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' % (lab.ns, PY))
                os.chmod(wrapper, 0o755)
                hosts['h%d' % i] = {
                    'ansible_connection': 'local', 'ansible_python_interpreter': wrapper, 'container_net_python': wrapper,
                    'container_net_registry_dir': lab.registry, 'container_net_underlay_address': '10.241.0.%d' % i,
                    'container_net_containers': [{'name': lab.name('f%d' % k), 'bridge': ov} for k in range(per_host)]}
            inventory = {'all': {'hosts': hosts, 'vars': {'container_net_overlays': [
                {'name': ov, 'subnet': '10.233.0.0/16', 'members': sorted(hosts, key=lambda h: int(h[1:]))}]}}}
            with open(os.path.join(d, 'inventory.yml'), 'w') as f:
                json.dump(inventory, f)
            with open(os.path.join(d, 'play.yml'), 'w') as f:
                f.write('- hosts: all\n  gather_facts: false\n  roles:\n    - seed.container_net.topology\n')
            env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections_path, ANSIBLE_LOCALHOST_WARNING='false')
            cmd = [os.path.join(os.path.dirname(PY), 'ansible-playbook'), '-i', os.path.join(d, 'inventory.yml'),
                   '-f', str(len(labs)), os.path.join(d, 'play.yml')]
            times = []
            for dummy in range(2):
                start = time.perf_counter()
                run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
                assert run.returncode == 0, run.stdout + run.stderr
                times.append(time.perf_counter() - start)
            for lab in labs:
                r = lab.module('container_net_topology', containers=[], remote_containers=[], prune=True)
                assert not r.get('failed'), r.get('msg')
            return {'first_s': times[0], 'rerun_s': times[1], 'containers': per_host * len(labs)}
        finally:
            shutil.rmtree(d)

    @staticmethod
    def _timed(lab, backend, bridges, containers):
        start = time.perf_counter()
        r = lab.module('container_net_topology', firewall_backend=backend, bridges=bridges, containers=containers)
        assert not r.get('failed'), r.get('msg')
        return time.perf_counter() - start, r

    def _backend(self, lab, backend, count, ports, links, rounds):
        br = lab.name('br')
        bridges = [{'name': br, 'subnet': '10.96.0.0/22', 'icc': False}]
        size = 2
        while size * (size - 1) < links:
            size += 1
        names = [lab.name('m%d' % i) for i in range(size)]
        mesh = [{'name': n, 'bridge': br, 'exposed_ports': ['5201/tcp', '7000/tcp']} for n in names]
        # the ports on ten containers alone, then the links among all (the containers themselves and
        # the mesh's members are made by untimed runs: not what is measured)
        self._timed(lab, backend, bridges, mesh[:10])
        per = ports // 10
        for i, c in enumerate(mesh[:10]):
            c['ports'] = ['%d:%d' % (20000 + i * per + k, 1000 + k) for k in range(per)]
        ports_first, dummy = self._timed(lab, backend, bridges, mesh[:10])
        ports_rerun, r = self._timed(lab, backend, bridges, mesh[:10])
        assert not r['changed']
        self._timed(lab, backend, bridges, mesh)
        for c in mesh:
            c['links'] = ['%s:%s' % (n, n[len(lab.id):]) for n in names if n != c['name']]
        links_first, r = self._timed(lab, backend, bridges, mesh)
        src_ip = r['containers'][names[0]]['ip']
        links_rerun, r = self._timed(lab, backend, bridges, mesh)
        assert not r['changed']
        rcv = names[1]
        self.echo_server(lab, names[0], 7000)
        # "no rules": the filter stages emptied on either backend (NAT and the raw guard stay, as they
        # would for any new connection), so the ratio is what matching behind the links costs
        nftables = backend == 'nftables'
        saved = lab.sh('nft list table inet container_net' if nftables else 'iptables-save').stdout
        with_rules, without = [], []
        for dummy in range(rounds):
            with_rules.append(self.latency(lab, rcv, src_ip, 7000, count))
            lab.sh('nft flush chain inet container_net forward' if nftables else
                   'iptables -F CNET-FORWARD; iptables -F CNET-LINKS; iptables -P FORWARD ACCEPT')
            without.append(self.latency(lab, rcv, src_ip, 7000, count))
            if nftables:
                lab.sh('nft delete table inet container_net')
            (restore_nft if nftables else restore)(lab, saved)
        return dict(ports=ports, links=size * (size - 1), ports_first_s=ports_first, ports_rerun_s=ports_rerun,
                    links_first_s=links_first, links_rerun_s=links_rerun,
                    latency=median_latency(with_rules), norules=median_latency(without))


class Docker:
    """Debian's dockerd in a lab namespace of its own, its state under a temporary directory."""

    def __init__(self, lab, extra_args=()):
        self.ns = lab.add_peer_ns('dk')
        self.dir = tempfile.mkdtemp(prefix='cnet-bench-docker-', dir='/var/tmp')
        self.env = dict(os.environ, DOCKER_HOST='unix://%s/docker.sock' % self.dir)
        log = open(os.path.join(self.dir, 'dockerd.log'), 'w')
        self.proc = subprocess.Popen(
            ['nsenter', '--net=/run/netns/%s' % self.ns, 'dockerd', '--data-root', self.dir + '/data',
             '--exec-root', self.dir + '/exec', '--pidfile', self.dir + '/docker.pid', '-H', self.env['DOCKER_HOST'],
             '--exec-opt', 'native.cgroupdriver=cgroupfs', '--userland-proxy=false'] + list(extra_args),
            stdout=log, stderr=log)
        for dummy in range(60):
            if subprocess.run(['docker', 'version'], env=self.env, capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.5)
        # No registry here: a busybox image imported from a two-file rootfs.
        img = os.path.join(self.dir, 'img')
        os.makedirs(os.path.join(img, 'bin'))
        shutil.copy('/bin/busybox', os.path.join(img, 'bin', 'busybox'))
        os.symlink('busybox', os.path.join(img, 'bin', 'sleep'))
        tar = subprocess.Popen(['tar', '-C', img, '-c', '.'], stdout=subprocess.PIPE)
        subprocess.run(['docker', 'import', '-', 'lab/busybox'], stdin=tar.stdout, env=self.env, capture_output=True,
                       check=True)
        tar.wait()

    def run(self, *args):
        return subprocess.run(['docker'] + list(args), env=self.env, capture_output=True, text=True, check=True)

    def close(self):
        names = self.run('ps', '-aq').stdout.split()
        if names:
            self.run('rm', '-f', *names)
        self.proc.terminate()
        self.proc.wait(60)
        shutil.rmtree(self.dir, ignore_errors=True)


def docker_compare(bench, n):
    """n containers with docker run -d --link -p against the topology role (a process in each)."""
    lab = bench.lab()
    procs = []
    try:
        docker = Docker(lab)
        try:
            start = time.perf_counter()
            for i in range(n):
                link = ['--link', 'c%d:prev' % (i - 1)] if i else []
                docker.run('run', '-d', '--name', 'c%d' % i, *link, '--expose', '80', '-p', '%d:80' % (20000 + i),
                           'lab/busybox', 'sleep', '3600')
            docker_s = time.perf_counter() - start
        finally:
            docker.close()
        bridges, containers = bench.declaration(lab, n)
        start = time.perf_counter()
        bench.role_run(lab, bridges, containers)
        for c in containers:
            procs.append(subprocess.Popen(['ip', 'netns', 'exec', c['name'], 'sleep', '3600']))
        ours_s = time.perf_counter() - start
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        lab.teardown()
    bench.results['docker'] = {'n': n, 'docker_s': docker_s, 'ours_s': ours_s}
    print('docker %d containers: docker %.2fs, collection %.2fs' % (n, docker_s, ours_s))


DNSQ = os.path.join(ROOT, 'bench', 'dnsq.py')
UPSTREAM, UPSTREAM_NAME, UPSTREAM_IP = '10.198.0.53', 'upstream.bench', '198.51.100.9'


def dns_upstream(lab, ns):
    """dnsmasq on an address of namespace `ns` (on its lo: a local address answers on any interface):
    the upstream both resolvers forward to, so no query leaves the lab. It knows one name and
    answers NXDOMAIN for the rest."""
    sh(['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', UPSTREAM + '/32', 'dev', 'lo'])
    lab.serve(ns, 'dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --user=root --listen-address=%s '
                  '--bind-interfaces --local=/#/ --address=/%s/%s' % (UPSTREAM, UPSTREAM_NAME, UPSTREAM_IP),
              tcp=[53], udp=[53])


def dnsq(enter, server, name, count):
    """Latencies (µs) of `count` sequential queries from inside a container (`enter`: the command
    prefix that enters its network namespace)."""
    out = json.loads(sh(enter + [PY, DNSQ, server, name, str(count)]).stdout)
    assert not out['failed'] and out['answers'], out
    return out['us']


def connect_to_answer(enter, server, name, connect):
    """Seconds from the start of `connect()` until `name` answers inside the asker (a poll every 5 ms)."""
    poller = subprocess.Popen(enter + [PY, DNSQ, server, name, '--until-answer'], stdout=subprocess.PIPE, text=True)
    start = time.time()
    connect()
    out, dummy = poller.communicate(timeout=30)
    assert poller.returncode == 0, 'the name never answered'
    return json.loads(out)['answered_at'] - start


def pss_mb(pids):
    """Proportional set size: pages shared between the processes (a fork's) are counted once in all."""
    total = 0
    for pid in pids:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            total += next(int(line.split()[1]) for line in f if line.startswith('Pss:'))
    return total / 1024.0


def process_tree(pid):
    pids = [pid]
    for p in pids:
        try:
            with open('/proc/%d/task/%d/children' % (p, p)) as f:
                pids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def percentiles(values):
    values = sorted(values)
    return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]


def dns_compare(bench, queries, rounds=5):
    """The collection's resolver against Docker 20.10's embedded DNS: query latency for a container
    name and an upstream name (both resolvers up at once, rounds alternating between them, so that
    the machine's noise hits both), connect-to-answer time, and the resolver's memory at 10 and
    200 containers on 4 networks."""
    result = {'queries': queries, 'rounds': rounds, 'ours': {}, 'docker': {}}
    lab, dlab, docker = bench.lab(), bench.lab(), None
    try:
        # ours: 10 containers on 4 DNS networks
        dns_upstream(lab, lab.ns)
        bridges = [{'name': lab.name('d%d' % k), 'subnet': '10.%d.0.0/16' % (130 + k), 'dns': True} for k in range(4)]
        containers = [{'name': lab.name('q%d' % i), 'bridge': bridges[i % 4]['name'], 'dns': [UPSTREAM]} for i in range(10)]
        lab.ok('container_net_topology', bridges=bridges, containers=containers)
        # Docker: the same, in its own lab
        docker = Docker(dlab, ['--dns', UPSTREAM])
        dns_upstream(dlab, docker.ns)
        for k in range(4):
            docker.run('network', 'create', '--subnet', '10.%d.0.0/16' % (140 + k), 'n%d' % k)
        for i in range(10):
            docker.run('run', '-d', '--network', 'n%d' % (i % 4), '--name', 'c%d' % i, 'lab/busybox', 'sleep', '3600')
        pid = docker.run('inspect', '-f', '{{.State.Pid}}', 'c0').stdout.strip()
        sides = {'ours': (['ip', 'netns', 'exec', containers[0]['name']], '10.130.0.1', containers[4]['name']),
                 'docker': (['nsenter', '--net=/proc/%s/ns/net' % pid], '127.0.0.11', 'c4')}
        samples = dict(((side, kind), []) for side in sides for kind in ('name', 'upstream'))
        for dummy in range(rounds):
            for kind in ('name', 'upstream'):
                for side, (enter, server, name) in sorted(sides.items()):
                    samples[side, kind] += dnsq(enter, server, name if kind == 'name' else UPSTREAM_NAME,
                                                queries // rounds)
        for side in sides:
            result[side][10] = {'name_us': percentiles(samples[side, 'name']),
                                'upstream_us': percentiles(samples[side, 'upstream'])}
        tree = process_tree(lab.resolver_pid())
        result['ours'][10].update(pss_mb=pss_mb(tree), processes=len(tree))
        joined = containers[1]['name']
        result['ours'][10]['connect_s'] = connect_to_answer(sides['ours'][0], '10.130.0.1', joined, lambda: lab.ok(
            'container_netns', name=joined, networks=[{'bridge': bridges[1]['name']}, {'bridge': bridges[0]['name']}],
            dns=[UPSTREAM]))
        result['docker'][10].update(
            connect_s=connect_to_answer(sides['docker'][0], '127.0.0.11', 'c1',
                                        lambda: docker.run('network', 'connect', 'n0', 'c1')),
            dockerd_pss_mb=pss_mb([docker.proc.pid]))
        # ours at 200 containers: memory only
        more = [{'name': lab.name('q%d' % i), 'bridge': bridges[i % 4]['name'], 'dns': [UPSTREAM]} for i in range(200)]
        lab.ok('container_net_topology', bridges=bridges, containers=more)
        tree = process_tree(lab.resolver_pid())
        result['ours'][200] = {'pss_mb': pss_mb(tree), 'processes': len(tree)}
    finally:
        if docker is not None:
            docker.close()
        dlab.teardown()
        lab.teardown()
    bench.results['dns'] = result
    print('dns: ours %s; docker %s' % (result['ours'], result['docker']))


CNI = '/usr/lib/cni'


def cni_compare(bench, sizes):
    """CNI bridge (host-local, ipMasq) chained with portmap, ADD and DEL per container as a runtime
    calls them, against the collection's per-container cost in one batched module call."""
    rows = []
    for n in sizes:
        lab = bench.lab()
        data = tempfile.mkdtemp(prefix='cnet-bench-cni-')
        try:
            bridge_conf = {'cniVersion': '1.0.0', 'name': 'cnibench', 'type': 'bridge', 'bridge': lab.name('cni0'),
                           'isGateway': True, 'ipMasq': True,
                           'ipam': {'type': 'host-local', 'subnet': '10.120.0.0/16', 'dataDir': data}}
            add, delete = [], []
            for i in range(n):
                ns = lab.add_peer_ns('k%d' % i)
                env = dict(os.environ, CNI_CONTAINERID='bench%d' % i, CNI_NETNS='/run/netns/' + ns, CNI_IFNAME='eth0',
                           CNI_PATH=CNI)
                start = time.perf_counter()
                result = cni_call(lab, 'bridge', 'ADD', env, bridge_conf)
                port_conf = {'cniVersion': '1.0.0', 'name': 'cnibench', 'type': 'portmap',
                             'capabilities': {'portMappings': True}, 'prevResult': result,
                             'runtimeConfig': {'portMappings': [{'hostPort': 30000 + i, 'containerPort': 80,
                                                                 'protocol': 'tcp'}]}}
                cni_call(lab, 'portmap', 'ADD', env, port_conf)
                add.append(time.perf_counter() - start)
            for i in range(n):
                env = dict(os.environ, CNI_CONTAINERID='bench%d' % i, CNI_NETNS='/run/netns/' + lab.name('k%d' % i),
                           CNI_IFNAME='eth0', CNI_PATH=CNI)
                start = time.perf_counter()
                cni_call(lab, 'portmap', 'DEL', env, dict(port_conf, runtimeConfig={'portMappings': [
                    {'hostPort': 30000 + i, 'containerPort': 80, 'protocol': 'tcp'}]}))
                cni_call(lab, 'bridge', 'DEL', env, bridge_conf)
                delete.append(time.perf_counter() - start)
        finally:
            lab.teardown()
            shutil.rmtree(data, ignore_errors=True)
        whole, fixed = [], []
        for dummy in range(7):  # the marginal cost is a small difference of two noisy timings
            lab = bench.lab()
            try:
                bridges, containers = bench.declaration(lab, n)
                # the run's fixed cost (Python, imports, one iptables-save), shared by all its containers
                start = time.perf_counter()
                result = lab.module('container_net_topology', bridges=bridges, containers=[])
                fixed.append(time.perf_counter() - start)
                start = time.perf_counter()
                result = lab.module('container_net_topology', bridges=bridges, containers=containers)
                whole.append(time.perf_counter() - start)
                assert not result.get('failed'), result.get('msg')
            finally:
                lab.teardown()
        # each lab's own pair of calls gives one marginal figure: drift between labs cancels out
        marginal = statistics.median(w - f for w, f in zip(whole, fixed)) / n
        whole, fixed = statistics.median(whole), statistics.median(fixed)
        rows.append({'n': n, 'cni_add_ms': statistics.median(add) * 1000, 'cni_del_ms': statistics.median(delete) * 1000,
                     'ours_ms': whole / n * 1000, 'fixed_ms': fixed * 1000, 'marginal_ms': marginal * 1000})
        print('cni N=%d ADD %.1f ms DEL %.1f ms, collection %.1f ms per container in the call, %.1f ms marginal' % (
            n, rows[-1]['cni_add_ms'], rows[-1]['cni_del_ms'], rows[-1]['ours_ms'], rows[-1]['marginal_ms']))
    bench.results['cni'] = rows


def cni_call(lab, plugin, command, env, conf):
    out = subprocess.run(['nsenter', '--net=/run/netns/%s' % lab.ns, os.path.join(CNI, plugin)],
                         input=json.dumps(conf), env=dict(env, CNI_COMMAND=command), capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout) if out.stdout.strip() else None


def restore_nft(lab, listing):
    """Put a listed nft table back as it was (on stdin: 20,000 set elements exceed any argument)."""
    sh(['nsenter', '--net=/run/netns/%s' % lab.ns, 'nft', '-f', '-'], input=listing)


def restore(lab, text, noflush=False):
    """iptables-restore inside the lab, the rules on stdin (20,000 of them exceed any command line)."""
    sh(['nsenter', '--net=/run/netns/%s' % lab.ns, 'iptables-restore'] + (['--noflush'] if noflush else []),
       input=text)


def shquote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def facts():
    def first_line(cmd):
        try:
            return sh(cmd).stdout.splitlines()[0]
        except (subprocess.CalledProcessError, OSError, IndexError):
            return 'n/a'
    mem = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2 ** 30
    return [('cores', str(os.cpu_count())), ('memory', '%.0f GiB' % mem), ('kernel', platform.release()),
            ('python', platform.python_version()), ('ansible-core', first_line('ansible --version')),
            ('iptables', first_line('iptables --version')), ('date', time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))]


def verdict(ok):
    return 'met' if ok else '**not met**'


def write_results(bench, path, plot):
    c = bench.results.get('converge', [])
    d = bench.results.get('datapath', {})
    lines = ['# Benchmark results', '', 'Written by `bench/run`; medians of repeated runs with (min-max). '
             'Timings are measurements on a noisy 2-core machine, never test assertions.', '',
             '## Machine', '', '| fact | value |', '|---|---|']
    lines += ['| %s | %s |' % f for f in facts()]
    lines += ['', '## Converge through the topology role (one link and one published port per container)', '',
              '| N | first run s | re-run s | `container-net restore` after a reboot s | floor s (ip -batch + '
              'iptables-restore) | first / floor | restore / floor | per container ms |',
              '|---|---|---|---|---|---|---|---|']
    for row in c:
        lines.append('| %d | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %.3f (%.3f-%.3f) | %.1fx | %.1fx '
                     '| %.1f |' % (
                         row['n'], row['first'][0], row['first'][1][0], row['first'][1][1], row['rerun'][0],
                         row['rerun'][1][0], row['rerun'][1][1], row['restore'][0], row['restore'][1][0],
                         row['restore'][1][1], row['floor'][0], row['floor'][1][0], row['floor'][1][1],
                         row['first'][0] / row['floor'][0], row['restore'][0] / row['floor'][0],
                         row['first'][0] / row['n'] * 1000))
    lines += ['', 'Restore: what a reboot loses (namespaces, veths, bridge, owned rules; registry and files kept) '
              'rebuilt by one `container-net restore` process, no Ansible, side by side with the first converge '
              'of the same topology and the kernel floor in each lab.']
    targets = []
    by_n = dict((r['n'], r) for r in c)
    if 100 in by_n:
        r = by_n[100]
        targets.append(('first converge of 100 <= 2x floor + 5 s', '%.2f s vs %.2f s' % (r['first'][0], 2 * r['floor'][0] + 5),
                        r['first'][0] <= 2 * r['floor'][0] + 5))
        targets.append(('idempotent re-run of 100 <= 5 s', '%.2f s' % r['rerun'][0], r['rerun'][0] <= 5))
    for n in (100, 500):
        if n in by_n:
            r = by_n[n]
            targets.append(('restore of %d within 1.5x the floor' % n, '%.2f s vs %.2f s' % (r['restore'][0], 1.5 * r['floor'][0]),
                            r['restore'][0] <= 1.5 * r['floor'][0]))
    if 10 in by_n and 500 in by_n:
        small = by_n[10]['first'][0] / 10
        big = by_n[500]['first'][0] / 500
        targets.append(('per-container cost at 500 <= 1.3x cost at 10 (whole run, Ansible start included)',
                        '%.1f ms vs %.1f ms' % (big * 1000, small * 1000), big <= 1.3 * small))
    if d:
        lines += ['', '## Data path (µs for latency; Mbit/s for iperf3 throughput)', '',
                  'Medians of 5 rounds that visit every path in turn (the rule-free bridge included), each round '
                  '%d connections and %d request/response exchanges per path; the client closes with a reset so '
                  'that tens of thousands of connections leave no TIME_WAIT ports behind.' % (d['count'], d['count']), '',
                  '| path | connect+request+close p50 | request/response p50 | throughput |', '|---|---|---|---|']
        names = [('norules', 'linked containers, bridge with no rules'), ('linked', 'linked containers, icc off (link rules)'),
                 ('links_10k', "linked containers behind %s linear link rules (Docker's layout; before)"
                  % d.get('links_10k', {}).get('rules', '20,000')),
                 ('links_10k_set', 'linked containers behind %s real links (%s set members, %s rules; after)'
                  % tuple(d.get('links_10k_set', {}).get(k, '?') for k in ('links', 'members', 'link_rules'))),
                 ('direct', 'outside to container, direct route with no rules (the floor; dropped while the rules are '
                            'in force)'), ('published', 'outside to container, published port (DNAT)'),
                 ('proxy', 'outside to container, userland proxy (socat)')]
        for key, label in names:
            if key in d:
                lines.append('| %s | %.0f | %.0f | %.0f |' % (label, d[key]['ccr'], d[key]['rr'], d[key]['mbps']))
        mesh = d.get('links_10k_set')
        if mesh:
            lines.append('| the same mesh with no rules at all (rounds alternating with the row above) | %.0f | %.0f | |'
                         % (mesh['norules']['ccr'], mesh['norules']['rr']))
        if mesh:
            lines += ['', 'The %d-link mesh (%d containers, every one linked to every other) converged in one module call '
                      'in %.1f s; the idempotent re-run took %.1f s.' % (
                          mesh['links'], round((1 + (1 + 4 * mesh['links']) ** 0.5) / 2), mesh['converge_s'],
                          mesh['rerun_s'])]
        scale, none = (mesh, mesh['norules']) if mesh else (d['links_10k'], d['norules'])
        targets += [
            ('new-connection latency with 10,000 links <= 1.2x none', '%.0f µs vs %.0f µs (linear rules before: %.0f µs)'
             % (scale['ccr'], none['ccr'], d['links_10k']['ccr']), scale['ccr'] <= 1.2 * none['ccr']),
            ('linked throughput >= 0.95x rule-free', '%.0f vs %.0f Mbit/s' % (d['linked']['mbps'], d['norules']['mbps']),
             d['linked']['mbps'] >= 0.95 * d['norules']['mbps']),
            ('published throughput >= 0.95x direct route', '%.0f vs %.0f Mbit/s' % (d['published']['mbps'], d['direct']['mbps']),
             d['published']['mbps'] >= 0.95 * d['direct']['mbps']),
            ('published throughput >= 4x userland proxy', '%.0f vs %.0f Mbit/s' % (d['published']['mbps'], d['proxy']['mbps']),
             d['published']['mbps'] >= 4 * d['proxy']['mbps']),
        ]
    fb = bench.results.get('backends')
    if fb:
        lines += ['', '## Firewall backends side by side (one lab each, the same declarations, in one run)', '',
                  'One bridge with icc off, a mesh of containers each linked to every other (two exposed ports '
                  'per link), 1,000 single published ports on ten of them. Times are whole module runs '
                  '(`container_net_topology`, without Ansible): the run that adds the 1,000 ports to ten '
                  'containers already there, then the run that adds the links to the whole mesh, each with its '
                  'idempotent re-run. Latency: connect+request+close from a linked container, rounds '
                  'alternating with the filter stages emptied (NAT and the raw guard stay). nftables holds '
                  'the links in one set and the published ports as map elements (DNAT, accept and hairpin '
                  'lookups: one per packet whatever their number); iptables holds an ipset for the links '
                  'and a rule per published port.', '',
                  '| backend | add %d published ports s | re-run s | add %d links s | re-run s | connect p50 behind '
                  'the links µs | with no rules µs | ratio |' % (fb['iptables']['ports'], fb['iptables']['links']),
                  '|---|---|---|---|---|---|---|---|']
        for name in ('iptables', 'nftables'):
            r = fb[name]
            lines.append('| %s | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.2fx |' % (
                name, r['ports_first_s'], r['ports_rerun_s'], r['links_first_s'], r['links_rerun_s'],
                r['latency']['ccr'], r['norules']['ccr'], r['latency']['ccr'] / r['norules']['ccr']))
        for name in ('iptables', 'nftables'):
            r = fb[name]
            targets.append(('%s: 1,000 published ports applied in under 1 s' % name, '%.2f s' % r['ports_first_s'],
                            r['ports_first_s'] < 1))
            targets.append(('%s: new-connection latency behind %d links <= 1.2x none' % (name, r['links']),
                            '%.0f µs vs %.0f µs' % (r['latency']['ccr'], r['norules']['ccr']),
                            r['latency']['ccr'] <= 1.2 * r['norules']['ccr']))
    ov = bench.results.get('overlay')
    if ov:
        line = ov.get('line_rate', '10gbit').replace('gbit', ' Gbit/s')
        lines += ['', '## Across hosts: the overlays against their underlay, and a fleet in one play', '',
                  'Hosts are lab namespaces on one underlay (veths on a switch namespace, GRO on as a NIC has '
                  'it). Container to container across two hosts over each overlay mode, against host to host on '
                  'the underlay, rounds alternating (iperf3 Mbit/s, client and server pinned to one core each, as everywhere on this page; '
                  'latency as above). "routed, kernel alone" is the routed path on two more hosts with no rule of '
                  'ours: a bridge, two veths and forwarding on each side. ' + (
                      'The encrypted rows run over wireguard-go: this '
                      "machine's kernel has no WireGuard module, so they measure a userspace tunnel, not the kernel's. "
                      if ov.get('wireguard', 'wireguard-go') == 'wireguard-go' else
                      "The encrypted rows run over the kernel's WireGuard. ") +
                  'Then the topology role over 1, 3 and 6 hosts '
                  'in one play (forks = hosts, both overlay phases, five containers per host); this machine '
                  'has 2 cores, so more hosts than cores share them.', '',
                  'Two underlays: a bare veth has no line rate, so there the sending core is the limit and every '
                  'extra hop of a path shows (what it costs the CPU); with a %s token bucket on each switch port '
                  "(as a NIC's wire) the underlay is the limit, which is what the goals' \"full underlay speed\" "
                  'is about. The goals are judged there.' % line, '',
                  '| path | connect+request+close µs | request/response µs | Mbit/s, no line rate | x underlay '
                  '| Mbit/s at %s | x underlay |' % line,
                  '|---|---|---|---|---|---|---|']
        keys = ('underlay', 'vxlan', 'routed', 'routed, kernel alone', 'vxlan+wireguard', 'routed+wireguard')
        for key in [k for k in keys if k in ov]:
            r, u = ov[key], ov['underlay']
            at_line = ('%.0f | %.2f' % (r['line_mbps'], r['line_mbps'] / u['line_mbps'])) if 'line_mbps' in r else '- | -'
            lines.append('| %s | %.0f | %.0f | %.0f | %.2f | %s |' % (key, r['ccr'], r['rr'], r['mbps'],
                                                                      r['mbps'] / u['mbps'], at_line))
        lines += ['', '| hosts | containers | first play s | re-run s | re-run per host s |', '|---|---|---|---|---|']
        for n in sorted(ov['converge'], key=int):
            r = ov['converge'][n]
            per_host = r['rerun_s'] / int(n)
            lines.append('| %s | %d | %.1f | %.1f | %.2f |' % (n, r['containers'], r['first_s'], r['rerun_s'], per_host))
        sizes = sorted(ov['converge'], key=int)
        if len(sizes) > 1:
            per_host = [ov['converge'][n]['rerun_s'] / int(n) for n in (sizes[0], sizes[-1])]
            targets.append(('fleet re-run per host flat with forks = hosts (%s hosts <= 1.2x %s)' % (sizes[-1], sizes[0]),
                            '%.2f s vs %.2f s' % (per_host[1], per_host[0]), per_host[1] <= 1.2 * per_host[0]))
        for key, goal in (('vxlan', 0.7), ('routed', 0.95)):
            if key in ov:
                figure = 'line_mbps' if 'line_mbps' in ov[key] else 'mbps'
                got, under = ov[key][figure], ov['underlay'][figure]
                targets.append(('%s throughput >= %.2gx the underlay%s' % (key, goal, ' at %s' % line if figure == 'line_mbps' else ''),
                                '%.0f vs %.0f Mbit/s' % (got, under), got >= goal * under))
    ab = bench.results.get('ab_rules')
    if ab:
        m = ab['medians']
        lines += ['', '## Owned rules: this commit against %s, paired on one lab' % ab['rev'], '',
                  "`bench/ab_rules.py`: each commit's modules render their rules for the same containers; the "
                  "rule sets are restored in %d rotating rounds (medians). \"this commit, again\" restores this "
                  "commit's rules a second time: its gap to the row above is the machine's noise alone, and a "
                  'target is met within 5%% or within that gap.' % ab['rounds'], '',
                  '| path | rules | connect+request+close p50 µs | request/response p50 µs | throughput Mbit/s |',
                  '|---|---|---|---|---|']
        for way in ('linked', 'published'):
            for label, rules in (('old', ab['rev']), ('new', 'this commit'), ('same', 'this commit, again')):
                r = m.get('%s/%s' % (label, way))
                if r:
                    lines.append('| %s | %s | %.0f | %.0f | %.0f |' % (way, rules, r['ccr'], r['rr'], r['mbps']))
        for way in ('linked', 'published'):
            new, old = m['new/' + way], m['old/' + way]
            same = m.get('same/' + way, new)
            noise = abs(same['ccr'] - new['ccr']) / new['ccr']
            targets.append(('%s new-connection latency within 5%% of %s\'s rules (or the same rules\' gap)'
                            % (way, ab['rev']), '%.0f µs vs %.0f µs (same rules: %.0f µs)'
                            % (new['ccr'], old['ccr'], same['ccr']), new['ccr'] <= max(1.05, 1 + noise) * old['ccr']))
    k = bench.results.get('docker')
    if k:
        lines += ['', '## Against Docker (docker.io 20.10 in its own namespace, imported busybox image)', '',
                  '| containers, each with --link and -p | docker run -d, one after another | collection (role + a process in each) | ratio |',
                  '|---|---|---|---|',
                  '| %d | %.2f s | %.2f s | %.1fx faster |' % (k['n'], k['docker_s'], k['ours_s'], k['docker_s'] / k['ours_s'])]
        targets.append(('>= 3x faster than Docker for %d linked containers' % k['n'],
                        '%.1fx' % (k['docker_s'] / k['ours_s']), k['docker_s'] >= 3 * k['ours_s']))
    dns = bench.results.get('dns')
    if dns:
        ours, theirs = dns['ours'], dns['docker'][10]
        small, big = ours[10], ours[200]
        lines += ['', "## Names on user-defined networks: the collection's resolver against Docker 20.10's embedded DNS",
                  '', 'Four networks, containers spread over them, both resolvers up at once; %d sequential UDP A '
                  'queries per figure from inside a container (`bench/dnsq.py`), in %d rounds alternating between the '
                  'two, to the gateway (ours) and to 127.0.0.11 (Docker); upstream names go to a dnsmasq in the lab '
                  'that both forward to. Connect: from the start of the run (`container_netns` with one more network; '
                  '`docker network connect`) until a container on that network gets an answer for the name (polled '
                  'every 5 ms).' % (dns['queries'], dns.get('rounds', 1)), '',
                  '| | container name p50 / p99 µs | upstream name p50 / p99 µs | connect to answer s |',
                  '|---|---|---|---|',
                  '| collection (10 containers) | %.0f / %.0f | %.0f / %.0f | %.2f |' % (
                      small['name_us'][0], small['name_us'][1], small['upstream_us'][0], small['upstream_us'][1],
                      small['connect_s']),
                  '| Docker 20.10 (10 containers) | %.0f / %.0f | %.0f / %.0f | %.2f |' % (
                      theirs['name_us'][0], theirs['name_us'][1], theirs['upstream_us'][0], theirs['upstream_us'][1],
                      theirs['connect_s']),
                  '', '| containers on 4 networks | resolver processes | resolver memory MB (PSS, all processes) |',
                  '|---|---|---|',
                  '| 10 | %d | %.1f |' % (small['processes'], small['pss_mb']),
                  '| 200 | %d | %.1f |' % (big['processes'], big['pss_mb']), '',
                  "Docker's resolver lives inside dockerd (%.0f MB PSS with 10 containers, everything included). Ours: "
                  'the supervisor forked from the run and its resolver, sharing the pages of the fork (where systemd is '
                  'PID 1 the resolver alone, in a transient unit).' % theirs['dockerd_pss_mb']]
        targets += [
            ('name query latency no worse than Docker (p50)', '%.0f µs vs %.0f µs' % (small['name_us'][0], theirs['name_us'][0]),
             small['name_us'][0] <= theirs['name_us'][0]),
            ('upstream query latency no worse than Docker (p50)', '%.0f µs vs %.0f µs' % (
                small['upstream_us'][0], theirs['upstream_us'][0]), small['upstream_us'][0] <= theirs['upstream_us'][0]),
            ('a name resolves within 1 s of connect', '%.2f s' % small['connect_s'], small['connect_s'] <= 1),
            ('resolver memory at 200 containers under 64 MB', '%.1f MB' % big['pss_mb'], big['pss_mb'] < 64)]
    cni = bench.results.get('cni', [])
    if cni:
        lines += ['', '## Against the CNI reference plugins (bridge + host-local + ipMasq, chained with portmap)', '',
                  'A runtime execs the plugins once per container; the collection sets up every container of a host '
                  'in one module call. Its per-container cost is the marginal one: (call for N containers - the same '
                  "call with none, the run's fixed cost) / N, the median over 7 labs. The whole call divided by N is shown too.", '',
                  '| N | CNI ADD per container ms | CNI DEL per container ms | collection marginal per container ms '
                  '| collection whole call / N ms (fixed cost ms) | ratio ADD / marginal |',
                  '|---|---|---|---|---|---|']
        row = '| %d | %.1f | %.1f | %.1f | %.1f (%.0f) | %.1fx |'
        lines += [row % (r['n'], r['cni_add_ms'], r['cni_del_ms'], r['marginal_ms'], r['ours_ms'], r['fixed_ms'],
                         r['cni_add_ms'] / r['marginal_ms']) for r in cni]
        worst = max(r['marginal_ms'] / r['cni_add_ms'] for r in cni)
        targets.append(('per-container setup <= 1/5 of a CNI bridge+portmap ADD (marginal cost in a batched call)',
                        'at most %.2f of an ADD (whole call / N: %s)' % (worst, ', '.join(
                            '%.2f at N=%d' % (r['ours_ms'] / r['cni_add_ms'], r['n']) for r in cni)), worst <= 0.2))
        if len(cni) > 1:
            targets.append(('per-container setup flat as N grows (marginal, %d vs %d)' % (cni[-1]['n'], cni[0]['n']),
                            '%.1f ms vs %.1f ms' % (cni[-1]['marginal_ms'], cni[0]['marginal_ms']),
                            cni[-1]['marginal_ms'] <= 1.3 * cni[0]['marginal_ms']))
    lines += ['', '## Before and after the fixes for missed targets', '',
              'The first bench run (commit 979187d, this machine, 2026-11-24) missed two targets; the causes were fixed:',
              '',
              '- New-connection latency behind 10,000 links was 1821 µs against 236 µs with no rules (7.7x): '
              'CNET-LINKS was one linear chain of Docker rule pairs. Beyond 32 port pairs in all, each icc-off bridge '
              'now matches its links with one ipset (hash:ip,port,ip) and two rules. Both layouts are measured above in this run: '
              "the linear one as 'before', real links through the collection as 'after'.",
              '- Per-container setup was 41.9 ms at N=10 and 14.9 ms at N=100 (whole call / N; 0.70 of a CNI ADD at '
              'N=10): each container cost about 18 netlink requests (every lookup read the link twice and its '
              'addresses, the fresh veth was configured after creation) and an fsync per container file. Now a veth '
              'is created on its bridge, up, with MTU and peer MAC in one request, lookups are one targeted request, '
              'lo is set up by its fixed index, and derived files skip the fsync: about 8 requests per container (the bridge is looked up once per run). '
              'The whole call still carries a fixed 0.2-0.3 s (Python, ansible.module_utils.basic and pyroute2 '
              'imports, one iptables-save), which is why the target is judged on the marginal cost.',
              '- Isolation stages (2026-12-01): the forward path gained a stage per decision and raw PREROUTING a guard '
              'per bridge. Measured paired against the rules of c565580 on one lab (table above): no slower. The '
              'machine of this run is slower than that of 2026-11-24 (floor at 500: 7.8 s against 3.0 s; a role run '
              'starts in about 3 s instead of 1.5 s), so absolute figures differ between the two runs; a paired run '
              'of both commits here gave the same converge times within noise.', '']
    lines += ['', '## Targets', '', '| target | measured | verdict |', '|---|---|---|']
    lines += ['| %s | %s | %s |' % (t, m, verdict(ok)) for t, m, ok in targets]
    if not k or not cni:
        lines += ['', '## Not measured in this run', '', '- %s' % ', '.join(
            x for x, done in (('Docker (dockerd or /bin/busybox missing)', k), ('CNI plugins (not installed)', cni))
            if not done), '']
    if plot:
        lines += ['', 'The plot of cost per container against N is written beside this file as `converge.png` by',
                  '`bench/run` (a generated image, not kept in git).', '']
    with open(path, 'w') as f:
        f.write('\n'.join(lines))


def plot_converge(bench, path):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    c = bench.results.get('converge', [])
    if not c:
        return False
    ns = [r['n'] for r in c]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [r['first'][0] / r['n'] * 1000 for r in c], 'o-', label='first run (role)')
    ax.plot(ns, [r['rerun'][0] / r['n'] * 1000 for r in c], 's-', label='idempotent re-run (role)')
    ax.plot(ns, [r['floor'][0] / r['n'] * 1000 for r in c], '^-', label='floor: ip -batch + iptables-restore')
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('containers (each with one link and one published port)')
    ax.set_ylabel('ms per container')
    ax.legend()
    ax.grid(True, which='both', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='10,100,500')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--link-rules', type=int, default=10000)
    parser.add_argument('--docker', type=int, default=50, help='containers in the Docker comparison')
    parser.add_argument('--ab-rules', default='c565580', metavar='REV',
                        help="compare the data path with REV's rules, paired on one lab ('' to skip)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='cnet-bench-coll-')
    os.makedirs(os.path.join(tmp, 'ansible_collections', 'seed'))
    os.symlink(ROOT, os.path.join(tmp, 'ansible_collections', 'seed', 'container_net'))
    try:
        bench = Bench(tmp, os.path.join(ROOT, 'bench'))
        bench.converge([int(n) for n in args.sizes.split(',')], args.repeats)
        bench.backends(args.requests, links=args.link_rules)
        bench.overlay(args.requests)
        bench.datapath(args.requests, args.link_rules)
        if shutil.which('dockerd') and os.path.exists('/bin/busybox'):
            docker_compare(bench, args.docker)
            dns_compare(bench, args.requests)
        if os.path.exists(os.path.join(CNI, 'bridge')):
            cni_compare(bench, [10, 100])
        if args.ab_rules:
            import ab_rules  # pylint: disable=import-outside-toplevel
            bench.results['ab_rules'] = dict(rev=args.ab_rules, rounds=5, medians=ab_rules.main(args.ab_rules))
        plotted = plot_converge(bench, os.path.join(ROOT, 'bench', 'converge.png'))
        write_results(bench, os.path.join(ROOT, 'bench', 'RESULTS.md'), plotted)
        with open(os.path.join(ROOT, 'bench', 'out', 'results.json'), 'w') as f:
            json.dump(bench.results, f, indent=1)
    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__':
    main()

"""Owned rules of another commit against this one, paired on one lab: new-connection latency and throughput.

    bench/ab_rules.py REV     (run by bench/run after bench.py; writes bench/out/ab-rules.json)

Both rule sets are rendered by each commit's own modules on the same registry and containers, then
restored in alternating rounds, so drift on a noisy machine hits both alike."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
import bench  # noqa: E402  pylint: disable=wrong-import-position


def coll(root):
    tmp = tempfile.mkdtemp(prefix='cnet-ab-')
    os.makedirs(os.path.join(tmp, 'ansible_collections', 'seed'))
    os.symlink(root, os.path.join(tmp, 'ansible_collections', 'seed', 'container_net'))
    return tmp


def main(rev):
    old_tree = tempfile.mkdtemp(prefix='cnet-ab-tree-')
    subprocess.run(['git', '-C', ROOT, 'worktree', 'add', '-q', '--detach', old_tree, rev], check=True)
    new_c, old_c = coll(ROOT), coll(old_tree)
    try:
        return measure(rev, new_c, old_c)
    finally:
        shutil.rmtree(new_c)
        shutil.rmtree(old_c)
        subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', old_tree], check=False)


def measure(rev, new_c, old_c):
    b = bench.Bench(new_c, os.path.join(ROOT, 'bench'))
    lab = b.lab()
    try:
        outside = lab.add_peer('out', '10.250.9.1/24', '10.250.9.2/24')
        br, src, rcv = lab.name('br'), lab.name('src'), lab.name('rcv')
        decl_b = [{'name': br, 'subnet': '10.99.0.0/24', 'icc': False}]
        decl_c = [{'name': src, 'bridge': br, 'exposed_ports': ['5201/tcp', '7000/tcp'],
                   'ports': ['15201:5201', '17000:7000']},
                  {'name': rcv, 'bridge': br, 'links': ['%s:src' % src]}]
        rules = {}
        for label, collections in (('new', new_c), ('old', old_c)):  # each commit renders its own rules
            lab.collections_path = collections
            # iptables for both: the older commit knows no other (and no firewall_backend option)
            r = lab.module('container_net_topology', bridges=decl_b, containers=decl_c,
                           firewall_backend='iptables' if label == 'new' else None)
            assert not r.get('failed'), r
            rules[label] = lab.sh('iptables-save').stdout
        src_ip = r['containers'][src]['ip']
        b.echo_server(lab, src, 7000)
        lab.serve(src, bench.pinned('iperf3 -s -p 5201', 1), tcp=[5201])
        paths = (('linked', rcv, src_ip, 7000, 5201), ('published', outside, '10.250.9.1', 17000, 15201))
        # 'same' restores this commit's rules again: the gap between 'new' and 'same' is what this
        # machine's noise alone makes of two identical rule sets
        rules['same'] = rules['new']
        labels = ['old', 'new', 'same']
        res = {}
        for rnd in range(5):
            for label in labels[rnd % 3:] + labels[:rnd % 3]:
                # the older dump may lack a table (raw): emptied first, so no rule of the other stays
                lab.sh("iptables -t raw -F && iptables -t raw -X && iptables-restore <<'EOF'\n%s\nEOF" % rules[label])
                for key, ns, ip, port, iperf_port in paths:
                    lat = b.latency(lab, ns, ip, port, 2000)
                    res.setdefault('%s/%s' % (label, key), []).append(
                        (lat['ccr'], lat['rr'], b.iperf(lab, ns, ip, iperf_port, runs=1)))
        summary = dict((k, dict(zip(('ccr', 'rr', 'mbps'), (statistics.median(x[i] for x in v) for i in range(3)))))
                       for k, v in res.items())
        for k in sorted(summary):
            print('%-14s connect+request+close %.0f us, request/response %.0f us, %.0f Mbit/s'
                  % (k, summary[k]['ccr'], summary[k]['rr'], summary[k]['mbps']))
        os.makedirs(os.path.join(ROOT, 'bench', 'out'), exist_ok=True)
        with open(os.path.join(ROOT, 'bench', 'out', 'ab-rules.json'), 'w') as f:
            json.dump({'rev': rev, 'rounds': 5, 'medians': summary}, f, indent=1)
        return summary
    finally:
        lab.teardown()


if __name__ == '__main__':
    main(sys.argv[1])

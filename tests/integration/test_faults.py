"""Faults on a real kernel: kill -9 inside converges, concurrent plays on one host."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from labhost import ETC_NETNS, MODULES, tcp_request, wait_for


def declaration(lab, count=6):
    br = lab.name('br')
    # host names given: a container without one gets a random id, which two clean converges would not share
    containers = [{'name': lab.name('db'), 'bridge': br, 'hostname': 'db', 'exposed_ports': ['5432/tcp']}]
    containers += [{'name': lab.name('w%d' % i), 'bridge': br, 'hostname': 'w%d' % i, 'links': ['%s:db' % lab.name('db')],
                    'ports': ['%d:80' % (18100 + i)]} for i in range(count)]
    return [{'name': br, 'subnet': '10.97.0.0/24', 'icc': False}], containers


def start_module(lab, name, **args):
    """The module as Ansible runs it, but left running so that it can be killed mid-way."""
    args.setdefault('registry_dir', lab.registry)
    f = tempfile.NamedTemporaryFile('w', suffix='.json', delete=False)
    json.dump({'ANSIBLE_MODULE_ARGS': args}, f)
    f.close()
    env = dict(os.environ, PYTHONPATH=lab.collections_path)
    proc = subprocess.Popen(['nsenter', '--net=/run/netns/%s' % lab.ns, sys.executable,
                             os.path.join(MODULES, name + '.py'), f.name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return proc, f.name


def made(lab, containers):
    names = set(c['name'] for c in containers)
    return [n for n in os.listdir('/run/netns') if n in names]


def owned_view(lab):
    """What a converge leaves, normalized where the kernel picks by itself (indexes, host veth MACs, counters)."""
    snap = lab.snapshot()
    state = {'containers': {}}
    if os.path.exists(os.path.join(lab.registry, 'state.json')):
        with open(os.path.join(lab.registry, 'state.json')) as f:
            state = json.load(f)
    view = {'registry': state, 'netns': snap['netns'], 'files': snap['files'], 'ipsets': snap['ipsets'],
            'iptables': re.sub(r'\[\d+:\d+\]', '[c]', snap['iptables']),
            'host links': sorted(line.split(': ')[1].split('@')[0] for line in lab.sh('ip -o link show').stdout.splitlines())}
    for name in snap['netns']:
        if name != lab.ns and name in state['containers']:
            view[name] = lab.in_ns(name, 'ip -o addr show | cut -d" " -f2-; ip route; ip -o link show | '
                                         'grep -o "link/ether [^ ]*"').stdout
    return view


def test_kill_9_at_random_points_of_converges_then_one_run_equals_a_clean_converge(lab):
    bridges, containers = declaration(lab)
    clean = lab.ok('container_net_topology', bridges=bridges, containers=containers)
    assert clean['changed']
    expected = owned_view(lab)
    assert lab.ok('container_net_topology', state='absent', bridges=bridges, containers=containers)['changed']
    rng = random.Random(1234)  # the same offsets every run: a failure can be replayed
    killed = 0
    for trial in range(20):
        # half the trials start from nothing, half from a half-made host (what the last kill left)
        if trial % 2 == 0:
            lab.module('container_net_topology', state='absent', bridges=bridges, containers=containers)
        proc, args_file = start_module(lab, 'container_net_topology', bridges=bridges, containers=containers)
        # The fault lands at a point of the run's own progress: once k container namespaces exist
        # (k drawn per trial; 0 kills it while it plans), polled with a bound, never a fixed wait.
        k = rng.randint(0, len(containers))
        wait_for(lambda: proc.poll() is not None or len(made(lab, containers)) >= k, timeout=60,
                 what='%d namespaces or the end of the run' % k)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate()
        os.unlink(args_file)
    assert killed >= 10, 'most kills must land inside a run (%d did)' % killed
    result = lab.ok('container_net_topology', bridges=bridges, containers=containers)
    assert not result.get('failed')
    assert owned_view(lab) == expected  # the same addresses, MACs, rules and files; nothing leaked
    assert lab.ok('container_net_topology', bridges=bridges, containers=containers)['changed'] is False
    lab.echo(lab.name('w3'), 'w3\n', tcp=[80])
    assert tcp_request(lab, lab.ns, '127.0.0.1', 18103) == 'w3\n'


def test_kill_9_then_a_smaller_declaration_leaves_nothing_of_the_killed_run(lab):
    """The journal: a run killed after it made some containers, then a run that no longer wants
    them (prune) must find and remove them, though the killed run never recorded them as made."""
    bridges, containers = declaration(lab)
    before = owned_view(lab)
    lab.ok('container_net_topology', bridges=bridges, containers=containers[:1])
    only_db = owned_view(lab)
    rng = random.Random(4321)
    for trial in range(6):
        proc, args_file = start_module(lab, 'container_net_topology', bridges=bridges, containers=containers)
        k = rng.randint(2, len(containers))  # the db exists already: at least one more made
        wait_for(lambda: proc.poll() is not None or len(made(lab, containers)) >= k, timeout=60,
                 what='%d namespaces or the end of the run' % k)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        os.unlink(args_file)
        lab.ok('container_net_topology', bridges=bridges, containers=containers[:1], prune=True)
        assert owned_view(lab) == only_db, 'trial %d (killed at %d namespaces) left objects behind' % (trial, k)
    lab.ok('container_net_topology', state='absent', bridges=bridges, containers=containers[:1])
    assert owned_view(lab) == before


def test_half_written_files_a_kill_left_are_removed_then_a_run_writes_nothing(lab):
    """The window the random kills only sometimes hit, made certain: a run killed between writing a
    temporary file and renaming it leaves `.cnet-*` beside the registry and a container's files."""
    bridges, containers = declaration(lab, count=1)
    lab.ok('container_net_topology', bridges=bridges, containers=containers)
    expected = owned_view(lab)
    stale = [os.path.join(lab.registry, '.cnet-k9reg'), os.path.join(ETC_NETNS, lab.name('w0'), '.cnet-k9hosts')]
    for path in stale:
        with open(path, 'w') as f:
            f.write('half a file')
    result = lab.ok('container_net_topology', bridges=bridges, containers=containers)
    assert result['changed'] and not any(os.path.exists(p) for p in stale)
    assert owned_view(lab) == expected
    assert lab.ok('container_net_topology', bridges=bridges, containers=containers)['changed'] is False
    # and a removal leaves no directory behind because of one
    with open(stale[1], 'w') as f:
        f.write('half a file')
    lab.ok('container_net_topology', state='absent', bridges=bridges, containers=containers)
    assert not os.path.exists(os.path.dirname(stale[1])) and not os.path.exists(lab.registry)


def test_a_namespace_file_a_kill_left_unbound_is_replaced_then_removed(lab):
    """Creating a namespace makes /run/netns/NAME first and bind-mounts the namespace on it after:
    a kill in between leaves a plain file nobody can enter (setns: EINVAL). The random kills hit
    that window now and then; here it is made certain, for a converge and for a removal."""
    bridges, containers = declaration(lab, count=1)
    lab.ok('container_net_topology', bridges=bridges, containers=containers)
    expected = owned_view(lab)
    lab.ok('container_net_topology', state='absent', bridges=bridges, containers=containers)
    placeholder = '/run/netns/%s' % lab.name('w0')
    open(placeholder, 'w').close()
    assert lab.ok('container_net_topology', bridges=bridges, containers=containers)['changed']
    assert owned_view(lab) == expected
    assert lab.ok('container_net_topology', bridges=bridges, containers=containers)['changed'] is False
    lab.echo(lab.name('w0'), 'w0\n', tcp=[80])
    assert tcp_request(lab, lab.ns, '127.0.0.1', 18100) == 'w0\n'
    # a container still registered whose namespace is only a placeholder: removal takes the file too
    lab.sh('ip netns delete %s && touch %s' % (lab.name('w0'), placeholder))
    assert lab.ok('container_net_info')['drift']['in_sync'] is False
    lab.ok('container_net_topology', state='absent', bridges=bridges, containers=containers)
    assert not os.path.lexists(placeholder)


def test_four_concurrent_plays_on_one_host_never_share_an_address(lab):
    br = lab.name('br')
    bridges = [{'name': br, 'subnet': '10.98.0.0/24', 'icc': False}]
    lab.ok('docker_bridge', name=br, subnet='10.98.0.0/24', icc=False)
    plays = [[{'name': lab.name('p%dc%d' % (p, i)), 'bridge': br, 'exposed_ports': ['80/tcp']} for i in range(5)]
             for p in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(lambda c: lab.topology_role(bridges, c, check=False), plays))
    for out in outs:
        assert out.returncode == 0, out.stdout + out.stderr
    info = lab.ok('container_net_info')
    ips = [c['ip'] for c in info['containers'].values()]
    assert len(info['containers']) == 20 and len(set(ips)) == 20, ips
    assert info['drift']['in_sync'] is True
    # every container really has its own address: each answers on it
    for name in (plays[0][0]['name'], plays[3][4]['name']):
        lab.echo(name, name + '\n', tcp=[80])
        assert tcp_request(lab, lab.ns, info['containers'][name]['ip'], 80) == name + '\n'

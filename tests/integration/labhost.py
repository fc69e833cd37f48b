"""Lab hosts for integration tests: each test gets a fresh network namespace as its "host".

Modules run for real (a subprocess of the module file, or ansible-playbook) inside the lab's
network namespace, against the real kernel; the machine's own interfaces and firewall are never
touched. Everything a test creates carries its lab prefix and is removed afterwards, on failure too.
"""

import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = os.path.join(ROOT, 'plugins', 'modules')
ETC_NETNS = '/etc/netns'
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'probe.py')
PYTHON = '/usr/bin/python3'  # the system one: no venv to start, the same in every namespace
_counter = itertools.count()
# The whole integration suite runs once per firewall backend (tests/run sets it): every module call,
# role and play of a lab names it, so nothing depends on what `auto` would pick on this machine.
BACKEND = os.environ.get('CNET_FIREWALL_BACKEND', 'iptables')


def sh(cmd, check=True, timeout=60, **kw):
    out = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, timeout=timeout,
                         check=False, **kw)
    if check and out.returncode != 0:
        raise AssertionError('%s failed (%d): %s %s' % (cmd, out.returncode, out.stdout, out.stderr))
    return out


class Lab:
    """One lab host: a network namespace, its registry and the containers it names."""

    def __init__(self, collections_path, tmpdir):
        self.id = 'ct%d%s' % (os.getpid() % 1000, next(_counter))
        self.ns = self.id + 'lab'
        self.collections_path = collections_path
        self.registry = os.path.join(str(tmpdir), 'registry')
        self.extra_ns = []
        sh(['ip', 'netns', 'add', self.ns])
        self.sh('ip link set lo up')

    # ---- naming ------------------------------------------------------------------------------
    def name(self, short):
        """A container/netns/bridge name unique to this lab (interface names stay <= 15 bytes)."""
        return self.id + short

    # ---- running -----------------------------------------------------------------------------
    def sh(self, cmd, check=True, timeout=60):
        return sh(['nsenter', '--net=/run/netns/%s' % self.ns, 'sh', '-c', cmd], check=check, timeout=timeout)

    def in_ns(self, ns, cmd, check=True, timeout=30):
        return sh(['ip', 'netns', 'exec', ns, 'sh', '-c', cmd], check=check, timeout=timeout)

    def module(self, _module, check_mode=False, diff=False, private_mounts=False, **args):
        """Run one module for real inside the lab, as Ansible does with an args file
        (`private_mounts`: under `ip netns exec`, which gives it a mount namespace of its own)."""
        args.setdefault('registry_dir', self.registry)
        args.setdefault('firewall_backend', BACKEND)
        if args['firewall_backend'] is None:  # a module from before backends existed (bench/ab_rules.py)
            del args['firewall_backend']
        args['_ansible_check_mode'] = check_mode
        args['_ansible_diff'] = diff
        with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
            json.dump({'ANSIBLE_MODULE_ARGS': args}, f)
        try:
            env = dict(os.environ, PYTHONPATH=self.collections_path)
            enter = ['ip', 'netns', 'exec', self.ns] if private_mounts else ['nsenter', '--net=/run/netns/%s' % self.ns]
            # the module of the collection the lab runs (bench/ab_rules.py gives it another commit's)
            modules = os.path.join(self.collections_path, 'ansible_collections', 'seed', 'container_net', 'plugins',
                                   'modules')
            out = sh(enter + [sys.executable, os.path.join(modules, _module + ".py"), f.name], check=False, env=env,
                     timeout=120)
        finally:
            os.unlink(f.name)
        try:
            result = json.loads(out.stdout)
        except ValueError:
            raise AssertionError("module %s printed no JSON: %s %s" % (_module, out.stdout, out.stderr))
        return result

    def cli(self, *args, check=False):
        """The host's container-net command (module_utils/_cli.py) inside the lab, on the lab's registry."""
        code = 'import sys; from ansible_collections.seed.container_net.plugins.module_utils._cli import main; ' \
               'sys.exit(main(sys.argv[1:]))'
        env = dict(os.environ, PYTHONPATH=self.collections_path)
        return sh(['nsenter', '--net=/run/netns/%s' % self.ns, sys.executable, '-c', code,
                   '--registry-dir', self.registry] + list(args), check=check, env=env, timeout=300)

    def ok(self, _module, **args):
        result = self.module(_module, **args)
        assert not result.get('failed'), result.get('msg')
        return result

    def playbook(self, text, extra_vars=None, check=True):
        """ansible-playbook on localhost inside the lab (connection local, this Python)."""
        d = tempfile.mkdtemp(prefix='cnet-pb-')
        try:
            path = os.path.join(d, 'play.yml')
            with open(path, 'w') as f:
                f.write(with_backend(text))
            env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections_path,
                       ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1',
                       ANSIBLE_STDOUT_CALLBACK='default', ANSIBLE_RETRY_FILES_ENABLED='0')
            cmd = ['nsenter', '--net=/run/netns/%s' % self.ns,
                   os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                   '-c', 'local', '-e', 'ansible_python_interpreter=%s' % sys.executable,
                   '-e', json.dumps(dict(extra_vars or {}, registry_dir=self.registry,
                                         container_net_firewall_backend=BACKEND)), path]
            out = sh(cmd, check=False, env=env, timeout=600)
        finally:
            shutil.rmtree(d)
        if check and out.returncode != 0:
            raise AssertionError('playbook failed:\n%s\n%s' % (out.stdout, out.stderr))
        return out

    def topology_role(self, bridges, containers, prune=False, state='present', check=False):
        """The topology role on the lab, with this interpreter and the lab's registry."""
        return self.playbook("""
- hosts: localhost
  gather_facts: false
  roles:
    - role: seed.container_net.topology
      vars:
        container_net_registry_dir: "{{ registry_dir }}"
        container_net_python: "{{ ansible_python_interpreter }}"
        container_net_state: %s
        container_net_bridges: %s
        container_net_containers: %s
        container_net_prune: %s
""" % (state, json.dumps(bridges), json.dumps(containers), 'true' if prune else 'false'), check=check)

    def playbook_file(self, playbook, inventory, extra_vars, check=False):
        """One of the collection's own playbooks with its inventory, inside the lab."""
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections_path, ANSIBLE_LOCALHOST_WARNING='false',
                   ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='default', ANSIBLE_RETRY_FILES_ENABLED='0')
        cmd = ['nsenter', '--net=/run/netns/%s' % self.ns,
               os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
               '-i', os.path.join(ROOT, inventory), '-e', json.dumps(dict({'container_net_firewall_backend': BACKEND},
                                                                          **extra_vars)),
               os.path.join(ROOT, playbook)]
        out = sh(cmd, check=False, env=env, timeout=900)
        if check and out.returncode != 0:
            raise AssertionError('playbook failed:\n%s\n%s' % (out.stdout, out.stderr))
        return out

    # ---- topology helpers ---------------------------------------------------------------------
    def add_peer(self, short, lab_cidr, peer_cidr):
        """Another namespace wired to the lab host by a veth (an upstream or an outside client)."""
        ns = self.name(short)
        sh(['ip', 'netns', 'add', ns])
        self.extra_ns.append(ns)
        host_if, peer_if = self.name(short)[-13:] + 'h', self.name(short)[-13:] + 'p'
        self.sh('ip link add %s type veth peer name %s netns %s' % (host_if, peer_if, ns))
        self.sh('ip addr add %s dev %s && ip link set %s up' % (lab_cidr, host_if, host_if))
        self.in_ns(ns, 'ip link set lo up && ip addr add %s dev %s && ip link set %s up'
                   % (peer_cidr, peer_if, peer_if))
        return ns

    def add_peer_ipv6(self, short, lab_ip6, peer_ip6, routes=()):
        """IPv6 on a peer's veth (add_peer): a /64 either side, without DAD; `routes` via the lab host."""
        host_if, peer_if = self.name(short)[-13:] + 'h', self.name(short)[-13:] + 'p'
        self.sh('ip addr add %s/64 dev %s nodad' % (lab_ip6, host_if))
        self.in_ns(self.name(short), 'ip addr add %s/64 dev %s nodad' % (peer_ip6, peer_if))
        for subnet in routes:
            self.in_ns(self.name(short), 'ip -6 route add %s via %s' % (subnet, lab_ip6))

    def attach_plain_ns(self, short, bridge, cidr, gateway):
        """A bare namespace on a bridge (for testing a bridge without container_netns)."""
        ns = self.add_peer_ns(short)
        host_if = (self.name(short))[-13:] + 'b'
        self.sh('ip link add %s type veth peer name eth0 netns %s' % (host_if, ns))
        self.sh('ip link set %s master %s && ip link set %s up' % (host_if, bridge, host_if))
        self.in_ns(ns, 'ip addr add %s dev eth0 && ip link set eth0 up && ip route add default via %s'
                   % (cidr, gateway))
        return ns

    def add_peer_ns(self, short):
        ns = self.name(short)
        sh(['ip', 'netns', 'add', ns])
        self.in_ns(ns, 'ip link set lo up')
        self.extra_ns.append(ns)
        return ns

    def serve(self, ns, cmd, tcp=(), udp=()):
        """A server process in a namespace, awaited until it listens on every `tcp` port and is
        bound to every `udp` port (a bounded poll of its own /proc/PID/net), ended by PID at teardown."""
        err = tempfile.TemporaryFile()  # a pipe could fill up and stall a chatty server
        proc = subprocess.Popen(['ip', 'netns', 'exec', ns, 'sh', '-c', 'exec ' + cmd],
                                stdout=subprocess.DEVNULL, stderr=err)
        proc.stderr_file = err
        self.procs.append(proc)
        wait_bound(proc, tcp, udp)
        return proc

    def echo(self, ns, reply, tcp=(), udp=(), record=None, bind=None):
        """probe.py's server: answers `reply` on every connection and datagram ('{peer}': the client)."""
        args = ''.join(' --tcp %d' % p for p in tcp) + ''.join(' --udp %d' % p for p in udp)
        args += ' --record %s' % record if record else ''
        args += ' --bind %s' % bind if bind else ''
        return self.serve(ns, '%s %s serve --reply %s%s' % (PYTHON, PROBE, shlex.quote(reply), args), tcp, udp)

    procs = None

    # ---- observation --------------------------------------------------------------------------
    def snapshot(self):
        """Everything a run may change on the host, normalized only where the kernel varies by itself."""
        links = settled(self.sh('ip -d link').stdout)
        links = re.sub(r'(\w+_timer)\s+[\d.]+', r'\1 X', links)
        files = {}
        for base in (self.registry, ETC_NETNS):
            for dirpath, dummy, names in os.walk(base):
                for n in names:
                    p = os.path.join(dirpath, n)
                    if base == ETC_NETNS and not os.path.relpath(p, base).startswith(self.id):
                        continue
                    with open(p, 'rb') as f:
                        files[p] = (f.read(), oct(os.stat(p).st_mode))
        return {
            'links': links,
            'addrs': settled(self.sh('ip addr').stdout),
            'routes': settled(self.sh('ip route; ip -6 route').stdout),
            'iptables': iptables_save(self),
            'ip6tables': ip6tables_save(self),
            'ipsets': self.sh('ipset save').stdout,
            'nft': nft_tables(self),
            'netns': sorted(n for n in os.listdir('/run/netns') if n.startswith(self.id)),
            'files': files,
        }

    def resolver_pid(self):
        """The PID of the resolver a run started for this lab's registry (its supervisor), or None."""
        try:
            with open(os.path.join(self.registry, 'resolver.pid')) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return None if exited(pid) else pid

    def teardown(self):
        for proc in self.procs or []:
            proc.kill()
            proc.wait()
        pid = self.resolver_pid()  # a test that failed before removing its DNS networks leaves it running
        if pid:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: exited(pid), 10, 'resolver %d to end' % pid)
        names = [n for n in os.listdir('/run/netns') if n.startswith(self.id)] if os.path.isdir('/run/netns') else []
        for n in names:  # wireguard-go ends with its TUN link, and would keep a deleted namespace alive
            tuns = json.loads(sh(['ip', '-n', n, '-j', 'link', 'show', 'type', 'tun'], check=False).stdout or '[]')
            for link in tuns:
                sh(['ip', '-n', n, 'link', 'del', link['ifname']], check=False)
        for n in sorted(names, key=lambda n: n == self.ns):
            sh(['ip', 'netns', 'del', n], check=False)
        if os.path.isdir(ETC_NETNS):
            for n in os.listdir(ETC_NETNS):
                if n.startswith(self.id):
                    shutil.rmtree(os.path.join(ETC_NETNS, n), ignore_errors=True)


def with_backend(playbook):
    """Each play of a test's playbook with the suite's backend for every module of the collection
    (through the action group, as a user's play would set it)."""
    return re.sub(r'^(- hosts: .*)$', r'\1\n  module_defaults:\n    group/seed.container_net.container_net:\n'
                  r'      firewall_backend: %s' % BACKEND, playbook, flags=re.M)


def settled(text):
    """Mask what the kernel derives by itself: operstate and carrier (a bridge reports carrier
    before its first port and not after its last), IPv6 link-local autoconf (added when carrier
    first comes up; the collection manages IPv4 only), offload sizes taken from ports."""
    text = re.sub(r' state (UNKNOWN|UP|DOWN|LOWERLAYERDOWN) ', ' state X ', text)
    text = re.sub(r',LOWER_UP>', '>', text).replace('NO-CARRIER,', '')
    text = re.sub(r'(tso_max_size|gso_max_size) \d+', r'\1 X', text)
    text = re.sub(r'    inet6 fe80::\S+ scope link.*\n\s+valid_lft forever preferred_lft forever\n', '', text)
    text = re.sub(r'fe80::/64 dev .*\n', '', text)
    return text.replace(' tentative', '').replace(' linkdown', '')


def iptables_save(lab, cmd='iptables-save'):
    """iptables-save (or ip6tables-save) without its timestamp comments."""
    text = lab.sh(cmd).stdout
    return '\n'.join(line for line in text.splitlines() if not line.startswith('#'))


def ip6tables_save(lab):
    return iptables_save(lab, 'ip6tables-save')


IPTABLES_TABLES = re.compile(r'^table (ip|ip6) (filter|nat|raw|mangle|security) \{')


def nft_tables(lab):
    """Every nft table but iptables-nft's own (iptables-save shows those, in an order that does not
    depend on when a chain was made), per table and without counters (a rewrite re-creates the
    owned table, which moves it in the listing)."""
    tables = (t.strip() for t in re.split(r'\n(?=table )', lab.sh('nft -s list ruleset').stdout))
    return sorted(t for t in tables if t and not IPTABLES_TABLES.match(t))


def owned_rules(lab):
    """The collection's rules as the suite's backend holds them: owned iptables lines, or the owned table."""
    if BACKEND == 'nftables':
        return lab.sh('nft list table inet container_net', check=False).stdout
    lines = [line for line in iptables_save(lab).splitlines() if 'CNET-' in line or 'cnet:' in line]
    lines += ['ip6 ' + line for line in ip6tables_save(lab).splitlines() if 'CNET-' in line or 'cnet:' in line]
    return '\n'.join(lines)


DNAT_SPELLINGS = (
    re.compile(r'^-A CNET-DNAT .*-p (\w+) -m \w+ --dport (\d+)\S* .*-j DNAT', re.M),  # iptables
    re.compile(r'(?:^|[{,]\s*)(?:\S+ \. )?(tcp|udp|sctp) \. (\d+) : ', re.M),  # an nftables map element
    re.compile(r'(tcp|udp|sctp) dport (\d+)\S* dnat ', re.M),  # an nftables rule (allowed sources)
)


def dnat_ports(lab):
    """{(proto, first host port)} that the suite's backend DNATs (either family)."""
    text = owned_rules(lab)
    return set((m.group(1), int(m.group(2))) for spelling in DNAT_SPELLINGS for m in spelling.finditer(text))


def link_elements(lab, set_name='links'):
    """The nftables backend's link set: {(bridge, receiver ip, source ip, proto, port)} (`links6`: IPv6)."""
    listing = json.loads(lab.sh('nft -j list set inet container_net %s' % set_name).stdout)['nftables']
    elems = [item['set'].get('elem', []) for item in listing if 'set' in item][0]
    return set(tuple(e['concat']) for e in elems)


def break_rules(lab, iptables_cmd, nft_chain):
    """What a firewall reload or a hand edit does to the suite's backend: flush some owned rules."""
    if BACKEND == 'nftables':
        lab.sh('nft flush chain inet container_net %s' % nft_chain)
    else:
        lab.sh(iptables_cmd)


def exited(pid):
    """Gone, or a zombie that its new parent has not reaped yet."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


def can_ping(lab, ns, ip):
    return lab.in_ns(ns, 'ping -c1 -W1 %s' % ip, check=False).returncode == 0


def bound_ports(pid, proto):
    """Ports a process's network namespace has bound (TCP: listening), from /proc/PID/net."""
    ports = set()
    for suffix in ('', '6'):
        try:
            with open('/proc/%d/net/%s%s' % (pid, proto, suffix)) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if proto == 'tcp' and fields[3] != '0A':
                continue
            ports.add(int(fields[1].rsplit(':', 1)[1], 16))
    return ports


def wait_bound(proc, tcp=(), udp=(), timeout=15):
    """Poll until the server's namespace shows every port bound; fail fast if it exits."""
    def bound():
        if proc.poll() is not None:
            proc.stderr_file.seek(0)
            raise AssertionError('server exited (%s): %s' % (proc.returncode, proc.stderr_file.read()))
        return set(tcp) <= bound_ports(proc.pid, 'tcp') and set(udp) <= bound_ports(proc.pid, 'udp')
    wait_for(bound, timeout, 'server %d listening on tcp %s udp %s' % (proc.pid, list(tcp), list(udp)))


def wait_for(predicate, timeout=10, what='condition'):
    """A bounded poll: return predicate()'s first truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %ds waiting for %s' % (timeout, what))
        time.sleep(0.02)


def tcp_request(lab, ns, ip, port, data='ping', connect_timeout=2):
    """One TCP exchange from namespace `ns` (or the lab host itself); the answer, or None.

    probe.py's client sends, half-closes and reads to EOF: a probe server answers on accept, so an
    open path always answers in full and a blocked one fails on the connect timeout.
    """
    cmd = '%s %s tcp %s %d --data %s --connect-timeout %s' % (
        PYTHON, PROBE, ip, port, shlex.quote(data), connect_timeout)
    out = lab.sh(cmd, check=False) if ns == lab.ns else lab.in_ns(ns, cmd, check=False)
    return out.stdout if out.returncode == 0 else None


def udp_request(lab, ns, ip, port, data='ping', timeout=2, source_port=0):
    cmd = '%s %s udp %s %d --data %s --timeout %s --source-port %d' % (
        PYTHON, PROBE, ip, port, shlex.quote(data), timeout, source_port)
    out = lab.sh(cmd, check=False) if ns == lab.ns else lab.in_ns(ns, cmd, check=False)
    return out.stdout if out.returncode == 0 else None

"""Coexistence on one lab host: Debian's dockerd and firewalld (nftables backend) beside the collection.

One lab host namespace runs a private D-Bus system bus, firewalld 1.3 with FirewallBackend=nftables
and Debian's dockerd 20.10 (FORWARD policy DROP, its firewalld zone, a container of its own
publishing a port), all started here under `nsenter --net` and ended here by PID, on failure too.
The collection then converges a demo-like topology in the same namespace (a bridge with icc off,
db exposing 5432/tcp, web linked to it and published, an unlinked container). Real traffic shows:

- firewalld's forward chain rejects every new connection entering from an interface no zone holds
  (the bridge falls to the default zone, public): the link (bridged, but br_netfilter hands it to
  the IPv4 hooks), containers' outgoing connections, containers to the host's services; connections
  DNAT'ed to a published port still pass ("ct status dnat accept");
- with the bridge in the trusted zone (the operator's step, README) the collection's own policy
  decides, cell for cell as without firewalld, and Docker's container and ports keep working;
- neither Docker's rules (iptables-save less the collection's) nor firewalld's nftables tables
  change by a byte through the collection's converge, restore or removal;
- `firewall-cmd --reload` flushes every iptables table (firewalld before 2.0, firewalld#863): Docker
  re-makes its rules on firewalld's D-Bus signal, the collection's come back with
  `container-net restore`, which leaves Docker's re-made rules as they are.

Nothing leaks onto the machine (checked at teardown): firewalld reads and writes a private copy of
/etc/firewalld and has a private /run (a mount namespace of its own); dockerd has its own data root,
exec root, config file, key file and cgroup parent (prefixed with the lab id).
"""

import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from labhost import iptables_save, sh, tcp_request, wait_for

LAN_LAB, LAN_PEER = '10.77.0.1', '10.77.0.2'
SUBNET, ROUTED_SUBNET = '10.78.0.0/24', '10.79.0.0/24'
WEB_HOST_PORT, DOCKER_HOST_PORT, ROUTED_HOST_PORT, OUTSIDE_PORT = 18080, 18081, 18090, 7000
BUSYBOX = '/bin/busybox'


# ---- what the machine must have ---------------------------------------------------------------

def require_tools():
    """Packages come from scripts/bootstrap: their absence is a failure, never a skip."""
    missing = [t for t in ('dockerd', 'docker', 'firewalld', 'firewall-cmd', 'dbus-daemon', 'nft', 'unshare')
               if not shutil.which(t)]
    if missing:
        pytest.fail('missing %s: run scripts/bootstrap (docker.io, firewalld, dbus, busybox-static)' % ', '.join(missing))
    if not is_static(BUSYBOX):
        pytest.fail('%s is not a static binary (the Docker image holds nothing else): install busybox-static '
                    '(scripts/bootstrap)' % BUSYBOX)


def is_static(path):
    """An ELF file without a PT_INTERP program header (no dynamic loader)."""
    try:
        with open(path, 'rb') as f:
            head = f.read(64)
            if head[:4] != b'\x7fELF' or head[4] != 2:
                return False
            phoff = int.from_bytes(head[32:40], 'little')
            phentsize = int.from_bytes(head[54:56], 'little')
            phnum = int.from_bytes(head[56:58], 'little')
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    return not any(int.from_bytes(table[i * phentsize:i * phentsize + 4], 'little') == 3 for i in range(phnum))


def require_kernel(lab):
    """What only the kernel can lack: nf_tables, br_netfilter, cgroups for dockerd."""
    if lab.sh('nft list tables', check=False).returncode != 0:
        pytest.skip('the kernel has no nf_tables: firewalld nftables backend and iptables-nft need it')
    if lab.sh('test -e /proc/sys/net/bridge/bridge-nf-call-iptables', check=False).returncode != 0:
        pytest.skip('the kernel has no br_netfilter (net.bridge.bridge-nf-call-iptables)')
    if not (os.path.exists('/sys/fs/cgroup/cgroup.controllers') or os.path.isdir('/sys/fs/cgroup/memory')):
        pytest.skip('the kernel exposes no cgroup hierarchy for dockerd')


# ---- what must not change on the machine ------------------------------------------------------

def machine_view():
    """Files the daemons could write outside their own directories if they were not kept in."""
    view = {}
    for base in ('/etc/firewalld', '/etc/docker'):
        for dirpath, dirnames, names in os.walk(base):
            dirnames.sort()
            for n in sorted(names) + [d + '/' for d in dirnames]:
                p = os.path.join(dirpath, n)
                if p.endswith('/'):
                    view[p] = 'dir'
                    continue
                with open(p, 'rb') as f:
                    view[p] = hashlib.sha256(f.read()).hexdigest()
    for p in ('/run/firewalld', '/var/log/firewalld', '/var/lib/docker', '/run/firewalld.pid', '/var/run/firewalld.pid'):
        view[p] = os.path.lexists(p)
    return view


# ---- the daemons ----------------------------------------------------------------------------------

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class Daemons:
    """A private system bus, firewalld and dockerd in the lab's network namespace."""

    def __init__(self, lab, base):
        self.lab = lab
        self.dir = base
        self.procs = []
        self.bus_socket = os.path.join(base, 'bus.sock')
        self.docker_dir = os.path.join(base, 'dk')
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + self.bus_socket,
                        DOCKER_HOST='unix://' + os.path.join(self.docker_dir, 'docker.sock'))
        self.image = lab.id + '/busybox'
        self.cgroup_parent = lab.id + 'docker'

    def enter(self):
        return ['nsenter', '--net=/run/netns/%s' % self.lab.ns]

    def spawn(self, name, argv):
        log = open(os.path.join(self.dir, name + '.log'), 'w')
        proc = subprocess.Popen(self.enter() + argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        proc.log_path = log.name
        log.close()
        self.procs.append(proc)
        return proc

    def alive(self, proc, what):
        if proc.poll() is not None:
            with open(proc.log_path) as f:
                raise AssertionError('%s exited (%s):\n%s' % (what, proc.returncode, f.read()[-4000:]))
        return True

    # -- D-Bus
    def start_bus(self):
        config = os.path.join(self.dir, 'bus.conf')
        with open(config, 'w') as f:
            f.write(BUS_CONFIG % self.bus_socket)
        proc = self.spawn('dbus', ['dbus-daemon', '--config-file=' + config, '--nofork', '--nopidfile'])

        def listening():
            self.alive(proc, 'dbus-daemon')
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(self.bus_socket)
                return True
            except OSError:
                return False
            finally:
                s.close()
        wait_for(listening, 30, 'the private D-Bus system bus')
        assert pid_is(proc.pid, 'dbus-daemon')

    # -- firewalld
    def start_firewalld(self):
        conf = os.path.join(self.dir, 'etc-firewalld')
        shutil.copytree('/etc/firewalld', conf, symlinks=True)
        path = os.path.join(conf, 'firewalld.conf')
        with open(path) as f:
            text = f.read()
        text = re.sub(r'(?m)^FirewallBackend=.*$', '', text) + '\nFirewallBackend=nftables\n'
        with open(path, 'w') as f:
            f.write(text)
        run = os.path.join(self.dir, 'run')
        os.makedirs(run)
        # A mount namespace of its own: /run from the test's directory (firewalld makes /run/firewalld
        # for its temporary files), the system config from the private copy.
        script = 'mount --bind "$1" /run && shift && exec "$@"'
        self.firewalld = self.spawn('firewalld', [
            'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', run,
            'firewalld', '--nofork', '--nopid', '--system-config', conf,
            '--log-target', 'file', '--log-file', os.path.join(self.dir, 'firewalld.log')])

        def running():
            self.alive(self.firewalld, 'firewalld')
            return self.firewall_cmd('--state', check=False).returncode == 0
        wait_for(running, 60, 'firewalld to answer on the private bus')
        assert pid_is(self.firewalld.pid, 'firewalld')

    def firewall_cmd(self, *args, check=True):
        return sh(self.enter() + ['firewall-cmd'] + list(args), check=check, env=self.env, timeout=120)

    # -- dockerd
    def start_dockerd(self):
        d = self.docker_dir
        os.makedirs(d)
        with open(os.path.join(d, 'daemon.json'), 'w') as f:
            # its identity key where dockerd would otherwise make /etc/docker/key.json
            json.dump({'deprecated-key-path': os.path.join(d, 'key.json')}, f)
        self.dockerd = self.spawn('dockerd', [
            'dockerd', '--config-file', os.path.join(d, 'daemon.json'), '--data-root', os.path.join(d, 'data'),
            '--exec-root', os.path.join(d, 'exec'), '--pidfile', os.path.join(d, 'docker.pid'),
            '-H', self.env['DOCKER_HOST'],
            '--exec-opt', 'native.cgroupdriver=cgroupfs', '--cgroup-parent', '/' + self.cgroup_parent,
            '--userland-proxy=false'])

        def up():
            self.alive(self.dockerd, 'dockerd')
            return self.docker('version', check=False).returncode == 0
        wait_for(up, 120, 'dockerd to answer')
        assert pid_is(self.dockerd.pid, 'dockerd')
        # No registry here: an image imported from a rootfs of one static busybox.
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode='w') as tar:
            tar.add(BUSYBOX, 'bin/busybox')
            link = tarfile.TarInfo('bin/sh')
            link.type, link.linkname = tarfile.SYMTYPE, 'busybox'
            tar.addfile(link)
        out = subprocess.run(['docker', 'import', '-', self.image], input=buf.getvalue(), env=self.env,
                             capture_output=True, timeout=120, check=False)
        assert out.returncode == 0, out.stderr

    def docker(self, *args, check=True, timeout=120):
        return sh(['docker'] + list(args), check=check, env=self.env, timeout=timeout)

    # -- teardown
    def cgroup_dirs(self):
        roots = ['/sys/fs/cgroup'] + [os.path.join('/sys/fs/cgroup', c) for c in sorted(os.listdir('/sys/fs/cgroup'))]
        return [os.path.join(r, self.cgroup_parent) for r in roots if os.path.isdir(os.path.join(r, self.cgroup_parent))]

    def leftovers(self):
        pids = set()
        for top in self.cgroup_dirs():
            for dirpath, dummy, names in os.walk(top):
                if 'cgroup.procs' in names:
                    with open(os.path.join(dirpath, 'cgroup.procs')) as f:
                        pids.update(int(p) for p in f.read().split())
        for entry in os.listdir('/proc'):
            if entry.isdigit():
                try:
                    with open('/proc/%s/cmdline' % entry, 'rb') as f:
                        if self.dir.encode() in f.read():
                            pids.add(int(entry))
                except OSError:
                    pass
        pids.discard(os.getpid())
        return pids

    def stop(self):
        """Docker's containers, then dockerd (it ends its containerd), firewalld, the bus: by PID."""
        errors = []
        if getattr(self, 'dockerd', None) is not None and self.dockerd.poll() is None:
            ids = self.docker('ps', '-aq', check=False).stdout.split()
            if ids:
                self.docker('rm', '-f', *ids, check=False)
        containerd = os.path.join(self.docker_dir, 'exec', 'containerd', 'containerd.pid')
        containerd_pid = None
        if os.path.exists(containerd):
            with open(containerd) as f:
                containerd_pid = int(f.read().strip() or 0) or None
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    errors.append('pid %d ignored SIGTERM' % proc.pid)
                    proc.kill()
                    proc.wait()
        if containerd_pid and pid_is(containerd_pid, 'containerd'):
            os.kill(containerd_pid, signal.SIGKILL)
            errors.append('containerd %d outlived dockerd' % containerd_pid)
        # Anything of Docker's still running (a shim names its containerd socket under our directory,
        # a container's processes sit under our cgroup parent) was started by this test: ended by PID.
        killed = []
        for pid in sorted(self.leftovers()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
            killed.append(pid)
            errors.append('pid %d outlived dockerd' % pid)
        wait_for(lambda: not any(pid_alive(pid) for pid in killed), 30, 'the leftovers to exit')
        # cgroups dockerd made under its own parent (empty once its containers are gone)
        for top in self.cgroup_dirs():
            for dirpath in sorted((w[0] for w in os.walk(top)), key=len, reverse=True):
                try:
                    os.rmdir(dirpath)
                except OSError as e:
                    errors.append('cgroup %s: %s' % (dirpath, e))
        with open('/proc/self/mountinfo') as f:
            mounts = [line.split()[4] for line in f if self.dir in line.split()[4]]
        for m in sorted(mounts, key=len, reverse=True):
            sh(['umount', '-l', m], check=False)
            errors.append('left mounted: %s' % m)
        return errors


def pid_alive(pid):
    """Running (a zombie has left its cgroup and holds nothing)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def pid_is(pid, name):
    """Whether `pid` runs `name` (nsenter, unshare and sh exec into it: the PID held is the daemon's)."""
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip() == name
    except OSError:
        return False


@pytest.fixture
def daemons(lab):
    require_tools()
    require_kernel(lab)
    before = machine_view()
    base = tempfile.mkdtemp(prefix=lab.id + '-coex-', dir='/var/tmp')
    stack = Daemons(lab, base)
    try:
        stack.start_bus()
        stack.start_firewalld()
        stack.start_dockerd()
        yield stack
    finally:
        errors = stack.stop()
        shutil.rmtree(base, ignore_errors=True)
        after = machine_view()
        assert after == before, 'the daemons changed the machine: %s' % sorted(
            k for k in set(before) | set(after) if before.get(k) != after.get(k))
        assert not errors, errors


# ---- whose rules are whose ----------------------------------------------------------------------

def others_rules(lab):
    """iptables-save less the collection's own (CNET-* chains, rules tagged "cnet:"), per table, byte
    for byte but for packet counters; a table holding nothing else but built-in chains at ACCEPT is
    one the collection made (it deletes it again when empty) and is left out."""
    tables, table = {}, None
    for line in iptables_save(lab).splitlines():
        if line == 'COMMIT':
            continue
        if line.startswith('*'):
            table = tables.setdefault(line[1:], [])
        elif line.startswith(':'):
            if not line[1:].startswith('CNET-'):
                table.append(re.sub(r' \[\d+:\d+\]$', '', line))
        elif '--comment "cnet:' in line:
            continue
        else:
            assert 'CNET-' not in line, 'an untagged rule mentions an owned chain: %s' % line
            table.append(line)
    return dict((t, lines) for t, lines in tables.items()
                if not all(l.startswith(':') and l.endswith(' ACCEPT') for l in lines))


def owned_lines(lab):
    return [line for line in iptables_save(lab).splitlines() if 'CNET-' in line or '"cnet:' in line]


def firewalld_tables(lab):
    """Every nftables table firewalld holds, as `nft -j list table` prints it."""
    listing = json.loads(lab.sh('nft -j list tables').stdout)['nftables']
    names = sorted((t['table']['family'], t['table']['name']) for t in listing
                   if 'table' in t and 'firewalld' in t['table']['name'])
    assert names, 'firewalld holds no nftables table'
    return dict(('%s %s' % n, lab.sh('nft -j list table %s %s' % n).stdout) for n in names)


def docker_lines(rules):
    return [line for lines in rules.values() for line in lines if 'docker' in line.lower()]


# ---- the collection's topology, Docker's container, the probes ----------------------------------

class Host:
    """The collection's demo-like topology and Docker's container in one lab, and every probe."""

    def __init__(self, lab, daemons, routed=False):
        self.lab, self.daemons, self.routed = lab, daemons, routed
        self.br, self.rbr = lab.name('br'), lab.name('rbr')
        self.db, self.web, self.other, self.rtc = lab.name('db'), lab.name('web'), lab.name('oth'), lab.name('rtc')
        self.gateway = SUBNET.rsplit('.', 1)[0] + '.1'
        self.lan = lab.add_peer('lan', LAN_LAB + '/24', LAN_PEER + '/24')
        for subnet in (SUBNET, ROUTED_SUBNET):  # a neighbour routing the subnets to us
            lab.in_ns(self.lan, 'ip route add %s via %s' % (subnet, LAN_LAB))
        lab.echo(self.lan, 'outside\n', tcp=[OUTSIDE_PORT])
        lab.echo(lab.ns, 'host\n', tcp=[7100])
        self.dk = lab.id + '-dweb'
        # Docker's own container publishing a port: busybox nc answering every connection (the request
        # is read to its end first, so the answer is never lost to a reset).
        daemons.docker('run', '-d', '--name', self.dk, '-p', '%d:80' % DOCKER_HOST_PORT, daemons.image,
                       BUSYBOX, 'nc', '-ll', '-p', '80', '-e', BUSYBOX, 'sh', '-c', BUSYBOX + ' cat >/dev/null; echo docker-web')
        self.dip = daemons.docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', self.dk).stdout.strip()
        wait_for(lambda: tcp_request(lab, lab.ns, self.dip, 80) == 'docker-web\n', 60, "Docker's container listening")

    def declaration(self):
        bridges = [{'name': self.br, 'subnet': SUBNET, 'icc': False}]
        containers = [
            {'name': self.db, 'bridge': self.br, 'exposed_ports': ['5432/tcp']},
            {'name': self.web, 'bridge': self.br, 'exposed_ports': ['8080/tcp'], 'links': ['%s:db' % self.db],
             'ports': ['%d:8080' % WEB_HOST_PORT]},
            {'name': self.other, 'bridge': self.br}]
        if self.routed:  # a bridge routed on purpose: its published port is reachable at the container's address
            bridges.append({'name': self.rbr, 'subnet': ROUTED_SUBNET, 'ip_masquerade': False})
            containers.append({'name': self.rtc, 'bridge': self.rbr, 'exposed_ports': ['9000/tcp', '9001/tcp'],
                               'ports': ['%d:9000' % ROUTED_HOST_PORT]})
        return bridges, containers

    def converge(self):
        bridges, containers = self.declaration()
        result = self.lab.ok('container_net_topology', bridges=bridges, containers=containers)
        assert result['changed']
        self.ips = dict((n, c['ip']) for n, c in result['containers'].items())
        self.lab.echo(self.db, 'db\n', tcp=[5432, 6000])
        self.lab.echo(self.web, 'web\n', tcp=[8080])
        if self.routed:
            self.lab.echo(self.rtc, 'routed\n', tcp=[9000, 9001])

    def routed_paths(self):
        """From the LAN to the routed bridge's container: its published port at its address, an
        unpublished port there, the published host port; from the host to the unpublished port."""
        lab, ip = self.lab, self.ips[self.rtc]
        return (tcp_request(lab, self.lan, ip, 9000), tcp_request(lab, self.lan, ip, 9001),
                tcp_request(lab, self.lan, LAN_LAB, ROUTED_HOST_PORT), tcp_request(lab, lab.ns, ip, 9001))

    def remove(self):
        bridges, containers = self.declaration()
        assert self.lab.ok('container_net_topology', state='absent', bridges=bridges, containers=containers)['changed']

    def docker_nc(self, ip, port):
        """A connection from Docker's container (busybox nc), its answer or None."""
        out = self.daemons.docker('exec', self.dk, BUSYBOX, 'timeout', '8', BUSYBOX, 'nc', '-w', '2', ip, str(port),
                                  check=False)
        return out.stdout if out.returncode == 0 and out.stdout else None

    def probes(self):
        """(label, call, the answer it gets when allowed)."""
        lab, ips = self.lab, self.ips

        def tcp(ns, ip, port):
            return lambda: tcp_request(lab, ns, ip, port)
        return [
            ('link: web -> db:5432 by its alias', tcp(self.web, 'db', 5432), 'db\n'),
            ('control: host -> db:5432', tcp(lab.ns, ips[self.db], 5432), 'db\n'),
            ('web -> db:6000 (not exposed, not linked)', tcp(self.web, ips[self.db], 6000), 'db\n'),
            ('control: host -> db:6000', tcp(lab.ns, ips[self.db], 6000), 'db\n'),
            ('unlinked container -> db:5432', tcp(self.other, ips[self.db], 5432), 'db\n'),
            ('published: host -> 127.0.0.1:%d' % WEB_HOST_PORT, tcp(lab.ns, '127.0.0.1', WEB_HOST_PORT), 'web\n'),
            ('published: LAN -> host:%d' % WEB_HOST_PORT, tcp(self.lan, LAN_LAB, WEB_HOST_PORT), 'web\n'),
            ('LAN -> web routed to its address', tcp(self.lan, ips[self.web], 8080), 'web\n'),
            ('web -> outside', tcp(self.web, LAN_PEER, OUTSIDE_PORT), 'outside\n'),
            ('control: host -> outside', tcp(lab.ns, LAN_PEER, OUTSIDE_PORT), 'outside\n'),
            ('web -> a host service on its gateway', tcp(self.web, self.gateway, 7100), 'host\n'),
            ('control: host -> its service on the gateway', tcp(lab.ns, self.gateway, 7100), 'host\n'),
            ("web -> Docker's published port", tcp(self.web, LAN_LAB, DOCKER_HOST_PORT), 'docker-web\n'),
            ("Docker's published port: host -> 127.0.0.1", tcp(lab.ns, '127.0.0.1', DOCKER_HOST_PORT), 'docker-web\n'),
            ("Docker's published port: LAN -> host", tcp(self.lan, LAN_LAB, DOCKER_HOST_PORT), 'docker-web\n'),
            ("Docker's container -> outside", lambda: self.docker_nc(LAN_PEER, OUTSIDE_PORT), 'outside\n'),
            ("Docker's container -> the collection's published port",
             lambda: self.docker_nc(LAN_LAB, WEB_HOST_PORT), 'web\n'),
            ("Docker's container -> web routed to its address", lambda: self.docker_nc(ips[self.web], 8080), 'web\n'),
        ]

    def check(self, phase, blocked):
        """Every probe at once; those labelled in `blocked` must get nothing, every other its answer."""
        probes = self.probes()
        unknown = set(blocked) - set(label for label, dummy, dummy in probes)
        assert not unknown, unknown
        with ThreadPoolExecutor(len(probes)) as pool:
            futures = [(label, pool.submit(call), answer) for label, call, answer in probes]
        got = dict((label, future.result()) for label, future, dummy in futures)
        want = dict((label, None if label in blocked else answer) for label, dummy, answer in probes)
        wrong = ['%s: got %r, want %r' % (k, got[k], want[k]) for k in want if got[k] != want[k]]
        assert not wrong, '%s:\n  %s' % (phase, '\n  '.join(wrong))


# The model with firewalld out of the way (README, "Who may reach whom"): what the collection blocks.
MODEL_BLOCKED = ('web -> db:6000 (not exposed, not linked)', 'unlinked container -> db:5432',
                 'LAN -> web routed to its address', "Docker's container -> web routed to its address")
# firewalld with the bridge in no zone: its forward chain rejects every new connection that enters
# from the bridge (bridged ones too, as br_netfilter hands them to the IPv4 hooks), its input chain
# every connection from a container to the host's services; connections DNAT'ed to a published port
# are accepted ("ct status dnat accept"), the host's own connections are not forwarded.
FIREWALLD_ALSO_BLOCKS = ('link: web -> db:5432 by its alias', 'web -> outside', 'web -> a host service on its gateway')


def bind_to_trusted(daemons, bridge):
    """The operator's step (README): the bridge in firewalld's trusted zone, now and across reloads."""
    daemons.firewall_cmd('--zone=trusted', '--add-interface=' + bridge)
    daemons.firewall_cmd('--permanent', '--zone=trusted', '--add-interface=' + bridge)
    assert daemons.firewall_cmd('--get-zone-of-interface=' + bridge).stdout.strip() == 'trusted'


# ---- the tests -----------------------------------------------------------------------------------

def test_docker_firewalld_and_the_collection_share_a_host_without_rewriting_each_other(lab, daemons):
    host = Host(lab, daemons)
    docker_ruleset = others_rules(lab)
    assert ':FORWARD DROP' in docker_ruleset['filter'], 'dockerd did not set FORWARD policy DROP'
    assert '-A FORWARD -j DOCKER-USER' in docker_ruleset['filter']
    assert daemons.firewall_cmd('--get-zone-of-interface=docker0').stdout.strip() == 'docker'
    before = firewalld_tables(lab)

    host.converge()
    assert others_rules(lab) == docker_ruleset, "the converge rewrote someone else's rules"
    assert firewalld_tables(lab) == before, "the converge touched firewalld's tables"
    assert lab.module('container_net_topology', bridges=host.declaration()[0],
                      containers=host.declaration()[1])['changed'] is False

    # firewalld rejects what enters from a bridge in no zone; published ports still answer.
    unbound = daemons.firewall_cmd('--get-zone-of-interface=' + host.br, check=False)
    assert unbound.returncode != 0 and 'no zone' in unbound.stdout + unbound.stderr, unbound
    host.check('firewalld, the bridge in no zone', MODEL_BLOCKED + FIREWALLD_ALSO_BLOCKS)

    # br_netfilter is why bridged traffic meets firewalld at all; turning it off is no way out:
    # the link passes, but so does every unlinked container (icc: false is enforced through it too).
    lab.sh('sysctl -qw net.bridge.bridge-nf-call-iptables=0')
    try:
        assert tcp_request(lab, host.web, 'db', 5432) == 'db\n'
        assert tcp_request(lab, host.other, host.ips[host.db], 5432) == 'db\n'
    finally:
        lab.sh('sysctl -qw net.bridge.bridge-nf-call-iptables=1')
    with open('/proc/sys/net/bridge/bridge-nf-call-iptables') as f:
        assert f.read().strip() == '1', 'the machine itself must keep br_netfilter on (a per-namespace sysctl)'

    # The operator's step: then the collection's own policy decides, exactly the model.
    bind_to_trusted(daemons, host.br)
    bound = firewalld_tables(lab)
    assert bound != before
    host.check('firewalld, the bridge in the trusted zone', MODEL_BLOCKED)
    assert others_rules(lab) == docker_ruleset
    assert lab.cli('check').returncode == 0

    host.remove()
    assert owned_lines(lab) == []
    assert others_rules(lab) == docker_ruleset, "the removal rewrote someone else's rules"
    assert firewalld_tables(lab) == bound, "the removal touched firewalld's tables"
    for label, call, answer in host.probes():
        if label.startswith("Docker's published port") or label == "Docker's container -> outside":
            assert call() == answer, label


def test_firewalld_reload_wipes_every_iptables_table_and_restore_brings_the_collection_back(lab, daemons):
    host = Host(lab, daemons, routed=True)
    for bridge in (host.br, host.rbr):
        bind_to_trusted(daemons, bridge)  # before the bridges exist, as an operator's config management may
    host.converge()
    host.check('converged', MODEL_BLOCKED)
    # A routed bridge's published port at the container's address: a new connection from the LAN
    # (its interface in no zone: the default, public) to trusted, which firewalld rejects unless a
    # policy lets it through (controls: the published host port from the same client, the host to
    # the same server). The policy's ingress is ANY: a policy from a named zone covers only the
    # interfaces bound to it, never those the default zone merely catches.
    assert host.routed_paths() == (None, None, 'routed\n', 'routed\n')
    policy = lab.id + 'routed'
    daemons.firewall_cmd('--permanent', '--new-policy=' + policy)
    for option in ('--add-ingress-zone=ANY', '--add-egress-zone=trusted', '--set-target=ACCEPT'):
        daemons.firewall_cmd('--permanent', '--policy=' + policy, option)
    docker_before = others_rules(lab)
    # Docker's port mapping rules (those naming its container's address): the last thing dockerd
    # re-makes when firewalld says it reloaded (its ReMapAll runs after the network's chains).
    mappings = [line for line in docker_lines(docker_before) if host.dip in line]
    assert len(mappings) >= 2, docker_before

    daemons.firewall_cmd('--reload')  # a new policy takes effect with a reload
    # firewalld 1.3 flushes every iptables table on reload (and start), whoever's rules they hold
    # (firewalld#863; 2.0 stops doing so while no direct rules are configured): the collection's too.
    assert owned_lines(lab) == [], 'firewall-cmd --reload left the collection rules in place: %s' % owned_lines(lab)
    assert daemons.firewall_cmd('--get-zone-of-interface=' + host.br).stdout.strip() == 'trusted'  # permanent
    wait_for(lambda: all(line in docker_lines(others_rules(lab)) for line in mappings), 60,
             "dockerd to re-make its rules after firewalld's reload")
    docker_after = others_rules(lab)
    assert owned_lines(lab) == []
    fw_after = firewalld_tables(lab)
    # Gone until restored: the link and the published port (controls: Docker's port from the same
    # LAN client, the host straight to db).
    assert tcp_request(lab, host.lan, LAN_LAB, DOCKER_HOST_PORT) == 'docker-web\n'
    assert tcp_request(lab, host.lan, LAN_LAB, WEB_HOST_PORT) is None
    assert tcp_request(lab, lab.ns, host.ips[host.db], 5432) == 'db\n'
    assert tcp_request(lab, host.web, 'db', 5432) is None
    assert lab.cli('check').returncode == 1

    out = lab.cli('restore')
    assert out.returncode == 0 and out.stdout.strip() == 'restored', out.stdout + out.stderr
    host.check('restored after the reload', MODEL_BLOCKED)
    # With the policy, the collection decides the routed bridge too: its published port at the
    # container's address answers the LAN, its unpublished port does not (README's footnote).
    assert host.routed_paths() == ('routed\n', None, 'routed\n', 'routed\n')
    assert others_rules(lab) == docker_after, "restore rewrote Docker's re-made rules"
    assert firewalld_tables(lab) == fw_after, "restore touched firewalld's tables"
    assert lab.cli('check').returncode == 0

    host.remove()
    assert owned_lines(lab) == []
    assert others_rules(lab) == docker_after
    assert firewalld_tables(lab) == fw_after

# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resolver's life: runs start it when the registry holds a DNS network and stop it with the
last one (`steps`, a step of the run's plan), and see it answer on every DNS gateway.

Where systemd is PID 1 and the host role installed `container-net`, it is a transient unit that
systemd restarts on failure; elsewhere a detached supervisor forked from the run itself, which
restarts its resolver the same way. Either records itself in `resolver.pid` in the registry (PID,
start time, boot id), by which runs, `container_net_info` and `container-net check` find it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import gc
import hashlib
import os
import signal
import socket
import sys
import time


PIDFILE = 'resolver.pid'
CLI_PATHS = ('/usr/local/sbin/container-net', '/usr/sbin/container-net')
STOP_TIMEOUT = 10


def _pidfile(registry_dir):
    return os.path.join(registry_dir, PIDFILE)


def _start_time(pid):
    """The kernel's start time of a live process (field 22 of its stat): a PID and this name one
    process. None once it has exited, zombies included (an init that does not reap leaves them)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (IOError, OSError):
        return None
    return fields[19] if len(fields) > 19 and fields[0] != 'Z' else None


def _boot_id():
    """This boot's id: the pidfile outlives a reboot (it is in the registry), and a PID and a start
    time alone could name a process of the next boot."""
    try:
        with open('/proc/sys/kernel/random/boot_id') as f:
            return f.read().strip()
    except (IOError, OSError):
        return '-'


def _write_pidfile(registry_dir):
    path = _pidfile(registry_dir)
    with open(path + '.tmp', 'w') as f:
        f.write('%d %s %s\n' % (os.getpid(), _start_time(os.getpid()), _boot_id()))
    os.rename(path + '.tmp', path)


def _remove_pidfile(registry_dir):
    try:
        with open(_pidfile(registry_dir)) as f:
            mine = f.read().split()[:1] == [str(os.getpid())]
        if mine:
            os.unlink(_pidfile(registry_dir))
    except (IOError, OSError):
        pass


def running(registry_dir):
    """The PID of the registry's resolver (or of its supervisor), or None; a stale file is None."""
    try:
        with open(_pidfile(registry_dir)) as f:
            pid, started, boot = f.read().split()[:3]
        pid = int(pid)
    except (IOError, OSError, ValueError):
        return None
    return pid if boot == _boot_id() and _start_time(pid) == started else None


def unit_name(registry_dir):
    return 'container-net-dns-%s' % hashlib.sha1(registry_dir.encode('utf-8')).hexdigest()[:10]


def start(registry_dir, run_command=None):
    """Start the registry's resolver, supervised; return once it has recorded itself."""
    cli = next((p for p in CLI_PATHS if os.access(p, os.X_OK)), None)
    if cli and os.path.isdir('/run/systemd/system') and run_command is not None:
        # a unit of that name still waiting to restart a crashed resolver would make systemd-run refuse
        run_command(['systemctl', 'stop', unit_name(registry_dir) + '.service'])
        run_command(['systemctl', 'reset-failed', unit_name(registry_dir) + '.service'])
        run_command(['systemd-run', '--quiet', '--collect', '--unit', unit_name(registry_dir),
                     '--property', 'Restart=on-failure', '--property', 'RestartSec=1',
                     cli, '--registry-dir', registry_dir, 'dns', '--pidfile'], check_rc=True)
    else:
        _start_detached(registry_dir)
    deadline = time.monotonic() + STOP_TIMEOUT
    while running(registry_dir) is None:
        if time.monotonic() > deadline:
            raise OSError('the resolver for %s did not start (see its log, %s)' % (registry_dir, _log(registry_dir)))
        time.sleep(0.02)


def stop(registry_dir, run_command=None):
    """End the registry's resolver (its supervisor ends it first); return once it is gone."""
    if run_command is not None and os.path.isdir('/run/systemd/system'):
        # a transient unit's resolver: stopped by systemd, or a kill would count as a failure and
        # bring it back (Restart=on-failure); nothing happens where the unit is not loaded
        run_command(['systemctl', 'stop', unit_name(registry_dir) + '.service'])
    pid = running(registry_dir)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _start_time(pid) is not None:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    _remove_stale_pidfile(registry_dir)
    try:
        os.unlink(_log(registry_dir))  # a clean stop: nothing left to read, and the registry may go
    except OSError:
        pass


def _remove_stale_pidfile(registry_dir):
    if running(registry_dir) is None:
        try:
            os.unlink(_pidfile(registry_dir))
        except OSError:
            pass


def _log(registry_dir):
    return os.path.join(registry_dir, 'resolver.log')


def _start_detached(registry_dir):
    """Fork a supervisor that outlives this run (setsid, no inherited descriptors: Ansible waits for
    the module's output to close) and restarts its resolver when it fails. The code it runs is this
    process's, already imported: a module's own files are gone once the module exits."""
    first = os.fork()
    if first:
        os.waitpid(first, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        # Garbage of the run with descriptors (pyroute2's sockets) is finalized now, while they are
        # still its own, and nothing older is ever collected later: a late finalizer would close
        # whatever descriptor has taken the number by then (a listener of the resolver).
        gc.collect()
        gc.freeze()
        null = os.open(os.devnull, os.O_RDWR)
        log = os.open(_log(registry_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, os.sysconf('SC_OPEN_MAX'))
        os.chdir('/')
        _supervise(registry_dir)
    finally:
        os._exit(0)


def _die_with_parent():
    """PR_SET_PDEATHSIG: a supervisor killed outright takes its resolver along, so the next run's
    new one finds the gateway port free."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _supervise(registry_dir):
    child = {'pid': None}

    def end(signum, frame):
        if child['pid']:
            try:
                os.kill(child['pid'], signal.SIGTERM)
                os.waitpid(child['pid'], 0)
            except OSError:
                pass
        _remove_pidfile(registry_dir)
        os._exit(0)
    signal.signal(signal.SIGTERM, end)
    signal.signal(signal.SIGINT, end)
    _write_pidfile(registry_dir)
    supervisor = os.getpid()
    delay = 1
    while True:
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _die_with_parent()
            if os.getppid() != supervisor:  # it died before the death signal was armed
                os._exit(0)
            code = 1
            try:
                code = _server().serve(registry_dir)
            finally:
                os._exit(code)
        child['pid'] = pid
        dummy, status = os.waitpid(pid, 0)
        child['pid'] = None  # reaped: the number may be anyone's now
        sys.stderr.write('%s: resolver exited (status %d), starting it again\n' % (time.strftime('%F %T'), status))
        sys.stderr.flush()
        delay = 1 if time.monotonic() - started > 30 else min(delay * 2, 30)
        time.sleep(delay)


def _process_tree(pid):
    pids = [pid]
    for p in pids:
        try:
            with open('/proc/%d/task/%d/children' % (p, p)) as f:
                pids.extend(int(c) for c in f.read().split())
        except (IOError, OSError, ValueError):
            pass
    return pids


def _socket_inodes(pids):
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir('/proc/%d/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink('/proc/%d/fd/%s' % (pid, fd))
            except OSError:
                continue
            if link.startswith('socket:['):
                inodes.add(int(link[8:-1]))
    return inodes


def _bound(proto, port, inodes):
    """IPv4 addresses with a socket of `inodes` on `port` (TCP: listening) in this namespace."""
    out = set()
    try:
        with open('/proc/net/%s' % proto) as f:
            lines = f.read().splitlines()[1:]
    except (IOError, OSError):
        return out
    for line in lines:
        fields = line.split()
        addr_hex, port_hex = fields[1].rsplit(':', 1)
        if int(port_hex, 16) != port or (proto == 'tcp' and fields[3] != '0A') or int(fields[9]) not in inodes:
            continue
        out.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr_hex)[::-1]))
    return out


def answering_on(registry_dir, port=53):
    """Gateways where the registry's resolver itself has a UDP and a listening TCP socket on `port`
    (sockets told by their inodes: another server bound there, or the resolver's half-bound
    attempt beside one, does not count)."""
    pid = running(registry_dir)
    if pid is None:
        return set()
    inodes = _socket_inodes(_process_tree(pid))
    return _bound('udp', port, inodes) & _bound('tcp', port, inodes)


def wait_answering(gateways, registry_dir, port=53):
    """Until the resolver listens on every gateway: a run that adds a DNS network returns when its
    containers can ask, so the next run finds nothing to do."""
    deadline = time.monotonic() + STOP_TIMEOUT
    while not set(gateways) <= answering_on(registry_dir, port):
        if time.monotonic() > deadline:
            missing = sorted(set(gateways) - answering_on(registry_dir, port))
            raise OSError('the resolver does not listen on %s port %d (is another DNS server bound there? its log: '
                          '%s)' % (', '.join(missing), port, _log(registry_dir)))
        time.sleep(0.02)


def steps(new, registry_dir, step, run_command=None):
    """Start the resolver when the registry holds a DNS network and none runs, and see it answer
    on every DNS gateway; stop it with the last DNS network."""
    gateways = sorted(b['gateway'] for b in new['bridges'].values() if b.get('dns'))
    wanted = bool(gateways)
    pid = running(registry_dir)
    if wanted and pid is None:
        def start_and_wait():
            start(registry_dir, run_command)
            wait_answering(gateways, registry_dir)
        return [step('start the resolver for DNS networks', start_and_wait)]
    missing = sorted(set(gateways) - answering_on(registry_dir)) if wanted else []
    if missing:
        return [step('resolver to answer on %s' % ', '.join(missing),
                     lambda: wait_answering(gateways, registry_dir))]
    if not wanted and pid is not None:
        return [step('stop the resolver (no DNS network left)', lambda: stop(registry_dir, run_command))]
    if not wanted and os.path.exists(_pidfile(registry_dir)):
        return [step('remove the stale %s' % PIDFILE, lambda: _remove_stale_pidfile(registry_dir))]
    return []


def _server():
    """The resolver's code, imported only where it runs: it needs asyncio, which would cost every
    module run and `container-net restore` 20 ms."""
    from ansible_collections.seed.container_net.plugins.module_utils import _dns_server  # pylint: disable=import-outside-toplevel
    return _dns_server


def serve(registry_dir, port=53, resolv_conf=None, recorded=False):
    """The resolver in this process until SIGTERM; `recorded`: as the registry's, in its pidfile while
    it runs (`container-net dns --pidfile`, what the transient unit runs)."""
    if not recorded:
        return _server().serve(registry_dir, port, resolv_conf)
    _write_pidfile(registry_dir)
    try:
        return _server().serve(registry_dir, port, resolv_conf)
    finally:
        _remove_pidfile(registry_dir)

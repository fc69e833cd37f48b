# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's one resolver for user-defined networks: UDP and TCP on each DNS bridge's gateway,
answers from `_dns.view()` of the registry, everything else forwarded upstream from the host side.

One process serves every network of a host (as dockerd and aardvark-dns do). It follows the
registry by itself: a run that connects or disconnects a container rewrites the registry, and the
resolver, which checks the file's stamp before each answer, answers from it; no signal, no restart.
A poll opens and closes listeners as DNS networks come and go.

Runs start it when the registry holds a DNS network and stop it with the last one (`steps`):
where systemd is PID 1 and the host role installed `container-net`, as a transient unit that
systemd restarts on failure; elsewhere as a detached supervisor forked from the run itself,
which restarts its resolver the same way. Either writes `resolver.pid` in the registry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import ctypes
import hashlib
import gc
import os
import resource
import signal
import socket
import struct
import sys
import threading
import time

from ansible_collections.seed.container_net.plugins.module_utils import _dns as dns
from ansible_collections.seed.container_net.plugins.module_utils._errors import RegistryError
from ansible_collections.seed.container_net.plugins.module_utils._registry import Registry

IP_FREEBIND = getattr(socket, 'IP_FREEBIND', 15)  # Linux; Python 3.11 does not name it
UPSTREAM_TIMEOUT = 2.0
# Bounds on what askers can make the resolver hold open (sockets upstream, TCP connections).
MAX_FORWARDS = 512
MAX_FORWARDS_PER_ASKER = 64
MAX_TCP_CLIENTS = 256
HOST_RESOLV_CONF = '/etc/resolv.conf'


def _stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _bound_socket(kind, address, port):
    """A socket bound to address:port even before the bridge has the address (IP_FREEBIND): after a
    reboot the resolver may start before `container-net restore` has made the bridges."""
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:  # TCP only: on UDP it would let another server share the port unseen
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.bind((address, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _UDP:
    """One gateway's UDP socket, read by a thread of its own in blocking calls: a name the resolver
    knows is answered there and then; only a name passed upstream goes to the event loop. Measured
    here, the loop's selector, transport and task machinery cost 20-45 µs a query, more than the
    answer itself (bench/RESULTS.md: the embedded DNS of Docker answers in about 80 µs)."""

    def __init__(self, resolver, sock):
        self.resolver, self.sock = resolver, sock
        self.loop = asyncio.get_running_loop()
        self.closed = False
        sock.setblocking(True)
        self.thread = threading.Thread(target=self.serve, name='udp %s' % sock.getsockname()[0], daemon=True)
        self.thread.start()

    def serve(self):
        while not self.closed:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:  # shut down (close), or an ICMP error queued on the socket
                continue
            if self.closed:
                break
            try:
                answer = self.resolver.local(data, addr[0], dns.MAX_UDP)
            except Exception as e:  # pylint: disable=broad-except
                self.resolver.log('query from %s failed: %r' % (addr[0], e))
                continue
            if isinstance(answer, tuple):
                self.loop.call_soon_threadsafe(self._forward, data, addr, answer)
            elif answer is not None:
                self._send(answer, addr)

    def _forward(self, data, addr, verdict):
        self.resolver.spawn(self.resolver.forward(data, addr[0], verdict, 'udp'), lambda t: self._reply(t, addr))

    def _send(self, answer, addr):
        try:
            self.sock.sendto(answer, addr)
        except OSError:
            pass  # a full buffer, a gone peer or a closed socket: the client asks again, as over any UDP

    def _reply(self, task, addr):
        if task.cancelled() or self.closed:
            return
        if task.exception() is not None:
            self.resolver.log('query from %s failed: %r' % (addr[0], task.exception()))
        elif task.result():
            self._send(task.result(), addr)

    def close(self):
        """Wake the reader (shutdown interrupts a blocked recvfrom on Linux), then close."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(5)
        self.sock.close()


class Resolver:
    def __init__(self, registry_dir, port=53, resolv_conf=HOST_RESOLV_CONF, poll=0.2, log=None):
        self.registry = Registry(registry_dir, create=False)
        self.port = port
        self.resolv_conf = resolv_conf
        self.poll = poll
        self.log = log or (lambda msg: sys.stderr.write(msg + '\n'))
        self.zone = {'listen': {}, 'askers': {}}
        self.host_upstreams = []
        self.listeners = {}  # gateway -> (udp transport, tcp server)
        self._bind_errors = {}
        self._state_path = self.registry.state_path
        self._stamp = self._bad_stamp = self._upstream_stamp = False  # never a stamp: the first look reads
        self._tasks = set()
        self._forwarding = {}  # asker -> queries it has upstream now
        self._forwarding_total = 0
        self._tcp_clients = 0

    # ---- following the registry ---------------------------------------------------------------
    def refresh(self):
        """Reload the view when the registry changed (True). A registry that cannot be read keeps
        the last good view. Checked before every answer: one stat."""
        stamp = _stamp(self._state_path)
        if stamp in (self._stamp, self._bad_stamp):
            return False
        try:
            state = self.registry.read()
        except (RegistryError, OSError, ValueError) as e:
            self.log('registry not read, keeping the last view: %s' % e)
            self._bad_stamp = stamp  # said once per version of the file, not per query
            return False
        state.pop('journal', None)
        self.zone = dns.view(state)
        self._stamp = stamp
        return True

    def refresh_upstreams(self):
        """The host's name servers, again when its resolv.conf changed (checked before forwarding)."""
        stamp = _stamp(self.resolv_conf)
        if stamp == self._upstream_stamp:
            return
        try:
            with open(self.resolv_conf) as f:
                self.host_upstreams = dns.upstreams_from_resolv_conf(f.read())
        except (IOError, OSError):
            self.host_upstreams = []
        self._upstream_stamp = stamp

    async def reconcile_listeners(self):
        wanted = set(self.zone['listen'].values())
        for gateway in sorted(set(self.listeners) - wanted):
            udp, tcp = self.listeners.pop(gateway)
            udp.close()
            tcp.close()
        for gateway in sorted(wanted - set(self.listeners)):
            udp_sock = None
            try:
                udp_sock = _bound_socket(socket.SOCK_DGRAM, gateway, self.port)
                tcp_sock = _bound_socket(socket.SOCK_STREAM, gateway, self.port)
            except OSError as e:
                if udp_sock is not None:
                    udp_sock.close()
                if self._bind_errors.get(gateway) != str(e):  # said once, tried again every poll
                    self.log('cannot listen on %s:%d: %s (retrying)' % (gateway, self.port, e))
                self._bind_errors[gateway] = str(e)
                continue
            self._bind_errors.pop(gateway, None)
            try:
                tcp = await asyncio.start_server(self._tcp_client, sock=tcp_sock)
            except OSError as e:
                self.log('cannot serve on %s:%d: %s (retrying)' % (gateway, self.port, e))
                udp_sock.close()
                tcp_sock.close()
                continue
            self.listeners[gateway] = (_UDP(self, udp_sock), tcp)

    async def run(self):
        """Serve until cancelled. Listeners follow the view, whoever refreshed it (a query may have
        seen the new registry first), and a gateway that could not be bound is tried again."""
        try:
            while True:
                self.refresh()
                if set(self.zone['listen'].values()) != set(self.listeners):
                    await self.reconcile_listeners()
                await asyncio.sleep(self.poll)
        finally:
            for udp, tcp in self.listeners.values():
                udp.close()
                tcp.close()
            self.listeners = {}

    # ---- answering ----------------------------------------------------------------------------
    def spawn(self, coroutine, done=None):
        """A task kept until it ends (the loop holds tasks weakly)."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if done is not None:
            task.add_done_callback(done)
        return task

    async def handle(self, query, asker, max_size, proto):
        """The answer bytes for one query from `asker` (None: nothing to send back)."""
        answer = self.local(query, asker, max_size)
        if isinstance(answer, tuple):
            return await self.forward(query, asker, answer, proto)
        return answer

    def local(self, query, asker, max_size):
        """The answer the resolver has itself (bytes, or None for nothing at all), or
        ('forward', servers, qtype) for a name it passes upstream.

        Responses and scraps get nothing; strangers (no container of a DNS network has their
        address) get REFUSED, nothing more, before anything else is looked at."""
        if not dns.is_query(query):
            return None
        # One stat per query: an answer always reflects the registry as it is on disk, so a run that
        # connected or disconnected a container has taken effect when it returns (the poll only
        # opens listeners for new networks).
        self.refresh()
        known = asker in self.zone['askers']
        try:
            dummy, flags, qname, qtype, qclass, dummy2 = dns.parse_query(query)
        except dns.FormatError:
            return dns.error_response(query, dns.RCODE_FORMERR) if known else None
        if not known:
            return dns.build_response(query, dns.RCODE_REFUSED, qtype, [])
        if dns.opcode(flags) != 0 or qclass != dns.CLASS_IN:  # no UPDATE, NOTIFY... passed on with the host's address
            return dns.build_response(query, dns.RCODE_NOTIMP, qtype, [])
        verdict = dns.decide(self.zone, asker, qname, qtype)
        if verdict[0] == 'answer':
            return dns.build_response(query, verdict[1], qtype, verdict[2], max_size)
        # One container cannot take every descriptor of the resolver with queries for slow names.
        # (read from the UDP threads, changed on the loop's: plain reads of an int and one key)
        if self._forwarding.get(asker, 0) >= MAX_FORWARDS_PER_ASKER or self._forwarding_total >= MAX_FORWARDS:
            return dns.build_response(query, dns.RCODE_SERVFAIL, qtype, [])
        if not verdict[1]:
            self.refresh_upstreams()
        return ('forward', verdict[1] or self.host_upstreams, qtype)

    async def forward(self, query, asker, verdict, proto):
        dummy, servers, qtype = verdict
        self._forwarding[asker] = self._forwarding.get(asker, 0) + 1
        self._forwarding_total += 1
        try:
            return await self._forward(query, servers, proto, qtype)
        finally:
            self._forwarding_total -= 1
            self._forwarding[asker] -= 1
            if not self._forwarding[asker]:
                del self._forwarding[asker]

    async def _forward(self, query, servers, proto, qtype):
        """The first answer that is neither SERVFAIL nor REFUSED, servers in order (the next one on a
        timeout too); SERVFAIL when none gives one."""
        for server in servers:
            try:
                answer = await (self._ask_udp(server, query) if proto == 'udp' else self._ask_tcp(server, query))
            except (OSError, asyncio.TimeoutError, EOFError, asyncio.IncompleteReadError):
                continue
            if len(answer) >= 4 and answer[3] & 0x0F not in (dns.RCODE_SERVFAIL, dns.RCODE_REFUSED):
                return answer
        return dns.build_response(query, dns.RCODE_SERVFAIL, qtype, [])

    async def _ask_udp(self, server, query):
        """One exchange on a socket of its own (a fresh source port each time), connected, so that
        only the server's datagrams reach it; the answer must carry the query's id."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ':' in server else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect((server, 53))
            sock.send(query)
            answer = loop.create_future()

            def readable():
                try:
                    data = sock.recv(65535)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as e:  # an ICMP error: nobody listens there
                    if not answer.done():
                        answer.set_exception(e)
                    return
                if data[:2] == query[:2] and not answer.done():
                    answer.set_result(data)

            def expire():
                if not answer.done():
                    answer.set_exception(asyncio.TimeoutError())
            loop.add_reader(sock.fileno(), readable)
            timer = loop.call_later(UPSTREAM_TIMEOUT, expire)
            try:
                return await answer
            finally:
                timer.cancel()
                loop.remove_reader(sock.fileno())
        finally:
            sock.close()

    async def _ask_tcp(self, server, query):
        reader, writer = await asyncio.wait_for(asyncio.open_connection(server, 53), UPSTREAM_TIMEOUT)
        try:
            writer.write(struct.pack('!H', len(query)) + query)
            await writer.drain()
            size = struct.unpack('!H', await asyncio.wait_for(reader.readexactly(2), UPSTREAM_TIMEOUT))[0]
            return await asyncio.wait_for(reader.readexactly(size), UPSTREAM_TIMEOUT)
        finally:
            writer.close()

    async def _tcp_client(self, reader, writer):
        asker = writer.get_extra_info('peername')[0]
        if self._tcp_clients >= MAX_TCP_CLIENTS:
            writer.close()
            return
        self._tcp_clients += 1
        try:
            while True:
                size = struct.unpack('!H', await asyncio.wait_for(reader.readexactly(2), 10))[0]
                query = await asyncio.wait_for(reader.readexactly(size), 10)
                answer = await self.handle(query, asker, dns.MAX_TCP, 'tcp')
                if answer is None:
                    break
                writer.write(struct.pack('!H', len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            self._tcp_clients -= 1
            writer.close()


def serve(registry_dir, port=53, resolv_conf=HOST_RESOLV_CONF, pidfile=False):
    """Run the resolver in this process until SIGTERM or SIGINT; exit status 0. With `pidfile`
    it records itself as the registry's resolver while it runs."""
    async def main():
        task = asyncio.ensure_future(Resolver(registry_dir, port, resolv_conf).run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass
    _raise_nofile()
    if pidfile:
        _write_pidfile(registry_dir)
    try:
        asyncio.run(main())
    finally:
        if pidfile:
            _remove_pidfile(registry_dir)
    return 0


def _raise_nofile():
    """The soft descriptor limit up to the hard one: every query forwarded holds a socket."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass


# ---- supervision ---------------------------------------------------------------------------------
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
                code = serve(registry_dir)
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

# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's one resolver for user-defined networks: UDP and TCP on each DNS bridge's gateway,
answers from `_dns.view()` of the registry, everything else forwarded upstream from the host side.

One process serves every network of a host (as dockerd and aardvark-dns do). It follows the
registry by itself: a run that connects or disconnects a container rewrites the registry, and the
resolver, which checks the file's stamp before each answer, answers from it; no signal, no restart.
A poll opens and closes listeners as DNS networks come and go.

Who starts, keeps and stops it: `_dns_supervisor.py`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import os
import resource
import signal
import socket
import struct
import sys
import threading

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


def serve(registry_dir, port=53, resolv_conf=None):
    """Run the resolver in this process until SIGTERM or SIGINT; exit status 0."""
    async def main():
        task = asyncio.ensure_future(Resolver(registry_dir, port, resolv_conf or HOST_RESOLV_CONF).run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass
    _raise_nofile()
    asyncio.run(main())
    return 0


def _raise_nofile():
    """The soft descriptor limit up to the hard one: every query forwarded holds a socket."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass

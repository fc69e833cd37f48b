"""Deterministic test servers and clients, run inside lab namespaces.

    probe.py serve [--tcp PORT]... [--udp PORT]... [--reply TEXT] [--record FILE] [--bind ADDR]
    probe.py tcp HOST PORT [--data TEXT] [--connect-timeout S]
    probe.py udp HOST PORT [--data TEXT] [--timeout S]
    probe.py watch --ready FILE --until FILE HOST:PORT...

A server answers every TCP connection and every UDP datagram with TEXT ('{peer}' becomes the
client's address) and, with --record, appends each request's data and peer to FILE. A TCP
connection gets its answer the moment it is accepted and is closed only after the client's EOF,
so no answer is ever lost to a reset or a grace timer (socat's SYSTEM fork gives its child 0.5 s).
Clients print the answer and exit 0, or exit 1 when nothing answered (refused, dropped, timeout).
`watch` tries a TCP connection to every target at once, round after round (0.1 s each), until FILE
exists; it creates --ready after its first round and prints {target: [connected, tries]} as JSON.
"""

import argparse
import select
import socket
import sys
import threading
import time


def _family(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def read_to_eof(conn):
    got = b''
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return got
        got += chunk


def serve(args):
    bind = args.bind or '0.0.0.0'
    family = _family(bind)
    sockets = []
    for port in args.tcp:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((bind, port))
        s.listen(128)
        sockets.append(s)
    for port in args.udp:
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((bind, port))
        sockets.append(s)
    lock = threading.Lock()

    def record(data, peer):
        if args.record:
            with lock, open(args.record, 'a') as f:
                f.write('%s %s\n' % (peer, data.decode('utf-8', 'replace').strip()))

    def answer(peer):
        return args.reply.replace('{peer}', peer).encode('utf-8')

    def handle(conn, peer):
        with conn:
            conn.settimeout(10)
            try:
                conn.sendall(answer(peer))
                record(read_to_eof(conn), peer)
            except OSError:
                pass

    while True:
        ready, dummy, dummy = select.select(sockets, [], [])
        for s in ready:
            if s.type == socket.SOCK_STREAM:
                conn, addr = s.accept()
                threading.Thread(target=handle, args=(conn, addr[0]), daemon=True).start()
            else:
                data, addr = s.recvfrom(65536)
                record(data, addr[0])
                s.sendto(answer(addr[0]), addr)


def tcp(args):
    try:
        s = socket.create_connection((args.host, args.port), timeout=args.connect_timeout)
    except OSError:
        return 1
    with s:
        s.settimeout(args.timeout)
        try:
            s.sendall(args.data.encode('utf-8'))
            s.shutdown(socket.SHUT_WR)
            got = read_to_eof(s)
        except OSError:
            return 1
    sys.stdout.write(got.decode('utf-8', 'replace'))
    return 0


def udp(args):
    s = socket.socket(_family(args.host), socket.SOCK_DGRAM)
    if args.source_port:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('', args.source_port))
    deadline = time.monotonic() + args.timeout
    with s:
        # Resent every 0.5 s until the deadline: a datagram is answered on arrival, so one that is
        # let through is answered well within the first interval; resends only cover a lost packet.
        while time.monotonic() < deadline:
            try:
                s.sendto(args.data.encode('utf-8'), (args.host, args.port))
            except OSError:
                return 1
            ready, dummy, dummy = select.select([s], [], [], min(0.5, max(0, deadline - time.monotonic())))
            if ready:
                try:
                    data = s.recv(65536)
                except OSError:  # ICMP unreachable
                    return 1
                sys.stdout.write(data.decode('utf-8', 'replace'))
                return 0
    return 1


def watch(args):
    """Connection attempts through a change (a backend switch): how many rounds each target answered."""
    import json  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    targets = [(t.rsplit(':', 1)[0], int(t.rsplit(':', 1)[1])) for t in args.targets]
    counts = dict(('%s:%d' % t, [0, 0]) for t in targets)
    while True:
        stop = os.path.exists(args.until)  # decided before the round: the last round starts after the change
        pending = {}
        for target in targets:
            s = socket.socket(_family(target[0]), socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(target)
            pending[s.fileno()] = (target, s)
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        deadline = time.monotonic() + 0.1
        done = set()
        while len(done) < len(pending) and time.monotonic() < deadline:
            for fd, dummy in poller.poll(max(1, int((deadline - time.monotonic()) * 1000))):
                if fd not in done:
                    done.add(fd)
                    poller.unregister(fd)
                    target, s = pending[fd]
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        counts['%s:%d' % target][0] += 1
        for target, s in pending.values():
            counts['%s:%d' % target][1] += 1
            s.close()
        if not os.path.exists(args.ready):
            open(args.ready, 'w').close()
        if stop:
            print(json.dumps(counts))
            return 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('serve')
    p.add_argument('--tcp', type=int, action='append', default=[])
    p.add_argument('--udp', type=int, action='append', default=[])
    p.add_argument('--reply', default='ok\n')
    p.add_argument('--record')
    p.add_argument('--bind')
    for name in ('tcp', 'udp'):
        p = sub.add_parser(name)
        p.add_argument('host')
        p.add_argument('port', type=int)
        p.add_argument('--data', default='ping')
        p.add_argument('--connect-timeout', type=float, default=2)
        p.add_argument('--timeout', type=float, default=5 if name == 'tcp' else 2)
        p.add_argument('--source-port', type=int, default=0)
    p = sub.add_parser('watch')
    p.add_argument('--ready', required=True)
    p.add_argument('--until', required=True)
    p.add_argument('targets', nargs='+')
    args = parser.parse_args()
    if args.cmd == 'watch':
        return watch(args)
    if args.cmd == 'serve':
        args.reply = args.reply.encode('utf-8').decode('unicode_escape')
        serve(args)
    return {'tcp': tcp, 'udp': udp}[args.cmd](args) if args.cmd != 'serve' else 0


if __name__ == '__main__':
    sys.exit(main())

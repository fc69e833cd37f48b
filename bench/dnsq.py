"""DNS query client for the bench: COUNT sequential A queries for NAME to SERVER over UDP, each
awaited (1 s timeout); prints JSON {"us": [latencies], "failed": n, "answers": first answer's IPs}.

    dnsq.py SERVER NAME COUNT          latencies
    dnsq.py SERVER NAME --until-answer  poll every 5 ms (10 s at most) until NAME answers; prints
                                        {"answered_at": time.time()} or exits 1
"""

import json
import random
import socket
import struct
import sys
import time


def query(name):
    qid = random.randrange(65536)
    labels = b''.join(struct.pack('!B', len(l)) + l.encode() for l in name.rstrip('.').split('.')) + b'\x00'
    return qid, struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack('!HH', 1, 1)


def answers(data, qid):
    """The A records of a response to `qid` (empty for NXDOMAIN and the like), or None if not ours."""
    if len(data) < 12 or struct.unpack('!H', data[:2])[0] != qid:
        return None
    count = struct.unpack('!H', data[6:8])[0]
    offset = 12
    while data[offset]:
        offset += data[offset] + 1
    offset += 5
    out = []
    for dummy in range(count):
        offset += 2 if data[offset] & 0xC0 == 0xC0 else len(data[offset:].split(b'\x00', 1)[0]) + 1
        rtype, dummy2, dummy3, size = struct.unpack('!HHIH', data[offset:offset + 10])
        if rtype == 1:
            out.append(socket.inet_ntoa(data[offset + 10:offset + 14]))
        offset += 10 + size
    return out


def ask(sock, server, name):
    qid, packet = query(name)
    sock.sendto(packet, (server, 53))
    while True:
        data = sock.recv(4096)
        got = answers(data, qid)
        if got is not None:
            return got


def main(argv):
    server, name = argv[0], argv[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1)
    if argv[2] == '--until-answer':
        sock.settimeout(0.05)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if ask(sock, server, name):
                    print(json.dumps({'answered_at': time.time()}))
                    return 0
            except socket.timeout:
                pass
            time.sleep(0.005)
        return 1
    latencies, failed, first = [], 0, None
    for dummy in range(int(argv[2])):
        start = time.perf_counter()
        try:
            got = ask(sock, server, name)
        except socket.timeout:
            failed += 1
            continue
        latencies.append((time.perf_counter() - start) * 1e6)
        first = got if first is None else first
    print(json.dumps({'us': latencies, 'failed': failed, 'answers': first}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""PUBLISH to 1 and to 100 subscribers: segcached beside Redis 7.0.15, in
one run, same client, in alternation.

    flock /tmp/segcached-cpu.lock python3 scripts/bench/pubsub.py --reps 3

Each server runs pinned to CPU 0 (segcached also with two unpinned
workers, so messages cross workers), the client on CPU 1: one publisher
pipelining PUBLISH (a window of 64 in flight, 64-byte payloads) and 1 or
100 subscribers on the same channel, all in one process reading with a
selector. A subscriber's messages all have one size, so delivered messages
are counted from bytes received. Reported: messages delivered per second
(from the first PUBLISH to the last byte at the last subscriber), and the
server's CPU time (all threads, /proc) per delivered message. Medians of
--reps runs. Nothing here asserts a number."""

import argparse
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import free_ports, proc_cpu_seconds  # noqa: E402

CHANNEL = b"bench"
PAYLOAD = b"p" * 64
WINDOW = 64


def frame():
    return b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(CHANNEL), CHANNEL, len(PAYLOAD), PAYLOAD)


def cmd(*args):
    return b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def start(kind, port, binary, threads):
    if kind == "redis":
        d = tempfile.mkdtemp(prefix="bench-redis-")
        argv = [shutil.which("redis-server"), "--port", str(port), "--bind",
                "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d]
    else:
        admin, mc = free_ports(2)
        argv = [binary, "-t", str(threads), "--resp", f"127.0.0.1:{port}",
                "--memcache", f"127.0.0.1:{mc}", "--admin",
                f"127.0.0.1:{admin}", "-o", "log.level=warn"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
    if threads == 1:
        argv = ["taskset", "-c", "0"] + argv
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.02)
    p.kill()
    raise RuntimeError(f"{kind} did not start")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def run_case(port, pid, nsub, nmsg):
    subs = []
    want = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL),
                                                              CHANNEL)
    for _ in range(nsub):
        s = connect(port)
        s.sendall(cmd(b"SUBSCRIBE", CHANNEL))
        got = b""
        while len(got) < len(want):
            got += s.recv(len(want) - len(got))
        assert got == want, got
        s.setblocking(False)
        subs.append(s)
    pub = connect(port)
    pub.setblocking(False)
    reply = b":%d\r\n" % nsub
    one = cmd(b"PUBLISH", CHANNEL, PAYLOAD)
    fsize = len(frame())
    sel = selectors.DefaultSelector()
    for s in subs:
        sel.register(s, selectors.EVENT_READ, "sub")
    sel.register(pub, selectors.EVENT_READ, "pub")
    received = {s.fileno(): 0 for s in subs}
    total_want = nmsg * fsize
    sent = acked = 0
    rbuf = b""
    out = b""
    cpu0 = proc_cpu_seconds(pid)
    t0 = time.time()
    done_subs = 0
    while done_subs < nsub or acked < nmsg:
        while sent < nmsg and sent - acked < WINDOW:
            n = min(WINDOW - (sent - acked), nmsg - sent)
            out += one * n
            sent += n
        if out:
            try:
                k = pub.send(out)
                out = out[k:]
            except BlockingIOError:
                pass
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            try:
                data = s.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                raise RuntimeError("connection closed by the server")
            if key.data == "pub":
                rbuf += data
                n = len(rbuf) // len(reply)
                assert rbuf[:n * len(reply)] == reply * n, rbuf[:40]
                rbuf = rbuf[n * len(reply):]
                acked += n
            else:
                before = received[s.fileno()]
                received[s.fileno()] += len(data)
                if before < total_want <= received[s.fileno()]:
                    done_subs += 1
        if time.time() - t0 > 300:
            raise RuntimeError("no progress")
    elapsed = time.time() - t0
    cpu = proc_cpu_seconds(pid) - cpu0
    for s in subs + [pub]:
        sel.unregister(s)
        s.close()
    delivered = nmsg * nsub
    return delivered / elapsed, cpu / delivered * 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bin", default="build/release/segcached")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})
    cases = [(1, int(200000 * a.scale)), (100, int(20000 * a.scale))]
    servers = [("redis", 1), ("segcached", 1), ("segcached", 2)]
    results = {}
    for rep in range(a.reps):
        for kind, threads in servers:
            port = free_ports(1)[0]
            p = start(kind, port, a.bin, threads)
            try:
                for nsub, nmsg in cases:
                    r = run_case(port, p.pid, nsub, nmsg)
                    results.setdefault((kind, threads, nsub), []).append(r)
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
    print("| server | subscribers | messages delivered/s | server CPU ns "
          "per delivered message |")
    print("|---|---|---|---|")
    for (kind, threads, nsub), rs in results.items():
        name = "redis-server 7.0.15" if kind == "redis" else \
            f"segcached -t {threads}" + (" (pinned)" if threads == 1 else "")
        rate = statistics.median(r[0] for r in rs)
        ns = statistics.median(r[1] for r in rs)
        print(f"| {name} | {nsub} | {rate:,.0f} | {ns:,.0f} |")


if __name__ == "__main__":
    main()

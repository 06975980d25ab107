# SPDX-License-Identifier: Apache-2.0
"""TLS on the memcache port: segcached's --memcache-tls beside memcached
1.6.18's -Z (Debian's build has TLS), same client, same certificate, in
alternation.

    flock /tmp/segcached-cpu.lock python3 scripts/bench/tls_memcache.py --reps 3

Each server runs one worker thread pinned to CPU 0; the client (this
script: one thread per connection, Python's ssl module, TLS 1.3) runs on
CPU 1. GET hits of 100-byte values over 1,000 keys at pipeline depths 1
and 16 (16 `get` lines in one write, then the 16 replies), 8 connections,
--seconds per case. Reported: requests/s (the client's limit here: read the
server CPU column) and the server's CPU time per request (/proc, every
thread). Medians of --reps runs, servers alternating. Nothing here asserts
a number."""

import argparse
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import free_ports, proc_cpu_seconds  # noqa: E402
from tls import make_certs  # noqa: E402

KEYS = 1000
VALUE = b"v" * 100


def start(kind, port, d, binary):
    crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    if kind == "segcached":
        plain, admin = free_ports(2)
        argv = [binary, "-t", "1", "--resp", "off", "--memcache",
                f"127.0.0.1:{plain}", "--admin", f"127.0.0.1:{admin}",
                "--memcache-tls", f"127.0.0.1:{port}", "-o",
                f"tls.cert_file={crt}", "-o", f"tls.key_file={key}",
                "-o", "log.level=warn"]
    else:
        argv = ["memcached", "-t", "1", "-Z", "-o",
                f"ssl_chain_cert={crt},ssl_key={key}", "-l",
                f"127.0.0.1:{port}", "-m", "64"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    p = subprocess.Popen(["taskset", "-c", "0", *argv],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = client_ctx(d)
    for _ in range(200):
        try:
            s = connect(ctx, port)
            s.sendall(b"version\r\n")
            if s.recv(100).startswith(b"VERSION"):
                s.close()
                return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError(f"{kind} did not start")


def client_ctx(d):
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
    ctx.check_hostname = False
    return ctx


def connect(ctx, port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def load(ctx, port):
    s = connect(ctx, port)
    for i in range(KEYS):
        s.sendall(b"set key:%d 0 0 %d\r\n%s\r\n" % (i, len(VALUE), VALUE))
        buf = b""
        while not buf.endswith(b"\r\n"):
            buf += s.recv(100)
        assert buf == b"STORED\r\n", buf
    s.close()


def worker(ctx, port, depth, until, counts, idx):
    s = connect(ctx, port)
    reply = b"VALUE key:%d 0 100\r\n" + VALUE + b"\r\nEND\r\n"
    n, k = 0, idx
    buf = b""
    while time.time() < until:
        batch = []
        want = 0
        for _ in range(depth):
            k = (k + 7) % KEYS
            batch.append(b"get key:%d\r\n" % k)
            want += len(reply % k)
        s.sendall(b"".join(batch))
        while len(buf) < want:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise EOFError("closed")
            buf += chunk
        assert buf[:5] == b"VALUE", buf[:40]
        buf = buf[want:]
        n += depth
    counts[idx] = n
    s.close()


def run_case(ctx, port, pid, depth, seconds, conns=8):
    counts = [0] * conns
    until = time.time() + seconds
    cpu0 = proc_cpu_seconds(pid)
    t0 = time.time()
    ts = [threading.Thread(target=worker,
                           args=(ctx, port, depth, until, counts, i))
          for i in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.time() - t0
    cpu = proc_cpu_seconds(pid) - cpu0
    n = sum(counts)
    return n / wall, cpu / n * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segcached", default="build/release/segcached")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})
    d = tempfile.mkdtemp(prefix="tls-mc-bench-")
    results = {}
    try:
        make_certs(d)
        ctx = client_ctx(d)
        for rep in range(a.reps):
            for kind in ("segcached", "memcached"):
                port = free_ports(1)[0]
                p = start(kind, port, d, a.segcached)
                try:
                    load(ctx, port)
                    for depth in (1, 16):
                        rps, us = run_case(ctx, port, p.pid, depth, a.seconds)
                        results.setdefault((kind, depth), []).append(
                            (rps, us))
                        print(f"rep {rep} {kind} P{depth}: {rps:,.0f} req/s "
                              f"{us:.3f} us/req", flush=True)
                finally:
                    p.terminate()
                    p.wait(timeout=20)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("\n| case | segcached req/s | memcached req/s | segcached CPU "
          "us/req | memcached CPU us/req | CPU segcached/memcached |")
    print("|---|---|---|---|---|---|")
    for depth in (1, 16):
        s = results[("segcached", depth)]
        m = results[("memcached", depth)]
        srps = statistics.median(x[0] for x in s)
        mrps = statistics.median(x[0] for x in m)
        sus = statistics.median(x[1] for x in s)
        mus = statistics.median(x[1] for x in m)
        print(f"| TLS GET P{depth} | {srps:,.0f} | {mrps:,.0f} | {sus:.3f} | "
              f"{mus:.3f} | {sus / mus:.3f} |")


if __name__ == "__main__":
    main()

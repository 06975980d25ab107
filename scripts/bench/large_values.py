#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Large-value throughput in MB/s: SET then GET of 10 MB values on
segcached (RESP and memcache text), redis-server 7.0.15 and memcached
1.6.18, with the same byte budget (-m / maxmemory) and the same client
(this script: one raw socket per connection, the value sent with one
sendall and read with recv_into into a buffer made once, so the client
costs the same for every server). Each server is fresh, started here on a
free loopback port and stopped by pid.

For each server and each connection count: every connection writes its
own keys (KEYS x 10 MB, all within the budget, written once to warm up),
then ROUNDS rounds of SET of all its keys, then ROUNDS rounds of GET
(every reply checked for its length and last byte). MB/s is value bytes
over wall time (1 MB = 10^6 bytes); CPU is the server's user+sys seconds
(/proc/<pid>/stat) per GB moved. Nothing here asserts a number. Run it
under the CPU lock:

  flock /tmp/segcached-cpu.lock scripts/bench/large_values.py \\
      build/release/segcached

usage: large_values.py [segcached binary] [--size BYTES] [--keys N]
       [--rounds N] [--conns 1,4] [--memory MiB] [--threads N]
       [--servers "segcached resp,redis,segcached memcache,memcached"]
"""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from large_items import free_port, wait

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


class Conn:
    """One connection speaking RESP or memcache text, replies read into a
    buffer made once."""

    def __init__(self, port, proto, size):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.proto = proto
        self.size = size
        self.buf = bytearray(size + 4096)
        self.view = memoryview(self.buf)
        self.have = 0

    def fill(self):
        n = self.s.recv_into(self.view[self.have:])
        if n == 0:
            raise EOFError("closed")
        self.have += n

    def line(self):
        while True:
            i = self.buf.find(b"\r\n", 0, self.have)
            if i >= 0:
                out = bytes(self.buf[:i + 2])
                self.consume(i + 2)
                return out
            self.fill()

    def consume(self, n):
        self.buf[:self.have - n] = self.buf[n:self.have]
        self.have -= n

    def set(self, key, value):
        if self.proto == "resp":
            head = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n" % (
                len(key), key, len(value))
            ok = b"+OK\r\n"
        else:
            head = b"set %s 0 0 %d\r\n" % (key, len(value))
            ok = b"STORED\r\n"
        self.s.sendall(head)
        self.s.sendall(value)
        self.s.sendall(b"\r\n")
        got = self.line()
        if got != ok:
            raise RuntimeError(f"SET {key}: {got[:80]!r}")

    def get(self, key, last):
        """GET key: the value's length, last byte and CRLF checked."""
        if self.proto == "resp":
            self.s.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key),
                                                                   key))
            head = self.line()
            ok = head == b"$%d\r\n" % self.size
        else:
            self.s.sendall(b"get %s\r\n" % key)
            head = self.line()
            ok = head.startswith(b"VALUE ") and \
                head.endswith(b" %d\r\n" % self.size)
        if not ok:
            raise RuntimeError(f"GET {key}: {head[:80]!r}")
        while self.have < self.size + 2:
            if self.have == len(self.buf):
                raise RuntimeError("reply larger than expected")
            self.fill()
        ok = self.buf[self.size - 1] == last and \
            self.buf[self.size:self.size + 2] == b"\r\n"
        self.consume(self.size + 2)
        if self.proto == "memcache":
            ok = ok and self.line() == b"END\r\n"
        if not ok:
            raise RuntimeError(f"GET {key}: bad value")

    def close(self):
        self.s.close()


def load(port, proto, size, keys, rounds, nconn, pid):
    """Returns {phase: (seconds, server CPU seconds)} for rounds over every
    key of every connection, after one warm-up write of each key."""
    value = bytes(range(256)) * (size // 256) + b"v" * (size % 256)
    conns = [Conn(port, proto, size) for _ in range(nconn)]
    names = [[b"lv:%d:%d" % (c, k) for k in range(keys)]
             for c in range(nconn)]
    for c, conn in enumerate(conns):
        for key in names[c]:
            conn.set(key, value)
    out = {}
    errors = []

    def worker(c, what):
        try:
            for _ in range(rounds):
                for key in names[c]:
                    if what == "set":
                        conns[c].set(key, value)
                    else:
                        conns[c].get(key, value[-1])
        except Exception as e:  # reported below, never swallowed
            errors.append(e)

    for what in ("set", "get"):
        threads = [threading.Thread(target=worker, args=(c, what))
                   for c in range(nconn)]
        c0 = cpu_seconds(pid)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out[what] = (time.monotonic() - t0, cpu_seconds(pid) - c0)
        if errors:
            raise errors[0]
    for conn in conns:
        conn.close()
    return out


def start(name, args, mem_mib, threads, size):
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    item = f"{max(2 * size // (1 << 20), 16)}m"
    tmp = None
    if name.startswith("segcached"):
        proto = "resp" if name.endswith("resp") else "memcache"
        other = "memcache" if proto == "resp" else "resp"
        cmd = [args.segcached, f"--{proto}", f"127.0.0.1:{port}",
               f"--{other}", "off", "--admin", "off", "-m", str(mem_mib),
               "-I", item, "-t", str(threads)] + user
    elif name == "redis":
        tmp = tempfile.mkdtemp(prefix="lv-redis-")
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", tmp,
               "--maxmemory", f"{mem_mib}mb", "--maxmemory-policy",
               "allkeys-lru"]
    else:
        cmd = ["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0",
               "-m", str(mem_mib), "-I", item, "-t", str(threads)] + user
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait(port)
    return proc, port, tmp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("segcached", nargs="?", default="build/release/segcached")
    ap.add_argument("--size", type=int, default=10_000_000)
    ap.add_argument("--keys", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--conns", default="1,4")
    ap.add_argument("--memory", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--servers",
                    default="segcached resp,redis,segcached memcache,memcached")
    args = ap.parse_args()
    conns = [int(c) for c in args.conns.split(",")]
    servers = [(name, "resp" if name in ("segcached resp", "redis")
                 else "memcache") for name in args.servers.split(",")]
    print(f"{args.size} B values, {args.keys} keys per connection, "
          f"{args.rounds} rounds, -m {args.memory} MiB, "
          f"-t {args.threads} (segcached, memcached)")
    print()
    print("| server | connections | SET MB/s | GET MB/s | "
          "server CPU s per GB (SET / GET) |")
    print("|---|---|---|---|---|")
    for name, proto in servers:
        for n in conns:
            proc, port, tmp = start(name, args, args.memory, args.threads,
                                    args.size)
            try:
                r = load(port, proto, args.size, args.keys, args.rounds, n,
                         proc.pid)
                gb = args.size * args.keys * n * args.rounds / 1e9
                (ts, cs), (tg, cg) = r["set"], r["get"]
                print(f"| {name} | {n} | {gb * 1e3 / ts:.0f} | "
                      f"{gb * 1e3 / tg:.0f} | {cs / gb:.2f} / {cg / gb:.2f} |",
                      flush=True)
            finally:
                proc.terminate()
                proc.wait()
                if tmp:
                    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

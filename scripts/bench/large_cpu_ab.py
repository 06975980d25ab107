#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Server CPU per memcache GET and SET of large values, two segcached
binaries side by side: both started fresh (-m 256 -t 1), the same client
(one connection, pipelined 4 deep) alternating between them, CPU from
servers.proc_cpu_seconds (schedstat). Prints microseconds per request
and B/A for each size.

usage: large_cpu_ab.py A B [sizes in bytes ...]
"""
import os
import socket
import subprocess
import sys
import time
from large_items import free_port
from servers import proc_cpu_seconds as cpu

A, B = sys.argv[1], sys.argv[2]
SIZES = [int(a) for a in sys.argv[3:]] or [60_000, 100_000, 600_000,
                                           5_000_000]



def start(binary):
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    p = subprocess.Popen([binary, "--memcache", f"127.0.0.1:{port}",
                          "--resp", "off", "--admin", "off", "-m", "256",
                          "-I", "8m", "-t", "1"] + user,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            s = socket.create_connection(("127.0.0.1", port))
            return p, s
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def run(p, s, size, n, op):
    f = s.makefile("rb")
    v = b"v" * size
    keys = 16
    t0 = cpu(p.pid)
    for i in range(0, n, 4):
        if op == "set":
            s.sendall(b"".join(b"set k%d 0 0 %d\r\n" % ((i + j) % keys, size)
                               + v + b"\r\n" for j in range(4)))
            for _ in range(4):
                assert f.readline() == b"STORED\r\n"
        else:
            s.sendall(b"".join(b"get k%d\r\n" % ((i + j) % keys)
                               for j in range(4)))
            for _ in range(4):
                assert f.readline().startswith(b"VALUE")
                f.read(size + 2)
                assert f.readline() == b"END\r\n"
    return (cpu(p.pid) - t0) / n * 1e6


def main():
    print("| value | op | A us/req | B us/req | B/A |")
    print("|---|---|---|---|---|")
    for size in SIZES:
        n = max(200, min(20000, 400_000_000 // size))
        servers = [start(A), start(B)]
        try:
            for op in ("set", "get"):
                got = [[], []]
                for _ in range(5):
                    for k in (0, 1):
                        got[k].append(run(*servers[k], size, n, op))
                a, b = sorted(got[0])[2], sorted(got[1])[2]
                print(f"| {size} | {op} | {a:.1f} | {b:.1f} | {b / a:.3f} |")
        finally:
            for p, s in servers:
                s.close()
                p.terminate()
                p.wait()


if __name__ == "__main__":
    main()

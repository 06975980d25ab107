#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Items of one size held in 64 MiB: segcached -m 64 -I 8m beside memcached
1.6.18 -m 64 -I 8m, a fresh server per size. Writes 2 x 64 MiB of values
(distinct keys, memcache text set), then counts the keys a get still finds.

usage: large_items.py [segcached binary] [sizes in bytes ...]
"""
import os
import socket
import subprocess
import sys
import time

MEM = 64 * 1024 * 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait(port):
    """Until something listens on port (10 s at most). Also used by
    large_values.py."""
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def reply(f):
    return f.readline()


def held(port, size):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    v = b"v" * size
    n = 2 * MEM // size
    stored = 0
    for i in range(n):
        s.sendall(b"set k%d 0 0 %d\r\n" % (i, size) + v + b"\r\n")
        stored += reply(f) == b"STORED\r\n"
    hits = 0
    for i in range(n):
        s.sendall(b"mg k%d s\r\n" % i)
        hits += reply(f).startswith(b"HD")
    s.close()
    return stored, hits


def run(cmd, port, size):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        wait(port)
        return held(port, size)
    finally:
        p.terminate()
        p.wait()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/release/segcached"
    sizes = [int(a) for a in sys.argv[2:]] or [100_000, 300_000, 600_000,
                                               5_000_000]
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    print("| value | segcached held (stored) | memcached held (stored) |")
    print("|---|---|---|")
    for size in sizes:
        port = free_port()
        seg = run([binary, "--memcache", f"127.0.0.1:{port}", "--resp", "off",
                   "--admin", "off", "-m", "64", "-I", "8m", "-t", "1"] +
                  user, port, size)
        port = free_port()
        mc = run(["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0",
                  "-m", "64", "-I", "8m", "-t", "1"] + user, port, size)
        print(f"| {size} | {seg[1]} ({seg[0]}) | {mc[1]} ({mc[0]}) |")


if __name__ == "__main__":
    main()

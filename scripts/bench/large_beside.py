#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Small items beside large values (issue 18): does a store holding a few
100 MB values keep its items per MiB for small ones? Two fresh servers of
one binary and one budget, B holding --large-count values of --large-size
bytes (written over RESP, then read twice each), A none; the same client
for both (loadgen).

  items: each server, with seg.evict none (so that B's large values stay
    whatever the small items' pressure), is filled with 16-byte keys and
    32-byte values through the memcache port, twice what its budget holds
    (the writes past the first refusal answer out of memory), then every
    key is read back: items held, and items per MiB of the budget left to
    them: B's budget less what its large values take (INFO used_memory
    after they are written, less a fresh A's: whole segments of parts,
    about 1.7% more than their bytes). B's large values are checked to be
    all there at the end.
  CPU per request of small GETs and SETs beside the large values is
    ab.py's: --a BIN --b BIN --memory 512 --b-large 3x100000000 --together.

  flock /tmp/segcached-cpu.lock python3 scripts/bench/large_beside.py \\
      --bin build/release/segcached

Nothing here asserts a number."""

import argparse
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
from servers import Server  # noqa: E402

MiB = 1 << 20


def resp_call(sock, *args):
    """One RESP command; the reply's first line, and a bulk's body."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, (bytes, bytearray, memoryview)) else \
            str(a).encode()
        out += [b"$%d\r\n" % len(a), a, b"\r\n"]
    for part in out:
        sock.sendall(part)
    f = sock.makefile("rb")
    line = f.readline()
    body = None
    if line.startswith(b"$") and not line.startswith(b"$-1"):
        n = int(line[1:])
        body = f.read(n + 2)[:n]
    f.close()
    return line, body


def put_large(addr, count, size):
    host, port = addr.rsplit(":", 1)
    value = bytearray(os.urandom(1 << 16)) * (size >> 16)
    value += b"x" * (size - len(value))
    with socket.create_connection((host, int(port)), timeout=120) as s:
        for i in range(count):
            line, _ = resp_call(s, "SET", f"large:{i}", value)
            if line != b"+OK\r\n":
                raise RuntimeError(f"SET large:{i}: {line!r}")
        for _ in range(2):  # read: merge keeps what was read
            for i in range(count):
                line, _ = resp_call(s, "STRLEN", f"large:{i}")
                if line != b":%d\r\n" % size:
                    raise RuntimeError(f"STRLEN large:{i}: {line!r}")
                resp_call(s, "GETRANGE", f"large:{i}", 0, 15)


def used_memory(addr):
    return int(servers.redis_info(addr)["used_memory"])


def large_present(addr, count, size):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=120) as s:
        return sum(resp_call(s, "STRLEN", f"large:{i}")[0] ==
                   b":%d\r\n" % size for i in range(count))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="build/release/segcached")
    ap.add_argument("--memory", type=int, default=512, help="MiB, both")
    ap.add_argument("--large-count", type=int, default=3)
    ap.add_argument("--large-size", type=int, default=100 * 1000 * 1000)
    ap.add_argument("--loadgen", default="build/bench/loadgen")
    args = ap.parse_args()
    servers.build_loadgen(args.loadgen)
    cpus = sorted(os.sched_getaffinity(0))
    client_cpu = str(cpus[0]) if len(cpus) >= 2 else None
    server_cpu = str(cpus[1]) if len(cpus) >= 2 else None
    logdir = tempfile.mkdtemp(prefix="segcached-beside-")
    budget = args.memory * MiB
    large_bytes = args.large_count * args.large_size
    # resp.max_bulk (512 MiB by default) bounds --large-size
    extra = ["-o", f"resp.max_bulk={max(args.large_size, 512 * MiB)}"]

    def client(argv):
        return servers.run_loadgen(argv, client_cpu, timeout=1200)

    def start(name, more=()):
        s = Server("segcached", budget, 1, server_cpu, logdir, args.bin,
                   extra=extra + list(more)).start()
        if name == "B":
            put_large(s.addr["resp"], args.large_count, args.large_size)
        return s

    print(f"{args.bin}: -m {args.memory} MiB, B holds {args.large_count} x "
          f"{args.large_size:,} bytes ({large_bytes / MiB:.0f} MiB)",
          flush=True)
    try:
        n = budget * 2 // 48
        held, used = {}, {}
        for name in ("A", "B"):
            servers.stop_all()
            s = start(name, ["-o", "seg.evict=none"])
            used[name] = used_memory(s.addr["resp"])
            client([args.loadgen, "fill", "-s", s.addr["memcache"],
                    "--from", 0, "--to", n, "--conns", 4])
            r = client([args.loadgen, "read", "-s", s.addr["memcache"],
                        "--from", 0, "--to", n, "--conns", 4])
            held[name] = int(r["hits"])
            left = args.large_count if name == "A" else large_present(
                s.addr["resp"], args.large_count, args.large_size)
            print(f"  {name}: {held[name]:,} small items held, large "
                  f"values present {left}/{args.large_count}",
                  flush=True)
            if name == "B" and left < args.large_count:
                raise RuntimeError("B lost large values: the items "
                                   "figure would not compare")
        took = used["B"] - used["A"]
        print(f"  B's large values take {took / MiB:.1f} MiB "
              f"({took / large_bytes:.4f} of their bytes)", flush=True)
        room_b = (budget - took) / MiB
        pa, pb = held["A"] / args.memory, held["B"] / room_b
        print("\n| server | small items held | MiB left to them | "
              "items per MiB |\n|---|---|---|---|")
        print(f"| A (no large values) | {held['A']:,} | {args.memory} | "
              f"{pa:,.0f} |")
        print(f"| B ({args.large_count} x {args.large_size:,} B) | "
              f"{held['B']:,} | {room_b:.0f} | {pb:,.0f} |")
        print(f"\nitems per MiB, B/A: {pb / pa:.3f}\n", flush=True)
    finally:
        servers.stop_all()


if __name__ == "__main__":
    t0 = time.monotonic()
    main()
    print(f"\n{time.monotonic() - t0:.0f} s")

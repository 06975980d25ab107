#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Instructions per LPUSH and RPOP on a list of 1,000,000 elements against
one of 10, and per ZADD, ZSCORE, ZRANK, ZRANGE .. BYSCORE LIMIT 0 10 and
ZREVRANGE 0 9 WITHSCORES on a sorted set of 1,000,000 members against one
of 10, counted by valgrind's callgrind (issue 16, "large stays fast").

    flock /tmp/segcached-cpu.lock python3 scripts/bench/list_instructions.py \\
        --bin build/release/segcached [--bin /tmp/other-segcached ...] \\
        [--kinds lpush,rpop,zadd,zscore,zrank,zrange,zrevrange]

Instructions do not move with a shared machine's load, so a per-request
cost is measured exactly where timings could not tell it from noise (this
machine has no hardware counters). Each binary serves one worker under
callgrind; the run is counted whole (start, fill, requests, exit) twice,
with --n1 and --n2 requests, and the difference over n2 - n1 is the cost of
one request, as instructions_ab.sh does.

Fill (the same in both runs of a pair, so it cancels): the large case is
one list "big" of --big 10-byte elements (RPUSH of 1000 per command); the
small case is --n2 lists "s:%07d" of 10 elements each. Requests, pipelined
16 deep on one connection: LPUSH big e / RPOP big (the list stays within
n2 of --big elements); LPUSH s:<i> e / RPOP s:<i> with i = 0, 1, 2 ... (a
list of 10 elements each time: 10 -> 11, 10 -> 9). Sorted sets: "big" holds
members e<k> with score k * 7919 mod --big (ZADD of 1000 per command), each
small set s:<i> members e0 .. e9 with scores 0 .. 9; a ZADD adds a new
member n<i> (score i * 7919 mod --big + 0.5 on big: spread over its parts),
ZSCORE and ZRANK ask for e<i * 7919 mod size>. The fill runs with
callgrind's instrumentation off (switched on by callgrind_control before
the requests), so a large fill costs minutes, not hours. Every reply is
checked. Nothing here asserts a number."""

import argparse
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from types_memory import Conn, cmd  # noqa: E402

DEPTH = 16
ELEM = b"e%09d"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def send(c, cs, check):
    for i in range(0, len(cs), DEPTH):
        for r in c.pipeline(cs[i:i + DEPTH]):
            if isinstance(r, Exception) or not check(r):
                raise RuntimeError(f"unexpected reply {r!r}")


def zfill(c, size, n2):
    if size == "large":
        for i in range(0, BIG, 1000):
            args = []
            for k in range(i, min(BIG, i + 1000)):
                args += [b"%d" % (k * 7919 % BIG), ELEM % k]
            send(c, [cmd(b"ZADD", b"big", *args)],
                 lambda r: isinstance(r, int))
        if c.call(b"ZCARD", b"big") != BIG:
            raise RuntimeError("big not filled")
        return
    cs = []
    for i in range(n2):
        args = []
        for k in range(10):
            args += [b"%d" % k, ELEM % k]
        cs.append(cmd(b"ZADD", b"s:%07d" % i, *args))
    send(c, cs, lambda r: r == 10)


def zrequests(size, kind, n):
    big = size == "large"
    key = [b"big"] * n if big else [b"s:%07d" % i for i in range(n)]
    span = BIG if big else 10
    if kind == "zadd":
        return ([cmd(b"ZADD", k, b"%d.5" % (i * 7919 % span),
                     b"n%09d" % i) for i, k in enumerate(key)],
                lambda r: r == 1)
    if kind == "zscore":
        return ([cmd(b"ZSCORE", k, ELEM % (i * 7919 % span))
                 for i, k in enumerate(key)],
                lambda r: isinstance(r, bytes))
    if kind == "zrank":
        return ([cmd(b"ZRANK", k, ELEM % (i * 7919 % span))
                 for i, k in enumerate(key)],
                lambda r: isinstance(r, int))
    if kind == "zrange":
        return ([cmd(b"ZRANGE", k, b"-inf", b"+inf", b"BYSCORE", b"LIMIT",
                     b"0", b"10") for k in key],
                lambda r: isinstance(r, list) and len(r) == 10)
    return ([cmd(b"ZREVRANGE", k, b"0", b"9", b"WITHSCORES") for k in key],
            lambda r: isinstance(r, list) and len(r) == 20)


def fill(c, size, n2, kind="lpush"):
    if kind.startswith("z"):
        return zfill(c, size, n2)
    if size == "large":
        for i in range(0, BIG, 1000):
            send(c, [cmd(b"RPUSH", b"big",
                         *[ELEM % k for k in range(i, min(BIG, i + 1000))])],
                 lambda r: isinstance(r, int))
        if c.call(b"LLEN", b"big") != BIG:
            raise RuntimeError("big not filled")
        return
    cs = [cmd(b"RPUSH", b"s:%07d" % i, *[ELEM % k for k in range(10)])
          for i in range(n2)]
    send(c, cs, lambda r: r == 10)


def requests(size, kind, n):
    if kind.startswith("z"):
        return zrequests(size, kind, n)
    if size == "large":
        key = [b"big"] * n
        want = (lambda r: isinstance(r, int)) if kind == "lpush" else \
            (lambda r: isinstance(r, bytes))
    else:
        key = [b"s:%07d" % i for i in range(n)]
        want = (lambda r: r == 11) if kind == "lpush" else \
            (lambda r: r == ELEM % 9)
    if kind == "lpush":
        return [cmd(b"LPUSH", k, ELEM % i) for i, k in enumerate(key)], want
    return [cmd(b"RPOP", k) for k in key], want


def count(binary, size, kind, n, n2, outdir):
    port = free_port()
    f = os.path.join(outdir, f"{os.path.basename(binary)}.{size}.{kind}."
                     f"{n}.out")
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={f}",
            "--instr-atstart=no",
            binary, "--memcache", "off", "--ping", "off", "--admin", "off",
            "--resp", f"127.0.0.1:{port}", "-t", "1",
            "-o", "seg.memory=1073741824", "-o", "hotkey.sample_rate=0"]
    if os.getuid() == 0:
        # it refuses root; setpriv execs, so the pid is valgrind's own
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup",
                "--clear-groups"] + argv
    log = open(os.path.join(outdir, "server.log"), "a")
    p = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        c = None
        for _ in range(300):
            try:
                c = Conn(f"127.0.0.1:{port}")
                c.call(b"PING")
                break
            except OSError:
                time.sleep(0.2)
        if c is None:
            raise RuntimeError("server did not start")
        fill(c, size, n2, kind)
        # the server waits in epoll: requests wake it to take the command
        ctl_argv = ["callgrind_control", "-i", "on", str(p.pid)]
        if os.getuid() == 0:  # as the server's user: vgdb's files are its
            ctl_argv = argv[:4] + ctl_argv
        ctl = subprocess.Popen(ctl_argv, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        for _ in range(1200):
            if ctl.poll() is not None:
                break
            c.call(b"PING")
            time.sleep(0.05)
        if ctl.wait(timeout=60) != 0:
            raise RuntimeError("callgrind_control failed")
        cs, want = requests(size, kind, n)
        send(c, cs, want)
        c.close()
    finally:
        p.terminate()
        p.wait(timeout=120)
        log.close()
    with open(f) as fh:
        for line in fh:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"{f}: no summary")


BIG = 1_000_000


def main():
    global BIG
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", action="append", required=True)
    ap.add_argument("--n1", type=int, default=10000)
    ap.add_argument("--n2", type=int, default=60000)
    ap.add_argument("--big", type=int, default=BIG)
    ap.add_argument("--out", default="/tmp/segcached-list-instructions")
    ap.add_argument("--kinds", default="lpush,rpop",
                    help="of lpush rpop zadd zscore zrank zrange zrevrange")
    args = ap.parse_args()
    BIG = args.big
    os.makedirs(args.out, exist_ok=True)
    os.chmod(args.out, 0o777)
    print("| binary | request | 10 elements | "
          f"{BIG:,} elements | large / small |\n|---|---|---|---|---|")
    for binary in args.bin:
        for kind in args.kinds.split(","):
            per = {}
            for size in ("small", "large"):
                a = count(binary, size, kind, args.n1, args.n2, args.out)
                b = count(binary, size, kind, args.n2, args.n2, args.out)
                per[size] = (b - a) / (args.n2 - args.n1)
            print(f"| {binary} | {kind.upper()} | {per['small']:.0f} "
                  f"| {per['large']:.0f} "
                  f"| {per['large'] / per['small']:.2f} |", flush=True)


if __name__ == "__main__":
    main()

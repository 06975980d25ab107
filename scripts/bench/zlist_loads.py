#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Issue 16's application loads, segcached beside redis-server 7.0.15: a
leaderboard (sorted set) and a work queue (list, blocking pops).

    flock /tmp/segcached-cpu.lock python3 scripts/bench/zlist_loads.py
    ... --reps 1 --scale 0.2      a quick run

leaderboard: two redis-benchmark clients at once against one server, one
  sending ZINCRBY board 1 player:__rand_int__ (-r --players, 40
  connections), the other ZREVRANGE board 0 9 WITHSCORES (10 connections),
  pipeline 1; the board is loaded with every player first. Reported: each
  command's requests/s and the server's CPU per request (both commands).
queue: --producers processes LPUSH numbered elements carrying their send
  time (CLOCK_MONOTONIC, shared by every process) onto one list at
  --rate elements/s each, one request at a time; --consumers processes
  BRPOP it in a loop. segcached runs 2 workers, so producers and consumers
  are spread over both (a push wakes a consumer on the other worker through
  the worker rings); Redis its one thread. Reported: push-to-pop latency
  (the pop reply's arrival minus the element's send time: the client's own
  time is in it, the same for both servers) p50, p99, max, and the server's
  CPU per element. Every element must be popped exactly once (checked).
Both servers pinned to the last CPU(s) as bench.py pins them, each
repetition starting with the other. Nothing here asserts a number."""

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
from servers import Server  # noqa: E402
from types_memory import Conn, cmd, send_all  # noqa: E402

MiB = 1 << 20


def rb(addr, cpu, n, conns, args):
    host, port = addr.rsplit(":", 1)
    argv = ["redis-benchmark", "-h", host, "-p", port, "-c", str(conns),
            "-n", str(n), "--csv"] + args
    if cpu is not None:
        argv = ["taskset", "-c", cpu] + argv
    return subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def rb_rate(p):
    out, err = p.communicate(timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"redis-benchmark: {err[-400:]}")
    rows = [ln for ln in out.splitlines()
            if ln.startswith('"') and not ln.startswith('"test"')]
    return float(rows[-1].split(",")[1].strip('"'))


def leaderboard(s, client_cpu, players, n):
    addr = s.addr["resp"]
    cs = []
    for i in range(0, players, 100):
        a = [b"ZADD", b"board"]
        for k in range(i, min(players, i + 100)):
            a += [b"%d" % (k % 997), b"player:%012d" % k]
        cs.append(cmd(*a))
    send_all(addr, cs, lambda i, r: isinstance(r, int))
    c0 = s.cpu_seconds()
    w = rb(addr, client_cpu, n, 40, ["-r", str(players), "ZINCRBY", "board",
                                     "1", "player:__rand_int__"])
    r = rb(addr, client_cpu, n // 4, 10,
           ["ZREVRANGE", "board", "0", "9", "WITHSCORES"])
    wr, rr = rb_rate(w), rb_rate(r)
    cpu = s.cpu_seconds() - c0
    c = Conn(addr)
    try:
        card = c.call(b"ZCARD", b"board")
        top = c.call(b"ZREVRANGE", b"board", b"0", b"0", b"WITHSCORES")
    finally:
        c.close()
    if card != players or not top:
        raise RuntimeError(f"{s.kind}: ZCARD {card}, top {top}")
    return {"zincrby_rps": wr, "zrevrange_rps": rr,
            "cpu_us": cpu * 1e6 / (n + n // 4)}


def producer(addr, idx, n, rate, start):
    c = Conn(addr)
    t0 = start
    for i in range(n):
        due = t0 + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        c.call(b"LPUSH", b"queue",
               b"%d:%d:%d" % (idx, i, time.monotonic_ns()))
    c.close()


def consumer(addr, out):
    c = Conn(addr)
    got = []
    while True:
        r = c.call(b"BRPOP", b"queue", b"2")
        t = time.monotonic_ns()
        if r is None:
            break
        idx, i, sent = r[1].split(b":")
        got.append((int(idx), int(i), t - int(sent)))
    c.close()
    out.put(got)


def queue(s, producers, consumers, n, rate):
    addr = s.addr["resp"]
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    cons = [ctx.Process(target=consumer, args=(addr, out))
            for _ in range(consumers)]
    for p in cons:
        p.start()
    time.sleep(0.5)  # the consumers are blocked before the first push
    c0 = s.cpu_seconds()
    start = time.monotonic() + 0.2
    prods = [ctx.Process(target=producer, args=(addr, k, n, rate, start))
             for k in range(producers)]
    for p in prods:
        p.start()
    got = []
    for _ in cons:
        got += out.get(timeout=600)
    for p in prods + cons:
        p.join(timeout=60)
    cpu = s.cpu_seconds() - c0
    seen = sorted((idx, i) for idx, i, _ in got)
    want = [(k, i) for k in range(producers) for i in range(n)]
    if seen != want:
        raise RuntimeError(f"{s.kind}: {len(seen)} popped, {len(want)} "
                           f"pushed, or some twice")
    lat = sorted(ns / 1000 for _, _, ns in got)
    return {"p50_us": lat[len(lat) // 2],
            "p99_us": lat[int(len(lat) * 0.99)], "max_us": lat[-1],
            "elements": len(lat), "cpu_us": cpu * 1e6 / len(lat)}


def run(binary, reps, players, nboard, producers, consumers, nqueue, rate,
        logdir, record=None, loads=("leaderboard", "queue")):
    cpus = sorted(os.sched_getaffinity(0))
    client = str(cpus[0]) if len(cpus) > 1 else None
    one = str(cpus[-1]) if len(cpus) > 1 else None
    rows = []
    kinds = [("segcached", 1), ("redis", 1)]
    for rep in range(reps):
        for kind, _ in (kinds if rep % 2 == 0 else kinds[::-1]):
            for load in loads:
                # the queue across segcached's two workers: both CPUs
                threads = 2 if (load == "queue" and kind == "segcached") \
                    else 1
                pin = None if load == "queue" else one
                s = Server(kind, 1024 * MiB, threads, pin, logdir,
                           binary).start()
                try:
                    if load == "leaderboard":
                        r = leaderboard(s, client, players, nboard)
                    else:
                        r = queue(s, producers, consumers, nqueue, rate)
                finally:
                    s.stop()
                r.update({"load": load, "server": kind, "rep": rep})
                rows.append(r)
                if record:
                    record(load, kind, rep, r)
                print(f"  {load:<12} {kind:<9} rep {rep}: "
                      + ", ".join(f"{k} {v:,.1f}" for k, v in r.items()
                                  if isinstance(v, float)),
                      file=sys.stderr, flush=True)
    return rows


def table(rows):
    out = []
    for load, cols in (("leaderboard", ("zincrby_rps", "zrevrange_rps",
                                        "cpu_us")),
                       ("queue", ("p50_us", "p99_us", "max_us", "cpu_us"))):
        out += [f"\n{load}: medians [min-max]\n",
                "| server | " + " | ".join(cols) + " |",
                "|---|" + "---|" * len(cols)]
        for kind in ("segcached", "redis"):
            rs = [r for r in rows if r["load"] == load and r["server"] == kind]
            if not rs:
                continue
            cells = []
            for c in cols:
                xs = [r[c] for r in rs]
                m = statistics.median(xs)
                cells.append(f"{m:,.1f} [{min(xs):,.1f}-{max(xs):,.1f}]"
                             if len(xs) > 1 else f"{m:,.1f}")
            out.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/release/segcached")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--consumers", type=int, default=4)
    ap.add_argument("--rate", type=int, default=2000,
                    help="elements/s each producer pushes")
    ap.add_argument("--out", default="build/bench-zlist")
    ap.add_argument("--loads", default="leaderboard,queue")
    args = ap.parse_args()
    logdir = os.path.join(args.out, "logs")
    os.makedirs(logdir, exist_ok=True)
    t0 = time.monotonic()
    try:
        rows = run(args.bin, args.reps, args.players,
                   int(200000 * args.scale), args.producers, args.consumers,
                   int(20000 * args.scale), args.rate, logdir,
                   loads=args.loads.split(","))
    finally:
        servers.stop_all()
    print(table(rows))
    print(f"\n{time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()

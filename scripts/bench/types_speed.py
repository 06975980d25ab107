#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Redis hashes, sets, lists and sorted sets: requests/s and server CPU per
request, segcached against redis-server 7.0.15 with the same client, in
alternation (issues 15, 16).

    flock /tmp/segcached-cpu.lock python3 scripts/bench/types_speed.py
    ... --parts small          only redis-benchmark's tests and the reads
    ... --parts large          only large against small collections
    ... --parts spop           SPOP a 500,000-member set to empty, in 5 runs
    ... --parts lists          redis-benchmark's list and zadd tests

Both servers run one command thread (segcached -t 1, Redis's own) pinned
with taskset to the last CPU, the client (redis-benchmark, 50 connections)
to the first, as bench.py's loads do. Server CPU is every thread's run time
(/proc/PID/task/*/schedstat) over the run, divided by the requests.

small: redis-benchmark's own tests -t hset, sadd, spop (-r 100000 -d 32, as
  load 1: HSET myhash element:R (one hash of up to 100k fields), SADD
  myset element:R (one set of up to 100k members), SPOP myset; before
  each hset and sadd run the key is deleted, before each spop the set is
  loaded with as many members as the run pops, so every SPOP pops one),
  and custom commands on keys prepared beforehand: HGET and HGETALL of a
  10-field hash (8-byte fields, 16-byte values), SISMEMBER and SMEMBERS of
  a set of 10 small integers and of a set of 10 16-byte strings; at -P 1
  and -P 16.
large: -P 16, the same command on a collection of 1,000,000 elements and
  on ones of about 10: HSET of an existing field, HSET of a new field,
  SADD of a new member, SADD of an existing member, HGET. Counts are
  checked after every run: a large collection must keep its size.
spop (not in the default --parts): a set of --spop members emptied by
  SPOP -P 16 in 5 runs, the cost per pop of each fifth.
lists (not in the default --parts): redis-benchmark's own tests -t lpush,
  rpush, lpop, rpop, zadd (its defaults: key mylist / myzset, 3-byte
  values, ZADD of one member "element:000000000000" again and again), and
  zadd -r 1000 (a sorted set of up to 1,000 members); before each lpush
  and rpush run mylist is deleted, before each lpop and rpop it is loaded
  with as many 3-byte elements as the run pops (plus one pipeline round), so
  every pop pops one. LRANGE_100 and LRANGE_600 are sent as the commands
  redis-benchmark sends (LRANGE mylist 0 99 / 0 599) on mylist loaded as
  its own LPUSH phase would leave it (as many elements as the run's
  requests), so the CPU counted is the LRANGEs' alone. At -P 1 and -P 16.
Medians and ranges of --reps repetitions; each repetition starts with the
other server. Nothing here asserts a number."""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
from servers import Server  # noqa: E402
from types_memory import Conn, cmd, send_all, seg_stats  # noqa: E402

MiB = 1 << 20
CONNS = 50
V16 = b"vvvvvvvvvvvvvvvv"
BIG = 1_000_000
SMALL_KEYS = 100_000


def rb(addr, cpu, n, pipeline, args):
    """redis-benchmark, pinned; returns requests/s."""
    host, port = addr.rsplit(":", 1)
    argv = ["redis-benchmark", "-h", host, "-p", port, "-c", str(CONNS),
            "-n", str(n), "-P", str(pipeline), "--csv"] + args
    if cpu is not None:
        argv = ["taskset", "-c", cpu] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)}: {r.stderr[-400:]}")
    rows = [ln for ln in r.stdout.splitlines()
            if ln.startswith('"') and not ln.startswith('"test"')]
    if not rows:
        raise RuntimeError(f"{shlex.join(argv)}: no result: {r.stdout!r}")
    return float(rows[-1].split(",")[1].strip('"'))


def prep_small(addr):
    c = Conn(addr)
    a = [b"HSET", b"h10"]
    for j in range(10):
        a += [b"field_%02d" % j, b"%016d" % j]
    c.pipeline([cmd(*a),
                cmd(b"SADD", b"s10i", *[b"%d" % (j * 1000)
                                        for j in range(10)]),
                cmd(b"SADD", b"s10s", *[b"m%015d" % j for j in range(10)])])
    c.close()


def load_members(addr, key, prefix, n, hash_values=False):
    """key gets members (or fields with 16-byte values) prefix%012d, 0..n."""
    cs = []
    for i in range(0, n, 100):
        if hash_values:
            a = [b"HSET", key]
            for k in range(i, min(n, i + 100)):
                a += [prefix + b"%012d" % k, V16]
        else:
            a = [b"SADD", key] + [prefix + b"%012d" % k
                                  for k in range(i, min(n, i + 100))]
        cs.append(cmd(*a))
    send_all_any(addr, cs)


def send_all_any(addr, cs):
    c = Conn(addr)
    try:
        for i in range(0, len(cs), 1000):
            for r in c.pipeline(cs[i:i + 1000]):
                if isinstance(r, Exception):
                    raise r
    finally:
        c.close()


def prep_large(addr):
    load_members(addr, b"bigh", b"f:", BIG, hash_values=True)
    load_members(addr, b"smallh", b"f:", 10, hash_values=True)
    load_members(addr, b"bigs", b"m:", BIG)
    load_members(addr, b"smalls", b"m:", 10)
    cs = []
    for i in range(SMALL_KEYS):
        a = [b"HSET", b"sh:%012d" % i]
        for j in range(10):
            a += [b"f:%012d" % j, V16]
        cs.append(cmd(*a))
        cs.append(cmd(b"SADD", b"ss:%012d" % i,
                      *[b"m:%012d" % j for j in range(10)]))
    send_all(addr, cs, 10)


def list_cases(n1, n16):
    out = []
    for pl in (1, 16):
        n = n1 if pl == 1 else n16
        out += [
            (f"lpush P{pl}", pl, n, ["-t", "lpush"], "del mylist"),
            (f"rpush P{pl}", pl, n, ["-t", "rpush"], "del mylist"),
            (f"lpop P{pl}", pl, n, ["-t", "lpop"], "fill mylist"),
            (f"rpop P{pl}", pl, n, ["-t", "rpop"], "fill mylist"),
            (f"zadd P{pl}", pl, n, ["-t", "zadd"], "del myzset"),
            (f"zadd -r 1000 P{pl}", pl, n, ["-t", "zadd", "-r", "1000"],
             "del myzset"),
            (f"lrange_100 P{pl}", pl, n, ["LRANGE", "mylist", "0", "99"],
             "fill mylist"),
            (f"lrange_600 P{pl}", pl, n, ["LRANGE", "mylist", "0", "599"],
             "fill mylist"),
        ]
    return out


def fill_list(addr, key, n):
    """key becomes a list of n 3-byte elements, as redis-benchmark's LPUSH
    leaves it."""
    c = Conn(addr)
    try:
        c.call(b"DEL", key)
    finally:
        c.close()
    cs = [cmd(b"RPUSH", key, *[b"xxx"] * min(1000, n - i))
          for i in range(0, n, 1000)]
    send_all_any(addr, cs)


def list_check(addr, label, n):
    """What a list run must have left: every push stored, every pop
    popped one, ZADD's members there (a refusal would show here)."""
    c = Conn(addr)
    try:
        llen = c.call(b"LLEN", b"mylist")
        zcard = c.call(b"ZCARD", b"myzset")
    finally:
        c.close()
    kind = label.split()[0]
    bad = ((kind in ("lpush", "rpush") and llen < n) or
           (kind in ("lpop", "rpop") and llen > 16 * CONNS) or
           (kind.startswith("lrange") and llen < n) or
           (label.startswith("zadd -r") and not 900 <= zcard <= 1000) or
           (label.startswith("zadd P") and zcard != 1))
    if bad:
        raise RuntimeError(f"{label}: LLEN mylist {llen}, ZCARD myzset "
                           f"{zcard} after {n} requests")


def small_cases(n1, n16):
    rbt = ["-r", "100000", "-d", "32"]
    out = []
    for pl in (1, 16):
        n = n1 if pl == 1 else n16
        out += [
            (f"hset P{pl}", pl, n, ["-t", "hset"] + rbt, "del myhash"),
            (f"sadd P{pl}", pl, n, ["-t", "sadd"] + rbt, "del myset"),
            (f"spop P{pl}", pl, n, ["-t", "spop"] + rbt, "fill myset"),
            (f"HGET P{pl}", pl, n, ["HGET", "h10", "field_03"], None),
            (f"HGETALL P{pl}", pl, n, ["HGETALL", "h10"], None),
            (f"SISMEMBER int P{pl}", pl, n, ["SISMEMBER", "s10i", "5000"],
             None),
            (f"SMEMBERS int P{pl}", pl, n, ["SMEMBERS", "s10i"], None),
            (f"SISMEMBER str P{pl}", pl, n,
             ["SISMEMBER", "s10s", "m000000000000005"], None),
            (f"SMEMBERS str P{pl}", pl, n, ["SMEMBERS", "s10s"], None),
        ]
    return out


def large_cases(n):
    v = V16.decode()
    pairs = [
        ("HSET existing field",
         ["HSET", "bigh", "f:__rand_int__", v, "-r", str(BIG)],
         ["HSET", "smallh", "f:__rand_int__", v, "-r", "10"]),
        ("HSET new field",
         ["HSET", "bigh", "g:__rand_int__", v, "-r", "1000000000"],
         ["HSET", "sh:__rand_int__", "g:__rand_int__", v, "-r",
          str(SMALL_KEYS)]),
        ("SADD new member",
         ["SADD", "bigs", "n:__rand_int__", "-r", "1000000000"],
         ["SADD", "ss:__rand_int__", "n:__rand_int__", "-r",
          str(SMALL_KEYS)]),
        ("SADD existing member",
         ["SADD", "bigs", "m:__rand_int__", "-r", str(BIG)],
         ["SADD", "smalls", "m:__rand_int__", "-r", "10"]),
        ("HGET",
         ["HGET", "bigh", "f:__rand_int__", "-r", str(BIG)],
         ["HGET", "smallh", "f:__rand_int__", "-r", "10"]),
    ]
    out = []
    for label, big, small in pairs:
        # redis-benchmark takes options before the command
        name = "1M" if BIG == 1_000_000 else f"{BIG:,}"
        for size, a in ((name, big), ("10", small)):
            opts, words = a[-2:], a[:-2]
            out.append((f"{label}, {size}", 16, n, opts + words, "check"))
    return out


def before(addr, what, n):
    if what is None:
        return
    c = Conn(addr)
    try:
        if what.startswith("del "):
            c.call(b"DEL", what[4:].encode())
        elif what == "fill mylist":
            # one pipeline round more than the run: every pop pops one
            fill_list(addr, b"mylist", n + 16 * CONNS)
        elif what == "fill myset":
            c.call(b"DEL", b"myset")
            c.close()
            load_members(addr, b"myset", b"element:", n)
            c = Conn(addr)
            if c.call(b"SCARD", b"myset") != n:
                raise RuntimeError("myset not filled")
    finally:
        c.close()


def counts(addr):
    c = Conn(addr)
    try:
        return {"bigh": c.call(b"HLEN", b"bigh"),
                "bigs": c.call(b"SCARD", b"bigs"),
                "smallh": c.call(b"HLEN", b"smallh"),
                "smalls": c.call(b"SCARD", b"smalls"),
                "dbsize": c.call(b"DBSIZE")}
    finally:
        c.close()


def run(binary, part, reps, n1, n16, nlarge, budget, logdir, record=None,
        big=None, only=()):
    global BIG
    if big:
        BIG = big
    cpus = sorted(os.sched_getaffinity(0))
    client = str(cpus[0]) if len(cpus) > 1 else None
    server_cpu = str(cpus[-1]) if len(cpus) > 1 else None
    srvs = [("segcached", Server("segcached", budget, 1, server_cpu, logdir,
                                 binary).start()),
            ("redis", Server("redis", budget, 1, server_cpu, logdir,
                             binary).start())]
    rows = []
    last = {}  # server -> counts after its previous run
    try:
        for name, s in srvs:
            t0 = time.monotonic()
            if part == "small":
                prep_small(s.addr["resp"])
            elif part == "large":
                prep_large(s.addr["resp"])
            print(f"  {name}: prepared in {time.monotonic() - t0:.1f} s",
                  file=sys.stderr, flush=True)
        cases = (small_cases(n1, n16) if part == "small"
                 else list_cases(n1, n16) if part == "lists"
                 else large_cases(nlarge))
        if only:
            cases = [c for c in cases if any(o in c[0] for o in only)]
        for rep in range(reps):
            for label, pl, n, args, prep in cases:
                order = srvs if (rep % 2 == 0) else srvs[::-1]
                for name, s in order:
                    addr = s.addr["resp"]
                    before(addr, prep, n)
                    c0 = s.cpu_seconds()
                    rps = rb(addr, client, n, pl, args)
                    cpu = s.cpu_seconds() - c0
                    r = {"case": label, "server": name, "rep": rep,
                         "rps": rps, "cpu_us": cpu * 1e6 / n,
                         "requests": n}
                    if prep == "check":
                        r["counts"] = counts(addr)
                        if name == "segcached":
                            st = seg_stats(s)
                            r["seg"] = st
                            if st.get("seg_evict_item") or \
                                    st.get("seg_part_evict_root"):
                                raise RuntimeError(f"segcached evicted: {st}")
                        big = r["counts"]
                        if big["bigh"] < BIG or big["bigs"] < BIG:
                            raise RuntimeError(f"{name} lost elements of "
                                               f"a large collection: {big}")
                        # the new-element runs must have grown the large
                        # collection by about the requests sent
                        grew = ("bigh" if label.startswith("HSET new field")
                                else "bigs" if label.startswith("SADD new")
                                else None)
                        grew = None if label.endswith(", 10") else grew
                        was = last.get(name)
                        if grew and was and big[grew] - was[grew] < 0.9 * n:
                            raise RuntimeError(f"{name}: {grew} grew from "
                                               f"{was[grew]} to {big[grew]}")
                        last[name] = big
                    if part == "lists":
                        list_check(addr, label, n)
                    rows.append(r)
                    if record:
                        record(label, name, rep, r)
                    print(f"  {label:<28} {name:<9} rep {rep}: "
                          f"{rps:>11,.0f} req/s  {r['cpu_us']:.3f} us/req",
                          file=sys.stderr, flush=True)
        for name, s in srvs:
            if part == "large":
                print(f"  {name} at the end: {counts(s.addr['resp'])}",
                      file=sys.stderr)
                if name == "segcached":
                    print(f"  segcached: {seg_stats(s)}", file=sys.stderr)
    finally:
        for _, s in srvs:
            s.stop()
    return rows


def spop_drain(binary, n, chunks, budget, logdir):
    """SPOP a set of n members to empty, chunks runs of n / chunks pops
    (-P 16), each server in turn: the cost per pop as the set empties."""
    cpus = sorted(os.sched_getaffinity(0))
    client = str(cpus[0]) if len(cpus) > 1 else None
    server_cpu = str(cpus[-1]) if len(cpus) > 1 else None
    rows = []
    # redis-benchmark sends whole pipelines: -n a multiple of 16 x 50
    # connections pops exactly -n members
    each = max(n // chunks // (16 * CONNS), 1) * 16 * CONNS
    n = each * chunks
    for name in ("segcached", "redis"):
        s = Server(name, budget, 1, server_cpu, logdir, binary).start()
        try:
            addr = s.addr["resp"]
            load_members(addr, b"myset", b"element:", each * chunks)
            for k in range(chunks):
                c0 = s.cpu_seconds()
                rps = rb(addr, client, each, 16, ["SPOP", "myset"])
                cpu = s.cpu_seconds() - c0
                c = Conn(addr)
                left = c.call(b"SCARD", b"myset")
                c.close()
                if left != each * (chunks - k - 1):
                    raise RuntimeError(f"{name}: {left} members left")
                label = f"SPOP {k * each:,}-{(k + 1) * each:,} of {n:,}"
                rows.append({"case": label, "server": name, "rep": 0,
                             "rps": rps, "cpu_us": cpu * 1e6 / each,
                             "requests": each})
                print(f"  {label:<28} {name:<9}: {rps:>11,.0f} req/s  "
                      f"{cpu * 1e6 / each:.3f} us/req  ({left:,} left)",
                      file=sys.stderr, flush=True)
        finally:
            s.stop()
    return rows


def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def cell(xs):
    m = statistics.median(xs)
    if len(xs) == 1:
        return fmt(m)
    return f"{fmt(m)} [{fmt(min(xs))}-{fmt(max(xs))}]"


def table(rows):
    cases = []
    for r in rows:
        if r["case"] not in cases:
            cases.append(r["case"])
    out = ["| case | segcached req/s | Redis req/s | segcached CPU us/req "
           "| Redis CPU us/req | CPU segcached/Redis |",
           "|---|---|---|---|---|---|"]
    for c in cases:
        f = {(s, m): [r[m] for r in rows if r["case"] == c and
                      r["server"] == s]
             for s in ("segcached", "redis") for m in ("rps", "cpu_us")}
        if not f[("segcached", "rps")] or not f[("redis", "rps")]:
            continue
        ratio = (statistics.median(f[("segcached", "cpu_us")]) /
                 statistics.median(f[("redis", "cpu_us")]))
        out.append(f"| {c} | {cell(f[('segcached', 'rps')])} "
                   f"| {cell(f[('redis', 'rps')])} "
                   f"| {cell(f[('segcached', 'cpu_us')])} "
                   f"| {cell(f[('redis', 'cpu_us')])} | {ratio:.2f} |")
    return "\n".join(out)


def main():
    global BIG
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/release/segcached")
    ap.add_argument("--parts", default="small,large")
    ap.add_argument("--cases", default="",
                    help="only the cases whose label holds one of these "
                         "comma-separated strings (e.g. zadd)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n1", type=int, default=100000,
                    help="requests per -P 1 run")
    ap.add_argument("--n16", type=int, default=500000,
                    help="requests per -P 16 run")
    ap.add_argument("--nlarge", type=int, default=200000,
                    help="requests per large/small run (-P 16)")
    ap.add_argument("--memory", default=4096, type=int,
                    help="MiB: segcached seg.memory and Redis maxmemory")
    ap.add_argument("--spop", type=int, default=500000,
                    help="members of the set --parts spop empties")
    ap.add_argument("--big", type=int, default=BIG,
                    help="elements of the large hash and set")
    ap.add_argument("--out", default="build/bench-types")
    args = ap.parse_args()
    BIG = args.big
    logdir = os.path.join(args.out, "logs")
    os.makedirs(logdir, exist_ok=True)
    t0 = time.monotonic()
    allrows = []
    try:
        for part in args.parts.split(","):
            if part == "spop":
                rows = spop_drain(args.bin, args.spop, 5, args.memory * MiB,
                                  logdir)
                print("\nspop: a set emptied by SPOP, 5 runs of -P 16\n")
                print(table(rows), flush=True)
                continue
            rows = run(args.bin, part, args.reps, args.n1, args.n16,
                       args.nlarge, args.memory * MiB, logdir,
                       only=[c for c in args.cases.split(",") if c])
            allrows += rows
            with open(os.path.join(args.out, f"speed_{part}.json"), "w") as f:
                json.dump(rows, f, indent=1)
            print(f"\n{part}: {args.reps} repetitions, medians [min-max]\n")
            print(table(rows), flush=True)
    finally:
        servers.stop_all()
    print(f"\n{time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()

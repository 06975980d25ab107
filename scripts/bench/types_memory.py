#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Redis hashes, sets, lists and sorted sets: bytes per element in segcached
and in redis-server 7.0.15 for the same data, in one run (issues 15, 16).

    flock /tmp/segcached-cpu.lock python3 scripts/bench/types_memory.py
    ... --scale 0.1            100k hashes / sets, 100k-element big ones

Data sets (each loaded into a fresh segcached and a fresh redis-server,
both on their default encoding thresholds, one after the other):
  hashes10  N hashes "h:%07d" of 10 fields "field_00".."field_09" (8 bytes)
            with 16-byte values: one HSET of 10 pairs per key
  hash1m    one hash "bighash" of N fields "f%07d" (8 bytes), 16-byte
            values: HSET of 100 pairs per command
  sets10    N sets "s:%07d" of 10 small integers (j * 1000 + i % 1000)
  set1m     one set "bigset" of N 16-byte members "m%015d", 100 per SADD
  lists10   N lists "l:%07d" of 10 16-byte elements: one RPUSH per key
  list1m    one list "biglist" of N 16-byte elements, 100 per RPUSH
  zsets10   N sorted sets "z:%07d" of 10 8-byte members "member%02d" with
            integer scores (j * 100 + i % 1000): one ZADD per key
  zset1m    one sorted set "bigzset" of N 16-byte members "m%015d" with
            integer scores k * 7919 mod N (spread, not in insertion
            order): ZADD of 100 pairs per command
with N = 1,000,000 x --scale. Commands go over one connection in
pipelined batches of 1000, every reply checked; then the counts are
checked (HLEN/SCARD of every key, DBSIZE, and spot reads of values).

Figures, per element (a field-value pair or a member):
  Redis       delta of INFO used_memory (and of used_memory_rss) / elements
  segcached   "live": (delta seg_item_bytes + 8 x delta seg_item_curr) /
              elements, the items the data is made of plus their 8-byte
              hash slots (seg.memory is preallocated, so the process size
              says nothing); "segments": the segments taken from the free
              list (delta seg_seg_free x segment size) / elements, which
              also holds the dead copies that changes left behind until
              their segments are freed or compacted; and the RSS delta.
Nothing here asserts a number."""

import argparse
import json
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
from servers import Server  # noqa: E402

MiB = 1 << 20
BATCH = 1000
SEG_COUNTERS = ("seg_item_bytes", "seg_item_curr", "seg_seg_free",
                "seg_seg_open", "seg_seg_sealed", "seg_seg_limbo",
                "seg_hash_seg", "seg_write", "seg_evict_item",
                "seg_evict_seg", "seg_hash_evict", "seg_compact_seg",
                "seg_compact_bytes", "seg_expire_seg", "seg_merge",
                "seg_part_evict_root", "seg_part_dead", "seg_write_ex")


def cmd(*args):
    """One RESP command from byte strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One connection sending pipelined batches and parsing the replies."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=120)
        self.buf = b""
        self.pos = 0

    def close(self):
        self.s.close()

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise ConnectionError("server closed the connection")
        self.buf = self.buf[self.pos:] + d
        self.pos = 0

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._fill()

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b":"):
            return int(rest) if t == b":" else rest
        if t == b"-":
            return RuntimeError(rest.decode(errors="replace"))
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            v = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return v
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"bad reply line {line[:80]!r}")

    def pipeline(self, commands):
        """Send a list of encoded commands at once, return their replies."""
        self.s.sendall(b"".join(commands))
        return [self.reply() for _ in commands]

    def call(self, *args):
        r = self.pipeline([cmd(*args)])[0]
        if isinstance(r, Exception):
            raise r
        return r


def send_all(addr, commands, expect):
    """Every command, BATCH at a time; each reply must equal expect (or,
    when it is callable, expect(index, reply) must be true)."""
    c = Conn(addr)
    try:
        for i in range(0, len(commands), BATCH):
            replies = c.pipeline(commands[i:i + BATCH])
            for j, r in enumerate(replies):
                ok = expect(i + j, r) if callable(expect) else r == expect
                if not ok:
                    raise RuntimeError(f"command {i + j}: {r!r}, expected "
                                       f"{expect!r}")
    finally:
        c.close()


def value(i):
    return b"%016d" % i


def zscore(i, j):
    return j * 100 + i % 1000


SMALL10 = ("hashes10", "sets10", "lists10", "zsets10")


class DataSet:
    def __init__(self, name, n):
        self.name, self.n = name, n

    def commands(self):
        n, cs = self.n, []
        if self.name == "hashes10":
            fields = [b"field_%02d" % j for j in range(10)]
            for i in range(n):
                a = [b"HSET", b"h:%07d" % i]
                for j in range(10):
                    a += [fields[j], value(i * 10 + j)]
                cs.append(cmd(*a))
            return cs, 10
        if self.name == "hash1m":
            for i in range(0, n, 100):
                a = [b"HSET", b"bighash"]
                for k in range(i, min(n, i + 100)):
                    a += [b"f%07d" % k, value(k)]
                cs.append(cmd(*a))
            return cs, 100
        if self.name == "sets10":
            for i in range(n):
                cs.append(cmd(b"SADD", b"s:%07d" % i,
                              *[b"%d" % (j * 1000 + i % 1000)
                                for j in range(10)]))
            return cs, 10
        if self.name == "set1m":
            for i in range(0, n, 100):
                cs.append(cmd(b"SADD", b"bigset",
                              *[b"m%015d" % k
                                for k in range(i, min(n, i + 100))]))
            return cs, 100
        if self.name == "lists10":
            for i in range(n):
                cs.append(cmd(b"RPUSH", b"l:%07d" % i,
                              *[value(i * 10 + j) for j in range(10)]))
            return cs, 10
        if self.name == "list1m":
            for i in range(0, n, 100):
                cs.append(cmd(b"RPUSH", b"biglist",
                              *[value(k) for k in range(i, min(n, i + 100))]))
            return cs, lambda k, r: r == min(n, (k + 1) * 100)
        if self.name == "zsets10":
            for i in range(n):
                a = [b"ZADD", b"z:%07d" % i]
                for j in range(10):
                    a += [b"%d" % zscore(i, j), b"member%02d" % j]
                cs.append(cmd(*a))
            return cs, 10
        if self.name == "zset1m":
            for i in range(0, n, 100):
                a = [b"ZADD", b"bigzset"]
                for k in range(i, min(n, i + 100)):
                    a += [b"%d" % (k * 7919 % n), b"m%015d" % k]
                cs.append(cmd(*a))
            return cs, 100
        raise ValueError(self.name)

    def elements(self):
        return self.n * 10 if self.name in SMALL10 else self.n

    def keys(self):
        return self.n if self.name in SMALL10 else 1

    def check(self, addr):
        """Counts of every key, then spot reads; returns the encoding of a
        sample key. Raises on any difference."""
        c = Conn(addr)
        rng = random.Random(7)
        try:
            dbsize = c.call(b"DBSIZE")
            if dbsize != self.keys():
                raise RuntimeError(f"{self.name}: DBSIZE {dbsize}, expected "
                                   f"{self.keys()}")
            if self.name in SMALL10:
                verb, pre = {"hashes10": (b"HLEN", b"h:%07d"),
                             "sets10": (b"SCARD", b"s:%07d"),
                             "lists10": (b"LLEN", b"l:%07d"),
                             "zsets10": (b"ZCARD", b"z:%07d")}[self.name]
                for i in range(0, self.n, BATCH):
                    end = min(self.n, i + BATCH)
                    rs = c.pipeline([cmd(verb, pre % k)
                                     for k in range(i, end)])
                    bad = [(i + j, r) for j, r in enumerate(rs) if r != 10]
                    if bad:
                        raise RuntimeError(f"{self.name}: {verb.decode()} "
                                           f"{bad[:5]}")
                key = pre % (self.n // 2)
            else:
                verb, key = {"hash1m": (b"HLEN", b"bighash"),
                             "set1m": (b"SCARD", b"bigset"),
                             "list1m": (b"LLEN", b"biglist"),
                             "zset1m": (b"ZCARD", b"bigzset")}[self.name]
                got = c.call(verb, key)
                if got != self.n:
                    raise RuntimeError(f"{self.name}: {verb.decode()} {got}, "
                                       f"expected {self.n}")
            spots = []
            for _ in range(1000):
                i = rng.randrange(self.n)
                if self.name == "hashes10":
                    j = rng.randrange(10)
                    spots.append((cmd(b"HGET", b"h:%07d" % i,
                                      b"field_%02d" % j), value(i * 10 + j)))
                elif self.name == "hash1m":
                    spots.append((cmd(b"HGET", b"bighash", b"f%07d" % i),
                                  value(i)))
                elif self.name == "sets10":
                    j = rng.randrange(10)
                    spots.append((cmd(b"SISMEMBER", b"s:%07d" % i,
                                      b"%d" % (j * 1000 + i % 1000)), 1))
                    spots.append((cmd(b"SISMEMBER", b"s:%07d" % i,
                                      b"%d" % (10000 + j)), 0))
                elif self.name == "lists10":
                    j = rng.randrange(10)
                    spots.append((cmd(b"LINDEX", b"l:%07d" % i, b"%d" % j),
                                  value(i * 10 + j)))
                elif self.name == "list1m":
                    spots.append((cmd(b"LINDEX", b"biglist", b"%d" % i),
                                  value(i)))
                elif self.name == "zset1m":
                    spots.append((cmd(b"ZSCORE", b"bigzset", b"m%015d" % i),
                                  b"%d" % (i * 7919 % self.n)))
                elif self.name == "zsets10":
                    j = rng.randrange(10)
                    spots.append((cmd(b"ZSCORE", b"z:%07d" % i,
                                      b"member%02d" % j),
                                  b"%d" % zscore(i, j)))
                else:
                    spots.append((cmd(b"SISMEMBER", b"bigset",
                                      b"m%015d" % i), 1))
            rs = c.pipeline([s[0] for s in spots])
            bad = [(s[0], r) for s, r in zip(spots, rs) if r != s[1]]
            if bad:
                raise RuntimeError(f"{self.name}: spot reads {bad[:3]}")
            return c.call(b"OBJECT", b"ENCODING", key).decode()
        finally:
            c.close()


def seg_stats(srv):
    st = servers.memcache_stats(srv.addr["admin"])
    return {k: int(st[k]) for k in SEG_COUNTERS if k in st}


def measure_one(kind, ds, commands, expect, budget, cpus, logdir, binary,
                settle):
    srv = Server(kind, budget, 1, cpus, logdir, binary).start()
    try:
        addr = srv.addr["resp"]
        if kind == "redis":
            b = servers.redis_info(addr)
        else:
            b = seg_stats(srv)
        rss0 = srv.rss()
        t0 = time.monotonic()
        send_all(addr, commands, expect)
        load_s = time.monotonic() - t0
        time.sleep(settle)  # the background thread's passes, if any
        enc = ds.check(addr)
        rss1 = srv.rss()
        el = ds.elements()
        r = {"elements": el, "keys": ds.keys(), "load_s": load_s,
             "encoding": enc, "rss_delta": rss1 - rss0,
             "rss_per_elem": (rss1 - rss0) / el}
        if kind == "redis":
            a = servers.redis_info(addr)
            used = int(a["used_memory"]) - int(b["used_memory"])
            rss = int(a["used_memory_rss"]) - int(b["used_memory_rss"])
            r.update({"used_memory_delta": used,
                      "used_memory_rss_delta": rss,
                      "bytes_per_elem": used / el,
                      "used_memory_rss_per_elem": rss / el})
        else:
            a = seg_stats(srv)
            d = {k: a[k] - b.get(k, 0) for k in a}
            live = d["seg_item_bytes"] + 8 * d["seg_item_curr"]
            segs = b["seg_seg_free"] - a["seg_seg_free"]
            r.update({"item_bytes": d["seg_item_bytes"],
                      "items": d["seg_item_curr"],
                      "live_bytes": live, "bytes_per_elem": live / el,
                      "segments_used": segs,
                      "segments_per_elem": segs * MiB / el,
                      "counters": d})
        return r
    finally:
        srv.stop()


NAMES = ("hashes10", "hash1m", "sets10", "set1m", "lists10", "list1m",
         "zsets10", "zset1m")
TITLES = {"hashes10": "hashes of 10 fields (8 B field, 16 B value)",
          "hash1m": "one hash of N fields (8 B field, 16 B value)",
          "sets10": "sets of 10 small integers",
          "set1m": "one set of N 16-byte members",
          "lists10": "lists of 10 16-byte elements",
          "list1m": "one list of N 16-byte elements",
          "zsets10": "sorted sets of 10 8-byte members, integer scores",
          "zset1m": "one sorted set of N 16-byte members, integer scores"}


def run(binary, scale=1.0, budget=2048 * MiB, cpus=None, logdir="/tmp",
        sets=NAMES, settle=2.0, record=None, rep=0):
    """Loads each data set into both servers (alternating which goes
    first); record(case, server, figures) for each; returns the rows."""
    n = int(1_000_000 * scale)
    rows = []
    for k, name in enumerate(sets):
        ds = DataSet(name, n)
        t0 = time.monotonic()
        commands, expect = ds.commands()
        print(f"  {name}: {len(commands):,} commands built in "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
        order = ["segcached", "redis"]
        if (k + rep) % 2:
            order.reverse()
        for kind in order:
            r = measure_one(kind, ds, commands, expect, budget, cpus, logdir,
                            binary, settle)
            r.update({"set": name, "server": kind, "n": n})
            rows.append(r)
            if record:
                record(name, kind, r)
            print(f"  {name} {kind}: {r['bytes_per_elem']:.1f} B/element "
                  f"({r['encoding']}, loaded in {r['load_s']:.1f} s)",
                  file=sys.stderr, flush=True)
        del commands
    return rows


def table(rows):
    by = {(r["set"], r["server"]): r for r in rows}
    out = ["| data | elements | Redis used_memory B/elem | Redis RSS B/elem "
           "| segcached live items B/elem | segcached segments B/elem "
           "| segcached RSS B/elem | segcached/Redis (live) "
           "| segcached items | Redis encoding |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name in NAMES:
        s, r = by.get((name, "segcached")), by.get((name, "redis"))
        if not s or not r:
            continue
        out.append(
            f"| {s['n']:,} {TITLES[name]} | {s['elements']:,} "
            f"| {r['bytes_per_elem']:.1f} "
            f"| {r['used_memory_rss_per_elem']:.1f} "
            f"| {s['bytes_per_elem']:.1f} | {s['segments_per_elem']:.1f} "
            f"| {s['rss_per_elem']:.1f} "
            f"| {s['bytes_per_elem'] / r['bytes_per_elem']:.2f} "
            f"| {s['items']:,} | {r['encoding']} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/release/segcached")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="N = 1,000,000 x scale (0.1: a quick run)")
    ap.add_argument("--memory", default=2048, type=int,
                    help="MiB: segcached seg.memory and Redis maxmemory")
    ap.add_argument("--sets", default=",".join(NAMES))
    ap.add_argument("--out", default="build/bench-types")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    logdir = os.path.join(args.out, "logs")
    os.makedirs(logdir, exist_ok=True)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = str(cpus[-1]) if len(cpus) > 1 else None
    t0 = time.monotonic()
    try:
        rows = run(args.bin, args.scale, args.memory * MiB, server_cpu,
                   logdir, args.sets.split(","))
    finally:
        servers.stop_all()
    with open(os.path.join(args.out, "memory.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(table(rows))
    print(f"\n{time.monotonic() - t0:.0f} s; segcached {args.memory} MiB "
          f"(seg.memory), 1 MiB segments; raw figures in "
          f"{args.out}/memory.json")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""segcached against memcached and redis-server, in one run: the loads of
docs/benchmarks.md, each against every server in alternation, repeated,
written to OUT/results.json, then OUT/report.md and OUT/*.png (report.py).

Run it through scripts/bench/run.sh, which installs what is missing, builds
build/release and the load generator, and calls this file."""

import argparse
import signal
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import atomic_isolation  # noqa: E402
import pubsub  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import types_memory  # noqa: E402
import types_speed  # noqa: E402
import zlist_loads  # noqa: E402
from servers import Server  # noqa: E402

MiB = 1 << 20

# Sizes of every load. The full profile stays under ~12 minutes on 2 cores;
# quick is a smoke run (one repetition, small counts) for the test suite.
PROFILES = {
    "full": {
        "reps": 3,
        "budget": 64 * MiB,
        "conns": 50,
        "rb_keys": 100000,  # redis-benchmark -r, preloaded
        "rb_requests": {1: 100000, 16: 500000},
        "ms_seconds": 4,  # memaslap -t
        "rr_keys": 100000,
        "rr_requests": {1: 100000, 16: 500000},
        "fill_chunk": {32: 100000, 256: 25000},
        "zipf_budget": 32 * MiB,
        "zipf_keys": 2500000,
        "zipf_gets": 2000000,
        "zipf_value": 100,
        "zipf_rate": 60000,  # gets/s in the TTL run, the same for all
        "ttl_short": 2,
        "ttl_long": 3600,
        "ttl_short_frac": 0.5,
        # load 7: write phases in seconds, budgets in MiB, one run of each
        # unless --reps says otherwise (a 60 s run is long enough to read)
        "ow_seconds": (10, 60),
        "ow_budgets": (64, 256),
        "ow_reps": 1,
        # load 13 (issue 22): 5M keys, 100-byte values, 5M gets of warm-up
        # and 10M measured, at 64 and 128 MiB; one repetition (the trace is
        # fixed by its seed, and each case takes minutes)
        "mpb_keys": 5000000,
        "mpb_gets": 15000000,
        "mpb_value": 100,
        "mpb_budgets": (64, 128),
        "mpb_reps": 1,
    },
    "quick": {
        "reps": 1,
        "budget": 16 * MiB,
        "conns": 50,
        "rb_keys": 10000,
        "rb_requests": {1: 10000, 16: 50000},
        "ms_seconds": 1,
        "rr_keys": 10000,
        "rr_requests": {1: 10000, 16: 50000},
        "fill_chunk": {32: 50000, 256: 10000},
        "zipf_budget": 16 * MiB,
        "zipf_keys": 500000,
        "zipf_gets": 100000,
        "zipf_value": 100,
        "zipf_rate": 50000,
        "ttl_short": 1,
        "ttl_long": 3600,
        "ttl_short_frac": 0.5,
        "ow_seconds": (3,),
        "ow_budgets": (64,),
        "ow_reps": 1,
        "mpb_keys": 300000,
        "mpb_gets": 600000,
        "mpb_value": 100,
        "mpb_budgets": (8, 16),
        "mpb_reps": 1,
    },
}

PIPELINES = (1, 16)
# bulk writes and reads: enough requests in flight that memcached, which
# answers every get with its own sendmsg, is not left waiting on the client
FILL_CONNS = ("--conns", 8, "--pipeline", 32)
# load 5 counts misses in tenths of the gets; the last three are measured,
# when every server has been evicting for a while
ZIPF_WINDOWS = 10
ZIPF_MEASURED = 3
# load 13 counts misses in thirtieths of the gets: the first third is the
# warm-up (5M of 15M gets in the full profile), the last nine are the last 30%
MPB_WINDOWS = 30
MPB_WARM = 10
MPB_LAST = 9
# load 7 (issue 13): loadgen overwrite's defaults are the reproduction (50
# connections, one set in flight each, 1000-byte values, keys 1..7000);
# RESP sets carry EX 3600 as in the issue
OW_CONNS, OW_VALUE, OW_KEYS, OW_EX = 50, 1000, 7000, 3600
# segcached counters kept after each load 7 run, when the binary has them:
# these names, and any beginning with one of the prefixes (the store may
# add compaction and wait counters)
OW_SEG_COUNTERS = ("seg_evict_item", "seg_hash_evict", "seg_evict_seg",
                   "seg_evict_inline", "seg_evict_ex", "seg_merge",
                   "seg_merge_keep", "seg_expire_seg", "seg_write_ex",
                   "seg_wait")
OW_SEG_PREFIXES = ("seg_compact", "seg_wait", "seg_take_slow")


class Bench:
    def __init__(self, args):
        self.args = args
        self.p = dict(PROFILES["quick" if args.quick else "full"])
        if args.reps:
            self.p["reps"] = args.reps
        # load 7 in parts, so that no part holds the machine too long
        if args.ow_seconds:
            self.p["ow_seconds"] = tuple(
                int(x) for x in args.ow_seconds.split(","))
        if args.ow_budgets:
            self.p["ow_budgets"] = tuple(
                int(x) for x in args.ow_budgets.split(","))
        self.out = args.out
        self.logdir = os.path.join(self.out, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.loadgen = args.loadgen
        self.bin = args.bin
        self.records = []
        self.notes = {}  # load -> lines for the report
        self.noise = {}  # load -> figures about other processes
        self.cpus = os.sched_getaffinity(0)
        self.meta = {}
        self.resp_ok = False
        self.failed = []  # loads that raised

    # ---- pinning ----

    def client_cpu(self):
        return str(min(self.cpus)) if len(self.cpus) >= 2 else None

    def server_cpus(self, threads):
        """The CPUs left to the servers, or every CPU when there are too
        few to keep the client apart."""
        if len(self.cpus) < 2:
            return None
        others = sorted(self.cpus - {min(self.cpus)})
        if len(others) >= threads:
            return ",".join(str(c) for c in others[:threads])
        return ",".join(str(c) for c in sorted(self.cpus))

    def client(self, argv, timeout=600):
        cpu = self.client_cpu()
        if cpu is not None:
            argv = ["taskset", "-c", cpu] + argv
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)} failed ({r.returncode}): "
                               f"{r.stderr.strip()[-500:]}")
        return r.stdout

    def server(self, kind, threads=1, budget=None, resp=True):
        return Server(kind, budget or self.p["budget"], threads,
                      self.server_cpus(threads), self.logdir, self.bin,
                      resp=resp).start()

    def loadgen_run(self, mode, addr, proto, *extra):
        out = self.client([self.loadgen, mode, "-s", addr, "-P", proto] +
                          [str(x) for x in extra])
        return dict(kv.split("=", 1) for kv in out.split())

    def record(self, load, case, server, rep, **metrics):
        rec = {"load": load, "case": case, "server": server, "rep": rep}
        rec.update(metrics)
        self.records.append(rec)
        shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else
                         f"{k}={v}" for k, v in metrics.items())
        print(f"  [{load}] {case:<22} {server:<10} rep {rep}: {shown}",
              flush=True)

    @staticmethod
    def alternate(items, rep):
        """Each repetition starts with the next server, so a slow drift of
        the machine does not always fall on the same one."""
        k = rep % len(items)
        return items[k:] + items[:k]

    def measured(self, srv, fn):
        """Run fn() (a client), return its figures plus the server's CPU
        time per request and CPU use while it ran."""
        c0, t0 = srv.cpu_seconds(), time.monotonic()
        u0, k0 = srv.user_system_ticks()
        res = fn()
        c1, t1 = srv.cpu_seconds(), time.monotonic()
        u1, k1 = srv.user_system_ticks()
        # what share of the server's CPU time is its own code, the rest
        # being the kernel (mostly the loopback TCP path)
        res["user_pct"] = 100.0 * (u1 - u0) / max((u1 - u0) + (k1 - k0), 1)
        res["cpu_us"] = (c1 - c0) * 1e6 / max(res["requests"], 1)
        res["server_cpu"] = (c1 - c0) / (t1 - t0)
        return res

    # ---- noise: what other processes used while a load ran ----

    def section(self, load, title, fn):
        print(f"== load {load}: {title}", flush=True)
        t0, b0 = time.monotonic(), servers.machine_busy_seconds()
        own0 = sum(os.times()[:4])
        la0 = servers.loadavg()
        try:
            fn()
        except (RuntimeError, OSError, subprocess.SubprocessError,
                KeyError, ValueError, AttributeError, IndexError) as e:
            # one broken load (a server that died, a client that changed
            # its output) must not hide the others: say it in the report
            self.failed.append(load)
            self.notes.setdefault(load, []).append(
                f"This load FAILED and its figures are incomplete: {e}")
            print(f"   load {load} failed: {e}", file=sys.stderr, flush=True)
        finally:
            servers.stop_all()
        t1, b1 = time.monotonic(), servers.machine_busy_seconds()
        own1 = sum(os.times()[:4])
        other = max(0.0, (b1 - b0) - (own1 - own0))
        self.noise[load] = {
            "seconds": t1 - t0,
            "other_cpu_share": other / ((t1 - t0) * os.cpu_count()),
            "loadavg_before": la0,
            "loadavg_after": servers.loadavg(),
        }
        print(f"   {t1 - t0:.0f} s; other processes used "
              f"{100 * self.noise[load]['other_cpu_share']:.0f}% of the "
              f"machine", flush=True)
        self.save()

    # ---- load 1: RESP, redis-benchmark ----

    def redis_benchmark(self, addr, cmd, pipeline):
        host, port = addr.rsplit(":", 1)
        n = self.p["rb_requests"][pipeline]
        out = self.client(["redis-benchmark", "-h", host, "-p", port, "-c",
                           str(self.p["conns"]), "-n", str(n), "-P",
                           str(pipeline), "-t", cmd, "-d", "32", "-r",
                           str(self.p["rb_keys"]), "--csv"])
        row = [line for line in out.splitlines()
               if line.startswith('"' + cmd.upper())][-1]
        f = [x.strip('"') for x in row.split(",")]
        return {"requests": n, "rps": float(f[1]), "avg_ms": float(f[2]),
                "p50_ms": float(f[4]), "p99_ms": float(f[6])}

    def load1(self):
        if not self.resp_ok:
            self.notes["1"] = ["Skipped: this segcached build does not answer "
                               "GET and SET on its resp listener yet."]
            return
        srvs = [("segcached", self.server("segcached")),
                ("redis", self.server("redis"))]
        for _, s in srvs:
            self.loadgen_run("fill", s.addr["resp"], "resp", "--prefix",
                             "key:", "--from", 0, "--to", self.p["rb_keys"])
        for rep in range(self.p["reps"]):
            for cmd in ("get", "set"):
                for pl in PIPELINES:
                    for name, s in self.alternate(srvs, rep):
                        r = self.measured(s, lambda: self.redis_benchmark(
                            s.addr["resp"], cmd, pl))
                        self.record("1", f"{cmd.upper()} P{pl}", name, rep,
                                    **r)

    # ---- load 2: memcache, memaslap (and memtier_benchmark if present) ----

    def memaslap(self, addr, seconds):
        cfg = os.path.join(self.out, "memaslap.cfg")
        with open(cfg, "w") as f:
            f.write("key\n16 16 1\nvalue\n32 32 1\ncmd\n0 0.1\n1 0.9\n")
        out = self.client(["memcaslap", "-s", addr, "-T", "1", "-c",
                           str(self.p["conns"]), "-t", f"{seconds}s", "-F",
                           cfg, "-S", f"{seconds}s"])
        m = re.search(r"Run time: ([\d.]+)s Ops: (\d+) TPS: (\d+)", out)
        tot = out[out.rfind("Total Statistics ("):]
        avg = re.search(r"Avg:\s+(\d+)", tot)
        return {"requests": int(m.group(2)), "rps": float(m.group(3)),
                "avg_ms": int(avg.group(1)) / 1000.0 if avg else 0.0,
                "p99_ms": log2_p99_ms(tot)}

    def memtier(self, addr, proto):
        host, port = addr.rsplit(":", 1)
        out = self.client(["memtier_benchmark", "-s", host, "-p", port, "-P",
                           proto, "-t", "1", "-c", str(self.p["conns"]),
                           "--ratio=1:9", "-d", "32", "--key-prefix=memtier-",
                           f"--test-time={self.p['ms_seconds']}",
                           "--hide-histogram"])
        row = [line for line in out.splitlines()
               if line.startswith("Totals")][-1].split()
        return {"rps": float(row[1]), "avg_ms": float(row[4])}

    def load2(self):
        srvs = [("segcached", self.server("segcached")),
                ("memcached", self.server("memcached"))]
        for rep in range(self.p["reps"]):
            for name, s in self.alternate(srvs, rep):
                r = self.measured(s, lambda: self.memaslap(
                    s.addr["memcache"], self.p["ms_seconds"]))
                self.record("2", "memaslap 90/10", name, rep, **r)
        if not shutil.which("memtier_benchmark"):
            self.notes["2"] = ["memtier_benchmark is not on PATH (it is not a "
                               "Debian package): its rows are left out."]
            return
        for _, s in srvs:
            s.stop()
        self.memtier_rows()

    def memtier_rows(self):
        srvs = [("segcached", self.server("segcached"), "memcache",
                 "memcache_text"),
                ("memcached", self.server("memcached"), "memcache",
                 "memcache_text"),
                ("redis", self.server("redis"), "resp", "redis")]
        if self.resp_ok:
            srvs.append(("segcached", srvs[0][1], "resp", "redis"))
        for rep in range(self.p["reps"]):
            for name, s, proto, mproto in self.alternate(srvs, rep):
                if proto not in s.addr:
                    continue
                r = self.memtier(s.addr[proto], mproto)
                self.record("2", f"memtier {proto} 90/10", name, rep, **r)

    # ---- load 3: the runtime's ceiling, one client for every target ----

    def rr(self, addr, proto, kind, pipeline):
        n = self.p["rr_requests"][pipeline]
        r = self.loadgen_run("rr", addr, proto, "--kind", kind, "--conns",
                             self.p["conns"], "--pipeline", pipeline,
                             "--requests", n, "--keys", self.p["rr_keys"])
        if int(r["errors"]) or (kind == "get" and int(r["misses"])):
            raise RuntimeError(f"rr {addr} {proto}: {r}")
        return {"requests": n, "rps": float(r["rps"]),
                "p50_ms": float(r["p50_us"]) / 1000,
                "p99_ms": float(r["p99_us"]) / 1000}

    def load3(self):
        seg = self.server("segcached", resp=self.resp_ok)
        mc, rd = self.server("memcached"), self.server("redis")
        targets = [("segcached", seg, "ping", "ping", "PING"),
                   ("segcached", seg, "memcache", "get", "GET memcache"),
                   ("memcached", mc, "memcache", "get", "GET memcache"),
                   ("redis", rd, "resp", "get", "GET resp")]
        if self.resp_ok:
            targets.insert(2, ("segcached", seg, "resp", "get", "GET resp"))
        else:
            self.notes["3"] = ["segcached's resp GET rows are left out: its "
                               "resp listener does not answer yet."]
        for _, s, proto, kind, _ in targets:
            if kind == "get":
                self.loadgen_run("fill", s.addr[proto], proto, "--from", 0,
                                 "--to", self.p["rr_keys"])
        for rep in range(self.p["reps"]):
            for pl in PIPELINES:
                for name, s, proto, kind, label in self.alternate(targets,
                                                                  rep):
                    r = self.measured(s, lambda: self.rr(s.addr[proto], proto,
                                                         kind, pl))
                    self.record("3", f"{label} P{pl}", name, rep, **r)

    # ---- load 4: memory efficiency ----

    def fill_until_evicted(self, s, proto, value):
        """Unique keys in chunks until the server has evicted, then one more
        chunk; then read every key back: the hits are the items held."""
        chunk = self.p["fill_chunk"][value]
        limit = 4 * self.p["budget"] // (16 + value)
        filled, after = 0, 0
        while filled < limit and after < 2:
            self.loadgen_run("fill", s.addr[proto], proto, "--from", filled,
                             "--to", filled + chunk, "--value", value,
                             *FILL_CONNS)
            filled += chunk
            if s.stats()[1] > 0:
                after += 1
        r = self.loadgen_run("read", s.addr[proto], proto, "--from", 0, "--to",
                             filled, "--value", value, *FILL_CONNS)
        items, evictions = s.stats()
        held = int(r["hits"])
        kv = 16 + value
        return {"held": held, "items_reported": items, "written": filled,
                "evictions": evictions, "rss_mib": s.rss() / MiB,
                "overhead_budget": self.p["budget"] / max(held, 1) - kv,
                "overhead_rss": s.rss() / max(held, 1) - kv}

    def load4(self):
        kinds = [("segcached", "memcache"), ("memcached", "memcache"),
                 ("redis", "resp")]
        for rep in range(self.p["reps"]):
            for value in (32, 256):
                for name, proto in self.alternate(kinds, rep):
                    s = self.server(name)
                    r = self.fill_until_evicted(s, proto, value)
                    s.stop()
                    if r["evictions"] == 0:
                        self.notes.setdefault("4", []).append(
                            f"{name} did not evict with {value}-byte values "
                            f"after {r['written']} keys (rep {rep}).")
                    self.record("4", f"16+{value} B", name, rep, **r)

    # ---- load 5: miss ratio under Zipf ----

    def zipf_argv(self, s, proto, ttl):
        p = self.p
        argv = [self.loadgen, "zipf", "-s", s.addr[proto], "-P", proto,
                "--keys", p["zipf_keys"], "--requests", p["zipf_gets"],
                "--value", p["zipf_value"], "--alpha", "1.0", "--seed", 42,
                "--conns", 4, "--pipeline", 16, "--windows", ZIPF_WINDOWS]
        if ttl:
            argv += ["--ttl-short", p["ttl_short"], "--ttl-long",
                     p["ttl_long"], "--short-frac", p["ttl_short_frac"],
                     "--rate", p["zipf_rate"]]
        return [str(x) for x in argv]

    def zipf_result(self, s, out):
        r = dict(kv.split("=", 1) for kv in out.split())
        gets = [int(x) for x in r["window_gets"].split(",")]
        miss = [int(x) for x in r["window_misses"].split(",")]
        warm = len(gets) - ZIPF_MEASURED
        return {"miss_ratio": sum(miss[warm:]) / max(sum(gets[warm:]), 1),
                "miss_ratio_all": sum(miss) / max(sum(gets), 1),
                "gets_per_s": sum(gets) / float(r["seconds"]),
                "window_miss_ratio": [m / max(g, 1)
                                      for m, g in zip(miss, gets)],
                "held": s.stats()[0], "rss_mib": s.rss() / MiB}

    def load5(self):
        """The miss ratio does not depend on a server's speed, so the three
        servers run at once, each with its own client, unpinned: this keeps
        the paced TTL run from taking three times its length."""
        kinds = [("segcached", "memcache"), ("memcached", "memcache"),
                 ("redis", "resp")]
        for rep in range(self.p["reps"]):
            for ttl in (False, True):
                case = "TTL mix" if ttl else "no TTL"
                srvs = [(name, proto, Server(name, self.p["zipf_budget"], 1,
                                             None, self.logdir, self.bin,
                                             resp=False).start())
                        for name, proto in self.alternate(kinds, rep)]
                clients = [subprocess.Popen(self.zipf_argv(s, proto, ttl),
                                            stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)
                           for _, proto, s in srvs]
                for (name, _, s), c in zip(srvs, clients):
                    out, err = c.communicate(timeout=900)
                    if c.returncode != 0:
                        raise RuntimeError(f"zipf against {name}: {err}")
                    self.record("5", case, name, rep,
                                **self.zipf_result(s, out))
                for _, _, s in srvs:
                    s.stop()

    # ---- load 13: misses per byte (issue 22) ----

    def mpb_cases(self):
        """(label, Zipf exponent, share of one-time keys, budget MiB)."""
        small, large = self.p["mpb_budgets"]
        return [(f"Zipf 1.0, {small} MiB", 1.0, 0.0, small),
                (f"Zipf 1.0, {large} MiB", 1.0, 0.0, large),
                (f"Zipf 0.8, {small} MiB", 0.8, 0.0, small),
                (f"Zipf 1.0 + 50% scan, {small} MiB", 1.0, 0.5, small)]

    def load13(self):
        """As load 5 (the three servers at once, each with its own client,
        the same seeded trace): the miss ratio does not depend on speed."""
        p = self.p
        kinds = [("segcached", "memcache"), ("memcached", "memcache"),
                 ("redis", "resp")]
        for rep in range(p["mpb_reps"]):
            for case, alpha, scan, mib in self.mpb_cases():
                srvs = [(name, proto, Server(name, mib * MiB, 1, None,
                                             self.logdir, self.bin,
                                             resp=False).start())
                        for name, proto in self.alternate(kinds, rep)]
                argv = [[str(x) for x in
                         [self.loadgen, "zipf", "-s", s.addr[proto], "-P",
                          proto, "--keys", p["mpb_keys"], "--requests",
                          p["mpb_gets"], "--value", p["mpb_value"],
                          "--alpha", alpha, "--scan", scan, "--seed", 42,
                          "--conns", 4, "--pipeline", 16, "--windows",
                          MPB_WINDOWS]]
                        for _, proto, s in srvs]
                clients = [subprocess.Popen(a, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)
                           for a in argv]
                for (name, _, s), c in zip(srvs, clients):
                    out, err = c.communicate(timeout=3600)
                    if c.returncode != 0:
                        raise RuntimeError(f"zipf against {name}: {err}")
                    r = dict(kv.split("=", 1) for kv in out.split())
                    gets = [int(x) for x in r["window_gets"].split(",")]
                    miss = [int(x) for x in r["window_misses"].split(",")]
                    self.record(
                        "13", case, name, rep,
                        miss_ratio=sum(miss[-MPB_LAST:]) /
                        max(sum(gets[-MPB_LAST:]), 1),
                        miss_ratio_warm=sum(miss[MPB_WARM:]) /
                        max(sum(gets[MPB_WARM:]), 1),
                        gets_per_s=sum(gets) / float(r["seconds"]),
                        window_miss_ratio=[m / max(g, 1)
                                           for m, g in zip(miss, gets)],
                        held=s.stats()[0], rss_mib=s.rss() / MiB)
                for _, _, s in srvs:
                    s.stop()

    # ---- load 6: threads ----

    def load6(self):
        combos = [(name, t) for t in (1, 2)
                  for name in ("segcached", "memcached")]
        for rep in range(self.p["reps"]):
            for name, t in self.alternate(combos, rep):
                s = self.server(name, threads=t)
                self.loadgen_run("fill", s.addr["memcache"], "memcache",
                                 "--from", 0, "--to", self.p["rr_keys"])
                r = self.measured(s, lambda: self.memaslap(
                    s.addr["memcache"], self.p["ms_seconds"]))
                self.record("6", f"memaslap 90/10 t={t}", name, rep, **r)
                r = self.measured(s, lambda: self.rr(s.addr["memcache"],
                                                     "memcache", "get", 16))
                self.record("6", f"GET P16 t={t}", name, rep, **r)
                s.stop()

    # ---- load 7: overwrites of a small key set (issue 13) ----

    def overwrite_configs(self):
        """(server, threads, MiB, protocol) of every load 7 run."""
        rows = []
        for mib in self.p["ow_budgets"]:
            for t in (1, 2):
                rows.append(("segcached", t, mib, "memcache"))
                if self.resp_ok:
                    rows.append(("segcached", t, mib, "resp"))
                rows.append(("memcached", t, mib, "memcache"))
            rows.append(("redis", 1, mib, "resp"))
        return rows

    @staticmethod
    def overwrite_counters(s):
        """What the server says it evicted, read after the run: segcached's
        seg_* counters from its admin port (whichever of OW_SEG_COUNTERS and
        OW_SEG_PREFIXES this binary has), memcached's evictions, Redis's
        evicted_keys."""
        if s.kind == "redis":
            info = servers.redis_info(s.addr["resp"])
            return {"evictions": number(info.get("evicted_keys", "0"))}
        if s.kind == "memcached":
            st = servers.memcache_stats(s.addr["memcache"])
            return {"evictions": number(st.get("evictions", "0"))}
        st = servers.memcache_stats(s.addr["admin"])
        return {k: number(v) for k, v in st.items()
                if k in OW_SEG_COUNTERS or k.startswith(OW_SEG_PREFIXES)}

    def overwrite_run(self, name, t, mib, proto, seconds):
        # the server on one CPU even with 2 threads, the client on the
        # other: the setting of the reproduction
        s = Server(name, mib * MiB, t, self.server_cpus(1), self.logdir,
                   self.bin, resp=proto == "resp").start()
        extra = ["--conns", OW_CONNS, "--value", OW_VALUE, "--keys", OW_KEYS,
                 "--seconds", seconds]
        if proto == "resp":
            extra += ["--ex", OW_EX]

        def go():
            r = self.loadgen_run("overwrite", s.addr[proto], proto, *extra)
            r = {k: number(v) for k, v in r.items()}
            r["requests"] = r["sets"]
            return r
        r = self.measured(s, go)
        c = self.overwrite_counters(s)
        s.stop()
        evicted = c.get("seg_evict_item", c.get("evictions"))
        out = {"threads": t, "mib": mib, "seconds": seconds, "proto": proto,
               "keys_written": r["keys_written"],
               "keys_present": r["keys_present"],
               "keys_missing": r["keys_missing"],
               "evicted": evicted, "hash_evict": c.get("seg_hash_evict"),
               "sets": r["sets"], "sets_per_s": r["sets_per_s"],
               "set_p50_us": r["p50_us"], "set_p99_us": r["p99_us"],
               "set_max_us": r["max_us"], "errors": r["errors"],
               "read_errors": r["read_errors"], "cpu_us": r["cpu_us"],
               "counters": c}
        if isinstance(c.get("seg_compact_bytes"), (int, float)):
            # bytes copied forward per byte the client wrote
            out["copy_per_byte"] = c["seg_compact_bytes"] / max(
                r["sets"] * OW_VALUE, 1)
        return out

    def load7(self):
        reps = self.args.reps or self.p["ow_reps"]
        if not self.resp_ok:
            self.notes["7"] = ["segcached's RESP rows are left out: its resp "
                               "listener does not answer yet."]
        configs = self.overwrite_configs()
        for seconds in self.p["ow_seconds"]:
            for rep in range(reps):
                for name, t, mib, proto in self.alternate(configs, rep):
                    r = self.overwrite_run(name, t, mib, proto, seconds)
                    self.record("7", f"{proto} t={t} m={mib} {seconds}s",
                                name, rep, **r)

    # ---- load 8: hashes and sets, bytes per element (types_memory.py) ----

    def load8(self):
        if not self.resp_ok:
            self.notes["8"] = ["Skipped: no resp listener in this build."]
            return
        scale = 0.1 if self.args.quick else self.args.types_scale

        def record(case, server, r):
            self.record("8", case, server, 0, **{
                k: v for k, v in r.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)})
        types_memory.run(self.bin, scale, 2048 * MiB, self.server_cpus(1),
                         self.logdir, record=record)

    # ---- load 9: hashes and sets, speed (types_speed.py) ----

    def load9(self):
        if not self.resp_ok:
            self.notes["9"] = ["Skipped: no resp listener in this build."]
            return
        q = self.args.quick
        reps = 1 if q else self.p["reps"]

        def record(case, server, rep, r):
            self.record("9", case, server, rep, rps=r["rps"],
                        cpu_us=r["cpu_us"], requests=r["requests"])
        for part in ("small", "large"):
            types_speed.run(self.bin, part, reps,
                            10000 if q else 100000, 50000 if q else 500000,
                            20000 if q else 200000, 4096 * MiB, self.logdir,
                            record=record, big=100000 if q else 1000000)

    # ---- load 10: transactions beside other clients (issue 17) ----

    def load10(self):
        if not self.resp_ok:
            self.notes["10"] = ["Skipped: no resp listener in this build."]
            return
        q = self.args.quick

        def record(case, rep, rps, tx):
            self.record("10", case, "segcached", rep, rps=rps,
                        **({"tx_per_s": tx} if tx else {}))
        _, _, total = atomic_isolation.run(
            self.bin, self.args.loadgen, 1 if q else self.p["reps"],
            200000 if q else 600000, 4, 8, 20000, self.logdir,
            record=record)
        if total != 0:
            raise RuntimeError(f"load 10: the accounts sum to {total}, not 0")

    # ---- load 12: transfers on one worker, GET/SET on the other (17) ----

    def load12(self):
        if not self.resp_ok:
            self.notes["12"] = ["Skipped: no resp listener in this build."]
            return
        if not {0, 1} <= self.cpus or shutil.which("taskset") is None:
            self.notes["12"] = ["Skipped: needs CPUs 0 and 1 and taskset."]
            return
        q = self.args.quick

        def record(case, rep, rps, tx):
            self.record("12", case, "segcached", rep, rps=rps,
                        **({"tx_per_s": tx} if tx else {}))
        _, _, total = atomic_isolation.run_pinned(
            self.bin, self.args.loadgen, 1 if q else self.p["reps"],
            200000 if q else 1000000, 4, 8, 0, self.logdir, record=record)
        if total != 0:
            raise RuntimeError(f"load 12: the accounts sum to {total}, not 0")

    # ---- load 14: a leaderboard and a work queue (issue 16) ----

    def load14(self):
        if not self.resp_ok:
            self.notes["14"] = ["Skipped: no resp listener in this build."]
            return
        q = self.args.quick

        def record(load, server, rep, r):
            self.record("14", load, server, rep, **{
                k: v for k, v in r.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
                and k != "rep"})
        zlist_loads.run(self.bin, 1 if q else self.p["reps"], 1000,
                        20000 if q else 200000, 4, 4,
                        2000 if q else 20000, 2000, self.logdir,
                        record=record)

    # ---- load 11: pub/sub beside Redis (issue 19) ----

    def load11(self):
        if not self.resp_ok:
            self.notes["11"] = ["Skipped: no resp listener in this build."]
            return
        q = self.args.quick
        scale = 0.1 if q else 1.0
        cases = [(1, int(200000 * scale)), (100, int(20000 * scale))]
        runs = [("redis", 1), ("segcached", 1), ("segcached", 2)]
        for rep in range(1 if q else self.p["reps"]):
            for kind, threads in self.alternate(runs, rep):
                port = pubsub.free_ports(1)[0]
                p = pubsub.start(kind, port, self.bin, threads)
                try:
                    for nsub, nmsg in cases:
                        rate, ns = pubsub.run_case(port, p.pid, nsub, nmsg)
                        case = f"{nsub} subscriber{'s' if nsub > 1 else ''}"
                        if threads == 2:
                            case += ", 2 workers"
                        self.record("11", case, kind, rep, msgs_per_s=rate,
                                    cpu_ns_per_msg=ns)
                finally:
                    p.send_signal(signal.SIGTERM)
                    p.wait(timeout=30)

    # ---- the run ----

    def describe(self):
        def git(*a):
            r = subprocess.run(["git", *a], capture_output=True, text=True,
                               cwd=os.path.dirname(os.path.abspath(__file__)))
            return r.stdout.strip()
        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        self.meta = {
            "command": self.args.command,
            "profile": "quick" if self.args.quick else "full",
            "params": {k: v for k, v in self.p.items()},
            "date": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M UTC"),
            "commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "cpu": model,
            "ncpu": os.cpu_count(),
            "kernel": platform.release(),
            "client_cpu": self.client_cpu(),
            "server_cpus": self.server_cpus(1),
            "versions": {k: servers.version(k, self.bin)
                         for k in ("segcached", "memcached", "redis")},
            "resp_ok": self.resp_ok,
        }

    def probe_resp(self):
        s = Server("segcached", 16 * MiB, 1, None, self.logdir, self.bin)
        s.start()
        self.resp_ok = "resp" in s.addr and servers.resp_works(s.addr["resp"])
        s.stop()
        print(f"segcached resp listener: "
              f"{'answers GET/SET' if self.resp_ok else 'not available'}")

    def save(self):
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump({"meta": self.meta, "records": self.records,
                       "notes": self.notes, "noise": self.noise}, f,
                      indent=1)

    def run(self):
        t0 = time.monotonic()
        self.probe_resp()
        self.describe()
        self.meta["loadavg_before"] = servers.loadavg()
        loads = {"1": ("RESP throughput and latency", self.load1),
                 "2": ("memcache throughput and latency", self.load2),
                 "3": ("runtime ceiling (ping) and store cost", self.load3),
                 "4": ("memory efficiency", self.load4),
                 "5": ("miss ratio under Zipf(1.0)", self.load5),
                 "6": ("worker threads", self.load6),
                 "7": ("overwrites of a small key set", self.load7),
                 "8": ("hashes and sets: bytes per element", self.load8),
                 "9": ("hashes and sets: speed", self.load9),
                 "10": ("transactions beside other clients", self.load10),
                 "11": ("pub/sub: PUBLISH to 1 and 100 subscribers",
                        self.load11),
                 "12": ("transactions on one worker, GET/SET on the other",
                        self.load12),
                 "13": ("misses per byte: Zipf 1.0 and 0.8, a scan, two "
                        "budgets", self.load13),
                 "14": ("a leaderboard and a work queue", self.load14)}
        for key in self.args.loads.split(","):
            self.section(key, loads[key][0], loads[key][1])
        self.meta["loadavg_after"] = servers.loadavg()
        self.meta["seconds"] = time.monotonic() - t0
        self.save()


def number(text):
    """An int or float from a counter or loadgen figure, else the text."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def log2_p99_ms(text):
    """memaslap prints latencies as counts per power-of-two microseconds
    ("Log2 Dist:" rows "e: n(2^e) n(2^e+1) ..."). Returns the upper edge of
    the bucket holding the 99th percentile, in ms (an upper bound)."""
    counts = {}
    for m in re.finditer(r"^\s+(\d+):((?:\s+\d+)+)\s*$", text, re.M):
        base = int(m.group(1))
        for i, c in enumerate(m.group(2).split()):
            counts[base + i] = int(c)
    total = sum(counts.values())
    if total == 0:
        return 0.0
    seen = 0
    for e in sorted(counts):
        seen += counts[e]
        if seen >= 0.99 * total:
            return (1 << (e + 1)) / 1000.0
    return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="a short smoke run (one repetition, small loads)")
    ap.add_argument("--bin", required=True, help="the segcached binary")
    ap.add_argument("--loadgen", required=True, help="the loadgen binary")
    ap.add_argument("--out", default="build/bench", help="output folder")
    ap.add_argument("--reps", type=int, default=0,
                    help="repetitions (default: 3, quick 1; load 7: 1)")
    ap.add_argument("--loads", default="1,2,3,4,5,6,7",
                    help="which loads, comma separated (default: all)")
    ap.add_argument("--ow-seconds", default="",
                    help="load 7's write phases, comma separated seconds "
                    "(default: 10,60; quick 3)")
    ap.add_argument("--ow-budgets", default="",
                    help="load 7's budgets, comma separated MiB "
                    "(default: 64,256; quick 64)")
    ap.add_argument("--types-scale", type=float, default=1.0,
                    help="load 8's data sets: 1,000,000 x this (quick 0.1)")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite report.md and the plots from results.json")
    ap.add_argument("--command", default=" ".join(sys.argv),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # a SIGTERM (ctest's timeout, kill) still stops the servers by pid
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed = []
    if not args.report_only:
        bench = Bench(args)
        try:
            bench.run()
        finally:
            servers.stop_all()
        failed = bench.failed
    path = report.write(args.out)
    print(f"report: {path}")
    if failed:
        print(f"loads that failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: Apache-2.0
"""report.md and PNG plots (gnuplot) from the results.json bench.py writes:
medians, min-max ranges over the repetitions, and segcached/peer ratios.

    python3 scripts/bench/report.py build/bench   # rewrite the report"""

import json
import os
import shutil
import statistics
import subprocess
import sys

SERVERS = ("segcached", "memcached", "redis")
COLORS = {"segcached": "#9400d3", "memcached": "#009e73", "redis": "#56b4e9"}

# metric: (label, which way is better: "higher", "lower" or None)
METRICS = {
    "rps": ("requests/s", "higher"),
    "cpu_us": ("server CPU us/request", "lower"),
    "server_cpu": ("server CPU busy (cores)", None),
    "user_pct": ("% of server CPU in user space", None),
    "avg_ms": ("mean latency ms", "lower"),
    "p50_ms": ("p50 latency ms", "lower"),
    "p99_ms": ("p99 latency ms", "lower"),
    "held": ("items held (read back)", "higher"),
    "items_reported": ("items by server stats", None),
    "evictions": ("evictions", None),
    "rss_mib": ("RSS MiB", None),
    "overhead_budget": ("B/item beyond key+value, budget/items", "lower"),
    "overhead_rss": ("B/item beyond key+value, RSS/items", "lower"),
    "miss_ratio": ("misses per get, last 30%", "lower"),
    "miss_ratio_all": ("misses per get, whole run", "lower"),
    "miss_ratio_warm": ("misses per get, after the warm-up", "lower"),
    "gets_per_s": ("gets/s achieved", None),
    "bytes_per_elem": ("B/element: Redis used_memory, segcached live items "
                       "+ 8 B slot", "lower"),
    "segments_per_elem": ("B/element: segcached segments taken (with dead "
                          "copies)", None),
    "rss_per_elem": ("B/element: RSS growth", "lower"),
    "used_memory_rss_per_elem": ("B/element: Redis used_memory_rss", None),
    "load_s": ("seconds to load", None),
    "tx_per_s": ("transfers/s beside it", None),
    "msgs_per_s": ("messages delivered/s", "higher"),
    "cpu_ns_per_msg": ("server CPU ns per delivered message", "lower"),
    "zincrby_rps": ("ZINCRBY requests/s", "higher"),
    "zrevrange_rps": ("ZREVRANGE 0 9 WITHSCORES requests/s", "higher"),
    "p50_us": ("push-to-pop latency p50 us", "lower"),
    "p99_us": ("push-to-pop latency p99 us", "lower"),
    "max_us": ("push-to-pop latency max us", None),
    "elements": ("elements pushed and popped", None),
}

LOADS = {
    "1": ("RESP: redis-benchmark GET and SET, 16-byte keys, 32-byte values, "
          "50 clients, pipeline 1 and 16",
          ["rps", "p50_ms", "p99_ms", "cpu_us", "user_pct"],
          ["rps", "cpu_us"]),
    "2": ("memcache: memaslap (memcaslap), 90% get / 10% set, 16-byte keys, "
          "32-byte values, 50 connections, one client thread",
          ["rps", "avg_ms", "p99_ms", "cpu_us", "user_pct"],
          ["rps", "cpu_us"]),
    "3": ("The runtime's ceiling: one client (loadgen, 50 connections) "
          "against segcached's ping listener and GET on every server",
          ["rps", "p50_ms", "p99_ms", "cpu_us", "user_pct"],
          ["rps", "cpu_us"]),
    "4": ("Memory: unique 16-byte keys until the server evicts, then every "
          "key read back",
          ["held", "items_reported", "evictions", "rss_mib",
           "overhead_budget", "overhead_rss"], ["held", "overhead_rss"]),
    "5": ("Miss ratio: Zipf(1.0) get, set on miss, fixed seed",
          ["miss_ratio", "miss_ratio_all", "gets_per_s", "held", "rss_mib"],
          ["miss_ratio"]),
    "6": ("Worker threads: segcached -t N against memcached -t N",
          ["rps", "cpu_us", "server_cpu", "user_pct"], ["rps", "cpu_us"]),
    # its own tables (overwrite_tables): one row per run, not medians
    "7": ("Overwrites: 50 connections set 1000-byte values over keys "
          "1..7000 as fast as the server takes them, then every key written "
          "is read back", [], []),
    "8": ("Hashes and sets: bytes per element for the same data "
          "(scripts/bench/types_memory.py)",
          ["bytes_per_elem", "segments_per_elem", "rss_per_elem",
           "used_memory_rss_per_elem", "load_s"], ["bytes_per_elem"]),
    "9": ("Hashes and sets: redis-benchmark hset/sadd/spop and reads, then "
          "large against small collections (scripts/bench/types_speed.py)",
          ["rps", "cpu_us"], ["rps", "cpu_us"]),
    "10": ("Transactions beside other clients: a GET/SET load alone, beside "
           "MULTI/EXEC transfers, and beside the same commands without "
           "MULTI (scripts/bench/atomic_isolation.py)",
           ["rps", "tx_per_s"], ["rps"]),
    "11": ("Pub/sub: PUBLISH to 1 and to 100 subscribers, messages delivered "
           "per second and server CPU per delivered message "
           "(scripts/bench/pubsub.py)",
           ["msgs_per_s", "cpu_ns_per_msg"], ["msgs_per_s", "cpu_ns_per_msg"]),
    "12": ("Transactions on one worker, GET/SET on the other: the GET/SET "
           "load alone, beside MULTI/EXEC transfers, beside the same "
           "commands without MULTI, and beside MULTI/EXEC transfers to "
           "another server (scripts/bench/atomic_isolation.py --pinned)", ["rps", "tx_per_s"], ["rps"]),
    "13": ("Misses per byte (issue 22): Zipf get, set on miss, fixed seed, "
           "at two budgets, a flatter Zipf and a scan",
           ["miss_ratio", "miss_ratio_warm", "gets_per_s", "held",
            "rss_mib"], ["miss_ratio"]),
    "14": ("A leaderboard (ZINCRBY and ZREVRANGE 0 9 WITHSCORES on a sorted "
           "set of 1,000 players) and a work queue (4 producers LPUSH, 4 "
           "consumers BRPOP; push-to-pop latency) "
           "(scripts/bench/zlist_loads.py)",
           ["zincrby_rps", "zrevrange_rps", "p50_us", "p99_us", "max_us",
            "cpu_us"], ["cpu_us"]),
}


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


class Figures:
    """Medians and ranges per (load, case, server, metric)."""

    def __init__(self, records):
        self.values = {}
        self.cases = {}  # load -> cases in first-seen order
        for r in records:
            cases = self.cases.setdefault(r["load"], [])
            if r["case"] not in cases:
                cases.append(r["case"])
            for m, v in r.items():
                if m in METRICS and isinstance(v, (int, float)):
                    key = (r["load"], r["case"], r["server"], m)
                    self.values.setdefault(key, []).append(float(v))

    def get(self, load, case, server, metric):
        v = self.values.get((load, case, server, metric))
        if not v:
            return None
        return statistics.median(v), min(v), max(v), len(v)

    def servers(self, load):
        return [s for s in SERVERS
                if any(k[0] == load and k[2] == s for k in self.values)]


def cell(f):
    if f is None:
        return "-"
    med, lo, hi, n = f
    if n == 1:
        return fmt(med)
    return f"{fmt(med)} [{fmt(lo)}-{fmt(hi)}]"


def ratio_cell(seg, peer, better):
    if seg is None or peer is None or peer[0] == 0:
        return "-", None
    r = seg[0] / peer[0]
    behind = None
    # behind when the ratio, as printed, is worse than 1.00
    if better == "higher" and r < 0.995:
        behind = r
    if better == "lower" and r > 1.005:
        behind = r
    mark = " (behind)" if behind is not None else ""
    return f"{r:.2f}{mark}", behind


def overlap(a, b):
    return a[1] <= b[2] and b[1] <= a[2]


def load_table(fig, load, metrics, behind):
    srv = fig.servers(load)
    peers = [s for s in srv if s != "segcached"]
    head = ["case", "figure"] + srv + [f"segcached/{p}" for p in peers]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for case in fig.cases.get(load, []):
        for m in metrics:
            row = [fig.get(load, case, s, m) for s in srv]
            if all(x is None for x in row):
                continue
            label, better = METRICS[m]
            cells = [case, label] + [cell(x) for x in row]
            seg = fig.get(load, case, "segcached", m)
            for p in peers:
                peer = fig.get(load, case, p, m)
                text, r = ratio_cell(seg, peer, better)
                cells.append(text)
                if r is not None:
                    noise = overlap(seg, peer) if seg[3] > 1 else False
                    behind.append((load, case, label, p, r, noise))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- load 7: one row per run ----

def opt(v, f=fmt):
    return "-" if v is None else f(v)


def count(v):
    """A counter with thousands separators, a figure as fmt does."""
    if isinstance(v, int):
        return f"{v:,}"
    return opt(v)


def overwrite_rows(records):
    rows = [r for r in records if r["load"] == "7"]
    order = {s: i for i, s in enumerate(SERVERS)}
    rows.sort(key=lambda r: (r["seconds"], r["mib"], r["proto"],
                             order.get(r["server"], 9), r["threads"],
                             r["rep"]))
    return rows


def overwrite_tables(records):
    """The run table, then segcached's counters per run (whichever the
    binary had: the store may add compaction and wait counters)."""
    rows = overwrite_rows(records)
    lines = ["| server | -t | -m MiB | seconds | protocol | keys written | "
             "keys present | missing | live items evicted | seg_hash_evict | "
             "bytes copied per byte written | sets/s | set p99 us | "
             "set max us | errors |",
             "|" + "---|" * 15]
    for r in rows:
        t = "-" if r["server"] == "redis" else str(r["threads"])
        lines.append("| " + " | ".join([
            r["server"], t, str(r["mib"]), str(r["seconds"]), r["proto"],
            f"{r['keys_written']:,}", f"{r['keys_present']:,}",
            f"{r['keys_missing']:,}", count(r.get("evicted")),
            count(r.get("hash_evict")), opt(r.get("copy_per_byte")),
            fmt(r["sets_per_s"]), fmt(r["set_p99_us"]),
            fmt(r["set_max_us"]),
            str(r["errors"] + r.get("read_errors", 0))]) + " |")
    seg = [r for r in rows if r["server"] == "segcached"]
    names = []
    for r in seg:
        for k in r.get("counters", {}):
            if k not in names:
                names.append(k)
    if not names:
        return lines
    lines += ["", "segcached's counters after each run (admin port "
              "`stats`):", "",
              "| -t | -m MiB | seconds | protocol | " +
              " | ".join(f"`{n}`" for n in names) + " |",
              "|" + "---|" * (4 + len(names))]
    for r in seg:
        c = r.get("counters", {})
        lines.append("| " + " | ".join(
            [str(r["threads"]), str(r["mib"]), str(r["seconds"]),
             r["proto"]] + [count(c.get(n)) for n in names]) + " |")
    return lines


def overwrite_losses(records):
    """Lines for "where segcached is behind": every segcached run that
    lost a key or evicted a live item."""
    out = []
    for r in overwrite_rows(records):
        if r["server"] != "segcached":
            continue
        ev, he = r.get("evicted") or 0, r.get("hash_evict") or 0
        if r["keys_missing"] or ev or he:
            out.append(f"- load 7, {r['proto']} -t {r['threads']} -m "
                       f"{r['mib']} {r['seconds']} s: {r['keys_missing']:,} "
                       f"of {r['keys_written']:,} keys written missing, "
                       f"seg_evict_item {ev:,}, seg_hash_evict {he:,}")
    return out


# ---- plots ----

def gnuplot(script):
    if not shutil.which("gnuplot"):
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
    return r.returncode == 0


def bar_panel(fig, load, metric, datafile):
    """One histogram panel: a group per case, a bar per server, the
    min-max range as an error bar."""
    srv = fig.servers(load)
    with open(datafile, "w") as f:
        for case in fig.cases.get(load, []):
            row = [f'"{case}"']
            for s in srv:
                v = fig.get(load, case, s, metric)
                row += ["?", "?", "?"] if v is None else \
                    [repr(v[0]), repr(v[1]), repr(v[2])]
            f.write(" ".join(row) + "\n")
    parts = []
    for i, s in enumerate(srv):
        src = f"'{datafile}'" if i == 0 else "''"
        xtic = ":xtic(1)" if i == 0 else ""
        parts.append(f"{src} using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}{xtic}"
                     f" title '{s}' lc rgb '{COLORS[s]}'")
    label = METRICS[metric][0]
    better = METRICS[metric][1]
    if better:
        label += f" ({better} is better)"
    return (f"set title '{label}'\nset yrange [0:*]\n"
            f"plot {', '.join(parts)}\n")


def plot_load(fig, load, metrics, out):
    png = os.path.join(out, f"load{load}.png")
    width = 560 * len(metrics)
    script = [f"set terminal pngcairo size {width},420 font 'sans,9'",
              f"set output '{png}'",
              "set datafile missing '?'",
              "set style data histogram",
              "set style histogram errorbars gap 1 lw 1",
              "set style fill solid 0.85 border -1",
              "set boxwidth 0.9", "set key top left", "set grid ytics",
              "set xtics rotate by -20",
              f"set multiplot layout 1,{len(metrics)}"]
    for i, m in enumerate(metrics):
        script.append(bar_panel(fig, load, m,
                                os.path.join(out, f"load{load}_{m}.dat")))
    script.append("unset multiplot")
    return os.path.basename(png) if gnuplot("\n".join(script)) else None


def plot_windows(records, out, load="5", part="tenth"):
    """Loads 5 and 13: misses per get in each window of the run (median
    over repetitions), one line per server and case."""
    curves = {}
    for r in records:
        if r["load"] == load and "window_miss_ratio" in r:
            curves.setdefault((r["case"], r["server"]), []).append(
                r["window_miss_ratio"])
    if not curves:
        return None
    dat = os.path.join(out, f"load{load}_windows.dat")
    keys = sorted(curves)
    n = min(len(c) for runs in curves.values() for c in runs)
    with open(dat, "w") as f:
        for w in range(n):
            row = [str(w + 1)]
            for k in keys:
                row.append(repr(statistics.median(c[w] for c in curves[k])))
            f.write(" ".join(row) + "\n")
    png = os.path.join(out, f"load{load}_windows.png")
    cases = sorted({k[0] for k in keys})
    plots = [f"'{dat}' using 1:{i + 2} with linespoints title "
             f"'{k[1]}, {k[0]}' lc rgb '{COLORS[k[1]]}' "
             f"dt {1 + cases.index(k[0]) % 4}"
             for i, k in enumerate(keys)]
    script = ["set terminal pngcairo size 800,420 font 'sans,9'",
              f"set output '{png}'",
              f"set title 'misses per get in each {part} of the run'",
              f"set xlabel '{part} of the gets'",
              "set ylabel 'misses per get'",
              "set grid", "set key top right",
              "plot " + ", ".join(plots)]
    return os.path.basename(png) if gnuplot("\n".join(script)) else None


# ---- the report ----

def header(meta, noise):
    p = meta.get("params", {})
    v = meta.get("versions", {})
    mib = p.get("budget", 0) // (1 << 20)
    lines = [
        "# segcached, memcached and Redis side by side", "",
        f"Run {meta.get('date', '?')}, {meta.get('profile')} profile, "
        f"{meta.get('seconds', 0) / 60:.1f} minutes, commit "
        f"{meta.get('commit', '?')}{' (with local changes)' if meta.get('dirty') else ''}.",
        "", "```", meta.get("command", "?"), "```", "",
        f"- Machine: {meta.get('ncpu')} x {meta.get('cpu')}, Linux "
        f"{meta.get('kernel')}.",
        f"- Servers: {v.get('segcached')}; {v.get('memcached')}; "
        f"{v.get('redis')}.",
        f"- Byte budget {p.get('budget')} bytes ({mib} MiB) for every server "
        "unless a load says otherwise: segcached `seg.memory` (segments, "
        "hash table and metadata), memcached `-m` (slab memory only: its "
        "hash table and connection buffers come on top), Redis `maxmemory` "
        "(`allkeys-lru`, its own accounting of used memory). RSS is shown "
        "beside item counts.",
        "- Every server on its defaults but for the budget and threads "
        "(segcached: merge eviction, `seg.memory` as above; run as `nobody` "
        "when started by root, as memcached is).",
        f"- One server thread each (segcached `-t 1`, memcached `-t 1`, "
        "Redis's single command thread) except in loads 6 and 7. Servers "
        f"pinned with taskset to CPU {meta.get('server_cpus')}, clients to "
        f"CPU {meta.get('client_cpu')}.",
        f"- {p.get('reps')} repetition{'s' if p.get('reps') != 1 else ''}; every case runs against each server "
        "in turn, and each repetition starts with the next server. Cells "
        "are `median [min-max]`; ratios are segcached's median over the "
        "peer's, marked `(behind)` where segcached is worse.",
        "- Server CPU time per request is the server process's CPU time "
        "(all threads, from /proc/PID/task/*/schedstat) over the run divided by the "
        "requests: without pipelining the client's core is the limit, so "
        "this is the figure that compares servers. The share of it spent "
        "in user space comes from utime and stime in /proc/PID/stat, "
        "which the kernel samples at its tick (100 Hz): short runs read "
        "coarsely.", "",
        "Noise: what other processes used while each load ran (share of "
        "all CPUs, from /proc/stat minus this run's own processes), and "
        "/proc/loadavg before and after:", "",
        "| load | seconds | other processes' CPU | loadavg before | after |",
        "|---|---|---|---|---|"]
    for k in sorted(noise):
        n = noise[k]
        lines.append(f"| {k} | {n['seconds']:.0f} | "
                     f"{100 * n['other_cpu_share']:.0f}% | "
                     f"{n['loadavg_before']} | {n['loadavg_after']} |")
    return lines


def write(out):
    with open(os.path.join(out, "results.json")) as f:
        data = json.load(f)
    meta, records = data["meta"], data["records"]
    notes, noise = data.get("notes", {}), data.get("noise", {})
    fig = Figures(records)
    lines = header(meta, noise)
    behind = []
    for load, (title, metrics, plotted) in LOADS.items():
        if load not in fig.cases and load not in notes:
            continue
        lines += ["", f"## {load}. {title}", ""]
        for n in notes.get(load, []):
            lines += [f"**Note:** {n}", ""]
        if load not in fig.cases:
            continue
        lines += LOAD_NOTES.get(load, lambda m: [])(meta)
        if load == "7":
            lines += overwrite_tables(records)
            continue
        lines.append(load_table(fig, load, metrics, behind))
        png = plot_load(fig, load, plotted, out)
        if png:
            lines += ["", f"![load {load}]({png})"]
        if load in ("5", "13"):
            png = plot_windows(records, out, load,
                               "tenth" if load == "5" else "thirtieth")
            if png:
                lines += ["", f"![load {load} by window]({png})"]
    lines += ["", "## Where segcached is behind", ""]
    losses = overwrite_losses(records)
    if not behind and not losses:
        lines.append("Nowhere in this run.")
    lines += losses
    for load, case, label, peer, r, noisy in behind:
        lines.append(f"- load {load}, {case}, {label}: {r:.2f} x {peer}"
                     f"{' (the ranges overlap: within noise)' if noisy else ''}")
    path = os.path.join(out, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def notes1(meta):
    keys = meta.get("params", {}).get("rb_keys", 0)
    return [f"Both servers hold the {keys:,} keys redis-benchmark draws from "
            "(`-r`), loaded before the run, so every GET hits.", ""]


def notes3(meta):
    return ["`PING` is segcached's ping listener (`PING\\r\\n` -> "
            "`PONG\\r\\n`): the event loop, read and write with no parsing "
            "of a real protocol and no store. The store's cost is the "
            "difference between a GET row and the PING row.", ""]


def notes4(meta):
    p = meta.get("params", {})
    return [f"Keys are written in chunks of {p.get('fill_chunk')} (per value "
            "size) until the server's eviction counter moves, then one more "
            "chunk; then every key written is read back and the hits are "
            "the items held. Overhead per item = (budget or RSS) / items "
            "held - (16 + value) bytes.", ""]


def notes5(meta):
    p = meta.get("params", {})
    mib = p.get("zipf_budget", 0) // (1 << 20)
    return [f"{p.get('zipf_keys'):,} keys, {p.get('zipf_value')}-byte "
            f"values, {p.get('zipf_gets'):,} gets (4 connections, 16 in "
            f"flight each), seed 42, the same byte budget of {mib} MiB for "
            "every server. The miss ratio does not depend on speed, so the "
            "three servers run at the same time, each with its own client, "
            "unpinned. `no TTL`: items never expire. `TTL mix`: "
            f"{100 * p.get('ttl_short_frac', 0):.0f}% of the keys (chosen by "
            f"a hash of the key) are set with a {p.get('ttl_short')} s TTL, "
            f"the rest with {p.get('ttl_long')} s, and every client sends "
            f"at most {p.get('zipf_rate'):,} gets/s so expiry falls at the "
            "same point of the trace for every server (`gets/s achieved` "
            "shows whether a server kept up). Misses per get are counted "
            "over the last 30% of the gets, once every server has been "
            "evicting for a while (the plot below shows each tenth); the "
            "whole-run figure is beside it.", ""]


def notes13(meta):
    p = meta.get("params", {})
    return [f"{p.get('mpb_keys'):,} keys, {p.get('mpb_value')}-byte values, "
            f"{p.get('mpb_gets'):,} gets (4 connections, 16 in flight "
            "each), seed 42, get then set on a miss; the three servers run "
            "at once, each with its own client, on the same byte budget "
            "(segcached `-m`, memcached `-m`, Redis `maxmemory` with "
            "`allkeys-lru`). Misses per get over the last 30% of the gets, "
            "and after the first third of them (the warm-up, as issue 22's "
            "table counts them). `scan`: half of the gets ask for a key never asked "
            "for before (and set it on the miss), so a cache that admits "
            "everything is polluted by keys read once; those gets miss on "
            "every server and are counted.", ""]


def notes6(meta):
    return ["With 2 threads the servers may use both CPUs, one of them the "
            "client's: on a 2-core machine this shows contention, not "
            "scaling. Redis has no equivalent setting (its io-threads only "
            "move socket I/O) and is left out.", ""]


def notes2(meta):
    return ["memaslap reports latency as a mean and as counts per "
            "power-of-two microseconds: its p99 here is the upper edge of "
            "the bucket that holds the 99th percentile.", ""]


def notes7(meta):
    return ["The reproduction of issue 13, with loadgen's `overwrite` mode: "
            "50 connections, one set in flight each, 1000-byte values over "
            "random keys 1..7000 (about 7 MB live) for the given seconds; "
            "the client remembers every key that got `STORED` / `+OK` and "
            "reads each back afterwards. memcache `set k 0 0 1000`; RESP "
            "`SET k v EX 3600`. A fresh server for every run, pinned to one "
            "CPU even with `-t 2` (the client on the other), with the byte "
            "budget of its row (segcached `-m`, memcached `-m`, Redis "
            "`maxmemory` with `allkeys-lru`; Redis has one command thread). "
            "Live items evicted: segcached `seg_evict_item`, memcached "
            "`evictions`, Redis `evicted_keys`. Bytes copied per byte "
            "written: `seg_compact_bytes` over sets x 1000, when the binary "
            "counts compaction. Set latencies are the client's, per request "
            "(queued to reply), from 1 us buckets; max is exact.", ""]


def notes8(meta):
    return ["Each data set is loaded into a fresh segcached (2 GiB "
            "`seg.memory`) and a fresh redis-server, over one connection in "
            "pipelined batches of 1000, and checked (HLEN/SCARD of every "
            "key, spot reads). Redis: delta of INFO `used_memory`. "
            "segcached: delta of (`seg_item_bytes` + 8 x `seg_item_curr`), "
            "the live items and their hash slots; `segments taken` is the "
            "delta of `seg_seg_free` x 1 MiB, which also holds dead copies "
            "not yet reclaimed. See types_memory.py's docstring.", ""]


def notes9(meta):
    return ["One command thread each (segcached `-t 1`), server pinned to "
            "one CPU and redis-benchmark (50 connections) to the other; "
            "see types_speed.py's docstring for every case.", ""]


def notes10(meta):
    return ["segcached `-t 2`; the GET/SET load (loadgen rr, 8 connections "
            "x 16 pipelined, 10,000 keys) and 4 transfer clients (8 "
            "transactions per round trip, at most 20,000 a second, between "
            "100 keys) share the 2 CPUs with the workers. Issue 17 asks "
            "that the load keep 90% of its rate alone; against the same "
            "commands without MULTI it shows what atomicity alone costs "
            "the other clients. The accounts' sum is checked to be 0.", ""]


def notes11(meta):
    return ["One publisher pipelining `PUBLISH bench <64 bytes>` (64 in "
            "flight) and 1 or 100 subscribers of the channel, in one client "
            "process; redis-server and segcached `-t 1` pinned to CPU 0, "
            "segcached `-t 2` (cases marked 2 workers) unpinned, so messages "
            "cross workers. Issue 19 asks for at least Redis's rate at no "
            "more CPU per delivered message.", ""]


def notes14(meta):
    return ["Leaderboard: segcached -t 1 and Redis pinned to one CPU, two "
            "redis-benchmark clients at once (ZINCRBY on 40 connections, "
            "ZREVRANGE on 10), CPU per request of both. Queue: segcached "
            "-t 2 (producers and consumers on both workers: a push wakes a "
            "blocked consumer on the other worker), Redis its one thread, "
            "neither pinned; 4 producer processes at 2,000 LPUSH/s each, 4 "
            "consumer processes in BRPOP; latency is the pop reply's "
            "arrival minus the element's send time, client time included; "
            "every element is checked to be popped exactly once.", ""]


def notes12(meta):
    return ["segcached `-t 2`, its workers pinned to CPUs 0 and 1. Worker 0 "
            "serves the 4 transfer clients (8 MULTI/INCRBY/DECRBY/EXEC "
            "transactions per round trip between 100 keys, no rate limit, "
            "client processes on CPU 0) and idle connections that keep the "
            "GET/SET load off it; the GET/SET load (loadgen rr on CPU 1, 8 "
            "connections x 16 pipelined, 10,000 keys) is on worker 1, "
            "checked through the admin port while it runs. Issue 17 asks "
            "that it keep 90% of its rate alone. Two controls: the same "
            "transfers without MULTI, and the same MULTI/EXEC transfers sent "
            "to a second segcached (-t 1 on CPU 0), which loads the machine "
            "alike but shares nothing in the server. The accounts' sums are "
            "checked to be 0.", ""]


LOAD_NOTES = {"1": notes1, "2": notes2, "3": notes3, "4": notes4, "5": notes5,
              "6": notes6, "7": notes7, "8": notes8, "9": notes9,
              "10": notes10, "11": notes11, "12": notes12, "13": notes13,
              "14": notes14}


if __name__ == "__main__":
    print(write(sys.argv[1] if len(sys.argv) > 1 else "build/bench"))

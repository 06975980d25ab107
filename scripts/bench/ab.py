# SPDX-License-Identifier: Apache-2.0
"""A/B: two segcached binaries side by side in one run, with the same
client (loadgen rr), to measure a change to a hot path before it lands.

    scripts/build.sh release && cp build/release/segcached /tmp/seg-b
    git stash; scripts/build.sh release; cp build/release/segcached /tmp/seg-a
    git stash pop
    python3 scripts/bench/ab.py --a /tmp/seg-a --b /tmp/seg-b

One binary against itself with a setting changed on one side:

    python3 scripts/bench/ab.py --a B --b B --b-opts '-o hotkey.sample_rate=0'

One binary against itself with B holding three 100 MB values (issue 18:
small items beside large values; scripts/bench/large_beside.py counts the
items side):

    python3 scripts/bench/ab.py --a B --b B --memory 512 \
        --b-large 3x100000000 --together

Each repetition starts A and B afresh and runs every case against A and B
in turn (alternating which goes first), server on one CPU and client on
another as bench.py does; with --together both clients run at once and the
two servers share the server CPU, which cancels this machine's drift (the
way to see a 1-2% change here). The table gives medians of requests/s and
server CPU time per request, B's over A's, and the median of each
repetition's own B/A ("paired"). Nothing here asserts a number."""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
from servers import Server  # noqa: E402

# (label, protocol, request kind, pipeline, requests)
CASES = [("ping P1", "ping", "ping", 1, 60000),
         ("ping P16", "ping", "ping", 16, 600000),
         ("memcache GET P1", "memcache", "get", 1, 60000),
         ("memcache GET P16", "memcache", "get", 16, 600000),
         ("resp GET P16", "resp", "get", 16, 600000),
         ("resp SET P16", "resp", "set", 16, 400000)]
KEYS = 10000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="segcached binary A (before)")
    ap.add_argument("--b", required=True, help="segcached binary B (after)")
    ap.add_argument("--a-opts", default="", help="more arguments for A")
    ap.add_argument("--b-opts", default="", help="more arguments for B")
    ap.add_argument("--cases", default="",
                    help="comma-separated case labels to run (default all)")
    ap.add_argument("--loadgen", default="build/bench/loadgen")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--together", action="store_true",
                    help="run A's and B's clients at the same time, both "
                    "servers sharing the server CPU, so drift in the "
                    "machine's speed hits both alike (requests/s are then "
                    "each server's share, CPU per request is the figure)")
    ap.add_argument("--memory", type=int, default=64,
                    help="MiB: seg.memory of both")
    ap.add_argument("--b-large", default="",
                    help="COUNTxBYTES: B is given that many values of that "
                    "size (over RESP, each read back) before the cases")
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1,
                    help="worker threads; above 1 the server may use every "
                    "CPU, the client's too")
    args = ap.parse_args()
    servers.build_loadgen(args.loadgen)
    cpus = sorted(os.sched_getaffinity(0))
    client_cpu = str(cpus[0]) if len(cpus) >= 2 else None
    server_cpu = str(cpus[1]) if len(cpus) >= 2 else None
    if args.threads > 1:
        server_cpu = None
    logdir = tempfile.mkdtemp(prefix="segcached-ab-")
    cases = [c for c in CASES
             if not args.cases or c[0] in args.cases.split(",")]
    opts = {"A": args.a_opts.split(), "B": args.b_opts.split()}

    def client(argv):
        return servers.run_loadgen(argv, client_cpu)

    def start(name, path):
        s = Server("segcached", args.memory << 20, args.threads, server_cpu,
                   logdir, path, extra=opts[name]).start()
        if name == "B" and args.b_large:
            from large_beside import put_large
            count, size = (int(x) for x in args.b_large.split("x"))
            put_large(s.addr["resp"], count, size)
        for proto in ("memcache", "resp"):
            client([args.loadgen, "fill", "-s", s.addr[proto], "-P", proto,
                    "--from", 0, "--to", KEYS])
        return s

    def together(srv, argv, order):
        """Both clients at once, both servers on the one server CPU: what
        the machine does to one (another tenant, a frequency step) it does
        to the other in the same instant, so their ratio keeps only what
        differs between A and B."""
        import subprocess
        procs, c0 = {}, {}
        for name in order:
            c0[name] = srv[name].cpu_seconds()
            a = [str(x) for x in argv[name]]
            if client_cpu is not None:
                a = ["taskset", "-c", client_cpu] + a
            procs[name] = subprocess.Popen(a, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
        got = {}
        for name in order:
            out, err = procs[name].communicate(timeout=600)
            if procs[name].returncode != 0:
                raise RuntimeError(f"{argv[name]}: {err[-300:]}")
            got[name] = (dict(kv.split("=", 1) for kv in out.split()),
                         srv[name].cpu_seconds() - c0[name])
        return got

    srv = {}
    try:
        res = {}  # (case, name) -> [(rps, cpu_us)]
        for rep in range(args.reps):
            order = ["A", "B"] if rep % 2 == 0 else ["B", "A"]
            # fresh processes each repetition: where a process's code, heap
            # and stacks land moves its speed by several percent for its
            # whole life, so one pair kept for every repetition measures
            # that luck, not the change
            servers.stop_all()
            srv = {name: start(name, path)
                   for name, path in (("A", args.a), ("B", args.b))}
            for label, proto, kind, pl, n in cases:
                argv = {name: [args.loadgen, "rr", "-s", srv[name].addr[proto],
                               "-P", proto, "--kind", kind, "--conns",
                               args.conns, "--pipeline", pl, "--requests", n,
                               "--keys", KEYS] for name in order}
                if args.together:
                    got = together(srv, argv, order)
                else:
                    got = {}
                    for name in order:
                        c0 = srv[name].cpu_seconds()
                        r = client(argv[name])
                        got[name] = (r, srv[name].cpu_seconds() - c0)
                for name in order:
                    r, cpu = got[name]
                    cpu_us = cpu * 1e6 / n
                    res.setdefault((label, name), []).append(
                        (float(r["rps"]), cpu_us))
                    print(f"  {label:<18} {name} rep {rep}: "
                          f"rps={float(r['rps']):.0f} cpu_us={cpu_us:.3f}",
                          flush=True)
    finally:
        servers.stop_all()
    print(f"\nA = {args.a} {args.a_opts}\nB = {args.b} {args.b_opts}\n"
          f"{args.reps} repetitions, "
          f"{args.conns} connections, {args.threads} worker thread(s), "
          f"medians\n")
    print("| case | A requests/s | B requests/s | B/A | A CPU us/req | "
          "B CPU us/req | B/A | B/A paired (min-max) |")
    print("|---|---|---|---|---|---|---|---|")
    for label, *_ in cases:
        a, b = res[(label, "A")], res[(label, "B")]
        ar = statistics.median(x[0] for x in a)
        br = statistics.median(x[0] for x in b)
        ac = statistics.median(x[1] for x in a)
        bc = statistics.median(x[1] for x in b)
        # each repetition's B over its own A: what drifts between
        # repetitions cancels
        pr = sorted(y[1] / x[1] for x, y in zip(a, b))
        print(f"| {label} | {ar:,.0f} | {br:,.0f} | {br / ar:.3f} | "
              f"{ac:.3f} | {bc:.3f} | {bc / ac:.3f} | "
              f"{statistics.median(pr):.3f} ({pr[0]:.3f}-{pr[-1]:.3f}) |")


if __name__ == "__main__":
    t0 = time.monotonic()
    main()
    print(f"\n{time.monotonic() - t0:.0f} s")

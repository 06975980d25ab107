# SPDX-License-Identifier: Apache-2.0
"""Bitmaps and HyperLogLog: segcached beside Redis 7.0.15 with
redis-benchmark's custom commands, in alternation.

    flock /tmp/segcached-cpu.lock python3 scripts/bench/bits.py --reps 3

Each server (one worker thread; Redis is single-threaded) is pinned to CPU
0 and redis-benchmark to CPU 1: 50 connections, -P 16, random keys from a
space (__rand_int__, which redis-benchmark zero-pads, so it cannot be an
offset: Redis refuses leading zeros): SETBIT of bit 8000 of 100,000 keys
(the first SETBIT of a key creates its 1001 bytes, about a quarter of the
requests; the rest find the bit set and write nothing), BITCOUNT of them, PFADD of random elements into 1,000 keys
(sparse HLLs of about 1 KiB) and PFCOUNT of them, then PFADD into one key
(a dense HLL, 12 KiB, every change on one stripe) and PFCOUNT of it. Requests/s as
redis-benchmark reports them and the server's CPU time per request (every
thread's /proc schedstat run time). Medians of --reps runs. Nothing here
asserts a number."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import Server, stop_all  # noqa: E402

# name, command (redis-benchmark replaces each __rand_int__ with its own
# random number below -r), requests, -r
CASES = [
    ("SETBIT", ["SETBIT", "bits:__rand_int__", "8000", "1"], 400000, 100000),
    ("BITCOUNT", ["BITCOUNT", "bits:__rand_int__"], 400000, 100000),
    ("PFADD", ["PFADD", "hll:__rand_int__", "el:__rand_int__"], 400000, 1000),
    ("PFCOUNT", ["PFCOUNT", "hll:__rand_int__"], 400000, 1000),
    ("PFADD one key", ["PFADD", "hot", "el:__rand_int__"], 200000, 1000000),
    ("PFCOUNT one key", ["PFCOUNT", "hot"], 200000, 1),
]


def run_case(srv, case):
    name, cmd, n, r = case
    host, port = srv.addr["resp"].rsplit(":", 1)
    argv = ["taskset", "-c", "1", "redis-benchmark", "-h", host, "-p", port,
            "-c", "50", "-P", "16", "-n", str(n), "-r", str(r), "-q",
            "--csv", *cmd]
    cpu0 = srv.cpu_seconds()
    out = subprocess.run(argv, check=True, capture_output=True,
                         text=True).stdout
    cpu = srv.cpu_seconds() - cpu0
    line = [ln for ln in out.splitlines() if ln and not ln.startswith('"t')]
    rps = float(line[-1].split(",")[1].strip('"'))
    return rps, cpu / n * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--segcached", default=os.path.join(
        os.path.dirname(__file__), "..", "..", "build", "release",
        "segcached"))
    a = ap.parse_args()
    logdir = tempfile.mkdtemp(prefix="bench-bits-")
    os.chmod(logdir, 0o777)
    res = {}
    try:
        for rep in range(a.reps):
            for kind in ("segcached", "redis"):
                srv = Server(kind, 256 << 20, 1, "0", logdir,
                             os.path.abspath(a.segcached)).start()
                for case in CASES:
                    rps, us = run_case(srv, case)
                    res.setdefault((case[0], kind), []).append((rps, us))
                    print(f"rep {rep} {kind} {case[0]}: {rps:,.0f} req/s "
                          f"{us:.3f} us/req", flush=True)
                srv.stop()
    finally:
        stop_all()
    print("\n| command (-P 16) | segcached req/s | Redis req/s | segcached "
          "CPU us/req | Redis CPU us/req | CPU segcached/Redis |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        s = res[(case[0], "segcached")]
        r = res[(case[0], "redis")]
        srps = statistics.median(x[0] for x in s)
        rrps = statistics.median(x[0] for x in r)
        sus = statistics.median(x[1] for x in s)
        rus = statistics.median(x[1] for x in r)
        print(f"| {case[0]} | {srps:,.0f} | {rrps:,.0f} | {sus:.3f} | "
              f"{rus:.3f} | {sus / rus:.3f} |")


if __name__ == "__main__":
    main()

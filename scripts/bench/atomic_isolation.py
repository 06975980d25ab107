# SPDX-License-Identifier: Apache-2.0
"""Issue 17: do transactions stop the rest of the server? A GET/SET load
on its own keys runs alone, then beside connections running MULTI/EXEC
transfers between 100 keys, then (the control) beside the same commands
sent without MULTI/EXEC, on a segcached with 2 workers.

    flock /tmp/segcached-cpu.lock python3 scripts/bench/atomic_isolation.py

The GET/SET load is loadgen rr (resp, 8 connections x 16 pipelined, 10,000
keys of its own, GET then SET); the transfers come from --tx-conns client
processes, each sending --tx-pipeline transactions per round trip of
`MULTI, INCRBY a n, DECRBY b n, EXEC` between random keys of 100 (or the
same two commands alone, for the control), at most --tx-rate transactions
per second in all. The machine has 2 CPUs for the server's 2 workers and
every client, so a transfer load takes CPU from the GET/SET load whatever
the locking does: "with MULTI" over "alone" mixes the two, "with MULTI"
over "same commands, no MULTI" isolates what atomicity costs the other
clients. The 100 keys' sum is checked to be 0 at the end (transfers keep
it). Medians of --reps repetitions, cases alternating. Prints a table;
asserts no speed."""

import argparse
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
from servers import Server  # noqa: E402

ACCOUNTS = 100


def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def transfers(addr, multi, pipeline, rate, stop, seed, done):
    """One client: rounds of `pipeline` transfers until stop is set (a
    round is never cut, so the sum holds without MULTI too), at most rate
    transfers per second; counts them into done."""
    host, port = addr.rsplit(":", 1)
    rnd = random.Random(seed)
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # replies a transfer: +OK +QUEUED +QUEUED *2 :n :n (6 lines), or :n :n
    lines = 6 if multi else 2
    n, t0 = 0, time.monotonic()
    while not stop.is_set():
        out = b""
        for _ in range(pipeline):
            a, b = rnd.sample(range(ACCOUNTS), 2)
            amt = rnd.randint(1, 100)
            body = enc("INCRBY", f"acct:{a}", amt) + \
                enc("DECRBY", f"acct:{b}", amt)
            out += enc("MULTI") + body + enc("EXEC") if multi else body
        s.sendall(out)
        want, got, last = lines * pipeline, 0, b""
        while got < want:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("closed")
            got += (last + chunk).count(b"\r\n")
            last = chunk[-1:] if chunk[-1:] == b"\r" else b""
        n += pipeline
        with done.get_lock():
            done.value += pipeline
        ahead = n / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    s.close()


def account_sum(addr):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        s.sendall(enc("MGET", *[f"acct:{i}" for i in range(ACCOUNTS)]))
        data = b""
        while data.count(b"\r\n") < 1 + 2 * ACCOUNTS:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    total = 0
    for line in data.split(b"\r\n")[1:]:
        if line and not line.startswith((b"$", b"*")):
            total += int(line)
    return total


CASES = ["alone", "with MULTI/EXEC", "same commands, no MULTI"]


def run(segcached, loadgen, reps, requests, tx_conns, tx_pipeline, tx_rate,
        logdir, record=None):
    """Every case `reps` times; returns ({(case, kind): [rps]},
    {case: [transfers/s]}, the accounts' sum). record(case, rep, rps,
    tx_rate) hears of each measurement."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "loadgen.c")
    if not os.path.exists(loadgen) or \
            os.path.getmtime(src) > os.path.getmtime(loadgen):
        os.makedirs(os.path.dirname(loadgen) or ".", exist_ok=True)
        subprocess.run(["cc", "-std=c11", "-O2", "-D_GNU_SOURCE", "-o",
                        loadgen, src, "-lm"], check=True)
    srv = Server("segcached", 256 << 20, 2, None, logdir, segcached).start()
    addr = srv.addr["resp"]
    res = {(c, k): [] for c in CASES for k in ("get", "set")}
    txs = {c: [] for c in CASES}
    try:
        subprocess.run([loadgen, "fill", "-s", addr, "-P", "resp",
                        "--from", "0", "--to", "10000"], check=True,
                       capture_output=True)
        for rep in range(reps):
            order = CASES if rep % 2 == 0 else CASES[::-1]
            for case in order:
                for kind in ("get", "set"):
                    done = multiprocessing.Value("q", 0)
                    stop = multiprocessing.Event()
                    procs = []
                    tx0 = time.monotonic()
                    if case != "alone":
                        # the transfers outlast the GET/SET run and are
                        # stopped after it
                        for i in range(tx_conns):
                            p = multiprocessing.Process(
                                target=transfers,
                                args=(addr, case.startswith("with"),
                                      tx_pipeline, tx_rate / tx_conns, stop,
                                      rep * 100 + i, done),
                                daemon=True)
                            p.start()
                            procs.append(p)
                        time.sleep(0.5)  # transfers under way
                    r = subprocess.run(
                        [loadgen, "rr", "-s", addr, "-P", "resp", "--kind",
                         kind, "--conns", "8", "--pipeline", "16",
                         "--requests", str(requests), "--keys", "10000"],
                        capture_output=True, text=True, check=True)
                    stop.set()
                    for p in procs:
                        p.join()
                    tx_seconds = time.monotonic() - tx0
                    out = dict(kv.split("=", 1) for kv in r.stdout.split())
                    rps = float(out["rps"])
                    res[(case, kind)].append(rps)
                    # counted by whole rounds the clients finished
                    tx = done.value / tx_seconds if procs else 0.0
                    if procs:
                        txs[case].append(tx)
                    if record is not None:
                        record(f"{kind.upper()} {case}", rep, rps, tx)
                    else:
                        print(f"  rep {rep} {case:24} {kind}: rps={rps:.0f}",
                              file=sys.stderr)
        total = account_sum(addr)
    finally:
        srv.stop()
    return res, txs, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segcached", default="build/release/segcached")
    ap.add_argument("--loadgen", default="build/bench/loadgen")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--requests", type=int, default=600000,
                    help="GET/SET requests per measurement")
    ap.add_argument("--tx-conns", type=int, default=4)
    ap.add_argument("--tx-pipeline", type=int, default=8)
    ap.add_argument("--tx-rate", type=int, default=20000,
                    help="transfers per second, all clients together")
    args = ap.parse_args()
    t0 = time.time()
    try:
        res, txs, total = run(args.segcached, args.loadgen, args.reps,
                              args.requests, args.tx_conns, args.tx_pipeline,
                              args.tx_rate,
                              tempfile.mkdtemp(prefix="segcached-atomic-"))
    finally:
        servers.stop_all()
    print(f"segcached, 2 workers; GET/SET: loadgen rr, 8 connections x 16 "
          f"pipelined; transfers: {args.tx_conns} clients x "
          f"{args.tx_pipeline} pipelined, at most {args.tx_rate}/s; "
          f"{args.reps} repetitions, medians\n")
    print("| GET/SET load | alone (requests/s) | beside MULTI/EXEC "
          "transfers | beside the same commands without MULTI | MULTI / "
          "alone | MULTI / no MULTI |")
    print("|---|---|---|---|---|---|")
    for kind in ("get", "set"):
        a = statistics.median(res[("alone", kind)])
        m = statistics.median(res[("with MULTI/EXEC", kind)])
        p = statistics.median(res[("same commands, no MULTI", kind)])
        print(f"| {kind.upper()} | {a:,.0f} | {m:,.0f} | {p:,.0f} | "
              f"{m / a:.3f} | {m / p:.3f} |")
    for case in CASES[1:]:
        print(f"\ntransfers per second {case}: "
              f"{statistics.median(txs[case]):,.0f}", end="")
    print(f"\n\nthe 100 accounts sum to {total} (transfers keep 0)")
    print(f"\n{time.time() - t0:.0f} s")
    if total != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()

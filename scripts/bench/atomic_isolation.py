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
asserts no speed.

With --pinned (load 12 of run.sh) the two loads are kept apart as the
issue describes them: the workers are pinned to CPUs 0 and 1, the
transfers' connections are placed on worker 0 (the admin port's `clients`
says which worker serves a connection; the server gives a new one to the
worker with the fewest) and their client processes run on CPU 0, the
GET/SET load's connections land on worker 1 and loadgen runs on CPU 1;
the transfers are not rate-limited. What the GET/SET load loses then is
what the transfers cost it through the store and the stripe holds, not
CPU taken from it.

    flock /tmp/segcached-cpu.lock python3 scripts/bench/atomic_isolation.py --pinned"""

import argparse
import multiprocessing
import os
import random
import re
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


def transfers(conn, multi, pipeline, rate, stop, seed, done):
    """One client on conn (an address, or a connected socket it leaves
    open): rounds of `pipeline` transfers until stop is set (a round is
    never cut, so the sum holds without MULTI too), at most rate transfers
    per second (0: as fast as it goes); counts them into done."""
    rnd = random.Random(seed)
    if isinstance(conn, str):
        host, port = conn.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        s = conn
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
        ahead = n / rate - (time.monotonic() - t0) if rate else 0
        if ahead > 0:
            time.sleep(ahead)
    if s is not conn:
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
    servers.build_loadgen(loadgen)
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



# ---- load 12: the transfers on one worker, the GET/SET load on the other ----

def admin_workers(admin):
    """{client port: worker} of every resp connection, from the admin
    port's `clients` listing."""
    host, port = admin.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as a:
        a.sendall(b"clients\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = a.recv(1 << 16)
            if not chunk:
                raise RuntimeError("admin port closed")
            data += chunk
    out = {}
    for m in re.finditer(rb"addr=[\d.]+:(\d+) proto=resp worker=(\d+)", data):
        out[int(m.group(1))] = int(m.group(2))
    return out


def pin(addr, admin, worker, n):
    """n connections the server gave to `worker`. The server gives a new
    connection to the worker with the fewest (round robin among equals), so
    connections are opened until `worker` has n, every other one is kept
    open meanwhile (else the next would go to the same other worker), then
    those are closed."""
    host, port = addr.rsplit(":", 1)
    mine, others = [], []
    while len(mine) < n:
        s = socket.create_connection((host, int(port)))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(enc("PING"))
        if s.recv(64) != b"+PONG\r\n":
            raise RuntimeError("no PONG")
        where = admin_workers(admin).get(s.getsockname()[1])
        (mine if where == worker else others).append(s)
        if len(others) > 4 * n:
            raise RuntimeError(f"worker {worker} is never picked")
    for s in others:
        s.close()
    return mine


def per_worker(admin):
    counts = {}
    for w in admin_workers(admin).values():
        counts[w] = counts.get(w, 0) + 1
    return counts


def settle(admin, worker, n, timeout=10.0):
    """Waits until `worker` serves exactly its n pinned connections and the
    other none (the last case's clients are reclaimed)."""
    deadline = time.monotonic() + timeout
    while True:
        c = per_worker(admin)
        if c.get(worker, 0) == n and sum(c.values()) == n:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"connections per worker {c}, want "
                               f"{n} on worker {worker} only")
        time.sleep(0.05)


def pinned_transfers(fd, multi, pipeline, rate, stop, seed, done, cpu):
    """transfers() on an inherited connection (fork), on one CPU."""
    os.sched_setaffinity(0, {cpu})
    s = socket.socket(fileno=os.dup(fd))
    try:
        transfers(s, multi, pipeline, rate, stop, seed, done)
    finally:
        s.close()


ANOTHER = "MULTI/EXEC to another server"
PINNED_CONNS = 24  # on the transfers' worker: more than 16 (2 loadgen runs)


def run_pinned(segcached, loadgen, reps, requests, tx_conns, tx_pipeline,
               tx_rate, logdir, record=None):
    """Load 12: segcached -t 2, workers pinned to CPUs 0 and 1. Worker 0
    carries PINNED_CONNS connections (tx_conns of them the transfers', from
    client processes on CPU 0); the GET/SET load (loadgen rr on CPU 1, 8
    connections) lands on worker 1, which has none: the server gives a new
    connection to the worker with the fewest. Each GET/SET run is watched
    through the admin port: none of its connections may reach worker 0.
    One case more than run(): the same MULTI/EXEC transfers sent to a
    second segcached (-t 1, pinned to CPU 0), so the machine is as busy as
    with them but nothing inside the server is shared; what the GET/SET
    load loses there is the machine's (CPU 0's work slowing CPU 1), not
    the server's. Returns as run() does, the sums of both servers added."""
    servers.build_loadgen(loadgen)
    srv = Server("segcached", 256 << 20, 2, None, logdir, segcached,
                 extra=("-o", "worker.cpus=0,1")).start()
    addr, admin = srv.addr["resp"], srv.addr["admin"]
    other = Server("segcached", 64 << 20, 1, "0", logdir, segcached).start()
    cases = CASES + [ANOTHER]
    res = {(c, k): [] for c in cases for k in ("get", "set")}
    txs = {c: [] for c in cases}
    ctx = multiprocessing.get_context("fork")
    try:
        subprocess.run([loadgen, "fill", "-s", addr, "-P", "resp",
                        "--from", "0", "--to", "10000"], check=True,
                       capture_output=True)
        conns = pin(addr, admin, 0, PINNED_CONNS)
        far = pin(other.addr["resp"], other.addr["admin"], 0, tx_conns)
        for rep in range(reps):
            order = cases if rep % 2 == 0 else cases[::-1]
            for case in order:
                for kind in ("get", "set"):
                    settle(admin, 0, PINNED_CONNS)
                    done = ctx.Value("q", 0)
                    stop = ctx.Event()
                    procs = []
                    tx0 = time.monotonic()
                    if case != "alone":
                        for i in range(tx_conns):
                            p = ctx.Process(
                                target=pinned_transfers,
                                args=((far if case == ANOTHER else conns)[i]
                                      .fileno(),
                                      case != "same commands, no MULTI",
                                      tx_pipeline,
                                      tx_rate / tx_conns, stop,
                                      rep * 100 + i, done, 0),
                                daemon=True)
                            p.start()
                            procs.append(p)
                        time.sleep(0.5)  # transfers under way
                    lg = subprocess.Popen(
                        ["taskset", "-c", "1", loadgen, "rr", "-s", addr,
                         "-P", "resp", "--kind", kind, "--conns", "8",
                         "--pipeline", "16", "--requests", str(requests),
                         "--keys", "10000"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
                    # watched while it runs: worker 0 keeps its own only
                    seen = 0
                    while lg.poll() is None:
                        c = per_worker(admin)
                        if c.get(0, 0) != PINNED_CONNS:
                            lg.kill()
                            raise RuntimeError(f"a GET/SET connection "
                                               f"reached worker 0: {c}")
                        seen = max(seen, c.get(1, 0))
                        time.sleep(0.1)
                    out_text, err_text = lg.communicate()
                    if lg.returncode != 0:
                        raise RuntimeError(f"loadgen: {err_text}")
                    stop.set()
                    for p in procs:
                        p.join()
                    tx_seconds = time.monotonic() - tx0
                    out = dict(kv.split("=", 1) for kv in out_text.split())
                    rps = float(out["rps"])
                    res[(case, kind)].append(rps)
                    tx = done.value / tx_seconds if procs else 0.0
                    if procs:
                        txs[case].append(tx)
                    if record is not None:
                        record(f"{kind.upper()} {case}", rep, rps, tx)
                    else:
                        print(f"  rep {rep} {case:24} {kind}: rps={rps:.0f}"
                              f" tx/s={tx:.0f} (worker 1 had up to {seen} "
                              f"connections)", file=sys.stderr)
        for s in conns + far:
            s.close()
        total = account_sum(addr) + account_sum(other.addr["resp"])
    finally:
        other.stop()
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
    ap.add_argument("--tx-rate", type=int, default=-1,
                    help="transfers per second, all clients together, 0 "
                    "for no limit (default: 20000; --pinned: 0)")
    ap.add_argument("--pinned", action="store_true",
                    help="load 12: the transfers' connections on worker 0 "
                    "(CPU 0), the GET/SET load on worker 1 (CPU 1)")
    args = ap.parse_args()
    if args.tx_rate < 0:
        args.tx_rate = 0 if args.pinned else 20000
    t0 = time.time()
    try:
        res, txs, total = (run_pinned if args.pinned else run)(
            args.segcached, args.loadgen, args.reps, args.requests,
            args.tx_conns, args.tx_pipeline, args.tx_rate,
            tempfile.mkdtemp(prefix="segcached-atomic-"))
    finally:
        servers.stop_all()
    limit = f"at most {args.tx_rate}/s" if args.tx_rate else "no rate limit"
    where = ("workers pinned to CPUs 0 and 1, the transfers' connections "
             "on worker 0 and their clients on CPU 0, the GET/SET load on "
             "worker 1 and CPU 1" if args.pinned else
             "connections spread by the server")
    print(f"segcached, 2 workers, {where}; GET/SET: loadgen rr, 8 "
          f"connections x 16 pipelined; transfers: {args.tx_conns} clients "
          f"x {args.tx_pipeline} pipelined, {limit}; {args.reps} "
          f"repetitions, medians\n")
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
    if (ANOTHER, "get") in res:
        print(f"\n| GET/SET load | beside MULTI/EXEC to another server | "
              f"MULTI / alone | MULTI / MULTI to another server |")
        print("|---|---|---|---|")
        for kind in ("get", "set"):
            a = statistics.median(res[("alone", kind)])
            m = statistics.median(res[("with MULTI/EXEC", kind)])
            o = statistics.median(res[(ANOTHER, kind)])
            print(f"| {kind.upper()} | {o:,.0f} | {m / a:.3f} | "
                  f"{m / o:.3f} |")
    for case in [c for c in txs if c != "alone"]:
        print(f"\ntransfers per second {case}: "
              f"{statistics.median(txs[case]):,.0f}", end="")
    print(f"\n\nthe 100 accounts sum to {total} (transfers keep 0)")
    print(f"\n{time.time() - t0:.0f} s")
    if total != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: Apache-2.0
"""Scripts and transactions: segcached beside Redis 7.0.15, same client,
in alternation (issue 17).

    flock /tmp/segcached-cpu.lock python3 scripts/bench/script_speed.py

For each server (one worker thread, pinned to one CPU; the clients on the
other): EVALSHA of a short script (GET of one key, then INCR of another)
with redis-benchmark, and MULTI SET SET EXEC with a small client of this
file (redis-benchmark sends one command per request; a transaction is
four), each at -P 1 and -P 16 (16 calls in flight per connection). It
reports calls/s and the server's CPU time per call (/proc schedstat, all
threads): what a call costs the server, which the noisy shared machine
changes less than the rate. Medians of --reps runs, servers alternating.
Nothing here asserts a number."""

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import free_ports, proc_cpu_seconds  # noqa: E402

SCRIPT = "redis.call('get', KEYS[1]) return redis.call('incr', KEYS[2])"
CONNS = 50
MULTI_CONNS = 4  # client processes of the MULTI load


def start(kind, port, cpu, binary):
    if kind == "redis":
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                "--save", "", "--appendonly", "no", "--daemonize", "no"]
    else:
        ports = free_ports(1)
        argv = [binary, "--resp", f"127.0.0.1:{port}", "--memcache", "off",
                "--admin", f"127.0.0.1:{ports[0]}", "-t", "1"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
    p = subprocess.Popen(["taskset", "-c", cpu] + argv,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError(f"{kind} did not start")


def cmd(port, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(out)
    reply = s.recv(65536)
    s.close()
    return reply


def evalsha(port, cpu, sha, pipeline, n):
    argv = ["taskset", "-c", cpu, "redis-benchmark", "-p", str(port), "-c",
            str(CONNS), "-n", str(n), "-P", str(pipeline), "-r", "10000",
            "--csv", "EVALSHA", sha, "2", "a:__rand_int__", "b:__rand_int__"]
    out = subprocess.run(argv, capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells[0].upper().startswith("EVALSHA"):
            return float(cells[1])
    raise RuntimeError(out)


def multi_client(args):
    port, pipeline, calls, seed = args
    tx = b""
    for i in range(pipeline):
        k1 = b"m:%d:%d" % (seed, i)
        k2 = b"n:%d:%d" % (seed, i)
        tx += (b"*1\r\n$5\r\nMULTI\r\n"
               b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nval\r\n"
               b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nval\r\n"
               b"*1\r\n$4\r\nEXEC\r\n") % (len(k1), k1, len(k2), k2)
    # +OK +QUEUED +QUEUED *2 +OK +OK: six lines a transaction
    want = 6 * pipeline
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(calls // pipeline):
        s.sendall(tx)
        got, last = 0, b""
        while got < want:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("closed")
            # a CRLF may be split between two reads
            got += (last + chunk).count(b"\r\n")
            last = chunk[-1:] if chunk[-1:] == b"\r" else b""
    s.close()


def multi(port, cpu, pipeline, n):
    per = n // MULTI_CONNS
    os.sched_setaffinity(0, {int(cpu)})
    t0 = time.monotonic()
    with multiprocessing.Pool(MULTI_CONNS) as pool:
        pool.map(multi_client, [(port, pipeline, per, i)
                                for i in range(MULTI_CONNS)])
    return per * MULTI_CONNS / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segcached", default="build/release/segcached")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--together", action="store_true",
                    help="both servers on the server CPU at once, both "
                    "clients at once: the machine's drift hits both in the "
                    "same instant, so their CPU per call compares closely "
                    "(calls/s are then each one's share)")
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    client_cpu, server_cpu = str(cpus[0]), str(cpus[-1])
    cases = [("EVALSHA -P 1", "evalsha", 1, 40000),
             ("EVALSHA -P 16", "evalsha", 16, 400000),
             ("MULTI SET SET EXEC -P 1", "multi", 1, 20000),
             ("MULTI SET SET EXEC -P 16", "multi", 16, 160000)]
    kinds = ["segcached", "redis"]
    rows = {(k, c[0]): [] for k in kinds for c in cases}
    t0 = time.time()

    def run_case(kind, p, port, sha, what, pipeline, n):
        c0 = proc_cpu_seconds(p.pid)
        if what == "evalsha":
            rate = evalsha(port, client_cpu, sha, pipeline, n)
        else:
            rate = multi(port, client_cpu, pipeline, n)
            n = n // MULTI_CONNS * MULTI_CONNS
        return rate, (proc_cpu_seconds(p.pid) - c0) * 1e6 / n

    for rep in range(args.reps if args.together else 0):
        from concurrent.futures import ThreadPoolExecutor
        procs = {}
        try:
            for kind in kinds:
                port = free_ports(1)[0]
                p = start(kind, port, server_cpu, args.segcached)
                sha = cmd(port, "SCRIPT", "LOAD", SCRIPT).split(b"\r\n")[1]
                procs[kind] = (p, port, sha.decode())
            for label, what, pipeline, n in cases:
                n = max(pipeline * MULTI_CONNS, int(n * args.scale))
                with ThreadPoolExecutor(len(kinds)) as ex:
                    futs = {k: ex.submit(run_case, k, *procs[k], what,
                                         pipeline, n) for k in kinds}
                    for kind in kinds:
                        rate, cpu_us = futs[kind].result()
                        rows[(kind, label)].append((rate, cpu_us))
                        print(f"  {kind:9} {label:24} rep {rep}: "
                              f"calls/s={rate:.0f} cpu_us={cpu_us:.3f}",
                              file=sys.stderr)
        finally:
            for p, _, _ in procs.values():
                p.terminate()
                p.wait()
    for rep in range(0 if args.together else args.reps):
        for kind in (kinds if rep % 2 == 0 else kinds[::-1]):
            port = free_ports(1)[0]
            p = start(kind, port, server_cpu, args.segcached)
            try:
                sha = cmd(port, "SCRIPT", "LOAD", SCRIPT).split(b"\r\n")[1]
                for label, what, pipeline, n in cases:
                    n = max(pipeline * MULTI_CONNS, int(n * args.scale))
                    c0 = proc_cpu_seconds(p.pid)
                    if what == "evalsha":
                        rate = evalsha(port, client_cpu, sha.decode(),
                                       pipeline, n)
                    else:
                        rate = multi(port, client_cpu, pipeline, n)
                        n = n // MULTI_CONNS * MULTI_CONNS
                    cpu_us = (proc_cpu_seconds(p.pid) - c0) * 1e6 / n
                    rows[(kind, label)].append((rate, cpu_us))
                    print(f"  {kind:9} {label:24} rep {rep}: "
                          f"calls/s={rate:.0f} cpu_us={cpu_us:.3f}",
                          file=sys.stderr)
            finally:
                p.terminate()
                p.wait()

    def med(xs, i):
        return statistics.median(x[i] for x in xs)

    def rng(xs, i):
        return f"{min(x[i] for x in xs):.2f}-{max(x[i] for x in xs):.2f}"
    print(f"{args.reps} repetitions, servers with 1 thread on CPU "
          f"{server_cpu}, clients on CPU {client_cpu}"
          f"{', both at once' if args.together else ''}; medians "
          "(ranges)\n")
    print("| case | segcached calls/s | Redis 7.0 calls/s | segcached CPU "
          "us/call | Redis CPU us/call | CPU segcached/Redis | paired "
          "(min-max) |")
    print("|---|---|---|---|---|---|---|")
    for label, _, _, _ in cases:
        s, r = rows[("segcached", label)], rows[("redis", label)]
        # each repetition's own ratio: drift between repetitions cancels
        pr = sorted(a[1] / b[1] for a, b in zip(s, r))
        print(f"| {label} | {med(s, 0):,.0f} | {med(r, 0):,.0f} | "
              f"{med(s, 1):.2f} ({rng(s, 1)}) | {med(r, 1):.2f} "
              f"({rng(r, 1)}) | {med(s, 1) / med(r, 1):.2f} | "
              f"{statistics.median(pr):.3f} ({pr[0]:.3f}-{pr[-1]:.3f}) |")
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

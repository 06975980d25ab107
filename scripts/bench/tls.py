# SPDX-License-Identifier: Apache-2.0
"""TLS: segcached's resp TLS port beside Redis 7.0's (Debian's redis-server
is built with TLS), same client, same certificate, in alternation.

    flock /tmp/segcached-cpu.lock python3 scripts/bench/tls.py --reps 3

For each server, pinned to one CPU with the client (redis-benchmark --tls)
on the other: GET and SET at -P 1 and -P 16 (50 connections, 100-byte
values), requests/s as redis-benchmark reports them and the server's CPU
time per request (/proc schedstat, all threads); then full handshakes
(`openssl s_time -new`, one connection at a time, ECDSA P-256
certificate): handshakes/s and server CPU per handshake. Medians of
--reps runs, servers alternating. Nothing here asserts a number."""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import free_ports, proc_cpu_seconds  # noqa: E402

CASES = [("GET P1", "get", 1, 40000), ("SET P1", "set", 1, 40000),
         ("GET P16", "get", 16, 400000), ("SET P16", "set", 16, 400000)]


def make_certs(d):
    def run(*a):
        subprocess.run(["openssl", *a], cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out",
        "ca.crt", "-days", "2", "-subj", "/CN=bench-ca")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
        "/CN=localhost")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey",
        "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2",
        "-extfile", "san.ext")
    os.chmod(d, 0o755)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)


def start(kind, port, d, cpu, binary):
    crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    if kind == "segcached":
        plain, admin = free_ports(2)
        argv = [binary, "-t", "1", "--memcache", "off", "--resp",
                f"127.0.0.1:{plain}", "--admin", f"127.0.0.1:{admin}",
                "--resp-tls", f"127.0.0.1:{port}", "-o",
                f"tls.cert_file={crt}", "-o", f"tls.key_file={key}",
                "-o", "log.level=warn"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
    else:
        argv = ["redis-server", "--port", "0", "--tls-port", str(port),
                "--tls-cert-file", crt, "--tls-key-file", key,
                "--tls-auth-clients", "no", "--save", "", "--appendonly",
                "no", "--bind", "127.0.0.1", "--loglevel", "warning"]
    p = subprocess.Popen(["taskset", "-c", cpu, *argv],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        r = subprocess.run(["redis-cli", "--tls", "--cacert",
                            os.path.join(d, "ca.crt"), "-p", str(port),
                            "ping"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return p
        time.sleep(0.05)
    p.kill()
    raise RuntimeError(f"{kind} did not start")


def bench(port, d, cpu, kind, pipeline, n):
    argv = ["taskset", "-c", cpu, "redis-benchmark", "--tls", "--cacert",
            os.path.join(d, "ca.crt"), "-p", str(port), "-c", "50", "-n",
            str(n), "-P", str(pipeline), "-d", "100", "-r", "10000", "-t",
            kind, "--csv"]
    out = subprocess.run(argv, capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells[0] in ("SET", "GET"):
            return float(cells[1])
    raise RuntimeError(out)


def handshakes(port, d, cpu, seconds):
    argv = ["taskset", "-c", cpu, "openssl", "s_time", "-connect",
            f"127.0.0.1:{port}", "-new", "-time", str(seconds), "-CAfile",
            os.path.join(d, "ca.crt")]
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    for line in out.splitlines():
        # "1234 connections in 3.01s; 410.00 connections/user sec, ..."
        if "connections in" in line and "real seconds" in line:
            return int(line.split()[0])
        if "connections in" in line:
            return int(line.split()[0])
    raise RuntimeError(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segcached", default="build/release/segcached")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--handshake-seconds", type=int, default=3)
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    client_cpu, server_cpu = str(cpus[0]), str(cpus[-1])
    d = tempfile.mkdtemp(prefix="segcached-tlsbench-")
    make_certs(d)
    kinds = ["segcached", "redis"]
    rows = {(k, c[0]): [] for k in kinds for c in CASES}
    hs = {k: [] for k in kinds}
    t0 = time.time()
    try:
        for rep in range(args.reps):
            order = kinds if rep % 2 == 0 else kinds[::-1]
            for kind in order:
                port = free_ports(1)[0]
                p = start(kind, port, d, server_cpu, args.segcached)
                try:
                    for label, cmd, pipeline, n in CASES:
                        c0 = proc_cpu_seconds(p.pid)
                        rps = bench(port, d, client_cpu, cmd, pipeline, n)
                        cpu_us = (proc_cpu_seconds(p.pid) - c0) * 1e6 / n
                        rows[(kind, label)].append((rps, cpu_us))
                        print(f"  {kind:9} {label:8} rep {rep}: rps={rps:.0f}"
                              f" cpu_us={cpu_us:.3f}", file=sys.stderr)
                    c0 = proc_cpu_seconds(p.pid)
                    count = handshakes(port, d, client_cpu,
                                       args.handshake_seconds)
                    cpu = proc_cpu_seconds(p.pid) - c0
                    hs[kind].append((count / args.handshake_seconds,
                                     cpu * 1e6 / max(count, 1)))
                    print(f"  {kind:9} handshakes rep {rep}: {count}",
                          file=sys.stderr)
                finally:
                    p.terminate()
                    p.wait()
    finally:
        shutil.rmtree(d, ignore_errors=True)

    def med(xs, i):
        return statistics.median(x[i] for x in xs)
    print(f"{args.reps} repetitions, 50 connections, 100-byte values, "
          f"server 1 thread on CPU {server_cpu}, client on CPU {client_cpu}, "
          "medians\n")
    print("| case | segcached req/s | Redis 7.0 req/s | segcached CPU us/req "
          "| Redis CPU us/req | CPU segcached/Redis |")
    print("|---|---|---|---|---|---|")
    for label, _, _, _ in CASES:
        s, r = rows[("segcached", label)], rows[("redis", label)]
        print(f"| TLS {label} | {med(s, 0):,.0f} | {med(r, 0):,.0f} | "
              f"{med(s, 1):.3f} | {med(r, 1):.3f} | "
              f"{med(s, 1) / med(r, 1):.3f} |")
    s, r = hs["segcached"], hs["redis"]
    print(f"| full handshakes (s_time -new) | {med(s, 0):,.0f}/s | "
          f"{med(r, 0):,.0f}/s | {med(s, 1):.1f} | {med(r, 1):.1f} | "
          f"{med(s, 1) / med(r, 1):.3f} |")
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

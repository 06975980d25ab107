# SPDX-License-Identifier: Apache-2.0
"""SCAN's cost against the configured memory (issue 23): for 1,000 and
100,000 keys, the calls and time of a full `redis-cli --scan` on Redis
7.0.15 and on two segcached binaries at several -m values.

    python3 scripts/bench/scan_cost.py BEFORE AFTER 64,1024,16384

BEFORE runs only at -m 1024 and below, with a 60 s limit (it walked the
whole table); BEFORE `-` skips it. Calls come from INFO commandstats.

    python3 scripts/bench/scan_cost.py BEFORE AFTER 64,1024 dbs

runs the databases case instead: 100,000 keys in database 0, then 0, 10
and 1,000 in database 1; the calls of `redis-cli -n 1 --scan` and the time
of 2,000 RANDOMKEY in database 1 (redis-benchmark -c 1). Nothing here
asserts."""
import re
import signal
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def cli(port, *args, **kw):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args),
                          capture_output=True, **kw)


def load(port, n):
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k)
                    for k in (b"key:%d" % i for i in range(n)))
    r = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data,
                       capture_output=True)
    assert b"errors: 0" in r.stdout, r.stdout


def start(kind, binary, mem, port):
    if kind == "redis":
        return subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "",
             "--appendonly", "no", "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.Popen(
        [binary, "-u", "nobody", "-m", str(mem), "-t", "1",
         "--resp", f"127.0.0.1:{port}", "--memcache", "off", "--ping", "off",
         "--admin", f"127.0.0.1:{free_port()}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(kind, binary, mem, n, limit=None):
    port = free_port()
    proc = start(kind, binary, mem, port)
    wait(port)
    try:
        load(port, n)
        cli(port, "CONFIG", "RESETSTAT")
        t = time.time()
        try:
            keys = len(set(cli(port, "--scan", timeout=limit).stdout.split()))
        except subprocess.TimeoutExpired:
            keys = None
        dt = time.time() - t
        info = cli(port, "INFO", "commandstats").stdout.decode()
        m = re.search(r"cmdstat_scan:calls=(\d+)", info)
        calls = int(m.group(1)) if m else None
        print(f"{kind:8s} -m {mem:6d} keys {n:6d}: scan calls {calls} "
              f"keys returned {keys} time {dt:.2f}s" +
              (" (stopped at the limit)" if keys is None else ""), flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def load_db(port, db, prefix, n):
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k)
                    for k in (b"%s:%d" % (prefix, i) for i in range(n)))
    r = subprocess.run(["redis-cli", "-p", str(port), "-n", str(db),
                        "--pipe"], input=data, capture_output=True)
    assert b"errors: 0" in r.stdout, r.stdout


def run_dbs(kind, binary, mem, limit=None):
    port = free_port()
    proc = start(kind, binary, mem, port)
    wait(port)
    try:
        load_db(port, 0, b"key", 100000)
        for n in (0, 10, 1000):
            cli(port, "-n", "1", "FLUSHDB")
            if n:
                load_db(port, 1, b"db1", n)
            cli(port, "CONFIG", "RESETSTAT")
            try:
                keys = len(set(cli(port, "-n", "1", "--scan",
                                   timeout=limit).stdout.split()))
            except subprocess.TimeoutExpired:
                keys = None
            info = cli(port, "INFO", "commandstats").stdout.decode()
            m = re.search(r"cmdstat_scan:calls=(\d+)", info)
            t = time.time()
            subprocess.run(["redis-benchmark", "-p", str(port), "-n", "2000",
                            "-c", "1", "-q", "--dbnum", "1", "RANDOMKEY"],
                           capture_output=True, timeout=limit)
            dt = time.time() - t
            print(f"{kind:8s} -m {mem:6d} db0 100000 db1 {n:5d}: scan calls "
                  f"{m.group(1) if m else None} keys returned {keys}; "
                  f"2000 RANDOMKEY {dt:.2f}s", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main():
    before, after = sys.argv[1], sys.argv[2]
    memories = [int(x) for x in sys.argv[3].split(",")]
    if len(sys.argv) > 4 and sys.argv[4] == "dbs":
        run_dbs("redis", None, 0)
        for mem in memories:
            run_dbs("after", after, mem)
            if before != "-":
                run_dbs("before", before, mem, limit=120)
        return
    for n in (1000, 100000):
        run("redis", None, 0, n)
        for mem in memories:
            run("after", after, mem, n)
            if mem <= 1024 and before != "-":
                run("before", before, mem, n, limit=60)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: Apache-2.0
"""Server work per unpipelined TLS GET on the memcache port: segcached's
--memcache-tls against memcached 1.6.18's -Z, the same client for both.

    flock /tmp/segcached-cpu.lock python3 scripts/bench/tls_instructions.py

Timings on this shared 2-core machine move by more than the difference
being looked for (docs/benchmarks.md: 0.88 and 1.05 in two runs), and it has
no hardware counters, so this counts instead:
  - instructions, with valgrind's callgrind (deterministic): each server,
    one worker thread, is run whole twice, serving N1 and then N2 GETs
    (one connection, Python's ssl, TLS 1.3, a 100-byte value, one request
    in flight), and (I(N2) - I(N1)) / (N2 - N1) is one request's cost;
    start-up, the handshake and exit cancel out;
  - system calls, with `strace -c -f` over the same N2 GETs, per request.
Both with OpenSSL from the same Debian libssl3. The callgrind files stay in
--out for callgrind_annotate. Nothing here asserts a number."""

import argparse
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import free_ports  # noqa: E402
from tls import make_certs  # noqa: E402

VALUE = b"v" * 100
KEYS = 100
FD_LIMIT = 64


def fd_limit():
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, hard))


def server_argv(kind, port, d, binary):
    crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    if kind == "segcached":
        admin, = free_ports(1)
        argv = [binary, "-t", "1", "--resp", "off", "--memcache", "off",
                "--admin", f"127.0.0.1:{admin}", "--memcache-tls",
                f"127.0.0.1:{port}", "-o", f"tls.cert_file={crt}", "-o",
                f"tls.key_file={key}", "-o", "log.level=warn",
                "-o", "seg.memory=64MiB", "-o", "hotkey.sample_rate=0"]
    else:
        argv = ["memcached", "-t", "1", "-Z", "-o",
                f"ssl_chain_cert={crt},ssl_key={key}", "-l",
                f"127.0.0.1:{port}", "-m", "64",
                # memcached sets its open-file limit, soft and hard, to -c;
                # valgrind takes that only when it equals the soft limit
                # the process started with (FD_LIMIT, set by fd_limit())
                "-c", str(FD_LIMIT)]
    return argv


def as_user():
    """Popen's user: the servers run as nobody when this runs as root
    (segcached refuses root; valgrind's output file must be theirs), and
    started so, not through a wrapper, their pid is the one signalled."""
    return {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 \
        else {}


def connect(d, port, timeout):
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
    ctx.check_hostname = False
    deadline = time.time() + timeout
    while True:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=60)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return ctx.wrap_socket(raw, server_hostname="localhost")
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def recv_until(s, end):
    buf = b""
    while not buf.endswith(end):
        chunk = s.recv(1 << 16)
        if not chunk:
            raise EOFError("closed")
        buf += chunk
    return buf


def drive(d, port, n):
    """Fills KEYS keys, then n unpipelined GET hits on one connection."""
    s = connect(d, port, timeout=120)
    for i in range(KEYS):
        s.sendall(b"set key:%d 0 0 %d\r\n%s\r\n" % (i, len(VALUE), VALUE))
        assert recv_until(s, b"\r\n") == b"STORED\r\n"
    for i in range(n):
        s.sendall(b"get key:%d\r\n" % (i % KEYS))
        assert recv_until(s, b"END\r\n").startswith(b"VALUE")
    s.close()


def stop(p):
    p.send_signal(signal.SIGTERM)  # by pid: only what this script started
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def instructions(kind, d, binary, n, out):
    port, = free_ports(1)
    f = os.path.join(out, f"{kind}.{n}.callgrind")
    with open(f + ".log", "w") as log:
        p = subprocess.Popen(["valgrind", "--tool=callgrind",
                              f"--callgrind-out-file={f}",
                              *server_argv(kind, port, d, binary)],
                             stdout=log, stderr=log, preexec_fn=fd_limit,
                             **as_user())
    try:
        drive(d, port, n)
    finally:
        stop(p)
    with open(f) as fh:
        for line in fh:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {f}")


def syscalls(kind, d, binary, n, out):
    port, = free_ports(1)
    f = os.path.join(out, f"{kind}.strace")
    argv = server_argv(kind, port, d, binary)
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]  # strace stays root to trace it
    p = subprocess.Popen(["strace", "-c", "-f", "-o", f, *argv],
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        drive(d, port, n)
    finally:
        # the server, strace's child, is stopped: strace then writes its
        # summary and exits
        with open(f"/proc/{p.pid}/task/{p.pid}/children") as fh:
            for child in fh.read().split():
                os.kill(int(child), signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop(p)
    calls = {}
    with open(f) as fh:
        for line in fh:
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(parts) >= 5 and parts[3].isdigit() and \
                    not parts[-1].startswith("total"):
                calls[parts[-1]] = int(parts[3])
    return calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "../../build/release/segcached"))
    ap.add_argument("--n1", type=int, default=2000)
    ap.add_argument("--n2", type=int, default=12000)
    ap.add_argument("--out", default="/tmp/segcached-tls-instructions")
    ap.add_argument("--servers", default="segcached,memcached")
    args = ap.parse_args()
    for tool in ("valgrind", "strace", "memcached"):
        if shutil.which(tool) is None:
            sys.exit(f"needs {tool}")
    os.makedirs(args.out, exist_ok=True)
    os.chmod(args.out, 0o777)  # the servers write there as nobody
    d = tempfile.mkdtemp(prefix="segcached-tls-instr-")
    try:
        make_certs(d)
        kinds = args.servers.split(",")
        per = {}
        for kind in kinds:
            a = instructions(kind, d, args.binary, args.n1, args.out)
            b = instructions(kind, d, args.binary, args.n2, args.out)
            per[kind] = (b - a) / (args.n2 - args.n1)
        print("| server | instructions per GET |")
        print("|---|---|")
        for kind in kinds:
            print(f"| {kind} | {per[kind]:,.0f} |")
        if len(kinds) == 2:
            print(f"\n{kinds[0]}/{kinds[1]}: "
                  f"{per[kinds[0]] / per[kinds[1]]:.3f}")
        print(f"\nsystem calls per GET ({args.n2} GETs, strace -c -f; "
              "calls over 0.05 per GET):\n")
        counts = {k: syscalls(k, d, args.binary, args.n2, args.out)
                  for k in kinds}
        names = sorted({c for k in kinds for c in counts[k]})
        print("| call | " + " | ".join(kinds) + " |")
        print("|---|" + "---|" * len(kinds))
        total = dict.fromkeys(kinds, 0.0)
        for c in names:
            v = {k: counts[k].get(c, 0) / args.n2 for k in kinds}
            for k in kinds:
                total[k] += v[k]
            if max(v.values()) >= 0.05:
                print(f"| {c} | " + " | ".join(f"{v[k]:.2f}" for k in kinds)
                      + " |")
        print("| all | " + " | ".join(f"{total[k]:.2f}" for k in kinds)
              + " |")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()

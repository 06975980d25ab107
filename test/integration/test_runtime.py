# SPDX-License-Identifier: Apache-2.0
"""The runtime (server thread, workers, admin thread) over the ping
protocol: many connections, churn, limits, back-pressure, signals, config."""
import os
import re
import selectors
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, SLOW, Server, free_port, recv_exact


def test_ping_pong_and_errors(server):
    s = server.connect()
    s.sendall(b"PING\r\n")
    assert recv_exact(s, 6) == b"PONG\r\n"
    s.sendall(b"ping\r\nPING\r\nHELLO\r\n")
    assert recv_exact(s, 7 + 6 + 7) == b"ERROR\r\nPONG\r\nERROR\r\n"
    # split at every byte
    for b in b"PING\r\n":
        s.sendall(bytes([b]))
        time.sleep(0.001)
    assert recv_exact(s, 6) == b"PONG\r\n"
    s.close()


def test_line_too_long_closes(server):
    s = server.connect()
    s.sendall(b"P" * 4096)
    assert recv_exact(s, 7) == b"ERROR\r\n"
    assert s.recv(10) == b""  # then closed
    s.close()


def test_thousand_connections_pipelined(server_factory):
    srv = server_factory(threads=3)
    nconn, depth = 1000, 20
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(nconn):
        s = srv.connect()
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, bytearray())
    # every connection is open: they spread over the workers
    srv.wait_stat("server_conn_curr", lambda v: v == nconn)
    st = srv.stats()
    per = [st[f"worker_{i}_conn_curr"] for i in range(3)]
    assert sum(per) == nconn
    assert min(per) >= nconn // 3 - 2, per
    for s in socks:
        s.sendall(b"PING\r\n" * depth)
    want = 6 * depth
    done = 0
    deadline = time.time() + 60 * SLOW
    while done < nconn and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            chunk = key.fileobj.recv(65536)
            assert chunk, "connection closed early"
            key.data.extend(chunk)
            if len(key.data) == want:
                assert key.data == b"PONG\r\n" * depth
                sel.unregister(key.fileobj)
                done += 1
    assert done == nconn
    for s in socks:
        s.close()
    srv.wait_stat("server_conn_curr", lambda v: v == 0)


def test_churn_does_not_leak(server):
    s = server.connect()
    s.sendall(b"PING\r\n")
    recv_exact(s, 6)
    s.close()
    server.wait_stat("server_conn_curr", lambda v: v == 0)
    base_fds = server.nfds()
    for i in range(1500):
        c = server.connect()
        if i % 3 == 0:
            c.sendall(b"PING\r\n")
            assert recv_exact(c, 6) == b"PONG\r\n"
        c.close()
    server.wait_stat("server_conn_curr", lambda v: v == 0)
    st = server.stats()
    assert st["server_conn_total"] >= 1501
    assert st["server_conn_reclaim"] == st["server_conn_total"]
    # the admin connection of the last stats call may still be closing
    deadline = time.time() + 5 * SLOW
    while server.nfds() > base_fds and time.time() < deadline:
        time.sleep(0.05)
    assert server.nfds() <= base_fds


def test_max_connections_refused_and_counted(server_factory):
    srv = server_factory(args=["-c", "5"])
    held = [srv.connect() for _ in range(5)]
    for s in held:
        s.sendall(b"PING\r\n")
        assert recv_exact(s, 6) == b"PONG\r\n"
    extra = srv.connect()
    extra.settimeout(5 * SLOW)
    try:
        got = extra.recv(10)
    except ConnectionResetError:
        got = b""
    assert got == b""
    assert srv.stats()["server_conn_refused_max"] >= 1
    held[0].close()
    srv.wait_stat("server_conn_curr", lambda v: v == 4)
    again = srv.connect()
    again.sendall(b"PING\r\n")
    assert recv_exact(again, 6) == b"PONG\r\n"
    for s in held[1:] + [again, extra]:
        s.close()


def test_slow_reader_does_not_block_others(server_factory):
    srv = server_factory(threads=1)  # same worker for both connections
    hog = srv.connect()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.setblocking(False)
    sent = 0
    payload = b"PING\r\n" * 10000
    deadline = time.time() + 10 * SLOW
    # pipeline without reading until the server stops taking more
    while time.time() < deadline and sent < 200 * len(payload):
        try:
            sent += hog.send(payload)
        except BlockingIOError:
            time.sleep(0.01)
            try:
                sent += hog.send(payload)
            except BlockingIOError:
                break
    other = srv.connect()
    other.sendall(b"PING\r\n")
    assert recv_exact(other, 6) == b"PONG\r\n"
    st = srv.stats()
    assert st["worker_stall"] >= 1 or st["worker_write"] >= 1
    other.close()
    hog.close()


def test_sigterm_under_load_exits_zero(server_factory):
    srv = server_factory()
    socks = [srv.connect() for _ in range(50)]
    for s in socks:
        s.sendall(b"PING\r\n" * 1000)
    t0 = time.time()
    rc = srv.stop(signal.SIGTERM)
    assert rc == 0, srv.stderr
    assert time.time() - t0 < 10 * SLOW
    for s in socks:
        s.close()


def test_sigint_exits_zero(server_factory):
    srv = server_factory()
    assert srv.stop(signal.SIGINT) == 0


def test_sighup_reopens_log(server_factory):
    srv = server_factory()
    rotated = srv.log_path + ".1"
    os.rename(srv.log_path, rotated)
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10 * SLOW
    while not os.path.exists(srv.log_path) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(srv.log_path)
    assert "SIGHUP" in open(rotated).read()


def run(args, timeout=30):
    return subprocess.run([BIN] + args, capture_output=True, text=True,
                          timeout=timeout * SLOW)


# a server started as root must be told which user to become
USER = ["-u", "nobody"] if os.geteuid() == 0 else []


def test_bad_config_file_one_clear_line():
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("worker:\n  threads: 2\n  thrads: 3\n")
    r = run(["--config", f.name])
    os.unlink(f.name)
    assert r.returncode == 78  # EX_CONFIG
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{f.name}:3" in lines[0] and "worker.thrads" in lines[0]


def test_bad_override_and_value():
    r = run(["-o", "worker.threads=many"])
    assert r.returncode == 64  # EX_USAGE
    assert "worker.threads" in r.stderr
    r = run(["-o", "nosuch.option=1"])
    assert r.returncode == 64
    assert "nosuch.option" in r.stderr


def test_busy_port_one_clear_line():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    r = run(USER + ["--ping", f"127.0.0.1:{port}", "--admin",
             f"127.0.0.1:{free_port()}", "--memcache", "off", "--resp", "off"])
    busy.close()
    assert r.returncode == 71  # EX_OSERR
    assert "address already in use" in r.stderr.lower()
    assert f"127.0.0.1:{port}" in r.stderr


def test_bad_cpu_id():
    r = run(USER + ["-o", "worker.cpus=4096", "--admin",
             f"127.0.0.1:{free_port()}",
             "--memcache", "off", "--resp", "off"])
    assert r.returncode == 78
    assert "worker.cpus" in r.stderr


def test_print_config_lists_every_option_and_loads_back():
    r = run(["--print-config"])
    assert r.returncode == 0
    for name in ["worker.threads", "worker.cpus", "server.max_connections",
                 "admin.listen", "ping.listen", "log.level"]:
        section, key = name.split(".")
        assert re.search(rf"^{section}:", r.stdout, re.M), name
        assert re.search(rf"^\s+{key}:", r.stdout, re.M), name
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(r.stdout)
    chk = run(["--config", f.name, "--check-config"] + USER)
    os.unlink(f.name)
    assert chk.returncode == 0, chk.stderr


def test_print_stats_and_help():
    r = run(["--print-stats"])
    assert r.returncode == 0
    assert "server_conn_curr" in r.stdout and "worker_read_byte" in r.stdout
    h = run(["--help"])
    assert h.returncode == 0 and "--config" in h.stdout
    v = run(["--version"])
    assert v.returncode == 0 and v.stdout.startswith("segcached ")


def test_admin_stats_version_unknown_and_metrics(server):
    s = socket.create_connection(("127.0.0.1", server.admin_port))
    s.sendall(b"version\r\n")
    assert re.match(rb"VERSION \d+\.\d+\.\d+\r\n", s.recv(100))
    s.sendall(b"bogus\r\n")
    assert s.recv(200).startswith(b"CLIENT_ERROR ")
    s.sendall(b"stats\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        data += s.recv(65536)
    for line in data.decode().splitlines()[:-1]:
        assert re.match(r"STAT [a-z0-9_]+ -?\d+$", line), line
    s.sendall(b"quit\r\n")
    assert s.recv(10) == b""
    s.close()
    h = socket.create_connection(("127.0.0.1", server.admin_port))
    h.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = b""
    while True:
        chunk = h.recv(65536)
        if not chunk:
            break
        body += chunk
    head, _, text = body.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    assert length == len(text)
    names = set()
    for line in text.decode().splitlines():
        if line.startswith("#"):
            assert re.match(r"# (HELP|TYPE) segcached_\w+ ", line), line
            continue
        m = re.match(r"(segcached_\w+)(\{[^}]*\})? (-?[\d.e+]+)$", line)
        assert m, line
        names.add(m.group(1))
    assert "segcached_server_conn_total" in names
    h.close()
    n = socket.create_connection(("127.0.0.1", server.admin_port))
    n.sendall(b"GET /nope HTTP/1.0\r\n\r\n")
    assert n.recv(100).startswith(b"HTTP/1.1 404")
    n.close()


def test_sample_config_is_current_and_loads():
    """config/segcached.yml is --print-config's output (scripts/gen-config.sh
    regenerates it) and loads as a configuration."""
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    path = os.path.join(root, "config", "segcached.yml")
    with open(path) as f:
        sample = f.read()
    body = "\n".join(l for l in sample.splitlines()
                     if not l.startswith("# segcached configuration")
                     and not l.startswith("# Generated by")
                     and not l.startswith("# Use: "))
    printed = run(["--print-config"]).stdout
    assert body.strip() == printed.strip(), \
        "config/segcached.yml is stale: run scripts/gen-config.sh"
    chk = run(["--config", path, "--check-config"] + USER)
    assert chk.returncode == 0, chk.stderr


def test_fd_limit_reached_is_counted_and_survived(server_factory):
    import resource

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
    srv = server_factory(preexec_fn=low_nofile, threads=1)
    socks = []
    for _ in range(80):
        try:
            socks.append(srv.connect())
        except OSError:
            break
    # the ones past the limit were accepted and closed at once
    srv.wait_stat("server_accept_fd_ex", lambda v: v >= 1)
    for s in socks:
        s.close()
    srv.wait_stat("server_conn_curr", lambda v: v == 0)
    c = srv.connect()
    c.sendall(b"PING\r\n")
    assert recv_exact(c, 6) == b"PONG\r\n"
    c.close()


def test_protected_mode_refuses_exposed_listener():
    r = run(USER + ["--ping", f"0.0.0.0:{free_port()}", "--admin",
                    f"127.0.0.1:{free_port()}", "--memcache", "off",
                    "--resp", "off"])
    assert r.returncode == 78
    assert "protected_mode" in r.stderr and "0.0.0.0" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def admin_stats_on(sock):
    """stats over an admin connection the test already holds."""
    sock.sendall(b"stats\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        chunk = sock.recv(65536)
        assert chunk, "admin connection closed"
        data += chunk
    return {p[1]: p[2] for p in (l.split() for l in data.decode().splitlines())
            if len(p) == 3 and p[0] == "STAT"}


def test_admin_connections_are_limited_and_refusals_counted(server_factory):
    srv = server_factory(args=["-o", "admin.max_connections=2"])
    held = []
    deadline = time.time() + 10 * SLOW
    while len(held) < 2:  # the start-up check's connections may linger
        s = socket.create_connection(("127.0.0.1", srv.admin_port),
                                     timeout=10 * SLOW)
        try:
            assert int(admin_stats_on(s)["admin_conn_curr"]) >= 1
            held.append(s)
        except (AssertionError, ConnectionResetError):
            s.close()
            assert time.time() < deadline
            time.sleep(0.05)
    extra = socket.create_connection(("127.0.0.1", srv.admin_port),
                                     timeout=10 * SLOW)
    try:
        extra.sendall(b"stats\r\n")
        got = extra.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    assert got == b""  # accepted and closed, not left hanging
    extra.close()
    st = admin_stats_on(held[0])
    assert int(st["admin_conn_refused"]) >= 1
    assert int(st["admin_conn_curr"]) == 2
    held[1].close()
    # a slot is free again once the admin thread has seen the close
    deadline = time.time() + 10 * SLOW
    while int(admin_stats_on(held[0])["admin_conn_curr"]) != 1:
        assert time.time() < deadline
        time.sleep(0.05)
    assert srv.stats()["admin_conn_curr"] >= 1
    held[0].close()


def test_admin_idle_connections_are_closed(server_factory):
    srv = server_factory(args=["-o", "admin.idle_timeout=1s"])
    idle = socket.create_connection(("127.0.0.1", srv.admin_port),
                                    timeout=10 * SLOW)
    t0 = time.time()
    try:
        assert idle.recv(10) == b""  # closed by the server
    except ConnectionResetError:
        pass
    assert time.time() - t0 >= 0.9
    idle.close()
    assert srv.stats()["admin_conn_idle"] >= 1


def test_idle_timeout_closes_idle_connections_only(server_factory):
    srv = server_factory(args=["-o", "worker.idle_timeout=1s"])
    idle = srv.connect()
    busy = srv.connect()
    deadline = time.time() + 2.5
    while time.time() < deadline:  # busy keeps talking, idle says nothing
        busy.sendall(b"PING\r\n")
        assert recv_exact(busy, 6) == b"PONG\r\n"
        time.sleep(0.2)
    idle.settimeout(10 * SLOW)
    assert idle.recv(10) == b""  # closed by the server
    busy.sendall(b"PING\r\n")
    assert recv_exact(busy, 6) == b"PONG\r\n"
    assert srv.stats()["worker_conn_idle"] >= 1
    busy.close()
    idle.close()


def test_version_metric_matches_version_command(server):
    st = server.stats()
    reply = server.admin("version").split()[1]
    major, minor, patch = (int(x) for x in reply.split("."))
    assert st["version"] == major * 10000 + minor * 100 + patch


def test_memcached_style_flags(server_factory):
    """-p, -l, -m, -t and -c set the memcache port, the data listeners'
    host, seg.memory, worker.threads and server.max_connections."""
    port = free_port()
    srv = server_factory(protocols=(), threads=1,
                         args=["-p", str(port), "-l", "127.0.0.1", "-m", "32",
                               "-t", "3", "-c", "77", "--memcache",
                               "127.0.0.2:1"])
    # -p and -l apply after --memcache: the listener is 127.0.0.1:<port>
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"stats settings\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(4096)
            assert chunk
            data += chunk
    text = data.decode()
    assert f"STAT maxbytes {32 * 1024 * 1024}\r\n" in text
    assert "STAT maxconns 77\r\n" in text
    assert "STAT num_threads 3\r\n" in text
    assert srv.stats()["threads"] == 3

# SPDX-License-Identifier: Apache-2.0
"""MONITOR and CLIENT KILL across workers (issue 19): MONITOR's lines
compared with a real redis-server's (timestamps and client addresses
normalised), redis-cli monitor, a watcher that falls behind losing lines
(counted: Redis buffers without limit, a documented difference), and
CLIENT KILL's old and filter forms reaching connections on other
workers."""
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import SLOW, Server
from test_resp import Wire, oracle  # noqa: F401 (oracle: a fixture)

REDIS_CLI = shutil.which("redis-cli")


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("resp",), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


STAMP = re.compile(rb"\+\d+\.\d{6} \[(\d+) [^\]]+\]")

COMMANDS = [
    ["SET", "k", "v"],
    ["GET"],
    ["NOSUCH", "x"],
    ["AUTH", "foo", "bar"],
    ["HELLO", "2", "AUTH", "default", "pw"],
    ["SET", "k sp", "a\"b\\\n\x01\xc3\xa9\t\r\x07\x08"],
    ["SELECT", "1"],
    ["GET", "x"],
    ["CLIENT", "LIST"],
    ["CONFIG", "GET", "maxmemory"],
    ["PING"],
    ["MULTI"],
    ["SET", "a", "1"],
    ["EXEC"],
    ["SUBSCRIBE", "c"],
    ["RESET"],
    ["PUBLISH", "c", "m"],
]


def monitor_run(port):
    m, c = Wire(port), Wire(port)
    out = [m.cmd("MONITOR")]
    for args in COMMANDS:
        c.cmd(*args)
    c.cmd("ECHO", "last")
    lines = []
    while not lines or b'"ECHO" "last"' not in lines[-1]:
        lines.append(m.line())
    out.append(STAMP.sub(rb"+T [\1 A]", b"".join(lines)))
    # a watcher is a replica to Redis: no keyspace commands
    out.append(m.cmd("GET", "k"))
    out.append(m.cmd("RESET"))
    out.append(m.cmd("GET", "k"))
    m.close()
    c.close()
    return out


def test_monitor_like_redis(seg, oracle):
    a = monitor_run(oracle.port)
    b = monitor_run(seg.port("resp"))
    assert a == b
    assert b'"AUTH" "(redacted)" "(redacted)"' in b[1]
    assert b"+T [1 A] \"GET\" \"x\"" in b[1]


def test_monitor_sees_every_worker(server_factory):
    s = server_factory(protocols=("resp",), threads=3)
    port = s.port("resp")
    m = Wire(port)
    assert m.cmd("MONITOR") == b"+OK\r\n"
    clients = [Wire(port) for _ in range(6)]  # spread over the 3 workers
    for i, c in enumerate(clients):
        c.cmd("SET", f"key{i}", "v")
    seen = set()
    while len(seen) < 6:
        line = m.line()
        g = re.search(rb'"SET" "key(\d)"', line)
        if g:
            seen.add(int(g.group(1)))
    assert seen == set(range(6))
    for c in clients:
        c.close()
    m.close()


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
def test_redis_cli_monitor(seg):
    port = seg.port("resp")
    p = subprocess.Popen([REDIS_CLI, "-p", str(port), "monitor"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        w = Wire(port)
        deadline = time.time() + 10 * SLOW
        while b"flags=O" not in w.cmd("CLIENT", "LIST"):
            assert time.time() < deadline
            time.sleep(0.02)
        w.cmd("SET", "watched", "value")
        assert p.stdout.readline().decode().strip() == "OK"
        line = p.stdout.readline().decode()
        assert re.match(r'^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" '
                        r'"watched" "value"$', line.strip()), line
        w.close()
    finally:
        p.kill()  # our own child, by its pid
        p.wait()


def test_slow_watcher_loses_lines(server_factory):
    """A watcher that never reads loses lines past resp.monitor_buffer;
    the commands it watches are not slowed and nothing grows unbounded."""
    s = server_factory(protocols=("resp",), threads=2,
                       args=["-o", "resp.monitor_buffer=64KiB"])
    port = s.port("resp")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    slow.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
    time.sleep(0.2)
    w = Wire(port)
    value = "v" * 1000
    for i in range(3000):
        w.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n" + value.encode() +
               b"\r\n")
        assert w.reply() == b"+OK\r\n"
    assert s.wait_stat("resp_monitor_drop", lambda v: v > 0) > 0
    # lines reach the watcher's worker through the message path: the
    # counts catch up a moment after the last reply
    deadline = time.time() + 10 * SLOW
    while True:
        st = s.stats()
        seen = st["resp_monitor_line"] + st["resp_monitor_drop"]
        if seen >= 3000 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert seen >= 3000, st
    w.close()
    slow.close()


# ---- CLIENT KILL ----

def client_id(w):
    return int(w.cmd("CLIENT", "ID")[1:-2])


def closed(w, timeout=10 * SLOW):
    w.s.settimeout(timeout)
    try:
        return w.s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_client_kill_across_workers(server_factory):
    s = server_factory(protocols=("resp",), threads=3)
    port = s.port("resp")
    killer = Wire(port)
    victims = [Wire(port) for _ in range(6)]  # on every worker
    ids = [client_id(v) for v in victims]
    # by id, one on each worker
    for i in range(3):
        assert killer.cmd("CLIENT", "KILL", "ID", str(ids[i])) == b":1\r\n"
        assert closed(victims[i])
    # the old form, by address
    lines = killer.cmd("CLIENT", "LIST").decode()
    addr = re.search(r"id=%d addr=(\S+)" % ids[3], lines).group(1)
    assert killer.cmd("CLIENT", "KILL", addr) == b"+OK\r\n"
    assert closed(victims[3])
    assert killer.cmd("CLIENT", "KILL", addr) == b"-ERR No such client\r\n"
    # by type: the subscribers only
    victims[4].cmd("SUBSCRIBE", "x")
    assert killer.cmd("CLIENT", "KILL", "TYPE", "pubsub") == b":1\r\n"
    assert closed(victims[4])
    assert not closed(victims[5], timeout=0.2)
    # SKIPME no: the caller too, after its reply
    assert killer.cmd("CLIENT", "KILL", "TYPE", "normal", "SKIPME",
                      "no") == b":2\r\n"
    assert closed(victims[5])
    assert closed(killer)
    assert s.wait_stat("resp_client_kill", lambda v: v >= 7) >= 7


# ---- the admin port's clients and kill ----

def admin_lines(s, line):
    """Sends one admin line; returns the reply lines up to END or the
    first line of a one-line reply."""
    with socket.create_connection(("127.0.0.1", s.admin_port),
                                  timeout=10 * SLOW) as a:
        a.sendall(line.encode() + b"\r\n")
        data = b""
        while not (data.endswith(b"END\r\n") or
                   (data.endswith(b"\r\n") and not line == "clients")):
            chunk = a.recv(1 << 16)
            assert chunk, data
            data += chunk
    return data.decode().splitlines()


CLIENT_LINE = re.compile(
    r"^client id=(\d+) addr=127\.0\.0\.1:(\d+) proto=(\w+) worker=(\d+) "
    r"age=\d+ idle=\d+ rbuf=\d+/\d+ wbuf=\d+/\d+$")


def test_admin_clients_and_kill(server_factory):
    """`clients` lists every connection of every worker (id, address,
    protocol, worker, age, idle, buffers); `kill <id>` closes one on
    whichever worker serves it."""
    s = server_factory(protocols=("resp", "memcache", "ping"), threads=3)
    resp = [Wire(s.port("resp")) for _ in range(3)]
    ids = [client_id(w) for w in resp]
    mc = socket.create_connection(("127.0.0.1", s.port("memcache")))
    mc.sendall(b"version\r\n")
    assert mc.recv(100).startswith(b"VERSION ")
    ping = socket.create_connection(("127.0.0.1", s.port("ping")))
    ping.sendall(b"PING\r\n")
    assert ping.recv(100) == b"PONG\r\n"
    lines = admin_lines(s, "clients")
    assert lines[-1] == "END"
    rows = [CLIENT_LINE.match(l) for l in lines[:-1]]
    assert all(rows), lines
    seen = {int(r.group(1)): (int(r.group(2)), r.group(3), int(r.group(4)))
            for r in rows}
    assert len(seen) == 5
    for w, i in zip(resp, ids):
        assert seen[i][0] == w.s.getsockname()[1] and seen[i][1] == "resp"
    assert {w for _, _, w in seen.values()} == {0, 1, 2}
    by_port = {p: (i, proto) for i, (p, proto, _) in seen.items()}
    assert by_port[mc.getsockname()[1]][1] == "memcache"
    assert by_port[ping.getsockname()[1]][1] == "ping"
    # kill on each worker: the resp connections (one per worker) and the
    # memcache one
    for w, i in zip(resp, ids):
        assert admin_lines(s, f"kill {i}") == ["OK"]
        assert closed(w)
        assert admin_lines(s, f"kill {i}") == ["NOT_FOUND"]
    mc_id = by_port[mc.getsockname()[1]][0]
    assert admin_lines(s, f"kill {mc_id}") == ["OK"]
    mc.settimeout(10 * SLOW)
    assert mc.recv(100) == b""
    for bad in ("kill", "kill x", "kill -1", "kill 1 2"):
        assert admin_lines(s, bad) == \
            ["CLIENT_ERROR kill takes a connection id (see clients)"], bad
    left = admin_lines(s, "clients")
    assert len(left) == 2 and CLIENT_LINE.match(left[0]).group(3) == "ping"
    ping.close()
    mc.close()

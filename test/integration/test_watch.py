# SPDX-License-Identifier: Apache-2.0
"""memcached's `watch` on the memcache port (issue 19), read with a plain
socket while pymemcache drives traffic: the lines have memcached 1.6.18's
shape (compared with a real memcached running the same script), reach a
watcher on every worker, and a watcher that does not read loses lines and
is told so with memcached's skipped=N; it never stops the traffic."""
import re
import socket
import threading
import time

import pytest

from conftest import SLOW, Server
from memcache_wire import MEMCACHED, Memcached

pymemcache = pytest.importorskip("pymemcache.client.base")

STAMP = re.compile(rb"^ts=\d+\.\d+ gid=(\d+) (.*)$")


class Watcher:
    """A plain socket that sent `watch <kinds>` and collects lines."""

    def __init__(self, port, kinds=b"", rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf is not None:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10 * SLOW)
        self.s.connect(("127.0.0.1", port))
        self.s.sendall(b"watch" + (b" " + kinds if kinds else b"") + b"\r\n")
        assert self.recv_until(b"OK\r\n") == b"OK\r\n"
        self.buf = b""
        self.seen = []  # every line read

    def recv_until(self, end):
        data = b""
        while not data.endswith(end):
            chunk = self.s.recv(1 << 16)
            assert chunk, data
            data += chunk
        return data

    def lines_until(self, pred, timeout=10 * SLOW):
        """Reads lines until pred(line) holds for one; returns the lines
        read by this call (all are kept in self.seen too)."""
        out = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                out.append(line)
                self.seen.append(line)
                if pred(line):
                    return out
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                break
            assert chunk, out
            self.buf += chunk
        raise AssertionError(f"no such line in {out[-20:]}")

    def close(self):
        self.s.close()


def fields(line):
    """A line without its stamp, as (gid, {field: value})."""
    m = STAMP.match(line)
    assert m, line
    kv = dict(f.split(b"=", 1) for f in m.group(2).split(b" "))
    return int(m.group(1)), kv


SCRIPT = [
    ("set", b"wk", b"12"), ("get", b"wk"), ("get", b"w k%"), ("cas_bad", b"wk"),
    ("add", b"wk"), ("touch", b"wk"), ("incr", b"wk"), ("delete", b"wk"),
    ("get", b"wk"), ("set_ttl", b"t1", b"x"),
]


def drive(port):
    """Runs SCRIPT with pymemcache (and the one key pymemcache will not
    send, with a raw socket); ends with a marker get."""
    c = pymemcache.Client(("127.0.0.1", port), timeout=10 * SLOW,
                          allow_unicode_keys=True)
    raw = socket.create_connection(("127.0.0.1", port))
    for step in SCRIPT:
        op, key = step[0], step[1]
        if op == "set":
            c.set(key, step[2])
        elif op == "set_ttl":
            c.set(key, step[2], expire=100)
        elif op == "get" and b" " in key:
            raw.sendall(b"get w%\r\n")
            assert raw.recv(100) == b"END\r\n"
        elif op == "get":
            c.get(key)
        elif op == "cas_bad":
            assert c.cas(key, b"z", b"99999") is False
        elif op == "add":
            assert c.add(key, b"z", noreply=False) is False
        elif op == "touch":
            assert c.touch(key, 10, noreply=False)
        elif op == "incr":
            assert c.incr(key, 1) == 13
        elif op == "delete":
            assert c.delete(key, noreply=False)
    c.get(b"the-end")
    c.close()
    raw.close()


def shape(lines):
    """What must agree with memcached: type, key, status, cmd, ttl of each
    item line. memcached logs a fetch before every store (its store path
    looks the key up first); segcached does not: those are dropped."""
    out = []
    # lines from several worker threads: gid puts them in order (memcached
    # says so of its gids)
    items = [kv for _, kv in sorted(fields(l) for l in lines
                                    if b"type=item_" in l)]
    for i, kv in enumerate(items):
        nxt = items[i + 1] if i + 1 < len(items) else {}
        if kv[b"type"] == b"item_get" and nxt.get(b"type") == b"item_store" \
                and nxt.get(b"key") == kv[b"key"]:
            continue
        out.append(tuple(kv.get(k) for k in
                         (b"type", b"key", b"status", b"cmd", b"ttl")))
    return out


def watch_script(port):
    w = Watcher(port, b"fetchers mutations")
    drive(port)
    lines = w.lines_until(lambda l: b"key=the-end" in l)
    w.close()
    return lines


@pytest.mark.skipif(MEMCACHED is None, reason="memcached is not installed")
def test_watch_lines_like_memcached():
    seg = Server(protocols=("memcache",), threads=2)
    ref = Memcached()
    try:
        got = watch_script(seg.port("memcache"))
        want = watch_script(ref.port)
    finally:
        ref.stop()
        assert seg.stop() == 0
    assert shape(got) == shape(want), (got, want)
    # gids rise by one per line, as memcached's
    gids = sorted(fields(l)[0] for l in got)
    assert gids == list(range(gids[0], gids[0] + len(gids)))
    for line in got:
        kv = fields(line)[1]
        assert set(kv) == ({b"type", b"key", b"status", b"clsid", b"cfd",
                            b"size"} | ({b"cmd", b"ttl"}
                                        if kv[b"type"] == b"item_store"
                                        else set()))


def test_watch_connevents(server_factory):
    s = server_factory(protocols=("memcache",), threads=3)
    port = s.port("memcache")
    watchers = [Watcher(port, b"mutations connevents") for _ in range(3)]
    per_worker = [v for k, v in s.stats().items()
                  if k.startswith("worker_") and k.endswith("_conn_curr")]
    assert per_worker == [1, 1, 1], per_worker
    clients = [pymemcache.Client(("127.0.0.1", port), timeout=10 * SLOW)
               for _ in range(3)]
    for i, c in enumerate(clients):
        c.set(f"k{i}", b"v" * (i + 1))
    ports = []
    for c in clients:
        ports.append(c.sock.getsockname()[1])
        c.close()
    for w in watchers:
        closed = set()
        lines = w.lines_until(
            lambda l: b"conn_close" in l and
            closed.add(int(fields(l)[1][b"rport"])) is None and
            set(ports) <= closed)
        kinds = [(fields(l)[1][b"type"], fields(l)[1].get(b"key"),
                  fields(l)[1].get(b"size")) for l in lines]
        for i in range(3):
            assert (b"item_store", b"k%d" % i, b"%d" % (i + 1)) in kinds
        news = {int(fields(l)[1][b"rport"]) for l in lines
                if b"type=conn_new" in l}
        assert set(ports) <= news  # (and the other watchers')
        w.close()


def test_slow_watcher_skips_and_is_told(server_factory):
    """A watcher that does not read loses lines (counted); traffic goes on
    at full speed; when it reads again, memcached's skipped=N comes before
    the next line."""
    s = server_factory(protocols=("memcache",), threads=2)
    port = s.port("memcache")
    w = Watcher(port, b"fetchers", rcvbuf=4096)
    c = socket.create_connection(("127.0.0.1", port))
    batch = b"get a-long-key-to-make-long-watch-lines-0123456789\r\n" * 1000
    for _ in range(60):  # 60,000 lines of ~120 bytes: far past 256 KiB
        c.sendall(batch)
        got = b""
        while got.count(b"END\r\n") < 1000:
            got += c.recv(1 << 20)
    skipped = s.wait_stat("memcache_watch_skip", lambda v: v > 0)
    assert skipped < 60000
    # read again; a marker line may itself be lost while the watcher's
    # output drains, so send one until one arrives
    nend = 0
    while True:
        c.sendall(b"get the-end\r\n")
        assert c.recv(100) == b"END\r\n"
        nend += 1
        try:
            w.lines_until(lambda l: b"key=the-end" in l, timeout=2 * SLOW)
            break
        except AssertionError:
            assert nend < 100
    told = [int(l.split(b"=")[1]) for l in w.seen if l.startswith(b"skipped=")]
    delivered = [l for l in w.seen if l.startswith(b"ts=")]
    assert told and len(delivered) + sum(told) == 60000 + nend
    assert sum(told) == s.stats()["memcache_watch_skip"]
    c.close()
    w.close()


def test_watch_refusals_like_memcached(server_factory):
    s = server_factory(protocols=("memcache",), threads=1)
    c = socket.create_connection(("127.0.0.1", s.port("memcache")))
    c.sendall(b"watch nosuch\r\n")
    assert c.recv(100) == b"ERROR\r\n"
    c.sendall(b"mn\r\nwatch\r\n")
    got = b""
    while not got.endswith(b"before watch\r\n"):
        got += c.recv(100)
    assert got == b"MN\r\nERROR cannot pipeline other commands before watch\r\n"
    c.close()


def evictions_of(port, n=1500, size=4000):
    """Writes n values of size bytes with a TTL (the first one read back),
    more than the server holds; returns the first 20 eviction lines a
    watcher on another connection saw."""
    w = Watcher(port, b"evictions")
    c = pymemcache.Client(("127.0.0.1", port), timeout=10 * SLOW)
    v = b"e" * size
    c.set(b"ev:0", v, expire=1000)
    assert c.get(b"ev:0") == v
    for i in range(1, n):
        c.set(b"ev:%d" % i, v, expire=1000)
    c.close()
    seen = []
    w.lines_until(lambda l: b"type=eviction" in l and
                  seen.append(l) is None and len(seen) >= 20)
    w.close()
    return seen


@pytest.mark.skipif(MEMCACHED is None, reason="memcached is not installed")
def test_watch_evictions_like_memcached(server_factory):
    """Filling a small cache: eviction lines with memcached 1.6.18's fields
    in its order, the TTL left and the value's size; fetch=yes only for the
    key that was read (segcached's merge eviction tends to keep that one,
    memcached's LRU evicts it first)."""
    s = server_factory(protocols=("memcache",), threads=2,
                       args=["-m", "2", "-o", "seg.segment_size=64KiB"])
    ref = Memcached(["-m", "2", "-I", "512k"])
    try:
        got = evictions_of(s.port("memcache"))
        want = evictions_of(ref.port)
    finally:
        ref.stop()
    for lines in (got, want):
        names = [tuple(f.split(b"=", 1)[0] for f in
                       STAMP.match(l).group(2).split(b" ")) for l in lines]
        assert set(names) == {(b"type", b"key", b"fetch", b"ttl", b"la",
                               b"clsid", b"size")}, names
        for line in lines:
            kv = fields(line)[1]
            assert kv[b"fetch"] == (b"yes" if kv[b"key"] == b"ev%3A0"
                                    else b"no"), line
            assert 990 <= int(kv[b"ttl"]) <= 1000, line
            assert kv[b"size"] == b"4000" and int(kv[b"la"]) < 120, line
    assert s.stats()["memcache_watch_line"] >= len(got)

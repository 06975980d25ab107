# SPDX-License-Identifier: Apache-2.0
"""Client-side caching (issue 19): CLIENT TRACKING, CACHING, GETREDIR and
TRACKINGINFO, and the invalidations, compared byte for byte with a real
redis-server 7.0.15 (RESP3 pushes, RESP2 redirect to a subscriber, BCAST
prefixes, OPTIN/OPTOUT, NOLOOP, flushes, a broken redirect, the errors);
then what only segcached can show: writes from the memcache port, expiry,
the bounded table, and clients spread over both workers; redis-py's
client_tracking_on with a pubsub connection as the redirect target, and
redis-cli -3 showing an invalidation.

Invalidations reach another client asynchronously (in Redis too), so every
script reads the push ("<read>") before it sends that client anything
else."""
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import SLOW, Server
from test_resp import Wire, oracle  # noqa: F401 (oracle: a fixture)

redis = pytest.importorskip("redis")


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("resp", "memcache"), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


def run_script(port, script):
    """(conn, command) pairs on fresh connections; "<read>" reads one more
    reply (a push) from that connection; {id:x} is conn x's CLIENT ID;
    "<close>" closes the conn, "<sleep>" waits a moment (for a close to be
    seen). Returns the replies, connection ids as ID in the replies that
    carry one."""
    conns, ids, out = {}, {}, []
    for name, line in script:
        if name not in conns:
            conns[name] = Wire(port)
            ids[name] = conns[name].cmd("CLIENT", "ID")[1:-2].decode()
        c = conns[name]
        if line == "<read>":
            out.append((name, line, c.reply()))
        elif line == "<close>":
            c.close()
        elif line == "<sleep>":
            time.sleep(0.3 * SLOW)
        else:
            line = re.sub(r"\{id:(\w+)\}", lambda m: ids[m.group(1)], line)
            out.append((name, line, c.cmd(*line.split(" "))))
    for c in conns.values():
        c.close()
    canon = []
    for name, line, reply in out:
        if line.startswith("HELLO"):
            reply = re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:ID\r\n",
                           reply)
        elif line.startswith(("CLIENT GETREDIR", "CLIENT TRACKINGINFO",
                            "CLIENT TRACKING on REDIRECT", "<read>")):
            for i in ids.values():
                reply = reply.replace(b":" + i.encode() + b"\r\n", b":ID\r\n")
                line = line.replace(i, "ID")
        canon.append((name, line, reply))
    return canon


def compare(seg, oracle, script):
    a = run_script(oracle.port, script)
    b = run_script(seg.port("resp"), script)
    diff = [(x[0], x[1], x[2], y[2]) for x, y in zip(a, b) if x != y]
    assert not diff, diff
    return b


def S(conn, text):
    return [(conn, line) for line in text.strip().splitlines()]


def test_default_mode_resp3_matches_redis(seg, oracle):
    script = (S("a", """HELLO 3
CLIENT TRACKINGINFO
CLIENT GETREDIR
CLIENT TRACKING on
CLIENT TRACKINGINFO
CLIENT GETREDIR
GET t:k1
MGET t:k2 t:k3
HGET t:h f""") + S("b", "SET t:k1 v") + S("a", "<read>") +
              S("b", "MSET t:k2 x t:k3 y") + S("a", "<read>\n<read>") +
              S("b", "HSET t:h f 1") + S("a", "<read>") +
              # read again to be told again; written twice: told once
              S("a", "GET t:k1") + S("b", "SET t:k1 w\nSET t:k1 u") +
              S("a", "<read>\nGET t:k1\nSET t:k1 own\n<read>\nGET t:k1") +
              S("b", "FLUSHALL") + S("a", "<read>\nCLIENT TRACKING off\n"
                                          "CLIENT TRACKINGINFO\nGET t:k1") +
              S("b", "SET t:k1 after") + S("a", "PING"))
    out = compare(seg, oracle, script)
    assert any(r == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nt:k1\r\n"
               for _, _, r in out)
    assert (b">2\r\n$10\r\ninvalidate\r\n_\r\n") in [r for _, _, r in out]


def test_bcast_noloop_optin_optout_match_redis(seg, oracle):
    script = (S("a", """HELLO 3
CLIENT TRACKING on BCAST PREFIX u: PREFIX o: NOLOOP
CLIENT TRACKINGINFO
CLIENT TRACKING on BCAST PREFIX v: NOLOOP
CLIENT TRACKINGINFO
CLIENT TRACKING on BCAST PREFIX u:x
CLIENT TRACKING on PREFIX x
CLIENT TRACKING on OPTIN""") + S("b", "SET u:1 a\nSET zz:1 a") +
              S("a", "<read>\nSET o:1 own\nSET v:1 own2\nPING") +
              S("b", "SET v:2 b") + S("a", """<read>
CLIENT TRACKING off
CLIENT CACHING yes
CLIENT TRACKING on OPTIN
CLIENT CACHING no
CLIENT CACHING maybe
CLIENT CACHING yes
CLIENT TRACKINGINFO
GET in:1
GET in:2""") + S("b", "SET in:2 x\nSET in:1 x") + S("a", """<read>
CLIENT TRACKING on OPTOUT
CLIENT TRACKING off
CLIENT TRACKING on OPTOUT
CLIENT CACHING no
GET out:1
GET out:2""") + S("b", "SET out:1 x\nSET out:2 x") + S("a", """<read>
CLIENT TRACKING off
CLIENT TRACKING on OPTIN OPTOUT
CLIENT TRACKING on BCAST OPTIN
CLIENT TRACKING on REDIRECT 99999999
CLIENT TRACKING on REDIRECT x
CLIENT TRACKING on bogus
CLIENT TRACKING maybe
CLIENT TRACKING
CLIENT CACHING"""))
    compare(seg, oracle, script)


def test_resp2_redirect_and_broken_redirect_match_redis(seg, oracle):
    script = (S("r", "SUBSCRIBE __redis__:invalidate") +
              S("a", """CLIENT TRACKING on REDIRECT {id:r}
CLIENT GETREDIR
CLIENT TRACKINGINFO
GET rd:1""") + S("b", "SET rd:1 x") + S("r", "<read>") +
              S("b", "FLUSHDB") + S("r", "<read>") +
              # a RESP3 client whose redirect target goes away is told
              S("t", "SUBSCRIBE x") +
              S("c", "HELLO 3\nCLIENT TRACKING on REDIRECT {id:t}\nGET rd:2") +
              S("t", "<close>\n<sleep>") + S("b", "SET rd:2 y") +
              S("c", "<read>\nCLIENT TRACKINGINFO"))
    out = compare(seg, oracle, script)
    assert (b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
            b"*1\r\n$4\r\nrd:1\r\n") in [r for _, _, r in out]


def wait_info(port, field, want):
    w = Wire(port)
    deadline = time.time() + 10 * SLOW
    while True:
        info = w.cmd("INFO", "everything").decode()
        if f"{field}:{want}\r\n" in info or time.time() > deadline:
            w.close()
            return info


def test_info_and_config(seg, oracle):
    for port in (seg.port("resp"), oracle.port):
        # the closes of the tests before are seen
        wait_info(port, "tracking_clients", 0)
        w = Wire(port)
        assert w.cmd("CONFIG", "GET", "tracking-table-max-keys") == (
            b"*2\r\n$23\r\ntracking-table-max-keys\r\n$7\r\n1000000\r\n")
        assert w.cmd("CONFIG", "SET", "tracking-table-max-keys", "x")[:1] \
            == b"-"
        w.cmd("HELLO", "3")
        w.cmd("CLIENT", "TRACKING", "on")
        w.cmd("GET", "inf:1")
        w.cmd("GET", "inf:2")
        stats = w.cmd("INFO", "stats").decode()
        clients = w.cmd("INFO", "clients").decode()
        assert "tracking_total_keys:2\r\n" in stats, stats
        assert "tracking_total_items:2\r\n" in stats
        assert "tracking_total_prefixes:0\r\n" in stats
        assert "tracking_clients:1\r\n" in clients
        w.cmd("FLUSHALL")
        w.close()


def push_key(w):
    r = w.reply()
    m = re.match(rb">2\r\n\$10\r\ninvalidate\r\n\*1\r\n\$\d+\r\n(.*)\r\n$",
                 r, re.S)
    assert m, r
    return m.group(1)


def test_memcache_writes_invalidate(seg):
    w = Wire(seg.port("resp"))
    w.cmd("HELLO", "3")
    assert w.cmd("CLIENT", "TRACKING", "on") == b"+OK\r\n"
    w.cmd("GET", "mc:1")
    w.cmd("GET", "mc:2")
    with socket.create_connection(("127.0.0.1", seg.port("memcache")),
                                  timeout=10 * SLOW) as m:
        m.sendall(b"set mc:1 0 0 1\r\nx\r\n")
        assert m.recv(100) == b"STORED\r\n"
        assert push_key(w) == b"mc:1"
        m.sendall(b"delete mc:2\r\n")
        assert m.recv(100) == b"NOT_FOUND\r\n"
        w.cmd("GET", "mc:1")
        m.sendall(b"ms mc:1 1 T0\r\ny\r\n")
        assert m.recv(100) == b"HD\r\n"
        assert push_key(w) == b"mc:1"
    w.close()


def test_expiry_invalidates(seg):
    w = Wire(seg.port("resp"))
    w.cmd("HELLO", "3")
    other = Wire(seg.port("resp"))
    assert other.cmd("SET", "ex:1", "v", "PX", "200") == b"+OK\r\n"
    w.cmd("CLIENT", "TRACKING", "on")
    assert w.cmd("GET", "ex:1") == b"$1\r\nv\r\n"
    time.sleep(0.5)
    assert other.cmd("GET", "ex:1") == b"$-1\r\n"
    assert push_key(w) == b"ex:1"
    w.close()
    other.close()


def test_table_is_bounded(seg):
    ctl = Wire(seg.port("resp"))
    ctl.cmd("FLUSHALL")  # empties the table of what the tests before left
    assert ctl.cmd("CONFIG", "SET", "tracking-table-max-keys", "10") == \
        b"+OK\r\n"
    w = Wire(seg.port("resp"))
    w.cmd("HELLO", "3")
    w.cmd("CLIENT", "TRACKING", "on")
    try:
        got = set()
        for i in range(40):
            # replies and the invalidations of trimmed keys interleave
            w.s.sendall(b"GET bnd:%d\r\n" % i)
            while True:
                r = w.reply()
                if r.startswith(b">"):
                    got.add(re.search(rb"bnd:\d+", r).group(0))
                else:
                    break
        stats = ctl.cmd("INFO", "stats").decode()
        n = int(re.search(r"tracking_total_keys:(\d+)", stats).group(1))
        assert n <= 10, stats
        # what was trimmed was told (some may still be in flight)
        deadline = time.time() + 10 * SLOW
        w.s.settimeout(0.2)
        while len(got) < 30 and time.time() < deadline:
            try:
                r = w.reply()
            except socket.timeout:
                continue
            if r.startswith(b">"):
                got.add(re.search(rb"bnd:\d+", r).group(0))
        assert len(got) >= 30, sorted(got)
    finally:
        ctl.cmd("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        ctl.cmd("FLUSHALL")
        w.close()
        ctl.close()


def test_clients_on_every_worker_each_told_once(seg):
    """16 tracking clients (the server spreads them over both workers) read
    one key; one write from a seventeenth: each is told exactly once."""
    clients = []
    for _ in range(16):
        w = Wire(seg.port("resp"))
        w.cmd("HELLO", "3")
        w.cmd("CLIENT", "TRACKING", "on")
        assert w.cmd("GET", "many:k") == b"_\r\n"
        clients.append(w)
    writer = Wire(seg.port("resp"))
    assert writer.cmd("SET", "many:k", "1") == b"+OK\r\n"
    for w in clients:
        assert push_key(w) == b"many:k"
        assert w.cmd("PING") == b"+PONG\r\n"  # nothing else came
        w.close()
    writer.close()


def test_redis_py_redirect_to_pubsub(seg):
    r = redis.Redis(port=seg.port("resp"))
    p = r.pubsub()
    p.subscribe("__redis__:invalidate")
    assert p.get_message(timeout=10 * SLOW)["type"] == "subscribe"
    rid = next(int(c["id"]) for c in r.client_list()
               if c["cmd"] == "subscribe")
    t = redis.Redis(port=seg.port("resp"), single_connection_client=True)
    assert t.client_tracking_on(clientid=rid)
    assert t.client_getredir() == rid
    t.get("py:k")
    r.set("py:k", "1")
    msg = None
    deadline = time.time() + 10 * SLOW
    while msg is None and time.time() < deadline:
        msg = p.get_message(timeout=0.5)
    assert msg["channel"] == b"__redis__:invalidate"
    assert msg["data"] == [b"py:k"]
    assert t.client_tracking_off()
    p.close()
    t.close()
    r.close()


def test_close_while_tracked_from_another_thread(seg):
    """Clients that track, read and close while a writer changes the same
    keys: nothing is sent to a closed client, the server stays up."""
    stop = time.time() + 2 * SLOW

    def writer():
        w = Wire(seg.port("resp"))
        i = 0
        while time.time() < stop:
            w.cmd("SET", "churn:%d" % (i % 8), str(i))
            i += 1
        w.close()
    th = threading.Thread(target=writer)
    th.start()
    while time.time() < stop:
        w = Wire(seg.port("resp"))
        w.cmd("HELLO", "3")
        w.cmd("CLIENT", "TRACKING", "on")
        for k in range(8):
            w.s.sendall(b"GET churn:%d\r\n" % k)
        w.close()
    th.join()
    assert Wire(seg.port("resp")).cmd("PING") == b"+PONG\r\n"


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli")
def test_redis_cli_resp3_tracking_shows_invalidations(seg, oracle):
    """redis-cli -3 with CLIENT TRACKING on prints the invalidation of a
    key it read and then wrote (no NOLOOP), as it does against Redis
    (--show-pushes: pushes are shown by default only on a terminal). Redis
    sends the writer's own invalidation before its next reply; segcached
    sends it through the worker's rings, so it may come a reply later:
    the replies are compared without it, and it must come."""
    outs = []
    for port in (seg.port("resp"), oracle.port):
        r = subprocess.run(["redis-cli", "-3", "--show-pushes", "yes", "-p",
                            str(port)],
                           input="CLIENT TRACKING on\nGET cli:k\n"
                                 "SET cli:k v\n" + "PING\n" * 20,
                           capture_output=True, text=True, timeout=20 * SLOW)
        assert r.returncode == 0, r.stderr
        assert "invalidate\ncli:k\n" in r.stdout, r.stdout
        outs.append(r.stdout.replace("invalidate\ncli:k\n", ""))
    assert outs[0] == outs[1]

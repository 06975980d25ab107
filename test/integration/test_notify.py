# SPDX-License-Identifier: Apache-2.0
"""Keyspace notifications end to end (issue 19): CONFIG SET/GET of
notify-keyspace-events and the message streams a subscriber receives,
compared byte for byte with a real redis-server 7.0.15 running the same
commands (RESP2 and RESP3 subscribers, several flag sets); expired keys
(found by a read, or reclaimed in the background) and evicted keys notify
once each; the memcache port's writes notify in database 0; subscribers on
every worker get every event in order."""
import socket
import time

import pytest

from conftest import SLOW, Server
from test_resp import Wire, oracle  # noqa: F401 (oracle: a fixture)

END = "__keyspace@0__:zzend"  # matches the patterns below: ends a stream


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("resp", "memcache"), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


CONFIG = ["KEA", "Ag", "KA", "$lshzxetdn", "Kx", "KEm", "", "KEAn", "xyz",
          "KEg$lshzxetdmn", "EKgg", "K E", "kea"]


def test_config_like_redis(seg, oracle):
    out = {}
    for port in (seg.port("resp"), oracle.port):
        w = Wire(port)
        got = [w.cmd("CONFIG", "GET", "notify-keyspace-events")]
        for v in CONFIG:
            got.append(w.cmd("CONFIG", "SET", "notify-keyspace-events", v))
            got.append(w.cmd("CONFIG", "GET", "notify-keyspace-events"))
        got.append(w.cmd("CONFIG", "SET", "notify-keyspace-events", ""))
        out[port] = got
        w.close()
    assert out[seg.port("resp")] == out[oracle.port]


# Strings and generic commands: every event name segcached shares with
# Redis for them ("SLEEP s" waits, so PX 1 has passed: the GET finds the
# key expired).
STRINGS = """SET k v
SET k v EX 100
SET k v KEEPTTL
SETEX k2 100 v
PSETEX k3 100000 v
SETNX k4 v
SETNX k4 v
MSET a 1 b 2
MSETNX c 1 d 2
MSETNX c2 1 d2 2
GETSET a 5
GETDEL b
GETDEL nokey
APPEND a x
APPEND newa x
SETRANGE a 0 zz
SETRANGE sr 2 x
SETRANGE sr2 0 ""
INCR n
INCRBY n 5
DECR n
DECRBY n 2
INCRBYFLOAT f 1.5
EXPIRE a 100
PEXPIRE a 100000
EXPIRE a 50 GT
EXPIREAT a 1
PERSIST k
PERSIST k
EXPIRE k 100
PERSIST k
DEL k2 nokey
UNLINK k3
RENAME c cc
RENAMENX cc d
RENAMENX cc dd
COPY dd ee
COPY dd ee
COPY dd ee REPLACE
MOVE ee 1
MOVE ee 1
SET g v
GETEX g EX 100
GETEX g PERSIST
GETEX g
GET nope
EXISTS nope
MGET nope g nope2
STRLEN nope
SET x v PX 1
SLEEP 0.05
GET x
SET y v GET
EXPIRE y 0
SELECT 1
SET k1 v
DEL k1
SELECT 0
FLUSHALL"""


# Collections, bitmaps, HyperLogLog, SORT .. STORE, blocking pops and a
# transaction: the events of each command (none when nothing changed, the
# key's "del" after its last element went, "new" when it was made).
COLLECTIONS = """HSET h a 1 b 2
HSET h a 1
HSETNX h a 1
HSETNX h c 3
HMSET h d 4
HINCRBY h n 1
HINCRBYFLOAT h f 1.5
HDEL h a zz
HDEL h zz
HDEL h b c d n f
SADD s a b
SADD s a
SREM s a z
SREM s z
SPOP s
SADD s2 x y z
SPOP s2 2
SPOP s2 5
SADD t1 a b c
SADD t2 b c d
SINTERSTORE d1 t1 t2
SUNIONSTORE d2 t1 t2
SDIFFSTORE d3 t1 t2
SINTERSTORE d1 t1 nokey
SMOVE t1 t2 a
SMOVE t1 t2 zz
LPUSH l a b
RPUSH l c
LPUSHX l d
RPUSHX nol d
LPOP l
RPOP l 1
LINSERT l BEFORE a x
LSET l 0 y
LTRIM l 0 0
LREM l 0 y
RPUSH l2 a b c
LMOVE l2 l3 LEFT RIGHT
RPOPLPUSH l2 l3
LPOP l2 5
ZADD z 1 a 2 b
ZADD z 1 a
ZADD z INCR 5 a
ZINCRBY z 1 b
ZREM z a q
ZADD z 3 c 4 d 5 e
ZREMRANGEBYSCORE z 3 3
ZREMRANGEBYRANK z 0 0
ZREMRANGEBYLEX z - +
ZADD z2 1 a 2 b 3 c
ZPOPMIN z2
ZPOPMAX z2 5
ZADD z3 1 a 2 b
ZADD z4 1 b
ZUNIONSTORE zu 2 z3 z4
ZINTERSTORE zi 2 z3 z4
ZDIFFSTORE zd 2 z3 z4
ZRANGESTORE zr z3 0 -1
ZINTERSTORE zi 2 z3 nokey
SETBIT b 7 1
SETBIT b 7 1
SETBIT b 100 0
BITFIELD bf SET u8 0 255
BITFIELD bf INCRBY u8 0 1
BITFIELD bf GET u8 0
SET s1 abc
SET s2 abd
BITOP AND dst s1 s2
BITOP AND dst s1 s2
BITOP AND dst nokey nokey2
PFADD h a b
PFADD h a
PFADD h2 c
PFMERGE h3 h h2
PFMERGE h3 h
PFCOUNT h
RPUSH l 3 1 2
SORT l STORE ls
SORT l STORE ls
SORT nokey STORE ls
LPUSH bl x
BLPOP bl 1
ZADD bz 1 a
BZPOPMIN bz 1
RPUSH mp a b
LMPOP 1 mp LEFT COUNT 5
ZADD zm 1 a 2 b
ZMPOP 1 zm MIN COUNT 1
RPUSH bm a
BLMOVE bm bm2 LEFT LEFT 1
MULTI
SET tx 1
INCR tx
HSET txh f v
EXEC"""


def stream(port, flags, script, resp3=False, expect=None):
    """Subscribes (a pattern for both channels), runs the script on another
    connection and returns the frames the subscriber got: with expect (a
    count), that many, then whatever came before a PUBLISH to END; else
    every frame before END (the oracle: Redis is one thread, so END comes
    after every notification). segcached gives no order between a PUBLISH
    and notifications still in a worker's rings (docs/protocol-resp.md),
    so its stream is read by count first."""
    ctl = Wire(port)
    assert ctl.cmd("FLUSHALL") == b"+OK\r\n"
    assert ctl.cmd("CONFIG", "SET", "notify-keyspace-events",
                   flags) == b"+OK\r\n"
    sub = Wire(port)
    if resp3:
        sub.cmd("HELLO", "3")
    sub.cmd("PSUBSCRIBE", "__key*__:*")
    w = Wire(port)
    for line in script.splitlines():
        args = line.split(" ")
        if args[0] == "SLEEP":
            time.sleep(float(args[1]))
            continue
        w.cmd(*[a if a != '""' else "" for a in args])
    frames = [sub.reply() for _ in range(expect or 0)]
    ctl.cmd("PUBLISH", END, "end")
    while True:
        f = sub.reply()
        if END.encode() in f:
            break
        frames.append(f)
    ctl.cmd("CONFIG", "SET", "notify-keyspace-events", "")
    for c in (ctl, sub, w):
        c.close()
    return frames


@pytest.mark.parametrize("flags", ["KEA", "KEAn", "K$", "Eg", "KEm", "Exn",
                                   "KEl"])
def test_string_and_generic_events_like_redis(seg, oracle, flags):
    want = stream(oracle.port, flags, STRINGS)
    got = stream(seg.port("resp"), flags, STRINGS, expect=len(want))
    assert got == want
    if flags == "KEA":
        assert len(want) > 100  # the script says something


@pytest.mark.parametrize("flags", ["KEA", "KEAn", "Kh", "Es", "Kl", "Ez",
                                   "K$g"])
def test_collection_events_like_redis(seg, oracle, flags):
    want = stream(oracle.port, flags, COLLECTIONS)
    got = stream(seg.port("resp"), flags, COLLECTIONS,
                 expect=len(want))
    assert got == want
    if flags == "KEA":
        assert len(want) > 150


def test_resp3_subscriber_like_redis(seg, oracle):
    want = stream(oracle.port, "KEA", STRINGS, resp3=True)
    got = stream(seg.port("resp"), "KEA", STRINGS, resp3=True,
                 expect=len(want))
    assert got == want
    assert all(f.startswith(b">4\r\n$8\r\npmessage") for f in got)


def test_off_and_no_class_publish_nothing(seg):
    for flags in ("", "A", "KE"):
        assert stream(seg.port("resp"), flags, STRINGS) == []


def mc_cmd(sock, line, data=None):
    sock.sendall(line.encode() + b"\r\n" +
                 (data.encode() + b"\r\n" if data is not None else b""))
    buf = b""
    while not (buf.endswith(b"\r\n") and
               (not line.startswith(("get", "gat")) or buf.endswith(b"END\r\n"))):
        buf += sock.recv(4096)
    return buf


def test_memcache_writes_notify_db0(seg):
    """The memcache port's writes, as docs/protocol-memcache.md lists."""
    port = seg.port("resp")
    ctl = Wire(port)
    ctl.cmd("FLUSHALL")
    ctl.cmd("CONFIG", "SET", "notify-keyspace-events", "Egx$n")
    sub = Wire(port)
    sub.cmd("PSUBSCRIBE", "__keyevent@*")
    m = socket.create_connection(("127.0.0.1", seg.port("memcache")))
    for line, data in [("set a 0 0 1", "x"), ("set a 0 100 1", "y"),
                       ("add b 0 0 1", "z"), ("add b 0 0 1", "z"),
                       ("replace b 0 0 1", "q"), ("append b 0 0 1", "1"),
                       ("prepend b 0 0 1", "2"), ("incr n 1", None),
                       ("set n 0 0 1", "5"), ("incr n 3", None),
                       ("decr n 1", None), ("touch n 100", None),
                       ("gat 0 n", None), ("delete n", None),
                       ("delete n", None), ("flush_all", None)]:
        mc_cmd(m, line, data)
    m.close()
    ctl.cmd("PUBLISH", "__keyevent@0__:zzend", "end")
    got = []
    while True:
        f = sub.reply()
        if b"zzend" in f:
            break
        parts = f.split(b"\r\n")
        got.append((parts[6].decode(), parts[8].decode()))
    ctl.cmd("CONFIG", "SET", "notify-keyspace-events", "")
    ctl.close()
    sub.close()
    ev = [(c.split(":", 1)[1], k) for c, k in got]
    assert ev == [("new", "a"), ("set", "a"), ("set", "a"), ("expire", "a"),
                  ("new", "b"), ("set", "b"), ("set", "b"), ("append", "b"),
                  ("append", "b"), ("new", "n"), ("set", "n"),
                  ("incrby", "n"), ("incrby", "n"), ("expire", "n"),
                  ("persist", "n"), ("del", "n")]
    assert all(c.startswith("__keyevent@0__:") for c, _ in got)


def collect(sub, end):
    out = []
    while True:
        f = sub.reply()
        if end in f:
            return out
        out.append(f.split(b"\r\n")[-2])  # the payload: the key


def set_many(w, n, value):
    """SET k0 .. k<n-1> to value, pipelined 500 at a time."""
    for start in range(0, n, 500):
        end = min(n, start + 500)
        w.send(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\n%s\r\n"
                        % (len(str(i)) + 1, i, len(value), value)
                        for i in range(start, end)))
        for _ in range(start, end):
            assert w.reply() == b"+OK\r\n"


def test_evicted_once_per_key(server_factory):
    s = server_factory(protocols=("resp",), threads=2,
                       args=["-o", "seg.memory=8MiB"])
    port = s.port("resp")
    ctl = Wire(port)
    ctl.cmd("CONFIG", "SET", "notify-keyspace-events", "Ee")
    sub = Wire(port)
    sub.cmd("SUBSCRIBE", "__keyevent@0__:evicted", "end")
    sub.reply()
    w = Wire(port)
    n = 20000
    set_many(w, n, b"v" * 1000)
    # the background thread may still be evicting (its free reserve), and
    # its notifications come through its own rings: read one per eviction
    # counted, until the count stays (a missing one blocks: the socket's
    # timeout fails the test)
    keys = []
    while True:
        evicted = s.stats()["seg_evict_item"]
        keys += [sub.reply().split(b"\r\n")[-2]
                 for _ in range(evicted - len(keys))]
        if s.stats()["seg_evict_item"] == evicted:
            break
    assert evicted > n // 2  # 8 MiB holds far fewer than 20 MB of values
    ctl.cmd("PUBLISH", "end", "end")
    assert collect(sub, b"$3\r\nend\r\n$3\r\nend") == []  # nothing more
    assert len(keys) == evicted
    assert len(set(keys)) == len(keys)  # once per key
    for k in keys[:500]:
        assert w.cmd("EXISTS", k.decode()) == b":0\r\n"
    assert w.cmd("DBSIZE") == b":%d\r\n" % (n - evicted)
    for c in (ctl, sub, w):
        c.close()


def test_expired_once_read_or_background(server_factory):
    """Keys with a short TTL, one in ten read after its expiry: each key
    notifies once, from the read or from the background thread reclaiming
    its segment, whichever finds it first (which one is timing: not
    asserted; test_notify.c checks the read path alone)."""
    s = server_factory(protocols=("resp",), threads=2)
    port = s.port("resp")
    ctl = Wire(port)
    ctl.cmd("CONFIG", "SET", "notify-keyspace-events", "Ex")
    sub = Wire(port)
    sub.cmd("SUBSCRIBE", "__keyevent@0__:expired", "end")
    sub.reply()
    w = Wire(port)
    n = 2000
    w.send(b"".join(b"*5\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n"
                    b"$2\r\nPX\r\n$3\r\n200\r\n" % (len(str(i)) + 1, i)
                    for i in range(n)))
    for _ in range(n):
        assert w.reply() == b"+OK\r\n"
    time.sleep(0.3)  # past the expiry (not a timing assertion)
    for i in range(0, n, 10):  # one key in ten is looked up expired
        assert w.cmd("GET", "k%d" % i) == b"$-1\r\n"
    # the rest go with their segment when the background thread frees it
    # (after the segment's last expiry, with the next write to open a new
    # one); wait for that, however long it takes
    w.cmd("SET", "other", "v", "PX", "100")
    s.wait_stat("seg_expire_item", lambda v: v >= n, timeout=60 * SLOW)
    # read by count: the background thread's notifications come through
    # their own rings, with no order against a PUBLISH
    keys = []
    while len([k for k in keys if k != b"other"]) < n:
        keys.append(sub.reply().split(b"\r\n")[-2])
    mine = [k for k in keys if k != b"other"]
    assert sorted(mine) == sorted(b"k%d" % i for i in range(n))
    for c in (ctl, sub, w):
        c.close()


def test_every_worker_gets_every_event_in_order(server_factory):
    s = server_factory(protocols=("resp",), threads=3)
    port = s.port("resp")
    ctl = Wire(port)
    ctl.cmd("CONFIG", "SET", "notify-keyspace-events", "E$")
    subs = []
    for i in range(9):
        w = Wire(port)
        if i % 2:
            w.cmd("SUBSCRIBE", "__keyevent@0__:set")
        else:
            w.cmd("PSUBSCRIBE", "__keyevent@*")
        subs.append(w)
    per_worker = [v for k, v in s.stats().items()
                  if k.startswith("worker_") and k.endswith("_conn_curr")]
    assert len(per_worker) == 3 and all(v >= 3 for v in per_worker)
    n = 3000
    w = Wire(port)
    set_many(w, n, b"v")
    want = [b"k%d" % i for i in range(n)]
    for sub in subs:
        got = [sub.reply().split(b"\r\n")[-2] for _ in range(n)]
        assert got == want
    assert s.stats()["msg_overflow_ex"] == 0
    for c in subs + [w, ctl]:
        c.close()


def test_redis_py_psubscribe(seg):
    redis = pytest.importorskip("redis")
    r = redis.Redis(port=seg.port("resp"))
    r.config_set("notify-keyspace-events", "KEA")
    assert r.config_get("notify-keyspace-events") == {
        "notify-keyspace-events": "AKE"}
    p = r.pubsub()
    p.psubscribe("__keyspace@0__:user:*")
    assert p.get_message(timeout=5 * SLOW)["type"] == "psubscribe"
    r.set("user:1", "a", ex=60)
    r.delete("user:1")
    got = []
    while len(got) < 3:
        m = p.get_message(timeout=5 * SLOW)
        assert m is not None
        got.append((m["channel"], m["data"]))
    assert got == [(b"__keyspace@0__:user:1", b"set"),
                   (b"__keyspace@0__:user:1", b"expire"),
                   (b"__keyspace@0__:user:1", b"del")]
    p.close()
    r.config_set("notify-keyspace-events", "")
    r.close()

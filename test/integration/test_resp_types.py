# SPDX-License-Identifier: Apache-2.0
"""Redis hashes and sets (issue 15) end to end.

Replies are compared byte for byte with a real redis-server 7.0.15 where
Redis's order is defined (listpack hashes keep insertion order, intsets are
sorted); where it is a hash table's order, the elements are compared as
multisets. Then what a model checks: large collections (stored in parts),
conversions at the thresholds, no lost update across workers, eviction that
takes a collection whole, and redis-py as applications use it.
"""
import os
import random
import shlex
import shutil
import tempfile
import threading

import pytest

from conftest import SLOW, Server
from test_resp import Wire, lines, oracle  # noqa: F401 (oracle: a fixture)

redis = pytest.importorskip("redis")


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("resp",), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


@pytest.fixture
def w(seg):
    c = Wire(seg.port("resp"))
    c.cmd("FLUSHALL")
    yield c
    c.close()


def parse(b, i=0):
    """One RESP reply from bytes: (value, next index). Aggregates become
    tuples tagged with their type byte."""
    t = b[i:i + 1]
    j = b.index(b"\r\n", i)
    head = b[i + 1:j]
    i = j + 2
    if t in b"$=!":
        n = int(head)
        if n < 0:
            return None, i
        return b[i:i + n], i + n + 2
    if t in b"*~>%|":
        n = int(head)
        if n < 0:
            return None, i
        if t in b"%|":
            n *= 2
        out = []
        for _ in range(n):
            v, i = parse(b, i)
            out.append(v)
        return (t, out), i
    return t + head, i


def unordered(reply):
    """The reply with every aggregate's elements sorted (maps by pair)."""
    v, _ = parse(reply)

    def norm(x):
        if isinstance(x, tuple):
            t, items = x
            items = [norm(y) for y in items]
            if t in (b"%", b"|"):
                pairs = sorted(zip(items[0::2], items[1::2]), key=repr)
                return (t, pairs)
            return (t, sorted(items, key=repr))
        return x
    return norm(v)


def compare(seg_port, redis_port, script, hello3=False):
    """Each line on both servers. A line starting with '~' is compared as
    multisets (a hash table's order); the others byte for byte."""
    a, b = Wire(redis_port), Wire(seg_port)
    for c in (a, b):
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
        if hello3:
            c.cmd("HELLO", "3")
    diffs = []
    for line in script:
        loose = line.startswith("~")
        args = shlex.split(line.lstrip("~"))
        ra, rb = a.cmd(*args), b.cmd(*args)
        same = unordered(ra) == unordered(rb) if loose else ra == rb
        if not same:
            diffs.append((line, ra, rb))
    a.close()
    b.close()
    return diffs


HASHES = """
HSET h f1 v1 f2 v2 f3 v3
HSET h f1 new f4 v4
HGET h f1
HGET h nofield
HGET nokey f
HMGET h f1 nofield f3
HMGET nokey a b
HMSET h f5 v5 f6 v6
HSETNX h f1 x
HSETNX h f7 v7
HSETNX newh a b
HGETALL h
HKEYS h
HVALS h
HLEN h
HLEN nokey
HEXISTS h f1
HEXISTS h zz
HSTRLEN h f1
HSTRLEN h zz
HSTRLEN nokey f
HDEL h f1 f2 zz
HDEL h zz
HDEL nokey f
HGETALL h
HGETALL nokey
HINCRBY h n 5
HINCRBY h n -10
HINCRBY h n x
HINCRBY h f3 1
HINCRBY h big 9223372036854775807
HINCRBY h big 1
HINCRBY h n 1.5
HINCRBYFLOAT h fl 1.5
HINCRBYFLOAT h fl 0.1
HINCRBYFLOAT h fl -1.6
HINCRBYFLOAT h fl 1e3
HINCRBYFLOAT h fl abc
HINCRBYFLOAT h f3 1
HINCRBYFLOAT hf inf 1e308
HINCRBYFLOAT hf inf 1e308
HINCRBYFLOAT hf x inf
HGETALL hf
HGETALL h
HSET h a
HSET h
HSET h a b c
HMSET h a
HGET h
HRANDFIELD nokey
HRANDFIELD nokey 3
HRANDFIELD h 0
HRANDFIELD h x
HRANDFIELD h 1 foo
HRANDFIELD h 1 withvalues extra
HRANDFIELD h -9223372036854775808
HRANDFIELD h -9223372036854775807 withvalues
HSCAN h x
HSCAN h 0 COUNT 0
HSCAN h 0 MATCH
HSCAN h 0 FOO bar
HSCAN nokey 0
HSCAN h 0
HSCAN h 0 MATCH f*
HSCAN h 0 MATCH f* COUNT 1
HDEL h f3 f4 f5 f6 f7 n big fl
EXISTS h
SET s str
HGET s f
HSET s f v
HGETALL s
HLEN s
HDEL s f
HINCRBY s f 1
HSCAN s 0
HRANDFIELD s
TYPE h
TYPE newh
TYPE s
OBJECT ENCODING newh
"""

SETS = """
SADD s 3 1 2 1
SADD s 5
SMEMBERS s
SCARD s
SCARD nokey
SISMEMBER s 1
SISMEMBER s 9
SISMEMBER nokey 1
SMISMEMBER s 1 9 2
SMISMEMBER nokey 1
OBJECT ENCODING s
SREM s 1 9
SREM nokey 1
SMEMBERS s
SMEMBERS nokey
SADD t 2 3 4 10
SINTER s t
SINTER s nokey
SINTER nokey s
SUNION s t
SUNION s nokey
SDIFF t s
SDIFF nokey s
SINTERSTORE d s t
SMEMBERS d
SUNIONSTORE d s t
SMEMBERS d
SDIFFSTORE d t s
SMEMBERS d
SINTERSTORE d s nokey
EXISTS d
SINTERCARD 2 s t
SINTERCARD 2 s t LIMIT 1
SINTERCARD 2 s t LIMIT 0
SINTERCARD 0 s t
SINTERCARD x s
SINTERCARD 3 s t
SINTERCARD 1 s LIMIT -1
SINTERCARD 1 s LIMIT x
SINTERCARD 1 s FOO 1
SMOVE s t 5
SMEMBERS t
SMOVE s t 99
SMOVE nokey t 1
SMOVE t t 2
SMOVE t t 99
SPOP nokey
SPOP nokey 3
SPOP t -1
SPOP t x
SPOP t 0
SRANDMEMBER nokey
SRANDMEMBER nokey 3
SRANDMEMBER t 0
SRANDMEMBER t x
SRANDMEMBER t 1 2
SRANDMEMBER t 100
SRANDMEMBER t -9223372036854775808
SSCAN t 0
SSCAN t 0 MATCH 1*
SSCAN t x
SSCAN nokey 0
SPOP t 100
EXISTS t
SET str v
SADD str a
SMEMBERS str
SINTER s str
SINTER nokey str
SINTER str nokey
SUNION s str
SMOVE str s a
SMOVE s str 2
SINTERSTORE str s s
TYPE str
SADD neg -5 0 -1 9223372036854775807 -9223372036854775808
SMEMBERS neg
SADD neg 01
~SMEMBERS neg
OBJECT ENCODING neg
~SADD w a b c
~SMEMBERS w
OBJECT ENCODING w
~SUNION w neg
~SINTER w w
~SDIFF w neg
"""

RESP3 = """
HSET h a 1 b 2
HGETALL h
HGETALL nokey
HRANDFIELD h 2 WITHVALUES
HSET h1 a 1
HRANDFIELD h1 -1 WITHVALUES
HRANDFIELD h1 -3
SADD s 1 2 3
SMEMBERS s
SINTER s s
SUNION s nokey
SDIFF s nokey
SPOP s 5
SPOP nokey 2
SMEMBERS nokey
"""


@pytest.mark.parametrize("block", ["HASHES", "SETS"])
def test_replies_match_redis(seg, oracle, block):
    diffs = compare(seg.port("resp"), oracle.port, lines(globals()[block]))
    assert diffs == []


def test_resp3_replies_match_redis(seg, oracle):
    diffs = compare(seg.port("resp"), oracle.port, lines(RESP3), hello3=True)
    assert diffs == []


def test_conversions_at_thresholds_match_redis(seg, oracle):
    """OBJECT ENCODING at Redis's thresholds, and CONFIG GET/SET of them:
    listpack up to 512 entries (Redis 7.0.15's compiled default) and 64-byte values, intset up to 512
    members, converted once, never back."""
    script = []
    for i in range(512):
        script.append(f"HSET h f{i} v")
    script += ["OBJECT ENCODING h", "HSET h f512 v", "OBJECT ENCODING h",
               "HDEL h f512 f1 f2", "OBJECT ENCODING h", "HLEN h",
               "HSET h2 a " + "x" * 64, "OBJECT ENCODING h2",
               "HSET h3 a " + "x" * 65, "OBJECT ENCODING h3",
               "HSET h4 " + "y" * 65 + " b", "OBJECT ENCODING h4"]
    for i in range(512):
        script.append(f"SADD s {i * 7 - 100}")
    script += ["OBJECT ENCODING s", "SCARD s", "SADD s 100000",
               "OBJECT ENCODING s", "SCARD s",
               "SADD s2 1 2", "OBJECT ENCODING s2", "SADD s2 x",
               "OBJECT ENCODING s2",
               "~CONFIG GET hash-max-*",
               "CONFIG GET set-max-intset-entries",
               "CONFIG SET hash-max-listpack-entries 2",
               "CONFIG SET set-max-intset-entries x",
               "CONFIG SET hash-max-listpack-value -1",
               "CONFIG SET hash-max-listpack-value 1kb",
               "CONFIG GET hash-max-listpack-value",
               "CONFIG SET hash-max-ziplist-value 64",
               "CONFIG SET hash-max-listpack-value 5x",
               "HSET h5 a 1 b 2", "OBJECT ENCODING h5", "HSET h5 c 3",
               "OBJECT ENCODING h5",
               "CONFIG SET hash-max-listpack-entries 512",
               "CONFIG GET hash-max-listpack-entries"]
    assert compare(seg.port("resp"), oracle.port, script) == []


def test_large_hash_and_set_in_parts(w, seg):
    """Past one item a collection is stored in parts: every element is
    found, counts stay exact, scans report everything, and removing every
    element removes the key."""
    r = redis.Redis(port=seg.port("resp"))
    n = 30000
    model = {}
    p = r.pipeline(transaction=False)
    for i in range(n):
        f = f"field:{i:08d}"
        model[f] = f"value-{i}-" + "v" * (i % 40)
        p.hset("big", f, model[f])
        if i % 1000 == 999:
            p.execute()
    p.execute()
    assert r.hlen("big") == n
    assert r.object("encoding", "big") == b"hashtable"
    rnd = random.Random(7)
    for f in rnd.sample(sorted(model), 500):
        assert r.hget("big", f).decode() == model[f]
    assert {k.decode(): v.decode() for k, v in r.hgetall("big").items()} \
        == model
    seen = {}
    for k, v in r.hscan_iter("big", count=100):
        seen[k.decode()] = v.decode()
    assert seen == model
    assert len(list(r.hscan_iter("big", match="field:0000001*"))) == 10
    # changes, deletions and increments against the model
    for i in rnd.sample(range(n), 2000):
        f = f"field:{i:08d}"
        if i % 3 == 0:
            assert r.hdel("big", f) == 1
            del model[f]
        else:
            model[f] = "changed"
            assert r.hset("big", f, "changed") == 0
    assert r.hincrby("big", "counter", 7) == 7
    model["counter"] = "7"
    assert r.hlen("big") == len(model)
    assert {k.decode(): v.decode() for k, v in r.hgetall("big").items()} \
        == model
    usage = r.memory_usage("big")
    payload = sum(len(k) + len(v) for k, v in model.items())
    assert payload < usage < 2 * payload
    # a set of the same size, then set algebra over it
    members = [f"m{i}" for i in range(n)]
    for i in range(0, n, 1000):
        r.sadd("bigset", *members[i:i + 1000])
    assert r.scard("bigset") == n
    assert r.sismember("bigset", "m12345") and \
        not r.sismember("bigset", "m-1")
    r.sadd("small", "m1", "m2", "zzz")
    assert r.sinter("bigset", "small") == {b"m1", b"m2"}
    assert r.sintercard(2, ["small", "bigset"]) == 2
    assert r.sunionstore("u", "bigset", "small") == n + 1
    assert r.sdiffstore("d", "bigset", "small") == n - 2
    assert r.scard("d") == n - 2 and not r.sismember("d", "m1")
    assert {m.decode() for m in r.sscan_iter("bigset", count=500)} == \
        set(members)
    popped = r.spop("bigset", 100)
    assert len(set(popped)) == 100 and r.scard("bigset") == n - 100
    for i in range(0, n, 1000):
        r.srem("bigset", *members[i:i + 1000])
    assert r.exists("bigset") == 0
    assert r.delete("big", "u", "d") == 3
    assert r.dbsize() == 1  # "small"


def test_no_lost_update_across_workers(seg):
    """8 connections over both workers: HINCRBY on one field ends at the
    exact sum, SADD of disjoint members keeps every member, and HSET/HDEL
    of each connection's own fields matches its model."""
    port = seg.port("resp")
    r = redis.Redis(port=port)
    r.delete("cnt", "members", "mix")
    per = 2000 if SLOW == 1 else 300
    models = [dict() for _ in range(8)]
    errors = []

    def run(t):
        try:
            c = redis.Redis(port=port)
            rnd = random.Random(t)
            for i in range(per):
                c.hincrby("cnt", "f", 1)
                c.sadd("members", f"{t}:{i}")
                f = f"{t}:{rnd.randrange(50)}"
                if rnd.random() < 0.3:
                    c.hdel("mix", f)
                    models[t].pop(f, None)
                else:
                    c.hset("mix", f, str(i))
                    models[t][f] = str(i)
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert int(r.hget("cnt", "f")) == 8 * per
    assert r.scard("members") == 8 * per
    want = {}
    for m in models:
        want.update(m)
    got = {k.decode(): v.decode() for k, v in r.hgetall("mix").items()}
    assert got == want


def test_eviction_takes_collections_whole():
    """A small heap written far past its size: a collection that is still
    there has every element (never half a key)."""
    s = Server(args=("-m", "8MiB", "-o", "seg.segment_size=256KiB"),
               protocols=("resp",), threads=2)
    try:
        r = redis.Redis(port=s.port("resp"))
        sizes = {}
        for k in range(40):
            fields = {f"f{i:06d}": "x" * 50 for i in range(2000)}
            key = f"coll:{k}"
            p = r.pipeline(transaction=False)
            for i in range(0, 2000, 500):
                p.hset(key, mapping=dict(list(fields.items())[i:i + 500]))
            p.execute()
            sizes[key] = 2000
            r.set(f"filler:{k}", "y" * 100000)
        present = 0
        for key, n in sizes.items():
            if r.exists(key):
                present += 1
                assert r.hlen(key) == n
                assert len(r.hgetall(key)) == n
        assert 0 < present < len(sizes)
    finally:
        assert s.stop() == 0


def test_redis_py_as_applications_use_it(w, seg):
    r = redis.Redis(port=seg.port("resp"), decode_responses=True)
    assert r.hset("user:1", mapping={"name": "ada", "age": "36"}) == 2
    assert r.hgetall("user:1") == {"name": "ada", "age": "36"}
    assert r.hincrby("user:1", "age", 1) == 37
    assert r.hincrbyfloat("user:1", "score", 2.5) == 2.5
    assert r.hmget("user:1", ["name", "nope"]) == ["ada", None]
    assert r.type("user:1") == "hash"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sadd("user:1", "x")
    r.sadd("tags", *[f"t{i}" for i in range(300)])
    assert set(r.sscan_iter("tags", match="t1*")) == \
        {f"t{i}" for i in range(300) if str(i).startswith("1")}
    for transaction in (False, True):
        p = r.pipeline(transaction=transaction)
        p.hset("h", "a", "1").hget("h", "a").sadd("s", "x").smembers("s")
        p.hlen("h").srem("s", "x").exists("s")
        # the second round finds h.a set; s was emptied by the first
        assert p.execute() == [1 if not transaction else 0, "1", 1, {"x"},
                               1, 1, 0]
    assert r.hrandfield("user:1") in ("name", "age", "score")
    assert len(r.hrandfield("user:1", -5)) == 5
    assert r.srandmember("tags") in {f"t{i}" for i in range(300)}
    # expiry and generic commands over the new types
    assert r.expire("user:1", 100)
    assert 0 < r.ttl("user:1") <= 100
    assert r.hset("user:1", "x", "1") == 1
    assert 0 < r.ttl("user:1") <= 100  # a change keeps the TTL
    assert r.persist("user:1")
    assert r.rename("tags", "tags2")
    assert r.scard("tags2") == 300 and not r.exists("tags")
    assert r.delete("tags2", "user:1") == 2


def test_watch_sees_collection_changes(seg):
    """WATCH over a hash or set: a change by another connection, inline or
    in parts, aborts the EXEC; no change lets it run. A value replaced by
    one of the same length in a hash in parts leaves its root as it was
    (one store write): WATCH sees that change too."""
    port = seg.port("resp")
    r, other = redis.Redis(port=port), redis.Redis(port=port)
    r.delete("wh", "ws", "big", "bigh")
    r.hset("wh", "a", "1")
    r.sadd("big", *[f"m{i}" for i in range(3000)])  # in parts
    r.hset("bigh", mapping={f"f{i}": f"v{i:05d}" for i in range(3000)})
    for key, change in (("wh", lambda: other.hset("wh", "a", "2")),
                        ("big", lambda: other.sadd("big", "new")),
                        ("big", lambda: other.srem("big", "m1")),
                        ("bigh", lambda: other.hset("bigh", "f1", "w00001")),
                        ("bigh", lambda: other.hincrby("bigh", "n", 1)),
                        ("bigh", lambda: other.hincrby("bigh", "n", 1))):
        p = r.pipeline()
        p.watch(key)
        change()
        p.multi()
        p.set("x", "1")
        with pytest.raises(redis.WatchError):
            p.execute()
    p = r.pipeline()
    p.watch("big")
    p.multi()
    p.scard("big")
    assert p.execute() == [3000]
    # a write of another key (a string) does not abort it
    p = r.pipeline()
    p.watch("bigh")
    other.set("x", "2")
    p.multi()
    p.hget("bigh", "f1")
    p.hlen("bigh")
    assert p.execute() == [b"w00001", 3001]


def test_warm_restart_keeps_collections():
    """-e FILE: hashes and sets, inline and in parts, come back whole after
    a clean restart."""
    d = tempfile.mkdtemp(prefix="segcached-pool-")
    os.chmod(d, 0o777)
    pool = os.path.join(d, "store.pool")
    try:
        s = Server(args=("-e", pool), protocols=("resp",), threads=2)
        r = redis.Redis(port=s.port("resp"))
        r.hset("small", mapping={"a": "1", "b": "2"})
        big = {f"f{i}": f"v{i}" * 3 for i in range(20000)}
        p = r.pipeline(transaction=False)
        for i, (k, v) in enumerate(big.items()):
            p.hset("bighash", k, v)
            if i % 1000 == 999:
                p.execute()
        p.execute()
        r.sadd("ints", 1, 2, 3)
        r.sadd("bigset", *[f"m{i}" for i in range(20000)])
        r.expire("bigset", 1000)
        assert s.stop() == 0
        s = Server(args=("-e", pool), protocols=("resp",), threads=2)
        r = redis.Redis(port=s.port("resp"))
        assert r.hgetall("small") == {b"a": b"1", b"b": b"2"}
        assert {k.decode(): v.decode() for k, v in
                r.hgetall("bighash").items()} == big
        assert r.smembers("ints") == {b"1", b"2", b"3"}
        assert r.scard("bigset") == 20000 and 900 < r.ttl("bigset") <= 1000
        assert r.object("encoding", "bighash") == b"hashtable"
        assert s.stop() == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)

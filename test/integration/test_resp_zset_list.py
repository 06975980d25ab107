# SPDX-License-Identifier: Apache-2.0
"""Redis sorted sets and lists, blocking pops included (issue 16), end to
end.

Replies are compared byte for byte with a real redis-server 7.0.15 (both
protocols), then what a model checks: lists in parts under random
operations against the oracle, blocked clients woken across workers (order,
timeouts, pipelining, MULTI, CLIENT UNBLOCK, disconnect), no element lost
or popped twice with producers and consumers on both workers, eviction
taking a list whole, redis-benchmark's default run, and redis-py.
"""
import random
import shlex
import shutil
import subprocess
import threading
import time

import pytest

from conftest import Server
from test_resp import NO_REDIS, REDIS_SERVER, RedisServer, Wire
from test_resp_types import compare

redis = pytest.importorskip("redis")


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("resp",), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


@pytest.fixture(scope="module")
def oracle():
    if REDIS_SERVER is None:
        pytest.skip(NO_REDIS)
    r = RedisServer()
    yield r
    r.stop()


ZSETS = """
ZADD z 1 a 2 b 3 c
ZADD z 1.5 a 1e3 d -inf e +inf f
ZADD z nan x
ZADD z 1 
ZADD z xx nx 1 a
ZADD z gt lt 1 a
ZADD z nx gt 1 a
ZADD z incr 1 a 2 b
ZADD z incr 5 a
ZADD z xx incr 5 nonex
ZADD z nx incr 5 a
ZADD z gt ch 0 a 10 b 7 newm
ZADD z lt ch 0 a 10 b
ZADD z ch xx 100 a 100 b 100 q
ZADD z abc 1 a
ZINCRBY z 2.5 a
ZINCRBY z abc a
ZINCRBY z inf a
ZINCRBY z -inf a
ZINCRBY nz 1 m
ZRANGE z 0 -1 WITHSCORES
ZRANGE z 0 -1
ZRANGE z -3 -1 rev withscores
ZRANGE z 5 1
ZRANGE z 0 100 limit 0 1
ZRANGE z (1 3 byscore
ZRANGE z -inf +inf byscore limit 1 2 withscores
ZRANGE z +inf -inf byscore rev limit 0 -1
ZRANGE z 1 abc byscore
ZRANGE z [a [z bylex
ZRANGE z [a [z bylex withscores
ZRANGE z 0 -1 foo
ZRANGE z a b
ZRANGEBYSCORE z -inf inf withscores limit 1 1
ZRANGEBYSCORE z -inf inf limit -1 1
ZRANGEBYSCORE z -inf inf rev
ZREVRANGEBYSCORE z inf -inf
ZREVRANGEBYSCORE z (100 (1 withscores
ZREVRANGE z 0 1 withscores
ZADD lex 0 a 0 b 0 c 0 d 0 e 0 ff
ZRANGEBYLEX lex - +
ZRANGEBYLEX lex [b (e
ZRANGEBYLEX lex (b + limit 1 2
ZREVRANGEBYLEX lex + -
ZREVRANGEBYLEX lex (e [b
ZRANGEBYLEX lex b c
ZLEXCOUNT lex [b +
ZLEXCOUNT lex x y
ZCOUNT z -inf +inf
ZCOUNT z (1 3
ZCOUNT z a b
ZCOUNT nokey 0 1
ZCARD z
ZCARD nokey
ZSCORE z a
ZSCORE z nonex
ZSCORE nokey a
ZMSCORE z a nonex b
ZMSCORE nokey a b
ZRANK z b
ZREVRANK z b
ZRANK z nonex
ZRANK nokey a
ZREM z a nonex
ZREM nokey a
ZRANGESTORE dst z 0 1
ZRANGE dst 0 -1 withscores
ZRANGESTORE dst z 0 -1 byscore withscores
ZRANGESTORE dst nokey 0 -1
EXISTS dst
OBJECT ENCODING lex
ZREMRANGEBYRANK lex 0 1
ZREMRANGEBYRANK lex 10 20
ZREMRANGEBYSCORE z 1 3
ZREMRANGEBYSCORE z a b
ZREMRANGEBYLEX lex [d +
ZREMRANGEBYLEX lex x y
ZRANGE lex 0 -1
ZADD p 1 a 2 b 3 c 4 d
ZPOPMIN p
ZPOPMAX p 2
ZPOPMIN p 0
ZPOPMIN p -1
ZPOPMIN p x
ZPOPMIN p 1 2
ZPOPMIN nokey
ZPOPMIN nokey 3
ZADD p 1 a 2 b 3 c 4 d
ZMPOP 1 p MIN
ZMPOP 2 nokey p MAX COUNT 2
ZMPOP 1 nokey MIN
ZMPOP 0 p MIN
ZMPOP x p MIN
ZMPOP 1 p MIN COUNT 0
ZMPOP 1 p MIN COUNT x
ZMPOP 3 p MIN
ZMPOP 1 p FOO
ZMPOP 1 p MIN COUNT 1 COUNT 1
SET s x
ZADD s 1 a
ZRANGE s 0 -1
ZSCORE s a
ZCARD s
ZPOPMIN s
ZMPOP 2 nokey s MIN
ZRANDMEMBER nokey
ZRANDMEMBER nokey 5
ZRANDMEMBER p 0
ZRANDMEMBER p 1 foo
ZSCAN p 0
ZSCAN nokey 0
ZADD sc 1.5 a 3 b -0 c 1e20 d
ZSCAN sc 0
ZRANGE sc 0 -1 withscores
ZADD big 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
OBJECT ENCODING big
OBJECT ENCODING sc
ZADD z 1 a 2 b 3 c
TYPE z
CONFIG GET zset-max-listpack-entries
ZADD lp 1 a 2 b
OBJECT ENCODING lp
"""

LISTS = """
RPUSH l a b c
LPUSH l x y z
LPUSHX nokey a
RPUSHX nokey a
LPUSHX l q
RPUSHX l r
LRANGE l 0 -1
LRANGE l -3 -1
LRANGE l 5 1
LRANGE l 0 100
LRANGE l x 1
LRANGE nokey 0 -1
LLEN l
LLEN nokey
LINDEX l 0
LINDEX l -1
LINDEX l 100
LINDEX l x
LINDEX nokey 0
LSET l 0 new
LSET l 100 x
LSET l x y
LSET nokey 0 x
LINSERT l before b B
LINSERT l after b A
LINSERT l after nopivot X
LINSERT l middle b X
LINSERT nokey before a b
LRANGE l 0 -1
RPUSH r a b a c a d a
LREM r 2 a
LRANGE r 0 -1
LREM r -1 a
LRANGE r 0 -1
LREM r 0 a
LRANGE r 0 -1
LREM r x a
LREM nokey 1 a
RPUSH t 1 2 3 4 5 6
LTRIM t 1 -2
LRANGE t 0 -1
LTRIM t 5 1
EXISTS t
LTRIM nokey 0 1
LTRIM t x 1
RPUSH p a b c a b c a
LPOS p a
LPOS p a rank 2
LPOS p a rank -1
LPOS p a count 0
LPOS p a count 2 rank 2
LPOS p a rank -2 count 0
LPOS p a maxlen 3 count 0
LPOS p zz
LPOS p zz count 0
LPOS nokey a
LPOS nokey a count 1
LPOS p a rank 0
LPOS p a count -1
LPOS p a maxlen x
LPOS p a foo
LPOS p a rank
LPOP p
RPOP p
LPOP p 2
RPOP p 10
LPOP p
LPOP p 0
LPOP nokey 0
LPOP nokey
LPOP p -1
LPOP p 1 2
RPUSH m a b c d
LMOVE m m left right
LRANGE m 0 -1
LMOVE m d2 right left
LMOVE nokey d2 left left
LMOVE m d2 up down
RPOPLPUSH m d2
LRANGE d2 0 -1
LRANGE m 0 -1
LMPOP 2 nokey m LEFT
LMPOP 1 m RIGHT COUNT 10
LMPOP 1 m RIGHT
LMPOP 0 m RIGHT
LMPOP 1 d2 LEFT COUNT 0
LMPOP 1 d2 UP
SET s x
LPUSH s a
LRANGE s 0 -1
LPOP s
LMOVE s d2 left left
LMOVE d2 s left left
LLEN s
LMPOP 2 nokey s left
OBJECT ENCODING d2
TYPE d2
"""


@pytest.mark.parametrize("hello3", [False, True])
@pytest.mark.parametrize("script", [ZSETS, LISTS], ids=["zsets", "lists"])
def test_replies_match_redis(seg, oracle, script, hello3):
    lines = [ln for ln in script.strip().splitlines() if ln.strip()]
    assert compare(seg.port("resp"), oracle.port, lines, hello3) == []


def _random_list_ops(rnd, n, grow):
    def el():
        return rnd.choice(["a", "b", "x" * rnd.randint(0, 1500),
                           str(rnd.randint(0, 9))])
    for _ in range(n):
        op = rnd.randint(0, 14)
        if grow and op > 3 and rnd.random() < 0.5:
            op = 0
        k = str(rnd.randint(-30, 30))
        if op <= 3:
            yield [rnd.choice(["LPUSH", "RPUSH"]), "L"] + \
                [el() for _ in range(rnd.randint(1, 20))]
        elif op == 4:
            yield [rnd.choice(["LPOP", "RPOP"]), "L", str(rnd.randint(0, 25))]
        elif op == 5:
            yield ["LRANGE", "L", k, str(rnd.randint(-30, 60))]
        elif op == 6:
            yield ["LINDEX", "L", k]
        elif op == 7:
            yield ["LSET", "L", k, el()]
        elif op == 8:
            yield ["LINSERT", "L", rnd.choice(["BEFORE", "AFTER"]), el(), el()]
        elif op == 9:
            yield ["LREM", "L", str(rnd.randint(-3, 3)), el()]
        elif op == 10:
            yield ["LTRIM", "L", str(rnd.randint(-5, 5)),
                   str(rnd.randint(-5, 300))]
        elif op == 11:
            yield ["LPOS", "L", el(), "RANK", str(rnd.choice([1, -1, 2, -2])),
                   "COUNT", str(rnd.randint(0, 3))]
        elif op == 12:
            yield ["LMOVE", "L", rnd.choice(["L", "M"]),
                   rnd.choice(["LEFT", "RIGHT"]), rnd.choice(["LEFT", "RIGHT"])]
        elif op == 13:
            yield ["LMOVE", "M", "L", "LEFT", "RIGHT"]
        else:
            yield ["LRANGE", "L", "0", "-1"]


@pytest.mark.parametrize("seed,grow", [(1, False), (2, True), (3, True)])
def test_lists_in_parts_match_redis(seg, oracle, seed, grow):
    """Elements up to 1500 bytes put a list in parts within a few pushes:
    every command on it is compared with Redis, parts split, emptied and
    renumbered on the way."""
    a, b = Wire(oracle.port), Wire(seg.port("resp"))
    for c in (a, b):
        c.cmd("FLUSHALL")
    rnd = random.Random(seed)
    for cmd in _random_list_ops(rnd, 3000, grow):
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd[:4]
    assert a.cmd("LRANGE", "L", "0", "-1") == b.cmd("LRANGE", "L", "0", "-1")
    a.close()
    b.close()


def test_zsets_random_against_redis(seg, oracle):
    """Random ZADD (with options), ZINCRBY, ZREM, ranges and pops through
    the listpack -> skiplist conversion (128 entries, 64 bytes)."""
    a, b = Wire(oracle.port), Wire(seg.port("resp"))
    for c in (a, b):
        c.cmd("FLUSHALL")
    rnd = random.Random(7)

    def member():
        return rnd.choice([f"m{rnd.randint(0, 300)}",
                           "y" * rnd.randint(60, 70)])

    def score():
        return rnd.choice([str(rnd.randint(-20, 20)), "1.5", "-inf", "+inf",
                           str(rnd.random())])
    for _ in range(3000):
        op = rnd.randint(0, 9)
        if op <= 3:
            opts = rnd.sample(["NX", "XX", "GT", "LT", "CH"], rnd.randint(0, 2))
            cmd = ["ZADD", "Z"] + opts
            for _ in range(rnd.randint(1, 5)):
                cmd += [score(), member()]
        elif op == 4:
            cmd = ["ZINCRBY", "Z", str(rnd.randint(-3, 3)), member()]
        elif op == 5:
            cmd = ["ZREM", "Z", member(), member()]
        elif op == 6:
            cmd = ["ZRANGE", "Z", str(rnd.randint(-10, 10)),
                   str(rnd.randint(-10, 200)), "WITHSCORES"]
        elif op == 7:
            cmd = ["ZRANGEBYSCORE", "Z", "(" + str(rnd.randint(-5, 5)),
                   str(rnd.randint(-5, 20)), "WITHSCORES", "LIMIT",
                   str(rnd.randint(0, 3)), str(rnd.randint(-1, 5))]
        elif op == 8:
            cmd = [rnd.choice(["ZRANK", "ZREVRANK", "ZSCORE"]), "Z", member()]
        else:
            cmd = [rnd.choice(["ZPOPMIN", "ZPOPMAX"]), "Z",
                   str(rnd.randint(0, 3))]
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd
    for cmd in (["ZRANGE", "Z", "0", "-1", "WITHSCORES"], ["ZCARD", "Z"],
                ["OBJECT", "ENCODING", "Z"]):
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd
    a.close()
    b.close()


def test_no_lost_update_across_workers(seg):
    """8 connections over both workers push to, and add to, the same keys:
    nothing is lost."""
    port = seg.port("resp")
    Wire(port).cmd("FLUSHALL")

    def work(i):
        w = Wire(port)
        for j in range(0, 2000, 50):
            w.send(b"".join(
                b"*3\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n$%d\r\n%s\r\n"
                % (len(v), v) for v in (b"%d:%d" % (i, k)
                                        for k in range(j, j + 50))))
            for _ in range(50):
                w.reply()
            w.cmd("ZINCRBY", "board", "1", f"p{j % 7}")
            w.cmd("ZADD", "members", "1", f"{i}:{j}")
        w.close()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    r = redis.Redis(port=port)
    items = r.lrange("list", 0, -1)
    assert len(items) == 16000 and len(set(items)) == 16000
    for i in range(8):  # each connection's elements in its order
        mine = [int(x.split(b":")[1]) for x in items
                if x.startswith(b"%d:" % i)]
        assert mine == sorted(mine)
    assert sum(s for _, s in r.zrange("board", 0, -1, withscores=True)) == \
        8 * 40
    assert r.zcard("members") == 8 * 40


def _waiter(port, out, name, *cmd):
    w = Wire(port)
    out[name] = w.cmd(*cmd)
    w.close()


def test_blocking_pops_across_workers(seg, oracle):
    """The same blocking scenario on both servers gives the same replies:
    first blocked, first served; timeouts; zset and LMOVE wake-ups;
    pipelined commands after a block; MULTI; CLIENT UNBLOCK."""
    def scenario(port):
        log = []
        a = Wire(port)
        a.cmd("FLUSHALL")
        t0 = time.time()
        log.append(a.cmd("BLPOP", "k", "0.2"))
        assert 0.15 < time.time() - t0 < 2
        log += [a.cmd("BZPOPMIN", "z", "0.05"),
                a.cmd("BLMOVE", "a", "b", "left", "right", "0.05"),
                a.cmd("BLMPOP", "0.05", "1", "a", "LEFT")]
        res = {}
        ts = []
        for i in range(4):  # 4 connections: over both workers
            t = threading.Thread(target=_waiter,
                                 args=(port, res, f"w{i}", "BRPOP", "q", "q2",
                                       "5"))
            t.start()
            ts.append(t)
            time.sleep(0.1)
        log.append(a.cmd("RPUSH", "q", "1", "2", "3"))
        time.sleep(0.2)
        log.append(a.cmd("LPUSH", "q2", "x"))
        for t in ts:
            t.join()
        log.append(sorted(res.items()))
        t = threading.Thread(target=_waiter,
                             args=(port, res, "z", "BZPOPMAX", "zz", "0"))
        t.start()
        time.sleep(0.1)
        log.append(a.cmd("ZADD", "zz", "1", "a", "2", "b"))
        t.join()
        log.append(res["z"])
        t = threading.Thread(target=_waiter, args=(
            port, res, "m", "BLMOVE", "src", "dst", "right", "left", "0"))
        t.start()
        time.sleep(0.1)
        log.append(a.cmd("RPUSH", "src", "v"))
        t.join()
        log += [res["m"], a.cmd("LRANGE", "dst", "0", "-1")]
        c = Wire(port)
        c.send(b"*3\r\n$5\r\nBLPOP\r\n$2\r\npp\r\n$1\r\n0\r\n"
               b"*1\r\n$4\r\nPING\r\n")
        time.sleep(0.1)
        log.append(a.cmd("RPUSH", "pp", "e"))
        log += [c.reply(), c.reply()]
        log += [c.cmd("MULTI"), c.cmd("BLPOP", "none", "0"),
                c.cmd("BLMOVE", "none", "x", "left", "left", "0"),
                c.cmd("EXEC")]
        u = Wire(port)
        uid = u.cmd("CLIENT", "ID").strip()[1:].decode()
        u.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nnone\r\n$1\r\n0\r\n")
        time.sleep(0.1)
        log += [a.cmd("CLIENT", "UNBLOCK", uid, "ERROR"), u.reply()]
        u.send(b"*3\r\n$7\r\nBZPOPMIN\r\n$4\r\nnone\r\n$1\r\n0\r\n")
        time.sleep(0.1)
        log += [a.cmd("CLIENT", "UNBLOCK", uid), u.reply(),
                a.cmd("CLIENT", "UNBLOCK", uid),
                a.cmd("CLIENT", "UNBLOCK", uid, "FOO")]
        # a client that disconnects while blocked is forgotten
        d = Wire(port)
        d.send(b"*3\r\n$5\r\nBLPOP\r\n$2\r\ndd\r\n$1\r\n0\r\n")
        time.sleep(0.1)
        d.close()
        time.sleep(0.1)
        log += [a.cmd("RPUSH", "dd", "1"), a.cmd("LLEN", "dd")]
        log += [a.cmd("BLPOP", "k", "-1"), a.cmd("BLPOP", "k", "x"),
                a.cmd("BLMPOP", "0", "0", "k", "left"),
                a.cmd("SET", "str", "v"), a.cmd("BLPOP", "str", "0"),
                a.cmd("BZPOPMIN", "nokey", "str", "0")]
        for x in (a, c, u):
            x.close()
        return log
    assert scenario(seg.port("resp")) == scenario(oracle.port)


def test_no_lost_element_producers_consumers(seg):
    """4 producers LPUSH numbered elements while 4 consumers BRPOP, over
    both workers: every element is popped exactly once."""
    port = seg.port("resp")
    Wire(port).cmd("FLUSHALL")
    n = 10000
    got = [[] for _ in range(4)]

    def prod(i):
        w = Wire(port)
        for j in range(0, n, 100):
            w.send(b"".join(
                b"*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$%d\r\n%s\r\n" % (len(s), s)
                for s in (b"%d:%d" % (i, k) for k in range(j, j + 100))))
            for _ in range(100):
                w.reply()
        w.close()

    def cons(i):
        w = Wire(port)
        while True:
            r = w.cmd("BRPOP", "q", "2")
            if r == b"*-1\r\n":
                break
            got[i].append(r.split(b"\r\n")[4])
        w.close()
    ts = [threading.Thread(target=cons, args=(i,)) for i in range(4)] + \
        [threading.Thread(target=prod, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    popped = [v for g in got for v in g]
    assert len(popped) == 4 * n
    assert set(popped) == {b"%d:%d" % (i, k) for i in range(4)
                           for k in range(n)}


def test_eviction_takes_lists_whole():
    """A small heap written far past its size: a list that is still there
    has every element, in order."""
    s = Server(args=("-m", "8MiB", "-o", "seg.segment_size=256KiB"),
               protocols=("resp",), threads=2)
    try:
        r = redis.Redis(port=s.port("resp"))
        for k in range(40):
            p = r.pipeline(transaction=False)
            for i in range(0, 2000, 500):
                p.rpush(f"list:{k}", *[f"{j:06d}" + "x" * 44
                                       for j in range(i, i + 500)])
            p.execute()
            r.set(f"filler:{k}", "y" * 100000)
        present = 0
        for k in range(40):
            if r.exists(f"list:{k}"):
                present += 1
                assert r.llen(f"list:{k}") == 2000
                items = r.lrange(f"list:{k}", 0, -1)
                assert [int(x[:6]) for x in items] == list(range(2000))
        assert 0 < present < 40
    finally:
        assert s.stop() == 0


@pytest.mark.skipif(shutil.which("redis-benchmark") is None,
                    reason="no redis-benchmark")
def test_redis_benchmark_default_run_completes(seg):
    """redis-benchmark with no -t runs every test (LPUSH, RPUSH, LPOP, RPOP,
    ZADD, ZPOPMIN, LRANGE_*, ...) to the end without an error."""
    out = subprocess.run(
        ["redis-benchmark", "-p", str(seg.port("resp")), "-n", "2000",
         "-c", "10", "-q"], capture_output=True, timeout=300, text=True)
    assert out.returncode == 0, out.stderr
    text = out.stdout.replace("\r", "\n")
    done = [ln.split(":")[0] for ln in text.splitlines()
            if "requests per second" in ln]
    for t in ("LPUSH", "RPUSH", "LPOP", "RPOP", "ZADD", "ZPOPMIN",
              "LRANGE_100 (first 100 elements)",
              "LRANGE_600 (first 600 elements)", "MSET (10 keys)"):
        assert t in done, (t, done)
    assert "error" not in text.lower()


def test_redis_py_as_applications_use_it(seg):
    r = redis.Redis(port=seg.port("resp"), decode_responses=True)
    r.flushall()
    assert r.zadd("board", {"ada": 10, "bob": 7.5, "cy": 12}) == 3
    assert r.zrevrange("board", 0, 9, withscores=True) == \
        [("cy", 12.0), ("ada", 10.0), ("bob", 7.5)]
    assert r.zincrby("board", 5, "bob") == 12.5
    assert r.zrank("board", "bob") == 2
    assert r.zscore("board", "nobody") is None
    assert r.zrangebyscore("board", "(10", "+inf") == ["cy", "bob"]
    assert r.rpush("jobs", "j1", "j2") == 2
    assert r.blpop(["none", "jobs"], timeout=1) == ("jobs", "j1")
    assert r.brpop("none", timeout=0.1) is None
    assert r.lrange("jobs", 0, -1) == ["j2"]
    assert r.type("board") == "zset" and r.type("jobs") == "list"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("board", "x")
    assert r.expire("jobs", 100) and 0 < r.ttl("jobs") <= 100
    r.rpush("big", *[f"e{i}" for i in range(20000)])
    assert r.llen("big") == 20000 and r.lindex("big", 12345) == "e12345"
    assert r.rename("big", "big2") and r.lrange("big2", -2, -1) == \
        ["e19998", "e19999"]
    assert r.object("encoding", "big2") == "quicklist"
    assert r.delete("big2") == 1

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
import os
import random
import shlex
import shutil
import subprocess
import threading
import time

import pytest

from conftest import Server
from test_resp import Wire, oracle  # noqa: F401 (oracle: a fixture)
from test_resp_types import compare

redis = pytest.importorskip("redis")


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("resp",), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


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

ZSETOPS = """
ZADD a 1 x 2 y 3 z
ZADD b 10 y 20 z 30 w
ZADD c 1.5 z -inf x 0 q
SADD s y q 7
SADD si 1 2 3
SET str v
ZUNION 2 a b
ZUNION 2 a b WITHSCORES
ZUNION 3 a b c withscores aggregate min
ZUNION 3 a b c withscores aggregate max
ZUNION 3 a b c weights 1 2 0.5 withscores
ZUNION 2 a a weights inf -inf withscores
ZUNION 1 a weights inf withscores
ZUNION 2 a s withscores
ZUNION 2 si s withscores weights 2 3
ZUNION 2 a nokey withscores
ZUNION 1 nokey withscores
ZUNION 0 a
ZUNION -1 a
ZUNION x a
ZUNION 3 a b
ZUNION 2 a str weights x
ZUNION 2 str a
ZUNION 2 a b weights x 1
ZUNION 2 a b weights 1
ZUNION 2 a b weights 1 nan
ZUNION 2 a b aggregate foo
ZUNION 2 a b aggregate
ZUNION 2 a b withscores withscores
ZUNION 2 a b foo
ZUNION 2 a b weights 1 2 weights 3 4 withscores
ZUNION 2 a b aggregate max aggregate min withscores
ZINTER 2 a b
ZINTER 2 a b withscores
ZINTER 3 a b c withscores
ZINTER 2 a b withscores aggregate max weights 2 -1
ZINTER 2 a s withscores
ZINTER 2 s a withscores weights 0 inf
ZINTER 2 a nokey withscores
ZINTER 2 nokey str
ZINTER 1 str
ZINTER 2 a c withscores weights inf 0
ZINTER 2 a c withscores weights inf 0 aggregate min
ZDIFF 2 a b
ZDIFF 2 a b withscores
ZDIFF 3 a b c withscores
ZDIFF 2 a s withscores
ZDIFF 2 s a withscores
ZDIFF 1 nokey
ZDIFF 2 a b weights 1 2
ZDIFF 2 a b aggregate sum
ZDIFF 0 a
ZUNIONSTORE d 2 a b
ZRANGE d 0 -1 withscores
OBJECT ENCODING d
ZUNIONSTORE d 2 a b withscores
ZUNIONSTORE d 2 a b weights 2 3 aggregate max
ZRANGE d 0 -1 withscores
ZUNIONSTORE d 0 a
ZUNIONSTORE d 1 nokey
EXISTS d
ZINTERSTORE d 2 a b
ZRANGE d 0 -1 withscores
ZINTERSTORE d 2 a nokey
EXISTS d
ZINTERSTORE str2 2 a str
ZDIFFSTORE d 2 a b
ZRANGE d 0 -1 withscores
ZDIFFSTORE d 2 a a
EXISTS d
ZDIFFSTORE d 1 nokey
ZUNIONSTORE a 2 a b
ZRANGE a 0 -1 withscores
ZUNIONSTORE str 1 b
TYPE str
ZRANGE str 0 -1 withscores
ZUNIONSTORE s 1 s
TYPE s
ZRANGE s 0 -1 withscores
ZINTERCARD 2 a b
ZINTERCARD 2 a b limit 1
ZINTERCARD 2 a b limit 0
ZINTERCARD 1 a limit 100
ZINTERCARD 2 a nokey
ZINTERCARD 0 a
ZINTERCARD x a
ZINTERCARD 3 a b
ZINTERCARD 1 a limit -1
ZINTERCARD 1 a limit x
ZINTERCARD 1 a limit
ZINTERCARD 2 a b weights 1 1
ZINTERCARD 2 a b withscores
ZINTERCARD 2 a b aggregate max
SET str v
ZINTERCARD 2 a str
ZUNION 2 a b withscores weights 0.1 0.2
ZADD big 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
ZUNIONSTORE d2 2 big a
OBJECT ENCODING d2
ZUNION 2 big a withscores
COMMAND GETKEYS zunionstore d 2 a b
COMMAND GETKEYS zinterstore d 1 a weights 2
COMMAND GETKEYS zintercard 2 a b limit 1
COMMAND INFO zunionstore zinterstore zdiffstore zunion zinter zdiff zintercard
"""

# (SORT f follows every other numeric SORT: Redis does not clear errno before its strtod, so the
# ERANGE it leaves fails the next numeric SORT on the same connection)
SORTS = """
RPUSH n 3 1 2 10 -5 1.5
RPUSH l 3 1 2 10 b
MSET w_3 30 w_1 10 w_2 20 w_10 5 o_1 one o_2 two wa_1 b wa_2 a wa_3 c
HSET h_1 f x1
HSET h_2 f x2 g y2
HSET h_3 f
SORT n
SORT n ASC
SORT n DESC
SORT l
SORT l ALPHA
SORT l ALPHA DESC
SORT n LIMIT 1 2
SORT n DESC LIMIT 1 2
SORT n LIMIT 0 0
SORT n LIMIT 10 5
SORT n LIMIT -5 2
SORT n LIMIT 2 -1
SORT n LIMIT 0
SORT n LIMIT x 1
SORT n LIMIT 1 y
SORT n BY w_*
SORT n BY w_* DESC
SORT n BY w_* ALPHA
SORT n BY wa_* ALPHA LIMIT 0 3
SORT n BY nosort
SORT n BY nosort DESC
SORT n BY nosort LIMIT 1 2
SORT n BY nosort DESC LIMIT 1 2
SORT n BY h_*->f ALPHA
SORT n BY w_* GET # GET o_* GET h_*->f GET h_*->g GET h_*->
SORT n GET #
SORT n GET o_*
SORT n GET nostar
SORT n GET ##
SORT n BY w_* GET o_* LIMIT 1 3
SORT n GET o_*->f
SORT l BY nosort GET #
SORT n STORE
SORT n GET
SORT n BY
SORT n foo
SORT_RO n STORE d
SORT_RO n BY w_* GET o_* DESC
SORT n STORE d
LRANGE d 0 -1
TYPE d
SORT n GET o_* STORE d2
LRANGE d2 0 -1
SORT n STORE d STORE d3
EXISTS d3
LRANGE d 0 -1
SORT nokey
SORT nokey STORE d2
EXISTS d2
SORT nokey BY w_* GET #
SET str v
SORT str
SORT_RO str
SORT n STORE str
TYPE str
SORT l STORE d4
EXISTS d4
ZADD z 3 c 1 a 2 b 0 d
SORT z
SORT z ALPHA
SORT z BY nosort
SORT z BY nosort DESC
SORT z BY nosort LIMIT 1 2
SORT z BY nosort DESC LIMIT 1 2
SORT z ALPHA DESC LIMIT 0 2
ZADD zn 1 10 2 9 3 8
SORT zn
SORT zn BY nosort
SORT zn STORE zd
LRANGE zd 0 -1
SADD s 5 3 9 1
SORT s
SORT s DESC
SORT s ALPHA
SORT s BY nosort STORE sd
LRANGE sd 0 -1
SADD sa b a c
SORT sa
SORT sa ALPHA
SORT sa ALPHA LIMIT 1 1
SORT sa BY nosort STORE sd
LRANGE sd 0 -1
RPUSH g 0x10 " 7" 3
SORT g
RPUSH e ""
SORT e
RPUSH f 1e400 2
SORT f
HSET hash a b
SORT hash
COMMAND GETKEYS sort k limit store 1 get store store x by
COMMAND GETKEYS sort k store d
COMMAND GETKEYS sort_ro k by x get y
COMMAND INFO sort sort_ro
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
CONFIG GET list-max-listpack-size
CONFIG GET list-max-ziplist-size
CONFIG SET list-max-listpack-size x
CONFIG SET list-max-listpack-size 5000000000
CONFIG SET list-max-listpack-size -2147483649
CONFIG SET list-max-listpack-size -5
CONFIG GET list-max-listpack-size
CONFIG SET list-max-ziplist-size 100
CONFIG GET list-max-listpack-size
CONFIG SET list-max-listpack-size -2
CONFIG GET list-max-ziplist-size
"""


@pytest.mark.parametrize("hello3", [False, True])
@pytest.mark.parametrize("script", [ZSETS, ZSETOPS, SORTS, LISTS],
                         ids=["zsets", "zsetops", "sorts", "lists"])
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


@pytest.mark.parametrize("seed,grow,fill", [
    (1, False, "-2"), (2, True, "-2"), (3, True, "-2"), (4, True, "-1"),
    (5, True, "-5"), (6, True, "10")])
def test_lists_in_parts_match_redis(seg, oracle, seed, grow, fill):
    """Elements up to 1500 bytes put a list in parts within a few pushes:
    every command on it is compared with Redis, parts split, emptied and
    renumbered on the way; with list-max-listpack-size at 4 KiB, 8 KiB and
    64 KiB parts (and a count, which keeps 8 KiB)."""
    a, b = Wire(oracle.port), Wire(seg.port("resp"))
    for c in (a, b):
        c.cmd("FLUSHALL")
        assert c.cmd("CONFIG", "SET", "list-max-listpack-size", fill) == \
            b"+OK\r\n"
    rnd = random.Random(seed)
    for cmd in _random_list_ops(rnd, 3000, grow):
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd[:4]
    assert a.cmd("LRANGE", "L", "0", "-1") == b.cmd("LRANGE", "L", "0", "-1")
    for c in (a, b):
        c.cmd("CONFIG", "SET", "list-max-listpack-size", "-2")
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


@pytest.mark.parametrize("hello3", [False, True])
def test_zset_algebra_random_against_redis(seg, oracle, hello3):
    """Random ZUNION/ZINTER/ZDIFF (and STORE forms, ZINTERCARD) over
    sorted sets, sets and missing keys, with weights and aggregates whose
    sums round: every reply compared byte for byte with Redis, RESP2 and
    RESP3 (doubles)."""
    a, b = Wire(oracle.port), Wire(seg.port("resp"))
    for c in (a, b):
        c.cmd("FLUSHALL")
        if hello3:
            c.cmd("HELLO", "3")
    rnd = random.Random(11 + hello3)
    keys = ["A", "B", "C", "S", "T", "N"]

    def score():
        return rnd.choice([str(rnd.randint(-5, 5)), "0.1", "0.2", "0.3",
                           "inf", "-inf", str(rnd.random()), "1e300"])

    def weight():
        return rnd.choice(["1", "2", "-1", "0", "0.5", "inf", "-inf", "0.1",
                           "3e-5"])
    for _ in range(2000):
        op = rnd.randint(0, 9)
        if op <= 2:
            cmd = ["ZADD", rnd.choice(["A", "B", "C"])]
            for _ in range(rnd.randint(1, 6)):
                cmd += [score(), f"m{rnd.randint(0, 25)}"]
        elif op == 3:
            cmd = ["SADD", rnd.choice(["S", "T"])] + \
                [rnd.choice([f"m{rnd.randint(0, 25)}", str(rnd.randint(0, 9))])
                 for _ in range(rnd.randint(1, 4))]
        elif op == 4:
            cmd = [rnd.choice(["ZREM", "SREM"]), rnd.choice(keys),
                   f"m{rnd.randint(0, 25)}"]
        else:
            name = rnd.choice(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE",
                               "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD"])
            ks = [rnd.choice(keys) for _ in range(rnd.randint(1, 4))]
            cmd = [name]
            if name.endswith("STORE"):
                cmd.append(rnd.choice(["D", "E", "A"]))
            cmd += [str(len(ks))] + ks
            if name in ("ZUNION", "ZINTER", "ZUNIONSTORE", "ZINTERSTORE"):
                if rnd.random() < 0.6:
                    cmd += ["WEIGHTS"] + [weight() for _ in ks]
                if rnd.random() < 0.6:
                    cmd += ["AGGREGATE", rnd.choice(["SUM", "MIN", "MAX"])]
            if name in ("ZUNION", "ZINTER", "ZDIFF") and rnd.random() < 0.7:
                cmd.append("WITHSCORES")
            if name == "ZINTERCARD" and rnd.random() < 0.5:
                cmd += ["LIMIT", str(rnd.randint(0, 4))]
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd
        if cmd[0].endswith("STORE"):
            q = ["ZRANGE", cmd[1], "0", "-1", "WITHSCORES"]
            assert a.cmd(*q) == b.cmd(*q), cmd
    a.close()
    b.close()


def test_zset_store_reads_its_sources_in_one_step(seg):
    """A transaction on another worker adds a member to two sorted sets, or
    removes it from both: ZUNIONSTORE/ZINTERSTORE (held on every key they
    name, sources included) see both or neither, never one (regression:
    only the destination was held)."""
    port = seg.port("resp")
    Wire(port).cmd("FLUSHALL")
    stop = threading.Event()

    def writer():
        w = Wire(port)
        while not stop.is_set():
            for cmds in ((("ZADD", "a", "1", "x"), ("ZADD", "b", "1", "x")),
                         (("ZREM", "a", "x"), ("ZREM", "b", "x"))):
                w.cmd("MULTI")
                for c in cmds:
                    w.cmd(*c)
                w.cmd("EXEC")
        w.close()
    # connections alternate workers: the writer and the reader differ
    t = threading.Thread(target=writer)
    t.start()
    r = Wire(port)
    seen = set()
    try:
        for _ in range(1500):
            for store in ("ZUNIONSTORE", "ZINTERSTORE"):
                n = r.cmd(store, "d", "2", "a", "b")
                got = r.cmd("ZRANGE", "d", "0", "-1", "WITHSCORES")
                seen.add((store, n, got))
    finally:
        stop.set()
        t.join()
        r.close()
    both = b"*2\r\n$1\r\nx\r\n$1\r\n2\r\n"
    for store, n, got in seen:
        assert (n, got) in ((b":0\r\n", b"*0\r\n"), (b":1\r\n", both)), \
            (store, n, got)


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


def wait_blocked(w, n, timeout=30):
    """Until the server counts n clients blocked in a blocking pop (INFO
    clients, blocked_clients, on both servers): orders the scenario
    below by what the server has seen, not by sleeps."""
    end = time.time() + timeout
    want = b"blocked_clients:%d\r\n" % n
    while True:
        info = w.cmd("INFO", "clients")
        if want in info:
            return
        assert time.time() < end, info
        time.sleep(0.01)


def info_field(w, name):
    """One line of INFO clients."""
    info = w.cmd("INFO", "clients")
    return info.split(name + b":")[1].split(b"\r\n")[0]


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
            wait_blocked(a, i + 1)
        log.append(info_field(a, b"clients_in_timeout_table"))  # 4
        log.append(a.cmd("RPUSH", "q", "1", "2", "3"))
        wait_blocked(a, 1)
        log.append(a.cmd("LPUSH", "q2", "x"))
        for t in ts:
            t.join()
        log.append(sorted(res.items()))
        t = threading.Thread(target=_waiter,
                             args=(port, res, "z", "BZPOPMAX", "zz", "0"))
        t.start()
        wait_blocked(a, 1)
        # no timeout: blocked, not in the timeout table
        log.append(info_field(a, b"clients_in_timeout_table"))
        log.append(a.cmd("ZADD", "zz", "1", "a", "2", "b"))
        t.join()
        log.append(res["z"])
        t = threading.Thread(target=_waiter, args=(
            port, res, "m", "BLMOVE", "src", "dst", "right", "left", "0"))
        t.start()
        wait_blocked(a, 1)
        log.append(a.cmd("RPUSH", "src", "v"))
        t.join()
        log += [res["m"], a.cmd("LRANGE", "dst", "0", "-1")]
        c = Wire(port)
        c.send(b"*3\r\n$5\r\nBLPOP\r\n$2\r\npp\r\n$1\r\n0\r\n"
               b"*1\r\n$4\r\nPING\r\n")
        wait_blocked(a, 1)
        log.append(a.cmd("RPUSH", "pp", "e"))
        log += [c.reply(), c.reply()]
        log += [c.cmd("MULTI"), c.cmd("BLPOP", "none", "0"),
                c.cmd("BLMOVE", "none", "x", "left", "left", "0"),
                c.cmd("EXEC")]
        u = Wire(port)
        uid = u.cmd("CLIENT", "ID").strip()[1:].decode()
        u.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nnone\r\n$1\r\n0\r\n")
        wait_blocked(a, 1)
        log += [a.cmd("CLIENT", "UNBLOCK", uid, "ERROR"), u.reply()]
        u.send(b"*3\r\n$8\r\nBZPOPMIN\r\n$4\r\nnone\r\n$1\r\n0\r\n")
        wait_blocked(a, 1)
        log += [a.cmd("CLIENT", "UNBLOCK", uid), u.reply(),
                a.cmd("CLIENT", "UNBLOCK", uid),
                a.cmd("CLIENT", "UNBLOCK", uid, "FOO")]
        # a client that disconnects while blocked is forgotten
        d = Wire(port)
        d.send(b"*3\r\n$5\r\nBLPOP\r\n$2\r\ndd\r\n$1\r\n0\r\n")
        wait_blocked(a, 1)
        d.close()
        wait_blocked(a, 0)
        log += [a.cmd("RPUSH", "dd", "1"), a.cmd("LLEN", "dd")]
        log += [a.cmd("BLPOP", "k", "-1"), a.cmd("BLPOP", "k", "x"),
                a.cmd("BLMPOP", "0", "0", "k", "left"),
                a.cmd("SET", "str", "v"), a.cmd("BLPOP", "str", "0"),
                a.cmd("BZPOPMIN", "nokey", "str", "0")]
        for x in (a, c, u):
            x.close()
        return log
    assert scenario(seg.port("resp")) == scenario(oracle.port)


def test_keys_made_whole_wake_waiters(seg, oracle):
    """A key that becomes a list or sorted set by RENAME, COPY (to its own
    or another database), MOVE or a STORE command wakes the clients blocked
    on it, on either worker; one that becomes a string leaves them blocked.
    Same replies from both servers (regression: these woke nobody)."""
    def scenario(port):
        log = []
        a = Wire(port)
        a.cmd("FLUSHALL")

        def blocked(name, *cmd, db=0):
            info = a.cmd("INFO", "clients")
            n = int(info.split(b"blocked_clients:")[1].split(b"\r\n")[0])

            def run():
                w = Wire(port)
                if db:
                    w.cmd("SELECT", str(db))
                res[name] = w.cmd(*cmd)
                w.close()
            t = threading.Thread(target=run)
            t.start()
            wait_blocked(a, n + 1)
            return t
        res = {}
        # (the waiters' command, its database, what makes the source, what
        # makes the key whole, what feeds a waiter left blocked)
        cases = [
            (("BLPOP", "k1", "5"), 0, ("RPUSH", "t1", "a", "b"),
             ("RENAME", "t1", "k1"), ("RPUSH", "k1", "late")),
            (("BRPOP", "k2", "5"), 0, ("RPUSH", "t2", "c"),
             ("COPY", "t2", "k2"), ("RPUSH", "k2", "late")),
            (("BZPOPMIN", "k3", "5"), 3, ("ZADD", "t3", "1", "m"),
             ("COPY", "t3", "k3", "DB", "3"), ("ZADD", "k3", "9", "late")),
            (("BLMPOP", "5", "1", "k4", "LEFT"), 0, ("RPUSH", "k4x", "d"),
             ("RENAMENX", "k4x", "k4"), ("RPUSH", "k4", "late")),
            (("BZPOPMAX", "k5", "5"), 0, ("ZADD", "t5", "1", "x", "2", "y"),
             ("ZUNIONSTORE", "k5", "1", "t5"), ("ZADD", "k5", "9", "late")),
            (("BZPOPMIN", "k6", "5"), 0, ("ZADD", "t6", "4", "x"),
             ("ZINTERSTORE", "k6", "2", "t6", "t6"),
             ("ZADD", "k6", "9", "late")),
            (("BZMPOP", "5", "1", "k7", "MIN"), 0, ("ZADD", "t7", "4", "x"),
             ("ZDIFFSTORE", "k7", "1", "t7"), ("ZADD", "k7", "9", "late")),
            (("BZPOPMIN", "k8", "5"), 0, ("ZADD", "t8", "5", "z"),
             ("ZRANGESTORE", "k8", "t8", "0", "-1"),
             ("ZADD", "k8", "9", "late")),
        ]
        for i, (wait, db, make, act, feed) in enumerate(cases):
            ts = [blocked(f"c{i}w{j}", *wait, db=db) for j in range(2)]
            log += [a.cmd(*make), a.cmd(*act)]
            ts[0].join()
            log.append(res.pop(f"c{i}w0"))
            time.sleep(0.2)  # the second is served now, or stays blocked
            log += [a.cmd("SELECT", str(db)), a.cmd(*feed),
                    a.cmd("SELECT", "0")]
            ts[1].join()
            log.append(res.pop(f"c{i}w1"))
        # MOVE into the waiter's database
        t = blocked("mv", "BLPOP", "mk", "5", db=5)
        log += [a.cmd("RPUSH", "mk", "moved"), a.cmd("MOVE", "mk", "5")]
        t.join()
        log.append(res.pop("mv"))
        # a string made by RENAME leaves the waiter blocked until a list
        t = blocked("str", "BLPOP", "sk", "5")
        log += [a.cmd("SET", "tmp", "v"), a.cmd("RENAME", "tmp", "sk")]
        time.sleep(0.2)
        log += [a.cmd("DEL", "sk"), a.cmd("RPUSH", "sk", "after")]
        t.join()
        log.append(res.pop("str"))
        a.close()
        return log
    assert scenario(seg.port("resp")) == scenario(oracle.port)


def test_no_lost_element_producers_consumers(seg):
    """4 producers LPUSH numbered elements while 4 consumers BRPOP, over
    both workers: every element is popped exactly once. 10,000 each by
    default; SEGCACHED_QUEUE_N=100000 runs the issue's full size."""
    port = seg.port("resp")
    Wire(port).cmd("FLUSHALL")
    n = int(os.environ.get("SEGCACHED_QUEUE_N", "10000"))
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


def _random_zset_ops(rnd, n, nmembers):
    """ZADD (single and batches), ZINCRBY, ZREM, reads by member, rank,
    score and lex, pops: a set that grows past its inline size into parts
    and changes there."""
    def member():
        return f"m{rnd.randint(0, nmembers)}"

    def score():
        # many ties: scores shared by members across parts
        return rnd.choice([str(rnd.randint(0, 40)), "0", "7",
                           str(rnd.randint(-5, 5)) + ".25", "-inf", "+inf"])
    out = []
    for _ in range(n):
        op = rnd.randint(0, 19)
        if op <= 5:
            out.append(["ZADD", "Z"] + [x for _ in range(rnd.randint(1, 60))
                                        for x in (score(), member())])
        elif op == 6:
            out.append(["ZADD", "Z", rnd.choice(["XX", "NX", "GT", "LT"]),
                        "CH", score(), member()])
        elif op == 7:
            out.append(["ZINCRBY", "Z", str(rnd.randint(-3, 3)), member()])
        elif op == 8:
            out.append(["ZREM", "Z"] + [member() for _ in range(5)])
        elif op == 9:
            out.append([rnd.choice(["ZRANK", "ZREVRANK", "ZSCORE"]), "Z",
                        member()])
        elif op == 10:
            out.append(["ZMSCORE", "Z", member(), member(), "none"])
        elif op == 11:
            st = rnd.randint(-50, 3000)
            out.append(["ZRANGE", "Z", str(st), str(st + rnd.randint(0, 30)),
                        "WITHSCORES"] + rnd.choice([[], ["REV"]]))
        elif op == 12:
            lo = rnd.randint(-2, 40)
            out.append(["ZRANGEBYSCORE", "Z", rnd.choice(["(", ""]) + str(lo),
                        str(lo + rnd.randint(0, 3)), "WITHSCORES", "LIMIT",
                        str(rnd.randint(0, 20)), str(rnd.randint(-1, 30))])
        elif op == 13:
            lo = rnd.randint(-2, 40)
            out.append(["ZREVRANGEBYSCORE", "Z", str(lo + 2), str(lo),
                        "LIMIT", "0", "10"])
        elif op == 14:
            lo = rnd.randint(-2, 40)
            out.append(["ZCOUNT", "Z", str(lo), "(" + str(lo + 5)])
        elif op == 15:
            out.append([rnd.choice(["ZPOPMIN", "ZPOPMAX"]), "Z",
                        str(rnd.randint(1, 4))])
        elif op == 16:
            out.append(["ZREVRANGE", "Z", "0", "9", "WITHSCORES"])
        elif op == 17:
            # lex ranges on "L", whose scores are all 0 (Redis leaves them
            # unspecified for unequal scores): it grows into parts too
            def lm():
                return f"{member()}:a-tail-to-make-it-long"

            def bound():
                return rnd.choice(["-", "+", "[" + lm(), "(" + lm(),
                                   "[" + member()])
            out.append(rnd.choice([
                ["ZADD", "L"] + [x for _ in range(40) for x in ("0", lm())],
                ["ZADD", "L"] + [x for _ in range(40) for x in ("0", lm())],
                ["ZRANGEBYLEX", "L", bound(), bound(), "LIMIT",
                 str(rnd.randint(0, 5)), str(rnd.randint(-1, 20))],
                ["ZREVRANGEBYLEX", "L", bound(), bound(), "LIMIT", "0", "7"],
                ["ZRANGE", "L", "[" + lm(), "+", "BYLEX", "LIMIT", "0", "4"],
                ["ZLEXCOUNT", "L", bound(), bound()],
                ["ZREMRANGEBYLEX", "L", "[" + lm(), "(" + lm()]
                if rnd.random() < 0.2 else ["ZCARD", "L"]]))
        elif op == 18:
            out.append(rnd.choice([["ZCARD", "Z"], ["ZLEXCOUNT", "Z", "-", "+"],
                                   ["ZREMRANGEBYRANK", "Z", "5", "7"],
                                   ["ZREMRANGEBYSCORE", "Z", "(3", "3.25"]]))
        else:
            out.append(["ZRANGE", "Z", "-inf", "+inf", "BYSCORE", "LIMIT",
                        str(rnd.randint(0, 100)), "10"])
    return out


@pytest.mark.parametrize("seed,nmembers", [(11, 3000), (12, 12000)])
def test_zsets_in_parts_match_redis(seg, oracle, seed, nmembers):
    """A sorted set past 8 KiB is kept in parts (entry parts in score
    order, a member index, a directory in the root): every command on it
    is compared with Redis byte for byte while parts split, empty, get
    renumbered and the index grows; then the generic commands (RENAME,
    COPY, EXPIRE, ZUNIONSTORE and ZRANGESTORE from it, ZREMRANGEBYSCORE,
    DEL) on the set in parts."""
    a, b = Wire(oracle.port), Wire(seg.port("resp"))
    fill = ["ZADD", "L"] + [x for i in range(0, nmembers, nmembers // 600)
                            for x in ("0", f"m{i}:a-tail-to-make-it-long")]
    for c in (a, b):
        c.cmd("FLUSHALL")
        c.cmd(*fill)
    rnd = random.Random(seed)
    for cmd in _random_zset_ops(rnd, 2500, nmembers):
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd[:6]
    assert b.cmd("OBJECT", "ENCODING", "Z") == b"$8\r\nskiplist\r\n"
    usage = int(b.cmd("MEMORY", "USAGE", "Z").split(b"\r\n")[0][1:])
    card = int(b.cmd("ZCARD", "Z")[1:-2])
    assert card > 1000 and usage > card * 10
    # the commands that read the set whole: random picks and a scan have
    # their own order, so their shape and contents are checked
    r = redis.Redis(port=seg.port("resp"))
    whole = dict(r.zrange("Z", 0, -1, withscores=True))
    assert r.zrandmember("Z") in whole
    picks = r.zrandmember("Z", 5, withscores=True)
    assert len(picks) == 10 and all(whole[picks[i]] == float(picks[i + 1])
                                    for i in range(0, 10, 2))
    assert len(r.zrandmember("Z", -7)) == 7
    some = r.zrandmember("Z", card // 5)  # distinct, read by rank
    assert len(set(some)) == card // 5 and set(some) <= set(whole)
    assert sorted(r.zrandmember("Z", card + 3)) == sorted(whole)
    assert dict(r.zscan_iter("Z")) == whole
    assert b.cmd("OBJECT", "ENCODING", "L") == b"$8\r\nskiplist\r\n"
    # past 8 KiB (some 30 bytes a member): in parts
    assert int(b.cmd("ZCARD", "L")[1:-2]) * 30 > 8192
    for cmd in (["ZLEXCOUNT", "Z", "-", "+"], ["ZRANGE", "L", "0", "-1"],
                ["ZREMRANGEBYRANK", "Z", "10", "19"],
                ["ZREMRANGEBYSCORE", "Z", "(4", "5"],
                ["ZRANGE", "Z", "0", "-1", "WITHSCORES"],
                ["ZREMRANGEBYRANK", "Z", "0", "-" + str(card // 2)],
                ["ZRANGE", "Z", "0", "-1", "WITHSCORES"]):
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd
    for cmd in (["ZRANGE", "Z", "0", "-1", "WITHSCORES"],
                ["RENAME", "Z", "Y"], ["EXISTS", "Z"], ["COPY", "Y", "Z"],
                ["ZUNIONSTORE", "U", "2", "Y", "Z", "WEIGHTS", "1", "2"],
                ["ZRANGE", "U", "0", "-1", "WITHSCORES"],
                ["ZRANGESTORE", "R", "Y", "5", "-inf", "BYSCORE", "REV",
                 "LIMIT", "3", "2000"],
                ["ZRANGE", "R", "0", "-1", "WITHSCORES"],
                ["ZREMRANGEBYSCORE", "Y", "3", "(20"],
                ["ZRANGE", "Y", "0", "-1", "WITHSCORES"],
                ["ZINTERCARD", "2", "Y", "Z"],
                ["EXPIRE", "Z", "100"], ["TTL", "Z"], ["PERSIST", "Z"],
                ["TYPE", "Z"], ["DEL", "Y", "Z", "U", "R"], ["DBSIZE"]):
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd
    a.close()
    b.close()


@pytest.mark.parametrize("size,count", [(60_000, 60), (300_000, 12)])
def test_zset_of_large_members_matches_redis(seg, oracle, size, count):
    """Members of 60 KB and 300 KB: the member index grows for bytes
    (zset_tune.index_max) as well as for members, so a set of them holds
    as many as Redis's (it used to refuse the 18th 60 KB member, the 4th
    of 300 KB, with -ERR element too large: one index part held them
    all). Each reply compared byte for byte with Redis 7.0.15, through
    adds one by one and several at once, score changes, removals and a
    rebuild (ZUNIONSTORE)."""
    a, b = Wire(oracle.port, timeout=60), Wire(seg.port("resp"), timeout=60)
    rnd = random.Random(size)

    def member(i):
        return (b"%03d" % i) * (size // 3)

    script = [("ZADD", "Z", str(i % 5), member(i)) for i in range(count)]
    script += [("ZADD", "M", "1", member(i), "2", member(i + 1))
               for i in range(0, 6, 2)]
    for _ in range(3 * count):
        i = rnd.randrange(count + 5)
        op = rnd.randrange(5)
        if op == 0:
            script.append(("ZREM", "Z", member(i)))
        elif op == 1:
            script.append(("ZINCRBY", "Z", "1.5", member(i)))
        elif op == 2:
            script.append(("ZSCORE", "Z", member(i)))
        elif op == 3:
            script.append(("ZRANK", "Z", member(i)))
        else:
            script.append(("ZADD", "Z", "XX", "CH", str(i), member(i)))
    script += [("ZCARD", "Z"), ("ZRANGE", "Z", "0", "-1", "WITHSCORES"),
               ("ZUNIONSTORE", "U", "2", "Z", "M"), ("ZCARD", "U"),
               ("ZRANGE", "U", "0", "-1", "WITHSCORES"),
               ("ZREVRANGE", "U", "0", "2"), ("DEL", "Z", "M", "U")]
    for c in (a, b):
        c.cmd("FLUSHALL")
    for cmd in script:
        assert b.cmd(*cmd) == a.cmd(*cmd), (cmd[0], cmd[1], len(cmd))
    a.close()
    b.close()


def test_zscan_of_a_set_in_parts_pages(seg, oracle):
    """ZSCAN of a sorted set in parts answers pages of about COUNT members
    from its member index, cursor by cursor, as Redis's dict scan does
    (before, one reply held the whole set): every member once over a full
    iteration with its score, MATCH as Redis filters, and members present
    throughout an iteration during which the set grows (its index splits
    buckets into higher parts) and shrinks are all returned."""
    r = redis.Redis(port=seg.port("resp"))
    o = redis.Redis(port=oracle.port)
    for c in (r, o):
        c.flushall()
        c.zadd("S", {f"member:{i:06d}": i * 0.5 for i in range(20000)})
    assert r.object("encoding", "S") == b"skiplist"
    pages, cursor, got = 0, 0, {}
    while True:
        cursor, page = r.zscan("S", cursor, count=100)
        pages += 1
        assert len(page) < 2000  # a page, not the set
        for m, sc in page:
            assert m not in got
            got[m] = sc
        if cursor == 0:
            break
    assert pages > 20
    assert got == dict(r.zrange("S", 0, -1, withscores=True))
    assert got == dict(o.zscan_iter("S"))
    assert (dict(r.zscan_iter("S", match="member:0001*", count=50)) ==
            dict(o.zscan_iter("S", match="member:0001*", count=50)))
    # changes between pages: what stays is seen, at least once
    stay = {f"member:{i:06d}".encode() for i in range(0, 20000, 3)}
    cursor, seen, step = 0, set(), 0
    while True:
        cursor, page = r.zscan("S", cursor, count=200)
        seen.update(m for m, _ in page)
        step += 1
        r.zadd("S", {f"new:{step}:{j}": j for j in range(300)})
        r.zrem("S", *[f"member:{i:06d}" for i in
                      range(step * 3 + 1, 20000, 999)])
        if cursor == 0:
            break
    assert stay <= seen
    for c in (r, o):
        c.flushall()


def test_zset_in_parts_no_lost_update_across_workers(seg):
    """A sorted set in parts changed by 8 connections over both workers
    (ZINCRBY of shared members, ZADD of each one's own, ZREM of some of
    them): every increment and every member counted."""
    port = seg.port("resp")
    r = redis.Redis(port=port)
    r.flushall()
    r.zadd("big", {f"base{i}": i % 50 for i in range(20000)})
    assert r.object("encoding", "big") == b"skiplist"

    def work(i):
        w = Wire(port)
        for j in range(1000):
            w.cmd("ZINCRBY", "big", "1", f"base{j % 40}")
            w.cmd("ZADD", "big", str(j % 30), f"own{i}:{j}")
            if j % 4 == 0:
                w.cmd("ZREM", "big", f"own{i}:{j}")
        w.close()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert r.zcard("big") == 20000 + 8 * 750
    for j in range(40):
        assert r.zscore("big", f"base{j}") == j % 50 + 8 * 25
    got = r.zrange("big", 0, -1, withscores=True)
    assert len(got) == 20000 + 8 * 750
    assert [s for _, s in got] == sorted(s for _, s in got)
    assert r.zrank("big", got[12345][0]) == 12345


def test_eviction_takes_zsets_whole():
    """Sorted sets in parts on a small heap written far past its size: a
    set that is still there has every member with its score, in order."""
    s = Server(args=("-m", "8MiB", "-o", "seg.segment_size=256KiB"),
               protocols=("resp",), threads=2)
    try:
        r = redis.Redis(port=s.port("resp"))
        for k in range(30):
            p = r.pipeline(transaction=False)
            for i in range(0, 3000, 500):
                p.zadd(f"z:{k}", {f"{j:06d}" + "x" * 30: j
                                  for j in range(i, i + 500)})
            p.execute()
            r.set(f"filler:{k}", "y" * 100000)
        present = 0
        for k in range(30):
            if r.exists(f"z:{k}"):
                present += 1
                got = r.zrange(f"z:{k}", 0, -1, withscores=True)
                assert [(int(m[:6]), sc) for m, sc in got] == \
                    [(j, float(j)) for j in range(3000)]
        assert 0 < present < 30
    finally:
        assert s.stop() == 0


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


def test_ends_of_lists_in_parts_patched_under_eviction():
    """Lists in parts changed by single pushes and pops at both ends (each
    patches the root in place) on a small heap written far past its size:
    a list that is still there holds exactly its model's elements, in
    order; one that went, went whole."""
    s = Server(args=("-m", "8MiB", "-o", "seg.segment_size=256KiB"),
               protocols=("resp",), threads=2)
    try:
        r = redis.Redis(port=s.port("resp"))
        rng = random.Random(1616)
        models = {}
        for k in range(30):
            key = f"q:{k}"
            first = [f"{j:06d}" + "x" * 44 for j in range(1200)]
            r.rpush(key, *first)
            models[key] = list(first)
            p = r.pipeline(transaction=False)
            for j in range(400):
                op = rng.randrange(4)
                v = f"{k:03d}{j:06d}" + "y" * rng.randrange(40)
                if op == 0:
                    p.lpush(key, v)
                    models[key].insert(0, v)
                elif op == 1:
                    p.rpush(key, v)
                    models[key].append(v)
                elif op == 2:
                    p.lpop(key)
                    models[key].pop(0)
                else:
                    p.rpop(key)
                    models[key].pop()
            p.execute()
            r.set(f"filler:{k}", "y" * 150000)
        present = 0
        for key, model in models.items():
            if r.exists(key):
                present += 1
                assert r.llen(key) == len(model)
                assert r.lrange(key, 0, -1) == [v.encode() for v in model]
        assert 0 < present < len(models)
    finally:
        assert s.stop() == 0


def test_pushes_and_pops_at_the_ends_patch_the_root(seg):
    """On a list in parts, a push of one or of a hundred elements that fit
    the end part, and pops of one or five, each patch the root in place
    (the store's seg_patch count) and leave the list as a model has it."""
    r = redis.Redis(port=seg.port("resp"))
    r.delete("pl")
    model = [b"%08d" % j * 8 for j in range(1000)]  # 64 KB: in parts
    r.rpush("pl", *model)
    # the head part is full (parts are cut full): room at the head
    assert r.lpop("pl", 50) == model[:50]
    del model[:50]
    heads = [b"l%d" % j for j in range(100)]

    def lpush_mirror():
        model[0:0] = heads[::-1]  # LPUSH a b c leaves c b a

    steps = [
        (lambda: r.rpush("pl", "t1"), lambda: model.append(b"t1")),
        (lambda: r.lpush("pl", "h1"), lambda: model.insert(0, b"h1")),
        (lambda: r.rpush("pl", *[b"r%d" % j for j in range(100)]),
         lambda: model.extend(b"r%d" % j for j in range(100))),
        (lambda: r.lpush("pl", *heads), lpush_mirror),
        (lambda: r.rpop("pl"), lambda: model.pop()),
        (lambda: r.lpop("pl"), lambda: model.pop(0)),
        (lambda: r.rpop("pl", 5), lambda: [model.pop() for _ in range(5)]),
    ]
    for change, mirror in steps:
        before = int(seg.stats()["seg_patch"])
        change()
        mirror()
        assert int(seg.stats()["seg_patch"]) > before
        assert r.llen("pl") == len(model)
    assert r.lrange("pl", 0, -1) == model


def test_watch_sees_a_patched_push_and_pop(seg):
    """A push or pop at an end of a list in parts patches its root in place
    (the root keeps its CAS): WATCH still sees it, and the expiry stays."""
    r = redis.Redis(port=seg.port("resp"))
    other = redis.Redis(port=seg.port("resp"))
    r.delete("wl")
    r.rpush("wl", *[f"{j:08d}" * 8 for j in range(1000)])  # in parts
    assert r.expire("wl", 1000)
    for change in (lambda: other.rpush("wl", "tail"),
                   lambda: other.lpush("wl", "head"),
                   lambda: other.rpop("wl"),
                   lambda: other.lpop("wl")):
        p = r.pipeline(transaction=True)
        p.watch("wl")
        n = p.llen("wl")
        change()
        p.multi()
        p.set("wl:len", n)
        with pytest.raises(redis.WatchError):
            p.execute()
        p.reset()
        assert 990 < r.ttl("wl") <= 1000
    # unchanged meanwhile: EXEC runs
    p = r.pipeline(transaction=True)
    p.watch("wl")
    p.multi()
    p.rpush("wl", "mine")
    assert p.execute() == [1001]
    assert r.lrange("wl", -2, -1) == [b"%08d" % 999 * 8, b"mine"]
    assert r.lindex("wl", 0) == b"%08d" % 0 * 8


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

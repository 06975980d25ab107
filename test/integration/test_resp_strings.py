# SPDX-License-Identifier: Apache-2.0
"""Bitmaps, HyperLogLog, LCS and MOVE (issue 18) end to end.

Every reply is compared byte for byte with a real redis-server 7.0.15, in
RESP2 and RESP3, edge cases and errors included; the bytes an HLL is stored
as are compared too (GET after the same PFADDs), so an HLL moves between
the two servers with GET and SET. Then redis-py as applications use it, and
concurrent writers that must lose no update.
"""
import random
import shlex
import threading

import pytest

from conftest import Server
from test_resp import NO_REDIS, REDIS_SERVER, RedisServer, Wire
from test_resp_types import unordered

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


def args_of(line):
    """shlex words, with \\xNN escapes decoded to bytes (redis-cli's)."""
    return [w.encode("latin-1").decode("unicode_escape").encode("latin-1")
            for w in shlex.split(line)]


def compare(seg_port, redis_port, script, hello3=False):
    """Each line on both servers, replies byte for byte ('~': as
    multisets)."""
    a, b = Wire(redis_port), Wire(seg_port)
    for c in (a, b):
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
        if hello3:
            c.cmd("HELLO", "3")
    diffs = []
    for line in script:
        loose = line.startswith("~")
        args = args_of(line.lstrip("~"))
        ra, rb = a.cmd(*args), b.cmd(*args)
        same = unordered(ra) == unordered(rb) if loose else ra == rb
        if not same:
            diffs.append((line, ra, rb))
    a.close()
    b.close()
    return diffs


def check(seg, oracle, script, hello3=False):
    diffs = compare(seg.port("resp"), oracle.port, script, hello3=hello3)
    assert diffs == [], "\n".join(
        f"{line!r}:\n  redis: {ra!r}\n  seg:   {rb!r}"
        for line, ra, rb in diffs)


SETUP_TYPES = """
HSET hash f v
SADD set m
SET str "foobar"
SET empty ""
"""

BITS = SETUP_TYPES + r"""
SETBIT b 7 1
GET b
SETBIT b 7 0
SETBIT b 7 1
SETBIT b 100 1
GET b
STRLEN b
GETBIT b 7
GETBIT b 6
GETBIT b 100
GETBIT b 99999999
GETBIT nokey 5
GETBIT hash 0
SETBIT hash 0 1
SETBIT b -1 1
SETBIT b x 1
SETBIT b 4294967296 1
SETBIT b 4294967295999 1
SETBIT b 1 2
SETBIT b 1 -1
SETBIT b 1 x
SETBIT hash 1 2
SETBIT hash x 1
GETBIT b -1
GETBIT b 4294967296
GETBIT b 1.5
SETBIT b " 1" 1
SETBIT b +1 1
SETBIT b 01 1
SETBIT b 0 "1 "
SET s "\xff\xf0\x00"
SETBIT s 23 1
GET s
EXPIRE s 100
SETBIT s 0 0
TTL s
BITCOUNT str
BITCOUNT str 0 0
BITCOUNT str 1 1
BITCOUNT str 1 -1
BITCOUNT str -2 -1
BITCOUNT str -1 -2
BITCOUNT str -100 -200
BITCOUNT str -200 -100
BITCOUNT str 5 100
BITCOUNT str 100 5
BITCOUNT str 0 -1 BYTE
BITCOUNT str 0 -1 bit
BITCOUNT str 5 30 BIT
BITCOUNT str 1 1 BIT
BITCOUNT str -5 -1 BIT
BITCOUNT str -100 -90 BIT
BITCOUNT str 7 8 BIT
BITCOUNT str 0 47 BIT
BITCOUNT str 0 48 BIT
BITCOUNT str 0
BITCOUNT str 0 1 2
BITCOUNT str 0 1 WORD
BITCOUNT str a 1
BITCOUNT str 0 b
BITCOUNT str 0 b XX
BITCOUNT nokey
BITCOUNT nokey 0
BITCOUNT nokey a b c
BITCOUNT hash
BITCOUNT hash 0
BITCOUNT empty
BITCOUNT empty 0 -1
BITCOUNT empty 0 -1 BIT
BITCOUNT str "0\x00" 1
BITCOUNT str 0 1 "bit\x00x"
SET z "\x00\x00\xff\xff\x00"
BITPOS z 1
BITPOS z 0
BITPOS z 1 2
BITPOS z 0 2
BITPOS z 0 2 3
BITPOS z 0 2 -1
BITPOS z 1 3 -1
BITPOS z 1 -1
BITPOS z 1 -2 -1
BITPOS z 1 10 20
BITPOS z 1 4 2
BITPOS z 1 0 0
BITPOS z 1 0 100
BITPOS z 0 0 100
BITPOS z 1 7 17 BIT
BITPOS z 1 16 17 BIT
BITPOS z 1 17 17 BIT
BITPOS z 0 17 30 BIT
BITPOS z 0 17 BIT
BITPOS z 0 20 32 BIT
BITPOS z 0 20 31 BIT
BITPOS z 1 -20 -1 BIT
BITPOS z 0 -20 -10 BIT
BITPOS z 1 0 -1 BYTE
BITPOS z 1 0 -1 XX
BITPOS z 1 0 -1 BIT extra
BITPOS z 2
BITPOS z -1
BITPOS z x
BITPOS z 1 x
BITPOS z 1 0 x
BITPOS nokey 1
BITPOS nokey 0
BITPOS nokey 0 1 2 XX
BITPOS nokey 2
BITPOS hash 1
BITPOS hash 2
BITPOS empty 0
BITPOS empty 1
BITPOS empty 0 0
SET ones "\xff\xff"
BITPOS ones 0
BITPOS ones 0 0
BITPOS ones 0 0 -1
BITPOS ones 0 0 1
BITPOS ones 0 3 BIT
BITPOS ones 0 3 15 BIT
BITPOS ones 1 3 15 BIT
SET mixed "\xf0\x0f\x81"
BITPOS mixed 0 9 15 BIT
BITPOS mixed 1 9 15 BIT
BITPOS mixed 1 9 14 BIT
BITPOS mixed 0 9 23 BIT
BITPOS mixed 1 17 23 BIT
BITPOS mixed 0 17 22 BIT
BITPOS mixed 0 1 1 BIT
BITPOS mixed 0 4 6 BIT
BITPOS mixed 1 1 2
"""

BITOP = SETUP_TYPES + r"""
SET a "\xff\x0f\x33"
SET b "\x0f\xf0"
SET c "\x01"
BITOP AND d a b
GET d
BITOP or d a b c
GET d
BITOP XOR d a b c
GET d
BITOP NOT d a
GET d
BITOP NOT d b c
BITOP NOT d
BITOP NAND d a
BITOP AND d a nokey
GET d
BITOP OR d nokey1 nokey2
EXISTS d
SET d x
EXPIRE d 100
BITOP AND d a
TTL d
BITOP OR hash a
TYPE hash
GET hash
BITOP AND d a set
BITOP AND d set nokey
BITOP NOT d nokey
EXISTS d
BITOP AND d empty
EXISTS d
BITOP OR a a b
GET a
BITOP "and\x00x" d a
"""

BITFIELD = SETUP_TYPES + r"""
BITFIELD bf SET i8 0 100 GET i8 0
GET bf
BITFIELD bf INCRBY i8 0 100
BITFIELD bf OVERFLOW SAT INCRBY i8 0 100
BITFIELD bf OVERFLOW FAIL INCRBY i8 0 100
BITFIELD bf OVERFLOW WRAP INCRBY i8 0 100
BITFIELD bf OVERFLOW sat INCRBY i8 0 -300
BITFIELD bf GET u4 0 GET u4 4 GET i4 0 GET i4 4 GET u1 0 GET i1 0
BITFIELD bf SET u8 #1 255 GET u8 #1 GET i8 #1
GET bf
BITFIELD bf INCRBY u2 100 1 OVERFLOW SAT incrby u2 102 1 OVERFLOW fail INCRBY u2 104 5
BITFIELD bf INCRBY u2 100 1 OVERFLOW SAT incrby u2 102 1 OVERFLOW fail INCRBY u2 104 5
BITFIELD bf INCRBY u2 100 1 OVERFLOW SAT incrby u2 102 1 OVERFLOW fail INCRBY u2 104 5
GET bf
BITFIELD bf SET i64 0 -1 GET i64 0 GET u63 0 GET u63 1 GET i63 1
BITFIELD bf INCRBY i64 0 1 INCRBY i64 0 9223372036854775807
BITFIELD bf OVERFLOW SAT INCRBY i64 0 9223372036854775807 INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -9223372036854775808
BITFIELD bf OVERFLOW FAIL INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -1
BITFIELD bf OVERFLOW WRAP INCRBY i64 0 -1
BITFIELD bf SET u63 0 9223372036854775807 INCRBY u63 0 1 OVERFLOW SAT INCRBY u63 0 5 INCRBY u63 0 -9223372036854775808
BITFIELD bf OVERFLOW SAT SET i8 0 -9223372036854775808 SET i8 0 -9223372036854775700 SET i8 0 9223372036854775807 SET u8 0 -1 SET u8 0 256 SET i8 0 -129
BITFIELD bf OVERFLOW WRAP SET i8 0 -9223372036854775808 SET i8 0 -129 SET u8 0 -1 SET u8 0 257
BITFIELD bf OVERFLOW FAIL SET i8 0 -129 SET u8 0 -1 SET u8 0 255
BITFIELD bf OVERFLOW SAT INCRBY u8 0 -1000 INCRBY i3 5 100 INCRBY i3 5 -100
GET bf
BITFIELD nokey GET u8 0 GET i16 100
EXISTS nokey
BITFIELD newkey OVERFLOW FAIL INCRBY u8 80 300
GET newkey
BITFIELD newkey2 SET u1 0 1 OVERFLOW FAIL SET u8 #3 9999
GET newkey2
BITFIELD bf
BITFIELD nokey
BITFIELD hash
BITFIELD hash GET u8 0
BITFIELD hash SET u8 0 1
BITFIELD bf GET
BITFIELD bf GET u8
BITFIELD bf SET u8 0
BITFIELD bf INCRBY u8 0
BITFIELD bf OVERFLOW
BITFIELD bf OVERFLOW XX GET u8 0
BITFIELD bf FOO u8 0
BITFIELD bf GET u64 0
BITFIELD bf GET i65 0
BITFIELD bf GET i0 0
BITFIELD bf GET U8 0
BITFIELD bf GET I8 0
BITFIELD bf GET x8 0
BITFIELD bf GET "" 0
BITFIELD bf GET i 0
BITFIELD bf GET i08 0
BITFIELD bf GET "i8\x00junk" 0
BITFIELD bf GET i8 -1
BITFIELD bf GET i8 x
BITFIELD bf GET i8 #-1
BITFIELD bf GET i8 ##1
BITFIELD bf GET i8 #
BITFIELD bf GET i8 4294967296
BITFIELD bf GET i8 4294967295
BITFIELD bf GET i8 #536870912
BITFIELD bf GET i8 #536870911
BITFIELD bf GET i8 #2305843009213693952
BITFIELD bf GET i64 #2305843009213693952
BITFIELD bf GET i64 #144115188075855872
BITFIELD bf SET i8 0 x
BITFIELD bf SET i8 0 1.5
BITFIELD bf INCRBY i8 0 99999999999999999999
BITFIELD bf GET i8 0 SET i8 x 1
BITFIELD bf GET u64 0 OVERFLOW XX
BITFIELD bf OVERFLOW XX GET u64 0
BITFIELD bf "get\x00" i8 0
BITFIELD bf GET i8 0 BAD
BITFIELD_RO bf GET i8 0 GET u4 #3
BITFIELD_RO bf
BITFIELD_RO nokey GET u8 0
BITFIELD_RO bf SET i8 0 1
BITFIELD_RO bf INCRBY i8 0 1
BITFIELD_RO bf GET i8 0 INCRBY i8 0 1
BITFIELD_RO bf OVERFLOW SAT GET i8 0
BITFIELD_RO bf GET u64 0
BITFIELD_RO hash GET u8 0
BITFIELD_RO bf FOO
"""

HLL = SETUP_TYPES + r"""
PFADD h a b c d e f g
GET h
PFCOUNT h
GET h
PFADD h a
PFADD h z
GET h
PFADD h
PFADD new
GET new
PFCOUNT new
PFCOUNT nokey
PFCOUNT nokey nokey2
PFADD h2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
PFCOUNT h h2
PFCOUNT h nokey h2
PFMERGE m h h2
GET m
PFCOUNT m
PFMERGE m
GET m
PFMERGE m2
GET m2
PFMERGE m nokey
PFCOUNT str
PFADD str a
PFMERGE m str
PFMERGE str h
PFCOUNT h str
PFCOUNT h hash
PFCOUNT hash
PFADD hash a
PFMERGE hash h
PFMERGE m hash
SET fake "HYLL"
PFCOUNT fake
SET bad "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xfe"
PFCOUNT bad
PFADD bad a b c
PFMERGE m bad
PFCOUNT h bad
PFMERGE bad h
SET bad2 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x80"
PFCOUNT bad2
PFADD bad2 x
SET bad3 "HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
PFCOUNT bad3
SET dense "HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
PFCOUNT dense
SET cached "HYLL\x01\x00\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x00\x7f\xff"
PFCOUNT cached
PFADD cached a
PFCOUNT cached
GET cached
SET h3 x
EXPIRE h3 100
DEL h3
PFADD h3 a
EXPIRE h3 100
PFADD h3 b
TTL h3
PFCOUNT h3
TTL h3
"""

LCS = SETUP_TYPES + r"""
SET a ohmytext
SET b mynewtext
LCS a b
LCS a b LEN
LCS a b IDX
LCS a b IDX MINMATCHLEN 4
LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN
LCS a b IDX WITHMATCHLEN
LCS a b WITHMATCHLEN
LCS a b MINMATCHLEN -5 IDX
LCS a b idx len
LCS a b LEN IDX
LCS a b MINMATCHLEN
LCS a b MINMATCHLEN x
LCS a b BAD
LCS a nokey
LCS nokey a IDX
LCS nokey nokey2 LEN
LCS a hash
LCS hash a BAD
LCS a set LEN
LCS a empty IDX
LCS a a IDX WITHMATCHLEN
SET x "abcXdefYghi"
SET y "abcZdefWghi"
LCS x y IDX WITHMATCHLEN
LCS x y IDX MINMATCHLEN 3
LCS y x IDX
SET p "aaaa"
SET q "aa"
LCS p q IDX
LCS q p IDX
SET bin "a\x00b\x00c"
SET bin2 "\x00\x00c"
LCS bin bin2
LCS bin bin2 IDX WITHMATCHLEN
"""

MOVE = SETUP_TYPES + r"""
SET k v
MOVE k 1
EXISTS k
SELECT 1
GET k
MOVE k 0
MOVE k 1
SELECT 0
SET k other
SELECT 1
MOVE k 0
GET k
SELECT 0
MOVE k 16
MOVE k -1
MOVE k x
MOVE k 4294967296
MOVE k 1.0
MOVE k 0
MOVE nokey 0
MOVE nokey 3
MOVE nokey x
SET e v
PEXPIRE e 100000
MOVE e 2
SELECT 2
TTL e
TYPE e
SELECT 0
MOVE hash 3
MOVE set 3
HSET hash2 f v
MOVE hash2 0
SELECT 3
HGETALL hash
SMEMBERS set
SELECT 0
EXISTS hash set
"""


@pytest.mark.parametrize("hello3", [False, True])
@pytest.mark.parametrize("name", ["BITS", "BITOP", "BITFIELD", "HLL", "LCS",
                                  "MOVE"])
def test_compare(seg, oracle, name, hello3):
    script = [ln for ln in globals()[name].strip().splitlines() if ln]
    check(seg, oracle, script, hello3=hello3)

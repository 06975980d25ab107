"""The keyspace path seen from outside: after the same commands, segcached's
INFO stats keyspace_hits and keyspace_misses moved exactly as a real
redis-server 7.0.15's did (Redis counts lookupKeyRead lookups: reads count,
a key of another type is a hit, writes do not), compared command by
command and in total. Keys of other types need collection commands, which
are not here yet: test/processor/test_keyspace_proc.c covers those with
keys made in the store directly."""

import shlex

import pytest

from conftest import Server
from test_resp import Wire, oracle  # noqa: F401 (oracle: a fixture)


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("resp", "memcache"), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


def counts(w):
    info = w.cmd("INFO", "stats").decode()
    out = {}
    for line in info.split("\r\n"):
        if line.startswith("keyspace_"):
            k, v = line.split(":")
            out[k] = int(v)
    return out["keyspace_hits"], out["keyspace_misses"]


SEQUENCE = """
SET s 1
SET n 10
GET s
GET nx
MGET s nx n nx2
EXISTS s nx s
TYPE s
TYPE nx
TTL s
PTTL nx
EXPIRETIME s
PEXPIRETIME nx
STRLEN s
STRLEN nx
GETRANGE s 0 1
SUBSTR nx 0 1
TOUCH s nx n
OBJECT ENCODING s
OBJECT IDLETIME nx
OBJECT REFCOUNT n
MEMORY USAGE s
APPEND s x
APPEND nx3 x
INCR n
INCRBY nx4 3
DECR n
INCRBYFLOAT n 1.5
SETRANGE s 0 a
SET s 2 GET
SET nn 2 GET
SET nn 3 NX GET
GETSET s 3
GETDEL s
GETDEL s
GETEX nx
GETEX n EX 100
GETEX n PERSIST
SET s 1
SETNX s 1
SET s 1 NX
SET s 1 XX
MSET a 1 b 2
MSETNX s 1 z 2
EXPIRE s 100
PEXPIRE nx 10
PERSIST s
RENAME s s2
RENAMENX s2 n
RENAME s2 s
COPY s s3
COPY nx s4
COPY s s3 REPLACE
DEL s3 nx
UNLINK a b
RANDOMKEY
KEYS *
SCAN 0 COUNT 1000
SCAN 0 TYPE string COUNT 1000
SCAN 0 TYPE string MATCH s* COUNT 1000
SCAN 0 TYPE hash COUNT 1000
DBSIZE
"""


def test_keyspace_hits_misses_match_redis(seg, oracle):
    ours, theirs = Wire(seg.port("resp")), Wire(oracle.port)
    for w in (ours, theirs):
        assert w.cmd("FLUSHALL") == b"+OK\r\n"
        assert w.cmd("CONFIG", "RESETSTAT") == b"+OK\r\n"
    diffs = []
    for line in SEQUENCE.strip().splitlines():
        args = shlex.split(line)
        moved = []
        for w in (ours, theirs):
            before = counts(w)
            w.cmd(*args)
            after = counts(w)
            moved.append((after[0] - before[0], after[1] - before[1]))
        if moved[0] != moved[1]:
            diffs.append((line, moved[0], moved[1]))
    assert diffs == [], diffs
    assert counts(ours) == counts(theirs)
    assert counts(ours)[0] > 20 and counts(ours)[1] > 10
    ours.close()
    theirs.close()


def test_memcache_reads_are_not_redis_keyspace_hits(seg):
    import socket
    w = Wire(seg.port("resp"))
    before = counts(w)
    m = socket.create_connection(("127.0.0.1", seg.port("memcache")))
    m.sendall(b"set mk 0 0 1\r\nv\r\nget mk\r\nget nomk\r\nmn\r\n")
    got = b""
    while not got.endswith(b"MN\r\n"):
        got += m.recv(4096)
    m.close()
    assert counts(w) == before
    w.close()

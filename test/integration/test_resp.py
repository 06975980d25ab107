# SPDX-License-Identifier: Apache-2.0
"""The resp listener end to end: real clients (redis-py with and without
transactions, redis-cli interactive, -3, --pipe and --scan, redis-benchmark)
and raw sockets asserting the exact bytes of replies and errors. Where Redis
7.0.15's exact behaviour matters, the same commands go to a real
redis-server started on another free port and the two replies are compared
byte for byte (skipped when redis-server is not installed; the most
important replies are also asserted literally).

Where segcached deliberately differs from Redis 7.0.15 (docs/protocol-resp.md):
- the command table holds the commands segcached runs: COMMAND COUNT/LIST
  and the subcommands of CLIENT, CONFIG ... are fewer; others get the
  unknown-command (or unknown-subcommand) reply;
- COMMAND DOCS has no "arguments"/"history", key specs no "notes";
- SCAN cursors are the store's, not Redis's;
- CONFIG SET accepts only the current value of a parameter;
- HELLO's id and CLIENT ID are segcached's connection ids;
- OBJECT FREQ and IDLETIME both answer under any policy, MEMORY USAGE counts
  the store's bytes, MEMORY STATS has fewer fields.
"""
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import SLOW, Server, free_port, wait_port

redis = pytest.importorskip("redis")

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
REDIS_BENCHMARK = shutil.which("redis-benchmark")
NO_REDIS = "redis-server is not installed (scripts/setup.sh installs it)"


# ---- a small RESP client over a raw socket ----

def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Wire:
    """One connection; cmd() sends a command and returns its reply bytes."""

    def __init__(self, port, timeout=10.0 * SLOW):
        self.s = socket.create_connection(("127.0.0.1", port),
                                          timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.s.close()

    def fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise EOFError("closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self):
        head = self.line()
        t = head[:1]
        if t in b"$=!":
            n = int(head[1:-2])
            return head if n < 0 else head + self.exact(n + 2)
        if t in b"*~>":
            n = int(head[1:-2])
            return head + b"".join(self.reply() for _ in range(max(n, 0)))
        if t in b"%|":
            n = int(head[1:-2])
            return head + b"".join(self.reply() for _ in range(2 * n))
        return head

    def cmd(self, *args):
        self.s.sendall(enc(args))
        return self.reply()

    def send(self, data):
        self.s.sendall(data)

    def read_until_close(self):
        try:
            while True:
                self.fill()
        except (EOFError, ConnectionResetError):
            pass
        out, self.buf = self.buf, b""
        return out


class RedisServer:
    """A real redis-server 7.0.15 on a free loopback port, stopped by pid."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="redis-oracle-")
        # free_port() can race with a test running in parallel: then this
        # redis-server cannot bind, and the port answers for another
        # server. Only a port that answers with this process's pid is ours.
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind",
                 "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                 self.dir] + list(args),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_port(self.port) and self.answers_as_ours(args):
                return
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError("redis-server did not start")

    def answers_as_ours(self, args):
        try:
            w = Wire(self.port)
            if "--requirepass" in args:
                w.cmd("AUTH", args[list(args).index("--requirepass") + 1])
            info = w.cmd("INFO", "server")
            w.close()
        except (OSError, EOFError):
            return False
        m = re.search(rb"process_id:(\d+)", info)
        return m is not None and int(m.group(1)) == self.proc.pid

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)


# ---- fixtures ----

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


@pytest.fixture
def w(seg):
    c = Wire(seg.port("resp"))
    c.cmd("FLUSHALL")
    yield c
    c.close()


def compare(seg_port, redis_port, lines, hello3=False):
    """Runs each line on both servers; returns the lines whose replies
    differ, with both replies."""
    a, b = Wire(redis_port), Wire(seg_port)
    for c in (a, b):
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
        if hello3:
            c.cmd("HELLO", "3")
    diffs = []
    for line in lines:
        args = shlex.split(line)
        ra, rb = a.cmd(*args), b.cmd(*args)
        if ra != rb:
            diffs.append((line, ra, rb))
    a.close()
    b.close()
    return diffs


# ---- exact replies, compared with Redis 7.0.15 ----

STRINGS = """
SET k v
GET k
GET nokey
SET k v EX 0
SET k v EX -1
SET k v EX abc
SET k v NX XX
SET k v EX 10 PX 100
SET k v KEEPTTL EX 10
SET k v EX 10 KEEPTTL
SET k v EX 10 EX 20
SET k v EX
SET k v foo
SET k v EX 9999999999999999
SET k v PXAT 0
SET k v PX 9223372036854775807
SETNX k v
SETNX k2 v
SETEX k 0 v
SETEX k x v
SETEX k 100 v
PSETEX k -5 v
PSETEX k 100000 v
GETSET k new
GETSET nokey2 new
GETDEL k
GETDEL k
SET k v
GETEX k PERSIST EX 10
GETEX k FOO
GETEX k EX 0
GETEX k PX
GETEX k EX 100
TTL k
GETEX k PERSIST
TTL k
GETEX nokey EX 10
MGET k nokey k2
MSET a
MSET a 1 b 2
MSET a 1 b
MGET a b
MSETNX a 1 c 3
MSETNX c 3 d 4
MSETNX e 5 e 6
GET e
APPEND a xyz
APPEND newa xyz
STRLEN a
STRLEN nokey
GETRANGE a 0 -1
GETRANGE a -1 -2
GETRANGE a 1 2
GETRANGE a -100 100
GETRANGE a 5 1
GETRANGE a x 1
GETRANGE nokey 0 1
SUBSTR a 0 1
SETRANGE a 1 Z
SETRANGE a -1 x
SETRANGE a x y
SETRANGE a 536870912 x
SETRANGE a 536870912 ""
SETRANGE nk2 5 ab
GET nk2
SETRANGE nk3 5 ""
EXISTS nk3
"""

NUMBERS = """
SET k v
INCR k
INCR cnt
INCRBY cnt 10
INCRBY cnt abc
INCRBY cnt 9223372036854775808
DECR cnt
DECRBY cnt 5
DECRBY cnt -9223372036854775808
SET n 9223372036854775807
INCR n
DECRBY n -1
INCRBY n 1
SET n -9223372036854775808
DECR n
DECRBY n 1
SET n " 1"
INCR n
SET n 01
INCR n
SET n +1
INCR n
SET f 10.5
INCRBYFLOAT f 0.1
INCRBYFLOAT f 1e400
INCRBYFLOAT f nan
INCRBYFLOAT f inf
INCRBYFLOAT f -10.6
INCRBYFLOAT f 3.0e3
INCRBYFLOAT f abc
INCRBYFLOAT f " 1"
INCRBYFLOAT newf 5
INCRBYFLOAT newf -5
SET f 1e308
INCRBYFLOAT f 1e308
SET f 0x10
INCRBYFLOAT f 1
SET f 3
INCRBYFLOAT f 1.5
INCRBYFLOAT f 0.1
INCRBYFLOAT f -0.00000000000000001
SET x 1
INCRBYFLOAT x 1e10
SET y abc
INCRBYFLOAT y 1
INCR y
"""

KEYS = """
SET k v
DEL a b nokey a
SET c 1
UNLINK c d
EXISTS k k nokey
TOUCH k k nokey
TYPE k
TYPE nokey
RENAME nokey b
RENAME k k
RENAME k k2
RENAMENX k2 k2
SET x 1
RENAMENX k2 x
RENAMENX k2 k3
RENAMENX nokey k3
GET k3
COPY k3 k4
COPY k3 k4
COPY k3 k4 REPLACE
COPY k3 k3
COPY k3 k3 DB 1
COPY k3 k5 DB x
COPY k3 k5 DB 16
COPY k3 k5 DB -1
COPY k3 k5 FOO
COPY k3 k5 DB
COPY nokey k5
EXPIRE k3 100
TTL k3
PTTL nokey
TTL k4
EXPIRE k3 10 NX XX
EXPIRE k3 abc
EXPIRE k3 10 GT LT
EXPIRE k3 10 FOO
EXPIRE k3 10 nx
EXPIRE k4 10 xx
EXPIRE k4 10 nx
EXPIRE k4 20 gt
EXPIRE k4 5 gt
EXPIRE k4 5 lt
EXPIRE k4 50 lt
TTL k4
EXPIRE k4 9223372036854775
EXPIREAT k4 9223372036854775807
PEXPIRE k4 9223372036854775807
PERSIST k4
PERSIST k4
TTL k4
EXPIRE k4 10 lt xx
EXPIRE k4 10 gt xx
EXPIRE k4 5 lt xx
EXPIRE k4 -1
EXISTS k4
SET k5 v
EXPIREAT k5 1
EXISTS k5
SET k6 v
PEXPIREAT k6 33177600000000
PEXPIRETIME k6
EXPIRETIME k6
EXPIRETIME nokey
SET k7 v
EXPIRETIME k7
PERSIST nokey
SCAN abc
SCAN 0 COUNT 0
SCAN 0 COUNT x
SCAN 0 TYPE
SCAN 0 FOO x
SCAN " 1"
FLUSHDB x
FLUSHDB SYNC x
FLUSHDB ASYNC
DBSIZE
"""

SERVER = """
SELECT 16
SELECT a
SELECT -1
SELECT 2
SET s2 v
DBSIZE
SELECT 0
GET s2
DEBUG sleep 0
DEBUG
CONFIG SET foo bar
CONFIG SET databases 3
CONFIG SET port
CONFIG SET port 1 maxmemory
CONFIG SET save ""
CONFIG SET appendonly no
CONFIG GET
CONFIG GET databases
CONFIG GET save
CONFIG GET appendonly
CONFIG FOO
FUNCTION LIST
FUNCTION LIST WITHCODE
FUNCTION LIST foo
FUNCTION LIST LIBRARYNAME
FUNCTION FLUSH
FUNCTION FLUSH ASYNC
FUNCTION FLUSH x
FUNCTION FLUSH ASYNC x
SCRIPT FLUSH
SCRIPT FLUSH x
SCRIPT FLUSH async x
FOO a b c
foo
CLIENT
CLIENT FOO
CLIENT SETNAME
CLIENT SETNAME a b
CLIENT SETNAME "a b"
CLIENT SETNAME ab
CLIENT GETNAME
CLIENT SETNAME ""
CLIENT GETNAME
CLIENT NO-EVICT on
CLIENT NO-EVICT x
CLIENT REPLY x
CLIENT LIST TYPE foo
CLIENT LIST ID x
CLIENT LIST ID 0
CLIENT LIST foo
CLIENT LIST TYPE
CLIENT LIST TYPE master
COMMAND GETKEYS set a b
COMMAND GETKEYS foo a
COMMAND GETKEYS ping
COMMAND GETKEYS get
COMMAND GETKEYS get a
COMMAND GETKEYS mset a 1 b 2
COMMAND GETKEYS mset a
COMMAND GETKEYS copy a b
COMMAND GETKEYS keys x
COMMAND LIST FILTERBY foo x
COMMAND LIST FILTERBY aclcat x
COMMAND LIST FILTERBY module x
COMMAND LIST x
COMMAND INFO get
COMMAND INFO client|id
COMMAND INFO keys
COMMAND INFO expire
COMMAND INFO mset
COMMAND INFO copy
COMMAND INFO nosuch
COMMAND DOCS client|id
COMMAND DOCS nosuch
COMMAND FOO
PING
PING a
PING a b
ECHO
ECHO hello
HELLO 4
HELLO abc
HELLO 2 FOO
HELLO 3 AUTH a b
HELLO 2 SETNAME "a b"
AUTH foo
AUTH a b
AUTH a b c
AUTH default x
"""

TRANSACTIONS = """
MULTI
MULTI
SET zz 1
FOO
GET a b
EXEC
MULTI
SET a 1
INCR a
GET a
EXEC
EXEC
DISCARD
MULTI
WATCH a
PING
UNWATCH
DISCARD
MULTI
SET a 1
DISCARD
GET a
WATCH a
SET a 5
MULTI
INCR a
EXEC
WATCH a
MULTI
INCR a
EXEC
UNWATCH
SET m 1
MULTI
INCR m
SET m x
INCR m
EXEC
"""

RESP3 = """
SET k v
GET k
GET nokey
SET k v NX
SET k v GET
MGET k nokey
INCRBYFLOAT f 1.5
EXISTS k
TTL k
CONFIG GET appendonly
CONFIG GET databases
INFO keyspace
INFO nosuch
COMMAND INFO get
COMMAND INFO keys
COMMAND INFO client|id
COMMAND DOCS client|id
COMMAND DOCS nokey
FUNCTION LIST
GETEX nokey
TYPE k
KEYS nomatch
EXEC
MULTI
GET k
GET nokey
EXEC
WATCH k
SET k v2
MULTI
GET k
EXEC
CLIENT GETNAME
HELLO 2 FOO
HELLO 5
"""


def lines(block):
    return [x for x in block.strip().splitlines() if x]


@pytest.mark.parametrize("block", ["STRINGS", "NUMBERS", "KEYS", "SERVER",
                                   "TRANSACTIONS"])
def test_replies_match_redis(seg, oracle, block):
    diffs = compare(seg.port("resp"), oracle.port, lines(globals()[block]))
    assert diffs == []


def test_resp3_replies_match_redis(seg, oracle):
    diffs = compare(seg.port("resp"), oracle.port, lines(RESP3), hello3=True)
    assert diffs == []


# what tools and clients send that Redis answers with no replication and
# its latency monitor off (its defaults): redis_exporter's LATENCY LATEST,
# clients' ROLE; SHUTDOWN's refusals (a SHUTDOWN that runs stops the
# server: test_shutdown_stops_the_server)
OPERATOR = """
ROLE
ROLE x
LATENCY LATEST
LATENCY HISTORY command
LATENCY HISTORY
LATENCY RESET
LATENCY RESET command fork
LATENCY DOCTOR
LATENCY GRAPH command
LATENCY FOO
LATENCY
SHUTDOWN FOO
SHUTDOWN NOSAVE SAVE
SHUTDOWN NOW ABORT
SHUTDOWN ABORT
SHUTDOWN abort
MULTI
SHUTDOWN
PING
EXEC
MULTI
ROLE
LATENCY LATEST
EXEC
"""


@pytest.mark.parametrize("hello3", [False, True])
def test_operator_commands_match_redis(seg, oracle, hello3):
    diffs = compare(seg.port("resp"), oracle.port, lines(OPERATOR),
                    hello3=hello3)
    assert diffs == []


def wait_replies(port):
    """WAIT as a master with no replicas answers it: at once, after its
    timeout, queued in MULTI, blocked until CLIENT UNBLOCK (TIMEOUT and
    ERROR), and counted in INFO's blocked clients meanwhile."""
    a, b = Wire(port), Wire(port)
    out = [a.cmd(*shlex.split(line)) for line in (
        "WAIT 0 0", "WAIT 1 50", "WAIT x 0", "WAIT 1 -1", "WAIT 1 abc",
        "WAIT 1 1.5", "WAIT -1 10", "MULTI", "WAIT 1 0", "EXEC")]
    aid = int(a.cmd("CLIENT", "ID")[1:-2])

    def blocked():
        for _ in range(500):
            info = b.cmd("INFO", "clients").split(b"\r\n")
            if b"blocked_clients:1" in info:
                return [x for x in info if b"timeout_table" in x]
            time.sleep(0.01)
        raise AssertionError("not blocked")

    for timeout, how in (("0", "TIMEOUT"), ("5000", "ERROR")):
        a.send(enc(("WAIT", "1", timeout)))
        out.append(blocked())
        out.append(b.cmd("CLIENT", "UNBLOCK", str(aid), how))
        out.append(a.reply())
    a.close()
    b.close()
    return out


def test_wait_matches_redis(seg, oracle):
    """WAIT was an unknown command; now it answers as Redis 7.0.15 with no
    replicas does, compared byte for byte."""
    assert wait_replies(seg.port("resp")) == wait_replies(oracle.port)


def test_shutdown_stops_the_server(server_factory):
    """SHUTDOWN (any of its forms but ABORT) stops the server as SIGTERM
    does: no reply, the connection closes, the process exits 0; a
    warm-restart heap would be written as on any clean stop. redis-py's
    shutdown() takes the closed connection as success."""
    for form in ([], ["NOSAVE"], ["SAVE", "NOW", "FORCE"]):
        srv = server_factory(protocols=("resp",))
        c = redis.Redis(port=srv.port("resp"), socket_timeout=20)
        assert c.set("k", "v")
        if not form:
            c.shutdown()  # raises unless the connection closed
        else:
            w = Wire(srv.port("resp"), timeout=20)
            w.send(enc(("SHUTDOWN", *form)))
            assert w.s.recv(100) == b""  # closed, nothing answered
        assert srv.proc.wait(timeout=20) == 0
        assert "SHUTDOWN: stopping" in srv.log()
        c.close()


SET_OPTIONS = ["NX", "XX", "GET", "KEEPTTL", "EX 100", "PX 100000",
               "EXAT 4102444800", "PXAT 4102444800000", "EX 0", "PX -1",
               "EX x"]


def test_set_options_every_combination_match_redis(seg, oracle):
    """Every ordered pair of SET options (and each alone), on a missing key
    and on a present key with and without a TTL."""
    combos = [[o] for o in SET_OPTIONS]
    combos += [[a, b] for a in SET_OPTIONS for b in SET_OPTIONS]
    script = []
    for i, combo in enumerate(combos):
        key = f"k{i}"
        for setup in ("", f"SET {key} old", f"SET {key} old EX 1000"):
            script.append(f"DEL {key}")
            if setup:
                script.append(setup)
            script.append(f"SET {key} new " + " ".join(combo))
            script.append(f"GET {key}")
            script.append(f"TTL {key}")
    diffs = compare(seg.port("resp"), oracle.port, script)
    # a TTL of EXAT or PXAT is the wall clock's distance to a fixed time:
    # asked of the two servers a moment apart it may straddle a second
    # (seen once under ASan: 2305795991 against 2305795990)
    assert [d for d in diffs if not (
        d[0].startswith("TTL ") and d[1][:1] == d[2][:1] == b":" and
        abs(int(d[1][1:]) - int(d[2][1:])) <= 1 and
        int(d[1][1:]) > 1000000)] == []


def test_auth_replies_match_redis(server_factory):
    if REDIS_SERVER is None:
        pytest.skip(NO_REDIS)
    script = lines("""
GET k
PING
FOO
GET
MULTI
HELLO
HELLO 3
AUTH
AUTH wrong
AUTH default wrong
AUTH foo secret
HELLO 2 AUTH default wrong
AUTH secret
GET k
AUTH wrong
GET k
RESET
GET k
AUTH default secret
CONFIG GET requirepass
CONFIG SET requirepass secret
""")
    srv = server_factory(protocols=("resp",),
                         args=["-o", "resp.requirepass=secret"])
    r = RedisServer("--requirepass", "secret")
    try:
        a, b = Wire(r.port), Wire(srv.port("resp"))
        diffs = []
        for line in script:
            args = shlex.split(line)
            ra, rb = a.cmd(*args), b.cmd(*args)
            if ra != rb:
                diffs.append((line, ra, rb))
        assert diffs == []
    finally:
        r.stop()


# ---- exact bytes asserted literally (no oracle needed) ----

def test_errors_literal(w):
    assert w.cmd("NOSUCH", "a", "b") == \
        b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"
    for cmd in ("XADD", "XLEN", "XREAD", "GEOADD", "PFDEBUG",
                "PFSELFTEST"):
        assert w.cmd(cmd, "x", "y") == (
            b"-ERR unknown command '%s', with args beginning with: 'x' 'y' \r\n"
            % cmd.encode())
    assert w.cmd("GET") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert w.cmd("CLIENT", "NOSUCH", "x") == \
        b"-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"
    assert w.cmd("CLIENT", "SETNAME") == \
        b"-ERR wrong number of arguments for 'client|setname' command\r\n"
    assert w.cmd("SET", "k", "v", "NX", "XX") == b"-ERR syntax error\r\n"
    assert w.cmd("SET", "k", "v", "EX", "0") == \
        b"-ERR invalid expire time in 'set' command\r\n"
    assert w.cmd("SELECT", "16") == b"-ERR DB index is out of range\r\n"
    assert w.cmd("AUTH", "x") == (
        b"-ERR AUTH <password> called without any password configured for "
        b"the default user. Are you sure your configuration is correct?\r\n")
    assert w.cmd("DEBUG", "sleep", "0").startswith(
        b"-ERR DEBUG command not allowed.")
    assert w.cmd("FUNCTION", "FLUSH") == b"+OK\r\n"
    assert w.cmd("SCRIPT", "FLUSH") == b"+OK\r\n"
    assert w.cmd("FUNCTION", "LIST") == b"*0\r\n"
    assert w.cmd("TYPE", "nokey") == b"+none\r\n"
    # where segcached differs: keys are 1 to 65535 bytes
    invalid = b"-ERR invalid key: segcached keys are 1 to 65535 bytes long\r\n"
    assert w.cmd("SET", "", "v") == invalid
    assert w.cmd("GET", "") == b"$-1\r\n"
    assert w.cmd("SET", "k" * 65536, "v") == invalid
    assert w.cmd("SET", "k" * 65535, "v") == b"+OK\r\n"
    w.cmd("SET", "k", "v")
    assert w.cmd("TYPE", "k") == b"+string\r\n"


def test_incr_overflow_literal(w):
    w.cmd("SET", "n", "9223372036854775806")
    assert w.cmd("INCR", "n") == b":9223372036854775807\r\n"
    assert w.cmd("INCR", "n") == \
        b"-ERR increment or decrement would overflow\r\n"
    assert w.cmd("GET", "n") == b"$19\r\n9223372036854775807\r\n"
    w.cmd("SET", "n", "-9223372036854775808")
    assert w.cmd("DECR", "n") == \
        b"-ERR increment or decrement would overflow\r\n"
    assert w.cmd("DECRBY", "n", "-9223372036854775808") == \
        b"-ERR decrement would overflow\r\n"
    assert w.cmd("INCRBY", "n", "9223372036854775808") == \
        b"-ERR value is not an integer or out of range\r\n"
    w.cmd("SET", "s", "12a")
    assert w.cmd("INCR", "s") == \
        b"-ERR value is not an integer or out of range\r\n"
    w.cmd("SET", "f", "10.5")
    assert w.cmd("INCRBYFLOAT", "f", "0.1") == b"$4\r\n10.6\r\n"
    assert w.cmd("INCRBYFLOAT", "f", "-10.6") == b"$1\r\n0\r\n"
    assert w.cmd("INCRBYFLOAT", "f", "inf") == \
        b"-ERR increment would produce NaN or Infinity\r\n"


def test_hello3_literal(w, seg):
    cid = int(w.cmd("CLIENT", "ID")[1:-2])
    assert w.cmd("HELLO", "3") == (
        b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15"
        b"\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:" + str(cid).encode() +
        b"\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster"
        b"\r\n$7\r\nmodules\r\n*0\r\n")
    assert w.cmd("GET", "nokey") == b"_\r\n"
    w.cmd("SET", "k", "v")
    assert w.cmd("CONFIG", "GET", "databases") == \
        b"%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    info = w.cmd("INFO", "server")
    assert info.startswith(b"=") and b"txt:# Server\r\n" in info
    assert w.cmd("HELLO", "2").startswith(b"*14\r\n")
    assert w.cmd("GET", "nokey") == b"$-1\r\n"


def test_protocol_errors_close(seg):
    cases = [
        (b"*1\r\n$4\r\nPING\r\n*x\r\n",
         b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n+PING\r\n",
         b"-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"\"abc\r\n",
         b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ]
    for data, want in cases:
        c = Wire(seg.port("resp"))
        c.send(data)
        assert c.read_until_close() == want
        c.close()


def test_inline_and_empty_requests(w):
    w.send(b"\r\n\r\nset a \"b c\"\r\n*0\r\n*-1\r\nget a\r\nPING\r\n")
    assert [w.reply() for _ in range(3)] == [b"+OK\r\n", b"$3\r\nb c\r\n",
                                             b"+PONG\r\n"]


def test_pipelined_mix(w):
    n = 2000
    data = b""
    want = []
    for i in range(n):
        k = b"p%d" % (i % 50)
        op = i % 5
        if op == 0:
            data += enc(["SET", k, b"v%d" % i])
            want.append(b"+OK\r\n")
        elif op == 1:
            data += b"INCR ctr\r\n"  # inline among multibulk
            want.append(b":%d\r\n" % (i // 5 + 1))
        elif op == 2:
            data += enc(["GET", k])
            want.append(None)
        elif op == 3:
            data += enc(["NOSUCH", k])
            want.append(b"-ERR unknown command 'NOSUCH', with args "
                        b"beginning with: '" + k + b"' \r\n")
        else:
            data += enc(["PING"])
            want.append(b"+PONG\r\n")
    w.send(data)
    for i, expect in enumerate(want):
        got = w.reply()
        if expect is not None:
            assert got == expect, i
    assert w.cmd("GET", "ctr") == b"$3\r\n400\r\n"


def test_select_isolation(w, seg):
    for db in range(16):
        assert w.cmd("SELECT", str(db)) == b"+OK\r\n"
        w.cmd("SET", "k", f"v{db}")
    for db in range(16):
        w.cmd("SELECT", str(db))
        assert w.cmd("GET", "k") == b"$%d\r\nv%d\r\n" % (
            len(f"v{db}"), db)
        assert w.cmd("DBSIZE") == b":1\r\n"
    other = Wire(seg.port("resp"))
    assert other.cmd("GET", "k") == b"$2\r\nv0\r\n"
    w.cmd("SELECT", "3")
    assert w.cmd("FLUSHDB") == b"+OK\r\n"
    assert w.cmd("DBSIZE") == b":0\r\n"
    w.cmd("SELECT", "4")
    assert w.cmd("DBSIZE") == b":1\r\n"
    assert w.cmd("COPY", "k", "k", "DB", "5", "REPLACE") == b":1\r\n"
    w.cmd("SELECT", "5")
    assert w.cmd("GET", "k") == b"$2\r\nv4\r\n"
    assert other.cmd("FLUSHALL") == b"+OK\r\n"
    assert w.cmd("DBSIZE") == b":0\r\n"
    other.close()


def test_expiry_over_socket(w):
    """Margins of a second or more on each side."""
    w.cmd("SET", "ex", "v", "EX", "1")
    w.cmd("SET", "px", "v", "PX", "1200")
    w.cmd("SET", "keep", "v", "EX", "1")
    w.cmd("SET", "keep", "v2", "KEEPTTL")
    w.cmd("SET", "long", "v", "EX", "100")
    w.cmd("SET", "p", "v", "EX", "1")
    assert w.cmd("PERSIST", "p") == b":1\r\n"
    w.cmd("SET", "e", "v")
    assert w.cmd("PEXPIRE", "e", "1000") == b":1\r\n"
    w.cmd("SET", "at", "v")
    assert w.cmd("EXPIREAT", "at", str(int(time.time()) + 1000)) == b":1\r\n"
    w.cmd("SET", "g", "v")
    assert w.cmd("GETEX", "g", "PX", "1000") == b"$1\r\nv\r\n"
    ttl = int(w.cmd("PTTL", "px")[1:-2])
    assert 0 < ttl <= 1200
    assert w.cmd("TTL", "long") == b":100\r\n"
    assert w.cmd("TTL", "p") == b":-1\r\n"
    time.sleep(2.5)
    for k in ("ex", "px", "keep", "e", "g"):
        assert w.cmd("GET", k) == b"$-1\r\n", k
        assert w.cmd("TTL", k) == b":-2\r\n", k
    for k in ("long", "p", "at"):
        assert w.cmd("EXISTS", k) == b":1\r\n", k
    t = int(w.cmd("EXPIRETIME", "at")[1:-2])
    assert abs(t - (time.time() + 1000)) < 10
    w.cmd("SET", "past", "v")
    assert w.cmd("EXPIREAT", "past", "1") == b":1\r\n"
    assert w.cmd("EXISTS", "past") == b":0\r\n"


def test_multi_exec_watch(seg, w):
    other = Wire(seg.port("resp"))
    w.cmd("SET", "a", "1")
    assert w.cmd("WATCH", "a", "b") == b"+OK\r\n"
    other.cmd("SET", "a", "2")
    assert w.cmd("MULTI") == b"+OK\r\n"
    assert w.cmd("INCR", "a") == b"+QUEUED\r\n"
    assert w.cmd("EXEC") == b"*-1\r\n"
    # an expiry change is a change too
    assert w.cmd("WATCH", "a") == b"+OK\r\n"
    other.cmd("EXPIRE", "a", "100")
    w.cmd("MULTI")
    w.cmd("INCR", "a")
    assert w.cmd("EXEC") == b"*-1\r\n"
    # a watched missing key that appears
    assert w.cmd("WATCH", "newkey") == b"+OK\r\n"
    other.cmd("SET", "newkey", "x")
    w.cmd("MULTI")
    w.cmd("GET", "newkey")
    assert w.cmd("EXEC") == b"*-1\r\n"
    # untouched: runs; UNWATCH forgets
    w.cmd("WATCH", "a")
    w.cmd("MULTI")
    w.cmd("INCR", "a")
    w.cmd("GET", "a")
    assert w.cmd("EXEC") == b"*2\r\n:3\r\n$1\r\n3\r\n"
    w.cmd("WATCH", "a")
    other.cmd("SET", "a", "10")
    w.cmd("UNWATCH")
    w.cmd("MULTI")
    w.cmd("INCR", "a")
    assert w.cmd("EXEC") == b"*1\r\n:11\r\n"
    # queue-time error: EXECABORT, nothing runs
    w.cmd("MULTI")
    w.cmd("SET", "a", "20")
    assert w.cmd("GET") == \
        b"-ERR wrong number of arguments for 'get' command\r\n"
    assert w.cmd("EXEC") == \
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert w.cmd("GET", "a") == b"$2\r\n11\r\n"
    other.close()


def test_client_reply_and_quit(w, seg):
    w.send(b"CLIENT REPLY OFF\r\nPING\r\nSET q 1\r\nCLIENT REPLY ON\r\n"
           b"CLIENT REPLY SKIP\r\nPING\r\nPING x\r\n")
    assert w.reply() == b"+OK\r\n"
    assert w.reply() == b"$1\r\nx\r\n"
    assert w.cmd("GET", "q") == b"$1\r\n1\r\n"
    c = Wire(seg.port("resp"))
    c.send(b"QUIT\r\nPING\r\n")
    assert c.read_until_close() == b"+OK\r\n"


def test_client_list_and_names(seg, w):
    other = Wire(seg.port("resp"))
    assert other.cmd("CLIENT", "SETNAME", "worker-2") == b"+OK\r\n"
    assert other.cmd("CLIENT", "SETINFO", "lib-name", "mylib") == b"+OK\r\n"
    oid = int(other.cmd("CLIENT", "ID")[1:-2])
    text = w.cmd("CLIENT", "LIST").decode()
    body = text.split("\r\n", 1)[1]
    rows = [dict(kv.split("=", 1) for kv in line.split(" "))
            for line in body.strip("\r\n").split("\n")]
    mine = [r for r in rows if r["id"] == str(oid)]
    assert mine and mine[0]["name"] == "worker-2"
    assert mine[0]["lib-name"] == "mylib"
    assert mine[0]["cmd"] == "client|id"
    one = w.cmd("CLIENT", "LIST", "ID", str(oid), "999999")
    assert one.count(b"id=") == 1 and one.endswith(b"\n\r\n")
    info = w.cmd("CLIENT", "INFO").decode()
    assert "cmd=client|info" in info
    other.close()


def test_keys_and_scan(w):
    for i in range(1000):
        w.send(enc(["SET", f"user:{i}", "x"]))
    for i in range(200):
        w.send(enc(["SET", f"item:{i}", "y"]))
    for _ in range(1200):
        assert w.reply() == b"+OK\r\n"
    client = redis.Redis(port=int(w.s.getpeername()[1]))
    assert len(client.keys("user:*")) == 1000
    assert sorted(client.keys("item:1?")) == \
        sorted(f"item:1{d}".encode() for d in range(10))
    assert sorted(client.keys("item:[12]5")) == [b"item:15", b"item:25"]
    assert sorted(client.keys("item:[^0-8]?")) == \
        sorted(f"item:9{d}".encode() for d in range(10))
    seen = set(client.scan_iter(match="user:*", count=50))
    assert len(seen) == 1000
    assert set(client.scan_iter(count=7)) == \
        {f"user:{i}".encode() for i in range(1000)} | \
        {f"item:{i}".encode() for i in range(200)}
    assert list(client.scan_iter(_type="list")) == []
    assert client.dbsize() == 1200
    assert client.randomkey() is not None
    client.close()


def test_large_values(w):
    big = b"x" * (512 * 1024)
    assert w.cmd("SET", "big", big) == b"+OK\r\n"
    assert w.cmd("STRLEN", "big") == b":524288\r\n"
    assert w.cmd("GET", "big") == b"$524288\r\n" + big + b"\r\n"
    huge = b"y" * (3 * 1024 * 1024)
    # a SET's value is received into the store in pieces, past the read
    # buffer; any other request's large bulks into buffers of their own;
    # what is left (bulks under 64 KiB) must fit worker.rbuf_max (2 MiB)
    assert w.cmd("SET", "huge", huge) == b"+OK\r\n"
    assert w.cmd("STRLEN", "huge") == b":3145728\r\n"
    assert w.cmd("MSET", "huge", huge) == b"+OK\r\n"
    assert w.cmd("STRLEN", "huge") == b":3145728\r\n"
    small = b"s" * 60_000
    assert w.cmd("MSET", *[x for i in range(20)
                           for x in (f"s{i}", small)]) == b"+OK\r\n"
    assert w.cmd("MSET", *[x for i in range(40)
                           for x in (f"s{i}", small)]) == \
        b"-ERR request exceeds maximum allowed size (worker.rbuf_max)\r\n"
    assert w.cmd("PING") == b"+PONG\r\n"
    # past one item (1 MiB segments), the value is kept in parts
    assert w.cmd("APPEND", "big", huge[:900 * 1024]) == b":1445888\r\n"
    assert w.cmd("GET", "big") == \
        b"$1445888\r\n" + big + huge[:900 * 1024] + b"\r\n"
    assert w.cmd("SETRANGE", "big", str(600 * 1024 * 1024), "z") == \
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"


def test_auth_requirepass(server_factory):
    srv = server_factory(protocols=("resp",),
                         args=["-o", "resp.requirepass=secret"])
    c = Wire(srv.port("resp"))
    assert c.cmd("GET", "k") == b"-NOAUTH Authentication required.\r\n"
    assert c.cmd("AUTH", "nope") == \
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert c.cmd("AUTH", "secret") == b"+OK\r\n"
    assert c.cmd("GET", "k") == b"$-1\r\n"
    c.close()
    r = redis.Redis(port=srv.port("resp"), password="secret")
    assert r.set("a", "1") and r.get("a") == b"1"
    r.close()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=srv.port("resp")).get("a")
    # before AUTH, Redis's tighter request limits apply
    c = Wire(srv.port("resp"))
    c.send(enc(["GET"] + ["k"] * 11))
    assert c.read_until_close() == \
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"


# ---- real clients ----

def test_redis_py(seg):
    r = redis.Redis(port=seg.port("resp"), decode_responses=True)
    r.flushall()
    assert r.ping()
    assert r.set("a", "1", ex=100)
    assert r.get("a") == "1"
    assert 0 < r.ttl("a") <= 100
    assert r.set("a", "2", nx=True) is None
    assert r.set("a", "3", xx=True, get=True) == "1"
    assert r.incr("c") == 1 and r.incrby("c", 5) == 6
    assert r.incrbyfloat("fl", 2.5) == 2.5
    assert r.mset({"x": "1", "y": "2"}) and r.mget("x", "y", "z") == \
        ["1", "2", None]
    assert r.append("x", "23") == 3 and r.getrange("x", 1, -1) == "23"
    assert r.setrange("x", 5, "!") == 6 and r.get("x") == "123\x00\x00!"
    assert r.getdel("y") == "2" and r.exists("y") == 0
    assert r.getex("x", px=5000) == "123\x00\x00!" and r.pttl("x") > 0
    assert r.rename("x", "x2") and r.renamenx("x2", "a") is False
    assert r.copy("x2", "x3") and r.get("x3") == "123\x00\x00!"
    assert r.expire("x3", 1, gt=True) is False
    assert r.expire("x3", 100) and r.persist("x3")
    assert r.type("x3") == "string" and r.type("nope") == "none"
    assert r.delete("x2", "x3", "nope") == 2
    assert r.unlink("a") == 1
    info = r.info()
    assert info["redis_version"] == "7.0.15" and "segcached_version" in info
    assert r.info("keyspace")["db0"]["keys"] >= 1
    assert "cmdstat_get" in r.info("commandstats")
    assert r.config_get("databases") == {"databases": "16"}
    assert "maxmemory" in r.config_get("maxmemory*")
    assert r.client_setname("py") and r.client_getname() == "py"
    assert r.client_id() > 0
    assert any(c["name"] == "py" for c in r.client_list())
    assert r.dbsize() >= 1 and r.time()[0] > 1_600_000_000
    assert r.echo("hi") == "hi"
    assert r.command_count() > 50
    r.close()


def test_redis_py_pipelines(seg):
    r = redis.Redis(port=seg.port("resp"))
    r.flushall()
    with r.pipeline(transaction=True) as p:
        p.set("t", "1").incr("t").get("t")
        assert p.execute() == [True, 2, b"2"]
    with r.pipeline(transaction=False) as p:
        for i in range(500):
            p.set(f"k{i}", i)
        p.get("k499")
        out = p.execute()
        assert out[:-1] == [True] * 500 and out[-1] == b"499"
    # optimistic locking with WATCH, as redis-py documents it
    other = redis.Redis(port=seg.port("resp"))
    with r.pipeline() as p:
        p.watch("t")
        p.multi()
        p.incr("t")
        other.set("t", "100")
        with pytest.raises(redis.WatchError):
            p.execute()
    with r.pipeline() as p:
        p.watch("t")
        v = int(p.get("t"))
        p.multi()
        p.set("t", v + 1)
        assert p.execute() == [True]
    assert r.get("t") == b"101"
    # an error inside a transaction is that command's reply
    with r.pipeline(transaction=True) as p:
        p.set("s", "x").incr("s").get("s")
        with pytest.raises(redis.ResponseError):
            p.execute()
    assert r.get("s") == b"x"
    other.close()
    r.close()


def cli(port, *args, stdin=None, proto3=False):
    cmd = [REDIS_CLI, "-p", str(port)] + (["-3"] if proto3 else []) + \
        list(args)
    return subprocess.run(cmd, input=stdin, capture_output=True,
                          timeout=60 * SLOW)


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
def test_redis_cli(seg):
    port = seg.port("resp")
    assert cli(port, "FLUSHALL").stdout == b"OK\n"
    assert cli(port, "SET", "a", "hello").stdout == b"OK\n"
    assert cli(port, "GET", "a").stdout == b"hello\n"
    assert cli(port, "GET", "nope").stdout == b"\n"
    assert cli(port, "INCR", "n").stdout == b"1\n"
    assert cli(port, "LPUSH", "l", "x").stdout == b"1\n"  # issue 16
    assert cli(port, "XADD", "s", "*", "f", "v").stdout.startswith(
        b"ERR unknown command 'XADD'")
    # interactive (commands on stdin, one session)
    out = cli(port, stdin=b"SET b 1\nINCRBY b 41\nGET b\nSELECT 2\nDBSIZE\n")
    assert out.stdout == b"OK\n42\n42\nOK\n0\n"
    # RESP3: maps and nulls as redis-cli -3 shows them
    out = cli(port, "HELLO", "3", proto3=True).stdout.split(b"\n")
    assert out[:3] == [b"server redis", b"version 7.0.15", b"proto 3"]
    assert cli(port, "GET", "nope", proto3=True).stdout == b"\n"
    assert cli(port, "CONFIG", "GET", "databases", proto3=True).stdout == \
        b"databases 16\n"
    assert cli(port, "INCRBYFLOAT", "fl", "1.5", proto3=True).stdout == \
        b"1.5\n"


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
def test_redis_cli_pipe_and_scan(seg):
    port = seg.port("resp")
    cli(port, "FLUSHALL")
    n = 100_000
    data = b"".join(enc(["SET", f"mass:{i}", f"value-{i}"])
                    for i in range(n))
    out = cli(port, "--pipe", stdin=data)
    assert out.returncode == 0, out.stderr
    assert b"errors: 0, replies: %d" % n in out.stdout
    assert cli(port, "DBSIZE").stdout == b"%d\n" % n
    assert cli(port, "GET", "mass:99999").stdout == b"value-99999\n"
    keys = cli(port, "--scan", "--pattern", "mass:1234*").stdout.split()
    assert sorted(keys) == sorted(
        [b"mass:1234"] + [b"mass:1234%d" % d for d in range(10)])
    assert len(cli(port, "--scan").stdout.split()) == n


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
def test_issue_23_scan_of_a_small_db_beside_a_full_one(server_factory):
    """`redis-cli -n 1 --scan` over 10 keys beside 20,000 in database 0
    takes the calls its own keys take, as in Redis (1-2), however large
    -m: before the summary per database it took about 140 calls at
    -m 1024; RANDOMKEY there finds database 1's keys."""
    s = server_factory(protocols=("resp",), args=["-m", "1024"])
    port = s.port("resp")
    bulk = b"".join(enc(["SET", f"bulk:{i}", "v"]) for i in range(20000))
    assert b"errors: 0" in cli(port, "--pipe", stdin=bulk).stdout
    few = b"".join(enc(["SET", f"few:{i}", "v"]) for i in range(10))
    assert b"errors: 0" in cli(port, "-n", "1", "--pipe", stdin=few).stdout
    assert cli(port, "CONFIG", "RESETSTAT").stdout == b"OK\n"
    keys = cli(port, "-n", "1", "--scan").stdout.split()
    assert sorted(keys) == sorted(b"few:%d" % i for i in range(10))
    info = cli(port, "INFO", "commandstats").stdout.decode()
    calls = int(re.search(r"cmdstat_scan:calls=(\d+)", info).group(1))
    assert calls <= 3, info
    for _ in range(20):
        assert cli(port, "-n", "1", "RANDOMKEY").stdout.startswith(b"few:")
    assert len(cli(port, "--scan").stdout.split()) == \
        20000


@pytest.mark.skipif(REDIS_BENCHMARK is None,
                    reason="redis-benchmark is not installed")
def test_redis_benchmark(seg):
    out = subprocess.run(
        [REDIS_BENCHMARK, "-p", str(seg.port("resp")), "-t",
         "set,get,incr,mset", "-n", "100000", "-P", "16", "-q"],
        capture_output=True, timeout=300 * SLOW)
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode(errors="replace")
    assert "error" not in text.lower() and "ERR" not in text
    for name in ("SET", "GET", "INCR", "MSET"):
        assert re.search(name + r".*requests per second", text), text


# ---- INFO and metrics ----

def test_info_sections(w):
    w.cmd("GET", "x")
    for _ in range(16):  # latency histograms sample 1 call in 8
        w.cmd("SET", "x", "1")
    w.cmd("GET")

    def sections(*args):
        text = w.cmd("INFO", *args).split(b"\r\n", 1)[1].decode()
        return re.findall(r"^# (\w+)", text, re.M), text

    default, text = sections()
    assert default == ["Server", "Clients", "Memory", "Persistence", "Stats",
                       "Replication", "CPU", "Modules", "Errorstats",
                       "Cluster", "Keyspace"]
    assert "redis_version:7.0.15\r\n" in text
    assert re.search(r"segcached_version:\S+", text)
    for field in ("connected_clients", "used_memory", "maxmemory",
                  "total_connections_received", "total_commands_processed",
                  "keyspace_hits", "keyspace_misses", "expired_keys",
                  "evicted_keys", "total_net_input_bytes", "used_cpu_sys",
                  "uptime_in_seconds", "tcp_port", "role"):
        assert re.search(r"^%s:" % field, text, re.M), field
    assert re.search(r"^db0:keys=1,", text, re.M)
    everything, text = sections("everything")
    assert "Commandstats" in everything and "Latencystats" in everything
    assert sections("all")[0] == everything
    m = re.search(r"cmdstat_get:calls=(\d+),usec=\d+,usec_per_call=[\d.]+,"
                  r"rejected_calls=(\d+),failed_calls=0", text)
    assert m and int(m.group(1)) >= 1 and int(m.group(2)) >= 1
    assert re.search(r"latency_percentiles_usec_set:p50=[\d.]+,p99=[\d.]+,"
                     r"p99\.9=[\d.]+", text)
    assert sections("keyspace", "CPU")[0] == ["CPU", "Keyspace"]
    assert sections("default", "commandstats")[0] == \
        default[:8] + ["Commandstats"] + default[8:]
    assert w.cmd("INFO", "nosuch") == b"$0\r\n\r\n"
    assert w.cmd("CONFIG", "RESETSTAT") == b"+OK\r\n"
    assert "cmdstat_get:" not in sections("commandstats")[1]


def test_admin_port_metrics(seg, w):
    for _ in range(64):  # latency histograms sample 1 call in 8
        w.cmd("GET", "m")
    w.cmd("CLIENT", "SETNAME", "x")
    stats = seg.stats()
    assert stats["resp_cmd_get_calls"] >= 64
    assert "resp_cmd_client_setname_calls" in stats
    assert stats["resp_cmd_calls"] >= 4
    h = socket.create_connection(("127.0.0.1", seg.admin_port))
    h.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = b""
    while b"segcached_resp_cmd_latency_seconds_count" not in body:
        chunk = h.recv(65536)
        if not chunk:
            break
        body += chunk
    h.close()
    assert re.search(rb'segcached_resp_cmd_calls_total\{cmd="get"\} \d+',
                     body)
    assert re.search(rb'segcached_resp_cmd_latency_seconds\{cmd="get",'
                     rb'quantile="0.99"\} [\d.]+', body)


def test_concurrent_clients(seg):
    """Several connections on both workers: INCR is exact, CLIENT LIST
    sees them all while they come and go."""
    port = seg.port("resp")
    errors = []

    def work(i):
        try:
            c = Wire(port)
            for _ in range(300):
                c.send(enc(["INCR", "shared"]) + enc(["CLIENT", "LIST"]))
                assert c.reply().startswith(b":")
                assert c.reply().startswith(b"$")
            c.close()
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    c0 = Wire(port)
    c0.cmd("DEL", "shared")
    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert c0.cmd("GET", "shared") == b"$4\r\n1800\r\n"
    c0.close()


def test_http_request_is_closed_like_redis(seg, oracle):
    """A browser tricked into posting to the resp port sends "POST / ..." and
    "Host: ..." lines: Redis closes such a connection without a reply, and
    so does segcached (regression from the hostile-load review)."""
    for port in (seg.port("resp"), oracle.port):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: example.com\r\n\r\n")
            assert s.recv(100) == b""
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"Host: example.com\r\n")
            assert s.recv(100) == b""


# ---- OBJECT, MEMORY, SLOWLOG ----

OPS = """
SET i 123
SET big 12345
SET neg -5
SET z 007
SET l 123456789012345678901
SET s hello
SET e44 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
SET r45 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
OBJECT ENCODING i
OBJECT ENCODING big
OBJECT ENCODING neg
OBJECT ENCODING z
OBJECT ENCODING l
OBJECT ENCODING s
OBJECT ENCODING e44
object encoding r45
OBJECT ENCODING nokey
OBJECT REFCOUNT i
OBJECT REFCOUNT big
OBJECT REFCOUNT neg
OBJECT REFCOUNT s
OBJECT REFCOUNT nokey
OBJECT FREQ nokey
OBJECT IDLETIME nokey
OBJECT ENCODING
OBJECT ENCODING a b
OBJECT foo x
OBJECT
OBJECT HELP
OBJECT HELP x
MEMORY USAGE nokey
MEMORY USAGE s samples
MEMORY USAGE s SAMPLES x
MEMORY USAGE s SAMPLES -1
MEMORY USAGE s foo 1
MEMORY USAGE nokey SAMPLES x
MEMORY USAGE nokey SAMPLES 0
MEMORY USAGE
MEMORY PURGE
MEMORY PURGE x
MEMORY DOCTOR x
MEMORY STATS x
MEMORY MALLOC-STATS x
MEMORY NOPE
MEMORY HELP
SLOWLOG HELP
SLOWLOG GET x
SLOWLOG GET -2
SLOWLOG GET 1 2
SLOWLOG LEN x
SLOWLOG RESET x
SLOWLOG foo
CONFIG GET slowlog-max-len
CONFIG GET slowlog-log-slower-than
CONFIG SET slowlog-max-len -1
CONFIG SET slowlog-max-len abc
CONFIG SET slowlog-log-slower-than -5
CONFIG SET slowlog-log-slower-than 1.5
CONFIG SET slowlog-log-slower-than -1
SLOWLOG RESET
PING
SLOWLOG LEN
SLOWLOG GET
CONFIG SET slowlog-log-slower-than 10000 slowlog-max-len 128
CONFIG GET slowlog-log-slower-than
"""


def test_ops_replies_match_redis(seg, oracle):
    """OBJECT, MEMORY and SLOWLOG replies byte for byte. Redis shares the
    integers 0..9999 (REFCOUNT 2147483647) unless maxmemory is set with an
    LRU/LFU policy: the oracle is given segcached's maxmemory and policy."""
    r = redis.Redis(port=seg.port("resp"), decode_responses=True)
    o = redis.Redis(port=oracle.port, decode_responses=True)
    saved = o.config_get("maxmemory*")
    want = r.config_get("maxmemory*")
    o.config_set("maxmemory", want["maxmemory"])
    o.config_set("maxmemory-policy", want["maxmemory-policy"])
    try:
        diffs = compare(seg.port("resp"), oracle.port, lines(OPS))
        # the same with Redis's defaults (no maxmemory): 123 is shared
        o.config_set("maxmemory", "0")
        base = compare(seg.port("resp"), oracle.port,
                       ["SET i 123", "OBJECT REFCOUNT i"])
    finally:
        o.config_set("maxmemory", saved["maxmemory"])
        o.config_set("maxmemory-policy", saved["maxmemory-policy"])
        r.close()
        o.close()
    assert diffs == []
    shared = want["maxmemory-policy"] not in ("allkeys-lru", "volatile-lru",
                                              "allkeys-lfu", "volatile-lfu")
    assert base == ([] if shared else
                    [("OBJECT REFCOUNT i", b":2147483647\r\n", b":1\r\n")])


def test_ops_literal(w):
    assert w.cmd("SET", "i", "123") == b"+OK\r\n"
    assert w.cmd("SET", "s", "x" * 45) == b"+OK\r\n"
    assert w.cmd("OBJECT", "ENCODING", "i") == b"$3\r\nint\r\n"
    assert w.cmd("OBJECT", "ENCODING", "s") == b"$3\r\nraw\r\n"
    assert w.cmd("OBJECT", "ENCODING", "nokey") == b"$-1\r\n"
    assert w.cmd("MEMORY", "USAGE", "nokey") == b"$-1\r\n"
    assert w.cmd("MEMORY", "MALLOC-STATS") == \
        b"$45\r\nStats not supported for the current allocator\r\n"
    # OBJECT is no access: FREQ does not move until a GET
    assert w.cmd("OBJECT", "FREQ", "i") == b":0\r\n"
    assert w.cmd("OBJECT", "FREQ", "i") == b":0\r\n"
    assert w.cmd("GET", "i") == b"$3\r\n123\r\n"
    assert w.cmd("OBJECT", "FREQ", "i") == b":1\r\n"
    assert w.cmd("CONFIG", "GET", "slowlog-max-len") == \
        b"*2\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n"


def test_ops_redis_py(seg):
    """OBJECT, MEMORY and SLOWLOG through redis-py, on connections that the
    two workers share: slow-log ids are unique and newest first."""
    port = seg.port("resp")
    r = redis.Redis(port=port, decode_responses=True)
    r.flushall()
    assert r.set("k", "v") and r.set("n", "42") and r.set("b", "x" * 100)
    assert r.object("encoding", "k") == "embstr"
    assert r.object("encoding", "n") == "int"
    assert r.object("encoding", "b") == "raw"
    assert r.object("refcount", "k") == 1
    assert r.object("freq", "k") == 0
    assert 0 <= r.object("idletime", "k") < 60
    assert r.object("encoding", "nokey") is None
    small, large = r.memory_usage("k"), r.memory_usage("b")
    assert small > len("k") + len("v") and large >= small + 99
    assert r.memory_usage("k", samples=0) == small
    assert r.memory_usage("nokey") is None
    stats = r.memory_stats()
    assert stats["keys.count"] == 3
    assert stats["total.allocated"] > 0 and stats["dataset.bytes"] > 0
    assert r.memory_purge()
    try:
        assert r.config_set("slowlog-log-slower-than", 0)
        assert r.config_get("slowlog-log-slower-than") == \
            {"slowlog-log-slower-than": "0"}
        assert r.slowlog_reset()
        others = [redis.Redis(port=port) for _ in range(4)]
        for i, c in enumerate(others):
            c.client_setname(f"c{i}")
            c.set(f"key{i}", "x" * 300)
        entries = r.slowlog_get(-1)
        assert r.slowlog_len() == len(entries) + 1  # with that SLOWLOG GET
        ids = [e["id"] for e in entries]
        assert ids == sorted(set(ids), reverse=True)
        def text(v):
            return v.decode() if isinstance(v, bytes) else v
        sets = [e for e in entries if text(e["command"]).startswith("SET")]
        assert len(sets) == 4
        for e in sets:
            assert text(e["command"]).endswith("... (172 more bytes)")
            assert e["duration"] >= 0
            assert abs(e["start_time"] - time.time()) < 120
        # redis-py 4 drops the client address and name: read them raw
        raw = Wire(port)
        got = raw.cmd("SLOWLOG", "GET", "-1")
        raw.close()
        for i in range(4):
            assert re.search(rb"\$1[0-9]\r\n127\.0\.0\.1:[0-9]+\r\n"
                             rb"\$2\r\nc%d\r\n" % i, got)
        assert len(r.slowlog_get(2)) == 2
        assert r.config_set("slowlog-max-len", 3)
        assert r.slowlog_len() == 3 and len(r.slowlog_get(-1)) == 3
        assert r.slowlog_get(0) == []
        for c in others:
            c.close()
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
        r.config_set("slowlog-max-len", 128)
    assert r.slowlog_reset() and r.slowlog_len() == 0
    r.close()


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
def test_redis_cli_memkeys_hotkeys(seg):
    """redis-cli --memkeys sums MEMORY USAGE, --hotkeys reads OBJECT FREQ
    (Redis answers FREQ only under an LFU policy; segcached always)."""
    port = seg.port("resp")
    r = redis.Redis(port=port, decode_responses=True)
    r.flushall()
    for i in range(10):
        r.set(f"m{i}", "v" * (10 * (i + 1)))
    for _ in range(30):
        r.get("m3")
    total = sum(r.memory_usage(f"m{i}") for i in range(10))
    r.close()
    out = cli(port, "--memkeys")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "Biggest string found '\"m9\"'" in text
    assert f"10 strings with {total} bytes" in text
    out = cli(port, "--hotkeys")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "hot key found with counter" in text
    top = [x for x in text.splitlines() if "hot key found" in x]
    assert "keyname: \"m3\"" in top[0]


# ---- issue 23: what cluster-aware clients and monitoring read ----

CLUSTER = """
CLUSTER INFO
CLUSTER SLOTS
CLUSTER NODES
CLUSTER SHARDS
CLUSTER MYID
CLUSTER LINKS
CLUSTER HELP
CLUSTER KEYSLOT foo
CLUSTER KEYSLOT
CLUSTER COUNTKEYSINSLOT 1
CLUSTER GETKEYSINSLOT 1 10
CLUSTER ADDSLOTS 1 2 3
CLUSTER SETSLOT 1 NODE x
CLUSTER RESET HARD
CLUSTER FAILOVER FORCE
cluster info
CLUSTER FOO
CLUSTER
READONLY
READWRITE
ASKING
READONLY x
MULTI
CLUSTER INFO
EXEC
FOO
FOO a b
foo a b c d e f g h i j k l m n o p q r s t u v w x y z
FOO 'a b' "c\\r\\nd" ''
"""


def test_issue_23_cluster_and_unknown_match_redis(seg, oracle):
    """Cluster-aware clients probe with CLUSTER INFO/SLOTS/NODES and
    READONLY: Redis 7.0.15 without cluster support answers each with the
    same error; unknown commands keep Redis's exact text, which clients
    match on."""
    long_arg = "x" * 200
    extra = [f"FOO {long_arg}", f"FOO a {long_arg} b", f"{long_arg} a"]
    diffs = compare(seg.port("resp"), oracle.port, lines(CLUSTER) + extra)
    assert diffs == []


def test_issue_23_unsupported_types_get_the_unknown_command_error(w):
    """Commands of types segcached does not hold yet get Redis's reply to
    a command it does not know, byte for byte (docs/protocol-resp.md)."""
    assert w.cmd("GEOADD", "z", "1", "b") == \
        b"-ERR unknown command 'GEOADD', with args beginning with: " \
        b"'z' '1' 'b' \r\n"
    assert w.cmd("XLEN", "l") == \
        b"-ERR unknown command 'XLEN', with args beginning with: 'l' \r\n"
    assert w.cmd("CLUSTER", "SLOTS") == \
        b"-ERR This instance has cluster support disabled\r\n"


def info_field(w, section, name):
    text = w.cmd("INFO", section).decode()
    m = re.search(r"^%s:(.*)\r$" % re.escape(name), text, re.M)
    return m.group(1) if m else None


def test_issue_23_info_keyspace_counts_expires(w, seg, oracle):
    """INFO's keyspace line counts the keys with an expiry as Redis does:
    the same commands on both servers give the same keys= and expires=
    (avg_ttl is Redis's estimate; segcached reports 0)."""
    script = ["SET a 1", "SET b 2 EX 100", "SET c 3 PX 100000",
              "SET d 4", "EXPIRE d 50", "SET e 5 EX 100", "PERSIST e",
              "SET f 6 EX 100", "SET f 7", "SET g 8 EX 100", "DEL g",
              "SET h 9 EX 100", "SET h 10 KEEPTTL", "GETEX a EX 100",
              "GETEX c PERSIST", "RENAME b bb", "COPY bb bc",
              "SELECT 3", "SET x 1 EX 100", "SET y 2"]
    ours = Wire(seg.port("resp"))
    theirs = Wire(oracle.port)
    for c in (ours, theirs):
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
        for line in script:
            c.cmd(*shlex.split(line))
    try:
        for db in ("db0", "db3"):
            mine = info_field(ours, "keyspace", db)
            want = info_field(theirs, "keyspace", db)
            assert mine is not None and want is not None
            assert mine.rsplit(",", 1)[0] == want.rsplit(",", 1)[0], db
            assert mine.endswith(",avg_ttl=0")
        assert info_field(ours, "keyspace", "db0") == \
            "keys=8,expires=5,avg_ttl=0"
    finally:
        for c in (ours, theirs):
            c.cmd("FLUSHALL")
            c.close()
    assert info_field(w, "keyspace", "db0") is None


@pytest.mark.parametrize("evict,policy", [("merge", "allkeys-lfu"),
                                          ("none", "noeviction"),
                                          ("random", "allkeys-random")])
def test_issue_23_maxmemory_policy_is_the_nearest_true(server_factory,
                                                       evict, policy):
    """INFO memory and CONFIG GET name the Redis policy nearest to what
    seg.evict does (docs/protocol-resp.md), never one it does not."""
    s = server_factory(protocols=("resp",), args=["-o", f"seg.evict={evict}"])
    c = Wire(s.port("resp"))
    try:
        assert info_field(c, "memory", "maxmemory_policy") == policy
        want = enc(["maxmemory-policy", policy])[len(b"*2\r\n"):]
        assert c.cmd("CONFIG", "GET", "maxmemory-policy") == \
            b"*2\r\n" + want
    finally:
        c.close()

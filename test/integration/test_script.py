# SPDX-License-Identifier: Apache-2.0
"""Lua scripting (issue 17): EVAL, EVALSHA, their _RO forms and SCRIPT,
compared byte for byte with a real redis-server 7.0.15 (RESP2 and RESP3),
redis-py's Lock and register_script end to end, scripts atomic across
workers, SCRIPT KILL and FUNCTION KILL of a busy script with Redis's
replies, FUNCTION DUMP / RESTORE both ways with a real Redis, and
busy-reply-threshold (lua-time-limit).

Known differences (docs/protocol-resp.md "Scripting"): no cmsgpack or struct
libraries; library tables other than redis (string, math ...) are not
read-only; FUNCTION DUMP writes its strings uncompressed (Redis reads them)."""
import hashlib
import random
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time

import pytest
import redis

from conftest import SANITIZED, Server
from test_resp import (  # noqa: F401 (oracle: a fixture)
    Wire, compare, enc, oracle)

SCALE = 10 if SANITIZED else 1


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("resp",), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


def client(seg):
    return redis.Redis(host="127.0.0.1", port=seg.port("resp"),
                       socket_timeout=60)


SCRIPTS = r"""
EVAL "return 1" 0
EVAL "return 'x'" 0
EVAL "return {1,2,3.7,'x',nil,5}" 0
EVAL "return {1,{2,{3,'a'}},false,true}" 0
EVAL "return true" 0
EVAL "return false" 0
EVAL "return nil" 0
EVAL "return 3.99" 0
EVAL "return -3.99" 0
EVAL "return {ok='FINE'}" 0
EVAL "return redis.status_reply('FINE')" 0
EVAL "return redis.error_reply('My Error')" 0
EVAL "return redis.error_reply('ERR with code')" 0
EVAL "return {err='My Error'}" 0
EVAL "return {double=3.5}" 0
EVAL "return {map={a=1}}" 0
EVAL "return {set={a=true}}" 0
EVAL "return {big_number='123456789012345678901234567890'}" 0
EVAL "return {verbatim_string={format='txt',string='hi'}}" 0
EVAL "return redis.call('set', KEYS[1], ARGV[1])" 1 k v
EVAL "return redis.call('get', KEYS[1])" 1 k
EVAL "return redis.call('get', 'nokey')" 0
EVAL "return redis.call('incr', KEYS[1])" 1 k
EVAL "return redis.pcall('incr', KEYS[1])" 1 k
EVAL "return redis.call('incr', KEYS[1])" 1 n
EVAL "return redis.call('incrby', KEYS[1], 5)" 1 n
EVAL "return redis.call('set', 'f', 1.5)" 0
EVAL "return redis.call('get', 'f')" 0
EVAL "return redis.call('mget', 'k', 'nokey', 'n')" 0
EVAL "return redis.call('hset', 'h', 'a', '1', 'b', '2')" 0
EVAL "return redis.call('hgetall', 'h')" 0
EVAL "return redis.call('sadd', 's', 'x')" 0
EVAL "return redis.call('smembers', 's')" 0
EVAL "return redis.call('ping')" 0
EVAL "return redis.call('type', 'h')" 0
EVAL "return redis.call('ttl', 'k')" 0
EVAL "return redis.call('exists', 'k', 'h', 'zz')" 0
EVAL "return redis.call('get', 'h')" 0
EVAL "return redis.pcall('get', 'h')" 0
EVAL "return redis.call('del', 'k')" 0
EVAL "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}" 2 a b c d
EVAL "return redis.sha1hex('')" 0
EVAL "return redis.sha1hex('abc')" 0
EVAL "return redis.REDIS_VERSION" 0
EVAL "return redis.LOG_WARNING" 0
EVAL "redis.log(redis.LOG_WARNING, 'hello')" 0
EVAL "return redis.replicate_commands()" 0
EVAL "return cjson.encode({1,2,3})" 0
EVAL "return cjson.decode('[1,2,{\"a\":5}]')[3].a" 0
EVAL "return bit.band(12, 10)" 0
EVAL "return bit.tohex(65535)" 0
EVAL "return string.format('%d-%s', 5, 'x')" 0
EVAL "return math.floor(7.9)" 0
EVAL "return table.concat({'a','b'}, ',')" 0
EVAL "return type(loadstring)" 0
EVAL "return tostring(loadstring('return 1')())" 0
EVAL "error('x')" 0
EVAL "error({err='MYERR bad'})" 0
EVAL "return x" 0
EVAL "x = 5" 0
EVAL "return redis.call()" 0
EVAL "return redis.call('nosuch')" 0
EVAL "return redis.call('get', {})" 0
EVAL "return redis.call('get')" 0
EVAL "return redis.call('multi')" 0
EVAL "return redis.call('eval', 'return 1', 0)" 0
EVAL "return redis.pcall('nosuch')" 0
EVAL "return (" 0
EVAL "local a = 1\nlocal b = 2\nerror('on three')" 0
EVAL "local a = 1\nreturn redis.call('incr', 'h')" 0
EVAL "return os" 0
EVAL "return io" 0
EVAL "return require" 0
EVAL "return dofile" 0
EVAL "return loadfile" 0
EVAL "redis.setresp(4)" 0
EVAL "return 1" -1
EVAL "return 1" 5
EVAL "return 1" x
EVAL
EVAL "return 1"
EVAL_RO "return redis.call('get', KEYS[1])" 1 k
EVAL_RO "return redis.call('set', KEYS[1], 'v')" 1 k
EVAL_RO "return redis.pcall('set', KEYS[1], 'v')" 1 k
EVAL "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')" 0
EVAL "#!lua flags=no-writes\nreturn redis.call('get', 'a')" 0
EVAL "#!lua flags=no-writes,allow-oom\nreturn 5" 0
EVAL "#!lua flags=bogus\nreturn 5" 0
EVAL "#!lua\nreturn 5" 0
EVAL "#!python\nreturn 5" 0
EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
EVALSHA abc 0
SCRIPT LOAD "return 'loaded'"
EVALSHA 2a1f2b1ad5325e0a0d1b78f1d0a4ba0c2b59d37f 0
EVALSHA 2A1F2B1AD5325E0A0D1B78F1D0A4BA0C2B59D37F 0
EVALSHA_RO 2a1f2b1ad5325e0a0d1b78f1d0a4ba0c2b59d37f 0
SCRIPT EXISTS 2a1f2b1ad5325e0a0d1b78f1d0a4ba0c2b59d37f e0e1f9fabfc9d4800c877a703b823ac0578ff8db nope
EVAL "return 1" 0
SCRIPT EXISTS e0e1f9fabfc9d4800c877a703b823ac0578ff8db
SCRIPT LOAD "return ("
SCRIPT FLUSH
SCRIPT EXISTS 2a1f2b1ad5325e0a0d1b78f1d0a4ba0c2b59d37f
EVALSHA 2a1f2b1ad5325e0a0d1b78f1d0a4ba0c2b59d37f 0
SCRIPT FLUSH ASYNC
SCRIPT FLUSH SYNC
SCRIPT FLUSH bogus
SCRIPT KILL
SCRIPT LOAD
""".strip().splitlines()

NO_WRITES = "#!lua flags=no-writes\nreturn redis.call('set','a','b')"
NO_WRITES_SHA = hashlib.sha1(NO_WRITES.encode()).hexdigest()
NO_WRITES_LINE = NO_WRITES.replace("\n", "\\n")
SCRIPTS += ['SCRIPT LOAD "' + NO_WRITES_LINE + '"',
            "EVALSHA " + NO_WRITES_SHA + " 0",
            'EVAL "' + NO_WRITES_LINE + '" 0',
            "EVALSHA " + NO_WRITES_SHA + " 0"]

RESP3_SCRIPTS = r"""
EVAL "return {double=3.5}" 0
EVAL "return {map={a=1}}" 0
EVAL "return {set={a=true}}" 0
EVAL "return {big_number='12345678901234567890'}" 0
EVAL "return {verbatim_string={format='txt',string='hi'}}" 0
EVAL "return true" 0
EVAL "return false" 0
EVAL "return nil" 0
EVAL "redis.setresp(3); return true" 0
EVAL "redis.setresp(3); return false" 0
EVAL "return redis.call('hset', 'h', 'a', '1')" 0
EVAL "return redis.call('hgetall', 'h')" 0
EVAL "redis.setresp(3); return redis.call('hgetall', 'h')" 0
EVAL "redis.setresp(3); return redis.call('get', 'nokey')" 0
EVAL "redis.setresp(3); local r = redis.call('hgetall', 'h'); return r['map']['a']" 0
EVAL "redis.setresp(3); return redis.call('sadd', 's', 'a', 'b') + 0" 0
EVAL "redis.setresp(3); return redis.call('smembers', 's')" 0
EVAL "redis.setresp(3); return redis.call('incrbyfloat', 'f', '1.5')" 0
EVAL "return redis.call('get', 'nokey')" 0
EVAL "error('x')" 0
""".strip().splitlines()


FUNCTIONS = r"""
FUNCTION FLUSH
FUNCTION LOAD "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return redis.call('incr', keys[1]) end)"
FUNCTION LOAD "#!lua name=lib2\nredis.register_function{function_name='f2', callback=function(keys, args) return args[1] end, flags={'no-writes'}}"
FUNCTION LOAD "return 1"
FUNCTION LOAD "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)"
FUNCTION LOAD "#!lua name=lib3\nredis.register_function('f1', function() return 1 end)"
FUNCTION LOAD "#!lua name=lib4\nreturn 1"
FUNCTION LOAD "#!lua name=lib5\nredis.call('ping')"
FUNCTION LOAD "#!lua"
FUNCTION LOAD "#!lua name=a-b\nx"
FUNCTION LOAD "#!lua name=lib6 foo=bar\nx"
FUNCTION LOAD "#!py name=lib7\nx"
FUNCTION LOAD "#!lua name=lib8\nlocal x = ("
FUNCTION LOAD "#!lua name=lib9\nredis.register_function('bad name', function() end)"
FUNCTION LOAD "#!lua name=lib10\nredis.register_function{function_name='f10', callback=function() end, flags={'bogus'}}"
FUNCTION LOAD "#!lua name=lib11\nx = 5"
FUNCTION LOAD "#!lua name=lib12\nredis.register_function('f12', function(keys, args) error('boom') end)"
FCALL f1 1 k
FCALL f1 1 k
SET s a
FCALL f1 1 s
FCALL f2 0 hi
FCALL_RO f2 0 hi
FCALL_RO f1 1 k
FCALL nof 0
FCALL f1 5 k
FCALL f1 -1 k
FCALL f12 0
FUNCTION LIST LIBRARYNAME lib1
FUNCTION LIST WITHCODE LIBRARYNAME lib2
FUNCTION LIST bogus
FUNCTION DELETE nolib
FUNCTION STATS
FUNCTION LOAD REPLACE "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 'replaced' end)"
FCALL f1 0
FUNCTION DELETE lib1
FCALL f1 0
FUNCTION FLUSH
FCALL f2 0
FUNCTION LIST
""".strip().splitlines()


def test_functions_like_redis(seg, oracle):
    run_compare(seg, oracle, FUNCTIONS)


def test_functions_resp3_like_redis(seg, oracle):
    run_compare(seg, oracle, [
        FUNCTIONS[0], FUNCTIONS[2], "FUNCTION LIST", "FUNCTION STATS",
        "FCALL f2 0 x", "FUNCTION FLUSH"], hello3=True)


def test_functions_on_every_worker(seg):
    cs = [client(seg) for _ in range(4)]
    cs[0].function_flush()
    cs[0].function_load("#!lua name=w\nredis.register_function("
                        "'wf', function(keys, args) return "
                        "redis.call('incr', keys[1]) end)")
    assert [c.fcall("wf", 1, "wk") for c in cs] == [1, 2, 3, 4]
    cs[2].script_flush()  # scripts go, functions stay (as in Redis)
    assert [c.fcall("wf", 1, "wk") for c in cs] == [5, 6, 7, 8]
    cs[1].function_delete("w")
    for c in cs:
        with pytest.raises(redis.exceptions.ResponseError,
                           match="Function not found"):
            c.fcall("wf", 1, "wk")


def lines_with_newlines(lines):
    return [line.replace("\\n", "\n") for line in lines]


def run_compare(seg, oracle, lines, hello3=False):
    diffs = compare(seg.port("resp"), oracle.port,
                    lines_with_newlines(lines), hello3=hello3)
    assert not diffs, "\n".join(f"{d[0]!r}:\n  redis {d[1]!r}\n  seg   {d[2]!r}"
                                for d in diffs)


def test_scripts_like_redis(seg, oracle):
    run_compare(seg, oracle, SCRIPTS)


def test_scripts_like_redis_resp3(seg, oracle):
    run_compare(seg, oracle, RESP3_SCRIPTS, hello3=True)


def test_evalsha_on_every_worker(seg):
    """SCRIPT LOAD on one connection, EVALSHA on others (both workers)."""
    cs = [client(seg) for _ in range(4)]
    sha = cs[0].script_load("return ARGV[1] .. '!'")
    for i, c in enumerate(cs):
        assert c.evalsha(sha, 0, str(i)) == f"{i}!".encode()
    assert cs[3].script_exists(sha) == [True]
    cs[1].script_flush()
    for c in cs:
        with pytest.raises(redis.exceptions.NoScriptError):
            c.evalsha(sha, 0, "x")


def test_redis_py_lock(seg):
    r = client(seg)
    lock = r.lock("name", timeout=5)
    assert lock.acquire(blocking=False)
    assert r.get("name") == lock.local.token
    assert lock.extend(5)
    assert r.pttl("name") > 5000
    assert lock.reacquire()
    lock.release()
    assert r.get("name") is None
    with pytest.raises(redis.exceptions.LockError):
        lock.release()
    with r.lock("ctx", timeout=5):
        assert r.exists("ctx")
    assert not r.exists("ctx")


def test_redis_py_lock_contenders(seg):
    """Two contenders on different connections (the server spreads them
    over both workers) take a blocking lock in turn; the counter it guards
    is never lost."""
    r = client(seg)
    r.set("guarded", 0)
    rounds = 100 // SCALE

    def worker():
        c = client(seg)
        for _ in range(rounds):
            with c.lock("L", timeout=5, blocking_timeout=30, sleep=0.001):
                v = int(c.get("guarded"))
                c.set("guarded", v + 1)

    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    assert int(r.get("guarded")) == 2 * rounds


def test_register_script_token_bucket(seg):
    r = client(seg)
    bucket = r.register_script("""
local tokens = tonumber(redis.call('get', KEYS[1]) or ARGV[1])
if tokens <= 0 then return 0 end
redis.call('set', KEYS[1], tokens - 1)
return 1
""")
    r.delete("bucket")
    got = [bucket(keys=["bucket"], args=[5]) for _ in range(8)]
    assert got == [1, 1, 1, 1, 1, 0, 0, 0]
    r.script_flush()
    assert bucket(keys=["bucket2"], args=[1]) == 1  # loaded again


def test_pipeline_transaction_with_script(seg):
    r = client(seg)
    p = r.pipeline(transaction=True)
    p.set("pt", 1)
    p.eval("return redis.call('incr', KEYS[1])", 1, "pt")
    p.get("pt")
    assert p.execute() == [True, 2, b"2"]


def test_script_transfers_keep_the_sum(seg):
    """Scripts move amounts between counters while MULTI readers and
    script readers take the sum: it never changes."""
    keys = [f"sc:{i}" for i in range(100)]
    r = client(seg)
    r.mset({k: 1000 for k in keys})
    total = 100 * 1000
    move = """
local a = tonumber(redis.call('get', KEYS[1]))
local n = tonumber(ARGV[1])
redis.call('set', KEYS[1], a - n)
redis.call('incrby', KEYS[2], n)
return 1
"""
    sumscript = """
local s = 0
for _, v in ipairs(redis.call('mget', unpack(KEYS))) do s = s + tonumber(v) end
return s
"""
    transfers = 1000 // SCALE
    bad = []
    done = threading.Event()
    errors = []

    def writer(seed):
        try:
            rng = random.Random(seed)
            c = client(seg)
            mv = c.register_script(move)
            for _ in range(transfers):
                a, b = rng.sample(keys, 2)
                mv(keys=[a, b], args=[rng.randint(1, 9)])
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def reader(by_script):
        try:
            c = client(seg)
            sm = c.register_script(sumscript)
            n = 0
            while not done.is_set() or n < 3:
                if by_script:
                    s = sm(keys=keys)
                else:
                    p = c.pipeline(transaction=True)
                    p.mget(keys)
                    s = sum(int(v) for v in p.execute()[0])
                if s != total:
                    bad.append(s)
                n += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    rs = [threading.Thread(target=reader, args=(b,)) for b in (True, False)]
    ws = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    for t in rs + ws:
        t.start()
    for t in ws:
        t.join(timeout=300)
    done.set()
    for t in rs:
        t.join(timeout=300)
    assert not errors, errors
    assert not bad, bad[:5]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_script_garbage_is_collected(seg):
    """The collector is stepped once every 50 runs, not after each one
    (that step was 40% of a short EVALSHA): garbage still goes. 1,500
    scripts of 1 MB of strings each (1.5 GB made) leave the server's
    resident memory within 64 MiB of where it started."""
    r = client(seg)
    body = ("local t = {} for i = 1, 1000 do "
            "t[i] = string.rep('x', 1000) .. i end return #t")
    assert r.eval(body, 0) == 1000
    before = rss_kib(seg.pid)
    for _ in range(1500 // SCALE):
        assert r.eval(body, 0) == 1000
    assert rss_kib(seg.pid) - before < 64 * 1024
    r.close()


def test_undeclared_keys_still_work(seg):
    r = client(seg)
    assert r.eval("redis.call('set', 'u1', 'a'); "
                  "return redis.call('get', 'u1')", 0) == b"a"


def test_script_kill(fresh):
    """A script past busy-reply-threshold (5 s) that wrote nothing is
    killed by SCRIPT KILL from another connection; the other worker keeps
    serving meanwhile."""
    r = client(fresh)
    result = {}

    def busy():
        c = client(fresh)
        try:
            c.eval("local i = 0 while true do i = i + 1 end", 0)
        except redis.exceptions.ResponseError as e:
            result["err"] = str(e)

    t = threading.Thread(target=busy)
    t.start()
    time.sleep(0.5)
    with pytest.raises(redis.exceptions.ResponseError, match="NOTBUSY"):
        r.script_kill()
    deadline = time.time() + 30 * (5 if SANITIZED else 1)
    killed = False
    while time.time() < deadline and not killed:
        try:
            r.script_kill()
            killed = True
        except redis.exceptions.ResponseError as e:
            assert "NOTBUSY" in str(e)
            time.sleep(0.2)
    t.join(timeout=60)
    assert killed
    assert "Script killed by user with SCRIPT KILL" in result["err"]


# ---- FUNCTION DUMP / RESTORE / KILL, busy-reply-threshold ----

def crc64(data):
    """Redis's crc64 (Jones polynomial, reflected)."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x95ac9329ac4bc9b5 if crc & 1 else 0)
    return crc


def payload(body, version=10):
    """A FUNCTION RESTORE payload: body, RDB version, CRC-64."""
    d = body + version.to_bytes(2, "little")
    return d + crc64(d).to_bytes(8, "little")


def entry(code):
    """One library as Redis's RDB_OPCODE_FUNCTION2 and a plain string."""
    assert len(code) < 1 << 14
    n = len(code)
    head = bytes([n]) if n < 64 else bytes([0x40 | (n >> 8), n & 255])
    return b"\xf5" + head + code


LIB_A = (b"#!lua name=liba\nredis.register_function('fa', "
         b"function(keys, args) return 'a' end)")
LIB_A2 = (b"#!lua name=liba\nredis.register_function('fa', "
          b"function(keys, args) return 'a2' end)")
LIB_B = (b"#!lua name=libb\nredis.register_function{function_name='fb', "
         b"callback=function(keys, args) return 'b' end, "
         b"flags={'no-writes'}}")
LIB_C = (b"#!lua name=libc\nredis.register_function('fa', "
         b"function(keys, args) return 'c' end)")

RESTORES = [
    ("FUNCTION", "DUMP"),
    ("FUNCTION", "RESTORE", payload(b"")),
    ("FUNCTION", "RESTORE", payload(entry(LIB_A) + entry(LIB_B))),
    ("FCALL", "fa", "0"),
    ("FCALL_RO", "fb", "0"),
    ("FUNCTION", "RESTORE", payload(entry(LIB_A2))),
    ("FUNCTION", "RESTORE", payload(entry(LIB_A2)), "append"),
    ("FUNCTION", "RESTORE", payload(entry(LIB_A2)), "REPLACE"),
    ("FCALL", "fa", "0"),
    ("FUNCTION", "RESTORE", payload(entry(LIB_C)), "REPLACE"),
    ("FUNCTION", "RESTORE", payload(entry(LIB_C)), "FLUSH"),
    ("FCALL", "fa", "0"),
    ("FCALL", "fb", "0"),
    ("FUNCTION", "LIST"),
    ("FUNCTION", "RESTORE", payload(entry(LIB_A) + entry(LIB_A)), "FLUSH"),
    ("FUNCTION", "RESTORE", payload(entry(LIB_A) + entry(LIB_C)), "FLUSH"),
    ("FUNCTION", "RESTORE", payload(b"\x00\x03abc")),
    ("FUNCTION", "RESTORE", payload(b"\xf5\x30abc")),
    ("FUNCTION", "RESTORE", payload(b"\xf5\xc0\x05")),
    ("FUNCTION", "RESTORE", payload(entry(b"return 1"))),
    ("FUNCTION", "RESTORE", payload(entry(b"#!lua name=x\nreturn 1"))),
    ("FUNCTION", "RESTORE", payload(entry(b"#!lua name=x\nlocal a = ("))),
    ("FUNCTION", "RESTORE", payload(entry(LIB_A), version=11)),
    ("FUNCTION", "RESTORE", payload(entry(LIB_A))[:-1] + b"\x00"),
    ("FUNCTION", "RESTORE", b""),
    ("FUNCTION", "RESTORE", b"123456789"),
    ("FUNCTION", "RESTORE", b"x", "bogus"),
    ("FUNCTION", "RESTORE", payload(b""), "APPEND", "x"),
    ("FUNCTION", "RESTORE"),
    ("FUNCTION", "DUMP", "x"),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "KILL", "x"),
    ("FCALL", "fc", "0"),
    ("FUNCTION", "RESTORE", payload(b""), "FLUSH"),
    ("FUNCTION", "LIST"),
    ("FUNCTION", "DUMP"),
]


def test_function_restore_like_redis(seg, oracle):
    """FUNCTION RESTORE's policies, refusals and errors, byte for byte."""
    a, b = Wire(oracle.port), Wire(seg.port("resp"))
    diffs = []
    for c in (a, b):
        assert c.cmd("FUNCTION", "FLUSH") == b"+OK\r\n"
    for args in RESTORES:
        ra, rb = a.cmd(*args), b.cmd(*args)
        if ra != rb:
            diffs.append((args, ra, rb))
    a.close()
    b.close()
    assert not diffs, "\n".join(f"{d[0]!r}:\n  redis {d[1]!r}\n  seg   {d[2]!r}"
                                for d in diffs)


def test_function_dump_both_ways(seg, oracle):
    """What segcached dumps real Redis restores, and the reverse (Redis
    compresses with LZF): the libraries and their functions arrive."""
    rs, ro = client(seg), redis.Redis(port=oracle.port)
    for c in (rs, ro):
        c.function_flush()
    long_lib = (b"#!lua name=long\n" + b"-- padding padding padding\n" * 40 +
                b"redis.register_function('fl', function(keys, args) "
                b"return #args end)")
    for code in (LIB_A, LIB_B, long_lib):
        rs.function_load(code.decode())
    dumped = rs.function_dump()
    assert ro.execute_command("FUNCTION", "RESTORE", dumped) == b"OK"
    assert ro.fcall("fa", 0) == b"a"
    assert ro.fcall_ro("fb", 0) == b"b"
    assert ro.fcall("fl", 0, "x", "y") == 2
    from_redis = ro.function_dump()
    assert from_redis != dumped  # Redis compresses: another encoding
    assert rs.execute_command("FUNCTION", "RESTORE", from_redis,
                              "FLUSH") == b"OK"
    assert rs.fcall("fa", 0) == b"a"
    assert rs.fcall_ro("fb", 0) == b"b"
    assert rs.fcall("fl", 0, "x", "y", "z") == 3
    assert len(rs.function_list()) == len(ro.function_list()) == 3
    # every worker runs the restored functions
    cs = [client(seg) for _ in range(4)]
    assert [c.fcall("fa", 0) for c in cs] == [b"a"] * 4
    for c in (rs, ro):
        c.function_flush()


@pytest.mark.skipif(shutil.which("redis-cli") is None,
                    reason="redis-cli is not installed")
def test_redis_cli_eval_as_redis(seg, oracle, tmp_path):
    """redis-cli --eval FILE keys , args: the same output from segcached
    and from redis-server 7.0.15, a script error's included."""
    scripts = {
        "incr.lua": "redis.call('set', KEYS[1], ARGV[1]) "
                    "return {redis.call('incrby', KEYS[1], ARGV[2]), "
                    "KEYS[2], ARGV[1]}",
        "err.lua": "return redis.call('incr', KEYS[1])",
        "nil.lua": "return redis.call('get', 'cli:none')",
    }
    for name, body in scripts.items():
        (tmp_path / name).write_text(body + "\n")
    runs = [["incr.lua", "cli:a", "cli:b", ",", "40", "2"],
            ["err.lua", "cli:s", ","],
            ["nil.lua"]]
    for port in (seg.port("resp"), oracle.port):
        Wire(port).cmd("SET", "cli:s", "text")
    for run in runs:
        out = []
        for port in (oracle.port, seg.port("resp")):
            r = subprocess.run(
                [shutil.which("redis-cli"), "-p", str(port), "--eval",
                 str(tmp_path / run[0])] + run[1:],
                capture_output=True, text=True, timeout=30)
            out.append((r.returncode, r.stdout, r.stderr))
        assert out[0] == out[1], (run, out)
        if run[0] == "incr.lua":  # the script ran: 40 + 2
            assert out[1][1].splitlines()[0].endswith("42"), out[1]


@pytest.fixture
def fresh():
    """A server of two workers with no connection yet: of the next two
    connections (least connections first) each gets its own worker, so the
    one that waits on a busy script is not on the worker running it."""
    s = Server(protocols=("resp",), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


def busy_exchange(port, spin, cmds, setup=(), poll=False):
    """Runs setup, then starts `spin` (a command that loops) on a second
    connection with busy-reply-threshold at 100 ms, then sends cmds from
    the first: their replies and the spinning command's. cmds[0] must not
    stop the script; with poll it is repeated while it answers NOTBUSY
    (segcached answers at once before the threshold; Redis after it)."""
    k = Wire(port)
    for c in setup:
        k.cmd(*c)
    assert k.cmd("CONFIG", "SET", "busy-reply-threshold", "100") == b"+OK\r\n"
    s = Wire(port)
    s.send(enc(spin))
    time.sleep(0.3)
    deadline = time.time() + 20 * (5 if SANITIZED else 1)
    first = k.cmd(*cmds[0])
    while poll and first.startswith(b"-NOTBUSY") and time.time() < deadline:
        time.sleep(0.1)
        first = k.cmd(*cmds[0])
    out = [first] + [k.cmd(*c) for c in cmds[1:]] + [s.reply()]
    assert k.cmd("CONFIG", "SET", "busy-reply-threshold", "5000") == \
        b"+OK\r\n"
    k.close()
    s.close()
    return out


SPIN_LIB = ("#!lua name=spinlib\nredis.register_function('spin', "
            "function(keys, args) while true do end end)")


@pytest.mark.parametrize("case", ["function", "eval"])
def test_kill_like_redis(fresh, oracle, case):
    """A busy function: SCRIPT KILL answers BUSY naming FUNCTION KILL,
    FUNCTION KILL stops it; a busy EVAL the other way round. Replies
    byte for byte as Redis's."""
    if case == "function":
        spin = ("FCALL", "spin", "0")
        kills = (("SCRIPT", "KILL"), ("FUNCTION", "KILL"))
    else:
        spin = ("EVAL", "while true do end", "0")
        kills = (("FUNCTION", "KILL"), ("SCRIPT", "KILL"))
    got = {}
    for name, port in (("redis", oracle.port), ("seg", fresh.port("resp"))):
        got[name] = busy_exchange(
            port, spin, kills,
            setup=[("FUNCTION", "LOAD", "REPLACE", SPIN_LIB)],
            poll=name == "seg")
    assert got["seg"] == got["redis"]
    assert got["seg"][1] == b"+OK\r\n"


def test_busy_script_serves_its_own_worker_like_redis(oracle):
    """With one worker every connection shares the busy script's worker:
    it keeps answering them as Redis does (BUSY, MULTI and DISCARD
    allowed), and SCRIPT KILL from one of them stops the script. Before,
    nothing was read until the script ended: a runaway script on a
    one-worker server could not be killed."""
    one = Server(protocols=("resp",), threads=1)
    try:
        got = {}
        for name, port in (("redis", oracle.port), ("seg", one.port("resp"))):
            got[name] = busy_exchange(
                port, ("EVAL", "while true do end", "0"),
                [("PING",), ("GET", "x"), ("MULTI",), ("SET", "a", "b"),
                 ("DISCARD",), ("SCRIPT", "KILL")])
        assert got["seg"] == got["redis"]
        assert got["seg"][0].startswith(b"-BUSY Redis is busy running")
        assert got["seg"][5] == b"+OK\r\n"
        k = Wire(one.port("resp"))
        assert k.cmd("PING") == b"+PONG\r\n"
        k.close()
    finally:
        assert one.stop() == 0


def outcome(c, *args):
    """A command's reply through redis-py, or its error's text."""
    try:
        return ("ok", c.execute_command(*args))
    except redis.exceptions.ResponseError as e:
        return ("err", str(e))


def clients_by_worker(s, n=4):
    """n redis-py clients of one connection each, grouped by the worker
    serving them (the admin port's `clients` says which)."""
    cs = [redis.Redis(host="127.0.0.1", port=s.port("resp"),
                      single_connection_client=True, socket_timeout=60)
          for _ in range(n)]
    ids = {c.client_id(): c for c in cs}
    rows = re.findall(r"client id=(\d+) .*?worker=(\d+)", s.admin("clients"))
    by = {}
    for cid, worker in rows:
        if int(cid) in ids:
            by.setdefault(int(worker), []).append(ids[int(cid)])
    return by


def busy_same_worker(k, spinner, spin, kills):
    """spin runs on spinner (a thread); k, on the same worker, sends PING,
    GET, SET, then the two kills (the first must not stop the script):
    every outcome, and the spinning command's."""
    assert k.config_set("busy-reply-threshold", 100)
    got = {}

    def run():
        got["spin"] = outcome(spinner, *spin)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    deadline = time.time() + 20 * (5 if SANITIZED else 1)
    first = outcome(k, "PING")
    while first == ("ok", True) and time.time() < deadline:
        time.sleep(0.1)  # the script has not started yet
        first = outcome(k, "PING")
    out = [first] + [outcome(k, *c) for c in
                     (("GET", "sw"), ("SET", "sw", "1"), kills[0], kills[1])]
    t.join(timeout=60)
    out.append(got["spin"])
    assert k.config_set("busy-reply-threshold", 5000)
    return out


@pytest.mark.parametrize("case", ["eval", "function"])
def test_busy_script_same_worker_two_workers(fresh, oracle, case):
    """Two redis-py connections forced onto one worker of two: while one
    runs a busy script, the other is answered as Redis answers it (BUSY,
    the wrong kill's BUSY, then the right kill stops the script), replies
    the same as redis-server 7.0.15's; a connection of the other worker
    meanwhile reads another key (where segcached differs from Redis)."""
    if case == "function":
        spin = ("FCALL", "spin", "0")
        kills = (("SCRIPT", "KILL"), ("FUNCTION", "KILL"))
    else:
        spin = ("EVAL", "while true do end", "0")
        kills = (("FUNCTION", "KILL"), ("SCRIPT", "KILL"))
    by = clients_by_worker(fresh)
    pair = next(cs for cs in by.values() if len(cs) >= 2)
    elsewhere = next(cs[0] for cs in by.values() if cs[0] not in pair)
    k, spinner = pair[0], pair[1]
    k.function_load(SPIN_LIB, replace=True)
    k.set("free", "yes")
    seen = {}

    def other_worker():
        time.sleep(1.0)  # the script is busy by then
        seen["free"] = elsewhere.get("free")

    t = threading.Thread(target=other_worker)
    t.start()
    seg = busy_same_worker(k, spinner, spin, kills)
    t.join(timeout=60)
    assert seen["free"] == b"yes"

    rk = redis.Redis(port=oracle.port, single_connection_client=True)
    rs = redis.Redis(port=oracle.port, single_connection_client=True)
    rk.function_load(SPIN_LIB, replace=True)
    want = busy_same_worker(rk, rs, spin, kills)
    assert seg == want, (seg, want)
    assert seg[0][1].startswith("BUSY Redis is busy running a script")
    assert seg[4] == ("ok", b"OK")
    assert "Script killed by user" in seg[5][1]
    assert k.ping() and spinner.ping()
    for c in [c for cs in by.values() for c in cs] + [rk, rs]:
        c.close()


def test_function_kill_unkillable(fresh):
    """A busy function that wrote: FUNCTION KILL and SCRIPT KILL answer
    UNKILLABLE (Redis's text); it ends on its own after ARGV[1] seconds by
    TIME. (It cannot be told to stop through a key: every key it reads is
    its own until it ends, as in Redis, where no other client runs.)"""
    wspin = ("#!lua name=wspin\nredis.register_function('wspin', "
             "function(keys, args) redis.call('set', keys[1], '1') "
             "local t0 = tonumber(redis.call('time')[1]) "
             "while tonumber(redis.call('time')[1]) - t0 < "
             "tonumber(args[1]) do end return 'done' end)")
    unkillable = (b"-UNKILLABLE Sorry the script already executed write "
                  b"commands against the dataset. You can either wait the "
                  b"script termination or kill the server in a hard way "
                  b"using the SHUTDOWN NOSAVE command.\r\n")
    k = Wire(fresh.port("resp"))
    assert k.cmd("FUNCTION", "LOAD", wspin) == b"$5\r\nwspin\r\n"
    assert k.cmd("CONFIG", "SET", "lua-time-limit", "100") == b"+OK\r\n"
    assert k.cmd("CONFIG", "GET", "busy-reply-threshold") == \
        b"*2\r\n$20\r\nbusy-reply-threshold\r\n$3\r\n100\r\n"
    s = Wire(fresh.port("resp"))
    s.send(enc(("FCALL", "wspin", "1", "wk:u",
                str(3 * (5 if SANITIZED else 1)))))
    deadline = time.time() + 20 * (5 if SANITIZED else 1)
    first = k.cmd("FUNCTION", "KILL")
    while first.startswith(b"-NOTBUSY") and time.time() < deadline:
        time.sleep(0.1)
        first = k.cmd("FUNCTION", "KILL")
    assert first == unkillable
    assert k.cmd("SCRIPT", "KILL") == unkillable
    assert k.cmd("GET", "wk:u").startswith(b"-BUSY ")
    assert s.reply() == b"$4\r\ndone\r\n"
    assert k.cmd("FUNCTION", "KILL") == \
        b"-NOTBUSY No scripts in execution right now.\r\n"
    assert k.cmd("CONFIG", "SET", "busy-reply-threshold", "5000") == \
        b"+OK\r\n"
    k.close()
    s.close()


def test_busy_threshold_config_like_redis(seg, oracle):
    run_compare(seg, oracle, [
        "CONFIG SET busy-reply-threshold 1234",
        "CONFIG GET busy-reply-threshold",
        "CONFIG GET lua-time-limit",
        "CONFIG SET lua-time-limit 4321",
        "CONFIG GET busy-reply-threshold",
        "CONFIG SET busy-reply-threshold -1",
        "CONFIG SET busy-reply-threshold abc",
        "CONFIG SET busy-reply-threshold 5000",
        "CONFIG GET lua-time-limit",
    ])


def test_busy_threshold_option():
    """resp.busy_reply_threshold from the command line is what CONFIG GET
    shows."""
    s = Server(args=("-o", "resp.busy_reply_threshold=250ms"),
               protocols=("resp",), threads=1)
    try:
        w = Wire(s.port("resp"))
        assert w.cmd("CONFIG", "GET", "lua-time-limit") == \
            b"*2\r\n$14\r\nlua-time-limit\r\n$3\r\n250\r\n"
        w.close()
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("case", ["function", "eval", "undeclared"])
def test_busy_keys_like_redis(fresh, oracle, case):
    """Past busy-reply-threshold, a command on a key of the busy script
    (from another worker) answers Redis's BUSY instead of waiting; the
    kill still reaches the script; then the key serves again. A key the
    script read without declaring it is one of its keys from then on
    (kept until it ends), so it answers BUSY too."""
    if case == "function":
        spin = ("FCALL", "spin", "1", "bk")
        cmds = [("SCRIPT", "KILL"), ("GET", "bk"), ("SET", "bk", "1"),
                ("FUNCTION", "KILL")]
    elif case == "undeclared":
        spin = ("EVAL", "redis.call('get', 'bk') while true do end", "0")
        cmds = [("FUNCTION", "KILL"), ("GET", "bk"), ("SET", "bk", "1"),
                ("SCRIPT", "KILL")]
    else:
        spin = ("EVAL", "while true do end", "1", "bk")
        cmds = [("FUNCTION", "KILL"), ("GET", "bk"), ("SET", "bk", "1"),
                ("SCRIPT", "KILL")]
    got = {}
    for name, port in (("redis", oracle.port), ("seg", fresh.port("resp"))):
        got[name] = busy_exchange(
            port, spin, cmds,
            setup=[("FUNCTION", "LOAD", "REPLACE", SPIN_LIB),
                   ("SET", "bk", "v")],
            poll=name == "seg")
    assert got["seg"] == got["redis"]
    assert got["seg"][1].startswith(b"-BUSY ")
    w = Wire(fresh.port("resp"))
    assert w.cmd("GET", "bk") == b"$1\r\nv\r\n"
    w.close()


class Incrs:
    """INCRs of key on wire from a thread: n of them, or until join(stop=
    True); join() returns what went wrong (a reply that is not a number)."""

    def __init__(self, wire, key, n=None):
        self.errors, self.stop = [], threading.Event()
        self.t = threading.Thread(target=self.run, args=(wire, key, n))
        self.t.start()

    def run(self, wire, key, n):
        try:
            done = 0
            while (n is None or done < n) and not self.stop.is_set():
                reply = wire.cmd("INCR", key)
                assert reply.startswith(b":"), reply
                done += 1
        except Exception as e:  # noqa: BLE001 (returned by join)
            self.errors.append(e)

    def join(self, stop=False):
        if stop:
            self.stop.set()
        self.t.join(timeout=300)
        return self.errors


def test_undeclared_key_is_kept_until_the_script_ends(fresh):
    """A script that reads a key it did not declare, works a while, then
    writes the key: an INCR of that key from another worker waits for the
    script instead of landing in between and being lost. Before, the
    undeclared key's stripe was let go after each command of the script
    (the GET), so INCRs were lost."""
    k, other = Wire(fresh.port("resp")), Wire(fresh.port("resp"))
    body = ("local v = tonumber(redis.call('get', 'lu') or '0') "
            "local x = 0 for i = 1, 20000 do x = x + i end "
            "redis.call('set', 'lu', v + 1) return x")
    sha = k.cmd("SCRIPT", "LOAD", body)[5:-2].decode()
    n = 400 // SCALE
    incrs = Incrs(other, "lu", n)
    for _ in range(n):
        assert k.cmd("EVALSHA", sha, "0") == b":200010000\r\n"
    errors = incrs.join()
    assert not errors, errors
    assert k.cmd("GET", "lu") == b"$%d\r\n%d\r\n" % (
        len(str(2 * n)), 2 * n)
    k.close()
    other.close()


def test_undeclared_keys_stay_held_until_exec_ends(fresh):
    """A transaction of three scripts that declare no keys: the first and
    the last add 1 to an undeclared key, the middle one only works a while.
    INCRs of that key from another worker must come before or after the
    whole EXEC, so the last script reads what the first wrote. Before, a
    script in EXEC let its undeclared keys go when it ended, and INCRs
    landed between the two."""
    k, other = Wire(fresh.port("resp")), Wire(fresh.port("resp"))
    bump = k.cmd("SCRIPT", "LOAD",
                 "local v = tonumber(redis.call('get', 'xu') or '0') + 1 "
                 "redis.call('set', 'xu', v) return v")[5:-2].decode()
    spin = k.cmd("SCRIPT", "LOAD",
                 "local x = 0 for i = 1, 20000 do x = x + i end "
                 "return x")[5:-2].decode()
    n = 300 // SCALE
    incrs = Incrs(other, "xu")
    try:
        for _ in range(n):
            k.send(b"".join(enc(c) for c in (
                ("MULTI",), ("EVALSHA", bump, "0"), ("EVALSHA", spin, "0"),
                ("EVALSHA", bump, "0"), ("EXEC",))))
            replies = [k.reply() for _ in range(5)]
            assert replies[:4] == [b"+OK\r\n", b"+QUEUED\r\n",
                                   b"+QUEUED\r\n", b"+QUEUED\r\n"], replies
            lines = replies[4].split(b"\r\n")
            assert lines[0] == b"*3" and lines[2] == b":200010000", replies[4]
            first, last = int(lines[1][1:]), int(lines[3][1:])
            assert last == first + 1, replies[4]
    finally:
        errors = incrs.join(stop=True)
    assert not errors, errors
    k.close()
    other.close()


def test_busy_script_other_keys_go_on(fresh):
    """Where segcached differs from Redis: a command on another key, on
    another worker, is served while a script is busy."""
    got = busy_exchange(fresh.port("resp"), ("FCALL", "spin", "1", "bk2"),
                        [("SCRIPT", "KILL"), ("GET", "free"),
                         ("FUNCTION", "KILL")],
                        setup=[("FUNCTION", "LOAD", "REPLACE", SPIN_LIB),
                               ("SET", "free", "yes")], poll=True)
    assert got[1] == b"$3\r\nyes\r\n"
    assert got[2] == b"+OK\r\n"

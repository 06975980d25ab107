# SPDX-License-Identifier: Apache-2.0
"""Lua scripting (issue 17): EVAL, EVALSHA, their _RO forms and SCRIPT,
compared byte for byte with a real redis-server 7.0.15 (RESP2 and RESP3),
redis-py's Lock and register_script end to end, scripts atomic across
workers, and SCRIPT KILL of a busy script.

Known differences (docs/protocol-resp.md "Scripting"): no FUNCTION DUMP,
RESTORE or KILL, no cmsgpack or struct libraries; library tables other than redis (string,
math ...) are not read-only."""
import hashlib
import random
import shlex
import socket
import threading
import time

import pytest
import redis

from conftest import SANITIZED, Server
from test_resp import REDIS_SERVER, NO_REDIS, RedisServer, Wire, compare

SCALE = 10 if SANITIZED else 1


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


def test_undeclared_keys_still_work(seg):
    r = client(seg)
    assert r.eval("redis.call('set', 'u1', 'a'); "
                  "return redis.call('get', 'u1')", 0) == b"a"


def test_script_kill(seg):
    """A script past busy-reply-threshold (5 s) that wrote nothing is
    killed by SCRIPT KILL from another connection; the other worker keeps
    serving meanwhile."""
    r = client(seg)
    result = {}

    def busy():
        c = client(seg)
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

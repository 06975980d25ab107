# SPDX-License-Identifier: Apache-2.0
"""memcache values larger than one item (issue 18): `-I SIZE`.

memcached's -I forms (bytes, 1024k, 8m) set memcache.item_size_max; its
startup errors (under 1024 bytes, over half of -m, over 1 GB) are refused
with memcached 1.6.18's words and exit code. With -I 8m, pymemcache and
pylibmc (text and binary) round-trip values past the 1 MiB segment, kept in
parts: a text storage command's value streams into its parts as it
arrives. Replies to a script of large sets, appends, meta commands and a
value past -I are compared byte for byte with memcached 1.6.18 -I 8m.
"""
import os
import socket
import subprocess

import pytest

from conftest import BIN, Server, recv_exact
from memcache_wire import MEMCACHED, Memcached, Wire

MiB = 1024 * 1024
NO_MEMCACHED = "memcached is not installed (scripts/setup.sh installs it)"


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("memcache",), threads=2, args=["-I", "8m"])
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


def test_pymemcache_round_trip_4mb(seg):
    pymemcache = pytest.importorskip("pymemcache.client.base")
    c = pymemcache.Client(("127.0.0.1", seg.port("memcache")), timeout=60)
    v = os.urandom(4 * MiB)
    assert c.set("pm", v)
    assert c.get("pm") == v
    value, cas = c.gets("pm")
    assert value == v
    assert c.cas("pm", v[::-1], cas)
    assert c.get("pm") == v[::-1]
    assert c.cas("pm", v, cas) is False  # the value changed since
    assert c.delete("pm")
    assert c.get("pm") is None
    c.close()


@pytest.mark.parametrize("binary", [False, True])
def test_pylibmc_round_trip_4mb(seg, binary):
    pylibmc = pytest.importorskip("pylibmc")
    m = pylibmc.Client([f"127.0.0.1:{seg.port('memcache')}"], binary=binary)
    v = os.urandom(4 * MiB)
    key = f"pl{int(binary)}"
    assert m.set(key, v)
    assert m.get(key) == v
    big = os.urandom(8 * MiB - 4096)
    assert m.set(key, big)
    assert m.get(key) == big
    assert m.delete(key)
    assert m.get(key) is None
    m.disconnect_all()


def script():
    a = b"a" * (3 * MiB + 5)
    b = b"b" * (5 * MiB)
    return [
        b"set big 7 0 %d\r\n" % len(a) + a + b"\r\n",
        b"get big\r\n",
        b"append big 0 0 3\r\nxyz\r\n",
        b"prepend big 0 0 2\r\n<<\r\n",
        b"get big\r\n",
        b"append big 0 0 %d\r\n" % len(b) + b + b"\r\n",  # past -I
        b"get big\r\n",
        b"set over 0 0 %d\r\n" % (8 * MiB + 1) + b"o" * (8 * MiB + 1) +
        b"\r\n",
        b"get over\r\n",
        b"add big 0 0 4\r\nnope\r\n",
        b"ms meta %d F5 T0\r\n" % len(b) + b + b"\r\n",
        b"mg meta v f s\r\n",
        b"replace big 1 0 %d\r\n" % len(b) + b + b"\r\n",
        b"mg big f s\r\n",
        b"delete big\r\n",
        b"get big\r\n",
    ]


def oracle_answers(args, ask):
    """ask(port) run on a fresh memcached 1.6.18 with args, stopped after."""
    oracle = Memcached(args)
    try:
        return ask(oracle.port)
    finally:
        oracle.stop()


def as_memcached(ask, option):
    """ask(port) on memcached 1.6.18 -I 8m and on a fresh segcached -I 8m
    with option (-o), compared reply by reply; segcached's stats after."""
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    want = oracle_answers(["-I", "8m", "-m", "64"], ask)
    s = Server(protocols=("memcache",), threads=2,
               args=["-I", "8m", "-o", option])
    try:
        before = s.stats()
        got = ask(s.port("memcache"))
        st = s.stats()
    finally:
        assert s.stop() == 0
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, (i, g[:80], w[:80])
    assert len(got) == len(want)
    return {k: v - before.get(k, 0) if isinstance(v, int) else v
            for k, v in st.items()}


def replies(port):
    out = []
    with Wire(port, timeout=120) as w:
        for cmd in script():
            out.append(w.talk(cmd))
    return out


def test_script_as_memcached(seg):
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    want = oracle_answers(["-I", "8m", "-m", "64"], replies)
    got = replies(seg.port("memcache"))
    for cmd, w, g in zip(script(), want, got):
        assert g == w, (cmd[:40], g[:80], w[:80])


def boundary_script():
    base = 2 * MiB
    out = []
    for key, flags, d in [(b"k", 0, 59), (b"k", 0, 60), (b"kk", 0, 60),
                          (b"kk", 0, 61), (b"k", 5, 63), (b"k", 5, 64)]:
        n = base - d
        out.append(b"set %s %d 0 %d\r\n" % (key, flags, n) + b"x" * n +
                   b"\r\n")
        out.append(b"mg %s s f\r\n" % key)
    return out


def test_item_size_boundary_as_memcached():
    # the largest value is memcached's: key, value and its item header
    # within -I (2 MiB here: past the segment, so kept in parts)
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    oracle = Memcached(["-I", "2m"])
    try:
        with Wire(oracle.port, timeout=60) as w:
            want = [w.talk(c) for c in boundary_script()]
    finally:
        oracle.stop()
    s = Server(protocols=("memcache",), threads=1, args=["-I", "2m"])
    try:
        with Wire(s.port("memcache"), timeout=60) as w:
            got = [w.talk(c) for c in boundary_script()]
    finally:
        assert s.stop() == 0
    assert got == want


@pytest.mark.parametrize("args", [["-I", "100"], ["-I", "1023"],
                                  ["-I", "40m"], ["-I", "33m", "-m", "64"],
                                  ["-I", "3m", "-m", "4"],
                                  ["-I", "1025m", "-m", "4096"]])
def test_startup_refusals_as_memcached(args):
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    # memcached's own message for the same flags
    mc = subprocess.run([MEMCACHED, "-u", "nobody", "-p", "0", "-U", "0"] +
                        args, capture_output=True, timeout=10)
    assert mc.returncode == 64
    words = mc.stderr.decode().strip()
    seg = subprocess.run([BIN, "-u", "nobody", "--check-config"] + args,
                         capture_output=True, timeout=10)
    assert seg.returncode == 64
    assert words in seg.stderr.decode(), (words, seg.stderr)
    assert "memcache.item_size_max" in seg.stderr.decode()


@pytest.mark.parametrize("arg", ["8m", "8M", "8192k", "8388608"])
def test_size_forms(arg):
    s = Server(protocols=("memcache",), threads=1, args=["-I", arg])
    try:
        with Wire(s.port("memcache")) as w:
            st = w.talk(b"stats settings\r\n")
        assert b"STAT item_size_max 8388608\r\n" in st
    finally:
        assert s.stop() == 0


def test_default_keeps_one_item(seg):
    # without -I past the item size, a value past one item is refused as
    # memcached -I 1m refuses it
    s = Server(protocols=("memcache",), threads=1)
    try:
        with Wire(s.port("memcache")) as w:
            v = b"d" * MiB
            assert w.talk(b"set d 0 0 %d\r\n" % len(v) + v + b"\r\n") == \
                b"SERVER_ERROR object too large for cache\r\n"
    finally:
        assert s.stop() == 0


def bin_set(key, value):
    """A binary-protocol SET request (flags 0, no expiry)."""
    extras = bytes(8)
    body = len(extras) + len(key) + len(value)
    head = bytes([0x80, 0x01]) + len(key).to_bytes(2, "big") + \
        bytes([len(extras), 0, 0, 0]) + body.to_bytes(4, "big") + bytes(12)
    return head + extras + key + value


def test_issue_18_large_values_past_a_small_read_buffer():
    """-I 8m alone carries values past worker.rbuf_max, which is no longer
    raised at startup (it was, silently, to -I + 64 KiB): a text set streams
    into the store, so do a meta set (test_meta_set_streamed_as_memcached)
    and a binary set (test_binary_set_streamed_as_memcached), an append is
    received whole past it (memcache.item_size_max bounds them, not worker.rbuf_max)."""
    s = Server(protocols=("memcache",), threads=1,
               args=["-I", "8m", "-o", "worker.rbuf_max=64KiB"])
    try:
        v = os.urandom(3 * MiB)
        with Wire(s.port("memcache"), timeout=60) as w:
            assert w.talk(b"set t 0 0 %d\r\n" % len(v) + v + b"\r\n") == \
                b"STORED\r\n"
            assert w.talk(b"ms m %d T0\r\n" % len(v) + v + b"\r\n") == \
                b"HD\r\n"
            assert w.talk(b"append t 0 0 %d\r\n" % MiB + v[:MiB] + b"\r\n") \
                == b"STORED\r\n"
            assert w.talk(b"mg m v\r\n") == \
                b"VA %d\r\n" % len(v) + v + b"\r\n"
            assert w.talk(b"get t\r\n") == b"VALUE t 0 %d\r\n" % (4 * MiB) + \
                v + v[:MiB] + b"\r\nEND\r\n"
        b = socket.create_connection(("127.0.0.1", s.port("memcache")),
                                     timeout=60)
        b.sendall(bin_set(b"b", v))
        head = recv_exact(b, 24)
        assert head[0] == 0x81 and head[6:8] == b"\x00\x00", head  # success
        recv_exact(b, int.from_bytes(head[8:12], "big"))
        b.close()
        with Wire(s.port("memcache"), timeout=60) as w:
            assert w.talk(b"get b\r\n") == b"VALUE b 0 %d\r\n" % len(v) + \
                v + b"\r\nEND\r\n"
    finally:
        assert s.stop() == 0
    assert "raised" not in s.stderr and "raised" not in s.log()


def ms_replies(port):
    """Meta sets of values past the read buffer (streamed into the store
    now), in each mode and with the flags their replies carry."""
    v = bytes(range(251)) * (3 * MiB // 251) + b"end"
    w2 = v[::-1]
    out = []
    with Wire(port, timeout=60) as w:
        for cmd in [
                b"ms a %d T0 F7 Oop1 k\r\n" % len(v) + v + b"\r\n",
                b"mg a v f s k\r\n",
                b"ms a %d ME Oadd\r\n" % len(v) + w2 + b"\r\n",  # NS
                b"ms b %d MR\r\n" % len(v) + w2 + b"\r\n",  # NS
                b"ms b %d ME F3 T100\r\n" % len(v) + w2 + b"\r\n",
                b"mg b v f\r\n",
                b"ms b %d MR q\r\n" % len(v) + v + b"\r\nmn\r\n",
                b"mg b s v\r\n",
                b"ms a %d C999999 Obad\r\n" % len(v) + w2 + b"\r\n",  # EX
                b"ms a %d C999999 ME\r\n" % len(v) + w2 + b"\r\n",  # NS
                b"ms YWJj %d b k\r\n" % len(v) + v + b"\r\n",  # key abc
                b"mg abc s\r\n",
                b"ms c %d S\r\n" % len(v) + v + b"\r\n",  # mode S
                b"ms c 2000000 T0\r\n" + v[:2000000] + b"XX",  # bad chunk
                b"mg c s\r\n",
                b"ms d %d MS Oq q\r\n" % len(v) + v + b"\r\nmn\r\n",
                b"mg d s v\r\n"]:
            out.append(w.talk(cmd))
    return out


def test_meta_set_streamed_as_memcached():
    """An ms value past the read buffer is received into the store in
    pieces, as a text set's is (it was received whole, into a read buffer
    as large as the value): set, add and replace modes, F, T, q, O, k, b,
    a CAS mismatch, a bad data chunk, answered byte for byte as memcached
    1.6.18 -I 8m answers them, with worker.rbuf_max at 64 KiB."""
    st = as_memcached(ms_replies, "worker.rbuf_max=64KiB")
    assert st["memcache_stream"] >= 9


def test_meta_set_value_not_held_in_the_read_buffer():
    """While an ms value of 6 MiB arrives, the connection holds about a
    read buffer's worth of it, not the value (worker_buf_bytes); a client
    that leaves mid-value stores nothing."""
    s = Server(protocols=("memcache",), threads=1, args=["-I", "8m"])
    try:
        n = 6 * MiB
        base = s.stats()["worker_buf_bytes"]
        with Wire(s.port("memcache"), timeout=60) as w:
            w.send(b"ms big %d T0\r\n" % n + b"x" * (n // 2))
            for _ in range(50):  # the half sent has been read
                if s.stats()["memcache_stream"] >= 1:
                    break
            held = s.stats()["worker_buf_bytes"] - base
            assert held < 2 * MiB, held
            w.send(b"x" * (n - n // 2) + b"\r\n")
            assert w.talk(b"") == b"HD\r\n"
            assert w.talk(b"mg big s\r\n") == b"HD s%d\r\n" % n
        with Wire(s.port("memcache"), timeout=60) as w:  # leaves mid-value
            w.send(b"ms big %d T0 Ogone k\r\n" % n + b"y" * (n // 3))
        with Wire(s.port("memcache"), timeout=60) as w:
            assert w.talk(b"mg big s v\r\n") == \
                b"VA %d s%d\r\n" % (n, n) + b"x" * n + b"\r\n"
    finally:
        assert s.stop() == 0  # under ASan: nothing the stream held leaks


@pytest.mark.parametrize("rbuf,size", [("64KiB", 900 * 1024),
                                       ("2MiB", 3 * MiB)])
def test_issue_18_more_streams_than_slots(rbuf, size):
    """Four values stream into reserved items at once; a fifth and sixth
    that the read buffer (worker.rbuf_max) cannot hold stream into parts
    (they once closed the connection)."""
    s = Server(protocols=("memcache",), threads=2,
               args=["-I", "8m", "-o", f"worker.rbuf_max={rbuf}"])
    try:
        vals = [os.urandom(size) for _ in range(6)]
        ws = [Wire(s.port("memcache"), timeout=60) for _ in vals]
        sent = s.stats()["worker_read_byte"]
        for i, (w, v) in enumerate(zip(ws, vals)):
            half = b"set k%d %d 0 %d\r\n" % (i, i, size) + v[:size // 2]
            w.send(half)
            sent += len(half)
            s.wait_stat("memcache_stream", lambda n, i=i: n >= i + 1)
        # every half is in: none waits whole in a read buffer
        s.wait_stat("worker_read_byte", lambda n: n >= sent)
        assert s.stats()["worker_buf_bytes"] < size // 2
        for w, v in zip(ws, vals):
            w.send(v[size // 2:] + b"\r\n")
        for w in ws:
            assert w.recv_until(b"\r\n") == b"STORED\r\n"
        for i, (w, v) in enumerate(zip(ws, vals)):
            assert w.talk(b"get k%d\r\n" % i) == \
                b"VALUE k%d %d %d\r\n" % (i, i, size) + v + b"\r\nEND\r\n"
            w.close()
    finally:
        assert s.stop() == 0


def expired_script():
    v = b"x" * (3 * MiB)
    return [b"set a 0 0 3\r\nabc\r\n",
            b"set a 0 -1 %d\r\n" % len(v) + v + b"\r\n",
            b"get a\r\n",
            b"ms b %d T-1\r\n" % len(v) + v + b"\r\n",
            b"mg b v\r\n"]


def test_issue_18_value_in_parts_expired_as_written_as_memcached(seg):
    """A value past one item whose expiry has passed (a negative exptime)
    is stored and gone, as memcached answers; its parts, expired as they
    were written, were taken for evicted ones (SERVER_ERROR out of memory,
    the old value kept)."""
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    oracle = Memcached(["-I", "8m"])
    try:
        with Wire(oracle.port, timeout=60) as w:
            want = [w.talk(c) for c in expired_script()]
    finally:
        oracle.stop()
    with Wire(seg.port("memcache"), timeout=60) as w:
        got = [w.talk(c) for c in expired_script()]
    assert got == want


def test_get_past_the_write_buffer_sent_in_pieces():
    """With -I 128m a get of an 80 MiB item, past worker.wbuf_max (64 MiB by
    default), is sent from the store's parts as the socket drains: it used
    to close the connection without a byte. A multi-key gets with the large
    value between small ones answers every key, in order, as memcached
    does; pymemcache round-trips it."""
    s = Server(protocols=("memcache",), threads=2,
               args=["-I", "128m", "-m", "512"])
    try:
        v = b"y" * (80 * MiB - 7) + b"lastend"
        w = Wire(s.port("memcache"))
        w.send(b"set big 5 0 %d\r\n" % len(v) + v + b"\r\n")
        assert w.recv_until(b"\r\n") == b"STORED\r\n"
        w.send(b"set small 1 0 3\r\nabc\r\n")
        assert w.recv_until(b"\r\n") == b"STORED\r\n"
        w.send(b"gets small big small nokey\r\nget small\r\n")
        end = b"END\r\nVALUE small 1 3\r\nabc\r\nEND\r\n"
        parts = []
        tail = b""
        while not tail.endswith(end):  # no rescans of 80 MiB
            chunk = w.sock.recv(1 << 20)
            assert chunk, "closed before the end"
            parts.append(chunk)
            tail = (tail + chunk)[-64:]
        out = b"".join(parts)
        heads = [line for line in out.split(b"\r\n")
                 if line.startswith(b"VALUE ")]
        assert [h.split(b" ")[:4] for h in heads] == [
            [b"VALUE", b"small", b"1", b"3"],
            [b"VALUE", b"big", b"5", b"%d" % len(v)],
            [b"VALUE", b"small", b"1", b"3"], [b"VALUE", b"small", b"1", b"3"]]
        at = out.index(b"VALUE big")
        body = out[out.index(b"\r\n", at) + 2:]
        assert body[:len(v)] == v and body[len(v):len(v) + 2] == b"\r\n"
        w.close()
        pymemcache = pytest.importorskip("pymemcache.client.base")
        c = pymemcache.Client(("127.0.0.1", s.port("memcache")), timeout=60)
        assert c.get("big") == v
        c.close()
        st = s.stats()
        assert st["memcache_get_stream"] == 2
        assert st["memcache_get_stream_byte"] == 2 * len(v)
    finally:
        assert s.stop() == 0


def bin_gat(key, exptime):
    """A binary-protocol GAT request."""
    extras = exptime.to_bytes(4, "big")
    body = len(extras) + len(key)
    head = bytes([0x80, 0x1d]) + len(key).to_bytes(2, "big") + \
        bytes([len(extras), 0, 0, 0]) + body.to_bytes(4, "big") + bytes(12)
    return head + extras + key


def touch_replies(port, size):
    v = bytes(range(251)) * (size // 251) + b"end"
    out = []
    with Wire(port, timeout=60) as w:
        for cmd in [b"set k 7 0 %d\r\n" % len(v) + v + b"\r\n",
                    b"gat 100 k\r\n", b"gat 100 k nokey k\r\n",
                    b"mg k T30 v f s t\r\n", b"touch k 200\r\n",
                    b"mg k v t\r\n", b"get k\r\n"]:
            out.append(w.talk(cmd))
    with Wire(port, timeout=60) as b:  # a connection is text or binary
        b.send(bin_gat(b"k", 300))
        head = b.recv_exact(24)
        body = b.recv_exact(int.from_bytes(head[8:12], "big"))
        out.append(head[:16] + body)  # not the CAS: the numbers differ
    with Wire(port, timeout=60) as w:
        out.append(w.talk(b"mg k t\r\n"))
    return out


@pytest.mark.parametrize("args,size", [((), 100_000),
                                       (("-I", "8m"), 3 * MiB + 5)])
def test_touch_of_a_value_in_parts_as_memcached(args, size):
    """gat, gats, binary GAT and mg with T of a value kept in parts (past a
    sixteenth of the largest item, so at the default -I a 100 KB value is
    one) answer with the value, as memcached 1.6.18: they sent an empty
    value with flags 0."""
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    want = oracle_answers(list(args) + ["-m", "64"],
                          lambda port: touch_replies(port, size))
    s = Server(protocols=("memcache",), threads=2, args=list(args))
    try:
        got = touch_replies(s.port("memcache"), size)
    finally:
        assert s.stop() == 0
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, (i, g[:60], w[:60])


def bin_get(opcode, key, exptime=None):
    """A binary-protocol GET/GETK (or GAT with exptime) request."""
    extras = b"" if exptime is None else exptime.to_bytes(4, "big")
    body = len(extras) + len(key)
    head = bytes([0x80, opcode]) + len(key).to_bytes(2, "big") + \
        bytes([len(extras), 0, 0, 0]) + body.to_bytes(4, "big") + bytes(12)
    return head + extras + key


def bin_store(op, key, value, flags=0, exptime=0, cas=0, opaque=0):
    """A binary SET (1), ADD (2), REPLACE (3) or a quiet one (0x11-0x13)."""
    extras = flags.to_bytes(4, "big") + exptime.to_bytes(4, "big")
    body = len(extras) + len(key) + len(value)
    head = bytes([0x80, op]) + len(key).to_bytes(2, "big") + \
        bytes([len(extras), 0, 0, 0]) + body.to_bytes(4, "big") + \
        opaque.to_bytes(4, "big") + cas.to_bytes(8, "big")
    return head + extras + key + value


def bin_replies(port):
    """Binary SET, ADD, REPLACE (loud and quiet) of values past the read
    buffer, each answer (header but the CAS, and body) then a GETK."""
    v = bytes(range(251)) * (3 * MiB // 251) + b"end"
    out = []
    with Wire(port, timeout=60) as b:
        for req in [bin_store(0x01, b"a", v, flags=7, opaque=11),
                    bin_store(0x02, b"a", v[::-1], opaque=12),  # EEXISTS
                    bin_store(0x03, b"b", v, opaque=13),  # ENOENT
                    bin_store(0x02, b"b", v[::-1], flags=3, opaque=14),
                    bin_store(0x03, b"b", v, exptime=100, opaque=15),
                    bin_store(0x01, b"a", v, cas=999999, opaque=16),
                    bin_store(0x11, b"c", v, flags=5, opaque=17),  # SETQ
                    bin_store(0x13, b"zz", v, opaque=18)]:  # REPLACEQ: miss
            b.send(req + bin_get(0x0c, b"a"))  # GETK answers after it
            while True:
                head = b.recv_exact(24)
                body = b.recv_exact(int.from_bytes(head[8:12], "big"))
                out.append(head[:16] + body)
                if head[1] == 0x0c:
                    break
        for key in (b"a", b"b", b"c"):
            b.send(bin_get(0x0c, key))
            head = b.recv_exact(24)
            out.append(head[:16] + b.recv_exact(
                int.from_bytes(head[8:12], "big")))
    return out


def test_binary_set_streamed_as_memcached():
    """A binary SET, ADD or REPLACE value past 64 KiB is received into the
    store in pieces, as a text set's is (it was received whole, into a
    read buffer as large as the value): loud and quiet, flags, expiry, a
    CAS mismatch, answered as memcached 1.6.18 -I 8m answers them byte for
    byte but for CAS values, with worker.rbuf_max at 64 KiB."""
    st = as_memcached(bin_replies, "worker.rbuf_max=64KiB")
    assert st["memcache_stream"] == 8


def test_binary_set_value_not_held_in_the_read_buffer():
    """While a binary SET of 6 MiB arrives the connection holds about a
    read buffer, not the value; a client that leaves mid-value stores
    nothing (and leaks nothing, under ASan)."""
    s = Server(protocols=("memcache",), threads=1, args=["-I", "8m"])
    try:
        n = 6 * MiB
        base = s.stats()["worker_buf_bytes"]
        req = bin_store(0x01, b"big", b"x" * n)
        with Wire(s.port("memcache"), timeout=60) as b:
            b.send(req[:n // 2])
            for _ in range(50):
                if s.stats()["memcache_stream"] >= 1:
                    break
            held = s.stats()["worker_buf_bytes"] - base
            assert held < 2 * MiB, held
            b.send(req[n // 2:])
            head = b.recv_exact(24)
            assert head[:8] == bytes([0x81, 0x01, 0, 0, 0, 0, 0, 0]), head
        with Wire(s.port("memcache"), timeout=60) as b:  # leaves mid-value
            b.send(bin_store(0x01, b"big", b"y" * n)[:n // 3])
        with Wire(s.port("memcache"), timeout=60) as w:
            assert w.talk(b"mg big s\r\n") == b"HD s%d\r\n" % n
    finally:
        assert s.stop() == 0


def past_wbuf_replies(port):
    v = bytes(range(251)) * (6 * MiB // 251) + b"end"
    out = []
    with Wire(port, timeout=60) as w:
        for cmd in [b"set big 9 0 %d\r\n" % len(v) + v + b"\r\n",
                    b"set small 1 0 3\r\nabc\r\n",
                    b"get small big small\r\n", b"gat 100 big\r\n",
                    b"mg big v f s t\r\n",
                    b"mg big v k q\r\nmg small v\r\nmn\r\n",
                    b"mg big s v T50\r\n", b"mg big t\r\n"]:
            out.append(w.talk(cmd))
    with Wire(port, timeout=60) as b:  # binary: GET, GETK, GAT, then GETQ
        for op, exp in [(0x00, None), (0x0c, None), (0x1d, 200),
                        (0x09, None)]:
            b.send(bin_get(op, b"big", exp) + bin_get(0x0c, b"small"))
            for _ in range(2):
                head = b.recv_exact(24)
                body = b.recv_exact(int.from_bytes(head[8:12], "big"))
                out.append(head[:16] + body)  # not the CAS
    return out


def test_reads_past_the_write_buffer_as_memcached():
    """gat, mg (hit, quiet, with T) and binary GET, GETK, GAT and GETQ of a
    value past worker.wbuf_max (4 MiB here; 64 MiB by default, which -I
    allows past) are sent in pieces (sendval.h), answered as memcached
    1.6.18 answers them byte for byte but for CAS values: mg and the
    binary gets closed the connection without a word."""
    st = as_memcached(past_wbuf_replies, "worker.wbuf_max=4MiB")
    assert st["memcache_get_stream"] >= 9

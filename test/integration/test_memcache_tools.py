# SPDX-License-Identifier: Apache-2.0
"""What memcached's own tools and operators rely on (issue 23), each compared
with a real memcached 1.6.18 where its exact behaviour is the contract:
- `stats`, `stats settings`, `stats items`, `stats slabs` carry every field
  memcached prints, in its order (segcached's own follow), with their
  meaning; memcached-tool's `display` shows the store as one class;
- `stats detail on|off|dump` counts per key prefix;
- `ms ... I C<older cas>` stores the value stale, and the stale-while-
  revalidate flags (W X Z) of `mg` follow;
- a line that looks like HTTP is hung up on without a reply;
- admin commands with bad arguments get memcached's exact reply;
- a connection over max_connections reads the peer's error line before the
  close (memcache and resp), and the refusals are counted and logged.
"""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import SLOW, Server
from memcache_wire import MEMCACHED, Memcached, Wire, canon, talk, to_close

NO_MEMCACHED = "memcached is not installed (scripts/setup.sh installs it)"
MEMCACHED_TOOL = "/usr/share/memcached/scripts/memcached-tool"


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("memcache",), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


@pytest.fixture(scope="module")
def peer():
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    m = Memcached()
    yield m
    m.stop()


@pytest.fixture
def fresh(server_factory):
    """A segcached and a memcached of their own: the tests below read
    process-wide counters."""
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    m = Memcached()
    yield server_factory(protocols=("memcache",)), m
    m.stop()


def port(srv):
    return srv.port("memcache") if isinstance(srv, Server) else srv.port


def same(seg, peer, data, ttl=False):
    ours = talk(port(seg), data)
    theirs = talk(port(peer), data)
    assert canon(ours, ttl) == canon(theirs, ttl), (
        f"\nsegcached: {ours[:2000]!r}\nmemcached: {theirs[:2000]!r}")
    return ours


def stat_lines(srv, group=b""):
    """[(name, value)] of `stats [group]`, in the order sent."""
    cmd = b"stats" + (b" " + group if group else b"") + b"\r\n"
    with Wire(port(srv)) as w:
        w.send(cmd)
        data = w.recv_until(b"END\r\n")
    out = []
    for line in data.decode().split("\r\n"):
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT":
            out.append((parts[1], parts[2]))
    return out


def stat_dict(srv, group=b""):
    return dict(stat_lines(srv, group))


# ---- stats: every field of memcached's, in its order ----

def test_stats_carry_every_memcached_field(fresh):
    seg, peer = fresh
    for srv in (seg, peer):
        talk(port(srv), b"set foo:123 0 0 1\r\na\r\n")
    for group in (b"", b"settings", b"items", b"slabs"):
        ours = [n for n, _ in stat_lines(seg, group)]
        theirs = [n for n, _ in stat_lines(peer, group)]
        # memcached's fields first, in its order; segcached's own after
        assert ours[:len(theirs)] == theirs, (group, ours, theirs)
        if group in (b"items", b"slabs"):
            assert ours == theirs, group


def test_stats_values_mean_what_memcached_means(server_factory):
    if MEMCACHED is None:
        pytest.skip(NO_MEMCACHED)
    # nothing reclaims expired items behind the readers' backs: the get
    # finds the item expired (get_expired) on both
    seg = server_factory(protocols=("memcache",),
                         args=("-o", "seg.background=false"))
    peer = Memcached(args=("-o", "no_lru_crawler,no_lru_maintainer"))
    try:
        check_stats_values(seg, peer)
    finally:
        peer.stop()


def check_stats_values(seg, peer):
    data = (b"set e 0 1 1\r\na\r\nset f 0 0 1\r\nb\r\nset g 0 0 1\r\nc\r\n"
            b"incr x 1\r\ndelete g\r\ntouch f 0\r\n")
    for srv in (seg, peer):
        talk(port(srv), data)
    time.sleep(2.2)  # e expires (memcached counts whole seconds)
    for srv in (seg, peer):
        talk(port(srv), b"get e\r\nflush_all\r\nget f\r\nget nokey\r\n"
             b"verbosity 1\r\n")
    ours, theirs = stat_dict(seg), stat_dict(peer)
    # get_flushed: segcached unlinks flushed items at the flush, so a
    # reader seldom finds one (memcached finds them lazily)
    for name in ("get_expired", "get_hits", "get_misses",
                 "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "touch_hits",
                 "delete_hits", "incr_misses",
                 "hash_is_expanding", "listen_disabled_num", "auth_cmds",
                 "accepting_conns", "pointer_size", "slab_reassign_running"):
        assert ours[name] == theirs[name], (name, ours[name], theirs[name])
    assert ours["get_expired"] == "1" and "get_flushed" in ours
    assert int(ours["hash_power_level"]) >= 10
    assert int(ours["hash_bytes"]) > 0
    assert int(ours["slab_global_page_pool"]) > 0  # free segments

    ours, theirs = stat_dict(seg, b"settings"), stat_dict(peer, b"settings")
    for name in ("maxbytes", "maxconns", "udpport", "inter", "verbosity",
                 "evictions", "domain_socket", "shutdown_command",
                 "stat_key_prefix", "detail_enabled", "cas_enabled",
                 "binding_protocol", "auth_enabled_sasl", "auth_enabled_ascii",
                 "item_size_max", "maxconns_fast", "flush_enabled",
                 "dump_enabled", "track_sizes", "ssl_enabled", "memory_file",
                 "idle_timeout", "tcp_backlog"):
        if name == "maxconns":
            assert ours[name] == "10000"  # segcached's default
            continue
        assert ours[name] == theirs[name], (name, ours[name], theirs[name])
    assert ours["tcpport"] == str(port(seg))
    assert ours["num_threads"] == "2"
    assert ours["slab_reassign"] == "no" and ours["lru_segmented"] == "no"


def test_stats_settings_follow_the_configuration(server_factory):
    srv = server_factory(protocols=("memcache",), threads=1,
                         args=("-o", "seg.evict=none", "-o",
                               "server.max_connections=77"))
    st = stat_dict(srv, b"settings")
    assert st["evictions"] == "off"
    assert st["maxconns"] == "77"
    assert st["num_threads"] == "1"
    assert st["eviction_policy"] == "none"


def test_stats_items_slabs_one_class(seg):
    talk(port(seg), b"".join(b"set one:%d 0 0 10\r\n0123456789\r\n" % i
                             for i in range(50)))
    items = stat_dict(seg, b"items")
    slabs = stat_dict(seg, b"slabs")
    assert int(items["items:1:number"]) >= 50
    assert int(slabs["1:used_chunks"]) >= 50
    assert int(slabs["1:total_pages"]) >= 1
    assert int(slabs["1:chunk_size"]) > 0
    assert int(slabs["1:total_chunks"]) >= int(slabs["1:used_chunks"])
    assert int(slabs["1:free_chunks"]) == (int(slabs["1:total_chunks"]) -
                                           int(slabs["1:used_chunks"]))
    assert slabs["active_slabs"] == "1"
    assert int(slabs["total_malloced"]) >= 1024 * 1024


def test_issue_23_empty_cache_lists_no_class(fresh):
    """Before its first item memcached lists no class: `stats items` is END
    alone, `stats slabs` only its totals; `stats extstore` without extstore
    is END (segcached listed class 1 with zeros and answered ERROR)."""
    seg, peer = fresh
    same(seg, peer, b"stats items\r\nstats slabs\r\nstats extstore\r\n")
    assert talk(port(seg), b"stats items\r\n") == b"END\r\n"
    # memcached-tool shows no row then, and one once an item is stored
    for srv in (seg, peer):
        talk(port(srv), b"set first 0 0 1\r\na\r\n")
    for group in (b"items", b"slabs"):
        assert ([n for n, _ in stat_lines(seg, group)] ==
                [n for n, _ in stat_lines(peer, group)]), group


def test_memcached_tool_display_shows_the_class(seg):
    perl = shutil.which("perl")
    if perl is None or not os.path.exists(MEMCACHED_TOOL):
        pytest.skip("memcached-tool needs memcached's scripts and perl")
    talk(port(seg), b"set tool:1 0 0 5\r\nhello\r\n")
    addr = f"127.0.0.1:{port(seg)}"
    out = subprocess.run([perl, MEMCACHED_TOOL, addr, "display"],
                         capture_output=True, text=True, timeout=30 * SLOW)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines()
            if re.match(r"\s+1\s+\d", line)]
    assert len(rows) == 1, out.stdout
    # #  Item_Size  Max_age   Pages   Count   Full?  Evicted Evict_Time OOM
    fields = rows[0].split()
    assert int(fields[3]) >= 1 and int(fields[4]) >= 1, out.stdout
    out = subprocess.run([perl, MEMCACHED_TOOL, addr, "settings"],
                         capture_output=True, text=True, timeout=30 * SLOW)
    assert "detail_enabled" in out.stdout and "domain_socket" in out.stdout


# ---- stats detail ----

def test_stats_detail_counts_per_prefix(fresh):
    seg, peer = fresh
    # the issue's example, byte for byte
    for srv in (seg, peer):
        assert talk(port(srv), b"stats detail on\r\nset foo:123 0 0 1\r\na\r\n"
                    b"stats detail dump\r\n") == (
            b"OK\r\nSTORED\r\nPREFIX foo get 0 hit 0 set 1 del 0\r\nEND\r\n")
    data = (b"get foo:123 foo:nope bar\r\ngets foo:123\r\ngat 0 foo:123\r\n"
            b"add foo:123 0 0 1\r\nb\r\nappend a:b:c 0 0 1\r\nb\r\n"
            b"delete foo:123\r\ndelete x:y\r\nincr foo:n 1\r\n"
            b"mg foo:123 v\r\nms foo:m 1\r\nm\r\nmd foo:m\r\n"
            b"set :empty 0 0 1\r\ne\r\n")
    same(seg, peer, data)
    ours = talk(port(seg), b"stats detail dump\r\n")
    theirs = talk(port(peer), b"stats detail dump\r\n")
    # memcached lists prefixes in its hash order; the set is the contract
    assert sorted(ours.split(b"\r\n")) == sorted(theirs.split(b"\r\n")), (
        ours, theirs)
    assert b"PREFIX foo get 4 hit 3 set 2 del 1\r\n" in ours
    # off: kept but no longer counted; settings tell
    same(seg, peer, b"stats detail off\r\nset foo:1 0 0 1\r\na\r\n")
    assert talk(port(seg), b"stats detail dump\r\n") == ours
    assert stat_dict(seg, b"settings")["detail_enabled"] == "no"
    talk(port(seg), b"stats detail on\r\n")
    assert stat_dict(seg, b"settings")["detail_enabled"] == "yes"
    # stats reset forgets them, as memcached's does
    same(seg, peer, b"stats reset\r\nstats detail dump\r\nstats detail x\r\n")


# ---- meta invalidation (stale-while-revalidate) ----

def cas_of(srv, key):
    reply = talk(port(srv), b"mg " + key + b" c\r\n")
    return int(re.search(rb" c(\d+)", reply).group(1))


def invalidation_run(srv):
    out = []
    p = port(srv)
    out.append(talk(p, b"ms sw 1 T100\r\na\r\nms sw 1 T100\r\nb\r\n"))
    cas = cas_of(srv, b"sw")
    # an older CAS: stored, marked stale, TTL kept; first reader wins
    out.append(talk(p, b"ms sw 1 I C%d\r\nc\r\n" % (cas - 1)))
    out.append(talk(p, b"mg sw v t c\r\nmg sw v\r\nmg sw s\r\n"))
    cas = cas_of(srv, b"sw")
    # a newer CAS is refused; the same CAS is a plain store (no longer stale)
    out.append(talk(p, b"ms sw 1 I C%d\r\nd\r\n" % (cas + 1000)))
    out.append(talk(p, b"ms sw 1 I C%d T50\r\ne\r\nmg sw v t\r\n" % cas))
    # md I: stale with a new TTL, token free again; then a stale set from
    # a client holding the version before keeps the token taken (Z)
    before = cas_of(srv, b"sw")
    out.append(talk(p, b"md sw I T30\r\nmg sw v t\r\n"))
    out.append(talk(p, b"ms sw 1 I C%d\r\nf\r\nmg sw v t\r\n" % before))
    # I without C is a plain set; on a missing item it is NF
    out.append(talk(p, b"ms sw 1 I\r\ng\r\nmg sw v\r\n"))
    out.append(talk(p, b"ms nosuch 1 I C5\r\nh\r\n"))
    # add mode ignores C, so I does nothing there
    out.append(talk(p, b"ms sw2 1 I C1 ME\r\ni\r\nmg sw2 v\r\n"))
    # recache: R below the TTL gives one W, then Z
    out.append(talk(p, b"ms rc 1 T10\r\nr\r\nmg rc R30 v\r\nmg rc R30 v\r\n"))
    return out


def ttl_move_run(srv):
    """A version written with another TTL than the one before it (so,
    in segcached, into another segment, whose CAS numbers may be lower):
    the older version's token is still older."""
    p = port(srv)
    out = [talk(p, b"ms other 1 T1000\r\na\r\nms tk 1\r\nb\r\n")]
    old = cas_of(srv, b"tk")
    out.append(talk(p, b"ms tk 1 T1000\r\nc\r\n"))
    out.append(talk(p, b"ms tk 1 I C%d\r\nd\r\nmg tk v\r\n" % old))
    # a token never handed out, above every version: newer, refused
    out.append(talk(p, b"ms tk 1 I C%d\r\ne\r\nmg tk v\r\n" % (1 << 62)))
    return out


def test_meta_set_invalidate_older_token_across_ttls(fresh):
    seg, peer = fresh
    ours, theirs = ttl_move_run(seg), ttl_move_run(peer)
    assert ours == theirs
    assert ours[2] == b"HD\r\nVA 1 X W\r\nd\r\n", ours


def test_meta_set_invalidate_as_memcached(fresh):
    seg, peer = fresh
    ours = invalidation_run(seg)
    theirs = invalidation_run(peer)
    for a, b in zip(ours, theirs):
        assert canon(a, ttl="tens") == canon(b, ttl="tens"), (a, b)
    assert ours[1] == b"HD\r\n"
    assert re.fullmatch(rb"VA 1 t\d+ c\d+ X W\r\nc\r\nVA 1 Z X\r\nc\r\n"
                        rb"HD s1 Z X\r\n", ours[2]), ours[2]


# ---- HTTP on the memcache port ----

HTTP_LINES = (b"GET / HTTP/1.0\r\n", b"PUT /path HTTP/1.1\r\n",
              b"DELETE HTTP/1.1\r\n", b"HTTP/1.1\r\n",
              b"POST /x HTTP/1.1\r\nHost: a\r\n\r\n",
              b"HEAD / HTTP/1.0\n", b"version\r\nGET / HTTP/1.0\r\n")


def test_http_request_hung_up_on(seg, peer):
    for line in HTTP_LINES:
        for srv in (seg, peer):
            assert to_close(port(srv), line) == b"", (srv, line)
    # what memcached answers ERROR (or runs) although the last token is
    # HTTP/...: lower-case get, a two-byte m-word, a one-byte word, words
    # starting like its early commands, HTTP/ not last
    same(seg, peer, b"get / HTTP/1.0\r\ngx / HTTP/1.0\r\nmx HTTP/1.0\r\n"
         b"x HTTP/1.0\r\nset HTTP/1.0\r\nstats HTTP/1.0\r\nGET / http/1.0\r\n"
         b"foo HTTP/1.1 x\r\ntouch a HTTP/1.0\r\nmn HTTP/1.0\r\n"
         b"abc HTTP/1.0\r\n")


# ---- admin commands with bad arguments ----

def test_admin_bad_arguments_as_memcached(seg, peer):
    same(seg, peer,
         b"slabs automove junk\r\nslabs automove 3\r\nslabs automove\r\n"
         b"slabs automove ratio\r\nslabs automove ratio x\r\n"
         b"slabs automove junk noreply\r\nslabs automove 1 noreply\r\n"
         b"slabs reassign a b\r\nslabs reassign 1\r\nslabs\r\nslabs junk\r\n"
         b"slabs reassign 1 1\r\nslabs reassign 1 99\r\n"
         b"slabs reassign -5 1\r\nslabs automove 1\r\n"
         b"slabs automove ratio 0.5\r\n"
         b"verbosity junk\r\nverbosity\r\nverbosity 1 2 3\r\n"
         b"verbosity junk noreply\r\nverbosity 1 junk\r\nverbosity 5\r\n"
         b"verbosity 0\r\n"
         b"lru\r\nlru junk\r\nlru tune\r\nlru tune 10 10 0.1 2\r\n"
         b"lru tune 50 50 0.1 2\r\nlru tune 10 10 0 2\r\n"
         b"lru tune a 10 0.1 2\r\nlru tune 10 10 0.1 x\r\nlru mode\r\n"
         b"lru mode junk\r\nlru temp_ttl junk\r\nlru junk noreply\r\n"
         b"lru_crawler\r\nlru_crawler junk\r\nlru_crawler crawl junk\r\n"
         b"lru_crawler crawl 0\r\nlru_crawler crawl 64\r\n"
         b"lru_crawler crawl 1 2\r\nlru_crawler sleep junk\r\n"
         b"lru_crawler sleep 2000000\r\nlru_crawler sleep 100\r\n"
         b"lru_crawler tocrawl junk\r\nlru_crawler tocrawl 0\r\n"
         b"lru_crawler crawl\r\nlru_crawler enable x\r\n"
         b"lru_crawler metadump\r\n"
         b"lru_crawler metadump 1 2\r\n"
         b"cache_memlimit junk\r\ncache_memlimit 5\r\n"
         b"cache_memlimit 2000000000\r\ncache_memlimit 5 noreply\r\n"
         b"cache_memlimit\r\n"
         b"stats detail junk\r\nstats detail\r\nstats cachedump\r\n"
         b"stats cachedump a b\r\nstats cachedump 99 1\r\n"
         b"shutdown junk\r\nflush_all junk\r\n")
    # memcached refuses metadump after other requests in one read
    same(seg, peer, b"lru_crawler metadump junk\r\n")
    # watch refuses pipelining first, then unknown kinds
    same(seg, peer, b"watch junk\r\n")
    same(seg, peer, b"watch fetchers junk\r\n")
    same(seg, peer, b"verbosity 0\r\nwatch junk\r\n")
    # what segcached answers where memcached would act (watch is served
    # since issue 19: test_watch.py)
    for line in (b"watch\r\n", b"watch fetchers mutations\r\n"):
        for srv in (seg, peer):
            with socket.create_connection(("127.0.0.1", port(srv))) as w:
                w.sendall(line)
                assert w.recv(100) == b"OK\r\n"
    assert talk(port(seg), b"cache_memlimit 100\r\n") == (
        b"MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n")
    assert talk(port(seg), b"slabs reassign 1 0\r\n") == (
        b"NOSPARE source class has no spare pages\r\n")


# ---- max_connections ----

def hold(srv, proto, n):
    socks = []
    for _ in range(n):
        s = srv.connect(proto)
        s.sendall(b"PING\r\n" if proto == "resp" else b"version\r\n")
        assert s.recv(100)
        socks.append(s)
    return socks


def refusal_of(srv, proto):
    with srv.connect(proto) as s:
        data = b""
        while True:
            chunk = s.recv(1000)
            if not chunk:
                return data
            data += chunk


def test_max_connections_refusal_in_the_peers_words(server_factory):
    srv = server_factory(protocols=("memcache", "resp"),
                         args=("-o", "server.max_connections=2"))
    socks = hold(srv, "memcache", 1) + hold(srv, "resp", 1)
    try:
        for _ in range(3):
            assert refusal_of(srv, "memcache") == (
                b"ERROR Too many open connections\r\n")
            assert refusal_of(srv, "resp") == (
                b"-ERR max number of clients reached\r\n")
        assert srv.stats()["server_conn_refused_max"] == 6
        # logged, once for the burst (rate limited), with the count
        deadline = time.time() + 10 * SLOW
        while "max_connections" not in srv.log() and time.time() < deadline:
            time.sleep(0.05)
        lines = [line for line in srv.log().splitlines()
                 if "max_connections" in line]
        assert len(lines) == 1, lines
        assert "refused 1 connection" in lines[0]
    finally:
        for s in socks:
            s.close()
    # room again: served as before
    srv.wait_stat("server_conn_curr", lambda v: v == 0)
    with srv.connect("memcache") as s:
        s.sendall(b"version\r\n")
        assert s.recv(100).startswith(b"VERSION ")

# SPDX-License-Identifier: Apache-2.0
"""Hot keys (issue 20) seen by operators: a skewed load from real clients
over both protocols, then the admin port's `hotkeys`, /metrics, memcache
`stats hotkeys`, Redis INFO hotkeys, the threshold's log line and counter,
hot misses apart from hot hits, escaping, reset and the off switch."""
import re
import socket
import time
import urllib.request

import pytest
import redis
from pymemcache.client.base import Client as Memcache

from conftest import SLOW, Server

parser = pytest.importorskip("prometheus_client.parser")


def admin_lines(seg, line, until=b"END\r\n"):
    """One admin command's reply, read through END (or until)."""
    with socket.create_connection(("127.0.0.1", seg.admin_port),
                                  timeout=10 * SLOW) as s:
        s.sendall(line.encode() + b"\r\n")
        data = b""
        while not data.endswith(until) and \
                not (data.startswith(b"CLIENT_ERROR") and
                     data.endswith(b"\r\n")):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode()


def memcache_stats_hotkeys(seg):
    with socket.create_connection(("127.0.0.1", seg.port("memcache")),
                                  timeout=10 * SLOW) as s:
        s.sendall(b"stats hotkeys\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
        return data.decode()


def scrape(seg):
    url = f"http://127.0.0.1:{seg.admin_port}/metrics"
    with urllib.request.urlopen(url, timeout=10 * SLOW) as resp:
        return resp.read().decode()


def skewed_load(seg, rounds=3):
    """Per round: one hot key per protocol, a key that is never there
    (a stampede of misses) and a spread of cold keys."""
    r = redis.Redis(port=seg.port("resp"), socket_timeout=10 * SLOW)
    m = Memcache(("127.0.0.1", seg.port("memcache")), timeout=10 * SLOW)
    r.set("hot:r", "v")
    m.set("hot:m", "v")
    for i in range(200):
        r.set(f"cold:{i}", "v")
    for _ in range(rounds):
        p = r.pipeline(transaction=False)
        for i in range(4000):
            p.get("hot:r")
            if i % 2 == 0:
                p.get("missing:r")
            p.get(f"cold:{i % 200}")
        p.execute()
        for i in range(1500):
            m.get("hot:m")
    r.close()
    m.close()


def wait_for(fn, what, timeout=15.0 * SLOW):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if what(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"never true; last: {last}")


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("memcache", "resp"), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


def hot_rows(text, kind="HOT"):
    """{key: {field: value}} of the 10 s window's HOT (or HOTMISS) lines."""
    rows = {}
    window = None
    for line in text.splitlines():
        if line.startswith("HOTKEYS "):
            window = line.split()[1]
        elif line.startswith(kind + " ") and window == "window=10s":
            fields = dict(f.split("=", 1) for f in line.split()[2:])
            rows[fields["key"]] = fields
    return rows


def test_issue_20_hotkeys_both_protocols(seg):
    skewed_load(seg)
    text = wait_for(lambda: admin_lines(seg, "hotkeys 5"),
                    lambda t: "key=hot%3Ar " in t and "key=hot%3Am " in t)
    assert text.endswith("END\r\n")
    head = re.search(r"HOTKEYS window=10s seconds=([\d.]+) sample_rate=100 "
                     r"requests_per_sec=(\d+) threshold=1.00%", text)
    assert head, text
    hot = hot_rows(text)
    assert len(hot) <= 5
    r, m = hot["hot%3Ar"], hot["hot%3Am"]
    assert r["proto"] == "resp" and m["proto"] == "memcache"
    assert r["db"] == "0"
    assert float(r["share"].rstrip("%")) > 20  # 12000 of ~27000 accesses
    assert float(r["rate"]) > 0 and float(r["err"]) > 0
    assert float(r["reads"]) > 10 * float(r["writes"])
    assert float(r["misses"]) == 0
    # the stampede on a missing key is listed apart, as misses
    misses = hot_rows(text, "HOTMISS")
    assert "missing%3Ar" in misses, text
    assert float(misses["missing%3Ar"]["misses"]) > 0
    assert "hot%3Ar" not in misses
    # crossing the threshold: logged once in the window, and counted
    wait_for(lambda: seg.log(), lambda t: "hot key: key hot%3Ar " in t)
    assert seg.log().count("hot key: key hot%3Ar ") == 1
    assert "hot miss: key missing%3Ar " in seg.log()
    st = seg.stats()
    assert st["hotkey_hot"] >= 2
    assert st["hotkey_hot_miss"] >= 1
    assert st["hotkey_hot_curr"] >= 2
    assert st["hotkey_sample"] > 100


def test_issue_20_hotkeys_metrics_memcache_and_info(seg):
    skewed_load(seg, rounds=1)
    wait_for(lambda: admin_lines(seg, "hotkeys"),
             lambda t: "key=hot%3Ar " in t)
    text = scrape(seg)
    fams = {f.name: f for f in
            parser.text_string_to_metric_families(text)}
    top = fams["segcached_hotkey_top_rate"]
    assert top.type == "gauge"
    assert 0 < len(top.samples) <= 10  # hotkey.export
    keys = {s.labels["key"]: s for s in top.samples}
    assert keys["hot%3Ar"].labels["proto"] == "resp"
    assert keys["hot%3Ar"].value > 0
    assert sorted(int(s.labels["rank"]) for s in top.samples) == \
        list(range(1, len(top.samples) + 1))
    share = {s.labels["key"]: s.value
             for s in fams["segcached_hotkey_top_share"].samples}
    assert 0 < share["hot%3Ar"] < 1
    miss = {s.labels["key"] for s in
            fams["segcached_hotkey_top_miss_rate"].samples}
    assert "missing%3Ar" in miss
    # memcache: STAT lines then END
    stats = memcache_stats_hotkeys(seg)
    assert "STAT hotkey_sample_rate 100\r\n" in stats
    assert re.search(r"STAT hotkey_10s_\d+ key=hot%3Am,rate=\d+,", stats)
    assert re.search(r"STAT hotmiss_10s_1 key=missing%3Ar,misses=", stats)
    for line in stats.splitlines()[:-1]:
        assert len(line.split(" ")) == 3, line
    # Redis: INFO hotkeys, a section of its own (not in the default INFO)
    r = redis.Redis(port=seg.port("resp"))
    raw = r.execute_command("INFO", "hotkeys")
    assert raw["hotkey_sample_rate"] == 100
    rows = [v for k, v in raw.items() if k.startswith("hotkey_10s_") and
            isinstance(v, dict)]
    assert any(v.get("key") == "hot%3Ar" for v in rows), raw
    assert "hotkey_sample_rate" not in r.info()
    r.close()


def test_issue_20_hotkeys_escaped_and_bounded():
    s = Server(protocols=("resp",), threads=1,
               args=("-o", "hotkey.sample_rate=1"))
    try:
        r = redis.Redis(port=s.port("resp"))
        odd = b"sp ace\n\xff,=\"\\"
        long = b"L" * 100 + b" " * 300
        p = r.pipeline(transaction=False)
        for _ in range(300):
            p.get(odd)
            p.get(long)
        p.execute()
        text = wait_for(lambda: admin_lines(s, "hotkeys 2"),
                        lambda t: "HOT 2 " in t)
        rows = hot_rows(text)
        assert "sp%20ace%0A%FF%2C%3D%22%5C" in rows, text
        longest = [k for k in rows if k.startswith("LLL")]
        assert longest and len(longest[0]) <= 250
        assert longest[0] == "L" * 100 + "%20" * 50
        for line in scrape(s).splitlines():
            m = re.search(r'key="([^"]*)"', line)
            assert m is None or len(m.group(1)) <= 250
        r.close()
    finally:
        assert s.stop() == 0


def test_issue_20_reset_and_off():
    s = Server(protocols=("memcache", "resp"), threads=2,
               args=("-o", "hotkey.sample_rate=1"))
    try:
        r = redis.Redis(port=s.port("resp"))
        r.set("k", "v")
        for _ in range(50):
            r.get("k")
        wait_for(lambda: admin_lines(s, "hotkeys"),
                 lambda t: "key=k " in t)
        assert admin_lines(s, "stats reset", b"\r\n") == "RESET\r\n"
        assert "HOT 1 " not in admin_lines(s, "hotkeys")
        for _ in range(50):
            r.get("k")
        wait_for(lambda: admin_lines(s, "hotkeys"),
                 lambda t: "key=k " in t)
        assert r.config_resetstat()
        assert "HOT 1 " not in admin_lines(s, "hotkeys")
        assert admin_lines(s, "hotkeys 0").startswith("CLIENT_ERROR")
        r.close()
    finally:
        assert s.stop() == 0
    off = Server(protocols=("memcache",), threads=1,
                 args=("-o", "hotkey.sample_rate=0"))
    try:
        assert admin_lines(off, "hotkeys").startswith("HOTKEYS off")
        assert "STAT hotkey_sample_rate 0\r\n" in memcache_stats_hotkeys(off)
        assert "hotkey_top_rate" not in scrape(off)
    finally:
        assert off.stop() == 0


def test_issue_20_meta_and_binary_protocols_sampled():
    """Every memcache dialect goes through the keyspace path the sampler
    hangs on: the meta protocol (raw socket) and the binary protocol
    (pylibmc, binary=True) are counted, reads and writes apart, with the
    memcache protocol shown. sample_rate=1: every access is sampled."""
    pylibmc = pytest.importorskip("pylibmc")
    s = Server(protocols=("memcache",), threads=1,
               args=("-o", "hotkey.sample_rate=1"))
    try:
        b = pylibmc.Client([f"127.0.0.1:{s.port('memcache')}"], binary=True)
        b.set("bin:k", "v")
        for _ in range(30):
            assert b.get("bin:k") == "v"
        with socket.create_connection(("127.0.0.1", s.port("memcache")),
                                      timeout=10 * SLOW) as m:
            m.sendall(b"ms meta:k 1\r\nv\r\n" + b"mg meta:k v\r\n" * 20 +
                      b"mn\r\n")
            data = b""
            while not data.endswith(b"MN\r\n"):
                chunk = m.recv(65536)
                assert chunk, data
                data += chunk
            assert data.count(b"VA 1") == 20, data
        text = wait_for(lambda: admin_lines(s, "hotkeys 5"),
                        lambda t: "key=bin%3Ak " in t and
                        "key=meta%3Ak " in t)
        hot = hot_rows(text)
        for key, reads in (("bin%3Ak", 30), ("meta%3Ak", 20)):
            row = hot[key]
            assert row["proto"] == "memcache", row
            # rates are per second of the window: compare their ratio
            assert float(row["writes"]) > 0, row
            assert float(row["reads"]) == pytest.approx(
                reads * float(row["writes"]), rel=0.01), row
    finally:
        assert s.stop() == 0

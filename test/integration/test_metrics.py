# SPDX-License-Identifier: Apache-2.0
"""The admin port's /metrics as Prometheus and its client libraries read
it (issue 23): the exposition is parsed with prometheus_client's own parser
(Debian's python3-prometheus-client, installed by scripts/setup.sh), and
the HTTP side is driven with the standard library's HTTP client."""
import http.client
import re
import socket
import time
import urllib.error
import urllib.request

import pytest

from conftest import Server

parser = pytest.importorskip("prometheus_client.parser")

QUANTILES = ["0.5", "0.9", "0.99", "0.999", "0.9999"]


@pytest.fixture(scope="module")
def seg():
    s = Server(protocols=("memcache", "resp"), threads=2)
    yield s
    rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"


def traffic(seg):
    """Enough requests that every sampled latency histogram has values
    (memcache samples 1 in 16, resp 1 in 8)."""
    with socket.create_connection(("127.0.0.1", seg.port("memcache")),
                                  timeout=10) as m:
        m.sendall(b"set k 0 0 1\r\nv\r\n" + b"get k\r\n" * 256)
        want = b"STORED\r\n" + b"VALUE k 0 1\r\nv\r\nEND\r\n" * 256
        got = b""
        while len(got) < len(want):
            chunk = m.recv(65536)
            assert chunk, got
            got += chunk
        assert got == want
    with socket.create_connection(("127.0.0.1", seg.port("resp"))) as r:
        r.settimeout(10)
        r.sendall(b"*2\r\n$3\r\nGET\r\n$2\r\nno\r\n" * 128)
        got = b""
        while got.count(b"$-1\r\n") < 128:
            chunk = r.recv(65536)
            assert chunk, got
            got += chunk


def scrape(seg, path="/metrics"):
    url = f"http://127.0.0.1:{seg.admin_port}{path}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith(
            "text/plain; version=0.0.4")
        return resp.read().decode()


def families(text):
    out = {}
    for fam in parser.text_string_to_metric_families(text):
        assert fam.name not in out, f"family {fam.name} twice"
        out[fam.name] = fam
    return out


def test_issue_23_exposition_follows_prometheus_conventions(seg):
    traffic(seg)
    text = scrape(seg, "/metrics?anything=1&x")
    fams = families(text)
    assert len(fams) > 100
    for name, fam in fams.items():
        assert name.startswith("segcached_"), name
        assert not fam.documentation.startswith("#"), name
        assert fam.documentation, name
        # durations in seconds: no unit of another scale in any name
        assert not re.search(r"_(us|ns|ms|usec|msec|nsec)(_|$)", name), name
        # base units, plural: _bytes and _seconds, never _byte
        assert not re.search(r"_(byte|second)(_|$)", name), name
        for s in fam.samples:
            assert not re.search(r"_(us|ns|ms|usec)(_|$)", s.name), s.name
            if fam.type == "counter":
                assert s.name.endswith(("_total", "_created")), s.name
    for line in text.splitlines():
        if line.startswith("# TYPE") and line.endswith(" counter"):
            assert line.split()[2].endswith("_total"), line
    # "# " in a table means "number of": written out
    conn = fams["segcached_server_conn"]
    assert conn.type == "counter"
    assert conn.documentation.startswith("Number of ")
    assert conn.samples[0].name == "segcached_server_conn_total"
    assert conn.samples[0].value >= 1
    # the version as a build_info series
    info = fams["segcached_build_info"]
    assert len(info.samples) == 1
    s = info.samples[0]
    assert s.value == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+", s.labels["version"])
    assert re.fullmatch(r"[0-9a-f]{4,40}|unknown", s.labels["commit"])
    # names carry their unit (issue 23): bytes, seconds
    read = fams["segcached_worker_read_bytes"]
    assert read.type == "counter"
    assert read.samples[0].name == "segcached_worker_read_bytes_total"
    assert read.samples[0].value > 0
    up = fams["segcached_uptime_seconds"]
    assert up.type == "gauge" and 0 <= up.samples[0].value < 3600
    now = fams["segcached_time_seconds"]
    assert abs(now.samples[0].value - time.time()) < 3600
    assert fams["segcached_hotkey_memory_bytes"].samples[0].value > 0
    for gone in ("segcached_uptime", "segcached_time",
                 "segcached_worker_read_byte", "segcached_hotkey_memory"):
        assert gone not in fams, gone
    # CPU time: seconds, as a counter
    cpu = fams["segcached_rusage_user_seconds"]
    assert cpu.type == "counter" and 0 <= cpu.samples[0].value < 3600
    # latency: summaries with the documented quantiles, _sum and _count
    for fam_name, labels in (("segcached_memcache_lat_get_seconds", {}),
                             ("segcached_resp_cmd_latency_seconds",
                              {"cmd": "get"})):
        fam = fams[fam_name]
        assert fam.type == "summary", fam_name
        mine = [x for x in fam.samples
                if all(x.labels.get(k) == v for k, v in labels.items())]
        qs = {x.labels["quantile"]: x.value for x in mine
              if x.name == fam_name}
        assert sorted(qs, key=float) == QUANTILES, fam_name
        count = [x.value for x in mine if x.name == fam_name + "_count"]
        total = [x.value for x in mine if x.name == fam_name + "_sum"]
        assert count and count[0] >= 1, fam_name
        assert total and 0 < total[0] < count[0], fam_name  # < 1 s each
        assert 0 < qs["0.5"] < 0.1, (fam_name, qs)  # seconds, not ns
    calls = fams["segcached_resp_cmd_calls"]
    assert any(x.name == "segcached_resp_cmd_calls_total" and
               x.labels == {"cmd": "get"} and x.value >= 128
               for x in calls.samples)


def raw_http(seg, request):
    with socket.create_connection(("127.0.0.1", seg.admin_port),
                                  timeout=10) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_issue_23_head_and_other_methods(seg):
    head = raw_http(seg, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, rest = head.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert rest.endswith(b"\r\n\r\n")  # the head only, then the close
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    assert length > 1000
    c = http.client.HTTPConnection("127.0.0.1", seg.admin_port, timeout=10)
    c.request("HEAD", "/metrics?x")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b""
    c.close()
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        req = urllib.request.Request(
            f"http://127.0.0.1:{seg.admin_port}/metrics", method=method,
            data=b"" if method in ("POST", "PUT", "PATCH") else None)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 405, method
        assert e.value.headers["Allow"] == "GET, HEAD", method
    # an unknown path is 404 for GET, and HEAD alike
    for method in ("GET", "HEAD"):
        c = http.client.HTTPConnection("127.0.0.1", seg.admin_port,
                                       timeout=10)
        c.request(method, "/nope?metrics")
        assert c.getresponse().status == 404
        c.close()
    # the text protocol still works on the same port
    with socket.create_connection(("127.0.0.1", seg.admin_port)) as s:
        s.sendall(b"version\r\n")
        assert s.recv(100).startswith(b"VERSION ")


def test_latency_histograms_cost_nothing_until_used():
    """A RESP command's latency histogram (58 KiB) is made by its first
    sampled call: made for every command at start, they held 16 MiB of
    RSS in every process (22 MiB idle where this bound allows 12)."""
    from conftest import SANITIZED
    if SANITIZED:
        pytest.skip("RSS means nothing under the sanitizers")
    s = Server(protocols=("resp",), threads=2)
    try:
        with open(f"/proc/{s.pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f
                       if line.startswith("VmRSS:")) * 1024
        assert rss < 12 * 1024 * 1024, rss
        with socket.create_connection(("127.0.0.1", s.port("resp")),
                                      timeout=10) as r:
            r.sendall(b"*2\r\n$3\r\nGET\r\n$2\r\nno\r\n" * 64 +
                      b"*2\r\n$4\r\nINFO\r\n$12\r\nlatencystats\r\n")
            got = b""
            while b"latency_percentiles_usec_get:" not in got:
                chunk = r.recv(65536)
                assert chunk, got
                got += chunk
    finally:
        assert s.stop() == 0, s.stderr

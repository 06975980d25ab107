# SPDX-License-Identifier: Apache-2.0
"""What memcached's own tools and operators rely on (issue 23):
- a connection over max_connections reads the peer's error line before the
  close (memcache and resp), and the refusals are counted and logged.
"""
import time

from conftest import SLOW

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

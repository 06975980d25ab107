# SPDX-License-Identifier: Apache-2.0
"""redis-py round-trips a 400 MB value (issue 18) with every buffer option
at its default: received into the store in pieces with the default read
buffer, and sent back by GET from its parts in pieces (resp_out.c), so the
connection buffers stay near their default sizes throughout. Labelled
heavy (about a second of copying per direction, 2 GiB of store).
"""
import os

import pytest

from conftest import Server

redis = pytest.importorskip("redis")

MiB = 1024 * 1024


def test_round_trip_400mb():
    s = Server(protocols=("resp",), threads=2,
               args=["-o", "seg.memory=2GiB"])
    try:
        r = redis.Redis(port=s.port("resp"), socket_timeout=300)
        v = os.urandom(400_000_000)
        assert r.set("big", v)
        assert s.stats()["resp_stream"] == 1
        assert r.strlen("big") == len(v)
        assert r.get("big") == v
        assert s.stats()["resp_get_stream_byte"] == len(v)
        assert r.getrange("big", len(v) - 5, -1) == v[-5:]
        assert s.stats()["worker_buf_bytes"] < 16 * MiB
        r.close()
    finally:
        assert s.stop() == 0

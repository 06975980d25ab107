# SPDX-License-Identifier: Apache-2.0
"""redis-py round-trips a 400 MB value (issue 18): received into the store
in pieces with the default read buffer. Labelled heavy (about a second of
copying per direction, 2 GiB of store). Reading it back still needs the
write buffer raised: a value is sent whole from the write buffer
(worker.wbuf_max, 64 MiB by default; worker.buffer_memory, 256 MiB, caps
all buffers together), which sending in pieces would remove.
"""
import os

import pytest

from conftest import Server

redis = pytest.importorskip("redis")

MiB = 1024 * 1024


def test_round_trip_400mb():
    s = Server(protocols=("resp",), threads=2,
               args=["-o", "seg.memory=2GiB", "-o", "worker.wbuf_max=512MiB",
                     "-o", "worker.buffer_memory=1GiB"])
    try:
        r = redis.Redis(port=s.port("resp"), socket_timeout=300)
        v = os.urandom(400_000_000)
        assert r.set("big", v)
        assert s.stats()["resp_stream"] == 1
        assert r.strlen("big") == len(v)
        assert r.get("big") == v
        assert r.getrange("big", len(v) - 5, -1) == v[-5:]
        assert s.stats()["worker_buf_bytes"] < 600 * MiB
        r.close()
    finally:
        assert s.stop() == 0

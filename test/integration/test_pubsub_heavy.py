# SPDX-License-Identifier: Apache-2.0
"""Issue 19's cross-worker delivery proof at full size (labelled heavy: not
in the default suite): 1 publisher and 100 subscribers spread over every
worker, 1,000,000 messages with sequence numbers; every subscriber gets
every message once, in order, checked byte for byte. It takes minutes, so
it skips unless SEGCACHED_HEAVY=1:

    SEGCACHED_HEAVY=1 ctest --test-dir build/release -R pubsub_heavy -V

SEGCACHED_DELIVERY_MESSAGES changes the count. The same check runs at
20,000 messages in test_pubsub.py (and under TSan)."""
import os

import pytest

from conftest import Server
from test_pubsub import run_delivery

MESSAGES = int(os.environ.get("SEGCACHED_DELIVERY_MESSAGES", "1000000"))


@pytest.mark.skipif(os.environ.get("SEGCACHED_HEAVY") != "1",
                    reason="heavy: set SEGCACHED_HEAVY=1 to run it")
def test_cross_worker_delivery_full_size():
    s = Server(protocols=("resp",), threads=3)
    try:
        run_delivery(s, 100, MESSAGES)
    finally:
        rc = s.stop()
    assert rc == 0, f"segcached exited {rc}: {s.stderr}"

# SPDX-License-Identifier: Apache-2.0
"""CLIENT PAUSE / CLIENT UNPAUSE (issue 19), against a real redis-server
7.0.15: the same script on both servers gives the same replies. Paused
clients are held, not refused: their commands run, in order, when the
pause ends. On segcached the pausing client and the held ones are on
different workers (3 workers, connections dealt round robin), and that a
command is held is shown by the resp_pause_held counter and by its effect
being absent, never by timing."""
import pytest

from conftest import SLOW, Server
from test_resp import Wire, enc, oracle  # noqa: F401 (a fixture)


@pytest.fixture
def seg():
    s = Server(protocols=("resp",), threads=3)
    yield s
    assert s.stop() == 0, s.stderr


def wait_held(srv, n):
    """On segcached: until n commands were held in all (no-op for Redis)."""
    if isinstance(srv, Server):
        srv.wait_stat("resp_pause_held", lambda v: v >= n)


def port_of(srv):
    return srv.port("resp") if isinstance(srv, Server) else srv.port


ERRORS = [
    ("CLIENT", "PAUSE"),
    ("CLIENT", "PAUSE", "abc"),
    ("CLIENT", "PAUSE", "-1"),
    ("CLIENT", "PAUSE", "1.5"),
    ("CLIENT", "PAUSE", "99999999999999999999"),
    ("CLIENT", "PAUSE", "10", "foo"),
    ("CLIENT", "PAUSE", "abc", "foo"),
    ("CLIENT", "PAUSE", "10", "write", "extra"),
    ("CLIENT", "UNPAUSE", "x"),
    ("CLIENT", "PAUSE", "0", "WRITE"),
    ("CLIENT", "PAUSE", "0"),
    ("CLIENT", "UNPAUSE"),
    ("GET", "k"),
]


def test_pause_replies_like_redis(seg, oracle):
    got = []
    for srv in (seg, oracle):
        w = Wire(port_of(srv))
        got.append([w.cmd(*c) for c in ERRORS])
        w.close()
    assert got[0] == got[1]


def write_pause_script(srv):
    """WRITE holds writes, scripts that may write, PUBLISH, PFCOUNT and a
    write queued in MULTI, from other connections; reads, EVAL_RO and
    MULTI itself run; UNPAUSE from a third connection releases them."""
    port = port_of(srv)
    a, b, e, p, m, c = (Wire(port) for _ in range(6))
    out = [a.cmd("CLIENT", "PAUSE", str(100000 * SLOW), "WRITE")]
    b.send(enc(("SET", "k", "v")) + enc(("GET", "k")))
    e.send(enc(("EVAL", "return redis.call('set','e','1')", "0")))
    p.send(enc(("PUBLISH", "ch", "m")))
    out.append(m.cmd("MULTI"))
    m.send(enc(("SET", "q", "1")))
    wait_held(srv, 4)
    # none of them ran: reads, read-only scripts and admin commands do
    out += [c.cmd("GET", "k"), c.cmd("GET", "e"), c.cmd("GET", "q"),
            c.cmd("EVAL_RO", "return 1", "0"), c.cmd("PING"),
            c.cmd("EXISTS", "k", "e", "q")]
    out.append(c.cmd("CLIENT", "UNPAUSE"))
    # each held connection runs what it holds, in order
    out += [b.reply(), b.reply(), e.reply(), p.reply(), m.reply(),
            m.cmd("EXEC")]
    out.append(c.cmd("MGET", "k", "e", "q"))
    for w in (a, b, e, p, m, c):
        w.close()
    return out


def test_write_pause_holds_writers_on_every_worker(seg, oracle):
    want = write_pause_script(oracle)
    Wire(oracle.port).cmd("FLUSHALL")
    assert write_pause_script(seg) == want
    assert want[-1] == b"*3\r\n$1\r\nv\r\n$1\r\n1\r\n$1\r\n1\r\n"


def all_pause_script(srv):
    """ALL holds every command, the pauser's own and CLIENT UNPAUSE
    included, until the timeout; then they run in order."""
    port = port_of(srv)
    a, b = Wire(port), Wire(port)
    out = [a.cmd("SET", "x", "1"),
           a.cmd("CLIENT", "PAUSE", str(300 * SLOW), "ALL")]
    b.send(enc(("INCR", "x")))
    # (held clients on different workers resume in no set order: the
    # script does not depend on which runs first)
    a.send(enc(("CLIENT", "UNPAUSE")) + enc(("ECHO", "x")))
    wait_held(srv, 2)
    out += [b.reply(), a.reply(), a.reply()]
    for w in (a, b):
        w.close()
    return out


def test_all_pause_holds_everything_until_timeout(seg, oracle):
    want = all_pause_script(oracle)
    assert want == [b"+OK\r\n", b"+OK\r\n", b":2\r\n", b"+OK\r\n",
                    b"$1\r\nx\r\n"]
    assert all_pause_script(seg) == want


def test_pauses_combine_like_redis(seg, oracle):
    """A pause with 0 ms during another keeps its end and the stricter mode
    (Redis 7.0's pauseClients): WRITE then ALL holds a read until the
    WRITE pause's end."""
    def script(srv):
        port = port_of(srv)
        a, b = Wire(port), Wire(port)
        out = [a.cmd("CLIENT", "PAUSE", str(300 * SLOW), "WRITE"),
               a.cmd("CLIENT", "PAUSE", "0", "ALL")]
        b.send(enc(("GET", "nothing")))
        wait_held(srv, 1)
        out.append(b.reply())
        out.append(a.cmd("PING"))
        a.close()
        b.close()
        return out
    want = script(oracle)
    assert want == [b"+OK\r\n", b"+OK\r\n", b"$-1\r\n", b"+PONG\r\n"]
    assert script(seg) == want

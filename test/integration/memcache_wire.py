# SPDX-License-Identifier: Apache-2.0
"""Helpers for the memcache integration tests: a real memcached 1.6.18 peer
started on a free loopback port (stopped by its pid), and a raw connection
that reads replies up to a known end instead of waiting for silence."""
import re
import shutil
import subprocess
import socket
import time

from conftest import SLOW, free_port, wait_port

MEMCACHED = shutil.which("memcached")


class Memcached:
    """memcached -U 0 on 127.0.0.1:<free port>; stop() ends it by pid."""

    def __init__(self, args=()):
        # free_port() can race with a test running in parallel: then this
        # memcached cannot bind, and the port answers for another server.
        # Only a port that answers with this process's pid is ours.
        err = b""
        for _ in range(5):
            self.port = free_port()
            cmd = [MEMCACHED, "-u", "nobody", "-l", "127.0.0.1",
                   "-p", str(self.port), "-U", "0"] + list(args)
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
            if wait_port(self.port) and self.answers_as_ours():
                return
            self.proc.kill()
            _, err = self.proc.communicate()
        raise RuntimeError(f"memcached did not start: {err.decode()}")

    def answers_as_ours(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=10.0 * SLOW) as s:
                s.sendall(b"stats\r\n")
                data = b""
                while not data.endswith(b"END\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        return False
                    data += chunk
        except OSError:
            return False
        m = re.search(rb"STAT pid (\d+)\r\n", data)
        return m is not None and int(m.group(1)) == self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


class Wire:
    """One raw memcache connection with replies read up to a known end."""

    serial = 0

    def __init__(self, port, timeout=10.0 * SLOW):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.pending = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def recv_until(self, end):
        """Bytes up to and including the first `end` after what was read.
        Raises on EOF or time-out, with what arrived."""
        data = self.pending
        deadline = time.time() + self.timeout
        while end not in data:
            if time.time() > deadline:
                raise AssertionError(f"no {end!r} in time; got {data[:300]!r}")
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise AssertionError(f"closed before {end!r}; got "
                                     f"{data[:300]!r}")
            data += chunk
        cut = data.index(end) + len(end)
        self.pending = data[cut:]
        return data[:cut]

    def recv_exact(self, n):
        data = self.pending
        deadline = time.time() + self.timeout
        while len(data) < n:
            if time.time() > deadline:
                raise AssertionError(f"{n} bytes not in time: {len(data)}")
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        self.pending = data[n:]
        return data[:n]

    def recv_to_close(self):
        """Everything up to the server's close (raises if it stays open)."""
        data = self.pending
        self.pending = b""
        deadline = time.time() + self.timeout
        while True:
            if time.time() > deadline:
                raise AssertionError(f"connection stayed open: {data[:300]!r}")
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk

    def talk(self, data):
        """Sends `data` then a meta delete of a key that never exists, with
        an opaque; returns every reply before its `NF <opaque>`. That reply
        comes after everything sent before it, so this reads exactly the
        replies to `data` (and proves noreply was silent). Not `mn`: the
        data may hold its own."""
        Wire.serial += 1
        tag = b"Oend%d" % Wire.serial
        self.send(data + b"md __end_of_talk__ " + tag + b"\r\n")
        end = b"NF " + tag + b"\r\n"
        return self.recv_until(end)[:-len(end)]


def talk(port, data):
    with Wire(port) as w:
        return w.talk(data)


def to_close(port, data):
    with Wire(port) as w:
        w.send(data)
        return w.recv_to_close()


# CAS values are the servers' own counters; TTLs may straddle a second.
META_CAS = re.compile(rb"(?<= )c\d+(?= |$)")
META_TTL = re.compile(rb"(?<= )t(\d+)(?= |$)")
# the store keeps the last access to the minute (docs/storage.md)
META_LA = re.compile(rb"(?<= )l\d+(?= |$)")


def canon(reply, ttl=False):
    """`reply` with CAS values, meta last-access times (and, if ttl,
    positive meta TTLs; ttl="tens" rounds them to tens instead, as a second
    may pass between two requests) replaced by placeholders, for comparing
    two servers."""
    out = re.sub(rb"^(VALUE \S+ \d+ \d+) \d+\r$", rb"\1 <cas>\r", reply,
                 flags=re.M)
    out = re.sub(rb"^((?:VA|HD|EN|NF|NS|EX|ME)\b[^\r\n]*)",
                 lambda m: META_LA.sub(b"l<la>",
                                       META_CAS.sub(b"c<cas>", m.group(1))),
                 out, flags=re.M)
    out = re.sub(rb" cas=\d+", b" cas=<cas>", out)
    if ttl == "tens":
        out = re.sub(rb"^((?:VA|HD)\b[^\r\n]*)",
                     lambda m: META_TTL.sub(
                         lambda t: b"t~%d" % round(int(t[1]), -1),
                         m.group(1)), out, flags=re.M)
    elif ttl:
        out = re.sub(rb"^((?:VA|HD)\b[^\r\n]*)",
                     lambda m: META_TTL.sub(b"t<ttl>", m.group(1)), out,
                     flags=re.M)
    return out

# SPDX-License-Identifier: Apache-2.0
"""Fixtures that start segcached on free loopback ports and stop it by pid."""
import collections
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

BIN = os.environ.get("SEGCACHED_BIN",
                     os.path.join(os.path.dirname(__file__), "..", "..",
                                  "build", "release", "segcached"))
SANITIZED = bool(os.environ.get("SEGCACHED_SANITIZE"))
# sanitizer builds are several times slower: scale waits, never assertions
SLOW = 5 if SANITIZED else 1


# ports handed out lately by this process: the kernel may give a port just
# released to the next bind(0), so two listeners of one server (picked one
# after the other) could otherwise get the same port and fail to start
_recent_ports = collections.deque(maxlen=512)


def free_port():
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _recent_ports:
            _recent_ports.append(port)
            return port
    raise RuntimeError("no free port that was not handed out lately")


def wait_port(port, timeout=10.0 * SLOW):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def wait_admin(port, timeout=10.0 * SLOW):
    """Waits until the admin port answers: the process is set up (pidfile
    written, privileges dropped), not merely bound."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=5 * SLOW) as s:
                s.sendall(b"version\r\n")
                if s.recv(100).startswith(b"VERSION "):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


class Server:
    """One segcached process with its ports; stop() checks the exit code."""

    def __init__(self, args=(), protocols=("ping",), threads=2, env=None,
                 preexec_fn=None):
        self.logdir = tempfile.mkdtemp(prefix="segcached-test-")
        # started as root, segcached runs as an unprivileged user (-u), who
        # must be able to reopen its log file here after SIGHUP
        os.chmod(self.logdir, 0o777)
        self.log_path = os.path.join(self.logdir, "segcached.log")
        # free_port() can race with another test picking the same port in
        # parallel: then this server fails to bind, or a port answers for
        # someone else's server. Try again on fresh ports in either case.
        err = ""
        for _ in range(5):
            if self._start(args, protocols, threads, env, preexec_fn):
                return
            err = self.proc.stderr.read().decode()
        raise RuntimeError(f"segcached did not start: {err}")

    def _start(self, args, protocols, threads, env, preexec_fn):
        self.ports = {p: free_port() for p in protocols}
        self.admin_port = free_port()
        cmd = [BIN, "--admin", f"127.0.0.1:{self.admin_port}",
               "-t", str(threads), "-o", f"log.file={self.log_path}"]
        for proto in ("memcache", "resp", "ping"):
            if proto in self.ports:
                cmd += [f"--{proto}", f"127.0.0.1:{self.ports[proto]}"]
            else:
                cmd += [f"--{proto}", "off"]
        if os.geteuid() == 0 and "-u" not in args:
            cmd += ["-u", "nobody"]
        cmd += list(args)
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     env=env, preexec_fn=preexec_fn)
        deadline = time.time() + 10.0 * SLOW
        while time.time() < deadline and self.proc.poll() is None:
            if wait_port(self.admin_port, timeout=0.2):
                try:
                    if self.stats().get("pid") == self.proc.pid:
                        return True  # the admin port is this server's
                except OSError:
                    pass
            time.sleep(0.02)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        return False

    @property
    def pid(self):
        return self.proc.pid

    def port(self, proto):
        return self.ports[proto]

    def connect(self, proto="ping", timeout=10.0 * SLOW):
        s = socket.create_connection(("127.0.0.1", self.ports[proto]),
                                     timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def admin(self, line, timeout=10.0 * SLOW):
        """Sends one admin text command; returns the reply up to END."""
        with socket.create_connection(("127.0.0.1", self.admin_port),
                                      timeout=timeout) as s:
            s.sendall(line.encode() + b"\r\n")
            data = b""
            while not (data.endswith(b"END\r\n") or
                       data.endswith(b"\r\n") and not line.startswith("stats")):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode()

    def stats(self):
        out = {}
        for line in self.admin("stats").splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = int(parts[2]) if parts[2].lstrip("-").isdigit() \
                    else parts[2]
        return out

    def wait_stat(self, name, pred, timeout=10.0 * SLOW):
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = self.stats().get(name)
            if value is not None and pred(value):
                return value
            time.sleep(0.05)
        raise AssertionError(f"stat {name} stayed at {value}")

    def nfds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=20.0 * SLOW):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("segcached did not stop in time")
        self.stderr = self.proc.stderr.read().decode()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


@pytest.fixture
def server_factory():
    started = []

    def make(**kw):
        s = Server(**kw)
        started.append(s)
        return s
    yield make
    try:
        for s in started:
            if s.proc.poll() is None:
                rc = s.stop()
                assert rc == 0, f"segcached exited {rc}: {s.stderr}"
    finally:
        for s in started:
            shutil.rmtree(s.logdir, ignore_errors=True)


@pytest.fixture
def server(server_factory):
    return server_factory()


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data

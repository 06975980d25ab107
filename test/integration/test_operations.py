# SPDX-License-Identifier: Apache-2.0
"""Operations: install, service unit, privileges, Unix sockets, pid file,
daemonizing, crash reports, version."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, SLOW, free_port, wait_admin, wait_port

BUILD_DIR = os.environ.get("SEGCACHED_BUILD_DIR",
                           os.path.dirname(os.path.abspath(BIN)))
ROOT = os.geteuid() == 0
USER = ["-u", "nobody"] if ROOT else []


def shared_tmpdir():
    d = tempfile.mkdtemp(prefix="segcached-ops-")
    os.chmod(d, 0o777)  # the unprivileged user writes here too
    return d


def stop(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    return proc.wait(timeout=20 * SLOW)


def test_install_into_prefix_and_run_from_there():
    prefix = tempfile.mkdtemp(prefix="segcached-install-")
    try:
        r = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix",
                            prefix], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        binary = os.path.join(prefix, "bin", "segcached")
        config = os.path.join(prefix, "etc", "segcached", "segcached.yml")
        unit = os.path.join(prefix, "lib", "systemd", "system",
                            "segcached.service")
        for path in (binary, config, unit):
            assert os.path.exists(path), path
        with open(unit) as f:
            text = f.read()
        assert f"ExecStart={binary} --config {config}" in text
        # the installed binary runs on the installed configuration
        admin = free_port()
        mc = free_port()
        proc = subprocess.Popen([binary, "--config", config, "--admin",
                                 f"127.0.0.1:{admin}", "--memcache",
                                 f"127.0.0.1:{mc}", "--resp", "off"] + USER,
                                stderr=subprocess.PIPE)
        assert wait_port(mc)
        with socket.create_connection(("127.0.0.1", mc)) as s:
            s.sendall(b"version\r\n")
            assert s.recv(100).startswith(b"VERSION ")
        assert stop(proc) == 0
        if shutil.which("systemd-analyze"):
            v = subprocess.run(["systemd-analyze", "verify", unit],
                               capture_output=True, text=True, timeout=60)
            assert v.returncode == 0, v.stdout + v.stderr
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


@pytest.mark.skipif(not ROOT, reason="needs root to test dropping it")
def test_root_needs_a_user_and_drops_to_it():
    r = subprocess.run([BIN, "--admin", "off", "--memcache", "off",
                        "--resp", "off"], capture_output=True, text=True,
                       timeout=30 * SLOW)
    assert r.returncode == 64
    assert "refusing to run as root" in r.stderr
    r = subprocess.run([BIN, "-u", "no-such-user-here"], capture_output=True,
                       text=True, timeout=30 * SLOW)
    assert r.returncode == 64 and "no such user" in r.stderr
    admin = free_port()
    proc = subprocess.Popen([BIN, "-u", "nobody", "--admin",
                             f"127.0.0.1:{admin}", "--memcache", "off",
                             "--resp", "off"], stderr=subprocess.PIPE)
    assert wait_admin(admin)
    with open(f"/proc/{proc.pid}/status") as f:
        uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
    nobody = pwd.getpwnam("nobody").pw_uid
    assert all(int(u) == nobody for u in uids), uids
    assert stop(proc) == 0


def test_unix_socket_listener_with_real_clients():
    from pymemcache.client.base import Client
    d = shared_tmpdir()
    path = os.path.join(d, "mc.sock")
    admin = free_port()
    proc = subprocess.Popen([BIN, "--memcache", f"unix:{path}", "--resp",
                             "off", "--admin", f"127.0.0.1:{admin}", "-o",
                             "server.unix_mode=0770"] + USER,
                            stderr=subprocess.PIPE)
    try:
        assert wait_admin(admin)
        assert oct(os.stat(path).st_mode & 0o777) == "0o770"
        c = Client(path)
        assert c.set("k", b"v", noreply=False) is True
        assert c.get("k") == b"v"
        c.close()
    finally:
        assert stop(proc) == 0
    assert not os.path.exists(path)  # removed at exit
    shutil.rmtree(d, ignore_errors=True)


def test_pidfile_written_and_removed():
    d = shared_tmpdir()
    pidfile = os.path.join(d, "segcached.pid")
    admin = free_port()
    proc = subprocess.Popen([BIN, "--pidfile", pidfile, "--admin",
                             f"127.0.0.1:{admin}", "--memcache", "off",
                             "--resp", "off"] + USER, stderr=subprocess.PIPE)
    assert wait_admin(admin)
    with open(pidfile) as f:
        assert int(f.read()) == proc.pid
    assert stop(proc) == 0
    assert not os.path.exists(pidfile)
    shutil.rmtree(d, ignore_errors=True)


def test_daemonize_waits_for_ready_and_reports_errors():
    d = shared_tmpdir()
    pidfile = os.path.join(d, "segcached.pid")
    log = os.path.join(d, "segcached.log")
    admin = free_port()
    r = subprocess.run([BIN, "--daemonize", "--pidfile", pidfile, "--admin",
                        f"127.0.0.1:{admin}", "--memcache", "off", "--resp",
                        "off", "-o", f"log.file={log}"] + USER,
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 0, r.stderr
    # the parent exits only once the child serves
    with socket.create_connection(("127.0.0.1", admin), timeout=5) as s:
        s.sendall(b"version\r\n")
        assert s.recv(100).startswith(b"VERSION ")
    with open(pidfile) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 20 * SLOW
    while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")
    # a startup error still reaches the terminal with its exit code
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    r = subprocess.run([BIN, "--daemonize", "--admin",
                        f"127.0.0.1:{busy.getsockname()[1]}", "--memcache",
                        "off", "--resp", "off"] + USER, capture_output=True,
                       text=True, timeout=30 * SLOW)
    busy.close()
    assert r.returncode == 71, r.stderr
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(bool(os.environ.get("SEGCACHED_SANITIZE")),
                    reason="sanitizers install their own crash handlers")
def test_crash_leaves_a_backtrace_in_the_log():
    d = shared_tmpdir()
    log = os.path.join(d, "segcached.log")
    admin = free_port()
    proc = subprocess.Popen([BIN, "--admin", f"127.0.0.1:{admin}",
                             "--memcache", "off", "--resp", "off", "-o",
                             f"log.file={log}"] + USER,
                            stderr=subprocess.PIPE)
    assert wait_admin(admin)
    proc.send_signal(signal.SIGSEGV)
    rc = proc.wait(timeout=20 * SLOW)
    assert rc == -signal.SIGSEGV  # dies of the same signal
    with open(log) as f:
        text = f.read()
    assert "[crash] segcached received SIGSEGV" in text
    assert "[crash] end of backtrace" in text
    assert "segcached(" in text or "main" in text  # symbol names (-rdynamic)
    shutil.rmtree(d, ignore_errors=True)


def test_version_names_commit_and_build():
    r = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("segcached ")
    assert lines[1].startswith("commit ") and lines[2].startswith("build ")


def test_operations_guide_lists_every_metric():
    """docs/operations.md's table is --print-stats (scripts/gen-docs.sh)."""
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    with open(os.path.join(root, "docs", "operations.md")) as f:
        doc = f.read()
    r = subprocess.run([BIN, "--print-stats"], capture_output=True, text=True)
    names = [l.split()[0] for l in r.stdout.splitlines() if l.strip()]
    missing = [n for n in names if f"| `{n}` |" not in doc]
    assert not missing, f"run scripts/gen-docs.sh; missing {missing[:5]}"


def test_datapool_keeps_the_cache_across_a_clean_restart():
    """-e FILE (seg.datapool): after SIGTERM the next start serves the same
    items (values, flags, CAS, TTLs, databases); after a crash, or with
    another seg.memory, it starts empty and says why."""
    import redis
    from pymemcache.client.base import Client
    d = shared_tmpdir()
    pool = os.path.join(d, "store.pool")
    mc, rp, admin = free_port(), free_port(), free_port()

    def start(*extra):
        log = os.path.join(d, "segcached.log")
        if os.path.exists(log):
            os.unlink(log)
        proc = subprocess.Popen(
            [BIN, "--memcache", f"127.0.0.1:{mc}", "--resp",
             f"127.0.0.1:{rp}", "--admin", f"127.0.0.1:{admin}", "-e", pool,
             "-o", f"log.file={log}"] + list(extra) + USER,
            stderr=subprocess.PIPE)
        assert wait_admin(admin)
        return proc, log

    def clients():
        return (Client(("127.0.0.1", mc), timeout=10 * SLOW),
                redis.Redis(port=rp, socket_timeout=10 * SLOW))

    try:
        proc, _ = start()
        m, r = clients()
        for i in range(2000):
            m.set(f"k{i}", f"value{i}".encode(), noreply=False)
        m.set("flagged", b"f", noreply=False)
        m.set("short", b"s", expire=1, noreply=False)
        cas = m.gets("k7")[1]
        r.select(2)
        r.set("in-db-2", "yes")
        r.set("with-ttl", "t", ex=100)
        m.close()
        r.close()
        assert stop(proc) == 0
        time.sleep(1.5)  # "short" expires while the server is down

        proc, log = start()
        m, r = clients()
        assert m.get("k1999") == b"value1999"
        assert m.gets("k7") == (b"value7", cas)  # CAS tokens stay valid
        assert m.get("short") is None
        r.select(2)
        assert r.get("in-db-2") == b"yes"
        assert 90 <= r.ttl("with-ttl") <= 100
        assert m.set("after", b"a", noreply=False)
        assert int(m.gets("after")[1]) > int(cas)
        m.close()
        r.close()
        with open(log) as f:
            assert "taking the cache saved" in f.read()
        # a crash leaves no clean image: the next start is empty
        proc.kill()
        proc.wait()
        proc, log = start()
        m, _ = clients()
        assert m.get("k1") is None
        m.close()
        with open(log) as f:
            assert "not shut down cleanly" in f.read()
        assert stop(proc) == 0
        # another size: another layout, empty
        proc, log = start("-m", "32")
        m, _ = clients()
        assert m.get("k1") is None
        m.close()
        assert stop(proc) == 0
        with open(log) as f:
            assert "seg.memory" in f.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)

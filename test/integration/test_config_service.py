# SPDX-License-Identifier: Apache-2.0
"""Issue 23: configuration that cannot surprise, and running as a daemon
and a service. Each test failed on the main branch before the fix."""
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, SLOW, free_port, wait_admin

ROOT = os.geteuid() == 0
USER = ["-u", "nobody"] if ROOT else []
QUIET = ["--memcache", "off", "--resp", "off"]


def run(args, timeout=30 * SLOW, **kw):
    return subprocess.run([BIN] + args, capture_output=True, text=True,
                          timeout=timeout, **kw)


def write(tmp, text):
    path = os.path.join(tmp, "app.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def start(args, **kw):
    admin = free_port()
    proc = subprocess.Popen([BIN, "--admin", f"127.0.0.1:{admin}"] + QUIET +
                            USER + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)
    assert wait_admin(admin), proc.stderr.read() if proc.poll() else ""
    return proc, admin


def stop(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    return proc.wait(timeout=20 * SLOW)


# --- configuration ----------------------------------------------------------

CASES = [
    # (yaml, line of the bad value, words the message must hold)
    ("seg:\n  memory: 64MiB\n  evict: lru\n", 3,
     "seg.evict: not one of merge fifo random cte util none: lru"),
    ("seg:\n  segment_size: 100000\n", 2, "seg.segment_size"),
    ("seg:\n  merge_segments: 40\n", 2, "seg.merge_segments: 40: not in 2..16"),
    ("worker:\n  cpus: 4096\n", 2, "worker.cpus"),
    ("worker:\n  threads: 1000\n", 2, "worker.threads: 1000"),
    ("server:\n  max_connections: 0\n", 2, "server.max_connections"),
    ("server:\n  protected_mode: true\nmemcache:\n  listen: 0.0.0.0:7\n", 4,
     "memcache.listen"),
    # taken until issue 23's second pass: a buffer of 0 hung every client,
    # 0 admin connections locked operators out, the others were raised or
    # capped in silence
    ("worker:\n  buf_size: 0\n", 2, "worker.buf_size: 0: a connection buffer"),
    ("worker:\n  handshake_batch: 0\n", 2,
     "worker.handshake_batch: 0 would never finish"),
    ("admin:\n  max_connections: 0\n", 2,
     "admin.max_connections: 0 would refuse every operator"),
    ("msg:\n  ring_size: 0\n", 2, "msg.ring_size: 0: a ring"),
    # taken until now, then every request of the protocol was refused
    ("memcache:\n  line_max: 0\n", 2,
     "memcache.line_max: 0 would refuse every request"),
    ("memcache:\n  get_line_max: 0\n", 2,
     "memcache.get_line_max: 0 would refuse every request"),
    ("resp:\n  max_args: 0\n", 2,
     "resp.max_args: 0 would refuse every request"),
    ("resp:\n  max_request: 0\n", 2,
     "resp.max_request: 0 would refuse every request"),
    ("hotkey:\n  export: 101\n", 2,
     "hotkey.export: 101: more than the 100 keys"),
    ("hotkey:\n  threshold: 5\n", 2,
     "hotkey.threshold: 5: not a share of accesses in (0, 1]"),
    ("hotkey:\n  threshold: 0\n", 2, "hotkey.threshold: 0: not a share"),
]


@pytest.mark.parametrize("yaml,line,words", CASES)
def test_check_config_runs_every_startup_check(tmp_path, yaml, line, words):
    """--check-config says what startup would say, with file:line, and
    exits with startup's code (78, EX_CONFIG)."""
    path = write(str(tmp_path), yaml)
    chk = run(["--config", path, "--check-config", "--admin", "off"] + USER)
    assert chk.returncode == 78, chk.stdout + chk.stderr
    assert f"{path}:{line}: {words}" in chk.stderr, chk.stderr
    assert "configuration OK" not in chk.stdout
    # startup refuses the same way, with the same code
    started = run(["--config", path, "--admin", "off"] + USER)
    assert started.returncode == chk.returncode
    assert f"{path}:{line}: {words}" in started.stderr


def test_check_config_two_listeners_on_one_address(tmp_path):
    port = free_port()
    path = write(str(tmp_path), f"memcache:\n  listen: 127.0.0.1:{port}\n"
                                f"resp:\n  listen: 127.0.0.1:{port}\n")
    chk = run(["--config", path, "--check-config", "--admin", "off"] + USER)
    assert chk.returncode == 78, chk.stderr
    assert f"{path}:4: resp.listen: 127.0.0.1:{port}: the same address as " \
           "memcache.listen" in chk.stderr
    # every problem is reported, not only the first
    path = write(str(tmp_path), "seg:\n  evict: lru\nworker:\n  cpus: 4096\n")
    chk = run(["--config", path, "--check-config", "--admin", "off"] + USER +
              QUIET)
    assert f"{path}:2: seg.evict" in chk.stderr
    assert f"{path}:4: worker.cpus" in chk.stderr


def test_issue_23_every_problem_of_a_module_reported(tmp_path):
    """The store's and the workers' checks named only their first
    refused option: an operator fixed one, ran again, met the next."""
    path = write(str(tmp_path), "seg:\n  evict: lru\n  segment_size: 100000\n"
                                "  merge_segments: 40\n  hash_power: 3\n"
                                "worker:\n  threads: 500\n  cpus: 4096\n")
    for args in (["--check-config"], []):
        r = run(["--config", path, "--admin", "off"] + args + USER + QUIET)
        assert r.returncode == 78, r.stderr
        for line, words in ((2, "seg.evict: not one of"),
                            (3, "seg.segment_size: 100000 bytes"),
                            (4, "seg.merge_segments: 40: not in 2..16"),
                            (5, "seg.hash_power: 3: not 0 (auto)"),
                            (7, "worker.threads: 500: more than the 128"),
                            (8, "worker.cpus")):
            assert f"{path}:{line}: {words}" in r.stderr, (args, r.stderr)
        assert r.stderr.count("\n") == 6, r.stderr  # each once, no more
    # a later problem is judged as if the earlier were fixed: with the
    # segment size refused, memory is checked against the default size
    r = run(["-o", "seg.segment_size=100000", "-o", "seg.memory=1MiB",
             "--check-config"] + USER)
    assert r.returncode == 78
    assert "-o seg.segment_size: 100000 bytes" in r.stderr
    assert "-o seg.memory: 1048576 bytes: too small for 2 segments of " \
           "1048576" in r.stderr


def test_issue_23_every_bad_value_of_a_file_reported(tmp_path):
    """A YAML file's values were reported one at a time: the first bad one
    stopped the load, so an operator fixed it, ran again, met the next."""
    path = write(str(tmp_path), "seg:\n  memory: abc\n  nosuch: 1\n"
                                "worker:\n  idle_timeout: 30\n"
                                "admin:\n  idle_timeout: 5 minutes\n")
    for args in (["--check-config"], []):
        r = run(["--config", path] + args + USER + QUIET)
        assert r.returncode == 78, r.stderr
        assert r.stderr.splitlines() == [
            f"segcached: {path}:2: seg.memory: not a size: abc",
            f"segcached: {path}:3: seg.nosuch: unknown option",
            f"segcached: {path}:5: worker.idle_timeout: needs a unit "
            "(ms, s, m or min, h, d): 30",
            f"segcached: {path}:7: admin.idle_timeout: not a duration: "
            "5 minutes"], r.stderr


def test_issue_23_every_bad_override_reported():
    r = run(["-o", "worker.idle_timeout=30", "-o", "seg.memory=1x", "-o",
             "admin.idle_timeout=5", "--check-config"] + USER)
    assert r.returncode == 64, r.stderr  # EX_USAGE, as one bad -o
    assert "-o worker.idle_timeout: needs a unit" in r.stderr
    assert "-o seg.memory: not a size: 1x" in r.stderr
    assert "-o admin.idle_timeout: needs a unit" in r.stderr


def test_issue_23_flags_named_as_typed():
    """A value from -m, -t, -c, -p, --resp... was reported as an -o the
    operator never wrote."""
    r = run(["-m", "1", "-t", "200", "-c", "0", "--check-config"] + USER)
    assert r.returncode == 78
    assert "segcached: -m seg.memory: 1048576 bytes: too small" in r.stderr
    assert "segcached: -t worker.threads: 200: more than the 128" in r.stderr
    assert "segcached: -c server.max_connections: 0 would refuse" in r.stderr
    assert "-o " not in r.stderr
    r = run(["-t", "x", "-m", "1x", "--check-config"] + USER)
    assert r.returncode == 64
    assert "segcached: -t worker.threads: not an unsigned integer: x" \
        in r.stderr
    assert "segcached: -m seg.memory: not a size: 1x" in r.stderr
    # two listeners: the other one's origin is named too
    r = run(["-p", "6379", "--check-config"] + USER)
    assert r.returncode == 78
    assert "resp.listen: 127.0.0.1:6379: the same address as " \
           "memcache.listen (-p)" in r.stderr
    r = run(["--resp", "127.0.0.1:11211", "--check-config"] + USER)
    assert "segcached: --resp resp.listen: 127.0.0.1:11211: the same " \
           "address as memcache.listen (its default)" in r.stderr
    r = run(["-l", "0.0.0.0", "--resp", "off", "--check-config"] + USER)
    assert r.returncode == 78
    assert "segcached: -l memcache.listen: 0.0.0.0:11211 is reachable" \
        in r.stderr


def test_nothing_lowered_in_silence():
    r = run(["-o", "seg.merge_segments=40", "--check-config"] + USER + QUIET +
            ["--admin", "off"])
    assert r.returncode == 78
    assert "-o seg.merge_segments: 40: not in 2..16" in r.stderr
    r = run(["-o", "seg.segment_size=100000", "--check-config"] + USER +
            QUIET + ["--admin", "off"])
    assert r.returncode == 78 and "multiple of 4KiB" in r.stderr
    # the defaults themselves pass
    r = run(["--check-config"] + USER)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


def test_durations_need_a_unit():
    r = run(["-o", "worker.idle_timeout=30", "--check-config"] + USER)
    assert r.returncode == 64  # EX_USAGE, as every bad -o value
    assert "worker.idle_timeout: needs a unit (ms, s, m or min, h, d): 30" \
        in r.stderr
    for ok in ("30s", "5min", "100ms", "1h", "0"):
        r = run(["-o", f"worker.idle_timeout={ok}", "--check-config"] + USER)
        assert r.returncode == 0, (ok, r.stderr)


def test_config_file_bare_duration_names_the_line(tmp_path):
    path = write(str(tmp_path), "admin:\n  idle_timeout: 300\n")
    r = run(["--config", path, "--check-config"] + USER)
    assert r.returncode == 78
    assert f"{path}:2: admin.idle_timeout: needs a unit" in r.stderr


def test_memory_flag_takes_mib_or_a_size():
    for arg in ("64", "64MiB", "1GiB"):
        r = run(["-m", arg, "--check-config"] + USER)
        assert r.returncode == 0, (arg, r.stderr)
    r = run(["-m", "64MiB", "--print-config"])
    assert "memory: 64MiB" in r.stdout
    r = run(["-m", "64MiBMiB", "--check-config"] + USER)
    assert r.returncode == 64 and "MiBMiB" in r.stderr
    assert "64MiBMiBMiB" not in r.stderr


def test_limits_threads_memory_connections():
    r = run(["-t", "129", "--check-config"] + USER)
    assert r.returncode == 78
    assert "worker.threads: 129: more than the 128" in r.stderr
    r = run(["-c", "0", "--check-config"] + USER)
    assert r.returncode == 78
    assert "server.max_connections: 0 would refuse every client" in r.stderr
    # more memory than the machine has: taken, with a warning
    r = run(["-m", str(1024 * 1024), "--check-config"] + USER)  # 1 TiB
    assert r.returncode == 0, r.stderr
    assert "warning: -m seg.memory" in r.stderr
    assert "physical memory" in r.stderr


def test_issue_23_buffer_memory_raise_shown_by_check_config():
    """worker.buffer_memory below one large request per worker is raised
    at start (a request is never refused for it): --check-config said
    'configuration OK' and nothing else."""
    r = run(["-t", "2", "-o", "worker.buffer_memory=1MiB", "--check-config"]
            + USER)
    assert r.returncode == 0, r.stderr
    assert "warning: -o worker.buffer_memory: 1048576 bytes for 2 workers " \
           "is less than one large request needs" in r.stderr
    r = run(["-t", "2", "--check-config"] + USER)
    assert r.returncode == 0 and r.stderr == ""


def test_config_set_timeout_is_seconds_and_live():
    import redis
    rp = free_port()
    admin = free_port()
    proc = subprocess.Popen([BIN, "--admin", f"127.0.0.1:{admin}",
                             "--memcache", "off", "--resp",
                             f"127.0.0.1:{rp}", "-o",
                             "worker.idle_timeout=1500ms"] + USER,
                            stderr=subprocess.PIPE)
    try:
        assert wait_admin(admin)
        r = redis.Redis(port=rp, socket_timeout=10 * SLOW)
        assert r.config_get("timeout") == {"timeout": "2"}  # rounded up
        assert r.config_set("timeout", 30) is True
        assert r.config_get("timeout") == {"timeout": "30"}
        # 30 is seconds: an idle connection outlives 2 s
        idle = socket.create_connection(("127.0.0.1", rp))
        time.sleep(2.5)
        idle.sendall(b"PING\r\n")
        assert idle.recv(100) == b"+PONG\r\n"
        idle.close()
        with pytest.raises(redis.ResponseError):
            r.config_set("timeout", -1)
        assert r.config_get("timeout") == {"timeout": "30"}
    finally:
        assert stop(proc) == 0


# --- daemon and service ----------------------------------------------------

def test_daemonize_detaches_from_a_stderr_pipe():
    """Today the daemon kept the caller's stderr pipe open and a caller
    reading it waited forever."""
    d = tempfile.mkdtemp(prefix="segcached-daemon-")
    os.chmod(d, 0o777)
    pidfile = os.path.join(d, "s.pid")
    admin = free_port()
    try:
        r = subprocess.run([BIN, "-d", "--pidfile", pidfile, "--admin",
                            f"127.0.0.1:{admin}"] + QUIET + USER,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20 * SLOW)
        assert r.returncode == 0, r.stderr
        assert b"log is discarded" in r.stderr
        with open(pidfile) as f:
            pid = int(f.read())
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        assert int(fields[3]) == pid  # a session of its own: no terminal
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 20 * SLOW
        while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_daemonize_startup_failure_reaches_the_caller():
    """-d with an address in use: the caller gets the reason on stderr and
    the exit code README gives (71), not a 0 from a parent that left."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        r = subprocess.run([BIN, "-d", "--memcache", f"127.0.0.1:{port}",
                            "--resp", "off", "--admin",
                            f"127.0.0.1:{free_port()}"] + USER,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20 * SLOW)
        assert r.returncode == 71, r.stderr  # EX_OSERR
        assert b"address already in use" in r.stderr
    finally:
        busy.close()


def comm(pid, tid=None):
    path = f"/proc/{pid}/comm" if tid is None else \
        f"/proc/{pid}/task/{tid}/comm"
    with open(path) as f:
        return f.read().strip()


def test_process_keeps_its_name_threads_have_theirs():
    proc, _ = start(["-t", "2"])
    try:
        assert comm(proc.pid) == "segcached"
        wants = ("segcached", "admin", "server", "bg", "worker-0", "worker-1",
                 "block-timer")
        deadline = time.time() + 5 * SLOW  # a thread names itself as it starts
        while True:
            names = sorted(comm(proc.pid, t)
                           for t in os.listdir(f"/proc/{proc.pid}/task"))
            if all(w in names for w in wants) or time.time() > deadline:
                break
            time.sleep(0.05)
        for want in wants:
            assert want in names, names
        # the main thread alone carries the process's name: a thread left
        # unnamed inherits it (the blocked clients' timer did)
        assert names.count("segcached") == 1, names
        found = subprocess.run(["pgrep", "-x", "segcached"],
                               capture_output=True, text=True).stdout.split()
        assert str(proc.pid) in found
    finally:
        assert stop(proc) == 0


@pytest.mark.skipif(not ROOT, reason="needs root to drop privileges")
def test_pidfile_removed_after_dropping_privileges():
    d = tempfile.mkdtemp(prefix="segcached-run-")
    os.chmod(d, 0o755)  # like /run: nobody may not remove files here
    pidfile = os.path.join(d, "segcached.pid")
    try:
        proc, _ = start(["--pidfile", pidfile])
        with open(pidfile) as f:
            assert int(f.read()) == proc.pid
        assert stop(proc) == 0
        assert not os.path.exists(pidfile)
        # and after a crash too
        proc, _ = start(["--pidfile", pidfile])
        proc.kill()
        proc.wait()
        deadline = time.time() + 10 * SLOW
        while os.path.exists(pidfile) and time.time() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(pidfile)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_second_instance_refuses_a_live_pidfile():
    d = tempfile.mkdtemp(prefix="segcached-run-")
    os.chmod(d, 0o777)
    pidfile = os.path.join(d, "segcached.pid")
    try:
        first, admin = start(["--pidfile", pidfile])
        # memcached's -P is the same option
        r = run(["-P", pidfile, "--admin", f"127.0.0.1:{free_port()}"]
                + QUIET + USER)
        assert r.returncode == 73, r.stderr  # EX_CANTCREAT
        assert f"segcached is running as pid {first.pid}" in r.stderr
        with open(pidfile) as f:
            assert int(f.read()) == first.pid  # not taken over
        assert stop(first) == 0
        # a stale file (its process gone) does not stop a start
        with open(pidfile, "w") as f:
            f.write("999999\n")
        second, _ = start(["--pidfile", pidfile])
        assert stop(second) == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_sigusr1_stops_gracefully_and_keeps_the_datapool():
    from pymemcache.client.base import Client
    d = tempfile.mkdtemp(prefix="segcached-pool-")
    os.chmod(d, 0o777)
    pool = os.path.join(d, "store.pool")
    mc = free_port()
    try:
        def up():
            admin = free_port()
            p = subprocess.Popen([BIN, "--admin", f"127.0.0.1:{admin}",
                                  "--memcache", f"127.0.0.1:{mc}", "--resp",
                                  "off", "-m", "16", "-e", pool] + USER,
                                 stderr=subprocess.PIPE)
            assert wait_admin(admin)
            return p
        proc = up()
        c = Client(("127.0.0.1", mc), timeout=10 * SLOW)
        assert c.set("warm", b"yes", noreply=False)
        c.close()
        assert stop(proc, signal.SIGUSR1) == 0
        proc = up()
        c = Client(("127.0.0.1", mc), timeout=10 * SLOW)
        assert c.get("warm") == b"yes"
        c.close()
        assert stop(proc) == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(not ROOT or shutil.which("setpriv") is None,
                    reason="needs root and util-linux's setpriv")
def test_user_switch_failure_exits_77():
    """README's exit-code table: 77 (EX_NOPERM) when -u USER was given
    but switching to that user failed; here the process may not change
    its ids (setuid and setgid dropped from its bounding set)."""
    port = free_port()
    r = subprocess.run(["setpriv", "--bounding-set", "-setuid,-setgid", BIN,
                        "-u", "nobody", "--memcache", f"127.0.0.1:{port}",
                        "--resp", "off", "--admin", "off"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 77, r.stderr
    assert "segcached: cannot become nobody: Operation not permitted" \
        in r.stderr


def test_sigusr2_is_ignored():
    proc, admin = start([])
    try:
        proc.send_signal(signal.SIGUSR2)
        time.sleep(0.5)
        assert proc.poll() is None
        assert wait_admin(admin)
    finally:
        assert stop(proc) == 0


# --- install and build -----------------------------------------------------

BUILD_DIR = os.environ.get("SEGCACHED_BUILD_DIR",
                           os.path.dirname(os.path.abspath(BIN)))
SOURCE_DIR = os.path.join(os.path.dirname(__file__), "..", "..")


def test_install_keeps_an_existing_config_and_lists_the_unit():
    prefix = tempfile.mkdtemp(prefix="segcached-install-")
    try:
        def install():
            r = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix",
                                prefix], capture_output=True, text=True,
                               timeout=120)
            assert r.returncode == 0, r.stderr
            return r.stdout
        install()
        config = os.path.join(prefix, "etc", "segcached", "segcached.yml")
        unit = os.path.join(prefix, "lib", "systemd", "system",
                            "segcached.service")
        with open(os.path.join(BUILD_DIR, "install_manifest.txt")) as f:
            manifest = f.read().split()
        assert any(p.endswith("/lib/systemd/system/segcached.service")
                   for p in manifest), manifest
        assert os.path.exists(unit)
        with open(config, "a") as f:
            f.write("# the operator's own edit\n")
        out = install()
        with open(config) as f:
            assert f.read().endswith("# the operator's own edit\n")
        assert os.path.exists(config + ".dist")
        assert "Keeping" in out
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def test_server_builds_without_test_dependencies():
    """-DBUILD_TESTING=OFF configures where cmocka cannot be found and links
    only the run-time libraries."""
    tmp = tempfile.mkdtemp(prefix="segcached-notest-")
    try:
        pc = os.path.join(tmp, "pc")
        os.mkdir(pc)
        for lib in ("yaml-0.1", "libxxhash", "lua5.1", "lua5.1-cjson",
                    "lua5.1-bitop"):
            where = subprocess.run(["pkg-config", "--variable=pcfiledir", lib],
                                   capture_output=True, text=True).stdout
            shutil.copy(os.path.join(where.strip(), lib + ".pc"), pc)
        env = dict(os.environ, PKG_CONFIG_LIBDIR=pc, PKG_CONFIG_PATH="")
        build = os.path.join(tmp, "build")
        r = subprocess.run(["cmake", "-S", SOURCE_DIR, "-B", build,
                            "-DBUILD_TESTING=OFF"], capture_output=True,
                           text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run(["cmake", "--build", build, "-j2", "--target",
                            "segcached"], capture_output=True, text=True,
                           env=env, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        libs = subprocess.run(["ldd", os.path.join(build, "segcached")],
                              capture_output=True, text=True).stdout
        assert "cmocka" not in libs and "libyaml" in libs
        # the run-time libraries README names, and no others of ours
        for lib in ("libxxhash", "libssl", "libcrypto"):
            assert lib in libs, libs
        assert not os.path.exists(os.path.join(build, "test"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

# SPDX-License-Identifier: Apache-2.0
"""TLS on the memcache, resp and admin listeners (issue 21): real clients
(redis-cli --tls, redis-py ssl=True, pymemcache with tls_context, openssl
s_client), client certificates, reload without restart, and hostile input:
plain text to a TLS port, TLS to a plain port, handshakes never finished.

Every certificate is made here, in a temporary directory, by the openssl
command line; no key is committed."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient

from conftest import SLOW, Server, free_port, wait_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="needs the openssl command line")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
            cwd=d)


def make_cert(d, name, ca, cn, days="2", san=None):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={cn}", cwd=d)
    args = ["x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt",
            "-CAkey", f"{ca}.key", "-CAcreateserial", "-out", f"{name}.crt",
            "-days", days]
    if san:
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\n")
        args += ["-extfile", f"{name}.ext"]
    openssl(*args, cwd=d)


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="segcached-tls-")
    san = "DNS:localhost,IP:127.0.0.1"
    make_ca(d, "ca")
    make_ca(d, "otherca")
    make_cert(d, "server", "ca", "localhost", san=san)
    make_cert(d, "server2", "ca", "localhost", san=san)
    make_cert(d, "client", "ca", "client")
    make_cert(d, "expired", "ca", "client", days="-1")
    make_cert(d, "stranger", "otherca", "client")
    # the server drops root for nobody, who must read them to reload
    os.chmod(d, 0o755)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    yield {n: os.path.join(d, n) for n in os.listdir(d)}
    shutil.rmtree(d, ignore_errors=True)


class TlsServer(Server):
    """segcached with TLS listeners for memcache and resp (and admin)."""

    def __init__(self, certs, extra=(), auth="no", threads=2):
        self.tls_ports = {"memcache": free_port(), "resp": free_port(),
                          "admin": free_port()}
        args = ["--memcache-tls", f"127.0.0.1:{self.tls_ports['memcache']}",
                "--resp-tls", f"127.0.0.1:{self.tls_ports['resp']}",
                "-o", f"admin.tls_listen=127.0.0.1:{self.tls_ports['admin']}",
                "-o", f"tls.cert_file={certs['server.crt']}",
                "-o", f"tls.key_file={certs['server.key']}",
                "-o", f"tls.ca_cert_file={certs['ca.crt']}",
                "-o", f"tls.auth_clients={auth}", *extra]
        super().__init__(args=args, protocols=("memcache", "resp"),
                         threads=threads)


@pytest.fixture
def tls_server(certs):
    started = []

    def make(**kw):
        s = TlsServer(certs, **kw)
        started.append(s)
        return s
    yield make
    for s in started:
        if s.proc.poll() is None:
            assert s.stop() == 0, s.stderr
        shutil.rmtree(s.logdir, ignore_errors=True)


def client_ctx(certs, cert=None, maximum=None):
    ctx = ssl.create_default_context(cafile=certs["ca.crt"])
    if cert is not None:
        ctx.load_cert_chain(certs[f"{cert}.crt"], certs[f"{cert}.key"])
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def tls_connect(port, ctx, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    return ctx.wrap_socket(raw, server_hostname="localhost", session=session)


def redis_cli(port, certs, *cmd, cert=None):
    args = ["redis-cli", "--tls", "--cacert", certs["ca.crt"], "-p",
            str(port)]
    if cert is not None:
        args += ["--cert", certs[f"{cert}.crt"], "--key",
                 certs[f"{cert}.key"]]
    return subprocess.run(args + list(cmd), capture_output=True, text=True,
                          timeout=20 * SLOW)


# ---- real clients ----

@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli")
def test_redis_cli_tls(tls_server, certs):
    s = tls_server()
    port = s.tls_ports["resp"]
    assert redis_cli(port, certs, "set", "k", "v").stdout.strip() == "OK"
    assert redis_cli(port, certs, "get", "k").stdout.strip() == "v"
    # the same store behind the plain port
    r = redis.Redis(port=s.port("resp"))
    assert r.get("k") == b"v"
    assert s.stats()["tls_handshake"] >= 2


def test_redis_py_ssl(tls_server, certs):
    s = tls_server()
    r = redis.Redis(port=s.tls_ports["resp"], ssl=True,
                    ssl_ca_certs=certs["ca.crt"], ssl_cert_reqs="required")
    assert r.ping()
    big = os.urandom(300 * 1024)  # many TLS records each way
    assert r.set("big", big)
    assert r.get("big") == big
    p = r.pipeline(transaction=False)
    for i in range(500):
        p.set(f"k{i}", str(i))
    for i in range(500):
        p.get(f"k{i}")
    out = p.execute()
    assert out[500:] == [str(i).encode() for i in range(500)]


def test_pymemcache_tls_context(tls_server, certs):
    s = tls_server()
    mc = MemcacheClient(("127.0.0.1", s.tls_ports["memcache"]),
                        tls_context=client_ctx(certs), timeout=10 * SLOW)
    assert mc.set("a", b"1")
    assert mc.get("a") == b"1"
    big = os.urandom(500 * 1024)
    assert mc.set("big", big)
    assert mc.get("big") == big
    many = {f"m{i}": str(i).encode() for i in range(300)}
    mc.set_many(many)
    assert mc.get_many(list(many)) == many
    st = mc.stats()
    assert st[b"ssl_handshake_errors"] == 0
    assert st[b"ssl_new_sessions"] >= 1
    settings = mc.stats("settings")
    assert settings[b"ssl_enabled"] in (True, b"yes")
    assert settings[b"ssl_chain_cert"] == certs["server.crt"].encode()
    assert settings[b"ssl_key"] == certs["server.key"].encode()
    assert settings[b"ssl_ca_cert"] == certs["ca.crt"].encode()
    assert settings[b"ssl_verify_mode"] == 0
    assert settings[b"ssl_min_version"] == b"tlsv1.2"
    mc.close()


def test_openssl_s_client_memcache_and_admin(tls_server, certs):
    s = tls_server()
    for port, line, want in ((s.tls_ports["memcache"],
                              b"set x 0 0 2\r\nhi\r\nget x\r\n",
                              b"VALUE x 0 2\r\nhi\r\nEND"),
                             (s.tls_ports["admin"], b"stats\r\n",
                              b"STAT tls_handshake ")):
        p = subprocess.Popen(["openssl", "s_client", "-quiet", "-connect",
                              f"127.0.0.1:{port}", "-CAfile",
                              certs["ca.crt"], "-verify_return_error"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(line)
        p.stdin.flush()
        out = b""
        deadline = time.time() + 10 * SLOW
        os.set_blocking(p.stdout.fileno(), False)
        while want not in out and time.time() < deadline:
            chunk = p.stdout.read()
            if chunk:
                out += chunk
            else:
                time.sleep(0.02)
        p.kill()
        p.wait()
        assert want in out, out


def test_chain_sent_is_built_from_the_ca_file(tls_server, certs):
    """The certificate file holds only the server's certificate: the chain
    sent is that certificate and its CA from tls.ca_cert_file, as OpenSSL
    built it per handshake before segcached built it once at load, and
    again after a reload."""
    s = tls_server()

    def chain():
        r = subprocess.run(["openssl", "s_client", "-showcerts", "-connect",
                            f"127.0.0.1:{s.tls_ports['resp']}"],
                           input=b"", capture_output=True, timeout=20 * SLOW)
        return [ln.strip() for ln in r.stdout.decode().splitlines()
                if ln.strip()[:2] in ("0 ", "1 ", "2 ")]
    want = ["0 s:CN = localhost", "1 s:CN = ca"]
    assert chain() == want
    s.proc.send_signal(signal.SIGHUP)  # reloads the certificates
    deadline = time.time() + 10 * SLOW
    while s.stats().get("tls_reload", 0) < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert chain() == want


# ---- client certificates ----

@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli")
def test_client_certificates_required(tls_server, certs):
    s = tls_server(auth="yes")
    port = s.tls_ports["resp"]
    ok = redis_cli(port, certs, "ping", cert="client")
    assert ok.stdout.strip() == "PONG", ok.stderr
    for cert in (None, "expired", "stranger"):
        r = redis_cli(port, certs, "ping", cert=cert)
        assert "PONG" not in r.stdout, cert
    st = s.wait_stat("tls_handshake_ex", lambda v: v >= 3)
    assert st >= 3
    assert s.stats()["tls_handshake_verify_ex"] >= 2  # expired, stranger
    log = s.log()
    assert "client certificate refused: certificate has expired" in log
    assert "client certificate refused" in log
    mc = MemcacheClient(("127.0.0.1", s.tls_ports["memcache"]),
                        tls_context=client_ctx(certs, cert="client"))
    # memcached 1.6.18 prints the OpenSSL flags: PEER | FAIL_IF_NO_PEER_CERT
    assert mc.stats("settings")[b"ssl_verify_mode"] == 3
    mc.close()


def test_client_certificates_optional(tls_server, certs):
    s = tls_server(auth="optional")
    for cert in (None, "client"):
        with tls_connect(s.tls_ports["memcache"],
                         client_ctx(certs, cert=cert)) as c:
            c.sendall(b"version\r\n")
            assert c.recv(100).startswith(b"VERSION ")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        with tls_connect(s.tls_ports["memcache"],
                         client_ctx(certs, cert="stranger")) as c:
            c.sendall(b"version\r\n")
            c.recv(100)


def tls_exchange(port, ctx, line, session=None):
    """Sends line over a new TLS connection; returns (reply, session,
    session_reused), or raises when the server refuses the client."""
    with tls_connect(port, ctx, session=session) as c:
        c.sendall(line)
        reply = c.recv(100)
        if not reply:
            raise ConnectionError("closed by the server")
        return reply, c.session, c.session_reused


def test_client_certificate_policy_per_listener(tls_server, certs):
    """Each TLS listener has its own client-certificate policy: here resp
    requires one, memcache asks for none (tls.auth_clients) and admin takes
    one if offered. Redis's tls-auth-clients is the resp listener's,
    memcached's ssl_verify_mode the memcache listener's."""
    s = tls_server(auth="no", extra=["-o", "resp.tls_auth_clients=yes",
                                     "-o", "admin.tls_auth_clients=optional"])
    resp, mc, admin = (s.tls_ports[p] for p in ("resp", "memcache", "admin"))
    # resp: redis-cli --tls without a certificate is refused, with one served
    if shutil.which("redis-cli") is not None:
        assert "PONG" not in redis_cli(resp, certs, "ping").stdout
        ok = redis_cli(resp, certs, "config", "get", "tls-auth-clients",
                       cert="client")
        assert ok.stdout.split() == ["tls-auth-clients", "yes"], ok.stderr
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_exchange(resp, client_ctx(certs), b"PING\r\n")
    assert tls_exchange(resp, client_ctx(certs, cert="client"),
                        b"PING\r\n")[0] == b"+PONG\r\n"
    r = redis.Redis(port=resp, ssl=True, ssl_ca_certs=certs["ca.crt"],
                    ssl_certfile=certs["client.crt"],
                    ssl_keyfile=certs["client.key"])
    assert r.config_get("tls-auth-clients") == {"tls-auth-clients": "yes"}
    # CONFIG SET tls-auth-clients, as Redis: new connections follow it,
    # this one (verified already) goes on
    assert r.config_set("tls-auth-clients", "no")
    assert r.config_get("tls-auth-clients") == {"tls-auth-clients": "no"}
    assert tls_exchange(resp, client_ctx(certs), b"PING\r\n")[0] == \
        b"+PONG\r\n"
    assert r.config_set("tls-auth-clients", "optional")
    assert tls_exchange(resp, client_ctx(certs), b"PING\r\n")[0] == \
        b"+PONG\r\n"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_exchange(resp, client_ctx(certs, cert="stranger"), b"PING\r\n")
    assert r.config_set("tls-auth-clients", "yes")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_exchange(resp, client_ctx(certs), b"PING\r\n")
    with pytest.raises(redis.ResponseError,
                       match="argument.s. must be one of the following: "
                             "no, yes, optional"):
        r.config_set("tls-auth-clients", "maybe")
    assert r.ping()
    r.close()
    # memcache: no certificate asked for; memcached's ssl_verify_mode 0
    reply, session, _ = tls_exchange(mc, client_ctx(certs), b"version\r\n")
    assert reply.startswith(b"VERSION ")
    m = MemcacheClient(("127.0.0.1", mc), tls_context=client_ctx(certs))
    assert m.stats("settings")[b"ssl_verify_mode"] == 0
    m.close()
    # admin: optional, so with or without a good one, never a stranger
    for cert in (None, "client"):
        assert tls_exchange(admin, client_ctx(certs, cert=cert),
                            b"version\r\n")[0].startswith(b"VERSION ")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_exchange(admin, client_ctx(certs, cert="stranger"),
                     b"version\r\n")


def test_session_from_a_listener_without_certificates_does_not_resume_where_required(
        tls_server, certs):
    """One context serves every listener, so a session made where no
    certificate was asked for must not let its client skip the
    certificate on a listener that requires one (resumption carries the
    peer's certificate, or its absence). Sessions resume within a policy."""
    s = tls_server(auth="no", extra=["-o", "resp.tls_auth_clients=yes"])
    for tls12 in (True, False):  # session cache id, and TLS 1.3 tickets
        ctx = client_ctx(certs, maximum=ssl.TLSVersion.TLSv1_2
                         if tls12 else None)
        _, session, _ = tls_exchange(s.tls_ports["memcache"], ctx,
                                     b"version\r\n")
        # resumes on its own listener
        assert tls_exchange(s.tls_ports["memcache"], ctx, b"version\r\n",
                            session=session)[2]
        # not on the listener that requires a certificate
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls_exchange(s.tls_ports["resp"], ctx, b"PING\r\n",
                         session=session)
    assert s.stats()["tls_session_reused"] >= 2


def test_protected_mode_counts_required_client_certs(certs):
    """A TLS listener off loopback is allowed when clients need a
    certificate; the same without client certificates is refused."""
    base = ["-o", f"tls.cert_file={certs['server.crt']}",
            "-o", f"tls.key_file={certs['server.key']}",
            "-o", f"tls.ca_cert_file={certs['ca.crt']}",
            "--memcache", "off", "--resp", "off", "--admin", "off",
            "--check-config"]
    if os.geteuid() == 0:  # --check-config runs startup's root check too
        base += ["-u", "nobody"]
    port = free_port()
    wide = ["--resp-tls", f"0.0.0.0:{port}"]
    from conftest import BIN
    r = subprocess.run([BIN, *base, *wide, "-o", "tls.auth_clients=no"],
                       capture_output=True, text=True)
    assert r.returncode != 0, r.stderr
    assert "resp.tls_listen" in r.stderr and "protected_mode" in r.stderr
    r = subprocess.run([BIN, *base, *wide, "-o", "tls.auth_clients=yes"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the listener's own policy is the one that counts
    r = subprocess.run([BIN, *base, *wide, "-o", "tls.auth_clients=yes",
                        "-o", "resp.tls_auth_clients=optional"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "resp.tls_listen" in r.stderr, r.stderr
    r = subprocess.run([BIN, *base, *wide, "-o", "resp.tls_auth_clients=yes"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    mc_wide = ["--memcache-tls", f"0.0.0.0:{free_port()}"]
    r = subprocess.run([BIN, *base, *wide, *mc_wide,
                        "-o", "resp.tls_auth_clients=yes"],
                       capture_output=True, text=True)
    assert r.returncode != 0, r.stderr
    assert "memcache.tls_listen" in r.stderr
    assert "resp.tls_listen" not in r.stderr
    r = subprocess.run([BIN, *base, *wide, *mc_wide,
                        "-o", "resp.tls_auth_clients=yes",
                        "-o", "memcache.tls_auth_clients=yes"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_protected_mode_holds_for_config_set(certs):
    """CONFIG SET tls-auth-clients cannot open a resp TLS listener that
    other machines reach to clients without a certificate or password, as
    startup would refuse it; on loopback the same is allowed."""
    wide = Server(args=["--resp-tls", f"0.0.0.0:{free_port()}",
                        "-o", f"tls.cert_file={certs['server.crt']}",
                        "-o", f"tls.key_file={certs['server.key']}",
                        "-o", f"tls.ca_cert_file={certs['ca.crt']}",
                        "-o", "resp.tls_auth_clients=yes"],
                  protocols=("resp",))
    try:
        r = redis.Redis(port=wide.port("resp"))
        for value in ("no", "optional"):
            with pytest.raises(redis.ResponseError, match="protected mode"):
                r.config_set("tls-auth-clients", value)
        assert r.config_get("tls-auth-clients") == {"tls-auth-clients": "yes"}
        r.close()
    finally:
        assert wide.stop() == 0
    plain = Server(protocols=("resp",))
    try:
        r = redis.Redis(port=plain.port("resp"))
        with pytest.raises(redis.ResponseError, match="TLS is not configured"):
            r.config_set("tls-auth-clients", "yes")
        r.close()
    finally:
        assert plain.stop() == 0


# ---- Unix sockets ----

def unix_tls_connect(path, ctx):
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(10 * SLOW)
    raw.connect(path)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_until(sock, end):
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def unix_tls_server(certs):
    """TLS on Unix-socket listeners for memcache, resp and admin."""
    d = tempfile.mkdtemp(prefix="segcached-tls-unix-")
    os.chmod(d, 0o777)
    paths = {p: os.path.join(d, f"{p}.sock")
             for p in ("memcache", "resp", "admin")}
    s = Server(args=["--memcache-tls", f"unix:{paths['memcache']}",
                     "--resp-tls", f"unix:{paths['resp']}",
                     "-o", f"admin.tls_listen=unix:{paths['admin']}",
                     "-o", "server.unix_mode=0777",
                     "-o", f"tls.cert_file={certs['server.crt']}",
                     "-o", f"tls.key_file={certs['server.key']}",
                     "-o", f"tls.ca_cert_file={certs['ca.crt']}"],
               protocols=("memcache", "resp"))
    yield s, paths
    if s.proc.poll() is None:
        assert s.stop() == 0, s.stderr
    shutil.rmtree(s.logdir, ignore_errors=True)
    shutil.rmtree(d, ignore_errors=True)


def test_tls_over_unix_sockets(unix_tls_server, certs):
    """A TLS listener may be a Unix socket (unix:/path), for memcache, resp
    and admin alike: Python's ssl over AF_UNIX speaks each protocol."""
    s, paths = unix_tls_server
    ctx = client_ctx(certs)
    with unix_tls_connect(paths["memcache"], ctx) as c:
        c.sendall(b"set k 0 0 5\r\nhello\r\nget k\r\n")
        assert read_until(c, b"END\r\n") == \
            b"STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n"
    with unix_tls_connect(paths["resp"], ctx) as c:
        c.sendall(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")  # one store
        assert read_until(c, b"hello\r\n") == b"$5\r\nhello\r\n"
    with unix_tls_connect(paths["admin"], ctx) as c:
        c.sendall(b"stats\r\n")
        assert b"STAT tls_handshake " in read_until(c, b"END\r\n")
    assert s.stats()["tls_handshake"] >= 2  # workers' handshakes
    # plain text to a Unix TLS socket fails the handshake and is closed
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(10 * SLOW)
    raw.connect(paths["resp"])
    raw.sendall(b"PING\r\n" * 10)
    data = read_until(raw, b"never")  # an alert at most, then the close
    assert b"PONG" not in data
    raw.close()
    s.wait_stat("tls_handshake_ex", lambda v: v >= 1)


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli")
def test_redis_cli_tls_over_unix_socket(unix_tls_server, certs):
    s, paths = unix_tls_server
    args = ["redis-cli", "--tls", "--cacert", certs["ca.crt"], "-s",
            paths["resp"]]
    r = subprocess.run(args + ["set", "u", "1"], capture_output=True,
                       text=True, timeout=20 * SLOW)
    assert r.stdout.strip() == "OK", r.stderr
    assert redis.Redis(port=s.port("resp")).get("u") == b"1"


def test_openssl_s_client_over_unix_socket(unix_tls_server, certs):
    s, paths = unix_tls_server
    r = subprocess.run(["openssl", "s_client", "-quiet", "-unix",
                        paths["memcache"], "-CAfile", certs["ca.crt"],
                        "-verify_return_error"],
                       input=b"version\r\nquit\r\n", capture_output=True,
                       timeout=20 * SLOW)
    assert r.stdout.startswith(b"VERSION "), r.stderr


# ---- hostile input ----

def test_plain_text_to_tls_port(tls_server, certs):
    s = tls_server()
    for port in (s.tls_ports["memcache"], s.tls_ports["resp"]):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(b"get foo\r\nPING\r\n" * 10)
            data = b""
            while True:  # an alert at most, then the close
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert b"END" not in data and b"PONG" not in data
    s.wait_stat("tls_handshake_ex", lambda v: v >= 2)
    assert "handshake failed" in s.log()
    mc = MemcacheClient(("127.0.0.1", s.tls_ports["memcache"]),
                        tls_context=client_ctx(certs))
    assert mc.version()  # still serving
    mc.close()


def test_tls_to_plain_port(tls_server, certs):
    s = tls_server()
    for proto in ("memcache", "resp"):
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with tls_connect(s.port(proto), client_ctx(certs)) as c:
                c.sendall(b"version\r\n")
                c.recv(100)
    mc = MemcacheClient(("127.0.0.1", s.port("memcache")))
    assert mc.version()
    mc.close()


def test_handshake_never_finished_times_out(tls_server, certs):
    s = tls_server(extra=["-o", "worker.handshake_timeout=1s"])
    silent = socket.create_connection(("127.0.0.1", s.tls_ports["resp"]))
    half = socket.create_connection(("127.0.0.1", s.tls_ports["memcache"]))
    half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # cut off
    for c in (silent, half):
        c.settimeout(10 * SLOW)
        assert c.recv(100) == b""  # closed by the server
        c.close()
    assert s.stats()["worker_handshake_timeout"] >= 2


def test_admin_handshake_never_finished_times_out(tls_server, certs):
    """The admin TLS listener closes a client that never finishes its
    handshake too, and counts it."""
    s = tls_server(extra=["-o", "admin.handshake_timeout=1s"])
    silent = socket.create_connection(("127.0.0.1", s.tls_ports["admin"]))
    silent.settimeout(10 * SLOW)
    assert silent.recv(100) == b""  # closed by the server
    silent.close()
    assert s.stats()["admin_handshake_timeout"] >= 1


def test_handshake_flood_is_bounded_per_batch(tls_server, certs):
    """With one handshake step per batch, many clients handshaking at once
    are all served, and the deferral is counted."""
    s = tls_server(extra=["-o", "worker.handshake_batch=1"])
    ctx = client_ctx(certs)
    errors = []

    def one():
        try:
            with tls_connect(s.tls_ports["memcache"], ctx) as c:
                c.sendall(b"version\r\n")
                assert c.recv(100).startswith(b"VERSION ")
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=one) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    st = s.stats()
    assert st["tls_handshake"] >= 40
    assert st["worker_handshake_deferred"] >= 1


def test_idle_tls_connections_count_against_buffer_memory(tls_server, certs):
    """What OpenSSL holds for a TLS connection (about 50 KiB with its record
    buffers, more while handshaking) counts against worker.buffer_memory:
    an idle TLS connection holds no buffer of ours, yet a flood of them is
    bounded by the same budget, and the connections over it are closed."""
    budget = 200 * 1024  # one worker: about three idle TLS connections
    s = tls_server(threads=1, extra=[
        "-o", f"worker.buffer_memory={budget}", "-o", "worker.rbuf_max=64KiB",
        "-o", "worker.wbuf_high=64KiB", "-o", "worker.buf_size=4KiB"])
    ctx = client_ctx(certs)
    served = []
    for _ in range(12):
        try:
            c = tls_connect(s.tls_ports["resp"], ctx)
            c.sendall(b"PING\r\n")
            if c.recv(100) == b"+PONG\r\n":
                served.append(c)  # then idle: no buffer of ours is lent
        except OSError:
            pass  # closed over the budget during its handshake
    assert len(served) >= 3  # the budget holds a few
    st = s.wait_stat("worker_conn_evict_buf", lambda v: v >= 1)
    held = s.stats()["worker_tls_bytes"]
    assert 0 < held <= budget
    assert s.stats()["worker_buf_bytes"] == 0  # idle: only TLS state
    # the connections still open are served, as many as the budget holds
    alive = 0
    for c in served:
        try:
            c.sendall(b"PING\r\n")
            if c.recv(100) == b"+PONG\r\n":
                alive += 1
        except OSError:
            pass
        c.close()
    assert 1 <= alive <= budget // (40 * 1024), (alive, st)


def test_renegotiation_refused(tls_server, certs):
    s = tls_server()
    p = subprocess.run(
        ["openssl", "s_client", "-tls1_2", "-connect",
         f"127.0.0.1:{s.tls_ports['memcache']}", "-CAfile", certs["ca.crt"]],
        input=b"R\n", capture_output=True, timeout=20 * SLOW)
    out = p.stdout + p.stderr
    assert b"RENEGOTIATING" in out
    assert b"no renegotiation" in out or b"alert" in out, out[-400:]
    mc = MemcacheClient(("127.0.0.1", s.tls_ports["memcache"]),
                        tls_context=client_ctx(certs))
    assert mc.version()
    mc.close()


# ---- sessions and reload ----

def test_session_resumption(tls_server, certs):
    s = tls_server()
    ctx = client_ctx(certs, maximum=ssl.TLSVersion.TLSv1_2)
    with tls_connect(s.tls_ports["memcache"], ctx) as c:
        c.sendall(b"version\r\n")
        c.recv(100)
        session = c.session
    with tls_connect(s.tls_ports["memcache"], ctx, session=session) as c:
        assert c.session_reused
        # the server's side ends on the client's Finished, which the client
        # sent as its own handshake ended: wait for it
        c.sendall(b"version\r\n")
        c.recv(100)
    assert s.wait_stat("tls_session_reused", lambda v: v >= 1) >= 1
    assert s.stats()["tls_session_new"] >= 1


def command(sock, line):
    """One memcache line over sock; the reply line."""
    sock.sendall(line + b"\r\n")
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def peer_serial(port, certs):
    with tls_connect(port, client_ctx(certs)) as c:
        return c.getpeercert()["serialNumber"]


def test_reload_sighup_refresh_certs_config_set(tls_server, certs):
    d = tempfile.mkdtemp(prefix="segcached-tls-live-")
    os.chmod(d, 0o755)
    live_crt, live_key = os.path.join(d, "s.crt"), os.path.join(d, "s.key")
    shutil.copy(certs["server.crt"], live_crt)
    shutil.copy(certs["server.key"], live_key)
    for f in (live_crt, live_key):
        os.chmod(f, 0o644)
    try:
        s = tls_server(extra=["-o", f"tls.cert_file={live_crt}",
                              "-o", f"tls.key_file={live_key}"])
        port = s.tls_ports["memcache"]
        first = peer_serial(port, certs)
        held = tls_connect(port, client_ctx(certs))
        held_serial = held.getpeercert()["serialNumber"]
        # SIGHUP: new files at the same paths
        shutil.copy(certs["server2.crt"], live_crt)
        shutil.copy(certs["server2.key"], live_key)
        os.kill(s.pid, signal.SIGHUP)
        s.wait_stat("tls_reload", lambda v: v >= 1)
        second = peer_serial(port, certs)
        assert second != first
        # the connection open before keeps its certificate and works
        held.sendall(b"version\r\n")
        assert held.recv(100).startswith(b"VERSION ")
        assert held.getpeercert()["serialNumber"] == held_serial
        held.close()
        # memcached's refresh_certs, back to the first certificate
        shutil.copy(certs["server.crt"], live_crt)
        shutil.copy(certs["server.key"], live_key)
        mc = tls_connect(port, client_ctx(certs))
        assert command(mc, b"refresh_certs") == b"OK\r\n"
        assert peer_serial(port, certs) == first
        # a broken file is refused and the certificate in use stays
        with open(live_crt, "w") as f:
            f.write("not a certificate\n")
        reply = command(mc, b"refresh_certs")
        assert reply.startswith(b"SERVER_ERROR failed to refresh certs")
        assert peer_serial(port, certs) == first
        assert s.stats()["tls_reload_ex"] >= 1
        mc.close()
        # CONFIG SET tls-cert-file / tls-key-file reload together
        r = redis.Redis(port=s.port("resp"))
        with pytest.raises(redis.ResponseError, match="key values mismatch"):
            r.config_set("tls-cert-file", certs["server2.crt"])  # old key
        assert peer_serial(port, certs) == first
        with pytest.raises(redis.ResponseError):
            r.execute_command("CONFIG", "SET", "tls-cert-file",
                              "/nonexistent.pem")
        r.execute_command("CONFIG", "SET", "tls-cert-file",
                          certs["server2.crt"], "tls-key-file",
                          certs["server2.key"])
        assert peer_serial(port, certs) == second
        assert r.config_get("tls-cert-file")["tls-cert-file"] == \
            certs["server2.crt"]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_config_get_and_refused_set(tls_server, certs):
    s = tls_server()
    r = redis.Redis(port=s.port("resp"))
    got = r.config_get("tls-*")
    assert got["tls-port"] == str(s.tls_ports["resp"])
    assert got["tls-cert-file"] == certs["server.crt"]
    assert got["tls-key-file"] == certs["server.key"]
    assert got["tls-ca-cert-file"] == certs["ca.crt"]
    assert got["tls-auth-clients"] == "no"
    assert got["tls-protocols"] == "TLSv1.2 TLSv1.3"
    with pytest.raises(redis.ResponseError, match="startup only"):
        r.config_set("tls-port", "1")
    # protocols and ciphers change at run time, as in Redis, for the
    # connections accepted afterwards
    port = s.tls_ports["resp"]
    v12 = client_ctx(certs, maximum=ssl.TLSVersion.TLSv1_2)
    assert tls_exchange(port, v12, b"PING\r\n")[0] == b"+PONG\r\n"
    assert r.config_set("tls-protocols", "TLSv1.3")
    assert r.config_get("tls-protocols") == {"tls-protocols": "TLSv1.3"}
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_exchange(port, v12, b"PING\r\n")
    assert tls_exchange(port, client_ctx(certs), b"PING\r\n")[0] == \
        b"+PONG\r\n"
    assert r.config_set("tls-protocols", "TLSv1.2 TLSv1.3",
                        "tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert r.config_get("tls-ciphers") == \
        {"tls-ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"}
    reply = tls_exchange(port, v12, b"PING\r\n")[0]
    assert reply == b"+PONG\r\n"
    # a bad value changes nothing
    with pytest.raises(redis.ResponseError, match="tls-protocols"):
        r.config_set("tls-protocols", "SSLv3")
    with pytest.raises(redis.ResponseError, match="tls-ciphers"):
        r.config_set("tls-ciphers", "NO-SUCH-CIPHER")
    assert r.config_get("tls-protocols") == \
        {"tls-protocols": "TLSv1.2 TLSv1.3"}
    assert tls_exchange(port, client_ctx(certs), b"PING\r\n")[0] == \
        b"+PONG\r\n"


# ---- configuration errors ----

def test_bad_tls_configuration_stops_startup(certs):
    from conftest import BIN
    base = [BIN, "--memcache", "off", "--resp", "off", "--admin", "off",
            "--resp-tls", f"127.0.0.1:{free_port()}", "--check-config"]
    cases = [
        ([], "tls.cert_file and tls.key_file are required"),
        (["-o", "tls.cert_file=/nonexistent.pem",
          "-o", f"tls.key_file={certs['server.key']}"],
         "tls.cert_file: /nonexistent.pem"),
        (["-o", f"tls.cert_file={certs['server.crt']}",
          "-o", f"tls.key_file={certs['client.key']}"],
         "key values mismatch"),
        (["-o", f"tls.cert_file={certs['server.crt']}",
          "-o", f"tls.key_file={certs['server.key']}",
          "-o", "tls.protocols=TLSv1.1"], "tls.protocols: TLSv1.1"),
        (["-o", f"tls.cert_file={certs['server.crt']}",
          "-o", f"tls.key_file={certs['server.key']}",
          "-o", "tls.auth_clients=yes"], "tls.ca_cert_file is required"),
        (["-o", f"tls.cert_file={certs['server.crt']}",
          "-o", f"tls.key_file={certs['server.key']}",
          "-o", "tls.ciphers=NOPE"], "tls.ciphers: NOPE"),
        (["-o", f"tls.cert_file={certs['server.crt']}",
          "-o", f"tls.key_file={certs['server.key']}",
          "-o", "admin.tls_auth_clients=yes"], "tls.ca_cert_file is required"),
        (["-o", f"tls.cert_file={certs['server.crt']}",
          "-o", f"tls.key_file={certs['server.key']}",
          "-o", "memcache.tls_auth_clients=maybe"],
         "memcache.tls_auth_clients: not no, optional, yes or empty: maybe"),
    ]
    for extra, want in cases:
        r = subprocess.run(base + extra, capture_output=True, text=True)
        assert r.returncode != 0, extra
        assert want in r.stderr, (extra, r.stderr)
    # from a file: the error names the file and line, as every config error
    d = tempfile.mkdtemp(prefix="segcached-tlsconf-")
    try:
        conf = os.path.join(d, "tls.yml")
        with open(conf, "w") as f:
            f.write("tls:\n  key_file: %s\n  cert_file: /nonexistent.crt\n"
                    % certs["server.key"])
        r = subprocess.run(base + ["--config", conf], capture_output=True,
                           text=True)
        assert r.returncode == 78, r.stderr
        assert f"{conf}:3: tls.cert_file: /nonexistent.crt: No such file " \
            "or directory" in r.stderr, r.stderr
        with open(conf, "w") as f:
            f.write("tls:\n  key_file: %s\n  cert_file: %s\n"
                    "resp:\n  tls_auth_clients: always\n"
                    % (certs["server.key"], certs["server.crt"]))
        r = subprocess.run(base + ["--config", conf], capture_output=True,
                           text=True)
        assert r.returncode == 78, r.stderr
        assert f"{conf}:5: resp.tls_auth_clients: not no, optional, yes " \
            "or empty: always" in r.stderr, r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_dash_z_moves_memcache_to_tls(certs):
    from conftest import BIN
    port = free_port()
    r = subprocess.run([BIN, "-Z", "-p", str(port), "--print-config",
                        "-o", f"tls.cert_file={certs['server.crt']}"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert f'tls_listen: "127.0.0.1:{port}"' in r.stdout


def start_memcached_tls(args):
    """memcached -Z on a free loopback port with args; (process, port)."""
    for _ in range(5):  # free_port can race with a parallel test
        port = free_port()
        proc = subprocess.Popen(
            [shutil.which("memcached"), "-u", "nobody", "-U", "0", "-l",
             "127.0.0.1", "-p", str(port), "-Z", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if wait_port(port) and proc.poll() is None:
            return proc, port
        proc.kill()
        proc.communicate()
    raise RuntimeError("memcached -Z did not start")


@pytest.mark.skipif(shutil.which("memcached") is None, reason="memcached")
def test_memcached_ssl_options_as_memcached(certs):
    """memcached's own TLS command line (-Z -o ssl_chain_cert=...,ssl_key=
    ...) runs segcached as it runs memcached 1.6.18 (the oracle, started
    with the same -o list): a client with a certificate is served, one
    without is refused (ssl_verify_mode=2), TLS 1.2 is refused
    (ssl_min_version=3), and stats settings shows the same ssl_* lines."""
    opts = ",".join([f"ssl_chain_cert={certs['server.crt']}",
                     f"ssl_key={certs['server.key']}",
                     f"ssl_ca_cert={certs['ca.crt']}",
                     "ssl_verify_mode=2", "ssl_min_version=3"])
    seg = Server(args=["-Z", "-o", opts], protocols=("memcache",))
    mc, mc_port = start_memcached_tls(["-o", opts])
    try:
        settings = {}
        for name, port in (("segcached", seg.port("memcache")),
                           ("memcached", mc_port)):
            m = MemcacheClient(("127.0.0.1", port),
                               tls_context=client_ctx(certs, cert="client"))
            assert m.set("k", b"v", noreply=False), name
            assert m.get("k") == b"v", name
            settings[name] = {k.decode(): v for k, v in
                              m.stats("settings").items()
                              if k.startswith(b"ssl_")}
            m.close()
            with pytest.raises((ssl.SSLError, ConnectionError)):
                tls_exchange(port, client_ctx(certs), b"version\r\n")
            with pytest.raises((ssl.SSLError, ConnectionError)):
                tls_exchange(port, client_ctx(
                    certs, cert="client", maximum=ssl.TLSVersion.TLSv1_2),
                    b"version\r\n")
        # ssl_wbuf_size (memcached's own buffer) and ssl_session_cache
        # (ours is on by default) differ by design (docs/operations.md)
        for k in ("ssl_enabled", "ssl_chain_cert", "ssl_key",
                  "ssl_verify_mode", "ssl_keyformat", "ssl_ciphers",
                  "ssl_ca_cert", "ssl_kernel_tls", "ssl_min_version"):
            assert settings["segcached"].get(k) == \
                settings["memcached"].get(k), (k, settings)
        assert settings["segcached"]["ssl_verify_mode"] == 3
    finally:
        mc.kill()
        mc.communicate()
        assert seg.stop() == 0, seg.stderr
        shutil.rmtree(seg.logdir, ignore_errors=True)

# SPDX-License-Identifier: Apache-2.0
"""Start, query and stop the servers under test: segcached, memcached and
redis-server, each on free loopback ports, pinned with taskset, stopped by
pid. Also the small readers of /proc used to measure them."""

import os
import re
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"

_running = []  # every server started and not yet stopped


def build_loadgen(loadgen):
    """Compiles scripts/bench/loadgen.c into loadgen when it is missing or
    older than its source."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "loadgen.c")
    if not os.path.exists(loadgen) or \
            os.path.getmtime(src) > os.path.getmtime(loadgen):
        os.makedirs(os.path.dirname(loadgen) or ".", exist_ok=True)
        subprocess.run(["cc", "-std=c11", "-O2", "-D_GNU_SOURCE", "-Wall",
                        "-Wextra", "-o", loadgen, src, "-lm"], check=True)


def run_loadgen(argv, cpu=None, timeout=600):
    """Runs a loadgen command (on CPU cpu, if given) and returns its
    "key=value" output as a dict; raises with its stderr when it fails."""
    argv = [str(a) for a in argv]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{argv}: {r.stderr[-300:]}")
    return dict(kv.split("=", 1) for kv in r.stdout.split())


def free_ports(n):
    """n distinct ports the kernel picked as free (bound, then closed)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind((HOST, 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def proc_cpu_seconds(pid):
    """CPU time of every thread of pid, in seconds: the nanosecond run time
    of /proc/PID/task/*/schedstat where the kernel keeps it, else utime +
    stime of /proc/PID/stat (10 ms ticks)."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except FileNotFoundError:
                pass  # the thread ended between listing and reading
        if total > 0:
            return total / 1e9
    except (FileNotFoundError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat") as f:
        # the command name may hold spaces: fields start after its ')'
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_user_system_ticks(pid):
    """(utime, stime) of every thread of pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def proc_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def machine_busy_seconds():
    """CPU seconds all processes of the machine have used since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return (sum(v[:8]) - idle) / CLK_TCK


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def request(addr, payload, until, timeout=10.0):
    """Send payload on a new connection, read until the reply ends with one of
    the byte strings in `until` (a tuple), return the reply."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(payload)
        out = b""
        while not out.endswith(until):
            d = s.recv(1 << 20)
            if not d:
                break
            out += d
        return out


def memcache_stats(addr):
    out = request(addr, b"stats\r\n", (b"END\r\n",))
    stats = {}
    for line in out.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT":
            stats[parts[1]] = parts[2]
    return stats


def redis_info(addr):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"*1\r\n$4\r\nINFO\r\n")
        out = b""
        while b"\r\n" not in out:
            out += s.recv(1 << 16)
        head, rest = out.split(b"\r\n", 1)
        n = int(head[1:])
        while len(rest) < n + 2:
            rest += s.recv(1 << 16)
    info = {}
    for line in rest[:n].decode(errors="replace").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            info[k] = v
    return info


def resp_works(addr):
    """True when SET then GET answer as Redis does on this address."""
    try:
        out = request(addr,
                      b"*3\r\n$3\r\nSET\r\n$2\r\nkk\r\n$1\r\nv\r\n"
                      b"*2\r\n$3\r\nGET\r\n$2\r\nkk\r\n",
                      (b"$1\r\nv\r\n",), timeout=3)
    except OSError:
        return False
    return out == b"+OK\r\n$1\r\nv\r\n"


class Server:
    """One server process. kind: segcached, memcached or redis."""

    def __init__(self, kind, budget, threads, cpus, logdir, segcached_bin,
                 resp=True, extra=()):
        self.kind = kind
        self.budget = budget  # bytes
        self.threads = threads
        self.cpus = cpus  # taskset list, or None
        self.logdir = logdir
        self.bin = segcached_bin
        self.resp = resp
        self.extra = list(extra)  # more segcached arguments (-o k=v ...)
        self.proc = None
        self.addr = {}  # protocol -> "host:port"

    def argv(self):
        mib = self.budget // (1 << 20)
        if self.kind == "segcached":
            ports = free_ports(4)
            self.addr = {"memcache": f"{HOST}:{ports[0]}",
                         "ping": f"{HOST}:{ports[2]}",
                         "admin": f"{HOST}:{ports[3]}"}
            argv = [self.bin, "--memcache", self.addr["memcache"],
                    "--ping", self.addr["ping"], "--admin", self.addr["admin"],
                    "-t", str(self.threads), "-o", f"seg.memory={self.budget}"]
            if os.geteuid() == 0:
                argv += ["-u", "nobody"]  # it refuses to run as root
            argv += self.extra
            if self.resp:
                self.addr["resp"] = f"{HOST}:{ports[1]}"
                return argv + ["--resp", self.addr["resp"]]
            return argv + ["--resp", "off"]
        if self.kind == "memcached":
            port = free_ports(1)[0]
            self.addr = {"memcache": f"{HOST}:{port}"}
            argv = ["memcached", "-l", HOST, "-p", str(port), "-U", "0",
                    "-m", str(mib), "-t", str(self.threads)]
            if os.geteuid() == 0:
                argv += ["-u", "nobody"]
            return argv
        if self.kind == "redis":
            port = free_ports(1)[0]
            self.addr = {"resp": f"{HOST}:{port}"}
            return ["redis-server", "--bind", HOST, "--port", str(port),
                    "--save", "", "--appendonly", "no",
                    "--maxmemory", str(self.budget),
                    "--maxmemory-policy", "allkeys-lru",
                    "--daemonize", "no", "--protected-mode", "no",
                    "--io-threads", str(self.threads)]
        raise ValueError(self.kind)

    def start(self):
        for attempt in range(5):
            argv = self.argv()
            if self.cpus is not None:
                argv = ["taskset", "-c", self.cpus] + argv
            log = open(os.path.join(self.logdir, f"{self.kind}.log"), "ab")
            log.write(("\n$ " + " ".join(argv) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
            log.close()
            _running.append(self)
            if self.wait_ready():
                print(f"server pid {self.pid} {self.kind} "
                      f"{' '.join(f'{k}={v}' for k, v in self.addr.items())}",
                      flush=True)
                return self
            self.stop()  # a port taken between the probe and the bind
        raise RuntimeError(f"{self.kind} did not start: see its log in "
                           f"{self.logdir}")

    def wait_ready(self, timeout=10.0):
        port_addr = self.addr.get("memcache") or self.addr.get("resp")
        host, port = port_addr.rsplit(":", 1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def user_system_ticks(self):
        return proc_user_system_ticks(self.pid)

    def rss(self):
        return proc_rss_bytes(self.pid)

    def stats(self):
        """(items held, evictions) as the server reports them."""
        if self.kind == "redis":
            info = redis_info(self.addr["resp"])
            m = re.match(r"keys=(\d+)", info.get("db0", "keys=0"))
            return int(m.group(1)), int(info.get("evicted_keys", 0))
        st = memcache_stats(self.addr["memcache"])
        return int(st.get("curr_items", 0)), int(st.get("evictions", 0))

    def stop(self):
        """SIGTERM by pid, then SIGKILL after 10 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self in _running:
            _running.remove(self)
        self.proc = None


def stop_all():
    for s in list(_running):
        s.stop()


def version(kind, segcached_bin):
    try:
        if kind == "segcached":
            out = subprocess.run([segcached_bin, "--version"],
                                 capture_output=True, text=True).stdout
        elif kind == "memcached":
            out = subprocess.run(["memcached", "-V"], capture_output=True,
                                 text=True).stdout
        else:
            out = subprocess.run(["redis-server", "--version"],
                                 capture_output=True, text=True).stdout
    except OSError:
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"

"""fkharness: start/stop Ferrokeeper and the reference ZooKeeper 3.8 for interop tests.

Stdlib only (kazoo is imported lazily by `kazoo_client`); run with /usr/bin/python3, which sees
Debian's python3-kazoo. Every server this module starts is registered for cleanup: `stop()`,
the context manager, `atexit`, and SIGTERM/SIGINT/SIGHUP all stop it, so a failing test never
leaves a process behind. Servers bind to 127.0.0.1 only, on free ports, and every wait is bounded.

Layout assumed: this file is <repo>/tests/py/fkharness.py and the shared tools live in
<repo>/../shared/tools (zk-ref.sh). Override with env ZK_REF=/path/to/zk-ref.sh.
The Ferrokeeper binary: env FERROKEEPER_BIN, else <repo>/target/{release,debug}/ferrokeeper.
"""

import atexit
import base64
import hashlib
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOST = "127.0.0.1"

SUPER_USER = "super"
SUPER_PASSWORD = "superpw"


def digest_of(user, password):
    """ZooKeeper's DigestAuthenticationProvider.generateDigest: user:base64(sha1(user:pw))."""
    raw = hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()
    return "%s:%s" % (user, base64.b64encode(raw).decode())


SUPER_DIGEST = digest_of(SUPER_USER, SUPER_PASSWORD)

# Defaults shared by both servers so that session timeouts negotiate identically.
TICK_TIME_MS = 500


def log(msg):
    sys.stderr.write("[fkharness %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def zk_ref_script():
    p = os.environ.get("ZK_REF") or os.path.join(REPO, "..", "shared", "tools", "zk-ref.sh")
    return os.path.normpath(p)


def find_binary():
    b = os.environ.get("FERROKEEPER_BIN")
    if b:
        return b
    for profile in ("release", "debug"):
        p = os.path.join(REPO, "target", profile, "ferrokeeper")
        if os.access(p, os.X_OK):
            return p
    raise RuntimeError("ferrokeeper binary not found: set FERROKEEPER_BIN or cargo build")


def ephemeral_range():
    """The kernel's range for the local ports of outgoing connections. A server port picked
    inside it can be taken by any client socket of a test running beside this one between
    the pick and the server's bind, so servers get ports below it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def bindable(port, host=HOST):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


_PORT_RNG = random.Random()


def free_port(span=1):
    """A port P with P..P+span-1 bindable on 127.0.0.1 a moment ago, all outside the
    ephemeral range (random, so parallel tests rarely pick the same one)."""
    lo, hi = ephemeral_range()
    bottom, top = (10000, lo - span) if lo > 11000 else (hi + 1, 65536 - span)
    if bottom >= top:
        raise RuntimeError("no ports outside the ephemeral range %d-%d" % (lo, hi))
    for _ in range(500):
        p = _PORT_RNG.randrange(bottom, top)
        if all(bindable(p + i) for i in range(span)):
            return p
    raise RuntimeError("no free port below the ephemeral range after 500 tries")


def port_is_open(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def four_letter(port, word, host=HOST, timeout_s=5.0):
    """Send a 4lw; return the whole reply as str ('' on any failure)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.sendall(word.encode())
            chunks = []
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return ""


def mode_of(port, host=HOST):
    for line in four_letter(port, "srvr", host).splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):].strip()
    return ""


def wait_for(what, check, timeout_s=60.0, interval_s=0.1):
    """Polls `check` until it returns something true (returned), bounded by `timeout_s`;
    raises naming `what` past it."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for %s" % what)
        time.sleep(interval_s)


def wait_serving(port, timeout_s=60.0, is_alive=None, host=HOST):
    """Bounded wait until ruok -> imok and srvr shows a Mode. Returns True on success."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_alive is not None and not is_alive():
            return False
        if four_letter(port, "ruok", host, 2.0) == "imok" and mode_of(port, host):
            return True
        time.sleep(0.1)
    return False


def quiet_kazoo():
    """kazoo logs every dropped connection as a warning; tests drop connections on purpose."""
    import logging
    logging.getLogger("kazoo").setLevel(logging.ERROR)


quiet_kazoo()


def raise_fd_limit(want=65536):
    """Servers inherit our RLIMIT_NOFILE: raise the soft limit so 1000+ connections fit."""
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass


raise_fd_limit()


# ---------------------------------------------------------------------------------------------
# Process registry: everything started here is stopped at exit, whatever happens.

_LIVE = []


def _cleanup_all():
    for srv in list(_LIVE):
        try:
            srv.stop()
        except Exception as e:  # keep stopping the others
            log("cleanup of %r failed: %s" % (srv, e))


def _on_signal(signum, _frame):
    _cleanup_all()
    # Re-raise the default behaviour (exit code 128+signum).
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


atexit.register(_cleanup_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except (ValueError, OSError):  # not the main thread
        pass


class Server:
    """Common interface: .port, .hostport, .kind, start(), stop(), alive(), context manager."""

    kind = "?"

    def __init__(self, port=None, workdir=None, keep_dir=False):
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="fk-%s-" % self.kind)
        self.keep_dir = keep_dir or bool(os.environ.get("FK_KEEP_DIRS"))
        self.started = False

    @property
    def hostport(self):
        return "%s:%d" % (HOST, self.port)

    def __enter__(self):
        if not self.started:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        return "<%s %s dir=%s>" % (self.kind, self.hostport, self.dir)

    def _register(self):
        if self not in _LIVE:
            _LIVE.append(self)

    def _unregister(self):
        if self in _LIVE:
            _LIVE.remove(self)

    def _remove_dir(self):
        if self._own_dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=40):
        return ""


class Ferrokeeper(Server):
    """`ferrokeeper server --config DIR/zoo.cfg`, stdout+stderr in DIR/server.log."""

    kind = "ferrokeeper"

    def __init__(self, port=None, workdir=None, binary=None, extra_cfg=None,
                 tick_time_ms=TICK_TIME_MS, keep_dir=False, startup_timeout_s=30.0,
                 extra_args=None):
        super().__init__(port, workdir, keep_dir)
        self.binary = binary or find_binary()
        # Command-line flags after the config (e.g. --force-recovery); may change between
        # launches.
        self.extra_args = list(extra_args or [])
        self.extra_cfg = dict(extra_cfg or {})
        self.tick_time_ms = tick_time_ms
        self.startup_timeout_s = startup_timeout_s
        self.proc = None
        self._logf = None

    def config(self):
        cfg = {
            "tickTime": str(self.tick_time_ms),
            "dataDir": os.path.join(self.dir, "data"),
            "dataLogDir": os.path.join(self.dir, "datalog"),
            "clientPort": str(self.port),
            "clientPortAddress": HOST,
            "maxClientCnxns": "0",
            "4lw.commands.whitelist": "*",
            "superDigest": SUPER_DIGEST,
            "extendedTypesEnabled": "true",
        }
        cfg.update(self.extra_cfg)
        return cfg

    def start(self):
        self.launch()
        if not wait_serving(self.port, self.startup_timeout_s, self.alive):
            tail = self.log_tail()
            self.stop()
            raise RuntimeError("ferrokeeper did not start serving on %s within %.0fs; log:\n%s"
                               % (self.hostport, self.startup_timeout_s, tail))
        self.started = True
        log("ferrokeeper ready on %s (pid %d, dir %s)" % (self.hostport, self.proc.pid, self.dir))
        return self

    def write_config(self):
        """Writes DIR/zoo.cfg from `config()` (a running server reads it again on `rcvr`);
        returns its path."""
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "datalog"), exist_ok=True)
        cfg_path = os.path.join(self.dir, "zoo.cfg")
        with open(cfg_path, "w") as f:
            for k, v in self.config().items():
                f.write("%s=%s\n" % (k, v))
        return cfg_path

    def launch(self):
        """Writes zoo.cfg and spawns the process without waiting for it to serve (a cluster
        member serves only once a quorum is up, so `FerrokeeperCluster` launches them all
        before waiting)."""
        assert self.proc is None, "already started"
        cfg_path = self.write_config()
        if port_is_open(self.port):
            raise RuntimeError("port %d already in use" % self.port)
        self._logf = open(os.path.join(self.dir, "server.log"), "ab")
        self._register()
        self.proc = subprocess.Popen(
            [self.binary, "server", "--config", cfg_path] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=self._logf, stderr=subprocess.STDOUT,
            env=dict(os.environ, RUST_BACKTRACE="1"))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=40):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self):
        """SIGKILL (no shutdown path runs) and reap; the directory stays for a restart."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        if self._logf:
            self._logf.close()
            self._logf = None

    def stop(self, timeout_s=10.0):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            self.proc = None
        if self._logf:
            self._logf.close()
            self._logf = None
        self._unregister()
        self._remove_dir()


class FerrokeeperCluster:
    """N `ferrokeeper server` processes forming one replicated cluster on 127.0.0.1.

    Members are indexed 0..size+observers-1 (myid = index + 1); observers come last. Each gets
    its own free client port, `server.N=127.0.0.1:PEER:ELECTION[:observer]` lines for all,
    `dataDir/myid`, the same tickTime / 4lw / superDigest settings as a standalone
    `Ferrokeeper`, and initLimit/syncLimit. `start()` returns once exactly one member reports
    `Mode: leader` and every running member reports a mode. The cluster registers for cleanup
    like the single servers; `stop()` stops every member and removes the directories."""

    kind = "ferrokeeper-cluster"

    def __init__(self, size=3, observers=0, binary=None, extra_cfg=None,
                 tick_time_ms=TICK_TIME_MS, keep_dir=False, startup_timeout_s=60.0,
                 peer_route=None):
        """peer_route(i, j) -> port, optional: the peer port member i's zoo.cfg names for
        member j (i != j), e.g. a proxy's; member j still binds its own `peer_ports[j]`. The
        peer handshake hashes ids and roles only, so the configs may differ in addresses."""
        assert size >= 1, "a cluster needs a participant"
        assert observers >= 0, "observers %d < 0" % observers
        self.size = size
        self.observers = observers
        self.startup_timeout_s = startup_timeout_s
        self.keep_dir = keep_dir or bool(os.environ.get("FK_KEEP_DIRS"))
        self.dir = tempfile.mkdtemp(prefix="fk-cluster-")
        total = size + observers
        taken = set()

        def distinct_port():
            for _ in range(100):
                p = free_port()
                if p not in taken:
                    taken.add(p)
                    return p
            raise RuntimeError("no distinct free port after 100 tries")

        client_ports = [distinct_port() for _ in range(total)]
        self.peer_ports = [distinct_port() for _ in range(total)]
        election_ports = [distinct_port() for _ in range(total)]

        def server_lines(i):
            """Member i's server.N lines (the same for all without a peer_route)."""
            lines = {}
            for j in range(total):
                suffix = ":observer" if j >= size else ""
                peer = self.peer_ports[j]
                if peer_route is not None and i != j:
                    peer = peer_route(i, j)
                lines["server.%d" % (j + 1)] = "%s:%d:%d%s" % (HOST, peer, election_ports[j],
                                                              suffix)
            return lines

        self.members = []
        for i in range(total):
            cfg = {"initLimit": "10", "syncLimit": "5"}
            cfg.update(server_lines(i))
            if i >= size:
                cfg["peerType"] = "observer"
            cfg.update(extra_cfg or {})
            workdir = os.path.join(self.dir, "s%d" % (i + 1))
            os.makedirs(os.path.join(workdir, "data"))
            with open(os.path.join(workdir, "data", "myid"), "w") as f:
                f.write("%d\n" % (i + 1))
            self.members.append(Ferrokeeper(port=client_ports[i], workdir=workdir, binary=binary,
                                            extra_cfg=cfg, tick_time_ms=tick_time_ms,
                                            keep_dir=True, startup_timeout_s=startup_timeout_s))
        self.started = False

    # -- addresses --
    @property
    def ports(self):
        return [m.port for m in self.members]

    @property
    def hostports(self):
        """All members, as a client connect string."""
        return ",".join(m.hostport for m in self.members)

    def hostport(self, i):
        return self.members[i].hostport

    def __repr__(self):
        return "<ferrokeeper cluster %s dir=%s>" % (self.hostports, self.dir)

    # -- lifecycle --
    def start(self):
        assert not self.started, "already started"
        if self not in _LIVE:
            _LIVE.append(self)
        try:
            for m in self.members:
                m.launch()
            self.wait_stable(self.startup_timeout_s)
        except Exception:
            self.stop()
            raise
        self.started = True
        log("ferrokeeper cluster ready: %s (leader s%d, dir %s)" % (
            self.hostports, self.leader_index() + 1, self.dir))
        return self

    def __enter__(self):
        if not self.started:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def alive(self, i=None):
        """Member i's process runs; without i: every started member's process runs."""
        if i is not None:
            return self.members[i].alive()
        return all(self.members[j].alive() for j in self.running())

    def running(self):
        """Indices of members whose process was started and not killed/stopped."""
        return [i for i, m in enumerate(self.members) if m.proc is not None]

    def kill(self, i):
        """SIGKILL member i; its directory (data, log) stays for `restart(i)`."""
        assert self.members[i].proc is not None, "member s%d is not running" % (i + 1)
        self.members[i].kill()
        log("killed s%d (%s)" % (i + 1, self.members[i].hostport))

    def restart(self, i, timeout_s=None):
        """Start member i again on the same ports and directory; returns once it reports a
        mode and the cluster has exactly one leader."""
        m = self.members[i]
        assert m.proc is None, "member s%d still runs" % (i + 1)
        # A SIGKILLed server's listening sockets close with it; `launch` refuses a port that
        # something else took meanwhile rather than talk to a stranger.
        m.launch()
        self.wait_stable(timeout_s or self.startup_timeout_s)
        log("restarted s%d (%s, mode %s)" % (i + 1, m.hostport, self.mode(i)))

    def stop_member(self, i):
        """Graceful stop (SIGTERM) of member i; its directory stays for `restart(i)`."""
        m = self.members[i]
        assert m.proc is not None, "member s%d is not running" % (i + 1)
        m.stop()
        log("stopped s%d (%s)" % (i + 1, m.hostport))

    def stop(self):
        for m in self.members:
            try:
                m.stop()
            except Exception as e:  # keep stopping the others
                log("stopping %r failed: %s" % (m, e))
        if self in _LIVE:
            _LIVE.remove(self)
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- roles --
    def mode(self, i):
        """'leader' / 'follower' / 'observer', or '' (not running, not serving)."""
        if self.members[i].proc is None:
            return ""
        return mode_of(self.members[i].port)

    def modes(self):
        return [self.mode(i) for i in range(len(self.members))]

    def _check_running_alive(self):
        for i in self.running():
            if not self.members[i].alive():
                raise RuntimeError("member s%d exited (rc %s); log:\n%s" % (
                    i + 1, self.members[i].proc.poll(), self.members[i].log_tail()))

    def wait_stable(self, timeout_s=30.0):
        """Bounded wait until exactly one running member reports Mode: leader and every running
        member reports a mode; returns the leader's index."""
        deadline = time.monotonic() + timeout_s
        modes = []
        while time.monotonic() < deadline:
            self._check_running_alive()
            modes = [(i, self.mode(i)) for i in self.running()]
            leaders = [i for i, md in modes if md == "leader"]
            if len(leaders) == 1 and all(md for _, md in modes):
                return leaders[0]
            time.sleep(0.05)
        raise RuntimeError("no single leader with every member serving within %.0fs: %s" % (
            timeout_s, ", ".join("s%d=%s" % (i + 1, md or "-") for i, md in modes)))

    def leader_index(self, timeout_s=30.0):
        return self.wait_stable(timeout_s)

    def follower_indices(self, timeout_s=30.0):
        self.wait_stable(timeout_s)
        return [i for i in self.running() if self.mode(i) == "follower"]

    def observer_indices(self, timeout_s=30.0):
        self.wait_stable(timeout_s)
        return [i for i in self.running() if self.mode(i) == "observer"]

    # -- replica state --
    def hash_line(self, i):
        """Last line of the `hash` 4lw: '<zxid hex>: <digest>' ('' if unavailable)."""
        lines = [ln.strip() for ln in four_letter(self.members[i].port, "hash").splitlines()
                 if ln.strip()]
        return lines[-1] if lines else ""

    def wait_converged(self, timeout_s=30.0):
        """Bounded wait until every running member reports the same last `hash` line; returns
        it. Raises with every member's line on timeout."""
        deadline = time.monotonic() + timeout_s
        lines = []
        while time.monotonic() < deadline:
            self._check_running_alive()
            lines = [self.hash_line(i) for i in self.running()]
            if lines and lines[0] and all(ln == lines[0] for ln in lines):
                return lines[0]
            time.sleep(0.1)
        raise RuntimeError("replicas did not converge within %.0fs: %s" % (
            timeout_s, ", ".join("s%d=%r" % (i + 1, ln) for i, ln in zip(self.running(), lines))))

    def log_tail(self, i=None, n=40):
        if i is not None:
            return self.members[i].log_tail(n)
        return "\n".join("--- s%d:\n%s" % (j + 1, m.log_tail(n))
                         for j, m in enumerate(self.members))


def start_cluster(size=3, observers=0, **kw):
    """A started `FerrokeeperCluster` (see there)."""
    return FerrokeeperCluster(size=size, observers=observers, **kw).start()


class RefZooKeeper(Server):
    """The real ZooKeeper 3.8 via ../shared/tools/zk-ref.sh (standalone)."""

    kind = "zookeeper"

    def __init__(self, port=None, workdir=None, extra_cfg=None, jvm_opts=None,
                 tick_time_ms=TICK_TIME_MS, keep_dir=False, startup_timeout_s=90.0):
        super().__init__(port, workdir, keep_dir)
        self.extra_cfg = dict(extra_cfg or {})
        self.tick_time_ms = tick_time_ms
        self.jvm_opts = list(jvm_opts or [])
        self.startup_timeout_s = startup_timeout_s
        self.script = zk_ref_script()

    def start(self):
        if not os.path.exists(self.script):
            raise RuntimeError("zk-ref.sh not found at %s" % self.script)
        # zk-ref.sh writes tickTime=2000 first; Java's Properties keeps the last value.
        extra = {"tickTime": str(self.tick_time_ms)}
        extra.update(self.extra_cfg)
        opts = ["-Dzookeeper.extendedTypesEnabled=true",
                "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + SUPER_DIGEST,
                # Containers and TTL nodes must not be reaped behind the differential test's
                # back; tests that want reaping pass their own interval.
                ] + self.jvm_opts
        if not any(o.startswith("-Dznode.container.checkIntervalMs") for o in opts):
            opts.append("-Dznode.container.checkIntervalMs=3600000")
        env = dict(os.environ,
                   ZK_EXTRA_CFG="\n".join("%s=%s" % kv for kv in extra.items()),
                   ZK_JVM_OPTS=" ".join(opts),
                   ZK_WAIT=str(int(self.startup_timeout_s)),
                   ZK_HEAP=os.environ.get("ZK_HEAP", "256m"),
                   ZK_FORCESYNC="no")
        self._register()
        r = subprocess.run(["bash", self.script, "start-standalone", str(self.port), self.dir],
                           env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=self.startup_timeout_s + 30)
        if r.returncode != 0:
            self.stop()
            raise RuntimeError("zk-ref.sh start failed (rc %d): %s%s" % (
                r.returncode, r.stdout.decode(), r.stderr.decode()[-3000:]))
        self.started = True
        log("zookeeper ready on %s (dir %s)" % (self.hostport, self.dir))
        return self

    def alive(self):
        try:
            with open(os.path.join(self.dir, "pids")) as f:
                pid = int(f.read().split()[1])
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            return state not in ("Z", "X")
        except (OSError, ValueError, IndexError):
            return False

    def log_tail(self, n=40):
        try:
            with open(os.path.join(self.dir, "zk.log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if os.path.exists(os.path.join(self.dir, "pids")):
            subprocess.run(["bash", self.script, "stop", self.dir], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        self._unregister()
        self._remove_dir()


def report(results):
    """Prints PASS/FAIL per (name, error-or-None) result and the closing 'N passed, N failed'
    line the Rust wrapper reads; returns the exit code (0 only if something ran and all
    passed)."""
    passed = sum(1 for _, err in results if err is None)
    for name, err in results:
        print("PASS %s" % name if err is None else "FAIL %s: %s" % (name, err))
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) and passed > 0 else 1


def start_server(kind, **kw):
    """kind: 'zk' / 'zookeeper' or 'fk' / 'ferrokeeper'. Returns a started Server."""
    if kind in ("zk", "zookeeper"):
        return RefZooKeeper(**kw).start()
    if kind in ("fk", "ferrokeeper"):
        return Ferrokeeper(**kw).start()
    raise ValueError("unknown server kind %r" % kind)


def kazoo_client(hostport, timeout_s=10.0, auth=None, start=True, connect_tries=3, **kw):
    """A started KazooClient (bounded connect). auth: list of (scheme, credential).
    connect_tries: connection attempts (each over every host) before kazoo gives up and
    reports LOST; a client that must ride out a cluster's failover needs more than 3."""
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry
    c = KazooClient(hosts=hostport, timeout=timeout_s,
                    connection_retry=KazooRetry(max_tries=connect_tries, delay=0.1,
                                                max_delay=1),
                    command_retry=None, **kw)
    if start:
        c.start(timeout=15)
        for scheme, cred in auth or []:
            c.add_auth(scheme, cred)
    return c


def super_client(hostport, timeout_s=10.0):
    return kazoo_client(hostport, timeout_s, auth=[("digest", "%s:%s" % (SUPER_USER,
                                                                        SUPER_PASSWORD))])


def stop_client(c):
    try:
        c.stop()
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# RawClient: the ZooKeeper client protocol by hand (for expiry without close, bad input, etc.).

class RawClient:
    """Minimal blocking ZooKeeper client over a socket: handshake, request/reply, no watches."""

    def __init__(self, port, host=HOST, timeout_s=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.xid = 0
        self.session_id = None
        self.passwd = None
        self.timeout_ms = None

    def close_socket(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_frame(self, payload):
        self.sock.sendall(struct.pack("!i", len(payload)) + payload)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            b = self.sock.recv(n - len(buf))
            if not b:
                raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
            buf += b
        return buf

    def recv_frame(self):
        (n,) = struct.unpack("!i", self.recv_exact(4))
        return self.recv_exact(n)

    def handshake(self, timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0,
                  read_only=False):
        body = struct.pack("!iqiq", 0, last_zxid, timeout_ms, session_id)
        body += struct.pack("!i", len(passwd)) + passwd + bytes([1 if read_only else 0])
        self.send_frame(body)
        r = self.recv_frame()
        _proto, self.timeout_ms, self.session_id = struct.unpack_from("!iiq", r, 0)
        (plen,) = struct.unpack_from("!i", r, 16)
        self.passwd = r[20:20 + plen]
        return self.session_id, self.timeout_ms

    def request(self, opcode, body=b"", xid=None):
        """Send one request; return (xid, zxid, err, body) of the reply (skips watch events)."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.send_frame(struct.pack("!ii", xid, opcode) + body)
        while True:
            r = self.recv_frame()
            rxid, zxid, err = struct.unpack_from("!iqi", r, 0)
            if rxid == -1:  # watch event
                continue
            return rxid, zxid, err, r[16:]


def jute_string(s):
    if s is None:
        return struct.pack("!i", -1)
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!i", len(b)) + b


def jute_acl_list(acls):
    """acls: list of (perms, scheme, id)."""
    out = struct.pack("!i", len(acls))
    for perms, scheme, ident in acls:
        out += struct.pack("!i", perms) + jute_string(scheme) + jute_string(ident)
    return out


OPEN_ACL = [(31, "world", "anyone")]


def create_body(path, data=b"", acls=OPEN_ACL, flags=0, ttl=None):
    b = jute_string(path) + jute_string(data) + jute_acl_list(acls) + struct.pack("!i", flags)
    if ttl is not None:
        b += struct.pack("!q", ttl)
    return b


if __name__ == "__main__":
    # Smoke: python3 fkharness.py zk|fk|cluster  -> start, ruok, srvr, stop.
    kind = sys.argv[1] if len(sys.argv) > 1 else "zk"
    if kind == "cluster":
        with start_cluster(3) as cl:
            for i in range(3):
                print("s%d %s: %s | %s" % (i + 1, cl.hostport(i), cl.mode(i), cl.hash_line(i)))
        sys.exit(0)
    with start_server(kind) as s:
        print(four_letter(s.port, "srvr"))

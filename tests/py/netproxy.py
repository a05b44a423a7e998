"""netproxy: controllable TCP proxies between cluster members, for the fault harness (issue #9).

One `Proxy` listens on a 127.0.0.1 port and forwards every connection to one target port. The
harness puts one proxy on every ordered pair of peers i -> j: member i's zoo.cfg names member j
at the proxy's port, member j binds its real peer port (the peer handshake's cluster id hashes
ids and roles only, so the addresses may differ between configs). Partitions are made here,
not with network namespaces or iptables: nothing needs root, and a fault lands on exactly one
direction of one pair.

A proxy may also be slowed (`rate_bytes_per_s`, `ProxyMesh.set_rate`): after forwarding a
chunk, its pump waits as long as the chunk takes at that rate.

Modes, switchable at any time (`set_mode`):
  * pass: bytes flow both ways.
  * drop: every existing connection is closed at once (both sides see a reset or EOF) and a
    new one is accepted and closed straight away, like a refused connection.
  * blackhole: connections stay open and new ones are accepted, but no byte moves in either
    direction (the proxy stops reading, so the kernel buffers fill and the sender blocks) --
    packets lost in both directions. Switching back to pass resumes the held connections
    where they stopped, as TCP does when a partition heals before its retransmissions give
    up, so the servers also see late, stale traffic.

A connection is a pair of sockets and two pump threads (one per direction); each pump waits at
most `POLL_S` between looks at the mode, so a mode change takes effect within that. Every
thread is a daemon and `close()` stops them all; `ProxyMesh` owns the proxies of a cluster and
implements the partitions the nemesis uses (`partition(groups, mode)`, `heal()`).

Stdlib only.
"""

import select
import socket
import threading

HOST = "127.0.0.1"
PASS, DROP, BLACKHOLE = "pass", "drop", "blackhole"
MODES = (PASS, DROP, BLACKHOLE)
POLL_S = 0.05
CHUNK_BYTES = 65536
CONNECTIONS_MAX = 64  # per proxy; two peers keep at most a few connections open


class Proxy:
    """Forwards connections from 127.0.0.1:`listen_port` to 127.0.0.1:`target_port`."""

    def __init__(self, listen_port, target_port, name=""):
        self.listen_port = listen_port
        self.target_port = target_port
        self.name = name or "%d->%d" % (listen_port, target_port)
        self.mode = PASS
        self.rate_bytes_per_s = None  # pass mode only: a slow link (per connection and direction)
        self.lock = threading.Lock()
        self.conns = []  # [(client socket, upstream socket)] while open
        self.closed = False
        self.accepted = 0
        self.refused = 0
        self.forwarded_bytes = 0  # both directions, all connections
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, listen_port))
        self.listener.listen(16)
        self.listener.settimeout(POLL_S * 4)
        self.thread = threading.Thread(target=self._accept_loop, name="proxy " + self.name,
                                       daemon=True)
        self.thread.start()

    def __repr__(self):
        return "<Proxy %s %s>" % (self.name, self.mode)

    def set_mode(self, mode):
        assert mode in MODES, "unknown proxy mode %r" % mode
        with self.lock:
            self.mode = mode
            doomed = list(self.conns) if mode == DROP else []
            if mode == DROP:
                self.conns.clear()
        for pair in doomed:
            _close_pair(pair)

    def close(self):
        with self.lock:
            self.closed = True
            doomed = list(self.conns)
            self.conns.clear()
        for pair in doomed:
            _close_pair(pair)
        self.thread.join(5)
        _close(self.listener)

    def _accept_loop(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self.closed:
                    return
                continue
            self._admit(client)

    def _admit(self, client):
        with self.lock:
            refuse = self.mode == DROP or self.closed or len(self.conns) >= CONNECTIONS_MAX
        if refuse:
            self.refused += 1
            _close(client)
            return
        try:
            upstream = socket.create_connection((HOST, self.target_port), timeout=2.0)
        except OSError:
            # The target is down (killed, or not started yet): refuse as it would.
            self.refused += 1
            _close(client)
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(True)
            s.settimeout(None)
        pair = (client, upstream)
        with self.lock:
            if self.mode == DROP or self.closed:
                refuse = True
            else:
                self.conns.append(pair)
                self.accepted += 1
        if refuse:
            self.refused += 1
            _close_pair(pair)
            return
        for src, dst, tag in ((client, upstream, ">"), (upstream, client, "<")):
            threading.Thread(target=self._pump, args=(pair, src, dst),
                             name="pump %s %s" % (self.name, tag), daemon=True).start()

    def _is_open(self, pair):
        with self.lock:
            return pair in self.conns

    def _pump(self, pair, src, dst):
        """Copies src to dst while the mode is pass; holds while it is blackhole; ends when
        either side closes or the pair is dropped (which closes both sockets)."""
        try:
            while self._is_open(pair):
                if self.mode != PASS:
                    # Blackhole: read nothing, so nothing is lost and TCP backpressure holds
                    # the sender. Drop closed the pair already; the loop test ends it.
                    threading.Event().wait(POLL_S)
                    continue
                readable, _, _ = select.select([src], [], [], POLL_S)
                if not readable or self.mode != PASS:
                    continue
                data = src.recv(CHUNK_BYTES)
                if not data:
                    break
                dst.sendall(data)
                self.forwarded_bytes += len(data)  # a statistic: a lost race costs a count
                rate = self.rate_bytes_per_s
                if rate:
                    threading.Event().wait(len(data) / rate)
        except (OSError, ValueError):
            pass  # a reset, or the other pump/drop closed a socket under us
        with self.lock:
            if pair in self.conns:
                self.conns.remove(pair)
        _close_pair(pair)


def _close(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected, or closed already
    try:
        s.close()
    except OSError:
        pass


def _close_pair(pair):
    for s in pair:
        _close(s)


class ProxyMesh:
    """The proxies of one cluster: `proxy[(i, j)]` carries member i's connections to member j
    (i != j, indices from 0). `route(i, j)` is the port member i's config names for j."""

    def __init__(self, size, port_for):
        """port_for(): a free port (the caller's allocator, so ports never collide)."""
        self.size = size
        self.listen_ports = {(i, j): port_for() for i in range(size) for j in range(size)
                             if i != j}
        self.proxies = {}
        self.groups = None  # the current partition, for the record

    def route(self, i, j):
        return self.listen_ports[(i, j)]

    def start(self, peer_ports):
        """peer_ports[j]: member j's real peer port."""
        assert not self.proxies, "mesh already started"
        for (i, j), port in sorted(self.listen_ports.items()):
            self.proxies[(i, j)] = Proxy(port, peer_ports[j], name="s%d->s%d" % (i + 1, j + 1))
        return self

    def close(self):
        for p in self.proxies.values():
            p.close()
        self.proxies = {}

    def set_rate(self, i, j, rate_bytes_per_s):
        """Both directions between i and j pass at most about this many bytes a second per
        connection (None: as fast as the proxy goes)."""
        self.proxies[(i, j)].rate_bytes_per_s = rate_bytes_per_s
        self.proxies[(j, i)].rate_bytes_per_s = rate_bytes_per_s

    def set_link(self, i, j, mode):
        """Both directions between i and j."""
        self.proxies[(i, j)].set_mode(mode)
        self.proxies[(j, i)].set_mode(mode)

    def partition(self, groups, mode):
        """Cuts every link between members of different groups; a member in no group is a
        bridge: it keeps every link. Links inside a group, and a bridge's, stay as they are
        (pass after a heal)."""
        assert mode in (DROP, BLACKHOLE), "a partition drops or blackholes, not %r" % mode
        where = {}
        for g, members in enumerate(groups):
            for m in members:
                assert m not in where, "member %d in two groups" % m
                where[m] = g
        for (i, j), p in self.proxies.items():
            if i in where and j in where and where[i] != where[j]:
                p.set_mode(mode)
        self.groups = [sorted(g) for g in groups]

    def heal(self):
        for p in self.proxies.values():
            p.set_mode(PASS)
        self.groups = None

    def cut_links(self):
        return sorted((i, j) for (i, j), p in self.proxies.items() if p.mode != PASS)


def _selftest():
    """python3 netproxy.py: an echo server behind a proxy through every mode."""
    import time

    srv = socket.socket()
    srv.bind((HOST, 0))
    srv.listen(4)

    def echo():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return

            def serve(c=c):
                try:
                    while True:
                        b = c.recv(4096)
                        if not b:
                            break
                        c.sendall(b)
                except OSError:
                    pass
                c.close()
            threading.Thread(target=serve, daemon=True).start()

    threading.Thread(target=echo, daemon=True).start()
    probe = socket.socket()
    probe.bind((HOST, 0))
    port = probe.getsockname()[1]
    probe.close()
    p = Proxy(port, srv.getsockname()[1])
    c = socket.create_connection((HOST, port), timeout=2)
    c.sendall(b"hello")
    assert c.recv(5) == b"hello"
    p.set_mode(BLACKHOLE)
    time.sleep(0.2)
    c.sendall(b"held")
    c.settimeout(0.5)
    try:
        got = c.recv(4)
        raise AssertionError("blackhole forwarded %r" % got)
    except socket.timeout:
        pass
    p.set_mode(PASS)
    c.settimeout(2)
    assert c.recv(4) == b"held", "held bytes resume after heal"
    p.set_mode(DROP)
    assert c.recv(4) == b"", "drop closes existing connections"
    d = socket.create_connection((HOST, port), timeout=2)
    assert d.recv(4) == b"", "drop refuses new connections"
    p.set_mode(PASS)
    e = socket.create_connection((HOST, port), timeout=2)
    e.sendall(b"again")
    assert e.recv(5) == b"again"
    p.close()
    srv.close()
    print("netproxy selftest ok")


if __name__ == "__main__":
    _selftest()

#!/usr/bin/python3
"""Failover through a real client: kazoo against a Ferrokeeper cluster while members die.

Usage (run with /usr/bin/python3, which sees Debian's kazoo 2.8):
  failover.py [--only leader_kill|rolling_restart|observer] [--writes-after N]
Starts its own clusters (fkharness.start_cluster) on free 127.0.0.1 ports and stops them.

Scenarios, each on a fresh cluster:
  * leader_kill: a kazoo client (all members in its hosts string, leader first, session
    timeout 10 s, far above the ~1.2 s failover) creates an ephemeral, then a writer thread
    creates regular and sequential znodes and records every acknowledged one. kill -9 of the
    leader mid-load. Checks: the session survives (same session id; SUSPENDED then CONNECTED
    is fine, LOST is not), the ephemeral is still there with the same owner, writes resume
    under a new leader, no acknowledged znode is missing on any member (each read through a
    client connected to that member only), and after quiescence every member's last `hash`
    line (`<zxid hex>: <digest>`) is the same. The killed leader is restarted first, so it
    must catch up too.
  * rolling_restart: the same client and writer; each member in turn is stopped, restarted
    and waited for (it reports a mode again), and writes must progress before the next one.
    Same checks at the end.
  * observer: 3 participants + 1 observer. The observer reports Mode: observer; a client
    connected only to it reads data written through the leader, and its own write (forwarded)
    is read back on the leader. Kill 2 of the 3 participants: for several election timeouts
    no member may report Mode: leader (the remaining participant and the observer are 2
    processes, but only 1 of 3 votes). Restarting one participant brings a leader back.
  * follower_pause: a client connected to one follower only writes through it; that
    follower is stopped (SIGSTOP) for 2.5 s, beyond the longest election timeout (2 s), then
    resumed. Its stall is not the leader's silence: it must not start an election when it runs
    again (the leader and its term stay), its client loses no connection and no write fails,
    and writes go on.
Figures (failover and resume times, write counts) are printed. Every wait is bounded.
Last line: "<passed> passed, <failed> failed".
"""

import argparse
import os
import signal
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkharness as H  # noqa: E402

from kazoo.protocol.states import KazooState  # noqa: E402

SESSION_TIMEOUT_S = 10.0
# Ferrokeeper's election timeout is 1-2 s; "several election timeouts" for the no-leader check.
NO_LEADER_WATCH_S = 6.0
OP_TIMEOUT_S = 15.0
# follower_pause: how long the follower stands still, above the 2 s longest election timeout.
PAUSE_S = 2.5


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


def ms(seconds):
    return int(round(seconds * 1000))


class SessionWatch:
    """Records every kazoo state change with its time."""

    def __init__(self, client):
        self.client = client
        self.states = []
        self.lock = threading.Lock()
        client.add_listener(self._on_state)

    def _on_state(self, state):
        with self.lock:
            self.states.append((state, time.monotonic()))
        return False

    def names(self):
        with self.lock:
            return [s for s, _ in self.states]

    def suspensions(self):
        return self.names().count(KazooState.SUSPENDED)

    def timeline(self, t0):
        with self.lock:
            return " ".join("%s@%+dms" % (s, ms(t - t0)) for s, t in self.states if t >= t0)

    def check_survived(self, sid):
        names = self.names()
        check(KazooState.LOST not in names, "the session was LOST: states %s" % names)
        check(self.client.state == KazooState.CONNECTED,
              "client is %s at the end (states %s)" % (self.client.state, names))
        check(self.client.client_id[0] == sid, "session id changed: %#x -> %#x" % (
            sid, self.client.client_id[0]))


class Writer:
    """One thread creating znodes under `base` through `client`: odd n a regular node
    `n-<n>`, even n a sequential `s-`. Acknowledged paths are recorded; a failed or timed-out
    create is simply not acknowledged (its outcome is unknown, so it is not checked)."""

    def __init__(self, client, base, limit_s=180.0):
        self.client = client
        self.base = base
        self.limit_s = limit_s
        self.acked = []  # (path, monotonic time of the ack)
        self.errors = {}  # exception class name -> count
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="writer", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        deadline = time.monotonic() + self.limit_s
        n = 0
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            n += 1
            seq = n % 2 == 0
            path = "%s/%s" % (self.base, "s-" if seq else "n-%07d" % n)
            try:
                created = self.client.create_async(path, b"v%d" % n, sequence=seq).get(
                    timeout=OP_TIMEOUT_S)
                with self.lock:
                    self.acked.append((created, time.monotonic()))
            except Exception as e:  # any failure: not acknowledged
                with self.lock:
                    name = type(e).__name__
                    self.errors[name] = self.errors.get(name, 0) + 1
                time.sleep(0.02)

    def count(self):
        with self.lock:
            return len(self.acked)

    def longest_stall(self, t):
        """Longest gap between consecutive acks from time t on (the kill): how long the
        client could not write. Returns (gap seconds, its start)."""
        with self.lock:
            times = [t] + [ta for _, ta in self.acked if ta > t]
        gaps = [(b - a, a) for a, b in zip(times, times[1:])]
        return max(gaps) if gaps else (0.0, t)

    def wait_count(self, n, timeout_s, what):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.count() >= n:
                return
            check(self.thread.is_alive(), "writer thread ended early")
            time.sleep(0.02)
        raise Failed("%s: %d acknowledged writes, wanted %d within %.0fs (errors %s)" % (
            what, self.count(), n, timeout_s, self.errors))

    def stop(self):
        self.stop_event.set()
        self.thread.join(OP_TIMEOUT_S + 5)
        check(not self.thread.is_alive(), "writer thread did not stop")

    def paths(self):
        with self.lock:
            return [p for p, _ in self.acked]


def session_client(cluster, first=None):
    """A kazoo client with every member in its hosts string; `first` (an index) is tried
    first, so the test knows which member the session starts on."""
    order = list(range(len(cluster.members)))
    if first is not None:
        order.remove(first)
        order.insert(0, first)
    hosts = ",".join(cluster.hostport(i) for i in order)
    return H.kazoo_client(hosts, timeout_s=SESSION_TIMEOUT_S, connect_tries=200,
                          randomize_hosts=first is None)


def connected_to(client):
    try:
        return "%s:%d" % client._connection._socket.getpeername()[:2]
    except Exception:
        return "?"


def check_no_write_lost(cluster, base, acked):
    """Every acknowledged path must be a child of `base` on every running member, read by a
    client connected to that member only (members are converged first)."""
    line = cluster.wait_converged(30)
    want = set(p.rsplit("/", 1)[1] for p in acked)
    check(len(want) == len(acked), "an acknowledged path was returned twice")
    for i in cluster.running():
        c = H.kazoo_client(cluster.hostport(i), timeout_s=SESSION_TIMEOUT_S)
        try:
            present = set(c.get_children(base))
        finally:
            H.stop_client(c)
        missing = sorted(want - present)
        check(not missing, "s%d lacks %d acknowledged znodes, e.g. %s" % (
            i + 1, len(missing), missing[:5]))
    return line


def check_ephemeral(cluster, path, sid):
    for i in cluster.running():
        c = H.kazoo_client(cluster.hostport(i), timeout_s=SESSION_TIMEOUT_S)
        try:
            st = c.exists(path)
        finally:
            H.stop_client(c)
        check(st is not None, "s%d: the ephemeral %s is gone" % (i + 1, path))
        check(st.ephemeralOwner == sid, "s%d: %s is owned by %#x, not %#x" % (
            i + 1, path, st.ephemeralOwner, sid))


def leader_kill(writes_after):
    with H.start_cluster(3) as cluster:
        leader = cluster.leader_index()
        client = session_client(cluster, first=leader)
        watch = SessionWatch(client)
        try:
            sid = client.client_id[0]
            client.create("/eph-before", b"mine", ephemeral=True)
            client.create("/load", b"")
            print("  session %#x on %s (leader s%d)" % (sid, connected_to(client), leader + 1))
            writer = Writer(client, "/load").start()
            writer.wait_count(200, 30, "before the kill")
            before = writer.count()
            t_kill = time.monotonic()
            cluster.kill(leader)
            new_leader = cluster.leader_index(30)
            t_elected = time.monotonic()
            check(new_leader != leader, "the killed member is still the leader")
            writer.wait_count(before + writes_after, 30, "after the kill")
            stall_s, stall_at = writer.longest_stall(t_kill)
            print("  failover: new leader s%d reported %d ms after kill -9 of s%d; writes "
                  "stalled for %d ms at most (from +%d ms); session now on %s" % (
                      new_leader + 1, ms(t_elected - t_kill), leader + 1, ms(stall_s),
                      ms(stall_at - t_kill), connected_to(client)))
            print("  client states after the kill: %s" % watch.timeline(t_kill))
            # The old leader comes back as a follower and must catch up too.
            cluster.restart(leader)
            writer.wait_count(writer.count() + 50, 30, "after the restart")
            writer.stop()
            watch.check_survived(sid)
            check_ephemeral(cluster, "/eph-before", sid)
            line = check_no_write_lost(cluster, "/load", writer.paths())
            print("  %d writes acknowledged (%d before the kill), failures by class %s; "
                  "%d suspensions, never LOST; all members at %s" % (
                      writer.count(), before, writer.errors, watch.suspensions(), line))
        finally:
            H.stop_client(client)


def rolling_restart(writes_after):
    with H.start_cluster(3) as cluster:
        client = session_client(cluster)
        watch = SessionWatch(client)
        try:
            sid = client.client_id[0]
            client.create("/eph-before", b"mine", ephemeral=True)
            client.create("/load", b"")
            writer = Writer(client, "/load").start()
            writer.wait_count(100, 30, "before the restarts")
            figures = []
            # Followers first, then the leader, as an operator rolls a cluster.
            leader = cluster.leader_index()
            for i in [j for j in range(3) if j != leader] + [leader]:
                role = cluster.mode(i)
                t0 = time.monotonic()
                cluster.stop_member(i)
                cluster.restart(i)
                t_back = time.monotonic()
                writer.wait_count(writer.count() + writes_after, 30,
                                  "after restarting s%d" % (i + 1))
                figures.append("s%d(%s) back in %d ms" % (i + 1, role, ms(t_back - t0)))
            writer.stop()
            watch.check_survived(sid)
            check_ephemeral(cluster, "/eph-before", sid)
            line = check_no_write_lost(cluster, "/load", writer.paths())
            print("  rolling restart: %s; %d writes acknowledged, failures by class %s; "
                  "%d suspensions, never LOST; all members at %s" % (
                      ", ".join(figures), writer.count(), writer.errors, watch.suspensions(),
                      line))
        finally:
            H.stop_client(client)


def wait_for(pred, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise Failed("%s: not within %.0fs" % (what, timeout_s))


def observer(_writes_after):
    with H.start_cluster(3, observers=1) as cluster:
        obs = 3
        leader = cluster.leader_index()
        modes = cluster.modes()
        check(modes[obs] == "observer", "s4 reports %r, not observer" % modes[obs])
        check(sorted(modes[:3]) == ["follower", "follower", "leader"],
              "participants report %s" % modes[:3])
        writer = H.kazoo_client(cluster.hostport(leader), timeout_s=SESSION_TIMEOUT_S)
        reader = H.kazoo_client(cluster.hostport(obs), timeout_s=SESSION_TIMEOUT_S)
        try:
            writer.create("/via-leader", b"written on the leader")
            t0 = time.monotonic()
            got = wait_for(lambda: reader.exists("/via-leader") and reader.get("/via-leader"),
                           10, "the observer to show /via-leader")
            check(got[0] == b"written on the leader", "observer read %r" % (got[0],))
            lag_ms = ms(time.monotonic() - t0)
            reader.create("/via-observer", b"forwarded")
            data, _ = writer.get("/via-observer")
            check(data == b"forwarded", "leader read %r" % data)
        finally:
            H.stop_client(writer)
            H.stop_client(reader)
        line = cluster.wait_converged(30)
        followers = [i for i in range(3) if i != leader]
        survivor = followers[1]
        cluster.kill(leader)
        cluster.kill(followers[0])
        t_kill = time.monotonic()
        seen = set()
        while time.monotonic() - t_kill < NO_LEADER_WATCH_S:
            for i in cluster.running():
                m = cluster.mode(i)
                seen.add((i, m))
                check(m != "leader", "s%d became leader with 1 of 3 participants alive (and "
                      "the observer): modes %s" % (i + 1, cluster.modes()))
            time.sleep(0.1)
        check(cluster.mode(obs) != "leader", "the observer leads")
        print("  observer: read a leader's write after %d ms; forwarded its own write; with "
              "s%d and s%d killed, no leader in %.0f s (seen %s)" % (
                  lag_ms, leader + 1, followers[0] + 1, NO_LEADER_WATCH_S,
                  sorted("s%d=%s" % (i + 1, m or "not serving") for i, m in seen)))
        # One participant back: 2 of 3 votes, a leader again, and the observer serves.
        t_back = time.monotonic()
        cluster.restart(followers[0])
        new_leader = cluster.leader_index(30)
        check(new_leader != obs, "the observer leads")
        check(cluster.mode(obs) == "observer", "s4 reports %r after recovery" % cluster.mode(obs))
        c = H.kazoo_client(cluster.hostport(obs), timeout_s=SESSION_TIMEOUT_S)
        try:
            check(c.get("/via-observer")[0] == b"forwarded", "observer lost /via-observer")
        finally:
            H.stop_client(c)
        print("  recovery: s%d leads %d ms after s%d was restarted; converged before the kills "
              "at %s, now at %s" % (new_leader + 1, ms(time.monotonic() - t_back),
                                    followers[0] + 1, line, cluster.wait_converged(30)))
        check(survivor in cluster.running(), "survivor is gone")


def raft_term(cluster, i):
    """Member i's Raft term, from `mntr`."""
    for line in H.four_letter(cluster.members[i].port, "mntr").splitlines():
        key, _, value = line.partition("\t")
        if key.endswith("raft_term"):
            return int(value)
    raise Failed("s%d: no raft_term in mntr" % (i + 1))


def follower_pause(writes_after):
    with H.start_cluster(3) as cluster:
        leader = cluster.leader_index()
        follower = cluster.follower_indices()[0]
        term_before = raft_term(cluster, leader)
        client = H.kazoo_client(cluster.hostport(follower), timeout_s=SESSION_TIMEOUT_S)
        watch = SessionWatch(client)
        try:
            sid = client.client_id[0]
            client.create("/load", b"")
            writer = Writer(client, "/load").start()
            writer.wait_count(50, 30, "before the pause")
            t_pause = time.monotonic()
            pid = cluster.members[follower].proc.pid
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(PAUSE_S)
            finally:
                os.kill(pid, signal.SIGCONT)
            before = writer.count()
            writer.wait_count(before + writes_after, 30, "after the pause")
            writer.stop()
            stall_s, _ = writer.longest_stall(t_pause)
            print("  s%d stopped for %d ms; writes stalled for %d ms at most; client states "
                  "after the pause: %s" % (follower + 1, ms(PAUSE_S), ms(stall_s),
                                           watch.timeline(t_pause) or "none"))
            check(not writer.errors, "writes failed through the paused follower: %s"
                  % writer.errors)
            check(watch.suspensions() == 0, "the client lost its connection: states %s"
                  % watch.names())
            watch.check_survived(sid)
            check(cluster.leader_index() == leader, "the leader changed from s%d to s%d" % (
                leader + 1, cluster.leader_index() + 1))
            for i in cluster.running():
                term = raft_term(cluster, i)
                check(term == term_before, "s%d is at term %d, was %d before the pause" % (
                    i + 1, term, term_before))
            line = check_no_write_lost(cluster, "/load", writer.paths())
            print("  %d writes acknowledged, none failed; leader s%d and term %d unchanged; "
                  "all members at %s" % (writer.count(), leader + 1, term_before, line))
        finally:
            H.stop_client(client)


SCENARIOS = [
    ("leader_kill", "kill -9 of the leader under load: session, ephemeral and acknowledged "
                    "writes survive, replicas converge", leader_kill),
    ("rolling_restart", "rolling restart of all three members under load loses nothing",
     rolling_restart),
    ("observer", "an observer serves reads and forwards writes, and never votes", observer),
    ("follower_pause", "a follower stopped for longer than the election timeout neither "
                       "starts an election nor drops its client when it resumes",
     follower_pause),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=[n for n, _, _ in SCENARIOS], action="append")
    ap.add_argument("--writes-after", type=int, default=100,
                    help="acknowledged writes required after each disruption")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    results = []
    for rep in range(args.repeat):
        for name, title, fn in SCENARIOS:
            if args.only and name not in args.only:
                continue
            label = "%s: %s" % (name, title) + (" (run %d)" % (rep + 1) if args.repeat > 1
                                                else "")
            print("== %s" % label)
            sys.stdout.flush()
            t0 = time.monotonic()
            try:
                fn(args.writes_after)
                err = None
            except Exception as e:
                traceback.print_exc(file=sys.stdout)
                err = "%s: %s" % (type(e).__name__, e)
            print("  (%.1fs)" % (time.monotonic() - t0))
            sys.stdout.flush()
            results.append((label, err))
    return H.report(results)


if __name__ == "__main__":
    sys.exit(main())

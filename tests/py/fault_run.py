#!/usr/bin/python3
"""fault_run: a Jepsen-style fault run against a Ferrokeeper cluster (issue #9, part 1).

Usage (run with /usr/bin/python3, which sees Debian's kazoo):
  fault_run.py --smoke [--nodes 3] [--seed N]          # every nemesis once (CI, ~2 min)
  fault_run.py --duration 3h --nodes 5 --seed N        # the soak: random nemeses for hours
  fault_run.py --smoke --nemeses wipe-all --expect-violations   # the harness's selftest: every
                                     # member's data wiped mid-run; passes only if flagged
  options: --nemeses LIST (comma list of kinds, default all), --out DIR (histories and the
  summary; default a fresh temp dir, kept), --keep (keep the servers' directories),
  --violations-dir DIR (copy failing histories there), --workers N (processes per workload)

What it does:
  1. Starts an N-member `FerrokeeperCluster` (fkharness) whose members reach each other only
     through `netproxy` proxies, one per ordered pair (member i's zoo.cfg names member j at
     proxy i->j; j binds its real peer port). Partitions are made by the proxies, not by network
     namespaces or iptables. Config: `readConsistency=linearizable` (ZooKeeper's default,
     sequential consistency, lets a lagging member serve stale reads, which a linearizable
     register must flag; with it every read is a Raft ReadIndex), `snapCount=300` (or
     `--snap-count`) and `preAllocSize=128` (KiB) so that snapshots, log purges and segment
     rolls happen during a run, tickTime 500 ms (fkharness's).
  2. Runs the five workloads of `fault_workloads.py` at once (register, set, counter, queue,
     unique ids), each with `--workers` kazoo clients, each writing one JSON Lines history in
     `history_check.py`'s format; ok / fail / info as that module's docstring says.
  3. A nemesis acts meanwhile, one fault at a time, each held a few seconds, then undone, then
     the cluster must recover (one leader, every member serving) within RECOVERY_S:
       kill-random, kill-leader       SIGKILL, then restart on the same data directory
       pause-random, pause-leader     SIGSTOP, then SIGCONT
       partition-halves               a random minority from the majority
       partition-leader               the leader alone
       partition-bridge               two halves and one member that sees both
                                      (partitions: drop or blackhole, at random; see netproxy)
       wal-truncate-tail              the newest segment's last record cut short (file
                                      truncated, or zeroed to its end)
       wal-garble-tail                bytes of the last record flipped
       wal-garble-middle              a byte of an earlier record flipped (mid-log damage)
       snapshot-corrupt               bytes of the newest snapshot's body flipped (after a
                                      `csnp` so there is one)
     A disk fault kills a member, waits until the others have a leader (so a majority holds
     every committed entry without it: a lost, already acknowledged tail record on one member
     is then within what Raft tolerates), damages its files and restarts it. The server must
     then either start (cut the torn tail, fall back to an older snapshot, or set a damaged log
     aside and take it from the leader) or refuse with an error; a refusal is recorded, the
     member's data directory is wiped (myid kept) and it rejoins from the leader.
  4. At the end: heal, resume and restart everything, stop the workloads, run the final reads
     (each set key read through every member in turn; the queue drained; the counter read),
     require every member to converge on the same `hash` (zxid and tree digest), stop the
     cluster, and run history_check on each history. The last line is `N passed, M failed`
     (histories, convergence, recovery after each nemesis, no server panic, and in --smoke
     every nemesis kind used).

Time: the harness measures with time.monotonic only. Clock jumps are not a nemesis: Raft,
elections, session expiry and request deadlines run on the monotonic clock (raft/ counts ticks;
src/clock.rs reads `Instant` for deadlines). The wall clock (`Clock::wall_ms`) reaches only znode
ctime/mtime, TTL expiry, the session-id prefix at start-up (as ZooKeeper's) and the name of a
set-aside log directory; none of the workloads here depends on them, so a jump could change no
verdict (and jumping one process's clock needs root or libfaketime, which we do not use).

Seeds: `--seed` fixes the nemesis schedule (kinds, targets, hold times, partition shapes and
modes) and each worker's choice of ops and values. Thread timing and the servers' own
elections are not seeded, so a run repeats its schedule, not its exact interleaving.

Bounds: every wait has a deadline; each op waits at most W.OP_TIMEOUT_S; each worker stops at
the run's end and is joined with a deadline; every server is stopped on every exit path
(fkharness's cleanup, plus SIGCONT to paused members first).

Stdlib + kazoo only.
"""

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkharness as H  # noqa: E402
import history_check  # noqa: E402
import netproxy  # noqa: E402
import fault_workloads as W  # noqa: E402

RECOVERY_S = 60.0  # after a fault is undone: one leader, every member serving
FINAL_CONVERGE_S = 90.0
WORKER_JOIN_S = 30.0
CLUSTER_CFG = {
    "readConsistency": "linearizable",
    "preAllocSize": "128",
}
SNAP_COUNT_DEFAULT = 300
NEMESES = ("kill-random", "kill-leader", "pause-random", "pause-leader", "partition-halves",
           "partition-leader", "partition-bridge", "wal-truncate-tail", "wal-garble-tail",
           "wal-garble-middle", "snapshot-corrupt")
# Not in the default list: wipes every member's data, so acknowledged writes are lost for
# certain. With --expect-violations it checks the harness itself: the checkers must flag it.
SELFTEST_NEMESES = ("wipe-all",)
# Server log lines that show a disk fault was noticed (counted in the summary).
RECOVERY_LOG_MARKS = {
    "torn tail cut": "truncated a torn tail",
    "damaged snapshot skipped": "skipping a damaged snapshot",
    "damaged log set aside": "write-ahead log is damaged",
}


def log(msg):
    sys.stderr.write("[fault %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def parse_duration(text):
    """'90', '90s', '20m', '3h' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


# ---------------------------------------------------------------------------------------------
# Disk faults

def newest(directory, prefix):
    """The file `prefix<16 hex>` with the largest number in directory, or None."""
    try:
        names = [n for n in os.listdir(directory)
                 if n.startswith(prefix) and len(n) == len(prefix) + 16
                 and all(ch in "0123456789abcdef" for ch in n[len(prefix):])]
    except OSError:
        return None
    return os.path.join(directory, max(names)) if names else None


def wal_records(path):
    """[(start, end)] of the records of a segment (wal/src/format.rs: a 32-byte header, then
    records of 8 + `length` bytes; a zero length ends the segment)."""
    with open(path, "rb") as f:
        data = f.read()
    records, off = [], 32
    while off + 8 <= len(data):
        length = int.from_bytes(data[off:off + 4], "little")
        if length == 0 or off + 8 + length > len(data):
            break
        records.append((off, off + 8 + length))
        off += 8 + length
    return records


def damage_wal(member_dir, kind, rng):
    """Damages the newest segment; returns a description."""
    seg = newest(os.path.join(member_dir, "datalog", "log"), "log.")
    if seg is None:
        return "no segment"
    recs = wal_records(seg)
    if not recs:
        return "%s: no records" % os.path.basename(seg)
    name = os.path.basename(seg)
    start, end = recs[-1]
    with open(seg, "r+b") as f:
        if kind == "wal-truncate-tail":
            cut = rng.randrange(start + 1, end)
            if rng.random() < 0.5:
                f.truncate(cut)
                return "%s: truncated to %d inside its last record [%d, %d)" % (
                    name, cut, start, end)
            f.seek(cut)
            f.write(b"\0" * (end - cut))
            return "%s: zeroed [%d, %d) of its last record [%d, %d)" % (
                name, cut, end, start, end)
        if kind == "wal-garble-tail":
            where = sorted(rng.sample(range(start, end), min(3, end - start)))
        else:
            if len(recs) < 2:
                return "%s: only one record, nothing in the middle" % name
            start, end = recs[rng.randrange(0, len(recs) - 1)]
            where = [rng.randrange(start + 8, end)]
        for pos in where:
            f.seek(pos)
            b = f.read(1)
            f.seek(pos)
            f.write(bytes([b[0] ^ (1 << rng.randrange(8))]))
        return "%s: flipped a bit at offsets %s (record [%d, %d) of %d)" % (
            name, where, start, end, len(recs))


def damage_snapshot(member_dir, rng):
    snap = newest(os.path.join(member_dir, "data", "snapshots"), "snapshot.")
    if snap is None:
        return "no snapshot"
    size = os.path.getsize(snap)
    if size <= 64:
        return "%s: too small (%d bytes)" % (os.path.basename(snap), size)
    where = sorted(rng.sample(range(48, size - 16), min(4, size - 64)))
    with open(snap, "r+b") as f:
        for pos in where:
            f.seek(pos)
            b = f.read(1)
            f.seek(pos)
            f.write(bytes([b[0] ^ 0xFF]))
    return "%s (%d bytes): garbled offsets %s" % (os.path.basename(snap), size, where)


def wipe_member(member_dir):
    """Removes a member's data and log, keeping myid, so it rejoins as a new replica."""
    data = os.path.join(member_dir, "data")
    for name in os.listdir(data):
        if name == "myid":
            continue
        p = os.path.join(data, name)
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    shutil.rmtree(os.path.join(member_dir, "datalog"), ignore_errors=True)
    os.makedirs(os.path.join(member_dir, "datalog"))


# ---------------------------------------------------------------------------------------------
# The run

class Run:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.rng = random.Random(args.seed)
        self.out_dir = args.out or tempfile.mkdtemp(prefix="fk-fault-")
        os.makedirs(self.out_dir, exist_ok=True)
        self.t0 = time.monotonic()
        self.stop_workers = threading.Event()
        self.errors = []  # harness-level failures (worker crashes, an undrained queue)
        self.stalls = []  # nemeses after which the cluster did not recover in time
        self.nemesis_log = []  # (kind, description, outcome)
        self.refusals = []  # disk faults the server refused to start on
        self.paused = set()
        self.keep_cluster = False  # set on a stall or failure: the directories stay
        self.cluster = None
        self.mesh = None
        self.workloads = []
        self.workers = []

    # -- cluster --
    def start_cluster(self):
        n = self.args.nodes
        for _ in range(5):
            taken = set()

            def port_for():
                for _ in range(100):
                    p = H.free_port()
                    if p not in taken:
                        taken.add(p)
                        return p
                raise RuntimeError("no distinct free port")
            mesh = netproxy.ProxyMesh(n, port_for)
            cfg = dict(CLUSTER_CFG, snapCount=str(self.args.snap_count))
            cluster = H.FerrokeeperCluster(n, extra_cfg=cfg, keep_dir=self.args.keep,
                                           peer_route=mesh.route, startup_timeout_s=60)
            clash = taken & set(cluster.ports + cluster.peer_ports)
            if clash:
                cluster.stop()
                continue
            self.mesh = mesh.start(cluster.peer_ports)
            self.cluster = cluster
            cluster.start()
            log("cluster up: %s, %d proxies, out %s" % (cluster.hostports,
                                                       len(mesh.proxies), self.out_dir))
            return
        raise RuntimeError("proxy ports kept clashing with server ports")

    def note(self, f, value):
        log("nemesis %s: %s" % (f, value))
        for w in self.workloads:
            w.hist.event("nemesis", "info", f, None, value)

    def mode(self, i, timeout_s=1.0):
        if self.cluster.members[i].proc is None or i in self.paused:
            return ""
        for line in H.four_letter(self.cluster.ports[i], "srvr", timeout_s=timeout_s).splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
        return ""

    def leader(self, among=None):
        among = self.cluster.running() if among is None else among
        leaders = [i for i in among if self.mode(i) == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def wait_leader(self, among, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            i = self.leader(among)
            if i is not None:
                return i
            time.sleep(0.1)
        return None

    def exited(self):
        return [i for i in self.cluster.running() if not self.cluster.members[i].alive()]

    def wait_healthy(self, timeout_s):
        """(True, modes) once one leader and every member serves; (False, modes) on timeout
        or when a member's process exits (modes then names it 'EXITED')."""
        deadline = time.monotonic() + timeout_s
        modes = []
        while time.monotonic() < deadline:
            gone = self.exited()
            if gone:
                return False, ["EXITED" if i in gone else "?" for i in range(len(self.cluster.members))]
            modes = [self.mode(i) for i in range(len(self.cluster.members))]
            if modes.count("leader") == 1 and all(modes):
                return True, modes
            time.sleep(0.1)
        return False, modes

    def restart(self, i):
        self.cluster.members[i].launch()

    def repair_everything(self):
        """Heals the network, resumes paused members, restarts stopped or exited ones."""
        self.mesh.heal()
        for i in list(self.paused):
            self.resume(i)
        for i, m in enumerate(self.cluster.members):
            if m.proc is not None and not m.alive():
                self.errors.append("s%d exited unexpectedly; log:\n%s" % (i + 1, m.log_tail(30)))
                m.kill()
            if m.proc is None:
                self.restart(i)

    def recover(self, kind):
        """Waits until the cluster is healthy again. On a stall: records it with diagnostics,
        repairs, and restarts (kill -9) the members that run but report no mode, so a soak
        goes on; raises if even that does not bring the cluster back."""
        ok, modes = self.wait_healthy(RECOVERY_S)
        if ok:
            return True
        report = self.diagnose(kind, modes)
        gone = ["s%d" % (i + 1) for i, md in enumerate(modes) if md == "EXITED"]
        if gone:
            self.errors.append("%s: %s exited by itself (diagnostics in %s)" % (
                kind, ", ".join(gone), report))
        else:
            self.stalls.append("%s: no recovery within %.0fs (modes %s; diagnostics in %s)" % (
                kind, RECOVERY_S, modes, report))
        log("STALL after %s: modes %s; diagnostics in %s" % (kind, modes, report))
        self.repair_everything()
        for i, md in enumerate(modes):
            m = self.cluster.members[i]
            if md == "" and m.alive() and self.mode(i) == "":
                self.note("restart-stuck", "kill -9 and restart s%d" % (i + 1))
                m.kill()
                self.restart(i)
        ok, modes = self.wait_healthy(RECOVERY_S)
        if not ok:
            raise RuntimeError("cluster did not recover after %s: modes %s\n%s" % (
                kind, modes, self.cluster.log_tail(n=30)))
        return False

    def diagnose(self, kind, modes):
        """Writes what each member says (srvr, mntr, its threads' kernel wait channels and
        its log's tail) to stall-<n>.txt in the output directory; returns the file's path."""
        path = os.path.join(self.out_dir, "stall-%d.txt" % (len(self.stalls) + 1))
        self.keep_cluster = True
        with open(path, "w") as f:
            f.write("stall after %s at %.1fs; modes %s\n" % (kind, time.monotonic() - self.t0,
                                                            modes))
            for i, m in enumerate(self.cluster.members):
                f.write("\n===== s%d (dir %s, alive %s)\n" % (i + 1, m.dir, m.alive()))
                if not m.alive():
                    continue
                for word in ("srvr", "mntr"):
                    f.write("--- %s\n%s\n" % (word, H.four_letter(m.port, word, timeout_s=3)))
                pid = m.proc.pid
                try:
                    with open("/proc/%d/status" % pid) as st:
                        f.write("--- " + "".join(ln for ln in st if ln.startswith(
                            ("State", "Threads", "VmRSS"))))
                    for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
                        with open("/proc/%d/task/%s/comm" % (pid, tid)) as c, \
                                open("/proc/%d/task/%s/wchan" % (pid, tid)) as w, \
                                open("/proc/%d/task/%s/stat" % (pid, tid)) as t:
                            fields = t.read().rsplit(")", 1)[1].split()
                            f.write("thread %s %-16s state %s utime %s stime %s wchan %s\n" % (
                                tid, c.read().strip(), fields[0], fields[11], fields[12],
                                w.read().strip()))
                except OSError as e:
                    f.write("(cannot read /proc: %s)\n" % e)
                f.write("--- log tail\n%s\n" % m.log_tail(60))
        return path

    def pause(self, i):
        os.kill(self.cluster.members[i].proc.pid, signal.SIGSTOP)
        self.paused.add(i)

    def resume(self, i):
        m = self.cluster.members[i]
        if m.proc is not None and m.proc.poll() is None:
            os.kill(m.proc.pid, signal.SIGCONT)
        self.paused.discard(i)

    # -- nemeses --
    def hold(self):
        time.sleep(self.rng.uniform(self.args.hold_min, self.args.hold_max))

    def act(self, kind):
        n = len(self.cluster.members)
        leader = self.leader()
        pick = self.rng.randrange(n)
        target = leader if kind.endswith("-leader") and leader is not None else pick
        if kind.startswith("kill"):
            self.note(kind, "kill -9 s%d" % (target + 1))
            self.cluster.kill(target)
            self.hold()
            self.restart(target)
            self.note("restart", "s%d" % (target + 1))
            return "killed and restarted s%d" % (target + 1)
        if kind.startswith("pause"):
            self.note(kind, "SIGSTOP s%d" % (target + 1))
            self.pause(target)
            self.hold()
            self.resume(target)
            self.note("resume", "SIGCONT s%d" % (target + 1))
            return "paused s%d" % (target + 1)
        if kind.startswith("partition"):
            return self.partition(kind, leader)
        if kind == "wipe-all":
            self.note(kind, "kill -9 and wipe every member")
            for i in range(n):
                self.cluster.kill(i)
                wipe_member(self.cluster.members[i].dir)
            for i in range(n):
                self.restart(i)
            self.note("restart", "every member, empty")
            return "wiped every member"
        return self.disk_fault(kind, pick)

    def partition(self, kind, leader):
        n = len(self.cluster.members)
        order = list(range(n))
        self.rng.shuffle(order)
        mode = self.rng.choice((netproxy.DROP, netproxy.BLACKHOLE))
        if kind == "partition-leader":
            lead = leader if leader is not None else order[0]
            groups = [[lead], [i for i in range(n) if i != lead]]
        elif kind == "partition-halves":
            groups = [order[:n // 2], order[n // 2:]]
        else:  # bridge: the middle member of the order sees both halves
            half = (n - 1) // 2
            groups = [order[:half], order[half + 1:]]
        shape = " | ".join(",".join("s%d" % (i + 1) for i in sorted(g)) for g in groups)
        if kind == "partition-bridge":
            shape += " (bridge s%d)" % (order[(n - 1) // 2] + 1)
        self.note(kind, "%s %s" % (mode, shape))
        self.mesh.partition(groups, mode)
        self.hold()
        self.mesh.heal()
        self.note("heal", "network")
        return "%s %s" % (mode, shape)

    def disk_fault(self, kind, target):
        m = self.cluster.members[target]
        if kind == "snapshot-corrupt":
            snaps = os.path.join(m.dir, "data", "snapshots")
            before = newest(snaps, "snapshot.")
            H.four_letter(m.port, "csnp")
            deadline = time.monotonic() + 15
            while newest(snaps, "snapshot.") == before and time.monotonic() < deadline:
                time.sleep(0.1)
        self.note(kind, "kill -9 s%d" % (target + 1))
        self.cluster.kill(target)
        others = [i for i in range(len(self.cluster.members)) if i != target]
        # The survivors elect (or keep) a leader, whose first commit puts every committed
        # entry on a majority without the target; only then may the target's copy be damaged.
        if self.wait_leader(others, RECOVERY_S) is None:
            self.stalls.append("%s: survivors elected no leader in %.0fs" % (kind, RECOVERY_S))
        time.sleep(1.0)
        if kind == "snapshot-corrupt":
            what = damage_snapshot(m.dir, self.rng)
        else:
            what = damage_wal(m.dir, kind, self.rng)
        self.note(kind, "s%d %s" % (target + 1, what))
        self.restart(target)
        self.note("restart", "s%d" % (target + 1))
        ok, _ = self.wait_healthy(RECOVERY_S)
        if not ok and not m.alive():
            tail = m.log_tail(15)
            self.refusals.append((kind, target, what, tail))
            self.note("refused", "s%d did not start; wiping its data" % (target + 1))
            log("s%d refused to start after %s; log:\n%s" % (target + 1, kind, tail))
            m.kill()
            wipe_member(m.dir)
            self.restart(target)
            self.note("restart", "s%d (wiped)" % (target + 1))
            return "s%d %s -> refused to start, wiped and rejoined" % (target + 1, what)
        return "s%d %s -> started" % (target + 1, what)

    def schedule(self):
        """Yields nemesis kinds: in --smoke each once in a seeded order, else random kinds
        until the duration has passed."""
        kinds = list(self.args.nemeses)
        if self.args.smoke:
            self.rng.shuffle(kinds)
            for k in kinds:
                yield k
            return
        end = self.t0 + self.args.duration
        while time.monotonic() < end:
            yield self.rng.choice(kinds)

    def run_nemeses(self):
        time.sleep(self.args.quiet)
        for kind in self.schedule():
            if self.exited():
                self.errors.append("a member exited unexpectedly before %s: %s" % (
                    kind, ", ".join("s%d" % (i + 1) for i in self.exited())))
                self.repair_everything()
                self.recover("unexpected exit")
            t = time.monotonic()
            try:
                what = self.act(kind)
            finally:
                if self.paused or self.mesh.cut_links():
                    self.repair_everything()  # act() was interrupted mid-fault
            recovered = self.recover(kind)
            self.nemesis_log.append((kind, what, recovered, time.monotonic() - t))
            log("%s done in %.1fs: %s%s" % (kind, time.monotonic() - t, what,
                                            "" if recovered else " (STALLED)"))
            time.sleep(self.rng.uniform(self.args.quiet / 2, self.args.quiet))

    # -- final phase --
    def final_op(self, workload, ports, f, key, value, action):
        """One op of the final phase through a fresh client on `ports`, as a new process;
        retried (each try a new process) until ok or FINAL_TRIES."""
        rng = random.Random(self.seed)
        for _ in range(10):
            c = W.new_client(ports, rng, timeout_s=15)
            if c is None:
                time.sleep(1)
                continue
            w = W.FinalWorker(workload, c)
            try:
                status, result = w.call(f, key, value, action, write=f != "read")
            finally:
                W.close_client(w.client)
            if status == "ok":
                return status, result
            if status == "fail" and w.last_fail_definite:
                break  # the server answered; asking again gets the same answer
            time.sleep(0.5)
        self.errors.append("final %s %s of %s failed" % (f, key, workload.name))
        return "fail", None

    def finish(self):
        self.stop_workers.set()
        deadline = time.monotonic() + WORKER_JOIN_S
        for w in self.workers:
            w.thread.join(max(0.1, deadline - time.monotonic()))
        stuck = [w.thread.name for w in self.workers if w.thread.is_alive()]
        if stuck:
            self.errors.append("workers did not stop within %.0fs: %s" % (WORKER_JOIN_S, stuck))
        for wl in self.workloads:
            wl.finish(self)
        try:
            line = self.cluster.wait_converged(FINAL_CONVERGE_S)
            return None, line
        except RuntimeError as e:
            return str(e), None

    def server_log_marks(self):
        counts = {k: 0 for k in RECOVERY_LOG_MARKS}
        panics = []
        for i, m in enumerate(self.cluster.members):
            try:
                with open(os.path.join(m.dir, "server.log"), "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            for k, mark in RECOVERY_LOG_MARKS.items():
                counts[k] += text.count(mark)
            if "panicked" in text:
                panics.append("s%d: %s" % (i + 1, [ln for ln in text.splitlines()
                                                   if "panicked" in ln][:3]))
        return counts, panics

    def main(self):
        results = []
        self.start_cluster()
        admin = W.new_client(self.cluster.ports, random.Random(self.seed), timeout_s=20)
        if admin is None:
            raise RuntimeError("no admin client")
        try:
            for i, cls in enumerate(W.WORKLOAD_CLASSES):
                wl = cls(self, i)
                wl.setup(admin)
                self.workloads.append(wl)
        finally:
            W.close_client(admin)
        for wl in self.workloads:
            for k in range(self.args.workers):
                self.workers.append(W.Worker(self, wl, k))
        for w in self.workers:
            w.thread.start()
        try:
            self.run_nemeses()
        finally:
            self.repair_everything()
        self.recover("final repair")
        time.sleep(self.args.quiet)
        diverged, hash_line = self.finish()
        marks, panics = self.server_log_marks()
        self.keep_logs()
        for wl in self.workloads:
            wl.hist.close()
        results.extend(self.check_histories())
        if any(err for _, err in results) or diverged or self.stalls or panics:
            self.keep_cluster = True
        self.stop_cluster()
        results.append(("replicas converge to one zxid and digest", diverged))
        results.append(("the cluster recovered after every nemesis",
                        "; ".join(self.stalls) or None))
        results.append(("no server panicked", "; ".join(panics) or None))
        results.append(("harness ran cleanly", "\n".join(self.errors) or None))
        if self.args.smoke:
            used = {k for k, _, _, _ in self.nemesis_log}
            missing = sorted(set(self.args.nemeses) - used)
            results.append(("every nemesis kind ran", ", ".join(missing) or None))
        self.print_summary(hash_line, marks)
        if self.args.expect_violations:
            invalid = [wl.name for wl, res in self.checked if res["valid"] is False]
            results = [("a checker flagged the planted loss", None if invalid else
                        "every history passed"), ("no server panicked", "; ".join(panics) or None)]
            print("histories flagged: %s" % (", ".join(invalid) or "none"))
        return H.report(results)

    def keep_logs(self):
        """Copies every member's server.log into the output directory."""
        for i, m in enumerate(self.cluster.members):
            try:
                shutil.copy(os.path.join(m.dir, "server.log"),
                            os.path.join(self.out_dir, "s%d.log" % (i + 1)))
            except OSError as e:
                log("cannot keep the log of s%d: %s" % (i + 1, e))

    def stop_cluster(self):
        """Resumes paused members, stops every server and proxy; the servers' directories
        stay (and are named) when something failed or --keep was given."""
        for i in list(self.paused):
            self.resume(i)
        if self.cluster is not None:
            if self.keep_cluster:
                self.cluster.keep_dir = True
                log("server directories kept in %s" % self.cluster.dir)
            self.cluster.stop()
        if self.mesh is not None:
            self.mesh.close()

    def check_histories(self):
        results = []
        self.checked = []
        for wl in self.workloads:
            name = "history %s" % wl.name
            try:
                ops = history_check.load_history(wl.hist.path, wl.name)
            except history_check.HistoryError as e:
                results.append((name, "malformed: %s" % e))
                self.keep_violation(wl.hist.path)
                continue
            res = history_check.check(wl.name, ops, self.args.budget)
            self.checked.append((wl, res))
            if res["valid"] is True:
                results.append((name, None))
            elif res["valid"] == "unknown" and self.args.allow_budget_unknown and all(
                    k["valid"] != "unknown" or "budget" in k.get("note", "")
                    for k in res["keys"]):
                # The register search ran out of steps on some key: reported, not failed.
                log("UNKNOWN %s: search budget ran out on %d keys" % (
                    wl.name, sum(k["valid"] == "unknown" for k in res["keys"])))
                results.append((name, None))
            else:
                results.append((name, "%s: %s" % (res["valid"], "; ".join(
                    res["violations"][:5]) or "; ".join(k.get("note", "")
                                                         for k in res["keys"]))))
                self.keep_violation(wl.hist.path)
                print(history_check.format_summary(res))
        return results

    def keep_violation(self, path):
        if self.args.violations_dir:
            os.makedirs(self.args.violations_dir, exist_ok=True)
            dest = os.path.join(self.args.violations_dir, "seed%d-%s" % (
                self.seed, os.path.basename(path)))
            shutil.copy(path, dest)
            log("kept %s" % dest)

    def print_summary(self, hash_line, marks):
        elapsed = time.monotonic() - self.t0
        print("== fault run: seed %d, %d nodes, %.0fs, histories in %s" % (
            self.seed, len(self.cluster.members), elapsed, self.out_dir))
        for wl, res in self.checked:
            c = wl.hist.counts
            unknown_keys = sum(k["valid"] == "unknown" for k in res["keys"])
            steps = [k["steps"] for k in res["keys"] if "steps" in k]
            print("history %-10s ops %6d (ok %d, fail %d, info %d), keys %d, verdict %s, "
                  "violations %d%s%s" % (
                      wl.name, c["invoke"], c["ok"], c["fail"], c["info"], len(res["keys"]),
                      history_check._verdict_word(res["valid"]), len(res["violations"]),
                      ", unknown keys %d" % unknown_keys if unknown_keys else "",
                      ", search steps max %d of %d" % (max(steps), self.args.budget)
                      if steps else ""))
        counts = {}
        for kind, _, _, _ in self.nemesis_log:
            counts[kind] = counts.get(kind, 0) + 1
        print("nemeses: %d (%s)" % (len(self.nemesis_log), ", ".join(
            "%s %d" % kv for kv in sorted(counts.items()))))
        for kind, what, recovered, secs in self.nemesis_log:
            print("  %-18s %5.1fs %s%s" % (kind, secs, what, "" if recovered else " STALLED"))
        print("disk faults refused at start (data wiped, rejoined): %d" % len(self.refusals))
        for kind, target, what, tail in self.refusals:
            errs = [ln for ln in tail.splitlines() if "rror" in ln][-2:]
            print("  %s s%d: %s | %s" % (kind, target + 1, what, " / ".join(errs)))
        print("server log: %s" % ", ".join("%s %d" % kv for kv in marks.items()))
        print("final hash: %s" % hash_line)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--duration", type=parse_duration, default=600.0,
                   help="soak length: 90s, 20m, 3h (ignored by --smoke)")
    p.add_argument("--smoke", action="store_true", help="each nemesis once, then stop")
    p.add_argument("--nemeses", default=",".join(NEMESES))
    p.add_argument("--workers", type=int, default=3, help="processes per workload")
    p.add_argument("--hold-min", type=float, default=3.0)
    p.add_argument("--hold-max", type=float, default=6.0)
    p.add_argument("--quiet", type=float, default=3.0, help="seconds of calm between faults")
    p.add_argument("--snap-count", type=int, default=SNAP_COUNT_DEFAULT,
                   help="the servers' snapCount (txns between snapshots)")
    p.add_argument("--budget", type=int, default=history_check.BUDGET_STEPS_DEFAULT)
    p.add_argument("--strict-unknown", dest="allow_budget_unknown", action="store_false",
                   help="fail on an unknown register verdict even when the budget ran out")
    p.add_argument("--out", default=None)
    p.add_argument("--violations-dir", default=None)
    p.add_argument("--expect-violations", action="store_true",
                   help="a selftest: pass only if a checker flags a history (use with "
                        "--nemeses wipe-all)")
    p.add_argument("--keep", action="store_true", help="keep the servers' directories")
    args = p.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    args.nemeses = [k.strip() for k in args.nemeses.split(",") if k.strip()]
    bad = [k for k in args.nemeses if k not in NEMESES + SELFTEST_NEMESES]
    if bad:
        p.error("unknown nemeses %s (known: %s)" % (bad, ", ".join(NEMESES + SELFTEST_NEMESES)))
    if not 3 <= args.nodes <= 7:
        p.error("--nodes must be 3..7")
    return args


def main(argv=None):
    args = parse_args(argv)
    log("seed %d (replay: fault_run.py %s--nodes %d --seed %d)" % (
        args.seed, "--smoke " if args.smoke else "--duration %ds " % args.duration,
        args.nodes, args.seed))
    run = Run(args)
    try:
        return run.main()
    except Exception:
        traceback.print_exc()
        run.keep_cluster = True
        if run.cluster is not None:
            run.keep_logs()
        print("0 passed, 1 failed")
        return 1
    finally:
        run.stop_cluster()


if __name__ == "__main__":
    sys.exit(main())

"""fault_workloads: the client side of a fault run (issue #9): histories, kazoo workers and
the five workloads `fault_run.py` drives while its nemesis acts.

Each workload runs with `--workers` kazoo clients (each its own session, connected to all
members in a random order), and writes one JSON Lines history in `history_check.py`'s format:

  register    read / write v / cas [expected, new] on znodes /fault/register/rK (a key gets
              ~100 ops, then the next key): read = getData (NoNode = null); write = setData,
              or create when absent; cas [null, v] = create; cas [x, v] = setData with the
              version this process read x at. Written values are unique, so a version match
              is exactly "the register still holds x".
  set         add x = create sequential /fault/set/sK/e-<x>- ; read = getChildren, the xs.
              A key full (SET_KEY_ADDS adds begun) gets a final read, then its znodes are
              deleted (not recorded; nothing reads it again), as are full unique-ids keys:
              the tree and its snapshots stay small however long a soak runs.
  counter     add d = getData (n, version), then multi [check(version), setData(n + d)];
              read = getData.
  queue       enqueue x = create sequential /fault/queue/q-<x>- ; dequeue = getChildren, then
              delete one of the lowest three (x, or null when empty); a drain of dequeues
              until null at the end.
  unique-ids  generate = create sequential /fault/ids/iK/id- ; the id is the name.

Outcomes: ok on a reply; fail only when the server answered with an error that means the
write was not applied (NoNode, NodeExists, BadVersion, NotEmpty, a multi's error) or a read
did not complete (a read has no effect); info (unknown) for a write that timed out or lost its
connection or session, after which the client is closed and the worker continues as a new
process id with a new session (as history_check requires).

A history's events are written under one lock, so line order is real-time order. Every op
waits at most OP_TIMEOUT_S; a worker stops when the run sets `stop_workers`.

Stdlib + kazoo only.
"""

import json
import os
import random
import threading
import time
import traceback

import history_check

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError, NodeExistsError, NotEmptyError
from kazoo.retry import KazooRetry

HOST = "127.0.0.1"
SESSION_TIMEOUT_S = 6.0
OP_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 6.0
THINK_S_MAX = 0.03  # a worker's pause between ops, uniform in [0, THINK_S_MAX]
REGISTER_KEY_OPS = 100
SET_KEY_ADDS = 2000
IDS_KEY_OPS = 5000
DRAIN_EXTRA = 100


class NotApplied(Exception):
    """The server said no: the write certainly did not take effect."""


DEFINITE = (NoNodeError, NodeExistsError, BadVersionError, NotEmptyError, NotApplied)


def wait(async_result):
    return async_result.get(timeout=OP_TIMEOUT_S)


# ---------------------------------------------------------------------------------------------
# Histories

class History:
    """One workload's JSON Lines history. Events are timed and written under one lock, so line
    order is real-time order and times never decrease."""

    def __init__(self, path, workload, t0):
        self.path = path
        self.workload = workload
        self.t0 = t0
        self.lock = threading.Lock()
        self.file = open(path, "w", encoding="utf-8")
        self.next_process = 0
        self.counts = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}

    def new_process(self):
        with self.lock:
            p = self.next_process
            self.next_process += 1
            return p

    def event(self, process, type_, f, key, value):
        with self.lock:
            e = {"process": process, "type": type_, "f": f, "key": key, "value": value,
                 "time": round(time.monotonic() - self.t0, 6)}
            self.file.write(json.dumps(e) + "\n")
            if process != "nemesis":
                self.counts[type_] += 1

    def close(self):
        with self.lock:
            self.file.close()


# ---------------------------------------------------------------------------------------------
# Clients and workers

def new_client(ports, rng, timeout_s=CONNECT_TIMEOUT_S):
    """A connected KazooClient over the given client ports (random order), or None. The client
    reconnects without limit within its session; a lost session shows as SessionExpired."""
    hosts = ["%s:%d" % (HOST, p) for p in ports]
    rng.shuffle(hosts)
    c = KazooClient(hosts=",".join(hosts), timeout=SESSION_TIMEOUT_S, randomize_hosts=False,
                    connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0),
                    command_retry=None)
    try:
        c.start(timeout=timeout_s)
        return c
    except Exception:
        close_client(c)
        return None


def close_client(c):
    if c is None:
        return
    try:
        c.stop()
    except Exception:
        pass  # a dead connection; close() below releases what is left
    try:
        c.close()
    except Exception:
        pass


class Worker:
    """One client of one workload: a thread running ops until `stop` or the deadline."""

    def __init__(self, run, workload, index):
        self.run = run
        self.workload = workload
        self.hist = workload.hist
        self.rng = random.Random(run.seed * 1000 + workload.index * 100 + index)
        self.process = self.hist.new_process()
        self.client = None
        self.seen = {}  # register: key -> (value, version) this process last read
        self.last_fail_definite = False
        self.thread = threading.Thread(target=self._loop, daemon=True,
                                       name="%s-%d" % (workload.name, index))

    def _loop(self):
        try:
            while not self.run.stop_workers.is_set():
                if self.client is None:
                    self.client = new_client(self.run.cluster.ports, self.rng)
                    if self.client is None:
                        self.run.stop_workers.wait(0.5)
                        continue
                self.workload.op(self)
                self.run.stop_workers.wait(self.rng.uniform(0, THINK_S_MAX))
        except Exception:
            self.run.errors.append("worker %s crashed:\n%s" % (self.thread.name,
                                                               traceback.format_exc()))
        finally:
            close_client(self.client)
            self.client = None

    def crash(self):
        """After an unknown outcome: a new process id and a new session."""
        close_client(self.client)
        self.client = None
        self.seen = {}
        self.process = self.hist.new_process()

    def call(self, f, key, value, action, write):
        """Records one op. action(client) returns the observed value (observers) or anything.
        Returns (status, result)."""
        observer = f in history_check.OBSERVERS
        p = self.process
        self.hist.event(p, "invoke", f, key, None if observer else value)
        try:
            result = action(self.client)
        except DEFINITE:
            self.hist.event(p, "fail", f, key, None if observer else value)
            self.last_fail_definite = True
            return "fail", None
        except Exception:
            if write:
                self.hist.event(p, "info", f, key, None if observer else value)
                self.crash()
                return "info", None
            # A read has no effect: failing it is exact. The session may be dead, though.
            self.hist.event(p, "fail", f, key, None)
            self.last_fail_definite = False
            close_client(self.client)
            self.client = None
            return "fail", None
        self.hist.event(p, "ok", f, key, result if observer else value)
        return "ok", result


# ---------------------------------------------------------------------------------------------
# Workloads

class Workload:
    name = "?"
    ratio = 0.5

    def __init__(self, run, index):
        self.run = run
        self.index = index
        self.hist = History(os.path.join(run.out_dir, "%s.jsonl" % self.name), self.name,
                            run.t0)
        self.lock = threading.Lock()
        self.counter = 0

    def next_number(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def setup(self, zk):
        zk.ensure_path(self.base)

    def finish(self, run):
        pass


class Register(Workload):
    name = "register"
    base = "/fault/register"

    def __init__(self, run, index):
        super().__init__(run, index)
        self.ops_started = 0

    def key(self):
        with self.lock:
            self.ops_started += 1
            return "r%d" % (self.ops_started // REGISTER_KEY_OPS)

    def op(self, w):
        key = self.key()
        path = "%s/%s" % (self.base, key)
        r = w.rng.random()
        if key not in w.seen or r < 0.5:
            def read(zk):
                try:
                    data, stat = wait(zk.get_async(path))
                except NoNodeError:
                    w.seen[key] = (None, -1)
                    return None
                value = int(data)
                w.seen[key] = (value, stat.version)
                return value
            w.call("read", key, None, read, write=False)
            return
        v = self.next_number()
        if r < 0.75:
            def write(zk):
                for _ in range(3):
                    try:
                        stat = wait(zk.set_async(path, b"%d" % v))
                        w.seen[key] = (v, stat.version)
                        return v
                    except NoNodeError:
                        pass
                    try:
                        wait(zk.create_async(path, b"%d" % v))
                        w.seen[key] = (v, 0)
                        return v
                    except NodeExistsError:
                        pass
                raise NotApplied("set and create kept missing each other")
            w.call("write", key, v, write, write=True)
            return
        expected, version = w.seen[key]

        def cas(zk):
            if expected is None:
                wait(zk.create_async(path, b"%d" % v))
                w.seen[key] = (v, 0)
            else:
                stat = wait(zk.set_async(path, b"%d" % v, version=version))
                w.seen[key] = (v, stat.version)
            return v
        w.call("cas", key, [expected, v], cas, write=True)


def delete_tree(zk, path, batch=200):
    """Best effort: deletes path's children in multis of `batch`, then path; gives up quietly
    on any error (a late create, a lost connection): what is left only takes room."""
    try:
        for _ in range(3):
            names = wait(zk.get_children_async(path))
            for i in range(0, len(names), batch):
                t = zk.transaction()
                for name in names[i:i + batch]:
                    t.delete("%s/%s" % (path, name))
                wait(t.commit_async())
            try:
                wait(zk.delete_async(path))
                return True
            except NotEmptyError:
                continue
    except Exception:
        pass
    return False


def children_xs(zk, path):
    """The x of every `<prefix>-<x>-<seq>` child, sorted. A parent that is gone reads as
    empty: a key is read only once its parent was created, and parents are never deleted, so
    a missing one is lost data, which the checker must see as lost elements."""
    try:
        names = wait(zk.get_children_async(path))
    except NoNodeError:
        return []
    return sorted(int(n.split("-")[1]) for n in names)


class SetWorkload(Workload):
    name = "set"
    base = "/fault/set"

    def key_of(self, x):
        return "s%d" % (x // SET_KEY_ADDS)

    def setup(self, zk):
        super().setup(zk)
        self.keys = set()
        self.retired = set()

    def retire(self, w, key):
        """A full key's final read, then its znodes are deleted (unrecorded: nothing reads
        the key again), so the tree, hence every snapshot, stays small however long the run."""
        path = "%s/%s" % (self.base, key)
        for _ in range(3):
            if w.client is None:
                w.client = new_client(self.run.cluster.ports, w.rng)
                if w.client is None:
                    continue
            status, _ = w.call("read", key, None, lambda zk: children_xs(zk, path), write=False)
            if status == "ok":
                with self.lock:
                    self.keys.discard(key)
                    self.retired.add(key)
                delete_tree(w.client, path)
                return

    def op(self, w):
        if w.rng.random() < 0.02 and self.counter:
            key = self.key_of(self.counter)
            path = "%s/%s" % (self.base, key)
            if key in self.keys:
                w.call("read", key, None, lambda zk: children_xs(zk, path), write=False)
                return
        x = self.next_number()
        key = self.key_of(x)
        if x % SET_KEY_ADDS == 0 and x > 0:
            self.retire(w, self.key_of(x - 1))
            if w.client is None:
                return
        path = "%s/%s" % (self.base, key)
        with self.lock:
            if key in self.retired:
                return  # a late add for a key already read a final time: not tried
            fresh = key not in self.keys
            self.keys.add(key)
        if fresh:
            try:
                wait(w.client.ensure_path_async(path))
            except Exception:
                with self.lock:
                    self.keys.discard(key)
                w.crash()
                return
        w.call("add", key, x, lambda zk: wait(zk.create_async("%s/e-%d-" % (path, x),
                                                               sequence=True)), write=True)

    def finish(self, run):
        """Every key read through every member in turn, each read a new process."""
        for key in sorted(self.keys):
            path = "%s/%s" % (self.base, key)
            for i in range(len(run.cluster.members)):
                run.final_op(self, [run.cluster.ports[i]], "read", key, None,
                             lambda zk: children_xs(zk, path))


class Counter(Workload):
    name = "counter"
    base = "/fault/counter"
    path = base + "/c"

    def setup(self, zk):
        super().setup(zk)
        zk.create(self.path, b"0")

    def read(self, zk):
        """The counter znode exists from setup on and is never deleted; if it is gone, the
        server lost it, and 0 (the counter's start) is what it shows."""
        try:
            data, _ = wait(zk.get_async(self.path))
        except NoNodeError:
            return 0
        return int(data)

    def op(self, w):
        if w.rng.random() < 0.3:
            w.call("read", "c", None, self.read, write=False)
            return
        d = w.rng.randint(1, 5)

        def add(zk):
            data, stat = wait(zk.get_async(self.path))
            t = zk.transaction()
            t.check(self.path, stat.version)
            t.set_data(self.path, b"%d" % (int(data) + d))
            results = wait(t.commit_async())
            errors = [r for r in results if isinstance(r, Exception)]
            if errors:
                raise NotApplied("multi failed: %r" % errors)
            return d
        w.call("add", "c", d, add, write=True)

    def finish(self, run):
        for i in range(len(run.cluster.members)):
            run.final_op(self, [run.cluster.ports[i]], "read", "c", None, self.read)


class Queue(Workload):
    name = "queue"
    base = "/fault/queue"

    def dequeue(self, zk, rng):
        try:
            names = wait(zk.get_children_async(self.base))
        except NoNodeError:
            names = []  # the queue's parent is never deleted: gone means lost, so empty
        if not names:
            return None
        names.sort(key=lambda n: n.rsplit("-", 1)[1])
        head = names[:3]
        rng.shuffle(head)
        for name in head + names[3:6]:
            try:
                wait(zk.delete_async("%s/%s" % (self.base, name)))
                return int(name.split("-")[1])
            except NoNodeError:
                continue  # another process took it
        raise NotApplied("every candidate was taken by others")

    def op(self, w):
        if w.rng.random() < 0.45:
            x = self.next_number()
            w.call("enqueue", "q", x, lambda zk: wait(zk.create_async(
                "%s/q-%d-" % (self.base, x), sequence=True)), write=True)
            return
        w.call("dequeue", "q", None, lambda zk: self.dequeue(zk, w.rng), write=True)

    def finish(self, run):
        rng = random.Random(run.seed)
        for _ in range(self.counter + DRAIN_EXTRA):
            status, value = run.final_op(self, run.cluster.ports, "dequeue", "q", None,
                                         lambda zk: self.dequeue(zk, rng))
            if status == "ok" and value is None:
                return
        run.errors.append("queue: not drained after %d dequeues" % (self.counter + DRAIN_EXTRA))


class UniqueIds(Workload):
    name = "unique-ids"
    base = "/fault/ids"

    def setup(self, zk):
        super().setup(zk)
        self.made = set()
        self.retired = set()

    def op(self, w):
        n = self.next_number()
        key = "i%d" % (n // IDS_KEY_OPS)
        path = "%s/%s" % (self.base, key)
        if n % IDS_KEY_OPS == 0 and n > 0:
            # The previous key is full: its ids are in the history; its znodes may go.
            old = "i%d" % (n // IDS_KEY_OPS - 1)
            with self.lock:
                self.retired.add(old)
            delete_tree(w.client, "%s/%s" % (self.base, old))
        with self.lock:
            if key in self.retired:
                return
            fresh = key not in self.made
            self.made.add(key)
        if fresh:
            try:
                wait(w.client.ensure_path_async(path))
            except Exception:
                with self.lock:
                    self.made.discard(key)
                w.crash()
                return
        w.call("generate", key, None, lambda zk: wait(zk.create_async(
            path + "/id-", sequence=True)).rsplit("/", 1)[1], write=True)


WORKLOAD_CLASSES = (Register, SetWorkload, Counter, Queue, UniqueIds)


class FinalWorker(Worker):
    """A one-op worker for the final phase: a new process on a given client."""

    def __init__(self, workload, client):  # noqa: super().__init__ would start a thread
        self.workload = workload
        self.hist = workload.hist
        self.process = self.hist.new_process()
        self.client = client
        self.seen = {}
        self.last_fail_definite = False

    def crash(self):
        close_client(self.client)
        self.client = None

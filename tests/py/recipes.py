#!/usr/bin/python3
"""kazoo recipes against a ZooKeeper-compatible server: Lock (+ Read/Write lock, Semaphore),
Election, Counter, Barrier, DoubleBarrier, Queue, LockingQueue, Party, ShallowParty, DataWatch,
ChildrenWatch, TransactionRequest. Multi-client where it matters; every wait is bounded.

Usage (with /usr/bin/python3):
  recipes.py --self-start [--kind fk|zk]   start a server (Ferrokeeper by default) and stop it
  recipes.py --hosts 127.0.0.1:PORT        a server you started
  recipes.py ... -k lock                   only tests whose name contains "lock"
Prints one line per test and, last, "N passed, N failed". Exit 1 on any failure.
"""

import argparse
import os
import sys
import threading
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkharness as H  # noqa: E402

from kazoo.exceptions import LockTimeout  # noqa: E402
from kazoo.protocol.states import EventType  # noqa: E402
from kazoo.recipe.barrier import Barrier, DoubleBarrier  # noqa: E402
from kazoo.recipe.counter import Counter  # noqa: E402
from kazoo.recipe.election import Election  # noqa: E402
from kazoo.recipe.lock import Lock, ReadLock, Semaphore, WriteLock  # noqa: E402
from kazoo.recipe.party import Party, ShallowParty  # noqa: E402
from kazoo.recipe.queue import LockingQueue, Queue  # noqa: E402
from kazoo.recipe.watchers import ChildrenWatch, DataWatch  # noqa: E402

WAIT_S = 15.0  # upper bound for any single wait on the server


class Ctx:
    """Clients for one test; all stopped at the end."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.clients = []
        self.root = "/recipes/%s" % uuid.uuid4().hex[:10]

    def client(self):
        c = H.kazoo_client(self.hosts, timeout_s=10.0)
        self.clients.append(c)
        return c

    def close(self):
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wait_until(pred, what, timeout_s=WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout_s, what))


def run_threads(fns, timeout_s=WAIT_S * 2):
    errors = []

    def wrap(fn):
        def w():
            try:
                fn()
            except BaseException as e:  # report in the main thread
                errors.append(e)
        return w

    ts = [threading.Thread(target=wrap(f), daemon=True) for f in fns]
    for t in ts:
        t.start()
    deadline = time.monotonic() + timeout_s
    for t in ts:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in ts):
        raise AssertionError("threads still running after %.0fs" % timeout_s)
    if errors:
        raise errors[0]


def try_acquire(lock, timeout_s):
    """kazoo 2.8: Lock.acquire(timeout=...) raises LockTimeout instead of returning
    False; turn that into False."""
    try:
        return lock.acquire(timeout=timeout_s)
    except LockTimeout:
        return False


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# ---------------------------------------------------------------------------------------------

@test
def lock_mutual_exclusion(ctx):
    path = ctx.root + "/lock"
    state = {"inside": 0, "max": 0, "count": 0}
    mu = threading.Lock()

    def worker(ident):
        c = ctx.client()
        lk = Lock(c, path, ident)
        for _ in range(5):
            check(try_acquire(lk, WAIT_S), "%s could not acquire" % ident)
            try:
                with mu:
                    state["inside"] += 1
                    state["max"] = max(state["max"], state["inside"])
                time.sleep(0.005)
                with mu:
                    state["inside"] -= 1
                    state["count"] += 1
            finally:
                lk.release()

    run_threads([lambda i=i: worker("w%d" % i) for i in range(3)])
    check(state["max"] == 1, "two holders at once (max inside = %d)" % state["max"])
    check(state["count"] == 15, "count %d != 15" % state["count"])
    c = ctx.client()
    check(c.get_children(path) == [], "lock nodes left behind: %r" % c.get_children(path))


@test
def lock_contenders_timeout_and_session_close(ctx):
    path = ctx.root + "/lock2"
    a, b = ctx.client(), ctx.client()
    la, lb = Lock(a, path, "alpha"), Lock(b, path, "beta")
    check(try_acquire(la, WAIT_S), "alpha could not acquire a free lock")
    t0 = time.monotonic()
    check(not try_acquire(lb, 0.5), "beta acquired a held lock")
    check(time.monotonic() - t0 < 5, "acquire(timeout=0.5) took %.1fs" % (time.monotonic() - t0))
    got = threading.Event()

    def waiter():
        if try_acquire(lb, WAIT_S):
            got.set()

    th = threading.Thread(target=waiter, daemon=True)
    th.start()
    wait_until(lambda: len(lb.contenders()) == 2, "two contenders")
    check(lb.contenders() == ["alpha", "beta"], "contenders %r" % lb.contenders())
    # The holder's session ends: its ephemeral lock node must vanish and beta gets the lock.
    a.stop()
    check(got.wait(WAIT_S), "beta never got the lock after alpha's session closed")
    th.join(WAIT_S)
    check(lb.contenders() == ["beta"], "contenders after %r" % lb.contenders())
    lb.release()


@test
def read_write_lock(ctx):
    path = ctx.root + "/rw"
    c1, c2, c3 = ctx.client(), ctx.client(), ctx.client()
    r1, r2, w = ReadLock(c1, path, "r1"), ReadLock(c2, path, "r2"), WriteLock(c3, path, "w")
    check(try_acquire(r1, WAIT_S), "r1")
    check(try_acquire(r2, WAIT_S), "two readers must share")
    check(not try_acquire(w, 0.5), "writer got in while readers hold")
    r1.release()
    r2.release()
    check(try_acquire(w, WAIT_S), "writer blocked after readers left")
    check(not try_acquire(r1, 0.5), "reader got in while writer holds")
    w.release()
    check(try_acquire(r1, WAIT_S), "reader blocked after writer left")
    r1.release()


@test
def semaphore(ctx):
    path = ctx.root + "/sem"
    cs = [ctx.client() for _ in range(3)]
    sems = [Semaphore(c, path, "s%d" % i, max_leases=2) for i, c in enumerate(cs)]
    check(try_acquire(sems[0], WAIT_S), "lease 1")
    check(try_acquire(sems[1], WAIT_S), "lease 2")
    check(not try_acquire(sems[2], 0.5), "third lease granted with max_leases=2")
    check(sorted(sems[2].lease_holders()) == ["s0", "s1"], "holders %r" %
          sems[2].lease_holders())
    sems[0].release()
    check(try_acquire(sems[2], WAIT_S), "third lease not granted after a release")
    sems[1].release()
    sems[2].release()


@test
def election(ctx):
    path = ctx.root + "/election"
    leaders = []
    current = {"n": 0, "max": 0}
    mu = threading.Lock()
    stop_events = {}
    clients = {}
    dead = set()  # leaders whose session we ended: no longer count as leading
    errors = []

    def contender(ident):
        c = ctx.client()
        clients[ident] = c
        ev = threading.Event()
        stop_events[ident] = ev

        def lead():
            with mu:
                current["n"] += 1
                current["max"] = max(current["max"], current["n"])
                leaders.append(ident)
            ev.wait(WAIT_S * 2)
            with mu:
                if ident not in dead:
                    current["n"] -= 1

        try:
            Election(c, path, ident).run(lead)
        except Exception as e:
            if ident not in dead:  # the one whose session we closed cannot release: expected
                errors.append("%s: %r" % (ident, e))

    threads = []
    for ident in ("e1", "e2", "e3"):
        t = threading.Thread(target=contender, args=(ident,), daemon=True)
        t.start()
        threads.append(t)
        wait_until(lambda i=ident: i in clients, "client %s" % ident)
    wait_until(lambda: len(leaders) == 1, "a first leader")
    wait_until(lambda: len(clients[leaders[0]].get_children(path)) == 3, "three contenders")
    el = Election(ctx.client(), path)
    check(el.contenders() == ["e1", "e2", "e3"], "contenders %r" % el.contenders())
    first = leaders[0]
    check(first == "e1", "first leader %s (e1 volunteered first)" % first)
    stop_events[first].set()  # leader returns from its function: the next one takes over
    wait_until(lambda: len(leaders) == 2, "a second leader")
    second = leaders[1]
    # Ending the second leader's session (not its function) must also pass leadership on.
    with mu:
        dead.add(second)
        current["n"] -= 1
    clients[second].stop()
    wait_until(lambda: len(leaders) == 3, "a third leader after session close")
    stop_events[leaders[2]].set()
    stop_events[second].set()
    for t in threads:
        t.join(WAIT_S)
    check(not errors, "contender errors %r" % errors)
    check(current["max"] == 1, "two leaders at once")
    check(sorted(leaders) == ["e1", "e2", "e3"], "leaders %r" % leaders)


@test
def counter(ctx):
    path = ctx.root + "/counter"

    def worker():
        c = ctx.client()
        cnt = Counter(c, path)
        for _ in range(20):
            cnt += 1

    run_threads([worker for _ in range(3)])
    c = ctx.client()
    cnt = Counter(c, path)
    check(cnt.value == 60, "counter %r != 60" % cnt.value)
    cnt -= 5
    check(cnt.value == 55, "counter %r != 55" % cnt.value)
    check(c.get(path)[0] == b"55", "stored %r" % c.get(path)[0])
    fc = Counter(c, ctx.root + "/fcounter", default=0.5)
    fc += 1.25
    check(fc.value == 1.75, "float counter %r" % fc.value)
    check(cnt.pre_value == 60 and cnt.post_value == 55, "pre/post %r/%r" % (cnt.pre_value,
                                                                           cnt.post_value))


@test
def barrier(ctx):
    path = ctx.root + "/barrier"
    a, b = ctx.client(), ctx.client()
    ba, bb = Barrier(a, path), Barrier(b, path)
    ba.create()
    t0 = time.monotonic()
    check(bb.wait(timeout=0.5) is False, "wait returned True on a standing barrier")
    check(time.monotonic() - t0 < 5, "wait(0.5) took too long")
    result = []
    th = threading.Thread(target=lambda: result.append(bb.wait(timeout=WAIT_S)), daemon=True)
    th.start()
    time.sleep(0.2)
    check(not result, "waiter passed before remove")
    check(ba.remove() is True, "remove failed")
    th.join(WAIT_S)
    check(result == [True], "waiter result %r" % result)
    check(ba.remove() is False, "second remove returned True")
    check(bb.wait(timeout=0.5) is True, "wait on a removed barrier")


@test
def double_barrier(ctx):
    path = ctx.root + "/dbarrier"
    n = 3
    entered, left = [], []
    mu = threading.Lock()
    gate = threading.Event()

    def member(i):
        c = ctx.client()
        db = DoubleBarrier(c, path, n, identifier="m%d" % i)
        db.enter()
        with mu:
            entered.append((i, time.monotonic()))
        gate.wait(WAIT_S)
        db.leave()
        with mu:
            left.append(i)

    threads = []
    for i in range(n):
        t = threading.Thread(target=member, args=(i,), daemon=True)
        t.start()
        threads.append(t)
        if i < n - 1:
            time.sleep(0.3)
            check(not entered, "entered with only %d of %d members" % (i + 1, n))
    wait_until(lambda: len(entered) == n, "all members entered")
    gate.set()
    for t in threads:
        t.join(WAIT_S)
    check(sorted(left) == [0, 1, 2], "left %r" % left)
    c = ctx.client()
    wait_until(lambda: not c.exists(path) or c.get_children(path) == [], "barrier emptied")


@test
def queue_priorities_and_consumers(ctx):
    path = ctx.root + "/queue"
    prod, cons = ctx.client(), ctx.client()
    q = Queue(prod, path)
    for i in range(5):
        q.put(b"low%d" % i, priority=200)
    q.put(b"urgent", priority=1)
    q.put(b"mid0", priority=50)
    q.put(b"mid1", priority=50)
    check(len(q) == 8, "len %d" % len(q))
    qc = Queue(cons, path)
    got = [qc.get() for _ in range(8)]
    check(got == [b"urgent", b"mid0", b"mid1"] + [b"low%d" % i for i in range(5)],
          "order %r" % got)
    check(qc.get() is None, "empty queue returned an item")
    # two consumers racing: every item exactly once
    for i in range(40):
        q.put(b"%03d" % i)
    seen = []
    mu = threading.Lock()

    def consume():
        c = ctx.client()
        qq = Queue(c, path)
        while True:
            item = qq.get()
            if item is None:
                return
            with mu:
                seen.append(item)

    run_threads([consume, consume, consume])
    check(sorted(seen) == [b"%03d" % i for i in range(40)], "items lost or duplicated: %d"
          % len(seen))


@test
def locking_queue(ctx):
    path = ctx.root + "/lqueue"
    p, c1, c2 = ctx.client(), ctx.client(), ctx.client()
    lq = LockingQueue(p, path)
    lq.put(b"one")
    lq.put_all([b"two", b"three"])
    lq.put(b"zero", priority=10)  # default priority is 100: lower goes first
    check(len(lq) == 4, "len %d" % len(lq))
    q1, q2 = LockingQueue(c1, path), LockingQueue(c2, path)
    check(q1.get(timeout=WAIT_S) == b"zero", "priority order")
    # q1 holds "zero" until consume(): q2 must get the next one
    check(q2.get(timeout=WAIT_S) == b"one", "second consumer got the held item")
    check(q1.holds_lock(), "q1 lost its lock")
    check(q1.consume(), "consume failed")
    check(q2.release(), "release failed")  # "one" goes back to the queue
    check(q1.get(timeout=WAIT_S) == b"one", "released item not redelivered")
    check(q1.consume(), "consume")
    check(q2.get(timeout=WAIT_S) == b"two" and q2.consume(), "two")
    check(q1.get(timeout=WAIT_S) == b"three" and q1.consume(), "three")
    t0 = time.monotonic()
    check(q2.get(timeout=0.5) is None, "empty queue returned an item")
    check(time.monotonic() - t0 < 5, "get(timeout=0.5) took too long")
    # a blocked get wakes up on put
    out = []
    th = threading.Thread(target=lambda: out.append(q2.get(timeout=WAIT_S)), daemon=True)
    th.start()
    time.sleep(0.2)
    lq.put(b"late")
    th.join(WAIT_S)
    check(out == [b"late"], "blocked get got %r" % out)
    check(q2.consume(), "consume late")
    check(len(lq) == 0, "len after consuming %d" % len(lq))


@test
def party_and_shallow_party(ctx):
    for cls, name in ((Party, "party"), (ShallowParty, "shallow")):
        path = ctx.root + "/" + name
        cs = [ctx.client() for _ in range(3)]
        parties = [cls(c, path, "member%d" % i) for i, c in enumerate(cs)]
        for p in parties:
            p.join()
        check(len(parties[0]) == 3, "%s len %d" % (name, len(parties[0])))
        check(sorted(parties[1]) == ["member0", "member1", "member2"], "%s members %r" % (
            name, sorted(parties[1])))
        parties[1].leave()
        check(sorted(parties[0]) == ["member0", "member2"], "%s after leave %r" % (
            name, sorted(parties[0])))
        cs[2].stop()  # session close removes the ephemeral membership node
        wait_until(lambda: sorted(parties[0]) == ["member0"], "%s session-close leave" % name)


@test
def data_watch(ctx):
    path = ctx.root + "/dw"
    a, b = ctx.client(), ctx.client()
    a.ensure_path(ctx.root)
    seen = []
    cond = threading.Condition()

    def cb(data, stat, event=None):
        with cond:
            seen.append((data, stat.version if stat else None,
                         event.type if event else None))
            cond.notify_all()

    DataWatch(a, path, cb)

    def wait_n(n):
        with cond:
            check(cond.wait_for(lambda: len(seen) >= n, WAIT_S), "only %d of %d callbacks: %r"
                  % (len(seen), n, seen))

    wait_n(1)
    check(seen[0] == (None, None, None), "initial %r" % (seen[0],))
    b.create(path, b"v0")
    wait_n(2)
    b.set(path, b"v1")
    wait_n(3)
    b.set(path, b"v2")
    wait_n(4)
    b.delete(path)
    wait_n(5)
    check(seen[1:] == [(b"v0", 0, EventType.CREATED), (b"v1", 1, EventType.CHANGED),
                       (b"v2", 2, EventType.CHANGED), (None, None, EventType.DELETED)],
          "sequence %r" % seen)
    b.create(path, b"again")
    wait_n(6)
    check(seen[5] == (b"again", 0, EventType.CREATED), "re-create %r" % (seen[5],))


@test
def children_watch(ctx):
    path = ctx.root + "/cw"
    a, b = ctx.client(), ctx.client()
    a.ensure_path(path)
    seen = []
    cond = threading.Condition()

    def cb(children):
        with cond:
            seen.append(sorted(children))
            cond.notify_all()

    ChildrenWatch(a, path, cb)

    def wait_for(expected):
        with cond:
            ok = cond.wait_for(lambda: seen and seen[-1] == expected, WAIT_S)
            check(ok, "children never became %r; saw %r" % (expected, seen))

    wait_for([])
    b.create(path + "/x")
    wait_for(["x"])
    b.create(path + "/y", ephemeral=True)
    wait_for(["x", "y"])
    b.stop()  # ephemeral y vanishes with b's session
    wait_for(["x"])
    a.delete(path + "/x")
    wait_for([])
    # Data changes on the parent must not trigger the children watch.
    n = len(seen)
    a.set(path, b"data")
    time.sleep(0.3)
    a.create(path + "/z")
    wait_for(["z"])
    check(len(seen) == n + 1, "extra callbacks %r" % seen[n:])


@test
def transaction_request(ctx):
    c = ctx.client()
    c.ensure_path(ctx.root)
    r = ctx.root
    c.create(r + "/t1", b"a")
    tx = c.transaction()
    tx.create(r + "/t2", b"b")
    tx.set_data(r + "/t1", b"a2", version=0)
    tx.check(r + "/t1", 1)
    tx.create(r + "/t3", b"", sequence=True)
    tx.delete(r + "/t2")
    res = tx.commit()
    check(res[0] == r + "/t2" and res[3] == r + "/t30000000002" and res[4] is True and
          res[2] is True and res[1].version == 1, "results %r" % res)
    check(c.get(r + "/t1")[0] == b"a2", "set in multi not applied")
    check(c.exists(r + "/t2") is None, "t2 should be deleted")
    # A failing op rolls everything back, earlier ops report RolledBack (code 0) and later
    # ones RuntimeInconsistency (-2).
    from kazoo.exceptions import (BadVersionError, NoNodeError as NN, RolledBackError,
                                  RuntimeInconsistency)
    tx = c.transaction()
    tx.create(r + "/t4", b"x")
    tx.set_data(r + "/t1", b"zzz", version=7)
    tx.delete(r + "/nope")
    res = tx.commit()
    check([type(x) for x in res] == [RolledBackError, BadVersionError, RuntimeInconsistency],
          "failed multi results %r" % res)
    check(c.exists(r + "/t4") is None, "rolled back create is visible")
    check(c.get(r + "/t1")[0] == b"a2", "rolled back set is visible")
    tx = c.transaction()
    tx.delete(r + "/nope")
    res = tx.commit()
    check([type(x) for x in res] == [NN], "single failed op %r" % res)
    with c.transaction() as tx:  # context-manager commit
        tx.create(r + "/t5")
    check(c.exists(r + "/t5") is not None, "context-manager transaction not committed")
    check(c.transaction().commit() == [], "empty multi")


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts")
    ap.add_argument("--self-start", action="store_true")
    ap.add_argument("--kind", default="fk", choices=["fk", "zk"])
    ap.add_argument("-k", default="", help="substring filter on test names")
    args = ap.parse_args()
    server = None
    passed = failed = 0
    try:
        if args.self_start:
            server = H.start_server(args.kind)
            hosts = server.hostport
        elif args.hosts:
            hosts = args.hosts
        else:
            ap.error("give --hosts or --self-start")
        for fn in TESTS:
            if args.k not in fn.__name__:
                continue
            ctx = Ctx(hosts)
            t0 = time.monotonic()
            try:
                fn(ctx)
                passed += 1
                print("PASS %s (%.1fs)" % (fn.__name__, time.monotonic() - t0))
            except Exception as e:
                failed += 1
                print("FAIL %s: %s" % (fn.__name__, e))
                traceback.print_exc(file=sys.stdout)
            finally:
                ctx.close()
                try:
                    c = H.kazoo_client(hosts)
                    c.delete(ctx.root, recursive=True)
                    H.stop_client(c)
                except Exception:
                    pass
            sys.stdout.flush()
            if server is not None and not server.alive():
                print("server died:\n" + server.log_tail())
                failed += 1
                break
    finally:
        if server is not None:
            server.stop()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

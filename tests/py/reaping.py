#!/usr/bin/python3
"""Container and TTL node reaping, side by side on ZooKeeper 3.8 and the target.

ZooKeeper's ContainerManager runs every znode.container.checkIntervalMs (default 60 s) and
deletes: containers that have had children (cversion > 0) and have none now; TTL nodes without
children whose last modification is older than their TTL. Containers that never had a child
stay (znode.container.maxNeverUsedIntervalMs defaults to 0 = never). This script builds the
same small tree on both servers, waits (bounded, 150 s) until the reapable nodes are gone from
both, and compares what is left, the parent's cversion/pzxid ordering, and the watch events a
watching client received.

Usage (with /usr/bin/python3):
  reaping.py --self-start [--target-kind fk|zk]
  reaping.py --zk HOST:PORT --target HOST:PORT
Prints PASS/FAIL lines and, last, "N passed, N failed".
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkharness as H  # noqa: E402
from differential import CreateContainer, CreateTTL, WORLD_ALL, call  # noqa: E402

ROOT = "/reap"
WAIT_S = 200.0
REAPED = ["c_emptied", "t_short", "t_short_seq0000000004", "c_nested/c_inner"]
KEPT = ["c_never_used", "c_with_child", "t_with_child", "t_long", "c_nested", "plain"]


def build(client):
    """Same ops on both servers. Returns the created paths (seq names included)."""
    c = client
    c.create(ROOT, b"")
    call(c, CreateContainer(ROOT + "/c_emptied", b"", [WORLD_ALL], 4))
    c.create(ROOT + "/c_emptied/child")
    c.delete(ROOT + "/c_emptied/child")
    call(c, CreateContainer(ROOT + "/c_never_used", b"", [WORLD_ALL], 4))
    call(c, CreateContainer(ROOT + "/c_with_child", b"", [WORLD_ALL], 4))
    c.create(ROOT + "/c_with_child/child")
    created = [call(c, CreateTTL(ROOT + "/t_short", b"x", [WORLD_ALL], 5, 500))[0],
               call(c, CreateTTL(ROOT + "/t_short_seq", b"x", [WORLD_ALL], 6, 500))[0]]
    call(c, CreateTTL(ROOT + "/t_with_child", b"x", [WORLD_ALL], 5, 500))
    c.create(ROOT + "/t_with_child/child")
    call(c, CreateTTL(ROOT + "/t_long", b"x", [WORLD_ALL], 5, 10 ** 9))
    # A container inside a container: the inner one is reaped; the outer one has then had a
    # child and is empty, so a later sweep reaps it as well.
    call(c, CreateContainer(ROOT + "/c_nested", b"", [WORLD_ALL], 4))
    call(c, CreateContainer(ROOT + "/c_nested/c_inner", b"", [WORLD_ALL], 4))
    c.create(ROOT + "/c_nested/c_inner/x")
    c.delete(ROOT + "/c_nested/c_inner/x")
    c.create(ROOT + "/plain")
    return created


class Side:
    def __init__(self, name, hostport):
        self.name = name
        self.client = H.super_client(hostport)
        self.watcher = H.kazoo_client(hostport)
        self.events = []
        self.lock = threading.Lock()

    def watch_all(self):
        def rec(ev):
            with self.lock:
                self.events.append((ev.type, ev.path))
        for name in REAPED[:3] + ["c_nested/c_inner"]:
            self.watcher.exists(ROOT + "/" + name, watch=rec)
        self.watcher.get_children(ROOT, watch=rec)

    def gone(self, names):
        return all(self.client.exists(ROOT + "/" + n) is None for n in names)

    def close(self):
        for c in (self.client, self.watcher):
            try:
                H.stop_client(c)
            except Exception:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zk")
    ap.add_argument("--target")
    ap.add_argument("--self-start", action="store_true")
    ap.add_argument("--target-kind", default="fk", choices=["fk", "zk"])
    args = ap.parse_args()
    servers, results = [], []
    sides = []
    try:
        if args.self_start:
            zk = H.start_server("zk", jvm_opts=["-Dznode.container.checkIntervalMs=60000"])
            servers.append(zk)
            kw = {"jvm_opts": ["-Dznode.container.checkIntervalMs=60000"]} \
                if args.target_kind == "zk" else {}
            tgt = H.start_server(args.target_kind, **kw)
            servers.append(tgt)
            hosts = (zk.hostport, tgt.hostport)
        elif args.zk and args.target:
            hosts = (args.zk, args.target)
        else:
            ap.error("give --zk and --target, or --self-start")
        sides = [Side("zookeeper", hosts[0]), Side("target", hosts[1])]
        created = [build(s.client) for s in sides]
        results.append(("sequential TTL names", None if created[0] == created[1] else
                        "zookeeper %r, target %r" % tuple(created)))
        for s in sides:
            s.watch_all()
        t0 = time.monotonic()
        done = {}
        while time.monotonic() - t0 < WAIT_S and len(done) < 2:
            for s in sides:
                if s.name not in done and s.gone(REAPED + ["c_nested"]):
                    done[s.name] = time.monotonic() - t0
            time.sleep(0.5)
        for s in sides:
            if s.name in done:
                print("%s: reapable nodes gone after %.1fs" % (s.name, done[s.name]))
                results.append(("%s reaps within %.0fs" % (s.name, WAIT_S), None))
            else:
                left = [n for n in REAPED + ["c_nested"]
                        if s.client.exists(ROOT + "/" + n) is not None]
                results.append(("%s reaps within %.0fs" % (s.name, WAIT_S),
                                "still there: %r" % left))
        listings = []
        for s in sides:
            kids = sorted(s.client.get_children(ROOT))
            st = s.client.exists(ROOT)
            listings.append((kids, st.cversion, st.numChildren))
        want = sorted(k for k in KEPT if "/" not in k and k != "c_nested")
        results.append(("zookeeper keeps exactly the non-reapable nodes",
                        None if listings[0][0] == want else "zookeeper: %r" % (listings[0],)))
        results.append(("target's tree after reaping equals zookeeper's",
                        None if listings[0] == listings[1] else
                        "zookeeper %r, target %r" % tuple(listings)))
        time.sleep(0.5)  # events for the last deletions are in flight to the watcher
        for s in sides:
            s.watcher.sync(ROOT)
        evs = [sorted(s.events) for s in sides]
        print("zookeeper's watcher saw: %r" % (evs[0],))
        if not evs[0]:
            results.append(("reaping fired watches on zookeeper", "no events at all"))
        results.append(("watch events caused by reaping",
                        None if evs[0] == evs[1] else "zookeeper %r, target %r" % tuple(evs)))
        for srv in servers:
            if not srv.alive():
                results.append(("%s alive" % srv.kind, "died:\n" + srv.log_tail()))
    finally:
        for s in sides:
            s.close()
        for srv in servers:
            srv.stop()
    return H.report(results)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Differential test: the same seeded random operations through kazoo against real ZooKeeper 3.8
and against a second target (Ferrokeeper), compared answer by answer.

Usage (run with /usr/bin/python3, which sees Debian's kazoo 2.8):
  differential.py --self-start [--seeds 1,2,3 | --seeds 5] [--ops 2000]
      starts reference ZooKeeper (../shared/tools/zk-ref.sh) and Ferrokeeper (FERROKEEPER_BIN or
      target/{release,debug}/ferrokeeper) itself, on free 127.0.0.1 ports, and stops both.
  differential.py --zk-vs-zk [...]            self-check: two real ZooKeepers; must pass.
  differential.py --selftest                  passes ZK vs ZK, and fails on planted differences.
  differential.py --self-start --seed 17 -v --keep-going 50   replay one seed, verbosely.
  differential.py --zk HOST:PORT --target HOST:PORT [...]   servers you started yourself.
  --target-kind zk  makes --self-start start a second ZooKeeper instead of Ferrokeeper.
  differential.py --self-start --cluster [...]   the target is a 3-member Ferrokeeper cluster;
      every target connection (clients, admin, raw expiry sessions) goes to one FOLLOWER.

What is compared, per operation, in lockstep on both servers:
  * results: created paths (incl. sequential names), data (None vs b'' matters), children
    (sorted), ACL lists (in order; "auth"-scheme expansions sorted), exception class (i.e.
    error code) for every failure, per-op results of multi (kazoo transaction) incl.
    rolled-back entries, multiRead, getEphemerals, getAllChildrenNumber, whoAmI (sorted),
    addWatch / removeWatches / checkWatches, createContainer / createTTL (raw requests built
    for kazoo's _call), negotiated session timeouts, session resumption after a dropped
    connection (kazoo re-sends its watches with SetWatches);
  * every Stat field exactly, except czxid/mzxid/pzxid and ctime/mtime:
      - zxids: the map zxid(ZooKeeper) -> zxid(target) must be a strictly order-preserving
        bijection over everything seen (so e.g. "pzxid was bumped by the same txn" is checked
        without requiring equal numbering); 0 must map to 0. The reply-header zxid of every
        op joins the map too (ZooKeeper gives failed writes and session create/close a zxid);
        --loose-zxid leaves those out;
      - within each server: czxid <= mzxid, czxid <= pzxid, ctime <= mtime, one time per zxid,
        a write's new czxid/mzxid above every zxid seen before, times near the wall clock,
        a client's reply zxids never decrease;
      - ephemeralOwner: session ids are mapped to session labels, other values compared exactly
        (containers / TTL nodes carry special owners in ZooKeeper);
  * watch events (type, path) received by each client, in order, taken off the socket (so
    spurious events are seen too). Before comparing, every client does a round trip, which
    the server must order after any notification queued for it earlier; events caused by a
    session close/expiry are compared as sorted lists (ZooKeeper deletes those in hash order);
  * at the end of each seed, the whole subtree (data, stat, ACL, children) read as super.
Session expiry: a raw session (no kazoo) creates ephemerals (always one "witness" under /),
drops its socket without closeSession; we wait (bounded, 30 s) until both servers have removed
them. Containers and TTL nodes are never left reapable (the reapers run on timers; reaping is
tested by reaping.py).
A mismatch prints seed, op index, the op and both answers; the seed stops there (or after
--keep-going N mismatches).
Last line: "<passed> passed, <failed> failed" counted in seeds. Exit 1 if any seed failed.
"""

import argparse
import bisect
import os
import random
import socket
import struct
import sys
import threading
import time
import traceback
from collections import namedtuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkharness as H  # noqa: E402

import kazoo.exceptions as _kz_exc  # noqa: E402
from kazoo.exceptions import KazooException  # noqa: E402
from kazoo.protocol.serialization import (Create2, Watch, int_struct, long_struct,  # noqa: E402
                                          write_buffer, write_string)
from kazoo.protocol.states import KazooState, ZnodeStat  # noqa: E402
from kazoo.security import ACL, Id, make_digest_acl  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Requests kazoo 2.8 lacks, shaped like kazoo's own (namedtuple + type + serialize/deserialize)
# so that KazooClient._call sends them and parses the Create2Response.



# The nodes every fresh server has. A cluster's /zookeeper/config lists its members (their
# ports differ from the reference's), so --cluster leaves it out.
ROOT_META_PATHS = ["/zookeeper", "/zookeeper/quota", "/zookeeper/config", "/"]

def _create_body(path, data, acl, flags):
    b = bytearray()
    b.extend(write_string(path))
    b.extend(write_buffer(data))
    b.extend(int_struct.pack(len(acl)))
    for a in acl:
        b.extend(int_struct.pack(a.perms) + write_string(a.id.scheme) + write_string(a.id.id))
    b.extend(int_struct.pack(flags))
    return b


class CreateContainer(namedtuple("CreateContainer", "path data acl flags")):
    type = 19  # OpCode.createContainer; request body = CreateRequest, reply = Create2Response

    def serialize(self):
        return _create_body(self.path, self.data, self.acl, self.flags)

    @classmethod
    def deserialize(cls, buf, offset):
        return Create2.deserialize(buf, offset)


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    type = 21  # OpCode.createTTL; CreateTTLRequest = CreateRequest + long ttl

    def serialize(self):
        return _create_body(self.path, self.data, self.acl, self.flags) + long_struct.pack(self.ttl)

    @classmethod
    def deserialize(cls, buf, offset):
        return Create2.deserialize(buf, offset)


class RawCreate2(namedtuple("RawCreate2", "path data acl flags")):
    """create2 with arbitrary flags (kazoo only sends 0..3)."""
    type = 15

    def serialize(self):
        return _create_body(self.path, self.data, self.acl, self.flags)

    @classmethod
    def deserialize(cls, buf, offset):
        return Create2.deserialize(buf, offset)


class AddWatch(namedtuple("AddWatch", "path mode")):
    type = 106  # OpCode.addWatch; mode 0 = PERSISTENT, 1 = PERSISTENT_RECURSIVE; empty reply

    def serialize(self):
        return bytearray(write_string(self.path)) + int_struct.pack(self.mode)

    @classmethod
    def deserialize(cls, buf, offset):
        return True


class RemoveWatches(namedtuple("RemoveWatches", "path watcher_type")):
    type = 18  # OpCode.removeWatches; type 1 children, 2 data, 3 any, 4 persistent, 5 recursive

    def serialize(self):
        return bytearray(write_string(self.path)) + int_struct.pack(self.watcher_type)

    @classmethod
    def deserialize(cls, buf, offset):
        return True


class CheckWatches(RemoveWatches):
    type = 17  # OpCode.checkWatches


def _read_string_list(buf, offset):
    (n,) = int_struct.unpack_from(buf, offset)
    offset += 4
    out = []
    for _ in range(max(n, 0)):
        (ln,) = int_struct.unpack_from(buf, offset)
        offset += 4
        out.append(bytes(buf[offset:offset + ln]).decode("utf-8", "replace"))
        offset += ln
    return out, offset


class GetEphemerals(namedtuple("GetEphemerals", "prefix")):
    type = 103  # OpCode.getEphemerals: the caller's own ephemerals under a path prefix

    def serialize(self):
        return bytearray(write_string(self.prefix))

    @classmethod
    def deserialize(cls, buf, offset):
        return sorted(_read_string_list(buf, offset)[0])  # server order is a hash order


class GetAllChildrenNumber(namedtuple("GetAllChildrenNumber", "path")):
    type = 104

    def serialize(self):
        return bytearray(write_string(self.path))

    @classmethod
    def deserialize(cls, buf, offset):
        return int_struct.unpack_from(buf, offset)[0]


class WhoAmI(namedtuple("WhoAmI", "unused")):
    """OpCode.whoAmI, no body. (An empty namedtuple is falsy, and kazoo never sends a falsy
    request, hence the unused field.)"""
    type = 107  # reply: vector<ClientInfo{authScheme, user}>

    def serialize(self):
        return bytearray()

    @classmethod
    def deserialize(cls, buf, offset):
        (n,) = int_struct.unpack_from(buf, offset)
        offset += 4
        out = []
        for _ in range(max(n, 0)):
            pair = []
            for _k in range(2):
                (ln,) = int_struct.unpack_from(buf, offset)
                offset += 4
                pair.append(bytes(buf[offset:offset + max(ln, 0)]).decode() if ln >= 0 else None)
                offset += max(ln, 0)
            out.append(tuple(pair))
        return out


class MultiRead(namedtuple("MultiRead", "ops")):
    """OpCode.multiRead (22): ops are ("get", path, watch) or ("children", path, watch)."""
    type = 22

    def serialize(self):
        b = bytearray()
        for kind, path, watch in self.ops:
            b.extend(struct.pack("!iBi", 4 if kind == "get" else 8, 0, -1))
            b.extend(write_string(path))
            b.extend([1 if watch else 0])
        b.extend(struct.pack("!iBi", -1, 1, -1))
        return b

    @classmethod
    def deserialize(cls, buf, offset):
        out = []
        while True:
            t, done, err = struct.unpack_from("!iBi", buf, offset)
            offset += 9
            if done:
                return out
            if t == 4:
                (ln,) = int_struct.unpack_from(buf, offset)
                offset += 4
                data = bytes(buf[offset:offset + ln]) if ln >= 0 else None
                offset += max(ln, 0)
                st = ZnodeStat._make(struct.unpack_from("!qqqqiiiqiiq", buf, offset))
                offset += 68
                out.append(("data", data, st))
            elif t == 8:
                kids, offset = _read_string_list(buf, offset)
                out.append(("children", sorted(kids)))
            elif t == -1:
                (e,) = int_struct.unpack_from(buf, offset)
                offset += 4
                out.append(("error", e, err))
            else:
                out.append(("unknown-type", t, err))
                return out


# Error codes kazoo 2.8 does not know would otherwise kill its reader thread.
for _code, _name in ((-121, "NoWatcherError"), (-122, "ReconfigDisabledError"),
                     (-123, "SessionClosedRequireSaslError"), (-124, "QuotaExceededError"),
                     (-125, "ThrottledOpError"), (-120, "EphemeralOnLocalSessionError"),
                     (-9, "UnknownSession?"), (-10, "NewConfigNoQuorum?"),
                     (-11, "ReconfigInProgress?"), (-12, "ConnectionLoss?"),
                     (-15, "RequestTimeout"), (-16, "NonRecoverable?")):
    if _code not in _kz_exc.EXCEPTIONS:
        _cls = type(_name.rstrip("?"), (_kz_exc.ZookeeperError,), {"code": _code})
        _kz_exc.EXCEPTIONS[_code] = _cls


def call(client, request, timeout_s=15):
    ar = client.handler.async_result()
    client._call(request, ar)
    return ar.get(timeout=timeout_s)


# ---------------------------------------------------------------------------------------------
# ACL palette

WORLD_ALL = ACL(31, Id("world", "anyone"))
WORLD_READ = ACL(1, Id("world", "anyone"))
USERS = {"alice": "apw", "bob": "bpw", "carol": "cpw"}


def acl_choice(rng):
    k = rng.choice(["open"] * 8 + ["worldread", "alice", "alice_wr", "bob", "dup", "auth", "ip",
                                   "bad_digest", "bad_scheme", "empty", "perms0", "ipnet",
                                   "alice_nocreate"])
    if k == "open":
        return k, None
    table = {
        "worldread": [WORLD_READ],
        "alice": [make_digest_acl("alice", USERS["alice"], all=True)],
        "alice_wr": [make_digest_acl("alice", USERS["alice"], all=True), WORLD_READ],
        "alice_nocreate": [make_digest_acl("alice", USERS["alice"], read=True, write=True,
                                           delete=True, admin=True), WORLD_READ],
        "bob": [make_digest_acl("bob", USERS["bob"], read=True, write=True, create=True,
                                delete=True), WORLD_READ],
        "dup": [WORLD_ALL, WORLD_ALL, WORLD_READ],
        "auth": [ACL(31, Id("auth", ""))],
        "ip": [ACL(31, Id("ip", "127.0.0.1"))],
        "ipnet": [ACL(1, Id("ip", "10.0.0.0/8")), ACL(31, Id("ip", "127.0.0.0/8"))],
        "bad_digest": [ACL(31, Id("digest", "alice"))],
        "bad_scheme": [ACL(31, Id("nosuchscheme", "x"))],
        "empty": [],
        "perms0": [ACL(0, Id("world", "anyone")), WORLD_ALL],
    }
    return k, table[k]


# ---------------------------------------------------------------------------------------------
# Per-server state


class Mismatch(Exception):
    pass


class Target:
    """One server: its kazoo clients (+ event logs), an admin (super) client, invariants."""

    def __init__(self, name, hostport, nclients):
        self.name = name
        self.hostport = hostport
        self.port = int(hostport.rsplit(":", 1)[1])
        self.clients = [None] * nclients
        self.events = [[] for _ in range(nclients)]
        self.event_pos = [0] * nclients
        self.labels = {}  # session id -> label
        self.gen = [0] * nclients
        self.zxid_time = {}  # zxid -> time (this server's txn time), consistency check
        self.max_zxid = 0
        self.last_reply_zxid = [0] * nclients
        self.admin = None
        self.raw_gen = 0

    def connect(self, i):
        c = H.kazoo_client(self.hostport, timeout_s=10.0, start=False)
        evlog = []
        conn = c._connection
        orig = conn._read_watch_event

        def hook(buffer, offset, _orig=orig, _log=evlog):
            w, _ = Watch.deserialize(buffer, offset)
            _log.append((w.type, w.path))
            return _orig(buffer, offset)

        conn._read_watch_event = hook
        c.start(timeout=15)
        self.clients[i] = c
        self.events[i] = evlog
        self.event_pos[i] = 0
        self.gen[i] += 1
        self.labels[c.client_id[0]] = "c%d.%d" % (i, self.gen[i])
        self.last_reply_zxid[i] = 0

    def reconnect(self, i):
        """Drop client i's TCP connection without closing its session. kazoo reconnects at
        once and resumes the session, re-sending its watches (SetWatches, opcode 101)."""
        c = self.clients[i]
        sid = c.client_id[0]
        states = []
        cond = threading.Condition()

        def listener(state):
            with cond:
                states.append(state)
                cond.notify_all()
            return False

        c.add_listener(listener)
        try:
            sock = c._connection._socket
            sock.shutdown(socket.SHUT_RDWR)
            with cond:
                ok = cond.wait_for(lambda: KazooState.SUSPENDED in states and
                                   states[-1] == KazooState.CONNECTED, 20)
        finally:
            c.remove_listener(listener)
        if not ok:
            raise Mismatch("%s: client %d did not reconnect within 20 s (states %r)" % (
                self.name, i, states))
        same = c.client_id[0] == sid
        return ("reconnected", "same session" if same else "NEW SESSION")

    def close_client(self, i):
        c = self.clients[i]
        if c is not None:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
            self.clients[i] = None

    def shutdown(self):
        for i in range(len(self.clients)):
            self.close_client(i)
        if self.admin is not None:
            try:
                self.admin.stop()
                self.admin.close()
            except Exception:
                pass
            self.admin = None

    def flush_events(self):
        """Round trip on every client: the server must have sent, before that reply, every
        notification it queued for that session earlier."""
        for c in self.clients:
            if c is not None:
                c.exists("/")

    def new_events(self, i):
        ev = self.events[i][self.event_pos[i]:]
        self.event_pos[i] = len(self.events[i])
        return ev

    # -- within-server invariants on a Stat --
    def check_stat(self, st, fresh_write=False, where=""):
        def bad(msg):
            raise Mismatch("%s: invariant broken on %s: %s (stat %r)" % (self.name, where, msg,
                                                                      st))
        if st.czxid > st.mzxid:
            bad("czxid > mzxid")
        if st.czxid > st.pzxid:
            bad("czxid > pzxid")
        if st.ctime > st.mtime:
            bad("ctime > mtime")
        for z, t in ((st.czxid, st.ctime), (st.mzxid, st.mtime)):
            old = self.zxid_time.setdefault(z, t)
            if old != t:
                bad("zxid %#x has two times %d and %d" % (z, old, t))
            if z != 0 and abs(t - time.time() * 1000) > 600000:
                bad("time %d is not near the wall clock" % t)
        if fresh_write:
            newest = max(st.czxid, st.mzxid)
            if newest <= self.max_zxid:
                bad("a write's zxid %#x is not above every earlier zxid (%#x)" %
                    (newest, self.max_zxid))
        self.max_zxid = max(self.max_zxid, st.czxid, st.mzxid, st.pzxid)

    def check_reply_zxid(self, i):
        c = self.clients[i]
        if c is None:
            return
        z = c.last_zxid
        if z < self.last_reply_zxid[i]:
            raise Mismatch("%s: client %d reply zxid went backwards %#x -> %#x" %
                           (self.name, i, self.last_reply_zxid[i], z))
        self.last_reply_zxid[i] = z


class ZxidMap:
    """Order-preserving bijection zxid(A) <-> zxid(B), built from paired observations."""

    def __init__(self):
        self.a2b = {0: 0}
        self.b2a = {0: 0}
        self.keys = [0]  # sorted A zxids

    def pair(self, za, zb, what):
        if za in self.a2b:
            if self.a2b[za] != zb:
                raise Mismatch("zxid mapping broken at %s: A %#x was paired with B %#x, now %#x"
                               % (what, za, self.a2b[za], zb))
            return
        if zb in self.b2a:
            raise Mismatch("zxid mapping broken at %s: B %#x was paired with A %#x, now %#x"
                           % (what, zb, self.b2a[zb], za))
        k = bisect.bisect_left(self.keys, za)
        if k > 0 and not self.a2b[self.keys[k - 1]] < zb:
            raise Mismatch("zxid order broken at %s: A %#x > %#x but B %#x <= %#x" % (
                what, za, self.keys[k - 1], zb, self.a2b[self.keys[k - 1]]))
        if k < len(self.keys) and not zb < self.a2b[self.keys[k]]:
            raise Mismatch("zxid order broken at %s: A %#x < %#x but B %#x >= %#x" % (
                what, za, self.keys[k], zb, self.a2b[self.keys[k]]))
        self.keys.insert(k, za)
        self.a2b[za] = zb
        self.b2a[zb] = za


# ---------------------------------------------------------------------------------------------
# Normalisation: turn an answer into comparable data + the zxids/stats it carries.


def normalize(target, value, stats):
    """Replace Stat objects by comparable tuples (zxids/times stripped) and collect the stats."""
    if isinstance(value, ZnodeStat):
        stats.append(value)
        owner = value.ephemeralOwner
        label = target.labels.get(owner)
        owner_n = ("session", label) if label else ("owner", owner)
        return ("stat", "version=%d" % value.version, "cversion=%d" % value.cversion,
                "aversion=%d" % value.aversion, owner_n, "dataLength=%d" % value.dataLength,
                "numChildren=%d" % value.numChildren)
    if isinstance(value, ACL):
        return ("acl", value.perms, value.id.scheme, value.id.id)
    if isinstance(value, BaseException):
        return ("error", type(value).__name__)
    if isinstance(value, tuple):
        return tuple(normalize(target, v, stats) for v in value)
    if isinstance(value, list):
        return [normalize(target, v, stats) for v in value]
    if isinstance(value, dict):
        return {k: normalize(target, v, stats) for k, v in sorted(value.items())}
    return value


# ---------------------------------------------------------------------------------------------
# Model (from target A's answers) used only to pick plausible operands.


class Model:
    def __init__(self, root):
        self.root = root
        self.nodes = {root: {"kind": "persistent", "owner": None}}

    def add(self, path, kind, owner=None):
        self.nodes[path] = {"kind": kind, "owner": owner}

    def remove(self, path):
        self.nodes.pop(path, None)

    def children(self, path):
        pre = path.rstrip("/") + "/"
        return [p for p in self.nodes if p.startswith(pre) and "/" not in p[len(pre):]]

    def drop_owner(self, owner):
        for p in [p for p, n in self.nodes.items() if n["owner"] == owner]:
            self.remove(p)

    def is_container_last_child(self, path):
        parent = path.rsplit("/", 1)[0] or "/"
        pn = self.nodes.get(parent)
        return bool(pn and pn["kind"] == "container" and len(self.children(parent)) <= 1)

    def can_have_children(self, path):
        n = self.nodes.get(path)
        return n is not None and n["kind"] != "ephemeral"


NAMES = ["a", "b", "c", "d", "e", "a", "b", "c", "d", "e", "\u00e9t\u00e9", "a b", "\u65e5"]


class Generator:
    def __init__(self, rng, root, nclients):
        self.rng = rng
        self.root = root
        self.model = Model(root)
        self.nclients = nclients

    def existing(self):
        return self.rng.choice(sorted(self.model.nodes) or [self.root])

    def any_path(self):
        r = self.rng.random()
        if r < 0.6:
            return self.existing()
        if r < 0.9:
            parent = self.existing()
            if not self.model.can_have_children(parent) and self.rng.random() < 0.7:
                parent = self.root
            return parent.rstrip("/") + "/" + self.rng.choice(NAMES)
        depth = self.rng.randint(1, 3)
        return self.root + "".join("/" + self.rng.choice(NAMES) for _ in range(depth))

    def create_path(self):
        """A path strictly below the root (a sequential create on the root itself would put
        its node next to the root, outside the test's subtree)."""
        path = self.any_path()
        if path == self.root:
            path = self.root + "/" + self.rng.choice(NAMES)
        return path

    def deletable(self, path):
        # Never empty a container that has had children: ZooKeeper reaps those on a timer.
        return not self.model.is_container_last_child(path)

    def data(self):
        r = self.rng.random()
        if r < 0.05:
            return None
        if r < 0.15:
            return b""
        if r < 0.152:
            # a large value now and then (up to ~300 KB; jute.maxbuffer is 1 MB)
            return bytes([self.rng.getrandbits(8)]) * self.rng.randint(50000, 300000)
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 40)))

    def version(self, rng_hint=3):
        r = self.rng.random()
        if r < 0.5:
            return -1
        return self.rng.randint(0, rng_hint)

    def next(self, i):
        rng = self.rng
        c = rng.randrange(self.nclients)
        w = rng.random()
        if w < 0.26:
            path = self.create_path()
            if self.model.nodes.get(path.rsplit("/", 1)[0] or "/", {}).get("kind") == "container":
                mode = rng.choice(["persistent", "sequential"])
            else:
                mode = rng.choice(["persistent"] * 3 + ["ephemeral", "sequential",
                                                         "ephemeral_sequential"])
            return {"op": "create", "c": c, "path": path, "data": self.data(), "mode": mode,
                    "acl": acl_choice(rng), "create2": rng.random() < 0.5}
        if w < 0.30:
            path = self.create_path()
            return {"op": "create_container", "c": c, "path": path, "data": self.data(),
                    "acl": acl_choice(rng) if rng.random() < 0.2 else ("open", None),
                    "via_create2": rng.random() < 0.1,
                    "flags": rng.choice([4] * 12 + [0, 1, 5])}
        if w < 0.34:
            path = self.create_path()
            ttl = rng.choice([3600000, 86400000, 10 ** 9, 1099511627775] * 4 +
                             [0, -5, 1099511627776])
            flags = rng.choice([5, 5, 5, 6, 6] + [0, 1, 4])
            if flags not in (5, 6) and not 0 < ttl <= 1099511627775:
                # ZooKeeper 3.8.0 accepts createTTL with a non-TTL mode without checking the
                # ttl, then dies applying the txn (IllegalArgumentException in SyncThread).
                ttl = 3600000
            return {"op": "create_ttl", "c": c, "path": path, "data": self.data(), "ttl": ttl,
                    "flags": flags}
        if w < 0.40:
            path = self.any_path()
            if path == self.root or not self.deletable(path):
                path = path + "/" + rng.choice(NAMES)
            return {"op": "delete", "c": c, "path": path, "version": self.version()}
        if w < 0.50:
            return {"op": "set", "c": c, "path": self.any_path(), "data": self.data(),
                    "version": self.version(5)}
        if w < 0.60:
            return {"op": "get", "c": c, "path": self.any_path(), "watch": rng.random() < 0.7}
        if w < 0.68:
            return {"op": "exists", "c": c, "path": self.any_path(), "watch": rng.random() < 0.8}
        if w < 0.78:
            return {"op": "children", "c": c, "path": self.any_path(),
                    "watch": rng.random() < 0.7, "stat": rng.random() < 0.5}
        if w < 0.81:
            return {"op": "get_acls", "c": c, "path": self.any_path()}
        if w < 0.84:
            return {"op": "set_acls", "c": c, "path": self.any_path(), "acl": acl_choice(rng),
                    "version": self.version(2)}
        if w < 0.86:
            user = rng.choice(sorted(USERS))
            pw = USERS[user] if rng.random() < 0.8 else "wrong"
            return {"op": "add_auth", "c": c, "cred": "%s:%s" % (user, pw)}
        if w < 0.93:
            return self.multi(c)
        if w < 0.94:
            return {"op": "sync", "c": c, "path": self.any_path()}
        if w < 0.95:
            return {"op": "close_session", "c": c}
        if w < 0.965:
            return {"op": "add_watch", "c": c, "path": self.any_path(),
                    "mode": rng.choice([0, 1])}
        if w < 0.97:
            return {"op": rng.choice(["remove_watches", "check_watches"]), "c": c,
                    "path": self.any_path(), "type": rng.choice([1, 2, 3, 4, 5])}
        if w < 0.9715:
            return {"op": "reconnect", "c": c}
        if w < 0.975:
            return {"op": "multi_read", "c": c, "ops": [
                (rng.choice(["get", "children"]), self.any_path(), rng.random() < 0.3)
                for _ in range(rng.randint(1, 4))]}
        if w < 0.978:
            return {"op": "get_ephemerals", "c": c,
                    "prefix": rng.choice([self.root, self.any_path(), "/"])}
        if w < 0.98:
            return {"op": rng.choice(["all_children_number", "whoami"]), "c": c,
                    "path": self.any_path()}
        if w < 0.98:
            return {"op": "handshake_timeout", "timeout_ms": rng.choice(
                [0, 1, 999, 1000, 1500, 4000, 10000, 10001, 60000, -1])}
        return {"op": "get_root_meta", "c": c, "path": rng.choice(ROOT_META_PATHS)}

    def multi(self, c):
        rng = self.rng
        if rng.random() < 0.4:
            return self.likely_valid_multi(c)
        ops = []
        for _ in range(rng.randint(1, 5)):
            k = rng.choice(["create", "create", "delete", "set", "check"])
            path = self.create_path() if k == "create" else self.any_path()
            if k == "create":
                parent_kind = self.model.nodes.get(path.rsplit("/", 1)[0] or "/", {}).get("kind")
                eph = parent_kind != "container" and rng.random() < 0.2
                # kazoo's transaction refuses None data
                ops.append(("create", path, self.data() or b"", eph, rng.random() < 0.2))
            elif k == "delete":
                if path == self.root or not self.deletable(path):
                    path = path + "/x"
                ops.append(("delete", path, self.version()))
            elif k == "set":
                ops.append(("set", path, self.data() or b"", self.version()))
            else:
                ops.append(("check", path, self.version()))
        return {"op": "multi", "c": c, "ops": ops}

    def likely_valid_multi(self, c):
        """Operands taken from the model so that most of these commit: fresh creates (some
        deleted again in the same multi), sets and checks on existing persistent nodes."""
        rng = self.rng
        # No containers as parents: a create+delete inside one multi would leave an empty
        # container that has had a child, which the servers' reapers delete on a timer.
        persistent = [p for p in sorted(self.model.nodes)
                      if self.model.nodes[p]["kind"] in ("persistent", "ttl")] or [self.root]
        ops = []
        fresh = []
        for _ in range(rng.randint(1, 5)):
            k = rng.choice(["create", "create", "set", "check", "delete_fresh"])
            if k == "create" or (k == "delete_fresh" and not fresh):
                self.fresh_counter = getattr(self, "fresh_counter", 0) + 1
                parent = rng.choice(persistent)
                path = "%s/m%d" % (parent.rstrip("/"), self.fresh_counter)
                fresh.append(path)
                ops.append(("create", path, self.data() or b"", False, rng.random() < 0.3))
            elif k == "delete_fresh":
                path = fresh.pop()
                if ops[-1][0] == "create" and ops[-1][1] == path and not ops[-1][4]:
                    ops.append(("delete", path, rng.choice([-1, 0])))
                else:
                    fresh.append(path)
            elif k == "set":
                ops.append(("set", rng.choice(persistent), self.data() or b"", -1))
            else:
                ops.append(("check", rng.choice(persistent), -1))
        return {"op": "multi", "c": c, "ops": ops}

    def expiry_op(self):
        n = self.rng.randint(1, 3)
        parents = [p for p in sorted(self.model.nodes)
                   if self.model.nodes[p]["kind"] in ("persistent", "ttl")]
        paths = []
        for _ in range(n):
            paths.append(self.rng.choice(parents).rstrip("/") + "/x" + self.rng.choice(NAMES))
        # One ephemeral that always succeeds: its disappearance tells us the session expired
        # (otherwise the expiry, a txn with a zxid, would happen at a time of its own).
        self.expiry_counter = getattr(self, "expiry_counter", 0) + 1
        # It lives under "/", whose ACL no op changes (the random ops may lock the root).
        paths.append("%s-expiry-witness-%d" % (self.root, self.expiry_counter))
        return {"op": "expire", "paths": paths, "timeout_ms": self.rng.choice([1000, 1500, 2000])}

    # -- model update from target A's answer --
    def observe(self, op, result):
        k = op["op"]
        if isinstance(result, BaseException):
            return
        if k == "create":
            path = result[0] if isinstance(result, tuple) else result
            eph = op["mode"].startswith("ephemeral")
            self.model.add(path, "ephemeral" if eph else "persistent",
                           ("c", op["c"]) if eph else None)
        elif k == "create_container":
            # createContainer makes a container whatever the flags; create2 only with flag 4
            # (ZooKeeper 3.8.0; create2 with flag 1 makes an ephemeral).
            if op["via_create2"] and op["flags"] != 4:
                eph = op["flags"] == 1
                self.model.add(result[0], "ephemeral" if eph else "persistent",
                               ("c", op["c"]) if eph else None)
            else:
                self.model.add(result[0], "container")
        elif k == "create_ttl":
            self.model.add(result[0], "ttl")
        elif k == "delete":
            self.model.remove(op["path"])
        elif k == "close_session":
            self.model.drop_owner(("c", op["c"]))
        elif k == "multi" and isinstance(result, list) and not any(
                isinstance(r, BaseException) for r in result):
            for sub, r in zip(op["ops"], result):
                if sub[0] == "create":
                    self.model.add(r, "ephemeral" if sub[3] else "persistent",
                                   ("c", op["c"]) if sub[3] else None)
                elif sub[0] == "delete":
                    self.model.remove(sub[1])
        elif k == "expire":
            pass  # the ephemerals are gone again when the op returns


# ---------------------------------------------------------------------------------------------
# Executing one op on one server. Returns (result, sort_events) where result may be an
# exception instance (compared by class).


def _acl_arg(acl):
    return acl[1]


def execute(t, op, root):
    k = op["op"]
    c = t.clients[op["c"]] if "c" in op else None
    if "c" in op and c is None:
        t.connect(op["c"])
        c = t.clients[op["c"]]
    try:
        if k == "create":
            mode = op["mode"]
            kw = dict(value=op["data"], acl=_acl_arg(op["acl"]),
                      ephemeral=mode.startswith("ephemeral"), sequence="sequential" in mode)
            if op["create2"]:
                path, st = c.create(op["path"], include_data=True, **kw)
                t.check_stat(st, fresh_write=True, where=op["path"])
                return (path, st)
            return c.create(op["path"], **kw)
        if k == "create_container":
            acl = _acl_arg(op["acl"]) or [WORLD_ALL]
            req = (RawCreate2 if op["via_create2"] else CreateContainer)(op["path"], op["data"],
                                                                        acl, op["flags"])
            path, st = call(c, req)
            t.check_stat(st, fresh_write=True, where=op["path"])
            return (path, st)
        if k == "create_ttl":
            path, st = call(c, CreateTTL(op["path"], op["data"], [WORLD_ALL], op["flags"],
                                         op["ttl"]))
            t.check_stat(st, fresh_write=True, where=op["path"])
            return (path, st)
        if k == "delete":
            return c.delete(op["path"], version=op["version"])
        if k == "set":
            st = c.set(op["path"], op["data"], version=op["version"])
            t.check_stat(st, fresh_write=True, where=op["path"])
            return st
        if k == "get":
            data, st = c.get(op["path"], watch=_noop if op["watch"] else None)
            t.check_stat(st, where=op["path"])
            if st.dataLength != len(data or b""):
                raise Mismatch("%s: dataLength %d != len(data) %d" % (t.name, st.dataLength,
                                                                      len(data or b"")))
            return (data, st)
        if k == "exists":
            st = c.exists(op["path"], watch=_noop if op["watch"] else None)
            if st is not None:
                t.check_stat(st, where=op["path"])
            return st
        if k == "children":
            r = c.get_children(op["path"], watch=_noop if op["watch"] else None,
                               include_data=op["stat"])
            if op["stat"]:
                ch, st = r
                t.check_stat(st, where=op["path"])
                if st.numChildren != len(ch):
                    raise Mismatch("%s: numChildren %d != %d children" % (t.name, st.numChildren,
                                                                          len(ch)))
                return (sorted(ch), st)
            return sorted(r)
        if k == "get_acls":
            acls, st = c.get_acls(op["path"])
            return (acl_order(acls), st)
        if k == "set_acls":
            acl = [WORLD_ALL] if op["acl"][0] == "open" else op["acl"][1]
            st = c.set_acls(op["path"], acl, version=op["version"])
            return st
        if k == "add_auth":
            c.add_auth("digest", op["cred"])
            return "ok"
        if k == "multi":
            tx = c.transaction()
            for sub in op["ops"]:
                if sub[0] == "create":
                    tx.create(sub[1], sub[2], ephemeral=sub[3], sequence=sub[4])
                elif sub[0] == "delete":
                    tx.delete(sub[1], version=sub[2])
                elif sub[0] == "set":
                    tx.set_data(sub[1], sub[2], version=sub[3])
                else:
                    tx.check(sub[1], sub[2])
            res = tx.commit()
            for r in res:
                if isinstance(r, ZnodeStat):
                    t.check_stat(r, where="multi")
            return res
        if k == "sync":
            return c.sync(op["path"])
        if k == "add_watch":
            return call(c, AddWatch(op["path"], op["mode"]))
        if k == "multi_read":
            res = call(c, MultiRead(op["ops"]))
            for r in res:
                if r[0] == "data":
                    t.check_stat(r[2], where="multiRead")
            return res
        if k == "get_ephemerals":
            return call(c, GetEphemerals(op["prefix"]))
        if k == "all_children_number":
            return call(c, GetAllChildrenNumber(op["path"]))
        if k == "whoami":
            # ZooKeeper keeps a connection's auth ids in a HashSet: the order is a hash order.
            return sorted(call(c, WhoAmI(None)))
        if k == "remove_watches":
            return call(c, RemoveWatches(op["path"], op["type"]))
        if k == "check_watches":
            return call(c, CheckWatches(op["path"], op["type"]))
        if k == "close_session":
            t.close_client(op["c"])
            t.connect(op["c"])
            return "ok"
        if k == "reconnect":
            return t.reconnect(op["c"])
        if k == "handshake_timeout":
            raw = H.RawClient(t.port)
            try:
                _sid, negotiated = raw.handshake(timeout_ms=op["timeout_ms"])
                raw.request(-11)  # closeSession
            finally:
                raw.close_socket()
            return ("negotiated", negotiated)
        if k == "get_root_meta":
            data, st = c.get(op["path"])
            ch = sorted(c.get_children(op["path"]))
            if op["path"] == "/":
                ch = [x for x in ch if not x.startswith("fkdiff-")]
                # '/' carries the test roots of all seeds: its stat depends on them.
                return (data, ch)
            return (data, st, ch)
        raise AssertionError("unknown op %r" % k)
    except KazooException as e:
        return e
    finally:
        if "c" in op:
            t.check_reply_zxid(op["c"])


def acl_order(acls):
    """ACL lists keep the order the client gave, except that the "auth" scheme expands to the
    session's digest ids in ZooKeeper's HashSet order. Our palette never lists two digest ids
    explicitly, so two or more digest entries mean an expansion: compare those sorted."""
    acls = list(acls)
    if sum(1 for a in acls if a.id.scheme == "digest") >= 2:
        return sorted(acls, key=lambda a: (a.id.scheme, a.id.id, a.perms))
    return acls


def _noop(_event):
    pass


def start_expiry(t, op):
    """Open a raw session, create the ephemerals, drop the socket. Returns (results, raw)."""
    raw = H.RawClient(t.port)
    sid, negotiated = raw.handshake(timeout_ms=op["timeout_ms"])
    t.raw_gen += 1
    t.labels[sid] = "raw%d" % t.raw_gen
    results = []
    created = []
    for p in op["paths"]:
        _xid, _zxid, err, body = raw.request(15, H.create_body(p, b"eph", flags=1))
        if err == 0:
            (n,) = struct.unpack_from("!i", body, 0)
            path = body[4:4 + n].decode()
            st = ZnodeStat._make(struct.unpack_from("!qqqqiiiqiiq", body, 4 + n))
            t.check_stat(st, fresh_write=True, where=path)
            created.append(path)
            results.append((path, st))
        else:
            results.append(("err", err))
    raw.close_socket()  # no closeSession: the session must expire
    if not created:
        raise Mismatch("%s: the expiry witness ephemeral %s could not be created: %r" % (
            t.name, op["paths"][-1], results[-1]))
    return [("negotiated", negotiated)] + results, created, time.monotonic()


def wait_expired(t, created, deadline):
    probe = t.admin
    while time.monotonic() < deadline:
        if all(probe.exists(p) is None for p in created):
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------


def describe(x, limit=600):
    s = repr(x)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


class SeedRun:
    def __init__(self, seed, nops, a, b, nclients, verbose, keep_going=0):
        self.seed = seed
        self.nops = nops
        self.a = a
        self.b = b
        self.nclients = nclients
        self.verbose = verbose
        self.keep_going = keep_going  # report up to this many mismatches before stopping
        self.strict_zxid = True  # also pair reply-header zxids (failed writes consume zxids)
        self.mismatches = 0
        self.root = "/fkdiff-%d" % seed
        self.zmap = ZxidMap()
        self.nevents = 0
        self.outcomes = {}  # (op, outcome) -> count, printed so a run shows what it exercised

    def compare(self, idx, op, ra, rb, sort_events=False):
        sa, sb = [], []
        na = normalize(self.a, ra, sa)
        nb = normalize(self.b, rb, sb)
        if na != nb:
            raise Mismatch("answers differ\n    %s: %s\n    %s: %s" % (
                self.a.name, describe(na), self.b.name, describe(nb)))
        for x, y in zip(sa, sb):
            for f in ("czxid", "mzxid", "pzxid"):
                self.zmap.pair(getattr(x, f), getattr(y, f), "%s of op %d" % (f, idx))
        self.compare_events(sort_events)
        if self.strict_zxid and "c" in op and op["op"] not in ("close_session", "reconnect"):
            ca, cb = self.a.clients[op["c"]], self.b.clients[op["c"]]
            if ca is not None and cb is not None:
                self.zmap.pair(ca.last_zxid, cb.last_zxid, "reply header zxid of op %d" % idx)

    def compare_events(self, sort_events):
        self.a.flush_events()
        self.b.flush_events()
        for i in range(self.nclients):
            ea, eb = self.a.new_events(i), self.b.new_events(i)
            self.nevents += len(ea)
            if sort_events:
                ea, eb = sorted(ea), sorted(eb)
            if ea != eb:
                raise Mismatch("watch events of client %d differ\n    %s: %s\n    %s: %s" % (
                    i, self.a.name, ea, self.b.name, eb))

    def run_op(self, idx, op):
        if op["op"] == "expire":
            ra, ca, _ = start_expiry(self.a, op)
            rb, cb, _ = start_expiry(self.b, op)
            self.compare(idx, op, ra, rb)
            deadline = time.monotonic() + 30
            for t, created in ((self.a, ca), (self.b, cb)):
                if not wait_expired(t, created, deadline):
                    raise Mismatch("%s: session ephemerals %s still there 30 s after the socket "
                                   "closed" % (t.name, created))
            self.compare_events(sort_events=True)
            return ra
        ra = execute(self.a, op, self.root)
        rb = execute(self.b, op, self.root)
        self.compare(idx, op, ra, rb, sort_events=op["op"] == "close_session")
        return ra

    def count(self, op, r):
        if isinstance(r, BaseException):
            o = type(r).__name__
        elif op["op"] == "multi":
            errs = [type(x).__name__ for x in r if isinstance(x, BaseException)]
            o = "ok" if not errs else "failed:" + next(e for e in errs if e != "RolledBackError")
        else:
            o = "ok"
        key = (op["op"], o)
        self.outcomes[key] = self.outcomes.get(key, 0) + 1

    def summary(self):
        by_op = {}
        for (k, o), n in sorted(self.outcomes.items()):
            by_op.setdefault(k, []).append("%s=%d" % (o, n))
        return "; ".join("%s[%s]" % (k, " ".join(v)) for k, v in sorted(by_op.items()))

    def dump_tree(self, t):
        out = []
        stack = [self.root]
        while stack and len(out) < 20000:
            p = stack.pop()
            try:
                data, st = t.admin.get(p)
                acls, _ = t.admin.get_acls(p)
                ch = sorted(t.admin.get_children(p))
            except KazooException as e:
                out.append((p, e))
                continue
            out.append((p, data, st, acl_order(acls), ch))
            stack.extend(p.rstrip("/") + "/" + x for x in reversed(ch))
        return out

    def run(self):
        rng = random.Random(self.seed)
        gen = Generator(rng, self.root, self.nclients)
        for t in (self.a, self.b):
            t.admin = H.super_client(t.hostport)
            for i in range(self.nclients):
                t.connect(i)
        expiry_at = set(rng.sample(range(20, max(21, self.nops)), min(2, max(0, self.nops - 20))))
        idx = 0
        op = {"op": "create", "c": 0, "path": self.root, "data": b"root", "mode": "persistent",
              "acl": ("open", None), "create2": True}
        try:
            r = self.run_op(idx, op)
            if isinstance(r, BaseException):
                raise Mismatch("cannot create test root %s: %r" % (self.root, r))
            for idx in range(1, self.nops + 1):
                op = gen.expiry_op() if idx in expiry_at else gen.next(idx)
                if self.verbose:
                    print("  [%d] %s" % (idx, describe(op, 300)))
                try:
                    r = self.run_op(idx, op)
                except Mismatch as e:
                    # --keep-going: report and carry on (later answers may differ only
                    # because the trees diverged here).
                    self.mismatches += 1
                    if self.mismatches > self.keep_going:
                        raise
                    print("MISMATCH seed=%d op#%d op=%s\n  %s" % (self.seed, idx,
                                                                  describe(op, 800), e))
                    continue
                gen.observe(op, r)
                self.count(op, r)
            op = {"op": "final-tree-dump"}
            ta, tb = self.dump_tree(self.a), self.dump_tree(self.b)
            self.compare(idx + 1, op, ta, tb)
            print("seed %d: %d znodes at the end, %d watch events compared; outcomes: %s" % (
                self.seed, len(ta), self.nevents, self.summary()))
            return self.mismatches == 0
        except Mismatch as e:
            print("MISMATCH seed=%d op#%d op=%s\n  %s" % (self.seed, idx, describe(op, 800), e))
            return False
        except Exception:
            print("ERROR seed=%d op#%d op=%s" % (self.seed, idx, describe(op, 800)))
            traceback.print_exc(file=sys.stdout)
            return False
        finally:
            self.cleanup()

    def cleanup(self):
        for t in (self.a, self.b):
            try:
                if t.admin is not None:
                    t.admin.delete(self.root, recursive=True)
            except Exception:
                pass
            t.shutdown()


def parse_seeds(s):
    if "," in s or "-" in s:
        out = []
        for part in s.split(","):
            if "-" in part:
                lo, hi = part.split("-")
                out.extend(range(int(lo), int(hi) + 1))
            elif part:
                out.append(int(part))
        return out
    n = int(s)
    return list(range(1, n + 1))


def selftest(ops):
    """The test must pass on ZooKeeper vs ZooKeeper and must fail once one side differs:
    (1) a clean run, (2) a node planted under the next seed's root on one side only,
    (3) a node planted mid-run (after op 1) under the running seed's root on one side."""
    results = []
    with H.start_server("zk") as za, H.start_server("zk") as zb:
        def run(seed, a_hp, b_hp, nops, planted=None):
            a = Target("zookeeper", a_hp, 3)
            b = Target("other", b_hp, 3)
            sr = SeedRun(seed, nops, a, b, 3, False)
            if planted:
                orig = sr.run_op

                def run_op(idx, op):
                    r = orig(idx, op)
                    if idx == 1:
                        b.admin.create(planted, b"planted")
                    return r
                sr.run_op = run_op
            return sr.run()
        results.append(("clean ZooKeeper vs ZooKeeper passes", run(1, za.hostport, zb.hostport,
                                                                   ops) is True))
        c = H.super_client(zb.hostport)
        c.create("/fkdiff-2/planted", b"x", makepath=True)
        H.stop_client(c)
        results.append(("a pre-existing node is detected", run(2, za.hostport, zb.hostport,
                                                               ops) is False))
        results.append(("a node planted mid-run is detected",
                        run(3, za.hostport, zb.hostport, ops, "/fkdiff-3/zz-planted") is False))
    for name, ok in results:
        print("%s %s" % ("PASS" if ok else "FAIL", name))
    passed = sum(ok for _, ok in results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


def check_cluster_after_seed(cluster, follower):
    """--cluster: the run must not have changed roles (a leader change would close connections
    mid-op and blur what was compared), and every replica must end with the same zxid and
    digest."""
    try:
        leader = cluster.leader_index(10)
        if cluster.mode(follower) != "follower":
            print("cluster: the target s%d is now %r (leader s%d)" % (
                follower + 1, cluster.mode(follower), leader + 1))
            return False
        line = cluster.wait_converged(30)
        print("cluster: replicas converged at %s (leader s%d)" % (line, leader + 1))
        return True
    except RuntimeError as e:
        print("cluster: %s" % e)
        return False


def print_cluster_events(cluster, n=25):
    """--cluster, after a failed seed: each member's last role changes, peer links lost and
    connections closed, from its log (what a ConnectionLoss from the target came from)."""
    keys = ("raft:", "lost the connection", "closing", "cannot propose", "leader")
    for i, m in enumerate(cluster.members):
        try:
            with open(os.path.join(m.dir, "server.log"), errors="replace") as f:
                lines = [l.rstrip() for l in f if any(k in l for k in keys)]
        except OSError as e:
            lines = ["(cannot read its log: %s)" % e]
        print("  s%d events (last %d of %d):" % (i + 1, min(n, len(lines)), len(lines)))
        for line in lines[-n:]:
            print("    " + line[:220])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="3", help="N (= seeds 1..N) or a list like 7,9,20-22")
    ap.add_argument("--seed", type=int, help="run just this one seed (overrides --seeds)")
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--zk", help="reference ZooKeeper HOST:PORT")
    ap.add_argument("--target", help="server under test HOST:PORT")
    ap.add_argument("--self-start", action="store_true", help="start ZooKeeper and the target")
    ap.add_argument("--target-kind", default="fk", choices=["fk", "zk"])
    ap.add_argument("--zk-vs-zk", action="store_true", help="= --self-start --target-kind zk")
    ap.add_argument("--cluster", action="store_true",
                    help="with --self-start: the target is a 3-member Ferrokeeper cluster and "
                         "every target client (admin and raw sessions too) talks to a follower")
    ap.add_argument("--time-limit", type=float, default=1500.0,
                    help="seconds; seeds not started by then count as failed")
    ap.add_argument("--keep-going", type=int, default=0, metavar="N",
                    help="report up to N mismatches per seed instead of stopping at the first")
    ap.add_argument("--loose-zxid", action="store_true",
                    help="do not pair reply-header zxids (by default they must map one to one "
                         "too: ZooKeeper gives failed writes and session changes a zxid)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--selftest", action="store_true",
                    help="check that this test passes ZK vs ZK and fails on planted differences")
    args = ap.parse_args()
    if args.selftest:
        return selftest(min(args.ops, 400))
    if args.zk_vs_zk:
        args.self_start, args.target_kind = True, "zk"
    seeds = [args.seed] if args.seed is not None else parse_seeds(args.seeds)
    servers = []
    cluster = follower = None
    t0 = time.monotonic()
    passed = failed = 0
    try:
        if args.cluster:
            if not args.self_start or args.target_kind != "fk":
                ap.error("--cluster needs --self-start and a Ferrokeeper target")
            zk = H.start_server("zk")
            servers.append(zk)
            ROOT_META_PATHS.remove("/zookeeper/config")
            cluster = H.start_cluster(3)
            servers.append(cluster)
            follower = cluster.follower_indices()[0]
            zk_hp, tgt_hp = zk.hostport, cluster.hostport(follower)
            print("cluster: %s; leader s%d; target is follower s%d" % (
                cluster.hostports, cluster.leader_index() + 1, follower + 1))
        elif args.self_start:
            zk = H.start_server("zk")
            servers.append(zk)
            tgt = H.start_server(args.target_kind)
            servers.append(tgt)
            zk_hp, tgt_hp = zk.hostport, tgt.hostport
        else:
            if not (args.zk and args.target):
                ap.error("give --zk and --target, or --self-start")
            zk_hp, tgt_hp = args.zk, args.target
        tname = "target(%s)" % ("zk" if args.target_kind == "zk" and args.self_start else tgt_hp)
        print("differential: zookeeper=%s %s=%s seeds=%s ops=%d clients=%d" % (
            zk_hp, tname, tgt_hp, seeds, args.ops, args.clients))
        sys.stdout.flush()
        for seed in seeds:
            if time.monotonic() - t0 > args.time_limit:
                print("seed %d: not run (time limit %.0fs)" % (seed, args.time_limit))
                failed += 1
                continue
            ts = time.monotonic()
            a = Target("zookeeper", zk_hp, args.clients)
            b = Target(tname, tgt_hp, args.clients)
            sr = SeedRun(seed, args.ops, a, b, args.clients, args.verbose, args.keep_going)
            sr.strict_zxid = not args.loose_zxid
            ok = sr.run()
            for s in servers:
                if not s.alive():
                    print("server %r died:\n%s" % (s, s.log_tail()))
                    ok = False
            if cluster is not None and ok:
                ok = check_cluster_after_seed(cluster, follower)
            print("seed %d: %s (%d ops, %.1fs)" % (seed, "ok" if ok else "FAILED", args.ops,
                                                   time.monotonic() - ts))
            if not ok and cluster is not None:
                print_cluster_events(cluster)
            if not ok:
                print("  SEED=%d; replay: /usr/bin/python3 tests/py/differential.py --self-start "
                      "--seed %d --ops %d [-v] [--keep-going 50]" % (seed, seed, args.ops))
            sys.stdout.flush()
            passed += ok
            failed += not ok
    finally:
        for s in servers:
            s.stop()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

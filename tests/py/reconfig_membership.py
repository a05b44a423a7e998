#!/usr/bin/env python3
"""reconfig_membership.py - a Ferrokeeper cluster changes its members under write load
(issue #8), through kazoo's `reconfig`:

- grow: 3 -> 5 with two new servers, then shrink 5 -> 3 removing the leader and one other;
- replace: a server is killed (-9) and a new server with a new id takes its place;
- observer: one joins as observer, is promoted to participant, and leaves;
- refuse: a reconfig whose new list has no quorum synced with the leader (NewConfigNoQuorum);
- recover: two of three servers are lost for good; the survivor is put in recovery mode
  (`--force-recovery`, or `rcvr`) with a new member list, and new servers join it.

New servers start with nothing on disk and a zoo.cfg naming the cluster's servers and
themselves; they join (they do not start a cluster of their own) and vote once caught up.
While the membership moves a writer creates znodes through a client connected to every
server, keeping each create it saw acknowledged; at the end every acknowledged znode must be
on every remaining member, and their trees must converge (the `hash` 4lw).

Prints PASS/FAIL lines and 'N passed, N failed' last (tests/interop.rs reads it).
"""

import os
import sys
import threading
import time

import fkharness as H

WRITES_MAX = 200_000


class Writer(threading.Thread):
    """Creates PREFIX/w-<n> one after another until stopped; `acked` holds the creates that
    were acknowledged, `unknown` those whose outcome the client could not know."""

    def __init__(self, hosts, prefix):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.client = H.kazoo_client(hosts, timeout_s=10, connect_tries=200)
        self.client.ensure_path(prefix)
        self.acked = []
        self.unknown = []
        self.halt = threading.Event()

    def run(self):
        for n in range(WRITES_MAX):
            if self.halt.is_set():
                return
            path = "%s/w-%06d" % (self.prefix, n)
            try:
                self.client.create(path, b"%d" % n)
                self.acked.append(path)
            except Exception:  # connection loss, timeout: the create may or may not be in
                self.unknown.append(path)
                time.sleep(0.05)

    def acked_since(self, count):
        return len(self.acked) - count

    def stop(self):
        if self.halt.is_set():
            return
        self.halt.set()
        self.join(30)
        H.stop_client(self.client)


def not_serving(port):
    return not H.mode_of(port) or "not currently serving" in (H.four_letter(port, "srvr") or "")


def plan_server(sid):
    """Ports and the zoo.cfg value for a new server `sid`: (value, client port, reconfig spec)."""
    peer_port, election_port, client_port = H.free_port(), H.free_port(), H.free_port()
    value = "%s:%d:%d" % (H.HOST, peer_port, election_port)
    return value, client_port, "server.%d=%s;%s:%d" % (sid, value, H.HOST, client_port)


def server_lines(cluster, ids):
    """The zoo.cfg `server.N` entries the cluster's first member has for `ids`."""
    template = cluster.members[0].extra_cfg
    return {"server.%d" % i: template["server.%d" % i] for i in ids}


def launch_server(cluster, sid, plan, lines):
    """Launches server `sid` (planned by `plan_server`) with an empty data dir and a zoo.cfg
    whose server lines are `lines` and its own; appends it to `cluster.members` (so the
    cluster's helpers see it and `stop` stops it). Returns its index."""
    value, client_port, _ = plan
    template = cluster.members[0].extra_cfg
    cfg = {k: v for k, v in template.items() if not k.startswith("server.")}
    cfg.update(lines)
    cfg["server.%d" % sid] = value
    workdir = os.path.join(cluster.dir, "s%d" % sid)
    os.makedirs(os.path.join(workdir, "data"))
    with open(os.path.join(workdir, "data", "myid"), "w") as f:
        f.write("%d\n" % sid)
    member = H.Ferrokeeper(port=client_port, workdir=workdir, extra_cfg=cfg, keep_dir=True)
    member.launch()
    cluster.members.append(member)
    return len(cluster.members) - 1


def new_server(cluster, sid, known_ids):
    """A new server whose zoo.cfg names `known_ids` (as the cluster lists them) and itself:
    (its index, its reconfig spec)."""
    plan = plan_server(sid)
    return launch_server(cluster, sid, plan, server_lines(cluster, known_ids)), plan[2]


def sid_of(cluster, index):
    """The server id of member `index` (its myid)."""
    with open(os.path.join(cluster.members[index].dir, "data", "myid")) as f:
        return int(f.read())


def config_ids(client):
    text = client.get("/zookeeper/config")[0].decode()
    return sorted(int(line.split("=")[0][len("server."):]) for line in text.splitlines()
                  if line.startswith("server."))


def check_writes(cluster, indices, writer):
    """Every acknowledged create is on every member in `indices`; they converge."""
    H.log("%s: %d creates acknowledged, %d unknown; checking s%s" % (
        writer.prefix, len(writer.acked), len(writer.unknown),
        ",s".join(str(sid_of(cluster, i)) for i in indices)))
    cluster.wait_converged(60)
    want = set(p.rsplit("/", 1)[1] for p in writer.acked)
    for i in indices:
        client = H.kazoo_client(cluster.hostport(i), timeout_s=20)
        try:
            client.sync(writer.prefix)
            have = set(client.get_children(writer.prefix))
        finally:
            H.stop_client(client)
        lost = want - have
        if lost:
            return "s%d lacks %d acknowledged creates, e.g. %s" % (
                sid_of(cluster, i), len(lost), sorted(lost)[:3])
        extra = have - want - set(p.rsplit("/", 1)[1] for p in writer.unknown)
        if extra:
            return "s%d holds creates nobody sent: %s" % (sid_of(cluster, i), sorted(extra)[:3])
    return None


class Run:
    """One case's cluster (reconfigEnabled), its super client once /zookeeper/config lists
    the members, and its writers; `with` stops them all."""

    def __init__(self, size):
        self.cluster = H.start_cluster(size, extra_cfg={"reconfigEnabled": "true"})
        self.writers = []
        self.admin = None
        try:
            self.admin = H.super_client(self.cluster.hostports, timeout_s=20)
            want = list(range(1, size + 1))
            H.wait_for("/zookeeper/config", lambda: config_ids(self.admin) == want)
        except BaseException:
            self.__exit__()
            raise

    def writer(self, prefix):
        writer = Writer(self.cluster.hostports, prefix)
        self.writers.append(writer)
        writer.start()
        return writer

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            for writer in self.writers:
                writer.stop()
            if self.admin is not None:
                H.stop_client(self.admin)
        finally:
            self.cluster.stop()
        return False


def case_grow_and_shrink():
    """3 -> 5 -> 3 under load; the leader is among the two that leave."""
    with Run(3) as run:
        cluster, admin = run.cluster, run.admin
        writer = run.writer("/grow")
        joiners = [new_server(cluster, sid, [1, 2, 3]) for sid in (4, 5)]
        time.sleep(1.0)  # they wait, not serving, not starting a cluster of their own
        for index, _ in joiners:
            if not not_serving(cluster.ports[index]):
                return "s%d serves before it was added" % sid_of(cluster, index)
        before = len(writer.acked)
        admin.reconfig(joining=",".join(spec for _, spec in joiners), leaving=None,
                       new_members=None)
        if config_ids(admin) != [1, 2, 3, 4, 5]:
            return "config after the grow: %r" % config_ids(admin)
        for index, _ in joiners:
            H.wait_for("s%d to vote" % sid_of(cluster, index),
                     lambda: H.mode_of(cluster.ports[index]) == "follower")
        if writer.acked_since(before) == 0:
            return "no write was acknowledged while the cluster grew"
        leader = cluster.leader_index()
        other = next(i for i in range(3) if i != leader)
        leaving = sorted([sid_of(cluster, leader), sid_of(cluster, other)])
        before = len(writer.acked)
        admin.reconfig(joining=None, leaving=",".join(map(str, leaving)), new_members=None)
        if config_ids(admin) != sorted(set([1, 2, 3, 4, 5]) - set(leaving)):
            return "config after the shrink: %r" % config_ids(admin)
        for i in (leader, other):
            H.wait_for("s%d to stop serving" % sid_of(cluster, i),
                     lambda: not_serving(cluster.ports[i]))
            cluster.stop_member(i)
        remaining = cluster.running()
        cluster.wait_stable(60)
        H.wait_for("writes after the shrink", lambda: writer.acked_since(before) > 50)
        writer.stop()
        return check_writes(cluster, remaining, writer)


def case_replace_a_dead_server():
    """A follower is killed; server 4, new, takes its place under load."""
    with Run(3) as run:
        cluster, admin = run.cluster, run.admin
        writer = run.writer("/replace")
        dead = cluster.follower_indices()[0]
        dead_sid = sid_of(cluster, dead)
        cluster.kill(dead)
        alive = [sid_of(cluster, i) for i in range(3) if i != dead]
        index, spec = new_server(cluster, 4, alive)
        before = len(writer.acked)
        admin.reconfig(joining=spec, leaving=str(dead_sid), new_members=None)
        if config_ids(admin) != sorted(alive + [4]):
            return "config after the replacement: %r" % config_ids(admin)
        H.wait_for("s4 to vote", lambda: H.mode_of(cluster.ports[index]) == "follower")
        H.wait_for("writes after the replacement", lambda: writer.acked_since(before) > 50)
        writer.stop()
        return check_writes(cluster, cluster.running(), writer)


def case_observer_added_promoted_removed():
    """An observer joins by reconfig (srvr: observer, it serves reads, never votes), is
    promoted to participant by re-adding its line with that role, and leaves."""
    with Run(3) as run:
        cluster, admin = run.cluster, run.admin
        plan = plan_server(4)
        index = launch_server(cluster, 4, plan, server_lines(cluster, [1, 2, 3]))
        value, client_port, _ = plan
        observer = "server.4=%s:observer;%s:%d" % (value, H.HOST, client_port)
        admin.reconfig(joining=observer, leaving=None, new_members=None)
        H.wait_for("s4 to observe", lambda: H.mode_of(cluster.ports[index]) == "observer")
        admin.create("/seen-by-observer", b"x")
        reader = H.kazoo_client(cluster.hostport(index), timeout_s=20)
        try:
            reader.sync("/seen-by-observer")
            if reader.get("/seen-by-observer")[0] != b"x":
                return "the observer lacks a write"
        finally:
            H.stop_client(reader)
        text = admin.get("/zookeeper/config")[0].decode()
        if ":observer;" not in text:
            return "the config does not list s4 as an observer: %r" % text
        participant = observer.replace(":observer;", ":participant;")
        admin.reconfig(joining=participant, leaving=None, new_members=None)
        H.wait_for("s4 to vote", lambda: H.mode_of(cluster.ports[index]) == "follower")
        admin.reconfig(joining=None, leaving="4", new_members=None)
        H.wait_for("s4 to stop serving", lambda: not_serving(cluster.ports[index]))
        if config_ids(admin) != [1, 2, 3]:
            return "config after removing s4: %r" % config_ids(admin)
        cluster.stop_member(index)
        cluster.wait_converged(60)
        return None


def case_no_quorum_is_refused():
    """5 members, 2 of them killed: removing 2 live ones would leave a new list whose quorum
    is not synced with the leader, so ZooKeeper's NewConfigNoQuorum, and nothing changes."""
    from kazoo.exceptions import NewConfigNoQuorumError
    with Run(5) as run:
        cluster = run.cluster
        leader = cluster.leader_index()
        followers = [i for i in range(5) if i != leader]
        # A client of the leader alone: the run's admin may be connected to a member about to
        # be killed, and would see ConnectionLoss instead of the answer under test.
        admin = H.super_client(cluster.hostport(leader), timeout_s=20)
        try:
            for i in followers[:2]:
                cluster.kill(i)
            leaving = [sid_of(cluster, i) for i in followers[2:]]
            try:
                admin.reconfig(joining=None, leaving=",".join(map(str, leaving)),
                               new_members=None)
                return "removing %r with %r dead was accepted" % (
                    leaving, [sid_of(cluster, i) for i in followers[:2]])
            except NewConfigNoQuorumError:
                pass
            if config_ids(admin) != [1, 2, 3, 4, 5]:
                return "the refused reconfig changed the list: %r" % config_ids(admin)
            admin.create("/still-writable", b"x")
            return None
        finally:
            H.stop_client(admin)


def mntr_state(port):
    for line in (H.four_letter(port, "mntr") or "").splitlines():
        if line.startswith("zk_server_state\t"):
            return line.split("\t", 1)[1]
    return None


def recover_survivor(by_request):
    """Two of three servers are lost for good. The survivor, given a new member list (itself
    and new servers 4 and 5), is put in recovery mode by `rcvr` (by_request) or restarted
    with --force-recovery; 4 and 5 start empty, one after the other as ClickHouse Keeper's
    procedure says, and every write the survivor had is on all three."""
    with Run(3) as run:
        cluster = run.cluster
        writer = run.writer("/recover")
        H.wait_for("writes", lambda: len(writer.acked) > 200)
        writer.stop()
        cluster.wait_converged(60)
        survivor = cluster.follower_indices()[0]
        for i in range(3):
            if i != survivor:
                cluster.kill(i)
        member = cluster.members[survivor]
        sid = sid_of(cluster, survivor)
        plans = {new: plan_server(new) for new in (4, 5)}
        lines = {"server.%d" % sid: member.extra_cfg["server.%d" % sid]}
        lines.update(("server.%d" % new, plan[0]) for new, plan in plans.items())
        member.extra_cfg = {k: v for k, v in member.extra_cfg.items()
                            if not k.startswith("server.")}
        member.extra_cfg.update(lines)
        if by_request:
            H.wait_for("the survivor to stop serving", lambda: not_serving(member.port))
            member.write_config()
            answer = H.four_letter(member.port, "rcvr")
            if answer != "ok":
                return "rcvr answered %r" % answer
        else:
            cluster.members[survivor].stop()
            member.extra_args = ["--force-recovery"]
            member.launch()
        time.sleep(1.0)
        if not not_serving(member.port):
            return "the survivor serves in recovery mode, before any new server joined"
        for new, plan in plans.items():
            others = {k: v for k, v in lines.items() if k != "server.%d" % new}
            index = launch_server(cluster, new, plan, others)
            H.wait_for("s%d to report follower" % new,
                     lambda: mntr_state(cluster.ports[index]) == "follower")
        H.wait_for("the survivor to lead", lambda: mntr_state(member.port) == "leader")
        client = H.kazoo_client(member.hostport, timeout_s=20)
        try:
            ids = config_ids(client)
            client.create("/after-recovery", b"x")
        finally:
            H.stop_client(client)
        if ids != sorted([sid, 4, 5]):
            return "/zookeeper/config after recovery: %r" % ids
        return check_writes(cluster, cluster.running(), writer)


def case_force_recovery_flag():
    return recover_survivor(by_request=False)


def case_rcvr_four_letter_word():
    return recover_survivor(by_request=True)


def main():
    H.quiet_kazoo()
    results = []
    cases = (case_grow_and_shrink, case_replace_a_dead_server,
             case_observer_added_promoted_removed, case_no_quorum_is_refused,
             case_force_recovery_flag, case_rcvr_four_letter_word)
    # Names on the command line pick cases (all without).
    chosen = [c for c in cases if not sys.argv[1:] or c.__name__ in sys.argv[1:]]
    for case in chosen:
        started = time.monotonic()
        try:
            err = case()
        except Exception as e:  # a failed case is reported, the other still runs
            err = "exception: %r" % e
        H.log("%s: %.1f s" % (case.__name__, time.monotonic() - started))
        results.append((case.__name__, err))
    return H.report(results)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""reconfig_cli.py - `ferrokeeper cli reconfig` and `config` against a real ZooKeeper 3.8
ensemble (issue #8): the change each command asks for happens, what it prints is what the
ensemble then holds in /zookeeper/config (read back with kazoo), and its error text is Java
zkCli's for the same command.

Starts a 3-node ensemble with ../shared/tools/zk-ref.sh (reconfigEnabled=true, ACLs skipped
so no super user is needed), runs the cases, stops the ensemble. Then the same clients --
kazoo, `ferrokeeper cli` and Java zkCli -- reconfigure a 3-member Ferrokeeper cluster (with
the super digest). Prints PASS/FAIL lines and
'N passed, N failed' last (the Rust wrapper in tests/interop.rs reads it).
"""

import os
import random
import socket
import subprocess
import sys
import tempfile
import time

import fkharness as H

STAT_LINE_PREFIX = "mZxid = 0x"


def free_base(rng):
    """A base port with base..+2, +100..+102 and +200..+202 all bindable (zk-ref.sh's
    layout), outside the ephemeral range so no client socket takes one meanwhile."""
    lo, _ = H.ephemeral_range()
    for _ in range(200):
        base = rng.randrange(10000, max(lo - 203, 10001))
        ports = [base + d + i for d in (0, 100, 200) for i in range(3)]
        if all(H.bindable(p) for p in ports):
            return base
    raise RuntimeError("no free port range for a 3-node ensemble")


def run(cmd, timeout_s=60):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout_s)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


class Ensemble:
    def __init__(self):
        self.script = H.zk_ref_script()
        self.dir = None
        self.base = None

    def start(self, attempts=3):
        """Starts the ensemble; another base if one try fails (a port can still be taken
        between the check and the JVM's bind)."""
        env = dict(os.environ, ZK_EXTRA_CFG="reconfigEnabled=true",
                   ZK_JVM_OPTS="-Dzookeeper.skipACL=yes", ZK_HEAP="256m", ZK_FORCESYNC="no")
        rng = random.Random()
        err = ""
        for _ in range(attempts):
            self.dir = tempfile.mkdtemp(prefix="fk-reconfig-zk-")
            self.base = free_base(rng)
            r = subprocess.run(["bash", self.script, "start-ensemble", str(self.base), self.dir],
                               env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=150)
            if r.returncode == 0:
                return self
            err = r.stderr.decode()[-2000:]
            self.stop()
        raise RuntimeError("zk-ref.sh start-ensemble failed %d times; last: %s" % (attempts, err))

    def stop(self):
        if self.dir is None:
            return
        subprocess.run(["bash", self.script, "stop", self.dir], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        subprocess.run(["rm", "-rf", self.dir], timeout=60)

    def hostport(self, i=0):
        return "%s:%d" % (H.HOST, self.base + i)

    def follower_id(self):
        for i in range(3):
            if H.mode_of(self.base + i) == "follower":
                return i + 1
        raise RuntimeError("no follower")


def fk_cli(ens, *args):
    return run([H.find_binary(), "cli", "-server", ens.hostport(), *args])


def zk_cli(ens, *args):
    return run(["bash", ens.script, "cli", str(ens.base), *args], timeout_s=90)


def config_now(client):
    data, stat = client.get("/zookeeper/config")
    return data.decode(), stat


def case_config(ens, client):
    rc, out, err = fk_cli(ens, "config")
    text, _ = config_now(client)
    if rc != 0 or out != text + "\n":
        return "config printed %r (rc %d, %r); /zookeeper/config holds %r" % (out, rc, err, text)
    return None


def committed(ens, client, args):
    """Runs `reconfig ARGS -s`; checks the print against /zookeeper/config afterwards."""
    rc, out, err = fk_cli(ens, "reconfig", "-s", *args)
    text, stat = config_now(client)
    head = "Committed new configuration:\n%s\n" % text
    if rc != 0 or not out.startswith(head):
        return "reconfig %s printed %r (rc %d, %r); the node holds %r" % (args, out, rc, err, text)
    want = "%s%x" % (STAT_LINE_PREFIX, stat.mzxid)
    if want not in out.splitlines():
        return "reconfig -s printed no %r line: %r" % (want, out)
    return None


def case_remove_and_add(ens, client):
    victim = ens.follower_id()
    text, _ = config_now(client)
    line = next(l for l in text.splitlines() if l.startswith("server.%d=" % victim))
    err = committed(ens, client, ["-remove", str(victim)])
    if err:
        return err
    text, _ = config_now(client)
    if "server.%d=" % victim in text:
        return "server.%d still listed after -remove: %r" % (victim, text)
    # Put it back with a client port; ZooKeeper prints a bare port as 0.0.0.0:port.
    spec = "%s;%d" % (line, ens.base + victim - 1)
    err = committed(ens, client, ["-add", spec.upper().replace("SERVER", "server")])
    if err:
        return err
    text, _ = config_now(client)
    want = "%s;0.0.0.0:%d" % (line, ens.base + victim - 1)
    if want not in text.splitlines():
        return "after -add, %r not in %r" % (want, text)
    return None


def last_line(s):
    lines = [l for l in s.splitlines() if l.strip() and not l.startswith("[")
             and not l.startswith("WatchedEvent")]
    return lines[-1] if lines else ""


def case_errors_match_zkcli(ens, _client):
    problems = []
    for args in (["-v", "1", "-remove", "2"], ["-remove", "2", "-v", "xyz"],
                 ["-members", "server.1=h:1:2", "-add", "server.2=h:3:4"], []):
        rc, out, err = fk_cli(ens, "reconfig", *args)
        _, zout, zerr = zk_cli(ens, "reconfig", *args)
        ours, theirs = last_line(err), last_line(zout + "\n" + zerr)
        if rc == 0 or ours.strip() != theirs.strip():
            problems.append("reconfig %s: ours %r (rc %d), zkCli %r" % (args, ours, rc, theirs))
    return "; ".join(problems) or None


def kazoo_remove(client, sid):
    """kazoo's reconfig removing server `sid`: (its config line, what is wrong or None). The
    reply is the node's new text and Stat, whose version line is its mzxid in hex."""
    before, _ = config_now(client)
    line = next(l for l in before.splitlines() if l.startswith("server.%d=" % sid))
    data, stat = client.reconfig(joining=None, leaving=str(sid), new_members=None)
    after, after_stat = config_now(client)
    if data.decode() != after or "server.%d=" % sid in after:
        return line, "remove: reply %r, node %r" % (data, after)
    if stat.mzxid != after_stat.mzxid or "version=%x" % stat.mzxid not in after:
        return line, "remove: reply stat %r, node %r" % (stat, after)
    return line, None


def case_kazoo_reconfig(ens, client):
    line, err = kazoo_remove(client, ens.follower_id())
    if err:
        return err
    client.reconfig(joining=line, leaving=None, new_members=None)
    return None


# ---- the same against a Ferrokeeper cluster ------------------------------------------------

def voting_again(cluster, i):
    """Member i votes again: it says follower and the leader counts every other member as a
    synced voter (a re-added member still holding the membership from before its removal
    says follower before the leader has promoted it)."""
    if H.mode_of(cluster.ports[i]) != "follower":
        return False
    leader = cluster.leader_index()
    mntr = H.four_letter(cluster.ports[leader], "mntr") or ""
    return ("zk_synced_followers\t%d" % (len(cluster.running()) - 1)) in mntr


def not_serving(cluster, i):
    """A member removed from the cluster no longer hears a leader, so it stops serving."""
    port = cluster.ports[i]
    return H.mode_of(port) is None or "not currently serving" in (H.four_letter(port, "srvr")
                                                                   or "")


def fk_case_kazoo_remove_and_add(cluster, client):
    """kazoo's reconfig on Ferrokeeper: a follower leaves (the others keep taking writes and
    it stops serving), comes back with the same line, catches up, and all three converge."""
    victim = cluster.follower_indices()[0]
    vid = victim + 1
    line, err = kazoo_remove(client, vid)
    if err:
        return err
    client.create("/after-remove", b"x")
    H.wait_for("server.%d to stop serving" % vid, lambda: not_serving(cluster, victim))
    # A joiner needs its client address (ZooKeeper refuses one without); a bare port
    # prints as 0.0.0.0:port.
    port = cluster.ports[victim]
    data, _ = client.reconfig(joining="%s;%d" % (line, port), leaving=None, new_members=None)
    if ("%s;0.0.0.0:%d\n" % (line, port)) not in data.decode():
        return "add: reply %r lacks %r" % (data, line)
    client.create("/after-add", b"y")
    # It joins as a learner (srvr: observer) and votes once caught up (follower).
    H.wait_for("server.%d to vote again" % vid, lambda: voting_again(cluster, victim))
    cluster.wait_converged(60)
    again = H.kazoo_client(cluster.hostport(victim), timeout_s=20)
    try:
        if again.get("/after-add")[0] != b"y" or again.get("/after-remove")[0] != b"x":
            return "the re-added member lacks writes"
    finally:
        H.stop_client(again)
    return None


def fk_case_errors(cluster, client):
    """ZooKeeper's codes from Ferrokeeper: wrong fromConfig, too few followers, no ACL."""
    from kazoo.exceptions import BadArgumentsError, BadVersionError, NoAuthError
    problems = []
    for kwargs, exc in ((dict(leaving="2", from_config=1), BadVersionError),
                        (dict(leaving="1,2,3"), BadArgumentsError)):
        try:
            client.reconfig(joining=kwargs.get("joining"), leaving=kwargs.get("leaving"),
                            new_members=None, from_config=kwargs.get("from_config", -1))
            problems.append("%r was accepted" % kwargs)
        except exc:
            pass
        except Exception as e:
            problems.append("%r: %r" % (kwargs, e))
    plain = H.kazoo_client(cluster.hostport(cluster.leader_index()), timeout_s=20)
    try:
        plain.reconfig(joining=None, leaving="2", new_members=None)
        problems.append("a client without the super digest reconfigured")
    except NoAuthError:
        pass
    except Exception as e:
        problems.append("no ACL: %r" % e)
    finally:
        H.stop_client(plain)
    return "; ".join(problems) or None


def fk_case_cli(cluster, client):
    """`ferrokeeper cli reconfig -s -remove` then `-add` on Ferrokeeper, with the super digest."""
    index = cluster.follower_indices()[0]
    victim = index + 1
    before, _ = config_now(client)
    line = next(l for l in before.splitlines() if l.startswith("server.%d=" % victim))
    auth = "addauth digest %s:%s" % (H.SUPER_USER, H.SUPER_PASSWORD)
    script = "%s\nreconfig -s -remove %d\n" % (auth, victim)
    leader = cluster.leader_index()
    r = subprocess.run([H.find_binary(), "cli", "-server", cluster.hostport(leader)],
                       input=script.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    text, stat = config_now(client)
    if "Committed new configuration:\n%s\n" % text not in r.stdout.decode():
        return "cli remove printed %r %r; node holds %r" % (r.stdout, r.stderr, text)
    H.wait_for("server.%d to stop serving" % victim, lambda: not_serving(cluster, index))
    client.reconfig(joining=line if ";" in line else "%s;%d" % (line, cluster.ports[index]),
                    leaving=None, new_members=None)
    H.wait_for("server.%d to vote again" % victim, lambda: voting_again(cluster, index))
    cluster.wait_converged(60)
    return None


def fk_case_java_zkcli(cluster, client):
    """Java zkCli's `reconfig -remove` then `-add` on Ferrokeeper (its stdin carries addauth
    first: the super digest holds WRITE on /zookeeper/config); it prints the new config."""
    index = cluster.follower_indices()[0]
    victim = index + 1
    before, _ = config_now(client)
    line = next(l for l in before.splitlines() if l.startswith("server.%d=" % victim))
    spec = line if ";" in line else "%s;%d" % (line, cluster.ports[index])
    leader = cluster.leader_index()
    auth = "addauth digest %s:%s" % (H.SUPER_USER, H.SUPER_PASSWORD)
    for command, gone in (("reconfig -remove %d" % victim, True),
                          ("reconfig -add %s" % spec, False)):
        r = subprocess.run(["bash", H.zk_ref_script(), "cli", str(cluster.ports[leader])],
                           input=("%s\n%s\nquit\n" % (auth, command)).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90)
        out = r.stdout.decode()
        text, _ = config_now(client)
        if ("server.%d=" % victim in text) == gone:
            return "after zkCli %r the node holds %r; zkCli printed %r %r" % (
                command, text, out[-1500:], r.stderr.decode()[-1500:])
        if "Committed new configuration:" not in out:
            return "zkCli %r printed %r" % (command, out[-1500:])
        if gone:
            H.wait_for("server.%d to stop serving" % victim, lambda: not_serving(cluster, index))
    H.wait_for("server.%d to vote again" % victim,
             lambda: voting_again(cluster, index))
    cluster.wait_converged(60)
    return None


def observer_added_and_removed_at_once(_target, client):
    """kazoo's own TestReconfig.test_add_remove_observer: an observer that does not exist is
    added, removed by the very next request, then re-added with a future fromConfig."""
    from kazoo.exceptions import BadVersionError
    for _ in range(3):
        socks = [socket.socket() for _ in range(3)]
        try:
            for sock in socks:
                sock.bind(("", 0))
            ports = [sock.getsockname()[1] for sock in socks]
            joining = "server.100=0.0.0.0:%d:%d:observer;0.0.0.0:%d" % tuple(ports)
            data, _ = client.reconfig(joining=joining, leaving=None, new_members=None)
            if joining.encode() not in data:
                return "added: %r" % data
            data, _ = client.reconfig(joining=None, leaving="100", new_members=None)
            if joining.encode() in data:
                return "removed: %r" % data
            version = int(data.decode().split("\n")[-1].split("=")[1], 16)
            try:
                client.reconfig(joining=joining, leaving=None, new_members=None,
                                from_config=version + 1)
                return "a future fromConfig was accepted"
            except BadVersionError:
                pass
        finally:
            for sock in socks:
                sock.close()
    return None


def case_observer_added_and_removed_at_once(ens, client):
    return observer_added_and_removed_at_once(ens, client)


def fk_case_observer_added_and_removed_at_once(cluster, client):
    return observer_added_and_removed_at_once(cluster, client)


def run_cases(results, cases, *args):
    for case in cases:
        try:
            err = case(*args)
        except Exception as e:  # a failed case is reported, the others still run
            err = "exception: %r" % e
        results.append((case.__name__, err))


def main():
    H.quiet_kazoo()
    results = []
    ens = Ensemble().start()
    client = None
    try:
        client = H.kazoo_client(",".join(ens.hostport(i) for i in range(3)), timeout_s=20)
        run_cases(results, (case_config, case_remove_and_add, case_errors_match_zkcli,
                            case_kazoo_reconfig, case_observer_added_and_removed_at_once),
                  ens, client)
    finally:
        if client is not None:
            H.stop_client(client)
        ens.stop()
    cluster = H.start_cluster(3, extra_cfg={"reconfigEnabled": "true"})
    client = None
    try:
        # On the leader: the followers are the ones removed and re-added.
        client = H.super_client(cluster.hostport(cluster.leader_index()), timeout_s=20)
        H.wait_for("/zookeeper/config", lambda: config_now(client)[0])
        run_cases(results, (fk_case_kazoo_remove_and_add, fk_case_errors, fk_case_cli,
                            fk_case_java_zkcli, fk_case_observer_added_and_removed_at_once),
                  cluster, client)
    finally:
        if client is not None:
            H.stop_client(client)
        cluster.stop()
    return H.report(results)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Real command-line clients against a server: Debian's Java zkCli (ZooKeeperMain) and the C
client shell cli_mt (libzookeeper_mt). The expected outputs below were checked against the
real ZooKeeper 3.8.0 (run this with --kind zk to re-check them).

Usage (with /usr/bin/python3):
  zkcli.py --self-start [--kind fk|zk]     start the server itself (Ferrokeeper by default)
  zkcli.py --hosts 127.0.0.1:PORT
  zkcli.py ... -k java | -k cli_mt
Prints PASS/FAIL per check and, last, "N passed, N failed".

zkCli reads its commands from stdin, one JVM per session (~0.5-1 s). Its output is split into
command output (compared line by line, in order, each line a full regex match) and watch
notifications ("WatchedEvent state:... type:... path:..."), compared as an ordered list.
cli_mt is asynchronous, so it is driven one command at a time, waiting (bounded) for the
reply lines of each before sending the next.
"""

import argparse
import os
import queue
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkharness as H  # noqa: E402

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
CLI_MT = os.environ.get("CLI_MT", "/usr/lib/zookeeper/bin/cli_mt")

ALICE_DIGEST = H.digest_of("alice", "apw")

NOISE = re.compile(r"^(SLF4J: .*|Connecting to .*|Welcome to ZooKeeper!|JLine support is "
                   r"(disabled|enabled)|WATCHER::|\s*)$")
EVENT = re.compile(r"^WatchedEvent state:(\w+) type:(\w+) path:(\S+)$")

ZX = r"0x[0-9a-f]+"
DATE = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}"


def stat_block(cversion=r"\d+", version=r"\d+", aversion=r"\d+", owner="0x0", length=r"\d+",
               children=r"\d+"):
    return [r"cZxid = " + ZX, r"ctime = " + DATE, r"mZxid = " + ZX, r"mtime = " + DATE,
            r"pZxid = " + ZX, r"cversion = %s" % cversion, r"dataVersion = %s" % version,
            r"aclVersion = %s" % aversion, r"ephemeralOwner = %s" % owner,
            r"dataLength = %s" % length, r"numChildren = %s" % children]


def run_zkcli(port, commands, timeout_s=60):
    script = "".join(c + "\n" for c in commands) + "quit\n"
    r = subprocess.run([ZKCLI, "-server", "%s:%d" % (H.HOST, port)], input=script.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout_s,
                       env=dict(os.environ, CLIENT_JVMFLAGS="-Xmx128m -XX:-UsePerfData"))
    out = r.stdout.decode("utf-8", "replace").splitlines()
    lines, events = [], []
    for ln in out:
        m = EVENT.match(ln)
        if m:
            if m.group(2) != "None":  # connection state changes
                events.append("%s %s" % (m.group(2), m.group(3)))
        elif not NOISE.match(ln):
            lines.append(ln)
    return lines, events, out


def match_lines(got, expected):
    """expected: list of regexes (or a callable taking the remaining lines, returning how many
    it consumed or raising). Returns None if all match, else a message."""
    i = 0
    for k, exp in enumerate(expected):
        if callable(exp):
            try:
                i += exp(got[i:])
            except AssertionError as e:
                return "expectation %d at output line %d: %s" % (k, i, e)
            continue
        if i >= len(got):
            return "output ended; expected line %d: %r" % (k, exp)
        if not re.fullmatch(exp, got[i]):
            return "line %d: got %r, expected /%s/" % (i, got[i], exp)
        i += 1
    if i != len(got):
        return "unexpected extra output from line %d: %r" % (i, got[i:i + 5])
    return None


def unordered(*items):
    """zkCli prints some lists (getEphemerals) in the server's hash order: compare as a set."""
    def f(rest):
        if not rest:
            raise AssertionError("missing list line")
        m = re.fullmatch(r"\[(.*)\]", rest[0])
        if not m:
            raise AssertionError("not a list: %r" % rest[0])
        got = sorted(x for x in m.group(1).split(", ") if x)
        if got != sorted(items):
            raise AssertionError("got %r, expected (any order) %r" % (got, sorted(items)))
        return 1
    return f


def lines_any_order(*regexes):
    n = len(regexes)

    def f(rest):
        block = rest[:n]
        left = list(regexes)
        for ln in block:
            hit = next((r for r in left if re.fullmatch(r, ln)), None)
            if hit is None:
                raise AssertionError("line %r matches none of %r" % (ln, left))
            left.remove(hit)
        if left:
            raise AssertionError("missing lines %r" % left)
        return n
    return f


# ---------------------------------------------------------------------------------------------
# zkCli sessions: (name, commands, expected output lines, expected events)

R = "/zkcli"
E = re.escape


def zkcli_sessions():
    s1 = (
        "create, ls, get, set, stat, acl, auth, errors",
        [
            "create %s hello" % R,
            "create %s/p data" % R,
            "create -e %s/e eph" % R,
            "create -s %s/s x" % R,
            "create -s -e %s/es x" % R,
            "create -c %s/c" % R,
            "create -t 100000 %s/t tv" % R,
            "create %s/n" % R,
            "ls %s" % R,
            "ls -R %s" % R,
            "get %s/n" % R,
            "get -s %s" % R,
            "set %s world" % R,
            "get %s" % R,
            "stat %s" % R,
            "ls -s %s/p" % R,
            "getAcl %s" % R,
            "getEphemerals %s" % R,
            "getAllChildrenNumber %s" % R,
            "whoami",
            "addauth digest alice:apw",
            "whoami",
            "setAcl %s/p digest:%s:cdrwa" % (R, ALICE_DIGEST),
            "getAcl %s/p" % R,
            "sync %s" % R,
            "delete %s/s0000000002" % R,
            "delete %s" % R,
            "delete %s/nope" % R,
            "create %s" % R,
            "delete -v 7 %s/n" % R,
            "set -v 9 %s/n x" % R,
            "create %s/e/x" % R,
            "create %s/nope/x" % R,
            "deleteall %s/c" % R,
            "ls %s" % R,
            "stat %s/nope" % R,
        ],
        [
            E("Created %s" % R),
            E("Created %s/p" % R),
            E("Created %s/e" % R),
            E("Created %s/s0000000002" % R),
            E("Created %s/es0000000003" % R),
            E("Created %s/c" % R),
            E("Created %s/t" % R),
            E("Created %s/n" % R),
            E("[c, e, es0000000003, n, p, s0000000002, t]"),
            lines_any_order(*[E(R + x) for x in ("", "/c", "/e", "/es0000000003", "/n", "/p",
                                                 "/s0000000002", "/t")]),
            "null",
            "hello",
        ] + stat_block(cversion="7", version="0", aversion="0", length="5", children="7") + [
            "world",
        ] + stat_block(cversion="7", version="1", length="5", children="7") + [
            r"\[\]",
        ] + stat_block(cversion="0", version="0", length="4", children="0") + [
            "'world,'anyone", ": cdrwa",
            unordered("%s/e" % R, "%s/es0000000003" % R),
            "7",
            "Auth scheme: User", "ip: 127.0.0.1",
            "Auth scheme: User", "digest: alice", "ip: 127.0.0.1",
            E("'digest,'%s" % ALICE_DIGEST), ": cdrwa",
            "Sync is OK",
            E("Node not empty: %s" % R),
            E("Node does not exist: %s/nope" % R),
            E("Node already exists: %s" % R),
            E("version No is not valid : %s/n" % R),
            E("version No is not valid : %s/n" % R),
            E("Ephemerals cannot have children: %s/e/x" % R),
            E("Node does not exist: %s/nope/x" % R),
            E("[e, es0000000003, n, p, t]"),
            E("Node does not exist: %s/nope" % R),
        ],
        [],
    )
    s2 = (
        "ACL denial in a new session; ephemerals of the old one are gone; persistent watches",
        [
            "get %s/p" % R,
            "set %s/p x" % R,
            "getAcl %s/p" % R,
            "ls %s" % R,
            "create %s/w" % R,
            "create %s/r" % R,
            # zkCli keeps addWatch's -m from one call to the next: give it every time.
            "addWatch -m PERSISTENT_RECURSIVE %s/r" % R,
            "addWatch -m PERSISTENT %s/w" % R,
            "create %s/w/x" % R,
            "set %s/w d" % R,
            "create %s/w/x/y" % R,
            "create %s/r/a" % R,
            "create %s/r/a/b bb" % R,
            "set %s/r/a/b z" % R,
            "delete %s/r/a/b" % R,
            "get -w %s/n" % R,
            "set %s/n v" % R,
            "ls -w %s/w" % R,
            "delete %s/w/x/y" % R,
            "delete %s/w/x" % R,
            "stat -w %s/nothere" % R,
            "create %s/nothere" % R,
            "sync /",
        ],
        [
            E("Insufficient permission : %s/p" % R),
            E("Insufficient permission : %s/p" % R),
            E("Insufficient permission : %s/p" % R),
            E("[n, p, t]"),
            E("Created %s/w" % R),
            E("Created %s/r" % R),
            E("Created %s/w/x" % R),
            E("Created %s/w/x/y" % R),
            E("Created %s/r/a" % R),
            E("Created %s/r/a/b" % R),
            "null",
            E("[x]"),
            E("Node does not exist: %s/nothere" % R),
            E("Created %s/nothere" % R),
            "Sync is OK",
        ],
        [
            "NodeChildrenChanged %s/w" % R,
            "NodeDataChanged %s/w" % R,
            "NodeCreated %s/r/a" % R,
            "NodeCreated %s/r/a/b" % R,
            "NodeDataChanged %s/r/a/b" % R,
            "NodeDeleted %s/r/a/b" % R,
            "NodeDataChanged %s/n" % R,
            "NodeChildrenChanged %s/w" % R,  # delete /w/x: both the ls -w and the persistent
            "NodeCreated %s/nothere" % R,
        ],
    )
    s3 = (
        "quota, deleteall, final listing",
        [
            "setquota -n 4 %s/r" % R,
            "create %s/r/q1 12345" % R,
            "listquota %s/r" % R,
            "deleteall %s" % R,
            "ls %s" % R,
            "addauth digest alice:apw",
            "deleteall %s" % R,
            "ls %s" % R,
            "ls /",
        ],
        [
            E("Created %s/r/q1" % R),
            "absolute path is /zookeeper/quota%s/r/zookeeper_limits" % E(R),
            E("Output quota for %s/r count=4,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
              % R),
            E("Output stat for %s/r count=3,bytes=5" % R),
            # deleteall lists the whole subtree first: a node it may not read stops it
            # before anything is deleted
            E("Insufficient permission : %s/p" % R),
            E("[n, nothere, p, r, t, w]"),
            E("Node does not exist: %s" % R),
            lambda rest: _no_zkcli_in_root(rest),
        ],
        [],
    )
    return [s1, s2, s3]


def _no_zkcli_in_root(rest):
    if not rest or not rest[0].startswith("["):
        raise AssertionError("expected the root listing, got %r" % rest[:1])
    items = rest[0].strip("[]").split(", ")
    if "zkcli" in items or "zookeeper" not in items:
        raise AssertionError("root listing %r" % rest[0])
    return 1


def test_zkcli(port):
    results = []
    for name, cmds, exp_lines, exp_events in zkcli_sessions():
        lines, events, raw = run_zkcli(port, cmds)
        err = match_lines(lines, exp_lines)
        if err is None and events != exp_events:
            err = "watch events %r, expected %r" % (events, exp_events)
        if err:
            err += "\n--- zkCli output ---\n" + "\n".join(raw[-80:])
        results.append(("zkCli: " + name, err))
    return results


# ---------------------------------------------------------------------------------------------
# cli_mt


class CliMt:
    def __init__(self, port):
        self.p = subprocess.Popen([CLI_MT, "-h", "%s:%d" % (H.HOST, port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.q = queue.Queue()
        self.all = []
        self.n = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in iter(self.p.stdout.readline, b""):
            self.q.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.q.put(None)

    def wait_for(self, regex, timeout_s=10.0):
        """Collect lines until one matches regex; return the lines collected."""
        got = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                ln = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if ln is None:
                break
            self.all.append(ln)
            got.append(ln)
            if re.search(regex, ln):
                return got
        raise AssertionError("no line matching /%s/ within %.0fs; got %r" % (regex, timeout_s,
                                                                              got))

    def cmd(self, line, timeout_s=10.0):
        """Send one command, then `ls` of a missing marker node; the shell's completions run in
        the server's reply order, so everything printed before the marker's "rc = -101"
        belongs to the command. Returns those lines minus blank and "time = ..." ones."""
        self.n += 1
        marker = "/climt-marker-%d" % self.n
        self.p.stdin.write(("%s\nls %s\n" % (line, marker)).encode())
        self.p.stdin.flush()
        got = self.wait_for(r"^%s: rc = -101$" % re.escape(marker), timeout_s)[:-1]
        return [ln for ln in got if ln.strip() and not ln.startswith("time = ")]

    def close(self):
        try:
            self.p.stdin.write(b"quit\n")
            self.p.stdin.flush()
            self.p.wait(5)
        except Exception:
            pass
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)


CLI_MT_STAT = [r"\tctime = " + r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", r"\tczxid=[0-9a-f]+",
               r"\tmtime=" + r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", r"\tmzxid=[0-9a-f]+"]


def cli_mt_stat(version, owner="0"):
    return CLI_MT_STAT + [r"\tversion=%d\taversion=0" % version, r"\tephemeralOwner = %s" % owner]


def test_cli_mt(port):
    M = "/climt"
    c = CliMt(port)
    steps = [
        ("create %s" % M, [r"Creating \[%s\] node \(mode: 0\)" % M, r"\[%s\]: rc = 0" % M,
                           r"\tname = %s" % M]),
        ("set %s hello" % M, [r"%s: rc = 0 Stat:" % M] + cli_mt_stat(1)),
        ("get %s" % M, [r"%s: rc = 0" % M, r" value_len = 5", "hello", "Stat:"] +
         cli_mt_stat(1)),
        ("create +e %s/e" % M, [r"Creating \[%s/e\] node \(mode: 1\)" % M,
                                r"\[%s/e\]: rc = 0" % M, r"\tname = %s/e" % M]),
        ("create +s %s/s" % M, [r"Creating \[%s/s\] node \(mode: 2\)" % M,
                                r"\[%s/s\]: rc = 0" % M, r"\tname = %s/s0000000001" % M]),
        ("create +es %s/es" % M, [r"Creating \[%s/es\] node \(mode: 3\)" % M,
                                  r"\[%s/es\]: rc = 0" % M, r"\tname = %s/es0000000002" % M]),
        ("create +c %s/c" % M, [r"Creating \[%s/c\] node \(mode: 4\)" % M,
                                r"\[%s/c\]: rc = 0" % M, r"\tname = %s/c" % M]),
        ("create +t=100000 %s/t" % M, [r"Creating \[%s/t\] node \(mode: 5\)" % M,
                                       r"\[%s/t\]: rc = 0" % M, r"\tname = %s/t" % M]),
        ("exists %s" % M, []),  # the synchronous exists prints only errors
        ("exists %s/nope" % M, [r"Error -101 for %s/nope" % M]),
        ("create %s" % M, [r"Creating \[%s\] node \(mode: 0\)" % M, r"\[%s\]: rc = -110" % M]),
        ("create %s/e/x" % M, [r"Creating \[%s/e/x\] node \(mode: 0\)" % M,
                               r"\[%s/e/x\]: rc = -108" % M]),
        ("delete %s" % M, [r"%s: rc = -111" % M]),
        ("get %s/nope" % M, [r"%s/nope: rc = -101" % M, "Stat:", "null"]),
        ("set %s/nope x" % M, [r"%s/nope: rc = -101 Stat:" % M, "null"]),
        ("sync %s" % M, [r"\[%s\]: rc = 0" % M, r"\tname = %s" % M]),
        ("delete %s/e" % M, [r"%s/e: rc = 0" % M]),
        ("create2 %s/x2" % M, [r"Creating \[%s/x2\] node \(mode: 0\)" % M,
                               r"\[%s/x2\]: rc = 0" % M, r"\tname = %s/x2" % M] +
         cli_mt_stat(0)),
        ("wexists %s/x2" % M, []),
        ("set %s/x2 v" % M, [r"Watcher CHANGED_EVENT state = CONNECTED_STATE for path %s/x2" % M,
                             r"%s/x2: rc = 0 Stat:" % M] + cli_mt_stat(1)),
    ]
    try:
        c.wait_for(r"Got a new session id: 0x[0-9a-f]+")
        for cmd, expected in steps:
            got = c.cmd(cmd)
            err = match_lines(got, expected)
            if err:
                raise AssertionError("%r: %s; output %r" % (cmd, err, got))
        # ls: children come in the server's order, so compare as a set
        got = c.cmd("ls %s" % M)
        kids = sorted(ln.strip() for ln in got if ln.startswith("\t"))
        want = sorted(["s0000000001", "es0000000002", "c", "t", "x2"])
        if got[:1] != ["%s: rc = 0" % M] or kids != want:
            raise AssertionError("ls %s: %r, expected children %r" % (M, got, want))
        for k, p in enumerate(("s0000000001", "es0000000002", "c", "t", "x2")):
            got = c.cmd("delete %s/%s" % (M, p))
            want = ["%s/%s: rc = 0" % (M, p)]
            if k == 0:  # cli_mt's ls leaves a child watch; its event precedes the reply
                want.insert(0, "Watcher CHILD_EVENT state = CONNECTED_STATE for path %s" % M)
            if got != want:
                raise AssertionError("delete %s/%s: %r" % (M, p, got))
        got = c.cmd("delete %s" % M)
        # cli_mt's get/exists leave a data watch on M
        if got != ["Watcher DELETED_EVENT state = CONNECTED_STATE for path %s" % M,
                   "%s: rc = 0" % M]:
            raise AssertionError("delete %s: %r" % (M, got))
        return [("cli_mt: create (all modes)/set/get/exists/ls/delete/sync/wexists + errors",
                 None)]
    except AssertionError as e:
        return [("cli_mt", "%s\n--- cli_mt output ---\n%s" % (e, "\n".join(c.all[-60:])))]
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts")
    ap.add_argument("--self-start", action="store_true")
    ap.add_argument("--kind", default="fk", choices=["fk", "zk"])
    ap.add_argument("-k", default="", help="java or cli_mt")
    args = ap.parse_args()
    server = None
    results = []
    try:
        if args.self_start:
            server = H.start_server(args.kind)
            port = server.port
        elif args.hosts:
            port = int(args.hosts.rsplit(":", 1)[1])
        else:
            ap.error("give --hosts or --self-start")
        if args.k in ("", "java"):
            if os.path.exists(ZKCLI):
                results += test_zkcli(port)
            else:
                results.append(("zkCli", "missing %s (apt-get install zookeeper)" % ZKCLI))
        if args.k in ("", "cli_mt"):
            if os.path.exists(CLI_MT):
                results += test_cli_mt(port)
            else:
                results.append(("cli_mt", "missing %s (apt-get install zookeeper-bin)" % CLI_MT))
        if server is not None and not server.alive():
            results.append(("server alive", "server died:\n" + server.log_tail()))
    finally:
        if server is not None:
            server.stop()
    return H.report(results)


if __name__ == "__main__":
    sys.exit(main())

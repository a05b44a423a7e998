#!/usr/bin/python3
"""Four-letter words on ZooKeeper 3.8 and the target, after building the same state on both
(two kazoo sessions, an ephemeral node, data/child/exist watches). Values that legitimately
differ (versions, latencies, ports, session ids, sizes) are masked; labels, key sets, counts,
watch tables and ephemeral tables must be equal.

Usage (with /usr/bin/python3):
  fourlw.py --self-start [--target-kind fk|zk]
  fourlw.py --zk HOST:PORT --target HOST:PORT
Prints PASS/FAIL per word and, last, "N passed, N failed".
"""

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkharness as H  # noqa: E402

ROOT = "/fourlw"

# mntr keys every monitoring integration reads (ZooKeeper admin guide, "mntr").
MNTR_CORE = ["zk_version", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
             "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections",
             "zk_outstanding_requests", "zk_server_state", "zk_znode_count", "zk_watch_count",
             "zk_ephemerals_count", "zk_approximate_data_size",
             "zk_open_file_descriptor_count", "zk_max_file_descriptor_count"]
MNTR_EQUAL = ["zk_server_state", "zk_znode_count", "zk_ephemerals_count", "zk_watch_count",
              "zk_outstanding_requests"]
CONF_EQUAL = ["tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
              "serverId", "secureClientPort", "clientPortListenBacklog"]


class State:
    """Two sessions with watches and one ephemeral; session ids mapped to labels."""

    def __init__(self, hostport):
        self.a = H.kazoo_client(hostport)
        self.b = H.kazoo_client(hostport)
        self.labels = {self.a.client_id[0]: "A", self.b.client_id[0]: "B"}
        a, b = self.a, self.b
        a.create(ROOT, b"r")
        a.create(ROOT + "/x", b"x")
        b.create(ROOT + "/eph", b"e", ephemeral=True)
        a.get(ROOT + "/x", watch=lambda e: None)          # data watch, A
        a.exists(ROOT + "/nothere", watch=lambda e: None)  # exist watch, A
        b.get_children(ROOT, watch=lambda e: None)        # child watch, B
        b.get(ROOT + "/x", watch=lambda e: None)          # data watch, B
        a.sync(ROOT)
        b.sync(ROOT)

    def label(self, sid_hex):
        return self.labels.get(int(sid_hex, 16), "other")

    def close(self):
        for c in (self.a, self.b):
            try:
                c.delete(ROOT, recursive=True)
            except Exception:
                pass
            try:
                H.stop_client(c)
            except Exception:
                pass


def kv(text, sep):
    out = {}
    for ln in text.splitlines():
        if sep in ln:
            k, v = ln.split(sep, 1)
            out[k.strip()] = v.strip()
    return out


def labels_of(text):
    return [ln.split(":", 1)[0] for ln in text.splitlines() if ln.strip() and ":" in ln
            and not ln.startswith(" ")]


CONN_LINE = re.compile(r"^ /127\.0\.0\.1:\d+\[(\d)\]\((.*)\)$")


def conn_fields(text):
    """cons/stat connection lines -> sorted list of (interest-ops flag, sorted field names)."""
    out = []
    for ln in text.splitlines():
        m = CONN_LINE.match(ln)
        if m:
            names = tuple(sorted(f.split("=", 1)[0] for f in m.group(2).split(",")))
            out.append(names)
    return sorted(out)


def watch_table(text, st, by_session):
    """wchc (session -> paths) or wchp (path -> sessions) into a comparable sorted list."""
    table = {}
    key = None
    for ln in text.splitlines():
        if not ln.strip():
            continue
        if ln.startswith("\t"):
            v = ln.strip()
            table.setdefault(key, []).append(st.label(v) if not by_session else v)
        else:
            key = st.label(ln.strip()) if by_session else ln.strip()
    return sorted((k, sorted(v)) for k, v in table.items() if k is not None)


def ephemerals_of_dump(text, st):
    out = []
    in_eph = False
    sid = None
    for ln in text.splitlines():
        if ln.startswith("Sessions with Ephemerals"):
            in_eph = True
            out.append(("count", ln.split("(", 1)[1].rstrip("):")))
            continue
        if ln.startswith("Connections dump") or ln.startswith("Connections"):
            in_eph = False
        if not in_eph:
            continue
        if ln.startswith("0x"):
            sid = st.label(ln.strip().rstrip(":"))
        elif ln.startswith("\t") and sid:
            out.append((sid, ln.strip()))
    return sorted(out)


def observe(port, st):
    w = {x: H.four_letter(port, x) for x in (
        "ruok", "isro", "srvr", "stat", "cons", "conf", "mntr", "wchs", "wchc", "wchp", "dump",
        "envi", "dirs")}
    obs = {}
    obs["ruok"] = w["ruok"]
    obs["isro"] = w["isro"]
    srvr = w["srvr"]
    obs["srvr labels"] = labels_of(srvr)
    s = kv(srvr, ":")
    obs["srvr version prefix"] = s.get("Zookeeper version", "")[:4]
    obs["srvr mode/node count/outstanding"] = (s.get("Mode"), s.get("Node count"),
                                               s.get("Outstanding"))
    obs["srvr latency format"] = bool(re.fullmatch(r"\d+/\d+(\.\d+)?/\d+",
                                                   s.get("Latency min/avg/max", "")))
    stat = w["stat"]
    obs["stat labels"] = labels_of(stat)
    obs["stat client lines"] = conn_fields(stat)
    obs["cons lines"] = conn_fields(w["cons"])
    conf = kv(w["conf"], "=")
    obs["conf keys"] = sorted(conf)
    obs["conf values"] = {k: conf.get(k) for k in CONF_EQUAL}
    obs["conf clientPort is the port"] = conf.get("clientPort") == str(port)
    mntr = kv(w["mntr"], "\t")
    obs["mntr core keys present"] = [k for k in MNTR_CORE if k in mntr]
    obs["mntr values"] = {k: mntr.get(k) for k in MNTR_EQUAL}
    obs["mntr version prefix"] = mntr.get("zk_version", "")[:4]
    obs["wchs"] = w["wchs"].strip()
    obs["wchc"] = watch_table(w["wchc"], st, by_session=True)
    obs["wchp"] = watch_table(w["wchp"], st, by_session=False)
    obs["dump ephemerals"] = ephemerals_of_dump(w["dump"], st)
    obs["envi first line + zookeeper.version"] = (
        w["envi"].splitlines()[:1], "zookeeper.version" in kv(w["envi"], "="))
    obs["dirs keys"] = sorted(kv(w["dirs"], ":"))
    return obs, w, mntr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zk")
    ap.add_argument("--target")
    ap.add_argument("--self-start", action="store_true")
    ap.add_argument("--target-kind", default="fk", choices=["fk", "zk"])
    args = ap.parse_args()
    servers, results = [], []
    states = []
    try:
        if args.self_start:
            servers = [H.start_server("zk"), H.start_server(args.target_kind)]
            ports = [s.port for s in servers]
        elif args.zk and args.target:
            ports = [int(x.rsplit(":", 1)[1]) for x in (args.zk, args.target)]
        else:
            ap.error("give --zk and --target, or --self-start")
        hps = ["%s:%d" % (H.HOST, p) for p in ports]
        states = [State(hp) for hp in hps]
        time.sleep(0.2)
        (zo, zraw, zmntr), (to, traw, tmntr) = [observe(p, s) for p, s in zip(ports, states)]
        for key in zo:
            err = None if zo[key] == to[key] else "zookeeper %r\n    target    %r" % (zo[key],
                                                                                 to[key])
            results.append((key, err))
        missing = sorted(set(zmntr) - set(tmntr))
        if missing:
            print("INFO mntr keys ZooKeeper has and the target lacks (%d), e.g. %s" % (
                len(missing), " ".join(missing[:12])))
        for word, want in (("crst", "Connection stats reset.\n"),
                           ("srst", "Server stats reset.\n")):
            got = [H.four_letter(p, word) for p in ports]
            results.append((word, None if got[0] == got[1] == want else "got %r" % (got,)))
        for s in servers:
            if not s.alive():
                results.append(("%s alive" % s.kind, "died:\n" + s.log_tail()))
        if os.environ.get("FOURLW_SHOW"):
            for w in zraw:
                print("--- %s\nzookeeper:\n%s\ntarget:\n%s" % (w, zraw[w], traw[w]))
    finally:
        for st in states:
            st.close()
        for s in servers:
            s.stop()
    return H.report(results)


if __name__ == "__main__":
    sys.exit(main())

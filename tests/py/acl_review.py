#!/usr/bin/env python3
"""acl_review.py - ZooKeeper's ACL security fixes, checked differentially (issue #9).

Each scenario runs the same raw requests on the reference ZooKeeper 3.8 (Debian's, with its
security updates) and on Ferrokeeper, and the two must agree on every error code and every
answer. The scenarios follow ZooKeeper's ACL CVEs and what they fixed:

- CVE-2019-0201: getACL needs READ or ADMIN; without ADMIN the digest hashes are masked
  (`user:x`), so a reader cannot brute-force passwords offline.
- CVE-2024-23944: persistent (recursive) watches do not reveal nodes the watcher cannot
  read: no event for their creation, change or deletion.
- the super digest: the right password reads and changes anything; a wrong one is just
  another digest identity.
- auth on reconnect: identities belong to the connection, so a session resumed on a new
  connection has none until it authenticates again.
- ip scheme, setACL needing ADMIN, getChildren/exists on unreadable nodes, and what
  whoAmI reports.

Prints PASS/FAIL per scenario and 'N passed, N failed' last (tests/interop.rs reads it).
"""

import hashlib
import base64
import socket
import struct
import sys

import fkharness as H

CREATE, DELETE, EXISTS, GET_DATA, SET_DATA, GET_ACL, SET_ACL, GET_CHILDREN = 1, 2, 3, 4, 5, 6, 7, 8
ADD_WATCH, WHO_AM_I, AUTH = 106, 107, 100
ALL, READ, WRITE, ADMIN = 31, 1, 2, 16


def digest_id(user, password):
    sha = hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()
    return "%s:%s" % (user, base64.b64encode(sha).decode())


def path_body(path, watch=None):
    body = H.jute_string(path)
    if watch is not None:
        body += bytes([1 if watch else 0])
    return body


class Conn:
    """A raw session on one server, recording what matters of each answer."""

    def __init__(self, port, auth=None, resume=None):
        self.raw = H.RawClient(port)
        if resume is None:
            self.raw.handshake()
        else:
            self.raw.handshake(session_id=resume[0], passwd=resume[1])
        self.auth_err = None
        for scheme, cred in auth or []:
            self.add_auth(scheme, cred)

    def add_auth(self, scheme, cred):
        body = struct.pack("!i", 0) + H.jute_string(scheme) + H.jute_string(cred)
        _, _, err, _ = self.raw.request(AUTH, body, xid=-4)
        self.auth_err = err
        return err

    def err(self, opcode, body):
        return self.raw.request(opcode, body)[2]

    def get_acl(self, path):
        _, _, err, body = self.raw.request(GET_ACL, path_body(path))
        if err:
            return err
        (n,) = struct.unpack_from("!i", body, 0)
        at, acl = 4, []
        for _ in range(n):
            (perms,) = struct.unpack_from("!i", body, at)
            at += 4
            fields = []
            for _ in range(2):
                (ln,) = struct.unpack_from("!i", body, at)
                fields.append(body[at + 4:at + 4 + ln].decode())
                at += 4 + ln
            acl.append((perms, fields[0], fields[1]))
        return acl

    def who_am_i(self):
        _, _, err, body = self.raw.request(WHO_AM_I)
        if err:
            return err
        (n,) = struct.unpack_from("!i", body, 0)
        at, ids = 4, []
        for _ in range(n):
            fields = []
            for _ in range(2):
                (ln,) = struct.unpack_from("!i", body, at)
                fields.append(body[at + 4:at + 4 + ln].decode())
                at += 4 + ln
            ids.append(tuple(fields))
        return sorted(ids)

    def events(self, wait_s=1.0):
        self.raw.sock.settimeout(wait_s)
        seen = []
        try:
            while True:
                r = self.raw.recv_frame()
                xid, _zxid, _err = struct.unpack_from("!iqi", r, 0)
                if xid == -1:
                    typ, _state = struct.unpack_from("!ii", r, 16)
                    (n,) = struct.unpack_from("!i", r, 24)
                    seen.append((typ, r[28:28 + n].decode()))
        except socket.timeout:
            pass
        self.raw.sock.settimeout(10.0)
        return seen

    def close(self):
        self.raw.close_socket()


def bob_only():
    return [(ALL, "digest", digest_id("bob", "pw"))]


def scenario_get_acl(port):
    bob = Conn(port, auth=[("digest", "bob:pw")])
    bob.err(CREATE, H.create_body("/s", b"secret", bob_only()))
    mixed = [(READ, "world", "anyone"), (ALL, "digest", digest_id("bob", "pw"))]
    bob.err(CREATE, H.create_body("/r", b"readable", mixed))
    anon = Conn(port)
    eve = Conn(port, auth=[("digest", "eve:pw")])
    out = {
        "anon getACL unreadable": anon.get_acl("/s"),
        "eve getACL unreadable": eve.get_acl("/s"),
        "anon getACL readable, no ADMIN (hashes masked)": anon.get_acl("/r"),
        "bob getACL (ADMIN: hashes shown)": bob.get_acl("/r"),
        "anon getData unreadable": anon.err(GET_DATA, path_body("/s", False)),
        "anon exists unreadable": anon.err(EXISTS, path_body("/s", False)),
        "anon setACL without ADMIN": anon.err(SET_ACL, H.jute_string("/r") +
                                              H.jute_acl_list([(ALL, "world", "anyone")]) +
                                              struct.pack("!i", -1)),
        "anon getChildren of unreadable": anon.err(GET_CHILDREN, path_body("/s", False)),
    }
    for c in (bob, anon, eve):
        c.close()
    return out


def scenario_persistent_watch(port):
    bob = Conn(port, auth=[("digest", "bob:pw")])
    bob.err(CREATE, H.create_body("/p", b""))
    anon = Conn(port)
    codes = [anon.err(ADD_WATCH, H.jute_string(p) + struct.pack("!i", mode))
             for p, mode in (("/p", 1), ("/p/secret", 0))]
    bob.err(CREATE, H.create_body("/p/secret", b"s", bob_only()))
    bob.err(SET_DATA, H.jute_string("/p/secret") + H.jute_string(b"t") + struct.pack("!i", -1))
    bob.err(CREATE, H.create_body("/p/open", b"o"))
    bob.err(DELETE, H.jute_string("/p/secret") + struct.pack("!i", -1))
    out = {"addWatch codes": codes, "events seen without READ": anon.events()}
    bob.close()
    anon.close()
    return out


def scenario_super_digest(port):
    bob = Conn(port, auth=[("digest", "bob:pw")])
    bob.err(CREATE, H.create_body("/s2", b"secret", bob_only()))
    root = Conn(port, auth=[("digest", "%s:%s" % (H.SUPER_USER, H.SUPER_PASSWORD))])
    wrong = Conn(port, auth=[("digest", "%s:wrong" % H.SUPER_USER)])
    out = {
        "super auth": root.auth_err,
        "super getData": root.err(GET_DATA, path_body("/s2", False)),
        "super setData": root.err(SET_DATA, H.jute_string("/s2") + H.jute_string(b"x") +
                                  struct.pack("!i", -1)),
        "super getACL": root.get_acl("/s2"),
        "super whoAmI": root.who_am_i(),
        "wrong super password auth": wrong.auth_err,
        "wrong super password getData": wrong.err(GET_DATA, path_body("/s2", False)),
        "wrong super password whoAmI": wrong.who_am_i(),
    }
    for c in (bob, root, wrong):
        c.close()
    return out


def scenario_auth_on_reconnect(port):
    bob = Conn(port, auth=[("digest", "bob:pw")])
    bob.err(CREATE, H.create_body("/s3", b"secret", bob_only()))
    session = (bob.raw.session_id, bob.raw.passwd)
    before = bob.err(GET_DATA, path_body("/s3", False))
    bob.close()
    again = Conn(port, resume=session)
    out = {
        "before the reconnect": before,
        "resumed, not re-authenticated": again.err(GET_DATA, path_body("/s3", False)),
        "resumed whoAmI": again.who_am_i(),
    }
    again.add_auth("digest", "bob:pw")
    out["after addauth again"] = again.err(GET_DATA, path_body("/s3", False))
    again.close()
    return out


def scenario_ip_scheme(port):
    local = Conn(port)
    local.err(CREATE, H.create_body("/ip-local", b"x", [(ALL, "ip", "127.0.0.1")]))
    local.err(CREATE, H.create_body("/ip-other", b"x", [(ALL, "ip", "10.9.8.7")]))
    local.err(CREATE, H.create_body("/ip-net", b"x", [(READ, "ip", "127.0.0.0/8")]))
    out = {
        "own address": local.err(GET_DATA, path_body("/ip-local", False)),
        "other address": local.err(GET_DATA, path_body("/ip-other", False)),
        "own network, read": local.err(GET_DATA, path_body("/ip-net", False)),
        "own network, write": local.err(SET_DATA, H.jute_string("/ip-net") +
                                        H.jute_string(b"y") + struct.pack("!i", -1)),
        "bad ip in an ACL": local.err(CREATE, H.create_body("/ip-bad", b"x",
                                                            [(ALL, "ip", "300.1.1.1")])),
        "whoAmI": local.who_am_i(),
    }
    local.close()
    return out


SCENARIOS = (scenario_get_acl, scenario_persistent_watch, scenario_super_digest,
             scenario_auth_on_reconnect, scenario_ip_scheme)


def main():
    H.quiet_kazoo()
    observed = {}
    for kind in ("zk", "fk"):
        with H.start_server(kind) as server:
            for scenario in SCENARIOS:
                try:
                    observed[(kind, scenario.__name__)] = scenario(server.port)
                except Exception as e:  # an exception is an observation too
                    observed[(kind, scenario.__name__)] = "exception: %r" % e
    results = []
    for scenario in SCENARIOS:
        zk, fk = observed[("zk", scenario.__name__)], observed[("fk", scenario.__name__)]
        H.log("%s: %r" % (scenario.__name__, zk))
        err = None if zk == fk else "zookeeper %r, ferrokeeper %r" % (zk, fk)
        results.append((scenario.__name__, err))
    return H.report(results)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Hostile and malformed client input over raw sockets, compared with the real ZooKeeper 3.8.

Each case sends bytes on fresh TCP connections and records an observation: the reply frames
(xid, err, and for handshakes timeout/session-id-is-zero) plus whether the server closed the
connection within a bounded wait. The same case runs against ZooKeeper and against the target,
and the observations must be equal. After every case the target must still be alive and a
fresh kazoo client must be able to create/get/delete.

Usage (with /usr/bin/python3):
  bad_input.py --self-start                  start ZooKeeper and Ferrokeeper, compare
  bad_input.py --self-start --target-kind zk ZooKeeper vs ZooKeeper (validates the cases)
  bad_input.py --zk HOST:PORT --target HOST:PORT
  bad_input.py ... -k slowloris             only cases whose name contains the string
  bad_input.py --zk-only --self-start        print what ZooKeeper does for each case
Prints PASS/FAIL per case and, last, "N passed, N failed".
"""

import argparse
import os
import random
import resource
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkharness as H  # noqa: E402

QUIET_S = 1.5       # an open connection that stays silent this long counts as "open"
CLOSE_WAIT_S = 5.0  # how long we wait for a close that is expected to be prompt
JUTE_MAXBUFFER = 0xFFFFF  # ZooKeeper's default jute.maxbuffer (1048575)


def connect(port):
    s = socket.create_connection((H.HOST, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def frame(payload):
    return struct.pack("!i", len(payload)) + payload


def connect_request(timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0,
                    read_only_byte=True, protocol=0):
    b = struct.pack("!iqiq", protocol, last_zxid, timeout_ms, session_id)
    b += struct.pack("!i", len(passwd)) + passwd
    if read_only_byte:
        b += b"\0"
    return frame(b)


def has_frame(buf):
    return len(buf) >= 4 and len(buf) >= 4 + struct.unpack("!i", buf[:4])[0]


def read_observation(s, wait_s=QUIET_S, max_bytes=1 << 20, first_frame_wait_s=None):
    """Read until EOF/reset or until the connection is silent for wait_s (for
    first_frame_wait_s instead while no whole frame has come: a reply the case expects
    may be late on a loaded machine, and silence then is not the answer).
    Returns (bytes, 'closed' | 'open' | 'reset')."""
    buf = b""
    while len(buf) < max_bytes:
        waiting_first = first_frame_wait_s is not None and not has_frame(buf)
        s.settimeout(first_frame_wait_s if waiting_first else wait_s)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return buf, "open"
        except ConnectionResetError:
            return buf, "closed"  # RST and FIN both mean: the server dropped us
        except OSError:
            return buf, "closed"
        if not b:
            return buf, "closed"
        buf += b
    return buf, "open"


def parse_frames(buf, first_is_handshake):
    """Summarise reply frames: handshake -> ('connect', timeout>0, session_id != 0,
    passwd_len); others -> (xid, err). A trailing partial frame is reported as such."""
    out = []
    off = 0
    first = first_is_handshake
    while off + 4 <= len(buf):
        (n,) = struct.unpack_from("!i", buf, off)
        if n < 0 or off + 4 + n > len(buf):
            out.append(("partial-frame", n, len(buf) - off - 4))
            return out
        body = buf[off + 4:off + 4 + n]
        off += 4 + n
        if first:
            first = False
            if len(body) >= 20:
                proto, tmo, sid = struct.unpack_from("!iiq", body, 0)
                (plen,) = struct.unpack_from("!i", body, 16)
                out.append(("connect", "proto=%d" % proto, "timeout=%d" % tmo,
                            "session!=0" if sid else "session=0", "passwd=%d" % plen,
                            "extra=%d" % (len(body) - 20 - max(plen, 0))))
            else:
                out.append(("connect-short", len(body)))
            continue
        if len(body) >= 16:
            xid, _zxid, err = struct.unpack_from("!iqi", body, 0)
            out.append(("reply", "xid=%d" % xid, "err=%d" % err, "body=%d" % (len(body) - 16)))
        else:
            out.append(("short-frame", len(body)))
    if off < len(buf):
        out.append(("trailing-bytes", len(buf) - off))
    return out


def handshake(s, timeout_ms=10000):
    s.sendall(connect_request(timeout_ms))
    s.settimeout(5)
    hdr = recv_exact(s, 4)
    (n,) = struct.unpack("!i", hdr)
    body = recv_exact(s, n)
    _proto, tmo, sid = struct.unpack_from("!iiq", body, 0)
    return sid, tmo


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += b
    return buf


def request(xid, opcode, body=b""):
    return frame(struct.pack("!ii", xid, opcode) + body)


# ---------------------------------------------------------------------------------------------
# Cases: each returns an observation (a comparable tuple/list). Keep them deterministic.

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def simple(port, data, handshake_first=False, wait_s=QUIET_S, shut_wr=False,
           first_frame_wait_s=None):
    s = connect(port)
    try:
        pre = None
        if handshake_first:
            sid, tmo = handshake(s)
            pre = ("handshake-ok", tmo > 0)
        if data:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                # The server closed before taking every byte (a frame refused at its length,
                # while the rest was still on its way): what it answered, then closed. When
                # that happens is a race with the sender, not behaviour to compare.
                buf, _ = read_observation(s, wait_s)
                return (pre, parse_frames(buf, first_is_handshake=not handshake_first),
                        "closed")
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        buf, state = read_observation(s, wait_s, first_frame_wait_s=first_frame_wait_s)
        return (pre, parse_frames(buf, first_is_handshake=not handshake_first), state)
    finally:
        s.close()


@case
def fourlw_ruok(port):
    s = connect(port)
    try:
        s.sendall(b"ruok")
        buf, state = read_observation(s, CLOSE_WAIT_S)
        return (buf.decode("latin-1"), state)
    finally:
        s.close()


@case
def fourlw_unknown_word(port):
    # "abcd" is not a 4lw: read as a frame length of 0x61626364 (> jute.maxbuffer).
    return simple(port, b"abcd", wait_s=CLOSE_WAIT_S)


@case
def random_bytes(port):
    rng = random.Random(1234)
    data = struct.pack("!i", 200) + bytes(rng.getrandbits(8) for _ in range(200))
    return simple(port, data, wait_s=CLOSE_WAIT_S)


@case
def random_bytes_many_seeds(port):
    """32 random blobs (seeded), each on its own connection; records close/open per blob."""
    out = []
    for seed in range(32):
        rng = random.Random(seed)
        n = rng.choice([1, 3, 7, 16, 48, 100, 300])
        data = bytes(rng.getrandbits(8) for _ in range(n))
        out.append(simple(port, data, wait_s=0.7)[1:])
    return out


@case
def huge_length_first_frame(port):
    return simple(port, struct.pack("!i", 0x7FFFFFFF) + b"x" * 16, wait_s=CLOSE_WAIT_S)


@case
def negative_length_first_frame(port):
    return simple(port, struct.pack("!i", -5) + b"x" * 16, wait_s=CLOSE_WAIT_S)


@case
def zero_length_first_frame(port):
    return simple(port, struct.pack("!i", 0), wait_s=CLOSE_WAIT_S)


@case
def length_over_maxbuffer_first_frame(port):
    return simple(port, struct.pack("!i", JUTE_MAXBUFFER + 1), wait_s=CLOSE_WAIT_S)


@case
def truncated_handshake_then_eof(port):
    return simple(port, connect_request()[:12], shut_wr=True, wait_s=CLOSE_WAIT_S)


@case
def handshake_without_readonly_byte(port):
    # Old (pre-3.4) clients send no readOnly byte; ZooKeeper accepts them.
    return simple(port, connect_request(read_only_byte=False), wait_s=QUIET_S)


@case
def handshake_timeouts_clamped(port):
    out = []
    for t in (1, 1000, 4000, 999999, -1):
        out.append(simple(port, connect_request(timeout_ms=t), wait_s=0.5,
                          first_frame_wait_s=CLOSE_WAIT_S))
    return out


@case
def handshake_unknown_session(port):
    # Reconnecting to a session that does not exist: ZooKeeper answers timeout 0 and closes.
    return simple(port, connect_request(session_id=0x12345678, passwd=b"p" * 16),
                  wait_s=CLOSE_WAIT_S)


@case
def handshake_zxid_from_the_future(port):
    # The client claims to have seen a zxid the server has not: ZooKeeper refuses the session.
    return simple(port, connect_request(last_zxid=1 << 60), wait_s=CLOSE_WAIT_S)


@case
def handshake_short_passwd(port):
    return simple(port, connect_request(passwd=b"abc"), wait_s=QUIET_S)


@case
def request_before_handshake(port):
    # A getData frame as the very first frame is parsed as a ConnectRequest.
    body = struct.pack("!ii", 1, 4) + H.jute_string("/zookeeper") + b"\0"
    return simple(port, frame(body), wait_s=CLOSE_WAIT_S)


@case
def unknown_opcode_999(port):
    return simple(port, request(1, 999, b"\0" * 8), handshake_first=True, wait_s=CLOSE_WAIT_S)


@case
def unknown_opcode_negative(port):
    return simple(port, request(1, -42), handshake_first=True, wait_s=CLOSE_WAIT_S)


@case
def opcode_zero_notification(port):
    return simple(port, request(1, 0), handshake_first=True, wait_s=CLOSE_WAIT_S)


@case
def opcode_then_valid_request(port):
    # Does the connection survive an unknown opcode? (a getData of / follows it.) ZooKeeper
    # answers Unimplemented and queues a close; the getData read behind it is answered or not
    # depending on whether its reply is queued before the close is reached (CI has seen both),
    # so a reply to it counts the same as none, and anything else after the first reply counts.
    body = H.jute_string("/") + b"\0"
    pre, frames, state = simple(port, request(1, 999) + request(2, 4, body),
                                handshake_first=True, wait_s=CLOSE_WAIT_S)
    later = [f for f in frames[1:] if f[:3] != ("reply", "xid=2", "err=0")]
    return (pre, frames[:1], later, state)


@case
def truncated_request_body(port):
    # getData whose path claims 100 bytes but the frame ends after 5.
    body = struct.pack("!i", 100) + b"/abcd"
    return simple(port, request(1, 4, body), handshake_first=True, wait_s=CLOSE_WAIT_S)


@case
def truncated_create_body(port):
    body = H.jute_string("/bad-create") + struct.pack("!i", 5) + b"ab"
    return simple(port, request(1, 1, body), handshake_first=True, wait_s=CLOSE_WAIT_S)


@case
def zero_length_frame_after_handshake(port):
    return simple(port, struct.pack("!i", 0), handshake_first=True, wait_s=CLOSE_WAIT_S)


@case
def short_header_after_handshake(port):
    return simple(port, frame(b"\0\0\0\1\0\0"), handshake_first=True, wait_s=CLOSE_WAIT_S)


@case
def length_over_maxbuffer_after_handshake(port):
    return simple(port, struct.pack("!i", JUTE_MAXBUFFER + 1), handshake_first=True,
                  wait_s=CLOSE_WAIT_S)


@case
def frame_at_maxbuffer_limit(port):
    """A create whose whole frame payload is exactly jute.maxbuffer bytes, then one byte more."""
    out = []
    for extra in (0, 1):
        path = "/bad-input-big-%d" % extra
        fixed = 8 + len(H.jute_string(path)) + 4 + len(H.jute_acl_list(H.OPEN_ACL)) + 4
        data = b"d" * (JUTE_MAXBUFFER + extra - fixed)
        body = H.jute_string(path) + H.jute_string(data) + H.jute_acl_list(H.OPEN_ACL) + \
            struct.pack("!i", 0)
        req = struct.pack("!ii", 1, 1) + body
        assert len(req) == JUTE_MAXBUFFER + extra, len(req)
        out.append(simple(port, frame(req), handshake_first=True, wait_s=CLOSE_WAIT_S))
    return out


@case
def invalid_path(port):
    out = []
    for p in ("", "noslash", "/trailing/", "//double", "/a/./b", "/a/../b", "/nul\0x",
              "/zookeeper/../x"):
        body = H.create_body(p, b"x")
        out.append((p, simple(port, request(1, 1, body), handshake_first=True, wait_s=0.5)))
    return out


@case
def auth_unknown_scheme(port):
    body = struct.pack("!i", 0) + H.jute_string("nosuchscheme") + H.jute_string(b"x")
    return simple(port, request(-4, 100, body), handshake_first=True, wait_s=CLOSE_WAIT_S)


@case
def auth_bad_digest_format(port):
    # digest auth without a colon
    body = struct.pack("!i", 0) + H.jute_string("digest") + H.jute_string(b"nocolon")
    return simple(port, request(-4, 100, body), handshake_first=True, wait_s=QUIET_S)


@case
def request_after_close_session(port):
    """A getData pipelined behind closeSession. ZooKeeper 3.8 races here: the getData is
    answered SessionExpired when it reaches PrepRequestProcessor after the close, and dropped
    when the close marked the session first (both seen on one machine). Either is accepted;
    anything else (an answer other than SessionExpired, a missing close) is not."""
    body = H.jute_string("/") + b"\0"
    pre, replies, state = simple(port, request(1, -11) + request(2, 4, body),
                                 handshake_first=True, wait_s=CLOSE_WAIT_S)
    later = replies[1:]
    if later in ([], [("reply", "xid=2", "err=-112", "body=0")]):
        later = "dropped-or-SessionExpired"
    return (pre, replies[:1], later, state)


@case
def ping_with_odd_xid(port):
    return simple(port, request(77, 11), handshake_first=True, wait_s=QUIET_S)


@case
def set_watches_garbage(port):
    return simple(port, request(-8, 101, b"\xff" * 12), handshake_first=True,
                  wait_s=CLOSE_WAIT_S)


def slowloris(port):
    """Partial handshake held open: does (and when does) the server close it?"""
    s = connect(port)
    try:
        s.sendall(connect_request()[:10])
        t0 = time.monotonic()
        buf, state = read_observation(s, wait_s=25.0)
        return state, time.monotonic() - t0
    finally:
        s.close()


def idle_connections(port, n=1100, handshaken=200):
    """n TCP connections held open (the first `handshaken` complete a handshake as soon as
    they connect, the rest stay idle), then a fresh kazoo client must work. Returns
    (#accepted, #handshakes ok, client ok).

    Each handshake follows its own connect at once: both servers close a connection that
    has not finished its handshake within 10 s (ZooKeeper's sessionlessCnxnTimeout), and
    on a loaded machine 200 session creations (each an fsync on ZooKeeper) can take longer
    than that, so handshaking only after all the connects would race that timer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    socks = []
    ok = 0
    try:
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect((H.HOST, port))
            socks.append(s)
            if i < handshaken:
                sid, tmo = handshake(s, timeout_ms=20000)
                ok += sid != 0
        c = H.kazoo_client("%s:%d" % (H.HOST, port), timeout_s=10)
        try:
            c.create("/bad-input-idle", b"x", ephemeral=True)
            client_ok = c.get("/bad-input-idle")[0] == b"x"
        finally:
            H.stop_client(c)
        return len(socks), ok, client_ok
    finally:
        for s in socks:
            s.close()


# ---------------------------------------------------------------------------------------------

def attempt(fn, port):
    """fn(port), or an ("exception", …) observation in place of a traceback."""
    try:
        return fn(port)
    except Exception as e:
        return ("exception", repr(e))


def health(port, server=None):
    """The server is alive and a fresh kazoo client can create/get/delete."""
    if server is not None and not server.alive():
        return "server process died:\n" + server.log_tail()
    try:
        c = H.kazoo_client("%s:%d" % (H.HOST, port), timeout_s=10)
        try:
            p = c.create("/bad-input-health", b"ok", ephemeral=True, sequence=True)
            if c.get(p)[0] != b"ok":
                return "fresh client read back the wrong data"
            c.delete(p)
        finally:
            H.stop_client(c)
    except Exception as e:
        return "fresh client failed: %r" % e
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zk")
    ap.add_argument("--target")
    ap.add_argument("--self-start", action="store_true")
    ap.add_argument("--target-kind", default="fk", choices=["fk", "zk"])
    ap.add_argument("--zk-only", action="store_true", help="only print ZooKeeper's behaviour")
    ap.add_argument("-k", default="")
    args = ap.parse_args()
    servers = []
    results = []
    zk_server = tgt_server = None
    try:
        if args.self_start:
            zk_server = H.start_server("zk")
            servers.append(zk_server)
            zk_port = zk_server.port
            if not args.zk_only:
                tgt_server = H.start_server(args.target_kind)
                servers.append(tgt_server)
                tgt_port = tgt_server.port
        else:
            if not args.zk or (not args.target and not args.zk_only):
                ap.error("give --zk and --target, or --self-start")
            zk_port = int(args.zk.rsplit(":", 1)[1])
            tgt_port = int(args.target.rsplit(":", 1)[1]) if args.target else None
        for fn in CASES:
            if args.k not in fn.__name__:
                continue
            try:
                zobs = fn(zk_port)
            except Exception as e:
                zobs = ("exception", repr(e))
            if args.zk_only:
                print("%s: zookeeper -> %r" % (fn.__name__, zobs))
                continue
            try:
                tobs = fn(tgt_port)
            except Exception as e:
                tobs = ("exception", repr(e))
            err = None
            if zobs != tobs:
                err = "differs from ZooKeeper\n    zookeeper: %r\n    target:    %r" % (zobs,
                                                                                       tobs)
            h = health(tgt_port, tgt_server)
            if h:
                err = (err + "\n    " if err else "") + "after the case: " + h
            results.append((fn.__name__, err, zobs))
            print(("PASS %s  (%r)" % (fn.__name__, zobs))[:400] if err is None
                  else "FAIL %s: %s" % (fn.__name__, err))
            sys.stdout.flush()
        if "slowloris".startswith(args.k) or args.k in "slowloris":
            zs = slowloris(zk_port)
            print("slowloris: zookeeper -> %s after %.1fs" % zs)
            if not args.zk_only:
                ts = slowloris(tgt_port)
                # ZooKeeper drops a connection that never completes its handshake after
                # zookeeper.nio.sessionlessCnxnTimeout (10 s); we require a close within 25 s.
                err = None
                if zs[0] == "closed" and ts[0] != "closed":
                    err = "target kept a half-open handshake for %.1fs (zookeeper closed it " \
                          "after %.1fs)" % (ts[1], zs[1])
                h = health(tgt_port, tgt_server)
                if h:
                    err = (err + "; " if err else "") + h
                results.append(("slowloris", err, zs))
                print("PASS slowloris (target %s after %.1fs)" % ts if err is None
                      else "FAIL slowloris: " + err)
        if "idle_connections".startswith(args.k) or args.k in "idle_connections":
            zi = attempt(idle_connections, zk_port)
            print("idle_connections: zookeeper -> %r" % (zi,))
            if not args.zk_only:
                ti = attempt(idle_connections, tgt_port)
                err = None if ti == zi else "target %r, zookeeper %r" % (ti, zi)
                h = health(tgt_port, tgt_server)
                if h:
                    err = (err + "; " if err else "") + h
                results.append(("idle_connections", err, zi))
                print("PASS idle_connections %r" % (ti,) if err is None
                      else "FAIL idle_connections: " + err)
        if zk_server is not None and not zk_server.alive():
            print("NOTE: the reference ZooKeeper died during the run")
    finally:
        for s in servers:
            s.stop()
    if args.zk_only:
        return 0
    passed = sum(1 for r in results if r[1] is None)
    failed = len(results) - passed
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

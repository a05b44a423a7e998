#!/usr/bin/env python3
"""Capture golden client-protocol bytes from a real ZooKeeper server.

Usage (from the repository root; the server is started and stopped by hand):
    ZK_JVM_OPTS=-Dzookeeper.extendedTypesEnabled=true \
        /work/shared/tools/zk-ref.sh start-standalone 23181 /tmp/zk-golden
    python3 wire/tests/golden/capture.py 23181 > wire/tests/golden/zk38.txt
    /work/shared/tools/zk-ref.sh stop /tmp/zk-golden

Requests are built with kazoo's serializers where kazoo has them (create, exists, getData,
multi, ...) and by hand with `struct` for the ops kazoo lacks (addWatch, whoAmI, ...).
Output: one vector per line, `name|opcode|request payload hex|reply payload hex`, where a
payload is a frame without its 4-byte length. The connect vectors have no headers; a
notification line has opcode 0 and an empty request. wire/tests/golden.rs reads the file.
"""

import socket
import struct
import sys

from kazoo.protocol import serialization as ser
from kazoo.security import OPEN_ACL_UNSAFE

PORT = int(sys.argv[1])
OUT = []


def frame(payload):
    return struct.pack("!i", len(payload)) + bytes(payload)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("server closed")
        buf += chunk
    return buf


def recv_frame(sock):
    (length,) = struct.unpack("!i", recv_exact(sock, 4))
    return recv_exact(sock, length)


def record(name, op, request, reply):
    OUT.append("%s|%d|%s|%s" % (name, op, bytes(request).hex(), bytes(reply).hex()))


def connect(read_only_byte=True, extra=b""):
    sock = socket.create_connection(("127.0.0.1", PORT))
    body = struct.pack("!iqiq", 0, 0, 10000, 0) + ser.write_buffer(b"\0" * 16)
    if read_only_byte:
        body += b"\0"
    body += extra
    sock.sendall(frame(body))
    return sock, body, recv_frame(sock)


class Session:
    def __init__(self, sock):
        self.sock = sock
        self.xid = 0

    def call(self, name, op, body, xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        request = struct.pack("!ii", xid, op) + bytes(body)
        self.sock.sendall(frame(request))
        while True:
            reply = recv_frame(self.sock)
            (reply_xid,) = struct.unpack_from("!i", reply, 0)
            if reply_xid == -1:
                record(name + "_notification", 0, b"", reply)
                continue
            assert reply_xid == xid, (reply_xid, xid)
            record(name, op, request, reply)
            return reply

    def kazoo(self, name, req, xid=None):
        return self.call(name, req.type, req.serialize(), xid)


def s(text):
    return ser.write_string(text)


def main():
    sock, body, reply = connect(read_only_byte=True)
    record("connect_new_client", -10, body, reply)
    sess = Session(sock)
    acl = OPEN_ACL_UNSAFE
    sess.kazoo("create", ser.Create("/golden", b"hi", acl, 0))
    sess.kazoo("create_ephemeral_sequential", ser.Create("/golden/e-", b"", acl, 3))
    sess.kazoo("create2", ser.Create2("/golden/c2", b"x", acl, 0))
    sess.kazoo("create_exists", ser.Create("/golden", b"", acl, 0))
    sess.kazoo("exists", ser.Exists("/golden", False))
    sess.kazoo("exists_missing", ser.Exists("/missing", False))
    sess.kazoo("get_data_watch", ser.GetData("/golden", True))
    sess.kazoo("set_data", ser.SetData("/golden", b"hello", -1))
    sess.kazoo("set_data_bad_version", ser.SetData("/golden", b"x", 99))
    sess.kazoo("get_acl", ser.GetACL("/golden"))
    sess.kazoo("set_acl", ser.SetACL("/golden/c2", acl, 0))
    sess.kazoo("get_children", ser.GetChildren("/golden", False))
    sess.kazoo("get_children2", ser.GetChildren2("/golden", False))
    sess.kazoo("sync", ser.Sync("/golden"))
    # A standalone check (opcode 13) gets no reply from ZooKeeper 3.8: FinalRequestProcessor
    # serializes a SetDataResponse with a null Stat, throws, and the request is dropped.
    sess.kazoo(
        "multi_ok",
        ser.Transaction([
            ser.Create("/golden/m", b"", acl, 0),
            ser.Create2("/golden/m2", b"", acl, 0),
            ser.SetData("/golden/m", b"v", -1),
            ser.CheckVersion("/golden/m", 1),
            ser.Delete("/golden/m", -1),
        ]),
    )
    sess.kazoo(
        "multi_failed",
        ser.Transaction([
            ser.Create("/golden/a", b"", acl, 0),
            ser.Delete("/missing", -1),
            ser.SetData("/golden", b"", -1),
        ]),
    )
    multi_read = b""
    multi_read += struct.pack("!iBi", 4, 0, -1) + s("/golden") + b"\0"
    multi_read += struct.pack("!iBi", 8, 0, -1) + s("/missing") + b"\0"
    multi_read += struct.pack("!iBi", 8, 0, -1) + s("/golden") + b"\0"
    multi_read += struct.pack("!iBi", -1, 1, -1)
    sess.call("multi_read", 22, multi_read)
    sess.call("create_container", 19, ser.Create("/golden/ct", b"", acl, 4).serialize())
    sess.call("create_ttl", 21, ser.Create("/golden/ttl", b"", acl, 5).serialize()
              + struct.pack("!q", 60000))
    sess.call("get_all_children_number", 104, s("/golden"))
    sess.call("get_ephemerals", 103, s("/golden"))
    sess.call("add_watch", 106, s("/golden") + struct.pack("!i", 1))
    sess.call("check_watches", 17, s("/golden") + struct.pack("!i", 3))
    sess.call("remove_watches", 18, s("/golden") + struct.pack("!i", 3))
    sess.call("remove_watches_none", 18, s("/golden") + struct.pack("!i", 3))
    sess.call("who_am_i", 107, b"")
    sess.kazoo("auth_digest", ser.Auth(0, "digest", "user:secret"), xid=-4)
    sess.call("who_am_i_after_auth", 107, b"")
    sess.call(
        "set_watches",
        101,
        struct.pack("!q", 0) + struct.pack("!i", 1) + s("/golden")
        + struct.pack("!i", 0) + struct.pack("!i", 0),
        xid=-8,
    )
    sess.kazoo("ping", ser.Ping(), xid=-2)
    sess.call("get_data_trailing_bytes", 4, s("/golden") + b"\0" + b"\x01\x02\x03")
    sess.kazoo("delete", ser.Delete("/golden/c2", -1))
    sess.kazoo("delete_not_empty", ser.Delete("/golden", -1))
    sess.kazoo("close", ser.Close())
    sock.close()

    sock, body, reply = connect(read_only_byte=False)
    record("connect_old_client", -10, body, reply)
    sock.close()
    sock, body, reply = connect(read_only_byte=True, extra=b"\x07\x07")
    record("connect_trailing_bytes", -10, body, reply)
    sock.close()
    print("# ZooKeeper 3.8 golden vectors, made by capture.py: name|opcode|request|reply")
    for line in OUT:
        print(line)


main()

//! The two frame headers of the client protocol: `RequestHeader { int xid; int type; }`
//! (before every request body except the first frame's `ConnectRequest`) and
//! `ReplyHeader { int xid; long zxid; int err; }` (before every reply except the
//! `ConnectResponse`), plus the reserved xids ZooKeeper's `ClientCnxn` uses.
//!
//! Invariants: both headers have a fixed size (`WIRE_BYTES`); `read` takes exactly that many
//! bytes or fails without panicking. Source: `zookeeper.jute` (`RequestHeader`,
//! `ReplyHeader`), `org.apache.zookeeper.ClientCnxn` (the special xids).

use crate::jute::{DecodeError, Reader, Writer};

/// Reserved xids (`ClientCnxn.*_XID`). Ordinary requests use positive, increasing xids.
pub mod xid {
    /// A watch notification: `ReplyHeader { xid: -1, zxid: -1, err: 0 }` + `WatcherEvent`.
    pub const NOTIFICATION: i32 = -1;
    /// Pings, both the request and its reply.
    pub const PING: i32 = -2;
    /// An `AuthPacket` (opcode auth) and its reply.
    pub const AUTH: i32 = -4;
    /// The `SetWatches`/`SetWatches2` a client sends after reconnecting, and its reply.
    pub const SET_WATCHES: i32 = -8;
}

/// `RequestHeader { int xid; int type; }`; `op_type` is an `OpCode` wire value, kept raw
/// so that an unknown opcode can still be answered with the request's xid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestHeader {
    pub xid: i32,
    pub op_type: i32,
}

impl RequestHeader {
    pub const WIRE_BYTES: usize = 8;

    pub fn read(r: &mut Reader<'_>) -> Result<RequestHeader, DecodeError> {
        Ok(RequestHeader {
            xid: r.read_i32()?,
            op_type: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_i32(self.xid);
        w.write_i32(self.op_type);
    }

    /// Splits a request frame into its header and the body that follows it.
    pub fn split(frame: &[u8]) -> Result<(RequestHeader, &[u8]), DecodeError> {
        let mut r = Reader::new(frame);
        let header = RequestHeader::read(&mut r)?;
        assert_eq!(
            r.offset(),
            RequestHeader::WIRE_BYTES,
            "a header read takes 8 bytes"
        );
        Ok((header, &frame[RequestHeader::WIRE_BYTES..]))
    }
}

/// `ReplyHeader { int xid; long zxid; int err; }`; `err` is a `KeeperException.Code` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

impl ReplyHeader {
    pub const WIRE_BYTES: usize = 16;

    /// The header of a watch notification, exactly as ZooKeeper's `ServerCnxn.process`
    /// writes it: xid -1, zxid -1, err 0.
    pub const NOTIFICATION: ReplyHeader = ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    };

    pub fn read(r: &mut Reader<'_>) -> Result<ReplyHeader, DecodeError> {
        Ok(ReplyHeader {
            xid: r.read_i32()?,
            zxid: r.read_i64()?,
            err: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_i32(self.xid);
        w.write_i64(self.zxid);
        w.write_i32(self.err);
    }

    /// Splits a reply frame into its header and the body that follows it.
    pub fn split(frame: &[u8]) -> Result<(ReplyHeader, &[u8]), DecodeError> {
        let mut r = Reader::new(frame);
        let header = ReplyHeader::read(&mut r)?;
        assert_eq!(
            r.offset(),
            ReplyHeader::WIRE_BYTES,
            "a reply header read takes 16 bytes"
        );
        Ok((header, &frame[ReplyHeader::WIRE_BYTES..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_at_their_fixed_size() {
        let rq = RequestHeader { xid: 7, op_type: 4 };
        let mut w = Writer::new();
        rq.write(&mut w);
        assert_eq!(w.bytes, [0, 0, 0, 7, 0, 0, 0, 4]);
        w.bytes.push(9);
        let (back, rest) = RequestHeader::split(&w.bytes).unwrap();
        assert_eq!((back, rest), (rq, &[9u8][..]));

        let rp = ReplyHeader {
            xid: -2,
            zxid: 0x1_0000_0002,
            err: -101,
        };
        let mut w = Writer::new();
        rp.write(&mut w);
        assert_eq!(w.bytes.len(), ReplyHeader::WIRE_BYTES);
        assert_eq!(ReplyHeader::split(&w.bytes).unwrap(), (rp, &[][..]));
    }

    #[test]
    fn short_headers_are_errors() {
        for len in 0..ReplyHeader::WIRE_BYTES {
            let bytes = vec![0xffu8; len];
            assert!(ReplyHeader::split(&bytes).is_err());
            if len < RequestHeader::WIRE_BYTES {
                assert!(RequestHeader::split(&bytes).is_err());
            }
        }
    }
}

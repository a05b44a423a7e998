//! The session handshake: `ConnectRequest` (the first frame a client sends, with no
//! `RequestHeader`) and `ConnectResponse` (the first frame the server answers, with no
//! `ReplyHeader`).
//!
//! Both jute classes end at `passwd`; since ZooKeeper 3.4 both sides append one more
//! `boolean readOnly` outside the record. `ZooKeeperServer.processConnectRequest` tries to
//! read it and, when the body ends first, treats the peer as an "old client" and answers
//! without it (`finishSessionInit` writes the byte only for new clients). Java's client
//! (`ClientCnxnSocket.readConnectResult`) reads the response the same way. We keep whether
//! the byte was present in `read_only_present` so the server can answer in the client's
//! style. Bytes after `readOnly` are ignored, as ZooKeeper does.
//!
//! Invariants: decoding never panics; `encode` writes the trailing byte exactly when
//! `read_only_present` is set.

use crate::jute::{DecodeError, Reader, Writer};

/// Length of the session password ZooKeeper generates (`ZooKeeperServer.generatePasswd`);
/// a refused session is answered with this many zero bytes.
pub const PASSWD_BYTES: usize = 16;

/// `ConnectRequest { int protocolVersion; long lastZxidSeen; int timeOut; long sessionId;
/// buffer passwd; }` + the optional `boolean readOnly`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    /// Requested session timeout in ms (the server clamps it to its min/max).
    pub time_out: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// The client accepts a read-only server. False when the byte was absent.
    pub read_only: bool,
    /// The client sent the `readOnly` byte (ZooKeeper >= 3.4); an old client did not.
    pub read_only_present: bool,
}

impl ConnectRequest {
    /// Decodes a connect frame's payload. A body that ends right after `passwd` is an old
    /// client's; anything after the `readOnly` byte is ignored.
    pub fn decode(body: &[u8]) -> Result<ConnectRequest, DecodeError> {
        let mut r = Reader::new(body);
        let protocol_version = r.read_i32()?;
        let last_zxid_seen = r.read_i64()?;
        let time_out = r.read_i32()?;
        let session_id = r.read_i64()?;
        let passwd = r.read_buffer()?;
        let read_only_present = !r.is_empty();
        let read_only = if read_only_present {
            r.read_bool()?
        } else {
            false
        };
        assert!(r.offset() <= body.len(), "reader stays inside the body");
        Ok(ConnectRequest {
            protocol_version,
            last_zxid_seen,
            time_out,
            session_id,
            passwd,
            read_only,
            read_only_present,
        })
    }

    pub fn encode(&self, w: &mut Writer) {
        w.write_i32(self.protocol_version);
        w.write_i64(self.last_zxid_seen);
        w.write_i32(self.time_out);
        w.write_i64(self.session_id);
        w.write_buffer(&self.passwd);
        if self.read_only_present {
            w.write_bool(self.read_only);
        }
    }
}

/// `ConnectResponse { int protocolVersion; int timeOut; long sessionId; buffer passwd; }`
/// + the optional `boolean readOnly`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    /// ZooKeeper always answers 0.
    pub protocol_version: i32,
    /// The negotiated session timeout in ms; 0 when the session was refused.
    pub time_out: i32,
    /// 0 when the session was refused (expired or bad password).
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// The server is a read-only server.
    pub read_only: bool,
    /// Write the `readOnly` byte: set it to the request's `read_only_present`.
    pub read_only_present: bool,
}

impl ConnectResponse {
    /// The answer to a session that cannot be resumed, as `ZooKeeperServer.finishSessionInit`
    /// writes it with `valid == false`: timeout 0, session 0, 16 zero password bytes. The
    /// server then closes the connection.
    pub fn refused(request: &ConnectRequest) -> ConnectResponse {
        ConnectResponse {
            protocol_version: 0,
            time_out: 0,
            session_id: 0,
            passwd: vec![0; PASSWD_BYTES],
            read_only: false,
            read_only_present: request.read_only_present,
        }
    }

    pub fn encode(&self, w: &mut Writer) {
        w.write_i32(self.protocol_version);
        w.write_i32(self.time_out);
        w.write_i64(self.session_id);
        w.write_buffer(&self.passwd);
        if self.read_only_present {
            w.write_bool(self.read_only);
        }
    }

    /// Decodes a connect response payload (client side); the `readOnly` byte is optional.
    pub fn decode(body: &[u8]) -> Result<ConnectResponse, DecodeError> {
        let mut r = Reader::new(body);
        let protocol_version = r.read_i32()?;
        let time_out = r.read_i32()?;
        let session_id = r.read_i64()?;
        let passwd = r.read_buffer()?;
        let read_only_present = !r.is_empty();
        let read_only = if read_only_present {
            r.read_bool()?
        } else {
            false
        };
        Ok(ConnectResponse {
            protocol_version,
            time_out,
            session_id,
            passwd,
            read_only,
            read_only_present,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(read_only_present: bool) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0x1_0000_0005,
            time_out: 30_000,
            session_id: 0x0123_4567_89ab_cdef,
            passwd: vec![7; PASSWD_BYTES],
            read_only: read_only_present,
            read_only_present,
        }
    }

    #[test]
    fn new_and_old_clients_round_trip() {
        for present in [false, true] {
            let req = request(present);
            let mut w = Writer::new();
            req.encode(&mut w);
            assert_eq!(
                w.bytes.len(),
                4 + 8 + 4 + 8 + 4 + PASSWD_BYTES + usize::from(present)
            );
            assert_eq!(ConnectRequest::decode(&w.bytes).unwrap(), req);
        }
    }

    #[test]
    fn trailing_bytes_after_read_only_are_ignored() {
        let req = request(true);
        let mut w = Writer::new();
        req.encode(&mut w);
        w.bytes.extend_from_slice(&[1, 2, 3]);
        assert_eq!(ConnectRequest::decode(&w.bytes).unwrap(), req);
    }

    #[test]
    fn refused_response_matches_zookeeper_layout() {
        for present in [false, true] {
            let rsp = ConnectResponse::refused(&request(present));
            let mut w = Writer::new();
            rsp.encode(&mut w);
            let mut expected = vec![0u8; 16];
            expected.extend_from_slice(&[0, 0, 0, 16]);
            expected.extend_from_slice(&[0; 16]);
            if present {
                expected.push(0);
            }
            assert_eq!(w.bytes, expected);
            assert_eq!(ConnectResponse::decode(&w.bytes).unwrap(), rsp);
        }
    }

    #[test]
    fn truncated_connect_requests_are_errors() {
        let mut w = Writer::new();
        request(false).encode(&mut w);
        for len in 0..w.bytes.len() {
            assert!(
                ConnectRequest::decode(&w.bytes[..len]).is_err(),
                "len {len}"
            );
        }
    }
}

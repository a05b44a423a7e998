//! The protocol state of one client session, without I/O: bytes in, events out.
//!
//! `Session::new` queues the `ConnectRequest` (with the readOnly byte, as ZooKeeper 3.4+
//! clients send it). The first frame back is the `ConnectResponse`; a session id of 0 or a
//! timeout of 0 means the server refused the session (`SessionExpired`, as `ClientCnxn`
//! reports it). After that every frame is a `ReplyHeader` and:
//! - xid -1: a notification (`WatcherEvent`);
//! - xid -2: the answer to a ping;
//! - any other xid: the answer to the oldest pending request, which must carry that xid.
//!   A non-zero `err` means the request failed and no record follows, except for a multi,
//!   whose header says 0 and whose per-op results carry the errors.
//!
//! Invariants: `pending` holds the requests sent and not yet answered, oldest first, with
//! strictly increasing xids (modulo the wrap at `i32::MAX`); `out[out_start..]` are the bytes
//! queued and not yet written. Once the stream breaks (`Failed`) or the session is closed,
//! no more requests are accepted. The caller bounds how many requests it has in flight.
//! Source: `ClientCnxn.SendThread.readResponse` and `ClientCnxn.readConnectResult`.

use std::collections::VecDeque;

use wire::{
    xid, ConnectRequest, ConnectResponse, ErrorCode, FrameDecoder, OpCode, ReplyHeader, Request,
    Response, WatcherEvent,
};

use super::{ZkError, REPLY_SIZE_MAX_BYTES};

/// Bytes of the session password (`ConnectRequest.passwd`) a new session sends.
const PASSWD_BYTES: usize = 16;

/// Output at least this large is compacted once half of it is written, so the buffer does
/// not grow with total traffic.
const OUT_COMPACT_BYTES: usize = 64 << 10;

/// Something the server told this session.
#[derive(Debug)]
pub enum Event {
    /// The handshake succeeded.
    Connected {
        session_id: i64,
        timeout_ms: i32,
        read_only: bool,
    },
    /// The answer to a request sent with [`Session::send`] (or to [`Session::close`]).
    Reply(Reply),
    /// A watch fired.
    Watch(WatcherEvent),
    /// The answer to a ping.
    Pong,
}

/// The answer to one request.
#[derive(Debug)]
pub struct Reply {
    pub xid: i32,
    /// The request's opcode (the reply does not name it).
    pub op: OpCode,
    /// The zxid the server had reached when it answered.
    pub zxid: i64,
    /// The record, or the error code of a failed request (never `ErrorCode::Ok`).
    pub result: Result<Response, ErrorCode>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// `ConnectRequest` queued, `ConnectResponse` not yet received.
    Handshake,
    Connected,
    /// closeSession sent; its answer ends the session.
    Closing,
    Closed,
    /// The stream broke; the session is unusable.
    Failed,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    xid: i32,
    op: OpCode,
}

/// One ZooKeeper session's protocol state (see the module doc).
pub struct Session {
    state: State,
    /// Queued output; `out[..out_start]` is already written.
    out: Vec<u8>,
    out_start: usize,
    decoder: FrameDecoder,
    /// Requests sent and not answered, oldest first.
    pending: VecDeque<Pending>,
    /// The xid of the next request; always in `1..=i32::MAX`.
    next_xid: i32,
    /// Pings sent and not answered.
    pings_pending: u32,
    /// Auth packets (xid -4) sent and not answered; the server answers them at once, outside
    /// the order of `pending` (`ZooKeeperServer.processPacket`).
    auths_pending: u32,
    session_id: i64,
    timeout_ms: i32,
    /// The largest zxid seen in a reply (`ClientCnxn.lastZxid`), for a later reconnect.
    last_zxid_seen: i64,
}

impl Session {
    /// A new session asking for `timeout_ms`; the `ConnectRequest` is queued as output.
    pub fn new(timeout_ms: i32) -> Session {
        assert!(
            timeout_ms > 0,
            "session timeout {timeout_ms} must be positive"
        );
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: timeout_ms,
            session_id: 0,
            passwd: vec![0; PASSWD_BYTES],
            read_only: false,
            read_only_present: true,
        };
        let mut out = Vec::new();
        wire::write_frame(&mut out, |w| request.encode(w));
        let session = Session {
            state: State::Handshake,
            out,
            out_start: 0,
            decoder: FrameDecoder::new(REPLY_SIZE_MAX_BYTES),
            pending: VecDeque::new(),
            next_xid: 1,
            pings_pending: 0,
            auths_pending: 0,
            session_id: 0,
            timeout_ms,
            last_zxid_seen: 0,
        };
        session.check_invariants();
        session
    }

    /// True once the handshake succeeded and until the session closes or fails.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// True after closeSession was answered.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The id the server gave this session (0 before the handshake).
    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// The negotiated timeout once connected; the requested one before.
    pub fn timeout_ms(&self) -> i32 {
        self.timeout_ms
    }

    pub fn last_zxid_seen(&self) -> i64 {
        self.last_zxid_seen
    }

    /// Requests sent and not yet answered (pings not included).
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    pub fn pings_pending(&self) -> u32 {
        self.pings_pending
    }

    /// Queues `request` and returns its xid. Pings and closeSession have their own calls.
    pub fn send(&mut self, request: &Request) -> Result<i32, ZkError> {
        assert!(
            !matches!(request, Request::Ping | Request::CloseSession),
            "use ping() and close() for {:?}",
            request.op_code()
        );
        self.ensure_connected()?;
        let xid = self.next_xid;
        self.next_xid = if xid == i32::MAX { 1 } else { xid + 1 };
        let op = request.op_code();
        wire::write_frame(&mut self.out, |w| request.encode_with_header(xid, w));
        self.pending.push_back(Pending { xid, op });
        assert!(self.has_output(), "a sent request is queued output");
        Ok(xid)
    }

    /// Queues a ping (xid -2); its answer is [`Event::Pong`].
    pub fn ping(&mut self) -> Result<(), ZkError> {
        self.ensure_connected()?;
        wire::write_frame(&mut self.out, |w| {
            Request::Ping.encode_with_header(xid::PING, w)
        });
        self.pings_pending += 1;
        assert!(self.pings_pending > 0, "ping count overflowed");
        Ok(())
    }

    /// Queues an `AuthPacket` with xid -4, as `ClientCnxn.addAuthInfo` sends it. Its answer
    /// is a [`Reply`] with xid -4 and op `Auth`; a failure (`AuthFailed`) is followed by the
    /// server closing the connection.
    pub fn send_auth(&mut self, packet: &wire::AuthPacket) -> Result<(), ZkError> {
        self.ensure_connected()?;
        let request = Request::Auth(packet.clone());
        wire::write_frame(&mut self.out, |w| request.encode_with_header(xid::AUTH, w));
        self.auths_pending += 1;
        assert!(self.auths_pending > 0, "auth count overflowed");
        assert!(self.has_output(), "a sent auth packet is queued output");
        Ok(())
    }

    /// Queues closeSession; its answer is a [`Reply`] with op `CloseSession`, after which
    /// [`Session::is_closed`] is true. Returns the xid.
    pub fn close(&mut self) -> Result<i32, ZkError> {
        self.ensure_connected()?;
        let xid = self.next_xid;
        self.next_xid = if xid == i32::MAX { 1 } else { xid + 1 };
        wire::write_frame(&mut self.out, |w| {
            Request::CloseSession.encode_with_header(xid, w)
        });
        self.pending.push_back(Pending {
            xid,
            op: OpCode::CloseSession,
        });
        self.state = State::Closing;
        Ok(xid)
    }

    fn ensure_connected(&self) -> Result<(), ZkError> {
        match self.state {
            State::Connected => Ok(()),
            State::Handshake => Err(ZkError::Protocol("the session is not connected yet".into())),
            State::Closing | State::Closed => Err(ZkError::Code(ErrorCode::SessionExpired)),
            State::Failed => Err(ZkError::Code(ErrorCode::ConnectionLoss)),
        }
    }

    pub fn has_output(&self) -> bool {
        self.out_start < self.out.len()
    }

    /// The bytes to write next.
    pub fn output(&self) -> &[u8] {
        &self.out[self.out_start..]
    }

    /// Marks the first `written_bytes` of [`Session::output`] as written.
    pub fn consume_output(&mut self, written_bytes: usize) {
        assert!(
            written_bytes <= self.out.len() - self.out_start,
            "wrote {written_bytes} of {} queued bytes",
            self.out.len() - self.out_start
        );
        self.out_start += written_bytes;
        if self.out_start == self.out.len() {
            self.out.clear();
            self.out_start = 0;
        } else if self.out_start >= OUT_COMPACT_BYTES && self.out_start * 2 >= self.out.len() {
            self.out.drain(..self.out_start);
            self.out_start = 0;
        }
        self.check_invariants();
    }

    /// True when the caller should take events before giving more input.
    pub fn input_is_full(&self) -> bool {
        self.decoder.is_full()
    }

    /// Takes bytes read from the server.
    pub fn receive(&mut self, input: &[u8]) {
        self.decoder.push(input);
    }

    /// The next event the received bytes hold, if a whole frame is buffered. An error ends
    /// the session: later calls return `Ok(None)` and requests are refused.
    pub fn poll_event(&mut self) -> Result<Option<Event>, ZkError> {
        if matches!(self.state, State::Failed | State::Closed) {
            return Ok(None);
        }
        let frame = match self.decoder.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.fail(e.to_string())),
        };
        let event = if self.state == State::Handshake {
            self.on_connect_response(&frame)
        } else {
            self.on_reply(&frame)
        };
        match event {
            Ok(event) => {
                self.check_invariants();
                Ok(Some(event))
            }
            Err(ZkError::Protocol(what)) => Err(self.fail(what)),
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn fail(&mut self, what: String) -> ZkError {
        self.state = State::Failed;
        ZkError::Protocol(what)
    }

    fn on_connect_response(&mut self, frame: &[u8]) -> Result<Event, ZkError> {
        assert_eq!(self.state, State::Handshake, "one handshake per session");
        let response = ConnectResponse::decode(frame)
            .map_err(|e| ZkError::Protocol(format!("ConnectResponse: {e}")))?;
        if response.session_id == 0 || response.time_out <= 0 {
            // ClientCnxn.onConnected: a non-positive negotiated timeout means the server
            // refused or expired the session.
            return Err(ZkError::Code(ErrorCode::SessionExpired));
        }
        self.state = State::Connected;
        self.session_id = response.session_id;
        self.timeout_ms = response.time_out;
        assert!(self.is_connected(), "handshake done");
        Ok(Event::Connected {
            session_id: response.session_id,
            timeout_ms: response.time_out,
            read_only: response.read_only,
        })
    }

    fn on_reply(&mut self, frame: &[u8]) -> Result<Event, ZkError> {
        let (header, body) = ReplyHeader::split(frame)
            .map_err(|e| ZkError::Protocol(format!("ReplyHeader: {e}")))?;
        match header.xid {
            xid::NOTIFICATION => {
                let event = WatcherEvent::decode(body)
                    .map_err(|e| ZkError::Protocol(format!("WatcherEvent: {e}")))?;
                Ok(Event::Watch(event))
            }
            xid::PING => {
                if self.pings_pending == 0 {
                    return Err(ZkError::Protocol("a ping answer with no ping sent".into()));
                }
                self.pings_pending -= 1;
                Ok(Event::Pong)
            }
            xid::AUTH => self.on_auth_reply(header),
            _ => self.on_request_reply(header, body),
        }
    }

    fn on_auth_reply(&mut self, header: ReplyHeader) -> Result<Event, ZkError> {
        if self.auths_pending == 0 {
            return Err(ZkError::Protocol("an auth answer with no auth sent".into()));
        }
        self.auths_pending -= 1;
        let result = match header.err {
            0 => Ok(Response::Empty),
            err => Err(ErrorCode::from_code(err)
                .ok_or_else(|| ZkError::Protocol(format!("unknown error code {err}")))?),
        };
        Ok(Event::Reply(Reply {
            xid: xid::AUTH,
            op: OpCode::Auth,
            zxid: header.zxid,
            result,
        }))
    }

    fn on_request_reply(&mut self, header: ReplyHeader, body: &[u8]) -> Result<Event, ZkError> {
        let Some(pending) = self.pending.pop_front() else {
            return Err(ZkError::Protocol(format!(
                "reply xid {} with nothing pending",
                header.xid
            )));
        };
        if pending.xid != header.xid {
            return Err(ZkError::Protocol(format!(
                "reply xid {} but the oldest pending request is xid {}",
                header.xid, pending.xid
            )));
        }
        if header.zxid > self.last_zxid_seen {
            self.last_zxid_seen = header.zxid;
        }
        let result = if header.err != 0 && pending.op != OpCode::Multi {
            let code = ErrorCode::from_code(header.err)
                .ok_or_else(|| ZkError::Protocol(format!("unknown error code {}", header.err)))?;
            Err(code)
        } else {
            let response = Response::decode(pending.op, body)
                .map_err(|e| ZkError::Protocol(format!("{} response: {e}", pending.op.name())))?;
            Ok(response)
        };
        if pending.op == OpCode::CloseSession {
            assert_eq!(
                self.state,
                State::Closing,
                "closeSession is sent only by close()"
            );
            self.state = State::Closed;
        }
        Ok(Event::Reply(Reply {
            xid: header.xid,
            op: pending.op,
            zxid: header.zxid,
            result,
        }))
    }

    fn check_invariants(&self) {
        assert!(
            self.out_start <= self.out.len(),
            "out_start past the output"
        );
        assert!(self.next_xid > 0, "xid {} not positive", self.next_xid);
        if self.state == State::Handshake {
            assert!(
                self.pending.is_empty(),
                "requests pending before the handshake"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::{Acl, CreateRequest, PathWatchRequest, Stat, Writer};

    fn frame(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut out = Vec::new();
        wire::write_frame(&mut out, f);
        out
    }

    fn connected() -> Session {
        let mut s = Session::new(30_000);
        let n = s.output().len();
        s.consume_output(n);
        s.receive(&frame(|w| {
            ConnectResponse {
                protocol_version: 0,
                time_out: 20_000,
                session_id: 0x77,
                passwd: vec![1; 16],
                read_only: false,
                read_only_present: true,
            }
            .encode(w)
        }));
        match s.poll_event().unwrap() {
            Some(Event::Connected {
                session_id,
                timeout_ms,
                ..
            }) => {
                assert_eq!((session_id, timeout_ms), (0x77, 20_000));
            }
            other => panic!("expected Connected, got {other:?}"),
        }
        s
    }

    fn get(path: &str) -> Request {
        Request::GetData(PathWatchRequest {
            path: path.into(),
            watch: false,
        })
    }

    fn reply(xid: i32, err: i32, response: &Response) -> Vec<u8> {
        frame(|w| response.encode_with_header(&ReplyHeader { xid, zxid: 9, err }, w))
    }

    #[test]
    fn handshake_sends_connect_request_with_read_only_byte() {
        let s = Session::new(30_000);
        let bytes = s.output();
        let (len, body) = bytes.split_at(4);
        assert_eq!(
            usize::from_be_bytes([0, 0, 0, 0, len[0], len[1], len[2], len[3]]),
            body.len()
        );
        let request = ConnectRequest::decode(body).unwrap();
        assert!(request.read_only_present);
        assert_eq!(request.time_out, 30_000);
        assert_eq!(request.passwd.len(), PASSWD_BYTES);
    }

    #[test]
    fn refused_session_is_session_expired() {
        let mut s = Session::new(30_000);
        let request = ConnectRequest::decode(&s.output()[4..]).unwrap();
        s.receive(&frame(|w| ConnectResponse::refused(&request).encode(w)));
        let err = s.poll_event().unwrap_err();
        assert_eq!(err.code(), ErrorCode::SessionExpired);
        assert!(s.send(&get("/")).is_err());
    }

    #[test]
    fn replies_match_pending_requests_in_order_with_split_input() {
        let mut s = connected();
        let create = Request::Create(CreateRequest {
            path: "/a".into(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        });
        assert_eq!(s.send(&create).unwrap(), 1);
        assert_eq!(s.send(&get("/a")).unwrap(), 2);
        assert_eq!(s.pending_count(), 2);
        let mut input = reply(1, 0, &Response::Create { path: "/a".into() });
        input.extend(reply(2, ErrorCode::NoNode.code(), &Response::Empty));
        // Feed one byte at a time: frames may be split anywhere.
        let mut events = Vec::new();
        for b in input {
            s.receive(&[b]);
            while let Some(e) = s.poll_event().unwrap() {
                events.push(e);
            }
        }
        assert_eq!(events.len(), 2);
        match &events[0] {
            Event::Reply(r) => {
                assert_eq!((r.xid, r.op), (1, OpCode::Create));
                assert_eq!(
                    r.result.as_ref().unwrap(),
                    &Response::Create { path: "/a".into() }
                );
            }
            other => panic!("{other:?}"),
        }
        match &events[1] {
            Event::Reply(r) => assert_eq!(r.result.as_ref().unwrap_err(), &ErrorCode::NoNode),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.pending_count(), 0);
        assert_eq!(s.last_zxid_seen(), 9);
    }

    #[test]
    fn notifications_and_pongs_interleave_with_replies() {
        let mut s = connected();
        s.send(&get("/a")).unwrap();
        s.ping().unwrap();
        let mut input = Vec::new();
        wire::write_frame(&mut input, |w| {
            WatcherEvent {
                event_type: wire::event_type::NODE_DATA_CHANGED,
                state: wire::keeper_state::SYNC_CONNECTED,
                path: "/a".into(),
            }
            .write_notification(w)
        });
        input.extend(reply(xid::PING, 0, &Response::Empty));
        let data = Response::GetData {
            data: Some(b"v".to_vec()),
            stat: Stat::default(),
        };
        input.extend(reply(1, 0, &data));
        s.receive(&input);
        assert!(matches!(s.poll_event().unwrap(), Some(Event::Watch(e)) if e.path == "/a"));
        assert!(matches!(s.poll_event().unwrap(), Some(Event::Pong)));
        assert!(matches!(s.poll_event().unwrap(), Some(Event::Reply(r)) if r.result == Ok(data)));
        assert_eq!(s.pings_pending(), 0);
    }

    #[test]
    fn auth_packets_use_xid_minus_4_and_are_answered_outside_the_order() {
        let mut s = connected();
        s.send(&get("/a")).unwrap();
        s.send_auth(&wire::AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"u:p".to_vec(),
        })
        .unwrap();
        // The second frame queued is the auth packet: length, then xid -4 and opcode 100.
        let out = s.output().to_vec();
        let first_len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        let auth = &out[4 + first_len..];
        assert_eq!(&auth[4..8], &xid::AUTH.to_be_bytes());
        assert_eq!(&auth[8..12], &100i32.to_be_bytes());
        // The server answers the auth packet at once, before the pending getData.
        let mut input = reply(xid::AUTH, 0, &Response::Empty);
        input.extend(reply(
            xid::AUTH,
            ErrorCode::AuthFailed.code(),
            &Response::Empty,
        ));
        s.receive(&input);
        let event = s.poll_event().unwrap();
        assert!(
            matches!(&event, Some(Event::Reply(r)) if r.xid == xid::AUTH && r.result.is_ok()),
            "{event:?}"
        );
        // A second answer with no auth pending breaks the stream.
        assert!(matches!(s.poll_event(), Err(ZkError::Protocol(_))));
        let mut s = connected();
        let packet = wire::AuthPacket {
            auth_type: 0,
            scheme: "x".into(),
            auth: Vec::new(),
        };
        s.send_auth(&packet).unwrap();
        s.receive(&reply(
            xid::AUTH,
            ErrorCode::AuthFailed.code(),
            &Response::Empty,
        ));
        let event = s.poll_event().unwrap();
        assert!(
            matches!(&event, Some(Event::Reply(r)) if r.result == Err(ErrorCode::AuthFailed)),
            "{event:?}"
        );
    }

    #[test]
    fn out_of_order_xid_breaks_the_session() {
        let mut s = connected();
        s.send(&get("/a")).unwrap();
        s.send(&get("/b")).unwrap();
        s.receive(&reply(2, 0, &Response::Empty));
        assert!(matches!(s.poll_event(), Err(ZkError::Protocol(_))));
        assert!(s.poll_event().unwrap().is_none());
        assert!(s.send(&get("/c")).is_err());
    }

    #[test]
    fn close_is_answered_then_the_session_is_closed() {
        let mut s = connected();
        let xid = s.close().unwrap();
        assert!(s.send(&get("/a")).is_err());
        s.receive(&reply(xid, 0, &Response::Empty));
        assert!(
            matches!(s.poll_event().unwrap(), Some(Event::Reply(r)) if r.op == OpCode::CloseSession)
        );
        assert!(s.is_closed());
    }

    #[test]
    fn output_is_consumed_in_pieces() {
        let mut s = connected();
        s.send(&get("/a")).unwrap();
        let total = s.output().len();
        s.consume_output(3);
        assert_eq!(s.output().len(), total - 3);
        s.consume_output(total - 3);
        assert!(!s.has_output());
    }
}

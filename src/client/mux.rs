//! Many client sessions on one thread: mio sockets around [`Session`]s.
//!
//! The caller queues requests with [`Mux::send`] (any number in flight per session) and calls
//! [`Mux::poll`], which first writes what every session has queued, then waits for
//! readiness, reads until `WouldBlock` (or a short read, which on Linux's edge-triggered
//! epoll also means the socket is drained), and returns the events each session decoded,
//! stamped with the instant their bytes were read. A session that has written nothing for
//! a third of its negotiated timeout gets a ping, as `ClientCnxn` does, so idle sessions
//! stay alive as long as the caller keeps polling.
//!
//! Invariants: a connection's token is its index in `conns`, and connections are never
//! removed, so a token can never name a different connection (no generations needed). A
//! failed connection reports exactly one error event and is deregistered; requests to it
//! fail. Buffers are bounded: input is decoded after every read chunk, so a session holds
//! at most one partial frame plus one chunk; output is bounded by what the caller queues.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use wire::Request;

use super::session::{Event, Session};
use super::ZkError;

/// Bytes read from a socket per `read` call.
const READ_CHUNK_BYTES: usize = 256 << 10;

/// How often `poll` looks for sessions that need a ping.
const PING_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Readiness events taken per `mio::Poll::poll` call.
const EVENTS_CAPACITY: usize = 1024;

/// Names one connection of a [`Mux`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnIndex(usize);

impl ConnIndex {
    pub fn index(self) -> usize {
        self.0
    }
}

/// One event of one connection.
#[derive(Debug)]
pub struct MuxEvent {
    pub conn: ConnIndex,
    /// When the bytes holding this event were read (or the failure was seen).
    pub at: Instant,
    /// An error ends the connection; it is the last event for it.
    pub event: Result<Event, ZkError>,
}

struct Conn {
    stream: TcpStream,
    session: Session,
    /// The last time bytes were queued for this connection (pings are due a third of the
    /// session timeout after it).
    last_send_at: Instant,
    /// Set once the connection failed or its session closed: no more I/O.
    is_done: bool,
    /// Set while the connection is on `Mux::dirty`.
    is_dirty: bool,
}

/// Many sessions multiplexed on one thread (see the module doc).
pub struct Mux {
    poll: Poll,
    events: Events,
    conns: Vec<Conn>,
    /// Connections with output queued since the last flush, each listed once.
    dirty: Vec<usize>,
    read_buf: Vec<u8>,
    /// (connection, readable, writable) of the last poll; kept to reuse its allocation.
    ready: Vec<(usize, bool, bool)>,
    next_ping_check_at: Instant,
}

impl Mux {
    pub fn new() -> io::Result<Mux> {
        Ok(Mux {
            poll: Poll::new()?,
            events: Events::with_capacity(EVENTS_CAPACITY),
            conns: Vec::new(),
            dirty: Vec::new(),
            read_buf: vec![0; READ_CHUNK_BYTES],
            ready: Vec::with_capacity(EVENTS_CAPACITY),
            next_ping_check_at: Instant::now(),
        })
    }

    /// Opens a TCP connection (blocking for at most `connect_timeout`) and queues the
    /// handshake of a new session asking for `session_timeout_ms`. The session is usable
    /// once `poll` returns its [`Event::Connected`].
    pub fn connect(
        &mut self,
        addr: SocketAddr,
        session_timeout_ms: i32,
        connect_timeout: Duration,
    ) -> io::Result<ConnIndex> {
        assert!(
            session_timeout_ms > 0,
            "session timeout {session_timeout_ms}"
        );
        let std_stream = std::net::TcpStream::connect_timeout(&addr, connect_timeout)?;
        std_stream.set_nodelay(true)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        let index = self.conns.len();
        self.poll.registry().register(
            &mut stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.conns.push(Conn {
            stream,
            session: Session::new(session_timeout_ms),
            last_send_at: Instant::now(),
            is_done: false,
            is_dirty: false,
        });
        self.mark_dirty(index);
        assert_eq!(self.conns.len(), index + 1, "one connection added");
        Ok(ConnIndex(index))
    }

    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }

    pub fn session(&self, conn: ConnIndex) -> &Session {
        &self.conns[conn.0].session
    }

    /// Queues `request` on `conn` and returns its xid; it is written by the next `poll`
    /// (or `flush`).
    pub fn send(&mut self, conn: ConnIndex, request: &Request) -> Result<i32, ZkError> {
        let xid = self.conns[conn.0].session.send(request)?;
        self.mark_dirty(conn.0);
        Ok(xid)
    }

    /// Queues an auth packet (xid -4) on `conn`; its reply is a `Reply` with xid -4.
    pub fn send_auth(&mut self, conn: ConnIndex, packet: &wire::AuthPacket) -> Result<(), ZkError> {
        self.conns[conn.0].session.send_auth(packet)?;
        self.mark_dirty(conn.0);
        Ok(())
    }

    /// Queues a ping on `conn`.
    pub fn ping(&mut self, conn: ConnIndex) -> Result<(), ZkError> {
        self.conns[conn.0].session.ping()?;
        self.mark_dirty(conn.0);
        Ok(())
    }

    /// Queues closeSession on `conn`; its reply is a `Reply` with op `CloseSession`.
    pub fn close(&mut self, conn: ConnIndex) -> Result<i32, ZkError> {
        let xid = self.conns[conn.0].session.close()?;
        self.mark_dirty(conn.0);
        Ok(xid)
    }

    fn mark_dirty(&mut self, index: usize) {
        let conn = &mut self.conns[index];
        conn.last_send_at = Instant::now();
        if !conn.is_dirty && !conn.is_done {
            conn.is_dirty = true;
            self.dirty.push(index);
        }
        assert!(
            self.dirty.len() <= self.conns.len(),
            "a connection is listed twice"
        );
    }

    /// Writes what every connection has queued, as far as the sockets take it. Failures
    /// are reported in `out`.
    pub fn flush(&mut self, out: &mut Vec<MuxEvent>) {
        let dirty = std::mem::take(&mut self.dirty);
        for &index in &dirty {
            self.conns[index].is_dirty = false;
            self.write_conn(index, out);
        }
        // Reuse the allocation; nothing was added to `dirty` while writing.
        assert!(self.dirty.is_empty(), "writing does not queue output");
        self.dirty = dirty;
        self.dirty.clear();
    }

    /// Flushes, waits up to `timeout` (`None`: until something happens) for readiness, and
    /// appends the events that arrived to `out`. Also queues pings for idle sessions.
    pub fn poll(&mut self, timeout: Option<Duration>, out: &mut Vec<MuxEvent>) -> io::Result<()> {
        self.flush(out);
        let now = Instant::now();
        let until_ping_check = self.next_ping_check_at.saturating_duration_since(now);
        let timeout = Some(timeout.map_or(until_ping_check, |t| t.min(until_ping_check)));
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        ready.extend(self.events.iter().map(|e| {
            let readable = e.is_readable() || e.is_read_closed() || e.is_error();
            (e.token().0, readable, e.is_writable())
        }));
        for &(index, readable, writable) in &ready {
            assert!(
                index < self.conns.len(),
                "token {index} names no connection"
            );
            if readable {
                self.read_conn(index, out);
            }
            if writable {
                self.write_conn(index, out);
            }
        }
        self.ready = ready;
        self.queue_pings();
        Ok(())
    }

    fn queue_pings(&mut self) {
        let now = Instant::now();
        if now < self.next_ping_check_at {
            return;
        }
        self.next_ping_check_at = now + PING_CHECK_INTERVAL;
        for index in 0..self.conns.len() {
            let conn = &self.conns[index];
            if conn.is_done || !conn.session.is_connected() || conn.session.pings_pending() > 0 {
                continue;
            }
            let timeout_ms = u64::try_from(conn.session.timeout_ms()).unwrap_or(0);
            let interval = Duration::from_millis(timeout_ms / 3);
            if now.saturating_duration_since(conn.last_send_at) >= interval {
                let pinged = self.conns[index].session.ping();
                assert!(pinged.is_ok(), "a connected session takes a ping");
                self.mark_dirty(index);
            }
        }
    }

    fn read_conn(&mut self, index: usize, out: &mut Vec<MuxEvent>) {
        let conn = &mut self.conns[index];
        if conn.is_done {
            return;
        }
        loop {
            match conn.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    let at = Instant::now();
                    if !conn.session.is_closed() {
                        let eof = io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the server closed the connection",
                        );
                        out.push(MuxEvent {
                            conn: ConnIndex(index),
                            at,
                            event: Err(ZkError::Io(eof)),
                        });
                    }
                    Self::finish(&self.poll, conn);
                    return;
                }
                Ok(n) => {
                    let at = Instant::now();
                    conn.session.receive(&self.read_buf[..n]);
                    if !Self::drain_session(index, conn, at, out) {
                        Self::finish(&self.poll, conn);
                        return;
                    }
                    if n < self.read_buf.len() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    out.push(MuxEvent {
                        conn: ConnIndex(index),
                        at: Instant::now(),
                        event: Err(ZkError::Io(e)),
                    });
                    Self::finish(&self.poll, conn);
                    return;
                }
            }
        }
    }

    /// Moves every decoded event of `conn` to `out`; false when the session broke or closed.
    fn drain_session(index: usize, conn: &mut Conn, at: Instant, out: &mut Vec<MuxEvent>) -> bool {
        loop {
            match conn.session.poll_event() {
                Ok(Some(event)) => out.push(MuxEvent {
                    conn: ConnIndex(index),
                    at,
                    event: Ok(event),
                }),
                Ok(None) => {
                    assert!(!conn.session.input_is_full(), "a drained session has room");
                    return !conn.session.is_closed();
                }
                Err(e) => {
                    out.push(MuxEvent {
                        conn: ConnIndex(index),
                        at,
                        event: Err(e),
                    });
                    return false;
                }
            }
        }
    }

    fn write_conn(&mut self, index: usize, out: &mut Vec<MuxEvent>) {
        let conn = &mut self.conns[index];
        while !conn.is_done && conn.session.has_output() {
            match conn.stream.write(conn.session.output()) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "the socket took no bytes");
                    Self::fail(&self.poll, index, conn, e, out);
                }
                Ok(n) => conn.session.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => Self::fail(&self.poll, index, conn, e, out),
            }
        }
    }

    fn fail(poll: &Poll, index: usize, conn: &mut Conn, e: io::Error, out: &mut Vec<MuxEvent>) {
        out.push(MuxEvent {
            conn: ConnIndex(index),
            at: Instant::now(),
            event: Err(ZkError::Io(e)),
        });
        Self::finish(poll, conn);
    }

    /// Ends I/O on `conn`: deregisters it and shuts the socket.
    fn finish(poll: &Poll, conn: &mut Conn) {
        assert!(!conn.is_done, "a connection finishes once");
        conn.is_done = true;
        if let Err(e) = poll.registry().deregister(&mut conn.stream) {
            log::debug!("deregister: {e}");
        }
        if let Err(e) = conn.stream.shutdown(std::net::Shutdown::Both) {
            log::debug!("shutdown: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::FakeServer;
    use super::*;
    use wire::{Acl, CreateRequest, OpCode, Response};

    fn create(path: String) -> Request {
        Request::Create(CreateRequest {
            path,
            data: Some(vec![7; 100]),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        })
    }

    fn poll_until(
        mux: &mut Mux,
        out: &mut Vec<MuxEvent>,
        mut done: impl FnMut(&[MuxEvent]) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(out) {
            assert!(
                Instant::now() < deadline,
                "timed out with {} events",
                out.len()
            );
            mux.poll(Some(Duration::from_millis(50)), out).unwrap();
        }
    }

    #[test]
    fn many_sessions_pipeline_requests_and_get_replies_in_order() {
        let server = FakeServer::start();
        let addr: SocketAddr = server.addr().parse().unwrap();
        let mut mux = Mux::new().unwrap();
        let conns: Vec<ConnIndex> = (0..8)
            .map(|_| mux.connect(addr, 10_000, Duration::from_secs(5)).unwrap())
            .collect();
        let mut out = Vec::new();
        poll_until(&mut mux, &mut out, |events| events.len() == conns.len());
        assert!(out
            .iter()
            .all(|e| matches!(e.event, Ok(Event::Connected { .. }))));
        out.clear();
        let mut sent = Vec::new();
        for (i, &conn) in conns.iter().enumerate() {
            for k in 0..50 {
                sent.push((conn, mux.send(conn, &create(format!("/s{i}k{k}"))).unwrap()));
            }
        }
        poll_until(&mut mux, &mut out, |events| events.len() == sent.len());
        for &conn in &conns {
            let xids: Vec<i32> = out
                .iter()
                .filter(|e| e.conn == conn)
                .map(|e| match &e.event {
                    Ok(Event::Reply(r)) => {
                        assert_eq!(r.op, OpCode::Create);
                        assert!(matches!(r.result, Ok(Response::Create { .. })));
                        r.xid
                    }
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(xids, (1..=50).collect::<Vec<i32>>());
            assert_eq!(mux.session(conn).pending_count(), 0);
        }
    }

    #[test]
    fn close_ends_the_session_without_an_error_event() {
        let server = FakeServer::start();
        let mut mux = Mux::new().unwrap();
        let conn = mux
            .connect(
                server.addr().parse().unwrap(),
                10_000,
                Duration::from_secs(5),
            )
            .unwrap();
        let mut out = Vec::new();
        poll_until(&mut mux, &mut out, |events| !events.is_empty());
        out.clear();
        mux.close(conn).unwrap();
        poll_until(&mut mux, &mut out, |events| !events.is_empty());
        assert!(matches!(&out[0].event, Ok(Event::Reply(r)) if r.op == OpCode::CloseSession));
        mux.poll(Some(Duration::from_millis(50)), &mut out).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(mux.send(conn, &create("/x".into())).is_err());
    }
}

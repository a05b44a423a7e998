//! One client connection: its socket, bounded input framing, output buffer, and the
//! requests it has in flight, answered strictly in arrival order.
//!
//! The protocol state lives here free of the event loop: `read_into` and `write_out` are the
//! only socket I/O, both non-blocking and both stopping at `WouldBlock`. Invariants: the
//! input side never holds more than one frame of `4 + jute.maxbuffer` bytes beyond what was
//! decoded (a longer length prefix closes the connection), and the output buffer is capped
//! (`OUT_BYTES_HARD_MAX`): a client that stops reading is disconnected, not buffered forever.
//! Source for behaviour: ZooKeeper's `NIOServerCnxn` (4lw detection on the first four bytes,
//! receive disabled while a session is being set up, close after an invalid handshake).

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use wire::{Id, OpCode, Request};

/// Past this much unsent output we stop reading the client's requests (backpressure).
pub const OUT_BYTES_SOFT_MAX: usize = 4 << 20;
/// Past this much unsent output (watch events keep coming while it does not read), the
/// client is disconnected.
pub const OUT_BYTES_HARD_MAX: usize = 64 << 20;
/// Requests one connection may have in flight before we stop reading from it.
pub const IN_FLIGHT_MAX: usize = 1000;
/// Bytes read from a socket per `read` call.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// One read buffer per event loop, lent to every socket read; allocated (zeroed) on first
/// use, so `std::mem::take` of it is free.
#[derive(Default)]
pub struct ReadScratch(Vec<u8>);

impl ReadScratch {
    pub fn buf(&mut self) -> &mut [u8] {
        if self.0.is_empty() {
            self.0 = vec![0u8; READ_CHUNK_BYTES];
        }
        &mut self.0
    }
}

/// When `read_into` may stop before the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadUntil {
    /// Until a read returns `WouldBlock` (or 0): after a revisit, or an event that reported
    /// a close or an error, which may still be behind the data.
    WouldBlock,
    /// Also stop after a read that did not fill the chunk. Linux's TCP receive drains the
    /// whole queue before it returns short, and data (or a FIN) that arrives later raises a
    /// new edge (epoll reports the socket again), so the read that would only say
    /// `WouldBlock` is saved: one system call per request under a synchronous client.
    ShortRead,
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing decoded yet: the first four bytes decide between a four-letter word and a
    /// `ConnectRequest` frame.
    Fresh,
    /// A `ConnectRequest` was accepted and its session is being created; like ZooKeeper we
    /// decode nothing more from this client until the session exists.
    Handshaking,
    /// The session is set up; requests flow.
    Connected,
    /// Flush what is queued, then close; nothing more is read.
    Closing,
}

/// A request waiting for its turn to be answered.
#[derive(Debug)]
pub enum Pending {
    /// A write proposed to Raft, answered when the entry with this server's sequence
    /// number `seq` is applied.
    Write {
        xid: i32,
        op: OpCode,
        seq: u64,
        received: Instant,
    },
    /// A read (or ping, sync, setWatches…) behind an unanswered write of this connection.
    Read {
        xid: i32,
        request: Request,
        received: Instant,
    },
    /// A request already known to fail (undecodable body), answered in its turn.
    Error {
        xid: i32,
        op: OpCode,
        code: wire::ErrorCode,
        received: Instant,
    },
    /// `readConsistency=linearizable`: the reads behind it wait until this server has
    /// applied the leader's ReadIndex for barrier `seq` (`done` once it has). Sends no reply.
    Barrier { seq: u64, done: bool },
}

/// Figures `cons` prints for a connection.
#[derive(Clone, Debug, Default)]
pub struct ConnStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub last_op: Option<OpCode>,
    /// The last xid of a real request (pings and other negative xids do not count).
    pub last_xid: Option<i32>,
    pub last_zxid: i64,
    pub last_response_ms: i64,
    pub latency_last_ms: u64,
    pub latency: crate::fourlw::LatencyStats,
}

impl ConnStats {
    pub fn record_latency(&mut self, ms: u64) {
        self.latency.record(ms);
        self.latency_last_ms = ms;
    }

    pub fn reset(&mut self) {
        *self = ConnStats::default();
    }
}

pub struct Connection {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub phase: Phase,
    /// The session this connection carries, once the handshake named or created one.
    pub session_id: i64,
    /// Negotiated session timeout.
    pub timeout_ms: i32,
    /// The client omitted the trailing readOnly byte of ConnectRequest: answer likewise.
    pub is_old_client: bool,
    /// A session a read-only member (cut off from the quorum) took: reads only, never in
    /// the log; closed when the member rejoins.
    pub read_only: bool,
    /// Identities for ACL checks: ip plus whatever `addauth` added (per connection, as in
    /// ZooKeeper's `ServerCnxn.authInfo`), in the order ZooKeeper iterates that set (see
    /// `tree::auth::java_order`); `auth_added` keeps the order they were added in.
    pub auth: Vec<Id>,
    auth_added: Vec<Id>,
    /// Requests in arrival order; the front is the next to be answered.
    pub pending: VecDeque<Pending>,
    pub stats: ConnStats,
    pub established: Instant,
    /// First bytes of a `Fresh` connection, until there are four.
    prelude: Vec<u8>,
    /// The prelude was not a four-letter word and went to the frame decoder.
    prelude_consumed: bool,
    /// The four-letter word the connection opened with.
    word: Option<[u8; 4]>,
    /// The argument bytes after the word (`stmk` only), at most 8.
    word_arg: Vec<u8>,
    frames: wire::FrameDecoder,
    out: Vec<u8>,
    out_sent: usize,
    /// The peer closed its side (read returned 0).
    pub read_closed: bool,
    /// Reading or decoding was skipped for backpressure (`IN_FLIGHT_MAX`,
    /// `OUT_BYTES_SOFT_MAX`), so an edge may have been lost: whatever relieves the pressure
    /// (output drained, the queue shrunk) must revisit the connection. Only such
    /// connections are revisited; one that read until `WouldBlock` waits for its next edge.
    pub held_back: bool,
}

impl Connection {
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        frame_bytes_max: usize,
        now: Instant,
    ) -> Connection {
        Connection {
            stream,
            peer,
            phase: Phase::Fresh,
            session_id: 0,
            timeout_ms: 0,
            is_old_client: false,
            read_only: false,
            auth: vec![Id::new("ip", &peer.ip().to_string())],
            auth_added: vec![Id::new("ip", &peer.ip().to_string())],
            pending: VecDeque::new(),
            stats: ConnStats::default(),
            established: now,
            prelude: Vec::with_capacity(4),
            prelude_consumed: false,
            word: None,
            word_arg: Vec::new(),
            frames: wire::FrameDecoder::new(frame_bytes_max),
            out: Vec::new(),
            out_sent: 0,
            read_closed: false,
            held_back: false,
        }
    }

    /// Adds identities from a successful `auth` packet.
    pub fn add_auth(&mut self, ids: Vec<Id>) {
        for id in ids {
            if !self.auth_added.contains(&id) {
                self.auth_added.push(id);
            }
        }
        self.auth = tree::auth::java_order::java_hash_set_order(&self.auth_added);
        assert_eq!(
            self.auth.len(),
            self.auth_added.len(),
            "the same ids in both orders"
        );
    }

    /// Whether we should pull more bytes from the socket now.
    pub fn wants_read(&self) -> bool {
        match self.phase {
            Phase::Fresh | Phase::Connected => {
                !self.read_closed
                    && self.pending.len() < IN_FLIGHT_MAX
                    && self.out_len() < OUT_BYTES_SOFT_MAX
            }
            Phase::Handshaking | Phase::Closing => false,
        }
    }

    /// Whether backpressure (not the phase, not a closed peer) keeps us from reading or
    /// decoding: the case in which an edge can be lost.
    pub fn is_backpressured(&self) -> bool {
        matches!(self.phase, Phase::Fresh | Phase::Connected)
            && !self.read_closed
            && (self.pending.len() >= IN_FLIGHT_MAX || self.out_len() >= OUT_BYTES_SOFT_MAX)
    }

    /// Whether buffered input may hold a frame we have not decoded yet.
    pub fn may_decode(&self) -> bool {
        matches!(self.phase, Phase::Fresh | Phase::Connected)
            && self.pending.len() < IN_FLIGHT_MAX
            && self.out_len() < OUT_BYTES_SOFT_MAX
    }

    pub fn out_len(&self) -> usize {
        self.out.len() - self.out_sent
    }

    pub fn has_output(&self) -> bool {
        self.out_len() > 0
    }

    /// Reads at most `budget_bytes` from the socket into the frame decoder (or the prelude),
    /// through `scratch` (the loop's one read buffer: zeroing a fresh 64 KiB per call cost
    /// 4% of the server's CPU). Returns the bytes read; `Ok(0)` with `read_closed` set means
    /// the peer closed.
    pub fn read_into(
        &mut self,
        scratch: &mut ReadScratch,
        budget_bytes: usize,
        until: ReadUntil,
    ) -> io::Result<usize> {
        let chunk = scratch.buf();
        let mut total = 0usize;
        while total < budget_bytes {
            match self.stream.read(chunk) {
                Ok(0) => {
                    self.read_closed = true;
                    break;
                }
                Ok(n) => {
                    total += n;
                    self.accept_bytes(&chunk[..n]);
                    if until == ReadUntil::ShortRead && n < chunk.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    fn accept_bytes(&mut self, mut bytes: &[u8]) {
        if let Some(word) = self.word {
            // A four-letter word connection: only `stmk` takes an argument (8 bytes); the
            // rest is ignored.
            if &word == b"stmk" {
                let take =
                    (crate::fourlw::STMK_ARGUMENT_BYTES - self.word_arg.len()).min(bytes.len());
                self.word_arg.extend_from_slice(&bytes[..take]);
            }
            return;
        }
        if !self.prelude_consumed {
            let take = (4 - self.prelude.len()).min(bytes.len());
            self.prelude.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.prelude.len() < 4 {
                return;
            }
            let word = [
                self.prelude[0],
                self.prelude[1],
                self.prelude[2],
                self.prelude[3],
            ];
            if crate::fourlw::is_four_letter_word(&word) {
                self.word = Some(word);
                // The rest of this read may hold the word's argument.
                self.accept_bytes(bytes);
                return;
            }
            let prelude = std::mem::take(&mut self.prelude);
            self.frames.push(&prelude);
            self.prelude_consumed = true;
        }
        self.frames.push(bytes);
    }

    /// The four-letter word this connection opened with, once it and its argument (if it
    /// takes one) have arrived.
    pub fn four_letter_word(&self) -> Option<[u8; 4]> {
        let word = self.word?;
        if &word == b"stmk" && self.word_arg.len() < crate::fourlw::STMK_ARGUMENT_BYTES {
            return None;
        }
        Some(word)
    }

    /// The argument that followed the word (8 bytes for `stmk`, else empty).
    pub fn four_letter_word_argument(&self) -> &[u8] {
        &self.word_arg
    }

    /// The next complete frame in the input.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, wire::FrameError> {
        if !self.prelude_consumed {
            return Ok(None);
        }
        self.frames.next_frame()
    }

    /// Appends one encoded frame to the output.
    pub fn queue_frame(&mut self, frame: &[u8]) {
        self.out.extend_from_slice(frame);
        self.stats.packets_sent += 1;
    }

    /// Encodes one frame straight into the output (no temporary buffer); returns its size.
    pub fn encode_frame(&mut self, f: impl FnOnce(&mut wire::Writer)) -> usize {
        let before = self.out.len();
        wire::write_frame(&mut self.out, f);
        self.stats.packets_sent += 1;
        assert!(self.out.len() > before, "a frame was appended");
        self.out.len() - before
    }

    /// Writes as much output as the socket takes. Returns bytes written.
    pub fn write_out(&mut self) -> io::Result<usize> {
        write_buffered(&mut self.stream, &mut self.out, &mut self.out_sent)
    }

    /// Gives back the spare capacity of the input and output buffers (`clrs`): output already
    /// sent is dropped first. Returns the bytes of capacity released.
    pub fn release_spare_capacity(&mut self) -> usize {
        let before = self.out.capacity();
        let unsent = self.out.len() - self.out_sent;
        self.out.drain(..self.out_sent);
        self.out_sent = 0;
        self.out.shrink_to_fit();
        assert_eq!(self.out.len(), unsent, "unsent output kept");
        before.saturating_sub(self.out.capacity()) + self.frames.release_spare_capacity()
    }

    /// Whether the connection has finished and can be dropped.
    pub fn is_done(&self) -> bool {
        (self.phase == Phase::Closing || self.read_closed) && !self.has_output()
    }

    /// Interest derived from state: READABLE while we want input, WRITABLE while output waits.
    pub fn interest(&self) -> Option<mio::Interest> {
        let r = self.wants_read();
        let w = self.has_output();
        match (r, w) {
            (true, true) => Some(mio::Interest::READABLE | mio::Interest::WRITABLE),
            (true, false) => Some(mio::Interest::READABLE),
            (false, true) => Some(mio::Interest::WRITABLE),
            (false, false) => None,
        }
    }
}

/// Writes `out[*sent..]` to a non-blocking `stream` until it would block; returns the bytes
/// written. A fully sent buffer is cleared; a large sent prefix is reclaimed so the buffer
/// does not grow with total traffic. Shared by client and peer connections.
pub fn write_buffered(
    stream: &mut impl std::io::Write,
    out: &mut Vec<u8>,
    sent: &mut usize,
) -> io::Result<usize> {
    let mut total = 0usize;
    while *sent < out.len() {
        match stream.write(&out[*sent..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "socket took 0")),
            Ok(n) => {
                *sent += n;
                total += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if *sent == out.len() {
        out.clear();
        *sent = 0;
    } else if *sent > (1 << 20) && *sent * 2 > out.len() {
        out.drain(..*sent);
        *sent = 0;
    }
    assert!(*sent <= out.len(), "sent past the end of the output");
    Ok(total)
}

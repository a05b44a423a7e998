//! One peer connection: its socket, where it is in its life, its bounded input framing and
//! its bounded output.
//!
//! `read_into` and `write_out` are the only socket I/O, both non-blocking and both stopping
//! at `WouldBlock`; everything else is state the transport inspects. Invariants: input holds
//! at most about two frames plus one read budget (the `FrameReader` refuses an oversized
//! length at its header), output at most `queue_bytes_max` plus one hello (checked by the
//! transport before it queues), and a link that is still connecting is never read or written.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::Interest;

use super::frame::{encode_frame, FrameError, FrameReader};
use crate::connection::ReadScratch;

/// Who opened the connection, and so what it carries: we only send on links we dialed and
/// only receive on links we accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Inbound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Outbound: the non-blocking connect has not completed; our hello waits in `out`.
    Connecting,
    /// Outbound: connected, our hello sent or being sent, the acceptor's ack not yet here.
    AwaitingAck,
    /// Inbound: accepted, the dialer's hello not yet here.
    AwaitingHello,
    /// Handshake done: outbound links send frames, inbound links receive them.
    Established,
}

#[derive(Debug)]
pub struct Link {
    pub stream: TcpStream,
    pub remote: SocketAddr,
    pub direction: Direction,
    pub state: LinkState,
    /// The member at the other end: known from the start on outbound links, from the hello
    /// on inbound ones.
    pub member: Option<u64>,
    /// When the socket was opened, for the handshake timeout.
    pub opened: Instant,
    /// What the poll has this socket registered for.
    pub registered: Option<Interest>,
    /// The other end closed its side (read returned 0).
    pub read_closed: bool,
    reader: FrameReader,
    out: Vec<u8>,
    out_sent: usize,
}

impl Link {
    pub fn new(
        stream: TcpStream,
        remote: SocketAddr,
        direction: Direction,
        member: Option<u64>,
        frame_bytes_max: usize,
        now: Instant,
    ) -> Link {
        let state = match direction {
            Direction::Outbound => LinkState::Connecting,
            Direction::Inbound => LinkState::AwaitingHello,
        };
        assert_eq!(
            member.is_some(),
            direction == Direction::Outbound,
            "only outbound links know their member before the handshake"
        );
        Link {
            stream,
            remote,
            direction,
            state,
            member,
            opened: now,
            registered: None,
            read_closed: false,
            reader: FrameReader::new(frame_bytes_max),
            out: Vec::new(),
            out_sent: 0,
        }
    }

    pub fn is_established(&self) -> bool {
        self.state == LinkState::Established
    }

    /// Whether the socket is connected, so it may be read and written.
    pub fn is_open(&self) -> bool {
        self.state != LinkState::Connecting
    }

    pub fn out_len(&self) -> usize {
        self.out.len() - self.out_sent
    }

    pub fn buffered_input_bytes(&self) -> usize {
        self.reader.buffered_bytes()
    }

    /// Appends one frame (header and payload) to the output.
    pub fn queue_frame(&mut self, payload: &[u8]) {
        let before = self.out_len();
        encode_frame(&mut self.out, payload);
        assert!(self.out_len() > before, "a frame adds at least its header");
    }

    /// Reads at most about `budget_bytes` from the socket into the frame reader. Returns the
    /// bytes read; `Ok(0)` with `read_closed` set means the other end closed.
    pub fn read_into(
        &mut self,
        scratch: &mut ReadScratch,
        budget_bytes: usize,
    ) -> io::Result<usize> {
        assert!(self.is_open(), "a connecting socket is not read");
        let chunk = scratch.buf();
        let mut total = 0usize;
        while total < budget_bytes && !self.read_closed {
            match self.stream.read(chunk) {
                Ok(0) => self.read_closed = true,
                Ok(n) => {
                    total += n;
                    self.reader.push(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        self.reader.next_frame()
    }

    /// Writes as much output as the socket takes. Returns bytes written.
    pub fn write_out(&mut self) -> io::Result<usize> {
        assert!(self.is_open(), "a connecting socket is not written");
        crate::connection::write_buffered(&mut self.stream, &mut self.out, &mut self.out_sent)
    }

    /// Interest derived from state: WRITABLE while connecting (that is how completion shows)
    /// or while output waits; READABLE once connected, on every link, because even a link we
    /// only send on must notice its peer closing.
    pub fn interest(&self) -> Interest {
        if !self.is_open() {
            return Interest::WRITABLE;
        }
        if self.out_len() > 0 {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }
}

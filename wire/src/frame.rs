//! Framing: every message in either direction is a 4-byte big-endian length followed by
//! that many bytes. `FrameDecoder` cuts frames out of arbitrarily split input;
//! `write_frame` writes one, patching the length in after the body.
//!
//! The length rule is ZooKeeper's (`NIOServerCnxn.readLength`, `NettyServerCnxn`): a
//! length < 0 or > `jute.maxbuffer` closes the connection; a length equal to the maximum is
//! accepted, and so is 0. `jute.maxbuffer` defaults to 0xfffff bytes
//! (`BinaryInputArchive.maxBuffer`), which is `JUTE_MAXBUFFER_DEFAULT`.
//!
//! Invariants: a bad length is detected as soon as its 4 bytes are buffered, so the
//! decoder never holds more than `4 + frame_size_max` bytes of any one frame; once a bad
//! length is seen the decoder stays failed and drops further input. The decoder holds what
//! has been pushed and not yet taken; the caller bounds that by not reading from the socket
//! while `is_full()` (at most `4 + frame_size_max` plus one read chunk). It does no I/O.
//!
//! Four-letter words: ZooKeeper checks the first 4 bytes of a new connection for a 4lw
//! ("ruok", "stat", ...) before treating them as a length. Every 4lw read as a length is far
//! above any sane maximum, so it comes back as `FrameError::BadLength`, whose `length`
//! field holds the 4 raw bytes (`length.to_be_bytes()`); the server can recognize it there
//! (or, as it does, look at the first 4 bytes before pushing them).

use crate::jute::Writer;
use std::fmt;

/// ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes (1 MiB - 1).
pub const JUTE_MAXBUFFER_DEFAULT: usize = 0xfffff;

/// Bytes of the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// The frame stream is malformed; the connection must be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A length prefix was negative or above the maximum. `length.to_be_bytes()` are the
    /// four bytes received (a four-letter word on a fresh connection).
    BadLength { length: i32, frame_size_max: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadLength {
                length,
                frame_size_max,
            } => write!(
                f,
                "frame length {length} is negative or above jute.maxbuffer={frame_size_max}"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Incremental decoder of length-prefixed frames: `push` bytes as they arrive (split
/// anywhere), take whole frames with `next_frame`.
pub struct FrameDecoder {
    /// Largest accepted payload length (`jute.maxbuffer`).
    frame_size_max: usize,
    /// Bytes pushed and not yet taken start at `buffer[start]`.
    /// Invariant: `start <= buffer.len()`.
    buffer: Vec<u8>,
    start: usize,
    /// Set on the first bad length; every later call returns it.
    failed: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new(frame_size_max: usize) -> FrameDecoder {
        assert!(frame_size_max <= i32::MAX as usize, "jute lengths are i32");
        FrameDecoder {
            frame_size_max,
            buffer: Vec::new(),
            start: 0,
            failed: None,
        }
    }

    pub fn frame_size_max(&self) -> usize {
        self.frame_size_max
    }

    /// Bytes pushed and not yet returned in a frame.
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// True when no bytes of a next frame are held (a clean point to close a connection).
    pub fn is_idle(&self) -> bool {
        self.buffered_bytes() == 0
    }

    /// True when the caller should stop reading input until it has taken frames: the
    /// decoder already holds a whole maximal frame's worth of bytes.
    pub fn is_full(&self) -> bool {
        self.buffered_bytes() >= LENGTH_PREFIX_BYTES + self.frame_size_max
    }

    /// Appends input. A bad length at the front is detected here (and reported by
    /// `next_frame`); after that, input is dropped.
    pub fn push(&mut self, input: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 && self.start * 2 >= self.buffer.len() {
            // Reclaim the consumed prefix, so the buffer does not grow with total traffic.
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(input);
        // Validate the front frame's length now, so a bad one is not buffered; the error
        // is kept in `failed` and returned by `next_frame`.
        if let Err(err) = self.front_frame_length() {
            assert_eq!(self.failed, Some(err), "a length error is sticky");
        }
        self.check_invariants();
    }

    /// Returns the next complete frame's payload (without its length prefix), if one is
    /// waiting, or the error that broke the stream.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(length) = self.front_frame_length()? else {
            return Ok(None);
        };
        let body_start = self.start + LENGTH_PREFIX_BYTES;
        if self.buffer.len() - body_start < length {
            return Ok(None);
        }
        let frame = self.buffer[body_start..body_start + length].to_vec();
        self.start = body_start + length;
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        self.check_invariants();
        assert_eq!(
            frame.len(),
            length,
            "a frame is exactly its announced length"
        );
        Ok(Some(frame))
    }

    /// The checked length of the frame at the front, once its prefix is buffered.
    fn front_frame_length(&mut self) -> Result<Option<usize>, FrameError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let Some(prefix) = self
            .buffer
            .get(self.start..self.start + LENGTH_PREFIX_BYTES)
        else {
            return Ok(None);
        };
        let length = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        match usize::try_from(length) {
            Ok(n) if n <= self.frame_size_max => Ok(Some(n)),
            _ => {
                let err = FrameError::BadLength {
                    length,
                    frame_size_max: self.frame_size_max,
                };
                self.failed = Some(err);
                // Nothing after a bad length can be framed; free it.
                self.buffer = Vec::new();
                self.start = 0;
                Err(err)
            }
        }
    }

    /// Drops the bytes already taken and gives back the buffer's spare capacity (after a
    /// large frame it can be `jute.maxbuffer` big). Returns the bytes of capacity released.
    pub fn release_spare_capacity(&mut self) -> usize {
        let before = self.buffer.capacity();
        self.buffer.drain(..self.start);
        self.start = 0;
        self.buffer.shrink_to_fit();
        self.check_invariants();
        assert!(
            self.buffer.capacity() <= before,
            "shrinking grew the buffer"
        );
        before - self.buffer.capacity()
    }

    fn check_invariants(&self) {
        assert!(
            self.start <= self.buffer.len(),
            "start {} > {}",
            self.start,
            self.buffer.len()
        );
        if self.failed.is_some() {
            assert!(self.buffer.is_empty(), "a failed decoder holds no input");
        }
    }
}

/// Appends one frame to `out`: a 4-byte length, then whatever `f` writes. The length is
/// patched in after the body is written.
pub fn write_frame(out: &mut Vec<u8>, f: impl FnOnce(&mut Writer)) {
    let start = out.len();
    let mut w = Writer::with_vec(std::mem::take(out));
    w.write_i32(0);
    f(&mut w);
    *out = w.into_inner();
    assert!(
        out.len() >= start + LENGTH_PREFIX_BYTES,
        "the frame lost its prefix"
    );
    let body_len = out.len() - start - LENGTH_PREFIX_BYTES;
    let body_len = i32::try_from(body_len).expect("a frame body is smaller than 2 GiB");
    out[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&body_len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releasing_spare_capacity_keeps_the_pending_bytes() {
        let mut d = FrameDecoder::new(1 << 20);
        let big = vec![7u8; 100_000];
        d.push(&frames(&[&big, b"next"])[..]);
        assert_eq!(d.next_frame(), Ok(Some(big)));
        // The second frame is still buffered and must survive the shrink.
        let released = d.release_spare_capacity();
        assert!(released >= 100_000, "released {released}");
        assert_eq!(d.next_frame(), Ok(Some(b"next".to_vec())));
        assert_eq!(d.next_frame(), Ok(None));
    }

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            write_frame(&mut out, |w| w.bytes.extend_from_slice(p));
        }
        out
    }

    /// Feeds `input` in chunks of `chunk` bytes, taking frames after each chunk.
    fn decode_all(d: &mut FrameDecoder, input: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            d.push(piece);
            while let Some(f) = d.next_frame().unwrap() {
                out.push(f);
            }
        }
        out
    }

    #[test]
    fn frames_survive_every_split() {
        let payloads: [&[u8]; 4] = [b"hello", b"", &[7u8; 300], b"x"];
        let input = frames(&payloads);
        for chunk in 1..=input.len() {
            let mut d = FrameDecoder::new(300);
            let got = decode_all(&mut d, &input, chunk);
            assert_eq!(got, payloads.map(|p| p.to_vec()), "chunk {chunk}");
            assert!(d.is_idle());
        }
    }

    #[test]
    fn length_equal_to_max_is_accepted_and_one_more_is_not() {
        let mut d = FrameDecoder::new(8);
        d.push(&frames(&[&[1u8; 8]]));
        assert_eq!(d.next_frame().unwrap().unwrap(), vec![1u8; 8]);
        d.push(&frames(&[&[1u8; 9]]));
        let err = d.next_frame().unwrap_err();
        assert_eq!(
            err,
            FrameError::BadLength {
                length: 9,
                frame_size_max: 8
            }
        );
        d.push(b"more");
        assert_eq!(d.next_frame(), Err(err), "the decoder stays failed");
        assert_eq!(d.buffered_bytes(), 0, "a failed decoder drops its input");
    }

    #[test]
    fn negative_and_four_letter_lengths_are_rejected() {
        let mut d = FrameDecoder::new(JUTE_MAXBUFFER_DEFAULT);
        d.push(&[0xff, 0xff, 0xff, 0xff]);
        let err = d.next_frame().unwrap_err();
        assert_eq!(
            err,
            FrameError::BadLength {
                length: -1,
                frame_size_max: 0xfffff
            }
        );
        let mut d = FrameDecoder::new(JUTE_MAXBUFFER_DEFAULT);
        d.push(b"ruok");
        match d.next_frame() {
            Err(FrameError::BadLength { length, .. }) => assert_eq!(&length.to_be_bytes(), b"ruok"),
            other => panic!("expected a bad length, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_length_is_not_buffered_past_its_prefix() {
        let mut d = FrameDecoder::new(16);
        d.push(&[0, 0, 1, 0]);
        d.push(&[0u8; 1000]);
        assert_eq!(d.buffered_bytes(), 0);
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn pipelined_frames_come_out_in_order_and_the_buffer_is_reclaimed() {
        let payloads: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; usize::from(i)]).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_slice()).collect();
        let input = frames(&refs);
        let mut d = FrameDecoder::new(200);
        let mut got = Vec::new();
        for piece in input.chunks(37) {
            d.push(piece);
            if let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
            assert!(d.buffer.len() <= 2 * (d.buffered_bytes() + 37) + 4 + 200);
        }
        while let Some(f) = d.next_frame().unwrap() {
            got.push(f);
        }
        assert_eq!(got, payloads);
        assert!(d.is_idle());
    }

    #[test]
    fn write_frame_patches_the_length() {
        let mut out = vec![9u8];
        write_frame(&mut out, |w| w.write_i32(5));
        assert_eq!(out, [9, 0, 0, 0, 4, 0, 0, 0, 5]);
    }
}

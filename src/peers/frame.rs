//! The peer transport's byte layout: frames and the handshake ("hello") that opens each
//! connection, with an encoder and a total, incremental decoder for each.
//!
//! All integers are big-endian.
//!
//! ```text
//! frame  = len u32 | crc32 u32 | payload[len]       crc32 (IEEE, crc32fast) of the payload
//! hello  = magic [4] | version u16 | flags u8 | cluster_id u64 | from u64 | to u64  (31 bytes)
//! ```
//!
//! Flags: bit 0 = fresh, the sender holds no cluster yet and `cluster_id` is the one it
//! would start (its bootstrap voters' hash); other bits are zero.
//!
//! The dialer's first frame is a hello with magic `FKPR`; an acceptor that takes it answers
//! with one hello with magic `FKPA` (the ack), whose `from` is the acceptor and `to` the
//! dialer. Invariants: the decoder never panics on any input, rejects a length over its
//! `frame_bytes_max` as soon as the header arrives (so it never buffers more than one
//! frame plus one read), and hands out a payload only if its crc matches.

use std::fmt;

/// Bytes before each payload: length and crc.
pub const FRAME_HEADER_BYTES: usize = 8;
/// The dialer's handshake.
pub const HELLO_MAGIC: [u8; 4] = *b"FKPR";
/// The acceptor's answer to a handshake it accepted.
pub const ACK_MAGIC: [u8; 4] = *b"FKPA";
pub const PROTOCOL_VERSION: u16 = 2;
pub const HELLO_BYTES: usize = 4 + 2 + 1 + 8 + 8 + 8;
const _: () = assert!(HELLO_BYTES == 31);
const FLAG_FRESH: u8 = 1;

/// Encodes one frame: header, then payload.
pub fn encode_frame(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("callers cap payloads at frame_bytes_max");
    let before = out.len();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
    assert_eq!(out.len() - before, FRAME_HEADER_BYTES + payload.len());
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    TooLong { len: u32, max: usize },
    BadCrc { expected: u32, actual: u32 },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len, max } => {
                write!(f, "frame length {len} is over the maximum {max}")
            }
            FrameError::BadCrc { expected, actual } => write!(
                f,
                "frame crc {actual:#010x} does not match its payload's {expected:#010x}"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Splits a byte stream into frames; fed whatever each read returned.
#[derive(Debug)]
pub struct FrameReader {
    /// Bytes received and not yet decoded start at `start`.
    buf: Vec<u8>,
    start: usize,
    frame_bytes_max: usize,
}

impl FrameReader {
    pub fn new(frame_bytes_max: usize) -> FrameReader {
        FrameReader {
            buf: Vec::new(),
            start: 0,
            frame_bytes_max,
        }
    }

    /// Bytes received and not yet decoded.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn push(&mut self, bytes: &[u8]) {
        // Reclaim the decoded prefix once it is most of the buffer, so the buffer stays
        // within about twice one frame plus one read, and copying stays amortized.
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame's payload, `Ok(None)` if it has not all arrived.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let rest = &self.buf[self.start..];
        if rest.len() < FRAME_HEADER_BYTES {
            return Ok(None);
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let expected = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len as usize > self.frame_bytes_max {
            return Err(FrameError::TooLong {
                len,
                max: self.frame_bytes_max,
            });
        }
        let end = FRAME_HEADER_BYTES + len as usize;
        if rest.len() < end {
            return Ok(None);
        }
        let payload = &rest[FRAME_HEADER_BYTES..end];
        let actual = crc32fast::hash(payload);
        if actual != expected {
            return Err(FrameError::BadCrc { expected, actual });
        }
        let payload = payload.to_vec();
        self.start += end;
        assert!(self.start <= self.buf.len(), "decoded past the buffer");
        Ok(Some(payload))
    }
}

/// Whether a hello opens a connection or answers one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloKind {
    Dial,
    Ack,
}

/// The handshake both ends exchange once per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    pub kind: HelloKind,
    pub identity: Identity,
    pub from: u64,
    pub to: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloError {
    Length { got: usize },
    Magic { got: [u8; 4] },
    Version { got: u16 },
    Flags { got: u8 },
}

/// Which cluster a server belongs to, as its hellos say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub cluster_id: u64,
    /// It holds no cluster yet; `cluster_id` is the one it would start.
    pub fresh: bool,
}

impl Identity {
    /// Whether a server that is `self` may talk to one that is `theirs`, and why not:
    /// established servers only within one cluster; a fresh server with any established one
    /// (it is joining, or the other is); two fresh ones only if they would start the same.
    pub fn admits(&self, theirs: Identity) -> Result<(), String> {
        match (self.fresh, theirs.fresh) {
            (true, false) | (false, true) => Ok(()),
            _ if self.cluster_id == theirs.cluster_id => Ok(()),
            (false, false) => Err(format!(
                "it presents cluster id {:#x} but ours is {:#x}",
                theirs.cluster_id, self.cluster_id
            )),
            (true, true) => Err(format!(
                "it would start cluster {:#x} but we would start {:#x} (another initial \
                 server list)",
                theirs.cluster_id, self.cluster_id
            )),
        }
    }
}

impl fmt::Display for HelloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelloError::Length { got } => {
                write!(f, "handshake of {got} bytes, expected {HELLO_BYTES}")
            }
            HelloError::Magic { got } => write!(
                f,
                "handshake magic {:?}, expected {:?} or {:?}",
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(&HELLO_MAGIC),
                String::from_utf8_lossy(&ACK_MAGIC)
            ),
            HelloError::Version { got } => {
                write!(f, "protocol version {got}, expected {PROTOCOL_VERSION}")
            }
            HelloError::Flags { got } => write!(f, "unknown handshake flags {got:#04x}"),
        }
    }
}

impl std::error::Error for HelloError {}

impl Hello {
    pub fn encode(&self) -> [u8; HELLO_BYTES] {
        let mut out = [0u8; HELLO_BYTES];
        out[0..4].copy_from_slice(match self.kind {
            HelloKind::Dial => &HELLO_MAGIC,
            HelloKind::Ack => &ACK_MAGIC,
        });
        out[4..6].copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        out[6] = if self.identity.fresh { FLAG_FRESH } else { 0 };
        out[7..15].copy_from_slice(&self.identity.cluster_id.to_be_bytes());
        out[15..23].copy_from_slice(&self.from.to_be_bytes());
        out[23..31].copy_from_slice(&self.to.to_be_bytes());
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Hello, HelloError> {
        let bytes: &[u8; HELLO_BYTES] = payload
            .try_into()
            .map_err(|_| HelloError::Length { got: payload.len() })?;
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        let kind = match magic {
            HELLO_MAGIC => HelloKind::Dial,
            ACK_MAGIC => HelloKind::Ack,
            got => return Err(HelloError::Magic { got }),
        };
        let version = u16::from_be_bytes([bytes[4], bytes[5]]);
        if version != PROTOCOL_VERSION {
            return Err(HelloError::Version { got: version });
        }
        let u64_at = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(word)
        };
        let flags = bytes[6];
        if flags & !FLAG_FRESH != 0 {
            return Err(HelloError::Flags { got: flags });
        }
        Ok(Hello {
            kind,
            identity: Identity {
                cluster_id: u64_at(7),
                fresh: flags & FLAG_FRESH != 0,
            },
            from: u64_at(15),
            to: u64_at(23),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(bytes: &[u8], max: usize) -> (Vec<Vec<u8>>, Option<FrameError>) {
        let mut reader = FrameReader::new(max);
        let mut frames = Vec::new();
        // Fed one byte at a time: every split point of the stream is exercised.
        for b in bytes {
            reader.push(std::slice::from_ref(b));
            loop {
                match reader.next_frame() {
                    Ok(Some(f)) => frames.push(f),
                    Ok(None) => break,
                    Err(e) => return (frames, Some(e)),
                }
            }
        }
        (frames, None)
    }

    #[test]
    fn frames_round_trip_across_every_split() {
        let payloads: Vec<Vec<u8>> = vec![vec![], vec![7], (0..=255u8).collect(), vec![1; 1000]];
        let mut stream = Vec::new();
        for p in &payloads {
            encode_frame(&mut stream, p);
        }
        let (frames, error) = frames_of(&stream, 1000);
        assert_eq!(error, None);
        assert_eq!(frames, payloads);
    }

    #[test]
    fn a_length_over_the_maximum_is_refused_at_the_header() {
        let mut stream = Vec::new();
        encode_frame(&mut stream, &[0u8; 101]);
        let (frames, error) = frames_of(&stream[..FRAME_HEADER_BYTES], 100);
        assert!(frames.is_empty());
        assert_eq!(error, Some(FrameError::TooLong { len: 101, max: 100 }));
    }

    #[test]
    fn a_flipped_payload_bit_is_a_crc_error() {
        let mut stream = Vec::new();
        encode_frame(&mut stream, b"hello peers");
        for bit in 0..(stream.len() - FRAME_HEADER_BYTES) * 8 {
            let mut bad = stream.clone();
            bad[FRAME_HEADER_BYTES + bit / 8] ^= 1 << (bit % 8);
            let (frames, error) = frames_of(&bad, 100);
            assert!(frames.is_empty(), "bit {bit}");
            assert!(
                matches!(error, Some(FrameError::BadCrc { .. })),
                "bit {bit}"
            );
        }
    }

    #[test]
    fn hello_round_trips_and_rejects_bad_magic_version_flags_and_length() {
        let hello = Hello {
            kind: HelloKind::Dial,
            identity: Identity {
                cluster_id: 0xfeed,
                fresh: false,
            },
            from: 1,
            to: u64::MAX,
        };
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
        let fresh_ack = Hello {
            kind: HelloKind::Ack,
            identity: Identity {
                fresh: true,
                ..hello.identity
            },
            ..hello
        };
        assert_eq!(fresh_ack.encode()[6], FLAG_FRESH);
        assert_eq!(Hello::decode(&fresh_ack.encode()), Ok(fresh_ack));
        let mut bad = hello.encode();
        bad[0] = b'X';
        assert!(matches!(Hello::decode(&bad), Err(HelloError::Magic { .. })));
        let mut bad = hello.encode();
        bad[5] = 9;
        assert_eq!(Hello::decode(&bad), Err(HelloError::Version { got: 9 }));
        let mut bad = hello.encode();
        bad[6] = 0x81;
        assert_eq!(Hello::decode(&bad), Err(HelloError::Flags { got: 0x81 }));
        assert_eq!(
            Hello::decode(&hello.encode()[..30]),
            Err(HelloError::Length { got: 30 })
        );
    }

    #[test]
    fn identities_admit_their_own_cluster_and_fresh_servers() {
        let id = |cluster_id, fresh| Identity { cluster_id, fresh };
        assert!(id(1, false).admits(id(1, false)).is_ok());
        assert!(id(1, false).admits(id(2, false)).is_err());
        // A joiner, or a server that lost its disk, meets an established cluster.
        assert!(id(1, false).admits(id(2, true)).is_ok());
        assert!(id(2, true).admits(id(1, false)).is_ok());
        // Two new servers start one cluster only from the same server list.
        assert!(id(3, true).admits(id(3, true)).is_ok());
        let refusal = id(3, true).admits(id(4, true)).unwrap_err();
        assert!(refusal.contains("another initial server list"), "{refusal}");
    }

    #[test]
    fn decoding_random_and_mutated_bytes_never_panics() {
        let mut prng = super::super::SplitMix64::new(42);
        let mut valid = Vec::new();
        let hello = Hello {
            kind: HelloKind::Dial,
            identity: Identity {
                cluster_id: 3,
                fresh: true,
            },
            from: 1,
            to: 2,
        };
        encode_frame(&mut valid, &hello.encode());
        encode_frame(&mut valid, b"payload");
        for round in 0..2000 {
            let mut bytes = if round % 2 == 0 {
                valid.clone()
            } else {
                let len = prng.below(64) as usize;
                (0..len).map(|_| prng.next_u64() as u8).collect()
            };
            if !bytes.is_empty() {
                let at = prng.below(bytes.len() as u64) as usize;
                bytes[at] = prng.next_u64() as u8;
                let cut = prng.below(bytes.len() as u64 + 1) as usize;
                bytes.truncate(cut);
            }
            let (frames, _) = frames_of(&bytes, 64);
            for frame in frames {
                if let Ok(hello) = Hello::decode(&frame) {
                    assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
                }
            }
        }
    }
}

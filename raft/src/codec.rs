//! The peer message codec: how `Message`s travel between servers.
//!
//! Frame layout (all integers big-endian):
//!
//! ```text
//! offset size field
//!   0     4  magic       "FKRM" (0x464B524D)
//!   4     1  version     CODEC_VERSION
//!   5     4  payload_len at most FRAME_PAYLOAD_BYTES_MAX
//!   9     4  crc32       CRC-32 (IEEE) of the payload
//!  13     n  payload     from u64, to u64, term u64, tag u8, body
//! ```
//!
//! Bodies by tag: 1 RequestVote (flags u8: pre_vote=1, transfer=2; last_log_index u64,
//! last_log_term u64); 2 RequestVoteResponse (flags u8: pre_vote=1, granted=2);
//! 3 AppendEntries (prev_log_index u64, prev_log_term u64, leader_commit u64, count u32,
//! entries: term u64, index u64, kind u8, len u32, data); 4 AppendEntriesResponse (success u8,
//! index u64, hint_index u64, hint_term u64); 5 Heartbeat (commit u64, read_seq u64);
//! 6 HeartbeatResponse (read_seq u64); 7 InstallSnapshot (index u64, term u64, voters
//! count u32 + u64s, learners count u32 + u64s, total_bytes u64, offset u64, len u32, data);
//! 8 InstallSnapshotResponse (index u64, next_offset u64); 9 TimeoutNow.
//!
//! The decoder is total: any byte string gives a message, "need more bytes", or an error with
//! the offset — never a panic, and never an allocation larger than the frame itself.

use byteorder::{BigEndian, ByteOrder};

use crate::membership::Membership;
use crate::message::{Entry, EntryKind, Message, MessageBody, SnapshotMeta};
use crate::{CodecError, LogIndex, NodeId, Term};

pub const CODEC_VERSION: u8 = 1;
const MAGIC: u32 = 0x464B_524D;
/// Bytes before the payload: magic, version, length, crc.
pub const FRAME_HEADER_BYTES: usize = 13;
const HEADER_BYTES: usize = FRAME_HEADER_BYTES;
/// Largest payload accepted; entries and snapshot chunks are sized well below it.
pub const FRAME_PAYLOAD_BYTES_MAX: usize = 64 << 20;

const _: () = assert!(HEADER_BYTES == 4 + 1 + 4 + 4);
const _: () = assert!(FRAME_PAYLOAD_BYTES_MAX < u32::MAX as usize);

/// Encodes `message` as one frame.
pub fn encode_message(message: &Message) -> Vec<u8> {
    let mut payload = Vec::with_capacity(64);
    put_u64(&mut payload, message.from.0);
    put_u64(&mut payload, message.to.0);
    put_u64(&mut payload, message.term.0);
    encode_body(&mut payload, &message.body);
    assert!(
        payload.len() <= FRAME_PAYLOAD_BYTES_MAX,
        "payload {} too large",
        payload.len()
    );
    let mut frame = Vec::with_capacity(HEADER_BYTES + payload.len());
    frame.extend_from_slice(&MAGIC.to_be_bytes());
    frame.push(CODEC_VERSION);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
    frame.extend_from_slice(&payload);
    assert!(
        frame.len() == HEADER_BYTES + payload.len(),
        "frame length {}",
        frame.len()
    );
    frame
}

/// Decodes the frame at the start of `buf`: `Ok(None)` if more bytes are needed, else the
/// message and the frame's length in bytes.
pub fn decode_message(buf: &[u8]) -> Result<Option<(Message, usize)>, CodecError> {
    if buf.len() < HEADER_BYTES {
        // Reject a wrong magic as early as it is visible.
        if buf.len() >= 4 && BigEndian::read_u32(buf) != MAGIC {
            return Err(CodecError::BadMagic {
                got: BigEndian::read_u32(buf),
            });
        }
        return Ok(None);
    }
    let magic = BigEndian::read_u32(&buf[0..4]);
    if magic != MAGIC {
        return Err(CodecError::BadMagic { got: magic });
    }
    if buf[4] != CODEC_VERSION {
        return Err(CodecError::UnsupportedVersion {
            got: buf[4],
            supported: CODEC_VERSION,
        });
    }
    let payload_len = BigEndian::read_u32(&buf[5..9]) as usize;
    if payload_len > FRAME_PAYLOAD_BYTES_MAX {
        return Err(CodecError::TooLarge {
            field: "payload",
            len: payload_len as u64,
            limit: FRAME_PAYLOAD_BYTES_MAX as u64,
        });
    }
    let frame_len = HEADER_BYTES + payload_len;
    if buf.len() < frame_len {
        return Ok(None);
    }
    let payload = &buf[HEADER_BYTES..frame_len];
    let expected = BigEndian::read_u32(&buf[9..13]);
    let got = crc32fast::hash(payload);
    if expected != got {
        return Err(CodecError::CrcMismatch { expected, got });
    }
    let mut reader = Reader {
        buf: payload,
        offset: 0,
        base: HEADER_BYTES,
    };
    let from = NodeId(reader.u64()?);
    let to = NodeId(reader.u64()?);
    let term = Term(reader.u64()?);
    let body = decode_body(&mut reader)?;
    if reader.offset != payload.len() {
        return Err(CodecError::TrailingBytes {
            offset: reader.position(),
            len: payload.len() - reader.offset,
        });
    }
    Ok(Some((
        Message {
            from,
            to,
            term,
            body,
        },
        frame_len,
    )))
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, data: &[u8]) {
    assert!(
        data.len() <= FRAME_PAYLOAD_BYTES_MAX,
        "field of {} bytes",
        data.len()
    );
    put_u32(out, data.len() as u32);
    out.extend_from_slice(data);
}

fn put_ids(out: &mut Vec<u8>, ids: &std::collections::BTreeSet<NodeId>) {
    put_u32(out, ids.len() as u32);
    ids.iter().for_each(|id| put_u64(out, id.0));
}

fn encode_body(out: &mut Vec<u8>, body: &MessageBody) {
    match body {
        MessageBody::RequestVote {
            pre_vote,
            last_log_index,
            last_log_term,
            transfer,
        } => {
            out.push(1);
            out.push(*pre_vote as u8 | (*transfer as u8) << 1);
            put_u64(out, last_log_index.0);
            put_u64(out, last_log_term.0);
        }
        MessageBody::RequestVoteResponse { pre_vote, granted } => {
            out.push(2);
            out.push(*pre_vote as u8 | (*granted as u8) << 1);
        }
        MessageBody::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        } => {
            out.push(3);
            put_u64(out, prev_log_index.0);
            put_u64(out, prev_log_term.0);
            put_u64(out, leader_commit.0);
            put_u32(out, entries.len() as u32);
            for entry in entries {
                put_u64(out, entry.term.0);
                put_u64(out, entry.index.0);
                out.push(match entry.kind {
                    EntryKind::Normal => 0,
                    EntryKind::ConfChange => 1,
                });
                put_bytes(out, &entry.data);
            }
        }
        MessageBody::AppendEntriesResponse {
            success,
            index,
            hint_index,
            hint_term,
        } => {
            out.push(4);
            out.push(*success as u8);
            put_u64(out, index.0);
            put_u64(out, hint_index.0);
            put_u64(out, hint_term.0);
        }
        MessageBody::Heartbeat { commit, read_seq } => {
            out.push(5);
            put_u64(out, commit.0);
            put_u64(out, *read_seq);
        }
        MessageBody::HeartbeatResponse { read_seq } => {
            out.push(6);
            put_u64(out, *read_seq);
        }
        MessageBody::InstallSnapshot {
            meta,
            total_bytes,
            offset,
            data,
        } => {
            out.push(7);
            put_u64(out, meta.index.0);
            put_u64(out, meta.term.0);
            put_ids(out, &meta.membership.voters);
            put_ids(out, &meta.membership.learners);
            put_u64(out, *total_bytes);
            put_u64(out, *offset);
            put_bytes(out, data);
        }
        MessageBody::InstallSnapshotResponse { index, next_offset } => {
            out.push(8);
            put_u64(out, index.0);
            put_u64(out, *next_offset);
        }
        MessageBody::TimeoutNow => out.push(9),
    }
}

/// A bounds-checked cursor over the payload; `base` turns offsets into frame offsets.
struct Reader<'a> {
    buf: &'a [u8],
    offset: usize,
    base: usize,
}

impl Reader<'_> {
    fn position(&self) -> usize {
        self.base + self.offset
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        let available = self.buf.len() - self.offset;
        if n > available {
            return Err(CodecError::Truncated {
                offset: self.position(),
                needed: n,
                available,
            });
        }
        let out = &self.buf[self.offset..self.offset + n];
        self.offset += n;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(BigEndian::read_u32(self.take(4)?))
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(BigEndian::read_u64(self.take(8)?))
    }

    /// A count of items of at least `item_bytes` each, checked against the bytes left so a
    /// forged count cannot make us allocate.
    fn count(&mut self, field: &'static str, item_bytes: usize) -> Result<usize, CodecError> {
        let count = self.u32()? as usize;
        let left = self.buf.len() - self.offset;
        if count.saturating_mul(item_bytes) > left {
            return Err(CodecError::TooLarge {
                field,
                len: count as u64,
                limit: (left / item_bytes) as u64,
            });
        }
        Ok(count)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, CodecError> {
        let len = self.count("bytes", 1)?;
        Ok(self.take(len)?.to_vec())
    }

    fn flags(&mut self, field: &'static str) -> Result<(bool, bool), CodecError> {
        let offset = self.position();
        let flags = self.u8()?;
        if flags > 3 {
            return Err(CodecError::Invalid { field, offset });
        }
        Ok((flags & 1 != 0, flags & 2 != 0))
    }

    /// Ids in strictly increasing order (the only encoding `encode_message` produces).
    fn ids(&mut self) -> Result<std::collections::BTreeSet<NodeId>, CodecError> {
        let count = self.count("ids", 8)?;
        let mut ids = std::collections::BTreeSet::new();
        for _ in 0..count {
            let offset = self.position();
            let id = NodeId(self.u64()?);
            if ids.last().is_some_and(|last| *last >= id) {
                return Err(CodecError::Invalid {
                    field: "ids not increasing",
                    offset,
                });
            }
            ids.insert(id);
        }
        Ok(ids)
    }
}

fn decode_body(r: &mut Reader<'_>) -> Result<MessageBody, CodecError> {
    let tag_offset = r.position();
    let tag = r.u8()?;
    let body = match tag {
        1 => {
            let (pre_vote, transfer) = r.flags("vote flags")?;
            let last_log_index = LogIndex(r.u64()?);
            let last_log_term = Term(r.u64()?);
            MessageBody::RequestVote {
                pre_vote,
                last_log_index,
                last_log_term,
                transfer,
            }
        }
        2 => {
            let (pre_vote, granted) = r.flags("vote response flags")?;
            MessageBody::RequestVoteResponse { pre_vote, granted }
        }
        3 => decode_append_entries(r)?,
        4 => {
            let offset = r.position();
            let success = match r.u8()? {
                0 => false,
                1 => true,
                _ => {
                    return Err(CodecError::Invalid {
                        field: "success",
                        offset,
                    })
                }
            };
            let index = LogIndex(r.u64()?);
            let hint_index = LogIndex(r.u64()?);
            let hint_term = Term(r.u64()?);
            MessageBody::AppendEntriesResponse {
                success,
                index,
                hint_index,
                hint_term,
            }
        }
        5 => MessageBody::Heartbeat {
            commit: LogIndex(r.u64()?),
            read_seq: r.u64()?,
        },
        6 => MessageBody::HeartbeatResponse { read_seq: r.u64()? },
        7 => decode_install_snapshot(r)?,
        8 => MessageBody::InstallSnapshotResponse {
            index: LogIndex(r.u64()?),
            next_offset: r.u64()?,
        },
        9 => MessageBody::TimeoutNow,
        tag => {
            return Err(CodecError::UnknownTag {
                field: "message",
                tag,
                offset: tag_offset,
            })
        }
    };
    Ok(body)
}

fn decode_append_entries(r: &mut Reader<'_>) -> Result<MessageBody, CodecError> {
    let prev_log_index = LogIndex(r.u64()?);
    let prev_log_term = Term(r.u64()?);
    let leader_commit = LogIndex(r.u64()?);
    // The smallest entry takes 21 bytes: term, index, kind, data length.
    let count = r.count("entries", 21)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let term = Term(r.u64()?);
        let index = LogIndex(r.u64()?);
        let offset = r.position();
        let kind = match r.u8()? {
            0 => EntryKind::Normal,
            1 => EntryKind::ConfChange,
            tag => {
                return Err(CodecError::UnknownTag {
                    field: "entry kind",
                    tag,
                    offset,
                })
            }
        };
        let data = r.bytes()?;
        entries.push(Entry {
            term,
            index,
            kind,
            data,
        });
    }
    Ok(MessageBody::AppendEntries {
        prev_log_index,
        prev_log_term,
        entries,
        leader_commit,
    })
}

fn decode_install_snapshot(r: &mut Reader<'_>) -> Result<MessageBody, CodecError> {
    let index = LogIndex(r.u64()?);
    let term = Term(r.u64()?);
    let offset = r.position();
    let voters = r.ids()?;
    let learners = r.ids()?;
    if voters.iter().any(|id| learners.contains(id)) {
        return Err(CodecError::Invalid {
            field: "membership",
            offset,
        });
    }
    let membership = Membership { voters, learners };
    let total_bytes = r.u64()?;
    let chunk_offset = r.u64()?;
    let data = r.bytes()?;
    let meta = SnapshotMeta {
        index,
        term,
        membership,
    };
    Ok(MessageBody::InstallSnapshot {
        meta,
        total_bytes,
        offset: chunk_offset,
        data,
    })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;

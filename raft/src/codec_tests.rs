//! Codec tests: round trips of every message kind, rejection of garbage, and a fuzz loop
//! (random, mutated, truncated and huge-length frames) driven by our own `Prng`.

use super::*;
use crate::membership::Membership;
use crate::Prng;

fn samples() -> Vec<Message> {
    let entry = |i: u64, kind, data: &[u8]| Entry {
        term: Term(3),
        index: LogIndex(i),
        kind,
        data: data.to_vec(),
    };
    let membership = Membership {
        voters: [1, 2, 3].into_iter().map(NodeId).collect(),
        learners: [4].into_iter().map(NodeId).collect(),
    };
    let bodies = vec![
        MessageBody::RequestVote {
            pre_vote: true,
            last_log_index: LogIndex(7),
            last_log_term: Term(2),
            transfer: false,
        },
        MessageBody::RequestVote {
            pre_vote: false,
            last_log_index: LogIndex(0),
            last_log_term: Term(0),
            transfer: true,
        },
        MessageBody::RequestVoteResponse {
            pre_vote: true,
            granted: false,
        },
        MessageBody::RequestVoteResponse {
            pre_vote: false,
            granted: true,
        },
        MessageBody::AppendEntries {
            prev_log_index: LogIndex(4),
            prev_log_term: Term(2),
            entries: vec![
                entry(5, EntryKind::Normal, b"hello"),
                entry(6, EntryKind::ConfChange, &[1, 0, 0, 0, 0, 0, 0, 0, 4]),
                entry(7, EntryKind::Normal, b""),
            ],
            leader_commit: LogIndex(4),
        },
        MessageBody::AppendEntries {
            prev_log_index: LogIndex(0),
            prev_log_term: Term(0),
            entries: vec![],
            leader_commit: LogIndex(0),
        },
        MessageBody::AppendEntriesResponse {
            success: false,
            index: LogIndex(9),
            hint_index: LogIndex(3),
            hint_term: Term(1),
        },
        MessageBody::Heartbeat {
            commit: LogIndex(12),
            read_seq: 99,
        },
        MessageBody::HeartbeatResponse { read_seq: u64::MAX },
        MessageBody::InstallSnapshot {
            meta: SnapshotMeta {
                index: LogIndex(40),
                term: Term(3),
                membership,
            },
            total_bytes: 100,
            offset: 16,
            data: vec![0xAB; 16],
        },
        MessageBody::InstallSnapshotResponse {
            index: LogIndex(40),
            next_offset: 32,
        },
        MessageBody::TimeoutNow,
    ];
    bodies
        .into_iter()
        .map(|body| Message {
            from: NodeId(1),
            to: NodeId(2),
            term: Term(3),
            body,
        })
        .collect()
}

#[test]
fn every_message_kind_round_trips() {
    for message in samples() {
        let frame = encode_message(&message);
        let (decoded, len) = decode_message(&frame).unwrap().unwrap();
        assert_eq!(decoded, message);
        assert_eq!(len, frame.len());
    }
}

#[test]
fn concatenated_frames_decode_one_at_a_time() {
    let messages = samples();
    let mut stream = Vec::new();
    for m in &messages {
        stream.extend(encode_message(m));
    }
    let mut offset = 0;
    for m in &messages {
        let (decoded, len) = decode_message(&stream[offset..]).unwrap().unwrap();
        assert_eq!(&decoded, m);
        offset += len;
    }
    assert_eq!(offset, stream.len());
}

#[test]
fn every_truncation_asks_for_more_bytes() {
    for message in samples() {
        let frame = encode_message(&message);
        for cut in 0..frame.len() {
            assert_eq!(
                decode_message(&frame[..cut]),
                Ok(None),
                "cut at {cut} of {message}"
            );
        }
    }
}

#[test]
fn garbage_is_rejected_with_a_reason() {
    let frame = encode_message(&samples()[4]);
    let mut bad_magic = frame.clone();
    bad_magic[0] ^= 0xFF;
    assert!(matches!(
        decode_message(&bad_magic),
        Err(CodecError::BadMagic { .. })
    ));
    let mut bad_version = frame.clone();
    bad_version[4] = 99;
    assert!(matches!(
        decode_message(&bad_version),
        Err(CodecError::UnsupportedVersion { .. })
    ));
    let mut bad_crc = frame.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    assert!(matches!(
        decode_message(&bad_crc),
        Err(CodecError::CrcMismatch { .. })
    ));
    let mut huge = frame.clone();
    huge[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        decode_message(&huge),
        Err(CodecError::TooLarge { .. })
    ));
}

/// Rewrites the header so a mutated payload passes the CRC and reaches the body decoder.
fn reframe(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&MAGIC.to_be_bytes());
    frame.push(CODEC_VERSION);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn unknown_tag_and_trailing_bytes_are_rejected() {
    let frame = encode_message(&samples()[11]);
    let mut payload = frame[HEADER_BYTES..].to_vec();
    let tag_at = payload.len() - 1;
    payload[tag_at] = 200;
    assert!(matches!(
        decode_message(&reframe(&payload)),
        Err(CodecError::UnknownTag { .. })
    ));
    let mut payload = frame[HEADER_BYTES..].to_vec();
    payload.push(0);
    assert!(matches!(
        decode_message(&reframe(&payload)),
        Err(CodecError::TrailingBytes { .. })
    ));
}

#[test]
fn fuzz_decoder_never_panics() {
    let mut prng = Prng::new(0xF022);
    let frames: Vec<Vec<u8>> = samples().iter().map(encode_message).collect();
    for round in 0..20_000 {
        let bytes = match round % 4 {
            // Random bytes, sometimes with a valid header prefix.
            0 => {
                let len = prng.below(64) as usize;
                let mut bytes: Vec<u8> = (0..len).map(|_| prng.next_u64() as u8).collect();
                if prng.chance(1, 2) && bytes.len() >= 5 {
                    bytes[..4].copy_from_slice(&MAGIC.to_be_bytes());
                    bytes[4] = CODEC_VERSION;
                }
                bytes
            }
            // A valid payload with flipped bytes, re-framed so the CRC passes.
            1 => {
                let frame = &frames[prng.below(frames.len() as u64) as usize];
                let mut payload = frame[HEADER_BYTES..].to_vec();
                for _ in 0..=prng.below(4) {
                    let at = prng.below(payload.len() as u64) as usize;
                    payload[at] ^= 1 << prng.below(8);
                }
                reframe(&payload)
            }
            // A truncated payload, re-framed.
            2 => {
                let frame = &frames[prng.below(frames.len() as u64) as usize];
                let payload = &frame[HEADER_BYTES..];
                let cut = prng.below(payload.len() as u64) as usize;
                reframe(&payload[..cut])
            }
            // Huge counts and lengths inside a well-framed payload.
            _ => {
                let frame = &frames[4];
                let mut payload = frame[HEADER_BYTES..].to_vec();
                let at = 25 + 24 + prng.below(8) as usize;
                if at + 4 <= payload.len() {
                    payload[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
                }
                reframe(&payload)
            }
        };
        // Must return, never panic; a success must re-encode to the same payload.
        if let Ok(Some((message, len))) = decode_message(&bytes) {
            assert_eq!(
                encode_message(&message),
                bytes[..len].to_vec(),
                "round {round}"
            );
        }
    }
}

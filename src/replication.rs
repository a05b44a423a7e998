//! The server's side of Raft: what its log entries carry, the small state Raft asks to keep
//! beside the log, and the start-up that rebuilds a `raft::Node` from disk.
//!
//! Every server runs a `raft::Node`; a server without `server.N` lines is a one-voter
//! cluster on the same code path (it campaigns at start-up and leads at once).
//!
//! * **zxid = log index.** A client txn gets the index of the entry that carries it as its
//!   zxid, so zxids are identical on every replica and grow across terms. Entries that carry
//!   no txn (a new leader's no-op, membership changes) leave gaps; the tree skips them.
//! * **Entry payload** (`EntryPayload`): `[version u8 = 1][origin server id u64][origin
//!   sequence u64][Txn]`. The origin pair lets the server that took the request from its
//!   client find the connection to answer once the entry is applied; every other server
//!   applies it silently.
//! * **Hard state** (`raft-state` in dataDir): term, vote, a commit index and flags (bit 0:
//!   recovering from a damaged log, see `raft::Node::start_recovering`), 32 bytes and a CRC, replaced atomically (tmp, fsync, rename, fsync dir) whenever the term or vote
//!   changes — before any message of that `Ready` leaves. A commit index alone is not worth
//!   an fsync: Raft learns it again from the leader (or, alone, by committing its no-op), so
//!   the stored one is only a lower bound.
//! * **Snapshot meta**: the membership in force at the snapshot's index, stored in the
//!   snapshot file's meta blob (the file header carries index and term).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};
use raft::{HardState, LogIndex, Membership, NodeId, Term};
use tree::Txn;

pub const RAFT_STATE_FILE: &str = "raft-state";
const RAFT_STATE_BYTES: usize = 4 + 8 + 8 + 8 + 4 + 4;
const FLAG_RECOVERING: u32 = 1;
const RAFT_STATE_MAGIC: u32 = 0x464b_5253; // "FKRS"
const PAYLOAD_VERSION: u8 = 1;
const SNAPSHOT_META_VERSION: u8 = 1;
/// Upper bound on members named in a snapshot's meta (ZooKeeper ensembles are small).
const MEMBERS_MAX: usize = 255;

/// What a `Normal` entry with data carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPayload {
    /// The server whose client sent the request (0: no client, e.g. a session expiry).
    pub origin: u64,
    /// That server's sequence number for the request.
    pub seq: u64,
    pub txn: Txn,
}

impl EntryPayload {
    pub fn encode(&self) -> Vec<u8> {
        // Room for a typical small request, so encoding does not regrow the vector.
        let mut w = wire::Writer::with_vec(Vec::with_capacity(256));
        w.bytes.push(PAYLOAD_VERSION);
        w.bytes.extend_from_slice(&self.origin.to_be_bytes());
        w.bytes.extend_from_slice(&self.seq.to_be_bytes());
        self.txn.encode(&mut w);
        w.into_inner()
    }

    /// Decodes `encode`'s output; `zxid` (the entry's index) replaces the stored one.
    pub fn decode(bytes: &[u8], zxid: i64) -> Result<EntryPayload, String> {
        if bytes.len() < 17 {
            return Err(format!(
                "entry payload of {} bytes is too short",
                bytes.len()
            ));
        }
        if bytes[0] != PAYLOAD_VERSION {
            return Err(format!("entry payload version {}, expected 1", bytes[0]));
        }
        let origin = BigEndian::read_u64(&bytes[1..9]);
        let seq = BigEndian::read_u64(&bytes[9..17]);
        let mut txn = Txn::decode(&bytes[17..]).map_err(|e| e.to_string())?;
        txn.zxid = zxid;
        Ok(EntryPayload { origin, seq, txn })
    }
}

/// What `raft-state` holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RaftState {
    pub hard_state: HardState,
    /// The log was damaged and discarded; Raft must not vote until caught up.
    pub recovering: bool,
}

/// Reads `dataDir/raft-state`; `None` if there is none (a new server).
pub fn read_hard_state(data_dir: &Path) -> Result<Option<RaftState>, String> {
    let path = data_dir.join(RAFT_STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let bad = |what: &str| format!("{}: {what}", path.display());
    if bytes.len() != RAFT_STATE_BYTES {
        return Err(bad(&format!(
            "expected {RAFT_STATE_BYTES} bytes, found {}",
            bytes.len()
        )));
    }
    let body = &bytes[..RAFT_STATE_BYTES - 4];
    let crc = BigEndian::read_u32(&bytes[RAFT_STATE_BYTES - 4..]);
    if crc32fast::hash(body) != crc {
        return Err(bad("checksum mismatch"));
    }
    if BigEndian::read_u32(&body[0..4]) != RAFT_STATE_MAGIC {
        return Err(bad("not a raft-state file"));
    }
    let term = BigEndian::read_u64(&body[4..12]);
    let vote = BigEndian::read_u64(&body[12..20]);
    let commit = BigEndian::read_u64(&body[20..28]);
    let flags = BigEndian::read_u32(&body[28..32]);
    if flags & !FLAG_RECOVERING != 0 {
        return Err(bad(&format!("unknown flags {flags:#x}")));
    }
    Ok(Some(RaftState {
        hard_state: HardState {
            term: Term(term),
            voted_for: (vote != 0).then_some(NodeId(vote)),
            commit: LogIndex(commit),
        },
        recovering: flags & FLAG_RECOVERING != 0,
    }))
}

/// Replaces `dataDir/raft-state` durably.
pub fn write_hard_state(data_dir: &Path, state: &RaftState) -> std::io::Result<()> {
    let hs = &state.hard_state;
    let mut bytes = Vec::with_capacity(RAFT_STATE_BYTES);
    bytes.extend_from_slice(&RAFT_STATE_MAGIC.to_be_bytes());
    bytes.extend_from_slice(&hs.term.0.to_be_bytes());
    bytes.extend_from_slice(&hs.voted_for.map(|v| v.0).unwrap_or(0).to_be_bytes());
    bytes.extend_from_slice(&hs.commit.0.to_be_bytes());
    let flags = if state.recovering { FLAG_RECOVERING } else { 0 };
    bytes.extend_from_slice(&flags.to_be_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    let path = data_dir.join(RAFT_STATE_FILE);
    let tmp: PathBuf = data_dir.join(format!("{RAFT_STATE_FILE}.tmp"));
    std::fs::write(&tmp, &bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(data_dir)?.sync_all()
}

pub fn encode_membership(m: &Membership) -> Vec<u8> {
    let mut out = vec![SNAPSHOT_META_VERSION];
    for set in [&m.voters, &m.learners] {
        out.extend_from_slice(&(set.len() as u32).to_be_bytes());
        for id in set.iter() {
            out.extend_from_slice(&id.0.to_be_bytes());
        }
    }
    out
}

pub fn decode_membership(bytes: &[u8]) -> Result<Membership, String> {
    let (&version, mut rest) = bytes
        .split_first()
        .ok_or("empty snapshot meta".to_string())?;
    if version != SNAPSHOT_META_VERSION {
        return Err(format!("snapshot meta version {version}, expected 1"));
    }
    let mut sets = [BTreeSet::new(), BTreeSet::new()];
    for set in sets.iter_mut() {
        if rest.len() < 4 {
            return Err("snapshot meta is truncated".to_string());
        }
        let count = BigEndian::read_u32(&rest[..4]) as usize;
        rest = &rest[4..];
        if count > MEMBERS_MAX || rest.len() < count * 8 {
            return Err(format!("snapshot meta names {count} members"));
        }
        for chunk in rest[..count * 8].chunks(8) {
            set.insert(NodeId(BigEndian::read_u64(chunk)));
        }
        rest = &rest[count * 8..];
    }
    if !rest.is_empty() {
        return Err(format!(
            "{} stray bytes after the snapshot meta",
            rest.len()
        ));
    }
    let [voters, learners] = sets;
    if voters.intersection(&learners).next().is_some() {
        return Err("a server is both voter and learner in the snapshot meta".to_string());
    }
    Ok(Membership { voters, learners })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_state_round_trips_and_damage_is_refused() {
        let dir = std::env::temp_dir().join(format!("fk-raft-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(read_hard_state(&dir).unwrap(), None);
        let state = RaftState {
            hard_state: HardState {
                term: Term(7),
                voted_for: Some(NodeId(3)),
                commit: LogIndex(42),
            },
            recovering: true,
        };
        write_hard_state(&dir, &state).unwrap();
        assert_eq!(read_hard_state(&dir).unwrap(), Some(state));
        let path = dir.join(RAFT_STATE_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_hard_state(&dir).unwrap_err().contains("checksum"));
        std::fs::write(&path, &bytes[..5]).unwrap();
        assert!(read_hard_state(&dir)
            .unwrap_err()
            .contains("expected 36 bytes"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn membership_round_trips_and_garbage_is_an_error() {
        let m = Membership {
            voters: [1, 2, 3].into_iter().map(NodeId).collect(),
            learners: [9].into_iter().map(NodeId).collect(),
        };
        let bytes = encode_membership(&m);
        assert_eq!(decode_membership(&bytes).unwrap(), m);
        for cut in 0..bytes.len() {
            assert!(decode_membership(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = bytes.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_membership(&huge).is_err());
    }

    #[test]
    fn payload_round_trips_with_the_entry_index_as_zxid() {
        let p = EntryPayload {
            origin: 2,
            seq: 99,
            txn: Txn {
                zxid: 0,
                time_ms: 1234,
                session_id: 0x77,
                auth: Vec::new(),
                op: tree::TxnOp::CloseSession,
            },
        };
        let bytes = p.encode();
        let back = EntryPayload::decode(&bytes, 17).unwrap();
        assert_eq!(back.txn.zxid, 17);
        assert_eq!((back.origin, back.seq), (2, 99));
        for cut in 0..bytes.len() {
            assert!(
                EntryPayload::decode(&bytes[..cut], 1).is_err(),
                "cut at {cut}"
            );
        }
    }
}

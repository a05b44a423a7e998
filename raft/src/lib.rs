//! `raft`: Raft consensus as a pure, deterministic state machine.
//!
//! The crate follows Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm"
//! (the *paper*, §5) and Ongaro's dissertation "Consensus: Bridging Theory and Practice" (the
//! *thesis*). Its shape is etcd-raft's: a single-threaded core with two inputs and one output.
//!
//! * Inputs: [`Node::tick`] (one logical clock tick) and [`Node::step`] (one peer message), plus
//!   the client-facing calls [`Node::propose`], [`Node::read_index`],
//!   [`Node::transfer_leadership`], [`Node::change_membership`] and [`Node::compact`].
//! * Output: [`Node::ready`] hands back one [`Ready`] batch; [`Node::advance`] takes it back by
//!   value, so a batch cannot be acknowledged twice.
//!
//! The node touches no sockets, files, clocks or OS randomness. Time is counted in ticks and
//! randomness comes from [`Prng`], seeded from [`Config::seed`], so a run is a function of its
//! inputs and can be replayed exactly.
//!
//! # The `Ready` contract
//!
//! The driver (the server's event loop, or the simulator) handles each `Ready` in this order:
//!
//! 1. **Persist.** Write `hard_state` (if `Some`), then `snapshot` (if `Some`: drop every
//!    stored entry, the snapshot replaces the whole log), then `entries`. `entries[0].index`
//!    may be at or below the last stored index: the stored log is then truncated from
//!    `entries[0].index` before the append (a follower resolving a conflict, paper §5.3).
//!    If `must_sync`, fsync before step 2.
//! 2. **Send** `messages`. Votes and acknowledgements among them promise that step 1 is durable
//!    (paper Figure 2: "respond to RPCs only after updating stable storage"), so they must never
//!    leave before the fsync. If a worker thread does the fsync, the messages wait for its "done".
//! 3. **Apply** `snapshot` (restore the state machine from it), then `committed` entries in index
//!    order. Release each [`ReadState`] in `read_states` once the applied index reaches its
//!    `index`.
//! 4. **Advance**: call [`Node::advance`] with the same `Ready`. The node remembers what the
//!    batch held, so the driver may first move `entries` and `committed` out of it (to a
//!    worker thread, say) instead of copying them.
//!
//! One exception to that order: committed entries below `entries[0].index` (all of them if
//! `entries` is empty) were made durable by earlier batches, since only one `Ready` is out
//! at a time, so the driver may apply them while step 1 runs (etcd's server applies while
//! its WAL syncs), unless the batch carries a `snapshot` or `events`. Messages still wait.
//!
//! Between `ready()` and `advance()` the driver may keep stepping the node; `ready()` returns
//! `None` until the outstanding batch is advanced. One `Ready` per event-loop turn costs one WAL
//! write and one fsync.
//!
//! `entries` never need applying by themselves; `committed` also carries empty `Normal` entries
//! (a new leader's no-op, paper §8) and `ConfChange` entries (membership, already in force):
//! a state machine skips both. A proposal is committed when `committed` carries an entry at
//! the index `propose` returned *with the term the leader had then*; a different term there
//! means the proposal was lost in a leader change and must be retried.
//!
//! # Snapshot bytes
//!
//! By default the node keeps the latest snapshot whole, to stream to lagging followers. A
//! driver that keeps snapshots itself (in files) sets [`Config::snapshot_bytes_in_driver`],
//! so that the image is not held in memory twice:
//! * it compacts with [`Node::compact_in_driver`], giving only the image's size, and
//!   restarts with `storage.snapshot.data` empty and `storage.snapshot_bytes` set;
//! * a snapshot from the leader comes in `Ready.snapshot` with its bytes moved out of the
//!   node: after persisting it, the driver is where they are;
//! * an `InstallSnapshot` message leaves with empty `data`: before sending it, the driver
//!   fills `data` with the bytes of the snapshot at `meta.index` from `offset`,
//!   `min(Config::snapshot_chunk_bytes, total_bytes - offset)` of them.
//!
//! # Protocol features
//!
//! | Feature | Source | Module |
//! |---|---|---|
//! | Randomized elections, one vote per term, up-to-date voting | paper §5.2, §5.4.1 | election |
//! | Pre-vote | thesis §9.6 | election |
//! | Check-quorum; lease that ignores disruptive votes | thesis §6.2, §4.2.3 | election |
//! | Replication: batching, pipelining, flow control, backtracking | paper §5.3 | replication |
//! | Commit current-term entries only by counting (Figure 8) | paper §5.4.2 | replication |
//! | Leadership transfer: catch up, TimeoutNow, abort | thesis §3.10 | transfer |
//! | Log compaction, chunked InstallSnapshot | paper §7 | snapshot |
//! | ReadIndex linearizable reads | thesis §6.4 | read_index |
//! | Membership one server at a time; learners, promotion | thesis §4 | membership |
//! | Versioned, CRC-checked peer message codec | — | codec |
//!
//! # Restart
//!
//! After a crash, rebuild the node with [`Node::new`] from what was persisted ([`Storage`]). The
//! state machine restarts from `storage.snapshot` (or empty); the first `Ready` re-delivers the
//! committed entries after it.

mod codec;
mod config;
mod election;
mod error;
mod log;
mod membership;
mod message;
mod node;
mod prng;
mod progress;
mod quorum;
mod read_index;
mod replication;
/// The seeded whole-cluster simulator; only with the `sim` feature.
#[cfg(feature = "sim")]
pub mod sim;
mod snapshot;
#[cfg(test)]
mod testkit;
mod transfer;

pub use codec::{
    decode_message, encode_message, CODEC_VERSION, FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX,
};
pub use config::{Config, Storage};
pub use error::{
    CodecError, CompactError, MembershipError, ProposeError, ReadIndexError, StepError,
    TransferError,
};
pub use membership::{ConfChange, Membership};
pub use message::{
    Entry, EntryKind, Event, HardState, Message, MessageBody, ReadState, Ready, Role, Snapshot,
    SnapshotMeta,
};
pub use node::Node;
pub use prng::Prng;

use std::fmt;

/// A Raft term (paper §5.1): a logical clock that only grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term(pub u64);

/// A position in the replicated log. Index 0 is the empty prefix; the first entry is 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogIndex(pub u64);

/// A server's identity in the cluster. 0 is never a valid id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u64);

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl LogIndex {
    /// The next index. Log indexes never approach `u64::MAX`.
    pub fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }

    /// The previous index, saturating at 0 (the empty prefix).
    pub fn prev(self) -> LogIndex {
        LogIndex(self.0.saturating_sub(1))
    }
}

impl Term {
    /// The next term, used by a candidate (paper §5.2).
    pub fn next(self) -> Term {
        Term(self.0 + 1)
    }
}

//! `Config` and `Storage`: what a node is built from — its static settings, and what it finds
//! on stable storage when it (re)starts (paper Figure 2, "Persistent state on all servers").

use crate::membership::ConfChange;
use crate::message::{Entry, EntryKind, HardState, Snapshot};
use crate::{LogIndex, NodeId, Term};

/// Static settings of one node. Durations are in ticks.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// Base election timeout; each wait is drawn from `[election_ticks, 2 * election_ticks)`
    /// (paper §5.2: randomized timeouts make split votes rare).
    pub election_ticks: u32,
    /// Leader heartbeat interval; must be well below `election_ticks`.
    pub heartbeat_ticks: u32,
    /// Seed of the node's `Prng`.
    pub seed: u64,
    /// Thesis §9.6: ask for pre-votes before disrupting the cluster with a new term.
    pub pre_vote: bool,
    /// Thesis §6.2: a leader steps down after an election timeout without hearing from a
    /// quorum; followers that heard from a leader within the timeout ignore vote requests
    /// (the lease of §4.2.3 / §6.4.1).
    pub check_quorum: bool,
    /// Upper bound on entry bytes per AppendEntries (at least one entry always goes).
    pub msg_bytes_max: usize,
    /// Flow control per follower (in `Replicate` state).
    pub inflight_msgs_max: usize,
    pub inflight_bytes_max: usize,
    /// Proposals are refused while this many bytes are uncommitted.
    pub uncommitted_bytes_max: usize,
    /// Snapshot chunk size for InstallSnapshot.
    pub snapshot_chunk_bytes: usize,
    /// Largest snapshot a follower accepts.
    pub snapshot_bytes_max: u64,
    /// ReadIndex requests waiting for their heartbeat round.
    pub pending_reads_max: usize,
    /// Upper bound on committed entry bytes per `Ready` (at least one entry always goes), so
    /// a restart with a long log applies it in slices.
    pub apply_bytes_max: usize,
    /// The driver keeps snapshot bytes; the node only their size. It compacts with
    /// `compact_in_driver`, hands a snapshot from the leader out by moving its bytes into
    /// the `Ready`, and sends InstallSnapshot chunks with empty `data` for the driver to fill
    /// (see "Snapshot bytes" in the crate docs). Without it the node holds every snapshot
    /// whole, which for a large state machine doubles the memory it takes.
    pub snapshot_bytes_in_driver: bool,
}

impl Config {
    /// Defaults suited to a 100 ms tick: election after 1–2 s, heartbeats every 100 ms.
    pub fn new(id: NodeId, seed: u64) -> Config {
        Config {
            id,
            election_ticks: 10,
            heartbeat_ticks: 1,
            seed,
            pre_vote: true,
            check_quorum: true,
            msg_bytes_max: 1 << 20,
            inflight_msgs_max: 256,
            inflight_bytes_max: 8 << 20,
            uncommitted_bytes_max: 64 << 20,
            snapshot_chunk_bytes: 1 << 20,
            snapshot_bytes_max: 4 << 30,
            pending_reads_max: 4096,
            apply_bytes_max: 64 << 20,
            snapshot_bytes_in_driver: false,
        }
    }

    pub(crate) fn validate(&self) {
        assert!(self.id.0 != 0, "node id 0 is reserved");
        assert!(self.heartbeat_ticks > 0, "heartbeat_ticks must be positive");
        assert!(
            self.election_ticks > self.heartbeat_ticks,
            "election_ticks {} <= heartbeat_ticks {}",
            self.election_ticks,
            self.heartbeat_ticks
        );
        assert!(
            self.inflight_msgs_max > 0,
            "inflight_msgs_max must be positive"
        );
        assert!(
            self.snapshot_chunk_bytes > 0,
            "snapshot_chunk_bytes must be positive"
        );
    }
}

/// What a node finds on stable storage when it (re)starts.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    /// With `Config::snapshot_bytes_in_driver`: the size of `snapshot`'s image, whose bytes
    /// the driver keeps (`snapshot.data` is then empty). Otherwise unused.
    pub snapshot_bytes: u64,
    /// Entries after the snapshot, contiguous.
    pub entries: Vec<Entry>,
}

impl Storage {
    /// The storage every *initial* server writes on first start: a committed `Bootstrap`
    /// entry at index 1, term 1, naming the initial voters. Joining servers start from
    /// `Storage::default()` instead and receive that entry from the leader.
    pub fn bootstrap(voters: &[NodeId]) -> Storage {
        assert!(!voters.is_empty(), "bootstrap needs at least one voter");
        let change = ConfChange::Bootstrap {
            voters: voters.to_vec(),
        };
        let entry = Entry {
            term: Term(1),
            index: LogIndex(1),
            kind: EntryKind::ConfChange,
            data: change.encode(),
        };
        Storage {
            hard_state: HardState {
                term: Term(1),
                voted_for: None,
                commit: LogIndex(1),
            },
            snapshot: None,
            snapshot_bytes: 0,
            entries: vec![entry],
        }
    }
}

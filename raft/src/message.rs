//! The values that cross the node's boundary: log entries, peer messages, the persisted
//! `HardState`, snapshots, and the `Ready` batch with its events.
//!
//! Every type has a canonical one-line `Display`; scenario scripts and the simulator's trace
//! print exactly that. The RPCs are the paper's (Figure 2: RequestVote, AppendEntries), plus
//! InstallSnapshot (paper §7, chunked), pre-vote (thesis §9.6) and TimeoutNow (thesis §3.10).

use crate::membership::Membership;
use crate::{LogIndex, NodeId, StepError, Term};
use std::fmt;

/// What an entry carries. Membership changes live in the log (thesis §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Opaque client data for the state machine. A new leader appends one with empty data
    /// (paper §8: commit an entry of its own term to learn what is committed).
    Normal,
    /// An encoded `ConfChange`; takes effect as soon as it is appended (thesis §4.1).
    ConfChange,
}

/// One log entry (paper Figure 2: "each entry contains command for state machine, and term when
/// entry was received by leader").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub term: Term,
    pub index: LogIndex,
    pub kind: EntryKind,
    pub data: Vec<u8>,
}

impl Entry {
    /// Bytes this entry costs in flow control and size limits (data plus a fixed header).
    pub fn size_bytes(&self) -> usize {
        self.data.len() + 24
    }
}

/// State that must be on stable storage before any message of the same `Ready` is sent
/// (paper Figure 2, "Persistent state on all servers"). `commit` is persisted too, so a
/// restarted node can re-apply without waiting for a leader; losing it is safe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: Term,
    pub voted_for: Option<NodeId>,
    pub commit: LogIndex,
}

/// Identifies a snapshot: it replaces the log prefix up to `index`, whose last entry had
/// `term`, and carries the membership in force at `index` (paper §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub index: LogIndex,
    pub term: Term,
    pub membership: Membership,
}

/// A snapshot: its metadata plus the state machine's opaque image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub data: Vec<u8>,
}

/// A peer message: the sender's term and identity travel on every message (paper §5.1:
/// "if one server's current term is smaller than the other's, then it updates its term").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    pub body: MessageBody,
}

/// The message kinds. Field names follow the paper's Figure 2 where one exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageBody {
    /// RequestVote (paper §5.2). With `pre_vote`, `term` is the term the sender *would* use; the
    /// receiver changes nothing (thesis §9.6). `transfer` marks a vote forced by TimeoutNow,
    /// which may override a leader lease (thesis §3.10, §4.2.3).
    RequestVote {
        pre_vote: bool,
        last_log_index: LogIndex,
        last_log_term: Term,
        transfer: bool,
    },
    RequestVoteResponse {
        pre_vote: bool,
        granted: bool,
    },
    /// AppendEntries (paper §5.3).
    AppendEntries {
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
    },
    /// On success `index` is the follower's last index matching the leader. On rejection
    /// `index` is the rejected `prev_log_index` and (`hint_index`, `hint_term`) is the
    /// follower's last entry that may still match (fast backtracking, paper §5.3 end).
    AppendEntriesResponse {
        success: bool,
        index: LogIndex,
        hint_index: LogIndex,
        hint_term: Term,
    },
    /// An empty AppendEntries that carries no log position (paper §5.2: heartbeats keep
    /// followers from starting elections). `commit` is capped at the follower's match index.
    /// `read_seq` numbers the heartbeat round for ReadIndex (thesis §6.4).
    Heartbeat {
        commit: LogIndex,
        read_seq: u64,
    },
    HeartbeatResponse {
        read_seq: u64,
    },
    /// InstallSnapshot (paper §7), one chunk of `meta`'s image at byte `offset`; `total_bytes`
    /// lets the receiver bound its buffer before accepting anything.
    InstallSnapshot {
        meta: SnapshotMeta,
        total_bytes: u64,
        offset: u64,
        data: Vec<u8>,
    },
    /// Acknowledges snapshot bytes up to `next_offset` of the snapshot at `index`.
    InstallSnapshotResponse {
        index: LogIndex,
        next_offset: u64,
    },
    /// Thesis §3.10: "start an election now", sent to a caught-up transfer target.
    TimeoutNow,
}

/// A released linearizable read (thesis §6.4): serve request `ctx` once applied ≥ `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    pub ctx: u64,
    pub index: LogIndex,
}

/// A node's role (paper §5.1, plus the pre-candidate of thesis §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// A transition worth logging, reported as data (the crate has no logger).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    BecameFollower {
        term: Term,
        leader: Option<NodeId>,
    },
    BecamePreCandidate {
        term: Term,
    },
    BecameCandidate {
        term: Term,
    },
    BecameLeader {
        term: Term,
    },
    /// Check-quorum (thesis §6.2): the leader heard from no quorum for an election timeout.
    CheckQuorumFailed {
        term: Term,
    },
    TransferStarted {
        to: NodeId,
    },
    TransferAborted {
        to: NodeId,
    },
    MembershipChanged {
        index: LogIndex,
        membership: Membership,
    },
    SnapshotInstalled {
        index: LogIndex,
        term: Term,
    },
    /// A pending ReadIndex request can no longer be served here (leadership lost).
    ReadAborted {
        ctx: u64,
    },
    /// A node recovering from lost storage caught up with a leader (commit at `index`, an
    /// entry of the leader's term); it votes and may campaign again.
    RecoveryDone {
        index: LogIndex,
    },
}

/// One batch of work for the driver; see the contract in the crate documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Term, vote and commit, when changed since the last `Ready`.
    pub hard_state: Option<HardState>,
    /// Entries to append to stable storage, truncating from `entries[0].index` first.
    pub entries: Vec<Entry>,
    /// A snapshot received from the leader: persist it, drop the log it covers, restore.
    pub snapshot: Option<Snapshot>,
    /// Messages to send once the above is durable.
    pub messages: Vec<Message>,
    /// Committed entries to apply, in order, after `snapshot`.
    pub committed: Vec<Entry>,
    /// Linearizable reads to release once applied ≥ their index.
    pub read_states: Vec<ReadState>,
    /// True when term, vote or log changed: the persist must be fsynced before sending.
    pub must_sync: bool,
    pub events: Vec<Event>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            EntryKind::Normal => "",
            EntryKind::ConfChange => "conf:",
        };
        write!(
            f,
            "{}/{} {kind}{}",
            self.term,
            self.index,
            DataDisplay(&self.data)
        )
    }
}

/// Shows entry data as text when it is printable ASCII, else as its length.
struct DataDisplay<'a>(&'a [u8]);

impl fmt::Display for DataDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            write!(f, "<empty>")
        } else if self.0.iter().all(|b| b.is_ascii_graphic()) && self.0.len() <= 32 {
            write!(f, "{}", String::from_utf8_lossy(self.0))
        } else {
            write!(f, "<{} bytes>", self.0.len())
        }
    }
}

impl fmt::Display for SnapshotMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snap(index={} term={} {})",
            self.index, self.term, self.membership
        )
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{} t{} ", self.from, self.to, self.term)?;
        match &self.body {
            MessageBody::RequestVote {
                pre_vote,
                last_log_index,
                last_log_term,
                transfer,
            } => {
                let kind = if *pre_vote { "PreVote" } else { "Vote" };
                let forced = if *transfer { " transfer" } else { "" };
                write!(f, "{kind} last={last_log_term}/{last_log_index}{forced}")
            }
            MessageBody::RequestVoteResponse { pre_vote, granted } => {
                let kind = if *pre_vote { "PreVoteResp" } else { "VoteResp" };
                let verdict = if *granted { "granted" } else { "rejected" };
                write!(f, "{kind} {verdict}")
            }
            MessageBody::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => {
                write!(
                    f,
                    "App prev={prev_log_term}/{prev_log_index} commit={leader_commit} ["
                )?;
                for (i, entry) in entries.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{entry}")?;
                }
                write!(f, "]")
            }
            MessageBody::AppendEntriesResponse {
                success,
                index,
                hint_index,
                hint_term,
            } => {
                if *success {
                    write!(f, "AppResp ok index={index}")
                } else {
                    write!(
                        f,
                        "AppResp reject index={index} hint={hint_term}/{hint_index}"
                    )
                }
            }
            MessageBody::Heartbeat { commit, read_seq } => {
                write!(f, "Heartbeat commit={commit} seq={read_seq}")
            }
            MessageBody::HeartbeatResponse { read_seq } => {
                write!(f, "HeartbeatResp seq={read_seq}")
            }
            MessageBody::InstallSnapshot {
                meta,
                total_bytes,
                offset,
                data,
            } => {
                let len = data.len();
                write!(f, "Snapshot {meta} bytes={offset}+{len}/{total_bytes}")
            }
            MessageBody::InstallSnapshotResponse { index, next_offset } => {
                write!(f, "SnapshotResp index={index} next={next_offset}")
            }
            MessageBody::TimeoutNow => write!(f, "TimeoutNow"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::BecameFollower { term, leader } => match leader {
                Some(leader) => write!(f, "became follower at term {term} (leader {leader})"),
                None => write!(f, "became follower at term {term}"),
            },
            Event::BecamePreCandidate { term } => write!(f, "became pre-candidate at term {term}"),
            Event::BecameCandidate { term } => write!(f, "became candidate at term {term}"),
            Event::BecameLeader { term } => write!(f, "became leader at term {term}"),
            Event::CheckQuorumFailed { term } => {
                write!(f, "check-quorum failed at term {term}: stepping down")
            }
            Event::TransferStarted { to } => write!(f, "leadership transfer to {to} started"),
            Event::TransferAborted { to } => write!(f, "leadership transfer to {to} aborted"),
            Event::MembershipChanged { index, membership } => {
                write!(f, "membership at {index}: {membership}")
            }
            Event::SnapshotInstalled { index, term } => {
                write!(f, "installed snapshot at {term}/{index}")
            }
            Event::ReadAborted { ctx } => write!(f, "read {ctx} aborted"),
            Event::RecoveryDone { index } => {
                write!(f, "caught up after lost storage (commit {index})")
            }
        }
    }
}

impl fmt::Display for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ready")?;
        if let Some(hs) = &self.hard_state {
            let vote = hs.voted_for.map_or("-".to_string(), |v| v.to_string());
            write!(f, " hs(term={} vote={vote} commit={})", hs.term, hs.commit)?;
        }
        if !self.entries.is_empty() {
            let first = &self.entries[0];
            let last = &self.entries[self.entries.len() - 1];
            write!(f, " entries={}..={}", first.index, last.index)?;
        }
        if let Some(snapshot) = &self.snapshot {
            write!(f, " {}", snapshot.meta)?;
        }
        if !self.committed.is_empty() {
            let first = &self.committed[0];
            let last = &self.committed[self.committed.len() - 1];
            write!(f, " committed={}..={}", first.index, last.index)?;
        }
        for read in &self.read_states {
            write!(f, " read({}@{})", read.ctx, read.index)?;
        }
        write!(f, " msgs={}", self.messages.len())?;
        if self.must_sync {
            write!(f, " sync")?;
        }
        Ok(())
    }
}

/// Structural checks on a peer message, before any state is touched.
pub(crate) fn validate_message(me: NodeId, m: &Message) -> Result<(), StepError> {
    if m.to != me {
        return Err(StepError::WrongRecipient { to: m.to, me });
    }
    if m.from == me {
        return Err(StepError::FromSelf);
    }
    if m.from.0 == 0 {
        return Err(StepError::Malformed("sender id 0"));
    }
    match &m.body {
        MessageBody::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            ..
        } => {
            let mut expect_index = prev_log_index.next();
            let mut floor_term = *prev_log_term;
            for entry in entries {
                if entry.index != expect_index {
                    return Err(StepError::Malformed(
                        "entries not contiguous after prev_log_index",
                    ));
                }
                if entry.term < floor_term || entry.term > m.term {
                    return Err(StepError::Malformed("entry terms out of order"));
                }
                expect_index = expect_index.next();
                floor_term = entry.term;
            }
            if *prev_log_term > m.term {
                return Err(StepError::Malformed("prev_log_term above message term"));
            }
        }
        MessageBody::InstallSnapshot {
            meta,
            total_bytes,
            offset,
            data,
        } => {
            if meta.index.0 == 0 || meta.term > m.term {
                return Err(StepError::Malformed(
                    "snapshot index 0 or term above message term",
                ));
            }
            let end = offset.checked_add(data.len() as u64);
            if end.is_none_or(|end| end > *total_bytes) {
                return Err(StepError::Malformed("snapshot chunk beyond total size"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Leader-originated messages: they tell a follower who leads the term.
pub(crate) fn is_from_leader(body: &MessageBody) -> bool {
    matches!(
        body,
        MessageBody::AppendEntries { .. }
            | MessageBody::Heartbeat { .. }
            | MessageBody::InstallSnapshot { .. }
            | MessageBody::TimeoutNow
    )
}

//! The crate's error types: one enum per entry point, each with a hand-written `Display`.
//!
//! Errors are for inputs the caller or a peer got wrong, or for requests the node cannot serve
//! in its current role. Broken invariants are never errors: they `assert!` and abort.

use crate::{LogIndex, NodeId, Term};
use std::fmt;

/// Why `Node::step` refused a message. The node's state is unchanged in every case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError {
    /// The message is addressed to another node.
    WrongRecipient { to: NodeId, me: NodeId },
    /// The message claims to come from this node.
    FromSelf,
    /// A message field is out of range (e.g. entries not contiguous); the text says which.
    Malformed(&'static str),
}

/// Why `Node::propose` refused an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// Only the leader appends; `leader` is the last known leader, if any.
    NotLeader { leader: Option<NodeId> },
    /// A leadership transfer is under way (thesis §3.10: stop accepting new requests).
    TransferInProgress { to: NodeId },
    /// Too many uncommitted bytes are in flight; retry after some commit.
    Backpressure {
        uncommitted_bytes: usize,
        limit_bytes: usize,
    },
    /// The entry alone exceeds the message size limit.
    TooLarge {
        size_bytes: usize,
        limit_bytes: usize,
    },
}

/// Why `Node::read_index` refused a read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadIndexError {
    NotLeader {
        leader: Option<NodeId>,
    },
    /// Too many reads are waiting for their heartbeat round.
    Backpressure {
        pending: usize,
    },
}

/// Why `Node::transfer_leadership` refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferError {
    NotLeader {
        leader: Option<NodeId>,
    },
    /// The target is not a voter in the current membership.
    NotVoter {
        to: NodeId,
    },
    /// Another transfer is under way.
    AlreadyTransferring {
        to: NodeId,
    },
}

/// Why `Node::change_membership` refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipError {
    NotLeader {
        leader: Option<NodeId>,
    },
    /// Thesis §4.1: one change at a time; `index` holds the uncommitted one.
    ChangeInProgress {
        index: LogIndex,
    },
    /// Thesis §4.1 (bug fix, 2015): a new leader must commit an entry of its own term before it
    /// may change the membership.
    NoCommitInTerm {
        term: Term,
    },
    /// The change does not apply to the current membership (e.g. promoting a non-learner).
    Invalid(&'static str),
    /// Thesis §4.2.1: a learner is promoted only once it has caught up.
    NotCaughtUp {
        id: NodeId,
        match_index: LogIndex,
        commit: LogIndex,
    },
    TransferInProgress {
        to: NodeId,
    },
}

/// Why `Node::compact` refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompactError {
    /// Only applied entries can be folded into a snapshot.
    NotApplied { index: LogIndex, applied: LogIndex },
    /// The log already starts after `index`.
    AlreadyCompacted {
        index: LogIndex,
        snapshot_index: LogIndex,
    },
}

/// Why the peer-message decoder rejected a frame. Decoding never panics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecError {
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    BadMagic {
        got: u32,
    },
    UnsupportedVersion {
        got: u8,
        supported: u8,
    },
    CrcMismatch {
        expected: u32,
        got: u32,
    },
    TooLarge {
        field: &'static str,
        len: u64,
        limit: u64,
    },
    UnknownTag {
        field: &'static str,
        tag: u8,
        offset: usize,
    },
    TrailingBytes {
        offset: usize,
        len: usize,
    },
    Invalid {
        field: &'static str,
        offset: usize,
    },
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::WrongRecipient { to, me } => {
                write!(f, "message addressed to {to}, this node is {me}")
            }
            StepError::FromSelf => write!(f, "message claims to come from this node"),
            StepError::Malformed(why) => write!(f, "malformed message: {why}"),
        }
    }
}

impl fmt::Display for ProposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProposeError::NotLeader { leader } => write!(f, "not leader (leader {leader:?})"),
            ProposeError::TransferInProgress { to } => {
                write!(f, "leadership transfer to {to} in progress")
            }
            ProposeError::Backpressure {
                uncommitted_bytes,
                limit_bytes,
            } => {
                write!(
                    f,
                    "{uncommitted_bytes} uncommitted bytes, limit {limit_bytes}"
                )
            }
            ProposeError::TooLarge {
                size_bytes,
                limit_bytes,
            } => {
                write!(f, "entry of {size_bytes} bytes exceeds {limit_bytes}")
            }
        }
    }
}

impl fmt::Display for ReadIndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadIndexError::NotLeader { leader } => write!(f, "not leader (leader {leader:?})"),
            ReadIndexError::Backpressure { pending } => write!(f, "{pending} reads pending"),
        }
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::NotLeader { leader } => write!(f, "not leader (leader {leader:?})"),
            TransferError::NotVoter { to } => write!(f, "{to} is not a voter"),
            TransferError::AlreadyTransferring { to } => write!(f, "already transferring to {to}"),
        }
    }
}

impl fmt::Display for MembershipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MembershipError::NotLeader { leader } => write!(f, "not leader (leader {leader:?})"),
            MembershipError::ChangeInProgress { index } => {
                write!(f, "membership change at index {index} not yet committed")
            }
            MembershipError::NoCommitInTerm { term } => {
                write!(f, "leader has not committed an entry of term {term} yet")
            }
            MembershipError::Invalid(why) => write!(f, "invalid membership change: {why}"),
            MembershipError::NotCaughtUp {
                id,
                match_index,
                commit,
            } => {
                write!(
                    f,
                    "learner {id} at {match_index} has not caught up to commit {commit}"
                )
            }
            MembershipError::TransferInProgress { to } => {
                write!(f, "leadership transfer to {to} in progress")
            }
        }
    }
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactError::NotApplied { index, applied } => {
                write!(f, "cannot compact to {index}: applied only {applied}")
            }
            CompactError::AlreadyCompacted {
                index,
                snapshot_index,
            } => {
                write!(
                    f,
                    "cannot compact to {index}: snapshot already at {snapshot_index}"
                )
            }
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Truncated {
                offset,
                needed,
                available,
            } => {
                write!(
                    f,
                    "truncated at offset {offset}: need {needed} bytes, have {available}"
                )
            }
            CodecError::BadMagic { got } => write!(f, "bad magic {got:#010x}"),
            CodecError::UnsupportedVersion { got, supported } => {
                write!(
                    f,
                    "unsupported version {got}, this build speaks {supported}"
                )
            }
            CodecError::CrcMismatch { expected, got } => {
                write!(
                    f,
                    "crc mismatch: header says {expected:#010x}, payload has {got:#010x}"
                )
            }
            CodecError::TooLarge { field, len, limit } => {
                write!(f, "{field} length {len} exceeds limit {limit}")
            }
            CodecError::UnknownTag { field, tag, offset } => {
                write!(f, "unknown {field} tag {tag} at offset {offset}")
            }
            CodecError::TrailingBytes { offset, len } => {
                write!(f, "{len} trailing bytes at offset {offset}")
            }
            CodecError::Invalid { field, offset } => {
                write!(f, "invalid {field} at offset {offset}")
            }
        }
    }
}

impl std::error::Error for StepError {}
impl std::error::Error for ProposeError {}
impl std::error::Error for ReadIndexError {}
impl std::error::Error for TransferError {}
impl std::error::Error for MembershipError {}
impl std::error::Error for CompactError {}
impl std::error::Error for CodecError {}

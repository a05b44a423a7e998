//! `Progress`: the leader's view of one follower (paper Figure 2, "Volatile state on leaders":
//! `nextIndex` and `matchIndex`), plus etcd-raft's flow control.
//!
//! A follower is in one of three states:
//! * `Probe`: we do not know where its log matches ours; send one AppendEntries at a time and
//!   wait for the answer (paper §5.3, "decrement nextIndex and retry").
//! * `Replicate`: logs match up to `match_index`; stream entries optimistically (pipelining),
//!   bounded by `Inflights` (count and bytes).
//! * `Snapshot`: the entries it needs are compacted; stream the snapshot (paper §7).
//!
//! Invariant: `match_index < next_index`.

use std::collections::VecDeque;

use crate::LogIndex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProgressState {
    Probe,
    Replicate,
    /// Sending the snapshot at `index`; `acked_bytes` of it are confirmed received.
    Snapshot {
        index: LogIndex,
        acked_bytes: u64,
    },
}

/// Messages sent in `Replicate` state and not yet acknowledged: (last index, bytes).
#[derive(Clone, Debug)]
pub(crate) struct Inflights {
    sent: VecDeque<(LogIndex, usize)>,
    bytes: usize,
    count_max: usize,
    bytes_max: usize,
}

impl Inflights {
    pub(crate) fn new(count_max: usize, bytes_max: usize) -> Inflights {
        assert!(count_max > 0, "inflight count limit must be positive");
        Inflights {
            sent: VecDeque::new(),
            bytes: 0,
            count_max,
            bytes_max,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.sent.len() >= self.count_max || self.bytes >= self.bytes_max
    }

    pub(crate) fn add(&mut self, last: LogIndex, bytes: usize) {
        assert!(
            !self.is_full(),
            "inflights full: {} msgs, {} bytes",
            self.sent.len(),
            self.bytes
        );
        if let Some((prev_last, _)) = self.sent.back() {
            assert!(last > *prev_last, "inflight {last} not after {prev_last}");
        }
        self.sent.push_back((last, bytes));
        self.bytes += bytes;
    }

    /// Everything up to `index` was acknowledged.
    pub(crate) fn free_to(&mut self, index: LogIndex) {
        while let Some((last, bytes)) = self.sent.front() {
            if *last > index {
                break;
            }
            self.bytes -= bytes;
            self.sent.pop_front();
        }
    }

    /// Lets one more message out when a heartbeat response shows the follower is alive but
    /// acknowledgements were lost.
    pub(crate) fn free_first(&mut self) {
        if let Some((_, bytes)) = self.sent.pop_front() {
            self.bytes -= bytes;
        }
    }

    pub(crate) fn reset(&mut self) {
        self.sent.clear();
        self.bytes = 0;
    }
}

/// Heartbeat answers a snapshot chunk may go unacknowledged before it is first resent.
pub(crate) const SNAPSHOT_PATIENCE_MIN: u32 = 10;
/// And at most, however slow the link.
const SNAPSHOT_PATIENCE_MAX: u32 = 600;

#[derive(Clone, Debug)]
pub(crate) struct Progress {
    pub(crate) match_index: LogIndex,
    pub(crate) next_index: LogIndex,
    pub(crate) state: ProgressState,
    /// In `Probe`: one message is out and unanswered; wait for a response or heartbeat.
    pub(crate) probe_sent: bool,
    pub(crate) inflights: Inflights,
    /// Heard from since the last check-quorum round (thesis §6.2).
    pub(crate) recent_active: bool,
    /// The highest ReadIndex heartbeat round this follower acknowledged (thesis §6.4).
    pub(crate) read_ack: u64,
    /// In `Snapshot`: heartbeat answers since the last chunk acknowledgement, and how many
    /// may pass before the chunk is sent again (doubling with each resend: on a slow link a
    /// chunk takes many heartbeats, and each resend would add a copy of the stream).
    pub(crate) snapshot_quiet_heartbeats: u32,
    pub(crate) snapshot_patience: u32,
}

impl Progress {
    pub(crate) fn new(next_index: LogIndex, inflights: Inflights) -> Progress {
        assert!(next_index.0 >= 1, "next index must be at least 1");
        Progress {
            match_index: LogIndex(0),
            next_index,
            state: ProgressState::Probe,
            probe_sent: false,
            inflights,
            recent_active: true,
            read_ack: 0,
            snapshot_quiet_heartbeats: 0,
            snapshot_patience: SNAPSHOT_PATIENCE_MIN,
        }
    }

    /// Whether sending must wait: a probe is out, the pipeline is full, or a snapshot streams.
    pub(crate) fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflights.is_full(),
            ProgressState::Snapshot { .. } => true,
        }
    }

    pub(crate) fn become_probe(&mut self) {
        // After a snapshot, probing starts right after it.
        let next = match self.state {
            ProgressState::Snapshot { index, .. } => index.max(self.match_index).next(),
            _ => self.match_index.next(),
        };
        self.state = ProgressState::Probe;
        self.next_index = next;
        self.probe_sent = false;
        self.inflights.reset();
        self.check_invariants();
    }

    pub(crate) fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next_index = self.match_index.next();
        self.probe_sent = false;
        self.inflights.reset();
        self.check_invariants();
    }

    pub(crate) fn become_snapshot(&mut self, index: LogIndex) {
        self.state = ProgressState::Snapshot {
            index,
            acked_bytes: 0,
        };
        self.probe_sent = false;
        self.inflights.reset();
        self.snapshot_quiet_heartbeats = 0;
        self.snapshot_patience = SNAPSHOT_PATIENCE_MIN;
    }

    /// In `Snapshot`, a heartbeat answer: true if the chunk in flight should be sent again
    /// (no acknowledgement for `snapshot_patience` answers; the patience then doubles).
    pub(crate) fn snapshot_chunk_overdue(&mut self) -> bool {
        self.snapshot_quiet_heartbeats += 1;
        if self.snapshot_quiet_heartbeats < self.snapshot_patience {
            return false;
        }
        self.snapshot_quiet_heartbeats = 0;
        self.snapshot_patience = (self.snapshot_patience * 2).min(SNAPSHOT_PATIENCE_MAX);
        true
    }

    /// In `Snapshot`, the follower acknowledged new bytes: patience starts over.
    pub(crate) fn snapshot_chunk_acked(&mut self) {
        self.snapshot_quiet_heartbeats = 0;
        self.snapshot_patience = SNAPSHOT_PATIENCE_MIN;
    }

    /// A successful AppendEntries response up to `index`. Returns true if it was news.
    pub(crate) fn maybe_update(&mut self, index: LogIndex) -> bool {
        let updated = index > self.match_index;
        if updated {
            self.match_index = index;
            self.probe_sent = false;
        }
        self.next_index = self.next_index.max(index.next());
        self.check_invariants();
        updated
    }

    /// A rejection of `prev_log_index = rejected`; `match_hint` is the leader's guess of the
    /// last matching index (fast backtracking). Returns false for a stale rejection.
    pub(crate) fn maybe_decrease_to(&mut self, rejected: LogIndex, match_hint: LogIndex) -> bool {
        if self.state == ProgressState::Replicate {
            // Only a rejection above what is known to match is news; then probe from there.
            if rejected <= self.match_index {
                return false;
            }
            self.next_index = self.match_index.next();
            return true;
        }
        // In Probe only the answer to the outstanding probe counts.
        if self.next_index.prev() != rejected {
            return false;
        }
        self.next_index = rejected.min(match_hint.next()).max(self.match_index.next());
        self.probe_sent = false;
        self.check_invariants();
        true
    }

    /// An optimistic send in `Replicate` of entries up to `last`.
    pub(crate) fn sent_entries(&mut self, last: LogIndex, bytes: usize) {
        match self.state {
            ProgressState::Replicate => {
                if last >= self.next_index {
                    self.next_index = last.next();
                    self.inflights.add(last, bytes);
                }
            }
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Snapshot { .. } => {
                unreachable!("entries sent to a follower receiving a snapshot")
            }
        }
    }

    pub(crate) fn check_invariants(&self) {
        assert!(
            self.match_index < self.next_index,
            "match {} >= next {}",
            self.match_index,
            self.next_index
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(matched: u64, next: u64) -> Progress {
        let mut p = Progress::new(LogIndex(next), Inflights::new(2, 1000));
        p.match_index = LogIndex(matched);
        p
    }

    #[test]
    fn probe_ignores_stale_rejections_and_uses_hint() {
        let mut p = progress(0, 10);
        assert!(
            !p.maybe_decrease_to(LogIndex(5), LogIndex(3)),
            "stale rejection"
        );
        assert!(p.maybe_decrease_to(LogIndex(9), LogIndex(3)));
        assert_eq!(p.next_index, LogIndex(4));
    }

    #[test]
    fn replicate_falls_back_to_match_plus_one() {
        let mut p = progress(5, 6);
        p.become_replicate();
        p.sent_entries(LogIndex(8), 10);
        assert_eq!(p.next_index, LogIndex(9));
        assert!(!p.maybe_decrease_to(LogIndex(4), LogIndex(0)));
        assert!(p.maybe_decrease_to(LogIndex(7), LogIndex(0)));
        assert_eq!(p.next_index, LogIndex(6));
    }

    #[test]
    fn inflights_bound_the_pipeline() {
        let mut p = progress(5, 6);
        p.become_replicate();
        p.sent_entries(LogIndex(6), 10);
        p.sent_entries(LogIndex(7), 10);
        assert!(p.is_paused());
        p.inflights.free_to(LogIndex(6));
        assert!(!p.is_paused());
    }
}

//! ReadIndex: linearizable reads without writing to the log (thesis §6.4).
//!
//! 1. The leader must have committed an entry of its current term, so its commit index is at
//!    least that of every earlier leader (its no-op entry, paper §8). Until then reads wait.
//! 2. It records its commit index as the read index.
//! 3. It confirms it is still leader: it sends a round of heartbeats, numbered `read_seq`, and
//!    waits until a majority of voters acknowledge a round at least that new.
//! 4. It releases the read: the driver serves it once applied ≥ read index.
//!
//! Reads are released in order; one heartbeat round confirms every read registered before it.
//! A leader that steps down aborts its pending reads (`Event::ReadAborted`).

use std::collections::VecDeque;

use crate::message::{Event, ReadState, Role};
use crate::node::Node;
use crate::quorum::majority;
use crate::{LogIndex, ReadIndexError};

#[derive(Clone, Copy, Debug)]
pub(crate) struct PendingRead {
    ctx: u64,
    index: LogIndex,
    /// The heartbeat round that confirms it; 0 while waiting for the term's first commit.
    seq: u64,
}

#[derive(Debug, Default)]
pub(crate) struct ReadQueue {
    /// The latest heartbeat round number; rounds only grow within a leader's term.
    pub(crate) seq: u64,
    pending: VecDeque<PendingRead>,
}

impl Node {
    /// Requests a linearizable read tagged `ctx`; it comes back in `Ready.read_states`.
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ReadIndexError> {
        if self.role != Role::Leader {
            return Err(ReadIndexError::NotLeader {
                leader: self.leader,
            });
        }
        if self.reads.pending.len() >= self.config.pending_reads_max {
            return Err(ReadIndexError::Backpressure {
                pending: self.reads.pending.len(),
            });
        }
        self.reads.pending.push_back(PendingRead {
            ctx,
            index: LogIndex(0),
            seq: 0,
        });
        self.release_reads();
        self.check_invariants();
        Ok(())
    }

    fn has_committed_in_term(&self) -> bool {
        self.log.term(self.log.commit) == Some(self.term)
    }

    /// Moves reads along: numbers the ones waiting for a first commit, starts a heartbeat
    /// round for new ones, and releases those a quorum confirmed.
    pub(crate) fn release_reads(&mut self) {
        if self.role != Role::Leader
            || self.reads.pending.is_empty()
            || !self.has_committed_in_term()
        {
            return;
        }
        let commit = self.log.commit;
        let unnumbered = self.reads.pending.iter().any(|r| r.seq == 0);
        if unnumbered {
            self.reads.seq += 1;
            let seq = self.reads.seq;
            for read in self.reads.pending.iter_mut().filter(|r| r.seq == 0) {
                read.seq = seq;
                read.index = commit;
            }
            self.bcast_heartbeat();
        }
        let confirmed = self.confirmed_read_seq();
        while let Some(read) = self.reads.pending.front().copied() {
            if read.seq > confirmed {
                break;
            }
            assert!(
                read.index <= self.log.commit,
                "read index {} > commit {}",
                read.index,
                self.log.commit
            );
            self.read_states.push(ReadState {
                ctx: read.ctx,
                index: read.index,
            });
            self.reads.pending.pop_front();
        }
    }

    /// The newest heartbeat round acknowledged by a majority of voters (the leader counts as
    /// having acknowledged every round it sent, if it is a voter).
    fn confirmed_read_seq(&self) -> u64 {
        // Mutant for the simulator's linearizability check: skip the quorum round.
        #[cfg(raft_mutant = "read_without_quorum")]
        return u64::MAX;
        #[allow(unreachable_code)]
        let voters = &self.membership.voters;
        if voters.is_empty() {
            return 0;
        }
        let mut acks: Vec<u64> = voters
            .iter()
            .map(|id| {
                if *id == self.id {
                    u64::MAX
                } else {
                    self.progress.get(id).map_or(0, |p| p.read_ack)
                }
            })
            .collect();
        acks.sort_unstable_by(|a, b| b.cmp(a));
        acks[majority(voters.len()) - 1]
    }

    /// Leadership lost: the reads can no longer be confirmed here.
    pub(crate) fn abort_reads(&mut self) {
        while let Some(read) = self.reads.pending.pop_front() {
            self.events.push(Event::ReadAborted { ctx: read.ctx });
        }
        self.reads.seq = 0;
        assert!(self.reads.pending.is_empty(), "reads left after abort");
    }
}

#[cfg(test)]
#[path = "read_index_tests.rs"]
mod tests;

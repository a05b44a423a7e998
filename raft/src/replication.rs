//! Log replication and commitment (paper §5.3, §5.4).
//!
//! * The leader appends client entries to its log and sends them with AppendEntries; each
//!   carries the index and term of the entry before them, so a follower accepts them only if
//!   its log matches up to there (§5.3, the Log Matching property).
//! * A follower that does not match says so, with a hint: the last entry of its log that may
//!   still match (fast backtracking, end of §5.3). The leader skips a whole term at a time.
//! * An entry is committed once stored on a majority — but the leader only counts replicas of
//!   entries *from its current term* (§5.4.2, Figure 8); older entries commit indirectly.
//! * Flow control: a follower in `Replicate` gets a pipeline of messages bounded in count and
//!   bytes; one in `Probe` gets one message at a time (`progress.rs`).
//! * Heartbeats carry `min(match, commit)` so a follower never commits past what it has.

use crate::message::{Entry, EntryKind, MessageBody, Role};
use crate::node::Node;
use crate::progress::ProgressState;
use crate::quorum::quorum_index;
use crate::{LogIndex, NodeId, ProposeError, Term};

impl Node {
    /// Appends `data` as a new entry if this node leads. The entry gets term `self.term()`;
    /// it is committed once `Ready.committed` carries an entry at the returned index *with that
    /// term* (another term there means the proposal was lost to a leader change).
    pub fn propose(&mut self, data: Vec<u8>) -> Result<LogIndex, ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if let Some(transfer) = &self.transfer {
            return Err(ProposeError::TransferInProgress { to: transfer.to });
        }
        let size_bytes = data.len() + 24;
        if size_bytes > self.config.msg_bytes_max {
            return Err(ProposeError::TooLarge {
                size_bytes,
                limit_bytes: self.config.msg_bytes_max,
            });
        }
        if self.uncommitted_bytes + size_bytes > self.config.uncommitted_bytes_max {
            return Err(ProposeError::Backpressure {
                uncommitted_bytes: self.uncommitted_bytes,
                limit_bytes: self.config.uncommitted_bytes_max,
            });
        }
        let index = self.append_as_leader(EntryKind::Normal, data);
        self.bcast_append();
        self.check_invariants();
        assert!(
            self.log.term(index) == Some(self.term),
            "proposal at {index} lost its term"
        );
        Ok(index)
    }

    /// Leader: send new entries (or commit news) to every other member.
    pub(crate) fn bcast_append(&mut self) {
        let others: Vec<NodeId> = self
            .progress
            .keys()
            .copied()
            .filter(|id| *id != self.id)
            .collect();
        for to in others {
            self.send_append(to, true);
        }
    }

    /// Leader: send `to` the entries after its `next_index`, or the snapshot if they are
    /// compacted. With `send_if_empty` false, nothing goes unless there are entries. Returns
    /// whether a message was sent.
    pub(crate) fn send_append(&mut self, to: NodeId, send_if_empty: bool) -> bool {
        let Some(progress) = self.progress.get(&to) else {
            return false;
        };
        if progress.is_paused() {
            return false;
        }
        let next = progress.next_index;
        let prev_log_index = next.prev();
        let entries = self.log.entries_from(next, self.config.msg_bytes_max);
        let (Some(prev_log_term), Ok(entries)) = (self.log.term(prev_log_index), entries) else {
            // Paper §7: what the follower needs is compacted; send the snapshot instead.
            self.send_snapshot(to);
            return true;
        };
        if entries.is_empty() && !send_if_empty {
            return false;
        }
        let bytes: usize = entries.iter().map(Entry::size_bytes).sum();
        let last = entries.last().map_or(prev_log_index, |e| e.index);
        let progress = self.progress.get_mut(&to).expect("progress checked above");
        progress.sent_entries(last, bytes);
        let leader_commit = self.log.commit;
        self.send(
            to,
            MessageBody::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            },
        );
        true
    }

    /// Leader: heartbeats to every other member (paper §5.2). They carry the current ReadIndex
    /// round (thesis §6.4).
    pub(crate) fn bcast_heartbeat(&mut self) {
        let read_seq = self.reads.seq;
        let targets: Vec<(NodeId, LogIndex)> = self
            .progress
            .iter()
            .filter(|(id, _)| **id != self.id)
            .map(|(id, p)| (*id, p.match_index.min(self.log.commit)))
            .collect();
        for (to, commit) in targets {
            self.send(to, MessageBody::Heartbeat { commit, read_seq });
        }
    }

    /// Leader: `id` reports that its log ends at `last_index`, below what it acknowledged
    /// (its storage was damaged and it restarted, see `Node::start_recovering`). Raft assumes
    /// stable storage, so nothing in the protocol would tell us: heartbeats carry no log
    /// position. Replication to it restarts from there; its surviving prefix still matches
    /// ours, as it did when acknowledged. A report at or above what we know is stale and
    /// ignored, so a recovering follower may repeat it.
    pub fn follower_lost_entries(&mut self, id: NodeId, last_index: LogIndex) {
        if self.role != Role::Leader || id == self.id {
            return;
        }
        let Some(progress) = self.progress.get_mut(&id) else {
            return;
        };
        if progress.match_index <= last_index
            || matches!(progress.state, ProgressState::Snapshot { .. })
        {
            return;
        }
        progress.match_index = last_index;
        progress.become_probe();
        self.send_append(id, true);
        self.check_invariants();
    }

    /// Follower: paper §5.3, AppendEntries receiver.
    pub(crate) fn handle_append_entries(
        &mut self,
        from: NodeId,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
    ) {
        self.accept_leader(from);
        if prev_log_index < self.log.commit {
            // Everything up to our commit matches the leader's log already (Leader
            // Completeness); report it so the leader resumes from there.
            let index = self.log.commit;
            self.respond_append(from, true, index, LogIndex(0), Term(0));
            return;
        }
        let has_conf = entries.iter().any(|e| e.kind == EntryKind::ConfChange);
        match self
            .log
            .maybe_append(prev_log_index, prev_log_term, entries)
        {
            Some((last_new, truncated)) => {
                if has_conf || truncated {
                    // Thesis §4.1: configurations take effect when appended and revert when
                    // truncated.
                    self.refresh_membership();
                }
                // Receiver rule 5: commitIndex = min(leaderCommit, index of last new entry).
                self.log.commit_to(leader_commit.min(last_new));
                self.respond_append(from, true, last_new, LogIndex(0), Term(0));
            }
            None => {
                let probe = prev_log_index.min(self.log.last_index());
                let (hint_index, hint_term) = self.log.find_conflict_by_term(probe, prev_log_term);
                self.respond_append(from, false, prev_log_index, hint_index, hint_term);
            }
        }
    }

    fn respond_append(
        &mut self,
        to: NodeId,
        success: bool,
        index: LogIndex,
        hint_index: LogIndex,
        hint_term: Term,
    ) {
        self.send(
            to,
            MessageBody::AppendEntriesResponse {
                success,
                index,
                hint_index,
                hint_term,
            },
        );
    }

    /// Follower: a message from this term's leader (paper §5.2: it resets the election timer,
    /// and a candidate that hears from a leader of its term steps down).
    pub(crate) fn accept_leader(&mut self, from: NodeId) {
        if self.role != Role::Follower || self.leader != Some(from) {
            // Election Safety (paper §5.2): at most one leader per term.
            assert!(
                self.role != Role::Leader,
                "leader {} got a leader message from {from} in \
                its own term {}",
                self.id,
                self.term
            );
            self.become_follower(self.term, Some(from));
        }
        self.election_elapsed = 0;
    }

    pub(crate) fn handle_append_response(
        &mut self,
        from: NodeId,
        success: bool,
        index: LogIndex,
        hint_index: LogIndex,
        hint_term: Term,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let Some(progress) = self.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        if !success {
            // Fast backtracking: find our last entry that can match the follower's hint.
            let match_hint = if hint_term.0 > 0 || hint_index.0 > 0 {
                self.log.find_conflict_by_term(hint_index, hint_term).0
            } else {
                hint_index
            };
            let progress = self.progress.get_mut(&from).expect("looked up above");
            if let ProgressState::Snapshot { .. } = progress.state {
                return;
            }
            if progress.maybe_decrease_to(index, match_hint) {
                if progress.state == ProgressState::Replicate {
                    progress.become_probe();
                }
                self.send_append(from, true);
            }
            return;
        }
        let was_paused = progress.is_paused();
        if !progress.maybe_update(index) {
            return;
        }
        match progress.state {
            ProgressState::Probe => progress.become_replicate(),
            ProgressState::Snapshot {
                index: snapshot_index,
                ..
            } if progress.match_index >= snapshot_index => {
                progress.become_probe();
                progress.become_replicate();
            }
            ProgressState::Snapshot { .. } => {}
            ProgressState::Replicate => progress.inflights.free_to(index),
        }
        if self.maybe_commit() {
            self.bcast_append();
        } else if was_paused {
            self.send_append(from, false);
        }
        // Keep the pipeline full.
        while self.send_append(from, false) {}
        self.maybe_send_timeout_now(from);
    }

    /// Follower: a heartbeat from this term's leader.
    pub(crate) fn handle_heartbeat(&mut self, from: NodeId, commit: LogIndex, read_seq: u64) {
        self.accept_leader(from);
        // The leader caps `commit` at our match index, so we hold every entry up to it.
        self.log.commit_to(commit.min(self.log.last_index()));
        self.send(from, MessageBody::HeartbeatResponse { read_seq });
    }

    pub(crate) fn handle_heartbeat_response(&mut self, from: NodeId, read_seq: u64) {
        if self.role != Role::Leader {
            return;
        }
        let last_index = self.log.last_index();
        let Some(progress) = self.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        progress.probe_sent = false;
        progress.read_ack = progress.read_ack.max(read_seq);
        if progress.state == ProgressState::Replicate && progress.inflights.is_full() {
            progress.inflights.free_first();
        }
        let behind = progress.match_index < last_index;
        if let ProgressState::Snapshot { .. } = progress.state {
            // The follower is alive but may have lost a chunk (a dropped connection): resend
            // from its last ack, once it has been quiet for longer than a chunk should take.
            if progress.snapshot_chunk_overdue() {
                self.resend_snapshot_chunk(from);
            }
        } else if behind {
            self.send_append(from, true);
        }
        self.release_reads();
    }

    /// Leader: advance the commit index to the highest entry stored on a majority — if that
    /// entry is from the current term (paper §5.4.2, Figure 8). Returns whether it moved.
    pub(crate) fn maybe_commit(&mut self) -> bool {
        assert!(self.role == Role::Leader, "maybe_commit as {:?}", self.role);
        if self.membership.voters.is_empty() {
            return false;
        }
        let progress = &self.progress;
        let index = quorum_index(&self.membership.voters, |id| {
            progress.get(&id).map_or(LogIndex(0), |p| p.match_index)
        });
        if index <= self.log.commit {
            return false;
        }
        // Figure 8: "a leader cannot immediately conclude that an entry from a previous term is
        // committed once it is stored on a majority". Only current-term entries count.
        let figure_8_rule = self.log.term(index) == Some(self.term);
        #[cfg(raft_mutant = "figure8")]
        let figure_8_rule = true;
        if !figure_8_rule {
            return false;
        }
        let old = self.log.commit;
        self.log.commit_to(index);
        self.on_commit_advanced(old);
        true
    }

    /// Leader bookkeeping after the commit index moved past `old`.
    fn on_commit_advanced(&mut self, old: LogIndex) {
        let released: usize = ((old.0 + 1)..=self.log.commit.0)
            .filter_map(|i| self.log.entry(LogIndex(i)).map(Entry::size_bytes))
            .sum();
        self.uncommitted_bytes = self.uncommitted_bytes.saturating_sub(released);
        self.release_reads();
        // Thesis §4.2.2: a leader removed from the configuration steps down once the change
        // is committed.
        if self.membership_index <= self.log.commit && !self.membership.is_voter(self.id) {
            self.become_follower(self.term, None);
        }
    }
}

#[cfg(test)]
#[path = "replication_tests.rs"]
mod tests;

//! Log compaction and InstallSnapshot (paper §7, thesis chapter 5).
//!
//! * The driver snapshots its state machine at an applied index and calls `Node::compact`;
//!   the node drops the log up to there and keeps the snapshot to send.
//! * A leader whose follower needs compacted entries streams the snapshot in chunks of
//!   `Config::snapshot_chunk_bytes`. Each chunk is acknowledged with the next offset wanted;
//!   a lost chunk is resent from the last acknowledged offset on the next heartbeat response.
//! * The follower buffers chunks in order (bounded by `Config::snapshot_bytes_max`). With the
//!   last one, paper §7's receiver rules apply: if its log already holds the snapshot's last
//!   entry it keeps the following entries; otherwise it discards the whole log and installs
//!   the snapshot via `Ready.snapshot`.

use crate::message::{Entry, Event, MessageBody, Role, Snapshot, SnapshotMeta};
use crate::node::Node;
use crate::progress::ProgressState;
use crate::{CompactError, LogIndex, NodeId, Term};

/// A snapshot being received, chunk by chunk. Invariant: `data.len() <= total_bytes`.
pub(crate) struct IncomingSnapshot {
    meta: SnapshotMeta,
    total_bytes: u64,
    data: Vec<u8>,
}

impl Node {
    /// Folds the log up to `index` (which must be applied) into a snapshot whose state-machine
    /// image is `data`. The driver persists the snapshot itself and may then drop its log up
    /// to `index`. Returns the entries taken out of memory, for the driver to free where it
    /// likes: a snapshot's worth of entries is many thousands of allocations.
    pub fn compact(&mut self, index: LogIndex, data: Vec<u8>) -> Result<Vec<Entry>, CompactError> {
        assert!(
            !self.config.snapshot_bytes_in_driver,
            "the driver keeps snapshot bytes: compact_in_driver"
        );
        let total_bytes = data.len() as u64;
        self.compact_with(index, data, total_bytes)
    }

    /// `compact` for a driver that keeps the image's bytes itself
    /// (`Config::snapshot_bytes_in_driver`): the node learns only its size.
    pub fn compact_in_driver(
        &mut self,
        index: LogIndex,
        total_bytes: u64,
    ) -> Result<Vec<Entry>, CompactError> {
        assert!(
            self.config.snapshot_bytes_in_driver,
            "the node keeps snapshot bytes: compact"
        );
        self.compact_with(index, Vec::new(), total_bytes)
    }

    fn compact_with(
        &mut self,
        index: LogIndex,
        data: Vec<u8>,
        total_bytes: u64,
    ) -> Result<Vec<Entry>, CompactError> {
        let snapshot_index = self.log.first_index().prev();
        if index <= snapshot_index {
            return Err(CompactError::AlreadyCompacted {
                index,
                snapshot_index,
            });
        }
        if index > self.log.applied || index > self.log.stable_index() {
            return Err(CompactError::NotApplied {
                index,
                applied: self.log.applied,
            });
        }
        let term = self
            .log
            .term(index)
            .expect("applied entries after the snapshot have terms");
        let membership = self.membership_at(index);
        let dropped = self.log.compact(
            SnapshotMeta {
                index,
                term,
                membership,
            },
            data,
            total_bytes,
        );
        assert!(
            self.log.first_index() == index.next(),
            "log starts at {} after compacting to \
            {index}",
            self.log.first_index()
        );
        self.check_invariants();
        Ok(dropped)
    }

    /// Leader: start streaming our snapshot to `to`.
    pub(crate) fn send_snapshot(&mut self, to: NodeId) {
        let snapshot = self
            .log
            .snapshot()
            .expect("a compacted log keeps its snapshot");
        let index = snapshot.meta.index;
        let progress = self
            .progress
            .get_mut(&to)
            .expect("send_snapshot to a member");
        progress.become_snapshot(index);
        self.send_snapshot_chunk(to, 0);
    }

    /// Leader: after a heartbeat response, resend from the follower's last acknowledgement —
    /// or restart if we compacted again since.
    pub(crate) fn resend_snapshot_chunk(&mut self, to: NodeId) {
        let current = self.log.snapshot().map(|s| s.meta.index);
        let Some(progress) = self.progress.get(&to) else {
            return;
        };
        if let ProgressState::Snapshot { index, acked_bytes } = progress.state {
            if Some(index) == current {
                self.send_snapshot_chunk(to, acked_bytes);
            } else {
                self.send_snapshot(to);
            }
        }
    }

    fn send_snapshot_chunk(&mut self, to: NodeId, offset: u64) {
        let snapshot = self
            .log
            .snapshot()
            .expect("a compacted log keeps its snapshot");
        let total_bytes = self.log.snapshot_total_bytes();
        assert!(
            offset <= total_bytes,
            "chunk offset {offset} beyond snapshot {total_bytes}"
        );
        // Without the bytes, the chunk leaves empty and the driver fills it (crate docs).
        let data = if self.config.snapshot_bytes_in_driver {
            Vec::new()
        } else {
            let end = (offset + self.config.snapshot_chunk_bytes as u64).min(total_bytes);
            snapshot.data[offset as usize..end as usize].to_vec()
        };
        let meta = snapshot.meta.clone();
        self.send(
            to,
            MessageBody::InstallSnapshot {
                meta,
                total_bytes,
                offset,
                data,
            },
        );
    }

    pub(crate) fn handle_install_snapshot_response(
        &mut self,
        from: NodeId,
        index: LogIndex,
        next_offset: u64,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let current = self
            .log
            .snapshot()
            .map(|s| (s.meta.index, self.log.snapshot_total_bytes()));
        let Some(progress) = self.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        let ProgressState::Snapshot {
            index: sending,
            acked_bytes,
        } = progress.state
        else {
            return;
        };
        let Some((current_index, total_bytes)) = current else {
            return;
        };
        if sending != index || index != current_index || next_offset > total_bytes {
            return;
        }
        if next_offset == acked_bytes {
            // A repeat (an answer to a resent chunk): the chunk it asks for is already out,
            // and sending it again would put a second copy of the rest of the stream in flight.
            return;
        }
        progress.snapshot_chunk_acked();
        // The follower asks for `next_offset`; it may go back (it lost its buffer) or forward.
        progress.state = ProgressState::Snapshot {
            index,
            acked_bytes: next_offset,
        };
        // Stop-and-wait: one chunk in flight; the last one is answered by AppendEntriesResponse.
        if next_offset < total_bytes {
            self.send_snapshot_chunk(from, next_offset);
        }
    }

    /// Follower: one chunk of InstallSnapshot (paper §7 receiver rules, chunked).
    pub(crate) fn handle_install_snapshot(
        &mut self,
        from: NodeId,
        meta: SnapshotMeta,
        total_bytes: u64,
        offset: u64,
        data: Vec<u8>,
    ) {
        self.accept_leader(from);
        if meta.index <= self.log.commit {
            // We already have (and will never lose) everything it covers.
            self.incoming_snapshot = None;
            let index = self.log.commit;
            let (hint_index, hint_term) = (LogIndex(0), Term(0));
            let body = MessageBody::AppendEntriesResponse {
                success: true,
                index,
                hint_index,
                hint_term,
            };
            self.send(from, body);
            return;
        }
        if total_bytes > self.config.snapshot_bytes_max {
            // Validated, not asserted: the size comes from a peer. Dropped; the leader retries.
            return;
        }
        let index = meta.index;
        match self.buffer_snapshot_chunk(meta, total_bytes, offset, data) {
            Ok(snapshot) => self.install_snapshot(from, snapshot),
            Err(next_offset) => {
                self.send(
                    from,
                    MessageBody::InstallSnapshotResponse { index, next_offset },
                );
            }
        }
    }

    /// Adds a chunk to the snapshot being assembled. Returns the whole snapshot once complete,
    /// else the offset to ask for next (0 to restart a snapshot we are not assembling).
    fn buffer_snapshot_chunk(
        &mut self,
        meta: SnapshotMeta,
        total_bytes: u64,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Snapshot, u64> {
        let matches = |s: &IncomingSnapshot| s.meta == meta && s.total_bytes == total_bytes;
        if offset == 0 && !self.incoming_snapshot.as_ref().is_some_and(matches) {
            let fresh = IncomingSnapshot {
                meta: meta.clone(),
                total_bytes,
                data: Vec::new(),
            };
            self.incoming_snapshot = Some(fresh);
        }
        let Some(incoming) = self.incoming_snapshot.as_mut().filter(|s| matches(s)) else {
            return Err(0);
        };
        // Chunks arrive in order; a duplicate or a chunk after a gap changes nothing.
        if offset == incoming.data.len() as u64 {
            incoming.data.extend_from_slice(&data);
        }
        // `step` checked offset + len <= total_bytes, and total_bytes matches ours.
        let len = incoming.data.len() as u64;
        assert!(
            len <= incoming.total_bytes,
            "snapshot buffer {len} > {}",
            incoming.total_bytes
        );
        if len < incoming.total_bytes {
            return Err(len);
        }
        let incoming = self.incoming_snapshot.take().expect("matched above");
        Ok(Snapshot {
            meta: incoming.meta,
            data: incoming.data,
        })
    }

    fn install_snapshot(&mut self, from: NodeId, snapshot: Snapshot) {
        let (index, term) = (snapshot.meta.index, snapshot.meta.term);
        assert!(
            index > self.log.commit,
            "installing {index} at or below commit {}",
            self.log.commit
        );
        if self.log.matches(index, term) {
            // Paper §7: "If existing log entry has same index and term as snapshot's last
            // included entry, retain log entries following it." It is committed, so commit.
            self.log.commit_to(index);
        } else {
            // "Discard the entire log", and reset the state machine from the snapshot.
            self.log.restore(snapshot);
            self.refresh_membership();
            self.events.push(Event::SnapshotInstalled { index, term });
        }
        self.send(
            from,
            MessageBody::AppendEntriesResponse {
                success: true,
                index,
                hint_index: LogIndex(0),
                hint_term: Term(0),
            },
        );
        assert!(
            self.log.commit >= index,
            "commit {} below installed {index}",
            self.log.commit
        );
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;

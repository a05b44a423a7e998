//! Driving Raft: `Ready` batches to the log worker and back (the contract in the raft
//! crate: persist, send, apply, advance), snapshots received from the leader, log
//! compaction after a snapshot, and what a leader change does to waiting clients.

use super::*;

impl Server {
    /// At start-up: a server that is its cluster's only voter leads at once.
    pub fn start_up(&mut self) {
        let membership = self.raft.membership();
        if membership.voters.len() == 1 && membership.is_voter(raft::NodeId(self.my_id)) {
            self.raft.campaign_now();
        }
        self.drive_raft();
    }

    /// Takes `Ready` batches while none is out: one with disk work goes to the log worker
    /// and is finished when it comes back durable; one without is finished at once.
    pub fn drive_raft(&mut self) {
        while self.outstanding.is_none() {
            let Some(mut ready) = self.raft.ready() else {
                return;
            };
            let recovering = self.raft.is_recovering();
            let mark_changed = recovering != self.persisted_recovering;
            let hard_state = ready
                .hard_state
                .filter(|hs| (hs.term, hs.voted_for) != self.persisted_vote)
                .or_else(|| mark_changed.then(|| self.raft.hard_state()));
            if let Some(hs) = hard_state {
                self.persisted_vote = (hs.term, hs.voted_for);
                self.persisted_recovering = recovering;
            }
            if ready.snapshot.is_none() && ready.entries.is_empty() && hard_state.is_none() {
                self.finish_ready(ready, 0);
            } else {
                // While the log worker writes this batch, apply what earlier batches made
                // durable (as etcd's server does): a write is then answered one fsync after
                // it arrives, not two (its commit is learnt only as the next batch is taken).
                let applied_early = durable_committed_count(&ready);
                // The entries go to the worker whole: nothing after this reads them here
                // (raft's `advance` remembers the batch's last entry itself).
                let job = PersistJob {
                    snapshot: ready.snapshot.clone(),
                    entries: std::mem::take(&mut ready.entries),
                    hard_state,
                    recovering,
                    sync: ready.must_sync,
                };
                self.log.submit(job);
                self.apply_committed(&ready.committed[..applied_early]);
                self.outstanding = Some((ready, applied_early));
            }
        }
    }

    /// Applies committed entries in index order (step 3 of the contract). A change of
    /// /zookeeper/config among them sets `config_changed`, which `finish_ready` acts on
    /// once the batch is advanced (the entries may be applied before, in `drive_raft`).
    fn apply_committed(&mut self, entries: &[raft::Entry]) {
        let config_before = self.config_mzxid();
        for entry in entries {
            if entry.term == self.raft.term() && !self.applied_current_term {
                self.applied_current_term = true;
                self.end_read_only_sessions();
            }
            self.apply_entry(entry);
        }
        if self.config_mzxid() != config_before {
            self.config_changed = true;
        }
    }

    /// Steps 2–4 of the `Ready` contract, once step 1 (persist) is done; the first
    /// `applied_early` committed entries were applied while it ran.
    pub(super) fn finish_ready(&mut self, mut ready: raft::Ready, applied_early: usize) {
        assert!(
            applied_early <= ready.committed.len(),
            "applied early {applied_early} of {} committed",
            ready.committed.len()
        );
        if self.peers.is_some() {
            for mut message in std::mem::take(&mut ready.messages) {
                if !self.fill_snapshot_chunk(&mut message.body) {
                    continue;
                }
                let mut frame = vec![crate::cluster::KIND_RAFT];
                frame.extend_from_slice(&raft::encode_message(&message));
                // A frame that does not fit is dropped; Raft sends again.
                let peers = self.peers.as_mut().expect("checked above");
                peers.send(message.to.0, &frame);
            }
        }
        for event in &ready.events {
            log::info!("raft: {event}");
            let followed = match event {
                raft::Event::BecameFollower {
                    term,
                    leader: Some(leader),
                } => Some((*term, *leader)),
                _ => None,
            };
            if followed.is_some() && followed == self.followed {
                // Back to the leader it followed before a pre-vote that went nowhere, in
                // the same term: the writes and syncs forwarded to that leader are still
                // on their way, and their answers will come.
            } else if matches!(
                event,
                raft::Event::BecameFollower { .. }
                    | raft::Event::BecameCandidate { .. }
                    | raft::Event::BecameLeader { .. }
            ) {
                self.followed = followed;
                self.applied_current_term = false;
                self.drop_unanswered_writes();
            }
            if matches!(event, raft::Event::BecameLeader { .. }) {
                // A new leader gives every session a fresh timeout (ZooKeeper does the same).
                self.sessions.reset_deadlines(&self.clock);
            }
        }
        if let Some(snapshot) = &ready.snapshot {
            self.install_snapshot(snapshot);
        }
        self.apply_committed(&ready.committed[applied_early..]);
        for read in &ready.read_states {
            if let Some((from, seq)) = self.sync_reads.remove(&read.ctx) {
                self.send_synced(from, seq, read.index.0);
            }
            if let Some(seq) = self.barrier_reads.remove(&read.ctx) {
                self.sync_waits.insert(seq, read.index.0);
            }
        }
        if !self.sync_waits.is_empty() {
            self.answer_synced();
        }
        self.raft.advance(ready);
        if std::mem::take(&mut self.config_changed) {
            // Walk toward a new member list now, not at the next tick: the client that
            // asked is answered in this turn, and a reconfig it sends right after (kazoo's
            // own tests add an observer and remove it at once) finds the change under way
            // already, or done for an observer, rather than ReconfigInProgress.
            self.sync_peer_members();
            self.reconcile_membership();
        }
    }

    fn config_mzxid(&self) -> Option<i64> {
        self.tree.node(tree::CONFIG_NODE).map(|n| n.stat().mzxid)
    }

    /// Back in the quorum: read-only sessions end, as ZooKeeper's read-only server shuts
    /// down; their clients reconnect and get read-write sessions.
    pub(super) fn end_read_only_sessions(&mut self) {
        let keys: Vec<ConnKey> = self
            .connections()
            .filter(|(_, c)| c.read_only)
            .map(|(key, _)| key)
            .collect();
        for key in keys {
            log::info!("rejoined the quorum: closing a read-only session");
            self.close(key);
        }
    }

    /// The leader changed: writes already proposed may still commit, or may be lost. Their
    /// clients cannot be told which, so, as ZooKeeper does when its leader goes, their
    /// connections close; the sessions live on and the clients reconnect.
    pub(super) fn drop_unanswered_writes(&mut self) {
        let mut keys: BTreeSet<ConnKey> =
            std::mem::take(&mut self.awaiting).into_values().collect();
        keys.extend(std::mem::take(&mut self.barriers).into_values());
        self.barrier_reads.clear();
        self.sync_paths.clear();
        self.sync_waits.clear();
        self.sync_reads.clear();
        for key in keys {
            log::info!("closing a connection whose writes were in flight at a leader change");
            self.close(key);
        }
    }

    pub(super) fn install_snapshot(&mut self, snapshot: &raft::Snapshot) {
        let config = self.tree.config().clone();
        match DataTree::decode_snapshot(&snapshot.data, config) {
            Ok(tree) => {
                log::info!(
                    "installed the leader's snapshot at index {} ({} znodes)",
                    snapshot.meta.index,
                    tree.node_count()
                );
                // A background snapshot walk of the old tree cannot go on in the new one.
                self.snapshots.abandon_walk();
                self.tree = tree;
                self.resync_sessions();
            }
            Err(e) => {
                // The leader's image passed its CRCs but does not decode: nothing safe is
                // left to serve from.
                log::error!("the leader's snapshot does not decode: {e}; aborting");
                std::process::abort();
            }
        }
    }

    /// After installing the leader's snapshot: the local session table follows the tree's.
    pub(super) fn resync_sessions(&mut self) {
        let gone: Vec<i64> = self
            .sessions
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !self.tree.sessions().contains(*id))
            .collect();
        for id in gone {
            self.watches.remove_session(id);
            if let Some(key) = self.sessions.remove(id).and_then(|s| s.conn) {
                self.close(key);
            }
        }
        for (id, session) in self.tree.sessions().iter() {
            self.sessions.adopt(id, session.timeout_ms, &self.clock);
        }
    }

    /// After a snapshot is written: drop the Raft log up to it. Raft learns only the
    /// image's size; a leader streams the image to a follower from the file
    /// (`fill_snapshot_chunk`).
    pub(super) fn compact_raft_log(&mut self) {
        let index = self.snapshots.last_snapshot_zxid;
        if index <= 0 {
            return;
        }
        let total_bytes = self.snapshots.last_snapshot_body_bytes;
        match self
            .raft
            .compact_in_driver(raft::LogIndex(index as u64), total_bytes)
        {
            Ok(dropped) => {
                self.snapshots.free_later(dropped);
                // Retention may delete the old file; an open one would keep its disk space.
                self.served_snapshot = None;
            }
            Err(e) => log::debug!("raft log not compacted to {index}: {e}"),
        }
    }

    /// Fills an InstallSnapshot chunk Raft sent out empty (`snapshot_bytes_in_driver`) from
    /// the snapshot file at its index. The file stays open while chunks of it are sent; it is
    /// opened, and its CRC checked once, when a transfer of another snapshot starts. False if
    /// the file cannot be read: the chunk is then not sent, and Raft sends it again.
    fn fill_snapshot_chunk(&mut self, body: &mut raft::MessageBody) -> bool {
        let raft::MessageBody::InstallSnapshot {
            meta,
            total_bytes,
            offset,
            data,
        } = body
        else {
            return true;
        };
        let index = meta.index.0;
        if self
            .served_snapshot
            .as_ref()
            .is_none_or(|r| r.last_index != index)
        {
            let path = crate::storage::snapshot_dir(&self.settings.config.data_dir)
                .join(wal::snapshot::snapshot_name(index));
            match wal::snapshot::open_snapshot(&wal::FileDisk, &path) {
                Ok(reader) if reader.body_len() == *total_bytes => {
                    self.served_snapshot = Some(reader);
                }
                Ok(reader) => {
                    log::error!(
                        "snapshot {} holds {} bytes where Raft expects {total_bytes}",
                        path.display(),
                        reader.body_len()
                    );
                    return false;
                }
                Err(e) => {
                    log::warn!("cannot send snapshot {} to a follower: {e}", path.display());
                    return false;
                }
            }
        }
        let reader = self.served_snapshot.as_ref().expect("opened above");
        let len = total_bytes
            .saturating_sub(*offset)
            .min(SNAPSHOT_CHUNK_BYTES);
        let mut chunk = vec![0u8; len as usize];
        if let Err(e) = reader.read_body_at(*offset, &mut chunk) {
            log::warn!("cannot read snapshot at index {index} to send: {e}");
            self.served_snapshot = None;
            return false;
        }
        *data = chunk;
        true
    }
}

/// InstallSnapshot chunk size (Raft's `snapshot_chunk_bytes`): the bytes a leader reads from
/// the snapshot file per chunk.
pub(super) const SNAPSHOT_CHUNK_BYTES: u64 = 1 << 20;

/// How many of `ready.committed`, from the front, are durable before `ready` is persisted
/// and may be applied while it is (the exception in the raft crate's `Ready` contract):
/// those below the batch's first new entry, which earlier batches made durable (only one
/// `Ready` is out at a time, so each earlier one was persisted before this was taken).
/// None when the batch installs a snapshot (it replaces the log and is applied first) or
/// reports role changes (which `finish_ready` handles before applying).
fn durable_committed_count(ready: &raft::Ready) -> usize {
    if ready.snapshot.is_some() || !ready.events.is_empty() {
        return 0;
    }
    let count = match ready.entries.first() {
        None => ready.committed.len(),
        Some(first) => ready
            .committed
            .iter()
            .take_while(|entry| entry.index < first.index)
            .count(),
    };
    assert!(
        count <= ready.committed.len(),
        "a prefix of the committed entries"
    );
    count
}

/// The term and encoded membership a snapshot at `index` records.
pub(super) fn snapshot_meta(raft: &raft::Node, index: u64) -> (u64, Vec<u8>) {
    let at = raft::LogIndex(index);
    let term = raft.term_at(at).map(|t| t.0).unwrap_or(0);
    let membership = raft.membership_at(at);
    (term, crate::replication::encode_membership(&membership))
}

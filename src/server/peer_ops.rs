//! The server's conversations with the other members: Raft messages, client writes
//! forwarded to the leader, `sync` and linearizable-read barriers (a ReadIndex from the
//! leader), session liveness for the leader's expiry, `rqld`/`ydld`, and observers joining
//! as learners. Frame kinds are in cluster.rs.

use byteorder::{BigEndian, ByteOrder};

use super::*;

/// A catch-up question the leader has not answered is asked again after this.
const CATCH_UP_RETRY: Duration = Duration::from_secs(1);

/// Follower: how far it has caught up with its leader (`caught_up`).
#[derive(Default)]
pub(super) struct CatchUp {
    /// The term whose leader it has caught up with.
    done_term: Option<u64>,
    /// The question out: (term, sequence number, when).
    asked: Option<(u64, u64, Instant)>,
    /// The leader's answer: (term, index to apply).
    index: Option<(u64, u64)>,
}

impl Server {
    /// Peer frames that arrived this turn: Raft messages, forwarded writes, liveness.
    pub(super) fn receive_from_peers(&mut self) {
        self.settle_identity();
        let Some(peers) = self.peers.as_mut() else {
            return;
        };
        for (from, frame) in peers.take_received() {
            let Some((&kind, body)) = frame.split_first() else {
                log::warn!("empty frame from server {from}");
                continue;
            };
            match kind {
                crate::cluster::KIND_RAFT => match raft::decode_message(body) {
                    Ok(Some((message, used))) if used == body.len() && message.from.0 == from => {
                        if let Err(e) = self.raft.step(message) {
                            log::debug!("raft refused a message from server {from}: {e}");
                        }
                    }
                    Ok(_) => log::warn!("a malformed Raft frame from server {from}"),
                    Err(e) => log::warn!("a Raft frame from server {from}: {e}"),
                },
                crate::cluster::KIND_FORWARD => self.on_forwarded(from, body),
                crate::cluster::KIND_SESSION_MOVED if body.len() == 8 => {
                    let session_id = BigEndian::read_i64(body);
                    let held = self.sessions.get(session_id).and_then(|s| s.conn);
                    if let Some(key) = held {
                        log::info!("session {session_id:#x} moved to server {from}: closing here");
                        self.close(key);
                    }
                }
                crate::cluster::KIND_LOST_ENTRIES if body.len() == 8 => {
                    let last = raft::LogIndex(BigEndian::read_u64(body));
                    self.raft.follower_lost_entries(raft::NodeId(from), last);
                }
                crate::cluster::KIND_LEADERSHIP if body.is_empty() => {
                    let to = raft::NodeId(from);
                    if self.is_leader() && self.raft.membership().is_voter(to) {
                        match self.raft.transfer_leadership(to) {
                            Ok(()) => {
                                log::info!("server {from} asked for leadership: handing over")
                            }
                            Err(e) => log::warn!("server {from} asked for leadership: {e}"),
                        }
                    }
                }
                crate::cluster::KIND_SYNC if body.len() == 8 => {
                    self.on_sync_request(from, BigEndian::read_u64(body));
                }
                crate::cluster::KIND_SYNCED if body.len() == 16 => {
                    let seq = BigEndian::read_u64(&body[..8]);
                    let index = BigEndian::read_u64(&body[8..]);
                    if self.on_catch_up_index(seq, index) {
                        continue;
                    }
                    if self.sync_paths.contains_key(&seq) || self.barriers.contains_key(&seq) {
                        self.sync_waits.insert(seq, index);
                        self.answer_synced();
                    }
                }
                crate::cluster::KIND_TOUCH => match crate::cluster::decode_touch(body) {
                    Ok(ids) if self.is_leader() => {
                        for id in ids {
                            self.sessions.touch(id, self.clock.now);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => log::warn!("server {from}: {e}"),
                },
                other => log::warn!("a frame of unknown kind {other} from server {from}"),
            }
        }
    }

    /// A follower's client write: the leader stamps it with its own clock (as ZooKeeper's
    /// leader does in PrepRequestProcessor) and proposes it. A server that is no longer the
    /// leader drops it; the follower closes the waiting connection when it learns of the
    /// new leader.
    pub(super) fn on_forwarded(&mut self, from: u64, body: &[u8]) {
        if !self.is_leader() || self.in_recovery() {
            log::debug!("not a serving leader: dropping a write forwarded by server {from}");
            return;
        }
        let mut payload = match EntryPayload::decode(body, 0) {
            Ok(p) => p,
            Err(e) => {
                log::warn!("a malformed write forwarded by server {from}: {e}");
                return;
            }
        };
        if payload.origin != from {
            log::warn!(
                "server {from} forwarded a write of server {}",
                payload.origin
            );
            return;
        }
        payload.txn.time_ms = self.clock.wall_ms;
        self.stamp_leader_view(&mut payload.txn);
        if let Err(e) = self.raft.propose(payload.encode()) {
            log::warn!("cannot propose a write forwarded by server {from}: {e}");
        }
    }

    /// `readConsistency=linearizable` in a cluster (a one-member cluster's reads are
    /// linearizable as they are: it applies every write before acknowledging it).
    pub fn linearizable_reads(&self) -> bool {
        self.settings.config.linearizable_reads && self.peers.is_some()
    }

    /// Starts a read barrier for `key`: a ReadIndex on the leader, or the follower's sync
    /// protocol. Returns its sequence number (its `Pending::Barrier`).
    pub fn begin_barrier(&mut self, key: ConnKey) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.barriers.insert(seq, key);
        if self.is_leader() {
            let ctx = self.next_read_ctx;
            self.next_read_ctx += 1;
            match self.raft.read_index(ctx) {
                Ok(()) => {
                    self.barrier_reads.insert(ctx, seq);
                }
                Err(e) => {
                    log::info!("no ReadIndex for a linearizable read ({e}): closing");
                    self.barriers.remove(&seq);
                    self.close(key);
                }
            }
            return seq;
        }
        if !self.send_sync_to_leader(seq) {
            log::info!("no leader for a linearizable read: closing the connection");
            self.barriers.remove(&seq);
            self.close(key);
        }
        seq
    }

    /// A barrier's index is applied: the reads behind it may be answered.
    pub(super) fn release_barrier(&mut self, key: ConnKey, seq: u64) {
        let Some(conn) = self.conn_mut(key) else {
            return;
        };
        for pending in conn.pending.iter_mut() {
            if let crate::connection::Pending::Barrier { seq: s, done } = pending {
                if *s == seq {
                    *done = true;
                }
            }
        }
        self.drain_reads(key);
    }

    /// Follower: sends a client's sync to the leader; returns the sequence number its
    /// `Pending::Write` waits on.
    pub fn forward_sync(&mut self, key: ConnKey, path: String) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.awaiting.insert(seq, key);
        self.sync_paths.insert(seq, path);
        if !self.send_sync_to_leader(seq) {
            log::info!("no leader to sync with: closing the connection");
            self.awaiting.remove(&seq);
            self.sync_paths.remove(&seq);
            self.close(key);
        }
        seq
    }

    /// Follower: asks the leader for a ReadIndex for `seq`; false if there is no leader to
    /// ask or the frame could not be queued.
    pub(super) fn send_sync_to_leader(&mut self, seq: u64) -> bool {
        let mut frame = vec![crate::cluster::KIND_SYNC];
        frame.extend_from_slice(&seq.to_be_bytes());
        match (self.raft.leader(), self.peers.as_mut()) {
            (Some(leader), Some(peers)) => peers.send(leader.0, &frame),
            _ => false,
        }
    }

    /// Leader: a follower's sync becomes a ReadIndex; the answer goes back when Raft
    /// releases it (`finish_ready`).
    pub(super) fn on_sync_request(&mut self, from: u64, seq: u64) {
        if !self.is_leader() {
            // The follower closes the connection when it learns of the new leader.
            return;
        }
        let ctx = self.next_read_ctx;
        self.next_read_ctx += 1;
        match self.raft.read_index(ctx) {
            Ok(()) => {
                self.sync_reads.insert(ctx, (from, seq));
            }
            Err(e) => {
                // Backpressure: answer with what this leader has applied, which holds every
                // write acknowledged before the sync.
                log::debug!("sync from server {from} answered without a ReadIndex: {e}");
                let index = self.tree.last_zxid() as u64;
                self.send_synced(from, seq, index);
            }
        }
    }

    pub(super) fn send_synced(&mut self, to: u64, seq: u64, index: u64) {
        let mut frame = vec![crate::cluster::KIND_SYNCED];
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.extend_from_slice(&index.to_be_bytes());
        if let Some(peers) = self.peers.as_mut() {
            peers.send(to, &frame);
        }
    }

    /// Caught up with this term's leader: a leader is; a follower once it has applied what
    /// the leader had committed when it first asked in this term (a ReadIndex, as a `sync`
    /// gets). Until then it takes no new clients, as a ZooKeeper follower serves only once
    /// synced with its leader: a member restarted behind the others may still hold entries
    /// of the current term, which alone would let it serve a stale tree.
    pub(super) fn caught_up(&self) -> bool {
        self.is_leader() || self.catch_up.done_term == Some(self.raft.term().0)
    }

    /// Every tick: asks the leader for the index to catch up to (again after a second
    /// without an answer), and notes when it is applied.
    pub(super) fn check_caught_up(&mut self) {
        let term = self.raft.term().0;
        if self.peers.is_none() || self.caught_up() || self.raft.leader().is_none() {
            return;
        }
        let applied = self.tree.last_zxid().max(0) as u64;
        let catch_up = &mut self.catch_up;
        match catch_up.index {
            Some((t, index)) if t == term => {
                if applied >= index {
                    catch_up.done_term = Some(term);
                    log::info!("caught up with the leader of term {term} at index {index}");
                }
                return;
            }
            _ => {}
        }
        let now = self.clock.now;
        let asked_recently = catch_up
            .asked
            .is_some_and(|(t, _, at)| t == term && now.duration_since(at) < CATCH_UP_RETRY);
        if asked_recently {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.send_sync_to_leader(seq) {
            self.catch_up.asked = Some((term, seq, now));
        }
    }

    /// The leader's answer to a catch-up question; false if `seq` was not one.
    fn on_catch_up_index(&mut self, seq: u64, index: u64) -> bool {
        let Some((term, asked, _)) = self.catch_up.asked else {
            return false;
        };
        if asked != seq {
            return false;
        }
        self.catch_up.asked = None;
        if term == self.raft.term().0 {
            self.catch_up.index = Some((term, index));
            self.check_caught_up();
        }
        true
    }

    /// Follower: answers the syncs whose index has been applied.
    pub(super) fn answer_synced(&mut self) {
        let applied = self.tree.last_zxid().max(0) as u64;
        let done: Vec<u64> = self
            .sync_waits
            .iter()
            .filter(|(_, index)| **index <= applied)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in done {
            self.sync_waits.remove(&seq);
            if let Some(key) = self.barriers.remove(&seq) {
                self.release_barrier(key, seq);
                continue;
            }
            let path = self.sync_paths.remove(&seq).unwrap_or_default();
            if let Some(key) = self.awaiting.remove(&seq) {
                let outcome = tree::ApplyOutcome {
                    result: Ok(wire::Response::Sync { path }),
                    changes: Vec::new(),
                };
                self.answer_write(key, seq, applied as i64, outcome);
            }
        }
    }

    /// Leader: followers' syncs waiting for their ReadIndex (`zk_pending_syncs`).
    pub fn pending_syncs(&self) -> usize {
        self.sync_reads.len()
    }

    /// `rqld`: asks the leader to hand leadership to this server. True if the request left
    /// (or this server leads already).
    pub fn request_leadership(&mut self) -> bool {
        if self.is_leader() {
            return true;
        }
        if !self.raft.membership().is_voter(raft::NodeId(self.my_id)) {
            return false;
        }
        match (self.raft.leader(), self.peers.as_mut()) {
            (Some(leader), Some(peers)) => peers.send(leader.0, &[crate::cluster::KIND_LEADERSHIP]),
            _ => false,
        }
    }

    /// `ydld` and graceful shutdown: the leader hands leadership to its most caught-up
    /// voter. True if a transfer started (or this server does not lead).
    pub fn yield_leadership(&mut self) -> bool {
        if !self.is_leader() {
            return true;
        }
        let me = raft::NodeId(self.my_id);
        let successor = self
            .raft
            .membership()
            .voters
            .iter()
            .copied()
            .filter(|id| *id != me)
            .max_by_key(|id| (self.raft.match_index(*id), std::cmp::Reverse(id.0)));
        let Some(to) = successor else {
            return false;
        };
        match self.raft.transfer_leadership(to) {
            Ok(()) => {
                log::info!("handing leadership to server {to}");
                true
            }
            Err(e) => {
                log::warn!("cannot hand leadership to server {to}: {e}");
                false
            }
        }
    }

    /// Followers: tell the leader which sessions were heard from (ZooKeeper's learners
    /// send the same in their pings).
    /// A client resumed `session_id` here: the other members close their connection for it,
    /// as ZooKeeper closes the old connection of a session that moved.
    pub fn announce_session_moved(&mut self, session_id: i64) {
        let me = raft::NodeId(self.my_id);
        let others: Vec<raft::NodeId> = self
            .raft
            .membership()
            .members()
            .filter(|id| *id != me)
            .collect();
        let Some(peers) = self.peers.as_mut() else {
            return;
        };
        let mut frame = vec![crate::cluster::KIND_SESSION_MOVED];
        frame.extend_from_slice(&session_id.to_be_bytes());
        for id in others {
            peers.send(id.0, &frame);
        }
    }

    /// A follower's forwarded writes and syncs, and the leader's answers to its syncs,
    /// travel over its links with the leader. When one of those closes, some may be lost
    /// without any change of role to tell. Their clients cannot learn which, so their
    /// connections close (ZooKeeper closes every client connection when a follower's link
    /// to its leader drops); the sessions live on.
    pub(super) fn check_leader_links(&mut self) {
        let (Some(leader), Some(peers)) = (self.raft.leader(), self.peers.as_ref()) else {
            return;
        };
        if leader.0 == self.my_id {
            self.leader_links_seen = None;
            return;
        }
        let lost = peers.links_lost(leader.0);
        let seen = self.leader_links_seen.replace((leader, lost));
        if seen.is_some_and(|(before, count)| before == leader && count != lost) {
            log::info!(
                "a connection with leader {leader} closed: requests sent over it may be lost"
            );
            self.drop_unanswered_writes();
        }
    }

    /// A recovering member tells the leader, every tick until caught up, where its log
    /// ends now (the leader ignores it once replication has passed that point).
    pub(super) fn report_lost_entries(&mut self) {
        if !self.raft.is_recovering() {
            return;
        }
        let (Some(leader), Some(peers)) = (self.raft.leader(), self.peers.as_mut()) else {
            return;
        };
        let mut frame = vec![crate::cluster::KIND_LOST_ENTRIES];
        frame.extend_from_slice(&self.raft.last_index().0.to_be_bytes());
        peers.send(leader.0, &frame);
    }

    pub(super) fn send_liveness(&mut self) {
        if self.is_leader() || self.touched.is_empty() {
            self.touched.clear();
            return;
        }
        let (Some(leader), Some(peers)) = (self.raft.leader(), self.peers.as_mut()) else {
            return;
        };
        let ids: Vec<i64> = std::mem::take(&mut self.touched).into_iter().collect();
        for chunk in ids.chunks(crate::cluster::TOUCH_IDS_MAX) {
            peers.send(leader.0, &crate::cluster::encode_touch(chunk));
        }
    }

    /// Notes that a client of this server was heard from (for the leader's expiry).
    pub fn note_session_alive(&mut self, session_id: i64) {
        if self.peers.is_some() && !self.is_leader() && session_id != 0 {
            self.touched.insert(session_id);
        }
    }
}

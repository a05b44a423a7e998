//! `Node`: one Raft server's state and its two inputs, `tick` and `step`, plus the `Ready` /
//! `advance` hand-off (contract in the crate docs).
//!
//! This file holds the state, the role transitions (paper §5.1, Figure 4) and the dispatch;
//! each protocol rule lives in its own module: `election.rs` (§5.2, §9.6, §6.2),
//! `replication.rs` (§5.3, §5.4), `snapshot.rs` (§7), `transfer.rs` (§3.10),
//! `membership.rs` (§4), `read_index.rs` (§6.4).
//!
//! Invariants (checked by `check_invariants` after every `step`, `tick` and `advance`):
//! * a leader or candidate voted for itself in its term (paper §5.2);
//! * only a leader has `progress` entries, and a leader's `leader` is itself;
//! * the log's own invariants (`log.rs`).

use std::collections::BTreeMap;

use crate::config::{Config, Storage};
use crate::log::RaftLog;
use crate::membership::Membership;
use crate::message::validate_message;
use crate::message::{
    Entry, EntryKind, Event, HardState, Message, MessageBody, ReadState, Ready, Role, Snapshot,
};
use crate::progress::{Inflights, Progress};
use crate::read_index::ReadQueue;
use crate::snapshot::IncomingSnapshot;
use crate::transfer::Transfer;
use crate::{LogIndex, NodeId, Prng, StepError, Term};

/// One Raft server as a pure state machine.
pub struct Node {
    pub(crate) config: Config,
    pub(crate) id: NodeId,
    // Persistent state (paper Figure 2); written out via `Ready.hard_state`.
    pub(crate) term: Term,
    pub(crate) voted_for: Option<NodeId>,
    pub(crate) log: RaftLog,
    // Volatile state.
    pub(crate) role: Role,
    pub(crate) leader: Option<NodeId>,
    /// The latest configuration in the log (thesis §4.1: in force once appended) and the
    /// index of the entry that set it.
    pub(crate) membership: Membership,
    pub(crate) membership_index: LogIndex,
    pub(crate) prng: Prng,
    /// Ticks since the last reset: of the election timer for followers and candidates, of the
    /// check-quorum round for a leader.
    pub(crate) election_elapsed: u32,
    pub(crate) heartbeat_elapsed: u32,
    /// This round's election timeout, in `[election_ticks, 2 * election_ticks)`.
    pub(crate) randomized_timeout: u32,
    /// Votes received in the current (pre-)campaign: granted or rejected.
    pub(crate) votes: BTreeMap<NodeId, bool>,
    /// Leader only: one entry per member, voters and learners, self included.
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    pub(crate) transfer: Option<Transfer>,
    pub(crate) reads: ReadQueue,
    pub(crate) incoming_snapshot: Option<IncomingSnapshot>,
    /// Leader only: bytes proposed in this term and not yet committed.
    pub(crate) uncommitted_bytes: usize,
    // Output accumulated for the next `Ready`.
    pub(crate) messages: Vec<Message>,
    pub(crate) events: Vec<Event>,
    pub(crate) read_states: Vec<ReadState>,
    /// The hard state last handed out (initially: as loaded from storage).
    handed_hard_state: HardState,
    /// The outstanding `Ready`'s last new entry and last committed index, which `advance`
    /// marks stable and applied (the driver may have moved the vectors out of the Ready).
    handed_last_entry: Option<(LogIndex, Term)>,
    handed_last_committed: Option<LogIndex>,
    /// A `Ready` is out and not yet advanced.
    ready_outstanding: bool,
    /// This node lost log entries it may have acknowledged (its storage was damaged): it
    /// grants no votes and never campaigns until a leader has caught it up (see
    /// `start_recovering`).
    pub(crate) recovering: bool,
}

impl Node {
    /// A node restored from `storage` (empty for a joining server, `Storage::bootstrap` for
    /// an initial one). It starts as a follower with no known leader.
    pub fn new(config: Config, storage: Storage) -> Node {
        config.validate();
        let Storage {
            hard_state,
            snapshot,
            snapshot_bytes,
            entries,
        } = storage;
        let total_bytes = match &snapshot {
            None => 0,
            Some(s) if config.snapshot_bytes_in_driver => {
                assert!(s.data.is_empty(), "the driver keeps the snapshot's bytes");
                snapshot_bytes
            }
            Some(s) => s.data.len() as u64,
        };
        let log = RaftLog::new(snapshot, total_bytes, entries, hard_state.commit);
        let mut node = Node {
            id: config.id,
            prng: Prng::new(config.seed),
            term: hard_state.term,
            voted_for: hard_state.voted_for,
            log,
            role: Role::Follower,
            leader: None,
            membership: Membership::default(),
            membership_index: LogIndex(0),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout: config.election_ticks,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            transfer: None,
            reads: ReadQueue::default(),
            incoming_snapshot: None,
            uncommitted_bytes: 0,
            messages: Vec::new(),
            events: Vec::new(),
            read_states: Vec::new(),
            handed_hard_state: hard_state,
            handed_last_entry: None,
            handed_last_committed: None,
            ready_outstanding: false,
            recovering: false,
            config,
        };
        node.refresh_membership();
        node.events.clear();
        node.reset_election_timer();
        node.check_invariants();
        node
    }

    // ---- Inputs ------------------------------------------------------------------------

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            Role::Follower | Role::PreCandidate | Role::Candidate => self.tick_election(),
        }
        self.check_invariants();
    }

    /// Handles one message from a peer. Malformed or misaddressed messages are refused with
    /// the node unchanged; stale ones are dropped silently, as the paper prescribes.
    pub fn step(&mut self, message: Message) -> Result<(), StepError> {
        validate_message(self.id, &message)?;
        if let Some(message) = self.step_term(message) {
            self.dispatch(message);
        }
        self.maybe_end_recovery();
        self.check_invariants();
        Ok(())
    }

    /// Marks a node rebuilt from damaged storage: entries it acknowledged may be gone, and
    /// an entry committed with its acknowledgement may now live on only a minority. Were it
    /// to vote, it could elect a leader without that entry (breaking Leader Completeness,
    /// paper §5.4). So until it has caught up it grants no votes (nor pre-votes) and never
    /// campaigns. The driver persists the mark and calls this after every restart until
    /// `Event::RecoveryDone`.
    pub fn start_recovering(&mut self) {
        assert!(self.role == Role::Follower, "recovering as {:?}", self.role);
        self.recovering = true;
        self.maybe_end_recovery();
    }

    pub fn is_recovering(&self) -> bool {
        self.recovering
    }

    /// Caught up: our commit index, learned from the current leader, points at an entry of
    /// that leader's term in our log. The leader holds every committed entry (it was
    /// elected without us, or before our loss), so by Log Matching our log now holds every
    /// entry committed before the loss, up to that index.
    fn maybe_end_recovery(&mut self) {
        if self.recovering
            && self.role == Role::Follower
            && self.leader.is_some()
            && self.log.term(self.log.commit) == Some(self.term)
        {
            self.recovering = false;
            self.events.push(Event::RecoveryDone {
                index: self.log.commit,
            });
        }
    }

    fn dispatch(&mut self, m: Message) {
        let from = m.from;
        match m.body {
            MessageBody::RequestVote {
                pre_vote,
                last_log_index,
                last_log_term,
                ..
            } => self.handle_request_vote(from, m.term, pre_vote, last_log_index, last_log_term),
            MessageBody::RequestVoteResponse { pre_vote, granted } => {
                self.handle_vote_response(from, m.term, pre_vote, granted)
            }
            MessageBody::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => self.handle_append_entries(
                from,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            ),
            MessageBody::AppendEntriesResponse {
                success,
                index,
                hint_index,
                hint_term,
            } => self.handle_append_response(from, success, index, hint_index, hint_term),
            MessageBody::Heartbeat { commit, read_seq } => {
                self.handle_heartbeat(from, commit, read_seq)
            }
            MessageBody::HeartbeatResponse { read_seq } => {
                self.handle_heartbeat_response(from, read_seq)
            }
            MessageBody::InstallSnapshot {
                meta,
                total_bytes,
                offset,
                data,
            } => self.handle_install_snapshot(from, meta, total_bytes, offset, data),
            MessageBody::InstallSnapshotResponse { index, next_offset } => {
                self.handle_install_snapshot_response(from, index, next_offset)
            }
            MessageBody::TimeoutNow => self.handle_timeout_now(from),
        }
    }

    // ---- Output ------------------------------------------------------------------------

    /// The next batch of work, or `None` if there is none or one is still outstanding.
    pub fn ready(&mut self) -> Option<Ready> {
        if self.ready_outstanding {
            return None;
        }
        let hard_state = self.hard_state();
        let hard_state_changed = hard_state != self.handed_hard_state;
        let snapshot = self
            .log
            .take_unhanded_snapshot(!self.config.snapshot_bytes_in_driver);
        let entries = self.log.take_unhanded();
        let committed = self.log.unapplied(self.config.apply_bytes_max);
        let nothing = !hard_state_changed
            && snapshot.is_none()
            && entries.is_empty()
            && committed.is_empty()
            && self.messages.is_empty()
            && self.events.is_empty()
            && self.read_states.is_empty();
        if nothing {
            return None;
        }
        let vote_changed = hard_state.term != self.handed_hard_state.term
            || hard_state.voted_for != self.handed_hard_state.voted_for;
        let must_sync = vote_changed || !entries.is_empty() || snapshot.is_some();
        self.handed_hard_state = hard_state;
        self.handed_last_entry = entries.last().map(|e| (e.index, e.term));
        self.handed_last_committed = committed.last().map(|e| e.index);
        self.ready_outstanding = true;
        Some(Ready {
            hard_state: hard_state_changed.then_some(hard_state),
            entries,
            snapshot,
            messages: std::mem::take(&mut self.messages),
            committed,
            read_states: std::mem::take(&mut self.read_states),
            must_sync,
            events: std::mem::take(&mut self.events),
        })
    }

    /// Acknowledges that `ready` was persisted, sent and applied.
    pub fn advance(&mut self, ready: Ready) {
        assert!(
            self.ready_outstanding,
            "advance without an outstanding Ready"
        );
        // What the batch held was recorded when it was handed out (the contract lets the
        // driver move the vectors out of it); whatever is left in it is simply dropped.
        drop(ready);
        self.ready_outstanding = false;
        if let Some((index, term)) = self.handed_last_entry.take() {
            self.log.stable_to(index, term);
        }
        if let Some(index) = self.handed_last_committed.take() {
            self.log.applied_to(index);
        }
        if self.role == Role::Leader {
            // Paper §5.3 counts the leader in the majority; we count only what it has made
            // durable, so a leader crash cannot un-store an entry a quorum relied on.
            let stable = self.log.stable_index();
            if let Some(own) = self.progress.get_mut(&self.id) {
                own.maybe_update(stable);
            }
            if self.maybe_commit() {
                self.bcast_append();
            }
        }
        self.check_invariants();
    }

    // ---- Role transitions (paper Figure 4) ---------------------------------------------

    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        assert!(
            term >= self.term,
            "become_follower to older term {term} from {}",
            self.term
        );
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        let was_leader = self.role == Role::Leader;
        self.role = Role::Follower;
        self.leader = leader;
        // Paper §5.2 / Figure 2: the election timer restarts only on hearing from the current
        // leader or granting a vote — not merely on seeing a higher term. Otherwise a server
        // that cannot win (its log is behind) would hold everyone else's timers back forever.
        if was_leader || leader.is_some() {
            self.reset_election_timer();
        }
        self.progress.clear();
        self.votes.clear();
        self.uncommitted_bytes = 0;
        if was_leader {
            self.abort_transfer();
            self.abort_reads();
        }
        self.transfer = None;
        self.events.push(Event::BecameFollower {
            term: self.term,
            leader,
        });
        assert!(
            self.role == Role::Follower,
            "role after become_follower: {:?}",
            self.role
        );
    }

    pub(crate) fn become_pre_candidate(&mut self) {
        assert!(
            self.role != Role::Leader,
            "leader cannot become pre-candidate"
        );
        // Thesis §9.6: a pre-vote never changes our term or vote.
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes.clear();
        self.events
            .push(Event::BecamePreCandidate { term: self.term });
    }

    pub(crate) fn become_candidate(&mut self) {
        assert!(self.role != Role::Leader, "leader cannot become candidate");
        // Paper §5.2: "a follower increments its current term ... votes for itself".
        self.term = self.term.next();
        self.voted_for = Some(self.id);
        self.role = Role::Candidate;
        self.leader = None;
        self.votes.clear();
        self.reset_election_timer();
        self.events.push(Event::BecameCandidate { term: self.term });
    }

    pub(crate) fn become_leader(&mut self) {
        assert!(
            self.role == Role::Candidate,
            "only a candidate becomes leader, was {:?}",
            self.role
        );
        assert!(
            self.voted_for == Some(self.id),
            "leader of term {} did not vote for itself",
            self.term
        );
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.uncommitted_bytes = 0;
        self.reset_progress();
        self.events.push(Event::BecameLeader { term: self.term });
        // Paper §8: a new leader commits a blank entry of its own term; until then it cannot
        // tell which older entries are committed (the Figure 8 rule, §5.4.2).
        self.append_as_leader(EntryKind::Normal, Vec::new());
        self.bcast_append();
    }

    /// Leader: a fresh `Progress` for every member; all start probing after our last entry.
    pub(crate) fn reset_progress(&mut self) {
        self.progress.clear();
        let members: Vec<NodeId> = self.membership.members().collect();
        for id in members {
            self.add_progress(id);
        }
    }

    pub(crate) fn add_progress(&mut self, id: NodeId) {
        let inflights = Inflights::new(
            self.config.inflight_msgs_max,
            self.config.inflight_bytes_max,
        );
        let mut progress = Progress::new(self.log.last_index().next(), inflights);
        if id == self.id {
            progress.match_index = self.log.stable_index();
            progress.become_replicate();
            progress.next_index = self.log.last_index().next();
        }
        self.progress.insert(id, progress);
    }

    pub(crate) fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let base = self.config.election_ticks as u64;
        self.randomized_timeout = self.prng.range(base, 2 * base) as u32;
    }

    /// Leader: appends a new entry of the current term; returns its index.
    pub(crate) fn append_as_leader(&mut self, kind: EntryKind, data: Vec<u8>) -> LogIndex {
        assert!(self.role == Role::Leader, "append as {:?}", self.role);
        let index = self.log.last_index().next();
        let entry = Entry {
            term: self.term,
            index,
            kind,
            data,
        };
        self.uncommitted_bytes += entry.size_bytes();
        self.log.append(vec![entry]);
        if let Some(own) = self.progress.get_mut(&self.id) {
            own.next_index = index.next();
        }
        assert!(
            self.log.last_index() == index,
            "append landed at {}",
            self.log.last_index()
        );
        index
    }

    pub(crate) fn send(&mut self, to: NodeId, body: MessageBody) {
        assert!(to != self.id, "sending {body:?} to self");
        self.messages.push(Message {
            from: self.id,
            to,
            term: self.term,
            body,
        });
    }

    /// The messages of the next `Ready` carry a term; a vote or pre-vote response may carry
    /// the request's term instead of ours.
    pub(crate) fn send_with_term(&mut self, to: NodeId, term: Term, body: MessageBody) {
        assert!(to != self.id, "sending {body:?} to self");
        self.messages.push(Message {
            from: self.id,
            to,
            term,
            body,
        });
    }

    // ---- Read-only views ---------------------------------------------------------------

    pub fn id(&self) -> NodeId {
        self.id
    }
    pub fn term(&self) -> Term {
        self.term
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    pub fn commit_index(&self) -> LogIndex {
        self.log.commit
    }
    pub fn applied_index(&self) -> LogIndex {
        self.log.applied
    }
    pub fn last_index(&self) -> LogIndex {
        self.log.last_index()
    }
    /// Index of the first entry still in memory (one past the snapshot).
    pub fn first_index(&self) -> LogIndex {
        self.log.first_index()
    }
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        self.log.term(index)
    }
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        self.log.entry(index)
    }
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.log.snapshot()
    }
    pub fn membership(&self) -> &Membership {
        &self.membership
    }
    pub fn transfer_target(&self) -> Option<NodeId> {
        self.transfer.as_ref().map(|t| t.to)
    }
    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            voted_for: self.voted_for,
            commit: self.log.commit,
        }
    }
    /// Leader: the follower's match index (thesis §4.2.1 uses it to decide promotion).
    pub fn match_index(&self, id: NodeId) -> Option<LogIndex> {
        self.progress.get(&id).map(|p| p.match_index)
    }

    pub(crate) fn check_invariants(&self) {
        self.log.check_invariants();
        self.membership.check_invariants();
        assert!(
            self.log.last_term() <= self.term,
            "last log term {} > term {}",
            self.log.last_term(),
            self.term
        );
        match self.role {
            Role::Leader => {
                assert!(
                    self.leader == Some(self.id),
                    "leader's leader is {:?}",
                    self.leader
                );
                assert!(
                    self.voted_for == Some(self.id),
                    "leader voted for {:?}",
                    self.voted_for
                );
                for (id, progress) in &self.progress {
                    progress.check_invariants();
                    assert!(
                        progress.match_index <= self.log.last_index(),
                        "{id} match {} > last {}",
                        progress.match_index,
                        self.log.last_index()
                    );
                }
            }
            Role::Candidate => {
                assert!(
                    self.voted_for == Some(self.id),
                    "candidate voted for {:?}",
                    self.voted_for
                );
                assert!(self.progress.is_empty(), "candidate has progress");
            }
            Role::Follower | Role::PreCandidate => {
                assert!(self.progress.is_empty(), "{:?} has progress", self.role);
                assert!(self.transfer.is_none(), "{:?} is transferring", self.role);
            }
        }
    }
}

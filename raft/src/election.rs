//! Leader election: terms, votes, pre-vote and check-quorum.
//!
//! * Paper §5.1: every message carries a term; a newer term turns us into a follower, an
//!   older one is stale and dropped.
//! * Paper §5.2: a follower whose election timeout passes becomes a candidate, votes for
//!   itself and asks for votes; each server grants at most one vote per term.
//! * Paper §5.4.1: a vote goes only to a candidate whose log is at least as up-to-date.
//! * Thesis §9.6 (pre-vote): before incrementing its term, a would-be candidate asks whether
//!   it *could* win. A server that rejoins after a partition thus cannot force a new term on a
//!   healthy cluster. A pre-vote changes no one's term or vote.
//! * Thesis §6.2 (check-quorum): a leader that has not heard from a quorum for an election
//!   timeout steps down, so clients are not stuck with a leader that cannot commit.
//! * Thesis §4.2.3 (lease): with check-quorum on, a server that heard from a leader within
//!   the minimum election timeout ignores vote requests, unless the vote is a leadership
//!   transfer. This keeps removed or partitioned servers from disrupting the cluster, and is
//!   the lease a leader relies on.

use crate::message::is_from_leader;
use crate::message::{Event, Message, MessageBody, Role};
use crate::node::Node;
use crate::quorum::{has_quorum, vote_result, VoteResult};
use crate::{LogIndex, NodeId, Term};

/// What kind of election a node starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CampaignKind {
    PreVote,
    Vote,
    /// A vote forced by TimeoutNow (thesis §3.10): skips pre-vote and overrides leases.
    Transfer,
}

impl Node {
    /// Paper §5.1's term rules, applied to every message before dispatch. Returns the message
    /// if it should be handled further.
    pub(crate) fn step_term(&mut self, m: Message) -> Option<Message> {
        if m.term > self.term {
            if let MessageBody::RequestVote { transfer, .. } = m.body {
                if self.in_lease() && !transfer {
                    // Thesis §4.2.3: we heard from a leader recently; ignore the disruption.
                    return None;
                }
            }
            let pre_vote_request =
                matches!(m.body, MessageBody::RequestVote { pre_vote: true, .. });
            let pre_vote_granted = matches!(
                m.body,
                MessageBody::RequestVoteResponse {
                    pre_vote: true,
                    granted: true
                }
            );
            // Thesis §9.6: a pre-vote request carries the term its sender would use; it must
            // not move our term. Nor does a granted pre-vote response, which echoes our own
            // future term back to us.
            let keeps_term = pre_vote_request || pre_vote_granted;
            #[cfg(raft_mutant = "prevote_term")]
            let keeps_term = pre_vote_granted;
            if !keeps_term {
                if matches!(m.body, MessageBody::RequestVote { transfer: true, .. })
                    && self.transfer.as_ref().is_some_and(|t| t.to == m.from)
                {
                    // Our transfer target is campaigning as asked: the transfer succeeded.
                    self.transfer = None;
                }
                let leader = is_from_leader(&m.body).then_some(m.from);
                self.become_follower(m.term, leader);
            }
            return Some(m);
        }
        if m.term < self.term {
            self.answer_stale(m);
            return None;
        }
        Some(m)
    }

    /// A message from an older term is dropped (paper §5.1), but some senders are told our
    /// term so they stop what they are doing.
    fn answer_stale(&mut self, m: Message) {
        if (self.config.check_quorum || self.config.pre_vote) && is_from_leader(&m.body) {
            // A deposed leader that is never contacted (pre-vote keeps our newer term from
            // reaching it through vote requests) would lead forever on its side; a response
            // in our term makes it step down.
            let body = MessageBody::AppendEntriesResponse {
                success: false,
                index: LogIndex(0),
                hint_index: LogIndex(0),
                hint_term: Term(0),
            };
            self.send(m.from, body);
        } else if matches!(m.body, MessageBody::RequestVote { pre_vote: true, .. }) {
            // Tell a lagging pre-candidate our term so it can catch up.
            self.send(
                m.from,
                MessageBody::RequestVoteResponse {
                    pre_vote: true,
                    granted: false,
                },
            );
        }
    }

    /// Thesis §4.2.3: within an election timeout of hearing from a leader, stay loyal.
    fn in_lease(&self) -> bool {
        self.config.check_quorum
            && self.leader.is_some()
            && self.election_elapsed < self.config.election_ticks
    }

    /// True if this node may become leader: it is a voter in its latest configuration and
    /// not recovering from lost storage.
    pub(crate) fn is_promotable(&self) -> bool {
        self.membership.is_voter(self.id) && !self.recovering
    }

    /// Starts an election now rather than at the timeout (etcd's `MsgHup`), with a pre-vote
    /// first if configured. A server that is the only voter calls it at start-up, so a
    /// standalone server leads at once instead of after an election timeout. Does nothing
    /// for a leader or a non-voter.
    pub fn campaign_now(&mut self) {
        if self.role == Role::Leader || !self.is_promotable() {
            return;
        }
        self.reset_election_timer();
        self.campaign(self.election_kind());
        self.check_invariants();
    }

    /// How a timed-out (or prompted) server campaigns: pre-vote first if configured.
    fn election_kind(&self) -> CampaignKind {
        if self.config.pre_vote {
            CampaignKind::PreVote
        } else {
            CampaignKind::Vote
        }
    }

    pub(crate) fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.election_elapsed >= self.randomized_timeout && self.is_promotable() {
            self.reset_election_timer();
            self.campaign(self.election_kind());
        }
    }

    pub(crate) fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.config.election_ticks {
            self.election_elapsed = 0;
            if self.config.check_quorum && !self.quorum_recently_active() {
                // Thesis §6.2: we cannot reach a quorum, so we cannot commit; step down.
                self.events
                    .push(Event::CheckQuorumFailed { term: self.term });
                self.become_follower(self.term, None);
                return;
            }
            // Thesis §3.10: a transfer that has not completed in an election timeout is
            // abandoned, and the leader accepts clients again.
            self.abort_transfer();
        }
        if self.heartbeat_elapsed >= self.config.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.bcast_heartbeat();
        }
        assert!(
            self.role != Role::Leader || self.leader == Some(self.id),
            "leader lost itself"
        );
    }

    /// Check-quorum: did a quorum of voters talk to us this round? Clears the marks.
    fn quorum_recently_active(&mut self) -> bool {
        let me = self.id;
        let progress = &self.progress;
        let active = has_quorum(&self.membership.voters, |id| {
            id == me || progress.get(&id).is_some_and(|p| p.recent_active)
        });
        for (id, p) in self.progress.iter_mut() {
            p.recent_active = *id == me;
        }
        active
    }

    /// Starts a (pre-)election: paper §5.2, thesis §9.6, thesis §3.10.
    pub(crate) fn campaign(&mut self, kind: CampaignKind) {
        assert!(self.is_promotable(), "non-voter {} campaigning", self.id);
        assert!(
            self.role != Role::Leader,
            "leader campaigning in term {}",
            self.term
        );
        let term = match kind {
            CampaignKind::PreVote => {
                self.become_pre_candidate();
                self.term.next()
            }
            CampaignKind::Vote | CampaignKind::Transfer => {
                self.become_candidate();
                self.term
            }
        };
        let pre_vote = kind == CampaignKind::PreVote;
        self.votes.insert(self.id, true);
        if self.tally() != VoteResult::Pending {
            return;
        }
        let me = self.id;
        let voters: Vec<NodeId> = self.membership.voters.iter().copied().collect();
        for to in voters.into_iter().filter(|id| *id != me) {
            let body = MessageBody::RequestVote {
                pre_vote,
                last_log_index: self.log.last_index(),
                last_log_term: self.log.last_term(),
                transfer: kind == CampaignKind::Transfer,
            };
            self.send_with_term(to, term, body);
        }
    }

    /// Paper §5.2 and §5.4.1, RequestVote receiver rules.
    pub(crate) fn handle_request_vote(
        &mut self,
        from: NodeId,
        term: Term,
        pre_vote: bool,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) {
        // "If votedFor is null or candidateId": one vote per term. A follower that knows this
        // term's leader has no vote to give. A pre-vote for a later term is always possible.
        let can_vote = !self.recovering
            && (self.voted_for == Some(from)
                || (self.voted_for.is_none() && self.leader.is_none())
                || (pre_vote && term > self.term));
        // "... and candidate's log is at least as up-to-date as receiver's log" (§5.4.1).
        let up_to_date = self.log.is_up_to_date(last_log_index, last_log_term);
        if can_vote && up_to_date {
            // A pre-vote answer carries the request's term so the pre-candidate counts it.
            self.send_with_term(
                from,
                term,
                MessageBody::RequestVoteResponse {
                    pre_vote,
                    granted: true,
                },
            );
            if !pre_vote {
                assert!(
                    term == self.term,
                    "granting a vote in term {term} while in {}",
                    self.term
                );
                self.voted_for = Some(from);
                // Paper §5.2: granting a vote resets the election timer.
                self.reset_election_timer();
            }
        } else {
            self.send(
                from,
                MessageBody::RequestVoteResponse {
                    pre_vote,
                    granted: false,
                },
            );
        }
    }

    pub(crate) fn handle_vote_response(
        &mut self,
        from: NodeId,
        term: Term,
        pre_vote: bool,
        granted: bool,
    ) {
        let expected = match self.role {
            Role::PreCandidate if pre_vote => self.term.next(),
            Role::Candidate if !pre_vote => self.term,
            _ => return,
        };
        // A rejection carries the voter's own term, which may be below the one we asked for.
        if granted && term != expected {
            return;
        }
        self.votes.insert(from, granted);
        self.tally();
    }

    /// Counts votes; on a decision, moves on. Returns the result.
    fn tally(&mut self) -> VoteResult {
        let votes = &self.votes;
        let result = vote_result(&self.membership.voters, |id| votes.get(&id).copied());
        match (result, self.role) {
            (VoteResult::Won, Role::PreCandidate) => self.campaign(CampaignKind::Vote),
            (VoteResult::Won, Role::Candidate) => self.become_leader(),
            (VoteResult::Lost, _) => self.become_follower(self.term, None),
            _ => {}
        }
        result
    }
}

#[cfg(test)]
#[path = "election_tests.rs"]
mod tests;

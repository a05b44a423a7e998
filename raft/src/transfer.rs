//! Leadership transfer (thesis §3.10).
//!
//! 1. The leader stops accepting client requests (`propose` fails with
//!    `TransferInProgress`), so the target can catch up and stay caught up.
//! 2. It replicates to the target until the target's log matches its own.
//! 3. It sends TimeoutNow; the target starts an election at once, skipping pre-vote, and its
//!    vote requests override the other servers' leases (thesis §4.2.3).
//! 4. If no new leader appears within an election timeout, the leader abandons the transfer
//!    and resumes serving clients (`tick_leader`).

use crate::election::CampaignKind;
use crate::message::{Event, MessageBody, Role};
use crate::node::Node;
use crate::{NodeId, TransferError};

/// A transfer under way, on the leader.
#[derive(Clone, Debug)]
pub(crate) struct Transfer {
    pub(crate) to: NodeId,
}

impl Node {
    /// Asks this leader to hand leadership to voter `to`. Returns at once; watch `Ready.events`
    /// (`TransferAborted`, or the leader becoming a follower) for the outcome.
    pub fn transfer_leadership(&mut self, to: NodeId) -> Result<(), TransferError> {
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader {
                leader: self.leader,
            });
        }
        if let Some(transfer) = &self.transfer {
            return Err(TransferError::AlreadyTransferring { to: transfer.to });
        }
        if !self.membership.is_voter(to) {
            return Err(TransferError::NotVoter { to });
        }
        if to == self.id {
            return Ok(());
        }
        self.transfer = Some(Transfer { to });
        // The transfer gets one election timeout, counted from now.
        self.election_elapsed = 0;
        self.events.push(Event::TransferStarted { to });
        if !self.maybe_send_timeout_now(to) {
            self.send_append(to, true);
        }
        self.check_invariants();
        Ok(())
    }

    /// Leader: if `id` is the transfer target and has caught up, tell it to campaign.
    pub(crate) fn maybe_send_timeout_now(&mut self, id: NodeId) -> bool {
        if self.role != Role::Leader || self.transfer.as_ref().map(|t| t.to) != Some(id) {
            return false;
        }
        let caught_up = self
            .progress
            .get(&id)
            .is_some_and(|p| p.match_index == self.log.last_index());
        if caught_up {
            self.send(id, MessageBody::TimeoutNow);
        }
        caught_up
    }

    /// Leader: give up on a transfer (timeout, or we stepped down).
    pub(crate) fn abort_transfer(&mut self) {
        if let Some(transfer) = self.transfer.take() {
            self.events.push(Event::TransferAborted { to: transfer.to });
        }
        assert!(self.transfer.is_none(), "transfer still set after abort");
    }

    /// Follower: the leader tells us to start an election now.
    pub(crate) fn handle_timeout_now(&mut self, from: NodeId) {
        if self.role == Role::Leader || !self.is_promotable() {
            return;
        }
        // Only this term's leader sends TimeoutNow; it is news that it leads.
        self.accept_leader(from);
        self.campaign(CampaignKind::Transfer);
        assert!(
            self.role != Role::Follower || !self.is_promotable(),
            "TimeoutNow ignored"
        );
    }
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;

//! Cluster membership: voters and learners, and how it changes (thesis chapter 4).
//!
//! We use **one server at a time** (thesis §4.1), not joint consensus (§4.3). Any two
//! majorities of configurations that differ by one voter overlap, so a single change can take
//! effect directly, with no intermediate joint configuration. This keeps one quorum rule
//! everywhere (`quorum.rs`), and every change we need — add a learner, promote it, remove a
//! server — is a single-server change. The rules, each enforced by `Node::change_membership`:
//!
//! * A configuration takes effect as soon as its entry is *appended*, committed or not
//!   (§4.1); if a conflicting leader truncates it away, the previous one comes back.
//! * At most one change is uncommitted at a time (§4.1).
//! * A new leader first commits an entry of its own term (its empty no-op entry) before it
//!   proposes a change — the fix to the single-server bug Ongaro posted in 2015.
//! * New servers join as *learners* (non-voting, like ZooKeeper observers) and are promoted
//!   only once caught up (§4.2.1), so a new voter cannot stall commits. Learners that are never
//!   promoted are permanent observers.
//! * A leader removed from the configuration keeps leading until the change commits, without
//!   counting itself, then steps down (§4.2.2). Removed servers cannot disrupt: check-quorum's
//!   lease makes the others ignore their votes (§4.2.3).
//!
//! The cluster starts from a `Bootstrap` entry at index 1 that every initial server writes
//! identically (`Storage::bootstrap`, or `Node::bootstrap` on a node that waited); a joining
//! server starts empty and learns it by replication, like any other entry.

use std::collections::BTreeSet;
use std::fmt;

use crate::message::{EntryKind, Event, Role};
use crate::node::Node;
use crate::{LogIndex, MembershipError, NodeId};

/// The servers of a configuration. Invariant: `voters` and `learners` are disjoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
}

/// One membership change, stored encoded in an `EntryKind::ConfChange` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfChange {
    /// The initial configuration, at index 1 of every initial server's log.
    Bootstrap {
        voters: Vec<NodeId>,
    },
    AddLearner(NodeId),
    /// A caught-up learner becomes a voter.
    Promote(NodeId),
    /// Remove a voter or a learner.
    Remove(NodeId),
    /// Disaster recovery's fiat (`Node::force_configuration`): `voters` alone, no learners.
    Reset {
        voters: Vec<NodeId>,
    },
}

/// The encoding's upper bound on bootstrap voters; a decoder never allocates past it.
pub const BOOTSTRAP_VOTERS_MAX: usize = 255;

impl Membership {
    pub fn contains(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    /// Every member, voters first, in id order.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().chain(self.learners.iter()).copied()
    }

    /// The configuration after `change`, or why the change does not fit this one.
    pub fn apply(&self, change: &ConfChange) -> Result<Membership, &'static str> {
        let mut next = self.clone();
        match change {
            ConfChange::Bootstrap { voters } => {
                if !self.voters.is_empty() || !self.learners.is_empty() {
                    return Err("bootstrap on a non-empty membership");
                }
                if voters.is_empty() {
                    return Err("bootstrap with no voters");
                }
                next.voters = voters.iter().copied().collect();
            }
            ConfChange::AddLearner(id) => {
                if self.contains(*id) {
                    return Err("server is already a member");
                }
                next.learners.insert(*id);
            }
            ConfChange::Promote(id) => {
                if !next.learners.remove(id) {
                    return Err("only a learner can be promoted");
                }
                next.voters.insert(*id);
            }
            ConfChange::Remove(id) => {
                if !next.voters.remove(id) && !next.learners.remove(id) {
                    return Err("server is not a member");
                }
                if next.voters.is_empty() {
                    return Err("cannot remove the last voter");
                }
            }
            ConfChange::Reset { voters } => {
                if voters.is_empty() {
                    return Err("reset with no voters");
                }
                next = Membership {
                    voters: voters.iter().copied().collect(),
                    learners: BTreeSet::new(),
                };
            }
        }
        next.check_invariants();
        Ok(next)
    }

    pub fn check_invariants(&self) {
        for id in &self.voters {
            assert!(
                !self.learners.contains(id),
                "{id} is both voter and learner"
            );
            assert!(id.0 != 0, "node id 0 in membership {self}");
        }
    }
}

impl ConfChange {
    /// Encoding: a tag byte, then the ids as big-endian u64s (bootstrap and reset: a count
    /// byte first).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9);
        let push_id = |out: &mut Vec<u8>, id: &NodeId| out.extend_from_slice(&id.0.to_be_bytes());
        match self {
            ConfChange::Bootstrap { voters } | ConfChange::Reset { voters } => {
                assert!(
                    voters.len() <= BOOTSTRAP_VOTERS_MAX,
                    "{} voters",
                    voters.len()
                );
                let tag = if matches!(self, ConfChange::Bootstrap { .. }) {
                    0
                } else {
                    4
                };
                out.push(tag);
                out.push(voters.len() as u8);
                voters.iter().for_each(|id| push_id(&mut out, id));
            }
            ConfChange::AddLearner(id) => {
                out.push(1);
                push_id(&mut out, id);
            }
            ConfChange::Promote(id) => {
                out.push(2);
                push_id(&mut out, id);
            }
            ConfChange::Remove(id) => {
                out.push(3);
                push_id(&mut out, id);
            }
        }
        out
    }

    /// Decodes `encode`'s output; `None` for anything else. Total: never panics.
    pub fn decode(bytes: &[u8]) -> Option<ConfChange> {
        let (&tag, rest) = bytes.split_first()?;
        let read_id = |b: &[u8]| -> Option<NodeId> {
            let raw: [u8; 8] = b.get(..8)?.try_into().ok()?;
            Some(NodeId(u64::from_be_bytes(raw)))
        };
        let single = |rest: &[u8]| if rest.len() == 8 { read_id(rest) } else { None };
        let many = |rest: &[u8]| -> Option<Vec<NodeId>> {
            let (&count, ids) = rest.split_first()?;
            if ids.len() != count as usize * 8 {
                return None;
            }
            ids.chunks(8).map(read_id).collect()
        };
        match tag {
            0 => Some(ConfChange::Bootstrap {
                voters: many(rest)?,
            }),
            1 => Some(ConfChange::AddLearner(single(rest)?)),
            2 => Some(ConfChange::Promote(single(rest)?)),
            3 => Some(ConfChange::Remove(single(rest)?)),
            4 => Some(ConfChange::Reset {
                voters: many(rest)?,
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |set: &BTreeSet<NodeId>| {
            set.iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        write!(f, "voters=({})", join(&self.voters))?;
        if !self.learners.is_empty() {
            write!(f, " learners=({})", join(&self.learners))?;
        }
        Ok(())
    }
}

impl fmt::Display for ConfChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfChange::Bootstrap { voters } => write!(f, "bootstrap{voters:?}"),
            ConfChange::AddLearner(id) => write!(f, "add-learner {id}"),
            ConfChange::Promote(id) => write!(f, "promote {id}"),
            ConfChange::Remove(id) => write!(f, "remove {id}"),
            ConfChange::Reset { voters } => write!(f, "reset{voters:?}"),
        }
    }
}

impl Node {
    /// Leader: proposes one membership change (thesis §4.1 rules in the module docs). Returns
    /// the index of its entry; the change is in force at once and safe once committed.
    pub fn change_membership(&mut self, change: ConfChange) -> Result<LogIndex, MembershipError> {
        if self.role != Role::Leader {
            return Err(MembershipError::NotLeader {
                leader: self.leader,
            });
        }
        if let Some(to) = self.transfer_target() {
            return Err(MembershipError::TransferInProgress { to });
        }
        if self.membership_index > self.log.commit {
            return Err(MembershipError::ChangeInProgress {
                index: self.membership_index,
            });
        }
        if self.log.term(self.log.commit) != Some(self.term) {
            return Err(MembershipError::NoCommitInTerm { term: self.term });
        }
        if let ConfChange::Bootstrap { .. } | ConfChange::Reset { .. } = change {
            return Err(MembershipError::Invalid(
                "bootstrap and reset are not changes a leader proposes",
            ));
        }
        let next = self
            .membership
            .apply(&change)
            .map_err(MembershipError::Invalid)?;
        if let ConfChange::Promote(id) = change {
            // Thesis §4.2.1: a new voter that lags would stall commits; promote when caught up.
            let match_index = self.match_index(id).unwrap_or(LogIndex(0));
            if match_index < self.log.commit {
                return Err(MembershipError::NotCaughtUp {
                    id,
                    match_index,
                    commit: self.log.commit,
                });
            }
        }
        let index = self.append_as_leader(EntryKind::ConfChange, change.encode());
        self.set_membership(next, index);
        self.bcast_append();
        self.check_invariants();
        assert!(
            self.membership_index == index,
            "membership index {} != {index}",
            self.membership_index
        );
        Ok(index)
    }

    /// True while the node holds nothing: no entry, no snapshot. Such a server is either
    /// about to start a new cluster (`bootstrap`) or joining one by replication.
    pub fn is_empty(&self) -> bool {
        self.log.last_index() == LogIndex(0) && self.log.snapshot().is_none()
    }

    /// Starts a new cluster on an empty node: appends the `Bootstrap` entry naming `voters`
    /// at index 1, term 1, and commits it at once. That is safe because every initial server
    /// appends the very same entry on its own (`Storage::bootstrap` does it before the node
    /// exists; this is for a driver that first waits to hear that its peers are new too).
    /// The next `Ready` hands the entry out to persist and to apply.
    pub fn bootstrap(&mut self, voters: &[NodeId]) {
        assert!(self.is_empty(), "bootstrap of a node that holds a log");
        let boot = crate::config::Storage::bootstrap(voters);
        if self.term < boot.hard_state.term {
            self.term = boot.hard_state.term;
            self.voted_for = None;
        }
        self.log.append(boot.entries);
        self.log.commit_to(LogIndex(1));
        self.refresh_membership();
        self.reset_election_timer();
        self.check_invariants();
    }

    /// Disaster recovery, by an operator's decision (ClickHouse Keeper's `--force-recovery`,
    /// etcd's `--force-new-cluster`): the old quorum is gone for good and this server's log
    /// is the one to keep. No election can say so, so we decree it: in a new term we append a
    /// `Reset` entry making `voters` the whole configuration, then `then` (the driver's own
    /// record of the change), and campaign at once. With only ourselves as voter we win and
    /// commit alone; the driver then grows the membership again the usual way (learners,
    /// promoted once caught up). Entries the lost quorum committed past our log are lost —
    /// why only an operator may call this, and why old servers must never return. Returns
    /// the index of `then`.
    pub fn force_configuration(&mut self, voters: &[NodeId], then: Vec<u8>) -> LogIndex {
        assert!(
            voters.contains(&self.id),
            "forcing a configuration without us"
        );
        assert!(!self.is_empty(), "nothing to recover");
        if self.role != Role::Follower {
            self.become_follower(self.term, None);
        }
        // The new term is ours alone: no server of the new configuration can hold entries of
        // it, so appending without an election breaks no Log Matching.
        self.term = self.term.next();
        self.voted_for = Some(self.id);
        self.leader = None;
        let reset = ConfChange::Reset {
            voters: voters.to_vec(),
        };
        let first = self.log.last_index().next();
        let entries = vec![
            crate::message::Entry {
                term: self.term,
                index: first,
                kind: EntryKind::ConfChange,
                data: reset.encode(),
            },
            crate::message::Entry {
                term: self.term,
                index: first.next(),
                kind: EntryKind::Normal,
                data: then,
            },
        ];
        self.log.append(entries);
        self.refresh_membership();
        self.campaign_now();
        self.check_invariants();
        first.next()
    }

    /// Recomputes the configuration from the snapshot and the log's conf entries: the latest
    /// one appended is in force (thesis §4.1), so a truncation can bring an older one back.
    pub(crate) fn refresh_membership(&mut self) {
        let (membership, index) = self.membership_through(self.log.last_index());
        if membership != self.membership || index != self.membership_index {
            self.set_membership(membership, index);
        }
    }

    /// The configuration in force at `index` (for a snapshot's metadata).
    /// The configuration in force at `index` (at or after the snapshot).
    pub fn membership_at(&self, index: LogIndex) -> Membership {
        self.membership_through(index).0
    }

    fn membership_through(&self, last: LogIndex) -> (Membership, LogIndex) {
        let mut membership = self.log.snapshot_membership();
        let mut at = self.log.first_index().prev();
        for entry in self.log.entries().iter().take_while(|e| e.index <= last) {
            if entry.kind != EntryKind::ConfChange {
                continue;
            }
            // The leader validated every change before appending it, so decoding and applying
            // succeed; were a peer to send garbage, every server would skip it identically.
            let Some(change) = ConfChange::decode(&entry.data) else {
                continue;
            };
            if let Ok(next) = membership.apply(&change) {
                membership = next;
                at = entry.index;
            }
        }
        (membership, at)
    }

    fn set_membership(&mut self, membership: Membership, index: LogIndex) {
        self.membership = membership.clone();
        self.membership_index = index;
        self.events
            .push(Event::MembershipChanged { index, membership });
        if self.role != Role::Leader {
            // A server removed while campaigning gives up (it can no longer win).
            if self.role != Role::Follower && !self.is_promotable() {
                self.become_follower(self.term, None);
            }
            return;
        }
        let stale: Vec<NodeId> = self
            .progress
            .keys()
            .copied()
            .filter(|id| !self.membership.contains(*id))
            .collect();
        for id in stale {
            self.progress.remove(&id);
        }
        let fresh: Vec<NodeId> = self
            .membership
            .members()
            .filter(|id| !self.progress.contains_key(id))
            .collect();
        for id in fresh {
            self.add_progress(id);
        }
        if let Some(to) = self.transfer_target() {
            if !self.membership.is_voter(to) {
                self.abort_transfer();
            }
        }
        // Fewer voters can mean a smaller majority that already holds newer entries.
        if self.maybe_commit() {
            self.bcast_append();
        }
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod node_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u64]) -> Vec<NodeId> {
        v.iter().map(|i| NodeId(*i)).collect()
    }

    #[test]
    fn conf_change_round_trips() {
        let changes = [
            ConfChange::Bootstrap {
                voters: ids(&[1, 2, 3]),
            },
            ConfChange::AddLearner(NodeId(4)),
            ConfChange::Promote(NodeId(4)),
            ConfChange::Remove(NodeId(2)),
        ];
        for change in changes {
            assert_eq!(ConfChange::decode(&change.encode()), Some(change));
        }
        assert_eq!(ConfChange::decode(&[]), None);
        assert_eq!(ConfChange::decode(&[9, 0, 0]), None);
        assert_eq!(ConfChange::decode(&[0, 2, 1]), None);
    }

    #[test]
    fn learners_join_then_get_promoted() {
        let m = Membership::default();
        let m = m
            .apply(&ConfChange::Bootstrap {
                voters: ids(&[1, 2, 3]),
            })
            .unwrap();
        let m = m.apply(&ConfChange::AddLearner(NodeId(4))).unwrap();
        assert!(!m.is_voter(NodeId(4)));
        assert!(m.apply(&ConfChange::Promote(NodeId(5))).is_err());
        let m = m.apply(&ConfChange::Promote(NodeId(4))).unwrap();
        assert!(m.is_voter(NodeId(4)));
        assert!(m.apply(&ConfChange::AddLearner(NodeId(4))).is_err());
    }

    #[test]
    fn last_voter_cannot_be_removed() {
        let m = Membership::default()
            .apply(&ConfChange::Bootstrap { voters: ids(&[1]) })
            .unwrap();
        assert!(m.apply(&ConfChange::Remove(NodeId(1))).is_err());
    }
}

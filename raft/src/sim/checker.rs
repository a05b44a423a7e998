//! The Raft safety properties (paper Figure 3), checked by the simulator on every event.
//!
//! * Election Safety: at most one leader per term.
//! * Log Matching: if two logs contain an entry with the same index and term, the logs are
//!   identical up to it. Checked inductively on every persisted entry — each (index, term)
//!   must always come with the same data and the same previous term — and in full, pairwise,
//!   from time to time.
//! * Leader Completeness: a new leader's log holds every entry committed before its term.
//! * State Machine Safety: no two servers apply different entries at one index; and the
//!   state after each index is the same everywhere (also after snapshot restores).

use std::collections::{BTreeMap, HashMap};

use crate::{Entry, LogIndex, Node, NodeId, Term};

use super::kv::fnv1a;

#[derive(Default)]
pub struct Checker {
    leaders: BTreeMap<Term, NodeId>,
    /// (index, term) -> (data hash, previous entry's term if known).
    entries: HashMap<(u64, u64), (u64, Option<u64>)>,
    /// index -> (term, data hash, state digest after it), from any server's apply.
    committed: BTreeMap<u64, (u64, u64, u64)>,
    /// index -> the lowest current term of a server seen applying it.
    seen_in_term: BTreeMap<u64, u64>,
    pub violations: Vec<String>,
}

fn entry_hash(entry: &Entry) -> u64 {
    fnv1a(&entry.data) ^ (entry.kind == crate::EntryKind::ConfChange) as u64
}

impl Checker {
    fn fail(&mut self, what: String) {
        self.violations.push(what);
    }

    /// How many log indexes some server has applied.
    pub fn committed_count(&self) -> u64 {
        self.committed.len() as u64
    }

    /// Every (term, leader) seen so far, by term.
    pub fn leaders(&self) -> Vec<(Term, NodeId)> {
        self.leaders.iter().map(|(t, id)| (*t, *id)).collect()
    }

    /// Election Safety, and Leader Completeness at the moment leadership begins.
    pub fn observe_role(&mut self, node: &Node, was_leader_in_term: bool) {
        if node.role() != crate::Role::Leader {
            return;
        }
        let term = node.term();
        match self.leaders.get(&term) {
            Some(other) if *other != node.id() => {
                let msg = format!(
                    "election safety: {} and {} both lead term {term}",
                    other,
                    node.id()
                );
                self.fail(msg);
            }
            _ => {
                self.leaders.insert(term, node.id());
            }
        }
        if !was_leader_in_term {
            self.check_leader_completeness(node);
        }
    }

    /// Only entries known to be committed in an earlier term count: an entry first applied by
    /// a server in term `t` was committed in a term `<= t`. (A leader elected late for an old
    /// term need not hold entries that a newer leader committed meanwhile.)
    fn check_leader_completeness(&mut self, node: &Node) {
        let term = node.term().0;
        let snapshot_index = node.first_index().0 - 1;
        let earlier: Vec<(u64, u64)> = self
            .committed
            .range(snapshot_index.max(1)..)
            .filter(|(i, _)| self.seen_in_term.get(i).is_some_and(|t| *t < term))
            .map(|(i, c)| (*i, c.0))
            .collect();
        for (index, entry_term) in earlier {
            let have = node.term_at(LogIndex(index)).map(|t| t.0);
            if have != Some(entry_term) {
                let msg = format!(
                    "leader completeness: leader {} of term {term} has {have:?} at {index}, \
                    committed with term {entry_term}",
                    node.id(),
                );
                self.fail(msg);
                return;
            }
        }
    }

    /// Log Matching, inductively, for entries a node just persisted after `prev_term`.
    pub fn observe_persisted(&mut self, id: NodeId, prev_term: Option<Term>, entries: &[Entry]) {
        let mut prev = prev_term.map(|t| t.0);
        for entry in entries {
            let key = (entry.index.0, entry.term.0);
            let value = (entry_hash(entry), prev);
            match self.entries.get(&key).copied() {
                None => {
                    self.entries.insert(key, value);
                }
                Some((hash, known_prev)) => {
                    if hash != value.0 {
                        let msg = format!(
                            "log matching: node {id} persisted {}/{} with other data than \
                            another node",
                            entry.term, entry.index
                        );
                        self.fail(msg);
                    }
                    match (known_prev, prev) {
                        (Some(a), Some(b)) if a != b => {
                            let msg = format!(
                                "log matching: node {id} has {}/{} after term {b}, another \
                                node after term {a}",
                                entry.term, entry.index
                            );
                            self.fail(msg);
                        }
                        (None, Some(_)) => {
                            self.entries.insert(key, value);
                        }
                        _ => {}
                    }
                }
            }
            prev = Some(entry.term.0);
        }
    }

    /// State Machine Safety for one applied entry, with the state digest after it.
    /// `term` is the applying server's current term. True if no server applied the index
    /// before.
    pub fn observe_applied(&mut self, id: NodeId, term: Term, entry: &Entry, digest: u64) -> bool {
        let value = (entry.term.0, entry_hash(entry), digest);
        let seen = self.seen_in_term.entry(entry.index.0).or_insert(term.0);
        *seen = (*seen).min(term.0);
        match self.committed.get(&entry.index.0).copied() {
            None => {
                self.committed.insert(entry.index.0, value);
                return true;
            }
            Some(known) if known != value => {
                let msg = format!(
                    "state machine safety: node {id} applied {}/{} (digest \
                    {digest:x}), another applied term {} (digest {:x})",
                    entry.term, entry.index, known.0, known.2
                );
                self.fail(msg);
            }
            Some(_) => {}
        }
        false
    }

    /// A restored snapshot must match the state others reached at that index.
    pub fn observe_snapshot(&mut self, id: NodeId, index: LogIndex, term: Term, digest: u64) {
        if let Some(known) = self.committed.get(&index.0).copied() {
            if known.0 != term.0 || known.2 != digest {
                let msg = format!(
                    "state machine safety: node {id} restored snapshot {term}/{index} \
                    digest {digest:x}, others reached term {} digest {:x}",
                    known.0, known.2
                );
                self.fail(msg);
            }
        }
    }

    /// Log Matching in full between two nodes' in-memory logs.
    pub fn check_log_matching(&mut self, a: &Node, b: &Node) {
        let low = a.first_index().max(b.first_index()).0;
        let high = a.last_index().min(b.last_index()).0;
        let mut matched_at = None;
        for index in (low..=high).rev() {
            if a.term_at(LogIndex(index)) == b.term_at(LogIndex(index)) {
                matched_at = Some(index);
                break;
            }
        }
        let Some(top) = matched_at else { return };
        for index in low..=top {
            let ea = a.entry(LogIndex(index));
            let eb = b.entry(LogIndex(index));
            if ea != eb {
                let msg = format!(
                    "log matching: nodes {} and {} agree at {top} but differ at \
                    {index}: {ea:?} vs {eb:?}",
                    a.id(),
                    b.id()
                );
                self.fail(msg);
                return;
            }
        }
    }
}

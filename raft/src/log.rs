//! `RaftLog`: the replicated log held in memory, after an optional snapshot.
//!
//! Layout: `snapshot` covers indexes `1..=offset_index`; `entries[i]` has index
//! `offset_index + 1 + i`. Marks along it, with their invariants:
//!
//! ```text
//!   offset_index <= applied <= commit <= last_index
//!   offset_index <= stable_index <= handed_index <= last_index
//! ```
//!
//! * `stable_index`: entries up to here are durable *and* identical to memory.
//! * `handed_index`: entries up to here were handed to the driver in a `Ready`.
//! * A truncation at `i` (paper §5.3, a follower dropping a conflicting suffix) lowers both to
//!   `i - 1`, so the next `Ready` re-sends from `i` and the driver truncates its copy there.
//!   Committed entries are never truncated (Leader Completeness, paper §5.4); that is asserted.

use crate::membership::Membership;
use crate::message::{Entry, Snapshot, SnapshotMeta};
use crate::{LogIndex, Term};

pub(crate) struct RaftLog {
    /// The latest snapshot, kept so a leader can stream it to lagging followers: whole, or
    /// (`Config::snapshot_bytes_in_driver`) only its `meta` once it was handed out, the
    /// driver keeping the bytes.
    snapshot: Option<Snapshot>,
    /// The size of the snapshot's image, wherever its bytes are.
    snapshot_total_bytes: u64,
    /// A snapshot received from the leader and not yet handed out in a `Ready`.
    snapshot_unhanded: bool,
    offset_index: LogIndex,
    offset_term: Term,
    entries: Vec<Entry>,
    pub(crate) commit: LogIndex,
    /// Highest index handed out for applying (set when the `Ready` is advanced).
    pub(crate) applied: LogIndex,
    stable_index: LogIndex,
    handed_index: LogIndex,
}

/// Why entries could not be read: they were folded into the snapshot.
#[derive(Debug)]
pub(crate) struct Compacted;

impl RaftLog {
    /// A log rebuilt from stable storage: everything given is durable.
    pub(crate) fn new(
        snapshot: Option<Snapshot>,
        snapshot_total_bytes: u64,
        entries: Vec<Entry>,
        commit: LogIndex,
    ) -> Self {
        let (offset_index, offset_term) = snapshot
            .as_ref()
            .map_or((LogIndex(0), Term(0)), |s| (s.meta.index, s.meta.term));
        let mut log = RaftLog {
            snapshot,
            snapshot_total_bytes,
            snapshot_unhanded: false,
            offset_index,
            offset_term,
            entries: Vec::new(),
            commit: offset_index,
            applied: offset_index,
            stable_index: offset_index,
            handed_index: offset_index,
        };
        // Storage may hold entries the snapshot already covers; keep only those after it.
        for entry in entries.into_iter().filter(|e| e.index > offset_index) {
            assert!(
                entry.index == log.last_index().next(),
                "stored entries not contiguous: {} after {}",
                entry.index,
                log.last_index()
            );
            log.entries.push(entry);
        }
        log.stable_index = log.last_index();
        log.handed_index = log.last_index();
        // The persisted commit may trail or (if entries were lost with a torn tail) exceed
        // what is stored; clamp it to the log.
        log.commit = commit.max(offset_index).min(log.last_index());
        log.check_invariants();
        log
    }

    pub(crate) fn first_index(&self) -> LogIndex {
        self.offset_index.next()
    }

    pub(crate) fn last_index(&self) -> LogIndex {
        LogIndex(self.offset_index.0 + self.entries.len() as u64)
    }

    pub(crate) fn last_term(&self) -> Term {
        self.entries.last().map_or(self.offset_term, |e| e.term)
    }

    pub(crate) fn stable_index(&self) -> LogIndex {
        self.stable_index
    }

    pub(crate) fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    pub(crate) fn snapshot_membership(&self) -> Membership {
        self.snapshot
            .as_ref()
            .map_or_else(Membership::default, |s| s.meta.membership.clone())
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The term of the entry at `index`; `None` if compacted away (except the snapshot's own
    /// last index) or beyond the end.
    pub(crate) fn term(&self, index: LogIndex) -> Option<Term> {
        if index == self.offset_index {
            return Some(self.offset_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub(crate) fn entry(&self, index: LogIndex) -> Option<&Entry> {
        if index <= self.offset_index || index > self.last_index() {
            return None;
        }
        let entry = &self.entries[(index.0 - self.offset_index.0 - 1) as usize];
        assert!(
            entry.index == index,
            "entry at slot for {index} has index {}",
            entry.index
        );
        Some(entry)
    }

    /// Paper §5.3, the consistency check: the log holds an entry at `index` with `term`.
    pub(crate) fn matches(&self, index: LogIndex, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// Paper §5.4.1: a candidate's log is at least as up-to-date as ours if its last term is
    /// higher, or the terms are equal and its log is at least as long.
    pub(crate) fn is_up_to_date(&self, last_index: LogIndex, last_term: Term) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// The leader's append of its own new entries: no conflicts are possible.
    pub(crate) fn append(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            assert!(
                entry.index == self.last_index().next(),
                "append {} after {}",
                entry.index,
                self.last_index()
            );
            assert!(
                entry.term >= self.last_term(),
                "term {} after {}",
                entry.term,
                self.last_term()
            );
            self.entries.push(entry);
        }
    }

    /// Paper §5.3, receiver rules 2–4 of AppendEntries. Returns `None` if the log does not
    /// contain `prev_index` with `prev_term`; else the index of the last new entry and whether
    /// a conflicting suffix was truncated.
    pub(crate) fn maybe_append(
        &mut self,
        prev_index: LogIndex,
        prev_term: Term,
        entries: Vec<Entry>,
    ) -> Option<(LogIndex, bool)> {
        if !self.matches(prev_index, prev_term) {
            return None;
        }
        let last_new = LogIndex(prev_index.0 + entries.len() as u64);
        let mut truncated = false;
        for entry in entries {
            match self.term(entry.index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    // Rule 3: "if an existing entry conflicts with a new one (same index but
                    // different terms), delete the existing entry and all that follow it."
                    self.truncate_from(entry.index);
                    truncated = true;
                    self.entries.push(entry);
                }
                None => {
                    assert!(
                        entry.index == self.last_index().next(),
                        "gap: {} after {}",
                        entry.index,
                        self.last_index()
                    );
                    self.entries.push(entry);
                }
            }
        }
        assert!(
            self.last_index() >= last_new,
            "last {} < last new {last_new}",
            self.last_index()
        );
        Some((last_new, truncated))
    }

    fn truncate_from(&mut self, index: LogIndex) {
        assert!(
            index > self.commit,
            "truncating committed entry {index} (commit {})",
            self.commit
        );
        assert!(
            index > self.offset_index,
            "truncating {index} inside snapshot"
        );
        self.entries
            .truncate((index.0 - self.offset_index.0 - 1) as usize);
        self.stable_index = self.stable_index.min(index.prev());
        self.handed_index = self.handed_index.min(index.prev());
    }

    /// Fast backtracking (paper §5.3, end): the largest index `<= index` whose term is
    /// `<= term`, with that term. Leader and follower both use it, each on its own log.
    pub(crate) fn find_conflict_by_term(&self, index: LogIndex, term: Term) -> (LogIndex, Term) {
        let mut index = index.min(self.last_index());
        while index > self.offset_index {
            let here = self
                .term(index)
                .expect("indexes in (offset, last] have terms");
            if here <= term {
                return (index, here);
            }
            index = index.prev();
        }
        (self.offset_index, self.offset_term)
    }

    /// Up to `max_bytes` of entries starting at `from` (always at least one if any exist).
    pub(crate) fn entries_from(
        &self,
        from: LogIndex,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, Compacted> {
        if from <= self.offset_index {
            return Err(Compacted);
        }
        let mut out = Vec::new();
        let mut size_bytes = 0;
        let mut index = from;
        while let Some(entry) = self.entry(index) {
            size_bytes += entry.size_bytes();
            if !out.is_empty() && size_bytes > max_bytes {
                break;
            }
            out.push(entry.clone());
            index = index.next();
        }
        Ok(out)
    }

    pub(crate) fn commit_to(&mut self, index: LogIndex) {
        if index > self.commit {
            assert!(
                index <= self.last_index(),
                "commit {index} beyond last {}",
                self.last_index()
            );
            self.commit = index;
        }
    }

    /// Entries not yet handed out for persistence, marked handed.
    pub(crate) fn take_unhanded(&mut self) -> Vec<Entry> {
        let from = self.handed_index.next();
        let out: Vec<Entry> = (from.0..=self.last_index().0)
            .map(|i| {
                self.entry(LogIndex(i))
                    .expect("unhanded entries are in memory")
                    .clone()
            })
            .collect();
        self.handed_index = self.last_index();
        out
    }

    /// The snapshot from the leader, to hand out: a copy, or (`keep_bytes` false, the
    /// driver keeps them from here on) its bytes themselves.
    pub(crate) fn take_unhanded_snapshot(&mut self, keep_bytes: bool) -> Option<Snapshot> {
        if !self.snapshot_unhanded {
            return None;
        }
        self.snapshot_unhanded = false;
        let snapshot = self.snapshot.as_mut().expect("an unhanded snapshot exists");
        if keep_bytes {
            return Some(snapshot.clone());
        }
        Some(Snapshot {
            meta: snapshot.meta.clone(),
            data: std::mem::take(&mut snapshot.data),
        })
    }

    pub(crate) fn snapshot_total_bytes(&self) -> u64 {
        self.snapshot_total_bytes
    }

    /// Committed entries after `applied`, up to about `max_bytes` (at least one). They are at
    /// most `last_index`, so the same `Ready` persists them before the driver applies them.
    pub(crate) fn unapplied(&self, max_bytes: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut size_bytes = 0;
        for i in self.applied.0 + 1..=self.commit.0 {
            let entry = self
                .entry(LogIndex(i))
                .expect("committed entries after applied exist");
            size_bytes += entry.size_bytes();
            if !out.is_empty() && size_bytes > max_bytes {
                break;
            }
            out.push(entry.clone());
        }
        out
    }

    /// The driver made entries up to `index` (of `term`) durable.
    pub(crate) fn stable_to(&mut self, index: LogIndex, term: Term) {
        // A truncation after the hand-out lowered `handed_index`; only the untouched prefix is
        // both durable and current.
        if self.matches(index, term) {
            self.stable_index = self.stable_index.max(index.min(self.handed_index));
        }
    }

    pub(crate) fn applied_to(&mut self, index: LogIndex) {
        assert!(
            index <= self.commit,
            "applied {index} > commit {}",
            self.commit
        );
        self.applied = self.applied.max(index);
    }

    /// Paper §7: a snapshot from the leader replaces the whole log.
    pub(crate) fn restore(&mut self, snapshot: Snapshot) {
        let index = snapshot.meta.index;
        assert!(
            index > self.commit,
            "restore {index} at or below commit {}",
            self.commit
        );
        self.offset_index = index;
        self.offset_term = snapshot.meta.term;
        self.entries.clear();
        self.commit = index;
        self.applied = index;
        self.stable_index = index;
        self.handed_index = index;
        self.snapshot_total_bytes = snapshot.data.len() as u64;
        self.snapshot = Some(snapshot);
        self.snapshot_unhanded = true;
    }

    /// Paper §7: fold applied entries up to `meta.index` into a snapshot the driver made,
    /// of `total_bytes` (`data` holds them, or is empty if the driver keeps them). Drops the
    /// entries up to `meta.index` and keeps the snapshot; returns the dropped ones.
    pub(crate) fn compact(
        &mut self,
        meta: SnapshotMeta,
        data: Vec<u8>,
        total_bytes: u64,
    ) -> Vec<Entry> {
        let index = meta.index;
        assert!(
            index > self.offset_index,
            "compact {index} <= offset {}",
            self.offset_index
        );
        assert!(
            index <= self.applied,
            "compact {index} > applied {}",
            self.applied
        );
        assert!(
            index <= self.stable_index,
            "compact {index} > stable {}",
            self.stable_index
        );
        assert!(
            self.term(index) == Some(meta.term),
            "snapshot term {} != log",
            meta.term
        );
        // The kept tail is copied out; the dropped head keeps the old allocation.
        let kept = self
            .entries
            .split_off((index.0 - self.offset_index.0) as usize);
        let dropped = std::mem::replace(&mut self.entries, kept);
        self.offset_index = index;
        self.offset_term = meta.term;
        self.snapshot = Some(Snapshot { meta, data });
        self.snapshot_total_bytes = total_bytes;
        self.check_invariants();
        dropped
    }

    pub(crate) fn check_invariants(&self) {
        if let Some(snapshot) = &self.snapshot {
            let held = snapshot.data.len() as u64;
            assert!(
                held == 0 || held == self.snapshot_total_bytes,
                "snapshot holds {held} of {} bytes",
                self.snapshot_total_bytes
            );
        }
        assert!(
            self.offset_index <= self.applied,
            "offset {} > applied {}",
            self.offset_index,
            self.applied
        );
        assert!(
            self.applied <= self.commit,
            "applied {} > commit {}",
            self.applied,
            self.commit
        );
        assert!(
            self.commit <= self.last_index(),
            "commit {} > last {}",
            self.commit,
            self.last_index()
        );
        assert!(
            self.offset_index <= self.stable_index,
            "stable {} < offset {}",
            self.stable_index,
            self.offset_index
        );
        assert!(
            self.stable_index <= self.handed_index,
            "stable {} > handed {}",
            self.stable_index,
            self.handed_index
        );
        assert!(
            self.handed_index <= self.last_index(),
            "handed {} > last {}",
            self.handed_index,
            self.last_index()
        );
        if let Some(first) = self.entries.first() {
            assert!(
                first.index == self.first_index(),
                "first entry {} != {}",
                first.index,
                self.first_index()
            );
            assert!(
                first.term >= self.offset_term,
                "term {} below snapshot term {}",
                first.term,
                self.offset_term
            );
        }
        debug_assert!(
            self.entries
                .windows(2)
                .all(|w| w[1].index == w[0].index.next() && w[1].term >= w[0].term),
            "log entries not contiguous with non-decreasing terms"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntryKind;

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            term: Term(term),
            index: LogIndex(index),
            kind: EntryKind::Normal,
            data: vec![],
        }
    }

    fn log_of(terms: &[u64]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, t)| entry(*t, i as u64 + 1))
            .collect();
        RaftLog::new(None, 0, entries, LogIndex(0))
    }

    #[test]
    fn append_entries_rule_3_truncates_conflicting_suffix() {
        // Paper §5.3: "If an existing entry conflicts with a new one (same index but different
        // terms), delete the existing entry and all that follow it."
        let mut log = log_of(&[1, 1, 2, 2]);
        let (last, truncated) = log
            .maybe_append(LogIndex(2), Term(1), vec![entry(3, 3)])
            .unwrap();
        assert_eq!((last, truncated), (LogIndex(3), true));
        assert_eq!(log.last_index(), LogIndex(3));
        assert_eq!(log.stable_index(), LogIndex(2));
    }

    #[test]
    fn append_entries_rule_2_rejects_missing_prev() {
        // Paper §5.3: "Reply false if log doesn't contain an entry at prevLogIndex whose term
        // matches prevLogTerm."
        let mut log = log_of(&[1, 1]);
        assert!(log.maybe_append(LogIndex(2), Term(2), vec![]).is_none());
        assert!(log.maybe_append(LogIndex(3), Term(1), vec![]).is_none());
    }

    #[test]
    fn stale_append_keeps_longer_matching_log() {
        let mut log = log_of(&[1, 1, 1]);
        let (last, truncated) = log
            .maybe_append(LogIndex(0), Term(0), vec![entry(1, 1)])
            .unwrap();
        assert_eq!((last, truncated), (LogIndex(1), false));
        assert_eq!(log.last_index(), LogIndex(3));
    }

    #[test]
    fn up_to_date_compares_last_term_then_length_5_4_1() {
        let log = log_of(&[1, 2, 2]);
        assert!(log.is_up_to_date(LogIndex(1), Term(3)));
        assert!(log.is_up_to_date(LogIndex(3), Term(2)));
        assert!(!log.is_up_to_date(LogIndex(2), Term(2)));
        assert!(!log.is_up_to_date(LogIndex(9), Term(1)));
    }

    #[test]
    fn find_conflict_by_term_skips_whole_terms() {
        let log = log_of(&[1, 1, 4, 4, 5, 5]);
        assert_eq!(
            log.find_conflict_by_term(LogIndex(6), Term(4)),
            (LogIndex(4), Term(4))
        );
        assert_eq!(
            log.find_conflict_by_term(LogIndex(6), Term(3)),
            (LogIndex(2), Term(1))
        );
        assert_eq!(
            log.find_conflict_by_term(LogIndex(9), Term(9)),
            (LogIndex(6), Term(5))
        );
        assert_eq!(
            log.find_conflict_by_term(LogIndex(6), Term(0)),
            (LogIndex(0), Term(0))
        );
    }

    #[test]
    fn unapplied_is_sliced_by_size_but_returns_at_least_one() {
        let mut log = log_of(&[1, 1, 1]);
        log.commit_to(LogIndex(3));
        assert_eq!(log.unapplied(0).len(), 1);
        assert_eq!(log.unapplied(usize::MAX).len(), 3);
        log.applied_to(LogIndex(3));
        assert!(log.unapplied(usize::MAX).is_empty());
    }

    #[test]
    fn entries_from_respects_size_but_returns_at_least_one() {
        let log = log_of(&[1, 1, 1]);
        assert_eq!(log.entries_from(LogIndex(1), 0).unwrap().len(), 1);
        assert_eq!(log.entries_from(LogIndex(1), usize::MAX).unwrap().len(), 3);
        assert_eq!(log.entries_from(LogIndex(4), 100).unwrap().len(), 0);
    }
}

//! `WatchManager`: the server-local watch tables and the events a change fires. Not
//! replicated: each server keeps the watches of its own sessions.
//!
//! Source: ZooKeeper 3.8's `DataTree` (two `WatchManager`s, `dataWatches` and
//! `childWatches`), `watch/WatchManager.triggerWatch`, `WatcherModeManager`, and
//! `DataTree.setWatches/addWatch/containsWatcher/removeWatch`. Rules reproduced:
//! - getData and exists watches live in the data table, getChildren watches in the child
//!   table; addWatch (persistent / persistent-recursive) puts the session in both.
//! - A (session, path) has one mode per table, and the last add wins: a plain getData
//!   watch on a path with a persistent watch turns it back into a one-shot watch.
//! - NodeCreated and NodeDataChanged fire the data table; NodeChildrenChanged the child
//!   table; NodeDeleted fires the data table, then the child table minus the sessions the
//!   data table already notified. Each trigger notifies a session at most once.
//! - At the changed path every watcher fires (one-shot ones are removed); at its ancestors
//!   only recursive ones, and recursive watches never see NodeChildrenChanged.
//! - Sessions are notified in ascending id order (ZooKeeper uses HashSet order).
//! - Reports for the wchs/wchc/wchp 4lws cover the data table only, as ZooKeeper's do.

use std::collections::{BTreeMap, BTreeSet};

use wire::SetWatches;

use crate::path;
use crate::tree::DataTree;
use crate::txn::{Change, ChangeKind};

/// Which request set the watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    /// getData with watch=true.
    Data,
    /// exists with watch=true.
    Exist,
    /// getChildren / getChildren2 with watch=true.
    Child,
    /// addWatch mode 0.
    Persistent,
    /// addWatch mode 1.
    PersistentRecursive,
}

impl WatchKind {
    /// The `AddWatchRequest.mode` values.
    pub fn from_add_watch_mode(mode: i32) -> Option<WatchKind> {
        match mode {
            0 => Some(WatchKind::Persistent),
            1 => Some(WatchKind::PersistentRecursive),
            _ => None,
        }
    }
}

/// `Watcher.WatcherType` of checkWatches/removeWatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatcherType {
    Children,
    Data,
    Any,
}

impl WatcherType {
    pub fn from_i32(value: i32) -> Option<WatcherType> {
        match value {
            1 => Some(WatcherType::Children),
            2 => Some(WatcherType::Data),
            3 => Some(WatcherType::Any),
            _ => None,
        }
    }
}

/// A notification for one session (`WatcherEvent` with state SyncConnected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub event_type: ChangeKind,
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Standard,
    Persistent,
    PersistentRecursive,
}

/// One of ZooKeeper's two `WatchManager`s.
#[derive(Clone, Debug, Default)]
struct Table {
    /// path → session → mode. No empty inner maps.
    by_path: BTreeMap<String, BTreeMap<i64, Mode>>,
    /// session → paths; mirrors `by_path`. No empty sets.
    by_session: BTreeMap<i64, BTreeSet<String>>,
    /// How many (session, path) entries are recursive (0 lets trigger skip ancestors).
    recursive_count: usize,
}

impl Table {
    fn add(&mut self, p: &str, session: i64, mode: Mode) {
        let previous = self
            .by_path
            .entry(p.to_string())
            .or_default()
            .insert(session, mode);
        if previous == Some(Mode::PersistentRecursive) {
            self.recursive_count -= 1;
        }
        if mode == Mode::PersistentRecursive {
            self.recursive_count += 1;
        }
        self.by_session
            .entry(session)
            .or_default()
            .insert(p.to_string());
    }

    fn remove(&mut self, p: &str, session: i64) -> bool {
        let Some(paths) = self.by_session.get_mut(&session) else {
            return false;
        };
        if !paths.remove(p) {
            return false;
        }
        if paths.is_empty() {
            self.by_session.remove(&session);
        }
        let watchers = self.by_path.get_mut(p).expect("by_path mirrors by_session");
        let mode = watchers
            .remove(&session)
            .expect("by_path mirrors by_session");
        if watchers.is_empty() {
            self.by_path.remove(p);
        }
        if mode == Mode::PersistentRecursive {
            self.recursive_count -= 1;
        }
        true
    }

    fn remove_session(&mut self, session: i64) {
        let paths: Vec<String> = match self.by_session.get(&session) {
            Some(paths) => paths.iter().cloned().collect(),
            None => return,
        };
        for p in paths {
            let removed = self.remove(&p, session);
            assert!(removed, "watch of session {session:#x} on {p} was listed");
        }
        assert!(
            !self.by_session.contains_key(&session),
            "session {session:#x} has no watches left"
        );
    }

    /// `WatchManager.triggerWatch`: the sessions notified, sorted.
    fn trigger(&mut self, p: &str, kind: ChangeKind) -> BTreeSet<i64> {
        let mut fired = BTreeSet::new();
        let mut one_shot = Vec::new();
        if let Some(watchers) = self.by_path.get(p) {
            for (session, mode) in watchers {
                match mode {
                    Mode::PersistentRecursive if kind == ChangeKind::NodeChildrenChanged => {}
                    Mode::PersistentRecursive | Mode::Persistent => {
                        fired.insert(*session);
                    }
                    Mode::Standard => {
                        fired.insert(*session);
                        one_shot.push(*session);
                    }
                }
            }
        }
        for session in one_shot {
            let removed = self.remove(p, session);
            assert!(
                removed,
                "one-shot watch of {session:#x} on {p} removed once"
            );
        }
        if self.recursive_count > 0 && kind != ChangeKind::NodeChildrenChanged {
            for ancestor in path::ancestors(p) {
                if let Some(watchers) = self.by_path.get(ancestor) {
                    for (session, mode) in watchers {
                        if *mode == Mode::PersistentRecursive {
                            fired.insert(*session);
                        }
                    }
                }
            }
        }
        fired
    }

    /// `WatchManager.containsWatcher` as 3.8.0 has it: true when *any* session watches the
    /// path itself. (Its other branch, "this session's watch here is recursive", implies
    /// the first, and ancestors' watches never count.) The session is deliberately unused.
    fn contains(&self, p: &str, _session: i64) -> bool {
        self.by_path.contains_key(p)
    }

    fn size(&self) -> usize {
        self.by_path.values().map(BTreeMap::len).sum()
    }
}

/// The data and child watch tables of one server.
#[derive(Clone, Debug, Default)]
pub struct WatchManager {
    data: Table,
    child: Table,
}

impl WatchManager {
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    /// Registers a watch (after a successful read, or for exists even on NoNode).
    pub fn add(&mut self, p: &str, kind: WatchKind, session: i64) {
        match kind {
            WatchKind::Data | WatchKind::Exist => self.data.add(p, session, Mode::Standard),
            WatchKind::Child => self.child.add(p, session, Mode::Standard),
            WatchKind::Persistent => {
                self.data.add(p, session, Mode::Persistent);
                self.child.add(p, session, Mode::Persistent);
            }
            WatchKind::PersistentRecursive => {
                self.data.add(p, session, Mode::PersistentRecursive);
                self.child.add(p, session, Mode::PersistentRecursive);
            }
        }
    }

    /// The events `changes` (from one applied txn, in order) fire, as (session, event), in
    /// delivery order; fired one-shot watches are removed.
    pub fn trigger(&mut self, changes: &[Change]) -> Vec<(i64, WatchEvent)> {
        let mut out = Vec::new();
        for change in changes {
            let sessions: Vec<i64> = match change.kind {
                ChangeKind::NodeCreated | ChangeKind::NodeDataChanged => self
                    .data
                    .trigger(&change.path, change.kind)
                    .into_iter()
                    .collect(),
                ChangeKind::NodeChildrenChanged => self
                    .child
                    .trigger(&change.path, change.kind)
                    .into_iter()
                    .collect(),
                ChangeKind::NodeDeleted => {
                    let from_data = self.data.trigger(&change.path, change.kind);
                    let from_child = self.child.trigger(&change.path, change.kind);
                    let mut sessions: Vec<i64> = from_data.iter().copied().collect();
                    sessions.extend(from_child.difference(&from_data));
                    sessions
                }
            };
            if sessions.is_empty() {
                // Most changes fire nothing: no event (and no copy of its path) for them.
                continue;
            }
            let event = WatchEvent {
                event_type: change.kind,
                path: change.path.clone(),
            };
            out.extend(sessions.into_iter().map(|s| (s, event.clone())));
        }
        out
    }

    /// Drops every watch of a closed or expired session (or a closed connection).
    pub fn remove_session(&mut self, session: i64) {
        self.data.remove_session(session);
        self.child.remove_session(session);
    }

    /// removeWatches (`DataTree.removeWatch`): true if a watch was removed; the server
    /// answers NoWatcher otherwise. The server sends no event for the removal (the client
    /// library raises DataWatchRemoved/ChildWatchRemoved itself).
    pub fn remove(&mut self, p: &str, watcher_type: WatcherType, session: i64) -> bool {
        match watcher_type {
            WatcherType::Children => self.child.remove(p, session),
            WatcherType::Data => self.data.remove(p, session),
            WatcherType::Any => {
                let child = self.child.remove(p, session);
                let data = self.data.remove(p, session);
                child || data
            }
        }
    }

    /// checkWatches (`DataTree.containsWatcher`): NoWatcher when false. Note 3.8.0's quirk
    /// (see `Table::contains`): any session's watch on the path counts.
    pub fn check(&self, p: &str, watcher_type: WatcherType, session: i64) -> bool {
        match watcher_type {
            WatcherType::Children => self.child.contains(p, session),
            WatcherType::Data => self.data.contains(p, session),
            WatcherType::Any => self.child.contains(p, session) || self.data.contains(p, session),
        }
    }

    /// setWatches/setWatches2 after a reconnect (`DataTree.setWatches`): returns the events
    /// to send at once for changes the client missed since `relative_zxid`, and registers
    /// the rest. Order: data, exist, child lists, each in the client's order.
    pub fn set_watches(
        &mut self,
        session: i64,
        sw: &SetWatches,
        tree: &DataTree,
    ) -> Vec<WatchEvent> {
        let mut events = Vec::new();
        let event = |kind, p: &String| WatchEvent {
            event_type: kind,
            path: p.clone(),
        };
        for p in &sw.data_watches {
            match tree.node(p) {
                None => events.push(event(ChangeKind::NodeDeleted, p)),
                Some(n) if n.meta.mzxid > sw.relative_zxid => {
                    events.push(event(ChangeKind::NodeDataChanged, p))
                }
                Some(_) => self.data.add(p, session, Mode::Standard),
            }
        }
        for p in &sw.exist_watches {
            match tree.node(p) {
                Some(_) => events.push(event(ChangeKind::NodeCreated, p)),
                None => self.data.add(p, session, Mode::Standard),
            }
        }
        for p in &sw.child_watches {
            match tree.node(p) {
                None => events.push(event(ChangeKind::NodeDeleted, p)),
                Some(n) if n.meta.pzxid > sw.relative_zxid => {
                    events.push(event(ChangeKind::NodeChildrenChanged, p))
                }
                Some(_) => self.child.add(p, session, Mode::Standard),
            }
        }
        for p in &sw.persistent_watches {
            self.child.add(p, session, Mode::Persistent);
            self.data.add(p, session, Mode::Persistent);
        }
        for p in &sw.persistent_recursive_watches {
            self.child.add(p, session, Mode::PersistentRecursive);
            self.data.add(p, session, Mode::PersistentRecursive);
        }
        events
    }

    /// `DataTree.getWatchCount` (mntr zk_watch_count): entries in both tables.
    pub fn watch_count(&self) -> usize {
        self.data.size() + self.child.size()
    }

    /// wchc: data-table watches by session, sorted.
    pub fn watches_by_session(&self) -> BTreeMap<i64, Vec<String>> {
        self.data
            .by_session
            .iter()
            .map(|(s, ps)| (*s, ps.iter().cloned().collect()))
            .collect()
    }

    /// wchp: data-table watches by path, sorted.
    pub fn watches_by_path(&self) -> BTreeMap<String, Vec<i64>> {
        self.data
            .by_path
            .iter()
            .map(|(p, ws)| (p.clone(), ws.keys().copied().collect()))
            .collect()
    }

    /// wchs: (sessions watching, paths watched, total watches) of the data table.
    pub fn summary(&self) -> (usize, usize, usize) {
        let total = self.data.by_session.values().map(BTreeSet::len).sum();
        (self.data.by_session.len(), self.data.by_path.len(), total)
    }

    /// Table consistency (O(watches); call from tests or debug paths).
    pub fn check_invariants(&self) {
        for table in [&self.data, &self.child] {
            let mut recursive = 0;
            for (p, watchers) in &table.by_path {
                assert!(!watchers.is_empty(), "no empty watcher set for {p}");
                for (session, mode) in watchers {
                    let listed = table
                        .by_session
                        .get(session)
                        .is_some_and(|ps| ps.contains(p));
                    assert!(listed, "watch {session:#x} on {p} listed by session");
                    recursive += usize::from(*mode == Mode::PersistentRecursive);
                }
            }
            let by_session: usize = table.by_session.values().map(BTreeSet::len).sum();
            assert_eq!(
                by_session,
                table.size(),
                "both indexes hold the same watches"
            );
            assert_eq!(recursive, table.recursive_count, "recursive count in step");
        }
    }
}

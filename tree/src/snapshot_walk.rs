//! Streaming a snapshot out of a live tree: an incremental copy-on-write walk.
//!
//! Why not ZooKeeper's fuzzy snapshot: ZooKeeper serializes the tree while writes continue
//! and relies on replaying the log from the snapshot's *start* zxid, which works because
//! its txns are idempotent state (a txn carries the resulting node). Ours are requests
//! validated at apply time (`txn.rs`): replaying a create over a tree that already holds
//! the node fails, a setData with a version check fails, a sequential suffix moves. So a
//! snapshot must be an exact image of the tree at one zxid. Cloning the whole tree (1M
//! znodes) on the event-loop thread would stall every writer for hundreds of milliseconds,
//! and a persistent (structurally shared) map would slow every op and every read; so:
//!
//! - `begin_snapshot` fixes the zxid and takes what is small at once: the zxid, the digest,
//!   the node count and the session table (`SnapshotHeader`).
//! - `snapshot_step` emits the next nodes in path order (the `BTreeMap` order the decoder
//!   requires), a bounded number per call, so the loop does a slice of work per turn.
//! - Nodes created since begin need no copy: their czxid is after the begin zxid (every
//!   txn's zxid is after the last one applied), so the walk skips a live node whose czxid
//!   is after it. Creating a node during a walk, the common write, costs the walk nothing.
//! - Copy on write for the rest, per node and only once: while the walk is active every
//!   primitive mutation of an existing node (tree.rs) calls `preserve_for_snapshot` first.
//!   If the path has not been emitted yet (it sorts after the cursor, or no step ran), has
//!   no saved pre-image and its node existed at begin (czxid at or before the begin zxid),
//!   the node as it is, which is as it was at begin, is saved. Paths at or before the
//!   cursor are already in the stream, so later changes to them need nothing. A txn that
//!   fails and rolls back goes through the same primitives; the first touch already saved
//!   the begin-time image, so the rollback changes nothing saved. A node that is removed
//!   and created again keeps the image its removal saved.
//! - A step merges the live nodes after the cursor with the saved pre-images after it; a
//!   saved entry wins over the live node of the same path, and a live node created since
//!   begin without a saved entry is skipped. Saved entries the cursor has passed are
//!   dropped.
//!
//! A pre-image holds what the snapshot encodes (meta, data, ACL), not the child set: the
//! decoder rebuilds children from paths, and cloning a child set of a parent with a million
//! children on the first create under it would be the very stall we avoid.
//!
//! The extra memory is one pre-image per distinct node of begin time written during the
//! walk; the extra cost per mutation is, when a walk is active, one string comparison and
//! one map lookup.
//!
//! Invariants (`SnapshotWalk::check_invariants`): every saved path sorts after the cursor;
//! nodes emitted never exceed the count fixed at begin; when the walk ends it has emitted
//! exactly that count.

use std::collections::BTreeMap;
use std::ops::Bound;

use wire::Writer;

use crate::snapshot::{write_node, SNAPSHOT_FORMAT_VERSION};
use crate::tree::DataTree;
use crate::znode::{Meta, Node};

/// Everything a snapshot holds before its nodes, fixed when the walk begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The zxid the snapshot is an image of (the last txn applied at begin).
    pub last_zxid: i64,
    pub digest: u64,
    /// How many nodes the stream will hold ("/" counted once).
    pub node_count: usize,
    /// (session id, timeout, password) in ascending id order.
    pub sessions: Vec<(i64, i32, [u8; crate::session::PASSWORD_BYTES])>,
}

impl SnapshotHeader {
    /// The bytes before the first node (see snapshot.rs's module doc).
    pub fn encode(&self, w: &mut Writer) {
        assert!(self.node_count >= 1, "a tree has at least the root");
        let node_count = i32::try_from(self.node_count).expect("node count fits an i32");
        w.write_i32(SNAPSHOT_FORMAT_VERSION);
        w.write_i64(self.last_zxid);
        w.write_i64(self.digest as i64);
        w.write_vec(&self.sessions, |w, (id, timeout_ms, password)| {
            w.write_i64(*id);
            w.write_i32(*timeout_ms);
            w.write_buffer(password);
        });
        w.write_i32(node_count);
    }
}

/// A node as the snapshot encodes it; its children are implied by the paths.
#[derive(Clone, Debug)]
pub(crate) struct PreImage {
    meta: Meta,
    data: Option<Vec<u8>>,
    acl: crate::SharedAcl,
}

/// The state of an active walk (see the module doc).
#[derive(Clone, Debug)]
pub(crate) struct SnapshotWalk {
    /// The last path emitted; `None` before the first node.
    cursor: Option<String>,
    /// The zxid the snapshot is an image of: nodes with a later czxid were created since.
    zxid: i64,
    /// Begin-time images of nodes after the cursor that changed or went since begin.
    preserved: BTreeMap<String, PreImage>,
    node_count: usize,
    emitted_count: usize,
}

impl SnapshotWalk {
    fn is_emitted(&self, p: &str) -> bool {
        self.cursor.as_deref().is_some_and(|cursor| p <= cursor)
    }

    /// Whether the stream has `p` as it was at begin already: emitted, or saved.
    fn has_image_of(&self, p: &str) -> bool {
        self.is_emitted(p) || self.preserved.contains_key(p)
    }

    /// `preserve_for_snapshot` for a caller that holds `node` (the node at `p`) already.
    pub(crate) fn preserve_node(walk: &mut Option<SnapshotWalk>, p: &str, node: &Node) {
        if let Some(walk) = walk.as_mut() {
            if !walk.has_image_of(p) {
                walk.preserve(p, node);
            }
        }
    }

    /// Saves `node`, not yet emitted nor saved, as its begin-time image, unless it was
    /// created since begin (then it is not in the image, and the walk skips it).
    fn preserve(&mut self, p: &str, node: &Node) {
        if node.meta.czxid > self.zxid {
            return;
        }
        let image = PreImage {
            meta: node.meta,
            data: node.data_option().map(<[u8]>::to_vec),
            acl: node.acl.clone(),
        };
        self.preserved.insert(p.to_string(), image);
    }

    /// Cheap checks; `live_count` is the tree's node count now.
    pub(crate) fn check_invariants(&self, live_count: usize) {
        assert!(
            self.emitted_count <= self.node_count,
            "emitted {} of {} nodes",
            self.emitted_count,
            self.node_count
        );
        if let (Some(cursor), Some((first, _))) = (&self.cursor, self.preserved.first_key_value()) {
            assert!(
                first > cursor,
                "saved {first:?} not after cursor {cursor:?}"
            );
        }
        assert!(live_count >= 1, "a live tree has its root");
    }
}

/// Live nodes a step loads together ahead of encoding them (see `touch_batch`).
const TOUCH_AHEAD: usize = 16;

/// Loads the next `TOUCH_AHEAD` nodes' path, record and data (three scattered heap blocks
/// each) in two tight passes, so that their cache misses overlap one another instead of
/// stalling the encoding one after another (a portable prefetch; no `unsafe` intrinsic).
fn touch_batch<'a>(ahead: &mut impl Iterator<Item = (&'a Box<str>, &'a Box<crate::znode::Node>)>) {
    let mut batch: [Option<&crate::znode::Node>; TOUCH_AHEAD] = [None; TOUCH_AHEAD];
    let mut acc = 0u64;
    for slot in &mut batch {
        let Some((p, node)) = ahead.next() else { break };
        // Independent loads: the record and the path's first byte of every node in turn.
        acc = acc.wrapping_add(node.meta.czxid as u64);
        acc = acc.wrapping_add(u64::from(p.as_bytes().first().copied().unwrap_or(0)));
        *slot = Some(node);
    }
    for node in batch.iter().flatten() {
        // The data blocks, whose addresses the records just loaded hold.
        let first = node.data_option().and_then(|d| d.first().copied());
        acc = acc.wrapping_add(u64::from(first.unwrap_or(0)));
    }
    std::hint::black_box(acc);
}

impl DataTree {
    /// Starts streaming a snapshot of the tree as it is now. Call between txns, with no
    /// walk active; then `snapshot_step` until it returns true, or `abort_snapshot`.
    pub fn begin_snapshot(&mut self) -> SnapshotHeader {
        assert!(self.walk.is_none(), "a snapshot walk is already active");
        self.check_invariants();
        let header = self.snapshot_header();
        self.walk = Some(SnapshotWalk {
            cursor: None,
            zxid: header.last_zxid,
            preserved: BTreeMap::new(),
            node_count: header.node_count,
            emitted_count: 0,
        });
        assert_eq!(header.node_count, self.len(), "header counts every node");
        header
    }

    /// The header of a snapshot of the tree as it is now.
    pub(crate) fn snapshot_header(&self) -> SnapshotHeader {
        let sessions = self
            .sessions
            .iter()
            .map(|(id, s)| (id, s.timeout_ms, s.password))
            .collect();
        SnapshotHeader {
            last_zxid: self.last_zxid(),
            digest: self.digest(),
            node_count: self.len(),
            sessions,
        }
    }

    /// Whether a snapshot walk is active.
    pub fn is_snapshot_active(&self) -> bool {
        self.walk.is_some()
    }

    /// Saved pre-images of the active walk (0 without one), for logs and metrics.
    pub fn snapshot_preserved_count(&self) -> usize {
        self.walk.as_ref().map_or(0, |w| w.preserved.len())
    }

    /// Drops the active walk, if any; what was emitted is not a snapshot.
    pub fn abort_snapshot(&mut self) {
        self.walk = None;
    }

    /// Appends up to `max_nodes` more nodes of the active walk to `out`, in path order.
    /// Returns true when the last node has been emitted; the walk is then over.
    pub fn snapshot_step(&mut self, max_nodes: usize, out: &mut Writer) -> bool {
        assert!(max_nodes > 0, "a step emits at least one node");
        let mut walk = self
            .walk
            .take()
            .expect("snapshot_step needs an active walk");
        let emitted_before = walk.emitted_count;
        let after = match &walk.cursor {
            Some(cursor) => Bound::Excluded(cursor.as_str()),
            None => Bound::Unbounded,
        };
        let mut live = self
            .nodes
            .range::<str, _>((after, Bound::Unbounded))
            .peekable();
        // A second cursor over the live nodes, `until_touch` places ahead of `live`: the
        // nodes between them were loaded by `touch_batch` (a hint only; order and output do
        // not depend on it).
        let mut ahead = self.nodes.range::<str, _>((after, Bound::Unbounded));
        let mut until_touch = 0usize;
        let mut saved = walk
            .preserved
            .range::<str, _>((after, Bound::Unbounded))
            .peekable();
        let mut visited = 0usize;
        let mut last: Option<&str> = None;
        while visited < max_nodes {
            let next_live: Option<&str> = live.peek().map(|(p, _)| &***p);
            let next_saved = saved.peek().map(|(p, _)| p.as_str());
            let take_saved = match (next_live, next_saved) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(l), Some(s)) => s <= l,
            };
            visited += 1;
            if take_saved {
                let (p, image) = saved.next().expect("peeked");
                if next_live == Some(p.as_str()) {
                    live.next();
                    // Keep `ahead` as far in front of `live` as before.
                    if until_touch > 0 {
                        until_touch -= 1;
                    } else {
                        ahead.next();
                    }
                }
                write_node(out, p, image.data.as_deref(), &image.acl, &image.meta);
                walk.emitted_count += 1;
                last = Some(p);
            } else {
                if until_touch == 0 {
                    touch_batch(&mut ahead);
                    until_touch = TOUCH_AHEAD;
                }
                let (p, node) = live.next().expect("peeked");
                until_touch -= 1;
                let p: &str = p;
                if node.meta.czxid <= walk.zxid {
                    write_node(out, p, node.data_option(), &node.acl, &node.meta);
                    walk.emitted_count += 1;
                }
                last = Some(p);
            }
        }
        let done = live.peek().is_none() && saved.peek().is_none();
        if let Some(last) = last {
            let last = last.to_string();
            // Entries the cursor passed are in the stream (or skipped) for good.
            walk.preserved = walk.preserved.split_off(&last);
            walk.preserved.remove(&last);
            walk.cursor = Some(last);
        }
        assert!(
            walk.emitted_count >= emitted_before,
            "emitted count only grows"
        );
        walk.check_invariants(self.nodes.len());
        if done {
            assert_eq!(
                walk.emitted_count, walk.node_count,
                "the stream holds exactly the nodes of begin time"
            );
            assert!(walk.preserved.is_empty(), "no pre-image left behind");
            return true;
        }
        self.walk = Some(walk);
        false
    }

    /// Called by every primitive mutation of an existing node before it changes `p` (see
    /// the module doc).
    pub(crate) fn preserve_for_snapshot(&mut self, p: &str) {
        let Some(walk) = self.walk.as_mut() else {
            return;
        };
        if walk.has_image_of(p) {
            return;
        }
        let node = self.nodes.get(p).expect("a preserved node exists");
        walk.preserve(p, node);
    }

    /// Checks, before `p` is inserted during a walk, that the image needs nothing from the
    /// insert: a node created since begin is skipped by its czxid; one older than that
    /// (a rollback putting back a node its txn removed) had its image saved by the removal,
    /// unless the walk has passed it.
    pub(crate) fn check_insert_during_walk(&self, p: &str, czxid: i64) {
        if let Some(walk) = &self.walk {
            assert!(
                czxid > walk.zxid || walk.is_emitted(p) || walk.preserved.contains_key(p),
                "{p} (czxid {czxid:#x}) inserted during a walk of {:#x} without an image",
                walk.zxid
            );
        }
    }
}

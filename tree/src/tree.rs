//! `DataTree`: the replicated znode tree (`org.apache.zookeeper.server.DataTree`).
//!
//! Writes arrive as `Txn`s and are validated *at apply time* (see `txn.rs`), so replicas
//! applying the same log reach the same tree, the same replies and the same digest. This
//! file holds the state, the primitive mutations every op is built from, and the
//! invariants; the ops themselves are in `ops/`.
//!
//! Every primitive mutation (insert/remove a node, change its meta, data, ACL or child set)
//! keeps the rolling digest, the data-size counter and the ephemeral/container/TTL indexes
//! in step, and records an undo step. A txn that fails part-way (a multi whose third op
//! fails) replays its undo steps in reverse, which restores the tree and digest exactly.
//!
//! While a snapshot walk is active (`snapshot_walk.rs`), every primitive first hands the
//! path it is about to change to `preserve_for_snapshot`, which saves the node's pre-image
//! the first time a not-yet-emitted path is touched; that is what keeps a streamed snapshot
//! an exact image of one zxid.
//!
//! Invariants: every node but "/" has its parent in the table and is listed in the parent's
//! child set; the digest equals the sum of node hashes; each ephemeral is indexed under its
//! live owner session; containers/TTL nodes are indexed likewise; `last_zxid` only grows.

use std::collections::{BTreeMap, BTreeSet};

use wire::{Acl, ErrorCode, Request, Response};

use crate::acl_cache::{AclCache, SharedAcl};
use crate::digest;
use crate::path;
use crate::session::SessionTable;
use crate::snapshot_walk::SnapshotWalk;
use crate::txn::{ApplyOutcome, Change, Txn, TxnOp};
use crate::znode::{ttl_of_owner, EphemeralType, Meta, Node};

/// Replicated-state settings; every replica must use the same values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL nodes are allowed (else createTTL answers
    /// Unimplemented).
    pub extended_types_enabled: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest`, "super:base64sha1".
    pub super_digest: Option<String>,
}

/// A path or child name in `UndoLog::text`.
type Text = std::ops::Range<usize>;

/// One step to undo a primitive mutation.
#[derive(Clone, Debug)]
pub(crate) enum Undo {
    Inserted(Text),
    Removed(Text, Box<Node>),
    Meta(Text, Meta),
    Data(Text, Option<Vec<u8>>),
    Acl(Text, SharedAcl),
    ChildAdded(Text, Text),
    ChildRemoved(Text, Text),
}

/// The undo steps of the txn being applied, with the paths and names they name kept in one
/// buffer that lives from txn to txn: a create records four of them, which as separate
/// strings cost four allocations per write.
#[derive(Clone, Debug, Default)]
pub(crate) struct UndoLog {
    steps: Vec<Undo>,
    text: String,
}

impl UndoLog {
    fn text(&mut self, s: &str) -> Text {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    fn push(&mut self, step: impl FnOnce(&mut Self) -> Undo) {
        let step = step(self);
        self.steps.push(step);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// Forgets every step, keeping the buffers' capacity.
    pub(crate) fn clear(&mut self) {
        self.steps.clear();
        self.text.clear();
    }
}

#[derive(Clone, Debug)]
pub struct DataTree {
    pub(crate) config: TreeConfig,
    /// Keyed by full path; the root is "/" (ZooKeeper also aliases it as "").
    pub(crate) nodes: BTreeMap<Box<str>, Box<Node>>,
    pub(crate) sessions: SessionTable,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    last_zxid: i64,
    /// Wrapping sum of `digest::node_hash` over all nodes.
    digest: u64,
    /// Sum of UTF-16 path length + data length over the node table, "" alias included
    /// (`DataTree.approximateDataSize`).
    data_size_bytes: i64,
    /// Nodes below "/zookeeper/quota": while there are none, no path has a quota, and
    /// `quota_prefix_of` answers without searching the table (each write asks it).
    pub(crate) quota_node_count: usize,
    /// Undo steps of the txn being applied; empty between txns.
    pub(crate) undo: UndoLog,
    /// The snapshot being streamed out, if any (see `snapshot_walk.rs`).
    pub(crate) walk: Option<SnapshotWalk>,
    /// One copy of each distinct ACL list (acl_cache.rs).
    acls: AclCache,
}

/// Whether `p` is below "/zookeeper/quota" (a quota directory or its nodes).
fn is_below_quota_root(p: &str) -> bool {
    p.strip_prefix(crate::quota::QUOTA_ROOT)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// `String.length()` in Java: UTF-16 code units.
fn java_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

impl DataTree {
    /// A tree as a fresh ZooKeeper 3.8 shows it: "/", "/zookeeper", "/zookeeper/quota" and
    /// "/zookeeper/config" with all-zero stats, open ACLs except config (world:anyone READ,
    /// aversion -1 because ZooKeeper sets its ACL with version -1).
    pub fn new(config: TreeConfig) -> DataTree {
        let mut tree = DataTree::empty(config);
        let open_acl = tree.intern_acl(Acl::open_unsafe());
        let open = || Node::new(Meta::default(), Some(Vec::new()), open_acl.clone(), false);
        tree.insert_node("/", open());
        tree.insert_node("/zookeeper", open());
        tree.insert_node("/zookeeper/quota", open());
        let config_meta = Meta {
            aversion: -1,
            ..Meta::default()
        };
        let read_acl = tree.intern_acl(Acl::read_unsafe());
        let config_node = Node::new(config_meta, Some(Vec::new()), read_acl, false);
        tree.insert_node("/zookeeper/config", config_node);
        tree.add_child("/", "zookeeper");
        tree.add_child("/zookeeper", "quota");
        tree.add_child("/zookeeper", "config");
        tree.undo.clear();
        tree.check_invariants();
        tree
    }

    /// A tree without even a root, for snapshot loading to fill.
    pub(crate) fn empty(config: TreeConfig) -> DataTree {
        DataTree {
            config,
            nodes: BTreeMap::new(),
            sessions: SessionTable::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_zxid: 0,
            digest: 0,
            data_size_bytes: 0,
            quota_node_count: 0,
            undo: UndoLog::default(),
            walk: None,
            acls: AclCache::default(),
        }
    }

    /// Finishes a snapshot load: computes the digest of the nodes put in place and sets the
    /// zxid.
    pub(crate) fn finish_load(&mut self, last_zxid: i64) {
        assert!(self.undo.is_empty(), "a load records no undo steps");
        self.digest = self.recompute_digest();
        self.last_zxid = last_zxid;
    }

    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    /// The zxid of the last txn applied (0 for a fresh tree).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// `DataTree.getNodeCount`: ZooKeeper counts the root twice (it is stored under "" and
    /// "/"), so a fresh tree reports 5; we report the same.
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// `DataTree.cachedApproximateDataSize` (44 for a fresh tree).
    pub fn approximate_data_size(&self) -> i64 {
        self.data_size_bytes
    }

    /// The rolling digest of every node.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The digest computed from scratch; equal to `digest()` unless something is broken.
    pub fn recompute_digest(&self) -> u64 {
        self.nodes.iter().fold(0u64, |acc, (p, n)| {
            acc.wrapping_add(digest::node_hash(p, n))
        })
    }

    /// The session table (id → timeout and ephemerals).
    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    /// Sessions that own ephemerals, with their paths sorted (for the `dump` 4lw).
    pub fn ephemerals(&self) -> BTreeMap<i64, Vec<String>> {
        self.sessions
            .iter()
            .filter(|(_, s)| !s.ephemerals.is_empty())
            .map(|(id, s)| (id, s.ephemerals.iter().cloned().collect()))
            .collect()
    }

    /// Container node paths, sorted.
    pub fn containers(&self) -> &BTreeSet<String> {
        &self.containers
    }

    /// TTL node paths, sorted.
    pub fn ttls(&self) -> &BTreeSet<String> {
        &self.ttls
    }

    /// A node by path ("" is the root, as in ZooKeeper's table).
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path::node_key(path)).map(|n| &**n)
    }

    /// Every (path, node), sorted by path (snapshots and dumps).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(p, n)| (&**p, &**n))
    }

    /// The number of nodes (root included; unlike `node_count`, without ZooKeeper's alias).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never true: the root always exists.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// How many paths start with `prefix`, by a range scan over the sorted table.
    pub(crate) fn count_with_prefix(&self, prefix: &str) -> usize {
        self.nodes
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(p, _)| p.starts_with(prefix))
            .count()
    }

    /// `ContainerManager.getCandidates` with ZooKeeper's default settings: containers that
    /// are empty and have had a child (persisted cversion > 0), and childless TTL nodes
    /// whose mtime is more than ttl ago. Sorted by path. The server proposes a
    /// DeleteContainer txn (session 0) for each; one that no longer qualifies fails
    /// harmlessly at apply time (NoNode/NotEmpty).
    pub fn expired_candidates(&self, now_ms: i64) -> Vec<String> {
        self.expired_candidates_with(now_ms, 0)
    }

    /// As `expired_candidates`, plus empty containers that never had a child once their
    /// mtime is more than `max_never_used_ms` ago (`znode.container.maxNeverUsedIntervalMs`;
    /// 0 disables this, the default).
    pub fn expired_candidates_with(&self, now_ms: i64, max_never_used_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.containers {
            let node = self.node(p).expect("indexed container exists");
            if !node.children.is_empty() {
                continue;
            }
            let never_used_limit = max_never_used_ms;
            let elapsed = now_ms.saturating_sub(node.meta.mtime);
            if node.meta.cversion > 0 || (never_used_limit != 0 && elapsed > never_used_limit) {
                out.push(p.clone());
            }
        }
        if self.config.extended_types_enabled {
            for p in &self.ttls {
                let node = self.node(p).expect("indexed TTL node exists");
                let ttl = ttl_of_owner(node.meta.ephemeral_owner);
                let elapsed = now_ms.saturating_sub(node.meta.mtime);
                if node.children.is_empty() && ttl != 0 && elapsed > ttl {
                    out.push(p.clone());
                }
            }
        }
        out.sort();
        out
    }

    /// Moves `last_zxid` to `zxid` for a log position that carries no txn (a Raft no-op or
    /// membership entry: zxids are log indexes, so they have gaps there). Changes nothing
    /// else, so every replica still reaches the same tree and digest.
    pub fn skip_to(&mut self, zxid: i64) {
        assert!(
            zxid > self.last_zxid,
            "zxid {zxid:#x} not after last applied {:#x}",
            self.last_zxid
        );
        self.last_zxid = zxid;
    }

    /// Applies one txn: validates it against the current tree, mutates on success, and
    /// returns the reply plus the changes for the watch manager. Failed txns change
    /// nothing but `last_zxid`.
    pub fn apply(&mut self, txn: &Txn) -> ApplyOutcome {
        assert!(
            txn.zxid > self.last_zxid,
            "zxid {:#x} not after last applied {:#x}",
            txn.zxid,
            self.last_zxid
        );
        assert!(
            self.undo.is_empty(),
            "undo log empty between txns, has {}",
            self.undo.len()
        );
        let digest_before = self.digest;
        let mut changes = Vec::new();
        let result = match &txn.op {
            TxnOp::Request(request) => self.apply_request(txn, request, &mut changes),
            TxnOp::CreateSession {
                timeout_ms,
                password,
            } => {
                self.sessions.create(txn.session_id, *timeout_ms, *password);
                Ok(Response::Empty)
            }
            TxnOp::CloseSession => self.close_session(txn, &mut changes),
            TxnOp::SetConfig { members } => self.set_config(txn, members, &mut changes),
            TxnOp::Reconfig { .. } => Err(ErrorCode::Unimplemented),
        };
        match &result {
            Ok(_) => self.undo.clear(),
            Err(_) => {
                self.rollback();
                changes.clear();
                assert_eq!(self.digest, digest_before, "rollback restores the digest");
            }
        }
        self.last_zxid = txn.zxid;
        self.check_invariants();
        ApplyOutcome { result, changes }
    }

    fn apply_request(
        &mut self,
        txn: &Txn,
        request: &Request,
        changes: &mut Vec<Change>,
    ) -> Result<Response, ErrorCode> {
        match request {
            Request::Multi(ops) => self.multi(txn, ops, changes),
            other => self.apply_single(txn, other, changes),
        }
    }

    /// `DataTree.killSession`: deletes the session's ephemerals in sorted path order, then
    /// forgets the session. Closing an unknown session succeeds and changes nothing.
    fn close_session(
        &mut self,
        txn: &Txn,
        changes: &mut Vec<Change>,
    ) -> Result<Response, ErrorCode> {
        let paths: Vec<String> = match self.sessions.get(txn.session_id) {
            Some(session) => session.ephemerals.iter().cloned().collect(),
            None => Vec::new(),
        };
        for p in &paths {
            self.delete_node(p, txn.zxid, changes);
        }
        self.sessions.remove(txn.session_id);
        assert!(
            !self.sessions.contains(txn.session_id),
            "closed session is gone"
        );
        Ok(Response::Empty)
    }

    /// `DataTree.deleteNode`: unlinks a childless node, sets the parent's pzxid, and
    /// records NodeDeleted(path) then NodeChildrenChanged(parent).
    pub(crate) fn delete_node(&mut self, p: &str, zxid: i64, changes: &mut Vec<Change>) {
        let parent = path::watch_path(path::parent_of(p).expect("a node path has a '/'"));
        let parent = parent.to_string();
        let node = self.node(p).expect("deleted node exists");
        assert!(
            node.children.is_empty(),
            "deleting {p} with {} children",
            node.children.len()
        );
        let acl = node.acl.clone();
        let data_len = node.data().len();
        let parent_node = self.node(&parent).expect("parent of a node exists");
        let parent_acl = parent_node.acl.clone();
        let mut meta = parent_node.meta;
        // ZooKeeper only moves pzxid forward.
        let new_meta = (zxid > meta.pzxid).then(|| {
            meta.pzxid = zxid;
            meta
        });
        self.unlink_child(&parent, path::child_name(p), new_meta);
        self.remove_node(p);
        self.update_quota_on_delete(p, data_len);
        changes.push(Change {
            path: p.to_string(),
            kind: crate::txn::ChangeKind::NodeDeleted,
            acl,
        });
        changes.push(Change {
            path: parent,
            kind: crate::txn::ChangeKind::NodeChildrenChanged,
            acl: parent_acl,
        });
    }

    // ---- primitive mutations: each keeps digest, size, indexes and the undo log ----

    /// Changes node `p` in place with one map lookup: its hash leaves the digest before `f`
    /// and its new hash joins after (the map compares long paths, so each lookup saved shows).
    fn modify<R>(&mut self, p: &str, f: impl FnOnce(&mut Node) -> R) -> R {
        match self.try_modify(p, |node| Ok::<R, std::convert::Infallible>(f(node))) {
            Some(Ok(result)) => result,
            Some(Err(never)) => match never {},
            None => panic!("modified node {p} exists"),
        }
    }

    /// `modify` for a node that may be absent (None then): a caller that must find the node
    /// before it knows what to change needs no second search. `f` must leave the node as
    /// it was when it returns `Err`; its changes are the caller's to record in the undo log.
    pub(crate) fn try_modify<R, E>(
        &mut self,
        p: &str,
        f: impl FnOnce(&mut Node) -> Result<R, E>,
    ) -> Option<Result<R, E>> {
        let node = self.nodes.get_mut(p)?;
        SnapshotWalk::preserve_node(&mut self.walk, p, node);
        self.digest = self.digest.wrapping_sub(digest::node_hash(p, node));
        let result = f(node);
        self.digest = self.digest.wrapping_add(digest::node_hash(p, node));
        Some(result)
    }

    /// The undo steps of a child linked into `parent` by hand (`try_modify`): its old
    /// stat if it changed, then the name.
    pub(crate) fn record_linked_child(&mut self, parent: &str, name: &str, old_meta: Option<Meta>) {
        if let Some(old_meta) = old_meta {
            self.undo.push(|u| Undo::Meta(u.text(parent), old_meta));
        }
        self.undo
            .push(|u| Undo::ChildAdded(u.text(parent), u.text(name)));
    }

    fn index_owner(&mut self, p: &str, kind: EphemeralType, owner: i64, insert: bool) {
        let set = match kind {
            EphemeralType::Void => return,
            EphemeralType::Container => &mut self.containers,
            EphemeralType::Ttl => &mut self.ttls,
            EphemeralType::Normal => {
                if insert {
                    self.sessions.add_ephemeral(owner, p);
                } else {
                    self.sessions.remove_ephemeral(owner, p);
                }
                return;
            }
        };
        let changed = if insert {
            set.insert(p.to_string())
        } else {
            set.remove(p)
        };
        assert!(
            changed,
            "index of {p} ({kind:?}) out of step, insert={insert}"
        );
    }

    /// The size total and owner indexes for a node joining the table (an insert, or a
    /// snapshot load that puts nodes in place directly).
    pub(crate) fn account_joining(&mut self, p: &str, node: &Node) {
        self.data_size_bytes += java_len(p) + node.data().len() as i64;
        if is_below_quota_root(p) {
            self.quota_node_count += 1;
        }
        if p == "/" {
            // The "" alias of the root counts in ZooKeeper's size total too.
            self.data_size_bytes += node.data().len() as i64;
        }
        self.index_owner(p, node.ephemeral_type(), node.meta.ephemeral_owner, true);
    }

    /// Adds a node (its parent's child set is changed separately by `add_child`).
    pub(crate) fn insert_node(&mut self, p: &str, node: impl Into<Box<Node>>) {
        let node = node.into();
        self.check_insert_during_walk(p, node.meta.czxid);
        assert!(node.children.is_empty(), "new node {p} has no children");
        self.account_joining(p, &node);
        self.digest = self.digest.wrapping_add(digest::node_hash(p, &node));
        let previous = self.nodes.insert(p.into(), node);
        assert!(previous.is_none(), "node {p} inserted twice");
        self.undo.push(|u| Undo::Inserted(u.text(p)));
    }

    pub(crate) fn remove_node(&mut self, p: &str) {
        assert!(p != "/", "the root is never removed");
        self.preserve_for_snapshot(p);
        let node = self.nodes.remove(p).expect("removed node exists");
        self.digest = self.digest.wrapping_sub(digest::node_hash(p, &node));
        assert!(node.children.is_empty(), "removed node {p} has no children");
        self.data_size_bytes -= java_len(p) + node.data().len() as i64;
        if is_below_quota_root(p) {
            assert!(
                self.quota_node_count > 0,
                "{p} was counted below the quota root"
            );
            self.quota_node_count -= 1;
        }
        self.index_owner(p, node.ephemeral_type(), node.meta.ephemeral_owner, false);
        self.undo.push(|u| Undo::Removed(u.text(p), node));
    }

    pub(crate) fn set_meta(&mut self, p: &str, meta: Meta) {
        let old = self.modify(p, |node| {
            assert_eq!(
                node.meta.ephemeral_owner, meta.ephemeral_owner,
                "ephemeral_owner of {p} never changes"
            );
            std::mem::replace(&mut node.meta, meta)
        });
        self.undo.push(|u| Undo::Meta(u.text(p), old));
    }

    pub(crate) fn set_data(&mut self, p: &str, data: Option<Vec<u8>>) {
        let new_len = data.as_ref().map_or(0, Vec::len) as i64;
        let old = self.modify(p, |node| node.replace_data(data));
        let old_len = old.as_ref().map_or(0, Vec::len) as i64;
        self.data_size_bytes += new_len - old_len;
        if p == "/" {
            self.data_size_bytes += new_len - old_len;
        }
        self.undo.push(|u| Undo::Data(u.text(p), old));
    }

    /// The shared copy of `acl`, for a node of this tree.
    pub fn intern_acl<'a>(&mut self, acl: impl Into<std::borrow::Cow<'a, [Acl]>>) -> SharedAcl {
        self.acls.intern(acl)
    }

    pub(crate) fn set_acl(&mut self, p: &str, acl: SharedAcl) {
        let old = self.modify(p, |node| std::mem::replace(&mut node.acl, acl));
        self.undo.push(|u| Undo::Acl(u.text(p), old));
    }

    pub(crate) fn add_child(&mut self, parent: &str, name: &str) {
        let inserted = self.modify(parent, |node| node.children.insert(name));
        assert!(inserted, "child {name} of {parent} added twice");
        self.record_linked_child(parent, name, None);
    }

    /// `remove_child` and, if given, `set_meta` on the parent in one change of the node.
    pub(crate) fn unlink_child(&mut self, parent: &str, name: &str, meta: Option<Meta>) {
        let (removed, old_meta) = self.modify(parent, |node| {
            let old_meta = meta.map(|meta| {
                assert_eq!(
                    node.meta.ephemeral_owner, meta.ephemeral_owner,
                    "ephemeral_owner of {parent} never changes"
                );
                std::mem::replace(&mut node.meta, meta)
            });
            (node.children.remove(name), old_meta)
        });
        assert!(removed, "child {name} of {parent} not present");
        self.undo
            .push(|u| Undo::ChildRemoved(u.text(parent), u.text(name)));
        if let Some(old_meta) = old_meta {
            self.undo.push(|u| Undo::Meta(u.text(parent), old_meta));
        }
    }

    pub(crate) fn remove_child(&mut self, parent: &str, name: &str) {
        let removed = self.modify(parent, |node| node.children.remove(name));
        assert!(removed, "child {name} of {parent} not present");
        self.undo
            .push(|u| Undo::ChildRemoved(u.text(parent), u.text(name)));
    }

    /// Replays the undo log backwards. The primitives push new undo steps as they run; those
    /// are discarded, and the log's buffers are kept for the next txn.
    pub(crate) fn rollback(&mut self) {
        let mut undo = std::mem::take(&mut self.undo);
        let text = &undo.text;
        for step in undo.steps.drain(..).rev() {
            match step {
                Undo::Inserted(p) => self.remove_node(&text[p]),
                // Only childless nodes are removed, so the node goes back as it was.
                Undo::Removed(p, node) => self.insert_node(&text[p], node),
                Undo::Meta(p, meta) => self.set_meta(&text[p], meta),
                Undo::Data(p, data) => self.set_data(&text[p], data),
                Undo::Acl(p, acl) => self.set_acl(&text[p], acl),
                Undo::ChildAdded(parent, name) => self.remove_child(&text[parent], &text[name]),
                Undo::ChildRemoved(parent, name) => self.add_child(&text[parent], &text[name]),
            }
        }
        undo.clear();
        self.undo = undo;
    }

    /// Overwrites a node's persisted stat fields outside any txn (tests only: reaching
    /// states such as a cversion near `i32::MAX` would otherwise take 2^31 creates).
    #[cfg(test)]
    pub(crate) fn force_meta(&mut self, p: &str, meta: Meta) {
        self.set_meta(p, meta);
        self.undo.clear();
        self.check_invariants();
    }

    /// Cheap checks always; the O(n) structure walk under `debug_assert`.
    pub fn check_invariants(&self) {
        assert!(
            self.undo.is_empty(),
            "undo log empty after apply, has {}",
            self.undo.len()
        );
        assert!(self.nodes.contains_key("/"), "root exists");
        if let Some(walk) = &self.walk {
            walk.check_invariants(self.nodes.len());
        }
        assert!(
            self.data_size_bytes >= 0,
            "data size {} >= 0",
            self.data_size_bytes
        );
        if cfg!(debug_assertions) {
            self.check_structure();
        }
    }

    fn check_structure(&self) {
        let mut size = 0i64;
        for (p, node) in &self.nodes {
            let p: &str = p;
            size += java_len(p) + node.data().len() as i64;
            if p == "/" {
                size += node.data().len() as i64;
                continue;
            }
            let parent = path::watch_path(path::parent_of(p).expect("node path has '/'"));
            let parent_node = self.nodes.get(parent);
            assert!(parent_node.is_some(), "parent {parent} of {p} exists");
            let listed = parent_node.is_some_and(|n| n.children.contains(path::child_name(p)));
            assert!(listed, "{p} listed in its parent's children");
            for name in node.children.iter() {
                let child = format!("{p}/{name}");
                assert!(
                    self.nodes.contains_key(child.as_str()),
                    "child {child} of {p} exists"
                );
            }
            let owner = node.meta.ephemeral_owner;
            let kind = EphemeralType::of(owner, self.config.extended_types_enabled);
            assert_eq!(kind, node.ephemeral_type(), "type of {p} matches its owner");
            match kind {
                EphemeralType::Void => {}
                EphemeralType::Container => assert!(self.containers.contains(p), "{p} indexed"),
                EphemeralType::Ttl => assert!(self.ttls.contains(p), "{p} indexed"),
                EphemeralType::Normal => {
                    let owned = self
                        .sessions
                        .get(owner)
                        .is_some_and(|s| s.ephemerals.contains(p));
                    assert!(owned, "ephemeral {p} indexed under session {owner:#x}");
                    assert!(node.children.is_empty(), "ephemeral {p} has no children");
                }
            }
        }
        assert_eq!(
            size, self.data_size_bytes,
            "data size counter matches the table"
        );
        let below_quota_root = self.iter().filter(|(p, _)| is_below_quota_root(p)).count();
        assert_eq!(
            below_quota_root, self.quota_node_count,
            "quota node counter matches the table"
        );
        let indexed: usize = self.sessions.iter().map(|(_, s)| s.ephemerals.len()).sum();
        let indexed = indexed + self.containers.len() + self.ttls.len();
        let marked = self
            .nodes
            .values()
            .filter(|n| {
                EphemeralType::of(n.meta.ephemeral_owner, self.config.extended_types_enabled)
                    != EphemeralType::Void
            })
            .count();
        assert_eq!(indexed, marked, "every indexed path is a marked node");
        assert_eq!(
            self.digest,
            self.recompute_digest(),
            "rolling digest equals recomputed"
        );
    }
}

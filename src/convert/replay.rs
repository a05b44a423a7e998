//! ZooKeeper's own data tree, as far as a restore needs it: the node table with persisted
//! stats (`StatPersisted`), the ephemeral index, the session table and the quota trie, and
//! `process_txn`, which applies a logged txn exactly as `DataTree.processTxn` does on restore.
//!
//! ZooKeeper's logged txns are results, already validated by the leader's
//! `PrepRequestProcessor`; applying one only fails when a fuzzy snapshot already holds its
//! effect (NodeExists, NoNode), and such failures are ignored, as `FileTxnSnapLog` does. The
//! rules that make a replay over a fuzzy snapshot converge, copied in behaviour:
//! - create: the parent's cversion/pzxid move only forward (to the txn's `parentCVersion`);
//!   a top-level `create` failing with NodeExists still moves them (`setCversionPzxid`);
//! - delete: the parent loses the child and its pzxid moves forward even if the child is
//!   already gone;
//! - multi: if any sub-txn is an `error`, nothing is applied; otherwise every sub-txn is
//!   applied on its own (one failing does not stop the rest);
//! - quota `zookeeper_stats` data is rewritten in memory (no Stat change) on every change
//!   under a quota'd path, and recomputed from the tree after a snapshot load.
//!
//! Every change goes through `modify`/`remove_subtree`/an insert, which keep ZooKeeper's own
//! tree digest in step (digest.rs compares it with the digests in the files: equal digests
//! mean the replayed tree, outside `/zookeeper/`, is the one the ZooKeeper leader had).
//! The quota rules live in quota.rs.
//!
//! Invariant: `nodes` holds the root "" and every other node's parent lists it as a child;
//! `ephemerals[s]` holds exactly the paths of nodes whose owner is session `s`.

use std::collections::{BTreeMap, BTreeSet};

use tree::znode::{Meta, CONTAINER_EPHEMERAL_OWNER};
use tree::EphemeralType;
use wire::Acl;

use super::digest::node_digest;
use super::records::{op, TxnHeader, ZkTxn};

pub(super) const QUOTA_ROOT: &str = "/zookeeper/quota";
pub(super) const LIMIT_NODE: &str = "zookeeper_limits";
pub(super) const STAT_NODE: &str = "zookeeper_stats";

/// `KeeperException.Code` values a replayed txn can fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyError {
    NoNode,
    NodeExists,
}

/// A node as ZooKeeper stores it; `meta.cversion` counts child creations (persisted form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkNode {
    /// None for jute's null buffer (ZooKeeper keeps a null `byte[]`).
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub meta: Meta,
    pub children: BTreeSet<String>,
}

/// What a replay did that a person may want to know about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub applied: u64,
    /// Txns (or multi sub-txns) that failed, ignored as ZooKeeper ignores them.
    pub ignored_failures: u64,
    /// Ephemerals deleted at the end because their session was not in the table.
    pub orphan_ephemerals_removed: u64,
    /// Comparisons of our digest with ZooKeeper's (snapshot and txn digests).
    pub digests_checked: u64,
    pub digest_mismatches: u64,
    /// (zxid, ZooKeeper's digest, ours) of the first mismatch.
    pub first_digest_mismatch: Option<(i64, i64, i64)>,
}

#[derive(Clone, Debug, Default)]
pub struct ZkTree {
    /// Keyed by ZooKeeper's path; the root is "".
    pub nodes: BTreeMap<String, ZkNode>,
    pub ephemerals: BTreeMap<i64, BTreeSet<String>>,
    /// `ZKDatabase.sessionsWithTimeouts`.
    pub sessions: BTreeMap<i64, i32>,
    /// Paths with a quota (`pTrie`).
    pub(super) quotas: BTreeSet<String>,
    pub last_processed_zxid: i64,
    pub stats: ReplayStats,
    /// `DataTree.getTreeDigest`: wrapping sum of `node_digest` over `nodes`.
    pub digest: i64,
    /// The snapshot's `ZxidDigest` (zxid, version, digest) until replay reaches its zxid;
    /// while it is pending the tree is "fuzzy" and txn digests are not compared.
    pub(super) pending_snapshot_digest: Option<(i64, i32, i64)>,
}

/// `path.substring(0, lastSlash)` and the child name; None without a '/'.
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    let slash = path.rfind('/')?;
    Some((&path[..slash], &path[slash + 1..]))
}

impl ZkTree {
    pub fn new() -> ZkTree {
        ZkTree::default()
    }

    /// Adds a node read from a snapshot (`DataTree.deserialize`); the caller checks order.
    pub fn load_node(&mut self, path: String, node: ZkNode) -> Result<(), String> {
        if self.nodes.contains_key(&path) {
            return Err(format!("node {path:?} appears twice"));
        }
        if path.is_empty() {
            self.digest = self.digest.wrapping_add(node_digest(&path, &node));
            self.nodes.insert(path, node);
            return Ok(());
        }
        let Some((parent, name)) = split_parent(&path) else {
            return Err(format!("node path {path:?} has no '/'"));
        };
        let Some(parent_node) = self.nodes.get_mut(parent) else {
            return Err(format!(
                "parent {parent:?} of {path:?} is not in the snapshot before it"
            ));
        };
        parent_node.children.insert(name.to_string());
        self.index_owner(&path, node.meta.ephemeral_owner, true);
        self.digest = self.digest.wrapping_add(node_digest(&path, &node));
        self.nodes.insert(path, node);
        Ok(())
    }

    /// `DataTree.setupQuota`, run once a snapshot is loaded, and the snapshot's digest
    /// (`FileSnap.deserialize`: compared at once if it is for the snapshot's own zxid, later
    /// otherwise; ignored if it is for an earlier zxid).
    pub fn finish_load(
        &mut self,
        snapshot_zxid: i64,
        zxid_digest: Option<(i64, i32, i64)>,
    ) -> Result<(), String> {
        if !self.nodes.contains_key("") {
            return Err("the snapshot has no root node".to_string());
        }
        self.last_processed_zxid = snapshot_zxid;
        self.setup_quota();
        self.pending_snapshot_digest =
            zxid_digest.filter(|(zxid, _, _)| *zxid > 0 && *zxid >= snapshot_zxid);
        self.compare_snapshot_digest(snapshot_zxid);
        debug_assert_eq!(self.digest, self.recompute_digest(), "digest after load");
        Ok(())
    }

    /// Applies one logged txn (`FileTxnSnapLog.processTransaction`), then compares digests.
    pub fn process_txn(&mut self, header: &TxnHeader, txn: &ZkTxn, digest: Option<(i32, i64)>) {
        assert!(
            header.zxid > self.last_processed_zxid,
            "replayed zxid {:#x} after {:#x}",
            header.zxid,
            self.last_processed_zxid
        );
        match txn {
            ZkTxn::CreateSession { timeout_ms } => {
                self.sessions.insert(header.client_id, *timeout_ms);
            }
            ZkTxn::CloseSession { .. } => {
                self.sessions.remove(&header.client_id);
            }
            _ => {}
        }
        match self.apply(header, header.op, txn) {
            Ok(()) => self.stats.applied += 1,
            Err(_) => self.stats.ignored_failures += 1,
        }
        self.last_processed_zxid = header.zxid;
        self.compare_snapshot_digest(header.zxid);
        self.compare_txn_digest(header.zxid, digest);
        debug_assert_eq!(self.digest, self.recompute_digest(), "digest kept in step");
    }

    /// `DataTree.processTxn(header, txn, isSubTxn)` for one record with op code `op`.
    fn apply(&mut self, h: &TxnHeader, op_code: i32, txn: &ZkTxn) -> Result<(), ApplyError> {
        let result = match txn {
            ZkTxn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
            } => {
                let owner = if *ephemeral { h.client_id } else { 0 };
                let stat = new_meta(h, owner);
                self.create_node(path, data, acl, stat, *parent_cversion)
            }
            ZkTxn::CreateContainer {
                path,
                data,
                acl,
                parent_cversion,
            } => {
                let stat = new_meta(h, CONTAINER_EPHEMERAL_OWNER);
                self.create_node(path, data, acl, stat, *parent_cversion)
            }
            ZkTxn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl_ms,
            } => {
                let owner = tree::znode::ttl_owner(*ttl_ms).expect("ttl checked when decoded");
                let stat = new_meta(h, owner);
                self.create_node(path, data, acl, stat, *parent_cversion)
            }
            ZkTxn::Delete { path } => self.delete_node(path, h.zxid),
            ZkTxn::SetData {
                path,
                data,
                version,
            } => self.set_data(path, data, *version, h.zxid, h.time_ms),
            ZkTxn::SetAcl { path, acl, version } => self.set_acl(path, acl, *version),
            ZkTxn::CloseSession { paths } => {
                self.kill_session(h.client_id, h.zxid, paths.as_deref());
                Ok(())
            }
            ZkTxn::Multi(subs) => self.multi(h, subs),
            ZkTxn::CreateSession { .. } | ZkTxn::Check { .. } | ZkTxn::Error { .. } => Ok(()),
        };
        // A create that finds its node already there (the fuzzy snapshot has it) still
        // carries the parent's cversion/pzxid forward.
        if let (op::CREATE, Err(ApplyError::NodeExists)) = (op_code, result) {
            if let ZkTxn::Create {
                path,
                parent_cversion,
                ..
            } = txn
            {
                let parent = split_parent(path).map_or("", |(p, _)| p);
                self.set_cversion_pzxid(parent, *parent_cversion, h.zxid)?;
            }
        }
        result
    }

    fn multi(&mut self, h: &TxnHeader, subs: &[(i32, ZkTxn)]) -> Result<(), ApplyError> {
        if subs.iter().any(|(code, _)| *code == op::ERROR) {
            // The leader rolled the whole multi back: nothing changes.
            return Ok(());
        }
        let mut first_error = None;
        for (code, sub) in subs {
            if let Err(e) = self.apply(h, *code, sub) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// `DataTree.createNode`.
    fn create_node(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        acl: &[Acl],
        meta: Meta,
        parent_cversion: i32,
    ) -> Result<(), ApplyError> {
        let (parent_path, name) = split_parent(path).ok_or(ApplyError::NoNode)?;
        let parent = self.nodes.get(parent_path).ok_or(ApplyError::NoNode)?;
        if parent.children.contains(name) {
            return Err(ApplyError::NodeExists);
        }
        self.modify(parent_path, |parent| {
            let cversion = if parent_cversion == -1 {
                parent.meta.cversion.wrapping_add(1)
            } else {
                parent_cversion
            };
            if cversion > parent.meta.cversion {
                parent.meta.cversion = cversion;
                parent.meta.pzxid = meta.czxid;
            }
            parent.children.insert(name.to_string());
        })?;
        let node = ZkNode {
            data: data.clone(),
            acl: acl.to_vec(),
            meta,
            children: BTreeSet::new(),
        };
        // A stale entry (a node the parent no longer lists) is replaced, as Java's put does.
        self.remove_subtree(path);
        self.index_owner(path, meta.ephemeral_owner, true);
        self.digest = self.digest.wrapping_add(node_digest(path, &node));
        self.nodes.insert(path.to_string(), node);
        if let Some(real_path) = parent_path.strip_prefix(QUOTA_ROOT) {
            if name == LIMIT_NODE {
                self.quotas.insert(real_path.to_string());
            }
            if name == STAT_NODE {
                self.update_quota_for_path(real_path);
            }
        }
        if let Some(prefix) = self.max_quota_prefix(path) {
            self.update_quota_stat(&prefix, data_len(data), 1);
        }
        Ok(())
    }

    /// `DataTree.deleteNode`.
    fn delete_node(&mut self, path: &str, zxid: i64) -> Result<(), ApplyError> {
        let (parent_path, name) = split_parent(path).ok_or(ApplyError::NoNode)?;
        self.modify(parent_path, |parent| {
            parent.children.remove(name);
            if zxid > parent.meta.pzxid {
                parent.meta.pzxid = zxid;
            }
        })?;
        let Some(node) = self.nodes.get(path) else {
            return Err(ApplyError::NoNode);
        };
        let data_len = data_len(&node.data);
        // ZooKeeper would leave any children behind, unreachable; dropping them gives the
        // tree its next snapshot (a walk from the root) would hold.
        self.remove_subtree(path);
        if parent_path.starts_with("/zookeeper") && name == LIMIT_NODE {
            // `Quotas.trimQuotaPath`: everything after the first 16 characters.
            let real_path = parent_path.get(QUOTA_ROOT.len()..).unwrap_or("");
            self.quotas.remove(real_path);
        }
        if let Some(prefix) = self.max_quota_prefix(path) {
            self.update_quota_stat(&prefix, -data_len, -1);
        }
        Ok(())
    }

    /// Changes one node in place, keeping the digest in step (`nodes.preChange` and
    /// `postChange`); NoNode if it does not exist.
    pub(super) fn modify(
        &mut self,
        path: &str,
        change: impl FnOnce(&mut ZkNode),
    ) -> Result<(), ApplyError> {
        let node = self.nodes.get_mut(path).ok_or(ApplyError::NoNode)?;
        let before = node_digest(path, node);
        change(node);
        let after = node_digest(path, node);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        Ok(())
    }

    /// Removes `path` and everything below it from the table and the ephemeral index.
    fn remove_subtree(&mut self, path: &str) {
        let Some(node) = self.nodes.remove(path) else {
            return;
        };
        self.digest = self.digest.wrapping_sub(node_digest(path, &node));
        self.index_owner(path, node.meta.ephemeral_owner, false);
        for child in &node.children {
            self.remove_subtree(&format!("{path}/{child}"));
        }
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        version: i32,
        zxid: i64,
        time_ms: i64,
    ) -> Result<(), ApplyError> {
        let mut bytes_diff = 0;
        self.modify(path, |node| {
            bytes_diff = data_len(data) - data_len(&node.data);
            node.data = data.clone();
            node.meta.mtime = time_ms;
            node.meta.mzxid = zxid;
            node.meta.version = version;
        })?;
        if let Some(prefix) = self.max_quota_prefix(path) {
            self.update_quota_stat(&prefix, bytes_diff, 0);
        }
        Ok(())
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<(), ApplyError> {
        self.modify(path, |node| {
            node.meta.aversion = version;
            node.acl = acl.to_vec();
        })
    }

    /// `DataTree.setCversionPzxid`.
    fn set_cversion_pzxid(
        &mut self,
        path: &str,
        cversion: i32,
        zxid: i64,
    ) -> Result<(), ApplyError> {
        self.modify(path, |node| {
            let cversion = if cversion == -1 {
                node.meta.cversion.wrapping_add(1)
            } else {
                cversion
            };
            if cversion > node.meta.cversion {
                node.meta.cversion = cversion;
                node.meta.pzxid = zxid;
            }
        })
    }

    /// `DataTree.killSession`: the paths the txn names, then any other ephemeral the session
    /// still owns; a path already gone is skipped.
    pub fn kill_session(&mut self, session_id: i64, zxid: i64, in_txn: Option<&[String]>) {
        let local = self.ephemerals.remove(&session_id).unwrap_or_default();
        let named = in_txn.unwrap_or(&[]);
        let others = local.iter().filter(|p| !named.contains(p));
        for path in named.iter().chain(others) {
            // A path already gone (NoNode) is skipped; ZooKeeper only logs it.
            if self.delete_node(path, zxid).is_err() {
                self.stats.ignored_failures += 1;
            }
        }
        self.ephemerals.remove(&session_id);
    }

    /// `ZooKeeperServer.loadData`'s clean-up: sessions that own ephemerals but are not in the
    /// session table are killed at the last processed zxid.
    pub fn kill_dead_sessions(&mut self) {
        let dead: Vec<i64> = self
            .ephemerals
            .keys()
            .filter(|id| !self.sessions.contains_key(id))
            .copied()
            .collect();
        for id in dead {
            let count = self.ephemerals.get(&id).map_or(0, BTreeSet::len);
            self.stats.orphan_ephemerals_removed += count as u64;
            self.kill_session(id, self.last_processed_zxid, None);
        }
        assert!(
            self.ephemerals
                .keys()
                .all(|id| self.sessions.contains_key(id)),
            "every ephemeral owner is a live session"
        );
    }

    fn index_owner(&mut self, path: &str, owner: i64, insert: bool) {
        if EphemeralType::of(owner, true) != EphemeralType::Normal {
            return;
        }
        if insert {
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(path.to_string());
        } else if let Some(set) = self.ephemerals.get_mut(&owner) {
            set.remove(path);
            if set.is_empty() {
                self.ephemerals.remove(&owner);
            }
        }
    }
}

/// The length ZooKeeper counts for a node's data (0 for null).
pub(super) fn data_len(data: &Option<Vec<u8>>) -> i64 {
    data.as_ref().map_or(0, |d| d.len() as i64)
}

fn new_meta(h: &TxnHeader, ephemeral_owner: i64) -> Meta {
    Meta {
        czxid: h.zxid,
        mzxid: h.zxid,
        ctime: h.time_ms,
        mtime: h.time_ms,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner,
        pzxid: h.zxid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(zxid: i64, op_code: i32) -> TxnHeader {
        TxnHeader {
            client_id: 0x77,
            cxid: 1,
            zxid,
            time_ms: 1000 + zxid,
            op: op_code,
        }
    }

    fn root_only() -> ZkTree {
        let mut t = ZkTree::new();
        let root = ZkNode {
            data: None,
            acl: Acl::open_unsafe(),
            meta: Meta::default(),
            children: BTreeSet::new(),
        };
        t.load_node(String::new(), root).expect("root");
        t.finish_load(0, None).expect("loaded");
        t
    }

    fn create(path: &str, parent_cversion: i32, ephemeral: bool) -> ZkTxn {
        ZkTxn::Create {
            path: path.to_string(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            ephemeral,
            parent_cversion,
        }
    }

    #[test]
    fn replaying_a_create_the_snapshot_holds_moves_parent_cversion_forward_only() {
        let mut t = root_only();
        t.process_txn(&header(1, op::CREATE), &create("/a", 1, false), None);
        assert_eq!(t.nodes[""].meta.cversion, 1);
        assert_eq!(t.nodes[""].meta.pzxid, 1);
        // The same create again (fuzzy snapshot) with a higher parentCVersion.
        t.process_txn(&header(2, op::CREATE), &create("/a", 3, false), None);
        assert_eq!(t.nodes[""].meta.cversion, 3);
        assert_eq!(t.nodes[""].meta.pzxid, 2);
        assert_eq!(t.stats.ignored_failures, 1);
        t.process_txn(&header(3, op::CREATE), &create("/b", 2, false), None);
        assert_eq!(t.nodes[""].meta.cversion, 3, "never moves back");
        assert_eq!(t.nodes[""].meta.pzxid, 2);
    }

    #[test]
    fn a_multi_with_an_error_changes_nothing() {
        let mut t = root_only();
        let subs = vec![
            (op::CREATE, create("/m", 1, false)),
            (op::ERROR, ZkTxn::Error { err: -103 }),
        ];
        t.process_txn(&header(1, op::MULTI), &ZkTxn::Multi(subs), None);
        assert!(!t.nodes.contains_key("/m"));
        assert_eq!(t.nodes[""].meta, Meta::default());
    }

    #[test]
    fn close_session_and_dead_sessions_delete_ephemerals() {
        let mut t = root_only();
        let session = ZkTxn::CreateSession { timeout_ms: 30_000 };
        t.process_txn(&header(1, op::CREATE_SESSION), &session, None);
        t.process_txn(&header(2, op::CREATE), &create("/e", 1, true), None);
        t.process_txn(&header(3, op::CREATE), &create("/f", 2, true), None);
        assert_eq!(t.ephemerals[&0x77].len(), 2);
        let close = ZkTxn::CloseSession {
            paths: Some(vec!["/e".to_string()]),
        };
        t.process_txn(&header(4, op::CLOSE_SESSION), &close, None);
        assert!(t.nodes.len() == 1 && t.ephemerals.is_empty() && t.sessions.is_empty());
        assert_eq!(t.nodes[""].meta.pzxid, 4);
    }
}

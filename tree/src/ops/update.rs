//! delete, deleteContainer, setData, setACL and check (`PrepRequestProcessor.pRequest2Txn`
//! cases and `DataTree.deleteNode/setData/setACL`).
//!
//! Precedence per op (first failing check wins):
//! - delete: session; parent path split, NUL, special path (BadArguments); parent
//!   (NoNode); DELETE on parent (NoAuth); node (NoNode); version (BadVersion); children
//!   (NotEmpty).
//! - deleteContainer: from a client (session != 0) always BadArguments — ZooKeeper reads
//!   the path as the raw request bytes, jute length prefix included, so the NUL in the
//!   prefix fails the check (observed on 3.8). From the server's own sweeper (session 0):
//!   split/special (BadArguments); node (NoNode); children (NotEmpty); a session-owned
//!   ephemeral (BadVersion). No session or ACL check.
//! - setData: session; path (BadArguments); node (NoNode); WRITE (NoAuth); version.
//! - setACL: session; path; ACL list (InvalidAcl); node (NoNode); ADMIN (NoAuth); aversion.
//! - check: session; path; node (NoNode); READ (NoAuth); version.

use wire::{perms, CheckVersionRequest, DeleteRequest, ErrorCode, SetAclRequest, SetDataRequest};
use wire::{Response, Stat};

use crate::acl;
use crate::path;
use crate::tree::DataTree;
use crate::txn::{Change, ChangeKind, Txn};
use crate::znode::EphemeralType;
use crate::CONFIG_NODE;

/// `DataTree.isSpecialPath`: nodes ZooKeeper owns and never lets a client delete.
fn is_special_path(p: &str) -> bool {
    matches!(
        p,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

/// `checkAndIncVersion`: -1 matches any version.
fn check_and_inc_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

/// `getParentPathAndValidate`.
fn parent_for_delete(p: &str) -> Result<&str, ErrorCode> {
    let parent = path::parent_of(p).ok_or(ErrorCode::BadArguments)?;
    if p.contains('\0') || is_special_path(p) {
        return Err(ErrorCode::BadArguments);
    }
    Ok(parent)
}

impl DataTree {
    pub(crate) fn delete(
        &mut self,
        txn: &Txn,
        req: &DeleteRequest,
        changes: &mut Vec<Change>,
    ) -> Result<(), ErrorCode> {
        self.check_session(txn)?;
        let parent_key = parent_for_delete(&req.path)?;
        let parent = self.node(parent_key).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(&parent.acl, perms::DELETE, &txn.auth)?;
        let node = self.node(&req.path).ok_or(ErrorCode::NoNode)?;
        check_and_inc_version(node.meta.version, req.version)?;
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        self.delete_node(&req.path, txn.zxid, changes);
        Ok(())
    }

    pub(crate) fn delete_container(
        &mut self,
        txn: &Txn,
        p: &str,
        changes: &mut Vec<Change>,
    ) -> Result<(), ErrorCode> {
        if txn.session_id != 0 {
            return Err(ErrorCode::BadArguments);
        }
        let parent_key = parent_for_delete(p)?;
        let node = self.node(p).ok_or(ErrorCode::NoNode)?;
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        if node.ephemeral_type() == EphemeralType::Normal {
            return Err(ErrorCode::BadVersion);
        }
        if self.node(parent_key).is_none() {
            return Err(ErrorCode::NoNode);
        }
        self.delete_node(p, txn.zxid, changes);
        Ok(())
    }

    /// The member list into `/zookeeper/config` (a reconfig, or the configuration a leader
    /// finds missing there): the text ends `version=<zxid in hex>`, no newline, and the data
    /// version stays -1, as ZooKeeper's `setData(CONFIG_NODE, …, -1, zxid, …)` leaves it.
    /// Watchers of the node see NodeDataChanged; the reply is reconfig's GetDataResponse.
    pub(crate) fn set_config(
        &mut self,
        txn: &Txn,
        members: &str,
        changes: &mut Vec<Change>,
    ) -> Result<Response, ErrorCode> {
        let text = format!("{members}version={:x}", txn.zxid);
        let node = self.node(CONFIG_NODE).ok_or(ErrorCode::NoNode)?;
        let mut meta = node.meta;
        meta.version = -1;
        meta.mtime = txn.time_ms;
        meta.mzxid = txn.zxid;
        self.set_meta(CONFIG_NODE, meta);
        self.set_data(CONFIG_NODE, Some(text.clone().into_bytes()));
        let node = self.node(CONFIG_NODE).expect("config node still exists");
        changes.push(Change {
            path: CONFIG_NODE.to_string(),
            kind: ChangeKind::NodeDataChanged,
            acl: node.acl.clone(),
        });
        Ok(Response::GetData {
            data: Some(text.into_bytes()),
            stat: node.stat(),
        })
    }

    pub(crate) fn set_data_op(
        &mut self,
        txn: &Txn,
        req: &SetDataRequest,
        changes: &mut Vec<Change>,
    ) -> Result<Stat, ErrorCode> {
        self.check_session(txn)?;
        path::validate_path(&req.path).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node(&req.path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(&node.acl, perms::WRITE, &txn.auth)?;
        let version = check_and_inc_version(node.meta.version, req.version)?;
        let mut meta = node.meta;
        meta.version = version;
        meta.mtime = txn.time_ms;
        meta.mzxid = txn.zxid;
        let old_len = node.data().len();
        self.set_meta(&req.path, meta);
        self.set_data(&req.path, req.data.clone());
        let acl = self.node(&req.path).expect("node still exists").acl.clone();
        changes.push(Change {
            path: req.path.clone(),
            kind: ChangeKind::NodeDataChanged,
            acl,
        });
        let stat = self.node(&req.path).expect("node still exists").stat();
        assert_eq!(stat.mzxid, txn.zxid, "setData moves mzxid to the txn zxid");
        // After the reply's Stat is taken, as in ZooKeeper.
        self.update_quota_on_set_data(&req.path, old_len);
        Ok(stat)
    }

    pub(crate) fn set_acl_op(&mut self, txn: &Txn, req: &SetAclRequest) -> Result<Stat, ErrorCode> {
        self.check_session(txn)?;
        path::validate_path(&req.path).map_err(|_| ErrorCode::BadArguments)?;
        let acl = acl::fixup_acl(&req.acl, &txn.auth)?;
        let node = self.node(&req.path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(&node.acl, perms::ADMIN, &txn.auth)?;
        let aversion = check_and_inc_version(node.meta.aversion, req.version)?;
        let mut meta = node.meta;
        meta.aversion = aversion;
        let key = path::node_key(&req.path).to_string();
        self.set_meta(&key, meta);
        let acl = self.intern_acl(acl);
        self.set_acl(&key, acl);
        // setACL triggers no watch in ZooKeeper.
        Ok(self.node(&key).expect("node still exists").stat())
    }

    pub(crate) fn check_version(
        &self,
        txn: &Txn,
        req: &CheckVersionRequest,
    ) -> Result<(), ErrorCode> {
        self.check_session(txn)?;
        path::validate_path(&req.path).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node(&req.path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(&node.acl, perms::READ, &txn.auth)?;
        check_and_inc_version(node.meta.version, req.version)?;
        Ok(())
    }
}

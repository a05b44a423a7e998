//! create, create2, createContainer, createTTL (`PrepRequestProcessor.pRequest2TxnCreate`,
//! `validateCreateRequest`, `DataTree.createNode`).
//!
//! Check order (= error precedence): flags (BadArguments); TTL mode without extended types
//! (Unimplemented); ttl bounds (BadArguments); session (SessionExpired); a '/' and no NUL in
//! the path (BadArguments); ACL list (InvalidAcl); parent exists (NoNode); CREATE on the
//! parent (NoAuth); full path validation after the sequential suffix (BadArguments); node
//! exists (NodeExists); parent is ephemeral (NoChildrenForEphemerals).

use wire::{perms, CreateMode, CreateRequest, ErrorCode, Stat};

use crate::acl;
use crate::path;
use crate::tree::DataTree;
use crate::txn::{Change, ChangeKind, Txn};
use crate::znode::{ttl_owner, EphemeralType, Meta, Node, CONTAINER_EPHEMERAL_OWNER};

/// Which create opcode carried the request; it decides the node type ZooKeeper applies
/// (the txn type), whatever the flags say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opcode {
    Create,
    Create2,
    Container,
    Ttl,
}

impl DataTree {
    pub(crate) fn create(
        &mut self,
        txn: &Txn,
        opcode: Opcode,
        req: &CreateRequest,
        changes: &mut Vec<Change>,
    ) -> Result<(String, Stat), ErrorCode> {
        let mode = CreateMode::from_flags(req.flags).ok_or(ErrorCode::BadArguments)?;
        let ttl = if opcode == Opcode::Ttl { req.ttl } else { -1 };
        self.validate_create_request(txn, mode, ttl)?;
        let parent_key = path::parent_of(&req.path).ok_or(ErrorCode::BadArguments)?;
        if req.path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let acl = acl::fixup_acl(&req.acl, &txn.auth)?;
        let parent = self.node(parent_key).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(&parent.acl, perms::CREATE, &txn.auth)?;
        let parent_meta = parent.meta;
        let parent_type = parent.ephemeral_type();
        let parent_acl = parent.acl.clone();
        let full_path = if mode.is_sequential() {
            // `String.format("%010d", cversion)`: a negative value keeps its sign inside
            // the ten characters, as Rust's `{:010}` does.
            format!("{}{:010}", req.path, parent_meta.cversion)
        } else {
            req.path.clone()
        };
        path::validate_path(&full_path).map_err(|_| ErrorCode::BadArguments)?;
        // A node other than the root exists exactly when its parent lists it
        // (`check_invariants`); the parent's child set holds short names, far cheaper to
        // search than the table of full paths.
        if full_path == "/" || parent.children.contains(path::child_name(&full_path)) {
            debug_assert!(self.node(&full_path).is_some(), "{full_path} is listed");
            return Err(ErrorCode::NodeExists);
        }
        debug_assert!(self.node(&full_path).is_none(), "{full_path} is not listed");
        if parent_type == EphemeralType::Normal {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let owner = match opcode {
            Opcode::Container => CONTAINER_EPHEMERAL_OWNER,
            // A createTTL whose flags are not a TTL mode passed validation only with a
            // negative ttl; ZooKeeper would then fail converting it, so refuse it here.
            Opcode::Ttl => ttl_owner(ttl).ok_or(ErrorCode::BadArguments)?,
            Opcode::Create | Opcode::Create2 if mode.is_ephemeral() => txn.session_id,
            Opcode::Create | Opcode::Create2 => 0,
        };
        let parent = ParentBefore {
            meta: parent_meta,
            acl: parent_acl,
        };
        let stat = self.create_node(
            txn,
            &full_path,
            req.data.clone(),
            acl,
            owner,
            parent,
            changes,
        );
        Ok((full_path, stat))
    }

    /// `validateCreateRequest`: TTL availability and bounds, then the session.
    fn validate_create_request(
        &self,
        txn: &Txn,
        mode: CreateMode,
        ttl: i64,
    ) -> Result<(), ErrorCode> {
        if mode.is_ttl() && !self.config.extended_types_enabled {
            return Err(ErrorCode::Unimplemented);
        }
        // `EphemeralType.validateTTL`.
        if mode.is_ttl() {
            ttl_owner(ttl).ok_or(ErrorCode::BadArguments)?;
        } else if ttl >= 0 {
            return Err(ErrorCode::BadArguments);
        }
        if mode.is_ephemeral() && !self.sessions.contains(txn.session_id) {
            return Err(ErrorCode::SessionExpired);
        }
        self.check_session(txn)
    }

    /// `DataTree.createNode` after validation: links the node, bumps the parent's
    /// cversion and pzxid, records NodeCreated then the parent's NodeChildrenChanged, and
    /// updates quota stats (quota.rs). `parent` is what the caller read of the parent, so
    /// the path table is searched for it once per create (each search compares long paths).
    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        txn: &Txn,
        p: &str,
        data: Option<Vec<u8>>,
        acl: std::borrow::Cow<'_, [wire::Acl]>,
        owner: i64,
        parent_before: ParentBefore,
        changes: &mut Vec<Change>,
    ) -> Stat {
        let parent = path::watch_path(path::parent_of(p).expect("validated path has a '/'"));
        let parent = parent.to_string();
        let ParentBefore {
            meta: mut parent_meta,
            acl: parent_acl,
        } = parent_before;
        debug_assert_eq!(
            self.node(&parent).map(|n| n.meta),
            Some(parent_meta),
            "the caller read the parent of {p}"
        );
        let new_cversion = parent_meta.cversion.wrapping_add(1);
        // ZooKeeper only moves cversion forward; at i32::MAX it wraps and stops (so does
        // pzxid), which we reproduce.
        let new_meta = (new_cversion > parent_meta.cversion).then(|| {
            parent_meta.cversion = new_cversion;
            parent_meta.pzxid = txn.zxid;
            parent_meta
        });
        self.link_child(&parent, path::child_name(p), new_meta);
        let meta = Meta {
            czxid: txn.zxid,
            mzxid: txn.zxid,
            ctime: txn.time_ms,
            mtime: txn.time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: txn.zxid,
        };
        let extended = self.config.extended_types_enabled;
        let acl = self.intern_acl(acl);
        changes.push(Change {
            path: p.to_string(),
            kind: ChangeKind::NodeCreated,
            acl: acl.clone(),
        });
        let node = Node::new(meta, data, acl, extended);
        assert_eq!(
            node.meta.ephemeral_owner, owner,
            "new node {p} has its owner"
        );
        // Taken before the insert (which does not change it), saving a lookup.
        let stat = node.stat();
        let data_len = node.data().len();
        self.insert_node(p, node);
        changes.push(Change {
            path: parent,
            kind: ChangeKind::NodeChildrenChanged,
            acl: parent_acl,
        });
        assert_eq!(stat.czxid, txn.zxid, "new node czxid is the txn zxid");
        // After the reply's Stat is taken, as ZooKeeper copies it before the quota update
        // (which may rewrite this very node's data if it is a stats node).
        self.update_quota_on_create(p, data_len);
        stat
    }
}

/// The parent as `create` read it before any change: its persisted stat and its ACL.
struct ParentBefore {
    meta: Meta,
    acl: crate::acl_cache::SharedAcl,
}

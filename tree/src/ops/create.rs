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
        let owner = match opcode {
            Opcode::Container => Ok(CONTAINER_EPHEMERAL_OWNER),
            // A createTTL whose flags are not a TTL mode passed validation only with a
            // negative ttl; ZooKeeper would then fail converting it, so refuse it here.
            Opcode::Ttl => ttl_owner(ttl).ok_or(ErrorCode::BadArguments),
            Opcode::Create | Opcode::Create2 if mode.is_ephemeral() => Ok(txn.session_id),
            Opcode::Create | Opcode::Create2 => Ok(0),
        };
        // The parent is found, checked and linked to the new name in one search of the path
        // table (each search compares long paths), and its child set searched once.
        let parent = path::watch_path(parent_key);
        let linked = self
            .try_modify(parent, |node| {
                link_new_child(node, txn, mode, &req.path, owner)
            })
            .ok_or(ErrorCode::NoNode)??;
        self.record_linked_child(
            parent,
            path::child_name(&linked.full_path),
            linked.meta_changed.then_some(linked.parent_before),
        );
        let stat = self.create_node(
            txn,
            &linked.full_path,
            req.data.clone(),
            acl,
            linked.owner,
            linked.parent_acl,
            changes,
        );
        Ok((linked.full_path, stat))
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

    /// `DataTree.createNode` after validation and after `link_new_child`: adds the node,
    /// records NodeCreated then the parent's NodeChildrenChanged, and updates quota stats
    /// (quota.rs).
    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        txn: &Txn,
        p: &str,
        data: Option<Vec<u8>>,
        acl: std::borrow::Cow<'_, [wire::Acl]>,
        owner: i64,
        parent_acl: crate::acl_cache::SharedAcl,
        changes: &mut Vec<Change>,
    ) -> Stat {
        let parent = path::watch_path(path::parent_of(p).expect("validated path has a '/'"));
        let parent = parent.to_string();
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

/// What `link_new_child` did to the parent and found out about the new node.
struct Linked {
    /// The new node's path, with its sequential suffix if any.
    full_path: String,
    /// The parent's persisted stat before the link.
    parent_before: Meta,
    /// Whether the link moved the parent's cversion and pzxid.
    meta_changed: bool,
    parent_acl: crate::acl_cache::SharedAcl,
    owner: i64,
}

/// The checks of a create that need the parent, in ZooKeeper's order, then the link of the
/// new name into the parent's child set with its cversion and pzxid moved. On `Err` the
/// parent is unchanged. `owner` is the new node's owner, or the error its TTL gave, which
/// ranks after NodeExists and NoChildrenForEphemerals.
fn link_new_child(
    parent: &mut Node,
    txn: &Txn,
    mode: CreateMode,
    path: &str,
    owner: Result<i64, ErrorCode>,
) -> Result<Linked, ErrorCode> {
    acl::check_acl(&parent.acl, perms::CREATE, &txn.auth)?;
    let parent_before = parent.meta;
    let full_path = if mode.is_sequential() {
        // `String.format("%010d", cversion)`: a negative value keeps its sign inside the
        // ten characters, as Rust's `{:010}` does.
        format!("{}{:010}", path, parent_before.cversion)
    } else {
        path.to_string()
    };
    path::validate_path(&full_path).map_err(|_| ErrorCode::BadArguments)?;
    // A node other than the root exists exactly when its parent lists it
    // (`check_invariants`).
    if full_path == "/" {
        return Err(ErrorCode::NodeExists);
    }
    let name = path::child_name(&full_path);
    let refused = if parent.ephemeral_type() == EphemeralType::Normal {
        Some(ErrorCode::NoChildrenForEphemerals)
    } else {
        owner.err()
    };
    if let Some(code) = refused {
        return Err(if parent.children.contains(name) {
            ErrorCode::NodeExists
        } else {
            code
        });
    }
    if !parent.children.insert(name) {
        return Err(ErrorCode::NodeExists);
    }
    let new_cversion = parent_before.cversion.wrapping_add(1);
    // ZooKeeper only moves cversion forward; at i32::MAX it wraps and stops (so does pzxid),
    // which we reproduce.
    let meta_changed = new_cversion > parent_before.cversion;
    if meta_changed {
        parent.meta.cversion = new_cversion;
        parent.meta.pzxid = txn.zxid;
    }
    Ok(Linked {
        full_path,
        parent_before,
        meta_changed,
        parent_acl: parent.acl.clone(),
        owner: owner.expect("a refused owner returned above"),
    })
}

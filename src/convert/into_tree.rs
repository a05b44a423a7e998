//! Turning the replayed ZooKeeper tree into Ferrokeeper's `tree::DataTree`.
//!
//! The tree crate has no constructor that takes nodes with explicit stats, but its snapshot
//! loader does exactly that and checks everything on the way in (path rules, parents before
//! children, ephemerals owned by listed sessions, the digest). So the converter writes the
//! tree's own snapshot encoding (layout in `tree/src/snapshot.rs`, version 1) and loads it
//! with `DataTree::decode_snapshot`; the digest it must carry is computed here with the tree
//! crate's public `digest::node_hash`. A `DataTree::from_nodes` in the tree crate would make
//! the round trip unnecessary.
//!
//! ZooKeeper's root "" becomes "/". Extended types are enabled, so TTL owners
//! (`0xff..` high byte) load as TTL nodes rather than as ephemerals of an unknown session.

use std::collections::BTreeMap;

use tree::{DataTree, Node, TreeConfig};
use wire::Writer;

use super::replay::ZkTree;

/// The tree snapshot encoding version this module writes (`tree::snapshot`).
const TREE_SNAPSHOT_VERSION: i32 = tree::snapshot::SNAPSHOT_FORMAT_VERSION;

/// The settings the converted tree is loaded with.
pub fn tree_config() -> TreeConfig {
    TreeConfig {
        extended_types_enabled: true,
        super_digest: None,
    }
}

/// Builds the tree; an error means the ZooKeeper data breaks a rule the tree enforces (a
/// path it considers invalid, for instance) and says which.
pub fn to_data_tree(zk: &ZkTree) -> Result<DataTree, String> {
    let config = tree_config();
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for (zk_path, zk_node) in &zk.nodes {
        let path = if zk_path.is_empty() {
            "/".to_string()
        } else {
            zk_path.clone()
        };
        let mut node = Node::new(
            zk_node.meta,
            zk_node.data.clone(),
            zk_node.acl.clone().into(),
            config.extended_types_enabled,
        );
        node.children = zk_node.children.iter().map(String::as_str).collect();
        nodes.insert(path, node);
    }
    let digest = nodes.iter().fold(0u64, |acc, (path, node)| {
        acc.wrapping_add(tree::digest::node_hash(path, node))
    });
    let mut w = Writer::new();
    w.write_i32(TREE_SNAPSHOT_VERSION);
    w.write_i64(zk.last_processed_zxid);
    w.write_i64(digest as i64);
    let sessions: Vec<(i64, i32)> = zk.sessions.iter().map(|(id, t)| (*id, *t)).collect();
    w.write_vec(&sessions, |w, (id, timeout_ms)| {
        w.write_i64(*id);
        w.write_i32(*timeout_ms);
        // The password ZooKeeper gave the session, so its client can resume it here.
        w.write_buffer(&super::zk_password::zookeeper_password(*id));
    });
    let entries: Vec<(&String, &Node)> = nodes.iter().collect();
    w.write_vec(&entries, |w, (path, node)| {
        w.write_string(path);
        w.write_optional_buffer(node.data_option());
        wire::Acl::write_list(&node.acl, w);
        let m = &node.meta;
        for v in [m.czxid, m.mzxid, m.ctime, m.mtime] {
            w.write_i64(v);
        }
        for v in [m.version, m.cversion, m.aversion] {
            w.write_i32(v);
        }
        w.write_i64(m.ephemeral_owner);
        w.write_i64(m.pzxid);
    });
    let tree = DataTree::decode_snapshot(&w.bytes, config).map_err(|e| e.what)?;
    assert_eq!(
        tree.digest(),
        digest,
        "the loaded tree has the digest we computed"
    );
    assert_eq!(tree.len(), zk.nodes.len(), "every node loaded");
    Ok(tree)
}

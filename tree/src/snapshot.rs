//! Tree snapshots: the whole replicated state (nodes, sessions, last zxid) as one byte
//! string, and a loader that rebuilds the tree from it and checks it.
//!
//! Layout (jute primitives, big-endian), version 3:
//! `int version=3; long last_zxid; long digest;`
//! `vector<{long session_id; int timeout_ms; buffer password}> sessions` (ascending ids,
//! 16-byte passwords);
//! `vector<{ustring path; buffer data; vector<ACL> acl; long czxid; long mzxid; long ctime;
//! long mtime; int version; int cversion; int aversion; long ephemeral_owner; long pzxid}>`
//! nodes, in strictly ascending path order, so every parent (a prefix of its children)
//! comes before them and "/" comes first. `cversion` is the persisted one (see znode.rs).
//!
//! Everything before the nodes is `SnapshotHeader` (snapshot_walk.rs), which is small and
//! taken at once; the nodes can be streamed in steps (`snapshot_step`).
//!
//! Version 2 has the same layout; only its digest was computed with the older node hash
//! (digest.rs). It is still read, and its digest checked with that hash.
//!
//! The loader treats the bytes as untrusted: any malformed input (bad path, missing
//! parent, duplicate, child of an ephemeral, ephemeral of an unknown session, trailing
//! bytes, or a digest that does not match the rebuilt tree) is a `DecodeError`, never a
//! panic. The session table's ephemeral sets are rebuilt from the nodes.

use wire::{Acl, DecodeError, Reader, Writer};

use crate::path;
use crate::tree::{DataTree, TreeConfig};
use crate::znode::{EphemeralType, Meta, Node};

pub const SNAPSHOT_FORMAT_VERSION: i32 = 3;
/// The version before, read too: the same layout with the older digest (see the module doc).
const SNAPSHOT_FORMAT_VERSION_FNV: i32 = 2;
/// An encoded session: a long, an int and a 16-byte buffer.
const SESSION_MIN_BYTES: usize = 8 + 4 + 4 + crate::session::PASSWORD_BYTES;
/// Smallest encoded node: empty path, data and ACL list, six longs and three ints.
const NODE_MIN_BYTES: usize = 4 + 4 + 4 + 6 * 8 + 3 * 4;

impl DataTree {
    /// Appends the snapshot of this tree (see the module doc). A streamed snapshot
    /// (`begin_snapshot` + `snapshot_step`) of the same state yields the same bytes.
    pub fn encode_snapshot(&self, w: &mut Writer) {
        let start = w.bytes.len();
        self.snapshot_header().encode(w);
        for (p, node) in self.iter() {
            write_node(w, p, node.data_option(), &node.acl, &node.meta);
        }
        let written = w.bytes.len() - start;
        assert!(
            written >= 28 + NODE_MIN_BYTES,
            "a snapshot holds at least the root, {written} bytes"
        );
    }

    /// Rebuilds a tree from `encode_snapshot`'s output, checking it (see the module doc).
    pub fn decode_snapshot(bytes: &[u8], config: TreeConfig) -> Result<DataTree, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.read_i32()?;
        if version != SNAPSHOT_FORMAT_VERSION && version != SNAPSHOT_FORMAT_VERSION_FNV {
            return Err(r.error(format!(
                "snapshot format version {version}, expected {SNAPSHOT_FORMAT_VERSION} \
                 (or {SNAPSHOT_FORMAT_VERSION_FNV})"
            )));
        }
        let last_zxid = r.read_i64()?;
        let digest = r.read_i64()? as u64;
        let mut tree = DataTree::empty(config);
        let sessions = r.read_vec(SESSION_MIN_BYTES, |r| {
            Ok((r.read_i64()?, r.read_i32()?, r.read_buffer()?))
        })?;
        for (id, timeout_ms, password) in sessions {
            if tree.sessions().contains(id) {
                return Err(r.error(format!("session {id:#x} listed twice")));
            }
            let password = password.as_slice().try_into().map_err(|_| {
                r.error(format!(
                    "session {id:#x} has a password of {} bytes",
                    password.len()
                ))
            })?;
            tree.sessions.create(id, timeout_ms, password);
        }
        let count = r.read_i32()?;
        if count < 1 || count as usize > r.remaining() / NODE_MIN_BYTES {
            return Err(r.error(format!("node count {count} impossible here")));
        }
        let mut loaded: Vec<Loaded> = Vec::with_capacity(count as usize);
        let mut parent_hint = 0;
        for _ in 0..count {
            let (p, node) = read_node(&mut r, &mut tree)?;
            match tree.check_loadable(&loaded, &mut parent_hint, &p, &node) {
                Ok(parent) => loaded.push((p, Box::new(node), parent)),
                Err(why) => return Err(r.error(format!("node {p:?}: {why}"))),
            }
        }
        r.finish("snapshot")?;
        tree.link_loaded(loaded);
        tree.finish_load(last_zxid);
        let rebuilt = if version == SNAPSHOT_FORMAT_VERSION_FNV {
            crate::digest::legacy_digest(tree.iter())
        } else {
            tree.digest()
        };
        if rebuilt != digest {
            return Err(r.error(format!("digest {digest:#x} recorded, {rebuilt:#x} rebuilt")));
        }
        tree.check_invariants();
        Ok(tree)
    }

    /// Why `p` cannot follow the nodes `loaded` so far, if it cannot; else the position of
    /// its parent in `loaded` (0 for the root itself). `hint` is the last parent found:
    /// siblings arrive in a run, so most lookups need no search.
    fn check_loadable(
        &self,
        loaded: &[Loaded],
        hint: &mut usize,
        p: &str,
        node: &Node,
    ) -> Result<usize, String> {
        path::validate_path(p).map_err(|e| format!("invalid path ({e:?})"))?;
        match loaded.last() {
            None if p != "/" => return Err("the first node is not the root".to_string()),
            Some((prev, _, _)) if prev.as_str() >= p => return Err(format!("not after {prev:?}")),
            _ => {}
        }
        let mut parent_at = 0;
        if p != "/" {
            let parent = path::watch_path(path::parent_of(p).unwrap_or("/"));
            if loaded.get(*hint).map(|l| l.0.as_str()) != Some(parent) {
                *hint = loaded
                    .binary_search_by(|l| l.0.as_str().cmp(parent))
                    .map_err(|_| format!("parent {parent} missing"))?;
            }
            parent_at = *hint;
            if loaded[parent_at].1.ephemeral_type() == EphemeralType::Normal {
                return Err(format!("parent {parent} is ephemeral"));
            }
        }
        if node.ephemeral_type() == EphemeralType::Normal
            && !self.sessions().contains(node.meta.ephemeral_owner)
        {
            return Err(format!(
                "owner {:#x} is not a session",
                node.meta.ephemeral_owner
            ));
        }
        if p == "/" && node.ephemeral_type() != EphemeralType::Void {
            return Err("the root is not persistent".to_string());
        }
        Ok(parent_at)
    }

    /// Builds the node table from a snapshot's checked nodes in one pass. B-trees built from
    /// sorted input come out full, where inserting one node at a time (as txns do) leaves
    /// each leaf about half empty: for 1M znodes that is ~70 MB less after a restart.
    fn link_loaded(&mut self, mut loaded: Vec<Loaded>) {
        assert!(self.nodes.is_empty(), "a snapshot loads into an empty tree");
        let mut names: Vec<Vec<String>> = vec![Vec::new(); loaded.len()];
        for (p, _, parent_at) in loaded.iter().skip(1) {
            names[*parent_at].push(path::child_name(p).to_string());
        }
        for ((_, node, _), names) in loaded.iter_mut().zip(names) {
            node.children = names.into_iter().collect();
        }
        for (p, node, _) in &loaded {
            self.account_joining(p, node);
        }
        self.nodes = loaded
            .into_iter()
            .map(|(p, node, _)| (p.into(), node))
            .collect();
    }
}

/// A node read from a snapshot: its path, the node, and where its parent is in the list.
type Loaded = (String, Box<Node>, usize);

/// One node in the snapshot layout (see the module doc); its children are implied by the
/// paths that follow.
pub(crate) fn write_node(w: &mut Writer, p: &str, data: Option<&[u8]>, acl: &[Acl], m: &Meta) {
    w.write_string(p);
    w.write_optional_buffer(data);
    Acl::write_list(acl, w);
    for v in [m.czxid, m.mzxid, m.ctime, m.mtime] {
        w.write_i64(v);
    }
    for v in [m.version, m.cversion, m.aversion] {
        w.write_i32(v);
    }
    w.write_i64(m.ephemeral_owner);
    w.write_i64(m.pzxid);
}

fn read_node(r: &mut Reader<'_>, tree: &mut DataTree) -> Result<(String, Node), DecodeError> {
    let extended = tree.config().extended_types_enabled;
    let p = r.read_string()?;
    let data = r.read_optional_buffer()?;
    let acl = tree.intern_acl(Acl::read_list(r)?);
    let meta = Meta {
        czxid: r.read_i64()?,
        mzxid: r.read_i64()?,
        ctime: r.read_i64()?,
        mtime: r.read_i64()?,
        version: r.read_i32()?,
        cversion: r.read_i32()?,
        aversion: r.read_i32()?,
        ephemeral_owner: r.read_i64()?,
        pzxid: r.read_i64()?,
    };
    Ok((p, Node::new(meta, data, acl, extended)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::support::{create_req, Harness};
    use wire::{Request, SetDataRequest};

    fn sample() -> Harness {
        let mut h = Harness::extended();
        h.create_ok("/a");
        h.apply(Request::Create(create_req("/a/e", b"eph", 1)))
            .unwrap();
        h.apply(Request::CreateContainer(create_req("/c", b"", 4)))
            .unwrap();
        let ttl = wire::CreateRequest {
            ttl: 60_000,
            ..create_req("/t", b"x", 5)
        };
        h.apply(Request::CreateTtl(ttl)).unwrap();
        let set = SetDataRequest {
            path: "/".into(),
            data: Some(b"root".to_vec()),
            version: -1,
        };
        h.apply(Request::SetData(set)).unwrap();
        h
    }

    fn config() -> TreeConfig {
        TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        }
    }

    #[test]
    fn snapshot_round_trips_nodes_sessions_and_digest() {
        let h = sample();
        let mut w = Writer::new();
        h.tree.encode_snapshot(&mut w);
        let loaded = DataTree::decode_snapshot(&w.bytes, config()).expect("own snapshot loads");
        assert_eq!(loaded.digest(), h.tree.digest());
        assert_eq!(loaded.last_zxid(), h.tree.last_zxid());
        assert_eq!(loaded.sessions(), h.tree.sessions());
        assert_eq!(loaded.containers(), h.tree.containers());
        assert_eq!(loaded.ttls(), h.tree.ttls());
        assert_eq!(
            loaded.approximate_data_size(),
            h.tree.approximate_data_size()
        );
        let a: Vec<_> = loaded.iter().collect();
        let b: Vec<_> = h.tree.iter().collect();
        assert_eq!(a, b);
        let mut again = Writer::new();
        loaded.encode_snapshot(&mut again);
        assert_eq!(again.bytes, w.bytes, "re-encoding is byte-identical");
    }

    #[test]
    fn every_truncation_is_rejected() {
        let mut w = Writer::new();
        sample().tree.encode_snapshot(&mut w);
        for cut in 0..w.bytes.len() {
            assert!(
                DataTree::decode_snapshot(&w.bytes[..cut], config()).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn every_flipped_byte_is_rejected_or_loads_consistently() {
        let mut w = Writer::new();
        sample().tree.encode_snapshot(&mut w);
        let mut rejected = 0;
        for i in 0..w.bytes.len() {
            let mut bytes = w.bytes.clone();
            bytes[i] ^= 0x41;
            match DataTree::decode_snapshot(&bytes, config()) {
                Err(_) => rejected += 1,
                // Only fields outside the digest (a session's timeout) can change unseen.
                Ok(tree) => assert_eq!(tree.digest(), tree.recompute_digest(), "byte {i}"),
            }
        }
        assert!(
            rejected * 10 > w.bytes.len() * 9,
            "{rejected} of {} rejected",
            w.bytes.len()
        );
    }

    #[test]
    fn an_ephemeral_without_its_session_is_rejected() {
        let h = sample();
        let mut w = Writer::new();
        h.tree.encode_snapshot(&mut w);
        // Drop the session table: the ephemeral /a/e then has no owner.
        let mut bytes = w.bytes[..20].to_vec();
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&w.bytes[24 + SESSION_MIN_BYTES..]);
        let err = DataTree::decode_snapshot(&bytes, config()).expect_err("orphan ephemeral");
        assert!(err.what.contains("is not a session"), "{err}");
    }

    /// The sample encoded as format 2 wrote it: the version, and the FNV-1a digest.
    fn format_2_snapshot() -> Vec<u8> {
        let h = sample();
        let mut w = Writer::new();
        h.tree.encode_snapshot(&mut w);
        let mut bytes = w.bytes;
        bytes[..4].copy_from_slice(&SNAPSHOT_FORMAT_VERSION_FNV.to_be_bytes());
        let legacy = crate::digest::legacy_digest(h.tree.iter());
        bytes[12..20].copy_from_slice(&legacy.to_be_bytes());
        bytes
    }

    #[test]
    fn a_format_2_snapshot_loads_with_its_fnv_digest_checked() {
        let loaded =
            DataTree::decode_snapshot(&format_2_snapshot(), config()).expect("format 2 loads");
        let h = sample();
        assert_eq!(
            loaded.digest(),
            h.tree.digest(),
            "kept from then on with the new hash"
        );
        assert_eq!(loaded.digest(), loaded.recompute_digest());
        let a: Vec<_> = loaded.iter().collect();
        let b: Vec<_> = h.tree.iter().collect();
        assert_eq!(a, b);

        // Its recorded digest is the FNV one: the new one there is a mismatch.
        let mut bytes = format_2_snapshot();
        bytes[12..20].copy_from_slice(&h.tree.digest().to_be_bytes());
        let err = DataTree::decode_snapshot(&bytes, config()).expect_err("wrong digest");
        assert!(err.what.contains("recorded"), "{err}");
        // And format 3 does not accept the FNV digest.
        let mut bytes = format_2_snapshot();
        bytes[..4].copy_from_slice(&SNAPSHOT_FORMAT_VERSION.to_be_bytes());
        assert!(DataTree::decode_snapshot(&bytes, config()).is_err());
        // Any other version is refused by name.
        bytes[..4].copy_from_slice(&4i32.to_be_bytes());
        let err = DataTree::decode_snapshot(&bytes, config()).expect_err("version 4");
        assert!(err.what.contains("format version 4"), "{err}");
    }

    /// Paths whose sorted order interleaves subtrees ("/a/b-x" sorts between "/a/b" and
    /// "/a/b/c"): every parent is still found and every child set rebuilt.
    #[test]
    fn interleaved_subtrees_round_trip() {
        let mut h = Harness::extended();
        for p in [
            "/a", "/a/b", "/a/b-x", "/a/b/c", "/a/b/c/d", "/a/b-x/y", "/a/d", "/b",
        ] {
            h.create_ok(p);
        }
        let mut w = Writer::new();
        h.tree.encode_snapshot(&mut w);
        let loaded = DataTree::decode_snapshot(&w.bytes, config()).expect("loads");
        assert_eq!(loaded.digest(), h.tree.digest());
        let a: Vec<_> = loaded.iter().collect();
        let b: Vec<_> = h.tree.iter().collect();
        assert_eq!(a, b, "same nodes and child sets");
        loaded.check_invariants();
    }

    /// A hand-made node list: `nodes` are written in the order given.
    fn snapshot_of(nodes: &[&str]) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_i32(SNAPSHOT_FORMAT_VERSION);
        w.write_i64(0);
        w.write_i64(0);
        w.write_i32(0);
        w.write_i32(nodes.len() as i32);
        for p in nodes {
            write_node(&mut w, p, Some(b""), &Acl::open_unsafe(), &Meta::default());
        }
        w.bytes
    }

    #[test]
    fn misplaced_nodes_are_rejected_with_the_reason() {
        for (nodes, why) in [
            (&["/a"][..], "the first node is not the root"),
            (&["/", "/b", "/a"][..], "not after"),
            (&["/", "/a", "/a"][..], "not after"),
            (&["/", "/a/b"][..], "parent /a missing"),
            (&["/", "/a", "/a/b/c"][..], "parent /a/b missing"),
        ] {
            let err = DataTree::decode_snapshot(&snapshot_of(nodes), config())
                .expect_err("misplaced node");
            assert!(err.what.contains(why), "{nodes:?}: {err}");
        }
    }
}

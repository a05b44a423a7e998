//! The tree digest: a 64-bit, order-independent fingerprint of every node, kept up to date
//! on each change and checked against a full recomputation in tests and after loads.
//!
//! digest = wrapping sum over nodes of `node_hash(path, node)`. A node's hash is FNV-1a
//! (64-bit) over its path, its reported `Stat`, a hash of its data and its ACL, passed
//! through the SplitMix64 finalizer so that sums of related hashes do not cancel. Because
//! addition commutes, the digest does not depend on the order nodes were visited or
//! created, only on the final state. The session table is not part of it (as in
//! ZooKeeper's `DigestCalculator`).

use crate::znode::Node;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(FNV_OFFSET)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    /// Length-prefixed, so ("ab","c") and ("a","bc") differ.
    fn field(&mut self, bytes: &[u8]) {
        self.bytes(&(bytes.len() as u64).to_le_bytes());
        self.bytes(bytes);
    }

    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
}

/// SplitMix64's output function: a bijective mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a byte string (a node's data hash).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.field(bytes);
    h.0
}

/// One node's contribution to the tree digest.
pub fn node_hash(path: &str, node: &Node) -> u64 {
    let stat = node.stat();
    let mut h = Fnv::new();
    h.field(path.as_bytes());
    for v in [
        stat.czxid,
        stat.mzxid,
        stat.ctime,
        stat.mtime,
        stat.ephemeral_owner,
        stat.pzxid,
    ] {
        h.i64(v);
    }
    for v in [
        stat.version,
        stat.cversion,
        stat.aversion,
        stat.data_length,
        stat.num_children,
    ] {
        h.i64(i64::from(v));
    }
    h.i64(node.data_hash() as i64);
    h.i64(node.acl.len() as i64);
    for entry in node.acl.iter() {
        h.i64(i64::from(entry.perms));
        h.field(entry.id.scheme.as_bytes());
        h.field(entry.id.id.as_bytes());
    }
    mix(h.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::znode::Meta;
    use wire::Acl;

    #[test]
    fn fnv1a_matches_reference_values() {
        // FNV-1a 64 of "" and "a" (published reference values), without our length prefix.
        let mut h = Fnv::new();
        assert_eq!(h.0, 0xcbf2_9ce4_8422_2325);
        h.bytes(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn node_hash_changes_with_every_field() {
        let base = Node::new(
            Meta::default(),
            Some(b"x".to_vec()),
            Acl::open_unsafe().into(),
            false,
        );
        let h = node_hash("/a", &base);
        assert_ne!(h, node_hash("/b", &base));
        let mut other = base.clone();
        other.meta.version = 1;
        assert_ne!(h, node_hash("/a", &other));
        let mut other = base.clone();
        other.replace_data(Some(b"y".to_vec()));
        assert_ne!(h, node_hash("/a", &other));
        let mut other = base.clone();
        other.acl = Acl::read_unsafe().into();
        assert_ne!(h, node_hash("/a", &other));
        let mut other = base.clone();
        other.children.insert("c");
        assert_ne!(h, node_hash("/a", &other));
    }
}

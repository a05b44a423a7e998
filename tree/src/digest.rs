//! The tree digest: a 64-bit, order-independent fingerprint of every node, kept up to date
//! on each change and checked against a full recomputation in tests and after loads.
//!
//! digest = wrapping sum over nodes of `node_hash(path, node)`. A node's hash absorbs its
//! path, its reported `Stat`, a hash of its data and its ACL, and is passed through the
//! SplitMix64 finalizer so that sums of related hashes do not cancel. Because addition
//! commutes, the digest does not depend on the order nodes were visited or created, only
//! on the final state. The session table is not part of it (as in ZooKeeper's
//! `DigestCalculator`).
//!
//! Absorbing, since snapshot format 3: eight bytes at a time (little-endian, the last
//! word zero-padded), each word xored into the state, which is then multiplied by an odd
//! constant into a 128-bit product and folded to 64 bits (high xor low; the `mum` step of
//! wyhash). Snapshot format 2 used FNV-1a, one multiply per byte, over the same fields in
//! the same order; that hash was 15% of a tree-only create benchmark's samples.
//! `legacy_digest` keeps it so that format-2 snapshots are still checked when loaded.

use crate::znode::Node;

/// What the node hash is computed with.
trait Absorb {
    fn bytes(&mut self, bytes: &[u8]);

    /// Length-prefixed, so ("ab","c") and ("a","bc") differ.
    fn field(&mut self, bytes: &[u8]) {
        self.bytes(&(bytes.len() as u64).to_le_bytes());
        self.bytes(bytes);
    }

    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
}

/// The state before any word: the fractional part of the golden ratio.
const MUM_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// The multiplier (odd; wyhash's first secret).
const MUM_FACTOR: u64 = 0xa076_1d64_78bd_642f;

struct Mum(u64);

impl Mum {
    fn new() -> Mum {
        Mum(MUM_SEED)
    }

    fn word(&mut self, w: u64) {
        let product = u128::from(self.0 ^ w) * u128::from(MUM_FACTOR);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Absorb for Mum {
    fn bytes(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().expect("8-byte chunk")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }

    fn i64(&mut self, v: i64) {
        self.word(v as u64);
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64: the digest of snapshot format 2.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(FNV_OFFSET)
    }
}

impl Absorb for Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }
}

/// SplitMix64's output function: a bijective mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of a byte string (a node's data hash).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = Mum::new();
    h.field(bytes);
    h.0
}

/// One node's contribution to the tree digest.
pub fn node_hash(path: &str, node: &Node) -> u64 {
    let mut h = Mum::new();
    absorb_node(&mut h, path, node, node.data_hash());
    mix(h.0)
}

/// The digest snapshot format 2 recorded: the same sum, with FNV-1a node hashes.
pub(crate) fn legacy_digest<'a>(nodes: impl Iterator<Item = (&'a str, &'a Node)>) -> u64 {
    nodes.fold(0u64, |acc, (path, node)| {
        let mut data = Fnv::new();
        data.field(node.data());
        let mut h = Fnv::new();
        absorb_node(&mut h, path, node, data.0);
        acc.wrapping_add(mix(h.0))
    })
}

fn absorb_node(h: &mut impl Absorb, path: &str, node: &Node, data_hash: u64) {
    let stat = node.stat();
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
    h.i64(data_hash as i64);
    h.i64(node.acl.len() as i64);
    for entry in node.acl.iter() {
        h.i64(i64::from(entry.perms));
        h.field(entry.id.scheme.as_bytes());
        h.field(entry.id.id.as_bytes());
    }
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

    /// Snapshots record the digest, so the hash must never change by accident. The byte
    /// string values were checked against a separate Python model of the doc's recipe.
    #[test]
    fn mum_hash_is_pinned() {
        assert_eq!(hash_bytes(b""), 0x6705_27f2_8686_2c69);
        assert_eq!(hash_bytes(b"a"), 0x1702_5b01_53b0_48fb);
        assert_eq!(hash_bytes(b"zookeeper digest!"), 0xbcf5_971a_6912_0720);
        let node = Node::new(
            Meta::default(),
            Some(b"x".to_vec()),
            Acl::open_unsafe().into(),
            false,
        );
        assert_eq!(node_hash("/a", &node), 0x0714_7b84_9f0d_5bb8);
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

//! ZooKeeper's tree digest (`DigestCalculator`, digest version 2, 3.6–3.9), kept beside the
//! replayed tree so it can be compared where ZooKeeper compares it: the snapshot's
//! `ZxidDigest` once replay reaches that zxid (`DataTree.compareSnapshotDigests`), then the
//! `TxnDigest` of every later txn (`DataTree.compareDigest`). While the snapshot digest is
//! pending the tree is "fuzzy" and txn digests are not compared.
//!
//! A node's digest is the CRC-32 of its path ("" for the root), its data (nothing for
//! null) and 60 bytes of stat (czxid, mzxid, pzxid, ctime, mtime, version, cversion,
//! aversion, ephemeralOwner, big-endian); nodes under `/zookeeper/` count 0. The tree
//! digest is their wrapping sum.

use super::checksum::Crc32;
use super::replay::{ZkNode, ZkTree};

/// `DigestCalculator.DIGEST_VERSION` in 3.6–3.9.
pub const DIGEST_VERSION: i32 = 2;
/// Nodes under here are left out of the digest (`ZooDefs.ZOOKEEPER_NODE_SUBTREE`).
const DIGEST_EXCLUDED_PREFIX: &str = "/zookeeper/";

/// `DigestCalculator.calculateDigest`: CRC-32 of the path, the data and the persisted stat.
pub fn node_digest(path: &str, node: &ZkNode) -> i64 {
    if path.starts_with(DIGEST_EXCLUDED_PREFIX) {
        return 0;
    }
    let m = &node.meta;
    let mut stat = Vec::with_capacity(60);
    for v in [m.czxid, m.mzxid, m.pzxid, m.ctime, m.mtime] {
        stat.extend_from_slice(&v.to_be_bytes());
    }
    for v in [m.version, m.cversion, m.aversion] {
        stat.extend_from_slice(&v.to_be_bytes());
    }
    stat.extend_from_slice(&m.ephemeral_owner.to_be_bytes());
    assert_eq!(stat.len(), 60, "DigestCalculator hashes 60 stat bytes");
    let mut crc = Crc32::new();
    crc.update(path.as_bytes());
    if let Some(data) = &node.data {
        crc.update(data);
    }
    crc.update(&stat);
    i64::from(crc.value())
}

impl ZkTree {
    /// The digest computed from scratch.
    pub fn recompute_digest(&self) -> i64 {
        self.nodes
            .iter()
            .fold(0i64, |acc, (p, n)| acc.wrapping_add(node_digest(p, n)))
    }

    /// The snapshot's digest once replay has reached its zxid (`compareSnapshotDigests`).
    pub(super) fn compare_snapshot_digest(&mut self, zxid: i64) {
        let Some((digest_zxid, version, digest)) = self.pending_snapshot_digest else {
            return;
        };
        if zxid != digest_zxid {
            return;
        }
        self.pending_snapshot_digest = None;
        if version == DIGEST_VERSION {
            self.record_digest_check(zxid, digest);
        }
    }

    /// `DataTree.compareDigest` for a txn's `TxnDigest`.
    pub(super) fn compare_txn_digest(&mut self, zxid: i64, digest: Option<(i32, i64)>) {
        let Some((version, digest)) = digest else {
            return;
        };
        if self.pending_snapshot_digest.is_some() || version != DIGEST_VERSION {
            return;
        }
        self.record_digest_check(zxid, digest);
    }

    fn record_digest_check(&mut self, zxid: i64, expected: i64) {
        self.stats.digests_checked += 1;
        if expected != self.digest {
            self.stats.digest_mismatches += 1;
            let first = (zxid, expected, self.digest);
            self.stats.first_digest_mismatch.get_or_insert(first);
        }
    }

    /// The zxid of a snapshot digest replay never reached, if any.
    pub fn unreached_snapshot_digest(&self) -> Option<i64> {
        self.pending_snapshot_digest.map(|(zxid, _, _)| zxid)
    }
}

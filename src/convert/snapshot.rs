//! Reader for ZooKeeper's `snapshot.<zxid>` files (`FileSnap`, `SnapStream` in CHECKED mode,
//! `SerializeUtils.deserializeSnapshot`, `DataTree.deserialize`, `ReferenceCountedACLCache`).
//!
//! Layout (jute, big-endian), the same from 3.4 to 3.9 except for the digest part (3.6+):
//! ```text
//! FileHeader   int magic "ZKSN"; int version (2); long dbid
//! sessions     int count; { long id; int timeout_ms } * count
//! ACL cache    int count; { long id; vector<ACL> acls } * count
//! nodes        { ustring path; buffer data; long acl_ref; StatPersisted stat } *,
//!              parents before children, the root as path "", ended by the path "/"
//! seal         long adler32(every byte before the seal); ustring "/"
//! [3.6+]       ZxidDigest { long zxid; int digestVersion; long digest (a hex ustring when
//!              digestVersion < 2) }; seal (adler32 of every byte before it, first seal
//!              included)
//! ```
//! `acl_ref` -1 means OPEN_ACL_UNSAFE; any other value must be in the ACL cache.
//! Snapshots written with `zookeeper.snapshot.compression.method=gzip|snappy` (file names
//! ending `.gz`/`.snappy`) are not read here; the caller reports them.
//!
//! Every failure names the byte offset; nothing is allocated from an unchecked length.

use std::collections::{BTreeMap, BTreeSet};

use tree::znode::Meta;
use wire::{Acl, DecodeError, Reader};

use super::checksum::adler32;
use super::replay::{ZkNode, ZkTree};

/// "ZKSN" (`FileSnap.SNAP_MAGIC`).
pub const SNAP_MAGIC: i32 = 0x5a4b_534e;
/// A session entry: long + int.
const SESSION_BYTES: usize = 12;
/// An ACL cache entry is at least a long and a vector count.
const ACL_ENTRY_MIN_BYTES: usize = 12;
/// `StatPersisted`: six longs and three ints.
const STAT_PERSISTED_BYTES: usize = 6 * 8 + 3 * 4;
const _: () = assert!(STAT_PERSISTED_BYTES == 60);

/// What a snapshot file holds besides the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub dbid: i64,
    pub session_count: usize,
    pub node_count: usize,
    /// `ZxidDigest` (zxid, digestVersion, digest) when the file has one (3.6+).
    pub zxid_digest: Option<(i64, i32, i64)>,
}

/// Decodes a whole CHECKED snapshot into ZooKeeper's tree, with `snapshot_zxid` (from the file
/// name) as its last processed zxid. Offsets in errors are from the start of the file.
pub fn read_snapshot(
    bytes: &[u8],
    snapshot_zxid: i64,
) -> Result<(ZkTree, SnapshotInfo), DecodeError> {
    let mut r = Reader::new(bytes);
    let magic = r.read_i32()?;
    if magic != SNAP_MAGIC {
        return Err(DecodeError {
            offset: 0,
            what: format!("bad magic {magic:#010x}, expected {SNAP_MAGIC:#010x} (\"ZKSN\")"),
        });
    }
    let version_at = r.offset();
    let version = r.read_i32()?;
    if version != 2 {
        return Err(DecodeError {
            offset: version_at,
            what: format!("snapshot format version {version}, expected 2"),
        });
    }
    let dbid = r.read_i64()?;
    let mut tree = ZkTree::new();
    let count_at = r.offset();
    let count = r.read_i32()?;
    if count < 0 || count as usize > r.remaining() / SESSION_BYTES {
        return Err(DecodeError {
            offset: count_at,
            what: format!("session count {count} impossible here"),
        });
    }
    for _ in 0..count {
        let id = r.read_i64()?;
        let timeout_ms = r.read_i32()?;
        tree.sessions.insert(id, timeout_ms);
    }
    let acl_cache = read_acl_cache(&mut r)?;
    let node_count = read_nodes(&mut r, &acl_cache, &mut tree)?;
    check_seal(&mut r, bytes)?;
    let zxid_digest = if r.is_empty() {
        None
    } else {
        let digest = read_zxid_digest(&mut r)?;
        check_seal(&mut r, bytes)?;
        Some(digest)
    };
    r.finish("snapshot")?;
    tree.finish_load(snapshot_zxid, zxid_digest)
        .map_err(|what| DecodeError {
            offset: r.offset(),
            what,
        })?;
    let info = SnapshotInfo {
        dbid,
        session_count: tree.sessions.len(),
        node_count,
        zxid_digest,
    };
    Ok((tree, info))
}

fn read_acl_cache(r: &mut Reader<'_>) -> Result<BTreeMap<i64, Vec<Acl>>, DecodeError> {
    let count_at = r.offset();
    let count = r.read_i32()?;
    if count < 0 || count as usize > r.remaining() / ACL_ENTRY_MIN_BYTES {
        return Err(DecodeError {
            offset: count_at,
            what: format!("ACL cache size {count} impossible here"),
        });
    }
    let mut cache = BTreeMap::new();
    for _ in 0..count {
        let at = r.offset();
        let id = r.read_i64()?;
        let list_at = r.offset();
        let len = r.read_i32()?;
        // `ReferenceCountedACLCache.deserialize` refuses a null list.
        if len < 0 || len as usize > r.remaining() / Acl::MIN_WIRE_BYTES {
            return Err(DecodeError {
                offset: list_at,
                what: format!("ACL cache entry {id}: list length {len} impossible here"),
            });
        }
        let mut acl = Vec::with_capacity(len as usize);
        for _ in 0..len {
            acl.push(Acl::read(r)?);
        }
        if cache.insert(id, acl).is_some() {
            return Err(DecodeError {
                offset: at,
                what: format!("ACL cache entry {id} appears twice"),
            });
        }
    }
    Ok(cache)
}

fn read_nodes(
    r: &mut Reader<'_>,
    acl_cache: &BTreeMap<i64, Vec<Acl>>,
    tree: &mut ZkTree,
) -> Result<usize, DecodeError> {
    let mut count = 0usize;
    loop {
        let at = r.offset();
        let path = r.read_string()?;
        if path == "/" {
            break;
        }
        if count == 0 && !path.is_empty() {
            return Err(DecodeError {
                offset: at,
                what: format!("first node is {path:?}, expected the root \"\""),
            });
        }
        let data = r.read_optional_buffer()?;
        let acl_at = r.offset();
        let acl_ref = r.read_i64()?;
        let acl = match acl_ref {
            -1 => Acl::open_unsafe(),
            id => acl_cache.get(&id).cloned().ok_or_else(|| DecodeError {
                offset: acl_at,
                what: format!("node {path:?}: ACL {id} is not in the snapshot's ACL cache"),
            })?,
        };
        let meta = read_stat_persisted(r)?;
        let node = ZkNode {
            data,
            acl,
            meta,
            children: BTreeSet::new(),
        };
        tree.load_node(path, node)
            .map_err(|what| DecodeError { offset: at, what })?;
        count += 1;
    }
    Ok(count)
}

fn read_stat_persisted(r: &mut Reader<'_>) -> Result<Meta, DecodeError> {
    if r.remaining() < STAT_PERSISTED_BYTES {
        return Err(r.error(format!(
            "StatPersisted: need {STAT_PERSISTED_BYTES} bytes, {} remain",
            r.remaining()
        )));
    }
    Ok(Meta {
        czxid: r.read_i64()?,
        mzxid: r.read_i64()?,
        ctime: r.read_i64()?,
        mtime: r.read_i64()?,
        version: r.read_i32()?,
        cversion: r.read_i32()?,
        aversion: r.read_i32()?,
        ephemeral_owner: r.read_i64()?,
        pzxid: r.read_i64()?,
    })
}

/// `SnapStream.checkSealIntegrity`: the long must equal the Adler32 of every byte before it.
fn check_seal(r: &mut Reader<'_>, bytes: &[u8]) -> Result<(), DecodeError> {
    let at = r.offset();
    let computed = adler32(&bytes[..at]);
    let recorded = r.read_i64()?;
    let slash_at = r.offset();
    let slash = r.read_string()?;
    if slash != "/" {
        return Err(DecodeError {
            offset: slash_at,
            what: format!("seal ends with {slash:?}, expected \"/\""),
        });
    }
    if recorded != i64::from(computed) {
        return Err(DecodeError {
            offset: at,
            what: format!(
                "checksum mismatch: the seal says {recorded:#x}, the bytes before it give \
                 {computed:#x} (Adler32)"
            ),
        });
    }
    Ok(())
}

fn read_zxid_digest(r: &mut Reader<'_>) -> Result<(i64, i32, i64), DecodeError> {
    let zxid = r.read_i64()?;
    let version = r.read_i32()?;
    let digest = if version < 2 {
        let at = r.offset();
        let text = r.read_string()?;
        i64::from_str_radix(&text, 16).map_err(|_| DecodeError {
            offset: at,
            what: format!("digest {text:?} is not hex"),
        })?
    } else {
        r.read_i64()?
    };
    Ok((zxid, version, digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::{Id, Writer};

    const SESSION: i64 = 0x1000_0000_0000_0007;

    fn node(w: &mut Writer, path: &str, data: Option<&[u8]>, acl_ref: i64, owner: i64) {
        w.write_string(path);
        w.write_optional_buffer(data);
        w.write_i64(acl_ref);
        for v in [5, 6, 1_700_000_000_000, 1_700_000_000_001] {
            w.write_i64(v);
        }
        for v in [1, 2, 0] {
            w.write_i32(v);
        }
        w.write_i64(owner);
        w.write_i64(7);
    }

    fn seal(w: &mut Writer) {
        let sum = adler32(&w.bytes);
        w.write_i64(i64::from(sum));
        w.write_string("/");
    }

    /// A small 3.8-shaped snapshot: one session, one cached ACL, an ephemeral, a null data.
    fn sample() -> Vec<u8> {
        let mut w = Writer::new();
        w.write_i32(SNAP_MAGIC);
        w.write_i32(2);
        w.write_i64(-1);
        w.write_i32(1);
        w.write_i64(SESSION);
        w.write_i32(40_000);
        w.write_i32(1);
        w.write_i64(1);
        let acl = vec![Acl {
            perms: 31,
            id: Id::new("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="),
        }];
        Acl::write_list(&acl, &mut w);
        node(&mut w, "", Some(b""), -1, 0);
        node(&mut w, "/a", None, 1, 0);
        node(&mut w, "/a/e", Some(b"eph"), -1, SESSION);
        node(&mut w, "/zookeeper", Some(b""), -1, 0);
        w.write_string("/");
        seal(&mut w);
        w.write_i64(0x42);
        w.write_i32(2);
        w.write_i64(0x1234);
        seal(&mut w);
        w.bytes
    }

    #[test]
    fn reads_sessions_acl_references_ephemerals_and_the_digest() {
        let (tree, info) = read_snapshot(&sample(), 0x41).expect("valid snapshot");
        assert_eq!(info.node_count, 4);
        assert_eq!(info.zxid_digest, Some((0x42, 2, 0x1234)));
        assert_eq!(tree.sessions.get(&SESSION), Some(&40_000));
        assert_eq!(tree.nodes["/a"].acl[0].id.scheme, "digest");
        assert_eq!(tree.nodes["/a"].data, None, "null data stays null");
        assert_eq!(tree.nodes[""].children.len(), 2);
        assert!(tree.ephemerals[&SESSION].contains("/a/e"));
        assert_eq!(tree.last_processed_zxid, 0x41);
    }

    #[test]
    fn a_snapshot_without_the_digest_part_reads_as_3_4_and_3_5_wrote_it() {
        let bytes = sample();
        let first_seal_end = bytes.len() - (8 + 4 + 8) - (8 + 5);
        let (_, info) = read_snapshot(&bytes[..first_seal_end], 0x41).expect("3.5 snapshot");
        assert_eq!(info.zxid_digest, None);
    }

    #[test]
    fn every_cut_is_an_error_and_no_flip_panics() {
        let bytes = sample();
        let first_seal_end = bytes.len() - (8 + 4 + 8) - (8 + 5);
        for cut in 0..bytes.len() {
            if cut != first_seal_end {
                assert!(read_snapshot(&bytes[..cut], 1).is_err(), "cut {cut}");
            }
        }
        let mut rejected = 0;
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut flipped = bytes.clone();
                flipped[i] ^= bit;
                rejected += usize::from(read_snapshot(&flipped, 1).is_err());
            }
        }
        assert_eq!(rejected, bytes.len() * 2, "the seals catch every flip");
    }
}

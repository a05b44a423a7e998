//! ZooKeeper's transaction records (`zookeeper.jute`, module `org.apache.zookeeper.txn`) as
//! they appear in a `log.*` file: a `TxnHeader`, the record its `type` selects, and, from
//! 3.6 on, an optional `TxnDigest`. Decoding matches `SerializeUtils.deserializeTxn`:
//!
//! - `create` may be a pre-3.3 `CreateTxnV0` (no `parentCVersion`; we then use -1, which
//!   `DataTree.createNode` turns into "parent's cversion + 1");
//! - `closeSession` carries `CloseSessionTxn { vector<ustring> paths2Delete }` from 3.6 on and
//!   nothing before;
//! - a `multi` carries `vector<Txn { int type; buffer data }>`, each `data` one of the records
//!   above, decoded here too so a malformed one is reported with its offset.
//!
//! Decoding is total: every length is checked against the bytes that remain before anything
//! is allocated (via `wire::Reader`), and what follows the record must be nothing or exactly
//! one `TxnDigest`; anything else is an error rather than a guess.

use wire::{Acl, DecodeError, Reader};

/// `ZooDefs.OpCode` values that appear in txn logs.
pub mod op {
    pub const ERROR: i32 = -1;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 7;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
}

/// `class TxnHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnHeader {
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time_ms: i64,
    /// The `OpCode` that selects the record.
    pub op: i32,
}

const TXN_HEADER_BYTES: usize = 8 + 4 + 8 + 8 + 4;
/// `class TxnDigest { int version; long treeDigest; }`.
const TXN_DIGEST_BYTES: usize = 4 + 8;
/// `class Txn { int type; buffer data; }` is at least two ints.
const MULTI_ELEMENT_MIN_BYTES: usize = 8;
const _: () = assert!(TXN_HEADER_BYTES == 32);

/// One decoded record; the `op` it came with is kept beside it (`create` and `create2` share
/// `Create`, `delete`/`deleteContainer` share `Delete`, `setData`/`reconfig` share `SetData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkTxn {
    /// `CreateTxn` (or `CreateTxnV0`, with `parent_cversion` -1).
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        ephemeral: bool,
        parent_cversion: i32,
    },
    CreateContainer {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        parent_cversion: i32,
    },
    CreateTtl {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        parent_cversion: i32,
        ttl_ms: i64,
    },
    Delete {
        path: String,
    },
    /// `SetDataTxn`; `version` is the node's new dataVersion.
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    /// `SetACLTxn`; `version` is the node's new aversion.
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    Error {
        err: i32,
    },
    CreateSession {
        timeout_ms: i32,
    },
    /// `paths2Delete`, or None for a pre-3.6 record without a body.
    CloseSession {
        paths: Option<Vec<String>>,
    },
    /// The sub-records with their own op codes.
    Multi(Vec<(i32, ZkTxn)>),
}

/// A decoded log record: header, record and the optional digest ZooKeeper 3.6+ appends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnEntry {
    pub header: TxnHeader,
    pub txn: ZkTxn,
    pub digest: Option<(i32, i64)>,
}

/// Decodes one record's payload (what the log's Adler32 covers). Offsets in errors are
/// relative to the payload's first byte.
pub fn decode_entry(payload: &[u8]) -> Result<TxnEntry, DecodeError> {
    let mut r = Reader::new(payload);
    let header = TxnHeader {
        client_id: r.read_i64()?,
        cxid: r.read_i32()?,
        zxid: r.read_i64()?,
        time_ms: r.read_i64()?,
        op: r.read_i32()?,
    };
    let txn = match header.op {
        op::CREATE | op::CREATE2 => read_create_top_level(&mut r)?,
        op::CREATE_SESSION => ZkTxn::CreateSession {
            timeout_ms: r.read_i32()?,
        },
        op::CLOSE_SESSION => read_close_session(&mut r, payload)?,
        other => read_record(&mut r, other, true)?,
    };
    let digest = read_optional_digest(&mut r)?;
    assert!(r.is_empty(), "the record was read to its end");
    Ok(TxnEntry {
        header,
        txn,
        digest,
    })
}

/// Nothing, or exactly one `TxnDigest`.
fn read_optional_digest(r: &mut Reader<'_>) -> Result<Option<(i32, i64)>, DecodeError> {
    match r.remaining() {
        0 => Ok(None),
        TXN_DIGEST_BYTES => Ok(Some((r.read_i32()?, r.read_i64()?))),
        n => Err(r.error(format!(
            "{n} bytes after the record: expected none or a {TXN_DIGEST_BYTES}-byte TxnDigest"
        ))),
    }
}

/// A top-level create: `CreateTxn`, or `CreateTxnV0` when the bytes after the `ephemeral`
/// flag are none or only a digest (V0 predates digests, so 12 bytes mean V1 without one is
/// impossible: V1 adds 4).
fn read_create_top_level(r: &mut Reader<'_>) -> Result<ZkTxn, DecodeError> {
    let path = r.read_string()?;
    let data = r.read_optional_buffer()?;
    let acl = read_acl_list(r)?;
    let ephemeral = r.read_bool()?;
    let parent_cversion = match r.remaining() {
        0 => -1,
        _ => r.read_i32()?,
    };
    Ok(ZkTxn::Create {
        path,
        data,
        acl,
        ephemeral,
        parent_cversion,
    })
}

/// `CloseSessionTxn`, or none (before 3.6, or with `zookeeper.closeSessionTxn.enabled=false`).
fn read_close_session(r: &mut Reader<'_>, payload: &[u8]) -> Result<ZkTxn, DecodeError> {
    let start = r.offset();
    let remaining = r.remaining();
    // A trial read on a copy decides between the two shapes without consuming anything.
    let mut trial = Reader::new(&payload[start..]);
    let parsed = trial.read_vec(4, |r| r.read_string());
    match parsed {
        Ok(_) if matches!(trial.remaining(), 0 | TXN_DIGEST_BYTES) => {
            let paths = r.read_vec(4, |r| r.read_string())?;
            Ok(ZkTxn::CloseSession { paths: Some(paths) })
        }
        _ if matches!(remaining, 0 | TXN_DIGEST_BYTES) => Ok(ZkTxn::CloseSession { paths: None }),
        Err(e) => Err(DecodeError {
            offset: start + e.offset,
            what: format!("CloseSessionTxn: {}", e.what),
        }),
        Ok(_) => Err(r.error("CloseSessionTxn followed by unexpected bytes")),
    }
}

/// The records shared by top-level txns and multi sub-txns.
fn read_record(r: &mut Reader<'_>, op: i32, top_level: bool) -> Result<ZkTxn, DecodeError> {
    let txn = match op {
        op::CREATE | op::CREATE2 => ZkTxn::Create {
            path: r.read_string()?,
            data: r.read_optional_buffer()?,
            acl: read_acl_list(r)?,
            ephemeral: r.read_bool()?,
            parent_cversion: r.read_i32()?,
        },
        op::CREATE_CONTAINER => ZkTxn::CreateContainer {
            path: r.read_string()?,
            data: r.read_optional_buffer()?,
            acl: read_acl_list(r)?,
            parent_cversion: r.read_i32()?,
        },
        op::CREATE_TTL => {
            let path = r.read_string()?;
            let data = r.read_optional_buffer()?;
            let acl = read_acl_list(r)?;
            let parent_cversion = r.read_i32()?;
            let at = r.offset();
            let ttl_ms = r.read_i64()?;
            if tree::znode::ttl_owner(ttl_ms).is_none() {
                return Err(DecodeError {
                    offset: at,
                    what: format!("CreateTTLTxn: ttl {ttl_ms} ms out of range"),
                });
            }
            ZkTxn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl_ms,
            }
        }
        op::DELETE | op::DELETE_CONTAINER => ZkTxn::Delete {
            path: r.read_string()?,
        },
        op::SET_DATA => ZkTxn::SetData {
            path: r.read_string()?,
            data: r.read_optional_buffer()?,
            version: r.read_i32()?,
        },
        op::RECONFIG if top_level => ZkTxn::SetData {
            path: r.read_string()?,
            data: r.read_optional_buffer()?,
            version: r.read_i32()?,
        },
        op::SET_ACL if top_level => ZkTxn::SetAcl {
            path: r.read_string()?,
            acl: read_acl_list(r)?,
            version: r.read_i32()?,
        },
        op::CHECK => ZkTxn::Check {
            path: r.read_string()?,
            version: r.read_i32()?,
        },
        op::ERROR => ZkTxn::Error { err: r.read_i32()? },
        op::MULTI if top_level => read_multi(r)?,
        other => {
            let place = if top_level { "txn" } else { "multi sub-txn" };
            return Err(r.error(format!("unsupported {place} type {other}")));
        }
    };
    Ok(txn)
}

/// `MultiTxn`: each sub-record is decoded from its own buffer and must fill it exactly.
fn read_multi(r: &mut Reader<'_>) -> Result<ZkTxn, DecodeError> {
    let subs = r.read_vec(MULTI_ELEMENT_MIN_BYTES, |r| {
        let op = r.read_i32()?;
        let data_at = r.offset() + 4;
        let data = r.read_buffer()?;
        let mut sub = Reader::new(&data);
        let decoded = read_record(&mut sub, op, false).and_then(|txn| {
            sub.finish("multi sub-txn")?;
            Ok(txn)
        });
        decoded.map(|txn| (op, txn)).map_err(|e| DecodeError {
            offset: data_at + e.offset,
            what: e.what,
        })
    })?;
    Ok(ZkTxn::Multi(subs))
}

/// `vector<ACL>`; jute's null (-1) is what `ReferenceCountedACLCache.convertAcls(null)` turns
/// into OPEN_ACL_UNSAFE.
pub fn read_acl_list(r: &mut Reader<'_>) -> Result<Vec<Acl>, DecodeError> {
    let at = r.offset();
    let count = r.read_i32()?;
    if count == -1 {
        return Ok(Acl::open_unsafe());
    }
    if count < 0 || count as usize > r.remaining() / Acl::MIN_WIRE_BYTES {
        return Err(DecodeError {
            offset: at,
            what: format!(
                "ACL list: count {count} impossible in {} bytes",
                r.remaining()
            ),
        });
    }
    let mut acl = Vec::with_capacity(count as usize);
    for _ in 0..count {
        acl.push(Acl::read(r)?);
    }
    Ok(acl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::Writer;

    fn header(w: &mut Writer, op: i32) {
        w.write_i64(0x42);
        w.write_i32(7);
        w.write_i64(0x100);
        w.write_i64(1_700_000_000_000);
        w.write_i32(op);
    }

    fn create_body(w: &mut Writer, path: &str) {
        w.write_string(path);
        w.write_buffer(b"v");
        Acl::write_list(&Acl::open_unsafe(), w);
        w.write_bool(true);
    }

    #[test]
    fn create_v0_v1_and_digest_are_told_apart() {
        let mut v0 = Writer::new();
        header(&mut v0, op::CREATE);
        create_body(&mut v0, "/a");
        let entry = decode_entry(&v0.bytes).expect("v0");
        assert!(matches!(
            entry.txn,
            ZkTxn::Create {
                parent_cversion: -1,
                ephemeral: true,
                ..
            }
        ));

        let mut v1 = v0.bytes.clone();
        v1.extend_from_slice(&5i32.to_be_bytes());
        v1.extend_from_slice(&2i32.to_be_bytes());
        v1.extend_from_slice(&99i64.to_be_bytes());
        let entry = decode_entry(&v1).expect("v1 with digest");
        assert!(matches!(
            entry.txn,
            ZkTxn::Create {
                parent_cversion: 5,
                ..
            }
        ));
        assert_eq!(entry.digest, Some((2, 99)));
        assert_eq!(entry.header.zxid, 0x100);
    }

    #[test]
    fn close_session_with_and_without_paths() {
        let mut w = Writer::new();
        header(&mut w, op::CLOSE_SESSION);
        let old = decode_entry(&w.bytes).expect("pre-3.6");
        assert_eq!(old.txn, ZkTxn::CloseSession { paths: None });
        w.write_string_vec(&["/e1".to_string(), "/e2".to_string()]);
        let new = decode_entry(&w.bytes).expect("3.6+");
        let paths = Some(vec!["/e1".to_string(), "/e2".to_string()]);
        assert_eq!(new.txn, ZkTxn::CloseSession { paths });
    }

    #[test]
    fn multi_sub_errors_carry_their_offset() {
        let mut sub = Writer::new();
        sub.write_string("/x");
        let mut w = Writer::new();
        header(&mut w, op::MULTI);
        w.write_i32(1);
        w.write_i32(op::SET_DATA);
        w.write_buffer(&sub.bytes);
        let err = decode_entry(&w.bytes).expect_err("truncated SetDataTxn");
        assert_eq!(err.offset, 32 + 4 + 4 + 4 + sub.bytes.len(), "{err}");
    }

    #[test]
    fn every_truncation_and_trailing_garbage_is_an_error_not_a_panic() {
        let mut w = Writer::new();
        header(&mut w, op::SET_ACL);
        w.write_string("/acl");
        Acl::write_list(&Acl::read_unsafe(), &mut w);
        w.write_i32(3);
        decode_entry(&w.bytes).expect("whole record");
        for cut in 0..w.bytes.len() {
            assert!(decode_entry(&w.bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut long = w.bytes.clone();
        long.push(0);
        assert!(decode_entry(&long).is_err());
        let mut huge = w.bytes.clone();
        huge[36..40].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(decode_entry(&huge).is_err());
    }
}

//! Transactions: what goes into the log and is applied, in log order, on every replica.
//!
//! A `Txn` is a client write (or a session event) stamped by the server that accepted it
//! with everything apply needs to be deterministic: the zxid, the leader's clock, the
//! session and the identities that session had authenticated as. Validation (version
//! checks, ACLs, existence) happens at apply time against the tree as the log has built it,
//! so every replica reaches the same answer — ClickHouse Keeper's model rather than
//! ZooKeeper's PrepRequestProcessor, which needs a second, speculative copy of the tree.
//! Source for what each op does: `org.apache.zookeeper.server.DataTree.processTxn` and
//! `PrepRequestProcessor.pRequest2Txn`.
//!
//! Encoding (jute primitives, big-endian), version 3:
//! `int version=3; long zxid; long time_ms; long session_id; vector<Id> auth; int kind;`
//! then for kind 0 (Request) `int opcode; buffer body` (the body as `Request::encode`
//! writes it), for kind 1 (CreateSession) `int timeout_ms; buffer password` (16 bytes),
//! for kind 2 (CloseSession) nothing, for kind 3 (SetConfig) `ustring members`, for kind 4
//! (Reconfig) the `ReconfigRequest`, then `int count` (-1: none) and `count` longs (the
//! synced servers; version 3 added them). Decoding is total and rejects unknown versions, kinds, opcodes and trailing bytes.

use wire::{DecodeError, ErrorCode, Id, OpCode, Reader, Request, Response, Writer};

/// The encoding version written by `Txn::encode`.
pub const TXN_FORMAT_VERSION: i32 = 3;
const KIND_REQUEST: i32 = 0;
const KIND_CREATE_SESSION: i32 = 1;
const KIND_CLOSE_SESSION: i32 = 2;
const KIND_SET_CONFIG: i32 = 3;
const KIND_RECONFIG: i32 = 4;
/// Servers a reconfig txn may name as synced (server ids fit a byte).
const SYNCED_MAX: usize = 255;
const SYNCED_MAX_I32: i32 = SYNCED_MAX as i32;
/// An encoded `Id` is at least two empty strings.
const ID_MIN_BYTES: usize = 8;

/// One log entry's worth of state change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    /// The zxid this txn is applied with; every txn, failed ones included, gets a new one.
    pub zxid: i64,
    /// Milliseconds since the epoch on the accepting server's clock (ctime/mtime, TTLs).
    pub time_ms: i64,
    /// The session that made the request (0 for server-made txns such as container sweeps).
    pub session_id: i64,
    /// The identities of that session when the request was made, ip scheme included; ACL
    /// checks and `auth`-scheme ACL expansion use these.
    pub auth: Vec<Id>,
    pub op: TxnOp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    /// A client write: Create, Create2, CreateContainer, CreateTtl, Delete,
    /// DeleteContainer, SetData, SetAcl, Check, Multi (or Reconfig later).
    Request(Request),
    /// A new session with its negotiated timeout; `session_id` is the Txn's.
    CreateSession {
        timeout_ms: i32,
        password: [u8; crate::session::PASSWORD_BYTES],
    },
    /// An explicit close or an expiry decided by the leader: deletes the session's
    /// ephemerals. `session_id` is the Txn's.
    CloseSession,
    /// The cluster's member list into `/zookeeper/config`: `members` is one
    /// `server.N=…\n` line per member; applying appends `version=<zxid in hex>`.
    SetConfig { members: String },
    /// A reconfig from a server with `reconfigEnabled`: each replica's server turns it, at
    /// apply time and from replicated state only, into a `SetConfig` or an error
    /// (`ApplyOutcome` of a failed txn); the tree alone refuses it. `synced`: the servers
    /// connected to the leader and following its log when it proposed the txn, itself
    /// included (ZooKeeper's leader refuses a new config without a synced quorum);
    /// `None` if it did not say.
    Reconfig {
        request: wire::ReconfigRequest,
        synced: Option<Vec<u64>>,
    },
}

/// What a watch sees change (`Watcher.Event.EventType`, minus the removal events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    NodeCreated,
    NodeDeleted,
    NodeDataChanged,
    NodeChildrenChanged,
}

impl ChangeKind {
    /// The `WatcherEvent.type` value.
    pub fn event_type(self) -> i32 {
        match self {
            ChangeKind::NodeCreated => 1,
            ChangeKind::NodeDeleted => 2,
            ChangeKind::NodeDataChanged => 3,
            ChangeKind::NodeChildrenChanged => 4,
        }
    }
}

/// One change to the tree, in the order ZooKeeper fires the matching watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    /// The ACL that decides who may be told of this change: the node's for created,
    /// changed and deleted nodes, the parent's for children-changed. A watcher without READ
    /// on it loses the event (its one-shot watch is still used up), as ZooKeeper has done
    /// since the CVE-2024-23944 fix (ZOOKEEPER-4799, in Debian's 3.8.0-11+deb12u2).
    pub acl: crate::SharedAcl,
}

/// The result of applying one txn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The reply record, or the error code the reply header carries.
    pub result: Result<Response, ErrorCode>,
    /// Every change made, in firing order (empty when the txn failed).
    pub changes: Vec<Change>,
}

impl Txn {
    /// Appends the versioned binary form (see the module doc).
    pub fn encode(&self, w: &mut Writer) {
        let start = w.bytes.len();
        w.write_i32(TXN_FORMAT_VERSION);
        w.write_i64(self.zxid);
        w.write_i64(self.time_ms);
        w.write_i64(self.session_id);
        w.write_vec(&self.auth, |w, id| id.write(w));
        match &self.op {
            TxnOp::Request(request) => {
                w.write_i32(KIND_REQUEST);
                w.write_i32(request.op_code().code());
                // A jute buffer (length, then bytes) encoded in place: the length is patched
                // once the body is written, saving a temporary vector and its copy.
                let at = w.bytes.len();
                w.write_i32(0);
                request.encode(w);
                let body_len = w.bytes.len() - at - 4;
                let body_len = i32::try_from(body_len).expect("a request body is below 2 GiB");
                w.bytes[at..at + 4].copy_from_slice(&body_len.to_be_bytes());
            }
            TxnOp::CreateSession {
                timeout_ms,
                password,
            } => {
                w.write_i32(KIND_CREATE_SESSION);
                w.write_i32(*timeout_ms);
                w.write_buffer(password);
            }
            TxnOp::CloseSession => w.write_i32(KIND_CLOSE_SESSION),
            TxnOp::SetConfig { members } => {
                w.write_i32(KIND_SET_CONFIG);
                w.write_string(members);
            }
            TxnOp::Reconfig { request, synced } => {
                w.write_i32(KIND_RECONFIG);
                request.write(w);
                match synced {
                    None => w.write_i32(-1),
                    Some(ids) => {
                        assert!(ids.len() <= SYNCED_MAX, "{} synced servers", ids.len());
                        w.write_i32(ids.len() as i32);
                        ids.iter().for_each(|&id| w.write_i64(id as i64));
                    }
                }
            }
        }
        assert!(
            w.bytes.len() - start >= 36,
            "a txn encodes to at least its fixed fields"
        );
    }

    /// Decodes `Txn::encode`'s output; any other input is an `Err`, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Txn, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.read_i32()?;
        if version != TXN_FORMAT_VERSION {
            return Err(r.error(format!(
                "txn format version {version}, expected {TXN_FORMAT_VERSION}"
            )));
        }
        let zxid = r.read_i64()?;
        let time_ms = r.read_i64()?;
        let session_id = r.read_i64()?;
        let auth = r.read_vec(ID_MIN_BYTES, Id::read)?;
        let op = match r.read_i32()? {
            KIND_REQUEST => {
                let code = r.read_i32()?;
                let op = OpCode::from_code(code)
                    .ok_or_else(|| r.error(format!("unknown opcode {code}")))?;
                let body = r.read_buffer()?;
                let mut body_reader = Reader::new(&body);
                let request = Request::read(op, &mut body_reader)?;
                body_reader.finish("txn request body")?;
                TxnOp::Request(request)
            }
            KIND_CREATE_SESSION => {
                let timeout_ms = r.read_i32()?;
                let bytes = r.read_buffer()?;
                let password = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| r.error(format!("session password of {} bytes", bytes.len())))?;
                TxnOp::CreateSession {
                    timeout_ms,
                    password,
                }
            }
            KIND_CLOSE_SESSION => TxnOp::CloseSession,
            KIND_SET_CONFIG => TxnOp::SetConfig {
                members: r.read_string()?,
            },
            KIND_RECONFIG => {
                let request = wire::ReconfigRequest::read(&mut r)?;
                let count = r.read_i32()?;
                let synced = match count {
                    -1 => None,
                    0..=SYNCED_MAX_I32 => {
                        let ids = (0..count).map(|_| r.read_i64().map(|id| id as u64));
                        Some(ids.collect::<Result<Vec<u64>, _>>()?)
                    }
                    _ => return Err(r.error(format!("{count} synced servers"))),
                };
                TxnOp::Reconfig { request, synced }
            }
            kind => return Err(r.error(format!("unknown txn kind {kind}"))),
        };
        r.finish("Txn")?;
        Ok(Txn {
            zxid,
            time_ms,
            session_id,
            auth,
            op,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::{Acl, CreateRequest, DeleteRequest, SetDataRequest};

    fn sample_txns() -> Vec<Txn> {
        let auth = vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:h")];
        let create = CreateRequest {
            path: "/a".to_string(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            flags: 3,
            ttl: -1,
        };
        let ttl = CreateRequest {
            ttl: 500,
            flags: 5,
            ..create.clone()
        };
        let ops = vec![
            Request::Create(create.clone()),
            Request::Delete(DeleteRequest {
                path: "/a".to_string(),
                version: -1,
            }),
        ];
        let set = SetDataRequest {
            path: "/b".to_string(),
            data: Some(vec![0, 255]),
            version: 3,
        };
        [
            TxnOp::Request(Request::Create2(create)),
            TxnOp::Request(Request::CreateTtl(ttl)),
            TxnOp::Request(Request::SetData(set)),
            TxnOp::Request(Request::Multi(ops)),
            TxnOp::CreateSession {
                timeout_ms: 30_000,
                password: [7; crate::session::PASSWORD_BYTES],
            },
            TxnOp::CloseSession,
            TxnOp::SetConfig {
                members: "server.1=127.0.0.1:2888:3888:participant\n".to_string(),
            },
            TxnOp::Reconfig {
                request: wire::ReconfigRequest {
                    joining_servers: Some("server.4=h:1:2;3".to_string()),
                    leaving_servers: None,
                    new_members: None,
                    cur_config_id: 0x1_0000_0000,
                },
                synced: Some(vec![1, 3]),
            },
            TxnOp::Reconfig {
                request: wire::ReconfigRequest {
                    joining_servers: None,
                    leaving_servers: Some("2".to_string()),
                    new_members: None,
                    cur_config_id: -1,
                },
                synced: None,
            },
        ]
        .into_iter()
        .enumerate()
        .map(|(i, op)| Txn {
            zxid: 0x1_0000_0000 + i as i64,
            time_ms: 1_700_000_000_000,
            session_id: 0x0100_0000_0000_0001,
            auth: auth.clone(),
            op,
        })
        .collect()
    }

    #[test]
    fn txns_round_trip() {
        for txn in sample_txns() {
            let mut w = Writer::new();
            txn.encode(&mut w);
            assert_eq!(Txn::decode(&w.bytes), Ok(txn));
        }
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_an_error() {
        for txn in sample_txns() {
            let mut w = Writer::new();
            txn.encode(&mut w);
            for cut in 0..w.bytes.len() {
                assert!(
                    Txn::decode(&w.bytes[..cut]).is_err(),
                    "cut at {cut} of {txn:?}"
                );
            }
            let mut longer = w.bytes.clone();
            longer.push(0);
            assert!(Txn::decode(&longer).is_err(), "trailing byte accepted");
        }
    }

    #[test]
    fn unknown_version_and_kind_are_rejected() {
        let mut w = Writer::new();
        sample_txns()[5].encode(&mut w);
        let mut bad_version = w.bytes.clone();
        bad_version[3] = 1; // the format before session passwords
        assert!(Txn::decode(&bad_version).is_err());
        bad_version[3] = 2; // the format before a reconfig's synced servers
        assert!(Txn::decode(&bad_version).is_err());
        bad_version[3] = 4;
        assert!(Txn::decode(&bad_version).is_err());
        let mut bad_kind = w.bytes.clone();
        let last = bad_kind.len() - 1;
        bad_kind[last] = 9;
        assert!(Txn::decode(&bad_kind).is_err());
    }

    #[test]
    fn flipped_bytes_never_panic() {
        // A small SplitMix64 so the mutation sequence is reproducible.
        let mut state = 0x5eed_u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for txn in sample_txns() {
            let mut w = Writer::new();
            txn.encode(&mut w);
            let mut rejected = 0;
            for _ in 0..500 {
                let mut bytes = w.bytes.clone();
                let i = (next() % bytes.len() as u64) as usize;
                bytes[i] ^= (next() % 255 + 1) as u8;
                rejected += usize::from(Txn::decode(&bytes).is_err());
            }
            assert!(rejected > 0, "some mutation of {txn:?} is rejected");
        }
    }
}

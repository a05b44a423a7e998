//! Server replies: `Response` is the record that follows a `ReplyHeader` whose `err` is 0.
//! When `err` is not 0 ZooKeeper sends the header alone. A multi is the exception: even
//! when an op fails its header carries `err` 0 (checked against ZooKeeper 3.8's bytes in
//! `tests/golden.rs`), and the failure is in the per-op `ErrorResult`s that follow.
//!
//! Encoding/decoding lives in `impl Response` (encode; decode takes the request's opcode,
//! since the record does not name itself). `MultiResponse`'s layout is in `proto::multi`.
//!
//! Which record answers which op is `FinalRequestProcessor`'s choice (ZooKeeper 3.8/3.9),
//! and `Response::for_op_is_valid` encodes it. Notable: addWatch is answered with
//! `ErrorResponse { err: 0 }` (`Response::AddWatch`; 4 bytes that Java's client reads), a
//! standalone check with `SetDataResponse`, reconfig with `GetDataResponse`.
//!
//! Invariants: decoders are total; `encode` then `decode` with the matching opcode gives back
//! the same value.

use crate::error_code::ErrorCode;
use crate::jute::{DecodeError, Reader, Writer};
use crate::opcode::OpCode;
use crate::proto::data::{Acl, Stat};
use crate::proto::header::ReplyHeader;
use crate::proto::multi;

/// `ClientInfo { ustring authScheme; ustring user; }` (whoAmI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    pub auth_scheme: String,
    pub user: String,
}

/// One entry of a `MultiResponse`: `MultiHeader { int type; boolean done; int err; }` then
/// the op's record. `type` is the op's opcode, or -1 (error) for an `ErrorResult { int err; }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    /// type create(1): `CreateResponse { ustring path; }`. ZooKeeper answers a create2 op
    /// inside a multi with this too (its `Op.create` turns create2 into create).
    Create { path: String },
    /// type create2(15): `Create2Response { ustring path; Stat stat; }` (ZooKeeper uses it
    /// for createContainer and createTTL ops inside a multi).
    Create2 { path: String, stat: Stat },
    /// type setData(5): `SetDataResponse { Stat stat; }`
    SetData { stat: Stat },
    /// type delete(2): no record.
    Delete,
    /// type check(13): no record.
    Check,
    /// type getData(4) in multiRead: `GetDataResponse { buffer data; Stat stat; }`
    GetData { data: Option<Vec<u8>>, stat: Stat },
    /// type getChildren(8) in multiRead: `GetChildrenResponse { vector<ustring> children; }`
    GetChildren { children: Vec<String> },
    /// type error(-1): `ErrorResult { int err; }` — in a failed multi every op gets one:
    /// ops before the failing one carry Ok (0), the failing one its code, and ops after it
    /// RuntimeInconsistency (-2). In a multiRead only the failed reads are errors.
    Error(ErrorCode),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// No record follows the header (delete, deleteContainer, setWatches, setWatches2, auth,
    /// ping, closeSession, removeWatches, checkWatches).
    Empty,
    /// `CreateResponse { ustring path; }` (create).
    Create { path: String },
    /// `Create2Response { ustring path; Stat stat; }` (create2, createContainer, createTTL).
    Create2 { path: String, stat: Stat },
    /// `ExistsResponse`, `SetDataResponse`, `SetACLResponse`: `{ Stat stat; }` (exists,
    /// setData, setACL, and a standalone check, which ZooKeeper answers with
    /// `SetDataResponse`).
    Stat(Stat),
    /// `GetDataResponse { buffer data; Stat stat; }` (getData, and reconfig's answer).
    GetData { data: Option<Vec<u8>>, stat: Stat },
    /// `GetACLResponse { vector<ACL> acl; Stat stat; }`
    GetAcl { acl: Vec<Acl>, stat: Stat },
    /// `GetChildrenResponse { vector<ustring> children; }`
    GetChildren { children: Vec<String> },
    /// `GetChildren2Response { vector<ustring> children; Stat stat; }`
    GetChildren2 { children: Vec<String>, stat: Stat },
    /// `SyncResponse { ustring path; }`
    Sync { path: String },
    /// `MultiResponse`
    Multi(Vec<OpResult>),
    /// `MultiResponse` of a multiRead.
    MultiRead(Vec<OpResult>),
    /// `GetEphemeralsResponse { vector<ustring> ephemerals; }`
    Ephemerals(Vec<String>),
    /// `GetAllChildrenNumberResponse { int totalNumber; }`
    AllChildrenNumber(i32),
    /// `WhoAmIResponse { vector<ClientInfo> clientInfo; }`
    WhoAmI(Vec<ClientInfo>),
    /// `SetSASLResponse { buffer token; }`
    Sasl(Vec<u8>),
    /// addWatch's answer: `ErrorResponse { int err; }` with err 0, as ZooKeeper sends it
    /// (4 bytes that Java's client reads; leaving them out breaks its connection). On
    /// decode the value is not kept: an error travels in the `ReplyHeader`.
    AddWatch,
}

impl ClientInfo {
    /// Smallest encoding: two empty strings.
    pub const MIN_WIRE_BYTES: usize = 8;

    pub fn read(r: &mut Reader<'_>) -> Result<ClientInfo, DecodeError> {
        Ok(ClientInfo {
            auth_scheme: r.read_string()?,
            user: r.read_string()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.auth_scheme);
        w.write_string(&self.user);
    }
}

impl Response {
    /// Writes the record (nothing for `Empty`); the `ReplyHeader` is the caller's.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => w.write_string(path),
            Response::Create2 { path, stat } => {
                w.write_string(path);
                stat.write(w);
            }
            Response::Stat(stat) => stat.write(w),
            Response::GetData { data, stat } => {
                w.write_optional_buffer(data.as_deref());
                stat.write(w);
            }
            Response::GetAcl { acl, stat } => {
                Acl::write_list(acl, w);
                stat.write(w);
            }
            Response::GetChildren { children } | Response::Ephemerals(children) => {
                w.write_string_vec(children)
            }
            Response::GetChildren2 { children, stat } => {
                w.write_string_vec(children);
                stat.write(w);
            }
            Response::Multi(results) | Response::MultiRead(results) => {
                multi::write_results(results, w)
            }
            Response::AllChildrenNumber(n) => w.write_i32(*n),
            Response::WhoAmI(infos) => w.write_vec(infos, |w, i| i.write(w)),
            Response::Sasl(token) => w.write_buffer(token),
            Response::AddWatch => w.write_i32(0),
        }
    }

    /// Writes a whole reply payload (without the frame length): `header`, then the record.
    /// Pass `Response::Empty` when `header.err` is not 0 (except for a multi, whose header
    /// err is 0 even when ops failed).
    pub fn encode_with_header(&self, header: &ReplyHeader, w: &mut Writer) {
        header.write(w);
        self.encode(w);
    }

    /// Decodes the record that answers a request of type `op`, given a `ReplyHeader` whose
    /// `err` is 0. Trailing bytes are ignored, as Java's client does.
    pub fn decode(op: OpCode, body: &[u8]) -> Result<Response, DecodeError> {
        let mut r = Reader::new(body);
        let response = Response::read(op, &mut r)?;
        assert!(r.offset() <= body.len(), "reader stays inside the body");
        Ok(response)
    }

    /// Reads the record that answers `op` from `r`.
    pub fn read(op: OpCode, r: &mut Reader<'_>) -> Result<Response, DecodeError> {
        let response = match op {
            OpCode::Create => Response::Create {
                path: r.read_string()?,
            },
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => Response::Create2 {
                path: r.read_string()?,
                stat: Stat::read(r)?,
            },
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl | OpCode::Check => {
                Response::Stat(Stat::read(r)?)
            }
            OpCode::GetData | OpCode::Reconfig => Response::GetData {
                data: r.read_optional_buffer()?,
                stat: Stat::read(r)?,
            },
            OpCode::GetAcl => Response::GetAcl {
                acl: Acl::read_list(r)?,
                stat: Stat::read(r)?,
            },
            OpCode::GetChildren => Response::GetChildren {
                children: r.read_string_vec()?,
            },
            OpCode::GetChildren2 => Response::GetChildren2 {
                children: r.read_string_vec()?,
                stat: Stat::read(r)?,
            },
            OpCode::Sync => Response::Sync {
                path: r.read_string()?,
            },
            OpCode::Multi => Response::Multi(multi::read_results(r)?),
            OpCode::MultiRead => Response::MultiRead(multi::read_results(r)?),
            OpCode::GetEphemerals => Response::Ephemerals(r.read_string_vec()?),
            OpCode::GetAllChildrenNumber => Response::AllChildrenNumber(r.read_i32()?),
            OpCode::WhoAmI => {
                Response::WhoAmI(r.read_vec(ClientInfo::MIN_WIRE_BYTES, ClientInfo::read)?)
            }
            OpCode::Sasl => Response::Sasl(r.read_buffer()?),
            OpCode::AddWatch => {
                r.read_i32()?;
                Response::AddWatch
            }
            OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::Ping
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CloseSession => Response::Empty,
            OpCode::Notification | OpCode::CreateSession | OpCode::Error => {
                return Err(r.error(format!("opcode {} has no response record", op.name())));
            }
        };
        Ok(response)
    }

    /// True when this record is the one ZooKeeper sends (with err 0) for a request of
    /// type `op`; the server can assert it before encoding.
    pub fn for_op_is_valid(&self, op: OpCode) -> bool {
        match self {
            Response::Empty => matches!(
                op,
                OpCode::Delete
                    | OpCode::DeleteContainer
                    | OpCode::Ping
                    | OpCode::CheckWatches
                    | OpCode::RemoveWatches
                    | OpCode::Auth
                    | OpCode::SetWatches
                    | OpCode::SetWatches2
                    | OpCode::CloseSession
            ),
            Response::Create { .. } => op == OpCode::Create,
            Response::Create2 { .. } => {
                matches!(
                    op,
                    OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl
                )
            }
            Response::Stat(_) => {
                matches!(
                    op,
                    OpCode::Exists | OpCode::SetData | OpCode::SetAcl | OpCode::Check
                )
            }
            Response::GetData { .. } => matches!(op, OpCode::GetData | OpCode::Reconfig),
            Response::GetAcl { .. } => op == OpCode::GetAcl,
            Response::GetChildren { .. } => op == OpCode::GetChildren,
            Response::GetChildren2 { .. } => op == OpCode::GetChildren2,
            Response::Sync { .. } => op == OpCode::Sync,
            Response::Multi(_) => op == OpCode::Multi,
            Response::MultiRead(_) => op == OpCode::MultiRead,
            Response::Ephemerals(_) => op == OpCode::GetEphemerals,
            Response::AllChildrenNumber(_) => op == OpCode::GetAllChildrenNumber,
            Response::WhoAmI(_) => op == OpCode::WhoAmI,
            Response::Sasl(_) => op == OpCode::Sasl,
            Response::AddWatch => op == OpCode::AddWatch,
        }
    }
}

//! Server replies: `Response` is the record that follows a `ReplyHeader` whose `err` is 0.
//! When `err` is not 0 ZooKeeper sends the header alone (a failed multi is the exception:
//! its header carries the failing code and is followed by the per-op `ErrorResult`s).
//!
//! Encoding/decoding lives in `impl Response` (encode; decode takes the request's opcode,
//! since the record does not name itself).

use crate::error_code::ErrorCode;
use crate::proto::data::{Acl, Stat};

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
    /// type create(1): `CreateResponse { ustring path; }`
    Create { path: String },
    /// type create2(15): `Create2Response { ustring path; Stat stat; }`
    Create2 { path: String, stat: Stat },
    /// type setData(5): `SetDataResponse { Stat stat; }`
    SetData { stat: Stat },
    /// type delete(2): no record.
    Delete,
    /// type check(13): no record.
    Check,
    /// type getData(4) in multiRead: `GetDataResponse { buffer data; Stat stat; }`
    GetData { data: Vec<u8>, stat: Stat },
    /// type getChildren(8) in multiRead: `GetChildrenResponse { vector<ustring> children; }`
    GetChildren { children: Vec<String> },
    /// type error(-1): `ErrorResult { int err; }` — in a failed multi, ops before the
    /// failing one carry Ok (0) and ops after it RuntimeInconsistency (-2).
    Error(ErrorCode),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// No record follows the header (delete, setWatches, auth, ping, closeSession, check,
    /// removeWatches, checkWatches, addWatch).
    Empty,
    /// `CreateResponse { ustring path; }` (create, createContainer when created with create).
    Create { path: String },
    /// `Create2Response { ustring path; Stat stat; }` (create2, createContainer, createTTL).
    Create2 { path: String, stat: Stat },
    /// `ExistsResponse`, `SetDataResponse`, `SetACLResponse`: `{ Stat stat; }`
    Stat(Stat),
    /// `GetDataResponse { buffer data; Stat stat; }` (getData, and reconfig's answer).
    GetData { data: Vec<u8>, stat: Stat },
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
}

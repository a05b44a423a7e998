//! Client requests: one struct per `zookeeper.jute` request class (fields in jute order),
//! and `Request`, the decoded body of a frame whose `RequestHeader.type` names the op.
//!
//! Decoding/encoding lives in `impl Request` below (`decode`, `encode`).

use crate::proto::data::Acl;

/// `CreateRequest` (create, create2, createContainer) and `CreateTTLRequest` (createTTL):
/// `{ ustring path; buffer data; vector<ACL> acl; int flags; [long ttl] }`.
/// `ttl` is -1 for the opcodes whose record has no ttl field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub path: String,
    pub data: Vec<u8>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    pub ttl: i64,
}

/// `DeleteRequest { ustring path; int version; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteRequest {
    pub path: String,
    pub version: i32,
}

/// `ExistsRequest`, `GetDataRequest`, `GetChildrenRequest`, `GetChildren2Request`:
/// `{ ustring path; boolean watch; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathWatchRequest {
    pub path: String,
    pub watch: bool,
}

/// Records with only `{ ustring path; }`: `GetACLRequest`, `SyncRequest`,
/// `GetAllChildrenNumberRequest`, `DeleteContainerRequest`, and `GetEphemeralsRequest`
/// (whose field is `prefixPath`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathRequest {
    pub path: String,
}

/// `SetDataRequest { ustring path; buffer data; int version; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetDataRequest {
    pub path: String,
    pub data: Vec<u8>,
    pub version: i32,
}

/// `SetACLRequest { ustring path; vector<ACL> acl; int version; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAclRequest {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

/// `CheckVersionRequest { ustring path; int version; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckVersionRequest {
    pub path: String,
    pub version: i32,
}

/// `ReconfigRequest { ustring joiningServers; ustring leavingServers; ustring newMembers;
/// long curConfigId; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconfigRequest {
    pub joining_servers: String,
    pub leaving_servers: String,
    pub new_members: String,
    pub cur_config_id: i64,
}

/// `CheckWatchesRequest` / `RemoveWatchesRequest { ustring path; int type; }`; `type` is a
/// `Watcher.WatcherType` (Children=1, Data=2, Any=3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchesRequest {
    pub path: String,
    pub watcher_type: i32,
}

/// `AuthPacket { int type; ustring scheme; buffer auth; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPacket {
    pub auth_type: i32,
    pub scheme: String,
    pub auth: Vec<u8>,
}

/// `SetWatches { long relativeZxid; vector<ustring> dataWatches; existWatches; childWatches }`
/// and `SetWatches2` (which adds `persistentWatches` and `persistentRecursiveWatches`).
/// For opcode setWatches (101) the two persistent lists are empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetWatches {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
    pub persistent_watches: Vec<String>,
    pub persistent_recursive_watches: Vec<String>,
}

/// `AddWatchRequest { ustring path; int mode; }`; mode 0 = persistent,
/// 1 = persistent recursive (`AddWatchMode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddWatchRequest {
    pub path: String,
    pub mode: i32,
}

/// A decoded request body. The variant fixes the opcode (see `Request::op_code`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateRequest),
    Delete(DeleteRequest),
    DeleteContainer(PathRequest),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    /// `MultiOperationRecord`: only create/create2/createContainer/createTTL/delete/
    /// setData/check ops.
    Multi(Vec<Request>),
    /// `MultiOperationRecord` of getChildren/getData ops only.
    MultiRead(Vec<Request>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches),
    /// `GetSASLRequest { buffer token; }`
    Sasl(Vec<u8>),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

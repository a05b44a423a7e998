//! Client requests: one struct per `zookeeper.jute` request class (fields in jute order),
//! and `Request`, the decoded body of a frame whose `RequestHeader.type` names the op.
//!
//! Decoding/encoding lives in `impl Request` below (`decode`, `encode`); the
//! `MultiOperationRecord` layout is in `proto::multi`.
//!
//! Invariants: every decoder is total (bounds-checked `Reader`, no panic on any input);
//! `encode` writes exactly the bytes ZooKeeper's Java client writes for the same record, so
//! `decode(op, encode(x)) == x` for every value built from decoded input. Source:
//! `zookeeper.jute` (the request classes), `ZooDefs.OpCode`, `Request.isQuorum`.

use crate::jute::{DecodeError, Reader, Writer};
use crate::opcode::OpCode;
use crate::proto::data::Acl;
use crate::proto::header::RequestHeader;
use crate::proto::multi;

/// `CreateRequest` (create, create2, createContainer) and `CreateTTLRequest` (createTTL):
/// `{ ustring path; buffer data; vector<ACL> acl; int flags; [long ttl] }`.
/// `data` is `None` when the client sent jute's null buffer (Java's `create(path, null, …)`);
/// ZooKeeper stores and returns it as null.
/// `ttl` is -1 for the opcodes whose record has no ttl field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub path: String,
    pub data: Option<Vec<u8>>,
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
    pub data: Option<Vec<u8>>,
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
    /// `None` is jute's null, which ZooKeeper's leader tells from "": a non-null
    /// `new_members` makes the change non-incremental.
    pub joining_servers: Option<String>,
    pub leaving_servers: Option<String>,
    pub new_members: Option<String>,
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
    /// Decoded from a client as `{ ustring path; }`. ZooKeeper only issues deleteContainer
    /// internally (`ContainerManager`, body = the raw UTF-8 path, no length); a client that
    /// sends opcode 20 gets an error from ZooKeeper, and our server should answer one too.
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

impl CreateRequest {
    /// Reads `CreateRequest`, or `CreateTTLRequest` when `has_ttl` (else `ttl` is -1).
    pub fn read(r: &mut Reader<'_>, has_ttl: bool) -> Result<CreateRequest, DecodeError> {
        Ok(CreateRequest {
            path: r.read_string()?,
            data: r.read_optional_buffer()?,
            acl: Acl::read_list(r)?,
            flags: r.read_i32()?,
            ttl: if has_ttl { r.read_i64()? } else { -1 },
        })
    }

    /// Writes `CreateRequest`, or `CreateTTLRequest` when `has_ttl`; without it `ttl` is
    /// not written.
    pub fn write(&self, w: &mut Writer, has_ttl: bool) {
        w.write_string(&self.path);
        w.write_optional_buffer(self.data.as_deref());
        Acl::write_list(&self.acl, w);
        w.write_i32(self.flags);
        if has_ttl {
            w.write_i64(self.ttl);
        }
    }
}

impl DeleteRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<DeleteRequest, DecodeError> {
        Ok(DeleteRequest {
            path: r.read_string()?,
            version: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        w.write_i32(self.version);
    }
}

impl PathWatchRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<PathWatchRequest, DecodeError> {
        Ok(PathWatchRequest {
            path: r.read_string()?,
            watch: r.read_bool()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        w.write_bool(self.watch);
    }
}

impl PathRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<PathRequest, DecodeError> {
        Ok(PathRequest {
            path: r.read_string()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
    }
}

impl SetDataRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<SetDataRequest, DecodeError> {
        Ok(SetDataRequest {
            path: r.read_string()?,
            data: r.read_optional_buffer()?,
            version: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        w.write_optional_buffer(self.data.as_deref());
        w.write_i32(self.version);
    }
}

impl SetAclRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<SetAclRequest, DecodeError> {
        Ok(SetAclRequest {
            path: r.read_string()?,
            acl: Acl::read_list(r)?,
            version: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        Acl::write_list(&self.acl, w);
        w.write_i32(self.version);
    }
}

impl CheckVersionRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<CheckVersionRequest, DecodeError> {
        Ok(CheckVersionRequest {
            path: r.read_string()?,
            version: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        w.write_i32(self.version);
    }
}

impl ReconfigRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<ReconfigRequest, DecodeError> {
        Ok(ReconfigRequest {
            joining_servers: r.read_optional_string()?,
            leaving_servers: r.read_optional_string()?,
            new_members: r.read_optional_string()?,
            cur_config_id: r.read_i64()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_optional_string(self.joining_servers.as_deref());
        w.write_optional_string(self.leaving_servers.as_deref());
        w.write_optional_string(self.new_members.as_deref());
        w.write_i64(self.cur_config_id);
    }
}

impl WatchesRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<WatchesRequest, DecodeError> {
        Ok(WatchesRequest {
            path: r.read_string()?,
            watcher_type: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        w.write_i32(self.watcher_type);
    }
}

impl AuthPacket {
    pub fn read(r: &mut Reader<'_>) -> Result<AuthPacket, DecodeError> {
        Ok(AuthPacket {
            auth_type: r.read_i32()?,
            scheme: r.read_string()?,
            auth: r.read_buffer()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_i32(self.auth_type);
        w.write_string(&self.scheme);
        w.write_buffer(&self.auth);
    }
}

impl SetWatches {
    /// Reads `SetWatches`, or `SetWatches2` (two more lists) when `v2`.
    pub fn read(r: &mut Reader<'_>, v2: bool) -> Result<SetWatches, DecodeError> {
        Ok(SetWatches {
            relative_zxid: r.read_i64()?,
            data_watches: r.read_string_vec()?,
            exist_watches: r.read_string_vec()?,
            child_watches: r.read_string_vec()?,
            persistent_watches: if v2 { r.read_string_vec()? } else { Vec::new() },
            persistent_recursive_watches: if v2 { r.read_string_vec()? } else { Vec::new() },
        })
    }

    /// Writes `SetWatches` (the persistent lists are dropped), or `SetWatches2` when `v2`.
    pub fn write(&self, w: &mut Writer, v2: bool) {
        w.write_i64(self.relative_zxid);
        w.write_string_vec(&self.data_watches);
        w.write_string_vec(&self.exist_watches);
        w.write_string_vec(&self.child_watches);
        if v2 {
            w.write_string_vec(&self.persistent_watches);
            w.write_string_vec(&self.persistent_recursive_watches);
        }
    }
}

impl AddWatchRequest {
    pub fn read(r: &mut Reader<'_>) -> Result<AddWatchRequest, DecodeError> {
        Ok(AddWatchRequest {
            path: r.read_string()?,
            mode: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        w.write_i32(self.mode);
    }
}

impl Request {
    /// Decodes the body that follows a `RequestHeader` whose type is `op`.
    ///
    /// Bytes after the record are ignored, as ZooKeeper's server does (it deserializes each
    /// record from the frame's buffer and never checks that the buffer was used up). Ops
    /// with no body (ping, whoAmI, closeSession) accept any body. Opcodes that are not
    /// client requests (notification, createSession, error) are errors.
    pub fn decode(op: OpCode, body: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader::new(body);
        let request = Request::read(op, &mut r)?;
        assert!(r.offset() <= body.len(), "reader stays inside the body");
        Ok(request)
    }

    /// Reads one request record of type `op` from `r` (which may hold more after it).
    pub fn read(op: OpCode, r: &mut Reader<'_>) -> Result<Request, DecodeError> {
        let request = match op {
            OpCode::Create => Request::Create(CreateRequest::read(r, false)?),
            OpCode::Create2 => Request::Create2(CreateRequest::read(r, false)?),
            OpCode::CreateContainer => Request::CreateContainer(CreateRequest::read(r, false)?),
            OpCode::CreateTtl => Request::CreateTtl(CreateRequest::read(r, true)?),
            OpCode::Delete => Request::Delete(DeleteRequest::read(r)?),
            OpCode::DeleteContainer => Request::DeleteContainer(PathRequest::read(r)?),
            OpCode::Exists => Request::Exists(PathWatchRequest::read(r)?),
            OpCode::GetData => Request::GetData(PathWatchRequest::read(r)?),
            OpCode::SetData => Request::SetData(SetDataRequest::read(r)?),
            OpCode::GetAcl => Request::GetAcl(PathRequest::read(r)?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest::read(r)?),
            OpCode::GetChildren => Request::GetChildren(PathWatchRequest::read(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(PathWatchRequest::read(r)?),
            OpCode::Sync => Request::Sync(PathRequest::read(r)?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(CheckVersionRequest::read(r)?),
            OpCode::Multi => Request::Multi(multi::read_ops(r, false)?),
            OpCode::MultiRead => Request::MultiRead(multi::read_ops(r, true)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest::read(r)?),
            OpCode::CheckWatches => Request::CheckWatches(WatchesRequest::read(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(WatchesRequest::read(r)?),
            OpCode::Auth => Request::Auth(AuthPacket::read(r)?),
            OpCode::SetWatches => Request::SetWatches(SetWatches::read(r, false)?),
            OpCode::SetWatches2 => Request::SetWatches2(SetWatches::read(r, true)?),
            OpCode::Sasl => Request::Sasl(r.read_buffer()?),
            OpCode::GetEphemerals => Request::GetEphemerals(PathRequest::read(r)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(PathRequest::read(r)?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest::read(r)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification | OpCode::CreateSession | OpCode::Error => {
                return Err(r.error(format!("opcode {} is not a client request", op.name())));
            }
        };
        Ok(request)
    }

    /// Writes the body (not the header) of this request, exactly as ZooKeeper's Java
    /// client would.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => {
                c.write(w, false)
            }
            Request::CreateTtl(c) => c.write(w, true),
            Request::Delete(d) => d.write(w),
            Request::DeleteContainer(p)
            | Request::GetAcl(p)
            | Request::Sync(p)
            | Request::GetEphemerals(p)
            | Request::GetAllChildrenNumber(p) => p.write(w),
            Request::Exists(p)
            | Request::GetData(p)
            | Request::GetChildren(p)
            | Request::GetChildren2(p) => p.write(w),
            Request::SetData(s) => s.write(w),
            Request::SetAcl(s) => s.write(w),
            Request::Check(c) => c.write(w),
            Request::Multi(ops) | Request::MultiRead(ops) => multi::write_ops(ops, w),
            Request::Reconfig(c) => c.write(w),
            Request::CheckWatches(c) | Request::RemoveWatches(c) => c.write(w),
            Request::Auth(a) => a.write(w),
            Request::SetWatches(s) => s.write(w, false),
            Request::SetWatches2(s) => s.write(w, true),
            Request::Sasl(token) => w.write_buffer(token),
            Request::AddWatch(a) => a.write(w),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }

    /// Writes a whole request payload: `RequestHeader { xid, type }` then the body.
    pub fn encode_with_header(&self, xid: i32, w: &mut Writer) {
        RequestHeader {
            xid,
            op_type: self.op_code().code(),
        }
        .write(w);
        self.encode(w);
    }

    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::DeleteContainer(_) => OpCode::DeleteContainer,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// True for requests that change state and so go through the txn log: create*,
    /// delete*, setData, setACL, check, multi, reconfig (ZooKeeper's `Request.isQuorum`
    /// set of client ops, minus createSession/closeSession, which the server handles as
    /// session events).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create(_)
                | Request::Create2(_)
                | Request::CreateContainer(_)
                | Request::CreateTtl(_)
                | Request::Delete(_)
                | Request::DeleteContainer(_)
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Multi(_)
                | Request::Reconfig(_)
        )
    }

    /// The znode path the request names, if it names exactly one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Request::Create(c)
            | Request::Create2(c)
            | Request::CreateContainer(c)
            | Request::CreateTtl(c) => Some(&c.path),
            Request::Delete(d) => Some(&d.path),
            Request::DeleteContainer(p)
            | Request::GetAcl(p)
            | Request::Sync(p)
            | Request::GetEphemerals(p)
            | Request::GetAllChildrenNumber(p) => Some(&p.path),
            Request::Exists(p)
            | Request::GetData(p)
            | Request::GetChildren(p)
            | Request::GetChildren2(p) => Some(&p.path),
            Request::SetData(s) => Some(&s.path),
            Request::SetAcl(s) => Some(&s.path),
            Request::Check(c) => Some(&c.path),
            Request::CheckWatches(c) | Request::RemoveWatches(c) => Some(&c.path),
            Request::AddWatch(a) => Some(&a.path),
            _ => None,
        }
    }
}

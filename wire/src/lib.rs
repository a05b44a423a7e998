//! `wire`: the ZooKeeper client protocol, encoded and decoded by hand.
//!
//! Everything a client and server exchange is a length-prefixed frame holding jute records
//! (`zookeeper.jute`). Decoders here are total: any byte string yields a value or a
//! `DecodeError` with the offset where it went wrong, never a panic, and no length prefix
//! is trusted before it is checked against the bytes that remain.

pub mod error_code;
pub mod jute;
pub mod opcode;
pub mod proto;

pub use error_code::ErrorCode;
pub use jute::{DecodeError, Reader, Writer};
pub use opcode::OpCode;
pub use proto::data::{perms, Acl, CreateMode, Id, Stat};
pub use proto::request::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, DeleteRequest,
    PathRequest, PathWatchRequest, ReconfigRequest, Request, SetAclRequest, SetDataRequest,
    SetWatches, WatchesRequest,
};
pub use proto::response::{ClientInfo, OpResult, Response};

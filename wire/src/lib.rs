//! `wire`: the ZooKeeper client protocol, encoded and decoded by hand.
//!
//! Everything a client and server exchange is a length-prefixed frame holding jute records
//! (`zookeeper.jute`). Decoders here are total: any byte string yields a value or a
//! `DecodeError` with the offset where it went wrong, never a panic, and no length prefix
//! is trusted before it is checked against the bytes that remain.
//!
//! A connection, as the server sees it (`frame`, then `proto::*`):
//! 1. `FrameDecoder` cuts frames out of the byte stream (length < 0 or > jute.maxbuffer is
//!    fatal). The first frame is a `ConnectRequest` (no header); the server answers one
//!    `ConnectResponse` (no header), with the `readOnly` byte only if the client sent one.
//! 2. Every later frame is `RequestHeader { xid, type }` + a body: `Request::decode(op,
//!    body)`. Every answer is `ReplyHeader { xid, zxid, err }` + (when err is 0, or always
//!    for a multi) the `Response` record; notifications are `ReplyHeader::NOTIFICATION` +
//!    `WatcherEvent`. `write_frame` adds the length prefix.
//!
//! Sources: `zookeeper.jute`, `MultiOperationRecord`, `MultiResponse`, `NIOServerCnxn`,
//! `ZooKeeperServer`, `FinalRequestProcessor` and `ClientCnxn` (ZooKeeper 3.8/3.9), and
//! golden bytes captured from ZooKeeper 3.8 (`tests/golden/`).

pub mod error_code;
pub mod frame;
pub mod jute;
pub mod opcode;
pub mod proto;

pub use error_code::ErrorCode;
pub use jute::{DecodeError, Reader, Writer};
pub use opcode::OpCode;
pub use proto::data::{perms, Acl, CreateMode, Id, Stat};
pub use proto::request::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, DeleteRequest, PathRequest,
    PathWatchRequest, ReconfigRequest, Request, SetAclRequest, SetDataRequest, SetWatches,
    WatchesRequest,
};
pub use proto::response::{ClientInfo, OpResult, Response};

pub use frame::{write_frame, FrameDecoder, FrameError, JUTE_MAXBUFFER_DEFAULT};
pub use proto::connect::{ConnectRequest, ConnectResponse};
pub use proto::header::{xid, ReplyHeader, RequestHeader};
pub use proto::multi::MultiHeader;
pub use proto::watch::{add_watch_mode, event_type, keeper_state, watcher_type, WatcherEvent};

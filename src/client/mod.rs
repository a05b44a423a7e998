//! A small ZooKeeper client for our own tools (`ferrokeeper bench` and `ferrokeeper cli`).
//!
//! Three layers, each usable alone:
//! - [`Session`] (`session.rs`): the protocol state of one ZooKeeper session, with no I/O.
//!   It queues request bytes (handshake, requests with xids, pings, closeSession), takes the
//!   bytes the server sent, and yields [`Event`]s: the handshake result, replies matched to
//!   their requests in order, watch notifications and pongs.
//! - [`Mux`] (`mux.rs`): many sessions on one thread over mio, each with any number of
//!   requests in flight (pipelining). It reads until `WouldBlock`, writes what is queued,
//!   pings a session that has sent nothing for a third of its timeout, and stamps every
//!   event with the instant its bytes were read. The bench drives this face.
//! - [`Client`] (`blocking.rs`): a blocking API over one `Mux` session (`create`,
//!   `get_data`, `set_data`, `delete`, `exists`, `get_children`, `multi`, ACLs, `sync`,
//!   `add_auth`, `who_am_i`, ephemerals, persistent watches, `close`), for the CLI and tests.
//!
//! Ordering: ZooKeeper answers a session's requests in the order it received them
//! (`ClientCnxn` relies on this, and so do we): a reply whose xid is not the oldest pending
//! one is a protocol error that ends the session. Notifications (xid -1) and ping replies
//! (xid -2) may arrive between replies.
//!
//! Errors ([`ZkError`]) carry the ZooKeeper error code of a failed request, or the I/O or
//! protocol failure that ended the connection. Sources: `ClientCnxn`, `ClientCnxnSocketNIO`
//! and `ZooKeeper` (ZooKeeper 3.8) for the handshake, ping cadence and xid rules.

// A library face: the bench and the CLI each use part of it; accessors neither needs yet
// (session ids, zxids, the ping call) are kept for tests and later tools.
#![allow(dead_code, unused_imports)]

mod blocking;
mod mux;
mod session;

#[cfg(test)]
mod fake_server;

use std::fmt;
use std::io;

use wire::{ErrorCode, OpResult};

pub use blocking::Client;
pub use mux::{ConnIndex, Mux, MuxEvent};
pub use session::{Event, Reply, Session};

/// Largest reply frame the client accepts. Servers do not bound what they send by
/// `jute.maxbuffer` (a getChildren of a big node can exceed it), so the client allows more,
/// but not without limit: a larger length prefix means a broken stream.
pub const REPLY_SIZE_MAX_BYTES: usize = 64 << 20;

/// Why a request or a session failed.
#[derive(Debug)]
pub enum ZkError {
    /// The server answered the request with this error code (never `ErrorCode::Ok`).
    Code(ErrorCode),
    /// A multi failed: `index` is the first op whose result is an error, `code` its code.
    MultiFailed { index: usize, code: ErrorCode },
    /// The connection failed or timed out; the session may still be alive on the server.
    Io(io::Error),
    /// The server sent bytes that break the protocol (bad frame, wrong xid, bad record).
    Protocol(String),
}

impl ZkError {
    /// The ZooKeeper error code this error stands for: the server's code, or
    /// `ConnectionLoss` for I/O and protocol failures (as ZooKeeper's Java client reports
    /// them).
    pub fn code(&self) -> ErrorCode {
        match self {
            ZkError::Code(code) | ZkError::MultiFailed { code, .. } => *code,
            ZkError::Io(_) | ZkError::Protocol(_) => ErrorCode::ConnectionLoss,
        }
    }
}

impl fmt::Display for ZkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZkError::Code(code) => write!(f, "{code}"),
            ZkError::MultiFailed { index, code } => write!(f, "multi op {index} failed: {code}"),
            ZkError::Io(e) => write!(f, "connection: {e}"),
            ZkError::Protocol(what) => write!(f, "protocol error: {what}"),
        }
    }
}

impl std::error::Error for ZkError {}

impl From<io::Error> for ZkError {
    fn from(e: io::Error) -> ZkError {
        ZkError::Io(e)
    }
}

/// The first failed op of a multi's results, if any: ZooKeeper marks the ops before it
/// `Ok` and the ops after it `RuntimeInconsistency`, so the first non-`Ok` error is the cause.
pub fn multi_failure(results: &[OpResult]) -> Option<(usize, ErrorCode)> {
    results
        .iter()
        .enumerate()
        .find_map(|(index, result)| match result {
            OpResult::Error(code) if !code.is_ok() => Some((index, *code)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_failure_names_the_first_failing_op() {
        let results = vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NodeExists),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ];
        assert_eq!(multi_failure(&results), Some((1, ErrorCode::NodeExists)));
        let ok = vec![OpResult::Delete, OpResult::Create { path: "/a".into() }];
        assert_eq!(multi_failure(&ok), None);
    }

    #[test]
    fn io_and_protocol_errors_read_as_connection_loss() {
        let e = ZkError::Io(io::Error::new(io::ErrorKind::TimedOut, "late"));
        assert_eq!(e.code(), ErrorCode::ConnectionLoss);
        assert_eq!(ZkError::Code(ErrorCode::NoNode).code(), ErrorCode::NoNode);
        assert_eq!(
            ZkError::Code(ErrorCode::NoNode).to_string(),
            "NoNode (-101)"
        );
    }
}

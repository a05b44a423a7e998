//! `tree`: the deterministic ZooKeeper data tree.
//!
//! - `DataTree` (tree.rs, ops/): the replicated znode tree; `apply(&Txn)` for writes and
//!   session events, `read` for reads, digest and invariants.
//! - `Txn` (txn.rs): what goes into the log, and its binary encoding.
//! - `WatchManager` (watch.rs): server-local watches and the events a change fires.
//! - acl.rs, auth/: ACL checks and the digest/ip auth schemes.
//!
//! Nothing here touches clocks, sockets or randomness: time and identities come in on the
//! `Txn`, and every iteration that reaches output is over sorted collections.

pub mod acl;
pub mod auth;
pub mod digest;
mod ops;
pub mod path;
pub mod session;
pub mod snapshot;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod znode;

pub use acl::{auth_ids_for, generate_digest};
pub use session::{Session, SessionTable};
pub use tree::{DataTree, TreeConfig};
pub use txn::{ApplyOutcome, Change, ChangeKind, Txn, TxnOp};
pub use watch::{WatchEvent, WatchKind, WatchManager, WatcherType};
pub use znode::{EphemeralType, Node};

#[cfg(test)]
mod tests;

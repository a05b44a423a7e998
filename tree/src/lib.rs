//! `tree`: the deterministic ZooKeeper data tree.
//!
//! - `DataTree` (tree.rs, ops/): the replicated znode tree; `apply(&Txn)` for writes and
//!   session events, `read` for reads, digest and invariants.
//! - `Txn` (txn.rs): what goes into the log, and its binary encoding.
//! - snapshot.rs, snapshot_walk.rs: the snapshot format, whole (`encode_snapshot`) or
//!   streamed in steps while txns keep applying (`begin_snapshot`, `snapshot_step`).
//! - `WatchManager` (watch.rs): server-local watches and the events a change fires.
//! - acl.rs, auth/: ACL checks and the digest/ip auth schemes.
//! - quota.rs: ZooKeeper's quota statistics (`zookeeper_stats` nodes) and `StatsTrack`.
//!
//! Nothing here touches clocks, sockets or randomness: time and identities come in on the
//! `Txn`, and every iteration that reaches output is over sorted collections.

pub mod acl;
pub mod acl_cache;
pub mod auth;
pub mod digest;
mod ops;
pub mod path;
pub mod quota;
pub mod session;
pub mod snapshot;
mod snapshot_walk;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod znode;

pub use acl::{auth_ids_for, generate_digest};
pub use acl_cache::SharedAcl;
pub use session::{Session, SessionTable};
pub use snapshot_walk::SnapshotHeader;
pub use tree::{DataTree, TreeConfig};
pub use txn::{ApplyOutcome, Change, ChangeKind, Txn, TxnOp};
pub use watch::{WatchEvent, WatchKind, WatchManager, WatcherType};
pub use znode::{EphemeralType, Node};

/// Where ZooKeeper keeps the cluster's member list (`ZooDefs.CONFIG_NODE`).
pub const CONFIG_NODE: &str = "/zookeeper/config";

#[cfg(test)]
mod tests;

//! `wal`: the write-ahead log and snapshot files of Ferrokeeper.
//!
//! - `format`: the byte layout of segment and snapshot files (read it first).
//! - `disk`: `trait Disk`, the only way this crate touches files; `FileDisk` (std::fs) for
//!   production and `SimDisk` (in memory, crashable, corruptible) for tests.
//! - `writer`: `Wal`, the open log: `append`, `append_batch`, `sync`, `truncate_suffix`,
//!   `reset`, `purge`, `iter_from`.
//! - `reader`: what `Wal::open` checks and repairs (torn tail truncated, corruption an
//!   error), and `RecordIter`.
//! - `segment`: segment naming, listing, creation.
//! - `snapshot`: snapshot files written tmp → fsync → rename → fsync dir, verified on load.
//!
//! Records are `(kind, term, index, payload)`; kind and payload are opaque, and indexes are
//! contiguous (the caller owns the sequence; `truncate_suffix` and `reset` change it).
//!
//! # Durability contract
//!
//! When `Wal::sync` (or `append_batch_durable`) returns `Ok`, every record appended before
//! the call is durable: it has been written and `fdatasync`ed, the segment files holding it
//! and their directory entries were made durable when those segments were created, and a
//! later `Wal::open` after a crash or power loss returns it, unchanged, with all records
//! before it. Records appended after the last successful `sync` may or may not survive; if
//! some do, they are a prefix of what was appended, never garbage. `append` alone promises
//! nothing. Everything `Wal::open` returns is durable (it syncs what it found).
//!
//! `truncate_suffix`, `reset` and `purge` are durable when they return: records they removed
//! never come back. (`truncate_suffix` does not promise that the records it kept were
//! synced; call `sync` for that.)
//!
//! Group commit is the caller's: `Wal` is single-threaded (`&mut self`), so the log thread
//! drains everything queued, appends it (`append_batch`), calls `sync` once, and only then
//! acknowledges every write in the batch. `SimDisk::sync_data_count` lets a test check that
//! a batch cost one `fdatasync`.
//!
//! Limits of the promise:
//! - It holds if the disk honours `fdatasync` and a torn write persists as a prefix of its
//!   bytes (see `disk::sim`). A disk that persists a later part of an unsynced write
//!   without an earlier part makes the unsynced tail look like mid-log corruption, which
//!   `open` reports as an error (it does not guess).
//! - Media damage with a valid record after it is `Error::Corrupt`. Damage to the last
//!   record of the log (a CRC failure with nothing valid after it) cannot be told from a
//!   torn write and is truncated and reported as a `TornTail`; see `reader`.
//! - A failed write or sync poisons the `Wal` (every later call returns
//!   `Error::Poisoned`), because after a failed `fsync` the state of the file is unknown.
//!   The server aborts.
//!
//! `SnapshotWriter::finish` returns `Ok` only once the snapshot is durable under its final
//! name; `open_snapshot` returns `Ok` only for a file whose every byte checks out.

pub mod disk;
mod error;
pub mod format;
pub mod reader;
pub mod segment;
pub mod snapshot;
pub mod writer;

pub use disk::sim::{Crash, SimDisk};
pub use disk::{Disk, DiskFile, FileDisk};
pub use error::{Damage, Error, Result};
pub use format::Record;
pub use reader::{OpenReport, RecordIter, RemovedFile, RemovedReason, TornTail};
pub use segment::SegmentInfo;
pub use snapshot::{
    list_snapshots, open_newest_valid, open_snapshot, remove_stale_tmp, retain_snapshots,
    SnapshotFile, SnapshotReader, SnapshotWriter,
};
pub use writer::{Wal, WalOptions, PURGED_PREFIX};

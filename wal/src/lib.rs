//! `wal`: the write-ahead log and snapshot files.

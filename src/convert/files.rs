//! Finding ZooKeeper's files: `snapshot.<hex zxid>` and `log.<hex zxid>` in a data directory
//! (or in its `version-2/`), and choosing what a restore reads, as `FileSnap` and
//! `FileTxnLog.getLogFiles` do: the newest snapshot, then every log that can hold a txn
//! after it — the newest log starting at or before the snapshot's zxid, and all later ones.
//!
//! Names follow `Util.getZxidFromName`: the part after the first '.' is the zxid in hex.
//! A snapshot name with a third part `.gz` or `.snappy` is a compressed snapshot (3.6+,
//! `zookeeper.snapshot.compression.method`); other files are ignored.

use std::path::{Path, PathBuf};

use super::ConvertError;

/// ZooKeeper keeps its files in `<dataDir>/version-2` (`FileTxnSnapLog.version`).
const VERSION_DIR: &str = "version-2";

/// One `snapshot.*` or `log.*` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkFile {
    pub path: PathBuf,
    pub zxid: i64,
    /// For snapshots: "gz" or "snappy" when compressed.
    pub compression: Option<String>,
}

/// `dir/version-2` if it exists, else `dir` itself (so both the dataDir and its
/// version-2 directory are accepted).
pub fn resolve_dir(dir: &Path) -> Result<PathBuf, ConvertError> {
    if !dir.is_dir() {
        return Err(ConvertError::file(dir, "is not a directory"));
    }
    let nested = dir.join(VERSION_DIR);
    Ok(if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    })
}

/// Every file called `<prefix>.<hex>[.<extension>]` in `dir`, sorted by zxid.
pub fn list(dir: &Path, prefix: &str) -> Result<Vec<ZkFile>, ConvertError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConvertError::io(dir, &e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ConvertError::io(dir, &e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() < 2 || parts[0] != prefix {
            continue;
        }
        let Ok(zxid) = i64::from_str_radix(parts[1], 16) else {
            continue;
        };
        let compression = match parts.get(2..) {
            Some([]) | None => None,
            Some([ext]) if prefix == "snapshot" && (*ext == "gz" || *ext == "snappy") => {
                Some(ext.to_string())
            }
            Some(_) => continue,
        };
        files.push(ZkFile {
            path: entry.path(),
            zxid,
            compression,
        });
    }
    files.sort_by(|a, b| a.zxid.cmp(&b.zxid).then_with(|| a.path.cmp(&b.path)));
    Ok(files)
}

/// The logs a restore from a snapshot at `snapshot_zxid` reads, oldest first
/// (`FileTxnLog.getLogFiles`). `logs` is sorted by zxid.
pub fn logs_after(logs: &[ZkFile], snapshot_zxid: i64) -> Vec<ZkFile> {
    let first_later = logs.partition_point(|f| f.zxid <= snapshot_zxid);
    let start = first_later.saturating_sub(1);
    let chosen = logs[start..].to_vec();
    assert!(
        chosen.iter().filter(|f| f.zxid <= snapshot_zxid).count() <= 1,
        "at most one log starts at or before the snapshot"
    );
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(zxid: i64) -> ZkFile {
        ZkFile {
            path: PathBuf::from(format!("log.{zxid:x}")),
            zxid,
            compression: None,
        }
    }

    #[test]
    fn keeps_the_newest_log_at_or_before_the_snapshot_and_all_later_ones() {
        let logs = vec![file(1), file(0x10), file(0x20), file(0x30)];
        let zxids = |s| -> Vec<i64> { logs_after(&logs, s).iter().map(|f| f.zxid).collect() };
        assert_eq!(zxids(0x15), vec![0x10, 0x20, 0x30]);
        assert_eq!(zxids(0x20), vec![0x20, 0x30]);
        assert_eq!(zxids(0), vec![1, 0x10, 0x20, 0x30]);
        assert_eq!(zxids(0x99), vec![0x30]);
    }
}

//! What the server keeps on disk, and how it comes back after a crash.
//!
//! Layout: `dataLogDir/log/` holds the write-ahead log (`wal` segments; one record per txn,
//! record index = zxid, kind `TXN_RECORD_KIND`); `dataDir/snapshots/` holds snapshots
//! (`wal` snapshot files whose body is `DataTree::encode_snapshot`, streamed out in the
//! background by `snapshots.rs`); `dataDir/session-secret` holds the 8-byte secret session
//! passwords derive from, so a client can resume its session after a restart.
//!
//! Recovery (`recover`): the newest snapshot that verifies (older ones are tried if it does
//! not, each failure logged), then every WAL record after it, applied in order; a torn WAL
//! tail is truncated with a log line, corruption anywhere else refuses the start with the
//! file and byte offset. The durability rule the write path keeps: a txn is applied, and
//! its client answered, only after `WalLog::append` returned, i.e. after its batch's
//! `fdatasync` (unless `forceSync=no`).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use tree::{DataTree, TreeConfig, Txn};
use wal::{Disk, DiskFile, FileDisk, Record, Wal, WalOptions};

use crate::workers::TxnLog;

/// `Record.kind` of a txn.
pub const TXN_RECORD_KIND: u8 = 1;
const SECRET_FILE: &str = "session-secret";

#[derive(Debug)]
pub enum StorageError {
    Io {
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
    Wal(wal::Error),
    /// A record or snapshot whose CRC checked out but whose contents do not decode.
    Content {
        path: PathBuf,
        what: String,
    },
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { what, path, source } => {
                write!(f, "{what} {}: {source}", path.display())
            }
            StorageError::Wal(e) => write!(f, "{e}"),
            StorageError::Content { path, what } => write!(f, "{}: {what}", path.display()),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<wal::Error> for StorageError {
    fn from(e: wal::Error) -> StorageError {
        StorageError::Wal(e)
    }
}

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let (what, path) = (what.to_string(), path.to_path_buf());
    move |source| StorageError::Io { what, path, source }
}

pub struct Recovered {
    pub tree: DataTree,
    /// The zxid of the snapshot loaded (0 if none).
    pub snapshot_zxid: i64,
    pub wal: Wal<LogDisk>,
    pub secret: u64,
}

pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

pub fn log_dir(data_log_dir: &Path) -> PathBuf {
    data_log_dir.join("log")
}

/// Loads the newest valid snapshot and replays the log after it.
pub fn recover(
    data_dir: &Path,
    data_log_dir: &Path,
    tree_config: TreeConfig,
    wal_options: WalOptions,
) -> Result<Recovered, StorageError> {
    let disk = FileDisk;
    for dir in [data_dir, data_log_dir] {
        std::fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
    }
    let secret = load_or_create_secret(data_dir)?;
    let snapshot_dir = snapshot_dir(data_dir);
    std::fs::create_dir_all(&snapshot_dir).map_err(io_err("cannot create", &snapshot_dir))?;
    for stale in wal::snapshot::remove_stale_tmp(&disk, &snapshot_dir)? {
        log::info!("removed unfinished snapshot {}", stale.display());
    }
    let (newest, skipped) = wal::snapshot::open_newest_valid(&disk, &snapshot_dir)?;
    for e in skipped {
        log::warn!("skipping a damaged snapshot, falling back to an older one: {e}");
    }
    let tree = match newest {
        None => DataTree::new(tree_config.clone()),
        Some(mut reader) => {
            let path = reader.path.clone();
            let mut body = Vec::with_capacity(reader.body_len() as usize);
            reader
                .read_to_end(&mut body)
                .map_err(io_err("cannot read snapshot", &path))?;
            let tree = DataTree::decode_snapshot(&body, tree_config.clone()).map_err(|e| {
                StorageError::Content {
                    path: path.clone(),
                    what: e.to_string(),
                }
            })?;
            if tree.last_zxid() as u64 != reader.last_index {
                return Err(StorageError::Content {
                    path,
                    what: format!(
                        "snapshot names index {} but holds zxid {:#x}",
                        reader.last_index,
                        tree.last_zxid()
                    ),
                });
            }
            log::info!(
                "loaded snapshot {} (zxid {:#x}, {} znodes)",
                path.display(),
                tree.last_zxid(),
                tree.node_count()
            );
            tree
        }
    };
    let log_dir = log_dir(data_log_dir);
    std::fs::create_dir_all(&log_dir).map_err(io_err("cannot create", &log_dir))?;
    let first = tree.last_zxid() as u64 + 1;
    let (mut wal, report) = Wal::open(LogDisk, &log_dir, first, wal_options)?;
    if let Some(torn) = &report.torn_tail {
        log::warn!("write-ahead log: truncated a torn tail: {torn}");
    }
    for removed in &report.removed {
        log::warn!("write-ahead log: removed {removed}");
    }
    let snapshot_zxid = tree.last_zxid();
    let mut tree = tree;
    let replayed_count = replay(&mut wal, &mut tree, &log_dir)?;
    log::info!(
        "recovered zxid {:#x}: {} znodes, {} txns replayed from the log, digest {:#018x}",
        tree.last_zxid(),
        tree.node_count(),
        replayed_count,
        tree.digest()
    );
    Ok(Recovered {
        tree,
        snapshot_zxid,
        wal,
        secret,
    })
}

fn replay(
    wal: &mut Wal<LogDisk>,
    tree: &mut DataTree,
    log_dir: &Path,
) -> Result<u64, StorageError> {
    let from = tree.last_zxid() as u64 + 1;
    if wal.last_index() < from {
        return Ok(0);
    }
    if wal.first_index() > from {
        return Err(StorageError::Content {
            path: log_dir.to_path_buf(),
            what: format!(
                "the log starts at index {} but the snapshot ends at {}: records are missing",
                wal.first_index(),
                from - 1
            ),
        });
    }
    let mut count = 0u64;
    for record in wal.iter_from(from)? {
        let record = record?;
        let content = |what: String| StorageError::Content {
            path: log_dir.to_path_buf(),
            what,
        };
        if record.kind != TXN_RECORD_KIND {
            return Err(content(format!(
                "record {} has unknown kind {}",
                record.index, record.kind
            )));
        }
        let txn = Txn::decode(&record.payload)
            .map_err(|e| content(format!("record {}: {e}", record.index)))?;
        if txn.zxid as u64 != record.index {
            return Err(content(format!(
                "record {} holds txn zxid {:#x}",
                record.index, txn.zxid
            )));
        }
        tree.apply(&txn);
        count += 1;
    }
    Ok(count)
}

/// The session secret: read from `dataDir/session-secret`, or made from the kernel's random
/// source and written durably (tmp, fsync, rename, fsync dir) on first start.
fn load_or_create_secret(data_dir: &Path) -> Result<u64, StorageError> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes: [u8; 8] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| StorageError::Content {
                        path: path.clone(),
                        what: format!("expected 8 bytes, found {}", bytes.len()),
                    })?;
            Ok(u64::from_le_bytes(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = crate::sys::random_u64().map_err(io_err("getrandom for", &path))?;
            let tmp = data_dir.join(format!("{SECRET_FILE}.tmp"));
            std::fs::write(&tmp, secret.to_le_bytes()).map_err(io_err("cannot write", &tmp))?;
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io_err("cannot sync", &tmp))?;
            std::fs::rename(&tmp, &path).map_err(io_err("cannot rename", &tmp))?;
            std::fs::File::open(data_dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("cannot sync", data_dir))?;
            Ok(secret)
        }
        Err(e) => Err(StorageError::Io {
            what: "cannot read".to_string(),
            path,
            source: e,
        }),
    }
}

/// The write-ahead log behind the log worker.
pub struct WalLog {
    wal: Wal<LogDisk>,
    force_sync: bool,
}

impl WalLog {
    pub fn new(wal: Wal<LogDisk>, force_sync: bool) -> WalLog {
        if !force_sync {
            log::warn!(
                "forceSync=no: writes are acknowledged before they reach the disk; a power \
                 loss can lose acknowledged writes"
            );
        }
        WalLog { wal, force_sync }
    }
}

impl TxnLog for WalLog {
    fn bounds(&self) -> crate::workers::LogBounds {
        // Standalone logs are written with term 0 (there is no election); Raft fills terms.
        crate::workers::LogBounds {
            first_index: self.wal.first_index(),
            first_term: 0,
            last_index: self.wal.last_index(),
            last_term: self.wal.last_term().unwrap_or(0),
        }
    }

    fn append(&mut self, txns: &[Txn]) {
        let records: Vec<Record> = txns
            .iter()
            .map(|txn| {
                let mut w = wire::Writer::new();
                txn.encode(&mut w);
                Record {
                    kind: TXN_RECORD_KIND,
                    term: 0,
                    index: txn.zxid as u64,
                    payload: w.into_inner(),
                }
            })
            .collect();
        let result = self.wal.append_batch(&records).and_then(|()| {
            if self.force_sync {
                self.wal.sync()
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            // A failed write or fsync leaves the file in an unknown state: never carry on.
            log::error!("write-ahead log failed, aborting: {e}");
            std::process::abort();
        }
        assert_eq!(
            self.wal.last_index(),
            txns.last().map(|t| t.zxid as u64).unwrap_or(0),
            "the log ends at the last txn appended"
        );
    }

    fn purge(&mut self, snapshot_index: u64, reserve_count: u64) {
        let first_before = self.wal.first_index();
        match self.wal.purge(snapshot_index, reserve_count) {
            Ok(removed) if removed.is_empty() => {}
            Ok(removed) => log::info!(
                "write-ahead log: purged {} segment(s) before index {} (snapshot {}, reserve {})",
                removed.len(),
                self.wal.first_index(),
                snapshot_index,
                reserve_count
            ),
            Err(e) => log::error!("write-ahead log: purge failed: {e}"),
        }
        assert!(
            self.wal.first_index() >= first_before,
            "purge never moves the log's start back"
        );
    }
}

/// The disk the write-ahead log lives on: `FileDisk`, except that new segments get real
/// blocks from `fallocate(2)` (ZooKeeper pads its logs likewise) so appends into them
/// allocate nothing and each `fdatasync` writes data only. Filesystems without fallocate
/// get `set_len`, as `FileDisk` does.
pub struct LogDisk;

pub struct LogFile(wal::disk::FsFile);

impl DiskFile for LogFile {
    fn len_bytes(&self) -> std::io::Result<u64> {
        self.0.len_bytes()
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }

    fn write_all_at(&mut self, data: &[u8], offset: u64) -> std::io::Result<()> {
        self.0.write_all_at(data, offset)
    }

    fn set_len(&mut self, len_bytes: u64) -> std::io::Result<()> {
        self.0.set_len(len_bytes)
    }

    fn preallocate(&mut self, len_bytes: u64) -> std::io::Result<()> {
        use std::os::unix::io::AsRawFd;
        match crate::sys::fallocate(self.0.as_raw_fd(), len_bytes) {
            Ok(()) => {
                // fallocate never shrinks; the segment must be exactly this long.
                if self.0.len_bytes()? != len_bytes {
                    self.0.set_len(len_bytes)?;
                }
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => self.0.set_len(len_bytes),
            Err(e) => Err(e),
        }
    }

    fn sync_data(&mut self) -> std::io::Result<()> {
        self.0.sync_data()
    }
}

impl Disk for LogDisk {
    type File = LogFile;

    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        FileDisk.create_dir_all(dir)
    }

    fn create_new(&self, path: &Path) -> std::io::Result<LogFile> {
        FileDisk.create_new(path).map(LogFile)
    }

    fn open(&self, path: &Path) -> std::io::Result<LogFile> {
        FileDisk.open(path).map(LogFile)
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        FileDisk.list(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        FileDisk.rename(from, to)
    }

    fn remove(&self, path: &Path) -> std::io::Result<()> {
        FileDisk.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        FileDisk.sync_dir(dir)
    }
}

//! What the server keeps on disk, and how it comes back after a crash.
//!
//! Layout: `dataLogDir/log/` holds the write-ahead log (`wal` segments; one record per Raft
//! entry: record index = entry index = zxid, record term = entry term, kind
//! `ENTRY_NORMAL_KIND` or `ENTRY_CONF_CHANGE_KIND`, payload = entry data, see
//! replication.rs); `dataDir/raft-state` holds Raft's term and vote; `dataDir/snapshots/`
//! holds snapshots (`wal` snapshot files: header index and term, meta = the membership,
//! body = `DataTree::encode_snapshot`, streamed out in the background by `snapshots.rs`);
//! `dataDir/session-secret` holds the 8-byte secret session passwords derive from, so a
//! client can resume its session after a restart.
//!
//! Recovery (`recover`): the newest snapshot that verifies (older ones are tried if it does
//! not, each failure logged), and every WAL record after it, handed to Raft, which
//! re-delivers the committed ones for apply; a torn WAL tail is truncated with a log line,
//! corruption anywhere else refuses the start with the file and byte offset. The durability
//! rule the write path keeps: an entry is applied, and its client answered, only after it is
//! committed, and the leader counts itself towards a commit only for entries its log worker
//! has made durable (`fdatasync`, unless `forceSync=no`).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use tree::{DataTree, TreeConfig};
use wal::{FileDisk, Record, Wal, WalOptions};

use crate::log_disk::LogDisk;
use crate::workers::{PersistJob, RaftLog};

/// `Record.kind` of a Raft `Normal` entry (kind 1 was the pre-Raft txn record).
pub const ENTRY_NORMAL_KIND: u8 = 2;
/// `Record.kind` of a Raft `ConfChange` entry.
pub const ENTRY_CONF_CHANGE_KIND: u8 = 3;
const SECRET_FILE: &str = "session-secret";
const CLUSTER_ID_FILE: &str = "cluster-id";

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
    /// The tree as the newest snapshot left it (empty without one). Raft re-delivers the
    /// committed entries after it.
    pub tree: DataTree,
    /// The index of the snapshot loaded (0 if none).
    pub snapshot_zxid: i64,
    /// What Raft finds on disk: hard state, snapshot meta, the entries after it.
    pub raft: raft::Storage,
    pub wal: Wal<LogDisk>,
    pub secret: u64,
    /// The log was damaged and set aside: Raft must not vote until a leader caught it up.
    pub recovering: bool,
}

pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

pub fn log_dir(data_log_dir: &Path) -> PathBuf {
    data_log_dir.join("log")
}

/// Loads the newest valid snapshot and reads the log after it for Raft. A one-voter server
/// with nothing on disk writes the bootstrap entry naming `bootstrap_voters` (Raft's
/// `Storage::bootstrap`) before it starts; a cluster member (`None`) starts empty and
/// bootstraps or joins once it has heard from its peers (server/joining.rs).
pub fn recover(
    data_dir: &Path,
    data_log_dir: &Path,
    tree_config: TreeConfig,
    wal_options: WalOptions,
    bootstrap_voters: Option<&[raft::NodeId]>,
    repair_from_leader: bool,
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
    let (tree, raft_snapshot, snapshot_bytes) = match newest {
        None => (DataTree::new(tree_config.clone()), None, 0),
        Some(mut reader) => {
            let path = reader.path.clone();
            let content = |what: String| StorageError::Content {
                path: path.clone(),
                what,
            };
            let membership = crate::replication::decode_membership(&reader.meta)
                .map_err(|e| content(e.to_string()))?;
            let mut body = Vec::with_capacity(reader.body_len() as usize);
            reader
                .read_to_end(&mut body)
                .map_err(io_err("cannot read snapshot", &path))?;
            let tree = DataTree::decode_snapshot(&body, tree_config.clone())
                .map_err(|e| content(e.to_string()))?;
            if tree.last_zxid() as u64 != reader.last_index {
                return Err(content(format!(
                    "snapshot names index {} but holds zxid {:#x}",
                    reader.last_index,
                    tree.last_zxid()
                )));
            }
            log::info!(
                "loaded snapshot {} (index {}, term {}, {} znodes)",
                path.display(),
                reader.last_index,
                reader.last_term,
                tree.node_count()
            );
            // Raft knows only the image's size: a leader streams it to followers from this
            // file (`snapshot_bytes_in_driver`), so it is not held in memory twice.
            let snapshot = raft::Snapshot {
                meta: raft::SnapshotMeta {
                    index: raft::LogIndex(reader.last_index),
                    term: raft::Term(reader.last_term),
                    membership,
                },
                data: Vec::new(),
            };
            (tree, Some(snapshot), reader.body_len())
        }
    };
    let snapshot_index = tree.last_zxid() as u64;
    let log_dir = log_dir(data_log_dir);
    std::fs::create_dir_all(&log_dir).map_err(io_err("cannot create", &log_dir))?;
    let (mut wal, report, damaged) =
        match Wal::open(LogDisk, &log_dir, snapshot_index + 1, wal_options) {
            Ok((wal, report)) => (wal, report, false),
            // A cluster member need not refuse to start: the leader holds the log. The damaged
            // files are kept aside for inspection, never read again.
            Err(e @ (wal::Error::Corrupt { .. } | wal::Error::Gap { .. }))
                if repair_from_leader =>
            {
                let aside = set_log_aside(&log_dir)?;
                log::warn!(
                    "write-ahead log is damaged ({e}); moved it to {} and will recover the log \
                     from the leader, without voting until caught up",
                    aside.display()
                );
                let (wal, report) = Wal::open(LogDisk, &log_dir, snapshot_index + 1, wal_options)?;
                (wal, report, true)
            }
            Err(e) => return Err(e.into()),
        };
    if let Some(torn) = &report.torn_tail {
        log::warn!("write-ahead log: truncated a torn tail: {torn}");
    }
    for removed in &report.removed {
        log::warn!("write-ahead log: removed {removed}");
    }
    if wal.last_index() < snapshot_index {
        // A snapshot received from the leader was installed and the server stopped before
        // the log was emptied after it: the log is wholly older than the snapshot.
        log::info!(
            "write-ahead log ends at {} before the snapshot at {snapshot_index}: starting it \
             after the snapshot",
            wal.last_index()
        );
        wal.reset(snapshot_index + 1)?;
    }
    let stored =
        crate::replication::read_hard_state(data_dir).map_err(|what| StorageError::Content {
            path: data_dir.join(crate::replication::RAFT_STATE_FILE),
            what,
        })?;
    let recovering = damaged || stored.is_some_and(|s| s.recovering);
    let mut hard_state = stored.map(|s| s.hard_state);
    let fresh =
        !damaged && raft_snapshot.is_none() && wal.last_index() == 0 && hard_state.is_none();
    let entries = if let Some(voters) = bootstrap_voters.filter(|_| fresh) {
        let boot = raft::Storage::bootstrap(voters);
        let records: Vec<Record> = boot.entries.iter().map(entry_record).collect();
        wal.append_batch_durable(&records)?;
        let state = crate::replication::RaftState {
            hard_state: boot.hard_state,
            recovering: false,
        };
        crate::replication::write_hard_state(data_dir, &state)
            .map_err(io_err("cannot write", &data_dir.join("raft-state")))?;
        log::info!(
            "new server: bootstrapped the log with voters {:?}",
            voters.iter().map(|v| v.0).collect::<Vec<_>>()
        );
        hard_state = Some(boot.hard_state);
        boot.entries
    } else {
        read_entries(&mut wal, snapshot_index, &log_dir)?
    };
    let mut hard_state = hard_state.unwrap_or_default();
    let last = entries.last().map(|e| e.index.0).unwrap_or(snapshot_index);
    if hard_state.commit.0 > last || hard_state.commit.0 < snapshot_index {
        // The stored commit is a hint; Raft relearns it.
        hard_state.commit = raft::LogIndex(snapshot_index.min(last));
    }
    if damaged {
        // Durably marked before anything else happens, so that a crash during the
        // recovery restarts it instead of voting with a log that lacks entries.
        let state = crate::replication::RaftState {
            hard_state,
            recovering: true,
        };
        crate::replication::write_hard_state(data_dir, &state)
            .map_err(io_err("cannot write", &data_dir.join("raft-state")))?;
    }
    log::info!(
        "recovered: snapshot at {snapshot_index}, log {}..={}, term {}, commit {}",
        wal.first_index(),
        wal.last_index(),
        hard_state.term,
        hard_state.commit
    );
    Ok(Recovered {
        tree,
        snapshot_zxid: snapshot_index as i64,
        raft: raft::Storage {
            hard_state,
            snapshot: raft_snapshot,
            snapshot_bytes,
            entries,
        },
        wal,
        secret,
        recovering,
    })
}

/// Renames a damaged log directory to `log.damaged-<ms since the epoch>` beside it.
fn set_log_aside(log_dir: &Path) -> Result<PathBuf, StorageError> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let aside = log_dir.with_file_name(format!("log.damaged-{ms}"));
    std::fs::rename(log_dir, &aside).map_err(io_err("cannot move aside", log_dir))?;
    if let Some(parent) = log_dir.parent() {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err("cannot sync", parent))?;
    }
    Ok(aside)
}

/// The WAL record of a Raft entry.
fn entry_record(entry: &raft::Entry) -> Record {
    Record {
        kind: match entry.kind {
            raft::EntryKind::Normal => ENTRY_NORMAL_KIND,
            raft::EntryKind::ConfChange => ENTRY_CONF_CHANGE_KIND,
        },
        term: entry.term.0,
        index: entry.index.0,
        payload: entry.data.clone(),
    }
}

/// Every entry after `snapshot_index` (the log must reach back to it).
fn read_entries(
    wal: &mut Wal<LogDisk>,
    snapshot_index: u64,
    log_dir: &Path,
) -> Result<Vec<raft::Entry>, StorageError> {
    let from = snapshot_index + 1;
    if wal.last_index() < from {
        return Ok(Vec::new());
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
    let mut entries = Vec::new();
    for record in wal.iter_from(from)? {
        let record = record?;
        let kind = match record.kind {
            ENTRY_NORMAL_KIND => raft::EntryKind::Normal,
            ENTRY_CONF_CHANGE_KIND => raft::EntryKind::ConfChange,
            other => {
                return Err(StorageError::Content {
                    path: log_dir.to_path_buf(),
                    what: format!(
                        "record {} has unknown kind {other} (a log from another version?)",
                        record.index
                    ),
                })
            }
        };
        entries.push(raft::Entry {
            term: raft::Term(record.term),
            index: raft::LogIndex(record.index),
            kind,
            data: record.payload,
        });
    }
    Ok(entries)
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
            write_file_durably(data_dir, SECRET_FILE, &secret.to_le_bytes())?;
            Ok(secret)
        }
        Err(e) => Err(StorageError::Io {
            what: "cannot read".to_string(),
            path,
            source: e,
        }),
    }
}

/// `dataDir/name` holds `bytes`, whole or not at all, once this returns: a temp file,
/// fsynced, renamed over, and the directory fsynced.
pub fn write_file_durably(data_dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = data_dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io_err("cannot write", &tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_err("cannot sync", &tmp))?;
    std::fs::rename(&tmp, data_dir.join(name)).map_err(io_err("cannot rename", &tmp))?;
    std::fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("cannot sync", data_dir))
}

/// The id of the cluster this server belongs to (`dataDir/cluster-id`: the id, 8 bytes
/// big-endian, then their crc32), if it has learned one.
pub fn read_cluster_id(data_dir: &Path) -> Result<Option<u64>, StorageError> {
    let path = data_dir.join(CLUSTER_ID_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot read", &path)(e)),
    };
    let content = |what: String| StorageError::Content {
        path: path.clone(),
        what,
    };
    let bytes: [u8; 12] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| content(format!("expected 12 bytes, found {}", bytes.len())))?;
    let (id, crc) = bytes.split_at(8);
    if crc32fast::hash(id).to_be_bytes() != crc {
        return Err(content("checksum mismatch".to_string()));
    }
    Ok(Some(u64::from_be_bytes(id.try_into().expect("8 bytes"))))
}

pub fn write_cluster_id(data_dir: &Path, id: u64) -> Result<(), StorageError> {
    let mut bytes = id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&crc32fast::hash(&id.to_be_bytes()).to_be_bytes());
    write_file_durably(data_dir, CLUSTER_ID_FILE, &bytes)
}

/// The write-ahead log and the hard-state file behind the log worker.
pub struct WalLog {
    wal: Wal<LogDisk>,
    data_dir: PathBuf,
    snapshot_dir: PathBuf,
    force_sync: bool,
}

impl WalLog {
    pub fn new(wal: Wal<LogDisk>, data_dir: &Path, force_sync: bool) -> WalLog {
        if !force_sync {
            log::warn!(
                "forceSync=no: writes are acknowledged before they reach the disk; a power \
                 loss can lose acknowledged writes"
            );
        }
        WalLog {
            wal,
            data_dir: data_dir.to_path_buf(),
            snapshot_dir: snapshot_dir(data_dir),
            force_sync,
        }
    }

    fn persist_or_fail(&mut self, job: &PersistJob) -> Result<(), String> {
        if let Some(snapshot) = &job.snapshot {
            let index = snapshot.meta.index.0;
            let meta = crate::replication::encode_membership(&snapshot.meta.membership);
            let mut writer = wal::SnapshotWriter::create(
                FileDisk,
                &self.snapshot_dir,
                index,
                snapshot.meta.term.0,
                &meta,
            )
            .map_err(|e| e.to_string())?;
            writer
                .write_body(&snapshot.data)
                .map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())?;
            self.wal.reset(index + 1).map_err(|e| e.to_string())?;
            log::info!("installed the leader's snapshot at index {index}");
        }
        if let Some(first) = job.entries.first() {
            let from = first.index.0;
            if from <= self.wal.last_index() {
                log::info!(
                    "write-ahead log: dropping entries from {from} (they conflict with the \
                     leader's)"
                );
                self.wal.truncate_suffix(from).map_err(|e| e.to_string())?;
            }
            let records: Vec<Record> = job.entries.iter().map(entry_record).collect();
            self.wal.append_batch(&records).map_err(|e| e.to_string())?;
        }
        if job.sync && self.force_sync && !job.entries.is_empty() {
            self.wal.sync().map_err(|e| e.to_string())?;
        }
        if let Some(hs) = &job.hard_state {
            let state = crate::replication::RaftState {
                hard_state: *hs,
                recovering: job.recovering,
            };
            crate::replication::write_hard_state(&self.data_dir, &state)
                .map_err(|e| format!("cannot write the raft state: {e}"))?;
        }
        Ok(())
    }
}

impl RaftLog for WalLog {
    fn bounds(&self) -> crate::workers::LogBounds {
        crate::workers::LogBounds {
            first_index: self.wal.first_index(),
            first_term: 0,
            last_index: self.wal.last_index(),
            last_term: self.wal.last_term().unwrap_or(0),
        }
    }

    fn persist(&mut self, job: &PersistJob) {
        if let Err(e) = self.persist_or_fail(job) {
            // A failed write or fsync leaves the files in an unknown state: never carry on.
            log::error!("write-ahead log failed, aborting: {e}");
            std::process::abort();
        }
        if let Some(last) = job.entries.last() {
            assert_eq!(
                self.wal.last_index(),
                last.index.0,
                "the log ends at the last entry appended"
            );
        }
    }

    fn purge(&mut self, snapshot_index: u64, reserve_count: u64) -> Vec<PathBuf> {
        let first_before = self.wal.first_index();
        let files = match self.wal.purge(snapshot_index, reserve_count) {
            Ok(removed) => {
                if !removed.is_empty() {
                    log::info!(
                        "write-ahead log: purged {} segment(s) before index {} (snapshot {}, \
                         reserve {})",
                        removed.len(),
                        self.wal.first_index(),
                        snapshot_index,
                        reserve_count
                    );
                }
                removed
            }
            Err(e) => {
                log::error!("write-ahead log: purge failed: {e}");
                Vec::new()
            }
        };
        assert!(
            self.wal.first_index() >= first_before,
            "purge never moves the log's start back"
        );
        files
    }
}

//! `ferrokeeper convert`: reads an Apache ZooKeeper (3.4–3.9) data directory and produces the
//! same tree as a Ferrokeeper snapshot, sessions and ephemerals included.
//!
//! The restore follows `FileTxnSnapLog.restore` and `ZooKeeperServer.loadData`:
//! 1. the newest `snapshot.<zxid>` is read into ZooKeeper's own tree model (snapshot.rs,
//!    replay.rs), its Adler32 seals checked;
//! 2. every txn with a zxid above the snapshot's, from the logs that can hold one
//!    (files.rs, txnlog.rs, records.rs), is applied with ZooKeeper's replay rules
//!    (replay.rs, quota.rs), so the Stats come out exactly as ZooKeeper's; ZooKeeper's own
//!    tree digest (3.6+ files carry it) is compared after the snapshot's fuzzy range and
//!    after every txn (digest.rs), and a difference is reported;
//! 3. ephemerals whose session is not in the session table are deleted, as ZooKeeper does
//!    on start-up;
//! 4. the result becomes a `tree::DataTree` (into_tree.rs), which is written as
//!    `OUTPUT/ferrokeeper-snapshot.bin` (the `DataTree::encode_snapshot` bytes: the root
//!    package does not depend on the wal crate, whose snapshot file also needs a raft index,
//!    term and metadata an imported tree does not have yet) and, with `--list`, printed in
//!    the format of `shared/tools/zk_tree_list.py` (listing.rs).
//!
//! Stricter than ZooKeeper, because a converter that guesses loses data silently: a newest
//! snapshot that does not read whole is an error (ZooKeeper would fall back to an older
//! one), and so is a missing txn — within one epoch zxids are consecutive, so a gap after
//! the snapshot means a log is missing or was cut. A torn last record in a log (a crash
//! mid-write) ends that log, as in ZooKeeper, with a warning. Every error names the file
//! and, for bad contents, the byte offset.

mod checksum;
mod digest;
mod files;
mod into_tree;
mod listing;
mod quota;
mod records;
mod replay;
pub(crate) mod snapshot;
pub(crate) mod txnlog;
mod zk_password;

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use files::ZkFile;
use replay::ZkTree;
use txnlog::LogEnd;

/// The file `convert` writes into its output directory.
pub const OUTPUT_FILE_NAME: &str = "ferrokeeper-snapshot.bin";

/// What `ferrokeeper convert` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// ZooKeeper's dataDir (or its version-2 directory).
    pub zk_data: PathBuf,
    /// ZooKeeper's dataLogDir when the logs live elsewhere.
    pub zk_log_dir: Option<PathBuf>,
    /// Where to write the Ferrokeeper snapshot; None only with `list`.
    pub output: Option<PathBuf>,
    /// Print the tree listing on stdout.
    pub list: bool,
}

/// Why a conversion failed: the file, the byte offset when the contents are at fault, and
/// what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertError {
    pub file: PathBuf,
    pub offset: Option<u64>,
    pub what: String,
}

impl ConvertError {
    fn file(file: &Path, what: impl Into<String>) -> ConvertError {
        ConvertError {
            file: file.to_path_buf(),
            offset: None,
            what: what.into(),
        }
    }

    fn io(file: &Path, e: &std::io::Error) -> ConvertError {
        ConvertError::file(file, e.to_string())
    }

    fn at(file: &Path, e: wire::DecodeError) -> ConvertError {
        ConvertError {
            file: file.to_path_buf(),
            offset: Some(e.offset as u64),
            what: e.what,
        }
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{}: byte {offset}: {}", self.file.display(), self.what),
            None => write!(f, "{}: {}", self.file.display(), self.what),
        }
    }
}

impl std::error::Error for ConvertError {}

/// What a conversion did, for the summary printed on stderr.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub snapshot: PathBuf,
    pub logs: Vec<PathBuf>,
    pub txns_replayed: u64,
    pub last_zxid: i64,
    pub znodes: usize,
    pub sessions: usize,
    pub ephemerals: usize,
    /// Times our replayed tree was compared with ZooKeeper's own digest, and how many
    /// comparisons differed.
    pub digests_checked: u64,
    pub digest_mismatches: u64,
    pub output: Option<PathBuf>,
    pub warnings: Vec<String>,
}

/// Runs a conversion; the listing (with `list`) goes to `listing_out`.
pub fn run(
    options: &Options,
    listing_out: &mut dyn std::io::Write,
) -> Result<Summary, ConvertError> {
    assert!(
        options.list || options.output.is_some(),
        "convert needs --output or --list"
    );
    let snap_dir = files::resolve_dir(&options.zk_data)?;
    let log_dir = match &options.zk_log_dir {
        Some(dir) => files::resolve_dir(dir)?,
        None => snap_dir.clone(),
    };
    let mut summary = Summary::default();
    let (mut zk, snapshot_zxid) = load_newest_snapshot(&snap_dir, &mut summary)?;
    let logs = files::list(&log_dir, "log")?;
    replay_logs(
        &mut zk,
        snapshot_zxid,
        &files::logs_after(&logs, snapshot_zxid),
        &mut summary,
    )?;
    report_digests(&zk, &mut summary);
    zk.kill_dead_sessions();
    if zk.stats.orphan_ephemerals_removed > 0 {
        summary.warnings.push(format!(
            "{} ephemerals of sessions missing from the session table were deleted, as \
             ZooKeeper does on start-up",
            zk.stats.orphan_ephemerals_removed
        ));
    }
    let tree = into_tree::to_data_tree(&zk)
        .map_err(|why| ConvertError::file(&summary.snapshot, format!("cannot convert: {why}")))?;
    summary.last_zxid = tree.last_zxid();
    summary.znodes = tree.len();
    summary.sessions = tree.sessions().len();
    summary.ephemerals = tree
        .sessions()
        .iter()
        .map(|(_, s)| s.ephemerals.len())
        .sum();
    if let Some(dir) = &options.output {
        summary.output = Some(write_output(dir, &tree)?);
    }
    if options.list {
        let text = listing::list_tree(&tree);
        listing_out
            .write_all(text.as_bytes())
            .map_err(|e| ConvertError::io(Path::new("<stdout>"), &e))?;
    }
    Ok(summary)
}

/// Reads the newest snapshot; returns ZooKeeper's tree and the zxid in the file name.
fn load_newest_snapshot(dir: &Path, summary: &mut Summary) -> Result<(ZkTree, i64), ConvertError> {
    let snapshots = files::list(dir, "snapshot")?;
    let Some(newest) = snapshots.last() else {
        return Err(ConvertError::file(
            dir,
            "no snapshot.* file here (ZooKeeper writes one at its first start; is this a \
             ZooKeeper dataDir?)",
        ));
    };
    summary.snapshot = newest.path.clone();
    if let Some(method) = &newest.compression {
        return Err(ConvertError::file(
            &newest.path,
            format!(
                "{method}-compressed snapshots are not supported; restart ZooKeeper once with \
                 zookeeper.snapshot.compression.method=CHECKED so it writes a plain one"
            ),
        ));
    }
    let bytes = std::fs::read(&newest.path).map_err(|e| ConvertError::io(&newest.path, &e))?;
    let (tree, info) = snapshot::read_snapshot(&bytes, newest.zxid).map_err(|e| {
        let mut err = ConvertError::at(&newest.path, e);
        if snapshots.len() > 1 {
            err.what.push_str(
                " (ZooKeeper would skip this snapshot and use an older one; move it aside \
                 to do the same)",
            );
        }
        err
    })?;
    assert!(tree.nodes.contains_key(""), "a loaded snapshot has a root");
    if info.node_count == 0 {
        return Err(ConvertError::file(
            &newest.path,
            "the snapshot holds no nodes",
        ));
    }
    Ok((tree, newest.zxid))
}

/// Applies every txn after `snapshot_zxid` from `logs` (oldest first).
fn replay_logs(
    zk: &mut ZkTree,
    snapshot_zxid: i64,
    logs: &[ZkFile],
    summary: &mut Summary,
) -> Result<(), ConvertError> {
    let mut previous = snapshot_zxid;
    for log in logs {
        let bytes = std::fs::read(&log.path).map_err(|e| ConvertError::io(&log.path, &e))?;
        let parsed = txnlog::read_log(&bytes).map_err(|e| ConvertError::at(&log.path, e))?;
        summary.logs.push(log.path.clone());
        for record in &parsed.records {
            let zxid = record.entry.header.zxid;
            if zxid <= snapshot_zxid {
                continue;
            }
            check_sequence(previous, zxid).map_err(|what| ConvertError {
                file: log.path.clone(),
                offset: Some(record.offset as u64),
                what,
            })?;
            let entry = &record.entry;
            zk.process_txn(&entry.header, &entry.txn, entry.digest);
            summary.txns_replayed += 1;
            previous = zxid;
        }
        if let LogEnd::Torn { offset, why } = &parsed.end {
            summary.warnings.push(format!(
                "{}: byte {offset}: torn last record ({why}); the log ends there, as in \
                 ZooKeeper",
                log.path.display()
            ));
        }
    }
    Ok(())
}

/// ZooKeeper only logs digest differences; so do we, loudly: they mean the replayed tree is
/// not the one ZooKeeper had.
fn report_digests(zk: &ZkTree, summary: &mut Summary) {
    summary.digests_checked = zk.stats.digests_checked;
    summary.digest_mismatches = zk.stats.digest_mismatches;
    if let Some((zxid, theirs, ours)) = zk.stats.first_digest_mismatch {
        summary.warnings.push(format!(
            "{} of {} comparisons with ZooKeeper's tree digest differ, the first after zxid \
             {zxid:#x} (ZooKeeper {theirs:#x}, converted {ours:#x}): the converted tree may \
             not be the one ZooKeeper had; please report this",
            zk.stats.digest_mismatches, zk.stats.digests_checked
        ));
    }
    if let Some(zxid) = zk.unreached_snapshot_digest() {
        summary.warnings.push(format!(
            "the snapshot's digest is for zxid {zxid:#x}, which no log reaches: txns after \
             the snapshot may be missing"
        ));
    }
}

/// Zxids must grow; within an epoch (the high 32 bits) they must be consecutive.
fn check_sequence(previous: i64, zxid: i64) -> Result<(), String> {
    if zxid <= previous {
        return Err(format!(
            "txn zxid {zxid:#x} does not follow {previous:#x}: the logs overlap or are out of order"
        ));
    }
    let same_epoch = previous >> 32 == zxid >> 32;
    if same_epoch && zxid != previous + 1 {
        return Err(format!(
            "txn zxid {zxid:#x} follows {previous:#x}: {} txns are missing (a log file is \
             missing or was cut short)",
            zxid - previous - 1
        ));
    }
    Ok(())
}

/// Writes `dir/ferrokeeper-snapshot.bin` (temporary file, fsync, rename, fsync of the
/// directory) after checking that the bytes load back into the same tree.
fn write_output(dir: &Path, tree: &tree::DataTree) -> Result<PathBuf, ConvertError> {
    std::fs::create_dir_all(dir).map_err(|e| ConvertError::io(dir, &e))?;
    let target = dir.join(OUTPUT_FILE_NAME);
    if target.exists() {
        return Err(ConvertError::file(
            &target,
            "already exists; remove it or choose another --output",
        ));
    }
    let mut w = wire::Writer::new();
    tree.encode_snapshot(&mut w);
    let reloaded = tree::DataTree::decode_snapshot(&w.bytes, into_tree::tree_config())
        .map_err(|e| ConvertError::file(&target, format!("written snapshot does not load: {e}")))?;
    assert_eq!(
        reloaded.digest(),
        tree.digest(),
        "snapshot round trip keeps the digest"
    );
    let tmp = dir.join(format!("{OUTPUT_FILE_NAME}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&w.bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| ConvertError::io(&target, &e))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxids_are_consecutive_within_an_epoch_and_grow_across_epochs() {
        assert!(check_sequence(0x10, 0x11).is_ok());
        assert!(check_sequence(0x1_0000_05bc, 0x2_0000_0001).is_ok());
        let gap = check_sequence(0x10, 0x13).expect_err("gap");
        assert!(gap.contains("2 txns are missing"), "{gap}");
        assert!(check_sequence(0x10, 0x10).is_err());
        assert!(check_sequence(0x2_0000_0001, 0x1_0000_0009).is_err());
    }

    #[test]
    fn errors_name_file_and_offset() {
        let err = ConvertError::at(
            Path::new("/d/log.5"),
            wire::DecodeError {
                offset: 42,
                what: "bad".into(),
            },
        );
        assert_eq!(err.to_string(), "/d/log.5: byte 42: bad");
        assert_eq!(
            ConvertError::file(Path::new("/d"), "x").to_string(),
            "/d: x"
        );
    }
}

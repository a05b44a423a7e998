//! Background snapshots: when to take one, how it leaves the event loop, and what follows
//! (retention of old snapshots, purge of the log they make redundant).
//!
//! Scheme: an incremental copy-on-write walk of the tree (`tree/src/snapshot_walk.rs` says
//! how it works and why ZooKeeper's fuzzy snapshot + replay does not fit our txns, which are
//! requests validated at apply time, not idempotent). The loop thread owns the tree, so it
//! owns the walk: `begin_snapshot` (zxid, digest, node count, sessions: small) between txns,
//! then bounded `snapshot_step`s (`STEP_NODES_MAX` nodes or about `STEP_BYTES_MAX` bytes, a
//! few hundred microseconds), with requests served in between. The pacing matters as much
//! as the bound: stepping on every turn as fast as possible kept the loop thread busy
//! without pause, the scheduler of a loaded host then stopped favouring it, and write p99
//! rose from 7.8 ms to 91 ms during back-to-back 1M-znode walks.
//!
//! Pacing: under writes, the walk keeps pace with the txns, so that it ends after half the
//! txns that make the next snapshot due (`pace_txns`): each turn walks the nodes it is
//! behind by, a few per txn, instead of a full step every millisecond (which took a third
//! of the loop for the walk's duration, and showed in the write p99). Without writes since
//! the last step, a full step every `STEP_INTERVAL_MS`; and at least one full step every
//! `STEP_INTERVAL_LOADED_MS` whatever the load, so a walk always ends.
//!
//! The encoded bytes go to the snapshot worker thread over a bounded channel. The worker does
//! every disk operation (`wal::SnapshotWriter`: write a tmp file, fsync, rename, fsync the
//! directory), with a partial fsync every `SYNC_EVERY_BYTES` so that the log's fsyncs on the
//! same device never wait behind hundreds of MiB of snapshot writeback; it then keeps
//! `autopurge.snapRetainCount` snapshots (at least 3) and reports back. The loop asks the log
//! worker, which owns the `Wal`, to remove the segments wholly before the oldest retained
//! snapshot less a reserve of `snapCount` entries, so a fallback to the oldest snapshot still
//! finds its log.
//!
//! When: after `snapCount` txns (ZooKeeper rolls a random threshold in snapCount/2..snapCount
//! after each snapshot so that ensemble members do not all snapshot at once; we do the same,
//! seeded from the kernel), and on the `csnp` four-letter word. Only one walk runs at a time;
//! a csnp during a walk starts another one right after it, so the snapshot it promised holds
//! at least the index it answered with.
//!
//! Failures: a snapshot that cannot be written is logged and dropped (the log still holds
//! every txn, so nothing is lost); a failed purge is logged by the log worker.
//!
//! Invariants: at most one walk is active, and only while `active` is `Some`; a chunk the
//! worker had no room for (`pending`) is sent before any other job of a snapshot; snapshots
//! reach the worker in zxid order, each as Begin, Chunk*, Finish. (`Free` and `Delete`
//! jobs, which only free memory or delete purged log files, may come between any two.)

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tree::DataTree;
use wal::{FileDisk, SnapshotWriter};

/// Nodes one step emits at most (about 0.2-0.3 ms of encoding for 100-byte znodes).
const STEP_NODES_MAX: usize = 2048;
/// Encoded bytes after which a step stops early (large znodes).
const STEP_BYTES_MAX: usize = 512 * 1024;
/// Time from one full step to the next when no txn came in between.
const STEP_INTERVAL_MS: u64 = 1;
/// Longest time between two full steps under load (see the module doc).
const STEP_INTERVAL_LOADED_MS: u64 = 8;
/// Nodes per `snapshot_step` call inside a turn's step, so the byte limit is checked often.
const SUB_STEP_NODES: usize = 256;
/// Fewest nodes a paced step walks (smaller debts wait for a later turn): each step seeks
/// its place in the path table again, which a step of a few nodes would pay per node.
const PACED_STEP_NODES_MIN: usize = SUB_STEP_NODES;
/// A chunk goes to the worker once this many bytes were walked (or at the walk's end), so
/// that paced steps of a few nodes do not each make a job.
const CHUNK_BYTES_MIN: usize = 256 * 1024;
/// Jobs that may wait for the snapshot worker: at most about 8 MiB of chunks.
const SNAPSHOT_QUEUE_JOBS_MAX: usize = 16;
/// Body bytes between partial fsyncs of a snapshot file: the dirty data the snapshot can
/// have outstanding, and so how long a log fsync on the same device can wait behind it.
const SYNC_EVERY_BYTES: u64 = 1 << 20;
/// `autopurge.snapRetainCount` is never below this (ZooKeeper's minimum).
const RETAIN_COUNT_MIN: usize = 3;

/// What the loop hands the snapshot worker.
enum Job {
    /// `term` and `meta` (the encoded membership) go in the file's header and meta blob.
    Begin {
        zxid: i64,
        term: u64,
        meta: Vec<u8>,
        header: Vec<u8>,
    },
    Chunk(Vec<u8>),
    Finish,
    /// The walk of `zxid` was abandoned: drop its file, report it failed.
    Abort {
        zxid: i64,
    },
    /// Raft log entries a compaction took out of memory, to be freed here: on the loop
    /// thread, freeing a snapshot's worth of entries (one allocation each) held every
    /// client up for about 10 ms.
    Free(Vec<raft::Entry>),
    /// Files to delete: write-ahead log segments a purge took out of the log (deleting a
    /// 64 MiB segment took 15-33 ms, which on the log worker every write waited for).
    Delete(Vec<PathBuf>),
}

/// What the worker reports back for each snapshot.
enum Done {
    Written {
        zxid: i64,
        size_bytes: u64,
        /// The image's size: the file's body, what a leader streams to a follower.
        body_bytes: u64,
        /// The last index of the oldest snapshot kept after retention.
        oldest_retained_index: u64,
    },
    Failed {
        zxid: i64,
    },
}

/// A walk in progress on the loop thread, or a finished one whose outcome is awaited.
struct Taken {
    zxid: i64,
    node_count: usize,
    started: Instant,
    /// Nodes walked so far (an upper bound: steps are counted whole).
    walked: usize,
    /// The tree's last zxid at the last step.
    zxid_at_step: i64,
    /// Walked bytes not yet sent as a chunk.
    out: Vec<u8>,
}

/// What the server passes in from its configuration.
pub struct SnapshotSettings {
    pub dir: PathBuf,
    pub snap_count: u32,
    pub retain_count: u32,
    /// The zxid of the snapshot recovery loaded (0 if none): counting starts from it.
    pub loaded_zxid: i64,
    pub seed: u64,
}

pub struct Snapshots {
    snap_count: u64,
    /// Txns after `last_begin_zxid` that trigger the next snapshot.
    threshold: u64,
    /// SplitMix64 state for the threshold rolls.
    prng: u64,
    last_begin_zxid: i64,
    /// A csnp asked for a snapshot that has not begun yet.
    requested: bool,
    active: Option<Taken>,
    /// When the walk may take its next full step (see the module doc).
    next_step_at: Option<Instant>,
    /// Txns over which a walk is spread: half of `threshold` at its begin.
    pace_txns: u64,
    /// Jobs the worker's queue had no room for, oldest first; at most a chunk and a Finish,
    /// because no work is done while any wait.
    pending: VecDeque<Job>,
    awaited: VecDeque<Taken>,
    /// Purged log files the worker's queue had no room for yet.
    to_delete: Vec<PathBuf>,
    /// The newest snapshot made durable by this process, or loaded at start-up.
    pub last_snapshot_zxid: i64,
    /// The body size of the snapshot at `last_snapshot_zxid` if this process wrote it (0
    /// for one loaded at start-up, which Raft learnt of from `Storage`).
    pub last_snapshot_body_bytes: u64,
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Snapshots {
    /// Starts the snapshot worker thread.
    pub fn start(settings: SnapshotSettings, waker: Arc<mio::Waker>) -> std::io::Result<Snapshots> {
        let retain_count = (settings.retain_count as usize).max(RETAIN_COUNT_MIN);
        let (jobs_tx, jobs_rx) = sync_channel::<Job>(SNAPSHOT_QUEUE_JOBS_MAX);
        let (done_tx, done_rx) = sync_channel::<Done>(SNAPSHOT_QUEUE_JOBS_MAX);
        let dir = settings.dir.clone();
        let thread = std::thread::Builder::new()
            .name("fk-snapshot".to_string())
            .spawn(move || run_worker(&dir, retain_count, &jobs_rx, &done_tx, &waker))?;
        let mut snapshots = Snapshots {
            snap_count: u64::from(settings.snap_count.max(2)),
            threshold: 0,
            prng: settings.seed,
            last_begin_zxid: settings.loaded_zxid,
            requested: false,
            active: None,
            next_step_at: None,
            pace_txns: 1,
            pending: VecDeque::new(),
            awaited: VecDeque::new(),
            to_delete: Vec::new(),
            last_snapshot_zxid: settings.loaded_zxid,
            last_snapshot_body_bytes: 0,
            jobs: Some(jobs_tx),
            done: done_rx,
            thread: Some(thread),
        };
        snapshots.roll_threshold();
        Ok(snapshots)
    }

    /// ZooKeeper's `SyncRequestProcessor.resetSnapshotStats`: snapCount/2 + random(snapCount/2).
    fn roll_threshold(&mut self) {
        let half = self.snap_count / 2;
        self.threshold = half + splitmix64(&mut self.prng) % (half + 1);
        assert!(
            self.threshold >= half && self.threshold <= self.snap_count,
            "threshold {} outside {half}..={}",
            self.threshold,
            self.snap_count
        );
    }

    /// `csnp`: a snapshot holding at least everything applied now will be written.
    pub fn request(&mut self) {
        self.requested = true;
    }

    /// When the loop must come back for snapshot work: the next step of a walk, at once for
    /// a requested snapshot, soon when the worker's queue was full; `None` if idle.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        if !self.pending.is_empty() {
            Some(now + Duration::from_millis(STEP_INTERVAL_MS))
        } else if self.active.is_some() {
            Some(self.next_step_at.unwrap_or(now))
        } else if self.requested {
            Some(now)
        } else {
            None
        }
    }

    /// One turn's share of snapshot work: begin one if due, else emit the next step. Call
    /// between txns (the end of a turn), after the turn's batch went to the log.
    /// `raft_meta(index)` gives the term and encoded membership at the snapshot's index.
    pub fn turn(
        &mut self,
        tree: &mut DataTree,
        now: Instant,
        raft_meta: impl FnOnce(u64) -> (u64, Vec<u8>),
    ) {
        self.flush_deletes();
        if !self.flush_pending() {
            return;
        }
        match &self.active {
            None => {
                let due = (tree.last_zxid() - self.last_begin_zxid) as u64 >= self.threshold;
                if self.requested || due {
                    self.begin(tree, now, raft_meta);
                }
            }
            Some(active) => {
                let idle = tree.last_zxid() == active.zxid_at_step;
                let step_due = self.next_step_at.is_none_or(|at| {
                    let loaded_wait = Duration::from_millis(STEP_INTERVAL_LOADED_MS - 1);
                    now >= if idle { at } else { at + loaded_wait }
                });
                let nodes = if step_due {
                    STEP_NODES_MAX
                } else {
                    let nodes = paced_nodes(self.pace_txns, active, tree.last_zxid(), now);
                    if nodes < PACED_STEP_NODES_MIN {
                        return;
                    }
                    nodes
                };
                self.next_step_at = Some(now + Duration::from_millis(STEP_INTERVAL_MS));
                self.step(tree, nodes);
            }
        }
        self.flush_pending();
        self.check_invariants(tree);
    }

    /// The invariants in the module doc, against the tree's view of the walk.
    fn check_invariants(&self, tree: &DataTree) {
        assert_eq!(
            self.active.is_some(),
            tree.is_snapshot_active(),
            "a walk is active here iff it is in the tree"
        );
        assert!(
            self.pending.len() <= 2,
            "{} jobs pending",
            self.pending.len()
        );
        if let Some(active) = &self.active {
            assert!(
                active.zxid <= tree.last_zxid(),
                "walk zxid {} after the tree's {}",
                active.zxid,
                tree.last_zxid()
            );
        }
    }

    fn begin(
        &mut self,
        tree: &mut DataTree,
        now: Instant,
        raft_meta: impl FnOnce(u64) -> (u64, Vec<u8>),
    ) {
        assert!(self.active.is_none(), "one walk at a time");
        assert!(self.pending.is_empty(), "no job waits when a walk begins");
        let header = tree.begin_snapshot();
        let mut w = wire::Writer::new();
        header.encode(&mut w);
        self.requested = false;
        self.last_begin_zxid = header.last_zxid;
        self.roll_threshold();
        self.pace_txns = (self.threshold / 2).max(1);
        self.active = Some(Taken {
            zxid: header.last_zxid,
            node_count: header.node_count,
            started: now,
            walked: 0,
            zxid_at_step: header.last_zxid,
            out: Vec::new(),
        });
        let (term, meta) = raft_meta(header.last_zxid as u64);
        self.pending.push_back(Job::Begin {
            zxid: header.last_zxid,
            term,
            meta,
            header: w.into_inner(),
        });
    }

    /// The tree was replaced (a leader's snapshot was installed) during a walk: the walk's
    /// tree is gone, so its file is dropped; the next snapshot starts as usual.
    pub fn abandon_walk(&mut self) {
        let Some(taken) = self.active.take() else {
            return;
        };
        // While a walk runs, only its own Begin or Chunk can wait here (`turn` begins a walk
        // only once nothing waits); the worker needs none of them now.
        self.pending.clear();
        self.pending.push_back(Job::Abort { zxid: taken.zxid });
        self.awaited.push_back(taken);
        self.next_step_at = None;
        assert!(self.active.is_none(), "no walk after abandoning it");
    }

    /// Walks up to `nodes` nodes or about `STEP_BYTES_MAX` bytes; queues a chunk once enough
    /// bytes gathered, and at the end of the walk the last chunk and Finish.
    fn step(&mut self, tree: &mut DataTree, nodes: usize) {
        assert!(tree.is_snapshot_active(), "a walk is active in the tree");
        let active = self.active.as_mut().expect("a walk is active");
        let mut out = std::mem::take(&mut active.out);
        if out.capacity() == 0 {
            // Room for a chunk and the step that completes it, so steps do not regrow it.
            out.reserve(CHUNK_BYTES_MIN + 64 * 1024);
        }
        let mut out = wire::Writer::with_vec(out);
        let start_bytes = out.bytes.len();
        let mut visited = 0;
        let mut done = false;
        while !done && visited < nodes && out.bytes.len() - start_bytes < STEP_BYTES_MAX {
            let sub_step = SUB_STEP_NODES.min(nodes - visited);
            done = tree.snapshot_step(sub_step, &mut out);
            visited += sub_step;
        }
        active.walked += visited;
        active.zxid_at_step = tree.last_zxid();
        if done || out.bytes.len() >= CHUNK_BYTES_MIN {
            if !out.bytes.is_empty() {
                self.pending.push_back(Job::Chunk(out.into_inner()));
            }
        } else {
            active.out = out.into_inner();
        }
        if done {
            assert!(!tree.is_snapshot_active(), "the walk ended in the tree");
            let taken = self.active.take().expect("a walk was active");
            self.awaited.push_back(taken);
            self.pending.push_back(Job::Finish);
        }
    }

    /// Sends waiting jobs in order until the queue is full. True if none wait.
    fn flush_pending(&mut self) -> bool {
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        while let Some(job) = self.pending.pop_front() {
            match jobs.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(job)) => {
                    self.pending.push_front(job);
                    return false;
                }
                Err(TrySendError::Disconnected(_)) => panic!("the snapshot worker died"),
            }
        }
        true
    }

    /// Hands `entries` to the worker to free (see `Job::Free`); frees them here if its queue
    /// is full.
    pub fn free_later(&mut self, entries: Vec<raft::Entry>) {
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        match jobs.try_send(Job::Free(entries)) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => panic!("the snapshot worker died"),
        }
    }

    /// Hands `files` to the worker to delete (see `Job::Delete`); while its queue is full
    /// they wait in `to_delete`, retried each turn.
    pub fn delete_later(&mut self, files: Vec<PathBuf>) {
        self.to_delete.extend(files);
        self.flush_deletes();
    }

    fn flush_deletes(&mut self) {
        if self.to_delete.is_empty() {
            return;
        }
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        match jobs.try_send(Job::Delete(std::mem::take(&mut self.to_delete))) {
            Ok(()) => {}
            Err(TrySendError::Full(Job::Delete(files))) => self.to_delete = files,
            Err(TrySendError::Full(_)) => unreachable!("the job sent comes back"),
            Err(TrySendError::Disconnected(_)) => panic!("the snapshot worker died"),
        }
    }

    /// Outcomes the worker reported; returns the index before which the log may be purged
    /// (the oldest retained snapshot's), if a snapshot was written.
    pub fn poll_done(&mut self, now: Instant) -> Option<u64> {
        let mut purge_index = None;
        loop {
            let done = match self.done.try_recv() {
                Ok(done) => done,
                Err(TryRecvError::Empty) => return purge_index,
                Err(TryRecvError::Disconnected) => panic!("the snapshot worker died"),
            };
            let taken = self
                .awaited
                .pop_front()
                .expect("every outcome answers an awaited snapshot");
            let ms = now.saturating_duration_since(taken.started).as_millis();
            match done {
                Done::Written {
                    zxid,
                    size_bytes,
                    body_bytes,
                    oldest_retained_index,
                } => {
                    assert_eq!(zxid, taken.zxid, "outcomes arrive in order");
                    log::info!(
                        "snapshot at zxid {zxid:#x} (log index {zxid}) written: {} znodes, \
                         {size_bytes} bytes, {ms} ms",
                        taken.node_count
                    );
                    if zxid > self.last_snapshot_zxid {
                        self.last_snapshot_zxid = zxid;
                        self.last_snapshot_body_bytes = body_bytes;
                    }
                    purge_index = Some(oldest_retained_index);
                }
                Done::Failed { zxid } => {
                    assert_eq!(zxid, taken.zxid, "outcomes arrive in order");
                    log::warn!("snapshot at zxid {zxid:#x} dropped after {ms} ms");
                }
            }
        }
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                log::error!("snapshot worker panicked");
            }
        }
    }
}

/// How many nodes a walk is behind its txns: its share so far of `pace_txns`, rounded up,
/// less what it walked. Never more than a step, nor faster on average than a full step
/// every `STEP_INTERVAL_MS` since it began.
fn paced_nodes(pace_txns: u64, active: &Taken, last_zxid: i64, now: Instant) -> usize {
    let txns = (last_zxid - active.zxid).max(0) as u64;
    let share =
        (active.node_count as u128 * u128::from(txns + 1)).div_ceil(u128::from(pace_txns.max(1)));
    let ms = now.saturating_duration_since(active.started).as_millis();
    let by_time = (ms / u128::from(STEP_INTERVAL_MS) + 1) * STEP_NODES_MAX as u128;
    let due = usize::try_from(share.min(by_time)).unwrap_or(usize::MAX);
    due.saturating_sub(active.walked).min(STEP_NODES_MAX)
}

/// The worker: writes each snapshot's jobs to its file; reports and wakes the loop.
fn run_worker(
    dir: &std::path::Path,
    retain_count: usize,
    jobs: &Receiver<Job>,
    done: &SyncSender<Done>,
    waker: &mio::Waker,
) {
    // `None` between snapshots and after a failure (later chunks of it are dropped).
    let mut writer: Option<SnapshotWriter<FileDisk>> = None;
    let mut current_zxid = 0i64;
    let mut unsynced_bytes = 0u64;
    while let Ok(job) = jobs.recv() {
        let outcome = match job {
            Job::Begin {
                zxid,
                term,
                meta,
                header,
            } => {
                assert!(writer.is_none(), "Begin follows Finish");
                current_zxid = zxid;
                unsynced_bytes = 0;
                let created = SnapshotWriter::create(FileDisk, dir, zxid as u64, term, &meta)
                    .and_then(|mut w| w.write_body(&header).map(|()| w));
                match created {
                    Ok(w) => writer = Some(w),
                    Err(e) => fail(zxid, &e),
                }
                None
            }
            Job::Chunk(bytes) => {
                if let Some(w) = writer.as_mut() {
                    unsynced_bytes += bytes.len() as u64;
                    let mut result = w.write_body(&bytes);
                    if result.is_ok() && unsynced_bytes >= SYNC_EVERY_BYTES {
                        unsynced_bytes = 0;
                        result = w.sync_partial();
                    }
                    if let Err(e) = result {
                        writer = None;
                        fail(current_zxid, &e);
                    }
                }
                None
            }
            Job::Finish => Some(finish(writer.take(), dir, retain_count, current_zxid)),
            Job::Free(entries) => {
                drop(entries);
                None
            }
            Job::Delete(files) => {
                for path in files {
                    // One left behind is deleted when the log is next opened.
                    if let Err(e) = std::fs::remove_file(&path) {
                        log::warn!("cannot delete {}: {e}", path.display());
                    }
                }
                None
            }
            Job::Abort { zxid } => {
                // Begin may never have come (it was still waiting in the loop); a dropped
                // writer leaves its tmp file, the only one, since one snapshot is written at
                // a time.
                writer = None;
                if let Err(e) = wal::snapshot::remove_stale_tmp(&FileDisk, dir) {
                    log::warn!("cannot remove an abandoned snapshot's tmp file: {e}");
                }
                Some(Done::Failed { zxid })
            }
        };
        let Some(outcome) = outcome else { continue };
        if done.send(outcome).is_err() {
            return;
        }
        if let Err(e) = waker.wake() {
            log::error!("snapshot worker cannot wake the event loop: {e}");
        }
    }
}

fn fail(zxid: i64, e: &wal::Error) {
    log::error!("cannot write the snapshot at zxid {zxid:#x}, dropping it: {e}");
}

/// Makes the snapshot durable and applies retention.
fn finish(
    writer: Option<SnapshotWriter<FileDisk>>,
    dir: &std::path::Path,
    retain_count: usize,
    zxid: i64,
) -> Done {
    let Some(writer) = writer else {
        return Done::Failed { zxid };
    };
    let body_bytes = writer.body_len();
    let file = match writer.finish() {
        Ok(file) => file,
        Err(e) => {
            log::error!("cannot finish the snapshot at zxid {zxid:#x}, dropping it: {e}");
            return Done::Failed { zxid };
        }
    };
    assert_eq!(
        file.last_index, zxid as u64,
        "the file is named for its zxid"
    );
    match wal::retain_snapshots(&FileDisk, dir, retain_count) {
        Ok(removed) => {
            for path in removed {
                log::info!("removed old snapshot {}", path.display());
            }
        }
        Err(e) => log::warn!("cannot remove old snapshots: {e}"),
    }
    let oldest_retained_index = match wal::list_snapshots(&FileDisk, dir) {
        Ok(files) => files.iter().map(|f| f.last_index).min().unwrap_or(0),
        Err(e) => {
            log::warn!("cannot list snapshots, keeping the log: {e}");
            0
        }
    };
    assert!(
        oldest_retained_index <= file.last_index,
        "oldest retained {oldest_retained_index} after newest {}",
        file.last_index
    );
    Done::Written {
        zxid,
        size_bytes: file.size_bytes,
        body_bytes,
        oldest_retained_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(node_count: usize, walked: usize, started: Instant) -> Taken {
        Taken {
            zxid: 1000,
            node_count,
            started,
            walked,
            zxid_at_step: 1000,
            out: Vec::new(),
        }
    }

    #[test]
    fn a_paced_walk_keeps_up_with_its_txns_no_faster_than_a_step_a_millisecond() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // 100k nodes over 25k txns: 4 nodes a txn, rounded up.
        assert_eq!(paced_nodes(25_000, &walk(100_000, 0, t0), 1000, t0), 4);
        assert_eq!(paced_nodes(25_000, &walk(100_000, 0, t0), 1099, ms(5)), 400);
        assert_eq!(paced_nodes(25_000, &walk(100_000, 400, t0), 1099, ms(5)), 0);
        // 1000 txns in the first millisecond would be 4000 nodes: one step's worth at most.
        assert_eq!(
            paced_nodes(25_000, &walk(100_000, 0, t0), 1999, t0),
            STEP_NODES_MAX
        );
        assert_eq!(paced_nodes(25_000, &walk(100_000, 2048, t0), 1999, t0), 0);
        assert_eq!(
            paced_nodes(25_000, &walk(100_000, 2048, t0), 1999, ms(10)),
            4000 - 2048
        );
        // Past its txns the walk takes full steps (it also passes over the nodes created
        // since it began, so it may walk more than its node count).
        assert_eq!(
            paced_nodes(25_000, &walk(100_000, 99_000, t0), 30_000, ms(100)),
            STEP_NODES_MAX
        );
        assert_eq!(
            paced_nodes(0, &walk(10, 0, t0), 1000, t0),
            10,
            "no division by zero"
        );
    }
}

//! Worker threads: blocking jobs kept off the event-loop thread.
//!
//! Today there is one, the log worker. Each Raft `Ready` whose contents must be on disk
//! before its messages leave (new entries, a snapshot, a changed term or vote) comes here as
//! one `Persist` job: the worker writes it with one append and at most one fsync, hands back
//! `Persisted`, and wakes the loop, which then sends, applies and advances (the `Ready`
//! contract in the raft crate). Only one `Ready` is out at a time, so every proposal made
//! while an fsync runs joins the next one: that is the group commit. Threads talk only
//! through bounded channels and a `mio::Waker`.
//!
//! The log worker also purges: the `Wal` lives on its thread, so when a snapshot makes old
//! segments redundant (snapshots.rs) the loop queues a `LogJob::Purge`, which runs after
//! the jobs queued before it.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How many jobs may wait for the log worker before the loop blocks on send.
const LOG_QUEUE_JOBS_MAX: usize = 64;

/// Where the log begins and ends (for `lgif`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogBounds {
    pub first_index: u64,
    pub first_term: u64,
    pub last_index: u64,
    pub last_term: u64,
}

/// The parts of one Raft `Ready` that go to disk, in the order they are written.
#[derive(Debug, Default)]
pub struct PersistJob {
    /// A snapshot received from the leader: written as a snapshot file, then the log is
    /// emptied to start after it.
    pub snapshot: Option<raft::Snapshot>,
    /// Entries to append; the first may be at or below the log's last index, which then
    /// loses everything from there first (a follower resolving a conflict).
    pub entries: Vec<raft::Entry>,
    /// Written when the term or vote changed (or the recovery mark did).
    pub hard_state: Option<raft::HardState>,
    /// The recovery mark written with `hard_state` (see `raft::Node::start_recovering`).
    pub recovering: bool,
    /// Make everything above durable before answering.
    pub sync: bool,
}

/// Where Raft's log and hard state are made durable.
pub trait RaftLog: Send {
    /// The log's first and last entries now.
    fn bounds(&self) -> LogBounds;

    /// Writes the job; returns only when it is durable (if `job.sync`). Failures abort the
    /// process: after a failed write or fsync the state on disk is unknown.
    fn persist(&mut self, job: &PersistJob);

    /// Takes log segments wholly at or before `snapshot_index - reserve_count` out of the
    /// log; returns the files left to delete (`wal::Wal::purge`), which the loop hands to
    /// the snapshot worker so that no fsync waits behind a slow delete. Logs its own
    /// failures (the log still holds the records, so they are not fatal here).
    fn purge(&mut self, snapshot_index: u64, reserve_count: u64) -> Vec<std::path::PathBuf>;
}

/// What the log worker is asked to do.
enum LogJob {
    Persist(PersistJob),
    Purge {
        snapshot_index: u64,
        reserve_count: u64,
    },
}

/// A job the worker finished, in submission order.
pub enum LogDone {
    /// The `Persist` job is durable.
    Persisted { bounds: LogBounds },
    Purged {
        bounds: LogBounds,
        /// Purged segment files still to delete.
        files: Vec<std::path::PathBuf>,
    },
}

pub struct LogWorker {
    jobs: Option<SyncSender<LogJob>>,
    done: Receiver<LogDone>,
    thread: Option<JoinHandle<()>>,
}

impl LogWorker {
    pub fn start(mut log: Box<dyn RaftLog>, waker: Arc<mio::Waker>) -> std::io::Result<LogWorker> {
        let (jobs_tx, jobs_rx) = sync_channel::<LogJob>(LOG_QUEUE_JOBS_MAX);
        let (done_tx, done_rx) = sync_channel::<LogDone>(LOG_QUEUE_JOBS_MAX);
        let thread = std::thread::Builder::new()
            .name("fk-log".to_string())
            .spawn(move || {
                while let Ok(job) = jobs_rx.recv() {
                    let done = match job {
                        LogJob::Persist(job) => {
                            log.persist(&job);
                            LogDone::Persisted {
                                bounds: log.bounds(),
                            }
                        }
                        LogJob::Purge {
                            snapshot_index,
                            reserve_count,
                        } => {
                            let files = log.purge(snapshot_index, reserve_count);
                            LogDone::Purged {
                                bounds: log.bounds(),
                                files,
                            }
                        }
                    };
                    if done_tx.send(done).is_err() {
                        return;
                    }
                    if let Err(e) = waker.wake() {
                        log::error!("log worker cannot wake the event loop: {e}");
                    }
                }
            })?;
        Ok(LogWorker {
            jobs: Some(jobs_tx),
            done: done_rx,
            thread: Some(thread),
        })
    }

    /// Queues a `Ready`'s disk work; blocks only if `LOG_QUEUE_JOBS_MAX` jobs already wait.
    pub fn submit(&self, job: PersistJob) {
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        // The worker only exits when this sender is dropped, so a send error means it died.
        jobs.send(LogJob::Persist(job))
            .expect("the log worker is alive while the loop runs");
    }

    /// Queues a purge of the log before `snapshot_index - reserve_count` (see `RaftLog`).
    pub fn submit_purge(&self, snapshot_index: u64, reserve_count: u64) {
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        jobs.send(LogJob::Purge {
            snapshot_index,
            reserve_count,
        })
        .expect("the log worker is alive while the loop runs");
    }

    /// The next finished job, if any.
    pub fn try_done(&self) -> Option<LogDone> {
        match self.done.try_recv() {
            Ok(done) => Some(done),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => panic!("the log worker died"),
        }
    }
}

impl Drop for LogWorker {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                log::error!("log worker panicked");
            }
        }
    }
}

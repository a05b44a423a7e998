//! Worker threads: blocking jobs kept off the event-loop thread.
//!
//! Today there is one, the log worker. The loop hands it each turn's batch of txns; the
//! worker takes every batch that is waiting (group commit), makes them durable in its
//! `TxnLog` with one append and one fsync, hands them back as one batch, and wakes the
//! loop, which applies the txns in order. Raft (issues #4/#5) slots in behind the same
//! seam. Threads talk only through bounded channels and a `mio::Waker`.
//!
//! The log worker also purges: the `Wal` lives on its thread, so when a snapshot makes old
//! segments redundant (snapshots.rs) the loop queues a `LogJob::Purge`, which runs after
//! the appends queued before it.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use tree::Txn;

/// How many batches may wait for the log worker before the loop blocks on send.
const LOG_QUEUE_BATCHES_MAX: usize = 64;
/// How many txns one group commit takes at most, so one fsync's latency stays bounded.
const GROUP_COMMIT_TXNS_MAX: usize = 64 * 1024;

/// Where the log begins and ends (for `lgif`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogBounds {
    pub first_index: u64,
    pub first_term: u64,
    pub last_index: u64,
    pub last_term: u64,
}

/// Where txns are made durable before they are applied.
pub trait TxnLog: Send {
    /// The log's first and last entries now.
    fn bounds(&self) -> LogBounds;

    /// Persists the batch; returns only when every txn in it is durable.
    fn append(&mut self, txns: &[Txn]);

    /// Removes log segments wholly at or before `snapshot_index - reserve_count`; logs its
    /// own failures (the log still holds the records, so they are not fatal here).
    fn purge(&mut self, snapshot_index: u64, reserve_count: u64);
}

/// What the log worker is asked to do.
enum LogJob {
    Append(Vec<Txn>),
    Purge {
        snapshot_index: u64,
        reserve_count: u64,
    },
}

/// A batch the worker has made durable, handed back for apply in the same order.
pub struct DurableBatch {
    pub txns: Vec<Txn>,
    /// The log's bounds after this batch (and any purge before it).
    pub bounds: LogBounds,
}

pub struct LogWorker {
    jobs: Option<SyncSender<LogJob>>,
    done: Receiver<DurableBatch>,
    thread: Option<JoinHandle<()>>,
}

impl LogWorker {
    pub fn start(mut log: Box<dyn TxnLog>, waker: Arc<mio::Waker>) -> std::io::Result<LogWorker> {
        let (jobs_tx, jobs_rx) = sync_channel::<LogJob>(LOG_QUEUE_BATCHES_MAX);
        let (done_tx, done_rx) = sync_channel::<DurableBatch>(LOG_QUEUE_BATCHES_MAX);
        let thread = std::thread::Builder::new()
            .name("fk-log".to_string())
            .spawn(move || {
                while let Ok(job) = jobs_rx.recv() {
                    let mut txns = match job {
                        LogJob::Append(txns) => txns,
                        LogJob::Purge {
                            snapshot_index,
                            reserve_count,
                        } => {
                            log.purge(snapshot_index, reserve_count);
                            // An empty batch tells the loop the log's new bounds.
                            let bounds = log.bounds();
                            let batch = DurableBatch {
                                txns: Vec::new(),
                                bounds,
                            };
                            if done_tx.send(batch).is_err() {
                                return;
                            }
                            if let Err(e) = waker.wake() {
                                log::error!("log worker cannot wake the event loop: {e}");
                            }
                            continue;
                        }
                    };
                    // Group commit: every batch queued while the last fsync ran joins this one.
                    // A purge met on the way runs after this batch's append.
                    let mut purges = Vec::new();
                    while txns.len() < GROUP_COMMIT_TXNS_MAX {
                        match jobs_rx.try_recv() {
                            Ok(LogJob::Append(more)) => txns.extend(more),
                            Ok(LogJob::Purge {
                                snapshot_index,
                                reserve_count,
                            }) => purges.push((snapshot_index, reserve_count)),
                            Err(_) => break,
                        }
                    }
                    log.append(&txns);
                    let bounds = log.bounds();
                    if done_tx.send(DurableBatch { txns, bounds }).is_err() {
                        return;
                    }
                    if let Err(e) = waker.wake() {
                        log::error!("log worker cannot wake the event loop: {e}");
                    }
                    for (snapshot_index, reserve_count) in purges {
                        log.purge(snapshot_index, reserve_count);
                    }
                }
            })?;
        Ok(LogWorker {
            jobs: Some(jobs_tx),
            done: done_rx,
            thread: Some(thread),
        })
    }

    /// Queues a batch; blocks only if `LOG_QUEUE_BATCHES_MAX` batches are already waiting.
    pub fn submit(&self, txns: Vec<Txn>) {
        assert!(!txns.is_empty(), "empty batches are not submitted");
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        // The worker only exits when this sender is dropped, so a send error means it died.
        jobs.send(LogJob::Append(txns))
            .expect("the log worker is alive while the loop runs");
    }

    /// Queues a purge of the log before `snapshot_index - reserve_count` (see `TxnLog`).
    pub fn submit_purge(&self, snapshot_index: u64, reserve_count: u64) {
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        jobs.send(LogJob::Purge {
            snapshot_index,
            reserve_count,
        })
        .expect("the log worker is alive while the loop runs");
    }

    /// The next batch that became durable, if any.
    pub fn try_durable(&self) -> Option<DurableBatch> {
        match self.done.try_recv() {
            Ok(batch) => Some(batch),
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

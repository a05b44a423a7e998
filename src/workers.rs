//! Worker threads: blocking jobs kept off the event-loop thread.
//!
//! Today there is one, the log worker. The loop hands it each turn's batch of txns; the
//! worker makes the batch durable in its `TxnLog` and hands the batch back, then wakes the
//! loop, which applies the txns in order. This is the seam the write path keeps for every
//! log: the WAL (issue #3) and Raft (issue #4/#5) replace `MemoryLog` behind `TxnLog`
//! without changing the loop. Threads talk only through bounded channels and a `mio::Waker`.

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use tree::Txn;

/// How many batches may wait for the log worker before the loop blocks on send.
const LOG_QUEUE_BATCHES_MAX: usize = 64;

/// Where txns are made durable before they are applied.
pub trait TxnLog: Send {
    /// Persists the batch; returns only when every txn in it is durable.
    fn append(&mut self, txns: &[Txn]);
}

/// The standalone server's log until the WAL lands (TODO(#3)): it encodes each txn, checks
/// the encoding decodes back to the same txn, and keeps the last `tail_entries_max`
/// encodings in memory. Nothing survives a restart.
pub struct MemoryLog {
    tail: VecDeque<Vec<u8>>,
    tail_entries_max: usize,
    pub entries_total: u64,
    pub bytes_total: u64,
}

impl MemoryLog {
    pub fn new(tail_entries_max: usize) -> MemoryLog {
        assert!(tail_entries_max > 0, "the tail keeps at least one entry");
        MemoryLog {
            tail: VecDeque::new(),
            tail_entries_max,
            entries_total: 0,
            bytes_total: 0,
        }
    }
}

impl TxnLog for MemoryLog {
    fn append(&mut self, txns: &[Txn]) {
        for txn in txns {
            let mut w = wire::Writer::new();
            txn.encode(&mut w);
            let bytes = w.into_inner();
            debug_assert_eq!(
                Txn::decode(&bytes).as_ref(),
                Ok(txn),
                "a txn decodes to what was encoded"
            );
            self.entries_total += 1;
            self.bytes_total += bytes.len() as u64;
            if self.tail.len() == self.tail_entries_max {
                self.tail.pop_front();
            }
            self.tail.push_back(bytes);
        }
        assert!(
            self.tail.len() <= self.tail_entries_max,
            "memory log tail is bounded"
        );
    }
}

/// A batch the worker has made durable, handed back for apply in the same order.
pub struct DurableBatch {
    pub txns: Vec<Txn>,
}

pub struct LogWorker {
    jobs: Option<SyncSender<Vec<Txn>>>,
    done: Receiver<DurableBatch>,
    thread: Option<JoinHandle<()>>,
}

impl LogWorker {
    pub fn start(mut log: Box<dyn TxnLog>, waker: Arc<mio::Waker>) -> std::io::Result<LogWorker> {
        let (jobs_tx, jobs_rx) = sync_channel::<Vec<Txn>>(LOG_QUEUE_BATCHES_MAX);
        let (done_tx, done_rx) = sync_channel::<DurableBatch>(LOG_QUEUE_BATCHES_MAX);
        let thread = std::thread::Builder::new()
            .name("fk-log".to_string())
            .spawn(move || {
                while let Ok(txns) = jobs_rx.recv() {
                    log.append(&txns);
                    if done_tx.send(DurableBatch { txns }).is_err() {
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

    /// Queues a batch; blocks only if `LOG_QUEUE_BATCHES_MAX` batches are already waiting.
    pub fn submit(&self, txns: Vec<Txn>) {
        assert!(!txns.is_empty(), "empty batches are not submitted");
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        // The worker only exits when this sender is dropped, so a send error means it died.
        jobs.send(txns)
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

//! The send worker: one thread that writes client replies, so the loop thread does not
//! spend a third of its time in `send` (on loopback, a send also runs the receiving
//! socket's side of TCP in the sender's system call).
//!
//! At the end of a turn the loop hands each connection's queued output to the worker as one
//! batch, through a bounded channel; the worker writes each buffer until it is sent or the
//! socket would block, and hands every buffer back with the count sent, through a bounded
//! channel plus the loop's `mio::Waker`. A connection has at most one buffer out at a time,
//! so its bytes leave in order; whatever was not sent (a full socket) goes back in front of
//! the connection's output, and the loop writes it itself once the socket is writable
//! (the connection is "congested" while WRITABLE interest is registered). The worker owns
//! no connection state: it writes through a duplicate of the socket's descriptor, shared
//! read-only, which the loop made when it accepted the connection.
//!
//! Invariants: a buffer handed out comes back exactly once; the worker never blocks on a
//! socket (they are non-blocking, and so is the duplicate, which shares the open file).

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::event_loop::ConnKey;

/// Batches that may wait for the worker; past that the loop writes a turn's output itself.
const SEND_QUEUE_BATCHES_MAX: usize = 4;

/// One connection's output handed to the worker.
pub struct SendJob {
    pub key: ConnKey,
    pub stream: Arc<TcpStream>,
    pub bytes: Vec<u8>,
}

/// A buffer back from the worker: `sent` bytes of it went out; `error` ends the connection.
pub struct SendDone {
    pub key: ConnKey,
    pub bytes: Vec<u8>,
    pub sent: usize,
    pub error: Option<io::Error>,
}

pub struct Sender {
    jobs: Option<SyncSender<Vec<SendJob>>>,
    done: Receiver<Vec<SendDone>>,
    thread: Option<JoinHandle<()>>,
}

impl Sender {
    pub fn start(waker: Arc<mio::Waker>) -> io::Result<Sender> {
        let (jobs_tx, jobs_rx) = sync_channel::<Vec<SendJob>>(SEND_QUEUE_BATCHES_MAX);
        // One more than the jobs queue: the worker does not wait on it unless the loop
        // stopped taking results.
        let (done_tx, done_rx) = sync_channel::<Vec<SendDone>>(SEND_QUEUE_BATCHES_MAX + 1);
        let thread = std::thread::Builder::new()
            .name("fk-send".to_string())
            .spawn(move || {
                while let Ok(batch) = jobs_rx.recv() {
                    let results: Vec<SendDone> = batch.into_iter().map(write_job).collect();
                    if done_tx.send(results).is_err() {
                        return;
                    }
                    if let Err(e) = waker.wake() {
                        log::error!("send worker cannot wake the event loop: {e}");
                    }
                }
            })?;
        Ok(Sender {
            jobs: Some(jobs_tx),
            done: done_rx,
            thread: Some(thread),
        })
    }

    /// Queues a batch; gives it back if `SEND_QUEUE_BATCHES_MAX` batches already wait.
    pub fn submit(&self, batch: Vec<SendJob>) -> Result<(), Vec<SendJob>> {
        assert!(!batch.is_empty(), "a batch holds at least one job");
        let jobs = self.jobs.as_ref().expect("jobs channel lives until drop");
        match jobs.try_send(batch) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(batch)) => Err(batch),
            // The worker exits only when this sender is dropped.
            Err(TrySendError::Disconnected(_)) => panic!("the send worker died"),
        }
    }

    /// The next finished batch, if any.
    pub fn try_done(&self) -> Option<Vec<SendDone>> {
        match self.done.try_recv() {
            Ok(done) => Some(done),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => panic!("the send worker died"),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.jobs.take();
        // Results still queued would block the worker's send: drop them first.
        while self.done.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                log::error!("send worker panicked");
            }
        }
    }
}

/// Writes `job.bytes` until sent or the socket would block.
fn write_job(job: SendJob) -> SendDone {
    let SendJob { key, stream, bytes } = job;
    let mut sent = 0usize;
    let mut error = None;
    while sent < bytes.len() {
        match (&*stream).write(&bytes[sent..]) {
            Ok(0) => {
                error = Some(io::Error::new(io::ErrorKind::WriteZero, "socket took 0"));
                break;
            }
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert!(sent <= bytes.len(), "sent past the end of the buffer");
    SendDone {
        key,
        bytes,
        sent,
        error,
    }
}

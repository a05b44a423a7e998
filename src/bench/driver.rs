//! The bench's event loop: sessions on one [`Mux`], each kept `--in-flight` ops deep.
//!
//! `run` connects, prepares the tree (`setup.rs`), runs warm-up and measurement as one
//! continuous load (no drain between them, so the measurement starts warm), drains, cleans
//! up and closes. Whether a completed op is recorded depends only on when its reply was
//! read: inside `[measure_start, measure_end]` it is, otherwise not.
//!
//! Invariants: a worker's `in_flight` lists its requests in the order sent, and replies
//! match its front (the client checks xids too); `ops_outstanding <= in_flight depth`
//! while issuing; an op is completed exactly once (a watch op when its get and set are
//! answered and its notification arrived or a request failed).

use std::collections::VecDeque;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use wire::{event_type, ErrorCode, Response, WatcherEvent};

use super::report::{Recorder, Report};
use super::workload::{OpKind, Planned, SessionKeys};
use super::{BenchError, Options};
use crate::client::{multi_failure, ConnIndex, Event, Mux, MuxEvent, Reply};

/// Session timeout the bench asks for (ZooKeeper clamps it to 2..20 ticks).
const SESSION_TIMEOUT_MS: i32 = 30_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the bench waits for any reply before it gives up on a phase.
pub(super) const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Interval of the progress line.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// Longest single wait in `poll`, so stop conditions are checked often.
const POLL_TIMEOUT_MAX: Duration = Duration::from_millis(100);

/// What a sent request was for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Purpose {
    Op(OpKind),
    WatchGet {
        key: u64,
    },
    WatchSet {
        key: u64,
    },
    /// Request `index` of the worker's setup/cleanup script.
    Script {
        index: usize,
    },
}

#[derive(Debug)]
pub(super) struct Sent {
    pub xid: i32,
    pub started_at: Instant,
    pub purpose: Purpose,
}

/// An outstanding op of the watch workload.
struct WatchOp {
    key: u64,
    started_at: Instant,
    is_get_done: bool,
    is_set_done: bool,
    is_notified: bool,
    error: Option<ErrorCode>,
}

/// One bench session.
pub(super) struct Worker {
    pub conn: ConnIndex,
    pub keys: SessionKeys,
    /// Requests sent and not answered, oldest first.
    pub in_flight: VecDeque<Sent>,
    /// Ops outstanding (a watch op is one op made of two requests).
    ops_outstanding: usize,
    watch_ops: Vec<WatchOp>,
}

pub(super) struct Bench<'a> {
    pub options: &'a Options,
    pub mux: Mux,
    pub workers: Vec<Worker>,
    pub events: Vec<MuxEvent>,
    value: Vec<u8>,
}

/// Runs the whole bench (see the module doc).
pub fn run(options: &Options) -> Result<Report, BenchError> {
    let addrs = resolve(&options.servers)?;
    let mut bench = Bench::connect(options, &addrs)?;
    eprintln!(
        "bench: {} sessions connected; preparing {}",
        options.sessions, options.root
    );
    bench.prepare()?;
    let report = bench.run_load()?;
    eprintln!("bench: cleaning up {}", options.root);
    bench.cleanup()?;
    bench.close_sessions();
    Ok(report)
}

fn resolve(servers: &[String]) -> Result<Vec<SocketAddr>, BenchError> {
    let mut addrs = Vec::with_capacity(servers.len());
    for server in servers {
        let addr = server.to_socket_addrs()?.next().ok_or_else(|| {
            BenchError::Setup(format!("server '{server}' resolves to no address"))
        })?;
        addrs.push(addr);
    }
    assert_eq!(addrs.len(), servers.len(), "one address per server");
    Ok(addrs)
}

impl<'a> Bench<'a> {
    fn connect(options: &'a Options, addrs: &[SocketAddr]) -> Result<Bench<'a>, BenchError> {
        assert!(!addrs.is_empty(), "validated: at least one server");
        let mut mux = Mux::new()?;
        let keys = options.effective_keys_per_session() as u64;
        let mut workers = Vec::with_capacity(options.sessions);
        for index in 0..options.sessions {
            let addr = addrs[index % addrs.len()];
            let conn = mux
                .connect(addr, SESSION_TIMEOUT_MS, CONNECT_TIMEOUT)
                .map_err(|e| BenchError::Setup(format!("connect to {addr}: {e}")))?;
            workers.push(Worker {
                conn,
                keys: SessionKeys::new(&options.root, index, keys),
                in_flight: VecDeque::new(),
                ops_outstanding: 0,
                watch_ops: Vec::new(),
            });
        }
        let mut bench = Bench {
            options,
            mux,
            workers,
            events: Vec::new(),
            value: vec![b'x'; options.value_size_bytes],
        };
        let mut connected = 0;
        let waited_since = Instant::now();
        while connected < bench.workers.len() {
            for (_, event, _) in bench.poll_once()? {
                if let Event::Connected { .. } = event {
                    connected += 1;
                }
            }
            if waited_since.elapsed() > STALL_TIMEOUT {
                return Err(BenchError::Setup(format!(
                    "only {connected} of {} sessions connected",
                    bench.workers.len()
                )));
            }
        }
        assert_eq!(connected, options.sessions, "every session connected");
        Ok(bench)
    }

    /// Flushes, waits up to `POLL_TIMEOUT_MAX` and returns the events as (worker index,
    /// event, when it was read). Pongs are dropped; a failed session ends the bench.
    pub fn poll_once(&mut self) -> Result<Vec<(usize, Event, Instant)>, BenchError> {
        self.events.clear();
        self.mux.poll(Some(POLL_TIMEOUT_MAX), &mut self.events)?;
        let mut out = Vec::with_capacity(self.events.len());
        for event in self.events.drain(..) {
            let index = event.conn.index();
            assert!(
                index < self.workers.len(),
                "connection {index} has a worker"
            );
            match event.event {
                Ok(Event::Pong) => {}
                Ok(e) => out.push((index, e, event.at)),
                Err(error) => return Err(BenchError::Session { index, error }),
            }
        }
        Ok(out)
    }

    /// Runs warm-up and measurement, then drains; returns the measurement's report.
    fn run_load(&mut self) -> Result<Report, BenchError> {
        let options = self.options;
        let started_at = Instant::now();
        let mut recorder = Recorder::new(started_at + options.warmup, options.stop_after);
        for index in 0..self.workers.len() {
            self.refill(index, &recorder)?;
        }
        let mut next_progress_at = started_at + PROGRESS_INTERVAL;
        let mut last_event_at = started_at;
        // (wall clock, CPU time of this process) when the measurement began.
        let mut cpu_at_start: Option<(Instant, Option<u64>)> = None;
        loop {
            let events = self.poll_once()?;
            let now = Instant::now();
            if !events.is_empty() {
                last_event_at = now;
            }
            if cpu_at_start.is_none() && now >= started_at + options.warmup {
                cpu_at_start = Some((now, cpu_time_ns()));
            }
            for (index, event, at) in events {
                self.on_event(index, event, at, &mut recorder);
                self.refill(index, &recorder)?;
            }
            if recorder.is_finished(now) {
                break;
            }
            if now >= next_progress_at {
                recorder.print_progress(now - started_at, now);
                next_progress_at += PROGRESS_INTERVAL;
            }
            if now - last_event_at > STALL_TIMEOUT {
                return Err(BenchError::Setup(
                    "no reply for 60 s during the load".into(),
                ));
            }
        }
        let client_cpu_pct = match (cpu_at_start, cpu_time_ns()) {
            (Some((wall, Some(cpu_start))), Some(cpu_end)) => {
                let wall_ns = wall.elapsed().as_nanos().max(1) as f64;
                Some(100.0 * cpu_end.saturating_sub(cpu_start) as f64 / wall_ns)
            }
            _ => None,
        };
        self.drain(&mut recorder)?;
        let report = Report::new(options, &recorder, client_cpu_pct);
        assert!(
            self.workers.iter().all(|w| w.in_flight.is_empty()),
            "drained"
        );
        Ok(report)
    }

    /// Waits for every outstanding op without issuing more (not recorded: they end after
    /// the window).
    fn drain(&mut self, recorder: &mut Recorder) -> Result<(), BenchError> {
        let mut last_event_at = Instant::now();
        while self.workers.iter().any(|w| w.ops_outstanding > 0) {
            let events = self.poll_once()?;
            let now = Instant::now();
            if !events.is_empty() {
                last_event_at = now;
            }
            for (index, event, at) in events {
                self.on_event(index, event, at, recorder);
            }
            if now - last_event_at > STALL_TIMEOUT {
                return Err(BenchError::Setup("no reply for 60 s while draining".into()));
            }
        }
        assert!(
            self.workers.iter().all(|w| w.watch_ops.is_empty()),
            "watch ops drained"
        );
        Ok(())
    }

    /// Issues ops on worker `index` until it has `--in-flight` outstanding; nothing once
    /// the measurement has ended.
    fn refill(&mut self, index: usize, recorder: &Recorder) -> Result<(), BenchError> {
        if recorder.has_ended() {
            return Ok(());
        }
        let depth = self.options.in_flight;
        let workload = self.options.workload;
        let worker = &mut self.workers[index];
        while worker.ops_outstanding < depth {
            let watch_ops = &worker.watch_ops;
            let planned = worker.keys.plan(workload, &self.value, |key| {
                watch_ops.iter().any(|op| op.key == key)
            });
            let started_at = Instant::now();
            match planned {
                Planned::One { kind, request } => {
                    send(
                        &mut self.mux,
                        index,
                        worker,
                        &request,
                        Purpose::Op(kind),
                        started_at,
                    )?;
                }
                Planned::Watch { key, get, set } => {
                    send(
                        &mut self.mux,
                        index,
                        worker,
                        &get,
                        Purpose::WatchGet { key },
                        started_at,
                    )?;
                    send(
                        &mut self.mux,
                        index,
                        worker,
                        &set,
                        Purpose::WatchSet { key },
                        started_at,
                    )?;
                    worker.watch_ops.push(WatchOp {
                        key,
                        started_at,
                        is_get_done: false,
                        is_set_done: false,
                        is_notified: false,
                        error: None,
                    });
                }
            }
            worker.ops_outstanding += 1;
        }
        assert_eq!(
            worker.ops_outstanding, depth,
            "worker {index} filled to its depth"
        );
        Ok(())
    }

    fn on_event(&mut self, index: usize, event: Event, at: Instant, recorder: &mut Recorder) {
        match event {
            Event::Reply(reply) => self.on_reply(index, reply, at, recorder),
            Event::Watch(watch) => self.on_notification(index, &watch, at, recorder),
            Event::Connected { .. } | Event::Pong => {
                unreachable!("a session connects once and poll_once drops pongs")
            }
        }
    }

    fn on_reply(&mut self, index: usize, reply: Reply, at: Instant, recorder: &mut Recorder) {
        let worker = &mut self.workers[index];
        let sent = worker
            .in_flight
            .pop_front()
            .expect("the session matched the reply to a request");
        assert_eq!(
            sent.xid, reply.xid,
            "worker {index}: replies arrive in order"
        );
        match sent.purpose {
            Purpose::Op(kind) => {
                let outcome = match &reply.result {
                    Ok(Response::Multi(results)) => match multi_failure(results) {
                        Some((_, code)) => Err(code),
                        None => Ok(()),
                    },
                    Ok(_) => Ok(()),
                    Err(code) => Err(*code),
                };
                recorder.complete(kind, sent.started_at, at, outcome);
                assert!(worker.ops_outstanding > 0, "an op was outstanding");
                worker.ops_outstanding -= 1;
            }
            Purpose::WatchGet { key } | Purpose::WatchSet { key } => {
                let op = worker
                    .watch_ops
                    .iter_mut()
                    .find(|op| op.key == key)
                    .expect("a watch request belongs to an outstanding watch op");
                if matches!(sent.purpose, Purpose::WatchGet { .. }) {
                    op.is_get_done = true;
                } else {
                    op.is_set_done = true;
                }
                if let Err(code) = reply.result {
                    op.error.get_or_insert(code);
                }
                Self::complete_watch_ops(worker, at, recorder);
            }
            Purpose::Script { .. } => unreachable!("scripts run in their own loop"),
        }
    }

    fn on_notification(
        &mut self,
        index: usize,
        watch: &WatcherEvent,
        at: Instant,
        recorder: &mut Recorder,
    ) {
        let worker = &mut self.workers[index];
        let key = watch
            .path
            .strip_prefix(worker.keys.dir.as_str())
            .and_then(|rest| rest.strip_prefix("/k"))
            .and_then(|digits| digits.parse::<u64>().ok());
        let op = key.and_then(|key| {
            worker
                .watch_ops
                .iter_mut()
                .find(|op| op.key == key && !op.is_notified)
        });
        match op {
            Some(op) if watch.event_type == event_type::NODE_DATA_CHANGED => {
                op.is_notified = true;
                Self::complete_watch_ops(worker, at, recorder);
            }
            _ => recorder.count_unexpected_notification(),
        }
    }

    /// Completes the watch ops that have everything they wait for.
    fn complete_watch_ops(worker: &mut Worker, at: Instant, recorder: &mut Recorder) {
        let before = worker.watch_ops.len();
        worker.watch_ops.retain(|op| {
            let is_complete =
                op.is_get_done && op.is_set_done && (op.is_notified || op.error.is_some());
            if is_complete {
                let outcome = op.error.map_or(Ok(()), Err);
                recorder.complete(OpKind::Watch, op.started_at, at, outcome);
            }
            !is_complete
        });
        let completed = before - worker.watch_ops.len();
        assert!(
            worker.ops_outstanding >= completed,
            "completed more ops than outstanding"
        );
        worker.ops_outstanding -= completed;
    }

    /// Closes every session, waiting a little for the servers' answers; failures here do
    /// not change the report, so they are only logged.
    fn close_sessions(&mut self) {
        let mut open = 0usize;
        for index in 0..self.workers.len() {
            match self.mux.close(self.workers[index].conn) {
                Ok(_) => open += 1,
                Err(e) => log::warn!("close session {index}: {e}"),
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while open > 0 && Instant::now() < deadline {
            match self.poll_once() {
                Ok(events) => {
                    open -= events
                        .iter()
                        .filter(|(_, e, _)| matches!(e, Event::Reply(_)))
                        .count();
                }
                Err(e) => {
                    log::warn!("closing sessions: {e}");
                    return;
                }
            }
        }
        if open > 0 {
            log::warn!("{open} sessions did not confirm closeSession in 5 s");
        }
    }
}

/// CPU time this process has used, in ns, from `/proc/self/schedstat` (the bench is one
/// thread); `None` where that file is missing.
fn cpu_time_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Sends `request` on `worker`'s session and records it as in flight.
pub(super) fn send(
    mux: &mut Mux,
    index: usize,
    worker: &mut Worker,
    request: &wire::Request,
    purpose: Purpose,
    started_at: Instant,
) -> Result<(), BenchError> {
    let xid = mux
        .send(worker.conn, request)
        .map_err(|error| BenchError::Session { index, error })?;
    worker.in_flight.push_back(Sent {
        xid,
        started_at,
        purpose,
    });
    Ok(())
}

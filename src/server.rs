//! The standalone server's state and its turn: the connection slab, the data tree, the
//! watches, the sessions, and the write path's seam — requests become txns, txns go to the
//! log worker in one batch per turn, and come back durable to be applied in log order.
//!
//! Invariants: `inflight` lists every txn handed to the log and not yet applied, in zxid
//! order, and txns come back from the log in that same order; a connection's `pending`
//! queue holds its requests in arrival order and only its front may be answered; every
//! connection whose state changed in a turn is in `dirty` and gets its interest
//! recomputed at the end of the turn.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use tree::{DataTree, Txn, WatchManager};

use crate::clock::Clock;
use crate::connection::{Connection, Phase};
use crate::event_loop::{timeout_until, ConnKey};
use crate::sessions::LocalSession;
use crate::sessions::Sessions;
use crate::snapshots::{SnapshotSettings, Snapshots};
use crate::storage::WalLog;
use crate::workers::LogWorker;

/// Bytes one connection may read in one turn before others get theirs.
const READ_BUDGET_BYTES: usize = 256 * 1024;
/// How often, at most, the loop wakes with nothing to do.
const IDLE_WAKE_MS: u64 = 500;
/// A connection that has not sent its ConnectRequest by then is closed
/// (`zookeeper.nio.sessionlessCnxnTimeout`, 10 s in ZooKeeper).
const SESSIONLESS_CNXN_TIMEOUT_MS: u64 = 10_000;
/// How often connections are checked against that timeout.
const CNXN_SWEEP_INTERVAL_MS: u64 = 1_000;

/// What the server needs from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// 0 = unlimited.
    pub max_client_cnxns: usize,
    pub jute_max_buffer: usize,
    pub super_digest: Option<String>,
    pub container_check_interval_ms: u64,
    /// `forceSync`: fsync each group commit before acknowledging it (true by default).
    pub force_sync: bool,
    pub four_letter_words: crate::config::Whitelist,
    pub config: crate::config::Config,
}

/// One txn handed to the log and not yet applied, and who waits for its answer.
#[derive(Debug)]
pub struct Inflight {
    pub zxid: i64,
    pub conn: Option<ConnKey>,
}

/// Server-wide figures for `srvr`, `stat` and `mntr`.
#[derive(Clone, Debug, Default)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency: crate::fourlw::LatencyStats,
    /// ZooKeeper's `ServerMetrics` figures (ops_stats.rs).
    pub ops: crate::ops_stats::OpsStats,
}

struct Slot {
    generation: u32,
    conn: Option<Connection>,
    registered: Option<mio::Interest>,
}

pub struct Server {
    pub settings: Settings,
    pub clock: Clock,
    pub started: Instant,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    per_ip: HashMap<IpAddr, usize>,
    pub tree: DataTree,
    pub watches: WatchManager,
    pub sessions: Sessions,
    /// The zxid the next txn gets.
    pub next_zxid: i64,
    /// Txns made this turn, submitted together at its end.
    pub batch: Vec<Txn>,
    pub inflight: VecDeque<Inflight>,
    log: LogWorker,
    /// Background snapshots: when to take them, and their worker (snapshots.rs).
    pub snapshots: Snapshots,
    /// The write-ahead log's first and last entries, as the log worker last reported them.
    pub log_bounds: crate::workers::LogBounds,
    /// Connections whose interest or life may have changed this turn.
    pub dirty: BTreeSet<ConnKey>,
    /// Connections that stopped reading before `WouldBlock` and must be revisited.
    pub stalled: BTreeSet<ConnKey>,
    pub stats: ServerStats,
    next_container_sweep: Instant,
    next_cnxn_sweep: Instant,
    /// `gtmk`/`stmk`: kept and reported as ZooKeeper does (306 by default); we trace nothing
    /// by it.
    pub trace_mask: i64,
}

impl Server {
    /// A server over recovered state: the tree as the log left it, and every session in it
    /// given a fresh timeout (ZooKeeper restarts session timers after a restart too).
    pub fn new(
        settings: Settings,
        recovered: crate::storage::Recovered,
        waker: Arc<mio::Waker>,
        clock: Clock,
    ) -> io::Result<Server> {
        let crate::storage::Recovered {
            tree,
            wal,
            secret,
            snapshot_zxid,
        } = recovered;
        let mut sessions = Sessions::new(0, clock.wall_ms, secret);
        for (id, session) in tree.sessions().iter() {
            let timeout_ms = session.timeout_ms;
            let deadline = clock.after_ms(timeout_ms.max(0) as u64);
            sessions.insert(
                id,
                LocalSession {
                    timeout_ms,
                    deadline,
                    conn: None,
                    closing: false,
                },
            );
        }
        let wal_log = WalLog::new(wal, settings.force_sync);
        let log_bounds = crate::workers::TxnLog::bounds(&wal_log);
        let log = LogWorker::start(Box::new(wal_log), Arc::clone(&waker))?;
        let snapshot_settings = SnapshotSettings {
            dir: crate::storage::snapshot_dir(&settings.config.data_dir),
            snap_count: settings.config.snap_count,
            retain_count: settings.config.autopurge_snap_retain_count,
            loaded_zxid: snapshot_zxid,
            seed: crate::sys::random_u64()?,
        };
        let snapshots = Snapshots::start(snapshot_settings, waker)?;
        let sweep_ms = settings.container_check_interval_ms;
        Ok(Server {
            next_zxid: tree.last_zxid() + 1,
            tree,
            watches: WatchManager::new(),
            sessions,
            settings,
            clock,
            started: clock.now,
            slots: Vec::new(),
            free_slots: Vec::new(),
            per_ip: HashMap::new(),
            batch: Vec::new(),
            inflight: VecDeque::new(),
            log,
            snapshots,
            log_bounds,
            dirty: BTreeSet::new(),
            stalled: BTreeSet::new(),
            stats: ServerStats::default(),
            next_container_sweep: clock.after_ms(sweep_ms),
            next_cnxn_sweep: clock.after_ms(CNXN_SWEEP_INTERVAL_MS),
            trace_mask: 306,
        })
    }

    pub fn begin_turn(&mut self, clock: Clock) {
        self.clock = clock;
    }

    pub fn poll_timeout(&self) -> Option<Duration> {
        if !self.stalled.is_empty() {
            return Some(Duration::ZERO);
        }
        let deadline = [
            self.sessions.next_deadline(),
            Some(self.next_container_sweep),
            Some(self.next_cnxn_sweep),
            self.snapshots.next_deadline(self.clock.now),
        ]
        .into_iter()
        .flatten()
        .min();
        Some(timeout_until(&Clock::read(), deadline, IDLE_WAKE_MS))
    }

    // ---- the connection slab ----

    pub fn conn(&self, key: ConnKey) -> Option<&Connection> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.conn.as_ref()
    }

    pub fn conn_mut(&mut self, key: ConnKey) -> Option<&mut Connection> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.conn.as_mut()
    }

    pub fn connections(&self) -> impl Iterator<Item = (ConnKey, &Connection)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let key = ConnKey {
                index: i as u32,
                generation: s.generation,
            };
            s.conn.as_ref().map(|c| (key, c))
        })
    }

    /// `crst`: every connection's figures start over.
    pub fn reset_connection_stats(&mut self) {
        for slot in &mut self.slots {
            if let Some(conn) = slot.conn.as_mut() {
                conn.stats.reset();
            }
        }
    }

    pub fn on_accept(&mut self, stream: TcpStream, peer: SocketAddr) {
        let ip = peer.ip();
        let max = self.settings.max_client_cnxns;
        let count = self.per_ip.get(&ip).copied().unwrap_or(0);
        if max > 0 && count >= max {
            // ZooKeeper: "Too many connections from {} - max is {}"; the socket is closed.
            log::warn!("Too many connections from {ip} - max is {max}");
            self.stats.ops.connection_rejected.value += 1;
            return;
        }
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("set_nodelay failed for {peer}: {e}");
        }
        let conn = Connection::new(stream, peer, self.settings.jute_max_buffer, self.clock.now);
        let index = match self.free_slots.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn: None,
                    registered: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        assert!(slot.conn.is_none(), "a free slot holds no connection");
        slot.generation = slot.generation.wrapping_add(1);
        slot.conn = Some(conn);
        slot.registered = None;
        *self.per_ip.entry(ip).or_insert(0) += 1;
        let key = ConnKey {
            index,
            generation: slot.generation,
        };
        self.dirty.insert(key);
        // A new socket may already hold bytes; mio reports edges only for later arrivals
        // after registration, so read it once registered (end of turn) via `stalled`.
        self.stalled.insert(key);
    }

    pub fn on_readable(&mut self, key: ConnKey) {
        let Some(conn) = self.conn_mut(key) else {
            return;
        };
        // A backpressured connection is not read: the edge is lost, so whatever unblocks it
        // (output drained, queue shrunk, session set up) puts it on `stalled`.
        if conn.wants_read() {
            match conn.read_into(READ_BUDGET_BYTES) {
                Ok(n) => {
                    if n >= READ_BUDGET_BYTES {
                        self.stalled.insert(key);
                    }
                }
                Err(e) => {
                    log::debug!("read from {} failed: {e}", conn.peer);
                    self.close(key);
                    return;
                }
            }
        }
        self.process_input(key);
        self.dirty.insert(key);
    }

    pub fn on_writable(&mut self, key: ConnKey) {
        self.flush(key);
    }

    fn flush(&mut self, key: ConnKey) {
        let Some(conn) = self.conn_mut(key) else {
            return;
        };
        if !conn.has_output() {
            return;
        }
        match conn.write_out() {
            Ok(_) => {
                let drained = !conn.has_output();
                self.dirty.insert(key);
                if drained {
                    // Output drained: a connection held back by backpressure may read again.
                    self.stalled.insert(key);
                }
            }
            Err(e) => {
                log::debug!("write to {} failed: {e}", conn.peer);
                self.close(key);
            }
        }
    }

    /// Drops the connection now. Its session lives on until it expires or the client
    /// reconnects; its watches go, as in ZooKeeper (`removeCnxn`).
    pub fn close(&mut self, key: ConnKey) {
        let Some(slot) = self.slots.get_mut(key.index as usize) else {
            return;
        };
        if slot.generation != key.generation {
            return;
        }
        let Some(conn) = slot.conn.take() else { return };
        slot.registered = None;
        self.free_slots.push(key.index);
        let ip = conn.peer.ip();
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        if conn.session_id != 0 {
            let holds = self.sessions.get(conn.session_id).and_then(|s| s.conn) == Some(key);
            if holds {
                if let Some(s) = self.sessions.get_mut(conn.session_id) {
                    s.conn = None;
                }
                self.watches.remove_session(conn.session_id);
            }
        }
        self.stalled.remove(&key);
        self.dirty.remove(&key);
        log::debug!(
            "closed connection from {} (session {:#x})",
            conn.peer,
            conn.session_id
        );
        // Dropping the stream deregisters it from the poll and closes the socket.
        drop(conn);
    }

    /// Marks a connection to be closed once its output is flushed.
    pub fn close_after_flush(&mut self, key: ConnKey) {
        if let Some(conn) = self.conn_mut(key) {
            conn.phase = Phase::Closing;
            self.dirty.insert(key);
        }
    }

    // ---- the turn ----

    pub fn on_wake(&mut self) {
        while let Some(batch) = self.log.try_durable() {
            self.log_bounds = batch.bounds;
            for txn in batch.txns {
                self.apply_durable(txn);
            }
        }
        if let Some(snapshot_index) = self.snapshots.poll_done(self.clock.now) {
            // Keep one snapCount of entries before the oldest snapshot, as a margin.
            let reserve_count = u64::from(self.settings.config.snap_count);
            self.log.submit_purge(snapshot_index, reserve_count);
        }
    }

    pub fn end_turn(&mut self, registry: &mio::Registry) {
        self.expire_sessions();
        self.sweep_containers();
        self.sweep_sessionless_connections();
        // Revisit connections cut short earlier; bounded by the number of connections.
        let stalled: Vec<ConnKey> = std::mem::take(&mut self.stalled).into_iter().collect();
        for key in stalled {
            if self.conn(key).is_some() {
                self.on_readable(key);
            }
        }
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.log.submit(batch);
        }
        self.snapshots.turn(&mut self.tree, self.clock.now);
        let dirty: Vec<ConnKey> = std::mem::take(&mut self.dirty).into_iter().collect();
        for key in dirty {
            self.flush(key);
            self.dirty.remove(&key);
            self.sync_interest(key, registry);
        }
    }

    fn sync_interest(&mut self, key: ConnKey, registry: &mio::Registry) {
        let done = self.conn(key).map(|c| c.is_done());
        match done {
            None => return,
            Some(true) => {
                self.close(key);
                return;
            }
            Some(false) => {}
        }
        let slot = &mut self.slots[key.index as usize];
        let conn = slot.conn.as_mut().expect("conn checked above");
        let want = conn.interest();
        let result = match (slot.registered, want) {
            (None, Some(i)) => registry.register(&mut conn.stream, key.token(), i),
            (Some(old), Some(i)) if old != i => {
                registry.reregister(&mut conn.stream, key.token(), i)
            }
            (Some(_), None) => registry.deregister(&mut conn.stream),
            _ => Ok(()),
        };
        match result {
            Ok(()) => slot.registered = want,
            Err(e) => {
                log::warn!("cannot register connection from {}: {e}", conn.peer);
                self.close(key);
            }
        }
    }

    fn expire_sessions(&mut self) {
        for session_id in self.sessions.expired(self.clock.now) {
            log::info!("Expiring session {session_id:#x}, timeout exceeded");
            self.submit_close_session(session_id, None);
        }
    }

    /// Closes connections that never completed a handshake (idle sockets, slow clients).
    fn sweep_sessionless_connections(&mut self) {
        if self.clock.now < self.next_cnxn_sweep {
            return;
        }
        self.next_cnxn_sweep = self.clock.after_ms(CNXN_SWEEP_INTERVAL_MS);
        let limit = std::time::Duration::from_millis(SESSIONLESS_CNXN_TIMEOUT_MS);
        let now = self.clock.now;
        let stale: Vec<ConnKey> = self
            .connections()
            .filter(|(_, c)| c.phase == Phase::Fresh && now.duration_since(c.established) >= limit)
            .map(|(key, _)| key)
            .collect();
        for key in stale {
            log::debug!("closing a connection that sent no ConnectRequest in time");
            self.stats.ops.sessionless_connections_expired.value += 1;
            self.close(key);
        }
    }

    fn sweep_containers(&mut self) {
        if self.clock.now < self.next_container_sweep {
            return;
        }
        self.next_container_sweep = self
            .clock
            .after_ms(self.settings.container_check_interval_ms);
        for path in self.tree.expired_candidates(self.clock.wall_ms) {
            let req = wire::Request::DeleteContainer(wire::PathRequest { path });
            self.submit_txn(0, Vec::new(), tree::TxnOp::Request(req), None);
        }
    }

    /// Stamps a txn with the next zxid and this turn's clock and queues it for the log.
    pub fn submit_txn(
        &mut self,
        session_id: i64,
        auth: Vec<wire::Id>,
        op: tree::TxnOp,
        conn: Option<ConnKey>,
    ) -> i64 {
        let zxid = self.next_zxid;
        self.next_zxid += 1;
        self.batch.push(Txn {
            zxid,
            time_ms: self.clock.wall_ms,
            session_id,
            auth,
            op,
        });
        self.inflight.push_back(Inflight { zxid, conn });
        zxid
    }
}

//! The server's state and its turn: the connection slab, the data tree, the watches, the
//! sessions, and the write path — requests become txns, txns become Raft proposals, and
//! Raft's `Ready` batches go to the log worker and come back durable; committed entries are
//! applied in log order and answer the connections that wait for them.
//!
//! Invariants: `awaiting` maps the sequence number of every local proposal whose client
//! waits for it to that client's connection; at most one `Ready` is out (`outstanding`) and
//! it is finished — sent, applied, advanced — only after the log worker made it durable; a
//! connection's `pending` queue holds its requests in arrival order and only its front may
//! be answered; every connection whose state changed in a turn is in `dirty` and gets its
//! interest recomputed at the end of the turn.
//!
//! `raft_io.rs` drives Raft (the `Ready` contract); `peer_ops.rs` handles what the other
//! members send and ask (forwarded writes, sync and read barriers, liveness, leadership).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use tree::{DataTree, Txn, WatchManager};

use crate::replication::EntryPayload;

use crate::clock::Clock;
use crate::connection::{Connection, Phase, ReadUntil};
use crate::event_loop::{timeout_until, ConnKey};
use crate::sessions::Sessions;
use crate::snapshots::{SnapshotSettings, Snapshots};
use crate::storage::WalLog;
use crate::workers::{LogDone, LogWorker, PersistJob};

mod joining;
mod peer_ops;
use peer_ops::CatchUp;
mod raft_io;
mod reconfigure;
mod recovery;

/// Bytes one connection may read in one turn before others get theirs.
const READ_BUDGET_BYTES: usize = 256 * 1024;
/// How often, at most, the loop wakes with nothing to do.
const IDLE_WAKE_MS: u64 = 500;
/// A connection that has not sent its ConnectRequest by then is closed
/// (`zookeeper.nio.sessionlessCnxnTimeout`, 10 s in ZooKeeper).
const SESSIONLESS_CNXN_TIMEOUT_MS: u64 = 10_000;
/// How often connections are checked against that timeout.
const CNXN_SWEEP_INTERVAL_MS: u64 = 1_000;
/// One Raft tick. Elections time out after 10–20 ticks (1–2 s) and a leader sends
/// heartbeats every tick (raft `Config::new`'s defaults are chosen for this tick).
pub const RAFT_TICK_MS: u64 = 100;

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
    /// `--force-recovery`: start in recovery mode (server/recovery.rs).
    pub force_recovery: bool,
    pub config: crate::config::Config,
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
    read_scratch: crate::connection::ReadScratch,
    free_slots: Vec<u32>,
    per_ip: HashMap<IpAddr, usize>,
    pub tree: DataTree,
    pub watches: WatchManager,
    pub sessions: Sessions,
    /// This server's Raft id.
    pub my_id: u64,
    /// Connections to the other members (`None` in a one-member cluster).
    pub peers: Option<crate::peers::Peers>,
    /// The voters a new cluster starts with (zoo.cfg's participants; joining.rs).
    bootstrap_voters: Vec<raft::NodeId>,
    /// The other members' peer addresses as this server's zoo.cfg names them; they win over
    /// `/zookeeper/config`'s (reconfigure.rs).
    static_peers: BTreeMap<u64, SocketAddr>,
    /// What the peer transport's members were last computed from: the config node's text
    /// and the Raft membership.
    peer_members_basis: Option<(Vec<u8>, raft::Membership)>,
    /// In recovery mode after a lost quorum (recovery.rs).
    recovery: Option<recovery::Recovery>,
    /// The `server.N` lines as `/zookeeper/config` lists them (`None` alone, where
    /// ZooKeeper leaves the node empty); a leader writes them there if they are missing.
    config_members: Option<String>,
    /// The term in which this server last proposed `config_members` (once per term).
    config_proposed_term: u64,
    /// Sessions heard from since the last liveness batch to the leader (followers).
    touched: BTreeSet<i64>,
    /// Leader: ReadIndex contexts of followers' syncs → (follower, its sequence number).
    sync_reads: BTreeMap<u64, (u64, u64)>,
    next_read_ctx: u64,
    /// Follower: paths of syncs sent to the leader, by sequence number.
    sync_paths: BTreeMap<u64, String>,
    /// Follower: syncs the leader answered, and (any member) read barriers whose ReadIndex
    /// is known, waiting for this index to be applied.
    sync_waits: BTreeMap<u64, u64>,
    /// Follower: catching up with this term's leader before serving (peer_ops.rs).
    catch_up: CatchUp,
    /// `readConsistency=linearizable`: read barriers by sequence number → connection.
    barriers: BTreeMap<u64, ConnKey>,
    /// Leader: ReadIndex contexts of its own read barriers → barrier sequence number.
    barrier_reads: BTreeMap<u64, u64>,
    pub raft: raft::Node,
    /// The `Ready` the log worker is making durable, and how many of its committed entries
    /// were applied while it does (`raft_io::durable_committed_count`).
    outstanding: Option<(raft::Ready, usize)>,
    /// The snapshot file a leader streams to followers: opened when a transfer starts,
    /// closed when Raft compacts to a newer one (its transfers then start over from that).
    served_snapshot: Option<wal::SnapshotReader<wal::FileDisk>>,
    /// Term, vote and recovery mark as last written to `raft-state`.
    persisted_vote: (raft::Term, Option<raft::NodeId>),
    persisted_recovering: bool,
    next_tick: Instant,
    /// The sequence number of the next local proposal. It starts at a random value below
    /// 2^63, not at 1: an entry this server forwarded or proposed before a restart keeps its
    /// (origin, seq) and may commit after the restart, and a count restarted from 1 would
    /// hand its result to whichever new request had the same number waiting in `awaiting`.
    next_seq: u64,
    /// Local proposals whose client waits: sequence number → connection.
    pub awaiting: BTreeMap<u64, ConnKey>,
    /// An entry of the current term has been applied here: the tree has caught up with
    /// this term's leader, so clients may be served (ZooKeeper serves only once synced).
    applied_current_term: bool,
    /// The (term, leader) this member last became a follower of.
    followed: Option<(raft::Term, raft::NodeId)>,
    /// A follower's leader and its `Peers::links_lost` count when last looked at.
    leader_links_seen: Option<(raft::NodeId, u64)>,
    /// Committed entries applied in the outstanding batch changed /zookeeper/config: walk
    /// toward the new member list when the batch is advanced (`finish_ready`).
    config_changed: bool,
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
        cluster: crate::cluster::ClusterSettings,
        registry: &mio::Registry,
    ) -> io::Result<Server> {
        let crate::storage::Recovered {
            tree,
            wal,
            secret,
            snapshot_zxid,
            raft: raft_storage,
            recovering,
        } = recovered;
        let my_id = cluster.my_id;
        let static_peers = cluster
            .peers
            .as_ref()
            .map(|p| p.members.clone())
            .unwrap_or_default();
        let peers = match cluster.peers {
            None => None,
            Some(mut peer_settings) => {
                let raft_is_empty =
                    raft_storage.entries.is_empty() && raft_storage.snapshot.is_none();
                peer_settings.identity = joining::initial_identity(
                    &settings.config.data_dir,
                    peer_settings.identity,
                    raft_is_empty,
                    recovering,
                )
                .map_err(|e| io::Error::other(e.to_string()))?;
                let peers = crate::peers::Peers::new(
                    peer_settings,
                    registry,
                    crate::event_loop::PEER_TOKENS,
                    clock.now,
                )?;
                log::info!("server {my_id}: accepting peers on {}", peers.local_addr());
                Some(peers)
            }
        };
        let mut raft_config = raft::Config::new(raft::NodeId(my_id), crate::sys::random_u64()?);
        // Snapshots stay in their files; a leader streams one from there (raft_io.rs).
        raft_config.snapshot_bytes_in_driver = true;
        raft_config.snapshot_chunk_bytes = raft_io::SNAPSHOT_CHUNK_BYTES as usize;
        // An entry holds one request (at most jute.maxbuffer) plus its txn header.
        raft_config.msg_bytes_max = raft_config
            .msg_bytes_max
            .max(settings.jute_max_buffer + 4096);
        let persisted_vote = (
            raft_storage.hard_state.term,
            raft_storage.hard_state.voted_for,
        );
        let mut raft = raft::Node::new(raft_config, raft_storage);
        if recovering {
            log::warn!("recovering a damaged log: this member will not vote until caught up");
            raft.start_recovering();
        }
        let mut sessions = Sessions::new(cluster.session_server_byte, clock.wall_ms, secret);
        for (id, session) in tree.sessions().iter() {
            sessions.adopt(id, session.timeout_ms, &clock);
        }
        let wal_log = WalLog::new(wal, &settings.config.data_dir, settings.force_sync);
        let log_bounds = crate::workers::RaftLog::bounds(&wal_log);
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
        let config_members = reconfigure::config_members(&settings.config, peers.is_some());
        let mut server = Server {
            my_id,
            peers,
            bootstrap_voters: cluster.voters,
            static_peers,
            peer_members_basis: None,
            recovery: None,
            config_members,
            config_proposed_term: 0,
            touched: BTreeSet::new(),
            sync_reads: BTreeMap::new(),
            next_read_ctx: 1,
            sync_paths: BTreeMap::new(),
            sync_waits: BTreeMap::new(),
            catch_up: CatchUp::default(),
            barriers: BTreeMap::new(),
            barrier_reads: BTreeMap::new(),
            raft,
            outstanding: None,
            served_snapshot: None,
            persisted_vote,
            persisted_recovering: recovering,
            next_tick: clock.after_ms(RAFT_TICK_MS),
            next_seq: crate::sys::random_u64()? >> 1,
            awaiting: BTreeMap::new(),
            applied_current_term: false,
            followed: None,
            leader_links_seen: None,
            config_changed: false,
            tree,
            watches: WatchManager::new(),
            sessions,
            settings,
            clock,
            started: clock.now,
            slots: Vec::new(),
            read_scratch: Default::default(),
            free_slots: Vec::new(),
            per_ip: HashMap::new(),
            log,
            snapshots,
            log_bounds,
            dirty: BTreeSet::new(),
            stalled: BTreeSet::new(),
            stats: ServerStats::default(),
            next_container_sweep: clock.after_ms(sweep_ms),
            next_cnxn_sweep: clock.after_ms(CNXN_SWEEP_INTERVAL_MS),
            trace_mask: 306,
        };
        let recovery = if server.settings.force_recovery {
            let config = server.settings.config.clone();
            server.enter_recovery(&config)
        } else {
            server.resume_recovery()
        };
        recovery.map_err(|e| io::Error::other(format!("recovery mode: {e}")))?;
        Ok(server)
    }

    pub fn begin_turn(&mut self, clock: Clock) {
        self.clock = clock;
    }

    pub fn poll_timeout(&self) -> Option<Duration> {
        if !self.stalled.is_empty() {
            return Some(Duration::ZERO);
        }
        // Session deadlines are checked on ticks (`end_turn`), so they need no wake-up of
        // their own.
        let deadline = [
            Some(self.next_container_sweep),
            Some(self.next_cnxn_sweep),
            Some(self.next_tick),
            self.peers.as_ref().and_then(|p| p.next_deadline()),
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

    pub fn on_readable(&mut self, key: ConnKey, until: ReadUntil) {
        let mut scratch = std::mem::take(&mut self.read_scratch);
        self.read_conn(key, &mut scratch, until);
        self.read_scratch = scratch;
    }

    fn read_conn(
        &mut self,
        key: ConnKey,
        scratch: &mut crate::connection::ReadScratch,
        until: ReadUntil,
    ) {
        let Some(conn) = self.conn_mut(key) else {
            return;
        };
        // A backpressured connection is not read: the edge is lost, so whatever unblocks it
        // (output drained, queue shrunk, session set up) puts it on `stalled`.
        conn.held_back = conn.is_backpressured();
        if conn.wants_read() {
            match conn.read_into(scratch, READ_BUDGET_BYTES, until) {
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
                let held_back = conn.held_back;
                self.dirty.insert(key);
                if drained && held_back {
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
        if conn.read_only {
            let held_elsewhere = self
                .sessions
                .get(conn.session_id)
                .is_some_and(|s| s.conn.is_some());
            if !held_elsewhere {
                self.watches.remove_session(conn.session_id);
            }
        } else if conn.session_id != 0 {
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
        while let Some(done) = self.log.try_done() {
            match done {
                LogDone::Persisted { bounds } => {
                    self.log_bounds = bounds;
                    let (ready, applied_early) = self
                        .outstanding
                        .take()
                        .expect("the log worker persists only the outstanding Ready");
                    self.finish_ready(ready, applied_early);
                }
                LogDone::Purged { bounds, files } => {
                    self.log_bounds = bounds;
                    self.snapshots.delete_later(files);
                }
            }
        }
        if let Some(snapshot_index) = self.snapshots.poll_done(self.clock.now) {
            self.compact_raft_log();
            // Keep one snapCount of entries before the oldest snapshot, as a margin.
            let reserve_count = u64::from(self.settings.config.snap_count);
            self.log.submit_purge(snapshot_index, reserve_count);
        }
    }

    pub fn end_turn(&mut self, registry: &mio::Registry) {
        self.receive_from_peers();
        self.check_leader_links();
        if self.clock.now >= self.next_tick {
            // One tick per turn, however late: ticks missed while this process stood still
            // (descheduled on a busy host, stopped) are dropped, as etcd's ticker drops
            // them. Counting them would start an election the moment it runs again, before
            // it has read the leader's heartbeats that arrived meanwhile.
            self.raft.tick();
            self.next_tick += Duration::from_millis(RAFT_TICK_MS);
            if self.next_tick <= self.clock.now {
                self.next_tick = self.clock.now + Duration::from_millis(RAFT_TICK_MS);
            }
            self.report_lost_entries();
            self.send_liveness();
            self.check_caught_up();
            self.write_cluster_config();
            self.sync_peer_members();
            self.reconcile_membership();
            self.check_recovery();
            // Once a tick, not every turn (a scan of every session): expiry is as exact as
            // ZooKeeper's, which checks in buckets of tickTime.
            self.expire_sessions();
        }
        if let Some(peers) = self.peers.as_mut() {
            peers.tick(registry, self.clock.now);
        }
        self.sweep_containers();
        self.sweep_sessionless_connections();
        // Revisit connections cut short earlier; bounded by the number of connections.
        let stalled: Vec<ConnKey> = std::mem::take(&mut self.stalled).into_iter().collect();
        for key in stalled {
            if self.conn(key).is_some() {
                // No event stands behind a revisit: read until the socket says it is empty.
                self.on_readable(key, ReadUntil::WouldBlock);
            }
        }
        self.drive_raft();
        let raft = &self.raft;
        self.snapshots
            .turn(&mut self.tree, self.clock.now, |index| {
                raft_io::snapshot_meta(raft, index)
            });
        if let Some(peers) = self.peers.as_mut() {
            peers.end_turn(registry);
        }
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
        if !self.is_leader() {
            // Only the leader decides expiry.
            return;
        }
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
        if self.clock.now < self.next_container_sweep || !self.is_leader() {
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

    /// Stamps a txn with this turn's clock and proposes it; returns its sequence number,
    /// which its connection's `Pending::Write` carries until the entry is applied.
    pub fn submit_txn(
        &mut self,
        session_id: i64,
        auth: Vec<wire::Id>,
        op: tree::TxnOp,
        conn: Option<ConnKey>,
    ) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut payload = EntryPayload {
            origin: self.my_id,
            seq,
            txn: Txn {
                zxid: 0,
                time_ms: self.clock.wall_ms,
                session_id,
                auth,
                op,
            },
        };
        if self.is_leader() {
            self.stamp_leader_view(&mut payload.txn);
        }
        if let Some(key) = conn {
            self.awaiting.insert(seq, key);
        }
        let data = payload.encode();
        let result = match (self.is_leader(), self.raft.leader(), self.peers.as_mut()) {
            (true, _, _) => self
                .raft
                .propose(data)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (false, Some(leader), Some(peers)) => {
                let mut frame = Vec::with_capacity(1 + data.len());
                frame.push(crate::cluster::KIND_FORWARD);
                frame.extend_from_slice(&data);
                if peers.send(leader.0, &frame) {
                    Ok(())
                } else {
                    Err(format!("cannot forward it to leader {leader}"))
                }
            }
            (false, _, _) => Err("no leader".to_string()),
        };
        if let Err(e) = result {
            // No leader (an election), a transfer, or backpressure: the client learns as
            // from ZooKeeper in that case, by losing its connection, and retries once it
            // reconnects.
            log::warn!("cannot propose a txn: {e}");
            if let Some(key) = self.awaiting.remove(&seq) {
                self.close(key);
            }
        }
        seq
    }

    pub fn is_leader(&self) -> bool {
        self.raft.role() == raft::Role::Leader
    }

    /// Clients may be served: a leader is known, this server is connected to it, and it has
    /// caught up with it. (Raft keeps naming a dead leader until the election timeout;
    /// ZooKeeper stops serving as soon as its link to the leader drops, and so do we.)
    pub fn is_serving(&self) -> bool {
        let Some(leader) = self.raft.leader() else {
            return false;
        };
        let linked = leader.0 == self.my_id
            || self
                .peers
                .as_ref()
                .is_some_and(|p| p.is_connected(leader.0));
        linked && self.applied_current_term && self.caught_up() && self.recovery.is_none()
    }

    /// Read-only mode is on and this member has no leader to follow: it serves read-only
    /// sessions.
    pub fn is_read_only(&self) -> bool {
        let follows = self.raft.leader().is_some_and(|leader| {
            leader.0 == self.my_id
                || self
                    .peers
                    .as_ref()
                    .is_some_and(|p| p.is_connected(leader.0))
        }) && self.applied_current_term;
        self.settings.config.read_only_mode_enabled && self.peers.is_some() && !follows
    }
}

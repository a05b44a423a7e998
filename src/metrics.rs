//! The server's figures as the four-letter words see them: builds a `fourlw::ServerView`
//! from the live state, answers the word, and carries out its side effect (crst, srst).
//!
//! Kept apart from `fourlw` so that formatting stays a pure function of the view.

use std::time::Instant;

use crate::event_loop::ConnKey;
use crate::fourlw::{self, Action, ConnView, ServerView, Word};
use crate::server::Server;

/// ZooKeeper 3.8's version string shape: kazoo's `server_version()` parses the leading X.Y.Z.
pub fn version_string() -> String {
    format!(
        "3.8.0-ferrokeeper-{}, built on unknown",
        env!("CARGO_PKG_VERSION")
    )
}

/// Answers a four-letter word that opened connection `key`.
pub fn respond(server: &mut Server, key: ConnKey, word: &[u8; 4]) -> String {
    let Some(word) = Word::from_bytes(word) else {
        return String::new();
    };
    let whitelist = server.settings.four_letter_words.clone();
    let argument = server
        .conn(key)
        .map(|c| c.four_letter_word_argument().to_vec());
    let answer = if word == Word::Stmk {
        let mut mask = [0u8; fourlw::STMK_ARGUMENT_BYTES];
        if let Some(arg) = argument.filter(|a| a.len() == mask.len()) {
            mask.copy_from_slice(&arg);
        }
        fourlw::answer_set_trace_mask(mask, &whitelist)
    } else if word == Word::Rclc && whitelist.is_enabled(word.as_str()) {
        fourlw::answer_recalculate(&recalculate(server), &whitelist)
    } else if matches!(word, Word::Rqld | Word::Ydld) && whitelist.is_enabled(word.as_str()) {
        let sent = if word == Word::Rqld {
            server.request_leadership()
        } else {
            server.yield_leadership()
        };
        fourlw::answer_leadership(word, sent, &whitelist)
    } else if word == Word::Rcvr && whitelist.is_enabled(word.as_str()) {
        fourlw::answer_recovery(server.recover_on_request(), &whitelist)
    } else if word == Word::Clrs && whitelist.is_enabled(word.as_str()) {
        clean_resources(server);
        fourlw::answer_clean_resources(&whitelist)
    } else if fourlw::needs_view(word, &whitelist) {
        let view = build_view(server, Some(key));
        fourlw::answer(word, &whitelist, &view)
    } else {
        let view = minimal_view(server);
        fourlw::answer(word, &whitelist, &view)
    };
    match answer.action {
        Action::None => {}
        Action::SetTraceMask(mask) => server.trace_mask = mask,
        Action::ResetConnectionStats => server.reset_connection_stats(),
        Action::ResetServerStats => server.stats = Default::default(),
        Action::CreateSnapshot => {
            log::info!(
                "Snapshot creation scheduled with last committed log index {}.",
                server.tree.last_zxid()
            );
            server.snapshots.request();
        }
    }
    answer.text
}

/// `rclc`: the tree's digest recomputed from every node, beside the one kept on every apply.
fn recalculate(server: &Server) -> fourlw::Recalculated {
    let found = fourlw::Recalculated {
        zxid: server.tree.last_zxid(),
        digest_maintained: server.tree.digest(),
        digest_recomputed: server.tree.recompute_digest(),
    };
    if found.digest_maintained == found.digest_recomputed {
        log::info!(
            "rclc: digest {:#018x} at zxid {:#x} recomputed from {} znodes: it matches",
            found.digest_recomputed,
            found.zxid,
            server.tree.node_count()
        );
    } else {
        // Reported to the operator who asked rather than aborting: the answer is the check.
        log::error!(
            "rclc: digest mismatch at zxid {:#x}: maintained {:#018x}, recalculated {:#018x}",
            found.zxid,
            found.digest_maintained,
            found.digest_recomputed
        );
    }
    found
}

/// `clrs`: every connection gives back its buffers' spare capacity. (Returning freed heap to
/// the OS, as ClickHouse does with jemalloc, needs `malloc_trim`, which we do not call.)
fn clean_resources(server: &mut Server) {
    let keys: Vec<ConnKey> = server.connections().map(|(key, _)| key).collect();
    let mut released_bytes = 0usize;
    for &key in &keys {
        if let Some(conn) = server.conn_mut(key) {
            released_bytes += conn.release_spare_capacity();
        }
    }
    log::info!(
        "clrs: released {released_bytes} bytes of buffer capacity from {} connections",
        keys.len()
    );
}

/// `pfev`: the server's counters, by their `mntr` names.
fn profile_events(server: &Server) -> Vec<fourlw::ProfileEvent> {
    let st = &server.stats;
    let event = |name: &str, value: u64, description: &'static str| fourlw::ProfileEvent {
        name: name.to_string(),
        value,
        description,
    };
    let mut events = vec![
        event(
            "packets_received",
            st.packets_received,
            "Packets received from clients",
        ),
        event("packets_sent", st.packets_sent, "Packets sent to clients"),
    ];
    for counter in st.ops.counters() {
        events.push(event(counter.name, counter.value, counter.description));
    }
    for summary in st.ops.summaries() {
        events.push(fourlw::ProfileEvent {
            name: format!("cnt_{}", summary.name),
            value: summary.stats.count,
            description: summary.description,
        });
    }
    events
}

fn epoch_ms_of(server: &Server, at: Instant) -> u64 {
    let back = server.clock.now.saturating_duration_since(at).as_millis() as i64;
    (server.clock.wall_ms - back).max(0) as u64
}

fn conn_views(server: &Server, asking: Option<ConnKey>) -> Vec<ConnView> {
    server
        .connections()
        .map(|(key, c)| {
            let s = &c.stats;
            let session = server.sessions.get(c.session_id);
            ConnView {
                remote: c.peer,
                interest_ops: if Some(key) == asking {
                    0
                } else {
                    1 | if c.has_output() { 4 } else { 0 }
                },
                queued: c.pending.len() as u64,
                packets_received: s.packets_received,
                packets_sent: s.packets_sent,
                session_id: c.session_id as u64,
                last_operation: s
                    .last_op
                    .map(|op| fourlw::last_operation_name(op.code()))
                    .unwrap_or("NA"),
                established_ms: epoch_ms_of(server, c.established),
                session_timeout_ms: c.timeout_ms.max(0) as u32,
                last_cxid: s.last_xid.map(|x| x as u32),
                last_zxid: if s.latency.count > 0 { s.last_zxid } else { -1 },
                last_response_ms: s.last_response_ms.max(0) as u64,
                last_latency_ms: s.latency_last_ms,
                latency: s.latency,
                expires_at_ms: session.map(|x| epoch_ms_of_future(server, x.deadline)),
            }
        })
        .collect()
}

fn epoch_ms_of_future(server: &Server, at: Instant) -> u64 {
    let ahead = at.saturating_duration_since(server.clock.now).as_millis() as i64;
    (server.clock.wall_ms + ahead).max(0) as u64
}

fn minimal_view(server: &Server) -> ServerView<'_> {
    view_with(
        server,
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        0,
        0,
    )
}

/// Everything `mntr` reads, for the Prometheus endpoint (no client connection is asking).
pub fn scrape_view(server: &Server) -> ServerView<'_> {
    build_view(server, None)
}

fn build_view(server: &Server, asking: Option<ConnKey>) -> ServerView<'_> {
    let connections = conn_views(server, asking);
    let data_watches = server
        .watches
        .watches_by_session()
        .into_iter()
        .map(|(s, paths)| (s as u64, paths))
        .collect();
    let ephemerals = server
        .tree
        .ephemerals()
        .into_iter()
        .map(|(s, paths)| (s as u64, paths))
        .collect();
    let sessions = server
        .sessions
        .iter()
        .map(|(id, s)| (*id as u64, epoch_ms_of_future(server, s.deadline)))
        .collect();
    let config = &server.settings.config;
    let data_dir = fourlw::dir_size_bytes(&config.data_dir);
    let log_dir = fourlw::dir_size_bytes(&config.data_log_dir);
    let env = fourlw::collect_environment(&version_string());
    view_with(
        server,
        connections,
        data_watches,
        ephemerals,
        sessions,
        env,
        data_dir,
        log_dir,
    )
}

#[allow(clippy::too_many_arguments)]
fn view_with(
    server: &Server,
    connections: Vec<ConnView>,
    data_watches: Vec<(u64, Vec<String>)>,
    ephemerals: Vec<(u64, Vec<String>)>,
    sessions: Vec<(u64, u64)>,
    environment: Vec<(String, String)>,
    data_dir_size_bytes: u64,
    data_log_dir_size_bytes: u64,
) -> ServerView<'_> {
    let st = &server.stats;
    ServerView {
        config: &server.settings.config,
        version: version_string(),
        is_serving: server.is_serving() || server.is_read_only(),
        read_only: server.is_read_only(),
        mode: server_mode(server),
        last_processed_zxid: server.tree.last_zxid() as u64,
        node_count: server.tree.node_count() as u64,
        latency: st.latency,
        packets_received: st.packets_received,
        packets_sent: st.packets_sent,
        outstanding_requests: server.awaiting.len() as u64,
        connections,
        data_watches,
        watch_count: server.watches.watch_count() as u64,
        ephemerals,
        sessions,
        approximate_data_size: server.tree.approximate_data_size().max(0) as u64,
        data_dir_size_bytes,
        data_log_dir_size_bytes,
        environment,
        uptime_ms: server
            .clock
            .now
            .saturating_duration_since(server.started)
            .as_millis() as u64,
        open_file_descriptor_count: fourlw::open_file_descriptor_count(),
        max_file_descriptor_count: fourlw::max_file_descriptor_count(),
        client_response_sizes: st.ops.client_response_sizes,
        auth_failed_count: 0,
        proposal_sizes: None,
        trace_mask: server.trace_mask,
        digest_log: vec![(server.tree.last_zxid() as u64, server.tree.digest())],
        extra_metrics: {
            let mut lines = st.ops.mntr_lines();
            lines.extend(raft_metrics(server));
            lines
        },
        log_info: fourlw::LogInfo {
            first_log_idx: server.log_bounds.first_index,
            first_log_term: server.log_bounds.first_term,
            last_log_idx: server.log_bounds.last_index,
            last_log_term: server.log_bounds.last_term,
            // ClickHouse Keeper's meaning: what this server applied, what it knows to be
            // committed, and what it must reach.
            last_committed_log_idx: server.tree.last_zxid().max(0) as u64,
            leader_committed_log_idx: server.raft.commit_index().0,
            target_committed_log_idx: server.raft.commit_index().0,
            last_snapshot_idx: server.snapshots.last_snapshot_zxid.max(0) as u64,
        },
        profile_events: profile_events(server),
    }
}

/// The cluster's figures for `mntr` (and Prometheus): ZooKeeper's leader-only follower
/// counts, and the Raft figures ClickHouse Keeper's users watch.
fn raft_metrics(server: &Server) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    if server.is_leader() && server.peers.is_some() {
        let me = raft::NodeId(server.my_id);
        let membership = server.raft.membership();
        let commit = server.raft.commit_index();
        let others: Vec<raft::NodeId> = membership.members().filter(|id| *id != me).collect();
        // A member is synced when it holds everything committed (ZooKeeper: a learner that
        // finished its sync with the leader).
        let synced = |id: &raft::NodeId| server.raft.match_index(*id).is_some_and(|m| m >= commit);
        let voters_synced = others
            .iter()
            .filter(|id| membership.is_voter(**id) && synced(id))
            .count();
        let learners_synced = others
            .iter()
            .filter(|id| !membership.is_voter(**id) && synced(id))
            .count();
        let connected = server
            .peers
            .as_ref()
            .map(|p| p.connected().len())
            .unwrap_or(0);
        lines.push(("followers".to_string(), connected.to_string()));
        lines.push(("synced_followers".to_string(), voters_synced.to_string()));
        lines.push((
            "synced_non_voting_followers".to_string(),
            learners_synced.to_string(),
        ));
        lines.push((
            "pending_syncs".to_string(),
            server.pending_syncs().to_string(),
        ));
    }
    lines.push(("raft_term".to_string(), server.raft.term().0.to_string()));
    lines.push((
        "raft_commit_index".to_string(),
        server.raft.commit_index().0.to_string(),
    ));
    lines.push((
        "raft_applied_index".to_string(),
        server.raft.applied_index().0.to_string(),
    ));
    lines.push((
        "raft_log_entries".to_string(),
        (server.raft.last_index().0 + 1)
            .saturating_sub(server.raft.first_index().0)
            .to_string(),
    ));
    lines.push((
        "raft_snapshot_index".to_string(),
        server.snapshots.last_snapshot_zxid.max(0).to_string(),
    ));
    lines.push(("digest".to_string(), server.tree.digest().to_string()));
    lines
}

/// ZooKeeper's `Mode`/`zk_server_state`: "standalone" for a one-member cluster, else this
/// server's Raft role ("leader", "follower", "observer" for a learner; a server between
/// leaders reports "follower", as a ZooKeeper peer in LOOKING reports no leader either).
fn server_mode(server: &Server) -> &'static str {
    if server.peers.is_none() {
        return "standalone";
    }
    if server.is_read_only() {
        return "read-only";
    }
    let me = raft::NodeId(server.my_id);
    if server.raft.membership().learners.contains(&me) {
        return "observer";
    }
    match server.raft.role() {
        raft::Role::Leader => "leader",
        _ => "follower",
    }
}

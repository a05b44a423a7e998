//! Recovery after a cluster lost its quorum for good (issue #8), as ClickHouse Keeper's
//! recovery mode works: the operator picks the server whose data is to be kept, lists the new
//! members in every server's zoo.cfg (new servers get new ids; the lost ones must never come
//! back), then starts the picked server with `--force-recovery` or sends it `rcvr`.
//!
//! That server (`enter_recovery`) makes itself, by decree, the only voter of the Raft
//! membership (`raft::Node::force_configuration`) and puts zoo.cfg's list into
//! `/zookeeper/config` with the same decree. It then leads alone, and the usual walk of
//! reconfigure.rs adds the new servers: each joins empty (joining.rs), catches up as a
//! learner and is promoted. Until a quorum of the new list votes again it refuses clients
//! (`mntr` and the others say it is not serving) and the writes followers forward; then it
//! serves as a normal leader (`check_recovery`). The state survives a restart through
//! `dataDir/recovery`; a restart does not decree again once the list is in force.

use std::collections::BTreeSet;

use super::{reconfigure, Server};
use crate::replication::EntryPayload;

const MARKER_FILE: &str = "recovery";

/// A server in recovery mode: what it waits for.
pub(super) struct Recovery {
    /// The new member list, as `/zookeeper/config` holds it.
    members_text: String,
    /// Its voters (participants).
    voters: BTreeSet<u64>,
}

impl Server {
    /// `--force-recovery` (`config` is the one the server started with) or `rcvr` (zoo.cfg
    /// read again, so the operator's new list is taken). Also at start-up when a recovery
    /// was under way.
    pub fn enter_recovery(&mut self, config: &crate::config::Config) -> Result<(), String> {
        if self.peers.is_none() {
            return Err("a standalone server has no quorum to recover".to_string());
        }
        if self.raft.is_empty() {
            return Err("this server holds no data to recover from".to_string());
        }
        let cluster = crate::cluster::ClusterSettings::from_config(config)?;
        if cluster.my_id != self.my_id {
            return Err(format!(
                "{} gives this server id {}, not {}",
                config.source_name, cluster.my_id, self.my_id
            ));
        }
        let me = raft::NodeId(self.my_id);
        if !cluster.voters.contains(&me) {
            return Err(format!(
                "{} does not list this server as a participant",
                config.source_name
            ));
        }
        let members_text = reconfigure::config_members(config, true)
            .ok_or_else(|| format!("{}: its server lines are not usable", config.source_name))?;
        let data_dir = &self.settings.config.data_dir;
        crate::storage::write_file_durably(data_dir, MARKER_FILE, members_text.as_bytes())
            .map_err(|e| e.to_string())?;
        self.static_peers = cluster.peers.map(|p| p.members).unwrap_or_default();
        self.bootstrap_voters = cluster.voters.clone();
        self.peer_members_basis = None;
        log::warn!(
            "This instance is in recovery mode: it refuses requests until a quorum of the new \
             member list has joined it. New member list:\n{members_text}"
        );
        if self.config_members_now().as_deref() != Some(members_text.as_str()) {
            let payload = EntryPayload {
                origin: self.my_id,
                seq: self.next_seq,
                txn: tree::Txn {
                    zxid: 0,
                    time_ms: self.clock.wall_ms,
                    session_id: 0,
                    auth: Vec::new(),
                    op: tree::TxnOp::SetConfig {
                        members: members_text.clone(),
                    },
                },
            };
            self.next_seq += 1;
            let index = self.raft.force_configuration(&[me], payload.encode());
            log::warn!(
                "recovery: this server is now the only voter, by decree at index {index} in \
                 term {}",
                self.raft.term()
            );
        }
        self.recovery = Some(Recovery {
            voters: cluster.voters.iter().map(|v| v.0).collect(),
            members_text,
        });
        Ok(())
    }

    /// A recovery under way when the server stopped, from `dataDir/recovery`.
    pub(super) fn resume_recovery(&mut self) -> Result<(), String> {
        let marker = self.settings.config.data_dir.join(MARKER_FILE);
        if !marker.exists() {
            return Ok(());
        }
        log::warn!(
            "a recovery was under way ({}): resuming it",
            marker.display()
        );
        let config = self.settings.config.clone();
        self.enter_recovery(&config)
    }

    /// `rcvr`: reads zoo.cfg again and enters recovery mode; the answer is ClickHouse
    /// Keeper's "ok", or why not.
    pub fn recover_on_request(&mut self) -> String {
        let path = std::path::PathBuf::from(&self.settings.config.source_name);
        let loaded = crate::config::Config::load(&path).map_err(|e| e.to_string());
        match loaded.and_then(|(config, _)| self.enter_recovery(&config)) {
            Ok(()) => "ok".to_string(),
            Err(e) => {
                log::error!("rcvr refused: {e}");
                format!("rcvr refused: {e}")
            }
        }
    }

    pub fn in_recovery(&self) -> bool {
        self.recovery.is_some()
    }

    /// The list reconfigure.rs walks toward in recovery: none until the decreed one is in
    /// `/zookeeper/config` (the old one must not bring the lost servers back).
    pub(super) fn recovery_allows_reconcile(&self) -> bool {
        match &self.recovery {
            None => true,
            Some(r) => self.config_members_now().as_deref() == Some(r.members_text.as_str()),
        }
    }

    /// Every tick: ends recovery once, as the leader, the Raft voters hold a quorum of the
    /// new list's voters.
    pub(super) fn check_recovery(&mut self) {
        let Some(recovery) = &self.recovery else {
            return;
        };
        if !self.is_leader() || !self.recovery_allows_reconcile() {
            return;
        }
        let voters = &self.raft.membership().voters;
        let joined = recovery
            .voters
            .iter()
            .filter(|v| voters.contains(&raft::NodeId(**v)))
            .count();
        if joined <= recovery.voters.len() / 2 {
            return;
        }
        let marker = self.settings.config.data_dir.join(MARKER_FILE);
        if let Err(e) = std::fs::remove_file(&marker) {
            log::error!(
                "cannot remove {}: {e}; staying in recovery",
                marker.display()
            );
            return;
        }
        log::warn!(
            "recovery done: {joined} of the {} new voters are in; serving again",
            recovery.voters.len()
        );
        self.recovery = None;
        self.peer_members_basis = None;
    }

    /// `/zookeeper/config`'s server lines (without its version line), as `config_members`
    /// renders them.
    fn config_members_now(&self) -> Option<String> {
        let node = self.tree.node(tree::CONFIG_NODE)?;
        let text = String::from_utf8_lossy(node.data());
        let config = crate::reconfig::ClusterConfig::parse(&text).ok()?;
        Some(config.members_text())
    }
}

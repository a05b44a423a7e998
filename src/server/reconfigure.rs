//! Cluster membership as `/zookeeper/config` names it (issue #8).
//!
//! `/zookeeper/config` is the *desired* membership, replicated like any node: the first
//! leader writes zoo.cfg's `server.N` lines there, and a `reconfig` rewrites it. A reconfig
//! travels the log as `TxnOp::Reconfig`; every replica turns it into the new text (or an
//! error) at apply time from replicated state alone — the node itself, the txn's auth, the
//! Raft membership in force at its index — so all replicas agree (`resolve_reconfig`).
//! The leader then walks the Raft membership to the desired one, one single-server change
//! at a time (`reconcile_membership`): new servers join as learners and vote only once
//! caught up, the leader leaves last. While the two differ, a new reconfig gets
//! ReconfigInProgress.
//!
//! NewConfigNoQuorum is checked against the leader's view of who is synced, which the
//! leader stamps into the txn when it proposes it (`stamp_leader_view`), so every replica
//! decides alike. Difference from ZooKeeper, on purpose: the reply comes when the new text
//! commits, not when the membership has moved (a learner may still be catching up; it cannot
//! stall commits because it only votes once caught up).

use std::collections::{BTreeMap, BTreeSet};
use std::net::ToSocketAddrs;

use wire::{perms, ErrorCode};

use super::Server;
use crate::reconfig::{self, ClusterConfig, LeaderView, ReconfigError};
use tree::{Txn, TxnOp};

impl Server {
    /// A `TxnOp::Reconfig` becomes the `SetConfig` it asks for, or stays and carries the
    /// error to answer with; any other txn passes through.
    pub(crate) fn resolve_reconfig(
        &self,
        txn: Txn,
        index: raft::LogIndex,
    ) -> (Txn, Option<ErrorCode>) {
        let TxnOp::Reconfig { request, synced } = &txn.op else {
            return (txn, None);
        };
        let synced: Option<BTreeSet<u64>> = synced.as_ref().map(|s| s.iter().copied().collect());
        match self.plan_reconfig(request, &txn.auth, index, synced.as_ref()) {
            Ok(members) => {
                log::info!("reconfig at index {index}: new member list\n{members}");
                let op = TxnOp::SetConfig { members };
                (Txn { op, ..txn }, None)
            }
            Err(e) => {
                log::info!("reconfig at index {index} refused: {e}");
                (txn, Some(e.code()))
            }
        }
    }

    fn plan_reconfig(
        &self,
        request: &wire::ReconfigRequest,
        auth: &[wire::Id],
        index: raft::LogIndex,
        synced: Option<&BTreeSet<u64>>,
    ) -> Result<String, ReconfigError> {
        let node = self
            .tree
            .node(tree::CONFIG_NODE)
            .ok_or(ReconfigError::InProgress)?;
        // Empty until the first leader has written zoo.cfg's list: nothing to change yet.
        let current = ClusterConfig::parse(&String::from_utf8_lossy(node.data()))
            .ok()
            .filter(|c| !c.members.is_empty())
            .ok_or(ReconfigError::InProgress)?;
        let in_force = self.raft.membership_at(index);
        let view = LeaderView {
            reconfig_enabled: true,
            is_standalone: self.peers.is_none(),
            standalone_enabled: true,
            is_change_in_progress: in_force != current.membership(),
            leader_id: 0,
            synced,
            may_write_config: tree::acl::check_acl(&node.acl, perms::WRITE, auth).is_ok(),
        };
        Ok(reconfig::plan(&current, request, &view)?.members_text())
    }

    /// Leader: once it has applied an entry of its term, writes zoo.cfg's member list into
    /// `/zookeeper/config` if the node is still empty (ZooKeeper puts the config it starts
    /// with there). Never over a list already there: that may be a reconfig's. One proposal
    /// per term; a lost one is retried by the next leader.
    pub(super) fn write_cluster_config(&mut self) {
        let Some(members) = &self.config_members else {
            return;
        };
        let term = self.raft.term().0;
        if !self.is_leader() || !self.applied_current_term || self.config_proposed_term == term {
            return;
        }
        let written = self
            .tree
            .node(tree::CONFIG_NODE)
            .is_some_and(|n| !n.data().is_empty());
        if written {
            return;
        }
        log::info!("writing the member list into {}", tree::CONFIG_NODE);
        self.config_proposed_term = term;
        let op = TxnOp::SetConfig {
            members: members.clone(),
        };
        self.submit_txn(0, Vec::new(), op, None);
    }

    /// Leader: one step of the Raft membership toward the one `/zookeeper/config` names
    /// (`reconfig::membership_steps`). A server this member has no address for cannot
    /// join yet; a learner is promoted once caught up (Raft refuses it before).
    pub(super) fn reconcile_membership(&mut self) {
        if !self.is_leader() || !self.applied_current_term || !self.recovery_allows_reconcile() {
            return;
        }
        let Some(node) = self.tree.node(tree::CONFIG_NODE) else {
            return;
        };
        let Ok(desired) = ClusterConfig::parse(&String::from_utf8_lossy(node.data())) else {
            return;
        };
        let target = desired.membership();
        if desired.members.is_empty() || *self.raft.membership() == target {
            return;
        }
        let me = raft::NodeId(self.my_id);
        let steps = reconfig::membership_steps(self.raft.membership(), &target, me);
        let Some(step) = steps.into_iter().next() else {
            return;
        };
        if let raft::ConfChange::AddLearner(id) = step {
            if !self.peers.as_ref().is_some_and(|p| p.knows(id.0)) {
                log::debug!("server {id} has no peer address here yet: not added");
                return;
            }
        }
        match self.raft.change_membership(step.clone()) {
            Ok(index) => log::info!(
                "membership: {step} at index {index}, toward config version {:x}",
                desired.version
            ),
            Err(e) => log::debug!("membership step {step} not taken yet: {e}"),
        }
    }
}

impl Server {
    /// Leader, before proposing: a reconfig gets the servers synced with us now, ourselves
    /// included — those connected to us that Raft tracks (voters and learners) — so that
    /// every replica checks the new list for a synced quorum (NewConfigNoQuorum) against
    /// the same view, the leader's at proposal time, as ZooKeeper's leader does.
    pub(super) fn stamp_leader_view(&self, txn: &mut Txn) {
        let TxnOp::Reconfig { synced, .. } = &mut txn.op else {
            return;
        };
        let peers = self.peers.as_ref();
        let ids = self
            .raft
            .membership()
            .members()
            .map(|id| id.0)
            .filter(|&id| {
                id == self.my_id
                    || (peers.is_some_and(|p| p.is_connected(id))
                        && self.raft.match_index(raft::NodeId(id)).is_some())
            });
        let mut ids: Vec<u64> = ids.collect();
        if !ids.contains(&self.my_id) {
            ids.push(self.my_id);
        }
        *synced = Some(ids);
    }

    /// Keeps the peer transport's members in step with `/zookeeper/config` and the Raft
    /// membership: every server either names (zoo.cfg's list until the node is written),
    /// reached at the address this server's zoo.cfg gives it, else at the node's, else where
    /// it was reached so far (a server being removed). Recomputed only when either changes.
    /// An address in zoo.cfg wins so that each server may reach the others by its own routes.
    pub(super) fn sync_peer_members(&mut self) {
        let Some(peers) = self.peers.as_ref() else {
            return;
        };
        let text = self
            .tree
            .node(tree::CONFIG_NODE)
            .map(|n| n.data().to_vec())
            .unwrap_or_default();
        let basis = (text, self.raft.membership().clone());
        if self.peer_members_basis.as_ref() == Some(&basis) {
            return;
        }
        // In recovery only zoo.cfg's new list counts: the node may still name lost servers.
        let listed = ClusterConfig::parse(&String::from_utf8_lossy(&basis.0))
            .ok()
            .filter(|c| !c.members.is_empty() && !self.in_recovery());
        let mut ids: BTreeSet<u64> = match &listed {
            Some(c) => c.members.keys().copied().collect(),
            None => self.static_peers.keys().copied().collect(),
        };
        ids.extend(basis.1.members().map(|id| id.0));
        ids.remove(&self.my_id);
        let known = peers.members();
        let mut members = BTreeMap::new();
        for id in ids {
            let from_config = || {
                let spec = listed.as_ref()?.members.get(&id)?;
                let resolved = (spec.host.as_str(), spec.quorum_port).to_socket_addrs();
                match resolved.map(|mut addrs| addrs.next()) {
                    Ok(Some(addr)) => Some(addr),
                    Ok(None) | Err(_) => {
                        log::warn!("server {id}: cannot resolve {}", spec.host);
                        None
                    }
                }
            };
            let addr = self.static_peers.get(&id).copied();
            match addr
                .or_else(from_config)
                .or_else(|| known.get(&id).copied())
            {
                Some(addr) => {
                    members.insert(id, addr);
                }
                None => log::warn!("server {id} is a member but has no peer address here"),
            }
        }
        self.peer_members_basis = Some(basis);
        if members != known {
            let peers = self.peers.as_mut().expect("checked above");
            peers.set_members(members);
        }
    }
}

/// The `server.N` lines of a cluster's zoo.cfg as `/zookeeper/config` holds them; `None` for a
/// one-member server or lines ZooKeeper's own parser would refuse (logged).
pub(super) fn config_members(config: &crate::config::Config, clustered: bool) -> Option<String> {
    if !clustered {
        return None;
    }
    match crate::reconfig::ClusterConfig::from_servers(&config.servers) {
        Ok(members) => Some(members.members_text()),
        Err(e) => {
            log::warn!("{} stays empty: {e}", tree::CONFIG_NODE);
            None
        }
    }
}

//! The simulator's actions: faults (crashes, restarts, partitions), clients (puts through
//! the log, gets through ReadIndex) and operators (compaction, transfers, membership).
//!
//! Each action draws its random numbers whether or not its fault is enabled (`Sim::faults`),
//! so that turning a fault off changes what happens, not the draws that follow.

use crate::{ConfChange, Node, NodeId, Snapshot, Storage};

use super::engine::{
    PendingPut, Sim, CALM_DELAY_STEPS_MAX, NODES_MAX, VOTERS_MAX, VOTERS_MIN, YOUNG_STEPS,
};
use super::kv::{encode_put, Kv, KEYS};
use super::linearizability::{Op, OpKind};
use super::options::Fault;

impl Sim {
    // ---- Faults ------------------------------------------------------------------------

    pub(super) fn begin_calm(&mut self) {
        self.log("calm: heal, restart everyone".to_string());
        self.calm_start = self.now;
        self.live_since = None;
        self.net.heal();
        self.net.faults.drop_per_mille = 0;
        self.net.faults.duplicate_per_mille = 0;
        self.net.faults.delay_steps_max = self.chaos_faults.2.min(CALM_DELAY_STEPS_MAX);
        let crashed: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.node.is_none() && !n.removed)
            .map(|(i, _)| *i)
            .collect();
        for id in crashed {
            self.restart(id);
        }
    }

    pub(super) fn inject_faults(&mut self) {
        self.net.faults.drop_per_mille = self.chaos_faults.0;
        self.net.faults.duplicate_per_mille = self.chaos_faults.1;
        self.net.faults.delay_steps_max = self.chaos_faults.2;
        let crashes = self.faults.contains(Fault::Crash);
        let live = self.live_ids();
        let total = self.nodes.values().filter(|n| !n.removed).count();
        if self.prng.chance(3, 1000) && live.len() * 2 > total && crashes {
            if let Some(id) = self.pick(&live) {
                self.crash(id);
            }
        }
        // Leaders die young: a crash right after an election leaves old-term entries
        // half-replicated, the raw material of Figure 8.
        if let Some(leader) = self.leader() {
            let young = self
                .elected_at
                .get(&leader)
                .is_some_and(|t| self.now - t < YOUNG_STEPS);
            let per_mille = if young {
                self.young_leader_crash_per_mille
            } else {
                0
            } + 4;
            if self.prng.chance(per_mille, 1000) && live.len() * 2 > total + 1 && crashes {
                self.crash(leader);
            }
        }
        if self.prng.chance(20, 1000) {
            let crashed: Vec<NodeId> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.node.is_none() && !n.removed)
                .map(|(id, _)| *id)
                .collect();
            if let Some(id) = self.pick(&crashed) {
                self.restart(id);
            }
        }
        let partitions = self.faults.contains(Fault::Partition);
        if self.prng.chance(5, 1000) && partitions {
            self.partition();
        }
        if self.prng.chance(8, 1000) && partitions {
            self.log("heal".to_string());
            self.net.heal();
        }
    }

    fn partition(&mut self) {
        let ids: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| !n.removed)
            .map(|(id, _)| *id)
            .collect();
        match self.prng.below(3) {
            0 => {
                // Two random sides.
                let (a, b): (Vec<NodeId>, Vec<NodeId>) =
                    ids.iter().partition(|_| self.prng.chance(1, 2));
                self.net.partition(&a, &b);
            }
            1 => {
                // One node isolated.
                if let Some(x) = self.pick(&ids) {
                    let rest: Vec<NodeId> = ids.iter().copied().filter(|i| *i != x).collect();
                    self.net.partition(&[x], &rest);
                }
            }
            _ => {
                // Asymmetric: one node can send but not receive, or the reverse.
                if let Some(x) = self.pick(&ids) {
                    let outbound = self.prng.chance(1, 2);
                    for other in ids.iter().copied().filter(|i| *i != x) {
                        if outbound {
                            self.net.block(x, other);
                        } else {
                            self.net.block(other, x);
                        }
                    }
                }
            }
        }
        self.stats.partitions += 1;
        let blocked = self.net.describe_partitions();
        self.log(format!("partition: blocked {blocked}"));
    }

    pub(super) fn crash(&mut self, id: NodeId) {
        let sim_node = self.nodes.get_mut(&id).expect("crash of a known node");
        if sim_node.node.take().is_none() {
            return;
        }
        sim_node.disk.crash();
        sim_node.generation += 1;
        // Reads that never returned have no effect: they leave the history.
        for (ctx, _) in sim_node.reads.drain(..) {
            self.dropped[ctx as usize] = true;
        }
        self.stats.crashes += 1;
        self.log(format!("crash {id}"));
    }

    pub(super) fn restart(&mut self, id: NodeId) {
        let config = self.config(id);
        let sim_node = self.nodes.get_mut(&id).expect("restart of a known node");
        assert!(
            sim_node.node.is_none() && !sim_node.removed,
            "restart of a live node {id}"
        );
        let storage = sim_node.disk.storage();
        sim_node.kv = storage
            .snapshot
            .as_ref()
            .map_or_else(Kv::default, |s| Kv::decode(&s.data));
        sim_node.node = Some(Node::new(config, storage));
        self.stats.restarts += 1;
        self.log(format!("restart {id}"));
    }

    // ---- Clients and operators -----------------------------------------------------------

    pub(super) fn client_ops(&mut self) {
        let leader = self.leader();
        let live = self.live_ids();
        let target = if self.prng.chance(4, 5) {
            leader
        } else {
            self.pick(&live)
        };
        let Some(target) = target else { return };
        if self.prng.chance(1, 10) {
            let key = self.prng.below(KEYS);
            let op = self.history.len();
            let value = op as u64 + 1;
            let node = self.nodes.get_mut(&target).and_then(|n| n.node.as_mut());
            let Some(node) = node else { return };
            if let Ok(index) = node.propose(encode_put(key, value)) {
                let term = node.term();
                let generation = self.nodes[&target].generation;
                self.log(format!(
                    "client op {op}: put k{key}={value} at {target} -> {term}/{index}"
                ));
                self.history.push(Op {
                    key,
                    kind: OpKind::Put(value),
                    invoke: self.now,
                    response: None,
                });
                self.dropped.push(false);
                self.pending_puts
                    .entry(index.0)
                    .or_default()
                    .push(PendingPut {
                        op,
                        node: target,
                        generation,
                        term,
                    });
            }
        } else if self.prng.chance(1, 10) {
            let key = self.prng.below(KEYS);
            let op = self.history.len();
            let sim_node = self.nodes.get_mut(&target).expect("live node");
            let Some(node) = sim_node.node.as_mut() else {
                return;
            };
            if node.read_index(op as u64).is_ok() {
                sim_node.reads.push((op as u64, None));
                self.log(format!("client op {op}: get k{key} at {target}"));
                self.history.push(Op {
                    key,
                    kind: OpKind::Get(0),
                    invoke: self.now,
                    response: None,
                });
                // Until it returns, a read is not part of the history.
                self.dropped.push(true);
            }
        }
    }

    pub(super) fn compact_some(&mut self) {
        let snapshots = self.faults.contains(Fault::Snapshot);
        let mut compacted = Vec::new();
        for (id, sim_node) in self.nodes.iter_mut() {
            let Some(node) = sim_node.node.as_mut() else {
                continue;
            };
            let applied = node.applied_index();
            if applied.0 < node.first_index().0 + 30 || !self.prng.chance(1, 20) || !snapshots {
                continue;
            }
            let data = sim_node.kv.encode();
            if node.compact(applied, data).is_ok() {
                let snapshot: Snapshot = node.snapshot().expect("just compacted").clone();
                sim_node.disk.compact(snapshot);
                compacted.push((*id, applied));
            }
        }
        for (id, applied) in compacted {
            self.stats.compactions += 1;
            self.log(format!("{id} compacted its log through {applied}"));
        }
    }

    pub(super) fn admin_ops(&mut self) {
        let Some(leader) = self.leader() else { return };
        if self.prng.chance(3, 1000) && self.faults.contains(Fault::Transfer) {
            let voters: Vec<NodeId> = self
                .node(leader)
                .membership()
                .voters
                .iter()
                .copied()
                .filter(|v| *v != leader)
                .collect();
            if let Some(to) = self.pick(&voters) {
                if self.node_mut(leader).transfer_leadership(to).is_ok() {
                    self.stats.transfers += 1;
                    self.log(format!("transfer {leader} -> {to}"));
                }
            }
        }
        if self.prng.chance(4, 1000) && self.faults.contains(Fault::Membership) {
            self.change_membership(leader);
        }
    }

    fn change_membership(&mut self, leader: NodeId) {
        let membership = self.node(leader).membership().clone();
        let commit = self.node(leader).commit_index();
        let caught_up: Vec<NodeId> = membership
            .learners
            .iter()
            .copied()
            .filter(|l| {
                self.node(leader)
                    .match_index(*l)
                    .is_some_and(|m| m >= commit)
            })
            .collect();
        let voters: Vec<NodeId> = membership.voters.iter().copied().collect();
        let learners: Vec<NodeId> = membership.learners.iter().copied().collect();
        let change = match self.prng.below(4) {
            0 | 1 if !caught_up.is_empty() && voters.len() < VOTERS_MAX.max(self.voters) => {
                let id = self.pick(&caught_up).expect("non-empty");
                ConfChange::Promote(id)
            }
            0 | 1 if self.nodes.len() < NODES_MAX => ConfChange::AddLearner(NodeId(self.next_id)),
            // Thesis §4.2.3: without check-quorum's lease or pre-vote, a removed server that
            // missed its removal disrupts the cluster forever; Raft needs one of them for that.
            2 if voters.len() > VOTERS_MIN && (self.check_quorum || self.pre_vote) => {
                ConfChange::Remove(self.pick(&voters).expect("voters"))
            }
            3 if !learners.is_empty() => {
                ConfChange::Remove(self.pick(&learners).expect("learners"))
            }
            _ => return,
        };
        let result = self.node_mut(leader).change_membership(change.clone());
        self.log(format!(
            "change membership at {leader}: {change} -> {result:?}"
        ));
        if result.is_ok() {
            self.stats.membership_changes += 1;
            if let ConfChange::AddLearner(id) = change {
                self.next_id += 1;
                self.add_node(id, Storage::default());
            }
        }
    }
}

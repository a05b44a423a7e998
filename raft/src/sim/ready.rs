//! The simulator's driver side of the `Ready` contract (crate docs, lib.rs): persist to the
//! node's `SimDisk`, send through the network, apply to its key-value store, advance. It
//! also resolves client operations: a put is acknowledged when its proposer applies it with
//! the term it was proposed in, and lost when another term's entry takes its index; a read
//! returns once its ReadIndex is released and applied.
//!
//! `Bug::SendBeforePersist` swaps steps 1 and 2, to show the checks catch such a driver.

use std::collections::BTreeMap;

use super::engine::Sim;
use super::kv::{decode_put, Kv};
use super::linearizability::{Op, OpKind};
use super::options::{Bug, Fault};
use super::trace;
use crate::{ConfChange, Event, LogIndex, NodeId, Ready};

impl Sim {
    pub(super) fn process_readies(&mut self) {
        let crashes = self.faults.contains(Fault::Crash);
        for id in self.live_ids() {
            // An earlier node's Ready may have retired this one.
            let Some(node) = self.nodes.get_mut(&id).and_then(|n| n.node.as_mut()) else {
                continue;
            };
            let Some(ready) = node.ready() else { continue };
            if self.bug == Bug::SendBeforePersist {
                self.send_all(&ready.messages);
                if !self.is_calm() && self.prng.chance(20, 1000) && crashes {
                    self.log(format!("{id} loses power before persisting its Ready"));
                    self.crash(id);
                    continue;
                }
            } else if !self.is_calm() && self.prng.chance(2, 1000) && crashes {
                // Power loss between taking the Ready and persisting it.
                self.log(format!("{id} loses power before persisting its Ready"));
                self.crash(id);
                continue;
            }
            self.handle_ready(id, ready);
        }
    }

    fn handle_ready(&mut self, id: NodeId, ready: Ready) {
        let term = self.node(id).term();
        // 1. Persist.
        let prev_term = ready
            .entries
            .first()
            .and_then(|e| self.node(id).term_at(e.index.prev()));
        let sim_node = self.nodes.get_mut(&id).expect("live node");
        sim_node.disk.persist(&ready);
        self.checker
            .observe_persisted(id, prev_term, &ready.entries);
        // 2. Send.
        if self.bug == Bug::None {
            self.send_all(&ready.messages);
        }
        // 3. Apply.
        if let Some(snapshot) = &ready.snapshot {
            let sim_node = self.nodes.get_mut(&id).expect("live node");
            sim_node.kv = Kv::decode(&snapshot.data);
            let digest = sim_node.kv.digest();
            self.checker
                .observe_snapshot(id, snapshot.meta.index, snapshot.meta.term, digest);
            self.stats.snapshots_installed += 1;
        }
        for entry in &ready.committed {
            let sim_node = self.nodes.get_mut(&id).expect("live node");
            sim_node.kv.apply(entry);
            let digest = sim_node.kv.digest();
            let first = self.checker.observe_applied(id, term, entry, digest);
            if first && self.is_tracing() {
                self.log(format!(
                    "commit {} (applied first by {id})",
                    trace::entry(entry)
                ));
            }
            self.stats.commits += 1;
            self.resolve_puts(id, entry);
            if let crate::EntryKind::ConfChange = entry.kind {
                if let Some(ConfChange::Remove(removed)) = ConfChange::decode(&entry.data) {
                    self.retire(removed);
                }
            }
        }
        for event in &ready.events {
            self.on_event(id, event);
        }
        let applied = ready
            .committed
            .last()
            .map(|e| e.index)
            .or(ready.snapshot.as_ref().map(|s| s.meta.index));
        if let Some(sim_node) = self.nodes.get_mut(&id) {
            for read in &ready.read_states {
                if let Some(slot) = sim_node.reads.iter_mut().find(|(ctx, _)| *ctx == read.ctx) {
                    slot.1 = Some(read.index);
                }
            }
        }
        // 4. Advance (unless the node was just retired).
        if let Some(node) = self.nodes.get_mut(&id).and_then(|n| n.node.as_mut()) {
            node.advance(ready);
            let applied = applied
                .unwrap_or(node.applied_index())
                .max(node.applied_index());
            self.complete_reads(id, applied);
        }
    }

    fn on_event(&mut self, id: NodeId, event: &Event) {
        self.log(format!("{id}: {event}"));
        if let Event::ReadAborted { ctx } = event {
            if let Some(sim_node) = self.nodes.get_mut(&id) {
                sim_node.reads.retain(|(c, _)| c != ctx);
            }
        }
    }

    fn complete_reads(&mut self, id: NodeId, applied: LogIndex) {
        let sim_node = self.nodes.get_mut(&id).expect("live node");
        let mut done = Vec::new();
        sim_node.reads.retain(|(ctx, index)| match index {
            Some(index) if *index <= applied => {
                done.push(*ctx);
                false
            }
            _ => true,
        });
        for ctx in done {
            let sim_node = &self.nodes[&id];
            let op = &mut self.history[ctx as usize];
            let value = sim_node.kv.get(op.key);
            op.kind = OpKind::Get(value);
            op.response = Some(self.now);
            let key = op.key;
            self.dropped[ctx as usize] = false;
            self.stats.reads += 1;
            self.log(format!("client op {ctx}: get k{key} at {id} -> {value}"));
        }
    }

    fn resolve_puts(&mut self, id: NodeId, entry: &crate::Entry) {
        let Some(list) = self.pending_puts.get_mut(&entry.index.0) else {
            return;
        };
        let generation_of: BTreeMap<NodeId, u64> =
            self.nodes.iter().map(|(i, n)| (*i, n.generation)).collect();
        let mut completed = Vec::new();
        let mut lost = Vec::new();
        list.retain(|put| {
            if put.term != entry.term {
                // Another entry was committed at its index: the put never happened.
                self.dropped[put.op] = true;
                lost.push(put.op);
                return false;
            }
            let expected = (op_value(&self.history[put.op]), self.history[put.op].key);
            assert_eq!(
                decode_put(&entry.data).map(|(k, v)| (v, k)),
                Some(expected),
                "entry {} of term {} is not the put proposed there",
                entry.index,
                entry.term
            );
            if put.node == id && generation_of.get(&id) == Some(&put.generation) {
                completed.push(put.op);
                return false;
            }
            // The proposer restarted: the put happened, but the client never hears back.
            generation_of.get(&put.node) == Some(&put.generation)
        });
        for op in lost {
            self.log(format!(
                "client op {op}: put lost, {}/{} took its index",
                entry.term, entry.index
            ));
        }
        for op in completed {
            self.history[op].response = Some(self.now);
            self.stats.puts_completed += 1;
            self.log(format!("client op {op}: put acknowledged by {id}"));
        }
    }

    /// A server whose removal committed is shut down for good.
    pub(super) fn retire(&mut self, id: NodeId) {
        let Some(sim_node) = self.nodes.get_mut(&id) else {
            return;
        };
        if sim_node.removed {
            return;
        }
        self.crash(id);
        self.nodes.get_mut(&id).expect("known").removed = true;
        self.log(format!("retired {id}"));
    }
}

/// The value an operation wrote or read.
fn op_value(op: &Op) -> u64 {
    match op.kind {
        OpKind::Put(v) | OpKind::Get(v) => v,
    }
}

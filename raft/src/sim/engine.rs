//! The simulator's engine: a cluster of `Node`s driven by one seeded `Prng`, with the safety
//! checker watching every event. `ready.rs` follows the `Ready` contract for it; `actions.rs`
//! holds the fault, client and operator actions.
//!
//! Every random choice comes from `Sim::prng`, in an order fixed by the seed and the knobs;
//! the knobs gate what a draw does, not whether it is drawn, so `Options::new(seed)` keeps
//! the run that seed has always given.

use std::collections::BTreeMap;

use super::checker::Checker;
use super::disk::SimDisk;
use super::kv::Kv;
use super::linearizability::{self, Op};
use super::network::{Faults, Network, Sent};
use super::options::{Bug, Fault, FaultSet, Options};
use super::trace;
use crate::{Config, LogIndex, Message, Node, NodeId, Prng, Role, Storage, Term};

/// Each phase: chaos, then `CALM_STEPS` without faults, by whose end a leader must commit.
pub(super) const PHASE_STEPS: u64 = 900;
pub(super) const CALM_STEPS: u64 = 400;
/// Calm phases restore paper §5.6's timing: a round trip (at most 10 steps) stays within the
/// shortest election timeout (10 ticks, at most one tick per step).
pub(super) const CALM_DELAY_STEPS_MAX: u64 = 5;
/// A leader this many steps into its term counts as young.
pub(super) const YOUNG_STEPS: u64 = 8;
/// Removals stop at this many voters; promotions at `VOTERS_MAX` or the starting size.
pub(super) const VOTERS_MIN: usize = 3;
pub(super) const VOTERS_MAX: usize = 5;
pub(super) const NODES_MAX: usize = 9;
/// A node with this speed ticks on every step.
pub(super) const SPEED_FULL: u64 = 4;

pub(super) struct SimNode {
    pub(super) node: Option<Node>,
    pub(super) disk: SimDisk,
    pub(super) kv: Kv,
    /// Ticks per `SPEED_FULL` steps: clocks run at different speeds.
    pub(super) speed: u64,
    pub(super) generation: u64,
    /// Stopped for good after its removal committed.
    pub(super) removed: bool,
    /// ReadIndex requests: (ctx = op number, read index once released).
    pub(super) reads: Vec<(u64, Option<LogIndex>)>,
}

pub(super) struct PendingPut {
    pub(super) op: usize,
    pub(super) node: NodeId,
    pub(super) generation: u64,
    pub(super) term: Term,
}

/// What happened in a run (or, summed, in many).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub steps: u64,
    /// Times a node became leader.
    pub elections: u64,
    /// Entries applied, counted once per node that applied them.
    pub commits: u64,
    /// Distinct log indexes known committed (applied by some node).
    pub committed_indexes: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub partitions: u64,
    /// Logs compacted into a snapshot by their own node.
    pub compactions: u64,
    pub snapshots_installed: u64,
    pub transfers: u64,
    pub membership_changes: u64,
    pub reads: u64,
    pub puts_completed: u64,
    pub messages_sent: u64,
    /// Lost on the wire (the `drop` fault).
    pub messages_lost: u64,
    pub messages_duplicated: u64,
    /// Arrived on a link a partition blocked.
    pub messages_blocked: u64,
    pub messages_delivered: u64,
    /// Longest wait, in steps after a heal, for a leader that commits in its term.
    pub liveness_steps_max: u64,
}

pub struct Sim {
    pub(super) prng: Prng,
    pub(super) now: u64,
    pub(super) bug: Bug,
    pub(super) faults: FaultSet,
    pub(super) voters: usize,
    pub(super) pre_vote: bool,
    pub(super) check_quorum: bool,
    pub(super) nodes: BTreeMap<NodeId, SimNode>,
    pub(super) net: Network,
    pub(super) checker: Checker,
    pub(super) history: Vec<Op>,
    pub(super) dropped: Vec<bool>,
    pub(super) pending_puts: BTreeMap<u64, Vec<PendingPut>>,
    pub(super) next_id: u64,
    /// `Some` when tracing: the lines not yet taken by `take_trace`.
    pub(super) trace: Option<Vec<String>>,
    pub(super) stats: Stats,
    /// Drop and duplicate rates and the delay bound of the chaos phases (calm phases use no
    /// drops or duplicates and at most `CALM_DELAY_STEPS_MAX`).
    pub(super) chaos_faults: (u64, u64, u64),
    pub(super) calm_start: u64,
    /// When, in this calm phase, a leader was first seen committing in its term.
    pub(super) live_since: Option<u64>,
    pub(super) msg_bytes_max: usize,
    /// When each node last became leader (for "leaders die young").
    pub(super) elected_at: BTreeMap<NodeId, u64>,
    /// Per mille, per step, that a leader younger than `YOUNG_STEPS` crashes.
    pub(super) young_leader_crash_per_mille: u64,
    pub(super) election_ticks: u32,
    /// The seeded configuration, one line.
    description: String,
}

/// The chaos phases' link faults: the seed's rates, zeroed (drop, dup) or capped to the calm
/// phases' delay (slow) for the faults left out.
fn link_faults(
    faults: FaultSet,
    drop_per_mille: u64,
    duplicate_per_mille: u64,
    delay_steps_max: u64,
) -> Faults {
    let gate = |fault: Fault, value: u64, otherwise: u64| {
        if faults.contains(fault) {
            value
        } else {
            otherwise
        }
    };
    let link = Faults {
        drop_per_mille: gate(Fault::Drop, drop_per_mille, 0),
        duplicate_per_mille: gate(Fault::Duplicate, duplicate_per_mille, 0),
        delay_steps_max: gate(
            Fault::Slow,
            delay_steps_max,
            delay_steps_max.min(CALM_DELAY_STEPS_MAX),
        ),
        reorder: faults.contains(Fault::Reorder),
    };
    assert!(link.delay_steps_max >= 1, "a message takes at least a step");
    assert!(link.drop_per_mille <= 1000, "drop {}‰", link.drop_per_mille);
    link
}

impl Sim {
    /// A cluster of voters bootstrapped from `options`; `Err` if a knob is out of range.
    pub fn new(options: &Options) -> Result<Sim, String> {
        options.validate()?;
        let faults = options.faults;
        let mut prng = Prng::new(options.seed);
        // Every seeded choice is drawn even when a knob overrides it, so that the draws after
        // it (and the run) stay those of the seed.
        let seeded_voters = if prng.chance(1, 2) { 3 } else { 5 };
        let voters = options.voters.unwrap_or(seeded_voters);
        let pre_vote = prng.chance(3, 4);
        let check_quorum = prng.chance(3, 4);
        // Half the runs send one entry per AppendEntries, so old-term entries often reach a
        // majority ahead of the new leader's own entry (the Figure 8 situation).
        let msg_bytes_max = if prng.chance(1, 2) { 64 } else { 256 };
        // Half the runs kill many leaders right after their election, leaving entries of
        // several terms half-replicated.
        let young_leader_crash_per_mille = if prng.chance(1, 2) { 100 } else { 0 };
        // Half the runs use short election timeouts, close to the round-trip time: more
        // elections, more overlapping terms (and slower, but still bounded, recovery).
        let election_ticks = if prng.chance(1, 2) { 10 } else { 20 };
        let drop_per_mille = prng.range(0, 100);
        let duplicate_per_mille = prng.range(0, 50);
        // Chaos may break paper §5.6 (broadcastTime << electionTimeout) with latency
        // spikes of up to 12 steps; calm phases restore it (see CALM_DELAY_STEPS_MAX).
        let delay_steps_max = prng.range(1, 13);
        let net_faults = link_faults(faults, drop_per_mille, duplicate_per_mille, delay_steps_max);
        let description = format!(
            "seed {}: {voters} voters faults={faults} pre_vote={pre_vote} \
            check_quorum={check_quorum} msg_bytes_max={msg_bytes_max} \
            young_leader_crash={}‰ election_ticks={election_ticks} drop={}‰ dup={}‰ \
            delay<={}",
            options.seed,
            young_leader_crash_per_mille * u64::from(faults.contains(Fault::Crash)),
            net_faults.drop_per_mille,
            net_faults.duplicate_per_mille,
            net_faults.delay_steps_max
        );
        let chaos_faults = (
            net_faults.drop_per_mille,
            net_faults.duplicate_per_mille,
            net_faults.delay_steps_max,
        );
        let mut sim = Sim {
            prng,
            now: 0,
            bug: options.bug,
            faults,
            voters,
            pre_vote,
            check_quorum,
            msg_bytes_max,
            elected_at: BTreeMap::new(),
            young_leader_crash_per_mille,
            election_ticks,
            nodes: BTreeMap::new(),
            net: Network::new(net_faults),
            checker: Checker::default(),
            history: Vec::new(),
            dropped: Vec::new(),
            pending_puts: BTreeMap::new(),
            next_id: voters as u64 + 1,
            trace: options.trace.then(Vec::new),
            stats: Stats::default(),
            chaos_faults,
            calm_start: 0,
            live_since: None,
            description,
        };
        let ids: Vec<NodeId> = (1..=voters as u64).map(NodeId).collect();
        for id in &ids {
            sim.add_node(*id, Storage::bootstrap(&ids));
        }
        sim.log(sim.description.clone());
        assert_eq!(sim.nodes.len(), voters, "one node per voter");
        assert_eq!(sim.now, 0, "a new simulation starts at step 0");
        Ok(sim)
    }

    /// The seeded configuration of this run, in one line.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The voters the run started with (the knob, or the seed's choice).
    pub fn voters(&self) -> usize {
        self.voters
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Every (term, leader) seen, by term.
    pub fn leaders(&self) -> Vec<(Term, NodeId)> {
        self.checker.leaders()
    }

    /// The trace lines since the last call (none unless `Options::trace`).
    pub fn take_trace(&mut self) -> Vec<String> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub(super) fn log(&mut self, line: String) {
        let now = self.now;
        if let Some(lines) = self.trace.as_mut() {
            lines.push(format!("[{now:>6}] {line}"));
        }
    }

    pub(super) fn is_tracing(&self) -> bool {
        self.trace.is_some()
    }

    pub(super) fn config(&mut self, id: NodeId) -> Config {
        let mut config = Config::new(id, self.prng.next_u64());
        config.election_ticks = self.election_ticks;
        config.heartbeat_ticks = 3;
        config.pre_vote = self.pre_vote;
        config.check_quorum = self.check_quorum;
        config.msg_bytes_max = self.msg_bytes_max;
        config.inflight_msgs_max = 4;
        config.snapshot_chunk_bytes = 16;
        config
    }

    pub(super) fn add_node(&mut self, id: NodeId, storage: Storage) {
        let config = self.config(id);
        let disk = SimDisk::new(storage.clone());
        let speed = self.prng.range(2, SPEED_FULL + 1);
        let speed = if self.faults.contains(Fault::Slow) {
            speed
        } else {
            SPEED_FULL
        };
        let node = Node::new(config, storage);
        let sim_node = SimNode {
            node: Some(node),
            disk,
            kv: Kv::default(),
            speed,
            generation: 0,
            removed: false,
            reads: Vec::new(),
        };
        self.nodes.insert(id, sim_node);
    }

    pub(super) fn live_ids(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.node.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    pub(super) fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|(id, n)| n.node.as_ref().map(|node| (*id, node)))
            .filter(|(_, node)| node.role() == Role::Leader)
            .max_by_key(|(_, node)| node.term())
            .map(|(id, _)| id)
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        Some(items[self.prng.below(items.len() as u64) as usize])
    }

    pub(super) fn is_calm(&self) -> bool {
        self.now % PHASE_STEPS >= PHASE_STEPS - CALM_STEPS
    }

    /// One step: faults and operators (in chaos), clients, ticks, deliveries, `Ready`s, and
    /// the checks. `Err` names the first violation.
    pub fn step(&mut self) -> Result<(), String> {
        self.now += 1;
        self.stats.steps += 1;
        if self.now % PHASE_STEPS == PHASE_STEPS - CALM_STEPS {
            self.begin_calm();
        }
        if !self.is_calm() {
            self.inject_faults();
            self.admin_ops();
        }
        self.compact_some();
        self.client_ops();
        self.tick_nodes();
        self.deliver();
        self.process_readies();
        if self.now.is_multiple_of(50) {
            self.check_all_logs();
        }
        if self.is_calm() && self.live_since.is_none() && self.has_committing_leader() {
            let steps = self.now - self.calm_start;
            self.live_since = Some(self.now);
            self.log(format!(
                "live: a leader commits in its term, {steps} steps after heal"
            ));
            self.stats.liveness_steps_max = self.stats.liveness_steps_max.max(steps);
        }
        if self.now.is_multiple_of(PHASE_STEPS) {
            self.check_liveness();
        }
        self.sync_network_stats();
        if let Some(violation) = self.checker.violations.first() {
            return Err(format!("step {}: {violation}", self.now));
        }
        Ok(())
    }

    /// The end of a run: the client history must be linearizable.
    pub fn finish(&mut self) -> Result<(), String> {
        self.check_history()
    }

    fn sync_network_stats(&mut self) {
        self.stats.messages_sent = self.net.sent;
        self.stats.messages_lost = self.net.lost;
        self.stats.messages_duplicated = self.net.duplicated;
        self.stats.messages_blocked = self.net.blocked_count;
        self.stats.messages_delivered = self.net.delivered;
        self.stats.committed_indexes = self.checker.committed_count();
    }

    pub(super) fn node(&self, id: NodeId) -> &Node {
        self.nodes[&id].node.as_ref().expect("live node")
    }

    pub(super) fn node_mut(&mut self, id: NodeId) -> &mut Node {
        self.nodes
            .get_mut(&id)
            .and_then(|n| n.node.as_mut())
            .expect("live node")
    }

    // ---- Time and messages ---------------------------------------------------------------

    fn tick_nodes(&mut self) {
        let ids = self.live_ids();
        for id in ids {
            let speed = self.nodes[&id].speed;
            if self.prng.chance(speed, SPEED_FULL) {
                let was = self.role_of(id);
                self.node_mut(id).tick();
                self.observe(id, was);
            }
        }
    }

    fn role_of(&self, id: NodeId) -> (Role, Term) {
        let node = self.node(id);
        (node.role(), node.term())
    }

    /// Checks Election Safety and (for a new leader) Leader Completeness right after an input.
    fn observe(&mut self, id: NodeId, was: (Role, Term)) {
        let node = self.nodes[&id].node.as_ref().expect("live node");
        let was_leader_in_term = was.0 == Role::Leader && was.1 == node.term();
        if node.role() == Role::Leader && !was_leader_in_term {
            self.stats.elections += 1;
            self.elected_at.insert(id, self.now);
        }
        self.checker.observe_role(node, was_leader_in_term);
    }

    fn deliver(&mut self) {
        for arrival in self.net.due(&mut self.prng, self.now) {
            let message = arrival.message;
            let to = message.to;
            let live = self.nodes.get(&to).is_some_and(|n| n.node.is_some());
            if self.is_tracing() {
                let verdict = match (arrival.blocked, live) {
                    (true, _) => "blocked ",
                    (false, false) => "to a down node ",
                    (false, true) => "",
                };
                self.log(format!("{verdict}{}", trace::message(&message)));
            }
            if arrival.blocked || !live {
                continue;
            }
            let was = self.role_of(to);
            let result = self.node_mut(to).step(message.clone());
            if let Err(err) = result {
                self.checker
                    .violations
                    .push(format!("{to} refused our own message {message}: {err}"));
            }
            self.observe(to, was);
        }
    }

    pub(super) fn send_all(&mut self, messages: &[Message]) {
        for message in messages {
            let sent = self.net.send(&mut self.prng, self.now, message);
            if self.is_tracing() {
                match sent {
                    Sent::Lost => self.log(format!("lost {}", trace::message(message))),
                    Sent::Twice => self.log(format!("duplicated {}", trace::message(message))),
                    Sent::Once => {}
                }
            }
        }
    }

    // ---- Checks ----------------------------------------------------------------------------

    fn check_all_logs(&mut self) {
        let ids = self.live_ids();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let na = self.nodes[a].node.as_ref().expect("live");
                let nb = self.nodes[b].node.as_ref().expect("live");
                self.checker.check_log_matching(na, nb);
            }
        }
    }

    fn has_committing_leader(&self) -> bool {
        self.leader().is_some_and(|l| {
            let node = self.node(l);
            node.term_at(node.commit_index()) == Some(node.term())
        })
    }

    /// Within a calm phase a leader must have committed an entry of its own term.
    fn check_liveness(&mut self) {
        if self.live_since.is_none() {
            let roles: Vec<String> = self
                .live_ids()
                .iter()
                .map(|id| {
                    let n = self.node(*id);
                    format!(
                        "{id}:{:?}@{} commit={} last={}",
                        n.role(),
                        n.term(),
                        n.commit_index(),
                        n.last_index()
                    )
                })
                .collect();
            self.checker.violations.push(format!(
                "liveness: no leader committed in its term \
                after {CALM_STEPS} calm steps: {}",
                roles.join(", ")
            ));
        }
    }

    fn check_history(&self) -> Result<(), String> {
        let ops: Vec<Op> = self
            .history
            .iter()
            .zip(&self.dropped)
            .filter(|(_, dropped)| !**dropped)
            .map(|(op, _)| *op)
            .collect();
        linearizability::check(&ops)
    }
}

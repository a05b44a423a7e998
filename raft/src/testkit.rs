//! Test-only: a tiny in-memory cluster for the unit tests beside each module. It follows the
//! `Ready` contract (persist, send, apply, advance) with a perfect disk and a network that
//! delivers only what a test lets through.

use std::collections::{BTreeMap, BTreeSet};

use crate::message::{Entry, EntryKind, Message, MessageBody, Ready, Role};
use crate::{Config, LogIndex, Node, NodeId, Storage, Term};

pub(crate) fn id(n: u64) -> NodeId {
    NodeId(n)
}

pub(crate) fn config(n: u64) -> Config {
    let mut config = Config::new(NodeId(n), n * 1000 + 7);
    config.pre_vote = false;
    config.check_quorum = false;
    config
}

pub(crate) fn entry(term: u64, index: u64, data: &str) -> Entry {
    Entry {
        term: Term(term),
        index: LogIndex(index),
        kind: EntryKind::Normal,
        data: data.as_bytes().to_vec(),
    }
}

/// Storage holding the bootstrap entry for `voters` followed by entries of `terms`, at
/// hard-state term `term`.
pub(crate) fn storage_with(voters: &[u64], terms: &[u64], term: u64) -> Storage {
    let ids: Vec<NodeId> = voters.iter().map(|v| NodeId(*v)).collect();
    let mut storage = Storage::bootstrap(&ids);
    for (i, t) in terms.iter().enumerate() {
        storage.entries.push(entry(*t, i as u64 + 2, "x"));
    }
    storage.hard_state.term = Term(term);
    storage
}

pub(crate) struct Cluster {
    pub(crate) nodes: BTreeMap<NodeId, Node>,
    /// Messages sent and not yet delivered, in send order.
    pub(crate) queue: Vec<Message>,
    /// Nodes cut off from everyone.
    pub(crate) isolated: BTreeSet<NodeId>,
    /// Every entry applied, per node.
    pub(crate) applied: BTreeMap<NodeId, Vec<Entry>>,
    /// Every Ready taken, per node (for contract checks).
    pub(crate) readies: BTreeMap<NodeId, Vec<Ready>>,
}

impl Cluster {
    pub(crate) fn new(n: u64, adjust: impl Fn(&mut Config)) -> Cluster {
        let voters: Vec<u64> = (1..=n).collect();
        let nodes = (1..=n).map(|i| {
            let mut config = config(i);
            adjust(&mut config);
            (NodeId(i), Node::new(config, storage_with(&voters, &[], 1)))
        });
        Cluster::from_nodes(nodes.collect())
    }

    pub(crate) fn from_nodes(nodes: BTreeMap<NodeId, Node>) -> Cluster {
        Cluster {
            nodes,
            queue: Vec::new(),
            isolated: BTreeSet::new(),
            applied: BTreeMap::new(),
            readies: BTreeMap::new(),
        }
    }

    pub(crate) fn node(&mut self, n: u64) -> &mut Node {
        self.nodes.get_mut(&NodeId(n)).expect("node exists")
    }

    /// Handles one node's Ready: queue its messages, record applies, advance.
    pub(crate) fn process(&mut self, n: u64) -> bool {
        let node = self.nodes.get_mut(&NodeId(n)).expect("node exists");
        let Some(ready) = node.ready() else {
            return false;
        };
        self.queue.extend(ready.messages.iter().cloned());
        self.applied
            .entry(NodeId(n))
            .or_default()
            .extend(ready.committed.iter().cloned());
        self.readies
            .entry(NodeId(n))
            .or_default()
            .push(ready.clone());
        node.advance(ready);
        true
    }

    pub(crate) fn process_all(&mut self) -> bool {
        let ids: Vec<u64> = self.nodes.keys().map(|id| id.0).collect();
        let mut any = false;
        for n in ids {
            while self.process(n) {
                any = true;
            }
        }
        any
    }

    /// Delivers every queued message (dropping those to or from isolated nodes).
    pub(crate) fn deliver_all(&mut self) -> bool {
        let queue = std::mem::take(&mut self.queue);
        let any = !queue.is_empty();
        for m in queue {
            self.deliver(m);
        }
        any
    }

    pub(crate) fn deliver(&mut self, m: Message) {
        if self.isolated.contains(&m.from) || self.isolated.contains(&m.to) {
            return;
        }
        if let Some(node) = self.nodes.get_mut(&m.to) {
            node.step(m).expect("well-formed message");
        }
    }

    /// Until quiet: process every Ready, deliver every message.
    pub(crate) fn stabilize(&mut self) {
        for _ in 0..1000 {
            let processed = self.process_all();
            let delivered = self.deliver_all();
            if !processed && !delivered {
                return;
            }
        }
        panic!("cluster did not stabilize in 1000 rounds");
    }

    /// Makes `n` time out and campaign, then runs to quiet.
    pub(crate) fn elect(&mut self, n: u64) {
        self.timeout(n);
        self.stabilize();
    }

    /// Ticks `n` until its election timer fires once.
    pub(crate) fn timeout(&mut self, n: u64) {
        let node = self.node(n);
        let before = (node.role(), node.term());
        for _ in 0..node.randomized_timeout + 1 {
            node.tick();
            if (node.role(), node.term()) != before {
                return;
            }
        }
    }

    /// Ticks every node `count` times, handling output after each tick.
    pub(crate) fn tick_all(&mut self, count: usize) {
        for _ in 0..count {
            for node in self.nodes.values_mut() {
                node.tick();
            }
            self.stabilize();
        }
    }

    pub(crate) fn leader(&self) -> Option<NodeId> {
        let leaders: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.role() == Role::Leader)
            .map(|n| n.id())
            .collect();
        assert!(
            leaders.len() <= 1 || {
                let terms: BTreeSet<Term> = leaders.iter().map(|l| self.nodes[l].term()).collect();
                terms.len() == leaders.len()
            },
            "two leaders in one term: {leaders:?}"
        );
        leaders.into_iter().max_by_key(|l| self.nodes[l].term())
    }

    pub(crate) fn take_messages(&mut self, filter: impl Fn(&Message) -> bool) -> Vec<Message> {
        let (taken, kept) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(filter);
        self.queue = kept;
        taken
    }

    pub(crate) fn applied_data(&self, n: u64) -> Vec<String> {
        self.applied
            .get(&NodeId(n))
            .map_or_else(Vec::new, |entries| {
                entries
                    .iter()
                    .filter(|e| e.kind == EntryKind::Normal && !e.data.is_empty())
                    .map(|e| String::from_utf8_lossy(&e.data).into_owned())
                    .collect()
            })
    }
}

pub(crate) fn is_append(m: &Message) -> bool {
    matches!(m.body, MessageBody::AppendEntries { .. })
}

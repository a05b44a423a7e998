//! Scenario scripts (`testdata/*.txt`): small clusters driven one command at a time, printing
//! every `Ready`, message and event in their canonical one-line form.
//!
//! Commands:
//! ```text
//! add-nodes 3 prevote=true checkquorum=true   a fresh cluster of voters 1..=3
//! add-empty-node 4                            a joining server with empty storage
//! tick 1 n=10                                 tick node 1 ten times
//! campaign 1                                  tick node 1 until its election timer fires
//! propose 1 x                                 propose "x" at node 1
//! read-index 1 7                              ReadIndex with ctx 7 at node 1
//! transfer-leadership 1 3                     ask leader 1 to hand over to 3
//! change-membership 1 add-learner 4           also: promote 4, remove 2
//! compact 1 20                                snapshot node 1 at index 20
//! process-ready 1                             persist, send, apply, advance one Ready
//! deliver 2                                   deliver queued messages to node 2
//! partition (1) (2 3)   heal                  cut or restore links
//! crash 2   restart 2                         lose unsynced state; rebuild from disk
//! stabilize                                   process and deliver until quiet
//! status                                      one line per node
//! ```
//! `REWRITE=1 cargo test -p raft --test scenarios` regenerates the expected output.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use raft::sim::SimDisk;
use raft::{ConfChange, Config, LogIndex, Message, Node, NodeId, Storage};
use support::datadriven::{run_file, words};

#[derive(Default)]
struct Harness {
    nodes: BTreeMap<NodeId, (Option<Node>, SimDisk)>,
    configs: BTreeMap<NodeId, Config>,
    queue: Vec<Message>,
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Applied data per node, for `status`.
    applied: BTreeMap<NodeId, Vec<String>>,
}

fn id(word: &str) -> NodeId {
    NodeId(
        word.parse()
            .unwrap_or_else(|_| panic!("node id expected, got {word:?}")),
    )
}

fn group(word: &str) -> Vec<NodeId> {
    word.trim_matches(|c| c == '(' || c == ')')
        .split_whitespace()
        .map(id)
        .collect()
}

fn flag(args: &[String], key: &str, default: &str) -> String {
    args.iter()
        .find_map(|a| a.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| default.to_string())
}

impl Harness {
    fn node(&mut self, id: NodeId) -> &mut Node {
        self.nodes
            .get_mut(&id)
            .and_then(|(n, _)| n.as_mut())
            .expect("live node")
    }

    fn run(&mut self, command: &str) -> String {
        let w = words(command);
        let args = &w[1..];
        let mut out = String::new();
        match w[0].as_str() {
            "add-nodes" => self.add_nodes(args),
            "add-empty-node" => {
                let id = id(&args[0]);
                let template = self
                    .configs
                    .values()
                    .next()
                    .cloned()
                    .expect("add-nodes first");
                let config = Config {
                    id,
                    seed: id.0,
                    ..template
                };
                self.add(config, Storage::default());
            }
            "tick" => {
                let n: u64 = flag(args, "n", "1").parse().expect("n");
                for _ in 0..n {
                    self.node(id(&args[0])).tick();
                }
            }
            "campaign" => {
                let node = self.node(id(&args[0]));
                let before = (node.role(), node.term());
                for _ in 0..1000 {
                    node.tick();
                    if (node.role(), node.term()) != before {
                        break;
                    }
                }
                writeln!(out, "{:?} at term {}", node.role(), node.term()).expect("fmt");
            }
            "propose" => {
                let result = self.node(id(&args[0])).propose(args[1].as_bytes().to_vec());
                writeln!(out, "{}", show(result.map(|i| format!("index {i}")))).expect("fmt");
            }
            "read-index" => {
                let ctx: u64 = args[1].parse().expect("ctx");
                let result = self.node(id(&args[0])).read_index(ctx);
                writeln!(out, "{}", show(result.map(|_| "ok".to_string()))).expect("fmt");
            }
            "transfer-leadership" => {
                let result = self.node(id(&args[0])).transfer_leadership(id(&args[1]));
                writeln!(out, "{}", show(result.map(|_| "ok".to_string()))).expect("fmt");
            }
            "change-membership" => {
                let target = id(&args[2]);
                let change = match args[1].as_str() {
                    "add-learner" => ConfChange::AddLearner(target),
                    "promote" => ConfChange::Promote(target),
                    "remove" => ConfChange::Remove(target),
                    other => panic!("unknown change {other}"),
                };
                let result = self.node(id(&args[0])).change_membership(change);
                writeln!(out, "{}", show(result.map(|i| format!("index {i}")))).expect("fmt");
            }
            "compact" => {
                let n = id(&args[0]);
                let index = LogIndex(args[1].parse().expect("index"));
                let data = format!("state-machine-image@{index}").into_bytes();
                let result = self.node(n).compact(index, data);
                if result.is_ok() {
                    let snapshot = self.node(n).snapshot().expect("compacted").clone();
                    self.nodes.get_mut(&n).expect("node").1.compact(snapshot);
                }
                writeln!(out, "{}", show(result.map(|_| "ok".to_string()))).expect("fmt");
            }
            "process-ready" => {
                for word in args {
                    self.process_ready(id(word), &mut out);
                }
            }
            "deliver" => self.deliver(Some(id(&args[0])), &mut out),
            "partition" => self.partition(args),
            "heal" => self.blocked.clear(),
            "crash" => {
                let entry = self.nodes.get_mut(&id(&args[0])).expect("node");
                entry.0 = None;
                entry.1.crash();
            }
            "restart" => {
                let n = id(&args[0]);
                let config = self.configs[&n].clone();
                let entry = self.nodes.get_mut(&n).expect("node");
                entry.0 = Some(Node::new(config, entry.1.storage()));
                // The state machine restarts from the snapshot; committed entries re-apply.
                let restored = entry
                    .1
                    .snapshot()
                    .map(|s| format!("<{}>", String::from_utf8_lossy(&s.data)));
                self.applied.insert(n, restored.into_iter().collect());
            }
            "stabilize" => self.stabilize(&mut out),
            "status" => self.status(&mut out),
            other => panic!("unknown command {other:?}"),
        }
        out
    }

    /// Starts a fresh cluster of bootstrapped voters.
    fn add_nodes(&mut self, args: &[String]) {
        // Starts a fresh cluster.
        *self = Harness::default();
        let count: u64 = args[0].parse().expect("count");
        let pre_vote = flag(args, "prevote", "false") == "true";
        let check_quorum = flag(args, "checkquorum", "false") == "true";
        let ids: Vec<NodeId> = (1..=count).map(NodeId).collect();
        for id in &ids {
            let mut config = Config::new(*id, id.0);
            config.pre_vote = pre_vote;
            config.check_quorum = check_quorum;
            config.snapshot_chunk_bytes = 8;
            config.msg_bytes_max = flag(args, "msgbytes", "1048576").parse().expect("n");
            self.add(config, Storage::bootstrap(&ids));
        }
    }

    /// Blocks every link between the groups, both ways.
    fn partition(&mut self, args: &[String]) {
        let groups: Vec<Vec<NodeId>> = args.iter().map(|a| group(a)).collect();
        for (i, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(i + 1) {
                for x in a {
                    for y in b {
                        self.blocked.insert((*x, *y));
                        self.blocked.insert((*y, *x));
                    }
                }
            }
        }
    }

    /// Processes every Ready and delivers every message until quiet.
    fn stabilize(&mut self, out: &mut String) {
        for _ in 0..100 {
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            let mut any = false;
            for n in ids {
                any |= self.process_ready(n, out);
            }
            if self.queue.is_empty() && !any {
                break;
            }
            self.deliver(None, out);
        }
    }

    /// One line per node.
    fn status(&mut self, out: &mut String) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for n in ids {
            let applied = self.applied.get(&n).cloned().unwrap_or_default().join(",");
            match self.nodes[&n].0.as_ref() {
                None => writeln!(out, "{n}: down").expect("fmt"),
                Some(node) => writeln!(
                    out,
                    "{n}: {:?} term={} leader={} commit={} \
                    last={} {} applied=[{applied}]",
                    node.role(),
                    node.term(),
                    node.leader().map_or("-".to_string(), |l| l.to_string()),
                    node.commit_index(),
                    node.last_index(),
                    node.membership()
                )
                .expect("fmt"),
            }
        }
    }

    fn add(&mut self, config: Config, storage: Storage) {
        let disk = SimDisk::new(storage.clone());
        self.configs.insert(config.id, config.clone());
        self.nodes
            .insert(config.id, (Some(Node::new(config, storage)), disk));
    }

    /// The Ready contract: persist, send (queue), apply, advance.
    fn process_ready(&mut self, n: NodeId, out: &mut String) -> bool {
        let Some((Some(node), disk)) = self.nodes.get_mut(&n) else {
            return false;
        };
        let Some(ready) = node.ready() else {
            return false;
        };
        writeln!(out, "> {n} {ready}").expect("fmt");
        for event in &ready.events {
            writeln!(out, "  event: {event}").expect("fmt");
        }
        disk.persist(&ready);
        for m in &ready.messages {
            writeln!(out, "  send: {m}").expect("fmt");
        }
        self.queue.extend(ready.messages.iter().cloned());
        let applied = self.applied.entry(n).or_default();
        if let Some(snapshot) = &ready.snapshot {
            applied.push(format!("<{}>", String::from_utf8_lossy(&snapshot.data)));
        }
        for entry in &ready.committed {
            if entry.kind == raft::EntryKind::Normal && !entry.data.is_empty() {
                applied.push(String::from_utf8_lossy(&entry.data).into_owned());
            }
        }
        node.advance(ready);
        true
    }

    fn deliver(&mut self, to: Option<NodeId>, out: &mut String) {
        let (now, later): (Vec<Message>, Vec<Message>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|m| to.is_none_or(|t| m.to == t));
        self.queue = later;
        for m in now {
            if self.blocked.contains(&(m.from, m.to)) {
                writeln!(out, "  drop: {m}").expect("fmt");
                continue;
            }
            let Some((Some(node), _)) = self.nodes.get_mut(&m.to) else {
                writeln!(out, "  drop: {m} (down)").expect("fmt");
                continue;
            };
            if let Err(err) = node.step(m.clone()) {
                writeln!(out, "  refused: {m}: {err}").expect("fmt");
            }
        }
    }
}

fn show<E: std::fmt::Display>(result: Result<String, E>) -> String {
    match result {
        Ok(text) => text,
        Err(err) => format!("error: {err}"),
    }
}

fn run_script(name: &str) {
    let path = format!("{}/tests/testdata/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    let mut harness = Harness::default();
    run_file(&path, |command| harness.run(command));
}

#[test]
fn election() {
    run_script("election");
}

#[test]
fn prevote() {
    run_script("prevote");
}

#[test]
fn check_quorum() {
    run_script("check_quorum");
}

#[test]
fn replication() {
    run_script("replication");
}

#[test]
fn figure_8() {
    run_script("figure_8");
}

#[test]
fn transfer() {
    run_script("transfer");
}

#[test]
fn snapshot() {
    run_script("snapshot");
}

#[test]
fn membership() {
    run_script("membership");
}

#[test]
fn read_index() {
    run_script("read_index");
}

#[test]
fn crash_restart() {
    run_script("crash_restart");
}

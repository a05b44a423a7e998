//! Replication and commitment rules, named after the paper's sections.

use crate::message::{MessageBody, Role};
use crate::testkit::{config, entry, id, is_append, storage_with, Cluster};
use crate::{LogIndex, Message, Node, NodeId, ProposeError, Term};

fn append(
    from: u64,
    to: u64,
    term: u64,
    prev: (u64, u64),
    entries: Vec<crate::Entry>,
    commit: u64,
) -> Message {
    Message {
        from: id(from),
        to: id(to),
        term: Term(term),
        body: MessageBody::AppendEntries {
            prev_log_index: LogIndex(prev.1),
            prev_log_term: Term(prev.0),
            entries,
            leader_commit: LogIndex(commit),
        },
    }
}

fn response(node: &mut Node) -> Option<(bool, u64)> {
    let ready = node.ready()?;
    let verdict = ready.messages.iter().find_map(|m| match m.body {
        MessageBody::AppendEntriesResponse { success, index, .. } => Some((success, index.0)),
        _ => None,
    });
    node.advance(ready);
    verdict
}

#[test]
fn leader_commits_entry_stored_on_majority_5_3() {
    // §5.3: "When the entry has been safely replicated [on a majority], the leader applies the
    // entry to its state machine"; followers learn the commit index and apply it too.
    let mut cluster = Cluster::new(3, |_| {});
    cluster.isolated.insert(id(3));
    cluster.elect(1);
    let index = cluster.node(1).propose(b"a".to_vec()).unwrap();
    cluster.stabilize();
    assert_eq!(cluster.node(1).commit_index(), index);
    assert_eq!(cluster.applied_data(1), vec!["a"]);
    cluster.tick_all(2);
    assert_eq!(cluster.applied_data(2), vec!["a"]);
    assert!(cluster.applied_data(3).is_empty());
}

#[test]
fn follower_rejects_append_without_matching_prev_5_3() {
    // §5.3: "If the follower does not find an entry in its log with the same index and term,
    // then it refuses the new entries."
    let mut node = Node::new(config(2), storage_with(&[1, 2, 3], &[1], 2));
    node.step(append(1, 2, 2, (2, 2), vec![entry(2, 3, "x")], 0))
        .unwrap();
    assert_eq!(response(&mut node), Some((false, 2)));
    assert_eq!(node.last_index(), LogIndex(2));
}

#[test]
fn follower_rejects_append_from_stale_term_5_1() {
    let mut node = Node::new(config(2), storage_with(&[1, 2, 3], &[], 3));
    node.step(append(1, 2, 2, (1, 1), vec![entry(2, 2, "x")], 0))
        .unwrap();
    assert_eq!(node.last_index(), LogIndex(1));
    assert_eq!(node.leader(), None);
}

#[test]
fn follower_replaces_conflicting_suffix_5_3() {
    // §5.3: "the leader handles inconsistencies by forcing the followers' logs to duplicate
    // its own": conflicting entries are overwritten.
    let mut node = Node::new(config(2), storage_with(&[1, 2, 3], &[2, 2, 2], 3));
    node.step(append(1, 2, 3, (2, 2), vec![entry(3, 3, "y")], 0))
        .unwrap();
    let ready = node.ready().expect("work");
    assert_eq!(
        ready.entries.first().map(|e| e.index),
        Some(LogIndex(3)),
        "the driver is told to truncate from 3"
    );
    node.advance(ready);
    assert_eq!(node.last_index(), LogIndex(3));
    assert_eq!(node.term_at(LogIndex(3)), Some(Term(3)));
}

#[test]
fn follower_commit_is_min_of_leader_commit_and_last_new_entry_5_3() {
    let mut node = Node::new(config(2), storage_with(&[1, 2, 3], &[], 2));
    node.step(append(1, 2, 2, (1, 1), vec![entry(2, 2, "x")], 9))
        .unwrap();
    assert_eq!(node.commit_index(), LogIndex(2));
}

#[test]
fn leader_never_commits_older_term_entry_by_counting_replicas_5_4_2() {
    // §5.4.2 (Figure 8): "Raft never commits log entries from previous terms by counting
    // replicas. Only log entries from the leader's current term are committed by counting."
    let voters = [1, 2, 3];
    let mut n1 = config(1);
    n1.msg_bytes_max = 1; // one entry per message, so entry 2 and entry 3 travel apart
    let nodes = [
        (1, Node::new(n1, storage_with(&voters, &[2], 3))),
        (2, Node::new(config(2), storage_with(&voters, &[], 3))),
        (3, Node::new(config(3), storage_with(&voters, &[], 3))),
    ];
    let mut cluster = Cluster::from_nodes(nodes.into_iter().map(|(n, x)| (NodeId(n), x)).collect());
    cluster.isolated.insert(id(3));
    cluster.timeout(1);
    // Deliver everything, but strip the new leader's own entry (index 3) from appends.
    for _ in 0..50 {
        cluster.process_all();
        for m in cluster.queue.iter_mut() {
            if let MessageBody::AppendEntries { entries, .. } = &mut m.body {
                entries.retain(|e| e.index < LogIndex(3));
            }
        }
        if !cluster.deliver_all() {
            break;
        }
    }
    assert_eq!(cluster.leader(), Some(id(1)));
    let leader_term = cluster.node(1).term();
    assert_eq!(
        cluster.node(1).match_index(id(2)),
        Some(LogIndex(2)),
        "entry 2 on a majority"
    );
    assert_eq!(
        cluster.node(1).commit_index(),
        LogIndex(1),
        "entry 2 of term 2 committed by \
        counting replicas in term {leader_term}"
    );
    cluster.isolated.clear();
    cluster.stabilize();
    cluster.tick_all(1);
    assert_eq!(cluster.node(1).commit_index(), LogIndex(3));
}

#[test]
fn leader_counts_itself_only_after_persisting_ready_contract() {
    // Figure 2: respond (here: count toward commit) only after updating stable storage. A
    // single-node leader commits its entry only after `advance` confirms persistence.
    let mut cluster = Cluster::new(1, |_| {});
    cluster.elect(1);
    let index = cluster.node(1).propose(b"a".to_vec()).unwrap();
    let node = cluster.node(1);
    let ready = node.ready().expect("entries to persist");
    assert_eq!(ready.entries.last().map(|e| e.index), Some(index));
    assert!(
        ready.committed.iter().all(|e| e.index < index),
        "applied before persisted"
    );
    assert!(ready.must_sync);
    node.advance(ready);
    let ready = node.ready().expect("commit after persist");
    assert_eq!(ready.committed.last().map(|e| e.index), Some(index));
    node.advance(ready);
}

#[test]
fn follower_acknowledges_in_the_ready_that_persists_ready_contract() {
    let mut node = Node::new(config(2), storage_with(&[1, 2, 3], &[], 2));
    node.step(append(1, 2, 2, (1, 1), vec![entry(2, 2, "x")], 0))
        .unwrap();
    let ready = node.ready().expect("work");
    assert_eq!(ready.entries.len(), 1);
    assert!(ready.must_sync);
    assert!(ready.messages.iter().any(|m| matches!(
        m.body,
        MessageBody::AppendEntriesResponse { success: true, .. }
    )));
    assert!(node.ready().is_none(), "one Ready outstanding at a time");
    node.advance(ready);
}

#[test]
fn fast_backtracking_skips_a_conflicting_term_per_round_trip() {
    // End of §5.3: "the follower can include the term of the conflicting entry and the first
    // index it stores for that term", so the leader skips whole terms.
    let voters = [1, 2];
    let nodes = [
        (
            1,
            Node::new(config(1), storage_with(&voters, &[3, 3, 3, 3, 3], 5)),
        ),
        (
            2,
            Node::new(
                config(2),
                storage_with(&voters, &[2, 2, 2, 2, 2, 2, 2, 2], 5),
            ),
        ),
    ];
    let mut cluster = Cluster::from_nodes(nodes.into_iter().map(|(n, x)| (NodeId(n), x)).collect());
    cluster.elect(1);
    let mut appends = 0;
    for _ in 0..20 {
        cluster.process_all();
        appends += cluster.queue.iter().filter(|m| is_append(m)).count();
        if !cluster.deliver_all() {
            break;
        }
    }
    assert_eq!(cluster.node(2).term_at(LogIndex(7)), Some(Term(6)));
    assert!(appends <= 4, "{appends} appends to skip one term");
}

#[test]
fn replicate_state_bounds_inflight_messages() {
    let mut cluster = Cluster::new(2, |c| c.inflight_msgs_max = 2);
    cluster.elect(1);
    cluster.process_all();
    cluster.deliver_all();
    for i in 0..5 {
        cluster.node(1).propose(vec![b'a' + i]).unwrap();
    }
    cluster.process_all();
    let appends = cluster.queue.iter().filter(|m| is_append(m)).count();
    assert!(
        appends <= 2,
        "{appends} appends in flight with a limit of 2"
    );
    cluster.stabilize();
    cluster.tick_all(1);
    assert_eq!(cluster.applied_data(2).len(), 5);
}

#[test]
fn follower_refuses_proposals() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    let err = cluster.node(2).propose(b"x".to_vec()).unwrap_err();
    assert_eq!(
        err,
        ProposeError::NotLeader {
            leader: Some(id(1))
        }
    );
    assert_eq!(cluster.node(1).role(), Role::Leader);
}

#[test]
fn malformed_append_is_refused_without_change() {
    let mut node = Node::new(config(2), storage_with(&[1, 2, 3], &[], 2));
    let gap = append(1, 2, 2, (1, 1), vec![entry(2, 3, "x")], 0);
    assert!(node.step(gap).is_err());
    assert_eq!(node.last_index(), LogIndex(1));
}

#[test]
fn duplicated_and_reordered_appends_are_harmless_5_3() {
    // §5.3: AppendEntries is idempotent; a retransmitted or late copy changes nothing.
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.node(1).propose(b"a".to_vec()).unwrap();
    cluster.node(1).propose(b"b".to_vec()).unwrap();
    cluster.process_all();
    let mut copies = cluster.queue.clone();
    copies.reverse();
    cluster.queue.extend(copies);
    cluster.stabilize();
    cluster.tick_all(1);
    assert_eq!(cluster.applied_data(2), vec!["a", "b"]);
    assert_eq!(cluster.applied_data(3), vec!["a", "b"]);
}

#[test]
fn deposed_leader_learns_newer_term_from_stale_append_answer_6_2() {
    // With pre-vote the new term never reaches a partitioned old leader through votes; a
    // follower answering its stale append with the newer term makes it step down.
    let mut cluster = Cluster::new(3, |c| c.pre_vote = true);
    cluster.elect(1);
    cluster.isolated.insert(id(1));
    cluster.elect(2);
    assert_eq!(cluster.leader(), Some(id(2)));
    cluster.isolated.clear();
    cluster.node(1).tick();
    cluster.stabilize();
    assert_eq!(cluster.node(1).role(), Role::Follower);
    assert_eq!(cluster.node(1).term(), cluster.node(2).term());
}

#[test]
fn advance_needs_nothing_left_in_the_ready() {
    // The contract lets a driver move `entries` and `committed` out of a Ready (to its log
    // worker) before advancing it: the node must still mark them stable and applied.
    let mut cluster = Cluster::new(1, |_| {});
    cluster.elect(1);
    cluster.stabilize();
    let node = cluster.node(1);
    let index = node.propose(b"a".to_vec()).unwrap();
    let mut ready = node.ready().expect("the proposal is to persist");
    let persisted = std::mem::take(&mut ready.entries);
    assert_eq!(persisted.last().map(|e| e.index), Some(index));
    node.advance(ready);
    assert_eq!(
        node.commit_index(),
        index,
        "stable on the lone voter, so committed"
    );
    let mut ready = node.ready().expect("the commit is to apply");
    let applied = std::mem::take(&mut ready.committed);
    assert_eq!(
        applied.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        vec![b"a".to_vec()]
    );
    node.advance(ready);
    assert!(node.ready().is_none(), "nothing is handed out twice");
}

//! Membership changes, thesis chapter 4 (one server at a time, learners).

use crate::membership::ConfChange;
use crate::message::Role;
use crate::testkit::{config, id, Cluster};
use crate::{MembershipError, Node, NodeId, Storage};

fn cluster_with_learner_slot() -> Cluster {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster
        .nodes
        .insert(NodeId(4), Node::new(config(4), Storage::default()));
    cluster
}

/// Node 1 (the leader) makes `change`, then the cluster settles.
fn change_and_settle(cluster: &mut Cluster, change: ConfChange) {
    cluster.node(1).change_membership(change).unwrap();
    cluster.stabilize();
}

#[test]
fn learner_joins_receives_log_and_does_not_vote_4_2_1() {
    let mut cluster = cluster_with_learner_slot();
    assert!(
        cluster.node(4).is_empty(),
        "a joining server starts with nothing"
    );
    change_and_settle(&mut cluster, ConfChange::AddLearner(id(4)));
    cluster.tick_all(1);
    let last = cluster.node(1).last_index();
    assert_eq!(cluster.node(4).last_index(), last);
    assert!(!cluster.node(4).membership().is_voter(id(4)));
    // A learner's acknowledgement does not count toward commit: with 2 and 3 cut off the
    // leader cannot commit even though the learner has the entry.
    cluster.isolated.insert(id(2));
    cluster.isolated.insert(id(3));
    let index = cluster.node(1).propose(b"x".to_vec()).unwrap();
    cluster.stabilize();
    assert!(cluster.node(1).commit_index() < index);
}

#[test]
fn learner_is_promoted_only_once_caught_up_4_2_1() {
    let mut cluster = cluster_with_learner_slot();
    cluster.isolated.insert(id(4));
    change_and_settle(&mut cluster, ConfChange::AddLearner(id(4)));
    let err = cluster
        .node(1)
        .change_membership(ConfChange::Promote(id(4)))
        .unwrap_err();
    assert!(
        matches!(err, MembershipError::NotCaughtUp { .. }),
        "{err:?}"
    );
    cluster.isolated.clear();
    cluster.tick_all(1);
    change_and_settle(&mut cluster, ConfChange::Promote(id(4)));
    cluster.tick_all(1);
    assert!(cluster.node(4).membership().is_voter(id(4)));
}

#[test]
fn one_change_at_a_time_4_1() {
    // Thesis §4.1: "a leader ... can start another change only once the previous one has been
    // committed."
    let mut cluster = cluster_with_learner_slot();
    cluster.isolated.insert(id(2));
    cluster.isolated.insert(id(3));
    cluster
        .node(1)
        .change_membership(ConfChange::AddLearner(id(4)))
        .unwrap();
    let err = cluster
        .node(1)
        .change_membership(ConfChange::Remove(id(3)))
        .unwrap_err();
    assert!(
        matches!(err, MembershipError::ChangeInProgress { .. }),
        "{err:?}"
    );
}

#[test]
fn new_leader_commits_in_its_term_before_changing_membership_4_1() {
    // The 2015 single-server fix: no change before an entry of the leader's term commits.
    let mut cluster = Cluster::new(3, |_| {});
    cluster.isolated.insert(id(2));
    cluster.isolated.insert(id(3));
    cluster.timeout(1);
    cluster.isolated.clear();
    cluster.process_all();
    cluster.deliver_all();
    cluster.process_all();
    cluster.deliver_all();
    assert_eq!(cluster.node(1).role(), Role::Leader);
    let err = cluster
        .node(1)
        .change_membership(ConfChange::Remove(id(3)))
        .unwrap_err();
    assert!(
        matches!(err, MembershipError::NoCommitInTerm { .. }),
        "{err:?}"
    );
}

#[test]
fn configuration_takes_effect_on_append_and_reverts_on_truncation_4_1() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.isolated.insert(id(2));
    cluster.isolated.insert(id(3));
    cluster
        .nodes
        .insert(NodeId(4), Node::new(config(4), Storage::default()));
    cluster
        .node(1)
        .change_membership(ConfChange::AddLearner(id(4)))
        .unwrap();
    assert!(
        cluster.node(1).membership().contains(id(4)),
        "in force once appended"
    );
    cluster.stabilize();
    // Node 2 takes over without the change; node 1's uncommitted entry is overwritten.
    cluster.isolated = [NodeId(1), NodeId(4)].into_iter().collect();
    cluster.elect(2);
    assert_eq!(cluster.leader(), Some(id(2)));
    cluster.isolated.clear();
    cluster.node(2).propose(b"y".to_vec()).unwrap();
    cluster.stabilize();
    cluster.tick_all(1);
    assert!(
        !cluster.node(1).membership().contains(id(4)),
        "reverted after truncation"
    );
}

#[test]
fn removed_leader_steps_down_once_removal_commits_4_2_2() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    change_and_settle(&mut cluster, ConfChange::Remove(id(1)));
    assert_eq!(cluster.node(1).role(), Role::Follower);
    cluster.tick_all(40);
    let leader = cluster
        .leader()
        .expect("the remaining servers elect a leader");
    assert_ne!(leader, id(1));
}

#[test]
fn servers_that_bootstrap_after_waiting_form_one_cluster() {
    // Each server starts empty, as a server that first waits to hear from its peers does,
    // and bootstraps on its own: the three identical entries are one log.
    let voters = [id(1), id(2), id(3)];
    let nodes = (1..=3)
        .map(|n| {
            let mut node = Node::new(config(n), Storage::default());
            assert!(node.is_empty());
            assert!(!node.membership().is_voter(id(n)), "empty: no membership");
            node.bootstrap(&voters);
            assert!(!node.is_empty());
            assert_eq!(node.commit_index(), crate::LogIndex(1));
            assert!(node.membership().is_voter(id(n)));
            (id(n), node)
        })
        .collect();
    let mut cluster = Cluster::from_nodes(nodes);
    cluster.stabilize();
    for n in 1..=3 {
        let readies = &cluster.readies[&id(n)];
        let first = &readies[0];
        assert_eq!(first.entries.len(), 1, "the bootstrap entry is persisted");
        assert_eq!(first.committed, first.entries, "and applied");
    }
    cluster.elect(2);
    let index = cluster.node(2).propose(b"x".to_vec()).unwrap();
    cluster.stabilize();
    for n in 1..=3 {
        assert!(cluster.node(n).commit_index() >= index, "node {n}");
    }
}

#[test]
#[should_panic(expected = "bootstrap of a node that holds a log")]
fn bootstrap_refuses_a_node_with_a_log() {
    let mut node = Node::new(config(1), Storage::bootstrap(&[id(1)]));
    node.bootstrap(&[id(1)]);
}

#[test]
fn a_forced_configuration_recovers_a_lost_quorum_with_this_servers_log() {
    let mut cluster = cluster_with_learner_slot();
    let kept = cluster.node(1).propose(b"kept".to_vec()).unwrap();
    cluster.stabilize();
    // 2 and 3 are gone for good: nothing commits any more.
    cluster.isolated.insert(id(2));
    cluster.isolated.insert(id(3));
    let stuck = cluster.node(1).propose(b"uncommitted".to_vec()).unwrap();
    cluster.stabilize();
    assert!(cluster.node(1).commit_index() < stuck);
    let term = cluster.node(1).term();
    let then = cluster
        .node(1)
        .force_configuration(&[id(1)], b"new members".to_vec());
    assert!(cluster.node(1).term() > term);
    assert_eq!(
        cluster.node(1).role(),
        Role::Leader,
        "the only voter wins at once"
    );
    cluster.stabilize();
    assert!(cluster.node(1).commit_index() >= then);
    let voters: Vec<NodeId> = cluster
        .node(1)
        .membership()
        .voters
        .iter()
        .copied()
        .collect();
    assert_eq!(voters, [id(1)]);
    let applied = cluster.applied_data(1);
    for data in ["kept", "uncommitted", "new members"] {
        assert!(
            applied.iter().any(|d| d == data),
            "{data} applied: {applied:?}"
        );
    }
    assert!(kept < stuck);
    // The membership grows again the usual way: a new, empty server joins and is promoted.
    change_and_settle(&mut cluster, ConfChange::AddLearner(id(4)));
    cluster.tick_all(1);
    change_and_settle(&mut cluster, ConfChange::Promote(id(4)));
    let index = cluster.node(1).propose(b"after".to_vec()).unwrap();
    cluster.stabilize();
    assert!(cluster.node(4).commit_index() >= index);
    assert_eq!(cluster.applied_data(4), cluster.applied_data(1));
}

#[test]
fn reset_is_not_a_change_a_leader_proposes() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    let reset = ConfChange::Reset {
        voters: vec![id(1)],
    };
    assert!(matches!(
        cluster.node(1).change_membership(reset.clone()),
        Err(MembershipError::Invalid(_))
    ));
    assert_eq!(ConfChange::decode(&reset.encode()), Some(reset));
}

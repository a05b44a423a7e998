//! Election rules, one test per rule, named after the paper or thesis section.

use crate::message::{Message, MessageBody, Role};
use crate::testkit::{config, id, storage_with, Cluster};
use crate::{LogIndex, Node, Term};

fn vote_request(from: u64, to: u64, term: u64, last_index: u64, last_term: u64) -> Message {
    Message {
        from: id(from),
        to: id(to),
        term: Term(term),
        body: MessageBody::RequestVote {
            pre_vote: false,
            last_log_index: LogIndex(last_index),
            last_log_term: Term(last_term),
            transfer: false,
        },
    }
}

fn granted(node: &mut Node) -> Option<bool> {
    let ready = node.ready()?;
    let verdict = ready.messages.iter().find_map(|m| match m.body {
        MessageBody::RequestVoteResponse { granted, .. } => Some(granted),
        _ => None,
    });
    node.advance(ready);
    verdict
}

#[test]
fn candidate_increments_term_and_votes_for_itself_5_2() {
    // §5.2: "To begin an election, a follower increments its current term and transitions to
    // candidate state. It then votes for itself and issues RequestVote RPCs in parallel."
    let mut cluster = Cluster::new(3, |_| {});
    cluster.timeout(1);
    let node = cluster.node(1);
    assert_eq!(node.role(), Role::Candidate);
    assert_eq!(node.term(), Term(2));
    assert_eq!(node.voted_for(), Some(id(1)));
    let ready = node.ready().expect("votes to send");
    let requests = ready.messages.iter().filter(|m| {
        matches!(
            m.body,
            MessageBody::RequestVote {
                pre_vote: false,
                ..
            }
        )
    });
    assert_eq!(requests.count(), 2);
    assert!(
        ready.must_sync,
        "the self-vote is persisted before the requests leave"
    );
}

#[test]
fn candidate_with_majority_becomes_leader_5_2() {
    // §5.2: "A candidate wins an election if it receives votes from a majority of the servers
    // in the full cluster for the same term."
    let mut cluster = Cluster::new(5, |_| {});
    cluster.isolated.insert(id(4));
    cluster.isolated.insert(id(5));
    cluster.elect(1);
    assert_eq!(cluster.leader(), Some(id(1)));
    assert_eq!(cluster.node(1).term(), Term(2));
}

#[test]
fn candidate_without_majority_does_not_lead_5_2() {
    let mut cluster = Cluster::new(5, |_| {});
    for n in 3..=5 {
        cluster.isolated.insert(id(n));
    }
    cluster.elect(1);
    assert_eq!(cluster.node(1).role(), Role::Candidate);
}

#[test]
fn voter_grants_at_most_one_vote_per_term_5_2() {
    // §5.2: "Each server will vote for at most one candidate in a given term, on a
    // first-come-first-served basis."
    let mut node = Node::new(config(1), storage_with(&[1, 2, 3], &[], 1));
    node.step(vote_request(2, 1, 2, 1, 1)).unwrap();
    assert_eq!(granted(&mut node), Some(true));
    node.step(vote_request(3, 1, 2, 1, 1)).unwrap();
    assert_eq!(granted(&mut node), Some(false));
    // A retransmitted request from the same candidate is granted again.
    node.step(vote_request(2, 1, 2, 1, 1)).unwrap();
    assert_eq!(granted(&mut node), Some(true));
}

#[test]
fn vote_denied_to_candidate_with_older_log_5_4_1() {
    // §5.4.1: "The voter denies its vote if its own log is more up-to-date than that of the
    // candidate."
    let mut node = Node::new(config(1), storage_with(&[1, 2, 3], &[2, 2], 2));
    // Same last term, shorter log.
    node.step(vote_request(2, 1, 3, 2, 2)).unwrap();
    assert_eq!(granted(&mut node), Some(false));
    // Older last term, longer log.
    node.step(vote_request(3, 1, 4, 9, 1)).unwrap();
    assert_eq!(granted(&mut node), Some(false));
    // Newer last term, shorter log.
    node.step(vote_request(3, 1, 5, 1, 3)).unwrap();
    assert_eq!(granted(&mut node), Some(true));
}

#[test]
fn higher_term_turns_leader_into_follower_5_1() {
    // §5.1: "If a candidate or leader discovers that its term is out of date, it immediately
    // reverts to follower state."
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    let leader = cluster.node(1);
    assert_eq!(leader.role(), Role::Leader);
    leader
        .step(Message {
            from: id(2),
            to: id(1),
            term: Term(9),
            body: MessageBody::HeartbeatResponse { read_seq: 0 },
        })
        .unwrap();
    assert_eq!(leader.role(), Role::Follower);
    assert_eq!(leader.term(), Term(9));
}

#[test]
fn stale_term_request_is_rejected_5_1() {
    // §5.1: "If a server receives a request with a stale term number, it rejects the request."
    let mut node = Node::new(config(1), storage_with(&[1, 2, 3], &[], 5));
    node.step(vote_request(2, 1, 4, 9, 4)).unwrap();
    assert_eq!(granted(&mut node), None);
    assert_eq!(node.term(), Term(5));
    assert_eq!(node.voted_for(), None);
}

#[test]
fn election_timeouts_are_randomized_5_2() {
    // §5.2: "Raft uses randomized election timeouts to ensure that split votes are rare."
    let timeouts: std::collections::BTreeSet<u32> = (1..=8)
        .map(|n| Node::new(config(n), storage_with(&[1], &[], 1)).randomized_timeout)
        .collect();
    assert!(timeouts.len() > 1, "all timeouts equal: {timeouts:?}");
    assert!(
        timeouts.iter().all(|t| (10..20).contains(t)),
        "{timeouts:?}"
    );
}

#[test]
fn prevote_does_not_change_terms_9_6() {
    // Thesis §9.6: the pre-vote "does not increment its term"; nor does granting one.
    let mut cluster = Cluster::new(3, |c| c.pre_vote = true);
    cluster.timeout(1);
    assert_eq!(cluster.node(1).role(), Role::PreCandidate);
    assert_eq!(cluster.node(1).term(), Term(1));
    cluster.process_all();
    let requests = cluster.take_messages(|_| true);
    for m in requests {
        cluster.deliver(m);
    }
    assert_eq!(
        cluster.node(2).term(),
        Term(1),
        "pre-vote moved a receiver's term"
    );
    assert_eq!(cluster.node(2).voted_for(), None);
    cluster.stabilize();
    assert_eq!(cluster.leader(), Some(id(1)));
    assert_eq!(cluster.node(1).term(), Term(2));
}

#[test]
fn prevote_keeps_rejoining_server_from_disrupting_leader_9_6() {
    // Thesis §9.6: a server partitioned away keeps timing out, but without a majority of
    // pre-votes it never increments its term; on rejoining with a log that fell behind, its
    // pre-votes are refused and it does not depose the leader.
    let mut cluster = Cluster::new(3, |c| c.pre_vote = true);
    cluster.elect(1);
    let term = cluster.node(1).term();
    cluster.isolated.insert(id(3));
    cluster
        .node(1)
        .propose(b"while 3 was away".to_vec())
        .unwrap();
    cluster.stabilize();
    for _ in 0..5 {
        cluster.timeout(3);
        cluster.stabilize();
    }
    assert_eq!(
        cluster.node(3).term(),
        term,
        "isolated pre-candidate raised its term"
    );
    cluster.isolated.clear();
    cluster.timeout(3);
    cluster.stabilize();
    cluster.tick_all(3);
    assert_eq!(cluster.leader(), Some(id(1)));
    assert_eq!(cluster.node(1).term(), term, "leader was disrupted");
}

#[test]
fn check_quorum_leader_steps_down_when_cut_off_6_2() {
    // Thesis §6.2: "a leader steps down if an election timeout elapses without a successful
    // round of heartbeats to a majority of its cluster."
    let mut cluster = Cluster::new(3, |c| c.check_quorum = true);
    cluster.elect(1);
    cluster.isolated.insert(id(1));
    for _ in 0..25 {
        cluster.node(1).tick();
    }
    assert_eq!(cluster.node(1).role(), Role::Follower);
}

#[test]
fn lease_makes_followers_ignore_votes_4_2_3() {
    // Thesis §4.2.3: "if a server receives a RequestVote request within the minimum election
    // timeout of hearing from a current leader, it does not update its term or grant its vote."
    let mut cluster = Cluster::new(3, |c| c.check_quorum = true);
    cluster.elect(1);
    let node = cluster.node(2);
    node.step(vote_request(3, 2, 7, 100, 7)).unwrap();
    assert_eq!(node.term(), Term(2));
    assert_eq!(granted(node), None);
}

#[test]
fn learner_never_campaigns() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    let mut learner = Node::new(config(4), crate::Storage::default());
    for _ in 0..100 {
        learner.tick();
    }
    assert_eq!(learner.role(), Role::Follower);
    assert_eq!(learner.term(), Term(0));
}

#[test]
fn prevote_with_check_quorum_keeps_up_to_date_rejoiner_from_disrupting_9_6_4_2_3() {
    // With an up-to-date log the pre-vote alone would pass; the lease (§4.2.3) refuses it.
    let mut cluster = Cluster::new(3, |c| {
        c.pre_vote = true;
        c.check_quorum = true;
    });
    cluster.elect(1);
    let term = cluster.node(1).term();
    cluster.isolated.insert(id(3));
    cluster.timeout(3);
    cluster.isolated.clear();
    cluster.stabilize();
    assert_eq!(cluster.leader(), Some(id(1)));
    assert_eq!(cluster.node(1).term(), term, "leader was disrupted");
}

#[test]
fn sole_voter_campaigning_now_leads_at_once() {
    // A one-voter cluster needs no timeout: its own vote is a majority (paper §5.2).
    let mut node = Node::new(config(1), storage_with(&[1], &[], 1));
    node.campaign_now();
    assert_eq!(node.role(), Role::Leader);
    assert_eq!(node.term(), Term(2));
    // A leader asked again stays as it is.
    node.campaign_now();
    assert_eq!(node.term(), Term(2));
}

#[test]
fn a_recovering_node_grants_no_vote_and_never_campaigns() {
    // Paper §5.4: a vote promises the voter holds nothing the candidate lacks. A node that
    // lost acknowledged entries cannot promise that, so it abstains until caught up.
    let mut node = Node::new(config(1), storage_with(&[1, 2, 3], &[1], 1));
    node.start_recovering();
    assert!(node.is_recovering());
    node.step(vote_request(2, 1, 2, 9, 1)).unwrap();
    assert_eq!(granted(&mut node), Some(false), "no vote while recovering");
    let mut pre_vote = vote_request(3, 1, 2, 9, 1);
    if let MessageBody::RequestVote { pre_vote: p, .. } = &mut pre_vote.body {
        *p = true;
    }
    node.step(pre_vote).unwrap();
    assert_eq!(granted(&mut node), Some(false), "no pre-vote either");
    for _ in 0..100 {
        node.tick();
    }
    assert_eq!(
        node.role(),
        Role::Follower,
        "a recovering node never campaigns"
    );
}

#[test]
fn a_node_that_lost_a_committed_entry_cannot_help_elect_a_leader_without_it() {
    // E is committed by 1 and 3 while 2 is cut off; then 3 loses its log and 1 goes down.
    // Were 3 to vote, 2 (without E) could win and E would be lost.
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.isolated.insert(crate::NodeId(2));
    let index = cluster.node(1).propose(b"E".to_vec()).unwrap();
    cluster.stabilize();
    assert!(
        cluster.node(1).commit_index() >= index,
        "E committed by 1 and 3"
    );
    let term = cluster.node(3).term();
    let mut lost = Node::new(config(3), storage_with(&[1, 2, 3], &[], term.0));
    lost.start_recovering();
    cluster.nodes.insert(crate::NodeId(3), lost);
    cluster.isolated.clear();
    cluster.isolated.insert(crate::NodeId(1));
    for _ in 0..5 {
        cluster.timeout(2);
        cluster.stabilize();
    }
    assert_ne!(
        cluster.node(2).role(),
        Role::Leader,
        "2 lacks E and must not lead"
    );
    assert!(cluster.node(3).is_recovering());
    // 1 comes back: whoever leads holds E; 3 catches up and votes again.
    cluster.isolated.clear();
    cluster.tick_all(60);
    let leader = cluster.leader().expect("a leader once 1 is back");
    assert_eq!(
        cluster.node(leader.0).entry(index).map(|e| e.data.clone()),
        Some(b"E".to_vec())
    );
    assert!(!cluster.node(3).is_recovering(), "3 caught up");
    assert_eq!(
        cluster.node(3).entry(index).map(|e| e.data.clone()),
        Some(b"E".to_vec())
    );
    let done = cluster.readies[&crate::NodeId(3)]
        .iter()
        .flat_map(|r| r.events.iter())
        .any(|e| matches!(e, crate::Event::RecoveryDone { .. }));
    assert!(done, "the driver is told to drop its recovery mark");
}

#[test]
fn the_leader_replicates_again_to_a_follower_that_lost_its_log() {
    // Raft assumes stable storage: heartbeats carry no log position, so a leader never
    // notices on its own that a follower's log shrank. The follower's report fixes that.
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    let index = cluster.node(1).propose(b"E".to_vec()).unwrap();
    cluster.stabilize();
    let term = cluster.node(3).term();
    let mut lost = Node::new(config(3), storage_with(&[1, 2, 3], &[], term.0));
    lost.start_recovering();
    let last = lost.last_index();
    cluster.nodes.insert(crate::NodeId(3), lost);
    cluster.tick_all(5);
    assert!(
        cluster.node(3).entry(index).is_none(),
        "heartbeats alone repair nothing"
    );
    cluster
        .node(1)
        .follower_lost_entries(crate::NodeId(3), last);
    cluster.stabilize();
    assert_eq!(
        cluster.node(3).entry(index).map(|e| e.data.clone()),
        Some(b"E".to_vec())
    );
    assert!(!cluster.node(3).is_recovering());
    // A stale report (at or above what the leader knows) changes nothing.
    cluster
        .node(1)
        .follower_lost_entries(crate::NodeId(3), index);
    assert!(cluster
        .node(1)
        .ready()
        .is_none_or(|r| r.messages.is_empty()));
}

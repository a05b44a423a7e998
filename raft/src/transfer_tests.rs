//! Leadership transfer, thesis §3.10.

use crate::message::{MessageBody, Role};
use crate::testkit::{id, Cluster};
use crate::{ProposeError, TransferError};

#[test]
fn transfer_to_caught_up_follower_makes_it_leader_3_10() {
    // Thesis §3.10: the leader sends TimeoutNow to a caught-up target, which starts an
    // election at once and wins it.
    let mut cluster = Cluster::new(3, |c| {
        c.pre_vote = true;
        c.check_quorum = true;
    });
    cluster.elect(1);
    cluster.node(1).transfer_leadership(id(2)).unwrap();
    cluster.stabilize();
    assert_eq!(cluster.leader(), Some(id(2)));
}

#[test]
fn transfer_catches_target_up_before_timeout_now_3_10() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.isolated.insert(id(3));
    cluster.node(1).propose(b"a".to_vec()).unwrap();
    cluster.stabilize();
    cluster.isolated.clear();
    cluster.node(1).transfer_leadership(id(3)).unwrap();
    cluster.process_all();
    assert!(
        !cluster
            .queue
            .iter()
            .any(|m| m.body == MessageBody::TimeoutNow),
        "TimeoutNow sent to a lagging target"
    );
    cluster.stabilize();
    assert_eq!(cluster.leader(), Some(id(3)));
    let last = cluster.node(1).last_index();
    assert!(
        cluster.node(3).term_at(last).is_some(),
        "new leader holds the old leader's log"
    );
}

#[test]
fn leader_refuses_proposals_during_transfer_3_10() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.isolated.insert(id(2));
    cluster.node(1).transfer_leadership(id(2)).unwrap();
    let err = cluster.node(1).propose(b"x".to_vec()).unwrap_err();
    assert_eq!(err, ProposeError::TransferInProgress { to: id(2) });
}

#[test]
fn transfer_aborts_after_an_election_timeout_3_10() {
    // Thesis §3.10: "If the transfer does not complete within an election timeout, the
    // leader aborts the transfer and resumes accepting client requests."
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.isolated.insert(id(2));
    cluster.node(1).transfer_leadership(id(2)).unwrap();
    for _ in 0..10 {
        cluster.node(1).tick();
    }
    assert_eq!(cluster.node(1).role(), Role::Leader);
    assert_eq!(cluster.node(1).transfer_target(), None);
    assert!(cluster.node(1).propose(b"x".to_vec()).is_ok());
}

#[test]
fn transfer_to_non_voter_is_refused() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    let err = cluster.node(1).transfer_leadership(id(9)).unwrap_err();
    assert_eq!(err, TransferError::NotVoter { to: id(9) });
}

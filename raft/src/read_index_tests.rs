//! ReadIndex, thesis §6.4.

use crate::message::{Event, ReadState};
use crate::testkit::{id, Cluster};
use crate::LogIndex;

fn read_states(cluster: &Cluster, n: u64) -> Vec<ReadState> {
    cluster.readies[&id(n)]
        .iter()
        .flat_map(|r| r.read_states.clone())
        .collect()
}

#[test]
fn read_is_released_after_a_quorum_confirms_leadership_6_4() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.node(1).read_index(7).unwrap();
    cluster.process_all();
    assert!(
        read_states(&cluster, 1).is_empty(),
        "released before the heartbeat round"
    );
    cluster.stabilize();
    let commit = cluster.node(1).commit_index();
    assert_eq!(
        read_states(&cluster, 1),
        vec![ReadState {
            ctx: 7,
            index: commit
        }]
    );
}

#[test]
fn partitioned_leader_never_releases_a_read_6_4() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.isolated.insert(id(1));
    cluster.node(1).read_index(7).unwrap();
    cluster.stabilize();
    assert!(read_states(&cluster, 1).is_empty());
}

#[test]
fn read_waits_for_the_leaders_first_commit_6_4() {
    // Thesis §6.4 step 1: until its no-op commits, a new leader's commit index may be stale.
    let mut cluster = Cluster::new(3, |_| {});
    cluster.timeout(1);
    cluster.process_all();
    cluster.deliver_all();
    cluster.process_all();
    cluster.deliver_all();
    assert_eq!(
        cluster.node(1).commit_index(),
        LogIndex(1),
        "no-op not yet committed"
    );
    cluster.node(1).read_index(1).unwrap();
    cluster.stabilize();
    let states = read_states(&cluster, 1);
    assert_eq!(states.len(), 1);
    assert!(
        states[0].index >= LogIndex(2),
        "read index {} below the no-op",
        states[0].index
    );
}

#[test]
fn reads_abort_when_leadership_is_lost() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(1);
    cluster.isolated.insert(id(1));
    cluster.node(1).read_index(5).unwrap();
    cluster.elect(2);
    cluster.isolated.clear();
    cluster.tick_all(2);
    let aborted = cluster.readies[&id(1)]
        .iter()
        .any(|r| r.events.contains(&Event::ReadAborted { ctx: 5 }));
    assert!(aborted);
}

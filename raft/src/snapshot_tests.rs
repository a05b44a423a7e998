//! Log compaction and InstallSnapshot, paper §7.

use crate::message::{Event, MessageBody};
use crate::testkit::{id, Cluster};
use crate::{CompactError, LogIndex};

#[test]
fn compaction_drops_applied_prefix_7() {
    let mut cluster = Cluster::new(1, |_| {});
    cluster.elect(1);
    for i in 0..5u8 {
        cluster.node(1).propose(vec![b'a' + i]).unwrap();
        cluster.stabilize();
    }
    let applied = cluster.node(1).applied_index();
    assert_eq!(applied, LogIndex(7));
    let dropped = cluster
        .node(1)
        .compact(LogIndex(5), b"image".to_vec())
        .unwrap();
    // Entries 1..=5 come back to the driver in order: two from start-up and the election,
    // then the first three proposals.
    let indexes: Vec<u64> = dropped.iter().map(|e| e.index.0).collect();
    assert_eq!(indexes, [1, 2, 3, 4, 5]);
    assert_eq!(cluster.node(1).first_index(), LogIndex(6));
    assert!(matches!(
        cluster.node(1).compact(LogIndex(4), vec![]),
        Err(CompactError::AlreadyCompacted { .. })
    ));
    assert!(matches!(
        cluster.node(1).compact(LogIndex(9), vec![]),
        Err(CompactError::NotApplied { .. })
    ));
}

/// Three members with 4-byte snapshot chunks, after `proposals` writes that member 3 missed and
/// a compaction of the leader's log into `image`: member 3 can catch up only by snapshot.
fn behind_a_snapshot(proposals: u8, image: &[u8]) -> Cluster {
    behind_a_snapshot_kept(proposals, image, false)
}

/// `behind_a_snapshot`, with `Config::snapshot_bytes_in_driver` set to `in_driver` (the
/// leader then learns only the image's size).
fn behind_a_snapshot_kept(proposals: u8, image: &[u8], in_driver: bool) -> Cluster {
    let mut cluster = Cluster::new(3, |c| {
        c.snapshot_chunk_bytes = 4;
        c.snapshot_bytes_in_driver = in_driver;
    });
    cluster.elect(1);
    cluster.isolated.insert(id(3));
    for i in 0..proposals {
        cluster.node(1).propose(vec![b'a' + i]).unwrap();
        cluster.stabilize();
    }
    let applied = cluster.node(1).applied_index();
    if in_driver {
        let size = image.len() as u64;
        cluster.node(1).compact_in_driver(applied, size).unwrap();
    } else {
        cluster.node(1).compact(applied, image.to_vec()).unwrap();
    }
    cluster.isolated.clear();
    cluster
}

#[test]
fn lagging_follower_receives_chunked_snapshot_7() {
    // §7: "the leader must occasionally send snapshots to followers that lag behind" — here
    // in chunks of 4 bytes.
    let mut cluster = behind_a_snapshot(5, b"state-machine-image");
    let mut chunks = 0;
    for _ in 0..30 {
        cluster.node(1).tick();
        cluster.process_all();
        chunks += cluster
            .queue
            .iter()
            .filter(|m| matches!(m.body, MessageBody::InstallSnapshot { .. }))
            .count();
        cluster.deliver_all();
    }
    assert!(chunks >= 5, "{chunks} chunks for 19 bytes in chunks of 4");
    let readies = &cluster.readies[&id(3)];
    let installed = readies
        .iter()
        .find_map(|r| r.snapshot.clone())
        .expect("snapshot installed");
    assert_eq!(installed.data, b"state-machine-image".to_vec());
    assert!(readies.iter().any(|r| r
        .events
        .iter()
        .any(|e| { matches!(e, Event::SnapshotInstalled { .. }) })));
    assert_eq!(
        cluster.node(3).commit_index(),
        cluster.node(1).commit_index()
    );
    cluster.node(1).propose(b"after".to_vec()).unwrap();
    cluster.stabilize();
    cluster.tick_all(1);
    assert_eq!(cluster.applied_data(3), vec!["after"]);
}

#[test]
fn lost_snapshot_chunk_is_resent_after_heartbeat_7() {
    let mut cluster = behind_a_snapshot(3, b"0123456789");
    // Drop the first chunk sent.
    let mut dropped = false;
    for _ in 0..40 {
        cluster.node(1).tick();
        cluster.process_all();
        if !dropped {
            let before = cluster.queue.len();
            cluster
                .queue
                .retain(|m| !matches!(m.body, MessageBody::InstallSnapshot { .. }));
            dropped = cluster.queue.len() < before;
        }
        cluster.deliver_all();
    }
    assert!(dropped, "a chunk was dropped");
    assert_eq!(
        cluster.node(3).commit_index(),
        cluster.node(1).commit_index()
    );
    let installed = cluster.readies[&id(3)]
        .iter()
        .find_map(|r| r.snapshot.clone());
    assert_eq!(installed.map(|s| s.data), Some(b"0123456789".to_vec()));
}

#[test]
fn a_slow_chunk_is_not_multiplied_by_heartbeats_7() {
    // A chunk still in flight on a slow link is not lost: resending it at every heartbeat,
    // and acting on every answer, would put ever more copies of the stream in flight (the
    // fault soak saw 13× a snapshot's size move without it ever being installed).
    let mut cluster = behind_a_snapshot(3, b"0123456789");
    let is_chunk =
        |m: &crate::message::Message| matches!(m.body, MessageBody::InstallSnapshot { .. });
    // 30 heartbeats while every chunk is held on the link.
    let mut held = Vec::new();
    for _ in 0..30 {
        cluster.node(1).tick();
        cluster.process_all();
        held.extend(cluster.take_messages(is_chunk));
        cluster.deliver_all();
    }
    assert!(
        !held.is_empty() && held.len() <= 3,
        "{} chunks sent in 30 heartbeats while one was in flight",
        held.len()
    );
    // The link delivers them all, late, duplicates included.
    cluster.queue.extend(held);
    let mut sent_after = 0;
    for _ in 0..40 {
        cluster.process_all();
        sent_after += cluster.queue.iter().filter(|m| is_chunk(m)).count();
        cluster.deliver_all();
        cluster.node(1).tick();
    }
    assert!(
        sent_after <= 6,
        "{sent_after} chunks for 10 bytes in chunks of 4"
    );
    let installed = cluster.readies[&id(3)]
        .iter()
        .find_map(|r| r.snapshot.clone());
    assert_eq!(installed.map(|s| s.data), Some(b"0123456789".to_vec()));
}

#[test]
fn a_driver_that_keeps_snapshot_bytes_fills_the_chunks_7() {
    // `Config::snapshot_bytes_in_driver`: the node knows only the image's size. Its chunks
    // leave empty, the driver fills them, and the follower's copy is moved out to its driver.
    let image = b"state-machine-image".to_vec();
    let mut cluster = behind_a_snapshot_kept(5, &image, true);
    assert!(cluster.node(1).snapshot().unwrap().data.is_empty());
    let mut offsets = Vec::new();
    for _ in 0..30 {
        cluster.node(1).tick();
        cluster.process_all();
        for m in &mut cluster.queue {
            if let MessageBody::InstallSnapshot {
                total_bytes,
                offset,
                data,
                ..
            } = &mut m.body
            {
                assert!(data.is_empty(), "the driver fills the chunk");
                assert_eq!(*total_bytes, image.len() as u64);
                let end = (*offset as usize + 4).min(image.len());
                data.extend_from_slice(&image[*offset as usize..end]);
                offsets.push(*offset);
            }
        }
        cluster.deliver_all();
    }
    assert_eq!(offsets, [0, 4, 8, 12, 16], "one chunk at a time, in order");
    let installed = cluster.readies[&id(3)]
        .iter()
        .find_map(|r| r.snapshot.clone())
        .expect("snapshot installed");
    assert_eq!(
        installed.data, image,
        "the follower's driver gets the bytes"
    );
    assert!(
        cluster.node(3).snapshot().unwrap().data.is_empty(),
        "and the follower's node keeps none"
    );
    assert_eq!(
        cluster.node(3).commit_index(),
        cluster.node(1).commit_index()
    );
    // A restart from what the driver stored: the size comes with the Storage.
    let storage = crate::Storage {
        hard_state: cluster.node(3).hard_state(),
        snapshot: Some(crate::Snapshot {
            meta: installed.meta.clone(),
            data: Vec::new(),
        }),
        snapshot_bytes: image.len() as u64,
        entries: Vec::new(),
    };
    let mut config = crate::Config::new(id(3), 9);
    config.snapshot_bytes_in_driver = true;
    let restarted = crate::Node::new(config, storage);
    assert_eq!(restarted.first_index(), installed.meta.index.next());
}

#[test]
#[should_panic(expected = "compact_in_driver")]
fn a_driver_that_keeps_snapshot_bytes_cannot_hand_them_over_7() {
    let mut cluster = Cluster::new(1, |c| c.snapshot_bytes_in_driver = true);
    cluster.elect(1);
    let applied = cluster.node(1).applied_index();
    let _ = cluster.node(1).compact(applied, b"image".to_vec());
}

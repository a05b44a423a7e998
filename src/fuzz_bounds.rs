//! Tests only: every decoder that reads bytes from outside — client frames (`wire`), Raft
//! log payloads and membership (`replication`), peer frames and handshakes (`peers`), Raft
//! messages (`raft`), log segments and snapshot files (`wal`), txns and snapshots (`tree`),
//! ZooKeeper's own files (`convert`) and zoo.cfg — meets seeded
//! mutations of a valid input (bit flips, 32-bit fields overwritten with huge, negative or
//! boundary lengths, cuts, splices, random bytes). Each must return, never panic, and never
//! make one allocation larger than the input could justify: lengths are checked against
//! what is left before anything is allocated (issue #9). `sys::alloc_probe` counts the
//! allocations. `FUZZ_BOUNDS_ROUNDS=n` runs longer; the seed is fixed, so a failure replays.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::sys::alloc_probe::largest_allocation;

/// The largest allocation an input of `len` bytes may cause: a decoder may expand each
/// input byte into a few structure bytes (a 4-byte count into 48-byte elements, at most
/// 16×), plus fixed buffers (a 64 KiB read chunk).
fn allowed(len: usize) -> usize {
    16 * len + (64 << 10)
}

fn rounds() -> u64 {
    std::env::var("FUZZ_BOUNDS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

const EDGES: [u32; 8] = [
    0x7fff_ffff,
    0xffff_ffff,
    0x8000_0000,
    0x4000_0000,
    0x0010_0001,
    0xffff_fffe,
    0,
    1,
];

/// One mutation of `valid`.
fn mutate(valid: &[u8], prng: &mut raft::Prng) -> Vec<u8> {
    let mut bytes = valid.to_vec();
    let at = |prng: &mut raft::Prng, len: usize| prng.below(len.max(1) as u64) as usize;
    match prng.below(6) {
        0 if !bytes.is_empty() => {
            for _ in 0..=prng.below(4) {
                let i = at(prng, bytes.len());
                bytes[i] ^= 1 << prng.below(8);
            }
        }
        1 if bytes.len() >= 4 => {
            let i = at(prng, bytes.len() - 3);
            let edge = EDGES[prng.below(EDGES.len() as u64) as usize];
            bytes[i..i + 4].copy_from_slice(&edge.to_be_bytes());
        }
        2 => bytes.truncate(at(prng, bytes.len() + 1)),
        3 if !bytes.is_empty() => {
            let (i, j) = (at(prng, bytes.len()), at(prng, bytes.len()));
            let piece = bytes[i.min(j)..i.max(j)].to_vec();
            let k = at(prng, bytes.len());
            bytes.splice(k..k, piece);
        }
        4 => {
            let len = prng.below(256) as usize;
            bytes = (0..len).map(|_| prng.next_u64() as u8).collect();
        }
        _ => {
            let i = at(prng, bytes.len() + 1);
            bytes.insert(i.min(bytes.len()), prng.next_u64() as u8);
        }
    }
    bytes
}

/// Feeds `rounds()` mutations of each of `valid` to `decode`; panics name the input.
fn check(name: &str, seed: u64, valid: &[Vec<u8>], decode: impl Fn(&[u8])) {
    assert!(!valid.is_empty(), "{name}: no valid inputs to mutate");
    let mut prng = raft::Prng::new(seed);
    for round in 0..rounds() {
        let base = &valid[prng.below(valid.len() as u64) as usize];
        let input = mutate(base, &mut prng);
        let (outcome, largest) =
            largest_allocation(|| catch_unwind(AssertUnwindSafe(|| decode(&input))));
        assert!(
            outcome.is_ok(),
            "{name}: round {round} panicked on {} bytes: {:02x?}",
            input.len(),
            &input[..input.len().min(64)]
        );
        assert!(
            largest <= allowed(input.len()),
            "{name}: round {round}: {largest} bytes allocated for a {}-byte input",
            input.len()
        );
    }
}

fn encoded(write: impl FnOnce(&mut wire::Writer)) -> Vec<u8> {
    let mut w = wire::Writer::new();
    write(&mut w);
    w.bytes
}

fn sample_requests() -> Vec<wire::Request> {
    use wire::{Acl, CreateRequest, Request, SetDataRequest};
    let create = CreateRequest {
        path: "/app/lock-".to_string(),
        data: Some(b"payload".to_vec()),
        acl: Acl::open_unsafe(),
        flags: 3,
        ttl: -1,
    };
    let set = SetDataRequest {
        path: "/app".to_string(),
        data: Some(vec![1; 40]),
        version: 4,
    };
    vec![
        Request::Create(create.clone()),
        Request::SetData(set.clone()),
        Request::Multi(vec![Request::Create(create), Request::SetData(set)]),
        Request::Reconfig(wire::ReconfigRequest {
            joining_servers: Some("server.4=127.0.0.1:2888:3888;2181".to_string()),
            leaving_servers: Some("2".to_string()),
            new_members: None,
            cur_config_id: -1,
        }),
    ]
}

#[test]
fn client_requests() {
    let requests = sample_requests();
    let valid: Vec<Vec<u8>> = requests.iter().map(|r| encoded(|w| r.encode(w))).collect();
    let ops: Vec<wire::OpCode> = requests.iter().map(|r| r.op_code()).collect();
    check("wire::Request", 0xf0221, &valid, |bytes| {
        for op in &ops {
            let _ = wire::Request::decode(*op, bytes);
        }
    });
}

#[test]
fn log_entries_and_txns() {
    let txns: Vec<Vec<u8>> = sample_requests()
        .into_iter()
        .map(|request| {
            let payload = crate::replication::EntryPayload {
                origin: 2,
                seq: 7,
                txn: tree::Txn {
                    zxid: 0,
                    time_ms: 1_700_000_000_000,
                    session_id: 0x1_0000_0001,
                    auth: vec![wire::Id::new("digest", "u:h")],
                    op: tree::TxnOp::Request(request),
                },
            };
            payload.encode()
        })
        .collect();
    check("EntryPayload", 0xf0222, &txns, |bytes| {
        let _ = crate::replication::EntryPayload::decode(bytes, 9);
    });
    let membership = raft::Membership {
        voters: [1, 2, 3].map(raft::NodeId).into(),
        learners: [4].map(raft::NodeId).into(),
    };
    let valid = vec![crate::replication::encode_membership(&membership)];
    check("membership", 0xf0223, &valid, |bytes| {
        let _ = crate::replication::decode_membership(bytes);
    });
}

#[test]
fn peer_frames_and_handshakes() {
    let mut frames = Vec::new();
    for payload in [&b"\x01raft message"[..], &[2u8; 300][..], b""] {
        crate::peers::frame::encode_frame(&mut frames, payload);
    }
    check("peer frames", 0xf0224, &[frames], |bytes| {
        let mut reader = crate::peers::frame::FrameReader::new(1 << 20);
        // Split the input at a byte chosen by its length, as a socket might deliver it.
        let cut = bytes.len() / 3;
        for part in [&bytes[..cut], &bytes[cut..]] {
            reader.push(part);
            while let Ok(Some(_)) = reader.next_frame() {}
        }
    });
    let hello = crate::peers::frame::Hello {
        kind: crate::peers::frame::HelloKind::Dial,
        identity: crate::peers::Identity {
            cluster_id: 0xfeed,
            fresh: false,
        },
        from: 1,
        to: 2,
    };
    check("peer hello", 0xf0225, &[hello.encode().to_vec()], |bytes| {
        let _ = crate::peers::frame::Hello::decode(bytes);
    });
}

#[test]
fn tree_snapshots() {
    let mut tree = tree::DataTree::new(tree::TreeConfig::default());
    for (zxid, request) in (1..).zip(sample_requests()) {
        let txn = tree::Txn {
            zxid,
            time_ms: 1_700_000_000_000,
            session_id: 0,
            auth: Vec::new(),
            op: tree::TxnOp::Request(request),
        };
        let _ = tree.apply(&txn);
    }
    let valid = encoded(|w| tree.encode_snapshot(w));
    check("tree snapshot", 0xf0226, &[valid], |bytes| {
        let _ = tree::DataTree::decode_snapshot(bytes, tree::TreeConfig::default());
    });
}

/// ZooKeeper's own files, from `../shared/testdata` (skipped where it is not beside us).
#[test]
fn zookeeper_data_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/zk-3.8-data/version-2");
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let (Some(log), Some(snapshot)) = (read("log.55f"), read("snapshot.55d")) else {
        eprintln!("no ZooKeeper test data at {}: skipped", dir.display());
        return;
    };
    check("zookeeper txn log", 0xf0227, &[log], |bytes| {
        let _ = crate::convert::txnlog::read_log(bytes);
    });
    check("zookeeper snapshot", 0xf0228, &[snapshot], |bytes| {
        let _ = crate::convert::snapshot::read_snapshot(bytes, 0x55d);
    });
}

#[test]
fn zoo_cfg_text() {
    let valid = b"tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zk\n\
        clientPort=2181\nserver.1=10.0.0.1:2888:3888\nserver.2=10.0.0.2:2888:3888;2181\n\
        server.3=10.0.0.3:2888:3888:observer\n4lw.commands.whitelist=ruok, srvr\n\
        autopurge.snapRetainCount=3\njute.maxbuffer=1048576\n"
        .to_vec();
    check("zoo.cfg", 0xf0229, &[valid], |bytes| {
        let _ = crate::config::Config::parse(&String::from_utf8_lossy(bytes), "fuzz");
    });
}

#[test]
fn raft_messages() {
    use raft::{Entry, EntryKind, LogIndex, Message, MessageBody, NodeId, Term};
    let message = |body| Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(7),
        body,
    };
    let entries = (1..4u64)
        .map(|i| Entry {
            term: Term(7),
            index: LogIndex(10 + i),
            kind: EntryKind::Normal,
            data: vec![i as u8; 40],
        })
        .collect();
    let meta = raft::SnapshotMeta {
        index: LogIndex(9),
        term: Term(6),
        membership: raft::Membership {
            voters: [1, 2, 3].map(NodeId).into(),
            learners: [4].map(NodeId).into(),
        },
    };
    let valid: Vec<Vec<u8>> = [
        message(MessageBody::AppendEntries {
            prev_log_index: LogIndex(10),
            prev_log_term: Term(7),
            entries,
            leader_commit: LogIndex(11),
        }),
        message(MessageBody::InstallSnapshot {
            meta,
            total_bytes: 300,
            offset: 0,
            data: vec![5; 100],
        }),
        message(MessageBody::RequestVote {
            pre_vote: true,
            last_log_index: LogIndex(3),
            last_log_term: Term(2),
            transfer: false,
        }),
    ]
    .iter()
    .map(raft::encode_message)
    .collect();
    check("raft message", 0xf022a, &valid, |bytes| {
        let _ = raft::decode_message(bytes);
    });
}

/// A fresh in-memory disk holding `bytes` at `path`.
fn disk_with(path: &std::path::Path, bytes: &[u8]) -> wal::SimDisk {
    use wal::Disk;
    let disk = wal::SimDisk::new();
    let dir = path.parent().expect("a file in a directory");
    disk.create_dir_all(dir).expect("mkdir");
    disk.create_new(path).expect("create");
    disk.write_raw(path, 0, bytes);
    disk
}

/// The write-ahead log's reader: a damaged segment is opened (and every record checked) on
/// an in-memory disk.
#[test]
fn wal_segments() {
    let dir = std::path::Path::new("/wal");
    let options = wal::WalOptions {
        segment_size_bytes: 8 << 10,
        ..wal::WalOptions::default()
    };
    let disk = wal::SimDisk::new();
    let (mut log, _) = wal::Wal::open(disk.clone(), dir, 1, options).expect("open");
    let records: Vec<wal::Record> = (1..=6u64)
        .map(|i| wal::Record {
            kind: 1,
            term: 2,
            index: i,
            payload: vec![i as u8; 30 * i as usize],
        })
        .collect();
    log.append_batch_durable(&records).expect("append");
    let path = dir.join(wal::segment::segment_name(1));
    let valid = disk.read_raw(&path).expect("the segment");
    check("wal segment", 0xf022b, &[valid], |bytes| {
        let _ = wal::Wal::open(disk_with(&path, bytes), dir, 1, options);
    });
}

/// Snapshot files: header, metadata, body and trailer of a damaged file, read as recovery
/// reads them (the body into a buffer sized by the header).
#[test]
fn wal_snapshot_files() {
    use std::io::Read;
    let dir = std::path::Path::new("/snapshots");
    let disk = wal::SimDisk::new();
    let mut writer = wal::snapshot::SnapshotWriter::create(disk.clone(), dir, 42, 3, b"membership")
        .expect("create");
    writer.write_body(&[7u8; 500]).expect("body");
    writer.finish().expect("finish");
    let path = dir.join(wal::snapshot::snapshot_name(42));
    let valid = disk.read_raw(&path).expect("the snapshot");
    check("wal snapshot", 0xf022c, &[valid], |bytes| {
        let disk = disk_with(&path, bytes);
        if let Ok((Some(mut reader), _)) = wal::snapshot::open_newest_valid(&disk, dir) {
            let mut body = Vec::with_capacity(reader.body_len() as usize);
            let _ = reader.read_to_end(&mut body);
        }
    });
}

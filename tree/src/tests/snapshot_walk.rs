//! Streamed snapshots: whatever txns apply while a walk is under way, the stream is the
//! exact image of the tree at `begin_snapshot` — byte-identical to `encode_snapshot` then,
//! and it decodes to the same nodes, digest and sessions.

use wire::{
    Acl, CheckVersionRequest, DeleteRequest, Request, SetAclRequest, SetDataRequest, Writer,
};

use super::support::*;
use crate::tree::{DataTree, TreeConfig};
use crate::txn::TxnOp;

const SESSIONS: [i64; 3] = [SESSION, 0x200, 0x300];

/// A path over a small alphabet, so txns collide: creates hit existing nodes, deletes hit
/// parents, writes land on both sides of the walk's cursor.
fn random_path(rng: &mut SplitMix64) -> String {
    let depth = 1 + rng.below(3);
    let mut p = String::new();
    for _ in 0..depth {
        p.push('/');
        p.push_str(["a", "b", "c", "a-b", "z"][rng.below(5) as usize]);
    }
    p
}

fn random_request(rng: &mut SplitMix64) -> Request {
    let p = random_path(rng);
    let data = vec![b'x'; rng.below(4) as usize];
    match rng.below(10) {
        0..=3 => {
            // Persistent, ephemeral, sequential, ephemeral sequential, container.
            let flags = [0, 1, 2, 3, 4][rng.below(5) as usize];
            let req = create_req(&p, &data, flags);
            if flags == 4 {
                Request::CreateContainer(req)
            } else {
                Request::Create(req)
            }
        }
        4 | 5 => Request::Delete(DeleteRequest {
            path: p,
            version: -1,
        }),
        6 | 7 => Request::SetData(SetDataRequest {
            path: p,
            data: if rng.below(4) == 0 { None } else { Some(data) },
            version: -1,
        }),
        8 => Request::SetAcl(SetAclRequest {
            path: p,
            acl: if rng.below(2) == 0 {
                Acl::read_unsafe()
            } else {
                Acl::open_unsafe()
            },
            version: -1,
        }),
        _ => {
            // A multi; with a Check of a random version it often fails part-way.
            let count = 1 + rng.below(4);
            let mut ops: Vec<Request> = (0..count)
                .map(|_| match rng.below(3) {
                    0 => Request::Create(create_req(&random_path(rng), b"m", 0)),
                    1 => Request::Delete(DeleteRequest {
                        path: random_path(rng),
                        version: -1,
                    }),
                    _ => Request::SetData(SetDataRequest {
                        path: random_path(rng),
                        data: Some(b"m".to_vec()),
                        version: -1,
                    }),
                })
                .collect();
            ops.push(Request::Check(CheckVersionRequest {
                path: random_path(rng),
                version: rng.below(2) as i32 - 1,
            }));
            Request::Multi(ops)
        }
    }
}

fn apply_random_txn(h: &mut Harness, rng: &mut SplitMix64) {
    let session = SESSIONS[rng.below(SESSIONS.len() as u64) as usize];
    match rng.below(20) {
        0 => {
            h.session_op(
                session,
                TxnOp::CreateSession {
                    timeout_ms: 5_000,
                    password: [1; crate::session::PASSWORD_BYTES],
                },
            );
        }
        1 => {
            h.session_op(session, TxnOp::CloseSession);
        }
        _ => {
            let req = random_request(rng);
            h.apply_as(session, &[], req);
        }
    }
}

/// Checks a streamed snapshot against the tree it was begun on.
fn assert_same_image(stream: &[u8], expected: &DataTree, expected_bytes: &[u8], seed: u64) {
    assert_eq!(
        stream, expected_bytes,
        "seed {seed}: stream equals encode_snapshot"
    );
    let loaded = DataTree::decode_snapshot(stream, expected.config().clone())
        .unwrap_or_else(|e| panic!("seed {seed}: stream decodes: {e}"));
    assert_eq!(loaded.digest(), expected.digest(), "seed {seed}: digest");
    assert_eq!(
        loaded.last_zxid(),
        expected.last_zxid(),
        "seed {seed}: zxid"
    );
    assert_eq!(
        loaded.sessions(),
        expected.sessions(),
        "seed {seed}: sessions"
    );
    assert_eq!(loaded.len(), expected.len(), "seed {seed}: node count");
    for ((pa, a), (pb, b)) in loaded.iter().zip(expected.iter()) {
        assert_eq!(pa, pb, "seed {seed}: paths in order");
        assert_eq!(a.stat(), b.stat(), "seed {seed}: stat of {pa}");
        assert_eq!(
            a.data_option(),
            b.data_option(),
            "seed {seed}: data of {pa}"
        );
        assert_eq!(a.acl, b.acl, "seed {seed}: acl of {pa}");
    }
}

/// Begins a walk on `h`, interleaves random txns with steps of random sizes, and checks
/// the stream. Returns how many txns applied during the walk and how many pre-images were
/// seen saved (summed over steps).
fn walk_under_load(h: &mut Harness, rng: &mut SplitMix64, seed: u64) -> (usize, usize) {
    let expected = h.tree.clone();
    let mut expected_bytes = Writer::new();
    expected.encode_snapshot(&mut expected_bytes);
    let mut stream = Writer::new();
    h.tree.begin_snapshot().encode(&mut stream);
    let (mut applied, mut preserved) = (0, 0);
    loop {
        for _ in 0..rng.below(6) {
            apply_random_txn(h, rng);
            applied += 1;
        }
        preserved += h.tree.snapshot_preserved_count();
        let max_nodes = 1 + rng.below(6) as usize;
        if h.tree.snapshot_step(max_nodes, &mut stream) {
            break;
        }
    }
    assert!(!h.tree.is_snapshot_active(), "seed {seed}: walk over");
    assert_same_image(&stream.bytes, &expected, &expected_bytes.bytes, seed);
    (applied, preserved)
}

#[test]
fn streamed_snapshot_is_the_tree_at_begin_under_random_txns() {
    let (mut total_applied, mut total_preserved) = (0, 0);
    for seed in 0..200u64 {
        let mut rng = SplitMix64(seed);
        let mut h = Harness::extended();
        for &session in &SESSIONS[1..] {
            h.session_op(
                session,
                TxnOp::CreateSession {
                    timeout_ms: 5_000,
                    password: [1; crate::session::PASSWORD_BYTES],
                },
            );
        }
        for round in 0..4 {
            for _ in 0..rng.below(100) {
                apply_random_txn(&mut h, &mut rng);
            }
            let (applied, preserved) = walk_under_load(&mut h, &mut rng, seed * 10 + round);
            total_applied += applied;
            total_preserved += preserved;
        }
    }
    assert!(
        total_applied > 5_000,
        "{total_applied} txns ran during walks"
    );
    // Nodes created during a walk need no pre-image (skipped by czxid); the rest still do.
    assert!(total_preserved > 500, "{total_preserved} pre-images seen");
}

#[test]
fn a_multi_that_fails_during_a_walk_leaves_the_image_intact() {
    let mut h = Harness::new();
    for p in ["/a", "/b", "/c", "/c/x"] {
        h.create_ok(p);
    }
    let expected = h.tree.clone();
    let mut expected_bytes = Writer::new();
    expected.encode_snapshot(&mut expected_bytes);
    let mut stream = Writer::new();
    h.tree.begin_snapshot().encode(&mut stream);
    // "/" and "/a" are emitted; "/b", "/c" and below are not.
    assert!(!h.tree.snapshot_step(2, &mut stream));
    let digest = h.tree.digest();
    let ops = vec![
        Request::SetData(SetDataRequest {
            path: "/b".into(),
            data: Some(b"changed".to_vec()),
            version: -1,
        }),
        Request::Create(create_req("/c/y", b"new", 0)),
        Request::Delete(DeleteRequest {
            path: "/c/x".into(),
            version: -1,
        }),
        Request::Create(create_req("/a/new", b"", 0)),
        Request::Delete(DeleteRequest {
            path: "/missing".into(),
            version: -1,
        }),
    ];
    let Ok(wire::Response::Multi(results)) = h.apply(Request::Multi(ops)) else {
        panic!("a failed multi still answers Multi")
    };
    assert!(
        matches!(results[4], wire::OpResult::Error(wire::ErrorCode::NoNode)),
        "{results:?}"
    );
    assert_eq!(h.tree.digest(), digest, "rolled back");
    assert!(
        h.tree.snapshot_preserved_count() >= 3,
        "pre-images of /b, /c, /c/x, /c/y saved on first touch"
    );
    // A successful change after the rollback must not replace the saved images.
    h.apply(Request::SetData(SetDataRequest {
        path: "/c/x".into(),
        data: Some(b"later".to_vec()),
        version: -1,
    }))
    .unwrap();
    while !h.tree.snapshot_step(1, &mut stream) {}
    assert_same_image(&stream.bytes, &expected, &expected_bytes.bytes, 0);
}

#[test]
fn nodes_created_and_deleted_before_the_first_step_are_handled() {
    let mut h = Harness::new();
    h.create_ok("/gone");
    let expected = h.tree.clone();
    let mut expected_bytes = Writer::new();
    expected.encode_snapshot(&mut expected_bytes);
    let mut stream = Writer::new();
    let header = h.tree.begin_snapshot();
    assert_eq!(header.node_count, expected.len());
    header.encode(&mut stream);
    h.create_ok("/new");
    h.apply(Request::Delete(DeleteRequest {
        path: "/gone".into(),
        version: -1,
    }))
    .unwrap();
    h.apply(Request::SetData(SetDataRequest {
        path: "/".into(),
        data: Some(b"root".to_vec()),
        version: -1,
    }))
    .unwrap();
    assert!(
        h.tree.snapshot_step(1_000, &mut stream),
        "one step covers it all"
    );
    assert_same_image(&stream.bytes, &expected, &expected_bytes.bytes, 0);
}

#[test]
fn an_aborted_walk_saves_nothing_more_and_a_new_one_can_begin() {
    let mut h = Harness::new();
    h.create_ok("/a");
    let mut stream = Writer::new();
    h.tree.begin_snapshot().encode(&mut stream);
    h.create_ok("/b");
    assert_eq!(
        h.tree.snapshot_preserved_count(),
        1,
        "/ (its child set changed); /b is new, skipped by its czxid"
    );
    h.tree.abort_snapshot();
    assert!(!h.tree.is_snapshot_active());
    h.create_ok("/c");
    assert_eq!(h.tree.snapshot_preserved_count(), 0);
    let mut rng = SplitMix64(7);
    walk_under_load(&mut h, &mut rng, 7);
    assert_eq!(h.tree.config(), &TreeConfig::default());
}

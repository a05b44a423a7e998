//! create/create2/createContainer/createTTL and sessions: Stat effects, sequential names,
//! ephemerals, TTL/container markers, error precedence (`pRequest2TxnCreate`).

use wire::{perms, Acl, ErrorCode, Id, Request, Response, Stat};

use super::support::*;
use crate::txn::{Change, ChangeKind, TxnOp};
use crate::znode::{ttl_owner, CONTAINER_EPHEMERAL_OWNER};

fn stat0() -> Stat {
    Stat::default()
}

#[test]
fn fresh_tree_matches_zookeeper_3_8() {
    // Observed on a fresh 3.8 standalone server via kazoo.
    let h = Harness::new();
    assert_eq!(
        h.stat("/"),
        Stat {
            cversion: -1,
            num_children: 1,
            ..stat0()
        }
    );
    assert_eq!(
        h.stat("/zookeeper"),
        Stat {
            cversion: -2,
            num_children: 2,
            ..stat0()
        }
    );
    assert_eq!(h.stat("/zookeeper/quota"), stat0());
    assert_eq!(
        h.stat("/zookeeper/config"),
        Stat {
            aversion: -1,
            ..stat0()
        }
    );
    assert_eq!(h.tree.node("/").unwrap().acl, Acl::open_unsafe());
    assert_eq!(
        h.tree.node("/zookeeper/config").unwrap().acl,
        Acl::read_unsafe()
    );
    assert_eq!(
        h.tree.node_count(),
        5,
        "ZooKeeper counts the root's \"\" alias"
    );
    assert_eq!(h.tree.approximate_data_size(), 1 + 10 + 16 + 17);
}

#[test]
fn create_sets_stat_and_bumps_parent_cversion_and_pzxid() {
    let mut h = Harness::new();
    h.create_ok("/a");
    let zxid = h.zxid + 1;
    let time = h.time_ms + 10;
    let resp = h.apply(Request::Create2(create_req("/a/b", b"hello", 0)));
    let expected = Stat {
        czxid: zxid,
        mzxid: zxid,
        ctime: time,
        mtime: time,
        data_length: 5,
        pzxid: zxid,
        ..stat0()
    };
    assert_eq!(
        resp,
        Ok(Response::Create2 {
            path: "/a/b".to_string(),
            stat: expected
        })
    );
    let parent = h.stat("/a");
    assert_eq!(parent.cversion, 1);
    assert_eq!(parent.num_children, 1);
    assert_eq!(parent.pzxid, zxid);
    assert_eq!(
        parent.mzxid,
        zxid - 1,
        "a child create leaves the parent's mzxid"
    );
}

#[test]
fn create_reports_node_created_then_parent_children_changed() {
    let mut h = Harness::new();
    let out = h.apply_as(SESSION, &[], Request::Create(create_req("/a", b"", 0)));
    assert_eq!(
        out.result,
        Ok(Response::Create {
            path: "/a".to_string()
        })
    );
    assert_eq!(
        out.changes,
        vec![
            Change {
                path: "/a".to_string(),
                kind: ChangeKind::NodeCreated,
                acl: wire::Acl::open_unsafe().into(),
            },
            Change {
                path: "/".to_string(),
                kind: ChangeKind::NodeChildrenChanged,
                acl: wire::Acl::open_unsafe().into(),
            },
        ]
    );
}

#[test]
fn sequential_suffix_is_the_parents_creation_count() {
    // Checked on 3.8: after create s-0000000000 and its delete, the next is s-0000000001,
    // and the parent reports cversion 2 (one create + one delete).
    let mut h = Harness::new();
    h.create_ok("/p");
    assert_eq!(
        h.create("/p/s-", 2),
        Ok(Response::Create {
            path: "/p/s-0000000000".into()
        })
    );
    h.apply(Request::Delete(wire::DeleteRequest {
        path: "/p/s-0000000000".into(),
        version: -1,
    }))
    .unwrap();
    assert_eq!(h.stat("/p").cversion, 2);
    assert_eq!(
        h.create("/p/s-", 2),
        Ok(Response::Create {
            path: "/p/s-0000000001".into()
        })
    );
    h.create_ok("/p/x");
    assert_eq!(
        h.create("/p/", 2),
        Ok(Response::Create {
            path: "/p/0000000003".into()
        })
    );
}

#[test]
fn sequential_suffix_at_cversion_overflow() {
    let mut h = Harness::new();
    h.create_ok("/p");
    let mut meta = h.tree.node("/p").unwrap().meta;
    meta.cversion = i32::MAX;
    h.tree.force_meta("/p", meta);
    let pzxid = h.stat("/p").pzxid;
    assert_eq!(
        h.create("/p/s", 2),
        Ok(Response::Create {
            path: "/p/s2147483647".into()
        })
    );
    // The wrapped cversion is not "greater", so neither cversion nor pzxid move, and the
    // next sequential create collides, as in ZooKeeper.
    assert_eq!(h.tree.node("/p").unwrap().meta.cversion, i32::MAX);
    assert_eq!(h.stat("/p").pzxid, pzxid);
    assert_eq!(h.create("/p/s", 2), Err(ErrorCode::NodeExists));
    meta.cversion = -5;
    h.tree.force_meta("/p", meta);
    assert_eq!(
        h.create("/p/n", 2),
        Ok(Response::Create {
            path: "/p/n-000000005".into()
        })
    );
}

#[test]
fn ephemeral_nodes_belong_to_the_session_and_take_no_children() {
    let mut h = Harness::new();
    h.create("/e", 1).unwrap();
    assert_eq!(h.stat("/e").ephemeral_owner, SESSION);
    assert_eq!(h.create("/e/c", 0), Err(ErrorCode::NoChildrenForEphemerals));
    assert_eq!(
        h.tree.ephemerals().get(&SESSION),
        Some(&vec!["/e".to_string()])
    );
}

#[test]
fn ephemeral_for_unknown_session_is_session_expired() {
    let mut h = Harness::new();
    let out = h.apply_as(0x999, &[], Request::Create(create_req("/e", b"", 1)));
    assert_eq!(out.result, Err(ErrorCode::SessionExpired));
    let out = h.apply_as(0x999, &[], Request::Create(create_req("/p", b"", 0)));
    assert_eq!(
        out.result,
        Err(ErrorCode::SessionExpired),
        "every client write checks"
    );
    let out = h.apply_as(0, &[], Request::Create(create_req("/p", b"", 0)));
    assert!(
        out.result.is_ok(),
        "session 0 (server-made txns) is not checked"
    );
}

#[test]
fn close_session_deletes_ephemerals_in_path_order() {
    let mut h = Harness::new();
    h.create_ok("/p");
    for p in ["/p/b", "/a", "/p/a"] {
        h.create(p, 1).unwrap();
    }
    let zxid = h.zxid + 1;
    let out = h.session_op(SESSION, TxnOp::CloseSession);
    assert_eq!(out.result, Ok(Response::Empty));
    let kinds: Vec<(String, ChangeKind)> = out
        .changes
        .iter()
        .map(|c| (c.path.clone(), c.kind))
        .collect();
    let expect = |p: &str, k| (p.to_string(), k);
    assert_eq!(
        kinds,
        vec![
            expect("/a", ChangeKind::NodeDeleted),
            expect("/", ChangeKind::NodeChildrenChanged),
            expect("/p/a", ChangeKind::NodeDeleted),
            expect("/p", ChangeKind::NodeChildrenChanged),
            expect("/p/b", ChangeKind::NodeDeleted),
            expect("/p", ChangeKind::NodeChildrenChanged),
        ]
    );
    assert!(h.tree.node("/a").is_none());
    assert_eq!(h.stat("/p").pzxid, zxid);
    assert_eq!(h.stat("/p").cversion, 4, "two creates and two deletes");
    assert!(!h.tree.sessions().contains(SESSION));
    assert!(h.tree.ephemerals().is_empty());
}

#[test]
fn container_and_ttl_owner_markers() {
    let mut h = Harness::extended();
    let c = h
        .apply(Request::CreateContainer(create_req("/c", b"", 4)))
        .unwrap();
    let Response::Create2 { stat, .. } = c else {
        panic!("{c:?}")
    };
    assert_eq!(stat.ephemeral_owner, 0, "3.8 shows containers with owner 0");
    assert_eq!(
        h.tree.node("/c").unwrap().meta.ephemeral_owner,
        CONTAINER_EPHEMERAL_OWNER
    );
    let ttl = wire::CreateRequest {
        ttl: 1000,
        ..create_req("/t", b"", 5)
    };
    let t = h.apply(Request::CreateTtl(ttl)).unwrap();
    let Response::Create2 { stat, .. } = t else {
        panic!("{t:?}")
    };
    assert_eq!(stat.ephemeral_owner, 0, "3.8 shows TTL nodes with owner 0");
    assert_eq!(
        h.tree.node("/t").unwrap().meta.ephemeral_owner,
        ttl_owner(1000).unwrap()
    );
    // The create/create2 opcodes apply a container flag as a persistent node (CreateTxn),
    // as a 3.8 server does.
    h.apply(Request::Create2(create_req("/plain", b"", 4)))
        .unwrap();
    assert_eq!(h.tree.node("/plain").unwrap().meta.ephemeral_owner, 0);
    assert!(h.tree.containers().contains("/c"));
    assert!(!h.tree.containers().contains("/plain"));
}

#[test]
fn ttl_needs_extended_types_and_a_ttl_in_range() {
    let mut h = Harness::new();
    let ttl = |t: i64, flags: i32| wire::CreateRequest {
        ttl: t,
        ..create_req("/t", b"", flags)
    };
    assert_eq!(
        h.apply(Request::CreateTtl(ttl(1000, 5))),
        Err(ErrorCode::Unimplemented)
    );
    let mut h = Harness::extended();
    assert_eq!(
        h.apply(Request::CreateTtl(ttl(0, 5))),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.apply(Request::CreateTtl(ttl(1 << 40, 6))),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.apply(Request::CreateTtl(ttl(5, 0))),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.create("/t", 5),
        Err(ErrorCode::BadArguments),
        "create opcode has ttl -1"
    );
    assert!(h.apply(Request::CreateTtl(ttl((1 << 40) - 1, 6))).is_ok());
}

#[test]
fn create_error_precedence_follows_prep_request_processor() {
    let mut h = Harness::new();
    let mut bad_acl = create_req("/missing/x", b"", 0);
    bad_acl.acl = vec![];
    assert_eq!(
        h.apply(Request::Create(bad_acl)),
        Err(ErrorCode::InvalidAcl),
        "before NoNode"
    );
    assert_eq!(
        h.create("/missing/x/", 0),
        Err(ErrorCode::NoNode),
        "parent before path check"
    );
    h.create_ok("/a");
    assert_eq!(h.create("/a/", 0), Err(ErrorCode::BadArguments));
    assert_eq!(h.create("noslash", 0), Err(ErrorCode::BadArguments));
    assert_eq!(h.create("/a\0b", 0), Err(ErrorCode::BadArguments));
    assert_eq!(
        h.create("/a", 7),
        Err(ErrorCode::BadArguments),
        "unknown flags"
    );
    assert_eq!(h.create("/a", 0), Err(ErrorCode::NodeExists));
    assert_eq!(h.create("/", 0), Err(ErrorCode::NodeExists));
    assert_eq!(
        h.create("/a/../b", 0),
        Err(ErrorCode::NoNode),
        "parent \"/a/..\" is looked up"
    );
    assert_eq!(h.create("/a/..", 0), Err(ErrorCode::BadArguments));
    // A parent that forbids CREATE: NoAuth even when the node already exists.
    let mut locked = create_req("/locked", b"", 0);
    locked.acl = vec![Acl {
        perms: perms::ALL & !perms::CREATE,
        id: Id::new("world", "anyone"),
    }];
    h.apply(Request::Create(locked)).unwrap();
    assert_eq!(h.create("/locked/x", 0), Err(ErrorCode::NoAuth));
    let out = h.apply_as(
        SESSION,
        &[Id::new("super", "")],
        Request::Create(create_req("/locked/x", b"", 0)),
    );
    assert!(out.result.is_ok(), "super bypasses ACLs");
    assert_eq!(
        h.create("/locked/x", 0),
        Err(ErrorCode::NoAuth),
        "NoAuth before NodeExists"
    );
}

#[test]
fn auth_acl_expands_to_the_callers_digest_ids() {
    let mut h = Harness::new();
    let mut req = create_req("/a", b"", 0);
    req.acl = vec![Acl {
        perms: perms::ALL,
        id: Id::new("auth", ""),
    }];
    let ip = Id::new("ip", "127.0.0.1");
    let out = h.apply_as(
        SESSION,
        std::slice::from_ref(&ip),
        Request::Create(req.clone()),
    );
    assert_eq!(
        out.result,
        Err(ErrorCode::InvalidAcl),
        "ip ids are not 'authenticated'"
    );
    let user = digest_id("u:p");
    let out = h.apply_as(SESSION, &[ip, user.clone()], Request::Create(req));
    assert!(out.result.is_ok());
    assert_eq!(
        h.tree.node("/a").unwrap().acl,
        vec![Acl {
            perms: perms::ALL,
            id: user
        }]
    );
}

#[test]
fn failed_txn_consumes_its_zxid_and_changes_nothing() {
    let mut h = Harness::new();
    let digest = h.tree.digest();
    assert_eq!(h.create("/x/y", 0), Err(ErrorCode::NoNode));
    assert_eq!(h.tree.last_zxid(), h.zxid);
    assert_eq!(h.tree.digest(), digest);
}

#[test]
fn refusals_after_the_parent_is_found_rank_and_change_nothing() {
    let mut h = Harness::extended();
    h.create_ok("/p");
    h.create_ok("/p/x");
    h.apply(Request::Create(create_req("/e", b"", 1))).unwrap();
    let (parent, ephemeral, digest) = (h.stat("/p"), h.stat("/e"), h.tree.digest());
    // A createTTL whose flags are no TTL mode, with ttl -1, passes validation and fails
    // only on its owner: after NodeExists.
    let no_owner = |p: &str| wire::CreateRequest {
        ttl: -1,
        ..create_req(p, b"", 0)
    };
    assert_eq!(
        h.apply(Request::CreateTtl(no_owner("/p/x"))),
        Err(ErrorCode::NodeExists)
    );
    assert_eq!(
        h.apply(Request::CreateTtl(no_owner("/p/y"))),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(h.create("/p/x", 0), Err(ErrorCode::NodeExists));
    assert_eq!(h.create("/e/x", 0), Err(ErrorCode::NoChildrenForEphemerals));
    assert_eq!(h.create("/e/x", 2), Err(ErrorCode::NoChildrenForEphemerals));
    assert_eq!(h.stat("/p"), parent, "the parent's cversion and pzxid stay");
    assert_eq!(h.stat("/e"), ephemeral);
    assert_eq!(h.tree.node("/p").unwrap().children.len(), 1);
    assert!(h.tree.node("/p/y").is_none());
    assert!(h.tree.node("/e").unwrap().children.is_empty());
    assert_eq!(h.tree.digest(), digest);
    assert_eq!(h.tree.recompute_digest(), digest);
}

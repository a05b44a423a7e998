//! delete, deleteContainer, setData, setACL, check: Stat effects, error precedence, ACLs.

use wire::{perms, Acl, CheckVersionRequest, DeleteRequest, ErrorCode, Id, PathRequest, Request};
use wire::{Response, SetAclRequest, SetDataRequest};

use super::support::*;
use crate::txn::{Change, ChangeKind};

fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.to_string(),
        version,
    })
}

fn set_data(path: &str, data: &[u8], version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.to_string(),
        data: Some(data.to_vec()),
        version,
    })
}

fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.to_string(),
        acl,
        version,
    })
}

#[test]
fn delete_updates_parent_pzxid_and_reported_cversion() {
    // 3.8: the parent's persisted cversion does not change on delete, but the reported one
    // (cversion*2 - numChildren) goes up by one; pzxid becomes the delete's zxid.
    let mut h = Harness::new();
    h.create_ok("/a");
    h.create_ok("/a/b");
    let before = h.stat("/a");
    let out = h.apply_as(SESSION, &[], delete("/a/b", -1));
    assert_eq!(out.result, Ok(Response::Empty));
    assert_eq!(
        out.changes,
        vec![
            Change {
                path: "/a/b".into(),
                kind: ChangeKind::NodeDeleted,
                acl: wire::Acl::open_unsafe().into(),
            },
            Change {
                path: "/a".into(),
                kind: ChangeKind::NodeChildrenChanged,
                acl: wire::Acl::open_unsafe().into(),
            },
        ]
    );
    let after = h.stat("/a");
    assert_eq!(after.cversion, before.cversion + 1);
    assert_eq!(after.num_children, 0);
    assert_eq!(after.pzxid, h.zxid);
    assert_eq!(after.mzxid, before.mzxid);
}

#[test]
fn delete_checks_version_then_children() {
    let mut h = Harness::new();
    h.create_ok("/a");
    h.create_ok("/a/b");
    assert_eq!(
        h.apply(delete("/a", 5)),
        Err(ErrorCode::BadVersion),
        "version before NotEmpty"
    );
    assert_eq!(h.apply(delete("/a", 0)), Err(ErrorCode::NotEmpty));
    assert_eq!(h.apply(delete("/a/b", 0)), Ok(Response::Empty));
    assert_eq!(h.apply(delete("/a/b", -1)), Err(ErrorCode::NoNode));
}

#[test]
fn delete_error_precedence() {
    let mut h = Harness::new();
    for special in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(
            h.apply(delete(special, -1)),
            Err(ErrorCode::BadArguments),
            "{special}"
        );
    }
    assert_eq!(h.apply(delete("nope", -1)), Err(ErrorCode::BadArguments));
    assert_eq!(
        h.apply(delete("/x/y", -1)),
        Err(ErrorCode::NoNode),
        "missing parent"
    );
    let mut locked = create_req("/l", b"", 0);
    locked.acl = vec![Acl {
        perms: perms::ALL & !perms::DELETE,
        id: Id::new("world", "anyone"),
    }];
    h.apply(Request::Create(locked)).unwrap();
    assert_eq!(
        h.apply(delete("/l/missing", -1)),
        Err(ErrorCode::NoAuth),
        "ACL before node lookup"
    );
    assert_eq!(h.apply(delete("/l/", -1)), Err(ErrorCode::NoAuth));
    h.create_ok("/o");
    assert_eq!(h.apply(delete("/o/", -1)), Err(ErrorCode::NoNode));
}

#[test]
fn set_data_bumps_version_and_mzxid() {
    let mut h = Harness::new();
    h.create_ok("/a");
    let before = h.stat("/a");
    let out = h.apply_as(SESSION, &[], set_data("/a", b"abc", 0));
    let Ok(Response::Stat(stat)) = out.result else {
        panic!("{out:?}")
    };
    assert_eq!(stat.version, 1);
    assert_eq!(stat.mzxid, h.zxid);
    assert_eq!(stat.mtime, h.time_ms);
    assert_eq!(stat.data_length, 3);
    assert_eq!(stat.czxid, before.czxid);
    assert_eq!(stat.pzxid, before.pzxid, "setData leaves pzxid");
    assert_eq!(
        out.changes,
        vec![Change {
            path: "/a".into(),
            kind: ChangeKind::NodeDataChanged,
            acl: wire::Acl::open_unsafe().into(),
        }]
    );
    assert_eq!(h.apply(set_data("/a", b"x", 0)), Err(ErrorCode::BadVersion));
    assert_eq!(h.apply(set_data("/nope", b"x", -1)), Err(ErrorCode::NoNode));
    assert_eq!(
        h.apply(set_data("/a/", b"x", -1)),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.apply(set_data("/zookeeper/config", b"x", -1)),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(h.tree.node("/a").unwrap().data(), b"abc");
}

#[test]
fn set_data_checks_acl_before_version() {
    let mut h = Harness::new();
    let mut req = create_req("/ro", b"", 0);
    req.acl = Acl::read_unsafe();
    h.apply(Request::Create(req)).unwrap();
    assert_eq!(h.apply(set_data("/ro", b"x", 9)), Err(ErrorCode::NoAuth));
}

#[test]
fn set_acl_bumps_aversion_and_needs_admin() {
    let mut h = Harness::new();
    h.create_ok("/a");
    let out = h.apply_as(SESSION, &[], set_acl("/a", Acl::read_unsafe(), 0));
    let Ok(Response::Stat(stat)) = out.result else {
        panic!("{out:?}")
    };
    assert_eq!(stat.aversion, 1);
    assert_eq!(stat.version, 0);
    assert!(out.changes.is_empty(), "setACL fires no watch");
    assert_eq!(
        h.apply(set_acl("/a", Acl::open_unsafe(), -1)),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        h.apply(set_acl("/nope", vec![], -1)),
        Err(ErrorCode::InvalidAcl),
        "before NoNode"
    );
    assert_eq!(
        h.apply(set_acl("/nope", Acl::open_unsafe(), -1)),
        Err(ErrorCode::NoNode)
    );
    h.create_ok("/b");
    assert_eq!(
        h.apply(set_acl("/b", Acl::open_unsafe(), 3)),
        Err(ErrorCode::BadVersion)
    );
}

#[test]
fn delete_container_rules() {
    let mut h = Harness::new();
    let dc = |p: &str| {
        Request::DeleteContainer(PathRequest {
            path: p.to_string(),
        })
    };
    let sweep = |h: &mut Harness, p: &str| h.apply_as(0, &[], dc(p)).result;
    h.apply(Request::CreateContainer(create_req("/c", b"", 4)))
        .unwrap();
    h.create_ok("/c/x");
    assert_eq!(sweep(&mut h, "/c"), Err(ErrorCode::NotEmpty));
    assert_eq!(sweep(&mut h, "/missing"), Err(ErrorCode::NoNode));
    assert_eq!(sweep(&mut h, "/zookeeper"), Err(ErrorCode::BadArguments));
    h.create("/e", 1).unwrap();
    assert_eq!(
        sweep(&mut h, "/e"),
        Err(ErrorCode::BadVersion),
        "session ephemerals refuse"
    );
    h.apply(delete("/c/x", -1)).unwrap();
    assert_eq!(h.tree.expired_candidates(h.time_ms), vec!["/c".to_string()]);
    // 3.8 answers a client's deleteContainer with BadArguments whatever the node.
    assert_eq!(h.apply(dc("/c")), Err(ErrorCode::BadArguments));
    assert_eq!(sweep(&mut h, "/c"), Ok(Response::Empty));
    assert!(h.tree.expired_candidates(h.time_ms).is_empty());
    h.create_ok("/plain");
    assert_eq!(
        sweep(&mut h, "/plain"),
        Ok(Response::Empty),
        "only session ephemerals refuse"
    );
}

#[test]
fn expired_candidates_lists_empty_used_containers_and_stale_ttls() {
    let mut h = Harness::extended();
    h.apply(Request::CreateContainer(create_req("/never-used", b"", 4)))
        .unwrap();
    let ttl = wire::CreateRequest {
        ttl: 100,
        ..create_req("/t", b"", 5)
    };
    h.apply(Request::CreateTtl(ttl)).unwrap();
    let mtime = h.stat("/t").mtime;
    assert!(
        h.tree.expired_candidates(mtime + 100).is_empty(),
        "not past ttl yet"
    );
    assert_eq!(
        h.tree.expired_candidates(mtime + 101),
        vec!["/t".to_string()]
    );
    h.create_ok("/t/child");
    assert!(
        h.tree.expired_candidates(mtime + 1000).is_empty(),
        "a TTL node with children stays"
    );
}

#[test]
fn never_used_containers_are_swept_only_when_configured() {
    let mut h = Harness::new();
    h.apply(Request::CreateContainer(create_req("/c", b"", 4)))
        .unwrap();
    let mtime = h.stat("/c").mtime;
    assert!(h.tree.expired_candidates_with(mtime + 500, 500).is_empty());
    assert_eq!(
        h.tree.expired_candidates_with(mtime + 501, 500),
        vec!["/c".to_string()]
    );
    assert!(
        h.tree.expired_candidates(i64::MAX).is_empty(),
        "default keeps unused containers"
    );
}

#[test]
fn reconfig_is_disabled() {
    let mut h = Harness::new();
    let req = wire::ReconfigRequest {
        joining_servers: None,
        leaving_servers: Some("2".to_string()),
        new_members: None,
        cur_config_id: -1,
    };
    assert_eq!(
        h.apply(Request::Reconfig(req)),
        Err(ErrorCode::ReconfigDisabled)
    );
}

#[test]
fn check_validates_version_and_read_permission() {
    let mut h = Harness::new();
    h.create_ok("/a");
    let check = |p: &str, v| {
        Request::Check(CheckVersionRequest {
            path: p.to_string(),
            version: v,
        })
    };
    assert_eq!(h.apply(check("/a", 0)), Ok(Response::Empty));
    assert_eq!(h.apply(check("/a", 1)), Err(ErrorCode::BadVersion));
    assert_eq!(h.apply(check("/b", 0)), Err(ErrorCode::NoNode));
}

#[test]
fn ip_and_digest_acls_gate_writes() {
    let mut h = Harness::new();
    let mut req = create_req("/ip", b"", 0);
    req.acl = vec![
        Acl {
            perms: perms::ALL,
            id: Id::new("ip", "10.0.0.0/8"),
        },
        Acl {
            perms: perms::READ,
            id: Id::new("digest", &crate::acl::generate_digest("u:p")),
        },
    ];
    h.apply(Request::Create(req)).unwrap();
    let inside = [Id::new("ip", "10.2.3.4")];
    let outside = [Id::new("ip", "192.168.0.1"), digest_id("u:p")];
    let write = || set_data("/ip", b"x", -1);
    assert!(h.apply_as(SESSION, &inside, write()).result.is_ok());
    assert_eq!(
        h.apply_as(SESSION, &outside, write()).result,
        Err(ErrorCode::NoAuth)
    );
    let read = Request::GetData(wire::PathWatchRequest {
        path: "/ip".into(),
        watch: false,
    });
    assert!(
        h.tree.read(&read, &outside, SESSION).is_ok(),
        "digest u:p may READ"
    );
    assert_eq!(h.tree.read(&read, &[], SESSION), Err(ErrorCode::NoAuth));
}

#[test]
fn super_digest_identity_bypasses_every_check() {
    let sup = crate::acl::generate_digest("super:secret");
    let ids = crate::acl::auth_ids_for("digest", b"super:secret", Some(&sup), "1.2.3.4").unwrap();
    let mut h = Harness::new();
    let out = h.apply_as(SESSION, &ids, set_data("/zookeeper/config", b"x", -1));
    assert!(out.result.is_ok(), "{out:?}");
    let mut req = create_req("/nobody", b"", 0);
    req.acl = vec![Acl {
        perms: perms::READ,
        id: Id::new("digest", "x:y"),
    }];
    h.apply(Request::Create(req)).unwrap();
    assert!(h
        .apply_as(SESSION, &ids, delete("/nobody", -1))
        .result
        .is_ok());
}

#[test]
fn closing_an_unknown_session_succeeds_and_changes_nothing() {
    let mut h = Harness::new();
    let digest = h.tree.digest();
    let out = h.session_op(0x4242, crate::txn::TxnOp::CloseSession);
    assert_eq!(out.result, Ok(Response::Empty));
    assert!(out.changes.is_empty());
    assert_eq!(h.tree.digest(), digest);
}

/// ZOOKEEPER-4799: each change carries the ACL that gates its delivery — the node's own for
/// created/changed/deleted, the parent's for children-changed.
#[test]
fn changes_carry_the_acl_that_gates_their_watchers() {
    let mut h = Harness::new();
    let read_only = Acl::read_unsafe();
    let mut req = create_req("/a", b"", 0);
    req.acl = read_only.clone();
    h.apply(Request::Create(req)).unwrap();
    let outcome = h.apply_as(SESSION, &[], Request::Create(create_req("/b", b"", 0)));
    assert_eq!(
        outcome.changes[0].acl,
        Acl::open_unsafe(),
        "created node's own ACL"
    );
    assert_eq!(
        outcome.changes[1].acl,
        Acl::open_unsafe(),
        "root's ACL for the parent event"
    );
    let super_id = [Id::new("super", "")];
    let outcome = h.apply_as(
        SESSION,
        &super_id,
        Request::Delete(wire::DeleteRequest {
            path: "/a".to_string(),
            version: -1,
        }),
    );
    assert_eq!(outcome.changes[0].kind, ChangeKind::NodeDeleted);
    assert_eq!(
        outcome.changes[0].acl, read_only,
        "deleted node's ACL, read before removal"
    );
}

/// The member list lands in /zookeeper/config as ZooKeeper 3.8 stores it: the lines, then
/// `version=<zxid hex>` with no newline, data version -1, mzxid the txn's, and a
/// NodeDataChanged for its watchers; the ACL stays world:anyone READ.
#[test]
fn set_config_writes_the_member_list_with_its_version() {
    let mut h = Harness::new();
    h.zxid = 0x1_0000_0005;
    let members = "server.1=127.0.0.1:2888:3888:participant\n\
                   server.2=127.0.0.1:2889:3889:participant\n";
    let out = h.session_op(
        0,
        crate::txn::TxnOp::SetConfig {
            members: members.to_string(),
        },
    );
    let text = format!("{members}version=100000006");
    let Ok(Response::GetData { data, stat }) = out.result else {
        panic!("{:?}", out.result);
    };
    assert_eq!(data.as_deref(), Some(text.as_bytes()));
    assert_eq!((stat.version, stat.mzxid), (-1, 0x1_0000_0006));
    assert_eq!(stat.data_length as usize, text.len());
    let node = h.tree.node(crate::CONFIG_NODE).unwrap();
    assert_eq!(node.data(), text.as_bytes());
    assert_eq!(node.acl, Acl::read_unsafe());
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].kind, ChangeKind::NodeDataChanged);
    assert_eq!(h.tree.digest(), h.tree.recompute_digest());
}

//! Reads: replies, per-op permissions, getEphemerals, multiRead.

use wire::{perms, Acl, ErrorCode, Id, OpResult, PathRequest, PathWatchRequest, Request, Response};

use super::support::*;

fn pw(path: &str) -> PathWatchRequest {
    PathWatchRequest {
        path: path.to_string(),
        watch: false,
    }
}

fn pr(path: &str) -> PathRequest {
    PathRequest {
        path: path.to_string(),
    }
}

#[test]
fn reads_return_data_stat_and_sorted_children() {
    let mut h = Harness::new();
    h.apply(Request::Create(create_req("/a", b"v", 0))).unwrap();
    for c in ["/a/z", "/a/b", "/a/m"] {
        h.create_ok(c);
    }
    let t = &h.tree;
    let stat = h.stat("/a");
    assert_eq!(
        t.read(&Request::Exists(pw("/a")), &[], SESSION),
        Ok(Response::Stat(stat))
    );
    assert_eq!(
        t.read(&Request::Exists(pw("/q")), &[], SESSION),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(
        t.read(&Request::Exists(pw("/a\0")), &[], SESSION),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        t.read(&Request::GetData(pw("/a")), &[], SESSION),
        Ok(Response::GetData {
            data: Some(b"v".to_vec()),
            stat
        })
    );
    let children: Vec<String> = ["b", "m", "z"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        t.read(&Request::GetChildren(pw("/a")), &[], SESSION),
        Ok(Response::GetChildren {
            children: children.clone()
        })
    );
    assert_eq!(
        t.read(&Request::GetChildren2(pw("/a")), &[], SESSION),
        Ok(Response::GetChildren2 { children, stat })
    );
    assert_eq!(
        t.read(&Request::GetData(pw("/a/")), &[], SESSION),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(
        t.read(&Request::GetAllChildrenNumber(pr("/a")), &[], SESSION),
        Ok(Response::AllChildrenNumber(3))
    );
    assert_eq!(
        t.read(&Request::GetAllChildrenNumber(pr("/")), &[], SESSION),
        Ok(Response::AllChildrenNumber(7)),
        "/zookeeper, quota, config, /a and its three children"
    );
}

#[test]
fn read_permissions_per_op() {
    let mut h = Harness::new();
    let user = digest_id("u:p");
    let mut req = create_req("/s", b"secret", 0);
    req.acl = vec![
        Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        },
        Acl {
            perms: perms::ALL,
            id: user.clone(),
        },
    ];
    h.apply(Request::Create(req)).unwrap();
    let mut req = create_req("/none", b"", 0);
    req.acl = vec![Acl {
        perms: perms::ADMIN,
        id: user.clone(),
    }];
    h.apply(Request::Create(req)).unwrap();
    let t = &h.tree;
    assert!(t.read(&Request::GetData(pw("/s")), &[], SESSION).is_ok());
    assert_eq!(
        t.read(&Request::GetData(pw("/none")), &[], SESSION),
        Err(ErrorCode::NoAuth)
    );
    assert!(
        t.read(&Request::Exists(pw("/none")), &[], SESSION).is_ok(),
        "exists needs nothing"
    );
    assert_eq!(
        t.read(&Request::GetChildren(pw("/none")), &[], SESSION),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        t.read(&Request::GetAcl(pr("/none")), &[], SESSION),
        Err(ErrorCode::NoAuth)
    );
    // ADMIN alone is enough for getACL.
    let Ok(Response::GetAcl { acl, .. }) = t.read(
        &Request::GetAcl(pr("/none")),
        std::slice::from_ref(&user),
        SESSION,
    ) else {
        panic!("getACL with ADMIN")
    };
    assert_eq!(acl[0].id, user);
    // READ without ADMIN: digest ids are redacted.
    let Ok(Response::GetAcl { acl, .. }) = t.read(&Request::GetAcl(pr("/s")), &[], SESSION) else {
        panic!("getACL with READ")
    };
    assert_eq!(acl[1].id, Id::new("digest", "u:x"));
}

#[test]
fn get_ephemerals_filters_by_prefix() {
    let mut h = Harness::new();
    h.create_ok("/app");
    for p in ["/app/e2", "/app/e1", "/other"] {
        h.create(p, 1).unwrap();
    }
    let get = |prefix: &str| {
        h.tree
            .read(&Request::GetEphemerals(pr(prefix)), &[], SESSION)
    };
    let all = vec![
        "/app/e1".to_string(),
        "/app/e2".to_string(),
        "/other".to_string(),
    ];
    assert_eq!(get("/"), Ok(Response::Ephemerals(all.clone())));
    assert_eq!(get(" "), Ok(Response::Ephemerals(all)));
    assert_eq!(
        get("/app"),
        Ok(Response::Ephemerals(vec![
            "/app/e1".into(),
            "/app/e2".into()
        ]))
    );
    assert_eq!(get("/ot"), Ok(Response::Ephemerals(vec!["/other".into()])));
    let other = h.tree.read(&Request::GetEphemerals(pr("/")), &[], 0x777);
    assert_eq!(other, Ok(Response::Ephemerals(vec![])));
}

#[test]
fn multi_read_reports_per_op_errors() {
    let mut h = Harness::new();
    h.apply(Request::Create(create_req("/a", b"x", 0))).unwrap();
    let req = Request::MultiRead(vec![
        Request::GetData(pw("/a")),
        Request::GetData(pw("/missing")),
        Request::GetChildren(pw("/a")),
    ]);
    let stat = h.stat("/a");
    assert_eq!(
        h.tree.read(&req, &[], SESSION),
        Ok(Response::MultiRead(vec![
            OpResult::GetData {
                data: Some(b"x".to_vec()),
                stat
            },
            OpResult::Error(ErrorCode::NoNode),
            OpResult::GetChildren { children: vec![] },
        ]))
    );
}

#[test]
fn the_empty_path_reads_the_root_as_zookeeper_does() {
    let h = Harness::new();
    assert_eq!(
        h.tree.read(&Request::Exists(pw("")), &[], SESSION),
        Ok(Response::Stat(h.stat("/")))
    );
}

/// Java clients create and set `null` data; ZooKeeper keeps the null and returns it as a
/// null buffer (length -1), which clients tell apart from empty data.
#[test]
fn null_data_reads_back_as_null_and_empty_as_empty() {
    let mut h = Harness::new();
    let mut req = create_req("/n", b"", 0);
    req.data = None;
    h.apply(Request::Create(req)).unwrap();
    let read = |h: &Harness| match h.tree.read(&Request::GetData(pw("/n")), &[], SESSION) {
        Ok(Response::GetData { data, stat }) => (data, stat.data_length),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(read(&h), (None, 0));
    let set = |data: Option<Vec<u8>>| {
        Request::SetData(wire::SetDataRequest {
            path: "/n".to_string(),
            data,
            version: -1,
        })
    };
    h.apply(set(Some(Vec::new()))).unwrap();
    assert_eq!(read(&h), (Some(Vec::new()), 0));
    let digest_with_empty = h.tree.digest();
    h.apply(set(None)).unwrap();
    assert_eq!(read(&h), (None, 0));
    assert_eq!(h.tree.digest(), h.tree.recompute_digest());
    // A snapshot keeps the distinction.
    let mut w = wire::Writer::new();
    h.tree.encode_snapshot(&mut w);
    let copy = tree_from_snapshot(&w.into_inner());
    assert_eq!(
        copy.read(&Request::GetData(pw("/n")), &[], SESSION)
            .map(|r| matches!(r, Response::GetData { data: None, .. })),
        Ok(true)
    );
    assert_ne!(digest_with_empty, 0);
}

fn tree_from_snapshot(bytes: &[u8]) -> crate::DataTree {
    crate::DataTree::decode_snapshot(bytes, crate::TreeConfig::default()).expect("snapshot decodes")
}

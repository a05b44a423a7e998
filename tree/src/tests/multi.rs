//! multi: per-op results, all-or-nothing rollback of tree and digest, reply shapes.

use wire::SetDataRequest;
use wire::{CheckVersionRequest, DeleteRequest, ErrorCode, OpResult, Request, Response};

use super::support::*;
use crate::txn::ChangeKind;

#[test]
fn successful_multi_returns_per_op_results_and_all_changes() {
    let mut h = Harness::new();
    h.create_ok("/a");
    let ops = vec![
        Request::Create(create_req("/a/x", b"", 2)),
        Request::Create2(create_req("/a/y", b"d", 0)),
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(b"z".to_vec()),
            version: 0,
        }),
        Request::Check(CheckVersionRequest {
            path: "/a".into(),
            version: 1,
        }),
        Request::Delete(DeleteRequest {
            path: "/a/x0000000000".into(),
            version: -1,
        }),
    ];
    let out = h.apply_as(SESSION, &[], Request::Multi(ops));
    let zxid = h.zxid;
    let Ok(Response::Multi(results)) = out.result else {
        panic!("{out:?}")
    };
    assert_eq!(
        results[0],
        OpResult::Create {
            path: "/a/x0000000000".into()
        }
    );
    let OpResult::Create2 { path, stat } = &results[1] else {
        panic!("{results:?}")
    };
    assert_eq!(path, "/a/y");
    assert_eq!(stat.czxid, zxid, "every op of a multi shares its zxid");
    assert!(matches!(results[2], OpResult::SetData { stat } if stat.version == 1));
    assert_eq!(results[3], OpResult::Check);
    assert_eq!(results[4], OpResult::Delete);
    let kinds: Vec<ChangeKind> = out.changes.iter().map(|c| c.kind).collect();
    use ChangeKind::*;
    assert_eq!(
        kinds,
        vec![
            NodeCreated,
            NodeChildrenChanged,
            NodeCreated,
            NodeChildrenChanged,
            NodeDataChanged,
            NodeDeleted,
            NodeChildrenChanged
        ]
    );
}

#[test]
fn failed_multi_rolls_back_tree_and_digest() {
    // Checked on 3.8 with kazoo: [RolledBackError, NoNodeError, RuntimeInconsistency] and a
    // reply header err of 0.
    let mut h = Harness::new();
    h.create_ok("/a");
    h.create_ok("/a/old");
    let digest = h.tree.digest();
    let size = h.tree.approximate_data_size();
    let stat_a = h.stat("/a");
    let ops = vec![
        Request::Create(create_req("/a/m1", b"data", 1)),
        Request::Delete(DeleteRequest {
            path: "/a/old".into(),
            version: -1,
        }),
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(b"z".to_vec()),
            version: -1,
        }),
        Request::Create(create_req("/nonexist/a", b"", 0)),
        Request::Create(create_req("/a/m2", b"", 0)),
    ];
    let out = h.apply_as(SESSION, &[], Request::Multi(ops));
    assert_eq!(
        out.result,
        Ok(Response::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NoNode),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );
    assert!(out.changes.is_empty(), "a failed multi fires nothing");
    assert_eq!(h.tree.digest(), digest);
    assert_eq!(h.tree.approximate_data_size(), size);
    assert_eq!(h.stat("/a"), stat_a);
    assert!(h.tree.node("/a/old").is_some());
    assert!(h.tree.node("/a/m1").is_none());
    assert!(
        h.tree.ephemerals().is_empty(),
        "the rolled-back ephemeral is unindexed"
    );
    assert_eq!(
        h.tree.last_zxid(),
        h.zxid,
        "the failed multi still used its zxid"
    );
}

#[test]
fn multi_ops_see_earlier_ops_of_the_same_multi() {
    let mut h = Harness::new();
    let ops = vec![
        Request::Create(create_req("/p", b"", 0)),
        Request::Create(create_req("/p/c", b"", 0)),
        Request::Delete(DeleteRequest {
            path: "/p".into(),
            version: -1,
        }),
    ];
    let out = h.apply(Request::Multi(ops));
    assert_eq!(
        out,
        Ok(Response::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NotEmpty),
        ]))
    );
    assert!(h.tree.node("/p").is_none());
}

#[test]
fn empty_multi_succeeds_and_foreign_ops_are_marshalling_errors() {
    let mut h = Harness::new();
    assert_eq!(h.apply(Request::Multi(vec![])), Ok(Response::Multi(vec![])));
    let ops = vec![Request::Create(create_req("/a", b"", 0)), Request::Ping];
    assert_eq!(
        h.apply(Request::Multi(ops)),
        Err(ErrorCode::MarshallingError)
    );
    assert!(h.tree.node("/a").is_none());
}

//! Quota statistics (quota.rs): `zookeeper_stats` follows every create, delete and setData
//! under the longest quota'd prefix, without a Stat change, and rolls back with a failed
//! multi. Every `Harness::apply` also checks digest == recompute_digest.

use wire::{CheckVersionRequest, DeleteRequest, ErrorCode, Request, Response, SetDataRequest};
use wire::{OpResult, Writer};

use super::support::*;
use crate::quota::{StatsTrack, LIMIT_NODE, QUOTA_ROOT, STAT_NODE};
use crate::tree::DataTree;
use crate::txn::TxnOp;

/// What zkCli 3.8's `setquota -n 4 <p>` writes into the limits node.
const LIMITS_N4: &str = "count=4,bytes=-1=;byteHardLimit=-1;countHardLimit=-1";

fn create_data(h: &mut Harness, p: &str, data: &[u8]) {
    let out = h.apply(Request::Create(create_req(p, data, 0)));
    assert!(out.is_ok(), "create {p}: {out:?}");
}

fn set(h: &mut Harness, p: &str, data: Option<&[u8]>) {
    let req = SetDataRequest {
        path: p.to_string(),
        data: data.map(<[u8]>::to_vec),
        version: -1,
    };
    let out = h.apply(Request::SetData(req));
    assert!(out.is_ok(), "setData {p}: {out:?}");
}

fn delete(h: &mut Harness, p: &str) {
    let req = DeleteRequest {
        path: p.to_string(),
        version: -1,
    };
    assert_eq!(
        h.apply(Request::Delete(req)),
        Ok(Response::Empty),
        "delete {p}"
    );
}

/// The creates `SetQuotaCommand.createQuota` sends: the quota directories that are missing,
/// then the limits node, then the stats node with "count=0,bytes=0".
fn set_quota(h: &mut Harness, p: &str) {
    let mut dir = QUOTA_ROOT.to_string();
    for component in p.split('/').skip(1) {
        dir = format!("{dir}/{component}");
        if h.tree.node(&dir).is_none() {
            create_data(h, &dir, b"");
        }
    }
    create_data(h, &format!("{dir}/{LIMIT_NODE}"), LIMITS_N4.as_bytes());
    create_data(h, &format!("{dir}/{STAT_NODE}"), b"count=0,bytes=0");
}

fn stats_path(p: &str) -> String {
    format!("{QUOTA_ROOT}{p}/{STAT_NODE}")
}

fn stats(h: &Harness, p: &str) -> String {
    let node = h.tree.node(&stats_path(p)).expect("stats node exists");
    String::from_utf8(node.data().to_vec()).expect("stats are text")
}

#[test]
fn stats_follow_creates_sets_and_deletes_without_a_stat_change() {
    let mut h = Harness::new();
    create_data(&mut h, "/q", b"");
    create_data(&mut h, "/q/a", b"ab");
    set_quota(&mut h, "/q");
    assert_eq!(stats(&h, "/q"), "count=2,bytes=2", "recounted on creation");
    let created = h.stat(&stats_path("/q"));

    create_data(&mut h, "/q/a/b", b"12345");
    assert_eq!(stats(&h, "/q"), "count=3,bytes=7");
    set(&mut h, "/q/a", Some(b"x"));
    assert_eq!(stats(&h, "/q"), "count=3,bytes=6");
    set(&mut h, "/q/a/b", None);
    assert_eq!(
        stats(&h, "/q"),
        "count=3,bytes=1",
        "null data counts 0 bytes"
    );
    delete(&mut h, "/q/a/b");
    assert_eq!(stats(&h, "/q"), "count=2,bytes=1");
    // Component-wise: /qq is not under /q, and neither is the root's data.
    create_data(&mut h, "/qq", b"zzz");
    set(&mut h, "/", Some(b"r"));
    assert_eq!(stats(&h, "/q"), "count=2,bytes=1");

    let now = h.stat(&stats_path("/q"));
    assert_eq!(now.data_length, "count=2,bytes=1".len() as i32);
    let unchanged = wire::Stat {
        data_length: created.data_length,
        ..now
    };
    assert_eq!(
        unchanged, created,
        "only the data length of the stats node moved"
    );
    assert_eq!(h.tree.quota_paths().into_iter().collect::<Vec<_>>(), ["/q"]);
}

#[test]
fn zkcli_setquota_scenario_counts_three_nodes_five_bytes() {
    // tests/py/zkcli.py: `setquota -n 4 /r` over /r with one empty child, then
    // `create /r/q1 12345`; `listquota` prints both nodes' data.
    let mut h = Harness::new();
    create_data(&mut h, "/r", b"");
    create_data(&mut h, "/r/c", b"");
    set_quota(&mut h, "/r");
    create_data(&mut h, "/r/q1", b"12345");
    let limits = h
        .tree
        .node(&format!("{QUOTA_ROOT}/r/{LIMIT_NODE}"))
        .expect("limits");
    assert_eq!(limits.data(), LIMITS_N4.as_bytes());
    assert_eq!(stats(&h, "/r"), "count=3,bytes=5");
}

#[test]
fn nested_quotas_update_only_the_longest_prefix() {
    // zkCli refuses nested quotas, but plain creates can make them.
    let mut h = Harness::new();
    create_data(&mut h, "/a", b"1");
    create_data(&mut h, "/a/b", b"22");
    set_quota(&mut h, "/a");
    set_quota(&mut h, "/a/b");
    assert_eq!(stats(&h, "/a"), "count=2,bytes=3");
    assert_eq!(stats(&h, "/a/b"), "count=1,bytes=2");

    create_data(&mut h, "/a/b/c", b"333");
    assert_eq!(
        stats(&h, "/a"),
        "count=2,bytes=3",
        "the outer quota is not touched"
    );
    assert_eq!(stats(&h, "/a/b"), "count=2,bytes=5");
    create_data(&mut h, "/a/x", b"");
    assert_eq!(stats(&h, "/a"), "count=3,bytes=3");
    set(&mut h, "/a/b", Some(b""));
    assert_eq!(
        stats(&h, "/a/b"),
        "count=2,bytes=3",
        "P itself is in its own quota"
    );
    assert_eq!(h.tree.quota_prefix_of("/a/b/c/d"), Some("/a/b"));
    assert_eq!(h.tree.quota_prefix_of("/a/bb"), Some("/a"));
    assert_eq!(h.tree.quota_prefix_of("/ab"), None);
}

#[test]
fn a_new_stats_node_is_recounted_but_a_new_limits_node_only_starts_tracking() {
    let mut h = Harness::new();
    create_data(&mut h, "/p", b"abc");
    create_data(&mut h, "/p/c", b"de");
    create_data(&mut h, "/zookeeper/quota/p", b"");
    let created = h.apply(Request::Create2(create_req(&stats_path("/p"), b"junk", 0)));
    let Ok(Response::Create2 { stat, .. }) = created else {
        panic!("{created:?}")
    };
    assert_eq!(
        stat.data_length, 4,
        "the reply's Stat is taken before the recount"
    );
    assert_eq!(stats(&h, "/p"), "count=2,bytes=5");
    assert!(h.tree.quota_paths().is_empty(), "no limits node yet");
    create_data(&mut h, "/p/d", b"f");
    assert_eq!(
        stats(&h, "/p"),
        "count=2,bytes=5",
        "not tracked without limits"
    );

    create_data(&mut h, &format!("{QUOTA_ROOT}/p/{LIMIT_NODE}"), b"count=9");
    assert_eq!(
        stats(&h, "/p"),
        "count=2,bytes=5",
        "limits creation does not recount"
    );
    create_data(&mut h, "/p/e", b"gh");
    assert_eq!(stats(&h, "/p"), "count=3,bytes=7");
}

#[test]
fn deleting_the_limits_node_stops_tracking() {
    let mut h = Harness::new();
    create_data(&mut h, "/q", b"");
    set_quota(&mut h, "/q");
    delete(&mut h, &format!("{QUOTA_ROOT}/q/{LIMIT_NODE}"));
    assert!(h.tree.quota_paths().is_empty());
    create_data(&mut h, "/q/x", b"abc");
    assert_eq!(stats(&h, "/q"), "count=1,bytes=0");
    // Deleting the stats node too, as delquota does, leaves nothing to update.
    delete(&mut h, &stats_path("/q"));
    delete(&mut h, "/q/x");
}

#[test]
fn a_failed_multi_leaves_stats_and_quotas_as_they_were() {
    let mut h = Harness::new();
    create_data(&mut h, "/q", b"");
    create_data(&mut h, "/m", b"");
    set_quota(&mut h, "/q");
    let digest = h.tree.digest();
    let ops = vec![
        Request::Create(create_req("/q/x", b"abc", 0)),
        Request::SetData(SetDataRequest {
            path: "/q".into(),
            data: Some(b"zz".to_vec()),
            version: -1,
        }),
        Request::Create(create_req("/q/x", b"", 0)),
    ];
    let out = h.apply(Request::Multi(ops));
    let Ok(Response::Multi(results)) = out else {
        panic!("{out:?}")
    };
    assert_eq!(results[2], OpResult::Error(ErrorCode::NodeExists));
    assert_eq!(stats(&h, "/q"), "count=1,bytes=0");
    assert_eq!(h.tree.digest(), digest);

    // A multi that makes a quota and then fails leaves no quota behind.
    let quota_ops = |check_version: i32| {
        vec![
            Request::Create(create_req("/zookeeper/quota/m", b"", 0)),
            Request::Create(create_req(&format!("{QUOTA_ROOT}/m/{LIMIT_NODE}"), b"", 0)),
            Request::Create(create_req(&stats_path("/m"), b"", 0)),
            Request::Create(create_req("/m/y", b"yy", 0)),
            Request::Check(CheckVersionRequest {
                path: "/m".into(),
                version: check_version,
            }),
        ]
    };
    assert!(h.apply(Request::Multi(quota_ops(7))).is_ok());
    assert_eq!(h.tree.quota_paths().len(), 1, "only /q");
    assert!(h.tree.node(&stats_path("/m")).is_none());
    create_data(&mut h, "/m/z", b"");
    // The same multi succeeding: recounted at stats creation, then /m/y added.
    let out = h.apply(Request::Multi(quota_ops(-1)));
    assert!(
        matches!(out, Ok(Response::Multi(ref r)) if r[4] == OpResult::Check),
        "{out:?}"
    );
    assert_eq!(stats(&h, "/m"), "count=3,bytes=2");
}

#[test]
fn closing_a_session_counts_its_ephemerals_out() {
    let mut h = Harness::new();
    create_data(&mut h, "/q", b"");
    set_quota(&mut h, "/q");
    assert!(h
        .apply(Request::Create(create_req("/q/e", b"eph", 1)))
        .is_ok());
    assert_eq!(stats(&h, "/q"), "count=2,bytes=3");
    h.session_op(SESSION, TxnOp::CloseSession);
    assert_eq!(h.tree.digest(), h.tree.recompute_digest());
    assert_eq!(stats(&h, "/q"), "count=1,bytes=0");
}

#[test]
fn unparseable_stats_stay_and_extra_keys_survive_in_java_order() {
    let mut h = Harness::new();
    create_data(&mut h, "/q", b"");
    set_quota(&mut h, "/q");
    set(
        &mut h,
        &stats_path("/q"),
        Some(b"zeta=5,count=1,bytes=2,alpha=-3"),
    );
    // Even an unchanged length rewrites the text, as `updateQuotaStat` always does.
    set(&mut h, "/q", Some(b""));
    assert_eq!(stats(&h, "/q"), "count=1,bytes=2=;alpha=-3;zeta=5");
    create_data(&mut h, "/q/x", b"abcd");
    assert_eq!(stats(&h, "/q"), "count=2,bytes=6=;alpha=-3;zeta=5");
    // ZooKeeper would throw on these; we leave the node alone.
    for bad in [Some(&b"count=oops"[..]), Some(b"count"), None] {
        set(&mut h, &stats_path("/q"), bad);
        create_data(&mut h, "/q/y", b"1");
        delete(&mut h, "/q/y");
        let node = h.tree.node(&stats_path("/q")).expect("stats node");
        assert_eq!(node.data_option(), bad);
    }
    // Missing keys read -1, as in `StatsTrack.getValue`.
    set(&mut h, &stats_path("/q"), Some(b""));
    create_data(&mut h, "/q/y", b"12");
    assert_eq!(stats(&h, "/q"), "count=0,bytes=1");
}

#[test]
fn a_stats_node_at_the_quota_root_counts_the_whole_tree() {
    // `trimQuotaPath` gives "", and ZooKeeper's table maps "" to the root.
    let mut h = Harness::new();
    create_data(&mut h, "/a", b"xyz");
    let before_count = h.tree.len() as i64 + 1;
    create_data(&mut h, &format!("{QUOTA_ROOT}/{STAT_NODE}"), b"");
    let text = stats(&h, "");
    let track = StatsTrack::parse(text.as_bytes()).expect("stats parse");
    assert_eq!(
        track.count(),
        before_count,
        "every node, the new one included"
    );
    assert_eq!(track.bytes(), 3);
    // The root never has a quota, so nothing tracks it afterwards.
    create_data(&mut h, &format!("{QUOTA_ROOT}/{LIMIT_NODE}"), b"");
    create_data(&mut h, "/b", b"1");
    assert_eq!(stats(&h, ""), text);
    assert!(h.tree.quota_paths().is_empty());
}

#[test]
fn a_snapshot_round_trip_keeps_the_quotas() {
    let mut h = Harness::new();
    for p in ["/q", "/q/a", "/n", "/n/m"] {
        create_data(&mut h, p, b"12");
    }
    set_quota(&mut h, "/q");
    set_quota(&mut h, "/n/m");
    let mut w = Writer::new();
    h.tree.encode_snapshot(&mut w);
    let loaded = DataTree::decode_snapshot(&w.bytes, h.tree.config().clone()).expect("loads");
    assert_eq!(loaded.quota_paths(), h.tree.quota_paths());
    let mut other = Harness {
        tree: loaded,
        zxid: h.zxid,
        time_ms: h.time_ms,
    };
    for side in [&mut h, &mut other] {
        create_data(side, "/q/a/b", b"345");
        create_data(side, "/n/m/o", b"6");
        assert_eq!(stats(side, "/q"), "count=3,bytes=7");
        assert_eq!(stats(side, "/n/m"), "count=2,bytes=3");
    }
    assert_eq!(other.tree.digest(), h.tree.digest());
}

#[test]
fn a_streamed_snapshot_is_the_begin_image_while_stats_change() {
    let mut h = Harness::new();
    create_data(&mut h, "/q", b"");
    set_quota(&mut h, "/q");
    let mut expected = Writer::new();
    h.tree.encode_snapshot(&mut expected);
    let mut stream = Writer::new();
    h.tree.begin_snapshot().encode(&mut stream);
    // "/" and "/q" go out before the stats node changes; the stats node after.
    assert!(!h.tree.snapshot_step(2, &mut stream));
    create_data(&mut h, "/q/x", b"abc");
    set(&mut h, "/q/x", Some(b"abcdef"));
    while !h.tree.snapshot_step(1, &mut stream) {}
    assert_eq!(stream.bytes, expected.bytes);
    assert_eq!(stats(&h, "/q"), "count=2,bytes=6");
}

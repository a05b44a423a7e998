//! WatchManager: firing order, one-shot vs persistent vs recursive, setWatches, removal.
//! Expected sequences were checked against a 3.8 server with a raw-protocol client.

use wire::{DeleteRequest, Request, SetDataRequest, SetWatches};

use super::support::*;
use crate::txn::{Change, ChangeKind};
use crate::watch::{WatchEvent, WatchKind, WatchManager, WatcherType};

fn ch(path: &str, kind: ChangeKind) -> Change {
    Change {
        path: path.to_string(),
        kind,
        acl: wire::Acl::open_unsafe().into(),
    }
}

fn ev(session: i64, kind: ChangeKind, path: &str) -> (i64, WatchEvent) {
    (
        session,
        WatchEvent {
            event_type: kind,
            path: path.to_string(),
        },
    )
}

use ChangeKind::*;

#[test]
fn one_shot_watches_fire_once() {
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::Data, 1);
    w.add("/a", WatchKind::Exist, 2);
    let fired = w.trigger(&[ch("/a", NodeDataChanged), ch("/a", NodeDataChanged)]);
    assert_eq!(
        fired,
        vec![ev(1, NodeDataChanged, "/a"), ev(2, NodeDataChanged, "/a")]
    );
    assert_eq!(w.watch_count(), 0);
    w.check_invariants();
}

#[test]
fn create_fires_exist_watch_then_parent_child_watch() {
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::Exist, 1);
    w.add("/", WatchKind::Child, 1);
    let fired = w.trigger(&[ch("/a", NodeCreated), ch("/", NodeChildrenChanged)]);
    assert_eq!(
        fired,
        vec![ev(1, NodeCreated, "/a"), ev(1, NodeChildrenChanged, "/")]
    );
}

#[test]
fn delete_notifies_a_session_once_even_with_data_and_child_watches() {
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::Data, 1);
    w.add("/a", WatchKind::Child, 1);
    w.add("/a", WatchKind::Child, 2);
    w.add("/", WatchKind::Child, 3);
    let fired = w.trigger(&[ch("/a", NodeDeleted), ch("/", NodeChildrenChanged)]);
    assert_eq!(
        fired,
        vec![
            ev(1, NodeDeleted, "/a"),
            ev(2, NodeDeleted, "/a"),
            ev(3, NodeChildrenChanged, "/")
        ]
    );
    assert_eq!(w.watch_count(), 0, "all one-shot watches were consumed");
}

#[test]
fn child_watch_does_not_see_data_changes() {
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::Child, 1);
    assert!(w
        .trigger(&[ch("/a", NodeDataChanged), ch("/a", NodeCreated)])
        .is_empty());
    assert_eq!(w.watch_count(), 1);
}

#[test]
fn persistent_watch_sees_every_event_on_its_path_and_stays() {
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::Persistent, 1);
    let changes = [
        ch("/a", NodeCreated),
        ch("/a", NodeDataChanged),
        ch("/a", NodeChildrenChanged),
        ch("/a/b", NodeCreated),
        ch("/a", NodeDeleted),
    ];
    let fired = w.trigger(&changes);
    assert_eq!(
        fired,
        vec![
            ev(1, NodeCreated, "/a"),
            ev(1, NodeDataChanged, "/a"),
            ev(1, NodeChildrenChanged, "/a"),
            ev(1, NodeDeleted, "/a"),
        ]
    );
    assert_eq!(w.watch_count(), 2, "one entry in each table remains");
}

#[test]
fn recursive_watch_sees_descendants_but_not_children_changed() {
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::PersistentRecursive, 1);
    let changes = [
        ch("/a/b", NodeCreated),
        ch("/a", NodeChildrenChanged),
        ch("/a/b/c", NodeDataChanged),
        ch("/a/b", NodeDeleted),
        ch("/ab", NodeCreated),
    ];
    assert_eq!(
        w.trigger(&changes),
        vec![
            ev(1, NodeCreated, "/a/b"),
            ev(1, NodeDataChanged, "/a/b/c"),
            ev(1, NodeDeleted, "/a/b")
        ]
    );
}

#[test]
fn a_plain_watch_downgrades_a_persistent_one() {
    // WatcherModeManager: the last mode set for (session, path) wins.
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::Persistent, 1);
    w.add("/a", WatchKind::Data, 1);
    assert_eq!(w.trigger(&[ch("/a", NodeDataChanged)]).len(), 1);
    assert!(
        w.trigger(&[ch("/a", NodeDataChanged)]).is_empty(),
        "now one-shot in the data table"
    );
    assert_eq!(
        w.trigger(&[ch("/a", NodeChildrenChanged)]).len(),
        1,
        "child table still persistent"
    );
    w.check_invariants();
}

#[test]
fn remove_and_check_follow_watcher_type() {
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::Data, 1);
    assert!(w.check("/a", WatcherType::Data, 1));
    assert!(!w.check("/a", WatcherType::Children, 1));
    assert!(w.check("/a", WatcherType::Any, 1));
    // 3.8.0 quirk: containsWatcher only asks whether anyone watches the path.
    assert!(w.check("/a", WatcherType::Data, 2));
    assert!(!w.remove("/a", WatcherType::Children, 1));
    assert!(!w.remove("/a", WatcherType::Data, 2));
    assert!(w.remove("/a", WatcherType::Any, 1));
    assert!(!w.check("/a", WatcherType::Data, 1));
    w.check_invariants();
}

#[test]
fn remove_session_drops_all_its_watches() {
    let mut w = WatchManager::new();
    w.add("/a", WatchKind::Data, 1);
    w.add("/b", WatchKind::PersistentRecursive, 1);
    w.add("/a", WatchKind::Data, 2);
    w.remove_session(1);
    w.check_invariants();
    assert_eq!(
        w.trigger(&[ch("/a", NodeDataChanged), ch("/b/c", NodeCreated)]),
        vec![ev(2, NodeDataChanged, "/a")]
    );
    assert_eq!(w.summary(), (0, 0, 0));
}

#[test]
fn reports_cover_the_data_table_sorted() {
    let mut w = WatchManager::new();
    w.add("/b", WatchKind::Data, 2);
    w.add("/a", WatchKind::Exist, 2);
    w.add("/a", WatchKind::Data, 1);
    w.add("/c", WatchKind::Child, 1);
    assert_eq!(w.summary(), (2, 2, 3));
    let by_session = w.watches_by_session();
    assert_eq!(by_session[&2], vec!["/a".to_string(), "/b".to_string()]);
    assert_eq!(w.watches_by_path()["/a"], vec![1, 2]);
    assert_eq!(w.watch_count(), 4);
}

#[test]
fn set_watches_fires_missed_changes_and_registers_the_rest() {
    let mut h = Harness::new();
    h.create_ok("/same");
    h.create_ok("/changed");
    h.create_ok("/kids");
    let rel = h.zxid;
    h.apply(Request::SetData(SetDataRequest {
        path: "/changed".into(),
        data: Some(vec![1]),
        version: -1,
    }))
    .unwrap();
    h.create_ok("/kids/k");
    h.create_ok("/gone");
    h.apply(Request::Delete(DeleteRequest {
        path: "/gone".into(),
        version: -1,
    }))
    .unwrap();
    h.create_ok("/born");
    let sw = SetWatches {
        relative_zxid: rel,
        data_watches: vec!["/same".into(), "/changed".into(), "/gone".into()],
        exist_watches: vec!["/born".into(), "/unborn".into()],
        child_watches: vec!["/kids".into(), "/same".into(), "/gone".into()],
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec![],
    };
    let mut w = WatchManager::new();
    let events = w.set_watches(7, &sw, &h.tree);
    let e = |kind, p: &str| WatchEvent {
        event_type: kind,
        path: p.to_string(),
    };
    assert_eq!(
        events,
        vec![
            e(NodeDataChanged, "/changed"),
            e(NodeDeleted, "/gone"),
            e(NodeCreated, "/born"),
            e(NodeChildrenChanged, "/kids"),
            e(NodeDeleted, "/gone"),
        ]
    );
    // Registered: data /same, exist /unborn, child /same, persistent /p (both tables).
    assert_eq!(w.watch_count(), 5);
    w.check_invariants();
}

#[test]
fn tree_changes_drive_watches_end_to_end() {
    let mut h = Harness::new();
    let mut w = WatchManager::new();
    h.create_ok("/a");
    w.add("/a", WatchKind::Data, 1);
    w.add("/a", WatchKind::Child, 2);
    w.add("/a/b", WatchKind::Exist, 3);
    let out = h.apply_as(SESSION, &[], Request::Create(create_req("/a/b", b"", 0)));
    assert_eq!(
        w.trigger(&out.changes),
        vec![ev(3, NodeCreated, "/a/b"), ev(2, NodeChildrenChanged, "/a")]
    );
    let out = h.apply_as(
        SESSION,
        &[],
        Request::Delete(DeleteRequest {
            path: "/a/b".into(),
            version: -1,
        }),
    );
    assert!(
        w.trigger(&out.changes).is_empty(),
        "the one-shot watches were used up"
    );
    let out = h.apply_as(
        SESSION,
        &[],
        Request::Delete(DeleteRequest {
            path: "/a".into(),
            version: -1,
        }),
    );
    assert_eq!(w.trigger(&out.changes), vec![ev(1, NodeDeleted, "/a")]);
}

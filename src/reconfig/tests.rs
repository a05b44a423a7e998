//! Golden texts and error codes below were captured from a live ZooKeeper 3.8.0 ensemble
//! (zk-ref.sh start-ensemble, reconfigEnabled=true, a super digest, kazoo's reconfig).

use super::*;

/// `/zookeeper/config` of the 3.8.0 ensemble right after start-up.
const ZK_INITIAL: &str = "server.1=127.0.0.1:26200:26300:participant\n\
    server.2=127.0.0.1:26201:26301:participant\n\
    server.3=127.0.0.1:26202:26302:participant\n\
    version=100000000";

/// The same after `reconfig(joining="server.4=127.0.0.1:26403:26503;26303", from_config=0x100000000)`.
const ZK_AFTER_ADD: &str = "server.1=127.0.0.1:26200:26300:participant\n\
    server.2=127.0.0.1:26201:26301:participant\n\
    server.3=127.0.0.1:26202:26302:participant\n\
    server.4=127.0.0.1:26403:26503:participant;0.0.0.0:26303\n\
    version=100000006";

fn initial() -> ClusterConfig {
    ClusterConfig::parse(ZK_INITIAL).expect("ZooKeeper's text parses")
}

fn render(value: &str) -> String {
    match ServerSpec::parse(5, value) {
        Ok(spec) => spec.to_string(),
        Err(e) => panic!("{value:?} refused: {e}"),
    }
}

fn refuse(value: &str) -> SpecError {
    ServerSpec::parse(5, value).expect_err(value)
}

/// Spec and config text tests.
mod text;

// ---- plan: the leader's checks ----

const LEADER: u64 = 3;

fn synced_followers() -> BTreeSet<u64> {
    BTreeSet::from([1, 2])
}

fn view(synced: &BTreeSet<u64>) -> LeaderView<'_> {
    LeaderView {
        reconfig_enabled: true,
        is_standalone: false,
        standalone_enabled: true,
        is_change_in_progress: false,
        leader_id: LEADER,
        synced: Some(synced),
        may_write_config: true,
    }
}

/// A request as zkCli sends it: an empty argument is a jute null.
fn request(joining: &str, leaving: &str, new_members: &str, from: i64) -> ReconfigRequest {
    let given = |s: &str| (!s.is_empty()).then(|| s.to_string());
    ReconfigRequest {
        joining_servers: given(joining),
        leaving_servers: given(leaving),
        new_members: given(new_members),
        cur_config_id: from,
    }
}

fn plan_with(r: &ReconfigRequest) -> Result<ClusterConfig, ReconfigError> {
    let synced = synced_followers();
    plan(&initial(), r, &view(&synced))
}

fn plan_ok(r: &ReconfigRequest) -> ClusterConfig {
    plan_with(r).unwrap_or_else(|e| panic!("{r:?} refused: {e}"))
}

fn plan_err(r: &ReconfigRequest) -> ReconfigError {
    plan_with(r).expect_err("the request must be refused")
}

/// Asserts the error code ZooKeeper 3.8.0 answered and a piece of its logged message.
fn assert_refused(r: &ReconfigRequest, code: ErrorCode, needle: &str) {
    let error = plan_err(r);
    assert_eq!(error.code(), code, "{r:?}: {error}");
    assert!(
        error.to_string().contains(needle),
        "{r:?}: '{error}' lacks '{needle}'"
    );
}

#[test]
fn add_then_remove_matches_zookeepers_text() {
    let add = request(
        "server.4=127.0.0.1:26403:26503;26303",
        "",
        "",
        0x1_0000_0000,
    );
    let mut target = plan_ok(&add);
    assert_eq!(
        target.version, 0,
        "the caller sets the version to the txn's zxid"
    );
    target.version = 0x1_0000_0006;
    assert_eq!(target.render(), ZK_AFTER_ADD);
    let synced = synced_followers();
    let mut back = plan(&target, &request("", "4", "", -1), &view(&synced)).expect("remove 4");
    back.version = 0x1_0000_0000;
    assert_eq!(back.render(), ZK_INITIAL);
}

#[test]
fn server_state_checks_come_first_in_zookeepers_order() {
    let synced = synced_followers();
    let bad = request("server.5=foo", "", "", 7);
    let with = |change: &dyn Fn(&mut LeaderView<'_>)| {
        let mut v = view(&synced);
        change(&mut v);
        plan(&initial(), &bad, &v).expect_err("refused")
    };
    assert_eq!(
        with(&|v| v.reconfig_enabled = false),
        ReconfigError::Disabled
    );
    assert_eq!(
        with(&|v| v.is_standalone = true),
        ReconfigError::Unimplemented
    );
    assert_eq!(
        with(&|v| v.is_change_in_progress = true),
        ReconfigError::InProgress
    );
    let expected = ReconfigError::BadVersion {
        from_config: 7,
        last_seen: 0x1_0000_0000,
    };
    assert_eq!(with(&|_| {}), expected);
    assert_eq!(
        expected.to_string(),
        "Reconfiguration from version 7 failed -- last seen version is 4294967296"
    );
    let codes = [
        (ReconfigError::Disabled, -123),
        (ReconfigError::Unimplemented, -6),
        (ReconfigError::InProgress, -14),
        (expected, -103),
        (ReconfigError::BadArguments(String::new()), -8),
        (ReconfigError::Marshalling(String::new()), -5),
        (ReconfigError::NewConfigNoQuorum, -13),
        (ReconfigError::NoAuth, -102),
    ];
    for (error, code) in codes {
        assert_eq!(error.code().code(), code, "{error:?}");
    }
}

#[test]
fn from_config_minus_one_skips_the_version_check() {
    assert!(plan_with(&request("", "42", "", -1)).is_ok());
    assert!(plan_with(&request("", "42", "", 0x1_0000_0000)).is_ok());
    assert_refused(
        &request("", "42", "", 0x1_0000_0001),
        ErrorCode::BadVersion,
        "last seen",
    );
}

#[test]
fn malformed_joiners_get_zookeepers_codes() {
    use ErrorCode::{BadArguments, MarshallingError};
    let cases = [
        ("server.5=foo", BadArguments, "Reconfiguration failed"),
        (
            "server.5=127.0.0.1:26404:26504",
            BadArguments,
            "should have 3 ports specified",
        ),
        (
            "server.5=127.0.0.1:26404:26504;",
            BadArguments,
            "should have 3 ports specified",
        ),
        (
            "server.x=127.0.0.1:26404:26504;26304",
            MarshallingError,
            "For input string: \"x\"",
        ),
        (
            "127.0.0.1:26404:26504;26304",
            BadArguments,
            "Wrong format of server string",
        ),
        (
            "server.5=a:1:2;3=x",
            BadArguments,
            "Wrong format of server string",
        ),
        (
            "server.5=127.0.0.1:26404:26504:leader;26304",
            BadArguments,
            "Unrecognised peertype",
        ),
        (
            "server.5=127.0.0.1:26404:26404;26304",
            BadArguments,
            "must be different",
        ),
        (
            "server.5=127.0.0.1:70000:26504;26304",
            MarshallingError,
            "port out of range",
        ),
        (
            "server.5=127.0.0.1:1:2;70000",
            MarshallingError,
            "port out of range",
        ),
        (
            "server.5=127.0.0.1:1:2|127.0.0.2:3:4;5",
            BadArguments,
            "Multiple address",
        ),
        ("server.5=[::1:1:2;3", BadArguments, "no matching"),
        (
            "server.5=127.0.0.1:1:2;abc",
            BadArguments,
            "Address unresolved",
        ),
        (
            "server.5=127.0.0.1:1:2;3;4",
            BadArguments,
            "does not have the form",
        ),
        ("server.0=127.0.0.1:1:2;3", BadArguments, "not positive"),
        ("server.-1=127.0.0.1:1:2;3", BadArguments, "not positive"),
    ];
    for (joiner, code, needle) in cases {
        assert_refused(&request(joiner, "", "", -1), code, needle);
    }
    assert_refused(
        &request("", "abc", "", -1),
        MarshallingError,
        "For input string: \"abc\"",
    );
}

#[test]
fn a_bad_leaving_id_fails_before_the_joiners_are_read() {
    let r = request("server.5=foo", "abc", "", -1);
    assert_eq!(plan_err(&r).code(), ErrorCode::MarshallingError);
}

#[test]
fn joiner_keys_are_read_the_zookeeper_way() {
    for joiner in [
        "5=127.0.0.1:1:2:observer;3",
        " server.5 = 127.0.0.1:1:2:observer;3 ",
        "x.y.5=127.0.0.1:1:2:observer;3",
    ] {
        let target = plan_ok(&request(joiner, "", "", -1));
        assert_eq!(
            target.members[&5].to_string(),
            "127.0.0.1:1:2:observer;0.0.0.0:3",
            "{joiner}"
        );
    }
    let list = plan_ok(&request(
        "server.5=h:1:2:observer;3,,server.6=h:4:5:observer;6,",
        "",
        "",
        -1,
    ));
    assert_eq!(list.members.len(), 5);
}

#[test]
fn leaving_ids_that_are_not_members_are_ignored() {
    for leaving in ["42", "-1", "+42", " 42 , ,43", ""] {
        let target = plan_ok(&request("", leaving, "", -1));
        assert_eq!(target.members, initial().members, "{leaving:?}");
    }
}

#[test]
fn too_few_participants_is_bad_arguments() {
    assert_refused(
        &request("", "2,3", "", -1),
        ErrorCode::BadArguments,
        "at least 2 followers",
    );
    let synced = synced_followers();
    let mut v = view(&synced);
    v.standalone_enabled = false;
    let one = plan(&initial(), &request("", "2,3", "", -1), &v).expect("1 voter allowed");
    assert_eq!(one.voters(), BTreeSet::from([1]));
    // Our rails "never remove the last voter" and "no participants" are ZooKeeper's own check.
    let none = plan(&initial(), &request("", "1,2,3", "", -1), &v).expect_err("no voters");
    assert!(none.to_string().contains("at least 1 follower"), "{none}");
    let observers = "server.1=h:1:2:observer;3,server.2=h:4:5:observer;6,server.3=h:7:8:observer;9";
    let all_observers =
        plan(&initial(), &request(observers, "", "", -1), &v).expect_err("observers");
    assert!(all_observers.to_string().contains("at least 1 follower"));
}

#[test]
fn a_target_without_a_synced_majority_is_new_config_no_quorum() {
    let joiners = "server.6=127.0.0.1:26406:26506;26306,server.7=127.0.0.1:26407:26507;26307,\
        server.8=127.0.0.1:26408:26508;26308";
    let error = plan_err(&request(joiners, "", "", -1));
    assert_eq!(error, ReconfigError::NewConfigNoQuorum);
    assert!(error.to_string().contains("connected and synced quorum"));
    // One unsynced joiner: 3 of 4 voters synced is still a majority.
    assert!(plan_with(&request("server.6=127.0.0.1:26406:26506;26306", "", "", -1)).is_ok());
    // The leader counts itself only while it votes in the target.
    let synced = BTreeSet::from([1]);
    let demote_leader = request("server.3=127.0.0.1:26202:26302:observer;26102", "", "", -1);
    assert_eq!(
        plan(&initial(), &demote_leader, &view(&synced)),
        Err(ReconfigError::NewConfigNoQuorum)
    );
    let synced = BTreeSet::new();
    assert!(plan(&initial(), &request("", "1", "", -1), &view(&synced)).is_err());
}

#[test]
fn an_existing_id_is_replaced_not_refused() {
    let target = plan_ok(&request(
        "server.2=127.0.0.1:26201:26301:observer;26109",
        "",
        "",
        -1,
    ));
    assert_eq!(
        target.members[&2].line(),
        "server.2=127.0.0.1:26201:26301:observer;0.0.0.0:26109"
    );
    let twice = request(
        "server.5=h:1:2:observer;3,server.5=h:4:5:observer;6",
        "5",
        "",
        -1,
    );
    assert_eq!(
        plan_ok(&twice).members[&5].quorum_port,
        4,
        "the last joiner wins"
    );
}

#[test]
fn duplicate_addresses_are_bad_arguments_with_zookeepers_message() {
    let joiners = "server.6=10.1.2.3:26406:26506:observer;26306,\
        server.7=10.1.2.3:26406:26507:observer;26307";
    let error = plan_err(&request(joiners, "", "", -1));
    assert_eq!(
        error,
        ReconfigError::BadArguments(
            "/10.1.2.3:26406 of server.7 conflicts /10.1.2.3:26406 of server.6".to_string()
        )
    );
    let v6 = "server.6=[2001:db8::1]:1:2:observer;[2001:db8::1]:3,\
        server.7=[2001:db8::1]:4:5:observer;[2001:db8::1]:3";
    let error = plan_err(&request(v6, "", "", -1)).to_string();
    assert!(
        error.contains("/[2001:db8:0:0:0:0:0:1]:3 of server.7"),
        "{error}"
    );
    // Loopback and wildcard addresses never conflict (ZooKeeper accepted this one).
    assert!(plan_with(&request(
        "server.5=127.0.0.1:26200:26300:observer;26304",
        "",
        "",
        -1
    ))
    .is_ok());
    assert!(plan_with(&request(
        "server.5=h:1:2:observer;3,server.6=h:1:2:observer;3",
        "",
        "",
        -1
    ))
    .is_ok());
}

const BULK: &str = "server.1=127.0.0.1:26200:26300;26100\nserver.2=127.0.0.1:26201:26301;26101,\
    server.3=127.0.0.1:26202:26302:participant;127.0.0.1:26102,\
    server.5=127.0.0.1:26404:26504:observer;26304";

#[test]
fn bulk_mode_matches_zookeepers_text() {
    let mut target = plan_ok(&request("", "", BULK, -1));
    target.version = 0x1_0000_0019;
    let zk = "server.1=127.0.0.1:26200:26300:participant;0.0.0.0:26100\n\
        server.2=127.0.0.1:26201:26301:participant;0.0.0.0:26101\n\
        server.3=127.0.0.1:26202:26302:participant;127.0.0.1:26102\n\
        server.5=127.0.0.1:26404:26504:observer;0.0.0.0:26304\n\
        version=100000019";
    assert_eq!(target.render(), zk);
    // newMembers wins over joining/leaving, as in ZooKeeper (only zkCli refuses the mix).
    assert_eq!(
        plan_ok(&request("server.9=h:1:2;3", "1", BULK, -1)).members,
        target.members
    );
}

#[test]
fn bulk_mode_errors_get_zookeepers_codes() {
    use ErrorCode::{BadArguments, MarshallingError};
    let cases = [
        (
            "server.1=h:1:2:observer;3,server.2=h:4:5:observer;6",
            MarshallingError,
            "Observers w/o participants",
        ),
        (
            "server.1=h:1:2;3,server.2=h:4:5:observer;6",
            MarshallingError,
            "Observers w/o quorum",
        ),
        (
            "server.1=127.0.0.1:26200:26300;26100,foo=bar",
            BadArguments,
            "Unrecognised parameter: foo",
        ),
        (
            "server.x=127.0.0.1:26200:26300;26100",
            MarshallingError,
            "For input string",
        ),
        (
            "server.1=127.0.0.1:26200:26300;26100",
            BadArguments,
            "at least 2 followers",
        ),
        (
            "server.1=h:1:2;3,server.2=h:4:5;6,weight.1=1",
            BadArguments,
            "hierarchical",
        ),
        (
            "server.1=h:1:2;3,server.2=h:4:5;6,version=zz",
            MarshallingError,
            "For input string",
        ),
        (
            "server.1=h:1:2;3,server.2=h:4:4;6",
            BadArguments,
            "must be different",
        ),
        (
            "server.1=h:1:2;3,server.2=h:4:5;6 ",
            BadArguments,
            "Address unresolved",
        ),
        (
            "server.1=h:1:2;3,server.2=h\\:4:5;6",
            BadArguments,
            "backslash",
        ),
    ];
    for (members, code, needle) in cases {
        assert_refused(&request("", "", members, -1), code, needle);
    }
    let synced = synced_followers();
    let mut v = view(&synced);
    v.standalone_enabled = false;
    let error = plan(
        &initial(),
        &request("", "", "server.1=h:1:2:observer;3", -1),
        &v,
    );
    assert!(matches!(error, Err(ReconfigError::Marshalling(m)) if m.contains("standaloneEnabled")));
}

#[test]
fn bulk_mode_accepts_what_zookeeper_accepts() {
    let no_clients = "server.1=127.0.0.1:26200:26300,server.2=127.0.0.1:26201:26301;26101,\
        server.3=127.0.0.1:26202:26302;26102";
    assert_eq!(
        plan_ok(&request("", "", no_clients, -1)).members[&1].client,
        None
    );
    let extras = "# comment\nserver.1 = h:1:2;3,server.2=h:4:5;6,server.3=h:7:8;9,version=5,\
        server.1=h:1:2;10";
    let target = plan_ok(&request("", "", extras, -1));
    assert_eq!(
        target.members[&1].client,
        Some(("0.0.0.0".to_string(), 10)),
        "last one wins"
    );
    assert_eq!(
        target.version, 0,
        "a version key is replaced by the txn's zxid"
    );
}

#[test]
fn permission_is_checked_last() {
    let synced = synced_followers();
    let mut v = view(&synced);
    v.may_write_config = false;
    let ok_request = request("", "42", "", -1);
    assert_eq!(
        plan(&initial(), &ok_request, &v),
        Err(ReconfigError::NoAuth)
    );
    let no_quorum = request(
        "",
        "",
        "server.1=h:1:2;3,server.8=h:4:5;6,server.9=h:7:8;9",
        -1,
    );
    assert_eq!(
        plan(&initial(), &no_quorum, &v),
        Err(ReconfigError::NewConfigNoQuorum)
    );
    let malformed = request("server.5=foo", "", "", -1);
    assert_eq!(
        plan(&initial(), &malformed, &v).map_err(|e| e.code()),
        Err(ErrorCode::BadArguments)
    );
}

// ---- raft_steps ----

fn config_of(roles: &[(u64, PeerRole)]) -> ClusterConfig {
    let mut config = ClusterConfig::default();
    for &(id, role) in roles {
        let spec = ServerSpec {
            id,
            host: "127.0.0.1".to_string(),
            quorum_port: 2000 + id as u16,
            election_port: 3000 + id as u16,
            role,
            client: None,
        };
        config.members.insert(id, spec);
    }
    config
}

fn voters_of(ids: &[u64]) -> Vec<(u64, PeerRole)> {
    ids.iter().map(|&id| (id, PeerRole::Participant)).collect()
}

fn steps_text(current: &ClusterConfig, target: &ClusterConfig, leader: u64) -> String {
    let steps = raft_steps(current, target, leader);
    steps
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn steps_for_single_changes() {
    let three = config_of(&voters_of(&[1, 2, 3]));
    let four = config_of(&voters_of(&[1, 2, 3, 4]));
    assert_eq!(steps_text(&three, &four, 1), "add-learner 4, promote 4");
    let mut with_observer = three.clone();
    with_observer.members.insert(
        4,
        ServerSpec {
            role: PeerRole::Observer,
            ..four.members[&4].clone()
        },
    );
    assert_eq!(steps_text(&three, &with_observer, 1), "add-learner 4");
    assert_eq!(steps_text(&with_observer, &four, 1), "promote 4");
    assert_eq!(
        steps_text(&four, &with_observer, 1),
        "remove 4, add-learner 4"
    );
    assert_eq!(steps_text(&four, &three, 1), "remove 4");
    assert_eq!(steps_text(&with_observer, &three, 1), "remove 4");
    let mut moved = three.clone();
    moved.members.get_mut(&2).expect("member 2").quorum_port = 9999;
    assert_eq!(
        steps_text(&three, &moved, 1),
        "",
        "an address change is not a membership change"
    );
}

#[test]
fn steps_add_before_remove_and_move_the_leader_last() {
    let old = config_of(&voters_of(&[1, 2, 3]));
    let new = config_of(&voters_of(&[3, 4, 5]));
    assert_eq!(
        steps_text(&old, &new, 1),
        "add-learner 4, add-learner 5, promote 4, promote 5, remove 2, remove 1"
    );
    let mut demoted = config_of(&voters_of(&[2, 3]));
    demoted.members.insert(
        1,
        ServerSpec {
            role: PeerRole::Observer,
            ..old.members[&1].clone()
        },
    );
    demoted.members.insert(
        4,
        ServerSpec {
            role: PeerRole::Observer,
            ..old.members[&1].clone()
        },
    );
    demoted.members.get_mut(&4).expect("member 4").id = 4;
    assert_eq!(
        steps_text(&old, &demoted, 1),
        "add-learner 4, remove 1, add-learner 1"
    );
}

/// True when every majority of `a` meets every majority of `b`: even majorities chosen to
/// avoid the other set as far as they can must share a server.
fn majorities_overlap(a: &BTreeSet<NodeId>, b: &BTreeSet<NodeId>) -> bool {
    let common = a.intersection(b).count();
    let need_a = (a.len() / 2 + 1).saturating_sub(a.len() - common);
    let need_b = (b.len() / 2 + 1).saturating_sub(b.len() - common);
    need_a + need_b > common
}

fn random_config(prng: &mut raft::Prng) -> ClusterConfig {
    loop {
        let mut roles = Vec::new();
        for id in 1..=7 {
            match prng.below(3) {
                0 => {}
                1 => roles.push((id, PeerRole::Participant)),
                _ => roles.push((id, PeerRole::Observer)),
            }
        }
        let config = config_of(&roles);
        if !config.voters().is_empty() {
            return config;
        }
    }
}

/// Checks one plan step by step: each step is a legal single-server change, every majority of
/// each voter set meets every majority of the next, voters never fall below the smaller of
/// the old and new counts, the leader votes until its own removal, and the end is the target.
fn check_steps(current: &ClusterConfig, target: &ClusterConfig, leader: u64, case: &str) {
    let steps = raft_steps(current, target, leader);
    let context = || format!("{case}: {current:?} -> {target:?} leader {leader}: {steps:?}");
    let floor = current.voters().len().min(target.voters().len());
    let mut membership = current.membership();
    let mut leader_removed = false;
    for step in &steps {
        assert!(
            !leader_removed || *step == ConfChange::AddLearner(NodeId(leader)),
            "{}",
            context()
        );
        let next = membership
            .apply(step)
            .unwrap_or_else(|e| panic!("{e}: {}", context()));
        assert!(
            majorities_overlap(&membership.voters, &next.voters),
            "{}",
            context()
        );
        assert!(next.voters.len() >= floor, "{}", context());
        leader_removed |= *step == ConfChange::Remove(NodeId(leader));
        membership = next;
    }
    assert_eq!(membership, target.membership(), "{}", context());
}

#[test]
fn random_plans_keep_a_quorum_overlap_at_every_step() {
    const SEED: u64 = 0x5eed_f2ec;
    let mut prng = raft::Prng::new(SEED);
    for case in 0..3000 {
        let current = random_config(&mut prng);
        let voters: Vec<u64> = current.voters().into_iter().collect();
        let leader = voters[prng.below(voters.len() as u64) as usize];
        let target = random_config(&mut prng);
        check_steps(
            &current,
            &target,
            leader,
            &format!("SEED={SEED:#x} case {case}"),
        );
    }
}

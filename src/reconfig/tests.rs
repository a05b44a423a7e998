//! Golden texts and error codes below were captured from a live ZooKeeper 3.8.0 ensemble
//! (commands in /work/notes/reconfig-zk-behaviour.md).

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

#[test]
fn spec_renders_as_zookeeper_3_8_prints_it() {
    // (joiner value sent, the server.5 value ZooKeeper then stored)
    let cases = [
        (
            "127.0.0.1:26403:26503;26303",
            "127.0.0.1:26403:26503:participant;0.0.0.0:26303",
        ),
        ("127.0.0.1:26200:26300", "127.0.0.1:26200:26300:participant"),
        (
            "[::1]:26404:26504:observer;[::1]:26304",
            "[0:0:0:0:0:0:0:1]:26404:26504:observer;[0:0:0:0:0:0:0:1]:26304",
        ),
        (
            "[2001:DB8::0A]:26404:26504:observer;[2001:db8::b]:26304",
            "[2001:db8:0:0:0:0:0:a]:26404:26504:observer;[2001:db8:0:0:0:0:0:b]:26304",
        ),
        (
            "[::ffff:10.0.0.1]:26404:26504:observer;26304",
            "10.0.0.1:26404:26504:observer;0.0.0.0:26304",
        ),
        (
            ":26404:26504:observer;26304",
            "localhost:26404:26504:observer;0.0.0.0:26304",
        ),
        (
            "127.0.0.1:0:26504:observer;26304",
            "127.0.0.1:0:26504:observer;0.0.0.0:26304",
        ),
        (
            "127.0.0.1:+26404:26504:observer;26304",
            "127.0.0.1:26404:26504:observer;0.0.0.0:26304",
        ),
        (
            "ZK-Host.Example:26404:26504:observer;ZK-Client.Example:26304",
            "ZK-Host.Example:26404:26504:observer;ZK-Client.Example:26304",
        ),
        (
            "127.0.0.1:26404:26504: OBSERVER ;26304",
            "127.0.0.1:26404:26504:observer;0.0.0.0:26304",
        ),
        (
            "127.0.0.1:26404:26504:;26304",
            "127.0.0.1:26404:26504:participant;0.0.0.0:26304",
        ),
        (
            "127.0.0.1 :26404:26504:observer;26304",
            "127.0.0.1 :26404:26504:observer;0.0.0.0:26304",
        ),
        (
            "127.0.0.1:26404:26504:observer;:26304",
            "127.0.0.1:26404:26504:observer;localhost:26304",
        ),
        (
            "127.0.0.1:26404:26504:observer;0",
            "127.0.0.1:26404:26504:observer;0.0.0.0:0",
        ),
        ("[zk1]:1:2", "zk1:1:2:participant"),
    ];
    for (value, expected) in cases {
        assert_eq!(render(value), expected, "{value}");
        assert_eq!(
            render(expected),
            expected,
            "rendered text {expected} must be a fixed point"
        );
    }
}

#[test]
fn spec_errors_split_like_zookeepers_replies() {
    let format = |value: &str, needle: &str| match refuse(value) {
        SpecError::Format(m) => assert!(m.contains(needle), "{value}: {m}"),
        other => panic!("{value}: expected Format (BadArguments), got {other:?}"),
    };
    format("foo", "does not have the form server_config");
    format("", "does not have the form server_config");
    format(
        "127.0.0.1:26404:26504:leader;26304",
        "Unrecognised peertype: leader",
    );
    format(
        "127.0.0.1:26404:26404;26304",
        "Client and election port must be different",
    );
    format(
        "127.0.0.1:1:2|127.0.0.2:3:4;5",
        "Multiple address feature is disabled",
    );
    format(
        "127.0.0.1:26404:26504:observer;h:1:2",
        "does not have the form",
    );
    format(
        "127.0.0.1:26404:26504:observer:x;26304",
        "does not have the form",
    );
    format(
        "127.0.0.1:26404:26504:observer;26304;1",
        "does not have the form",
    );
    format(
        "[::1:26404:26504",
        "starts with '[' but has no matching ']:'",
    );
    format("[::1]:", "doesn't have a port after colon");
    format("127.0.0.1::26504", "Address unresolved: 127.0.0.1:");
    format("127.0.0.1:26404:26504;abc", "Address unresolved");
    format("127.0.0.1:99999999999:1", "Address unresolved");
    // Our refusals of what Java accepts by accident.
    format("[::1]x26404:26504", "expected ':' after ']'");
    format("127.1:1:2", "not a dotted-quad IPv4 address");
    format("010.000.000.001:1:2", "not a dotted-quad IPv4 address");
    format("[fe80::1%lo]:1:2", "not a valid IPv6 address");
    format("|;2181", "has no server address");
    let runtime = |value: &str, needle: &str| match refuse(value) {
        SpecError::Runtime(m) => assert!(m.contains(needle), "{value}: {m}"),
        other => panic!("{value}: expected Runtime (MarshallingError), got {other:?}"),
    };
    runtime("127.0.0.1:70000:26504;26304", "port out of range:70000");
    runtime("127.0.0.1:26404:26504;70000", "port out of range:70000");
    runtime("127.0.0.1:-1:26504;26304", "port out of range:-1");
    runtime(";", "has no server part");
    runtime("127.0.0.1:1:2;:", "has no port");
}

#[test]
fn spec_lines_parse_and_print_back() {
    let line = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181";
    let spec = ServerSpec::parse_line(line).expect("valid line");
    assert_eq!(spec.id, 1);
    assert_eq!(spec.host, "127.0.0.1");
    assert_eq!((spec.quorum_port, spec.election_port), (2888, 3888));
    assert_eq!(spec.role, PeerRole::Participant);
    assert_eq!(spec.client, Some(("0.0.0.0".to_string(), 2181)));
    assert_eq!(spec.line(), line);
    let spaced = ServerSpec::parse_line(" server.1 = 127.0.0.1:2888:3888;2181 ").expect("blanks");
    assert_eq!(spaced.line(), line);
    assert!(matches!(
        ServerSpec::parse_line("server.x=h:1:2"),
        Err(SpecError::Runtime(_))
    ));
    assert!(matches!(
        ServerSpec::parse_line("server.0=h:1:2"),
        Err(SpecError::Format(_))
    ));
    assert!(matches!(
        ServerSpec::parse_line("server.-1=h:1:2"),
        Err(SpecError::Format(_))
    ));
    assert!(matches!(
        ServerSpec::parse_line("peer.1=h:1:2"),
        Err(SpecError::Format(_))
    ));
    assert!(matches!(
        ServerSpec::parse_line("server.1"),
        Err(SpecError::Format(_))
    ));
    assert!(ServerSpec::parse(0, "h:1:2").is_err());
}

#[test]
fn config_text_is_zookeepers_byte_for_byte() {
    let config = initial();
    assert_eq!(config.version, 0x1_0000_0000);
    assert_eq!(config.members.len(), 3);
    assert_eq!(config.render(), ZK_INITIAL);
    let after_add = ClusterConfig::parse(ZK_AFTER_ADD).expect("ZooKeeper's text parses");
    assert_eq!(after_add.render(), ZK_AFTER_ADD);
    assert!(
        !after_add.render().ends_with('\n'),
        "no newline after the version line"
    );
}

#[test]
fn config_lines_follow_javas_hash_map_order() {
    // 3.8.0 after adding observers 20, 17, 16 to servers 1-3: 16 hashes to bucket 0,
    // 17 shares bucket 1 with server 1, 20 sits in bucket 4.
    let zk = "server.16=127.0.0.1:26616:26716:observer;0.0.0.0:26816\n\
        server.1=127.0.0.1:26200:26300:participant\n\
        server.17=127.0.0.1:26617:26717:observer;0.0.0.0:26817\n\
        server.2=127.0.0.1:26201:26301:participant\n\
        server.3=127.0.0.1:26202:26302:participant\n\
        server.20=127.0.0.1:26620:26720:observer;0.0.0.0:26820\n\
        version=100000065";
    let config = ClusterConfig::parse(zk).expect("ZooKeeper's text parses");
    assert_eq!(config.render(), zk);
    // 13 members outgrow a 16-slot table: then 16 follows 15 again, 32 comes first.
    let ids: Vec<u64> = (1..=12).chain([32]).collect();
    assert_eq!(java_hash_order(ids.iter(), ids.len())[0], 32);
    assert_eq!(java_hash_order([1, 16, 2].iter(), 3), vec![16, 1, 2]);
}

#[test]
fn config_text_errors_name_the_line() {
    let error = |text: &str| ClusterConfig::parse(text).expect_err(text);
    assert_eq!(error("server.1=h:1:2\nfoo=bar").line, 2);
    assert!(error("server.1=h:1:2\nfoo=bar")
        .message
        .contains("unexpected key 'foo'"));
    assert!(error("version=xyz").message.contains("not hexadecimal"));
    assert!(error("version=1\nversion=2").message.contains("twice"));
    assert!(error("server.1=h:1:2\nserver.1=h:3:4")
        .message
        .contains("server.1 is listed twice"));
    assert!(error("server.1=h:1:2\\\n").message.contains("backslash"));
    let bad_spec = error("# comment\n\nserver.2=h:1:1");
    assert_eq!(bad_spec.line, 3);
    assert!(bad_spec
        .to_string()
        .starts_with("/zookeeper/config line 3: server.2: Client and"));
    assert!(error("server.0=h:1:2").message.contains("not positive"));
    // A standalone ZooKeeper stores an empty /zookeeper/config.
    assert_eq!(ClusterConfig::parse(""), Ok(ClusterConfig::default()));
    let crlf = ClusterConfig::parse("server.1=h:1:2\r\nversion=a\r\n").expect("CRLF lines");
    assert_eq!(crlf.version, 10);
}

#[test]
fn config_maps_roles_to_raft_membership() {
    let mut config = initial();
    let observer = ServerSpec::parse(5, "h:1:2:observer;3").expect("valid");
    config.members.insert(5, observer);
    let membership = config.membership();
    let ids = |set: &BTreeSet<NodeId>| set.iter().map(|n| n.0).collect::<Vec<_>>();
    assert_eq!(ids(&membership.voters), vec![1, 2, 3]);
    assert_eq!(ids(&membership.learners), vec![5]);
    assert_eq!(config.voters(), BTreeSet::from([1, 2, 3]));
}

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
        synced,
        may_write_config: true,
    }
}

fn request(joining: &str, leaving: &str, new_members: &str, from: i64) -> ReconfigRequest {
    ReconfigRequest {
        joining_servers: joining.to_string(),
        leaving_servers: leaving.to_string(),
        new_members: new_members.to_string(),
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

#[test]
fn random_text_never_panics_the_parsers() {
    const ALPHABET: &[u8] = b"0123456789:;[]|.,=# \nabfrv-+server.observer";
    let mut prng = raft::Prng::new(0xf022);
    let synced = synced_followers();
    for _ in 0..20_000 {
        let len = prng.below(40) as usize;
        let text: String = (0..len)
            .map(|_| ALPHABET[prng.below(ALPHABET.len() as u64) as usize] as char)
            .collect();
        let _spec = ServerSpec::parse(1, &text);
        let _line = ServerSpec::parse_line(&text);
        let _config = ClusterConfig::parse(&text);
        for r in [
            request(&text, "", "", -1),
            request("", &text, "", -1),
            request("", "", &text, -1),
        ] {
            if let Ok(target) = plan(&initial(), &r, &view(&synced)) {
                let text = target.render();
                let back = ClusterConfig::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
                assert_eq!(back, target, "render/parse round trip of {text:?}");
            }
        }
    }
}

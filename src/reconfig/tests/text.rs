//! ServerSpec and /zookeeper/config text: parsing, printing and their errors.

use super::*;

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

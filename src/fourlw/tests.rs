//! Golden tests: the expected strings were captured from ZooKeeper 3.8.0 standalone
//! (`zk-ref.sh 4lw PORT WORD`) with two sessions holding an ephemeral node and three data
//! watches; the view below reproduces that server's state, including its version string.
//! Where ZooKeeper prints in hash order we print sorted, and the expected text says so.

use super::*;
use crate::config::Config;

const ZK_VERSION: &str = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC";
const SESSION_A: u64 = 0x1000004c09f0000;
const SESSION_B: u64 = 0x1000004c09f0001;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The connection sending the word: no session, interest 0, one packet (the word) received.
fn asking(port: u16) -> ConnView {
    ConnView {
        remote: addr(port),
        interest_ops: 0,
        queued: 0,
        packets_received: 1,
        packets_sent: 0,
        session_id: 0,
        last_operation: "NA",
        established_ms: 0,
        session_timeout_ms: 0,
        last_cxid: None,
        last_zxid: 0,
        last_response_ms: 0,
        last_latency_ms: 0,
        latency: LatencyStats::default(),
        expires_at_ms: Some(1795265184000),
    }
}

fn session_conn(port: u16, session_id: u64) -> ConnView {
    ConnView {
        interest_ops: 1,
        session_id,
        expires_at_ms: Some(1795265204000),
        ..asking(port)
    }
}

fn view(config: &Config) -> ServerView<'_> {
    let mut b = session_conn(58790, SESSION_B);
    (b.packets_received, b.packets_sent, b.last_operation) = (3, 3, "EXIS");
    (b.established_ms, b.session_timeout_ms, b.last_cxid) = (1795265166743, 30000, Some(6));
    (b.last_zxid, b.last_response_ms, b.last_latency_ms) = (4, 322277, 0);
    b.latency = LatencyStats {
        count: 3,
        total_ms: 1,
        min_ms: 0,
        max_ms: 1,
    };
    let mut a = session_conn(58776, SESSION_A);
    (a.packets_received, a.packets_sent, a.last_operation) = (5, 5, "GETC");
    (a.established_ms, a.session_timeout_ms, a.last_cxid) = (1795265166727, 30000, Some(4));
    (a.last_zxid, a.last_response_ms, a.last_latency_ms) = (4, 322274, 1);
    a.latency = LatencyStats {
        count: 5,
        total_ms: 26,
        min_ms: 0,
        max_ms: 12,
    };
    ServerView {
        config,
        version: ZK_VERSION.to_string(),
        is_serving: true,
        read_only: false,
        mode: "standalone",
        last_processed_zxid: 4,
        node_count: 7,
        latency: LatencyStats {
            count: 4,
            total_ms: 14,
            min_ms: 0,
            max_ms: 12,
        },
        packets_received: 18,
        packets_sent: 18,
        outstanding_requests: 0,
        connections: vec![asking(58792), b, a],
        data_watches: vec![
            (SESSION_B, vec!["/per".to_string(), "/nonexist".to_string()]),
            (SESSION_A, vec!["/eph".to_string()]),
        ],
        watch_count: 4,
        ephemerals: vec![(SESSION_A, vec!["/eph".to_string()])],
        sessions: vec![(SESSION_B, 1795265198000), (SESSION_A, 1795265198000)],
        approximate_data_size: 58,
        data_dir_size_bytes: 67109337,
        data_log_dir_size_bytes: 67109337,
        environment: vec![
            ("zookeeper.version".to_string(), ZK_VERSION.to_string()),
            ("host.name".to_string(), "localhost".to_string()),
        ],
        uptime_ms: 12792,
        open_file_descriptor_count: Some(43),
        max_file_descriptor_count: Some(20000),
        client_response_sizes: BufferSizes {
            last: 16,
            min: 16,
            max: 93,
        },
        auth_failed_count: 0,
        proposal_sizes: None,
        trace_mask: 306,
        digest_log: Vec::new(),
        extra_metrics: Vec::new(),
        log_info: LogInfo {
            first_log_idx: 1,
            first_log_term: 0,
            last_log_idx: 101,
            last_log_term: 0,
            last_committed_log_idx: 100,
            leader_committed_log_idx: 101,
            target_committed_log_idx: 101,
            last_snapshot_idx: 50,
        },
        profile_events: vec![
            ProfileEvent {
                name: "packets_received".to_string(),
                value: 12,
                description: "Packets received from clients",
            },
            ProfileEvent {
                name: "watch_bytes".to_string(),
                value: 0,
                description: "Bytes of watch notifications sent",
            },
        ],
    }
}

fn config() -> Config {
    let text = "tickTime=2000\ndataDir=/tmp/zkc/data\nclientPort=23381\nmaxClientCnxns=0\n";
    match Config::parse(text, "zoo.cfg") {
        Ok((config, _)) => config,
        Err(error) => panic!("{error}"),
    }
}

fn all() -> Whitelist {
    Whitelist::parse("*").0
}

fn say(word: Word, view: &ServerView<'_>) -> String {
    answer(word, &all(), view).text
}

#[test]
fn words_are_recognised_only_by_their_exact_bytes() {
    assert_eq!(Word::from_bytes(b"ruok"), Some(Word::Ruok));
    assert_eq!(
        Word::from_bytes(&[0xff, 0xf4, 0xff, 0xfd]),
        Some(Word::TelnetClose)
    );
    assert!(is_four_letter_word(b"mntr"));
    assert!(!is_four_letter_word(b"xxxx"));
    assert!(!is_four_letter_word(b"RUOK"));
    assert!(!is_four_letter_word(&[0, 0, 0, 45]));
    for (word, bytes, name) in WORDS {
        assert_eq!(word.as_str(), *name);
        // As a length prefix every word is negative or far above any jute.maxbuffer.
        let as_length = i32::from_be_bytes(**bytes);
        assert!(
            !(0..=0x0fff_ffff).contains(&as_length),
            "{name} = {as_length}"
        );
    }
}

#[test]
fn ruok_isro_gtmk_have_no_trailing_newline() {
    let config = config();
    let view = view(&config);
    assert_eq!(say(Word::Ruok, &view), "imok");
    assert_eq!(say(Word::Isro, &view), "rw");
    assert_eq!(say(Word::Gtmk, &view), "306");
    assert_eq!(say(Word::TelnetClose, &view), "");
    let read_only = ServerView {
        read_only: true,
        ..view.clone()
    };
    assert_eq!(say(Word::Isro, &read_only), "ro");
}

#[test]
fn lgif_prints_clickhouse_keepers_fields_in_its_order() {
    let config = config();
    let view = view(&config);
    let reply = answer(Word::Lgif, &all(), &view);
    assert_eq!(
        reply.text,
        "first_log_idx\t1\nfirst_log_term\t0\nlast_log_idx\t101\nlast_log_term\t0\n\
         last_committed_log_idx\t100\nleader_committed_log_idx\t101\n\
         target_committed_log_idx\t101\nlast_snapshot_idx\t50\n"
    );
    assert_eq!(reply.action, Action::None);
}

#[test]
fn csnp_answers_the_index_as_clickhouse_keeper_does_and_asks_for_a_snapshot() {
    let config = config();
    let view = view(&config);
    let reply = answer(Word::Csnp, &all(), &view);
    assert_eq!(reply.text, "4", "the bare last committed index, no newline");
    assert_eq!(reply.action, Action::CreateSnapshot);
    assert!(
        !needs_view(Word::Csnp, &all()),
        "the minimal view carries the index"
    );
    let (whitelist, _) = Whitelist::parse("ruok");
    assert_eq!(answer(Word::Csnp, &whitelist, &view).action, Action::None);
}

#[test]
fn words_outside_the_whitelist_are_refused_like_zookeeper() {
    let config = config();
    let view = view(&config);
    let (whitelist, _) = Whitelist::parse("ruok, stat");
    let refused = answer(Word::Mntr, &whitelist, &view);
    assert_eq!(
        refused.text,
        "mntr is not executed because it is not in the whitelist.\n"
    );
    assert_eq!(refused.action, Action::None);
    let telnet = answer(Word::TelnetClose, &whitelist, &view).text;
    assert_eq!(
        telnet,
        "telnet close is not executed because it is not in the whitelist.\n"
    );
    let crst = answer(Word::Crst, &whitelist, &view);
    assert_eq!(crst.action, Action::None, "a refused crst resets nothing");
    assert_eq!(
        answer(Word::Srvr, &Whitelist::zookeeper_default(), &view).action,
        Action::None
    );
    assert!(answer(Word::Srvr, &whitelist, &view)
        .text
        .starts_with("Zookeeper version: "));
    assert!(!needs_view(Word::Mntr, &whitelist));
    assert!(!needs_view(Word::Ruok, &whitelist));
    assert!(needs_view(Word::Stat, &whitelist));
}

#[test]
fn srvr_matches_zookeeper() {
    let config = config();
    let expected = format!(
        "Zookeeper version: {ZK_VERSION}\nLatency min/avg/max: 0/3.5/12\nReceived: 18\nSent: 18\n\
         Connections: 3\nOutstanding: 0\nZxid: 0x4\nMode: standalone\nNode count: 7\n"
    );
    assert_eq!(say(Word::Srvr, &view(&config)), expected);
}

#[test]
fn stat_lists_clients_briefly() {
    let config = config();
    let expected = format!(
        "Zookeeper version: {ZK_VERSION}\nClients:\n\
         \x20/127.0.0.1:58792[0](queued=0,recved=1,sent=0)\n\
         \x20/127.0.0.1:58790[1](queued=0,recved=3,sent=3)\n\
         \x20/127.0.0.1:58776[1](queued=0,recved=5,sent=5)\n\
         \nLatency min/avg/max: 0/3.5/12\nReceived: 18\nSent: 18\nConnections: 3\nOutstanding: 0\n\
         Zxid: 0x4\nMode: standalone\nNode count: 7\n"
    );
    assert_eq!(say(Word::Stat, &view(&config)), expected);
}

#[test]
fn stat_of_a_leader_adds_proposal_sizes_and_read_only_line() {
    let config = config();
    let mut leader = view(&config);
    leader.proposal_sizes = Some(BufferSizes {
        last: 10,
        min: 5,
        max: 20,
    });
    leader.read_only = true;
    let text = say(Word::Srvr, &leader);
    assert!(
        text.ends_with("Node count: 7\nProposal sizes last/min/max: 10/5/20\n"),
        "{text}"
    );
    assert!(
        text.contains("UTC\nREAD-ONLY mode; serving only read-only clients\nLatency"),
        "{text}"
    );
}

#[test]
fn cons_prints_session_details() {
    let config = config();
    let expected = " /127.0.0.1:58792[0](queued=0,recved=1,sent=0)\n \
        /127.0.0.1:58790[1](queued=0,recved=3,sent=3,sid=0x1000004c09f0001,lop=EXIS,\
        est=1795265166743,to=30000,lcxid=0x6,lzxid=0x4,lresp=322277,llat=0,minlat=0,avglat=0,\
        maxlat=1)\n \
        /127.0.0.1:58776[1](queued=0,recved=5,sent=5,sid=0x1000004c09f0000,lop=GETC,\
        est=1795265166727,to=30000,lcxid=0x4,lzxid=0x4,lresp=322274,llat=1,minlat=0,avglat=5,\
        maxlat=12)\n\n";
    assert_eq!(say(Word::Cons, &view(&config)), expected);
}

#[test]
fn cons_after_crst_shows_reset_connection_stats() {
    let config = config();
    let mut reset = session_conn(34890, 0x1000004c09f0002);
    (
        reset.established_ms,
        reset.session_timeout_ms,
        reset.last_zxid,
    ) = (1795265429632, 30000, -1);
    (reset.packets_received, reset.packets_sent) = (0, 0);
    let view = ServerView {
        connections: vec![reset],
        ..view(&config)
    };
    let expected = " /127.0.0.1:34890[1](queued=0,recved=0,sent=0,sid=0x1000004c09f0002,lop=NA,\
        est=1795265429632,to=30000,lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,\
        maxlat=0)\n\n";
    assert_eq!(say(Word::Cons, &view), expected);
}

#[test]
fn crst_and_srst_ask_for_resets() {
    let config = config();
    let view = view(&config);
    let crst = answer(Word::Crst, &all(), &view);
    assert_eq!(
        (crst.text.as_str(), crst.action),
        ("Connection stats reset.\n", Action::ResetConnectionStats)
    );
    let srst = answer(Word::Srst, &all(), &view);
    assert_eq!(
        (srst.text.as_str(), srst.action),
        ("Server stats reset.\n", Action::ResetServerStats)
    );
    let latency = LatencyStats::default();
    let after = ServerView {
        latency,
        ..view.clone()
    };
    assert!(say(Word::Srvr, &after).contains("\nLatency min/avg/max: 0/0.0/0\n"));
}

#[test]
fn stmk_sets_the_mask_it_echoes() {
    let answer = answer_set_trace_mask(0x132i64.to_be_bytes(), &all());
    assert_eq!(
        (answer.text.as_str(), answer.action),
        ("306", Action::SetTraceMask(306))
    );
    let refused = answer_set_trace_mask([0; 8], &Whitelist::zookeeper_default());
    assert_eq!(refused.action, Action::None);
}

#[test]
fn conf_and_dirs_match_zookeeper() {
    let config = config();
    let view = view(&config);
    let conf = say(Word::Conf, &view);
    assert!(conf.starts_with("clientPort=23381\nsecureClientPort=-1\ndataDir=/tmp/zkc/data\n"));
    assert!(conf.contains("\ndataDirSize=67109337\n"), "{conf}");
    assert!(
        conf.ends_with("clientPortListenBacklog=-1\nserverId=0\n"),
        "{conf}"
    );
    assert_eq!(
        say(Word::Dirs, &view),
        "datadir_size: 67109337\nlogdir_size: 67109337\n"
    );
}

#[test]
fn watch_words_match_zookeeper_in_sorted_order() {
    let config = config();
    let view = view(&config);
    assert_eq!(
        say(Word::Wchs, &view),
        "2 connections watching 3 paths\nTotal watches:3\n"
    );
    // ZooKeeper printed session ...0001 first (hash order); we sort.
    let wchc = "0x1000004c09f0000\n\t/eph\n0x1000004c09f0001\n\t/nonexist\n\t/per\n\n";
    assert_eq!(say(Word::Wchc, &view), wchc);
    let wchp =
        "/eph\n\t0x1000004c09f0000\n/nonexist\n\t0x1000004c09f0001\n/per\n\t0x1000004c09f0001\n\n";
    assert_eq!(say(Word::Wchp, &view), wchp);
    let empty = ServerView {
        data_watches: Vec::new(),
        ..view.clone()
    };
    assert_eq!(
        say(Word::Wchs, &empty),
        "0 connections watching 0 paths\nTotal watches:0\n"
    );
    assert_eq!(say(Word::Wchc, &empty), "\n");
    assert_eq!(say(Word::Wchp, &empty), "\n");
}

#[test]
fn dump_matches_zookeeper_except_empty_buckets() {
    let config = config();
    // ZooKeeper also printed an empty bucket ("0 expire at ...:") and counted it in
    // "Connections Sets (3)/(3)"; we keep no empty buckets.
    let expected = "SessionTracker dump:\nSession Sets (1)/(2):\n\
        2 expire at Sat Nov 21 12:46:38 UTC 2026:\n\t0x1000004c09f0000\n\t0x1000004c09f0001\n\
        ephemeral nodes dump:\nSessions with Ephemerals (1):\n0x1000004c09f0000:\n\t/eph\n\
        Connections dump:\nConnections Sets (2)/(3):\n\
        1 expire at Sat Nov 21 12:46:24 UTC 2026:\n\tip: /127.0.0.1:58792 sessionId: 0x0\n\
        2 expire at Sat Nov 21 12:46:44 UTC 2026:\n\
        \tip: /127.0.0.1:58790 sessionId: 0x1000004c09f0001\n\
        \tip: /127.0.0.1:58776 sessionId: 0x1000004c09f0000\n";
    assert_eq!(say(Word::Dump, &view(&config)), expected);
}

#[test]
fn mntr_prints_zookeepers_standalone_lines_in_order() {
    let config = config();
    let mut view = view(&config);
    (view.packets_received, view.packets_sent) = (25, 25);
    view.extra_metrics
        .push(("fsync_count".to_string(), "7".to_string()));
    let expected = format!(
        "zk_version\t{ZK_VERSION}\nzk_server_state\tstandalone\nzk_ephemerals_count\t1\n\
         zk_num_alive_connections\t3\nzk_avg_latency\t3.5\nzk_outstanding_requests\t0\n\
         zk_znode_count\t7\nzk_global_sessions\t2\nzk_non_mtls_remote_conn_count\t0\n\
         zk_last_client_response_size\t16\nzk_packets_sent\t25\nzk_packets_received\t25\n\
         zk_max_client_response_size\t93\nzk_connection_drop_probability\t0.0\n\
         zk_watch_count\t4\nzk_auth_failed_count\t0\nzk_min_latency\t0\n\
         zk_max_file_descriptor_count\t20000\nzk_approximate_data_size\t58\n\
         zk_open_file_descriptor_count\t43\nzk_local_sessions\t0\nzk_uptime\t12792\n\
         zk_max_latency\t12\nzk_outstanding_tls_handshake\t0\nzk_min_client_response_size\t16\n\
         zk_non_mtls_local_conn_count\t0\nzk_fsync_count\t7\n"
    );
    assert_eq!(say(Word::Mntr, &view), expected);
    view.open_file_descriptor_count = None;
    assert!(!say(Word::Mntr, &view).contains("zk_open_file_descriptor_count"));
}

#[test]
fn envi_lists_the_environment() {
    let config = config();
    let expected = format!("Environment:\nzookeeper.version={ZK_VERSION}\nhost.name=localhost\n");
    assert_eq!(say(Word::Envi, &view(&config)), expected);
}

#[test]
fn a_server_that_is_not_serving_says_so() {
    let config = config();
    let view = ServerView {
        is_serving: false,
        ..view(&config)
    };
    let not_serving = "This ZooKeeper instance is not currently serving requests\n";
    for word in [
        Word::Srvr,
        Word::Stat,
        Word::Cons,
        Word::Conf,
        Word::Dump,
        Word::Mntr,
        Word::Wchs,
    ] {
        assert_eq!(say(word, &view), not_serving, "{word:?}");
    }
    let crst = answer(Word::Crst, &all(), &view);
    assert_eq!(
        (crst.text.as_str(), crst.action),
        (not_serving, Action::None)
    );
    assert_eq!(say(Word::Ruok, &view), "imok");
    assert_eq!(say(Word::Isro, &view), "null");
    assert!(say(Word::Envi, &view).starts_with("Environment:\n"));
}

#[test]
fn hash_prints_the_digest_log() {
    let config = config();
    let view = ServerView {
        digest_log: vec![(0x100000001, 42), (0x100000002, 7)],
        ..view(&config)
    };
    assert_eq!(say(Word::Hash, &view), "100000001: 42\n100000002: 7\n");
}

#[test]
fn latency_stats_follow_zookeeper_rounding() {
    let mut stats = LatencyStats::default();
    assert_eq!(
        (stats.min(), stats.avg_server(), stats.avg_connection()),
        (0, "0.0".to_string(), 0)
    );
    for ms in [1, 2, 4] {
        stats.min_ms = if stats.count == 0 {
            ms
        } else {
            stats.min_ms.min(ms)
        };
        stats.max_ms = stats.max_ms.max(ms);
        stats.count += 1;
        stats.total_ms += ms;
    }
    assert_eq!(
        (stats.min(), stats.max_ms, stats.avg_server()),
        (1, 4, "2.3333".to_string())
    );
    assert_eq!(stats.avg_connection(), 2);
}

#[test]
fn java_formats_are_reproduced() {
    assert_eq!(java_double(0.0), "0.0");
    assert_eq!(java_double(3.5), "3.5");
    assert_eq!(java_double(1234567.0), "1234567.0");
    assert_eq!(java_double(1.0e7), "1.0E7");
    assert_eq!(java_double(12345678.5), "1.23456785E7");
    assert_eq!(java_double(0.0001), "1.0E-4");
    assert_eq!(format::java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
    assert_eq!(
        format::java_date(1795265198000),
        "Sat Nov 21 12:46:38 UTC 2026"
    );
    assert_eq!(
        format::java_date(951782400000),
        "Tue Feb 29 00:00:00 UTC 2000"
    );
    let v6: SocketAddr = "[::1]:2181".parse().expect("addr");
    assert_eq!(format::java_socket_address(&v6), "/[0:0:0:0:0:0:0:1]:2181");
    let mapped: SocketAddr = "[::ffff:10.0.0.1]:5".parse().expect("addr");
    assert_eq!(format::java_socket_address(&mapped), "/10.0.0.1:5");
}

#[test]
fn last_operation_names_match_final_request_processor() {
    assert_eq!(last_operation_name(4), "GETD");
    assert_eq!(last_operation_name(12), "GETC");
    assert_eq!(last_operation_name(-10), "SESS");
    assert_eq!(last_operation_name(104), "GETACN");
    assert_eq!(last_operation_name(100), "NA");
}

#[test]
fn clickhouse_words_answer_in_clickhouse_keepers_shapes() {
    let config = config();
    let view = view(&config);
    assert_eq!(
        say(Word::Apiv, &view),
        "0",
        "no FilteredList: API version 0"
    );
    assert!(!needs_view(Word::Apiv, &all()));
    assert_eq!(
        say(Word::Pfev, &view),
        "packets_received\t12\tPackets received from clients\n\
         watch_bytes\t0\tBytes of watch notifications sent\n"
    );
    let same = Recalculated {
        zxid: 4,
        digest_maintained: 7,
        digest_recomputed: 7,
    };
    assert_eq!(answer_recalculate(&same, &all()).text, "ok");
    let differs = Recalculated {
        digest_recomputed: 8,
        ..same
    };
    assert_eq!(
        answer_recalculate(&differs, &all()).text,
        "digest mismatch at zxid 0x4: maintained 0x0000000000000007, \
         recalculated 0x0000000000000008\n"
    );
    assert_eq!(answer_clean_resources(&all()).text, "ok");
}

#[test]
fn clickhouse_words_honour_the_whitelist() {
    let config = config();
    let view = view(&config);
    let (only_srvr, _) = Whitelist::parse("srvr");
    for word in [Word::Apiv, Word::Pfev] {
        let expected = format!(
            "{} is not executed because it is not in the whitelist.\n",
            word.as_str()
        );
        assert_eq!(answer(word, &only_srvr, &view).text, expected);
    }
    let same = Recalculated {
        zxid: 0,
        digest_maintained: 1,
        digest_recomputed: 1,
    };
    assert_eq!(
        answer_recalculate(&same, &only_srvr).text,
        "rclc is not executed because it is not in the whitelist.\n"
    );
    assert_eq!(
        answer_clean_resources(&only_srvr).text,
        "clrs is not executed because it is not in the whitelist.\n"
    );
    let (listed, unknown) = Whitelist::parse("apiv, clrs,rclc,pfev");
    assert!(unknown.is_empty(), "{unknown:?}");
    for word in ["apiv", "clrs", "rclc", "pfev"] {
        assert!(listed.is_enabled(word), "{word}");
    }
}

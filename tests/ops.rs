//! Operations surface end to end (issue #7): every four-letter word answers in its shape,
//! `mntr` is `key\tvalue` lines carrying ZooKeeper 3.8's standalone keys, the Prometheus
//! endpoint serves text format 0.0.4 (checked by a strict parser written here) that agrees
//! with `mntr`, bad HTTP gets 400/404/405, the whitelist guards the ClickHouse words, and
//! Debian's `zktop` reads the server with its own parser.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{four_letter_word, free_port, Client, ServerProcess, TempDir};

/// Keys ZooKeeper 3.8.0's standalone `mntr` prints that a standalone ferrokeeper must print
/// too (captured with `zk-ref.sh 4lw PORT mntr`; cluster-only keys and figures of features we
/// lack are not listed).
const MNTR_KEYS_REQUIRED: &[&str] = &[
    "version",
    "server_state",
    "ephemerals_count",
    "num_alive_connections",
    "avg_latency",
    "outstanding_requests",
    "znode_count",
    "global_sessions",
    "non_mtls_remote_conn_count",
    "last_client_response_size",
    "packets_sent",
    "packets_received",
    "max_client_response_size",
    "connection_drop_probability",
    "watch_count",
    "auth_failed_count",
    "min_latency",
    "max_file_descriptor_count",
    "approximate_data_size",
    "open_file_descriptor_count",
    "local_sessions",
    "uptime",
    "max_latency",
    "outstanding_tls_handshake",
    "min_client_response_size",
    "non_mtls_local_conn_count",
    "bytes_received_count",
    "response_bytes",
    "watch_bytes",
    "connection_rejected",
    "sessionless_connections_expired",
    "avg_readlatency",
    "cnt_readlatency",
    "p99_readlatency",
    "sum_updatelatency",
    "p999_updatelatency",
    "cnt_node_created_watch_count",
    "max_node_deleted_watch_count",
    "min_node_changed_watch_count",
    "sum_node_children_watch_count",
];

fn start(tag: &str, extra_cfg: &str) -> (TempDir, ServerProcess, u16) {
    let dir = TempDir::new(tag);
    let metrics_port = free_port();
    let cfg =
        format!("metricsPort={metrics_port}\nmetricsProvider.httpHost=127.0.0.1\n{extra_cfg}");
    let server = ServerProcess::start(&dir.0, free_port(), &cfg);
    (dir, server, metrics_port)
}

fn word(port: u16, w: &str) -> String {
    four_letter_word(port, w).unwrap_or_else(|| panic!("{w}: no answer"))
}

/// `mntr` as a map; panics on any line that is not `zk_key\tvalue` or on a repeated key.
fn mntr(port: u16) -> BTreeMap<String, String> {
    let text = word(port, "mntr");
    assert!(text.ends_with('\n'), "mntr ends with a newline");
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let (key, value) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("mntr line without a tab: {line:?}"));
        let key = key
            .strip_prefix("zk_")
            .unwrap_or_else(|| panic!("mntr key without zk_: {line:?}"));
        assert!(!value.contains('\t'), "one tab per line: {line:?}");
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "key {key:?}"
        );
        assert!(
            map.insert(key.to_string(), value.to_string()).is_none(),
            "{key} repeated"
        );
    }
    map
}

// ---- a strict parser for the Prometheus text format 0.0.4 ----

#[derive(Debug)]
struct Family {
    kind: String,
    help: Option<String>,
    /// (sample name, labels, value)
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':');
    first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse::<f64>()
            .map_err(|_| format!("bad value {text:?}")),
    }
}

/// `{name="value",...}` with an optional trailing comma; values escape `\\`, `\"`, `\n`.
fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("labels not braced: {text:?}"))?;
    let mut labels = BTreeMap::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .ok_or_else(|| format!("label without =\": {rest:?}"))?;
        if !is_metric_name(name) || name.contains(':') {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated label value in {text:?}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {text:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} repeated"));
        }
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
        if !rest.is_empty() && rest.starts_with(' ') {
            return Err(format!("space in labels: {text:?}"));
        }
    }
    Ok(labels)
}

/// The family a sample belongs to: its own name, or for a summary `_count`/`_sum`.
fn family_of<'a>(families: &BTreeMap<String, Family>, sample: &'a str) -> Option<&'a str> {
    if families.contains_key(sample) {
        return Some(sample);
    }
    for suffix in ["_count", "_sum"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if families.get(base).is_some_and(|f| f.kind == "summary") {
                return Some(base);
            }
        }
    }
    None
}

fn parse_exposition(text: &str) -> Result<BTreeMap<String, Family>, String> {
    if !text.ends_with('\n') {
        return Err("the last line has no newline".into());
    }
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut pending_help: Option<(String, String)> = None;
    let mut seen_samples = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |m: String| format!("line {}: {m}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if !is_metric_name(name) || families.contains_key(name) {
                return Err(at("HELP for a bad or already typed name".into()));
            }
            pending_help = Some((name.to_string(), help.to_string()));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without a kind".into()))?;
            if !is_metric_name(name) {
                return Err(at("bad name".into()));
            }
            if !matches!(
                kind,
                "counter" | "gauge" | "summary" | "histogram" | "untyped"
            ) {
                return Err(at(format!("unknown type {kind}")));
            }
            let help = match pending_help.take() {
                Some((help_name, help)) if help_name == name => Some(help),
                Some(_) => return Err(at("HELP and TYPE name differ".into())),
                None => None,
            };
            let family = Family {
                kind: kind.to_string(),
                help,
                samples: Vec::new(),
            };
            if families.insert(name.to_string(), family).is_some() {
                return Err(at("TYPE repeated".into()));
            }
        } else if line.starts_with('#') || line.is_empty() {
            return Err(at("comments and blank lines are not expected here".into()));
        } else {
            let (series, value) = line
                .rsplit_once(' ')
                .ok_or_else(|| at("sample without a value".into()))?;
            let value = parse_value(value).map_err(at)?;
            let (name, labels) = match series.find('{') {
                Some(brace) => (
                    &series[..brace],
                    parse_labels(&series[brace..]).map_err(at)?,
                ),
                None => (series, BTreeMap::new()),
            };
            if !is_metric_name(name) {
                return Err(at("bad sample name".into()));
            }
            let family =
                family_of(&families, name).ok_or_else(|| at("sample before its TYPE".into()))?;
            let kind = families[family].kind.clone();
            if kind == "summary" && name == family && !labels.contains_key("quantile") {
                return Err(at("summary sample without quantile".into()));
            }
            if !seen_samples.insert(format!("{name}{labels:?}")) {
                return Err(at("sample repeated".into()));
            }
            let family = families.get_mut(family).expect("found above");
            family.samples.push((name.to_string(), labels, value));
        }
    }
    if let Some((name, _)) = pending_help {
        return Err(format!("HELP for {name} without TYPE"));
    }
    Ok(families)
}

#[test]
fn strict_exposition_parser_rejects_what_it_must() {
    let good = "# HELP a a\n# TYPE a gauge\na 1.0\n# TYPE s summary\n\
                s{quantile=\"0.5\",} NaN\ns_count 2.0\ns_sum 3.0\n";
    let families = parse_exposition(good).expect("valid");
    assert_eq!(families["s"].samples.len(), 3);
    for bad in [
        "a 1.0\n",                               // no TYPE
        "# TYPE a gauge\na one\n",               // bad value
        "# TYPE a gauge\na 1.0",                 // no final newline
        "# TYPE a gauge\n# TYPE a gauge\na 1\n", // TYPE twice
        "# TYPE a gauge\na{x=\"1\" 1\n",         // bad labels
        "# TYPE 9a gauge\n",                     // bad name
        "# TYPE a gauge\na 1\na 2\n",            // repeated sample
        "# TYPE s summary\ns 1\n",               // summary without quantile
        "# HELP a a\n# TYPE b gauge\nb 1\n",     // HELP/TYPE mismatch
        "# TYPE a gauge\n\na 1\n",               // blank line
        "# TYPE a gauge\na_count 1\n",           // _count of a gauge
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
}

// ---- HTTP ----

/// Sends raw bytes to the metrics port; returns (status code, headers, body).
fn http(port: u16, request: &[u8]) -> (u16, BTreeMap<String, String>, String) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .expect("read until the server closes");
    let text = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("header block");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line}");
    let code: u16 = parts.next().and_then(|c| c.parse().ok()).expect("code");
    let headers: BTreeMap<String, String> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header line");
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let length: usize = headers["content-length"].parse().expect("length");
    assert_eq!(length, body.len(), "Content-Length matches the body");
    assert_eq!(headers["connection"], "close");
    (code, headers, body.to_string())
}

fn scrape(port: u16) -> BTreeMap<String, Family> {
    let (code, headers, body) = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse_exposition(&body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

fn gauge(families: &BTreeMap<String, Family>, name: &str) -> f64 {
    let family = families
        .get(name)
        .unwrap_or_else(|| panic!("no {name} family"));
    assert_eq!(family.kind, "gauge", "{name}");
    assert_eq!(family.samples.len(), 1, "{name}");
    family.samples[0].2
}

#[test]
fn metrics_endpoint_agrees_with_mntr_and_rejects_bad_http() {
    let (_dir, server, metrics_port) = start("ops-metrics", "");
    let port = server.port;
    let mut client = Client::connect(port, 30_000).expect("connect");
    for i in 0..7 {
        client
            .create(&format!("/m{i}"), b"data", 0)
            .expect("create");
    }
    client.create("/eph", b"", 1).expect("ephemeral");
    assert_eq!(client.get_data("/m3").expect("get"), Some(b"data".to_vec()));

    let before = mntr(port);
    let families = scrape(metrics_port);
    let after = mntr(port);
    assert_eq!(before["znode_count"], after["znode_count"], "quiet server");
    let znodes: f64 = before["znode_count"].parse().expect("number");
    assert_eq!(znodes, 5.0 + 8.0, "a fresh tree counts 5, plus our 8");
    assert_eq!(gauge(&families, "znode_count"), znodes);
    for name in ["ephemerals_count", "watch_count", "approximate_data_size"] {
        let from_mntr: f64 = before[name].parse().expect("number");
        assert_eq!(gauge(&families, name), from_mntr, "{name}");
    }
    assert_eq!(gauge(&families, "ephemerals_count"), 1.0);
    // Counters and summaries carry ZooKeeper's names and types.
    let counter = &families["bytes_received_count"];
    assert_eq!(counter.kind, "counter");
    assert!(counter.samples[0].2 > 0.0, "requests were received");
    let update = &families["updatelatency"];
    assert_eq!(update.kind, "summary");
    assert_eq!(update.help.as_deref(), Some("updatelatency"));
    let count = update
        .samples
        .iter()
        .find(|(name, _, _)| name == "updatelatency_count")
        .expect("_count")
        .2;
    assert!(
        count >= 8.0,
        "8 creates went through the log, count {count}"
    );
    // Nothing ZooKeeper's provider lacks: no prefixes, no text gauges.
    assert!(!families.contains_key("version") && !families.contains_key("server_state"));
    assert!(families.keys().all(|k| !k.starts_with("zk_")));

    let (code, _, _) = http(metrics_port, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(code, 404);
    let (code, _, _) = http(metrics_port, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_eq!(code, 200);
    let (code, headers, _) = http(metrics_port, b"POST /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((code, headers["allow"].as_str()), (405, "GET"));
    let (code, _, _) = http(metrics_port, b"garbage\r\n\r\n");
    assert_eq!(code, 400);
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Long: ".to_vec();
    huge.resize(20_000, b'a');
    let (code, _, _) = http(metrics_port, &huge);
    assert_eq!(code, 400, "a request over 8 KiB");
    // After all that the endpoint still serves.
    assert_eq!(gauge(&scrape(metrics_port), "znode_count"), znodes);
}

/// The shape each word's answer must have.
fn check_shape(w: &str, text: &str, port: u16) {
    let lines: Vec<&str> = text.lines().collect();
    let number = |s: &str| s.parse::<i64>().is_ok();
    match w {
        "ruok" => assert_eq!(text, "imok"),
        "srvr" | "stat" => {
            assert!(text.starts_with("Zookeeper version: 3.8.0-"), "{text}");
            assert!(text.contains("\nMode: standalone\n"), "{text}");
            assert!(text.contains("\nNode count: "), "{text}");
        }
        "conf" => {
            assert!(lines.iter().all(|l| l.contains('=')), "{text}");
            assert!(text.contains(&format!("clientPort={port}\n")), "{text}");
        }
        "cons" => {
            // One line per connection, then a blank line, as ZooKeeper prints it.
            assert!(text.ends_with(")\n\n"), "{text}");
            let connections = &lines[..lines.len() - 1];
            assert!(
                connections.iter().all(|l| l.starts_with(" /127.0.0.1:")),
                "{text}"
            );
        }
        "crst" => assert_eq!(text, "Connection stats reset.\n"),
        "srst" => assert_eq!(text, "Server stats reset.\n"),
        "dirs" => {
            assert_eq!(lines.len(), 2, "{text}");
            let data = lines[0].strip_prefix("datadir_size: ").expect("datadir");
            let log = lines[1].strip_prefix("logdir_size: ").expect("logdir");
            assert!(number(data) && number(log), "{text}");
        }
        "dump" => assert!(text.starts_with("SessionTracker dump:\n"), "{text}"),
        "envi" => {
            assert!(text.starts_with("Environment:\n"), "{text}");
            assert!(lines[1..].iter().all(|l| l.contains('=')), "{text}");
        }
        "gtmk" => assert!(number(text), "{text}"),
        "wchs" => assert!(text.contains(" connections watching "), "{text}"),
        "wchc" | "wchp" => assert!(!text.contains("not executed"), "{text}"),
        "isro" => assert_eq!(text, "rw"),
        "hash" => assert!(lines.iter().all(|l| l.split(": ").count() == 2), "{text}"),
        "csnp" | "apiv" => assert!(number(text), "{text}"),
        "lgif" => {
            assert_eq!(lines.len(), 8, "{text}");
            for line in lines {
                let (_, v) = line.split_once('\t').expect("key\\tvalue");
                assert!(number(v), "{line}");
            }
        }
        "clrs" | "rclc" => assert_eq!(text, "ok"),
        "pfev" => {
            assert!(!lines.is_empty());
            for line in lines {
                let fields: Vec<&str> = line.split('\t').collect();
                assert_eq!(fields.len(), 3, "{line}");
                assert!(fields[1].parse::<u64>().is_ok(), "{line}");
                assert!(!fields[2].is_empty(), "{line}");
            }
        }
        "mntr" => {}
        other => panic!("no shape for {other}"),
    }
}

#[test]
fn every_word_answers_in_its_shape_and_mntr_has_zookeepers_keys() {
    let (_dir, server, _metrics_port) = start("ops-words", "");
    let port = server.port;
    let mut client = Client::connect(port, 30_000).expect("connect");
    client.create("/w", b"x", 0).expect("create");
    client.create("/w/e", b"", 1).expect("ephemeral");

    let map = mntr(port);
    for key in MNTR_KEYS_REQUIRED {
        assert!(map.contains_key(*key), "mntr lacks zk_{key}");
    }
    for (key, value) in &map {
        if key != "version" && key != "server_state" {
            assert!(value.parse::<f64>().is_ok(), "zk_{key} = {value:?}");
        }
    }
    assert_eq!(map["server_state"], "standalone");
    assert_eq!(map["znode_count"], "7");
    assert_eq!(map["ephemerals_count"], "1");
    let sent: i64 = map["response_bytes"].parse().expect("number");
    let largest: i64 = map["max_client_response_size"].parse().expect("number");
    assert!(
        largest > 0 && sent >= largest,
        "sent {sent}, largest {largest}"
    );

    let words = [
        "ruok", "srvr", "stat", "conf", "cons", "dirs", "dump", "envi", "gtmk", "wchs", "wchc",
        "wchp", "isro", "hash", "lgif", "apiv", "pfev", "rclc", "clrs", "csnp", "mntr", "crst",
        "srst",
    ];
    for w in words {
        let text = word(port, w);
        check_shape(w, &text, port);
    }
    // stmk takes an 8-byte mask and echoes it; gtmk then reads it back.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut stmk = b"stmk".to_vec();
    stmk.extend_from_slice(&1234i64.to_be_bytes());
    s.write_all(&stmk).expect("send");
    let mut echoed = String::new();
    s.read_to_string(&mut echoed).expect("read");
    assert_eq!(echoed, "1234");
    assert_eq!(word(port, "gtmk"), "1234");
    // After clrs the server still serves its sessions.
    assert_eq!(client.get_data("/w").expect("get"), Some(b"x".to_vec()));
    // rcvr has no quorum to recover on a standalone server: it says so and changes nothing
    // (a cluster's recovery is tested in tests/py/reconfig_membership.py).
    assert_eq!(
        word(port, "rcvr"),
        "rcvr refused: a standalone server has no quorum to recover"
    );
    assert_eq!(client.get_data("/w").expect("get"), Some(b"x".to_vec()));
    // srst reset the counters.
    let reset = mntr(port);
    let cnt: u64 = reset["cnt_updatelatency"].parse().expect("number");
    assert_eq!(cnt, 0, "srst resets ServerMetrics as ZooKeeper does");
}

#[test]
fn clickhouse_words_honour_the_whitelist() {
    let (_dir, server, _) = start("ops-whitelist", "4lw.commands.whitelist=ruok,mntr\n");
    let port = server.port;
    for w in ["apiv", "clrs", "rclc", "pfev", "rcvr"] {
        assert_eq!(
            word(port, w),
            format!("{w} is not executed because it is not in the whitelist.\n")
        );
    }
    assert_eq!(word(port, "ruok"), "imok");
}

/// zktop polls `stat` (not `mntr`) and parses it with its `ZKServer` class; its curses UI
/// needs a terminal, so the class is driven directly, the way its poller thread does.
#[test]
fn zktop_reads_the_server() {
    let module = std::path::Path::new("/usr/lib/python3/dist-packages/zktop.py");
    if !module.exists() {
        assert!(
            std::env::var_os("FERROKEEPER_REQUIRE_INTEROP").is_none(),
            "zktop is required (FERROKEEPER_REQUIRE_INTEROP is set): apt-get install zktop"
        );
        eprintln!("skipping: zktop is not installed (apt-get install zktop)");
        return;
    }
    let (_dir, server, _) = start("ops-zktop", "");
    let port = server.port;
    let mut client = Client::connect(port, 30_000).expect("connect");
    client.create("/z", b"", 0).expect("create");
    let script = format!(
        "import sys\nsys.argv = ['zktop']\nimport zktop\n\
         s = zktop.ZKServer('127.0.0.1:{port}', 0)\n\
         print(s.unavailable, s.mode, s.node_count, s.version, len(s.sessions), s.zxid)\n"
    );
    let mut child = Command::new("/usr/bin/python3")
        .args(["-W", "ignore", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("kill python3");
            child.wait().expect("reap");
            panic!("zktop did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let znodes = mntr(port)["znode_count"].clone();
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(
        fields[..3],
        ["False", "standalone", znodes.as_str()],
        "{stdout}"
    );
    assert_eq!(fields[3], "3.8.0", "{stdout}");
    let sessions: usize = fields[4].parse().expect("session count");
    assert!(
        sessions >= 2,
        "our client and zktop's own connection: {stdout}"
    );
    // The zxid zktop read is the one `srvr` reports (the create's: its log index).
    let srvr = word(port, "srvr");
    let zxid = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: "))
        .expect("srvr has a Zxid line");
    assert_eq!(fields[5], zxid, "{stdout}");
    assert_ne!(zxid, "0x0", "the create has a zxid");
}

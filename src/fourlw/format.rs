//! Text layouts of the four-letter words that print server state, and the Java formatting
//! rules they depend on (`Double.toString`, `Date.toString`, `Long.toHexString`,
//! `InetSocketAddress.toString`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::{ConnView, ServerView};

/// `InetSocketAddress.toString()` of an accepted socket on Java 17: `/1.2.3.4:5` or
/// `/[0:0:0:0:0:0:0:1]:5` (IPv6 groups in full, no `::` compression).
pub(super) fn java_socket_address(addr: &SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            // Java turns IPv4-mapped addresses into Inet4Address.
            Some(v4) => v4.to_string(),
            None => {
                let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
                format!("[{}]", groups.join(":"))
            }
        },
        IpAddr::V4(v4) => v4.to_string(),
    };
    format!("/{ip}:{}", addr.port())
}

/// `Double.toString`: `0.0`, `3.5`, `1234567.0`, `1.0E7`, `1.0E-4`.
pub fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let mut text = format!("{value}");
        if !text.contains('.') {
            text.push_str(".0");
        }
        return text;
    }
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let dot = if mantissa.contains('.') { "" } else { ".0" };
    format!("{mantissa}{dot}E{exponent}")
}

/// `java.util.Date.toString()` in UTC: `Sat Nov 21 12:46:38 UTC 2026`.
pub fn java_date(epoch_ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let seconds = epoch_ms / 1000;
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = crate::clock::civil_from_days(days as i64);
    let weekday = DAYS[(days % 7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    format!("{weekday} {month_name} {day:02} {hour:02}:{minute:02}:{second:02} UTC {year}")
}

/// `ServerCnxn.dumpConnectionInfo(pw, brief)` (no trailing newline).
fn connection_info(out: &mut String, conn: &ConnView, brief: bool) {
    let interest = if conn.interest_ops == 0 {
        "0".to_string()
    } else {
        format!("{:x}", conn.interest_ops)
    };
    out.push_str(&format!(
        " {}[{}](queued={},recved={},sent={}",
        java_socket_address(&conn.remote),
        interest,
        conn.queued,
        conn.packets_received,
        conn.packets_sent
    ));
    if !brief && conn.session_id != 0 {
        out.push_str(&format!(
            ",sid=0x{:x},lop={},est={},to={}",
            conn.session_id, conn.last_operation, conn.established_ms, conn.session_timeout_ms
        ));
        if let Some(cxid) = conn.last_cxid {
            out.push_str(&format!(",lcxid=0x{cxid:x}"));
        }
        out.push_str(&format!(
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            conn.last_zxid as u64,
            conn.last_response_ms,
            conn.last_latency_ms,
            conn.latency.min(),
            conn.latency.avg_connection(),
            conn.latency.max_ms
        ));
    }
    out.push(')');
}

/// `stat` (with the client list) and `srvr` (without).
pub(super) fn format_stat(view: &ServerView<'_>, with_clients: bool) -> String {
    let mut out = format!("Zookeeper version: {}\n", view.version);
    if view.read_only {
        out.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if with_clients {
        out.push_str("Clients:\n");
        for conn in &view.connections {
            connection_info(&mut out, conn, true);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Latency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\n\
         Outstanding: {}\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
        view.latency.min(),
        view.latency.avg_server(),
        view.latency.max_ms,
        view.packets_received,
        view.packets_sent,
        view.connections.len(),
        view.outstanding_requests,
        view.last_processed_zxid,
        view.mode,
        view.node_count
    ));
    if let Some(sizes) = view.proposal_sizes {
        out.push_str(&format!(
            "Proposal sizes last/min/max: {}/{}/{}\n",
            sizes.last, sizes.min, sizes.max
        ));
    }
    out
}

/// `cons`: every connection in full, one per line, then an empty line.
pub(super) fn format_cons(view: &ServerView<'_>) -> String {
    let mut out = String::new();
    for conn in &view.connections {
        connection_info(&mut out, conn, false);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `ExpiryQueue.dump`: "Sets (buckets)/(elements):" then each bucket by time.
fn expiry_dump(out: &mut String, buckets: &BTreeMap<u64, Vec<String>>) {
    let elements: usize = buckets.values().map(Vec::len).sum();
    out.push_str(&format!("Sets ({})/({}):\n", buckets.len(), elements));
    for (time_ms, items) in buckets {
        out.push_str(&format!(
            "{} expire at {}:\n",
            items.len(),
            java_date(*time_ms)
        ));
        for item in items {
            out.push_str(&format!("\t{item}\n"));
        }
    }
}

/// `dump`: session expiry buckets, ephemerals by session, connection expiry buckets.
pub(super) fn format_dump(view: &ServerView<'_>) -> String {
    let mut out = String::from("SessionTracker dump:\nSession ");
    let mut sessions: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut by_time: Vec<(u64, u64)> = view.sessions.iter().map(|&(id, at)| (at, id)).collect();
    by_time.sort_unstable();
    for (at, id) in by_time {
        sessions.entry(at).or_default().push(format!("0x{id:x}"));
    }
    expiry_dump(&mut out, &sessions);
    out.push_str("ephemeral nodes dump:\n");
    let mut ephemerals: Vec<&(u64, Vec<String>)> = view.ephemerals.iter().collect();
    ephemerals.sort_by_key(|(id, _)| *id);
    out.push_str(&format!(
        "Sessions with Ephemerals ({}):\n",
        ephemerals.len()
    ));
    for (id, paths) in ephemerals {
        out.push_str(&format!("0x{id:x}:\n"));
        let mut paths: Vec<&String> = paths.iter().collect();
        paths.sort();
        for path in paths {
            out.push_str(&format!("\t{path}\n"));
        }
    }
    out.push_str("Connections dump:\nConnections ");
    let mut connections: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for conn in &view.connections {
        if let Some(at) = conn.expires_at_ms {
            let line = format!(
                "ip: {} sessionId: 0x{:x}",
                java_socket_address(&conn.remote),
                conn.session_id
            );
            connections.entry(at).or_default().push(line);
        }
    }
    expiry_dump(&mut out, &connections);
    out
}

/// Data watches as session → sorted paths, sessions sorted.
fn watches_by_session<'v>(view: &'v ServerView<'_>) -> BTreeMap<u64, Vec<&'v str>> {
    let mut map: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (session, paths) in &view.data_watches {
        map.entry(*session)
            .or_default()
            .extend(paths.iter().map(String::as_str));
    }
    for paths in map.values_mut() {
        paths.sort_unstable();
        paths.dedup();
    }
    map.retain(|_, paths| !paths.is_empty());
    map
}

/// `wchs`: `WatchManager.toString()` plus a newline.
pub(super) fn format_wchs(view: &ServerView<'_>) -> String {
    let by_session = watches_by_session(view);
    let mut paths: Vec<&str> = by_session.values().flatten().copied().collect();
    let total = paths.len();
    paths.sort_unstable();
    paths.dedup();
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        by_session.len(),
        paths.len(),
        total
    )
}

/// `wchc`: for each session, its id then its paths indented by a tab; then an empty line.
pub(super) fn format_wchc(view: &ServerView<'_>) -> String {
    let mut out = String::new();
    for (session, paths) in watches_by_session(view) {
        out.push_str(&format!("0x{session:x}\n"));
        for path in paths {
            out.push_str(&format!("\t{path}\n"));
        }
    }
    out.push('\n');
    out
}

/// `wchp`: for each path, the path then its sessions indented by a tab; then an empty line.
pub(super) fn format_wchp(view: &ServerView<'_>) -> String {
    let mut by_path: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (session, paths) in watches_by_session(view) {
        for path in paths {
            by_path.entry(path).or_default().push(session);
        }
    }
    let mut out = String::new();
    for (path, sessions) in by_path {
        out.push_str(&format!("{path}\n"));
        for session in sessions {
            out.push_str(&format!("\t0x{session:x}\n"));
        }
    }
    out.push('\n');
    out
}

/// `mntr`: the `zk_*` lines of a ZooKeeper 3.8 standalone server that apply to us, in the
/// order it prints them, then `extra_metrics`.
pub(super) fn format_mntr(view: &ServerView<'_>) -> String {
    let mut out = String::new();
    for (key, value) in mntr_standard_lines(view) {
        out.push_str(&format!("zk_{key}\t{value}\n"));
    }
    for (key, value) in &view.extra_metrics {
        out.push_str(&format!("zk_{key}\t{value}\n"));
    }
    out
}

/// `mntr`'s standard lines (keys without `zk_`), in ZooKeeper's order; the Prometheus
/// endpoint serves the numeric ones as gauges of the same names.
pub fn mntr_standard_lines(view: &ServerView<'_>) -> Vec<(&'static str, String)> {
    let ephemerals: usize = view.ephemerals.iter().map(|(_, paths)| paths.len()).sum();
    let sizes = view.client_response_sizes;
    let fd = |count: Option<u64>| count.map(|n| n.to_string());
    // Lines whose value is None are left out (ZooKeeper registers the fd gauges on Unix only).
    let lines: [(&str, Option<String>); 26] = [
        ("version", Some(view.version.clone())),
        ("server_state", Some(view.mode.to_string())),
        ("ephemerals_count", Some(ephemerals.to_string())),
        (
            "num_alive_connections",
            Some(view.connections.len().to_string()),
        ),
        ("avg_latency", Some(view.latency.avg_server())),
        (
            "outstanding_requests",
            Some(view.outstanding_requests.to_string()),
        ),
        ("znode_count", Some(view.node_count.to_string())),
        ("global_sessions", Some(view.sessions.len().to_string())),
        // We serve no TLS, so there are no mTLS/non-mTLS connections or handshakes.
        ("non_mtls_remote_conn_count", Some("0".to_string())),
        ("last_client_response_size", Some(sizes.last.to_string())),
        ("packets_sent", Some(view.packets_sent.to_string())),
        ("packets_received", Some(view.packets_received.to_string())),
        ("max_client_response_size", Some(sizes.max.to_string())),
        // No connection throttling: the drop probability is always 0.
        ("connection_drop_probability", Some(java_double(0.0))),
        ("watch_count", Some(view.watch_count.to_string())),
        (
            "auth_failed_count",
            Some(view.auth_failed_count.to_string()),
        ),
        ("min_latency", Some(view.latency.min().to_string())),
        (
            "max_file_descriptor_count",
            fd(view.max_file_descriptor_count),
        ),
        (
            "approximate_data_size",
            Some(view.approximate_data_size.to_string()),
        ),
        (
            "open_file_descriptor_count",
            fd(view.open_file_descriptor_count),
        ),
        // No local sessions (localSessionsEnabled is not supported).
        ("local_sessions", Some("0".to_string())),
        ("uptime", Some(view.uptime_ms.to_string())),
        ("max_latency", Some(view.latency.max_ms.to_string())),
        ("outstanding_tls_handshake", Some("0".to_string())),
        ("min_client_response_size", Some(sizes.min.to_string())),
        ("non_mtls_local_conn_count", Some("0".to_string())),
    ];
    lines
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| (key, value)))
        .collect()
}

/// `envi`.
pub(super) fn format_environment(environment: &[(String, String)]) -> String {
    let mut out = String::from("Environment:\n");
    for (key, value) in environment {
        out.push_str(&format!("{key}={value}\n"));
    }
    out
}

/// `hash`: one `zxid: digest` line per entry, zxid in hex without `0x`.
pub(super) fn format_digests(digest_log: &[(u64, u64)]) -> String {
    let mut out = String::new();
    for (zxid, digest) in digest_log {
        out.push_str(&format!("{zxid:x}: {digest}\n"));
    }
    out
}

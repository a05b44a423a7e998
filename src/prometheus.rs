//! The Prometheus endpoint: `GET /metrics` over HTTP/1.1 on `metricsPort`, served from the
//! event loop without blocking, in text exposition format 0.0.4.
//!
//! What it serves matches ZooKeeper 3.8's `PrometheusMetricsProvider` (simpleclient 0.9):
//! every numeric `mntr` gauge under its `mntr` name without `zk_` (`znode_count`,
//! `num_alive_connections`, ...), `ServerMetrics` counters as `counter`, and summaries as
//! `summary` with `quantile` labels plus `_count` and `_sum`. Each family's HELP is its name,
//! as the provider builds them (`build(name, name)`); values print as Java doubles. The JVM
//! families (`exportJvmInfo`) have no counterpart here and are not served.
//!
//! HTTP, by hand: a connection sends one request of at most `REQUEST_BYTES_MAX` bytes and gets
//! one answer, then is closed (`Connection: close`) once the client has closed its side or
//! sent `DRAIN_BYTES_MAX` more (a lingering close). `GET /metrics` → 200; another path → 404;
//! another method → 405; anything malformed or too long → 400. A connection still open
//! `REQUEST_TIMEOUT_MS` after it was accepted is closed, whatever it is doing. At most `CONNS_MAX` connections are open;
//! more are accepted and closed at once.
//!
//! Tokens: the listener is `LISTENER`; connection `slot` with generation `g` is
//! `CONN_TOKEN_BASE + (g % GENERATIONS) * CONNS_MAX + slot`, all below `TOKENS_END`, where the
//! client connections' tokens begin. A stale event (slot reused) has the wrong generation and
//! is ignored.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::fourlw::java_double;
use crate::ops_stats::Summary;
use crate::server::Server;

pub const LISTENER: Token = Token(2);
const CONN_TOKEN_BASE: usize = 3;
const CONNS_MAX: usize = 64;
const GENERATIONS: usize = 1 << 12;
/// The first token after the endpoint's.
pub const TOKENS_END: usize = CONN_TOKEN_BASE + CONNS_MAX * GENERATIONS;
const REQUEST_BYTES_MAX: usize = 8 * 1024;
const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// After answering, what the client still sends is read and dropped, up to this much, until
/// it closes: closing a socket with unread input sends a reset, which can destroy the answer
/// before the client reads it (a "lingering close", as HTTP servers do).
const DRAIN_BYTES_MAX: usize = 256 * 1024;
/// The summaries' quantiles, as ZooKeeper's provider declares them.
const QUANTILES_ADVANCED: &[f64] = &[0.5, 0.9, 0.99];
const QUANTILES_BASIC: &[f64] = &[0.5];

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// True if `token` belongs to the endpoint (listener or one of its connections).
pub fn owns(token: Token) -> bool {
    (LISTENER.0..TOKENS_END).contains(&token.0)
}

/// Resolves `host:port` for the endpoint.
pub fn address(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other(format!("metricsProvider.httpHost {host}: no address")))
}

struct HttpConn {
    stream: TcpStream,
    /// The request as read so far; never more than `REQUEST_BYTES_MAX`.
    request: Vec<u8>,
    /// The answer, once the request is complete; then nothing more is read.
    response: Option<Vec<u8>>,
    sent: usize,
    /// The answer is out and our side is shut; input is dropped until EOF. Counts it.
    drained_bytes: Option<usize>,
    opened: Instant,
}

struct Slot {
    generation: usize,
    conn: Option<HttpConn>,
}

pub struct Endpoint {
    listener: TcpListener,
    /// Invariant: `slots.len() == CONNS_MAX`; a slot's generation is below `GENERATIONS`.
    slots: Vec<Slot>,
}

/// What a complete request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

impl Endpoint {
    pub fn bind(addr: SocketAddr, registry: &Registry) -> io::Result<Endpoint> {
        let context = |e: io::Error| io::Error::new(e.kind(), format!("metrics on {addr}: {e}"));
        let mut listener = TcpListener::bind(addr).map_err(context)?;
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        log::info!(
            "serving Prometheus metrics on http://{}/metrics",
            listener.local_addr()?
        );
        let slots = (0..CONNS_MAX)
            .map(|_| Slot {
                generation: 0,
                conn: None,
            })
            .collect();
        Ok(Endpoint { listener, slots })
    }

    /// Handles one readiness event for `token` (see [`owns`]).
    pub fn on_event(&mut self, token: Token, registry: &Registry, server: &Server) {
        assert!(owns(token), "token {} is not the endpoint's", token.0);
        if token == LISTENER {
            self.accept_all(registry, server.clock.now);
            return;
        }
        let index = token.0 - CONN_TOKEN_BASE;
        let (slot, generation) = (index % CONNS_MAX, index / CONNS_MAX);
        if self.slots[slot].generation != generation {
            return;
        }
        let Some(conn) = self.slots[slot].conn.as_mut() else {
            return;
        };
        let done = match drive(conn, server) {
            Ok(done) => done,
            Err(e) => {
                log::debug!("metrics connection failed: {e}");
                true
            }
        };
        if done {
            self.close(slot, registry);
        }
    }

    /// Closes connections open longer than `REQUEST_TIMEOUT_MS` (slow requests, slow drains).
    pub fn sweep(&mut self, now: Instant, registry: &Registry) {
        let limit = Duration::from_millis(REQUEST_TIMEOUT_MS);
        for slot in 0..CONNS_MAX {
            let stale = self.slots[slot]
                .conn
                .as_ref()
                .is_some_and(|c| now.saturating_duration_since(c.opened) >= limit);
            if stale {
                log::debug!("closing a metrics connection open too long");
                self.close(slot, registry);
            }
        }
    }

    fn accept_all(&mut self, registry: &Registry, now: Instant) {
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("metrics accept failed: {e}");
                    return;
                }
            };
            let Some(slot) = self.slots.iter().position(|s| s.conn.is_none()) else {
                log::warn!("closing metrics connection from {peer}: {CONNS_MAX} already open");
                continue;
            };
            let entry = &mut self.slots[slot];
            entry.generation = (entry.generation + 1) % GENERATIONS;
            let token = Token(CONN_TOKEN_BASE + entry.generation * CONNS_MAX + slot);
            assert!(owns(token), "connection token {} out of range", token.0);
            let mut conn = HttpConn {
                stream,
                request: Vec::new(),
                response: None,
                sent: 0,
                drained_bytes: None,
                opened: now,
            };
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = registry.register(&mut conn.stream, token, interest) {
                log::warn!("cannot register metrics connection from {peer}: {e}");
                continue;
            }
            entry.conn = Some(conn);
        }
    }

    fn close(&mut self, slot: usize, registry: &Registry) {
        if let Some(mut conn) = self.slots[slot].conn.take() {
            if let Err(e) = registry.deregister(&mut conn.stream) {
                log::debug!("metrics deregister failed: {e}");
            }
        }
        assert!(self.slots[slot].conn.is_none(), "slot {slot} closed");
    }
}

/// Reads the request, builds the answer once it is complete, and writes it. Registered for
/// both readiness kinds (edge-triggered), so it runs each step until `WouldBlock`. Returns
/// true when the connection is finished.
fn drive(conn: &mut HttpConn, server: &Server) -> io::Result<bool> {
    if conn.drained_bytes.is_some() {
        return drain(conn);
    }
    if conn.response.is_none() {
        const CHUNK_BYTES: usize = 2048;
        let mut chunk = [0u8; CHUNK_BYTES];
        loop {
            let room = REQUEST_BYTES_MAX + 1 - conn.request.len();
            match conn.stream.read(&mut chunk[..room.min(CHUNK_BYTES)]) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    conn.request.extend_from_slice(&chunk[..n]);
                    if request_end(&conn.request).is_some()
                        || conn.request.len() > REQUEST_BYTES_MAX
                    {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        assert!(
            conn.request.len() <= REQUEST_BYTES_MAX + 1,
            "request over its cap"
        );
        let route = route(&conn.request);
        conn.response = Some(respond(&route, server));
    }
    let response = conn.response.as_ref().expect("set above");
    while conn.sent < response.len() {
        match conn.stream.write(&response[conn.sent..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "socket took 0")),
            Ok(n) => conn.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    conn.stream.shutdown(std::net::Shutdown::Write)?;
    conn.drained_bytes = Some(0);
    drain(conn)
}

/// Reads and drops input until EOF (true), `WouldBlock` (false) or the drain cap (true).
fn drain(conn: &mut HttpConn) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    loop {
        let drained = conn.drained_bytes.expect("draining");
        if drained > DRAIN_BYTES_MAX {
            return Ok(true);
        }
        match conn.stream.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => conn.drained_bytes = Some(drained + n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Where the header block ends (after the blank line), if it has.
fn request_end(request: &[u8]) -> Option<usize> {
    request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// Parses a request's head: `METHOD SP TARGET SP HTTP/1.x CRLF` then header lines.
fn route(request: &[u8]) -> Route {
    let Some(end) = request_end(request) else {
        return Route::BadRequest;
    };
    if end > REQUEST_BYTES_MAX {
        return Route::BadRequest;
    }
    let Ok(head) = std::str::from_utf8(&request[..end - 4]) else {
        return Route::BadRequest;
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Route::BadRequest;
    };
    let is_token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic());
    if !is_token(method) || !target.starts_with('/') || !matches!(version, "HTTP/1.0" | "HTTP/1.1")
    {
        return Route::BadRequest;
    }
    // Every header line is `name: value` with a non-empty name.
    if lines.any(|line| {
        line.split_once(':')
            .is_none_or(|(name, _)| name.trim().is_empty())
    }) {
        return Route::BadRequest;
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    match (method, path) {
        ("GET", "/metrics") => Route::Metrics,
        ("GET", _) => Route::NotFound,
        _ => Route::MethodNotAllowed,
    }
}

fn respond(route: &Route, server: &Server) -> Vec<u8> {
    let (status, extra, body) = match route {
        Route::Metrics => ("200 OK", "", render(server)),
        Route::NotFound => ("404 Not Found", "", "not found; try /metrics\n".to_string()),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "Allow: GET\r\n",
            "only GET\n".to_string(),
        ),
        Route::BadRequest => ("400 Bad Request", "", "bad request\n".to_string()),
    };
    let content_type = match route {
        Route::Metrics => CONTENT_TYPE,
        _ => "text/plain; charset=utf-8",
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         {extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The exposition: `mntr`'s numeric gauges, then the counters and summaries of `ops_stats`.
fn render(server: &Server) -> String {
    let view = crate::metrics::scrape_view(server);
    let mut out = String::new();
    for (name, value) in crate::fourlw::mntr_standard_lines(&view) {
        // `version` and `server_state` are text; ZooKeeper's provider has no such gauge.
        if let Ok(number) = value.parse::<f64>() {
            family(&mut out, name, "gauge");
            out.push_str(&format!("{name} {}\n", java_double(number)));
        }
    }
    let ops = &server.stats.ops;
    for counter in ops.counters() {
        family(&mut out, counter.name, "counter");
        out.push_str(&format!(
            "{} {}\n",
            counter.name,
            java_double(counter.value as f64)
        ));
    }
    for summary in ops.summaries() {
        render_summary(&mut out, summary);
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str) {
    out.push_str(&format!("# HELP {name} {name}\n# TYPE {name} {kind}\n"));
}

fn render_summary(out: &mut String, summary: &Summary) {
    let name = summary.name;
    family(out, name, "summary");
    let quantiles = if summary.is_advanced {
        QUANTILES_ADVANCED
    } else {
        QUANTILES_BASIC
    };
    for &q in quantiles {
        // An empty summary's quantiles are NaN, as simpleclient prints them.
        let value = summary.quantile(q).unwrap_or(f64::NAN);
        out.push_str(&format!(
            "{name}{{quantile=\"{}\",}} {}\n",
            java_double(q),
            java_double(value)
        ));
    }
    let stats = &summary.stats;
    out.push_str(&format!(
        "{name}_count {}\n{name}_sum {}\n",
        java_double(stats.count as f64),
        java_double(stats.total_ms as f64)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_routed_by_method_and_path() {
        let get =
            |target: &str| route(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        assert_eq!(get("/metrics"), Route::Metrics);
        assert_eq!(get("/metrics?name[]=x"), Route::Metrics);
        assert_eq!(get("/"), Route::NotFound);
        assert_eq!(get("/metricsx"), Route::NotFound);
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Route::MethodNotAllowed
        );
        assert_eq!(route(b"GET /metrics HTTP/1.0\r\n\r\n"), Route::Metrics);
    }

    #[test]
    fn malformed_requests_are_bad() {
        for bad in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
            b"G\xffT /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n",
        ] {
            assert_eq!(
                route(bad),
                Route::BadRequest,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut long = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        long.resize(REQUEST_BYTES_MAX, b'a');
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(route(&long), Route::BadRequest, "over the size cap");
    }

    #[test]
    fn tokens_stay_below_the_client_connections() {
        assert!(owns(LISTENER));
        let last = Token(CONN_TOKEN_BASE + (GENERATIONS - 1) * CONNS_MAX + CONNS_MAX - 1);
        assert!(owns(last));
        assert!(!owns(Token(TOKENS_END)));
        assert!(!owns(Token(1)), "the waker");
    }

    #[test]
    fn summaries_render_quantiles_count_and_sum() {
        let mut out = String::new();
        let mut ops = crate::ops_stats::OpsStats::default();
        render_summary(&mut out, &ops.read_latency);
        assert!(
            out.contains("readlatency{quantile=\"0.5\",} NaN\n"),
            "{out}"
        );
        ops.record_latency(2, false);
        ops.record_latency(4, false);
        out.clear();
        render_summary(&mut out, &ops.read_latency);
        let expected = "# HELP readlatency readlatency\n# TYPE readlatency summary\n\
            readlatency{quantile=\"0.5\",} 3.0\nreadlatency{quantile=\"0.9\",} 4.0\n\
            readlatency{quantile=\"0.99\",} 4.0\nreadlatency_count 2.0\nreadlatency_sum 6.0\n";
        assert_eq!(out, expected);
    }
}

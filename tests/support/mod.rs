//! Shared pieces of the Rust integration tests: a `ferrokeeper server` process on a free
//! loopback port that is always killed (guard with `Drop`), and a minimal blocking client
//! written on the `wire` codec.
//!
//! Every wait here is bounded in time; nothing binds outside 127.0.0.1.

#![allow(dead_code)]

pub mod cluster;
pub mod python;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wire::{ConnectRequest, ConnectResponse, ErrorCode, OpCode, ReplyHeader, Request, Response};

/// A port nobody listens on right now, outside the kernel's ephemeral range. A port the
/// kernel hands out for `:0` can be taken a moment later as the source port of an outgoing
/// connection (cluster members dial each other while others still start), and the server
/// then fails with "Address already in use"; ports below the range are never handed out
/// that way. Random, so concurrent tests and test binaries rarely pick the same port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let (lo, hi) = ephemeral_range();
    let (bottom, top) = if lo > 11_000 {
        (10_000, lo)
    } else {
        (hi.saturating_add(1), 65_535)
    };
    assert!(
        bottom < top,
        "no ports outside the ephemeral range {lo}-{hi}"
    );
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32);
    for _ in 0..500 {
        let mut rng = Prng(STATE.fetch_add(1, Ordering::Relaxed) ^ seed);
        let port = bottom + rng.below(u64::from(top - bottom)) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {bottom}..{top} after 500 tries");
}

/// The kernel's ephemeral port range (Linux's default when it cannot be read).
fn ephemeral_range() -> (u16, u16) {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut parts = text.split_whitespace().map(|p| p.parse::<u16>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => (32_768, 60_999),
    }
}

/// A scratch directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after epoch")
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("fk-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ignored = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server; killed (SIGKILL) when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
    pub log_path: PathBuf,
}

/// Writes `dir/zoo.cfg`: the test's standard lines plus `extra_cfg`.
fn write_config(dir: &Path, port: u16, extra_cfg: &str) -> PathBuf {
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ndataDir={d}/data\ndataLogDir={d}/log\nclientPort={port}\n\
         clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n{extra_cfg}",
        d = dir.display()
    );
    std::fs::write(&cfg, text).expect("write zoo.cfg");
    cfg
}

/// Starts a server that must refuse to start: returns its exit status and its output.
pub fn start_expecting_failure(
    dir: &Path,
    port: u16,
    extra_cfg: &str,
) -> (std::process::ExitStatus, String) {
    let cfg = write_config(dir, port, extra_cfg);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .args(["server", "--config"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrokeeper");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let out = child.wait_with_output().expect("output");
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            return (status, text);
        }
        if Instant::now() > deadline {
            let _ignored = child.kill();
            let _reaped = child.wait();
            panic!("the server was expected to refuse to start, but it kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl ServerProcess {
    /// Writes `dir/zoo.cfg` with the given extra lines and starts the server on it.
    pub fn start(dir: &Path, port: u16, extra_cfg: &str) -> ServerProcess {
        let cfg = write_config(dir, port, extra_cfg);
        let log_path = dir.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open server log");
        let child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
            .args(["server", "--config"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn ferrokeeper");
        let mut server = ServerProcess {
            child,
            port,
            log_path,
        };
        server.wait_serving(Duration::from_secs(30));
        server
    }

    fn wait_serving(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited during start-up ({status}); log:\n{}",
                    self.log()
                );
            }
            if four_letter_word(self.port, "ruok").as_deref() == Some("imok") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server not serving in time; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.child.kill().expect("SIGKILL the server");
        }
        self.child.wait().expect("reap the server");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ignored = self.child.kill();
            let _reaped = self.child.wait();
        }
    }
}

/// Sends a four-letter word; `None` if the server does not answer within 2 s.
pub fn four_letter_word(port: u16, word: &str) -> Option<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A blocking, one-request-at-a-time ZooKeeper client for tests.
pub struct Client {
    stream: TcpStream,
    next_xid: i32,
    pub session_id: i64,
    /// The session's password, for [`Client::resume`].
    pub passwd: Vec<u8>,
    /// The server granted a read-only session (ConnectResponse.readOnly).
    pub read_only: bool,
}

#[derive(Debug)]
pub enum ClientError {
    Io(std::io::Error),
    Zk(ErrorCode),
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> ClientError {
        ClientError::Io(e)
    }
}

impl Client {
    pub fn connect(port: u16, timeout_ms: i32) -> Result<Client, ClientError> {
        Client::handshake(port, timeout_ms, 0, vec![0; 16], false)
    }

    /// A new session from a client that accepts a read-only server (`canBeReadOnly`).
    pub fn connect_allowing_read_only(port: u16, timeout_ms: i32) -> Result<Client, ClientError> {
        Client::handshake(port, timeout_ms, 0, vec![0; 16], true)
    }

    /// Reopens an existing session, as a ZooKeeper client does after losing its connection.
    /// A refused session (expired, unknown to that server, bad password) is
    /// `Zk(SessionExpired)`.
    pub fn resume(
        port: u16,
        timeout_ms: i32,
        session_id: i64,
        passwd: &[u8],
    ) -> Result<Client, ClientError> {
        assert_ne!(session_id, 0, "resume needs a session");
        Client::handshake(port, timeout_ms, session_id, passwd.to_vec(), false)
    }

    fn handshake(
        port: u16,
        timeout_ms: i32,
        session_id: i64,
        passwd: Vec<u8>,
        read_only: bool,
    ) -> Result<Client, ClientError> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        let mut client = Client {
            stream,
            next_xid: 1,
            session_id: 0,
            passwd: Vec::new(),
            read_only: false,
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: timeout_ms,
            session_id,
            passwd,
            read_only,
            read_only_present: true,
        };
        let mut frame = Vec::new();
        wire::write_frame(&mut frame, |w| req.encode(w));
        client.stream.write_all(&frame)?;
        let body = client.read_frame()?;
        let rsp = ConnectResponse::decode(&body)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        if rsp.session_id == 0 || rsp.time_out <= 0 {
            return Err(ClientError::Zk(ErrorCode::SessionExpired));
        }
        client.session_id = rsp.session_id;
        client.passwd = rsp.passwd;
        client.read_only = rsp.read_only;
        Ok(client)
    }

    fn read_frame(&mut self) -> std::io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = i32::from_be_bytes(len);
        if !(0..=16 << 20).contains(&len) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bad frame length",
            ));
        }
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body)?;
        Ok(body)
    }

    /// Sends one request and waits for its reply (skipping watch notifications).
    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        let xid = self.next_xid;
        self.next_xid += 1;
        let mut frame = Vec::new();
        wire::write_frame(&mut frame, |w| request.encode_with_header(xid, w));
        self.stream.write_all(&frame)?;
        loop {
            let body = self.read_frame()?;
            let (header, rest) = ReplyHeader::split(&body)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
            if header.xid != xid {
                continue; // a notification or ping reply
            }
            if header.err != 0 {
                return Err(ClientError::Zk(
                    ErrorCode::from_code(header.err).unwrap_or(ErrorCode::SystemError),
                ));
            }
            return Response::decode(request.op_code(), rest).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()).into()
            });
        }
    }

    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> Result<String, ClientError> {
        let req = Request::Create(wire::CreateRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            acl: wire::Acl::open_unsafe(),
            flags,
            ttl: -1,
        });
        match self.call(&req)? {
            Response::Create { path } => Ok(path),
            other => panic!("create answered {other:?}"),
        }
    }

    pub fn get_data(&mut self, path: &str) -> Result<Option<Vec<u8>>, ClientError> {
        let req = Request::GetData(wire::PathWatchRequest {
            path: path.to_string(),
            watch: false,
        });
        match self.call(&req)? {
            Response::GetData { data, .. } => Ok(data),
            other => panic!("getData answered {other:?}"),
        }
    }

    pub fn children(&mut self, path: &str) -> Result<Vec<String>, ClientError> {
        let req = Request::GetChildren(wire::PathWatchRequest {
            path: path.to_string(),
            watch: false,
        });
        match self.call(&req)? {
            Response::GetChildren { children } => Ok(children),
            other => panic!("getChildren answered {other:?}"),
        }
    }

    pub fn op_code_of(request: &Request) -> OpCode {
        request.op_code()
    }

    /// Writes `requests` without reading any reply (a pipelining or hostile client); stops
    /// early, returning how many went out, once a write blocks for `stall`.
    pub fn send_only(&mut self, requests: &[Request], stall: Duration) -> usize {
        self.stream
            .set_write_timeout(Some(stall))
            .expect("write timeout");
        for (sent, request) in requests.iter().enumerate() {
            let xid = self.next_xid;
            self.next_xid += 1;
            let mut frame = Vec::new();
            wire::write_frame(&mut frame, |w| request.encode_with_header(xid, w));
            if self.stream.write_all(&frame).is_err() {
                return sent;
            }
        }
        requests.len()
    }

    /// Writes `request` `count` times without reading, like `send_only`; returns how many
    /// were written before a write stalled for `stall`.
    pub fn send_repeated(&mut self, request: &Request, count: usize, stall: Duration) -> usize {
        self.stream
            .set_write_timeout(Some(stall))
            .expect("write timeout");
        let mut frame = Vec::new();
        for sent in 0..count {
            let xid = self.next_xid;
            self.next_xid += 1;
            frame.clear();
            wire::write_frame(&mut frame, |w| request.encode_with_header(xid, w));
            if self.stream.write_all(&frame).is_err() {
                return sent;
            }
        }
        count
    }

    /// Reads and drops replies until `count` have arrived (or the read times out).
    pub fn drain_replies(&mut self, count: usize) -> usize {
        for done in 0..count {
            if self.read_frame().is_err() {
                return done;
            }
        }
        count
    }
}

/// The resident memory of process `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// SplitMix64, for seeded test schedules.
pub struct Prng(pub u64);

impl Prng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

//! Hostile clients (issue #9): each case attacks one server process on 127.0.0.1 and checks
//! a stated bound on the server's resident memory while a second, well-behaved client keeps
//! being served. The bounds are what the server's own limits imply, with room for the
//! allocator; a regression that buffers without limit blows through them.

mod support;

use std::time::{Duration, Instant};

use support::{free_port, rss_kib, Client, ServerProcess, TempDir};
use wire::{PathWatchRequest, Request};

fn start(tag: &str, extra_cfg: &str) -> (TempDir, ServerProcess) {
    let dir = TempDir::new(tag);
    let server = ServerProcess::start(&dir.0, free_port(), extra_cfg);
    (dir, server)
}

/// The largest size the kernel grows a TCP socket buffer to (`net.ipv4.tcp_rmem` or
/// `tcp_wmem`: min, default, max), or 8 MiB when that cannot be read.
fn socket_buffer_max(name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
        .ok()
        .and_then(|t| t.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(8 << 20)
}

fn get(path: &str, watch: bool) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.to_string(),
        watch,
    })
}

fn exists(path: &str) -> Request {
    Request::Exists(PathWatchRequest {
        path: path.to_string(),
        watch: true,
    })
}

/// A well-behaved client's round trip, which must stay quick whatever the attacker does.
fn assert_served(port: u16, limit: Duration) {
    let started = Instant::now();
    let mut c = Client::connect(port, 30_000).expect("a fresh client connects");
    c.get_data("/").expect("a fresh client reads");
    assert!(
        started.elapsed() < limit,
        "a fresh client took {:?}",
        started.elapsed()
    );
}

/// A client pipelines getData of a 512 KiB node and never reads: 300,000 requests, or more
/// if the kernel's socket buffers could hold that many (loopback autotuning grows a receive
/// buffer up to `tcp_rmem`'s maximum, 32 MiB on some hosts), so that the client cannot
/// finish unless the server keeps reading. Backpressure (4 MiB of unsent output, 1,000
/// requests in flight) must stop the server reading it, so the client's writes block; the
/// server grows by less than 64 MiB, and others are served.
#[test]
fn a_client_that_never_reads_is_held_back() {
    let (_dir, server) = start("hostile-pipeline", "");
    let mut setup = Client::connect(server.port, 30_000).unwrap();
    // A long name makes each request 272 bytes, so the buffers fill with fewer requests.
    let path = format!("/big-{}", "x".repeat(250));
    setup.create(&path, &vec![7u8; 512 << 10], 0).unwrap();
    let before = rss_kib(server.child.id());
    let mut hog = Client::connect(server.port, 30_000).unwrap();
    let request_bytes = path.len() as u64 + 17;
    let buffers = socket_buffer_max("tcp_rmem") + socket_buffer_max("tcp_wmem");
    let count = (4 * buffers / request_bytes).max(300_000) as usize;
    let sent = hog.send_repeated(&get(&path, false), count, Duration::from_secs(2));
    assert!(
        sent < count,
        "the server kept reading ({sent} of {count} sent; socket buffers up to {buffers} bytes)"
    );
    assert_served(server.port, Duration::from_secs(2));
    let grown_mib = rss_kib(server.child.id()).saturating_sub(before) / 1024;
    eprintln!("{sent} requests sent before the server stopped reading; grew {grown_mib} MiB");
    assert!(
        grown_mib < 64,
        "server grew {grown_mib} MiB for a client that never reads ({sent} requests sent)"
    );
    // The hog goes; the server drops what it had queued for it and still serves.
    drop(hog);
    assert_served(server.port, Duration::from_secs(2));
}

/// One session sets 100,000 watches on distinct paths: at most 512 bytes of server memory
/// per watch, others are served meanwhile, and closing the session releases them all.
#[test]
fn a_hundred_thousand_watches_from_one_session() {
    const WATCHES: usize = 100_000;
    let (_dir, server) = start("hostile-watches", "");
    let before = rss_kib(server.child.id());
    let mut watcher = Client::connect(server.port, 30_000).unwrap();
    let started = Instant::now();
    for batch in 0..WATCHES / 1000 {
        let requests: Vec<Request> = (0..1000)
            .map(|i| exists(&format!("/absent/watch-{batch:03}-{i:04}")))
            .collect();
        assert_eq!(watcher.send_only(&requests, Duration::from_secs(10)), 1000);
        assert_eq!(
            watcher.drain_replies(1000),
            1000,
            "replies to batch {batch}"
        );
    }
    let per_watch = (rss_kib(server.child.id()).saturating_sub(before) * 1024) / WATCHES as u64;
    assert!(
        per_watch <= 512,
        "{per_watch} bytes of server memory per watch"
    );
    let wchs = support::four_letter_word(server.port, "wchs").unwrap();
    assert!(
        wchs.contains(&format!("watching {WATCHES} paths")),
        "{wchs}"
    );
    assert_served(server.port, Duration::from_secs(2));
    eprintln!(
        "{WATCHES} watches set in {:?}, {per_watch} bytes each",
        started.elapsed()
    );
    drop(watcher);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let wchs = support::four_letter_word(server.port, "wchs").unwrap_or_default();
        if wchs.contains("watching 0 paths") {
            break;
        }
        assert!(Instant::now() < deadline, "watches not released: {wchs}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// More connections from one address than `maxClientCnxns` allows: the extra ones are
/// closed at once, the allowed ones keep working, and a slot freed is usable again.
#[test]
fn a_connection_flood_beyond_max_client_cnxns_is_cut() {
    let (_dir, server) = start("hostile-flood", "maxClientCnxns=10\n");
    let mut kept = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        match Client::connect(server.port, 30_000) {
            Ok(c) => kept.push(c),
            Err(_) => refused += 1,
        }
    }
    assert_eq!((kept.len(), refused), (10, 30));
    for c in &mut kept {
        c.get_data("/").expect("an admitted client is served");
    }
    kept.pop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Client::connect(server.port, 30_000).is_err() {
        assert!(Instant::now() < deadline, "a freed slot was not reusable");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A chain 1,000 znodes deep (a 2,000-byte path): no recursion in the server overflows,
/// and a persistent recursive watch on "/" sees a change at the bottom.
#[test]
fn a_thousand_levels_deep() {
    let (_dir, server) = start("hostile-deep", "");
    let mut c = Client::connect(server.port, 30_000).unwrap();
    let mut path = String::new();
    for _ in 0..1000 {
        path.push_str("/d");
        c.create(&path, b"", 0).unwrap();
    }
    let add_watch = Request::AddWatch(wire::AddWatchRequest {
        path: "/".to_string(),
        mode: wire::add_watch_mode::PERSISTENT_RECURSIVE,
    });
    c.call(&add_watch).unwrap();
    let count = c
        .call(&Request::GetAllChildrenNumber(wire::PathRequest {
            path: "/".to_string(),
        }))
        .unwrap();
    assert!(
        matches!(count, wire::Response::AllChildrenNumber(n) if n >= 1000),
        "{count:?}"
    );
    let set = Request::SetData(wire::SetDataRequest {
        path: path.clone(),
        data: Some(b"bottom".to_vec()),
        version: -1,
    });
    c.call(&set).unwrap();
    assert_eq!(c.get_data(&path).unwrap().as_deref(), Some(&b"bottom"[..]));
    assert_served(server.port, Duration::from_secs(2));
}

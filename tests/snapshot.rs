//! Background snapshots end to end (issue #3, part 3): with a small `snapCount` the server
//! writes snapshots while clients write, keeps `autopurge.snapRetainCount` of them, purges
//! the log segments they make redundant, answers `csnp` with the index its snapshot will
//! hold, and after SIGKILL recovers every znode from the newest snapshot plus the log after
//! it, with the same digest.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{four_letter_word, free_port, Client, ServerProcess, TempDir};
use wire::{ReplyHeader, Request};

/// Creates sent before their replies are read.
const PIPELINE_DEPTH: usize = 250;

/// Creates `paths` with their data over one raw connection, `PIPELINE_DEPTH` requests in
/// flight, so thousands of writes share group commits. Panics on any error reply.
fn pipelined_creates(port: u16, items: &[(String, Vec<u8>)]) {
    let client = Client::connect(port, 30_000).expect("connect");
    drop(client);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    handshake(&mut stream);
    let mut xid = 1;
    for chunk in items.chunks(PIPELINE_DEPTH) {
        let mut frames = Vec::new();
        for (path, data) in chunk {
            let req = Request::Create(wire::CreateRequest {
                path: path.clone(),
                data: Some(data.clone()),
                acl: wire::Acl::open_unsafe(),
                flags: 0,
                ttl: -1,
            });
            wire::write_frame(&mut frames, |w| req.encode_with_header(xid, w));
            xid += 1;
        }
        stream.write_all(&frames).expect("send creates");
        for _ in chunk {
            let body = read_frame(&mut stream);
            let (header, _) = ReplyHeader::split(&body).expect("reply header");
            assert_eq!(header.err, 0, "create answered error {}", header.err);
        }
    }
}

fn handshake(stream: &mut TcpStream) {
    let req = wire::ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: false,
        read_only_present: true,
    };
    let mut frame = Vec::new();
    wire::write_frame(&mut frame, |w| req.encode(w));
    stream.write_all(&frame).expect("send connect");
    let body = read_frame(stream);
    wire::ConnectResponse::decode(&body).expect("connect response");
}

fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("frame length");
    let len = i32::from_be_bytes(len);
    assert!((0..=1 << 20).contains(&len), "frame length {len}");
    let mut body = vec![0u8; len as usize];
    stream.read_exact(&mut body).expect("frame body");
    body
}

/// Last indexes of the snapshot files in `dir`, ascending (tmp files left out).
fn snapshot_indexes(dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let hex = name.strip_prefix("snapshot.")?;
                    u64::from_str_radix(hex, 16).ok()
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    out
}

/// First indexes of the log segments in `dir`, ascending.
fn segment_first_indexes(dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)
        .expect("log dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            u64::from_str_radix(name.strip_prefix("log.")?, 16).ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// `hash` answers `<zxid hex>: <digest decimal>` lines; the last is the newest.
fn reported_digest(port: u16) -> (u64, u64) {
    let text = four_letter_word(port, "hash").expect("hash answers");
    let line = text.lines().last().expect("hash prints a line");
    let (zxid, digest) = line.split_once(": ").expect("'zxid: digest'");
    (
        u64::from_str_radix(zxid.trim(), 16).expect("hex zxid"),
        digest.trim().parse().expect("decimal digest"),
    )
}

/// Waits (bounded) until `done` holds, printing the server log if it never does.
fn wait_for(server: &ServerProcess, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn snapshots_are_taken_retained_and_recovered_after_sigkill() {
    let dir = TempDir::new("snapshot");
    let port = free_port();
    // A snapshot every 100..200 txns, and 64 KiB segments that roll every few hundred
    // creates, so retention and purging both have something to remove. (A debug build checks
    // the whole tree after every txn, so the cost grows with the square of the znode count.)
    let cfg = "snapCount=200\npreAllocSize=64\nautopurge.snapRetainCount=3\n";
    let snapshot_dir = dir.0.join("data").join("snapshots");
    let log_dir = dir.0.join("log").join("log");
    let mut server = ServerProcess::start(&dir.0, port, cfg);
    let mut client = Client::connect(port, 30_000).expect("connect");
    client.create("/snap", b"", 0).expect("create /snap");
    let items: Vec<(String, Vec<u8>)> = (0..1500)
        .map(|i| (format!("/snap/n{i:05}"), format!("value-{i}").into_bytes()))
        .collect();
    pipelined_creates(port, &items[..1200]);

    // csnp answers the index its snapshot will hold, and that snapshot appears.
    let reply = four_letter_word(port, "csnp").expect("csnp answers");
    let csnp_index: u64 = reply.trim().parse().expect("csnp answers a number");
    assert!(
        csnp_index >= 1202,
        "csnp index {csnp_index} covers the writes"
    );
    wait_for(&server, "the csnp snapshot, then retention", || {
        let indexes = snapshot_indexes(&snapshot_dir);
        indexes.last().is_some_and(|&i| i >= csnp_index) && indexes.len() <= 3
    });
    let snapshots = snapshot_indexes(&snapshot_dir);
    assert!(
        snapshots.len() <= 3,
        "retention keeps 3 snapshots: {snapshots:?}"
    );
    // Snapshots every snapCount/2..snapCount txns: several were taken and the old removed.
    assert!(
        snapshots[0] > 400,
        "old snapshots were removed: {snapshots:?}"
    );
    wait_for(&server, "the log purge", || {
        segment_first_indexes(&log_dir)
            .first()
            .is_some_and(|&first| first > 1)
    });
    let segments = segment_first_indexes(&log_dir);
    assert!(
        segments[0] <= snapshots[0].saturating_sub(200) + 1,
        "the log keeps a reserve of snapCount entries before the oldest snapshot: \
         segments {segments:?}, snapshots {snapshots:?}"
    );

    // Writes after the last snapshot must come back from the log.
    pipelined_creates(port, &items[1200..]);
    let before = reported_digest(port);
    drop(client);
    server.kill();

    let server = ServerProcess::start(&dir.0, port, cfg);
    let log = server.log();
    assert!(
        log.contains("loaded snapshot"),
        "recovery used a snapshot; log:\n{log}"
    );
    assert!(log.contains("recovered"), "recovery logged; log:\n{log}");
    assert!(
        log.contains("snapshot at zxid"),
        "a snapshot was logged; log:\n{log}"
    );
    let after = reported_digest(port);
    // The restarted server leads a new term whose first entry is a no-op: one index (so
    // one zxid) later, the same tree.
    assert_eq!(
        after.0,
        before.0 + 1,
        "the new term's no-op follows the old zxid"
    );
    assert_eq!(after.1, before.1, "the digest survives the crash");
    let mut check = Client::connect(port, 30_000).expect("connect");
    let mut children = check.children("/snap").expect("children");
    children.sort();
    let expected: Vec<String> = items.iter().map(|(p, _)| p[6..].to_string()).collect();
    assert_eq!(children.len(), expected.len(), "every znode is back");
    assert_eq!(children, expected, "every znode is back");
    for i in [0, 999, 1199, 1200, 1499] {
        let (path, data) = &items[i];
        let got = check.get_data(path).expect("getData");
        assert_eq!(got.as_deref(), Some(data.as_slice()), "data of {path}");
    }
}

//! Crash test (issue #3): clients write continuously and remember every write the server
//! acknowledged; the server is killed with SIGKILL at a random moment; after each restart
//! every acknowledged write must be there, and the tree digest the server reports must
//! equal the digest of a clean, offline replay of the same write-ahead log.
//!
//! `CRASH_CYCLES` (default 50) and `CRASH_SEED` (default: from the clock, printed) control
//! the run; a failure prints the seed to replay.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{four_letter_word, free_port, Client, Prng, ServerProcess, TempDir};

const WRITERS: usize = 4;

/// `hash` answers `<zxid hex>: <digest decimal>`.
fn reported_digest(port: u16) -> (u64, u64) {
    let text = four_letter_word(port, "hash").expect("hash answers");
    let line = text.lines().last().expect("hash prints a line");
    let (zxid, digest) = line.split_once(": ").expect("'zxid: digest'");
    (
        u64::from_str_radix(zxid.trim(), 16).expect("hex zxid"),
        digest.trim().parse().expect("decimal digest"),
    )
}

/// Replays `dir/log/log` from the start, up to and including `last_zxid`, into a fresh tree.
fn clean_replay_digest(data_log_dir: &std::path::Path, last_zxid: u64) -> u64 {
    let log_dir = data_log_dir.join("log");
    let (mut wal, _report) = wal::Wal::open(wal::FileDisk, &log_dir, 1, wal::WalOptions::default())
        .expect("the log opens");
    let mut tree = tree::DataTree::new(tree::TreeConfig::default());
    if last_zxid == 0 {
        return tree.digest();
    }
    for record in wal.iter_from(1).expect("iterate the log") {
        let record = record.expect("a record");
        if record.index > last_zxid {
            break;
        }
        // Record layout: src/replication.rs. Kind 2 is a Raft `Normal` entry: empty (a
        // leader's no-op) or `[version 1][origin u64][seq u64][Txn]`; kind 3 is a membership
        // change. zxid = entry index.
        let zxid = record.index as i64;
        if record.kind != 2 || record.payload.is_empty() {
            tree.skip_to(zxid);
            continue;
        }
        assert_eq!(record.payload[0], 1, "entry payload version");
        let mut txn = tree::Txn::decode(&record.payload[17..]).expect("a txn");
        txn.zxid = zxid;
        tree.apply(&txn);
    }
    assert_eq!(
        tree.last_zxid() as u64,
        last_zxid,
        "replayed up to the reported zxid"
    );
    tree.digest()
}

/// Writes acknowledged so far: (path, data).
type Acked = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn writer(port: u16, id: usize, stop: Arc<AtomicBool>, acked: Acked) {
    let Ok(mut client) = Client::connect(port, 30_000) else {
        return;
    };
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let data = format!("w{id}-{n}").into_bytes();
        match client.create(&format!("/crash/w{id}-"), &data, 2) {
            Ok(path) => acked.lock().expect("lock").push((path, data)),
            Err(_) => return, // the server died under us: this write was not acknowledged
        }
        n += 1;
    }
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
        });
    eprintln!("crash test: CRASH_SEED={seed} CRASH_CYCLES={cycles}");
    let mut prng = Prng(seed);
    let dir = TempDir::new("crash");
    let port = free_port();
    // Small segments so the log rolls over many segments; no snapshots, so the clean replay
    // below reads the whole history.
    let cfg = "preAllocSize=256\nsnapCount=100000000\n";
    let mut all_acked: Vec<(String, Vec<u8>)> = Vec::new();
    {
        let server = ServerProcess::start(&dir.0, port, cfg);
        let mut c = Client::connect(port, 30_000).expect("connect");
        c.create("/crash", b"", 0).expect("create /crash");
        drop(server);
    }
    let started = Instant::now();
    for cycle in 0..cycles {
        let mut server = ServerProcess::start(&dir.0, port, cfg);
        // 1. Every write acknowledged before the last crash is there, with its data.
        let (zxid, digest) = reported_digest(port);
        let replayed = clean_replay_digest(&dir.0.join("log"), zxid);
        assert_eq!(
            digest, replayed,
            "CRASH_SEED={seed} cycle {cycle}: digest after recovery differs from a clean replay"
        );
        let mut check = Client::connect(port, 30_000).expect("connect");
        let present: std::collections::BTreeSet<String> = check
            .children("/crash")
            .expect("children")
            .into_iter()
            .map(|name| format!("/crash/{name}"))
            .collect();
        for (path, _data) in &all_acked {
            assert!(
                present.contains(path),
                "CRASH_SEED={seed} cycle {cycle}: lost {path}"
            );
        }
        let sample = prng.below(all_acked.len() as u64 + 1) as usize;
        if let Some((path, data)) = all_acked.get(sample) {
            let got = check.get_data(path).expect("get");
            assert_eq!(
                got.as_deref(),
                Some(data.as_slice()),
                "CRASH_SEED={seed}: data of {path}"
            );
        }
        drop(check);
        // 2. Write continuously, and kill the server at a random moment.
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..WRITERS)
            .map(|id| {
                let (stop, acked) = (stop.clone(), acked.clone());
                std::thread::spawn(move || writer(port, id, stop, acked))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20 + prng.below(300)));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().expect("writer thread");
        }
        let acked = std::mem::take(&mut *acked.lock().expect("lock"));
        all_acked.extend(acked);
    }
    eprintln!(
        "crash test: {cycles} SIGKILL cycles, {} acknowledged writes checked, {:.1}s",
        all_acked.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(!all_acked.is_empty(), "the writers wrote something");
}

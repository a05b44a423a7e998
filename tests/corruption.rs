//! Corruption tests (issue #3): damage the write-ahead log of a stopped server and check
//! what the next start does — a torn tail (truncated or zeroed) is cut off with a log line
//! and the server serves everything before it; a bad record with valid records after it,
//! or a missing segment, refuses the start with an error naming the file and byte offset.

mod support;

use std::path::{Path, PathBuf};

use support::{free_port, start_expecting_failure, Client, ServerProcess, TempDir};

/// 64 KiB segments (the smallest `preAllocSize` we take), so a few thousand writes span
/// several segments.
const CFG: &str = "preAllocSize=64\n";

/// Starts a server, creates `/c/n-0..count`, and SIGKILLs it.
fn write_znodes(dir: &Path, count: usize) {
    let port = free_port();
    let mut server = ServerProcess::start(dir, port, CFG);
    let mut c = Client::connect(port, 30_000).expect("connect");
    c.create("/c", b"", 0).expect("create /c");
    for i in 0..count {
        c.create(&format!("/c/n-{i}"), format!("v{i}").as_bytes(), 0)
            .expect("create");
    }
    server.kill();
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("log").join("log"))
        .expect("log dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("log."))
        })
        .collect();
    files.sort();
    files
}

/// Where the written records of a preallocated segment end (past it: zeros).
fn data_end(path: &Path) -> usize {
    let bytes = std::fs::read(path).expect("read segment");
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map(|i| i + 1)
        .expect("a segment holds data")
}

fn children_after_restart(dir: &Path) -> (usize, String) {
    let port = free_port();
    let server = ServerProcess::start(dir, port, CFG);
    let mut c = Client::connect(port, 30_000).expect("connect");
    let n = c.children("/c").expect("children").len();
    (n, server.log())
}

#[test]
fn truncated_tail_is_cut_off_and_the_rest_is_served() {
    let dir = TempDir::new("corrupt-trunc");
    write_znodes(&dir.0, 50);
    let last = segments(&dir.0).pop().expect("a segment");
    let end = data_end(&last);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("open");
    file.set_len((end - 3) as u64).expect("truncate");
    drop(file);
    let (n, log) = children_after_restart(&dir.0);
    assert_eq!(n, 49, "only the torn last create is gone");
    assert!(log.contains("truncated a torn tail"), "log:\n{log}");
}

#[test]
fn zeroed_tail_is_cut_off_and_the_rest_is_served() {
    let dir = TempDir::new("corrupt-zero");
    write_znodes(&dir.0, 50);
    let last = segments(&dir.0).pop().expect("a segment");
    let mut bytes = std::fs::read(&last).expect("read");
    let end = data_end(&last);
    for b in &mut bytes[end - 10..end] {
        *b = 0;
    }
    std::fs::write(&last, &bytes).expect("write");
    let (n, log) = children_after_restart(&dir.0);
    assert_eq!(n, 49, "only the zeroed last create is gone");
    assert!(log.contains("truncated a torn tail"), "log:\n{log}");
}

#[test]
fn flipped_bit_mid_log_refuses_to_start_naming_file_and_offset() {
    let dir = TempDir::new("corrupt-flip");
    write_znodes(&dir.0, 200);
    let last = segments(&dir.0).pop().expect("a segment");
    let mut bytes = std::fs::read(&last).expect("read");
    let middle = data_end(&last) / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&last, &bytes).expect("write");
    let (status, out) = start_expecting_failure(&dir.0, free_port(), CFG);
    assert!(!status.success());
    let name = last.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(out.contains("cannot recover the data"), "{out}");
    assert!(out.contains("wal corruption in"), "{out}");
    assert!(out.contains(name), "names the segment {name}: {out}");
    assert!(out.contains("at byte offset"), "{out}");
}

#[test]
fn missing_segment_refuses_to_start_naming_the_gap() {
    let dir = TempDir::new("corrupt-gap");
    write_znodes(&dir.0, 2000);
    let segs = segments(&dir.0);
    assert!(
        segs.len() >= 3,
        "2000 writes span several 64 KiB segments: {segs:?}"
    );
    std::fs::remove_file(&segs[1]).expect("remove a middle segment");
    let (status, out) = start_expecting_failure(&dir.0, free_port(), CFG);
    assert!(!status.success());
    assert!(out.contains("wal gap: missing segment before"), "{out}");
    let after = segs[2].file_name().and_then(|n| n.to_str()).expect("name");
    assert!(
        out.contains(after),
        "names the segment after the gap: {out}"
    );
}

/// Snapshot files, newest first.
fn snapshots(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("data").join("snapshots"))
        .expect("snapshot dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("snapshot.") && !n.ends_with(".tmp"))
        })
        .collect();
    files.sort();
    files.reverse();
    files
}

#[test]
fn corrupted_newest_snapshot_falls_back_to_an_older_one_and_loses_nothing() {
    let dir = TempDir::new("corrupt-snap");
    let cfg = "preAllocSize=64\nsnapCount=100000000\n";
    let port = free_port();
    let mut server = ServerProcess::start(&dir.0, port, cfg);
    let mut c = Client::connect(port, 30_000).expect("connect");
    c.create("/c", b"", 0).expect("create /c");
    for round in 0..2 {
        for i in 0..100 {
            c.create(&format!("/c/r{round}-{i}"), b"v", 0)
                .expect("create");
        }
        // `csnp` asks for a snapshot; wait (bounded) until it is on disk.
        let before = snapshots(&dir.0).len();
        support::four_letter_word(port, "csnp").expect("csnp answers");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while snapshots(&dir.0).len() <= before {
            assert!(std::time::Instant::now() < deadline, "no snapshot appeared");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    server.kill();
    let snaps = snapshots(&dir.0);
    assert!(snaps.len() >= 2, "two snapshots: {snaps:?}");
    let mut bytes = std::fs::read(&snaps[0]).expect("read newest snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&snaps[0], &bytes).expect("corrupt it");
    let (n, log) = children_after_restart_with(&dir.0, cfg);
    assert_eq!(
        n, 200,
        "the older snapshot plus the log give back everything"
    );
    let name = snaps[0].file_name().and_then(|n| n.to_str()).expect("name");
    assert!(log.contains("skipping a damaged snapshot"), "log:\n{log}");
    assert!(log.contains(name), "the log names {name}:\n{log}");
    assert!(
        log.contains("loaded snapshot"),
        "an older snapshot was loaded:\n{log}"
    );
}

fn children_after_restart_with(dir: &Path, cfg: &str) -> (usize, String) {
    let port = free_port();
    let server = ServerProcess::start(dir, port, cfg);
    let mut c = Client::connect(port, 30_000).expect("connect");
    let n = c.children("/c").expect("children").len();
    (n, server.log())
}

//! `ferrokeeper convert` against real ZooKeeper 3.8 data: the files in
//! `../shared/testdata/zk-3.8-{data,ensemble-data}` (written by a real server; see their
//! READMEs) must convert to exactly the tree that server served (`expected-tree.txt`, listed
//! by `shared/tools/zk_tree_list.py`), and corrupted copies of them must fail with an error
//! naming the file and the byte offset.
//!
//! `converts_data_from_a_live_zookeeper` also generates fresh data with the real ZooKeeper
//! (`shared/tools/make_zk_testdata.py`); it is skipped, with a message, when Java, the
//! ZooKeeper jar or kazoo is missing, unless `FERROKEEPER_REQUIRE_INTEROP` is set.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const PYTHON: &str = "/usr/bin/python3";

fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
}

fn testdata(name: &str) -> PathBuf {
    shared_dir().join("testdata").join(name)
}

fn convert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("convert")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the ferrokeeper binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "ferrokeeper-convert-{tag}-{}-{n}",
            std::process::id()
        ));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove a stale temp dir");
        }
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("could not remove {}: {e}", self.0.display());
        }
    }
}

/// A writable copy of a data set's `version-2/` (the originals are read-only).
fn copy_version2(name: &str) -> TempDir {
    let tmp = TempDir::new(name);
    let from = testdata(name).join("version-2");
    let to = tmp.path().join("version-2");
    std::fs::create_dir_all(&to).expect("mkdir");
    for entry in std::fs::read_dir(&from).expect("testdata present") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target).expect("copy");
        let perms = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(&target, perms).expect("chmod");
    }
    tmp
}

fn edit(file: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(file).expect("read");
    change(&mut bytes);
    std::fs::write(file, bytes).expect("write");
}

/// Offsets and zxids of the records of a ZooKeeper txn log (header 16 bytes; each record:
/// checksum 8, length 4, payload, 'B'; the zxid is at payload bytes 12..20).
fn log_records(bytes: &[u8]) -> Vec<(usize, i64)> {
    let mut out = Vec::new();
    let mut pos = 16;
    while pos + 12 <= bytes.len() {
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().expect("4 bytes"));
        if len <= 0 {
            break;
        }
        let zxid_at = pos + 12 + 12;
        let zxid = i64::from_be_bytes(bytes[zxid_at..zxid_at + 8].try_into().expect("8 bytes"));
        out.push((pos, zxid));
        pos += 12 + len as usize + 1;
    }
    out
}

/// Runs a conversion that must fail; returns its stderr.
fn expect_failure(data: &Path) -> String {
    let out = convert(&["--zk-data", data.to_str().expect("utf8 path"), "--list"]);
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "conversion should fail; stderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no listing on failure");
    stderr
}

/// The listing with the mtime of `/zookeeper/config` masked: in an ensemble that node is
/// rewritten in memory at every quorum start-up, not through a txn (see the data set's
/// README), so only its mtime may legitimately differ.
fn mask_config_mtime(listing: &str) -> String {
    listing
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split('\t').collect();
            if fields[0] == "/zookeeper/config" && fields.len() > 11 {
                fields[11] = "*";
            }
            fields.join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The listing of a conversion that must succeed with every ZooKeeper digest equal.
fn listing_of(data: &Path) -> String {
    let out = convert(&["--zk-data", data.to_str().expect("utf8 path"), "--list"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "convert failed: {stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(stderr.contains(" 0 differences"), "{stderr}");
    text(&out.stdout)
}

/// `java.util.zip.Adler32`, to forge a record whose checksum still holds.
fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

#[test]
fn standalone_data_converts_to_exactly_the_tree_zookeeper_served() {
    let data = testdata("zk-3.8-data");
    let expected = std::fs::read_to_string(data.join("expected-tree.txt")).expect("expected");
    let listing = listing_of(&data);
    assert!(
        listing == expected,
        "listing differs:\n{}",
        first_difference(&listing, &expected)
    );
}

#[test]
fn ensemble_data_over_two_epochs_converts_to_the_tree_zookeeper_served() {
    let data = testdata("zk-3.8-ensemble-data");
    let expected = std::fs::read_to_string(data.join("expected-tree.txt")).expect("expected");
    let listing = listing_of(&data);
    let (got, want) = (mask_config_mtime(&listing), mask_config_mtime(&expected));
    assert!(
        got == want,
        "listing differs:\n{}",
        first_difference(&got, &want)
    );
}

fn first_difference(got: &str, want: &str) -> String {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        if g != w {
            return format!("line {}:\n  got  {g}\n  want {w}", i + 1);
        }
    }
    format!(
        "one is a prefix of the other: {} vs {} lines",
        got.lines().count(),
        want.lines().count()
    )
}

#[test]
fn logs_in_a_separate_data_log_dir_are_found() {
    let tmp = copy_version2("zk-3.8-data");
    let logs = tmp.path().join("txnlogs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    for entry in std::fs::read_dir(tmp.path().join("version-2")).expect("list") {
        let entry = entry.expect("entry");
        if entry.file_name().to_string_lossy().starts_with("log.") {
            std::fs::rename(entry.path(), logs.join(entry.file_name())).expect("move");
        }
    }
    let expected = testdata("zk-3.8-data").join("expected-tree.txt");
    let expected = std::fs::read_to_string(expected).expect("expected");
    let out = convert(&[
        "--zk-data",
        tmp.path().to_str().expect("utf8"),
        "--zk-log-dir",
        logs.to_str().expect("utf8"),
        "--list",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout) == expected, "listing differs");
}

#[test]
fn output_is_a_tree_snapshot_that_loads_with_sessions_and_ephemerals() {
    let out_dir = TempDir::new("output");
    let target = out_dir.path().join("converted");
    let data = testdata("zk-3.8-data");
    let run = |dir: &Path| {
        convert(&[
            "--zk-data",
            data.to_str().expect("utf8"),
            "--output",
            dir.to_str().expect("utf8"),
        ])
    };
    let out = run(&target);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "no listing without --list");
    let bytes = std::fs::read(target.join("ferrokeeper-snapshot.bin")).expect("output file");
    let config = tree::TreeConfig {
        extended_types_enabled: true,
        super_digest: None,
    };
    let tree = tree::DataTree::decode_snapshot(&bytes, config).expect("our snapshot loads");
    assert_eq!(tree.len(), 950);
    assert_eq!(tree.last_zxid(), 0x6e1);
    assert_eq!(tree.sessions().len(), 3);
    assert!(tree.sessions().iter().all(|(_, s)| s.timeout_ms == 40_000));
    let ephemerals: usize = tree
        .sessions()
        .iter()
        .map(|(_, s)| s.ephemerals.len())
        .sum();
    assert_eq!(ephemerals, 112);
    assert_eq!(tree.containers().len(), 3);
    assert_eq!(tree.ttls().len(), 3);
    assert_eq!(tree.digest(), tree.recompute_digest());

    let again = run(&target);
    assert!(
        !again.status.success(),
        "an existing output is not overwritten"
    );
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn bad_snapshot_magic_names_the_file_and_byte_0() {
    let tmp = copy_version2("zk-3.8-data");
    edit(&tmp.path().join("version-2/snapshot.648"), |b| b[0] = b'X');
    let err = expect_failure(tmp.path());
    assert!(err.contains("snapshot.648: byte 0: bad magic"), "{err}");
}

#[test]
fn a_flipped_byte_in_snapshot_data_fails_the_checksum() {
    let tmp = copy_version2("zk-3.8-data");
    let file = tmp.path().join("version-2/snapshot.648");
    edit(&file, |b| {
        let path = b"/app/blobs/b100000";
        let at = b
            .windows(path.len())
            .position(|w| w == path)
            .expect("blob node present");
        // Path length prefix was before `at`; then the path, the data length, the data.
        b[at + path.len() + 4 + 500] ^= 0x01;
    });
    let err = expect_failure(tmp.path());
    assert!(err.contains("snapshot.648: byte "), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(
        err.contains("would skip this snapshot"),
        "the error says what ZooKeeper does: {err}"
    );
}

#[test]
fn a_truncated_snapshot_names_the_offset_where_it_ends() {
    let tmp = copy_version2("zk-3.8-data");
    let file = tmp.path().join("version-2/snapshot.648");
    for cut in [10usize, 12_345, 200_000] {
        edit(&file, |b| b.truncate(cut));
        let err = expect_failure(tmp.path());
        assert!(err.contains("snapshot.648: byte "), "cut {cut}: {err}");
    }
}

#[test]
fn a_flipped_byte_in_a_log_record_fails_its_checksum() {
    let tmp = copy_version2("zk-3.8-data");
    let file = tmp.path().join("version-2/log.64a");
    let records = log_records(&std::fs::read(&file).expect("read"));
    let (third, _) = records[2];
    edit(&file, |b| b[third + 12 + 40] ^= 0x10);
    let err = expect_failure(tmp.path());
    assert!(
        err.contains(&format!("log.64a: byte {third}: checksum mismatch")),
        "{err}"
    );
}

#[test]
fn a_forged_txn_with_a_valid_checksum_is_caught_by_zookeepers_digest() {
    let tmp = copy_version2("zk-3.8-data");
    let file = tmp.path().join("version-2/log.64a");
    edit(&file, |b| {
        let (first, zxid) = log_records(b)[0];
        assert_eq!(zxid, 0x64a);
        let len = i32::from_be_bytes(b[first + 8..first + 12].try_into().expect("4")) as usize;
        let payload = first + 12..first + 12 + len;
        let value = b"part2-221";
        let at = b[payload.clone()]
            .windows(value.len())
            .position(|w| w == value)
            .expect("the setData value");
        b[payload.start + at] = b'P';
        let sum = i64::from(adler32(&b[payload]));
        b[first..first + 8].copy_from_slice(&sum.to_be_bytes());
    });
    let out = convert(&["--zk-data", tmp.path().to_str().expect("utf8"), "--list"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let expected = "comparisons with ZooKeeper's tree digest differ, the first after zxid 0x64a";
    assert!(stderr.contains(expected), "{stderr}");
}

#[test]
fn bad_log_magic_names_the_file_and_byte_0() {
    let tmp = copy_version2("zk-3.8-data");
    edit(&tmp.path().join("version-2/log.64a"), |b| b[1] = 0);
    let err = expect_failure(tmp.path());
    assert!(err.contains("log.64a: byte 0: bad magic"), "{err}");
}

#[test]
fn a_log_cut_before_the_next_one_starts_is_a_gap_error() {
    let tmp = copy_version2("zk-3.8-data");
    // snapshot.648 is replayed from log.5dd (which holds 0x649) and log.64a.
    let file = tmp.path().join("version-2/log.5dd");
    let records = log_records(&std::fs::read(&file).expect("read"));
    let (at, _) = *records
        .iter()
        .find(|(_, z)| *z == 0x649)
        .expect("0x649 in log.5dd");
    edit(&file, |b| b.truncate(at + 20));
    let err = expect_failure(tmp.path());
    assert!(
        err.contains("log.64a: byte 16: txn zxid 0x64a follows 0x648"),
        "{err}"
    );
    assert!(err.contains("1 txns are missing"), "{err}");
}

#[test]
fn a_torn_last_record_in_the_newest_log_is_dropped_with_a_warning() {
    let tmp = copy_version2("zk-3.8-data");
    let file = tmp.path().join("version-2/log.64a");
    let records = log_records(&std::fs::read(&file).expect("read"));
    let (last, zxid) = *records.last().expect("records");
    assert_eq!(zxid, 0x6e1);
    edit(&file, |b| b.truncate(last + 30));
    let out = convert(&["--zk-data", tmp.path().to_str().expect("utf8"), "--list"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("log.64a: byte {last}: torn last record")),
        "{stderr}"
    );
    assert!(stderr.contains("to zxid 0x6e0"), "{stderr}");
    assert!(stderr.contains(" 0 differences"), "{stderr}");
}

#[test]
fn compressed_or_missing_snapshots_are_explained() {
    let tmp = copy_version2("zk-3.8-data");
    let v2 = tmp.path().join("version-2");
    std::fs::rename(v2.join("snapshot.648"), v2.join("snapshot.648.snappy")).expect("rename");
    let err = expect_failure(tmp.path());
    assert!(
        err.contains("snapshot.648.snappy: snappy-compressed snapshots"),
        "{err}"
    );
    for name in ["snapshot.648.snappy", "snapshot.5db", "snapshot.55d"] {
        std::fs::remove_file(v2.join(name)).expect("remove");
    }
    let err = expect_failure(&v2);
    assert!(err.contains("no snapshot.* file"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = convert(&["--zk-data", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing --output DIR (or --list)"));
    let out = convert(&["--zk-data", "/nonexistent/zk", "--list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/zk: is not a directory"));
}

fn live_prerequisite_missing() -> Option<String> {
    let tool = shared_dir().join("tools").join("make_zk_testdata.py");
    if !tool.exists() {
        return Some(format!("{} not found", tool.display()));
    }
    if !Path::new("/usr/share/java/zookeeper.jar").exists() {
        return Some("/usr/share/java/zookeeper.jar not found (apt-get install zookeeper)".into());
    }
    let ok = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(Command::new("java").arg("-version")) {
        return Some("java is not runnable".into());
    }
    if !ok(Command::new(PYTHON).args(["-c", "import kazoo.client"])) {
        return Some("kazoo is not importable by /usr/bin/python3".into());
    }
    None
}

/// A free TCP port on 127.0.0.1 with its neighbours used by `zk-ref.sh` (+100, +200) free,
/// below the kernel's range for outgoing connections' ports: the JVM binds a second or two
/// after the pick, and a port inside that range can meanwhile become some client socket's.
fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let top = low.saturating_sub(201).max(10_001);
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 32
        | 1;
    for _ in 0..200 {
        // xorshift64: any spread will do, this is only a pick.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let port = 10_000 + (state % u64::from(top - 10_000)) as u16;
        if [0, 100, 200]
            .iter()
            .all(|d| std::net::TcpListener::bind(("127.0.0.1", port + d)).is_ok())
        {
            return port;
        }
    }
    panic!("no free port found below {low}");
}

#[test]
fn converts_data_from_a_live_zookeeper() {
    if let Some(why) = live_prerequisite_missing() {
        let required = std::env::var_os("FERROKEEPER_REQUIRE_INTEROP")
            .is_some_and(|v| !v.is_empty() && v != "0");
        assert!(!required, "FERROKEEPER_REQUIRE_INTEROP is set but {why}");
        eprintln!("SKIPPED converts_data_from_a_live_zookeeper: {why}");
        return;
    }
    let tmp = TempDir::new("live");
    let out_dir = tmp.path().join("zk");
    let port = free_port().to_string();
    let tool = shared_dir().join("tools").join("make_zk_testdata.py");
    let made = Command::new(PYTHON)
        .arg(&tool)
        .arg(&out_dir)
        .arg(&port)
        .stdin(Stdio::null())
        .output()
        .expect("run make_zk_testdata.py");
    let log = format!("{}{}", text(&made.stdout), text(&made.stderr));
    assert!(made.status.success(), "make_zk_testdata.py failed:\n{log}");
    assert!(
        log.contains("tree identical): True"),
        "ZooKeeper's own reload differs:\n{log}"
    );
    let expected = std::fs::read_to_string(out_dir.join("expected-tree.txt")).expect("listing");
    let listing = listing_of(&out_dir);
    assert!(
        listing == expected,
        "listing differs:\n{}",
        first_difference(&listing, &expected)
    );
}

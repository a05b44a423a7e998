//! Interop suites: real clients (kazoo, zkCli, cli_mt) and the real ZooKeeper 3.8 against the
//! built `ferrokeeper` binary. Each test runs one script from `tests/py/` with `/usr/bin/python3`
//! (the interpreter that sees Debian's python3-kazoo) and requires its last line to read
//! `N passed, 0 failed` with N > 0, and its exit status to be 0.
//!
//! The scripts start their own servers on free 127.0.0.1 ports and stop them on every exit
//! path; the reference ZooKeeper comes from `../shared/tools/zk-ref.sh` beside the repository.
//! A test is skipped (with a message saying why) only when a prerequisite is missing AND
//! `FERROKEEPER_REQUIRE_INTEROP` is unset; CI sets it, so nothing there skips silently.
//!
//! The suites run one at a time (a process-wide lock): each starts JVMs and the server, and
//! running them side by side on a 2-core machine would turn timing slack into flakiness.
//!
//! Knobs: `FERROKEEPER_DIFF_SEEDS` (default `1-5`), `FERROKEEPER_DIFF_OPS` (default 2000),
//! `FERROKEEPER_DIFF_FRESH_SEEDS` (extra random seeds, printed so a failure can be replayed),
//! `FERROKEEPER_DIFF_CLUSTER_SEEDS` (default `1-3`, the differential through a follower).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod support;
use support::python::{interop_required, kazoo_missing, summary, wait_with_limit, PYTHON};
static SERIAL: Mutex<()> = Mutex::new(());

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str) -> PathBuf {
    repo_root().join("tests").join("py").join(name)
}

/// Returns the reason the interop prerequisites are missing, if they are.
fn missing_prerequisite(need_zookeeper: bool) -> Option<String> {
    if let Some(why) = kazoo_missing() {
        return Some(why);
    }
    if need_zookeeper {
        let zk_ref = repo_root()
            .join("..")
            .join("shared")
            .join("tools")
            .join("zk-ref.sh");
        if std::env::var_os("ZK_REF").is_none() && !zk_ref.exists() {
            return Some(format!("{} not found", zk_ref.display()));
        }
        if !Path::new("/usr/share/java/zookeeper.jar").exists() {
            return Some(
                "/usr/share/java/zookeeper.jar not found (apt-get install zookeeper)".into(),
            );
        }
    }
    None
}

/// Skip (return false) or panic, depending on FERROKEEPER_REQUIRE_INTEROP.
fn prerequisites_ok(test: &str, need_zookeeper: bool) -> bool {
    match missing_prerequisite(need_zookeeper) {
        None => true,
        Some(why) if interop_required() => {
            panic!("{test}: FERROKEEPER_REQUIRE_INTEROP is set but {why}")
        }
        Some(why) => {
            eprintln!(
                "SKIPPED {test}: {why} (set FERROKEEPER_REQUIRE_INTEROP=1 to make this fail)"
            );
            false
        }
    }
}

/// Runs `python3 script args…` with a wall-clock limit; returns (exit ok, combined output).
fn run_python(script_name: &str, args: &[&str], limit: Duration) -> (bool, String) {
    let path = script(script_name);
    assert!(path.exists(), "missing {}", path.display());
    let out_path = std::env::temp_dir().join(format!(
        "fk-interop-{}-{}.log",
        script_name.trim_end_matches(".py"),
        std::process::id()
    ));
    let out_file = std::fs::File::create(&out_path).expect("temp dir is writable");
    let err_file = out_file.try_clone().expect("a file handle can be cloned");
    let mut child = Command::new(PYTHON)
        .arg("-u")
        .arg(&path)
        .args(args)
        .env("FERROKEEPER_BIN", env!("CARGO_BIN_EXE_ferrokeeper"))
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(err_file)
        .spawn()
        .expect("python3 starts");
    // SIGTERM first past the limit, so the script's own cleanup stops its servers.
    let status = wait_with_limit(&mut child, limit, Some(Duration::from_secs(20)));
    let mut output = String::new();
    std::fs::File::open(&out_path)
        .and_then(|mut f| f.read_to_string(&mut output))
        .expect("the log can be read back");
    let _removed = std::fs::remove_file(&out_path);
    match status {
        Some(s) => (s.success(), output),
        None => (false, format!("{output}\n*** killed after {limit:?} ***")),
    }
}

fn run_suite(test: &str, script_name: &str, args: &[&str], need_zookeeper: bool, limit: Duration) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !prerequisites_ok(test, need_zookeeper) {
        return;
    }
    let started = Instant::now();
    let (ok, output) = run_python(script_name, args, limit);
    println!("{output}");
    let tail: String = {
        let lines: Vec<&str> = output.lines().collect();
        lines[lines.len().saturating_sub(120)..].join("\n")
    };
    let counts = summary(&output);
    assert!(
        ok && matches!(counts, Some((p, 0)) if p > 0),
        "{test}: {script_name} {args:?} failed after {:?} (exit ok: {ok}, summary: {counts:?}):\n{tail}",
        started.elapsed()
    );
    eprintln!("{test}: {:?} in {:?}", counts, started.elapsed());
}

fn diff_seeds() -> String {
    let mut seeds = std::env::var("FERROKEEPER_DIFF_SEEDS").unwrap_or_else(|_| "1-5".into());
    let fresh: u64 = std::env::var("FERROKEEPER_DIFF_FRESH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if fresh > 0 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for i in 0..fresh {
            // SplitMix64 step over the clock: fresh seeds, printed for replay.
            let mut z = (now as u64).wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i + 1));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let seed = 1000 + (z ^ (z >> 31)) % 1_000_000_000;
            seeds.push_str(&format!(",{seed}"));
        }
        eprintln!("differential seeds: {seeds} (replay one with FERROKEEPER_DIFF_SEEDS=<seed>)");
    }
    seeds
}

#[test]
fn differential_against_zookeeper() {
    let seeds = diff_seeds();
    let ops = std::env::var("FERROKEEPER_DIFF_OPS").unwrap_or_else(|_| "2000".into());
    run_suite(
        "differential_against_zookeeper",
        "differential.py",
        &[
            "--self-start",
            "--seeds",
            &seeds,
            "--ops",
            &ops,
            "--time-limit",
            "1500",
        ],
        true,
        Duration::from_secs(1800),
    );
}

/// The same differential, the target being a 3-member cluster whose FOLLOWER serves every
/// target connection (writes are forwarded to the leader). Seeds: `FERROKEEPER_DIFF_CLUSTER_SEEDS`
/// (default `1-3`), ops: `FERROKEEPER_DIFF_OPS`; about a minute with the defaults.
#[test]
fn differential_against_zookeeper_via_a_follower() {
    let seeds = std::env::var("FERROKEEPER_DIFF_CLUSTER_SEEDS").unwrap_or_else(|_| "1-3".into());
    let ops = std::env::var("FERROKEEPER_DIFF_OPS").unwrap_or_else(|_| "2000".into());
    run_suite(
        "differential_against_zookeeper_via_a_follower",
        "differential.py",
        &[
            "--self-start",
            "--cluster",
            "--seeds",
            &seeds,
            "--ops",
            &ops,
            "--time-limit",
            "240",
        ],
        true,
        Duration::from_secs(330),
    );
}

/// kazoo against a cluster: kill -9 of the leader and a rolling restart under write load
/// (session, ephemerals and acknowledged writes survive; replicas converge), and an observer
/// that serves but never votes. About 20 s.
#[test]
fn failover_keeps_sessions_and_acknowledged_writes() {
    run_suite(
        "failover_keeps_sessions_and_acknowledged_writes",
        "failover.py",
        &[],
        false,
        Duration::from_secs(300),
    );
}

/// The differential test itself: passes ZooKeeper vs ZooKeeper, fails on planted differences.
#[test]
fn differential_detects_planted_differences() {
    run_suite(
        "differential_detects_planted_differences",
        "differential.py",
        &["--selftest", "--ops", "300"],
        true,
        Duration::from_secs(300),
    );
}

#[test]
fn kazoo_recipes() {
    run_suite(
        "kazoo_recipes",
        "recipes.py",
        &["--self-start"],
        false,
        Duration::from_secs(600),
    );
}

/// `ferrokeeper cli reconfig`/`config` against a real 3-node ZooKeeper: the change happens,
/// the print is what /zookeeper/config then holds, errors read as Java zkCli's.
#[test]
fn cli_reconfig_against_a_zookeeper_ensemble() {
    run_suite(
        "cli_reconfig_against_a_zookeeper_ensemble",
        "reconfig_cli.py",
        &[],
        true,
        Duration::from_secs(300),
    );
}

/// Issue #9: ZooKeeper's ACL fixes (CVE-2019-0201 getACL, CVE-2024-23944 persistent watches,
/// the super digest, auth on reconnect, ip scheme) give the same answers on both servers.
#[test]
fn acl_review_matches_zookeeper() {
    run_suite(
        "acl_review_matches_zookeeper",
        "acl_review.py",
        &[],
        true,
        Duration::from_secs(300),
    );
}

/// Issue #8: grow 3 → 5 and shrink 5 → 3 (the leader leaving), and a dead server replaced by
/// a new id, all through kazoo's reconfig under write load, losing no acknowledged write.
#[test]
fn membership_changes_under_load() {
    run_suite(
        "membership_changes_under_load",
        "reconfig_membership.py",
        &[],
        false,
        Duration::from_secs(300),
    );
}

#[test]
fn zkcli_and_cli_mt() {
    run_suite(
        "zkcli_and_cli_mt",
        "zkcli.py",
        &["--self-start"],
        true,
        Duration::from_secs(600),
    );
}

#[test]
fn bad_input_matches_zookeeper() {
    run_suite(
        "bad_input_matches_zookeeper",
        "bad_input.py",
        &["--self-start"],
        true,
        Duration::from_secs(900),
    );
}

#[test]
fn four_letter_words_match_zookeeper() {
    run_suite(
        "four_letter_words_match_zookeeper",
        "fourlw.py",
        &["--self-start"],
        true,
        Duration::from_secs(300),
    );
}

#[test]
fn container_and_ttl_reaping_matches_zookeeper() {
    // Slow by nature (~2 min): both servers sweep every 60 s, and a nested container needs
    // two sweeps.
    run_suite(
        "container_and_ttl_reaping_matches_zookeeper",
        "reaping.py",
        &["--self-start"],
        true,
        Duration::from_secs(600),
    );
}

#[test]
fn summary_line_is_parsed() {
    assert_eq!(summary("x\n3 passed, 0 failed\n"), Some((3, 0)));
    assert_eq!(summary("2 passed, 1 failed"), Some((2, 1)));
    assert_eq!(summary("passed"), None);
    assert_eq!(summary("3 passed 0 failed"), None);
}

//! The fault harness's smoke run (issue #9): `tests/py/fault_run.py --smoke` on a 3-member
//! cluster of the built binary, every peer link through a controllable proxy. Five kazoo
//! workloads (register, set, counter, queue, unique ids) run while each nemesis kind acts
//! once (kill -9 of a random member and of the leader, SIGSTOP of either, majority/minority,
//! isolated-leader and bridge partitions, a truncated or garbled WAL tail, a garbled
//! mid-log record, a corrupted snapshot); then every history goes through
//! `tests/py/history_check.py`. About 2 minutes on the 2-core VM; the limit is 8.
//!
//! The test fails on any checker violation, a malformed history, replicas that end on
//! different digests, a cluster that does not recover within a minute of a fault being
//! undone, a server panic, a nemesis kind that did not run, or a script that does not end
//! with `N passed, 0 failed`.
//!
//! An "unknown" verdict: the register checker answers unknown only when its search budget
//! (1M steps per key) runs out. Each register key gets ~100 ops, whose search took at most a
//! few hundred steps in our runs (114 in the smoke, 256 with every member wiped), so running
//! out means a pathological key (scores of indeterminate writes), not a bug shown: the script
//! prints it per key and does not fail on it. Any other unknown (a set with no ok read) means
//! the final phase could not read after the faults were undone, a recovery failure, so it
//! fails. `fault_run.py --strict-unknown` fails on both.
//!
//! `fault_harness_flags_a_planted_loss` checks the harness itself: it wipes every member's
//! data mid-run and requires a checker to flag the loss.
//!
//! Knobs: `FAULT_SEED` (default 1; the schedule of faults and ops), `FAULT_NODES` (3),
//! `FAULT_VIOLATIONS_DIR` (copy failing histories there). Histories and server logs stay in
//! the printed directory when the test fails. Skipped with a message when `/usr/bin/python3`
//! cannot import kazoo, unless `FERROKEEPER_REQUIRE_INTEROP` is set (CI sets it).

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod support;
use support::python::{collect, interop_required, kazoo_missing, summary, wait_with_limit, PYTHON};

/// One cluster at a time: two side by side on 2 cores would turn timing slack into stalls.
static SERIAL: Mutex<()> = Mutex::new(());
const TIME_LIMIT: Duration = Duration::from_secs(8 * 60);
const SELFTEST_TIME_LIMIT: Duration = Duration::from_secs(3 * 60);
const TERM_GRACE: Duration = Duration::from_secs(30);
/// Five histories and five run-level checks, the nemesis coverage check among them.
const CHECKS_MIN: u32 = 10;

/// What one run of `fault_run.py` left: its exit status (None: killed at the limit), its
/// stdout and the tail of its stderr (the harness's log).
struct ScriptRun {
    status: Option<ExitStatus>,
    stdout: String,
    stderr_tail: String,
    elapsed: Duration,
}

/// Runs `fault_run.py args…` from the repository root against the built binary.
fn run_fault_script(args: &[String], limit: Duration) -> ScriptRun {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests").join("py").join("fault_run.py");
    assert!(script.exists(), "missing {}", script.display());
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let started = Instant::now();
    let mut child = Command::new(PYTHON)
        .arg("-u")
        .arg(&script)
        .args(args)
        .current_dir(&root)
        .env("FERROKEEPER_BIN", env!("CARGO_BIN_EXE_ferrokeeper"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PYTHON}: {e}"));
    let stdout = collect(child.stdout.take().expect("stdout was piped"));
    let stderr = collect(child.stderr.take().expect("stderr was piped"));
    let status = wait_with_limit(&mut child, limit, Some(TERM_GRACE));
    let stdout = stdout.join().expect("the stdout reader does not panic");
    let stderr = stderr.join().expect("the stderr reader does not panic");
    let lines: Vec<&str> = stderr.lines().collect();
    let stderr_tail = lines[lines.len().saturating_sub(80)..].join("\n");
    ScriptRun {
        status,
        stdout,
        stderr_tail,
        elapsed: started.elapsed(),
    }
}

/// Skips (false) when kazoo is missing, unless FERROKEEPER_REQUIRE_INTEROP says it must not.
fn prerequisites_ok(test: &str) -> bool {
    match kazoo_missing() {
        None => true,
        Some(why) => {
            assert!(
                !interop_required(),
                "{test}: FERROKEEPER_REQUIRE_INTEROP is set but {why}"
            );
            eprintln!("SKIPPED {test}: {why} (set FERROKEEPER_REQUIRE_INTEROP=1 to fail)");
            false
        }
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("fk-fault-{name}-{}", std::process::id()))
}

#[test]
fn fault_smoke_every_nemesis_once() {
    if !prerequisites_ok("fault_smoke_every_nemesis_once") {
        return;
    }
    let seed = std::env::var("FAULT_SEED").unwrap_or_else(|_| "1".into());
    let nodes = std::env::var("FAULT_NODES").unwrap_or_else(|_| "3".into());
    let out = scratch_dir("smoke");
    let mut args: Vec<String> = vec![
        "--smoke".into(),
        "--seed".into(),
        seed.clone(),
        "--nodes".into(),
        nodes.clone(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Ok(dir) = std::env::var("FAULT_VIOLATIONS_DIR") {
        args.extend(["--violations-dir".into(), dir]);
    }
    eprintln!(
        "fault smoke: seed {seed}, {nodes} nodes (replay: FAULT_SEED={seed} FAULT_NODES={nodes} \
         cargo test --release --test fault)"
    );
    let run = run_fault_script(&args, TIME_LIMIT);
    let counts = summary(&run.stdout);
    let passed = run.status.is_some_and(|s| s.success())
        && counts.is_some_and(|(p, f)| f == 0 && p >= CHECKS_MIN);
    assert!(
        passed,
        "fault smoke failed after {:?} (status {:?}, summary {counts:?}); histories and \
         server logs in {}\n--- stdout:\n{}\n--- stderr (tail):\n{}",
        run.elapsed,
        run.status,
        out.display(),
        run.stdout,
        run.stderr_tail
    );
    println!("{}", run.stdout);
    eprintln!("fault smoke passed in {:?}", run.elapsed);
    if let Err(e) = std::fs::remove_dir_all(&out) {
        eprintln!("cannot remove {}: {e}", out.display());
    }
}

/// The harness checks itself: every member's data is wiped mid-run, which loses acknowledged
/// writes for certain, and a checker must say so (the register, set and counter histories
/// do; the queue is near empty and ids are not re-read, so those may pass). About 30 s.
#[test]
fn fault_harness_flags_a_planted_loss() {
    if !prerequisites_ok("fault_harness_flags_a_planted_loss") {
        return;
    }
    let out = scratch_dir("selftest");
    let args: Vec<String> = vec![
        "--smoke".into(),
        "--nemeses".into(),
        "wipe-all".into(),
        "--expect-violations".into(),
        "--seed".into(),
        "3".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    let run = run_fault_script(&args, SELFTEST_TIME_LIMIT);
    let counts = summary(&run.stdout);
    assert!(
        run.status.is_some_and(|s| s.success()) && counts == Some((2, 0)),
        "the planted loss went unnoticed after {:?} (status {:?}, summary {counts:?}); \
         histories in {}\n--- stdout:\n{}\n--- stderr (tail):\n{}",
        run.elapsed,
        run.status,
        out.display(),
        run.stdout,
        run.stderr_tail
    );
    let flagged = run
        .stdout
        .lines()
        .find(|l| l.starts_with("histories flagged: "))
        .unwrap_or("histories flagged: ?");
    eprintln!("planted loss caught in {:?}; {flagged}", run.elapsed);
    if let Err(e) = std::fs::remove_dir_all(&out) {
        eprintln!("cannot remove {}: {e}", out.display());
    }
}

#[test]
fn summary_line_is_parsed() {
    assert_eq!(summary("x\n10 passed, 0 failed\n"), Some((10, 0)));
    assert_eq!(summary("9 passed, 1 failed"), Some((9, 1)));
    assert_eq!(summary("passed"), None);
}

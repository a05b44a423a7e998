//! Runs the history checker's unit tests (`tests/py/test_history_check.py`) so that
//! `cargo test --workspace` covers the checker the fault harness relies on (issue #9).
//!
//! The checker is stdlib-only Python and independent of the server, so nothing is built or
//! started here. The child runs from the repository root under a wall-clock limit and is killed
//! past it; the test passes only if it exits 0 and unittest reports `OK` after running at least
//! one test, and prints the child's output otherwise.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const TIME_LIMIT: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Debian's interpreter when present (what the other suites use), else whatever is on PATH.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Reads a pipe to its end on its own thread, so a chatty child never blocks on a full pipe.
fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Err(e) = pipe.read_to_end(&mut bytes) {
            // Only the output shown is cut short; the exit status still decides the test.
            bytes.extend_from_slice(format!("\n[reading the output failed: {e}]").as_bytes());
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for the child until `limit`; past it, kills it and returns None.
fn wait_with_limit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait on our own child works") {
            return Some(status);
        }
        if started.elapsed() > limit {
            // std never signals a reaped child, so this cannot hit a recycled pid.
            child.kill().expect("killing our own running child works");
            child
                .wait()
                .expect("waiting for our own killed child works");
            return None;
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// The N of unittest's `Ran N tests` line.
fn tests_ran(output: &str) -> Option<u32> {
    let line = output.lines().find(|l| l.starts_with("Ran "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn history_checker_unit_tests_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests").join("py").join("test_history_check.py");
    assert!(script.exists(), "missing {}", script.display());
    let mut child = Command::new(python())
        .arg(&script)
        .current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python()));
    let stdout = collect(child.stdout.take().expect("stdout was piped"));
    let stderr = collect(child.stderr.take().expect("stderr was piped"));
    let status = wait_with_limit(&mut child, TIME_LIMIT);
    let output = format!(
        "{}{}",
        stdout.join().expect("the stdout reader does not panic"),
        stderr.join().expect("the stderr reader does not panic")
    );
    let status = status.unwrap_or_else(|| panic!("killed after {TIME_LIMIT:?}:\n{output}"));
    let ran = tests_ran(&output);
    let reported_ok = output.lines().any(|l| l == "OK" || l.starts_with("OK ("));
    assert!(
        status.success() && reported_ok && ran.is_some_and(|n| n > 0),
        "{} {} failed ({status}, ran {ran:?}):\n{output}",
        python(),
        script.display()
    );
    println!("{output}");
}

#[test]
fn tests_ran_reads_the_unittest_summary() {
    assert_eq!(
        tests_ran("....\n------\nRan 43 tests in 0.3s\n\nOK\n"),
        Some(43)
    );
    assert_eq!(tests_ran("Traceback (most recent call last):\n"), None);
}

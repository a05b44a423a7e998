//! Runs the history checker's unit tests (`tests/py/test_history_check.py`) so that
//! `cargo test --workspace` covers the checker the fault harness relies on (issue #9).
//!
//! The checker is stdlib-only Python and independent of the server, so nothing is built or
//! started here. The child runs from the repository root under a wall-clock limit and is killed
//! past it; the test passes only if it exits 0 and unittest reports `OK` after running at least
//! one test, and prints the child's output otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;
use support::python::{collect, wait_with_limit};

const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Debian's interpreter when present (what the other suites use), else whatever is on PATH.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
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
    let status = wait_with_limit(&mut child, TIME_LIMIT, None);
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

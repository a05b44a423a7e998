//! Running the Python suites from a Rust test: the interpreter, the interop prerequisites,
//! a bounded wait on the child, and the `N passed, M failed` line the suites end with.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Debian's interpreter: the only one that sees Debian's kazoo.
pub const PYTHON: &str = "/usr/bin/python3";
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// FERROKEEPER_REQUIRE_INTEROP set (not empty, not 0): a missing prerequisite fails the test
/// instead of skipping it (CI sets it).
pub fn interop_required() -> bool {
    std::env::var_os("FERROKEEPER_REQUIRE_INTEROP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Why kazoo cannot be used, if it cannot.
pub fn kazoo_missing() -> Option<String> {
    if !Path::new(PYTHON).exists() {
        return Some(format!("{PYTHON} not found"));
    }
    let kazoo = Command::new(PYTHON)
        .args(["-c", "import kazoo.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if kazoo.is_ok_and(|s| s.success()) {
        None
    } else {
        Some("kazoo is not importable by /usr/bin/python3 (apt-get install python3-kazoo)".into())
    }
}

/// Reads a pipe to its end on its own thread, so a chatty child never blocks on a full pipe.
pub fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Err(e) = pipe.read_to_end(&mut bytes) {
            // Only the output shown is cut short; the exit status still decides the test.
            bytes.extend_from_slice(format!("\n[reading the output failed: {e}]").as_bytes());
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Sends SIGTERM through the shell's `kill` builtin, so a script's own cleanup stops the
/// servers it started (no procps needed, no unsafe here).
pub fn terminate(pid: u32) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {pid}"))
        .status();
    if let Err(e) = status {
        eprintln!("cannot run kill -TERM {pid}: {e}");
    }
}

/// Waits for the child until `limit`. Past it: SIGTERM and up to `term_grace` for it to
/// finish (None: no grace), then SIGKILL; returns None then.
pub fn wait_with_limit(
    child: &mut Child,
    limit: Duration,
    term_grace: Option<Duration>,
) -> Option<ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("try_wait on our own child works") {
            return Some(status);
        }
        thread::sleep(POLL_INTERVAL);
    }
    if let Some(grace) = term_grace {
        terminate(child.id());
        let since = Instant::now();
        while since.elapsed() < grace {
            if child
                .try_wait()
                .expect("try_wait on our own child works")
                .is_some()
            {
                return None;
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
    // std never signals a reaped child, so this cannot hit a recycled pid.
    child.kill().expect("killing our own running child works");
    child
        .wait()
        .expect("waiting for our own killed child works");
    None
}

/// Parses the final `N passed, M failed` line.
pub fn summary(output: &str) -> Option<(u32, u32)> {
    let last = output.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut parts = last.split_whitespace();
    let passed = parts.next()?.parse().ok()?;
    (parts.next()? == "passed,").then_some(())?;
    let failed = parts.next()?.parse().ok()?;
    (parts.next()? == "failed").then_some(())?;
    Some((passed, failed))
}

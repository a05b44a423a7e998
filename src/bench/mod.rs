//! `ferrokeeper bench`: a load generator that speaks the ZooKeeper protocol, so it measures
//! ZooKeeper and Ferrokeeper alike (issue #6).
//!
//! Shape: `--sessions` sessions (spread round-robin over `--servers`) on one thread
//! ([`crate::client::Mux`]), each keeping `--in-flight` operations outstanding (1 = a
//! synchronous client). Every session owns a key space `ROOT/sNNNN/kNNNNNNNN`; the live
//! keys are a sliding window `lo..hi` of indices, so a create adds `hi`, a delete removes
//! `lo`, and get/set pick a live key at random. Because a session's requests are applied in
//! order, the window as of issuing a request is exactly the tree the request meets: gets,
//! sets and deletes always hit existing nodes and creates never collide.
//!
//! Workloads (one "op" is the unit counted and timed):
//! - `create`: create a new node (`--value-size` bytes).
//! - `set`, `get`: setData / getData of a random live key.
//! - `mixed`: create 10% / set 40% / get 40% / delete 10% (RaftKeeper's benchmark mix); a
//!   delete that would empty the window becomes a create.
//! - `multi`: one transaction of three ops: create a new key, set a random live key,
//!   delete the oldest key (the key count stays constant; every write kind is exercised).
//! - `watch`: getData with a watch on a key, then setData on it; the op completes when the
//!   set's reply and the NodeDataChanged notification have both arrived, so its latency is
//!   the round trip of registering, firing and delivering a watch. No two outstanding
//!   watch ops use the same key (`--keys` is raised to `--in-flight + 1` if needed).
//!
//! Phases: connect; delete a leftover ROOT tree; create ROOT, one node per session and
//! `--keys` keys per session; warm up (`--warmup`, not recorded); measure (`--duration` or
//! `--ops`); drain what is in flight (not recorded); delete everything under ROOT; close
//! the sessions. An op counts in the measurement if it completes inside the measured window.
//! Latencies are of successful ops; failed ops are counted by error code.
//!
//! Memory is bounded: latencies go to fixed-size histograms (`histogram.rs`), and per
//! session state is the window plus its in-flight ops.

mod driver;
mod histogram;
mod report;
mod setup;
mod workload;

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use crate::client::ZkError;

/// Largest `--sessions`.
pub const SESSIONS_MAX: usize = 10_000;
/// Largest `--in-flight` per session.
pub const IN_FLIGHT_MAX: usize = 4096;
/// Largest `--value-size`: below ZooKeeper's default jute.maxbuffer with room for the
/// request's other fields.
pub const VALUE_SIZE_MAX_BYTES: usize = 1_000_000;
/// Largest `--keys` per session.
pub const KEYS_MAX: usize = 10_000_000;

/// Which operations the bench issues (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Create,
    Mixed,
    Get,
    Set,
    Multi,
    Watch,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::Create,
        Workload::Mixed,
        Workload::Get,
        Workload::Set,
        Workload::Multi,
        Workload::Watch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Mixed => "mixed",
            Workload::Get => "get",
            Workload::Set => "set",
            Workload::Multi => "multi",
            Workload::Watch => "watch",
        }
    }

    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// When the measurement ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopAfter {
    /// After this long.
    Duration(Duration),
    /// When this many ops (successful or not) have completed.
    Ops(u64),
}

/// Everything `ferrokeeper bench` is told on its command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `host:port` of each server; sessions are spread over them round-robin.
    pub servers: Vec<String>,
    pub sessions: usize,
    /// Ops outstanding per session.
    pub in_flight: usize,
    pub workload: Workload,
    pub value_size_bytes: usize,
    pub stop_after: StopAfter,
    pub warmup: Duration,
    /// The znode under which the bench works; deleted before and after.
    pub root: String,
    /// Keys pre-created per session.
    pub keys_per_session: usize,
    /// Print one JSON object instead of the text report.
    pub json: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            servers: vec!["127.0.0.1:2181".to_string()],
            sessions: 64,
            in_flight: 1,
            workload: Workload::Mixed,
            value_size_bytes: 100,
            stop_after: StopAfter::Duration(Duration::from_secs(10)),
            warmup: Duration::from_secs(2),
            root: "/ferrokeeper-bench".to_string(),
            keys_per_session: 100,
            json: false,
        }
    }
}

impl Options {
    /// Checks the limits and the root path; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers.is_empty() {
            return Err("no server given".into());
        }
        check_range("--sessions", self.sessions, 1, SESSIONS_MAX)?;
        check_range("--in-flight", self.in_flight, 1, IN_FLIGHT_MAX)?;
        check_range(
            "--value-size",
            self.value_size_bytes,
            0,
            VALUE_SIZE_MAX_BYTES,
        )?;
        check_range("--keys", self.keys_per_session, 1, KEYS_MAX)?;
        if self.stop_after == StopAfter::Ops(0)
            || self.stop_after == StopAfter::Duration(Duration::ZERO)
        {
            return Err("--duration and --ops must be positive".into());
        }
        let root = &self.root;
        let is_valid = root.starts_with('/')
            && root.len() > 1
            && !root.ends_with('/')
            && root[1..]
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !is_valid {
            return Err(format!(
                "--root '{root}' is not an absolute znode path other than /"
            ));
        }
        Ok(())
    }

    /// Keys per session actually used: the watch workload needs a free key per op slot.
    pub fn effective_keys_per_session(&self) -> usize {
        match self.workload {
            Workload::Watch => self.keys_per_session.max(self.in_flight + 1),
            _ => self.keys_per_session,
        }
    }
}

fn check_range(flag: &str, value: usize, min: usize, max: usize) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!("{flag} {value} is outside {min}..={max}"));
    }
    Ok(())
}

/// Why a bench run stopped early.
#[derive(Debug)]
pub enum BenchError {
    /// A session failed (connection lost, protocol error, refused session).
    Session { index: usize, error: ZkError },
    /// Setting up or cleaning up the tree failed.
    Setup(String),
    /// A server name did not resolve, or a socket could not be set up.
    Io(std::io::Error),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Session { index, error } => write!(f, "session {index}: {error}"),
            BenchError::Setup(what) => write!(f, "{what}"),
            BenchError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> BenchError {
        BenchError::Io(e)
    }
}

/// Runs the bench described by `options` and prints its report to stdout.
pub fn main(options: &Options) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    if let Err(e) = options.validate() {
        eprintln!("ferrokeeper bench: {e}");
        return ExitCode::from(2);
    }
    // One socket per session: thousands of sessions need more than the default 1024 files.
    if let Err(e) = crate::sys::raise_fd_limit() {
        log::warn!("cannot raise the open file limit: {e}");
    }
    match driver::run(options) {
        Ok(report) => {
            if options.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferrokeeper bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(Workload::from_name(w.name()), Some(w));
        }
        assert_eq!(Workload::from_name("read"), None);
    }

    #[test]
    fn validate_rejects_bad_roots_and_limits() {
        assert_eq!(Options::default().validate(), Ok(()));
        for root in ["/", "", "x", "/a/", "/a//b", "/a/./b"] {
            let options = Options {
                root: root.into(),
                ..Options::default()
            };
            assert!(options.validate().is_err(), "root {root:?}");
        }
        let options = Options {
            sessions: 0,
            ..Options::default()
        };
        assert!(options.validate().unwrap_err().contains("--sessions"));
    }

    #[test]
    fn watch_needs_a_free_key_per_slot() {
        let options = Options {
            workload: Workload::Watch,
            in_flight: 500,
            keys_per_session: 100,
            ..Options::default()
        };
        assert_eq!(options.effective_keys_per_session(), 501);
    }
}

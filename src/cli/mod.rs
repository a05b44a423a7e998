//! `ferrokeeper cli`: a ZooKeeper shell in the style of zkCli (`ZooKeeperMain`, 3.8).
//!
//! `ferrokeeper cli [-server host:port] [-timeout ms] [CMD ARGS...]`. With a command it runs
//! that one command and exits: 0 on success, 1 with zkCli's error text on stderr for a
//! KeeperException or a bad command line, 127 for an unknown command. Without one it reads
//! commands from stdin, one per line; when stdin is a terminal it prints the prompt
//! `[zk: host:port(STATE) N] ` first. Watch notifications are printed as zkCli's watcher
//! prints them while the shell waits for input and after each command.
//!
//! Layout: `options.rs` (words and option parsing), `format.rs` (zkCli's text formats),
//! `commands.rs` (the command table and the znode data commands), `admin.rs` (ACLs, auth,
//! watches, sync, ephemerals, config), `shell.rs` (the session, the line loop and the shell's
//! own commands: connect, close, quit, history, redo, printwatches, version, help, and the
//! four-letter words). Differences from zkCli are listed in `shell.rs`'s module doc.

mod admin;
mod commands;
mod format;
mod options;
mod reconfig;
mod shell;

use std::fmt;
use std::io;
use std::process::ExitCode;
use std::time::Duration;

pub use shell::Shell;

/// How the CLI was started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `host:port` of the server.
    pub server: String,
    /// Session timeout asked for (`-timeout`, 30000 ms by default as in zkCli).
    pub timeout_ms: u64,
    /// The command to run and its arguments; empty for the shell.
    pub command: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            server: "localhost:2181".to_string(),
            timeout_ms: 30_000,
            command: Vec::new(),
        }
    }
}

/// A command that failed: its message goes to stderr, and the process (in one-shot mode,
/// or at the end of the input) exits with `exit_code`.
#[derive(Debug, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub exit_code: u8,
}

impl CliError {
    /// A `CliException` (exit code 1).
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: 1,
        }
    }

    /// `CommandNotFoundException` (exit code 127).
    pub fn not_found(command: &str) -> CliError {
        CliError {
            message: format!("Command not found: Command not found {command}"),
            exit_code: 127,
        }
    }

    /// `addauth` was refused; the AuthFailed event has been printed already.
    pub fn auth_failed() -> CliError {
        CliError::new(String::new())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> CliError {
        CliError::new(format!("cannot write the output: {e}"))
    }
}

/// Runs the CLI (see the module doc) and returns the process exit code.
pub fn main(options: &Options) -> ExitCode {
    assert!(options.timeout_ms > 0, "the session timeout is positive");
    let timeout = Duration::from_millis(options.timeout_ms);
    let mut shell = Shell::new(&options.server, timeout);
    let code = if options.command.is_empty() {
        shell.run_lines()
    } else {
        shell.run_one(&options.command)
    };
    ExitCode::from(code)
}

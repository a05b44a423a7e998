//! Command-line parsing for the `ferrokeeper` binary, by hand (no argument-parsing crate).
//!
//! Shape: `ferrokeeper [--help|--version] <subcommand> [args]`. Each subcommand is one entry in
//! [`SUBCOMMANDS`] (name, one-line summary, usage text, parse function), so adding one means
//! adding a `Command` variant, a parse function and a table entry. Every subcommand accepts
//! `--help`/`-h` and `--version`/`-V` anywhere before a `--`.
//!
//! Flags take their value as the next argument or after `=` (`--config FILE`,
//! `--config=FILE`). An unknown flag or subcommand is an [`ArgError`] naming it and carrying
//! the relevant usage; the process should print it and exit with status 2.

use std::fmt;
use std::path::PathBuf;

mod subcommands;

use subcommands::{
    parse_bench, parse_cli, parse_convert, parse_four_lw, parse_server, parse_simulate,
};

/// What the binary was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run the server; `None` means the embedded default configuration.
    Server {
        config: Option<PathBuf>,
        /// Start in recovery mode (`server/recovery.rs`).
        force_recovery: bool,
    },
    /// Send a four-letter word to `server` (`host:port`) and print the reply.
    FourLw { server: String, word: String },
    /// Run the load generator against one or more servers.
    Bench { options: crate::bench::Options },
    /// Convert a ZooKeeper data directory; `output` is None only when `list` is set.
    Convert {
        zk_data: PathBuf,
        zk_log_dir: Option<PathBuf>,
        output: Option<PathBuf>,
        list: bool,
    },
    /// Run the ZooKeeper shell (one command, or commands from stdin).
    Cli { options: crate::cli::Options },
    /// Run the seeded Raft cluster simulator.
    Simulate { options: crate::simulate::Options },
    /// Print this text to stdout and exit 0.
    Help(String),
    /// Print `ferrokeeper <CARGO_PKG_VERSION>` to stdout and exit 0.
    Version,
}

/// A command line that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError {
    /// What was wrong, naming the offending argument.
    pub message: String,
    /// Usage of the subcommand involved (or of the binary).
    pub usage: String,
}

impl ArgError {
    fn new(message: String, usage: &str) -> ArgError {
        ArgError {
            message,
            usage: usage.to_string(),
        }
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n\n{}", self.message, self.usage.trim_end())
    }
}

impl std::error::Error for ArgError {}

/// One subcommand: adding a subcommand is adding one of these to [`SUBCOMMANDS`].
struct Subcommand {
    name: &'static str,
    summary: &'static str,
    /// Full help text; its first line is the usage line.
    usage: &'static str,
    /// Parses the arguments after the subcommand name (help/version already handled).
    parse: fn(&mut Flags<'_>) -> Result<Command, ArgError>,
}

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "server",
        summary: "run the server",
        usage: "Usage: ferrokeeper server [--config FILE | FILE]

Runs a ferrokeeper server. FILE is a ZooKeeper zoo.cfg; without it the server runs
standalone on 127.0.0.1:2181 with its data in ./ferrokeeper-data.

Options:
  -c, --config FILE   read the configuration from FILE (zoo.cfg syntax)
  --force-recovery    after losing a cluster's quorum for good: lead the server.N members
                      of FILE with this server's data (ClickHouse Keeper's recovery mode;
                      the `rcvr` four-letter word does the same on a running server)
  -h, --help          print this help
  -V, --version       print the version
",
        parse: parse_server,
    },
    Subcommand {
        name: "4lw",
        summary: "send a four-letter word (ruok, srvr, stat, mntr, ...) and print the reply",
        usage: "Usage: ferrokeeper 4lw [--server HOST:PORT] WORD

Sends the four-letter word WORD (ruok, srvr, stat, conf, cons, crst, envi, srst, wchs,
wchc, wchp, dump, mntr, isro, dirs) to a ferrokeeper or ZooKeeper server and prints
the reply.

Options:
  -s, --server HOST:PORT   server to ask (default 127.0.0.1:2181; the port defaults to 2181)
  -h, --help               print this help
  -V, --version            print the version
",
        parse: parse_four_lw,
    },
    Subcommand {
        name: "convert",
        summary: "convert a ZooKeeper data directory into a ferrokeeper snapshot",
        usage: "Usage: ferrokeeper convert --zk-data DIR (--output DIR | --list) [options]

Reads Apache ZooKeeper's snapshot.* and log.* files (3.4 to 3.9) from DIR (its dataDir
or the version-2 directory in it), replays the logs after the newest snapshot, and
writes the resulting tree, sessions and ephemerals included, to
OUTPUT/ferrokeeper-snapshot.bin. Corrupt input is an error naming the file and byte.

Options:
  --zk-data DIR      ZooKeeper's dataDir (required)
  --zk-log-dir DIR   ZooKeeper's dataLogDir, when the logs are not in the dataDir
  -o, --output DIR   directory to write ferrokeeper-snapshot.bin into
  --list             print the converted tree (zk_tree_list.py format) on stdout
  -h, --help         print this help
  -V, --version      print the version
",
        parse: parse_convert,
    },
    Subcommand {
        name: "bench",
        summary: "measure a ZooKeeper-protocol server under load (ZooKeeper or ferrokeeper)",
        usage: "Usage: ferrokeeper bench [OPTIONS]

Drives load against ZooKeeper-protocol servers and prints throughput and latency
(mean, p50, p99, p99.9, max) and error counts; a progress line goes to stderr every second.
The bench works under ROOT (deleted before and after; missing parents are created and
left): each session owns ROOT/sNNNN with --keys pre-created keys, so gets, sets and
deletes always hit existing nodes. Several servers must belong to one ensemble.

Workloads (one op is what is counted and timed):
  create   create a new node
  get      getData of an existing node
  set      setData of an existing node
  mixed    create 10% / set 40% / get 40% / delete 10% (RaftKeeper's mix)
  multi    one transaction: create a new node, set an existing one, delete the oldest
  watch    getData with a watch, then setData on the same node; done when the set is
           answered and the NodeDataChanged notification has arrived

Options:
  -s, --servers HOST:PORT[,HOST:PORT...]  servers; sessions are spread over them
                                          (default 127.0.0.1:2181)
  -n, --sessions N        sessions (default 64)
  -i, --in-flight N       ops outstanding per session; 1 = synchronous (default 1)
  -w, --workload NAME     create|mixed|get|set|multi|watch (default mixed)
      --value-size BYTES  size of the data written (default 100)
  -d, --duration SECS     measure for SECS seconds (default 10; fractions allowed)
      --ops N             measure until N ops completed (instead of --duration)
      --warmup SECS       load before measuring, not recorded (default 2)
      --root PATH         the bench's znode (default /ferrokeeper-bench)
      --keys N            keys pre-created per session (default 100)
      --json              print one JSON object instead of the text report
  -h, --help              print this help
  -V, --version           print the version
",
        parse: parse_bench,
    },
    Subcommand {
        name: "cli",
        summary: "a ZooKeeper shell in the style of zkCli (ls, get, set, create, ...)",
        usage: "Usage: ferrokeeper cli [-server HOST:PORT] [-timeout MS] [CMD ARGS...]

Connects to a ferrokeeper or ZooKeeper server and runs CMD (for example
`get -s /path`), printing what zkCli prints; the exit status is 0 on success, 1 when
the command failed (the reason is on stderr) and 127 for an unknown command. Without
CMD it reads commands from stdin, one per line, with a prompt when stdin is a terminal.
Type `help` in the shell for the commands (ls, get, stat, set, create, delete,
deleteall, getAcl, setAcl, addauth, sync, whoami, getEphemerals, getAllChildrenNumber,
addWatch, removewatches, config, version, the four-letter words, quit).

Options:
  -server HOST:PORT   server to connect to (default localhost:2181; port default 2181)
  -timeout MS         session timeout to ask for, in milliseconds (default 30000)
  -h, --help          print this help
  -V, --version       print the version
",
        parse: parse_cli,
    },
    Subcommand {
        name: "simulate",
        summary: "run the seeded Raft cluster simulator; replay a seed, trace its events",
        usage:
            "Usage: ferrokeeper simulate --seed N [--nodes K] [--steps S] [--faults LIST] [--trace]

Runs the raft crate's deterministic simulator: K servers in one process, one seeded
random generator driving message delays, losses, duplicates and reordering, partitions,
crashes that lose unsynced writes, restarts, slow clocks, client puts and reads,
compaction, leadership transfers and membership changes. Every step is checked for
election safety, log matching, leader completeness and state machine safety; the
client history is checked for linearizability at the end. The same command line always
prints the same output, so a failing run replays exactly.

Prints a summary (elections, leaders by term, commits, messages, faults, the verdict);
with --trace, first one line per event, stamped with its step. On a violation it prints
what was violated and the command that replays it, and exits with status 1.

Options:
  --seed N          the run's seed (required)
  --nodes K         voters at the start, 1 to 7 (default: the seed picks 3 or 5)
  --steps S         steps to run, 1 to 10000000 (default 2000)
  --faults LIST     faults to inject, comma-separated: drop, dup, reorder, partition,
                    crash, slow, membership, transfer, snapshot; or all, or none
                    (default all)
  --trace           print every event: elections, votes, appends, commits, crashes,
                    partitions, membership changes, transfers, snapshots, client ops
  -h, --help        print this help
  -V, --version     print the version
",
        parse: parse_simulate,
    },
];

/// The top-level help, listing every subcommand from the table.
pub fn usage() -> String {
    let mut text = String::from(
        "Usage: ferrokeeper [--help|--version] <subcommand> [args]\n\n\
         A ZooKeeper-compatible coordination server.\n\nSubcommands:\n",
    );
    let width = SUBCOMMANDS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for sub in SUBCOMMANDS {
        text.push_str(&format!("  {:width$}   {}\n", sub.name, sub.summary));
    }
    text.push_str("\nRun 'ferrokeeper <subcommand> --help' for its options.\n");
    text
}

/// Parses the arguments after the program name (`std::env::args().skip(1)`).
pub fn parse(args: &[String]) -> Result<Command, ArgError> {
    let top = usage();
    let Some(first) = args.first() else {
        return Err(ArgError::new("no subcommand given".to_string(), &top));
    };
    match first.as_str() {
        "-h" | "--help" => return Ok(Command::Help(top)),
        "-V" | "--version" => return Ok(Command::Version),
        "help" => return Ok(Command::Help(help_for(args.get(1), &top)?)),
        flag if flag.starts_with('-') => {
            return Err(ArgError::new(format!("unknown option '{flag}'"), &top));
        }
        _ => {}
    }
    let Some(sub) = SUBCOMMANDS.iter().find(|s| s.name == first) else {
        return Err(ArgError::new(format!("unknown subcommand '{first}'"), &top));
    };
    let rest = &args[1..];
    // --help and --version win wherever they appear (before a `--`), so a half-typed command
    // line still gets its help.
    for arg in rest.iter().take_while(|a| *a != "--") {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(sub.usage.to_string())),
            "-V" | "--version" => return Ok(Command::Version),
            _ => {}
        }
    }
    let mut flags = Flags {
        sub,
        args: rest,
        next: 0,
        positional_only: false,
    };
    (sub.parse)(&mut flags)
}

/// `ferrokeeper help [SUBCOMMAND]`.
fn help_for(name: Option<&String>, top: &str) -> Result<String, ArgError> {
    match name {
        None => Ok(top.to_string()),
        Some(name) => match SUBCOMMANDS.iter().find(|s| s.name == name) {
            Some(sub) => Ok(sub.usage.to_string()),
            None => Err(ArgError::new(format!("unknown subcommand '{name}'"), top)),
        },
    }
}

/// One argument as a subcommand sees it.
enum Arg<'a> {
    /// `--name` or `-n`, with the value given after `=` if any.
    Flag {
        name: &'a str,
        inline_value: Option<&'a str>,
    },
    Positional(&'a str),
}

/// A cursor over a subcommand's arguments.
struct Flags<'a> {
    sub: &'static Subcommand,
    args: &'a [String],
    next: usize,
    /// Set after `--`: everything that follows is positional.
    positional_only: bool,
}

impl<'a> Flags<'a> {
    fn next_arg(&mut self) -> Option<Arg<'a>> {
        let arg = self.args.get(self.next)?.as_str();
        self.next += 1;
        if self.positional_only || arg == "-" || !arg.starts_with('-') {
            return Some(Arg::Positional(arg));
        }
        if arg == "--" {
            self.positional_only = true;
            return self.next_arg();
        }
        match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => Some(Arg::Flag {
                name,
                inline_value: Some(value),
            }),
            _ => Some(Arg::Flag {
                name: arg,
                inline_value: None,
            }),
        }
    }

    /// The value of `flag`: the inline `=value` or the next argument.
    fn value(&mut self, flag: &str, inline_value: Option<&'a str>) -> Result<&'a str, ArgError> {
        if let Some(value) = inline_value {
            return Ok(value);
        }
        let value = self.args.get(self.next).map(String::as_str);
        match value {
            Some(value) if !value.starts_with('-') || value == "-" => {
                self.next += 1;
                Ok(value)
            }
            _ => Err(self.error(format!("option '{flag}' needs a value"))),
        }
    }

    fn error(&self, message: String) -> ArgError {
        ArgError::new(format!("{}: {message}", self.sub.name), self.sub.usage)
    }

    fn unknown_flag(&self, name: &str) -> ArgError {
        self.error(format!("unknown option '{name}'"))
    }

    fn extra_positional(&self, arg: &str) -> ArgError {
        self.error(format!("unexpected argument '{arg}'"))
    }
}

#[cfg(test)]
mod tests;

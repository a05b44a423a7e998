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

/// What the binary was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run the server; `None` means the embedded default configuration.
    Server { config: Option<PathBuf> },
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

fn parse_server(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
    let mut config: Option<PathBuf> = None;
    while let Some(arg) = flags.next_arg() {
        let path = match arg {
            Arg::Flag {
                name: name @ ("-c" | "--config"),
                inline_value,
            } => flags.value(name, inline_value)?,
            Arg::Flag { name, .. } => return Err(flags.unknown_flag(name)),
            Arg::Positional(path) => path,
        };
        if path.is_empty() {
            return Err(flags.error("the configuration file name is empty".to_string()));
        }
        if config.is_some() {
            return Err(flags.error(format!("more than one configuration file ('{path}')")));
        }
        config = Some(PathBuf::from(path));
    }
    Ok(Command::Server { config })
}

fn parse_four_lw(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
    let mut server = String::from("127.0.0.1:2181");
    let mut word: Option<String> = None;
    while let Some(arg) = flags.next_arg() {
        match arg {
            Arg::Flag {
                name: name @ ("-s" | "--server"),
                inline_value,
            } => {
                let value = flags.value(name, inline_value)?;
                server = normalize_server(value).map_err(|message| flags.error(message))?;
            }
            Arg::Flag { name, .. } => return Err(flags.unknown_flag(name)),
            Arg::Positional(text) if word.is_none() => {
                if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_alphabetic()) {
                    let message = format!("'{text}' is not a four-letter word (e.g. ruok, srvr)");
                    return Err(flags.error(message));
                }
                word = Some(text.to_string());
            }
            Arg::Positional(text) => return Err(flags.extra_positional(text)),
        }
    }
    let Some(word) = word else {
        return Err(flags.error("missing WORD".to_string()));
    };
    Ok(Command::FourLw { server, word })
}

fn parse_convert(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
    let mut zk_data: Option<PathBuf> = None;
    let mut zk_log_dir: Option<PathBuf> = None;
    let mut output: Option<PathBuf> = None;
    let mut list = false;
    while let Some(arg) = flags.next_arg() {
        let (slot, name, inline_value) = match arg {
            Arg::Flag {
                name: "--list",
                inline_value: None,
            } => {
                list = true;
                continue;
            }
            Arg::Flag {
                name: name @ "--zk-data",
                inline_value,
            } => (&mut zk_data, name, inline_value),
            Arg::Flag {
                name: name @ "--zk-log-dir",
                inline_value,
            } => (&mut zk_log_dir, name, inline_value),
            Arg::Flag {
                name: name @ ("-o" | "--output"),
                inline_value,
            } => (&mut output, name, inline_value),
            Arg::Flag { name, .. } => return Err(flags.unknown_flag(name)),
            Arg::Positional(text) => return Err(flags.extra_positional(text)),
        };
        let value = flags.value(name, inline_value)?;
        if value.is_empty() {
            return Err(flags.error(format!("option '{name}' needs a directory")));
        }
        if slot.is_some() {
            return Err(flags.error(format!("option '{name}' given twice")));
        }
        *slot = Some(PathBuf::from(value));
    }
    let Some(zk_data) = zk_data else {
        return Err(flags.error("missing --zk-data DIR".to_string()));
    };
    if output.is_none() && !list {
        return Err(flags.error("missing --output DIR (or --list)".to_string()));
    }
    Ok(Command::Convert {
        zk_data,
        zk_log_dir,
        output,
        list,
    })
}

fn parse_bench(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
    use crate::bench::{Options, StopAfter, Workload};
    let mut options = Options::default();
    while let Some(arg) = flags.next_arg() {
        let (name, inline_value) = match arg {
            Arg::Flag { name, inline_value } => (name, inline_value),
            Arg::Positional(text) => return Err(flags.extra_positional(text)),
        };
        if name == "--json" {
            options.json = true;
            continue;
        }
        let value = flags.value(name, inline_value)?;
        match name {
            "-s" | "--servers" => {
                let servers: Result<Vec<String>, String> =
                    value.split(',').map(normalize_server).collect();
                options.servers = servers.map_err(|message| flags.error(message))?;
            }
            "-n" | "--sessions" => options.sessions = parse_number(flags, name, value)?,
            "-i" | "--in-flight" => options.in_flight = parse_number(flags, name, value)?,
            "-w" | "--workload" => {
                options.workload = Workload::from_name(value).ok_or_else(|| {
                    flags.error(format!(
                        "unknown workload '{value}' (create, mixed, get, set, multi, watch)"
                    ))
                })?;
            }
            "--value-size" => options.value_size_bytes = parse_number(flags, name, value)?,
            "-d" | "--duration" => {
                options.stop_after = StopAfter::Duration(parse_seconds(flags, name, value)?);
            }
            "--ops" => options.stop_after = StopAfter::Ops(parse_number(flags, name, value)?),
            "--warmup" => options.warmup = parse_seconds(flags, name, value)?,
            "--root" => options.root = value.to_string(),
            "--keys" => options.keys_per_session = parse_number(flags, name, value)?,
            _ => return Err(flags.unknown_flag(name)),
        }
    }
    options.validate().map_err(|message| flags.error(message))?;
    Ok(Command::Bench { options })
}

/// zkCli's `ZooKeeperMain` options: `-server` and `-timeout` (also with `--`), then the
/// first word that is not an option starts the command, and every word after it is its own.
fn parse_cli(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
    let mut options = crate::cli::Options::default();
    let args = flags.args;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "-server" | "--server" | "-timeout" | "--timeout" => {
                let Some(value) = args.get(i + 1) else {
                    return Err(flags.error(format!("option '{arg}' needs a value")));
                };
                if arg.ends_with("server") {
                    // A connection string may list several servers; the shell uses the first.
                    let first = value.split(',').next().unwrap_or_default();
                    options.server =
                        normalize_server(first).map_err(|message| flags.error(message))?;
                } else {
                    options.timeout_ms = value
                        .parse::<u64>()
                        .ok()
                        .filter(|&ms| ms > 0 && ms <= i32::MAX as u64)
                        .ok_or_else(|| {
                            flags.error(format!("option '{arg}' needs milliseconds, not '{value}'"))
                        })?;
                }
                i += 2;
            }
            "--" => {
                options.command = args[i + 1..].to_vec();
                break;
            }
            flag if flag.starts_with('-') => return Err(flags.unknown_flag(flag)),
            _ => {
                options.command = args[i..].to_vec();
                break;
            }
        }
    }
    Ok(Command::Cli { options })
}

fn parse_simulate(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
    use crate::simulate::{STEPS_DEFAULT, STEPS_MAX};
    use raft::sim::{FaultSet, VOTERS_KNOB_MAX};
    let mut seed: Option<u64> = None;
    let mut options = crate::simulate::Options {
        sim: raft::sim::Options::new(0),
        steps: STEPS_DEFAULT,
    };
    while let Some(arg) = flags.next_arg() {
        let (name, inline_value) = match arg {
            Arg::Flag { name, inline_value } => (name, inline_value),
            Arg::Positional(text) => return Err(flags.extra_positional(text)),
        };
        if name == "--trace" {
            if inline_value.is_some() {
                return Err(flags.error("option '--trace' takes no value".to_string()));
            }
            options.sim.trace = true;
            continue;
        }
        if !["--seed", "--nodes", "--steps", "--faults"].contains(&name) {
            return Err(flags.unknown_flag(name));
        }
        let value = flags.value(name, inline_value)?;
        match name {
            "--seed" => seed = Some(parse_number(flags, name, value)?),
            "--nodes" => {
                let nodes: usize = parse_number(flags, name, value)?;
                if nodes == 0 || nodes > VOTERS_KNOB_MAX {
                    return Err(flags.error(format!(
                        "option '--nodes' needs 1 to {VOTERS_KNOB_MAX} servers, not {nodes}"
                    )));
                }
                options.sim.voters = Some(nodes);
            }
            "--steps" => {
                let steps: u64 = parse_number(flags, name, value)?;
                if steps == 0 || steps > STEPS_MAX {
                    return Err(flags.error(format!(
                        "option '--steps' needs 1 to {STEPS_MAX} steps, not {steps}"
                    )));
                }
                options.steps = steps;
            }
            "--faults" => {
                options.sim.faults = FaultSet::parse(value)
                    .map_err(|message| flags.error(format!("option '--faults': {message}")))?;
            }
            other => unreachable!("'{other}' is one of the value flags checked above"),
        }
    }
    let Some(seed) = seed else {
        return Err(flags.error("missing --seed N".to_string()));
    };
    options.sim.seed = seed;
    options
        .sim
        .validate()
        .map_err(|message| flags.error(message))?;
    Ok(Command::Simulate { options })
}

fn parse_number<T: std::str::FromStr>(
    flags: &Flags<'_>,
    name: &str,
    value: &str,
) -> Result<T, ArgError> {
    value.parse().map_err(|_| {
        flags.error(format!(
            "option '{name}' needs a whole number, not '{value}'"
        ))
    })
}

/// Seconds, fractions allowed (`0.5`), at most a day.
fn parse_seconds(
    flags: &Flags<'_>,
    name: &str,
    value: &str,
) -> Result<std::time::Duration, ArgError> {
    match value.parse::<f64>() {
        Ok(seconds) if (0.0..=86_400.0).contains(&seconds) => {
            Ok(std::time::Duration::from_secs_f64(seconds))
        }
        _ => Err(flags.error(format!(
            "option '{name}' needs seconds (0 to 86400), not '{value}'"
        ))),
    }
}

/// Checks `HOST[:PORT]` (IPv6 as `[addr]:port`) and adds the default port 2181 if missing.
fn normalize_server(text: &str) -> Result<String, String> {
    let bad = || format!("'{text}' is not HOST:PORT");
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (address, None),
            _ => (address, Some(after.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match text.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err(format!("'{text}': write an IPv6 address as [ADDRESS]:PORT"));
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        None => 2181,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(bad)?,
    };
    let host = if text.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, ArgError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse(&args)
    }

    fn error_message(args: &[&str]) -> String {
        run(args).expect_err("should fail").message
    }

    #[test]
    fn top_level_help_and_version() {
        assert_eq!(run(&["--version"]), Ok(Command::Version));
        assert_eq!(run(&["-V"]), Ok(Command::Version));
        let Ok(Command::Help(text)) = run(&["--help"]) else {
            panic!("expected help")
        };
        assert!(text.starts_with("Usage: ferrokeeper"));
        assert!(text.contains("  server     run the server\n"), "{text}");
        assert!(
            text.contains("  4lw        send a four-letter word"),
            "{text}"
        );
        assert!(
            text.contains("  convert    convert a ZooKeeper data directory"),
            "{text}"
        );
        assert!(
            text.contains("  simulate   run the seeded Raft cluster simulator"),
            "{text}"
        );
        assert_eq!(run(&["help"]), Ok(Command::Help(usage())));
        assert_eq!(
            run(&["help", "server"]),
            Ok(Command::Help(SUBCOMMANDS[0].usage.to_string()))
        );
    }

    #[test]
    fn no_subcommand_is_a_usage_error() {
        let err = run(&[]).expect_err("no args");
        assert_eq!(err.message, "no subcommand given");
        assert_eq!(err.usage, usage());
    }

    #[test]
    fn unknown_subcommand_and_flag_are_named() {
        assert_eq!(error_message(&["frob"]), "unknown subcommand 'frob'");
        assert_eq!(error_message(&["--frob"]), "unknown option '--frob'");
        assert_eq!(
            error_message(&["server", "--frob"]),
            "server: unknown option '--frob'"
        );
        let err = run(&["4lw", "-x", "ruok"]).expect_err("bad flag");
        assert_eq!(err.message, "4lw: unknown option '-x'");
        assert!(err.usage.starts_with("Usage: ferrokeeper 4lw"));
        assert!(err
            .to_string()
            .starts_with("4lw: unknown option '-x'\n\nUsage:"));
    }

    #[test]
    fn server_takes_config_flag_or_positional_file() {
        assert_eq!(run(&["server"]), Ok(Command::Server { config: None }));
        let expected = Ok(Command::Server {
            config: Some(PathBuf::from("/etc/zoo.cfg")),
        });
        assert_eq!(run(&["server", "--config", "/etc/zoo.cfg"]), expected);
        assert_eq!(run(&["server", "--config=/etc/zoo.cfg"]), expected);
        assert_eq!(run(&["server", "-c", "/etc/zoo.cfg"]), expected);
        assert_eq!(run(&["server", "/etc/zoo.cfg"]), expected);
        assert_eq!(run(&["server", "--", "/etc/zoo.cfg"]), expected);
        assert_eq!(
            error_message(&["server", "--config"]),
            "server: option '--config' needs a value"
        );
        assert_eq!(
            error_message(&["server", "a.cfg", "b.cfg"]),
            "server: more than one configuration file ('b.cfg')"
        );
    }

    #[test]
    fn every_subcommand_supports_help_and_version() {
        for sub in SUBCOMMANDS {
            assert_eq!(
                run(&[sub.name, "--help"]),
                Ok(Command::Help(sub.usage.to_string()))
            );
            assert_eq!(
                run(&[sub.name, "-h"]),
                Ok(Command::Help(sub.usage.to_string()))
            );
            assert_eq!(run(&[sub.name, "--version"]), Ok(Command::Version));
            assert!(sub
                .usage
                .starts_with(&format!("Usage: ferrokeeper {}", sub.name)));
        }
        assert_eq!(
            run(&["server", "--config", "x", "--help"]),
            Ok(Command::Help(SUBCOMMANDS[0].usage.to_string()))
        );
    }

    #[test]
    fn four_lw_defaults_to_localhost_2181() {
        let expected = Command::FourLw {
            server: "127.0.0.1:2181".into(),
            word: "ruok".into(),
        };
        assert_eq!(run(&["4lw", "ruok"]), Ok(expected));
        let expected = Command::FourLw {
            server: "zk1:2182".into(),
            word: "mntr".into(),
        };
        assert_eq!(
            run(&["4lw", "--server", "zk1:2182", "mntr"]),
            Ok(expected.clone())
        );
        assert_eq!(run(&["4lw", "mntr", "--server=zk1:2182"]), Ok(expected));
        let expected = Command::FourLw {
            server: "zk1:2181".into(),
            word: "srvr".into(),
        };
        assert_eq!(run(&["4lw", "-s", "zk1", "srvr"]), Ok(expected));
        let expected = Command::FourLw {
            server: "[::1]:2181".into(),
            word: "srvr".into(),
        };
        assert_eq!(run(&["4lw", "-s", "[::1]", "srvr"]), Ok(expected));
    }

    #[test]
    fn convert_needs_zk_data_and_an_output_or_list() {
        let expected = Command::Convert {
            zk_data: PathBuf::from("/zk"),
            zk_log_dir: None,
            output: Some(PathBuf::from("/out")),
            list: false,
        };
        assert_eq!(
            run(&["convert", "--zk-data", "/zk", "--output", "/out"]),
            Ok(expected.clone())
        );
        assert_eq!(
            run(&["convert", "--zk-data=/zk", "-o", "/out"]),
            Ok(expected)
        );
        let listed = Command::Convert {
            zk_data: PathBuf::from("/zk"),
            zk_log_dir: Some(PathBuf::from("/logs")),
            output: None,
            list: true,
        };
        assert_eq!(
            run(&["convert", "--list", "--zk-data=/zk", "--zk-log-dir=/logs"]),
            Ok(listed)
        );
        assert_eq!(
            error_message(&["convert", "--output", "/out"]),
            "convert: missing --zk-data DIR"
        );
        assert_eq!(
            error_message(&["convert", "--zk-data", "/zk"]),
            "convert: missing --output DIR (or --list)"
        );
        assert_eq!(
            error_message(&["convert", "--zk-data", "/a", "--zk-data", "/b", "--list"]),
            "convert: option '--zk-data' given twice"
        );
        assert_eq!(
            error_message(&["convert", "--zk-data", "/zk", "--list", "extra"]),
            "convert: unexpected argument 'extra'"
        );
    }

    #[test]
    fn bench_parses_every_flag() {
        use crate::bench::{Options, StopAfter, Workload};
        let Ok(Command::Bench { options }) = run(&["bench"]) else {
            panic!("bench with defaults")
        };
        assert_eq!(options, Options::default());
        let args = [
            "bench",
            "-s",
            "a:1,b",
            "--sessions=8",
            "-i",
            "16",
            "-w",
            "watch",
            "--value-size",
            "1024",
            "--ops",
            "5000",
            "--warmup",
            "0.5",
            "--root",
            "/x/y",
            "--keys",
            "7",
            "--json",
        ];
        let Ok(Command::Bench { options }) = run(&args) else {
            panic!("bench with flags")
        };
        assert_eq!(
            options.servers,
            vec!["a:1".to_string(), "b:2181".to_string()]
        );
        assert_eq!((options.sessions, options.in_flight), (8, 16));
        assert_eq!(options.workload, Workload::Watch);
        assert_eq!(options.value_size_bytes, 1024);
        assert_eq!(options.stop_after, StopAfter::Ops(5000));
        assert_eq!(options.warmup, std::time::Duration::from_millis(500));
        assert_eq!(
            (options.root.as_str(), options.keys_per_session),
            ("/x/y", 7)
        );
        assert!(options.json);
        let Ok(Command::Bench { options }) = run(&["bench", "-d", "2.5"]) else {
            panic!("duration")
        };
        assert_eq!(
            options.stop_after,
            StopAfter::Duration(std::time::Duration::from_millis(2500))
        );
    }

    #[test]
    fn bench_rejects_bad_values() {
        assert!(error_message(&["bench", "-w", "read"]).contains("unknown workload 'read'"));
        assert!(error_message(&["bench", "-n", "x"]).contains("whole number"));
        assert!(error_message(&["bench", "-n", "0"]).contains("--sessions"));
        assert!(error_message(&["bench", "-d", "-1"]).contains("needs a value"));
        assert!(error_message(&["bench", "-d", "soon"]).contains("seconds"));
        assert!(error_message(&["bench", "--root", "/"]).contains("--root"));
        assert_eq!(
            error_message(&["bench", "extra"]),
            "bench: unexpected argument 'extra'"
        );
    }

    #[test]
    fn cli_takes_zkcli_options_then_the_command() {
        let cli = |args: &[&str]| match run(args) {
            Ok(Command::Cli { options }) => options,
            other => panic!("expected cli, got {other:?}"),
        };
        let options = cli(&["cli"]);
        assert_eq!(options, crate::cli::Options::default());
        let options = cli(&[
            "cli", "-server", "zk1:2182", "-timeout", "5000", "get", "-s", "/a",
        ]);
        assert_eq!(options.server, "zk1:2182");
        assert_eq!(options.timeout_ms, 5000);
        assert_eq!(options.command, vec!["get", "-s", "/a"]);
        assert_eq!(
            error_message(&["cli", "--server=x", "ls"]),
            "cli: unknown option '--server=x'"
        );
        let options = cli(&["cli", "-server", "a:1,b:2", "--", "set", "/a", "-1"]);
        assert_eq!(options.server, "a:1");
        assert_eq!(options.command, vec!["set", "/a", "-1"]);
        assert_eq!(
            error_message(&["cli", "-timeout", "soon"]),
            "cli: option '-timeout' needs milliseconds, not 'soon'"
        );
        assert_eq!(
            error_message(&["cli", "-server"]),
            "cli: option '-server' needs a value"
        );
        assert_eq!(error_message(&["cli", "-x"]), "cli: unknown option '-x'");
    }

    #[test]
    fn simulate_takes_a_seed_and_knobs() {
        use raft::sim::FaultSet;
        let simulate = |args: &[&str]| match run(args) {
            Ok(Command::Simulate { options }) => options,
            other => panic!("expected simulate, got {other:?}"),
        };
        let options = simulate(&["simulate", "--seed", "17"]);
        assert_eq!(options.sim, raft::sim::Options::new(17));
        assert_eq!(options.steps, crate::simulate::STEPS_DEFAULT);
        let options = simulate(&[
            "simulate",
            "--seed=18446744073709551615",
            "--nodes",
            "7",
            "--steps=50",
            "--faults",
            "crash,partition",
            "--trace",
        ]);
        assert_eq!(options.sim.seed, u64::MAX);
        assert_eq!(options.sim.voters, Some(7));
        assert_eq!(options.steps, 50);
        assert_eq!(
            options.sim.faults,
            FaultSet::parse("partition,crash").expect("valid")
        );
        assert!(options.sim.trace);
        let options = simulate(&["simulate", "--faults", "none", "--seed", "1"]);
        assert_eq!(options.sim.faults, FaultSet::NONE);
    }

    #[test]
    fn simulate_rejects_bad_knobs() {
        assert_eq!(error_message(&["simulate"]), "simulate: missing --seed N");
        assert_eq!(
            error_message(&["simulate", "--seed", "x"]),
            "simulate: option '--seed' needs a whole number, not 'x'"
        );
        assert_eq!(
            error_message(&["simulate", "--seed", "1", "--nodes", "8"]),
            "simulate: option '--nodes' needs 1 to 7 servers, not 8"
        );
        assert!(error_message(&["simulate", "--seed", "1", "--nodes", "0"]).contains("1 to 7"));
        assert!(error_message(&["simulate", "--seed", "1", "--steps", "0"]).contains("--steps"));
        assert!(
            error_message(&["simulate", "--seed", "1", "--faults", "fire"])
                .contains("unknown fault 'fire'")
        );
        assert_eq!(
            error_message(&["simulate", "--seed", "1", "extra"]),
            "simulate: unexpected argument 'extra'"
        );
        assert_eq!(
            error_message(&["simulate", "--seed", "1", "--trace=yes"]),
            "simulate: option '--trace' takes no value"
        );
    }

    #[test]
    fn four_lw_rejects_bad_words_and_servers() {
        assert_eq!(error_message(&["4lw"]), "4lw: missing WORD");
        assert_eq!(
            error_message(&["4lw", "ruokay"]),
            "4lw: 'ruokay' is not a four-letter word (e.g. ruok, srvr)"
        );
        assert_eq!(
            error_message(&["4lw", "ruok", "srvr"]),
            "4lw: unexpected argument 'srvr'"
        );
        assert_eq!(
            error_message(&["4lw", "-s", "h:0", "ruok"]),
            "4lw: 'h:0' is not HOST:PORT"
        );
        assert_eq!(
            error_message(&["4lw", "-s", "h:x", "ruok"]),
            "4lw: 'h:x' is not HOST:PORT"
        );
        assert!(error_message(&["4lw", "-s", "::1", "ruok"]).contains("[ADDRESS]:PORT"));
    }
}

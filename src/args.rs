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
        assert!(text.contains("  server   run the server\n"), "{text}");
        assert!(
            text.contains("  4lw      send a four-letter word"),
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

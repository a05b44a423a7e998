//! The parse functions of the subcommands in [`super::SUBCOMMANDS`]: each reads the
//! arguments after its subcommand's name into a [`Command`], and the helpers they share
//! (numbers, durations, `HOST:PORT`).

use std::path::PathBuf;

use super::{Arg, ArgError, Command, Flags};

pub(super) fn parse_server(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
    let mut config: Option<PathBuf> = None;
    let mut force_recovery = false;
    while let Some(arg) = flags.next_arg() {
        let path = match arg {
            Arg::Flag {
                name: name @ ("-c" | "--config"),
                inline_value,
            } => flags.value(name, inline_value)?,
            Arg::Flag {
                name: "--force-recovery",
                inline_value: None,
            } => {
                force_recovery = true;
                continue;
            }
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
    Ok(Command::Server {
        config,
        force_recovery,
    })
}

pub(super) fn parse_four_lw(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
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

pub(super) fn parse_convert(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
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

pub(super) fn parse_bench(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
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
pub(super) fn parse_cli(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
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

pub(super) fn parse_simulate(flags: &mut Flags<'_>) -> Result<Command, ArgError> {
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

pub(super) fn parse_number<T: std::str::FromStr>(
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
pub(super) fn parse_seconds(
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
pub(super) fn normalize_server(text: &str) -> Result<String, String> {
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

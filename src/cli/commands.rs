//! The command table of the shell's znode commands, and the data commands (ls, get, stat,
//! set, create, delete, deleteall), one function each, with zkCli's options, output and
//! error text (ZooKeeper 3.8 `cli/*Command.java`; facts only, no code copied).
//!
//! Each command parses its words with [`parse_options`], checks its paths as the Java client
//! does (`PathUtils`), calls the blocking [`Client`], and writes what zkCli writes: results
//! to `out`, "Created …" and warnings to `err`. A failure is a [`CliError`] whose message is
//! `CliWrapperException`'s text for the KeeperException; the caller prints it on stderr.

use std::io::Write;

use wire::{Acl, CreateMode, DeleteRequest, Request};

use super::admin::{
    add_auth, add_watch, config, get_acl, get_all_children_number, get_ephemerals, remove_watches,
    set_acl, sync, who_am_i,
};
use super::format::{keeper_error_message, parse_acl, stat_lines, validate_path, Zone};
use super::options::{parse_options, Parsed};
use super::CliError;
use crate::client::{Client, ZkError};

/// Largest TTL zkCli accepts (`EphemeralType.TTL.maxValue()`, 40 bits of milliseconds).
const TTL_MAX_MS: i64 = (1 << 40) - 1;

/// What a command needs: the session, the time zone for dates, and the two output streams.
pub struct Env<'a> {
    pub client: &'a mut Client,
    pub zone: Zone<'a>,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

/// A znode command: its name, zkCli's option string (for usage), its options, its handler.
pub struct ZnodeCommand {
    pub name: &'static str,
    pub usage: &'static str,
    spec: &'static [(char, bool)],
    /// Fewest words (command name included) the command needs.
    words_min: usize,
    run: Run,
}

/// How a command takes its words: through the one-letter option reader, or whole.
enum Run {
    Parsed(fn(&mut Env<'_>, &Parsed) -> Result<(), CliError>),
    Words(fn(&mut Env<'_>, &[String]) -> Result<(), CliError>),
}

pub const ZNODE_COMMANDS: &[ZnodeCommand] = &[
    ZnodeCommand {
        name: "addWatch",
        usage: "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] \
                - default is PERSISTENT_RECURSIVE",
        spec: &[('m', true)],
        words_min: 2,
        run: Run::Parsed(add_watch),
    },
    ZnodeCommand {
        name: "addauth",
        usage: "scheme auth",
        spec: &[],
        words_min: 2,
        run: Run::Parsed(add_auth),
    },
    ZnodeCommand {
        name: "config",
        usage: "[-c] [-w] [-s]",
        spec: &[('c', false), ('w', false), ('s', false)],
        words_min: 1,
        run: Run::Parsed(config),
    },
    ZnodeCommand {
        name: "create",
        usage: "[-s] [-e] [-c] [-t ttl] path [data] [acl]",
        spec: &[('s', false), ('e', false), ('c', false), ('t', true)],
        words_min: 2,
        run: Run::Parsed(create),
    },
    ZnodeCommand {
        name: "delete",
        usage: "[-v version] path",
        spec: &[('v', true)],
        words_min: 2,
        run: Run::Parsed(delete),
    },
    ZnodeCommand {
        name: "deleteall",
        usage: "path [-b batch size]",
        spec: &[('b', true)],
        words_min: 2,
        run: Run::Parsed(delete_all),
    },
    ZnodeCommand {
        name: "get",
        usage: "[-s] [-w] path",
        spec: &[('s', false), ('w', false)],
        words_min: 2,
        run: Run::Parsed(get),
    },
    ZnodeCommand {
        name: "getAcl",
        usage: "[-s] path",
        spec: &[('s', false)],
        words_min: 2,
        run: Run::Parsed(get_acl),
    },
    ZnodeCommand {
        name: "getAllChildrenNumber",
        usage: "path",
        spec: &[],
        words_min: 2,
        run: Run::Parsed(get_all_children_number),
    },
    ZnodeCommand {
        name: "getEphemerals",
        usage: "path",
        spec: &[],
        words_min: 1,
        run: Run::Parsed(get_ephemerals),
    },
    ZnodeCommand {
        name: "ls",
        usage: "[-s] [-w] [-R] path",
        spec: &[('s', false), ('w', false), ('R', false)],
        words_min: 2,
        run: Run::Parsed(ls),
    },
    ZnodeCommand {
        name: "reconfig",
        usage: super::reconfig::USAGE,
        spec: &[],
        words_min: 1,
        run: Run::Words(super::reconfig::reconfig),
    },
    ZnodeCommand {
        name: "removewatches",
        usage: "path [-c|-d|-a] [-l]",
        spec: &[('c', false), ('d', false), ('a', false), ('l', false)],
        words_min: 2,
        run: Run::Parsed(remove_watches),
    },
    ZnodeCommand {
        name: "set",
        usage: "[-s] [-v version] path data",
        spec: &[('s', false), ('v', true)],
        words_min: 3,
        run: Run::Parsed(set),
    },
    ZnodeCommand {
        name: "setAcl",
        usage: "[-s] [-v version] [-R] path acl",
        spec: &[('s', false), ('v', true), ('R', false)],
        words_min: 3,
        run: Run::Parsed(set_acl),
    },
    ZnodeCommand {
        name: "stat",
        usage: "[-w] path",
        spec: &[('w', false)],
        words_min: 2,
        run: Run::Parsed(stat),
    },
    ZnodeCommand {
        name: "sync",
        usage: "path",
        spec: &[],
        words_min: 2,
        run: Run::Parsed(sync),
    },
    ZnodeCommand {
        name: "whoami",
        usage: "",
        spec: &[],
        words_min: 1,
        run: Run::Parsed(who_am_i),
    },
];

/// Runs the znode command named by `words[0]`; `None` if there is no such command.
pub fn run(env: &mut Env<'_>, words: &[String]) -> Option<Result<(), CliError>> {
    assert!(!words.is_empty(), "a command line has a command word");
    let command = ZNODE_COMMANDS.iter().find(|c| c.name == words[0])?;
    let run = match command.run {
        Run::Parsed(run) => run,
        Run::Words(run) => return Some(run(env, words)),
    };
    let parsed = match parse_options(words, command.spec) {
        Ok(parsed) => parsed,
        Err(message) => return Some(Err(CliError::new(message))),
    };
    if parsed.args.len() < command.words_min {
        return Some(Err(CliError::new(format!(
            "{} {}",
            command.name, command.usage
        ))));
    }
    Some(run(env, &parsed))
}

/// The path argument, checked as the Java client checks it.
pub(super) fn path_arg(parsed: &Parsed, is_sequential: bool) -> Result<&str, CliError> {
    let path = parsed.args[1].as_str();
    validate_path(path, is_sequential).map_err(CliError::new)?;
    Ok(path)
}

/// `Integer.parseInt` of an option value (Java would die with NumberFormatException).
pub(super) fn int_option(parsed: &Parsed, option: char, default: i32) -> Result<i32, CliError> {
    match parsed.value(option) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| {
            CliError::new(format!(
                "java.lang.NumberFormatException: For input string: \"{text}\""
            ))
        }),
    }
}

pub(super) fn zk_error(e: ZkError, path: &str) -> CliError {
    CliError::new(keeper_error_message(e.code(), Some(path)))
}

pub(super) fn write_stat(env: &mut Env<'_>, stat: &wire::Stat) -> Result<(), CliError> {
    env.out.write_all(stat_lines(stat, env.zone).as_bytes())?;
    Ok(())
}

fn ls(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let watch = parsed.has('w');
    if parsed.has('R') {
        // ZKUtil.visitSubTreeDFS: the node must exist; each level's children are printed
        // (sorted) before any of them is descended into.
        env.client
            .get_data(path, watch)
            .map_err(|e| zk_error(e, path))?;
        writeln!(env.out, "{path}")?;
        return ls_recursive(env, path, watch);
    }
    let (mut children, stat) = if parsed.has('s') {
        let (children, stat) = env
            .client
            .get_children2(path, watch)
            .map_err(|e| zk_error(e, path))?;
        (children, Some(stat))
    } else {
        let children = env
            .client
            .get_children(path, watch)
            .map_err(|e| zk_error(e, path))?;
        (children, None)
    };
    children.sort();
    writeln!(env.out, "[{}]", children.join(", "))?;
    if let Some(stat) = stat {
        write_stat(env, &stat)?;
    }
    Ok(())
}

fn ls_recursive(env: &mut Env<'_>, path: &str, watch: bool) -> Result<(), CliError> {
    let mut children = match env.client.get_children(path, watch) {
        Ok(children) => children,
        // A node listed and deleted before it is visited is skipped, as ZKUtil does.
        Err(ZkError::Code(wire::ErrorCode::NoNode)) => return Ok(()),
        Err(e) => return Err(zk_error(e, path)),
    };
    children.sort();
    let child_paths: Vec<String> = children.iter().map(|c| child_path(path, c)).collect();
    for child in &child_paths {
        writeln!(env.out, "{child}")?;
    }
    for child in &child_paths {
        ls_recursive(env, child, watch)?;
    }
    Ok(())
}

pub(super) fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

fn get(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let (data, stat) = env
        .client
        .get_data(path, parsed.has('w'))
        .map_err(|e| zk_error(e, path))?;
    write_data(env, data.as_deref())?;
    if parsed.has('s') {
        write_stat(env, &stat)?;
    }
    Ok(())
}

/// Data as `new String(data, UTF_8)`, or `null` for a null buffer, and a newline.
pub(super) fn write_data(env: &mut Env<'_>, data: Option<&[u8]>) -> Result<(), CliError> {
    let text = match data {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None => "null".to_string(),
    };
    writeln!(env.out, "{text}")?;
    Ok(())
}

fn stat(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    match env.client.exists(path, parsed.has('w')) {
        Ok(Some(stat)) => write_stat(env, &stat),
        Ok(None) => Err(CliError::new(keeper_error_message(
            wire::ErrorCode::NoNode,
            Some(path),
        ))),
        Err(e) => Err(zk_error(e, path)),
    }
}

fn set(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let version = int_option(parsed, 'v', -1)?;
    let stat = env
        .client
        .set_data(path, parsed.args[2].as_bytes(), version)
        .map_err(|e| zk_error(e, path))?;
    if parsed.has('s') {
        write_stat(env, &stat)?;
    }
    Ok(())
}

/// `CreateCommand`'s choice of mode from -e, -s, -c and -t, with its messages.
fn create_mode(parsed: &Parsed) -> Result<(CreateMode, i64), CliError> {
    let (e, s, c, t) = (
        parsed.has('e'),
        parsed.has('s'),
        parsed.has('c'),
        parsed.has('t'),
    );
    if c && (e || s) {
        return Err(CliError::new(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.",
        ));
    }
    let ttl_ms = match parsed.value('t') {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .map_err(|_| CliError::new("-t argument must be a long value"))?,
    };
    if t && e {
        return Err(CliError::new("TTLs cannot be used with Ephemeral znodes"));
    }
    if t && c {
        return Err(CliError::new("TTLs cannot be used with Container znodes"));
    }
    let mode = match (e, s, c, t) {
        (true, true, _, _) => CreateMode::EphemeralSequential,
        (true, false, _, _) => CreateMode::Ephemeral,
        (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
        (false, true, _, false) => CreateMode::PersistentSequential,
        (false, false, true, _) => CreateMode::Container,
        (false, false, false, true) => CreateMode::PersistentWithTtl,
        (false, false, false, false) => CreateMode::Persistent,
    };
    if t && !(1..=TTL_MAX_MS).contains(&ttl_ms) {
        return Err(CliError::new(format!(
            "ttl must be positive and cannot be larger than: {TTL_MAX_MS}"
        )));
    }
    Ok((mode, ttl_ms))
}

fn create(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let (mode, ttl_ms) = create_mode(parsed)?;
    let is_sequential = matches!(
        mode,
        CreateMode::PersistentSequential
            | CreateMode::EphemeralSequential
            | CreateMode::PersistentSequentialWithTtl
    );
    let path = path_arg(parsed, is_sequential)?;
    let data = parsed.args.get(2).map(|d| d.as_bytes());
    let acl = match parsed.args.get(3) {
        Some(text) => acl_arg(env, text)?,
        None => Acl::open_unsafe(),
    };
    if acl.is_empty() {
        // ZooKeeper.create refuses an empty ACL before sending (InvalidACLException, no path).
        writeln!(env.err, "KeeperErrorCode = InvalidACL")?;
        return Err(CliError::new(keeper_error_message(
            wire::ErrorCode::InvalidAcl,
            None,
        )));
    }
    match env
        .client
        .create_with_options(path, data, &acl, mode, ttl_ms)
    {
        Ok(created) => {
            writeln!(env.err, "Created {created}")?;
            Ok(())
        }
        Err(e) => {
            match e.code() {
                wire::ErrorCode::EphemeralOnLocalSession => writeln!(
                    env.err,
                    "Unable to create ephemeral node on a local session"
                )?,
                wire::ErrorCode::InvalidAcl => {
                    writeln!(env.err, "KeeperErrorCode = InvalidACL for {path}")?
                }
                _ => {}
            }
            Err(zk_error(e, path))
        }
    }
}

/// An ACL argument, its `AclParser` warnings written to stderr.
pub(super) fn acl_arg(env: &mut Env<'_>, text: &str) -> Result<Vec<Acl>, CliError> {
    let (acl, warnings) = parse_acl(text);
    for warning in warnings {
        writeln!(env.err, "{warning}")?;
    }
    Ok(acl)
}

fn delete(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let version = int_option(parsed, 'v', -1)?;
    env.client
        .delete(path, version)
        .map_err(|e| zk_error(e, path))
}

/// `ZKUtil.deleteRecursive`: list the subtree breadth first, then delete it leaves first in
/// multis of `-b` deletes (1000 by default).
fn delete_all(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let batch_size = match parsed.value('b') {
        None => 1000,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| CliError::new("-b argument must be an int value"))?,
    };
    let mut tree = vec![path.to_string()];
    let mut next = 0;
    while next < tree.len() {
        let node = tree[next].clone();
        next += 1;
        let children = env
            .client
            .get_children(&node, false)
            .map_err(|e| zk_error(e, &node))?;
        tree.extend(children.iter().map(|c| child_path(&node, c)));
    }
    assert_eq!(tree[0], path, "the subtree is listed from its root");
    let mut is_success = true;
    // Leaves first: the last batch of the breadth-first list goes first, reversed.
    for batch in tree.rchunks(batch_size) {
        let ops: Vec<Request> = batch
            .iter()
            .rev()
            .map(|p| {
                Request::Delete(DeleteRequest {
                    path: p.clone(),
                    version: -1,
                })
            })
            .collect();
        match env.client.multi(ops) {
            Ok(_) => {}
            Err(ZkError::MultiFailed { .. } | ZkError::Code(_)) => {
                is_success = false;
                break;
            }
            Err(e) => return Err(zk_error(e, path)),
        }
    }
    if !is_success {
        writeln!(env.err, "Failed to delete some node(s) in the subtree!")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(words: &[&str], spec: &[(char, bool)]) -> Parsed {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        parse_options(&words, spec).unwrap()
    }

    const CREATE_SPEC: &[(char, bool)] = &[('s', false), ('e', false), ('c', false), ('t', true)];

    #[test]
    fn create_modes_follow_create_command() {
        let mode = |words: &[&str]| create_mode(&parsed(words, CREATE_SPEC));
        assert_eq!(mode(&["create", "/a"]).unwrap().0, CreateMode::Persistent);
        assert_eq!(
            mode(&["create", "-e", "-s", "/a"]).unwrap().0,
            CreateMode::EphemeralSequential
        );
        assert_eq!(
            mode(&["create", "-c", "/a"]).unwrap().0,
            CreateMode::Container
        );
        assert_eq!(
            mode(&["create", "-s", "-t", "10", "/a"]).unwrap(),
            (CreateMode::PersistentSequentialWithTtl, 10)
        );
        assert_eq!(
            mode(&["create", "-c", "-e", "/a"]).unwrap_err().message,
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."
        );
        assert_eq!(
            mode(&["create", "-e", "-t", "5", "/a"])
                .unwrap_err()
                .message,
            "TTLs cannot be used with Ephemeral znodes"
        );
        assert_eq!(
            mode(&["create", "-t", "x", "/a"]).unwrap_err().message,
            "-t argument must be a long value"
        );
        assert_eq!(
            mode(&["create", "-t", "0", "/a"]).unwrap_err().message,
            "ttl must be positive and cannot be larger than: 1099511627775"
        );
    }

    #[test]
    fn usage_strings_match_zkcli() {
        let usage = |name: &str| {
            let c = ZNODE_COMMANDS.iter().find(|c| c.name == name).unwrap();
            format!("{} {}", c.name, c.usage)
        };
        assert_eq!(usage("ls"), "ls [-s] [-w] [-R] path");
        assert_eq!(usage("get"), "get [-s] [-w] path");
        assert_eq!(usage("set"), "set [-s] [-v version] path data");
        assert_eq!(
            usage("addWatch"),
            "addWatch [-m mode] path # optional mode is one of \
             [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE"
        );
        let mut names: Vec<&str> = ZNODE_COMMANDS.iter().map(|c| c.name).collect();
        let unsorted = names.clone();
        names.sort();
        assert_eq!(
            names, unsorted,
            "the table is sorted as zkCli's usage lists it"
        );
    }
}

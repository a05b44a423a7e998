//! The shell's commands about access, watches and the server (zkCli's `GetAclCommand`,
//! `SetAclCommand`, `AddAuthCommand`, `WhoAmICommand`, `SyncCommand`,
//! `GetEphemeralsCommand`, `GetAllChildrenNumberCommand`, `AddWatchCommand`,
//! `RemoveWatchesCommand`, `GetConfigCommand`), with their output and error text. The
//! znode data commands and the command table are in `commands.rs`.

use wire::{add_watch_mode, watcher_type};

use super::commands::{
    acl_arg, child_path, int_option, path_arg, write_data, write_stat, zk_error, Env,
    ZNODE_COMMANDS,
};
use super::format::{acl_lines, keeper_error_message};
use super::options::Parsed;
use super::CliError;
use crate::client::ZkError;

pub(super) fn get_acl(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let (acl, stat) = env.client.get_acl(path).map_err(|e| zk_error(e, path))?;
    env.out.write_all(acl_lines(&acl).as_bytes())?;
    if parsed.has('s') {
        write_stat(env, &stat)?;
    }
    Ok(())
}

pub(super) fn set_acl(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let acl = acl_arg(env, &parsed.args[2])?;
    let version = int_option(parsed, 'v', -1)?;
    if acl.is_empty() {
        // ZooKeeper.setACL refuses an empty ACL before sending (InvalidACLException, no path).
        return Err(CliError::new(keeper_error_message(
            wire::ErrorCode::InvalidAcl,
            None,
        )));
    }
    if parsed.has('R') {
        env.client
            .get_data(path, false)
            .map_err(|e| zk_error(e, path))?;
        let mut nodes = vec![path.to_string()];
        collect_subtree(env, path, &mut nodes)?;
        for node in &nodes {
            if let Err(e) = env.client.set_acl(node, &acl, version) {
                // zkCli prints each failure and goes on (its text has no newline; ours does).
                let message = super::format::keeper_exception_message(e.code(), Some(node));
                writeln!(env.out, "{message}")?;
            }
        }
        return Ok(());
    }
    let stat = env
        .client
        .set_acl(path, &acl, version)
        .map_err(|e| zk_error(e, path))?;
    if parsed.has('s') {
        write_stat(env, &stat)?;
    }
    Ok(())
}

/// The descendants of `path` in `visitSubTreeDFS` order.
fn collect_subtree(env: &mut Env<'_>, path: &str, nodes: &mut Vec<String>) -> Result<(), CliError> {
    let mut children = match env.client.get_children(path, false) {
        Ok(children) => children,
        Err(ZkError::Code(wire::ErrorCode::NoNode)) => return Ok(()),
        Err(e) => return Err(zk_error(e, path)),
    };
    children.sort();
    let child_paths: Vec<String> = children.iter().map(|c| child_path(path, c)).collect();
    nodes.extend(child_paths.iter().cloned());
    for child in &child_paths {
        collect_subtree(env, child, nodes)?;
    }
    Ok(())
}

/// `addauth scheme [auth]`. zkCli does not wait for the answer; we do, so a refusal is
/// reported here, as the AuthFailed event zkCli's watcher prints.
pub(super) fn add_auth(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let scheme = parsed.args[1].as_str();
    let auth = parsed.args.get(2).map(String::as_bytes).unwrap_or_default();
    match env.client.add_auth(scheme, auth) {
        Ok(()) => Ok(()),
        Err(ZkError::Code(wire::ErrorCode::AuthFailed)) => {
            let block = super::format::watcher_block(
                wire::keeper_state::AUTH_FAILED,
                wire::event_type::NONE,
                None,
            );
            env.out.write_all(block.as_bytes())?;
            Err(CliError::auth_failed())
        }
        Err(e) => Err(CliError::new(super::format::keeper_exception_message(
            e.code(),
            None,
        ))),
    }
}

pub(super) fn sync(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    match env.client.sync(path) {
        Ok(_) => writeln!(env.out, "Sync is OK")?,
        Err(ZkError::Code(code)) => writeln!(env.out, "Sync has failed. rc={}", code.code())?,
        Err(e) => return Err(zk_error(e, path)),
    }
    Ok(())
}

pub(super) fn who_am_i(env: &mut Env<'_>, _parsed: &Parsed) -> Result<(), CliError> {
    let infos = env
        .client
        .who_am_i()
        .map_err(|e| CliError::new(super::format::keeper_exception_message(e.code(), None)))?;
    writeln!(env.out, "Auth scheme: User")?;
    for info in infos {
        writeln!(env.out, "{}: {}", info.auth_scheme, info.user)?;
    }
    Ok(())
}

pub(super) fn get_ephemerals(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let prefix = match parsed.args.get(1) {
        Some(_) => path_arg(parsed, false)?,
        None => "/",
    };
    let paths = env
        .client
        .get_ephemerals(prefix)
        .map_err(|e| zk_error(e, prefix))?;
    // Java's List.toString.
    writeln!(env.out, "[{}]", paths.join(", "))?;
    Ok(())
}

pub(super) fn get_all_children_number(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let count = env
        .client
        .get_all_children_number(path)
        .map_err(|e| zk_error(e, path))?;
    writeln!(env.out, "{count}")?;
    Ok(())
}

pub(super) fn add_watch(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let usage = || {
        let command = ZNODE_COMMANDS
            .iter()
            .find(|c| c.name == "addWatch")
            .expect("addWatch is in ZNODE_COMMANDS");
        CliError::new(format!("{} {}", command.name, command.usage))
    };
    if parsed.args.len() != 2 {
        return Err(usage());
    }
    let mode = match parsed.value('m').map(str::to_ascii_uppercase).as_deref() {
        None | Some("PERSISTENT_RECURSIVE") => add_watch_mode::PERSISTENT_RECURSIVE,
        Some("PERSISTENT") => add_watch_mode::PERSISTENT,
        Some(_) => return Err(usage()),
    };
    let path = path_arg(parsed, false)?;
    env.client
        .add_watch(path, mode)
        .map_err(|e| zk_error(e, path))
}

pub(super) fn remove_watches(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    let path = path_arg(parsed, false)?;
    let kind = if parsed.has('c') {
        watcher_type::CHILDREN
    } else if parsed.has('d') {
        watcher_type::DATA
    } else {
        watcher_type::ANY
    };
    env.client
        .remove_watches(path, kind)
        .map_err(|e| CliError::new(keeper_error_message(e.code(), Some(path))))
}

/// `config`: the data of /zookeeper/config; `-c` prints `ConfigUtils.getClientConfigStr`.
pub(super) fn config(env: &mut Env<'_>, parsed: &Parsed) -> Result<(), CliError> {
    const CONFIG_NODE: &str = "/zookeeper/config";
    let (data, stat) = env
        .client
        .get_data(CONFIG_NODE, parsed.has('w'))
        .map_err(|e| zk_error(e, CONFIG_NODE))?;
    if parsed.has('c') {
        let text = String::from_utf8_lossy(data.as_deref().unwrap_or(b"null")).into_owned();
        writeln!(env.out, "{}", client_config(&text))?;
    } else {
        write_data(env, data.as_deref())?;
    }
    if parsed.has('s') {
        write_stat(env, &stat)?;
    }
    Ok(())
}

/// `ConfigUtils.getClientConfigStr`: `version` and the client addresses of the server.N
/// lines (`server.1=host:2888:3888;[clientHost:]clientPort`), comma separated.
fn client_config(config: &str) -> String {
    let mut version = "";
    let mut clients = Vec::new();
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            version = value;
        }
        if !key.starts_with("server.") {
            continue;
        }
        let Some((addresses, client)) = value.split_once(';') else {
            continue;
        };
        let client = match client.rsplit_once(':') {
            Some((host, port)) => format!("{host}:{port}"),
            None => {
                let host = addresses.split(':').next().unwrap_or_default();
                format!("{host}:{client}")
            }
        };
        clients.push(client);
    }
    format!("{version} {}", clients.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_config_string_lists_client_addresses() {
        let config = "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                      server.2=10.0.0.2:2888:3888;2182\nversion=100000000\n";
        assert_eq!(
            client_config(config),
            "100000000 0.0.0.0:2181,10.0.0.2:2182"
        );
        assert_eq!(client_config(""), " ");
    }
}

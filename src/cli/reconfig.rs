//! The shell's `reconfig` (zkCli's `ReconfigCommand`): its options are words (`-add`,
//! `-remove`, `-members`, `-file`) that the one-letter option reader cannot take, so it
//! reads its own words, then checks them in the order and with the messages zkCli uses.

use wire::ReconfigRequest;

use super::commands::{write_stat, Env};
use super::format::keeper_error_message;
use super::CliError;
use crate::reconfig::ClusterConfig;

pub(super) const USAGE: &str = "[-s] [-v version] [[-file path] | \
    [-members serverID=host:port1:port2;port3[,...]*]] | \
    [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]";

/// What the words asked for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    stats: bool,
    version: Option<String>,
    file: Option<String>,
    members: Option<String>,
    add: Option<String>,
    remove: Option<String>,
}

/// Reads `reconfig`'s words as commons-cli does for its option table: `-s`, `-v` (value
/// attached or next), and the word options, each taking the next word; a later repeat wins.
fn read_options(words: &[String]) -> Result<Options, CliError> {
    let mut options = Options::default();
    let mut rest = words.iter().skip(1);
    while let Some(word) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| CliError::new(format!("Missing argument for option: {name}")))
        };
        match word.as_str() {
            "-s" => options.stats = true,
            "-v" => options.version = Some(value("v")?),
            "-file" => options.file = Some(value("file")?),
            "-members" => options.members = Some(value("members")?),
            "-add" => options.add = Some(value("add")?),
            "-remove" => options.remove = Some(value("remove")?),
            w if w.starts_with("-v") => options.version = Some(w[2..].to_string()),
            w if w.starts_with('-') && w.len() > 1 => {
                return Err(CliError::new(format!("Unrecognized option: {w}")))
            }
            _ => {}
        }
    }
    Ok(options)
}

/// The request zkCli builds: its checks in its order, values lower-cased as it does, and
/// `-file` read as a dynamic config file (server.N lines) whose member list is sent.
fn build_request(options: &Options) -> Result<ReconfigRequest, CliError> {
    let bulk = options.file.is_some() || options.members.is_some();
    if !bulk && options.add.is_none() && options.remove.is_none() {
        return Err(CliError::new(format!("reconfig {USAGE}")));
    }
    let cur_config_id = match &options.version {
        None => -1,
        Some(text) => i64::from_str_radix(text, 16)
            .map_err(|_| CliError::new("-v must be followed by a long (configuration version)"))?,
    };
    if bulk && (options.add.is_some() || options.remove.is_some()) {
        return Err(CliError::new(
            "Can't use -file or -members together with -add or -remove (mixing incremental \
             and non-incremental modes is not allowed)",
        ));
    }
    if options.file.is_some() && options.members.is_some() {
        return Err(CliError::new(
            "Can't use -file and -members together (conflicting non-incremental modes)",
        ));
    }
    let lower = |v: &Option<String>| v.as_ref().map(|s| s.to_lowercase());
    let mut new_members = lower(&options.members);
    if let Some(path) = &options.file {
        let members = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| ClusterConfig::parse(&text).map_err(|e| e.to_string()))
            .map_err(|e| CliError::new(format!("Error processing {path}{e}")))?;
        new_members = Some(members.render());
    }
    Ok(ReconfigRequest {
        joining_servers: lower(&options.add),
        leaving_servers: lower(&options.remove),
        new_members,
        cur_config_id,
    })
}

/// `reconfig`: sends the change; prints the configuration the leader committed.
pub(super) fn reconfig(env: &mut Env<'_>, words: &[String]) -> Result<(), CliError> {
    let options = read_options(words)?;
    let request = build_request(&options)?;
    let (data, stat) = env
        .client
        .reconfig(request)
        // `ZooKeeperAdmin.reconfigure` raises its KeeperException with the path "".
        .map_err(|e| CliError::new(keeper_error_message(e.code(), Some(""))))?;
    let text = String::from_utf8_lossy(data.as_deref().unwrap_or(b"")).into_owned();
    writeln!(env.out, "Committed new configuration:\n{text}")?;
    if options.stats {
        write_stat(env, &stat)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(line: &str) -> Result<ReconfigRequest, String> {
        let words = super::super::options::split_words(line);
        read_options(&words)
            .and_then(|o| build_request(&o))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn incremental_changes_send_nulls_for_what_is_not_given() {
        let r = request("reconfig -add server.4=H:2888:3888;2181 -v 100000003").unwrap();
        assert_eq!(
            r.joining_servers.as_deref(),
            Some("server.4=h:2888:3888;2181")
        );
        assert_eq!((r.leaving_servers, r.new_members), (None, None));
        assert_eq!(r.cur_config_id, 0x1_0000_0003);
        let r = request("reconfig -remove 2,3").unwrap();
        assert_eq!(r.leaving_servers.as_deref(), Some("2,3"));
        assert_eq!(r.cur_config_id, -1);
    }

    #[test]
    fn zkclis_checks_and_messages() {
        assert_eq!(
            request("reconfig").unwrap_err(),
            format!("reconfig {USAGE}")
        );
        assert_eq!(
            request("reconfig -s").unwrap_err(),
            format!("reconfig {USAGE}")
        );
        assert!(request("reconfig -remove 2 -v xyz")
            .unwrap_err()
            .starts_with("-v must be followed by a long"));
        assert!(
            request("reconfig -members server.1=h:1:2 -add server.2=h:3:4")
                .unwrap_err()
                .starts_with("Can't use -file or -members together with -add or -remove")
        );
        assert!(request("reconfig -members server.1=h:1:2 -file /x")
            .unwrap_err()
            .starts_with("Can't use -file and -members together"));
        assert_eq!(
            request("reconfig -add").unwrap_err(),
            "Missing argument for option: add"
        );
        assert_eq!(
            request("reconfig -x -add a").unwrap_err(),
            "Unrecognized option: -x"
        );
    }

    #[test]
    fn a_file_sends_its_member_list() {
        let dir = std::env::temp_dir().join(format!("fk-reconfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dynamic.cfg");
        std::fs::write(&path, "server.1=127.0.0.1:2888:3888:participant;2181\n").unwrap();
        let r = request(&format!("reconfig -file {}", path.display())).unwrap();
        let members = r.new_members.unwrap();
        assert!(
            members.starts_with("server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n"),
            "{members}"
        );
        let missing = request(&format!("reconfig -file {}", dir.join("none").display()));
        assert!(missing.unwrap_err().starts_with("Error processing "));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

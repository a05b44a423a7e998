//! Server configuration: the `zoo.cfg` file format and the values the server runs with.
//!
//! Source of truth for the behaviour: ZooKeeper 3.8's `QuorumPeerConfig.parseProperties`, which
//! reads the file with `java.util.Properties`. So the syntax here is the Properties syntax:
//! `key=value`, `key: value` or `key value`; `#` and `!` start a comment line; whitespace around
//! keys and values is trimmed; a line ending in an odd number of backslashes continues on the
//! next line; `\t`, `\n`, `\uXXXX` and friends are unescaped; a repeated key keeps its last value.
//!
//! Keys ZooKeeper reads through `System.getProperty("zookeeper." + key)` are accepted with and
//! without the `zookeeper.` prefix (e.g. `snapCount` and `zookeeper.snapCount`).
//!
//! Error policy (STYLE.md, untrusted input): a bad value is an `Err` naming the file, the line, the
//! key and the value. A key we do not use, whether ZooKeeper knows it or not, is a warning and is
//! kept in [`Config::ignored`] so nothing silently disappears.
//!
//! Invariants kept by every `Config` this module returns (checked by `check_invariants`):
//! `tick_time_ms > 0`, `client_port > 0`,
//! `0 < session_timeout_ms_min <= session_timeout_ms_max`, `jute_max_buffer > 0`,
//! server ids unique, and each server's peer port differs from its election port.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Every four-letter word ZooKeeper 3.8 knows (`FourLetterCommands.cmd2String`), except the
/// telnet close sequence, which is not a word; then ClickHouse Keeper's that we answer.
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash", "csnp", "lgif", "apiv", "clrs", "rclc", "pfev",
];

/// Which four-letter words may run (`4lw.commands.whitelist`).
///
/// As in ZooKeeper's `FourLetterCommands.isEnabled`, `srvr` is always enabled (zkServer.sh
/// depends on it) and the default list is just `srvr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Whitelist {
    /// `*` was given: every known word is enabled.
    all: bool,
    /// Words named explicitly (only known words are kept).
    words: BTreeSet<String>,
}

impl Whitelist {
    /// ZooKeeper's default: only `srvr`.
    pub fn zookeeper_default() -> Whitelist {
        Whitelist {
            all: false,
            words: BTreeSet::new(),
        }
    }

    /// Parses a comma-separated list; returns the list and the unknown names it skipped.
    pub fn parse(list: &str) -> (Whitelist, Vec<String>) {
        let mut whitelist = Whitelist::zookeeper_default();
        let mut unknown = Vec::new();
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            if name == "*" {
                whitelist.all = true;
            } else if FOUR_LETTER_WORDS.contains(&name) {
                whitelist.words.insert(name.to_string());
            } else {
                unknown.push(name.to_string());
            }
        }
        (whitelist, unknown)
    }

    /// Whether `word` may run.
    pub fn is_enabled(&self, word: &str) -> bool {
        word == "srvr" || self.all || self.words.contains(word)
    }
}

/// The role of a `server.N` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRole {
    Participant,
    Observer,
}

/// One `server.N=host:peerPort:electionPort[:role][;[clientHost:]clientPort]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    /// 1-based line number in the source, for messages.
    pub line: usize,
    /// The value exactly as written (after Properties unescaping and trimming).
    pub raw: String,
    pub id: u64,
    pub host: String,
    pub peer_port: u16,
    pub election_port: u16,
    pub role: PeerRole,
    /// `None` when the entry has no `;client` part. The host defaults to `0.0.0.0`, as in
    /// ZooKeeper, when only a port is given.
    pub client: Option<(String, u16)>,
}

/// The configuration the server runs with. Field names follow the `zoo.cfg` keys, in snake case
/// with units last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where this came from (a file path or "<default>"), for messages.
    pub source_name: String,
    pub tick_time_ms: u32,
    pub data_dir: PathBuf,
    /// Defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    pub client_port: u16,
    /// The address to bind the client port to, as written (a host name or an IP literal);
    /// "0.0.0.0" (every interface) when a file does not set it, as in ZooKeeper.
    pub client_port_address: String,
    /// Per client IP address; 0 means unlimited.
    pub max_client_cnxns: u32,
    /// Defaults to 2 × tickTime.
    pub session_timeout_ms_min: u32,
    /// Defaults to 20 × tickTime.
    pub session_timeout_ms_max: u32,
    pub four_letter_whitelist: Whitelist,
    /// Largest accepted packet body in bytes (`jute.maxbuffer`, default 0xfffff).
    pub jute_max_buffer: u32,
    /// `super:<base64 sha1>` digest for the super user, if configured.
    pub super_digest: Option<String>,
    pub extended_types_enabled: bool,
    /// How often empty containers and expired TTL nodes are swept (ms; ZooKeeper's
    /// `znode.container.checkIntervalMs`, 60 s by default).
    pub container_check_interval_ms: u64,
    /// Transactions between snapshots (ZooKeeper randomises within snapCount/2..snapCount).
    pub snap_count: u32,
    pub autopurge_snap_retain_count: u32,
    /// 0 disables purging.
    pub autopurge_purge_interval_hours: u32,
    pub force_sync: bool,
    pub pre_alloc_size_kb: u32,
    pub init_limit_ticks: u32,
    pub sync_limit_ticks: u32,
    pub global_outstanding_limit: u32,
    pub max_response_cache_size: u32,
    /// -1 means the OS default, as in ZooKeeper.
    pub client_port_listen_backlog: i32,
    pub standalone_enabled: bool,
    pub reconfig_enabled: bool,
    /// `readonlymode.enabled`: a member cut off from the quorum serves reads to clients
    /// that allow a read-only server.
    pub read_only_mode_enabled: bool,
    /// `readConsistency=linearizable`: every read waits for a Raft ReadIndex (default
    /// `sequential`: ZooKeeper's guarantee, reads served from the local tree).
    pub linearizable_reads: bool,
    /// Role of this server when it is not listed as an observer in `server.N` (`peerType`).
    pub peer_type: PeerRole,
    /// `server.N` entries sorted by id; empty means standalone.
    pub servers: Vec<ServerEntry>,
    /// Port of the Prometheus `/metrics` endpoint (`metricsPort`, or ZooKeeper's
    /// `metricsProvider.httpPort`; 7000 when only `metricsProvider.className` names the
    /// Prometheus provider, as in ZooKeeper); `None` serves no endpoint.
    pub metrics_port: Option<u16>,
    /// Bind address of that endpoint (`metricsProvider.httpHost`, "0.0.0.0" as in ZooKeeper).
    pub metrics_host: String,
    /// Keys that were read but not used: key → (line, value).
    pub ignored: BTreeMap<String, (usize, String)>,
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A value could not be parsed or is out of range.
    BadValue {
        source_name: String,
        line: usize,
        key: String,
        value: String,
        expected: String,
    },
    /// A rule across keys is broken, or a required key is missing.
    Invalid {
        source_name: String,
        line: Option<usize>,
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, error } => {
                write!(
                    f,
                    "{}: cannot read configuration: {}",
                    path.display(),
                    error
                )
            }
            ConfigError::BadValue {
                source_name,
                line,
                key,
                value,
                expected,
            } => {
                write!(
                    f,
                    "{source_name}:{line}: {key}: expected {expected}, got '{value}'"
                )
            }
            ConfigError::Invalid {
                source_name,
                line: Some(line),
                message,
            } => {
                write!(f, "{source_name}:{line}: {message}")
            }
            ConfigError::Invalid {
                source_name,
                line: None,
                message,
            } => {
                write!(f, "{source_name}: {message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl Default for Config {
    /// The embedded default: standalone on 127.0.0.1:2181, data in `./ferrokeeper-data`.
    fn default() -> Config {
        let tick_time_ms = 2000;
        Config {
            source_name: "<default>".to_string(),
            tick_time_ms,
            data_dir: PathBuf::from("./ferrokeeper-data"),
            data_log_dir: PathBuf::from("./ferrokeeper-data"),
            client_port: 2181,
            client_port_address: "127.0.0.1".to_string(),
            max_client_cnxns: 60,
            session_timeout_ms_min: 2 * tick_time_ms,
            session_timeout_ms_max: 20 * tick_time_ms,
            four_letter_whitelist: Whitelist::zookeeper_default(),
            jute_max_buffer: 0xfffff,
            super_digest: None,
            extended_types_enabled: false,
            container_check_interval_ms: 60_000,
            snap_count: 100_000,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            force_sync: true,
            pre_alloc_size_kb: 65536,
            init_limit_ticks: 0,
            sync_limit_ticks: 0,
            global_outstanding_limit: 1000,
            max_response_cache_size: 400,
            client_port_listen_backlog: -1,
            standalone_enabled: true,
            reconfig_enabled: false,
            read_only_mode_enabled: false,
            linearizable_reads: false,
            peer_type: PeerRole::Participant,
            servers: Vec::new(),
            metrics_port: None,
            metrics_host: "0.0.0.0".to_string(),
            ignored: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads and parses a `zoo.cfg` file. Returns the config and its warnings.
    pub fn load(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let bytes = std::fs::read(path).map_err(|error| ConfigError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        // java.util.Properties reads ISO-8859-1, where every byte is the code point of the same
        // value; decoding that way never fails and keeps UTF-8 files readable when ASCII.
        let text: String = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => error.into_bytes().iter().map(|&b| char::from(b)).collect(),
        };
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses `zoo.cfg` text. `source_name` names the text in messages (usually the path).
    pub fn parse(text: &str, source_name: &str) -> Result<(Config, Vec<String>), ConfigError> {
        let entries = properties::parse(text).map_err(|(line, message)| ConfigError::Invalid {
            source_name: source_name.to_string(),
            line: Some(line),
            message,
        })?;
        let mut builder = keys::Builder::new(source_name);
        for entry in &entries {
            builder.apply(entry)?;
        }
        let (config, warnings) = builder.finish()?;
        config.check_invariants();
        Ok((config, warnings))
    }

    /// True when no quorum is configured: no `server.N` lines, or (with `standaloneEnabled`) at
    /// most one voting member, as in ZooKeeper's `QuorumPeerConfig.isDistributed`.
    pub fn is_standalone(&self) -> bool {
        let voting = self
            .servers
            .iter()
            .filter(|s| s.role == PeerRole::Participant)
            .count();
        self.servers.is_empty() || (self.standalone_enabled && voting <= 1)
    }

    /// The `conf` four-letter-word answer, in the format of ZooKeeper 3.8's
    /// `ZooKeeperServer.dumpConf` for a standalone server. The directory sizes are measured by
    /// the caller (see `fourlw::dir_size_bytes`).
    ///
    /// Differences, on purpose: `dataDir`/`dataLogDir` are our directories (ZooKeeper prints its
    /// `version-2` subdirectory), and `dataDirSize` is the size of `dataDir` (ZooKeeper 3.8
    /// swaps the two sizes; they only differ when dataLogDir is set).
    pub fn render_conf(&self, data_dir_size_bytes: u64, data_log_dir_size_bytes: u64) -> String {
        let server_id = 0; // TODO(#cluster): myid once quorum mode exists.
        let mut out = String::new();
        let mut line = |key: &str, value: &dyn fmt::Display| {
            out.push_str(&format!("{key}={value}\n"));
        };
        line("clientPort", &self.client_port);
        // We do not serve TLS, so there is never a secure port.
        line("secureClientPort", &-1);
        line("dataDir", &absolute(&self.data_dir).display());
        line("dataDirSize", &data_dir_size_bytes);
        line("dataLogDir", &absolute(&self.data_log_dir).display());
        line("dataLogSize", &data_log_dir_size_bytes);
        line("tickTime", &self.tick_time_ms);
        line("maxClientCnxns", &self.max_client_cnxns);
        line("minSessionTimeout", &self.session_timeout_ms_min);
        line("maxSessionTimeout", &self.session_timeout_ms_max);
        line("clientPortListenBacklog", &self.client_port_listen_backlog);
        line("serverId", &server_id);
        out
    }

    /// Asserts the invariants listed in the module doc.
    pub fn check_invariants(&self) {
        assert!(self.tick_time_ms > 0, "tick_time_ms is 0");
        assert!(self.client_port > 0, "client_port is 0");
        assert!(
            self.session_timeout_ms_min > 0,
            "session_timeout_ms_min is 0"
        );
        assert!(
            self.session_timeout_ms_min <= self.session_timeout_ms_max,
            "session_timeout_ms_min {} > session_timeout_ms_max {}",
            self.session_timeout_ms_min,
            self.session_timeout_ms_max
        );
        assert!(self.jute_max_buffer > 0, "jute_max_buffer is 0");
        for pair in self.servers.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "server ids not sorted and unique: {}",
                pair[1].id
            );
        }
        for server in &self.servers {
            assert!(
                server.peer_port != server.election_port,
                "server.{} ports equal",
                server.id
            );
        }
    }
}

/// `path` made absolute against the current directory, without resolving links (like Java's
/// `File.getAbsolutePath`). If the current directory is unknown, the path is returned as is.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(dir) => dir.join(path.strip_prefix(".").unwrap_or(path)),
        Err(_) => path.to_path_buf(),
    }
}

mod keys;
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> (Config, Vec<String>) {
        match Config::parse(text, "zoo.cfg") {
            Ok(parsed) => parsed,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match Config::parse(text, "zoo.cfg") {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(error) => error.to_string(),
        }
    }

    const MINIMAL: &str = "tickTime=2000\ndataDir=/var/zk\n";

    #[test]
    fn container_check_interval_is_read_under_zookeepers_property_name() {
        let (c, warnings) = parse_ok(
            "tickTime=2000\ndataDir=/d\nclientPort=2181\nznode.container.checkIntervalMs=1234\n",
        );
        assert_eq!(c.container_check_interval_ms, 1234);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(Config::default().container_check_interval_ms, 60_000);
        let e = parse_err("tickTime=2000\ndataDir=/d\nznode.container.checkIntervalMs=0\n");
        assert!(e.contains(":3:"), "{e}");
    }

    #[test]
    fn default_is_standalone_on_localhost_2181() {
        let c = Config::default();
        assert_eq!(c.client_port, 2181);
        assert_eq!(c.client_port_address, "127.0.0.1");
        assert_eq!(c.data_dir, PathBuf::from("./ferrokeeper-data"));
        assert_eq!(c.data_log_dir, c.data_dir);
        assert_eq!(
            (
                c.tick_time_ms,
                c.session_timeout_ms_min,
                c.session_timeout_ms_max
            ),
            (2000, 4000, 40000)
        );
        assert_eq!(c.max_client_cnxns, 60);
        assert_eq!(c.jute_max_buffer, 0xfffff);
        assert!(c.is_standalone());
        assert!(c.four_letter_whitelist.is_enabled("srvr"));
        assert!(!c.four_letter_whitelist.is_enabled("ruok"));
        c.check_invariants();
    }

    #[test]
    fn reads_the_zk_ref_generated_config() {
        let text = "# generated by zk-ref.sh\ntickTime=2000\ninitLimit=10\nsyncLimit=5\n\
            dataDir=/tmp/zkc/data\nclientPort=23381\nclientPortAddress=127.0.0.1\n\
            maxClientCnxns=0\n4lw.commands.whitelist=*\nsnapCount=100000\nforceSync=yes\n\
            autopurge.purgeInterval=0\nadmin.enableServer=false\n";
        let (c, warnings) = parse_ok(text);
        assert_eq!(c.client_port, 23381);
        assert_eq!(c.client_port_address, "127.0.0.1");
        assert_eq!(c.max_client_cnxns, 0);
        assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zkc/data"));
        assert!(c.four_letter_whitelist.is_enabled("mntr"));
        assert_eq!((c.init_limit_ticks, c.sync_limit_ticks), (10, 5));
        assert_eq!(
            warnings,
            vec![
                "zoo.cfg:13: ZooKeeper key 'admin.enableServer' is not used by ferrokeeper, \
                 ignored"
            ]
        );
        assert_eq!(
            c.ignored.get("admin.enableServer"),
            Some(&(13, "false".to_string()))
        );
    }

    #[test]
    fn bad_value_names_file_line_key_and_value() {
        let text = "dataDir=/d\n\n\n\n\n\ntickTime=abc\n";
        assert_eq!(
            parse_err(text),
            "zoo.cfg:7: tickTime: expected a positive integer, got 'abc'"
        );
        let text = "tickTime=2000\ndataDir=/d\nclientPort=70000\n";
        assert_eq!(
            parse_err(text),
            "zoo.cfg:3: clientPort: expected a port number 1..65535, got '70000'"
        );
        assert!(parse_err("tickTime=0\ndataDir=/d\n").starts_with("zoo.cfg:1: tickTime:"));
        assert!(parse_err("tickTime=1\ndataDir=/d\nforceSync=maybe").contains("'maybe'"));
        assert!(
            parse_err("tickTime=1\ndataDir=/d\nreconfigEnabled=yes").contains("'true' or 'false'")
        );
    }

    #[test]
    fn unknown_keys_warn_and_are_kept() {
        let (c, warnings) = parse_ok("tickTime=2000\ndataDir=/d\nclientPort=1\nfrobnicate = 3\n");
        assert_eq!(
            warnings,
            vec!["zoo.cfg:4: unknown key 'frobnicate', ignored"]
        );
        assert_eq!(c.ignored.get("frobnicate"), Some(&(4, "3".to_string())));
    }

    #[test]
    fn required_keys_match_zookeeper() {
        assert_eq!(parse_err("tickTime=2000\n"), "zoo.cfg: dataDir is not set");
        assert_eq!(parse_err("dataDir=/d\n"), "zoo.cfg: tickTime is not set");
        let (c, warnings) = parse_ok(MINIMAL);
        assert_eq!(
            c.client_port_address, "0.0.0.0",
            "no clientPortAddress: every interface"
        );
        assert_eq!(warnings, vec!["zoo.cfg: clientPort is not set, using 2181"]);
    }

    #[test]
    fn client_port_address_without_client_port_is_rejected() {
        let text = "tickTime=2000\ndataDir=/d\nclientPortAddress=10.0.0.1\n";
        let expected = "zoo.cfg:3: clientPortAddress is set but clientPort is not set";
        assert_eq!(parse_err(text), expected);
    }

    #[test]
    fn relative_data_dir_is_accepted_with_a_warning() {
        let (c, warnings) = parse_ok("tickTime=2000\ndataDir=data\nclientPort=1\n");
        assert_eq!(c.data_dir, PathBuf::from("data"));
        let expected = "zoo.cfg:2: dataDir 'data' is a relative path; it is resolved against the \
                        working directory";
        assert_eq!(warnings, vec![expected]);
    }

    #[test]
    fn session_timeouts_default_to_two_and_twenty_ticks() {
        let (c, _) = parse_ok("tickTime=500\ndataDir=/d\nclientPort=1\n");
        assert_eq!(
            (c.session_timeout_ms_min, c.session_timeout_ms_max),
            (1000, 10000)
        );
        let (c, _) =
            parse_ok("tickTime=500\ndataDir=/d\nminSessionTimeout=-1\nmaxSessionTimeout=60000");
        assert_eq!(
            (c.session_timeout_ms_min, c.session_timeout_ms_max),
            (1000, 60000)
        );
    }

    #[test]
    fn min_session_timeout_above_max_is_rejected() {
        let text = "tickTime=2000\ndataDir=/d\nminSessionTimeout=50000\n";
        assert_eq!(
            parse_err(text),
            "zoo.cfg:3: minSessionTimeout (50000) must not be larger than maxSessionTimeout (40000)"
        );
    }

    #[test]
    fn system_property_spellings_are_accepted() {
        let text = "tickTime=2000\ndataDir=/d\nclientPort=2181\n\
            zookeeper.DigestAuthenticationProvider.superDigest=super:abc=\n\
            zookeeper.extendedTypesEnabled=true\njute.maxbuffer=0x100000\nzookeeper.snapCount=50\n";
        let (c, warnings) = parse_ok(text);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.super_digest.as_deref(), Some("super:abc="));
        assert!(c.extended_types_enabled);
        assert_eq!(c.jute_max_buffer, 0x100000);
        assert_eq!(c.snap_count, 50);
        let (c, _) = parse_ok("tickTime=2000\ndataDir=/d\nclientPort=2181\nsuperDigest=super:x");
        assert_eq!(c.super_digest.as_deref(), Some("super:x"));
    }

    #[test]
    fn repeated_key_warns_and_last_value_wins() {
        let (c, warnings) = parse_ok("tickTime=1000\ndataDir=/d\nclientPort=1\ntickTime=3000\n");
        assert_eq!(c.tick_time_ms, 3000);
        assert_eq!(
            warnings,
            vec!["zoo.cfg:4: 'tickTime' is set again (first on line 1); the last value wins"]
        );
    }

    #[test]
    fn snap_retain_count_below_three_becomes_three() {
        let (c, warnings) =
            parse_ok("tickTime=1\ndataDir=/d\nclientPort=1\nautopurge.snapRetainCount=1");
        assert_eq!(c.autopurge_snap_retain_count, 3);
        assert_eq!(
            warnings,
            vec!["zoo.cfg:4: autopurge.snapRetainCount: 1 is below 3, using 3"]
        );
    }

    #[test]
    fn whitelist_parses_names_and_star() {
        let (w, unknown) = Whitelist::parse(" ruok, mntr ,,bogus");
        assert!(w.is_enabled("ruok") && w.is_enabled("mntr") && w.is_enabled("srvr"));
        assert!(!w.is_enabled("conf"));
        assert_eq!(unknown, vec!["bogus"]);
        let (w, _) = Whitelist::parse("*");
        assert!(FOUR_LETTER_WORDS.iter().all(|word| w.is_enabled(word)));
        assert!(w.all);
    }

    #[test]
    fn server_lines_are_parsed_and_sorted() {
        let text = "tickTime=2000\ndataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
            server.3=[::1]:2890:3890:observer;[::1]:2183\n\
            server.1=zk1:2888:3888\n\
            server.2=zk2:2889:3889:participant;2182\n";
        let (c, _) = parse_ok(text);
        assert!(!c.is_standalone());
        let ids: Vec<u64> = c.servers.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        let s1 = &c.servers[0];
        assert_eq!(
            (s1.host.as_str(), s1.peer_port, s1.election_port),
            ("zk1", 2888, 3888)
        );
        assert_eq!(
            (s1.role, s1.client.clone(), s1.line),
            (PeerRole::Participant, None, 7)
        );
        assert_eq!(c.servers[1].client, Some(("0.0.0.0".to_string(), 2182)));
        let s3 = &c.servers[2];
        assert_eq!((s3.host.as_str(), s3.role), ("::1", PeerRole::Observer));
        assert_eq!(s3.client, Some(("::1".to_string(), 2183)));
        assert_eq!(s3.raw, "[::1]:2890:3890:observer;[::1]:2183");
    }

    #[test]
    fn one_server_with_standalone_enabled_is_standalone() {
        let (c, _) = parse_ok("tickTime=2000\ndataDir=/d\nclientPort=1\nserver.1=h:1:2\n");
        assert!(c.is_standalone());
        let text =
            "tickTime=2000\ndataDir=/d\nclientPort=1\nserver.1=h:1:2\nstandaloneEnabled=false";
        assert_eq!(
            parse_err(text),
            "zoo.cfg: initLimit is not set (required with server.N)"
        );
    }

    #[test]
    fn read_consistency_and_read_only_mode_are_parsed() {
        let (c, _) = parse_ok("tickTime=2000\ndataDir=/d\nreadConsistency=linearizable\n");
        assert!(c.linearizable_reads);
        let (c, _) = parse_ok("tickTime=2000\ndataDir=/d\nreadonlymode.enabled=true\n");
        assert!(c.read_only_mode_enabled && !c.linearizable_reads);
        let err = parse_err("tickTime=2000\ndataDir=/d\nreadConsistency=strong\n");
        assert!(err.contains("'sequential' or 'linearizable'"), "{err}");
    }

    #[test]
    fn bad_server_lines_are_errors() {
        let base = "tickTime=2000\ndataDir=/d\nclientPort=1\ninitLimit=1\nsyncLimit=1\n";
        let err = parse_err(&format!("{base}server.1=h:2888\n"));
        assert!(
            err.starts_with("zoo.cfg:6: server.1: expected host:peerPort"),
            "{err}"
        );
        assert!(err.ends_with("got 'h:2888'"), "{err}");
        let err = parse_err(&format!("{base}server.1=h:2888:2888\n"));
        assert!(err.contains("must differ"), "{err}");
        let err = parse_err(&format!("{base}server.1=h:1:2:leader\n"));
        assert!(err.contains("participant or observer"), "{err}");
        let err = parse_err(&format!("{base}server.x=h:1:2\n"));
        assert_eq!(err, "zoo.cfg:6: server.x: the server id must be a number");
        let err = parse_err(&format!("{base}server.1=h:1:2\nserver.01=h:3:4\n"));
        assert_eq!(
            err,
            "zoo.cfg:7: server id 1 is listed twice (also on line 6)"
        );
    }

    #[test]
    fn render_conf_matches_zookeeper_standalone_layout() {
        let text = "tickTime=2000\ndataDir=/tmp/zkc/data\nclientPort=23381\nmaxClientCnxns=0\n";
        let (c, _) = parse_ok(text);
        // Captured from ZooKeeper 3.8.0 standalone (`conf`), with our dataDir and sizes.
        let expected = "clientPort=23381\nsecureClientPort=-1\ndataDir=/tmp/zkc/data\n\
            dataDirSize=457\ndataLogDir=/tmp/zkc/data\ndataLogSize=457\ntickTime=2000\n\
            maxClientCnxns=0\nminSessionTimeout=4000\nmaxSessionTimeout=40000\n\
            clientPortListenBacklog=-1\nserverId=0\n";
        assert_eq!(c.render_conf(457, 457), expected);
    }

    #[test]
    fn io_error_names_the_path() {
        let missing = Path::new("/nonexistent/ferrokeeper/zoo.cfg");
        let err = Config::load(missing).expect_err("missing file");
        assert!(err
            .to_string()
            .starts_with("/nonexistent/ferrokeeper/zoo.cfg: cannot read"));
    }

    #[test]
    fn metrics_endpoint_is_configured_by_either_key_or_the_provider_class() {
        let base = "tickTime=2000\ndataDir=/d\nclientPort=1\n";
        let (c, _) = parse_ok(base);
        assert_eq!(c.metrics_port, None, "no key: no endpoint");
        let (c, _) = parse_ok(&format!("{base}metricsPort=7001\n"));
        assert_eq!(c.metrics_port, Some(7001));
        assert_eq!(c.metrics_host, "0.0.0.0", "ZooKeeper's default httpHost");
        let text =
            format!("{base}metricsProvider.httpPort=7002\nmetricsProvider.httpHost=127.0.0.2\n");
        let (c, warnings) = parse_ok(&text);
        assert_eq!(c.metrics_port, Some(7002));
        assert_eq!(c.metrics_host, "127.0.0.2");
        assert!(warnings.is_empty(), "{warnings:?}");
        let class = "metricsProvider.className=\
            org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n";
        let (c, _) = parse_ok(&format!("{base}{class}"));
        assert_eq!(c.metrics_port, Some(7000), "the provider's default port");
        let other = "metricsProvider.className=org.example.Other\n";
        let (c, warnings) = parse_ok(&format!("{base}{other}"));
        assert_eq!(c.metrics_port, None);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(
            parse_err(&format!("{base}metricsPort=0\n")),
            "zoo.cfg:4: metricsPort: expected a port number 1..65535, got '0'"
        );
    }
}

//! The meaning of each `zoo.cfg` key: parsing, range checks and the rules across keys.
//!
//! Matches ZooKeeper 3.8's `QuorumPeerConfig.parseProperties` and
//! `QuorumPeer.QuorumServer.initializeWithAddressString`: `dataDir` and `tickTime` are required,
//! `dataLogDir` defaults to `dataDir`, the session timeouts default to 2 and 20 ticks, a
//! `autopurge.snapRetainCount` below 3 becomes 3, and a quorum needs `initLimit` and `syncLimit`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::properties::Entry;
use super::{Config, ConfigError, PeerRole, ServerEntry, Whitelist};

/// Keys ZooKeeper 3.8 understands that ferrokeeper does not use (whitespace separated). They
/// are warned about, not rejected, so a real `zoo.cfg` loads.
const KNOWN_UNUSED_KEYS: &str = "localSessionsEnabled localSessionsUpgradingEnabled \
    secureClientPort secureClientPortAddress observerMasterPort connectToLearnerMasterLimit \
    quorumListenOnAllIPs syncEnabled dynamicConfigFile sslQuorum portUnification \
    sslQuorumReloadCertFiles oraclePath electionPortBindRetry \
    serverCnxnFactory skipACL fsync.warningthresholdms snapSizeLimitInKb txnLogSizeLimitInKb \
    commitLogCount snapshot.trust.empty snapshot.compression.method maxCnxns maxBatchSize \
    requestThrottleLimit requestThrottleStallTime requestThrottleDropStale \
    learnerHandlerQuorumCnxnSocketBufferSize flushDelay maxWriteQueuePollTime \
    nettyServerCnxnFactory clientCnxnSocket enforceQuota digest.enabled audit.enable \
    closeSessionTxn.enabled cnxTimeout tcpKeepAlive clientTcpKeepAlive leaderServes \
    sessionRequireClientSASLAuth watchManagerName watcherCleanThreshold \
    watcherCleanIntervalInSeconds watcherCleanThreadsNum maxInProcessingDeadWatchers fips-mode \
    ensembleAuthName forceSnapshotSync emulate353TTLNodes superUser requireClientAuthScheme";

/// Key prefixes of ZooKeeper settings that ferrokeeper does not use (whitespace separated).
const KNOWN_UNUSED_PREFIXES: &str = "admin. ssl. quorum. metricsProvider. multiAddress. \
    authProvider. group. weight. netty. kerberos. jvm. connection_throttle_ zookeeper. learner. \
    leader. follower. observer. jute. fastleader. messageTracker. client.";

/// ZooKeeper's Prometheus provider; the only `metricsProvider.className` we serve.
const PROMETHEUS_PROVIDER_CLASS: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
/// `metricsProvider.httpPort`'s default in ZooKeeper's `PrometheusMetricsProvider`.
const PROMETHEUS_PORT_DEFAULT: u16 = 7000;

/// Accumulates entries in file order (a repeated key's last value wins, as in Properties).
pub(super) struct Builder {
    config: Config,
    warnings: Vec<String>,
    /// key → line where it was first set, to report repeats.
    seen: BTreeMap<String, usize>,
    line_of: BTreeMap<&'static str, usize>,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    tick_time_ms: Option<u32>,
    client_port: Option<u16>,
    /// `None` or -1 means "default from tickTime".
    session_timeout_ms_min: Option<i64>,
    session_timeout_ms_max: Option<i64>,
    /// id → (key as written, entry).
    servers: BTreeMap<u64, (String, ServerEntry)>,
    /// `metricsProvider.className` names the Prometheus provider.
    is_prometheus_provider: bool,
}

impl Builder {
    pub(super) fn new(source_name: &str) -> Builder {
        // As in ZooKeeper, a file without clientPortAddress binds every interface; only the
        // embedded default (no file at all) stays on the loopback address.
        let config = Config {
            source_name: source_name.to_string(),
            client_port_address: "0.0.0.0".to_string(),
            ..Config::default()
        };
        Builder {
            config,
            warnings: Vec::new(),
            seen: BTreeMap::new(),
            line_of: BTreeMap::new(),
            data_dir: None,
            data_log_dir: None,
            tick_time_ms: None,
            client_port: None,
            session_timeout_ms_min: None,
            session_timeout_ms_max: None,
            servers: BTreeMap::new(),
            is_prometheus_provider: false,
        }
    }

    fn bad(&self, entry: &Entry, expected: &str) -> ConfigError {
        ConfigError::BadValue {
            source_name: self.config.source_name.clone(),
            line: entry.line,
            key: entry.key.clone(),
            value: entry.value.clone(),
            expected: expected.to_string(),
        }
    }

    fn invalid(&self, line: Option<usize>, message: String) -> ConfigError {
        ConfigError::Invalid {
            source_name: self.config.source_name.clone(),
            line,
            message,
        }
    }

    fn warn(&mut self, line: usize, message: String) {
        self.warnings
            .push(format!("{}:{}: {}", self.config.source_name, line, message));
    }

    /// Applies one entry.
    pub(super) fn apply(&mut self, entry: &Entry) -> Result<(), ConfigError> {
        assert!(entry.line > 0, "line numbers are 1-based");
        if let Some(&first) = self.seen.get(&entry.key) {
            let message = format!(
                "'{}' is set again (first on line {first}); the last value wins",
                entry.key
            );
            self.warn(entry.line, message);
        } else {
            self.seen.insert(entry.key.clone(), entry.line);
        }
        if let Some(id) = entry.key.strip_prefix("server.") {
            return self.apply_server(entry, id);
        }
        // Keys ZooKeeper reads as system properties also work with the `zookeeper.` prefix.
        let key = match entry.key.strip_prefix("zookeeper.") {
            Some(short) if is_property_key(short) => short,
            _ => entry.key.as_str(),
        };
        self.apply_key(key, entry)
    }

    fn apply_key(&mut self, key: &str, entry: &Entry) -> Result<(), ConfigError> {
        match key {
            "tickTime" => {
                self.tick_time_ms =
                    Some(positive(entry).ok_or_else(|| self.bad(entry, "a positive integer"))?)
            }
            "dataDir" => self.data_dir = Some(self.path(entry)?),
            "dataLogDir" => self.data_log_dir = Some(self.path(entry)?),
            "clientPort" => self.client_port = Some(self.port(entry)?),
            "clientPortAddress" => {
                if entry.value.is_empty() {
                    return Err(self.bad(entry, "a host name or IP address"));
                }
                self.config.client_port_address = entry.value.clone();
                self.line_of.insert("clientPortAddress", entry.line);
            }
            "maxClientCnxns" => self.config.max_client_cnxns = self.non_negative(entry)?,
            "minSessionTimeout" => {
                self.session_timeout_ms_min = Some(self.timeout(entry)?);
                self.line_of.insert("minSessionTimeout", entry.line);
            }
            "maxSessionTimeout" => {
                self.session_timeout_ms_max = Some(self.timeout(entry)?);
                self.line_of.insert("maxSessionTimeout", entry.line);
            }
            "4lw.commands.whitelist" => {
                let (whitelist, unknown) = Whitelist::parse(&entry.value);
                self.config.four_letter_whitelist = whitelist;
                for name in unknown {
                    self.warn(
                        entry.line,
                        format!("{key}: unknown four-letter word '{name}', ignored"),
                    );
                }
            }
            "jute.maxbuffer" => {
                let value = java_decode(&entry.value).filter(|&v| v > 0 && v <= i32::MAX as i64);
                self.config.jute_max_buffer =
                    value.ok_or_else(|| self.bad(entry, "a positive integer"))? as u32;
            }
            "superDigest" | "DigestAuthenticationProvider.superDigest" => {
                // The value is "user:base64(sha1(user:password))".
                if !entry.value.contains(':') || entry.value.starts_with(':') {
                    return Err(self.bad(entry, "'user:digest'"));
                }
                self.config.super_digest = Some(entry.value.clone());
            }
            "extendedTypesEnabled" => self.config.extended_types_enabled = self.boolean(entry)?,
            // ZooKeeper reads this one as a system property (`znode.container.checkIntervalMs`);
            // here it may also stand in zoo.cfg.
            "znode.container.checkIntervalMs" => {
                let value = positive(entry).ok_or_else(|| self.bad(entry, "a positive integer"))?;
                self.config.container_check_interval_ms = u64::from(value);
            }
            "snapCount" => {
                let value = self.non_negative(entry)?;
                if value < 2 {
                    return Err(self.bad(entry, "an integer of at least 2"));
                }
                self.config.snap_count = value;
            }
            "autopurge.snapRetainCount" => {
                let value = self.non_negative(entry)?;
                self.config.autopurge_snap_retain_count = value.max(3);
                if value < 3 {
                    self.warn(entry.line, format!("{key}: {value} is below 3, using 3"));
                }
            }
            "autopurge.purgeInterval" => {
                self.config.autopurge_purge_interval_hours = self.non_negative(entry)?
            }
            "forceSync" => {
                self.config.force_sync = match entry.value.to_ascii_lowercase().as_str() {
                    "yes" | "true" => true,
                    "no" | "false" => false,
                    _ => return Err(self.bad(entry, "'yes' or 'no'")),
                }
            }
            "preAllocSize" => {
                self.config.pre_alloc_size_kb =
                    positive(entry).ok_or_else(|| self.bad(entry, "a positive integer (KB)"))?
            }
            "initLimit" => {
                self.config.init_limit_ticks =
                    positive(entry).ok_or_else(|| self.bad(entry, "a positive integer"))?
            }
            "syncLimit" => {
                self.config.sync_limit_ticks =
                    positive(entry).ok_or_else(|| self.bad(entry, "a positive integer"))?
            }
            "globalOutstandingLimit" => {
                self.config.global_outstanding_limit =
                    positive(entry).ok_or_else(|| self.bad(entry, "a positive integer"))?
            }
            "maxResponseCacheSize" => {
                self.config.max_response_cache_size = self.non_negative(entry)?
            }
            "clientPortListenBacklog" => {
                let value = entry.value.parse::<i32>().ok().filter(|&v| v >= -1);
                self.config.client_port_listen_backlog =
                    value.ok_or_else(|| self.bad(entry, "an integer >= -1"))?;
            }
            "standaloneEnabled" => self.config.standalone_enabled = self.boolean(entry)?,
            "reconfigEnabled" => self.config.reconfig_enabled = self.boolean(entry)?,
            "readConsistency" => {
                self.config.linearizable_reads = match entry.value.as_str() {
                    "sequential" => false,
                    "linearizable" => true,
                    _ => return Err(self.bad(entry, "'sequential' or 'linearizable'")),
                }
            }
            "readonlymode.enabled" | "zookeeper.readonlymode.enabled" => {
                self.config.read_only_mode_enabled = self.boolean(entry)?
            }
            "peerType" => {
                self.config.peer_type = match entry.value.to_ascii_lowercase().as_str() {
                    "participant" => PeerRole::Participant,
                    "observer" => PeerRole::Observer,
                    _ => return Err(self.bad(entry, "'participant' or 'observer'")),
                }
            }
            "metricsPort" | "metricsProvider.httpPort" => {
                self.config.metrics_port = Some(self.port(entry)?)
            }
            "metricsProvider.httpHost" => {
                if entry.value.is_empty() {
                    return Err(self.bad(entry, "a host name or IP address"));
                }
                self.config.metrics_host = entry.value.clone();
            }
            "metricsProvider.className" if entry.value == PROMETHEUS_PROVIDER_CLASS => {
                self.is_prometheus_provider = true
            }
            "electionAlg" => {
                if entry.value != "3" {
                    return Err(self.bad(entry, "3 (the only election algorithm)"));
                }
            }
            _ => self.ignore(entry),
        }
        Ok(())
    }

    /// Records a key we do not use, with a warning saying whether ZooKeeper knows it.
    fn ignore(&mut self, entry: &Entry) {
        let key = entry.key.as_str();
        let known = KNOWN_UNUSED_KEYS
            .split_whitespace()
            .any(|known| known == key)
            || KNOWN_UNUSED_PREFIXES
                .split_whitespace()
                .any(|prefix| key.starts_with(prefix));
        let message = if known {
            format!("ZooKeeper key '{key}' is not used by ferrokeeper, ignored")
        } else {
            format!("unknown key '{key}', ignored")
        };
        self.warn(entry.line, message);
        self.config
            .ignored
            .insert(entry.key.clone(), (entry.line, entry.value.clone()));
    }

    fn apply_server(&mut self, entry: &Entry, id: &str) -> Result<(), ConfigError> {
        let id: u64 = id.parse().map_err(|_| {
            self.invalid(
                Some(entry.line),
                format!("{}: the server id must be a number", entry.key),
            )
        })?;
        let server = parse_server(entry, id).map_err(|expected| self.bad(entry, &expected))?;
        // A repeated `server.N` key is an ordinary Properties repeat (the last one wins), but two
        // spellings of one id (`server.1`, `server.01`) are a mistake.
        if let Some((previous_key, previous)) = self.servers.get(&id) {
            if *previous_key != entry.key {
                let message = format!(
                    "server id {id} is listed twice (also on line {})",
                    previous.line
                );
                return Err(self.invalid(Some(entry.line), message));
            }
        }
        self.servers.insert(id, (entry.key.clone(), server));
        Ok(())
    }

    /// Applies the defaults and the rules across keys.
    pub(super) fn finish(mut self) -> Result<(Config, Vec<String>), ConfigError> {
        let name = self.config.source_name.clone();
        let data_dir = self
            .data_dir
            .take()
            .ok_or_else(|| self.invalid(None, "dataDir is not set".into()))?;
        let tick = self
            .tick_time_ms
            .ok_or_else(|| self.invalid(None, "tickTime is not set".into()))?;
        let c = &mut self.config;
        c.data_log_dir = self.data_log_dir.take().unwrap_or_else(|| data_dir.clone());
        c.data_dir = data_dir;
        c.tick_time_ms = tick;
        c.session_timeout_ms_min =
            default_timeout(self.session_timeout_ms_min, tick.saturating_mul(2));
        c.session_timeout_ms_max =
            default_timeout(self.session_timeout_ms_max, tick.saturating_mul(20));
        if c.session_timeout_ms_min > c.session_timeout_ms_max {
            let message = format!(
                "minSessionTimeout ({}) must not be larger than maxSessionTimeout ({})",
                c.session_timeout_ms_min, c.session_timeout_ms_max
            );
            let line = self
                .line_of
                .get("minSessionTimeout")
                .or(self.line_of.get("maxSessionTimeout"));
            return Err(ConfigError::Invalid {
                source_name: name,
                line: line.copied(),
                message,
            });
        }
        if self.is_prometheus_provider && c.metrics_port.is_none() {
            c.metrics_port = Some(PROMETHEUS_PORT_DEFAULT);
        }
        c.servers = std::mem::take(&mut self.servers)
            .into_values()
            .map(|(_, s)| s)
            .collect();
        match self.client_port {
            Some(port) => c.client_port = port,
            None if self.line_of.contains_key("clientPortAddress") => {
                let line = self.line_of.get("clientPortAddress").copied();
                let message = "clientPortAddress is set but clientPort is not set".to_string();
                return Err(ConfigError::Invalid {
                    source_name: name,
                    line,
                    message,
                });
            }
            None if c.servers.iter().any(|s| s.client.is_some()) => {
                // TODO(#cluster): take this server's client port from its server.N entry.
            }
            None => self
                .warnings
                .push(format!("{name}: clientPort is not set, using 2181")),
        }
        let c = &self.config;
        if !c.servers.is_empty() && !c.is_standalone() {
            if c.init_limit_ticks == 0 {
                return Err(
                    self.invalid(None, "initLimit is not set (required with server.N)".into())
                );
            }
            if c.sync_limit_ticks == 0 {
                return Err(
                    self.invalid(None, "syncLimit is not set (required with server.N)".into())
                );
            }
        }
        Ok((self.config, self.warnings))
    }

    fn path(&mut self, entry: &Entry) -> Result<PathBuf, ConfigError> {
        if entry.value.is_empty() {
            return Err(self.bad(entry, "a directory path"));
        }
        let path = PathBuf::from(&entry.value);
        // ZooKeeper warns about relative paths too (VerifyingFileFactory.warnForRelativePath).
        if path.is_relative() {
            let message = format!(
                "{} '{}' is a relative path; it is resolved against the working directory",
                entry.key, entry.value
            );
            self.warn(entry.line, message);
        }
        Ok(path)
    }

    fn port(&self, entry: &Entry) -> Result<u16, ConfigError> {
        parse_port(&entry.value).ok_or_else(|| self.bad(entry, "a port number 1..65535"))
    }

    fn non_negative(&self, entry: &Entry) -> Result<u32, ConfigError> {
        let value = entry
            .value
            .parse::<u32>()
            .ok()
            .filter(|&v| v <= i32::MAX as u32);
        value.ok_or_else(|| self.bad(entry, "a non-negative integer"))
    }

    fn timeout(&self, entry: &Entry) -> Result<i64, ConfigError> {
        let value = entry
            .value
            .parse::<i64>()
            .ok()
            .filter(|&v| v == -1 || (1..=i32::MAX as i64).contains(&v));
        value.ok_or_else(|| {
            self.bad(
                entry,
                "a positive number of milliseconds (or -1 for the default)",
            )
        })
    }

    fn boolean(&self, entry: &Entry) -> Result<bool, ConfigError> {
        match entry.value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.bad(entry, "'true' or 'false'")),
        }
    }
}

/// Keys ZooKeeper reads via `System.getProperty("zookeeper.<key>")`, so `zookeeper.<key>` means
/// the same as `<key>`.
fn is_property_key(short: &str) -> bool {
    matches!(
        short,
        "4lw.commands.whitelist"
            | "jute.maxbuffer"
            | "DigestAuthenticationProvider.superDigest"
            | "extendedTypesEnabled"
            | "snapCount"
            | "forceSync"
            | "preAllocSize"
            | "globalOutstandingLimit"
            | "maxResponseCacheSize"
    )
}

fn positive(entry: &Entry) -> Option<u32> {
    entry
        .value
        .parse::<u32>()
        .ok()
        .filter(|&v| v > 0 && v <= i32::MAX as u32)
}

fn default_timeout(configured: Option<i64>, default_ms: u32) -> u32 {
    match configured {
        Some(ms) if ms > 0 => u32::try_from(ms).unwrap_or(u32::MAX),
        _ => default_ms,
    }
}

fn parse_port(text: &str) -> Option<u16> {
    text.trim().parse::<u16>().ok().filter(|&port| port > 0)
}

/// Java's `Integer.decode`: decimal, `0x`/`0X`/`#` hex, or octal with a leading `0`.
fn java_decode(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if let Some(hex) = digits.strip_prefix('#') {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let value = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -value } else { value })
}

/// ZooKeeper's `ConfigUtils.getHostAndPort`: `[v6addr]:a:b` or `host:a:b`.
fn split_host_and_ports(text: &str) -> Result<Vec<String>, String> {
    if let Some(rest) = text.strip_prefix('[') {
        let close = rest.find(']').ok_or("an IPv6 address closed by ']'")?;
        let mut parts = vec![rest[..close].to_string()];
        let after = &rest[close + 1..];
        let ports = after.strip_prefix(':').ok_or("':' and a port after ']'")?;
        parts.extend(ports.split(':').map(str::to_string));
        return Ok(parts);
    }
    Ok(text.split(':').map(str::to_string).collect())
}

/// Parses a `server.N` value; Err is the "expected ..." text.
fn parse_server(entry: &Entry, id: u64) -> Result<ServerEntry, String> {
    const FORMAT: &str =
        "host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort]";
    let mut halves = entry.value.split(';');
    let server_part = halves.next().unwrap_or_default();
    let client_part = halves.next();
    if halves.next().is_some() || server_part.contains('|') {
        // '|' separates multiple addresses, which ZooKeeper only allows with multiAddress.
        return Err(FORMAT.to_string());
    }
    let parts = split_host_and_ports(server_part.trim()).map_err(|e| format!("{FORMAT} ({e})"))?;
    if !(3..=4).contains(&parts.len()) || parts[0].is_empty() {
        return Err(FORMAT.to_string());
    }
    let peer_port = parse_port(&parts[1]).ok_or(format!("{FORMAT} (bad peer port)"))?;
    let election_port = parse_port(&parts[2]).ok_or(format!("{FORMAT} (bad election port)"))?;
    if peer_port == election_port {
        return Err(format!("{FORMAT} (peer and election ports must differ)"));
    }
    let role = match parts.get(3).map(|r| r.to_ascii_lowercase()) {
        None => PeerRole::Participant,
        Some(r) if r == "participant" => PeerRole::Participant,
        Some(r) if r == "observer" => PeerRole::Observer,
        Some(_) => return Err(format!("{FORMAT} (role must be participant or observer)")),
    };
    let client = match client_part.map(str::trim) {
        None => None,
        Some(client) => {
            let pieces = split_host_and_ports(client).map_err(|e| format!("{FORMAT} ({e})"))?;
            let (host, port) = match pieces.as_slice() {
                [port] => ("0.0.0.0".to_string(), port),
                [host, port] if !host.is_empty() => (host.clone(), port),
                _ => return Err(FORMAT.to_string()),
            };
            Some((
                host,
                parse_port(port).ok_or(format!("{FORMAT} (bad client port)"))?,
            ))
        }
    };
    Ok(ServerEntry {
        line: entry.line,
        raw: entry.value.clone(),
        id,
        host: parts[0].clone(),
        peer_port,
        election_port,
        role,
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_decode_matches_integer_decode() {
        assert_eq!(java_decode("1048575"), Some(1048575));
        assert_eq!(java_decode("0xfffff"), Some(0xfffff));
        assert_eq!(java_decode("#ff"), Some(255));
        assert_eq!(java_decode("010"), Some(8));
        assert_eq!(java_decode("0"), Some(0));
        assert_eq!(java_decode("-5"), Some(-5));
        assert_eq!(java_decode("0x"), None);
        assert_eq!(java_decode("abc"), None);
    }

    #[test]
    fn host_and_ports_split_like_config_utils() {
        assert_eq!(
            split_host_and_ports("h:1:2").expect("ok"),
            vec!["h", "1", "2"]
        );
        assert_eq!(
            split_host_and_ports("[::1]:1:2").expect("ok"),
            vec!["::1", "1", "2"]
        );
        assert!(split_host_and_ports("[::1").is_err());
    }
}

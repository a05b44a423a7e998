//! One member of a dynamic configuration: `QuorumPeer.QuorumServer`'s parsing of a
//! `server.N` value and its `toString`, with the Java string and number rules they rest on
//! (see the parent module for what we refuse that 3.8 accepts).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ReconfigError;
use crate::config::PeerRole;

/// `QuorumServer.wrongFormat`, appended to the offending text.
const WRONG_FORMAT: &str = " does not have the form server_config or server_config;client_config \
     where server_config is the pipe separated list of host:port:port or host:port:port:type \
     and client_config is port or host:port";

/// One member of the ensemble: a `server.<id>=<value>` line (`QuorumPeer.QuorumServer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    pub id: u64,
    /// As ZooKeeper prints it: an IP literal in Java's form (IPv6 uncompressed, IPv4-mapped
    /// IPv6 as IPv4, no brackets), any other name verbatim.
    pub host: String,
    /// The port followers use to reach the leader ("quorum port").
    pub quorum_port: u16,
    pub election_port: u16,
    pub role: PeerRole,
    /// `None` when the value has no `;client` part; a bare port means host `0.0.0.0`.
    pub client: Option<(String, u16)>,
}

/// Why a server value was refused, split the way ZooKeeper's leader answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// ZooKeeper throws `ConfigException` (or we refuse an accident of Java): BadArguments.
    Format(String),
    /// ZooKeeper hits a Java runtime exception (`NumberFormatException`,
    /// `IllegalArgumentException`, an index out of bounds): MarshallingError.
    Runtime(String),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Format(m) | SpecError::Runtime(m) => f.write_str(m),
        }
    }
}

impl ServerSpec {
    /// Parses the value of `server.<id>=` as `QuorumServer(id, value)` does.
    pub fn parse(id: u64, value: &str) -> Result<ServerSpec, SpecError> {
        if id == 0 {
            return Err(SpecError::Format("server id 0 is not positive".to_string()));
        }
        let halves = java_split(value, ';');
        let Some(server_part) = halves.first() else {
            return Err(SpecError::Runtime(format!("'{value}' has no server part")));
        };
        let client = match halves.len() {
            2 => Some(parse_client(value, halves[1])?),
            _ => None,
        };
        let addresses = java_split(server_part, '|');
        if addresses.len() > 1 {
            return Err(SpecError::Format(format!(
                "Multiple address feature is disabled, but multiple addresses were specified \
                 for sid {id}"
            )));
        }
        let Some(address) = addresses.first() else {
            return Err(SpecError::Format(format!(
                "'{value}' has no server address"
            )));
        };
        let parts = host_and_port(address)?;
        if halves.len() > 2 || !(3..=4).contains(&parts.len()) {
            return Err(SpecError::Format(format!("{value}{WRONG_FORMAT}")));
        }
        let host = java_host(&parts[0])?;
        let quorum_port = parse_port(&host, &parts[1])?;
        let election_port = parse_port(&host, &parts[2])?;
        if quorum_port == election_port {
            return Err(SpecError::Format(format!(
                "Client and election port must be different! Please update the configuration \
                 file on server.{id}"
            )));
        }
        let role = match parts.get(3) {
            None => PeerRole::Participant,
            Some(text) => parse_role(text)?,
        };
        let spec = ServerSpec {
            id,
            host,
            quorum_port,
            election_port,
            role,
            client,
        };
        assert!(
            spec.quorum_port != spec.election_port,
            "ports equal in {spec}"
        );
        Ok(spec)
    }

    /// Parses a whole `server.<id>=<value>` line (blanks around `=` allowed).
    pub fn parse_line(line: &str) -> Result<ServerSpec, SpecError> {
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| SpecError::Format(format!("'{line}' is not server.<id>=<value>")))?;
        let id = key.trim().strip_prefix("server.").ok_or_else(|| {
            SpecError::Format(format!("'{}' does not start with server.", key.trim()))
        })?;
        ServerSpec::parse(server_id(id)?, value.trim())
    }

    /// The whole line as `/zookeeper/config` holds it: `server.<id>=<value>`.
    pub fn line(&self) -> String {
        format!("server.{}={self}", self.id)
    }

    /// This server's addresses that name one machine and port: IP literals other than
    /// loopback and wildcard, in `QuorumServer.myAddrs` order (quorum, client, election).
    /// ZooKeeper also resolves host names; we cannot without I/O, so names never conflict.
    fn conflict_addresses(&self) -> Vec<(IpAddr, u16)> {
        let client = self.client.as_ref().map(|(h, p)| (h.as_str(), *p));
        [Some((self.host.as_str(), self.quorum_port)), client]
            .into_iter()
            .chain([Some((self.host.as_str(), self.election_port))])
            .flatten()
            .filter_map(|(host, port)| Some((host.parse::<IpAddr>().ok()?, port)))
            .filter(|(ip, _)| !ip.is_loopback() && !ip.is_unspecified())
            .collect()
    }

    /// `QuorumServer.checkAddressDuplicate`: the first address of ours another server uses.
    pub(super) fn check_address_duplicate(&self, other: &ServerSpec) -> Result<(), ReconfigError> {
        let theirs = other.conflict_addresses();
        for mine in self.conflict_addresses() {
            if theirs.contains(&mine) {
                let at = java_socket_string(mine);
                return Err(ReconfigError::BadArguments(format!(
                    "{at} of server.{} conflicts {at} of server.{}",
                    self.id, other.id
                )));
            }
        }
        Ok(())
    }
}

/// `QuorumServer.toString`: `host:quorum:election:role[;clientHost:clientPort]`.
impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            PeerRole::Participant => "participant",
            PeerRole::Observer => "observer",
        };
        let host = delimited(&self.host);
        write!(
            f,
            "{host}:{}:{}:{role}",
            self.quorum_port, self.election_port
        )?;
        if let Some((client_host, client_port)) = &self.client {
            write!(f, ";{}:{client_port}", delimited(client_host))?;
        }
        Ok(())
    }
}

/// `QuorumServer.delimitedHostString`: IPv6 literals go in brackets.
fn delimited(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `InetSocketAddress.toString` for a literal: `/1.2.3.4:80` or `/[::…]:80`.
fn java_socket_string((ip, port): (IpAddr, u16)) -> String {
    format!("/{}:{port}", delimited(&java_ip(ip)))
}

/// The client part after `;`: `port` (host `0.0.0.0`) or `host:port`.
fn parse_client(value: &str, text: &str) -> Result<(String, u16), SpecError> {
    let parts = host_and_port(text)?;
    if parts.len() > 2 {
        return Err(SpecError::Format(format!("{value}{WRONG_FORMAT}")));
    }
    let (host, port) = match parts.as_slice() {
        [port] => ("0.0.0.0".to_string(), port),
        [host, port] => (java_host(host)?, port),
        // Java indexes parts[-1] here, an ArrayIndexOutOfBoundsException.
        _ => {
            return Err(SpecError::Runtime(format!(
                "client part '{text}' has no port"
            )))
        }
    };
    Ok((host.clone(), parse_port(&host, port)?))
}

/// `ConfigUtils.getHostAndPort`: split at `:`, except inside a leading `[...]`.
fn host_and_port(text: &str) -> Result<Vec<String>, SpecError> {
    let Some(rest) = text.strip_prefix('[') else {
        return Ok(java_split(text, ':')
            .into_iter()
            .map(String::from)
            .collect());
    };
    let close = rest.find(']').ok_or_else(|| {
        SpecError::Format(format!("{text} starts with '[' but has no matching ']:'"))
    })?;
    let (inside, after) = (&rest[..close], &rest[close + 1..]);
    match after.strip_prefix(':') {
        Some("") => Err(SpecError::Format(format!(
            "{text} doesn't have a port after colon"
        ))),
        Some(ports) => {
            let mut parts = vec![inside.to_string()];
            parts.extend(java_split(ports, ':').into_iter().map(String::from));
            Ok(parts)
        }
        None if after.is_empty() => Ok(vec![inside.to_string()]),
        // ZooKeeper skips whatever character follows ']' without looking at it.
        None => Err(SpecError::Format(format!("{text}: expected ':' after ']'"))),
    }
}

/// The host string Java keeps for `new InetSocketAddress(host, port)`: literals normalised,
/// names verbatim, and "" as `localhost` (Java's `getByName("")` is the loopback address).
fn java_host(host: &str) -> Result<String, SpecError> {
    if host.is_empty() {
        return Ok("localhost".to_string());
    }
    if host.chars().any(|c| c.is_control() || c == '\\') {
        // ZooKeeper would store it, and the line break or escape would corrupt the config text.
        return Err(SpecError::Format(format!(
            "host {host:?} contains a control character or '\\'"
        )));
    }
    if host.contains(':') {
        let ip = host
            .parse::<Ipv6Addr>()
            .map_err(|_| SpecError::Format(format!("'{host}' is not a valid IPv6 address")))?;
        return Ok(java_ip(IpAddr::V6(ip)));
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // Java reads `127.1` as 127.0.0.1 and `010.0.0.1` as 10.0.0.1; we ask for the plain form.
        let ip = host.parse::<Ipv4Addr>().map_err(|_| {
            SpecError::Format(format!("'{host}' is not a dotted-quad IPv4 address"))
        })?;
        return Ok(ip.to_string());
    }
    Ok(host.to_string())
}

/// `InetAddress.getHostAddress`: IPv6 as eight hex groups, no `::`; IPv4-mapped as IPv4.
fn java_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
                groups.join(":")
            }
        },
    }
}

/// `Integer.parseInt` then `InetSocketAddress`'s range check, with ZooKeeper's messages.
fn parse_port(host: &str, text: &str) -> Result<u16, SpecError> {
    let port = java_parse_long(text)
        .filter(|&p| i32::try_from(p).is_ok())
        .ok_or_else(|| SpecError::Format(format!("Address unresolved: {host}:{text}")))?;
    u16::try_from(port).map_err(|_| SpecError::Runtime(format!("port out of range:{port}")))
}

/// `QuorumServer.getType`.
fn parse_role(text: &str) -> Result<PeerRole, SpecError> {
    match text.trim().to_lowercase().as_str() {
        "participant" => Ok(PeerRole::Participant),
        "observer" => Ok(PeerRole::Observer),
        _ => Err(SpecError::Format(format!("Unrecognised peertype: {text}"))),
    }
}

/// A server id as ZooKeeper reads one (`Long.parseLong`), refusing the ids it allows but Raft
/// cannot use: 0 is `NodeId`'s "nobody", and a negative id has no `u64`.
pub(super) fn server_id(text: &str) -> Result<u64, SpecError> {
    let id = java_parse_long(text)
        .ok_or_else(|| SpecError::Runtime(format!("For input string: \"{text}\"")))?;
    match u64::try_from(id) {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(SpecError::Format(format!("server id {id} is not positive"))),
    }
}

/// `Long.parseLong`: an optional sign, then ASCII digits, within `i64`.
pub(super) fn java_parse_long(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Java's `String.split` on one character: trailing empty pieces are dropped, and "" is [""].
fn java_split(text: &str, separator: char) -> Vec<&str> {
    if text.is_empty() {
        return vec![""];
    }
    let mut pieces: Vec<&str> = text.split(separator).collect();
    while pieces.last() == Some(&"") {
        pieces.pop();
    }
    pieces
}

/// ZooKeeper's `StringUtils.split`: split, trim each piece, drop the empty ones.
pub(super) fn zk_split(text: &str, separator: char) -> Vec<&str> {
    text.split(separator)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

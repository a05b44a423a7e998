//! Dynamic reconfiguration (opcode 16) as ZooKeeper 3.5–3.8 defines it, with no I/O and no
//! clock: the member list and its text in `/zookeeper/config`, the leader's checks on a
//! `ReconfigRequest`, and the single-server Raft steps that carry out an accepted change.
//!
//! Sources, read for behaviour and checked against a live 3.8.0 ensemble (zk-ref.sh
//! start-ensemble with reconfigEnabled=true, driven by kazoo and zkCli): `QuorumPeer.QuorumServer` (parsing and
//! `toString` of one `server.N` value), `QuorumMaj.toString` (the stored text),
//! `PrepRequestProcessor.pRequest2Txn` case `OpCode.reconfig` (the checks, in order),
//! `QuorumPeerConfig.parseDynamicConfig` (bulk mode) and `Leader.isQuorumSynced`.
//!
//! Where ZooKeeper accepts text by accident of Java (`[::1]x2888`, `127.1`, `server.-1`,
//! `host|` lists with no address) we refuse it with a message naming the problem; everything
//! else that 3.8 accepts, we accept and print the way 3.8 prints it. Invariants: a
//! `ClusterConfig` maps each id to the spec with that id, and no id is 0 (Raft's `NodeId(0)`
//! means "nobody").

// The server wires this module into request handling next; until then nothing calls it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use raft::{ConfChange, Membership, NodeId};
use wire::{ErrorCode, ReconfigRequest};

use crate::config::PeerRole;

mod spec;
use spec::{java_parse_long, server_id, zk_split};
pub use spec::{ServerSpec, SpecError};

/// The members and version of the ensemble, as stored in `/zookeeper/config`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Invariant: each key is its spec's id, and no key is 0.
    pub members: BTreeMap<u64, ServerSpec>,
    /// The zxid of the reconfig txn that made this config (the first config: the zxid at which
    /// the leader started, e.g. `0x100000000`); printed in hex. 0 on a target not yet logged.
    pub version: u64,
}

/// Bad `/zookeeper/config` text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

/// What the leader knows when it prepares a reconfig: the state ZooKeeper's
/// `PrepRequestProcessor` reads from `QuorumPeer`, `Leader` and the session.
#[derive(Clone, Debug)]
pub struct LeaderView<'a> {
    /// `reconfigEnabled` in zoo.cfg.
    pub reconfig_enabled: bool,
    /// No quorum is configured (ZooKeeper answers Unimplemented).
    pub is_standalone: bool,
    /// `standaloneEnabled` in zoo.cfg: then a config needs at least 2 participants.
    pub standalone_enabled: bool,
    /// A proposed config is not committed yet (ZooKeeper: last seen version != current).
    pub is_change_in_progress: bool,
    pub leader_id: u64,
    /// Servers connected to the leader and synced with it, including joiners not yet in any
    /// config; only those that vote in the target count. The leader counts itself. ZooKeeper
    /// counts its synced followers (`LearnerHandler.synced()`), not its observers, so an
    /// observer being promoted is not counted there. `None`: the caller has no such view
    /// (a replica applying the change from the log) and every server counts as synced;
    /// Raft's learners then catch up before they vote, so none can stall commits.
    pub synced: Option<&'a BTreeSet<u64>>,
    /// The session may write `/zookeeper/config`: WRITE in its ACL (world has only READ by
    /// default), the `super` digest, or `skipACL`.
    pub may_write_config: bool,
}

/// Why a reconfig was refused; `code()` is the reply's error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReconfigError {
    Disabled,
    Unimplemented,
    InProgress,
    BadVersion {
        from_config: i64,
        last_seen: u64,
    },
    /// With ZooKeeper's message (it reaches the log only; the wire carries the code).
    BadArguments(String),
    /// ZooKeeper's answer when its leader hits a Java runtime exception; kept for
    /// compatibility, with the exception's text.
    Marshalling(String),
    NewConfigNoQuorum,
    NoAuth,
}

impl ReconfigError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ReconfigError::Disabled => ErrorCode::ReconfigDisabled,
            ReconfigError::Unimplemented => ErrorCode::Unimplemented,
            ReconfigError::InProgress => ErrorCode::ReconfigInProgress,
            ReconfigError::BadVersion { .. } => ErrorCode::BadVersion,
            ReconfigError::BadArguments(_) => ErrorCode::BadArguments,
            ReconfigError::Marshalling(_) => ErrorCode::MarshallingError,
            ReconfigError::NewConfigNoQuorum => ErrorCode::NewConfigNoQuorum,
            ReconfigError::NoAuth => ErrorCode::NoAuth,
        }
    }
}

impl fmt::Display for ReconfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconfigError::BadVersion { from_config, last_seen } => write!(
                f,
                "Reconfiguration from version {from_config} failed -- last seen version is \
                 {last_seen}"
            ),
            ReconfigError::BadArguments(m) | ReconfigError::Marshalling(m) => {
                write!(f, "{}: {m}", self.code().message())
            }
            ReconfigError::NewConfigNoQuorum => f.write_str(
                "Reconfig failed - there must be a connected and synced quorum in new configuration",
            ),
            _ => f.write_str(self.code().message()),
        }
    }
}

impl std::error::Error for ReconfigError {}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/zookeeper/config line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TextError {}

/// One `key=value` entry of dynamic-config text.
struct Entry {
    /// 1-based.
    line: usize,
    key: String,
    value: String,
}

/// `key=value` lines in the subset of `java.util.Properties` that dynamic configs use: `#` and
/// `!` comments, blank lines, and a key ending at the first `=`, `:` or blank. Backslash escapes
/// and continuations are refused rather than half-supported.
fn properties(text: &str) -> Result<Vec<Entry>, TextError> {
    let blank = |c: char| c == ' ' || c == '\t' || c == '\x0c';
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_start_matches(blank);
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        if line.contains('\\') {
            let message = format!("backslash escapes are not supported: '{line}'");
            return Err(TextError {
                line: index + 1,
                message,
            });
        }
        let end = line
            .find(|c: char| c == '=' || c == ':' || blank(c))
            .unwrap_or(line.len());
        let rest = line[end..].trim_start_matches(blank);
        let rest = rest
            .strip_prefix(['=', ':'])
            .unwrap_or(rest)
            .trim_start_matches(blank);
        let (key, value) = (line[..end].to_string(), rest.to_string());
        entries.push(Entry {
            line: index + 1,
            key,
            value,
        });
    }
    Ok(entries)
}

/// The order Java's `HashMap<Long, _>` walks `ids`, which is the order ZooKeeper prints the
/// `server.N` lines (`QuorumMaj.allMembers` is a HashMap): by bucket, `spread(hash) & (cap-1)`.
/// Ids below 16 therefore come out ascending, but 16 comes before 1 (checked on 3.8.0).
/// Within a bucket Java keeps insertion order; we use id order. Capacity is that of a map
/// grown by inserts (16, doubled past 3/4 full); a map copied at 12 entries, or one that
/// once held more members than now, can be larger in Java.
fn java_hash_order<'a>(ids: impl Iterator<Item = &'a u64>, count: usize) -> Vec<u64> {
    let mut capacity: u64 = 16;
    while count as u64 > capacity / 4 * 3 {
        capacity *= 2;
    }
    let bucket = |id: u64| {
        let hash = (id ^ (id >> 32)) as u32; // Long.hashCode
        u64::from(hash ^ (hash >> 16)) & (capacity - 1) // HashMap.hash, then the index
    };
    let mut order: Vec<u64> = ids.copied().collect();
    order.sort_by_key(|&id| (bucket(id), id));
    assert!(order.len() == count, "{} ids, count {count}", order.len());
    order
}

impl ClusterConfig {
    /// The exact bytes ZooKeeper stores in `/zookeeper/config` (`QuorumMaj.toString`): one
    /// `server.N=…\n` line per member in Java's HashMap order, then `version=<hex>` with no
    /// newline after it.
    pub fn render(&self) -> String {
        format!("{}version={:x}", self.members_text(), self.version)
    }

    /// `render` without the version line: what a `SetConfig` txn carries (the tree appends
    /// the version, the txn's zxid).
    pub fn members_text(&self) -> String {
        self.check_invariants();
        let mut text = String::new();
        for id in java_hash_order(self.members.keys(), self.members.len()) {
            text.push_str(&self.members[&id].line());
            text.push('\n');
        }
        text
    }

    /// The members `server.N` lines of zoo.cfg name (version 0).
    pub fn from_servers(
        servers: &[crate::config::ServerEntry],
    ) -> Result<ClusterConfig, SpecError> {
        let mut config = ClusterConfig::default();
        for entry in servers {
            let spec = ServerSpec::parse(entry.id, &entry.raw)?;
            config.members.insert(spec.id, spec);
        }
        Ok(config)
    }

    /// Reads `render`'s text back (and ZooKeeper's: any line order, a missing version is 0).
    pub fn parse(text: &str) -> Result<ClusterConfig, TextError> {
        let mut config = ClusterConfig::default();
        let mut has_version = false;
        for Entry { line, key, value } in properties(text)? {
            let error = |message: String| TextError { line, message };
            if key == "version" {
                if has_version {
                    return Err(error("version is listed twice".to_string()));
                }
                has_version = true;
                config.version = u64::from_str_radix(&value, 16)
                    .map_err(|_| error(format!("version '{value}' is not hexadecimal")))?;
                continue;
            }
            let id = key
                .strip_prefix("server.")
                .ok_or_else(|| error(format!("unexpected key '{key}'")))?;
            let id = server_id(id).map_err(|e| error(format!("{key}: {e}")))?;
            let spec = ServerSpec::parse(id, &value).map_err(|e| error(format!("{key}: {e}")))?;
            if config.members.insert(id, spec).is_some() {
                return Err(error(format!("server.{id} is listed twice")));
            }
        }
        config.check_invariants();
        Ok(config)
    }

    /// Ids of the participants, the servers whose votes count.
    pub fn voters(&self) -> BTreeSet<u64> {
        self.members
            .values()
            .filter(|s| s.role == PeerRole::Participant)
            .map(|s| s.id)
            .collect()
    }

    /// The same servers as Raft sees them: participants vote, observers are learners.
    pub fn membership(&self) -> Membership {
        let voters = self.voters();
        let learners = self
            .members
            .keys()
            .filter(|id| !voters.contains(id))
            .copied();
        Membership {
            voters: voters.iter().map(|&id| NodeId(id)).collect(),
            learners: learners.map(NodeId).collect(),
        }
    }

    pub fn check_invariants(&self) {
        for (id, spec) in &self.members {
            assert!(*id == spec.id, "members key {id} holds server.{}", spec.id);
            assert!(*id != 0, "server id 0 in a ClusterConfig");
        }
    }
}

/// The leader's checks on a `ReconfigRequest`, in `PrepRequestProcessor`'s order, giving the
/// target config (version 0: the caller sets it to the txn's zxid) or ZooKeeper's error.
/// `current` is the last config the leader has seen. A non-null `new_members` (even "")
/// makes the change non-incremental, as in ZooKeeper.
pub fn plan(
    current: &ClusterConfig,
    request: &ReconfigRequest,
    view: &LeaderView<'_>,
) -> Result<ClusterConfig, ReconfigError> {
    current.check_invariants();
    if !view.reconfig_enabled {
        return Err(ReconfigError::Disabled);
    }
    if view.is_standalone {
        return Err(ReconfigError::Unimplemented);
    }
    if view.is_change_in_progress {
        return Err(ReconfigError::InProgress);
    }
    let from_config = request.cur_config_id;
    if from_config != -1 && u64::try_from(from_config) != Ok(current.version) {
        return Err(ReconfigError::BadVersion {
            from_config,
            last_seen: current.version,
        });
    }
    let members = match &request.new_members {
        None => apply_incremental(
            current,
            request.joining_servers.as_deref().unwrap_or(""),
            request.leaving_servers.as_deref().unwrap_or(""),
        )?,
        Some(new_members) => parse_new_members(new_members, view.standalone_enabled)?,
    };
    let target = ClusterConfig {
        members,
        version: 0,
    };
    check_target(&target, view)?;
    target.check_invariants();
    Ok(target)
}

/// Incremental mode: remove every leaving id, then add or replace each joiner (a joiner with
/// an existing id replaces it: that is how ZooKeeper changes a server's ports or role).
fn apply_incremental(
    current: &ClusterConfig,
    joining: &str,
    leaving: &str,
) -> Result<BTreeMap<u64, ServerSpec>, ReconfigError> {
    let mut next = current.members.clone();
    for id in zk_split(leaving, ',') {
        // Ids that are not members are ignored, as in ZooKeeper (`-1`, `42`).
        let id = java_parse_long(id)
            .ok_or_else(|| ReconfigError::Marshalling(format!("For input string: \"{id}\"")))?;
        if let Ok(id) = u64::try_from(id) {
            next.remove(&id);
        }
    }
    for joiner in zk_split(joining, ',') {
        let spec = parse_joiner(joiner)?;
        for other in next.values().filter(|other| other.id != spec.id) {
            spec.check_address_duplicate(other)?;
        }
        next.insert(spec.id, spec);
    }
    Ok(next)
}

/// One joiner: `server.<id>=<value>`; ZooKeeper takes the id after the last `.` of the key,
/// so `5=<value>` works too, and requires the client part.
fn parse_joiner(joiner: &str) -> Result<ServerSpec, ReconfigError> {
    let parts = zk_split(joiner, '=');
    let [key, value] = parts.as_slice() else {
        return Err(ReconfigError::BadArguments(
            "Wrong format of server string".to_string(),
        ));
    };
    let id_text = key.rsplit('.').next().unwrap_or(key);
    let spec = server_id(id_text)
        .and_then(|id| ServerSpec::parse(id, value))
        .map_err(|e| match e {
            SpecError::Format(m) => {
                ReconfigError::BadArguments(format!("Reconfiguration failed: {m}"))
            }
            SpecError::Runtime(m) => ReconfigError::Marshalling(m),
        })?;
    if spec.client.is_none() {
        return Err(ReconfigError::BadArguments(
            "Wrong format of server string - each server should have 3 ports specified".to_string(),
        ));
    }
    Ok(spec)
}

/// Bulk mode (`QuorumPeerConfig.parseDynamicConfig`): commas become newlines, every key is
/// checked first, then each `server.N` is parsed (last one wins); client parts are optional.
fn parse_new_members(
    text: &str,
    standalone_enabled: bool,
) -> Result<BTreeMap<u64, ServerSpec>, ReconfigError> {
    let entries =
        properties(&text.replace(',', "\n")).map_err(|e| ReconfigError::BadArguments(e.message))?;
    for Entry { key, .. } in &entries {
        if key.starts_with("group") || key.starts_with("weight") {
            let message = format!("hierarchical quorums are not supported ({key})");
            return Err(ReconfigError::BadArguments(message));
        }
        if !key.starts_with("server.") && key != "version" {
            return Err(ReconfigError::BadArguments(format!(
                "Unrecognised parameter: {key}"
            )));
        }
    }
    let mut members = BTreeMap::new();
    for Entry { key, value, .. } in &entries {
        let spec_error = |e: SpecError| match e {
            SpecError::Format(m) => ReconfigError::BadArguments(m),
            SpecError::Runtime(m) => ReconfigError::Marshalling(m),
        };
        match key.strip_prefix("server.") {
            Some(id) => {
                let id = server_id(id).map_err(spec_error)?;
                members.insert(id, ServerSpec::parse(id, value).map_err(spec_error)?);
            }
            // `version` is parsed (and then replaced by the txn's zxid).
            None => {
                i64::from_str_radix(value, 16).map_err(|_| {
                    ReconfigError::Marshalling(format!("For input string: \"{value}\""))
                })?;
            }
        }
    }
    check_bulk_roles(&members, standalone_enabled)?;
    Ok(members)
}

/// `parseDynamicConfig`'s role checks; ZooKeeper throws `IllegalArgumentException`, so the
/// client sees MarshallingError.
fn check_bulk_roles(
    members: &BTreeMap<u64, ServerSpec>,
    standalone_enabled: bool,
) -> Result<(), ReconfigError> {
    let participants = members
        .values()
        .filter(|s| s.role == PeerRole::Participant)
        .count();
    let observers = members.len() - participants;
    let message = match (participants, observers) {
        (0, _) if !standalone_enabled => {
            "standaloneEnabled = false then number of participants should be >0"
        }
        (0, 1..) => "Observers w/o participants is an invalid configuration",
        (1, 1..) if standalone_enabled => "Observers w/o quorum is an invalid configuration",
        _ => return Ok(()),
    };
    Err(ReconfigError::Marshalling(message.to_string()))
}

/// The checks on the target that both modes share: enough participants, a synced quorum of
/// them (`Leader.isQuorumSynced`), then write permission on `/zookeeper/config`.
fn check_target(target: &ClusterConfig, view: &LeaderView<'_>) -> Result<(), ReconfigError> {
    let voters = target.voters();
    let needed = if view.standalone_enabled { 2 } else { 1 };
    if voters.len() < needed {
        let followers = if needed == 2 {
            "2 followers"
        } else {
            "1 follower"
        };
        return Err(ReconfigError::BadArguments(format!(
            "Reconfig failed - new configuration must include at least {followers}"
        )));
    }
    let synced = voters
        .iter()
        .filter(|&&id| id == view.leader_id || view.synced.is_none_or(|s| s.contains(&id)))
        .count();
    if synced <= voters.len() / 2 {
        return Err(ReconfigError::NewConfigNoQuorum);
    }
    if !view.may_write_config {
        return Err(ReconfigError::NoAuth);
    }
    Ok(())
}

/// The single-server Raft changes that turn `current` into `target`, in a safe order:
/// 1. `AddLearner` every new server, then `Promote` every new participant and every observer
///    that becomes one, so voters only grow at first;
/// 2. `Remove` leaving observers, then leaving participants, then demoted participants;
///    a demotion is `Remove` then `AddLearner` (our core has no "demote", and a server
///    cannot be a learner and a voter at once);
/// 3. the leader last: its `Remove` (and `AddLearner` if it stays as an observer). After the
///    `Remove` commits it steps down (thesis §4.2.2), so its `AddLearner` is for the next
///    leader to propose.
///
/// Each step changes one server, so consecutive voter sets share a majority (thesis §4.1),
/// and voters never fall below the smaller of the old and new counts. Address or port changes
/// are not membership changes; the peer layer handles them.
pub fn raft_steps(
    current: &ClusterConfig,
    target: &ClusterConfig,
    leader_id: u64,
) -> Vec<ConfChange> {
    membership_steps(
        &current.membership(),
        &target.membership(),
        NodeId(leader_id),
    )
}

/// `raft_steps` on Raft memberships: what a leader runs to bring the cluster's membership
/// to the one `/zookeeper/config` names.
pub fn membership_steps(
    current: &Membership,
    target: &Membership,
    leader: NodeId,
) -> Vec<ConfChange> {
    let (old, new) = (&current.voters, &target.voters);
    assert!(
        old.contains(&leader),
        "leader {leader} is not a voter of {old:?}"
    );
    assert!(!new.is_empty(), "target has no voters");
    let joining = target.members().filter(|id| !current.contains(*id));
    let leaving = current.members().filter(|id| !target.contains(*id));
    let demoted = old
        .iter()
        .filter(|&&id| target.contains(id) && !new.contains(&id));
    let mut steps: Vec<ConfChange> = joining.map(ConfChange::AddLearner).collect();
    steps.extend(new.difference(old).map(|&id| ConfChange::Promote(id)));
    let (leaving_voters, leaving_learners): (Vec<NodeId>, Vec<NodeId>) =
        leaving.partition(|id| old.contains(id));
    for id in leaving_learners
        .into_iter()
        .chain(leaving_voters)
        .filter(|&id| id != leader)
    {
        steps.push(ConfChange::Remove(id));
    }
    for &id in demoted.filter(|&&id| id != leader) {
        steps.extend([ConfChange::Remove(id), ConfChange::AddLearner(id)]);
    }
    if !new.contains(&leader) {
        steps.push(ConfChange::Remove(leader));
        if target.contains(leader) {
            steps.push(ConfChange::AddLearner(leader));
        }
    }
    debug_assert!(
        steps
            .iter()
            .try_fold(current.clone(), |m, s| m.apply(s).ok())
            .as_ref()
            == Some(target),
        "steps {steps:?} do not lead to the target"
    );
    steps
}

#[cfg(test)]
mod tests;

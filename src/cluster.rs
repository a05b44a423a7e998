//! Cluster membership as ZooKeeper users configure it, and the messages servers exchange.
//!
//! * `server.N=host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
//!   lines name the members; `dataDir/myid` says which one this server is. Participants are
//!   the initial Raft voters; observers are learners (they replicate and serve, never vote), added by the leader from
//!   `/zookeeper/config` (server/reconfigure.rs).
//!   The election port is accepted for compatibility and unused: Raft elects over the peer
//!   connections. No `server.N` lines: a one-voter cluster (`STANDALONE_RAFT_ID`).
//! * The cluster id every peer handshake carries is the hash of the voter ids a cluster
//!   started with (`bootstrap_cluster_id`), kept in `dataDir/cluster-id`; a server of another
//!   cluster is refused at connect. Addresses are not in it: each server may reach its peers
//!   by its own routes. A server with nothing on disk starts a cluster or joins one
//!   (server/joining.rs).
//! * Peer frames (payloads of `peers`): `[kind u8][body]` with kind 1 = a Raft message
//!   (`raft::encode_message`), 2 = a client write forwarded to the leader (an
//!   `EntryPayload`, re-stamped with the leader's clock), 3 = session liveness
//!   (`[count u32][session id i64]*`: sessions whose clients were heard from since the last
//!   batch; only the leader expires sessions, as in ZooKeeper), 4 = a follower's `sync`
//!   (`[seq u64]`), 5 = the leader's answer (`[seq u64][index u64]`: a ReadIndex, thesis
//!   §6.4, which the follower must apply before it answers the sync), 6 = `rqld`: the
//!   sender asks the leader to transfer leadership to it (thesis §3.10), 7 = a member that
//!   set a damaged log aside tells the leader where its log now ends (`[index u64]`), so
//!   the leader replicates to it from there (Raft alone would never notice), 8 = a client
//!   resumed session `[id i64]` on the sender, so others close their connection for it.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use byteorder::{BigEndian, ByteOrder};

use crate::config::{Config, PeerRole};
use crate::peers::PeerSettings;

pub const KIND_RAFT: u8 = 1;
pub const KIND_FORWARD: u8 = 2;
pub const KIND_TOUCH: u8 = 3;
/// A follower's `sync`: `[seq u64]`; the leader answers with a ReadIndex.
pub const KIND_SYNC: u8 = 4;
/// The leader's answer: `[seq u64][index u64]`, the commit index the follower must apply.
pub const KIND_SYNCED: u8 = 5;
/// `rqld` on a follower: "hand leadership to me" (empty body).
pub const KIND_LEADERSHIP: u8 = 6;
/// A member recovering a damaged log: `[last index u64]`, where its log now ends.
pub const KIND_LOST_ENTRIES: u8 = 7;
/// A client resumed session `[id i64]` on the sender: any other member holding a
/// connection for it closes that connection (ZooKeeper's session move).
pub const KIND_SESSION_MOVED: u8 = 8;
/// Largest peer frame: a Raft message carries up to `raft::FRAME_PAYLOAD_BYTES_MAX`.
const PEER_FRAME_BYTES_MAX: usize = raft::FRAME_HEADER_BYTES + raft::FRAME_PAYLOAD_BYTES_MAX + 1;
/// Bytes queued for one peer before frames to it are dropped (Raft retransmits).
const PEER_QUEUE_BYTES_MAX: usize = 64 << 20;
/// Session ids one liveness frame carries at most.
pub const TOUCH_IDS_MAX: usize = 64 * 1024;

/// What the server needs to know about its cluster.
pub struct ClusterSettings {
    pub my_id: u64,
    /// The byte ZooKeeper puts at the top of this server's session ids (its myid; 0 alone).
    pub session_server_byte: u8,
    /// The initial Raft voters (participants).
    pub voters: Vec<raft::NodeId>,
    /// `None` for a one-member cluster.
    pub peers: Option<PeerSettings>,
}

impl ClusterSettings {
    pub fn standalone() -> ClusterSettings {
        ClusterSettings {
            my_id: crate::STANDALONE_RAFT_ID,
            session_server_byte: 0,
            voters: vec![raft::NodeId(crate::STANDALONE_RAFT_ID)],
            peers: None,
        }
    }

    /// From `server.N` lines and `dataDir/myid`.
    pub fn from_config(config: &Config) -> Result<ClusterSettings, String> {
        if config.is_standalone() {
            return Ok(ClusterSettings::standalone());
        }
        let my_id = read_myid(&config.data_dir)?;
        let me = config
            .servers
            .iter()
            .find(|s| s.id == my_id)
            .ok_or_else(|| format!("myid is {my_id} but there is no server.{my_id} line"))?;
        if my_id > 255 {
            return Err(format!(
                "myid {my_id}: server ids above 255 are not supported"
            ));
        }
        let resolve = |host: &str, port: u16| -> Result<SocketAddr, String> {
            (host, port)
                .to_socket_addrs()
                .map_err(|e| format!("{host}:{port}: {e}"))?
                .next()
                .ok_or_else(|| format!("{host}:{port}: no address"))
        };
        let listen = resolve(&me.host, me.peer_port)?;
        let mut members = BTreeMap::new();
        for s in config.servers.iter().filter(|s| s.id != my_id) {
            members.insert(s.id, resolve(&s.host, s.peer_port)?);
        }
        let ids = |role: PeerRole| -> Vec<raft::NodeId> {
            config
                .servers
                .iter()
                .filter(|s| s.role == role)
                .map(|s| raft::NodeId(s.id))
                .collect()
        };
        Ok(ClusterSettings {
            my_id,
            session_server_byte: my_id as u8,
            voters: ids(PeerRole::Participant),
            peers: Some(PeerSettings {
                my_id,
                // Until the server knows better (server/joining.rs).
                identity: crate::peers::Identity {
                    cluster_id: bootstrap_cluster_id(&ids(PeerRole::Participant)),
                    fresh: true,
                },
                listen,
                members,
                frame_bytes_max: PEER_FRAME_BYTES_MAX,
                queue_bytes_max: PEER_QUEUE_BYTES_MAX,
            }),
        })
    }
}

/// `dataDir/myid`: the server's id, as ZooKeeper reads it (a number, surrounding space
/// ignored).
fn read_myid(data_dir: &Path) -> Result<u64, String> {
    let path = data_dir.join("myid");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (a server with server.N lines needs it)",
            path.display()
        )
    })?;
    let id = text
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("{}: {:?} is not a server id", path.display(), text.trim()))?;
    if id == 0 {
        return Err(format!("{}: server id 0 is reserved", path.display()));
    }
    Ok(id)
}

/// The id of the cluster that `voters` start: FNV-1a over their ids in order. Addresses are
/// left out: each server may reach the others by its own routes (a proxy, a NAT, another
/// name for the same host), as ZooKeeper allows, and still be one cluster.
pub fn bootstrap_cluster_id(voters: &[raft::NodeId]) -> u64 {
    let mut ids: Vec<u64> = voters.iter().map(|v| v.0).collect();
    ids.sort_unstable();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for id in ids {
        let line = format!("{id}\n");
        for byte in line.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

pub fn encode_touch(ids: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + 8 * ids.len());
    out.push(KIND_TOUCH);
    out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
    for id in ids {
        out.extend_from_slice(&id.to_be_bytes());
    }
    out
}

/// The body of a liveness frame (after its kind byte).
pub fn decode_touch(body: &[u8]) -> Result<Vec<i64>, String> {
    if body.len() < 4 {
        return Err("a liveness frame without its count".to_string());
    }
    let count = BigEndian::read_u32(&body[..4]) as usize;
    let rest = &body[4..];
    if count > TOUCH_IDS_MAX || rest.len() != count * 8 {
        return Err(format!(
            "a liveness frame names {count} sessions in {} bytes",
            rest.len()
        ));
    }
    Ok(rest.chunks(8).map(BigEndian::read_i64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_frames_round_trip_and_garbage_is_an_error() {
        let ids = [1i64, -5, 0x0100_0000_0000_0001];
        let frame = encode_touch(&ids);
        assert_eq!(frame[0], KIND_TOUCH);
        assert_eq!(decode_touch(&frame[1..]).unwrap(), ids);
        for cut in 1..frame.len() {
            assert!(decode_touch(&frame[1..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = frame.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_touch(&huge[1..]).is_err());
    }

    #[test]
    fn myid_is_read_as_zookeeper_reads_it() {
        let dir = std::env::temp_dir().join(format!("fk-myid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read_myid(&dir).unwrap_err().contains("needs it"));
        std::fs::write(dir.join("myid"), " 3\n").unwrap();
        assert_eq!(read_myid(&dir).unwrap(), 3);
        std::fs::write(dir.join("myid"), "x").unwrap();
        assert!(read_myid(&dir).unwrap_err().contains("is not a server id"));
        std::fs::write(dir.join("myid"), "0").unwrap();
        assert!(read_myid(&dir).unwrap_err().contains("reserved"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

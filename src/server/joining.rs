//! How a cluster member with nothing on disk finds its cluster: it starts a new one with its
//! peers, or joins the one they already run (issue #8).
//!
//! Writing the `Bootstrap` entry at start-up, as a lone server does, would be wrong for a
//! server added by a reconfig: its zoo.cfg names other voters than the cluster began with,
//! so its entry 1 would differ from everyone else's entry 1 at the same index and term,
//! and Raft's Log Matching would no longer hold. So a fresh member waits, and decides from
//! what its peers' handshakes say (`Peers::heard`):
//!
//! * A peer that already belongs to a cluster: if that cluster's id is the one our voters
//!   would start (`cluster::bootstrap_cluster_id`), it began from our very server list and
//!   we write the same `Bootstrap` entry it did (an initial member that came up late, or one
//!   whose disk was wiped). Otherwise we join it: we take its id and wait for its leader to
//!   add us (a reconfig) and replicate its log to us.
//! * Otherwise, once a quorum of our voters (ourselves included) have said they are fresh
//!   and would start the same cluster, we start it: every one of them writes the same entry.
//!
//! The id is kept in `dataDir/cluster-id` (storage.rs). A server whose file names the id its
//! own voters would start but whose log is still empty was about to start that cluster and
//! stopped before the entry was durable: it decides again, the same way.

use super::Server;
use crate::peers::Identity;

/// Who this server is at start-up, from its data directory.
pub fn initial_identity(
    data_dir: &std::path::Path,
    proposal: Identity,
    raft_is_empty: bool,
    recovering: bool,
) -> Result<Identity, crate::storage::StorageError> {
    let stored = crate::storage::read_cluster_id(data_dir)?;
    let established = |cluster_id| Identity {
        cluster_id,
        fresh: false,
    };
    Ok(match stored {
        Some(id) if id != proposal.cluster_id || !raft_is_empty || recovering => established(id),
        Some(_) => proposal,
        // A server that holds a log from before cluster ids were kept: its zoo.cfg's voters
        // are those it started with.
        None if !raft_is_empty || recovering => {
            crate::storage::write_cluster_id(data_dir, proposal.cluster_id)?;
            established(proposal.cluster_id)
        }
        None => proposal,
    })
}

impl Server {
    /// A fresh member decides to start its cluster or join one, once its peers have said
    /// enough (module docs). Called every turn before peer frames are stepped, so that a
    /// leader's first message finds us a member of its cluster.
    pub(super) fn settle_identity(&mut self) {
        let Some(peers) = self.peers.as_ref() else {
            return;
        };
        let ours = peers.identity();
        if !ours.fresh {
            return;
        }
        let established = peers.heard().find(|(_, heard)| !heard.fresh);
        let decision = match established {
            Some((from, theirs)) if theirs.cluster_id == ours.cluster_id => {
                Some((theirs.cluster_id, true, format!("server {from} started it")))
            }
            Some((from, theirs)) => Some((
                theirs.cluster_id,
                false,
                format!("server {from} belongs to it"),
            )),
            None => {
                let me = raft::NodeId(self.my_id);
                let fresh_alike: Vec<u64> = peers
                    .heard()
                    .filter(|(_, heard)| *heard == ours)
                    .map(|(id, _)| id)
                    .collect();
                let voters = &self.bootstrap_voters;
                let ready = voters
                    .iter()
                    .filter(|v| **v == me || fresh_alike.contains(&v.0))
                    .count();
                (voters.contains(&me) && ready > voters.len() / 2).then(|| {
                    let why = format!("{ready} of its {} voters are new", voters.len());
                    (ours.cluster_id, true, why)
                })
            }
        };
        let Some((cluster_id, start, why)) = decision else {
            return;
        };
        if let Err(e) = crate::storage::write_cluster_id(&self.settings.config.data_dir, cluster_id)
        {
            log::error!("cannot keep the cluster id: {e}; deciding again later");
            return;
        }
        if start && self.raft.is_empty() {
            let voters = self.bootstrap_voters.clone();
            log::info!(
                "starting cluster {cluster_id:#x} with voters {:?} ({why})",
                voters.iter().map(|v| v.0).collect::<Vec<_>>()
            );
            self.raft.bootstrap(&voters);
        } else {
            log::info!("joining cluster {cluster_id:#x} ({why}); waiting for its leader to add us");
        }
        let peers = self.peers.as_mut().expect("checked above");
        peers.set_identity(Identity {
            cluster_id,
            fresh: false,
        });
    }
}

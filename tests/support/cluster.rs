//! A cluster of `ferrokeeper server` processes on 127.0.0.1, configured as ZooKeeper users
//! configure an ensemble: `server.N` lines, `dataDir/myid`, one client port per member and
//! fresh data directories under one scratch directory.
//!
//! Every member is SIGKILLed when the cluster is dropped (each `ServerProcess` is a drop
//! guard), and every wait is bounded in time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{four_letter_word, free_port, ServerProcess, TempDir};

pub struct Member {
    pub id: u64,
    pub dir: PathBuf,
    pub port: u16,
    pub cfg: String,
    /// `None` while the member is killed.
    pub process: Option<ServerProcess>,
}

pub struct Cluster {
    _root: TempDir,
    pub members: Vec<Member>,
}

impl Cluster {
    /// Starts `size` members and waits until one of them leads.
    pub fn start(size: u64) -> Cluster {
        Cluster::start_with(size, "")
    }

    /// `extra_cfg` goes into every member's zoo.cfg.
    pub fn start_with(size: u64, extra_cfg: &str) -> Cluster {
        assert!(size >= 1, "a cluster has members");
        let root = TempDir::new("cluster");
        let lines: Vec<String> = (1..=size)
            .map(|id| format!("server.{id}=127.0.0.1:{}:{}", free_port(), free_port()))
            .collect();
        let cfg = format!(
            "initLimit=10\nsyncLimit=5\n{}\n{extra_cfg}",
            lines.join("\n")
        );
        let mut members = Vec::new();
        for id in 1..=size {
            let dir = root.0.join(format!("s{id}"));
            std::fs::create_dir_all(dir.join("data")).expect("mkdir");
            std::fs::write(dir.join("data/myid"), format!("{id}\n")).expect("myid");
            members.push(Member {
                id,
                dir,
                port: free_port(),
                cfg: cfg.clone(),
                process: None,
            });
        }
        for m in &mut members {
            m.process = Some(ServerProcess::start(&m.dir, m.port, &m.cfg));
        }
        let cluster = Cluster {
            _root: root,
            members,
        };
        cluster.wait_for_leader(Duration::from_secs(30));
        cluster
    }

    /// What `srvr` says after `Mode: `; `None` if the member does not answer.
    pub fn mode(&self, i: usize) -> Option<String> {
        let text = four_letter_word(self.members[i].port, "srvr")?;
        text.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
    }

    pub fn alive(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.members[*i].process.is_some())
            .collect()
    }

    /// Index of the member that reports Mode: leader, once every live member serves.
    pub fn wait_for_leader(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let modes: Vec<(usize, Option<String>)> = self
                .alive()
                .into_iter()
                .map(|i| (i, self.mode(i)))
                .collect();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(i, _)| *i)
                .collect();
            if leaders.len() == 1 && modes.iter().all(|(_, m)| m.is_some()) {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "no single leader in time: {modes:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILLs member `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        let mut p = self.members[i].process.take().expect("member runs");
        p.kill();
    }

    /// Starts killed member `i` again on its data directory.
    pub fn restart(&mut self, i: usize) {
        let m = &mut self.members[i];
        assert!(m.process.is_none(), "member {} still runs", m.id);
        m.process = Some(ServerProcess::start(&m.dir, m.port, &m.cfg));
    }

    /// `hash`'s last line: (zxid, digest).
    pub fn zxid_digest(&self, i: usize) -> Option<(u64, u64)> {
        let text = four_letter_word(self.members[i].port, "hash")?;
        let line = text.lines().last()?;
        let (zxid, digest) = line.split_once(": ")?;
        Some((
            u64::from_str_radix(zxid.trim(), 16).ok()?,
            digest.trim().parse().ok()?,
        ))
    }

    /// Waits until every live member reports the same zxid and digest.
    pub fn wait_converged(&self, limit: Duration) -> (u64, u64) {
        let deadline = Instant::now() + limit;
        loop {
            let states: Vec<Option<(u64, u64)>> = self
                .alive()
                .into_iter()
                .map(|i| self.zxid_digest(i))
                .collect();
            if let Some(Some(first)) = states.first() {
                if states.iter().all(|s| s.as_ref() == Some(first)) {
                    return *first;
                }
            }
            assert!(
                Instant::now() < deadline,
                "replicas did not converge: {states:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

//! Quota bookkeeping as ZooKeeper 3.8 does it: the `zookeeper_stats` node of a quota holds
//! `StatsTrack` text that `DataTree.updateQuotaStat` rewrites in memory on every change under
//! the quota'd path. The text format must be reproduced exactly, because clients read it.

use std::collections::BTreeMap;

use super::replay::{data_len, ZkTree, LIMIT_NODE, QUOTA_ROOT, STAT_NODE};

impl ZkTree {
    /// `DataTree.setupQuota`: every `zookeeper_limits` leaf under `/zookeeper/quota` makes its
    /// path a quota, and that quota's stat node is recomputed from the tree.
    pub(super) fn setup_quota(&mut self) {
        self.quotas.clear();
        let mut limit_nodes = Vec::new();
        self.collect_limit_leaves(QUOTA_ROOT, &mut limit_nodes);
        for limit_path in limit_nodes {
            let end = limit_path
                .find(&format!("/{LIMIT_NODE}"))
                .expect("collected paths contain the limit node name");
            let real_path = limit_path.get(QUOTA_ROOT.len()..end).unwrap_or("");
            let real_path = real_path.to_string();
            self.update_quota_for_path(&real_path);
            self.quotas.insert(real_path);
        }
    }

    fn collect_limit_leaves(&self, path: &str, out: &mut Vec<String>) {
        let Some(node) = self.nodes.get(path) else {
            return;
        };
        if node.children.is_empty() {
            if path.ends_with(&format!("/{LIMIT_NODE}")) {
                out.push(path.to_string());
            }
            return;
        }
        for child in &node.children {
            self.collect_limit_leaves(&format!("{path}/{child}"), out);
        }
    }

    /// `DataTree.getMaxPrefixWithQuota`: the deepest quota path that is a component-wise
    /// prefix of `path`.
    pub(super) fn max_quota_prefix(&self, path: &str) -> Option<String> {
        if self.quotas.is_empty() {
            return None;
        }
        let mut best = None;
        let mut prefix = String::new();
        for component in path.split('/').filter(|c| !c.is_empty()) {
            prefix.push('/');
            prefix.push_str(component);
            if self.quotas.contains(&prefix) {
                best = Some(prefix.clone());
            }
        }
        best
    }

    /// `DataTree.updateQuotaForPath`: the stat node's data from a count of the subtree.
    pub(super) fn update_quota_for_path(&mut self, path: &str) {
        let (count, bytes) = self.subtree_counts(path);
        let stat_path = format!("{QUOTA_ROOT}{path}/{STAT_NODE}");
        let data = Some(format!("count={count},bytes={bytes}").into_bytes());
        // A missing stat node is only logged by ZooKeeper.
        if self.modify(&stat_path, |node| node.data = data).is_err() {
            self.stats.ignored_failures += 1;
        }
    }

    pub(super) fn subtree_counts(&self, path: &str) -> (i64, i64) {
        let Some(node) = self.nodes.get(path) else {
            return (0, 0);
        };
        let mut count = 1;
        let mut bytes = data_len(&node.data);
        for child in &node.children {
            let (c, b) = self.subtree_counts(&format!("{path}/{child}"));
            count += c;
            bytes += b;
        }
        (count, bytes)
    }

    /// `DataTree.updateQuotaStat`. ZooKeeper changes the data without `preChange`, so the
    /// digest is not touched (the stat node is under `/zookeeper/`, outside the digest).
    pub(super) fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_path = format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}");
        if let Some(node) = self.nodes.get_mut(&stat_path) {
            let mut track = StatsTrack::parse(node.data.as_deref().unwrap_or(&[]));
            track.add("count", count_diff);
            track.add("bytes", bytes_diff);
            node.data = Some(track.to_bytes());
        }
    }
}

/// `org.apache.zookeeper.StatsTrack`: "count=N,bytes=M" then, if other keys exist, "=" and
/// ";key=value" for each in sorted order. Malformed pairs are skipped (ZooKeeper would throw).
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    pub fn parse(data: &[u8]) -> StatsTrack {
        let text = String::from_utf8_lossy(data);
        let mut values = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut parts = pair.split('=').filter(|p| !p.is_empty());
            let (Some(key), value) = (parts.next(), parts.next()) else {
                continue;
            };
            if let Ok(v) = value.unwrap_or("-1").parse::<i64>() {
                values.insert(key.to_string(), v);
            }
        }
        StatsTrack { values }
    }

    pub fn add(&mut self, key: &str, diff: i64) {
        let current = self.values.get(key).copied().unwrap_or(-1);
        self.values
            .insert(key.to_string(), current.wrapping_add(diff));
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let get = |k: &str| self.values.get(k).copied().unwrap_or(-1);
        let mut text = format!("count={},bytes={}", get("count"), get("bytes"));
        let extra: Vec<_> = self
            .values
            .iter()
            .filter(|(k, _)| k.as_str() != "count" && k.as_str() != "bytes")
            .collect();
        if !extra.is_empty() {
            text.push('=');
            for (k, v) in extra {
                text.push_str(&format!(";{k}={v}"));
            }
        }
        text.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_round_trips_extra_keys() {
        let mut track = StatsTrack::parse(b"count=3,bytes=10=;byteHardLimit=-1;countHardLimit=5");
        track.add("count", 1);
        let text = String::from_utf8(track.to_bytes()).expect("utf8");
        assert_eq!(text, "count=4,bytes=10=;byteHardLimit=-1;countHardLimit=5");
        assert_eq!(
            StatsTrack::parse(b"").to_bytes(),
            b"count=-1,bytes=-1".to_vec()
        );
    }
}

//! Quota statistics as ZooKeeper 3.8's `DataTree` keeps them (`updateQuotaStat`,
//! `updateQuotaForPath`, `getCounts`, `getMaxPrefixWithQuota`), and the `StatsTrack` text
//! format (`org.apache.zookeeper.StatsTrack`) their nodes hold.
//!
//! A path P has a quota while `/zookeeper/quota/P/zookeeper_limits` exists (zkCli's
//! `setquota` creates it). Its sibling `/zookeeper/quota/P/zookeeper_stats` holds
//! `count=N,bytes=M`: the znodes in P's subtree (P included) and their total data length.
//! Every create, delete and setData adds its difference to the stats node of the *longest*
//! quota'd component-wise prefix of its path (only that one, so nested quotas do not add
//! up). Creating a `zookeeper_stats` node anywhere under "/zookeeper/quota" recounts its
//! subtree. Quotas are only tracked, never enforced (`zookeeper.enforceQuota` is off).
//!
//! The stats node's data changes through the tree's `set_data` primitive but its `Stat`
//! does not (no version, mzxid or mtime change, no watch), as in ZooKeeper, which writes
//! `DataNode.data` directly. Going through the primitive keeps our digest, the undo log of
//! a failing multi and a running snapshot walk exact. (ZooKeeper's own digest skips
//! everything under "/zookeeper/", so it never sees these writes.)
//!
//! The quota set is not stored: ZooKeeper's `PathTrie` holds exactly the paths whose limits
//! node was created and not yet deleted, which is the set of limits nodes in the tree, so we
//! walk "/zookeeper/quota" as the trie itself. Nothing then needs undoing when a multi
//! fails, and a tree loaded from a snapshot has its quotas at once. Unlike ZooKeeper's
//! `setupQuota`, a load does not recount the stats nodes: our snapshots are exact images of
//! one zxid, and recounting would make a restarted replica differ from the others wherever
//! the stats and the recount disagree (nested quotas, a client's setData on a stats node).
//!
//! Where ZooKeeper throws or misparses we stay total and deterministic instead:
//! - stats data it cannot parse (a pair without '=', a bad number, a null buffer) makes it
//!   throw mid-apply; we leave that stats node unchanged;
//! - its `startsWith` tests also match "/zookeeper/quotaX" and its trie drops path
//!   components that are only spaces; our quota set is component-wise, without either quirk
//!   (creating a stats node recounts exactly as ZooKeeper does, quirks included);
//! - its `setupQuota` skips limits nodes that have children; we count them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;

use crate::path;
use crate::tree::DataTree;

/// `Quotas.quotaZookeeper`.
pub const QUOTA_ROOT: &str = "/zookeeper/quota";
/// `Quotas.limitNode`.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// `Quotas.statNode`.
pub const STAT_NODE: &str = "zookeeper_stats";

/// `StatsTrack`: named longs, read from and written as "count=N,bytes=M" text. A key that
/// is absent reads as -1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

/// Why stats text does not parse (ZooKeeper would throw).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsTrackError {
    /// A pair with no value after '=' (`ArrayIndexOutOfBoundsException` in Java).
    MissingValue(String),
    /// A value `Long.parseLong` rejects.
    BadNumber(String),
}

impl fmt::Display for StatsTrackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsTrackError::MissingValue(pair) => write!(f, "stats pair {pair:?} has no value"),
            StatsTrackError::BadNumber(pair) => write!(f, "stats pair {pair:?}: bad number"),
        }
    }
}

impl std::error::Error for StatsTrackError {}

/// Java's `String.split(regex)` with limit 0 for a separator class, optionally as a run
/// (`[,;]+`): no separator gives the whole string, otherwise the pieces with trailing
/// empty pieces removed (a leading one stays).
fn java_split<'a>(s: &'a str, separators: &[char], runs: bool) -> Vec<&'a str> {
    if !s.contains(separators) {
        return vec![s];
    }
    let mut pieces: Vec<&str> = Vec::new();
    for (index, piece) in s.split(separators).enumerate() {
        // Inside a run the split yields empty pieces that the regex run does not.
        if index == 0 || !runs || !piece.is_empty() {
            pieces.push(piece);
        }
    }
    while pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
}

impl StatsTrack {
    pub const COUNT: &'static str = "count";
    pub const BYTES: &'static str = "bytes";
    pub const COUNT_HARD_LIMIT: &'static str = "countHardLimit";
    pub const BYTE_HARD_LIMIT: &'static str = "byteHardLimit";

    /// An empty track (every key reads -1).
    pub fn new() -> StatsTrack {
        StatsTrack::default()
    }

    /// `new StatsTrack(byte[])`: UTF-8 text (invalid bytes become U+FFFD, as in Java) of
    /// `key=value` pairs split by runs of ',' or ';'. In a pair, the text after the first
    /// '=' up to the next one is the value, "" meaning -1; a repeated key keeps its last
    /// value. Empty text is an empty track.
    pub fn parse(data: &[u8]) -> Result<StatsTrack, StatsTrackError> {
        let text = String::from_utf8_lossy(data);
        let mut values = BTreeMap::new();
        if text.is_empty() {
            return Ok(StatsTrack { values });
        }
        for pair in java_split(&text, &[',', ';'], true) {
            let kv = java_split(pair, &['='], false);
            if kv.len() < 2 {
                return Err(StatsTrackError::MissingValue(pair.to_string()));
            }
            let value = if kv[1].is_empty() {
                -1
            } else {
                kv[1]
                    .parse::<i64>()
                    .map_err(|_| StatsTrackError::BadNumber(pair.to_string()))?
            };
            values.insert(kv[0].to_string(), value);
        }
        Ok(StatsTrack { values })
    }

    /// The value of `key`, -1 when absent (`getValue`).
    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_string(), value);
    }

    pub fn count(&self) -> i64 {
        self.get(Self::COUNT)
    }

    pub fn bytes(&self) -> i64 {
        self.get(Self::BYTES)
    }

    /// `getStatsBytes`: the text of `Display`.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

/// `StatsTrack.toString`: "count=N,bytes=M" always (absent ones as -1); when other keys
/// exist, an extra "=" (so 3.4's parser ignores them) and ";key=value" for each, sorted as
/// Java sorts strings (by UTF-16 code unit).
impl fmt::Display for StatsTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "count={},bytes={}", self.count(), self.bytes())?;
        let mut extra: Vec<(&String, &i64)> = self
            .values
            .iter()
            .filter(|(k, _)| k.as_str() != Self::COUNT && k.as_str() != Self::BYTES)
            .collect();
        if extra.is_empty() {
            return Ok(());
        }
        extra.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
        f.write_str("=")?;
        for (key, value) in extra {
            write!(f, ";{key}={value}")?;
        }
        Ok(())
    }
}

fn len_i64(data: &[u8]) -> i64 {
    i64::try_from(data.len()).expect("a data length fits i64")
}

impl DataTree {
    /// `getMaxPrefixWithQuota`: the longest component-wise prefix of `p` (p itself
    /// included, "/" excluded) that has a quota. Walks "/zookeeper/quota" as the trie; a
    /// path without a quota directory costs one lookup and no allocation.
    pub(crate) fn quota_prefix_of<'a>(&self, p: &'a str) -> Option<&'a str> {
        if self.quota_node_count == 0 {
            // No quota directory, so no quota (the common case, without a table search).
            return None;
        }
        let mut dir = self.nodes.get(QUOTA_ROOT)?;
        let mut dir_path = String::new();
        let mut end = 0usize;
        let mut best: Option<&'a str> = None;
        for component in p.split('/').skip(1) {
            if component.is_empty() || !dir.children.contains(component) {
                break;
            }
            if dir_path.is_empty() {
                dir_path.push_str(QUOTA_ROOT);
            }
            dir_path.push('/');
            dir_path.push_str(component);
            end += 1 + component.len();
            dir = self
                .nodes
                .get(dir_path.as_str())
                .expect("a listed child exists");
            if dir.children.contains(LIMIT_NODE) {
                best = Some(&p[..end]);
            }
        }
        if let Some(prefix) = best {
            assert!(prefix.len() > 1, "the root never has a quota: {p}");
            assert!(
                p == prefix || p[prefix.len()..].starts_with('/'),
                "{prefix} is a component-wise prefix of {p}"
            );
        }
        best
    }

    /// The paths that have a quota now (for tests and status output).
    pub fn quota_paths(&self) -> BTreeSet<String> {
        let start = format!("{QUOTA_ROOT}/");
        let suffix = format!("/{LIMIT_NODE}");
        self.nodes
            .range::<str, _>((Bound::Included(start.as_str()), Bound::Unbounded))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(&start))
            .filter_map(|p| p.strip_suffix(&suffix))
            .map(|quota_dir| &quota_dir[QUOTA_ROOT.len()..])
            .filter(|real| !real.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `getCounts`: (znodes, data bytes) of the subtree at `p`, p included; (0, 0) when `p`
    /// is not a node. "" is the root, as in ZooKeeper's table. An ordered range scan, so a
    /// deep tree costs no recursion.
    pub(crate) fn subtree_counts(&self, p: &str) -> (i64, i64) {
        let key = if p.is_empty() { "/" } else { p };
        let Some(node) = self.nodes.get(key) else {
            return (0, 0);
        };
        if key == "/" && p.is_empty() {
            let bytes = self.nodes.values().map(|n| len_i64(n.data())).sum();
            return (self.nodes.len() as i64, bytes);
        }
        // ZooKeeper joins "/" + "/" + child for "/", finds nothing and counts the node
        // alone; the scan below does the same.
        let below = format!("{key}/");
        let (count, bytes) = self
            .nodes
            .range::<str, _>((Bound::Included(below.as_str()), Bound::Unbounded))
            .take_while(|(path, _)| path.starts_with(&below))
            .fold((1i64, len_i64(node.data())), |(c, b), (_, n)| {
                (c + 1, b + len_i64(n.data()))
            });
        assert!(count >= 1, "the subtree of {p} holds {p}");
        assert!(bytes >= 0, "byte total {bytes} of {p} >= 0");
        (count, bytes)
    }

    /// The quota part of `createNode`, after `p` is linked: a new stats node is recounted
    /// (`updateQuotaForPath`), then the quota over `p` gains one node and its `data_len`
    /// bytes.
    pub(crate) fn update_quota_on_create(&mut self, p: &str, data_len: usize) {
        debug_assert_eq!(
            self.node(p).map(|n| n.data().len()),
            Some(data_len),
            "{p} holds {data_len} bytes"
        );
        let data_len = i64::try_from(data_len).expect("a data length fits i64");
        let parent = path::parent_of(p).expect("a node path has a '/'");
        if path::child_name(p) == STAT_NODE {
            // `parentName.startsWith(quotaZookeeper)` and `trimQuotaPath`, a plain string
            // prefix; "" stands for the root.
            if let Some(real) = parent.strip_prefix(QUOTA_ROOT) {
                self.recount_stats_node(p, real);
            }
        }
        if let Some(prefix) = self.quota_prefix_of(p) {
            self.update_quota_stat(prefix, data_len, 1);
        }
    }

    /// The quota part of `deleteNode`, after `p` (which held `data_len` bytes) is gone.
    pub(crate) fn update_quota_on_delete(&mut self, p: &str, data_len: usize) {
        assert!(
            self.node(p).is_none(),
            "{p} is deleted before its quota update"
        );
        if let Some(prefix) = self.quota_prefix_of(p) {
            let bytes = i64::try_from(data_len).expect("a data length fits i64");
            self.update_quota_stat(prefix, -bytes, -1);
        }
    }

    /// The quota part of `setData`: the data of `p` went from `old_len` bytes to its
    /// current length. ZooKeeper rewrites the stats text even when the length is unchanged.
    pub(crate) fn update_quota_on_set_data(&mut self, p: &str, old_len: usize) {
        let new_len = len_i64(self.node(p).expect("set node exists").data());
        if let Some(prefix) = self.quota_prefix_of(p) {
            let old_len = i64::try_from(old_len).expect("a data length fits i64");
            self.update_quota_stat(prefix, new_len - old_len, 0);
        }
    }

    /// `updateQuotaForPath`, for the stats node `stat_path` just created under the quota
    /// directory of `real`: its data becomes the count of `real`'s subtree.
    fn recount_stats_node(&mut self, stat_path: &str, real: &str) {
        let (count, bytes) = self.subtree_counts(real);
        let mut track = StatsTrack::new();
        track.set(StatsTrack::BYTES, bytes);
        track.set(StatsTrack::COUNT, count);
        // `Quotas.statPath(real)` is the created node's own path.
        assert_eq!(
            format!("{QUOTA_ROOT}{real}/{STAT_NODE}"),
            stat_path,
            "the recounted stats node is the one created"
        );
        self.set_stats_data(stat_path, track.to_bytes());
    }

    /// `updateQuotaStat`: adds the differences to the stats node of quota `prefix`. A
    /// missing stats node is skipped (ZooKeeper logs it), and so is one whose data does not
    /// parse (ZooKeeper throws).
    fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_path = format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}");
        let Some(data) = self.node(&stat_path).and_then(|n| n.data_option()) else {
            return;
        };
        let Ok(mut track) = StatsTrack::parse(data) else {
            return;
        };
        track.set(StatsTrack::COUNT, track.count().wrapping_add(count_diff));
        track.set(StatsTrack::BYTES, track.bytes().wrapping_add(bytes_diff));
        self.set_stats_data(&stat_path, track.to_bytes());
    }

    /// Replaces a stats node's data, leaving its persisted stat fields as they were.
    fn set_stats_data(&mut self, stat_path: &str, data: Vec<u8>) {
        let node = self.node(stat_path).expect("stats node exists");
        if node.data_option() == Some(data.as_slice()) {
            return;
        }
        let meta = node.meta;
        self.set_data(stat_path, Some(data));
        let node = self.node(stat_path).expect("stats node exists");
        assert_eq!(node.meta, meta, "a quota update leaves {stat_path}'s Stat");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(track: &StatsTrack) -> String {
        track.to_string()
    }

    #[test]
    fn setquota_limits_text_has_sorted_hard_limits_after_an_extra_equals() {
        // SetQuotaCommand for `setquota -n 4`: count 4, the other three -1.
        let mut track = StatsTrack::new();
        track.set(StatsTrack::COUNT, -1);
        track.set(StatsTrack::BYTES, -1);
        track.set(StatsTrack::COUNT_HARD_LIMIT, -1);
        track.set(StatsTrack::BYTE_HARD_LIMIT, -1);
        track.set(StatsTrack::COUNT, 4);
        assert_eq!(
            text(&track),
            "count=4,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        let back = StatsTrack::parse(text(&track).as_bytes()).expect("own text parses");
        assert_eq!(back, track);
    }

    #[test]
    fn plain_stats_text_round_trips_and_absent_keys_read_minus_one() {
        let track = StatsTrack::parse(b"count=3,bytes=5").expect("parses");
        assert_eq!((track.count(), track.bytes()), (3, 5));
        assert_eq!(text(&track), "count=3,bytes=5");
        let empty = StatsTrack::parse(b"").expect("empty parses");
        assert_eq!(empty.get(StatsTrack::COUNT_HARD_LIMIT), -1);
        assert_eq!(text(&empty), "count=-1,bytes=-1");
    }

    #[test]
    fn parsing_follows_java_split_rules() {
        // Runs of separators are one; trailing empty pieces vanish.
        let t = StatsTrack::parse(b"count=1,,;bytes=2;;").expect("parses");
        assert_eq!((t.count(), t.bytes()), (1, 2));
        assert_eq!(
            StatsTrack::parse(b",;,").expect("only separators"),
            StatsTrack::new()
        );
        // The value is the text between the first and second '='; "" is -1.
        let t = StatsTrack::parse(b"count=7=9,bytes==4").expect("parses");
        assert_eq!((t.count(), t.bytes()), (7, -1));
        // An empty key is a key; the last of repeated keys wins.
        let t = StatsTrack::parse(b"=5,count=1,count=+2").expect("parses");
        assert_eq!((t.get(""), t.count()), (5, 2));
    }

    #[test]
    fn text_java_would_throw_on_is_an_error() {
        for bad in [
            &b",count=1"[..],
            b"count",
            b"count=",
            b"=",
            b"count=x",
            b"count= 1",
        ] {
            assert!(
                StatsTrack::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let overflow = b"count=9223372036854775808";
        assert_eq!(
            StatsTrack::parse(overflow),
            Err(StatsTrackError::BadNumber(
                "count=9223372036854775808".into()
            ))
        );
    }

    #[test]
    fn extra_keys_sort_by_utf16_code_units() {
        // U+10000 sorts after U+FF21 by code point but before it in UTF-16, where it is
        // the surrogate pair D800 DC00.
        let t = StatsTrack::parse("\u{ff21}=2;\u{10000}=1;a=3".as_bytes()).expect("parses");
        assert_eq!(text(&t), "count=-1,bytes=-1=;a=3;\u{10000}=1;\u{ff21}=2");
    }

    #[test]
    fn java_split_keeps_a_leading_empty_piece() {
        assert_eq!(java_split(",a,,b,", &[','], true), vec!["", "a", "b"]);
        assert_eq!(java_split("a==b=", &['='], false), vec!["a", "", "b"]);
        assert_eq!(java_split("ab", &['='], false), vec!["ab"]);
        assert_eq!(java_split("", &['='], false), vec![""]);
    }
}

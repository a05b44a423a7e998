//! The server-wide counters and summaries that ZooKeeper 3.8 keeps in `ServerMetrics` and
//! prints in `mntr` (and its Prometheus provider serves), for the figures a standalone
//! ferrokeeper really has.
//!
//! Source: `ServerMetrics` (names and detail levels), `AvgMinMaxCounter` (avg/min/max/cnt/sum,
//! the average rounded half-up to 4 decimals), `AvgMinMaxPercentileCounter` (p50/p95/p99/p999
//! of a reservoir of 4096 samples, interpolated as Dropwizard's `UniformSnapshot` does, and
//! rounded), `ServerCnxn.sendResponse` (client response sizes exclude the 4-byte length
//! prefix), `WatchManager.triggerWatch` (a summary of how many watchers one event fired).
//!
//! Differences, on purpose: our reservoir keeps the latest 4096 samples rather than a uniform
//! random sample of all of them, and a deletion that fires data and child watches counts the
//! watchers once (ZooKeeper adds one sample per watch manager). `srst` resets all of it, as
//! `ServerStats.reset` calls `ServerMetrics.resetAll`.

use tree::ChangeKind;
use wire::OpCode;

use crate::fourlw::{BufferSizes, LatencyStats};

/// `ResettableUniformReservoir.DEFAULT_SIZE`.
const RESERVOIR_SAMPLES_MAX: usize = 4096;

/// The quantiles ZooKeeper's `mntr` prints for an advanced summary, with their key prefixes.
const MNTR_QUANTILES: [(&str, f64); 4] =
    [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)];

/// A summary: count, sum, min and max of every sample, and the latest samples for quantiles.
#[derive(Clone, Debug)]
pub struct Summary {
    pub name: &'static str,
    /// What one sample is (`pfev` prints it beside the sample count).
    pub description: &'static str,
    /// ZooKeeper's `DetailLevel.ADVANCED`: mntr prints percentiles too.
    pub is_advanced: bool,
    pub stats: LatencyStats,
    /// Ring of the latest samples; `next` is where the next one goes once it is full.
    samples: Vec<u64>,
    next: usize,
}

impl Summary {
    fn new(name: &'static str, description: &'static str, is_advanced: bool) -> Summary {
        Summary {
            name,
            description,
            is_advanced,
            stats: LatencyStats::default(),
            samples: Vec::new(),
            next: 0,
        }
    }

    pub fn record(&mut self, value: u64) {
        self.stats.record(value);
        if self.samples.len() < RESERVOIR_SAMPLES_MAX {
            self.samples.push(value);
        } else {
            self.samples[self.next] = value;
            self.next = (self.next + 1) % RESERVOIR_SAMPLES_MAX;
        }
        assert!(
            self.samples.len() <= RESERVOIR_SAMPLES_MAX,
            "reservoir overflow"
        );
        assert!(
            self.samples.len() as u64 <= self.stats.count,
            "more samples than records"
        );
    }

    /// The value at `quantile` (0..=1) of the kept samples, as Dropwizard's
    /// `UniformSnapshot.getValue`; `None` when there are none.
    pub fn quantile(&self, quantile: f64) -> Option<f64> {
        assert!(
            (0.0..=1.0).contains(&quantile),
            "quantile {quantile} out of range"
        );
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        let pos = quantile * (n as f64 + 1.0);
        let value = if pos < 1.0 {
            sorted[0] as f64
        } else if pos >= n as f64 {
            sorted[n - 1] as f64
        } else {
            let index = pos.floor() as usize;
            let lower = sorted[index - 1] as f64;
            let upper = sorted[index] as f64;
            lower + (pos - pos.floor()) * (upper - lower)
        };
        assert!(value >= sorted[0] as f64, "quantile below the minimum");
        Some(value)
    }

    /// The `mntr` lines: avg_, min_, max_, cnt_, sum_ and, if advanced, the percentiles.
    fn mntr_lines(&self, out: &mut Vec<(String, String)>) {
        let name = self.name;
        out.push((format!("avg_{name}"), self.stats.avg_server()));
        out.push((format!("min_{name}"), self.stats.min().to_string()));
        out.push((format!("max_{name}"), self.stats.max_ms.to_string()));
        out.push((format!("cnt_{name}"), self.stats.count.to_string()));
        out.push((format!("sum_{name}"), self.stats.total_ms.to_string()));
        if self.is_advanced {
            for (prefix, q) in MNTR_QUANTILES {
                // Java's Math.round of the snapshot's double; 0 for an empty snapshot.
                let value = self.quantile(q).map(|v| v.round() as u64).unwrap_or(0);
                out.push((format!("{prefix}_{name}"), value.to_string()));
            }
        }
    }
}

/// A monotonic count, as ZooKeeper's `Counter`.
#[derive(Clone, Copy, Debug)]
pub struct Counter {
    pub name: &'static str,
    pub value: u64,
    /// What it counts (`pfev` prints it).
    pub description: &'static str,
}

/// Which watch summary a fired event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    Created,
    Deleted,
    Changed,
    Children,
}

/// The summary an event's fired watches go to.
pub fn watch_kind(kind: ChangeKind) -> WatchKind {
    match kind {
        ChangeKind::NodeCreated => WatchKind::Created,
        ChangeKind::NodeDeleted => WatchKind::Deleted,
        ChangeKind::NodeDataChanged => WatchKind::Changed,
        ChangeKind::NodeChildrenChanged => WatchKind::Children,
    }
}

/// True for the requests ZooKeeper turns into txns (a request with a txn header counts as an
/// update in `ServerStats.updateLatency`, even when it fails); reads, pings, sync and
/// `multiRead` are not.
pub fn is_update(op: OpCode) -> bool {
    // Opcodes from `ZooDefs.OpCode`.
    matches!(
        op.code(),
        1 | 2 | 5 | 7 | 13 | 14 | 15 | 16 | 19 | 20 | 21 | -10 | -11
    )
}

/// Server-wide figures beyond `ServerStats`' packets and latency.
#[derive(Clone, Debug)]
pub struct OpsStats {
    /// Bytes of request packets, length prefix included (`bytes_received_count`).
    pub bytes_received: Counter,
    /// Bytes of replies to requests (`response_bytes`).
    pub response_bytes: Counter,
    /// Bytes of watch notifications (`watch_bytes`).
    pub watch_bytes: Counter,
    /// Connections refused by `maxClientCnxns` (`connection_rejected`).
    pub connection_rejected: Counter,
    /// Connections closed for sending no ConnectRequest in time.
    pub sessionless_connections_expired: Counter,
    /// Last, min and max size of what was sent to clients (replies and notifications).
    pub client_response_sizes: BufferSizes,
    pub read_latency: Summary,
    pub update_latency: Summary,
    pub node_created_watch_count: Summary,
    pub node_deleted_watch_count: Summary,
    pub node_changed_watch_count: Summary,
    pub node_children_watch_count: Summary,
}

impl Default for OpsStats {
    fn default() -> OpsStats {
        let counter = |name, description| Counter {
            name,
            value: 0,
            description,
        };
        OpsStats {
            bytes_received: counter(
                "bytes_received_count",
                "Bytes of request packets received, length prefixes included",
            ),
            response_bytes: counter("response_bytes", "Bytes of replies sent to requests"),
            watch_bytes: counter("watch_bytes", "Bytes of watch notifications sent"),
            connection_rejected: counter(
                "connection_rejected",
                "Connections refused by maxClientCnxns",
            ),
            sessionless_connections_expired: counter(
                "sessionless_connections_expired",
                "Connections closed for sending no ConnectRequest in time",
            ),
            client_response_sizes: BufferSizes::default(),
            read_latency: Summary::new("readlatency", "Read requests answered", true),
            update_latency: Summary::new(
                "updatelatency",
                "Requests that went through the log, answered",
                true,
            ),
            node_created_watch_count: Summary::new(
                "node_created_watch_count",
                "Node creations that fired watches",
                false,
            ),
            node_deleted_watch_count: Summary::new(
                "node_deleted_watch_count",
                "Node deletions that fired watches",
                false,
            ),
            node_changed_watch_count: Summary::new(
                "node_changed_watch_count",
                "Data changes that fired watches",
                false,
            ),
            node_children_watch_count: Summary::new(
                "node_children_watch_count",
                "Child list changes that fired watches",
                false,
            ),
        }
    }
}

impl OpsStats {
    /// One request packet of `payload_bytes` arrived (plus its 4-byte length prefix).
    pub fn record_packet_received(&mut self, payload_bytes: usize) {
        self.bytes_received.value += payload_bytes as u64 + 4;
    }

    /// A frame of `frame_bytes` (length prefix included) was queued for a client; it is a
    /// watch notification or a reply to a request.
    pub fn record_response(&mut self, frame_bytes: usize, is_notification: bool) {
        assert!(frame_bytes >= 4, "a frame has its length prefix");
        let size = (frame_bytes - 4) as i64;
        let sizes = &mut self.client_response_sizes;
        sizes.last = size;
        if sizes.min == -1 || size < sizes.min {
            sizes.min = size;
        }
        sizes.max = sizes.max.max(size);
        let counter = if is_notification {
            &mut self.watch_bytes
        } else {
            &mut self.response_bytes
        };
        counter.value += size as u64;
        assert!(
            sizes.min <= sizes.max,
            "min {} > max {}",
            sizes.min,
            sizes.max
        );
    }

    /// A request finished after `latency_ms`; `is_update` if it went through the log.
    pub fn record_latency(&mut self, latency_ms: u64, is_update: bool) {
        if is_update {
            self.update_latency.record(latency_ms);
        } else {
            self.read_latency.record(latency_ms);
        }
    }

    /// One event fired `watcher_count` watchers; ZooKeeper records nothing when it fired none.
    pub fn record_watches_fired(&mut self, kind: WatchKind, watcher_count: usize) {
        if watcher_count == 0 {
            return;
        }
        let summary = match kind {
            WatchKind::Created => &mut self.node_created_watch_count,
            WatchKind::Deleted => &mut self.node_deleted_watch_count,
            WatchKind::Changed => &mut self.node_changed_watch_count,
            WatchKind::Children => &mut self.node_children_watch_count,
        };
        summary.record(watcher_count as u64);
    }

    pub fn counters(&self) -> [Counter; 5] {
        [
            self.bytes_received,
            self.response_bytes,
            self.watch_bytes,
            self.connection_rejected,
            self.sessionless_connections_expired,
        ]
    }

    pub fn summaries(&self) -> [&Summary; 6] {
        [
            &self.read_latency,
            &self.update_latency,
            &self.node_created_watch_count,
            &self.node_deleted_watch_count,
            &self.node_changed_watch_count,
            &self.node_children_watch_count,
        ]
    }

    /// The `mntr` lines (keys without `zk_`): counters, then summaries.
    pub fn mntr_lines(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .counters()
            .iter()
            .map(|c| (c.name.to_string(), c.value.to_string()))
            .collect();
        for summary in self.summaries() {
            summary.mntr_lines(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_dropwizard_uniform_snapshot() {
        let mut s = Summary::new("x", "x", true);
        assert_eq!(s.quantile(0.5), None);
        for v in [1, 2, 3, 4] {
            s.record(v);
        }
        // pos = 0.5 * 5 = 2.5: halfway between the 2nd and 3rd values.
        assert_eq!(s.quantile(0.5), Some(2.5));
        // pos = 0.99 * 5 >= 4: the maximum.
        assert_eq!(s.quantile(0.99), Some(4.0));
        // pos = 0.1 * 5 < 1: the minimum.
        assert_eq!(s.quantile(0.1), Some(1.0));
    }

    #[test]
    fn reservoir_keeps_only_the_latest_samples() {
        let mut s = Summary::new("x", "x", false);
        for _ in 0..RESERVOIR_SAMPLES_MAX {
            s.record(1);
        }
        for _ in 0..RESERVOIR_SAMPLES_MAX {
            s.record(9);
        }
        assert_eq!(s.stats.count, 2 * RESERVOIR_SAMPLES_MAX as u64);
        assert_eq!(s.quantile(0.0), Some(9.0));
        assert_eq!(s.stats.min(), 1);
    }

    #[test]
    fn mntr_lines_name_summaries_like_avg_min_max_percentile_counter() {
        let mut ops = OpsStats::default();
        ops.record_latency(3, false);
        ops.record_latency(4, false);
        ops.record_response(20, false);
        ops.record_response(14, true);
        ops.record_watches_fired(WatchKind::Created, 0);
        let lines = ops.mntr_lines();
        let get = |key: &str| {
            lines
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {key} in {lines:?}"))
        };
        assert_eq!(get("avg_readlatency"), "3.5");
        assert_eq!(get("min_readlatency"), "3");
        assert_eq!(get("max_readlatency"), "4");
        assert_eq!(get("cnt_readlatency"), "2");
        assert_eq!(get("sum_readlatency"), "7");
        assert_eq!(
            get("p50_readlatency"),
            "4",
            "pos 1.5 gives 3.5, rounded half up"
        );
        assert_eq!(get("cnt_updatelatency"), "0");
        assert_eq!(get("p99_updatelatency"), "0");
        assert_eq!(get("response_bytes"), "16");
        assert_eq!(get("watch_bytes"), "10");
        assert_eq!(get("cnt_node_created_watch_count"), "0");
        assert!(lines
            .iter()
            .all(|(k, _)| k != "p50_node_created_watch_count"));
        assert_eq!(ops.client_response_sizes.last, 10);
        assert_eq!(ops.client_response_sizes.min, 10);
        assert_eq!(ops.client_response_sizes.max, 16);
    }
}

//! What the bench measured, and how it is printed: a text report, one JSON object
//! (`--json`), and a progress line on stderr every second.
//!
//! `Recorder` decides what counts: an op completed at instant `at` is recorded when
//! `measure_start <= at` and the window has not ended (`--duration` fixes the end in
//! advance; with `--ops N` the N-th recorded completion ends it). Latencies are recorded for
//! successful ops only; failures are counted per error code. Throughput is successful ops
//! per second of the window.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wire::ErrorCode;

use super::histogram::Histogram;
use super::workload::OpKind;
use super::{Options, StopAfter};

pub(super) struct Recorder {
    measure_start: Instant,
    /// Fixed in advance by `--duration`; set by the last op with `--ops`.
    measure_end: Option<Instant>,
    ops_limit: Option<u64>,
    total: Histogram,
    by_kind: Vec<Histogram>,
    errors: BTreeMap<ErrorCode, u64>,
    /// Ops recorded, successful or not.
    completed: u64,
    unexpected_notifications: u64,
    /// Since the last progress line: every completion, recorded or not.
    interval: Histogram,
    interval_errors: u64,
    interval_started_at: Instant,
}

impl Recorder {
    pub fn new(measure_start: Instant, stop_after: StopAfter) -> Recorder {
        let (measure_end, ops_limit) = match stop_after {
            StopAfter::Duration(d) => (Some(measure_start + d), None),
            StopAfter::Ops(n) => (None, Some(n)),
        };
        Recorder {
            measure_start,
            measure_end,
            ops_limit,
            total: Histogram::new(),
            by_kind: vec![Histogram::new(); OpKind::ALL.len()],
            errors: BTreeMap::new(),
            completed: 0,
            unexpected_notifications: 0,
            interval: Histogram::new(),
            interval_errors: 0,
            interval_started_at: Instant::now(),
        }
    }

    /// Accounts one completed op.
    pub fn complete(
        &mut self,
        kind: OpKind,
        started_at: Instant,
        at: Instant,
        outcome: Result<(), ErrorCode>,
    ) {
        let latency_ns =
            u64::try_from(at.saturating_duration_since(started_at).as_nanos()).unwrap_or(u64::MAX);
        match outcome {
            Ok(()) => self.interval.record(latency_ns),
            Err(_) => self.interval_errors += 1,
        }
        let is_in_window = at >= self.measure_start
            && self.measure_end.is_none_or(|end| at <= end)
            && self.ops_limit.is_none_or(|limit| self.completed < limit);
        if !is_in_window {
            return;
        }
        self.completed += 1;
        match outcome {
            Ok(()) => {
                self.total.record(latency_ns);
                self.by_kind[kind.index()].record(latency_ns);
            }
            Err(code) => *self.errors.entry(code).or_insert(0) += 1,
        }
        if self.ops_limit == Some(self.completed) {
            self.measure_end = Some(at);
        }
        assert!(
            self.ops_limit.is_none_or(|n| self.completed <= n),
            "recorded past --ops"
        );
    }

    pub fn count_unexpected_notification(&mut self) {
        self.unexpected_notifications += 1;
    }

    /// True once no more ops should be issued: the window is over.
    pub fn has_ended(&self) -> bool {
        match self.ops_limit {
            Some(limit) => self.completed >= limit,
            None => self.measure_end.is_some_and(|end| Instant::now() > end),
        }
    }

    /// True when the measurement is complete as of `now`.
    pub fn is_finished(&self, now: Instant) -> bool {
        match self.ops_limit {
            Some(limit) => self.completed >= limit,
            None => self.measure_end.is_some_and(|end| now > end),
        }
    }

    /// Prints one progress line to stderr and starts a new interval.
    pub fn print_progress(&mut self, elapsed: Duration, now: Instant) {
        let seconds = now
            .duration_since(self.interval_started_at)
            .as_secs_f64()
            .max(1e-9);
        let phase = if self.interval_started_at < self.measure_start {
            "warmup "
        } else {
            "measure"
        };
        eprintln!(
            "bench: {phase} {:6.1}s {:9.0} ops/s  p50 {:7.3} ms  p99 {:7.3} ms  errors {}",
            elapsed.as_secs_f64(),
            self.interval.count() as f64 / seconds,
            ms(self.interval.value_at_quantile(0.50)),
            ms(self.interval.value_at_quantile(0.99)),
            self.interval_errors,
        );
        self.interval.reset();
        self.interval_errors = 0;
        self.interval_started_at = now;
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Latency summary of one histogram, in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    pub ops: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(h: &Histogram) -> Latency {
        Latency {
            ops: h.count(),
            mean_ms: h.mean_ns() / 1e6,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max_ns()),
        }
    }

    fn to_json(&self) -> String {
        format!(
            "{{\"ops\":{},\"mean_ms\":{:.3},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\
             \"max_ms\":{:.3}}}",
            self.ops, self.mean_ms, self.p50_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }

    fn to_text(&self) -> String {
        format!(
            "mean {:.3}  p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            self.mean_ms, self.p50_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }
}

/// The result of one bench run.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub workload: &'static str,
    pub servers: String,
    pub sessions: usize,
    pub in_flight: usize,
    pub value_size_bytes: usize,
    pub warmup_s: f64,
    /// Length of the measured window.
    pub elapsed_s: f64,
    /// Successful ops per second of the window.
    pub ops_per_s: f64,
    pub latency: Latency,
    /// Per op kind, for the kinds that occurred (mixed has four).
    pub by_kind: Vec<(&'static str, Latency)>,
    /// Failed ops by error code.
    pub errors: Vec<(ErrorCode, u64)>,
    pub unexpected_notifications: u64,
    /// CPU the bench itself used during the window, in % of one core (Linux only).
    pub client_cpu_pct: Option<f64>,
}

impl Report {
    pub(super) fn new(
        options: &Options,
        recorder: &Recorder,
        client_cpu_pct: Option<f64>,
    ) -> Report {
        let end = recorder.measure_end.unwrap_or(recorder.measure_start);
        let elapsed_s = end
            .saturating_duration_since(recorder.measure_start)
            .as_secs_f64();
        let ops = recorder.total.count();
        let by_kind = OpKind::ALL
            .iter()
            .map(|k| (k.name(), &recorder.by_kind[k.index()]))
            .filter(|(_, h)| h.count() > 0)
            .map(|(name, h)| (name, Latency::of(h)))
            .collect();
        Report {
            workload: options.workload.name(),
            servers: options.servers.join(","),
            sessions: options.sessions,
            in_flight: options.in_flight,
            value_size_bytes: options.value_size_bytes,
            warmup_s: options.warmup.as_secs_f64(),
            elapsed_s,
            ops_per_s: if elapsed_s > 0.0 {
                ops as f64 / elapsed_s
            } else {
                0.0
            },
            latency: Latency::of(&recorder.total),
            by_kind,
            errors: recorder.errors.iter().map(|(c, n)| (*c, *n)).collect(),
            unexpected_notifications: recorder.unexpected_notifications,
            client_cpu_pct,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.iter().map(|(_, n)| n).sum()
    }

    pub fn to_text(&self) -> String {
        let mut t = String::new();
        t.push_str(&format!(
            "workload {}: {} sessions x {} in flight, {}-byte values, servers {}\n",
            self.workload, self.sessions, self.in_flight, self.value_size_bytes, self.servers
        ));
        t.push_str(&format!(
            "measured {:.2} s after {:.1} s warm-up: {} ops, {:.0} ops/s, {} errors\n",
            self.elapsed_s,
            self.warmup_s,
            self.latency.ops,
            self.ops_per_s,
            self.error_count()
        ));
        t.push_str(&format!("latency ms: {}\n", self.latency.to_text()));
        if self.by_kind.len() > 1 {
            for (name, latency) in &self.by_kind {
                t.push_str(&format!(
                    "  {name:6} {:9} ops  {}\n",
                    latency.ops,
                    latency.to_text()
                ));
            }
        }
        for (code, n) in &self.errors {
            t.push_str(&format!("errors {code}: {n}\n"));
        }
        if let Some(pct) = self.client_cpu_pct {
            t.push_str(&format!("bench client CPU: {pct:.0}% of one core\n"));
        }
        if self.unexpected_notifications > 0 {
            t.push_str(&format!(
                "unexpected notifications: {}\n",
                self.unexpected_notifications
            ));
        }
        t
    }

    /// One JSON object on one line (keys fixed, numbers with 3 decimals).
    pub fn to_json(&self) -> String {
        let by_kind: Vec<String> = self
            .by_kind
            .iter()
            .map(|(name, l)| format!("\"{name}\":{}", l.to_json()))
            .collect();
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(code, n)| format!("\"{}\":{n}", code.code()))
            .collect();
        format!(
            "{{\"workload\":\"{}\",\"servers\":\"{}\",\"sessions\":{},\"in_flight\":{},\
             \"value_size\":{},\"warmup_s\":{:.3},\"elapsed_s\":{:.3},\"ops\":{},\
             \"ops_per_s\":{:.1},\"latency\":{},\"by_op\":{{{}}},\"errors\":{{{}}},\
             \"error_count\":{},\"unexpected_notifications\":{},\"client_cpu_pct\":{}}}",
            self.workload,
            json_escape(&self.servers),
            self.sessions,
            self.in_flight,
            self.value_size_bytes,
            self.warmup_s,
            self.elapsed_s,
            self.latency.ops,
            self.ops_per_s,
            self.latency.to_json(),
            by_kind.join(","),
            errors.join(","),
            self.error_count(),
            self.unexpected_notifications,
            self.client_cpu_pct
                .map_or("null".to_string(), |p| format!("{p:.1}"))
        )
    }
}

/// `text` with quotes and backslashes escaped and control characters dropped, for JSON.
fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

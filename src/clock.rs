//! The server's view of time, read once per event-loop turn.
//!
//! Everything that needs "now" during a turn (session deadlines, txn timestamps, latency
//! figures) takes it from the `Clock` the loop refreshed at the top of the turn, so one
//! turn sees one instant and the protocol crates never read a clock themselves.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Monotonic time: deadlines and latencies.
    pub now: Instant,
    /// Wall-clock milliseconds since the epoch: ctime/mtime of znodes, TTLs.
    pub wall_ms: i64,
}

impl Clock {
    pub fn read() -> Clock {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Clock {
            now: Instant::now(),
            wall_ms,
        }
    }

    /// Milliseconds from now until `deadline`, 0 if it has passed.
    pub fn ms_until(&self, deadline: Instant) -> u64 {
        let left = deadline.saturating_duration_since(self.now);
        u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
    }

    pub fn after_ms(&self, ms: u64) -> Instant {
        self.now + Duration::from_millis(ms)
    }
}

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

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    assert!((1..=12).contains(&month), "month {month}");
    assert!((1..=31).contains(&day), "day {day}");
    (year, month, day)
}

/// `2026-11-21T16:05:09.123Z`: the UTC time stamp of the server's log lines.
pub fn utc_timestamp(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        epoch_ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_and_timestamps() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2000-02-29 (a leap day in a century leap year) is day 11016.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(utc_timestamp(1_763_741_109_123), "2025-11-21T16:05:09.123Z");
    }
}

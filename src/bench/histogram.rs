//! A fixed-size latency histogram with log-linear buckets, in the manner of HdrHistogram.
//!
//! Values are nanoseconds (`u64`). Values below 256 get a bucket each; above that, every
//! power-of-two range `[2^e, 2^(e+1))` is split into 128 equal sub-buckets, so a bucket's
//! width is at most 1/128 of its lower bound: any quantile is reported within 0.8% of the
//! recorded value, from 1 ns to `u64::MAX`, in `BUCKETS` counters (58 KiB) whatever the
//! number of values. Quantiles report a bucket's highest value (HdrHistogram's "highest
//! equivalent value"), never above the largest value recorded.
//!
//! Invariants: `count` is the sum of `counts`; `min_ns <= max_ns` once a value is recorded;
//! `sum_ns` is exact (u128 cannot overflow for fewer than 2^64 values).

/// log2 of the number of sub-buckets per power of two.
const SUB_BUCKET_BITS: u32 = 7;
/// Sub-buckets per power of two.
const SUB_BUCKETS: usize = 1 << SUB_BUCKET_BITS;
/// Values below this are counted exactly.
const LINEAR_LIMIT: u64 = 2 * SUB_BUCKETS as u64;
/// Buckets needed to reach `u64::MAX`: `index(u64::MAX) + 1`.
pub const BUCKETS: usize = (64 - SUB_BUCKET_BITS as usize - 1) * SUB_BUCKETS + 2 * SUB_BUCKETS;

const _: () = assert!(BUCKETS == 7424);

/// Latency histogram (see the module doc).
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    pub fn record(&mut self, value_ns: u64) {
        let index = bucket_index(value_ns);
        assert!(index < BUCKETS, "value {value_ns} maps to bucket {index}");
        self.counts[index] += 1;
        self.count += 1;
        self.sum_ns += u128::from(value_ns);
        self.min_ns = self.min_ns.min(value_ns);
        self.max_ns = self.max_ns.max(value_ns);
        assert!(
            self.min_ns <= self.max_ns,
            "min {} > max {}",
            self.min_ns,
            self.max_ns
        );
    }

    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.count = 0;
        self.sum_ns = 0;
        self.min_ns = u64::MAX;
        self.max_ns = 0;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    /// The exact mean (0 when empty).
    pub fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.sum_ns as f64 / self.count as f64
    }

    /// The value at `quantile` (0.0..=1.0): the highest value of the bucket holding the
    /// ceil(quantile × count)-th smallest value, capped at the maximum. 0 when empty.
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        assert!((0.0..=1.0).contains(&quantile), "quantile {quantile}");
        if self.count == 0 {
            return 0;
        }
        let rank = ((quantile * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (index, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let value = bucket_high(index).min(self.max_ns);
                assert!(value >= self.min_ns, "quantile below the minimum");
                return value;
            }
        }
        unreachable!("counts sum to count {}", self.count)
    }
}

/// The bucket of `value`.
fn bucket_index(value: u64) -> usize {
    if value < LINEAR_LIMIT {
        return value as usize;
    }
    let msb = 63 - value.leading_zeros();
    let shift = msb - SUB_BUCKET_BITS;
    let mantissa = (value >> shift) as usize;
    assert!(
        (SUB_BUCKETS..2 * SUB_BUCKETS).contains(&mantissa),
        "mantissa {mantissa}"
    );
    shift as usize * SUB_BUCKETS + mantissa
}

/// The smallest value in bucket `index`.
fn bucket_low(index: usize) -> u64 {
    if index < LINEAR_LIMIT as usize {
        return index as u64;
    }
    let shift = index / SUB_BUCKETS - 1;
    let mantissa = (index % SUB_BUCKETS + SUB_BUCKETS) as u64;
    mantissa << shift
}

/// The largest value in bucket `index`.
fn bucket_high(index: usize) -> u64 {
    if index + 1 >= BUCKETS {
        return u64::MAX;
    }
    bucket_low(index + 1) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_whole_range_without_gaps() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
        for index in 0..BUCKETS - 1 {
            assert_eq!(
                bucket_high(index) + 1,
                bucket_low(index + 1),
                "bucket {index}"
            );
            assert_eq!(bucket_index(bucket_low(index)), index);
            assert_eq!(bucket_index(bucket_high(index)), index);
        }
    }

    #[test]
    fn bucket_width_is_within_one_128th_of_the_value() {
        for index in LINEAR_LIMIT as usize..BUCKETS - 1 {
            let (low, high) = (bucket_low(index), bucket_high(index));
            assert!(
                (high - low) as f64 <= low as f64 / 128.0,
                "bucket {index}: {low}..{high}"
            );
        }
    }

    #[test]
    fn quantiles_of_a_uniform_run() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max_ns(), 10_000_000);
        assert!((1000..=1008).contains(&h.value_at_quantile(0.0)));
        assert!((h.mean_ns() - 5_000_500.0).abs() < 1e-6);
        for (q, exact) in [
            (0.5, 5_000_000.0),
            (0.99, 9_900_000.0),
            (0.999, 9_990_000.0),
        ] {
            let got = h.value_at_quantile(q) as f64;
            assert!(
                got >= exact && got <= exact * (1.0 + 1.0 / 128.0),
                "q {q}: {got}"
            );
        }
        assert_eq!(h.value_at_quantile(1.0), 10_000_000);
        assert_eq!(h.value_at_quantile(0.0), h.value_at_quantile(0.0001));
    }

    #[test]
    fn reset_empties_the_histogram() {
        let mut a = Histogram::new();
        a.record(5);
        a.record(7_000_000);
        assert_eq!(
            (a.count(), a.value_at_quantile(0.0), a.max_ns()),
            (2, 5, 7_000_000)
        );
        a.reset();
        assert_eq!(
            (a.count(), a.value_at_quantile(0.99), a.mean_ns()),
            (0, 0, 0.0)
        );
    }
}

//! Shared test helpers: a seeded SplitMix64 PRNG and record builders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use wal::{Record, SimDisk, Wal, WalOptions};

/// SplitMix64 (Steele, Lea, Flood 2014); replayable from its seed.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next_u64() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[test]
fn splitmix64_matches_reference_vectors() {
    // First outputs for seed 1234567 from the reference C implementation.
    let mut r = SplitMix64(1234567);
    assert_eq!(r.next_u64(), 6457827717110365317);
    assert_eq!(r.next_u64(), 3203168211198807973);
}

/// A record whose payload is derived from its index and term, so a test can tell whether
/// the bytes it reads back are the bytes written.
pub fn record(index: u64, term: u64, payload_len: usize) -> Record {
    let payload = (0..payload_len).map(|i| (index as usize * 31 + i * 7 + term as usize) as u8);
    Record {
        kind: (index % 3) as u8,
        term,
        index,
        payload: payload.collect(),
    }
}

pub fn dir() -> PathBuf {
    PathBuf::from("/data/log")
}

pub fn small_options() -> WalOptions {
    WalOptions {
        segment_size_bytes: 1024,
        write_buffer_size_max: 256,
    }
}

pub fn open(disk: &SimDisk, dir: &Path, options: WalOptions) -> wal::Result<Wal<SimDisk>> {
    Wal::open(disk.clone(), dir, 1, options).map(|(w, _)| w)
}

pub fn read_all(wal: &mut Wal<SimDisk>, from: u64) -> Vec<Record> {
    wal.iter_from(from)
        .unwrap()
        .collect::<wal::Result<Vec<_>>>()
        .unwrap()
}

/// A fresh log holding records `1..=count` with payload `payload_len`, synced.
pub fn filled(count: u64, payload_len: usize, options: WalOptions) -> (SimDisk, Vec<Record>) {
    let disk = SimDisk::new();
    let mut wal = open(&disk, &dir(), options).unwrap();
    let records: Vec<Record> = (1..=count)
        .map(|i| record(i, 1 + i / 10, payload_len))
        .collect();
    wal.append_batch_durable(&records).unwrap();
    (disk, records)
}

//! A tiny key-value state machine replicated by the simulator, and its client history.
//!
//! Commands: `put(key, value)` with a unique `value` (the op id), encoded in entry data.
//! Reads go through ReadIndex and never enter the log. Empty entries (leader no-ops) and
//! membership entries leave the state unchanged.

use std::collections::BTreeMap;

use crate::{Entry, EntryKind};

pub const KEYS: u64 = 5;

pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for b in bytes {
        hash ^= *b as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

pub fn encode_put(key: u64, value: u64) -> Vec<u8> {
    let mut out = b"put".to_vec();
    out.extend_from_slice(&key.to_be_bytes());
    out.extend_from_slice(&value.to_be_bytes());
    out
}

pub fn decode_put(data: &[u8]) -> Option<(u64, u64)> {
    if data.len() != 19 || &data[..3] != b"put" {
        return None;
    }
    let key = u64::from_be_bytes(data[3..11].try_into().ok()?);
    let value = u64::from_be_bytes(data[11..19].try_into().ok()?);
    Some((key, value))
}

#[derive(Clone, Default)]
pub struct Kv {
    pub map: BTreeMap<u64, u64>,
}

impl Kv {
    pub fn apply(&mut self, entry: &Entry) {
        if entry.kind != EntryKind::Normal {
            return;
        }
        if let Some((key, value)) = decode_put(&entry.data) {
            self.map.insert(key, value);
        }
    }

    pub fn get(&self, key: u64) -> u64 {
        self.map.get(&key).copied().unwrap_or(0)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.map {
            out.extend_from_slice(&k.to_be_bytes());
            out.extend_from_slice(&v.to_be_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Kv {
        assert!(
            bytes.len().is_multiple_of(16),
            "kv snapshot of {} bytes",
            bytes.len()
        );
        let map = bytes
            .chunks(16)
            .map(|c| {
                let k = u64::from_be_bytes(c[..8].try_into().expect("8 bytes"));
                let v = u64::from_be_bytes(c[8..].try_into().expect("8 bytes"));
                (k, v)
            })
            .collect();
        Kv { map }
    }

    pub fn digest(&self) -> u64 {
        fnv1a(&self.encode())
    }
}

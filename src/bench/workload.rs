//! What each bench session sends next: the op mix of each workload over the session's
//! sliding key window (see `bench/mod.rs` for the workloads).
//!
//! Invariants: `lo <= hi`; the live keys of a session, as of the requests issued so far,
//! are exactly `lo..hi`; get, set and delete target only live keys, create only `hi`.
//! The op sequence depends only on the session index (the PRNG seed), so runs are
//! repeatable. The PRNG is SplitMix64 (Steele, Lea, Flood 2014), as `raft::Prng`.

use wire::{Acl, CreateRequest, DeleteRequest, PathWatchRequest, Request, SetDataRequest};

use super::Workload;

/// The kinds of op timed separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    Create,
    Set,
    Get,
    Delete,
    Multi,
    Watch,
}

impl OpKind {
    pub const ALL: [OpKind; 6] = [
        OpKind::Create,
        OpKind::Set,
        OpKind::Get,
        OpKind::Delete,
        OpKind::Multi,
        OpKind::Watch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Set => "set",
            OpKind::Get => "get",
            OpKind::Delete => "delete",
            OpKind::Multi => "multi",
            OpKind::Watch => "watch",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// SplitMix64.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift (bias below 2^-32 for our sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "empty range");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// One op to send.
#[derive(Debug)]
pub enum Planned {
    /// A single request.
    One { kind: OpKind, request: Request },
    /// The watch workload's op: `get` (with a watch) then `set`, both on `key`.
    Watch {
        key: u64,
        get: Request,
        set: Request,
    },
}

/// One session's keys and op generator.
pub struct SessionKeys {
    /// `ROOT/sNNNN`, the parent of this session's keys.
    pub dir: String,
    /// Live keys are `lo..hi`.
    pub lo: u64,
    pub hi: u64,
    rng: Rng,
    /// The next key the watch workload tries.
    watch_cursor: u64,
}

impl SessionKeys {
    pub fn new(root: &str, session_index: usize, keys: u64) -> SessionKeys {
        SessionKeys {
            dir: format!("{root}/s{session_index:04}"),
            lo: 0,
            hi: keys,
            rng: Rng::new(0x5eed_0000 + session_index as u64),
            watch_cursor: 0,
        }
    }

    pub fn path(&self, key: u64) -> String {
        format!("{}/k{key:08}", self.dir)
    }

    pub fn live_count(&self) -> u64 {
        self.hi - self.lo
    }

    /// The next op of `workload`. `is_key_busy` says whether an outstanding watch op uses a
    /// key; the watch workload needs a free key (the caller guarantees one exists).
    pub fn plan(
        &mut self,
        workload: Workload,
        value: &[u8],
        is_key_busy: impl Fn(u64) -> bool,
    ) -> Planned {
        let (lo, hi) = (self.lo, self.hi);
        let planned = match workload {
            Workload::Create => self.plan_create(value),
            Workload::Get => self.plan_get(),
            Workload::Set => self.plan_set(value),
            Workload::Mixed => match self.rng.below(100) {
                0..=9 => self.plan_create(value),
                10..=49 => self.plan_set(value),
                50..=89 => self.plan_get(),
                _ if self.live_count() >= 2 => self.plan_delete(),
                _ => self.plan_create(value),
            },
            Workload::Multi => self.plan_multi(value),
            Workload::Watch => self.plan_watch(value, is_key_busy),
        };
        assert!(self.lo <= self.hi, "window {}..{}", self.lo, self.hi);
        assert!(
            self.lo >= lo && self.hi >= hi,
            "the window only moves forward"
        );
        planned
    }

    fn random_live_key(&mut self) -> u64 {
        assert!(
            self.live_count() > 0,
            "no live key in {}..{}",
            self.lo,
            self.hi
        );
        self.lo + self.rng.below(self.live_count())
    }

    fn create_request(&mut self, value: &[u8]) -> Request {
        let path = self.path(self.hi);
        self.hi += 1;
        Request::Create(CreateRequest {
            path,
            data: Some(value.to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        })
    }

    fn set_request(&self, key: u64, value: &[u8]) -> Request {
        Request::SetData(SetDataRequest {
            path: self.path(key),
            data: Some(value.to_vec()),
            version: -1,
        })
    }

    fn delete_oldest_request(&mut self) -> Request {
        let path = self.path(self.lo);
        self.lo += 1;
        Request::Delete(DeleteRequest { path, version: -1 })
    }

    fn plan_create(&mut self, value: &[u8]) -> Planned {
        let request = self.create_request(value);
        Planned::One {
            kind: OpKind::Create,
            request,
        }
    }

    fn plan_get(&mut self) -> Planned {
        let key = self.random_live_key();
        Planned::One {
            kind: OpKind::Get,
            request: Request::GetData(PathWatchRequest {
                path: self.path(key),
                watch: false,
            }),
        }
    }

    fn plan_set(&mut self, value: &[u8]) -> Planned {
        let key = self.random_live_key();
        Planned::One {
            kind: OpKind::Set,
            request: self.set_request(key, value),
        }
    }

    fn plan_delete(&mut self) -> Planned {
        Planned::One {
            kind: OpKind::Delete,
            request: self.delete_oldest_request(),
        }
    }

    /// create `hi`, set a live key other than `lo`, delete `lo`: ops apply in order inside
    /// the transaction, so the set's key must survive the delete that follows it.
    fn plan_multi(&mut self, value: &[u8]) -> Planned {
        assert!(self.live_count() >= 1, "multi needs a key to delete");
        let create = self.create_request(value);
        let key = self.lo + 1 + self.rng.below(self.hi - self.lo - 1);
        let set = self.set_request(key, value);
        let delete = self.delete_oldest_request();
        Planned::One {
            kind: OpKind::Multi,
            request: Request::Multi(vec![create, set, delete]),
        }
    }

    fn plan_watch(&mut self, value: &[u8], is_key_busy: impl Fn(u64) -> bool) -> Planned {
        let live = self.live_count();
        assert!(live > 0, "watch needs keys");
        let mut key = None;
        for _ in 0..live {
            let candidate = self.lo + self.watch_cursor % live;
            self.watch_cursor += 1;
            if !is_key_busy(candidate) {
                key = Some(candidate);
                break;
            }
        }
        let key = key.expect("keys_per_session > in_flight leaves a free key");
        Planned::Watch {
            key,
            get: Request::GetData(PathWatchRequest {
                path: self.path(key),
                watch: true,
            }),
            set: self.set_request(key, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Replays planned ops on a set of live paths, as a server applying them in order would.
    fn apply(live: &mut BTreeSet<String>, request: &Request) {
        match request {
            Request::Create(c) => assert!(live.insert(c.path.clone()), "create of live {}", c.path),
            Request::Delete(d) => assert!(live.remove(&d.path), "delete of missing {}", d.path),
            Request::SetData(s) => assert!(live.contains(&s.path), "set of missing {}", s.path),
            Request::GetData(g) => assert!(live.contains(&g.path), "get of missing {}", g.path),
            Request::Multi(ops) => ops.iter().for_each(|op| apply(live, op)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_workload_only_touches_live_keys() {
        for workload in Workload::ALL {
            let mut keys = SessionKeys::new("/b", 3, 10);
            let mut live: BTreeSet<String> = (0..10).map(|k| keys.path(k)).collect();
            for step in 0..3000 {
                match keys.plan(workload, b"v", |_| false) {
                    Planned::One { request, .. } => apply(&mut live, &request),
                    Planned::Watch { get, set, .. } => {
                        apply(&mut live, &get);
                        apply(&mut live, &set);
                    }
                }
                assert_eq!(live.len() as u64, keys.live_count(), "{workload:?}");
                if step % 100 == 0 {
                    let expected: BTreeSet<String> =
                        (keys.lo..keys.hi).map(|k| keys.path(k)).collect();
                    assert_eq!(live, expected, "{workload:?}");
                }
            }
        }
    }

    #[test]
    fn mixed_follows_the_10_40_40_10_split() {
        let mut keys = SessionKeys::new("/b", 0, 100);
        let mut counts = [0u32; 6];
        for _ in 0..100_000 {
            if let Planned::One { kind, .. } = keys.plan(Workload::Mixed, b"", |_| false) {
                counts[kind.index()] += 1;
            }
        }
        let share = |kind: OpKind| f64::from(counts[kind.index()]) / 100_000.0;
        assert!((share(OpKind::Create) - 0.1).abs() < 0.01);
        assert!((share(OpKind::Set) - 0.4).abs() < 0.01);
        assert!((share(OpKind::Get) - 0.4).abs() < 0.01);
        assert!((share(OpKind::Delete) - 0.1).abs() < 0.01);
    }

    #[test]
    fn watch_skips_busy_keys() {
        let mut keys = SessionKeys::new("/b", 0, 3);
        for _ in 0..10 {
            match keys.plan(Workload::Watch, b"", |k| k != 2) {
                Planned::Watch { key, .. } => assert_eq!(key, 2),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn splitmix_matches_reference_vector() {
        // First output of SplitMix64 seeded with 0 (the published test vector).
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        let mut rng = Rng::new(7);
        assert!((0..1000).all(|_| rng.below(10) < 10));
    }
}

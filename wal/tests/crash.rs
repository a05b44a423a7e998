//! Seeded crash simulation: random appends, syncs, suffix truncations, purges, resets and
//! crashes on a `SimDisk`, some crashes in the middle of an operation (the disk starts
//! failing after a random number of calls). After every crash the log must open without
//! error, return no record that was not appended (no garbage, no resurrected record), and
//! return every record that was durable.
//!
//! A failure prints `SEED=n`; `SEED=n cargo test -p wal --test crash` replays that seed
//! (`VERBOSE=1` prints every step). `SEEDS=n` runs seeds `0..n` for a longer soak.

mod common;

use common::{dir, record, SplitMix64};
use wal::{Crash, Record, SimDisk, Wal, WalOptions};

/// The log as the test believes it is: records `first..first + records.len()`.
#[derive(Debug, Clone)]
struct Model {
    first: u64,
    records: Vec<Record>,
}

impl Model {
    fn last(&self) -> u64 {
        self.first + self.records.len() as u64 - 1
    }
}

/// What a crash may leave: a log that matches `model` at every index it holds, starts at
/// or after `model.first` (a purge may have been under way), and holds every index up to
/// `durable_last`.
struct Allowed {
    model: Model,
    durable_last: u64,
}

fn check(seed: u64, step: usize, got: &Model, allowed: &[Allowed]) {
    let ok = allowed.iter().any(|a| {
        let base = a.model.first;
        got.first >= base
            && got.last() <= a.model.last()
            && got.last() >= a.durable_last.max(got.first - 1)
            && got
                .records
                .iter()
                .all(|r| r.index >= base && a.model.records[(r.index - base) as usize] == *r)
    });
    assert!(
        ok,
        "SEED={seed} step {step}: recovered {}..={} does not fit any of {:?}",
        got.first,
        got.last(),
        allowed
            .iter()
            .map(|a| (a.model.first, a.model.last(), a.durable_last))
            .collect::<Vec<_>>()
    );
}

/// How often recovery had to repair something, so the test can check it covered repairs.
#[derive(Debug, Default)]
struct Coverage {
    torn_tails: u64,
    torn_creations: u64,
    before_base: u64,
    interrupted_opens: u64,
}

fn reopen(
    disk: &SimDisk,
    rng: &mut SplitMix64,
    options: WalOptions,
    coverage: &mut Coverage,
) -> Wal<SimDisk> {
    // Sometimes crash again in the middle of recovery's own repairs.
    if rng.chance(20) {
        disk.fail_after(rng.below(4));
        if Wal::open(disk.clone(), &dir(), 1, options).is_err() {
            coverage.interrupted_opens += 1;
        }
        disk.set_failing(false);
        disk.crash(Crash::KeepRandomPrefix {
            seed: rng.next_u64(),
        });
    }
    let (wal, report) = Wal::open(disk.clone(), &dir(), 1, options).expect("open after a crash");
    coverage.torn_tails += u64::from(report.torn_tail.is_some());
    for removed in &report.removed {
        match removed.reason {
            wal::RemovedReason::TornCreation { .. } => coverage.torn_creations += 1,
            wal::RemovedReason::BeforeBase { .. } => coverage.before_base += 1,
        }
    }
    wal
}

fn recovered(wal: &mut Wal<SimDisk>) -> Model {
    let records = wal
        .iter_from(0)
        .unwrap()
        .collect::<wal::Result<Vec<_>>>()
        .unwrap();
    Model {
        first: wal.first_index(),
        records,
    }
}

fn run(seed: u64, steps: usize, coverage: &mut Coverage) {
    let mut rng = SplitMix64(seed);
    let options = WalOptions {
        segment_size_bytes: 200 + rng.below(2000),
        write_buffer_size_max: 16 + rng.below(1000) as usize,
    };
    let disk = SimDisk::new();
    let mut wal = reopen(&disk, &mut rng, options, coverage);
    let mut model = Model {
        first: 1,
        records: Vec::new(),
    };
    let mut durable_last = 0;
    let mut term = 1;
    for step in 0..steps {
        let before = Allowed {
            model: model.clone(),
            durable_last,
        };
        let is_faulty = rng.chance(10);
        if is_faulty {
            disk.fail_after(rng.below(8));
        }
        let op = rng.below(100);
        let result = match op {
            0..=49 => {
                term += rng.below(2);
                let count = 1 + rng.below(8);
                let batch: Vec<Record> = (0..count)
                    .map(|i| {
                        let len = if rng.chance(3) {
                            2500
                        } else {
                            rng.below(120) as usize
                        };
                        record(model.last() + 1 + i, term, len)
                    })
                    .collect();
                model.records.extend(batch.iter().cloned());
                if rng.chance(30) {
                    wal.append_batch_durable(&batch)
                        .map(|()| durable_last = model.last())
                } else {
                    wal.append_batch(&batch)
                }
            }
            50..=74 => wal.sync().map(|()| durable_last = model.last()),
            75..=81 => {
                let from = model.first + rng.below(model.records.len() as u64 + 1);
                model.records.truncate((from - model.first) as usize);
                // Truncation promises that the removed records stay removed, not that the
                // records before them became durable.
                durable_last = durable_last.min(from - 1);
                wal.truncate_suffix(from)
            }
            82..=87 => {
                let snapshot = model.first + rng.below(model.records.len() as u64 + 1);
                let r = wal.purge(snapshot, rng.below(10));
                if r.is_ok() {
                    let cut = (wal.first_index() - model.first) as usize;
                    model.records.drain(..cut);
                    model.first = wal.first_index();
                }
                r.map(|_| ())
            }
            88..=89 => {
                let next = model.last() + 2 + rng.below(5);
                model = Model {
                    first: next,
                    records: Vec::new(),
                };
                wal.reset(next).map(|()| durable_last = next - 1)
            }
            _ => Ok(()),
        };
        if is_faulty {
            disk.set_failing(false);
        }
        if std::env::var("VERBOSE").is_ok() {
            eprintln!("step {step} op {op} faulty {is_faulty} {result:?} model {}..={} durable {durable_last}", model.first, model.last());
            for s in wal.segments() {
                eprintln!(
                    "   seg {} {}..={} end {} size {}",
                    s.path.display(),
                    s.first_index,
                    s.last_index,
                    s.end_offset,
                    s.size_bytes
                );
            }
        }
        let is_crash = result.is_err() || op >= 90;
        if !is_crash {
            assert_eq!(
                (wal.first_index(), wal.last_index()),
                (model.first, model.last())
            );
            continue;
        }
        // A failed operation may or may not have happened, in part.
        let mut allowed = vec![Allowed {
            model: model.clone(),
            durable_last,
        }];
        if result.is_err() {
            let floor = before.durable_last.min(durable_last);
            allowed.push(Allowed {
                model: before.model,
                durable_last: floor,
            });
        }
        drop(wal);
        let mode = if rng.chance(50) {
            Crash::LoseUnsynced
        } else {
            Crash::KeepRandomPrefix {
                seed: rng.next_u64(),
            }
        };
        disk.crash(mode);
        wal = reopen(&disk, &mut rng, options, coverage);
        let got = recovered(&mut wal);
        check(seed, step, &got, &allowed);
        // Everything open returns is durable.
        durable_last = got.last();
        model = got;
        term = term.max(wal.last_term().unwrap_or(0));
    }
}

#[test]
fn random_crashes_lose_nothing_synced_and_return_no_garbage() {
    let mut coverage = Coverage::default();
    if let Ok(seed) = std::env::var("SEED") {
        run(seed.parse().expect("SEED is a number"), 400, &mut coverage);
        return;
    }
    // SEEDS=n runs seeds 0..n instead of the default 150 (for long soaks).
    let count = std::env::var("SEEDS").map_or(150, |n| n.parse().expect("SEEDS is a number"));
    for seed in 0..count {
        run(seed, 400, &mut coverage);
    }
    eprintln!("{coverage:?}");
    assert!(coverage.torn_tails > 0, "no torn tail was exercised");
    assert!(
        coverage.torn_creations > 0,
        "no torn segment creation was exercised"
    );
    assert!(
        coverage.before_base > 0,
        "no interrupted reset was exercised"
    );
    assert!(
        coverage.interrupted_opens > 0,
        "no interrupted recovery was exercised"
    );
}

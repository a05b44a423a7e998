//! The seeded whole-cluster simulator (cargo feature `sim`; the server's `ferrokeeper
//! simulate` and `tests/sim.rs` drive it).
//!
//! N nodes run in one process. One `Prng`, seeded per run, drives everything: message delay,
//! loss, duplication and reordering, partitions (symmetric and one-way), crashes that lose
//! unsynced writes (also between taking a `Ready` and persisting it), restarts, nodes whose
//! clocks tick at different speeds, client puts and ReadIndex gets, compaction, leadership
//! transfers and membership changes. After every step the checker (`checker.rs`) verifies
//! Election Safety, Log Matching, Leader Completeness and State Machine Safety; at the end
//! the client history is checked for linearizability (`linearizability.rs`). Runs alternate
//! chaos phases with calm ones (faults healed, crashed nodes restarted); by the end of each
//! calm phase a leader must have committed an entry of its term (liveness).
//!
//! A run is a function of its [`Options`] (seed, voters, faults) and its length in steps:
//! the same inputs give the same run, event for event, so a failing seed replays exactly.
//! The prefix of a run does not depend on how many steps follow it. A step is the
//! simulator's clock: each node ticks at most once per step.
//!
//! * `engine.rs`: the cluster, its clock and messages, the checks.
//! * `ready.rs`: the `Ready` contract, and client operations' results.
//! * `actions.rs`: faults, clients and operators.
//! * `network.rs`, `disk.rs`, `kv.rs`: the links, the stable storage and the state machine.
//! * `trace.rs`: the one-line forms of the trace.

mod actions;
mod checker;
mod disk;
mod engine;
mod kv;
mod linearizability;
mod network;
mod options;
mod ready;
mod trace;

pub use disk::SimDisk;
pub use engine::{Sim, Stats};
pub use options::{Bug, Fault, FaultSet, Options, VOTERS_KNOB_MAX};

/// Runs `options` for `steps` steps; `Err` names the first violation. With `options.trace`
/// the trace lines are thrown away: drive a [`Sim`] to read them.
pub fn run(options: &Options, steps: u64) -> Result<Stats, String> {
    let mut sim = Sim::new(options)?;
    for _ in 0..steps {
        sim.step()?;
        sim.take_trace();
    }
    sim.finish()?;
    Ok(*sim.stats())
}

//! Shared test support: the datadriven script runner used by the scenario tests. (The
//! simulator, its disk and its checkers live in the crate, as `raft::sim`.)

pub mod datadriven;

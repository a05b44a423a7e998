//! Shared test support: the simulator's disk, network, checkers and KV model, and the
//! datadriven script runner used by the scenario tests.
#![allow(dead_code)]

pub mod checker;
pub mod datadriven;
pub mod disk;
pub mod kv;
pub mod linearizability;
pub mod network;
pub mod sim_faults;
pub mod simulator;

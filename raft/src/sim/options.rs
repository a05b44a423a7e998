//! The simulator's knobs: how many voters, which faults, and which deliberate driver bug.
//!
//! A knob left unset keeps the seeded choice, and the simulator draws the same random numbers
//! whether a knob is set or not, so `Options::new(seed)` is exactly the run the seed always
//! gave, and a run is a function of (seed, knobs, steps).

use std::fmt;

/// The largest cluster the simulator builds at the start (`--nodes`).
pub const VOTERS_KNOB_MAX: usize = 7;

/// One kind of fault or operator action the simulator may inject during its chaos phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Messages lost on the wire.
    Drop,
    /// Messages delivered twice.
    Duplicate,
    /// Messages overtaking each other; without it every link is first-in, first-out.
    Reorder,
    /// Symmetric, one-node and one-way partitions.
    Partition,
    /// Power loss (unsynced writes are lost) and restarts.
    Crash,
    /// Latency spikes and clocks that tick at different speeds.
    Slow,
    /// Learners added, promoted and removed; voters removed.
    Membership,
    /// Leadership transfers.
    Transfer,
    /// Log compaction, hence snapshots sent to lagging followers.
    Snapshot,
}

impl Fault {
    /// Every fault, in the order `FaultSet`'s `Display` lists them.
    pub const ALL: [Fault; 9] = [
        Fault::Drop,
        Fault::Duplicate,
        Fault::Reorder,
        Fault::Partition,
        Fault::Crash,
        Fault::Slow,
        Fault::Membership,
        Fault::Transfer,
        Fault::Snapshot,
    ];

    /// The name used by `--faults`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Duplicate => "dup",
            Fault::Reorder => "reorder",
            Fault::Partition => "partition",
            Fault::Crash => "crash",
            Fault::Slow => "slow",
            Fault::Membership => "membership",
            Fault::Transfer => "transfer",
            Fault::Snapshot => "snapshot",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of faults; `FaultSet::ALL` is the simulator's historical behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FaultSet {
    bits: u16,
}

impl FaultSet {
    pub const NONE: FaultSet = FaultSet { bits: 0 };
    pub const ALL: FaultSet = FaultSet {
        bits: (1 << Fault::ALL.len()) - 1,
    };

    pub fn contains(self, fault: Fault) -> bool {
        self.bits & fault.bit() != 0
    }

    pub fn with(self, fault: Fault) -> FaultSet {
        FaultSet {
            bits: self.bits | fault.bit(),
        }
    }

    /// Parses a comma list of fault names, or `all`, or `none` (`drop,crash`, `all`).
    pub fn parse(text: &str) -> Result<FaultSet, String> {
        match text {
            "all" => return Ok(FaultSet::ALL),
            "none" => return Ok(FaultSet::NONE),
            _ => {}
        }
        let mut set = FaultSet::NONE;
        for word in text.split(',') {
            let Some(fault) = Fault::ALL.iter().find(|f| f.name() == word) else {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                return Err(format!(
                    "unknown fault '{word}' (one of {}, or all, or none)",
                    names.join(", ")
                ));
            };
            if set.contains(*fault) {
                return Err(format!("fault '{word}' given twice"));
            }
            set = set.with(*fault);
        }
        Ok(set)
    }
}

impl Default for FaultSet {
    fn default() -> FaultSet {
        FaultSet::ALL
    }
}

/// The canonical form `parse` reads back: `all`, `none`, or the names in `Fault::ALL` order.
impl fmt::Display for FaultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == FaultSet::ALL {
            return write!(f, "all");
        }
        if *self == FaultSet::NONE {
            return write!(f, "none");
        }
        let names: Vec<&str> = Fault::ALL
            .iter()
            .filter(|fault| self.contains(**fault))
            .map(|fault| fault.name())
            .collect();
        write!(f, "{}", names.join(","))
    }
}

/// A deliberately broken driver, to show the checks catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    None,
    /// Sends a `Ready`'s messages before persisting it (violates the contract in lib.rs).
    SendBeforePersist,
}

/// Everything that fixes a run, except its length in steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub seed: u64,
    /// Voters at the start, `1..=VOTERS_KNOB_MAX`; `None` keeps the seeded choice (3 or 5).
    pub voters: Option<usize>,
    pub faults: FaultSet,
    pub bug: Bug,
    /// Collect a line per event for `Sim::take_trace`.
    pub trace: bool,
}

impl Options {
    /// The seed's historical run: seeded cluster size, every fault, a correct driver.
    pub fn new(seed: u64) -> Options {
        Options {
            seed,
            voters: None,
            faults: FaultSet::ALL,
            bug: Bug::None,
            trace: false,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self.voters {
            Some(voters) if voters == 0 || voters > VOTERS_KNOB_MAX => Err(format!(
                "{voters} voters: the simulator runs 1 to {VOTERS_KNOB_MAX}"
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists_parse_and_print_canonically() {
        assert_eq!(FaultSet::parse("all"), Ok(FaultSet::ALL));
        assert_eq!(FaultSet::parse("none"), Ok(FaultSet::NONE));
        let set = FaultSet::parse("crash,drop").expect("valid list");
        assert!(set.contains(Fault::Drop));
        assert!(set.contains(Fault::Crash));
        assert!(!set.contains(Fault::Partition));
        assert_eq!(set.to_string(), "drop,crash");
        let every: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(FaultSet::parse(&every.join(",")), Ok(FaultSet::ALL));
        assert_eq!(FaultSet::ALL.to_string(), "all");
        assert_eq!(FaultSet::NONE.to_string(), "none");
    }

    #[test]
    fn bad_fault_lists_are_rejected_with_the_word() {
        assert!(FaultSet::parse("drop,fire")
            .expect_err("unknown")
            .contains("'fire'"));
        assert!(FaultSet::parse("drop,drop")
            .expect_err("twice")
            .contains("twice"));
        assert!(FaultSet::parse("").is_err());
        assert!(FaultSet::parse("drop,").is_err());
    }

    #[test]
    fn voters_knob_is_bounded() {
        let mut options = Options::new(1);
        assert_eq!(options.validate(), Ok(()));
        for voters in 1..=VOTERS_KNOB_MAX {
            options.voters = Some(voters);
            assert_eq!(options.validate(), Ok(()));
        }
        options.voters = Some(0);
        assert!(options.validate().is_err());
        options.voters = Some(VOTERS_KNOB_MAX + 1);
        assert!(options.validate().is_err());
    }
}

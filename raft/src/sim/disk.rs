//! `SimDisk`: one node's stable storage in the simulator.
//!
//! Writes of a `Ready` with `must_sync` are durable at once (the driver fsyncs them). Writes
//! of a `Ready` without it (only the commit index moved) sit in `unsynced` until the next
//! sync; `crash` throws them away, as a real page cache would.

use crate::{Entry, HardState, Ready, Snapshot, Storage};

#[derive(Default)]
pub struct SimDisk {
    hard_state: HardState,
    unsynced_hard_state: Option<HardState>,
    snapshot: Option<Snapshot>,
    /// Entries after the snapshot, contiguous.
    entries: Vec<Entry>,
}

impl SimDisk {
    pub fn new(storage: Storage) -> SimDisk {
        SimDisk {
            hard_state: storage.hard_state,
            unsynced_hard_state: None,
            snapshot: storage.snapshot,
            entries: storage.entries,
        }
    }

    /// Step 1 of the `Ready` contract.
    pub fn persist(&mut self, ready: &Ready) {
        if let Some(hs) = ready.hard_state {
            if ready.must_sync {
                self.hard_state = hs;
                self.unsynced_hard_state = None;
            } else {
                self.unsynced_hard_state = Some(hs);
            }
        }
        if ready.must_sync {
            if let Some(hs) = self.unsynced_hard_state.take() {
                self.hard_state = hs;
            }
        }
        if let Some(snapshot) = &ready.snapshot {
            self.entries.clear();
            self.snapshot = Some(snapshot.clone());
        }
        if let Some(first) = ready.entries.first() {
            self.entries.retain(|e| e.index < first.index);
            if let Some(last) = self.entries.last() {
                assert_eq!(
                    last.index.next(),
                    first.index,
                    "disk gap before {}",
                    first.index
                );
            }
            self.entries.extend(ready.entries.iter().cloned());
        }
    }

    /// The driver wrote a snapshot of its own state machine at `snapshot.meta.index`.
    pub fn compact(&mut self, snapshot: Snapshot) {
        let index = snapshot.meta.index;
        self.entries.retain(|e| e.index > index);
        self.snapshot = Some(snapshot);
    }

    /// Power loss: whatever was not synced is gone.
    pub fn crash(&mut self) {
        self.unsynced_hard_state = None;
    }

    pub fn storage(&self) -> Storage {
        let mut hard_state = self.hard_state;
        if let Some(unsynced) = self.unsynced_hard_state {
            hard_state = unsynced;
        }
        Storage {
            hard_state,
            snapshot: self.snapshot.clone(),
            snapshot_bytes: 0,
            entries: self.entries.clone(),
        }
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }
}

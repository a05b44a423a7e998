//! `Network`: the simulator's links. One seeded `Prng` decides every delay, loss, duplicate
//! and reordering; partitions block links one direction at a time, so asymmetric partitions
//! are as easy as symmetric ones. Every message crosses the wire as bytes through the peer
//! codec, so the codec is exercised on every delivery.

use std::collections::BTreeSet;

use raft::{decode_message, encode_message, Message, NodeId, Prng};

pub struct Faults {
    pub drop_per_mille: u64,
    pub duplicate_per_mille: u64,
    pub delay_steps_max: u64,
}

pub struct Network {
    in_flight: Vec<(u64, Vec<u8>)>,
    /// Directed links that drop everything: (from, to).
    blocked: BTreeSet<(NodeId, NodeId)>,
    pub faults: Faults,
    pub sent: u64,
    pub delivered: u64,
}

impl Network {
    pub fn new(faults: Faults) -> Network {
        Network {
            in_flight: Vec::new(),
            blocked: BTreeSet::new(),
            faults,
            sent: 0,
            delivered: 0,
        }
    }

    pub fn send(&mut self, prng: &mut Prng, now: u64, message: &Message) {
        self.sent += 1;
        if prng.chance(self.faults.drop_per_mille, 1000) {
            return;
        }
        let bytes = encode_message(message);
        let copies = if prng.chance(self.faults.duplicate_per_mille, 1000) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = prng.range(1, self.faults.delay_steps_max + 1);
            self.in_flight.push((now + delay, bytes.clone()));
        }
    }

    /// Messages due by `now`, in a random order (reordering), minus blocked links.
    pub fn due(&mut self, prng: &mut Prng, now: u64) -> Vec<Message> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].0 <= now {
                due.push(self.in_flight.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
        // Fisher-Yates with the simulation's PRNG.
        for i in (1..due.len()).rev() {
            let j = prng.below(i as u64 + 1) as usize;
            due.swap(i, j);
        }
        let mut out = Vec::with_capacity(due.len());
        for bytes in due {
            let (message, len) = decode_message(&bytes)
                .expect("our own frames decode")
                .expect("our own frames are complete");
            assert_eq!(len, bytes.len(), "frame length");
            if !self.blocked.contains(&(message.from, message.to)) {
                self.delivered += 1;
                out.push(message);
            }
        }
        out
    }

    pub fn block(&mut self, from: NodeId, to: NodeId) {
        self.blocked.insert((from, to));
    }

    /// Splits `ids` into two sides that cannot talk (in both directions).
    pub fn partition(&mut self, side_a: &[NodeId], side_b: &[NodeId]) {
        for a in side_a {
            for b in side_b {
                self.block(*a, *b);
                self.block(*b, *a);
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    pub fn is_healed(&self) -> bool {
        self.blocked.is_empty()
    }

    pub fn describe_partitions(&self) -> String {
        let links: Vec<String> = self
            .blocked
            .iter()
            .map(|(a, b)| format!("{a}->{b}"))
            .collect();
        links.join(" ")
    }
}

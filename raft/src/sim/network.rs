//! `Network`: the simulator's links. One seeded `Prng` decides every delay, loss, duplicate
//! and reordering; partitions block links one direction at a time, so asymmetric partitions
//! are as easy as symmetric ones. Every message crosses the wire as bytes through the peer
//! codec, so the codec is exercised on every delivery.
//!
//! Without reordering every directed link is first-in, first-out (as over TCP): a message is
//! never due before the one sent ahead of it on the same link.

use std::collections::{BTreeMap, BTreeSet};

use crate::{decode_message, encode_message, Message, NodeId, Prng};

pub struct Faults {
    pub drop_per_mille: u64,
    pub duplicate_per_mille: u64,
    pub delay_steps_max: u64,
    /// Messages due in the same step arrive shuffled, and delays may invert send order.
    pub reorder: bool,
}

/// What became of a message handed to `Network::send`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Lost,
    Once,
    Twice,
}

/// A message whose delivery time came: it reaches its node unless a partition blocks it.
pub struct Arrival {
    pub message: Message,
    pub blocked: bool,
}

pub struct Network {
    /// (due step, send sequence number, frame bytes).
    in_flight: Vec<(u64, u64, Vec<u8>)>,
    /// Directed links that drop everything: (from, to).
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Without reordering: the latest due step handed out per directed link.
    link_due: BTreeMap<(NodeId, NodeId), u64>,
    pub faults: Faults,
    pub sent: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub delivered: u64,
    pub blocked_count: u64,
}

impl Network {
    pub fn new(faults: Faults) -> Network {
        Network {
            in_flight: Vec::new(),
            blocked: BTreeSet::new(),
            link_due: BTreeMap::new(),
            faults,
            sent: 0,
            lost: 0,
            duplicated: 0,
            delivered: 0,
            blocked_count: 0,
        }
    }

    pub fn send(&mut self, prng: &mut Prng, now: u64, message: &Message) -> Sent {
        self.sent += 1;
        if prng.chance(self.faults.drop_per_mille, 1000) {
            self.lost += 1;
            return Sent::Lost;
        }
        let bytes = encode_message(message);
        let copies = if prng.chance(self.faults.duplicate_per_mille, 1000) {
            self.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = prng.range(1, self.faults.delay_steps_max + 1);
            let mut due = now + delay;
            if !self.faults.reorder {
                let link_due = self.link_due.entry((message.from, message.to)).or_insert(0);
                due = due.max(*link_due);
                *link_due = due;
            }
            self.in_flight.push((due, self.sent, bytes.clone()));
        }
        if copies == 2 {
            Sent::Twice
        } else {
            Sent::Once
        }
    }

    /// Messages due by `now`, in a random order when reordering, else in send order.
    pub fn due(&mut self, prng: &mut Prng, now: u64) -> Vec<Arrival> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].0 <= now {
                let (at, sequence, bytes) = self.in_flight.swap_remove(i);
                due.push((at, sequence, bytes));
            } else {
                i += 1;
            }
        }
        if self.faults.reorder {
            // Fisher-Yates with the simulation's PRNG.
            for i in (1..due.len()).rev() {
                let j = prng.below(i as u64 + 1) as usize;
                due.swap(i, j);
            }
        } else {
            due.sort_by_key(|(at, sequence, _)| (*at, *sequence));
        }
        let mut out = Vec::with_capacity(due.len());
        for (_, _, bytes) in due {
            let (message, len) = decode_message(&bytes)
                .expect("our own frames decode")
                .expect("our own frames are complete");
            assert_eq!(len, bytes.len(), "frame length");
            let blocked = self.blocked.contains(&(message.from, message.to));
            if blocked {
                self.blocked_count += 1;
            } else {
                self.delivered += 1;
            }
            out.push(Arrival { message, blocked });
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

    pub fn describe_partitions(&self) -> String {
        let links: Vec<String> = self
            .blocked
            .iter()
            .map(|(a, b)| format!("{a}->{b}"))
            .collect();
        links.join(" ")
    }
}

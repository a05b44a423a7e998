//! The server-local side of sessions: which connection holds each session and when it
//! expires. The replicated side (timeouts, passwords, ephemerals) lives in the tree's
//! session table and changes only through `CreateSession`/`CloseSession` txns.
//!
//! Source for behaviour: ZooKeeper's `SessionTrackerImpl` (session ids from the clock and
//! server id; expiry when no packet arrives within the timeout). ZooKeeper derives a
//! session's password from its id and a constant (`ZooKeeperServer.generatePasswd`), so
//! anyone who sees an id can compute it; ours comes from the id and this server's random
//! secret and is replicated in the CreateSession txn, so every server can check it and no
//! one can derive it. (Sessions converted from ZooKeeper keep ZooKeeper's password.)

use std::collections::BTreeMap;
use std::time::Instant;

use crate::event_loop::ConnKey;

pub const PASSWORD_BYTES: usize = 16;

#[derive(Debug)]
pub struct LocalSession {
    pub timeout_ms: i32,
    /// No packet by then and the session expires.
    pub deadline: Instant,
    /// The connection currently carrying the session, if one is.
    pub conn: Option<ConnKey>,
    /// A `CloseSession` txn is in the log; the session takes no new requests.
    pub closing: bool,
}

pub struct Sessions {
    /// Ordered by id so sweeps and 4lw listings are deterministic.
    by_id: BTreeMap<i64, LocalSession>,
    next_id: i64,
    secret: u64,
}

/// SplitMix64: the password stream for one session (also `raft::Prng`'s algorithm).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Sessions {
    /// `server_id` goes in the top byte of every id, the clock in the next 40 bits, as in
    /// `SessionTrackerImpl.initializeNextSessionId`, so ids from different servers and
    /// different starts do not collide.
    pub fn new(server_id: u8, wall_ms: i64, secret: u64) -> Sessions {
        let clock_part = ((wall_ms as u64) << 24) >> 8;
        let next_id = (clock_part | (u64::from(server_id) << 56)) as i64;
        Sessions {
            by_id: BTreeMap::new(),
            next_id,
            secret,
        }
    }

    pub fn allocate_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        assert!(
            !self.by_id.contains_key(&id),
            "session id {id:#x} allocated twice"
        );
        id
    }

    /// The password a new session gets; it travels in the CreateSession txn and every
    /// replica keeps it in the tree's session table.
    pub fn new_password(&self, session_id: i64) -> [u8; PASSWORD_BYTES] {
        let mut state = (session_id as u64) ^ self.secret;
        let mut out = [0u8; PASSWORD_BYTES];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes()[..chunk.len()]);
        }
        out
    }

    /// Constant-time comparison of a client's password with the session's.
    pub fn password_matches(expected: &[u8; PASSWORD_BYTES], given: &[u8]) -> bool {
        if given.len() != expected.len() {
            return false;
        }
        expected
            .iter()
            .zip(given)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    pub fn insert(&mut self, id: i64, session: LocalSession) {
        let previous = self.by_id.insert(id, session);
        assert!(previous.is_none(), "session {id:#x} inserted twice");
    }

    pub fn get(&self, id: i64) -> Option<&LocalSession> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: i64) -> Option<&mut LocalSession> {
        self.by_id.get_mut(&id)
    }

    pub fn remove(&mut self, id: i64) -> Option<LocalSession> {
        self.by_id.remove(&id)
    }

    /// Pushes the session's deadline out by its timeout from `now`.
    /// Every session gets a full timeout from now (a new leader's start).
    pub fn reset_deadlines(&mut self, clock: &crate::clock::Clock) {
        for session in self.by_id.values_mut() {
            session.deadline = clock.after_ms(session.timeout_ms.max(0) as u64);
        }
    }

    /// Tracks a session this server learned of from the tree (replayed, created through
    /// another member, or in a snapshot) with no connection and a full timeout from now;
    /// one already tracked is left as it is.
    pub fn adopt(&mut self, id: i64, timeout_ms: i32, clock: &crate::clock::Clock) {
        self.by_id.entry(id).or_insert_with(|| LocalSession {
            timeout_ms,
            deadline: clock.after_ms(timeout_ms.max(0) as u64),
            conn: None,
            closing: false,
        });
    }

    pub fn touch(&mut self, id: i64, now: Instant) {
        if let Some(s) = self.by_id.get_mut(&id) {
            s.deadline = now + std::time::Duration::from_millis(s.timeout_ms as u64);
        }
    }

    /// Sessions past their deadline and not already closing, in id order.
    pub fn expired(&self, now: Instant) -> Vec<i64> {
        self.by_id
            .iter()
            .filter(|(_, s)| !s.closing && s.deadline <= now)
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&i64, &LocalSession)> {
        self.by_id.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_stable_per_session_and_differ_between_sessions() {
        let s = Sessions::new(0, 1_700_000_000_000, 42);
        assert_eq!(s.new_password(7), s.new_password(7));
        assert_ne!(s.new_password(7), s.new_password(8));
        assert!(Sessions::password_matches(
            &s.new_password(7),
            &s.new_password(7)
        ));
        assert!(!Sessions::password_matches(
            &s.new_password(7),
            &s.new_password(8)
        ));
        assert!(!Sessions::password_matches(&s.new_password(7), &[0u8; 15]));
    }

    #[test]
    fn ids_carry_the_server_id_in_the_top_byte() {
        let mut s = Sessions::new(3, 1_700_000_000_000, 1);
        let a = s.allocate_id();
        let b = s.allocate_id();
        assert_eq!((a as u64) >> 56, 3);
        assert_eq!(b, a + 1);
    }
}

//! The replicated session table: which sessions exist, their negotiated timeouts, their
//! passwords (so any replica can check a reconnecting client's) and the ephemeral nodes each
//! owns (ZooKeeper keeps these in `ZKDatabase.sessionsWithTimeouts`
//! and `DataTree.ephemerals`). Expiry timing is not here: the server owns clocks and
//! proposes a CloseSession txn when a session times out.
//!
//! Invariant (checked by `DataTree::check_invariants`): a path is in a session's set iff
//! that node exists and its ephemeral_owner is that session.

use std::collections::{BTreeMap, BTreeSet};

/// Bytes in a session password (ZooKeeper's `ConnectResponse.passwd` is 16).
pub const PASSWORD_BYTES: usize = 16;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    pub timeout_ms: i32,
    /// Chosen by the server that created the session; a client resuming the session on any
    /// server must present it.
    pub password: [u8; PASSWORD_BYTES],
    /// Paths of the nodes this session owns, sorted (CloseSession deletes in this order).
    pub ephemerals: BTreeSet<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionTable {
    sessions: BTreeMap<i64, Session>,
}

impl SessionTable {
    pub fn new() -> SessionTable {
        SessionTable::default()
    }

    /// Registers a session, or updates the timeout and password of one that exists (a
    /// re-proposed CreateSession keeps its ephemerals).
    pub fn create(&mut self, session_id: i64, timeout_ms: i32, password: [u8; PASSWORD_BYTES]) {
        let session = self.sessions.entry(session_id).or_default();
        session.timeout_ms = timeout_ms;
        session.password = password;
        assert!(
            self.sessions.contains_key(&session_id),
            "session {session_id:#x} registered"
        );
    }

    /// Forgets a session; its ephemerals must already be gone.
    pub fn remove(&mut self, session_id: i64) -> Option<Session> {
        let removed = self.sessions.remove(&session_id);
        if let Some(session) = &removed {
            assert!(
                session.ephemerals.is_empty(),
                "session {session_id:#x} removed with {} ephemerals",
                session.ephemerals.len()
            );
        }
        removed
    }

    pub fn contains(&self, session_id: i64) -> bool {
        self.sessions.contains_key(&session_id)
    }

    pub fn get(&self, session_id: i64) -> Option<&Session> {
        self.sessions.get(&session_id)
    }

    pub fn timeout_ms(&self, session_id: i64) -> Option<i32> {
        self.sessions.get(&session_id).map(|s| s.timeout_ms)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Sessions in id order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &Session)> {
        self.sessions.iter().map(|(id, s)| (*id, s))
    }

    pub(crate) fn add_ephemeral(&mut self, session_id: i64, path: &str) {
        let session = self
            .sessions
            .get_mut(&session_id)
            .expect("an ephemeral is only created for a session in the table");
        let inserted = session.ephemerals.insert(path.to_string());
        assert!(
            inserted,
            "ephemeral {path} already listed for session {session_id:#x}"
        );
    }

    pub(crate) fn remove_ephemeral(&mut self, session_id: i64, path: &str) {
        let session = self
            .sessions
            .get_mut(&session_id)
            .expect("an ephemeral's owner stays in the table until its ephemerals are gone");
        let removed = session.ephemerals.remove(path);
        assert!(
            removed,
            "ephemeral {path} not listed for session {session_id:#x}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_idempotent_and_keeps_ephemerals() {
        let mut table = SessionTable::new();
        table.create(7, 3000, [0; PASSWORD_BYTES]);
        table.add_ephemeral(7, "/e");
        table.create(7, 4000, [0; PASSWORD_BYTES]);
        assert_eq!(table.timeout_ms(7), Some(4000));
        assert_eq!(table.get(7).unwrap().ephemerals.len(), 1);
        table.remove_ephemeral(7, "/e");
        assert!(table.remove(7).is_some());
        assert!(table.is_empty());
    }
}

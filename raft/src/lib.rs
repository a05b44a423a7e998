//! `raft`: Raft consensus as a pure state machine.

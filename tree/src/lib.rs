//! `tree`: the deterministic ZooKeeper data tree.

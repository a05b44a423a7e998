//! Behaviour tests of `DataTree` and `WatchManager`, grouped by op family. Expected values
//! come from ZooKeeper 3.8's source and from runs against a real 3.8 server.

mod create;
mod digest;
mod multi;
mod quota;
mod read;
mod snapshot_walk;
pub(crate) mod support;
mod update;
mod watch;

//! One module per group of `zookeeper.jute` classes, fields in jute order: `data` (Id, ACL,
//! Stat), `connect` (the handshake), `header` (request/reply headers, special xids),
//! `request`, `response`, `multi` (MultiHeader and the multi records), `watch`.

pub mod connect;
pub mod data;
pub mod header;
pub mod multi;
pub mod request;
pub mod response;
pub mod watch;

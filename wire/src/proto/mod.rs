//! One struct per `zookeeper.jute` class, fields in jute order.

pub mod data;
pub mod request;
pub mod response;

//! Hand-written primitives for the digest auth scheme: SHA-1 (FIPS 180-4) and base64
//! (RFC 4648, standard alphabet, padded), and Java's hash order of a connection's ids. No dependencies, checked against published vectors.

pub mod base64;
pub mod java_order;
pub mod sha1;

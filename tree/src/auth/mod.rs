//! Hand-written primitives for the digest auth scheme: SHA-1 (FIPS 180-4) and base64
//! (RFC 4648, standard alphabet, padded). No dependencies, checked against published vectors.

pub mod base64;
pub mod sha1;

//! The crate's one error type. Every variant that comes from a file names the file, and every
//! variant that comes from a file's bytes names the byte offset and what was expected versus
//! what was found, so the server's log line is enough to find the damage with `xxd`.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What was wrong with the bytes at a corrupt position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The stored CRC does not match the CRC of the bytes it covers.
    CrcMismatch { stored: u32, computed: u32 },
    /// A length field is outside the allowed range.
    BadLength {
        len_bytes: u64,
        min_bytes: u64,
        max_bytes: u64,
    },
    /// A record or file section runs past the end of the file.
    Truncated {
        needed_bytes: u64,
        available_bytes: u64,
    },
    /// A record has a valid CRC but not the index that must come next.
    IndexOutOfSequence { expected: u64, got: u64 },
    /// A file header's magic bytes are wrong.
    BadMagic { expected: [u8; 8], got: [u8; 8] },
    /// A file header's version is one this code cannot read.
    BadVersion { expected: u32, got: u32 },
    /// A field has a value the format does not allow.
    BadField {
        field: &'static str,
        expected: u64,
        got: u64,
    },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "crc mismatch: expected {stored:#010x} (stored), got {computed:#010x}"
                )
            }
            Damage::BadLength {
                len_bytes,
                min_bytes,
                max_bytes,
            } => write!(
                f,
                "bad length: expected {min_bytes}..={max_bytes} bytes, got {len_bytes}"
            ),
            Damage::Truncated {
                needed_bytes,
                available_bytes,
            } => write!(
                f,
                "truncated: expected {needed_bytes} bytes, got {available_bytes}"
            ),
            Damage::IndexOutOfSequence { expected, got } => {
                write!(f, "index out of sequence: expected {expected}, got {got}")
            }
            Damage::BadMagic { expected, got } => {
                write!(f, "bad magic: expected {}, got {}", hex(expected), hex(got))
            }
            Damage::BadVersion { expected, got } => {
                write!(f, "unsupported version: expected {expected}, got {got}")
            }
            Damage::BadField {
                field,
                expected,
                got,
            } => {
                write!(f, "bad {field}: expected {expected}, got {got}")
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `wal` crate's error.
#[derive(Debug)]
pub enum Error {
    /// An I/O call failed. `op` names the call (`"sync_data"`, `"rename"`, ...).
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A file's bytes are damaged at `offset` in a way that cannot be a torn write.
    Corrupt {
        path: PathBuf,
        offset: u64,
        damage: Damage,
    },
    /// Segment files do not form a contiguous log: `path` should start at `expected_index`.
    Gap {
        path: PathBuf,
        expected_index: u64,
        first_index: u64,
    },
    /// A file name that looks like ours but does not parse.
    BadFileName { path: PathBuf },
    /// A record's payload is larger than the format allows (caller's input; nothing written).
    RecordTooLarge { payload_bytes: u64, max_bytes: u64 },
    /// An earlier write or sync failed; the log refuses all further work. The server aborts.
    Poisoned,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => {
                write!(f, "wal i/o error: {op} {}: {source}", path.display())
            }
            Error::Corrupt {
                path,
                offset,
                damage,
            } => write!(
                f,
                "wal corruption in {} at byte offset {offset}: {damage}",
                path.display()
            ),
            Error::Gap {
                path,
                expected_index,
                first_index,
            } => write!(
                f,
                "wal gap: missing segment before {}: expected first index {expected_index}, \
                 got {first_index}",
                path.display()
            ),
            Error::BadFileName { path } => write!(f, "wal: bad file name {}", path.display()),
            Error::RecordTooLarge {
                payload_bytes,
                max_bytes,
            } => write!(
                f,
                "wal record too large: expected at most {max_bytes} payload bytes, \
                 got {payload_bytes}"
            ),
            Error::Poisoned => write!(f, "wal poisoned by an earlier write or sync failure"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Shorthand for the crate's results.
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an `io::Result` with the operation and path it came from.
pub(crate) fn io<T>(op: &'static str, path: &std::path::Path, r: io::Result<T>) -> Result<T> {
    r.map_err(|source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    })
}

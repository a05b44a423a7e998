//! Reader for ZooKeeper's `log.<zxid>` files (`FileTxnLog`, `Util.readTxnBytes`), the same
//! from 3.4 to 3.9:
//! ```text
//! FileHeader  int magic "ZKLG"; int version (2); long dbid          (16 bytes)
//! record      long checksum; int len; byte[len] payload; byte 'B'   (repeated)
//! padding     zeros up to the pre-allocated size
//! ```
//! `checksum` is the Adler32 of `payload`; the payload is a txn (see records.rs). As in
//! `FileTxnIterator.next`, a record of length 0 is the end of the log (pre-allocated
//! zeros), and a record cut short by the end of the file or without its 'B' is a torn
//! tail: the write a crash interrupted, never acknowledged, so the log ends there. A
//! checksum that does not match, a negative length or a payload that does not decode is
//! corruption and an error.

use wire::DecodeError;

use super::checksum::adler32;
use super::records::{decode_entry, TxnEntry};

/// "ZKLG" (`FileTxnLog.TXNLOG_MAGIC`).
pub const LOG_MAGIC: i32 = 0x5a4b_4c47;
pub const LOG_HEADER_BYTES: usize = 16;
/// checksum (8) + length (4).
const RECORD_PREFIX_BYTES: usize = 12;
/// `Util.readTxnBytes`' end-of-record marker.
const END_OF_RECORD: u8 = b'B';

/// One record and where it starts in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub offset: usize,
    pub entry: TxnEntry,
}

/// How the log ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEnd {
    /// A zero length followed only by zeros (pre-allocated padding), or the exact end of
    /// the file.
    Clean,
    /// An incomplete last record at `offset`, or a zero length with data after it.
    Torn { offset: usize, why: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnLog {
    pub dbid: i64,
    pub records: Vec<LogRecord>,
    pub end: LogEnd,
}

/// Reads every record of one log file. Offsets in errors are from the start of the file.
pub fn read_log(bytes: &[u8]) -> Result<TxnLog, DecodeError> {
    if bytes.len() < LOG_HEADER_BYTES {
        return Err(DecodeError {
            offset: bytes.len(),
            what: format!(
                "file header needs {LOG_HEADER_BYTES} bytes, the file has {}",
                bytes.len()
            ),
        });
    }
    let magic = be_i32(&bytes[0..4]);
    if magic != LOG_MAGIC {
        return Err(DecodeError {
            offset: 0,
            what: format!("bad magic {magic:#010x}, expected {LOG_MAGIC:#010x} (\"ZKLG\")"),
        });
    }
    let version = be_i32(&bytes[4..8]);
    if version != 2 {
        return Err(DecodeError {
            offset: 4,
            what: format!("txn log format version {version}, expected 2"),
        });
    }
    let dbid = be_i64(&bytes[8..16]);
    let mut records = Vec::new();
    let mut pos = LOG_HEADER_BYTES;
    let end = loop {
        match read_record(bytes, pos)? {
            Step::Record(entry, next) => {
                records.push(LogRecord { offset: pos, entry });
                pos = next;
            }
            Step::End(end) => break end,
        }
    };
    assert!(pos <= bytes.len(), "stopped inside the file");
    Ok(TxnLog { dbid, records, end })
}

enum Step {
    Record(TxnEntry, usize),
    End(LogEnd),
}

fn read_record(bytes: &[u8], pos: usize) -> Result<Step, DecodeError> {
    let rest = &bytes[pos..];
    let torn = |why: &str| {
        Ok(Step::End(LogEnd::Torn {
            offset: pos,
            why: why.to_string(),
        }))
    };
    if rest.is_empty() {
        return Ok(Step::End(LogEnd::Clean));
    }
    if rest.len() < RECORD_PREFIX_BYTES {
        if rest.iter().all(|&b| b == 0) {
            return Ok(Step::End(LogEnd::Clean));
        }
        return torn("the file ends inside a record's checksum and length");
    }
    let checksum = be_i64(&rest[0..8]);
    let len = be_i32(&rest[8..12]);
    if len == 0 || len == -1 {
        // Pre-allocated padding (or jute's null buffer): the end of this log. ZooKeeper only
        // appends, so anything but zeros after it is a record whose start was lost.
        if let Some(at) = rest.iter().position(|&b| b != 0) {
            return torn(&format!(
                "a record length of {len}, yet non-zero bytes follow at byte {}",
                pos + at
            ));
        }
        return Ok(Step::End(LogEnd::Clean));
    }
    if len < 0 {
        return Err(DecodeError {
            offset: pos + 8,
            what: format!("record length {len} is negative"),
        });
    }
    let len = len as usize;
    let payload_at = pos + RECORD_PREFIX_BYTES;
    if len > bytes.len() - payload_at {
        return torn(&format!(
            "a {len}-byte record but only {} bytes left in the file",
            bytes.len() - payload_at
        ));
    }
    let payload = &bytes[payload_at..payload_at + len];
    match bytes.get(payload_at + len) {
        None => return torn("the file ends before the record's end marker"),
        Some(&END_OF_RECORD) => {}
        Some(&other) => {
            return torn(&format!("end marker {other:#04x} instead of 'B' (0x42)"));
        }
    }
    let computed = adler32(payload);
    if checksum != i64::from(computed) {
        return Err(DecodeError {
            offset: pos,
            what: format!(
                "checksum mismatch: the record says {checksum:#x}, its {len} bytes give \
                 {computed:#x} (Adler32)"
            ),
        });
    }
    let entry = decode_entry(payload).map_err(|e| DecodeError {
        offset: payload_at + e.offset,
        what: format!("txn record: {}", e.what),
    })?;
    Ok(Step::Record(entry, payload_at + len + 1))
}

fn be_i32(b: &[u8]) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    i32::from_be_bytes(a)
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::records::op;
    use wire::Writer;

    fn record(zxid: i64) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_i64(0x11);
        w.write_i32(1);
        w.write_i64(zxid);
        w.write_i64(5);
        w.write_i32(op::CREATE_SESSION);
        w.write_i32(30_000);
        let payload = w.bytes;
        let mut out = i64::from(adler32(&payload)).to_be_bytes().to_vec();
        out.extend_from_slice(&(payload.len() as i32).to_be_bytes());
        out.extend_from_slice(&payload);
        out.push(b'B');
        out
    }

    fn log(records: &[Vec<u8>], padding: usize) -> Vec<u8> {
        let mut out = LOG_MAGIC.to_be_bytes().to_vec();
        out.extend_from_slice(&2i32.to_be_bytes());
        out.extend_from_slice(&0i64.to_be_bytes());
        for r in records {
            out.extend_from_slice(r);
        }
        out.resize(out.len() + padding, 0);
        out
    }

    #[test]
    fn reads_records_until_the_padding() {
        let bytes = log(&[record(1), record(2)], 100);
        let parsed = read_log(&bytes).expect("valid log");
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.records[1].entry.header.zxid, 2);
        assert_eq!(parsed.records[1].offset, 16 + record(1).len());
        assert_eq!(parsed.end, LogEnd::Clean);
        let mut stray = bytes.clone();
        let end = stray.len() - 1;
        stray[end] = 7;
        let parsed = read_log(&stray).expect("stray bytes are not an error");
        assert_eq!(parsed.records.len(), 2);
        let torn_at = 16 + record(1).len() + record(2).len();
        assert!(matches!(parsed.end, LogEnd::Torn { offset, .. } if offset == torn_at));
    }

    #[test]
    fn a_cut_inside_the_last_record_is_a_torn_tail_at_its_start() {
        let bytes = log(&[record(1), record(2)], 0);
        let second = 16 + record(1).len();
        for cut in second + 1..bytes.len() {
            let parsed = read_log(&bytes[..cut]).expect("torn tail is not an error");
            assert_eq!(parsed.records.len(), 1, "cut {cut}");
            // Cut inside the checksum's zero high bytes, the rest looks like padding.
            let looks_like_padding = bytes[second..cut].iter().all(|&b| b == 0);
            match parsed.end {
                LogEnd::Clean => assert!(looks_like_padding, "cut {cut}"),
                LogEnd::Torn { offset, .. } => assert_eq!(offset, second, "cut {cut}"),
            }
        }
    }

    #[test]
    fn a_flipped_payload_byte_is_a_checksum_error_naming_the_record() {
        let mut bytes = log(&[record(1), record(2)], 16);
        let second = 16 + record(1).len();
        bytes[second + 12 + 3] ^= 0x20;
        let err = read_log(&bytes).expect_err("corrupt");
        assert_eq!(err.offset, second);
        assert!(err.what.contains("checksum mismatch"), "{err}");
        let mut bad_magic = log(&[record(1)], 0);
        bad_magic[0] = b'X';
        assert_eq!(read_log(&bad_magic).expect_err("magic").offset, 0);
    }
}

//! Segment files: naming (`log.<first index as 16 hex digits>`, so name order is index
//! order), listing, creation (header, preallocation, fsync of file and directory), and the
//! scan of one segment's bytes that both the reader and the writer use.
//!
//! Invariant kept by `create_segment`: when it returns, the segment's header, its
//! preallocated length and its directory entry are durable, so a later record that is
//! synced is never lost with its file.
//!
//! Source: ZooKeeper names log files `log.<zxid hex>` the same way; etcd's `wal` likewise
//! keeps the first index of a segment in its name.

use crate::disk::{join, Disk, DiskFile};
use crate::error::{io, Damage, Error, Result};
use crate::format::{
    decode_record, encode_segment_header, is_plausible_record_start, RecordView, SegmentHeader,
    SEGMENT_HEADER_LEN,
};
use std::path::{Path, PathBuf};

pub const SEGMENT_PREFIX: &str = "log.";
const HEX_DIGITS: usize = 16;

/// What the log knows about one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub path: PathBuf,
    pub first_index: u64,
    /// `first_index - 1` when the segment holds no record.
    pub last_index: u64,
    /// Offset just past the last record (`SEGMENT_HEADER_LEN` when empty).
    pub end_offset: u64,
    /// The file's length: its preallocated size.
    pub size_bytes: u64,
}

impl SegmentInfo {
    pub fn is_empty(&self) -> bool {
        self.last_index + 1 == self.first_index
    }
}

/// `log.00000000000000ff` for first index 255.
pub fn segment_name(first_index: u64) -> String {
    format!("{SEGMENT_PREFIX}{first_index:016x}")
}

/// The first index a segment name stands for, or `None` if the name is not a segment's.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    parse_hex_name(name, SEGMENT_PREFIX, "")
}

/// Parses `<prefix><16 lower-case hex digits><suffix>`.
pub(crate) fn parse_hex_name(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let hex = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let is_hex = hex
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if hex.len() != HEX_DIGITS || !is_hex {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// The segments in `dir`, ordered by first index. A name that starts with `log.` but does
/// not parse is an error: it is ours, damaged, or a stranger in our directory.
pub fn list_segments<D: Disk>(disk: &D, dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for name in io("list", dir, disk.list(dir))? {
        if !name.starts_with(SEGMENT_PREFIX) {
            continue;
        }
        match parse_segment_name(&name) {
            Some(first_index) => out.push((first_index, join(dir, &name))),
            None => {
                return Err(Error::BadFileName {
                    path: join(dir, &name),
                })
            }
        }
    }
    out.sort();
    for pair in out.windows(2) {
        assert!(pair[0].0 < pair[1].0, "two segments named {}", pair[0].0);
    }
    Ok(out)
}

/// Creates segment `first_index` of `size_bytes` (zero-filled after the header), makes it
/// and its directory entry durable, and returns it open.
pub(crate) fn create_segment<D: Disk>(
    disk: &D,
    dir: &Path,
    first_index: u64,
    flags: u32,
    size_bytes: u64,
) -> Result<(D::File, SegmentInfo)> {
    assert!(
        size_bytes >= SEGMENT_HEADER_LEN as u64,
        "segment size {size_bytes} < header"
    );
    let path = join(dir, &segment_name(first_index));
    let mut file = io("create", &path, disk.create_new(&path))?;
    let header = encode_segment_header(&SegmentHeader { flags, first_index });
    io("write", &path, file.write_all_at(&header, 0))?;
    io("preallocate", &path, file.preallocate(size_bytes))?;
    io("sync_data", &path, file.sync_data())?;
    io("sync_dir", dir, disk.sync_dir(dir))?;
    let info = SegmentInfo {
        path,
        first_index,
        last_index: first_index - 1,
        end_offset: SEGMENT_HEADER_LEN as u64,
        size_bytes,
    };
    assert!(info.is_empty(), "a new segment is empty");
    Ok((file, info))
}

/// Removes a file and makes the removal durable before returning, so removals done one by
/// one in order persist in that order.
pub(crate) fn remove_durably<D: Disk>(disk: &D, dir: &Path, path: &Path) -> Result<()> {
    io("remove", path, disk.remove(path))?;
    io("sync_dir", dir, disk.sync_dir(dir))
}

/// Where and why a scan stopped before the end of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRecord {
    pub offset: u64,
    pub damage: Damage,
    /// The record's CRC was fine (its index was wrong), so it cannot be a torn write.
    pub is_crc_valid: bool,
    /// Index the record at `offset` should have had.
    pub expected_index: u64,
}

/// The outcome of scanning the records of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    pub end_offset: u64,
    /// `first_index - 1` if no record was valid.
    pub last_index: u64,
    pub last_term: Option<u64>,
    /// `None`: the records end cleanly (end of file, or zeros to the end of file).
    pub bad: Option<BadRecord>,
}

/// Scans the records of a whole segment image (header included), checking every CRC and
/// that indexes run on from `first_index`, calling `visit` for each valid record.
pub(crate) fn scan_records<'a>(
    bytes: &'a [u8],
    first_index: u64,
    mut visit: impl FnMut(&RecordView<'a>, u64),
) -> Scan {
    assert!(
        bytes.len() >= SEGMENT_HEADER_LEN,
        "scan needs the header's bytes"
    );
    let mut offset = SEGMENT_HEADER_LEN;
    let mut next_index = first_index;
    let mut last_term = None;
    let bad = loop {
        let rest = &bytes[offset..];
        if rest.is_empty() {
            break None;
        }
        match decode_record(rest) {
            Ok((view, len)) if view.index == next_index => {
                visit(&view, offset as u64);
                last_term = Some(view.term);
                next_index += 1;
                offset += len;
            }
            Ok((view, _)) => {
                let damage = Damage::IndexOutOfSequence {
                    expected: next_index,
                    got: view.index,
                };
                let offset = offset as u64;
                break Some(BadRecord {
                    offset,
                    damage,
                    is_crc_valid: true,
                    expected_index: next_index,
                });
            }
            // Zeros to the end of file: the preallocated space after the last record.
            Err(_) if rest.iter().all(|&b| b == 0) => break None,
            Err(damage) => {
                let offset = offset as u64;
                break Some(BadRecord {
                    offset,
                    damage,
                    is_crc_valid: false,
                    expected_index: next_index,
                });
            }
        }
    };
    let scan = Scan {
        end_offset: offset as u64,
        last_index: next_index - 1,
        last_term,
        bad,
    };
    assert!(
        scan.end_offset <= bytes.len() as u64,
        "scan ran past the bytes"
    );
    assert!(scan.last_index + 1 >= first_index, "scan went backwards");
    scan
}

/// Whether any valid record with index `index_min` or later starts after `offset`. Used to
/// tell a torn tail (nothing valid follows) from corruption (valid records follow).
pub(crate) fn has_valid_record_after(bytes: &[u8], offset: u64, index_min: u64) -> bool {
    let start = offset as usize + 1;
    (start..bytes.len()).any(|q| {
        is_plausible_record_start(&bytes[q..], index_min) && decode_record(&bytes[q..]).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_index() {
        assert_eq!(segment_name(255), "log.00000000000000ff");
        assert_eq!(parse_segment_name("log.00000000000000ff"), Some(255));
        assert_eq!(parse_segment_name("log.00000000000000FF"), None);
        assert_eq!(parse_segment_name("log.ff"), None);
        assert_eq!(parse_segment_name("snapshot.00000000000000ff"), None);
        assert!(segment_name(9) < segment_name(10));
        assert!(segment_name(0xff) < segment_name(0x100));
    }
}

//! Opening a log directory (`recover`) and reading records back (`RecordIter`).
//!
//! `recover` reads every segment and checks every record's CRC and that indexes run on
//! without gaps, within and across segments. What it does with damage:
//!
//! - **Torn tail** (truncated, with a `TornTail` report): in the *last* segment, a record
//!   that fails to decode (short, bad length, CRC mismatch) with no valid record anywhere
//!   after it. A crash in the middle of an unsynced write leaves exactly this: a prefix of
//!   the write, then the zeros of the preallocated space. The bytes from the bad record to
//!   the end of the file are zeroed durably so later appends start on a clean tail. A CRC
//!   failure on the last record is treated this way on purpose: it may be a partial write,
//!   and no record after it was ever acknowledged (records are synced in order).
//! - **Corruption** (`Error::Corrupt` with file, offset, expected vs got): a bad record with
//!   a valid record after it, found by scanning forward byte by byte for a plausible record
//!   (length in range, index not below the expected one, CRC valid); any bad record in a
//!   segment that is not the last (the writer synced it fully before creating the next);
//!   a record whose CRC is valid but whose index is out of sequence (no torn write makes a
//!   valid CRC); a damaged segment header.
//! - **Gap** (`Error::Gap`): a segment whose first index is not one past the previous
//!   segment's last index, e.g. a missing segment file.
//! - **Torn creation** (removed, reported): a last segment whose header is invalid and
//!   whose bytes after the header are all zero. The writer makes a header durable before any
//!   record goes into the file, so such a file never held a synced record.
//! - **Obsolete segments** (removed, reported): segments before the newest one flagged
//!   `FLAG_BASE`; `Wal::reset` was interrupted after creating the new base.
//!
//! Source: issue #3's rules; etcd's `wal` likewise repairs a torn last record
//! (`io.ErrUnexpectedEOF`, `wal.Repair`) and refuses a CRC mismatch elsewhere.

use crate::disk::{read_all, Disk, DiskFile};
use crate::error::{io, Damage, Error, Result};
use crate::format::{decode_record, decode_segment_header, Record, FLAG_BASE, SEGMENT_HEADER_LEN};
use crate::segment::{
    has_valid_record_after, list_segments, remove_durably, scan_records, SegmentInfo,
};
use std::fmt;
use std::path::{Path, PathBuf};

/// A torn tail that `recover` truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    /// Offset of the first byte that was not part of a valid record.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file, now zeroed.
    pub len_bytes: u64,
    /// Why the bytes at `offset` were not a record.
    pub damage: Damage,
}

/// Why `recover` removed a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemovedReason {
    /// The last segment's header never became durable; it held no record.
    TornCreation { damage: Damage },
    /// A segment older than the base segment `base_index` left by an interrupted reset.
    BeforeBase { base_index: u64 },
}

/// A file `recover` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedFile {
    pub path: PathBuf,
    pub reason: RemovedReason,
}

/// What `Wal::open` repaired; the server logs each item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub torn_tail: Option<TornTail>,
    pub removed: Vec<RemovedFile>,
}

impl fmt::Display for TornTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wal torn tail truncated in {} at byte offset {} ({} bytes zeroed): {}",
            self.path.display(),
            self.offset,
            self.len_bytes,
            self.damage
        )
    }
}

impl fmt::Display for RemovedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            RemovedReason::TornCreation { damage } => write!(
                f,
                "wal removed {}: segment creation was torn ({damage})",
                self.path.display()
            ),
            RemovedReason::BeforeBase { base_index } => write!(
                f,
                "wal removed {}: older than base segment {base_index} (interrupted reset)",
                self.path.display()
            ),
        }
    }
}

/// A verified log directory.
pub(crate) struct Recovered {
    pub segments: Vec<SegmentInfo>,
    pub last_term: Option<u64>,
    pub report: OpenReport,
}

/// Verifies (and repairs torn tails in) the log in `dir`. See the module doc.
pub(crate) fn recover<D: Disk>(disk: &D, dir: &Path) -> Result<Recovered> {
    let mut report = OpenReport::default();
    let mut named = list_segments(disk, dir)?;
    check_headers(disk, dir, &mut named, &mut report)?;
    let mut segments = Vec::with_capacity(named.len());
    let mut last_term = None;
    let count = named.len();
    for (i, (first_index, path)) in named.into_iter().enumerate() {
        if let Some(prev) = segments.last() {
            let prev: &SegmentInfo = prev;
            if first_index != prev.last_index + 1 {
                let expected_index = prev.last_index + 1;
                return Err(Error::Gap {
                    path,
                    expected_index,
                    first_index,
                });
            }
        }
        let is_last = i + 1 == count;
        let (info, term) = recover_segment(disk, path, first_index, is_last, &mut report)?;
        last_term = term.or(last_term);
        segments.push(info);
    }
    for pair in segments.windows(2) {
        assert!(
            pair[0].last_index + 1 == pair[1].first_index,
            "recovered log has a gap"
        );
    }
    Ok(Recovered {
        segments,
        last_term,
        report,
    })
}

/// Validates each header, drops a torn last creation and segments before the newest base.
fn check_headers<D: Disk>(
    disk: &D,
    dir: &Path,
    named: &mut Vec<(u64, PathBuf)>,
    report: &mut OpenReport,
) -> Result<()> {
    let mut base = 0;
    let count = named.len();
    for (i, (first_index, path)) in named.iter().enumerate() {
        let file = io("open", path, disk.open(path))?;
        let len = io("len", path, file.len_bytes())?;
        let mut header = vec![0u8; (len as usize).min(SEGMENT_HEADER_LEN)];
        io("read", path, file.read_exact_at(&mut header, 0))?;
        let header = match decode_segment_header(&header) {
            Ok(h) => h,
            Err((offset, damage)) => {
                let bytes = read_all(&file, path)?;
                let is_rest_zero = bytes.iter().skip(SEGMENT_HEADER_LEN).all(|&b| b == 0);
                if i + 1 == count && is_rest_zero {
                    remove_durably(disk, dir, path)?;
                    let reason = RemovedReason::TornCreation { damage };
                    report.removed.push(RemovedFile {
                        path: path.clone(),
                        reason,
                    });
                    named.pop();
                    break;
                }
                return Err(Error::Corrupt {
                    path: path.clone(),
                    offset,
                    damage,
                });
            }
        };
        if header.first_index != *first_index {
            let damage = Damage::BadField {
                field: "first index (file name)",
                expected: *first_index,
                got: header.first_index,
            };
            let offset = crate::format::SEG_FIRST_INDEX_OFFSET as u64;
            return Err(Error::Corrupt {
                path: path.clone(),
                offset,
                damage,
            });
        }
        if header.flags & FLAG_BASE != 0 {
            base = i;
        }
    }
    if base > 0 {
        let base_index = named[base].0;
        for (_, path) in named.drain(..base) {
            remove_durably(disk, dir, &path)?;
            let reason = RemovedReason::BeforeBase { base_index };
            report.removed.push(RemovedFile { path, reason });
        }
    }
    Ok(())
}

/// Scans one segment; truncates a torn tail if it is the last one.
fn recover_segment<D: Disk>(
    disk: &D,
    path: PathBuf,
    first_index: u64,
    is_last: bool,
    report: &mut OpenReport,
) -> Result<(SegmentInfo, Option<u64>)> {
    let mut file = io("open", &path, disk.open(&path))?;
    let bytes = read_all(&file, &path)?;
    let scan = scan_records(&bytes, first_index, |_, _| {});
    let size_bytes = bytes.len() as u64;
    if let Some(bad) = scan.bad {
        let is_corrupt = bad.is_crc_valid
            || !is_last
            || has_valid_record_after(&bytes, bad.offset, bad.expected_index);
        if is_corrupt {
            return Err(Error::Corrupt {
                path,
                offset: bad.offset,
                damage: bad.damage,
            });
        }
        // Zero the torn bytes durably: shrink, then grow back to the preallocated size.
        io("set_len", &path, file.set_len(bad.offset))?;
        io("preallocate", &path, file.preallocate(size_bytes))?;
        io("sync_data", &path, file.sync_data())?;
        report.torn_tail = Some(TornTail {
            path: path.clone(),
            offset: bad.offset,
            len_bytes: size_bytes - bad.offset,
            damage: bad.damage,
        });
    }
    let info = SegmentInfo {
        path,
        first_index,
        last_index: scan.last_index,
        end_offset: scan.end_offset,
        size_bytes,
    };
    assert!(
        info.end_offset <= info.size_bytes,
        "records end past the file"
    );
    Ok((info, scan.last_term))
}

/// Reads records in index order from a starting index, one segment in memory at a time.
/// Every CRC is checked again as it is read.
pub struct RecordIter<'a, D: Disk> {
    disk: &'a D,
    segments: Vec<SegmentInfo>,
    /// Next segment to load.
    segment_pos: usize,
    /// Bytes of the loaded segment, up to its `end_offset`.
    bytes: Vec<u8>,
    path: PathBuf,
    offset: usize,
    next_index: u64,
    is_done: bool,
}

impl<'a, D: Disk> RecordIter<'a, D> {
    pub(crate) fn new(disk: &'a D, segments: Vec<SegmentInfo>, from_index: u64) -> Self {
        // Skip whole segments that end before `from_index`.
        let segment_pos = segments
            .iter()
            .take_while(|s| s.last_index < from_index)
            .count();
        let next_index = from_index.max(segments.first().map_or(from_index, |s| s.first_index));
        RecordIter {
            disk,
            segments,
            segment_pos,
            bytes: Vec::new(),
            path: PathBuf::new(),
            offset: 0,
            next_index,
            is_done: false,
        }
    }

    fn load_next_segment(&mut self) -> Result<bool> {
        let Some(info) = self.segments.get(self.segment_pos) else {
            return Ok(false);
        };
        self.segment_pos += 1;
        let file = io("open", &info.path, self.disk.open(&info.path))?;
        self.bytes.resize(info.end_offset as usize, 0);
        io("read", &info.path, file.read_exact_at(&mut self.bytes, 0))?;
        self.path = info.path.clone();
        self.offset = SEGMENT_HEADER_LEN;
        Ok(true)
    }

    fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            if self.offset >= self.bytes.len() {
                if !self.load_next_segment()? {
                    return Ok(None);
                }
                continue;
            }
            let corrupt = |offset: usize, damage| Error::Corrupt {
                path: self.path.clone(),
                offset: offset as u64,
                damage,
            };
            let (view, len) = decode_record(&self.bytes[self.offset..])
                .map_err(|damage| corrupt(self.offset, damage))?;
            let at = self.offset;
            self.offset += len;
            if view.index < self.next_index {
                continue;
            }
            if view.index != self.next_index {
                let damage = Damage::IndexOutOfSequence {
                    expected: self.next_index,
                    got: view.index,
                };
                return Err(corrupt(at, damage));
            }
            self.next_index += 1;
            return Ok(Some(view.to_record()));
        }
    }
}

impl<D: Disk> Iterator for RecordIter<'_, D> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.is_done {
            return None;
        }
        let item = self.next_record().transpose();
        // Stop after the end or after the first error.
        if !matches!(item, Some(Ok(_))) {
            self.is_done = true;
        }
        item
    }
}

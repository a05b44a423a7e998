//! `Wal`: the open log. Appends records to the current segment, rolls to a new segment when
//! it is full, syncs, truncates a suffix (raft log conflicts), resets the log past a
//! snapshot, and purges old segments.
//!
//! Invariants (checked by `check_invariants` after every mutating call):
//! - there is at least one segment; indexes are contiguous across segments; the last
//!   segment is the current one and the only one that can hold unsynced records;
//! - `buffer` holds the encoded records from `buffer_offset` to the current segment's
//!   `end_offset`, not yet written to the file;
//! - `synced_index <= last_index()`.
//!
//! Ordering that makes crashes safe: a full segment is synced before the next is created;
//! a new segment's header and directory entry are durable before a record goes into it;
//! removals (purge, which renames a segment out of the log for its caller to delete, suffix
//! truncation, reset) are made durable one file at a time, in the order that leaves a
//! contiguous log at every step.
//!
//! Sources: etcd's `wal` (segments, a CRC per record, preallocated segment files, one
//! `fdatasync` per batch) and ZooKeeper's `FileTxnLog` (preallocated, zero-padded files).

use crate::disk::{Disk, DiskFile};
use crate::error::{io, Error, Result};
use crate::format::{
    encode_record, Record, FLAG_BASE, RECORD_PAYLOAD_SIZE_MAX, SEGMENT_HEADER_LEN,
};
use crate::reader::{recover, OpenReport, RecordIter};
use crate::segment::{create_segment, remove_durably, scan_records, SegmentInfo};
use std::path::{Path, PathBuf};

/// What `purge` renames a segment to, before its caller deletes it.
pub const PURGED_PREFIX: &str = "purged.";

fn purged_path(dir: &Path, segment: &Path) -> PathBuf {
    let name = segment
        .file_name()
        .expect("a segment path ends in its name")
        .to_string_lossy();
    dir.join(format!("{PURGED_PREFIX}{name}"))
}

/// Tunables for a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// Preallocated size of a new segment. A record too big for an empty segment of this
    /// size gets a segment of its own, sized to fit.
    pub segment_size_bytes: u64,
    /// Encoded records are written to the file once this many bytes are buffered (and on
    /// every `sync`), so a large batch is not held in memory whole.
    pub write_buffer_size_max: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size_bytes: 64 << 20,
            write_buffer_size_max: 1 << 20,
        }
    }
}

/// An open write-ahead log. See the crate doc for the durability contract.
pub struct Wal<D: Disk> {
    disk: D,
    dir: PathBuf,
    options: WalOptions,
    segments: Vec<SegmentInfo>,
    current: D::File,
    buffer: Vec<u8>,
    /// Offset in the current segment where `buffer[0]` goes.
    buffer_offset: u64,
    last_term: Option<u64>,
    synced_index: u64,
    is_poisoned: bool,
}

impl<D: Disk> Wal<D> {
    /// Opens the log in `dir` (created if missing), verifying every record and truncating a
    /// torn tail (see `reader`). An empty directory gets a first segment starting at
    /// `first_index_if_empty`. Everything the returned log holds is durable.
    pub fn open(
        disk: D,
        dir: &Path,
        first_index_if_empty: u64,
        options: WalOptions,
    ) -> Result<(Wal<D>, OpenReport)> {
        assert!(first_index_if_empty >= 1, "log indexes start at 1");
        assert!(
            options.segment_size_bytes > SEGMENT_HEADER_LEN as u64,
            "segment too small"
        );
        io("create_dir_all", dir, disk.create_dir_all(dir))?;
        for name in io("list", dir, disk.list(dir))? {
            if name.starts_with(PURGED_PREFIX) {
                let path = dir.join(&name);
                io("remove", &path, disk.remove(&path))?;
            }
        }
        let recovered = recover(&disk, dir)?;
        let mut segments = recovered.segments;
        if segments.is_empty() {
            let size = options.segment_size_bytes;
            let (_, info) = create_segment(&disk, dir, first_index_if_empty, FLAG_BASE, size)?;
            segments.push(info);
        }
        let last = segments.last().expect("at least one segment");
        let mut current = io("open", &last.path, disk.open(&last.path))?;
        // A killed (not powered-off) process leaves unsynced writes in the page cache, where
        // the reader saw them; sync them so that what we report as the log is durable.
        io("sync_data", &last.path, current.sync_data())?;
        io("sync_dir", dir, disk.sync_dir(dir))?;
        let wal = Wal {
            buffer_offset: last.end_offset,
            synced_index: last.last_index,
            disk,
            dir: dir.to_path_buf(),
            options,
            segments,
            current,
            buffer: Vec::new(),
            last_term: recovered.last_term,
            is_poisoned: false,
        };
        wal.check_invariants();
        Ok((wal, recovered.report))
    }

    /// Index of the first record kept (or of the next record, if the log is empty).
    pub fn first_index(&self) -> u64 {
        self.segments[0].first_index
    }

    /// Index of the last record appended, durable or not (`first_index() - 1` if empty).
    pub fn last_index(&self) -> u64 {
        self.current_info().last_index
    }

    /// Term of the last record, `None` if the log holds no record.
    pub fn last_term(&self) -> Option<u64> {
        self.last_term
    }

    /// Every record up to this index is durable.
    pub fn synced_index(&self) -> u64 {
        self.synced_index
    }

    /// The segments, oldest first (for `dirs`-style reporting).
    pub fn segments(&self) -> &[SegmentInfo] {
        &self.segments
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn current_info(&self) -> &SegmentInfo {
        self.segments.last().expect("a log always has a segment")
    }

    fn ensure_usable(&self) -> Result<()> {
        if self.is_poisoned {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    /// Runs `f`; if it fails, the log is poisoned (its state on disk is unknown).
    fn guard<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.ensure_usable()?;
        let result = f(self);
        if result.is_err() {
            self.is_poisoned = true;
        }
        result
    }

    /// Appends one record (buffered; durable only after `sync`). Its index must be
    /// `last_index() + 1`: the caller owns the index sequence, and a wrong one is a bug.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        check_size(record)?;
        self.guard(|wal| wal.append_one(record))?;
        self.check_invariants();
        Ok(())
    }

    /// Appends a batch (buffered). Sizes are checked first, so on `RecordTooLarge` nothing
    /// was appended.
    pub fn append_batch(&mut self, records: &[Record]) -> Result<()> {
        for record in records {
            check_size(record)?;
        }
        self.guard(|wal| records.iter().try_for_each(|r| wal.append_one(r)))?;
        self.check_invariants();
        Ok(())
    }

    /// Appends a batch and syncs it: one `fdatasync` for the whole batch (group commit).
    pub fn append_batch_durable(&mut self, records: &[Record]) -> Result<()> {
        self.append_batch(records)?;
        self.sync()
    }

    /// Writes out buffered records and `fdatasync`s the current segment. When it returns
    /// `Ok`, every record appended so far is durable.
    pub fn sync(&mut self) -> Result<()> {
        self.guard(|wal| {
            wal.flush()?;
            let path = &wal.segments.last().expect("a segment").path;
            io("sync_data", path, wal.current.sync_data())
        })?;
        self.synced_index = self.last_index();
        self.check_invariants();
        Ok(())
    }

    fn append_one(&mut self, record: &Record) -> Result<()> {
        let last_index = self.last_index();
        assert!(
            record.index == last_index + 1,
            "append index {} but last index is {last_index}",
            record.index
        );
        let len = record.encoded_len() as u64;
        let info = self.current_info();
        if info.end_offset + len > info.size_bytes {
            if info.is_empty() {
                // An empty segment too small for the record (a big record, or a segment
                // whose preallocation was lost in a crash): grow it rather than roll.
                let size = (info.end_offset + len).max(self.options.segment_size_bytes);
                let path = info.path.clone();
                io("preallocate", &path, self.current.preallocate(size))?;
                self.segments.last_mut().expect("a segment").size_bytes = size;
            } else {
                self.roll(len)?;
            }
        }
        encode_record(record, &mut self.buffer);
        let info = self.segments.last_mut().expect("a segment");
        info.end_offset += len;
        info.last_index = record.index;
        self.last_term = Some(record.term);
        if self.buffer.len() >= self.options.write_buffer_size_max {
            self.flush()?;
        }
        assert!(
            self.last_index() == record.index,
            "append did not advance the log"
        );
        Ok(())
    }

    /// Writes the buffer to the current segment (no sync).
    fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let path = &self.segments.last().expect("a segment").path;
        io(
            "write",
            path,
            self.current.write_all_at(&self.buffer, self.buffer_offset),
        )?;
        self.buffer_offset += self.buffer.len() as u64;
        self.buffer.clear();
        assert!(
            self.buffer_offset == self.current_info().end_offset,
            "flush lost bytes"
        );
        Ok(())
    }

    /// Syncs the full segment, then starts a new one that fits at least `record_len`.
    fn roll(&mut self, record_len: u64) -> Result<()> {
        self.flush()?;
        let path = self.current_info().path.clone();
        io("sync_data", &path, self.current.sync_data())?;
        let first_index = self.last_index() + 1;
        let size = self
            .options
            .segment_size_bytes
            .max(SEGMENT_HEADER_LEN as u64 + record_len);
        let (file, info) = create_segment(&self.disk, &self.dir, first_index, 0, size)?;
        self.current = file;
        self.buffer_offset = info.end_offset;
        self.segments.push(info);
        Ok(())
    }

    /// Reads records from `from_index` on (records before `first_index()` are gone).
    /// Buffered records are written out first (not synced) so the iterator sees them.
    pub fn iter_from(&mut self, from_index: u64) -> Result<RecordIter<'_, D>> {
        self.guard(|wal| wal.flush())?;
        Ok(RecordIter::new(
            &self.disk,
            self.segments.clone(),
            from_index,
        ))
    }

    /// Removes every record with index `from_index` or later (a raft log conflict), and
    /// makes the removal durable. `from_index` may be `last_index() + 1` (a no-op).
    pub fn truncate_suffix(&mut self, from_index: u64) -> Result<()> {
        let first = self.first_index();
        let last = self.last_index();
        assert!(
            from_index >= first,
            "truncate from {from_index} before first index {first}"
        );
        assert!(
            from_index <= last + 1,
            "truncate from {from_index} after last {last} + 1"
        );
        if from_index == last + 1 {
            return Ok(());
        }
        self.guard(|wal| wal.truncate_suffix_inner(from_index))?;
        assert!(
            self.last_index() + 1 == from_index,
            "truncation missed records"
        );
        self.check_invariants();
        Ok(())
    }

    fn truncate_suffix_inner(&mut self, from_index: u64) -> Result<()> {
        self.flush()?;
        // Newest first, so the log stays contiguous after each durable removal. The first
        // segment is kept (emptied) even when `from_index` is its first index.
        while self.segments.len() > 1 && self.current_info().first_index >= from_index {
            let info = self.segments.pop().expect("more than one segment");
            remove_durably(&self.disk, &self.dir, &info.path)?;
        }
        let info = self.current_info().clone();
        self.current = io("open", &info.path, self.disk.open(&info.path))?;
        let bytes = crate::disk::read_all(&self.current, &info.path)?;
        let mut cut = None;
        let mut term_before = None;
        let scan = scan_records(
            &bytes[..info.end_offset as usize],
            info.first_index,
            |r, at| {
                if r.index == from_index {
                    cut = Some(at);
                } else if r.index + 1 == from_index {
                    term_before = Some(r.term);
                }
            },
        );
        assert!(
            scan.bad.is_none(),
            "our own segment {} no longer scans",
            info.path.display()
        );
        let cut = cut.unwrap_or(info.end_offset);
        io("set_len", &info.path, self.current.set_len(cut))?;
        io(
            "preallocate",
            &info.path,
            self.current.preallocate(info.size_bytes),
        )?;
        io("sync_data", &info.path, self.current.sync_data())?;
        let info = self.segments.last_mut().expect("a segment");
        info.end_offset = cut;
        info.last_index = from_index - 1;
        self.buffer_offset = cut;
        self.synced_index = self.synced_index.min(from_index - 1);
        // Segments before the current one were popped down to the one holding
        // `from_index - 1`, so its term was seen unless the log is now empty.
        assert!(
            term_before.is_some() || info.is_empty(),
            "term of {} not found",
            from_index - 1
        );
        assert!(
            info.is_empty() <= (self.segments.len() == 1),
            "an empty older segment"
        );
        self.last_term = term_before;
        Ok(())
    }

    /// Starts the log afresh at `next_index` (after installing a snapshot that covers more
    /// than the log). A new base segment is made durable first, then older segments are
    /// removed oldest first; a crash in between leaves the base, and `open` finishes the job.
    pub fn reset(&mut self, next_index: u64) -> Result<()> {
        let last = self.last_index();
        assert!(
            next_index > last + 1,
            "reset to {next_index} must skip past last {last} + 1"
        );
        self.guard(|wal| {
            wal.buffer.clear();
            let size = wal.options.segment_size_bytes;
            let (file, info) = create_segment(&wal.disk, &wal.dir, next_index, FLAG_BASE, size)?;
            for old in std::mem::replace(&mut wal.segments, vec![info]) {
                remove_durably(&wal.disk, &wal.dir, &old.path)?;
            }
            wal.current = file;
            wal.buffer_offset = SEGMENT_HEADER_LEN as u64;
            wal.last_term = None;
            wal.synced_index = next_index - 1;
            Ok(())
        })?;
        assert!(
            self.first_index() == next_index,
            "reset did not move the first index"
        );
        self.check_invariants();
        Ok(())
    }

    /// Takes out of the log the segments whose records all have index `<= snapshot_index -
    /// reserve_count`, oldest first; never the current segment. Each is renamed to
    /// `purged.<its name>` (durably, one at a time), which no longer counts as log: deleting
    /// a large file can take tens of milliseconds, so the caller deletes the returned paths
    /// where that blocks nothing. `open` deletes any that a crash left behind.
    pub fn purge(&mut self, snapshot_index: u64, reserve_count: u64) -> Result<Vec<PathBuf>> {
        let purge_through = snapshot_index.saturating_sub(reserve_count);
        let mut removed = Vec::new();
        self.guard(|wal| {
            while wal.segments.len() > 1 && wal.segments[0].last_index <= purge_through {
                let info = wal.segments.remove(0);
                let purged = purged_path(&wal.dir, &info.path);
                io("rename", &info.path, wal.disk.rename(&info.path, &purged))?;
                io("sync_dir", &wal.dir, wal.disk.sync_dir(&wal.dir))?;
                removed.push(purged);
            }
            Ok(())
        })?;
        assert!(
            self.first_index() <= purge_through + 1 || removed.is_empty(),
            "over-purged"
        );
        self.check_invariants();
        Ok(removed)
    }

    /// Asserts the invariants in the module doc.
    pub fn check_invariants(&self) {
        assert!(!self.segments.is_empty(), "log without segments");
        for pair in self.segments.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(
                a.last_index + 1 == b.first_index,
                "segments {} and {} not contiguous",
                a.first_index,
                b.first_index
            );
        }
        for s in &self.segments {
            assert!(
                s.end_offset >= SEGMENT_HEADER_LEN as u64,
                "segment end before header"
            );
            assert!(
                s.end_offset <= s.size_bytes,
                "segment {} overfull",
                s.first_index
            );
        }
        let current = self.current_info();
        let buffered_end = self.buffer_offset + self.buffer.len() as u64;
        assert!(
            buffered_end == current.end_offset,
            "buffer does not end at the segment end"
        );
        let (synced, last) = (self.synced_index, self.last_index());
        assert!(synced <= last, "synced index {synced} > last index {last}");
    }
}

// The log lives on its own thread in the server.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Wal<crate::FileDisk>>();
    assert_send::<Wal<crate::SimDisk>>();
};

fn check_size(record: &Record) -> Result<()> {
    if record.payload.len() > RECORD_PAYLOAD_SIZE_MAX {
        return Err(Error::RecordTooLarge {
            payload_bytes: record.payload.len() as u64,
            max_bytes: RECORD_PAYLOAD_SIZE_MAX as u64,
        });
    }
    Ok(())
}

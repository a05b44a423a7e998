//! Snapshot files (layout in `format`): written through `SnapshotWriter` to
//! `snapshot.<index>.tmp`, fsynced, renamed to `snapshot.<index>`, and the directory
//! fsynced, so a crash leaves either the complete new snapshot or none (plus a stale tmp
//! file that `remove_stale_tmp` deletes at start-up). Loading checks the whole file's CRC
//! before handing out a byte of it, so the caller can fall back to an older snapshot.
//!
//! The body is streamed: the caller writes it in chunks (`write_body` or `io::Write`) and
//! reads it back in chunks (`io::Read`), so a snapshot never has to fit in memory. The CRC
//! is computed as bytes are written and checked again as the body is read back.
//!
//! Source: ZooKeeper's `FileSnap` (checksummed snapshots; on load, skip a bad newest one
//! and use an older one) and `PurgeTxnLog` (retain the N newest).

use crate::disk::{join, Disk, DiskFile};
use crate::error::{io, Damage, Error, Result};
use crate::format::{
    decode_snapshot_header, decode_snapshot_trailer, encode_snapshot_header,
    encode_snapshot_trailer_body_len, encode_snapshot_trailer_end, SnapshotHeader,
    SNAPSHOT_END_MAGIC, SNAPSHOT_HEADER_LEN, SNAPSHOT_META_SIZE_MAX, SNAPSHOT_TRAILER_LEN,
    SNAP_TRAILER_CRC_OFFSET, SNAP_TRAILER_END_MAGIC_OFFSET,
};
use crate::segment::{parse_hex_name, remove_durably};
use std::path::{Path, PathBuf};

pub const SNAPSHOT_PREFIX: &str = "snapshot.";
pub const TMP_SUFFIX: &str = ".tmp";
/// Bytes buffered before a write, and read per call while checking the CRC.
const CHUNK_BYTES: usize = 1 << 20;

/// `snapshot.0000000000000400` for last index 1024.
pub fn snapshot_name(last_index: u64) -> String {
    format!("{SNAPSHOT_PREFIX}{last_index:016x}")
}

/// The last index a (non-tmp) snapshot file name stands for.
pub fn parse_snapshot_name(name: &str) -> Option<u64> {
    parse_hex_name(name, SNAPSHOT_PREFIX, "")
}

/// A snapshot file found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    pub path: PathBuf,
    pub last_index: u64,
    pub size_bytes: u64,
}

/// Writes one snapshot. Dropping it without `finish` leaves only a tmp file.
pub struct SnapshotWriter<D: Disk> {
    disk: D,
    dir: PathBuf,
    tmp_path: PathBuf,
    final_path: PathBuf,
    file: D::File,
    last_index: u64,
    /// Bytes already written to the file.
    offset: u64,
    buffer: Vec<u8>,
    /// CRC of every byte produced so far (written or buffered).
    crc: crc32fast::Hasher,
    body_len: u64,
}

impl<D: Disk> SnapshotWriter<D> {
    /// Starts `dir/snapshot.<last_index>.tmp` (replacing a stale one) with the header and
    /// the caller's metadata blob.
    pub fn create(
        disk: D,
        dir: &Path,
        last_index: u64,
        last_term: u64,
        meta: &[u8],
    ) -> Result<SnapshotWriter<D>> {
        assert!(
            meta.len() <= SNAPSHOT_META_SIZE_MAX,
            "snapshot meta {} too big",
            meta.len()
        );
        io("create_dir_all", dir, disk.create_dir_all(dir))?;
        let final_path = join(dir, &snapshot_name(last_index));
        let tmp_path = join(dir, &format!("{}{TMP_SUFFIX}", snapshot_name(last_index)));
        let names = io("list", dir, disk.list(dir))?;
        if names.iter().any(|n| join(dir, n) == tmp_path) {
            io("remove", &tmp_path, disk.remove(&tmp_path))?;
        }
        let file = io("create", &tmp_path, disk.create_new(&tmp_path))?;
        let header = SnapshotHeader {
            last_index,
            last_term,
            meta_len: meta.len() as u32,
        };
        let mut w = SnapshotWriter {
            disk,
            dir: dir.to_path_buf(),
            tmp_path,
            final_path,
            file,
            last_index,
            offset: 0,
            buffer: Vec::with_capacity(CHUNK_BYTES),
            crc: crc32fast::Hasher::new(),
            body_len: 0,
        };
        w.push(&encode_snapshot_header(&header))?;
        w.push(meta)?;
        Ok(w)
    }

    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc.update(bytes);
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush_buffer()?;
        }
        Ok(())
    }

    fn flush_buffer(&mut self) -> Result<()> {
        let p = &self.tmp_path;
        io(
            "write",
            p,
            self.file.write_all_at(&self.buffer, self.offset),
        )?;
        self.offset += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Body bytes written so far.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Appends body bytes.
    pub fn write_body(&mut self, chunk: &[u8]) -> Result<()> {
        self.body_len += chunk.len() as u64;
        self.push(chunk)
    }

    /// Writes out what is buffered and `fdatasync`s the tmp file. A large snapshot written
    /// with a partial sync every few MiB reaches the disk in steady slices instead of one
    /// burst at `finish`, which would stall the log's fsyncs on the same device behind it.
    /// Promises nothing about durability; only `finish` does.
    pub fn sync_partial(&mut self) -> Result<()> {
        self.flush_buffer()?;
        io("sync_data", &self.tmp_path, self.file.sync_data())?;
        assert!(
            self.buffer.is_empty(),
            "nothing stays buffered after a partial sync"
        );
        Ok(())
    }

    /// Writes the trailer, fsyncs, renames into place and fsyncs the directory. When it
    /// returns `Ok`, the snapshot is durable under its final name.
    pub fn finish(mut self) -> Result<SnapshotFile> {
        self.push(&encode_snapshot_trailer_body_len(self.body_len))?;
        let crc = self.crc.clone().finalize();
        self.buffer
            .extend_from_slice(&encode_snapshot_trailer_end(crc));
        self.flush_buffer()?;
        let len = io("len", &self.tmp_path, self.file.len_bytes())?;
        assert!(
            len == self.offset,
            "snapshot file length {len} != bytes written {}",
            self.offset
        );
        io("sync_data", &self.tmp_path, self.file.sync_data())?;
        io(
            "rename",
            &self.tmp_path,
            self.disk.rename(&self.tmp_path, &self.final_path),
        )?;
        io("sync_dir", &self.dir, self.disk.sync_dir(&self.dir))?;
        let info = SnapshotFile {
            path: self.final_path.clone(),
            last_index: self.last_index,
            size_bytes: self.offset,
        };
        assert!(info.size_bytes >= (SNAPSHOT_HEADER_LEN + SNAPSHOT_TRAILER_LEN) as u64);
        Ok(info)
    }
}

impl<D: Disk> std::io::Write for SnapshotWriter<D> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_body(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A verified snapshot: header fields, metadata, and the body as an `io::Read`.
pub struct SnapshotReader<D: Disk> {
    pub path: PathBuf,
    pub last_index: u64,
    pub last_term: u64,
    pub meta: Vec<u8>,
    file: D::File,
    body_offset: u64,
    body_len: u64,
    /// Body bytes returned so far.
    position: u64,
    /// CRC recomputed while the body is read (checked at its end).
    crc: crc32fast::Hasher,
    crc_stored: u32,
}

impl<D: Disk> SnapshotReader<D> {
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Fills `buf` with body bytes from `offset`, anywhere in the body and in any order (a
    /// leader streaming the image to a follower). The file's CRC was checked when it was
    /// opened; the sequential `Read` side's end-of-body re-check is not involved.
    pub fn read_body_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.body_len) {
            let what = format!(
                "body bytes {offset}+{} asked beyond a body of {} bytes",
                buf.len(),
                self.body_len
            );
            return Err(Error::Io {
                op: "read",
                path: self.path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, what),
            });
        }
        io(
            "read",
            &self.path,
            self.file.read_exact_at(buf, self.body_offset + offset),
        )
    }
}

fn corrupt(path: &Path, offset: u64, damage: Damage) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        offset,
        damage,
    }
}

/// Opens and fully verifies a snapshot file. Any damage is `Error::Corrupt`.
pub fn open_snapshot<D: Disk>(disk: &D, path: &Path) -> Result<SnapshotReader<D>> {
    let file = io("open", path, disk.open(path))?;
    let len = io("len", path, file.len_bytes())?;
    let fixed = (SNAPSHOT_HEADER_LEN + SNAPSHOT_TRAILER_LEN) as u64;
    if len < fixed {
        return Err(corrupt(
            path,
            0,
            Damage::Truncated {
                needed_bytes: fixed,
                available_bytes: len,
            },
        ));
    }
    let mut header = [0u8; SNAPSHOT_HEADER_LEN];
    io("read", path, file.read_exact_at(&mut header, 0))?;
    let h = decode_snapshot_header(&header).map_err(|(at, damage)| corrupt(path, at, damage))?;
    let trailer_offset = len - SNAPSHOT_TRAILER_LEN as u64;
    let mut trailer = [0u8; SNAPSHOT_TRAILER_LEN];
    io(
        "read",
        path,
        file.read_exact_at(&mut trailer, trailer_offset),
    )?;
    let (body_len, crc_stored, end_magic) = decode_snapshot_trailer(&trailer);
    if end_magic != SNAPSHOT_END_MAGIC {
        let damage = Damage::BadField {
            field: "end magic",
            expected: SNAPSHOT_END_MAGIC.into(),
            got: end_magic.into(),
        };
        return Err(corrupt(
            path,
            trailer_offset + SNAP_TRAILER_END_MAGIC_OFFSET as u64,
            damage,
        ));
    }
    let body_offset = SNAPSHOT_HEADER_LEN as u64 + u64::from(h.meta_len);
    let expected_len = body_offset
        .checked_add(body_len)
        .and_then(|n| n.checked_add(SNAPSHOT_TRAILER_LEN as u64));
    if expected_len != Some(len) {
        let expected = expected_len.unwrap_or(u64::MAX);
        let damage = Damage::BadField {
            field: "file length",
            expected,
            got: len,
        };
        return Err(corrupt(path, trailer_offset, damage));
    }
    let crc_end = trailer_offset + SNAP_TRAILER_CRC_OFFSET as u64;
    let computed = crc_of_range(&file, path, crc_end)?;
    if computed != crc_stored {
        let damage = Damage::CrcMismatch {
            stored: crc_stored,
            computed,
        };
        return Err(corrupt(path, crc_end, damage));
    }
    let mut meta = vec![0u8; h.meta_len as usize];
    io(
        "read",
        path,
        file.read_exact_at(&mut meta, SNAPSHOT_HEADER_LEN as u64),
    )?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header);
    crc.update(&meta);
    Ok(SnapshotReader {
        path: path.to_path_buf(),
        last_index: h.last_index,
        last_term: h.last_term,
        meta,
        file,
        body_offset,
        body_len,
        position: 0,
        crc,
        crc_stored,
    })
}

fn crc_of_range<F: DiskFile>(file: &F, path: &Path, end: u64) -> Result<u32> {
    let mut crc = crc32fast::Hasher::new();
    // No bigger than the range: a small (or lying) file gets a small buffer.
    let mut buf = vec![0u8; end.min(CHUNK_BYTES as u64) as usize];
    let mut at = 0;
    while at < end {
        let n = (end - at).min(CHUNK_BYTES as u64) as usize;
        io("read", path, file.read_exact_at(&mut buf[..n], at))?;
        crc.update(&buf[..n]);
        at += n as u64;
    }
    Ok(crc.finalize())
}

impl<D: Disk> std::io::Read for SnapshotReader<D> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let remaining = self.body_len - self.position;
        let n = (buf.len() as u64).min(remaining) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.file
            .read_exact_at(&mut buf[..n], self.body_offset + self.position)?;
        self.crc.update(&buf[..n]);
        self.position += n as u64;
        if self.position == self.body_len {
            // Pair check: the bytes handed out are the bytes that were verified.
            let mut crc = self.crc.clone();
            crc.update(&encode_snapshot_trailer_body_len(self.body_len));
            let computed = crc.finalize();
            if computed != self.crc_stored {
                let msg = format!(
                    "snapshot {} changed while read: crc expected {:#010x}, got {computed:#010x}",
                    self.path.display(),
                    self.crc_stored
                );
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, msg));
            }
        }
        Ok(n)
    }
}

/// Snapshots in `dir`, newest (highest index) first. Tmp files are not listed.
pub fn list_snapshots<D: Disk>(disk: &D, dir: &Path) -> Result<Vec<SnapshotFile>> {
    let mut out = Vec::new();
    for name in io("list", dir, disk.list(dir))? {
        let Some(last_index) = parse_snapshot_name(&name) else {
            continue;
        };
        let path = join(dir, &name);
        let file = io("open", &path, disk.open(&path))?;
        let size_bytes = io("len", &path, file.len_bytes())?;
        out.push(SnapshotFile {
            path,
            last_index,
            size_bytes,
        });
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.last_index));
    Ok(out)
}

/// The newest snapshot that verifies, and the `Error::Corrupt` of each newer one skipped
/// (for the server to log). Errors other than corruption are returned as they are.
pub fn open_newest_valid<D: Disk>(
    disk: &D,
    dir: &Path,
) -> Result<(Option<SnapshotReader<D>>, Vec<Error>)> {
    let mut skipped = Vec::new();
    for snap in list_snapshots(disk, dir)? {
        match open_snapshot(disk, &snap.path) {
            Ok(reader) => return Ok((Some(reader), skipped)),
            Err(e @ Error::Corrupt { .. }) => skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    Ok((None, skipped))
}

/// Removes all but the `keep_count` newest snapshots (by index). Returns what it removed.
pub fn retain_snapshots<D: Disk>(disk: &D, dir: &Path, keep_count: usize) -> Result<Vec<PathBuf>> {
    assert!(keep_count >= 1, "retention must keep at least one snapshot");
    let mut removed = Vec::new();
    for snap in list_snapshots(disk, dir)?.into_iter().skip(keep_count) {
        remove_durably(disk, dir, &snap.path)?;
        removed.push(snap.path);
    }
    Ok(removed)
}

/// Removes leftover `snapshot.*.tmp` files. Call at start-up only: a tmp file may belong to a
/// snapshot being written.
pub fn remove_stale_tmp<D: Disk>(disk: &D, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for name in io("list", dir, disk.list(dir))? {
        if parse_hex_name(&name, SNAPSHOT_PREFIX, TMP_SUFFIX).is_some() {
            let path = join(dir, &name);
            remove_durably(disk, dir, &path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

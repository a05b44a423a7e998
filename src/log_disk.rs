//! The disk the write-ahead log lives on (`wal::Disk` for the server): files as
//! `wal::FileDisk` makes them, with new segments preallocated by `fallocate(2)` and
//! written with zeros a stretch ahead of the appends.

use std::path::Path;

use wal::{Disk, DiskFile, FileDisk};

/// The disk the write-ahead log lives on: `FileDisk`, except that new segments get real
/// blocks from `fallocate(2)` (ZooKeeper pads its logs likewise) so appends into them
/// allocate nothing, and are written with zeros a stretch ahead of the appends (below).
/// Filesystems without fallocate get `set_len`, as `FileDisk` does.
pub struct LogDisk;

/// How far ahead of the appends a new segment is written with zeros. Blocks from
/// `fallocate` are "unwritten" extents (ext4, XFS): the first write into one converts it,
/// which is a metadata change, so every `fdatasync` that covers fresh blocks must write
/// metadata too. Writing zeros a stretch ahead makes that one metadata write per stretch
/// (hundreds of batches) instead of one per batch; on the benchmark machine (ext4 on
/// virtio) each fsync took a third less time and system CPU. The zeros are what the
/// segment format puts after the last record anyway.
const ZERO_AHEAD_BYTES: u64 = 1 << 20;

pub struct LogFile {
    file: wal::disk::FsFile,
    /// For a segment this process created: every byte below this offset has been written
    /// (with a record or with zeros), and nothing above it. None for a segment opened at
    /// recovery, whose history is unknown; it is written as it comes.
    zeroed_to: Option<u64>,
}

impl LogFile {
    /// Writes zeros from `zeroed_to` to a stretch past `end` (no further than the file's
    /// length), before a write that ends at `end`. Only bytes no write has reached are
    /// zeroed, so no record is ever overwritten.
    fn zero_ahead(&mut self, end: u64) -> std::io::Result<()> {
        let Some(zeroed_to) = self.zeroed_to else {
            return Ok(());
        };
        if end <= zeroed_to {
            return Ok(());
        }
        let target = (end + ZERO_AHEAD_BYTES).min(self.file.len_bytes()?);
        if target > zeroed_to {
            let zeros = vec![0u8; (target - zeroed_to) as usize];
            self.file.write_all_at(&zeros, zeroed_to)?;
        }
        self.zeroed_to = Some(target.max(end));
        Ok(())
    }
}

impl DiskFile for LogFile {
    fn len_bytes(&self) -> std::io::Result<u64> {
        self.file.len_bytes()
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_all_at(&mut self, data: &[u8], offset: u64) -> std::io::Result<()> {
        self.zero_ahead(offset + data.len() as u64)?;
        self.file.write_all_at(data, offset)
    }

    fn set_len(&mut self, len_bytes: u64) -> std::io::Result<()> {
        // Bytes past a cut read as zeros again once the file grows back.
        self.zeroed_to = self.zeroed_to.map(|z| z.min(len_bytes));
        self.file.set_len(len_bytes)
    }

    fn preallocate(&mut self, len_bytes: u64) -> std::io::Result<()> {
        use std::os::unix::io::AsRawFd;
        match crate::sys::fallocate(self.file.as_raw_fd(), len_bytes) {
            Ok(()) => {
                // fallocate never shrinks; the segment must be exactly this long.
                if self.file.len_bytes()? != len_bytes {
                    self.set_len(len_bytes)?;
                }
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => self.set_len(len_bytes),
            Err(e) => Err(e),
        }
    }

    fn sync_data(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}

impl Disk for LogDisk {
    type File = LogFile;

    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        FileDisk.create_dir_all(dir)
    }

    fn create_new(&self, path: &Path) -> std::io::Result<LogFile> {
        FileDisk.create_new(path).map(|file| LogFile {
            file,
            zeroed_to: Some(0),
        })
    }

    fn open(&self, path: &Path) -> std::io::Result<LogFile> {
        FileDisk.open(path).map(|file| LogFile {
            file,
            zeroed_to: None,
        })
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        FileDisk.list(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        FileDisk.rename(from, to)
    }

    fn remove(&self, path: &Path) -> std::io::Result<()> {
        FileDisk.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        FileDisk.sync_dir(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fk-logfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn read_all(path: &Path) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_new_segment_is_zeroed_a_stretch_ahead_and_keeps_every_write() {
        let dir = scratch("new");
        let path = dir.join("seg");
        let size = 3 * ZERO_AHEAD_BYTES;
        let mut file = LogDisk.create_new(&path).unwrap();
        file.write_all_at(&[7u8; 32], 0).unwrap();
        file.preallocate(size).unwrap();
        let mut model = vec![0u8; size as usize];
        model[..32].fill(7);
        let mut at = 32u64;
        for i in 0..40u64 {
            // Records of growing size, the last ones crossing stretch boundaries.
            let record = vec![(i % 250 + 1) as u8; (1000 + i * 60_000) as usize];
            if at + record.len() as u64 > size {
                break;
            }
            file.write_all_at(&record, at).unwrap();
            model[at as usize..at as usize + record.len()].copy_from_slice(&record);
            at += record.len() as u64;
            let zeroed = file.zeroed_to.expect("a new segment zeroes ahead");
            assert!(zeroed >= at, "zeroed to {zeroed}, written to {at}");
            assert!(zeroed <= size, "zeroes stay inside the segment");
            assert!(
                zeroed - at <= ZERO_AHEAD_BYTES,
                "zeroed to {zeroed}, more than a stretch past {at}"
            );
        }
        assert!(at > 2 * ZERO_AHEAD_BYTES, "the writes crossed stretches");
        assert_eq!(file.zeroed_to, Some(size), "zeroed to the end");
        assert_eq!(file.len_bytes().unwrap(), size, "the length never moves");
        file.sync_data().unwrap();
        assert_eq!(read_all(&path), model);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_cut_segment_zeroes_again_from_the_cut() {
        let dir = scratch("cut");
        let path = dir.join("seg");
        let size = 2 * ZERO_AHEAD_BYTES;
        let mut file = LogDisk.create_new(&path).unwrap();
        file.preallocate(size).unwrap();
        file.write_all_at(&[1u8; 5000], 0).unwrap();
        assert_eq!(file.zeroed_to, Some(5000 + ZERO_AHEAD_BYTES));
        // A suffix of the log is cut (a conflicting leader), then the segment regrows.
        file.set_len(3000).unwrap();
        assert_eq!(file.zeroed_to, Some(3000));
        file.preallocate(size).unwrap();
        file.write_all_at(&[2u8; 100], 3000).unwrap();
        let mut model = vec![0u8; size as usize];
        model[..3000].fill(1);
        model[3000..3100].fill(2);
        assert_eq!(read_all(&path), model);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_opened_segment_is_written_as_it_comes() {
        let dir = scratch("open");
        let path = dir.join("seg");
        let mut model = vec![9u8; 3 * ZERO_AHEAD_BYTES as usize];
        std::fs::write(&path, &model).unwrap();
        // What recovery finds is not ours to zero: a write at the front (a header's flags)
        // must leave every later byte as it was.
        let mut file = LogDisk.open(&path).unwrap();
        file.write_all_at(&[3u8; 32], 0).unwrap();
        assert_eq!(file.zeroed_to, None);
        model[..32].fill(3);
        assert_eq!(read_all(&path), model);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

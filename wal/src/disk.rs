//! `trait Disk`: the only way the crate reaches files. `FileDisk` is the production
//! implementation on `std::fs`; `SimDisk` (disk/sim.rs) is an in-memory disk for tests that
//! knows which bytes are synced and can crash.
//!
//! The contract both keep, which the writer relies on:
//! - `DiskFile::write_all_at` is durable only after a later `sync_data` on that file returns.
//! - `create_new`, `rename` and `remove` are durable only after a later `sync_dir` of the
//!   directory returns. Before that, a crash may or may not keep them.
//! - `set_len` to a larger length fills with zeros; it is durable after `sync_data`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub mod sim;

/// An open file. Offsets and lengths are bytes.
pub trait DiskFile {
    fn len_bytes(&self) -> io::Result<u64>;
    /// Fills `buf` from `offset`; an error if the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    fn write_all_at(&mut self, data: &[u8], offset: u64) -> io::Result<()>;
    /// Truncates or zero-extends the file.
    fn set_len(&mut self, len_bytes: u64) -> io::Result<()>;
    /// Extends the file with zeros to `len_bytes`, keeping its bytes (a segment's
    /// preallocation). The default is `set_len`, which makes a sparse file; a `DiskFile`
    /// outside this crate may use `fallocate(2)` instead so that appends never allocate.
    fn preallocate(&mut self, len_bytes: u64) -> io::Result<()> {
        self.set_len(len_bytes)
    }
    /// `fdatasync`: the file's data and size are durable when this returns.
    fn sync_data(&mut self) -> io::Result<()>;
}

/// A file system.
pub trait Disk {
    type File: DiskFile;
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Creates a new file for reading and writing; an error if it exists.
    fn create_new(&self, path: &Path) -> io::Result<Self::File>;
    /// Opens an existing file for reading and writing.
    fn open(&self, path: &Path) -> io::Result<Self::File>;
    /// Names (not paths) of the regular files in `dir`, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// `fsync` on the directory: creations, renames and removals in it are durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The production disk: `std::fs` and nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileDisk;

/// A file opened by `FileDisk`.
#[derive(Debug)]
pub struct FsFile {
    file: File,
}

/// The descriptor, for callers that preallocate with `fallocate(2)` (the server's
/// `sys.rs`; this crate has no `unsafe`).
impl std::os::unix::io::AsRawFd for FsFile {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        self.file.as_raw_fd()
    }
}

impl DiskFile for FsFile {
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(&self.file, buf, offset)
    }

    fn write_all_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(&self.file, data, offset)
    }

    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        self.file.set_len(len_bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl Disk for FileDisk {
    type File = FsFile;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn create_new(&self, path: &Path) -> io::Result<FsFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(FsFile { file })
    }

    fn open(&self, path: &Path) -> io::Result<FsFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(FsFile { file })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            // Names that are not UTF-8 cannot be ours.
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// Reads a whole file. Used by the reader (one segment at a time) and by snapshot checks.
pub(crate) fn read_all<F: DiskFile>(file: &F, path: &Path) -> crate::Result<Vec<u8>> {
    let len = crate::error::io("len", path, file.len_bytes())?;
    let len = usize::try_from(len).map_err(|_| crate::Error::Io {
        op: "read",
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "file larger than memory"),
    })?;
    let mut buf = vec![0u8; len];
    crate::error::io("read", path, file.read_exact_at(&mut buf, 0))?;
    Ok(buf)
}

/// `dir/name`.
pub(crate) fn join(dir: &Path, name: &str) -> PathBuf {
    let mut p = dir.to_path_buf();
    p.push(name);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_disk_basic_operations() {
        let dir = std::env::temp_dir().join(format!("wal-disk-{}", std::process::id()));
        let disk = FileDisk;
        disk.create_dir_all(&dir).unwrap();
        let p = dir.join("a");
        let mut f = disk.create_new(&p).unwrap();
        assert!(disk.create_new(&p).is_err());
        f.set_len(16).unwrap();
        f.write_all_at(b"xy", 4).unwrap();
        f.sync_data().unwrap();
        let mut buf = [1u8; 16];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf[..6], &[0, 0, 0, 0, b'x', b'y']);
        assert!(f.read_exact_at(&mut buf, 1).is_err());
        disk.rename(&p, &dir.join("b")).unwrap();
        disk.sync_dir(&dir).unwrap();
        assert_eq!(disk.list(&dir).unwrap(), vec!["b".to_string()]);
        disk.remove(&dir.join("b")).unwrap();
        assert!(disk.list(&dir).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}

//! `SimDisk`: an in-memory `Disk` for tests that keeps, per file, the durable bytes and the
//! writes made since the last `sync_data`, and, per directory, the durable names and the
//! creations, renames and removals made since the last `sync_dir`. `crash` throws away what
//! was not synced: all of it, or (seeded) a random prefix of the unsynced operations of each
//! file and of the namespace, with the first dropped write possibly torn (a prefix of its
//! bytes persists). Handles opened before a crash fail afterwards.
//!
//! Model and its limits: a file's unsynced writes persist in the order they were made (a
//! torn write keeps a prefix of its bytes). Real disks may persist later sectors of an
//! unsynced write before earlier ones; the reader then reports corruption rather than a torn
//! tail, which is safe but stops the server. Directories themselves are always durable.
//!
//! Fault injection (`flip_bit`, `write_raw`, `set_len_raw`, `remove_raw`) edits the durable
//! and the visible bytes alike, as media damage would.

use super::{Disk, DiskFile};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// How `SimDisk::crash` treats unsynced operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Every unsynced write and namespace change is lost.
    LoseUnsynced,
    /// A random prefix of each file's unsynced writes and of the unsynced namespace changes
    /// persists; half the time the first write not kept is torn at a random byte.
    KeepRandomPrefix { seed: u64 },
}

#[derive(Debug, Clone)]
enum DataOp {
    Write { offset: u64, data: Vec<u8> },
    SetLen { len_bytes: u64 },
}

#[derive(Debug, Clone)]
enum NameOp {
    Link { path: PathBuf, inode: u64 },
    Unlink { path: PathBuf },
    Rename { from: PathBuf, to: PathBuf },
}

impl NameOp {
    fn dir(&self) -> Option<&Path> {
        match self {
            NameOp::Link { path, .. } | NameOp::Unlink { path } => path.parent(),
            NameOp::Rename { to, .. } => to.parent(),
        }
    }
}

#[derive(Debug, Default)]
struct Inode {
    /// What reads see.
    data: Vec<u8>,
    /// What survives a crash.
    durable: Vec<u8>,
    /// Operations since the last sync. Invariant: replaying them on `durable` gives `data`.
    pending: Vec<DataOp>,
}

#[derive(Debug, Default)]
struct State {
    /// Bumped by every crash; handles from an older epoch are stale.
    epoch: u64,
    next_inode: u64,
    inodes: BTreeMap<u64, Inode>,
    dirs: BTreeSet<PathBuf>,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    /// Namespace changes since the last `sync_dir` of their directory, in order.
    pending_names: Vec<NameOp>,
    sync_data_count: u64,
    sync_dir_count: u64,
    /// When set, every mutating call fails (to test that failures poison the log).
    is_failing: bool,
    /// Mutating calls left before `is_failing` is set, if counting.
    fail_after_ops: Option<u64>,
}

impl State {
    /// Counts one mutating call; fails it if the disk is failing.
    fn mutate(&mut self) -> io::Result<()> {
        if let Some(left) = self.fail_after_ops {
            if left == 0 {
                self.is_failing = true;
                self.fail_after_ops = None;
            } else {
                self.fail_after_ops = Some(left - 1);
            }
        }
        if self.is_failing {
            return Err(injected());
        }
        Ok(())
    }
}

/// An in-memory disk; clones share the same state, so a test keeps one to crash it.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

/// A file opened on a `SimDisk`.
#[derive(Debug)]
pub struct SimFile {
    state: Arc<Mutex<State>>,
    inode: u64,
    epoch: u64,
}

fn apply(buf: &mut Vec<u8>, op: &DataOp) {
    match op {
        DataOp::Write { offset, data } => {
            let start = *offset as usize;
            let end = start + data.len();
            if buf.len() < end {
                buf.resize(end, 0);
            }
            buf[start..end].copy_from_slice(data);
        }
        DataOp::SetLen { len_bytes } => buf.resize(*len_bytes as usize, 0),
    }
}

fn apply_name(names: &mut BTreeMap<PathBuf, u64>, op: &NameOp) {
    match op {
        NameOp::Link { path, inode } => {
            names.insert(path.clone(), *inode);
        }
        NameOp::Unlink { path } => {
            names.remove(path);
        }
        NameOp::Rename { from, to } => {
            if let Some(inode) = names.remove(from) {
                names.insert(to.clone(), inode);
            }
        }
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("simdisk: no such file {}", path.display()),
    )
}

fn injected() -> io::Error {
    io::Error::other("simdisk: injected i/o failure")
}

/// SplitMix64, private to the simulator (the crate may not depend on `raft::Prng`).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..=n`.
    fn up_to(&mut self, n: usize) -> usize {
        (self.next_u64() % (n as u64 + 1)) as usize
    }
}

impl SimDisk {
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("SimDisk mutex poisoned: a thread panicked while holding it")
    }

    /// Simulates power loss, then reboot.
    pub fn crash(&self, mode: Crash) {
        let mut s = self.lock();
        let mut rng = match mode {
            Crash::LoseUnsynced => None,
            Crash::KeepRandomPrefix { seed } => Some(SplitMix64(seed)),
        };
        let pending_names = std::mem::take(&mut s.pending_names);
        let kept = rng.as_mut().map_or(0, |r| r.up_to(pending_names.len()));
        for op in &pending_names[..kept] {
            apply_name(&mut s.durable_names, op);
        }
        s.names = s.durable_names.clone();
        let live: BTreeSet<u64> = s.names.values().copied().collect();
        s.inodes.retain(|id, _| live.contains(id));
        for inode in s.inodes.values_mut() {
            let pending = std::mem::take(&mut inode.pending);
            let kept = rng.as_mut().map_or(0, |r| r.up_to(pending.len()));
            for op in &pending[..kept] {
                apply(&mut inode.durable, op);
            }
            if let (Some(r), Some(DataOp::Write { offset, data })) =
                (rng.as_mut(), pending.get(kept))
            {
                if r.next_u64() % 2 == 0 {
                    let torn = DataOp::Write {
                        offset: *offset,
                        data: data[..r.up_to(data.len())].to_vec(),
                    };
                    apply(&mut inode.durable, &torn);
                }
            }
            inode.data = inode.durable.clone();
        }
        s.epoch += 1;
        s.is_failing = false;
        s.fail_after_ops = None;
    }

    /// Flips one bit of a file, durably.
    pub fn flip_bit(&self, path: &Path, bit_offset: u64) {
        let mut s = self.lock();
        let id = *s
            .names
            .get(path)
            .expect("flip_bit: test names an existing file");
        let inode = s
            .inodes
            .get_mut(&id)
            .expect("every name refers to a live inode");
        let byte = (bit_offset / 8) as usize;
        let mask = 1u8 << (bit_offset % 8);
        inode.data[byte] ^= mask;
        if byte < inode.durable.len() {
            inode.durable[byte] ^= mask;
        }
    }

    /// Overwrites bytes of a file, durably.
    pub fn write_raw(&self, path: &Path, offset: u64, bytes: &[u8]) {
        let mut s = self.lock();
        let id = *s
            .names
            .get(path)
            .expect("write_raw: test names an existing file");
        let inode = s
            .inodes
            .get_mut(&id)
            .expect("every name refers to a live inode");
        let op = DataOp::Write {
            offset,
            data: bytes.to_vec(),
        };
        apply(&mut inode.data, &op);
        apply(&mut inode.durable, &op);
    }

    /// Truncates or zero-extends a file, durably.
    pub fn set_len_raw(&self, path: &Path, len_bytes: u64) {
        let mut s = self.lock();
        let id = *s
            .names
            .get(path)
            .expect("set_len_raw: test names an existing file");
        let inode = s
            .inodes
            .get_mut(&id)
            .expect("every name refers to a live inode");
        inode.data.resize(len_bytes as usize, 0);
        inode.durable.resize(len_bytes as usize, 0);
    }

    /// Removes a file, durably.
    pub fn remove_raw(&self, path: &Path) {
        let mut s = self.lock();
        assert!(
            s.names.remove(path).is_some(),
            "remove_raw: no file {}",
            path.display()
        );
        s.durable_names.remove(path);
    }

    /// The bytes reads would see, or `None` if there is no such file.
    pub fn read_raw(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        let id = s.names.get(path)?;
        Some(s.inodes[id].data.clone())
    }

    /// Number of `sync_data` calls so far (to check one fsync per batch).
    pub fn sync_data_count(&self) -> u64 {
        self.lock().sync_data_count
    }

    /// Number of `sync_dir` calls so far.
    pub fn sync_dir_count(&self) -> u64 {
        self.lock().sync_dir_count
    }

    /// Makes every later mutating call fail until `set_failing(false)` or a crash.
    /// `set_failing(false)` also cancels a pending `fail_after`.
    pub fn set_failing(&self, is_failing: bool) {
        let mut s = self.lock();
        s.is_failing = is_failing;
        s.fail_after_ops = None;
    }

    /// Lets `count` more mutating calls (write, set_len, sync, create, rename, remove,
    /// sync_dir) succeed, then fails all later ones until a crash: a crash at any step.
    pub fn fail_after(&self, count: u64) {
        self.lock().fail_after_ops = Some(count);
    }

    fn push_name_op(s: &mut State, op: NameOp) {
        apply_name(&mut s.names, &op);
        s.pending_names.push(op);
    }

    fn handle(&self, inode: u64, epoch: u64) -> SimFile {
        SimFile {
            state: Arc::clone(&self.state),
            inode,
            epoch,
        }
    }
}

impl SimFile {
    /// Runs `f` on this file's inode, or fails if the disk crashed since it was opened.
    fn with<T>(&self, f: impl FnOnce(&mut State, u64) -> io::Result<T>) -> io::Result<T> {
        let mut s = self
            .state
            .lock()
            .expect("SimDisk mutex poisoned: a thread panicked");
        if s.epoch != self.epoch {
            return Err(io::Error::other(
                "simdisk: stale handle from before a crash",
            ));
        }
        f(&mut s, self.inode)
    }

    fn push(&mut self, op: DataOp) -> io::Result<()> {
        self.with(|s, id| {
            s.mutate()?;
            let inode = s
                .inodes
                .get_mut(&id)
                .expect("an open handle's inode is live");
            apply(&mut inode.data, &op);
            inode.pending.push(op);
            Ok(())
        })
    }
}

impl DiskFile for SimFile {
    fn len_bytes(&self) -> io::Result<u64> {
        self.with(|s, id| Ok(s.inodes[&id].data.len() as u64))
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.with(|s, id| {
            let data = &s.inodes[&id].data;
            let start = offset as usize;
            if start
                .checked_add(buf.len())
                .is_none_or(|end| end > data.len())
            {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "simdisk: short read",
                ));
            }
            buf.copy_from_slice(&data[start..start + buf.len()]);
            Ok(())
        })
    }

    fn write_all_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        self.push(DataOp::Write {
            offset,
            data: data.to_vec(),
        })
    }

    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        self.push(DataOp::SetLen { len_bytes })
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.with(|s, id| {
            s.mutate()?;
            s.sync_data_count += 1;
            let inode = s
                .inodes
                .get_mut(&id)
                .expect("an open handle's inode is live");
            for op in std::mem::take(&mut inode.pending) {
                apply(&mut inode.durable, &op);
            }
            debug_assert!(inode.durable == inode.data, "replayed durable bytes differ");
            Ok(())
        })
    }
}

impl Disk for SimDisk {
    type File = SimFile;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        for d in dir.ancestors() {
            s.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    fn create_new(&self, path: &Path) -> io::Result<SimFile> {
        let mut s = self.lock();
        let dir = path.parent().unwrap_or(Path::new(""));
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        if s.names.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "simdisk: file exists",
            ));
        }
        s.mutate()?;
        s.next_inode += 1;
        let id = s.next_inode;
        s.inodes.insert(id, Inode::default());
        SimDisk::push_name_op(
            &mut s,
            NameOp::Link {
                path: path.to_path_buf(),
                inode: id,
            },
        );
        let epoch = s.epoch;
        Ok(self.handle(id, epoch))
    }

    fn open(&self, path: &Path) -> io::Result<SimFile> {
        let s = self.lock();
        let id = *s.names.get(path).ok_or_else(|| not_found(path))?;
        let epoch = s.epoch;
        Ok(self.handle(id, epoch))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let names = s
            .names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect();
        Ok(names)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        assert!(
            from.parent() == to.parent(),
            "simdisk renames within one directory only"
        );
        if !s.names.contains_key(from) {
            return Err(not_found(from));
        }
        s.mutate()?;
        let op = NameOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        };
        SimDisk::push_name_op(&mut s, op);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if !s.names.contains_key(path) {
            return Err(not_found(path));
        }
        s.mutate()?;
        SimDisk::push_name_op(
            &mut s,
            NameOp::Unlink {
                path: path.to_path_buf(),
            },
        );
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.mutate()?;
        s.sync_dir_count += 1;
        let (mine, others): (Vec<NameOp>, Vec<NameOp>) = std::mem::take(&mut s.pending_names)
            .into_iter()
            .partition(|op| op.dir() == Some(dir));
        for op in &mine {
            apply_name(&mut s.durable_names, op);
        }
        s.pending_names = others;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (SimDisk, PathBuf) {
        let disk = SimDisk::new();
        let dir = PathBuf::from("/d");
        disk.create_dir_all(&dir).unwrap();
        (disk, dir)
    }

    #[test]
    fn crash_loses_unsynced_writes_and_names() {
        let (disk, dir) = setup();
        let a = dir.join("a");
        let mut f = disk.create_new(&a).unwrap();
        f.write_all_at(b"abc", 0).unwrap();
        f.sync_data().unwrap();
        disk.crash(Crash::LoseUnsynced);
        // The name was never synced, so the file is gone.
        assert!(disk.read_raw(&a).is_none());
        let mut f = disk.create_new(&a).unwrap();
        f.write_all_at(b"abc", 0).unwrap();
        f.sync_data().unwrap();
        disk.sync_dir(&dir).unwrap();
        f.write_all_at(b"XY", 1).unwrap();
        disk.crash(Crash::LoseUnsynced);
        assert_eq!(disk.read_raw(&a).unwrap(), b"abc");
        assert!(f.write_all_at(b"z", 0).is_err(), "stale handle must fail");
    }

    #[test]
    fn random_crash_keeps_a_prefix_of_writes() {
        for seed in 0..200 {
            let (disk, dir) = setup();
            let a = dir.join("a");
            let mut f = disk.create_new(&a).unwrap();
            disk.sync_dir(&dir).unwrap();
            f.sync_data().unwrap();
            f.write_all_at(&[1; 8], 0).unwrap();
            f.write_all_at(&[2; 8], 8).unwrap();
            disk.crash(Crash::KeepRandomPrefix { seed });
            let got = disk.read_raw(&a).unwrap();
            let want: Vec<u8> = [[1u8; 8], [2u8; 8]].concat();
            assert!(
                got.len() <= 16 && got == want[..got.len()],
                "seed {seed}: {got:?}"
            );
        }
    }

    #[test]
    fn sync_dir_makes_renames_durable() {
        let (disk, dir) = setup();
        let mut f = disk.create_new(&dir.join("t")).unwrap();
        f.write_all_at(b"x", 0).unwrap();
        f.sync_data().unwrap();
        disk.rename(&dir.join("t"), &dir.join("s")).unwrap();
        disk.sync_dir(&dir).unwrap();
        disk.crash(Crash::LoseUnsynced);
        assert_eq!(disk.list(&dir).unwrap(), vec!["s".to_string()]);
    }
}

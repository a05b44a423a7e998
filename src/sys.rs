//! The one place with `unsafe`: thin wrappers over libc calls the standard library lacks.
//!
//! Each wrapper checks the call's return value and turns failure into an `io::Error`;
//! nothing else in the workspace may use `unsafe` (the before-stop hook checks this).

use std::io;

/// Fills `buf` from the kernel's CSPRNG (`getrandom(2)`), retrying on EINTR and short reads.
pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0usize;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid, writable slice of `rest.len()` bytes for the whole call;
        // getrandom writes at most that many bytes and returns how many it wrote.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        filled += n as usize;
    }
    assert_eq!(filled, buf.len(), "getrandom filled more than asked");
    Ok(())
}

/// Allocates `len_bytes` of real blocks for `fd` (`fallocate(2)`, mode 0), so writes into
/// a preallocated log segment do not allocate blocks and `fdatasync` need not flush the
/// file's block map. Fails with `Unsupported`-like errors on filesystems without it.
pub fn fallocate(fd: std::os::unix::io::RawFd, len_bytes: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len_bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length exceeds off_t"))?;
    loop {
        // SAFETY: plain syscall on a descriptor the caller owns; no memory is passed.
        let rc = unsafe { libc::fallocate(fd, 0, 0, len) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A random u64 for seeding (`Prng` seeds, the session secret).
pub fn random_u64() -> io::Result<u64> {
    let mut b = [0u8; 8];
    fill_random(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Raises the soft limit on open files to the hard limit; returns (soft, hard) after.
pub fn raise_fd_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit read back from the kernel, soft raised to hard.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// The local time zone at `epoch_secs`, as `localtime_r(3)` sees it (TZ or /etc/localtime):
/// the offset east of UTC in seconds and the zone's abbreviation ("UTC", "CET", ...).
pub fn local_utc_offset(epoch_secs: i64) -> io::Result<(i64, String)> {
    // `time_t` is left to inference: musl's libc crate deprecates naming the alias (its width
    // changed in musl 1.2), and `try_into` keeps 32-bit targets honest (on 64-bit ones it is
    // the same type, hence the allow).
    #[allow(clippy::useless_conversion)]
    let time = epoch_secs.try_into().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{epoch_secs} does not fit time_t"),
        )
    })?;
    // SAFETY: `tm` is plain old data, for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r writes only into `tm`.
    let result = unsafe { libc::localtime_r(&time, &mut tm) };
    if result.is_null() {
        return Err(io::Error::other(format!(
            "localtime_r failed for {epoch_secs}"
        )));
    }
    let zone = if tm.tm_zone.is_null() {
        String::from("UTC")
    } else {
        // SAFETY: a non-null tm_zone points at a NUL-terminated string owned by libc that
        // stays valid at least until the next time-zone call on this thread.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    // `c_long` is i64 here but i32 on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let offset_secs = i64::from(tm.tm_gmtoff);
    Ok((offset_secs, zone))
}

/// Blocks SIGTERM and SIGINT for the calling thread (and every thread it spawns later) and
/// returns a `signalfd(2)` that becomes readable when one arrives, so the event loop can
/// shut down in its own turn instead of in a signal handler. Call before spawning threads.
pub fn termination_signals() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: `set` is a plain C struct that sigemptyset initialises before any other use;
    // every pointer passed is to that local for the duration of the call.
    let fd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        if libc::sigemptyset(&mut set) != 0
            || libc::sigaddset(&mut set, libc::SIGTERM) != 0
            || libc::sigaddset(&mut set, libc::SIGINT) != 0
        {
            return Err(io::Error::last_os_error());
        }
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: signalfd returned a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Tests only: the system allocator, counting the largest single allocation each thread
/// asks for since it last reset the count, so a decoder test can check that no input makes
/// a decoder allocate beyond what the input's own length can justify (issue #9).
#[cfg(test)]
pub mod alloc_probe {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Probe;

    thread_local! {
        // A const-initialised Cell: touching it never allocates, so the allocator may use it.
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    fn note(size: usize) {
        // `try_with`: during thread teardown the slot may be gone; then nothing is counted.
        let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    }

    // SAFETY: every call is forwarded unchanged to `System`, which upholds GlobalAlloc's
    // contract; the counting touches only a thread-local Cell and never allocates.
    unsafe impl GlobalAlloc for Probe {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static PROBE: Probe = Probe;

    /// Runs `f` and returns its result with the largest allocation it made on this thread.
    pub fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
        LARGEST.with(|l| l.set(0));
        let result = f();
        (result, LARGEST.with(|l| l.get()))
    }

    #[test]
    fn the_probe_sees_a_large_allocation_and_only_this_threads() {
        let (v, largest) = largest_allocation(|| vec![7u8; 3 << 20]);
        assert!(largest >= 3 << 20, "{largest}");
        drop(v);
        let (_, small) = largest_allocation(|| {
            std::thread::spawn(|| vec![0u8; 8 << 20])
                .join()
                .map(|v| v.len())
        });
        assert!(
            small < 8 << 20,
            "another thread's allocation counted: {small}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_are_not_all_zero() {
        let mut buf = [0u8; 64];
        fill_random(&mut buf).unwrap();
        assert!(buf.iter().any(|&b| b != 0));
    }

    #[test]
    fn fallocate_gives_a_file_real_blocks() {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        let path = std::env::temp_dir().join(format!("fk-falloc-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        match fallocate(file.as_raw_fd(), 1 << 20) {
            Ok(()) => {
                let meta = file.metadata().unwrap();
                assert_eq!(meta.len(), 1 << 20);
                assert!(
                    meta.blocks() * 512 >= 1 << 20,
                    "allocated {} blocks",
                    meta.blocks()
                );
            }
            // tmpfs and some others lack it; the caller falls back to set_len.
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP), "{e}"),
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn fd_limit_is_readable() {
        let (soft, hard) = raise_fd_limit().unwrap();
        assert!(soft <= hard);
        assert!(soft > 0);
    }

    #[test]
    fn local_time_zone_is_named_and_within_a_day_of_utc() {
        let (offset_secs, zone) = local_utc_offset(0).unwrap();
        assert!(offset_secs.abs() < 86_400, "offset {offset_secs}");
        assert!(!zone.is_empty());
    }
}

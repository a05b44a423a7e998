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
    fn fd_limit_is_readable() {
        let (soft, hard) = raise_fd_limit().unwrap();
        assert!(soft <= hard);
        assert!(soft > 0);
    }
}

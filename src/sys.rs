//! Thin wrappers over the system calls the engine needs beyond `std`:
//! positional vectored writes that never stop half-way silently, and the
//! advisory stream lock. Everything here retries EINTR and reports errno.

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;

/// Linux's IOV_MAX: the most iovecs one `pwritev` accepts.
pub const IOV_MAX: usize = 1024;

fn errno_to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Write all of `bufs` at `offset`, in as few `pwritev` calls as IOV_MAX
/// allows, continuing after short writes. On error, some prefix of the data
/// may have reached the file; the caller owns the cleanup (it truncates back
/// to its last good end). Returns the total number of bytes written.
pub fn pwritev_all<F: AsFd>(fd: F, bufs: &[IoSlice<'_>], mut offset: u64) -> io::Result<u64> {
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().filter(|b| !b.is_empty()).copied().collect();
    let mut rest: &mut [IoSlice<'_>] = &mut slices;
    let mut total = 0u64;
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(IOV_MAX)];
        let off = i64::try_from(offset).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "file offset overflows off_t")
        })?;
        match nix::sys::uio::pwritev(fd.as_fd(), chunk, off) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "pwritev wrote 0 bytes",
                ))
            }
            Ok(n) => {
                offset += n as u64;
                total += n as u64;
                IoSlice::advance_slices(&mut rest, n);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(errno_to_io(e)),
        }
    }
    Ok(total)
}

/// An exclusive advisory lock on the stream's lock file, held for the life of
/// the value. `flock` locks belong to the open file description, so a second
/// open of the same stream in this process conflicts too.
#[derive(Debug)]
pub struct StreamLock {
    _lock: Flock<File>,
}

/// Outcome of trying to take the stream lock.
pub enum LockAttempt {
    Acquired(StreamLock),
    HeldElsewhere,
}

pub fn try_lock_exclusive(file: File) -> io::Result<LockAttempt> {
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(LockAttempt::Acquired(StreamLock { _lock: lock })),
            Err((_, Errno::EWOULDBLOCK)) => return Ok(LockAttempt::HeldElsewhere),
            Err((f, Errno::EINTR)) => file = f,
            Err((_, e)) => return Err(errno_to_io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn pwritev_all_handles_more_than_iov_max_slices() {
        let dir = tempfile::tempdir().unwrap();
        let f = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("f"))
            .unwrap();
        let data: Vec<[u8; 3]> = (0..5000u32).map(|i| [(i % 251) as u8, 1, 2]).collect();
        let slices: Vec<IoSlice<'_>> = data.iter().map(|d| IoSlice::new(d)).collect();
        let n = pwritev_all(&f, &slices, 10).unwrap();
        assert_eq!(n, 15000);
        let mut back = vec![0u8; 15000];
        f.read_exact_at(&mut back, 10).unwrap();
        assert_eq!(back, data.concat());
    }
}

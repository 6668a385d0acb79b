// SPDX-License-Identifier: MIT
//! Thin wrappers over the system calls the engine writes, reads and syncs
//! with: positional vectored writes that never stop half-way silently,
//! positional reads that continue short ones, fdatasync, fsync,
//! truncation, the creation of segment files, the advisory stream lock and
//! the event fd. Everything here
//! retries EINTR and reports errno. Every write-side call of the engine and
//! every read of a segment goes through this module, so the
//! `fault-injection` feature can make any of them fail (or, for reads,
//! come back short).

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::path::Path;

#[cfg(feature = "fault-injection")]
pub use fault::{
    clear_faults, fdatasync_count, hold_fdatasync, inject_fault, release_fdatasync,
    set_segment_record_cap, wait_fdatasync_held, Fault, FaultOp,
};

/// Linux's IOV_MAX: the most iovecs one `pwritev` accepts.
pub const IOV_MAX: usize = 1024;

fn errno_to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Write all of `bufs` at `offset`, in as few `pwritev` calls as IOV_MAX
/// allows, continuing after short writes. On error, some prefix of the data
/// may have reached the file; the caller owns the cleanup (it truncates back
/// to its last good end). Returns the total number of bytes written.
pub fn pwritev_all<F: AsFd>(
    fd: F,
    path: &Path,
    bufs: &[IoSlice<'_>],
    offset: u64,
) -> io::Result<u64> {
    #[cfg(feature = "fault-injection")]
    if let Some((keep, err)) = fault::write_fault(path) {
        // Write only the first `keep` bytes, then fail: a write that stops
        // part-way, as ENOSPC or EFBIG do.
        let data: Vec<u8> = bufs.iter().flat_map(|s| s.iter().copied()).collect();
        let keep = keep.min(data.len());
        if keep > 0 {
            pwritev_all(
                fd.as_fd(),
                Path::new(""),
                &[IoSlice::new(&data[..keep])],
                offset,
            )?;
        }
        return Err(err);
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = path;
    let want: u64 = bufs.iter().map(|b| b.len() as u64).sum();
    // The common case, one call that writes everything, needs no copy of the
    // iovecs (zero-length ones are fine for the kernel).
    let mut written = 0u64;
    if let [one] = bufs {
        // A packed append: plain pwrite (no iovec array to copy in).
        match nix::sys::uio::pwrite(fd.as_fd(), one, off_t(offset)?) {
            Ok(n) if n as u64 == want => return Ok(want),
            Ok(n) => written = n as u64,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(errno_to_io(e)),
        }
    } else if bufs.len() <= IOV_MAX {
        match nix::sys::uio::pwritev(fd.as_fd(), bufs, off_t(offset)?) {
            Ok(n) if n as u64 == want => return Ok(want),
            Ok(n) => written = n as u64,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(errno_to_io(e)),
        }
    }
    // Short write, EINTR or more than IOV_MAX slices: go on from where the
    // kernel stopped, IOV_MAX slices at a time.
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().filter(|b| !b.is_empty()).copied().collect();
    let mut rest: &mut [IoSlice<'_>] = &mut slices;
    IoSlice::advance_slices(&mut rest, written as usize);
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(IOV_MAX)];
        match nix::sys::uio::pwritev(fd.as_fd(), chunk, off_t(offset + written)?) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "pwritev wrote 0 bytes",
                ))
            }
            Ok(n) => {
                written += n as u64;
                IoSlice::advance_slices(&mut rest, n);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(errno_to_io(e)),
        }
    }
    Ok(written)
}

fn off_t(offset: u64) -> io::Result<i64> {
    i64::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset overflows off_t"))
}

/// Create `path` (it must not exist) for reading and writing with
/// permissions `mode`: a new segment file.
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    check(FaultOpKind::Create, path)?;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

/// fdatasync `file` (at `path`, for fault injection and messages).
pub fn fdatasync(file: &File, path: &Path) -> io::Result<()> {
    check(FaultOpKind::Fdatasync, path)?;
    if cfg!(feature = "test-skip-sync") {
        return Ok(());
    }
    file.sync_data()
}

/// fsync `file` (a new segment, or a directory after a create or unlink).
pub fn fsync(file: &File, path: &Path) -> io::Result<()> {
    check(FaultOpKind::Fsync, path)?;
    if cfg!(feature = "test-skip-sync") {
        return Ok(());
    }
    file.sync_all()
}

/// ftruncate `file` to `len`.
pub fn truncate(file: &File, path: &Path, len: u64) -> io::Result<()> {
    check(FaultOpKind::Truncate, path)?;
    file.set_len(len)
}

/// unlink the file at `path` (a segment cleanup or a truncation deletes).
pub fn remove_file(path: &Path) -> io::Result<()> {
    check(FaultOpKind::Unlink, path)?;
    std::fs::remove_file(path)
}

/// The record cap a test set for streams opened under `dir`
/// (`fault::set_segment_record_cap`); always None without the
/// `fault-injection` feature.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn segment_record_cap(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(feature = "fault-injection")]
pub fn segment_record_cap(dir: &Path) -> Option<u64> {
    fault::record_cap(dir)
}

#[cfg(feature = "fault-injection")]
use fault::FaultOp as FaultOpKind;

#[cfg(not(feature = "fault-injection"))]
enum FaultOpKind {
    Create,
    Fdatasync,
    Fsync,
    Truncate,
    Unlink,
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
fn check(_op: FaultOpKind, _path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(feature = "fault-injection")]
fn check(op: FaultOpKind, path: &Path) -> io::Result<()> {
    fault::check(op, path)
}

/// Test-only fault injection (cargo feature `fault-injection`): make the
/// next calls of one kind on files under a directory fail with an errno.
/// Faults are scoped by path prefix so tests running in parallel, each in
/// its own temporary directory, do not disturb each other.
#[cfg(feature = "fault-injection")]
mod fault {
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::{Condvar, Mutex};

    /// Which call fails.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FaultOp {
        /// A record write (`pwritev`); see `Fault::keep_bytes`.
        Write,
        /// A positional read of a segment (`pread`): with `errno` 0 it does
        /// not fail but returns at most `keep_bytes` bytes (a short read,
        /// which the caller must continue), else it fails with `errno`.
        Read,
        /// Creating a new segment file (`open` with `O_CREAT|O_EXCL`).
        Create,
        Fdatasync,
        /// fsync of a new segment file or of the directory.
        Fsync,
        Truncate,
        /// Deleting a segment file (cleanup, truncation, reset, open).
        Unlink,
    }

    /// One injected fault.
    #[derive(Debug, Clone)]
    pub struct Fault {
        pub op: FaultOp,
        /// Only calls on paths under this prefix (a file or directory path).
        pub under: PathBuf,
        /// errno to fail with (e.g. libc::EIO, libc::ENOSPC).
        pub errno: i32,
        /// Calls to let through before failing.
        pub skip: u32,
        /// How many calls fail after that (u32::MAX: until cleared).
        pub times: u32,
        /// For `Write`: bytes that reach the file before the error.
        pub keep_bytes: usize,
    }

    static FAULTS: Mutex<Vec<Fault>> = Mutex::new(Vec::new());

    /// Add a fault.
    pub fn inject_fault(f: Fault) {
        FAULTS.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }

    /// Remove every fault under `under`, its record cap and its sync gate
    /// (releasing the fdatasyncs it holds).
    pub fn clear_faults(under: &Path) {
        FAULTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|f| f.under != under);
        lock_gates().retain(|g| g.under != under);
        GATE_MOVED.notify_all();
        RECORD_CAPS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(dir, _)| dir != under);
    }

    static RECORD_CAPS: Mutex<Vec<(PathBuf, u64)>> = Mutex::new(Vec::new());

    /// Streams opened from now on in a directory under `under` hold at most
    /// `cap` records per segment (clamped to `1..=MAX_SEGMENT_RECORDS`)
    /// instead of `format::MAX_SEGMENT_RECORDS`: an append past it rolls
    /// the log and a larger batch is refused, as at the real cap, which
    /// tests cannot reach in reasonable time. Read once by `Wal::open`;
    /// [`clear_faults`] removes it. Not an option of the log: a log's
    /// segments may always hold `MAX_SEGMENT_RECORDS` records.
    pub fn set_segment_record_cap(under: &Path, cap: u64) {
        let mut caps = RECORD_CAPS.lock().unwrap_or_else(|p| p.into_inner());
        caps.retain(|(dir, _)| dir != under);
        caps.push((under.to_path_buf(), cap));
    }

    pub(super) fn record_cap(dir: &Path) -> Option<u64> {
        let caps = RECORD_CAPS.lock().unwrap_or_else(|p| p.into_inner());
        caps.iter()
            .find(|(under, _)| dir.starts_with(under))
            .map(|&(_, cap)| cap)
    }

    fn take(op: FaultOp, path: &Path) -> Option<(usize, io::Error)> {
        let mut faults = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
        let f = faults
            .iter_mut()
            .find(|f| f.op == op && f.times > 0 && path.starts_with(&f.under))?;
        if f.skip > 0 {
            f.skip -= 1;
            return None;
        }
        if f.times != u32::MAX {
            f.times -= 1;
        }
        Some((f.keep_bytes, io::Error::from_raw_os_error(f.errno)))
    }

    /// A gate on the fdatasyncs of files under `under`: counts them, and
    /// while `held` makes each wait before it runs (so a test can hold a
    /// sync under way, see who joins it, and build the crash states of a
    /// sync that has not happened yet).
    struct SyncGate {
        under: PathBuf,
        held: bool,
        waiting: usize,
        passed: u64,
    }

    static GATES: Mutex<Vec<SyncGate>> = Mutex::new(Vec::new());
    static GATE_MOVED: Condvar = Condvar::new();

    fn lock_gates() -> std::sync::MutexGuard<'static, Vec<SyncGate>> {
        GATES.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn gate<'a>(gates: &'a mut Vec<SyncGate>, under: &Path) -> &'a mut SyncGate {
        match gates.iter().position(|g| g.under == under) {
            Some(i) => &mut gates[i],
            None => {
                gates.push(SyncGate {
                    under: under.to_path_buf(),
                    held: false,
                    waiting: 0,
                    passed: 0,
                });
                gates.last_mut().expect("just pushed")
            }
        }
    }

    /// From now on every fdatasync of a file under `under` waits, before it
    /// runs, until [`release_fdatasync`] (or [`clear_faults`]).
    pub fn hold_fdatasync(under: &Path) {
        gate(&mut lock_gates(), under).held = true;
    }

    /// Let the fdatasyncs under `under` run again, the waiting ones first.
    pub fn release_fdatasync(under: &Path) {
        gate(&mut lock_gates(), under).held = false;
        GATE_MOVED.notify_all();
    }

    /// Block until an fdatasync under `under` waits at its held gate.
    pub fn wait_fdatasync_held(under: &Path) {
        let mut gates = lock_gates();
        while gate(&mut gates, under).waiting == 0 {
            gates = GATE_MOVED.wait(gates).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// How many fdatasyncs of files under `under` have started since its
    /// gate was first named (by any of these calls).
    pub fn fdatasync_count(under: &Path) -> u64 {
        gate(&mut lock_gates(), under).passed
    }

    fn pass_sync_gate(path: &Path) {
        let mut gates = lock_gates();
        let Some(i) = gates.iter().position(|g| path.starts_with(&g.under)) else {
            return;
        };
        gates[i].passed += 1;
        if !gates[i].held {
            return;
        }
        let under = gates[i].under.clone();
        gates[i].waiting += 1;
        GATE_MOVED.notify_all();
        loop {
            match gates.iter().position(|g| g.under == under) {
                Some(i) if gates[i].held => {
                    gates = GATE_MOVED.wait(gates).unwrap_or_else(|p| p.into_inner());
                }
                Some(i) => {
                    gates[i].waiting -= 1;
                    return;
                }
                None => return,
            }
        }
    }

    pub(super) fn check(op: FaultOp, path: &Path) -> io::Result<()> {
        if op == FaultOp::Fdatasync {
            pass_sync_gate(path);
        }
        match take(op, path) {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    pub(super) fn write_fault(path: &Path) -> Option<(usize, io::Error)> {
        take(FaultOp::Write, path)
    }

    /// The injected outcome of the next `pread` under `path`: an error, a
    /// short read's limit, or nothing.
    pub(super) fn read_fault(path: &Path) -> io::Result<Option<usize>> {
        let mut faults = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
        let Some(f) = faults
            .iter_mut()
            .find(|f| f.op == FaultOp::Read && f.times > 0 && path.starts_with(&f.under))
        else {
            return Ok(None);
        };
        if f.skip > 0 {
            f.skip -= 1;
            return Ok(None);
        }
        if f.times != u32::MAX {
            f.times -= 1;
        }
        match f.errno {
            0 => Ok(Some(f.keep_bytes)),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
    }
}

/// A level-triggered readiness signal for event loops: an eventfd that is
/// readable from the first [`Event::signal`] after [`Event::clear`] until
/// the next clear. Only the first signal after a clear writes to it, so an
/// append pays one relaxed load while the fd is readable already.
#[derive(Debug)]
pub struct Event {
    fd: nix::sys::eventfd::EventFd,
    signalled: std::sync::atomic::AtomicBool,
}

impl Event {
    /// A new eventfd (non-blocking, close-on-exec), readable at once so a
    /// loop that waits first looks at what is there already.
    pub fn new() -> io::Result<Event> {
        use nix::sys::eventfd::{EfdFlags, EventFd};
        let fd = EventFd::from_value_and_flags(1, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(errno_to_io)?;
        Ok(Event {
            fd,
            signalled: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// Make the fd readable, after the change it announces was published
    /// and a SeqCst fence (see `Notify::notify`).
    #[inline]
    pub fn signal(&self) {
        use std::sync::atomic::Ordering;
        if !self.signalled.load(Ordering::Relaxed) && !self.signalled.swap(true, Ordering::SeqCst) {
            // Only EAGAIN (a counter near 2^64) could fail it, and then
            // the fd is readable anyway.
            let _ = self.fd.write(1);
        }
    }

    /// Make the fd unreadable until the next signal. A change published
    /// before a signal that this clear undid is visible to the caller's
    /// loads after it returns (both sides fence SeqCst).
    pub fn clear(&self) {
        use std::sync::atomic::{fence, Ordering};
        // Reading resets the counter; EAGAIN: it was 0 already.
        let _ = self.fd.read();
        self.signalled.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// The eventfd, to poll for readability.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
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

/// How many bytes the next `pread` of a file under `path` may return:
/// `Ok(None)` for no limit, an injected short read's limit, or an
/// injected error (`fault-injection` only; always `Ok(None)` without).
#[inline(always)]
fn read_limit(path: &Path) -> io::Result<Option<usize>> {
    #[cfg(feature = "fault-injection")]
    return fault::read_fault(path);
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = path;
        Ok(None)
    }
}

/// Read exactly `buf.len()` bytes of `file` (at `path`, for fault
/// injection) at `offset`. Retries EINTR and continues after short reads;
/// a file that ends first gives `UnexpectedEof`.
pub fn read_exact_at(file: &File, path: &Path, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let limit = read_limit(path)?.unwrap_or(usize::MAX);
        let end = buf.len().min(done.saturating_add(limit.max(1)));
        match nix::sys::uio::pread(
            file.as_fd(),
            &mut buf[done..end],
            off_t(offset + done as u64)?,
        ) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(errno_to_io(e)),
        }
    }
    Ok(())
}

/// Read exactly `len` bytes of `file` at `offset`, appending them to `buf`
/// without zero-filling them first: `pread` writes into `buf`'s spare
/// capacity and only the bytes the kernel wrote become part of `buf`.
/// Retries EINTR and continues after short reads. A file that ends first
/// gives `UnexpectedEof`; a failed reservation gives `OutOfMemory`. On error
/// `buf` may have grown by part of the range (the caller discards it).
pub fn pread_exact_append(
    file: &File,
    path: &Path,
    buf: &mut Vec<u8>,
    len: usize,
    offset: u64,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    buf.try_reserve_exact(len)
        .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut done = 0usize;
    while done < len {
        let pos = off_t(offset + done as u64)?;
        let limit = read_limit(path)?.unwrap_or(usize::MAX).max(1);
        let want = (len - done).min(limit);
        let spare = &mut buf.spare_capacity_mut()[..want];
        // SAFETY: `spare` is writable memory owned by `buf`, `spare.len()`
        // bytes long and borrowed mutably for the call, so nothing else
        // reads or writes it; pread writes at most `spare.len()` bytes there.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                spare.len(),
                pos,
            )
        };
        match n {
            n if n > 0 => {
                let n = n as usize;
                // SAFETY: the kernel initialised the first `n <= spare.len()`
                // bytes of the spare capacity, right after the current length.
                unsafe { buf.set_len(buf.len() + n) };
                done += n;
            }
            0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
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
        let n = pwritev_all(&f, Path::new("f"), &slices, 10).unwrap();
        assert_eq!(n, 15000);
        let mut back = vec![0u8; 15000];
        f.read_exact_at(&mut back, 10).unwrap();
        assert_eq!(back, data.concat());
    }
}

// SPDX-License-Identifier: MIT
//! Opening and closing a log: `nwal_options_default`, `nwal_open`,
//! `nwal_shutdown`, `nwal_close`.

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{self, engine, release, with_handle};
use super::convert::stream_name;
use super::ptr::{c_str, Out};
use super::types::{nwal, nwal_options, nwal_status};
use crate::{Wal, WalOptions};
use std::ffi::{c_char, OsStr};
use std::os::unix::ffi::OsStrExt;

/// Opening and closing a log
/// =========================
///
/// A log is one stream of records in a directory. `nwal_open` opens it and
/// returns a handle that any number of threads may share. `nwal_shutdown`
/// stops the appends while other threads may still hold the handle;
/// `nwal_close` releases the handle once no other thread uses it.
///
/// ---
///
/// The default options: retention 7 days, segment duration 1 hour, no size
/// cap, file mode 0600, no flags, `reserved` all zero.
///
/// @return the defaults, by value.
///
/// Thread-safe.
///
/// @since 0.1 (symbol version NWAL_0.1)
#[no_mangle]
pub extern "C" fn nwal_options_default() -> nwal_options {
    // No panic boundary: neither the engine's defaults (constants) nor the
    // conversion (saturating, no allocation) can panic.
    nwal_options::from(&WalOptions::default())
}

/// Open (or create) the log stream `stream` in directory `dir`.
///
/// Creates `dir` if missing, takes the stream's advisory lock (one open
/// handle per stream, across processes), and recovers the stream: a torn
/// tail of the newest segment is cut off; corruption before it fails with
/// `NWAL_ERR_CORRUPTED_DATA` unless `NWAL_OPT_SALVAGE` is set.
///
/// @param[in]  dir    directory of the log, NUL-terminated. Borrowed for
///                    the call.
/// @param[in]  stream stream name, NUL-terminated: 1-200 bytes of
///                    `[A-Za-z0-9._-]`, not starting with '.'. Borrowed for
///                    the call.
/// @param[in]  opts   options, or NULL for `nwal_options_default()`.
///                    Borrowed for the call.
/// @param[out] out    receives the new handle on `NWAL_OK` (untouched
///                    otherwise). The caller owns it: release it with
///                    `nwal_close`, exactly once.
///
/// @retval NWAL_OK                   the log is open.
/// @retval NWAL_ERR_INVALID_ARGUMENT `dir`, `stream` or `out` is NULL, or
///                                   `stream` is not a valid name.
/// @retval NWAL_ERR_INVALID_CONFIG   an option is out of range, `reserved`
///                                   is not all zero, `flags` has unknown
///                                   bits, or `dir` is not a directory.
/// @retval NWAL_ERR_LOCKED           the stream is open in another handle
///                                   (this or another process).
/// @retval NWAL_ERR_CORRUPTED_DATA   recovery found corruption it may not
///                                   cut, or neither slot of the stream's
///                                   metadata file verifies (see
///                                   `NWAL_OPT_SALVAGE`).
/// @retval NWAL_ERR_IO               creating, reading or locking the files
///                                   failed (`nwal_last_os_error()`).
/// @retval NWAL_ERR_PANIC            internal error; nothing is left open.
///
/// Thread-safe. The handle may be shared by any number of threads: every
/// function on it is thread-safe except `nwal_close`.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `dir` and `stream` are NULL or NUL-terminated strings.
/// - `opts` is NULL or points to an `nwal_options`.
/// - `out` is NULL or points to writable storage for an `nwal *`.
#[no_mangle]
pub unsafe extern "C" fn nwal_open(
    dir: *const c_char,
    stream: *const c_char,
    opts: *const nwal_options,
    out: *mut *mut nwal,
) -> nwal_status {
    boundary::call("nwal_open", || {
        // SAFETY: NULL or NUL-terminated (precondition).
        let dir = OsStr::from_bytes(unsafe { c_str(dir, "nwal_open: dir") }?.to_bytes());
        // SAFETY: as above.
        let stream = stream_name(unsafe { c_str(stream, "nwal_open: stream") }?)?;
        // SAFETY: NULL or an nwal_options (precondition).
        let options = match unsafe { opts.as_ref() } {
            Some(o) => o.wal_options()?,
            None => WalOptions::default(),
        };
        // SAFETY: NULL or writable (precondition).
        let out = unsafe { Out::required(out, "nwal_open: out") }?;
        let wal = Wal::open(dir, stream, options).map_err(engine("nwal_open"))?;
        out.write_box(nwal::new(wal));
        Ok(())
    })
}

/// Stop taking appends without releasing the handle.
///
/// Waits for the append being written, syncs (cutting the zeros that
/// durable appends pre-write after the last record, so the files end at
/// their last record), and releases the stream lock, so the stream can be
/// reopened. Later appends, cleanups and metadata puts return
/// `NWAL_ERR_SHUTDOWN`; reads, replay, `nwal_meta_get` and `nwal_sync` still
/// work. Calling it again does nothing. The
/// handle must still be released with `nwal_close`.
///
/// Use it to stop a log that other threads are still using: shut down,
/// join the threads, then `nwal_close`.
///
/// @param[in] w the log.
///
/// @retval NWAL_OK                   the log is shut down (or already was).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL.
/// @retval NWAL_ERR_IO               the final sync failed, or an earlier one
///                                   did (the log is poisoned); the stream
///                                   is still shut down and unlocked.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe: concurrent appends either complete before it or return
/// `NWAL_ERR_SHUTDOWN`.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[no_mangle]
pub unsafe extern "C" fn nwal_shutdown(w: *mut nwal) -> nwal_status {
    with_handle("nwal_shutdown", w, |wal: &Wal| {
        wal.shutdown().map_err(engine("nwal_shutdown"))
    })
}

/// Shut the log down (as `nwal_shutdown`) and release the handle.
///
/// Read buffers and iterators obtained from the handle stay valid until
/// they are released themselves. A handle poisoned by an internal error
/// is released too.
///
/// @param[in] w the log, or NULL (nothing to do). Invalid after the call,
///              whatever it returns.
///
/// @retval NWAL_OK        the log is closed (or `w` is NULL).
/// @retval NWAL_ERR_IO    the final sync failed: records appended without
///                        `NWAL_DURABLE` may not be durable. The handle is
///                        released all the same.
/// @retval NWAL_ERR_PANIC internal error during the final sync; the
///                        handle's memory is leaked rather than freed.
///
/// Not thread-safe on `w`: no other call on it may run concurrently or
/// after. Join the threads that use it first (`nwal_shutdown` stops them).
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - No other thread uses `w` during or after the call.
#[no_mangle]
pub unsafe extern "C" fn nwal_close(w: *mut nwal) -> nwal_status {
    release("nwal_close", w)
}

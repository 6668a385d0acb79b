//! Opening and closing a log: `nwal_options_default`, `nwal_open`,
//! `nwal_shutdown`, `nwal_close`.

use super::boundary::{self, engine, release, with_handle};
use super::convert::stream_name;
use super::ptr::{c_str, Out};
use super::types::{nwal, nwal_options, nwal_status};
use crate::{Wal, WalOptions};
use std::ffi::{c_char, OsStr};
use std::os::unix::ffi::OsStrExt;

/// The default options: retention 7 days, segment duration 1 hour, no size
/// cap, file mode 0600, no flags, reserved all zero.
///
/// @return the defaults, by value. Thread-safe.
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
/// @param dir     directory of the log, NUL-terminated. Borrowed for the call.
/// @param stream  stream name, NUL-terminated: 1-200 bytes of
///                `[A-Za-z0-9._-]`, not starting with '.'. Borrowed for the call.
/// @param opts    options, or NULL for `nwal_options_default()`. Borrowed.
/// @param out     receives the new handle, only on `NWAL_OK` (left untouched
///                otherwise). The caller owns it and must release it with
///                `nwal_close` exactly once.
/// @return `NWAL_OK`;
///         `NWAL_ERR_INVALID_ARGUMENT` (NULL `dir`, `stream` or `out`, bad
///         stream name);
///         `NWAL_ERR_INVALID_CONFIG` (bad options, `dir` not a directory);
///         `NWAL_ERR_LOCKED` (the stream is open elsewhere);
///         `NWAL_ERR_CORRUPTED_DATA` (see above);
///         `NWAL_ERR_IO` (see `nwal_last_os_error()`).
///
/// Thread-safe. The returned handle may be shared by any number of threads;
/// every function on it is thread-safe except `nwal_close`.
///
/// # Safety
/// `dir` and `stream` must be NULL or NUL-terminated strings; `opts` NULL or
/// a valid `nwal_options`; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nwal_open(
    dir: *const c_char,
    stream: *const c_char,
    opts: *const nwal_options,
    out: *mut *mut nwal,
) -> nwal_status {
    boundary::call("nwal_open", || {
        // SAFETY: NUL-terminated strings per this function's contract.
        let dir = OsStr::from_bytes(unsafe { c_str(dir, "nwal_open: dir") }?.to_bytes());
        // SAFETY: as above.
        let stream = stream_name(unsafe { c_str(stream, "nwal_open: stream") }?)?;
        // SAFETY: NULL or a valid, aligned nwal_options per the contract.
        let options = match unsafe { opts.as_ref() } {
            Some(o) => o.wal_options()?,
            None => WalOptions::default(),
        };
        // SAFETY: NULL or writable per the contract.
        let out = unsafe { Out::required(out, "nwal_open: out") }?;
        let wal = Wal::open(dir, stream, options).map_err(engine("nwal_open"))?;
        out.write_box(nwal::new(wal));
        Ok(())
    })
}

/// Stop taking appends without releasing the handle: waits for appends in
/// flight, syncs (cutting the zeros durable appends pre-write after the last
/// record, docs/FORMAT.md), and releases the stream lock (so the stream can
/// be reopened). Later appends and cleanups return `NWAL_ERR_SHUTDOWN`; reads,
/// iteration and `nwal_sync` still work. Idempotent. The handle must still
/// be released with `nwal_close`.
///
/// Use it to stop a log that other threads are still using; then join them,
/// then `nwal_close`.
///
/// @param w the log.
/// @return `NWAL_OK`; `NWAL_ERR_IO` (the final sync failed);
///         `NWAL_ERR_INVALID_ARGUMENT` for NULL `w`.
///
/// Thread-safe.
///
/// # Safety
/// `w` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn nwal_shutdown(w: *mut nwal) -> nwal_status {
    with_handle("nwal_shutdown", w, |wal: &Wal| {
        wal.shutdown().map_err(engine("nwal_shutdown"))
    })
}

/// Shut the log down (as `nwal_shutdown`) and free the handle.
///
/// @param w the log, or NULL (a no-op returning `NWAL_OK`). Invalid after
///          the call, whatever it returns. Read buffers and iterators
///          obtained from it stay valid until freed.
/// @return `NWAL_OK`, or the status of the final sync (`NWAL_ERR_IO`: the
///         records appended without `NWAL_DURABLE` may not be durable). Also
///         closes a handle poisoned by a panic.
///
/// Must not race any other call on the same handle: join the threads using
/// it first (`nwal_shutdown` helps to stop them).
///
/// # Safety
/// `w` NULL or a live handle no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn nwal_close(w: *mut nwal) -> nwal_status {
    release("nwal_close", w)
}

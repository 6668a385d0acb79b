// SPDX-License-Identifier: MIT
//! The stream's metadata slot: `nwal_meta_put`, `nwal_meta_get`.

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{engine, with_handle};
use super::convert::{meta_key, meta_len};
use super::ptr::{bytes, bytes_mut, c_str, Out};
use super::types::{nwal, nwal_status};
use crate::Wal;
use std::ffi::c_char;

/// Metadata
/// ========
///
/// Each stream keeps a few small values beside its log (a Raft term and
/// vote, a snapshot's position): keys of 1-64 bytes of `[A-Za-z0-9._-]`,
/// values of 0-4096 bytes, at most 64 keys. They live in the stream's
/// metadata file, not in the log, so nothing that removes records
/// (`nwal_cleanup`, a truncation, a purge, a reset) touches them, and they survive reopening. A put
/// does not sync the log and a durable append does not sync the metadata:
/// after a crash every acknowledged put and every acknowledged durable
/// append is there, in no promised order relative to each other.
///
/// ---
///
/// Set `key` to `value`, replacing any value it had: atomic (after a crash
/// the key holds the old or the new value, never a mix) and durable once it
/// returns `NWAL_OK` (one write, then an fdatasync of the metadata file).
///
/// @param[in] w     the log.
/// @param[in] key   NUL-terminated key, 1-64 bytes of `[A-Za-z0-9._-]`.
///                  Borrowed for the call.
/// @param[in] value `len` bytes, copied; NULL only if `len` is 0 (an empty
///                  value).
/// @param[in] len   length of `value`, at most 4096.
///
/// @retval NWAL_OK                   the value is stored and durable.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `key` is NULL, `key` is empty,
///                                   longer than 64 bytes or outside the
///                                   alphabet, `len` is over 4096, `value`
///                                   is NULL with a non-zero `len`, or the
///                                   key is new and the stream already holds
///                                   64 keys. Nothing is written.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               the write or the sync failed; the key
///                                   keeps its old value in this handle.
///                                   After a failed sync the metadata is
///                                   read-only (every put returns
///                                   `NWAL_ERR_IO`) until the stream is
///                                   reopened; after a crash the key holds
///                                   the old or the new value. The log is
///                                   not affected.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe: puts serialise, gets do not wait for them.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `key` is NULL or a NUL-terminated string.
/// - `value` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn nwal_meta_put(
    w: *mut nwal,
    key: *const c_char,
    value: *const u8,
    len: usize,
) -> nwal_status {
    with_handle("nwal_meta_put", w, |wal: &Wal| {
        // SAFETY: NULL or NUL-terminated (precondition).
        let key = meta_key(
            unsafe { c_str(key, "nwal_meta_put: key") }?,
            "nwal_meta_put",
        )?;
        // SAFETY: NULL or `len` readable bytes (precondition).
        let value = unsafe { bytes(value, len, "nwal_meta_put: value") }?;
        wal.meta_put(key, value).map_err(engine("nwal_meta_put"))
    })
}

/// Copy the value of `key` into `buf`.
///
/// @param[in]  w       the log.
/// @param[in]  key     NUL-terminated key, as for `nwal_meta_put`. Borrowed
///                     for the call.
/// @param[out] buf     `cap` writable bytes; receives the value on `NWAL_OK`
///                     (bytes past it untouched). NULL only if `cap` is 0.
/// @param[in]  cap     size of `buf`. To learn a value's length, pass 0 (and
///                     NULL): `NWAL_ERR_BUFFER_TOO_SMALL` (or `NWAL_OK` for
///                     an empty value) with `*out_len` set.
/// @param[out] out_len receives the value's length on `NWAL_OK` and on
///                     `NWAL_ERR_BUFFER_TOO_SMALL`. Required.
///
/// @retval NWAL_OK                   the value (`*out_len` bytes) is in
///                                   `buf`.
/// @retval NWAL_ERR_BUFFER_TOO_SMALL `cap` is smaller than the value: nothing
///                                   is copied, `*out_len` is the value's
///                                   length.
/// @retval NWAL_ERR_NOT_FOUND        the key has no value (`*out_len`
///                                   untouched).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w`, `key` or `out_len` is NULL, `buf`
///                                   is NULL with a non-zero `cap`, or `key`
///                                   is not a valid key.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe and lock-free (never waits for a put); also after
/// `nwal_shutdown`.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `key` is NULL or a NUL-terminated string.
/// - `buf` is NULL or points to `cap` writable bytes.
/// - `out_len` is NULL or points to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn nwal_meta_get(
    w: *mut nwal,
    key: *const c_char,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> nwal_status {
    with_handle("nwal_meta_get", w, |wal: &Wal| {
        // SAFETY: NULL or NUL-terminated (precondition).
        let key = meta_key(
            unsafe { c_str(key, "nwal_meta_get: key") }?,
            "nwal_meta_get",
        )?;
        // SAFETY: NULL or `cap` writable bytes (precondition).
        let buf = unsafe { bytes_mut(buf, cap, "nwal_meta_get: buf") }?;
        // SAFETY: NULL or writable (precondition).
        let out_len = unsafe { Out::required(out_len, "nwal_meta_get: out_len") }?;
        meta_len(wal.meta_get_into(key, buf), out_len, "nwal_meta_get")
    })
}

// SPDX-License-Identifier: MIT
//! Durability and retention: `nwal_sync`, `nwal_wait_durable`,
//! `nwal_log_state_get`, `nwal_recovery_report_get`, `nwal_cleanup`,
//! `nwal_retention`, and reader holds (`nwal_hold`, `nwal_hold_release`,
//! `nwal_hold_get`).

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{engine, with_handle};
use super::convert::{hold_found, hold_name, slots_fit, timeout};
use super::ptr::{c_str, OptionalOut, Out, OutSlots};
use super::types::{
    nwal, nwal_cleanup_result, nwal_log_state, nwal_recovery_report, nwal_segment_retention,
    nwal_status,
};
use crate::Wal;
use std::ffi::c_char;

/// Durability and retention
/// ========================
///
/// `nwal_sync` makes everything appended so far durable, for callers that
/// append without `NWAL_DURABLE` and sync at their own pace;
/// `nwal_wait_durable` waits until one index is (a Raft engine's "flushed"
/// callback). `nwal_cleanup`
/// deletes the segments whose retention has passed, by the caller's clock;
/// `nwal_retention` says, without deleting anything, why each segment stays
/// or by which rule a cleanup would delete it.
///
/// ---
///
/// Make everything appended so far durable (an fdatasync, shared with
/// concurrent durable appenders), and a purge point that
/// `nwal_purge_before_deferred` left unsynced (an fdatasync of the
/// metadata file, only when there is one).
///
/// @param[in] w the log.
///
/// @retval NWAL_OK                   everything appended before the call is
///                                   durable (also after `nwal_shutdown`,
///                                   which synced), and so is every purge.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL.
/// @retval NWAL_ERR_IO               the fdatasync failed, now or earlier:
///                                   the log is poisoned, nothing is
///                                   reported durable again until it is
///                                   reopened. Or the sync of a deferred
///                                   purge point failed: the metadata
///                                   refuses changes until the log is
///                                   reopened (the log is not poisoned).
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[no_mangle]
pub unsafe extern "C" fn nwal_sync(w: *mut nwal) -> nwal_status {
    with_handle("nwal_sync", w, |wal: &Wal| {
        wal.sync().map_err(engine("nwal_sync"))
    })
}

/// Wait until the record of index `index` is durable, for at most
/// `timeout_ms` milliseconds.
///
/// The waiting thread takes part in group commit like a durable append: it
/// joins the fdatasync under way or leads the next one, which covers every
/// other waiter and appender too, so any number of waiters cost one
/// fdatasync. A thread that leads an fdatasync finishes it (others depend
/// on it): the timeout bounds the wait for other threads, not one
/// fdatasync's own length.
///
/// @param[in] w          the log.
/// @param[in] index      the index to wait for (the `index` of the ref an
///                       append returned).
/// @param[in] timeout_ms how long to wait: negative for no limit, 0 to only
///                       check (no fdatasync is started).
///
/// @retval NWAL_OK                   the record is durable (at once when
///                                   `index <= durable_index`, including
///                                   indexes purged since; also after
///                                   `nwal_shutdown`, which synced).
/// @retval NWAL_TIMED_OUT            the timeout passed first (not an error:
///                                   the last error message is unchanged).
/// @retval NWAL_ERR_NOT_FOUND        `index > last_index`: no such record
///                                   yet, or a truncation dropped it (also
///                                   one made while waiting).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL.
/// @retval NWAL_ERR_IO               an fdatasync failed, now or earlier:
///                                   the log is poisoned, nothing is
///                                   reported durable again until it is
///                                   reopened.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[no_mangle]
pub unsafe extern "C" fn nwal_wait_durable(
    w: *mut nwal,
    index: u64,
    timeout_ms: i64,
) -> nwal_status {
    with_handle("nwal_wait_durable", w, |wal: &Wal| {
        let durable = wal.wait_durable(index, timeout(timeout_ms));
        Ok(match durable.map_err(engine("nwal_wait_durable"))? {
            true => nwal_status::NWAL_OK,
            false => nwal_status::NWAL_TIMED_OUT,
        })
    })
}

/// Where the log's indexes stand: the lowest readable, the highest appended,
/// the highest known durable. Lock-free: it does not wait for appends.
///
/// @param[in]  w   the log.
/// @param[out] out receives the state on `NWAL_OK`.
///
/// @retval NWAL_OK                   `*out` is written.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `out` is NULL (`*out` untouched).
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe; also after `nwal_shutdown`.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `out` is NULL or points to a writable `nwal_log_state`.
#[no_mangle]
pub unsafe extern "C" fn nwal_log_state_get(w: *mut nwal, out: *mut nwal_log_state) -> nwal_status {
    with_handle("nwal_log_state_get", w, |wal: &Wal| {
        // SAFETY: NULL or writable (precondition).
        let out = unsafe { Out::required(out, "nwal_log_state_get: out") }?;
        out.write(nwal_log_state::from(wal.log_state()));
        Ok(())
    })
}

/// What `nwal_open` did to recover the stream: the newest segment's
/// length found and kept, the files removed, and whether any cut byte lay
/// below the durable watermark its records prove (never, without salvage).
///
/// @param[in]  w   the log.
/// @param[out] out receives the report on `NWAL_OK`.
///
/// @retval NWAL_OK                   `*out` is written.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `out` is NULL (`*out` untouched).
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe; also after `nwal_shutdown`.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `out` is NULL or points to a writable `nwal_recovery_report`.
#[no_mangle]
pub unsafe extern "C" fn nwal_recovery_report_get(
    w: *mut nwal,
    out: *mut nwal_recovery_report,
) -> nwal_status {
    with_handle("nwal_recovery_report_get", w, |wal: &Wal| {
        // SAFETY: NULL or writable (precondition).
        let out = unsafe { Out::required(out, "nwal_recovery_report_get: out") }?;
        out.write(nwal_recovery_report::from(wal.recovery_report()));
        Ok(())
    })
}

/// Delete the segments whose expiration is `<= now_ms`, then, with a size
/// budget (`nwal_options.max_stream_bytes`), the oldest sealed ones while
/// the stream's files hold more; never the active one nor one a reader hold
/// keeps (`nwal_hold`). Then fsync the directory. `nwal_retention` says
/// beforehand what it would delete and why the rest stays.
///
/// Refs into deleted segments then give `NWAL_ERR_NOT_FOUND`; read buffers
/// and iterators already holding their bytes are unaffected.
///
/// @param[in]  w      the log.
/// @param[in]  now_ms the caller's time, ms since the Unix epoch (the same
///                    time base as appends; the clock is never read).
/// @param[out] out    receives what was done on `NWAL_OK`; may be NULL.
///
/// @retval NWAL_OK                   the expired segments are deleted.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               deleting a segment or the directory
///                                   fsync failed; the segments not deleted
///                                   stay in the log, and a later cleanup
///                                   retries them.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `out` is NULL or points to a writable `nwal_cleanup_result`.
#[no_mangle]
pub unsafe extern "C" fn nwal_cleanup(
    w: *mut nwal,
    now_ms: i64,
    out: *mut nwal_cleanup_result,
) -> nwal_status {
    with_handle("nwal_cleanup", w, |wal: &Wal| {
        // SAFETY: NULL or writable (precondition).
        let out = unsafe { OptionalOut::new(out) };
        let r = wal.cleanup(now_ms).map_err(engine("nwal_cleanup"))?;
        out.write(nwal_cleanup_result::from(&r));
        Ok(())
    })
}

/// Why each segment of the stream is still on disk, or by which rule a
/// cleanup at `now_ms` would delete it: active, not expired until its
/// `expiration_ms`, kept by a reader hold, within the size budget, or after
/// an older segment that is kept; deleted as expired or over the size
/// budget. It deletes nothing and drops no hold: holds lagging past
/// `max_hold_lag_bytes` or `max_hold_lag_ms` at `now_ms` are left out, as
/// the cleanup would drop them first.
///
/// The results are written into the caller's array. To size it, call with
/// `cap` 0 (and `out` NULL): `NWAL_ERR_BUFFER_TOO_SMALL` with `*out_count`
/// set (or `NWAL_OK` for a stream without segments). A rotation or cleanup
/// between two calls may change the count: on `NWAL_ERR_BUFFER_TOO_SMALL`,
/// grow the array to `*out_count` and call again.
///
/// @param[in]  w         the log.
/// @param[in]  now_ms    the time to judge at, ms since the Unix epoch (the
///                       caller's clock, as for `nwal_cleanup`).
/// @param[out] out       `cap` writable slots; on `NWAL_OK` the first
///                       `*out_count` hold the segments in log order (the
///                       rest are untouched). Owned by the caller; nothing
///                       in it points into the library. NULL only if `cap`
///                       is 0.
/// @param[in]  cap       the number of slots of `out`.
/// @param[out] out_count receives the number of segments on `NWAL_OK` and
///                       on `NWAL_ERR_BUFFER_TOO_SMALL`. Required.
///
/// @retval NWAL_OK                   `out[0 .. *out_count]` is written.
/// @retval NWAL_ERR_BUFFER_TOO_SMALL the stream has more than `cap`
///                                   segments: nothing is written to `out`,
///                                   `*out_count` is how many it has.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `out_count` is NULL, or `out`
///                                   is NULL with a non-zero `cap`.
/// @retval NWAL_ERR_IO               the size of a segment file could not
///                                   be read (an fstat failed).
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe; also after `nwal_shutdown`. Concurrent appends and
/// cleanups are not waited for: the result is the segments as they were
/// when it was taken.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `out` is NULL or points to `cap` writable `nwal_segment_retention`s.
/// - `out_count` is NULL or points to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn nwal_retention(
    w: *mut nwal,
    now_ms: i64,
    out: *mut nwal_segment_retention,
    cap: usize,
    out_count: *mut usize,
) -> nwal_status {
    with_handle("nwal_retention", w, |wal: &Wal| {
        let what = "nwal_retention";
        // SAFETY: NULL or `cap` writable slots (precondition).
        let out = unsafe { OutSlots::required(out, cap, "nwal_retention: out") }?;
        // SAFETY: NULL or writable (precondition).
        let out_count = unsafe { Out::required(out_count, "nwal_retention: out_count") }?;
        let segments = wal.retention(now_ms).map_err(engine(what))?;
        slots_fit(segments.len(), cap, out_count, (what, "segments"))?;
        out.fill(segments.iter().map(nwal_segment_retention::from));
        Ok(())
    })
}

/// Set or move the reader hold `name` to `index`: from then on
/// `nwal_cleanup` and `nwal_purge_before` keep the records from `index` on,
/// unless the hold lags by more than `nwal_options.max_hold_lag_bytes` or
/// `max_hold_lag_ms`, in which case cleanup drops it and counts it in
/// `nwal_cleanup_result.dropped_holds`. Kept in the stream's metadata: it
/// survives reopen, and is durable on `NWAL_OK`.
///
/// @param[in] w     the log.
/// @param[in] name  NUL-terminated name, 1-54 bytes of `[A-Za-z0-9._-]`.
///                  Borrowed for the call.
/// @param[in] index the first index to keep: from `first_index` to
///                  `last_index + 1`.
///
/// @retval NWAL_OK                   the hold is set, durably.
/// @retval NWAL_ERR_NOT_FOUND        `index` is outside `[first_index,
///                                   last_index + 1]`.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `name` is NULL, `name` is not a
///                                   valid name, or the stream already has
///                                   64 metadata keys and holds.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               writing or syncing the metadata file
///                                   failed (see `nwal_meta_put`).
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn nwal_hold(w: *mut nwal, name: *const c_char, index: u64) -> nwal_status {
    with_handle("nwal_hold", w, |wal: &Wal| {
        // SAFETY: NULL or NUL-terminated (precondition).
        let name = hold_name(unsafe { c_str(name, "nwal_hold: name") }?, "nwal_hold")?;
        wal.hold(name, index).map_err(engine("nwal_hold"))
    })
}

/// Release the reader hold `name`; releasing one that does not exist does
/// nothing.
///
/// @param[in] w    the log.
/// @param[in] name NUL-terminated name. Borrowed for the call.
///
/// @retval NWAL_OK                   the hold is gone, durably.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `name` is NULL, or `name` is not
///                                   a valid name.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               writing or syncing the metadata file
///                                   failed.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn nwal_hold_release(w: *mut nwal, name: *const c_char) -> nwal_status {
    with_handle("nwal_hold_release", w, |wal: &Wal| {
        let what = "nwal_hold_release";
        // SAFETY: NULL or NUL-terminated (precondition).
        let name = hold_name(unsafe { c_str(name, "nwal_hold_release: name") }?, what)?;
        wal.release_hold(name).map(drop).map_err(engine(what))
    })
}

/// The index the reader hold `name` keeps from.
///
/// @param[in]  w         the log.
/// @param[in]  name      NUL-terminated name. Borrowed for the call.
/// @param[out] out_index receives the index on `NWAL_OK`.
///
/// @retval NWAL_OK                   `*out_index` is written.
/// @retval NWAL_ERR_NOT_FOUND        there is no hold of that name (it was
///                                   never set, was released, or cleanup
///                                   dropped it).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w`, `name` or `out_index` is NULL, or
///                                   `name` is not a valid name.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe and lock-free; also after `nwal_shutdown`.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `name` is NULL or a NUL-terminated string.
/// - `out_index` is NULL or points to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn nwal_hold_get(
    w: *mut nwal,
    name: *const c_char,
    out_index: *mut u64,
) -> nwal_status {
    with_handle("nwal_hold_get", w, |wal: &Wal| {
        // SAFETY: NULL or NUL-terminated (precondition).
        let name = hold_name(
            unsafe { c_str(name, "nwal_hold_get: name") }?,
            "nwal_hold_get",
        )?;
        // SAFETY: NULL or writable (precondition).
        let out_index = unsafe { Out::required(out_index, "nwal_hold_get: out_index") }?;
        let index = wal.hold_index(name).map_err(engine("nwal_hold_get"))?;
        out_index.write(hold_found(index, name)?);
        Ok(())
    })
}

// SPDX-License-Identifier: MIT
//! Following the log: `nwal_follow_open`, `nwal_follow_next`,
//! `nwal_follow_free`, and the log's event fd (`nwal_event_fd`,
//! `nwal_event_clear`).

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{engine, release, with_handle};
use super::convert::{follow_mode, followed, timeout};
use super::ptr::{OptionalOut, Out};
use super::types::{nwal, nwal_entry_ref, nwal_follower, nwal_record, nwal_status};
use crate::Wal;
use std::ffi::c_int;
use std::os::fd::AsRawFd;

/// Following the log
/// =================
///
/// A follower (`nwal_follower`) returns the records from an index on, in
/// order, and at the end of the log waits (with a timeout) for the next
/// one instead of ending: for replication, change-data capture and
/// consumers of the log's tail. It survives rotation and the cleanup of
/// segments it has finished; a truncation that dropped records it returned
/// is reported (`NWAL_CUT`), as are records purged before it reached them
/// (`NWAL_GAP`). With `NWAL_FOLLOW_DURABLE` it returns only records known
/// durable, so a replica never ships a record its source can still lose.
///
/// An event loop waits on the log's event fd (`nwal_event_fd`) instead of
/// in `nwal_follow_next`: clear it (`nwal_event_clear`), take every record
/// with a timeout of 0 until `NWAL_TIMED_OUT`, then poll the fd.
///
/// ---
///
/// Open a follower from index `from`.
///
/// @param[in]  w     the log.
/// @param[in]  from  the index of the first record to return: from the
///                   log's `first_index` to `last_index + 1` (only records
///                   appended from now on).
/// @param[in]  flags 0 (every record once appended) or
///                   `NWAL_FOLLOW_DURABLE` (only records known durable; the
///                   follower never syncs itself: a durable append,
///                   `nwal_sync`, `nwal_wait_durable`, a rotation or a
///                   shutdown makes them durable and wakes it).
/// @param[out] out   receives the follower on `NWAL_OK` (untouched
///                   otherwise). The caller owns it: release it with
///                   `nwal_follow_free`. It may outlive `nwal_close(w)`: it
///                   then returns the records left, then `NWAL_DONE`.
///
/// @retval NWAL_OK                   the follower is open.
/// @retval NWAL_ERR_NOT_FOUND        `from` is below `first_index` or above
///                                   `last_index + 1`.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `out` is NULL, or `flags` has
///                                   an unknown bit.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe on `w`. The follower is used by one thread at a time.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `out` is NULL or points to writable storage for an `nwal_follower *`.
#[no_mangle]
pub unsafe extern "C" fn nwal_follow_open(
    w: *mut nwal,
    from: u64,
    flags: u32,
    out: *mut *mut nwal_follower,
) -> nwal_status {
    with_handle("nwal_follow_open", w, |wal: &Wal| {
        // SAFETY: NULL or writable (precondition).
        let out = unsafe { Out::required(out, "nwal_follow_open: out") }?;
        let mode = follow_mode(flags)?;
        let follower = wal.follow(from, mode).map_err(engine("nwal_follow_open"))?;
        out.write_box(nwal_follower::new(follower));
        Ok(())
    })
}

/// The follower's next record, waiting at most `timeout_ms` at the end of
/// the log.
///
/// @param[in,out] f          the follower.
/// @param[in]     timeout_ms how long to wait at the end of the log:
///                           negative for no limit, 0 to only look.
/// @param[out]    out_rec    receives the record on `NWAL_OK`. Required.
///                           Its pointers are valid until the next
///                           `nwal_follow_next` or `nwal_follow_free` on
///                           `f`.
/// @param[out]    out_ref    receives the record's ref on `NWAL_OK`; on
///                           `NWAL_CUT` and `NWAL_GAP`, a ref whose `index`
///                           is the index the follower goes on at (its
///                           other fields 0). May be NULL.
///
/// @retval NWAL_OK                   a record, the next in index order.
/// @retval NWAL_TIMED_OUT            no record came in time; the follower
///                                   stays where it is.
/// @retval NWAL_CUT                  a truncation or reset dropped records
///                                   it had returned: undo what came from
///                                   them; it goes on at `out_ref->index`.
/// @retval NWAL_GAP                  the records from its place on were
///                                   purged or deleted by cleanup before it
///                                   returned them; it goes on at
///                                   `out_ref->index`, the first index.
/// @retval NWAL_DONE                 the log was shut down and every record
///                                   the follower may return was returned.
/// @retval NWAL_ERR_IO               a read failed, or the log is poisoned
///                                   and can take no more records while it
///                                   would wait; the follower stays where it
///                                   is.
/// @retval NWAL_ERR_CORRUPTED_DATA   a record does not verify; the follower
///                                   stays where it is.
/// @retval NWAL_ERR_INVALID_ARGUMENT `f` or `out_rec` is NULL.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `f` (the follower is
///                                   poisoned).
///
/// `NWAL_TIMED_OUT`, `NWAL_CUT`, `NWAL_GAP` and `NWAL_DONE` are not errors:
/// the last error message is unchanged.
///
/// Not thread-safe on `f`: one thread at a time.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `f` is NULL or a follower returned by `nwal_follow_open` and not yet
///   passed to `nwal_follow_free`, used by no other thread during the call.
/// - `out_rec` is NULL or points to a writable `nwal_record`, and `out_ref`
///   is NULL or points to a writable `nwal_entry_ref`.
#[no_mangle]
pub unsafe extern "C" fn nwal_follow_next(
    f: *mut nwal_follower,
    timeout_ms: i64,
    out_rec: *mut nwal_record,
    out_ref: *mut nwal_entry_ref,
) -> nwal_status {
    with_handle("nwal_follow_next", f, |(follower, last)| {
        // SAFETY: NULL or writable (precondition).
        let out_rec = unsafe { Out::required(out_rec, "nwal_follow_next: out_rec") }?;
        // SAFETY: as above.
        let out_ref = unsafe { OptionalOut::new(out_ref) };
        let step = follower.next(timeout(timeout_ms));
        let (status, r, rec) = followed(step.map_err(engine("nwal_follow_next"))?, last);
        out_ref.write_some(r);
        out_rec.write_some(rec);
        Ok(status)
    })
}

/// Release a follower; the record it returned last becomes invalid.
///
/// @param[in] f a follower from `nwal_follow_open`, or NULL (nothing to
///              do). Invalid after the call. It may be released before or
///              after `nwal_close` of its log.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `f` is NULL or a follower returned by `nwal_follow_open` and not yet
///   passed to `nwal_follow_free`.
/// - No other thread uses `f` or its last record during or after the call.
#[no_mangle]
pub unsafe extern "C" fn nwal_follow_free(f: *mut nwal_follower) {
    release("nwal_follow_free", f);
}

/// The log's event fd: readable once a record was appended, the durable
/// index moved, or a truncation, reset or shutdown happened since the last
/// `nwal_event_clear` (and readable when first created), for `poll`,
/// `epoll` or `select` (`POLLIN`).
///
/// @param[in]  w      the log.
/// @param[out] out_fd receives the fd on `NWAL_OK`. It belongs to the log:
///                    never read, write or close it. It stays open until
///                    `nwal_close(w)` and the release of its last follower;
///                    every call returns the same fd.
///
/// @retval NWAL_OK                   `*out_fd` is written.
/// @retval NWAL_ERR_IO               no eventfd could be created (EMFILE,
///                                   ENFILE, ENOMEM: see
///                                   `nwal_last_os_error`).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `out_fd` is NULL.
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
/// - `out_fd` is NULL or points to a writable `int`.
#[no_mangle]
pub unsafe extern "C" fn nwal_event_fd(w: *mut nwal, out_fd: *mut c_int) -> nwal_status {
    with_handle("nwal_event_fd", w, |wal: &Wal| {
        // SAFETY: NULL or writable (precondition).
        let out_fd = unsafe { Out::required(out_fd, "nwal_event_fd: out_fd") }?;
        let fd = wal.event_fd().map_err(engine("nwal_event_fd"))?;
        out_fd.write(fd.as_raw_fd());
        Ok(())
    })
}

/// Make the event fd unreadable until the next change. Call it before
/// taking the records that are there: a record appended after it makes
/// the fd readable again, one appended before it is returned by the
/// `nwal_follow_next` calls after it.
///
/// @param[in] w the log.
///
/// @retval NWAL_OK                   cleared (nothing to do before
///                                   `nwal_event_fd` was called).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL.
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
pub unsafe extern "C" fn nwal_event_clear(w: *mut nwal) -> nwal_status {
    with_handle("nwal_event_clear", w, |wal: &Wal| {
        wal.clear_event();
        Ok(())
    })
}

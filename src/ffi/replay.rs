// SPDX-License-Identifier: MIT
//! Replay (`nwal_iter_open`, `nwal_iter_open_at`, `nwal_iter_next`,
//! `nwal_iter_next_batch`, `nwal_iter_free`).

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{engine, release, with_handle};
use super::ptr::{OptionalOut, Out, OutSlots};
use super::types::{nwal, nwal_entry_ref, nwal_iter, nwal_record, nwal_status};
use crate::{Replay, Wal};

/// Replaying the log
/// =================
///
/// An iterator (`nwal_iter`) returns the records of the log in log order,
/// from the first one or from a ref: to recover after a restart, open the
/// log, replay from the last checkpointed ref, then append.
///
/// ---
///
/// Open an iterator from the first record, or from `from` (inclusive: the
/// first record returned is `*from`).
///
/// The iterator follows the log as it grows: records appended before it
/// reaches the end are returned too. It ends (`NWAL_DONE`) at the written
/// end of the newest segment and stays ended; to read what was appended
/// later, open a new iterator from the last ref seen.
///
/// With `nwal_cleanup` running concurrently, the iterator finishes the
/// segment it is reading even if that segment is deleted meanwhile, and
/// passes over segments deleted before it reaches them without saying so.
/// To tell "deleted under me" from "never existed", compare the refs it
/// returns with the segments you expect, or do not clean up below a
/// replay's position while it runs.
///
/// @param[in]  w    the log.
/// @param[in]  from the ref of a live record to start at, or NULL for the
///                  beginning. Borrowed for the call.
/// @param[out] out  receives the iterator on `NWAL_OK` (untouched
///                  otherwise). The caller owns it: release it with
///                  `nwal_iter_free`. It may outlive `nwal_close(w)`: it
///                  then returns the records written before the close,
///                  then `NWAL_DONE`.
///
/// @retval NWAL_OK                   the iterator is open.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `out` is NULL, or `from` has
///                                   size 0 or runs past its segment's
///                                   written end.
/// @retval NWAL_ERR_NOT_FOUND        `from` names a segment that does not
///                                   exist (never did, or was deleted), or
///                                   an index its segment does not hold.
/// @retval NWAL_ERR_CORRUPTED_DATA   `from` cannot be a record (inside the
///                                   segment header, or shorter than a
///                                   record). A `from` that is not exactly a
///                                   record is reported by the first
///                                   `nwal_iter_next` instead.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe on `w`. The iterator is used by one thread at a time.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `from` is NULL or points to a readable `nwal_entry_ref`.
/// - `out` is NULL or points to writable storage for an `nwal_iter *`.
#[no_mangle]
pub unsafe extern "C" fn nwal_iter_open(
    w: *mut nwal,
    from: *const nwal_entry_ref,
    out: *mut *mut nwal_iter,
) -> nwal_status {
    with_handle("nwal_iter_open", w, |wal: &Wal| {
        // SAFETY: NULL or a readable ref (precondition).
        let from = unsafe { from.as_ref() }.map(|&r| r.into());
        // SAFETY: NULL or writable (precondition).
        let out = unsafe { Out::required(out, "nwal_iter_open: out") }?;
        let replay = wal.replay(from).map_err(engine("nwal_iter_open"))?;
        out.write_box(nwal_iter::new(replay));
        Ok(())
    })
}

/// Open an iterator from the record of index `from_index` (inclusive), as
/// `nwal_iter_open` from that record's ref.
///
/// `from_index` may be one past the log's last index: the iterator then
/// returns `NWAL_DONE` until records are appended, and then those records.
///
/// @param[in]  w          the log.
/// @param[in]  from_index the index of the first record to return.
/// @param[out] out        receives the iterator on `NWAL_OK` (untouched
///                        otherwise); release it with `nwal_iter_free`.
///
/// @retval NWAL_OK                   the iterator is open.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `out` is NULL.
/// @retval NWAL_ERR_NOT_FOUND        `from_index` is below the log's
///                                   `first_index` or above
///                                   `last_index + 1`.
/// @retval NWAL_ERR_CORRUPTED_DATA   the record of `from_index` fails its
///                                   checks.
/// @retval NWAL_ERR_IO               reading failed.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe on `w`. The iterator is used by one thread at a time.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `out` is NULL or points to writable storage for an `nwal_iter *`.
#[no_mangle]
pub unsafe extern "C" fn nwal_iter_open_at(
    w: *mut nwal,
    from_index: u64,
    out: *mut *mut nwal_iter,
) -> nwal_status {
    with_handle("nwal_iter_open_at", w, |wal: &Wal| {
        // SAFETY: NULL or writable (precondition).
        let out = unsafe { Out::required(out, "nwal_iter_open_at: out") }?;
        let replay = wal
            .replay_from_index(from_index)
            .map_err(engine("nwal_iter_open_at"))?;
        out.write_box(nwal_iter::new(replay));
        Ok(())
    })
}

/// Advance the iterator to the next record.
///
/// @param[in,out] it      the iterator.
/// @param[out]    out_rec receives the record on `NWAL_OK`. Required. Its
///                        pointers are valid until the next
///                        `nwal_iter_next` or `nwal_iter_free` on `it`.
/// @param[out]    out_ref receives the record's ref on `NWAL_OK`; may be
///                        NULL.
///
/// @retval NWAL_OK                   a record.
/// @retval NWAL_DONE                 the end of the log (not an error: the
///                                   last error message is unchanged).
/// @retval NWAL_ERR_CORRUPTED_DATA   a record does not verify (replay never
///                                   skips one), or a batch is cut short.
/// @retval NWAL_ERR_NOT_FOUND        a truncation or reset dropped the
///                                   records the iterator was at (it may
///                                   first return some it had read ahead).
/// @retval NWAL_ERR_IO               reading failed.
/// @retval NWAL_ERR_INVALID_ARGUMENT `it` or `out_rec` is NULL.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `it` (the iterator is poisoned).
///
/// After `NWAL_ERR_CORRUPTED_DATA`, `NWAL_ERR_NOT_FOUND` or `NWAL_ERR_IO`
/// the iterator is finished: later calls return `NWAL_DONE`.
///
/// Not thread-safe on `it`: one thread at a time.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `it` is NULL or an iterator returned by `nwal_iter_open` and not yet
///   passed to `nwal_iter_free`, used by no other thread during the call.
/// - `out_rec` is NULL or points to a writable `nwal_record`, and `out_ref`
///   is NULL or points to a writable `nwal_entry_ref`.
#[no_mangle]
pub unsafe extern "C" fn nwal_iter_next(
    it: *mut nwal_iter,
    out_rec: *mut nwal_record,
    out_ref: *mut nwal_entry_ref,
) -> nwal_status {
    with_handle("nwal_iter_next", it, |replay: &mut Replay| {
        // SAFETY: NULL or writable (precondition).
        let out_rec = unsafe { Out::required(out_rec, "nwal_iter_next: out_rec") }?;
        // SAFETY: as above.
        let out_ref = unsafe { OptionalOut::new(out_ref) };
        let Some(item) = replay.next_ref() else {
            return Ok(nwal_status::NWAL_DONE);
        };
        let (r, record) = item.map_err(engine("nwal_iter_next"))?;
        // A view into the replay's buffer, kept until the next call or
        // nwal_iter_free.
        out_rec.write(record.into());
        out_ref.write(r.into());
        Ok(nwal_status::NWAL_OK)
    })
}

/// Advance the iterator by up to `max_count` records at once: what
/// `max_count` calls of `nwal_iter_next` would return, in one call.
///
/// The records come from the iterator's read buffer (about 1 MiB at a
/// time), so a call may return fewer than `max_count` before the end: the
/// buffer's last record, or the record before anything `nwal_iter_next`
/// would stop at (an error is returned by the next call, once the records
/// before it were handed out). The way to replay many small records
/// without a call per record.
///
/// @param[in,out] it          the iterator.
/// @param[out]    out_records `max_count` slots, the first `*out_count`
///                            filled on `NWAL_OK`. Required. Their pointers
///                            are valid until the next `nwal_iter_next`,
///                            `nwal_iter_next_batch` or `nwal_iter_free` on
///                            `it`.
/// @param[out]    out_refs    `max_count` slots for the records' refs, or
///                            NULL.
/// @param[in]     max_count   the most records to return; at least 1.
/// @param[out]    out_count   receives the number of records returned: at
///                            least 1 on `NWAL_OK`, 0 on `NWAL_DONE`
///                            (untouched on errors). Required.
///
/// @retval NWAL_OK                   `*out_count` records.
/// @retval NWAL_DONE                 the end of the log (not an error: the
///                                   last error message is unchanged).
/// @retval NWAL_ERR_CORRUPTED_DATA   the next record does not verify, or a
///                                   batch is cut short.
/// @retval NWAL_ERR_NOT_FOUND        a truncation or reset dropped the
///                                   records the iterator was at.
/// @retval NWAL_ERR_IO               reading failed.
/// @retval NWAL_ERR_INVALID_ARGUMENT `it`, `out_records` or `out_count` is
///                                   NULL, or `max_count` is 0.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `it` (the iterator is poisoned).
///
/// After an error the iterator is finished, as for `nwal_iter_next`.
///
/// Not thread-safe on `it`: one thread at a time.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `it` is NULL or an iterator returned by `nwal_iter_open` and not yet
///   passed to `nwal_iter_free`, used by no other thread during the call.
/// - `out_records` is NULL or points to `max_count` writable
///   `nwal_record`s, `out_refs` is NULL or points to `max_count` writable
///   `nwal_entry_ref`s, and `out_count` is NULL or points to a writable
///   `size_t`.
#[no_mangle]
pub unsafe extern "C" fn nwal_iter_next_batch(
    it: *mut nwal_iter,
    out_records: *mut nwal_record,
    out_refs: *mut nwal_entry_ref,
    max_count: usize,
    out_count: *mut usize,
) -> nwal_status {
    with_handle("nwal_iter_next_batch", it, |replay: &mut Replay| {
        let what = "nwal_iter_next_batch: out_records";
        // SAFETY: NULL or `max_count` writable slots (precondition).
        let out_records = unsafe { OutSlots::at_least_one(out_records, max_count, what) }?;
        let what = "nwal_iter_next_batch: out_refs";
        // SAFETY: as above.
        let out_refs = unsafe { OutSlots::optional(out_refs, max_count, what) }?;
        let what = "nwal_iter_next_batch: out_count";
        // SAFETY: NULL or writable (precondition).
        let out_count = unsafe { Out::required(out_count, what) }?;
        let Some(batch) = replay.next_batch(max_count) else {
            out_count.write(0);
            return Ok(nwal_status::NWAL_DONE);
        };
        let batch = batch.map_err(engine("nwal_iter_next_batch"))?;
        // Views into the replay's buffer, kept until the next call.
        out_refs.fill(batch.iter().map(|(r, _)| r.into()));
        out_count.write(out_records.fill_counted(batch.iter().map(|(_, rec)| rec.into())));
        Ok(nwal_status::NWAL_OK)
    })
}

/// Release an iterator; the record it returned last becomes invalid.
///
/// @param[in] it an iterator from `nwal_iter_open`, or NULL (nothing to
///               do). Invalid after the call. It may be released before or
///               after `nwal_close` of its log.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `it` is NULL or an iterator returned by `nwal_iter_open` and not yet
///   passed to `nwal_iter_free`.
/// - No other thread uses `it` or its last record during or after the call.
#[no_mangle]
pub unsafe extern "C" fn nwal_iter_free(it: *mut nwal_iter) {
    release("nwal_iter_free", it);
}

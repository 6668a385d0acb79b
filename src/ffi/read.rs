// SPDX-License-Identifier: MIT
//! Reading by ref (`nwal_read_batch`, `nwal_read_buf_free`), by index
//! (`nwal_read_range`) and replay (`nwal_iter_open`, `nwal_iter_open_at`,
//! `nwal_iter_next`, `nwal_iter_free`).

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{engine, release, with_handle};
use super::ptr::{array, OptionalOut, Out, OutSlots};
use super::types::{nwal, nwal_entry_ref, nwal_iter, nwal_read_buf, nwal_record, nwal_status};
use crate::{Replay, Wal};

/// Reading records by ref
/// ======================
///
/// A ref (`nwal_entry_ref`), returned by an append or by replay, names one
/// record. `nwal_read_batch` reads the records of many refs at once into
/// one buffer owned by the library, released with `nwal_read_buf_free`.
/// Every record's checksum is verified. Reads never wait for writers and
/// still work after `nwal_shutdown`.
///
/// ---
///
/// Read the records of `count` refs, in the order of `refs`.
///
/// Refs into the same segment are coalesced into one positional read; the
/// records point into the returned buffer (no copy per record).
///
/// @param[in]  w           the log.
/// @param[in]  refs        the refs (from appends or replay); NULL only if
///                         `count` is 0. Borrowed for the call.
/// @param[in]  count       number of refs; 0 reads nothing and sets
///                         `*out_buf` to NULL.
/// @param[out] out_records `count` slots, filled on `NWAL_OK` with views
///                         into `*out_buf`; NULL only if `count` is 0.
/// @param[out] out_buf     receives, on `NWAL_OK`, the buffer that owns the
///                         bytes (NULL when `count` is 0). Required. The
///                         caller owns it: release it with
///                         `nwal_read_buf_free` (never `free()`). The records
///                         stay valid and unchanged until then, even across
///                         later appends, `nwal_cleanup` or `nwal_close`.
///
/// @retval NWAL_OK                   every record was read and verified.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` or `out_buf` is NULL, `refs` or
///                                   `out_records` is NULL with a non-zero
///                                   `count`, or a ref has size 0 or runs
///                                   past its segment's written end.
/// @retval NWAL_ERR_NOT_FOUND        a ref names a segment that does not
///                                   exist (never did, or was deleted by
///                                   `nwal_cleanup`, a truncation or a
///                                   reset), or an index its segment does
///                                   not hold (dropped by a truncation, or
///                                   cut by recovery as a torn tail).
/// @retval NWAL_ERR_CORRUPTED_DATA   a ref does not cover exactly one whole
///                                   record, or the bytes fail their
///                                   checksum.
/// @retval NWAL_ERR_IO               reading failed, or the buffer could not
///                                   be allocated.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// On failure nothing is written and nothing needs releasing.
///
/// Thread-safe.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `refs` is NULL or points to `count` readable `nwal_entry_ref`s.
/// - `out_records` is NULL or points to `count` writable `nwal_record`s.
/// - `out_buf` is NULL or points to writable storage for an
///   `nwal_read_buf *`.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_batch(
    w: *mut nwal,
    refs: *const nwal_entry_ref,
    count: usize,
    out_records: *mut nwal_record,
    out_buf: *mut *mut nwal_read_buf,
) -> nwal_status {
    with_handle("nwal_read_batch", w, |wal: &Wal| {
        // SAFETY: NULL or `count` readable refs (precondition).
        let refs = unsafe { array(refs, count, "nwal_read_batch: refs") }?;
        // SAFETY: NULL or `count` writable slots (precondition).
        let out_records =
            unsafe { OutSlots::required(out_records, count, "nwal_read_batch: out_records") }?;
        // SAFETY: NULL or writable (precondition).
        let out_buf = unsafe { Out::required(out_buf, "nwal_read_batch: out_buf") }?;
        if count == 0 {
            out_buf.write(std::ptr::null_mut());
            return Ok(());
        }
        let buf = Box::new(nwal_read_buf::read(wal, refs).map_err(engine("nwal_read_batch"))?);
        out_records.fill(buf.records());
        out_buf.write_box(buf);
        Ok(())
    })
}

/// Read the records of indexes `from`, `from + 1`, ... in order: at most
/// `max_count`, stopping before their header and content bytes would pass
/// `max_bytes`, but always at least one.
///
/// The records are verified as by `nwal_read_batch`, and owned the same way.
///
/// @param[in]  w           the log.
/// @param[in]  from        the index of the first record.
/// @param[in]  max_count   at most this many records (at least 1).
/// @param[in]  max_bytes   budget of header and content bytes; the first
///                         record is returned whatever its size.
/// @param[out] out_records `max_count` slots; the first `*out_count` are
///                         filled on `NWAL_OK` with views into `*out_buf`,
///                         the others are untouched. Required.
/// @param[out] out_refs    `max_count` slots for the records' refs, filled
///                         like `out_records`; may be NULL.
/// @param[out] out_count   receives the number of records on `NWAL_OK`.
///                         Required.
/// @param[out] out_buf     receives the buffer that owns the bytes on
///                         `NWAL_OK`. Required. Release it with
///                         `nwal_read_buf_free`.
///
/// @retval NWAL_OK                   at least one record was read.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w`, `out_records`, `out_count` or
///                                   `out_buf` is NULL, or `max_count` is 0.
/// @retval NWAL_ERR_NOT_FOUND        `from` is outside the log's
///                                   `[first_index, last_index]`.
/// @retval NWAL_ERR_CORRUPTED_DATA   a record fails its checks.
/// @retval NWAL_ERR_IO               reading failed.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// On failure nothing is written and nothing needs releasing.
///
/// Thread-safe.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `out_records` is NULL or points to `max_count` writable `nwal_record`s,
///   `out_refs` is NULL or points to `max_count` writable `nwal_entry_ref`s.
/// - `out_count` is NULL or points to a writable `size_t`, `out_buf` is NULL
///   or points to writable storage for an `nwal_read_buf *`.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_range(
    w: *mut nwal,
    from: u64,
    max_count: usize,
    max_bytes: u64,
    out_records: *mut nwal_record,
    out_refs: *mut nwal_entry_ref,
    out_count: *mut usize,
    out_buf: *mut *mut nwal_read_buf,
) -> nwal_status {
    with_handle("nwal_read_range", w, |wal: &Wal| {
        let what = "nwal_read_range: out_records";
        // SAFETY: NULL or `max_count` writable slots (precondition).
        let out_records = unsafe { OutSlots::required(out_records, max_count.max(1), what) }?;
        let what = "nwal_read_range: out_refs";
        // SAFETY: as above.
        let out_refs = unsafe { OutSlots::optional(out_refs, max_count, what) }?;
        // SAFETY: NULL or writable (precondition).
        let out_count = unsafe { Out::required(out_count, "nwal_read_range: out_count") }?;
        // SAFETY: as above.
        let out_buf = unsafe { Out::required(out_buf, "nwal_read_range: out_buf") }?;
        let read = nwal_read_buf::read_range(wal, from, max_count, max_bytes);
        let (buf, refs) = read.map_err(engine("nwal_read_range"))?;
        out_records.fill(buf.records());
        out_refs.fill(refs.iter().copied());
        out_count.write(refs.len());
        out_buf.write_box(Box::new(buf));
        Ok(())
    })
}

/// Release the buffer of an `nwal_read_batch`; the records that point into
/// it become invalid.
///
/// @param[in] buf a buffer from `nwal_read_batch`, or NULL (nothing to do).
///                Invalid after the call. It does not depend on its log: it
///                may be released before or after `nwal_close`.
///
/// Thread-safe: any thread may release it, once no thread reads its
/// records any more.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `buf` is NULL or a buffer returned by `nwal_read_batch` and not yet
///   passed to `nwal_read_buf_free`.
/// - No other thread uses `buf` or its records during or after the call.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_buf_free(buf: *mut nwal_read_buf) {
    release("nwal_read_buf_free", buf);
}

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

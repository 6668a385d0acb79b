// SPDX-License-Identifier: MIT
//! Reading by ref (`nwal_read_batch`, `nwal_read_buf_free`) and by index
//! (`nwal_read_range`), each into a new buffer or into the caller's
//! (`nwal_read_buf_new`, `nwal_read_into`, `nwal_read_batch_into`,
//! `nwal_read_range_into`).

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{call, engine, release, with_handle};
use super::ptr::{array, object_mut, reference, Out, OutSlots};
use super::types::{nwal, nwal_entry_ref, nwal_read_buf, nwal_record, nwal_status};
use crate::Wal;

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

/// Create an empty read buffer for the `_into` reads, which fill it again
/// and again reusing its memory: once it has grown to what a read needs,
/// reads by ref into it allocate nothing.
///
/// Any buffer may be passed to an `_into` read, also one returned by
/// `nwal_read_batch` or `nwal_read_range`: each read replaces what the
/// buffer held, so the records an earlier read put in it become invalid.
///
/// @param[out] out receives the buffer on `NWAL_OK`. Required. The caller
///                 owns it: release it with `nwal_read_buf_free`. It does
///                 not belong to a log: one buffer serves reads of any log.
///
/// @retval NWAL_OK                   the buffer is created (it allocates on
///                                   its first read).
/// @retval NWAL_ERR_INVALID_ARGUMENT `out` is NULL.
/// @retval NWAL_ERR_PANIC            internal error.
///
/// Thread-safe. A buffer is used by one thread at a time.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `out` is NULL or points to writable storage for an `nwal_read_buf *`.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_buf_new(out: *mut *mut nwal_read_buf) -> nwal_status {
    call("nwal_read_buf_new", || {
        // SAFETY: NULL or writable (precondition).
        let out = unsafe { Out::required(out, "nwal_read_buf_new: out") }?;
        out.write_box(Box::new(nwal_read_buf::empty()));
        Ok(())
    })
}

/// Read one record into the caller's buffer `buf`: `nwal_read_batch` of
/// one ref, with the buffer's memory reused instead of a buffer allocated.
///
/// @param[in]     w       the log.
/// @param[in]     ref     the record's ref. Required; borrowed for the
///                        call.
/// @param[in,out] buf     the buffer (`nwal_read_buf_new`). Required. Its
///                        earlier records become invalid; on `NWAL_OK` it
///                        holds this one, on failure none.
/// @param[out]    out_rec receives the record on `NWAL_OK`, a view into
///                        `buf` valid until `buf`'s next read or
///                        `nwal_read_buf_free`. Required.
///
/// @retval NWAL_OK and every status of `nwal_read_batch`, for the same
///         reasons; `NWAL_ERR_INVALID_ARGUMENT` also when `ref`, `buf` or
///         `out_rec` is NULL.
///
/// Thread-safe on `w`; `buf` is used by one thread at a time.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `ref` is NULL or points to a readable `nwal_entry_ref`.
/// - `buf` is NULL or a buffer from `nwal_read_buf_new`, `nwal_read_batch`
///   or `nwal_read_range`, not yet freed, used by no other thread.
/// - `out_rec` is NULL or points to a writable `nwal_record`.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_into(
    w: *mut nwal,
    r#ref: *const nwal_entry_ref,
    buf: *mut nwal_read_buf,
    out_rec: *mut nwal_record,
) -> nwal_status {
    with_handle("nwal_read_into", w, |wal: &Wal| {
        // SAFETY: NULL or readable (precondition).
        let r = unsafe { reference(r#ref, "nwal_read_into: ref") }?;
        // SAFETY: NULL or a live buffer used by this thread only (precondition).
        let buf = unsafe { object_mut(buf, "nwal_read_into: buf") }?;
        // SAFETY: NULL or one writable slot (precondition).
        let out_rec = unsafe { OutSlots::required(out_rec, 1, "nwal_read_into: out_rec") }?;
        let refs = std::slice::from_ref(r);
        buf.read_into(wal, refs).map_err(engine("nwal_read_into"))?;
        out_rec.fill(buf.records());
        Ok(())
    })
}

/// Read the records of `count` refs into the caller's buffer `buf`:
/// `nwal_read_batch`, with the buffer's memory reused instead of a buffer
/// allocated.
///
/// @param[in]     w           the log.
/// @param[in]     refs        the refs; NULL only if `count` is 0.
///                            Borrowed for the call.
/// @param[in]     count       number of refs; 0 reads nothing and empties
///                            `buf`.
/// @param[in,out] buf         the buffer (`nwal_read_buf_new`). Required.
///                            Its earlier records become invalid; on
///                            `NWAL_OK` it holds these, on failure none.
/// @param[out]    out_records `count` slots, filled on `NWAL_OK` with views
///                            into `buf`, valid until `buf`'s next read or
///                            `nwal_read_buf_free`; NULL only if `count` is 0.
///
/// @retval NWAL_OK and every status of `nwal_read_batch`, for the same
///         reasons; `NWAL_ERR_INVALID_ARGUMENT` also when `buf` is NULL.
///
/// Thread-safe on `w`; `buf` is used by one thread at a time.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `refs` is NULL or points to `count` readable `nwal_entry_ref`s.
/// - `buf` is NULL or a buffer from `nwal_read_buf_new`, `nwal_read_batch`
///   or `nwal_read_range`, not yet freed, used by no other thread.
/// - `out_records` is NULL or points to `count` writable `nwal_record`s.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_batch_into(
    w: *mut nwal,
    refs: *const nwal_entry_ref,
    count: usize,
    buf: *mut nwal_read_buf,
    out_records: *mut nwal_record,
) -> nwal_status {
    with_handle("nwal_read_batch_into", w, |wal: &Wal| {
        // SAFETY: NULL or `count` readable refs (precondition).
        let refs = unsafe { array(refs, count, "nwal_read_batch_into: refs") }?;
        // SAFETY: NULL or a live buffer used by this thread only (precondition).
        let buf = unsafe { object_mut(buf, "nwal_read_batch_into: buf") }?;
        let what = "nwal_read_batch_into: out_records";
        // SAFETY: NULL or `count` writable slots (precondition).
        let out_records = unsafe { OutSlots::required(out_records, count, what) }?;
        buf.read_into(wal, refs)
            .map_err(engine("nwal_read_batch_into"))?;
        out_records.fill(buf.records());
        Ok(())
    })
}

/// Read the records from index `from` on into the caller's buffer `buf`:
/// `nwal_read_range`, with the memory of the records' bytes reused instead
/// of a buffer allocated.
///
/// @param[in]     w           the log.
/// @param[in]     from        the index of the first record.
/// @param[in]     max_count   at most this many records (at least 1).
/// @param[in]     max_bytes   budget of header and content bytes; the first
///                            record is returned whatever its size.
/// @param[in,out] buf         the buffer (`nwal_read_buf_new`). Required.
///                            Its earlier records become invalid; on
///                            `NWAL_OK` it holds these, on failure none.
/// @param[out]    out_records `max_count` slots; the first `*out_count` are
///                            filled on `NWAL_OK` with views into `buf`,
///                            valid until `buf`'s next read or
///                            `nwal_read_buf_free`. Required.
/// @param[out]    out_refs    `max_count` slots for the records' refs, or
///                            NULL.
/// @param[out]    out_count   receives the number of records on `NWAL_OK`.
///                            Required.
///
/// @retval NWAL_OK and every status of `nwal_read_range`, for the same
///         reasons; `NWAL_ERR_INVALID_ARGUMENT` also when `buf` is NULL.
///
/// Thread-safe on `w`; `buf` is used by one thread at a time.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `buf` is NULL or a buffer from `nwal_read_buf_new`, `nwal_read_batch`
///   or `nwal_read_range`, not yet freed, used by no other thread.
/// - `out_records` is NULL or points to `max_count` writable `nwal_record`s,
///   `out_refs` is NULL or points to `max_count` writable `nwal_entry_ref`s,
///   `out_count` is NULL or points to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_range_into(
    w: *mut nwal,
    from: u64,
    max_count: usize,
    max_bytes: u64,
    buf: *mut nwal_read_buf,
    out_records: *mut nwal_record,
    out_refs: *mut nwal_entry_ref,
    out_count: *mut usize,
) -> nwal_status {
    with_handle("nwal_read_range_into", w, |wal: &Wal| {
        // SAFETY: NULL or a live buffer used by this thread only (precondition).
        let buf = unsafe { object_mut(buf, "nwal_read_range_into: buf") }?;
        let what = "nwal_read_range_into: out_records";
        // SAFETY: NULL or `max_count` writable slots (precondition).
        let out_records = unsafe { OutSlots::required(out_records, max_count.max(1), what) }?;
        let what = "nwal_read_range_into: out_refs";
        // SAFETY: as above.
        let out_refs = unsafe { OutSlots::optional(out_refs, max_count, what) }?;
        let what = "nwal_read_range_into: out_count";
        // SAFETY: NULL or writable (precondition).
        let out_count = unsafe { Out::required(out_count, what) }?;
        let read = buf.read_range_into(wal, from, max_count, max_bytes);
        let refs = read.map_err(engine("nwal_read_range_into"))?;
        out_records.fill(buf.records());
        out_refs.fill(refs.iter().map(|&r| r.into()));
        out_count.write(refs.len());
        Ok(())
    })
}

/// Release a read buffer; the records that point into it become invalid.
///
/// @param[in] buf a buffer from `nwal_read_batch`, `nwal_read_range` or
///                `nwal_read_buf_new`, or NULL (nothing to do).
///                Invalid after the call. It does not depend on its log: it
///                may be released before or after `nwal_close`.
///
/// Thread-safe: any thread may release it, once no thread reads its
/// records any more.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `buf` is NULL or a buffer returned by `nwal_read_batch`,
///   `nwal_read_range` or `nwal_read_buf_new` and not yet passed to
///   `nwal_read_buf_free`.
/// - No other thread uses `buf` or its records during or after the call.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_buf_free(buf: *mut nwal_read_buf) {
    release("nwal_read_buf_free", buf);
}

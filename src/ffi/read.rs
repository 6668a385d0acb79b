//! Reading by ref (`nwal_read_batch`, `nwal_read_buf_free`) and replay
//! (`nwal_iter_open`, `nwal_iter_next`, `nwal_iter_free`).

use super::boundary::{engine, release, with_handle};
use super::ptr::{array, OptionalOut, Out, OutSlots};
use super::types::{nwal, nwal_entry_ref, nwal_iter, nwal_read_buf, nwal_record, nwal_status};
use crate::{Replay, Wal};

/// Read the records of `count` refs, in the order of `refs`.
///
/// Refs into the same segment are coalesced into one positional read; the
/// records point into library-owned buffers (no copy per record). Every
/// record's checksum is verified.
///
/// @param w           the log.
/// @param refs        `count` refs (from appends or iteration); may be NULL
///                    only if `count` is 0. Borrowed for the call.
/// @param count       number of refs; 0 is `NWAL_OK` (and `*out_buf` is set
///                    to NULL).
/// @param out_records `count` slots, filled on `NWAL_OK` with views into
///                    `*out_buf`; may be NULL only if `count` is 0.
/// @param out_buf     receives, on `NWAL_OK`, the buffer that owns the bytes
///                    (or NULL when `count` is 0). Required. The caller owns
///                    it and must release it with `nwal_read_buf_free`
///                    (never `free()`); the records stay valid and unchanged
///                    until then, even across later appends, `nwal_cleanup`
///                    or `nwal_close`.
/// @return `NWAL_OK`; `NWAL_ERR_INVALID_ARGUMENT` (NULL arguments, a ref of
///         size 0 or past its segment's written end);
///         `NWAL_ERR_NOT_FOUND` (unknown or deleted segment);
///         `NWAL_ERR_CORRUPTED_DATA` (a ref that is not exactly one whole
///         valid record, or bytes that fail their checksum); `NWAL_ERR_IO`.
///         On failure nothing is written and nothing needs freeing.
///
/// Thread-safe; never waits for writers.
///
/// # Safety
/// `w` NULL or live; `refs` NULL or `count` readable refs; `out_records`
/// NULL or `count` writable slots; `out_buf` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_batch(
    w: *mut nwal,
    refs: *const nwal_entry_ref,
    count: usize,
    out_records: *mut nwal_record,
    out_buf: *mut *mut nwal_read_buf,
) -> nwal_status {
    with_handle("nwal_read_batch", w, |wal: &Wal| {
        // SAFETY: `count` readable refs per the contract.
        let refs = unsafe { array(refs, count, "nwal_read_batch: refs") }?;
        // SAFETY: NULL or `count` writable slots per the contract.
        let out_records =
            unsafe { OutSlots::required(out_records, count, "nwal_read_batch: out_records") }?;
        // SAFETY: NULL or writable per the contract.
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

/// Release the buffer of a `nwal_read_batch`; the records that pointed into
/// it become invalid.
///
/// @param buf a buffer from `nwal_read_batch`, or NULL (a no-op). Must not be
///            used again. It is independent of its `nwal`: it may be freed
///            before or after `nwal_close`, from any thread.
///
/// # Safety
/// `buf` must be NULL or a buffer from `nwal_read_batch` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn nwal_read_buf_free(buf: *mut nwal_read_buf) {
    release("nwal_read_buf_free", buf);
}

/// Open an iterator over the records of the log in log order: from the
/// first record, or from `from` (inclusive: the first record returned is
/// `*from`), to replay since a checkpoint.
///
/// The iterator follows the log as it grows: records appended before it
/// reaches the end are returned too. It ends (`NWAL_DONE`) at the written
/// end of the newest segment and stays ended; to read what was appended
/// later, open a new iterator from the last ref seen (`from` is inclusive).
///
/// Cleanup running concurrently: the iterator finishes the segment it is
/// reading even if `nwal_cleanup` deletes it meanwhile (it holds it open),
/// and passes over segments deleted before it reaches them without saying
/// so. To tell "deleted under me" from "never existed", compare the refs it
/// returns with the segments you expect, or do not clean up below a
/// replay's position while it runs.
///
/// @param w    the log.
/// @param from the ref of a live record to start at, or NULL for the
///             beginning. Borrowed for the call.
/// @param out  receives the iterator on `NWAL_OK` (untouched otherwise).
///             The caller owns it and must release it with `nwal_iter_free`.
/// @return `NWAL_OK`; `NWAL_ERR_INVALID_ARGUMENT` (NULL `w` or `out`; `from`
///         of size 0 or past its segment's end); `NWAL_ERR_NOT_FOUND`
///         (`from` names an unknown or deleted segment);
///         `NWAL_ERR_CORRUPTED_DATA` (`from` cannot be a record).
///
/// Thread-safe on `w`. The iterator itself is a single-thread object: do not
/// use one iterator from two threads at once. It keeps the log's internals
/// alive, so it may outlive `nwal_close(w)`: it then goes on returning the
/// records written before the close, then `NWAL_DONE`.
///
/// # Safety
/// `w` NULL or live; `from` NULL or a readable ref; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nwal_iter_open(
    w: *mut nwal,
    from: *const nwal_entry_ref,
    out: *mut *mut nwal_iter,
) -> nwal_status {
    with_handle("nwal_iter_open", w, |wal: &Wal| {
        // SAFETY: NULL or writable per the contract.
        let out = unsafe { Out::required(out, "nwal_iter_open: out") }?;
        // SAFETY: NULL or a readable, aligned ref per the contract.
        let from = unsafe { from.as_ref() }.map(|&r| r.into());
        let replay = wal.replay(from).map_err(engine("nwal_iter_open"))?;
        out.write_box(nwal_iter::new(replay));
        Ok(())
    })
}

/// Advance the iterator.
///
/// @param it      the iterator.
/// @param out_rec receives the record on `NWAL_OK`. Required. Its pointers
///                are valid until the next `nwal_iter_next` or
///                `nwal_iter_free` on `it`.
/// @param out_ref receives the record's ref on `NWAL_OK`; may be NULL.
/// @return `NWAL_OK` (a record); `NWAL_DONE` (end of the log: not an error,
///         the last error message is unchanged); `NWAL_ERR_CORRUPTED_DATA`
///         (a record does not verify: replay never skips it) or
///         `NWAL_ERR_IO`; after such an error the iterator is finished and
///         returns `NWAL_DONE`. `NWAL_ERR_INVALID_ARGUMENT` for NULL `it`
///         or `out_rec`.
///
/// Not thread-safe on one iterator (see `nwal_iter_open`).
///
/// # Safety
/// `it` NULL or a live iterator not used concurrently; `out_rec` NULL or
/// writable; `out_ref` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nwal_iter_next(
    it: *mut nwal_iter,
    out_rec: *mut nwal_record,
    out_ref: *mut nwal_entry_ref,
) -> nwal_status {
    with_handle("nwal_iter_next", it, |replay: &mut Replay| {
        // SAFETY: NULL or writable per the contract.
        let out_rec = unsafe { Out::required(out_rec, "nwal_iter_next: out_rec") }?;
        // SAFETY: as above.
        let out_ref = unsafe { OptionalOut::new(out_ref) };
        let Some(item) = replay.next_ref() else {
            return Ok(nwal_status::NWAL_DONE);
        };
        let (r, record) = item.map_err(engine("nwal_iter_next"))?;
        // The view points into the replay's read buffer, kept until the next
        // call or nwal_iter_free.
        out_rec.write(record.into());
        out_ref.write(r.into());
        Ok(nwal_status::NWAL_OK)
    })
}

/// Release an iterator; the record it returned last becomes invalid.
///
/// @param it an iterator from `nwal_iter_open`, or NULL (a no-op). Must not
///           be used again. May be called before or after `nwal_close`.
///
/// # Safety
/// `it` must be NULL or an iterator from `nwal_iter_open` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn nwal_iter_free(it: *mut nwal_iter) {
    release("nwal_iter_free", it);
}

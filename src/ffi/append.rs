// SPDX-License-Identifier: MIT
//! Appending: `nwal_append`, `nwal_append_batch`, `nwal_append_batch_packed`.

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{engine, with_handle};
use super::convert::durable;
use super::ptr::{self, array, bytes, OptionalOut, OutSlots};
use super::types::{nwal, nwal_entry_ref, nwal_span, nwal_status, nwal_write_entry};
use crate::Wal;

/// Appending
/// =========
///
/// An append takes the caller's time `now_ms`, which picks the
/// clock-aligned window, and so the segment, of its records (a window
/// earlier than the active segment's goes to the active segment). Without
/// `NWAL_DURABLE` a returned append survives a crash of the process; with
/// it, a power loss too. A batch is atomic across a crash: after recovery
/// the log holds all of its records or none. Each append returns the refs
/// of its records, in log order.
///
/// ---
///
/// Append one record.
///
/// @param[in]  w           the log.
/// @param[in]  header      the record header, or NULL for none (then
///                         `header_len` must be 0); a non-NULL header of
///                         length 0 is an empty header. At most 65,535
///                         bytes. Borrowed for the call.
/// @param[in]  header_len  length of `header`.
/// @param[in]  content     the record content; NULL only if `content_len`
///                         is 0. Borrowed for the call.
/// @param[in]  content_len length of `content`, at most 1 GiB.
/// @param[in]  now_ms      the caller's time, ms since the Unix epoch.
/// @param[in]  flags       0, or `NWAL_DURABLE`: return only once the record
///                         survives power loss.
/// @param[out] out_ref     receives the record's ref on `NWAL_OK`; may be
///                         NULL.
///
/// @retval NWAL_OK                   the record is in the log.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL, `header` or `content` is
///                                   NULL with a non-zero length, `flags`
///                                   has unknown bits, the content is larger
///                                   than 1 GiB, or `now_ms` is so far off
///                                   that its window or its segment's
///                                   expiration does not fit in int64.
/// @retval NWAL_ERR_HEADER_TOO_LARGE `header_len` is over 65,535.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               the write failed (nothing of the record
///                                   is in the log), or its fdatasync did
///                                   (the log is poisoned: the record may or
///                                   may not survive a crash; reopen the
///                                   log), or an earlier one did.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe: concurrent appends on one handle are serialised in the log
/// and share their fdatasyncs (group commit).
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `header` is NULL or points to `header_len` readable bytes, and
///   `content` is NULL or points to `content_len` readable bytes, neither
///   modified during the call.
/// - `out_ref` is NULL or points to a writable `nwal_entry_ref`.
#[no_mangle]
pub unsafe extern "C" fn nwal_append(
    w: *mut nwal,
    header: *const u8,
    header_len: usize,
    content: *const u8,
    content_len: usize,
    now_ms: i64,
    flags: u32,
    out_ref: *mut nwal_entry_ref,
) -> nwal_status {
    with_handle("nwal_append", w, |wal: &Wal| {
        // SAFETY: NULL or `header_len` readable bytes (precondition).
        let header = unsafe { ptr::header(header, header_len, "nwal_append: header") }?;
        // SAFETY: NULL or `content_len` readable bytes (precondition).
        let content = unsafe { bytes(content, content_len, "nwal_append: content") }?;
        let durable = durable(flags, "nwal_append")?;
        // SAFETY: NULL or writable (precondition).
        let out_ref = unsafe { OptionalOut::new(out_ref) };
        let r = wal
            .append(header, content, now_ms, durable)
            .map_err(engine("nwal_append"))?;
        out_ref.write(r.into());
        Ok(())
    })
}

/// Append `count` records atomically, in one segment, contiguous and in
/// order.
///
/// @param[in]  w        the log.
/// @param[in]  entries  the records (see `nwal_write_entry` for when its
///                      pointers may be NULL); NULL only if `count` is 0.
///                      Borrowed for the call.
/// @param[in]  count    number of records; 0 does nothing.
/// @param[in]  now_ms   the caller's time, ms since the Unix epoch.
/// @param[in]  flags    0 or `NWAL_DURABLE` (as for `nwal_append`).
/// @param[out] out_refs receives the `count` refs on `NWAL_OK`, in the
///                      order of `entries`; may be NULL.
///
/// @retval NWAL_OK                   all the records are in the log.
/// @retval NWAL_ERR_INVALID_ARGUMENT as for `nwal_append`, for any entry
///                                   (the message names it), or `entries`
///                                   is NULL with a non-zero `count`.
/// @retval NWAL_ERR_HEADER_TOO_LARGE as for `nwal_append`.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               as for `nwal_append`, for the whole
///                                   batch.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe, as `nwal_append`.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `entries` is NULL or points to `count` readable `nwal_write_entry`s
///   whose pointers follow that type's rules, none modified during the call.
/// - `out_refs` is NULL or points to `count` writable `nwal_entry_ref`s.
#[no_mangle]
pub unsafe extern "C" fn nwal_append_batch(
    w: *mut nwal,
    entries: *const nwal_write_entry,
    count: usize,
    now_ms: i64,
    flags: u32,
    out_refs: *mut nwal_entry_ref,
) -> nwal_status {
    with_handle("nwal_append_batch", w, |wal: &Wal| {
        let durable = durable(flags, "nwal_append_batch")?;
        // SAFETY: NULL or `count` readable entries (precondition).
        let entries = unsafe { array(entries, count, "nwal_append_batch: entries") }?;
        // SAFETY: each entry's pointers follow nwal_write_entry's rules (precondition).
        let entries = unsafe { nwal_write_entry::to_entries(entries, "nwal_append_batch") }?;
        // SAFETY: NULL or `count` writable slots (precondition).
        let out_refs =
            unsafe { OutSlots::optional(out_refs, count, "nwal_append_batch: out_refs") }?;
        let refs = wal
            .append_batch(&entries, now_ms, durable)
            .map_err(engine("nwal_append_batch"))?;
        out_refs.fill(refs.into_iter().map(nwal_entry_ref::from));
        Ok(())
    })
}

/// Append `count` records atomically, as `nwal_append_batch`, described by
/// spans into one buffer instead of pointers (for bindings such as Go's cgo
/// that cannot pass arrays of pointers).
///
/// @param[in]  w        the log.
/// @param[in]  buf      the bytes of every header and content; NULL only if
///                      `buf_len` is 0. Borrowed for the call.
/// @param[in]  buf_len  length of `buf`.
/// @param[in]  spans    the records: each range lies inside `buf`,
///                      `has_header` is 0 or 1, `header_len` is 0 when
///                      `has_header` is 0, `reserved` is 0. NULL only if
///                      `count` is 0. Borrowed for the call.
/// @param[in]  count    number of records; 0 does nothing.
/// @param[in]  now_ms   the caller's time, ms since the Unix epoch.
/// @param[in]  flags    0 or `NWAL_DURABLE` (as for `nwal_append`).
/// @param[out] out_refs receives the `count` refs on `NWAL_OK`, in the
///                      order of `spans`; may be NULL.
///
/// @retval NWAL_OK                   all the records are in the log.
/// @retval NWAL_ERR_INVALID_ARGUMENT as for `nwal_append_batch`, or a span
///                                   breaks the rules above (the message
///                                   names it).
/// @retval NWAL_ERR_HEADER_TOO_LARGE as for `nwal_append`.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               as for `nwal_append`, for the whole
///                                   batch.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe, as `nwal_append`.
///
/// @since 0.1 (symbol version NWAL_0.1)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
/// - `buf` is NULL or points to `buf_len` readable bytes, and `spans` is
///   NULL or points to `count` readable `nwal_span`s, neither modified
///   during the call.
/// - `out_refs` is NULL or points to `count` writable `nwal_entry_ref`s.
#[no_mangle]
pub unsafe extern "C" fn nwal_append_batch_packed(
    w: *mut nwal,
    buf: *const u8,
    buf_len: usize,
    spans: *const nwal_span,
    count: usize,
    now_ms: i64,
    flags: u32,
    out_refs: *mut nwal_entry_ref,
) -> nwal_status {
    with_handle("nwal_append_batch_packed", w, |wal: &Wal| {
        let durable = durable(flags, "nwal_append_batch_packed")?;
        // SAFETY: NULL or `buf_len` readable bytes (precondition).
        let buf = unsafe { bytes(buf, buf_len, "nwal_append_batch_packed: buf") }?;
        // SAFETY: NULL or `count` readable spans (precondition).
        let spans = unsafe { array(spans, count, "nwal_append_batch_packed: spans") }?;
        let entries = nwal_span::to_entries(spans, buf, "nwal_append_batch_packed")?;
        // SAFETY: NULL or `count` writable slots (precondition).
        let out_refs =
            unsafe { OutSlots::optional(out_refs, count, "nwal_append_batch_packed: out_refs") }?;
        let refs = wal
            .append_batch(&entries, now_ms, durable)
            .map_err(engine("nwal_append_batch_packed"))?;
        out_refs.fill(refs.into_iter().map(nwal_entry_ref::from));
        Ok(())
    })
}

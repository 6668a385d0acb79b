//! Appending: `nwal_append`, `nwal_append_batch`, `nwal_append_batch_packed`.

use super::boundary::{engine, with_handle};
use super::convert::durable;
use super::ptr::{self, array, bytes, OptionalOut, OutSlots};
use super::types::{nwal, nwal_entry_ref, nwal_span, nwal_status, nwal_write_entry};
use crate::Wal;

/// Append one record at time `now_ms`.
///
/// The record goes to the segment of the window holding `now_ms` (ms since
/// the Unix epoch; the library never reads the clock), or to the active
/// segment if that window is earlier than the active one's.
///
/// @param w           the log.
/// @param header      record header, or NULL for none (then `header_len`
///                    must be 0); at most 65,535 bytes. Borrowed for the call.
/// @param header_len  length of `header`.
/// @param content     record content; may be NULL only if `content_len` is 0.
///                    Borrowed for the call.
/// @param content_len length of `content` (at most 1 GiB).
/// @param now_ms      the caller's time, ms since the Unix epoch.
/// @param flags       0, or `NWAL_DURABLE`: return only once the record
///                    survives power loss. Without it, a returned record
///                    survives a crash of the process, not of the machine.
/// @param out_ref     receives the record's ref on `NWAL_OK`; may be NULL.
/// @return `NWAL_OK`; `NWAL_ERR_INVALID_ARGUMENT`; `NWAL_ERR_HEADER_TOO_LARGE`;
///         `NWAL_ERR_SHUTDOWN` (after `nwal_shutdown`); `NWAL_ERR_IO`
///         (nothing of the record is left in the log); `NWAL_ERR_PANIC`.
///
/// Thread-safe: concurrent appends on one handle are serialised in the log
/// and share fsyncs (group commit).
///
/// # Safety
/// `w` must be NULL or a live handle; `header`/`content` NULL or pointing to
/// their lengths in readable bytes; `out_ref` NULL or writable.
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
        // SAFETY: pointer/length pairs valid per this function's contract.
        let header = unsafe { ptr::header(header, header_len, "nwal_append: header") }?;
        // SAFETY: as above.
        let content = unsafe { bytes(content, content_len, "nwal_append: content") }?;
        let durable = durable(flags, "nwal_append")?;
        // SAFETY: NULL or writable per the contract.
        let out_ref = unsafe { OptionalOut::new(out_ref) };
        let r = wal
            .append(header, content, now_ms, durable)
            .map_err(engine("nwal_append"))?;
        out_ref.write(r.into());
        Ok(())
    })
}

/// Append `count` records atomically, at time `now_ms`.
///
/// The records go to one segment, contiguous and in order. After a crash,
/// recovery keeps all of them or none. On failure none of them is in the
/// log and `out_refs` is left untouched.
///
/// @param w        the log.
/// @param entries  `count` entries (see `nwal_write_entry` for NULL rules);
///                 may be NULL only if `count` is 0. Borrowed for the call.
/// @param count    number of entries; 0 is `NWAL_OK` and does nothing.
/// @param now_ms   the caller's time, ms since the Unix epoch.
/// @param flags    0 or `NWAL_DURABLE` (as for `nwal_append`).
/// @param out_refs receives the `count` refs on `NWAL_OK`; may be NULL.
/// @return as for `nwal_append`.
///
/// Thread-safe.
///
/// # Safety
/// `w` NULL or live; `entries` NULL or `count` readable entries whose
/// pointers follow `nwal_write_entry`'s rules; `out_refs` NULL or `count`
/// writable slots.
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
        // SAFETY: NULL or `count` writable slots per the contract.
        let out_refs =
            unsafe { OutSlots::optional(out_refs, count, "nwal_append_batch: out_refs") }?;
        // SAFETY: `count` readable entries per the contract.
        let entries = unsafe { array(entries, count, "nwal_append_batch: entries") }?;
        // SAFETY: each entry's pointers follow nwal_write_entry's rules (contract).
        let entries = unsafe { nwal_write_entry::to_entries(entries, "nwal_append_batch") }?;
        let refs = wal
            .append_batch(&entries, now_ms, durable)
            .map_err(engine("nwal_append_batch"))?;
        out_refs.fill(refs.into_iter().map(nwal_entry_ref::from));
        Ok(())
    })
}

/// Append `count` records atomically, described by pointer-free spans into
/// one buffer (for bindings such as Go's cgo that cannot pass arrays of
/// pointers). Same semantics as `nwal_append_batch`.
///
/// @param w        the log.
/// @param buf      the bytes of every header and content; may be NULL only
///                 if `buf_len` is 0. Borrowed for the call.
/// @param buf_len  length of `buf`.
/// @param spans    `count` spans; each range must lie inside `buf`,
///                 `header_len` must be 0 when `has_header` is 0, `has_header`
///                 must be 0 or 1 and `reserved` 0 (else
///                 `NWAL_ERR_INVALID_ARGUMENT`). May be NULL only if `count`
///                 is 0. Borrowed for the call.
/// @param count    number of records; 0 is `NWAL_OK` and does nothing.
/// @param now_ms   the caller's time, ms since the Unix epoch.
/// @param flags    0 or `NWAL_DURABLE`.
/// @param out_refs receives the `count` refs on `NWAL_OK`; may be NULL.
/// @return as for `nwal_append`.
///
/// Thread-safe.
///
/// # Safety
/// `w` NULL or live; `buf` NULL or `buf_len` readable bytes; `spans` NULL or
/// `count` readable spans; `out_refs` NULL or `count` writable slots.
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
        // SAFETY: NULL or `count` writable slots per the contract.
        let out_refs =
            unsafe { OutSlots::optional(out_refs, count, "nwal_append_batch_packed: out_refs") }?;
        // SAFETY: `buf_len` readable bytes per the contract.
        let buf = unsafe { bytes(buf, buf_len, "nwal_append_batch_packed: buf") }?;
        // SAFETY: `count` readable spans per the contract.
        let spans = unsafe { array(spans, count, "nwal_append_batch_packed: spans") }?;
        let entries = nwal_span::to_entries(spans, buf, "nwal_append_batch_packed")?;
        let refs = wal
            .append_batch(&entries, now_ms, durable)
            .map_err(engine("nwal_append_batch_packed"))?;
        out_refs.fill(refs.into_iter().map(nwal_entry_ref::from));
        Ok(())
    })
}

//! The exported `nwal_*` functions. Each converts its arguments with the
//! `boundary` helpers, calls the engine, and writes its outputs; the doc
//! comments become the header's documentation.

use super::boundary::{self, engine, release, with_handle};
use super::convert::{durable, stream_name};
use super::ptr::{self, array, bytes, c_str, OptionalOut, Out, OutSlots};
use super::types::*;
use crate::{Replay, Wal, WalOptions};
use std::ffi::{c_char, c_int, OsStr};
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

/// Make everything appended so far durable (fdatasync, shared with
/// concurrent durable appenders).
///
/// @param w the log.
/// @return `NWAL_OK` (also after `nwal_shutdown`, which already synced);
///         `NWAL_ERR_IO` (the log is then poisoned: nothing is reported
///         durable again until it is reopened); `NWAL_ERR_INVALID_ARGUMENT`
///         for NULL `w`.
///
/// Thread-safe.
///
/// # Safety
/// `w` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn nwal_sync(w: *mut nwal) -> nwal_status {
    with_handle("nwal_sync", w, |wal: &Wal| {
        wal.sync().map_err(engine("nwal_sync"))
    })
}

/// Delete the segments whose expiration is `<= now_ms`, except the active
/// one, then fsync the directory. Refs into deleted segments then give
/// `NWAL_ERR_NOT_FOUND`; read buffers and iterators already holding their
/// bytes are unaffected.
///
/// @param w      the log.
/// @param now_ms the caller's time, ms since the Unix epoch (the same time
///               base as appends; the clock is never read).
/// @param out    receives what was done on `NWAL_OK`; may be NULL.
/// @return `NWAL_OK`; `NWAL_ERR_SHUTDOWN` (after `nwal_shutdown`);
///         `NWAL_ERR_IO`; `NWAL_ERR_INVALID_ARGUMENT` for NULL `w`.
///
/// Thread-safe.
///
/// # Safety
/// `w` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nwal_cleanup(
    w: *mut nwal,
    now_ms: i64,
    out: *mut nwal_cleanup_result,
) -> nwal_status {
    with_handle("nwal_cleanup", w, |wal: &Wal| {
        // SAFETY: NULL or writable per the contract.
        let out = unsafe { OptionalOut::new(out) };
        let r = wal.cleanup(now_ms).map_err(engine("nwal_cleanup"))?;
        out.write(nwal_cleanup_result::from(&r));
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

/// The exact enumerator name of a status, e.g. `"NWAL_ERR_IO"`.
///
/// @param status a status (an `int`, so that any value is safe to pass).
/// @return a static NUL-terminated string, never NULL; values that are not
///         an `nwal_status` give `"NWAL_UNKNOWN_STATUS"`. Never free it.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn nwal_status_name(status: c_int) -> *const c_char {
    nwal_status::from_c_int(status)
        .map_or(c"NWAL_UNKNOWN_STATUS", nwal_status::name)
        .as_ptr()
}

/// The message of the last failed call on this thread, naming the function
/// and what went wrong; `""` if no call failed yet on this thread. A
/// success does not clear it.
///
/// @return a NUL-terminated string owned by the library, valid until the
///         next failing `nwal_*` call on this thread. Never free it; copy it
///         to keep it.
///
/// Thread-safe (each thread has its own).
#[no_mangle]
pub extern "C" fn nwal_last_error_message() -> *const c_char {
    boundary::value(c"".as_ptr(), boundary::last_error_message)
}

/// The OS error number (errno) behind the last failed call on this thread,
/// or 0 if that failure was not an OS error (or no call failed).
///
/// Thread-safe (each thread has its own).
#[no_mangle]
pub extern "C" fn nwal_last_os_error() -> c_int {
    boundary::value(0, boundary::last_os_error)
}

/// The library version, `"MAJOR.MINOR.PATCH"`, matching the
/// `NWAL_VERSION_*` macros of the header it was built with.
///
/// @return a static NUL-terminated string. Never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn nwal_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Test-only (cargo feature `test-panic`, never in the header): panics
/// inside the boundary of handle `w`, which must return `NWAL_ERR_PANIC`
/// and poison `w`.
///
/// # Safety
/// `w` NULL or live.
#[cfg(feature = "test-panic")]
#[no_mangle]
pub unsafe extern "C" fn nwal_test_panic(w: *mut nwal) -> nwal_status {
    with_handle("nwal_test_panic", w, |_: &Wal| -> boundary::FfiResult {
        panic!("deliberate panic from nwal_test_panic")
    })
}

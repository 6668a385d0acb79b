//! Durability and retention: `nwal_sync`, `nwal_cleanup`.

use super::boundary::{engine, with_handle};
use super::ptr::OptionalOut;
use super::types::{nwal, nwal_cleanup_result, nwal_status};
use crate::Wal;

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

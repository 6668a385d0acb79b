// SPDX-License-Identifier: MIT
//! Truncation at both ends and reset: `nwal_truncate_after`,
//! `nwal_truncate_after_deferred`, `nwal_purge_before`,
//! `nwal_purge_before_deferred`, `nwal_reset`.

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary::{engine, with_handle};
use super::types::{nwal, nwal_status};
use crate::Wal;

/// Truncation and reset
/// ====================
///
/// Records are dropped from the tail after a Raft conflict
/// (`nwal_truncate_after`), from the head once a snapshot or checkpoint
/// covers them (`nwal_purge_before`), or all at once when a follower
/// installs a snapshot (`nwal_reset`). Each is durable when it returns OK,
/// and a crash during one leaves the log as it was before or as it is
/// after, never a mix; `nwal_truncate_after_deferred` and
/// `nwal_purge_before_deferred` are the ones that a crash before the next
/// sync may take back. A dropped record never comes back (but for those),
/// and every ref or index of one gives `NWAL_ERR_NOT_FOUND` afterwards,
/// even once new records were appended at its index (they go after a
/// truncation record, or to a new segment: no offset is reused).
/// Reads running meanwhile see the log before or after; an iterator that
/// was past the cut ends with `NWAL_ERR_NOT_FOUND` (it may first return
/// records it had already read ahead), one before it goes on with the
/// records appended after the cut.
///
/// ---
///
/// Drop every record with an index above `index`: the next append gets
/// `index + 1`.
///
/// @param[in] w     the log.
/// @param[in] index the last index kept; from `first_index - 1` (empty the
///                  log) up. At or above `last_index` nothing changes.
///
/// @retval NWAL_OK                   the records after `index` are gone,
///                                   durably (or there were none).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL, or `index` is below
///                                   `first_index - 1`; nothing changed.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               writing or syncing the truncation
///                                   record, sealing the active segment or
///                                   creating the next one failed; a failed
///                                   write changes nothing, a failed sync
///                                   poisons the log (after reopen it is
///                                   the one before or the one after).
/// @retval NWAL_ERR_CORRUPTED_DATA   the index footer of the segment holding
///                                   `index` gives no end for it; nothing
///                                   changed.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe: waits for appends under way; appends wait for it.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[no_mangle]
pub unsafe extern "C" fn nwal_truncate_after(w: *mut nwal, index: u64) -> nwal_status {
    with_handle("nwal_truncate_after", w, |wal: &Wal| {
        wal.truncate_after(index)
            .map_err(engine("nwal_truncate_after"))
    })
}

/// `nwal_truncate_after` without waiting for the disk, when the records it
/// drops all lie in the active segment (otherwise it is
/// `nwal_truncate_after`): one 32-byte truncation record written, not
/// synced. Readers see the log truncated at once, and the next append gets
/// `index + 1`. It becomes durable with the next sync of the log: a
/// durable append (its records follow the truncation record, so the sync
/// that makes them durable covers it), `nwal_sync` or `nwal_shutdown`. A
/// crash before that may bring the dropped records back, and never keeps
/// a record appended after the truncation without the truncation. A Raft
/// follower that truncates a conflicting tail and appends the leader's
/// entries durably pays one sync for both.
///
/// @param[in] w     the log.
/// @param[in] index the last index kept, as for `nwal_truncate_after`.
///
/// @retval NWAL_OK                   the records after `index` are gone for
///                                   readers (or there were none).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL, or `index` is below
///                                   `first_index - 1`; nothing changed.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               as for `nwal_truncate_after`.
/// @retval NWAL_ERR_CORRUPTED_DATA   as for `nwal_truncate_after`.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe: waits for appends under way; appends wait for it.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[no_mangle]
pub unsafe extern "C" fn nwal_truncate_after_deferred(w: *mut nwal, index: u64) -> nwal_status {
    with_handle("nwal_truncate_after_deferred", w, |wal: &Wal| {
        wal.truncate_after_deferred(index)
            .map_err(engine("nwal_truncate_after_deferred"))
    })
}

/// Drop every record with an index below `index`: `first_index` becomes
/// `index` and the whole segments below it are deleted. The records below
/// `index` are made durable first if they were not (a crash must not leave
/// the log ending below its first index). The purge point is kept in the
/// stream's metadata file; `nwal_cleanup` also raises `first_index`, past
/// the segments it deletes.
///
/// @param[in] w     the log.
/// @param[in] index the new first index, up to `last_index + 1` (every
///                  record dropped: the next append gets `index`). At or
///                  below `first_index` nothing changes.
///
/// @retval NWAL_OK                   the records below `index` are gone,
///                                   durably (or there were none).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL, or `index` is above
///                                   `last_index + 1`; nothing changed.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               the sync of the records or the write
///                                   of the metadata failed; the log is as
///                                   it was (a failed sync poisons it; a
///                                   failed metadata write refuses later
///                                   ones until the log is reopened).
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe: waits for appends under way; appends wait for it. Reads
/// and iterators already inside a deleted segment finish it.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[no_mangle]
pub unsafe extern "C" fn nwal_purge_before(w: *mut nwal, index: u64) -> nwal_status {
    with_handle("nwal_purge_before", w, |wal: &Wal| {
        wal.purge_before(index).map_err(engine("nwal_purge_before"))
    })
}

/// `nwal_purge_before` without waiting for the disk: the purge point is
/// written to the metadata file and not synced (one `pwrite`), for callers
/// that purge often and can take the purge back after a crash (Raft
/// compaction without a sync). Readers see the new `first_index` at once.
/// It becomes durable with the next `nwal_sync`, durable metadata change
/// (`nwal_meta_put`, a hold, `nwal_purge_before`, `nwal_reset`) or
/// `nwal_shutdown`/`nwal_close`; a durable append does not sync it. A crash
/// before that may bring `first_index` back down, as far as the last
/// synced purge point and never lower. A purge that frees whole segments
/// is synced anyway before it deletes them (one `fdatasync` of the
/// metadata file), as by `nwal_purge_before`.
///
/// @param[in] w     the log.
/// @param[in] index the new first index, up to `last_index + 1`. At or
///                  below `first_index` nothing changes.
///
/// @retval NWAL_OK                   the records below `index` are gone for
///                                   readers (durably only if whole
///                                   segments were deleted).
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL, or `index` is above
///                                   `last_index + 1`; nothing changed.
/// @retval NWAL_ERR_HELD             a reader hold keeps a record below
///                                   `index`; nothing changed.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               the sync of the records or the write
///                                   of the metadata failed; the log is as
///                                   it was. A failed write over a purge
///                                   point not yet synced, or a failed sync,
///                                   refuses later metadata changes until
///                                   the log is reopened.
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe: waits for appends under way; appends wait for it.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[no_mangle]
pub unsafe extern "C" fn nwal_purge_before_deferred(w: *mut nwal, index: u64) -> nwal_status {
    with_handle("nwal_purge_before_deferred", w, |wal: &Wal| {
        wal.purge_before_deferred(index)
            .map_err(engine("nwal_purge_before_deferred"))
    })
}

/// Drop every record: the log is empty with `first_index = next_index` and
/// `last_index = next_index - 1`, and the next append gets `next_index`.
/// The metadata is kept.
///
/// @param[in] w          the log.
/// @param[in] next_index the index of the next record, from 1 to 2^63
///                       (below, at or above the old indexes).
///
/// @retval NWAL_OK                   the log is empty, durably.
/// @retval NWAL_ERR_INVALID_ARGUMENT `w` is NULL, or `next_index` is 0 or
///                                   above 2^63; nothing changed.
/// @retval NWAL_ERR_SHUTDOWN         the log was shut down.
/// @retval NWAL_ERR_IO               sealing the active segment or creating
///                                   the next one failed; the log is as it
///                                   was (a failed sync poisons it).
/// @retval NWAL_ERR_PANIC            internal error, now or in an earlier
///                                   call on `w` (the handle is poisoned).
///
/// Thread-safe: waits for appends under way; appends wait for it.
///
/// @since 0.2 (symbol version NWAL_0.2)
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[no_mangle]
pub unsafe extern "C" fn nwal_reset(w: *mut nwal, next_index: u64) -> nwal_status {
    with_handle("nwal_reset", w, |wal: &Wal| {
        wal.reset(next_index).map_err(engine("nwal_reset"))
    })
}

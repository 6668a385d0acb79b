// SPDX-License-Identifier: MIT
//! Retention: delete expired segments, judged by the caller's clock.

use crate::error::{Result, WalError};
use crate::wal::Wal;
use std::path::PathBuf;

/// What `cleanup` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupResult {
    /// The segments deleted, in log order.
    pub deleted: Vec<DeletedSegment>,
    /// Segments of this stream left after the cleanup.
    pub live_count: u64,
    /// Total size of the deleted files, in bytes.
    pub bytes_reclaimed: u64,
}

/// One segment removed by `cleanup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedSegment {
    pub segment_id: u64,
    pub path: PathBuf,
    pub expiration_ms: i64,
    pub file_size: u64,
}

impl Wal {
    /// Delete every segment whose expiration is `<= now_ms`, except the
    /// active one, then fsync the directory. `now_ms` is the caller's clock
    /// (the same time base as appends); the wall clock is never read. Refs
    /// into deleted segments then give `SegmentNotFound`. Readers already
    /// inside a deleted segment (a replay) finish it from their open fd.
    pub fn cleanup(&self, now_ms: i64) -> Result<CleanupResult> {
        let inner = &*self.inner;
        if self.is_shutdown() {
            return Err(WalError::Shutdown);
        }
        // Held to the end: no rotation changes the map or the active
        // segment meanwhile.
        let mut segments = inner.segments.writer();
        // A purge point a reset superseded must be replaced before the
        // reset's segment may go.
        inner.settle_purge_point(&segments.current())?;
        // Deleting a later segment while a dropped one is left could make
        // the dropped one look live at the next open.
        inner
            .remove_dropped(&mut inner.lock_graveyard())
            .map_err(|e| {
                WalError::io(
                    "deleting the segments a truncation or reset dropped (cleanup deletes nothing \
                 until they are gone)",
                    e,
                )
            })?;
        let active_id = inner.active.load().as_ref().map(|s| s.id());
        let mut deleted = Vec::new();
        let mut result = Ok(());
        let live_count = segments.retain(|id, seg| {
            let expired = seg.expiration_ms() <= now_ms && Some(id) != active_id;
            if !expired || result.is_err() {
                return true;
            }
            let file_size = seg
                .file_size()
                .map_err(|e| WalError::io(format!("stat of segment {}", seg.path().display()), e));
            let removed = file_size.and_then(|size| {
                crate::sys::remove_file(seg.path())
                    .map(|()| size)
                    .map_err(|e| {
                        WalError::io(format!("deleting segment {}", seg.path().display()), e)
                    })
            });
            match removed {
                Ok(file_size) => {
                    deleted.push(DeletedSegment {
                        segment_id: id,
                        path: seg.path().to_path_buf(),
                        expiration_ms: seg.expiration_ms(),
                        file_size,
                    });
                    false
                }
                Err(e) => {
                    result = Err(e);
                    true
                }
            }
        }) as u64;
        if !deleted.is_empty() {
            crate::sys::fsync(&inner.dir_file, &inner.dir).map_err(|e| {
                WalError::io(format!("fsync of directory {}", inner.dir.display()), e)
            })?;
        }
        result?;
        Ok(CleanupResult {
            bytes_reclaimed: deleted.iter().map(|d| d.file_size).sum(),
            deleted,
            live_count,
        })
    }
}

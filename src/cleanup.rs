// SPDX-License-Identifier: MIT
//! Retention: delete expired segments, judged by the caller's clock, and
//! the oldest sealed ones beyond the size budget.

use crate::error::{Result, WalError};
use crate::segment::Segment;
use crate::wal::{DroppedHold, Wal};
use std::path::PathBuf;
use std::sync::Arc;

/// What `cleanup` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupResult {
    /// The segments deleted, in log order.
    pub deleted: Vec<DeletedSegment>,
    /// Segments of this stream left after the cleanup.
    pub live_count: u64,
    /// Total size of the deleted files, in bytes.
    pub bytes_reclaimed: u64,
    /// The reader holds dropped for lagging past a limit, by name.
    pub dropped_holds: Vec<DroppedHold>,
}

/// One segment removed by `cleanup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedSegment {
    pub segment_id: u64,
    pub path: PathBuf,
    pub expiration_ms: i64,
    pub file_size: u64,
    /// The rule that deleted it.
    pub reason: DeleteReason,
}

/// Why `cleanup` deleted a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Its expiration (window end + retention) was `<= now_ms`.
    Expired,
    /// The stream's files held more than `max_stream_bytes`: the oldest
    /// sealed segments go first, before they expire.
    SizeBudget,
}

impl Wal {
    /// Delete every segment whose expiration is `<= now_ms`, except the
    /// active one; then, with a size budget (`max_stream_bytes`), the oldest
    /// sealed segments while the stream's segment files hold more than it;
    /// then fsync the directory. Segments go oldest first, so the log stays
    /// a contiguous run of indexes. `now_ms` is the caller's clock (the same
    /// time base as appends); the wall clock is never read. Refs into
    /// deleted segments then give `SegmentNotFound`, their indexes
    /// `IndexNotFound`. Readers already inside a deleted segment (a replay)
    /// finish it from their open fd; a follower that had not reached it
    /// reports a gap.
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
        let live = segments.current();
        let sizes = file_sizes(&live)?;
        // Holds that lag past a limit are dropped first (durably): a crash
        // after it and before the deletions leaves them dropped and the
        // segments for the next cleanup.
        let (kept, dropped_holds) = inner.judge_holds(&live, &sizes, now_ms);
        if !dropped_holds.is_empty() {
            inner.drop_holds(&dropped_holds)?;
        }
        let floor = kept.iter().map(|h| h.index).min();
        let plan = plan(
            (&live, &sizes),
            active_id,
            now_ms,
            inner.config.max_stream_bytes,
            floor,
        );
        let mut deleted = Vec::new();
        let mut result = Ok(());
        let live_count = segments.retain(|id, seg| {
            let Some(&(_, reason, file_size)) = plan.iter().find(|p| p.0 == id) else {
                return true;
            };
            if result.is_err() {
                return true;
            }
            match crate::sys::remove_file(seg.path()) {
                Ok(()) => {
                    deleted.push(DeletedSegment {
                        segment_id: id,
                        path: seg.path().to_path_buf(),
                        expiration_ms: seg.expiration_ms(),
                        file_size,
                        reason,
                    });
                    false
                }
                Err(e) => {
                    result = Err(WalError::io(
                        format!("deleting segment {}", seg.path().display()),
                        e,
                    ));
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
            dropped_holds,
        })
    }
}

/// The file size of each segment of `live`.
fn file_sizes(live: &[Arc<Segment>]) -> Result<Vec<u64>> {
    live.iter()
        .map(|seg| {
            seg.file_size()
                .map_err(|e| WalError::io(format!("stat of segment {}", seg.path().display()), e))
        })
        .collect()
}

/// The segments of `live` (in log order, with their file sizes) a cleanup
/// at `now_ms` deletes, with the rule and the file size of each: the
/// expired ones, then, while the files left hold more than `budget` bytes
/// (0: no budget), the oldest left. Never the active segment, never one
/// holding an index at or above `floor` (the lowest hold), and never one
/// after a segment kept (the log stays contiguous).
fn plan(
    (live, sizes): (&[Arc<Segment>], &[u64]),
    active_id: Option<u64>,
    now_ms: i64,
    budget: u64,
    floor: Option<u64>,
) -> Vec<(u64, DeleteReason, u64)> {
    let mut total: u64 = sizes.iter().sum();
    let mut plan = Vec::new();
    for (seg, &size) in live.iter().zip(sizes) {
        if Some(seg.id()) == active_id || floor.is_some_and(|f| seg.last_index() >= f) {
            break;
        }
        let reason = if seg.expiration_ms() <= now_ms {
            DeleteReason::Expired
        } else if budget != 0 && total > budget {
            DeleteReason::SizeBudget
        } else {
            break;
        };
        total -= size;
        plan.push((seg.id(), reason, size));
    }
    plan
}

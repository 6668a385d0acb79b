// SPDX-License-Identifier: MIT
//! Retention: delete expired segments, judged by the caller's clock, and
//! the oldest sealed ones beyond the size budget.

use crate::error::{Result, WalError};
use crate::segment::Segment;
use crate::wal::{DroppedHold, Hold, Wal};
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
        // So must their unlinks be durable: a segment deleted here may be
        // the one whose first index says they are dropped.
        {
            let mut graveyard = inner.lock_graveyard();
            inner
                .remove_dropped(&mut graveyard)
                .and_then(|()| inner.sync_unlinks())
                .map_err(|e| {
                    WalError::io(
                        "deleting the segments a truncation or reset dropped (cleanup deletes \
                         nothing until they are gone)",
                        e,
                    )
                })?;
        }
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
        let facts = SegmentFacts::of(&live, &sizes, active_id);
        let plan = plan(&facts, now_ms, inner.config.max_stream_bytes, floor);
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

impl Wal {
    /// Why each segment is still on disk, or which rule would delete it, if
    /// `cleanup(now_ms)` ran now: active, not expired until T, held by a
    /// reader, within the size budget. Holds lagging past their limit are
    /// left out (that cleanup would drop them). Reads only (a stat of each
    /// segment file).
    pub fn retention(&self, now_ms: i64) -> Result<Vec<SegmentRetention>> {
        let inner = &*self.inner;
        let live = inner.segments.ordered();
        let sizes = file_sizes(&live)?;
        let (kept, _) = inner.judge_holds(&live, &sizes, now_ms);
        let active_id = inner.active.load().as_ref().map(|s| s.id());
        let facts = SegmentFacts::of(&live, &sizes, active_id);
        Ok(explain(
            &facts,
            now_ms,
            inner.config.max_stream_bytes,
            &kept,
        ))
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

/// What retention looks at in a segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentFacts {
    pub id: u64,
    pub last_index: u64,
    pub expiration_ms: i64,
    pub file_size: u64,
    /// The segment appends go to (never deleted).
    pub active: bool,
}

impl SegmentFacts {
    /// The facts of `live` (in log order) with their file sizes.
    pub fn of(live: &[Arc<Segment>], sizes: &[u64], active_id: Option<u64>) -> Vec<SegmentFacts> {
        live.iter()
            .zip(sizes)
            .map(|(s, &file_size)| SegmentFacts {
                id: s.id(),
                last_index: s.last_index(),
                expiration_ms: s.expiration_ms(),
                file_size,
                active: Some(s.id()) == active_id,
            })
            .collect()
    }
}

/// The segments (in log order) a cleanup at `now_ms` deletes, with the
/// rule and the file size of each: the expired ones, then, while the files
/// left hold more than `budget` bytes (0: no budget), the oldest left.
/// Never the active segment, never one holding an index at or above
/// `floor` (the lowest hold), and never one after a segment kept (the log
/// stays contiguous).
fn plan(
    segments: &[SegmentFacts],
    now_ms: i64,
    budget: u64,
    floor: Option<u64>,
) -> Vec<(u64, DeleteReason, u64)> {
    let mut total: u64 = segments.iter().map(|s| s.file_size).sum();
    let mut plan = Vec::new();
    for seg in segments {
        if seg.active || floor.is_some_and(|f| seg.last_index >= f) {
            break;
        }
        let reason = if seg.expiration_ms <= now_ms {
            DeleteReason::Expired
        } else if budget != 0 && total > budget {
            DeleteReason::SizeBudget
        } else {
            break;
        };
        total -= seg.file_size;
        plan.push((seg.id, reason, seg.file_size));
    }
    plan
}

/// Why a segment is still on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retained {
    /// Appends go to it: the active segment is never deleted.
    Active,
    /// It expires at `until_ms` (its window end plus retention).
    NotExpired { until_ms: i64 },
    /// Reader hold `name` keeps its records (from `index` on).
    Held { name: String, index: u64 },
    /// The stream is within its size budget without deleting it.
    WithinBudget,
    /// An older segment is kept, and the log never has a hole.
    AfterKept,
}

/// One segment as retention judges it at some time (see
/// [`Wal::retention`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRetention {
    pub segment_id: u64,
    pub file_size: u64,
    pub expiration_ms: i64,
    /// Why it stays; empty when a cleanup then deletes it.
    pub kept: Vec<Retained>,
    /// The rule by which a cleanup then deletes it, if it does.
    pub deleted_by: Option<DeleteReason>,
}

/// Why each of `segments` stays on disk, or goes, in a cleanup at `now_ms`
/// with `budget` and the holds `holds` (those within their lag limits).
pub(crate) fn explain(
    segments: &[SegmentFacts],
    now_ms: i64,
    budget: u64,
    holds: &[Hold],
) -> Vec<SegmentRetention> {
    let floor = holds.iter().map(|h| h.index).min();
    let plan = plan(segments, now_ms, budget, floor);
    let left: u64 =
        segments.iter().map(|s| s.file_size).sum::<u64>() - plan.iter().map(|p| p.2).sum::<u64>();
    segments
        .iter()
        .map(|seg| {
            let deleted_by = plan.iter().find(|p| p.0 == seg.id).map(|p| p.1);
            let mut kept = Vec::new();
            if deleted_by.is_none() {
                if seg.active {
                    kept.push(Retained::Active);
                }
                for h in holds.iter().filter(|h| h.index <= seg.last_index) {
                    kept.push(Retained::Held {
                        name: h.name.clone(),
                        index: h.index,
                    });
                }
                if seg.expiration_ms > now_ms {
                    kept.push(Retained::NotExpired {
                        until_ms: seg.expiration_ms,
                    });
                    if budget != 0 && left <= budget {
                        kept.push(Retained::WithinBudget);
                    }
                }
                if kept.is_empty() {
                    kept.push(Retained::AfterKept);
                }
            }
            SegmentRetention {
                segment_id: seg.id,
                file_size: seg.file_size,
                expiration_ms: seg.expiration_ms,
                kept,
                deleted_by,
            }
        })
        .collect()
}

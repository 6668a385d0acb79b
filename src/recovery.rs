// SPDX-License-Identifier: MIT
//! Recovery on open: find every segment of the stream, check the headers,
//! and bring the newest segment back to its last complete record (or batch).

use crate::error::{Result, WalError};
use crate::format::meta::PurgePoint;
use crate::format::names::{parse_file_name, StreamFile};
use crate::format::{
    SegmentHeader, Trailer, MAX_SEGMENT_RECORDS, SEGMENT_HEADER_SIZE, TRAILER_SIZE,
};
use crate::options::Config;
use crate::record::EntryRef;
use crate::scan::{find_valid_record_after, zeros_to_end, ScanStop, Scanner};
use crate::segment::{Segment, SegmentMap};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What open did to recover a stream: the cut of the newest segment's
/// tail, the files it removed, and the proof that no byte acknowledged as
/// durable was cut (see [`crate::Wal::recovery_report`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The newest segment and what open did to its tail (None: the stream
    /// had no segment).
    pub tail: Option<TailCut>,
    /// Segment files removed, oldest first.
    pub removed: Vec<RemovedSegment>,
    /// The highest offset of the newest segment that its records prove was
    /// synced: every record carries the writer's durable watermark when it
    /// was written; the kept records' and any valid record's after a
    /// damage count.
    pub durable_watermark: u64,
    /// A cut byte lay below `durable_watermark`: data once synced was cut.
    /// Open refuses that (corruption) unless salvaging, so without salvage
    /// this is always false: the proof that nothing acknowledged as durable
    /// was lost.
    pub cut_below_durable: bool,
}

/// The newest segment's tail as open found and left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCut {
    pub segment_id: u64,
    /// The file's length found, and the length open left (the end of its
    /// last whole record or batch).
    pub found_len: u64,
    pub kept_len: u64,
    /// Records kept in it.
    pub records_kept: u64,
    /// What was cut, when something was: a torn tail, a hole of writes lost
    /// from the unsynced tail, corruption (salvage only), or preallocated
    /// zeros only (`None` in `damage`, `found_len > kept_len`).
    pub damage: Option<String>,
}

/// A segment file open removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedSegment {
    pub segment_id: u64,
    pub reason: RemovedReason,
}

/// Why open removed a segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovedReason {
    /// A crash tore its creation: shorter than its header, nothing in it
    /// was ever acknowledged.
    TornCreation,
    /// A truncation or reset had dropped every record of it (its unlink was
    /// cut short by a crash).
    Dropped,
    /// A purge had dropped every record of it.
    Purged,
}

/// The report of cutting the newest segment `seg`, found `found_len` bytes
/// long, as `plan` says (no file removed yet).
pub(crate) fn tail_report(seg: &Segment, found_len: u64, plan: &TailPlan) -> RecoveryReport {
    let durable_watermark = plan
        .synced_max
        .max(plan.damage.as_ref().map_or(0, |d| d.proven_synced));
    RecoveryReport {
        tail: Some(TailCut {
            segment_id: seg.id(),
            found_len,
            kept_len: plan.committed_end,
            records_kept: plan.records,
            damage: plan.damage.as_ref().map(|d| d.detail.clone()),
        }),
        removed: Vec::new(),
        durable_watermark,
        cut_below_durable: plan.committed_end < durable_watermark,
    }
}

/// What open takes over from recovery.
pub(crate) struct Recovered {
    /// Every segment kept, the newest included.
    pub segments: SegmentMap,
    /// The segment appends go on in: its tail cut and synced.
    pub newest: Option<Arc<Segment>>,
    /// The id the next segment created gets.
    pub next_id: u64,
    /// A purge point a reset superseded, and what replaces it (see
    /// [`purge_floor`]): open writes it before anything else.
    pub settle_purge: Option<PurgePoint>,
    pub report: RecoveryReport,
}

/// A segment file found in the directory, as its name says.
pub(crate) struct Found {
    pub id: u64,
    pub expiration_ms: i64,
    pub path: PathBuf,
}

/// List the segment files of `stream` in `dir`, sorted by id.
pub(crate) fn list_segments(dir: &Path, stream: &str) -> Result<Vec<Found>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| WalError::io(format!("listing directory {}", dir.display()), e))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| WalError::io(format!("listing directory {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(StreamFile::Segment {
            stream: owner,
            expiration_ms,
            segment_id,
        }) = parse_file_name(name)
        {
            if owner == stream {
                found.push(Found {
                    id: segment_id,
                    expiration_ms,
                    path: entry.path(),
                });
            }
        }
    }
    found.sort_by_key(|f| f.id);
    if let Some(w) = found.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(WalError::corrupted(
            w[0].id,
            0,
            format!(
                "two files claim segment id {}: {} and {}",
                w[0].id,
                w[0].path.display(),
                w[1].path.display()
            ),
        ));
    }
    Ok(found)
}

pub(crate) enum HeaderCheck {
    Ok(File, SegmentHeader, u64),
    /// The file is no longer than a header and the header does not verify:
    /// the crash hit while the segment was being created.
    TornCreation,
    Bad(String),
}

/// Open a segment file (read-only for inspection) and check its header.
pub(crate) fn check_header(found: &Found, writable: bool) -> Result<HeaderCheck> {
    let file = OpenOptions::new()
        .read(true)
        .write(writable)
        .open(&found.path)
        .map_err(|e| WalError::io(format!("opening segment {}", found.path.display()), e))?;
    let len = file
        .metadata()
        .map_err(|e| WalError::io(format!("stat of segment {}", found.path.display()), e))?
        .len();
    let mut buf = vec![0u8; SEGMENT_HEADER_SIZE.min(len as usize)];
    crate::sys::read_exact_at(&file, &found.path, &mut buf, 0)
        .map_err(|e| WalError::io(format!("reading header of {}", found.path.display()), e))?;
    let header = match SegmentHeader::decode(&buf) {
        Ok(h) => h,
        Err(_) if len <= SEGMENT_HEADER_SIZE as u64 => return Ok(HeaderCheck::TornCreation),
        Err(detail) => return Ok(HeaderCheck::Bad(detail)),
    };
    if header.segment_id != found.id || header.expiration_ms != found.expiration_ms {
        return Ok(HeaderCheck::Bad(format!(
            "header says segment {} expiring at {}, file name says segment {} expiring at {}",
            header.segment_id, header.expiration_ms, found.id, found.expiration_ms
        )));
    }
    Ok(HeaderCheck::Ok(file, header, len))
}

pub(crate) fn recover(
    dir: &Path,
    dir_file: &File,
    stream: &str,
    cfg: &Config,
    purge: Option<PurgePoint>,
) -> Result<Recovered> {
    let mut found = list_segments(dir, stream)?;
    let next_id = found.last().map_or(1, |f| f.id + 1);
    let mut segments = SegmentMap::new();
    let mut newest = None;

    // The newest segment: skip it if its creation was torn, else it is the
    // one whose tail is cut. Nothing is changed on disk until every check
    // has passed: a refused open (corruption, here or in an older segment)
    // leaves the directory exactly as it found it. (Found by the recovery
    // fuzz target: a bad header in an older segment used to be reported
    // after the newest segment's tail was already cut and torn files removed.)
    let mut torn = Vec::new();
    let mut newest_found = None;
    while let Some(last) = found.pop() {
        match check_header(&last, true)? {
            // Nothing in it was ever acknowledged: a segment's header is
            // fsync'ed before any record is written to it. Removed below.
            HeaderCheck::TornCreation => torn.push(last),
            // Salvage: leave the file alone and recover from the one before it.
            HeaderCheck::Bad(_) if cfg.salvage => {}
            HeaderCheck::Bad(detail) => return Err(WalError::corrupted(last.id, 0, detail)),
            HeaderCheck::Ok(file, header, len) => {
                newest_found = Some((last.path, file, header, len));
                break;
            }
        }
    }

    // Older segments were sealed (complete and synced) before their successor
    // was created: only their headers are checked here; reads verify records.
    for f in found {
        match check_header(&f, true)? {
            HeaderCheck::Ok(file, header, len) => {
                let seg = Segment::from_parts(f.path, file, header, len)?;
                segments.insert(seg.id(), Arc::new(seg));
            }
            HeaderCheck::TornCreation | HeaderCheck::Bad(_) if cfg.salvage => {}
            HeaderCheck::TornCreation => {
                return Err(WalError::corrupted(
                    f.id,
                    0,
                    "segment file is shorter than its header",
                ))
            }
            HeaderCheck::Bad(detail) => return Err(WalError::corrupted(f.id, 0, detail)),
        }
    }

    let newest_first = newest_found
        .as_ref()
        .map(|(_, _, h, _)| (h.first_index, h.resets_log));
    let dropped = count_sealed(&segments, newest_first);
    let newest_reset = newest_found
        .as_ref()
        .filter(|(_, _, h, _)| h.resets_log)
        .map(|(_, _, h, _)| (h.segment_id, h.first_index));
    let (floor, settle_purge) = purge_floor(purge, segments.values(), newest_reset);
    for seg in &dropped {
        segments.remove(&seg.id());
    }
    for seg in segments.values() {
        index_sealed(seg)?;
    }
    // Scan the newest segment (refusing corruption before any change), cut
    // its torn tail, then remove the torn segments created after it.
    let mut report = RecoveryReport::default();
    if let Some((path, file, header, len)) = newest_found {
        let seg = recover_tail(path, file, header, len, cfg.salvage, &mut report)?;
        segments.insert(seg.id(), seg.clone());
        newest = Some(seg);
    }
    remove_dropped(dir, dir_file, &dropped)?;
    let removed = |segs: &[Arc<Segment>], reason| -> Vec<RemovedSegment> {
        segs.iter()
            .map(|s| RemovedSegment {
                segment_id: s.id(),
                reason,
            })
            .collect()
    };
    report
        .removed
        .extend(removed(&dropped, RemovedReason::Dropped));
    if let Some(floor) = floor {
        let purged = apply_floor(&mut segments, floor);
        remove_dropped(dir, dir_file, &purged)?;
        report
            .removed
            .extend(removed(&purged, RemovedReason::Purged));
    }
    for t in &torn {
        std::fs::remove_file(&t.path)
            .map_err(|e| WalError::io(format!("removing torn segment {}", t.path.display()), e))?;
        report.removed.push(RemovedSegment {
            segment_id: t.id,
            reason: RemovedReason::TornCreation,
        });
    }
    report.removed.sort_by_key(|r| r.segment_id);
    if !torn.is_empty() {
        crate::sys::fsync(dir_file, dir)
            .map_err(|e| WalError::io(format!("fsync of directory {}", dir.display()), e))?;
    }
    Ok(Recovered {
        segments,
        newest,
        next_id,
        settle_purge,
        report,
    })
}

/// The floor a purge point puts under the log's indexes, given the sealed
/// segments found (those a truncation dropped included) and the newest
/// one's id and first index if it resets the log. A segment that resets
/// the log with an id above the point's was created after the purge and
/// supersedes it: then there is no floor, and the point to write instead
/// (the newest such reset's first index) is returned too, to be written
/// before that segment can be deleted.
pub(crate) fn purge_floor<'a>(
    point: Option<PurgePoint>,
    sealed: impl DoubleEndedIterator<Item = &'a Arc<Segment>>,
    newest_reset: Option<(u64, u64)>,
) -> (Option<u64>, Option<PurgePoint>) {
    let Some(point) = point else {
        return (None, None);
    };
    let reset = newest_reset.or_else(|| {
        sealed
            .rev()
            .find(|s| s.resets_log())
            .map(|s| (s.id(), s.first_index()))
    });
    match reset {
        Some((segment_id, before)) if segment_id > point.segment_id => {
            (None, Some(PurgePoint { before, segment_id }))
        }
        _ => (Some(point.before), None),
    }
}

/// Put `floor` under the indexes of `segments` (every live one, counted):
/// the segments wholly below it but the newest leave the map and are
/// returned, oldest first (to delete: a purge a crash interrupted), and the
/// first one left reads nothing below `floor` (nor above its last index,
/// should the point say more).
pub(crate) fn apply_floor(segments: &mut SegmentMap, floor: u64) -> Vec<Arc<Segment>> {
    let Some(newest) = segments.values().next_back().cloned() else {
        return Vec::new();
    };
    let below: Vec<Arc<Segment>> = segments
        .values()
        .filter(|s| s.id() != newest.id() && s.first_index() + s.record_count() <= floor)
        .cloned()
        .collect();
    for seg in &below {
        segments.remove(&seg.id());
    }
    if let Some(first) = segments.values().next() {
        first.purge_below(floor.min(newest.last_index() + 1));
    }
    below
}

/// Give each segment of `sealed` (every segment but the newest, in id
/// order) its record count, and return the segments a truncation or reset
/// dropped, oldest first. `newest` is the newest segment's first index and
/// reset flag.
///
/// From the newest segment back: a segment holds the indexes from its
/// first up to the lowest first index of the segments after it (a rotation
/// starts a segment at the index after its predecessor's last, a
/// truncation at the index after the last it keeps). A segment that holds
/// none is dropped, as is every segment before one that resets the log.
pub(crate) fn count_sealed(sealed: &SegmentMap, newest: Option<(u64, bool)>) -> Vec<Arc<Segment>> {
    let Some((mut limit, mut reset)) = newest else {
        return Vec::new();
    };
    let mut dropped = Vec::new();
    for seg in sealed.values().rev() {
        if reset || seg.first_index() >= limit {
            dropped.push(seg.clone());
        } else {
            seg.publish_count(limit - seg.first_index());
        }
        limit = limit.min(seg.first_index());
        reset |= seg.resets_log();
    }
    dropped.reverse();
    dropped
}

/// Finish an interrupted truncation, reset or purge: delete the files of
/// the segments it dropped, oldest first (a segment that resets the log only
/// once the deletions before it are durable), and fsync the directory.
fn remove_dropped(dir: &Path, dir_file: &File, dropped: &[Arc<Segment>]) -> Result<()> {
    let sync = || {
        crate::sys::fsync(dir_file, dir)
            .map_err(|e| WalError::io(format!("fsync of directory {}", dir.display()), e))
    };
    for (k, seg) in dropped.iter().enumerate() {
        if k > 0 && seg.resets_log() {
            sync()?;
        }
        crate::sys::remove_file(seg.path()).map_err(|e| {
            WalError::io(
                format!(
                    "removing segment {} (left without records by a truncation, reset or purge)",
                    seg.path().display()
                ),
                e,
            )
        })?;
    }
    if !dropped.is_empty() {
        sync()?;
    }
    Ok(())
}

/// Make sealed segment `seg` (counted already, its data end still the
/// file's length) ready for lookups by index: read its index footer's
/// trailer (one positional read) and, if it can be trusted, end the data
/// where the footer starts and look records up there. Otherwise scan the
/// segment and keep the ends of its records in memory; when the scan finds
/// all the records the segment holds, what follows them is the damaged
/// footer and the data ends after them, else the data is left to the end
/// of the file, so replay reports the damage where it is. Returns why the
/// footer was not trusted, if it was not.
pub(crate) fn index_sealed(seg: &Arc<Segment>) -> Result<Option<String>> {
    let len = seg.len();
    let io_err = |e| WalError::io(format!("reading segment {}", seg.path().display()), e);
    let count = seg.record_count();
    let problem = match read_trailer(seg, len).map_err(io_err)? {
        // A truncation may have dropped the last records the footer counts.
        Ok(t) if t.count >= count => 'trusted: {
            if t.ranges > 0 {
                match read_ranges(seg, &t).map_err(io_err)? {
                    Ok(ranges) => seg.set_dropped(ranges),
                    Err(problem) => break 'trusted problem,
                }
            }
            seg.use_footer(t.data_end);
            let end = match count {
                0 => Some(SEGMENT_HEADER_SIZE as u64),
                c if c == t.count => Some(t.data_end),
                c => seg.end_of_record(c - 1).map_err(io_err)?,
            };
            match end.filter(|&e| e >= SEGMENT_HEADER_SIZE as u64 && e <= t.data_end) {
                Some(end) => {
                    seg.publish_end(end);
                    return Ok(None);
                }
                None => format!(
                    "index footer puts the end of record {} outside the data",
                    count - 1
                ),
            }
        }
        Ok(t) => format!(
            "index footer counts {} records, but the next segment starts {count} indexes later",
            t.count,
        ),
        Err(problem) => problem,
    };
    let plan = plan_tail(
        seg,
        (SEGMENT_HEADER_SIZE as u64, seg.first_index()),
        len,
        false,
    )?;
    let count = count as usize;
    if plan.ends.len() >= count {
        let end = count
            .checked_sub(1)
            .map_or(SEGMENT_HEADER_SIZE as u64, |k| plan.ends[k]);
        seg.publish_end(end);
    }
    seg.keep_ends(&plan.ends);
    seg.set_dropped(plan.dropped);
    Ok(Some(problem))
}

/// Scan sealed segment `seg` up to its data end and keep its records' ends
/// in memory, for lookups by index after its footer's ends proved wrong.
/// A scan that stops at damage before the last record keeps the footer:
/// it still finds the records after the damage.
pub(crate) fn rescan_sealed(seg: &Arc<Segment>) -> Result<()> {
    let start = (SEGMENT_HEADER_SIZE as u64, seg.first_index());
    let plan = plan_tail(seg, start, seg.len(), false)?;
    if plan.ends.len() as u64 >= seg.record_count() {
        seg.keep_ends(&plan.ends);
        seg.set_dropped(plan.dropped);
    }
    Ok(())
}

/// The trailer of `seg`'s index footer, if it verifies for a file of `len`
/// bytes (the error says why not).
pub(crate) fn read_trailer(
    seg: &Segment,
    len: u64,
) -> std::io::Result<std::result::Result<Trailer, String>> {
    if len < (SEGMENT_HEADER_SIZE + TRAILER_SIZE) as u64 {
        return Ok(Err("no index footer (the file is too short)".into()));
    }
    let mut b = [0u8; TRAILER_SIZE];
    seg.read_exact_at(&mut b, len - TRAILER_SIZE as u64)?;
    Ok(Trailer::decode(&b, seg.crc_seed(), seg.first_index(), len))
}

/// The dropped ranges of `seg`'s index footer whose trailer is `t` (one
/// positional read; none without ranges), if they verify (the error says
/// why not).
pub(crate) fn read_ranges(
    seg: &Segment,
    t: &Trailer,
) -> std::io::Result<std::result::Result<Vec<(u64, u64)>, String>> {
    if t.ranges == 0 {
        return Ok(Ok(Vec::new()));
    }
    let span = t.ranges_span();
    let mut b = vec![0u8; (span.end - span.start) as usize];
    seg.read_exact_at(&mut b, span.start)?;
    Ok(t.decode_ranges(&b, seg.crc_seed()))
}

/// What a scan of a segment found: where its committed data ends, the
/// records in it, and the first damage (if any).
#[derive(Debug, Clone)]
pub(crate) struct TailPlan {
    /// End of the last record that ends a batch (or single append).
    pub committed_end: u64,
    /// Records before `committed_end`.
    pub records: u64,
    /// The end of each of them (the records truncation records dropped
    /// left out).
    pub ends: Vec<u64>,
    /// The byte ranges the truncation records found dropped, in order.
    pub dropped: Vec<(u64, u64)>,
    /// The index the record at `committed_end` would have.
    pub next_index: u64,
    /// The highest durable watermark (`synced_end`) of the records before
    /// `committed_end`.
    pub synced_max: u64,
    pub first: Option<EntryRef>,
    pub last: Option<EntryRef>,
    pub damage: Option<Damage>,
}

/// The first record of a segment that does not verify.
#[derive(Debug, Clone)]
pub(crate) struct Damage {
    pub offset: u64,
    pub detail: String,
    /// The first valid record after the damage (offset, index), if any.
    pub valid_after: Option<(u64, u64)>,
    /// The highest durable watermark of the valid records after it.
    pub proven_synced: u64,
    pub kind: DamageKind,
}

/// What damage in the newest segment means, named by what open does with
/// it (docs/FORMAT.md, "Recovery").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DamageKind {
    /// Nothing valid follows: a torn or garbage tail. Open cuts it.
    CutTornTail,
    /// Valid records follow, but none of them was written after the damaged
    /// bytes had been synced, and the damage holds a lost sector (see
    /// [`has_lost_sector`]): writes of the unsynced tail that never reached
    /// the disk (page writeback out of order before a machine crash). Open
    /// cuts it, like a torn tail: nothing from the damage on was
    /// acknowledged as durable.
    CutUnsyncedHole,
    /// Anything else. Open refuses it (unless salvaging, which cuts here).
    RefuseCorruption,
}

impl DamageKind {
    /// Does open cut the newest segment here (without the salvage option)?
    pub fn is_cut_by_open(self) -> bool {
        self != DamageKind::RefuseCorruption
    }
}

/// Sector size of the lost-write test: the smallest unit a disk writes.
const SECTOR: u64 = 512;

/// Scan `seg` from the record at `start` (index `index`) to `len`. Shared by recovery and the
/// read-only inspection (`nwal verify`, `nwal repair --dry-run`), so what the
/// tool predicts is what open does. In the `newest` segment, zeros from the
/// end of the records to the end of the file are preallocated space, not
/// damage (a sealed segment was cut to its last record).
pub(crate) fn plan_tail(
    seg: &Arc<Segment>,
    (start, index): (u64, u64),
    len: u64,
    newest: bool,
) -> Result<TailPlan> {
    let mut scan = Scanner::raw(seg.clone(), start, len, index);
    let mut plan = TailPlan {
        committed_end: start,
        records: 0,
        ends: Vec::new(),
        dropped: Vec::new(),
        next_index: index,
        synced_max: 0,
        first: None,
        last: None,
        damage: None,
    };
    let mut pending_synced = 0u64;
    let mut pending = 0u64;
    let mut first_seen = None;
    loop {
        match scan.next_record() {
            // (The scan refuses one inside a batch: `pending` is 0.)
            Ok(Some(rec)) if rec.frame.is_truncation() => {
                apply_truncation(seg, &mut plan, &rec);
                if plan.records == 0 {
                    first_seen = None;
                }
            }
            Ok(Some(rec)) => {
                let entry = EntryRef {
                    segment_id: seg.id(),
                    offset: rec.offset,
                    size: rec.frame.total_size(),
                    index: rec.index,
                };
                pending += 1;
                pending_synced = pending_synced.max(rec.frame.synced_end);
                first_seen = first_seen.or(Some(entry));
                plan.ends.push(entry.offset + entry.size);
                if !rec.frame.batch_continues() {
                    plan.committed_end = entry.offset + entry.size;
                    plan.records += pending;
                    plan.next_index = entry.index + 1;
                    plan.synced_max = plan.synced_max.max(pending_synced);
                    pending = 0;
                    plan.first = first_seen;
                    plan.last = Some(entry);
                }
            }
            Ok(None) => break,
            Err(ScanStop::Io { offset, error }) => {
                return Err(WalError::io(
                    format!(
                        "reading segment {} at offset {offset}",
                        seg.path().display()
                    ),
                    error,
                ))
            }
            Err(ScanStop::Dropped) => unreachable!("a recovery scan applies truncations"),
            Err(ScanStop::Invalid { offset, detail }) => {
                let preallocated = newest
                    && zeros_to_end(seg, offset, len).map_err(|e| {
                        WalError::io(format!("reading segment {}", seg.path().display()), e)
                    })?;
                if !preallocated {
                    plan.damage = Some(judge_damage(seg, (offset, scan.index()), detail, len)?);
                }
                break;
            }
        }
    }
    plan.ends.truncate(plan.records as usize);
    Ok(plan)
}

/// Apply the truncation record `rec` (whose `index` is the last index it
/// keeps; the scan checked it is below the next index) to `plan`: the
/// records after the kept one are dropped, from the end of the kept one to
/// the end of the truncation record, and the last record is the kept one.
fn apply_truncation(seg: &Segment, plan: &mut TailPlan, rec: &crate::scan::ScannedRecord) {
    let keep = (rec.index + 1 - seg.first_index()) as usize;
    let start_of = |k: usize, plan: &TailPlan| {
        let at = k
            .checked_sub(1)
            .map_or(SEGMENT_HEADER_SIZE as u64, |j| plan.ends[j]);
        crate::segment::past_dropped(&plan.dropped, at)
    };
    plan.last = keep.checked_sub(1).map(|k| {
        let offset = start_of(k, plan);
        EntryRef {
            segment_id: seg.id(),
            offset,
            size: plan.ends[k] - offset,
            index: rec.index,
        }
    });
    if keep == 0 {
        plan.first = None;
    }
    let from = keep
        .checked_sub(1)
        .map_or(SEGMENT_HEADER_SIZE as u64, |k| plan.ends[k]);
    let end = rec.offset + rec.frame.total_size();
    plan.ends.truncate(keep);
    crate::segment::add_dropped(&mut plan.dropped, (from, end));
    plan.committed_end = end;
    plan.records = keep as u64;
    plan.next_index = rec.index + 1;
    plan.synced_max = plan.synced_max.max(rec.frame.synced_end);
}

/// Classify damage at `offset` of `seg`, where the record of index `index`
/// was expected (see [`DamageKind`]).
fn judge_damage(
    seg: &Arc<Segment>,
    (offset, index): (u64, u64),
    detail: String,
    len: u64,
) -> Result<Damage> {
    let io_err = |e| WalError::io(format!("reading segment {}", seg.path().display()), e);
    let valid_after = find_valid_record_after(seg, offset, len, index).map_err(io_err)?;
    let Some((next, next_index)) = valid_after else {
        return Ok(Damage {
            offset,
            detail,
            valid_after,
            proven_synced: 0,
            kind: DamageKind::CutTornTail,
        });
    };
    // The highest watermark of any valid record after the damage: a writer
    // had synced everything before it, so damage below it hit durable data.
    let mut proven_synced = 0u64;
    let mut at = Some((next, next_index));
    while let Some((from, index)) = at {
        let mut scan = Scanner::raw(seg.clone(), from, len, index);
        at = loop {
            match scan.next_record() {
                Ok(Some(rec)) => proven_synced = proven_synced.max(rec.frame.synced_end),
                Ok(None) => break None,
                Err(ScanStop::Io { error, .. }) => return Err(io_err(error)),
                Err(ScanStop::Dropped) => unreachable!("a recovery scan applies truncations"),
                Err(ScanStop::Invalid { offset: bad, .. }) => {
                    break find_valid_record_after(seg, bad, len, scan.index()).map_err(io_err)?
                }
            }
        };
    }
    let (kind, why) = if proven_synced > offset {
        (
            DamageKind::RefuseCorruption,
            format!("a later record shows the segment was synced up to offset {proven_synced}"),
        )
    } else if has_lost_sector(seg, offset, next).map_err(io_err)? {
        (
            DamageKind::CutUnsyncedHole,
            "no later record shows this part was synced and it holds a zeroed sector: \
             writes lost from the unsynced tail"
                .to_string(),
        )
    } else {
        (
            DamageKind::RefuseCorruption,
            "the damaged bytes are not a lost (zeroed) write".to_string(),
        )
    };
    Ok(Damage {
        offset,
        detail: format!("{detail}; a valid record follows at offset {next}, and {why}"),
        valid_after,
        proven_synced,
        kind,
    })
}

/// Does the damage `[from, to)` (from the first invalid record to the next
/// valid one) look like a write lost before a machine crash? A sector whose
/// write never reached the disk reads as it was at the last sync: zeros from
/// the synced end on (what a never-written block of a file reads as on Linux
/// filesystems). The synced end is where the first invalid record starts,
/// so: some 512-byte-aligned sector ending by `to` is all zeros from
/// `max(its start, from)` to its end.
fn has_lost_sector(seg: &Segment, from: u64, to: u64) -> std::io::Result<bool> {
    let mut sector = from / SECTOR * SECTOR;
    let mut buf = Vec::new();
    while sector + SECTOR <= to {
        let n = ((to - sector) / SECTOR).min(SCAN_SECTORS);
        let start = sector.max(from);
        buf.resize((sector + n * SECTOR - start) as usize, 0);
        seg.read_exact_at(&mut buf, start)?;
        // The first sector may start before `from`; its part from `from` on.
        let head = (SECTOR - (start - sector)) as usize;
        let (first, rest) = buf.split_at(head);
        if first.iter().all(|&b| b == 0)
            || rest
                .chunks_exact(SECTOR as usize)
                .any(|s| s.iter().all(|&b| b == 0))
        {
            return Ok(true);
        }
        sector += n * SECTOR;
    }
    Ok(false)
}

/// Sectors read at a time by [`has_lost_sector`] (4 MiB).
const SCAN_SECTORS: u64 = 8192;

/// Scan the newest segment and cut everything after its last complete
/// record or batch. An invalid record with a valid one after it is
/// corruption, not a torn tail: refuse (unless salvaging).
fn recover_tail(
    path: PathBuf,
    file: File,
    header: SegmentHeader,
    len: u64,
    salvage: bool,
    report: &mut RecoveryReport,
) -> Result<Arc<Segment>> {
    let seg = Arc::new(Segment::from_parts(path, file, header, len)?);
    let first = (SEGMENT_HEADER_SIZE as u64, seg.first_index());
    let plan = plan_tail(&seg, first, len, true)?;
    if plan.records > MAX_SEGMENT_RECORDS {
        return Err(WalError::corrupted(
            seg.id(),
            plan.committed_end,
            format!(
                "segment holds {} records, more than a segment may ({MAX_SEGMENT_RECORDS})",
                plan.records
            ),
        ));
    }
    if let Some(d) = &plan.damage {
        if !d.kind.is_cut_by_open() && !salvage {
            return Err(WalError::corrupted(
                seg.id(),
                d.offset,
                format!(
                    "{}: this is not a torn tail (open with the salvage option to cut the segment here)",
                    d.detail
                ),
            ));
        }
    }
    let committed_end = plan.committed_end;
    *report = tail_report(&seg, len, &plan);
    // Sync even when nothing is cut: the previous process may have died with
    // acknowledged non-durable records still in the page cache, and the
    // durable position of the reopened log starts at this segment's end.
    // A cut changes the file's length: fsync, not fdatasync, to make it
    // durable whatever the filesystem counts as data-sync metadata.
    let synced = if committed_end < len {
        seg.truncate(committed_end).and_then(|()| seg.sync_all())
    } else {
        seg.sync_data()
    };
    synced.map_err(|e| {
        WalError::io(
            format!("recovering the tail of {}", seg.path().display()),
            e,
        )
    })?;
    if committed_end < len {
        seg.publish_end(committed_end);
    }
    seg.track_ends_from(&plan.ends);
    seg.set_dropped(plan.dropped);
    seg.publish_count(plan.records);
    seg.mark_synced(committed_end);
    Ok(seg)
}

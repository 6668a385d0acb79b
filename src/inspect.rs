// SPDX-License-Identifier: MIT
//! Read-only inspection of a log without taking the stream lock: the base
//! of the `nwal` operator tool. Safe while a writer holds the stream; it
//! sees each segment as it was when the view was opened (a record being
//! appended at that moment may look like a torn tail).

use crate::error::{Result, WalError};
use crate::format::meta::{MetaSlot, PurgePoint};
use crate::format::names::{
    lock_file_name, meta_file_name, parse_file_name, validate_stream_name, StreamFile,
};
use crate::format::SEGMENT_HEADER_SIZE;
use crate::read::{read_refs, read_refs_into, ReadBuf};
use crate::record::{EntryRef, Record};
use crate::recovery::{
    apply_floor, check_header, count_sealed, index_sealed, list_segments, plan_tail, purge_floor,
    read_ranges, read_trailer, HeaderCheck,
};
use crate::replay::{Replay, Source};
use crate::segment::{Segment, SegmentMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The streams that have segment files (or a lock or metadata file) in
/// `dir`, sorted.
pub fn list_streams(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| WalError::io(format!("listing directory {}", dir.display()), e))?;
    let mut streams = std::collections::BTreeSet::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| WalError::io(format!("listing directory {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(file) = parse_file_name(name) {
            streams.insert(file.stream().to_string());
        }
    }
    Ok(streams.into_iter().collect())
}

/// The segment files of `stream` in `dir`, by their names alone, sorted:
/// no file is opened, read or scanned (to remove a stream's files, say).
pub fn segment_files(dir: &Path, stream: &str) -> Result<Vec<PathBuf>> {
    validate_stream_name(stream)?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| WalError::io(format!("listing directory {}", dir.display()), e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| WalError::io(format!("listing directory {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(StreamFile::Segment { segment_id, .. }) =
            parse_file_name(name).filter(|f| f.stream() == stream)
        {
            files.push((segment_id, entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// One segment file as found on disk.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    pub id: u64,
    /// From the file name.
    pub expiration_ms: i64,
    /// From the header (None when the header does not verify).
    pub window_start_ms: Option<i64>,
    /// The index of the segment's first record, from the header (None when
    /// the header does not verify).
    pub first_index: Option<u64>,
    pub path: PathBuf,
    pub file_size: u64,
    /// Why the header does not verify, if it does not.
    pub header_problem: Option<String>,
    /// A later truncation or reset, or a purge, dropped every record of it:
    /// open deletes the file (a crash came before the operation did).
    pub dropped: bool,
}

/// What a full scan of one segment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCheck {
    /// Whole records (complete batches) before the first damage.
    pub records: u64,
    pub first: Option<EntryRef>,
    pub last: Option<EntryRef>,
    /// End of the last complete record or batch.
    pub valid_end: u64,
    /// The first record that does not verify, if any.
    pub problem: Option<Problem>,
}

/// A place where the data does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub segment_id: u64,
    pub offset: u64,
    pub detail: String,
    /// Open cuts the segment here (in the newest segment): nothing valid
    /// follows (a torn tail), or what follows was never synced and the
    /// damage is a lost (zeroed) write. Otherwise it is corruption, which
    /// open refuses. `detail` says which.
    pub torn_tail: bool,
    /// Offset of the first valid record after the problem, if any.
    pub next_valid: Option<u64>,
    /// Index of that record.
    pub next_valid_index: Option<u64>,
}

/// A read-only view of one stream.
#[derive(Debug)]
pub struct LogView {
    dir: PathBuf,
    stream: String,
    infos: Vec<SegmentInfo>,
    segments: Arc<SegmentMap>,
}

impl LogView {
    /// Open a read-only view of `stream` in `dir`. Fails with
    /// `InvalidArgument` when the stream has no file (segment, lock or
    /// metadata file) in the directory.
    pub fn open(dir: impl AsRef<Path>, stream: &str) -> Result<LogView> {
        let dir = dir.as_ref().to_path_buf();
        validate_stream_name(stream)?;
        if !dir.is_dir() {
            return Err(WalError::InvalidArgument(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let found = list_segments(&dir, stream)?;
        let has_lock = dir.join(lock_file_name(stream)).exists();
        let has_meta = dir.join(meta_file_name(stream)).exists();
        if found.is_empty() && !has_lock && !has_meta {
            return Err(WalError::InvalidArgument(format!(
                "no stream {stream:?} in {}",
                dir.display()
            )));
        }
        let mut infos = Vec::new();
        let mut segments = SegmentMap::new();
        for f in found {
            let mut info = SegmentInfo {
                id: f.id,
                expiration_ms: f.expiration_ms,
                window_start_ms: None,
                first_index: None,
                path: f.path.clone(),
                file_size: 0,
                header_problem: None,
                dropped: false,
            };
            match check_header(&f, false)? {
                HeaderCheck::Ok(file, header, len) => {
                    info.window_start_ms = Some(header.window_start_ms);
                    info.first_index = Some(header.first_index);
                    info.file_size = len;
                    segments.insert(
                        f.id,
                        Arc::new(Segment::from_parts(f.path, file, header, len)?),
                    );
                }
                HeaderCheck::TornCreation => {
                    info.file_size = file_len(&f.path);
                    info.header_problem =
                        Some("segment header torn (a crash while creating it)".into());
                }
                HeaderCheck::Bad(detail) => {
                    info.file_size = file_len(&f.path);
                    info.header_problem = Some(detail);
                }
            }
            infos.push(info);
        }
        // The purge point as open would apply it; a metadata file that
        // cannot be read leaves the view without it (`meta` reports why).
        let meta_path = dir.join(meta_file_name(stream));
        let purge = crate::meta::read_file(&meta_path, false, false)
            .ok()
            .flatten()
            .and_then(|(_, loaded)| loaded.meta.purge);
        for id in index_segments(&mut segments, purge)? {
            if let Some(info) = infos.iter_mut().find(|i| i.id == id) {
                info.dropped = true;
            }
        }
        Ok(LogView {
            dir,
            stream: stream.to_string(),
            infos,
            segments: Arc::new(segments),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The stream's metadata as open would find it (None: no metadata
    /// file), read now, without the stream lock: while a writer holds the
    /// stream, a put being written leaves its slot torn and this is the
    /// value before it. A file neither of whose slots verifies is
    /// `CorruptedFile`, as for open without salvage.
    pub fn meta(&self) -> Result<Option<MetaSlot>> {
        let path = self.dir.join(meta_file_name(&self.stream));
        Ok(crate::meta::read_file(&path, false, false)?.map(|(_, loaded)| loaded.meta))
    }

    /// What `Wal::open` without salvage would do to this stream, without
    /// doing it: the recovery report it would give (`Wal::recovery_report`;
    /// segments a truncation, reset or purge dropped are all
    /// `RemovedReason::Dropped` here), or the `CorruptedData` it would
    /// refuse the stream with.
    pub fn recovery_report(&self) -> Result<crate::RecoveryReport> {
        use crate::recovery::{tail_report, RemovedReason, RemovedSegment};
        let mut report = match self.segments.values().next_back() {
            Some(seg) => {
                let plan = plan_tail(
                    seg,
                    (FIRST_RECORD_OFFSET, seg.first_index()),
                    seg.len(),
                    true,
                )?;
                if let Some(d) = plan.damage.as_ref().filter(|d| !d.kind.is_cut_by_open()) {
                    return Err(WalError::corrupted(seg.id(), d.offset, d.detail.clone()));
                }
                tail_report(seg, seg.len(), &plan)
            }
            None => crate::RecoveryReport::default(),
        };
        let newest = report.tail.as_ref().map(|t| t.segment_id);
        for info in &self.infos {
            let reason = match &info.header_problem {
                None if info.dropped => RemovedReason::Dropped,
                None => continue,
                Some(_)
                    if newest.is_none_or(|n| info.id > n)
                        && info.file_size <= crate::format::SEGMENT_HEADER_SIZE as u64 =>
                {
                    RemovedReason::TornCreation
                }
                Some(problem) => return Err(WalError::corrupted(info.id, 0, problem.clone())),
            };
            report.removed.push(RemovedSegment {
                segment_id: info.id,
                reason,
            });
        }
        Ok(report)
    }

    /// The reader holds in the stream's metadata, by name (none without a
    /// metadata file).
    pub fn holds(&self) -> Result<Vec<crate::Hold>> {
        Ok(match self.meta()? {
            Some(meta) => {
                crate::wal::holds_in(meta.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            }
            None => Vec::new(),
        })
    }

    /// Why each live segment is still on disk, or which rule would delete
    /// it, in a cleanup at `now_ms` by a writer with the size budget
    /// `max_stream_bytes` (0: none) and no hold lag limit (the view does
    /// not know the writer's options). The newest segment is the active
    /// one.
    pub fn retention(
        &self,
        now_ms: i64,
        max_stream_bytes: u64,
    ) -> Result<Vec<crate::SegmentRetention>> {
        let live: Vec<_> = self.segments.values().cloned().collect();
        let sizes: Vec<u64> = live
            .iter()
            .map(|s| {
                self.infos
                    .iter()
                    .find(|i| i.id == s.id())
                    .map_or(0, |i| i.file_size)
            })
            .collect();
        let active = live.last().map(|s| s.id());
        let facts = crate::cleanup::SegmentFacts::of(&live, &sizes, active);
        Ok(crate::cleanup::explain(
            &facts,
            now_ms,
            max_stream_bytes,
            &self.holds()?,
        ))
    }

    /// Every segment file of the stream, in id order.
    pub fn segments(&self) -> &[SegmentInfo] {
        &self.infos
    }

    /// The lowest index of segment `id` that is part of the log: its first,
    /// or the first a purge left.
    pub fn segment_first_live_index(&self, id: u64) -> Option<u64> {
        self.segments.get(&id).map(|s| s.first_live_index())
    }

    /// The index of the first record of segment `id` (from its header).
    pub fn segment_first_index(&self, id: u64) -> Option<u64> {
        self.segments.get(&id).map(|s| s.first_index())
    }

    /// Scan every record of segment `id` (CRC and framing), up to the
    /// first problem.
    pub fn check_segment(&self, id: u64) -> Result<SegmentCheck> {
        let seg = self
            .segments
            .get(&id)
            .ok_or(WalError::SegmentNotFound(id))?;
        self.check_segment_from(id, FIRST_RECORD_OFFSET, seg.first_index())
    }

    /// Scan segment `id` from the record at `offset`, whose index is `index`
    /// (to go on after a problem, from its `next_valid` and
    /// `next_valid_index`).
    pub fn check_segment_from(&self, id: u64, offset: u64, index: u64) -> Result<SegmentCheck> {
        let seg = self
            .segments
            .get(&id)
            .ok_or(WalError::SegmentNotFound(id))?;
        let newest = self.segments.keys().next_back() == Some(&id);
        let start = (offset.max(FIRST_RECORD_OFFSET), index);
        let plan = plan_tail(seg, start, seg.len(), newest)?;
        Ok(SegmentCheck {
            records: plan.records,
            first: plan.first,
            last: plan.last,
            valid_end: plan.committed_end,
            problem: plan.damage.map(|d| Problem {
                segment_id: id,
                offset: d.offset,
                detail: d.detail,
                torn_tail: d.kind.is_cut_by_open(),
                next_valid: d.valid_after.map(|(offset, _)| offset),
                next_valid_index: d.valid_after.map(|(_, index)| index),
            }),
        })
    }

    /// What is wrong with the index footer of sealed segment `id`, if
    /// anything: its trailer, the checksum of its ends, and every end
    /// against the records a scan finds. None for the newest segment (it
    /// has none) and for a right footer.
    pub fn check_footer(&self, id: u64) -> Result<Option<String>> {
        let seg = self
            .segments
            .get(&id)
            .ok_or(WalError::SegmentNotFound(id))?;
        if self.segments.keys().next_back() == Some(&id) {
            return Ok(None);
        }
        let len = file_len(seg.path());
        let io_err = |e| WalError::io(format!("reading segment {}", seg.path().display()), e);
        let t = match read_trailer(seg, len).map_err(io_err)? {
            Ok(t) => t,
            Err(problem) => return Ok(Some(problem)),
        };
        // More is right after a truncation dropped the segment's last records.
        if t.count < seg.record_count() {
            return Ok(Some(format!(
                "index footer counts {} records, the next segment's first index says {}",
                t.count,
                seg.record_count()
            )));
        }
        let mut bytes = vec![0u8; (8 * t.count) as usize];
        seg.read_exact_at(&mut bytes, t.data_end).map_err(io_err)?;
        let crc = crate::crc::extend(seg.crc_seed(), &bytes);
        if crc != t.ends_crc {
            return Ok(Some(format!(
                "index footer ends checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                t.ends_crc
            )));
        }
        let plan = plan_tail(
            seg,
            (FIRST_RECORD_OFFSET, seg.first_index()),
            t.data_end,
            false,
        )?;
        let ends = bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
        for (k, (footer, scanned)) in ends.zip(plan.ends.iter()).enumerate() {
            if footer != *scanned {
                return Ok(Some(format!(
                    "index footer says record {k} ends at {footer}, the records say {scanned}"
                )));
            }
        }
        let ranges = match read_ranges(seg, &t).map_err(io_err)? {
            Ok(r) => r,
            Err(problem) => return Ok(Some(problem)),
        };
        if ranges != plan.dropped {
            return Ok(Some(format!(
                "index footer lists the dropped ranges {ranges:?}, the truncation records say {:?}",
                plan.dropped
            )));
        }
        Ok(None)
    }

    /// Records in log order from index `index` on, as
    /// [`crate::Wal::replay_from_index`] yields them (an index past the last
    /// gives nothing).
    pub fn replay_from_index(&self, index: u64) -> Result<Replay> {
        let ordered: Vec<Arc<Segment>> = self.segments.values().cloned().collect();
        let (first, last) = crate::read::index_bounds(&ordered, 1);
        if index < first || index > last.saturating_add(1) {
            return Err(WalError::IndexNotFound { index, first, last });
        }
        if index > last {
            return Replay::start(Source::Fixed(Arc::new(SegmentMap::new())), None);
        }
        let mut buf = ReadBuf::new();
        let refs =
            crate::read::read_range_into(&self.segments, &ordered, (index, first), 1, 0, &mut buf)?;
        self.replay(refs.first().copied())
    }

    /// Records in log order, as [`crate::Wal::replay`] yields them.
    pub fn replay(&self, from: Option<EntryRef>) -> Result<Replay> {
        // After a purge inside the first segment, start at the first index
        // left, as the live log does.
        if let (None, Some(first)) = (from, self.segments.values().next()) {
            if first.first_live_index() > first.first_index() {
                return self.replay_from_index(first.first_live_index());
            }
        }
        Replay::start(Source::Fixed(self.segments.clone()), from)
    }

    /// Read records by ref, as [`crate::Wal::read_batch`] does.
    pub fn read_batch(&self, refs: &[EntryRef]) -> Result<Vec<Record>> {
        read_refs(&self.segments, refs)
    }

    /// Read records by ref into a reusable buffer, as
    /// [`crate::Wal::read_batch_into`] does.
    pub fn read_batch_into(&self, refs: &[EntryRef], buf: &mut ReadBuf) -> Result<()> {
        read_refs_into(&self.segments, refs, buf)
    }
}

/// Give the view's segments their record counts: the sealed ones by the
/// successor rule, the newest by a scan up to its first damage (the view
/// reads what open would keep), the first index the purge point gives.
/// The segments a truncation, reset or purge dropped leave the view; their
/// ids are returned.
fn index_segments(segments: &mut SegmentMap, purge: Option<PurgePoint>) -> Result<Vec<u64>> {
    let Some((&newest_id, newest)) = segments.iter().next_back() else {
        return Ok(Vec::new());
    };
    let newest = newest.clone();
    let sealed: SegmentMap = segments
        .range(..newest_id)
        .map(|(&id, s)| (id, s.clone()))
        .collect();
    let mut dropped = count_sealed(&sealed, Some((newest.first_index(), newest.resets_log())));
    let newest_reset = newest
        .resets_log()
        .then(|| (newest.id(), newest.first_index()));
    let (floor, _) = purge_floor(purge, sealed.values(), newest_reset);
    for seg in &dropped {
        segments.remove(&seg.id());
    }
    for seg in segments.range(..newest_id).map(|(_, s)| s) {
        index_sealed(seg)?;
    }
    let start = (FIRST_RECORD_OFFSET, newest.first_index());
    let plan = plan_tail(&newest, start, newest.len(), true)?;
    newest.track_ends_from(&plan.ends);
    newest.set_dropped(plan.dropped);
    newest.publish_count(plan.records);
    if let Some(floor) = floor {
        dropped.extend(apply_floor(segments, floor));
    }
    Ok(dropped.iter().map(|s| s.id()).collect())
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Size of a segment header (the offset of the first record).
pub const FIRST_RECORD_OFFSET: u64 = SEGMENT_HEADER_SIZE as u64;

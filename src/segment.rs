// SPDX-License-Identifier: MIT
//! One segment file: its identity, its one fd (written only under the
//! stream's appender lock, see `wal::Appender`; read lock-free with
//! positional reads, which share no file offset), the published end of its
//! data, and its
//! records' indexes (the first, the published count, the ends of the
//! records of the active segment).

use crate::error::{Result, WalError};
use crate::format::names::segment_file_name;
use crate::format::{SegmentHeader, MAX_SEGMENT_RECORDS, SEGMENT_HEADER_SIZE};
use crate::sys;
use arc_swap::{ArcSwap, ArcSwapOption};
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Segments by id: a stream's live ones, or those a read-only view found.
pub(crate) type SegmentMap = BTreeMap<u64, Arc<Segment>>;

/// Where a record that would start at `at` starts, given a segment's
/// dropped byte ranges: past the range that begins there, if one does.
#[inline]
pub(crate) fn past_dropped(ranges: &[(u64, u64)], at: u64) -> u64 {
    ranges.iter().find(|r| r.0 == at).map_or(at, |r| r.1)
}

/// Add the range a truncation record drops to a segment's `ranges`: it
/// starts at the end of the last record kept, so it covers every earlier
/// range that starts inside it (and those are removed).
pub(crate) fn add_dropped(ranges: &mut Vec<(u64, u64)>, range: (u64, u64)) {
    ranges.retain(|r| r.0 < range.0);
    ranges.push(range);
}

/// Record ends per chunk of [`RecordEnds`] (32 KiB each).
const ENDS_CHUNK: usize = 4096;

/// The end offset of each record of a segment, by position in the segment:
/// append-only, written by the appender (lock held) before it publishes the
/// count, read lock-free below the published count. Chunks are allocated as
/// records arrive, so a segment costs 8 bytes per record and a directory of
/// [`MAX_SEGMENT_RECORDS`] / [`ENDS_CHUNK`] slots.
pub(crate) struct RecordEnds {
    chunks: Box<[OnceLock<Chunk>]>,
    /// Ends known (a scan's); the writer's are bounded by the published
    /// count instead.
    limit: u64,
}

/// [`ENDS_CHUNK`] record ends; shared so the appender can keep the one it
/// fills ([`EndsWriter`]).
type Chunk = Arc<[AtomicU64]>;

impl std::fmt::Debug for RecordEnds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.chunks.iter().filter(|c| c.get().is_some()).count();
        f.debug_struct("RecordEnds").field("chunks", &used).finish()
    }
}

impl RecordEnds {
    fn new() -> RecordEnds {
        let slots = (MAX_SEGMENT_RECORDS as usize).div_ceil(ENDS_CHUNK);
        RecordEnds {
            chunks: (0..slots).map(|_| OnceLock::new()).collect(),
            limit: u64::MAX,
        }
    }

    /// The chunk of record `k`, allocated if it was not (None past
    /// [`MAX_SEGMENT_RECORDS`]: the writer never gets there, recovery
    /// refuses such a segment).
    fn chunk(&self, k: u64) -> Option<&Chunk> {
        let chunk = self.chunks.get(k as usize / ENDS_CHUNK)?;
        Some(chunk.get_or_init(|| (0..ENDS_CHUNK).map(|_| AtomicU64::new(0)).collect()))
    }

    /// Store the end of record `k` (nothing past [`MAX_SEGMENT_RECORDS`]).
    fn set(&self, k: u64, end: u64) {
        if let Some(chunk) = self.chunk(k) {
            chunk[k as usize % ENDS_CHUNK].store(end, Ordering::Relaxed);
        }
    }

    /// The end of record `k`, stored before a count above `k` was published.
    fn get(&self, k: u64) -> Option<u64> {
        if k >= self.limit {
            return None;
        }
        let (chunk, slot) = (k as usize / ENDS_CHUNK, k as usize % ENDS_CHUNK);
        let chunk = self.chunks.get(chunk)?.get()?;
        Some(chunk[slot].load(Ordering::Relaxed))
    }
}

/// The appender's handle on the active segment's [`RecordEnds`]: it keeps
/// the chunk being filled, so storing an end is a bounds check and a store
/// (no lookup of the chunk and of its `OnceLock` per record).
#[derive(Debug)]
pub(crate) struct EndsWriter {
    ends: Arc<RecordEnds>,
    /// The chunk of records `base ..`, None before the first store.
    chunk: Option<Chunk>,
    base: u64,
}

impl EndsWriter {
    /// Store the end of record `k` (nothing past [`MAX_SEGMENT_RECORDS`]).
    #[inline(always)]
    pub(crate) fn set(&mut self, k: u64, end: u64) {
        match &self.chunk {
            Some(chunk) if k.wrapping_sub(self.base) < ENDS_CHUNK as u64 => {
                chunk[(k - self.base) as usize].store(end, Ordering::Relaxed)
            }
            _ => self.set_in_next_chunk(k, end),
        }
    }

    /// Store the ends of records `k, k + 1, ..`: one check for a run that
    /// lies in the kept chunk, then only the stores.
    #[inline]
    pub(crate) fn set_run(&mut self, k: u64, ends: impl ExactSizeIterator<Item = u64>) {
        let from = k.wrapping_sub(self.base);
        match &self.chunk {
            Some(chunk) if from.saturating_add(ends.len() as u64) <= ENDS_CHUNK as u64 => {
                for (slot, end) in chunk[from as usize..].iter().zip(ends) {
                    slot.store(end, Ordering::Relaxed);
                }
            }
            _ => {
                for (j, end) in ends.enumerate() {
                    self.set(k + j as u64, end);
                }
            }
        }
    }

    /// [`EndsWriter::set`] for a record outside the kept chunk: keep its
    /// chunk from now on.
    #[cold]
    #[inline(never)]
    fn set_in_next_chunk(&mut self, k: u64, end: u64) {
        self.chunk = self.ends.chunk(k).cloned();
        self.base = k - k % ENDS_CHUNK as u64;
        self.ends.set(k, end);
    }
}

/// A segment file of a stream.
#[derive(Debug)]
pub struct Segment {
    id: u64,
    /// Index of the segment's first record (from its header).
    first_index: u64,
    /// The log restarts here: every earlier segment is dropped (from its
    /// header).
    resets_log: bool,
    /// Records in the segment readers may use: published after their ends
    /// and after the data end that covers them.
    count: AtomicU64,
    /// The lowest index readers may use: `first_index`, or above it once a
    /// purge dropped the segment's first records.
    floor: AtomicU64,
    /// The ends of the records, while the segment is written (and for the
    /// newest segment found by recovery, or a sealed one whose index footer
    /// could not be trusted); None for a sealed segment with a footer.
    ends: ArcSwapOption<RecordEnds>,
    /// Where the index footer's ends array starts (the end of the data), 0
    /// when the segment has no footer in use.
    footer_at: AtomicU64,
    /// The byte ranges truncation records dropped (each from the end of
    /// the last record a truncation kept to the end of its truncation
    /// record), in order and apart: readers skip them, and no ref into
    /// one reads. Replaced whole by a truncation (appender lock held).
    dropped: ArcSwap<Vec<(u64, u64)>>,
    /// Raised by each change of `dropped` (a truncation inside the
    /// segment, or ranges a footer or a scan found), so a reader that
    /// caches [`Segment::dropped_ranges`] knows to load them again.
    truncations: AtomicU64,
    /// `dropped` is not empty (a load of it is skipped on reads when not).
    any_dropped: AtomicBool,
    /// Created by this handle, in the current format version: truncations
    /// inside it write truncation records (a segment found at open may be
    /// of version 2, which has none).
    created_here: AtomicBool,
    expiration_ms: i64,
    window_start_ms: i64,
    path: PathBuf,
    /// Written under the appender lock, read by anyone: `pwrite` and
    /// `pread` take their offsets, so one descriptor serves both (a log
    /// holds one per segment).
    file: File,
    /// Readers may read `[SEGMENT_HEADER_SIZE, written_end)`. Advanced only
    /// after a whole append (or batch) is in the file, so a reader never sees
    /// half a batch.
    written_end: AtomicU64,
    /// CRC32C of the id, where every record CRC of this segment starts.
    crc_seed: u32,
    /// Every byte before this offset has been fdatasync'ed (a lower bound,
    /// only ever raised). Written into each record's frame as its
    /// `synced_end`, so recovery can tell writes lost from the unsynced tail
    /// from corruption of synced data.
    synced_end: AtomicU64,
    /// A group commit has synced this segment: durable appends go here, so
    /// pre-writing zeros ahead of them pays off.
    durable_use: AtomicBool,
}

impl Segment {
    /// Create a new segment file (never an existing one: `create_new`),
    /// write and fsync its header. The caller fsyncs the directory.
    pub(crate) fn create(
        dir: &Path,
        stream: &str,
        header: SegmentHeader,
        file_mode: u32,
    ) -> Result<Segment> {
        let path = dir.join(segment_file_name(
            stream,
            header.expiration_ms,
            header.segment_id,
        ));
        let file = sys::create_new(&path, file_mode)
            .map_err(|e| WalError::io(format!("creating segment {}", path.display()), e))?;
        let written = sys::pwritev_all(&file, &path, &[io::IoSlice::new(&header.encode())], 0)
            .and_then(|_| sys::fsync(&file, &path));
        if let Err(e) = written {
            // Nothing was handed out from this file; do not leave a torn header
            // behind for recovery to puzzle over.
            let _ = std::fs::remove_file(&path);
            return Err(WalError::io(
                format!("writing the header of segment {}", path.display()),
                e,
            ));
        }
        let seg = Self::from_parts(path, file, header, SEGMENT_HEADER_SIZE as u64)?;
        seg.track_ends();
        seg.created_here.store(true, Ordering::Relaxed);
        Ok(seg)
    }

    /// Wrap an existing, already verified segment file whose data ends at `end`.
    pub(crate) fn from_parts(
        path: PathBuf,
        file: File,
        header: SegmentHeader,
        end: u64,
    ) -> Result<Segment> {
        Ok(Segment {
            id: header.segment_id,
            first_index: header.first_index,
            resets_log: header.resets_log,
            count: AtomicU64::new(0),
            floor: AtomicU64::new(header.first_index),
            ends: ArcSwapOption::empty(),
            footer_at: AtomicU64::new(0),
            dropped: ArcSwap::from_pointee(Vec::new()),
            truncations: AtomicU64::new(0),
            any_dropped: AtomicBool::new(false),
            created_here: AtomicBool::new(false),
            crc_seed: crate::format::crc_seed(header.segment_id),
            expiration_ms: header.expiration_ms,
            window_start_ms: header.window_start_ms,
            path,
            file,
            written_end: AtomicU64::new(end),
            // Only the header is known durable until someone syncs (a new
            // segment's header is fsync'ed by `create`; recovery raises this
            // after its own fdatasync of the newest segment).
            synced_end: AtomicU64::new(SEGMENT_HEADER_SIZE as u64),
            durable_use: AtomicBool::new(false),
        })
    }

    /// The segment id (increasing in log order).
    pub fn id(&self) -> u64 {
        self.id
    }
    /// Index of the segment's first record.
    pub fn first_index(&self) -> u64 {
        self.first_index
    }
    /// Does the log restart here (every earlier segment dropped)?
    pub fn resets_log(&self) -> bool {
        self.resets_log
    }
    /// Records in the segment (published: each of them readable).
    pub fn record_count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
    /// Index of the segment's last record (`first_index() - 1` when empty).
    pub fn last_index(&self) -> u64 {
        self.first_index + self.record_count() - 1
    }
    /// The lowest index of the segment readers may use: its first index,
    /// or the first one a purge left.
    #[inline]
    pub fn first_live_index(&self) -> u64 {
        self.floor.load(Ordering::Acquire)
    }
    /// Does the segment hold record `index` (and may it be read)?
    #[inline]
    pub(crate) fn holds_index(&self, index: u64) -> bool {
        index >= self.first_live_index() && index - self.first_index < self.record_count()
    }
    /// Drop the records below `index` for readers (a purge).
    pub(crate) fn purge_below(&self, index: u64) {
        self.floor.fetch_max(index, Ordering::AcqRel);
    }

    /// Keep the ends of the records in memory from now on (a segment that
    /// takes appends, or the newest one after recovery).
    pub(crate) fn track_ends(&self) {
        self.ends.store(Some(Arc::new(RecordEnds::new())));
    }
    /// A writer of the ends kept in memory, for the appender to store into
    /// without a load of the swap cell per record.
    pub(crate) fn ends_writer(&self) -> Option<EndsWriter> {
        Some(EndsWriter {
            ends: self.ends.load_full()?,
            chunk: None,
            base: 0,
        })
    }

    /// Keep the ends of the records in memory from now on, starting with
    /// those of the records a scan found (`ends`, stored before their count
    /// is published): the newest segment after recovery, which may take
    /// appends. One store of the swap cell, not a load of it per record.
    pub(crate) fn track_ends_from(&self, ends: &[u64]) {
        let kept = RecordEnds::new();
        for (k, &end) in ends.iter().enumerate() {
            kept.set(k as u64, end);
        }
        self.ends.store(Some(Arc::new(kept)));
    }
    /// Publish the number of records, after their ends and after the data
    /// end covering them ([`Segment::publish_end`]).
    pub(crate) fn publish_count(&self, count: u64) {
        self.count.store(count, Ordering::Release);
    }
    /// The ends of the first `count` records, from memory (the writer's,
    /// before it seals the segment).
    pub(crate) fn ends_in_memory(&self, count: u64) -> Option<Vec<u64>> {
        let ends = self.ends.load();
        let ends = ends.as_ref()?;
        (0..count).map(|k| ends.get(k)).collect()
    }

    /// Look records up through the index footer whose ends array starts at
    /// `at` from now on, and drop the ends kept in memory.
    pub(crate) fn use_footer(&self, at: u64) {
        self.footer_at.store(at, Ordering::Release);
        self.ends.store(None);
    }

    /// Keep `ends` (a scan's) in memory for lookups by index.
    pub(crate) fn keep_ends(&self, ends: &[u64]) {
        let mut kept = RecordEnds::new();
        for (k, &end) in ends.iter().enumerate() {
            kept.set(k as u64, end);
        }
        kept.limit = ends.len() as u64;
        self.ends.store(Some(Arc::new(kept)));
        self.footer_at.store(0, Ordering::Release);
    }

    /// Does a lookup by index go through the footer (not memory)?
    pub(crate) fn looks_up_in_footer(&self) -> bool {
        self.ends.load().is_none() && self.footer_at.load(Ordering::Acquire) != 0
    }

    /// The `(offset, end)` of the records `index .. index + n` (fewer at the
    /// end of the segment or of what is known): from memory, or with one
    /// small positional read of the footer.
    pub(crate) fn spans(&self, index: u64, n: u64) -> io::Result<Vec<(u64, u64)>> {
        if !self.holds_index(index) || n == 0 {
            return Ok(Vec::new());
        }
        let k = index - self.first_index;
        let n = n.min(self.record_count() - k);
        let mut ends = Vec::with_capacity(n as usize + 1);
        if let Some(mem) = &*self.ends.load() {
            let from = k.checked_sub(1);
            for j in from.unwrap_or(0)..k + n {
                match mem.get(j) {
                    Some(e) => ends.push(e),
                    None => break,
                }
            }
            if from.is_none() {
                ends.insert(0, SEGMENT_HEADER_SIZE as u64);
            }
        } else {
            let at = self.footer_at.load(Ordering::Acquire);
            if at == 0 {
                return Ok(Vec::new());
            }
            let from = k.saturating_sub(1);
            let mut buf = vec![0u8; ((k + n - from) * 8) as usize];
            self.read_exact_at(&mut buf, at + from * 8)?;
            if k == 0 {
                ends.push(SEGMENT_HEADER_SIZE as u64);
            }
            ends.extend(
                buf.chunks_exact(8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap())),
            );
        }
        if !self.any_dropped.load(Ordering::Acquire) {
            return Ok(ends.windows(2).map(|w| (w[0], w[1])).collect());
        }
        let d = self.dropped.load();
        Ok(ends
            .windows(2)
            .map(|w| (past_dropped(&d, w[0]), w[1]))
            .collect())
    }

    /// Where record `k` of the segment ends, from memory or with one small
    /// read of the index footer. `None` when neither knows it.
    pub(crate) fn end_of_record(&self, k: u64) -> io::Result<Option<u64>> {
        if let Some(mem) = &*self.ends.load() {
            return Ok(mem.get(k));
        }
        let at = self.footer_at.load(Ordering::Acquire);
        if at == 0 {
            return Ok(None);
        }
        let mut b = [0u8; 8];
        self.read_exact_at(&mut b, at + k * 8)?;
        Ok(Some(u64::from_le_bytes(b)))
    }

    /// May a truncation inside this segment write a truncation record?
    pub(crate) fn takes_truncation_records(&self) -> bool {
        self.created_here.load(Ordering::Relaxed)
    }

    /// The byte ranges dropped by truncation records, in order.
    #[inline]
    pub(crate) fn dropped_ranges(&self) -> Arc<Vec<(u64, u64)>> {
        self.dropped.load_full()
    }

    /// How many times the dropped ranges changed (see `truncations`).
    #[inline]
    pub(crate) fn truncations(&self) -> u64 {
        self.truncations.load(Ordering::Acquire)
    }

    /// Does `offset` lie in a dropped range (a ref there is not a record
    /// of the log)?
    #[inline]
    pub(crate) fn is_dropped(&self, offset: u64) -> bool {
        self.any_dropped.load(Ordering::Acquire)
            && self
                .dropped
                .load()
                .iter()
                .any(|&(s, e)| (s..e).contains(&offset))
    }

    /// Take the dropped ranges a footer or a scan found (a sealed segment,
    /// or the newest one at open).
    pub(crate) fn set_dropped(&self, ranges: Vec<(u64, u64)>) {
        let any = !ranges.is_empty();
        self.dropped.store(Arc::new(ranges));
        self.any_dropped.store(any, Ordering::Release);
        self.truncations.fetch_add(1, Ordering::AcqRel);
    }

    /// A truncation inside the segment (appender lock held): keep its first
    /// `count` records and drop `range` (from their end to the end of the
    /// truncation record; it covers every earlier range that starts inside
    /// it). The count is lowered before the ranges change, so a reader
    /// that sees the new ranges sees the new count too.
    pub(crate) fn truncate_within(&self, count: u64, range: (u64, u64)) {
        self.count.store(count, Ordering::Release);
        let mut ranges = Vec::clone(&self.dropped.load());
        add_dropped(&mut ranges, range);
        self.dropped.store(Arc::new(ranges));
        self.any_dropped.store(true, Ordering::Release);
        self.truncations.fetch_add(1, Ordering::AcqRel);
    }

    /// Keep only the first `count` records, which end at `end` (a
    /// truncation: the later ones are dropped by a successor segment that
    /// starts at their index). The count is lowered before the end, so a
    /// reader that sees the old end sees the new count and reports a
    /// dropped record as not found.
    pub(crate) fn cut(&self, count: u64, end: u64) {
        self.count.store(count, Ordering::Release);
        self.written_end.store(end, Ordering::Release);
    }

    /// Where the first `count` records end, from the ends kept in memory
    /// (the active segment's; for a segment without them in memory, its
    /// data end), not past any dropped range.
    pub(crate) fn records_end_raw(&self, count: u64) -> u64 {
        if count == 0 {
            return SEGMENT_HEADER_SIZE as u64;
        }
        let ends = self.ends.load();
        ends.as_ref()
            .and_then(|e| e.get(count - 1))
            .unwrap_or_else(|| self.len())
    }

    /// Where the first `count` records end (published ones: their ends are
    /// stored; for a segment without them in memory, its data end), past
    /// the dropped range that starts there if one does (the truncation
    /// record that ends it is written: a sync up to here covers it).
    pub(crate) fn records_end(&self, count: u64) -> u64 {
        let end = self.records_end_raw(count);
        if !self.any_dropped.load(Ordering::Acquire) {
            return end;
        }
        past_dropped(&self.dropped.load(), end)
    }

    /// The CRC seed of this segment's records (`format::crc_seed(id)`).
    pub(crate) fn crc_seed(&self) -> u32 {
        self.crc_seed
    }
    /// When `cleanup` may delete this segment (ms since the Unix epoch).
    pub fn expiration_ms(&self) -> i64 {
        self.expiration_ms
    }
    /// Start of the clock-aligned window the segment was created for.
    pub fn window_start_ms(&self) -> i64 {
        self.window_start_ms
    }
    /// Path of the segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// End of the readable data (file header included): the offset the next
    /// record will get while the segment is active, its final size once sealed.
    pub fn len(&self) -> u64 {
        self.written_end.load(Ordering::Acquire)
    }
    /// True when the segment holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() <= SEGMENT_HEADER_SIZE as u64
    }

    /// Publish a new end after a complete write (appender lock held).
    pub(crate) fn publish_end(&self, end: u64) {
        self.written_end.store(end, Ordering::Release);
    }

    /// fdatasync the segment.
    pub(crate) fn sync_data(&self) -> io::Result<()> {
        sys::fdatasync(&self.file, &self.path)
    }

    /// The durable watermark: every byte before it is on stable storage.
    pub(crate) fn synced_end(&self) -> u64 {
        self.synced_end.load(Ordering::Acquire)
    }

    /// Raise the durable watermark after an fdatasync that started once the
    /// bytes up to `end` were written.
    pub(crate) fn mark_synced(&self, end: u64) {
        self.synced_end.fetch_max(end, Ordering::AcqRel);
    }

    /// Note that a group commit synced this segment for durable appends.
    pub(crate) fn mark_durable_use(&self) {
        self.durable_use.store(true, Ordering::Relaxed);
    }

    /// Has a group commit synced this segment?
    pub(crate) fn has_durable_use(&self) -> bool {
        self.durable_use.load(Ordering::Relaxed)
    }

    /// fsync the segment (data and metadata: after its length was cut).
    pub(crate) fn sync_all(&self) -> io::Result<()> {
        sys::fsync(&self.file, &self.path)
    }

    /// Positional vectored write of a whole append at `offset` (appender lock held).
    pub(crate) fn write_at(&self, bufs: &[io::IoSlice<'_>], offset: u64) -> io::Result<u64> {
        sys::pwritev_all(&self.file, &self.path, bufs, offset)
    }

    /// Cut the file back to `len` (after a failed write, or a torn tail).
    pub(crate) fn truncate(&self, len: u64) -> io::Result<()> {
        sys::truncate(&self.file, &self.path, len)
    }

    /// Positional read of exactly `buf.len()` bytes at `offset` (the segment's one fd).
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        sys::read_exact_at(&self.file, &self.path, buf, offset)
    }

    /// Size of the file on disk (fstat), for cleanup's accounting.
    pub(crate) fn file_size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Positional read of exactly `len` bytes at `offset`,
    /// appended to `buf` (which is not zero-filled first).
    pub(crate) fn read_append(&self, buf: &mut Vec<u8>, len: usize, offset: u64) -> io::Result<()> {
        sys::pread_exact_append(&self.file, &self.path, buf, len, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ends_writer_stores_every_end_across_chunks_in_runs_and_one_by_one() {
        let ends = Arc::new(RecordEnds::new());
        let mut w = EndsWriter {
            ends: ends.clone(),
            chunk: None,
            base: 0,
        };
        let end_of = |k: u64| 1000 + 7 * k;
        // Runs of 1, 2, 3, ... records: some start in one chunk and end in
        // the next; lone stores in between.
        let (mut k, mut len) = (0u64, 1u64);
        let total = 3 * ENDS_CHUNK as u64 + 17;
        while k < total {
            let n = len.min(total - k);
            if len % 5 == 0 {
                for j in k..k + n {
                    w.set(j, end_of(j));
                }
            } else {
                let run: Vec<u64> = (k..k + n).map(end_of).collect();
                w.set_run(k, run.into_iter());
            }
            k += n;
            len = len % 300 + 1;
        }
        for k in 0..total {
            assert_eq!(ends.get(k), Some(end_of(k)), "record {k}");
        }
        let used = ends.chunks.iter().filter(|c| c.get().is_some()).count();
        assert_eq!(used, 4, "a chunk per 4,096 records, allocated as needed");
        // Past the cap nothing is stored, and nothing breaks.
        w.set_run(MAX_SEGMENT_RECORDS - 1, [1u64, 2, 3].into_iter());
        w.set(MAX_SEGMENT_RECORDS, 9);
        assert_eq!(ends.get(MAX_SEGMENT_RECORDS - 1), Some(1));
        assert_eq!(ends.get(MAX_SEGMENT_RECORDS), None);
    }
}

// SPDX-License-Identifier: MIT
//! Replay: every record of the stream in log order, read in large chunks.

use crate::error::{Result, WalError};
use crate::format::{RECORD_FRAME_SIZE, SEGMENT_HEADER_SIZE};
use crate::record::{EntryRef, Record, RecordView};
use crate::scan::{ScanStop, ScannedRecord, Scanner};
use crate::segment::{Segment, SegmentMap};
use crate::wal::{Inner, Wal};
use std::ops::Bound;
use std::sync::Arc;

/// Iterator over `(EntryRef, Record)` in log order, from [`Wal::replay`].
///
/// It yields an error at the first record that does not verify (it never
/// skips silently) and then ends. It follows the log as it grows: segments
/// created while it runs are visited too, and it ends at the written end of
/// the newest segment. Records are slices of the chunk they were read with.
///
/// [`Replay::next_ref`] is the same walk with each record borrowed from the
/// chunk instead of reference-counted: the way to replay a log of small
/// records fast.
pub struct Replay {
    source: Source,
    scanner: Option<Scanner>,
    /// When replaying from a ref, the first record must be exactly that ref.
    expect_first: Option<EntryRef>,
    /// The last record yielded has `BATCH_CONTINUES` set: the rest of its
    /// batch must follow in the same segment.
    in_batch: bool,
    /// The last index the scanned segment holds: a sealed segment's count
    /// is authoritative, a record past it is not part of the log.
    last: u64,
    /// Started at the end of a log with no segment: the first segment
    /// created is replayed from its start.
    wait_for_first: bool,
    /// Started at the end of the log: at the end it returns `None` and
    /// stays there, to yield the records appended later.
    follow: bool,
    /// The records of the last [`Replay::next_batch`] (kept for its memory).
    batch: Vec<(EntryRef, ScannedRecord)>,
}

/// The most records [`Replay::next_batch`] makes room for at once (a larger
/// batch grows its list as it fills).
const MAX_BATCH_RESERVE: usize = 4096;

/// Records of one [`Replay::next_batch`], borrowed from the replay's read
/// buffer: valid until the replay's next call.
pub struct ReplayBatch<'a> {
    scanner: &'a Scanner,
    items: &'a [(EntryRef, ScannedRecord)],
}

impl<'a> ReplayBatch<'a> {
    /// Number of records (at least 1).
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Never true: a batch holds at least one record.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `i`-th record and its ref.
    #[inline]
    pub fn get(&self, i: usize) -> Option<(EntryRef, RecordView<'a>)> {
        let (entry, rec) = self.items.get(i)?;
        Some((*entry, self.scanner.record_view(rec)))
    }

    /// The records and their refs, in log order.
    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (EntryRef, RecordView<'a>)> + '_ {
        let scanner = self.scanner;
        self.items
            .iter()
            .map(move |(entry, rec)| (*entry, scanner.record_view(rec)))
    }
}

/// The last index `seg` holds for a replay: a segment with a successor in
/// `registry` is sealed and holds its count of records; the newest grows.
fn last_of(registry: &SegmentMap, seg: &Segment) -> u64 {
    match registry.range(seg.id() + 1..).next() {
        Some(_) => seg.last_index(),
        None => u64::MAX,
    }
}

/// Where the segments come from: a live log (whose registry grows and
/// shrinks while the replay runs) or a fixed read-only view.
pub(crate) enum Source {
    Live(Arc<Inner>),
    Fixed(Arc<SegmentMap>),
}

impl Source {
    fn registry(&self) -> Arc<SegmentMap> {
        match self {
            Source::Live(inner) => inner.segments.snapshot_arc(),
            Source::Fixed(map) => map.clone(),
        }
    }
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("segment", &self.scanner.as_ref().map(|s| s.segment().id()))
            .field("position", &self.scanner.as_ref().map(|s| s.position()))
            .finish()
    }
}

impl Wal {
    /// Replay from the record of index `index` (inclusive) on, as
    /// [`Wal::replay`] from its ref. `index` may be one past the last index:
    /// that replay follows the log (at its end `next` returns `None`, and
    /// later the records appended since), where others end for good.
    /// `IndexNotFound` below the first index or further out.
    pub fn replay_from_index(&self, index: u64) -> Result<Replay> {
        let inner = &*self.inner;
        let segments = inner.segments.ordered();
        let (first, last) = crate::read::index_bounds(&segments, inner.config.first_index);
        if index < first || index > last.saturating_add(1) {
            return Err(WalError::IndexNotFound { index, first, last });
        }
        let source = Source::Live(self.inner.clone());
        if index <= last {
            let mut buf = crate::read::ReadBuf::new();
            let map = inner.segments.snapshot();
            let from = (index, inner.config.first_index);
            let refs = crate::read::read_range_into(&map, &segments, from, 1, 0, &mut buf)?;
            return Replay::start(source, refs.first().copied());
        }
        Ok(Replay::at_end(source, segments.last().cloned(), index))
    }

    /// Replay the stream in log order, from the first record, or from `from`
    /// (inclusive) to replay since a checkpoint. `from` must be the ref of a
    /// live record: an unknown segment gives `SegmentNotFound`, a range past
    /// the written end `InvalidArgument`, and the iterator's first item is
    /// `CorruptedData` if `from` is not exactly a record.
    ///
    /// A `cleanup` running meanwhile does not break a replay: the segment
    /// being read is finished (the replay holds it open), and segments
    /// deleted before the replay reaches them are passed over without an
    /// error (`nwal_iter_open` in include/nano_wal.h says the same).
    pub fn replay(&self, from: Option<EntryRef>) -> Result<Replay> {
        // After a purge inside the first segment, its first records are
        // not part of the log: start at the first index left.
        let purged_first =
            self.inner.segments.ordered().first().and_then(|s| {
                (s.first_live_index() > s.first_index()).then(|| s.first_live_index())
            });
        match (from, purged_first) {
            (None, Some(first)) => self.replay_from_index(first),
            _ => Replay::start(Source::Live(self.inner.clone()), from),
        }
    }
}

impl Replay {
    /// A replay at the end of the log (the next record gets `index`), which
    /// yields the records appended from now on.
    fn at_end(source: Source, newest: Option<Arc<Segment>>, index: u64) -> Replay {
        let registry = source.registry();
        let scanner = newest.map(|seg| {
            // The end of the counted records: a record being appended is
            // past it, and is yielded when it is complete.
            let end = seg.records_end(index - seg.first_index());
            Scanner::new(seg, end, end, index)
        });
        let last = scanner
            .as_ref()
            .map_or(u64::MAX, |s| last_of(&registry, s.segment()));
        Replay {
            follow: true,
            wait_for_first: scanner.is_none(),
            source,
            scanner,
            expect_first: None,
            in_batch: false,
            last,
            batch: Vec::new(),
        }
    }

    pub(crate) fn start(source: Source, from: Option<EntryRef>) -> Result<Replay> {
        let registry = source.registry();
        let (scanner, expect_first) = match from {
            None => (
                registry.values().next().map(|s| {
                    let first = s.first_index();
                    Scanner::new(s.clone(), SEGMENT_HEADER_SIZE as u64, s.len(), first)
                }),
                None,
            ),
            Some(r) => {
                let seg = registry
                    .get(&r.segment_id)
                    .ok_or(WalError::SegmentNotFound(r.segment_id))?;
                // The index first, as reads by ref check it: a truncation
                // lowers the count before the end.
                let end = seg.len();
                if !seg.holds_index(r.index) || seg.is_dropped(r.offset) {
                    return Err(WalError::IndexNotFound {
                        index: r.index,
                        first: seg.first_index(),
                        last: seg.last_index(),
                    });
                }
                if r.size == 0 || r.offset.checked_add(r.size).is_none_or(|e| e > end) {
                    return Err(WalError::InvalidArgument(format!(
                        "replay start (segment {}, offset {}, size {}) is not inside the segment's written data (end {end})",
                        r.segment_id, r.offset, r.size
                    )));
                }
                if r.offset < SEGMENT_HEADER_SIZE as u64 || r.size < RECORD_FRAME_SIZE as u64 {
                    return Err(WalError::corrupted(
                        r.segment_id,
                        r.offset,
                        "replay start cannot be a record (inside the segment header or shorter than a frame)",
                    ));
                }
                (
                    Some(Scanner::new(seg.clone(), r.offset, end, r.index)),
                    Some(r),
                )
            }
        };
        let last = scanner
            .as_ref()
            .map_or(u64::MAX, |s| last_of(&registry, s.segment()));
        Ok(Replay {
            source,
            scanner,
            expect_first,
            in_batch: false,
            last,
            wait_for_first: false,
            follow: false,
            batch: Vec::new(),
        })
    }
}

impl Iterator for Replay {
    type Item = Result<(EntryRef, Record)>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (entry, rec) = match self.advance()? {
            Ok(found) => found,
            Err(e) => return Some(Err(e)),
        };
        let scanner = self.scanner.as_ref()?;
        Some(Ok((entry, scanner.record(&rec))))
    }
}

impl Replay {
    /// The next record, as [`Iterator::next`] gives it (same order, same
    /// errors), but borrowed from the replay's read buffer: valid until the
    /// next call. No reference count is taken per record.
    ///
    /// ```
    /// # use nano_wal::{Wal, WalOptions};
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let wal = Wal::new(tmp.path(), "s", WalOptions::default()).unwrap();
    /// # wal.append(None, b"a", 1711234567890, false).unwrap();
    /// let mut replay = wal.replay(None).unwrap();
    /// let mut total = 0;
    /// while let Some(item) = replay.next_ref() {
    ///     let (_entry_ref, record) = item.unwrap();
    ///     total += record.content.len();
    /// }
    /// assert_eq!(total, 1);
    /// ```
    #[inline]
    pub fn next_ref(&mut self) -> Option<Result<(EntryRef, RecordView<'_>)>> {
        let (entry, rec) = match self.advance()? {
            Ok(found) => found,
            Err(e) => return Some(Err(e)),
        };
        let scanner = self.scanner.as_ref()?;
        Some(Ok((entry, scanner.record_view(&rec))))
    }

    /// The next records, up to `max` (at least one; 0 is taken as 1), in
    /// the order and with the errors of [`Replay::next_ref`], borrowed from
    /// the replay's read buffer: valid until the next call. A batch ends
    /// early where the buffer does (records are read in chunks of about
    /// 1 MiB) and before anything `next_ref` would stop at; the next call
    /// goes on from there. The way to hand many small records across a
    /// language boundary in one call.
    ///
    /// ```
    /// # use nano_wal::{Wal, WalOptions};
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let wal = Wal::new(tmp.path(), "s", WalOptions::default()).unwrap();
    /// # for r in [b"a", b"b", b"c"] { wal.append(None, r, 1711234567890, false).unwrap(); }
    /// let mut replay = wal.replay(None).unwrap();
    /// let mut seen = Vec::new();
    /// while let Some(batch) = replay.next_batch(2) {
    ///     for (entry_ref, record) in batch.unwrap().iter() {
    ///         seen.push((entry_ref.index, record.content.to_vec()));
    ///     }
    /// }
    /// assert_eq!(seen, [(1, b"a".to_vec()), (2, b"b".to_vec()), (3, b"c".to_vec())]);
    /// ```
    pub fn next_batch(&mut self, max: usize) -> Option<Result<ReplayBatch<'_>>> {
        self.batch.clear();
        // Grown once to the size asked (up to a bound), not doubling.
        self.batch.reserve(max.clamp(1, MAX_BATCH_RESERVE));
        match self.advance()? {
            Ok(first) => self.batch.push(first),
            Err(e) => return Some(Err(e)),
        }
        let scanner = self.scanner.as_mut()?;
        let segment_id = scanner.segment().id();
        // Past `last` is an error `advance` reports; stop before it.
        while self.batch.len() < max && scanner.index() <= self.last {
            let Some(rec) = scanner.next_record_in_chunk() else {
                break;
            };
            self.in_batch = rec.frame.batch_continues();
            let entry = EntryRef {
                segment_id,
                offset: rec.offset,
                size: rec.frame.total_size(),
                index: rec.index,
            };
            self.batch.push((entry, rec));
        }
        Some(Ok(ReplayBatch {
            scanner: self.scanner.as_ref()?,
            items: &self.batch,
        }))
    }

    /// Move to the next record: its ref and where it lies in the scanner's
    /// chunk, or the error that ends the replay (the scanner is then gone).
    ///
    /// Inlined into `next` and `next_ref` for the reason
    /// [`Scanner::next_record`] is: the record stays in registers.
    #[inline(always)]
    fn advance(&mut self) -> Option<Result<(EntryRef, ScannedRecord)>> {
        loop {
            if self.wait_for_first && self.scanner.is_none() {
                self.start_first_segment()?;
            }
            let scanner = self.scanner.as_mut()?;
            let seg_id = scanner.segment().id();
            match scanner.next_record() {
                Ok(Some(rec)) => {
                    let entry = EntryRef {
                        segment_id: seg_id,
                        offset: rec.offset,
                        size: rec.frame.total_size(),
                        index: rec.index,
                    };
                    if rec.index > self.last {
                        self.scanner = None;
                        return Some(Err(past_last(entry, self.last)));
                    }
                    if let Some(expected) = self.expect_first.take() {
                        if expected != entry {
                            self.scanner = None;
                            return Some(Err(WalError::corrupted(
                                seg_id,
                                expected.offset,
                                format!(
                                    "replay start has size {} but the record there is {} bytes",
                                    expected.size, entry.size
                                ),
                            )));
                        }
                    }
                    self.in_batch = rec.frame.batch_continues();
                    return Some(Ok((entry, rec)));
                }
                Ok(None) => {
                    // Look for a successor first, then re-read the end: a segment
                    // is sealed (its end final) before its successor is published.
                    let registry = self.source.registry();
                    let next = registry
                        .range((Bound::Excluded(seg_id), Bound::Unbounded))
                        .next()
                        .map(|(_, s)| s.clone());
                    let end = scanner.segment().len();
                    if end > scanner.position() {
                        scanner.extend_end(end);
                        continue;
                    }
                    // A batch never spans segments, and a segment's end is
                    // only ever published (or recovered) at a batch boundary.
                    // So a segment that ends after a record with
                    // BATCH_CONTINUES was damaged (e.g. a sealed segment cut
                    // at a record boundary): the rest of the batch is lost.
                    // Say so instead of moving on as if the batch were whole
                    // (found while writing the oracle of the recovery fuzz target,
                    // tests/fuzzing/mod.rs).
                    if next.is_none() && self.follow {
                        return None;
                    }
                    // A truncation may cut a batch: the segment then holds
                    // no index past the last record read, and its end is
                    // where its records end.
                    if self.in_batch && scanner.index() <= scanner.segment().last_index() {
                        let offset = scanner.position();
                        self.scanner = None;
                        return Some(Err(WalError::corrupted(
                            seg_id,
                            offset,
                            "the segment ends inside a batch (its last record says more \
                             records of the batch follow): the rest of the batch is lost",
                        )));
                    }
                    // A truncation or reset dropped records the replay was
                    // at or had read (it reads ahead in chunks): it ends
                    // rather than go on at another index.
                    if let Some(next) = next.as_ref() {
                        let at = scanner.index();
                        if next.first_index() < at || next.resets_log() && next.first_index() != at
                        {
                            self.scanner = None;
                            return Some(Err(dropped_under_replay(at, next)));
                        }
                    }
                    // Its successor (not one after segments cleanup deleted
                    // under the replay) starts where its indexes end.
                    if let Some(next) = next.as_ref().filter(|n| n.id() == seg_id + 1) {
                        if next.first_index() != scanner.index() {
                            let offset = scanner.position();
                            let (have, want) = (scanner.index(), next.first_index());
                            self.scanner = None;
                            return Some(Err(WalError::corrupted(
                                seg_id,
                                offset,
                                format!(
                                    "the segment ends before index {have}, but the next \
                                     segment starts at index {want}"
                                ),
                            )));
                        }
                    }
                    self.last = next.as_ref().map_or(u64::MAX, |s| last_of(&registry, s));
                    self.scanner = next.map(|s| {
                        let first = s.first_index();
                        Scanner::new(s.clone(), SEGMENT_HEADER_SIZE as u64, s.len(), first)
                    });
                }
                Err(ScanStop::Invalid { offset, detail }) => {
                    // A read-only view sees the newest segment's whole file:
                    // zeros after its last record are preallocated space.
                    if let Source::Fixed(map) = &self.source {
                        let newest = map.keys().next_back() == Some(&seg_id);
                        let seg = scanner.segment().clone();
                        match crate::scan::zeros_to_end(&seg, offset, seg.len()) {
                            Ok(true) if newest && !self.in_batch => {
                                self.scanner = None;
                                return None;
                            }
                            Ok(_) => {}
                            Err(error) => {
                                self.scanner = None;
                                return Some(Err(WalError::io(
                                    format!("reading segment {seg_id} at offset {offset}"),
                                    error,
                                )));
                            }
                        }
                    }
                    self.scanner = None;
                    return Some(Err(WalError::corrupted(seg_id, offset, detail)));
                }
                Err(ScanStop::Io { offset, error }) => {
                    self.scanner = None;
                    return Some(Err(WalError::io(
                        format!("reading segment {seg_id} at offset {offset}"),
                        error,
                    )));
                }
                // A truncation inside the segment dropped records the
                // replay had read (it reads ahead): it ends rather than go
                // on at another index.
                Err(ScanStop::Dropped) => {
                    let seg = scanner.segment().clone();
                    let at = scanner.index();
                    self.scanner = None;
                    return Some(Err(dropped_under_replay(at, &seg)));
                }
            }
        }
    }
}

impl Replay {
    /// Start on the first segment, once there is one (out of line: only a
    /// replay started at the end of an empty log gets here).
    #[cold]
    #[inline(never)]
    fn start_first_segment(&mut self) -> Option<()> {
        let registry = self.source.registry();
        let seg = registry.values().next()?.clone();
        self.wait_for_first = false;
        self.last = last_of(&registry, &seg);
        let first = seg.first_index();
        self.scanner = Some(Scanner::new(
            seg.clone(),
            SEGMENT_HEADER_SIZE as u64,
            seg.len(),
            first,
        ));
        Some(())
    }
}

/// The error of a replay at index `at` whose records a truncation or reset
/// dropped; the log goes on in `next` (the segment that says so, or the
/// truncated one itself).
#[cold]
#[inline(never)]
fn dropped_under_replay(at: u64, next: &Segment) -> WalError {
    WalError::IndexNotFound {
        index: at,
        first: next.first_index(),
        last: next.last_index(),
    }
}

/// The error of a record found past the last index of its sealed segment.
#[cold]
#[inline(never)]
fn past_last(entry: EntryRef, last: u64) -> WalError {
    WalError::corrupted(
        entry.segment_id,
        entry.offset,
        format!(
            "record of index {} lies past the segment's last index {last} (the next segment \
             starts at index {})",
            entry.index,
            last + 1
        ),
    )
}

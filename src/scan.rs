// SPDX-License-Identifier: MIT
//! Sequential reading of a segment's records in large chunks: shared by
//! recovery (find the valid end of the newest segment) and replay.

use crate::format::{
    frame_fault, record_fault, well_formed_frame, Frame, Position, RECORD_FRAME_SIZE,
};
use crate::record::{Record, RecordView};
use crate::segment::Segment;
use bytes::Bytes;
use std::io;
use std::ops::Range;
use std::sync::Arc;

/// Bytes read per positional read when scanning (a record larger than this
/// is read whole). 1 MiB replays as fast as 4 MiB did here (it stays in
/// the L2 cache while it is checked and handed out) and holds a quarter of
/// the memory: peak RSS of opening and replaying 1 GiB went from 8.6 to
/// 2.7 MiB above the bare process (bench, memory table).
pub(crate) const SCAN_CHUNK: u64 = 1 << 20;

/// A record found by a scan: its offset and its frame (verified: the whole
/// record is in the scanner's current chunk, see [`Scanner::record`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScannedRecord {
    pub offset: u64,
    pub index: u64,
    pub frame: Frame,
    /// Where the record starts in the scanner's chunk.
    at: usize,
}

/// Why a scan stopped before `end`.
#[derive(Debug)]
pub(crate) enum ScanStop {
    /// The bytes at `offset` are not a valid record (`detail` says why).
    Invalid { offset: u64, detail: String },
    /// Reading failed.
    Io { offset: u64, error: io::Error },
    /// A truncation dropped the bytes the scan is in (it read past the
    /// start of their range before the truncation): the records it gave
    /// from there on are not in the log any more. Readers only.
    Dropped,
}

/// Reads records of `segment` from `pos` (the record with index `index`)
/// up to `end`.
///
/// A reader's scan (`new`) passes over the byte ranges truncation records
/// dropped, as the segment lists them; a recovery scan (`raw`) meets the
/// truncation records themselves, applies each to the index of the next
/// record, and returns it for the caller to drop what it drops.
pub(crate) struct Scanner {
    segment: Arc<Segment>,
    pos: u64,
    /// The index of the record at `pos`.
    index: u64,
    end: u64,
    chunk: Bytes,
    chunk_start: u64,
    /// Recovery: truncation records are returned, not skipped.
    raw: bool,
    /// The segment's dropped ranges as last loaded, and its count of
    /// truncations then.
    dropped: Arc<Vec<(u64, u64)>>,
    truncations: u64,
    /// Start of the first dropped range at or after `pos` (`u64::MAX`:
    /// none), so the hot loop pays one comparison per record.
    next_drop: u64,
    /// The last record returned says more of its batch follow.
    in_batch: bool,
}

impl Scanner {
    pub fn new(segment: Arc<Segment>, pos: u64, end: u64, index: u64) -> Self {
        let mut s = Scanner::raw(segment, pos, end, index);
        s.raw = false;
        // No count the segment can have: the first load takes its ranges.
        s.truncations = u64::MAX;
        s.load_dropped();
        s
    }

    /// A recovery scan: it returns truncation records (see [`Scanner`]).
    pub fn raw(segment: Arc<Segment>, pos: u64, end: u64, index: u64) -> Self {
        Scanner {
            segment,
            pos,
            index,
            end,
            chunk: Bytes::new(),
            chunk_start: pos,
            raw: true,
            dropped: Arc::new(Vec::new()),
            truncations: 0,
            next_drop: u64::MAX,
            in_batch: false,
        }
    }

    /// Load the segment's dropped ranges if they changed since.
    fn load_dropped(&mut self) {
        let truncations = self.segment.truncations();
        if truncations != self.truncations {
            self.truncations = truncations;
            self.dropped = self.segment.dropped_ranges();
        }
        self.next_drop = self
            .dropped
            .iter()
            .find(|r| r.1 > self.pos)
            .map_or(u64::MAX, |r| r.0);
    }

    /// At or past `next_drop`: pass over the dropped range that starts at
    /// the position, or say the scan is inside one (out of line: a
    /// truncated segment only).
    #[cold]
    #[inline(never)]
    fn pass_dropped(&mut self) -> Result<(), ScanStop> {
        self.load_dropped();
        if let Some(&(start, end)) = self.dropped.iter().find(|r| r.1 > self.pos) {
            if start == self.pos {
                self.pos = end;
            } else if start < self.pos {
                return Err(ScanStop::Dropped);
            }
        }
        self.load_dropped();
        Ok(())
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The index of the next record.
    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn segment(&self) -> &Arc<Segment> {
        &self.segment
    }

    /// Let the scan run to a new end (the segment grew), with the dropped
    /// ranges as they are now.
    pub fn extend_end(&mut self, end: u64) {
        self.end = self.end.max(end);
        if !self.raw {
            self.load_dropped();
        }
    }

    /// Make `[self.pos, self.pos + need)` available in the chunk.
    fn ensure(&mut self, need: u64) -> io::Result<()> {
        let have_from = self.pos - self.chunk_start;
        if self.pos >= self.chunk_start && have_from + need <= self.chunk.len() as u64 {
            return Ok(());
        }
        let len = need.max(SCAN_CHUNK).min(self.end - self.pos);
        let mut buf = Vec::new();
        self.segment.read_append(&mut buf, len as usize, self.pos)?;
        self.chunk = Bytes::from(buf);
        self.chunk_start = self.pos;
        Ok(())
    }

    /// `len` bytes of the chunk from the current position.
    fn here(&self, len: u64) -> &[u8] {
        let from = (self.pos - self.chunk_start) as usize;
        &self.chunk[from..from + len as usize]
    }

    /// Where the header (if any) and the content of `rec` lie in the chunk.
    fn ranges(rec: &ScannedRecord) -> (Option<Range<usize>>, Range<usize>) {
        let body = rec.at + RECORD_FRAME_SIZE + rec.frame.header_len;
        let end = rec.at + rec.frame.total_size() as usize;
        let header = rec
            .frame
            .has_header()
            .then_some(rec.at + RECORD_FRAME_SIZE..body);
        (header, body..end)
    }

    /// The header and content of `rec`, the record [`Scanner::next_record`]
    /// returned last, as slices of the chunk they were read with (one
    /// reference count per slice, no copy).
    pub fn record(&self, rec: &ScannedRecord) -> Record {
        let (header, content) = Self::ranges(rec);
        Record {
            header: header.map(|h| self.chunk.slice(h)),
            content: self.chunk.slice(content),
        }
    }

    /// The header and content of `rec` (as [`Scanner::record`]), borrowed
    /// from the chunk: no reference count, valid until the next scan step.
    pub fn record_view(&self, rec: &ScannedRecord) -> RecordView<'_> {
        let (header, content) = Self::ranges(rec);
        RecordView {
            header: header.map(|h| &self.chunk[h]),
            content: &self.chunk[content],
        }
    }

    /// The next record, `Ok(None)` at `end`, or why the scan cannot go on.
    /// After an error the position stays at the bad record.
    ///
    /// Always inlined into the replay and recovery loops: as a call, its
    /// `Result<Option<ScannedRecord>, _>` went through the stack and the
    /// caller's wider load of it stalled on store forwarding, per record.
    #[inline(always)]
    pub fn next_record(&mut self) -> Result<Option<ScannedRecord>, ScanStop> {
        if self.pos >= self.next_drop {
            self.pass_dropped()?;
        }
        if self.pos >= self.end {
            return Ok(None);
        }
        let offset = self.pos;
        let left = self.end - self.pos;
        if left < RECORD_FRAME_SIZE as u64 {
            return Err(ScanStop::Invalid {
                offset,
                detail: format!("{left} trailing bytes, too short for a record frame"),
            });
        }
        self.ensure(RECORD_FRAME_SIZE as u64)
            .map_err(|error| ScanStop::Io { offset, error })?;
        let Some(frame) = well_formed_frame(self.here(RECORD_FRAME_SIZE as u64)) else {
            let detail = frame_fault(self.here(RECORD_FRAME_SIZE as u64));
            return Err(ScanStop::Invalid { offset, detail });
        };
        let size = frame.total_size();
        if size > left {
            return Err(ScanStop::Invalid {
                offset,
                detail: format!(
                    "record of {size} bytes runs past the end of the data ({left} bytes left)"
                ),
            });
        }
        self.ensure(size)
            .map_err(|error| ScanStop::Io { offset, error })?;
        let index = self.index;
        let pos = Position {
            offset,
            index: frame.crc_index(index),
        };
        if !frame.covers(self.here(size), self.segment.crc_seed(), pos) {
            let detail = record_fault(frame, self.here(size), self.segment.crc_seed(), pos);
            return Err(ScanStop::Invalid { offset, detail });
        }
        let at = (self.pos - self.chunk_start) as usize;
        if frame.is_truncation() {
            return self.truncation(offset, frame, at, size);
        }
        self.pos += size;
        self.index += 1;
        self.in_batch = frame.batch_continues();
        Ok(Some(ScannedRecord {
            offset,
            index,
            frame,
            at,
        }))
    }

    /// A truncation record (verified) at `offset`. A recovery scan applies
    /// it: the next record gets the index after the last one it keeps (its
    /// `index` is that kept index). A reader's scan only meets one when a
    /// truncation dropped what it read after it loaded the ranges.
    #[cold]
    #[inline(never)]
    fn truncation(
        &mut self,
        offset: u64,
        frame: Frame,
        at: usize,
        size: u64,
    ) -> Result<Option<ScannedRecord>, ScanStop> {
        if !self.raw {
            // One inside a range the segment knows (at its end, or inside a
            // later truncation's): a truncation dropped what this scan read
            // past the range's start. Any other is not part of the log:
            // damage.
            self.load_dropped();
            let end = offset + size;
            if self.dropped.iter().any(|r| r.0 <= offset && end <= r.1) {
                return Err(ScanStop::Dropped);
            }
            return Err(ScanStop::Invalid {
                offset,
                detail: "a truncation record the segment does not know of".into(),
            });
        }
        if self.in_batch {
            return Err(ScanStop::Invalid {
                offset,
                detail: "a truncation record inside a batch (the record before it says more \
                         of its batch follow)"
                    .into(),
            });
        }
        let body = &self.chunk[at + RECORD_FRAME_SIZE..at + size as usize];
        let kept = u64::from_le_bytes(body.try_into().expect("8 bytes, checked by the frame"));
        if kept >= self.index || kept.saturating_add(1) < self.segment.first_index() {
            return Err(ScanStop::Invalid {
                offset,
                detail: format!(
                    "truncation record keeps up to index {kept}, but the records before it are \
                     {} to {} (it must drop at least one, and not below the segment's first)",
                    self.segment.first_index(),
                    self.index.saturating_sub(1)
                ),
            });
        }
        self.pos += size;
        self.index = kept + 1;
        Ok(Some(ScannedRecord {
            offset,
            index: kept,
            frame,
            at,
        }))
    }
}

impl Scanner {
    /// The next record if it lies whole in the current chunk and verifies,
    /// else `None` with nothing moved: no read, so records returned before
    /// stay in the chunk (a replay batch borrows them all). Whatever
    /// stopped it, `next_record` meets again and reports.
    #[inline]
    pub fn next_record_in_chunk(&mut self) -> Option<ScannedRecord> {
        if self.pos >= self.end || self.pos < self.chunk_start || self.pos >= self.next_drop {
            return None;
        }
        let at = (self.pos - self.chunk_start) as usize;
        let in_chunk = self.chunk.len() - at.min(self.chunk.len());
        let frame = well_formed_frame(self.chunk.get(at..)?)?;
        let size = frame.total_size();
        if size > self.end - self.pos || size > in_chunk as u64 {
            return None;
        }
        let pos = Position {
            offset: self.pos,
            index: self.index,
        };
        if frame.is_truncation() || !frame.covers(self.here(size), self.segment.crc_seed(), pos) {
            return None;
        }
        self.pos += size;
        self.index += 1;
        Some(ScannedRecord {
            offset: pos.offset,
            index: pos.index,
            frame,
            at,
        })
    }
}

/// Is there any valid record starting after `from` and ending by `end`?
/// Used to tell a torn tail (nothing valid after the damage) from corruption
/// in the middle of the log. `index` is the index the record at `from`
/// would have: a record at `at` can only have an index from there up to one
/// more per [`RECORD_FRAME_SIZE`] bytes between them, and it verifies only
/// with its own. Returns the offset and index of the first one found.
pub(crate) fn find_valid_record_after(
    segment: &Arc<Segment>,
    from: u64,
    end: u64,
    index: u64,
) -> io::Result<Option<(u64, u64)>> {
    use crate::format::RECORD_MAGIC;
    let mut chunk_start = from + 1;
    while chunk_start + (RECORD_FRAME_SIZE as u64) <= end {
        let len = SCAN_CHUNK.min(end - chunk_start);
        let mut buf = vec![0u8; len as usize];
        segment.read_exact_at(&mut buf, chunk_start)?;
        let mut i = 0usize;
        while let Some(p) = memfind(&buf[i..], &RECORD_MAGIC) {
            let at = chunk_start + (i + p) as u64;
            if let Some(found) = probe(
                segment,
                at,
                end,
                index,
                (at - from) / RECORD_FRAME_SIZE as u64,
            )? {
                return Ok(Some((at, found)));
            }
            i += p + 1;
        }
        // Overlap by the magic length so a magic split across chunks is seen.
        if chunk_start + len >= end {
            break;
        }
        chunk_start += len - (RECORD_MAGIC.len() as u64 - 1);
    }
    Ok(None)
}

/// The index, among `index..=index + more`, with which the bytes at `at`
/// are a record that verifies (one read of the record, then one CRC per
/// candidate; only frames that are well formed and fit get that far).
fn probe(
    segment: &Arc<Segment>,
    at: u64,
    end: u64,
    index: u64,
    more: u64,
) -> io::Result<Option<u64>> {
    if end - at < RECORD_FRAME_SIZE as u64 {
        return Ok(None);
    }
    let mut head = [0u8; RECORD_FRAME_SIZE];
    segment.read_exact_at(&mut head, at)?;
    let Some(frame) = well_formed_frame(&head) else {
        return Ok(None);
    };
    let size = frame.total_size();
    if size > end - at {
        return Ok(None);
    }
    let mut rec = Vec::new();
    segment.read_append(&mut rec, size as usize, at)?;
    let seed = segment.crc_seed();
    if frame.is_truncation() {
        // Whatever the index expected: its own `kept` says what follows. Its
        // index is the one the record after it gets (a scan from here with
        // it applies the truncation record).
        let found = frame.covers(
            &rec,
            seed,
            Position {
                offset: at,
                index: 0,
            },
        );
        let kept = u64::from_le_bytes(rec[RECORD_FRAME_SIZE..].try_into().expect("8 bytes"));
        return Ok(found.then_some(kept.saturating_add(1)));
    }
    Ok((index..=index.saturating_add(more))
        .find(|&index| frame.covers(&rec, seed, Position { offset: at, index })))
}

/// Is `[from, end)` of `segment` all zeros? In the newest segment that is
/// preallocated space: zeros pre-written ahead of durable appends (or a
/// machine crash before any record reached them), not damage.
pub(crate) fn zeros_to_end(segment: &Segment, from: u64, end: u64) -> io::Result<bool> {
    let mut at = from;
    let mut buf = Vec::new();
    while at < end {
        let len = SCAN_CHUNK.min(end - at) as usize;
        buf.resize(len, 0);
        segment.read_exact_at(&mut buf, at)?;
        if buf.iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += len as u64;
    }
    Ok(true)
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

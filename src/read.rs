// SPDX-License-Identifier: MIT
//! Lock-free reads of records by ref: positional reads on each segment's
//! dup'd fd, with nearby refs of one segment coalesced into one read. A
//! single read owns its one allocation; a batch reads into one buffer that
//! the records share ([`Record`]s) or borrow from ([`ReadBuf`]).

use crate::error::{Result, WalError};
use crate::format::{
    record_error, record_size, verified_frame, Position, MAX_CONTENT_LEN, MAX_HEADER_LEN,
    RECORD_FRAME_SIZE, SEGMENT_HEADER_SIZE,
};
use crate::record::{EntryRef, Record, RecordView};
use crate::segment::{Segment, SegmentMap};
use crate::wal::Wal;
use bytes::{Buf, Bytes};
use std::sync::Arc;

/// Refs of one segment whose records lie at most this far apart are read
/// with one positional read (the gap is read and thrown away).
const MAX_COALESCE_GAP: u64 = 4096;
/// Upper bound of one coalesced read (a single larger record is still read whole).
const MAX_COALESCED_READ: u64 = 16 << 20;

/// A read request against a segment handle (see [`Wal::segment`]).
#[derive(Debug, Clone)]
pub struct ReadDescriptor {
    pub segment: Arc<Segment>,
    pub offset: u64,
    pub size: u64,
    /// The record's index (its CRC is checked with it).
    pub index: u64,
}

const MAX_RECORD_SIZE: u64 = RECORD_FRAME_SIZE as u64 + MAX_HEADER_LEN as u64 + MAX_CONTENT_LEN;

/// Is `index` one of the `count` records of `seg` (the count read before)?
#[inline]
fn check_index(seg: &Segment, count: u64, index: u64) -> Result<()> {
    if index >= seg.first_live_index() && index - seg.first_index() < count {
        Ok(())
    } else {
        Err(index_error(seg, count, index))
    }
}

/// A ref into a range a truncation record dropped is not a record of the
/// log, even when a later record has its index.
#[inline]
fn check_not_dropped(seg: &Segment, count: u64, index: u64, offset: u64) -> Result<()> {
    if seg.is_dropped(offset) {
        Err(index_error(seg, count, index))
    } else {
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn index_error(seg: &Segment, count: u64, index: u64) -> WalError {
    WalError::IndexNotFound {
        index,
        first: seg.first_live_index(),
        last: seg.first_index() + count - 1,
    }
}

/// Is `(offset, size)` a whole record's place inside the end `end` of
/// `seg` read before? The checks
/// run on every ref of a read; their errors are built out of line.
#[inline]
fn check_range_to(seg: &Segment, end: u64, offset: u64, size: u64) -> Result<()> {
    let whole = size != 0
        && offset.checked_add(size).is_some_and(|e| e <= end)
        && offset >= SEGMENT_HEADER_SIZE as u64
        && size >= record_size(0, 0)
        && size <= MAX_RECORD_SIZE;
    if whole {
        Ok(())
    } else {
        Err(range_error(seg, end, offset, size))
    }
}

/// Why `(offset, size)` is not a ref [`check_range_to`] accepts.
#[cold]
#[inline(never)]
fn range_error(seg: &Segment, end: u64, offset: u64, size: u64) -> WalError {
    if size == 0 {
        return WalError::InvalidArgument(format!(
            "ref (segment {}, offset {offset}) has size 0",
            seg.id(),
        ));
    }
    if offset.checked_add(size).is_none_or(|e| e > end) {
        return WalError::InvalidArgument(format!(
            "ref (segment {}, offset {offset}, size {size}) runs past the segment's written end {end}",
            seg.id(),
        ));
    }
    WalError::corrupted(
        seg.id(),
        offset,
        format!("ref of size {size} at this offset cannot be a whole record"),
    )
}

/// Where one record of a [`ReadBuf`] lies in its data.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    /// Start of the record header (right after the frame).
    header: usize,
    /// Start of the content (the header ends here).
    content: usize,
    /// End of the record.
    end: usize,
    has_header: bool,
}

/// A run of refs (positions `from..to` of the read order) of one segment,
/// read with one positional read of `[start, end)`.
#[derive(Debug, Clone, Copy)]
struct Group {
    from: usize,
    to: usize,
    start: u64,
    end: u64,
}

/// A reusable buffer for batch reads ([`Wal::read_batch_into`]): one byte
/// buffer holding every record read, and per record where its header and
/// content lie in it, in the order of the refs. Records are borrowed from it
/// ([`ReadBuf::get`], [`ReadBuf::iter`]) instead of being reference-counted
/// [`Bytes`] each, and refilling it reuses its memory, so a reader that keeps
/// one `ReadBuf` reads without allocating. Every record in it has passed the
/// same checks as [`Wal::read_batch`]'s (exactly one whole record, CRC
/// verified). It keeps the capacity of its largest fill until dropped.
///
/// ```
/// # use nano_wal::{ReadBuf, Wal, WalOptions, WriteEntry};
/// # let tmp = tempfile::tempdir().unwrap();
/// # let wal = Wal::new(tmp.path(), "s", WalOptions::default()).unwrap();
/// let entries = [
///     WriteEntry { header: None, content: b"a" },
///     WriteEntry { header: Some(b"h"), content: b"b" },
/// ];
/// let refs = wal.append_batch(&entries, 1711234567890, false).unwrap();
/// let mut buf = ReadBuf::new();
/// wal.read_batch_into(&refs, &mut buf).unwrap(); // in input order
/// assert_eq!(buf.len(), 2);
/// assert_eq!(buf.get(1).unwrap().header, Some(&b"h"[..]));
/// let contents: Vec<&[u8]> = buf.iter().map(|r| r.content).collect();
/// assert_eq!(contents, [&b"a"[..], &b"b"[..]]);
/// ```
#[derive(Debug, Default)]
pub struct ReadBuf {
    data: Vec<u8>,
    spans: Vec<Span>,
    /// Scratch: the read order of refs given out of order.
    order: Vec<usize>,
    /// Scratch: the positional reads of one fill.
    groups: Vec<Group>,
}

impl ReadBuf {
    /// An empty buffer (allocates nothing until filled).
    pub fn new() -> ReadBuf {
        ReadBuf::default()
    }

    /// Number of records held.
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when it holds no record.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `i`-th record (the record of the `i`-th ref of the last fill).
    #[inline]
    pub fn get(&self, i: usize) -> Option<RecordView<'_>> {
        self.spans.get(i).map(|s| self.view(s))
    }

    /// The records, in the order of the refs of the last fill.
    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordView<'_>> + '_ {
        self.spans.iter().map(|s| self.view(s))
    }

    /// Forget the records (keeps the memory for the next fill).
    pub fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
        self.order.clear();
        self.groups.clear();
    }

    #[inline]
    fn view(&self, s: &Span) -> RecordView<'_> {
        RecordView {
            header: s.has_header.then(|| &self.data[s.header..s.content]),
            content: &self.data[s.content..s.end],
        }
    }

    /// Hand the bytes over as records sharing one buffer (one refcount
    /// increment per header and per content, no copy).
    pub(crate) fn into_records(self) -> Vec<Record> {
        let bytes = Bytes::from(self.data);
        self.spans
            .iter()
            .map(|s| Record {
                header: s.has_header.then(|| bytes.slice(s.header..s.content)),
                content: bytes.slice(s.content..s.end),
            })
            .collect()
    }
}

/// The refs of one read: where each one points and its segment.
trait Refs {
    fn count(&self) -> usize;
    /// (segment id, offset, size) of ref `i`.
    fn key(&self, i: usize) -> (u64, u64, u64);
    /// The index of ref `i`.
    fn index(&self, i: usize) -> u64;
    fn segment(&self, i: usize) -> Result<&Segment>;
    /// Refs `a` and `b` point into the same segment file.
    fn same_segment(&self, a: usize, b: usize) -> bool;
}

impl Refs for [ReadDescriptor] {
    fn count(&self) -> usize {
        self.len()
    }
    fn key(&self, i: usize) -> (u64, u64, u64) {
        let d = &self[i];
        (d.segment.id(), d.offset, d.size)
    }
    fn index(&self, i: usize) -> u64 {
        self[i].index
    }
    fn segment(&self, i: usize) -> Result<&Segment> {
        Ok(&self[i].segment)
    }
    fn same_segment(&self, a: usize, b: usize) -> bool {
        // Descriptors may come from different logs, whose ids can coincide.
        Arc::ptr_eq(&self[a].segment, &self[b].segment)
    }
}

/// Refs (of any ref type: the Rust one, or the C one of the FFI) resolved
/// against a set of segments by id.
struct ById<'a, T> {
    segments: &'a SegmentMap,
    refs: &'a [T],
}

impl<T: Copy + Into<EntryRef>> Refs for ById<'_, T> {
    fn count(&self) -> usize {
        self.refs.len()
    }
    fn key(&self, i: usize) -> (u64, u64, u64) {
        let r: EntryRef = self.refs[i].into();
        (r.segment_id, r.offset, r.size)
    }
    fn index(&self, i: usize) -> u64 {
        let r: EntryRef = self.refs[i].into();
        r.index
    }
    fn segment(&self, i: usize) -> Result<&Segment> {
        let id = self.key(i).0;
        self.segments
            .get(&id)
            .map(|s| &**s)
            .ok_or(WalError::SegmentNotFound(id))
    }
    fn same_segment(&self, a: usize, b: usize) -> bool {
        self.key(a).0 == self.key(b).0
    }
}

/// Fill `buf` with the records of `refs`; on error `buf` is left empty.
fn fill<R: Refs + ?Sized>(refs: &R, buf: &mut ReadBuf) -> Result<()> {
    buf.clear();
    let result = fill_inner(refs, buf);
    if result.is_err() {
        buf.clear();
    }
    result
}

fn fill_inner<R: Refs + ?Sized>(refs: &R, buf: &mut ReadBuf) -> Result<()> {
    let n = refs.count();
    // Every ref is checked before anything is read, so the error of a bad
    // ref does not depend on where it lies.
    let mut sorted = true;
    let mut prev = (0, 0);
    // Each segment's end and count are read once, the end first: a
    // truncation lowers the count before the end, so a ref to a record it
    // dropped fails the index check (not found) even with the old end.
    let mut last: Option<(usize, &Segment, u64, u64)> = None;
    for i in 0..n {
        let (id, offset, size) = refs.key(i);
        let (seg, end, count) = match last {
            Some((j, seg, end, count)) if refs.same_segment(i, j) => (seg, end, count),
            _ => {
                let seg = refs.segment(i)?;
                (seg, seg.len(), seg.record_count())
            }
        };
        last = Some((i, seg, end, count));
        check_index(seg, count, refs.index(i))?;
        check_not_dropped(seg, count, refs.index(i), offset)?;
        check_range_to(seg, end, offset, size)?;
        sorted &= i == 0 || prev <= (id, offset);
        prev = (id, offset);
    }
    let ReadBuf {
        data,
        spans,
        order,
        groups,
    } = buf;
    // Read in (segment, offset) order so that neighbours coalesce; refs
    // given in that order (runs, log order) need no sort.
    if !sorted {
        order.extend(0..n);
        order.sort_by_key(|&i| {
            let (id, offset, _) = refs.key(i);
            (id, offset)
        });
    }
    let at = |p: usize| if sorted { p } else { order[p] };
    let mut total = 0usize;
    let mut p = 0;
    while p < n {
        let first = at(p);
        let (_, start, size) = refs.key(first);
        let mut end = start + size;
        let mut q = p + 1;
        while q < n {
            let k = at(q);
            let (_, offset, size) = refs.key(k);
            let k_end = offset + size;
            if !refs.same_segment(k, first)
                || offset > end + MAX_COALESCE_GAP
                || k_end.max(end) - start > MAX_COALESCED_READ
            {
                break;
            }
            end = end.max(k_end);
            q += 1;
        }
        groups.push(Group {
            from: p,
            to: q,
            start,
            end,
        });
        total = total.saturating_add((end - start) as usize);
        p = q;
    }
    if data.capacity() < total {
        data.try_reserve_exact(total)
            .map_err(|_| out_of_memory(total))?;
    }
    if sorted {
        spans.reserve(n);
    } else {
        spans.resize(n, Span::default());
    }
    for g in groups.iter() {
        let seg = refs.segment(at(g.from))?;
        let base = data.len();
        read_append(seg, data, g.start, g.end)?;
        for p in g.from..g.to {
            let k = at(p);
            let (_, offset, size) = refs.key(k);
            let from = base + (offset - g.start) as usize;
            let end = from + size as usize;
            let at = Position {
                offset,
                index: refs.index(k),
            };
            let Some(frame) = verified_frame(&data[from..end], seg.crc_seed(), at) else {
                return Err(corrupted(seg, &data[from..end], at));
            };
            let header = from + RECORD_FRAME_SIZE;
            let span = Span {
                header,
                content: header + frame.header_len,
                end,
                has_header: frame.has_header(),
            };
            if sorted {
                spans.push(span);
            } else {
                spans[k] = span;
            }
        }
    }
    Ok(())
}

/// Read records in the order of `reads`. Every record's CRC is verified and
/// each descriptor must cover exactly one whole record.
pub fn read_batch(reads: &[ReadDescriptor]) -> Result<Vec<Record>> {
    let mut buf = ReadBuf::new();
    fill(reads, &mut buf)?;
    Ok(buf.into_records())
}

/// Read `refs` against a set of segments by id (a live log's registry, or a
/// read-only view's): an id not in it is `SegmentNotFound`.
pub(crate) fn read_refs(segments: &SegmentMap, refs: &[EntryRef]) -> Result<Vec<Record>> {
    if let [one] = refs {
        return Ok(vec![read_one(segments, *one)?]);
    }
    let mut buf = ReadBuf::new();
    read_refs_into(segments, refs, &mut buf)?;
    Ok(buf.into_records())
}

/// [`read_refs`] into a reusable buffer; `refs` of the Rust or the C ref type.
pub(crate) fn read_refs_into<T: Copy + Into<EntryRef>>(
    segments: &SegmentMap,
    refs: &[T],
    buf: &mut ReadBuf,
) -> Result<()> {
    fill(&ById { segments, refs }, buf)
}

/// One record by ref: one positional read into one allocation that the
/// returned record owns (no intermediate vectors, no shared buffer unless
/// the record has a header).
pub(crate) fn read_one(segments: &SegmentMap, r: EntryRef) -> Result<Record> {
    let seg = segments
        .get(&r.segment_id)
        .ok_or(WalError::SegmentNotFound(r.segment_id))?;
    // The end before the count, as in `fill_inner`.
    let end = seg.len();
    let count = seg.record_count();
    check_index(seg, count, r.index)?;
    check_not_dropped(seg, count, r.index, r.offset)?;
    check_range_to(seg, end, r.offset, r.size)?;
    let mut buf = Vec::new();
    read_append(seg, &mut buf, r.offset, r.offset + r.size)?;
    let at = Position {
        offset: r.offset,
        index: r.index,
    };
    let Some(frame) = verified_frame(&buf, seg.crc_seed(), at) else {
        return Err(corrupted(seg, &buf, at));
    };
    Ok(owned_record(buf, frame.header_len, frame.has_header()))
}

/// Take the verified bytes of one whole record (exactly its length and
/// capacity, so no copy and, without a header, no shared buffer: the
/// content is the same allocation past the frame).
fn owned_record(buf: Vec<u8>, header_len: usize, has_header: bool) -> Record {
    let body = RECORD_FRAME_SIZE + header_len;
    let mut content = Bytes::from(buf);
    if has_header {
        let mut header = content.split_to(body);
        header.advance(RECORD_FRAME_SIZE);
        Record {
            header: Some(header),
            content,
        }
    } else {
        content.advance(body);
        Record {
            header: None,
            content,
        }
    }
}

/// The error of the record `b` read at `offset` of `seg` that
/// [`verified_frame`] refused, naming the check it fails (cold: the read
/// paths build no message for records that verify).
#[cold]
#[inline(never)]
fn corrupted(seg: &Segment, b: &[u8], at: Position) -> WalError {
    WalError::corrupted(seg.id(), at.offset, record_error(b, seg.crc_seed(), at))
}

fn out_of_memory(len: usize) -> WalError {
    WalError::io(
        format!("allocating {len} bytes to read records"),
        std::io::Error::from(std::io::ErrorKind::OutOfMemory),
    )
}

/// Append the bytes `[start, end)` of `seg` to `buf`.
fn read_append(seg: &Segment, buf: &mut Vec<u8>, start: u64, end: u64) -> Result<()> {
    let len = (end - start) as usize;
    seg.read_append(buf, len, start)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => WalError::corrupted(
                seg.id(),
                start,
                "segment file is shorter than its recorded end",
            ),
            std::io::ErrorKind::OutOfMemory => out_of_memory(len),
            _ => WalError::io(format!("reading segment {} at offset {start}", seg.id()), e),
        })
}

/// The indexes `segments` (in log order) hold: `(first, last)`, with
/// `first_if_empty` when there is no segment.
pub(crate) fn index_bounds(segments: &[Arc<Segment>], first_if_empty: u64) -> (u64, u64) {
    let first = segments
        .first()
        .map_or(first_if_empty, |s| s.first_live_index());
    let last = segments.last().map_or(first - 1, |s| s.last_index());
    (first, last)
}

/// The records `from, from + 1, ...` of `segments` (the live ones in log
/// order, and by id): at most `max_count`, stopping before their header and
/// content bytes would pass `max_bytes` but always at least one, read into
/// `buf` through the same checks as reads by ref. Their refs come from the
/// segments' record ends (memory, or the index footer: a damaged footer is
/// caught by the records' checksums, which bind offset and index; the
/// segment is then scanned once, its ends kept in memory, and the read
/// retried).
pub(crate) fn read_range_into(
    map: &SegmentMap,
    segments: &[Arc<Segment>],
    (from, first_if_empty): (u64, u64),
    max_count: usize,
    max_bytes: u64,
    buf: &mut ReadBuf,
) -> Result<Vec<EntryRef>> {
    if max_count == 0 {
        return Err(WalError::InvalidArgument(
            "a range read of at most 0 records".into(),
        ));
    }
    let (first, last) = index_bounds(segments, first_if_empty);
    if from < first || from > last {
        return Err(WalError::IndexNotFound {
            index: from,
            first,
            last,
        });
    }
    let (refs, via_footer) = range_refs(segments, from, max_count, max_bytes)?;
    match read_refs_into(map, &refs, buf) {
        Err(WalError::CorruptedData { .. } | WalError::InvalidArgument(_))
            if !via_footer.is_empty() =>
        {
            for seg in &via_footer {
                crate::recovery::rescan_sealed(seg)?;
            }
            let (refs, _) = range_refs(segments, from, max_count, max_bytes)?;
            read_refs_into(map, &refs, buf)?;
            Ok(refs)
        }
        other => other.map(|()| refs),
    }
}

/// The refs of [`read_range_into`], and the segments whose footer gave them.
fn range_refs(
    segments: &[Arc<Segment>],
    from: u64,
    max_count: usize,
    max_bytes: u64,
) -> Result<(Vec<EntryRef>, Vec<Arc<Segment>>)> {
    let mut refs: Vec<EntryRef> = Vec::new();
    let mut via_footer = Vec::new();
    let mut bytes = 0u64;
    let mut index = from;
    let mut p = segments
        .partition_point(|s| s.first_index() <= from)
        .saturating_sub(1);
    'segments: while refs.len() < max_count && p < segments.len() {
        let seg = &segments[p];
        p += 1;
        if !seg.holds_index(index) {
            continue;
        }
        if seg.looks_up_in_footer() {
            via_footer.push(seg.clone());
        }
        let want = (max_count - refs.len()) as u64;
        let spans = seg.spans(index, want).map_err(|e| {
            WalError::io(
                format!("reading the index footer of segment {}", seg.id()),
                e,
            )
        })?;
        if spans.is_empty() {
            return Err(WalError::corrupted(
                seg.id(),
                seg.len(),
                format!("no record of index {index} found in the segment"),
            ));
        }
        for (offset, end) in spans {
            let size = end.saturating_sub(offset);
            let payload = size.saturating_sub(RECORD_FRAME_SIZE as u64);
            if !refs.is_empty() && bytes.saturating_add(payload) > max_bytes {
                break 'segments;
            }
            bytes = bytes.saturating_add(payload);
            refs.push(EntryRef {
                segment_id: seg.id(),
                offset,
                size,
                index,
            });
            index += 1;
        }
    }
    Ok((refs, via_footer))
}

impl Wal {
    /// The record of index `index`. `IndexNotFound` outside
    /// `[first_index, last_index]` (see [`Wal::log_state`]).
    pub fn read_index(&self, index: u64) -> Result<Record> {
        let mut buf = ReadBuf::new();
        self.read_range_into(index, 1, u64::MAX, &mut buf)?;
        Ok(buf.into_records().remove(0))
    }

    /// The records from index `from` on, in order, with their refs: at most
    /// `max_count` (at least 1, else `InvalidArgument`), stopping before
    /// their header and content bytes would pass `max_bytes`, but always at
    /// least one. `IndexNotFound` when `from` is outside
    /// `[first_index, last_index]`.
    pub fn read_range(
        &self,
        from: u64,
        max_count: usize,
        max_bytes: u64,
    ) -> Result<Vec<(EntryRef, Record)>> {
        let mut buf = ReadBuf::new();
        let refs = self.read_range_into(from, max_count, max_bytes, &mut buf)?;
        Ok(refs.into_iter().zip(buf.into_records()).collect())
    }

    /// [`Wal::read_range`] into a reusable buffer: returns the refs of the
    /// records `buf` then holds, in the same order.
    pub fn read_range_into(
        &self,
        from: u64,
        max_count: usize,
        max_bytes: u64,
        buf: &mut ReadBuf,
    ) -> Result<Vec<EntryRef>> {
        let inner = &*self.inner;
        read_range_into(
            &inner.segments.snapshot(),
            &inner.segments.ordered(),
            (from, inner.config.first_index),
            max_count,
            max_bytes,
            buf,
        )
    }

    /// Read the records of `refs`, in the order given. Never takes the
    /// appender lock. A ref to an unknown or deleted segment gives
    /// `SegmentNotFound`; a range past the written end or of size 0 gives
    /// `InvalidArgument`; a range that is not exactly one whole valid record
    /// gives `CorruptedData`. Nearby refs of one segment are read with one
    /// positional read and their records share its buffer.
    pub fn read_batch(&self, refs: &[EntryRef]) -> Result<Vec<Record>> {
        read_refs(&self.inner.segments.snapshot(), refs)
    }

    /// Read the records of `refs` into `buf` (replacing what it held), in
    /// the order given, with the checks and errors of [`Wal::read_batch`].
    /// The records are borrowed from `buf` rather than reference-counted
    /// each, and `buf`'s memory is reused: the way to read many records, or
    /// to read repeatedly, without allocating. On error `buf` is left empty.
    /// Never takes the appender lock. `refs` may be of any type that
    /// converts to [`EntryRef`] (the C API passes its `nwal_entry_ref`s
    /// without copying them).
    pub fn read_batch_into<R: Copy + Into<EntryRef>>(
        &self,
        refs: &[R],
        buf: &mut ReadBuf,
    ) -> Result<()> {
        read_refs_into(&self.inner.segments.snapshot(), refs, buf)
    }

    /// Read one record, with the checks and errors of [`Wal::read_batch`]:
    /// one positional read into one allocation, which the record owns.
    /// Never takes the appender lock.
    pub fn read(&self, entry: EntryRef) -> Result<Record> {
        read_one(&self.inner.segments.snapshot(), entry)
    }
}

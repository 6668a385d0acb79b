//! Lock-free reads of records by ref: positional reads on each segment's
//! dup'd fd, with nearby refs of one segment coalesced into one read whose
//! buffer the returned records share.

use crate::error::{Result, WalError};
use crate::format::{
    record_size, verify_record, MAX_CONTENT_LEN, MAX_HEADER_LEN, RECORD_FRAME_SIZE,
    SEGMENT_HEADER_SIZE,
};
use crate::segment::Segment;
use crate::wal::{EntryRef, Wal};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Refs of one segment whose records lie at most this far apart are read
/// with one positional read (the gap is read and thrown away).
const MAX_COALESCE_GAP: u64 = 4096;
/// Upper bound of one coalesced read (a single larger record is still read whole).
const MAX_COALESCED_READ: u64 = 16 << 20;

/// A record read back: its header (None when appended without one) and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub header: Option<Bytes>,
    pub content: Bytes,
}

impl Record {
    /// Build a record view from the verified bytes of one whole record.
    pub(crate) fn from_verified(bytes: &Bytes, header_len: usize, has_header: bool) -> Record {
        let body = RECORD_FRAME_SIZE + header_len;
        Record {
            header: has_header.then(|| bytes.slice(RECORD_FRAME_SIZE..body)),
            content: bytes.slice(body..),
        }
    }
}

/// A read request against a segment handle (see [`Wal::segment`]).
#[derive(Debug, Clone)]
pub struct ReadDescriptor {
    pub segment: Arc<Segment>,
    pub offset: u64,
    pub size: u64,
}

const MAX_RECORD_SIZE: u64 = RECORD_FRAME_SIZE as u64 + MAX_HEADER_LEN as u64 + MAX_CONTENT_LEN;

fn check_range(d: &ReadDescriptor) -> Result<()> {
    let seg = &d.segment;
    if d.size == 0 {
        return Err(WalError::InvalidArgument(format!(
            "ref (segment {}, offset {}) has size 0",
            seg.id(),
            d.offset
        )));
    }
    let end = seg.len();
    if d.offset.checked_add(d.size).is_none_or(|e| e > end) {
        return Err(WalError::InvalidArgument(format!(
            "ref (segment {}, offset {}, size {}) runs past the segment's written end {end}",
            seg.id(),
            d.offset,
            d.size
        )));
    }
    if d.offset < SEGMENT_HEADER_SIZE as u64
        || d.size < record_size(0, 0)
        || d.size > MAX_RECORD_SIZE
    {
        return Err(WalError::corrupted(
            seg.id(),
            d.offset,
            format!(
                "ref of size {} at this offset cannot be a whole record",
                d.size
            ),
        ));
    }
    Ok(())
}

/// Read records in the order of `reads`. Every record's CRC is verified and
/// each descriptor must cover exactly one whole record.
pub fn read_batch(reads: &[ReadDescriptor]) -> Result<Vec<Record>> {
    for d in reads {
        check_range(d)?;
    }
    let mut order: Vec<usize> = (0..reads.len()).collect();
    order.sort_by_key(|&i| (reads[i].segment.id(), reads[i].offset));
    let mut out: Vec<Option<Record>> = vec![None; reads.len()];
    let mut i = 0;
    while i < order.len() {
        let first = &reads[order[i]];
        let start = first.offset;
        let mut end = start + first.size;
        let mut j = i + 1;
        while j < order.len() {
            let d = &reads[order[j]];
            let same = Arc::ptr_eq(&d.segment, &first.segment);
            let d_end = d.offset + d.size;
            if !same
                || d.offset > end + MAX_COALESCE_GAP
                || d_end.max(end) - start > MAX_COALESCED_READ
            {
                break;
            }
            end = end.max(d_end);
            j += 1;
        }
        let seg = &first.segment;
        let buf = read_range(seg, start, end)?;
        for &k in &order[i..j] {
            let d = &reads[k];
            let from = (d.offset - start) as usize;
            let bytes = buf.slice(from..from + d.size as usize);
            let frame = verify_record(&bytes, seg.id(), d.offset)
                .map_err(|detail| WalError::corrupted(seg.id(), d.offset, detail))?;
            out[k] = Some(Record::from_verified(
                &bytes,
                frame.header_len,
                frame.has_header(),
            ));
        }
        i = j;
    }
    Ok(out
        .into_iter()
        .map(|r| r.expect("every read filled"))
        .collect())
}

/// Read `refs` against a set of segments by id (a live log's registry, or a
/// read-only view's): an id not in it is `SegmentNotFound`.
pub(crate) fn read_refs(
    segments: &BTreeMap<u64, Arc<Segment>>,
    refs: &[EntryRef],
) -> Result<Vec<Record>> {
    let reads = refs
        .iter()
        .map(|r| {
            let segment = segments
                .get(&r.segment_id)
                .cloned()
                .ok_or(WalError::SegmentNotFound(r.segment_id))?;
            Ok(ReadDescriptor {
                segment,
                offset: r.offset,
                size: r.size,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    read_batch(&reads)
}

fn read_range(seg: &Segment, start: u64, end: u64) -> Result<Bytes> {
    let len = (end - start) as usize;
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).map_err(|_| {
        WalError::io(
            format!("allocating {len} bytes to read segment {}", seg.id()),
            std::io::Error::from(std::io::ErrorKind::OutOfMemory),
        )
    })?;
    buf.resize(len, 0);
    seg.read_exact_at(&mut buf, start).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            WalError::corrupted(
                seg.id(),
                start,
                "segment file is shorter than its recorded end",
            )
        } else {
            WalError::io(format!("reading segment {} at offset {start}", seg.id()), e)
        }
    })?;
    Ok(Bytes::from(buf))
}

impl Wal {
    /// Read the records of `refs`, in the order given. Never takes the
    /// writer's lock. A ref to an unknown or deleted segment gives
    /// `SegmentNotFound`; a range past the written end or of size 0 gives
    /// `InvalidArgument`; a range that is not exactly one whole valid record
    /// gives `CorruptedData`.
    pub fn read_batch(&self, refs: &[EntryRef]) -> Result<Vec<Record>> {
        read_refs(&self.inner.registry.load(), refs)
    }

    /// Read one record.
    pub fn read(&self, entry: EntryRef) -> Result<Record> {
        Ok(self
            .read_batch(&[entry])?
            .pop()
            .expect("one ref, one record"))
    }
}

// SPDX-License-Identifier: MIT
//! Appends: the records checked, encoded (packed into one buffer, or framed
//! apart from the caller's buffers) and placed at the end of the active
//! segment under the appender lock.

use super::{Inner, Wal, WriteState};
use crate::error::{Result, WalError};
use crate::format::{
    append_records, encode_frame_seeded, footer_size, record_size, Position, MAX_CONTENT_LEN,
    MAX_HEADER_LEN, RECORD_FRAME_SIZE, SEGMENT_HEADER_SIZE,
};
use crate::record::{EntryRef, WriteEntry};
use crate::segment::Segment;
use std::io::IoSlice;
use std::sync::atomic::Ordering;

impl Wal {
    /// Append one record at time `now_ms` (ms since the Unix epoch; it picks
    /// the window, the clock is never read). With `durable`, the call returns
    /// only once the record is on stable storage (group-committed fdatasync).
    pub fn append(
        &self,
        header: Option<&[u8]>,
        content: &[u8],
        now_ms: i64,
        durable: bool,
    ) -> Result<EntryRef> {
        let entry = [WriteEntry { header, content }];
        let (segment_id, at) = self.write_entries(&entry, now_ms, durable)?;
        Ok(EntryRef {
            segment_id,
            offset: at.offset,
            size: record_size(header.map_or(0, <[u8]>::len), content.len()),
            index: at.index,
        })
    }

    /// Append a batch of records atomically: after a crash, recovery keeps all
    /// of them or none. They go to one segment, contiguous and in order, with
    /// consecutive indexes. An empty batch does nothing.
    pub fn append_batch(
        &self,
        entries: &[WriteEntry<'_>],
        now_ms: i64,
        durable: bool,
    ) -> Result<Vec<EntryRef>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (segment_id, mut at) = self.write_entries(entries, now_ms, durable)?;
        Ok(entries
            .iter()
            .map(|e| {
                let size = record_size(e.header.map_or(0, <[u8]>::len), e.content.len());
                let r = EntryRef {
                    segment_id,
                    offset: at.offset,
                    size,
                    index: at.index,
                };
                at.offset += size;
                at.index += 1;
                r
            })
            .collect())
    }

    /// Write `entries` (at least one) as one batch and, with `durable`, wait
    /// until they are on stable storage. Returns the segment and the position
    /// of the first record.
    ///
    /// Appends of small records (see [`PACK_LIMIT`]) are packed into this
    /// thread's reusable buffer and written with one `pwrite` per
    /// [`PACK_LIMIT`] bytes (one CRC pass over each record as it lies in the
    /// buffer, nothing allocated once the buffer has grown); larger ones are
    /// written from the caller's buffers with `pwritev` (frames on the stack
    /// for a single record).
    fn write_entries(
        &self,
        entries: &[WriteEntry<'_>],
        now_ms: i64,
        durable: bool,
    ) -> Result<(u64, Position)> {
        let inner = &*self.inner;
        let (total, largest) = validate_entries(entries, inner.config.max_segment_records)?;
        let window = inner.config.window_start(now_ms)?;
        inner.config.expiration(window)?;
        let placing = durable.then(|| inner.group_commit.placing());
        let small = largest <= PACK_LIMIT && total <= PACK_RECORD_LIMIT * entries.len() as u64;
        let (segment_id, at) = if small {
            let pack = |buf: &mut Vec<u8>| {
                let mut packed = Packed {
                    buf,
                    entries,
                    total,
                };
                inner.place((now_ms, window), total, entries.len(), &mut packed)
            };
            // A thread whose thread-locals are being destroyed (an append
            // from another thread-local's destructor) packs into a new buffer.
            PACK_BUFFER
                .try_with(|buf| pack(&mut buf.borrow_mut()))
                .unwrap_or_else(|_| pack(&mut Vec::new()))?
        } else {
            let mut one_frame = [[0u8; RECORD_FRAME_SIZE]; 1];
            let mut many_frames = Vec::new();
            let frames: &mut [[u8; RECORD_FRAME_SIZE]] = if entries.len() == 1 {
                &mut one_frame
            } else {
                many_frames.resize(entries.len(), [0u8; RECORD_FRAME_SIZE]);
                &mut many_frames
            };
            inner.place(
                (now_ms, window),
                total,
                entries.len(),
                &mut Framed { frames, entries },
            )?
        };
        // The record is published: wake the followers, with the appender
        // lock released (a wake-up is a futex call, or the event fd's write,
        // and other appenders need not wait for it).
        inner.appended.notify();
        drop(placing);
        if durable {
            inner.wait_durable((segment_id, at.offset + total))?;
        }
        Ok((segment_id, at))
    }
}

/// Check the size of every record: returns the batch's on-disk size and
/// its largest record's. Inlined into the append path; the errors are
/// built out of line ([`refuse_entries`]).
#[inline]
fn validate_entries(entries: &[WriteEntry<'_>], records_cap: u64) -> Result<(u64, u64)> {
    let (mut total, mut largest, mut ok) = (0u64, 0u64, entries.len() as u64 <= records_cap);
    for e in entries {
        let hlen = e.header.map_or(0, <[u8]>::len);
        ok &= hlen <= MAX_HEADER_LEN && e.content.len() as u64 <= MAX_CONTENT_LEN;
        let size = record_size(hlen, e.content.len());
        total += size;
        largest = largest.max(size);
    }
    if !ok {
        return Err(refuse_entries(entries, records_cap));
    }
    Ok((total, largest))
}

/// Why [`validate_entries`] refused `entries`: the first limit passed.
#[cold]
#[inline(never)]
fn refuse_entries(entries: &[WriteEntry<'_>], records_cap: u64) -> WalError {
    if entries.len() as u64 > records_cap {
        return WalError::InvalidArgument(format!(
            "a batch of {} records exceeds the {records_cap} records a segment holds",
            entries.len()
        ));
    }
    for e in entries {
        let hlen = e.header.map_or(0, <[u8]>::len);
        if hlen > MAX_HEADER_LEN {
            return WalError::HeaderTooLarge {
                size: hlen,
                max: MAX_HEADER_LEN,
            };
        }
        if e.content.len() as u64 > MAX_CONTENT_LEN {
            return WalError::InvalidArgument(format!(
                "record content of {} bytes exceeds the maximum of {MAX_CONTENT_LEN}",
                e.content.len()
            ));
        }
    }
    unreachable!("refuse_entries is called only for entries validate_entries refused")
}

/// Appends of records of [`PACK_RECORD_LIMIT`] bytes on average at most
/// (with their frames), none larger than this, are copied into one buffer
/// and written with one `pwrite` per this many bytes: for small records the
/// copy costs less than building and walking an iovec per frame, header and
/// content, and a batch becomes few contiguous writes. Larger records are
/// not copied (measured: a 4 KiB append is faster from the caller's buffer).
/// A batch larger than this is packed in pieces rather than sent through
/// iovecs: 128 B records cost ~87 ns each packed, ~130 through iovecs.
const PACK_LIMIT: u64 = 64 << 10;
const PACK_RECORD_LIMIT: u64 = 1 << 10;

thread_local! {
    /// Each appending thread's buffer for packed appends (at most
    /// `PACK_LIMIT` bytes, kept for the thread's life).
    static PACK_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How the records of one append are encoded and written.
trait Encoding {
    /// Encode the records for `seg` (the CRC seed and watermark are per
    /// segment) and write them at `at` (the first record's offset and
    /// index), appender lock held.
    fn write(&mut self, seg: &Segment, at: Position) -> std::io::Result<u64>;
    /// The records, to note their ends once written.
    fn entries(&self) -> &[WriteEntry<'_>];
}

/// Small appends: whole records packed into one buffer.
struct Packed<'a, 'e> {
    buf: &'a mut Vec<u8>,
    entries: &'a [WriteEntry<'e>],
    /// Size of all the records with their frames.
    total: u64,
}

impl Encoding for Packed<'_, '_> {
    fn write(&mut self, seg: &Segment, at: Position) -> std::io::Result<u64> {
        // The watermark read now is still a lower bound when the bytes are
        // written (it only rises).
        let (seed, synced) = (seg.crc_seed(), seg.synced_end());
        if self.total > PACK_LIMIT {
            return self.write_in_pieces(seg, at, seed, synced);
        }
        self.buf.clear();
        let records = self.entries.iter().map(|e| (e.header, e.content));
        append_records(self.buf, seed, synced, at, records, false);
        seg.write_at(&[IoSlice::new(self.buf)], at.offset)
    }
    fn entries(&self) -> &[WriteEntry<'_>] {
        self.entries
    }
}

impl Packed<'_, '_> {
    /// A batch larger than the buffer: one `pwrite` per [`PACK_LIMIT`]
    /// bytes of whole records (out of line: the common single write stays
    /// as short as it was).
    #[inline(never)]
    fn write_in_pieces(
        &mut self,
        seg: &Segment,
        first: Position,
        seed: u32,
        synced: u64,
    ) -> std::io::Result<u64> {
        let mut at = first;
        let mut rest = self.entries;
        while !rest.is_empty() {
            // As many whole records as fit in PACK_LIMIT bytes (each fits).
            let mut bytes = 0u64;
            let fit = rest
                .iter()
                .position(|e| {
                    bytes += record_size(e.header.map_or(0, <[u8]>::len), e.content.len());
                    bytes > PACK_LIMIT
                })
                .unwrap_or(rest.len())
                .max(1);
            let (piece, after) = rest.split_at(fit);
            self.buf.clear();
            let records = piece.iter().map(|e| (e.header, e.content));
            append_records(self.buf, seed, synced, at, records, !after.is_empty());
            at.offset += seg.write_at(&[IoSlice::new(self.buf)], at.offset)?;
            at.index += piece.len() as u64;
            rest = after;
        }
        Ok(at.offset - first.offset)
    }
}

/// Large appends: frames encoded apart, payloads written from the caller's
/// buffers.
struct Framed<'a, 'e> {
    frames: &'a mut [[u8; RECORD_FRAME_SIZE]],
    entries: &'a [WriteEntry<'e>],
}

impl Encoding for Framed<'_, '_> {
    fn write(&mut self, seg: &Segment, at: Position) -> std::io::Result<u64> {
        let (seed, synced) = (seg.crc_seed(), seg.synced_end());
        let last = self.entries.len() - 1;
        let offset = at.offset;
        let mut pos = at;
        for (i, (frame, e)) in self.frames.iter_mut().zip(self.entries).enumerate() {
            encode_frame_seeded(frame, seed, pos, synced, e.header, e.content, i != last);
            pos.offset += record_size(e.header.map_or(0, <[u8]>::len), e.content.len());
            pos.index += 1;
        }
        if let ([frame], [e]) = (&*self.frames, self.entries) {
            let iov = [
                IoSlice::new(frame),
                IoSlice::new(e.header.unwrap_or(&[])),
                IoSlice::new(e.content),
            ];
            return seg.write_at(&iov, offset);
        }
        let mut iov = Vec::with_capacity(self.entries.len() * 3);
        for (frame, e) in self.frames.iter().zip(self.entries) {
            iov.push(IoSlice::new(frame));
            if let Some(h) = e.header {
                iov.push(IoSlice::new(h));
            }
            iov.push(IoSlice::new(e.content));
        }
        seg.write_at(&iov, offset)
    }
    fn entries(&self) -> &[WriteEntry<'_>] {
        self.entries
    }
}

impl Inner {
    /// After a failed write of `[offset, end)` to `seg` (appender lock
    /// held): leave no partial record behind, so the next write starts at
    /// the same `offset` and recovery sees no garbage mid-log (a failed cut
    /// poisons the log). A group commit, which syncs without this lock, may
    /// have made the partial write's length durable before the cut: the cut
    /// must be fsync'ed when the segment is sealed, so `w.file_len` covers it.
    pub(super) fn cut_failed_write(
        &self,
        seg: &Segment,
        w: &mut WriteState,
        offset: u64,
        end: u64,
    ) {
        if let Err(te) = seg.truncate(offset) {
            self.poison.set(
                format!("truncating segment {} after a failed write", seg.id()),
                &te,
            );
        }
        w.file_len = w.file_len.max(end);
    }
    /// The clock guard: `now_ms` may lie at most `skew` ms past the end of
    /// the newest window (the active segment's: rotation only moves
    /// forward). A log with no segment yet takes any time.
    fn check_clock(&self, newest: &Segment, now_ms: i64, skew: i64) -> Result<()> {
        let end = newest
            .window_start_ms()
            .saturating_add(self.config.segment_duration_ms);
        if now_ms.saturating_sub(end) > skew {
            return Err(WalError::ClockSkew {
                now_ms,
                newest_window_end_ms: end,
                max_skew_ms: skew,
            });
        }
        Ok(())
    }

    /// Put an append of `total` bytes (`count` records) at `now_ms` in the
    /// log: under the appender lock, check the clock guard, pick the segment
    /// for `window` (rotating when the window is later, or the size cap or
    /// the record cap is reached), encode for it, and write at its end.
    /// Returns the segment id and the position of the first record.
    fn place(
        &self,
        (now_ms, window): (i64, i64),
        total: u64,
        count: usize,
        records: &mut impl Encoding,
    ) -> Result<(u64, Position)> {
        let mut guard = self.lock_appender();
        let app = &mut *guard;
        if self.shut_down.load(Ordering::Acquire) {
            return Err(WalError::Shutdown);
        }
        self.poison.check()?;
        if let (Some(skew), Some(seg)) = (self.config.max_clock_skew_ms, &app.segment) {
            self.check_clock(seg, now_ms, skew)?;
        }
        let cap = self.config.max_segment_bytes;
        let seg = loop {
            match &app.segment {
                Some(seg)
                    if seg.window_start_ms() >= window
                        && !(cap != 0
                            && app.write.end > SEGMENT_HEADER_SIZE as u64
                            && app.write.end
                                + total
                                + footer_size(
                                    app.write.records + count as u64,
                                    app.write.ranges,
                                )
                                > cap)
                        && app.write.records + count as u64 <= self.config.max_segment_records =>
                {
                    break seg
                }
                // A new segment is empty and its window is at least
                // `window`: the second pass takes it.
                _ => self.rotate(app, window)?,
            }
        };
        let w = &mut app.write;
        let offset = w.end;
        if offset + total > w.file_len && seg.has_durable_use() && !w.prewrite_failed {
            self.prewrite(seg, w, offset + total)?;
        }
        let at = Position {
            offset,
            index: app.next_index,
        };
        match records.write(seg, at) {
            Ok(_) => {
                if let Some(ends) = &mut w.ends {
                    if let [_] = records.entries() {
                        ends.set(w.records, offset + total);
                    } else {
                        let mut end = offset;
                        let each = records.entries().iter().map(|e| {
                            end += record_size(e.header.map_or(0, <[u8]>::len), e.content.len());
                            end
                        });
                        ends.set_run(w.records, each);
                    }
                }
                w.end = offset + total;
                w.file_len = w.file_len.max(w.end);
                w.records += count as u64;
                app.next_index += count as u64;
                seg.publish_end(w.end);
                seg.publish_count(w.records);
                Ok((seg.id(), at))
            }
            Err(e) => {
                self.cut_failed_write(seg, w, offset, offset + total);
                Err(WalError::io(
                    format!(
                        "writing {count} record(s) ({total} bytes) to segment {} at offset {offset}",
                        seg.id()
                    ),
                    e,
                ))
            }
        }
    }
}

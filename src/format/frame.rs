// SPDX-License-Identifier: MIT
//! The fixed frame in front of every record: encoding it (one record, or
//! the records of a packed append) and every check of a record read back.

use super::{
    crc_seed, record_size, FLAG_BATCH_CONTINUES, FLAG_HAS_HEADER, FLAG_TRUNCATION, MAX_CONTENT_LEN,
    MAX_SYNCED_END, RECORD_FRAME_SIZE, RECORD_MAGIC, SEGMENT_HEADER_SIZE,
};
use crate::crc::{self, Position};

/// Every flag this format version defines: a record with another is refused.
const KNOWN_FLAGS: u16 = FLAG_BATCH_CONTINUES | FLAG_HAS_HEADER | FLAG_TRUNCATION;

/// Where the CRC sits in the frame.
const CRC_AT: std::ops::Range<usize> = crc::CRC_FIELD;

/// The first 20 bytes of a frame (everything but the CRC).
fn frame_fields(
    synced_end: u64,
    header: Option<&[u8]>,
    content_len: usize,
    batch_continues: bool,
) -> [u8; CRC_AT.start] {
    debug_assert!(content_len as u64 <= MAX_CONTENT_LEN);
    let mut flags = 0u16;
    if header.is_some() {
        flags |= FLAG_HAS_HEADER;
    }
    if batch_continues {
        flags |= FLAG_BATCH_CONTINUES;
    }
    let mut f = [0u8; CRC_AT.start];
    f[0..6].copy_from_slice(&RECORD_MAGIC);
    f[6..8].copy_from_slice(&(header.map_or(0, <[u8]>::len) as u16).to_le_bytes());
    f[8..12].copy_from_slice(&(content_len as u32).to_le_bytes());
    f[12..14].copy_from_slice(&flags.to_le_bytes());
    f[14..20].copy_from_slice(&synced_end.min(MAX_SYNCED_END).to_le_bytes()[..6]);
    f
}

/// Write the 24-byte frame of a record into `out` (which must be 24 bytes).
/// The CRC covers the whole record with the CRC field taken as zeros,
/// starting from the segment's [`crc_seed`], so a flipped frame bit is
/// caught as well as a flipped payload bit, and a record copied into another
/// segment never verifies.
/// `synced_end` is the writer's durable watermark in this segment when the
/// record is written (every byte before it was fdatasync'ed); recovery uses
/// it to tell lost unsynced writes from corruption (docs/FORMAT.md). Values
/// above 48 bits are stored as [`MAX_SYNCED_END`] (still a lower bound).
/// `content` must be at most [`MAX_CONTENT_LEN`] bytes (the caller checks).
pub fn encode_frame(
    out: &mut [u8],
    segment_id: u64,
    at: Position,
    synced_end: u64,
    header: Option<&[u8]>,
    content: &[u8],
    batch_continues: bool,
) {
    encode_frame_seeded(
        out,
        crc_seed(segment_id),
        at,
        synced_end,
        header,
        content,
        batch_continues,
    )
}

/// Write a whole truncation record (see [`FLAG_TRUNCATION`]) into `out`
/// (32 bytes): keeps the records up to index `kept`.
pub(crate) fn encode_truncation_frame(
    out: &mut [u8],
    seed: u32,
    offset: u64,
    synced_end: u64,
    kept: u64,
) {
    let mut f = frame_fields(synced_end, None, 8, false);
    f[12..14].copy_from_slice(&FLAG_TRUNCATION.to_le_bytes());
    out[..CRC_AT.start].copy_from_slice(&f);
    out[RECORD_FRAME_SIZE..RECORD_FRAME_SIZE + 8].copy_from_slice(&kept.to_le_bytes());
    let crc = crc::record(
        seed,
        Position { offset, index: 0 },
        &out[..RECORD_FRAME_SIZE + 8],
    );
    out[CRC_AT].copy_from_slice(&crc.to_le_bytes());
}

/// [`encode_frame`] with the segment's CRC seed already computed.
pub(crate) fn encode_frame_seeded(
    out: &mut [u8],
    seed: u32,
    at: Position,
    synced_end: u64,
    header: Option<&[u8]>,
    content: &[u8],
    batch_continues: bool,
) {
    out[..CRC_AT.start].copy_from_slice(&frame_fields(
        synced_end,
        header,
        content.len(),
        batch_continues,
    ));
    let crc = crc::record_parts(
        seed,
        at,
        &out[..RECORD_FRAME_SIZE],
        &[header.unwrap_or(&[]), content],
    );
    out[CRC_AT].copy_from_slice(&crc.to_le_bytes());
}

/// Append the records of one append (header, content each) to `buf`, whole,
/// with their CRCs computed over the bytes as they lie in `buf`. The writer
/// packs small appends this way into one buffer for one `pwrite` (a large
/// batch in several pieces: `more_after` says that more records of the same
/// batch follow the last of these, and flags it so).
///
/// Two passes: all bytes first, then the CRCs. Each record's CRC is a chain
/// of dependent `crc32` instructions; with nothing between them, the CPU
/// overlaps the chains of consecutive records, which it cannot do when
/// each CRC waits behind the copy of the next record.
pub(crate) fn append_records<'e>(
    buf: &mut Vec<u8>,
    seed: u32,
    synced_end: u64,
    first: Position,
    records: impl ExactSizeIterator<Item = (Option<&'e [u8]>, &'e [u8])> + Clone,
    more_after: bool,
) {
    let mut at = buf.len();
    let mut pos = first;
    let last = records.len().saturating_sub(1);
    for (i, (header, content)) in records.clone().enumerate() {
        let more = i != last || more_after;
        // The frame with its CRC field as zeros, in one piece.
        let mut frame = [0u8; RECORD_FRAME_SIZE];
        frame[..CRC_AT.start].copy_from_slice(&frame_fields(
            synced_end,
            header,
            content.len(),
            more,
        ));
        buf.extend_from_slice(&frame);
        if let Some(h) = header {
            buf.extend_from_slice(h);
        }
        buf.extend_from_slice(content);
    }
    for (header, content) in records {
        let end = at + record_size(header.map_or(0, <[u8]>::len), content.len()) as usize;
        let crc = crc::record(seed, pos, &buf[at..end]);
        buf[at + CRC_AT.start..at + CRC_AT.end].copy_from_slice(&crc.to_le_bytes());
        pos.offset += (end - at) as u64;
        pos.index += 1;
        at = end;
    }
}

/// What the fixed frame of a record says, before the payload is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub header_len: usize,
    pub content_len: u64,
    pub flags: u16,
    /// The writer's durable watermark in this segment when the record was
    /// written: every byte before this offset had been fdatasync'ed.
    pub synced_end: u64,
    pub crc: u32,
}

impl Frame {
    pub fn total_size(&self) -> u64 {
        record_size(self.header_len, 0) + self.content_len
    }
    pub fn batch_continues(&self) -> bool {
        self.flags & FLAG_BATCH_CONTINUES != 0
    }
    pub fn has_header(&self) -> bool {
        self.flags & FLAG_HAS_HEADER != 0
    }
    /// A truncation record (see [`FLAG_TRUNCATION`]), not a record of the log.
    #[inline]
    pub fn is_truncation(&self) -> bool {
        self.flags & FLAG_TRUNCATION != 0
    }
    /// The index a record with this frame is checked at, where the log
    /// would put `index`: 0 for a truncation record.
    #[inline]
    pub fn crc_index(&self, index: u64) -> u64 {
        if self.is_truncation() {
            0
        } else {
            index
        }
    }

    /// The fields of a 24-byte frame as they lie, nothing checked.
    #[inline]
    fn read(b: &[u8; RECORD_FRAME_SIZE]) -> Frame {
        let mut synced = [0u8; 8];
        synced[..6].copy_from_slice(&b[14..20]);
        Frame {
            header_len: usize::from(u16::from_le_bytes([b[6], b[7]])),
            content_len: u64::from(u32::from_le_bytes([b[8], b[9], b[10], b[11]])),
            flags: u16::from_le_bytes([b[12], b[13]]),
            synced_end: u64::from_le_bytes(synced),
            crc: u32::from_le_bytes([b[20], b[21], b[22], b[23]]),
        }
    }

    /// Every check of the frame alone (after the magic): `frame_fault`
    /// names the first that fails.
    #[inline]
    fn well_formed(&self) -> bool {
        self.content_len <= MAX_CONTENT_LEN
            && self.flags & !KNOWN_FLAGS == 0
            && (self.flags & FLAG_HAS_HEADER != 0 || self.header_len == 0)
            && (self.flags & FLAG_TRUNCATION == 0
                || self.flags == FLAG_TRUNCATION && self.content_len == 8)
    }

    /// Every check of a whole record `b` whose frame this is, found at
    /// `at` (the frame already well formed): `record_fault` names the
    /// first that fails.
    #[inline]
    pub(crate) fn covers(&self, b: &[u8], seed: u32, at: Position) -> bool {
        self.total_size() == b.len() as u64
            && crc::record(seed, at, b) == self.crc
            // A writer's watermark lies between the segment header (synced
            // when the segment was created) and the record's own offset.
            && (SEGMENT_HEADER_SIZE as u64..=at.offset).contains(&self.synced_end)
    }
}

/// The frame at the start of `b` when it is well formed.
///
/// Every record of a read, a replay and a recovery scan goes through this
/// or [`verified_frame`], so the checks are one branch-light conjunction
/// returning a small value; the messages of the failures are built apart,
/// cold. (A `Result<Frame, String>` built check by check went through the
/// stack and cost a store-forwarding stall per record.)
#[inline]
pub(crate) fn well_formed_frame(b: &[u8]) -> Option<Frame> {
    let f = b.first_chunk::<RECORD_FRAME_SIZE>()?;
    if f[..6] != RECORD_MAGIC {
        return None;
    }
    Some(Frame::read(f)).filter(Frame::well_formed)
}

/// The frame of `b` when `b` is exactly one whole record that verifies at
/// `at` of a segment whose CRC seed is `seed`: what
/// [`verify_record_seeded`] accepts, without its message.
#[inline]
pub(crate) fn verified_frame(b: &[u8], seed: u32, at: Position) -> Option<Frame> {
    well_formed_frame(b).filter(|f| f.covers(b, seed, at))
}

/// Parse the 24-byte frame. Checks everything that can be checked without
/// the payload, so that a garbage length is rejected before anything is
/// allocated or read from it.
#[inline]
pub fn decode_frame(b: &[u8]) -> Result<Frame, String> {
    well_formed_frame(b).ok_or_else(|| frame_fault(b))
}

/// Why `b` does not start with a well-formed frame.
#[cold]
#[inline(never)]
pub(crate) fn frame_fault(b: &[u8]) -> String {
    let Some(f) = b.first_chunk::<RECORD_FRAME_SIZE>() else {
        return format!(
            "record frame truncated: {} of {RECORD_FRAME_SIZE} bytes",
            b.len()
        );
    };
    if f[..6] != RECORD_MAGIC {
        return "bad record magic (expected \"NANORC\")".to_string();
    }
    let frame = Frame::read(f);
    if frame.content_len > MAX_CONTENT_LEN {
        return format!(
            "record content length {} exceeds the format maximum {MAX_CONTENT_LEN}",
            frame.content_len
        );
    }
    if frame.flags & !KNOWN_FLAGS != 0 {
        return format!("unknown record flags {:#x}", frame.flags);
    }
    if frame.flags & FLAG_TRUNCATION != 0
        && (frame.flags != FLAG_TRUNCATION || frame.content_len != 8)
    {
        return format!(
            "truncation record with flags {:#x} and {} bytes of content (it has no other flag and 8 bytes)",
            frame.flags, frame.content_len
        );
    }
    debug_assert!(!frame.well_formed(), "frame_fault of a well-formed frame");
    "record has a header length but no header flag".to_string()
}

/// Verify a whole record held in `b` (exactly frame + payload), found at
/// `at` (offset and index) of segment `segment_id`. Returns the frame; the
/// header is `b[24..24+header_len]`, the content follows it.
pub fn verify_record(b: &[u8], segment_id: u64, at: Position) -> Result<Frame, String> {
    verify_record_seeded(b, crc_seed(segment_id), at)
}

/// [`verify_record`] with the segment's [`crc_seed`] already computed (the
/// read path takes it from its segment instead of recomputing it per record).
#[inline]
pub(crate) fn verify_record_seeded(b: &[u8], seed: u32, at: Position) -> Result<Frame, String> {
    verified_frame(b, seed, at).ok_or_else(|| record_error(b, seed, at))
}

/// Why `b`, which [`verified_frame`] refused at `at` under `seed`, is
/// not a record that verifies: the message of its first failing check.
#[cold]
#[inline(never)]
pub(crate) fn record_error(b: &[u8], seed: u32, at: Position) -> String {
    match well_formed_frame(b) {
        Some(frame) => record_fault(frame, b, seed, at),
        None => frame_fault(b),
    }
}

/// Why the record `b`, whose well-formed frame is `frame`, does not verify.
#[cold]
#[inline(never)]
pub(crate) fn record_fault(frame: Frame, b: &[u8], seed: u32, at: Position) -> String {
    let offset = at.offset;
    if frame.total_size() != b.len() as u64 {
        return format!(
            "record is {} bytes on disk, not the {} bytes asked for",
            frame.total_size(),
            b.len()
        );
    }
    let crc = crc::record(seed, at, b);
    if crc != frame.crc {
        return format!(
            "record checksum mismatch at offset {offset} as index {} (stored {:#010x}, computed {crc:#010x})",
            at.index, frame.crc
        );
    }
    debug_assert!(!frame.covers(b, seed, at), "record_fault of a good record");
    format!(
        "record at offset {offset} says the segment was synced up to {}, \
         which is not between the segment header and the record",
        frame.synced_end
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64, index: u64) -> Position {
        Position { offset, index }
    }

    #[test]
    fn record_round_trip_and_rejections() {
        let header = b"hdr";
        let content = b"some content";
        let mut rec = vec![0u8; RECORD_FRAME_SIZE];
        encode_frame(&mut rec, 3, at(5000, 7), 4096, Some(header), content, true);
        rec.extend_from_slice(header);
        rec.extend_from_slice(content);
        let f = verify_record(&rec, 3, at(5000, 7)).unwrap();
        assert_eq!(f.header_len, 3);
        assert_eq!(f.content_len, content.len() as u64);
        assert!(f.batch_continues() && f.has_header());
        assert_eq!(f.synced_end, 4096);
        // Same bytes in another segment do not verify.
        assert!(verify_record(&rec, 4, at(5000, 7))
            .unwrap_err()
            .contains("checksum"));
        // Nor at another offset, nor as another index.
        for moved in [at(5001, 7), at(5000, 8), at(5000, 6)] {
            let err = verify_record(&rec, 3, moved).unwrap_err();
            assert!(err.contains("checksum"), "{moved:?}: {err}");
        }
        // A watermark past the record's own offset is refused.
        let mut early = vec![0u8; RECORD_FRAME_SIZE];
        encode_frame(&mut early, 3, at(4095, 7), 4096, None, b"", false);
        assert!(verify_record(&early, 3, at(4095, 7))
            .unwrap_err()
            .contains("synced"));
        // A flipped payload bit does not verify.
        let mut bad = rec.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        assert!(verify_record(&bad, 3, at(5000, 7))
            .unwrap_err()
            .contains("checksum"));
        // A longer slice than the record is not "exactly one record".
        let mut longer = rec.clone();
        longer.push(0);
        assert!(verify_record(&longer, 3, at(5000, 7)).is_err());
        // Garbage lengths are rejected from the frame alone.
        let mut huge = rec.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_frame(&huge).unwrap_err().contains("exceeds"));
    }

    /// Every way a record can fail gets its own message, and the
    /// message-free checks the read paths use refuse exactly what the
    /// message-building ones refuse.
    #[test]
    fn each_fault_is_named_and_the_fast_checks_agree() {
        let (seed, offset) = (crc_seed(3), at(5000, 12));
        let mut rec = vec![0u8; RECORD_FRAME_SIZE];
        encode_frame(&mut rec, 3, offset, 4096, None, b"content", false);
        rec.extend_from_slice(b"content");
        // Set a frame field and re-sign the record, so only that field is wrong.
        let with = |at: usize, bytes: &[u8]| {
            let mut r = rec.clone();
            r[at..at + bytes.len()].copy_from_slice(bytes);
            let crc = crc::record(seed, offset, &r);
            r[CRC_AT].copy_from_slice(&crc.to_le_bytes());
            r
        };
        let mut flipped = rec.clone();
        flipped[RECORD_FRAME_SIZE] ^= 1;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (rec[..23].to_vec(), "frame truncated: 23 of 24 bytes"),
            (with(0, b"NANORX"), "bad record magic"),
            (
                with(8, &(u32::MAX).to_le_bytes()),
                "exceeds the format maximum",
            ),
            (with(12, &8u16.to_le_bytes()), "unknown record flags 0x8"),
            (
                with(12, &4u16.to_le_bytes()),
                "truncation record with flags 0x4 and 7 bytes",
            ),
            (
                with(12, &5u16.to_le_bytes()),
                "truncation record with flags 0x5",
            ),
            (
                with(6, &1u16.to_le_bytes()),
                "header length but no header flag",
            ),
            (rec[..rec.len() - 1].to_vec(), "bytes on disk, not the"),
            (flipped, "record checksum mismatch"),
            (with(14, &[0; 6]), "says the segment was synced up to 0"),
        ];
        for (bytes, want) in &cases {
            let err = verify_record_seeded(bytes, seed, offset).unwrap_err();
            assert!(err.contains(want), "{err:?} should say {want:?}");
            assert_eq!(verified_frame(bytes, seed, offset), None, "{want}");
            let frame_ok = well_formed_frame(bytes);
            assert_eq!(frame_ok.is_some(), decode_frame(bytes).is_ok(), "{want}");
            if let Some(frame) = frame_ok {
                assert!(!frame.covers(bytes, seed, offset), "{want}");
            }
            assert_eq!(&record_error(bytes, seed, offset), &err, "{want}");
        }
        let good = verified_frame(&rec, seed, offset).unwrap();
        assert_eq!(Ok(good), verify_record_seeded(&rec, seed, offset));
    }

    #[test]
    fn packed_and_framed_records_are_the_same_bytes() {
        // Batches of 1 to 5 records, sizes on both sides of the CRC's
        // instruction/crc-fast switch.
        let contents: Vec<Vec<u8>> = [13, 1000, 1001, 5000, 0]
            .iter()
            .map(|&n| vec![n as u8; n])
            .collect();
        for n in 1..=contents.len() {
            for header in [None, Some(&b""[..]), Some(&b"hdr"[..])] {
                let mut framed = Vec::new();
                let first = at(4000, 70);
                let mut pos = first;
                for (i, content) in contents[..n].iter().enumerate() {
                    let mut frame = [0u8; RECORD_FRAME_SIZE];
                    encode_frame(&mut frame, 9, pos, 100, header, content, i + 1 < n);
                    pos.offset += record_size(header.map_or(0, <[u8]>::len), content.len());
                    pos.index += 1;
                    framed.extend_from_slice(&frame);
                    framed.extend_from_slice(header.unwrap_or(&[]));
                    framed.extend_from_slice(content);
                }
                let mut packed = b"before".to_vec();
                let records = contents[..n].iter().map(|c| (header, &c[..]));
                append_records(&mut packed, crc_seed(9), 100, first, records, false);
                assert_eq!(&packed[6..], &framed[..], "{n} records, header {header:?}");
                // The same batch packed in two pieces, as a large one is.
                for cut in 1..n {
                    let mut pieces = Vec::new();
                    let records = contents[..n].iter().map(|c| (header, &c[..]));
                    let (a, b) = (records.clone().take(cut), records.skip(cut));
                    append_records(&mut pieces, crc_seed(9), 100, first, a, true);
                    let second = at(first.offset + pieces.len() as u64, first.index + cut as u64);
                    append_records(&mut pieces, crc_seed(9), 100, second, b, false);
                    assert_eq!(
                        pieces, framed,
                        "{n} records cut at {cut}, header {header:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn synced_end_saturates_at_48_bits() {
        let mut frame = [0u8; RECORD_FRAME_SIZE];
        encode_frame(&mut frame, 1, at(64, 1), u64::MAX, None, b"", false);
        assert_eq!(decode_frame(&frame).unwrap().synced_end, MAX_SYNCED_END);
    }
}

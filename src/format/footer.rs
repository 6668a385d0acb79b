// SPDX-License-Identifier: MIT
//! The index footer of a sealed segment: the end offset of every record,
//! the byte ranges truncation records dropped (format version 3, when there
//! are any), then a 40-byte trailer, written after the last record when
//! rotation seals the segment. Open reads the trailer (and the ranges, a
//! few bytes before it); a lookup by index reads the one or two ends it
//! needs.

use super::{MAX_SEGMENT_RECORDS, SEGMENT_HEADER_SIZE};
use crate::crc;

/// Magic at the start of the trailer of a footer without dropped ranges.
pub const FOOTER_MAGIC: [u8; 8] = *b"NANOIDX1";
/// Magic at the start of the trailer of a footer with dropped ranges.
pub const FOOTER_MAGIC_RANGES: [u8; 8] = *b"NANOIDX2";
/// Size of the trailer, the last bytes of a sealed segment's file.
pub const TRAILER_SIZE: usize = 40;
/// Size of one dropped range in a footer (start and end, u64 LE each).
pub const RANGE_SIZE: usize = 16;
/// Size of the ranges' checksum and count after them (u32 LE each).
pub const RANGES_TAIL_SIZE: usize = 8;

/// What a footer's trailer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// Index of the segment's first record (equal to its header's).
    pub first_index: u64,
    /// Records in the segment.
    pub count: u64,
    /// End of the last record, where the ends array starts.
    pub data_end: u64,
    /// CRC32C of the ends array, from the segment's seed.
    pub ends_crc: u32,
    /// Dropped ranges between the ends array and the trailer (0 with
    /// [`FOOTER_MAGIC`]).
    pub ranges: u64,
}

/// Size of the footer of a segment of `records` records and `ranges`
/// dropped ranges.
pub fn footer_size(records: u64, ranges: u64) -> u64 {
    let ranges = match ranges {
        0 => 0,
        r => r * RANGE_SIZE as u64 + RANGES_TAIL_SIZE as u64,
    };
    8 * records + ranges + TRAILER_SIZE as u64
}

impl Trailer {
    /// The footer of a segment whose records end at `ends`, the first of
    /// them with index `first_index`, the byte ranges `dropped` dropped by
    /// its truncation records, CRCs from the segment's `seed`.
    pub fn encode_footer(
        seed: u32,
        first_index: u64,
        ends: &[u64],
        dropped: &[(u64, u64)],
    ) -> Vec<u8> {
        // The data ends after the last record, or after the last dropped
        // range when that is later (a truncation with no record after it).
        let data_end = ends
            .last()
            .copied()
            .unwrap_or(SEGMENT_HEADER_SIZE as u64)
            .max(dropped.last().map_or(0, |r| r.1));
        let mut out =
            Vec::with_capacity(footer_size(ends.len() as u64, dropped.len() as u64) as usize);
        for end in ends {
            out.extend_from_slice(&end.to_le_bytes());
        }
        let ends_crc = crc::extend(seed, &out);
        let magic = if dropped.is_empty() {
            FOOTER_MAGIC
        } else {
            let at = out.len();
            for (start, end) in dropped {
                out.extend_from_slice(&start.to_le_bytes());
                out.extend_from_slice(&end.to_le_bytes());
            }
            let ranges_crc = crc::extend(seed, &out[at..]);
            out.extend_from_slice(&ranges_crc.to_le_bytes());
            out.extend_from_slice(&(dropped.len() as u32).to_le_bytes());
            FOOTER_MAGIC_RANGES
        };
        out.extend_from_slice(&magic);
        out.extend_from_slice(&first_index.to_le_bytes());
        out.extend_from_slice(&(ends.len() as u64).to_le_bytes());
        out.extend_from_slice(&data_end.to_le_bytes());
        out.extend_from_slice(&ends_crc.to_le_bytes());
        let at = out.len() - 36;
        let trailer_crc = crc::extend(seed, &out[at..]);
        out.extend_from_slice(&trailer_crc.to_le_bytes());
        out
    }

    /// Decode and check the trailer `b` (its 40 bytes) of a segment file of
    /// `file_len` bytes whose seed is `seed` and header says `first_index`.
    /// The error says why the footer cannot be trusted.
    pub fn decode(b: &[u8], seed: u32, first_index: u64, file_len: u64) -> Result<Trailer, String> {
        let Some(b) = b.first_chunk::<TRAILER_SIZE>() else {
            return Err(format!(
                "index footer trailer truncated: {} of 40 bytes",
                b.len()
            ));
        };
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let with_ranges = b[0..8] == FOOTER_MAGIC_RANGES;
        if b[0..8] != FOOTER_MAGIC && !with_ranges {
            return Err(
                "no index footer (bad trailer magic, expected \"NANOIDX1\" or \"NANOIDX2\")".into(),
            );
        }
        let stored = u32::from_le_bytes(b[36..40].try_into().unwrap());
        let computed = crc::extend(seed, &b[0..36]);
        if stored != computed {
            return Err(format!(
                "index footer trailer checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ));
        }
        let mut t = Trailer {
            first_index: u64_at(8),
            count: u64_at(16),
            data_end: u64_at(24),
            ends_crc: u32::from_le_bytes(b[32..36].try_into().unwrap()),
            ranges: 0,
        };
        if t.first_index != first_index {
            return Err(format!(
                "index footer says first index {}, the header {first_index}",
                t.first_index
            ));
        }
        // The ranges fill what the ends and the trailer leave of the file.
        let left = (t.count <= MAX_SEGMENT_RECORDS && t.data_end >= SEGMENT_HEADER_SIZE as u64)
            .then(|| {
                file_len
                    .checked_sub(t.data_end)?
                    .checked_sub(8 * t.count + TRAILER_SIZE as u64)
            })
            .flatten();
        let fits = match (left, with_ranges) {
            (Some(0), false) => true,
            (Some(left), true) => {
                let ranges = left.saturating_sub(RANGES_TAIL_SIZE as u64);
                t.ranges = ranges / RANGE_SIZE as u64;
                left >= (RANGES_TAIL_SIZE + RANGE_SIZE) as u64 && ranges % RANGE_SIZE as u64 == 0
            }
            _ => false,
        };
        if !fits {
            return Err(format!(
                "index footer of {} records after data ending at {} does not fill the file's {file_len} bytes",
                t.count, t.data_end
            ));
        }
        Ok(t)
    }

    /// Where the dropped ranges and their checksum and count lie in the
    /// file (empty without ranges).
    pub fn ranges_span(&self) -> std::ops::Range<u64> {
        let at = self.data_end + 8 * self.count;
        match self.ranges {
            0 => at..at,
            r => at..at + r * RANGE_SIZE as u64 + RANGES_TAIL_SIZE as u64,
        }
    }

    /// Decode and check the dropped ranges `b` (the bytes of
    /// [`Trailer::ranges_span`]): their checksum and count, and that they
    /// are in order, apart, and inside the data.
    pub fn decode_ranges(&self, b: &[u8], seed: u32) -> Result<Vec<(u64, u64)>, String> {
        let r = self.ranges as usize;
        if b.len() != r * RANGE_SIZE + RANGES_TAIL_SIZE {
            return Err("index footer: the dropped ranges are cut short".into());
        }
        let (ranges, tail) = b.split_at(r * RANGE_SIZE);
        let stored = u32::from_le_bytes(tail[0..4].try_into().unwrap());
        let count = u32::from_le_bytes(tail[4..8].try_into().unwrap());
        if stored != crc::extend(seed, ranges) || count as usize != r {
            return Err("index footer: the dropped ranges do not verify".into());
        }
        let out: Vec<(u64, u64)> = ranges
            .chunks_exact(RANGE_SIZE)
            .map(|c| {
                (
                    u64::from_le_bytes(c[0..8].try_into().unwrap()),
                    u64::from_le_bytes(c[8..16].try_into().unwrap()),
                )
            })
            .collect();
        let mut floor = SEGMENT_HEADER_SIZE as u64;
        for &(start, end) in &out {
            if start < floor || end <= start || end > self.data_end {
                return Err(format!(
                    "index footer: dropped range {start}..{end} is out of order or outside the data"
                ));
            }
            floor = end;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_footer_round_trips_and_every_trailer_byte_counts() {
        let seed = crate::format::crc_seed(4);
        let ends = [100u64, 180, 4000];
        let footer = Trailer::encode_footer(seed, 77, &ends, &[]);
        let len = 4000 + footer.len() as u64;
        let trailer = &footer[footer.len() - TRAILER_SIZE..];
        let t = Trailer::decode(trailer, seed, 77, len).unwrap();
        assert_eq!((t.first_index, t.count, t.data_end), (77, 3, 4000));
        assert_eq!(t.ends_crc, crc::extend(seed, &footer[..24]));
        for i in 0..TRAILER_SIZE {
            let mut bad = trailer.to_vec();
            bad[i] ^= 1;
            assert!(Trailer::decode(&bad, seed, 77, len).is_err(), "byte {i}");
        }
        assert!(Trailer::decode(trailer, seed, 78, len).is_err());
        assert!(Trailer::decode(trailer, seed, 77, len + 1).is_err());
        assert!(Trailer::decode(trailer, seed ^ 1, 77, len).is_err());
    }

    #[test]
    fn a_footer_with_dropped_ranges_round_trips_and_its_ranges_are_checked() {
        let seed = crate::format::crc_seed(4);
        let ends = [100u64, 180, 4000];
        let dropped = [(180u64, 900u64), (1200, 3000)];
        let footer = Trailer::encode_footer(seed, 77, &ends, &dropped);
        assert_eq!(footer.len() as u64, footer_size(3, 2));
        let len = 4000 + footer.len() as u64;
        let t = Trailer::decode(&footer[footer.len() - TRAILER_SIZE..], seed, 77, len).unwrap();
        assert_eq!((t.count, t.data_end, t.ranges), (3, 4000, 2));
        let span = t.ranges_span();
        let bytes = &footer[(span.start - 4000) as usize..(span.end - 4000) as usize];
        assert_eq!(t.decode_ranges(bytes, seed).unwrap(), dropped);
        for i in 0..bytes.len() {
            let mut bad = bytes.to_vec();
            bad[i] ^= 1;
            assert!(t.decode_ranges(&bad, seed).is_err(), "byte {i}");
        }
        // Ranges out of order, overlapping or past the data are refused
        // even with a good checksum.
        for bad in [[(900u64, 180u64)], [(10, 100)]] {
            let f = Trailer::encode_footer(seed, 77, &ends, &bad);
            let len = 4000.max(bad[0].1) + f.len() as u64;
            if let Ok(t) = Trailer::decode(&f[f.len() - TRAILER_SIZE..], seed, 77, len) {
                let span = t.ranges_span();
                let at = (span.start - (len - f.len() as u64)) as usize;
                let b = &f[at..at + (span.end - span.start) as usize];
                assert!(t.decode_ranges(b, seed).is_err(), "{bad:?}");
            }
        }
        // A trailer with ranges on a file they do not fill is refused.
        assert!(
            Trailer::decode(&footer[footer.len() - TRAILER_SIZE..], seed, 77, len - 8).is_err()
        );
        // A footer without ranges keeps the version 2 layout.
        let plain = Trailer::encode_footer(seed, 77, &ends, &[]);
        assert_eq!(&plain[plain.len() - 40..plain.len() - 32], b"NANOIDX1");
        assert_eq!(plain.len() as u64, footer_size(3, 0));
    }

    #[test]
    fn a_data_end_that_would_wrap_the_length_equation_is_refused() {
        let seed = crate::format::crc_seed(4);
        // A 200-byte file cannot hold 100 ends; a data_end of
        // 200 - 840 modulo 2^64 would make the equation hold if it wrapped.
        let (count, file_len) = (100u64, 200u64);
        let wrapping = file_len.wrapping_sub(8 * count + TRAILER_SIZE as u64);
        for data_end in [wrapping, u64::MAX] {
            let mut t = FOOTER_MAGIC.to_vec();
            for v in [77, count, data_end] {
                t.extend_from_slice(&v.to_le_bytes());
            }
            t.extend_from_slice(&0u32.to_le_bytes());
            let crc = crc::extend(seed, &t);
            t.extend_from_slice(&crc.to_le_bytes());
            let got = Trailer::decode(&t, seed, 77, file_len);
            assert!(got.is_err(), "data_end {data_end:#x}: {got:?}");
        }
    }
}

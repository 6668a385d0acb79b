// SPDX-License-Identifier: MIT
//! The index footer of a sealed segment: the end offset of every record,
//! then a 40-byte trailer, written after the last record when rotation
//! seals the segment. Open reads the trailer only; a lookup by index reads
//! the one or two ends it needs.

use super::{MAX_SEGMENT_RECORDS, SEGMENT_HEADER_SIZE};
use crate::crc;

/// Magic at the start of the trailer.
pub const FOOTER_MAGIC: [u8; 8] = *b"NANOIDX1";
/// Size of the trailer, the last bytes of a sealed segment's file.
pub const TRAILER_SIZE: usize = 40;

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
}

impl Trailer {
    /// The footer of a segment whose records end at `ends`, the first of
    /// them with index `first_index`, CRCs from the segment's `seed`.
    pub fn encode_footer(seed: u32, first_index: u64, ends: &[u64]) -> Vec<u8> {
        let data_end = ends.last().copied().unwrap_or(SEGMENT_HEADER_SIZE as u64);
        let mut out = Vec::with_capacity(ends.len() * 8 + TRAILER_SIZE);
        for end in ends {
            out.extend_from_slice(&end.to_le_bytes());
        }
        let ends_crc = crc::extend(seed, &out);
        out.extend_from_slice(&FOOTER_MAGIC);
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
        if b[0..8] != FOOTER_MAGIC {
            return Err("no index footer (bad trailer magic, expected \"NANOIDX1\")".into());
        }
        let stored = u32::from_le_bytes(b[36..40].try_into().unwrap());
        let computed = crc::extend(seed, &b[0..36]);
        if stored != computed {
            return Err(format!(
                "index footer trailer checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ));
        }
        let t = Trailer {
            first_index: u64_at(8),
            count: u64_at(16),
            data_end: u64_at(24),
            ends_crc: u32::from_le_bytes(b[32..36].try_into().unwrap()),
        };
        if t.first_index != first_index {
            return Err(format!(
                "index footer says first index {}, the header {first_index}",
                t.first_index
            ));
        }
        let fits = t.count <= MAX_SEGMENT_RECORDS
            && t.data_end >= SEGMENT_HEADER_SIZE as u64
            && t.data_end.checked_add(8 * t.count + TRAILER_SIZE as u64) == Some(file_len);
        if !fits {
            return Err(format!(
                "index footer of {} records after data ending at {} does not fill the file's {file_len} bytes",
                t.count, t.data_end
            ));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_footer_round_trips_and_every_trailer_byte_counts() {
        let seed = crate::format::crc_seed(4);
        let ends = [100u64, 180, 4000];
        let footer = Trailer::encode_footer(seed, 77, &ends);
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

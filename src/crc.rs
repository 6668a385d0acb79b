// SPDX-License-Identifier: MIT
//! CRC32C (Castagnoli) of records, as docs/FORMAT.md defines it: from the
//! segment's seed, over the record's position (offset and index, u64 LE
//! each), then the whole record with its CRC field (bytes 20..24) taken as
//! zeros.
//!
//! Records are mostly small. On x86-64 with SSE4.2, records up to 1 KiB
//! (whole, or in pieces: a frame apart from its payload) are
//! checksummed with the `crc32` instruction directly: no dispatch and no
//! parameter block per call, and consecutive records' chains overlap in
//! the CPU (measured on this machine kind: 6.4 ns for a 152-byte record,
//! against 32 ns through crc-fast's `Digest`; even at 1 KiB, 62 vs 66 ns).
//! Larger records go to `crc-fast`, whose folded CLMUL code is much faster
//! there (87 ns at 4 KiB). Every path gives the same value (tested against
//! the `crc32c` crate).
//!
//! The one unsafe call here is the CPU-instruction counterpart of the
//! syscall wrappers in `sys`: the `#[target_feature]` functions require
//! SSE4.2 and are called only after `is_x86_feature_detected!` found it.

use crc_fast::{CrcAlgorithm::Crc32Iscsi, Digest};

/// Where the CRC sits in the record frame.
pub(crate) const CRC_FIELD: std::ops::Range<usize> = 20..24;

/// Records up to this size take the `crc32`-instruction path; larger ones
/// crc-fast's folded code (the crossover measured on this machine kind).
const INSTRUCTION_LIMIT: usize = 1024;

/// CRC32C of `data`, continuing from the finished CRC `crc` (0 to start):
/// `extend(extend(0, a), b) == crc32c(a ++ b)`.
pub(crate) fn extend(crc: u32, data: &[u8]) -> u32 {
    let mut d = Digest::new_with_init_state(Crc32Iscsi, u64::from(!crc));
    d.update(data);
    d.finalize() as u32
}

/// Where a record lies: the byte offset of its frame in the segment file
/// and its index in the log. Its CRC covers both, so a record copied to
/// another place never verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub offset: u64,
    pub index: u64,
}

/// The CRC of one whole record `rec` (frame and payload, at least the 24
/// bytes of the frame) at `at`, from the segment's `seed`, with the CRC
/// field taken as zeros whatever it holds.
#[inline]
pub(crate) fn record(seed: u32, at: Position, rec: &[u8]) -> u32 {
    assert!(rec.len() >= CRC_FIELD.end, "a record has a 24-byte frame");
    #[cfg(target_arch = "x86_64")]
    if rec.len() <= INSTRUCTION_LIMIT && std::is_x86_feature_detected!("sse4.2") {
        // SAFETY: `record_sse42` needs SSE4.2, which the CPU was just found
        // to have (the detection result is cached by std).
        return unsafe { x86::record_sse42(seed, at, rec) };
    }
    record_portable(seed, at, rec)
}

fn record_portable(seed: u32, at: Position, rec: &[u8]) -> u32 {
    record_parts_portable(seed, at, &rec[..CRC_FIELD.end], &[&rec[CRC_FIELD.end..]])
}

/// [`record`] of a record held in pieces: its 24-byte `frame` (CRC field
/// taken as zeros) and the `payload` pieces that follow it, in order (the
/// writer's frames are apart from the caller's header and content).
pub(crate) fn record_parts(seed: u32, at: Position, frame: &[u8], payload: &[&[u8]]) -> u32 {
    assert_eq!(frame.len(), CRC_FIELD.end, "a record frame is 24 bytes");
    #[cfg(target_arch = "x86_64")]
    if payload.iter().map(|p| p.len()).sum::<usize>() <= INSTRUCTION_LIMIT - CRC_FIELD.end
        && std::is_x86_feature_detected!("sse4.2")
    {
        // SAFETY: as in `record`: the CPU was just found to have SSE4.2.
        return unsafe { x86::record_parts_sse42(seed, at, frame, payload) };
    }
    record_parts_portable(seed, at, frame, payload)
}

fn record_parts_portable(seed: u32, at: Position, frame: &[u8], payload: &[&[u8]]) -> u32 {
    let mut d = Digest::new_with_init_state(Crc32Iscsi, u64::from(!seed));
    d.update(&at.offset.to_le_bytes());
    d.update(&at.index.to_le_bytes());
    d.update(&frame[..CRC_FIELD.start]);
    d.update(&[0; 4]);
    for piece in payload {
        d.update(piece);
    }
    d.finalize() as u32
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Position, CRC_FIELD};
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};

    fn le64(b: &[u8]) -> u64 {
        u64::from_le_bytes(b[..8].try_into().unwrap())
    }

    // Inside `#[target_feature(enable = "sse4.2")]` functions the SSE4.2
    // intrinsics are safe to call; calling these functions is not, except
    // from one another: `record` checks the CPU first.

    /// The chain over the position (two words) and the 24-byte frame, CRC
    /// field as zeros (the instruction takes the low byte of the word first:
    /// masking the top four bytes of the third word zeroes bytes 20..24).
    #[target_feature(enable = "sse4.2")]
    fn frame(state: u64, at: Position, rec: &[u8]) -> u64 {
        const _: () = assert!(super::CRC_FIELD.start == 20 && super::CRC_FIELD.end == 24);
        let s = _mm_crc32_u64(state, at.offset);
        let s = _mm_crc32_u64(s, at.index);
        let s = _mm_crc32_u64(s, le64(&rec[0..]));
        let s = _mm_crc32_u64(s, le64(&rec[8..]));
        _mm_crc32_u64(s, le64(&rec[16..]) & 0xffff_ffff)
    }

    #[target_feature(enable = "sse4.2")]
    fn bytes(mut state: u64, data: &[u8]) -> u64 {
        let (words, rest) = data.as_chunks::<8>();
        for w in words {
            state = _mm_crc32_u64(state, u64::from_le_bytes(*w));
        }
        for &b in rest {
            state = u64::from(_mm_crc32_u8(state as u32, b));
        }
        state
    }

    #[target_feature(enable = "sse4.2")]
    pub(super) fn record_sse42(seed: u32, at: Position, rec: &[u8]) -> u32 {
        let s = frame(u64::from(!seed), at, rec);
        !(bytes(s, &rec[CRC_FIELD.end..]) as u32)
    }

    /// [`record_sse42`] of a record in pieces: the chain runs on from one
    /// piece into the next, whatever their lengths.
    #[target_feature(enable = "sse4.2")]
    pub(super) fn record_parts_sse42(
        seed: u32,
        at: Position,
        rec_frame: &[u8],
        payload: &[&[u8]],
    ) -> u32 {
        let mut s = frame(u64::from(!seed), at, rec_frame);
        for piece in payload {
            s = bytes(s, piece);
        }
        !(s as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: CRC32C of the position and the record with the field
    /// zeroed, seeded, by the independent `crc32c` crate.
    fn reference(seed: u32, at: Position, rec: &[u8]) -> u32 {
        let mut z = at.offset.to_le_bytes().to_vec();
        z.extend_from_slice(&at.index.to_le_bytes());
        z.extend_from_slice(rec);
        z[16 + CRC_FIELD.start..16 + CRC_FIELD.end].fill(0);
        crc32c::crc32c_append(seed, &z)
    }

    const AT: Position = Position {
        offset: 4096,
        index: 0x0123_4567_89ab_cdef,
    };

    fn bytes(len: usize, mut x: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn every_path_matches_an_independent_crc32c_at_every_length() {
        let seed = extend(0, &7u64.to_le_bytes());
        for len in (24..=1100).chain([4096, 4120, 70_000]) {
            let rec = bytes(len, len as u64);
            let want = reference(seed, AT, &rec);
            assert_eq!(record(seed, AT, &rec), want, "len {len}");
            assert_eq!(record_portable(seed, AT, &rec), want, "len {len}");
            let (frame, payload) = rec.split_at(CRC_FIELD.end);
            let (a, b) = payload.split_at(payload.len() / 3);
            assert_eq!(record_parts(seed, AT, frame, &[a, b]), want, "len {len}");
            let (b, c) = b.split_at(b.len() / 2);
            assert_eq!(
                record_parts(seed, AT, frame, &[a, &[], b, c]),
                want,
                "len {len}"
            );
            assert_eq!(
                record_parts_portable(seed, AT, frame, &[a, b, c]),
                want,
                "len {len}"
            );
        }
    }

    #[test]
    fn the_crc_field_is_read_as_zeros_and_every_other_byte_counts() {
        let seed = 0x1234_5678;
        let rec = bytes(152, 9);
        let base = record(seed, AT, &rec);
        for i in 0..rec.len() {
            let mut m = rec.clone();
            m[i] ^= 0x40;
            let got = record(seed, AT, &m);
            assert_eq!(got, record_portable(seed, AT, &m));
            assert_eq!(got == base, CRC_FIELD.contains(&i), "byte {i}");
        }
        assert_ne!(record(seed ^ 1, AT, &rec), base, "the seed counts");
        let moved = Position {
            offset: AT.offset + 1,
            ..AT
        };
        assert_ne!(record(seed, moved, &rec), base, "the offset counts");
        let renumbered = Position {
            index: AT.index + 1,
            ..AT
        };
        assert_ne!(record(seed, renumbered, &rec), base, "the index counts");
    }

    #[test]
    fn extend_continues_a_finished_crc() {
        let data = bytes(300, 3);
        assert_eq!(extend(0, &data), crc32c::crc32c(&data));
        assert_eq!(
            extend(extend(0, &data[..100]), &data[100..]),
            crc32c::crc32c(&data)
        );
    }
}

// SPDX-License-Identifier: MIT
//! The on-disk format, byte by byte (docs/FORMAT.md is the prose version of
//! this module; keep the two in step).
//!
//! Segment file = one 64-byte segment header (`header`), then records back
//! to back. Record = 24-byte frame (`frame`), then the record header bytes,
//! then the content. All integers are little-endian. The names of a
//! stream's files in the log directory are built and parsed in `names`; the
//! metadata file's two slots are encoded and decoded in `meta`.

mod footer;
mod frame;
mod header;
pub mod meta;
pub(crate) mod names;

pub use crate::crc::Position;
pub use footer::{footer_size, Trailer, FOOTER_MAGIC, FOOTER_MAGIC_RANGES, TRAILER_SIZE};
pub(crate) use frame::{
    append_records, encode_frame_seeded, frame_fault, record_error, record_fault, verified_frame,
    well_formed_frame,
};
pub use frame::{decode_frame, encode_frame, verify_record, Frame};
pub use header::SegmentHeader;

use crate::crc;

/// Magic at offset 0 of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"NANO-LOG";
/// Magic at offset 0 of every record.
pub const RECORD_MAGIC: [u8; 6] = *b"NANORC";
/// Format version written into new segments. Version 3 adds truncation
/// records ([`FLAG_TRUNCATION`]) and index footers that list dropped byte
/// ranges; a version 2 segment is version 3 without either, so readers
/// take both ([`READ_VERSIONS`]) and refuse any other.
pub const FORMAT_VERSION: u16 = 3;
/// Format versions readers take.
pub const READ_VERSIONS: [u16; 2] = [2, 3];
/// Size of the segment header; the first record starts here.
pub const SEGMENT_HEADER_SIZE: usize = 64;
/// Size of the fixed frame in front of every record.
pub const RECORD_FRAME_SIZE: usize = 24;
/// Largest record header (the u16 length field).
pub const MAX_HEADER_LEN: usize = u16::MAX as usize;
/// Largest record content. The u64 length field could hold more, but one
/// record must fit one positional read (Linux caps a read at ~2 GiB) and one
/// allocation a reader can afford; 1 GiB is far above any sane WAL record.
pub const MAX_CONTENT_LEN: u64 = 1 << 30;

/// Most records one segment holds: an append that would pass it rolls the
/// log, as the size cap does, so the active segment's in-memory record
/// ends stay within 32 MiB.
pub const MAX_SEGMENT_RECORDS: u64 = 1 << 22;

/// Highest first index a log may start at (the `first_index` option, a
/// reset): indexes above it are left for the records, so that no index
/// overflows u64.
pub const MAX_FIRST_INDEX: u64 = 1 << 63;

/// Largest value of a frame's `synced_end` field (48 bits).
pub const MAX_SYNCED_END: u64 = (1 << 48) - 1;

/// Frame flag: more records of the same `append_batch` follow this one.
/// The last record of a batch (and every single append) has it clear, so a
/// batch cut short by a crash ends in a record with this flag set and is
/// dropped as a unit by recovery.
pub const FLAG_BATCH_CONTINUES: u16 = 1 << 0;
/// Frame flag: the record has a header (possibly empty). Distinguishes
/// `Some(b"")` from `None`.
pub const FLAG_HAS_HEADER: u16 = 1 << 1;
/// Frame flag: a truncation record, not a record of the log. Its content
/// is 8 bytes, the index of the last record it keeps (u64 LE); every record
/// of the segment before it with a higher index is dropped, and the record
/// after it gets the next index. It has no header and no other flag, and
/// its CRC is taken at index 0 (no record has that index).
pub const FLAG_TRUNCATION: u16 = 1 << 2;
/// Size of a truncation record (frame and its 8 bytes of content).
pub const TRUNCATION_RECORD_SIZE: u64 = RECORD_FRAME_SIZE as u64 + 8;

/// The 32 bytes of a truncation record keeping the records up to `kept`,
/// at `offset` of the segment whose CRC seed is `seed`.
pub(crate) fn encode_truncation(
    seed: u32,
    offset: u64,
    synced_end: u64,
    kept: u64,
) -> [u8; TRUNCATION_RECORD_SIZE as usize] {
    let mut b = [0u8; TRUNCATION_RECORD_SIZE as usize];
    frame::encode_truncation_frame(&mut b, seed, offset, synced_end, kept);
    b
}

/// Total on-disk size of a record with the given payload lengths.
pub fn record_size(header_len: usize, content_len: usize) -> u64 {
    (RECORD_FRAME_SIZE + header_len) as u64 + content_len as u64
}

/// The CRC seed of segment `segment_id`: the CRC32C of its id (8 bytes LE).
/// Every record CRC starts from it, so a record copied into another segment
/// never verifies. Computed once per segment by the writer.
pub fn crc_seed(segment_id: u64) -> u32 {
    crc::extend(0, &segment_id.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_an_independent_crc32c() {
        for len in [0usize, 1, 7, 8, 24, 152, 4120, 70_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            for seed in [0u32, 1, 0xdead_beef] {
                assert_eq!(
                    crc::extend(seed, &data),
                    crc32c::crc32c_append(seed, &data),
                    "{len} bytes from {seed:#x}"
                );
            }
        }
        assert_eq!(crc_seed(7), crc32c::crc32c(&7u64.to_le_bytes()));
    }
}

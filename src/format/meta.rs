// SPDX-License-Identifier: MIT
//! The metadata file of a stream (`{stream}.meta`), byte by byte: two
//! fixed slots, each holding the whole map (docs/FORMAT.md, "Metadata
//! file"). Pure encoding and decoding; the file I/O is in `crate::meta`.
//!
//! Slot `n` (0 or 1) starts at `n * SLOT_SIZE`. Its bytes, all integers
//! little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `NANOMETA` |
//! | 8 | 2 | slot format version (1) |
//! | 10 | 2 | flags (0) |
//! | 12 | 4 | entry count (at most [`MAX_META_KEYS`]) |
//! | 16 | 8 | generation |
//! | 24 | 8 | `purged_before` (0 with `purge_segment_id` 0: no purge point) |
//! | 32 | 8 | `purge_segment_id` |
//! | 40 | 4 | payload length P |
//! | 44 | P | entries, sorted by key: key length u8, key, value length u16, value |
//! | 44 + P | 4 | CRC32C, seeded with the slot number (see [`slot_crc`]) |

use crate::crc;
use crate::error::{Result, WalError};
use std::collections::BTreeMap;

/// Magic at the start of each slot.
pub const META_MAGIC: [u8; 8] = *b"NANOMETA";
/// Version of the slot layout; readers refuse any other.
pub const META_VERSION: u16 = 1;
/// Longest key, in bytes.
pub const MAX_META_KEY_LEN: usize = 64;
/// Longest value, in bytes.
pub const MAX_META_VALUE_LEN: usize = 4096;
/// Most keys a stream's metadata holds.
pub const MAX_META_KEYS: usize = 64;
/// Bytes in front of the entries.
pub const SLOT_HEADER_SIZE: usize = 44;
/// Bytes of one entry's framing (key length u8, value length u16).
pub const ENTRY_FRAMING: usize = 3;
/// The largest slot an encoding can produce: the header, 64 entries of the
/// longest key and value, and the CRC.
pub const MAX_SLOT_LEN: usize =
    SLOT_HEADER_SIZE + MAX_META_KEYS * (ENTRY_FRAMING + MAX_META_KEY_LEN + MAX_META_VALUE_LEN) + 4;
/// Distance between the two slots: [`MAX_SLOT_LEN`] rounded up to 4 KiB
/// pages, so the slots never share a page.
pub const SLOT_SIZE: usize = MAX_SLOT_LEN.div_ceil(4096) * 4096;

/// Where a purge left the log: every index below `before` is gone, and
/// `segment_id` is the segment that held `before` when it was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgePoint {
    pub before: u64,
    pub segment_id: u64,
}

/// The whole content of one slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaSlot {
    /// Raised by one on every write; the slot with the higher one is current.
    pub generation: u64,
    pub purge: Option<PurgePoint>,
    /// The user's keys and values.
    pub entries: BTreeMap<String, Vec<u8>>,
}

/// Keys from here on belong to the engine (reader holds): the metadata
/// calls refuse them.
pub const RESERVED_KEY_PREFIX: &str = "nwal.";

/// Check a key of the metadata calls: a key (below) not starting with
/// [`RESERVED_KEY_PREFIX`].
pub fn validate_user_meta_key(key: &str) -> Result<()> {
    validate_meta_key(key)?;
    if key.starts_with(RESERVED_KEY_PREFIX) {
        return Err(WalError::InvalidArgument(format!(
            "invalid metadata key {key:?}: keys starting with {RESERVED_KEY_PREFIX:?} are \
             reserved (reader holds are kept there)"
        )));
    }
    Ok(())
}

/// Check a key: 1-64 bytes of `[A-Za-z0-9._-]`.
pub fn validate_meta_key(key: &str) -> Result<()> {
    if !is_meta_key(key.as_bytes()) {
        return Err(WalError::InvalidArgument(format!(
            "invalid metadata key {key:?}: must be 1-{MAX_META_KEY_LEN} bytes of [A-Za-z0-9._-]"
        )));
    }
    Ok(())
}

/// Check a value's length: at most 4096 bytes.
pub fn validate_meta_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_META_VALUE_LEN {
        return Err(WalError::InvalidArgument(format!(
            "metadata value of {} bytes exceeds the maximum of {MAX_META_VALUE_LEN}",
            value.len()
        )));
    }
    Ok(())
}

fn is_meta_key(key: &[u8]) -> bool {
    !key.is_empty()
        && key.len() <= MAX_META_KEY_LEN
        && key
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// The CRC of a slot's bytes before its CRC field (`body`), written as slot
/// `slot` (0 or 1): CRC32C of the slot number (u64 LE), then the body. A
/// slot copied to the other slot's offset does not verify.
pub fn slot_crc(slot: u8, body: &[u8]) -> u32 {
    crc::extend(crc::extend(0, &u64::from(slot).to_le_bytes()), body)
}

/// The bytes of `meta` as slot `slot`. Panics if `meta` breaks a limit
/// (the store validates keys and values before it builds a map).
pub fn encode_slot(meta: &MetaSlot, slot: u8) -> Vec<u8> {
    assert!(slot < 2, "a metadata file has two slots");
    assert!(
        meta.entries.len() <= MAX_META_KEYS,
        "too many metadata keys"
    );
    let (before, segment_id) = match meta.purge {
        Some(p) => {
            assert!(p.before != 0, "a purge point is before an index >= 1");
            (p.before, p.segment_id)
        }
        None => (0, 0),
    };
    let payload: usize = meta
        .entries
        .iter()
        .map(|(k, v)| ENTRY_FRAMING + k.len() + v.len())
        .sum();
    let mut out = Vec::with_capacity(SLOT_HEADER_SIZE + payload + 4);
    out.extend_from_slice(&META_MAGIC);
    out.extend_from_slice(&META_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(meta.entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta.generation.to_le_bytes());
    out.extend_from_slice(&before.to_le_bytes());
    out.extend_from_slice(&segment_id.to_le_bytes());
    out.extend_from_slice(&(payload as u32).to_le_bytes());
    for (key, value) in &meta.entries {
        assert!(is_meta_key(key.as_bytes()), "invalid metadata key {key:?}");
        assert!(value.len() <= MAX_META_VALUE_LEN, "metadata value too long");
        out.push(key.len() as u8);
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        out.extend_from_slice(value);
    }
    let crc = slot_crc(slot, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Decode the slot `slot` from `bytes`, the file's bytes from the slot's
/// offset on (bytes after the slot's CRC are ignored: a shorter map leaves
/// the end of a longer, older one there). `Err` says why it does not
/// verify. Accepts exactly what [`encode_slot`] writes: every field is
/// checked, the CRC first.
pub fn decode_slot(bytes: &[u8], slot: u8) -> std::result::Result<MetaSlot, String> {
    if bytes.len() < SLOT_HEADER_SIZE + 4 {
        return Err(format!("slot holds {} bytes, too short", bytes.len()));
    }
    if bytes[..8] != META_MAGIC {
        return Err("bad magic".into());
    }
    let payload = u32_at(bytes, 40) as usize;
    if payload > MAX_SLOT_LEN - SLOT_HEADER_SIZE - 4 {
        return Err(format!("payload length {payload} exceeds the largest map"));
    }
    let end = SLOT_HEADER_SIZE + payload;
    if bytes.len() < end + 4 {
        return Err(format!(
            "slot holds {} bytes, its payload length needs {}",
            bytes.len(),
            end + 4
        ));
    }
    if slot_crc(slot, &bytes[..end]) != u32_at(bytes, end) {
        return Err("checksum mismatch".into());
    }
    let version = u16_at(bytes, 8);
    if version != META_VERSION {
        return Err(format!("unsupported metadata version {version}"));
    }
    let flags = u16_at(bytes, 10);
    if flags != 0 {
        return Err(format!("unknown flags {flags:#x}"));
    }
    let count = u32_at(bytes, 12) as usize;
    if count > MAX_META_KEYS {
        return Err(format!("{count} keys, more than {MAX_META_KEYS}"));
    }
    let (before, segment_id) = (u64_at(bytes, 24), u64_at(bytes, 32));
    let purge = match (before, segment_id) {
        (0, 0) => None,
        (0, _) => return Err("purge segment without a purge index".into()),
        (before, segment_id) => Some(PurgePoint { before, segment_id }),
    };
    let entries = decode_entries(&bytes[SLOT_HEADER_SIZE..end], count)?;
    Ok(MetaSlot {
        generation: u64_at(bytes, 16),
        purge,
        entries,
    })
}

/// `count` entries filling `p` exactly, keys valid and strictly increasing.
fn decode_entries(
    mut p: &[u8],
    count: usize,
) -> std::result::Result<BTreeMap<String, Vec<u8>>, String> {
    let mut entries = BTreeMap::new();
    let mut last: Option<&str> = None;
    for i in 0..count {
        let key_len = *p.first().ok_or(format!("entry {i} cut short"))? as usize;
        let key = p
            .get(1..1 + key_len)
            .ok_or(format!("entry {i} cut short"))?;
        if !is_meta_key(key) {
            return Err(format!("entry {i} has an invalid key"));
        }
        let key = std::str::from_utf8(key).expect("the key alphabet is ASCII");
        if last.is_some_and(|l| l >= key) {
            return Err(format!("entry {i}: keys out of order"));
        }
        let at = 1 + key_len;
        let len = p.get(at..at + 2).ok_or(format!("entry {i} cut short"))?;
        let value_len = u16::from_le_bytes([len[0], len[1]]) as usize;
        if value_len > MAX_META_VALUE_LEN {
            return Err(format!("entry {i}: value of {value_len} bytes"));
        }
        let value = p
            .get(at + 2..at + 2 + value_len)
            .ok_or(format!("entry {i} cut short"))?;
        entries.insert(key.to_string(), value.to_vec());
        last = Some(key);
        p = &p[at + 2 + value_len..];
    }
    if !p.is_empty() {
        return Err(format!("{} bytes after the last entry", p.len()));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MetaSlot {
        let mut entries = BTreeMap::new();
        entries.insert("term".to_string(), 7u64.to_le_bytes().to_vec());
        entries.insert("vote".to_string(), b"node-3".to_vec());
        entries.insert("empty".to_string(), vec![]);
        MetaSlot {
            generation: 42,
            purge: Some(PurgePoint {
                before: 100,
                segment_id: 3,
            }),
            entries,
        }
    }

    #[test]
    fn the_largest_map_fits_a_slot() {
        assert_eq!(MAX_SLOT_LEN, 266_480);
        assert_eq!(SLOT_SIZE, 270_336);
        let entries = (0..MAX_META_KEYS)
            .map(|i| (format!("{i:0>64}"), vec![i as u8; MAX_META_VALUE_LEN]))
            .collect();
        let meta = MetaSlot {
            generation: u64::MAX,
            purge: None,
            entries,
        };
        let bytes = encode_slot(&meta, 1);
        assert_eq!(bytes.len(), MAX_SLOT_LEN);
        assert_eq!(decode_slot(&bytes, 1).unwrap(), meta);
    }

    #[test]
    fn round_trip_with_trailing_bytes_and_fixed_layout() {
        let meta = sample();
        let mut bytes = encode_slot(&meta, 0);
        assert_eq!(&bytes[..8], b"NANOMETA");
        assert_eq!(u32_at(&bytes, 12), 3);
        assert_eq!(u64_at(&bytes, 16), 42);
        assert_eq!((u64_at(&bytes, 24), u64_at(&bytes, 32)), (100, 3));
        // Entries sorted by key: "empty" first.
        assert_eq!(&bytes[44..50], b"\x05empty");
        let len = bytes.len();
        bytes.extend_from_slice(&[0xAB; 100]);
        assert_eq!(decode_slot(&bytes, 0).unwrap(), meta);
        assert_eq!(decode_slot(&bytes[..len], 0).unwrap(), meta);
        assert!(decode_slot(&bytes[..len - 1], 0).is_err());
        let empty = MetaSlot::default();
        assert_eq!(decode_slot(&encode_slot(&empty, 1), 1).unwrap(), empty);
    }

    #[test]
    fn a_slot_copied_to_the_other_offset_does_not_verify() {
        let bytes = encode_slot(&sample(), 0);
        assert_eq!(decode_slot(&bytes, 1).unwrap_err(), "checksum mismatch");
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let bytes = encode_slot(&sample(), 1);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode_slot(&b, 1).is_err(), "byte {i}");
        }
    }

    /// Fields the CRC covers but a writer never produces are refused even
    /// with a correct CRC.
    #[test]
    fn well_checksummed_but_impossible_slots_are_refused() {
        let reseal = |mut b: Vec<u8>| {
            let end = b.len() - 4;
            let crc = slot_crc(0, &b[..end]);
            b[end..].copy_from_slice(&crc.to_le_bytes());
            b
        };
        let good = encode_slot(&sample(), 0);
        type Change = Box<dyn Fn(&mut Vec<u8>)>;
        let cases: Vec<(&str, Change)> = vec![
            ("version", Box::new(|b| b[8] = 2)),
            ("flags", Box::new(|b| b[10] = 1)),
            ("count high", Box::new(|b| b[12] = 4)),
            ("count low", Box::new(|b| b[12] = 2)),
            (
                "count huge",
                Box::new(|b| b[12..16].copy_from_slice(&65u32.to_le_bytes())),
            ),
            ("purge index 0", Box::new(|b| b[24..32].fill(0))),
            ("bad key", Box::new(|b| b[45] = b'/')),
            ("order", Box::new(|b| b[45] = b'z')),
            (
                "value too long",
                Box::new(|b| b[50..52].copy_from_slice(&4097u16.to_le_bytes())),
            ),
        ];
        for (what, change) in cases {
            let mut b = good.clone();
            change(&mut b);
            assert!(decode_slot(&reseal(b), 0).is_err(), "{what}");
        }
        assert!(decode_slot(&reseal(good), 0).is_ok());
    }

    #[test]
    fn keys_and_values() {
        for good in ["a", "raft.vote", "A-b_c.9", &"k".repeat(64)] {
            validate_meta_key(good).unwrap();
        }
        for bad in ["", "a/b", "..\0", "sp ace", "é", &"k".repeat(65)] {
            assert!(
                matches!(validate_meta_key(bad), Err(WalError::InvalidArgument(_))),
                "{bad:?}"
            );
        }
        validate_meta_value(&[0; 4096]).unwrap();
        assert!(validate_meta_value(&[0; 4097]).is_err());
    }
}

// SPDX-License-Identifier: MIT
//! Truncation records read from files built byte by byte (docs/FORMAT.md,
//! "Record" and "Recovery"): where a scan of the newest segment, a scan
//! after damage and a replay of a sealed segment meet one that the rules
//! refuse, or one after damage.

mod common;

use nano_wal::format::{
    crc_seed, encode_frame, Position, SegmentHeader, FLAG_TRUNCATION, SEGMENT_HEADER_SIZE,
};
use nano_wal::inspect::LogView;
use nano_wal::{Wal, WalError, WalOptions};
use std::path::Path;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;
const DUR: i64 = 60_000;
const HDR: u64 = SEGMENT_HEADER_SIZE as u64;

fn options() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_millis(DUR as u64),
        retention: Duration::from_secs(3600),
        ..Default::default()
    }
}

fn header(id: u64, first_index: u64) -> Vec<u8> {
    let window_start_ms = T0 + (id as i64 - 1) * DUR;
    SegmentHeader {
        segment_id: id,
        expiration_ms: window_start_ms + DUR + 3_600_000,
        window_start_ms,
        first_index,
        resets_log: false,
    }
    .encode()
    .to_vec()
}

fn file_name(id: u64) -> String {
    format!(
        "s_{}_{id}.seg",
        T0 + (id as i64 - 1) * DUR + DUR + 3_600_000
    )
}

/// Append a record of index `index` to the segment `seg` (id `id`),
/// written when nothing but the header was synced.
fn record(seg: &mut Vec<u8>, id: u64, index: u64, content: &[u8], continues: bool) {
    record_synced(seg, id, index, content, continues, HDR);
}

/// [`record`] written when the segment was synced up to `synced_end`.
fn record_synced(
    seg: &mut Vec<u8>,
    id: u64,
    index: u64,
    content: &[u8],
    continues: bool,
    synced_end: u64,
) {
    let at = Position {
        offset: seg.len() as u64,
        index,
    };
    let mut frame = [0u8; 24];
    encode_frame(&mut frame, id, at, synced_end, None, content, continues);
    seg.extend_from_slice(&frame);
    seg.extend_from_slice(content);
}

/// Append a truncation record keeping `kept`, written as docs/FORMAT.md
/// says: a frame with the `TRUNCATION` flag, 8 bytes of content, its CRC
/// taken at index 0.
fn truncation(seg: &mut Vec<u8>, id: u64, kept: u64) {
    let offset = seg.len() as u64;
    let mut r = Vec::new();
    r.extend_from_slice(b"NANORC");
    r.extend_from_slice(&0u16.to_le_bytes());
    r.extend_from_slice(&8u32.to_le_bytes());
    r.extend_from_slice(&FLAG_TRUNCATION.to_le_bytes());
    r.extend_from_slice(&HDR.to_le_bytes()[..6]);
    r.extend_from_slice(&[0; 4]);
    r.extend_from_slice(&kept.to_le_bytes());
    let mut crc = crc_seed(id);
    crc = crc32c::crc32c_append(crc, &offset.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &0u64.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &r);
    r[20..24].copy_from_slice(&crc.to_le_bytes());
    seg.extend_from_slice(&r);
}

fn contents(wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    wal.replay(None)
        .unwrap()
        .map(|x| {
            let (r, rec) = x.unwrap();
            (r.index, rec.content.to_vec())
        })
        .collect()
}

fn write(dir: &Path, id: u64, seg: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(file_name(id)), seg).unwrap();
}

/// The helpers write what the engine writes: a truncation record built
/// here is applied by open like one the engine appended.
#[test]
fn a_truncation_record_built_by_hand_is_applied() {
    let tmp = common::tempdir();
    let mut seg = header(1, 1);
    record(&mut seg, 1, 1, b"one", false);
    record(&mut seg, 1, 2, b"two", false);
    truncation(&mut seg, 1, 1);
    record(&mut seg, 1, 2, b"two again", false);
    write(tmp.path(), 1, &seg);
    let wal = Wal::open(tmp.path(), "s", options()).unwrap();
    assert_eq!(
        contents(&wal),
        vec![(1, b"one".to_vec()), (2, b"two again".to_vec())]
    );
}

/// A truncation record inside a batch is damage, judged at the index
/// expected there: the record after it, valid only under the index the
/// truncation would give, is not a valid record after the damage, so the
/// damage is a torn tail and open cuts the batch.
#[test]
fn a_truncation_record_inside_a_batch_is_damage_at_the_index_expected_there() {
    let tmp = common::tempdir();
    let mut seg = header(1, 1);
    record(&mut seg, 1, 1, b"one", false);
    record(&mut seg, 1, 2, b"a batch's first", true);
    let at = seg.len() as u64;
    truncation(&mut seg, 1, 1);
    // Synced past the damage by its own watermark: were it taken as valid
    // there, the damage would be corruption and open would refuse.
    let after = seg.len() as u64;
    let content = b"two, if the truncation applied";
    record_synced(&mut seg, 1, 2, content, false, after);
    write(tmp.path(), 1, &seg);
    let view = LogView::open(tmp.path(), "s").unwrap();
    let check = view.check_segment(1).unwrap();
    let problem = check.problem.expect("damage");
    assert_eq!(problem.offset, at, "{problem:?}");
    assert!(problem.detail.contains("inside a batch"), "{problem:?}");
    assert_eq!(problem.next_valid, None, "{problem:?}");
    let wal = Wal::open(tmp.path(), "s", options()).unwrap();
    assert_eq!(contents(&wal), vec![(1, b"one".to_vec())]);
}

/// After damage, a valid truncation record is a valid record whatever the
/// index expected: the next valid index reported is the one the record
/// after it gets.
#[test]
fn a_truncation_record_after_damage_is_found_with_the_index_after_it() {
    let tmp = common::tempdir();
    let mut seg = header(1, 1);
    record(&mut seg, 1, 1, b"one", false);
    let damage = seg.len() as u64;
    seg.extend_from_slice(&[0xAB; 40]);
    let at = seg.len() as u64;
    truncation(&mut seg, 1, 1);
    record(&mut seg, 1, 2, b"two", false);
    write(tmp.path(), 1, &seg);
    let view = LogView::open(tmp.path(), "s").unwrap();
    let problem = view.check_segment(1).unwrap().problem.expect("damage");
    assert_eq!(problem.offset, damage);
    assert_eq!(problem.next_valid, Some(at));
    assert_eq!(problem.next_valid_index, Some(2));
}

/// A scan that drops every record found so far reports the first record
/// after the truncation as the segment's first.
#[test]
fn a_truncation_that_keeps_nothing_leaves_the_next_record_first() {
    let tmp = common::tempdir();
    let mut seg = header(1, 1);
    record(&mut seg, 1, 1, b"one", false);
    truncation(&mut seg, 1, 0);
    let first = seg.len() as u64;
    record(&mut seg, 1, 1, b"one again", false);
    write(tmp.path(), 1, &seg);
    let view = LogView::open(tmp.path(), "s").unwrap();
    let check = view.check_segment(1).unwrap();
    assert_eq!(check.records, 1);
    assert_eq!(check.first.map(|r| r.offset), Some(first));
    assert_eq!(check.last.map(|r| r.offset), Some(first));
}

/// A sealed segment without a footer whose scan stops at a truncation
/// record the rules refuse (it keeps an index not yet written) holds
/// fewer records than its successor says, so its data runs to the end of
/// the file: replay meets that record and reports it as corruption, not as
/// records a truncation dropped under it.
#[test]
fn replay_reports_a_truncation_record_a_sealed_segment_does_not_know_as_corruption() {
    let tmp = common::tempdir();
    let mut seg = header(1, 1);
    record(&mut seg, 1, 1, b"one", false);
    let at = seg.len() as u64;
    truncation(&mut seg, 1, 5);
    record(&mut seg, 1, 2, b"two", false);
    write(tmp.path(), 1, &seg);
    let mut next = header(2, 3);
    record(&mut next, 2, 3, b"three", false);
    write(tmp.path(), 2, &next);
    let wal = Wal::open(tmp.path(), "s", options()).unwrap();
    let mut replay = wal.replay(None).unwrap();
    assert_eq!(replay.next().unwrap().unwrap().0.index, 1);
    match replay.next() {
        Some(Err(WalError::CorruptedData {
            segment_id: 1,
            offset,
            ..
        })) => assert_eq!(offset, at),
        other => panic!("expected corruption at {at}, got {other:?}"),
    }
}

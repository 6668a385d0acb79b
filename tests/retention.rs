// SPDX-License-Identifier: MIT
//! Retention beyond time: the size budget (`max_stream_bytes`) and the
//! clock guard (`max_clock_skew`).

mod common;

use common::{opts, seg_files};
use nano_wal::{DeleteReason, Wal, WalError, WalOptions};
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;
const W: i64 = 1_000;
const HOUR: u64 = 3_600_000;

fn content(i: u64) -> Vec<u8> {
    let mut c = format!("record {i} ").into_bytes();
    c.resize(1_000, b'.');
    c
}

/// `n` segments of 4 records of ~1 KB each, one per window.
fn filled(dir: &std::path::Path, options: WalOptions, n: i64) -> Wal {
    let wal = Wal::open(dir, "r", options).unwrap();
    let mut i = 0;
    for w in 0..n {
        for _ in 0..4 {
            i += 1;
            wal.append(None, &content(i), T0 + w * W, false).unwrap();
        }
    }
    wal
}

fn file_bytes(wal: &Wal) -> u64 {
    wal.segments()
        .iter()
        .map(|s| std::fs::metadata(s.path()).unwrap().len())
        .sum()
}

#[test]
fn the_size_budget_deletes_the_oldest_sealed_segments_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(W as u64, HOUR);
    let probe = filled(&tmp.path().join("probe"), o.clone(), 2);
    let seg_bytes = std::fs::metadata(probe.segments()[0].path()).unwrap().len();
    drop(probe);
    // Room for three and a half segments of ten.
    o.max_stream_bytes = seg_bytes * 7 / 2;
    let wal = filled(tmp.path(), o, 10);
    let before = file_bytes(&wal);
    assert!(before > 9 * seg_bytes);

    // Nothing has expired: the budget alone deletes, oldest first.
    let r = wal.cleanup(T0).unwrap();
    let ids: Vec<u64> = r.deleted.iter().map(|d| d.segment_id).collect();
    assert_eq!(ids, (1..=7).collect::<Vec<_>>(), "the seven oldest");
    assert!(r
        .deleted
        .iter()
        .all(|d| d.reason == DeleteReason::SizeBudget));
    assert_eq!(r.live_count, 3);
    assert!(file_bytes(&wal) <= seg_bytes * 7 / 2);
    assert_eq!(seg_files(tmp.path(), "r").len(), 3);
    // The log is the suffix: first index after the deleted records, every
    // record left reads back.
    assert_eq!(wal.first_index(), 29);
    for i in 29..=40 {
        assert_eq!(&wal.read_index(i).unwrap().content[..], &content(i)[..]);
    }
    assert!(matches!(
        wal.read_index(28),
        Err(WalError::IndexNotFound { .. })
    ));
    // Within the budget now: nothing more.
    assert!(wal.cleanup(T0).unwrap().deleted.is_empty());

    // Expired segments are deleted for that, before the budget counts.
    let r = wal.cleanup(T0 + 9 * W + HOUR as i64).unwrap();
    assert_eq!(r.deleted.len(), 2);
    assert!(r.deleted.iter().all(|d| d.reason == DeleteReason::Expired));
    // The active segment stays even alone over the budget.
    wal.append(None, &vec![7; 8 * seg_bytes as usize], T0 + 9 * W, false)
        .unwrap();
    assert!(wal.cleanup(T0).unwrap().deleted.is_empty());
    assert_eq!(wal.segments().len(), 1);
}

#[test]
fn the_size_budget_survives_reopen_and_is_off_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = filled(tmp.path(), opts(W as u64, HOUR), 6);
    assert!(wal.cleanup(T0).unwrap().deleted.is_empty(), "no budget");
    drop(wal);
    let mut o = opts(W as u64, HOUR);
    o.max_stream_bytes = 1;
    let wal = Wal::open(tmp.path(), "r", o).unwrap();
    let r = wal.cleanup(T0).unwrap();
    assert_eq!(r.deleted.len(), 5, "every sealed segment");
    assert_eq!(r.live_count, 1);
    assert_eq!(wal.first_index(), 21);
}

#[test]
fn the_clock_guard_refuses_a_far_future_time_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(W as u64, HOUR);
    o.max_clock_skew = Some(Duration::from_millis(2 * W as u64));
    let wal = Wal::open(tmp.path(), "r", o.clone()).unwrap();
    // A new log takes any time: there is no window to compare with.
    wal.append(None, b"first", T0, false).unwrap();
    // The newest window ends at T0 + W: up to T0 + 3 W is within the skew.
    wal.append(None, b"edge", T0 + 3 * W, false).unwrap();
    let files = seg_files(tmp.path(), "r").len();
    // Now the newest window ends at T0 + 4 W.
    let far = T0 + 4 * W + 2 * W + 1;
    match wal.append(None, b"far", far, true) {
        Err(WalError::ClockSkew {
            now_ms,
            newest_window_end_ms,
            max_skew_ms,
        }) => {
            assert_eq!(
                (now_ms, newest_window_end_ms, max_skew_ms),
                (far, T0 + 4 * W, 2 * W)
            )
        }
        other => panic!("expected ClockSkew, got {other:?}"),
    }
    let e = wal
        .append_batch(
            &[nano_wal::WriteEntry {
                header: None,
                content: b"far batch",
            }],
            T0 + 100 * W,
            false,
        )
        .unwrap_err();
    assert!(e.to_string().contains("nothing was written"), "{e}");
    assert_eq!(wal.last_index(), 2, "nothing written");
    assert_eq!(seg_files(tmp.path(), "r").len(), files, "no new segment");
    // Late and current times still go in.
    wal.append(None, b"late", T0, false).unwrap();
    wal.append(None, b"next", T0 + 4 * W, false).unwrap();
    drop(wal);
    // After reopen the newest window on disk is the reference.
    let wal = Wal::open(tmp.path(), "r", o).unwrap();
    assert!(matches!(
        wal.append(None, b"far", far + W, false),
        Err(WalError::ClockSkew { .. })
    ));
    assert_eq!(wal.last_index(), 4);
}

#[test]
fn without_the_clock_guard_a_far_future_time_pins_later_records() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), "r", opts(W as u64, HOUR)).unwrap();
    wal.append(None, b"now", T0, false).unwrap();
    let far = wal
        .append(None, b"a year ahead", T0 + 365 * 24 * HOUR as i64, false)
        .unwrap();
    // Rotation only moves forward: the next record at the right time goes
    // to the far segment, which expires a year late.
    let next = wal.append(None, b"now again", T0 + W, false).unwrap();
    assert_eq!(next.segment_id, far.segment_id);
    let seg = wal.segment(far.segment_id).unwrap();
    assert!(seg.expiration_ms() > T0 + 364 * 24 * HOUR as i64);
}

#[test]
fn a_clock_skew_shorter_than_a_window_is_an_invalid_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    for skew in [0, W as u64 - 1] {
        let mut o = opts(W as u64, HOUR);
        o.max_clock_skew = Some(Duration::from_millis(skew));
        match Wal::open(tmp.path(), "r", o) {
            Err(WalError::InvalidConfig(m)) => assert!(m.contains("max_clock_skew"), "{m}"),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }
    // One window is enough for every time of the next window.
    let mut o = opts(W as u64, HOUR);
    o.max_clock_skew = Some(Duration::from_millis(W as u64));
    let wal = Wal::open(tmp.path(), "r", o).unwrap();
    for t in [T0, T0 + 2 * W - 1, T0 + 3 * W - 1] {
        wal.append(None, b"x", t, false).unwrap();
    }
}

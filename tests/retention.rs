// SPDX-License-Identifier: MIT
//! Retention beyond time: the size budget (`max_stream_bytes`) and the
//! clock guard (`max_clock_skew`).

mod common;

use common::{opts, seg_files};
use nano_wal::{DeleteReason, Retained, Wal, WalError, WalOptions};
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

/// Ten segments of four records (indexes 1-40), a hold at index 14 (the
/// fourth segment).
fn held(dir: &std::path::Path, o: WalOptions) -> Wal {
    let wal = filled(dir, o, 10);
    wal.hold("replica-2", 14).unwrap();
    wal
}

#[test]
fn holds_survive_reopen_and_stop_expiry_and_the_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(W as u64, HOUR);
    o.max_stream_bytes = 1;
    let wal = held(tmp.path(), o.clone());
    let far = T0 + 100 * HOUR as i64;
    let r = wal.cleanup(far).unwrap();
    // Segments 1-3 (indexes 1-12) go; the fourth holds index 14.
    let ids: Vec<u64> = r.deleted.iter().map(|d| d.segment_id).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert!(r.dropped_holds.is_empty());
    assert_eq!(wal.first_index(), 13);
    drop(wal);
    let wal = Wal::open(tmp.path(), "r", o).unwrap();
    assert_eq!(wal.hold_index("replica-2").unwrap(), Some(14));
    assert_eq!(
        wal.holds(),
        [nano_wal::Hold {
            name: "replica-2".into(),
            index: 14
        }]
    );
    assert!(wal.cleanup(far).unwrap().deleted.is_empty());
    // Moving the hold lets cleanup go on; releasing it lets it finish.
    wal.hold("replica-2", 30).unwrap();
    assert_eq!(wal.cleanup(far).unwrap().deleted.len(), 4);
    assert_eq!(wal.first_index(), 29);
    assert!(wal.release_hold("replica-2").unwrap());
    assert!(!wal.release_hold("replica-2").unwrap());
    assert_eq!(wal.cleanup(far).unwrap().deleted.len(), 2);
    assert_eq!(wal.segments().len(), 1);
}

#[test]
fn a_hold_lagging_past_a_limit_is_dropped_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(W as u64, HOUR);
    o.max_hold_lag_bytes = 8_000; // about two segments behind the end
    let wal = held(tmp.path(), o.clone());
    wal.hold("tail", 39).unwrap();
    let far = T0 + 100 * HOUR as i64;
    let r = wal.cleanup(far).unwrap();
    assert_eq!(r.dropped_holds.len(), 1);
    let d = &r.dropped_holds[0];
    assert_eq!((d.name.as_str(), d.index), ("replica-2", 14));
    assert!(d.lag_bytes > 8_000, "{d:?}");
    // Dropped before the deletions: the same cleanup goes up to "tail".
    assert_eq!(r.deleted.len(), 9);
    assert_eq!(wal.hold_index("replica-2").unwrap(), None);
    assert_eq!(wal.hold_index("tail").unwrap(), Some(39));
    drop(wal);
    let wal = Wal::open(tmp.path(), "r", o).unwrap();
    assert_eq!(wal.holds().len(), 1, "the drop is durable");

    // By age: the hold's window started more than the limit before now.
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(W as u64, HOUR);
    o.max_hold_lag = Some(Duration::from_millis(5 * W as u64));
    let wal = held(tmp.path(), o);
    // Index 14 is in the window starting at T0 + 3 W.
    let r = wal.cleanup(T0 + 8 * W).unwrap();
    assert!(r.dropped_holds.is_empty(), "5 windows behind: kept");
    let r = wal.cleanup(T0 + 8 * W + 1).unwrap();
    assert_eq!(r.dropped_holds.len(), 1);
    assert_eq!(r.dropped_holds[0].lag_ms, 5 * W + 1);
}

#[test]
fn a_purge_past_a_hold_is_refused_and_purges_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = held(tmp.path(), opts(W as u64, HOUR));
    match wal.purge_before(20) {
        Err(WalError::Held {
            index,
            hold,
            held_index,
        }) => assert_eq!((index, hold.as_str(), held_index), (20, "replica-2", 14)),
        other => panic!("expected Held, got {other:?}"),
    }
    assert_eq!(wal.first_index(), 1);
    assert_eq!(wal.segments().len(), 10);
    wal.purge_before(14).unwrap();
    assert_eq!(wal.first_index(), 14);
    wal.release_hold("replica-2").unwrap();
    wal.purge_before(20).unwrap();
    assert_eq!(wal.first_index(), 20);
}

#[test]
fn bad_holds_are_refused_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = held(tmp.path(), opts(W as u64, HOUR));
    for bad in ["", "a/b", "space x", &"n".repeat(55)] {
        assert!(
            matches!(wal.hold(bad, 5), Err(WalError::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    wal.purge_before(15).unwrap_err(); // held at 14
    wal.purge_before_deferred(15).unwrap_err();
    assert!(matches!(
        wal.hold("late", 42),
        Err(WalError::IndexNotFound { .. })
    ));
    wal.hold("end", 41).unwrap(); // one past the last index
                                  // The holds' keys are the engine's: not reachable as metadata.
    assert!(matches!(
        wal.meta_put("nwal.hold.x", b"\0\0\0\0\0\0\0\0"),
        Err(WalError::InvalidArgument(_))
    ));
    assert!(matches!(
        wal.meta_get("nwal.hold.end"),
        Err(WalError::InvalidArgument(_))
    ));
    wal.meta_put("user", b"v").unwrap();
    assert_eq!(wal.meta_entries(), [("user".to_string(), b"v".to_vec())]);
    // Holds and keys share the 64 keys of the metadata.
    for k in 0..61 {
        wal.meta_put(&format!("k{k}"), b"v").unwrap();
    }
    assert!(matches!(
        wal.hold("one-too-many", 14),
        Err(WalError::InvalidArgument(_))
    ));
    wal.hold("end", 40).unwrap(); // moving one is fine
    wal.shutdown().unwrap();
    assert!(matches!(wal.hold("end", 40), Err(WalError::Shutdown)));
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_cleanup_whose_hold_drop_fails_deletes_nothing() {
    use nano_wal::fault::{clear_faults, inject_fault, Fault, FaultOp};
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(W as u64, HOUR);
    o.max_hold_lag_bytes = 1;
    let wal = held(tmp.path(), o.clone());
    inject_fault(Fault {
        op: FaultOp::Write,
        under: tmp.path().join("r.meta"),
        errno: libc::ENOSPC,
        skip: 0,
        times: 1,
        keep_bytes: 0,
    });
    let e = wal.cleanup(T0 + 100 * HOUR as i64).unwrap_err();
    assert!(matches!(e, WalError::Io { .. }), "{e}");
    clear_faults(&tmp.path().join("r.meta"));
    assert_eq!(wal.segments().len(), 10, "nothing deleted");
    assert_eq!(wal.hold_index("replica-2").unwrap(), Some(14));
    drop(wal);
    let wal = Wal::open(tmp.path(), "r", o).unwrap();
    let r = wal.cleanup(T0 + 100 * HOUR as i64).unwrap();
    assert_eq!((r.dropped_holds.len(), r.deleted.len()), (1, 9));
}

#[test]
fn retention_says_why_each_segment_stays_and_cleanup_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = held(tmp.path(), opts(W as u64, HOUR));
    // Windows 0 to 4 have expired (window w expires at T0 + (w + 1) W + 1 h).
    let now = T0 + 5 * W + HOUR as i64;
    let r = wal.retention(now).unwrap();
    assert_eq!(r.len(), 10);
    let held = Retained::Held {
        name: "replica-2".into(),
        index: 14,
    };
    for s in &r[..3] {
        assert_eq!(s.deleted_by, Some(DeleteReason::Expired), "{s:?}");
        assert!(s.kept.is_empty());
    }
    // Expired but held.
    assert_eq!(r[3].kept, std::slice::from_ref(&held));
    assert_eq!(r[4].kept, std::slice::from_ref(&held));
    assert_eq!(
        r[5].kept,
        [
            held.clone(),
            Retained::NotExpired {
                until_ms: T0 + 6 * W + HOUR as i64
            }
        ]
    );
    assert_eq!(r[9].kept[..2], [Retained::Active, held]);
    let deleted: Vec<u64> = wal
        .cleanup(now)
        .unwrap()
        .deleted
        .iter()
        .map(|d| d.segment_id)
        .collect();
    assert_eq!(deleted, [1, 2, 3]);
    // With a budget the segments left fit in: within the budget.
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(W as u64, HOUR);
    o.max_stream_bytes = u64::MAX;
    let wal = filled(tmp.path(), o, 2);
    let r = wal.retention(T0).unwrap();
    assert!(r[0].kept.contains(&Retained::WithinBudget), "{r:?}");
}

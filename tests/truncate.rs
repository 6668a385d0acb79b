// SPDX-License-Identifier: MIT
//! Truncation of the tail (`truncate_after`) and reset: what is left, what
//! is gone for good, across sealed segment boundaries and reopens, and the
//! failures on the way (the crash states are in tests/power_loss.rs).

mod common;

use common::{copy_dir, seg_files, test_opts, Rng, DUR, SEG_HDR, T0};
use nano_wal::{EntryRef, Wal, WalError};
use std::path::Path;

/// The log as it should be: the first index and the records from it on.
#[derive(Debug, Clone)]
struct Model {
    first: u64,
    records: Vec<Vec<u8>>,
}

impl Model {
    fn last(&self) -> u64 {
        self.first + self.records.len() as u64 - 1
    }
}

/// Append `n` records to window `window`, `durable` or not, into `wal` and
/// `model`; returns their refs.
fn append(wal: &Wal, model: &mut Model, window: i64, n: usize, tag: &str) -> Vec<EntryRef> {
    (0..n)
        .map(|i| {
            let content = format!("{tag} record {i} of window {window}").into_bytes();
            let r = wal
                .append(None, &content, T0 + window * DUR, false)
                .unwrap();
            assert_eq!(r.index, model.last() + 1, "{tag}: dense indexes");
            model.records.push(content);
            r
        })
        .collect()
}

/// Everything a reader can see agrees with `model`.
fn check(wal: &Wal, model: &Model, what: &str) {
    let state = wal.log_state();
    assert_eq!(
        (state.first_index, state.last_index),
        (model.first, model.last()),
        "{what}: bounds"
    );
    let replayed: Vec<(u64, Vec<u8>)> = wal
        .replay(None)
        .unwrap()
        .map(|r| {
            let (e, rec) = r.unwrap_or_else(|e| panic!("{what}: replay: {e}"));
            (e.index, rec.content.to_vec())
        })
        .collect();
    let expected: Vec<(u64, Vec<u8>)> = model
        .records
        .iter()
        .enumerate()
        .map(|(k, c)| (model.first + k as u64, c.clone()))
        .collect();
    assert_eq!(replayed, expected, "{what}: replay");
    for (index, content) in &expected {
        let got = wal.read_index(*index).unwrap();
        assert_eq!(
            &got.content[..],
            &content[..],
            "{what}: read_index({index})"
        );
    }
    for beyond in [model.first.wrapping_sub(1), model.last() + 1] {
        assert!(
            matches!(wal.read_index(beyond), Err(WalError::IndexNotFound { .. })),
            "{what}: index {beyond} is not found"
        );
    }
}

fn is_not_found(r: Result<nano_wal::Record, WalError>) -> bool {
    matches!(
        r,
        Err(WalError::IndexNotFound { .. } | WalError::SegmentNotFound(_))
    )
}

fn open(dir: &Path) -> Wal {
    Wal::open(dir, "t", test_opts()).unwrap()
}

fn empty() -> Model {
    Model {
        first: 1,
        records: Vec::new(),
    }
}

#[test]
fn truncation_inside_the_active_segment_drops_the_tail_and_the_next_append_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    let refs = append(&wal, &mut model, 0, 10, "a");
    wal.truncate_after(6).unwrap();
    model.records.truncate(6);
    check(&wal, &model, "after truncate_after(6)");
    assert_eq!(
        wal.log_state().durable_index,
        6,
        "the records kept are durable"
    );
    for r in &refs[6..] {
        assert!(is_not_found(wal.read(*r)), "dropped ref {r:?}");
    }
    let again = append(&wal, &mut model, 0, 5, "b");
    assert_eq!(again[0].index, 7);
    for (old, new) in refs[6..].iter().zip(&again) {
        assert_eq!(old.index, new.index);
        // Inside the active segment: a truncation record after the
        // dropped records, the new ones after it.
        assert_eq!(old.segment_id, new.segment_id);
        assert!(new.offset > refs[9].offset, "offsets are never rewritten");
        assert!(
            is_not_found(wal.read(*old)),
            "stale ref {old:?} after re-append"
        );
    }
    check(&wal, &model, "after re-append");
    drop(wal);
    check(&open(tmp.path()), &model, "after reopen");
}

#[test]
fn truncation_into_an_earlier_segment_deletes_the_later_ones_and_never_resurrects() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    let mut refs = Vec::new();
    for window in 0..4 {
        refs.extend(append(&wal, &mut model, window, 5, "a"));
    }
    assert_eq!(seg_files(tmp.path(), "t").len(), 4);
    // Index 7 is in the second segment: the third and fourth are dropped.
    wal.truncate_after(7).unwrap();
    model.records.truncate(7);
    check(&wal, &model, "after truncate_after(7)");
    let ids: Vec<u64> = seg_files(tmp.path(), "t").iter().map(|f| f.0).collect();
    assert_eq!(
        ids,
        vec![1, 2, 5],
        "the segments left without records are deleted"
    );
    for r in &refs[7..] {
        assert!(is_not_found(wal.read(*r)), "dropped ref {r:?}");
    }
    // Appends go on in the window of the segment that was active, then
    // across a new sealed boundary; reopen after each step.
    append(&wal, &mut model, 3, 3, "b");
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "reopened after the truncation");
    append(&wal, &mut model, 4, 3, "c");
    append(&wal, &mut model, 5, 2, "d");
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "reopened across later boundaries");
    // The segment that held index 7 keeps its whole footer (it counts the
    // dropped records too) and is not scanned.
    assert_eq!(wal.segment(2).unwrap().record_count(), 2);
    for r in &refs[7..] {
        assert!(is_not_found(wal.read(*r)), "dropped ref {r:?} after reopen");
    }
}

#[test]
fn truncation_to_the_index_before_the_first_empties_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        tmp.path(),
        "t",
        nano_wal::WalOptions {
            first_index: 100,
            ..test_opts()
        },
    )
    .unwrap();
    let mut model = Model {
        first: 100,
        records: Vec::new(),
    };
    append(&wal, &mut model, 0, 4, "a");
    append(&wal, &mut model, 1, 4, "a");
    let err = wal.truncate_after(98).unwrap_err();
    assert!(matches!(err, WalError::InvalidArgument(_)), "{err}");
    assert!(
        err.to_string()
            .contains("lowest index to truncate after is 99"),
        "{err}"
    );
    check(&wal, &model, "refused truncation changes nothing");
    wal.truncate_after(107).unwrap();
    wal.truncate_after(u64::MAX).unwrap();
    check(
        &wal,
        &model,
        "truncation at or past the last index changes nothing",
    );
    assert_eq!(seg_files(tmp.path(), "t").len(), 2, "no segment created");
    wal.truncate_after(99).unwrap();
    model.records.clear();
    check(&wal, &model, "emptied");
    assert_eq!(wal.log_state().durable_index, 99);
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "emptied, reopened");
    append(&wal, &mut model, 1, 2, "b");
    assert_eq!(wal.first_index(), 100);
    drop(wal);
    check(&open(tmp.path()), &model, "refilled, reopened");
}

#[test]
fn reset_drops_every_record_and_the_log_goes_on_at_the_index_given() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    let mut refs = Vec::new();
    for window in 0..3 {
        refs.extend(append(&wal, &mut model, window, 3, "a"));
    }
    for bad in [0, (1 << 63) + 1, u64::MAX] {
        let err = wal.reset(bad).unwrap_err();
        assert!(
            matches!(err, WalError::InvalidArgument(_)),
            "reset({bad}): {err}"
        );
    }
    check(&wal, &model, "a refused reset changes nothing");
    // Forward past the end (a snapshot ahead of the log), back below the
    // first index, and into the middle of what was there.
    let mut wal = wal;
    for (n, what) in [(1000, "ahead"), (1, "back to 1"), (5, "into the middle")] {
        wal.reset(n).unwrap();
        model = Model {
            first: n,
            records: Vec::new(),
        };
        check(&wal, &model, what);
        assert_eq!(wal.log_state().durable_index, n - 1, "{what}");
        for r in &refs {
            assert!(is_not_found(wal.read(*r)), "{what}: dropped ref {r:?}");
        }
        refs = append(&wal, &mut model, 3, 2, what);
        let files: Vec<u64> = seg_files(tmp.path(), "t").iter().map(|f| f.0).collect();
        let live: Vec<u64> = wal.segments().iter().map(|s| s.id()).collect();
        assert_eq!(files, live, "{what}: the dropped segments' files are gone");
        drop(wal);
        wal = open(tmp.path());
        check(&wal, &model, &format!("{what}, reopened"));
    }
    // Keep going: more windows, a truncation, a reopen.
    append(&wal, &mut model, 4, 2, "later");
    wal.truncate_after(model.first).unwrap();
    model.records.truncate(1);
    append(&wal, &mut model, 5, 1, "later");
    drop(wal);
    check(&open(tmp.path()), &model, "truncated after the resets");
}

#[test]
fn every_reset_target_survives_reopen() {
    for n in [1000, 1, 5] {
        let tmp = tempfile::tempdir().unwrap();
        let wal = open(tmp.path());
        let mut model = empty();
        for window in 0..3 {
            append(&wal, &mut model, window, 3, "a");
        }
        wal.reset(n).unwrap();
        model = Model {
            first: n,
            records: Vec::new(),
        };
        drop(wal);
        let wal = open(tmp.path());
        check(&wal, &model, &format!("reset({n}), reopened"));
        append(&wal, &mut model, 3, 2, "b");
        drop(wal);
        check(
            &open(tmp.path()),
            &model,
            &format!("reset({n}), appended, reopened"),
        );
    }
}

#[test]
fn a_reset_of_a_new_stream_sets_its_first_index() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    wal.reset(42).unwrap();
    let mut model = Model {
        first: 42,
        records: Vec::new(),
    };
    check(&wal, &model, "reset of a new stream");
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "reopened");
    append(&wal, &mut model, 0, 3, "a");
    check(&wal, &model, "appended");
}

#[test]
fn after_shutdown_truncation_and_reset_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    append(&wal, &mut model, 0, 3, "a");
    wal.shutdown().unwrap();
    assert!(matches!(wal.truncate_after(1), Err(WalError::Shutdown)));
    assert!(matches!(wal.reset(1), Err(WalError::Shutdown)));
    drop(wal);
    check(&open(tmp.path()), &model, "nothing changed");
}

#[test]
fn a_replay_past_the_truncation_ends_with_not_found_and_one_before_it_follows_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    append(&wal, &mut model, 0, 6, "a");
    append(&wal, &mut model, 1, 6, "a");
    // One replay at the end (a follower), one that has read up to index 3.
    let mut follower = wal.replay_from_index(13).unwrap();
    assert!(follower.next().is_none());
    let mut early = wal.replay(None).unwrap();
    for i in 1..=3 {
        assert_eq!(early.next().unwrap().unwrap().0.index, i);
    }
    wal.truncate_after(4).unwrap();
    model.records.truncate(4);
    append(&wal, &mut model, 1, 2, "b");
    match follower.next() {
        Some(Err(WalError::IndexNotFound { index: 13, .. })) => {}
        other => panic!("the follower past the cut must fail, got {other:?}"),
    }
    assert!(follower.next().is_none(), "and end");
    // The early replay may still yield what it had read ahead of the cut;
    // once it reaches the cut it either goes on at 5 with the new records
    // or ends with not found: never a mix of old and new.
    let mut seen = Vec::new();
    let mut ended_not_found = false;
    for item in early.by_ref() {
        match item {
            Ok((e, rec)) => seen.push((e.index, rec.content.to_vec())),
            Err(WalError::IndexNotFound { .. }) => {
                ended_not_found = true;
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    let indexes: Vec<u64> = seen.iter().map(|s| s.0).collect();
    let expected: Vec<u64> = (4..=indexes.last().copied().unwrap_or(3)).collect();
    assert_eq!(indexes, expected, "dense, no going back");
    if !ended_not_found {
        assert_eq!(
            seen[..2],
            [(4, model.records[3].clone()), (5, model.records[4].clone())]
        );
        assert_eq!(indexes.last(), Some(&6));
    }
}

#[test]
fn durable_index_after_truncation_counts_only_synced_records() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    append(&wal, &mut model, 0, 5, "a");
    wal.sync().unwrap();
    assert_eq!(wal.durable_index(), 5);
    wal.truncate_after(2).unwrap();
    assert_eq!(wal.durable_index(), 2);
    append(&wal, &mut model, 0, 0, "x");
    model.records.truncate(2);
    append(&wal, &mut model, 0, 4, "b");
    assert_eq!(
        wal.durable_index(),
        2,
        "the records appended after the truncation are not durable yet"
    );
    wal.sync().unwrap();
    assert_eq!(wal.durable_index(), 6);
}

#[test]
fn purge_inside_a_segment_raises_the_first_index_and_deletes_the_segments_below() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    let mut refs = Vec::new();
    for window in 0..3 {
        refs.extend(append(&wal, &mut model, window, 4, "a"));
    }
    // No-ops, and an index past the end.
    wal.purge_before(1).unwrap();
    wal.purge_before(0).unwrap();
    let err = wal.purge_before(14).unwrap_err();
    assert!(matches!(err, WalError::InvalidArgument(_)), "{err}");
    assert!(
        err.to_string()
            .contains("highest index to purge before is 13"),
        "{err}"
    );
    check(&wal, &model, "refused purge changes nothing");
    // Index 6 is the second record of the second segment.
    wal.purge_before(6).unwrap();
    model.records.drain(..5);
    model.first = 6;
    check(&wal, &model, "after purge_before(6)");
    let ids: Vec<u64> = seg_files(tmp.path(), "t").iter().map(|f| f.0).collect();
    assert_eq!(ids, vec![2, 3], "the first segment is deleted");
    for r in &refs[..5] {
        assert!(is_not_found(wal.read(*r)), "purged ref {r:?}");
    }
    assert!(matches!(
        wal.replay(Some(refs[4])),
        Err(WalError::IndexNotFound { .. })
    ));
    let purged = wal.replay(Some(refs[5])).unwrap().next().unwrap().unwrap();
    assert_eq!(purged.0.index, 6);
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "purged, reopened");
    // Lower again is a no-op; appends go on.
    wal.purge_before(3).unwrap();
    append(&wal, &mut model, 3, 2, "b");
    check(&wal, &model, "appended after the purge");
    // Retention moves the first index past what it deletes.
    let r = wal.cleanup(T0 + 2 * DUR + common::RET).unwrap();
    assert_eq!(r.deleted.len(), 1);
    model.records.drain(..3);
    model.first = 9;
    check(&wal, &model, "after cleanup");
    drop(wal);
    check(&open(tmp.path()), &model, "after cleanup, reopened");
}

#[test]
fn purge_of_every_record_leaves_an_empty_log_that_goes_on_at_that_index() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    append(&wal, &mut model, 0, 3, "a");
    append(&wal, &mut model, 1, 3, "a");
    assert_eq!(
        wal.durable_index(),
        3,
        "the rotation synced the first window only"
    );
    wal.purge_before(7).unwrap();
    assert_eq!(
        wal.durable_index(),
        6,
        "the purged records were synced first"
    );
    model = Model {
        first: 7,
        records: Vec::new(),
    };
    check(&wal, &model, "everything purged");
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "everything purged, reopened");
    append(&wal, &mut model, 1, 2, "b");
    drop(wal);
    check(&open(tmp.path()), &model, "appended, reopened");
}

/// A reset after a purge supersedes the purge point, also once the reset's
/// own segment is gone (a truncation dropped it): the old point never comes
/// back to hide the records appended since.
#[test]
fn a_reset_below_a_purge_point_outlives_the_purge_point() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    append(&wal, &mut model, 0, 10, "a");
    wal.purge_before(8).unwrap();
    wal.reset(3).unwrap();
    model = Model {
        first: 3,
        records: Vec::new(),
    };
    check(&wal, &model, "reset below the purge point");
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "reset, reopened");
    append(&wal, &mut model, 0, 3, "b");
    wal.truncate_after(2).unwrap();
    model.records.clear();
    append(&wal, &mut model, 1, 4, "c");
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "the reset's segment dropped, reopened");
    // A purge after the reset is in force again.
    wal.purge_before(5).unwrap();
    model.records.drain(..2);
    model.first = 5;
    drop(wal);
    check(
        &open(tmp.path()),
        &model,
        "purged after the reset, reopened",
    );
}

#[test]
fn metadata_outlives_truncation_purge_and_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    append(&wal, &mut model, 0, 6, "a");
    wal.meta_put("vote", b"term 7, node 2").unwrap();
    wal.truncate_after(4).unwrap();
    wal.purge_before(3).unwrap();
    wal.meta_put("commit", b"4").unwrap();
    wal.reset(100).unwrap();
    drop(wal);
    let wal = open(tmp.path());
    assert_eq!(
        wal.meta_get("vote").unwrap().as_deref(),
        Some(&b"term 7, node 2"[..])
    );
    assert_eq!(wal.meta_get("commit").unwrap().as_deref(), Some(&b"4"[..]));
    assert_eq!(wal.first_index(), 100);
}

#[test]
fn truncation_inside_a_batch_keeps_the_records_before_the_cut_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let contents: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
    let entries: Vec<nano_wal::WriteEntry<'_>> = contents
        .iter()
        .map(|c| nano_wal::WriteEntry {
            header: None,
            content: c,
        })
        .collect();
    wal.append_batch(&entries, T0, false).unwrap();
    // Index 2 is inside the batch: records 1 and 2 are kept.
    wal.truncate_after(2).unwrap();
    let model = Model {
        first: 1,
        records: contents[..2].to_vec(),
    };
    check(&wal, &model, "cut inside a batch");
    drop(wal);
    check(&open(tmp.path()), &model, "cut inside a batch, reopened");
}

/// Truncate at a seeded index of a seeded layout (segments of 1 to 6
/// records), reopen, append across a new sealed boundary, reopen: the log
/// is the model's after every step, and no dropped ref reads.
#[test]
fn truncate_reopen_append_across_a_boundary_never_resurrects_or_loses() {
    for seed in 0..12u64 {
        let mut rng = Rng::new(0x7E57 + seed);
        let tmp = tempfile::tempdir().unwrap();
        let wal = open(tmp.path());
        let mut model = empty();
        let mut refs = Vec::new();
        let windows = 1 + rng.below(4) as i64;
        for window in 0..windows {
            let n = 1 + rng.below(6) as usize;
            refs.extend(append(&wal, &mut model, window, n, "a"));
        }
        let at = rng.below(model.last() + 1);
        let what = format!("seed {seed}: {windows} windows, truncate_after({at})");
        wal.truncate_after(at).unwrap();
        model.records.truncate(at as usize);
        check(&wal, &model, &what);
        drop(wal);
        let wal = open(tmp.path());
        check(&wal, &model, &format!("{what}, reopened"));
        // The same window as the last one, then a later one (a new sealed
        // boundary), then reopen.
        let tag = format!("b{seed}");
        let new = append(
            &wal,
            &mut model,
            windows - 1,
            1 + rng.below(3) as usize,
            &tag,
        );
        assert_eq!(new[0].index, at + 1, "{what}: the next index");
        append(
            &wal,
            &mut model,
            windows + 1,
            1 + rng.below(3) as usize,
            &tag,
        );
        check(&wal, &model, &format!("{what}, appended"));
        drop(wal);
        let wal = open(tmp.path());
        check(&wal, &model, &format!("{what}, appended, reopened"));
        for r in &refs[at as usize..] {
            assert!(is_not_found(wal.read(*r)), "{what}: dropped ref {r:?}");
        }
        for r in &refs[..at as usize] {
            let want = &model.records[(r.index - 1) as usize];
            assert_eq!(&wal.read(*r).unwrap().content[..], &want[..], "{what}");
        }
    }
}

/// A crash right after `truncate_after` returns (the files copied before
/// anything else happens, the handle still open): the copy opens as the
/// truncated log, the next append gets the index after the cut and no
/// dropped record is visible.
#[test]
fn a_crash_right_after_a_truncation_never_reuses_an_index_or_shows_a_dropped_record() {
    for (windows, at) in [(1i64, 3u64), (3, 7), (3, 0), (4, 14)] {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, copy) = (tmp.path().join("log"), tmp.path().join("copy"));
        let wal = open(&dir);
        let mut model = empty();
        let mut refs = Vec::new();
        for window in 0..windows {
            refs.extend(append(&wal, &mut model, window, 5, "a"));
        }
        wal.truncate_after(at).unwrap();
        copy_dir(&dir, &copy);
        model.records.truncate(at as usize);
        let what = format!("{windows} windows, truncate_after({at}), crash copy");
        let crashed = open(&copy);
        check(&crashed, &model, &what);
        for r in &refs[at as usize..] {
            assert!(is_not_found(crashed.read(*r)), "{what}: dropped ref {r:?}");
        }
        let next = crashed
            .append(None, b"after the crash", T0 + windows * DUR, true)
            .unwrap();
        assert_eq!(next.index, at + 1, "{what}: the next index");
        model.records.push(b"after the crash".to_vec());
        drop(crashed);
        check(&open(&copy), &model, &format!("{what}, reopened"));
        drop(wal);
    }
}

/// A record re-appended after a truncation has the same index and size as
/// the dropped one it replaces, in the same segment or in a new one (a
/// truncation of a segment found at open starts a new one) but never at
/// the same place: the stale ref is not found, never the new bytes, and
/// the new record reads its own bytes by index and by its ref.
#[test]
fn a_stale_ref_is_not_found_even_where_the_new_record_has_its_offset_and_size() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let old: Vec<EntryRef> = (0..3u8)
        .map(|i| wal.append(None, &[b'o', i], T0, false).unwrap())
        .collect();
    // Empty the log (index 0 is the one before the first).
    wal.truncate_after(0).unwrap();
    let new: Vec<EntryRef> = (0..3u8)
        .map(|i| wal.append(None, &[b'n', i], T0, false).unwrap())
        .collect();
    for (o, n) in old.iter().zip(&new) {
        assert_eq!((o.index, o.size), (n.index, n.size));
        assert_ne!((o.segment_id, o.offset), (n.segment_id, n.offset));
        assert!(is_not_found(wal.read(*o)), "stale ref {o:?}");
        assert_eq!(wal.read(*n).unwrap().content[0], b'n');
        assert_eq!(
            &wal.read_index(n.index).unwrap().content[..],
            &wal.read(*n).unwrap().content[..]
        );
    }
    assert_eq!(old[0].offset, SEG_HDR);
    // Cut again and re-append.
    wal.truncate_after(1).unwrap();
    let again = wal.append(None, b"nX", T0, false).unwrap();
    assert_eq!((again.index, again.size), (new[1].index, new[1].size));
    assert!(is_not_found(wal.read(new[1])), "stale ref {:?}", new[1]);
    assert!(is_not_found(wal.read(old[1])), "stale ref {:?}", old[1]);
    assert_eq!(&wal.read_index(2).unwrap().content[..], b"nX");
    drop(wal);
    let wal = open(tmp.path());
    for r in old.iter().chain(&new[1..]) {
        assert!(is_not_found(wal.read(*r)), "stale ref {r:?} after reopen");
    }
    assert_eq!(&wal.read_index(2).unwrap().content[..], b"nX");
    assert_eq!(&wal.read(new[0]).unwrap().content[..], b"n\x00");
    // After reopen a truncation starts a new segment (the one found may be
    // of an older format version): the same guarantees.
    let kept = wal.append(None, b"nY", T0, false).unwrap();
    wal.truncate_after(2).unwrap();
    let fresh = wal.append(None, b"nZ", T0, false).unwrap();
    assert_eq!(fresh.index, kept.index);
    assert_ne!(fresh.segment_id, kept.segment_id);
    assert!(is_not_found(wal.read(kept)), "stale ref {kept:?}");
    assert_eq!(&wal.read_index(3).unwrap().content[..], b"nZ");
}

/// A deferred purge is a purge for every reader at once (the same first
/// index, refs and indexes below it not found, replay from it), refuses
/// the same bad indexes, and is kept across a clean reopen (shutdown syncs
/// it), as is a durable purge after it.
#[test]
fn a_deferred_purge_reads_like_a_purge_and_survives_a_clean_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    let mut refs = Vec::new();
    for window in 0..2 {
        refs.extend(append(&wal, &mut model, window, 5, "a"));
    }
    let err = wal.purge_before_deferred(12).unwrap_err();
    assert!(matches!(err, WalError::InvalidArgument(_)), "{err}");
    wal.purge_before_deferred(0).unwrap();
    check(
        &wal,
        &model,
        "refused and no-op deferred purges change nothing",
    );
    // Inside the first segment: no file is deleted.
    wal.purge_before_deferred(3).unwrap();
    model.records.drain(..2);
    model.first = 3;
    check(&wal, &model, "after purge_before_deferred(3)");
    assert_eq!(seg_files(tmp.path(), "t").len(), 2);
    for r in &refs[..2] {
        assert!(is_not_found(wal.read(*r)), "purged ref {r:?}");
    }
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "deferred purge, reopened");
    // Past the first segment: it is deleted.
    wal.purge_before_deferred(7).unwrap();
    model.records.drain(..4);
    model.first = 7;
    check(&wal, &model, "after purge_before_deferred(7)");
    let ids: Vec<u64> = seg_files(tmp.path(), "t").iter().map(|f| f.0).collect();
    assert_eq!(ids, vec![2], "the first segment is deleted");
    wal.purge_before_deferred(8).unwrap();
    wal.sync().unwrap();
    model.records.drain(..1);
    model.first = 8;
    append(&wal, &mut model, 2, 2, "b");
    drop(wal);
    check(&open(tmp.path()), &model, "synced, appended, reopened");
}

/// Truncations inside the active segment, again and again (each one's
/// truncation record drops a byte range, and a later one that keeps less
/// covers the earlier ranges), with appends between: every reader skips
/// the dropped ranges, refs into them are not found, a range read and a
/// replay from an index cross them; the rotation seals the segment with an
/// index footer that lists them, and reopen reads them from it (no scan).
/// A deferred truncation reads the same, and is durable after `sync`.
#[test]
fn repeated_truncations_inside_a_segment_are_skipped_by_every_reader_and_kept_by_its_footer() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut model = empty();
    let mut stale = Vec::new();
    let mut live = append(&wal, &mut model, 0, 8, "a");
    for (round, (kept, more)) in [(5u64, 4usize), (7, 3), (2, 6), (0, 3), (3, 2)]
        .into_iter()
        .enumerate()
    {
        let deferred = round % 2 == 1;
        match deferred {
            true => wal.truncate_after_deferred(kept).unwrap(),
            false => wal.truncate_after(kept).unwrap(),
        }
        let cut = (kept + 1 - model.first) as usize;
        stale.extend(live.drain(cut..));
        model.records.truncate(cut);
        check(
            &wal,
            &model,
            &format!("round {round}: after truncate_after({kept})"),
        );
        live.extend(append(&wal, &mut model, 0, more, &format!("r{round}")));
        check(&wal, &model, &format!("round {round}: re-appended"));
        assert_eq!(
            seg_files(tmp.path(), "t").len(),
            1,
            "round {round}: one segment"
        );
        for r in &stale {
            assert!(is_not_found(wal.read(*r)), "round {round}: stale ref {r:?}");
            assert!(
                wal.replay(Some(*r)).is_err(),
                "round {round}: replay from {r:?}"
            );
        }
        for r in &live {
            assert_eq!(
                wal.read(*r).unwrap().content,
                model.records[(r.index - 1) as usize]
            );
        }
    }
    wal.sync().unwrap();
    assert_eq!(wal.durable_index(), model.last());
    // A range across every dropped range, and a replay from the first index.
    let mut buf = nano_wal::ReadBuf::new();
    let refs = wal.read_range_into(1, 1000, 1 << 30, &mut buf).unwrap();
    assert_eq!(refs.len(), model.records.len());
    for (k, r) in refs.iter().enumerate() {
        assert_eq!(buf.get(k).unwrap().content, &model.records[k][..]);
        assert_eq!(r, &live[k]);
    }
    let from_3: Vec<u64> = wal
        .replay_from_index(3)
        .unwrap()
        .map(|r| r.unwrap().0.index)
        .collect();
    assert_eq!(from_3, (3..=model.last()).collect::<Vec<_>>());
    // The next window seals the segment with its ranges in the footer.
    live.extend(append(&wal, &mut model, 1, 2, "b"));
    check(&wal, &model, "sealed");
    drop(wal);
    let wal = open(tmp.path());
    check(&wal, &model, "reopened: the sealed segment's footer");
    for r in &stale {
        assert!(is_not_found(wal.read(*r)), "reopened: stale ref {r:?}");
    }
    for r in &live {
        assert_eq!(
            wal.read(*r).unwrap().content,
            model.records[(r.index - 1) as usize]
        );
    }
    let view = nano_wal::inspect::LogView::open(tmp.path(), "t").unwrap();
    for s in view.segments() {
        assert_eq!(view.check_footer(s.id).unwrap(), None, "segment {}", s.id);
    }
}

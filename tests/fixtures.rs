// SPDX-License-Identifier: MIT
//! The committed stream of format version 2 under `tests/fixtures/v2`
//! (three segments sealed by rotation, with index footers, and a newest
//! one; single records with and without headers, empty headers, batches,
//! indexes from 1000) must read back exactly, read-only and through
//! `Wal::open` of a copy: a change that cannot read the files it wrote
//! before fails here. Beside it, a stream after a truncation and a purge
//! with a metadata file, and one after a reset. The files are the
//! reference; they were made by the `generate_` tests (ignored: run them
//! only when the format changes on purpose, with
//! `cargo test --test fixtures -- --ignored generate`).
//!
//! `tests/fixtures/v2` was written by the last library of format version
//! 2 and stays as it is (the version 2 generators below now write version
//! 3: do not run them over it). `tests/fixtures/v3` holds a stream of
//! format version 3: truncation records inside segments, a sealed one
//! whose index footer lists the dropped ranges, and a newest one that ends
//! with a truncation record; `generate_the_v3_fixture_stream` writes it.

mod common;

use nano_wal::inspect::LogView;
use nano_wal::{Wal, WalOptions, WriteEntry};
use std::path::{Path, PathBuf};
use std::time::Duration;

const STREAM: &str = "fixture";
const T0: i64 = 1_700_000_000_000;
const FIRST_INDEX: u64 = 1000;
/// Windows of 1 s: each window of the generator is a segment.
const DUR: i64 = 1_000;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2")
}

fn options() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_millis(DUR as u64),
        retention: Duration::from_secs(100 * 365 * 24 * 3600),
        first_index: FIRST_INDEX,
        ..Default::default()
    }
}

/// The header and content of the record of index `index`.
fn record(index: u64) -> (Option<Vec<u8>>, Vec<u8>) {
    let header = match index % 3 {
        0 => Some(format!("h{index}").into_bytes()),
        1 => None,
        _ => Some(Vec::new()),
    };
    let content = format!("fixture record {index};").repeat(1 + (index % 7) as usize);
    (header, content.into_bytes())
}

/// The records per window: singles, then a batch of three.
const WINDOWS: u64 = 4;
const PER_WINDOW: u64 = 5;

#[test]
#[ignore = "writes the committed fixture; run only to change the format on purpose"]
fn generate_the_fixture_stream() {
    let dir = dir();
    remove_stream(&dir, STREAM);
    let wal = Wal::open(&dir, STREAM, options()).unwrap();
    let mut index = FIRST_INDEX;
    for w in 0..WINDOWS {
        let now = T0 + w as i64 * DUR;
        for _ in 0..PER_WINDOW - 3 {
            let (h, c) = record(index);
            let r = wal.append(h.as_deref(), &c, now, w % 2 == 0).unwrap();
            assert_eq!(r.index, index);
            index += 1;
        }
        let batch: Vec<_> = (index..index + 3).map(record).collect();
        let entries: Vec<WriteEntry<'_>> = batch
            .iter()
            .map(|(h, c)| WriteEntry {
                header: h.as_deref(),
                content: c,
            })
            .collect();
        wal.append_batch(&entries, now, true).unwrap();
        index += 3;
    }
    wal.shutdown().unwrap();
    drop(wal);
    std::fs::remove_file(dir.join(format!("{STREAM}.lock"))).unwrap();
}

/// Remove the files of `stream` from the fixture directory (the other
/// streams' stay: each generator rewrites only its own).
fn remove_stream(dir: &Path, stream: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let name = e.unwrap().file_name().into_string().unwrap();
        let own = name.strip_prefix(stream).is_some_and(|rest| {
            rest.starts_with('_') && rest.ends_with(".seg") || rest == ".meta" || rest == ".lock"
        });
        if own && !(rest_is_other_stream(&name, stream)) {
            std::fs::remove_file(dir.join(&name)).unwrap();
        }
    }
}

/// `fixture-cut_1_2.seg` starts with `fixture` but is not its: the
/// segment name parsed from the right must name `stream` exactly.
fn rest_is_other_stream(name: &str, stream: &str) -> bool {
    let Some(rest) = name.strip_suffix(".seg") else {
        return false;
    };
    let owner = rest.rsplitn(3, '_').nth(2);
    owner != Some(stream)
}

/// Each record of a replay: its index and content.
fn indexed(replay: nano_wal::Replay) -> Vec<(u64, Vec<u8>)> {
    replay
        .map(|x| {
            let (r, rec) = x.unwrap();
            (r.index, rec.content.to_vec())
        })
        .collect()
}

fn last_index() -> u64 {
    FIRST_INDEX + WINDOWS * PER_WINDOW - 1
}

#[test]
fn the_committed_stream_reads_back_read_only() {
    let view = LogView::open(dir(), STREAM).unwrap();
    assert_eq!(view.segments().len(), WINDOWS as usize);
    for info in view.segments() {
        assert!(info.header_problem.is_none(), "{info:?}");
        assert_eq!(view.check_footer(info.id).unwrap(), None, "{info:?}");
        assert_eq!(view.check_segment(info.id).unwrap().problem, None);
    }
    let mut index = FIRST_INDEX;
    for item in view.replay(None).unwrap() {
        let (r, rec) = item.unwrap();
        assert_eq!(r.index, index);
        let (h, c) = record(index);
        assert_eq!(rec.header.as_deref(), h.as_deref(), "{r:?}");
        assert_eq!(&rec.content[..], &c[..], "{r:?}");
        index += 1;
    }
    assert_eq!(index, last_index() + 1);
    let from: Vec<u64> = view
        .replay_from_index(FIRST_INDEX + 7)
        .unwrap()
        .map(|x| x.unwrap().0.index)
        .collect();
    assert_eq!(from, (FIRST_INDEX + 7..=last_index()).collect::<Vec<_>>());
}

#[test]
fn the_committed_stream_opens_and_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(&dir(), tmp.path());
    let wal = Wal::open(tmp.path(), STREAM, options()).unwrap();
    let state = wal.log_state();
    assert_eq!(
        (state.first_index, state.last_index, state.durable_index),
        (FIRST_INDEX, last_index(), last_index())
    );
    for index in FIRST_INDEX..=last_index() {
        let rec = wal.read_index(index).unwrap();
        let (h, c) = record(index);
        assert_eq!(rec.header.as_deref(), h.as_deref(), "{index}");
        assert_eq!(&rec.content[..], &c[..], "{index}");
    }
    let all = wal.read_range(FIRST_INDEX, 1000, u64::MAX).unwrap();
    assert_eq!(all.len() as u64, WINDOWS * PER_WINDOW);
    for (r, rec) in &all {
        assert_eq!(wal.read(*r).unwrap(), *rec);
    }
    let r = wal
        .append(None, b"after the fixture", T0 + WINDOWS as i64 * DUR, false)
        .unwrap();
    assert_eq!(r.index, last_index() + 1);
    assert_eq!(
        wal.replay(None).unwrap().count() as u64,
        WINDOWS * PER_WINDOW + 1
    );
}

/// The second committed stream: the log after a truncation (a sealed
/// segment whose footer counts records the next segment's first index
/// drops), a purge inside the first segment (the purge point in the
/// metadata file), a metadata key, and a reset (a segment with the
/// `RESETS_LOG` flag) in a third stream.
const CUT: &str = "fixture-cut";
const RESET: &str = "fixture-reset";

/// Content of the records appended after the truncation, whose indexes
/// the dropped records had: other bytes than theirs.
fn after_cut(index: u64) -> Vec<u8> {
    format!("appended after the truncation at {index};").into_bytes()
}

/// What the cut stream holds: its first index, and each record's index
/// with its content.
fn cut_log() -> (u64, Vec<(u64, Vec<u8>)>) {
    let first = FIRST_INDEX + 3;
    let kept = (first..=FIRST_INDEX + 8).map(|i| (i, record(i).1));
    let later = (FIRST_INDEX + 9..=FIRST_INDEX + 12).map(|i| (i, after_cut(i)));
    (first, kept.chain(later).collect())
}

#[test]
#[ignore = "writes the committed fixture; run only to change the format on purpose"]
fn generate_the_cut_and_reset_fixture_streams() {
    let dir = dir();
    remove_stream(&dir, CUT);
    remove_stream(&dir, RESET);
    let wal = Wal::open(&dir, CUT, options()).unwrap();
    for index in FIRST_INDEX..FIRST_INDEX + 12 {
        let (h, c) = record(index);
        let now = T0 + (index - FIRST_INDEX) as i64 / 6 * DUR;
        assert_eq!(
            wal.append(h.as_deref(), &c, now, false).unwrap().index,
            index
        );
    }
    wal.truncate_after(FIRST_INDEX + 8).unwrap();
    for index in FIRST_INDEX + 9..=FIRST_INDEX + 12 {
        let now = T0 + 2 * DUR;
        assert_eq!(
            wal.append(None, &after_cut(index), now, false)
                .unwrap()
                .index,
            index
        );
    }
    wal.purge_before(FIRST_INDEX + 3).unwrap();
    wal.meta_put("raft.vote", b"term 5, node 1").unwrap();
    wal.shutdown().unwrap();
    drop(wal);
    std::fs::remove_file(dir.join(format!("{CUT}.lock"))).unwrap();

    let wal = Wal::open(&dir, RESET, options()).unwrap();
    for index in FIRST_INDEX..FIRST_INDEX + 3 {
        let (h, c) = record(index);
        wal.append(h.as_deref(), &c, T0, true).unwrap();
    }
    wal.reset(500).unwrap();
    wal.append(None, b"after the reset", T0, true).unwrap();
    wal.shutdown().unwrap();
    drop(wal);
    std::fs::remove_file(dir.join(format!("{RESET}.lock"))).unwrap();
}

/// The cut stream reads back as it was left, read-only and through
/// `Wal::open` of a copy, and goes on; so does the reset stream.
#[test]
fn the_committed_cut_and_reset_streams_read_back_and_go_on() {
    let (first, records) = cut_log();
    let view = LogView::open(dir(), CUT).unwrap();
    let got = indexed(view.replay(None).unwrap());
    assert_eq!(got, records, "read-only replay");
    // The truncation's own segment took no record (the appends after it
    // rolled to a later window): it holds no index, and open deletes it.
    let dropped: Vec<u64> = view
        .segments()
        .iter()
        .filter(|s| s.dropped)
        .map(|s| s.id)
        .collect();
    assert_eq!(dropped, [3]);
    let meta = view.meta().unwrap().unwrap();
    assert_eq!(meta.purge.unwrap().before, first);

    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(&dir(), tmp.path());
    let wal = Wal::open(tmp.path(), CUT, options()).unwrap();
    let state = wal.log_state();
    let last = records.last().unwrap().0;
    assert_eq!((state.first_index, state.last_index), (first, last));
    for (index, content) in &records {
        assert_eq!(
            &wal.read_index(*index).unwrap().content[..],
            &content[..],
            "{index}"
        );
    }
    assert!(wal.read_index(first - 1).is_err());
    assert_eq!(
        wal.meta_get("raft.vote").unwrap().as_deref(),
        Some(&b"term 5, node 1"[..])
    );
    let r = wal
        .append(None, b"after the fixture", T0 + 3 * DUR, false)
        .unwrap();
    assert_eq!(r.index, last + 1);
    let ids: Vec<u64> = wal.segments().iter().map(|s| s.id()).collect();
    assert_eq!(ids, [1, 2, 4, 5]);
    drop(wal);

    let wal = Wal::open(tmp.path(), RESET, options()).unwrap();
    let state = wal.log_state();
    assert_eq!((state.first_index, state.last_index), (500, 500));
    assert_eq!(
        &wal.read_index(500).unwrap().content[..],
        b"after the reset"
    );
    assert!(wal.segments().iter().any(|s| s.resets_log()));
    assert_eq!(wal.append(None, b"on", T0, false).unwrap().index, 501);
}

/// The format version 3 stream: truncations inside the active segment.
const TRUNC: &str = "fixture-trunc";

fn v3_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3")
}

/// The content of record `index` written in round `round` (each
/// truncation's re-appended records differ from the ones they replace).
fn trunc_record(index: u64, round: u64) -> Vec<u8> {
    format!("round {round} record {index};").into_bytes()
}

/// The truncation before a round: the last index kept, and whether it is
/// deferred.
type Cut = Option<(u64, bool)>;

/// The rounds: (window, the truncation before the round, records appended).
const TRUNC_ROUNDS: [(i64, Cut, u64); 5] = [
    (0, None, 12),
    (0, Some((FIRST_INDEX + 7, false)), 3),
    (0, Some((FIRST_INDEX + 5, true)), 4),
    (1, None, 3),
    (1, Some((FIRST_INDEX + 11, false)), 0),
];

/// What the v3 stream holds: each record's index and content.
fn trunc_log() -> Vec<(u64, Vec<u8>)> {
    let mut log: Vec<(u64, Vec<u8>)> = Vec::new();
    for (round, (_, cut, n)) in TRUNC_ROUNDS.iter().enumerate() {
        if let Some((kept, _)) = cut {
            log.retain(|(i, _)| i <= kept);
        }
        let next = log.last().map_or(FIRST_INDEX, |(i, _)| i + 1);
        log.extend((next..next + n).map(|i| (i, trunc_record(i, round as u64))));
    }
    log
}

#[test]
#[ignore = "writes the committed fixture; run only to change the format on purpose"]
fn generate_the_v3_fixture_stream() {
    let dir = v3_dir();
    std::fs::create_dir_all(&dir).unwrap();
    remove_stream(&dir, TRUNC);
    let wal = Wal::open(&dir, TRUNC, options()).unwrap();
    for (round, (window, cut, n)) in TRUNC_ROUNDS.iter().enumerate() {
        match cut {
            Some((kept, true)) => wal.truncate_after_deferred(*kept).unwrap(),
            Some((kept, false)) => wal.truncate_after(*kept).unwrap(),
            None => {}
        }
        for _ in 0..*n {
            let index = wal.last_index() + 1;
            let c = trunc_record(index, round as u64);
            let now = T0 + window * DUR;
            assert_eq!(wal.append(None, &c, now, false).unwrap().index, index);
        }
    }
    wal.shutdown().unwrap();
    drop(wal);
    std::fs::remove_file(dir.join(format!("{TRUNC}.lock"))).unwrap();
}

/// The v3 stream reads back exactly, read-only and through `Wal::open` of
/// a copy: two segments (the sealed one's footer lists its dropped ranges,
/// the newest ends with a truncation record), and appends go on.
#[test]
fn the_committed_v3_stream_with_truncation_records_reads_back() {
    let want = trunc_log();
    let view = LogView::open(v3_dir(), TRUNC).unwrap();
    assert_eq!(view.segments().len(), 2);
    for info in view.segments() {
        assert!(info.header_problem.is_none(), "{info:?}");
        assert_eq!(view.check_footer(info.id).unwrap(), None, "{info:?}");
        assert_eq!(view.check_segment(info.id).unwrap().problem, None);
    }
    let got = indexed(view.replay(None).unwrap());
    assert_eq!(got, want, "read-only replay");
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(&v3_dir(), tmp.path());
    let wal = Wal::open(tmp.path(), TRUNC, options()).unwrap();
    let last = want.last().unwrap().0;
    assert_eq!((wal.first_index(), wal.last_index()), (FIRST_INDEX, last));
    for (index, content) in &want {
        assert_eq!(&wal.read_index(*index).unwrap().content[..], &content[..]);
    }
    let all = wal.read_range(FIRST_INDEX, 1000, u64::MAX).unwrap();
    assert_eq!(all.len(), want.len());
    for (r, rec) in &all {
        assert_eq!(wal.read(*r).unwrap(), *rec);
    }
    let r = wal
        .append(None, b"after the fixture", T0 + 2 * DUR, false)
        .unwrap();
    assert_eq!(r.index, last + 1);
    assert_eq!(wal.replay(None).unwrap().count(), want.len() + 1);
}

// SPDX-License-Identifier: MIT
//! The committed stream of format version 2 under `tests/fixtures/v2`
//! (three segments sealed by rotation, with index footers, and a newest
//! one; single records with and without headers, empty headers, batches,
//! indexes from 1000) must read back exactly, read-only and through
//! `Wal::open` of a copy: a change that cannot read the files it wrote
//! before fails here. The files are the reference; they were made by
//! `generate_the_fixture_stream` (ignored: run it only when the format
//! changes on purpose, with
//! `cargo test --test fixtures -- --ignored generate`).

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
    let _ = std::fs::remove_dir_all(&dir);
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

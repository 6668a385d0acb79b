// SPDX-License-Identifier: MIT
//! The engine's public behaviours: open, options, names, appends, windows and
//! rotation, reads and their errors, replay, cleanup, locks, shutdown, errors.

mod common;

use common::*;
use nano_wal::{EntryRef, Wal, WalError, WalOptions, WriteEntry, MIN_SEGMENT_BYTES};
use std::ffi::OsString;
use std::io::{BufReader, Write};
use std::path::Path;
use std::time::Duration;

fn open(dir: &Path) -> Wal {
    Wal::open(dir, "s", test_opts()).unwrap()
}

// ---------------------------------------------------------------- open

// The point is to pass each path type as written, so clippy's "simpler
// argument" suggestions are what this test must not follow.
#[allow(
    clippy::needless_borrows_for_generic_args,
    clippy::unnecessary_to_owned,
    clippy::useless_vec
)]
#[test]
fn open_and_new_accept_any_path_type() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let p = |n: &str| base.join(n);
    let s = p("str");
    let string = p("string");
    // &str, String, &String, PathBuf, &PathBuf, &Path, OsString: all AsRef<Path>.
    let wals = vec![
        Wal::open(s.to_str().unwrap(), "s", test_opts()).unwrap(),
        Wal::new(string.to_str().unwrap().to_string(), "s", test_opts()).unwrap(),
        Wal::new(
            &p("ref_string").to_str().unwrap().to_string(),
            "s",
            test_opts(),
        )
        .unwrap(),
        Wal::open(p("pathbuf"), "s", test_opts()).unwrap(),
        Wal::new(&p("ref_pathbuf"), "s", test_opts()).unwrap(),
        Wal::open(p("path").as_path(), "s", test_opts()).unwrap(),
        Wal::new(OsString::from(p("osstring")), "s", test_opts()).unwrap(),
    ];
    for (i, wal) in wals.iter().enumerate() {
        let r = wal
            .append(None, format!("rec{i}").as_bytes(), T0, false)
            .unwrap();
        assert_eq!(
            &wal.read(r).unwrap().content[..],
            format!("rec{i}").as_bytes()
        );
        assert_eq!(wal.stream(), "s");
        assert_eq!(wal.options(), &test_opts());
        assert_eq!(seg_files(wal.dir(), "s").len(), 1);
    }
    assert_eq!(wals[0].dir(), s.as_path());
}

#[test]
fn open_creates_missing_directories_and_creates_no_segment_before_first_append() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/c");
    let wal = Wal::open(&dir, "s", test_opts()).unwrap();
    assert!(dir.is_dir());
    assert!(all_seg_files(&dir).is_empty());
    assert!(wal.segments().is_empty());
    assert!(replay_all(&wal).is_empty());
    wal.sync().unwrap();
    // An empty batch is OK and does nothing.
    assert!(wal.append_batch(&[], T0, true).unwrap().is_empty());
    assert!(all_seg_files(&dir).is_empty());
}

#[test]
fn open_on_a_regular_file_fails_with_io() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("file");
    std::fs::write(&f, b"x").unwrap();
    for dir in [f.clone(), f.join("sub")] {
        match Wal::open(&dir, "s", test_opts()) {
            Err(WalError::Io { .. }) | Err(WalError::InvalidConfig(_)) => {}
            other => panic!("{dir:?}: expected an error, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- options

#[test]
fn invalid_options_give_invalid_config_naming_the_field_and_touch_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("never_created");
    let d = test_opts();
    let cases: Vec<(WalOptions, &str)> = vec![
        (
            WalOptions {
                segment_duration: Duration::ZERO,
                ..d.clone()
            },
            "segment_duration",
        ),
        (
            // Sub-millisecond durations round to 0 ms.
            WalOptions {
                segment_duration: Duration::from_micros(999),
                ..d.clone()
            },
            "segment_duration",
        ),
        (
            WalOptions {
                retention: Duration::from_millis(999),
                segment_duration: Duration::from_millis(1000),
                ..d.clone()
            },
            "retention",
        ),
        (
            WalOptions {
                retention: Duration::MAX,
                ..d.clone()
            },
            "retention",
        ),
        (
            WalOptions {
                segment_duration: Duration::MAX,
                retention: Duration::MAX,
                ..d.clone()
            },
            "segment_duration",
        ),
        (
            WalOptions {
                retention: Duration::from_millis(i64::MAX as u64),
                ..d.clone()
            },
            "overflow",
        ),
        (
            WalOptions {
                max_segment_bytes: 1,
                ..d.clone()
            },
            "max_segment_bytes",
        ),
        (
            WalOptions {
                max_segment_bytes: MIN_SEGMENT_BYTES - 1,
                ..d.clone()
            },
            "max_segment_bytes",
        ),
        (
            WalOptions {
                file_mode: 0o400,
                ..d.clone()
            },
            "file_mode",
        ),
        (
            WalOptions {
                file_mode: 0o4600,
                ..d.clone()
            },
            "file_mode",
        ),
    ];
    for (o, word) in cases {
        match Wal::open(&dir, "s", o.clone()) {
            Err(e @ WalError::InvalidConfig(_)) => {
                let msg = e.to_string();
                assert!(msg.contains(word), "{o:?}: message {msg:?} lacks {word:?}");
                assert!(msg.starts_with("invalid configuration"), "{msg}");
            }
            other => panic!("{o:?}: expected InvalidConfig, got {other:?}"),
        }
        assert!(
            !dir.exists(),
            "invalid options must not create the directory"
        );
    }
    // The boundaries are valid.
    for o in [
        WalOptions {
            retention: Duration::from_millis(1),
            segment_duration: Duration::from_millis(1),
            ..d.clone()
        },
        WalOptions {
            max_segment_bytes: MIN_SEGMENT_BYTES,
            ..d.clone()
        },
        WalOptions {
            file_mode: 0o777,
            ..d.clone()
        },
        WalOptions::default(),
    ] {
        let w = Wal::open(&dir, "s", o.clone()).unwrap();
        w.append(None, b"x", T0, false).unwrap();
    }
}

#[test]
fn default_options_are_the_documented_ones() {
    let d = WalOptions::default();
    assert_eq!(d.retention, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(d.segment_duration, Duration::from_secs(3600));
    assert_eq!(d.max_segment_bytes, 0);
    assert_eq!(d.file_mode, 0o600);
    assert!(!d.salvage);
}

#[test]
fn files_are_created_with_the_file_mode() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let w = Wal::open(tmp.path(), "def", test_opts()).unwrap();
    w.append(None, b"x", T0, false).unwrap();
    assert_eq!(mode(&seg_files(tmp.path(), "def")[0].2), 0o600);
    assert_eq!(mode(&tmp.path().join("def.lock")), 0o600);
    let w2 = Wal::open(
        tmp.path(),
        "grp",
        WalOptions {
            file_mode: 0o640,
            ..test_opts()
        },
    )
    .unwrap();
    w2.append(None, b"x", T0, false).unwrap();
    let m = mode(&seg_files(tmp.path(), "grp")[0].2);
    // The umask may only remove bits: owner rw stays, nothing beyond 0o640 appears.
    assert_eq!(m & 0o600, 0o600);
    assert_eq!(m & !0o640, 0);
}

// ---------------------------------------------------------------- names

#[test]
fn stream_names_that_could_escape_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let long = "x".repeat(201);
    for bad in [
        "", ".", "..", "../x", "a/b", "/abs", "a\0b", ".hidden", "sp ace", "é", "a\\b", "*", &long,
    ] {
        match Wal::open(&dir, bad, test_opts()) {
            Err(e @ WalError::InvalidConfig(_)) => {
                assert!(e.to_string().contains("invalid stream name"), "{e}")
            }
            other => panic!("{bad:?}: expected InvalidConfig, got {other:?}"),
        }
    }
    // Nothing was created anywhere.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    let max = "y".repeat(200);
    for good in ["a", "A.b_c-9", "0", "a..b", "-", "_", &max] {
        let w = Wal::open(&dir, good, test_opts()).unwrap();
        w.append(None, b"ok", T0, false).unwrap();
        assert_eq!(seg_files(&dir, good).len(), 1, "{good:?}");
    }
}

#[test]
fn streams_whose_names_are_prefixes_do_not_see_each_others_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let names = ["a", "a_1", "a_1_2", "a-"];
    let mut refs: Vec<Vec<EntryRef>> = Vec::new();
    {
        let wals: Vec<Wal> = names
            .iter()
            .map(|n| Wal::open(dir, n, test_opts()).unwrap())
            .collect();
        for (k, w) in wals.iter().enumerate() {
            let mut v = Vec::new();
            for i in 0..4i64 {
                // Several windows each, so ids and expirations look alike.
                v.push(
                    w.append(None, format!("{k}-{i}").as_bytes(), T0 + i * DUR, false)
                        .unwrap(),
                );
            }
            refs.push(v);
        }
    }
    for (k, n) in names.iter().enumerate() {
        let w = Wal::open(dir, n, test_opts()).unwrap();
        assert_eq!(w.segments().len(), 4, "{n}");
        let got = replay_all(&w);
        assert_eq!(got.len(), 4, "{n}");
        for (i, (r, rec)) in got.iter().enumerate() {
            assert_eq!(*r, refs[k][i]);
            assert_eq!(rec.content, format!("{k}-{i}").as_bytes());
        }
    }
    // Cleanup of "a" only counts and deletes "a"'s files.
    let a = Wal::open(dir, "a", test_opts()).unwrap();
    let res = a.cleanup(i64::MAX).unwrap();
    assert_eq!(res.deleted.len(), 3);
    assert_eq!(res.live_count, 1);
    for n in &names[1..] {
        assert_eq!(seg_files(dir, n).len(), 4, "{n} lost files");
    }
    assert_eq!(seg_files(dir, "a").len(), 1);
}

#[test]
fn segment_files_are_named_stream_expiration_id() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    w.append(None, b"x", T0 + 10, false).unwrap();
    w.append(None, b"y", T0 + DUR + 10, false).unwrap();
    let names = all_seg_files(tmp.path());
    let e1 = T0 + DUR + RET;
    let e2 = T0 + 2 * DUR + RET;
    assert_eq!(
        names,
        vec![format!("s_{e1}_1.seg"), format!("s_{e2}_2.seg")]
    );
    let segs = w.segments();
    assert_eq!(segs[0].id(), 1);
    assert_eq!(segs[0].expiration_ms(), e1);
    assert_eq!(segs[0].window_start_ms(), T0);
    assert_eq!(segs[1].window_start_ms(), T0 + DUR);
    assert_eq!(segs[1].path(), tmp.path().join(format!("s_{e2}_2.seg")));
}

#[test]
fn segment_files_lists_a_streams_files_by_name_alone() {
    use nano_wal::inspect::segment_files;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for n in ["a", "a_1"] {
        let w = Wal::open(dir, n, test_opts()).unwrap();
        for i in 0..3i64 {
            w.append(None, b"x", T0 + i * DUR, false).unwrap();
        }
    }
    // A file whose header does not even verify is listed by its name.
    std::fs::write(dir.join(format!("a_{}_10.seg", T0 + RET)), b"junk").unwrap();
    std::fs::write(dir.join("a_notes.txt"), b"not a segment").unwrap();
    let want: Vec<_> = seg_files(dir, "a").into_iter().map(|f| f.2).collect();
    assert_eq!(want.len(), 4);
    assert_eq!(segment_files(dir, "a").unwrap(), want, "sorted by id");
    assert_eq!(segment_files(dir, "a_1").unwrap().len(), 3);
    assert_eq!(
        segment_files(dir, "b").unwrap(),
        Vec::<std::path::PathBuf>::new()
    );
    match segment_files(dir, "../a") {
        Err(e @ WalError::InvalidConfig(_)) => {
            assert!(e.to_string().contains("invalid stream name"), "{e}")
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    match segment_files(&dir.join("missing"), "a") {
        Err(e @ WalError::Io { .. }) => assert!(e.to_string().contains("listing directory"), "{e}"),
        other => panic!("expected Io, got {other:?}"),
    }
}

// ---------------------------------------------------------------- appends

#[test]
fn append_returns_exact_refs_and_reads_back_headers_and_contents() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let big = Rng::new(1).bytes(1 << 20);
    let max_header = vec![7u8; u16::MAX as usize];
    let cases: Vec<(Option<&[u8]>, &[u8])> = vec![
        (None, b"no header"),
        (Some(b""), b"empty header"),
        (Some(b"hdr"), b""),
        (None, b""),
        (Some(b"h"), &big),
        (Some(&max_header), b"max header"),
    ];
    let mut expect_off = SEG_HDR;
    let mut refs = Vec::new();
    for (h, c) in &cases {
        let r = w.append(*h, c, T0, false).unwrap();
        assert_eq!(r.segment_id, 1);
        assert_eq!(r.offset, expect_off, "records are contiguous");
        assert_eq!(r.size, rec_size(*h, c));
        expect_off += r.size;
        refs.push(r);
    }
    for ((h, c), r) in cases.iter().zip(&refs) {
        let rec = w.read(*r).unwrap();
        assert_eq!(
            rec.header.as_deref(),
            *h,
            "None and Some(empty) stay distinct"
        );
        assert_eq!(&rec.content[..], *c);
    }
    assert_eq!(w.segments()[0].len(), expect_off);
    drop(w);
    assert_eq!(file_len(&seg_files(tmp.path(), "s")[0].2), expect_off);
}

#[test]
fn oversized_headers_and_contents_are_rejected_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let r = w.append(None, b"before", T0, false).unwrap();
    let h = vec![0u8; u16::MAX as usize + 1];
    match w.append(Some(&h), b"c", T0, false) {
        Err(e @ WalError::HeaderTooLarge { size, max }) => {
            assert_eq!((size, max), (65536, 65535));
            assert!(e.to_string().contains("65536"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // A batch with one oversized header writes none of its records.
    let batch = [
        WriteEntry {
            header: None,
            content: b"ok",
        },
        WriteEntry {
            header: Some(&h),
            content: b"c",
        },
    ];
    assert!(matches!(
        w.append_batch(&batch, T0, false),
        Err(WalError::HeaderTooLarge { .. })
    ));
    // Content over the format's 1 GiB maximum: InvalidArgument, checked
    // before anything is written (calloc'ed zero pages, never touched).
    let too_big = vec![0u8; (1 << 30) + 1];
    match w.append(None, &too_big, T0, false) {
        Err(WalError::InvalidArgument(m)) => assert!(m.contains("exceeds"), "{m}"),
        other => panic!("{other:?}"),
    }
    drop(too_big);
    assert_eq!(replay_refs(&w), vec![r]);
    let r2 = w.append(None, b"after", T0, false).unwrap();
    assert_eq!(r2.offset, r.offset + r.size);
}

#[test]
fn append_batch_of_any_length_is_contiguous_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let mut rng = Rng::new(7);
    let mut all_items = Vec::new();
    let mut all_refs = Vec::new();
    for n in [1usize, 2, 3, 100, 1023, 1024, 1025, 10_000] {
        let items: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..n)
            .map(|_| {
                let h = rng.header();
                let len = rng.below(40) as usize;
                (h, rng.bytes(len))
            })
            .collect();
        let refs = w.append_batch(&entries(&items), T0, false).unwrap();
        assert_eq!(refs.len(), n);
        let mut at = all_refs
            .last()
            .map_or(SEG_HDR, |r: &EntryRef| r.offset + r.size);
        for (k, (r, (h, c))) in refs.iter().zip(&items).enumerate() {
            assert_eq!(
                *r,
                EntryRef {
                    segment_id: 1,
                    offset: at,
                    size: rec_size(h.as_deref(), c),
                    index: (all_items.len() + k) as u64 + 1,
                }
            );
            at += r.size;
        }
        all_items.extend(items);
        all_refs.extend(refs);
    }
    let recs = w.read_batch(&all_refs).unwrap();
    for (rec, (h, c)) in recs.iter().zip(&all_items) {
        assert_eq!(rec.header.as_deref(), h.as_deref());
        assert_eq!(&rec.content[..], &c[..]);
    }
    assert_eq!(replay_refs(&w), all_refs);
    let end = all_refs.last().map(|r| r.offset + r.size).unwrap();
    drop(w);
    assert_eq!(file_len(&seg_files(tmp.path(), "s")[0].2), end);
}

#[test]
fn times_whose_expiration_overflows_are_invalid_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let r = w.append(None, b"ok", T0, false).unwrap();
    for t in [i64::MAX, i64::MAX - RET, i64::MIN, i64::MIN + 1] {
        match w.append(None, b"x", t, false) {
            Err(WalError::InvalidArgument(m)) => assert!(m.contains("time"), "{m}"),
            other => panic!("t={t}: expected InvalidArgument, got {other:?}"),
        }
    }
    // The log is unharmed.
    assert_eq!(replay_refs(&w), vec![r]);
    assert_eq!(w.segments().len(), 1);
    // The extremes that do fit still work, in order.
    let tmp2 = tempfile::tempdir().unwrap();
    let w2 = open(tmp2.path());
    let lo = i64::MIN / DUR * DUR; // a window start whose floor does not overflow
    w2.append(None, b"lo", lo, false).unwrap();
    w2.append(None, b"hi", i64::MAX - RET - 2 * DUR, false)
        .unwrap();
    assert_eq!(w2.segments().len(), 2);
}

// ---------------------------------------------------------------- windows

#[test]
fn windows_use_floor_division_including_negative_times() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    // (time, expected window start), in increasing time order.
    let cases = [
        (-2 * DUR - 1, -3 * DUR),
        (-2 * DUR, -2 * DUR),
        (-DUR - 1, -2 * DUR),
        (-DUR, -DUR),
        (-1, -DUR),
        (0, 0),
        (DUR - 1, 0),
        (DUR, DUR),
    ];
    let mut ids = Vec::new();
    for (t, _) in cases {
        ids.push(
            w.append(None, &t.to_le_bytes(), t, false)
                .unwrap()
                .segment_id,
        );
    }
    // One segment per distinct window, ids increasing.
    assert_eq!(ids, vec![1, 2, 2, 3, 3, 4, 4, 5]);
    for ((t, win), id) in cases.iter().zip(&ids) {
        let seg = w.segment(*id).unwrap();
        assert_eq!(seg.window_start_ms(), *win, "t={t}");
        assert_eq!(seg.expiration_ms(), win + DUR + RET);
    }
    let files = seg_files(tmp.path(), "s");
    let exps: Vec<i64> = files.iter().map(|f| f.1).collect();
    assert_eq!(
        exps,
        vec![
            -3 * DUR + DUR + RET,
            -DUR + RET,
            RET,
            DUR + RET,
            2 * DUR + RET
        ]
    );
    // The files parse back after reopen.
    drop(w);
    let w = open(tmp.path());
    assert_eq!(replay_refs(&w).len(), cases.len());
}

#[test]
fn rotation_only_moves_forward_and_late_records_go_to_the_active_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let a = w.append(None, b"w5", T0 + 5 * DUR, false).unwrap();
    // Late (earlier window): same segment, right after.
    let b = w.append(None, b"w3", T0 + 3 * DUR, false).unwrap();
    let c = w.append(None, b"w-far", -T0, false).unwrap();
    assert_eq!((a.segment_id, b.segment_id, c.segment_id), (1, 1, 1));
    assert_eq!(b.offset, a.offset + a.size);
    assert_eq!(seg_files(tmp.path(), "s").len(), 1);
    // Later window: a new segment.
    let d = w.append(None, b"w6", T0 + 6 * DUR, false).unwrap();
    assert_eq!(d.segment_id, 2);
    // Late again: the active (window 6) segment, never the old one.
    let len1 = file_len(&seg_path(tmp.path(), "s", 1));
    let e = w.append(None, b"w5 late", T0 + 5 * DUR + 1, false).unwrap();
    assert_eq!(e.segment_id, 2);
    assert_eq!(file_len(&seg_path(tmp.path(), "s", 1)), len1);
    assert_eq!(replay_refs(&w), vec![a, b, c, d, e]);
    // Refs order as the log does.
    let mut sorted = vec![e, c, a, d, b];
    sorted.sort();
    assert_eq!(sorted, vec![a, b, c, d, e]);
}

#[test]
fn max_segment_bytes_rolls_within_a_window_and_never_splits_a_record_or_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = MIN_SEGMENT_BYTES;
    let o = WalOptions {
        max_segment_bytes: cap,
        ..test_opts()
    };
    let w = Wal::open(tmp.path(), "s", o.clone()).unwrap();
    let mut expect = Vec::new();
    for i in 0..200u64 {
        let c = content_for(1, i, 2000);
        let r = w.append(None, &c, T0, false).unwrap();
        expect.push((r, c));
    }
    // One record larger than the cap gets a segment of its own.
    let huge = vec![9u8; cap as usize + 10];
    let rh = w.append(None, &huge, T0, false).unwrap();
    expect.push((rh, huge));
    // A batch that does not fit in what is left moves whole to a new segment.
    let items: Vec<(Option<Vec<u8>>, Vec<u8>)> =
        (0..40).map(|i| (None, content_for(2, i, 3000))).collect();
    let brefs = w.append_batch(&entries(&items), T0, false).unwrap();
    assert!(brefs.iter().all(|r| r.segment_id == brefs[0].segment_id));
    for (r, (_, c)) in brefs.iter().zip(items) {
        expect.push((*r, c));
    }
    let segs = w.segments();
    assert!(segs.len() >= 5, "{}", segs.len());
    for s in &segs {
        assert_eq!(s.window_start_ms(), T0, "size rolls keep the window");
        if s.id() != rh.segment_id {
            assert!(s.len() <= cap, "segment {} is {} bytes", s.id(), s.len());
        }
    }
    assert_eq!(w.segment(rh.segment_id).unwrap().len(), SEG_HDR + rh.size);
    assert_eq!(rh.offset, SEG_HDR);
    assert_ne!(brefs[0].segment_id, rh.segment_id);
    let got = replay_all(&w);
    assert_eq!(got.len(), expect.len());
    for ((r, rec), (er, c)) in got.iter().zip(&expect) {
        assert_eq!(r, er);
        assert_eq!(&rec.content[..], &c[..]);
    }
    // After reopen the newest (non-full) segment keeps taking appends.
    drop(w);
    let w = Wal::open(tmp.path(), "s", o).unwrap();
    let files_before = seg_files(tmp.path(), "s").len();
    let last = w.append(None, b"x", T0, false).unwrap();
    assert_eq!(last.segment_id, brefs[0].segment_id);
    assert_eq!(seg_files(tmp.path(), "s").len(), files_before);
}

// ---------------------------------------------------------------- reads

fn three_segments(dir: &Path) -> (Wal, Vec<(EntryRef, Vec<u8>)>) {
    let w = open(dir);
    let mut v = Vec::new();
    for i in 0..30u64 {
        let c = content_for(3, i, 300);
        let t = T0 + (i as i64 / 10) * DUR;
        let r = w.append(Some(&header_for(3, i)), &c, t, false).unwrap();
        v.push((r, c));
    }
    assert_eq!(w.segments().len(), 3);
    (w, v)
}

#[test]
fn read_batch_returns_records_in_input_order_across_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, v) = three_segments(tmp.path());
    let mut rng = Rng::new(11);
    for _ in 0..20 {
        // Random order, with duplicates, across all three segments.
        let n = rng.below(60) as usize + 1;
        let picks: Vec<usize> = (0..n).map(|_| rng.below(v.len() as u64) as usize).collect();
        let refs: Vec<EntryRef> = picks.iter().map(|&i| v[i].0).collect();
        let recs = w.read_batch(&refs).unwrap();
        assert_eq!(recs.len(), n);
        for (rec, &i) in recs.iter().zip(&picks) {
            assert_eq!(rec.header.as_deref(), Some(&header_for(3, i as u64)[..]));
            assert_eq!(&rec.content[..], &v[i].1[..]);
        }
    }
    assert!(w.read_batch(&[]).unwrap().is_empty());
    // The free-function form over segment handles agrees.
    let d: Vec<nano_wal::ReadDescriptor> = v
        .iter()
        .rev()
        .map(|(r, _)| nano_wal::ReadDescriptor {
            segment: w.segment(r.segment_id).unwrap(),
            offset: r.offset,
            size: r.size,
            index: r.index,
        })
        .collect();
    let recs = nano_wal::read_batch(&d).unwrap();
    for (rec, (_, c)) in recs.iter().zip(v.iter().rev()) {
        assert_eq!(&rec.content[..], &c[..]);
    }
}

#[test]
fn bad_refs_give_the_documented_errors_and_never_other_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, v) = three_segments(tmp.path());
    let (r, _) = v[12]; // middle of segment 2 (sealed)
    let (last, _) = *v.last().unwrap(); // last record of the active segment
    let seg2_end = w.segment(2).unwrap().len();
    let with = |r: EntryRef, off: i64, size: i64| EntryRef {
        segment_id: r.segment_id,
        offset: (r.offset as i64 + off) as u64,
        size: (r.size as i64 + size) as u64,
        index: r.index,
    };
    let check = |bad: EntryRef, want: &str| {
        let got = w.read(bad);
        let ok = match (&got, want) {
            (Err(WalError::SegmentNotFound(id)), "notfound") => *id == bad.segment_id,
            (Err(WalError::InvalidArgument(_)), "invalid") => true,
            (Err(WalError::CorruptedData { segment_id, .. }), "corrupt") => {
                *segment_id == bad.segment_id
            }
            _ => false,
        };
        assert!(ok, "{bad:?}: expected {want}, got {got:?}");
        // Inside a batch with good refs, the whole read fails.
        assert!(w.read_batch(&[v[0].0, bad, v[29].0]).is_err());
    };
    check(
        EntryRef {
            segment_id: 99,
            ..r
        },
        "notfound",
    );
    check(EntryRef { segment_id: 0, ..r }, "notfound");
    check(EntryRef { size: 0, ..r }, "invalid");
    check(
        EntryRef {
            offset: seg2_end,
            size: 1,
            ..r
        },
        "invalid",
    );
    check(
        EntryRef {
            offset: seg2_end - 10,
            size: 11,
            ..r
        },
        "invalid",
    );
    check(
        EntryRef {
            offset: u64::MAX - 2,
            size: 10,
            ..r
        },
        "invalid",
    );
    check(with(last, 0, 1), "invalid"); // one byte past the active segment's end
    check(with(r, 1, -1), "corrupt"); // inside the record
    check(with(r, 0, -1), "corrupt"); // one byte short
    check(with(r, 0, 1), "corrupt"); // one byte into the next record
    check(with(r, -1, 1), "corrupt"); // starts one byte early
    check(
        EntryRef {
            size: r.size + v[13].0.size,
            ..r
        },
        "corrupt",
    ); // two whole records
    check(EntryRef { offset: 0, ..r }, "corrupt"); // the segment header
    check(
        EntryRef {
            offset: SEG_HDR,
            size: 10,
            ..r
        },
        "corrupt",
    ); // shorter than a frame
       // The (offset, size) of a record, asked of another segment, never reads
       // back: the CRC is seeded with the segment id, and no other record has
       // the same bytes.
    for (a, _) in &v {
        for id in 1..=3 {
            if id != a.segment_id {
                let fake = EntryRef {
                    segment_id: id,
                    ..*a
                };
                assert!(w.read(fake).is_err(), "{fake:?} read back");
            }
        }
    }
}

#[test]
fn reads_never_block_on_writers_and_see_only_whole_batches() {
    // A reader racing a writer of large batches either gets
    // InvalidArgument (past the published end) or the exact bytes.
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let items: Vec<(Option<Vec<u8>>, Vec<u8>)> =
        (0..200).map(|i| (None, content_for(4, i, 100))).collect();
    // Predict the refs of the next batches: contiguous from the header.
    let sizes: Vec<u64> = items
        .iter()
        .map(|(h, c)| rec_size(h.as_deref(), c))
        .collect();
    let batch_bytes: u64 = sizes.iter().sum();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..20 {
                w.append_batch(&entries(&items), T0, false).unwrap();
            }
        });
        s.spawn(|| {
            let mut seen_ok = 0;
            let mut rng = Rng::new(5);
            while seen_ok < 200 {
                let b = rng.below(20);
                let i = rng.below(200) as usize;
                let off = SEG_HDR + b * batch_bytes + sizes[..i].iter().sum::<u64>();
                let r = EntryRef {
                    segment_id: 1,
                    offset: off,
                    size: sizes[i],
                    index: b * 200 + i as u64 + 1,
                };
                match w.read(r) {
                    Ok(rec) => {
                        assert_eq!(&rec.content[..], &items[i].1[..]);
                        seen_ok += 1;
                    }
                    // Not written yet: past the end, or counted just after it.
                    Err(WalError::InvalidArgument(_))
                    | Err(WalError::SegmentNotFound(1))
                    | Err(WalError::IndexNotFound { .. }) => {}
                    Err(e) => panic!("{r:?}: {e}"),
                }
            }
        });
    });
}

// ---------------------------------------------------------------- replay

#[test]
fn replay_yields_every_record_in_log_order_optionally_from_a_ref() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, v) = three_segments(tmp.path());
    let got = replay_all(&w);
    assert_eq!(got.len(), v.len());
    for ((r, rec), (er, c)) in got.iter().zip(&v) {
        assert_eq!(r, er);
        assert_eq!(&rec.content[..], &c[..]);
    }
    // From every ref (inclusive), including the first of each segment.
    for k in 0..v.len() {
        let from: Vec<EntryRef> = w
            .replay(Some(v[k].0))
            .unwrap()
            .map(|x| x.unwrap().0)
            .collect();
        let want: Vec<EntryRef> = v[k..].iter().map(|x| x.0).collect();
        assert_eq!(from, want, "from {k}");
    }
    // Bad starting refs.
    let r = v[5].0;
    assert!(matches!(
        w.replay(Some(EntryRef {
            segment_id: 42,
            ..r
        })),
        Err(WalError::SegmentNotFound(42))
    ));
    assert!(matches!(
        w.replay(Some(EntryRef { size: 0, ..r })),
        Err(WalError::InvalidArgument(_))
    ));
    assert!(matches!(
        w.replay(Some(EntryRef {
            offset: w.segment(1).unwrap().len(),
            ..r
        })),
        Err(WalError::InvalidArgument(_))
    ));
    for bad in [
        EntryRef {
            size: r.size - 1,
            ..r
        },
        EntryRef {
            offset: r.offset + 1,
            size: r.size - 1,
            ..r
        },
        EntryRef { offset: 0, ..r },
    ] {
        let first = w.replay(Some(bad)).and_then(|mut it| it.next().unwrap());
        assert!(
            matches!(first, Err(WalError::CorruptedData { .. })),
            "{bad:?}: {first:?}"
        );
    }
    // An empty stream replays nothing.
    let tmp2 = tempfile::tempdir().unwrap();
    assert_eq!(open(tmp2.path()).replay(None).unwrap().count(), 0);
}

#[test]
fn replay_follows_the_log_as_it_grows() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let a = w.append(None, b"a", T0, false).unwrap();
    let mut it = w.replay(None).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, a);
    let b = w.append(None, b"b", T0, false).unwrap();
    let c = w.append(None, b"c", T0 + DUR, false).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, b);
    assert_eq!(it.next().unwrap().unwrap().0, c);
    assert!(it.next().is_none());
}

// ---------------------------------------------------------------- cleanup

#[test]
fn cleanup_deletes_expired_segments_by_the_callers_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (w, v) = three_segments(dir);
    // Sizes before, for bytes_reclaimed.
    let files = seg_files(dir, "s");
    let sizes: Vec<u64> = files.iter().map(|f| file_len(&f.2)).collect();
    let exp1 = w.segment(1).unwrap().expiration_ms();
    assert_eq!(exp1, T0 + DUR + RET);
    // Before the first expiration: nothing.
    let res = w.cleanup(exp1 - 1).unwrap();
    assert!(res.deleted.is_empty());
    assert_eq!((res.live_count, res.bytes_reclaimed), (3, 0));
    // Exactly at expiration: deleted (expiration <= now).
    let res = w.cleanup(exp1).unwrap();
    assert_eq!(res.deleted.len(), 1);
    let d = &res.deleted[0];
    assert_eq!(
        (d.segment_id, d.expiration_ms, d.file_size),
        (1, exp1, sizes[0])
    );
    assert_eq!(d.path, files[0].2);
    assert_eq!(res.live_count, 2);
    assert_eq!(res.bytes_reclaimed, sizes[0]);
    assert!(!files[0].2.exists());
    // Refs into the deleted segment: not found, for reads and replay.
    assert!(matches!(w.read(v[0].0), Err(WalError::SegmentNotFound(1))));
    assert!(matches!(
        w.replay(Some(v[3].0)),
        Err(WalError::SegmentNotFound(1))
    ));
    assert!(w.segment(1).is_none());
    // Replay starts at the first live segment.
    let refs = replay_refs(&w);
    assert_eq!(refs.len(), 20);
    assert_eq!(refs[0], v[10].0);
    // Far in the future: everything but the active segment.
    let res = w.cleanup(i64::MAX).unwrap();
    assert_eq!(
        res.deleted.iter().map(|d| d.segment_id).collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!((res.live_count, res.bytes_reclaimed), (1, sizes[1]));
    assert_eq!(seg_files(dir, "s").len(), 1);
    assert_eq!(w.read(v[29].0).unwrap().content, v[29].1);
    // Repeating is a no-op.
    let res = w.cleanup(i64::MAX).unwrap();
    assert!(res.deleted.is_empty());
    assert_eq!(res.live_count, 1);
    // The deletion survives reopen; appends continue.
    drop(w);
    let w = open(dir);
    assert_eq!(replay_refs(&w).len(), 10);
    w.append(None, b"more", T0 + 2 * DUR, false).unwrap();
}

#[test]
fn cleanup_after_reopen_deletes_recovered_segments_and_counts_only_live_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    drop(three_segments(dir));
    let w = open(dir);
    let res = w.cleanup(T0 + 2 * DUR + RET).unwrap();
    assert_eq!(res.deleted.len(), 2);
    assert_eq!(res.live_count, 1);
    assert_eq!(
        res.bytes_reclaimed,
        res.deleted.iter().map(|d| d.file_size).sum::<u64>()
    );
    assert!(res.deleted.iter().all(|d| d.file_size > SEG_HDR));
    // An empty stream: nothing to do.
    let tmp2 = tempfile::tempdir().unwrap();
    let e = open(tmp2.path()).cleanup(i64::MAX).unwrap();
    assert!(e.deleted.is_empty());
    assert_eq!((e.live_count, e.bytes_reclaimed), (0, 0));
}

// ---------------------------------------------------------------- locks

#[test]
fn second_open_in_the_same_process_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    w.append(None, b"x", T0, false).unwrap();
    match Wal::open(tmp.path(), "s", test_opts()) {
        Err(e @ WalError::Locked(_)) => assert!(e.to_string().contains("locked"), "{e}"),
        other => panic!("expected Locked, got {other:?}"),
    }
    // Another stream in the same directory is independent.
    let other = Wal::open(tmp.path(), "t", test_opts()).unwrap();
    other.append(None, b"y", T0, false).unwrap();
    // The failed open changed nothing.
    assert_eq!(replay_refs(&w).len(), 1);
    drop(w);
    let again = open(tmp.path());
    assert_eq!(replay_refs(&again).len(), 1);
}

/// Child body: open the stream in NWAL_CHILD_DIR and, per NWAL_CHILD_MODE,
/// report the outcome (`try`) or hold it until stdin says "release" (`hold`).
#[test]
fn child_lock_helper() {
    let Some(dir) = child_dir() else { return };
    let mode = std::env::var("NWAL_CHILD_MODE").unwrap();
    let res = Wal::open(&dir, "s", test_opts());
    match (mode.as_str(), res) {
        ("try", Err(WalError::Locked(_))) => println!("RESULT:locked"),
        ("try", Ok(_)) => println!("RESULT:opened"),
        ("try", Err(e)) => println!("RESULT:error {e}"),
        ("hold", Ok(w)) => {
            w.append(None, b"from child", T0, false).unwrap();
            println!("RESULT:holding");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "release");
            drop(w);
            println!("RESULT:released");
        }
        (m, r) => panic!("mode {m}: {r:?}"),
    }
}

#[test]
fn open_held_by_another_process_is_locked_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // This process holds it; the child's open is refused.
    let w = open(dir);
    let mut child = spawn_child(
        "child_lock_helper",
        dir,
        &[("NWAL_CHILD_MODE", "try".into())],
    );
    let mut out = BufReader::new(child.stdout.take().unwrap());
    assert_eq!(wait_line(&mut out, "RESULT:"), "locked");
    finish_child(child, out, true);
    drop(w);
    // The child holds it; this process's open is refused until it lets go.
    let mut child = spawn_child(
        "child_lock_helper",
        dir,
        &[("NWAL_CHILD_MODE", "hold".into())],
    );
    let mut out = BufReader::new(child.stdout.take().unwrap());
    assert_eq!(wait_line(&mut out, "RESULT:"), "holding");
    assert!(matches!(
        Wal::open(dir, "s", test_opts()),
        Err(WalError::Locked(_))
    ));
    writeln!(child.stdin.as_mut().unwrap(), "release").unwrap();
    assert_eq!(wait_line(&mut out, "RESULT:"), "released");
    let w = open(dir);
    let recs = replay_all(&w);
    assert_eq!(recs.len(), 1);
    assert_eq!(&recs[0].1.content[..], b"from child");
    finish_child(child, out, true);
}

// ---------------------------------------------------------------- shutdown

#[test]
fn shutdown_rejects_appends_releases_the_lock_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let r = w.append(None, b"kept", T0, false).unwrap();
    assert!(!w.is_shutdown());
    w.shutdown().unwrap();
    assert!(w.is_shutdown());
    assert!(matches!(
        w.append(None, b"late", T0, false),
        Err(WalError::Shutdown)
    ));
    assert!(matches!(
        w.append(None, b"late", T0 + 10 * DUR, true),
        Err(WalError::Shutdown)
    ));
    let batch = [WriteEntry {
        header: None,
        content: b"b",
    }];
    assert!(matches!(
        w.append_batch(&batch, T0, false),
        Err(WalError::Shutdown)
    ));
    assert!(matches!(w.cleanup(i64::MAX), Err(WalError::Shutdown)));
    w.shutdown().unwrap();
    w.sync().unwrap();
    // The lock is free while the old value is still alive.
    let w2 = open(tmp.path());
    assert_eq!(replay_refs(&w2), vec![r]);
    // The new handle appends after the old one's data, in the same segment.
    let r2 = w2.append(None, b"new", T0, false).unwrap();
    assert_eq!(r2.offset, r.offset + r.size);
    assert_eq!(w.shutdown().ok(), Some(()));
    drop(w); // dropping the old, shut-down handle does not disturb the new one
    assert_eq!(w2.read(r2).unwrap().content, &b"new"[..]);
    assert!(matches!(
        Wal::open(tmp.path(), "s", test_opts()),
        Err(WalError::Locked(_))
    ));
}

#[test]
fn drop_syncs_and_releases_and_appends_continue_in_the_same_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut expect = Vec::new();
    for round in 0..3u64 {
        let w = open(tmp.path());
        for i in 0..5 {
            let c = content_for(round, i, 50);
            expect.push((w.append(None, &c, T0 + 1, false).unwrap(), c));
        }
        // Dropped at the end of the round.
    }
    assert_eq!(
        seg_files(tmp.path(), "s").len(),
        1,
        "no new file per reopen"
    );
    let w = open(tmp.path());
    let got = replay_all(&w);
    assert_eq!(got.len(), 15);
    for ((r, rec), (er, c)) in got.iter().zip(&expect) {
        assert_eq!(r, er);
        assert_eq!(&rec.content[..], &c[..]);
    }
}

// ---------------------------------------------------------------- durability

#[test]
fn durable_appends_and_sync_cover_every_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let mut refs = Vec::new();
    // Non-durable records across three segments, then one sync.
    for i in 0..9i64 {
        refs.push(
            w.append(None, &i.to_le_bytes(), T0 + (i / 3) * DUR, false)
                .unwrap(),
        );
    }
    w.sync().unwrap();
    // Concurrent durable appends (group commit) from several threads.
    let durable: Vec<EntryRef> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4u64)
            .map(|t| {
                let w = &w;
                s.spawn(move || {
                    (0..8u64)
                        .map(|i| {
                            let c = content_for(10 + t, i, 64);
                            let r = w.append(Some(&header_for(10 + t, i)), &c, T0 + 3 * DUR, true);
                            r.unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(durable.len(), 32);
    let batch = w
        .append_batch(
            &[
                WriteEntry {
                    header: None,
                    content: b"d1",
                },
                WriteEntry {
                    header: None,
                    content: b"d2",
                },
            ],
            T0 + 4 * DUR,
            true,
        )
        .unwrap();
    drop(w);
    let w = open(tmp.path());
    let all = replay_refs(&w);
    assert_eq!(all.len(), 9 + 32 + 2);
    for r in refs.iter().chain(&durable).chain(&batch) {
        assert!(all.contains(r));
        w.read(*r).unwrap();
    }
    for r in &durable {
        let rec = w.read(*r).unwrap();
        let (t, i) = parse_header(rec.header.as_ref().unwrap());
        assert_eq!(rec.content, content_for(t, i, 64));
    }
}

// ---------------------------------------------------------------- write errors

#[repr(C)]
struct RLimit {
    cur: u64,
    max: u64,
}
extern "C" {
    fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
    fn signal(sig: i32, handler: usize) -> usize;
}
const RLIMIT_FSIZE: i32 = 1;
const SIGXFSZ: i32 = 25;
const SIG_IGN: usize = 1;
const EFBIG: i32 = 27;
const FSIZE_LIMIT: u64 = 20_000;

/// Child body: with RLIMIT_FSIZE set, a write that crosses the limit is
/// short and then fails with EFBIG. The engine must cut the partial bytes
/// off, keep every earlier ref exact, and carry on at the same offset.
#[test]
fn child_write_error_helper() {
    let Some(dir) = child_dir() else { return };
    // SAFETY: plain libc calls on this child process only.
    unsafe {
        signal(SIGXFSZ, SIG_IGN);
        let lim = RLimit {
            cur: FSIZE_LIMIT,
            max: FSIZE_LIMIT,
        };
        assert_eq!(setrlimit(RLIMIT_FSIZE, &lim), 0);
    }
    let w = Wal::open(&dir, "s", test_opts()).unwrap();
    let mut ok = Vec::new();
    let err = loop {
        let c = content_for(20, ok.len() as u64, 1500);
        match w.append(Some(b"h"), &c, T0, false) {
            Ok(r) => ok.push((r, c)),
            Err(e) => break e,
        }
        assert!(ok.len() < 1000);
    };
    assert_eq!(err.os_error(), Some(EFBIG), "{err}");
    assert!(matches!(err, WalError::Io { .. }));
    let path = seg_files(&dir, "s")[0].2.clone();
    let end = ok.last().map_or(SEG_HDR, |(r, _)| r.offset + r.size);
    assert_eq!(file_len(&path), end, "partial write cut off");
    // A batch crossing the limit fails whole, too.
    let items: Vec<(Option<Vec<u8>>, Vec<u8>)> =
        (0..50).map(|i| (None, vec![i as u8; 500])).collect();
    assert!(w.append_batch(&entries(&items), T0, false).is_err());
    assert_eq!(file_len(&path), end);
    // What fits still goes right after the last good record.
    let small = w.append(None, b"fits", T0, false).unwrap();
    assert_eq!(small.offset, end);
    ok.push((small, b"fits".to_vec()));
    for (r, c) in &ok {
        assert_eq!(&w.read(*r).unwrap().content[..], &c[..]);
    }
    assert_eq!(
        replay_refs(&w),
        ok.iter().map(|(r, _)| *r).collect::<Vec<_>>()
    );
    println!("RESULT:ok {}", ok.len());
}

#[test]
fn failed_or_short_writes_leave_no_partial_record_and_refs_stay_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn_child("child_write_error_helper", tmp.path(), &[]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let n: u64 = wait_line(&mut out, "RESULT:ok ").parse().unwrap();
    finish_child(child, out, true);
    assert!(n > 5);
    // Recovery agrees: the file holds exactly the good records.
    let w = open(tmp.path());
    assert_eq!(replay_refs(&w).len() as u64, n);
}

// ---------------------------------------------------------------- errors

#[test]
fn wal_error_display_and_source() {
    use std::error::Error;
    let tmp = tempfile::tempdir().unwrap();
    // Io: keeps the OS error as source, with context in Display.
    let f = tmp.path().join("file");
    std::fs::write(&f, b"x").unwrap();
    let e = Wal::open(f.join("sub"), "s", test_opts()).unwrap_err();
    assert!(matches!(e, WalError::Io { .. }), "{e:?}");
    let src = e.source().expect("Io has a source");
    let io = src.downcast_ref::<std::io::Error>().expect("an io::Error");
    assert_eq!(io.raw_os_error(), e.os_error());
    assert!(e.os_error().is_some());
    let msg = e.to_string();
    assert!(msg.starts_with("I/O error: "), "{msg}");
    assert!(msg.contains("sub"), "context names the path: {msg}");
    assert!(msg.contains(&io.to_string()), "{msg}");
    let bare = WalError::from(std::io::Error::from_raw_os_error(28));
    assert_eq!(bare.os_error(), Some(28));
    assert!(bare.to_string().starts_with("I/O error: "));

    // The others have no source and say what happened.
    let w = open(tmp.path());
    let r = w.append(None, b"x", T0, false).unwrap();
    let cases: Vec<(WalError, Vec<String>)> = vec![
        (
            Wal::open(tmp.path(), "s", test_opts()).unwrap_err(),
            vec!["locked".into()],
        ),
        (
            w.read(EntryRef {
                segment_id: 77,
                ..r
            })
            .unwrap_err(),
            vec!["segment 77".into(), "not found".into()],
        ),
        (
            w.read(EntryRef { size: 0, ..r }).unwrap_err(),
            vec!["invalid argument".into()],
        ),
        (
            w.read(EntryRef {
                offset: r.offset + 1,
                size: r.size - 1,
                ..r
            })
            .unwrap_err(),
            vec![
                "corrupted data".into(),
                "segment 1".into(),
                format!("offset {}", r.offset + 1),
            ],
        ),
        (
            w.append(Some(&vec![0; 70_000]), b"", T0, false)
                .unwrap_err(),
            vec!["70000".into(), "65535".into()],
        ),
        (
            Wal::open(tmp.path().join("x"), "s", opts(0, 1)).unwrap_err(),
            vec!["invalid configuration".into()],
        ),
        (
            Wal::open(tmp.path().join("x"), "../s", test_opts()).unwrap_err(),
            vec!["stream name".into(), "../s".into()],
        ),
        (
            {
                w.shutdown().unwrap();
                w.append(None, b"", T0, false).unwrap_err()
            },
            vec!["shut down".into()],
        ),
    ];
    for (e, words) in cases {
        assert!(e.source().is_none(), "{e:?}");
        assert_eq!(e.os_error(), None);
        let msg = e.to_string();
        for word in words {
            assert!(msg.contains(&word), "{msg:?} lacks {word:?}");
        }
    }
}

#[test]
fn wal_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Wal>();
    assert_send_sync::<WalError>();
}

#[test]
fn a_replay_inside_a_segment_that_cleanup_deletes_finishes_it_and_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, v) = three_segments(tmp.path());
    let mut it = w.replay(None).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, v[0].0);
    // Segments 1 and 2 are deleted while the replay is inside segment 1.
    let res = w.cleanup(i64::MAX).unwrap();
    assert_eq!(res.deleted.len(), 2);
    let rest: Vec<EntryRef> = it.map(|x| x.unwrap().0).collect();
    // The rest of segment 1 comes from the replay's open file; segment 2,
    // deleted before the replay reached it, is not visited; then segment 3.
    let want: Vec<EntryRef> = v[1..10].iter().chain(&v[20..]).map(|x| x.0).collect();
    assert_eq!(rest, want);
}

#[test]
fn options_may_change_between_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let a = {
        let w = open(dir);
        w.append(None, b"a", T0 + 5 * DUR + 1, false).unwrap()
    };
    // Reopen with 10x longer windows and retention: the active segment keeps
    // its own window and expiration; a time in its window (or earlier) goes
    // there; a later window rolls forward with the new arithmetic.
    let o = opts(10 * DUR as u64, 10 * RET as u64);
    let w = Wal::open(dir, "s", o).unwrap();
    let b = w.append(None, b"b", T0 + 5 * DUR + 2, false).unwrap();
    assert_eq!(b.segment_id, a.segment_id);
    let c = w.append(None, b"c", T0 + 20 * DUR, false).unwrap();
    assert_eq!(c.segment_id, 2);
    let seg = w.segment(2).unwrap();
    assert_eq!(seg.window_start_ms(), T0 + 20 * DUR);
    assert_eq!(seg.expiration_ms(), T0 + 30 * DUR + 10 * RET);
    assert_eq!(w.segment(1).unwrap().expiration_ms(), T0 + 6 * DUR + RET);
    assert_eq!(replay_refs(&w), vec![a, b, c]);
}

#[test]
fn rotation_never_truncates_or_reuses_an_existing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = open(dir);
    let a = w.append(None, b"a", T0, false).unwrap();
    // A file already sits where the next rotation would create segment 2.
    let squatter = dir.join(format!("s_{}_2.seg", T0 + 2 * DUR + RET));
    std::fs::write(&squatter, b"precious bytes").unwrap();
    match w.append(None, b"b", T0 + DUR, false) {
        Err(e @ WalError::Io { .. }) => {
            assert_eq!(e.os_error(), Some(17), "EEXIST: {e}"); // create_new
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert_eq!(std::fs::read(&squatter).unwrap(), b"precious bytes");
    // The log is unharmed: the current window still takes appends.
    let c = w.append(None, b"c", T0 + 1, false).unwrap();
    assert_eq!((c.segment_id, c.offset), (1, a.offset + a.size));
    assert_eq!(replay_refs(&w), vec![a, c]);
}

/// Two threads shut the same handle down at once: whichever call comes
/// second returns only once the first has finished (synced and released the
/// stream lock), so either caller may reopen the stream right away.
#[test]
fn concurrent_shutdowns_both_return_after_the_stream_is_released() {
    for trial in 0..20u64 {
        let tmp = tempfile::tempdir().unwrap();
        let w = open(tmp.path());
        let refs: Vec<EntryRef> = (0..50u64)
            .map(|i| {
                w.append(None, &content_for(trial, i, 100), T0, false)
                    .unwrap()
            })
            .collect();
        let start = std::sync::Barrier::new(2);
        let reopen = std::sync::Mutex::new(());
        std::thread::scope(|s| {
            for _ in 0..2 {
                let (w, start, reopen, refs, dir) = (&w, &start, &reopen, &refs, tmp.path());
                s.spawn(move || {
                    start.wait();
                    w.shutdown().unwrap();
                    // One reopen at a time (each takes the stream lock).
                    let _one = reopen.lock().unwrap();
                    let w2 = Wal::open(dir, "s", test_opts())
                        .unwrap_or_else(|e| panic!("trial {trial}: reopen after shutdown: {e}"));
                    assert_eq!(replay_refs(&w2), *refs, "trial {trial}");
                });
            }
        });
    }
}

/// Shutdown and Drop sync what was appended (observed through an injected
/// fdatasync failure, cargo feature `fault-injection`): `shutdown` reports
/// it and still releases the lock; `Drop` consumes the one failing call, so
/// the recovery of the next open (which syncs too) does not meet it.
#[cfg(feature = "fault-injection")]
#[test]
fn shutdown_and_drop_sync_what_was_appended() {
    use nano_wal::fault::{clear_faults, inject_fault, Fault, FaultOp};
    const EIO: i32 = 5;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fail_next_fdatasync = || {
        inject_fault(Fault {
            op: FaultOp::Fdatasync,
            under: dir.to_path_buf(),
            errno: EIO,
            skip: 0,
            times: 1,
            keep_bytes: 0,
        })
    };
    let w = open(dir);
    let a = w.append(None, b"not durable yet", T0, false).unwrap();
    fail_next_fdatasync();
    assert_eq!(w.shutdown().unwrap_err().os_error(), Some(EIO));
    assert!(w.is_shutdown());
    let w2 = open(dir); // the lock was released all the same
    assert_eq!(replay_refs(&w2), vec![a]);
    let b = w2.append(None, b"dropped", T0, false).unwrap();
    fail_next_fdatasync();
    drop(w2);
    let w3 = Wal::open(dir, "s", test_opts()).expect("Drop already met the failing fdatasync");
    clear_faults(dir);
    assert_eq!(replay_refs(&w3), vec![a, b]);
    drop(w);
}

/// Durable appends pre-write zeros ahead of the records (so their fdatasync
/// has no size or allocation to commit); the logical end never moves past
/// the records, reads and replay never see the zeros, sealing and shutdown
/// cut them off, and opening a log left without shutdown (a crash) cuts them
/// from the newest segment. Non-durable appends never pre-write.
#[test]
fn durable_appends_prewrite_zeros_that_sealing_shutdown_and_recovery_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("log");
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    // Non-durable only: the file is exactly the records.
    let r0 = wal.append(None, b"not durable", T0, false).unwrap();
    let path0 = seg_path(dir, "s", r0.segment_id);
    assert_eq!(file_len(&path0), r0.offset + r0.size);
    // The first durable append syncs; the next append grows the file, so it
    // pre-writes first.
    let mut refs = vec![r0, wal.append(None, b"durable", T0, true).unwrap()];
    for i in 0..50u64 {
        refs.push(
            wal.append(None, &content_for(1, i, 200), T0, i % 5 == 0)
                .unwrap(),
        );
    }
    let last = *refs.last().unwrap();
    let end = last.offset + last.size;
    let len = file_len(&path0);
    assert!(
        len > end && len >= 1 << 20 && len.is_multiple_of(32 << 10),
        "pre-written to a 32 KiB boundary: file {len}, records end {end}"
    );
    let bytes = std::fs::read(&path0).unwrap();
    assert!(bytes[end as usize..].iter().all(|&b| b == 0));
    assert_eq!(
        wal.segment(r0.segment_id).unwrap().len(),
        end,
        "logical end"
    );
    // Reads and replay see only records; nwal's read-only view agrees.
    assert_eq!(replay_refs(&wal), refs);
    let view = nano_wal::inspect::LogView::open(dir, "s").unwrap();
    let check = view.check_segment(r0.segment_id).unwrap();
    assert_eq!((check.valid_end, check.problem), (end, None));
    assert_eq!(view.replay(None).unwrap().count(), refs.len());
    // Rolling to the next window seals the segment: cut to its records.
    let r1 = wal.append(None, b"next window", T0 + DUR, false).unwrap();
    assert_eq!(
        file_len(&path0),
        end + 8 * refs.len() as u64 + 40,
        "sealed segment cut to its last record, then its index footer"
    );
    refs.push(r1);
    refs.push(wal.append(None, b"durable", T0 + DUR, true).unwrap());
    refs.push(wal.append(None, b"grows it", T0 + DUR, false).unwrap());
    let path1 = seg_path(dir, "s", r1.segment_id);
    assert!(file_len(&path1) > 1 << 20);
    // A crash here leaves the zeros: opening the image cuts them, with no
    // damage reported.
    let image = &tmp.path().join("crash");
    copy_dir(dir, image);
    let crashed = Wal::open(image, "s", test_opts()).unwrap();
    assert_eq!(replay_refs(&crashed), refs);
    let newest = crashed.segment(r1.segment_id).unwrap();
    let cut = newest.len();
    assert_eq!(file_len(&seg_path(image, "s", r1.segment_id)), cut);
    // Appends go on right after the last record; durable appends pre-write
    // again in the reopened segment.
    let r = crashed
        .append(None, b"after reopen", T0 + DUR, true)
        .unwrap();
    assert_eq!(r.offset, cut);
    let r = crashed
        .append(None, b"grows it again", T0 + DUR, false)
        .unwrap();
    assert!(file_len(&seg_path(image, "s", r1.segment_id)) >= r.offset + r.size + (1 << 19));
    // Shutdown cuts them too: a cleanly closed log ends at its last record.
    let r1_end = refs.last().map(|r| r.offset + r.size).unwrap();
    drop(wal);
    assert_eq!(file_len(&path1), r1_end);
    let seg0_records = refs
        .iter()
        .filter(|r| r.segment_id == r0.segment_id)
        .count() as u64;
    assert_eq!(file_len(&path0), end + 8 * seg0_records + 40);
}

/// Pre-writing stays within `max_segment_bytes`.
#[test]
fn prewriting_respects_the_segment_size_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        max_segment_bytes: 64 << 10,
        ..test_opts()
    };
    let wal = Wal::open(tmp.path(), "s", opts).unwrap();
    for i in 0..400u64 {
        wal.append(None, &content_for(2, i, 900), T0, i % 3 == 0)
            .unwrap();
    }
    for (_, _, path) in seg_files(tmp.path(), "s") {
        assert!(file_len(&path) <= 64 << 10, "{}", path.display());
    }
}

/// What a replay does when cleanup deletes segments under it (documented on
/// `Wal::replay` and `nwal_iter_open`): it finishes the segment it is
/// reading, passes over segments deleted before it gets there, and ends
/// normally.
#[test]
fn replay_finishes_its_segment_and_passes_over_segments_deleted_under_it() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), "s", test_opts()).unwrap();
    let mut refs = Vec::new();
    for w in 0..4i64 {
        for i in 0..3u8 {
            refs.push(wal.append(None, &[i; 10], T0 + w * DUR, false).unwrap());
        }
    }
    let mut it = wal.replay(None).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, refs[0]);
    // Delete the three older segments (the newest is active and stays).
    let cleaned = wal.cleanup(T0 + 3 * DUR + RET).unwrap();
    assert_eq!((cleaned.deleted.len(), cleaned.live_count), (3, 1));
    let rest: Vec<EntryRef> = it.map(|r| r.unwrap().0).collect();
    let mut want = refs[1..3].to_vec(); // the rest of segment 1
    want.extend_from_slice(&refs[9..]); // then the newest segment
    assert_eq!(rest, want);
}

// ---------------------------------------------------------------- indexes

/// The indexes replay yields, in order.
fn replay_indexes(w: &Wal) -> Vec<u64> {
    replay_refs(w).iter().map(|r| r.index).collect()
}

#[test]
fn indexes_are_dense_across_batches_rotations_and_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        max_segment_bytes: MIN_SEGMENT_BYTES,
        ..test_opts()
    };
    let w = Wal::open(tmp.path(), "s", opts.clone()).unwrap();
    let mut want = 1u64;
    let mut check = |r: &EntryRef| {
        assert_eq!(r.index, want, "{r:?}");
        want += 1;
    };
    let big = vec![7u8; 20_000];
    for step in 0..30i64 {
        // Time rotation every 10 steps, size rotation from the big records.
        let now = T0 + (step / 10) * 60_000;
        check(&w.append(None, b"one", now, step % 3 == 0).unwrap());
        let batch = [
            WriteEntry {
                header: Some(b"h"),
                content: &big,
            },
            WriteEntry {
                header: None,
                content: b"two",
            },
        ];
        for r in w.append_batch(&batch, now, false).unwrap() {
            check(&r);
        }
    }
    assert!(w.segments().len() > 3, "rotated by time and size");
    let last = want - 1;
    assert_eq!(replay_indexes(&w), (1..=last).collect::<Vec<_>>());
    // Every segment starts where the one before it ended.
    let segs = w.segments();
    for pair in segs.windows(2) {
        assert_eq!(pair[0].last_index() + 1, pair[1].first_index());
    }
    drop(w);
    let w = Wal::open(tmp.path(), "s", opts).unwrap();
    assert_eq!(w.last_index(), last);
    assert_eq!(replay_indexes(&w), (1..=last).collect::<Vec<_>>());
    assert_eq!(w.append(None, b"after", T0, false).unwrap().index, last + 1);
    // A record is read with its own index only.
    let r = replay_refs(&w)[5];
    assert!(w.read(r).is_ok());
    let other = EntryRef {
        index: r.index + 1,
        ..r
    };
    assert!(matches!(w.read(other), Err(WalError::CorruptedData { .. })));
    let outside = EntryRef {
        index: last + 1,
        ..r
    };
    assert!(matches!(
        w.read(outside),
        Err(WalError::IndexNotFound { .. })
    ));
}

#[test]
fn the_first_index_option_applies_when_the_stream_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = WalOptions {
        first_index: 0,
        ..test_opts()
    };
    assert!(matches!(
        Wal::open(tmp.path(), "s", bad),
        Err(WalError::InvalidConfig(_))
    ));
    assert!(seg_files(tmp.path(), "s").is_empty(), "nothing created");
    let from = |first_index| WalOptions {
        first_index,
        ..test_opts()
    };
    let w = Wal::open(tmp.path(), "s", from(1_000)).unwrap();
    let s = w.log_state();
    assert_eq!(
        (s.first_index, s.last_index, s.durable_index),
        (1_000, 999, 999)
    );
    assert_eq!(w.append(None, b"a", T0, false).unwrap().index, 1_000);
    drop(w);
    // Reopening keeps the stream's indexes whatever the option says.
    let w = Wal::open(tmp.path(), "s", from(5)).unwrap();
    assert_eq!(w.append(None, b"b", T0, false).unwrap().index, 1_001);
    assert_eq!(replay_indexes(&w), vec![1_000, 1_001]);
}

#[test]
fn log_state_follows_appends_syncs_durable_appends_and_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let state = |w: &Wal| {
        let s = w.log_state();
        (s.first_index, s.last_index, s.durable_index)
    };
    assert_eq!(state(&w), (1, 0, 0));
    w.append(None, b"a", T0, false).unwrap();
    w.append(None, b"b", T0, false).unwrap();
    assert_eq!(state(&w), (1, 2, 0));
    w.sync().unwrap();
    assert_eq!(state(&w), (1, 2, 2));
    w.append(None, b"c", T0, false).unwrap();
    assert_eq!(state(&w), (1, 3, 2));
    w.append(None, b"d", T0, true).unwrap();
    assert_eq!(state(&w), (1, 4, 4));
    // Rotation seals (and syncs) the old segment.
    w.append(None, b"e", T0 + 60_000, false).unwrap();
    assert_eq!(w.durable_index(), 4);
    w.append_batch(
        &[
            WriteEntry {
                header: None,
                content: b"f",
            },
            WriteEntry {
                header: None,
                content: b"g",
            },
        ],
        T0 + 60_000,
        true,
    )
    .unwrap();
    assert_eq!(state(&w), (1, 7, 7));
    w.append(None, b"h", T0 + 60_000, false).unwrap();
    drop(w);
    let w = open(tmp.path());
    assert_eq!(state(&w), (1, 8, 8), "everything recovery keeps is durable");
    assert_eq!(
        (w.first_index(), w.last_index(), w.durable_index()),
        (1, 8, 8)
    );
}

#[test]
fn a_replay_from_a_ref_checks_its_index() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let refs: Vec<EntryRef> = (0..5)
        .map(|i| w.append(None, &[i], T0, false).unwrap())
        .collect();
    let from: Vec<u64> = w
        .replay(Some(refs[2]))
        .unwrap()
        .map(|x| x.unwrap().0.index)
        .collect();
    assert_eq!(from, vec![3, 4, 5]);
    let beyond = EntryRef {
        index: 9,
        ..refs[2]
    };
    assert!(matches!(
        w.replay(Some(beyond)),
        Err(WalError::IndexNotFound { index: 9, .. })
    ));
    let wrong = EntryRef {
        index: 2,
        ..refs[2]
    };
    let first = w.replay(Some(wrong)).unwrap().next().unwrap();
    assert!(matches!(first, Err(WalError::CorruptedData { .. })));
}

/// The record cap (`MAX_SEGMENT_RECORDS`, 4,194,304) is lowered for one
/// directory through the fault-injection hook: the real one takes
/// millions of appends to reach.
#[cfg(feature = "fault-injection")]
#[test]
fn a_segment_rotates_at_the_record_cap_and_indexes_stay_dense_across_it() {
    use nano_wal::fault::{clear_faults, set_segment_record_cap};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    set_segment_record_cap(dir, 5);
    let content = |i: u64| format!("record {i}").into_bytes();
    let contents: Vec<Vec<u8>> = (0..14).map(content).collect();
    let mut refs = Vec::new();
    {
        let wal = open(dir);
        // 7 single appends: 5 fill segment 1, the 6th rolls the log.
        for c in &contents[..7] {
            refs.push(wal.append(None, c, T0, false).unwrap());
        }
        // A batch of 3 fills segment 2 exactly; a batch of 4 does not fit
        // the 0 left and goes whole to segment 3 (batches are never split).
        let items = |r: std::ops::Range<usize>| -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
            contents[r].iter().map(|c| (None, c.clone())).collect()
        };
        let (b1, b2) = (items(7..10), items(10..14));
        refs.extend(wal.append_batch(&entries(&b1), T0, false).unwrap());
        refs.extend(wal.append_batch(&entries(&b2), T0, true).unwrap());
        // A batch larger than a segment holds is refused, nothing written.
        let six = items(0..6);
        match wal.append_batch(&entries(&six), T0, false) {
            Err(e @ WalError::InvalidArgument(_)) => assert!(
                e.to_string()
                    .contains("a batch of 6 records exceeds the 5 records a segment holds"),
                "{e}"
            ),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
        let segs = wal.segments();
        let shape: Vec<(u64, u64, u64)> = segs
            .iter()
            .map(|s| (s.id(), s.first_index(), s.record_count()))
            .collect();
        assert_eq!(shape, vec![(1, 1, 5), (2, 6, 5), (3, 11, 4)]);
        assert!(segs
            .iter()
            .all(|s| s.window_start_ms() == segs[0].window_start_ms()));
        for (k, r) in refs.iter().enumerate() {
            assert_eq!(r.index, 1 + k as u64, "dense across the rotations");
            assert_eq!(wal.read_index(r.index).unwrap().content, contents[k]);
        }
        let state = wal.log_state();
        assert_eq!((state.first_index, state.last_index), (1, 14));
    }
    // Reopened with the real cap: every record is there by ref, by index
    // and in replay, the sealed segments' index footers are right, and the
    // next append goes on in segment 3 with the next index.
    clear_faults(dir);
    let view = nano_wal::inspect::LogView::open(dir, "s").unwrap();
    for id in [1, 2] {
        assert_eq!(
            view.check_footer(id).unwrap(),
            None,
            "footer of segment {id}"
        );
    }
    let wal = open(dir);
    let replayed: Vec<(EntryRef, Vec<u8>)> = replay_all(&wal)
        .into_iter()
        .map(|(r, rec)| (r, rec.content.to_vec()))
        .collect();
    let want: Vec<(EntryRef, Vec<u8>)> = refs.iter().copied().zip(contents.clone()).collect();
    assert_eq!(replayed, want);
    for (k, r) in refs.iter().enumerate() {
        assert_eq!(wal.read(*r).unwrap().content, contents[k]);
        assert_eq!(wal.read_index(r.index).unwrap().content, contents[k]);
    }
    let mut from = 1;
    while from <= 14 {
        let got = wal.read_range(from, 14, u64::MAX).unwrap();
        for (r, rec) in &got {
            assert_eq!(r.index, from, "read_range is contiguous");
            assert_eq!(rec.content, contents[(from - 1) as usize]);
            from += 1;
        }
    }
    let next = wal.append(None, b"after", T0, false).unwrap();
    assert_eq!((next.segment_id, next.index), (3, 15));
}

// ---------------------------------------------------------------- reads by index

/// A log of three segments (two sealed by rotation, with index footers, and
/// the active one): records 1..=30, ten per segment.
fn three_indexed_segments(dir: &Path) -> (Wal, Vec<(EntryRef, Vec<u8>)>) {
    let w = open(dir);
    let mut v = Vec::new();
    for i in 0..30u64 {
        let c = content_for(9, i, 300);
        let now = T0 + (i / 10) as i64 * DUR;
        v.push((w.append(None, &c, now, false).unwrap(), c));
    }
    (w, v)
}

#[test]
fn reads_by_index_return_the_records_of_refs_and_check_their_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, v) = three_indexed_segments(tmp.path());
    for (r, c) in &v {
        assert_eq!(&w.read_index(r.index).unwrap().content[..], &c[..]);
    }
    // A range across the segments, as refs and records.
    let got = w.read_range(5, 20, u64::MAX).unwrap();
    assert_eq!(got.len(), 20);
    for ((r, rec), (want_ref, c)) in got.iter().zip(&v[4..24]) {
        assert_eq!(r, want_ref);
        assert_eq!(&rec.content[..], &c[..]);
    }
    // The end of the log ends the range.
    assert_eq!(w.read_range(25, 100, u64::MAX).unwrap().len(), 6);
    // The byte budget (header and content bytes): stop before it would be
    // passed, but always one record.
    let budget = (v[0].1.len() + v[1].1.len()) as u64;
    assert_eq!(w.read_range(1, 10, budget).unwrap().len(), 2);
    assert_eq!(w.read_range(1, 10, budget - 1).unwrap().len(), 1);
    assert_eq!(w.read_range(1, 10, 0).unwrap().len(), 1);
    let mut buf = nano_wal::ReadBuf::new();
    let refs = w.read_range_into(10, 3, u64::MAX, &mut buf).unwrap();
    assert_eq!(refs, vec![v[9].0, v[10].0, v[11].0]);
    assert_eq!(buf.get(1).unwrap().content, &v[10].1[..]);
    // Bounds.
    for bad in [0, 31, u64::MAX] {
        assert!(matches!(
            w.read_index(bad),
            Err(WalError::IndexNotFound {
                first: 1,
                last: 30,
                ..
            })
        ));
        assert!(matches!(
            w.read_range(bad, 1, 1),
            Err(WalError::IndexNotFound { .. })
        ));
    }
    assert!(matches!(
        w.read_range(1, 0, 100),
        Err(WalError::InvalidArgument(_))
    ));
    // The same after a reopen, through the footers of the sealed segments.
    drop(w);
    let w = open(tmp.path());
    for (r, c) in &v {
        assert_eq!(&w.read_index(r.index).unwrap().content[..], &c[..]);
    }
    let empty = tempfile::tempdir().unwrap();
    let e = open(empty.path());
    assert!(matches!(
        e.read_index(1),
        Err(WalError::IndexNotFound {
            index: 1,
            first: 1,
            last: 0
        })
    ));
}

#[test]
fn replay_from_an_index_starts_there_and_one_past_the_end_waits_for_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, v) = three_indexed_segments(tmp.path());
    let from = |i: u64| -> Vec<u64> {
        w.replay_from_index(i)
            .unwrap()
            .map(|x| x.unwrap().0.index)
            .collect()
    };
    assert_eq!(from(1), (1..=30).collect::<Vec<_>>());
    assert_eq!(from(15), (15..=30).collect::<Vec<_>>());
    assert_eq!(from(30), vec![30]);
    let mut tail = w.replay_from_index(31).unwrap();
    assert!(tail.next().is_none());
    let r = w.append(None, b"new", T0 + 2 * DUR, false).unwrap();
    let (got, rec) = tail.next().unwrap().unwrap();
    assert_eq!((got, &rec.content[..]), (r, &b"new"[..]));
    for bad in [0, 33] {
        assert!(matches!(
            w.replay_from_index(bad),
            Err(WalError::IndexNotFound { .. })
        ));
    }
    // Replay refs are the append refs.
    let replayed: Vec<EntryRef> = w
        .replay_from_index(1)
        .unwrap()
        .map(|x| x.unwrap().0)
        .collect();
    assert_eq!(
        &replayed[..30],
        &v.iter().map(|x| x.0).collect::<Vec<_>>()[..]
    );
    // One past the end of an empty log: the first segment's records.
    let empty = tempfile::tempdir().unwrap();
    let e = open(empty.path());
    let mut it = e.replay_from_index(1).unwrap();
    assert!(it.next().is_none());
    e.append(None, b"first", T0, false).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0.index, 1);
}

/// The index footer of a sealed segment, its trailer and its ends.
fn footer_span(path: &Path, records: u64) -> (u64, u64) {
    let len = file_len(path);
    let ends_at = len - 40 - 8 * records;
    (ends_at, len)
}

#[test]
fn a_damaged_footer_is_scanned_at_open_and_reads_stay_right() {
    for flip_trailer in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let (w, v) = three_indexed_segments(tmp.path());
        drop(w);
        let p = seg_path(tmp.path(), "s", 1);
        let (ends_at, len) = footer_span(&p, 10);
        // A byte of the trailer (open does not trust the footer), or of the
        // ends (open trusts it; the first lookup through it fails its
        // checksum and falls back to a scan).
        flip_byte(
            &p,
            if flip_trailer {
                len - 20
            } else {
                ends_at + 8 * 4 + 1
            },
        );
        let w = open(tmp.path());
        for (r, c) in &v {
            assert_eq!(&w.read_index(r.index).unwrap().content[..], &c[..], "{r:?}");
            assert_eq!(&w.read(*r).unwrap().content[..], &c[..]);
        }
        assert_eq!(replay_refs(&w), v.iter().map(|x| x.0).collect::<Vec<_>>());
        assert_eq!(
            w.segment(1).unwrap().len(),
            ends_at,
            "the data ends at the footer"
        );
    }
}

#[test]
fn open_trusts_a_valid_footer_without_scanning_its_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, v) = three_indexed_segments(tmp.path());
    drop(w);
    // Corrupt a record in the middle of sealed segment 2: a scan would stop
    // there; the footer says where every record is.
    let victim = v[14].0;
    flip_byte(&seg_path(tmp.path(), "s", 2), victim.offset + 30);
    let w = open(tmp.path());
    let p = seg_path(tmp.path(), "s", 2);
    assert_eq!(w.segment(2).unwrap().len(), footer_span(&p, 10).0);
    assert!(matches!(
        w.read_index(victim.index),
        Err(WalError::CorruptedData { segment_id: 2, .. })
    ));
    for (r, c) in v.iter().filter(|x| x.0 != victim) {
        assert_eq!(&w.read_index(r.index).unwrap().content[..], &c[..]);
    }
}

/// A restart after the clock crossed several windows while the process was
/// down: the first append after reopen starts a segment in its own window
/// (not the last window before the stop, not one per missed window), the
/// older segments are read back unchanged, and cleanup by time deletes
/// exactly the segments whose expiration has passed.
#[test]
fn a_restart_after_the_clock_crossed_several_windows_starts_the_right_window() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = open(dir);
    let a = w.append(None, b"a", T0 + 10, true).unwrap();
    let b = w.append(None, b"b", T0 + DUR + 5, true).unwrap();
    drop(w);
    let before: Vec<(u64, i64)> = seg_files(dir, "s").iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(before.len(), 2);

    // Down for three whole windows.
    let later = T0 + 5 * DUR + 7;
    let w = open(dir);
    let c = w.append(None, b"c", later, true).unwrap();
    let files = seg_files(dir, "s");
    assert_eq!(
        files.len(),
        3,
        "one new segment, none for the missed windows"
    );
    let now: Vec<(u64, i64)> = files.iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(now[..2], before[..], "the older segments keep their names");
    // The new segment's window is the one `later` falls in.
    let window_start = later - later.rem_euclid(DUR);
    assert_eq!(now[2].1, window_start + DUR + RET);
    assert_eq!(c.segment_id, now[2].0);
    assert_eq!((a.index, b.index, c.index), (1, 2, 3));
    let got: Vec<Vec<u8>> = replay_all(&w)
        .into_iter()
        .map(|(_, r)| r.content.to_vec())
        .collect();
    assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);

    // At `later` the first segment has expired (T0 + DUR + RET), the
    // second not yet (T0 + 2 * DUR + RET): cleanup deletes only the first.
    assert!(now[0].1 <= later && now[1].1 > later);
    let r = w.cleanup(later).unwrap();
    let deleted: Vec<u64> = r.deleted.iter().map(|d| d.segment_id).collect();
    assert_eq!(deleted, vec![now[0].0]);
    assert_eq!(w.first_index(), b.index);
    // Far later, every sealed segment goes, never the active one.
    let r = w.cleanup(later + 100 * DUR).unwrap();
    let deleted: Vec<u64> = r.deleted.iter().map(|d| d.segment_id).collect();
    assert_eq!(deleted, vec![now[1].0]);
    assert_eq!(&w.read(c).unwrap().content[..], b"c");
}

// SPDX-License-Identifier: MIT
//! Every read path (`Wal::read`, `Wal::read_batch` with one ref and with
//! many, `Wal::read_batch_into` with a `ReadBuf`, `nwal_read_batch` with one
//! ref and with many) returns the same records for good refs, and the same
//! documented error for bad refs, refs spanning records and bytes that fail
//! their checksum: never other bytes, never a partly filled result.

mod common;

use common::*;
use nano_wal::ffi::*;
use nano_wal::{EntryRef, ReadBuf, Wal, WalError, WriteEntry};
use std::ffi::CString;
use std::path::Path;
use std::ptr;

type Owned = (Option<Vec<u8>>, Vec<u8>);
/// The records of some refs, or the C status of the error they gave.
type Got = Result<Vec<Owned>, nwal_status>;

/// A log of three segments (ten records each, the first of every segment
/// without a header, the second with an empty one), closed.
fn make_log(dir: &Path) -> Vec<(EntryRef, Owned)> {
    let w = Wal::open(dir, "s", test_opts()).unwrap();
    let mut v = Vec::new();
    for i in 0..30u64 {
        let header = match i % 10 {
            0 => None,
            1 => Some(Vec::new()),
            _ => Some(header_for(5, i)),
        };
        let content = content_for(5, i, 300);
        let t = T0 + (i as i64 / 10) * DUR;
        let r = w.append(header.as_deref(), &content, t, false).unwrap();
        v.push((r, (header, content)));
    }
    assert_eq!(w.segments().len(), 3);
    w.shutdown().unwrap();
    v
}

fn open(dir: &Path) -> Wal {
    Wal::open(dir, "s", test_opts()).unwrap()
}

/// Which error a read gave, as the C status it maps to.
fn kind(e: &WalError) -> nwal_status {
    match e {
        WalError::SegmentNotFound(_) | WalError::IndexNotFound { .. } => {
            nwal_status::NWAL_ERR_NOT_FOUND
        }
        WalError::InvalidArgument(_) => nwal_status::NWAL_ERR_INVALID_ARGUMENT,
        WalError::CorruptedData { .. } => nwal_status::NWAL_ERR_CORRUPTED_DATA,
        other => panic!("unexpected error {other:?}"),
    }
}

/// The records of `refs` through every Rust read path, checked to agree;
/// or the one error they all agree on.
fn read_all_ways(w: &Wal, refs: &[EntryRef]) -> Got {
    let owned = |h: Option<&[u8]>, c: &[u8]| (h.map(<[u8]>::to_vec), c.to_vec());
    let batch = w
        .read_batch(refs)
        .map(|rs| {
            rs.iter()
                .map(|r| owned(r.header.as_deref(), &r.content))
                .collect::<Vec<_>>()
        })
        .map_err(|e| kind(&e));
    // A buffer already holding records: a failed fill must leave it empty.
    let mut buf = ReadBuf::new();
    let into = match w.read_batch_into(refs, &mut buf) {
        Ok(()) => {
            assert_eq!(buf.len(), refs.len());
            assert_eq!(buf.is_empty(), refs.is_empty());
            assert!(buf.get(refs.len()).is_none());
            let got: Vec<Owned> = buf.iter().map(|r| owned(r.header, r.content)).collect();
            for (i, g) in got.iter().enumerate() {
                let r = buf.get(i).unwrap();
                assert_eq!(&owned(r.header, r.content), g);
            }
            Ok(got)
        }
        Err(e) => {
            assert!(buf.is_empty() && buf.iter().next().is_none());
            Err(kind(&e))
        }
    };
    assert_eq!(
        batch, into,
        "read_batch and read_batch_into disagree on {refs:?}"
    );
    if let [one] = refs {
        let single = w
            .read(*one)
            .map(|r| vec![owned(r.header.as_deref(), &r.content)])
            .map_err(|e| kind(&e));
        assert_eq!(batch, single, "read and read_batch disagree on {one:?}");
    }
    batch
}

/// The same through `nwal_read_batch` on a C handle of the log in `dir`.
fn read_c(h: *mut nwal, refs: &[EntryRef]) -> Got {
    let crefs: Vec<nwal_entry_ref> = refs.iter().map(|&r| r.into()).collect();
    let empty = nwal_record {
        header: ptr::null(),
        header_len: 0,
        content: ptr::null(),
        content_len: 0,
    };
    let mut recs = vec![empty; refs.len()];
    let sentinel = std::ptr::dangling_mut::<nwal_read_buf>();
    let mut buf = sentinel;
    // SAFETY: live handle; `crefs` and `recs` have `refs.len()` slots.
    let st = unsafe { nwal_read_batch(h, crefs.as_ptr(), refs.len(), recs.as_mut_ptr(), &mut buf) };
    if st != nwal_status::NWAL_OK {
        assert!(buf == sentinel, "out_buf written on failure");
        return Err(st);
    }
    let out = recs
        .iter()
        .map(|r| {
            // SAFETY: on NWAL_OK each record points into `buf`, alive until freed below.
            unsafe {
                let header = (!r.header.is_null())
                    .then(|| std::slice::from_raw_parts(r.header, r.header_len).to_vec());
                let content = if r.content_len == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(r.content, r.content_len).to_vec()
                };
                (header, content)
            }
        })
        .collect();
    // SAFETY: from nwal_read_batch, freed once.
    unsafe { nwal_read_buf_free(buf) };
    Ok(out)
}

struct CLog(*mut nwal);

impl CLog {
    fn open(dir: &Path) -> CLog {
        let d = CString::new(dir.to_str().unwrap()).unwrap();
        let mut w = ptr::null_mut();
        // SAFETY: valid C strings, NULL options, valid out pointer.
        let st = unsafe { nwal_open(d.as_ptr(), c"s".as_ptr(), ptr::null(), &mut w) };
        assert_eq!(st, nwal_status::NWAL_OK);
        CLog(w)
    }
}

impl Drop for CLog {
    fn drop(&mut self) {
        // SAFETY: opened above, closed once, no other user.
        unsafe { nwal_close(self.0) };
    }
}

#[test]
fn every_read_path_returns_the_same_records_in_input_order() {
    let tmp = tempfile::tempdir().unwrap();
    let v = make_log(tmp.path());
    let refs: Vec<EntryRef> = v.iter().map(|(r, _)| *r).collect();
    let want = |idx: &[usize]| -> Vec<Owned> { idx.iter().map(|&i| v[i].1.clone()).collect() };
    let mut cases: Vec<Vec<usize>> = vec![
        vec![],
        (0..30).collect(),       // in log order, across segments
        (0..30).rev().collect(), // reversed
        vec![3, 3, 3],           // duplicates
        vec![12, 2, 25, 2, 12],  // scattered, duplicates
        vec![9, 10],             // the last of a segment, the first of the next
    ];
    for i in 0..30 {
        cases.push(vec![i]); // every single ref: no, empty and real headers
    }
    let mut rng = Rng::new(7);
    for _ in 0..20 {
        let n = rng.below(40) as usize + 1;
        cases.push((0..n).map(|_| rng.below(30) as usize).collect());
    }
    {
        let w = open(tmp.path());
        for idx in &cases {
            let rs: Vec<EntryRef> = idx.iter().map(|&i| refs[i]).collect();
            assert_eq!(read_all_ways(&w, &rs).unwrap(), want(idx), "{idx:?}");
        }
        // One ReadBuf reused for fills of different sizes holds only the last.
        let mut buf = ReadBuf::new();
        for idx in [&cases[1], &cases[3], &cases[2], &cases[0]] {
            let rs: Vec<EntryRef> = idx.iter().map(|&i| refs[i]).collect();
            w.read_batch_into(&rs, &mut buf).unwrap();
            let got: Vec<Owned> = buf
                .iter()
                .map(|r| (r.header.map(<[u8]>::to_vec), r.content.to_vec()))
                .collect();
            assert_eq!(got, want(idx));
        }
        w.read_batch_into(&refs[..2], &mut buf).unwrap();
        buf.clear();
        assert!(buf.is_empty() && buf.get(0).is_none());
    }
    // The read-only view (no lock) reads the same through both batch forms.
    let view = nano_wal::inspect::LogView::open(tmp.path(), "s").unwrap();
    let mut buf = ReadBuf::new();
    for idx in &cases {
        let rs: Vec<EntryRef> = idx.iter().map(|&i| refs[i]).collect();
        let batch: Vec<Owned> = view
            .read_batch(&rs)
            .unwrap()
            .iter()
            .map(|r| (r.header.as_ref().map(|h| h.to_vec()), r.content.to_vec()))
            .collect();
        view.read_batch_into(&rs, &mut buf).unwrap();
        let into: Vec<Owned> = buf
            .iter()
            .map(|r| (r.header.map(<[u8]>::to_vec), r.content.to_vec()))
            .collect();
        assert_eq!(batch, want(idx), "LogView::read_batch, {idx:?}");
        assert_eq!(into, want(idx), "LogView::read_batch_into, {idx:?}");
    }
    let bad = EntryRef {
        size: refs[3].size + 1,
        ..refs[3]
    };
    assert!(view.read_batch_into(&[refs[0], bad], &mut buf).is_err());
    assert!(buf.is_empty());
    drop(view);
    let c = CLog::open(tmp.path());
    for idx in &cases[1..] {
        let rs: Vec<EntryRef> = idx.iter().map(|&i| refs[i]).collect();
        assert_eq!(read_c(c.0, &rs).unwrap(), want(idx), "C API, {idx:?}");
    }
}

/// Refs that are not exactly one whole record, and refs to nothing.
fn bad_refs(w: &Wal, v: &[(EntryRef, Owned)]) -> Vec<(&'static str, EntryRef, nwal_status)> {
    use nwal_status::*;
    let r = v[12].0; // middle of segment 2 (sealed)
    let next = v[13].0;
    let last = v[29].0; // last record of the newest segment
    let seg2_end = w.segment(2).unwrap().len();
    let at = |offset: u64, size: u64| EntryRef {
        segment_id: r.segment_id,
        offset,
        size,
        index: r.index,
    };
    vec![
        (
            "unknown segment",
            EntryRef {
                segment_id: 99,
                ..r
            },
            NWAL_ERR_NOT_FOUND,
        ),
        (
            "segment 0",
            EntryRef { segment_id: 0, ..r },
            NWAL_ERR_NOT_FOUND,
        ),
        ("size 0", at(r.offset, 0), NWAL_ERR_INVALID_ARGUMENT),
        ("past the end", at(seg2_end, 1), NWAL_ERR_INVALID_ARGUMENT),
        (
            "across the end",
            at(seg2_end - 10, 11),
            NWAL_ERR_INVALID_ARGUMENT,
        ),
        (
            "offset overflow",
            at(u64::MAX - 2, 10),
            NWAL_ERR_INVALID_ARGUMENT,
        ),
        (
            "huge size",
            at(r.offset, u64::MAX),
            NWAL_ERR_INVALID_ARGUMENT,
        ),
        (
            "one past the newest end",
            EntryRef {
                size: last.size + 1,
                ..last
            },
            NWAL_ERR_INVALID_ARGUMENT,
        ),
        (
            "inside",
            at(r.offset + 1, r.size - 1),
            NWAL_ERR_CORRUPTED_DATA,
        ),
        (
            "one short",
            at(r.offset, r.size - 1),
            NWAL_ERR_CORRUPTED_DATA,
        ),
        (
            "one long",
            at(r.offset, r.size + 1),
            NWAL_ERR_CORRUPTED_DATA,
        ),
        (
            "one early",
            at(r.offset - 1, r.size + 1),
            NWAL_ERR_CORRUPTED_DATA,
        ),
        (
            "two whole records",
            at(r.offset, r.size + next.size),
            NWAL_ERR_CORRUPTED_DATA,
        ),
        (
            "middle of one to middle of the next",
            at(r.offset + r.size / 2, r.size),
            NWAL_ERR_CORRUPTED_DATA,
        ),
        (
            "the tail of one and the head of the next",
            at(r.offset + r.size - 8, 8 + next.size - 8),
            NWAL_ERR_CORRUPTED_DATA,
        ),
        ("the segment header", at(0, r.size), NWAL_ERR_CORRUPTED_DATA),
        (
            "shorter than a frame",
            at(SEG_HDR, 10),
            NWAL_ERR_CORRUPTED_DATA,
        ),
        (
            "the first record of segment 2, asked of segment 1",
            EntryRef {
                segment_id: 1,
                ..v[10].0
            },
            NWAL_ERR_NOT_FOUND,
        ),
        (
            "the next record's index",
            EntryRef {
                index: r.index + 1,
                ..r
            },
            NWAL_ERR_CORRUPTED_DATA,
        ),
        (
            "an index of another segment",
            EntryRef {
                index: last.index,
                ..r
            },
            NWAL_ERR_NOT_FOUND,
        ),
        ("index 0", EntryRef { index: 0, ..r }, NWAL_ERR_NOT_FOUND),
    ]
}

#[test]
fn bad_refs_give_the_same_documented_error_on_every_path() {
    let tmp = tempfile::tempdir().unwrap();
    let v = make_log(tmp.path());
    let good = [v[0].0, v[29].0];
    let cases = {
        let w = open(tmp.path());
        let cases = bad_refs(&w, &v);
        for (what, bad, want) in &cases {
            // Alone (the single-read path), and between good refs before and
            // after it (the batch path): the whole read fails.
            assert_eq!(read_all_ways(&w, &[*bad]), Err(*want), "{what}");
            assert_eq!(
                read_all_ways(&w, &[good[0], *bad, good[1]]),
                Err(*want),
                "{what} in a batch"
            );
            assert_eq!(
                read_all_ways(&w, &[good[1], good[0], *bad]),
                Err(*want),
                "{what} in an unsorted batch"
            );
            if let Err(WalError::CorruptedData { segment_id, .. }) = w.read(*bad) {
                assert_eq!(segment_id, bad.segment_id, "{what}");
            }
        }
        cases
    };
    let c = CLog::open(tmp.path());
    for (what, bad, want) in &cases {
        assert_eq!(read_c(c.0, &[*bad]), Err(*want), "C API, {what}");
        assert_eq!(
            read_c(c.0, &[good[0], *bad, good[1]]),
            Err(*want),
            "C API, {what} in a batch"
        );
    }
}

#[test]
fn checksum_failures_are_corrupted_data_on_every_path() {
    let tmp = tempfile::tempdir().unwrap();
    let v = make_log(tmp.path());
    let refs: Vec<EntryRef> = v.iter().map(|(r, _)| *r).collect();
    // Damage records of the oldest segment (open checks only the newest):
    // a content byte of record 4, a header byte of record 6, and the frame
    // of record 8 (its content length, so it no longer spans its ref).
    let seg1 = seg_path(tmp.path(), "s", 1);
    let r4 = refs[4];
    flip_byte(&seg1, r4.offset + r4.size - 1);
    let r6 = refs[6];
    flip_byte(&seg1, r6.offset + FRAME);
    let r8 = refs[8];
    flip_byte(&seg1, r8.offset + 8);
    let damaged = [4usize, 6, 8];
    let check = |read: &dyn Fn(&[EntryRef]) -> Got| {
        for &d in &damaged {
            assert_eq!(
                read(&[refs[d]]),
                Err(nwal_status::NWAL_ERR_CORRUPTED_DATA),
                "record {d}"
            );
            // Within a run of good neighbours (one coalesced read), and with
            // records of other segments around it.
            assert_eq!(
                read(&refs[d - 2..d + 2]),
                Err(nwal_status::NWAL_ERR_CORRUPTED_DATA),
                "run around record {d}"
            );
            assert_eq!(
                read(&[refs[20], refs[d], refs[0]]),
                Err(nwal_status::NWAL_ERR_CORRUPTED_DATA),
                "batch with record {d}"
            );
        }
        // The undamaged records still read back exactly.
        for (i, (r, want)) in v.iter().enumerate() {
            if !damaged.contains(&i) {
                assert_eq!(read(&[*r]).unwrap(), vec![want.clone()], "record {i}");
            }
        }
    };
    {
        let w = open(tmp.path());
        match w.read(r4) {
            Err(WalError::CorruptedData {
                segment_id, offset, ..
            }) => assert_eq!((segment_id, offset), (1, r4.offset)),
            other => panic!("{other:?}"),
        }
        check(&|rs| read_all_ways(&w, rs));
    }
    let c = CLog::open(tmp.path());
    check(&|rs| read_c(c.0, rs));
}

#[test]
fn a_segment_file_shorter_than_its_recorded_end_is_corrupted_data() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let t = T0;
    let a = w.append(None, &[1u8; 100], t, false).unwrap();
    let b = w.append(None, &[2u8; 5000], t, false).unwrap();
    // Cut the file under the open log, in the middle of `b`: the read gets a
    // short pread, then end of file.
    let path = w.segment(b.segment_id).unwrap().path().to_path_buf();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(b.offset + b.size / 2).unwrap();
    for refs in [vec![b], vec![a, b], vec![b, a]] {
        match read_all_ways(&w, &refs) {
            Err(nwal_status::NWAL_ERR_CORRUPTED_DATA) => {}
            other => panic!("{refs:?}: {other:?}"),
        }
    }
    let e = w.read(b).unwrap_err();
    assert!(e.to_string().contains("shorter"), "{e}");
    assert_eq!(&w.read(a).unwrap().content[..], &[1u8; 100][..]);
}

#[test]
fn records_of_a_batch_read_share_nothing_with_a_later_fill() {
    // Records from read/read_batch own their bytes: a later read into a
    // ReadBuf or more appends do not change them.
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let e = [
        WriteEntry {
            header: Some(b"h1"),
            content: b"one",
        },
        WriteEntry {
            header: None,
            content: b"two",
        },
    ];
    let refs = w.append_batch(&e, T0, false).unwrap();
    let single = w.read(refs[0]).unwrap();
    let batch = w.read_batch(&refs).unwrap();
    let mut buf = ReadBuf::new();
    w.read_batch_into(&refs, &mut buf).unwrap();
    w.append(None, b"three", T0, false).unwrap();
    w.read_batch_into(&[refs[1]], &mut buf).unwrap();
    assert_eq!(single.header.as_deref(), Some(&b"h1"[..]));
    assert_eq!(&single.content[..], b"one");
    assert_eq!(batch[0].header.as_deref(), Some(&b"h1"[..]));
    assert_eq!(&batch[1].content[..], b"two");
    assert_eq!(batch[1].header, None);
    assert_eq!(buf.len(), 1);
    assert_eq!(buf.get(0).unwrap().content, b"two");
}

/// What a replay gave: records with their refs, then how it ended.
type Replayed = (Vec<(EntryRef, Owned)>, Option<(u64, u64)>);

/// `Replay::next_ref` (records borrowed from the read buffer) walks the
/// same records, refs and errors as the `Iterator` of owned records.
#[test]
fn replay_by_reference_and_by_value_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let v = make_log(tmp.path());
    let corrupted_at = |e: WalError| match e {
        WalError::CorruptedData {
            segment_id, offset, ..
        } => (segment_id, offset),
        other => panic!("{other:?}"),
    };
    let by_value = |w: &Wal, from: Option<EntryRef>| -> Replayed {
        let mut got = Vec::new();
        for item in w.replay(from).unwrap() {
            match item {
                Ok((r, rec)) => {
                    got.push((r, (rec.header.map(|h| h.to_vec()), rec.content.to_vec())))
                }
                Err(e) => return (got, Some(corrupted_at(e))),
            }
        }
        (got, None)
    };
    let by_ref = |w: &Wal, from: Option<EntryRef>| -> Replayed {
        let mut replay = w.replay(from).unwrap();
        let mut got = Vec::new();
        while let Some(item) = replay.next_ref() {
            match item {
                Ok((r, rec)) => {
                    got.push((r, (rec.header.map(<[u8]>::to_vec), rec.content.to_vec())))
                }
                Err(e) => {
                    assert!(replay.next_ref().is_none(), "ended after the error");
                    return (got, Some(corrupted_at(e)));
                }
            }
        }
        (got, None)
    };
    {
        let w = open(tmp.path());
        assert_eq!(by_ref(&w, None), (v.clone(), None));
        assert_eq!(by_value(&w, None), (v.clone(), None));
        assert_eq!(by_ref(&w, Some(v[13].0)), (v[13..].to_vec(), None));
        assert_eq!(by_value(&w, Some(v[13].0)), (v[13..].to_vec(), None));
        for max in [0, 1, 3, 1000] {
            let (got, sizes) = by_batch(&w, None, max);
            assert_eq!(got, (v.clone(), None), "batches of {max}");
            // A batch never spans segments (one chunk each here).
            let want: Vec<usize> = match max {
                0 | 1 => vec![1; 30],
                3 => [[3, 3, 3, 1]; 3].concat(),
                _ => vec![10; 3],
            };
            assert_eq!(sizes, want, "batches of {max}");
            assert_eq!(by_batch(&w, Some(v[13].0), 4).0, (v[13..].to_vec(), None));
        }
    }
    // A flipped content byte in the middle segment: all stop there, with
    // the records before it and the same error.
    let r = v[15].0;
    flip_byte(&seg_path(tmp.path(), "s", 2), r.offset + r.size - 1);
    let w = open(tmp.path());
    let want = (v[..15].to_vec(), Some((2, r.offset)));
    assert_eq!(by_ref(&w, None), want);
    assert_eq!(by_value(&w, None), want);
    for max in [1, 4, 1000] {
        assert_eq!(by_batch(&w, None, max).0, want, "batches of {max}");
    }
}

/// `Replay::next_batch(max)`: the records, then the error, and the size of
/// each batch.
fn by_batch(w: &Wal, from: Option<EntryRef>, max: usize) -> (Replayed, Vec<usize>) {
    let mut replay = w.replay(from).unwrap();
    let (mut got, mut sizes) = (Vec::new(), Vec::new());
    while let Some(item) = replay.next_batch(max) {
        match item {
            Ok(batch) => {
                assert!(!batch.is_empty() && batch.len() <= max.max(1));
                assert_eq!(batch.iter().len(), batch.len());
                sizes.push(batch.len());
                for (i, (r, rec)) in batch.iter().enumerate() {
                    assert_eq!(batch.get(i).map(|(r, _)| r), Some(r));
                    got.push((r, (rec.header.map(<[u8]>::to_vec), rec.content.to_vec())));
                }
                assert!(batch.get(batch.len()).is_none());
            }
            Err(e) => {
                assert!(replay.next_batch(max).is_none(), "ended after the error");
                let at = match e {
                    WalError::CorruptedData {
                        segment_id, offset, ..
                    } => (segment_id, offset),
                    other => panic!("{other:?}"),
                };
                return ((got, Some(at)), sizes);
            }
        }
    }
    ((got, None), sizes)
}

/// Records larger than a tenth of the replay's 1 MiB read chunk: a batch
/// ends where the chunk does and the next goes on after it; every record
/// comes once, exactly, in order, also from a live log still being
/// appended to.
#[test]
fn replay_batches_end_at_the_read_buffer_and_go_on_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let w = Wal::open(tmp.path(), "s", test_opts()).unwrap();
    let mut want = Vec::new();
    for i in 0..40u64 {
        let len = 100_000 + i as usize * 997;
        let content: Vec<u8> = (0..len).map(|k| (k as u64 * 31 + i) as u8).collect();
        let r = w.append(None, &content, T0, false).unwrap();
        want.push((r, (None, content)));
    }
    let (got, sizes) = by_batch(&w, None, 1000);
    assert_eq!(got, (want.clone(), None));
    assert!(sizes.len() >= 4, "40 records of ~120 KB: {sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 11), "{sizes:?}");
    // Appends between batches are replayed too.
    let mut replay = w.replay(None).unwrap();
    let first = replay.next_batch(1000).unwrap().unwrap().len();
    let more = w.append(None, b"later", T0, false).unwrap();
    let mut n = first;
    let mut last = None;
    while let Some(batch) = replay.next_batch(1000) {
        let batch = batch.unwrap();
        n += batch.len();
        last = batch
            .get(batch.len() - 1)
            .map(|(r, rec)| (r, rec.content.to_vec()));
    }
    assert_eq!(n, 41);
    assert_eq!(last, Some((more, b"later".to_vec())));
}

// SPDX-License-Identifier: MIT
//! Recovery on open: torn tails (cut at every byte offset), torn batches,
//! garbage, corruption before the tail, salvage, torn segment headers, and
//! damage in older (sealed) segments.

mod common;

use common::*;
use nano_wal::{EntryRef, Wal, WalError, WalOptions};
use std::path::{Path, PathBuf};

fn open(dir: &Path) -> Result<Wal, WalError> {
    Wal::open(dir, "s", test_opts())
}

fn salvage_opts() -> WalOptions {
    WalOptions {
        salvage: true,
        ..test_opts()
    }
}

fn append_bytes(p: &Path, bytes: &[u8]) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(p)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// A "unit" the log keeps or drops as a whole: one append, or one batch.
struct Unit {
    refs: Vec<EntryRef>,
    contents: Vec<Vec<u8>>,
}

impl Unit {
    fn end(&self) -> u64 {
        let l = self.refs.last().unwrap();
        l.offset + l.size
    }
}

/// An older segment (id 1) with 3 records, then the newest (id 2) holding
/// singles, a batch of 4, and a final single. Returns (older, newest units).
fn build_log(dir: &Path) -> (Vec<Unit>, Vec<Unit>) {
    let w = open(dir).unwrap();
    let mut older = Vec::new();
    for i in 0..3u64 {
        let c = content_for(1, i, 20);
        older.push(Unit {
            refs: vec![w.append(None, &c, T0, false).unwrap()],
            contents: vec![c],
        });
    }
    let mut newest = Vec::new();
    for i in 0..6u64 {
        let c = content_for(2, i, 20);
        let h = header_for(2, i);
        newest.push(Unit {
            refs: vec![w.append(Some(&h), &c, T0 + DUR, false).unwrap()],
            contents: vec![c],
        });
    }
    let items: Vec<(Option<Vec<u8>>, Vec<u8>)> =
        (0..4u64).map(|i| (None, content_for(3, i, 12))).collect();
    newest.push(Unit {
        refs: w.append_batch(&entries(&items), T0 + DUR, false).unwrap(),
        contents: items.into_iter().map(|x| x.1).collect(),
    });
    let c = content_for(4, 0, 20);
    newest.push(Unit {
        refs: vec![w.append(None, &c, T0 + DUR, false).unwrap()],
        contents: vec![c],
    });
    assert!(newest
        .iter()
        .all(|u| u.refs.iter().all(|r| r.segment_id == 2)));
    (older, newest)
}

fn check_replay(w: &Wal, units: &[&Unit], ctx: &str) {
    let got = replay_all(w);
    let want: Vec<(EntryRef, &Vec<u8>)> = units
        .iter()
        .flat_map(|u| u.refs.iter().copied().zip(&u.contents))
        .collect();
    assert_eq!(got.len(), want.len(), "{ctx}");
    for ((r, rec), (wr, c)) in got.iter().zip(&want) {
        assert_eq!(r, wr, "{ctx}");
        assert_eq!(&rec.content[..], &c[..], "{ctx}");
    }
}

#[test]
fn cut_at_every_byte_offset_inside_the_last_records_keeps_exactly_the_complete_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (older, newest) = build_log(dir);
    let path = seg_path(dir, "s", 2);
    let orig = std::fs::read(&path).unwrap();
    assert_eq!(orig.len() as u64, newest.last().unwrap().end());
    // From the start of the 5th single to the very end: the two last
    // singles, the batch of 4 and the final single.
    let from = newest[4].refs[0].offset;
    let mut reopens = 0;
    for cut in from..=orig.len() as u64 {
        std::fs::write(&path, &orig[..cut as usize]).unwrap();
        let w = open(dir).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let kept: Vec<&Unit> = newest.iter().filter(|u| u.end() <= cut).collect();
        let good_end = kept.last().map_or(SEG_HDR, |u| u.end());
        let ctx = format!("cut at {cut}, good end {good_end}");
        let mut all: Vec<&Unit> = older.iter().collect();
        all.extend(&kept);
        check_replay(&w, &all, &ctx);
        assert_eq!(file_len(&path), good_end, "{ctx}: tail cut off on disk");
        assert_eq!(w.segment(2).unwrap().len(), good_end, "{ctx}");
        // Appends continue in the recovered segment, right at the good end.
        let r = w.append(None, b"next", T0 + DUR, false).unwrap();
        assert_eq!((r.segment_id, r.offset), (2, good_end), "{ctx}");
        assert_eq!(&w.read(r).unwrap().content[..], b"next");
        assert_eq!(seg_files(dir, "s").len(), 2, "{ctx}: no new file");
        reopens += 1;
    }
    assert!(reopens > 150, "{reopens}");
}

#[test]
fn a_torn_batch_is_dropped_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_, newest) = build_log(dir);
    let batch = &newest[6];
    assert_eq!(batch.refs.len(), 4);
    let last = *batch.refs.last().unwrap();
    let path = seg_path(dir, "s", 2);
    let orig = std::fs::read(&path).unwrap();
    let variants: Vec<(&str, Vec<u8>)> = vec![
        // The last record of the batch is missing entirely.
        ("missing last", orig[..last.offset as usize].to_vec()),
        // The last record is torn in its frame, and in its payload.
        ("torn frame", orig[..last.offset as usize + 10].to_vec()),
        (
            "torn payload",
            orig[..(last.offset + last.size - 1) as usize].to_vec(),
        ),
        // The last record is complete-looking but its CRC does not match.
        ("bad crc", {
            let mut b = orig[..(last.offset + last.size) as usize].to_vec();
            let n = b.len();
            b[n - 1] ^= 1;
            b
        }),
    ];
    for (what, bytes) in variants {
        std::fs::write(&path, &bytes).unwrap();
        let w = open(dir).unwrap_or_else(|e| panic!("{what}: {e}"));
        let refs = replay_refs(&w);
        assert_eq!(refs.len(), 3 + 6, "{what}: the whole batch is gone");
        assert_eq!(*refs.last().unwrap(), newest[5].refs[0]);
        assert_eq!(file_len(&path), batch.refs[0].offset, "{what}");
        for r in &batch.refs {
            assert!(w.read(*r).is_err(), "{what}: {r:?} still readable");
        }
    }
}

/// A batch of small records larger than the writer's packing buffer goes
/// to the file in several `pwrite`s of whole records (64 KiB at most each).
/// A crash after some of them must still drop the batch whole: each piece's
/// last record says more of the batch follows.
#[test]
fn a_large_batch_torn_between_its_writes_is_dropped_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = open(dir).unwrap();
    let before = w.append(None, b"before", T0, false).unwrap();
    let items: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..4_000u64)
        .map(|i| (None, content_for(5, i, 100)))
        .collect();
    let refs = w.append_batch(&entries(&items), T0, false).unwrap();
    drop(w);
    let path = seg_path(dir, "s", 1);
    let orig = std::fs::read(&path).unwrap();
    let start = refs[0].offset;
    assert!(refs.last().unwrap().offset + refs.last().unwrap().size - start > 3 * 65_536);
    // Cut after every whole record around the first piece boundaries (the
    // writer fills a piece with the records that fit in 64 KiB).
    let cuts: Vec<u64> = refs
        .iter()
        .map(|r| r.offset + r.size)
        .filter(|end| {
            let into = end - start;
            (60_000..70_000).contains(&into) || (125_000..135_000).contains(&into)
        })
        .collect();
    assert!(cuts.len() > 20, "{}", cuts.len());
    for cut in cuts {
        std::fs::write(&path, &orig[..cut as usize]).unwrap();
        let w = open(dir).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(replay_refs(&w), [before], "cut at {cut}: the batch is gone");
        assert_eq!(file_len(&path), start, "cut at {cut}");
    }
}

#[test]
fn a_complete_looking_last_record_with_a_bad_crc_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_, newest) = build_log(dir);
    let last = newest[7].refs[0];
    let path = seg_path(dir, "s", 2);
    for at in [
        last.offset + 2,
        last.offset + 21,
        last.offset + last.size - 1,
    ] {
        let orig = std::fs::read(&path).unwrap();
        flip_byte(&path, at);
        let w = open(dir).unwrap();
        assert_eq!(replay_refs(&w).len(), 3 + 6 + 4, "byte {at}");
        assert_eq!(file_len(&path), last.offset);
        drop(w);
        std::fs::write(&path, orig).unwrap();
    }
}

#[test]
fn garbage_after_the_last_record_is_cut_and_never_allocated_from() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_, newest) = build_log(dir);
    let path = seg_path(dir, "s", 2);
    let end = newest.last().unwrap().end();
    let mut huge_frame = b"NANORC".to_vec();
    huge_frame.extend_from_slice(&0u16.to_le_bytes());
    huge_frame.extend_from_slice(&(1u64 << 40).to_le_bytes()); // 1 TiB content
    huge_frame.extend_from_slice(&[0u8; 8]);
    let mut max_frame = b"NANORC".to_vec();
    max_frame.extend_from_slice(&u16::MAX.to_le_bytes());
    max_frame.extend_from_slice(&u64::MAX.to_le_bytes());
    max_frame.extend_from_slice(&[0xFF; 8]);
    let tails: Vec<(&str, Vec<u8>)> = vec![
        ("zeros (preallocation)", vec![0u8; 8192]),
        ("random", Rng::new(9).bytes(3000)),
        ("one byte", vec![b'N']),
        ("a magic alone", b"NANORC".to_vec()),
        ("a frame claiming 1 TiB", huge_frame),
        ("a frame claiming u64::MAX", max_frame),
    ];
    for (what, tail) in tails {
        append_bytes(&path, &tail);
        let w = open(dir).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(file_len(&path), end, "{what}");
        assert_eq!(replay_refs(&w).len(), 3 + 6 + 4 + 1, "{what}");
    }
}

#[test]
fn corruption_before_the_tail_fails_open_naming_segment_and_offset_unless_salvaging() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (older, newest) = build_log(dir);
    let path = seg_path(dir, "s", 2);
    let orig = std::fs::read(&path).unwrap();
    // A single in the middle, and the second record of the batch.
    for victim in [newest[2].refs[0], newest[6].refs[1]] {
        std::fs::write(&path, &orig).unwrap();
        flip_byte(&path, victim.offset + victim.size - 1);
        let damaged = std::fs::read(&path).unwrap();
        match open(dir) {
            Err(e @ WalError::CorruptedData { .. }) => {
                let WalError::CorruptedData {
                    segment_id, offset, ..
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!((*segment_id, *offset), (2, victim.offset));
                let msg = e.to_string();
                assert!(msg.contains("segment 2"), "{msg}");
                assert!(msg.contains(&format!("offset {}", victim.offset)), "{msg}");
            }
            other => panic!("{victim:?}: expected CorruptedData, got {other:?}"),
        }
        // A failed open modifies nothing and leaves the lock free.
        assert_eq!(std::fs::read(&path).unwrap(), damaged);
        assert_eq!(seg_files(dir, "s").len(), 2);
        // Salvage opens, keeping the complete units before the damage.
        let w = Wal::open(dir, "s", salvage_opts()).unwrap();
        let kept: Vec<&Unit> = older
            .iter()
            .chain(newest.iter().filter(|u| u.end() <= victim.offset))
            .collect();
        check_replay(&w, &kept, "salvaged");
        let cut = kept.last().unwrap().end();
        assert_eq!(file_len(&path), cut);
        let r = w.append(None, b"after salvage", T0 + DUR, false).unwrap();
        assert_eq!((r.segment_id, r.offset), (2, cut));
        drop(w);
        // And the salvaged log opens normally afterwards.
        let records: usize = kept.iter().map(|u| u.refs.len()).sum();
        assert_eq!(replay_refs(&open(dir).unwrap()).len(), records + 1);
    }
}

#[test]
fn a_bad_record_in_an_older_segment_does_not_fail_open_but_reads_and_replay_report_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (older, newest) = build_log(dir);
    let p1 = seg_path(dir, "s", 1);
    let victim = older[1].refs[0];
    flip_byte(&p1, victim.offset + FRAME);
    let before = std::fs::read(&p1).unwrap();
    let w = open(dir).unwrap();
    assert_eq!(
        std::fs::read(&p1).unwrap(),
        before,
        "older segments are not modified"
    );
    assert!(matches!(
        w.read(victim),
        Err(WalError::CorruptedData { segment_id: 1, offset, .. }) if offset == victim.offset
    ));
    assert_eq!(
        w.read(older[0].refs[0]).unwrap().content,
        older[0].contents[0]
    );
    assert_eq!(
        w.read(older[2].refs[0]).unwrap().content,
        older[2].contents[0]
    );
    assert!(w.read_batch(&[older[0].refs[0], victim]).is_err());
    // Replay yields what is before, then the error, then ends: it never skips.
    let items: Vec<_> = w.replay(None).unwrap().collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().0, older[0].refs[0]);
    assert!(matches!(
        &items[1],
        Err(WalError::CorruptedData { segment_id: 1, offset, .. }) if *offset == victim.offset
    ));
    // Replay from a ref after the damage is the caller's explicit choice.
    let from: Vec<EntryRef> = w
        .replay(Some(older[2].refs[0]))
        .unwrap()
        .map(|x| x.unwrap().0)
        .collect();
    assert_eq!(from.len(), 1 + 6 + 4 + 1);
    // Appends go on in the newest segment.
    let r = w.append(None, b"x", T0 + DUR, false).unwrap();
    assert_eq!(r.offset, newest.last().unwrap().end());
}

/// A sealed segment ends in its index footer: garbage there (after all
/// the records the segment holds) is a damaged footer, so open scans the
/// segment and everything reads as it should; the file is not changed.
#[test]
fn garbage_at_the_end_of_an_older_segment_is_a_damaged_footer_not_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (older, _) = build_log(dir);
    let p1 = seg_path(dir, "s", 1);
    append_bytes(&p1, &[0xAB; 100]);
    let len = file_len(&p1);
    let w = open(dir).unwrap();
    assert_eq!(
        file_len(&p1),
        len,
        "opening never modifies an older segment"
    );
    let items: Vec<EntryRef> = w.replay(None).unwrap().map(|x| x.unwrap().0).collect();
    let n1 = older.iter().map(|u| u.refs.len()).sum::<usize>();
    assert!(items.len() > n1);
    assert_eq!(w.segment(1).unwrap().len(), older[2].end());
    for r in &items {
        assert_eq!(w.read_index(r.index).unwrap(), w.read(*r).unwrap());
    }
}

fn torn_header_cases(dir: &Path) -> (Vec<Unit>, PathBuf, Vec<u8>) {
    let (older, _) = build_log(dir);
    let p2 = seg_path(dir, "s", 2);
    let orig = std::fs::read(&p2).unwrap();
    (older, p2, orig)
}

#[test]
fn a_newest_segment_torn_inside_its_header_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (older, p2, orig) = torn_header_cases(dir);
    let mut variants: Vec<(String, Vec<u8>)> = (0..SEG_HDR as usize)
        .map(|k| (format!("{k} header bytes"), orig[..k].to_vec()))
        .collect();
    variants.push(("48 zero bytes".into(), vec![0u8; SEG_HDR as usize]));
    variants.push(("a header with a bad crc".into(), {
        let mut h = orig[..SEG_HDR as usize].to_vec();
        h[47] ^= 1;
        h
    }));
    for (what, bytes) in variants {
        std::fs::write(&p2, &bytes).unwrap();
        let w = open(dir).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!p2.exists(), "{what}: torn segment removed");
        assert_eq!(
            w.recovery_report().removed,
            [nano_wal::RemovedSegment {
                segment_id: 2,
                reason: nano_wal::RemovedReason::TornCreation
            }],
            "{what}"
        );
        assert_eq!(w.segments().len(), 1, "{what}");
        let refs: Vec<&Unit> = older.iter().collect();
        check_replay(&w, &refs, &what);
        // The log goes on: a new window gets a fresh id, never the torn one's file.
        let r = w.append(None, b"n", T0 + DUR, false).unwrap();
        assert!(r.segment_id >= 2, "{what}");
        assert_eq!(&w.read(r).unwrap().content[..], b"n");
        drop(w);
        // Reset: remove whatever the append created, restore the original.
        for f in seg_files(dir, "s") {
            if f.0 != 1 {
                std::fs::remove_file(f.2).unwrap();
            }
        }
    }
}

#[test]
fn a_newest_segment_holding_only_its_header_stays_and_takes_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (older, p2, orig) = torn_header_cases(dir);
    std::fs::write(&p2, &orig[..SEG_HDR as usize]).unwrap();
    let w = open(dir).unwrap();
    assert!(p2.exists());
    assert_eq!(w.segments().len(), 2);
    assert_eq!(replay_refs(&w).len(), older.len());
    let r = w.append(None, b"first", T0 + DUR + 1, false).unwrap();
    assert_eq!((r.segment_id, r.offset), (2, SEG_HDR));
    assert_eq!(seg_files(dir, "s").len(), 2);
}

#[test]
fn a_bad_header_on_a_segment_with_records_fails_open_unless_salvaging() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (older, p2, _) = torn_header_cases(dir);
    flip_byte(&p2, 20); // inside the segment id
    assert!(matches!(
        open(dir),
        Err(WalError::CorruptedData {
            segment_id: 2,
            offset: 0,
            ..
        })
    ));
    assert!(p2.exists(), "not removed: it holds records");
    let w = Wal::open(dir, "s", salvage_opts()).unwrap();
    let refs: Vec<&Unit> = older.iter().collect();
    check_replay(&w, &refs, "salvage");
}

#[test]
fn an_older_segment_with_a_torn_or_mismatched_header_fails_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_, _) = build_log(dir);
    let p1 = seg_path(dir, "s", 1);
    let orig = std::fs::read(&p1).unwrap();
    // Torn header.
    std::fs::write(&p1, &orig[..20]).unwrap();
    assert!(matches!(
        open(dir),
        Err(WalError::CorruptedData { segment_id: 1, .. })
    ));
    // A header whose id disagrees with the file name.
    std::fs::write(&p1, &orig).unwrap();
    let renamed = p1.with_file_name(format!("s_{}_7.seg", T0 + DUR + RET));
    std::fs::rename(&p1, &renamed).unwrap();
    // (id 7 now sorts as the newest; its header says 1.)
    assert!(matches!(open(dir), Err(WalError::CorruptedData { .. })));
    std::fs::rename(&renamed, &p1).unwrap();
    assert_eq!(replay_refs(&open(dir).unwrap()).len(), 3 + 6 + 4 + 1);
}

/// Child body: append singles and batches without `durable`, print each ref
/// once acknowledged, then abort without shutdown or Drop.
#[test]
fn child_append_then_abort() {
    let Some(dir) = child_dir() else { return };
    let w = open(&dir).unwrap();
    for i in 0..40u64 {
        let now = T0 + (i as i64 / 10) * DUR;
        if i % 3 == 0 {
            let items: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..5)
                .map(|k| (Some(header_for(i, k)), content_for(i, k, 80)))
                .collect();
            for r in w.append_batch(&entries(&items), now, false).unwrap() {
                println!("REF {}", fmt_ref(&r));
            }
        } else {
            let r = w
                .append(Some(&header_for(i, 0)), &content_for(i, 0, 80), now, false)
                .unwrap();
            println!("REF {}", fmt_ref(&r));
        }
    }
    println!("DONE");
    std::process::abort();
}

#[test]
fn a_process_crash_loses_no_acknowledged_append() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn_child("child_append_then_abort", tmp.path(), &[]);
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let acked = read_refs_until(&mut out, "DONE");
    finish_child(child, out, false); // it aborts
    let w = open(tmp.path()).unwrap();
    let got = replay_all(&w);
    assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), acked);
    for (_, rec) in &got {
        let (i, k) = parse_header(rec.header.as_ref().unwrap());
        assert_eq!(rec.content, content_for(i, k, 80));
    }
}

/// Records larger than the 4 MiB scan chunk, and records straddling chunk
/// boundaries: replay, recovery, the torn-tail cut and the search for a
/// valid record after damage (which reads in chunks too) all work across
/// them.
#[test]
fn records_larger_than_and_straddling_scan_chunks() {
    const MIB: usize = 1 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut rng = Rng::new(4);
    let mut sizes: Vec<usize> = vec![1000; 50];
    sizes.push(5 * MIB); // larger than a chunk
    sizes.extend([3000; 30]);
    sizes.push(4 * MIB - 7); // the next records straddle a chunk boundary
    sizes.extend([1000; 50]);
    let contents: Vec<Vec<u8>> = sizes.iter().map(|&n| rng.bytes(n)).collect();
    let refs: Vec<EntryRef> = {
        let w = open(dir).unwrap();
        contents
            .iter()
            .map(|c| w.append(None, c, T0, false).unwrap())
            .collect()
    };
    let check = |w: &Wal, n: usize| {
        let got = replay_all(w);
        assert_eq!(got.len(), n);
        for ((r, rec), (er, c)) in got.iter().zip(refs.iter().zip(&contents)) {
            assert_eq!(r, er);
            assert!(rec.content[..] == c[..], "{r:?}");
        }
    };
    let w = open(dir).unwrap();
    check(&w, refs.len());
    // From a ref just after the big record, and reads in reverse order.
    assert_eq!(w.replay(Some(refs[51])).unwrap().count(), refs.len() - 51);
    let mut rev = refs.clone();
    rev.reverse();
    let recs = w.read_batch(&rev).unwrap();
    assert!(recs
        .iter()
        .zip(contents.iter().rev())
        .all(|(r, c)| r.content[..] == c[..]));
    drop(w);

    let path = seg_path(dir, "s", 1);
    let orig = std::fs::read(&path).unwrap();
    // The big record's magic is damaged: the next valid record is 5 MiB
    // further on, beyond the first chunk of the search: corruption, not a tail.
    flip_byte(&path, refs[50].offset);
    match open(dir) {
        Err(WalError::CorruptedData { offset, .. }) => assert_eq!(offset, refs[50].offset),
        other => panic!("expected CorruptedData, got {other:?}"),
    }
    // Torn inside the big record when it is the last: cut there.
    std::fs::write(&path, &orig[..(refs[50].offset + 3 * MIB as u64) as usize]).unwrap();
    let w = open(dir).unwrap();
    check(&w, 50);
    assert_eq!(file_len(&path), refs[50].offset);
    drop(w);
    // Torn inside the last record, after everything else: all but it kept.
    let last = *refs.last().unwrap();
    let mut bytes = orig.clone();
    bytes.truncate((last.offset + last.size - 1) as usize);
    std::fs::write(&path, &bytes).unwrap();
    let w = open(dir).unwrap();
    check(&w, refs.len() - 1);
}

#[test]
fn an_empty_segment_in_the_middle_of_the_log_is_deleted_and_passed_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (older, p2, orig) = torn_header_cases(dir);
    // Segment 2 holds only its header (created, then nothing written).
    std::fs::write(&p2, &orig[..SEG_HDR as usize]).unwrap();
    let r = {
        let w = open(dir).unwrap();
        w.append(None, b"later", T0 + 3 * DUR, false).unwrap()
    };
    assert_eq!(r.segment_id, 3);
    let w = open(dir).unwrap();
    // Segment 2 holds no index (segment 3 starts at its first): open
    // deletes it, as it deletes the segments a truncation left empty.
    assert_eq!(w.segments().len(), 2);
    assert!(!p2.exists());
    let mut want: Vec<EntryRef> = older.iter().map(|u| u.refs[0]).collect();
    want.push(r);
    assert_eq!(replay_refs(&w), want);
    assert_eq!(w.replay(Some(r)).unwrap().count(), 1);
}

/// Recovery's own writes can fail (cargo feature `fault-injection`): the
/// cut of a torn tail, its fsync (a cut changes the length, so a full fsync),
/// and the directory fsync after removing a torn segment. Open then fails with `Io`, releases the lock, changes
/// nothing it should not, and a later open (the fault gone) recovers fully.
#[cfg(feature = "fault-injection")]
#[test]
fn a_failed_recovery_write_fails_open_and_a_later_open_recovers() {
    use nano_wal::fault::{clear_faults, inject_fault, Fault, FaultOp};
    const EIO: i32 = 5;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_, newest) = build_log(dir);
    let p2 = seg_path(dir, "s", 2);
    let orig = std::fs::read(&p2).unwrap();
    let fault = |op| Fault {
        op,
        under: dir.to_path_buf(),
        errno: EIO,
        skip: 0,
        times: 1,
        keep_bytes: 0,
    };
    let torn_len = orig.len() - 3;
    for op in [FaultOp::Truncate, FaultOp::Fsync] {
        std::fs::write(&p2, &orig[..torn_len]).unwrap();
        inject_fault(fault(op));
        let e = open(dir).unwrap_err();
        clear_faults(dir);
        assert_eq!(e.os_error(), Some(EIO), "{op:?}: {e}");
        let w = open(dir).unwrap();
        assert_eq!(replay_refs(&w).len(), 3 + 6 + 4, "{op:?}");
        assert_eq!(file_len(&p2), newest[6].end());
    }
    // A torn new segment whose removal cannot be made durable.
    std::fs::write(&p2, &orig[..10]).unwrap();
    inject_fault(fault(FaultOp::Fsync));
    let e = open(dir).unwrap_err();
    clear_faults(dir);
    assert_eq!(e.os_error(), Some(EIO), "{e}");
    let w = open(dir).unwrap();
    assert_eq!(w.segments().len(), 1);
    assert_eq!(replay_refs(&w).len(), 3);
}

/// A segment of 40 records of 150 bytes: the first 20 synced (`sync`), the
/// last 20 not. Every record after the sync carries the synced end in its
/// frame. Returns the refs and the synced end.
fn half_synced_log(dir: &Path) -> (Vec<EntryRef>, u64) {
    let w = open(dir).unwrap();
    let mut refs = Vec::new();
    for i in 0..40u64 {
        if i == 20 {
            w.sync().unwrap();
        }
        refs.push(w.append(None, &[i as u8; 126], T0, false).unwrap());
    }
    let synced = refs[19].offset + refs[19].size;
    (refs, synced)
}

/// Zero the 512-byte sector that holds `at`.
fn zero_sector_at(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let s = (at / 512 * 512) as usize;
    bytes[s..s + 512].fill(0);
    std::fs::write(path, bytes).unwrap();
}

/// The durable watermark in each record decides what a zeroed sector with
/// valid records after it is: inside data a later record proves synced, it
/// is corruption (refused); past every proof, it is a write lost from the
/// unsynced tail (cut, the log opens). Non-zero damage stays corruption.
#[test]
fn a_hole_is_cut_only_where_no_later_record_proves_the_bytes_were_synced() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean");
    let (refs, synced) = half_synced_log(&clean);
    let path_in = |d: &Path| seg_path(d, "s", refs[0].segment_id);

    // 1. A zeroed sector inside the synced half: refused.
    let d = tmp.path().join("synced");
    copy_dir(&clean, &d);
    let victim = refs[10];
    zero_sector_at(&path_in(&d), victim.offset + victim.size / 2);
    let before = std::fs::read(path_in(&d)).unwrap();
    match open(&d) {
        Err(WalError::CorruptedData {
            segment_id,
            offset,
            detail,
        }) => {
            assert_eq!(segment_id, refs[0].segment_id);
            assert!(
                offset <= victim.offset && offset >= refs[8].offset,
                "{offset}"
            );
            assert!(
                detail.contains(&format!("synced up to offset {synced}")),
                "{detail}"
            );
        }
        other => panic!("zeroed synced sector: {:?}", other.map(|_| ())),
    }
    assert_eq!(
        std::fs::read(path_in(&d)).unwrap(),
        before,
        "refused open changed the file"
    );
    // Salvage cuts there, and its report says synced data was cut.
    let w = Wal::open(&d, "s", salvage_opts()).unwrap();
    let report = w.recovery_report();
    assert!(report.cut_below_durable, "{report:?}");
    assert_eq!(report.durable_watermark, synced);
    assert!(report.tail.as_ref().unwrap().kept_len < synced);
    drop(w);

    // 2. A zeroed sector in the unsynced half, valid records after it: the
    //    log opens and keeps exactly the records before the hole.
    let d = tmp.path().join("unsynced");
    copy_dir(&clean, &d);
    let victim = refs[30];
    zero_sector_at(&path_in(&d), victim.offset + victim.size / 2);
    let hole = victim.offset + victim.size / 2;
    let hole_start = hole / 512 * 512;
    let kept: Vec<EntryRef> = refs
        .iter()
        .copied()
        .filter(|r| r.offset + r.size <= hole_start)
        .collect();
    assert_eq!(kept.len(), 30, "records 0..30 end before the hole");
    let found_len = file_len(&path_in(&d));
    let w = open(&d).unwrap();
    assert_eq!(replay_refs(&w), kept);
    let kept_end = kept.last().unwrap().offset + kept.last().unwrap().size;
    assert_eq!(file_len(&path_in(&d)), kept_end);
    // The report: what was cut, and the proof nothing durable was.
    let report = w.recovery_report();
    let tail = report.tail.as_ref().unwrap();
    assert_eq!(
        (
            tail.segment_id,
            tail.found_len,
            tail.kept_len,
            tail.records_kept
        ),
        (refs[0].segment_id, found_len, kept_end, 30)
    );
    assert!(tail.damage.as_ref().unwrap().contains("lost"), "{tail:?}");
    assert_eq!(report.durable_watermark, synced);
    assert!(!report.cut_below_durable);
    assert!(report.removed.is_empty());
    drop(w);

    // 3. The same place damaged with non-zero bytes: corruption, refused.
    let d = tmp.path().join("garbage");
    copy_dir(&clean, &d);
    flip_byte(&path_in(&d), victim.offset + 30);
    match open(&d) {
        Err(WalError::CorruptedData { offset, detail, .. }) => {
            assert_eq!(offset, victim.offset);
            assert!(detail.contains("not a lost (zeroed) write"), "{detail}");
        }
        other => panic!("garbage in the unsynced half: {:?}", other.map(|_| ())),
    }

    // 3b. Zeros shorter than a sector inside a record past every proof (a
    //     write torn finer than disks tear, as LazyFS does): not the zeroed
    //     sector of a lost write, so refused; salvage cuts there, and its
    //     report proves nothing durable was cut.
    let d = tmp.path().join("sub_sector");
    copy_dir(&clean, &d);
    let mut bytes = std::fs::read(path_in(&d)).unwrap();
    let from = (victim.offset + 24) as usize;
    bytes[from..from + 100].fill(0);
    std::fs::write(path_in(&d), &bytes).unwrap();
    match open(&d) {
        Err(WalError::CorruptedData { offset, detail, .. }) => {
            assert_eq!(offset, victim.offset);
            assert!(detail.contains("not a lost (zeroed) write"), "{detail}");
        }
        other => panic!("sub-sector zeros: {:?}", other.map(|_| ())),
    }
    assert_eq!(
        std::fs::read(path_in(&d)).unwrap(),
        bytes,
        "refused open changed the file"
    );
    let w = Wal::open(&d, "s", salvage_opts()).unwrap();
    assert_eq!(replay_refs(&w), refs[..30].to_vec());
    let report = w.recovery_report();
    assert!(!report.cut_below_durable, "{report:?}");
    drop(w);

    // 4. After a reopen everything is synced, and the first record appended
    //    carries that: the old unsynced half is now proven, and a zeroed
    //    sector there is corruption.
    let d = tmp.path().join("reopened");
    copy_dir(&clean, &d);
    let w = open(&d).unwrap();
    w.append(None, b"after reopen", T0, false).unwrap();
    drop(w);
    zero_sector_at(&path_in(&d), victim.offset + victim.size / 2);
    assert!(matches!(open(&d), Err(WalError::CorruptedData { .. })));
}

/// A segment of the previous format (48-byte header, version 1) is refused
/// by name, not as a checksum mismatch, and left as it is.
#[test]
fn a_format_version_1_segment_is_refused_with_the_version_message() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v1 = vec![0u8; 48];
    v1[0..8].copy_from_slice(b"NANO-LOG");
    v1[8..10].copy_from_slice(&1u16.to_le_bytes());
    v1[10..12].copy_from_slice(&48u16.to_le_bytes());
    v1[16..24].copy_from_slice(&1u64.to_le_bytes());
    let expiration = T0 + DUR + RET;
    v1[24..32].copy_from_slice(&expiration.to_le_bytes());
    v1[32..40].copy_from_slice(&T0.to_le_bytes());
    let crc = crc32c::crc32c(&v1[..44]);
    v1[44..48].copy_from_slice(&crc.to_le_bytes());
    v1.extend_from_slice(&[0xAB; 100]); // "records"
    let path = tmp.path().join(format!("s_{expiration}_1.seg"));
    std::fs::write(&path, &v1).unwrap();
    match open(tmp.path()) {
        Err(WalError::CorruptedData {
            segment_id: 1,
            offset: 0,
            detail,
        }) => assert!(
            detail.contains(
                "segment written in format version 1, which this library \
                 (format version 3, reads [2, 3]) does not read"
            ),
            "{detail}"
        ),
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert_eq!(std::fs::read(&path).unwrap(), v1, "left untouched");
}

/// A segment whose first index is above a later segment's holds no index
/// (a later truncation dropped its records): open deletes it. A record the
/// gap then lacks is reported by replay, never passed over.
#[test]
fn a_segment_starting_above_a_later_one_is_dropped_and_a_gap_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let w = open(tmp.path()).unwrap();
        for i in 0..3 {
            w.append(None, b"x", T0 + i * DUR, false).unwrap();
        }
    }
    // Give segment 2 a first index above segment 3's, header CRC fixed.
    let p = seg_path(tmp.path(), "s", 2);
    let mut b = std::fs::read(&p).unwrap();
    b[40..48].copy_from_slice(&100u64.to_le_bytes());
    let crc = crc32c::crc32c(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&p, &b).unwrap();
    let w = open(tmp.path()).unwrap();
    assert!(!p.exists(), "the dropped segment is deleted");
    let items: Vec<_> = w.replay(None).unwrap().collect();
    assert_eq!(items[0].as_ref().unwrap().0.index, 1);
    match &items[1] {
        Err(WalError::CorruptedData { segment_id: 1, .. }) => {}
        other => panic!("index 2 is missing: {other:?}"),
    }
    assert_eq!(items.len(), 2);
}

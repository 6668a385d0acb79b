// SPDX-License-Identifier: MIT
//! Corruption: flip every byte of every segment of a small log, one at a
//! time, and check that nano_wal never hands back wrong bytes, never panics,
//! and reports `CorruptedData` naming the segment and offset.

mod common;

use common::{copy_dir, seg_files};
use nano_wal::{EntryRef, Wal, WalError, WalOptions};
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;

fn opts() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_secs(1),
        retention: Duration::from_secs(3600),
        ..Default::default()
    }
}

type Acked = Vec<(EntryRef, Option<Vec<u8>>, Vec<u8>)>;

/// Two segments of a few records each (one batch in each).
fn build(dir: &Path) -> Acked {
    let wal = Wal::open(dir, "c", opts()).unwrap();
    let mut acked = Vec::new();
    for seg in 0..2i64 {
        for i in 0..3u8 {
            let h = (i != 1).then(|| vec![b'h', i]);
            let c = vec![i.wrapping_add(seg as u8 * 16); 20 + i as usize];
            let r = wal
                .append(h.as_deref(), &c, T0 + seg * 1000, false)
                .unwrap();
            acked.push((r, h, c));
        }
        let batch = [
            nano_wal::WriteEntry {
                header: None,
                content: b"batch-a",
            },
            nano_wal::WriteEntry {
                header: Some(b"x"),
                content: b"batch-b",
            },
        ];
        for (r, e) in wal
            .append_batch(&batch, T0 + seg * 1000, false)
            .unwrap()
            .into_iter()
            .zip(batch)
        {
            acked.push((r, e.header.map(<[u8]>::to_vec), e.content.to_vec()));
        }
    }
    acked
}

fn is_corruption_in(e: &WalError, segment: u64) -> bool {
    matches!(e, WalError::CorruptedData { segment_id, .. } if *segment_id == segment)
}

#[test]
fn every_single_byte_flip_is_detected_or_harmless() {
    let base = tempfile::tempdir().unwrap();
    let clean = base.path().join("clean");
    let acked = build(&clean);
    let files = seg_files(&clean, "c");
    assert_eq!(files.len(), 2);
    let mut flips = 0;
    let mut open_refused = 0;
    for (fi, (seg_id, _, file)) in files.iter().enumerate() {
        let seg_id = *seg_id;
        let len = fs::metadata(file).unwrap().len();
        for at in 0..len {
            let dir = base.path().join(format!("f{fi}-{at}"));
            copy_dir(&clean, &dir);
            let path = dir.join(file.file_name().unwrap());
            let f = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            let mut b = [0u8];
            f.read_exact_at(&mut b, at).unwrap();
            f.write_all_at(&[b[0] ^ 0x01], at).unwrap();
            drop(f);
            flips += 1;
            let what = format!("segment {seg_id} byte {at}");
            let wal = match Wal::open(&dir, "c", opts()) {
                Ok(w) => w,
                Err(e) => {
                    // Open refuses only with a precise corruption report.
                    assert!(is_corruption_in(&e, seg_id), "{what}: open failed with {e}");
                    open_refused += 1;
                    fs::remove_dir_all(&dir).unwrap();
                    continue;
                }
            };
            // Each ref reads back its exact bytes or fails; never other bytes.
            for (r, h, c) in &acked {
                match wal.read(*r) {
                    Ok(rec) => {
                        assert_eq!(rec.header.as_deref(), h.as_deref(), "{what}: {r:?}");
                        assert_eq!(&rec.content[..], &c[..], "{what}: {r:?}");
                    }
                    Err(WalError::CorruptedData {
                        segment_id, offset, ..
                    }) => {
                        assert_eq!((segment_id, offset), (r.segment_id, r.offset), "{what}");
                    }
                    // The flip made the newest segment's tail invalid: open cut
                    // it, and the records it held are not found.
                    Err(WalError::IndexNotFound { .. }) if r.segment_id == seg_id => {}
                    Err(e) => panic!("{what}: read of {r:?} failed with {e}"),
                }
            }
            // Replay yields a prefix of the log, then stops at the damage.
            let mut n = 0;
            for item in wal.replay(None).unwrap() {
                match item {
                    Ok((r, rec)) => {
                        assert_eq!(r, acked[n].0, "{what}");
                        assert_eq!(&rec.content[..], &acked[n].2[..], "{what}");
                        n += 1;
                    }
                    Err(e) => {
                        assert!(
                            is_corruption_in(&e, seg_id),
                            "{what}: replay failed with {e}"
                        );
                        break;
                    }
                }
            }
            drop(wal);
            fs::remove_dir_all(&dir).unwrap();
        }
    }
    eprintln!("{flips} flips, {open_refused} opens refused");
    assert!(flips > 400, "{flips} flips");
    assert!(
        open_refused > 0,
        "header flips of the older segment and mid-log flips of the newest refuse to open"
    );
}

#[test]
fn open_reports_corruption_before_the_tail_instead_of_appending_over_it() {
    let tmp = tempfile::tempdir().unwrap();
    let acked = build(tmp.path());
    let newest = seg_files(tmp.path(), "c").pop().unwrap().2;
    let victim = acked[acked.len() - 3].0; // valid records follow it
    let f = fs::OpenOptions::new().write(true).open(&newest).unwrap();
    f.write_all_at(&[0xFF; 4], victim.offset + 8).unwrap();
    let len = fs::metadata(&newest).unwrap().len();
    match Wal::open(tmp.path(), "c", opts()) {
        Err(WalError::CorruptedData {
            segment_id,
            offset,
            detail,
        }) => {
            assert_eq!((segment_id, offset), (victim.segment_id, victim.offset));
            assert!(detail.contains("salvage"), "{detail}");
        }
        other => panic!("expected CorruptedData, got {other:?}"),
    }
    assert_eq!(
        fs::metadata(&newest).unwrap().len(),
        len,
        "a refused open changes nothing"
    );
    // Salvage cuts there and keeps everything before.
    let wal = Wal::open(
        tmp.path(),
        "c",
        WalOptions {
            salvage: true,
            ..opts()
        },
    )
    .unwrap();
    let got: Vec<EntryRef> = wal.replay(None).unwrap().map(|r| r.unwrap().0).collect();
    assert_eq!(
        got,
        acked[..acked.len() - 3]
            .iter()
            .map(|a| a.0)
            .collect::<Vec<_>>()
    );
}

/// A record copied whole to another place of its own segment (a
/// misdirected write) never verifies there: its checksum binds its offset
/// and index.
#[test]
fn a_record_copied_to_another_offset_of_its_segment_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let refs: Vec<EntryRef> = {
        let w = Wal::open(tmp.path(), "s", opts()).unwrap();
        let mut refs: Vec<EntryRef> = (0..3)
            .map(|i| {
                w.append(None, format!("rec-{i}").as_bytes(), T0, false)
                    .unwrap()
            })
            .collect();
        refs.push(w.append(None, b"next", T0 + 1_000, false).unwrap());
        refs
    };
    let (a, b) = (refs[0], refs[1]);
    assert_eq!(a.size, b.size);
    let files = seg_files(tmp.path(), "s");
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&files[0].2)
        .unwrap();
    let mut rec = vec![0u8; a.size as usize];
    f.read_exact_at(&mut rec, a.offset).unwrap();
    f.write_all_at(&rec, b.offset).unwrap();
    drop(f);
    let w = Wal::open(tmp.path(), "s", opts()).unwrap();
    assert_eq!(&w.read(a).unwrap().content[..], b"rec-0");
    match w.read(b) {
        Err(WalError::CorruptedData {
            segment_id, offset, ..
        }) => assert_eq!((segment_id, offset), (b.segment_id, b.offset)),
        other => panic!("{other:?}"),
    }
    let replayed: Vec<_> = w.replay(None).unwrap().collect();
    assert!(replayed[0].is_ok());
    match &replayed[1] {
        Err(WalError::CorruptedData { offset, .. }) => assert_eq!(*offset, b.offset),
        other => panic!("{other:?}"),
    }
}

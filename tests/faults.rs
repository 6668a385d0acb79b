// SPDX-License-Identifier: MIT
//! I/O failures injected into the engine's writes and syncs (cargo feature
//! `fault-injection`): a failed write is cut off and loses nothing that was
//! acknowledged; a failed fdatasync poisons the log (fail-stop). A failed
//! metadata write keeps the old value; a failed metadata sync also makes
//! the metadata fail-stop until reopen, without poisoning the log.
#![cfg(feature = "fault-injection")]

use nano_wal::fault::{clear_faults, inject_fault, Fault, FaultOp};
use nano_wal::{EntryRef, Wal, WalError, WalOptions, WriteEntry};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;

fn opts() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_secs(60),
        retention: Duration::from_secs(3600),
        ..Default::default()
    }
}

fn fault(op: FaultOp, under: &Path, errno: i32, skip: u32, times: u32) -> Fault {
    Fault {
        op,
        under: under.to_path_buf(),
        errno,
        skip,
        times,
        keep_bytes: 0,
    }
}

fn expect_io(r: Result<impl std::fmt::Debug, WalError>, errno: i32) -> WalError {
    match r {
        Err(e @ WalError::Io { .. }) => {
            assert_eq!(e.os_error(), Some(errno), "{e}");
            e
        }
        other => panic!("expected an I/O error with errno {errno}, got {other:?}"),
    }
}

/// A batch of `contents`, none with a header.
fn without_headers(contents: &[Vec<u8>]) -> Vec<WriteEntry<'_>> {
    contents
        .iter()
        .map(|c| WriteEntry {
            header: None,
            content: c,
        })
        .collect()
}

fn replay_all(wal: &Wal) -> Vec<(EntryRef, Vec<u8>)> {
    wal.replay(None)
        .unwrap()
        .map(|r| {
            let (e, rec) = r.unwrap();
            (e, rec.content.to_vec())
        })
        .collect()
}

#[test]
fn failed_write_part_way_is_cut_off_and_the_log_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let mut acked = Vec::new();
    for i in 0..10u32 {
        let content = format!("record {i}");
        acked.push((
            wal.append(None, content.as_bytes(), T0, false).unwrap(),
            content.into_bytes(),
        ));
    }
    let end_before = wal.segment(acked[0].0.segment_id).unwrap().len();
    inject_fault(Fault {
        keep_bytes: 100,
        ..fault(FaultOp::Write, dir, libc::ENOSPC, 0, 1)
    });
    let big = vec![7u8; 5000];
    let err = expect_io(wal.append(None, &big, T0, false), libc::ENOSPC);
    assert!(err.to_string().contains("segment"), "{err}");
    // The 100 bytes that reached the file were cut off again.
    let seg = wal.segment(acked[0].0.segment_id).unwrap();
    assert_eq!(std::fs::metadata(seg.path()).unwrap().len(), end_before);
    assert_eq!(seg.len(), end_before);
    // Space is back: the next append lands exactly where the failed one would have.
    let after = wal.append(None, b"after", T0, true).unwrap();
    assert_eq!(after.offset, end_before);
    acked.push((after, b"after".to_vec()));
    for (r, content) in &acked {
        assert_eq!(&wal.read(*r).unwrap().content[..], &content[..]);
    }
    let replayed = replay_all(&wal);
    assert_eq!(replayed, acked);
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(replay_all(&wal), acked);
}

#[test]
fn failed_batch_write_loses_no_earlier_ref_and_no_later_ref_points_at_wrong_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let first = wal.append(Some(b"h"), b"first", T0, false).unwrap();
    let contents: Vec<Vec<u8>> = (0..10_000u32).map(|i| i.to_le_bytes().repeat(3)).collect();
    let batch = without_headers(&contents);
    inject_fault(Fault {
        keep_bytes: 150_000,
        ..fault(FaultOp::Write, dir, libc::EFBIG, 0, 1)
    });
    expect_io(wal.append_batch(&batch, T0, false), libc::EFBIG);
    let refs = wal.append_batch(&batch, T0, false).unwrap();
    assert_eq!(refs[0].offset, first.offset + first.size);
    let back = wal.read_batch(&refs).unwrap();
    for (rec, c) in back.iter().zip(&contents) {
        assert_eq!(&rec.content[..], &c[..]);
    }
    assert_eq!(&wal.read(first).unwrap().content[..], b"first");
    assert_eq!(replay_all(&wal).len(), 10_001);
}

/// A batch of small records larger than 64 KiB is written in several
/// `pwrite`s; one failing after others succeeded cuts all of them off.
#[test]
fn failed_later_write_of_a_large_batch_cuts_its_earlier_writes_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let first = wal.append(None, b"first", T0, false).unwrap();
    let contents: Vec<Vec<u8>> = (0..2_000u32).map(|i| i.to_le_bytes().repeat(25)).collect();
    let batch = without_headers(&contents);
    // Two writes of the batch succeed, the third stops part-way.
    inject_fault(Fault {
        keep_bytes: 1_000,
        ..fault(FaultOp::Write, dir, libc::ENOSPC, 2, 1)
    });
    expect_io(wal.append_batch(&batch, T0, false), libc::ENOSPC);
    let end = first.offset + first.size;
    assert_eq!(wal.segment(1).unwrap().len(), end);
    assert_eq!(replay_all(&wal), [(first, b"first".to_vec())]);
    let next = wal.append(None, b"next", T0, false).unwrap();
    assert_eq!(
        next.offset, end,
        "the next append starts where the batch did"
    );
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let all = replay_all(&wal);
    assert_eq!(all, [(first, b"first".to_vec()), (next, b"next".to_vec())]);
}

#[test]
fn failed_truncate_after_failed_write_poisons_until_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let kept = wal.append(None, b"kept", T0, false).unwrap();
    inject_fault(Fault {
        keep_bytes: 30,
        ..fault(FaultOp::Write, dir, libc::EIO, 0, 1)
    });
    inject_fault(fault(FaultOp::Truncate, dir, libc::EIO, 0, 1));
    expect_io(wal.append(None, &[1u8; 100], T0, false), libc::EIO);
    clear_faults(dir);
    // The file now has 30 garbage bytes after `kept`: nothing may be appended after them.
    let e = expect_io(wal.append(None, b"x", T0, false), libc::EIO);
    assert!(e.to_string().contains("poisoned"), "{e}");
    expect_io(wal.sync(), libc::EIO);
    assert_eq!(&wal.read(kept).unwrap().content[..], b"kept");
    drop(wal);
    // Reopening cuts the garbage (a torn tail) and the log works again.
    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(replay_all(&wal), vec![(kept, b"kept".to_vec())]);
    let next = wal.append(None, b"next", T0, true).unwrap();
    assert_eq!(next.offset, kept.offset + kept.size);
}

#[test]
fn failed_fdatasync_poisons_the_log_and_is_never_reported_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let before = wal.append(None, b"before", T0, true).unwrap();
    inject_fault(fault(FaultOp::Fdatasync, dir, libc::EIO, 0, 1));
    let e = expect_io(wal.append(None, b"lost?", T0, true), libc::EIO);
    assert!(e.to_string().contains("fdatasync"), "{e}");
    // The fault is gone, but a retried fsync could "succeed" after the kernel
    // dropped the pages: the log stays poisoned.
    for r in [
        wal.append(None, b"a", T0, false).map(|_| ()),
        wal.append(None, b"b", T0, true).map(|_| ()),
        wal.sync(),
    ] {
        let e = expect_io(r, libc::EIO);
        assert!(e.to_string().contains("poisoned"), "{e}");
    }
    // Reads of what was written still work.
    assert_eq!(&wal.read(before).unwrap().content[..], b"before");
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let got = replay_all(&wal);
    assert_eq!(got[0], (before, b"before".to_vec()));
    wal.append(None, b"again", T0, true).unwrap();
}

#[test]
fn every_waiter_of_a_failed_group_gets_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let wal = Arc::new(Wal::open(&dir, "s", opts()).unwrap());
    const THREADS: usize = 8;
    inject_fault(fault(FaultOp::Fdatasync, &dir, libc::EIO, 5, u32::MAX));
    let barrier = Arc::new(Barrier::new(THREADS));
    let outcomes: Vec<Vec<bool>> = (0..THREADS)
        .map(|t| {
            let wal = wal.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut seq = Vec::new();
                for i in 0..40 {
                    let ok = wal
                        .append(None, format!("{t}-{i}").as_bytes(), T0, true)
                        .is_ok();
                    seq.push(ok);
                }
                seq
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    clear_faults(&dir);
    let failures: usize = outcomes
        .iter()
        .map(|s| s.iter().filter(|ok| !**ok).count())
        .sum();
    assert!(failures >= THREADS, "every thread must see the failure");
    for seq in &outcomes {
        // Once a thread saw the failure, nothing after it is reported durable.
        let first_err = seq
            .iter()
            .position(|ok| !ok)
            .expect("each thread fails eventually");
        assert!(seq[first_err..].iter().all(|ok| !ok), "{seq:?}");
    }
    assert!(wal.sync().is_err());
}

#[test]
fn failed_seal_during_rotation_poisons() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let old = wal.append(None, b"old window", T0, false).unwrap();
    inject_fault(fault(FaultOp::Fdatasync, dir, libc::EIO, 0, 1));
    expect_io(
        wal.append(None, b"next window", T0 + 60_000, false),
        libc::EIO,
    );
    let e = expect_io(wal.append(None, b"late", T0, false), libc::EIO);
    assert!(e.to_string().contains("poisoned"), "{e}");
    assert_eq!(
        wal.segments().len(),
        1,
        "no new segment after a failed seal"
    );
    assert_eq!(&wal.read(old).unwrap().content[..], b"old window");
}

#[test]
fn failed_segment_creation_leaves_no_file_and_the_log_usable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let old = wal.append(None, b"old", T0, false).unwrap();
    // The new segment's header fsync fails (the first Fsync under dir).
    inject_fault(fault(FaultOp::Fsync, dir, libc::ENOSPC, 0, 1));
    expect_io(wal.append(None, b"new", T0 + 60_000, false), libc::ENOSPC);
    let seg_files = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".seg")
        })
        .count();
    assert_eq!(seg_files, 1, "the half-created segment was removed");
    // Space is back: appends go on, in the old segment for late records and
    // in a new one for the new window.
    let late = wal.append(None, b"late", T0, false).unwrap();
    assert_eq!(late.segment_id, old.segment_id);
    let new = wal.append(None, b"new", T0 + 60_000, true).unwrap();
    assert!(new.segment_id > old.segment_id);
    let contents: Vec<Vec<u8>> = replay_all(&wal).into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        contents,
        vec![b"old".to_vec(), b"late".to_vec(), b"new".to_vec()]
    );
}

/// Each step of creating a segment failing (ENOSPC or EIO): the file's
/// creation, its header's write, its fsync, the directory's fsync. The
/// rotating append gets the error, no file of the new segment is left,
/// and once the disk answers the log goes on: late records in the old
/// segment, the new window in a new one, everything there after reopen.
#[test]
fn every_step_of_creating_a_segment_can_fail_and_leaves_no_file() {
    // The rotation writes the old segment's index footer first (a failed
    // footer is only left out): the header is the second write.
    let steps = [
        (FaultOp::Create, 0, libc::ENOSPC, "creating the file"),
        (FaultOp::Write, 1, libc::ENOSPC, "writing its header"),
        (FaultOp::Write, 1, libc::EIO, "writing its header"),
        (FaultOp::Fsync, 0, libc::EIO, "fsync of the file"),
        (FaultOp::Fsync, 1, libc::ENOSPC, "fsync of the directory"),
    ];
    for (op, skip, errno, what) in steps {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let wal = Wal::open(dir, "s", opts()).unwrap();
        let old = wal.append(None, b"old", T0, true).unwrap();
        inject_fault(fault(op, dir, errno, skip, 1));
        let e = expect_io(wal.append(None, b"new", T0 + 60_000, false), errno);
        clear_faults(dir);
        assert!(e.to_string().contains("segment"), "{what}: {e}");
        let seg_files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".seg"))
            .collect();
        assert_eq!(seg_files.len(), 1, "{what}: {seg_files:?}");
        let late = wal.append(None, b"late", T0, false).unwrap();
        assert_eq!(late.segment_id, old.segment_id, "{what}");
        let new = wal.append(None, b"new", T0 + 60_000, true).unwrap();
        assert!(new.segment_id > old.segment_id, "{what}");
        drop(wal);
        let wal = Wal::open(dir, "s", opts()).unwrap();
        let contents: Vec<Vec<u8>> = replay_all(&wal).into_iter().map(|(_, c)| c).collect();
        assert_eq!(
            contents,
            [b"old".to_vec(), b"late".to_vec(), b"new".to_vec()],
            "{what}"
        );
    }
}

/// A failed write of pre-written zeros (disk full) is not the append's
/// failure: the zeros are cut again, the append is written without them, and
/// nothing is pre-written in that segment afterwards.
#[test]
fn failed_prewrite_falls_back_to_plain_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let first = wal.append(None, b"durable", T0, true).unwrap();
    // The next append that grows the file pre-writes first: fail that write.
    inject_fault(Fault {
        keep_bytes: 4096,
        ..fault(FaultOp::Write, dir, libc::ENOSPC, 0, 1)
    });
    let r = wal
        .append(None, b"after the failed prewrite", T0, true)
        .unwrap();
    clear_faults(dir);
    let path = wal.segment(first.segment_id).unwrap().path().to_path_buf();
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(len, r.offset + r.size, "no zeros left behind");
    for i in 0..20 {
        let r = wal.append(None, &[i; 100], T0, true).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, r.offset + r.size, "not pre-written again");
    }
    assert_eq!(replay_all(&wal).len(), 22);
    // Zeros of the failed pre-write may have been synced before they were
    // cut: sealing makes the cut durable with fsync.
    inject_fault(fault(FaultOp::Fsync, &path, libc::EIO, 0, 1));
    let e = expect_io(
        wal.append(None, b"next window", T0 + 60_000, false),
        libc::EIO,
    );
    assert!(e.to_string().contains("sealing"), "{e}");
    clear_faults(&path);
}

/// A failed fdatasync of pre-written zeros is fail-stop, as any failed
/// fdatasync: it may have dropped dirty pages of acknowledged records.
#[test]
fn failed_fdatasync_of_prewritten_zeros_poisons_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let first = wal.append(None, b"durable", T0, true).unwrap();
    inject_fault(fault(FaultOp::Fdatasync, dir, libc::EIO, 0, 1));
    expect_io(
        wal.append(None, b"pre-writes, sync fails", T0, false),
        libc::EIO,
    );
    clear_faults(dir);
    expect_io(wal.append(None, b"poisoned", T0, false), libc::EIO);
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(replay_all(&wal), vec![(first, b"durable".to_vec())]);
}

/// A write that failed part-way was cut back, but a group commit (which
/// syncs without the appender lock) may have made its bytes' length durable
/// before the cut. So the segment's length changed since its last sync, and
/// sealing it makes the cut durable with fsync, not fdatasync: observed
/// through an fsync failure injected on that segment file alone.
#[test]
fn a_segment_cut_after_a_failed_write_is_sealed_with_fsync() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let kept = wal.append(None, b"kept", T0, false).unwrap();
    let seg_file = wal.segment(kept.segment_id).unwrap().path().to_path_buf();
    inject_fault(Fault {
        keep_bytes: 100,
        ..fault(FaultOp::Write, dir, libc::ENOSPC, 0, 1)
    });
    expect_io(wal.append(None, &[7u8; 5000], T0, false), libc::ENOSPC);
    inject_fault(fault(FaultOp::Fsync, &seg_file, libc::EIO, 0, 1));
    // The next window rolls the log over: sealing fsyncs the cut segment.
    let e = expect_io(
        wal.append(None, b"next window", T0 + 60_000, false),
        libc::EIO,
    );
    assert!(e.to_string().contains("sealing"), "{e}");
    clear_faults(&seg_file);
    clear_faults(dir);
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(replay_all(&wal), vec![(kept, b"kept".to_vec())]);
}

/// Shutdown cuts the zeros durable appends pre-wrote and fsyncs the cut
/// length: an fsync failing there is reported by shutdown, and a reopen
/// keeps every record.
#[test]
fn shutdown_cuts_prewritten_zeros_and_reports_a_failed_fsync() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let a = wal.append(None, b"durable", T0, true).unwrap();
    let b = wal.append(None, b"grows the file", T0, false).unwrap();
    let path = wal.segment(a.segment_id).unwrap().path().to_path_buf();
    let len = || std::fs::metadata(&path).unwrap().len();
    assert!(len() > b.offset + b.size, "pre-written");
    inject_fault(fault(FaultOp::Fsync, &path, libc::EIO, 0, 1));
    expect_io(wal.shutdown(), libc::EIO);
    clear_faults(&path);
    assert_eq!(len(), b.offset + b.size, "cut to the last record");
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(
        replay_all(&wal),
        vec![(a, b"durable".to_vec()), (b, b"grows the file".to_vec())]
    );
}

/// A metadata put whose write fails part-way: the error carries the errno,
/// the key keeps its old value (in this handle and after reopen: the torn
/// slot does not verify), and the next put works (a failed write is not a
/// failed sync: nothing unknown reached the disk).
#[test]
fn failed_metadata_write_keeps_the_old_value_and_puts_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let meta = dir.join("s.meta");
    let wal = Wal::open(dir, "s", opts()).unwrap();
    wal.meta_put("k", b"old").unwrap();
    wal.meta_put("k", b"older than new").unwrap();
    wal.meta_put("k", b"old").unwrap();
    for keep in [0, 1, 30, 60] {
        inject_fault(Fault {
            keep_bytes: keep,
            ..fault(FaultOp::Write, &meta, libc::ENOSPC, 0, 1)
        });
        let e = expect_io(wal.meta_put("k", &[7; 3000]), libc::ENOSPC);
        assert!(e.to_string().contains("s.meta"), "{e}");
        assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"old", "keep {keep}");
    }
    clear_faults(&meta);
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"old");
    wal.meta_put("k", b"new").unwrap();
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"new");
}

/// A failed sync of a metadata put (the fsync of the first put of a
/// handle, the directory fsync after it, or a later put's fdatasync):
/// `Io`, the old value kept in this handle, and every later put refused
/// (fail-stop) until the stream is reopened, while gets and the log go on.
/// After reopen the key holds the old or the new value, and puts work.
#[test]
fn failed_metadata_sync_keeps_the_old_value_and_refuses_puts_until_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    for (what, op, on_dir, skip_puts) in [
        ("fsync of the file", FaultOp::Fsync, false, 0),
        ("fsync of the directory", FaultOp::Fsync, true, 0),
        ("fdatasync", FaultOp::Fdatasync, false, 1),
    ] {
        let dir = tmp.path().join(what.replace(' ', "-"));
        let meta = dir.join("s.meta");
        {
            let wal = Wal::open(&dir, "s", opts()).unwrap();
            wal.meta_put("k", b"first").unwrap();
        }
        let wal = Wal::open(&dir, "s", opts()).unwrap();
        for i in 0..skip_puts {
            wal.meta_put("k", format!("put {i}").as_bytes()).unwrap();
        }
        let old = wal.meta_get("k").unwrap().unwrap();
        // Under the directory, the file's fsync comes first: let it pass.
        let (under, skip) = if on_dir {
            (dir.clone(), 1)
        } else {
            (meta.clone(), 0)
        };
        inject_fault(fault(op, &under, libc::EIO, skip, 1));
        let e = expect_io(wal.meta_put("k", b"lost?"), libc::EIO);
        assert!(e.to_string().contains(what), "{what}: {e}");
        clear_faults(&under);
        assert_eq!(wal.meta_get("k").unwrap().unwrap(), old, "{what}");
        let refused = expect_io(wal.meta_put("other", b"x"), libc::EIO);
        assert!(refused.to_string().contains("reopen"), "{what}: {refused}");
        assert_eq!(wal.meta_get("other").unwrap(), None, "{what}");
        // The log is not poisoned by the metadata.
        let r = wal.append(None, b"durable", T0, true).unwrap();
        assert_eq!(&wal.read(r).unwrap().content[..], b"durable");
        wal.sync().unwrap();
        drop(wal);
        let wal = Wal::open(&dir, "s", opts()).unwrap();
        let got = wal.meta_get("k").unwrap().unwrap();
        assert!(got == old || got == b"lost?", "{what}: {got:?}");
        assert_eq!(wal.meta_get("other").unwrap(), None, "{what}");
        wal.meta_put("other", b"after reopen").unwrap();
        assert_eq!(wal.last_index(), 1, "{what}");
    }
}

/// The log as the tests of truncation see it: every record's index and bytes.
fn indexed(wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    replay_all(wal)
        .into_iter()
        .map(|(e, c)| (e.index, c))
        .collect()
}

/// Three segments (windows T0, +60 s, +120 s) of four records each.
fn three_segments(wal: &Wal) -> Vec<EntryRef> {
    (0..12u64)
        .map(|i| {
            let content = format!("record {i}");
            let now = T0 + (i / 4) as i64 * 60_000;
            wal.append(None, content.as_bytes(), now, false).unwrap()
        })
        .collect()
}

/// The file the next segment gets: the active one's window, the next id.
fn next_segment_path(wal: &Wal) -> std::path::PathBuf {
    let active = wal.segments().last().unwrap().clone();
    wal.dir().join(format!(
        "s_{}_{}.seg",
        active.expiration_ms(),
        active.id() + 1
    ))
}

fn seg_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".seg")
        })
        .count()
}

/// A change that restarts the log: its name, the call, the indexes it keeps.
type Restart = (&'static str, fn(&Wal) -> Result<(), WalError>, Vec<u64>);

/// The two changes that restart the log.
fn restarts() -> [Restart; 2] {
    [
        (
            "truncate_after(6)",
            |w| w.truncate_after(6),
            (1..=6).collect(),
        ),
        ("reset(100)", |w| w.reset(100), Vec::new()),
    ]
}

/// A truncation inside the active segment seals it first; a failed seal
/// poisons the log. A truncation or reset that drops the whole active
/// segment does not seal it (its records are all dropped, the ones kept
/// were synced when their segments were sealed): the same faults are never
/// met, and the call succeeds.
#[test]
fn failed_seal_during_a_truncation_poisons_and_reopen_shows_the_log_before() {
    for (what, restart, kept) in restarts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let wal = Wal::open(dir, "s", opts()).unwrap();
        three_segments(&wal);
        let active = wal.segments().last().unwrap().path().to_path_buf();
        inject_fault(fault(FaultOp::Fdatasync, &active, libc::EIO, 0, 1));
        inject_fault(fault(FaultOp::Fsync, &active, libc::EIO, 0, 1));
        restart(&wal).unwrap_or_else(|e| panic!("{what}: {e}"));
        clear_faults(&active);
        assert!(
            !active.exists(),
            "{what}: the dropped active segment is deleted"
        );
        let kept_now: Vec<u64> = indexed(&wal).into_iter().map(|(i, _)| i).collect();
        assert_eq!(kept_now, kept, "{what}");
        drop(wal);
        let wal = Wal::open(dir, "s", opts()).unwrap();
        let reopened: Vec<u64> = indexed(&wal).into_iter().map(|(i, _)| i).collect();
        assert_eq!(reopened, kept, "{what}: reopened");
    }
    // A segment found at open takes no truncation record: a truncation
    // inside it starts a new segment, and seals it first.
    let restarts: [Restart; 1] = [(
        "truncate_after(10)",
        |w| w.truncate_after(10),
        (1..=10).collect(),
    )];
    for (what, restart, _) in restarts {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let wal = Wal::open(dir, "s", opts()).unwrap();
        three_segments(&wal);
        drop(wal);
        let wal = Wal::open(dir, "s", opts()).unwrap();
        let before = indexed(&wal);
        // The seal syncs the active segment: fdatasync, or fsync when it cuts
        // pre-written zeros. Either fails.
        let active = wal.segments().last().unwrap().path().to_path_buf();
        inject_fault(fault(FaultOp::Fdatasync, &active, libc::EIO, 0, 1));
        inject_fault(fault(FaultOp::Fsync, &active, libc::EIO, 0, 1));
        let e = expect_io(restart(&wal), libc::EIO);
        assert!(e.to_string().contains("sealing"), "{what}: {e}");
        clear_faults(&active);
        // Fail-stop: nothing is written any more, not even a retry.
        let e = expect_io(restart(&wal), libc::EIO);
        assert!(e.to_string().contains("poisoned"), "{what}: {e}");
        let e = expect_io(wal.append(None, b"x", T0 + 120_000, false), libc::EIO);
        assert!(e.to_string().contains("poisoned"), "{what}: {e}");
        assert_eq!(seg_count(dir), 3, "{what}: no segment created");
        drop(wal);
        let wal = Wal::open(dir, "s", opts()).unwrap();
        assert_eq!(indexed(&wal), before, "{what}: reopened, the log before");
        restart(&wal).unwrap();
    }
}

#[test]
fn failed_creation_of_the_new_segment_leaves_the_log_as_it_was_and_a_retry_works() {
    for (what, restart, kept) in restarts() {
        for dir_fsync in [false, true] {
            let what = format!(
                "{what}, {}",
                if dir_fsync {
                    "directory fsync"
                } else {
                    "header fsync"
                }
            );
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let wal = Wal::open(dir, "s", opts()).unwrap();
            let refs = three_segments(&wal);
            let before = indexed(&wal);
            let state = wal.log_state();
            let new_path = next_segment_path(&wal);
            if dir_fsync {
                // Every fsync under the directory before its own is let
                // through: the seal's (when it cuts pre-written zeros) and
                // the new segment's header.
                let active = wal.segments().last().unwrap().clone();
                let cuts = std::fs::metadata(active.path()).unwrap().len() > active.len();
                inject_fault(fault(FaultOp::Fsync, dir, libc::ENOSPC, 1 + cuts as u32, 1));
            } else {
                inject_fault(fault(FaultOp::Fsync, &new_path, libc::ENOSPC, 0, 1));
            }
            let e = expect_io(restart(&wal), libc::ENOSPC);
            let expected = if dir_fsync { "directory" } else { "header" };
            assert!(e.to_string().contains(expected), "{what}: {e}");
            clear_faults(dir);
            clear_faults(&new_path);
            assert!(
                !new_path.exists(),
                "{what}: the new segment's file is removed"
            );
            assert_eq!(seg_count(dir), 3, "{what}");
            assert_eq!(indexed(&wal), before, "{what}: unchanged in memory");
            let now = wal.log_state();
            assert_eq!(
                (now.first_index, now.last_index),
                (state.first_index, state.last_index),
                "{what}: the same bounds"
            );
            // The seal made the active segment durable before the failure.
            assert!(now.durable_index >= state.durable_index, "{what}");
            for (r, (_, c)) in refs.iter().zip(&before) {
                assert_eq!(&wal.read(*r).unwrap().content[..], &c[..], "{what}");
            }
            drop(wal);
            let wal = Wal::open(dir, "s", opts()).unwrap();
            assert_eq!(indexed(&wal), before, "{what}: unchanged after reopen");
            restart(&wal).unwrap();
            let after: Vec<u64> = indexed(&wal).iter().map(|r| r.0).collect();
            assert_eq!(after, kept, "{what}: the retry");
            drop(wal);
            let wal = Wal::open(dir, "s", opts()).unwrap();
            let after: Vec<u64> = indexed(&wal).iter().map(|r| r.0).collect();
            assert_eq!(after, kept, "{what}: the retry, reopened");
        }
    }
}

#[test]
fn failed_creation_of_the_new_segment_lets_appends_go_on_in_the_active_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    three_segments(&wal);
    let new_path = next_segment_path(&wal);
    inject_fault(fault(FaultOp::Fsync, &new_path, libc::ENOSPC, 0, 1));
    expect_io(wal.truncate_after(6), libc::ENOSPC);
    clear_faults(&new_path);
    let r = wal.append(None, b"after", T0 + 120_000, true).unwrap();
    assert_eq!(r.index, 13);
    assert_eq!(&wal.read(r).unwrap().content[..], b"after");
    assert_eq!(indexed(&wal).len(), 13);
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(indexed(&wal).last().unwrap(), &(13, b"after".to_vec()));
}

#[test]
fn failed_unlink_of_a_dropped_segment_keeps_the_truncation_and_blocks_cleanup_until_it_is_gone() {
    for (what, restart, kept) in restarts() {
        for reopen in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let wal = Wal::open(dir, "s", opts()).unwrap();
            let refs = three_segments(&wal);
            inject_fault(fault(FaultOp::Unlink, dir, libc::EACCES, 0, u32::MAX));
            // Durable already: the failed unlinks are not its error.
            restart(&wal).unwrap();
            let check = |wal: &Wal, when: &str| {
                let got: Vec<u64> = indexed(wal).iter().map(|r| r.0).collect();
                assert_eq!(got, kept, "{what}, {when}");
                for r in &refs[kept.len()..] {
                    assert!(
                        matches!(
                            wal.read(*r),
                            Err(WalError::IndexNotFound { .. } | WalError::SegmentNotFound(_))
                        ),
                        "{what}, {when}: dropped ref {r:?}"
                    );
                }
            };
            check(&wal, "with the files left");
            // truncate_after(6) drops segment 3, reset every one: they stay.
            let left = seg_count(dir);
            assert_eq!(left, 4, "{what}: the dropped files stay");
            if reopen {
                drop(wal);
                clear_faults(dir);
                let wal = Wal::open(dir, "s", opts()).unwrap();
                check(&wal, "reopened");
                assert_eq!(
                    seg_count(dir),
                    wal.segments().len(),
                    "{what}: leftovers deleted"
                );
                drop(wal);
                check(&Wal::open(dir, "s", opts()).unwrap(), "reopened twice");
                continue;
            }
            // Far in the future, every segment but the active one expired.
            let far = T0 + 100_000_000;
            let e = expect_io(wal.cleanup(far), libc::EACCES);
            assert!(e.to_string().contains("truncation or reset"), "{e}");
            assert_eq!(seg_count(dir), left, "{what}: cleanup deleted nothing");
            check(&wal, "after a refused cleanup");
            clear_faults(dir);
            let done = wal.cleanup(far).unwrap();
            assert_eq!(seg_count(dir), 1, "{what}: {done:?}");
            assert_eq!(done.live_count, 1);
            drop(wal);
            let wal = Wal::open(dir, "s", opts()).unwrap();
            assert_eq!(
                wal.log_state().last_index,
                kept.last().copied().unwrap_or(99),
                "{what}"
            );
        }
    }
}

/// `sync` with nothing appended since the last durable append still makes
/// every earlier non-durable append durable: it reaches fdatasync (a
/// failing one makes it fail), rather than trusting a "pending" flag that
/// only durable appends set.
#[test]
fn sync_after_only_non_durable_appends_fdatasyncs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let first = wal.append(None, b"durable", T0, true).unwrap();
    let lazy: Vec<EntryRef> = (0..3u8)
        .map(|i| wal.append(None, &[i; 16], T0, false).unwrap())
        .collect();
    let state = wal.log_state();
    assert_eq!(state.durable_index, first.index);
    assert_eq!(state.last_index, lazy[2].index);
    // Armed for the next fdatasync of the stream: the sync must be it.
    inject_fault(fault(FaultOp::Fdatasync, dir, libc::EIO, 0, 1));
    let synced = wal.sync();
    clear_faults(dir);
    expect_io(synced, libc::EIO);
    assert_eq!(
        wal.durable_index(),
        first.index,
        "a failed sync made nothing durable"
    );
    drop(wal);

    // On a new handle (the failed sync poisoned the old one), the same
    // sequence without the fault: sync returns with every record durable.
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let more: Vec<EntryRef> = (0..3u8)
        .map(|i| wal.append(None, &[i; 8], T0, false).unwrap())
        .collect();
    assert!(wal.durable_index() < more[2].index);
    // Another thread syncs: it appended nothing itself.
    std::thread::scope(|s| s.spawn(|| wal.sync().unwrap()).join().unwrap());
    assert_eq!(wal.durable_index(), more[2].index);
    assert_eq!(wal.durable_index(), wal.last_index());
}

/// A deferred purge syncs nothing (its metadata slot written, no fdatasync
/// or fsync); the next `sync` fdatasyncs the metadata once, and not again
/// while nothing is pending. A failed sync of it is `Io` and leaves the
/// metadata fail-stop until reopen (the log goes on); after reopen the
/// first index is the deferred point or the last synced one. A failed
/// write into the pending slot is fail-stop too (what the slot holds is
/// unknown), and reopen finds the last synced point. A deferred purge
/// that frees a whole segment syncs first: a failed fdatasync there
/// deletes nothing.
#[test]
fn a_deferred_purge_syncs_nothing_until_sync_and_its_failures_are_fail_stop() {
    use nano_wal::fault::fdatasync_count;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let meta = dir.join("s.meta");
    let minute = 60_000;
    let wal = Wal::open(dir, "s", opts()).unwrap();
    for i in 0..12i64 {
        let c = format!("record {i}");
        wal.append(None, c.as_bytes(), T0 + i / 6 * minute, false)
            .unwrap();
    }
    wal.sync().unwrap();
    // The file's first change of a handle fsyncs it and the directory.
    wal.meta_put("k", b"v").unwrap();
    let before = fdatasync_count(&meta);
    inject_fault(fault(FaultOp::Fsync, dir, libc::EIO, 0, u32::MAX));
    for index in 2..6 {
        wal.purge_before_deferred(index).unwrap();
        assert_eq!(wal.first_index(), index);
    }
    assert_eq!(fdatasync_count(&meta), before, "deferred: no fdatasync");
    clear_faults(dir);
    wal.sync().unwrap();
    assert_eq!(fdatasync_count(&meta), before + 1, "sync: one fdatasync");
    wal.sync().unwrap();
    assert_eq!(fdatasync_count(&meta), before + 1, "nothing pending");

    wal.purge_before_deferred(6).unwrap();
    inject_fault(fault(FaultOp::Fdatasync, &meta, libc::EIO, 0, 1));
    expect_io(wal.sync(), libc::EIO);
    clear_faults(&meta);
    let refused = expect_io(wal.purge_before_deferred(7), libc::EIO);
    assert!(refused.to_string().contains("reopen"), "{refused}");
    expect_io(wal.meta_put("x", b"y"), libc::EIO);
    let r = wal.append(None, b"after", T0 + minute, true).unwrap();
    assert_eq!(&wal.read(r).unwrap().content[..], b"after");
    drop(wal);

    let wal = Wal::open(dir, "s", opts()).unwrap();
    let first = wal.first_index();
    assert!(first == 5 || first == 6, "first index {first}");
    // Index 7 frees the first segment (records 1 to 6): synced.
    wal.purge_before_deferred(7).unwrap();
    wal.purge_before_deferred(8).unwrap();
    inject_fault(Fault {
        keep_bytes: 20,
        ..fault(FaultOp::Write, &meta, libc::ENOSPC, 0, 1)
    });
    expect_io(wal.purge_before_deferred(9), libc::ENOSPC);
    assert_eq!(wal.first_index(), 8, "the failed purge changed nothing");
    clear_faults(&meta);
    let refused = expect_io(wal.sync(), libc::ENOSPC);
    assert!(refused.to_string().contains("reopen"), "{refused}");
    drop(wal);

    let wal = Wal::open(dir, "s", opts()).unwrap();
    assert_eq!(
        wal.first_index(),
        7,
        "the torn pending slot: the synced point"
    );
    wal.append(None, b"third window", T0 + 2 * minute, false)
        .unwrap();
    let segments = seg_count(dir);
    assert_eq!(segments, 2);
    // The handle's first change of the file: its fsync.
    inject_fault(fault(FaultOp::Fsync, &meta, libc::EIO, 0, 1));
    expect_io(wal.purge_before_deferred(14), libc::EIO);
    clear_faults(&meta);
    assert_eq!(seg_count(dir), segments, "nothing deleted");
    assert_eq!(wal.first_index(), 7);
}

/// Truncations, resets and purges unlink without a directory fsync (open
/// deletes a file whose unlink a crash took back), but a segment that
/// resets the log is only unlinked once the unlinks before it are durable:
/// were it gone while an older segment it drops came back, that one would
/// look live. Here the reset's unlinks of the old segments are still
/// unsynced when a second reset drops the first reset's segment, and the
/// directory fsync before its unlink is made to fail: the segment stays
/// (the reset is durable already and succeeds), until cleanup retries.
#[test]
fn a_reset_segment_is_unlinked_only_after_the_unlinks_before_it_are_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    three_segments(&wal);
    wal.reset(100).unwrap();
    assert_eq!(seg_count(dir), 1, "the three old segments are unlinked");
    let reset_seg = wal.segments()[0].path().to_path_buf();
    wal.append(None, b"after the reset", T0, false).unwrap();
    // The new segment's own fsync and the directory's pass; the third
    // fsync under the directory is the one before the reset's unlink.
    inject_fault(fault(FaultOp::Fsync, dir, libc::EIO, 2, 1));
    wal.reset(200).unwrap();
    clear_faults(dir);
    assert!(
        reset_seg.exists(),
        "unlinked before the unlinks before it were durable"
    );
    assert_eq!(wal.log_state().first_index, 200);
    wal.cleanup(T0).unwrap();
    assert!(!reset_seg.exists(), "cleanup retried it");
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let state = wal.log_state();
    assert_eq!((state.first_index, state.last_index), (200, 199));
    assert_eq!(seg_count(dir), 1);
}

/// Cleanup may delete the segment whose first index says the segments a
/// truncation dropped are gone; were their unlinks not durable yet, a crash
/// could bring them back with nothing to drop them. So cleanup fsyncs the
/// directory first while unlinks are unsynced: that fsync failing, it
/// deletes nothing.
#[test]
fn cleanup_makes_earlier_unlinks_durable_before_it_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    three_segments(&wal);
    wal.truncate_after(6).unwrap(); // drops the active segment, unlinked
    wal.append(None, b"next window", T0 + 3 * 60_000, false)
        .unwrap();
    let before = seg_count(dir);
    assert_eq!(before, 4);
    inject_fault(fault(FaultOp::Fsync, dir, libc::EIO, 0, 1));
    let far = T0 + 10 * 3_600_000;
    expect_io(wal.cleanup(far), libc::EIO);
    clear_faults(dir);
    assert_eq!(seg_count(dir), before, "nothing deleted");
    let r = wal.cleanup(far).unwrap();
    assert_eq!(r.deleted.len(), 3);
    assert_eq!(
        wal.first_index(),
        7,
        "the record appended after the truncation"
    );
}

/// A truncation inside the active segment writes a truncation record and
/// fdatasyncs it. A failed write is cut off and changes nothing; a failed
/// fdatasync poisons the log (fail-stop), and after reopen the log is the
/// one before or the one after (the record may or may not be on disk),
/// never a mix. A deferred truncation makes no fdatasync: the next durable
/// append's sync covers the truncation record.
#[test]
fn a_truncation_record_that_fails_to_be_written_or_synced_changes_nothing_acknowledged() {
    use nano_wal::fault::fdatasync_count;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", opts()).unwrap();
    three_segments(&wal);
    let before = indexed(&wal);
    let active = wal.segments().last().unwrap().path().to_path_buf();
    inject_fault(Fault {
        keep_bytes: 10,
        ..fault(FaultOp::Write, &active, libc::ENOSPC, 0, 1)
    });
    expect_io(wal.truncate_after(10), libc::ENOSPC);
    clear_faults(&active);
    assert_eq!(indexed(&wal), before, "a failed write changes nothing");
    // A deferred one: no fdatasync of its own.
    let syncs = fdatasync_count(&active);
    wal.truncate_after_deferred(11).unwrap();
    assert_eq!(fdatasync_count(&active), syncs, "deferred: no fdatasync");
    let r = wal.append(None, b"after", T0 + 120_000, true).unwrap();
    assert_eq!(r.index, 12);
    assert_eq!(
        fdatasync_count(&active),
        syncs + 1,
        "the append's sync covers it"
    );
    let after: Vec<(u64, Vec<u8>)> = indexed(&wal);
    assert_eq!(after.len(), 12);
    // A failed fdatasync of a durable one.
    inject_fault(fault(FaultOp::Fdatasync, &active, libc::EIO, 0, 1));
    let e = expect_io(wal.truncate_after(9), libc::EIO);
    assert!(e.to_string().contains("after a truncation"), "{e}");
    clear_faults(&active);
    let e = expect_io(wal.append(None, b"x", T0 + 120_000, false), libc::EIO);
    assert!(e.to_string().contains("poisoned"), "{e}");
    drop(wal);
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let reopened = indexed(&wal);
    assert!(
        reopened == after || reopened == after[..9].to_vec(),
        "the log before or after: {} records",
        reopened.len()
    );
}

// SPDX-License-Identifier: MIT
//! Read faults (cargo feature `fault-injection`): EIO from `pread` during
//! open's scan, replay, reads, a follower and the read-only view, and short
//! reads everywhere. A failed read is reported as `Io` and never taken for
//! a torn tail: open changes no file (a peer once cut synced data over such
//! an error), and nothing is ever cut because a read failed.
#![cfg(feature = "fault-injection")]

mod common;

use common::opts;
use nano_wal::fault::{clear_faults, inject_fault, Fault, FaultOp};
use nano_wal::inspect::LogView;
use nano_wal::{FollowMode, Wal, WalError, WalOptions};
use std::collections::BTreeMap;
use std::path::Path;

const T0: i64 = 1_700_000_000_000;
const W: i64 = 1_000;

fn options() -> WalOptions {
    opts(W as u64, 3_600_000)
}

/// Three windows of 20 records each (some in batches, a few durable).
fn build(dir: &Path) -> Vec<(nano_wal::EntryRef, Vec<u8>)> {
    let wal = Wal::open(dir, "r", options()).unwrap();
    let mut out = Vec::new();
    for w in 0..3 {
        for i in 0..20u64 {
            let content = format!("w{w} record {i} {}", "x".repeat(i as usize * 7)).into_bytes();
            let r = wal.append(None, &content, T0 + w * W, i % 9 == 0).unwrap();
            out.push((r, content));
        }
    }
    out
}

/// Every file of `dir` and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn read_fault(under: &Path, errno: i32, skip: u32, keep_bytes: usize) {
    inject_fault(Fault {
        op: FaultOp::Read,
        under: under.to_path_buf(),
        errno,
        skip,
        times: if errno == 0 { u32::MAX } else { 1 },
        keep_bytes,
    });
}

fn is_eio(e: &WalError) -> bool {
    matches!(e, WalError::Io { .. }) && e.os_error() == Some(libc::EIO)
}

#[test]
fn open_fails_with_the_read_error_at_every_read_and_changes_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let records = build(dir);
    let before = snapshot(dir);
    let mut failed_at = 0;
    for salvage in [false, true] {
        for skip in 0.. {
            read_fault(dir, libc::EIO, skip, 0);
            let mut o = options();
            o.salvage = salvage;
            let opened = Wal::open(dir, "r", o);
            clear_faults(dir);
            match opened {
                Err(e) => {
                    assert!(is_eio(&e), "read {skip} (salvage {salvage}): {e}");
                    assert_eq!(snapshot(dir), before, "read {skip}: a file changed");
                    failed_at += 1;
                }
                // The fault came after open's last read: open is done.
                Ok(wal) => {
                    assert!(skip > 0, "the first read of open must fail");
                    assert_eq!(wal.last_index(), records.len() as u64);
                    break;
                }
            }
        }
    }
    assert!(failed_at >= 4, "open made only {failed_at} reads");
    println!("open failed cleanly at each of its {failed_at} reads (both salvage modes)");
}

#[test]
fn reads_replay_and_followers_report_the_error_and_cut_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let records = build(dir);
    let wal = Wal::open(dir, "r", options()).unwrap();
    let sizes: Vec<u64> = wal
        .segments()
        .iter()
        .map(|s| std::fs::metadata(s.path()).unwrap().len())
        .collect();
    let mut follower = wal.follow(1, FollowMode::Appended).unwrap();

    read_fault(dir, libc::EIO, 0, 0);
    assert!(is_eio(&wal.read(records[5].0).unwrap_err()));
    read_fault(dir, libc::EIO, 0, 0);
    assert!(is_eio(&wal.read_index(30).unwrap_err()));
    read_fault(dir, libc::EIO, 0, 0);
    assert!(is_eio(
        &wal.read_batch(&[records[1].0, records[2].0]).unwrap_err()
    ));
    read_fault(dir, libc::EIO, 0, 0);
    let first = wal.replay(None).unwrap().next().unwrap();
    assert!(is_eio(&first.unwrap_err()));
    read_fault(dir, libc::EIO, 0, 0);
    assert!(is_eio(&follower.next(None).unwrap_err()));
    assert_eq!(follower.next_index(), 1, "the follower stays where it was");
    clear_faults(dir);

    // Nothing was cut, and everything reads back once the disk answers.
    let now: Vec<u64> = wal
        .segments()
        .iter()
        .map(|s| std::fs::metadata(s.path()).unwrap().len())
        .collect();
    assert_eq!(now, sizes);
    let replayed: Vec<Vec<u8>> = wal
        .replay(None)
        .unwrap()
        .map(|r| r.unwrap().1.content.to_vec())
        .collect();
    assert_eq!(replayed.len(), records.len());
    for ((_, want), got) in records.iter().zip(&replayed) {
        assert_eq!(want, got);
    }
    match follower.next(None).unwrap() {
        nano_wal::Followed::Record(r, rec) => {
            assert_eq!((r.index, &rec.content[..]), (1, &records[0].1[..]))
        }
        other => panic!("{other:?}"),
    }
    drop(wal);
    let wal = Wal::open(dir, "r", options()).unwrap();
    assert_eq!(wal.last_index(), records.len() as u64);
}

#[test]
fn short_reads_everywhere_change_no_result() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let records = build(dir);
    // Every pread returns at most 7 bytes: every reader must go on.
    read_fault(dir, 0, 0, 7);
    let wal = Wal::open(dir, "r", options()).unwrap();
    assert_eq!(wal.last_index(), records.len() as u64);
    for (r, content) in &records {
        assert_eq!(&wal.read(*r).unwrap().content[..], &content[..]);
        assert_eq!(&wal.read_index(r.index).unwrap().content[..], &content[..]);
    }
    let refs: Vec<_> = records.iter().map(|(r, _)| *r).collect();
    let batch = wal.read_batch(&refs).unwrap();
    assert!(batch
        .iter()
        .zip(&records)
        .all(|(b, (_, c))| &b.content[..] == c));
    let replayed = wal.replay(None).unwrap().count();
    assert_eq!(replayed, records.len());
    let view = LogView::open(dir, "r").unwrap();
    for s in view.segments() {
        assert!(view.check_segment(s.id).unwrap().problem.is_none());
    }
    clear_faults(dir);
}

#[test]
fn the_read_only_view_reports_the_error_not_a_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    build(dir);
    let view = LogView::open(dir, "r").unwrap();
    let newest = view.segments().last().unwrap().id;
    read_fault(dir, libc::EIO, 0, 0);
    let checked = view.check_segment(newest);
    clear_faults(dir);
    assert!(
        is_eio(&checked.unwrap_err()),
        "an I/O error, not a torn tail"
    );
    assert!(view.check_segment(newest).unwrap().problem.is_none());
}

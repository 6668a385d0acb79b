// SPDX-License-Identifier: MIT
//! Power-loss simulation: the file states a machine crash can leave behind,
//! generated deterministically from a real log, each opened and checked.
//!
//! Model (see docs/RELIABILITY.md): everything up to the last completed
//! fdatasync/fsync of a file is on disk; after it, any prefix of the later
//! writes may have reached the disk, the last of them possibly torn, and the
//! file may end in zeros (allocated, never written) or garbage. A segment
//! sealed by a rotation was synced before its successor was created, so
//! only the newest segment has an unsynced tail. A segment whose directory
//! entry was never synced may vanish.
//!
//! The guarantee checked in every state: open succeeds, replay yields a
//! prefix of the acknowledged records in order with exact bytes, that prefix
//! contains every record acknowledged as durable, it never ends inside a
//! batch, and appending works afterwards.

mod common;

use common::{copy_dir, seg_path, Rng};
use nano_wal::{EntryRef, Wal, WalOptions, WriteEntry};
use std::fs;
use std::path::Path;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;
const WINDOW: i64 = 1_000;

fn opts() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_millis(WINDOW as u64),
        retention: Duration::from_secs(3600),
        ..Default::default()
    }
}

/// A record as acknowledged: its ref, header and content.
type Rec = (EntryRef, Option<Vec<u8>>, Vec<u8>);

/// One acknowledged append (a single record or a whole batch).
struct Ack {
    records: Vec<Rec>,
    durable: bool,
}

/// Build a log across three windows: single and batch appends, some durable.
/// The last durable ack is followed by several non-durable ones, so the
/// newest segment has an unsynced tail to tear. The log is returned open:
/// crash states are made from its files as they are before a shutdown
/// (which would cut the zeros pre-written after the records).
fn build(dir: &Path, seed: u64) -> (Wal, Vec<Ack>) {
    let mut rng = Rng::new(seed);
    let wal = Wal::open(dir, "p", opts()).unwrap();
    let mut acks = Vec::new();
    for window in 0..3i64 {
        let n = 4 + rng.below(4);
        for i in 0..n {
            let durable = window < 2 && rng.below(3) == 0 || (window == 2 && i == 1);
            let now = T0 + window * WINDOW;
            let batch_len = if rng.below(3) == 0 {
                2 + rng.below(4)
            } else {
                1
            };
            let payloads: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..batch_len)
                .map(|_| {
                    let hlen = rng.below(12) as usize;
                    let h = (rng.below(2) == 0).then(|| rng.bytes(hlen));
                    let clen = 1 + rng.below(200) as usize;
                    (h, rng.bytes(clen))
                })
                .collect();
            let entries: Vec<WriteEntry<'_>> = payloads
                .iter()
                .map(|(h, c)| WriteEntry {
                    header: h.as_deref(),
                    content: c,
                })
                .collect();
            let refs = wal.append_batch(&entries, now, durable).unwrap();
            acks.push(Ack {
                records: refs
                    .into_iter()
                    .zip(payloads)
                    .map(|(r, (h, c))| (r, h, c))
                    .collect(),
                durable,
            });
        }
    }
    (wal, acks)
}

thread_local! {
    /// Recovery reports asserted by the test running on this thread.
    static REPORTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The recovery report of the open that recovered a crashed state proves
/// nothing acknowledged as durable was cut, and says what was. Counted per
/// test (`reports_asserted`).
fn assert_recovery_report(wal: &Wal, what: &str) {
    let report = wal.recovery_report();
    assert!(!report.cut_below_durable, "{what}: {report:?}");
    if let Some(t) = &report.tail {
        assert!(t.kept_len <= t.found_len, "{what}: {t:?}");
        assert!(t.kept_len >= report.durable_watermark, "{what}: {report:?}");
    }
    REPORTS.with(|n| n.set(n.get() + 1));
}

/// How many recovery reports this test asserted, as the line the test
/// command adds up.
fn print_reports_asserted() {
    eprintln!("{} recovery reports asserted", REPORTS.with(|n| n.get()));
}

/// Open the crashed state and check the guarantee.
fn check_state(dir: &Path, acks: &[Ack], what: &str) {
    let wal = Wal::open(dir, "p", opts()).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
    assert_recovery_report(&wal, what);
    let got: Vec<Rec> = wal
        .replay(None)
        .unwrap()
        .map(|r| {
            let (e, rec) = r.unwrap_or_else(|e| panic!("{what}: replay failed: {e}"));
            (e, rec.header.map(|h| h.to_vec()), rec.content.to_vec())
        })
        .collect();
    let all: Vec<&Rec> = acks.iter().flat_map(|a| &a.records).collect();
    assert!(
        got.len() <= all.len(),
        "{what}: more records than acknowledged"
    );
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g, all[i], "{what}: record {i} differs");
    }
    // Never inside a batch: the count is at an ack boundary.
    let mut boundary = 0;
    let mut must_have = 0;
    let mut at_boundary = got.is_empty();
    for a in acks {
        boundary += a.records.len();
        if a.durable {
            must_have = boundary;
        }
        at_boundary |= boundary == got.len();
    }
    assert!(
        at_boundary,
        "{what}: replay ends inside a batch ({} records)",
        got.len()
    );
    assert!(
        got.len() >= must_have,
        "{what}: lost durable records ({} < {must_have})",
        got.len()
    );
    // The log goes on.
    let r = wal
        .append(None, b"after the crash", T0 + 2 * WINDOW, true)
        .unwrap();
    assert_eq!(
        &wal.read(r).unwrap().content[..],
        b"after the crash",
        "{what}"
    );
}

/// The newest segment of a log made by `build`.
struct NewestSegment {
    id: u64,
    /// The whole file: the records, then the zeros durable appends
    /// pre-wrote (preallocated, synced: the file keeps that length whatever
    /// reached the disk).
    file: Vec<u8>,
    /// The bytes of its records.
    records: Vec<u8>,
    /// End of its last durable record: the synced prefix.
    synced: usize,
}

fn newest_segment(dir: &Path, acks: &[Ack]) -> NewestSegment {
    let durable_end = acks
        .iter()
        .filter(|a| a.durable)
        .map(|a| a.records.last().unwrap().0)
        .max()
        .unwrap();
    let last = acks.last().unwrap().records.last().unwrap().0;
    assert_eq!(
        durable_end.segment_id, last.segment_id,
        "the newest segment has a synced prefix"
    );
    let file = fs::read(seg_path(dir, "p", last.segment_id)).unwrap();
    let records = file[..(last.offset + last.size) as usize].to_vec();
    assert!(
        file.len() > records.len() && file[records.len()..].iter().all(|&b| b == 0),
        "the newest segment has pre-written zeros"
    );
    NewestSegment {
        id: last.segment_id,
        file,
        records,
        synced: (durable_end.offset + durable_end.size) as usize,
    }
}

#[test]
fn every_crash_state_of_the_unsynced_tail_keeps_durable_records() {
    let base = common::tempdir();
    let clean = base.path().join("clean");
    let (wal, acks) = build(&clean, 0x5EED);
    let NewestSegment {
        id: newest_id,
        file,
        records: bytes,
        synced,
    } = newest_segment(&clean, &acks);
    drop(wal);
    assert!(bytes.len() > synced + 200, "an unsynced tail to tear");

    let mut rng = Rng::new(7);
    let mut states = 0;
    for cut in synced..=bytes.len() {
        let zeros = 1 + rng.below(300) as usize;
        let garbage = 1 + rng.below(300) as usize;
        let tails: Vec<(&str, Vec<u8>)> = vec![
            ("nothing", vec![]),
            ("zeros", vec![0; zeros]),
            ("garbage", rng.bytes(garbage)),
            ("preallocated zeros", vec![0; file.len() - cut]),
        ];
        for (kind, tail) in tails {
            // Not every cut needs all three endings; keep the run short.
            if kind != "nothing" && cut % 7 != 0 {
                continue;
            }
            let dir = base.path().join(format!("s{states}"));
            copy_dir(&clean, &dir);
            let mut content = bytes[..cut].to_vec();
            content.extend_from_slice(&tail);
            fs::write(seg_path(&dir, "p", newest_id), &content).unwrap();
            check_state(
                &dir,
                &acks,
                &format!("cut at {cut} + {kind} ({} bytes)", tail.len()),
            );
            fs::remove_dir_all(&dir).unwrap();
            states += 1;
        }
    }
    eprintln!("{states} crash states checked");
    print_reports_asserted();
    assert!(states > 500, "{states} states");
}

#[test]
fn a_new_segment_without_durable_records_may_vanish_or_be_torn() {
    let base = common::tempdir();
    let clean = base.path().join("clean");
    let wal = Wal::open(&clean, "p", opts()).unwrap();
    let mut acks = Vec::new();
    for i in 0..5u8 {
        let r = wal.append(None, &[i; 50], T0, i == 4).unwrap();
        acks.push(Ack {
            records: vec![(r, None, vec![i; 50])],
            durable: i == 4,
        });
    }
    // Rolls to a new segment; nothing in it is durable.
    let r = wal
        .append(Some(b"h"), b"new window", T0 + WINDOW, false)
        .unwrap();
    acks.push(Ack {
        records: vec![(r, Some(b"h".to_vec()), b"new window".to_vec())],
        durable: false,
    });
    drop(wal);
    let newest = seg_path(&clean, "p", r.segment_id);
    let bytes = fs::read(&newest).unwrap();

    // Its directory entry was never synced: the file is gone.
    let dir = base.path().join("vanished");
    copy_dir(&clean, &dir);
    fs::remove_file(seg_path(&dir, "p", r.segment_id)).unwrap();
    check_state(&dir, &acks, "new segment vanished");

    // Torn inside its own header: removed on open, and the older records remain.
    for cut in 0..=48usize {
        let dir = base.path().join(format!("torn{cut}"));
        copy_dir(&clean, &dir);
        fs::write(seg_path(&dir, "p", r.segment_id), &bytes[..cut]).unwrap();
        check_state(&dir, &acks, &format!("header torn at {cut}"));
        let zeros = base.path().join(format!("zeros{cut}"));
        copy_dir(&clean, &zeros);
        fs::write(seg_path(&zeros, "p", r.segment_id), vec![0u8; cut]).unwrap();
        check_state(&zeros, &acks, &format!("header zeroed, {cut} bytes"));
    }
}

/// Page writeback out of order: after the last fdatasync, any subset of the
/// later sectors may have reached the disk before the crash; a sector that
/// did not reads back as it was when last synced (zeros past the synced end,
/// which is what a never-written block of a file reads as). The file size
/// may or may not have been updated. Open must succeed (the records after
/// the first hole were never durable, and none of them says otherwise), and
/// the check of `check_state` holds: every durable record survives.
#[test]
fn sectors_of_the_unsynced_tail_lost_in_any_order_keep_durable_records() {
    const SECTOR: usize = 512;
    let base = common::tempdir();
    let clean = base.path().join("clean");
    let (wal, acks) = build_grown(&clean, 0xD15C);
    // Only the records matter: past them the file holds pre-written zeros
    // (synced, so they stay zeros whatever is lost).
    let NewestSegment {
        id: newest_id,
        file,
        records: bytes,
        synced,
    } = newest_segment(&clean, &acks);
    drop(wal);
    let sectors: Vec<usize> = (synced / SECTOR..bytes.len().div_ceil(SECTOR)).collect();
    assert!(sectors.len() >= 8, "{} unsynced sectors", sectors.len());

    let mut rng = Rng::new(11);
    let mut states = 0;
    let mut cut_after_hole = 0;
    for round in 0..120 {
        // Each unsynced sector lost with probability 1/4 (at least one),
        // and in a third of the states the file size was not updated
        // past some point either.
        let mut content = bytes.clone();
        let mut lost = 0;
        for &s in &sectors {
            if rng.below(4) == 0 || (lost == 0 && s == *sectors.last().unwrap()) {
                let from = (s * SECTOR).max(synced);
                let to = ((s + 1) * SECTOR).min(content.len());
                content[from..to].fill(0);
                lost += 1;
            }
        }
        if round % 3 == 0 {
            let keep = synced + rng.below((bytes.len() - synced + 1) as u64) as usize;
            content.truncate(keep);
        } else {
            content.resize(file.len(), 0);
        }
        let dir = base.path().join(format!("w{round}"));
        copy_dir(&clean, &dir);
        fs::write(seg_path(&dir, "p", newest_id), &content).unwrap();
        check_state(&dir, &acks, &format!("round {round}: {lost} sectors lost"));
        // Count the states where valid records followed the first hole (the
        // case the watermark rule exists for).
        let first_zero = (synced..content.len()).find(|&i| content[i] == 0);
        if first_zero.is_some_and(|z| {
            content[z..]
                .windows(6)
                .any(|w| w == nano_wal::format::RECORD_MAGIC)
        }) {
            cut_after_hole += 1;
        }
        fs::remove_dir_all(&dir).unwrap();
        states += 1;
    }
    eprintln!("{states} writeback states, {cut_after_hole} with records after a hole");
    print_reports_asserted();
    assert!(
        cut_after_hole >= 40,
        "{cut_after_hole} states with records after a hole"
    );
}

/// `build`, plus enough non-durable appends after the last durable one that
/// the unsynced tail spans many sectors.
fn build_grown(dir: &Path, seed: u64) -> (Wal, Vec<Ack>) {
    let (wal, mut acks) = build(dir, seed);
    drop(wal);
    let wal = Wal::open(dir, "p", opts()).unwrap();
    let mut rng = Rng::new(seed ^ 1);
    // Reopening synced everything; one durable append marks the new
    // durable end, then the unsynced tail.
    for i in 0..40 {
        let len = 20 + rng.below(300) as usize;
        let c = rng.bytes(len);
        let r = wal.append(None, &c, T0 + 2 * WINDOW, i == 0).unwrap();
        acks.push(Ack {
            records: vec![(r, None, c)],
            durable: i == 0,
        });
    }
    (wal, acks)
}

/// Sealing a segment for rotation, in the order of its system calls: cut
/// the pre-written zeros, write the index footer after the last record,
/// fsync the segment, then create the successor (header written, fsync, and
/// the directory fsync that makes its entry durable). A crash between any
/// two of them leaves one of these states: the segment ends in any prefix
/// of its footer and the successor never appeared, or the footer is whole
/// and the successor is missing or torn inside its header. In each, open
/// must treat the sealed segment as the newest one (its footer is not a
/// record: it is cut as the torn tail), keep every record with its index,
/// and go on: the next append gets the next index, and the next rotation
/// writes a footer that a later open trusts.
#[test]
fn a_crash_at_every_step_of_sealing_a_segment_with_its_footer_keeps_every_record() {
    const RECORDS: u64 = 7;
    let tmp = common::tempdir();
    let src = tmp.path().join("src");
    let mut contents = Vec::new();
    {
        let wal = Wal::open(&src, "p", opts()).unwrap();
        for i in 0..RECORDS {
            let c = format!("record {i} of the sealed segment").into_bytes();
            // Durable: the segment is pre-written with zeros, so the seal
            // cuts them before it writes the footer.
            assert_eq!(wal.append(None, &c, T0, true).unwrap().index, i + 1);
            contents.push(c);
        }
        // The next window rotates: segment 1 is sealed with its footer.
        let r = wal
            .append(None, b"in segment 2", T0 + WINDOW, false)
            .unwrap();
        assert_eq!((r.segment_id, r.index), (2, RECORDS + 1));
    }
    let sealed = fs::read(seg_path(&src, "p", 1)).unwrap();
    let successor = fs::read(seg_path(&src, "p", 2)).unwrap();
    let footer_len = 8 * RECORDS as usize + 40;
    let data_end = sealed.len() - footer_len;
    let name = |id: u64| seg_path(&src, "p", id).file_name().unwrap().to_owned();

    let mut states: Vec<(String, usize, Option<usize>)> = Vec::new();
    for cut in data_end..=sealed.len() {
        states.push((format!("footer cut at {cut}, no successor"), cut, None));
    }
    for torn in [0, 1, 20, 63] {
        states.push((
            format!("whole footer, successor torn at {torn} bytes"),
            sealed.len(),
            Some(torn),
        ));
    }
    for (what, cut, torn) in states {
        let dir = tmp.path().join("state");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name(1)), &sealed[..cut]).unwrap();
        if let Some(torn) = torn {
            fs::write(dir.join(name(2)), &successor[..torn]).unwrap();
        }
        {
            let wal = Wal::open(&dir, "p", opts()).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_recovery_report(&wal, &what);
            let state = wal.log_state();
            assert_eq!(
                (state.first_index, state.last_index),
                (1, RECORDS),
                "{what}"
            );
            for (i, c) in contents.iter().enumerate() {
                let got = wal.read_index(i as u64 + 1).unwrap();
                assert_eq!(&got.content[..], &c[..], "{what}: record {}", i + 1);
            }
            assert_eq!(
                wal.segments().len(),
                1,
                "{what}: the torn successor is removed"
            );
            assert_eq!(
                wal.segment(1).unwrap().len(),
                data_end as u64,
                "{what}: the footer bytes are cut as the torn tail"
            );
            let r = wal.append(None, b"after", T0, false).unwrap();
            assert_eq!((r.segment_id, r.index), (1, RECORDS + 1), "{what}");
            let r = wal.append(None, b"later", T0 + WINDOW, false).unwrap();
            assert_eq!(r.index, RECORDS + 2, "{what}");
        }
        // Segment 1, sealed again, has a footer the next open uses.
        let wal = Wal::open(&dir, "p", opts()).unwrap();
        assert_eq!(wal.log_state().last_index, RECORDS + 2, "{what}");
        assert_eq!(&wal.read_index(RECORDS + 1).unwrap().content[..], b"after");
        assert_eq!(
            &wal.read_index(RECORDS).unwrap().content[..],
            &contents[6][..]
        );
        let replayed: Vec<u64> = wal
            .replay(None)
            .unwrap()
            .map(|r| r.unwrap().0.index)
            .collect();
        assert_eq!(replayed, (1..=RECORDS + 2).collect::<Vec<_>>(), "{what}");
    }
    print_reports_asserted();
}

/// The segment files of a log directory by name.
type Files = std::collections::BTreeMap<String, Vec<u8>>;

fn read_files(dir: &Path) -> Files {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .filter(|(name, _)| name.ends_with(".seg"))
        .collect()
}

fn write_files(dir: &Path, files: &Files) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The log as it must be after reopen: its first index and records.
#[derive(Debug, Clone, PartialEq)]
struct LogModel {
    first: u64,
    records: Vec<Vec<u8>>,
}

/// Open `dir`, check it holds exactly `want` (bounds, reads by index,
/// replay), that the files left are the live segments', and that the log
/// goes on at the next index, also after another reopen.
fn check_model(dir: &Path, want: &LogModel, what: &str) {
    let check = |wal: &Wal, want: &LogModel, what: &str| {
        let state = wal.log_state();
        let last = want.first + want.records.len() as u64 - 1;
        assert_eq!(
            (state.first_index, state.last_index),
            (want.first, last),
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
        let expected: Vec<(u64, Vec<u8>)> =
            (want.first..).zip(want.records.iter().cloned()).collect();
        assert_eq!(replayed, expected, "{what}: replay");
        for (index, content) in &expected {
            assert_eq!(
                &wal.read_index(*index).unwrap().content[..],
                &content[..],
                "{what}: index {index}"
            );
        }
        let live: Vec<String> = wal
            .segments()
            .iter()
            .map(|s| s.path().file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let files: Vec<String> = read_files(dir).into_keys().collect();
        assert_eq!(
            files, live,
            "{what}: the dropped segments' files are deleted"
        );
    };
    let wal = Wal::open(dir, "p", opts()).unwrap_or_else(|e| panic!("{what}: open: {e}"));
    assert_recovery_report(&wal, what);
    check(&wal, want, what);
    let mut more = want.clone();
    for (k, now) in [T0 + 5 * WINDOW, T0 + 6 * WINDOW].into_iter().enumerate() {
        let c = format!("appended after the crash {k}").into_bytes();
        let r = wal.append(None, &c, now, false).unwrap();
        assert_eq!(r.index, more.first + more.records.len() as u64, "{what}");
        more.records.push(c);
    }
    drop(wal);
    let wal = Wal::open(dir, "p", opts()).unwrap();
    check(&wal, &more, &format!("{what}, appended and reopened"));
}

/// A truncation or reset, in the order of its system calls
/// (`Inner::restart`): seal the active segment (its index footer written
/// after the last record, fsync), create the new segment (header written,
/// fsync), fsync the directory, unlink the segments left without records,
/// fsync the directory. The crash states between them: the footer torn at
/// every byte, no new segment; the new segment missing or torn inside its
/// header (the log before); the new segment whole with any subset of the
/// dropped files still there (the log after). `op` runs on a log of three
/// windows of records, all synced; returns the model after it, and the
/// number of states checked.
fn every_crash_state_of(what: &str, op: impl Fn(&Wal, &LogModel) -> LogModel) -> usize {
    let tmp = common::tempdir();
    let src = tmp.path().join("src");
    let wal = Wal::open(&src, "p", opts()).unwrap();
    let mut before = LogModel {
        first: 1,
        records: Vec::new(),
    };
    for window in 0..3i64 {
        for i in 0..4 {
            let c = format!("record {i} of window {window}").into_bytes();
            wal.append(None, &c, T0 + window * WINDOW, false).unwrap();
            before.records.push(c);
        }
    }
    wal.sync().unwrap();
    let old = read_files(&src);
    let active = wal.segments().last().unwrap().path().to_owned();
    let active = active.file_name().unwrap().to_string_lossy().into_owned();
    let after = op(&wal, &before);
    let new = read_files(&src);
    drop(wal);

    let created: Vec<&String> = new.keys().filter(|n| !old.contains_key(*n)).collect();
    let mut states = 0;
    let mut check = |files: &Files, want: &LogModel, state: String| {
        let dir = tmp.path().join("state");
        write_files(&dir, files);
        check_model(&dir, want, &format!("{what}: {state}"));
        states += 1;
    };
    if created.is_empty() {
        // A truncation record appended to the active segment: missing or
        // torn at any byte, the log before; whole, the log after.
        let grown = &new[&active];
        assert!(
            grown.starts_with(&old[&active]) && grown.len() == old[&active].len() + 32,
            "{what}: one truncation record appended"
        );
        let mut files = old.clone();
        for cut in old[&active].len()..grown.len() {
            files.insert(active.clone(), grown[..cut].to_vec());
            check(&files, &before, format!("truncation record cut at {cut}"));
        }
        files.insert(active.clone(), grown.clone());
        check(&files, &after, "truncation record whole".into());
        return states;
    }
    assert_eq!(created.len(), 1, "{what}: one new segment");
    let created = created[0].clone();
    let dropped: Vec<&String> = old.keys().filter(|n| !new.contains_key(*n)).collect();
    // The active segment as sealed: its old bytes and the footer the seal
    // appended (not seen when the operation dropped and deleted it).
    let sealed = new.get(&active).unwrap_or(&old[&active]).clone();
    assert!(
        sealed.starts_with(&old[&active]),
        "{what}: the seal only appends"
    );

    // The seal's footer, torn at every byte: no new segment yet.
    let mut files = old.clone();
    for cut in old[&active].len()..=sealed.len() {
        files.insert(active.clone(), sealed[..cut].to_vec());
        check(&files, &before, format!("footer cut at {cut}"));
    }
    // The new segment missing (above) or torn inside its header.
    for torn in [0, 1, 20, 63] {
        let mut f = files.clone();
        f.insert(created.clone(), new[&created][..torn].to_vec());
        check(&f, &before, format!("new segment torn at {torn} bytes"));
    }
    // From the directory fsync on: any subset of the dropped files left.
    files.insert(created.clone(), new[&created].clone());
    for mask in 0..1u32 << dropped.len() {
        let mut f = files.clone();
        for (k, name) in dropped.iter().enumerate() {
            if mask & (1 << k) != 0 {
                f.remove(*name);
            }
        }
        check(
            &f,
            &after,
            format!("committed, dropped files removed {mask:#b}"),
        );
    }
    states
}

#[test]
fn a_crash_at_every_step_of_a_truncation_or_reset_leaves_the_log_before_or_after() {
    let truncate = |i: u64| {
        move |wal: &Wal, before: &LogModel| {
            wal.truncate_after(i).unwrap();
            LogModel {
                first: before.first,
                records: before.records[..(i + 1 - before.first) as usize].to_vec(),
            }
        }
    };
    let reset = |n: u64| {
        move |wal: &Wal, _: &LogModel| {
            wal.reset(n).unwrap();
            LogModel {
                first: n,
                records: Vec::new(),
            }
        }
    };
    let mut states = 0;
    states += every_crash_state_of("truncate_after(10), in the active segment", truncate(10));
    states += every_crash_state_of("truncate_after(2), in the first segment", truncate(2));
    states += every_crash_state_of("truncate_after(0), the log emptied", truncate(0));
    states += every_crash_state_of("reset(1000)", reset(1000));
    states += every_crash_state_of("reset(6), inside the old indexes", reset(6));
    eprintln!("{states} crash states of truncations and resets");
    print_reports_asserted();
    assert!(states >= 81, "{states} states");
}

/// One metadata put, as the files can be left by a crash at any point of
/// its system calls: `old` is the metadata file before it (None: no file
/// yet), `new` after it, and the put wrote the slot at `slot_offset`.
struct MetaPut {
    what: &'static str,
    old: Option<Vec<u8>>,
    new: Vec<u8>,
    slot_offset: usize,
    old_value: Option<Vec<u8>>,
    new_value: Vec<u8>,
}

/// The file states of `put`: before its create (no file), after the
/// create before the write (empty), the new slot torn at every cut (the
/// rest of the file as before: the slot is overwritten in place), torn
/// and followed by garbage, any subset of its 512-byte sectors lost (a
/// lost sector reads as it was before), and the whole write (before and
/// after its fdatasync: the same bytes). Returns (name, file, must be
/// new): only the last state follows an acknowledged put.
fn meta_put_states(put: &MetaPut, rng: &mut Rng) -> Vec<(String, Option<Vec<u8>>, bool)> {
    let old = put.old.clone().unwrap_or_default();
    // The new slot's bytes: its header, payload (length at byte 40) and CRC.
    let at = put.slot_offset;
    let payload = u32::from_le_bytes(put.new[at + 40..at + 44].try_into().unwrap()) as usize;
    let new_slot = &put.new[at..at + 44 + payload + 4];
    let overlay = |base: &[u8], at: usize, bytes: &[u8]| {
        let mut f = base.to_vec();
        if f.len() < at + bytes.len() {
            f.resize(at + bytes.len(), 0);
        }
        f[at..at + bytes.len()].copy_from_slice(bytes);
        f
    };
    let mut states = Vec::new();
    if put.old.is_none() {
        states.push(("before the create".to_string(), None, false));
    }
    for cut in 0..new_slot.len() {
        if cut > 48 && cut < new_slot.len() - 8 && cut % 61 != 0 {
            continue; // every cut of the header and the CRC, some between
        }
        let torn = overlay(&old, put.slot_offset, &new_slot[..cut]);
        states.push((format!("slot torn at {cut}"), Some(torn.clone()), false));
        if cut % 244 == 0 {
            let garbage = rng.bytes((new_slot.len() - cut).min(300));
            let f = overlay(&torn, put.slot_offset + cut, &garbage);
            states.push((format!("slot torn at {cut} + garbage"), Some(f), false));
        }
    }
    const SECTOR: usize = 512;
    let sectors = new_slot.len().div_ceil(SECTOR);
    for round in 0..24 {
        let mut f = overlay(&old, put.slot_offset, new_slot);
        let mut lost = 0;
        for s in 0..sectors {
            if rng.below(3) == 0 || (lost == 0 && s == sectors - 1) {
                let from = put.slot_offset + s * SECTOR;
                let to = (from + SECTOR).min(put.slot_offset + new_slot.len());
                let was = |i: usize| old.get(i).copied().unwrap_or(0);
                for (i, b) in f[from..to].iter_mut().enumerate() {
                    *b = was(from + i);
                }
                lost += 1;
            }
        }
        states.push((
            format!("round {round}: {lost} sectors lost"),
            Some(f),
            false,
        ));
    }
    states.push(("the whole slot".to_string(), Some(put.new.clone()), true));
    states
}

/// A metadata put at every boundary of its system calls (docs/RELIABILITY.md,
/// "Metadata"): the creation of the file and its first slot, then puts
/// into slot 1, slot 0 and slot 1 again (values growing and shrinking, so
/// a shorter slot leaves the end of an older one behind it). In every
/// state open succeeds, the key holds the old or the new value and never
/// anything else, the other key is untouched, the value of an
/// acknowledged put is there, and puts go on.
#[test]
fn a_crash_at_every_step_of_a_metadata_put_leaves_the_old_or_the_new_value() {
    use nano_wal::format::meta::SLOT_SIZE;
    let tmp = common::tempdir();
    let clean = tmp.path().join("clean");
    let meta = clean.join("p.meta");
    let mut rng = Rng::new(0x3E7A);
    let values: Vec<Vec<u8>> = [1000usize, 2500, 3000, 100]
        .iter()
        .map(|&n| rng.bytes(n))
        .collect();
    let mut puts = Vec::new();
    {
        // No segment: its recovery at every open would fdatasync it, and
        // the states are many.
        let wal = Wal::open(&clean, "p", opts()).unwrap();
        let mut old: Option<Vec<u8>> = None;
        let mut old_value = None;
        for (i, v) in values.iter().enumerate() {
            wal.meta_put("k", v).unwrap();
            if i == 0 {
                wal.meta_put("other", b"untouched").unwrap();
            }
            let new = fs::read(&meta).unwrap();
            // Put i went to slot i % 2 (the "other" put after the first
            // flips it: the first put is checked alone, creating the file).
            puts.push((old.clone(), new.clone(), old_value.clone(), v.clone()));
            old = Some(new);
            old_value = Some(v.clone());
        }
    }
    // Rebuild each transition as a single put: the creation (no "other"
    // key yet) and three puts over a file that has it.
    let first = {
        let dir = tmp.path().join("first");
        let wal = Wal::open(&dir, "p", opts()).unwrap();
        wal.meta_put("k", &values[0]).unwrap();
        fs::read(dir.join("p.meta")).unwrap()
    };
    let mut transitions = vec![MetaPut {
        what: "creation",
        old: None,
        new: first,
        slot_offset: 0,
        old_value: None,
        new_value: values[0].clone(),
    }];
    for (i, (old, new, old_value, new_value)) in puts.into_iter().enumerate().skip(1) {
        // After the first put and "other" (slots 0, 1): put 1 -> slot 0,
        // put 2 -> slot 1, put 3 -> slot 0.
        let slot_offset = if i % 2 == 1 { 0 } else { SLOT_SIZE };
        transitions.push(MetaPut {
            what: [
                "",
                "put into slot 0",
                "put into slot 1",
                "shorter put into slot 0",
            ][i],
            old,
            new,
            slot_offset,
            old_value,
            new_value,
        });
    }
    let mut count = 0;
    for put in &transitions {
        for (state, file, acknowledged) in meta_put_states(put, &mut rng) {
            let what = format!("{}: {state}", put.what);
            let dir = tmp.path().join("state");
            let _ = fs::remove_dir_all(&dir);
            copy_dir(&clean, &dir);
            match &file {
                Some(f) => fs::write(dir.join("p.meta"), f).unwrap(),
                None => fs::remove_file(dir.join("p.meta")).unwrap(),
            }
            let wal = Wal::open(&dir, "p", opts()).unwrap_or_else(|e| panic!("{what}: {e}"));
            let got = wal.meta_get("k").unwrap();
            if acknowledged {
                assert_eq!(
                    got.as_ref(),
                    Some(&put.new_value),
                    "{what}: acknowledged put lost"
                );
            } else {
                assert!(
                    got == put.old_value || got.as_ref() == Some(&put.new_value),
                    "{what}: neither the old nor the new value ({:?} bytes)",
                    got.map(|g| g.len())
                );
            }
            let other = wal.meta_get("other").unwrap();
            if put.old.is_some() {
                assert_eq!(other.as_deref(), Some(&b"untouched"[..]), "{what}");
            }
            assert!(wal.segments().is_empty(), "{what}: no segment made");
            // Puts go on, and the next open sees them (in some states:
            // each put is two fsyncs).
            if count % 8 == 0 || acknowledged {
                wal.meta_put("k", b"after").unwrap();
                drop(wal);
                let wal = Wal::open(&dir, "p", opts()).unwrap();
                assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"after", "{what}");
            }
            count += 1;
        }
    }
    eprintln!("{count} metadata crash states checked");
    assert!(count > 300, "{count} states");
}

/// Every file of a log directory by name (segments and metadata).
fn read_all_files(dir: &Path) -> Files {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .filter(|(name, _)| name.ends_with(".seg") || name.ends_with(".meta"))
        .collect()
}

/// A purge, in the order of its system calls (`Inner::purge`): the purge
/// point written to a metadata slot and fdatasync'ed (the first time: the
/// file created and fsync'ed, and the directory fsync'ed), then the whole
/// segments below it unlinked and the directory fsync'ed. Crash states: the
/// metadata write missing or torn at several lengths (the log before: the
/// other slot, or no metadata), and once it is whole, any subset of the
/// segments below still there (the log after). Two purges in a row, so the
/// second writes the other slot over a file that holds the first.
#[test]
fn a_crash_at_every_step_of_a_purge_never_lowers_the_first_index() {
    let tmp = common::tempdir();
    let src = tmp.path().join("src");
    let wal = Wal::open(&src, "p", opts()).unwrap();
    let mut log = LogModel {
        first: 1,
        records: Vec::new(),
    };
    for window in 0..4i64 {
        for i in 0..3 {
            let c = format!("record {i} of window {window}").into_bytes();
            wal.append(None, &c, T0 + window * WINDOW, false).unwrap();
            log.records.push(c);
        }
    }
    let mut states = 0;
    for index in [5, 11] {
        let before = log.clone();
        let old = read_all_files(&src);
        wal.purge_before(index).unwrap();
        log.records.drain(..(index - log.first) as usize);
        log.first = index;
        let new = read_all_files(&src);
        let meta = new.keys().find(|n| n.ends_with(".meta")).unwrap().clone();
        let deleted: Vec<&String> = old.keys().filter(|n| !new.contains_key(*n)).collect();
        assert!(
            !deleted.is_empty(),
            "purge_before({index}) deletes a segment"
        );
        let old_meta = old.get(&meta).cloned().unwrap_or_default();
        let new_meta = &new[&meta];
        let mut check = |files: &Files, want: &LogModel, state: String| {
            let dir = tmp.path().join("state");
            write_files(&dir, files);
            check_model(&dir, want, &format!("purge_before({index}): {state}"));
            states += 1;
        };
        // The slot written: where it differs from the file before, cut
        // anywhere in it (a torn write), or missing.
        let start = new_meta
            .iter()
            .zip(old_meta.iter().chain(std::iter::repeat(&0)))
            .position(|(a, b)| a != b)
            .unwrap();
        let end = new_meta.len();
        let mut files = old.clone();
        for cut in [start, start + 1, start + 8, (start + end) / 2, end - 1] {
            let mut torn = old_meta.clone();
            torn.resize(torn.len().max(cut), 0);
            torn[start..cut].copy_from_slice(&new_meta[start..cut]);
            files.insert(meta.clone(), torn);
            check(&files, &before, format!("metadata torn at {cut}"));
        }
        if old_meta.is_empty() {
            files.remove(&meta);
            check(&files, &before, "metadata file missing".into());
        }
        files.insert(meta.clone(), new_meta.clone());
        for mask in 0..1u32 << deleted.len() {
            let mut f = files.clone();
            for (k, name) in deleted.iter().enumerate() {
                if mask & (1 << k) != 0 {
                    f.remove(*name);
                }
            }
            check(&f, &log, format!("committed, deleted segments {mask:#b}"));
        }
    }
    drop(wal);
    eprintln!("{states} crash states of purges");
    print_reports_asserted();
    assert!(states >= 14, "{states} states");
}

/// Deferred purges, in the order of their system calls
/// (`Wal::purge_before_deferred`, `MetaStore::write`): the purge point
/// written into the slot not holding the last synced map, and nothing
/// synced; a second one writes the same slot again; `sync` fdatasyncs it;
/// the next one writes the other slot; one that frees a whole segment syncs
/// its slot, then unlinks them and fsyncs the directory, as a durable purge
/// does. Crash states: each write missing, torn between its first and last
/// changed byte, or whole. A torn slot leaves the last synced purge point,
/// never a lower one and never an unreadable metadata file.
#[test]
fn a_crash_at_every_step_of_deferred_purges_leaves_at_least_the_last_synced_point() {
    let tmp = common::tempdir();
    let src = tmp.path().join("src");
    let wal = Wal::open(&src, "p", opts()).unwrap();
    let mut records = Vec::new();
    for window in 0..3i64 {
        for i in 0..6 {
            let c = format!("record {i} of window {window}").into_bytes();
            wal.append(None, &c, T0 + window * WINDOW, false).unwrap();
            records.push(c);
        }
    }
    let model = |first: u64| LogModel {
        first,
        records: records[(first - 1) as usize..].to_vec(),
    };
    wal.purge_before(2).unwrap();
    let meta_bytes = |files: &Files| {
        let (_, b) = files.iter().find(|(n, _)| n.ends_with(".meta")).unwrap();
        b.clone()
    };
    // The metadata file as the last sync left it on disk.
    let mut synced_meta = meta_bytes(&read_all_files(&src));
    let mut states = 0;
    // (the purge, the first index a torn write of its slot leaves)
    let steps: [(u64, u64); 4] = [(3, 2), (4, 2), (5, 4), (9, 4)];
    for (k, (index, torn_leaves)) in steps.into_iter().enumerate() {
        if k == 2 {
            // The pending slot becomes the synced one.
            wal.sync().unwrap();
            synced_meta = meta_bytes(&read_all_files(&src));
        }
        let before_first = wal.first_index();
        let old = read_all_files(&src);
        wal.purge_before_deferred(index).unwrap();
        assert_eq!(wal.first_index(), index);
        let new = read_all_files(&src);
        let meta = new.keys().find(|n| n.ends_with(".meta")).unwrap().clone();
        let (old_meta, new_meta) = (old[&meta].clone(), new[&meta].clone());
        let deleted: Vec<&String> = old.keys().filter(|n| !new.contains_key(*n)).collect();
        assert_eq!(
            deleted.is_empty(),
            index < 7,
            "purge {index}: only a purge past a whole segment deletes one"
        );
        let mut check = |files: &Files, first: u64, state: String| {
            let dir = tmp.path().join("state");
            write_files(&dir, files);
            check_model(&dir, &model(first), &format!("purge {index}: {state}"));
            states += 1;
        };
        let mut files = old.clone();
        check(&files, before_first, "the slot not written".into());
        // The write torn over the file as it is in the page cache, and over
        // the file as the last sync left it (every deferred write since
        // lost): both leave the last synced point.
        for (base, lost) in [
            (&old_meta, ""),
            (&synced_meta, ", the unsynced writes lost"),
        ] {
            if !lost.is_empty() && *base == old_meta {
                continue;
            }
            let differs = |i: usize| base.get(i) != new_meta.get(i);
            let Some(start) = (0..new_meta.len()).find(|&i| differs(i)) else {
                continue;
            };
            let last = (0..new_meta.len()).rev().find(|&i| differs(i)).unwrap();
            for cut in [start + 1, start + 8, (start + last) / 2, last] {
                let mut torn = base.clone();
                torn.resize(torn.len().max(cut), 0);
                torn[start..cut].copy_from_slice(&new_meta[start..cut]);
                files.insert(meta.clone(), torn);
                check(&files, torn_leaves, format!("the slot torn at {cut}{lost}"));
            }
        }
        files.insert(meta.clone(), new_meta.clone());
        for mask in 0..1u32 << deleted.len() {
            let mut f = files.clone();
            for (j, name) in deleted.iter().enumerate() {
                if mask & (1 << j) != 0 {
                    f.remove(*name);
                }
            }
            check(&f, index, format!("written, deleted segments {mask:#b}"));
        }
        if !deleted.is_empty() {
            synced_meta = new_meta;
        }
    }
    drop(wal);
    eprintln!("{states} crash states of deferred purges");
    assert!(states >= 33, "{states} states");
}

/// A reset after a purge, crashed before the purge point was replaced: the
/// reset's segment says the point is out of force, open replaces it, and a
/// later truncation that drops the reset's segment does not bring it back.
#[test]
fn a_reset_that_a_crash_cut_off_from_its_metadata_still_supersedes_the_purge_point() {
    let tmp = common::tempdir();
    let src = tmp.path().join("src");
    let wal = Wal::open(&src, "p", opts()).unwrap();
    for i in 0..10u64 {
        wal.append(None, format!("old {i}").as_bytes(), T0, false)
            .unwrap();
    }
    wal.purge_before(8).unwrap();
    let meta_before_reset = read_all_files(&src)
        .into_iter()
        .find(|(n, _)| n.ends_with(".meta"))
        .unwrap();
    wal.reset(3).unwrap();
    drop(wal);
    // The crash: the metadata as it was before the reset replaced the point.
    fs::write(src.join(&meta_before_reset.0), &meta_before_reset.1).unwrap();
    let want = LogModel {
        first: 3,
        records: Vec::new(),
    };
    let dir = tmp.path().join("state");
    write_files(&dir, &read_all_files(&src));
    check_model(&dir, &want, "reset, metadata not updated");
    let wal = Wal::open(&dir, "p", opts()).unwrap();
    assert_eq!(wal.first_index(), 3);
    wal.truncate_after(2).unwrap();
    let r = wal.append(None, b"new", T0, false).unwrap();
    assert_eq!(r.index, 3);
    drop(wal);
    let wal = Wal::open(&dir, "p", opts()).unwrap();
    let state = wal.log_state();
    assert_eq!((state.first_index, state.last_index), (3, 3));
    assert_eq!(&wal.read_index(3).unwrap().content[..], b"new");
}

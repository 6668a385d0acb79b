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

/// Open the crashed state and check the guarantee.
fn check_state(dir: &Path, acks: &[Ack], what: &str) {
    let wal = Wal::open(dir, "p", opts()).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
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
    let base = tempfile::tempdir().unwrap();
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
    assert!(states > 500, "{states} states");
}

#[test]
fn a_new_segment_without_durable_records_may_vanish_or_be_torn() {
    let base = tempfile::tempdir().unwrap();
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
    let base = tempfile::tempdir().unwrap();
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
    let tmp = tempfile::tempdir().unwrap();
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
}

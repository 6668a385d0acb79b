// SPDX-License-Identifier: MIT
//! Concurrency stress: writers (one durable, one of batches, plain ones)
//! with time advancing (rotation by time and by size), late timestamps,
//! readers, replays, sync and cleanup all at once. Afterwards every
//! acknowledged ref reads back its exact bytes, and replay yields every
//! record exactly once, in log order, before and after reopen.

mod common;

use common::*;
use nano_wal::{EntryRef, Wal, WalOptions, MIN_SEGMENT_BYTES};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Barrier, Mutex};

const MAX_CONTENT: u64 = 200;
/// Writer id of the records written before the stress starts.
const OLD: u64 = 99;

fn stress_opts() -> WalOptions {
    WalOptions {
        max_segment_bytes: MIN_SEGMENT_BYTES,
        ..test_opts()
    }
}

/// Check a record found by a read or a replay against its own header.
fn verify(rec: &nano_wal::Record) -> (u64, u64) {
    let (w, i) = parse_header(rec.header.as_ref().expect("every record has a header"));
    assert_eq!(rec.content, content_for(w, i, MAX_CONTENT), "w{w}-{i}");
    (w, i)
}

/// Replay everything, checking strict log order and every record's bytes.
fn checked_replay(wal: &Wal) -> Vec<(EntryRef, (u64, u64))> {
    let mut out: Vec<(EntryRef, (u64, u64))> = Vec::new();
    for item in wal.replay(None).unwrap() {
        let (r, rec) = item.unwrap();
        if let Some((prev, _)) = out.last() {
            assert!(r > *prev, "replay order: {r:?} after {prev:?}");
            if r.segment_id == prev.segment_id {
                assert_eq!(r.offset, prev.offset + prev.size, "records are contiguous");
            }
        }
        out.push((r, verify(&rec)));
    }
    out
}

#[test]
fn writers_readers_replay_rotation_and_cleanup_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", stress_opts()).unwrap();

    // Old segments, expiring long before anything the stress writes; the
    // cleanup thread deletes them while the stress runs.
    let mut old_refs = Vec::new();
    for k in 0..5u64 {
        for i in 0..4 {
            let n = k * 4 + i;
            let now = T0 - 100 * DUR + k as i64 * DUR;
            let r = wal
                .append(
                    Some(&header_for(OLD, n)),
                    &content_for(OLD, n, MAX_CONTENT),
                    now,
                    false,
                )
                .unwrap();
            old_refs.push(r);
        }
    }
    let old_ids: HashSet<u64> = old_refs.iter().map(|r| r.segment_id).collect();
    assert_eq!(old_ids.len(), 5);

    let clock = AtomicI64::new(T0);
    let acked: Mutex<Vec<(EntryRef, u64, u64)>> = Mutex::new(Vec::new());
    let writers_done = AtomicBool::new(false);
    let start = Barrier::new(4 + 3);
    // (writer id, appends, durable, batch)
    let plan: [(u64, u64, bool, bool); 4] = [
        (0, 50, true, false),
        (1, 80, false, true),
        (2, 1500, false, false),
        (3, 1500, false, false),
    ];

    std::thread::scope(|s| {
        let writers: Vec<_> = plan
            .iter()
            .map(|&(w, n, durable, batch)| {
                let (wal, clock, acked, start) = (&wal, &clock, &acked, &start);
                s.spawn(move || {
                    let mut rng = Rng::new(1000 + w);
                    let mut mine: Vec<EntryRef> = Vec::new();
                    let mut seq = 0u64;
                    start.wait();
                    for _ in 0..n {
                        // Up to 1.5 windows late: some go to an earlier window.
                        let now = clock.fetch_add(3, Ordering::Relaxed) - rng.below(1500) as i64;
                        let count = if batch { rng.below(40) + 1 } else { 1 };
                        let items: Vec<(Option<Vec<u8>>, Vec<u8>)> = (seq..seq + count)
                            .map(|i| (Some(header_for(w, i)), content_for(w, i, MAX_CONTENT)))
                            .collect();
                        let refs = wal.append_batch(&entries(&items), now, durable).unwrap();
                        assert_eq!(refs.len() as u64, count);
                        // A batch is contiguous in one segment.
                        for p in refs.windows(2) {
                            assert_eq!(p[1].segment_id, p[0].segment_id);
                            assert_eq!(p[1].offset, p[0].offset + p[0].size);
                        }
                        let mut a = acked.lock().unwrap();
                        for (k, r) in refs.iter().enumerate() {
                            // One writer's appends are in log order.
                            if let Some(prev) = mine.last() {
                                assert!(r > prev, "w{w}: {r:?} after {prev:?}");
                            }
                            mine.push(*r);
                            a.push((*r, w, seq + k as u64));
                        }
                        seq += count;
                    }
                })
            })
            .collect();

        // Readers: random read_batch calls over what has been acknowledged.
        for t in 0..2u64 {
            let (wal, acked, done, start) = (&wal, &acked, &writers_done, &start);
            s.spawn(move || {
                let mut rng = Rng::new(2000 + t);
                start.wait();
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) || reads < 50 {
                    let picks: Vec<(EntryRef, u64, u64)> = {
                        let a = acked.lock().unwrap();
                        if a.is_empty() {
                            continue;
                        }
                        let n = rng.below(20) + 1;
                        (0..n)
                            .map(|_| a[rng.below(a.len() as u64) as usize])
                            .collect()
                    };
                    let refs: Vec<EntryRef> = picks.iter().map(|p| p.0).collect();
                    let recs = wal.read_batch(&refs).unwrap();
                    for (rec, (_, w, i)) in recs.iter().zip(&picks) {
                        assert_eq!(verify(rec), (*w, *i));
                    }
                    reads += 1;
                }
            });
        }

        // Cleanup (deleting the old segments while writers rotate), sync,
        // and replays that must always be in order and self-consistent.
        {
            let (wal, done, start, old_ids) = (&wal, &writers_done, &start, &old_ids);
            s.spawn(move || {
                start.wait();
                let mut now = T0 - 100 * DUR;
                let mut deleted = HashSet::new();
                let mut rounds = 0;
                while !done.load(Ordering::Acquire) || now < T0 - 1 || rounds < 3 {
                    // Never past T0 - 1: every stress segment expires later.
                    now = (now + 5 * DUR).min(T0 - 1);
                    let res = wal.cleanup(now).unwrap();
                    assert!(res.live_count >= 1);
                    for d in &res.deleted {
                        assert!(old_ids.contains(&d.segment_id), "deleted {d:?}");
                        assert!(d.expiration_ms <= now);
                        assert!(deleted.insert(d.segment_id));
                    }
                    assert_eq!(
                        res.bytes_reclaimed,
                        res.deleted.iter().map(|d| d.file_size).sum::<u64>()
                    );
                    wal.sync().unwrap();
                    checked_replay(wal);
                    rounds += 1;
                }
                assert_eq!(deleted.len(), old_ids.len(), "all old segments deleted");
            });
        }

        for h in writers {
            h.join().unwrap();
        }
        writers_done.store(true, Ordering::Release);
    });

    let acked = acked.into_inner().unwrap();
    let expected_records: u64 = 50 + 1500 + 1500;
    assert!(acked.len() as u64 > expected_records);
    // Time advanced over many windows and the size cap was hit: many segments.
    assert!(wal.segments().len() > 10, "{}", wal.segments().len());

    // Every acknowledged ref reads back its exact bytes (in a shuffled order).
    let mut shuffled = acked.clone();
    Rng::new(3).shuffle(&mut shuffled);
    let refs: Vec<EntryRef> = shuffled.iter().map(|a| a.0).collect();
    for (chunk, recs) in shuffled
        .chunks(500)
        .zip(refs.chunks(500).map(|c| wal.read_batch(c).unwrap()))
    {
        for ((_, w, i), rec) in chunk.iter().zip(&recs) {
            assert_eq!(verify(rec), (*w, *i));
        }
    }
    // The old segments are gone for good.
    for r in &old_refs {
        assert!(matches!(
            wal.read(*r),
            Err(nano_wal::WalError::SegmentNotFound(_))
        ));
    }

    // Replay yields every acknowledged record exactly once, in log order.
    let mut by_ref = acked.clone();
    by_ref.sort_by_key(|a| a.0);
    let check_all = |wal: &Wal| {
        let got = checked_replay(wal);
        assert_eq!(got.len(), by_ref.len());
        for ((r, wi), (ar, w, i)) in got.iter().zip(&by_ref) {
            assert_eq!((r, *wi), (ar, (*w, *i)));
        }
    };
    check_all(&wal);

    // Exactly the registered segments are on disk: one file per segment.
    let ids: Vec<u64> = wal.segments().iter().map(|s| s.id()).collect();
    let files: Vec<u64> = seg_files(dir, "s").iter().map(|f| f.0).collect();
    assert_eq!(ids, files);

    drop(wal);
    let wal = Wal::open(dir, "s", stress_opts()).unwrap();
    check_all(&wal);
    for seg in wal.segments() {
        if seg.id() != *ids.last().unwrap() {
            assert!(seg.len() <= MIN_SEGMENT_BYTES, "size cap kept");
        }
    }
}

/// Many threads appending durably at once (group commit) across windows:
/// all acknowledged, all readable, each once after reopen.
#[test]
fn concurrent_durable_appends_across_rotations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    let barrier = Barrier::new(8);
    let acked: Vec<(EntryRef, u64, u64)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8u64)
            .map(|w| {
                let (wal, barrier) = (&wal, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    (0..12u64)
                        .map(|i| {
                            let now = T0 + (i as i64 / 4) * DUR + w as i64;
                            let r = wal
                                .append(
                                    Some(&header_for(w, i)),
                                    &content_for(w, i, MAX_CONTENT),
                                    now,
                                    true,
                                )
                                .unwrap();
                            (r, w, i)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    drop(wal);
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    let got = checked_replay(&wal);
    let mut want = acked.clone();
    want.sort_by_key(|a| a.0);
    assert_eq!(got.len(), want.len());
    for ((r, wi), (ar, w, i)) in got.iter().zip(&want) {
        assert_eq!((r, *wi), (ar, (*w, *i)));
    }
}

/// Rotation under contention with scattered (late) times and tiny windows:
/// segment windows strictly increase with ids (rotation only moves
/// forward), no record sits in a segment whose window is earlier than its
/// own, one file per segment, and nothing is lost after reopen.
#[test]
fn rotation_races_with_late_times_only_move_forward() {
    const W: u64 = 8;
    const N: u64 = 300;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = opts(10, 10);
    let wal = Wal::open(dir, "s", o.clone()).unwrap();
    let clock = AtomicI64::new(T0);
    let barrier = Barrier::new(W as usize);
    let acked: Vec<(EntryRef, i64)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..W)
            .map(|w| {
                let (wal, clock, barrier) = (&wal, &clock, &barrier);
                s.spawn(move || {
                    let mut rng = Rng::new(77 + w);
                    barrier.wait();
                    let mut mine: Vec<(EntryRef, i64)> = Vec::new();
                    for i in 0..N {
                        let t = clock.fetch_add(1, Ordering::Relaxed) - rng.below(25) as i64;
                        let r = wal
                            .append(Some(&t.to_le_bytes()), &content_for(w, i, 64), t, false)
                            .unwrap();
                        if let Some((prev, _)) = mine.last() {
                            assert!(r > *prev);
                        }
                        mine.push((r, t));
                    }
                    mine
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let check = |wal: &Wal| {
        let segs = wal.segments();
        for p in segs.windows(2) {
            assert!(
                p[1].window_start_ms() > p[0].window_start_ms(),
                "segment {} (window {}) after segment {} (window {})",
                p[1].id(),
                p[1].window_start_ms(),
                p[0].id(),
                p[0].window_start_ms()
            );
        }
        let files: Vec<u64> = seg_files(dir, "s").iter().map(|f| f.0).collect();
        assert_eq!(files, segs.iter().map(|s| s.id()).collect::<Vec<_>>());
        let got = replay_all(wal);
        assert_eq!(got.len() as u64, W * N);
        for (r, rec) in &got {
            let t = i64::from_le_bytes(rec.header.as_deref().unwrap().try_into().unwrap());
            let window = t.div_euclid(10) * 10;
            let seg_window = wal.segment(r.segment_id).unwrap().window_start_ms();
            assert!(
                window <= seg_window,
                "record at {t} in segment of window {seg_window}"
            );
        }
        let mut want: Vec<EntryRef> = acked.iter().map(|a| a.0).collect();
        want.sort();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), want);
    };
    check(&wal);
    assert!(wal.segments().len() > 50, "{}", wal.segments().len());
    drop(wal);
    check(&Wal::open(dir, "s", o).unwrap());
}

/// Two streams whose names are prefixes of each other (`a`, `a_1`) share a
/// directory; each writes across many windows and cleans up its own old
/// segments while the other runs. Every acknowledged ref reads back unless
/// its own stream's cleanup reported deleting that segment, and each
/// stream's files are exactly its registered segments.
#[test]
fn prefix_named_streams_rotate_and_clean_up_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = opts(10, 20);
    let names = ["a", "a_1"];
    let wals: Vec<Wal> = names
        .iter()
        .map(|n| Wal::open(dir, n, o.clone()).unwrap())
        .collect();
    let barrier = Barrier::new(4);
    type Acked = Vec<(EntryRef, u64, u64)>;
    let results: Vec<(Acked, HashSet<u64>)> = std::thread::scope(|s| {
        let hs: Vec<_> = wals
            .iter()
            .enumerate()
            .map(|(k, wal)| {
                let barrier = &barrier;
                let done = AtomicBool::new(false);
                let writer_now = AtomicI64::new(T0);
                s.spawn(move || {
                    let w = k as u64;
                    std::thread::scope(|s2| {
                        let cleaner = s2.spawn(|| {
                            let mut deleted = HashSet::new();
                            barrier.wait();
                            loop {
                                // One last pass after the writer is done, so
                                // the test never depends on scheduling.
                                let last = done.load(Ordering::Acquire);
                                // Lags the writer by 10 windows.
                                let now = writer_now.load(Ordering::Acquire) - 100;
                                for d in wal.cleanup(now).unwrap().deleted {
                                    assert!(d.expiration_ms <= now);
                                    assert!(deleted.insert(d.segment_id));
                                }
                                if last {
                                    break;
                                }
                            }
                            deleted
                        });
                        barrier.wait();
                        let mut acked = Vec::new();
                        for i in 0..600u64 {
                            let now = T0 + i as i64;
                            writer_now.store(now, Ordering::Release);
                            let r = wal
                                .append(
                                    Some(&header_for(w, i)),
                                    &content_for(w, i, MAX_CONTENT),
                                    now,
                                    false,
                                )
                                .unwrap();
                            acked.push((r, w, i));
                        }
                        done.store(true, Ordering::Release);
                        (acked, cleaner.join().unwrap())
                    })
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (k, (wal, (acked, deleted))) in wals.iter().zip(&results).enumerate() {
        for (r, w, i) in acked {
            match wal.read(*r) {
                Ok(rec) => assert_eq!(verify(&rec), (*w, *i)),
                Err(nano_wal::WalError::SegmentNotFound(id)) => {
                    assert!(deleted.contains(&id), "{}: segment {id} vanished", names[k])
                }
                Err(e) => panic!("{e}"),
            }
        }
        let files: Vec<u64> = seg_files(dir, names[k]).iter().map(|f| f.0).collect();
        let ids: Vec<u64> = wal.segments().iter().map(|s| s.id()).collect();
        assert_eq!(files, ids, "{}", names[k]);
        assert!(ids.len() > 5);
        assert!(deleted.len() > 5, "{}: cleanup ran alongside", names[k]);
    }
}

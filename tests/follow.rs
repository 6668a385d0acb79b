// SPDX-License-Identifier: MIT
//! Followers and waiting for durability: a follower yields every record
//! once, in order, waits at the end (woken by appends, syncs and shutdown),
//! reports truncations and purges instead of yielding records that are
//! gone; a durable follower never yields a record a power loss can take
//! back; `wait_durable` shares the group commit and honours its timeout.
//!
//! Threads are synchronised by what they wait for (a follower blocked in
//! `next(None)` is woken by the append it waits for, whether it was asleep
//! yet or not), never by sleeps.

mod common;

use common::opts;
use nano_wal::{FollowMode, Followed, Follower, Wal, WalError};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const T0: i64 = 1_700_000_000_000;
const W: i64 = 1_000;

fn open(dir: &std::path::Path) -> Wal {
    Wal::open(dir, "f", opts(W as u64, 3_600_000)).unwrap()
}

fn content(i: u64) -> Vec<u8> {
    format!("record {i}").into_bytes()
}

/// The next record's index and content, failing on anything else.
fn record(f: &mut Follower, timeout: Option<Duration>) -> (u64, Vec<u8>) {
    match f.next(timeout).unwrap() {
        Followed::Record(r, rec) => (r.index, rec.content.to_vec()),
        other => panic!("expected a record, got {other:?}"),
    }
}

fn now() -> Option<Duration> {
    Some(Duration::ZERO)
}

#[test]
fn wait_durable_returns_at_once_for_durable_records_and_syncs_for_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    for i in 1..=3 {
        wal.append(None, &content(i), T0, false).unwrap();
    }
    assert_eq!(wal.durable_index(), 0);
    // A zero timeout only checks.
    assert!(!wal.wait_durable(2, now()).unwrap());
    assert_eq!(wal.durable_index(), 0);
    assert!(wal.wait_durable(2, None).unwrap());
    assert_eq!(wal.durable_index(), 3, "one sync covers every record");
    assert!(wal.wait_durable(1, now()).unwrap());
    match wal.wait_durable(4, None) {
        Err(WalError::IndexNotFound {
            index: 4,
            first: 1,
            last: 3,
        }) => {}
        other => panic!("expected IndexNotFound, got {other:?}"),
    }
    // A truncated record is not found; a purged one is durable.
    wal.truncate_after(2).unwrap();
    assert!(matches!(
        wal.wait_durable(3, None),
        Err(WalError::IndexNotFound { .. })
    ));
    wal.purge_before(2).unwrap();
    assert!(wal.wait_durable(1, now()).unwrap());
    wal.shutdown().unwrap();
    assert!(wal.wait_durable(2, now()).unwrap());
}

#[test]
fn a_follower_yields_every_record_in_order_then_waits_for_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    for i in 1..=5 {
        wal.append(None, &content(i), T0 + i as i64 * W, false)
            .unwrap();
    }
    let mut f = wal.follow(1, FollowMode::Appended).unwrap();
    for i in 1..=5 {
        assert_eq!(record(&mut f, now()), (i, content(i)));
    }
    assert_eq!(f.next(now()).unwrap(), Followed::TimedOut);
    assert_eq!(f.next_index(), 6);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| record(&mut f, None));
        wal.append(None, &content(6), T0 + 6 * W, false).unwrap();
        assert_eq!(waiter.join().unwrap(), (6, content(6)));
    });
    // From the end: only what is appended later.
    let mut tail = wal.follow(7, FollowMode::Appended).unwrap();
    assert_eq!(tail.next(now()).unwrap(), Followed::TimedOut);
    wal.append(None, &content(7), T0 + 7 * W, false).unwrap();
    assert_eq!(record(&mut tail, now()), (7, content(7)));
    for bad in [0, 9] {
        assert!(matches!(
            wal.follow(bad, FollowMode::Appended),
            Err(WalError::IndexNotFound { .. })
        ));
    }
}

#[test]
fn a_timeout_returns_at_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let mut f = wal.follow(1, FollowMode::Durable).unwrap();
    let start = Instant::now();
    assert_eq!(
        f.next(Some(Duration::from_millis(30))).unwrap(),
        Followed::TimedOut
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    wal.append(None, b"x", T0, false).unwrap();
    let start = Instant::now();
    assert!(!wal.wait_durable(1, Some(Duration::ZERO)).unwrap());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_durable_follower_sees_the_last_durable_record_without_a_later_write() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    for i in 1..=3 {
        wal.append(None, &content(i), T0, false).unwrap();
    }
    let mut f = wal.follow(1, FollowMode::Durable).unwrap();
    assert_eq!(f.next(now()).unwrap(), Followed::TimedOut);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| record(&mut f, None));
        // The durable append's sync covers records 1 to 4 and wakes it.
        wal.append(None, &content(4), T0, true).unwrap();
        assert_eq!(waiter.join().unwrap(), (1, content(1)));
    });
    for i in 2..=4 {
        assert_eq!(record(&mut f, now()), (i, content(i)));
    }
    // A non-durable record waits for a sync.
    wal.append(None, &content(5), T0, false).unwrap();
    assert_eq!(f.next(now()).unwrap(), Followed::TimedOut);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| record(&mut f, None));
        wal.sync().unwrap();
        assert_eq!(waiter.join().unwrap(), (5, content(5)));
    });
    // The appended-mode follower does not wait for syncs.
    wal.append(None, &content(6), T0, false).unwrap();
    let mut a = wal.follow(6, FollowMode::Appended).unwrap();
    assert_eq!(record(&mut a, now()), (6, content(6)));
    assert_eq!(f.next(now()).unwrap(), Followed::TimedOut);
    // A rotation seals (and syncs) the segment: the record is durable.
    wal.append(None, &content(7), T0 + W, false).unwrap();
    assert_eq!(record(&mut f, now()), (6, content(6)));
}

#[test]
fn shutdown_wakes_the_followers_of_both_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    wal.append(None, &content(1), T0, false).unwrap();
    let mut a = wal.follow(2, FollowMode::Appended).unwrap();
    let mut d = wal.follow(1, FollowMode::Durable).unwrap();
    std::thread::scope(|s| {
        let wa = s.spawn(|| a.next(None).unwrap());
        // Shutdown syncs: the durable follower gets record 1 first.
        let wd = s.spawn(|| (d.next(None).unwrap(), d.next(None).unwrap()));
        wal.shutdown().unwrap();
        assert_eq!(wa.join().unwrap(), Followed::Shutdown);
        let (first, second) = wd.join().unwrap();
        assert!(matches!(first, Followed::Record(r, _) if r.index == 1));
        assert_eq!(second, Followed::Shutdown);
    });
    assert!(matches!(
        wal.follow(1, FollowMode::Appended),
        Err(WalError::Shutdown)
    ));
}

#[test]
fn a_follower_outliving_its_handle_yields_the_rest_then_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    for i in 1..=3 {
        wal.append(None, &content(i), T0, false).unwrap();
    }
    let mut f = wal.follow(1, FollowMode::Durable).unwrap();
    drop(wal);
    for i in 1..=3 {
        assert_eq!(record(&mut f, None), (i, content(i)));
    }
    assert_eq!(f.next(None).unwrap(), Followed::Shutdown);
}

#[test]
fn a_truncation_is_reported_instead_of_yielding_dropped_records() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    for i in 1..=10 {
        wal.append(None, &content(i), T0, false).unwrap();
    }
    // `past` yielded 1 to 8 (9 and 10 read ahead); `behind` yielded 1 to 3.
    let mut past = wal.follow(1, FollowMode::Appended).unwrap();
    let mut behind = wal.follow(1, FollowMode::Appended).unwrap();
    for i in 1..=8 {
        assert_eq!(record(&mut past, now()).0, i);
    }
    for i in 1..=3 {
        assert_eq!(record(&mut behind, now()).0, i);
    }
    wal.truncate_after(5).unwrap();
    wal.append(None, b"new 6", T0, false).unwrap();
    assert_eq!(past.next(now()).unwrap(), Followed::Cut { next_index: 6 });
    assert_eq!(record(&mut past, now()), (6, b"new 6".to_vec()));
    // What `behind` read ahead past the cut is dropped, without a report.
    for i in 4..=5 {
        assert_eq!(record(&mut behind, now()), (i, content(i)));
    }
    assert_eq!(record(&mut behind, now()), (6, b"new 6".to_vec()));
    assert_eq!(behind.next(now()).unwrap(), Followed::TimedOut);

    // A reset drops every record: a follower that yielded one is cut, one
    // that yielded none skips to the new first index.
    let mut fresh = wal.follow(1, FollowMode::Appended).unwrap();
    wal.reset(100).unwrap();
    assert_eq!(past.next(now()).unwrap(), Followed::Cut { next_index: 100 });
    assert_eq!(
        fresh.next(now()).unwrap(),
        Followed::Gap { next_index: 100 }
    );
    wal.append(None, b"hundred", T0, true).unwrap();
    assert_eq!(record(&mut past, now()), (100, b"hundred".to_vec()));
    assert_eq!(record(&mut fresh, now()), (100, b"hundred".to_vec()));
    // A waiting follower is woken by the truncation.
    let mut tail = wal.follow(101, FollowMode::Durable).unwrap();
    wal.append(None, b"101", T0, true).unwrap();
    assert_eq!(record(&mut tail, now()), (101, b"101".to_vec()));
    std::thread::scope(|s| {
        let waiter = s.spawn(|| tail.next(None).unwrap());
        wal.truncate_after(100).unwrap();
        assert_eq!(waiter.join().unwrap(), Followed::Cut { next_index: 101 });
    });
}

#[test]
fn a_purge_ahead_of_a_follower_is_reported_as_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    for i in 1..=10 {
        wal.append(None, &content(i), T0 + i as i64 * W, false)
            .unwrap();
    }
    let mut f = wal.follow(1, FollowMode::Appended).unwrap();
    assert_eq!(record(&mut f, now()), (1, content(1)));
    // Records 2 to 10 are read ahead; the purge drops 2 to 5 of them.
    wal.purge_before(6).unwrap();
    assert_eq!(f.next(now()).unwrap(), Followed::Gap { next_index: 6 });
    for i in 6..=10 {
        assert_eq!(record(&mut f, now()), (i, content(i)));
    }
    // A durable follower behind records not yet durable: the purge syncs
    // them first, and drops them before the follower yields them.
    let mut d = wal.follow(11, FollowMode::Durable).unwrap();
    for i in 11..=12 {
        wal.append(None, &content(i), T0 + 11 * W, false).unwrap();
    }
    assert_eq!(d.next(now()).unwrap(), Followed::TimedOut);
    wal.purge_before(13).unwrap();
    assert_eq!(d.next(now()).unwrap(), Followed::Gap { next_index: 13 });
    assert_eq!(d.next(now()).unwrap(), Followed::TimedOut);
}

/// Whether `fd` is readable now (a poll with no timeout).
fn readable(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).unwrap() == 1
}

#[test]
fn the_event_fd_is_readable_after_each_change_until_cleared() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = open(tmp.path());
    let fd = wal.event_fd().unwrap();
    assert!(readable(fd), "readable at first, to look at what is there");
    wal.clear_event();
    assert!(!readable(fd));
    wal.append(None, b"a", T0, false).unwrap();
    assert!(readable(fd), "an append");
    wal.append(None, b"b", T0, false).unwrap();
    wal.clear_event();
    assert!(!readable(fd), "one clear undoes any number of signals");
    wal.sync().unwrap();
    assert!(readable(fd), "the durable index moved");
    wal.clear_event();
    wal.truncate_after(1).unwrap();
    assert!(readable(fd), "a truncation");
    assert_eq!(wal.event_fd().unwrap().as_raw_fd(), fd.as_raw_fd());
    // The loop of the docs: clear, drain, poll; then wait for the fd.
    let mut f = wal.follow(1, FollowMode::Appended).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| wal.append(None, b"c", T0, false).unwrap());
        let mut got = Vec::new();
        while got.len() < 2 {
            wal.clear_event();
            while let Followed::Record(r, _) = f.next(now()).unwrap() {
                got.push(r.index);
            }
            if got.len() < 2 {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
                poll(&mut fds, PollTimeout::NONE).unwrap();
            }
        }
        assert_eq!(got, [1, 2]);
    });
    wal.clear_event();
    wal.shutdown().unwrap();
    assert!(readable(fd), "shutdown");
}

/// Records 1 to 3,000, two per window, so the log rotates 1,500 times; a
/// cleanup thread deletes the segments the follower has finished.
#[test]
fn a_follower_across_1000_rotations_and_concurrent_cleanup_yields_every_record_once() {
    const N: u64 = 3_000;
    let tmp = tempfile::tempdir().unwrap();
    let retention = 10 * W;
    let wal = Wal::open(tmp.path(), "f", opts(W as u64, retention as u64)).unwrap();
    let window = |i: u64| T0 + (i / 2) as i64 * W;
    let progress = AtomicU64::new(0);
    let mut seen = Vec::with_capacity(N as usize);
    let mut deleted = 0usize;
    let mut f = wal.follow(1, FollowMode::Appended).unwrap();
    std::thread::scope(|s| {
        let follower = s.spawn(|| {
            let mut seen = Vec::new();
            while seen.len() < N as usize {
                let (i, c) = record(&mut f, None);
                seen.push((i, c));
                progress.store(i, Ordering::Release);
            }
            seen
        });
        let cleaner = s.spawn(|| {
            let mut deleted = 0;
            loop {
                let done = progress.load(Ordering::Acquire);
                if done >= 2 {
                    // Only windows before the follower's are expired.
                    let now = window(done) - 2 * W + retention;
                    deleted += wal.cleanup(now).unwrap().deleted.len();
                }
                if done == N {
                    return deleted;
                }
                std::thread::yield_now();
            }
        });
        for i in 1..=N {
            wal.append(None, &content(i), window(i), false).unwrap();
        }
        seen = follower.join().unwrap();
        deleted = cleaner.join().unwrap();
    });
    assert_eq!(seen.len(), N as usize);
    for (k, (i, c)) in seen.iter().enumerate() {
        assert_eq!(*i, k as u64 + 1);
        assert_eq!(c, &content(*i));
    }
    assert!(deleted > 900, "cleanup deleted only {deleted} segments");
}

#[cfg(feature = "fault-injection")]
mod held_syncs {
    use super::*;
    use common::copy_dir;
    use nano_wal::fault::{
        clear_faults, fdatasync_count, hold_fdatasync, release_fdatasync, wait_fdatasync_held,
    };
    use std::path::Path;

    /// Releases the held fdatasyncs under a directory when dropped, also
    /// when an assertion fails while a thread waits at the gate (the scope
    /// would otherwise wait for that thread forever).
    struct Held<'a>(&'a Path);

    impl<'a> Held<'a> {
        fn hold(dir: &'a Path) -> Held<'a> {
            hold_fdatasync(dir);
            Held(dir)
        }
    }

    impl Drop for Held<'_> {
        fn drop(&mut self) {
            release_fdatasync(self.0);
        }
    }

    #[test]
    fn waiters_share_the_sync_under_way_and_time_out_while_it_is_held() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let wal = open(dir);
        for i in 1..=4 {
            wal.append(None, &content(i), T0, false).unwrap();
        }
        let held = Held::hold(dir);
        std::thread::scope(|s| {
            let leader = s.spawn(|| wal.sync().unwrap());
            wait_fdatasync_held(dir);
            let started = fdatasync_count(dir);
            // The sync is held: a waiter with a timeout gives up at it.
            let t = Instant::now();
            assert!(!wal
                .wait_durable(4, Some(Duration::from_millis(20)))
                .unwrap());
            assert!(t.elapsed() >= Duration::from_millis(20));
            let waiters: Vec<_> = (1..=4u64)
                .flat_map(|i| [i, i])
                .map(|i| {
                    let wal = &wal;
                    s.spawn(move || wal.wait_durable(i, None).unwrap())
                })
                .collect();
            drop(held);
            leader.join().unwrap();
            for w in waiters {
                assert!(w.join().unwrap());
            }
            assert_eq!(
                fdatasync_count(dir),
                started,
                "eight waiters and a sync cost one fdatasync"
            );
        });
        assert_eq!(wal.durable_index(), 4);
        clear_faults(dir);
    }

    /// The newest segment's file cut anywhere after the last synced byte:
    /// a power loss keeps what was synced and any prefix of the rest.
    fn crash_states(dir: &Path, scratch: &Path, synced_end: u64) -> Vec<std::path::PathBuf> {
        let newest = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .max()
            .unwrap();
        let len = std::fs::metadata(&newest).unwrap().len();
        let mut cuts: Vec<u64> = (0..10)
            .map(|k| synced_end + (len - synced_end) * k / 10)
            .collect();
        cuts.extend([synced_end, synced_end + 1, len]);
        cuts.sort_unstable();
        cuts.dedup();
        cuts.iter()
            .enumerate()
            .map(|(k, &cut)| {
                let to = scratch.join(format!("state-{k}"));
                copy_dir(dir, &to);
                let file = to.join(newest.file_name().unwrap());
                let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
                f.set_len(cut).unwrap();
                to
            })
            .collect()
    }

    #[test]
    fn a_durable_follower_never_yields_a_record_a_power_loss_takes_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("log");
        let wal = open(&dir);
        let refs: Vec<_> = (1..=6)
            .map(|i| wal.append(None, &content(i), T0, i == 3).unwrap())
            .collect();
        // The durable append's sync covered records 1 to 3, no more.
        let synced_end = refs[2].offset + refs[2].size;
        let durable = wal.durable_index();
        assert_eq!(durable, 3);
        let mut d = wal.follow(1, FollowMode::Durable).unwrap();
        let mut a = wal.follow(1, FollowMode::Appended).unwrap();
        // A sync under way, held before its fdatasync: records 4 to 6 are
        // written, not durable.
        let held = Held::hold(&dir);
        let mut yielded = Vec::new();
        let mut appended = 0;
        std::thread::scope(|s| {
            let syncer = s.spawn(|| wal.sync().unwrap());
            wait_fdatasync_held(&dir);
            while let Followed::Record(r, rec) = d.next(now()).unwrap() {
                yielded.push((r.index, rec.content.to_vec()));
            }
            while let Followed::Record(..) = a.next(now()).unwrap() {
                appended += 1;
            }
            let states = crash_states(&dir, tmp.path(), synced_end);
            assert!(states.len() >= 12, "{} states", states.len());
            for state in &states {
                let reopened = open(state);
                for (i, c) in &yielded {
                    let rec = reopened.read_index(*i).unwrap_or_else(|e| {
                        panic!(
                            "{}: record {i} was yielded, then lost: {e}",
                            state.display()
                        )
                    });
                    assert_eq!(&rec.content[..], &c[..]);
                }
            }
            drop(held);
            syncer.join().unwrap();
        });
        assert_eq!(yielded.len() as u64, durable);
        assert_eq!(appended, 6, "the appended-mode follower reads past it");
        for i in 4..=6 {
            assert_eq!(record(&mut d, now()), (i, content(i)));
        }
        clear_faults(&dir);
    }
}

// SPDX-License-Identifier: MIT
//! loom models of the group commit: the engine's own `GroupCommit` and
//! `Poison` (their locks and atomics are loom's here, see `crate::sync`)
//! driven by threads of durable appenders, against a stand-in segment
//! whose "fdatasync" succeeds or fails as each model says. loom runs every
//! interleaving of those threads with at most [`PREEMPTIONS`] preemptions
//! (`LOOM_MAX_PREEMPTIONS` overrides it), and a model fails on a broken
//! assertion, a deadlock (a waiter nobody wakes) or a leak.
//!
//! Run by the `loom` section of `scripts/test.sh`:
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib --target-dir target/loom
//! durability::loom_models -- --nocapture`.

use super::{GroupCommit, LogPos, Poison, SyncTarget};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, TICK};
use loom::sync::Notify;
use loom::thread;
use std::io;
use std::sync::Arc;
use std::time::Instant;

/// The preemption bound: with two, every deliberate break of the protocol
/// these models were tried on fails them, in ~140,000 interleavings (~12 s
/// in all); three runs ~3.2 million (~6 min).
const PREEMPTIONS: usize = 2;

const SEGMENT: u64 = 7;
const HEADER: u64 = 48;
const RECORD: u64 = 100;

/// Where the first `count` records of the stand-in segment end.
fn end_of(count: u64) -> u64 {
    HEADER + count * RECORD
}

/// A one-shot signal between two model threads (loom's `Notify` may wake
/// spuriously, so the flag says whether it was set).
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    notify: Notify,
}

impl Signal {
    fn set(&self) {
        self.set.store(true, Ordering::Release);
        self.notify.notify();
    }

    fn wait(&self) {
        while !self.set.load(Ordering::Acquire) {
            self.notify.wait();
        }
    }
}

/// The stand-in for the active segment and the appender lock: records are
/// counted, not written, and its "fdatasync" checks who calls it when.
struct Log {
    appender: Mutex<()>,
    /// Published records.
    count: AtomicU64,
    /// The durable watermark (`Segment::synced_end`).
    synced_end: AtomicU64,
    /// A sync is under way.
    syncing: AtomicBool,
    /// Syncs started.
    syncs: AtomicUsize,
    /// The published count when the last sync began.
    count_at_sync: AtomicU64,
    /// The last sync failed.
    failed: AtomicBool,
    /// Which sync (1 for the first) fails, if any.
    fail_sync: Option<usize>,
    /// When set, the first sync tells `probe.0` it began, then waits for
    /// `probe.1`: the word that another thread took the group commit's
    /// state lock meanwhile (a leader that held it would deadlock).
    probe: Option<(Signal, Signal)>,
}

impl Log {
    fn new(fail_sync: Option<usize>, probe: bool) -> Log {
        Log {
            appender: Mutex::new(()),
            count: AtomicU64::new(0),
            synced_end: AtomicU64::new(end_of(0)),
            syncing: AtomicBool::new(false),
            syncs: AtomicUsize::new(0),
            count_at_sync: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            fail_sync,
            probe: probe.then(|| (Signal::default(), Signal::default())),
        }
    }

    /// Publish one record (non-durable: no group-commit registration);
    /// returns its index.
    fn append(&self) -> u64 {
        let _appender = self.appender.lock().unwrap();
        let index = self.count.load(Ordering::Relaxed) + 1;
        self.count.store(index, Ordering::Release);
        index
    }
}

impl SyncTarget for Log {
    fn id(&self) -> u64 {
        SEGMENT
    }
    fn first_index(&self) -> u64 {
        1
    }
    fn record_count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
    fn records_end(&self, count: u64) -> u64 {
        end_of(count)
    }
    fn sync_data(&self) -> io::Result<()> {
        assert!(
            !self.syncing.swap(true, Ordering::AcqRel),
            "two syncs under way at once: two leaders"
        );
        let n = self.syncs.fetch_add(1, Ordering::AcqRel) + 1;
        self.count_at_sync
            .store(self.count.load(Ordering::Acquire), Ordering::Release);
        if let (Some((started, probed)), 1) = (&self.probe, n) {
            started.set();
            probed.wait();
        }
        let fails = self.fail_sync == Some(n);
        self.failed.store(fails, Ordering::Release);
        self.syncing.store(false, Ordering::Release);
        if fails {
            Err(io::Error::from_raw_os_error(libc::EIO))
        } else {
            Ok(())
        }
    }
    fn mark_synced(&self, end: u64) {
        assert!(
            !self.failed.load(Ordering::Acquire),
            "marked synced up to {end} after a failed sync"
        );
        let written = end_of(self.count_at_sync.load(Ordering::Acquire));
        assert!(
            end <= written,
            "marked synced up to {end}, past the {written} written when the sync began"
        );
        self.synced_end.fetch_max(end, Ordering::AcqRel);
    }
    fn mark_durable_use(&self) {}
}

/// The group commit of a log opened with nothing durable but the header, as
/// `wal::open` leaves it. A last sync of three ticks makes the first leader
/// yield once for a durable append under way (see `GroupCommit::gather`).
fn opened() -> (Arc<GroupCommit>, Arc<Poison>) {
    let gc = GroupCommit::default();
    gc.mark_durable((SEGMENT, end_of(0)), 0);
    let ns = (3 * TICK).as_nanos() as u64;
    gc.last_sync_ns.store(ns, Ordering::Relaxed);
    (Arc::new(gc), Arc::new(Poison::default()))
}

/// Wait until record `index` is durable, as a durable append does after
/// writing it. The leader, and only it, calls `active`: it must not be
/// asked to sync a record already durable.
fn wait_for(gc: &GroupCommit, poison: &Poison, log: &Arc<Log>, index: u64) -> crate::Result<()> {
    let target: LogPos = (SEGMENT, end_of(index));
    let outcome = gc.wait_durable(target, poison, || {
        let synced = log.synced_end.load(Ordering::Acquire);
        assert!(
            synced < target.1,
            "record {index}, durable (synced to {synced}), leads a sync"
        );
        Some(log.clone())
    });
    if outcome.is_ok() {
        let synced = log.synced_end.load(Ordering::Acquire);
        assert!(
            synced >= target.1,
            "record {index} reported durable with the segment synced to {synced} only"
        );
        assert!(
            gc.durable_index() >= index,
            "record {index} reported durable with the durable index at {}",
            gc.durable_index()
        );
    }
    outcome
}

/// A durable append: registered as under way, written, then waited for.
/// Returns its index and the outcome of the wait.
fn durable_append(gc: &GroupCommit, poison: &Poison, log: &Arc<Log>) -> (u64, crate::Result<()>) {
    let placing = gc.placing();
    let index = log.append();
    drop(placing);
    (index, wait_for(gc, poison, log, index))
}

/// `threads` durable appenders at once; their outcomes, after all returned.
fn appenders(
    gc: &Arc<GroupCommit>,
    poison: &Arc<Poison>,
    log: &Arc<Log>,
    threads: usize,
) -> Vec<thread::JoinHandle<(u64, crate::Result<()>)>> {
    (0..threads)
        .map(|_| {
            let (gc, poison, log) = (gc.clone(), poison.clone(), log.clone());
            thread::spawn(move || durable_append(&gc, &poison, &log))
        })
        .collect()
}

/// Explore `model` and print its name and how many interleavings were run.
fn explore(name: &str, model: impl Fn() + Send + Sync + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.unwrap_or(PREEMPTIONS));
    // Exhaustive within the bound: no cut-off by count or time from the
    // environment.
    builder.max_permutations = None;
    builder.max_duration = None;
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let start = Instant::now();
    builder.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        model();
    });
    println!(
        "loom model {name}: {} interleavings (preemption bound {}) in {:.1} s",
        runs.load(std::sync::atomic::Ordering::Relaxed),
        builder.preemption_bound.unwrap_or(0),
        start.elapsed().as_secs_f64()
    );
}

/// Three durable appenders: one leads at a time, syncs with no lock held,
/// and every one returns once its record is durable, not before; those
/// covered by another's sync return without one.
#[test]
fn handoff() {
    explore("handoff", || {
        let (gc, poison) = opened();
        let log = Arc::new(Log::new(None, false));
        for handle in appenders(&gc, &poison, &log, 3) {
            let (index, outcome) = handle.join().unwrap();
            assert!(outcome.is_ok(), "record {index}: {outcome:?}");
        }
        let syncs = log.syncs.load(Ordering::Acquire);
        assert!((1..=3).contains(&syncs), "{syncs} syncs for 3 appenders");
        assert_eq!(gc.durable_index(), 3);
        assert!(!poison.is_set());
    });
}

/// Two durable appenders and a thread that takes the group-commit state
/// lock while the first sync is under way: a leader holding it across the
/// sync would deadlock them.
#[test]
fn handoff_with_the_state_lock_taken_during_the_sync() {
    explore("handoff_with_the_state_lock_taken_during_the_sync", || {
        let (gc, poison) = opened();
        let log = Arc::new(Log::new(None, true));
        let handles = appenders(&gc, &poison, &log, 2);
        let (started, probed) = log.probe.as_ref().unwrap();
        started.wait();
        let durable = gc.state.lock().unwrap().durable;
        assert_eq!(
            durable,
            (SEGMENT, end_of(0)),
            "durable before the first sync ended"
        );
        probed.set();
        for handle in handles {
            let (index, outcome) = handle.join().unwrap();
            assert!(outcome.is_ok(), "record {index}: {outcome:?}");
        }
        assert_eq!(gc.durable_index(), 2);
    });
}

/// The first sync fails: every appender gets the error (none returns OK),
/// all are woken, and so does every later wait.
#[test]
fn poison_on_the_first_sync() {
    explore("poison_on_the_first_sync", || {
        let (gc, poison) = opened();
        let log = Arc::new(Log::new(Some(1), false));
        for handle in appenders(&gc, &poison, &log, 3) {
            let (index, outcome) = handle.join().unwrap();
            let err = outcome.expect_err("an appender returned OK after its sync failed");
            assert!(
                err.to_string().contains("poisoned"),
                "record {index}: {err}"
            );
        }
        assert!(poison.is_set());
        assert_eq!(
            log.syncs.load(Ordering::Acquire),
            1,
            "a sync after the poison"
        );
        assert_eq!(gc.durable_index(), 0);
        let later = log.append();
        assert!(wait_for(&gc, &poison, &log, later).is_err());
        assert!(wait_for(&gc, &poison, &log, 1).is_err());
    });
}

/// The second sync fails: an appender returns OK only if the first sync
/// covered its record; every other one gets the error.
#[test]
fn poison_on_the_second_sync() {
    explore("poison_on_the_second_sync", || {
        let (gc, poison) = opened();
        let log = Arc::new(Log::new(Some(2), false));
        let outcomes: Vec<_> = appenders(&gc, &poison, &log, 3)
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let syncs = log.syncs.load(Ordering::Acquire);
        assert!(syncs <= 2, "{syncs} syncs: one after the poison");
        assert_eq!(poison.is_set(), syncs == 2);
        let synced = log.synced_end.load(Ordering::Acquire);
        for (index, outcome) in outcomes {
            // `wait_for` has checked that an OK is covered by the first
            // sync (the only one that succeeded): what it did not cover
            // must be an error.
            if end_of(index) > synced {
                assert!(
                    outcome.is_err(),
                    "record {index} past the failed sync: {outcome:?}"
                );
            }
        }
        assert_eq!(
            end_of(gc.durable_index()),
            synced,
            "the durable index is not the first sync's"
        );
    });
}

/// While a durable appender's sync runs, another thread appends without
/// waiting and then syncs (`Wal::sync`): the durable position and index
/// only rise, never past what was published when the sync that raised them
/// began, and say the same thing, as seen by an observer at any time.
#[test]
fn the_durable_position_is_a_prefix() {
    explore("the_durable_position_is_a_prefix", || {
        let (gc, poison) = opened();
        let log = Arc::new(Log::new(None, false));
        let durable = appenders(&gc, &poison, &log, 1);
        let syncer = {
            let (gc, poison, log) = (gc.clone(), poison.clone(), log.clone());
            thread::spawn(move || {
                log.append();
                let last = log.append();
                wait_for(&gc, &poison, &log, last)
            })
        };
        let mut seen: (LogPos, u64) = ((SEGMENT, end_of(0)), 0);
        for _ in 0..2 {
            let st = gc.state.lock().unwrap();
            let now = (st.durable, gc.durable_index());
            drop(st);
            assert!(
                now.0 >= seen.0 && now.1 >= seen.1,
                "the durable position and index went from {seen:?} to {now:?}"
            );
            assert_eq!(
                now.0,
                (SEGMENT, end_of(now.1)),
                "the durable position and index disagree"
            );
            let synced = log.synced_end.load(Ordering::Acquire);
            assert!(
                now.0 .1 <= synced,
                "{now:?} durable, synced to {synced} only"
            );
            seen = now;
        }
        for handle in durable {
            assert!(handle.join().unwrap().1.is_ok());
        }
        assert!(syncer.join().unwrap().is_ok());
        assert_eq!(gc.durable_index(), 3);
    });
}

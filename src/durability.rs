// SPDX-License-Identifier: MIT
//! Fail-stop poisoning and group commit.
//!
//! The durable position is a log position `(segment_id, offset)` below which
//! every byte is on stable storage. It only ever covers a contiguous prefix:
//! writes into a segment are serialised by the appender lock and its published
//! end only moves past complete writes, and a segment is sealed and
//! fdatasync'ed before the next one is published (see `wal::rotate`), so
//! "active segment synced up to its published end" implies "everything before
//! it is synced".

use crate::error::{Result, WalError};
use crate::notify::Notify;
use crate::segment::Segment;
use crate::sync::{
    yield_now, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering, Stopwatch,
};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(all(test, loom))]
mod loom_models;

/// Once set, the log refuses every append and sync until it is reopened:
/// after a failed fdatasync the kernel may have dropped the dirty pages and
/// marked them clean, so no later success could be trusted (fsyncgate).
#[derive(Debug, Default)]
pub(crate) struct Poison {
    set: AtomicBool,
    cause: Mutex<Option<(String, Option<i32>, io::ErrorKind)>>,
}

impl Poison {
    pub fn set(&self, context: String, err: &io::Error) {
        let mut cause = self.cause.lock().unwrap_or_else(|p| p.into_inner());
        if cause.is_none() {
            *cause = Some((context, err.raw_os_error(), err.kind()));
        }
        self.set.store(true, Ordering::Release);
    }

    /// True once the log is poisoned.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Fails once the log is poisoned (inlined: every append checks; the
    /// error is built out of line).
    #[inline]
    pub fn check(&self) -> Result<()> {
        if !self.set.load(Ordering::Acquire) {
            return Ok(());
        }
        Err(self.error())
    }

    #[cold]
    #[inline(never)]
    fn error(&self) -> WalError {
        let cause = self.cause.lock().unwrap_or_else(|p| p.into_inner());
        let (context, errno, kind) = cause.clone().expect("poison flag set without a cause");
        let source = match errno {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::from(kind),
        };
        WalError::io(
            format!("the log is poisoned (fail-stop) because {context} failed earlier; reopen it"),
            source,
        )
    }
}

/// A position in the log: `(segment_id, offset)`, ordered as the log is.
pub(crate) type LogPos = (u64, u64);

#[derive(Debug, Default)]
struct CommitState {
    durable: LogPos,
    leader_running: bool,
    /// Raised by each truncation or reset: a sync that started before one
    /// counted records that may be gone, so its index is not taken.
    restarts: u64,
}

/// Group commit: a durable appender waits until the durable position covers
/// its record. One waiter at a time (the leader) runs fdatasync on the active
/// segment without holding the appender lock, so appenders keep writing while
/// it runs and the next fdatasync covers all of them at once.
///
/// Before it syncs, the leader waits (yielding the CPU, for at most half the
/// duration of the last fdatasync) until as many durable appends have been
/// written since the last sync started as that sync covered plus those
/// written while it ran, and none is half-way. Without that, the appenders
/// woken by one sync race to write again, the first to finish becomes
/// leader at once, and its sync covers only itself and those who wrote
/// before it: the others wait a whole extra sync. A lone durable appender
/// never waits (its group is itself), nor does a `sync` with no durable
/// append written or under way.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    state: Mutex<CommitState>,
    done: Condvar,
    /// Durable appends between their start and their record being written.
    placing: AtomicUsize,
    /// Durable appends written since the last sync started.
    written: AtomicUsize,
    /// How many durable appends the last sync covered (see `gather`).
    last_group: AtomicUsize,
    /// How long the last fdatasync by a leader took (ns).
    last_sync_ns: AtomicU64,
    /// The highest record index known durable: raised with the durable
    /// position, from the same count of records.
    durable_index: AtomicU64,
    /// Wakes the threads waiting for the durable index to move (durable
    /// followers): notified after each raise, and after a restart.
    pub durable_moved: Notify,
}

/// What a leader syncs: the active segment (a stand-in in the loom models).
/// The group commit is generic over it, so the log's build calls
/// `Segment`'s own methods, as if written there.
pub(crate) trait SyncTarget {
    fn id(&self) -> u64;
    fn first_index(&self) -> u64;
    /// Records published (readable) now.
    fn record_count(&self) -> u64;
    /// Where the first `count` published records end.
    fn records_end(&self, count: u64) -> u64;
    /// fdatasync: on success, every byte written before the call is durable.
    fn sync_data(&self) -> io::Result<()>;
    /// Raise the durable watermark to `end`, after a sync that covered it.
    fn mark_synced(&self, end: u64);
    /// A group commit synced this segment for durable appends.
    fn mark_durable_use(&self);
}

impl SyncTarget for Segment {
    #[inline]
    fn id(&self) -> u64 {
        Segment::id(self)
    }
    #[inline]
    fn first_index(&self) -> u64 {
        Segment::first_index(self)
    }
    #[inline]
    fn record_count(&self) -> u64 {
        Segment::record_count(self)
    }
    #[inline]
    fn records_end(&self, count: u64) -> u64 {
        Segment::records_end(self, count)
    }
    #[inline]
    fn sync_data(&self) -> io::Result<()> {
        Segment::sync_data(self)
    }
    #[inline]
    fn mark_synced(&self, end: u64) {
        Segment::mark_synced(self, end)
    }
    #[inline]
    fn mark_durable_use(&self) {
        Segment::mark_durable_use(self)
    }
}

/// Counts a durable append as under way until dropped (see [`GroupCommit`]).
pub(crate) struct Placing<'a>(&'a GroupCommit);

impl Drop for Placing<'_> {
    fn drop(&mut self) {
        self.0.written.fetch_add(1, Ordering::AcqRel);
        self.0.placing.fetch_sub(1, Ordering::Release);
    }
}

/// The leader never waits longer than this for appends under way.
const MAX_GATHER: Duration = Duration::from_millis(1);

impl GroupCommit {
    /// Mark a durable append as under way until the guard is dropped: drop
    /// it once the record is written (or failed), before `wait_durable`.
    pub fn placing(&self) -> Placing<'_> {
        self.placing.fetch_add(1, Ordering::AcqRel);
        Placing(self)
    }

    /// Let the group of durable appenders come back and write (see
    /// [`GroupCommit`]), then start a new group: returns how many durable
    /// appends the coming sync covers.
    fn gather(&self) -> usize {
        let want = self.last_group.load(Ordering::Relaxed);
        let placing = || self.placing.load(Ordering::Acquire);
        let written = || self.written.load(Ordering::Acquire);
        let waiting = || placing() > 0 || written() < want;
        // A leader that is a durable appender has counted its own write; one
        // with nothing written or under way (a `sync` after non-durable
        // appends, a shutdown) has no group to wait for.
        let anyone = placing() > 0 || written() > 0;
        if anyone && waiting() {
            let limit =
                Duration::from_nanos(self.last_sync_ns.load(Ordering::Relaxed) / 2).min(MAX_GATHER);
            let start = Stopwatch::now();
            while waiting() && start.elapsed() < limit {
                yield_now();
            }
        }
        self.written.swap(0, Ordering::AcqRel)
    }

    /// After a sync that covered `group` durable appends: the next group is
    /// expected to hold those appenders back again, next to the ones that
    /// wrote while the sync ran (and wait for its sync now). Expecting only
    /// as many as the last sync covered kept a group from ever growing: with
    /// 8 appenders, syncs settled at ~5 records each, the other 3 always one
    /// sync behind.
    fn expect_next_group(&self, group: usize) {
        let during = self.written.load(Ordering::Acquire);
        self.last_group.store(group + during, Ordering::Relaxed);
    }

    /// Block until everything up to `target` is durable. `active` gives the
    /// segment currently written to (never older than `target`'s segment).
    pub fn wait_durable<S: SyncTarget>(
        &self,
        target: LogPos,
        poison: &Poison,
        active: impl Fn() -> Option<Arc<S>>,
    ) -> Result<()> {
        self.wait_durable_until(target, poison, active, None)
            .map(|_| ())
    }

    /// [`GroupCommit::wait_durable`] that gives up at `deadline` (None:
    /// never): returns whether `target` is durable. Once the deadline has
    /// passed it starts no sync, so a deadline already past only checks; a
    /// sync it leads is finished first (its waiters depend on it).
    pub fn wait_durable_until<S: SyncTarget>(
        &self,
        target: LogPos,
        poison: &Poison,
        active: impl Fn() -> Option<Arc<S>>,
        deadline: Option<Instant>,
    ) -> Result<bool> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            poison.check()?;
            if st.durable >= target {
                return Ok(true);
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Ok(false),
                },
            };
            if st.leader_running {
                st = match left {
                    None => self.done.wait(st).unwrap_or_else(|p| p.into_inner()),
                    Some(left) => {
                        self.done
                            .wait_timeout(st, left)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                };
                continue;
            }
            st.leader_running = true;
            let restarts = st.restarts;
            drop(st);
            let group = self.gather();
            let outcome = match active() {
                Some(seg) => {
                    // The records counted now end by `end`: the durable
                    // position and index say the same thing.
                    let count = seg.record_count();
                    let end = seg.records_end(count);
                    let started = Stopwatch::now();
                    let synced = seg.sync_data();
                    let took = started.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
                    self.last_sync_ns.store(took, Ordering::Relaxed);
                    synced
                        .map(|()| {
                            seg.mark_synced(end);
                            seg.mark_durable_use();
                            ((seg.id(), end), seg.first_index() + count - 1)
                        })
                        .map_err(|e| (seg.id(), e))
                }
                None => Ok(((0, 0), 0)),
            };
            self.expect_next_group(group);
            {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.leader_running = false;
                match outcome {
                    Ok((pos, index)) => {
                        st.durable = st.durable.max(pos);
                        if st.restarts == restarts {
                            self.durable_index.fetch_max(index, Ordering::AcqRel);
                        }
                    }
                    Err((id, e)) => poison.set(format!("fdatasync of segment {id}"), &e),
                }
            }
            // Wake the waiters with the lock released: each must take it to
            // return, and one woken while it is still held sleeps again on
            // the mutex, to be woken by the next unlock, one at a time.
            self.done.notify_all();
            self.durable_moved.notify();
            st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Record that a whole segment up to `pos`, whose last record has index
    /// `index`, is durable (after the sealing fdatasync of a rotation, or
    /// recovery's).
    pub fn mark_durable(&self, pos: LogPos, index: u64) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.durable = st.durable.max(pos);
        self.durable_index.fetch_max(index, Ordering::AcqRel);
        drop(st);
        self.durable_moved.notify();
    }

    /// The log goes on from `pos` (the header end of a new segment) with
    /// every record up to `index` durable and none after it: a truncation
    /// or reset, appender lock held. The durable index goes down to
    /// `index`, and a sync already running does not raise it again.
    pub fn restart(&self, pos: LogPos, index: u64) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.durable = st.durable.max(pos);
        st.restarts += 1;
        self.durable_index.store(index, Ordering::Release);
        drop(st);
        self.durable_moved.notify();
    }

    /// A truncation inside the active segment kept the records up to
    /// `index`: the durable index is at most that, and a sync that started
    /// before it does not raise it past (its count of records is stale).
    pub fn truncated(&self, index: u64) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.restarts += 1;
        self.durable_index.fetch_min(index, Ordering::AcqRel);
        drop(st);
        self.durable_moved.notify();
    }

    /// The highest record index known durable (0 before anything is).
    pub fn durable_index(&self) -> u64 {
        self.durable_index.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_group_counts_the_durable_appends_written_since_the_last_sync() {
        let gc = GroupCommit::default();
        // First sync: no earlier group to wait for.
        assert_eq!(gc.gather(), 0);
        for _ in 0..3 {
            drop(gc.placing());
        }
        assert_eq!(gc.gather(), 3);
        assert_eq!(gc.gather(), 0, "a new group starts at each sync");
        // A group already as large as the last one is not waited for, and
        // an append still under way is not counted until written.
        gc.last_group.store(2, Ordering::Relaxed);
        let (a, b) = (gc.placing(), gc.placing());
        drop((a, b));
        let under_way = gc.placing();
        gc.last_sync_ns.store(0, Ordering::Relaxed); // no time to wait
        assert_eq!(gc.gather(), 2);
        drop(under_way);
        assert_eq!(gc.gather(), 1);
    }

    #[test]
    fn the_next_group_expects_the_synced_appenders_and_those_written_during_the_sync() {
        let gc = GroupCommit::default();
        for _ in 0..3 {
            drop(gc.placing());
        }
        let group = gc.gather();
        assert_eq!(group, 3);
        // Two appenders write while the sync of those three runs.
        drop((gc.placing(), gc.placing()));
        gc.expect_next_group(group);
        assert_eq!(gc.last_group.load(Ordering::Relaxed), 5);
        // The next gather counts the two already written; with no time to
        // wait it takes what is there.
        gc.last_sync_ns.store(0, Ordering::Relaxed);
        assert_eq!(gc.gather(), 2);
        // A sync during which nobody wrote expects its own group again.
        gc.expect_next_group(2);
        assert_eq!(gc.last_group.load(Ordering::Relaxed), 2);
    }
}

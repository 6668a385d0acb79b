// SPDX-License-Identifier: MIT
//! Following the log: a reader of the tail that, at the end of the log,
//! waits for the next record (appended, or durable) instead of ending, and
//! that reports a truncation or purge that took its place away instead of
//! yielding records that are gone.

use crate::error::{Result, WalError};
use crate::read::{read_range_into, ReadBuf};
use crate::record::{EntryRef, Record};
use crate::wal::{Inner, Wal, NO_CUT};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which records a [`Follower`] yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowMode {
    /// Every record once it is appended (visible to reads).
    Appended,
    /// Only records known durable: a crash can no longer take them back,
    /// so a replica that ships only these never ships a record its source
    /// then loses. The follower never syncs itself: records become durable
    /// through durable appends, `sync`, `wait_durable`, rotation or
    /// shutdown.
    Durable,
}

/// What [`Follower::next`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// The next record, in index order.
    Record(EntryRef, Record),
    /// A truncation or reset dropped records this follower had already
    /// yielded: the log goes on at `next_index`, where the follower goes on
    /// too. Whatever was derived from the dropped records must be undone.
    Cut { next_index: u64 },
    /// The records from the follower's place on were purged (or a reset
    /// moved the log past them) before it yielded them: it goes on at
    /// `next_index`, the log's first index.
    Gap { next_index: u64 },
    /// No record came before the timeout. The follower stays where it is.
    TimedOut,
    /// The log was shut down and every record the mode allows was yielded.
    Shutdown,
}

/// How many records, and how many bytes of them, one read ahead takes.
const READ_AHEAD_RECORDS: usize = 256;
const READ_AHEAD_BYTES: u64 = 1 << 20;

/// How many reads in a row may lose a race (see [`is_race`]) in one step.
const MAX_RACED_READS: u32 = 8;

/// The errors of a read that raced with a change of the log between the
/// state it was planned from and the read itself (a purge, a truncation, a
/// cleanup): the next step plans again from the state after it.
fn is_race(e: &WalError) -> bool {
    matches!(
        e,
        WalError::IndexNotFound { .. } | WalError::SegmentNotFound(_)
    )
}

/// A reader of the log from an index on, from [`Wal::follow`].
///
/// It reads ahead up to 256 records or 1 MiB at a time, so a follower
/// behind the tail costs one positional read per batch; at the tail it
/// sleeps until an append (or, in [`FollowMode::Durable`], a sync) wakes
/// it. It keeps the stream's shared state alive, not the handle: once the
/// [`Wal`] is shut down or dropped it yields what is left and then
/// [`Followed::Shutdown`]. Rotation, size rolls and cleanup of segments it
/// has finished do not disturb it; a segment cleanup deletes under it
/// shows as a [`Followed::Gap`]. `Send`, not `Sync`: one thread drives it.
#[derive(Debug)]
pub struct Follower {
    inner: Arc<Inner>,
    mode: FollowMode,
    /// The index of the next record to yield.
    next: u64,
    /// Lowered by a truncation to the highest index it kept.
    cut: Arc<AtomicU64>,
    /// Records read but not yet yielded, from `next` on.
    ahead: VecDeque<(EntryRef, Record)>,
}

impl Wal {
    /// A follower that yields the records from index `from` on, in order,
    /// and then waits for more. `from` may be from `first_index` to
    /// `last_index + 1` (the end: only records appended from now on);
    /// outside, `IndexNotFound`. After shutdown, `Shutdown`.
    pub fn follow(&self, from: u64, mode: FollowMode) -> Result<Follower> {
        let inner = &self.inner;
        if inner.shut_down.load(Ordering::Acquire) {
            return Err(WalError::Shutdown);
        }
        // Registered before the check: a truncation after it is seen.
        let cut = inner.cuts.register();
        let state = inner.log_state();
        if from < state.first_index || from > state.last_index + 1 {
            return Err(WalError::IndexNotFound {
                index: from,
                first: state.first_index,
                last: state.last_index,
            });
        }
        Ok(Follower {
            inner: inner.clone(),
            mode,
            next: from,
            cut,
            ahead: VecDeque::new(),
        })
    }
}

impl Follower {
    /// The next record, or what happened instead, waiting at most `timeout`
    /// (None: no limit; zero: only what is there now) at the end of the
    /// log. Errors: a read that fails (`Io`, `CorruptedData`: the follower
    /// stays where it is and may be asked again), the poison error of a
    /// log that can take no more records while it would wait.
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<Followed> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut raced = 0;
        loop {
            if let Some(cut) = self.take_cut() {
                return Ok(cut);
            }
            let state = self.inner.log_state();
            if self.next < state.first_index {
                self.ahead.clear();
                self.next = state.first_index;
                return Ok(Followed::Gap {
                    next_index: self.next,
                });
            }
            if let Some((r, record)) = self.ahead.pop_front() {
                self.next = r.index + 1;
                return Ok(Followed::Record(r, record));
            }
            let limit = self.limit(state.last_index, state.durable_index);
            if self.next <= limit {
                // A read that lost a race with a purge, truncation or
                // cleanup is tried again once the next step has seen it;
                // one that keeps failing is an error.
                match self.read_ahead(limit) {
                    Err(e) if raced < MAX_RACED_READS && is_race(&e) => raced += 1,
                    other => other?,
                }
                continue;
            }
            if self.inner.closed.load(Ordering::Acquire) {
                return Ok(Followed::Shutdown);
            }
            self.inner.poison.check()?;
            if !self.wait(deadline) {
                return Ok(Followed::TimedOut);
            }
        }
    }

    /// The index of the next record it yields.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// The mode it was opened with.
    pub fn mode(&self) -> FollowMode {
        self.mode
    }

    /// The highest index the mode lets it yield now.
    fn limit(&self, last_index: u64, durable_index: u64) -> u64 {
        match self.mode {
            FollowMode::Appended => last_index,
            FollowMode::Durable => durable_index,
        }
    }

    /// Apply a truncation since the last step: drop what was read ahead
    /// past the records it kept, and report a cut if records already
    /// yielded are gone.
    fn take_cut(&mut self) -> Option<Followed> {
        let kept = self.cut.swap(NO_CUT, Ordering::AcqRel);
        if kept == NO_CUT {
            return None;
        }
        while self.ahead.back().is_some_and(|(r, _)| r.index > kept) {
            self.ahead.pop_back();
        }
        if self.next - 1 <= kept {
            return None;
        }
        self.next = (kept + 1).max(self.inner.log_state().first_index);
        Some(Followed::Cut {
            next_index: self.next,
        })
    }

    /// Read the records from `next` to at most `limit`.
    fn read_ahead(&mut self, limit: u64) -> Result<()> {
        let inner = &*self.inner;
        let want = (limit - self.next + 1).min(READ_AHEAD_RECORDS as u64) as usize;
        let mut buf = ReadBuf::new();
        let read = read_range_into(
            &inner.segments.snapshot(),
            &inner.segments.ordered(),
            (self.next, inner.config.first_index),
            want,
            READ_AHEAD_BYTES,
            &mut buf,
        );
        let refs = read?;
        self.ahead.extend(refs.into_iter().zip(buf.into_records()));
        Ok(())
    }

    /// Sleep until something this follower waits for may have happened, or
    /// until `deadline` (returns false).
    fn wait(&self, deadline: Option<Instant>) -> bool {
        let inner = &*self.inner;
        let notify = match self.mode {
            FollowMode::Appended => &inner.appended,
            FollowMode::Durable => &inner.group_commit.durable_moved,
        };
        notify.wait_until(deadline, || {
            let state = inner.log_state();
            self.cut.load(Ordering::Acquire) != NO_CUT
                || self.next < state.first_index
                || self.next <= self.limit(state.last_index, state.durable_index)
                || inner.closed.load(Ordering::Acquire)
                || inner.poison.is_set()
        })
    }
}

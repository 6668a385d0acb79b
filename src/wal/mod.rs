// SPDX-License-Identifier: MIT
//! The write side of a stream: the [`Wal`] handle and the state its threads
//! share ([`Inner`]), sync and shutdown. Opening (with recovery) is in
//! `open`, appends in `append`, rotation and sealing in `rotate`.

mod append;
mod cuts;
mod events;
mod holds;
mod meta;
mod open;
mod rotate;
mod segments;
mod truncate;
mod wait;

pub(crate) use cuts::{Cuts, NO_CUT};
pub(crate) use holds::holds_in;
pub use holds::{DroppedHold, Hold};
pub(crate) use segments::Segments;

use crate::durability::{GroupCommit, Poison};
use crate::error::Result;
use crate::meta::MetaStore;
use crate::notify::Notify;
use crate::options::{Config, WalOptions};
use crate::record::LogState;
use crate::segment::{EndsWriter, Segment};
use crate::sys::{Event, StreamLock};
use arc_swap::ArcSwapOption;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A write-ahead log stream: a directory plus a stream name.
///
/// `Wal` is `Send + Sync`; share it between threads with `Arc<Wal>` or
/// scoped threads. Dropping it shuts it down (see [`Wal::shutdown`]).
#[derive(Debug)]
pub struct Wal {
    pub(crate) inner: Arc<Inner>,
}

/// The append side of a stream. Appends encode and write under its lock, so
/// a non-durable append takes exactly one lock and touches no other shared
/// counter: on a single thread every atomic read-modify-write shows in the
/// cost of an append, and across threads each shared cache line bounces.
#[derive(Debug)]
pub(crate) struct Appender {
    /// The segment appends go to (None until the first append of a new
    /// stream). Published to readers as `Inner::active`.
    segment: Option<Arc<Segment>>,
    /// Where its next write goes.
    write: WriteState,
    /// The index the next record gets.
    next_index: u64,
}

/// Where the active segment's next write goes.
#[derive(Debug)]
struct WriteState {
    /// End of the last complete write; the next record goes here.
    end: u64,
    /// How long the file may be on disk: `end`, or more once zeros have
    /// been pre-written past it (see `Inner::prewrite`) or a failed write
    /// was cut back. Sealing cuts a file longer than `end` and fsyncs it.
    file_len: u64,
    /// Pre-writing failed once here (say, the disk is full): not tried again
    /// in this segment.
    prewrite_failed: bool,
    /// Records in the segment.
    records: u64,
    /// Byte ranges its truncation records dropped (the footer lists them).
    ranges: u64,
    /// The segment's record ends, shared with its readers (the appender's
    /// own handle: no load of the segment's swap cell per record).
    ends: Option<EndsWriter>,
}

impl WriteState {
    /// `seg`, of `records` records, whose file ends with its data at `end`.
    fn at(seg: Option<&Segment>, end: u64, records: u64) -> WriteState {
        WriteState {
            end,
            file_len: end,
            prewrite_failed: false,
            records,
            ranges: seg.map_or(0, |s| s.dropped_ranges().len() as u64),
            ends: seg.and_then(Segment::ends_writer),
        }
    }
}

/// What the threads using one stream share.
///
/// Lock order: the appender lock, then the registry's writer lock (taken by
/// rotation, truncation and reset, and alone by cleanup), then the
/// graveyard, then the group-commit state; the stream lock's mutex (taken
/// by shutdown under the appender lock) and the poison cause are taken
/// last. The metadata store's lock (taken by shutdown under the appender
/// lock, and by a purge under the registry's writer lock) locks nothing
/// under it.
#[derive(Debug)]
pub(crate) struct Inner {
    pub dir: PathBuf,
    pub stream: String,
    /// As given to `open`.
    pub options: WalOptions,
    /// The options checked and in milliseconds.
    pub config: Config,
    /// The directory, open to fsync it after creating or deleting a file.
    pub dir_file: File,
    /// Appends, rotation and shutdown serialise on it.
    pub appender: Mutex<Appender>,
    /// The segment appends go to, for the threads that do not append (group
    /// commit, sync, cleanup): stored by rotation under the appender lock.
    pub active: ArcSwapOption<Segment>,
    /// Every live segment by id, for reads; changed by rotation (under the
    /// appender lock) and cleanup, under its writer lock.
    pub segments: Segments,
    pub group_commit: GroupCommit,
    pub poison: Poison,
    /// Set by shutdown under the appender lock: appends check it under the
    /// lock, others (`is_shutdown`, cleanup) without.
    pub shut_down: AtomicBool,
    /// Set once shutdown has synced and released the stream lock: followers
    /// report the shutdown only then, after the records its sync made
    /// durable.
    pub closed: AtomicBool,
    /// The advisory lock on the stream's lock file, released by shutdown.
    pub stream_lock: Mutex<Option<StreamLock>>,
    /// Segments a truncation or reset dropped whose files could not be
    /// deleted yet (see `Inner::remove_dropped`).
    pub graveyard: Mutex<Vec<Arc<Segment>>>,
    /// Segment files were unlinked (by a truncation, reset or purge) with
    /// no directory fsync since: set and cleared under the graveyard lock
    /// (see `Inner::remove_dropped`).
    pub unsynced_unlinks: AtomicBool,
    /// The stream's metadata (`{stream}.meta`), with its own lock.
    pub meta: MetaStore,
    /// Wakes the followers waiting for a new record: notified after each
    /// append is published (outside the appender lock), and by truncation,
    /// reset and the end of shutdown.
    pub appended: Notify,
    /// Where truncations cut the followers' records.
    pub cuts: Cuts,
    /// The eventfd for event loops, once asked for (see `Wal::event_fd`).
    pub event: OnceLock<Arc<Event>>,
    /// Held while the eventfd is created, so it is created once.
    pub event_creation: Mutex<()>,
    /// What open did to recover the stream.
    pub recovery: crate::recovery::RecoveryReport,
}

impl Wal {
    /// Make everything appended so far durable (fdatasync, shared with any
    /// concurrent durable appenders), and a deferred purge
    /// ([`Wal::purge_before_deferred`]) with it (an fdatasync of the
    /// metadata file, only when one is pending). After shutdown it returns
    /// `Ok` (shutdown already synced).
    pub fn sync(&self) -> Result<()> {
        let inner = &*self.inner;
        inner.poison.check()?;
        if let Some(seg) = inner.active.load_full() {
            inner.wait_durable((seg.id(), seg.len()))?;
        }
        inner.meta.sync_pending()
    }

    /// Stop taking appends (they get `Shutdown`), wait for the append being
    /// written, sync (cutting the zeros durable appends pre-write after the
    /// last record, so the files end at their last record), and release the
    /// stream lock. Idempotent; `Drop` calls it. A concurrent second call
    /// returns once the first is done.
    pub fn shutdown(&self) -> Result<()> {
        let inner = &*self.inner;
        // Held to the end: appends wait for it and then see `shut_down`.
        let mut app = inner.lock_appender();
        if inner.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let app = &mut *app;
        let synced = match &app.segment {
            // Cut pre-written zeros, so a cleanly shut down log's files end at
            // their last record, as after a rotation.
            Some(seg) if app.write.file_len > app.write.end => inner.seal(seg, &mut app.write),
            Some(seg) => inner.wait_durable((seg.id(), app.write.end)),
            None => Ok(()),
        };
        // A deferred purge is made durable, and no metadata change is made
        // after the stream lock is released.
        let synced = synced.and(inner.meta.sync_pending());
        inner.meta.close();
        inner
            .stream_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        inner.closed.store(true, Ordering::Release);
        inner.wake_followers();
        synced
    }

    /// Where the log's indexes stand: the lowest readable, the highest
    /// appended, the highest known durable (lock-free).
    pub fn log_state(&self) -> LogState {
        self.inner.log_state()
    }

    /// The lowest readable index (see [`Wal::log_state`]).
    pub fn first_index(&self) -> u64 {
        self.log_state().first_index
    }

    /// The highest appended index (see [`Wal::log_state`]).
    pub fn last_index(&self) -> u64 {
        self.log_state().last_index
    }

    /// The highest index known durable (see [`Wal::log_state`]).
    pub fn durable_index(&self) -> u64 {
        self.log_state().durable_index
    }

    /// True once `shutdown` has run (or started).
    pub fn is_shutdown(&self) -> bool {
        self.inner.shut_down.load(Ordering::Acquire)
    }

    /// The segment with id `id`, if it is live.
    pub fn segment(&self, id: u64) -> Option<Arc<Segment>> {
        self.inner.segments.get(id)
    }

    /// Every live segment, in log order.
    pub fn segments(&self) -> Vec<Arc<Segment>> {
        self.inner.segments.snapshot().values().cloned().collect()
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The stream name.
    pub fn stream(&self) -> &str {
        &self.inner.stream
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &WalOptions {
        &self.inner.options
    }

    /// What open did to recover the stream: the newest segment's tail as
    /// found and as kept (and why it was cut), the segment files removed
    /// (torn creations, segments a truncation, reset or purge had dropped),
    /// and whether any cut byte lay below the durable watermark its records
    /// prove (never, without salvage: open refuses to cut synced data).
    pub fn recovery_report(&self) -> &crate::recovery::RecoveryReport {
        &self.inner.recovery
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl Inner {
    /// The appender lock. A panic under it cannot leave `Appender`
    /// half-updated (each field is written in one store, after the write it
    /// describes), so its poison flag carries no information.
    pub(crate) fn lock_appender(&self) -> std::sync::MutexGuard<'_, Appender> {
        self.appender.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wake the followers of both modes, to see a truncation or the end of
    /// a shutdown.
    pub(crate) fn wake_followers(&self) {
        self.appended.notify();
        self.group_commit.durable_moved.notify();
    }

    /// See [`Wal::log_state`].
    pub(crate) fn log_state(&self) -> LogState {
        let segments = self.segments.snapshot();
        let first_index = segments
            .values()
            .next()
            .map_or(self.config.first_index, |s| s.first_live_index());
        let last_index = segments
            .values()
            .next_back()
            .map_or(first_index - 1, |s| s.last_index());
        let durable_index = self
            .group_commit
            .durable_index()
            .clamp(first_index - 1, last_index);
        LogState {
            first_index,
            last_index,
            durable_index,
        }
    }

    pub(crate) fn wait_durable(&self, target: (u64, u64)) -> Result<()> {
        self.group_commit
            .wait_durable(target, &self.poison, || self.active.load_full())
    }
}

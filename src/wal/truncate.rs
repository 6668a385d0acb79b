// SPDX-License-Identifier: MIT
//! Truncation at both ends. The tail (`truncate_after`) and everything
//! (`reset`): the log goes on in a new segment whose first index says which
//! records are left, and the segments it leaves without records are
//! deleted. No byte of an existing segment is rewritten, so a ref handed
//! out before can never read a record appended later at the same offset
//! (docs/FORMAT.md, "Truncation and reset"). The head (`purge_before`): a
//! purge point in the stream's metadata, and the whole segments below it
//! deleted.

use super::{Appender, Inner, Wal, WriteState};
use crate::error::{Result, WalError};
use crate::format::meta::PurgePoint;
use crate::format::{MAX_FIRST_INDEX, SEGMENT_HEADER_SIZE};
use crate::segment::Segment;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Wal {
    /// Drop every record with an index above `index`: the next append gets
    /// `index + 1`. `index >= last_index` changes nothing; `index` may be
    /// `first_index - 1` (the log is emptied), lower is `InvalidArgument`.
    /// Durable when it returns: a crash during it leaves the log as it was
    /// before or as it is after, and a dropped record never comes back.
    /// Refs and indexes of dropped records are `IndexNotFound` (or
    /// `SegmentNotFound`) afterwards. Waits for appends under way.
    pub fn truncate_after(&self, index: u64) -> Result<()> {
        self.truncate_after_as(index, true)
    }

    /// [`Wal::truncate_after`] without waiting for the disk, when the
    /// records dropped all lie in the active segment (else it is
    /// `truncate_after`): one truncation record written, not synced.
    /// Readers see the log truncated at once and the next append gets
    /// `index + 1`; the truncation is durable with the next sync of the
    /// log: a durable append (its records follow the truncation record, so
    /// the sync that makes them durable makes it durable first), `sync`, or
    /// shutdown. A crash before that may bring the dropped records back,
    /// never a mix: never a record appended after the truncation without
    /// it. What a Raft follower wants when it truncates a conflicting tail
    /// and appends the leader's entries at once.
    pub fn truncate_after_deferred(&self, index: u64) -> Result<()> {
        self.truncate_after_as(index, false)
    }

    fn truncate_after_as(&self, index: u64, durable: bool) -> Result<()> {
        let inner = &*self.inner;
        let mut app = inner.lock_appender();
        inner.check_writable()?;
        let state = self.log_state();
        if index >= state.last_index {
            return Ok(());
        }
        if index < state.first_index - 1 {
            return Err(WalError::InvalidArgument(format!(
                "truncate_after({index}): the first index is {}, so the lowest index to truncate after is {}",
                state.first_index,
                state.first_index - 1
            )));
        }
        if inner.fits_in_active(&app, index) {
            return inner.truncate_within(&mut app, index, durable);
        }
        inner.restart(&mut app, index + 1, false)
    }

    /// Drop every record: the log is empty, its first index `next_index`
    /// (from 1 to 2^63), and the next append gets it. Durable and crash-safe
    /// like [`Wal::truncate_after`]; the metadata is kept.
    pub fn reset(&self, next_index: u64) -> Result<()> {
        if next_index == 0 || next_index > MAX_FIRST_INDEX {
            return Err(WalError::InvalidArgument(format!(
                "reset({next_index}): the next index must be from 1 to {MAX_FIRST_INDEX}"
            )));
        }
        let inner = &*self.inner;
        let mut app = inner.lock_appender();
        inner.check_writable()?;
        inner.restart(&mut app, next_index, true)?;
        // The reset is durable already; a failure here is settled by the
        // next truncation, purge or cleanup, or by open.
        let _ = inner.settle_purge_point(&inner.segments.ordered());
        Ok(())
    }

    /// Drop every record with an index below `index`: `first_index`
    /// becomes `index`, and the whole segments below it are deleted.
    /// `index <= first_index` changes nothing; `index` may be
    /// `last_index + 1` (every record dropped, the next append gets it),
    /// higher is `InvalidArgument`. Durable when it returns: after a crash
    /// the first index is never lower. The records below `index` are made
    /// durable first (an fdatasync if they were not), so a crash cannot
    /// leave the log ending below its first index. Refs and indexes of
    /// dropped records are `IndexNotFound` (or `SegmentNotFound`); a replay
    /// already reading a deleted segment finishes it. Waits for appends
    /// under way. A reader hold below `index` refuses it (`Held`, nothing
    /// purged): move or release the hold first.
    pub fn purge_before(&self, index: u64) -> Result<()> {
        self.purge_before_as(index, true)
    }

    /// [`Wal::purge_before`] without waiting for the disk: the purge point
    /// is written to the metadata file but not synced, so the call costs
    /// one `pwrite`. Readers see the new first index at once; a crash
    /// before the next [`Wal::sync`], durable metadata change (`meta_put`,
    /// a hold, a durable purge, a reset) or shutdown may bring the first
    /// index back down as far as the last synced purge point (never lower,
    /// and never a torn metadata file). A durable append does not sync it
    /// (the group commit syncs the segment only). A purge that frees whole
    /// segments is made durable anyway before it deletes them: a deleted
    /// file must never leave a hole in front of records a lost purge
    /// point would bring back. What Raft engines call compaction without a
    /// sync (raft-engine's `compact_to`).
    pub fn purge_before_deferred(&self, index: u64) -> Result<()> {
        self.purge_before_as(index, false)
    }

    fn purge_before_as(&self, index: u64, durable: bool) -> Result<()> {
        let inner = &*self.inner;
        let app = inner.lock_appender();
        inner.check_writable()?;
        let state = self.log_state();
        if index <= state.first_index {
            return Ok(());
        }
        if index > state.last_index + 1 {
            return Err(WalError::InvalidArgument(format!(
                "purge_before({index}): the last index is {}, so the highest index to purge before is {}",
                state.last_index,
                state.last_index + 1
            )));
        }
        if index - 1 > state.durable_index {
            self.sync()?;
        }
        inner.purge(&app, index, durable)
    }
}

impl Inner {
    /// Refuse a change after shutdown or on a poisoned log (appender lock
    /// held).
    pub(super) fn check_writable(&self) -> Result<()> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(WalError::Shutdown);
        }
        self.poison.check()
    }

    /// Can the truncation after `kept` be a truncation record in the active
    /// segment: are the records it drops all there, does the segment take
    /// truncation records, and do the record and a larger footer fit the
    /// size cap?
    fn fits_in_active(&self, app: &Appender, kept: u64) -> bool {
        let Some(seg) = &app.segment else {
            return false;
        };
        let cap = self.config.max_segment_bytes;
        let keep = (kept + 1).saturating_sub(seg.first_index());
        seg.takes_truncation_records()
            && kept + 1 >= seg.first_index()
            && (cap == 0
                || app.write.end
                    + crate::format::TRUNCATION_RECORD_SIZE
                    + crate::format::footer_size(keep, app.write.ranges + 1)
                    <= cap)
    }

    /// Drop the records of the active segment after index `kept` with a
    /// truncation record (appender lock held). The system calls: one
    /// `pwrite` of the 32-byte record at the segment's end, then, when
    /// `durable`, its `fdatasync`. Only then is the truncation published
    /// (the segment's count lowered and the dropped range added, followers
    /// told): a crash before the record is on disk leaves the log as it was,
    /// one after leaves it truncated (recovery applies the record), and a
    /// record appended later lies after it, so nothing durable can follow
    /// a truncation that is not (docs/RELIABILITY.md lists the states).
    fn truncate_within(&self, app: &mut Appender, kept: u64, durable: bool) -> Result<()> {
        let seg = app.segment.clone().expect("checked by fits_in_active");
        self.poison.check()?;
        let keep = kept + 1 - seg.first_index();
        let from = seg.records_end_raw(keep);
        let offset = app.write.end;
        let record = crate::format::encode_truncation(
            seg.crc_seed(),
            offset,
            seg.synced_end().min(offset),
            kept,
        );
        let end = offset + record.len() as u64;
        if let Err(e) = seg.write_at(&[std::io::IoSlice::new(&record)], offset) {
            self.cut_failed_write(&seg, &mut app.write, offset, end);
            return Err(WalError::io(
                format!(
                    "writing a truncation record to segment {} at offset {offset}",
                    seg.id()
                ),
                e,
            ));
        }
        if durable {
            if let Err(e) = seg.sync_data() {
                let context = format!("fdatasync of segment {} after a truncation", seg.id());
                self.poison.set(context.clone(), &e);
                return Err(WalError::io(context, e));
            }
            seg.mark_synced(end);
        }
        // Published: followers past `kept` learn of the cut before an
        // append can reuse the indexes.
        self.cuts.cut(kept);
        seg.truncate_within(keep, (from, end));
        seg.publish_end(end);
        app.write.end = end;
        app.write.file_len = app.write.file_len.max(end);
        app.write.records = keep;
        app.write.ranges = seg.dropped_ranges().len() as u64;
        app.next_index = kept + 1;
        self.group_commit.truncated(kept);
        if durable {
            self.group_commit.mark_durable((seg.id(), end), kept);
        }
        self.wake_followers();
        Ok(())
    }

    /// Go on at index `next` in a new segment (appender lock held): every
    /// record from `next` on is dropped, and with `resets_log` every record.
    ///
    /// The system calls, in order (docs/RELIABILITY.md lists the state a
    /// crash leaves between each two):
    /// 1. seal the active segment as a rotation does (cut pre-written zeros,
    ///    write its index footer, fsync), so the records kept are durable;
    ///    skipped when the active segment keeps no record: its records are
    ///    all dropped, and every record kept lies in older segments, which
    ///    were synced when they were sealed;
    /// 2. create the new segment (`O_CREAT|O_EXCL`, header written, fsync);
    /// 3. fsync the directory: from here on the log is the one after;
    /// 4. unlink the files of the segments left without records, oldest
    ///    first (no directory fsync: see `remove_dropped`).
    ///
    /// Before step 3 completes, open finds the log as it was (the new file
    /// missing, or torn inside its header and removed). From step 3 on, the
    /// new segment's first index (and its reset flag) tells open which
    /// records of the older segments are dropped, and open deletes the
    /// files step 4 did not, or whose unlink a crash took back. Open tells
    /// a dropped segment from its header alone (`recovery::count_sealed`),
    /// so an unsealed one is no different.
    pub(super) fn restart(&self, app: &mut Appender, next: u64, resets_log: bool) -> Result<()> {
        let mut segments = self.segments.writer();
        self.poison.check()?;
        // The highest index left: a reset drops every record there is.
        let kept = match resets_log {
            true => self.log_state().first_index - 1,
            false => next - 1,
        };
        let live = segments.current();
        self.settle_purge_point(&live)?;
        let mut dropped = Vec::new();
        let mut cut = None;
        for seg in live.iter() {
            if resets_log || seg.first_index() >= next {
                dropped.push(seg.clone());
            } else if seg.last_index() >= next {
                let count = next - seg.first_index();
                cut = Some((seg.clone(), count, end_of_record(seg, count - 1)?));
            }
        }
        // The active segment's window: appends of the same window go on in
        // the new segment, and its expiration is never before an older one's.
        let window = app.segment.as_ref().map_or(0, |s| s.window_start_ms());
        self.config.expiration(window)?;
        let footer = match &app.segment {
            Some(seg) if !dropped.iter().any(|d| d.id() == seg.id()) => {
                self.seal_with_footer(seg, &mut app.write)?
            }
            _ => false,
        };
        let seg = self.create_segment(&segments, window, next, resets_log)?;
        // Durable now: the followers past `kept` learn of the cut before
        // their records vanish and before an append can reuse the indexes.
        self.cuts.cut(kept);
        if let Some((kept, count, end)) = &cut {
            kept.cut(*count, *end);
        }
        for d in &dropped {
            d.cut(0, SEGMENT_HEADER_SIZE as u64);
        }
        segments.supersede(&dropped, seg.clone());
        if let (Some(old), true) = (&app.segment, footer) {
            old.use_footer(app.write.end);
        }
        self.active.store(Some(seg.clone()));
        app.write = WriteState::at(Some(&seg), SEGMENT_HEADER_SIZE as u64, 0);
        app.segment = Some(seg.clone());
        app.next_index = next;
        self.group_commit
            .restart((seg.id(), SEGMENT_HEADER_SIZE as u64), next - 1);
        let mut graveyard = self.lock_graveyard();
        graveyard.extend(dropped);
        // Not an error of the truncation (see `remove_dropped`).
        let _ = self.remove_dropped(&mut graveyard);
        drop(graveyard);
        self.wake_followers();
        Ok(())
    }

    /// Put the purge point `index` in the metadata (the commit point), then
    /// drop the records below it for readers and delete the whole segments
    /// below it (appender lock held). The system calls: the metadata slot
    /// written and fdatasync'ed (the file created, fsync'ed and the
    /// directory fsync'ed first if it did not exist), then the segments
    /// unlinked, oldest first (see `remove_dropped`). A crash before
    /// the metadata is durable leaves the log as it was; after it, open
    /// applies the point and deletes what is left below it. Not `durable`
    /// and with no whole segment below `index`: the slot written, nothing
    /// synced (see `MetaStore::set_purge_point`).
    fn purge(&self, app: &Appender, index: u64, durable: bool) -> Result<()> {
        let mut segments = self.segments.writer();
        self.poison.check()?;
        if let Some(h) = self.holds().into_iter().min_by_key(|h| h.index) {
            if h.index < index {
                return Err(WalError::Held {
                    index,
                    hold: h.name,
                    held_index: h.index,
                });
            }
        }
        let live = segments.current();
        self.settle_purge_point(&live)?;
        let newest = live.last().map_or(0, |s| s.id());
        let active = app.segment.as_ref().map(|s| s.id());
        let below: Vec<Arc<Segment>> = live
            .iter()
            .filter(|s| Some(s.id()) != active && s.first_index() + s.record_count() <= index)
            .cloned()
            .collect();
        self.meta.set_purge_point(
            PurgePoint {
                before: index,
                segment_id: newest,
            },
            durable || !below.is_empty(),
        )?;
        // The floor first: a reader never sees the first index go down.
        if let Some(first) = live.get(below.len()) {
            first.purge_below(index);
        }
        segments.retain(|id, _| !below.iter().any(|s| s.id() == id));
        let mut graveyard = self.lock_graveyard();
        graveyard.extend(below);
        // Not an error of the purge (see `remove_dropped`).
        let _ = self.remove_dropped(&mut graveyard);
        Ok(())
    }

    /// Replace a purge point that a reset superseded (a segment of `live`
    /// that resets the log, with an id above the point's) by that reset's
    /// first index. Done before anything may delete the reset's segment:
    /// once it is gone, nothing would say the point is out of force.
    pub(crate) fn settle_purge_point(&self, live: &[Arc<Segment>]) -> Result<()> {
        let Some(point) = self.meta.purge_point() else {
            return Ok(());
        };
        match live.iter().rev().find(|s| s.resets_log()) {
            Some(r) if r.id() > point.segment_id => self.meta.set_purge_point(
                PurgePoint {
                    before: r.first_index(),
                    segment_id: r.id(),
                },
                true,
            ),
            _ => Ok(()),
        }
    }

    /// The segments a truncation or reset dropped whose files are not
    /// deleted yet (a failed unlink). While there are any, cleanup deletes
    /// nothing: deleting a later segment first could make a dropped one
    /// look live at the next open.
    pub(crate) fn lock_graveyard(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Segment>>> {
        self.graveyard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delete the files of `graveyard`'s segments, oldest first (graveyard
    /// lock held); the error is the first failure. After a failure the
    /// later ones are kept too.
    ///
    /// The directory is not fsync'ed after the unlinks: a dropped or purged
    /// segment whose unlink a crash takes back is deleted by the next open
    /// (a newer segment's first index or reset flag, or the purge point,
    /// says it is dropped). Two things would let such a file look live, so
    /// they fsync the directory first while unlinks are unsynced
    /// ([`Inner::sync_unlinks`]): unlinking a segment that resets the log
    /// (its reset drops the older ones), here, and deleting a segment that
    /// marks others dropped by its first index, which only `cleanup` does
    /// (truncations and resets create their segment, with a directory
    /// fsync, before they unlink anything).
    ///
    /// Failures are not errors of the truncation, which is durable already:
    /// the files are retried by the next truncation, reset or cleanup, and
    /// deleted by the next open.
    pub(crate) fn remove_dropped(&self, graveyard: &mut Vec<Arc<Segment>>) -> std::io::Result<()> {
        graveyard.sort_by_key(|s| s.id());
        let mut failed = None;
        let mut left = Vec::new();
        for seg in graveyard.drain(..) {
            if failed.is_none() && seg.resets_log() {
                failed = self.sync_unlinks().err();
            }
            if failed.is_none() {
                match crate::sys::remove_file(seg.path()) {
                    Ok(()) => self.unsynced_unlinks.store(true, Ordering::Relaxed),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => failed = Some(e),
                }
            }
            if failed.is_some() {
                left.push(seg);
            }
        }
        *graveyard = left;
        failed.map_or(Ok(()), Err)
    }

    /// fsync the directory if segment files were unlinked since the last
    /// time (graveyard lock held), so those unlinks are durable before
    /// whatever depends on them.
    pub(crate) fn sync_unlinks(&self) -> std::io::Result<()> {
        if self.unsynced_unlinks.load(Ordering::Relaxed) {
            crate::sys::fsync(&self.dir_file, &self.dir)?;
            self.unsynced_unlinks.store(false, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Where record `k` of `seg` ends (memory, or one read of its footer).
fn end_of_record(seg: &Segment, k: u64) -> Result<u64> {
    let end = seg.end_of_record(k).map_err(|e| {
        WalError::io(
            format!("reading the index footer of segment {}", seg.id()),
            e,
        )
    })?;
    end.filter(|&e| e > SEGMENT_HEADER_SIZE as u64 && e <= seg.len())
        .ok_or_else(|| {
            WalError::corrupted(
                seg.id(),
                seg.len(),
                format!(
                    "the end of the record of index {} is not known",
                    seg.first_index() + k
                ),
            )
        })
}

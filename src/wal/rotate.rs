// SPDX-License-Identifier: MIT
//! Rotation to a new segment, sealing of the old one, and the zeros
//! pre-written ahead of durable appends: the writes that change which
//! segment appends go to or how long its file is, appender lock held.

use super::segments::SegmentsWriter;
use super::{Appender, Inner, WriteState};
use crate::error::{Result, WalError};
use crate::format::{SegmentHeader, Trailer, SEGMENT_HEADER_SIZE};
use crate::segment::Segment;
use crate::sys;
use std::io::IoSlice;
use std::sync::Arc;

/// Zeros pre-written at a time ahead of durable appends (see
/// `Inner::prewrite`): one metadata-bearing fdatasync per this many bytes.
const PREWRITE_CHUNK: u64 = 1 << 20;

/// The zeros go to the file in writes of this size, aligned to it. The page
/// cache sizes its folios by the write that creates them, and every later
/// write into a folio walks all of its blocks (ext4 on Linux 6.18, measured
/// on this machine kind): zeros written 1 MiB at a time made each 152 B
/// record's `pwrite`, under the appender lock, cost ~1.3 µs instead of
/// ~0.45. Aligned pieces keep every folio whole-piece sized.
const PREWRITE_PIECE: usize = 32 << 10;
static PREWRITE_ZEROS: [u8; PREWRITE_PIECE] = [0; PREWRITE_PIECE];

impl Inner {
    /// Roll the log to a new segment for `window` (or the active segment's
    /// window if later), appender lock held.
    ///
    /// Order matters for crash safety: the old segment is sealed and
    /// fdatasync'ed first, then the new file is created (header fsync'ed,
    /// directory fsync'ed), then published. So a new segment file on disk
    /// implies a complete, durable predecessor, and only the newest segment
    /// can ever have a torn tail. If creating the new segment fails, the old
    /// one stays active (synced, and trimmed to its last record).
    pub(super) fn rotate(&self, app: &mut Appender, window: i64) -> Result<()> {
        let mut segments = self.segments.writer();
        self.poison.check()?;
        let window = match &app.segment {
            Some(seg) => window.max(seg.window_start_ms()),
            None => window,
        };
        // Checked before sealing: a window whose expiration overflows is
        // refused with the log unchanged.
        self.config.expiration(window)?;
        let footer = match &app.segment {
            Some(seg) => self.seal_with_footer(seg, &mut app.write)?,
            None => false,
        };
        let seg = self.create_segment(&segments, window, app.next_index, false)?;
        segments.publish(seg.clone());
        if let (Some(old), true) = (&app.segment, footer) {
            // Sealed for good now that a successor exists.
            old.use_footer(app.write.end);
        }
        self.active.store(Some(seg.clone()));
        app.write = WriteState::at(Some(&seg), SEGMENT_HEADER_SIZE as u64, 0);
        app.segment = Some(seg);
        Ok(())
    }

    /// Create the segment [`SegmentsWriter::next_id`] names, for `window`,
    /// its first record `first_index`, and make its directory entry durable
    /// (the caller publishes it). If that fails, the file is removed again.
    pub(super) fn create_segment(
        &self,
        segments: &SegmentsWriter<'_>,
        window: i64,
        first_index: u64,
        resets_log: bool,
    ) -> Result<Arc<Segment>> {
        let header = SegmentHeader {
            segment_id: segments.next_id(),
            expiration_ms: self.config.expiration(window)?,
            window_start_ms: window,
            first_index,
            resets_log,
        };
        let seg = Segment::create(&self.dir, &self.stream, header, self.config.file_mode)?;
        match sys::fsync(&self.dir_file, &self.dir) {
            Ok(()) => Ok(Arc::new(seg)),
            Err(e) => {
                // The segment is not published and holds nothing. Remove it,
                // as `Segment::create` does when its own fsync fails: left
                // behind, it would make every later rotation to this id fail
                // on `create_new` (EEXIST) until the log is reopened.
                let _ = std::fs::remove_file(seg.path());
                Err(WalError::io(
                    format!(
                        "fsync of directory {} after creating segment {}",
                        self.dir.display(),
                        header.segment_id
                    ),
                    e,
                ))
            }
        }
    }

    /// Seal the active segment for rotation: its index footer written after
    /// the last record (pre-written zeros cut first), then made durable with
    /// the rest by [`Inner::seal`]. Returns whether the footer was written: a
    /// failed write of it is cut off again and the segment sealed without
    /// one (open then scans it). The footer bytes lie past the data end, so
    /// if no successor follows, appends overwrite them (and sealing cuts
    /// what is left).
    pub(super) fn seal_with_footer(&self, seg: &Segment, w: &mut WriteState) -> Result<bool> {
        self.poison.check()?;
        let footer = seg
            .ends_in_memory(w.records)
            .map(|ends| {
                Trailer::encode_footer(
                    seg.crc_seed(),
                    seg.first_index(),
                    &ends,
                    &seg.dropped_ranges(),
                )
            })
            .unwrap_or_default();
        let cut = w.file_len > w.end;
        let mut written = false;
        let mut sealed = || -> std::io::Result<()> {
            if cut {
                seg.truncate(w.end)?;
            }
            if !footer.is_empty() {
                written = seg.write_at(&[IoSlice::new(&footer)], w.end).is_ok();
                if !written {
                    seg.truncate(w.end)?;
                }
            }
            // A cut is made durable by fsync; the footer's growth of the
            // length by fdatasync, as for the records (data to read back).
            if cut {
                seg.sync_all()
            } else {
                seg.sync_data()
            }
        };
        if let Err(e) = sealed() {
            let context = format!("syncing segment {} while sealing it", seg.id());
            self.poison.set(context.clone(), &e);
            return Err(WalError::io(context, e));
        }
        w.file_len = w.end + if written { footer.len() as u64 } else { 0 };
        seg.mark_synced(w.end);
        self.group_commit
            .mark_durable((seg.id(), w.end), seg.first_index() + w.records - 1);
        Ok(written)
    }

    /// Make the active segment end at its last record, durably: cut
    /// pre-written zeros (and make the new length durable with a full
    /// fsync), or fdatasync it. Appender lock held. Fails on a poisoned
    /// log; a failure poisons it (the sync may have dropped dirty pages of
    /// records).
    pub(super) fn seal(&self, seg: &Segment, w: &mut WriteState) -> Result<()> {
        // After a failed sync a later one may succeed without the lost pages.
        self.poison.check()?;
        let sealed = if w.file_len > w.end {
            seg.truncate(w.end).and_then(|()| seg.sync_all())
        } else {
            seg.sync_data()
        };
        if let Err(e) = sealed {
            let context = format!("syncing segment {} while sealing it", seg.id());
            self.poison.set(context.clone(), &e);
            return Err(WalError::io(context, e));
        }
        w.file_len = w.end;
        seg.mark_synced(w.end);
        self.group_commit
            .mark_durable((seg.id(), w.end), seg.first_index() + w.records - 1);
        Ok(())
    }

    /// Write zeros from the end of the file to past `need` (a whole
    /// [`PREWRITE_CHUNK`], within the size cap) and fdatasync them, so that
    /// the records later written there overwrite allocated, durable blocks
    /// inside the file's durable size: their fdatasync then flushes data only,
    /// without the metadata update (size, block allocation) that makes a sync
    /// of a growing file cost a journal commit. Done only in segments that
    /// durable appends use (see docs/PERFORMANCE.md for why not in others).
    /// Recovery, sealing and shutdown cut the zeros off (a run of zeros after
    /// the last record is preallocated space, docs/FORMAT.md).
    ///
    /// A failed write of the zeros (the disk is full, the file size limit) is
    /// not an error of the append: the zeros are cut again and the append is
    /// written as without pre-writing. A failed fdatasync is (fail-stop, as
    /// for a group commit: it may have dropped dirty pages of records).
    pub(super) fn prewrite(&self, seg: &Segment, w: &mut WriteState, need: u64) -> Result<()> {
        let piece = PREWRITE_PIECE as u64;
        let mut target = (need.max(w.file_len) + PREWRITE_CHUNK).next_multiple_of(piece);
        let cap = self.config.max_segment_bytes;
        if cap != 0 {
            target = target.min(cap.max(need));
        }
        if target <= w.file_len {
            return Ok(());
        }
        let mut at = w.file_len;
        while at < target {
            let to = (at + 1).next_multiple_of(piece).min(target);
            let zeros = &PREWRITE_ZEROS[..(to - at) as usize];
            if seg.write_at(&[IoSlice::new(zeros)], at).is_err() {
                w.prewrite_failed = true;
                // Harmless if this fails too: zeros after the last record are
                // cut by sealing and recovery, and the next write starts at `end`.
                let _ = seg.truncate(w.end);
                // Some zeros may have reached the file (and a group commit may
                // have synced them) before the cut: sealing cuts and fsyncs.
                w.file_len = target;
                return Ok(());
            }
            at = to;
        }
        if let Err(e) = seg.sync_data() {
            let context = format!("fdatasync of segment {} after pre-writing it", seg.id());
            self.poison.set(context.clone(), &e);
            return Err(WalError::io(context, e));
        }
        w.file_len = target;
        Ok(())
    }
}

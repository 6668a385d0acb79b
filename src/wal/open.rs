// SPDX-License-Identifier: MIT
//! Opening a stream: its directory, its advisory lock, and the hand-off of
//! the segments recovery found to a new [`Wal`].

use super::{Appender, Inner, Segments, Wal, WriteState};
use crate::durability::{GroupCommit, Poison};
use crate::error::{Result, WalError};
use crate::format::names::{lock_file_name, validate_stream_name};
use crate::meta::MetaStore;
use crate::options::WalOptions;
use crate::recovery;
use crate::sys::{self, LockAttempt, StreamLock};
use arc_swap::ArcSwapOption;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};

impl Wal {
    /// Open (or create) the stream `stream` in directory `dir`, creating the
    /// directory if missing, taking the stream's advisory lock and recovering
    /// its segments (see docs/FORMAT.md, "Recovery").
    pub fn open(dir: impl AsRef<Path>, stream: &str, options: WalOptions) -> Result<Wal> {
        let mut config = options.validate()?;
        validate_stream_name(stream)?;
        let dir = dir.as_ref().to_path_buf();
        if let Some(cap) = sys::segment_record_cap(&dir) {
            config.max_segment_records = cap.clamp(1, config.max_segment_records);
        }
        let dir_file = open_directory(&dir)?;
        let stream_lock = lock_stream(&dir, stream, config.file_mode)?;
        let meta = MetaStore::open(&dir, &dir_file, stream, config.file_mode, config.salvage)?;
        let recovered = recovery::recover(&dir, &dir_file, stream, &config, meta.purge_point())?;
        if let Some(point) = recovered.settle_purge {
            // A reset superseded the purge point: replace it before that
            // reset's segment can ever be deleted (`purge_floor`).
            meta.set_purge_point(point, true)?;
        }
        let newest = recovered.newest.as_ref();
        let next_index = newest.map_or(config.first_index, |s| s.last_index() + 1);
        let appender = Appender {
            write: WriteState::at(
                newest.map(|s| &**s),
                newest.map_or(0, |s| s.len()),
                newest.map_or(0, |s| s.record_count()),
            ),
            segment: recovered.newest.clone(),
            next_index,
        };
        let inner = Inner {
            appender: Mutex::new(appender),
            dir,
            stream: stream.to_string(),
            options,
            config,
            dir_file,
            active: ArcSwapOption::new(recovered.newest.clone()),
            segments: Segments::new(recovered.segments, recovered.next_id),
            group_commit: GroupCommit::default(),
            poison: Poison::default(),
            shut_down: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            stream_lock: Mutex::new(Some(stream_lock)),
            graveyard: Mutex::new(Vec::new()),
            unsynced_unlinks: Default::default(),
            meta,
            appended: Default::default(),
            cuts: Default::default(),
            event: OnceLock::new(),
            event_creation: Mutex::new(()),
            recovery: recovered.report.clone(),
        };
        // Whatever recovery kept of the newest segment was fdatasync'ed by it.
        let durable_pos = recovered
            .newest
            .as_ref()
            .map_or((0, 0), |s| (s.id(), s.len()));
        inner.group_commit.mark_durable(durable_pos, next_index - 1);
        Ok(Wal {
            inner: Arc::new(inner),
        })
    }

    /// Same as [`Wal::open`] (the original crate's name).
    pub fn new(dir: impl AsRef<Path>, stream: &str, options: WalOptions) -> Result<Wal> {
        Self::open(dir, stream, options)
    }
}

/// Create `dir` if missing and open it (for the fsyncs that make creating
/// and deleting segment files durable).
fn open_directory(dir: &Path) -> Result<File> {
    if dir.exists() && !dir.is_dir() {
        return Err(WalError::InvalidConfig(format!(
            "{} exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| WalError::io(format!("creating directory {}", dir.display()), e))?;
    let dir_file = File::open(dir)
        .map_err(|e| WalError::io(format!("opening directory {}", dir.display()), e))?;
    if !dir_file
        .metadata()
        .map_err(|e| WalError::io(format!("stat of {}", dir.display()), e))?
        .is_dir()
    {
        return Err(WalError::InvalidConfig(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    Ok(dir_file)
}

/// Take the advisory lock of `stream` in `dir` (creating its lock file with
/// `file_mode`), or fail with `Locked` when another handle holds it.
fn lock_stream(dir: &Path, stream: &str, file_mode: u32) -> Result<StreamLock> {
    let lock_path = dir.join(lock_file_name(stream));
    let lock_file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(file_mode)
        .open(&lock_path)
        .map_err(|e| WalError::io(format!("opening lock file {}", lock_path.display()), e))?;
    match sys::try_lock_exclusive(lock_file)
        .map_err(|e| WalError::io(format!("locking {}", lock_path.display()), e))?
    {
        LockAttempt::Acquired(lock) => Ok(lock),
        LockAttempt::HeldElsewhere => Err(WalError::Locked(format!(
            "stream {stream:?} in {} is open in another handle ({} is locked)",
            dir.display(),
            lock_path.display()
        ))),
    }
}

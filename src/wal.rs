//! The write side of a stream: open (with recovery), appends, rotation,
//! group-committed durability, sync and shutdown.

use crate::durability::{GroupCommit, Poison};
use crate::error::{Result, WalError};
use crate::format::names::{lock_file_name, validate_stream_name};
use crate::format::{
    append_records, encode_frame_seeded, record_size, SegmentHeader, MAX_CONTENT_LEN,
    MAX_HEADER_LEN, RECORD_FRAME_SIZE, SEGMENT_HEADER_SIZE,
};
use crate::options::{Config, WalOptions};
use crate::record::{EntryRef, WriteEntry};
use crate::recovery;
use crate::segment::Segment;
use crate::sys::{self, LockAttempt, StreamLock};
use arc_swap::{ArcSwap, ArcSwapOption};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A write-ahead log stream: a directory plus a stream name.
///
/// `Wal` is `Send + Sync`; share it between threads with `Arc<Wal>` or
/// scoped threads. Dropping it shuts it down (see [`Wal::shutdown`]).
#[derive(Debug)]
pub struct Wal {
    pub(crate) inner: Arc<Inner>,
}

/// Rotation-side state, behind the rotation lock.
#[derive(Debug)]
pub(crate) struct RotationState {
    pub next_id: u64,
}

/// The append side of a stream. Appends encode and write under its lock, so
/// a non-durable append takes exactly one lock and touches no other shared
/// counter: on a single thread every atomic read-modify-write shows in the
/// cost of an append, and across threads each shared cache line bounces.
#[derive(Debug)]
pub(crate) struct Appender {
    /// The segment appends go to (None until the first append of a new
    /// stream). Published to readers as `Inner::active`.
    seg: Option<Arc<Segment>>,
    w: WriteState,
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
}

impl WriteState {
    /// A segment whose file ends with its data at `end`.
    fn at(end: u64) -> WriteState {
        WriteState {
            end,
            file_len: end,
            prewrite_failed: false,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub dir: PathBuf,
    pub stream: String,
    pub options: WalOptions,
    pub cfg: Config,
    pub dir_file: File,
    /// Appends, rotation and shutdown serialise on it.
    pub appender: Mutex<Appender>,
    /// The segment appends go to, for the threads that do not append (group
    /// commit, sync, cleanup): stored by rotation under the appender lock.
    pub active: ArcSwapOption<Segment>,
    /// Every live segment by id, for reads. Replaced whole (copy on write)
    /// under the rotation lock; readers load it without locking.
    pub registry: ArcSwap<BTreeMap<u64, Arc<Segment>>>,
    /// Taken by rotation (under the appender lock) and by cleanup.
    pub rotation: Mutex<RotationState>,
    pub commit: GroupCommit,
    pub poison: Poison,
    /// Set by shutdown under the appender lock: appends check it under the
    /// lock, others (`is_shutdown`, cleanup) without.
    pub shut: AtomicBool,
    pub lock: Mutex<Option<StreamLock>>,
}

impl Wal {
    /// Open (or create) the stream `stream` in directory `dir`, creating the
    /// directory if missing, taking the stream's advisory lock and recovering
    /// its segments (see docs/FORMAT.md, "Recovery").
    pub fn open(dir: impl AsRef<Path>, stream: &str, options: WalOptions) -> Result<Wal> {
        let cfg = options.validate()?;
        validate_stream_name(stream)?;
        let dir = dir.as_ref().to_path_buf();
        if dir.exists() && !dir.is_dir() {
            return Err(WalError::InvalidConfig(format!(
                "{} exists and is not a directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| WalError::io(format!("creating directory {}", dir.display()), e))?;
        let dir_file = File::open(&dir)
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
        let lock_path = dir.join(lock_file_name(stream));
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(cfg.file_mode)
            .open(&lock_path)
            .map_err(|e| WalError::io(format!("opening lock file {}", lock_path.display()), e))?;
        let lock = match sys::try_lock_exclusive(lock_file)
            .map_err(|e| WalError::io(format!("locking {}", lock_path.display()), e))?
        {
            LockAttempt::Acquired(l) => l,
            LockAttempt::HeldElsewhere => {
                return Err(WalError::Locked(format!(
                    "stream {stream:?} in {} is open in another handle ({} is locked)",
                    dir.display(),
                    lock_path.display()
                )))
            }
        };
        let recovered = recovery::recover(&dir, &dir_file, stream, &cfg)?;
        let appender = Appender {
            w: WriteState::at(recovered.newest.as_ref().map_or(0, |s| s.len())),
            seg: recovered.newest.clone(),
        };
        let inner = Inner {
            appender: Mutex::new(appender),
            dir,
            stream: stream.to_string(),
            options,
            cfg,
            dir_file,
            active: ArcSwapOption::new(recovered.newest.clone()),
            registry: ArcSwap::from_pointee(recovered.segments),
            rotation: Mutex::new(RotationState {
                next_id: recovered.next_id,
            }),
            commit: GroupCommit::default(),
            poison: Poison::default(),
            shut: AtomicBool::new(false),
            lock: Mutex::new(Some(lock)),
        };
        // Whatever recovery kept of the newest segment was fdatasync'ed by it.
        if let Some(seg) = &recovered.newest {
            inner.commit.mark_durable((seg.id(), seg.len()));
        }
        Ok(Wal {
            inner: Arc::new(inner),
        })
    }

    /// Same as [`Wal::open`] (the original crate's name).
    pub fn new(dir: impl AsRef<Path>, stream: &str, options: WalOptions) -> Result<Wal> {
        Self::open(dir, stream, options)
    }

    /// Append one record at time `now_ms` (ms since the Unix epoch; it picks
    /// the window, the clock is never read). With `durable`, the call returns
    /// only once the record is on stable storage (group-committed fdatasync).
    pub fn append(
        &self,
        header: Option<&[u8]>,
        content: &[u8],
        now_ms: i64,
        durable: bool,
    ) -> Result<EntryRef> {
        let entry = [WriteEntry { header, content }];
        let (segment_id, offset) = self.write_entries(&entry, now_ms, durable)?;
        Ok(EntryRef {
            segment_id,
            offset,
            size: record_size(header.map_or(0, <[u8]>::len), content.len()),
        })
    }

    /// Append a batch of records atomically: after a crash, recovery keeps all
    /// of them or none. They go to one segment, contiguous and in order. An
    /// empty batch does nothing.
    pub fn append_batch(
        &self,
        entries: &[WriteEntry<'_>],
        now_ms: i64,
        durable: bool,
    ) -> Result<Vec<EntryRef>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (segment_id, mut offset) = self.write_entries(entries, now_ms, durable)?;
        Ok(entries
            .iter()
            .map(|e| {
                let size = record_size(e.header.map_or(0, <[u8]>::len), e.content.len());
                let r = EntryRef {
                    segment_id,
                    offset,
                    size,
                };
                offset += size;
                r
            })
            .collect())
    }

    /// Write `entries` (at least one) as one batch and, with `durable`, wait
    /// until they are on stable storage. Returns the segment and the offset
    /// of the first record.
    ///
    /// Appends of small records (see [`PACK_LIMIT`]) are packed into this
    /// thread's reusable buffer and written with one `pwrite` per
    /// [`PACK_LIMIT`] bytes (one CRC pass over each record as it lies in the
    /// buffer, nothing allocated once the buffer has grown); larger ones are
    /// written from the caller's buffers with `pwritev` (frames on the stack
    /// for a single record).
    fn write_entries(
        &self,
        entries: &[WriteEntry<'_>],
        now_ms: i64,
        durable: bool,
    ) -> Result<(u64, u64)> {
        let inner = &*self.inner;
        let (total, largest) = validate_entries(entries)?;
        let window = inner.cfg.window_start(now_ms)?;
        inner.cfg.expiration(window)?;
        let placing = durable.then(|| inner.commit.placing());
        let small = largest <= PACK_LIMIT && total <= PACK_RECORD_LIMIT * entries.len() as u64;
        let (segment_id, offset) = if small {
            let pack = |buf: &mut Vec<u8>| {
                let mut packed = Packed {
                    buf,
                    entries,
                    total,
                };
                inner.place(window, total, entries.len(), &mut packed)
            };
            // A thread whose thread-locals are being destroyed (an append
            // from another thread-local's destructor) packs into a new buffer.
            PACK_BUFFER
                .try_with(|buf| pack(&mut buf.borrow_mut()))
                .unwrap_or_else(|_| pack(&mut Vec::new()))?
        } else {
            let mut one_frame = [[0u8; RECORD_FRAME_SIZE]; 1];
            let mut many_frames = Vec::new();
            let frames: &mut [[u8; RECORD_FRAME_SIZE]] = if entries.len() == 1 {
                &mut one_frame
            } else {
                many_frames.resize(entries.len(), [0u8; RECORD_FRAME_SIZE]);
                &mut many_frames
            };
            inner.place(
                window,
                total,
                entries.len(),
                &mut Framed { frames, entries },
            )?
        };
        drop(placing);
        if durable {
            inner.wait_durable((segment_id, offset + total))?;
        }
        Ok((segment_id, offset))
    }

    /// Make everything appended so far durable (fdatasync, shared with any
    /// concurrent durable appenders). After shutdown it returns `Ok` (shutdown
    /// already synced).
    pub fn sync(&self) -> Result<()> {
        let inner = &*self.inner;
        inner.poison.check()?;
        match inner.active.load_full() {
            Some(seg) => inner.wait_durable((seg.id(), seg.len())),
            None => Ok(()),
        }
    }

    /// Stop taking appends (they get `Shutdown`), wait for the append being
    /// written, sync (cutting the zeros durable appends pre-write after the
    /// last record, so the files end at their last record), and release the
    /// stream lock. Idempotent; `Drop` calls it. A concurrent second call
    /// returns once the first is done.
    pub fn shutdown(&self) -> Result<()> {
        let inner = &*self.inner;
        // Held to the end: appends wait for it and then see `shut`.
        let mut app = inner.lock_appender();
        if inner.shut.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let app = &mut *app;
        let synced = match &app.seg {
            // Cut pre-written zeros, so a cleanly shut down log's files end at
            // their last record, as after a rotation.
            Some(seg) if app.w.file_len > app.w.end => inner.seal(seg, &mut app.w),
            Some(seg) => inner.wait_durable((seg.id(), app.w.end)),
            None => Ok(()),
        };
        inner.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        synced
    }

    /// True once `shutdown` has run (or started).
    pub fn is_shutdown(&self) -> bool {
        self.inner.shut.load(Ordering::Acquire)
    }

    /// The segment with id `id`, if it is live.
    pub fn segment(&self, id: u64) -> Option<Arc<Segment>> {
        self.inner.registry.load().get(&id).cloned()
    }

    /// Every live segment, in log order.
    pub fn segments(&self) -> Vec<Arc<Segment>> {
        self.inner.registry.load().values().cloned().collect()
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
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn validate_entries(entries: &[WriteEntry<'_>]) -> Result<(u64, u64)> {
    let (mut total, mut largest) = (0u64, 0u64);
    for e in entries {
        let hlen = e.header.map_or(0, <[u8]>::len);
        if hlen > MAX_HEADER_LEN {
            return Err(WalError::HeaderTooLarge {
                size: hlen,
                max: MAX_HEADER_LEN,
            });
        }
        if e.content.len() as u64 > MAX_CONTENT_LEN {
            return Err(WalError::InvalidArgument(format!(
                "record content of {} bytes exceeds the maximum of {MAX_CONTENT_LEN}",
                e.content.len()
            )));
        }
        let size = record_size(hlen, e.content.len());
        total += size;
        largest = largest.max(size);
    }
    Ok((total, largest))
}

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

/// Appends of records of [`PACK_RECORD_LIMIT`] bytes on average at most
/// (with their frames), none larger than this, are copied into one buffer
/// and written with one `pwrite` per this many bytes: for small records the
/// copy costs less than building and walking an iovec per frame, header and
/// content, and a batch becomes few contiguous writes. Larger records are
/// not copied (measured: a 4 KiB append is faster from the caller's buffer).
/// Batches of 128 B records above this size went through iovecs until
/// session 6: ~130 ns per record at 1,000 records, ~193 at 10,000, against
/// ~87 packed.
const PACK_LIMIT: u64 = 64 << 10;
const PACK_RECORD_LIMIT: u64 = 1 << 10;

thread_local! {
    /// Each appending thread's buffer for packed appends (at most
    /// `PACK_LIMIT` bytes, kept for the thread's life).
    static PACK_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How the records of one append are encoded and written.
trait Encoding {
    /// Encode the records for `seg` (the CRC seed and watermark are per
    /// segment) and write them at `offset`, appender lock held.
    fn write(&mut self, seg: &Segment, offset: u64) -> std::io::Result<u64>;
}

/// Small appends: whole records packed into one buffer.
struct Packed<'a, 'e> {
    buf: &'a mut Vec<u8>,
    entries: &'a [WriteEntry<'e>],
    /// Size of all the records with their frames.
    total: u64,
}

impl Encoding for Packed<'_, '_> {
    fn write(&mut self, seg: &Segment, offset: u64) -> std::io::Result<u64> {
        // The watermark read now is still a lower bound when the bytes are
        // written (it only rises).
        let (seed, synced) = (seg.crc_seed(), seg.synced_end());
        if self.total > PACK_LIMIT {
            return self.write_in_pieces(seg, offset, seed, synced);
        }
        self.buf.clear();
        let records = self.entries.iter().map(|e| (e.header, e.content));
        append_records(self.buf, seed, synced, records, false);
        seg.write_at(&[IoSlice::new(self.buf)], offset)
    }
}

impl Packed<'_, '_> {
    /// A batch larger than the buffer: one `pwrite` per [`PACK_LIMIT`]
    /// bytes of whole records (out of line: the common single write stays
    /// as short as it was).
    #[inline(never)]
    fn write_in_pieces(
        &mut self,
        seg: &Segment,
        offset: u64,
        seed: u32,
        synced: u64,
    ) -> std::io::Result<u64> {
        let mut at = offset;
        let mut rest = self.entries;
        while !rest.is_empty() {
            // As many whole records as fit in PACK_LIMIT bytes (each fits).
            let mut bytes = 0u64;
            let fit = rest
                .iter()
                .position(|e| {
                    bytes += record_size(e.header.map_or(0, <[u8]>::len), e.content.len());
                    bytes > PACK_LIMIT
                })
                .unwrap_or(rest.len())
                .max(1);
            let (piece, after) = rest.split_at(fit);
            self.buf.clear();
            let records = piece.iter().map(|e| (e.header, e.content));
            append_records(self.buf, seed, synced, records, !after.is_empty());
            at += seg.write_at(&[IoSlice::new(self.buf)], at)?;
            rest = after;
        }
        Ok(at - offset)
    }
}

/// Large appends: frames encoded apart, payloads written from the caller's
/// buffers.
struct Framed<'a, 'e> {
    frames: &'a mut [[u8; RECORD_FRAME_SIZE]],
    entries: &'a [WriteEntry<'e>],
}

impl Encoding for Framed<'_, '_> {
    fn write(&mut self, seg: &Segment, offset: u64) -> std::io::Result<u64> {
        let (seed, synced) = (seg.crc_seed(), seg.synced_end());
        let last = self.entries.len() - 1;
        for (i, (frame, e)) in self.frames.iter_mut().zip(self.entries).enumerate() {
            encode_frame_seeded(frame, seed, synced, e.header, e.content, i != last);
        }
        if let ([frame], [e]) = (&*self.frames, self.entries) {
            let iov = [
                IoSlice::new(frame),
                IoSlice::new(e.header.unwrap_or(&[])),
                IoSlice::new(e.content),
            ];
            return seg.write_at(&iov, offset);
        }
        let mut iov = Vec::with_capacity(self.entries.len() * 3);
        for (frame, e) in self.frames.iter().zip(self.entries) {
            iov.push(IoSlice::new(frame));
            if let Some(h) = e.header {
                iov.push(IoSlice::new(h));
            }
            iov.push(IoSlice::new(e.content));
        }
        seg.write_at(&iov, offset)
    }
}

impl Inner {
    /// The appender lock. A panic under it cannot leave `Appender`
    /// half-updated (each field is written in one store, after the write it
    /// describes), so its poison flag carries no information.
    pub(crate) fn lock_appender(&self) -> std::sync::MutexGuard<'_, Appender> {
        self.appender.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Put an append of `total` bytes (`count` records) in the log: under
    /// the appender lock, pick the segment for `window` (rotating when the
    /// window is later or the size cap is reached), encode for it, and write
    /// at its end. Returns the segment id and the offset of the first record.
    fn place(
        &self,
        window: i64,
        total: u64,
        count: usize,
        records: &mut impl Encoding,
    ) -> Result<(u64, u64)> {
        let mut guard = self.lock_appender();
        let app = &mut *guard;
        if self.shut.load(Ordering::Acquire) {
            return Err(WalError::Shutdown);
        }
        self.poison.check()?;
        let cap = self.cfg.max_segment_bytes;
        let seg = loop {
            match &app.seg {
                Some(seg)
                    if seg.window_start_ms() >= window
                        && !(cap != 0
                            && app.w.end > SEGMENT_HEADER_SIZE as u64
                            && app.w.end + total > cap) =>
                {
                    break seg
                }
                // A new segment is empty and its window is at least
                // `window`: the second pass takes it.
                _ => self.rotate(app, window)?,
            }
        };
        let w = &mut app.w;
        let offset = w.end;
        if offset + total > w.file_len && seg.has_durable_use() && !w.prewrite_failed {
            self.prewrite(seg, w, offset + total)?;
        }
        match records.write(seg, offset) {
            Ok(_) => {
                w.end = offset + total;
                w.file_len = w.file_len.max(w.end);
                seg.publish_end(w.end);
                Ok((seg.id(), offset))
            }
            Err(e) => {
                // Leave no partial record behind: the next append must start at
                // the same `end`, and recovery must not see garbage mid-log.
                if let Err(te) = seg.truncate(offset) {
                    self.poison.set(
                        format!("truncating segment {} after a failed write", seg.id()),
                        &te,
                    );
                }
                // A group commit (which syncs without this lock) may have made
                // the partial write's length durable before the cut: the cut
                // must be fsync'ed when the segment is sealed.
                w.file_len = w.file_len.max(offset + total);
                Err(WalError::io(
                    format!(
                        "writing {count} record(s) ({total} bytes) to segment {} at offset {offset}",
                        seg.id()
                    ),
                    e,
                ))
            }
        }
    }

    /// Roll the log to a new segment for `window` (or the active segment's
    /// window if later), appender lock held.
    ///
    /// Order matters for crash safety: the old segment is sealed and
    /// fdatasync'ed first, then the new file is created (header fsync'ed,
    /// directory fsync'ed), then published. So a new segment file on disk
    /// implies a complete, durable predecessor, and only the newest segment
    /// can ever have a torn tail. If creating the new segment fails, the old
    /// one stays active (synced, and trimmed to its last record).
    fn rotate(&self, app: &mut Appender, window: i64) -> Result<()> {
        let mut rot = self.rotation.lock().unwrap_or_else(|p| p.into_inner());
        self.poison.check()?;
        let window = match &app.seg {
            Some(seg) => window.max(seg.window_start_ms()),
            None => window,
        };
        let expiration = self.cfg.expiration(window)?;
        if let Some(seg) = &app.seg {
            self.seal(seg, &mut app.w)?;
        }
        let header = SegmentHeader {
            segment_id: rot.next_id,
            expiration_ms: expiration,
            window_start_ms: window,
        };
        let seg = Segment::create(&self.dir, &self.stream, header, self.cfg.file_mode).and_then(
            |seg| match sys::fsync(&self.dir_file, &self.dir) {
                Ok(()) => Ok(Arc::new(seg)),
                Err(e) => {
                    // The segment is not published and holds nothing. Remove it,
                    // as `Segment::create` does when its own fsync fails: left
                    // behind, it would make every later rotation to this id fail
                    // on `create_new` (EEXIST) until the log is reopened.
                    let _ = std::fs::remove_file(seg.path());
                    Err(WalError::io(
                        format!("fsync of directory {}", self.dir.display()),
                        e,
                    ))
                }
            },
        )?;
        rot.next_id += 1;
        let mut registry = BTreeMap::clone(&self.registry.load());
        registry.insert(seg.id(), seg.clone());
        self.registry.store(Arc::new(registry));
        self.active.store(Some(seg.clone()));
        app.w = WriteState::at(SEGMENT_HEADER_SIZE as u64);
        app.seg = Some(seg);
        Ok(())
    }

    /// Make the active segment end at its last record, durably: cut
    /// pre-written zeros (and make the new length durable with a full
    /// fsync), or fdatasync it. Appender lock held. Fails on a poisoned
    /// log; a failure poisons it (the sync may have dropped dirty pages of
    /// records).
    fn seal(&self, seg: &Segment, w: &mut WriteState) -> Result<()> {
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
        self.commit.mark_durable((seg.id(), w.end));
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
    fn prewrite(&self, seg: &Segment, w: &mut WriteState, need: u64) -> Result<()> {
        let piece = PREWRITE_PIECE as u64;
        let mut target = (need.max(w.file_len) + PREWRITE_CHUNK).next_multiple_of(piece);
        let cap = self.cfg.max_segment_bytes;
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

    pub(crate) fn wait_durable(&self, target: (u64, u64)) -> Result<()> {
        self.commit
            .wait_durable(target, &self.poison, || self.active.load_full())
    }
}

//! The write side of a stream: open (with recovery), appends, rotation,
//! group-committed durability, sync and shutdown.

use crate::durability::{GroupCommit, Poison};
use crate::error::{Result, WalError};
use crate::format::{
    append_record, encode_frame_seeded, record_size, SegmentHeader, MAX_CONTENT_LEN,
    MAX_HEADER_LEN, RECORD_FRAME_SIZE, SEGMENT_HEADER_SIZE,
};
use crate::options::{lock_file_name, validate_stream_name, Config, WalOptions};
use crate::recovery;
use crate::segment::{Segment, WriterState};
use crate::sys::{self, LockAttempt, StreamLock};
use arc_swap::{ArcSwap, ArcSwapOption};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Where a record lives: its segment, the byte offset of its first byte in
/// the segment file, and its whole on-disk size (framing included). Refs are
/// totally ordered by `(segment_id, offset)` in append order, so they serve as
/// log sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryRef {
    pub segment_id: u64,
    pub offset: u64,
    pub size: u64,
}

/// One record of an `append_batch`.
#[derive(Debug, Clone, Copy)]
pub struct WriteEntry<'a> {
    pub header: Option<&'a [u8]>,
    pub content: &'a [u8],
}

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

#[derive(Debug)]
pub(crate) struct Inner {
    pub dir: PathBuf,
    pub stream: String,
    pub options: WalOptions,
    pub cfg: Config,
    pub dir_file: File,
    /// The segment appends go to (None until the first append of a new stream).
    pub active: ArcSwapOption<Segment>,
    /// Every live segment by id, for reads. Replaced whole (copy on write)
    /// under the rotation lock; readers load it without locking.
    pub registry: ArcSwap<BTreeMap<u64, Arc<Segment>>>,
    /// Taken by the one thread that creates a segment, and by cleanup.
    pub rotation: Mutex<RotationState>,
    pub commit: GroupCommit,
    pub poison: Poison,
    /// Appends hold it shared; shutdown takes it exclusively to wait for
    /// appends in flight.
    pub gate: RwLock<()>,
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
        let inner = Inner {
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
            gate: RwLock::new(()),
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
    /// thread's reusable buffer and written with one `pwrite` (one CRC pass
    /// over each record as it lies in the buffer, nothing allocated once the
    /// buffer has grown); larger ones are written from the caller's buffers
    /// with `pwritev` (frames on the stack for a single record).
    fn write_entries(
        &self,
        entries: &[WriteEntry<'_>],
        now_ms: i64,
        durable: bool,
    ) -> Result<(u64, u64)> {
        let inner = &*self.inner;
        let total = validate_entries(entries)?;
        let window = inner.cfg.window_start(now_ms)?;
        inner.cfg.expiration(window)?;
        let _gate = inner.gate.read().unwrap_or_else(|p| p.into_inner());
        if inner.shut.load(Ordering::Acquire) {
            return Err(WalError::Shutdown);
        }
        let small = total <= PACK_LIMIT && total <= PACK_RECORD_LIMIT * entries.len() as u64;
        let (segment_id, offset) = if small {
            let pack = |buf: &mut Vec<u8>| {
                let mut packed = Packed { buf, entries };
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

    /// Stop taking appends (they get `Shutdown`), wait for appends in flight,
    /// sync, and release the stream lock. Idempotent; `Drop` calls it.
    pub fn shutdown(&self) -> Result<()> {
        let inner = &*self.inner;
        let _exclusive = inner.gate.write().unwrap_or_else(|p| p.into_inner());
        if inner.shut.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let synced = match inner.active.load_full() {
            Some(seg) => inner.wait_durable((seg.id(), seg.len())),
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

fn validate_entries(entries: &[WriteEntry<'_>]) -> Result<u64> {
    let mut total = 0u64;
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
        total += record_size(hlen, e.content.len());
    }
    Ok(total)
}

/// Zeros pre-written at a time ahead of durable appends (see `Inner::prewrite`):
/// one metadata-bearing fdatasync per this many bytes of records.
const PREWRITE_CHUNK: u64 = 1 << 20;

/// Appends up to this size (records with their frames), of records of
/// [`PACK_RECORD_LIMIT`] bytes on average at most, are copied into one buffer
/// and written with one `pwrite`: for small records the copy costs less than
/// building and walking an iovec per frame, header and content, and a batch
/// becomes one contiguous write. Larger records are not copied (measured: a
/// 4 KiB append is faster from the caller's buffer).
const PACK_LIMIT: u64 = 64 << 10;
const PACK_RECORD_LIMIT: u64 = 1 << 10;

thread_local! {
    /// Each appending thread's buffer for packed appends (at most about
    /// `PACK_LIMIT` bytes, kept for the thread's life).
    static PACK_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How the bytes of one append are encoded for a segment and written.
trait Encoding {
    /// Encode the records for `seg` (called again if the append moves to
    /// another segment: the CRC seed and watermark are per segment).
    fn encode(&mut self, seg: &Segment);
    /// Write the encoded records at `offset` (writer lock held).
    fn write(&self, seg: &Segment, offset: u64) -> std::io::Result<u64>;
}

/// Small appends: whole records packed into one buffer.
struct Packed<'a, 'e> {
    buf: &'a mut Vec<u8>,
    entries: &'a [WriteEntry<'e>],
}

impl Encoding for Packed<'_, '_> {
    fn encode(&mut self, seg: &Segment) {
        // The watermark read now is still a lower bound when the bytes are
        // written (it only rises).
        let (seed, synced) = (seg.crc_seed(), seg.synced_end());
        let last = self.entries.len() - 1;
        self.buf.clear();
        for (i, e) in self.entries.iter().enumerate() {
            append_record(self.buf, seed, synced, e.header, e.content, i != last);
        }
    }
    fn write(&self, seg: &Segment, offset: u64) -> std::io::Result<u64> {
        seg.write_at(&[IoSlice::new(self.buf)], offset)
    }
}

/// Large appends: frames encoded apart, payloads written from the caller's
/// buffers.
struct Framed<'a, 'e> {
    frames: &'a mut [[u8; RECORD_FRAME_SIZE]],
    entries: &'a [WriteEntry<'e>],
}

impl Encoding for Framed<'_, '_> {
    fn encode(&mut self, seg: &Segment) {
        let (seed, synced) = (seg.crc_seed(), seg.synced_end());
        let last = self.entries.len() - 1;
        for (i, (frame, e)) in self.frames.iter_mut().zip(self.entries).enumerate() {
            encode_frame_seeded(frame, seed, synced, e.header, e.content, i != last);
        }
    }
    fn write(&self, seg: &Segment, offset: u64) -> std::io::Result<u64> {
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
    /// Put an append of `total` bytes (`count` records) in the log: pick the
    /// segment for `window` (rotating when the window is later or the size
    /// cap is reached), encode for it, and write at its end under its writer
    /// lock. Returns the segment id and the offset of the first record.
    fn place(
        &self,
        window: i64,
        total: u64,
        count: usize,
        records: &mut impl Encoding,
    ) -> Result<(u64, u64)> {
        let mut encoded_for = None;
        loop {
            self.poison.check()?;
            let seg = self.segment_for(window)?;
            if encoded_for != Some(seg.id()) {
                records.encode(&seg);
                encoded_for = Some(seg.id());
            }
            let mut w = seg.lock_writer();
            if w.sealed {
                continue;
            }
            let cap = self.cfg.max_segment_bytes;
            if cap != 0 && w.end > SEGMENT_HEADER_SIZE as u64 && w.end + total > cap {
                drop(w);
                self.rotate(Some(seg.id()), window.max(seg.window_start_ms()))?;
                continue;
            }
            let offset = w.end;
            if offset + total > w.file_len && seg.has_durable_use() && !w.prewrite_failed {
                self.prewrite(&seg, &mut w, offset + total)?;
            }
            return match records.write(&seg, offset) {
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
                    Err(WalError::io(
                        format!(
                            "writing {count} record(s) ({total} bytes) to segment {} at offset {offset}",
                            seg.id()
                        ),
                        e,
                    ))
                }
            };
        }
    }

    /// The segment a record of window `window` goes to: the active one,
    /// unless the window is later (then roll forward first).
    fn segment_for(&self, window: i64) -> Result<Arc<Segment>> {
        loop {
            let active = self.active.load_full();
            match &active {
                Some(seg) if seg.window_start_ms() >= window => return Ok(seg.clone()),
                _ => self.rotate(active.as_ref().map(|s| s.id()), window)?,
            }
        }
    }

    /// Roll the log to a new segment for `window`, unless another thread
    /// already replaced the segment `expected` (then the caller reloads).
    ///
    /// Order matters for crash safety: the old segment is sealed and
    /// fdatasync'ed first, then the new file is created (header fsync'ed,
    /// directory fsync'ed), then published. So a new segment file on disk
    /// implies a complete, durable predecessor, and only the newest segment
    /// can ever have a torn tail.
    pub(crate) fn rotate(&self, expected: Option<u64>, window: i64) -> Result<()> {
        let mut rot = self.rotation.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.active.load_full();
        if current.as_ref().map(|s| s.id()) != expected {
            return Ok(());
        }
        self.poison.check()?;
        let window = match &current {
            Some(seg) => window.max(seg.window_start_ms()),
            None => window,
        };
        let expiration = self.cfg.expiration(window)?;
        // Hold the old segment's writer lock until the new one is published:
        // appenders that still hold the old segment wait here, then see it
        // sealed and move to the new one.
        let mut old_writer = match &current {
            Some(seg) => {
                let mut w = seg.lock_writer();
                w.sealed = true;
                // A sealed segment ends at its last record: cut pre-written
                // zeros (and make the new length durable with a full fsync).
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
                Some((seg, w))
            }
            None => None,
        };
        let header = SegmentHeader {
            segment_id: rot.next_id,
            expiration_ms: expiration,
            window_start_ms: window,
        };
        let created = Segment::create(&self.dir, &self.stream, header, self.cfg.file_mode)
            .and_then(|seg| match sys::fsync(&self.dir_file, &self.dir) {
                Ok(()) => Ok(seg),
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
            });
        let seg = match created {
            Ok(seg) => Arc::new(seg),
            Err(e) => {
                if let Some((_, w)) = old_writer.as_mut() {
                    w.sealed = false;
                }
                return Err(e);
            }
        };
        rot.next_id += 1;
        let mut registry = BTreeMap::clone(&self.registry.load());
        registry.insert(seg.id(), seg.clone());
        self.registry.store(Arc::new(registry));
        self.active.store(Some(seg));
        drop(old_writer);
        Ok(())
    }

    /// Write zeros from the end of the file to past `need` (a whole
    /// [`PREWRITE_CHUNK`], within the size cap) and fdatasync them, so that
    /// the records later written there overwrite allocated, durable blocks
    /// inside the file's durable size: their fdatasync then flushes data only,
    /// without the metadata update (size, block allocation) that makes a sync
    /// of a growing file cost a journal commit. Done only in segments that
    /// durable appends use. Recovery and sealing cut the zeros off (a run of
    /// zeros after the last record is preallocated space, docs/FORMAT.md).
    ///
    /// A failed write of the zeros (the disk is full, the file size limit) is
    /// not an error of the append: the zeros are cut again and the append is
    /// written as without pre-writing. A failed fdatasync is (fail-stop, as
    /// for a group commit: it may have dropped dirty pages of records).
    fn prewrite(&self, seg: &Segment, w: &mut WriterState, need: u64) -> Result<()> {
        let mut target = need.max(w.file_len) + PREWRITE_CHUNK;
        let cap = self.cfg.max_segment_bytes;
        if cap != 0 {
            target = target.min(cap.max(need));
        }
        if target <= w.file_len {
            return Ok(());
        }
        let zeros = vec![0u8; (target - w.file_len) as usize];
        if seg.write_at(&[IoSlice::new(&zeros)], w.file_len).is_err() {
            w.prewrite_failed = true;
            // Harmless if this fails too: zeros after the last record are
            // cut by sealing and recovery, and the next write starts at `end`.
            let _ = seg.truncate(w.end);
            return Ok(());
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

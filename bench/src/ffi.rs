// SPDX-License-Identifier: MIT
//! nano_wal through its C API: the `nwal_*` functions declared here as a C
//! program would see them (include/nano_wal.h), resolved at link time from
//! the nano_wal rlib where they are `#[no_mangle]`. This column shows what the
//! C boundary costs over the Rust API (target: within 10% on every row).

#[cfg(feature = "ffi")]
pub use imp::Ffi;

#[cfg(not(feature = "ffi"))]
pub struct Ffi;

#[cfg(not(feature = "ffi"))]
impl crate::harness::System for Ffi {
    fn name(&self) -> &'static str {
        "nano_wal (C API)"
    }
}

#[cfg(feature = "ffi")]
mod imp {
    use crate::harness::{
        fan_out, now_ms, payload, sample, time, Cell, Missing, Reader, Sample, System,
    };
    use std::ffi::{c_char, CStr, CString};
    use std::hint::black_box;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::ptr;

    #[repr(C)]
    pub struct Nwal {
        _opaque: [u8; 0],
    }
    #[repr(C)]
    pub struct NwalReadBuf {
        _opaque: [u8; 0],
    }
    #[repr(C)]
    pub struct NwalIter {
        _opaque: [u8; 0],
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub struct EntryRef {
        segment_id: u64,
        offset: u64,
        size: u64,
        index: u64,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct WriteEntry {
        header: *const u8,
        header_len: usize,
        content: *const u8,
        content_len: usize,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct Record {
        header: *const u8,
        header_len: usize,
        content: *const u8,
        content_len: usize,
    }
    const EMPTY_RECORD: Record = Record {
        header: ptr::null(),
        header_len: 0,
        content: ptr::null(),
        content_len: 0,
    };

    const NWAL_OK: i32 = 0;
    const NWAL_DONE: i32 = 100;
    const NWAL_DURABLE: u32 = 1;

    // The status enum is a C int; it is declared as i32 here so that an
    // unexpected value can never be undefined behaviour on the Rust side.
    // `opts` is always NULL (the defaults), so the bench does not depend on
    // the layout of nwal_options.
    extern "C" {
        fn nwal_open(
            dir: *const c_char,
            stream: *const c_char,
            opts: *const u8,
            out: *mut *mut Nwal,
        ) -> i32;
        fn nwal_append(
            w: *mut Nwal,
            header: *const u8,
            header_len: usize,
            content: *const u8,
            content_len: usize,
            now_ms: i64,
            flags: u32,
            out_ref: *mut EntryRef,
        ) -> i32;
        fn nwal_append_batch(
            w: *mut Nwal,
            entries: *const WriteEntry,
            count: usize,
            now_ms: i64,
            flags: u32,
            out_refs: *mut EntryRef,
        ) -> i32;
        fn nwal_read_buf_free(buf: *mut NwalReadBuf);
        fn nwal_read_buf_new(out: *mut *mut NwalReadBuf) -> i32;
        fn nwal_read_batch_into(
            w: *mut Nwal,
            refs: *const EntryRef,
            count: usize,
            buf: *mut NwalReadBuf,
            out_records: *mut Record,
        ) -> i32;
        fn nwal_read_range_into(
            w: *mut Nwal,
            from: u64,
            max_count: usize,
            max_bytes: u64,
            buf: *mut NwalReadBuf,
            out_records: *mut Record,
            out_refs: *mut EntryRef,
            out_count: *mut usize,
        ) -> i32;
        fn nwal_iter_next_batch(
            it: *mut NwalIter,
            out_records: *mut Record,
            out_refs: *mut EntryRef,
            max_count: usize,
            out_count: *mut usize,
        ) -> i32;
        fn nwal_iter_open(w: *mut Nwal, from: *const EntryRef, out: *mut *mut NwalIter) -> i32;
        fn nwal_iter_free(it: *mut NwalIter);
        fn nwal_truncate_after(w: *mut Nwal, index: u64) -> i32;
        fn nwal_sync(w: *mut Nwal) -> i32;
        fn nwal_close(w: *mut Nwal) -> i32;
        fn nwal_last_error_message() -> *const c_char;
    }

    fn err(call: &str, status: i32) -> String {
        // SAFETY: the library returns a static or thread-local NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(nwal_last_error_message()) };
        format!("{call} returned {status}: {}", msg.to_string_lossy())
    }

    /// An open handle. The C API is thread-safe on a shared handle (all but
    /// `nwal_close`), which the bench relies on for the multi-thread rows.
    struct Handle(*mut Nwal);
    // SAFETY: nwal_* functions other than nwal_close may be called on one
    // handle from many threads (include/nano_wal.h, "Thread-safe" on each
    // function); close happens in Drop, after every thread has been joined.
    unsafe impl Send for Handle {}
    // SAFETY: as for Send: shared use from many threads is what the C API
    // documents for every function but nwal_close.
    unsafe impl Sync for Handle {}

    impl Handle {
        fn open(dir: &Path) -> Result<Handle, Missing> {
            let d = CString::new(dir.as_os_str().as_bytes())
                .map_err(|e| Missing::Failed(e.to_string()))?;
            let mut w = ptr::null_mut();
            // SAFETY: valid C strings, NULL options, a valid out pointer.
            let st = unsafe { nwal_open(d.as_ptr(), c"bench".as_ptr(), ptr::null(), &mut w) };
            if st != NWAL_OK {
                return Err(Missing::Failed(err("nwal_open", st)));
            }
            Ok(Handle(w))
        }

        fn append(&self, buf: &[u8], now: i64, flags: u32) -> Result<EntryRef, String> {
            let mut r = EntryRef::default();
            // SAFETY: live handle; `buf` outlives the call.
            let st = unsafe {
                nwal_append(
                    self.0,
                    ptr::null(),
                    0,
                    buf.as_ptr(),
                    buf.len(),
                    now,
                    flags,
                    &mut r,
                )
            };
            if st != NWAL_OK {
                return Err(err("nwal_append", st));
            }
            Ok(r)
        }

        fn append_batch(
            &self,
            entries: &[WriteEntry],
            now: i64,
            out: &mut [EntryRef],
        ) -> Result<(), String> {
            // SAFETY: `out` has `entries.len()` slots; the entries point at live buffers.
            let st = unsafe {
                nwal_append_batch(
                    self.0,
                    entries.as_ptr(),
                    entries.len(),
                    now,
                    0,
                    out.as_mut_ptr(),
                )
            };
            if st != NWAL_OK {
                return Err(err("nwal_append_batch", st));
            }
            Ok(())
        }

        /// Read `refs` into `buf` (the caller's, reused: `nwal_read_batch_into`)
        /// and hand back their content bytes, the way a C caller reading
        /// repeatedly does it.
        fn read_batch(
            &self,
            refs: &[EntryRef],
            buf: &KeptBuf,
            out: &mut Vec<Record>,
        ) -> Result<u64, String> {
            out.clear();
            out.resize(refs.len(), EMPTY_RECORD);
            // SAFETY: live handle and buffer (used by this thread only);
            // `out` has refs.len() slots.
            let st = unsafe {
                nwal_read_batch_into(self.0, refs.as_ptr(), refs.len(), buf.0, out.as_mut_ptr())
            };
            if st != NWAL_OK {
                return Err(err("nwal_read_batch_into", st));
            }
            let bytes = out.iter().map(|r| r.content_len as u64).sum();
            black_box(&out);
            Ok(bytes)
        }

        /// Read up to `count` records from index `from` (no byte budget)
        /// into `buf` (`nwal_read_range_into`) and hand back how many and
        /// their content bytes.
        fn read_range(
            &self,
            from: u64,
            count: usize,
            buf: &KeptBuf,
            out: &mut Vec<Record>,
        ) -> Result<(u64, u64), String> {
            out.clear();
            out.resize(count, EMPTY_RECORD);
            let mut n = 0usize;
            // SAFETY: live handle and buffer; `out` has `count` slots; NULL
            // refs are allowed; the count output is valid.
            let st = unsafe {
                nwal_read_range_into(
                    self.0,
                    from,
                    count,
                    u64::MAX,
                    buf.0,
                    out.as_mut_ptr(),
                    ptr::null_mut(),
                    &mut n,
                )
            };
            if st != NWAL_OK {
                return Err(err("nwal_read_range_into", st));
            }
            let bytes = out[..n].iter().map(|r| r.content_len as u64).sum();
            black_box(&out);
            Ok((n as u64, bytes))
        }

        /// Replay the whole log, `REPLAY_BATCH` records per call
        /// (`nwal_iter_next_batch`).
        fn replay(&self) -> Result<(u64, u64), String> {
            let mut it = ptr::null_mut();
            // SAFETY: live handle, NULL = from the start.
            let st = unsafe { nwal_iter_open(self.0, ptr::null(), &mut it) };
            if st != NWAL_OK {
                return Err(err("nwal_iter_open", st));
            }
            let (mut n, mut bytes) = (0u64, 0u64);
            let mut recs = [EMPTY_RECORD; REPLAY_BATCH];
            let result = loop {
                let mut got = 0usize;
                // SAFETY: live iterator; REPLAY_BATCH record slots; NULL refs.
                let st = unsafe {
                    nwal_iter_next_batch(
                        it,
                        recs.as_mut_ptr(),
                        ptr::null_mut(),
                        REPLAY_BATCH,
                        &mut got,
                    )
                };
                match st {
                    NWAL_OK => {
                        n += got as u64;
                        bytes += recs[..got]
                            .iter()
                            .map(|r| r.content_len as u64)
                            .sum::<u64>();
                        black_box(&recs);
                    }
                    NWAL_DONE => break Ok((n, bytes)),
                    st => break Err(err("nwal_iter_next_batch", st)),
                }
            };
            // SAFETY: opened above, freed once.
            unsafe { nwal_iter_free(it) };
            result
        }
    }

    /// Records one replay call asks for.
    const REPLAY_BATCH: usize = 256;

    /// A read buffer the caller keeps (`nwal_read_buf_new`), freed on drop.
    struct KeptBuf(*mut NwalReadBuf);

    impl KeptBuf {
        fn new() -> Result<KeptBuf, Missing> {
            let mut buf = ptr::null_mut();
            // SAFETY: a valid out pointer.
            let st = unsafe { nwal_read_buf_new(&mut buf) };
            if st != NWAL_OK {
                return Err(Missing::Failed(err("nwal_read_buf_new", st)));
            }
            Ok(KeptBuf(buf))
        }
    }

    impl Drop for KeptBuf {
        fn drop(&mut self) {
            // SAFETY: from nwal_read_buf_new, freed once, no record of it
            // is used after the reader that owns it is gone.
            unsafe { nwal_read_buf_free(self.0) };
        }
    }

    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: every user of the handle has finished.
            unsafe { nwal_close(self.0) };
        }
    }

    fn fill(h: &Handle, size: usize, count: usize) -> Result<Vec<EntryRef>, Missing> {
        let buf = payload(size);
        let now = now_ms();
        let mut refs = vec![EntryRef::default(); count];
        for chunk in refs.chunks_mut(1000) {
            let entries = vec![
                WriteEntry {
                    header: ptr::null(),
                    header_len: 0,
                    content: buf.as_ptr(),
                    content_len: size
                };
                chunk.len()
            ];
            h.append_batch(&entries, now, chunk)
                .map_err(Missing::Failed)?;
        }
        Ok(refs)
    }

    pub struct Ffi;

    struct FfiReader {
        h: Handle,
        refs: Vec<EntryRef>,
        out: Vec<Record>,
        buf: KeptBuf,
    }

    impl Reader for FfiReader {
        fn held_bytes(&self) -> u64 {
            (self.refs.capacity() * std::mem::size_of::<EntryRef>()) as u64
        }

        fn random(&mut self, idx: &[usize]) -> Cell {
            time(|| {
                let mut bytes = 0;
                for &i in idx {
                    bytes += self
                        .h
                        .read_batch(&self.refs[i..i + 1], &self.buf, &mut self.out)
                        .map_err(Missing::Failed)?;
                }
                Ok((idx.len() as u64, bytes))
            })
        }

        fn runs(&mut self, starts: &[usize], len: usize) -> Cell {
            time(|| {
                let mut bytes = 0;
                for &s in starts {
                    bytes += self
                        .h
                        .read_batch(&self.refs[s..s + len], &self.buf, &mut self.out)
                        .map_err(Missing::Failed)?;
                }
                Ok(((starts.len() * len) as u64, bytes))
            })
        }

        fn replay(&mut self) -> Cell {
            time(|| self.h.replay().map_err(Missing::Failed))
        }

        fn random_by_index(&mut self, idx: &[usize]) -> Cell {
            time(|| {
                let mut bytes = 0;
                for &i in idx {
                    let (_, b) = self
                        .h
                        .read_range(self.refs[i].index, 1, &self.buf, &mut self.out)
                        .map_err(Missing::Failed)?;
                    bytes += b;
                }
                Ok((idx.len() as u64, bytes))
            })
        }

        fn ranges(&mut self, starts: &[usize], len: usize) -> Cell {
            time(|| {
                let (mut n, mut bytes) = (0, 0);
                for &s in starts {
                    let (k, b) = self
                        .h
                        .read_range(self.refs[s].index, len, &self.buf, &mut self.out)
                        .map_err(Missing::Failed)?;
                    n += k;
                    bytes += b;
                }
                Ok((n, bytes))
            })
        }
    }

    impl System for Ffi {
        fn name(&self) -> &'static str {
            "nano_wal (C API)"
        }

        fn append(
            &self,
            dir: &Path,
            size: usize,
            threads: usize,
            per_thread: usize,
            durable: bool,
        ) -> Cell {
            let h = Handle::open(dir)?;
            let buf = payload(size);
            let now = now_ms();
            let flags = if durable { NWAL_DURABLE } else { 0 };
            let (secs, ops) = fan_out(threads, per_thread, |_, _| {
                h.append(&buf, now, flags).map(drop)
            })?;
            Ok(sample(ops, size, secs))
        }

        fn batches(&self, dir: &Path, size: usize, batches: usize, batch_len: usize) -> Cell {
            let h = Handle::open(dir)?;
            let buf = payload(size);
            let now = now_ms();
            let entries = vec![
                WriteEntry {
                    header: ptr::null(),
                    header_len: 0,
                    content: buf.as_ptr(),
                    content_len: size
                };
                batch_len
            ];
            let mut refs = vec![EntryRef::default(); batch_len];
            time(|| {
                for _ in 0..batches {
                    h.append_batch(&entries, now, &mut refs)
                        .map_err(Missing::Failed)?;
                }
                Ok((
                    (batches * batch_len) as u64,
                    (batches * batch_len * size) as u64,
                ))
            })
        }

        fn prefill<'a>(
            &'a self,
            dir: &'a Path,
            size: usize,
            count: usize,
        ) -> Result<Box<dyn Reader + 'a>, Missing> {
            let h = Handle::open(dir)?;
            let refs = fill(&h, size, count)?;
            Ok(Box::new(FfiReader {
                h,
                refs,
                out: Vec::new(),
                buf: KeptBuf::new()?,
            }))
        }

        fn build(&self, dir: &Path, size: usize, bytes: u64) -> Result<(), Missing> {
            let h = Handle::open(dir)?;
            fill(&h, size, (bytes / size as u64) as usize)?;
            Ok(())
        }

        /// Built through the Rust API (the C API would need the layout of
        /// `nwal_options` for the 1 s windows); opened through the C API.
        fn build_segments(&self, dir: &Path, sealed: usize) -> Result<(), Missing> {
            crate::nano::build_segments(dir, sealed)
        }

        fn open(&self, dir: &Path) -> Cell {
            let start = std::time::Instant::now();
            let h = Handle::open(dir)?;
            let secs = start.elapsed().as_secs_f64();
            drop(h);
            Ok(Sample {
                ops: 1,
                bytes: 0,
                secs,
            })
        }

        fn truncate_tail(&self, dir: &Path, keep: u64, dropped: u64) -> Cell {
            let h = Handle::open(dir)?;
            let buf = payload(128);
            let now = now_ms();
            for _ in 0..keep + dropped {
                h.append(&buf, now, 0).map_err(Missing::Failed)?;
            }
            // SAFETY: a live handle. Synced first, as in the Rust column.
            let st = unsafe { nwal_sync(h.0) };
            if st != NWAL_OK {
                return Err(Missing::Failed(err("nwal_sync", st)));
            }
            let start = std::time::Instant::now();
            // SAFETY: a live handle.
            let st = unsafe { nwal_truncate_after(h.0, keep) };
            let secs = start.elapsed().as_secs_f64();
            if st != NWAL_OK {
                return Err(Missing::Failed(err("nwal_truncate_after", st)));
            }
            std::mem::drop(h);
            Ok(Sample {
                ops: 1,
                bytes: 0,
                secs,
            })
        }

        fn open_and_replay(&self, dir: &Path) -> Result<u64, Missing> {
            let h = Handle::open(dir)?;
            h.replay().map(|(n, _)| n).map_err(Missing::Failed)
        }
    }
}

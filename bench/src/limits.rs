// SPDX-License-Identifier: MIT
//! The physical limits: what the bare syscalls do on this machine, on this
//! filesystem, in the same run as the engines. A WAL can at best match them
//! (or, for durable appends, beat the per-record fsync by sharing fsyncs).

use crate::harness::{deadline, fail, payload, time, Cell, Missing};
use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

fn create(dir: &Path) -> Result<File, Missing> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("raw.dat"))
        .map_err(fail("create raw.dat"))
}

/// One `pwrite` per record, appending to a fresh file (page cache only).
pub fn pwrite_per_record(dir: &Path, size: usize, count: usize) -> Cell {
    let f = create(dir)?;
    let buf = payload(size);
    time(|| {
        for i in 0..count {
            f.write_all_at(&buf, (i * size) as u64)
                .map_err(fail("pwrite"))?;
        }
        Ok((count as u64, (count * size) as u64))
    })
}

/// One `pwritev` per batch of `batch_len` records (one iovec each).
pub fn pwritev_per_batch(dir: &Path, size: usize, batches: usize, batch_len: usize) -> Cell {
    let f = create(dir)?;
    let buf = payload(size);
    let iov: Vec<libc::iovec> = (0..batch_len)
        .map(|_| libc::iovec {
            iov_base: buf.as_ptr() as *mut _,
            iov_len: size,
        })
        .collect();
    let per_batch = size * batch_len;
    time(|| {
        for b in 0..batches {
            // SAFETY: every iovec points into `buf`, alive for the call.
            let n = unsafe {
                libc::pwritev(
                    f.as_raw_fd(),
                    iov.as_ptr(),
                    batch_len as i32,
                    (b * per_batch) as i64,
                )
            };
            if n != per_batch as isize {
                return Err(Missing::Failed(format!("pwritev returned {n}")));
            }
        }
        Ok(((batches * batch_len) as u64, (batches * per_batch) as u64))
    })
}

/// One `pwrite` per batch of `batch_len` records of `size` bytes laid out
/// in one buffer: the write a WAL that packs a batch makes.
pub fn pwrite_per_packed_batch(dir: &Path, size: usize, batches: usize, batch_len: usize) -> Cell {
    let f = create(dir)?;
    let buf = payload(size * batch_len);
    time(|| {
        for b in 0..batches {
            f.write_all_at(&buf, (b * buf.len()) as u64)
                .map_err(fail("pwrite"))?;
        }
        Ok(((batches * batch_len) as u64, (batches * buf.len()) as u64))
    })
}

/// `pwrite` + `fdatasync` per record. `prewritten` = overwrite a file already
/// written and synced (no size change to journal), else append to a fresh
/// file (every sync also commits the new size).
pub fn pwrite_fdatasync(dir: &Path, size: usize, count: usize, prewritten: bool) -> Cell {
    let f = create(dir)?;
    let buf = payload(size);
    if prewritten {
        let zeros = vec![0u8; 1 << 20];
        let total = (count * size) as u64;
        let mut off = 0u64;
        while off < total {
            let n = zeros.len().min((total - off) as usize);
            f.write_all_at(&zeros[..n], off).map_err(fail("prewrite"))?;
            off += n as u64;
        }
        f.sync_all().map_err(fail("fsync"))?;
    }
    time(|| {
        let stop = deadline(std::time::Instant::now());
        let mut done = 0;
        while done < count && stop.is_none_or(|d| std::time::Instant::now() < d) {
            f.write_all_at(&buf, (done * size) as u64)
                .map_err(fail("pwrite"))?;
            f.sync_data().map_err(fail("fdatasync"))?;
            done += 1;
        }
        Ok((done as u64, (done * size) as u64))
    })
}

/// A file of `count` records of `size` bytes, packed, in the page cache.
pub struct RawFile {
    file: File,
    size: usize,
    count: usize,
}

impl RawFile {
    pub fn write(dir: &Path, size: usize, count: usize) -> Result<RawFile, Missing> {
        let file = create(dir)?;
        let chunk: Vec<u8> = payload(size).repeat((1 << 20) / size.max(1));
        let total = (count * size) as u64;
        let mut off = 0u64;
        while off < total {
            let n = chunk.len().min((total - off) as usize);
            file.write_all_at(&chunk[..n], off).map_err(fail("write"))?;
            off += n as u64;
        }
        Ok(RawFile { file, size, count })
    }

    pub fn len(&self) -> u64 {
        (self.count * self.size) as u64
    }

    /// One `pread` per record at the given indices.
    pub fn pread_per_record(&self, idx: &[usize]) -> Cell {
        let mut buf = vec![0u8; self.size];
        time(|| {
            for &i in idx {
                self.file
                    .read_exact_at(&mut buf, (i * self.size) as u64)
                    .map_err(fail("pread"))?;
                black_box(&buf);
            }
            Ok((idx.len() as u64, (idx.len() * self.size) as u64))
        })
    }

    /// One `pread` per record at the given indices, its position and size
    /// looked up in an index of (segment, offset, size) entries built for
    /// every record of the file: how a WAL's reader, holding refs, reads.
    pub fn pread_indexed(&self, idx: &[usize]) -> Cell {
        let index: Vec<[u64; 3]> = (0..self.count)
            .map(|i| [1, (i * self.size) as u64, self.size as u64])
            .collect();
        let mut buf = vec![0u8; self.size];
        time(|| {
            for &i in idx {
                let [_, offset, size] = index[i];
                self.file
                    .read_exact_at(&mut buf[..size as usize], offset)
                    .map_err(fail("pread"))?;
                black_box(&buf);
            }
            Ok((idx.len() as u64, (idx.len() * self.size) as u64))
        })
    }

    /// One `pread` over each run of `len` contiguous records.
    pub fn pread_per_run(&self, starts: &[usize], len: usize) -> Cell {
        let mut buf = vec![0u8; self.size * len];
        time(|| {
            for &s in starts {
                self.file
                    .read_exact_at(&mut buf, (s * self.size) as u64)
                    .map_err(fail("pread"))?;
                black_box(&buf);
            }
            Ok((
                (starts.len() * len) as u64,
                (starts.len() * len * self.size) as u64,
            ))
        })
    }

    /// The whole file, front to back, in 1 MiB `pread`s: the ceiling of a
    /// replay or a recovery scan from the page cache.
    pub fn sequential(&self) -> Cell {
        let mut buf = vec![0u8; 1 << 20];
        let total = self.len();
        time(|| {
            let mut off = 0u64;
            while off < total {
                let n = buf.len().min((total - off) as usize);
                self.file
                    .read_exact_at(&mut buf[..n], off)
                    .map_err(fail("pread"))?;
                black_box(&buf);
                off += n as u64;
            }
            Ok((self.count as u64, total))
        })
    }
}

/// Copy `count` records of `size` bytes from one buffer to another, record
/// by record: what moving the bytes costs with no kernel involved.
pub fn memcpy(size: usize, count: usize) -> Cell {
    // Cap the buffers at 64 MiB and wrap around, so the copy runs from memory
    // of a realistic size rather than from a tiny cache-resident buffer.
    let span = (64usize << 20).min(size * count).max(size);
    let src = payload(span);
    let mut dst = vec![0u8; span];
    let per_span = span / size;
    time(|| {
        for i in 0..count {
            let off = (i % per_span) * size;
            dst[off..off + size].copy_from_slice(black_box(&src[off..off + size]));
        }
        black_box(&dst);
        Ok((count as u64, (count * size) as u64))
    })
}

/// What opening a stream of many sealed segments cannot do without: for
/// each `.seg` file of `dir` (listed), open it, `fstat` it, `pread` its
/// 64-byte header and its last 40 bytes (where nano_wal's index footer
/// keeps its trailer), close it. One op = the whole directory.
/// The floor of a durable truncation that rewrites no byte: write a small
/// record (32 bytes) after the end of a file and fdatasync it, in `dir`,
/// once.
pub fn append_synced_record(dir: &Path) -> Cell {
    let path = dir.join("limit-truncation");
    std::fs::write(&path, [0u8; 4096]).map_err(fail("write"))?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(fail("open"))?;
    let mut end = 4096u64;
    time(|| {
        f.write_all_at(&[7u8; 32], end).map_err(fail("pwrite"))?;
        f.sync_data().map_err(fail("fdatasync"))?;
        end += 32;
        Ok((1, 0))
    })
}

pub fn open_each_file(dir: &Path) -> Cell {
    time(|| {
        let mut head = [0u8; 64];
        let mut tail = [0u8; 40];
        let mut bytes = 0u64;
        for entry in std::fs::read_dir(dir).map_err(fail("read_dir"))? {
            let path = entry.map_err(fail("read_dir"))?.path();
            if path.extension().is_none_or(|e| e != "seg") {
                continue;
            }
            let f = File::open(&path).map_err(fail("open"))?;
            let len = f.metadata().map_err(fail("fstat"))?.len();
            f.read_exact_at(&mut head, 0).map_err(fail("pread"))?;
            f.read_exact_at(&mut tail, len.saturating_sub(40))
                .map_err(fail("pread"))?;
            bytes += len;
        }
        Ok((1, bytes))
    })
}

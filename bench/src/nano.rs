// SPDX-License-Identifier: MIT
//! nano_wal through its Rust API.

use crate::harness::{fail, fan_out, now_ms, payload, sample, time, Cell, Missing, Reader, System};
use nano_wal::{EntryRef, ReadBuf, Wal, WalOptions, WriteEntry};
use std::hint::black_box;
use std::path::Path;

pub struct Nano;

const STREAM: &str = "bench";

fn open(dir: &Path) -> Result<Wal, Missing> {
    // Defaults: 1 h windows, 7 days retention, no size cap: one segment per run.
    Wal::open(dir, STREAM, WalOptions::default()).map_err(fail("Wal::open"))
}

/// Append `count` records in batches of 1,000, returning their refs.
fn fill(wal: &Wal, size: usize, count: usize) -> Result<Vec<EntryRef>, Missing> {
    let buf = payload(size);
    let now = now_ms();
    let mut refs = Vec::with_capacity(count);
    while refs.len() < count {
        let n = (count - refs.len()).min(1000);
        let entries: Vec<WriteEntry> = (0..n)
            .map(|_| WriteEntry {
                header: None,
                content: &buf,
            })
            .collect();
        refs.extend(
            wal.append_batch(&entries, now, false)
                .map_err(fail("append_batch"))?,
        );
    }
    Ok(refs)
}

/// Records of 128 B in each segment of the many-segments stream.
pub const SEGMENT_RECORDS: usize = 4;

/// A stream of `sealed` sealed segments and a newest one, each of
/// [`SEGMENT_RECORDS`] records in a 1 s window of its own (a batch per
/// window: each batch rotates the log, which seals the segment before it
/// with its index footer). Retention is long: nothing expires.
pub fn build_segments(dir: &Path, sealed: usize) -> Result<(), Missing> {
    let options = WalOptions {
        segment_duration: std::time::Duration::from_secs(1),
        retention: std::time::Duration::from_secs(10 * 365 * 86_400),
        ..WalOptions::default()
    };
    let wal = Wal::open(dir, STREAM, options).map_err(fail("Wal::open"))?;
    let buf = payload(128);
    let entries: Vec<WriteEntry> = (0..SEGMENT_RECORDS)
        .map(|_| WriteEntry {
            header: None,
            content: &buf,
        })
        .collect();
    let t0 = now_ms() - (sealed as i64 + 1) * 1000;
    for k in 0..=sealed {
        wal.append_batch(&entries, t0 + k as i64 * 1000, false)
            .map_err(fail("append_batch"))?;
    }
    wal.shutdown().map_err(fail("shutdown"))
}

/// Append `count` records of `size` bytes in batches of 1,000 to a new
/// stream (default options, so a new segment every
/// `MAX_SEGMENT_RECORDS` records), keeping no refs, and close it.
pub fn build_records(dir: &Path, size: usize, count: u64) -> Result<(), Missing> {
    let wal = open(dir)?;
    let buf = payload(size);
    let now = now_ms();
    let entries: Vec<WriteEntry> = (0..1000)
        .map(|_| WriteEntry {
            header: None,
            content: &buf,
        })
        .collect();
    let mut done = 0u64;
    while done < count {
        let n = (count - done).min(1000) as usize;
        black_box(
            wal.append_batch(&entries[..n], now, false)
                .map_err(fail("append_batch"))?,
        );
        done += n as u64;
    }
    wal.shutdown().map_err(fail("shutdown"))
}

struct NanoReader {
    wal: Wal,
    refs: Vec<EntryRef>,
    size: usize,
    /// Reused by every run: what a reader of many records should do.
    buf: ReadBuf,
}

impl Reader for NanoReader {
    fn held_bytes(&self) -> u64 {
        (self.refs.capacity() * std::mem::size_of::<EntryRef>()) as u64
    }

    fn random(&mut self, idx: &[usize]) -> Cell {
        time(|| {
            for &i in idx {
                let r = self.wal.read(self.refs[i]).map_err(fail("read"))?;
                black_box(&r);
            }
            Ok((idx.len() as u64, (idx.len() * self.size) as u64))
        })
    }

    fn runs(&mut self, starts: &[usize], len: usize) -> Cell {
        time(|| {
            for &s in starts {
                self.wal
                    .read_batch_into(&self.refs[s..s + len], &mut self.buf)
                    .map_err(fail("read_batch_into"))?;
                for r in self.buf.iter() {
                    black_box(r.content);
                }
            }
            Ok((
                (starts.len() * len) as u64,
                (starts.len() * len * self.size) as u64,
            ))
        })
    }

    fn random_by_index(&mut self, idx: &[usize]) -> Cell {
        time(|| {
            for &i in idx {
                let r = self
                    .wal
                    .read_index(self.refs[i].index)
                    .map_err(fail("read_index"))?;
                black_box(&r);
            }
            Ok((idx.len() as u64, (idx.len() * self.size) as u64))
        })
    }

    fn ranges(&mut self, starts: &[usize], len: usize) -> Cell {
        time(|| {
            let mut n = 0u64;
            for &s in starts {
                let refs = self
                    .wal
                    .read_range_into(self.refs[s].index, len, u64::MAX, &mut self.buf)
                    .map_err(fail("read_range_into"))?;
                n += refs.len() as u64;
                for r in self.buf.iter() {
                    black_box(r.content);
                }
            }
            Ok((n, n * self.size as u64))
        })
    }

    fn replay(&mut self) -> Cell {
        time(|| {
            let (mut n, mut bytes) = (0u64, 0u64);
            let mut replay = self.wal.replay(None).map_err(fail("replay"))?;
            while let Some(item) = replay.next_ref() {
                let (_, rec) = item.map_err(fail("replay item"))?;
                n += 1;
                bytes += rec.content.len() as u64;
            }
            Ok((n, bytes))
        })
    }
}

impl System for Nano {
    fn name(&self) -> &'static str {
        "nano_wal"
    }

    fn append(
        &self,
        dir: &Path,
        size: usize,
        threads: usize,
        per_thread: usize,
        durable: bool,
    ) -> Cell {
        let wal = open(dir)?;
        let buf = payload(size);
        let now = now_ms();
        let (secs, ops) = fan_out(threads, per_thread, |_, _| {
            wal.append(None, &buf, now, durable)
                .map(drop)
                .map_err(|e| e.to_string())
        })?;
        Ok(sample(ops, size, secs))
    }

    fn batches(&self, dir: &Path, size: usize, batches: usize, batch_len: usize) -> Cell {
        let wal = open(dir)?;
        let buf = payload(size);
        let now = now_ms();
        let entries: Vec<WriteEntry> = (0..batch_len)
            .map(|_| WriteEntry {
                header: None,
                content: &buf,
            })
            .collect();
        time(|| {
            for _ in 0..batches {
                black_box(
                    wal.append_batch(&entries, now, false)
                        .map_err(fail("append_batch"))?,
                );
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
        let wal = open(dir)?;
        let refs = fill(&wal, size, count)?;
        Ok(Box::new(NanoReader {
            wal,
            refs,
            size,
            buf: ReadBuf::new(),
        }))
    }

    fn build(&self, dir: &Path, size: usize, bytes: u64) -> Result<(), Missing> {
        let wal = open(dir)?;
        fill(&wal, size, (bytes / size as u64) as usize)?;
        wal.shutdown().map_err(fail("shutdown"))
    }

    fn build_segments(&self, dir: &Path, sealed: usize) -> Result<(), Missing> {
        build_segments(dir, sealed)
    }

    fn open(&self, dir: &Path) -> Cell {
        let start = std::time::Instant::now();
        let wal = open(dir)?;
        let secs = start.elapsed().as_secs_f64();
        drop(wal);
        Ok(crate::harness::Sample {
            ops: 1,
            bytes: 0,
            secs,
        })
    }

    fn truncate_tail(&self, dir: &Path, keep: u64, drop: u64) -> Cell {
        let wal = open(dir)?;
        let buf = payload(128);
        let entries: Vec<WriteEntry> = (0..1000)
            .map(|_| WriteEntry {
                header: None,
                content: &buf,
            })
            .collect();
        let now = now_ms();
        let mut left = keep + drop;
        while left > 0 {
            let n = left.min(1000) as usize;
            wal.append_batch(&entries[..n], now, false)
                .map_err(fail("append_batch"))?;
            left -= n as u64;
        }
        // The records synced first: the row times the truncation, not the
        // sync of unsynced appends that its own sync makes durable too.
        wal.sync().map_err(fail("sync"))?;
        let start = std::time::Instant::now();
        wal.truncate_after(keep).map_err(fail("truncate_after"))?;
        let secs = start.elapsed().as_secs_f64();
        wal.shutdown().map_err(fail("shutdown"))?;
        Ok(crate::harness::Sample {
            ops: 1,
            bytes: 0,
            secs,
        })
    }

    fn open_and_replay(&self, dir: &Path) -> Result<u64, Missing> {
        let wal = open(dir)?;
        let mut n = 0;
        for item in wal.replay(None).map_err(fail("replay"))? {
            black_box(item.map_err(fail("replay item"))?);
            n += 1;
        }
        Ok(n)
    }
}

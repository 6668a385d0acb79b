// SPDX-License-Identifier: MIT
//! The original crate, `nano-wal` 1.0.0 (renamed `nano_wal_orig`): one mutex
//! per segment held across writev and fdatasync, no checksums, no replay API.

use crate::harness::{
    fail, fan_out, na, now_ms, payload, sample, time, Cell, Missing, Reader, Sample, System,
};
use nano_wal_orig::{read_batch, ReadDescriptor, Segment, Wal, WalOptions, WriteEntry};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub struct Orig;

fn open(dir: &Path) -> Result<Wal, Missing> {
    let opts = WalOptions {
        retention: Duration::from_secs(7 * 24 * 3600),
        segment_duration: Duration::from_secs(3600),
    };
    Wal::new(dir, "bench", opts).map_err(fail("Wal::new"))
}

/// Its append_batch writes 5 iovecs per record in one writev, so batches
/// above ~200 records hit IOV_MAX (a known 1.0.0 bug): fill in batches of 100.
fn fill(wal: &Wal, size: usize, count: usize, now: i64) -> Result<Vec<(u64, usize)>, Missing> {
    let buf = payload(size);
    let mut refs = Vec::with_capacity(count);
    while refs.len() < count {
        let n = (count - refs.len()).min(100);
        let entries: Vec<WriteEntry> = (0..n)
            .map(|_| WriteEntry {
                header: None,
                content: &buf,
            })
            .collect();
        let r = wal
            .append_batch(&entries, now, false)
            .map_err(fail("append_batch"))?;
        refs.extend(r.into_iter().map(|e| (e.file_offset, e.byte_size)));
    }
    Ok(refs)
}

struct OrigReader {
    wal: Wal,
    seg: Arc<Segment>,
    refs: Vec<(u64, usize)>,
    size: usize,
}

impl Reader for OrigReader {
    fn held_bytes(&self) -> u64 {
        (self.refs.capacity() * std::mem::size_of::<(u64, usize)>()) as u64
    }

    fn random(&mut self, idx: &[usize]) -> Cell {
        time(|| {
            for &i in idx {
                let (off, len) = self.refs[i];
                black_box(
                    self.wal
                        .read_at(&self.seg, off, len)
                        .map_err(fail("read_at"))?,
                );
            }
            Ok((idx.len() as u64, (idx.len() * self.size) as u64))
        })
    }

    fn runs(&mut self, starts: &[usize], len: usize) -> Cell {
        let fd = self.seg.read_fd().clone();
        time(|| {
            for &s in starts {
                // Building the descriptors is part of what a caller pays: the
                // API takes an fd per record.
                let reads: Vec<ReadDescriptor> = self.refs[s..s + len]
                    .iter()
                    .map(|&(file_offset, byte_size)| ReadDescriptor {
                        read_fd: fd.clone(),
                        file_offset,
                        byte_size,
                    })
                    .collect();
                black_box(read_batch(&reads).map_err(fail("read_batch"))?);
            }
            Ok((
                (starts.len() * len) as u64,
                (starts.len() * len * self.size) as u64,
            ))
        })
    }

    fn replay(&mut self) -> Cell {
        na("no replay or scan API in 1.0.0")
    }
}

impl System for Orig {
    fn name(&self) -> &'static str {
        "nano-wal 1.0.0"
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
        let now = now_ms();
        let refs = fill(&wal, size, count, now)?;
        // The way back to a record's segment in 1.0.0: ensure_segment of the
        // same time (works while that window is the active one).
        let seg = wal.ensure_segment(now).map_err(fail("ensure_segment"))?;
        Ok(Box::new(OrigReader {
            wal,
            seg,
            refs,
            size,
        }))
    }

    fn build(&self, dir: &Path, size: usize, bytes: u64) -> Result<(), Missing> {
        let wal = open(dir)?;
        fill(&wal, size, (bytes / size as u64) as usize, now_ms())?;
        wal.shutdown().map_err(fail("shutdown"))
    }

    fn open(&self, dir: &Path) -> Cell {
        let start = std::time::Instant::now();
        let wal = open(dir)?;
        let secs = start.elapsed().as_secs_f64();
        drop(wal);
        Ok(Sample {
            ops: 1,
            bytes: 0,
            secs,
        })
    }

    fn open_and_replay(&self, dir: &Path) -> Result<u64, Missing> {
        // No replay API: open only.
        open(dir).map(|_| 0)
    }
}

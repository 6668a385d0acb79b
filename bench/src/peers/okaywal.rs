// SPDX-License-Identifier: MIT
//! okaywal 0.3: entries of chunks, every `commit` fsyncs (group commit
//! across threads). It has no non-durable append, so those rows are n/a.

use crate::harness::{
    fail, fan_out, na, payload, sample, time, Cell, Missing, Reader, Sample, System,
};
use okaywal::{
    Configuration, Entry, EntryId, LogManager, LogPosition, SegmentReader, WriteAheadLog,
};
use std::hint::black_box;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct OkayWal;

/// Recovers by reading every chunk (so opening = replaying the log); never
/// checkpoints, so nothing written during a run is dropped.
#[derive(Debug, Default, Clone)]
struct Counting(Arc<AtomicU64>);

impl LogManager for Counting {
    fn recover(&mut self, entry: &mut Entry<'_>) -> io::Result<()> {
        if let Some(chunks) = entry.read_all_chunks()? {
            self.0.fetch_add(chunks.len() as u64, Ordering::Relaxed);
            black_box(chunks);
        }
        Ok(())
    }

    fn checkpoint_to(
        &mut self,
        _: EntryId,
        _: &mut SegmentReader,
        _: &WriteAheadLog,
    ) -> io::Result<()> {
        Ok(())
    }
}

fn open(dir: &Path, manager: Counting) -> Result<WriteAheadLog, Missing> {
    // Checkpointing would hand the entries to the manager and recycle the
    // file; push it out of reach so reads and recovery see everything.
    Configuration::default_for(dir)
        .checkpoint_after_bytes(u64::MAX / 2)
        .open(manager)
        .map_err(fail("okaywal open"))
}

/// `count` records as chunks of entries of up to 1,000 chunks, one commit
/// (one fsync) per entry.
fn fill(wal: &WriteAheadLog, size: usize, count: usize) -> Result<Vec<LogPosition>, Missing> {
    let buf = payload(size);
    let mut pos = Vec::with_capacity(count);
    while pos.len() < count {
        let mut e = wal.begin_entry().map_err(fail("begin_entry"))?;
        for _ in 0..(count - pos.len()).min(1000) {
            pos.push(e.write_chunk(&buf).map_err(fail("write_chunk"))?.position);
        }
        e.commit().map_err(fail("commit"))?;
    }
    Ok(pos)
}

struct OkayReader {
    wal: WriteAheadLog,
    pos: Vec<LogPosition>,
    buf: Vec<u8>,
}

impl OkayReader {
    fn read_one(&mut self, p: LogPosition) -> Result<u64, Missing> {
        self.buf.clear();
        let mut r = self.wal.read_at(p).map_err(fail("read_at"))?;
        r.read_to_end(&mut self.buf).map_err(fail("read chunk"))?;
        Ok(self.buf.len() as u64)
    }
}

impl Reader for OkayReader {
    fn held_bytes(&self) -> u64 {
        (self.pos.capacity() * std::mem::size_of::<LogPosition>()) as u64
    }

    fn random(&mut self, idx: &[usize]) -> Cell {
        time(|| {
            let mut bytes = 0;
            for &i in idx {
                bytes += self.read_one(self.pos[i])?;
            }
            Ok((idx.len() as u64, bytes))
        })
    }

    fn runs(&mut self, starts: &[usize], len: usize) -> Cell {
        // No batch read: a run is `len` read_at calls.
        time(|| {
            let mut bytes = 0;
            for &s in starts {
                for i in s..s + len {
                    bytes += self.read_one(self.pos[i])?;
                }
            }
            Ok(((starts.len() * len) as u64, bytes))
        })
    }

    fn replay(&mut self) -> Cell {
        na("replay only happens inside recovery (see the open row)")
    }
}

impl System for OkayWal {
    fn name(&self) -> &'static str {
        "okaywal 0.3"
    }

    fn append(
        &self,
        dir: &Path,
        size: usize,
        threads: usize,
        per_thread: usize,
        durable: bool,
    ) -> Cell {
        if !durable {
            return na("every commit fsyncs: no non-durable append");
        }
        let wal = open(dir, Counting::default())?;
        let buf = payload(size);
        let timed = fan_out(threads, per_thread, |_, _| {
            let mut e = wal.begin_entry().map_err(|e| e.to_string())?;
            e.write_chunk(&buf).map_err(|e| e.to_string())?;
            e.commit().map(drop).map_err(|e| e.to_string())
        });
        let _ = wal.shutdown();
        let (secs, ops) = timed?;
        Ok(sample(ops, size, secs))
    }

    fn batches(&self, _dir: &Path, _size: usize, _batches: usize, _batch_len: usize) -> Cell {
        na("every commit fsyncs: no non-durable batch")
    }

    fn prefill<'a>(
        &'a self,
        dir: &'a Path,
        size: usize,
        count: usize,
    ) -> Result<Box<dyn Reader + 'a>, Missing> {
        let wal = open(dir, Counting::default())?;
        let pos = fill(&wal, size, count)?;
        Ok(Box::new(OkayReader {
            wal,
            pos,
            buf: Vec::with_capacity(size),
        }))
    }

    fn build(&self, dir: &Path, size: usize, bytes: u64) -> Result<(), Missing> {
        let wal = open(dir, Counting::default())?;
        fill(&wal, size, (bytes / size as u64) as usize)?;
        wal.shutdown().map_err(fail("shutdown"))
    }

    fn open(&self, dir: &Path) -> Cell {
        let start = std::time::Instant::now();
        let wal = open(dir, Counting::default())?;
        let secs = start.elapsed().as_secs_f64();
        let _ = wal.shutdown();
        Ok(Sample {
            ops: 1,
            bytes: 0,
            secs,
        })
    }

    fn open_and_replay(&self, dir: &Path) -> Result<u64, Missing> {
        let seen = Counting::default();
        let wal = open(dir, seen.clone())?;
        let _ = wal.shutdown();
        Ok(seen.0.load(Ordering::Relaxed))
    }
}

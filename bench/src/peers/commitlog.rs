// SPDX-License-Identifier: MIT
//! commitlog 0.2: Kafka-style segments plus an mmap'ed offset index,
//! `&mut self` appends (one writer), and no fsync of segment data at all
//! (`flush` only flushes the index), so no durable rows.

use crate::harness::{
    fail, fan_out, na, payload, sample, time, Cell, Missing, Reader, Sample, System,
};
use commitlog::message::{MessageBuf, MessageSet};
use commitlog::{CommitLog, LogOptions, ReadLimit};
use std::hint::black_box;
use std::path::Path;
use std::sync::Mutex;

pub struct Commitlog;

/// Bytes a message of `size` takes in the log (commitlog's 20-byte header).
fn framed(size: usize) -> usize {
    size + 20
}

fn open(dir: &Path) -> Result<CommitLog, Missing> {
    let mut opts = LogOptions::new(dir);
    // The limit applies to a whole appended batch: room for 1,000 x 4 KiB.
    opts.message_max_bytes(16 << 20);
    opts.index_max_items(1_000_000);
    CommitLog::new(opts).map_err(fail("CommitLog::new"))
}

fn fill(log: &mut CommitLog, size: usize, count: usize) -> Result<(), Missing> {
    let buf = payload(size);
    let mut left = count;
    while left > 0 {
        let n = left.min(1000);
        let mut batch: MessageBuf = (0..n).map(|_| &buf).collect();
        log.append(&mut batch)
            .map_err(|e| Missing::Failed(format!("append: {e:?}")))?;
        left -= n;
    }
    Ok(())
}

struct ClReader {
    log: CommitLog,
    size: usize,
    count: usize,
}

impl ClReader {
    /// Read `n` messages from `start` in one call (the limit is in bytes).
    fn read(&self, start: usize, n: usize) -> Result<u64, Missing> {
        let msgs = self
            .log
            // Half a message of slack: the limit is on index positions and
            // an exact fit is refused; the reply still holds whole messages only.
            .read(
                start as u64,
                ReadLimit::max_bytes(n * framed(self.size) + framed(self.size) / 2),
            )
            .map_err(|e| Missing::Failed(format!("read: {e:?}")))?;
        let bytes = msgs.iter().take(n).map(|m| m.payload().len() as u64).sum();
        black_box(&msgs);
        Ok(bytes)
    }
}

impl Reader for ClReader {
    fn random(&mut self, idx: &[usize]) -> Cell {
        time(|| {
            let mut bytes = 0;
            for &i in idx {
                bytes += self.read(i, 1)?;
            }
            Ok((idx.len() as u64, bytes))
        })
    }

    fn runs(&mut self, starts: &[usize], len: usize) -> Cell {
        time(|| {
            let mut bytes = 0;
            for &s in starts {
                bytes += self.read(s, len)?;
            }
            Ok(((starts.len() * len) as u64, bytes))
        })
    }

    fn replay(&mut self) -> Cell {
        // Front to back in reads of ~1 MiB, the way a consumer scans it.
        let per_read = ((1 << 20) / framed(self.size)).max(1);
        time(|| {
            let (mut at, mut bytes) = (0usize, 0u64);
            while at < self.count {
                let n = per_read.min(self.count - at);
                bytes += self.read(at, n)?;
                at += n;
            }
            Ok((self.count as u64, bytes))
        })
    }
}

impl System for Commitlog {
    fn name(&self) -> &'static str {
        "commitlog 0.2"
    }

    fn append(
        &self,
        dir: &Path,
        size: usize,
        threads: usize,
        per_thread: usize,
        durable: bool,
    ) -> Cell {
        if durable {
            return na("never fsyncs segment data (flush only syncs the index)");
        }
        // `&mut self` API: several threads need the caller's own Mutex.
        let log = Mutex::new(open(dir)?);
        let buf = payload(size);
        let (secs, ops) = fan_out(threads, per_thread, |_, _| {
            log.lock()
                .unwrap()
                .append_msg(&buf)
                .map(drop)
                .map_err(|e| format!("{e:?}"))
        })?;
        Ok(sample(ops, size, secs))
    }

    fn batches(&self, dir: &Path, size: usize, batches: usize, batch_len: usize) -> Cell {
        let mut log = open(dir)?;
        let buf = payload(size);
        time(|| {
            for _ in 0..batches {
                // The batch is built per call: the API consumes offsets into it.
                let mut batch: MessageBuf = (0..batch_len).map(|_| &buf).collect();
                black_box(
                    log.append(&mut batch)
                        .map_err(|e| Missing::Failed(format!("append: {e:?}")))?,
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
        let mut log = open(dir)?;
        fill(&mut log, size, count)?;
        Ok(Box::new(ClReader { log, size, count }))
    }

    fn build(&self, dir: &Path, size: usize, bytes: u64) -> Result<(), Missing> {
        let mut log = open(dir)?;
        fill(&mut log, size, (bytes / size as u64) as usize)?;
        log.flush().map_err(fail("flush"))
    }

    fn open(&self, dir: &Path) -> Cell {
        let start = std::time::Instant::now();
        let log = open(dir)?;
        let secs = start.elapsed().as_secs_f64();
        drop(log);
        Ok(Sample {
            ops: 1,
            bytes: 0,
            secs,
        })
    }

    fn open_and_replay(&self, dir: &Path) -> Result<u64, Missing> {
        let log = open(dir)?;
        let (mut at, mut n) = (0u64, 0u64);
        loop {
            let msgs = log
                .read(at, ReadLimit::max_bytes(1 << 20))
                .map_err(|e| Missing::Failed(format!("{e:?}")))?;
            let k = msgs.len() as u64;
            if k == 0 {
                return Ok(n);
            }
            n += k;
            at += k;
        }
    }
}

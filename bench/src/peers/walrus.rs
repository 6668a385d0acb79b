// SPDX-License-Identifier: MIT
//! walrus-rust 0.2: topic-based, 1 GB preallocated files, consuming reads
//! from a per-topic cursor (no read by position), FD backend (pwrite;
//! io_uring for batches on Linux).
//!
//! Its fsync schedule is stored in a process-wide OnceLock by the first
//! instance (and turns on O_SYNC for every file when it is `SyncEach`), so
//! `main` creates a `NoFsync` instance first; `SyncEach` instances then do a
//! write followed by an fsync of the file per entry, which is what the durable
//! rows need. Files go under `WALRUS_DATA_DIR`/<key>, set by `init`.

use crate::harness::{
    fail, fan_out, na, payload, sample, time, Cell, Missing, Reader, Sample, System,
};
use std::hint::black_box;
use std::path::Path;
use walrus_rust::{FsyncSchedule, ReadConsistency, Walrus};

pub struct WalrusSys;

const TOPIC: &str = "bench";

/// Point walrus at the scratch directory and pin the process-wide schedule
/// to `NoFsync` (see the module comment). Call once, before any thread runs.
pub fn init(scratch: &Path) {
    std::env::set_var("WALRUS_DATA_DIR", scratch);
    std::env::set_var("WALRUS_QUIET", "1");
    let warm = scratch.join("walrus-init");
    if let Ok(w) = open(&warm, false) {
        drop(w);
    }
}

/// An instance whose files live exactly in `dir` (a child of the scratch root).
fn open(dir: &Path, durable: bool) -> Result<Walrus, Missing> {
    let key = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Missing::Failed("bad dir".into()))?;
    let schedule = if durable {
        FsyncSchedule::SyncEach
    } else {
        FsyncSchedule::NoFsync
    };
    // Persisting the read cursor on every read would add a write per read;
    // the bench only measures reading.
    let consistency = ReadConsistency::AtLeastOnce {
        persist_every: u32::MAX,
    };
    Walrus::with_consistency_and_schedule_for_key(key, consistency, schedule)
        .map_err(fail("Walrus::new"))
}

fn fill(w: &Walrus, size: usize, count: usize) -> Result<(), Missing> {
    let buf = payload(size);
    let mut left = count;
    while left > 0 {
        let n = left.min(1000);
        let batch: Vec<&[u8]> = (0..n).map(|_| buf.as_slice()).collect();
        w.batch_append_for_topic(TOPIC, &batch)
            .map_err(fail("batch_append_for_topic"))?;
        left -= n;
    }
    Ok(())
}

/// Consume up to `n` entries from the cursor in as few calls as it takes.
fn consume(w: &Walrus, n: usize, size: usize) -> Result<(u64, u64), Missing> {
    let (mut got, mut bytes) = (0u64, 0u64);
    while (got as usize) < n {
        let want = (n - got as usize).min(1 << 14) * size;
        let entries = w
            .batch_read_for_topic(TOPIC, want, true)
            .map_err(fail("batch_read_for_topic"))?;
        if entries.is_empty() {
            break;
        }
        got += entries.len() as u64;
        bytes += entries.iter().map(|e| e.data.len() as u64).sum::<u64>();
        black_box(&entries);
    }
    Ok((got, bytes))
}

/// Reads consume the cursor: a measurement reads from the instance of the
/// one before it while that has enough records left, else from a freshly
/// filled one (the fill is not timed). Replay, which reads every record,
/// always gets a fresh instance, and so does the first run row after it.
struct WalrusReader<'a> {
    dir: &'a Path,
    size: usize,
    count: usize,
    round: usize,
    /// The current instance, its directory, and its records not yet consumed.
    current: Option<(Walrus, crate::harness::TempDir, usize)>,
}

impl WalrusReader<'_> {
    /// An instance with at least `records` records left to consume.
    fn with_left(
        &mut self,
        records: usize,
    ) -> Result<&mut (Walrus, crate::harness::TempDir, usize), Missing> {
        if self.current.as_ref().is_none_or(|c| c.2 < records) {
            self.current = None;
            self.round += 1;
            let d = crate::harness::TempDir {
                path: self.dir.with_extension(format!("r{}", self.round)),
            };
            std::fs::create_dir_all(&d.path).map_err(fail("mkdir"))?;
            let w = open(&d.path, false)?;
            fill(&w, self.size, self.count)?;
            self.current = Some((w, d, self.count));
        }
        Ok(self.current.as_mut().expect("set above"))
    }
}

impl Reader for WalrusReader<'_> {
    fn random(&mut self, _idx: &[usize]) -> Cell {
        na("no read by position (cursor-only reads)")
    }

    fn runs(&mut self, starts: &[usize], len: usize) -> Cell {
        // Runs of `len` from the cursor, one after the other (it cannot seek).
        let runs = starts.len().min(self.count / len);
        let size = self.size;
        let (w, _, left) = self.with_left(runs * len)?;
        let cell = time(|| {
            let (mut n, mut b) = (0, 0);
            for _ in 0..runs {
                let (k, bytes) = consume(w, len, size)?;
                if k == 0 {
                    // The cursor gives nothing although records are left
                    // (seen on small reads): no rate to report.
                    return Err(Missing::Failed(format!(
                        "batch_read_for_topic returned no entry after {n} records of runs of {len}"
                    )));
                }
                n += k;
                b += bytes;
            }
            Ok((n, b))
        });
        *left = left.saturating_sub(cell.as_ref().map_or(*left, |c| c.ops as usize));
        cell
    }

    fn replay(&mut self) -> Cell {
        let (count, size) = (self.count, self.size);
        let (w, _, left) = self.with_left(count)?;
        let cell = time(|| consume(w, count, size));
        *left = 0;
        cell
    }

    fn prepare(&mut self, records: usize) -> Result<(), Missing> {
        self.with_left(records.min(self.count)).map(drop)
    }
}

impl System for WalrusSys {
    fn name(&self) -> &'static str {
        "walrus 0.2"
    }

    fn append(
        &self,
        dir: &Path,
        size: usize,
        threads: usize,
        per_thread: usize,
        durable: bool,
    ) -> Cell {
        let w = open(dir, durable)?;
        let buf = payload(size);
        let (secs, ops) = fan_out(threads, per_thread, |_, _| {
            w.append_for_topic(TOPIC, &buf).map_err(|e| e.to_string())
        })?;
        Ok(sample(ops, size, secs))
    }

    fn batches(&self, dir: &Path, size: usize, batches: usize, batch_len: usize) -> Cell {
        let w = open(dir, false)?;
        let buf = payload(size);
        let batch: Vec<&[u8]> = (0..batch_len).map(|_| buf.as_slice()).collect();
        time(|| {
            for _ in 0..batches {
                w.batch_append_for_topic(TOPIC, &batch)
                    .map_err(fail("batch_append_for_topic"))?;
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
        Ok(Box::new(WalrusReader {
            dir,
            size,
            count,
            round: 0,
            current: None,
        }))
    }

    fn build(&self, dir: &Path, size: usize, bytes: u64) -> Result<(), Missing> {
        let w = open(dir, false)?;
        fill(&w, size, (bytes / size as u64) as usize)
    }

    fn open(&self, dir: &Path) -> Cell {
        let start = std::time::Instant::now();
        let w = open(dir, false)?;
        let secs = start.elapsed().as_secs_f64();
        drop(w);
        Ok(Sample {
            ops: 1,
            bytes: 0,
            secs,
        })
    }

    fn open_and_replay(&self, dir: &Path) -> Result<u64, Missing> {
        let w = open(dir, false)?;
        consume(&w, usize::MAX / 2, 4096).map(|(n, _)| n)
    }
}

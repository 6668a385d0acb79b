// SPDX-License-Identifier: MIT
//! raft-engine 0.4 (TiKV's log): a write group's leader writes every
//! writer's `LogBatch` and does one fdatasync (group commit). Its entry API
//! needs protobuf messages; the bench uses its key-value puts, whose values
//! it also keeps in its in-memory memtable, so its reads are served from
//! memory (noted in the report). Compression is turned off so the
//! compressible bench payload cannot flatter it.

use crate::harness::{
    fail, fan_out, na, payload, sample, time, Cell, Missing, Reader, Sample, System,
};
use raft_engine::{Config, Engine, LogBatch, ReadableSize};
use std::path::Path;

pub struct RaftEngine;

const REGION: u64 = 1;

/// The engine as every row opens it (the raftlog family too).
pub fn open(dir: &Path) -> Result<Engine, Missing> {
    let cfg = Config {
        dir: dir.to_string_lossy().into_owned(),
        batch_compression_threshold: ReadableSize(0),
        ..Default::default()
    };
    Engine::open(cfg).map_err(fail("Engine::open"))
}

fn key(i: u64) -> Vec<u8> {
    // Keys never start with raft-engine's reserved internal prefix.
    let mut k = b"k".to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn put(b: &mut LogBatch, i: u64, buf: &[u8]) -> Result<(), String> {
    b.put(REGION, key(i), buf.to_vec())
        .map_err(|e| e.to_string())
}

fn fill(e: &Engine, size: usize, count: usize) -> Result<(), Missing> {
    let buf = payload(size);
    let mut i = 0;
    while i < count {
        let mut b = LogBatch::default();
        for _ in 0..(count - i).min(1000) {
            put(&mut b, i as u64, &buf).map_err(Missing::Failed)?;
            i += 1;
        }
        e.write(&mut b, false).map_err(fail("write"))?;
    }
    Ok(())
}

struct RaftReader {
    e: Engine,
}

impl Reader for RaftReader {
    fn random(&mut self, idx: &[usize]) -> Cell {
        time(|| {
            let mut bytes = 0;
            for &i in idx {
                let v = self
                    .e
                    .get(REGION, &key(i as u64))
                    .ok_or_else(|| Missing::Failed("missing key".into()))?;
                bytes += v.len() as u64;
            }
            Ok((idx.len() as u64, bytes))
        })
    }

    fn runs(&mut self, starts: &[usize], len: usize) -> Cell {
        time(|| {
            let mut bytes = 0;
            for &s in starts {
                let (from, to) = (key(s as u64), key((s + len) as u64));
                self.e
                    .scan_raw_messages(REGION, Some(&from), Some(&to), false, |_, v| {
                        bytes += v.len() as u64;
                        true
                    })
                    .map_err(fail("scan"))?;
            }
            Ok(((starts.len() * len) as u64, bytes))
        })
    }

    fn replay(&mut self) -> Cell {
        na("replay only happens inside recovery (see the open row)")
    }
}

impl System for RaftEngine {
    fn name(&self) -> &'static str {
        "raft-engine 0.4"
    }

    fn append(
        &self,
        dir: &Path,
        size: usize,
        threads: usize,
        per_thread: usize,
        durable: bool,
    ) -> Cell {
        let e = open(dir)?;
        let buf = payload(size);
        let (secs, ops) = fan_out(threads, per_thread, |t, i| {
            let mut b = LogBatch::default();
            put(&mut b, (t * per_thread + i) as u64, &buf)?;
            e.write(&mut b, durable)
                .map(drop)
                .map_err(|e| e.to_string())
        })?;
        Ok(sample(ops, size, secs))
    }

    fn batches(&self, dir: &Path, size: usize, batches: usize, batch_len: usize) -> Cell {
        let e = open(dir)?;
        let buf = payload(size);
        time(|| {
            for j in 0..batches {
                let mut b = LogBatch::default();
                for i in 0..batch_len {
                    put(&mut b, (j * batch_len + i) as u64, &buf).map_err(Missing::Failed)?;
                }
                e.write(&mut b, false).map_err(fail("write"))?;
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
        let e = open(dir)?;
        fill(&e, size, count)?;
        Ok(Box::new(RaftReader { e }))
    }

    fn build(&self, dir: &Path, size: usize, bytes: u64) -> Result<(), Missing> {
        let e = open(dir)?;
        fill(&e, size, (bytes / size as u64) as usize)?;
        e.sync().map_err(fail("sync"))
    }

    fn open(&self, dir: &Path) -> Cell {
        let start = std::time::Instant::now();
        let e = open(dir)?;
        let secs = start.elapsed().as_secs_f64();
        drop(e);
        Ok(Sample {
            ops: 1,
            bytes: 0,
            secs,
        })
    }

    fn open_and_replay(&self, dir: &Path) -> Result<u64, Missing> {
        // Opening replays the whole log into the memtables.
        let e = open(dir)?;
        let mut n = 0u64;
        e.scan_raw_messages(REGION, None, None, false, |_, _| {
            n += 1;
            true
        })
        .map_err(fail("scan"))?;
        Ok(n)
    }
}

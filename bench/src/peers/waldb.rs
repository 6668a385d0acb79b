// SPDX-License-Identifier: MIT
//! wal-db 1.1: lock-free reservation of a byte range per append, group
//! commit in `append_and_sync`, LSN = byte offset, reads by iterating from
//! an LSN. No batch append.

use crate::harness::{
    fail, fan_out, na, payload, sample, time, Cell, Missing, Reader, Sample, System,
};
use std::hint::black_box;
use std::path::Path;
use wal_db::{Lsn, Wal};

pub struct WalDb;

fn open(dir: &Path) -> Result<Wal, Missing> {
    Wal::open(dir.join("log.wal")).map_err(fail("Wal::open"))
}

fn fill(wal: &Wal, size: usize, count: usize) -> Result<Vec<Lsn>, Missing> {
    let buf = payload(size);
    (0..count)
        .map(|_| wal.append(&buf).map_err(fail("append")))
        .collect()
}

struct WalDbReader {
    wal: Wal,
    lsns: Vec<Lsn>,
}

impl Reader for WalDbReader {
    fn held_bytes(&self) -> u64 {
        (self.lsns.capacity() * std::mem::size_of::<Lsn>()) as u64
    }

    fn random(&mut self, idx: &[usize]) -> Cell {
        time(|| {
            let mut bytes = 0;
            for &i in idx {
                let r = self
                    .wal
                    .iter_from(self.lsns[i])
                    .map_err(fail("iter_from"))?
                    .next();
                let r = r
                    .ok_or_else(|| Missing::Failed("record missing".into()))?
                    .map_err(fail("read"))?;
                bytes += r.len() as u64;
            }
            Ok((idx.len() as u64, bytes))
        })
    }

    fn runs(&mut self, starts: &[usize], len: usize) -> Cell {
        time(|| {
            let mut bytes = 0;
            for &s in starts {
                for r in self
                    .wal
                    .iter_from(self.lsns[s])
                    .map_err(fail("iter_from"))?
                    .take(len)
                {
                    bytes += r.map_err(fail("read"))?.len() as u64;
                }
            }
            Ok(((starts.len() * len) as u64, bytes))
        })
    }

    fn replay(&mut self) -> Cell {
        time(|| {
            let (mut n, mut bytes) = (0, 0);
            for r in self.wal.iter().map_err(fail("iter"))? {
                bytes += r.map_err(fail("read"))?.len() as u64;
                n += 1;
            }
            Ok((n, bytes))
        })
    }
}

impl System for WalDb {
    fn name(&self) -> &'static str {
        "wal-db 1.1"
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
        let (secs, ops) = fan_out(threads, per_thread, |_, _| {
            let r = if durable {
                wal.append_and_sync(&buf)
            } else {
                wal.append(&buf)
            };
            r.map(drop).map_err(|e| e.to_string())
        })?;
        Ok(sample(ops, size, secs))
    }

    fn batches(&self, _dir: &Path, _size: usize, _batches: usize, _batch_len: usize) -> Cell {
        na("no batch append API")
    }

    fn prefill<'a>(
        &'a self,
        dir: &'a Path,
        size: usize,
        count: usize,
    ) -> Result<Box<dyn Reader + 'a>, Missing> {
        let wal = open(dir)?;
        let lsns = fill(&wal, size, count)?;
        Ok(Box::new(WalDbReader { wal, lsns }))
    }

    fn build(&self, dir: &Path, size: usize, bytes: u64) -> Result<(), Missing> {
        let wal = open(dir)?;
        fill(&wal, size, (bytes / size as u64) as usize)?;
        wal.sync().map_err(fail("sync"))
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
        let wal = open(dir)?;
        let mut n = 0;
        for r in wal.iter().map_err(fail("iter"))? {
            black_box(r.map_err(fail("read"))?);
            n += 1;
        }
        Ok(n)
    }
}

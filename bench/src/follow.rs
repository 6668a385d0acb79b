// SPDX-License-Identifier: MIT
//! Followers (nano_wal only: no peer has them): how long after an append
//! returns a follower wakes with its record, and what an attached durable
//! follower costs durable appenders.

use crate::harness::Scratch;
use nano_wal::{FollowMode, Followed, Wal, WalOptions};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Wake-up latencies of one mode, in ns: median and 99th percentile of
/// every record of every repetition.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub samples: usize,
    pub median_ns: u64,
    pub p99_ns: u64,
}

/// One durable-append row measured without and with a durable follower.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    pub threads: usize,
    /// Median appends/s without a follower, and with one.
    pub without: f64,
    pub with: f64,
    /// The raw limit of the same (one thread only, else 0): `pwrite` +
    /// `fdatasync` per record into a pre-written file, without and with a
    /// thread woken (condition variable) after each sync to `pread` it.
    pub raw_without: f64,
    pub raw_with: f64,
}

#[derive(Debug, Clone, Default)]
pub struct FollowResults {
    pub records: usize,
    pub reps: usize,
    /// From a durable append returning to a durable follower holding it.
    pub durable: Latency,
    /// From a non-durable append returning to an appended-mode follower
    /// holding it.
    pub appended: Latency,
    pub cost: Vec<Cost>,
    pub error: Option<String>,
}

const RECORD: usize = 128;

fn options() -> WalOptions {
    WalOptions {
        retention: Duration::from_secs(3600),
        segment_duration: Duration::from_secs(3600),
        ..Default::default()
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let k = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[k]
}

/// `records` appends, each waited for by a follower before the next (so
/// every sample is one isolated wake-up): the time from the append
/// returning to the follower returning the record (0 when the follower
/// got it first, which a durable follower can: the sync wakes both).
fn wake_latencies(
    dir: &std::path::Path,
    records: usize,
    durable: bool,
) -> Result<Vec<u64>, String> {
    let wal = Wal::open(dir, "follow", options()).map_err(|e| e.to_string())?;
    let mode = if durable {
        FollowMode::Durable
    } else {
        FollowMode::Appended
    };
    let mut follower = wal.follow(1, mode).map_err(|e| e.to_string())?;
    let base = Instant::now();
    let returned = AtomicU64::new(0); // ns after base, +1 (0: not yet)
    let consumed = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let content = vec![7u8; RECORD];
    let mut samples = Vec::with_capacity(records);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut out = Vec::with_capacity(records);
            for i in 1..=records as u64 {
                match follower.next(Some(Duration::from_secs(10))) {
                    Ok(Followed::Record(r, _)) if r.index == i => {}
                    _ => {
                        failed.store(true, Ordering::Release);
                        return out;
                    }
                }
                let woke = base.elapsed().as_nanos() as u64;
                let ret = loop {
                    match returned.load(Ordering::Acquire) {
                        0 => std::hint::spin_loop(),
                        t => break t - 1,
                    }
                };
                out.push(woke.saturating_sub(ret));
                returned.store(0, Ordering::Release);
                consumed.store(i, Ordering::Release);
            }
            out
        });
        for i in 1..=records as u64 {
            if failed.load(Ordering::Acquire) || wal.append(None, &content, 0, durable).is_err() {
                failed.store(true, Ordering::Release);
                break;
            }
            returned.store(base.elapsed().as_nanos() as u64 + 1, Ordering::Release);
            while consumed.load(Ordering::Acquire) < i && !failed.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
        }
        samples = waiter.join().unwrap_or_default();
    });
    if failed.load(Ordering::Acquire) || samples.len() != records {
        return Err("the follower did not get every record".into());
    }
    Ok(samples)
}

/// `threads` threads of durable appends, `per` each, with or without a
/// durable follower consuming them: appends/s.
fn durable_rate(
    dir: &std::path::Path,
    threads: usize,
    per: usize,
    follower: bool,
) -> Result<f64, String> {
    let wal = Wal::open(dir, "cost", options()).map_err(|e| e.to_string())?;
    let total = (threads * per) as u64;
    let mut f = wal
        .follow(1, FollowMode::Durable)
        .map_err(|e| e.to_string())?;
    let content = vec![7u8; RECORD];
    let started = Instant::now();
    let ok = std::thread::scope(|s| {
        let follow = follower.then(|| {
            s.spawn(move || {
                let mut seen = 0;
                while seen < total {
                    match f.next(Some(Duration::from_secs(30))) {
                        Ok(Followed::Record(..)) => seen += 1,
                        _ => return false,
                    }
                }
                true
            })
        });
        let appenders: Vec<_> = (0..threads)
            .map(|_| {
                let (wal, content) = (&wal, &content);
                s.spawn(move || (0..per).all(|_| wal.append(None, content, 0, true).is_ok()))
            })
            .collect();
        let appended = appenders.into_iter().all(|a| a.join().unwrap_or(false));
        appended && follow.is_none_or(|f| f.join().unwrap_or(false))
    });
    let secs = started.elapsed().as_secs_f64();
    if !ok {
        return Err("an append or the follower failed".into());
    }
    Ok(total as f64 / secs)
}

/// The raw limit of one durable appender, with or without a reader woken
/// after each sync (see [`Cost::raw_with`]): records/s.
fn raw_rate(dir: &std::path::Path, count: usize, follower: bool) -> Result<f64, String> {
    use std::os::unix::fs::FileExt;
    use std::sync::{Condvar, Mutex};
    let size = RECORD + 24;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(dir.join("raw.dat"))
        .map_err(|e| e.to_string())?;
    file.write_all_at(&vec![0u8; count * size], 0)
        .and_then(|()| file.sync_all())
        .map_err(|e| e.to_string())?;
    let synced = AtomicU64::new(0);
    let (lock, moved) = (Mutex::new(()), Condvar::new());
    let waiting = std::sync::atomic::AtomicUsize::new(0);
    let record = vec![7u8; size];
    let started = Instant::now();
    let ok = std::thread::scope(|s| {
        let reader = follower.then(|| {
            s.spawn(|| {
                let mut buf = vec![0u8; size];
                let mut seen = 0u64;
                while seen < count as u64 {
                    // Counted before the check, as `Notify` does, so the
                    // appender wakes it only while it may sleep.
                    waiting.fetch_add(1, Ordering::SeqCst);
                    let mut g = lock.lock().unwrap_or_else(|p| p.into_inner());
                    while synced.load(Ordering::SeqCst) <= seen {
                        g = moved.wait(g).unwrap_or_else(|p| p.into_inner());
                    }
                    drop(g);
                    waiting.fetch_sub(1, Ordering::SeqCst);
                    let upto = synced.load(Ordering::SeqCst);
                    while seen < upto {
                        if file.read_exact_at(&mut buf, seen * size as u64).is_err() {
                            return false;
                        }
                        seen += 1;
                    }
                }
                true
            })
        });
        let mut written = true;
        for i in 0..count {
            written &= file.write_all_at(&record, (i * size) as u64).is_ok();
            written &= file.sync_data().is_ok();
            synced.store(i as u64 + 1, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            if waiting.load(Ordering::SeqCst) != 0 {
                drop(lock.lock().unwrap_or_else(|p| p.into_inner()));
                moved.notify_all();
            }
        }
        written && reader.is_none_or(|r| r.join().unwrap_or(false))
    });
    let secs = started.elapsed().as_secs_f64();
    if !ok {
        return Err("a raw write, sync or read failed".into());
    }
    Ok(count as f64 / secs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Every measurement, `reps` times, interleaved.
pub fn measure(scratch: &Scratch, reps: usize, quick: bool) -> FollowResults {
    let records = if quick { 200 } else { 2_000 };
    let per_thread = |t: usize| (if quick { 400 } else { 4_000 }) / t;
    let mut res = FollowResults {
        records,
        reps,
        ..Default::default()
    };
    let (mut durable, mut appended) = (Vec::new(), Vec::new());
    let mut rates: Vec<(usize, Vec<f64>, Vec<f64>)> = [1, 8]
        .iter()
        .map(|&t| (t, Vec::new(), Vec::new()))
        .collect();
    let (mut raw_without, mut raw_with) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        crate::progress!("follow: repetition {}/{reps}", rep + 1);
        let mut run = || -> Result<(), String> {
            durable.extend(wake_latencies(
                &scratch.fresh("follow-d").path,
                records,
                true,
            )?);
            appended.extend(wake_latencies(
                &scratch.fresh("follow-a").path,
                records,
                false,
            )?);
            for (t, without, with) in rates.iter_mut() {
                // Alternate which goes first, so neither always runs on
                // a warmer disk.
                let order = if rep % 2 == 0 {
                    [false, true]
                } else {
                    [true, false]
                };
                for f in order {
                    let dir = scratch.fresh("follow-cost");
                    let r = durable_rate(&dir.path, *t, per_thread(*t), f)?;
                    if f {
                        with.push(r);
                    } else {
                        without.push(r);
                    }
                    if *t == 1 {
                        let dir = scratch.fresh("follow-raw");
                        let r = raw_rate(&dir.path, per_thread(1), f)?;
                        if f {
                            raw_with.push(r);
                        } else {
                            raw_without.push(r);
                        }
                    }
                }
            }
            Ok(())
        };
        if let Err(e) = run() {
            res.error = Some(e);
            return res;
        }
    }
    let latency = |mut v: Vec<u64>| {
        v.sort_unstable();
        Latency {
            samples: v.len(),
            median_ns: percentile(&v, 0.5),
            p99_ns: percentile(&v, 0.99),
        }
    };
    res.durable = latency(durable);
    res.appended = latency(appended);
    res.cost = rates
        .into_iter()
        .map(|(threads, without, with)| Cost {
            threads,
            without: median(without),
            with: median(with),
            raw_without: if threads == 1 {
                median(raw_without.clone())
            } else {
                0.0
            },
            raw_with: if threads == 1 {
                median(raw_with.clone())
            } else {
                0.0
            },
        })
        .collect();
    res
}

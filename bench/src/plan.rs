// SPDX-License-Identifier: MIT
//! The workloads, their counts, and the loop that runs them: for each row,
//! for each repetition, the row's raw limit and then every system, so slow
//! drifts of the machine (page cache, other load) hit every column alike.
//! The systems' order rotates by one per repetition: whatever the system
//! right after the limit meets (the limit's files just deleted, their
//! memory just freed) lands on a different system each time, and the
//! median drops it.

use crate::harness::{
    set_time_cap, settle, Cell, KernelCounters, Missing, Reader, Sample, Scratch, System, TempDir,
};
use crate::{limits, memory, systems, Args};
use std::path::Path;
use std::time::Duration;

pub const SIZES: [usize; 2] = [128, 4096];
/// Record sizes of the single appends, 1 thread, not durable: the sweep
/// that `docs/bench_appends_vs_size.svg` plots.
pub const APPEND_SIZES: [usize; 6] = [64, 128, 512, 1024, 4096, 16384];
/// Lengths of the contiguous runs read in the reads-against-run-length
/// sweep (`docs/bench_reads_vs_run.svg`), at [`RUN_SWEEP_SIZE`]: 1 is the
/// random single reads row, [`RUN_LEN`] the runs row; these are the rows
/// between.
pub const SHORT_RUNS: [usize; 2] = [10, 100];
pub const RUN_SWEEP_SIZE: usize = 128;
/// Id of the peak memory of the reads (children serving the random single
/// reads and the runs of 1,000 at [`RUN_SWEEP_SIZE`]).
pub const READ_MEMORY_ID: &str = "memory/reads";
pub const DURABLE_THREADS: [usize; 4] = [1, 2, 8, 32];
pub const NONDURABLE_THREADS: [usize; 2] = [2, 4];
pub const BATCH_LEN: usize = 100;
pub const RUN_LEN: usize = 1000;
/// nano_wal's record frame (docs/FORMAT.md).
pub const FRAME: usize = 24;
/// Names of the limits over nano_wal's on-disk bytes (payload + frame).
pub const FRAMED_PWRITE: &str = "pwrite per record, payload + 24 B frame";
pub const FRAMED_BATCH: &str = "one pwrite per packed batch of 100, payload + 24 B frame each";
pub const FRAMED_RANDOM: &str =
    "pread per record (random), payload + 24 B frame, position from an index";
pub const FRAMED_RUNS: &str = "one pread per run of 1,000, payload + 24 B frame each";

/// How much each workload does per measurement.
#[derive(Debug, Clone)]
pub struct Params {
    pub reps: usize,
    /// Single appends per measurement at 128 B (4 KiB does a quarter).
    pub appends: usize,
    /// At the sizes of the single-append sweep that no other row uses, a
    /// measurement appends at most this many bytes (and at most `appends`
    /// records).
    pub sweep_bytes: u64,
    /// Batches of 100 per measurement at 128 B (4 KiB does a quarter).
    pub batches: usize,
    /// Durable appends per measurement at 128 B, split over the threads (4 KiB does a quarter).
    pub durable: usize,
    /// Time cap of one fsync-bound measurement (see `harness::set_time_cap`).
    pub durable_cap: Duration,
    /// Bytes of the prefilled log that reads and replay run against.
    pub read_log_bytes: u64,
    pub random_reads: usize,
    pub runs: usize,
    /// Size of the stream opened in the recovery row.
    pub recovery_bytes: u64,
    /// Sealed segments of the stream opened in the many-segments row.
    pub sealed_segments: usize,
}

impl Params {
    pub fn new(quick: bool, reps: Option<usize>) -> Params {
        let p = if quick {
            Params {
                reps: 3,
                appends: 20_000,
                sweep_bytes: 8 << 20,
                batches: 200,
                durable: 400,
                durable_cap: Duration::from_millis(500),
                read_log_bytes: 8 << 20,
                random_reads: 10_000,
                runs: 10,
                recovery_bytes: 64 << 20,
                sealed_segments: 1_000,
            }
        } else {
            Params {
                reps: 5,
                appends: 500_000,
                sweep_bytes: 64 << 20,
                batches: 5_000,
                durable: 4_000,
                durable_cap: Duration::from_secs(3),
                read_log_bytes: 256 << 20,
                random_reads: 200_000,
                runs: 200,
                recovery_bytes: 1 << 30,
                sealed_segments: 10_000,
            }
        };
        Params {
            reps: reps.unwrap_or(p.reps).max(3),
            ..p
        }
    }

    fn scaled(&self, n: usize, size: usize) -> usize {
        if size > 1024 {
            (n / 4).max(1)
        } else {
            n
        }
    }

    /// Single appends per measurement of `append/1t/{size}`: the 128 B and
    /// 4 KiB rows as every other row at those sizes, the rest of the sweep
    /// at most `sweep_bytes`.
    pub fn sweep_appends(&self, size: usize) -> usize {
        if SIZES.contains(&size) {
            self.scaled(self.appends, size)
        } else {
            self.appends
                .min((self.sweep_bytes / size as u64) as usize)
                .max(1)
        }
    }

    /// Runs of `len` records per measurement: as many records as the runs
    /// of [`RUN_LEN`] read.
    pub fn runs_of(&self, len: usize) -> usize {
        (self.runs * RUN_LEN / len).max(1)
    }
}

/// What a row's numbers mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// Records (or opens) per second.
    Ops,
    /// Payload bytes per second.
    Bytes,
}

/// One row of a results table: the samples of its limit and of every system.
#[derive(Debug)]
pub struct Row {
    /// Stable id used by the targets, e.g. "append/1t/128".
    pub id: String,
    pub group: &'static str,
    pub label: String,
    pub unit: Unit,
    pub limit_name: &'static str,
    pub limit: Vec<Cell>,
    /// (system name, samples), in column order.
    pub cells: Vec<(&'static str, Vec<Cell>)>,
    /// Lines said under the row's table (what else the row measured).
    pub detail: Vec<String>,
}

impl Row {
    fn new(
        id: String,
        group: &'static str,
        label: String,
        unit: Unit,
        limit_name: &'static str,
    ) -> Row {
        let cells = systems().iter().map(|s| (s.name(), Vec::new())).collect();
        Row {
            id,
            group,
            label,
            unit,
            limit_name,
            limit: Vec::new(),
            cells,
            detail: Vec::new(),
        }
    }

    pub fn rate(&self, s: &Sample) -> f64 {
        match self.unit {
            Unit::Ops => s.ops_per_sec(),
            Unit::Bytes => s.bytes_per_sec(),
        }
    }

    /// Median of the repetitions, or why there is none (the first miss).
    pub fn median(&self, cells: &[Cell]) -> Result<f64, Missing> {
        let mut v = Vec::new();
        for c in cells {
            match c {
                Ok(s) => v.push(self.rate(s)),
                Err(m) => return Err(m.clone()),
            }
        }
        if v.is_empty() {
            return Err(Missing::NotApplicable("not run".into()));
        }
        v.sort_by(|a, b| a.total_cmp(b));
        Ok(v[v.len() / 2])
    }

    pub fn system(&self, name: &str) -> Option<&[Cell]> {
        self.cells
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c.as_slice())
    }
}

/// (VmHWM in KiB, records the child read).
pub type PeakMemory = (u64, u64);

/// Peak memory of each system (KiB of VmHWM) replaying the recovery
/// stream, and of the bare bench process; and of each system serving reads.
#[derive(Debug, Default)]
pub struct MemoryResult {
    pub baseline_kib: Option<u64>,
    pub per_system: Vec<(&'static str, Result<PeakMemory, String>)>,
    pub reads: ReadMemory,
}

/// Peak memory of each system serving the reads of the read rows (the
/// `memory/reads` row).
#[derive(Debug, Default)]
pub struct ReadMemory {
    /// VmHWM of a child that opens nothing.
    pub baseline_kib: Option<u64>,
    pub size: usize,
    /// Records of the log each child fills.
    pub records: usize,
    pub reads: usize,
    pub runs: usize,
    pub run_len: usize,
    pub per_system: Vec<(&'static str, Result<memory::ReadPeak, String>)>,
}

/// Resident memory of a log of [`BIG_RECORDS`] records serving random reads
/// by index (the `memory-100m` row, run only when `--only` names it).
#[derive(Debug)]
pub struct IndexMemory {
    pub build_secs: f64,
    pub disk_bytes: u64,
    /// VmRSS of a child that opens nothing.
    pub baseline_kib: Option<u64>,
    /// The big stream: sealed segments and an active one.
    pub big: Result<memory::ByIndex, String>,
    /// A stream of one active segment of [`ACTIVE_RECORDS`] records.
    pub active: Result<memory::ByIndex, String>,
    pub reads: usize,
}

/// Records of the big stream of the `memory-100m` row, and their size.
pub const BIG_RECORDS: u64 = 100_000_000;
pub const BIG_RECORD_SIZE: usize = 16;
/// Records of the one-segment stream that gives the active segment's cost.
pub const ACTIVE_RECORDS: u64 = 4_000_000;

pub struct Results {
    pub params: Params,
    pub index_memory: Option<IndexMemory>,
    pub rows: Vec<Row>,
    /// The raw limits table: (name, size) -> samples, ops/s.
    pub limits: Vec<Row>,
    pub memory: MemoryResult,
    /// Followers: wake-up latency and their cost to durable appenders.
    pub follow: Option<crate::follow::FollowResults>,
    /// The Raft-log workload, nano_wal against raft-engine (none of its
    /// rows wanted: None).
    pub raftlog: Option<crate::raftlog::RaftResults>,
    /// The openraft log store against nano_wal directly (none of its rows
    /// wanted: None).
    pub openraft: Option<crate::adapter::AdapterResults>,
}

pub fn size_label(size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

struct Runner<'a> {
    args: &'a Args,
    scratch: Scratch,
    systems: Vec<Box<dyn System>>,
}

impl Runner<'_> {
    fn wanted(&self, id: &str) -> bool {
        self.args
            .only
            .as_ref()
            .is_none_or(|o| o.split(',').any(|part| id.contains(part)))
    }

    /// Is `id` one of the comma-separated `--only` values, exactly? (For
    /// rows too large for a normal run.)
    fn named(&self, id: &str) -> bool {
        self.args
            .only
            .as_ref()
            .is_some_and(|o| o.split(',').any(|part| part == id))
    }

    /// Run a write-type row: per repetition, the limit then every system,
    /// each in a fresh directory.
    fn write_row(
        &self,
        row: &mut Row,
        reps: usize,
        limit: &dyn Fn(&Path) -> Cell,
        sys: &dyn Fn(&dyn System, &Path) -> Cell,
    ) {
        if !self.wanted(&row.id) {
            return;
        }
        for rep in 0..reps {
            crate::progress!("  {} rep {}/{}", row.id, rep + 1, reps);
            let d = self.scratch.fresh("raw");
            settle();
            row.limit.push(limit(&d.path));
            drop(d);
            for i in rotated(self.systems.len(), rep) {
                let s = &self.systems[i];
                let d = self.scratch.fresh(&format!("s{i}"));
                settle();
                let before = KernelCounters::now();
                let cell = sys(s.as_ref(), &d.path);
                if self.args.trace {
                    let rate = cell.as_ref().map_or(0.0, |c| c.ops as f64 / c.secs);
                    crate::progress!(
                        "    {} {}: {rate:.0}/s; {}",
                        row.id,
                        s.name(),
                        KernelCounters::now().since(&before)
                    );
                }
                row.cells[i].1.push(cell);
            }
        }
    }
}

pub fn run(args: &Args, root: &Path, open_file_limit: u64) -> Results {
    let p = Params::new(args.quick, args.reps);
    let r = Runner {
        args,
        scratch: Scratch::new(root.to_path_buf()),
        systems: systems(),
    };
    let mut rows = Vec::new();
    let mut lim_rows = Vec::new();
    crate::progress!("single appends against record size");
    for size in APPEND_SIZES {
        let n = p.sweep_appends(size);
        let mut row = Row::new(
            format!("append/1t/{size}"),
            "Single appends, 1 thread, not durable",
            size_label(size),
            Unit::Ops,
            "pwrite/record",
        );
        r.write_row(
            &mut row,
            p.reps,
            &|d| limits::pwrite_per_record(d, size, n),
            &|s, d| s.append(d, size, 1, n, false),
        );
        rows.push(row);
    }
    for size in SIZES {
        let sl = size_label(size);
        let n = p.scaled(p.appends, size);
        crate::progress!("writes, {sl}");

        let nb = p.scaled(p.batches, size);
        let mut row = Row::new(
            format!("batch/{size}"),
            "Batches of 100, 1 thread, not durable",
            sl.clone(),
            Unit::Ops,
            "pwritev/batch",
        );
        r.write_row(
            &mut row,
            p.reps,
            &|d| limits::pwritev_per_batch(d, size, nb, BATCH_LEN),
            &|s, d| s.batches(d, size, nb, BATCH_LEN),
        );
        rows.push(row);

        set_time_cap(Some(p.durable_cap));
        for t in DURABLE_THREADS {
            // Growing a file by a 4 KiB block per fsync is ~10x slower than
            // appending 128 B inside a block: a quarter of the count keeps
            // the 4 KiB rows' time in line.
            let nd = p.scaled(p.durable, size);
            let per = nd.div_ceil(t);
            let mut row = Row::new(
                format!("durable/{t}t/{size}"),
                "Durable single appends (each returns once it survives power loss)",
                format!("{t} thread{}, {sl}", if t > 1 { "s" } else { "" }),
                Unit::Ops,
                "pwrite+fdatasync/record (growing file, 1 thread)",
            );
            r.write_row(
                &mut row,
                p.reps,
                &|d| limits::pwrite_fdatasync(d, size, nd, false),
                &|s, d| s.append(d, size, t, per, true),
            );
            rows.push(row);
        }
        set_time_cap(None);

        for t in NONDURABLE_THREADS {
            let per = n / t;
            let mut row = Row::new(
                format!("nondurable/{t}t/{size}"),
                "Single appends from several threads, not durable",
                format!("{t} threads, {sl}"),
                Unit::Ops,
                "pwrite/record (1 thread)",
            );
            r.write_row(
                &mut row,
                p.reps,
                &|d| limits::pwrite_per_record(d, size, per * t),
                &|s, d| s.append(d, size, t, per, false),
            );
            rows.push(row);
        }

        lim_rows.extend(measure_limits(&r, &p, size));
        rows.extend(read_rows(&r, &p, size));
    }
    let (open_row, streams) = recovery_row(&r, &p);
    rows.push(open_row);
    rows.push(segments_row(&r, &p, open_file_limit));
    for drop in [1, 100, 10_000] {
        rows.push(truncate_row(&r, &p, drop));
    }
    let read_memory = if r.wanted(READ_MEMORY_ID) {
        read_memory(&r, &p)
    } else {
        ReadMemory::default()
    };
    let memory = match streams {
        Some((dirs, built)) if r.wanted("memory") || r.wanted("open") => {
            memory::measure(&r.systems, r.scratch.root(), &dirs, &built)
        }
        _ => MemoryResult::default(),
    };
    let memory = MemoryResult {
        reads: read_memory,
        ..memory
    };
    let index_memory = r.named("memory-100m").then(|| index_memory(&r));
    let follow = r
        .wanted("follow")
        .then(|| crate::follow::measure(&r.scratch, p.reps, args.quick));
    let raftlog = crate::raftlog::measure(
        &r.scratch,
        crate::raftlog::Counts::new(args.quick, p.reps),
        args.trace,
        &|id| r.wanted(id),
    );
    let openraft = crate::adapter::measure(
        &r.scratch,
        crate::adapter::Counts::new(args.quick, p.reps),
        args.trace,
        &|id| r.wanted(id),
    );
    Results {
        follow,
        raftlog: (!raftlog.rows.is_empty()).then_some(raftlog),
        openraft: (!openraft.rows.is_empty()).then_some(openraft),
        params: p,
        index_memory,
        rows,
        limits: lim_rows,
        memory,
    }
}

/// The limits table: every raw limit the targets use at one record size, in
/// one interleaved loop of its own (the per-row limits are measured again
/// inside their rows, so ratios always use the same repetition).
fn measure_limits(r: &Runner, p: &Params, size: usize) -> Vec<Row> {
    let sl = size_label(size);
    let n = p.scaled(p.appends, size);
    let nb = p.scaled(p.batches, size);
    let nd = p.scaled(p.durable, size);
    let count = (p.read_log_bytes / size as u64) as usize;
    type Lim<'a> = (&'static str, Box<dyn Fn(&Path) -> Cell + 'a>);
    let list: Vec<Lim> = vec![
        (
            "pwrite per record",
            Box::new(move |d: &Path| limits::pwrite_per_record(d, size, n)),
        ),
        (
            "pwritev per batch of 100",
            Box::new(move |d: &Path| limits::pwritev_per_batch(d, size, nb, BATCH_LEN)),
        ),
        (
            "pwrite + fdatasync per record, growing file",
            Box::new(move |d: &Path| {
                capped(p.durable_cap, || {
                    limits::pwrite_fdatasync(d, size, nd, false)
                })
            }),
        ),
        (
            "pwrite + fdatasync per record, pre-written file",
            Box::new(move |d: &Path| {
                capped(p.durable_cap, || {
                    limits::pwrite_fdatasync(d, size, nd, true)
                })
            }),
        ),
        (
            "pread per record (random)",
            Box::new(move |d: &Path| {
                let f = limits::RawFile::write(d, size, count)?;
                f.pread_per_record(&random_indices(count, p.random_reads, 1))
            }),
        ),
        (
            "one pread per contiguous run of 1,000",
            Box::new(move |d: &Path| {
                let f = limits::RawFile::write(d, size, count)?;
                f.pread_per_run(&run_starts(count, p.runs, RUN_LEN, 2), RUN_LEN.min(count))
            }),
        ),
        // The same syscalls over the bytes nano_wal's format stores per
        // record (payload + 24-byte frame), reads at positions looked up in
        // an index as a reader holding refs does: what bounds the engine's
        // rows once its format is given (see the targets' last column).
        (
            FRAMED_PWRITE,
            Box::new(move |d: &Path| limits::pwrite_per_record(d, size + FRAME, n)),
        ),
        (
            FRAMED_BATCH,
            Box::new(move |d: &Path| {
                limits::pwrite_per_packed_batch(d, size + FRAME, nb, BATCH_LEN)
            }),
        ),
        (
            FRAMED_RANDOM,
            Box::new(move |d: &Path| {
                let f = limits::RawFile::write(d, size + FRAME, count)?;
                f.pread_indexed(&random_indices(count, p.random_reads, 1))
            }),
        ),
        (
            FRAMED_RUNS,
            Box::new(move |d: &Path| {
                let f = limits::RawFile::write(d, size + FRAME, count)?;
                f.pread_per_run(&run_starts(count, p.runs, RUN_LEN, 2), RUN_LEN.min(count))
            }),
        ),
        (
            "sequential pread, 1 MiB chunks",
            Box::new(move |d: &Path| limits::RawFile::write(d, size, count)?.sequential()),
        ),
        (
            "memcpy per record",
            Box::new(move |_: &Path| limits::memcpy(size, n)),
        ),
    ];
    let mut rows: Vec<Row> = list
        .iter()
        .map(|(name, _)| {
            let mut row = Row::new(
                format!("limit/{size}/{name}"),
                "Limits",
                format!("{name}, {sl}"),
                Unit::Ops,
                "",
            );
            row.cells.clear();
            row
        })
        .collect();
    if !r.wanted("limit") {
        return Vec::new();
    }
    for rep in 0..p.reps {
        crate::progress!("  limits {sl} rep {}/{}", rep + 1, p.reps);
        for (row, (_, f)) in rows.iter_mut().zip(&list) {
            let d = r.scratch.fresh("limit");
            settle();
            row.limit.push(f(&d.path));
        }
    }
    rows
}

/// Run `f` under a time cap.
fn capped(cap: Duration, f: impl FnOnce() -> Cell) -> Cell {
    set_time_cap(Some(cap));
    let c = f();
    set_time_cap(None);
    c
}

/// Deterministic pseudo-random indices (xorshift), the same for every system.
pub fn random_indices(count: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % count as u64) as usize
        })
        .collect()
}

/// The indices `0..n` starting at `rep % n` and wrapping around: the order
/// of the systems in repetition `rep`.
fn rotated(n: usize, rep: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| (rep + k) % n)
}

/// Starts of runs of `len` records that fit in the log.
pub fn run_starts(count: usize, n: usize, len: usize, seed: u64) -> Vec<usize> {
    let room = count.saturating_sub(len) + 1;
    random_indices(room, n, seed)
}

/// Random reads, contiguous runs and replay against one prefilled log per
/// system (filled once, untimed; reused by every repetition). At
/// [`RUN_SWEEP_SIZE`] also the runs of [`SHORT_RUNS`]. Only the rows
/// `--only` wants are measured.
fn read_rows(r: &Runner, p: &Params, size: usize) -> Vec<Row> {
    let sl = size_label(size);
    let count = (p.read_log_bytes / size as u64) as usize;
    let mut random = Row::new(
        format!("random/{size}"),
        "Random single reads",
        format!("{sl}, by ref"),
        Unit::Ops,
        "pread/record",
    );
    let mut random_index = Row::new(
        format!("random-index/{size}"),
        "Random single reads",
        format!("{sl}, by index"),
        Unit::Ops,
        "pread/record",
    );
    let mut runs = Row::new(
        format!("runs/{size}"),
        "Reads of contiguous runs of 1,000 records (records/s)",
        format!("{sl}, by refs"),
        Unit::Ops,
        "one pread/run",
    );
    let mut ranges = Row::new(
        format!("range/{size}"),
        "Reads of contiguous runs of 1,000 records (records/s)",
        format!("{sl}, range by index"),
        Unit::Ops,
        "one pread/run",
    );
    let mut replay = Row::new(
        format!("replay/{size}"),
        "Replay of the whole log (payload bytes/s)",
        format!("{sl}, {} MiB log", p.read_log_bytes >> 20),
        Unit::Bytes,
        "sequential pread, 1 MiB chunks",
    );
    // Runs of 10 and 100 (ids runs-10/128, runs-100/128), with their starts.
    let short_lens: &[usize] = if size == RUN_SWEEP_SIZE {
        &SHORT_RUNS
    } else {
        &[]
    };
    let mut short: Vec<(Row, Vec<usize>, usize)> = short_lens
        .iter()
        .zip(4..)
        .map(|(&len, seed)| {
            let row = Row::new(
                format!("runs-{len}/{size}"),
                "Reads of contiguous runs of 10 and 100 records (records/s)",
                format!("{sl}, runs of {len}, by refs"),
                Unit::Ops,
                "one pread/run",
            );
            let len = len.min(count);
            (row, run_starts(count, p.runs_of(len), len, seed), len)
        })
        .collect();
    let want = [&random, &random_index, &runs, &ranges, &replay].map(|row| r.wanted(&row.id));
    let want_short: Vec<bool> = short.iter().map(|(row, _, _)| r.wanted(&row.id)).collect();
    if !want.iter().chain(&want_short).any(|w| *w) {
        return Vec::new();
    }
    crate::progress!("reads, {sl}: prefilling {count} records per system");
    let raw_dir = r.scratch.fresh("raw-read");
    let raw = limits::RawFile::write(&raw_dir.path, size, count);
    let dirs: Vec<_> = (0..r.systems.len())
        .map(|i| r.scratch.fresh(&format!("read{i}")))
        .collect();
    let mut readers: Vec<Result<Box<dyn Reader + '_>, Missing>> = r
        .systems
        .iter()
        .zip(&dirs)
        .map(|(s, d)| s.prefill(&d.path, size, count))
        .collect();
    // The prefills' dirty pages are written back now, not during the reads.
    settle();
    let idx = random_indices(count, p.random_reads, 1);
    let starts = run_starts(count, p.runs, RUN_LEN, 2);
    let run_len = RUN_LEN.min(count);
    for rep in 0..p.reps {
        crate::progress!("  reads {sl} rep {}/{}", rep + 1, p.reps);
        let lim = |f: &dyn Fn(&limits::RawFile) -> Cell| match &raw {
            Ok(file) => f(file),
            Err(m) => Err(m.clone()),
        };
        // The row's limit, then each reader in the rotated order, its cell
        // pushed to its column; nothing when the row is not wanted.
        let mut measure = |row: &mut Row,
                           wanted: bool,
                           limit: &dyn Fn(&limits::RawFile) -> Cell,
                           f: &dyn Fn(&mut dyn Reader) -> Cell| {
            if !wanted {
                return;
            }
            row.limit.push(lim(limit));
            for i in rotated(readers.len(), rep) {
                let cell = readers[i]
                    .as_mut()
                    .map_err(|m| m.clone())
                    .and_then(|rd| f(rd.as_mut()));
                row.cells[i].1.push(cell);
            }
        };
        measure(&mut random, want[0], &|f| f.pread_per_record(&idx), &|rd| {
            rd.random(&idx)
        });
        measure(
            &mut random_index,
            want[1],
            &|f| f.pread_per_record(&idx),
            &|rd| rd.random_by_index(&idx),
        );
        measure(
            &mut runs,
            want[2],
            &|f| f.pread_per_run(&starts, run_len),
            &|rd| rd.runs(&starts, run_len),
        );
        // Right after the runs of 1,000: a reader that consumes what it
        // reads (walrus) reads these from the same fill.
        for ((row, st, len), wanted) in short.iter_mut().zip(&want_short) {
            measure(row, *wanted, &|f| f.pread_per_run(st, *len), &|rd| {
                rd.runs(st, *len)
            });
        }
        measure(
            &mut ranges,
            want[3],
            &|f| f.pread_per_run(&starts, run_len),
            &|rd| rd.ranges(&starts, run_len),
        );
        measure(&mut replay, want[4], &|f| f.sequential(), &|rd| rd.replay());
    }
    drop(readers);
    let mut rows = vec![random, random_index];
    rows.extend(short.into_iter().map(|(row, _, _)| row));
    rows.extend([runs, ranges, replay]);
    rows
}

/// Peak memory of each system serving the random single reads and the runs
/// of 1,000 of the [`RUN_SWEEP_SIZE`] read rows, in a child process per
/// system that fills a log of the rows' size itself (see `memory::reads`).
fn read_memory(r: &Runner, p: &Params) -> ReadMemory {
    let size = RUN_SWEEP_SIZE;
    let count = (p.read_log_bytes / size as u64) as usize;
    let run_len = RUN_LEN.min(count);
    crate::progress!("memory of the reads: one child process per system");
    let baseline_kib = memory::baseline_hwm_kib();
    let per_system = r
        .systems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let d = r.scratch.fresh(&format!("memread{i}"));
            let job = memory::ReadJob {
                system: i,
                size,
                count,
                reads: p.random_reads,
                runs: p.runs,
                run_len,
            };
            (s.name(), memory::reads(&job, &d.path, r.scratch.root()))
        })
        .collect();
    ReadMemory {
        baseline_kib,
        size,
        records: count,
        reads: p.random_reads,
        runs: p.runs,
        run_len,
        per_system,
    }
}

/// Open (recover) a stream of `recovery_bytes` of 4 KiB records, built once
/// per system; reported as stream bytes per second of open time.
type Streams = (Vec<TempDir>, Vec<Result<(), Missing>>);

fn recovery_row(r: &Runner, p: &Params) -> (Row, Option<Streams>) {
    let size = 4096;
    let mut row = Row::new(
        "open".into(),
        "Open (recovery) of a stream, from the page cache (stream bytes/s)",
        format!(
            "{} MiB of 4 KiB records{}",
            p.recovery_bytes >> 20,
            if r.args.quick {
                " (quick mode; the full run uses 1 GiB)"
            } else {
                ""
            }
        ),
        Unit::Bytes,
        "sequential pread, 1 MiB chunks",
    );
    if !r.wanted("open") {
        return (row, None);
    }
    crate::progress!("recovery: building {} MiB streams", p.recovery_bytes >> 20);
    let count = (p.recovery_bytes / size as u64) as usize;
    let raw_dir = r.scratch.fresh("raw-open");
    let raw = limits::RawFile::write(&raw_dir.path, size, count);
    let dirs: Vec<_> = (0..r.systems.len())
        .map(|i| r.scratch.fresh(&format!("open{i}")))
        .collect();
    let built: Vec<Result<(), Missing>> = r
        .systems
        .iter()
        .zip(&dirs)
        .map(|(s, d)| s.build(&d.path, size, p.recovery_bytes))
        .collect();
    settle();
    for rep in 0..p.reps {
        crate::progress!("  open rep {}/{}", rep + 1, p.reps);
        row.limit.push(
            raw.as_ref()
                .map_err(|m| m.clone())
                .and_then(|f| f.sequential()),
        );
        for i in rotated(r.systems.len(), rep) {
            let s = &r.systems[i];
            let c = built[i]
                .clone()
                .and_then(|_| s.open(&dirs[i].path))
                .map(|mut smp| {
                    smp.bytes = p.recovery_bytes;
                    smp
                });
            row.cells[i].1.push(c);
        }
    }
    // The built streams stay for the memory children.
    (row, Some((dirs, built)))
}

/// `truncate_after` of the last `drop` records of a stream of 1,000 more,
/// on a fresh stream per repetition and system (truncations per second).
fn truncate_row(r: &Runner, p: &Params, drop: u64) -> Row {
    let mut row = Row::new(
        format!("truncate/{drop}"),
        "Truncation of the tail (truncations/s)",
        format!(
            "the last {drop} of {} records of 128 B, one segment",
            1000 + drop
        ),
        Unit::Ops,
        "pwrite 32 bytes after the end of a file, fdatasync it",
    );
    if !r.wanted(&row.id) {
        return row;
    }
    crate::progress!("truncate/{drop}");
    for rep in 0..p.reps {
        let d = r.scratch.fresh(&format!("trunc-limit{rep}"));
        row.limit.push(limits::append_synced_record(&d.path));
        for i in rotated(r.systems.len(), rep) {
            let d = r.scratch.fresh(&format!("trunc{i}-{rep}"));
            let cell = r.systems[i].truncate_tail(&d.path, 1000, drop);
            row.cells[i].1.push(cell);
        }
    }
    row
}

/// Open a stream of many small sealed segments, built once per system:
/// opens per second, and how many bytes the opening thread read (a sealed
/// segment's header and index-footer trailer, and the newest segment's
/// records, which open scans: not the sealed segments' records).
fn segments_row(r: &Runner, p: &Params, open_file_limit: u64) -> Row {
    // A nano_wal stream holds a descriptor per segment: as many segments as
    // the open-file limit leaves room for, beside what is open now (walrus
    // keeps its files until exit).
    let room = open_file_limit.saturating_sub(crate::harness::open_fds() + 256);
    let sealed = p.sealed_segments.min(room.saturating_sub(1) as usize);
    let mut row = Row::new(
        "open-segments".into(),
        "Open of a stream of many sealed segments (opens/s)",
        format!(
            "{sealed} sealed segments + the newest, {} x 128 B records each",
            crate::nano::SEGMENT_RECORDS
        ),
        Unit::Ops,
        "per segment file: open, fstat, pread of its first 64 and last 40 bytes, close",
    );
    if !r.wanted(&row.id) {
        return row;
    }
    crate::progress!("open-segments: building streams of {sealed} sealed segments");
    let dirs: Vec<_> = (0..r.systems.len())
        .map(|i| r.scratch.fresh(&format!("segs{i}")))
        .collect();
    let built: Vec<Result<(), Missing>> = r
        .systems
        .iter()
        .zip(&dirs)
        .map(|(s, d)| s.build_segments(&d.path, sealed))
        .collect();
    // The raw limit reads the files of the first stream that was built.
    let raw_dir = built.iter().position(|b| b.is_ok()).map(|i| &dirs[i].path);
    settle();
    let mut read: Vec<Vec<u64>> = vec![Vec::new(); r.systems.len()];
    // Reading the counter reads a few bytes itself: taken off each delta.
    let own = match (
        crate::harness::thread_read_bytes(),
        crate::harness::thread_read_bytes(),
    ) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    for rep in 0..p.reps {
        crate::progress!("  open-segments rep {}/{}", rep + 1, p.reps);
        row.limit.push(match raw_dir {
            Some(d) => limits::open_each_file(d),
            None => Err(Missing::Failed("no stream was built".into())),
        });
        for i in rotated(r.systems.len(), rep) {
            let before = crate::harness::thread_read_bytes();
            let cell = built[i]
                .clone()
                .and_then(|_| r.systems[i].open(&dirs[i].path));
            if let (Ok(_), Some(b), Some(a)) = (&cell, before, crate::harness::thread_read_bytes())
            {
                read[i].push((a - b).saturating_sub(own));
            }
            row.cells[i].1.push(cell);
        }
    }
    let (files, bytes, newest) = raw_dir.map_or((0, 0, 0), |d| segment_files(d));
    if sealed < p.sealed_segments {
        row.detail.push(format!(
            "Fewer segments than the {} meant: the open-file limit is {open_file_limit}, and nano_wal keeps a \
             descriptor open per segment.",
            p.sealed_segments
        ));
    }
    if raw_dir.is_some() {
        row.detail.push(format!(
            "The stream: {files} segment files, {} on disk; the newest segment is {newest} bytes.",
            kib(bytes)
        ));
    }
    // What an open that scans only the newest segment reads: each sealed
    // segment's header and index-footer trailer, and the newest whole.
    let expected = sealed as u64
        * (nano_wal::format::SEGMENT_HEADER_SIZE + nano_wal::format::TRAILER_SIZE) as u64
        + newest;
    for (i, mut v) in read.into_iter().enumerate() {
        if v.is_empty() {
            continue;
        }
        v.sort_unstable();
        let median = v[v.len() / 2];
        // The counter's own reads vary by a few bytes (its numbers grow a
        // digit): a difference under one read of it is that, not the log.
        let what = if median.abs_diff(expected) < own.max(1) {
            format!(
                "the sealed segments' headers and trailers and the whole newest segment are {expected} bytes \
                 (the difference is the counter's own reads, {own} bytes each)"
            )
        } else {
            format!(
                "{} bytes {} the sealed segments' headers and trailers and the whole newest segment ({expected} bytes)",
                median.abs_diff(expected),
                if median > expected { "more than" } else { "less than" }
            )
        };
        row.detail.push(format!(
            "{}: an open read {median} bytes ({}, {:.1}% of the stream; rchar of the opening thread, median): {what}.",
            r.systems[i].name(),
            kib(median),
            100.0 * median as f64 / bytes.max(1) as f64
        ));
    }
    row
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// (segment files, their bytes, the size of the one with the highest id).
fn segment_files(dir: &Path) -> (usize, u64, u64) {
    let (mut files, mut bytes, mut newest) = (0, 0, (0u64, 0u64));
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name
            .strip_suffix(".seg")
            .and_then(|n| n.rsplit_once('_'))
            .and_then(|(_, id)| id.parse::<u64>().ok())
        else {
            continue;
        };
        let len = entry.metadata().map_or(0, |m| m.len());
        files += 1;
        bytes += len;
        if id >= newest.0 {
            newest = (id, len);
        }
    }
    (files, bytes, newest.1)
}

/// Build the big stream and the one-segment stream with nano_wal's Rust
/// API, then measure each in a child that opens it and reads random
/// records by index.
fn index_memory(r: &Runner) -> IndexMemory {
    let reads = 100_000;
    crate::progress!(
        "memory-100m: building {BIG_RECORDS} records of {BIG_RECORD_SIZE} B (one-off row)"
    );
    let big_dir = r.scratch.fresh("big");
    let start = std::time::Instant::now();
    let built = crate::nano::build_records(&big_dir.path, BIG_RECORD_SIZE, BIG_RECORDS);
    let build_secs = start.elapsed().as_secs_f64();
    let disk_bytes = dir_bytes(&big_dir.path);
    let active_dir = r.scratch.fresh("active");
    let active_built =
        crate::nano::build_records(&active_dir.path, BIG_RECORD_SIZE, ACTIVE_RECORDS);
    settle();
    crate::progress!("memory-100m: children reading by index");
    let child = |built: Result<(), Missing>, dir: &Path| match built {
        Ok(()) => memory::by_index(dir, reads),
        Err(Missing::NotApplicable(m)) | Err(Missing::Failed(m)) => Err(m),
    };
    IndexMemory {
        build_secs,
        disk_bytes,
        baseline_kib: memory::baseline_rss_kib(),
        big: child(built, &big_dir.path),
        active: child(active_built, &active_dir.path),
        reads,
    }
}

/// Bytes of the files in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

// SPDX-License-Identifier: MIT
//! Peak memory: each system opens the recovery stream and reads it all
//! (through replay where its API has one) in a child process of its own, a
//! re-exec of this binary, which reports its VmHWM (peak resident set). A
//! child that does nothing gives the baseline of the bench binary itself.
//! For the reads, each system's child fills a log as the read rows do and
//! serves their random single reads and runs of 1,000, its peak reset
//! after the fill so that it shows what serving the reads holds.

use crate::harness::{Missing, System, TempDir};
use crate::plan::MemoryResult;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Command;

pub const CHILD_ARG: &str = "__memory_child";

/// Peak resident set of this process, in KiB.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child: `__memory_child none`, `__memory_child INDEX DIR SCRATCH`,
/// `__memory_child reads INDEX DIR SCRATCH SIZE COUNT READS RUNS RUN_LEN`
/// (see [`reads`]), or `__memory_child by-index DIR READS` (nano_wal's Rust
/// API: open, then READS random reads by index over the whole log).
pub fn child(args: &[String]) {
    if let [mode, rest @ ..] = args {
        if mode == "reads" {
            reads_child(rest);
            std::process::exit(0);
        }
    }
    if let [mode] = args {
        if mode == "rss" {
            println!("rss_kib {}", status_kib("VmRSS:").unwrap_or(0));
            std::process::exit(0);
        }
    }
    if let [mode, dir, reads] = args {
        if mode == "by-index" {
            by_index_child(Path::new(dir), reads.parse().unwrap_or(0));
            std::process::exit(0);
        }
    }
    let records = match args {
        [idx, dir, scratch] => {
            let systems = crate::systems();
            let Some(sys) = idx.parse::<usize>().ok().and_then(|i| systems.get(i)) else {
                println!("error bad system index");
                return;
            };
            crate::peers::walrus::init(Path::new(scratch));
            match sys.open_and_replay(Path::new(dir)) {
                Ok(n) => n,
                Err(Missing::NotApplicable(m)) | Err(Missing::Failed(m)) => {
                    println!("error {m}");
                    return;
                }
            }
        }
        _ => 0,
    };
    println!("vmhwm_kib {} records {records}", vm_hwm_kib().unwrap_or(0));
    // Some peers leave background threads running; do not wait for them.
    std::process::exit(0);
}

/// What a child printed.
struct ChildOutput {
    stdout: String,
    stderr: String,
}

impl ChildOutput {
    /// The error for a report that could not be read: the stdout line not
    /// understood and the last line of stderr, so that a failed child
    /// shows what it said.
    fn unreadable(&self, line: &str) -> String {
        format!(
            "child said {:?} (stderr {:?})",
            line,
            self.stderr.lines().last()
        )
    }
}

/// Re-execute this binary as a child (`CHILD_ARG` then `args`) and wait for
/// it: each measurement gets a process, and so a peak, of its own.
fn run_child<I, S>(args: I) -> Result<ChildOutput, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg(CHILD_ARG)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    Ok(ChildOutput {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn spawn(args: &[&str]) -> Result<(u64, u64), String> {
    let out = run_child(args)?;
    let line = out.stdout.lines().last().unwrap_or("");
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["vmhwm_kib", kib, "records", n] => Ok((kib.parse().unwrap_or(0), n.parse().unwrap_or(0))),
        _ => Err(out.unreadable(line)),
    }
}

pub fn measure(
    systems: &[Box<dyn System>],
    scratch: &Path,
    dirs: &[TempDir],
    built: &[Result<(), Missing>],
) -> MemoryResult {
    crate::progress!("memory: one child process per system");
    let baseline_kib = spawn(&["none"]).ok().map(|(k, _)| k);
    let per_system = systems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let r = match &built[i] {
                Ok(()) => spawn(&[
                    &i.to_string(),
                    &dirs[i].path.to_string_lossy(),
                    &scratch.to_string_lossy(),
                ]),
                Err(Missing::NotApplicable(m)) | Err(Missing::Failed(m)) => Err(m.clone()),
            };
            (s.name(), r)
        })
        .collect();
    MemoryResult {
        baseline_kib,
        per_system,
        ..MemoryResult::default()
    }
}

fn by_index_child(dir: &Path, reads: usize) {
    let wal = match nano_wal::Wal::open(dir, "bench", nano_wal::WalOptions::default()) {
        Ok(w) => w,
        Err(e) => {
            println!("error Wal::open: {e}");
            return;
        }
    };
    let open_kib = status_kib("VmRSS:").unwrap_or(0);
    let state = wal.log_state();
    let segments = wal.segments();
    let newest = segments.last().map_or(0, |s| s.record_count());
    let span = state.last_index + 1 - state.first_index;
    let idx = crate::plan::random_indices(span as usize, reads, 3);
    for &i in &idx {
        if let Err(e) = wal.read_index(state.first_index + i as u64) {
            println!("error read_index: {e}");
            return;
        }
    }
    println!(
        "rss_open_kib {open_kib} rss_kib {} hwm_kib {} records {span} newest {newest} segments {}",
        status_kib("VmRSS:").unwrap_or(0),
        status_kib("VmHWM:").unwrap_or(0),
        segments.len()
    );
}

/// What a `by-index` child reported.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByIndex {
    pub rss_open_kib: u64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub records: u64,
    /// Records of the newest (active) segment.
    pub newest: u64,
    pub segments: u64,
}

/// Run a `by-index` child on the stream in `dir`.
pub fn by_index(dir: &Path, reads: usize) -> Result<ByIndex, String> {
    let out = run_child(["by-index", &dir.to_string_lossy(), &reads.to_string()])?;
    let line = out.stdout.lines().last().unwrap_or("");
    let w: Vec<&str> = line.split_whitespace().collect();
    let n = |i: usize| w.get(i).and_then(|v| v.parse::<u64>().ok());
    match (w.first(), n(1), n(3), n(5), n(7), n(9), n(11)) {
        (Some(&"rss_open_kib"), Some(a), Some(b), Some(c), Some(d), Some(e), Some(f)) => {
            Ok(ByIndex {
                rss_open_kib: a,
                rss_kib: b,
                hwm_kib: c,
                records: d,
                newest: e,
                segments: f,
            })
        }
        _ => Err(out.unreadable(line)),
    }
}

/// The VmRSS of a child that opens nothing (KiB).
pub fn baseline_rss_kib() -> Option<u64> {
    run_child(["rss"])
        .ok()?
        .stdout
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The VmHWM of a child that opens nothing (KiB).
pub fn baseline_hwm_kib() -> Option<u64> {
    spawn(&["none"]).ok().map(|(k, _)| k)
}

/// What one system's reads child does: fill a log of `count` records of
/// `size` bytes in its directory (as the read rows' prefill does), then
/// serve `reads` random single reads and `runs` runs of `run_len` (the
/// rows' own indices and starts).
pub struct ReadJob {
    /// Index of the system in `systems()`.
    pub system: usize,
    pub size: usize,
    pub count: usize,
    pub reads: usize,
    pub runs: usize,
    pub run_len: usize,
}

/// What a reads child reported. Peaks are VmHWM in KiB.
#[derive(Debug, Clone)]
pub struct ReadPeak {
    /// VmRSS once the log is filled and the reader ready: where the peaks
    /// were reset to.
    pub ready_kib: u64,
    /// VmHWM of the fill (before the reset).
    pub fill_peak_kib: u64,
    /// (peak, records read) of the random single reads, or why none.
    pub random: Result<(u64, u64), String>,
    /// (peak, records read) of the runs, or why none.
    pub runs: Result<(u64, u64), String>,
    /// Bytes of the record positions the bench's reader keeps (part of
    /// every figure above).
    pub held_bytes: u64,
    /// False when the kernel refused to reset the peak: the peaks then
    /// include the fill.
    pub reset: bool,
}

/// Reset this process's VmHWM to its current VmRSS (Linux 4.0 and later).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn reads_child(args: &[String]) {
    let num = |i: usize| args.get(i).and_then(|v| v.parse::<usize>().ok());
    let (
        Some(idx),
        Some(dir),
        Some(scratch),
        Some(size),
        Some(count),
        Some(reads),
        Some(runs),
        Some(run_len),
    ) = (
        num(0),
        args.get(1),
        args.get(2),
        num(3),
        num(4),
        num(5),
        num(6),
        num(7),
    )
    else {
        println!("error bad arguments {args:?}");
        return;
    };
    let systems = crate::systems();
    let Some(sys) = systems.get(idx) else {
        println!("error bad system index");
        return;
    };
    crate::peers::walrus::init(Path::new(scratch));
    let mut rd = match sys.prefill(Path::new(dir), size, count) {
        Ok(rd) => rd,
        Err(Missing::NotApplicable(m)) | Err(Missing::Failed(m)) => {
            println!("error {m}");
            return;
        }
    };
    // The same indices and starts as the read rows.
    let idx = crate::plan::random_indices(count, reads, 1);
    let starts = crate::plan::run_starts(count, runs, run_len, 2);
    let say = |what: &str, cell: crate::harness::Cell| match cell {
        Ok(s) => println!("{what} ok {} {}", vm_hwm_kib().unwrap_or(0), s.ops),
        Err(Missing::NotApplicable(m)) => println!("{what} n/a {m}"),
        Err(Missing::Failed(m)) => println!("{what} error {m}"),
    };
    // Ready for both workloads before the first reset, so that a reader
    // that fills what it consumes (walrus) fills outside the peaks.
    if let Err(Missing::NotApplicable(m)) | Err(Missing::Failed(m)) = rd.prepare(runs * run_len) {
        println!("error prepare: {m}");
        return;
    }
    let fill_peak = vm_hwm_kib().unwrap_or(0);
    let ready = status_kib("VmRSS:").unwrap_or(0);
    let reset = reset_peak();
    say("random", rd.random(&idx));
    reset_peak();
    say("runs", rd.runs(&starts, run_len));
    println!(
        "state ready_kib {ready} fill_peak_kib {fill_peak} held {} reset {}",
        rd.held_bytes(),
        u8::from(reset)
    );
    // Closed before the exit: a reader that filled an instance of its own
    // (walrus) removes its files.
    drop(rd);
    // Some peers leave background threads running; do not wait for them.
    std::process::exit(0);
}

/// Run one system's reads child on a fresh directory `dir`.
pub fn reads(job: &ReadJob, dir: &Path, scratch: &Path) -> Result<ReadPeak, String> {
    let num = |n: usize| OsString::from(n.to_string());
    let out = run_child([
        OsString::from("reads"),
        num(job.system),
        dir.into(),
        scratch.into(),
        num(job.size),
        num(job.count),
        num(job.reads),
        num(job.runs),
        num(job.run_len),
    ])?;
    let (mut random, mut runs) = (None, None);
    for line in out.stdout.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let n = |i: usize| w.get(i).and_then(|v| v.parse::<u64>().ok());
        let rest = |i: usize| w.get(i..).map_or(String::new(), |r| r.join(" "));
        let cell = match w.get(1) {
            Some(&"ok") => n(2).zip(n(3)).ok_or_else(|| line.to_string()),
            Some(&"n/a") => Err(format!("n/a: {}", rest(2))),
            _ => Err(format!("error: {}", rest(2))),
        };
        match w.first() {
            Some(&"error") => return Err(rest(1)),
            Some(&"random") => random = Some(cell),
            Some(&"runs") => runs = Some(cell),
            Some(&"state") => {
                if let (
                    Some(random),
                    Some(runs),
                    Some(ready),
                    Some(fill),
                    Some(held),
                    Some(reset),
                ) = (random.take(), runs.take(), n(2), n(4), n(6), n(8))
                {
                    return Ok(ReadPeak {
                        ready_kib: ready,
                        fill_peak_kib: fill,
                        random,
                        runs,
                        held_bytes: held,
                        reset: reset == 1,
                    });
                }
            }
            _ => {}
        }
    }
    Err(out.unreadable(out.stdout.lines().last().unwrap_or("")))
}

// SPDX-License-Identifier: MIT
//! Peak memory: each system opens the recovery stream and reads it all
//! (through replay where its API has one) in a child process of its own, a
//! re-exec of this binary, which reports its VmHWM (peak resident set). A
//! child that does nothing gives the baseline of the bench binary itself.

use crate::harness::{Missing, System, TempDir};
use crate::plan::MemoryResult;
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

/// The child: `__memory_child none`, `__memory_child INDEX DIR SCRATCH`, or
/// `__memory_child by-index DIR READS` (nano_wal's Rust API: open, then
/// READS random reads by index over the whole log).
pub fn child(args: &[String]) {
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

fn spawn(args: &[&str]) -> Result<(u64, u64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg(CHILD_ARG)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["vmhwm_kib", kib, "records", n] => Ok((kib.parse().unwrap_or(0), n.parse().unwrap_or(0))),
        _ => Err(format!(
            "child said {:?} (stderr {:?})",
            line,
            String::from_utf8_lossy(&out.stderr).lines().last()
        )),
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
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg(CHILD_ARG)
        .args(["by-index", &dir.to_string_lossy(), &reads.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
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
        _ => Err(format!(
            "child said {:?} (stderr {:?})",
            line,
            String::from_utf8_lossy(&out.stderr).lines().last()
        )),
    }
}

/// The VmRSS of a child that opens nothing (KiB).
pub fn baseline_rss_kib() -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).args([CHILD_ARG, "rss"]).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

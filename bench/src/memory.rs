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

/// The child: `__memory_child none` or `__memory_child INDEX DIR SCRATCH`.
pub fn child(args: &[String]) {
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

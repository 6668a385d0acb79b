// SPDX-License-Identifier: MIT
//! Facts about the machine the numbers came from, for the report header.

use std::path::Path;
use std::process::Command;

#[derive(Debug)]
pub struct Facts {
    pub date: String,
    pub nproc: usize,
    pub cpu: String,
    pub memory: String,
    pub kernel: String,
    pub filesystem: String,
    pub rustc: String,
    pub loadavg: String,
}

fn cmd(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn first_line_with(path: &str, prefix: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    Some(
        line.split_once(':')
            .map_or(line, |(_, v)| v)
            .trim()
            .to_string(),
    )
}

/// The mount holding `dir` (longest mount point that prefixes it):
/// "ext4 (/dev/vda on /, rw,relatime,...)".
fn filesystem_of(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let best = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && dir.starts_with(f[1])).then(|| {
                (
                    f[1].len(),
                    format!("{} ({} on {}, {})", f[2], f[0], f[1], f[3]),
                )
            })
        })
        .max_by_key(|(len, _)| *len);
    best.map(|(_, s)| s).unwrap_or_else(|| "unknown".into())
}

pub fn collect(scratch: &Path) -> Facts {
    Facts {
        date: cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        nproc: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu: first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
        memory: first_line_with("/proc/meminfo", "MemTotal").unwrap_or_else(|| "unknown".into()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        filesystem: filesystem_of(scratch),
        rustc: cmd("rustc", &["--version"]),
        loadavg: std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    }
}

/// Bytes available to this user on the filesystem holding `dir`, from
/// `df` (None when it cannot tell).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let out = cmd("df", &["--output=avail", "-B1", &dir.display().to_string()]);
    out.lines().last()?.trim().parse().ok()
}

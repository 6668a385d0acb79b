// SPDX-License-Identifier: MIT
//! BENCHMARKS.md and its plots, written from the results of this run, so
//! that one command regenerates them all.

use crate::facts::Facts;
use crate::harness::Missing;
use crate::plan::{
    size_label, Results, Row, Unit, APPEND_SIZES, DURABLE_THREADS, FRAMED_BATCH, FRAMED_PWRITE,
    FRAMED_RANDOM, FRAMED_RUNS, RUN_LEN, RUN_SWEEP_SIZE, SHORT_RUNS,
};
use crate::Args;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

const NANO: &str = "nano_wal";
const FFI: &str = "nano_wal (C API)";
const OKAYWAL: &str = "okaywal 0.3";

fn si(v: f64) -> String {
    let (x, suffix) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else {
        2
    };
    format!("{x:.digits$} {suffix}")
}

pub fn fmt_rate(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Ops => format!("{}/s", si(v)),
        Unit::Bytes => format!("{}B/s", si(v)),
    }
}

fn fmt_missing(m: &Missing) -> &'static str {
    match m {
        Missing::NotApplicable(_) => "n/a",
        Missing::Failed(_) => "error",
    }
}

/// Median of a system in a row, by row id.
fn median_of(rows: &[Row], id: &str, system: &str) -> Option<f64> {
    let row = rows.iter().find(|r| r.id == id)?;
    row.median(row.system(system)?).ok()
}

fn limit_of(rows: &[Row], id: &str) -> Option<f64> {
    let row = rows.iter().find(|r| r.id == id)?;
    row.median(&row.limit).ok()
}

/// Min and max over the repetitions relative to the median: how noisy a cell was.
fn spread(row: &Row, cells: &[crate::harness::Cell]) -> Option<f64> {
    let v: Vec<f64> = cells
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .map(|s| row.rate(s))
        .collect();
    let med = row.median(cells).ok()?;
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    Some((hi - lo) / med)
}

struct Target {
    what: String,
    measured: Option<f64>,
    /// nano_wal against the limit over the same on-disk bytes (limits table).
    vs_framed: Option<f64>,
    goal: f64,
    /// Ratio targets print "1.23x"; absolute ones print a rate.
    absolute: Option<Unit>,
}

fn targets(rows: &[Row], limits: &[Row], raftlog: &[Row], openraft: &[Row]) -> Vec<Target> {
    let mut t = Vec::new();
    let mut vs_limit = |what: &str, id: &str, goal: f64| {
        let m = median_of(rows, id, NANO)
            .zip(limit_of(rows, id))
            .map(|(a, b)| a / b);
        let framed = match id {
            "append/1t/128" => Some(("128", FRAMED_PWRITE)),
            "append/1t/4096" => Some(("4096", FRAMED_PWRITE)),
            "batch/128" => Some(("128", FRAMED_BATCH)),
            "random/128" => Some(("128", FRAMED_RANDOM)),
            "runs/128" => Some(("128", FRAMED_RUNS)),
            _ => None,
        };
        let vs_framed = framed.and_then(|(size, name)| {
            let a = median_of(rows, id, NANO)?;
            Some(a / limit_of(limits, &format!("limit/{size}/{name}"))?)
        });
        t.push(Target {
            what: what.into(),
            measured: m,
            vs_framed,
            goal,
            absolute: None,
        });
    };
    vs_limit(
        "1-thread append, 128 B, vs raw pwrite/record",
        "append/1t/128",
        0.90,
    );
    vs_limit(
        "1-thread append, 4 KiB, vs raw pwrite/record",
        "append/1t/4096",
        0.90,
    );
    vs_limit(
        "batches of 100 x 128 B vs raw pwritev/batch",
        "batch/128",
        0.80,
    );
    vs_limit(
        "8-thread durable, 128 B, vs raw fsync/record",
        "durable/8t/128",
        3.0,
    );
    vs_limit(
        "32-thread durable, 128 B, vs raw fsync/record",
        "durable/32t/128",
        3.0,
    );
    vs_limit(
        "1-thread durable, 128 B, vs raw growing-file fsync",
        "durable/1t/128",
        1.4,
    );
    vs_limit(
        "random single reads, 128 B, vs raw pread",
        "random/128",
        0.90,
    );
    vs_limit("runs of 1,000 x 128 B vs one raw pread", "runs/128", 0.50);
    vs_limit(
        "2 threads non-durable, 128 B, vs raw (1 thread)",
        "nondurable/2t/128",
        1.5,
    );
    vs_limit(
        "4 threads non-durable, 128 B, vs raw (1 thread)",
        "nondurable/4t/128",
        1.5,
    );
    for th in [8, 32] {
        let id = format!("durable/{th}t/128");
        let m = median_of(rows, &id, NANO)
            .zip(median_of(rows, &id, OKAYWAL))
            .map(|(a, b)| a / b);
        t.push(Target {
            what: format!("{th}-thread durable, 128 B, vs okaywal"),
            measured: m,
            vs_framed: None,
            goal: 2.0,
            absolute: None,
        });
    }
    for id in ["replay/128", "replay/4096", "open"] {
        let what = match id {
            "open" => "open/recovery".to_string(),
            "replay/128" => "replay, 128 B".to_string(),
            _ => "replay, 4 KiB".to_string(),
        };
        t.push(Target {
            what: format!("{what} (payload bytes/s)"),
            measured: median_of(rows, id, NANO),
            vs_framed: None,
            goal: 1e9,
            absolute: Some(Unit::Bytes),
        });
    }
    for row in rows {
        let m = median_of(rows, &row.id, FFI)
            .zip(median_of(rows, &row.id, NANO))
            .map(|(c, r)| c / r);
        t.push(Target {
            what: format!("C API / Rust API: {} {}", row.group_short(), row.label),
            measured: m,
            vs_framed: None,
            goal: 0.90,
            absolute: None,
        });
    }
    for row in raftlog {
        t.push(Target {
            what: format!("Raft log: {}, vs raft-engine", row.label),
            measured: raft_ratio(row),
            vs_framed: None,
            goal: 1.0,
            absolute: None,
        });
    }
    for row in openraft {
        t.push(Target {
            what: format!("openraft log store / nano_wal: {}", row.label),
            measured: crate::adapter::ratio(row),
            vs_framed: None,
            goal: crate::adapter::GOAL,
            absolute: None,
        });
    }
    t
}

/// nano_wal's median over raft-engine's in a row of the raftlog family.
fn raft_ratio(row: &Row) -> Option<f64> {
    let of = |name| row.median(row.system(name)?).ok();
    of(crate::raftlog::NANO)
        .zip(of(crate::raftlog::RAFT))
        .map(|(a, b)| a / b)
}

impl Row {
    fn group_short(&self) -> String {
        self.id.split('/').next().unwrap_or("").to_string()
    }
}

fn write_targets(md: &mut String, rows: &[Row], limits: &[Row], raftlog: &[Row], openraft: &[Row]) {
    let _ = writeln!(md, "## Targets\n");
    let _ = writeln!(md, "Ratios use medians of the same run; \"raw\" is the limit measured in the same repetitions as the row. \
        The last column is not a target: it divides the same nano_wal median by the limits-table row that moves the bytes \
        nano_wal's format stores (payload + 24-byte frame; reads at positions looked up in an index), measured in the \
        limits' own repetitions. It shows what is left once the format is given.\n");
    let _ = writeln!(
        md,
        "| Target | Measured | Goal | Result | vs the same on-disk bytes |\n|---|---:|---:|---|---:|"
    );
    for t in targets(rows, limits, raftlog, openraft) {
        let (m, g) = match t.absolute {
            Some(u) => (t.measured.map(|v| fmt_rate(v, u)), fmt_rate(t.goal, u)),
            None => (
                t.measured.map(|v| format!("{v:.2}x")),
                format!(">= {:.2}x", t.goal),
            ),
        };
        let result = match t.measured {
            Some(v) if v >= t.goal => "met",
            Some(_) => "**missed**",
            None => "not measured",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            t.what,
            m.unwrap_or_else(|| "-".into()),
            g,
            result,
            t.vs_framed.map_or(String::new(), |v| format!("{v:.2}x"))
        );
    }
    md.push('\n');
}

/// Cells whose number does not measure the same thing as the others'.
fn marker(row_id: &str, system: &str) -> &'static str {
    match (row_id.split('/').next().unwrap_or(""), system) {
        ("random" | "runs" | "runs-10" | "runs-100", "raft-engine 0.4") => " (mem)",
        ("open", "nano-wal 1.0.0" | "commitlog 0.2") => " (no scan)",
        ("runs" | "runs-10" | "runs-100", "walrus 0.2") => " (seq)",
        _ => "",
    }
}

fn write_tables(
    md: &mut String,
    rows: &[Row],
    notes: &mut BTreeMap<(String, String), Vec<String>>,
) {
    let mut groups: Vec<&str> = Vec::new();
    for r in rows {
        if !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    for g in groups {
        let members: Vec<&Row> = rows
            .iter()
            .filter(|r| r.group == g && !r.limit.is_empty())
            .collect();
        let Some(first) = members.first() else {
            continue;
        };
        let _ = writeln!(md, "### {g}\n");
        let _ = writeln!(md, "Limit: raw {}. Cells: median, then the ratio to the limit of the same row. \
             Spread: the largest (max - min) / median of any column of the row over the repetitions. \
             (mem) = served from an in-memory table, not the log; (no scan) = opening reads no record; \
             (seq) = consecutive runs from a cursor, not random starts (see the notes).\n", first.limit_name);
        let _ = write!(md, "| Workload | raw limit |");
        for (name, _) in &first.cells {
            let _ = write!(md, " {name} |");
        }
        let _ = write!(md, " spread |\n|---|---:|");
        for _ in &first.cells {
            let _ = write!(md, "---:|");
        }
        md.push_str("---:|\n");
        for row in members {
            let limit = row.median(&row.limit);
            let _ = write!(
                md,
                "| {} | {} |",
                row.label,
                limit
                    .as_ref()
                    .map(|v| fmt_rate(*v, row.unit))
                    .unwrap_or_else(|m| fmt_missing(m).into())
            );
            for (name, cells) in &row.cells {
                let cell = match row.median(cells) {
                    Ok(v) => match &limit {
                        Ok(l) => format!(
                            "{} ({:.2}x){}",
                            fmt_rate(v, row.unit),
                            v / l,
                            marker(&row.id, name)
                        ),
                        Err(_) => fmt_rate(v, row.unit),
                    },
                    Err(m) => {
                        let why = match &m {
                            Missing::NotApplicable(w) | Missing::Failed(w) => w.clone(),
                        };
                        notes
                            .entry((name.to_string(), format!("{}: {why}", fmt_missing(&m))))
                            .or_default()
                            .push(row.id.clone());
                        fmt_missing(&m).to_string()
                    }
                };
                let _ = write!(md, " {cell} |");
            }
            // The noisiest column of the row: (max - min) / median over the repetitions.
            let worst = std::iter::once(&row.limit)
                .chain(row.cells.iter().map(|(_, c)| c))
                .filter_map(|c| spread(row, c))
                .fold(0.0, f64::max);
            let _ = writeln!(md, " {:.0}% |", worst * 100.0);
        }
        md.push('\n');
        for row in rows.iter().filter(|r| r.group == g && !r.detail.is_empty()) {
            for line in &row.detail {
                let _ = writeln!(md, "- {line}");
            }
            md.push('\n');
        }
    }
}

fn write_limits(md: &mut String, limits: &[Row]) {
    if limits.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### Limits (raw syscalls and memcpy, records/s and payload MB/s)\n"
    );
    let _ = writeln!(
        md,
        "| Limit | records/s | MB/s | spread |\n|---|---:|---:|---:|"
    );
    for row in limits {
        let med = row.median(&row.limit);
        let (ops, mbs) = match &med {
            Ok(v) => {
                let bytes_per_op = row
                    .limit
                    .iter()
                    .filter_map(|c| c.as_ref().ok())
                    .map(|s| s.bytes as f64 / s.ops as f64)
                    .next()
                    .unwrap_or(0.0);
                (
                    fmt_rate(*v, Unit::Ops),
                    format!("{:.1}", v * bytes_per_op / 1e6),
                )
            }
            Err(m) => (fmt_missing(m).into(), "-".into()),
        };
        let sp = spread(row, &row.limit)
            .map(|s| format!("{:.0}%", s * 100.0))
            .unwrap_or_default();
        let _ = writeln!(md, "| {} | {ops} | {mbs} | {sp} |", row.label);
    }
    md.push('\n');
}

fn write_memory(md: &mut String, res: &Results) {
    let m = &res.memory;
    if m.per_system.is_empty() && m.reads.per_system.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Peak memory\n");
    write_replay_memory(md, res);
    write_read_memory(md, res);
}

fn write_replay_memory(md: &mut String, res: &Results) {
    let m = &res.memory;
    if m.per_system.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "Replay: each system opens the {} MiB recovery stream and reads every record (through its replay API where it has one; \
         opening = replaying for okaywal and raft-engine; open only for nano-wal 1.0.0, which has no read-all API) in a child process; \
         VmHWM of that process. The bare bench binary's VmHWM is {}.\n",
        res.params.recovery_bytes >> 20,
        m.baseline_kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "unknown".into())
    );
    let _ = writeln!(
        md,
        "| System | peak RSS | above baseline | records read |\n|---|---:|---:|---:|"
    );
    for (name, r) in &m.per_system {
        match r {
            Ok((kib, n)) => {
                let above = m
                    .baseline_kib
                    .map(|b| format!("{:.1} MiB", kib.saturating_sub(b) as f64 / 1024.0))
                    .unwrap_or_default();
                let _ = writeln!(
                    md,
                    "| {name} | {:.1} MiB | {above} | {n} |",
                    *kib as f64 / 1024.0
                );
            }
            Err(e) => {
                let _ = writeln!(md, "| {name} | n/a ({e}) | | |");
            }
        }
    }
    md.push('\n');
}

/// `n` with thousands separated by commas: 1000 -> "1,000".
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn write_read_memory(md: &mut String, res: &Results) {
    let m = &res.memory.reads;
    if m.per_system.is_empty() {
        return;
    }
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    let above = |kib: u64| {
        m.baseline_kib
            .map(|b| mib(kib.saturating_sub(b)))
            .unwrap_or_default()
    };
    let _ = writeln!(
        md,
        "Reads: each system, in a child process of its own, fills a log of {} records of {} ({} MiB) as the read rows' \
         prefill does (untimed), then serves the random single reads ({} reads by ref) and then the runs of {} ({} runs at \
         random starts; walrus: consecutive runs from its cursor) of the {} rows, with the same indices and starts. The \
         child's peak (VmHWM) is reset to its resident set (`/proc/self/clear_refs`) once the log is filled and again \
         between the two workloads, so each peak is what serving those reads holds: the open log, the reader's state, \
         the calls' buffers, and the record positions (refs) the bench keeps for the reads, given in the last column \
         (part of every figure; n/a where the records are addressed by number). The bare bench binary's VmHWM is {}.\n",
        m.records,
        size_label(m.size),
        (m.records * m.size) >> 20,
        m.reads,
        grouped(m.run_len),
        m.runs,
        size_label(m.size),
        m.baseline_kib.map_or("unknown".into(), mib),
    );
    let _ = writeln!(
        md,
        "| System | peak of the fill | resident when ready | random reads: peak | above baseline | records read | \
         runs of {}: peak | above baseline | records read | the bench's record positions |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        grouped(m.run_len)
    );
    let mut unreset = Vec::new();
    for (name, r) in &m.per_system {
        match r {
            Ok(p) => {
                if !p.reset {
                    unreset.push(*name);
                }
                let cells = |c: &Result<(u64, u64), String>| match c {
                    Ok((kib, n)) => format!("{} | {} | {n}", mib(*kib), above(*kib)),
                    Err(e) if e.starts_with("n/a") => "n/a | | ".into(),
                    Err(e) => format!("error ({e}) | | "),
                };
                let held = if p.held_bytes > 0 {
                    mib(p.held_bytes / 1024)
                } else {
                    "n/a".into()
                };
                let _ = writeln!(
                    md,
                    "| {name} | {} | {} | {} | {} | {held} |",
                    mib(p.fill_peak_kib),
                    mib(p.ready_kib),
                    cells(&p.random),
                    cells(&p.runs),
                );
            }
            Err(e) => {
                let _ = writeln!(md, "| {name} | n/a ({e}) | | | | | | | | |");
            }
        }
    }
    md.push('\n');
    if !unreset.is_empty() {
        let _ = writeln!(
            md,
            "The kernel refused to reset the peak for {}: their peaks include the fill.\n",
            unreset.join(", ")
        );
    }
}

fn write_index_memory(md: &mut String, res: &Results) {
    let Some(m) = &res.index_memory else {
        return;
    };
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    let _ = writeln!(
        md,
        "### Resident memory of a large indexed log (`--only memory-100m`)\n\n\
         nano_wal's Rust API appends {} records of {} B in batches of 1,000 (default options: a new segment every \
         {} records) in {:.0} s, {:.2} GiB on disk with the index footers. A child process opens it and reads {} random \
         records by index; a second stream of one active segment of {} records gives the cost of an active segment's \
         records. VmRSS of a child that opens nothing: {}.\n",
        crate::plan::BIG_RECORDS,
        crate::plan::BIG_RECORD_SIZE,
        nano_wal::format::MAX_SEGMENT_RECORDS,
        m.build_secs,
        m.disk_bytes as f64 / f64::from(1u32 << 30),
        m.reads,
        crate::plan::ACTIVE_RECORDS,
        m.baseline_kib.map_or("unknown".into(), mib),
    );
    let _ = writeln!(
        md,
        "| Stream | records | segments | records in the active one | VmRSS after open | after the reads | peak (VmHWM) |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for (name, r) in [("large", &m.big), ("one active segment", &m.active)] {
        match r {
            Ok(b) => {
                let _ = writeln!(
                    md,
                    "| {name} | {} | {} | {} | {} | {} | {} |",
                    b.records,
                    b.segments,
                    b.newest,
                    mib(b.rss_open_kib),
                    mib(b.rss_kib),
                    mib(b.hwm_kib)
                );
            }
            Err(e) => {
                let _ = writeln!(md, "| {name} | failed: {e} | | | | | |");
            }
        }
    }
    md.push('\n');
    if let (Ok(big), Ok(act), Some(base)) = (&m.big, &m.active, m.baseline_kib) {
        let above = |kib: u64| kib.saturating_sub(base) as f64 * 1024.0;
        let active_per = above(act.rss_kib) / act.records.max(1) as f64;
        let sealed = big.records - big.newest;
        let sealed_total = above(big.rss_kib) - active_per * big.newest as f64;
        let _ = writeln!(
            md,
            "Per record, above the bare child: {:.2} bytes in the active segment (the one-segment stream), \
             {:.3} bytes in a sealed segment (the large stream's rest after its active segment: {:.1} KiB over {} \
             sealed segments, {:.1} KiB each). The large stream's peak is {} the 256 MiB bound.\n",
            active_per,
            sealed_total / sealed.max(1) as f64,
            sealed_total / 1024.0,
            big.segments - 1,
            sealed_total / 1024.0 / (big.segments.max(2) - 1) as f64,
            if big.hwm_kib < 256 * 1024 { "under" } else { "**over**" },
        );
    }
}

fn write_follow(md: &mut String, res: &Results) {
    let Some(f) = &res.follow else {
        return;
    };
    let _ = writeln!(md, "### Followers (nano_wal only)\n");
    if let Some(e) = &f.error {
        let _ = writeln!(md, "Failed: {e}\n");
        return;
    }
    let us = |ns: u64| format!("{:.1} µs", ns as f64 / 1000.0);
    let _ = writeln!(
        md,
        "Wake-up latency: one appender, {} records of 128 B per repetition, each waited for by the follower before \
         the next; the time from the append returning to the follower's `next` returning the record (0 when the \
         follower had it first: the sync that completes a durable append wakes both). All samples of all {} \
         repetitions.\n",
        f.records, f.reps
    );
    let _ = writeln!(
        md,
        "| From | to | samples | median | p99 |\n|---|---|---:|---:|---:|"
    );
    for (from, to, l) in [
        (
            "a durable append returning",
            "a durable follower",
            &f.durable,
        ),
        (
            "a non-durable append returning",
            "an appended-mode follower",
            &f.appended,
        ),
    ] {
        let _ = writeln!(
            md,
            "| {from} | {to} | {} | {} | {} |",
            l.samples,
            us(l.median_ns),
            us(l.p99_ns)
        );
    }
    let _ = writeln!(
        md,
        "\nCost to durable appenders of a durable follower reading every record (medians of {} interleaved \
         repetitions, appends/s; the target is at most 5% slower). The raw limit, one thread: `pwrite` + \
         `fdatasync` of each 152-byte record into a pre-written file, without and with a thread that a \
         condition variable wakes after each sync to `pread` the record (the wake-up any follower costs its \
         appender):\n",
        f.reps
    );
    let _ = writeln!(
        md,
        "| Threads | without a follower | with one | with / without | raw limit: without | with | with / without |\n\
         |---:|---:|---:|---:|---:|---:|---:|"
    );
    let ratio = |with: f64, without: f64| if without > 0.0 { with / without } else { 0.0 };
    for c in &f.cost {
        let raw = if c.raw_without > 0.0 {
            format!(
                "{} | {} | {:.3}",
                fmt_rate(c.raw_without, Unit::Ops),
                fmt_rate(c.raw_with, Unit::Ops),
                ratio(c.raw_with, c.raw_without)
            )
        } else {
            "- | - | -".to_string()
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.3} | {raw} |",
            c.threads,
            fmt_rate(c.without, Unit::Ops),
            fmt_rate(c.with, Unit::Ops),
            ratio(c.with, c.without),
        );
    }
    md.push('\n');
}

fn write_raftlog(
    md: &mut String,
    res: &Results,
    notes: &mut BTreeMap<(String, String), Vec<String>>,
) {
    let Some(r) = &res.raftlog else {
        return;
    };
    let c = &r.counts;
    let _ = writeln!(
        md,
        "### Raft log: nano_wal and raft-engine 0.4 (`--only raftlog`)\n"
    );
    let _ = writeln!(
        md,
        "What a Raft node asks of its log, one region, one thread: entries of a 16-byte header (term, index) and a \
         {} B payload ({} B each in both systems), appended durably with their indexes, fetched by index, the tail \
         truncated and re-appended as on a conflict, the head compacted. nano_wal through its Rust API (`append_batch` \
         durable, `read_range_into`, `replay_from_index`, `truncate_after_deferred`, `purge_before`, \
         `purge_before_deferred`), raft-engine through its \
         entry API (`LogBatch::add_entries` + `Engine::write` with sync, `fetch_entries_to`, an append at a lower index \
         for the truncation, a `Compact` command). Medians of {} repetitions, the two systems alternating which goes \
         first, each write row on a fresh log. The target: nano_wal at least equal to raft-engine.\n",
        crate::raftlog::ENTRY - 16,
        crate::raftlog::ENTRY,
        c.reps
    );
    let _ = writeln!(
        md,
        "| Workload | {} | {} | nano_wal / raft-engine | target | spread |\n|---|---:|---:|---:|---|---:|",
        crate::raftlog::NANO,
        crate::raftlog::RAFT
    );
    for row in &r.rows {
        let mut cell = |name: &str| match row.median(row.system(name).unwrap_or(&[])) {
            Ok(v) => fmt_rate(v, row.unit),
            Err(m) => {
                let why = match &m {
                    Missing::NotApplicable(w) | Missing::Failed(w) => w.clone(),
                };
                notes
                    .entry((name.to_string(), format!("{}: {why}", fmt_missing(&m))))
                    .or_default()
                    .push(row.id.clone());
                fmt_missing(&m).to_string()
            }
        };
        let ratio = raft_ratio(row);
        let worst = row
            .cells
            .iter()
            .filter_map(|(_, c)| spread(row, c))
            .fold(0.0, f64::max);
        let (nano, raft) = (cell(crate::raftlog::NANO), cell(crate::raftlog::RAFT));
        let _ = writeln!(
            md,
            "| {} | {nano} | {raft} | {} | {} | {:.0}% |",
            row.label,
            ratio.map_or("-".into(), |v| format!("{v:.2}x")),
            match ratio {
                Some(v) if v >= 1.0 => "met",
                Some(_) => "**missed**",
                None => "not measured",
            },
            worst * 100.0
        );
    }
    md.push('\n');
    for row in &r.rows {
        for line in &row.detail {
            let _ = writeln!(md, "- {line}");
        }
    }
    md.push('\n');
}

fn write_openraft(
    md: &mut String,
    res: &Results,
    notes: &mut BTreeMap<(String, String), Vec<String>>,
) {
    use crate::adapter::{ratio, ADAPTER, DIRECT, GOAL, PAYLOAD};
    let Some(r) = &res.openraft else {
        return;
    };
    let _ = writeln!(
        md,
        "### openraft log store: the adapter over nano_wal (`--only openraft`)\n"
    );
    let _ = writeln!(
        md,
        "What the openraft log store (`nano_wal_openraft::LogStore`, openraft 0.9's `RaftLogStorage`) costs over \
         nano_wal for durable appends. {ADAPTER}: `RaftLogStorageExt::blocking_append` of `openraft::Entry`s with a \
         normal payload of {PAYLOAD} B, awaited on a tokio current-thread runtime (the store encodes each entry with \
         postcard, appends without waiting, and its flusher thread calls the flush callback once `Wal::wait_durable` \
         returns). {DIRECT}: `append_batch(.., durable = true)` of the same entries' postcard encodings, one record each: \
         the same bytes on disk. Medians of {} repetitions, the two columns alternating which goes first, each on a \
         fresh log. The target: the adapter costs at most {:.0}% (adapter / direct >= {GOAL:.2}).\n",
        r.counts.reps,
        (1.0 - GOAL) * 100.0
    );
    let _ = writeln!(
        md,
        "| Workload | {ADAPTER} | {DIRECT} | adapter / direct | target | spread |\n|---|---:|---:|---:|---|---:|"
    );
    for row in &r.rows {
        let mut cell = |name: &str| match row.median(row.system(name).unwrap_or(&[])) {
            Ok(v) => fmt_rate(v, row.unit),
            Err(m) => {
                let why = match &m {
                    Missing::NotApplicable(w) | Missing::Failed(w) => w.clone(),
                };
                notes
                    .entry((name.to_string(), format!("{}: {why}", fmt_missing(&m))))
                    .or_default()
                    .push(row.id.clone());
                fmt_missing(&m).to_string()
            }
        };
        let ratio = ratio(row);
        let worst = row
            .cells
            .iter()
            .filter_map(|(_, c)| spread(row, c))
            .fold(0.0, f64::max);
        let (adapter, direct) = (cell(ADAPTER), cell(DIRECT));
        let _ = writeln!(
            md,
            "| {} | {adapter} | {direct} | {} | {} | {:.0}% |",
            row.label,
            ratio.map_or("-".into(), |v| format!("{v:.2}x")),
            match ratio {
                Some(v) if v >= GOAL => "met",
                Some(_) => "**missed**",
                None => "not measured",
            },
            worst * 100.0
        );
    }
    md.push('\n');
    for row in &r.rows {
        for line in &row.detail {
            let _ = writeln!(md, "- {line}");
        }
    }
    md.push('\n');
}

/// Axis label of 10^e: "1", "10", "100", "1k", ... "100M".
fn decade(e: i32) -> String {
    let suffix = ["", "k", "M", "G"];
    let e = e.max(0) as usize;
    format!("{}{}", 10u64.pow((e % 3) as u32), suffix[(e / 3).min(3)])
}

/// One chart of [`plot`]: a line per system through the rows it names,
/// and the same rows' raw limit as a dashed reference.
pub struct Chart {
    pub title: String,
    pub x_label: &'static str,
    pub y_label: &'static str,
    /// (x, its tick label, the id of the row measured there), x ascending
    /// and above 0 (the x scale is logarithmic).
    pub points: Vec<(f64, String, String)>,
    /// Legend of the dashed line of the rows' limits.
    pub limit: &'static str,
}

impl Chart {
    /// Durable appends/s against threads at one record size.
    pub fn durable(size: usize) -> Chart {
        Chart {
            title: format!(
                "Durable appends/s against threads, {size} B records (median, log scales)"
            ),
            x_label: "threads",
            y_label: "durable appends/s",
            points: DURABLE_THREADS
                .iter()
                .map(|&t| (t as f64, t.to_string(), format!("durable/{t}t/{size}")))
                .collect(),
            limit: "raw pwrite+fdatasync/record (1 thread)",
        }
    }

    /// Single appends/s, 1 thread, not durable, against record size.
    pub fn appends_vs_size() -> Chart {
        Chart {
            title:
                "Single appends/s against record size, 1 thread, not durable (median, log scales)"
                    .into(),
            x_label: "record size",
            y_label: "appends/s",
            points: APPEND_SIZES
                .iter()
                .map(|&size| (size as f64, size_label(size), format!("append/1t/{size}")))
                .collect(),
            limit: "raw pwrite/record",
        }
    }

    /// Records/s read against the length of the contiguous runs, 1 being
    /// the random single reads.
    pub fn reads_vs_run() -> Chart {
        let size = RUN_SWEEP_SIZE;
        let mut points = vec![(1.0, "1".to_string(), format!("random/{size}"))];
        for len in SHORT_RUNS {
            points.push((len as f64, len.to_string(), format!("runs-{len}/{size}")));
        }
        points.push((RUN_LEN as f64, grouped(RUN_LEN), format!("runs/{size}")));
        Chart {
            title: format!(
                "Records/s read against run length, {size} B records, by refs (median, log scales)"
            ),
            x_label:
                "records per run (1 = random single reads; contiguous runs at random starts above)",
            y_label: "records/s",
            points,
            limit: "raw pread (one per run)",
        }
    }
}

/// A chart (log-log): one line per system with a number in any of the
/// chart's rows, each system in the colour of its column in every chart,
/// and the rows' raw limits as a dashed black reference.
pub fn plot(rows: &[Row], chart: &Chart) -> Option<String> {
    // (legend, colour, (x, rate) points, dashed)
    type Line = (String, &'static str, Vec<(f64, f64)>, bool);
    let colors = [
        "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
        "#7f7f7f",
    ];
    let mut lines: Vec<Line> = Vec::new();
    let names: Vec<&'static str> = rows.first()?.cells.iter().map(|(n, _)| *n).collect();
    let find = |id: &str| rows.iter().find(|r| r.id == id);
    for (column, name) in names.into_iter().enumerate() {
        let mut marks: Vec<&str> = Vec::new();
        let pts: Vec<(f64, f64)> = chart
            .points
            .iter()
            .filter_map(|(x, _, id)| {
                let v = find(id).and_then(|r| r.median(r.system(name)?).ok())?;
                let m = marker(id, name);
                if !m.is_empty() && !marks.contains(&m) {
                    marks.push(m);
                }
                Some((*x, v))
            })
            .collect();
        if !pts.is_empty() {
            let legend = format!("{name}{}", marks.concat());
            lines.push((legend, colors[column % colors.len()], pts, false));
        }
    }
    let raw: Vec<(f64, f64)> = chart
        .points
        .iter()
        .filter_map(|(x, _, id)| {
            find(id)
                .and_then(|r| r.median(&r.limit).ok())
                .map(|v| (*x, v))
        })
        .collect();
    if !raw.is_empty() {
        lines.push((chart.limit.into(), "#000", raw, true));
    }
    if lines.is_empty() {
        return None;
    }
    let all: Vec<f64> = lines
        .iter()
        .flat_map(|(_, _, p, _)| p.iter().map(|(_, v)| *v))
        .filter(|v| *v > 0.0)
        .collect();
    let lo = all.iter().cloned().fold(f64::MAX, f64::min).log10().floor();
    let hi = all
        .iter()
        .cloned()
        .fold(f64::MIN, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let (w, h, left, right, top, bottom) = (900.0, 440.0, 80.0, 560.0, 40.0, 380.0);
    let x_min = chart.points.first()?.0;
    let x_max = chart.points.last()?.0.max(x_min * 2.0);
    let x = |t: f64| left + (t / x_min).log2() / (x_max / x_min).log2() * (right - left);
    let y = |v: f64| bottom - (v.max(1.0).log10() - lo) / (hi - lo) * (bottom - top);
    let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;");
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="15">{}</text>"#,
        esc(&chart.title)
    );
    for e in (lo as i32)..=(hi as i32) {
        let yy = y(10f64.powi(e));
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{yy}" x2="{right}" y2="{yy}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}/s</text>"##,
            left - 6.0,
            yy + 4.0,
            decade(e)
        );
    }
    for (t, label, _) in &chart.points {
        let xx = x(*t);
        let _ = writeln!(
            s,
            r##"<line x1="{xx}" y1="{top}" x2="{xx}" y2="{bottom}" stroke="#eee"/><text x="{xx}" y="{}" text-anchor="middle">{}</text>"##,
            bottom + 18.0,
            esc(label)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        bottom + 40.0,
        esc(chart.x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
        (top + bottom) / 2.0,
        (top + bottom) / 2.0,
        esc(chart.y_label)
    );
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#888"/>"##,
        right - left,
        bottom - top
    );
    for (i, (name, c, pts, dashed)) in lines.iter().enumerate() {
        let dash = if *dashed {
            r#" stroke-dasharray="6,4""#
        } else {
            ""
        };
        let path: Vec<String> = pts
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"{dash}/>"#,
            path.join(" ")
        );
        for (t, v) in pts {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"/>"#,
                x(*t),
                y(*v)
            );
        }
        let ly = top + 10.0 + i as f64 * 20.0;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{c}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            right + 15.0,
            right + 40.0,
            right + 46.0,
            ly + 4.0,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    Some(s)
}

fn command(args: &Args) -> String {
    let mut c = String::from("cargo run --release --manifest-path bench/Cargo.toml --");
    if args.quick {
        c.push_str(" --quick");
    }
    if let Some(r) = args.reps {
        let _ = write!(c, " --reps {r}");
    }
    if let Some(o) = &args.only {
        let _ = write!(c, " --only {o}");
    }
    let _ = write!(c, " --out {}", args.out.display());
    c
}

const NOTES: &str = "\
## Notes

- **How it measures.** One process, release build. Rows run one after the other; inside a row, each repetition runs the row's raw
  limit and then every system, each in a fresh directory on the scratch filesystem, so drifts of the machine hit every column of a
  repetition alike. The systems' order rotates by one per repetition, so no system always runs right after the limit (whose files
  were just deleted and their memory freed) or right after the same peer. Before each measurement (and after the read and recovery prefills) `sync(2)` flushes the machine's dirty pages
  and waits for writeback in flight, so no measurement shares the disk and the CPUs with the writeback of an earlier one. Cells are
  medians of the repetitions. Only the workload is timed: opening, prefilling and closing are not.
  Payloads are a fixed non-zero pattern; records have no header. Rates count payload bytes (framing excluded).
- **Limits.** \"pwrite/record\" appends with one `pwrite` per record to a fresh file; \"pwritev/batch\" one `pwritev` of 100 iovecs;
  the durable limit is `pwrite` + `fdatasync` per record on a growing file, one thread (the pre-written variant is in the limits table);
  multi-thread rows are compared with the 1-thread limit (the targets ask for scaling beyond one raw writer). Reads run against a
  packed file in the page cache. The limits table also has the same syscalls over the bytes nano_wal stores per record
  (payload + 24-byte frame), reads at positions looked up in an index of (segment, offset, size) entries: the targets table
  shows nano_wal against those in its last column, beside (not instead of) the ratios the targets ask for.
- **Durable** means the call returns only once the record would survive power loss: nano_wal `durable = true` / `NWAL_DURABLE`,
  nano-wal 1.0.0 `durable = true` (fdatasync under the segment mutex), okaywal `commit()`, walrus `FsyncSchedule::SyncEach`
  (a write then an fsync of the file per entry), wal-db `append_and_sync`, raft-engine `write(batch, sync = true)`.
- **nano_wal**: random reads are one `Wal::read` per record (one `pread` into one allocation the record owns); runs are
  `Wal::read_batch_into` into one `ReadBuf` reused by every run (one `pread` per run, records borrowed from its buffer, every CRC
  checked): the API meant for reading many records. `Wal::read_batch` (a `Vec<Record>` of reference-counted `Bytes`) costs more
  per record and is not what this row measures. Replay is `Replay::next_ref` (each record borrowed from the replay's read
  buffer until the next call, as `nwal_iter_next` gives it to C); the `Iterator` of owned, reference-counted records costs more.
- **nano-wal 1.0.0** (the original crate): reads go through the segment's read fd (`ensure_segment` of the same time, then
  `read_at` / `read_batch` with one descriptor per record); it has no replay/scan API; its open does not scan records (so its open
  row is not a recovery); batches above ~200 records overflow IOV_MAX (a known bug), so its prefill uses batches of 100.
- **okaywal 0.3**: every commit fsyncs, so it has no non-durable rows. Prefill writes entries of 1,000 chunks (one chunk = one
  record). Reads are `read_at` + `read_to_end`, which opens the segment file per read; runs are 1,000 `read_at` calls (no batch
  read). Its open replays every entry through the `LogManager` (the bench's manager reads each chunk), so opening is its replay.
  Checkpointing is pushed out of reach so nothing is recycled during a run.
- **commitlog 0.2**: never fsyncs segment data (its `flush` only syncs the index), so no durable rows. `&mut self` API: the
  multi-thread rows wrap it in a `Mutex`, as a caller would. Reads are `read(offset, ReadLimit)`; replay reads ~1 MiB per call.
  Its open trusts the mmap'ed offset index and reads no record (no torn-tail scan), so its open row is not a recovery.
- **walrus-rust 0.2**: topics, consuming reads from a cursor: no read by position (random reads n/a); runs are consecutive
  `batch_read_for_topic` calls from a cursor (sequential, not random starts), each asking for the run's payload bytes: with
  walrus's 64-byte entry headers a call can return fewer entries than that, and a run ends at the first empty answer, so a
  run can read fewer records than its length (9 of 10 and 999 of 1,000 in the full run's log; the rates count the records
  read); a run that gets no entry at all is an error
  (seen with `--quick`'s 8 MiB log, past ~11,000 records of runs of 10 or 100). A read measurement reads from the instance of
  the one before it while that has enough records left (the runs of 10 and 100 read on after the runs of 1,000 of the same
  repetition), else from a freshly filled one (untimed; replay and the runs of 1,000 always get one). Its fsync schedule is
  process-wide (first instance wins), so the bench pins it to `NoFsync` and durable instances use `SyncEach` per instance.
  Each instance preallocates a 1 GB file and keeps background threads alive: walrus has no way to close an instance, so its
  files stay open (and their written blocks allocated) until the bench exits; a full run held ~15 GB before the single
  appends at 64 B, 512 B, 1 KiB and 16 KiB, which keep about 1.4 GB more.
- **wal-db 1.1**: no batch append API (n/a). Reads are `iter_from(lsn)` (one record, or `take(1000)` for a run).
- **raft-engine 0.4**: built here. Its entry API needs protobuf messages, so the bench uses its key-value puts (`LogBatch::put`);
  those values are also kept in its memtable, so its random reads and runs are served **from memory** (`get`, `scan_raw_messages`),
  not from the log. Replay only happens inside recovery (open row). LZ4 batch compression is off (the payload is compressible).
- **C API column**: the `nwal_*` functions declared `extern \"C\"` in the bench and linked from the nano_wal rlib; reads go
  through `nwal_read_batch_into` into one buffer the reader keeps (`nwal_read_buf_new`; one ref for a random read, 1,000 for a
  run), replay through `nwal_iter_next_batch` (256 records a call).
- **Reads by index** (nano_wal only; the peers are not measured there): the same records as the reads by ref, read by their log
  index. Rust: `Wal::read_index` per record, `Wal::read_range_into` (1,000 records, no byte budget) into the reused `ReadBuf`
  per run. C: `nwal_read_range_into` with a count of 1 or 1,000, into the reader's kept buffer. The prefilled log is one active segment,
  so the lookups use the record ends held in memory (a sealed segment's go through its index footer: one small `pread`).
- **Single appends against record size** (`append/1t/SIZE`, plotted in `docs/bench_appends_vs_size.svg` as appends/s: on
  log scales the gaps between the systems are the same as in MB/s): the 128 B and 4 KiB rows count as the other rows at those
  sizes do; the 64 B, 512 B, 1 KiB and 16 KiB rows append at most 64 MiB (and at most 500,000 records) per measurement, 8 MiB
  with `--quick`. Each measurement is a fresh log, as in every write row.
- **Reads against run length** (plotted in `docs/bench_reads_vs_run.svg`, records/s, 128 B): 1 is the random single reads
  row (`random/128`), 1,000 the runs row (`runs/128`), and the rows `runs-10/128` and `runs-100/128` read runs of 10 and 100
  records at random starts through the same calls as the runs of 1,000, as many records per measurement as those. The raw
  limit is one `pread` per run (per record at 1).
- **Recovery row**: 4 KiB records; the stream is built once per system and reopened in each repetition (page cache warm).
- **Many-segments open row** (nano_wal only): a stream of 1 s windows, one batch of 4 records each, built once through the Rust
  API (both columns) and reopened in each repetition; opening reads each sealed segment's header and index-footer trailer and
  scans only the newest segment. The bytes each open read are the opening thread's `rchar` (/proc/thread-self/io), said under
  the table. The raw limit opens, `fstat`s and reads the first 64 and last 40 bytes of every segment file of the same stream.
  A log keeps one descriptor open per segment: the bench raises its open-file limit as far as it may and, below 10,000 free
  descriptors, builds fewer segments (said under the table). Building the two streams took ~150 s here.
- **Raft log** (`raftlog` rows, nano_wal and raft-engine only): the same entries (16-byte term and index header, 128 B payload)
  through each engine's entry API; raft-engine's entries are `protobuf` `BytesValue` messages of those 144 bytes, and its
  reads here are of its log files (its memtable holds only each entry's position; a fetch reads and checks the whole block
  of the write that held the entry, kept in a one-block per-thread cache), not of an in-memory copy. Appends are durable
  (`append_batch(.., durable = true)`, `write(batch, sync = true)`). A truncation cycle is nano_wal's `truncate_after_deferred` (a
  truncation record in the active segment, durable with the next sync) then a durable `append_batch` of 100,
  raft-engine's one synced write of 100 entries from the lower index (its way to truncate): both durable when the
  write returns.
  The durable compaction row writes raft-engine's `Compact` command with a sync, as durable as `purge_before`; the
  `compact_to` row shows raft-engine's own call, which does not sync, against `purge_before_deferred`, which does not
  either (a crash before the next sync may take either back). What each does per
  operation (strace of a `--quick` run): a durable append is one `pwrite` and one `fdatasync` in both; a truncation cycle
  is one `pwrite` and one `fdatasync` in raft-engine, and in nano_wal the truncation record's `pwrite` before the
  append's `pwrite` and `fdatasync`;
  a durable compaction is one `pwrite` and one `fdatasync` in both (nano_wal's of its metadata file), `compact_to` and
  `purge_before_deferred` one `pwrite` each and no sync. A range fetch is one `pread` in nano_wal, one per write block it touches in raft-engine (the
  log is filled in writes of 16 entries: ~5 per range of 64).
- **Run time** on the 2-core build machine: the full run about 12 minutes before the reads by index and the many-segments row,
  22 minutes with them (at a load average of ~4), the raftlog rows about a minute more, `--quick` 30-80 s (both measured
  while other builds ran). The single appends at 64 B, 512 B, 1 KiB and 16 KiB, the runs of 10 and 100 and the memory
  children of the reads add about 2 minutes (55, 35 and 33 s, measured with `--only` at a load average of ~4).
  Fsync-bound measurements stop at a time cap (0.5 s quick, 3 s full) and count what they did.
";

/// Write the report and the plots; returns the targets section.
pub fn write(
    args: &Args,
    facts: &Facts,
    res: &Results,
    elapsed: Duration,
) -> std::io::Result<String> {
    let mut md = String::new();
    let _ = writeln!(md, "# nano_wal benchmarks\n");
    if args.quick {
        let _ = writeln!(
            md,
            "> **Quick run (`--quick`) on a loaded machine**: small counts, {} repetitions, a {} MiB recovery stream. \
             It validates the harness; the numbers are noisy and are not the measurement. Run the full command on a quiet machine.\n",
            res.params.reps,
            res.params.recovery_bytes >> 20
        );
    }
    let _ = writeln!(md, "Generated by the bench itself (`bench/`), one process run of {:.0} s. Command, from the repository root:\n", elapsed.as_secs_f64());
    let _ = writeln!(md, "```\n{}\n```\n", command(args));
    let _ = writeln!(md, "| Machine | |\n|---|---|");
    let _ = writeln!(md, "| date | {} |", facts.date);
    let _ = writeln!(md, "| CPU | {} x {} |", facts.nproc, facts.cpu);
    let _ = writeln!(md, "| memory | {} |", facts.memory);
    let _ = writeln!(md, "| kernel | {} |", facts.kernel);
    let _ = writeln!(md, "| bench dir filesystem | {} |", facts.filesystem);
    let _ = writeln!(md, "| rustc | {} |", facts.rustc);
    let _ = writeln!(md, "| load average at the end | {} |", facts.loadavg);
    let p = &res.params;
    let _ = writeln!(
        md,
        "\nParameters: {} repetitions; {} single appends (128 B; a quarter at 4 KiB); {} batches of 100 (a quarter at 4 KiB); \
         {} durable appends per measurement (a quarter at 4 KiB), split over the threads, or fewer if a measurement reaches {:.1} s \
         (fsync rates count what was done); reads against a {} MiB log: {} random reads, {} runs of 1,000; \
         recovery stream {} MiB. The single appends at the sizes no other row uses: {}. Runs of 10 and 100 at {}: \
         {} and {} runs (as many records as the runs of 1,000).\n",
        p.reps,
        p.appends,
        p.batches,
        p.durable,
        p.durable_cap.as_secs_f64(),
        p.read_log_bytes >> 20,
        p.random_reads,
        p.runs,
        p.recovery_bytes >> 20,
        APPEND_SIZES
            .iter()
            .filter(|s| !crate::plan::SIZES.contains(s))
            .map(|&s| format!("{} at {}", p.sweep_appends(s), size_label(s)))
            .collect::<Vec<_>>()
            .join(", "),
        size_label(RUN_SWEEP_SIZE),
        p.runs_of(SHORT_RUNS[0]),
        p.runs_of(SHORT_RUNS[1]),
    );
    let mut targets_md = String::new();
    let raftlog = res.raftlog.as_ref().map_or(&[][..], |r| &r.rows[..]);
    let openraft = res.openraft.as_ref().map_or(&[][..], |r| &r.rows[..]);
    write_targets(&mut targets_md, &res.rows, &res.limits, raftlog, openraft);
    md.push_str(&targets_md);
    let _ = writeln!(md, "## Results\n");
    let out_dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(out_dir)?;
    let charts = [
        (
            Chart::durable(128),
            "docs/bench_durable_threads_128.svg".to_string(),
            "Durable appends/s against threads, 128 B",
        ),
        (
            Chart::durable(4096),
            "docs/bench_durable_threads_4096.svg".to_string(),
            "Durable appends/s against threads, 4096 B",
        ),
        (
            Chart::appends_vs_size(),
            "docs/bench_appends_vs_size.svg".to_string(),
            "Single appends/s against record size, 1 thread, not durable",
        ),
        (
            Chart::reads_vs_run(),
            "docs/bench_reads_vs_run.svg".to_string(),
            "Records/s read against run length, 128 B",
        ),
    ];
    for (chart, rel, alt) in &charts {
        if let Some(svg) = plot(&res.rows, chart) {
            std::fs::create_dir_all(out_dir.join("docs"))?;
            std::fs::write(out_dir.join(rel), svg)?;
            let _ = writeln!(md, "![{alt}]({rel})\n");
        }
    }
    let mut notes = BTreeMap::new();
    write_tables(&mut md, &res.rows, &mut notes);
    write_limits(&mut md, &res.limits);
    write_memory(&mut md, res);
    write_index_memory(&mut md, res);
    write_follow(&mut md, res);
    write_raftlog(&mut md, res, &mut notes);
    write_openraft(&mut md, res, &mut notes);
    md.push_str(NOTES);
    if !notes.is_empty() {
        let _ = writeln!(md, "\n### Cells without a number in this run\n");
        for ((sys, why), ids) in notes {
            let _ = writeln!(md, "- {sys}, {why} ({})", ids.join(", "));
        }
    }
    std::fs::write(&args.out, md)?;
    Ok(targets_md)
}

// SPDX-License-Identifier: MIT
//! nano_wal's measuring stick: the physical limits, the peers and
//! nano_wal (Rust API and C API) measured in one process run, systems
//! interleaved within each repetition, medians of the repetitions, written
//! to BENCHMARKS.md with a plot. Not a test: nothing here asserts a time.
//!
//! cargo run --release --manifest-path bench/Cargo.toml -- [--quick] [--out BENCHMARKS.md] [--dir DIR] [--reps N]

mod adapter;
mod facts;
mod ffi;
mod follow;
mod harness;
mod limits;
mod memory;
mod nano;
mod peers;
mod plan;
mod raftlog;
mod report;

use harness::System;
use std::path::PathBuf;

pub struct Args {
    pub quick: bool,
    pub out: PathBuf,
    pub dir: Option<PathBuf>,
    pub reps: Option<usize>,
    pub only: Option<String>,
    /// Log each write measurement with what the kernel did around it.
    pub trace: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        quick: false,
        out: PathBuf::from("BENCHMARKS.md"),
        dir: None,
        reps: None,
        only: None,
        trace: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--trace" => a.trace = true,
            "--out" => a.out = PathBuf::from(value("--out")?),
            "--dir" => a.dir = Some(PathBuf::from(value("--dir")?)),
            "--reps" => {
                a.reps = Some(
                    value("--reps")?
                        .parse()
                        .map_err(|e| format!("--reps: {e}"))?,
                )
            }
            "--only" => a.only = Some(value("--only")?),
            "-h" | "--help" => {
                println!(
                    "usage: nano_wal_bench [--quick] [--out FILE] [--dir DIR] [--reps N] [--only SUBSTRING] [--trace]\n\
                     --quick  small counts, 3 repetitions, 64 MiB recovery stream: a smoke test of every row, not a measurement (about a minute on 2 cores, longer under load)\n\
                     --out    where to write the report (default BENCHMARKS.md)\n\
                     --dir    scratch directory (default: the system temp dir; use a real disk, not tmpfs)\n\
                     --reps   repetitions (default 5, quick 3; at least 3)\n\
                     --only   run only the rows whose id contains SUBSTRING, or one of several separated by commas (report is still written)\n\
                     --trace  log every write measurement: its rate, context switches, page faults, reclaim and compaction stalls"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(a)
}

/// Every system, in column order. The limits are not systems: each row
/// measures its own limit in the same repetition (see `plan`).
pub fn systems() -> Vec<Box<dyn System>> {
    vec![
        Box::new(nano::Nano),
        Box::new(ffi::Ffi),
        Box::new(peers::orig::Orig),
        Box::new(peers::okaywal::OkayWal),
        Box::new(peers::commitlog::Commitlog),
        Box::new(peers::walrus::WalrusSys),
        Box::new(peers::waldb::WalDb),
        Box::new(peers::raft::RaftEngine),
    ]
}

/// Free space a full run has needed in its scratch directory: each row's
/// prefilled logs, and walrus keeps its files until the process exits. A
/// run that found 11 GB died with ENOSPC after ten minutes; the sweep of
/// record sizes keeps about 1.4 GB more of walrus's files (its 64-byte entry
/// headers included).
const FULL_RUN_SPACE: u64 = 16 << 30;

/// Refuse a full run up front rather than die of a full disk half-way.
fn check_space(args: &Args, base: &std::path::Path) {
    if args.quick || args.only.is_some() {
        return;
    }
    if let Some(free) = facts::free_bytes(base) {
        if free < FULL_RUN_SPACE {
            eprintln!(
                "{} has {:.1} GiB free; a full run needs about {} GiB there. \
                 Free some space, pass --dir on a larger filesystem, or run --quick or --only.",
                base.display(),
                free as f64 / f64::from(1u32 << 30),
                FULL_RUN_SPACE >> 30,
            );
            std::process::exit(2);
        }
    }
}

fn main() {
    // Hidden subcommand: a child process that measures one system's peak memory.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(memory::CHILD_ARG) {
        memory::child(&argv[2..]);
        return;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    check_space(&args, &base);
    let root = base.join(format!("nano_wal_bench.{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("create the scratch directory");
    peers::walrus::init(&root);
    let open_file_limit = harness::raise_open_file_limit();
    harness::start_clock();
    let started = std::time::Instant::now();
    let results = plan::run(&args, &root, open_file_limit);
    let elapsed = started.elapsed();
    let facts = facts::collect(&root);
    let _ = std::fs::remove_dir_all(&root);
    let targets = report::write(&args, &facts, &results, elapsed).expect("write the report");
    // The targets table on stdout too: the one-glance answer of a run.
    println!("{targets}");
    eprintln!(
        "done in {:.0} s; wrote {}",
        elapsed.as_secs_f64(),
        args.out.display()
    );
    let failed = own_failures(&results);
    if !failed.is_empty() {
        eprintln!("measurements of nano_wal or of a raw limit failed:");
        for f in &failed {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

/// Failed measurements of the columns the bench exists for: nano_wal
/// through either API, and the raw limits. A peer's failure only shows in
/// its cell ("error"), with the reason in the notes.
fn own_failures(results: &plan::Results) -> Vec<String> {
    let mut failed = Vec::new();
    let raftlog = results.raftlog.iter().flat_map(|r| &r.rows);
    let openraft = results.openraft.iter().flat_map(|r| &r.rows);
    for row in results
        .rows
        .iter()
        .chain(&results.limits)
        .chain(raftlog)
        .chain(openraft)
    {
        let own = row
            .cells
            .iter()
            .filter(|(name, _)| name.starts_with("nano_wal"))
            .map(|(name, cells)| (*name, cells));
        for (name, cells) in std::iter::once(("raw limit", &row.limit)).chain(own) {
            for cell in cells {
                if let Err(harness::Missing::Failed(e)) = cell {
                    failed.push(format!("{} / {name}: {e}", row.id));
                }
            }
        }
    }
    if let Some(e) = results.follow.as_ref().and_then(|f| f.error.as_ref()) {
        failed.push(format!("follow / nano_wal: {e}"));
    }
    failed
}

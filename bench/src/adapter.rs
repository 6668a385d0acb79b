// SPDX-License-Identifier: MIT
//! The `openraft` family: what nano_wal's openraft log store
//! (`nano_wal_openraft::LogStore`) costs over nano_wal itself, for the
//! durable appends a Raft node makes.
//!
//! The adapter column drives the store as openraft does: a tokio
//! current-thread runtime awaits `RaftLogStorageExt::blocking_append`
//! (openraft's own helper: it builds the flush callback and awaits it) of
//! `openraft::Entry`s with a normal payload. The store encodes each entry
//! (postcard), appends the batch without waiting, and its flusher thread
//! calls the callback once `Wal::wait_durable` returns. The direct column
//! writes the same bytes, the postcard encoding of the same entries, one
//! record each, with `Wal::append_batch(.., durable = true)`: what the
//! adapter adds is the whole difference.

use crate::harness::{
    deadline, fail, now_ms, payload, set_time_cap, settle, Cell, Missing, Sample,
};
use crate::harness::{pair_order, Scratch, TempDir};
use crate::plan::{Row, Unit};
use nano_wal::{Wal, WalOptions, WriteEntry};
use nano_wal_openraft::LogStore;
use openraft::storage::RaftLogStorageExt;
use openraft::{CommittedLeaderId, EntryPayload, LogId};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

pub const ADAPTER: &str = "nano_wal_openraft";
pub const DIRECT: &str = "nano_wal";
/// The target: the adapter keeps at least this share of nano_wal's rate.
pub const GOAL: f64 = 0.85;

/// Bytes of an entry's application data.
pub const PAYLOAD: usize = 128;
pub const APPEND_BATCHES: [usize; 3] = [1, 16, 256];
const STREAM: &str = "raft";

/// The application data of an entry: what a state machine's command
/// carries. A `String`, as openraft's examples have it: serde writes it
/// with one copy, where a plain `Vec<u8>` field goes through serde's
/// sequence path one byte at a time (without `serde_bytes`), an encoding
/// cost of the application's choosing, not of the store's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub text: String,
}

// The snapshot type named: the macro's default names `Cursor` unqualified.
openraft::declare_raft_types!(
    pub Config:
        D = Command,
        R = (),
        SnapshotData = std::io::Cursor<Vec<u8>>,
);

type Entry = openraft::Entry<Config>;

/// How much each measurement does.
#[derive(Debug, Clone)]
pub struct Counts {
    pub reps: usize,
    /// Calls per append measurement, per batch size (or fewer at the cap).
    pub writes: [usize; 3],
    pub cap: Duration,
}

impl Counts {
    pub fn new(quick: bool, reps: usize) -> Counts {
        if quick {
            Counts {
                reps,
                writes: [200, 100, 20],
                cap: Duration::from_millis(500),
            }
        } else {
            // An fdatasync per call (~0.1-1 ms on the build machine's
            // disk) keeps each measurement near a second or more (the cap
            // bounds a slow disk); the raftlog family's 500 calls of 256
            // took ~0.1 s, too short against the disk's drift.
            Counts {
                reps,
                writes: [20_000, 10_000, 2_000],
                cap: Duration::from_secs(3),
            }
        }
    }
}

pub struct AdapterResults {
    pub counts: Counts,
    /// Rows with two columns, the adapter then nano_wal directly.
    pub rows: Vec<Row>,
}

/// The entries of Raft indexes `0..n`, term 1, leader 1, each with the same
/// [`PAYLOAD`] bytes of text (the harness's pattern, mapped to letters).
fn entries(n: usize) -> Vec<Entry> {
    let text: String = payload(PAYLOAD)
        .into_iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    (0..n as u64)
        .map(|index| Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Command { text: text.clone() }),
        })
        .collect()
}

/// The adapter: `calls` (each one `blocking_append`) on a fresh store in
/// `dir`. The calls are built before, so the timing holds what a Raft node
/// pays once it has its entries.
fn adapter(dir: &Path, mut calls: Vec<Vec<Entry>>, bytes: &[u64]) -> Cell {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(fail("tokio runtime"))?;
    let mut store = LogStore::<Config>::open(dir, STREAM, WalOptions::default())
        .map_err(fail("LogStore::open"))?;
    settle();
    let (n, secs) = rt.block_on(async {
        let start = Instant::now();
        let stop = deadline(start);
        let mut n = 0;
        for call in &mut calls {
            if stop.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            // Taken, not cloned: openraft hands the store entries it owns.
            let call = std::mem::take(call);
            let k = call.len();
            store
                .blocking_append(call)
                .await
                .map_err(fail("blocking_append"))?;
            n += k;
        }
        Ok::<_, Missing>((n, start.elapsed().as_secs_f64()))
    })?;
    // Every entry a record of its own, at its Raft index + 1, durable.
    let wal = store.wal();
    if wal.last_index() != n as u64 || wal.durable_index() < n as u64 {
        return Err(Missing::Failed(format!(
            "after {n} entries the stream's last index is {} and its durable index {}",
            wal.last_index(),
            wal.durable_index()
        )));
    }
    Ok(Sample {
        ops: n as u64,
        bytes: bytes[..n].iter().sum(),
        secs,
    })
}

/// nano_wal directly: the entries' encodings in `writes` durable
/// `append_batch` calls of `batch` records, on a fresh stream in `dir`.
fn direct(dir: &Path, encoded: &[Vec<u8>], batch: usize, writes: usize) -> Cell {
    let wal = Wal::open(dir, STREAM, WalOptions::default()).map_err(fail("Wal::open"))?;
    let now = now_ms();
    settle();
    let start = Instant::now();
    let stop = deadline(start);
    let mut done = 0;
    while done < writes && stop.is_none_or(|d| Instant::now() < d) {
        let w: Vec<WriteEntry> = encoded[done * batch..(done + 1) * batch]
            .iter()
            .map(|content| WriteEntry {
                header: None,
                content,
            })
            .collect();
        let refs = wal
            .append_batch(&w, now, true)
            .map_err(fail("append_batch"))?;
        let expected = (done * batch) as u64 + 1;
        if refs.first().map(|r| r.index) != Some(expected) {
            return Err(Missing::Failed(format!(
                "appended at {:?}, expected index {expected}",
                refs.first().map(|r| r.index)
            )));
        }
        done += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = done * batch;
    Ok(Sample {
        ops: n as u64,
        bytes: encoded[..n].iter().map(|e| e.len() as u64).sum(),
        secs,
    })
}

/// Every row of the family that `wanted` (by row id) selects.
pub fn measure(
    scratch: &Scratch,
    c: Counts,
    trace: bool,
    wanted: &dyn Fn(&str) -> bool,
) -> AdapterResults {
    let mut rows = Vec::new();
    set_time_cap(Some(c.cap));
    for (k, &batch) in APPEND_BATCHES.iter().enumerate() {
        let mut r = Row {
            id: format!("openraft/append/{batch}"),
            group: "openraft log store",
            label: format!(
                "durable appends, {batch} entr{} per call (entries/s)",
                if batch == 1 { "y" } else { "ies" }
            ),
            unit: Unit::Ops,
            limit_name: "",
            limit: Vec::new(),
            cells: vec![(ADAPTER, Vec::new()), (DIRECT, Vec::new())],
            detail: Vec::new(),
        };
        if !wanted(&r.id) {
            continue;
        }
        let writes = c.writes[k];
        let template = entries(writes * batch);
        let encoded = match template
            .iter()
            .map(postcard::to_allocvec)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(e) => e,
            Err(e) => {
                let m = Missing::Failed(format!("postcard: {e}"));
                for (_, cells) in &mut r.cells {
                    cells.push(Err(m.clone()));
                }
                rows.push(r);
                continue;
            }
        };
        let bytes: Vec<u64> = encoded.iter().map(|e| e.len() as u64).collect();
        for rep in 0..c.reps {
            crate::progress!("  {} rep {}/{}", r.id, rep + 1, c.reps);
            for i in pair_order(rep) {
                let d: TempDir = scratch.fresh(&format!("openraft{i}"));
                let cell = if i == 0 {
                    let calls = template.chunks(batch).map(<[Entry]>::to_vec).collect();
                    adapter(&d.path, calls, &bytes)
                } else {
                    direct(&d.path, &encoded, batch, writes)
                };
                if trace {
                    let rate = cell.as_ref().map_or(0.0, |s| s.ops as f64 / s.secs);
                    crate::progress!("    {} {}: {rate:.0}/s", r.id, r.cells[i].0);
                }
                r.cells[i].1.push(cell);
            }
        }
        if let Some(m) = pair_ratio(&r) {
            r.detail.push(format!(
                "{}: adapter / direct of each repetition's pair (the two measured back to back): median {m:.2}x.",
                r.id
            ));
        }
        let (min, max) = (
            bytes.iter().min().copied().unwrap_or(0),
            bytes.iter().max().copied().unwrap_or(0),
        );
        r.detail.push(format!(
            "{}: {writes} calls of {batch} per measurement, or fewer at the {:.1} s cap; an entry is {min}-{max} B \
             encoded (postcard of an `openraft::Entry` whose data is a {PAYLOAD}-byte `String`; the Raft index is a varint), \
             the record content in both columns.",
            r.id,
            c.cap.as_secs_f64()
        ));
        rows.push(r);
    }
    set_time_cap(None);
    AdapterResults { counts: c, rows }
}

/// The median over the repetitions of the adapter's rate over nano_wal's
/// in the same repetition: the disk's speed drifts over seconds on a shared
/// machine, and a pair measured back to back shares more of it than the
/// medians of the two columns do.
fn pair_ratio(row: &Row) -> Option<f64> {
    let (a, d) = (row.system(ADAPTER)?, row.system(DIRECT)?);
    let mut v: Vec<f64> = a
        .iter()
        .zip(d)
        .filter_map(|(a, d)| Some(a.as_ref().ok()?.ops_per_sec() / d.as_ref().ok()?.ops_per_sec()))
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The adapter's median over nano_wal's in a row of the family.
pub fn ratio(row: &Row) -> Option<f64> {
    let of = |name| row.median(row.system(name)?).ok();
    of(ADAPTER).zip(of(DIRECT)).map(|(a, d)| a / d)
}

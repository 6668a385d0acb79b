// SPDX-License-Identifier: MIT
//! The `raftlog` family: what a Raft node asks of its log, on nano_wal
//! (Rust API) and on raft-engine 0.4 (TiKV's log, through its entry API):
//! durable appends of batches of entries at known indexes, fetches of
//! ranges by index, truncation of a conflicting tail followed by the
//! leader's entries, and compaction of the head. One region (one log), one
//! thread, the same entry bytes in both.
//!
//! Entries: a 16-byte header (term, index, little-endian, as a Raft entry
//! carries them) and a 128-byte payload. nano_wal stores the header as the
//! record's header and the payload as its content; raft-engine stores the
//! 144 bytes as one `protobuf::well_known_types::BytesValue` (its entries
//! must be protobuf messages, and `MessageExt::index` reads the index back
//! from the header).

use crate::harness::{deadline, fail, now_ms, payload, set_time_cap, settle, Cell, Missing};
use crate::harness::{pair_order, time, Scratch, TempDir};
use crate::plan::{Row, Unit};
use nano_wal::{ReadBuf, Wal, WalOptions, WriteEntry};
use protobuf::well_known_types::BytesValue;
use raft_engine::{Command, Engine, LogBatch, MessageExt};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

pub const NANO: &str = "nano_wal";
pub const RAFT: &str = "raft-engine 0.4";

const PAYLOAD: usize = 128;
const HEADER: usize = 16;
/// Bytes of one entry, the same in both systems (rates count these).
pub const ENTRY: usize = HEADER + PAYLOAD;
pub const APPEND_BATCHES: [usize; 3] = [1, 16, 256];
/// Entries per write when a log is prefilled for the other rows.
pub const FILL_BATCH: usize = 16;
pub const RANGE: usize = 64;
/// Entries per fetch call in the full scan of raft-engine.
pub const SCAN_CHUNK: usize = 1024;
pub const TRUNCATE: usize = 100;
/// The log the truncations run at the end of.
pub const TRUNCATE_LOG: u64 = 10_000;
/// Entries dropped from the head by each compaction.
pub const COMPACT_STEP: u64 = 100;
const REGION: u64 = 1;

/// How much each measurement does.
#[derive(Debug, Clone)]
pub struct Counts {
    pub reps: usize,
    /// Durable writes per append measurement, per batch size (or fewer at
    /// the time cap).
    pub writes: [usize; 3],
    pub cap: Duration,
    /// Entries of the log fetched from and compacted.
    pub log: u64,
    pub ranges: usize,
    pub scans: usize,
    /// Truncate-and-re-append cycles per measurement (or fewer at the cap).
    pub cycles: usize,
}

impl Counts {
    pub fn new(quick: bool, reps: usize) -> Counts {
        if quick {
            Counts {
                reps,
                writes: [200, 100, 20],
                cap: Duration::from_millis(500),
                log: 20_000,
                ranges: 2_000,
                scans: 2,
                cycles: 20,
            }
        } else {
            Counts {
                reps,
                // An fdatasync takes ~0.1 ms on the build machine's disk:
                // these keep each measurement near a second or more.
                writes: [20_000, 5_000, 500],
                cap: Duration::from_secs(3),
                log: 100_000,
                ranges: 100_000,
                scans: 20,
                cycles: 1_000,
            }
        }
    }

    pub fn compactions(&self) -> u64 {
        self.log / COMPACT_STEP - 1
    }
}

pub struct RaftResults {
    pub counts: Counts,
    /// Rows with two columns, nano_wal then raft-engine; no raw limit.
    pub rows: Vec<Row>,
}

/// The entry of raft-engine's entry API: the header and payload bytes.
pub struct Entry;

impl MessageExt for Entry {
    type Entry = BytesValue;

    fn index(e: &BytesValue) -> u64 {
        // Bytes 8..16 of the header; an entry written here always has them.
        e.value
            .get(8..HEADER)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    }
}

fn header(term: u64, index: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(&term.to_le_bytes());
    h[8..].copy_from_slice(&index.to_le_bytes());
    h
}

fn term_and_index(h: &[u8]) -> (u64, u64) {
    let word = |r: std::ops::Range<usize>| {
        h.get(r)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    (word(0..8), word(8..HEADER))
}

/// Entries `first..first + n` of one term, built before any timing in the
/// form each API takes: nano_wal borrows the header and payload, and
/// raft-engine takes the messages a Raft library would hand it.
struct Entries {
    first: u64,
    headers: Vec<[u8; HEADER]>,
    payload: Vec<u8>,
    messages: Vec<BytesValue>,
}

impl Entries {
    fn new(first: u64, n: usize, term: u64) -> Entries {
        let payload = payload(PAYLOAD);
        let headers: Vec<[u8; HEADER]> = (0..n as u64).map(|i| header(term, first + i)).collect();
        let messages = headers
            .iter()
            .map(|h| {
                let mut m = BytesValue::new();
                m.value = [&h[..], &payload].concat();
                m
            })
            .collect();
        Entries {
            first,
            headers,
            payload,
            messages,
        }
    }

    fn len(&self) -> usize {
        self.headers.len()
    }
}

/// What the rows ask of a log; each implementation is one API's way.
trait RaftLog {
    fn name(&self) -> &'static str;
    /// Write `e[range]` (indexes `e.first + range.start ..`) in one write.
    fn append(
        &mut self,
        e: &Entries,
        range: std::ops::Range<usize>,
        durable: bool,
    ) -> Result<(), Missing>;
    /// Replace every entry from `e.first` on by `e`, durably, as a
    /// follower does on a conflict with its leader.
    fn overwrite(&mut self, e: &Entries) -> Result<(), Missing>;
    /// Read the entries `from..from + n` by index; returns their bytes.
    fn fetch(&mut self, from: u64, n: usize) -> Result<u64, Missing>;
    /// Read every entry `from..=last` in order; returns how many.
    fn scan(&mut self, from: u64, last: u64) -> Result<u64, Missing>;
    /// Drop the entries below `index`.
    fn compact(&mut self, index: u64, durable: bool) -> Result<(), Missing>;
    fn first_index(&self) -> u64;
    fn last_index(&self) -> u64;
    /// (term, index) of the entry at `index`, read back.
    fn entry(&mut self, index: u64) -> Result<(u64, u64), Missing>;
    /// Seconds spent in the truncation itself inside `overwrite` since the
    /// log was opened, when it is a call of its own.
    fn truncating_secs(&self) -> Option<f64> {
        None
    }
}

struct Nano {
    wal: Wal,
    buf: ReadBuf,
    now: i64,
    truncating: Duration,
}

impl Nano {
    fn open(dir: &Path) -> Result<Nano, Missing> {
        // Defaults: 1 h windows, 7 days retention, no size cap: every row's
        // log fits one segment.
        let wal = Wal::open(dir, "raft", WalOptions::default()).map_err(fail("Wal::open"))?;
        Ok(Nano {
            wal,
            buf: ReadBuf::new(),
            now: now_ms(),
            truncating: Duration::ZERO,
        })
    }
}

impl RaftLog for Nano {
    fn name(&self) -> &'static str {
        NANO
    }

    fn append(
        &mut self,
        e: &Entries,
        range: std::ops::Range<usize>,
        durable: bool,
    ) -> Result<(), Missing> {
        let expected = e.first + range.start as u64;
        let w: Vec<WriteEntry> = e.headers[range]
            .iter()
            .map(|h| WriteEntry {
                header: Some(h),
                content: &e.payload,
            })
            .collect();
        let refs = self
            .wal
            .append_batch(&w, self.now, durable)
            .map_err(fail("append_batch"))?;
        // The log's own index must be the entry's: a Raft log by index.
        match refs.first() {
            Some(r) if r.index == expected => Ok(()),
            other => Err(Missing::Failed(format!(
                "appended at {:?}, the entry's index is {expected}",
                other.map(|r| r.index)
            ))),
        }
    }

    fn overwrite(&mut self, e: &Entries) -> Result<(), Missing> {
        let start = Instant::now();
        // Durable with the append's sync, as raft-engine's overwriting
        // write is: one sync for the truncation and the entries.
        self.wal
            .truncate_after_deferred(e.first - 1)
            .map_err(fail("truncate_after_deferred"))?;
        self.truncating += start.elapsed();
        self.append(e, 0..e.len(), true)
    }

    fn fetch(&mut self, from: u64, n: usize) -> Result<u64, Missing> {
        let refs = self
            .wal
            .read_range_into(from, n, u64::MAX, &mut self.buf)
            .map_err(fail("read_range_into"))?;
        let mut bytes = 0;
        for r in self.buf.iter() {
            bytes += (r.header.map_or(0, <[u8]>::len) + r.content.len()) as u64;
            black_box(r.content);
        }
        let first = self.buf.get(0).and_then(|r| r.header).map(term_and_index);
        match (refs.len() == n, first) {
            (true, Some((_, i))) if i == from => Ok(bytes),
            _ => Err(Missing::Failed(format!(
                "a fetch of {n} from {from} gave {} entries, the first {first:?}",
                refs.len()
            ))),
        }
    }

    fn scan(&mut self, from: u64, last: u64) -> Result<u64, Missing> {
        let mut replay = self
            .wal
            .replay_from_index(from)
            .map_err(fail("replay_from_index"))?;
        let mut n = 0;
        while n <= last - from {
            match replay.next_ref() {
                Some(Ok((_, r))) => {
                    black_box(r.content);
                    n += 1;
                }
                Some(Err(e)) => return Err(Missing::Failed(format!("replay: {e}"))),
                None => break,
            }
        }
        Ok(n)
    }

    fn compact(&mut self, index: u64, durable: bool) -> Result<(), Missing> {
        match durable {
            true => self.wal.purge_before(index).map_err(fail("purge_before")),
            // Synced by the next sync, as `compact_to` by the next synced write.
            false => self
                .wal
                .purge_before_deferred(index)
                .map_err(fail("purge_before_deferred")),
        }
    }

    fn first_index(&self) -> u64 {
        self.wal.first_index()
    }

    fn last_index(&self) -> u64 {
        self.wal.last_index()
    }

    fn entry(&mut self, index: u64) -> Result<(u64, u64), Missing> {
        let r = self.wal.read_index(index).map_err(fail("read_index"))?;
        Ok(term_and_index(r.header.as_deref().unwrap_or(&[])))
    }

    fn truncating_secs(&self) -> Option<f64> {
        Some(self.truncating.as_secs_f64())
    }
}

struct Raft {
    e: Engine,
    fetched: Vec<BytesValue>,
}

impl Raft {
    fn open(dir: &Path) -> Result<Raft, Missing> {
        Ok(Raft {
            e: crate::peers::raft::open(dir)?,
            fetched: Vec::new(),
        })
    }
}

impl RaftLog for Raft {
    fn name(&self) -> &'static str {
        RAFT
    }

    fn append(
        &mut self,
        e: &Entries,
        range: std::ops::Range<usize>,
        durable: bool,
    ) -> Result<(), Missing> {
        let mut b = LogBatch::default();
        b.add_entries::<Entry>(REGION, &e.messages[range])
            .map_err(fail("add_entries"))?;
        self.e.write(&mut b, durable).map_err(fail("write"))?;
        Ok(())
    }

    fn overwrite(&mut self, e: &Entries) -> Result<(), Missing> {
        // Entries at an index at or below the last one replace the tail
        // from there: raft-engine's truncation is this append.
        self.append(e, 0..e.len(), true)
    }

    fn fetch(&mut self, from: u64, n: usize) -> Result<u64, Missing> {
        self.fetched.clear();
        let got = self
            .e
            .fetch_entries_to::<Entry>(REGION, from, from + n as u64, None, &mut self.fetched)
            .map_err(fail("fetch_entries_to"))?;
        let bytes = self.fetched.iter().map(|m| m.value.len() as u64).sum();
        black_box(&self.fetched);
        match self.fetched.first() {
            Some(m) if got == n && Entry::index(m) == from => Ok(bytes),
            first => Err(Missing::Failed(format!(
                "a fetch of {n} from {from} gave {got} entries, the first {:?}",
                first.map(Entry::index)
            ))),
        }
    }

    fn scan(&mut self, from: u64, last: u64) -> Result<u64, Missing> {
        // In chunks into one reused vector, as a Raft library pages
        // through a log: one call for the whole log would hold every
        // entry decoded at once.
        let mut n = 0;
        let mut at = from;
        while at <= last {
            let end = (at + SCAN_CHUNK as u64).min(last + 1);
            self.fetched.clear();
            let got = self
                .e
                .fetch_entries_to::<Entry>(REGION, at, end, None, &mut self.fetched)
                .map_err(fail("fetch_entries_to"))?;
            black_box(&self.fetched);
            if got == 0 {
                break;
            }
            n += got as u64;
            at += got as u64;
        }
        Ok(n)
    }

    fn compact(&mut self, index: u64, durable: bool) -> Result<(), Missing> {
        if durable {
            // `compact_to` writes its command without a sync; the same
            // command written with one is as durable as nano_wal's purge.
            let mut b = LogBatch::default();
            b.add_command(REGION, Command::Compact { index });
            self.e.write(&mut b, true).map_err(fail("write"))?;
        } else {
            self.e.compact_to(REGION, index);
        }
        Ok(())
    }

    fn first_index(&self) -> u64 {
        self.e.first_index(REGION).unwrap_or(0)
    }

    fn last_index(&self) -> u64 {
        self.e.last_index(REGION).unwrap_or(0)
    }

    fn entry(&mut self, index: u64) -> Result<(u64, u64), Missing> {
        let m = self
            .e
            .get_entry::<Entry>(REGION, index)
            .map_err(fail("get_entry"))?
            .ok_or_else(|| Missing::Failed(format!("no entry {index}")))?;
        Ok(term_and_index(&m.value))
    }
}

type Opener = fn(&Path) -> Result<Box<dyn RaftLog>, Missing>;

/// The two systems, in column order.
const SYSTEMS: [(&str, Opener); 2] = [
    (NANO, |d| Ok(Box::new(Nano::open(d)?))),
    (RAFT, |d| Ok(Box::new(Raft::open(d)?))),
];

fn row(id: String, group: &'static str, label: String) -> Row {
    Row {
        id,
        group,
        label,
        unit: Unit::Ops,
        limit_name: "",
        limit: Vec::new(),
        cells: SYSTEMS.iter().map(|(n, _)| (*n, Vec::new())).collect(),
        detail: Vec::new(),
    }
}

/// Append `count` entries (term 1, from index 1) in non-durable writes of
/// [`FILL_BATCH`], then sync: the logs the read, truncate and compact rows
/// start from.
fn fill(log: &mut dyn RaftLog, count: u64) -> Result<(), Missing> {
    let e = Entries::new(1, count as usize, 1);
    let mut i = 0;
    while i < e.len() {
        let end = (i + FILL_BATCH).min(e.len());
        // The last write syncs everything before it.
        log.append(&e, i..end, end == e.len())?;
        i = end;
    }
    if log.last_index() != count {
        return Err(Missing::Failed(format!(
            "the filled log ends at {}, not {count}",
            log.last_index()
        )));
    }
    Ok(())
}

/// One measurement per system and repetition, each on a fresh log that
/// `setup` prepares (untimed) in a fresh directory, then `work` timed.
fn fresh_row(
    row: &mut Row,
    scratch: &Scratch,
    c: &Counts,
    trace: bool,
    setup: &dyn Fn(&mut dyn RaftLog) -> Result<(), Missing>,
    work: &dyn Fn(&mut dyn RaftLog) -> Cell,
) {
    for rep in 0..c.reps {
        crate::progress!("  {} rep {}/{}", row.id, rep + 1, c.reps);
        for i in pair_order(rep) {
            let (name, open) = SYSTEMS[i];
            let d: TempDir = scratch.fresh(&format!("raftlog{i}"));
            let cell = open(&d.path).and_then(|mut log| {
                setup(log.as_mut())?;
                settle();
                work(log.as_mut())
            });
            if trace {
                let rate = cell.as_ref().map_or(0.0, |s| s.ops as f64 / s.secs);
                crate::progress!("    {} {name}: {rate:.0}/s", row.id);
            }
            row.cells[i].1.push(cell);
        }
    }
}

/// Every row of the family that `wanted` (by row id) selects.
pub fn measure(
    scratch: &Scratch,
    c: Counts,
    trace: bool,
    wanted: &dyn Fn(&str) -> bool,
) -> RaftResults {
    let mut rows = Vec::new();
    let group = "Raft log";

    set_time_cap(Some(c.cap));
    for (k, &batch) in APPEND_BATCHES.iter().enumerate() {
        let mut r = row(
            format!("raftlog/append/{batch}"),
            group,
            format!(
                "durable appends, {batch} entr{} per write (entries/s)",
                if batch == 1 { "y" } else { "ies" }
            ),
        );
        if !wanted(&r.id) {
            continue;
        }
        let writes = c.writes[k];
        let e = Entries::new(1, writes * batch, 1);
        fresh_row(&mut r, scratch, &c, trace, &|_| Ok(()), &|log| {
            time(|| {
                let stop = deadline(Instant::now());
                let mut done = 0;
                while done < writes && stop.is_none_or(|d| Instant::now() < d) {
                    log.append(&e, done * batch..(done + 1) * batch, true)?;
                    done += 1;
                }
                let n = (done * batch) as u64;
                Ok((n, n * ENTRY as u64))
            })
        });
        r.detail.push(format!(
            "{}: {writes} writes of {batch} per measurement, or fewer at the {:.1} s cap; one thread, one region.",
            r.id,
            c.cap.as_secs_f64()
        ));
        rows.push(r);
    }

    let mut r = row(
        "raftlog/truncate/100".into(),
        group,
        format!(
            "truncate the last {TRUNCATE} entries and append {TRUNCATE} of a new term, durable (cycles/s)"
        ),
    );
    if wanted(&r.id) {
        // Cycle k replaces the last TRUNCATE entries by entries of term k + 2.
        let first = TRUNCATE_LOG - TRUNCATE as u64 + 1;
        let cycles: Vec<Entries> = (0..c.cycles)
            .map(|k| Entries::new(first, TRUNCATE, k as u64 + 2))
            .collect();
        let shares = std::cell::RefCell::new(Vec::new());
        fresh_row(
            &mut r,
            scratch,
            &c,
            trace,
            &|log| fill(log, TRUNCATE_LOG),
            &|log| {
                let cell = time(|| {
                    let stop = deadline(Instant::now());
                    let mut done = 0;
                    while done < cycles.len() && stop.is_none_or(|d| Instant::now() < d) {
                        log.overwrite(&cycles[done])?;
                        done += 1;
                    }
                    Ok((done as u64, (done * TRUNCATE * ENTRY) as u64))
                })?;
                // The log must end where it did, in the last cycle's term.
                let last = log.entry(TRUNCATE_LOG)?;
                let want = (cell.ops + 1, TRUNCATE_LOG);
                if log.last_index() != TRUNCATE_LOG || last != want {
                    return Err(Missing::Failed(format!(
                        "after the cycles the log ends at {} with (term, index) {last:?}, not {want:?}",
                        log.last_index()
                    )));
                }
                if let Some(t) = log.truncating_secs() {
                    shares.borrow_mut().push((log.name(), t / cell.secs));
                }
                Ok(cell)
            },
        );
        for (name, share) in median_shares(shares.into_inner()) {
            r.detail.push(format!(
                "{}: {name} spends {:.0}% of a cycle in the truncation call (median), the rest in the durable append.",
                r.id,
                share * 100.0
            ));
        }
        r.detail.push(format!(
            "{}: a log of {TRUNCATE_LOG} entries (filled in writes of {FILL_BATCH}, synced); up to {} cycles per \
             measurement, or fewer at the {:.1} s cap; checked after: the last entry has the last cycle's term.",
            r.id,
            c.cycles,
            c.cap.as_secs_f64()
        ));
        rows.push(r);
    }

    for durable in [true, false] {
        let mut r = row(
            format!(
                "raftlog/compact{}",
                if durable { "" } else { "/compact_to" }
            ),
            group,
            format!(
                "compact the head by {COMPACT_STEP} entries{} (compactions/s)",
                if durable {
                    ", durable"
                } else {
                    ", not synced (`compact_to`, `purge_before_deferred`)"
                }
            ),
        );
        if !wanted(&r.id) {
            continue;
        }
        let steps = c.compactions();
        let log_len = c.log;
        fresh_row(
            &mut r,
            scratch,
            &c,
            trace,
            &|log| fill(log, log_len),
            &|log| {
                let cell = time(|| {
                    for k in 1..=steps {
                        log.compact(1 + k * COMPACT_STEP, durable)?;
                    }
                    Ok((steps, 0))
                })?;
                let want = 1 + steps * COMPACT_STEP;
                if log.first_index() != want {
                    return Err(Missing::Failed(format!(
                        "after compacting the first index is {}, not {want}",
                        log.first_index()
                    )));
                }
                Ok(cell)
            },
        );
        r.detail.push(format!(
            "{}: {steps} compactions of {COMPACT_STEP} entries of a log of {log_len}, one segment or file: \
             no file is deleted.",
            r.id
        ));
        rows.push(r);
    }
    set_time_cap(None);

    rows.extend(read_rows(scratch, &c, trace, wanted));
    RaftResults { counts: c, rows }
}

fn median_shares(v: Vec<(&'static str, f64)>) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    for (name, _) in SYSTEMS {
        let mut s: Vec<f64> = v.iter().filter(|(n, _)| *n == name).map(|x| x.1).collect();
        if s.is_empty() {
            continue;
        }
        s.sort_by(f64::total_cmp);
        out.push((name, s[s.len() / 2]));
    }
    out
}

/// Fetches of random ranges and the full scan, against one log per system
/// filled once (untimed) and read in every repetition.
fn read_rows(
    scratch: &Scratch,
    c: &Counts,
    trace: bool,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<Row> {
    let group = "Raft log";
    let mut fetch = row(
        format!("raftlog/fetch/{RANGE}"),
        group,
        format!("fetch {RANGE} entries by index, random ranges (entries/s)"),
    );
    let mut scan = row(
        "raftlog/scan".into(),
        group,
        format!("fetch all {} entries in order (entries/s)", c.log),
    );
    if !wanted(&fetch.id) && !wanted(&scan.id) {
        return Vec::new();
    }
    crate::progress!("raftlog reads: filling {} entries per system", c.log);
    let dirs: Vec<TempDir> = (0..SYSTEMS.len())
        .map(|i| scratch.fresh(&format!("raftlog-read{i}")))
        .collect();
    let mut logs: Vec<Result<Box<dyn RaftLog>, Missing>> = SYSTEMS
        .iter()
        .zip(&dirs)
        .map(|((_, open), d)| {
            let mut log = open(&d.path)?;
            fill(log.as_mut(), c.log)?;
            Ok(log)
        })
        .collect();
    settle();
    let starts: Vec<u64> = crate::plan::random_indices(c.log as usize - RANGE + 1, c.ranges, 3)
        .into_iter()
        .map(|s| s as u64 + 1)
        .collect();
    for rep in 0..c.reps {
        crate::progress!("  raftlog reads rep {}/{}", rep + 1, c.reps);
        for i in pair_order(rep) {
            let log = &mut logs[i];
            if wanted(&fetch.id) {
                let cell = log.as_mut().map_err(|m| m.clone()).and_then(|log| {
                    time(|| {
                        let mut bytes = 0;
                        for &s in &starts {
                            bytes += log.fetch(s, RANGE)?;
                        }
                        Ok(((starts.len() * RANGE) as u64, bytes))
                    })
                });
                trace_cell(trace, &fetch.id, SYSTEMS[i].0, &cell);
                fetch.cells[i].1.push(cell);
            }
            if wanted(&scan.id) {
                let cell = log.as_mut().map_err(|m| m.clone()).and_then(|log| {
                    time(|| {
                        let mut n = 0;
                        for _ in 0..c.scans {
                            let got = log.scan(1, c.log)?;
                            if got != c.log {
                                return Err(Missing::Failed(format!(
                                    "a scan gave {got} entries of {}",
                                    c.log
                                )));
                            }
                            n += got;
                        }
                        Ok((n, n * ENTRY as u64))
                    })
                });
                trace_cell(trace, &scan.id, SYSTEMS[i].0, &cell);
                scan.cells[i].1.push(cell);
            }
        }
    }
    fetch.detail.push(format!(
        "{}: {} ranges per measurement from a log of {} entries (filled in writes of {FILL_BATCH}, in the page cache).",
        fetch.id, c.ranges, c.log
    ));
    scan.detail.push(format!(
        "{}: {} scans per measurement; nano_wal `replay_from_index` + `next_ref`, raft-engine `fetch_entries_to` \
         {SCAN_CHUNK} at a time into one reused vector.",
        scan.id, c.scans
    ));
    [fetch, scan]
        .into_iter()
        .filter(|r| wanted(&r.id))
        .collect()
}

fn trace_cell(trace: bool, id: &str, name: &str, cell: &Cell) {
    if trace {
        let rate = cell.as_ref().map_or(0.0, |s| s.ops as f64 / s.secs);
        crate::progress!("    {id} {name}: {rate:.0}/s");
    }
}

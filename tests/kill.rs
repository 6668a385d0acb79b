// SPDX-License-Identifier: MIT
//! Kill tests: a child process appends (single and batch, durable and not,
//! across rotations), truncates the log's tail and resets it, and reports
//! each acknowledged operation on stdout; the parent kills it with SIGKILL
//! at a seeded random moment, reopens the log and checks that it is exactly
//! the log the plan has after some number of operations, at least as many
//! as were acknowledged (the one in flight may or may not have happened,
//! a truncation or reset whole or not at all, no batch cut in half), that
//! every acknowledged record still in that log reads back with its exact
//! bytes and every one a truncation or reset dropped is not found, and
//! that appends go on at the next index. A killed process leaves the page
//! cache intact, so non-durable records must survive too.

mod common;

use common::Rng;
use nano_wal::{EntryRef, Wal, WalError, WalOptions, WriteEntry};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "NWAL_KILL_CHILD";
const T0: i64 = 1_700_000_000_000;
const KILL_POINTS: u64 = 100;

fn opts() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_millis(100),
        retention: Duration::from_secs(3600),
        max_segment_bytes: 64 * 1024,
        ..Default::default()
    }
}

/// The log the plan has made so far: its first index and the numbers of
/// its records (record `k` of the plan has content `Plan::content(seed, k)`).
#[derive(Debug, Clone, PartialEq)]
struct Log {
    first: u64,
    records: Vec<u64>,
}

impl Log {
    fn next(&self) -> u64 {
        self.first + self.records.len() as u64
    }
}

/// The deterministic sequence of operations of run `seed`, and the log
/// after the ones generated so far.
struct Plan {
    rng: Rng,
    next_record: u64,
    log: Log,
}

enum Step {
    /// One append (a batch when it has several records).
    Append {
        first_record: u64,
        contents: Vec<Vec<u8>>,
        durable: bool,
        now_ms: i64,
    },
    TruncateAfter(u64),
    Reset(u64),
    PurgeBefore(u64),
}

impl Plan {
    fn new(seed: u64) -> Plan {
        Plan {
            rng: Rng::new(seed),
            next_record: 0,
            log: Log {
                first: 1,
                records: Vec::new(),
            },
        }
    }

    fn content(seed: u64, record: u64) -> Vec<u8> {
        let mut r = Rng::new(seed ^ record.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let len = 1 + r.below(2000) as usize;
        let mut c = record.to_le_bytes().to_vec();
        c.extend(r.bytes(len));
        c
    }

    /// The next operation; `self.log` becomes the log after it. One in 25
    /// truncates (mostly a few records, sometimes all of them, sometimes
    /// none), one in 50 resets (forward, back or into the middle), one in
    /// 50 purges the head (up to every record).
    fn step(&mut self, seed: u64) -> Step {
        let len = self.log.records.len() as u64;
        let last = self.log.next() - 1;
        match self.rng.below(50) {
            0 | 1 => {
                let at = if self.rng.below(8) == 0 {
                    self.log.first - 1
                } else {
                    last - self.rng.below(len.min(60) + 1)
                };
                self.log
                    .records
                    .truncate((at + 1 - self.log.first) as usize);
                return Step::TruncateAfter(at);
            }
            2 => {
                let n = match self.rng.below(3) {
                    0 => self.log.next() + self.rng.below(1000),
                    1 => 1 + self.rng.below(self.log.first),
                    _ => self.log.first + self.rng.below(len + 1),
                };
                self.log = Log {
                    first: n,
                    records: Vec::new(),
                };
                return Step::Reset(n);
            }
            3 => {
                let at = self.log.first + self.rng.below(len + 1);
                self.log.records.drain(..(at - self.log.first) as usize);
                self.log.first = at;
                return Step::PurgeBefore(at);
            }
            _ => {}
        }
        let n = if self.rng.below(4) == 0 {
            2 + self.rng.below(30)
        } else {
            1
        };
        let first_record = self.next_record;
        self.next_record += n;
        self.log.records.extend(first_record..first_record + n);
        Step::Append {
            first_record,
            contents: (first_record..first_record + n)
                .map(|i| Self::content(seed, i))
                .collect(),
            durable: self.rng.below(8) == 0,
            // Time moves forward with occasional late records.
            now_ms: T0 + (first_record as i64 / 40) * 100
                - if self.rng.below(10) == 0 { 150 } else { 0 },
        }
    }
}

/// Runs the plan until killed: "record segment offset size index" for
/// every record appended, "T index" after a truncation, "R index" after a
/// reset, "P index" after a purge, flushed after each operation.
fn child(dir: &Path, seed: u64) {
    let wal = Wal::open(dir, "k", opts()).unwrap();
    let mut plan = Plan::new(seed);
    let out = std::io::stdout();
    loop {
        let mut lock = out.lock();
        match plan.step(seed) {
            Step::Append {
                first_record,
                contents,
                durable,
                now_ms,
            } => {
                let entries: Vec<WriteEntry<'_>> = contents
                    .iter()
                    .map(|c| WriteEntry {
                        header: None,
                        content: c,
                    })
                    .collect();
                let refs = wal.append_batch(&entries, now_ms, durable).unwrap();
                for (i, r) in refs.iter().enumerate() {
                    writeln!(
                        lock,
                        "{} {} {} {} {}",
                        first_record + i as u64,
                        r.segment_id,
                        r.offset,
                        r.size,
                        r.index
                    )
                    .unwrap();
                }
            }
            Step::TruncateAfter(at) => {
                wal.truncate_after(at).unwrap();
                writeln!(lock, "T {at}").unwrap();
            }
            Step::Reset(n) => {
                wal.reset(n).unwrap();
                writeln!(lock, "R {n}").unwrap();
            }
            Step::PurgeBefore(at) => {
                wal.purge_before(at).unwrap();
                writeln!(lock, "P {at}").unwrap();
            }
        }
        lock.flush().unwrap();
    }
}

/// What the parent read of one kill point: the operations acknowledged
/// (whole ones) and the ref of every record acknowledged.
struct Acked {
    steps: u64,
    refs: Vec<(u64, EntryRef)>,
    restarts: u64,
}

/// Read the child's lines until `kill_after` records are acknowledged,
/// checking each against the plan.
fn read_acks(
    lines: &mut impl Iterator<Item = String>,
    seed: u64,
    kill_after: u64,
    point: u64,
) -> Acked {
    let mut plan = Plan::new(seed);
    let mut acked = Acked {
        steps: 0,
        refs: Vec::new(),
        restarts: 0,
    };
    while (acked.refs.len() as u64) < kill_after {
        let before = plan.log.next();
        match plan.step(seed) {
            Step::Append {
                first_record,
                contents,
                ..
            } => {
                for k in 0..contents.len() as u64 {
                    let line = lines
                        .next()
                        .unwrap_or_else(|| panic!("kill point {point}: child ended early"));
                    let f: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
                    assert_eq!(f.len(), 5, "kill point {point}: {line:?}");
                    assert_eq!(f[0], first_record + k, "kill point {point}: plan order");
                    assert_eq!(f[4], before + k, "kill point {point}: dense indexes");
                    acked.refs.push((
                        f[0],
                        EntryRef {
                            segment_id: f[1],
                            offset: f[2],
                            size: f[3],
                            index: f[4],
                        },
                    ));
                }
            }
            Step::TruncateAfter(at) => {
                let line = lines.next().expect("child ended early");
                assert_eq!(line, format!("T {at}"), "kill point {point}");
                acked.restarts += 1;
            }
            Step::Reset(n) => {
                let line = lines.next().expect("child ended early");
                assert_eq!(line, format!("R {n}"), "kill point {point}");
                acked.restarts += 1;
            }
            Step::PurgeBefore(at) => {
                let line = lines.next().expect("child ended early");
                assert_eq!(line, format!("P {at}"), "kill point {point}");
                acked.restarts += 1;
            }
        }
        acked.steps += 1;
    }
    acked
}

#[test]
fn sigkill_at_100_points_loses_nothing_acknowledged() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let seed: u64 = std::env::var("NWAL_KILL_SEED").unwrap().parse().unwrap();
        child(Path::new(&dir), seed);
        return;
    }
    let base = common::tempdir();
    let mut rng = Rng::new(0xC0FFEE);
    let exe = std::env::current_exe().unwrap();
    let (mut total_acked, mut total_restarts) = (0, 0);
    for point in 0..KILL_POINTS {
        let dir = base.path().join(format!("kill{point}"));
        let seed = rng.next_u64();
        let mut proc = Command::new(&exe)
            .args([
                "sigkill_at_100_points_loses_nothing_acknowledged",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .env("NWAL_KILL_SEED", seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let kill_after = 1 + rng.below(400);
        let mut lines = BufReader::new(proc.stdout.take().unwrap())
            .lines()
            .map(|l| l.unwrap())
            // The test harness's own output before the child's (its first
            // line follows "test NAME ... ").
            .map(|l| match l.split_once(" ... ") {
                Some((_, child)) => child.to_string(),
                None => l,
            })
            .filter(|l| {
                l.starts_with(|c: char| c.is_ascii_digit() || matches!(c, 'T' | 'R' | 'P'))
            });
        let acked = read_acks(&mut lines, seed, kill_after, point);
        proc.kill().unwrap(); // SIGKILL
        proc.wait().unwrap();
        total_acked += acked.refs.len();
        total_restarts += acked.restarts;

        let wal = Wal::open(&dir, "k", opts())
            .unwrap_or_else(|e| panic!("kill point {point}: open: {e}"));
        let mut records = Vec::new();
        for item in wal.replay(None).unwrap() {
            let (r, rec) = item.unwrap_or_else(|e| panic!("kill point {point}: replay: {e}"));
            let k = u64::from_le_bytes(rec.content[..8].try_into().unwrap());
            assert_eq!(
                &rec.content[..],
                &Plan::content(seed, k)[..],
                "kill point {point}: replay record at {r:?}"
            );
            records.push(k);
        }
        let state = wal.log_state();
        let found = Log {
            first: state.first_index,
            records,
        };
        assert_eq!(state.last_index + 1, found.next(), "kill point {point}");
        // The log after some number of operations, at least the acknowledged
        // ones (the child runs ahead of what the parent has read).
        let mut plan = Plan::new(seed);
        for _ in 0..acked.steps {
            plan.step(seed);
        }
        let mut extra = 0;
        while plan.log != found {
            extra += 1;
            assert!(
                extra < 20_000,
                "kill point {point}: the log ({} from {}) is no state of the plan after {} operations or more",
                found.records.len(),
                found.first,
                acked.steps
            );
            plan.step(seed);
        }
        // Acknowledged records: there with their bytes while the log holds
        // them, not found once dropped.
        for (k, r) in &acked.refs {
            let live = r.index >= found.first
                && found.records.get((r.index - found.first) as usize) == Some(k);
            match wal.read(*r) {
                Ok(rec) if live => assert_eq!(
                    &rec.content[..],
                    &Plan::content(seed, *k)[..],
                    "kill point {point}: record {k} at {r:?}"
                ),
                Err(WalError::IndexNotFound { .. } | WalError::SegmentNotFound(_)) if !live => {}
                other => panic!(
                    "kill point {point}: record {k} at {r:?} (live: {live}): {:?}",
                    other.map(|_| ())
                ),
            }
        }
        let r = wal
            .append(None, b"after the kill", T0 + 10_000_000, true)
            .unwrap();
        assert_eq!(r.index, found.next(), "kill point {point}: the next index");
        assert_eq!(&wal.read(r).unwrap().content[..], b"after the kill");
        drop(wal);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    println!("{total_acked} acknowledged records, {total_restarts} truncations and resets");
    assert!(
        total_acked > 1000,
        "{total_acked} acknowledged records checked"
    );
    assert!(
        total_restarts > 50,
        "{total_restarts} acknowledged truncations and resets"
    );
}

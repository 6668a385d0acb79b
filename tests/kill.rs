// SPDX-License-Identifier: MIT
//! Kill tests: a child process appends (single and batch, durable and not,
//! across rotations) and reports each acknowledged ref on stdout; the parent
//! kills it with SIGKILL at a seeded random moment, reopens the log and
//! checks that every acknowledged record is there with its exact bytes, in
//! order, nothing duplicated, no batch cut in half, and that appends work.
//! A killed process leaves the page cache intact, so non-durable records
//! must survive too.

mod common;

use common::Rng;
use nano_wal::{EntryRef, Wal, WalOptions, WriteEntry};
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

/// The deterministic sequence of appends of run `seed`: each item is one
/// append (a batch when it has several records).
struct Plan {
    rng: Rng,
    next_record: u64,
}

struct Step {
    first_record: u64,
    contents: Vec<Vec<u8>>,
    durable: bool,
    now_ms: i64,
}

impl Plan {
    fn new(seed: u64) -> Plan {
        Plan {
            rng: Rng::new(seed),
            next_record: 0,
        }
    }

    fn content(seed: u64, record: u64) -> Vec<u8> {
        let mut r = Rng::new(seed ^ record.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let len = 1 + r.below(2000) as usize;
        let mut c = record.to_le_bytes().to_vec();
        c.extend(r.bytes(len));
        c
    }

    fn step(&mut self, seed: u64) -> Step {
        let n = if self.rng.below(4) == 0 {
            2 + self.rng.below(30)
        } else {
            1
        };
        let first_record = self.next_record;
        self.next_record += n;
        Step {
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

fn child(dir: &Path, seed: u64) {
    let wal = Wal::open(dir, "k", opts()).unwrap();
    let mut plan = Plan::new(seed);
    let out = std::io::stdout();
    loop {
        let step = plan.step(seed);
        let entries: Vec<WriteEntry<'_>> = step
            .contents
            .iter()
            .map(|c| WriteEntry {
                header: None,
                content: c,
            })
            .collect();
        let refs = wal
            .append_batch(&entries, step.now_ms, step.durable)
            .unwrap();
        let mut lock = out.lock();
        for (i, r) in refs.iter().enumerate() {
            writeln!(
                lock,
                "{} {} {} {} {}",
                step.first_record + i as u64,
                r.segment_id,
                r.offset,
                r.size,
                r.index
            )
            .unwrap();
        }
        lock.flush().unwrap();
    }
}

#[test]
fn sigkill_at_100_points_loses_nothing_acknowledged() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let seed: u64 = std::env::var("NWAL_KILL_SEED").unwrap().parse().unwrap();
        child(Path::new(&dir), seed);
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0xC0FFEE);
    let exe = std::env::current_exe().unwrap();
    let mut total_acked = 0;
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
        let mut acked: Vec<(u64, EntryRef)> = Vec::new();
        let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
        while (acked.len() as u64) < kill_after {
            let line = match lines.next() {
                Some(l) => l.unwrap(),
                None => panic!("kill point {point}: child ended early"),
            };
            let f: Vec<u64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
            if f.len() == 5 {
                acked.push((
                    f[0],
                    EntryRef {
                        segment_id: f[1],
                        offset: f[2],
                        size: f[3],
                        index: f[4],
                    },
                ));
                // Records are numbered from 0, indexes from 1.
                assert_eq!(f[4], f[0] + 1, "kill point {point}: dense indexes");
            }
        }
        proc.kill().unwrap(); // SIGKILL
        proc.wait().unwrap();
        total_acked += acked.len();

        let wal = Wal::open(&dir, "k", opts())
            .unwrap_or_else(|e| panic!("kill point {point}: open: {e}"));
        let refs: Vec<EntryRef> = acked.iter().map(|a| a.1).collect();
        for ((i, r), rec) in acked.iter().zip(wal.read_batch(&refs).unwrap()) {
            assert_eq!(
                &rec.content[..],
                &Plan::content(seed, *i)[..],
                "kill point {point}: record {i} at {r:?}"
            );
        }
        // Replay: the child's records in order, nothing missing or doubled,
        // at least everything acknowledged, ending at a batch boundary.
        let mut plan = Plan::new(seed);
        let mut boundaries = std::collections::BTreeSet::from([0u64]);
        let mut n = 0u64;
        let mut previous: Option<EntryRef> = None;
        for item in wal.replay(None).unwrap() {
            let (r, rec) = item.unwrap_or_else(|e| panic!("kill point {point}: replay: {e}"));
            assert_eq!(
                &rec.content[..],
                &Plan::content(seed, n)[..],
                "kill point {point}: replay record {n}"
            );
            assert!(previous.is_none_or(|p| p < r), "log order");
            previous = Some(r);
            n += 1;
            while *boundaries.last().unwrap() < n {
                let s = plan.step(seed);
                boundaries.insert(s.first_record + s.contents.len() as u64);
            }
        }
        assert!(
            n >= acked.len() as u64,
            "kill point {point}: {n} replayed < {} acknowledged",
            acked.len()
        );
        assert!(
            boundaries.contains(&n),
            "kill point {point}: replay ends inside a batch ({n})"
        );
        let r = wal
            .append(None, b"after the kill", T0 + 10_000_000, true)
            .unwrap();
        assert_eq!(&wal.read(r).unwrap().content[..], b"after the kill");
        drop(wal);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(
        total_acked > 1000,
        "{total_acked} acknowledged records checked"
    );
}

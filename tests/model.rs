// SPDX-License-Identifier: MIT
//! Property test: random sequences of appends, batches, reads, replays,
//! cleanups, time jumps and reopens, checked after every step against a
//! simple in-memory model of the log.

use nano_wal::{EntryRef, Wal, WalError, WalOptions, WriteEntry};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

const DUR: i64 = 1_000;
const RET: i64 = 3_000;
const T0: i64 = 1_700_000_000_000;

fn opts() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_millis(DUR as u64),
        retention: Duration::from_millis(RET as u64),
        max_segment_bytes: 64 * 1024,
        ..Default::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        header: Option<Vec<u8>>,
        content: Vec<u8>,
        durable: bool,
    },
    Batch {
        entries: Vec<(Option<Vec<u8>>, Vec<u8>)>,
    },
    /// Move the clock (may go back: late records).
    Clock(i64),
    Cleanup,
    Reopen,
    ReplayFrom(usize),
    /// Read the record at this position of the live ones (past them: the
    /// index after the last).
    ReadIndex(usize),
    /// A range from this position: at most this many records, this budget.
    ReadRange(usize, usize, u64),
    /// Replay from the index of this position (past the live ones: the
    /// index after the last).
    ReplayFromIndex(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let bytes = |max| proptest::collection::vec(any::<u8>(), 0..max);
    let header = proptest::option::of(bytes(16));
    prop_oneof![
        6 => (header.clone(), bytes(3000))
            .prop_map(|(header, content)| Op::Append { header, content, durable: false }),
        1 => (header.clone(), bytes(100)).prop_map(|(header, content)| Op::Append { header, content, durable: true }),
        2 => proptest::collection::vec((header, bytes(2000)), 0..40).prop_map(|entries| Op::Batch { entries }),
        2 => (-1500i64..2500).prop_map(Op::Clock),
        1 => Just(Op::Cleanup),
        1 => Just(Op::Reopen),
        1 => any::<usize>().prop_map(Op::ReplayFrom),
        1 => any::<usize>().prop_map(Op::ReadIndex),
        1 => (any::<usize>(), 1usize..50, 0u64..20_000).prop_map(|(i, n, b)| Op::ReadRange(i, n, b)),
        1 => any::<usize>().prop_map(Op::ReplayFromIndex),
    ]
}

/// What the model knows of a segment.
#[derive(Debug)]
struct ModelSegment {
    window: i64,
}

#[derive(Default)]
struct Model {
    records: Vec<(EntryRef, Option<Vec<u8>>, Vec<u8>)>,
    segments: BTreeMap<u64, ModelSegment>,
    active: Option<u64>,
    deleted: Vec<EntryRef>,
    /// The index the next record gets.
    next_index: u64,
    /// Every index up to this one is known durable.
    durable: u64,
}

impl Model {
    fn window(t: i64) -> i64 {
        t.div_euclid(DUR) * DUR
    }

    /// Account for refs returned by an append made at `now`.
    fn appended(&mut self, refs: &[EntryRef], payloads: Vec<(Option<Vec<u8>>, Vec<u8>)>, now: i64) {
        let Some(first) = refs.first() else { return };
        for r in refs {
            assert_eq!(
                r.segment_id, first.segment_id,
                "a batch stays in one segment"
            );
        }
        let active_window = self.active.map(|id| self.segments[&id].window);
        if Some(first.segment_id) != self.active {
            // A new segment: ids increase, windows never go back.
            assert!(self.active.is_none_or(|a| first.segment_id > a));
            let window = active_window.map_or(Self::window(now), |w| w.max(Self::window(now)));
            self.segments
                .insert(first.segment_id, ModelSegment { window });
            self.active = Some(first.segment_id);
        } else {
            // Same segment: only when the record's window is not later.
            assert!(
                Self::window(now) <= active_window.unwrap(),
                "a later window must roll the log"
            );
        }
        if let Some(last) = self.records.last() {
            assert!(last.0 < *first, "refs increase in log order");
        }
        for (r, (h, c)) in refs.iter().zip(payloads) {
            assert_eq!(r.index, self.next_index, "indexes are dense");
            self.next_index += 1;
            self.records.push((*r, h, c));
        }
    }

    /// The index of the record at position `i` of the live ones, or the
    /// one after the last when `i` is past them.
    fn index_at(&self, i: usize) -> u64 {
        let n = self.records.len() + 1;
        self.records
            .get(i % n)
            .map_or(self.next_index, |r| r.0.index)
    }

    fn cleanup(&mut self, now: i64) -> Vec<u64> {
        let expired: Vec<u64> = self
            .segments
            .iter()
            .filter(|(id, s)| Some(**id) != self.active && s.window + DUR + RET <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.segments.remove(id);
        }
        let (gone, kept) = self
            .records
            .drain(..)
            .partition(|r| expired.contains(&r.0.segment_id));
        self.records = kept;
        self.deleted
            .extend(gone.into_iter().map(|r: (EntryRef, _, _)| r.0));
        expired
    }
}

fn check(wal: &Wal, model: &Model) {
    let refs: Vec<EntryRef> = model.records.iter().map(|r| r.0).collect();
    let back = wal.read_batch(&refs).unwrap();
    for (rec, (r, h, c)) in back.iter().zip(&model.records) {
        assert_eq!(rec.header.as_deref(), h.as_deref(), "{r:?}");
        assert_eq!(&rec.content[..], &c[..], "{r:?}");
    }
    let replayed: Vec<EntryRef> = wal.replay(None).unwrap().map(|x| x.unwrap().0).collect();
    assert_eq!(replayed, refs);
    for r in model.deleted.iter().take(3) {
        assert!(matches!(wal.read(*r), Err(WalError::SegmentNotFound(id)) if id == r.segment_id));
    }
    let state = wal.log_state();
    let first = model
        .records
        .first()
        .map_or(model.next_index, |r| r.0.index);
    assert_eq!(state.first_index, first);
    assert_eq!(state.last_index, model.next_index - 1);
    assert!(
        (model.durable..=state.last_index).contains(&state.durable_index),
        "{state:?}, durable at least {}",
        model.durable
    );
    let live: Vec<u64> = wal.segments().iter().map(|s| s.id()).collect();
    assert_eq!(live, model.segments.keys().copied().collect::<Vec<_>>());
    for s in wal.segments() {
        assert_eq!(s.window_start_ms(), model.segments[&s.id()].window);
        assert_eq!(
            s.expiration_ms(),
            model.segments[&s.id()].window + DUR + RET
        );
    }
}

proptest! {
    // A fixed seed keeps the run deterministic; NWAL_PROPTEST_CASES runs more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("NWAL_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x4E57_414C),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_log_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let tmp = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(tmp.path(), "m", opts()).unwrap();
        let mut model = Model {
            next_index: 1,
            ..Model::default()
        };
        let mut now = T0;
        for op in ops {
            match op {
                Op::Append { header, content, durable } => {
                    let r = wal.append(header.as_deref(), &content, now, durable).unwrap();
                    model.appended(&[r], vec![(header, content)], now);
                    if durable {
                        model.durable = r.index;
                    }
                }
                Op::Batch { entries } => {
                    let we: Vec<WriteEntry<'_>> = entries
                        .iter()
                        .map(|(h, c)| WriteEntry { header: h.as_deref(), content: c })
                        .collect();
                    let refs = wal.append_batch(&we, now, false).unwrap();
                    prop_assert_eq!(refs.len(), entries.len());
                    model.appended(&refs, entries, now);
                }
                Op::Clock(delta) => now += delta,
                Op::Cleanup => {
                    let result = wal.cleanup(now).unwrap();
                    let expected = model.cleanup(now);
                    let got: Vec<u64> = result.deleted.iter().map(|d| d.segment_id).collect();
                    prop_assert_eq!(got, expected);
                    prop_assert_eq!(result.live_count, model.segments.len() as u64);
                    prop_assert_eq!(result.bytes_reclaimed, result.deleted.iter().map(|d| d.file_size).sum::<u64>());
                }
                Op::Reopen => {
                    drop(wal);
                    wal = Wal::open(tmp.path(), "m", opts()).unwrap();
                    model.durable = model.next_index - 1;
                }
                Op::ReplayFrom(i) => {
                    if !model.records.is_empty() {
                        let i = i % model.records.len();
                        let from = model.records[i].0;
                        let got: Vec<EntryRef> = wal.replay(Some(from)).unwrap().map(|x| x.unwrap().0).collect();
                        let want: Vec<EntryRef> = model.records[i..].iter().map(|r| r.0).collect();
                        prop_assert_eq!(got, want);
                    }
                }
                Op::ReadIndex(i) => {
                    let index = model.index_at(i);
                    match model.records.iter().find(|r| r.0.index == index) {
                        Some((_, h, c)) => {
                            let rec = wal.read_index(index).unwrap();
                            prop_assert_eq!(rec.header.as_deref(), h.as_deref());
                            prop_assert_eq!(&rec.content[..], &c[..]);
                        }
                        None => {
                            let refused =
                                matches!(wal.read_index(index), Err(WalError::IndexNotFound { .. }));
                            prop_assert!(refused, "index {} past the end", index);
                        }
                    }
                }
                Op::ReadRange(i, max_count, max_bytes) => {
                    let index = model.index_at(i);
                    let Some(start) = model.records.iter().position(|r| r.0.index == index) else {
                        let refused = matches!(
                            wal.read_range(index, max_count, max_bytes),
                            Err(WalError::IndexNotFound { .. })
                        );
                        prop_assert!(refused, "a range from {} past the end", index);
                        continue;
                    };
                    let mut bytes = 0u64;
                    let want: Vec<EntryRef> = model.records[start..]
                        .iter()
                        .take(max_count)
                        .enumerate()
                        .take_while(|(k, r)| {
                            bytes += r.0.size - 24;
                            *k == 0 || bytes <= max_bytes
                        })
                        .map(|(_, r)| r.0)
                        .collect();
                    let got = wal.read_range(index, max_count, max_bytes).unwrap();
                    prop_assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), want);
                    for ((_, rec), (_, h, c)) in got.iter().zip(&model.records[start..]) {
                        prop_assert_eq!(rec.header.as_deref(), h.as_deref());
                        prop_assert_eq!(&rec.content[..], &c[..]);
                    }
                }
                Op::ReplayFromIndex(i) => {
                    let index = model.index_at(i);
                    let got: Vec<u64> = wal
                        .replay_from_index(index)
                        .unwrap()
                        .map(|x| x.unwrap().0.index)
                        .collect();
                    let want: Vec<u64> = model
                        .records
                        .iter()
                        .map(|r| r.0.index)
                        .filter(|&x| x >= index)
                        .collect();
                    prop_assert_eq!(got, want);
                }
            }
            check(&wal, &model);
        }
    }
}

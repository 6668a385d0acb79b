// SPDX-License-Identifier: MIT
//! Property test: random sequences of appends, batches, reads, replays,
//! cleanups, time jumps, truncations, purges, resets, metadata puts and
//! reopens, checked after every step against a simple in-memory model of
//! the log (indexes to bytes, the segments that hold them, the metadata).
//! Every ref ever handed out is kept: one whose record a truncation, purge,
//! reset or cleanup dropped must be refused as not found, never read as
//! other bytes.

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
    /// `truncate_after` of an index chosen by the kind (see `truncate_target`).
    Truncate(u8, usize),
    /// `reset` to an index chosen by the kind (see `reset_target`).
    Reset(u8, usize),
    /// `purge_before` an index chosen by the kind (see `purge_target`),
    /// or `purge_before_deferred` with `true`.
    Purge(u8, usize, bool),
    /// `meta_put` of one of a few keys (a value of up to 4096 bytes).
    MetaPut(u8, Vec<u8>),
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
        2 => (0u8..5, any::<usize>()).prop_map(|(k, i)| Op::Truncate(k, i)),
        1 => (0u8..4, any::<usize>()).prop_map(|(k, i)| Op::Reset(k, i)),
        2 => (0u8..4, any::<usize>(), any::<bool>()).prop_map(|(k, i, d)| Op::Purge(k, i, d)),
        1 => (0u8..4, bytes(4097)).prop_map(|(k, v)| Op::MetaPut(k, v)),
    ]
}

/// What the model knows of a segment.
#[derive(Debug)]
struct ModelSegment {
    window: i64,
    /// The index of its first record (the one it was created for).
    first: u64,
}

#[derive(Default)]
struct Model {
    records: Vec<(EntryRef, Option<Vec<u8>>, Vec<u8>)>,
    segments: BTreeMap<u64, ModelSegment>,
    active: Option<u64>,
    /// Refs of the records cleanup deleted (their segments are gone).
    deleted: Vec<EntryRef>,
    /// Refs of the records a truncation, purge or reset dropped.
    dropped: Vec<EntryRef>,
    /// The index the next record gets.
    next_index: u64,
    /// Every index up to this one is known durable.
    durable: u64,
    /// The metadata: what every acknowledged put left.
    meta: BTreeMap<String, Vec<u8>>,
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
            self.segments.insert(
                first.segment_id,
                ModelSegment {
                    window,
                    first: first.index,
                },
            );
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

    /// The first index of the log: its first record's, or the next one's
    /// when it is empty.
    fn first(&self) -> u64 {
        self.records.first().map_or(self.next_index, |r| r.0.index)
    }

    /// The index `truncate_after` is given for kind `kind` (0: the one
    /// before the first, emptying the log; 1: any from there to the last;
    /// 2: one in an earlier, sealed segment; 3: the last or beyond, a no-op;
    /// 4: below the first minus one, refused when there is such an index).
    fn truncate_target(&self, kind: u8, pos: usize) -> u64 {
        let first = self.first();
        match kind {
            0 => first - 1,
            2 => {
                let sealed: Vec<&(EntryRef, _, _)> = self
                    .records
                    .iter()
                    .filter(|r| Some(r.0.segment_id) != self.active)
                    .collect();
                match sealed.get(pos % sealed.len().max(1)) {
                    Some(r) => r.0.index,
                    None => self.index_at(pos) - 1,
                }
            }
            3 if pos.is_multiple_of(4) => u64::MAX,
            3 => self.next_index - 1 + (pos % 3) as u64,
            4 if first >= 2 => (pos as u64) % (first - 1),
            _ => self.index_at(pos) - 1,
        }
    }

    /// The index `reset` is given for kind `kind` (0: forward, at or past
    /// the next index, sometimes the highest allowed; 1: back, from 1 to
    /// the first; 2: into the middle of the live records; 3: out of range).
    fn reset_target(&self, kind: u8, pos: usize) -> u64 {
        match kind {
            0 if pos.is_multiple_of(8) => 1 << 63,
            0 => self.next_index.min(1 << 62) + (pos % 500) as u64,
            1 => 1 + (pos as u64) % self.first(),
            2 => self.index_at(pos),
            _ if pos.is_multiple_of(2) => 0,
            _ => (1 << 63) + 1 + (pos as u64 >> 2),
        }
    }

    /// The index `purge_before` is given for kind `kind` (0 and 1: one of
    /// the live records' or the next index, dropping the head or every
    /// record; 2: at or below the first, a no-op; 3: past the next index,
    /// refused).
    fn purge_target(&self, kind: u8, pos: usize) -> u64 {
        match kind {
            0 | 1 => self.index_at(pos),
            2 => self.first() - (pos as u64) % self.first(),
            _ => self.next_index + 1 + (pos % 3) as u64,
        }
    }

    /// `purge_before(index)`: the records below `index` are dropped, and
    /// the segments wholly below it but the active one; the records below
    /// it were synced first.
    fn purge(&mut self, index: u64) {
        let (gone, kept) = self.records.drain(..).partition(|r| r.0.index < index);
        self.records = kept;
        self.dropped
            .extend(gone.into_iter().map(|r: (EntryRef, _, _)| r.0));
        let firsts: Vec<(u64, u64)> = self.segments.iter().map(|(&id, s)| (id, s.first)).collect();
        for pair in firsts.windows(2) {
            let ((id, _), (_, next_first)) = (pair[0], pair[1]);
            if next_first <= index {
                self.segments.remove(&id);
            }
        }
        self.durable = self.durable.max(index - 1);
    }

    /// A truncation (`resets`: a reset) that goes on at index `next` in the
    /// new segment `id`: the records from `next` on (with `resets`, every
    /// one) and the segments left without records are dropped.
    fn restart(&mut self, next: u64, resets: bool, id: u64) {
        let (gone, kept) = self
            .records
            .drain(..)
            .partition(|r| resets || r.0.index >= next);
        self.records = kept;
        self.dropped
            .extend(gone.into_iter().map(|r: (EntryRef, _, _)| r.0));
        let window = self.active.map_or(0, |a| self.segments[&a].window);
        self.segments.retain(|_, s| !resets && s.first < next);
        assert!(
            self.segments.keys().all(|&k| k < id),
            "a truncation's segment {id} is newer than every other"
        );
        self.segments.insert(
            id,
            ModelSegment {
                window,
                first: next,
            },
        );
        self.active = Some(id);
        self.next_index = next;
        self.durable = next - 1;
    }

    /// A truncation inside the active segment (a truncation record): the
    /// records from `next` on are dropped, every segment stays, and the
    /// records kept are durable (the record's sync).
    fn truncate_within(&mut self, next: u64) {
        let (gone, kept) = self.records.drain(..).partition(|r| r.0.index >= next);
        self.records = kept;
        self.dropped
            .extend(gone.into_iter().map(|r: (EntryRef, _, _)| r.0));
        self.next_index = next;
        self.durable = next - 1;
    }

    /// What a reopen changes: every record is durable, and a sealed segment
    /// left without records (a truncation's, rolled before any append) is
    /// dropped.
    fn reopened(&mut self) {
        self.durable = self.next_index - 1;
        let holding: std::collections::BTreeSet<u64> =
            self.records.iter().map(|r| r.0.segment_id).collect();
        let active = self.active;
        self.segments
            .retain(|id, _| Some(*id) == active || holding.contains(id));
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
    assert_eq!(
        wal.meta_entries(),
        model
            .meta
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
        "the metadata"
    );
    let refs: Vec<EntryRef> = model.records.iter().map(|r| r.0).collect();
    let back = wal.read_batch(&refs).unwrap();
    for (rec, (r, h, c)) in back.iter().zip(&model.records) {
        assert_eq!(rec.header.as_deref(), h.as_deref(), "{r:?}");
        assert_eq!(&rec.content[..], &c[..], "{r:?}");
    }
    let replayed: Vec<EntryRef> = wal.replay(None).unwrap().map(|x| x.unwrap().0).collect();
    assert_eq!(replayed, refs);
    for r in &model.deleted {
        assert!(matches!(wal.read(*r), Err(WalError::SegmentNotFound(id)) if id == r.segment_id));
    }
    for r in &model.dropped {
        match wal.read(*r) {
            Err(WalError::IndexNotFound { .. }) => {}
            Err(WalError::SegmentNotFound(id)) if id == r.segment_id => {}
            other => panic!("dropped ref {r:?}: expected not found, got {other:?}"),
        }
    }
    // Reads by index: the whole log in one range, and not found around it.
    let first = model.first();
    if !model.records.is_empty() {
        let by_index = wal.read_range(first, usize::MAX, u64::MAX).unwrap();
        assert_eq!(by_index.len(), model.records.len());
        for ((r, rec), (want, h, c)) in by_index.iter().zip(&model.records) {
            assert_eq!(r, want);
            assert_eq!(rec.header.as_deref(), h.as_deref(), "{r:?}");
            assert_eq!(&rec.content[..], &c[..], "{r:?}");
        }
    }
    for outside in [first.wrapping_sub(1), model.next_index] {
        assert!(
            matches!(wal.read_index(outside), Err(WalError::IndexNotFound { .. })),
            "index {outside} is outside the log"
        );
    }
    let state = wal.log_state();
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
        assert_eq!(s.first_index(), model.segments[&s.id()].first);
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
                    model.reopened();
                }
                Op::Truncate(kind, pos) => {
                    let index = model.truncate_target(kind, pos);
                    let result = wal.truncate_after(index);
                    if index < model.first() - 1 {
                        let refused = matches!(result, Err(WalError::InvalidArgument(_)));
                        prop_assert!(refused, "truncate_after({}) below the first: {:?}", index, result);
                    } else {
                        result.unwrap();
                        if index < model.next_index - 1 {
                            let id = wal.segments().last().unwrap().id();
                            match model.active {
                                // A truncation record in the active segment.
                                Some(active) if active == id => model.truncate_within(index + 1),
                                _ => model.restart(index + 1, false, id),
                            }
                        }
                    }
                }
                Op::Reset(kind, pos) => {
                    let next = model.reset_target(kind, pos);
                    let result = wal.reset(next);
                    if next == 0 || next > 1 << 63 {
                        let refused = matches!(result, Err(WalError::InvalidArgument(_)));
                        prop_assert!(refused, "reset({}) out of range: {:?}", next, result);
                    } else {
                        result.unwrap();
                        let id = wal.segments().last().unwrap().id();
                        model.restart(next, true, id);
                    }
                }
                Op::Purge(kind, pos, deferred) => {
                    let index = model.purge_target(kind, pos);
                    let result = match deferred {
                        true => wal.purge_before_deferred(index),
                        false => wal.purge_before(index),
                    };
                    if index > model.next_index {
                        let refused = matches!(result, Err(WalError::InvalidArgument(_)));
                        prop_assert!(refused, "purge_before({}) past the end: {:?}", index, result);
                    } else {
                        result.unwrap();
                        if index > model.first() {
                            model.purge(index);
                        }
                    }
                }
                Op::MetaPut(k, value) => {
                    let key = format!("key.{k}");
                    wal.meta_put(&key, &value).unwrap();
                    model.meta.insert(key, value);
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

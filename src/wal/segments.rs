// SPDX-License-Identifier: MIT
//! The registry of a stream's live segments: a map by id that readers load
//! without locking, and that only the holder of its writer lock replaces.

use crate::segment::{Segment, SegmentMap};
use arc_swap::{ArcSwap, Guard};
use std::sync::{Arc, Mutex, MutexGuard};

/// Every live segment of a stream by id, and the id of the next one.
///
/// The map is replaced whole (copy on write), so a reader's snapshot never
/// changes under it. Replacing it takes the registry's writer lock
/// ([`Segments::writer`]): rotation takes it under the appender lock,
/// cleanup alone.
#[derive(Debug)]
pub(crate) struct Segments {
    map: ArcSwap<SegmentMap>,
    /// The same segments in a vector, for lookups by index (ids and first
    /// indexes both increase): replaced with the map, under the writer lock.
    ordered: ArcSwap<Vec<Arc<Segment>>>,
    /// The id the next segment created gets; its mutex is the writer lock.
    next_id: Mutex<u64>,
}

/// The writer lock of a [`Segments`]: the only way to change the map.
pub(crate) struct SegmentsWriter<'a> {
    map: &'a ArcSwap<SegmentMap>,
    ordered: &'a ArcSwap<Vec<Arc<Segment>>>,
    next_id: MutexGuard<'a, u64>,
}

impl Segments {
    /// The segments recovery found, and the id the next one gets.
    pub fn new(map: SegmentMap, next_id: u64) -> Segments {
        Segments {
            ordered: ArcSwap::from_pointee(map.values().cloned().collect()),
            map: ArcSwap::from_pointee(map),
            next_id: Mutex::new(next_id),
        }
    }

    /// The live segment with id `id`.
    #[inline]
    pub fn get(&self, id: u64) -> Option<Arc<Segment>> {
        self.map.load().get(&id).cloned()
    }

    /// The live segments now, lock-free and without touching a reference
    /// count: for the length of one read.
    #[inline]
    pub fn snapshot(&self) -> Guard<Arc<SegmentMap>> {
        self.map.load()
    }

    /// The live segments now in log order, for a lookup by index.
    #[inline]
    pub fn ordered(&self) -> Guard<Arc<Vec<Arc<Segment>>>> {
        self.ordered.load()
    }

    /// The live segments now, as a map to keep (a replay walks it across
    /// calls).
    pub fn snapshot_arc(&self) -> Arc<SegmentMap> {
        self.map.load_full()
    }

    /// Take the writer lock. A panic under it leaves the map whole (it is
    /// replaced in one store) and `next_id` is raised only with it, so its
    /// poison flag carries no information.
    pub fn writer(&self) -> SegmentsWriter<'_> {
        SegmentsWriter {
            map: &self.map,
            ordered: &self.ordered,
            next_id: self.next_id.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

impl SegmentsWriter<'_> {
    /// The id the next segment created gets.
    pub fn next_id(&self) -> u64 {
        *self.next_id
    }

    /// Add `seg`, created with [`SegmentsWriter::next_id`], to the map; the
    /// next segment gets the id after it.
    pub fn publish(&mut self, seg: Arc<Segment>) {
        debug_assert_eq!(seg.id(), *self.next_id);
        *self.next_id += 1;
        let mut map = SegmentMap::clone(&self.map.load());
        map.insert(seg.id(), seg);
        self.store(map);
    }

    /// Drop the segments `dead` and add `seg` (created with
    /// [`SegmentsWriter::next_id`]) in one replacement of the map: a
    /// truncation or reset, which readers see whole or not at all.
    pub fn supersede(&mut self, dead: &[Arc<Segment>], seg: Arc<Segment>) {
        debug_assert_eq!(seg.id(), *self.next_id);
        *self.next_id += 1;
        let mut map = SegmentMap::clone(&self.map.load());
        for d in dead {
            map.remove(&d.id());
        }
        map.insert(seg.id(), seg);
        self.store(map);
    }

    /// The live segments now, in log order (for the writer to plan a change).
    pub fn current(&self) -> Arc<Vec<Arc<Segment>>> {
        self.ordered.load_full()
    }

    /// Keep the segments for which `keep(id, segment)` is true (asked once
    /// for each, in id order); the map is replaced only when some segment
    /// is dropped. Returns how many are left.
    pub fn retain(&mut self, mut keep: impl FnMut(u64, &Arc<Segment>) -> bool) -> usize {
        let current = self.map.load_full();
        let mut kept = SegmentMap::new();
        for (&id, seg) in current.iter() {
            if keep(id, seg) {
                kept.insert(id, seg.clone());
            }
        }
        let left = kept.len();
        if left < current.len() {
            self.store(kept);
        }
        left
    }

    /// Replace the map and its ordered copy (the vector first: a lookup by
    /// index that finds a segment the map no longer has reads nothing).
    fn store(&mut self, map: SegmentMap) {
        self.ordered
            .store(Arc::new(map.values().cloned().collect()));
        self.map.store(Arc::new(map));
    }
}

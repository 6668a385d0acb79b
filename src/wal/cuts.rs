// SPDX-License-Identifier: MIT
//! The notices a truncation or reset leaves for the followers whose records
//! it dropped: each follower registers a cell, and a truncation lowers every
//! cell to the highest index it kept, so the follower finds out, at its next
//! step, that records it yielded or read ahead are gone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The cells of a stream's followers (dropped followers' cells are pruned
/// at the next registration or cut).
#[derive(Debug, Default)]
pub(crate) struct Cuts {
    cells: Mutex<Vec<Weak<AtomicU64>>>,
}

/// `u64::MAX` in a cell: no cut since the follower last looked.
pub(crate) const NO_CUT: u64 = u64::MAX;

impl Cuts {
    /// A new follower's cell, holding [`NO_CUT`].
    pub fn register(&self) -> Arc<AtomicU64> {
        let cell = Arc::new(AtomicU64::new(NO_CUT));
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells.retain(|c| c.strong_count() > 0);
        cells.push(Arc::downgrade(&cell));
        cell
    }

    /// Every record above `kept` was dropped (appender lock held, before
    /// the next append can reuse those indexes).
    pub fn cut(&self, kept: u64) {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells.retain(|c| match c.upgrade() {
            Some(cell) => {
                cell.fetch_min(kept, Ordering::AcqRel);
                true
            }
            None => false,
        });
    }
}

// SPDX-License-Identifier: MIT
//! The locks, atomics and clock of the group commit and of poisoning: std's
//! in every build of the library, loom's in its loom models (`--cfg loom`,
//! unit tests only), so the models run the engine's own protocol code
//! rather than a copy of it.
//!
//! Only what the models drive goes through here. loom comes in as a
//! dev-dependency, so the switch is `all(loom, test)`: a `--cfg loom` build
//! of the library alone still uses std.

#[cfg(all(loom, test))]
pub(crate) use loom::{
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    sync::{Condvar, Mutex},
    thread::yield_now,
};
#[cfg(not(all(loom, test)))]
pub(crate) use std::{
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    sync::{Condvar, Mutex},
    thread::yield_now,
};

/// What the group commit times its syncs and its gathering with.
#[cfg(not(all(loom, test)))]
pub(crate) use std::time::Instant as Stopwatch;

#[cfg(all(loom, test))]
pub(crate) use logical::Stopwatch;

#[cfg(all(loom, test))]
mod logical {
    use std::cell::Cell;
    use std::time::Duration;

    /// A logical stopwatch: each reading is one [`TICK`] later than the one
    /// before. loom replays a schedule by running the model again, which
    /// needs every run to take the same steps: a loop bounded by real time
    /// would not. With it, a sync lasts one tick and a leader's gathering
    /// yields a known number of times.
    #[derive(Debug)]
    pub(crate) struct Stopwatch {
        readings: Cell<u32>,
    }

    pub(crate) const TICK: Duration = Duration::from_micros(1);

    impl Stopwatch {
        pub fn now() -> Self {
            Stopwatch {
                readings: Cell::new(0),
            }
        }

        pub fn elapsed(&self) -> Duration {
            self.readings.set(self.readings.get() + 1);
            TICK * self.readings.get()
        }
    }
}

#[cfg(all(loom, test))]
pub(crate) use logical::TICK;

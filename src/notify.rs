// SPDX-License-Identifier: MIT
//! A wake-up for threads waiting until something moves (the appended or the
//! durable index), that costs the thread moving it one fence and one load
//! while nobody waits.

use crate::sys::Event;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

/// Waiters register, check their condition and sleep; the moving side
/// publishes its change, then wakes them only if one is registered.
///
/// No wake-up is lost: a waiter counts itself (SeqCst) before it checks its
/// condition under `lock`, and the mover publishes its change before a
/// SeqCst fence and the load of the count. In the single total order of
/// SeqCst operations either the count comes first (the mover sees the
/// waiter and notifies under `lock`, which the waiter holds from its check
/// until it sleeps) or the fence comes first (the waiter's check sees the
/// change).
#[derive(Debug, Default)]
pub(crate) struct Notify {
    waiters: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
    /// The log's eventfd, once asked for: signalled with every wake-up.
    event: OnceLock<Arc<Event>>,
}

impl Notify {
    /// Wake every waiter, after the change they wait for was published.
    #[inline]
    pub fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.notify_slow();
        }
        if let Some(event) = self.event.get() {
            event.signal();
        }
    }

    /// Signal `event` too from now on (a second one is ignored).
    pub fn attach(&self, event: Arc<Event>) {
        let _ = self.event.set(event);
    }

    #[cold]
    #[inline(never)]
    fn notify_slow(&self) {
        drop(self.lock.lock().unwrap_or_else(|p| p.into_inner()));
        self.cond.notify_all();
    }

    /// Sleep until `ready()` is true (returns true) or `deadline` passes
    /// (returns false; None waits forever). `ready` is called under the
    /// wake-up lock, so it must not take a lock a notifier holds while
    /// notifying.
    pub fn wait_until(&self, deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = loop {
            if ready() {
                break true;
            }
            match deadline {
                None => guard = self.cond.wait(guard).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break ready();
                    }
                    guard = self
                        .cond
                        .wait_timeout(guard, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        };
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    #[test]
    fn a_waiter_wakes_when_the_change_is_published() {
        let n = Notify::default();
        let flag = AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| n.wait_until(None, || flag.load(Ordering::Acquire)));
            // Whether the waiter is asleep yet or not, it must see the flag.
            flag.store(true, Ordering::Release);
            n.notify();
            assert!(waiter.join().unwrap());
        });
    }

    #[test]
    fn a_waiter_returns_false_at_its_deadline() {
        let n = Notify::default();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(20);
        assert!(!n.wait_until(Some(deadline), || false));
        assert!(Instant::now() >= deadline);
        assert!(n.wait_until(Some(start), || true), "ready wins at once");
        assert_eq!(n.waiters.load(Ordering::SeqCst), 0);
    }
}

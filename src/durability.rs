//! Fail-stop poisoning and group commit.
//!
//! The durable position is a log position `(segment_id, offset)` below which
//! every byte is on stable storage. It only ever covers a contiguous prefix:
//! writes into a segment are serialised by the appender lock and its published
//! end only moves past complete writes, and a segment is sealed and
//! fdatasync'ed before the next one is published (see `wal::rotate`), so
//! "active segment synced up to its published end" implies "everything before
//! it is synced".

use crate::error::{Result, WalError};
use crate::segment::Segment;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Once set, the log refuses every append and sync until it is reopened:
/// after a failed fdatasync the kernel may have dropped the dirty pages and
/// marked them clean, so no later success could be trusted (fsyncgate).
#[derive(Debug, Default)]
pub(crate) struct Poison {
    set: AtomicBool,
    cause: Mutex<Option<(String, Option<i32>, io::ErrorKind)>>,
}

impl Poison {
    pub fn set(&self, context: String, err: &io::Error) {
        let mut cause = self.cause.lock().unwrap_or_else(|p| p.into_inner());
        if cause.is_none() {
            *cause = Some((context, err.raw_os_error(), err.kind()));
        }
        self.set.store(true, Ordering::Release);
    }

    pub fn check(&self) -> Result<()> {
        if !self.set.load(Ordering::Acquire) {
            return Ok(());
        }
        let cause = self.cause.lock().unwrap_or_else(|p| p.into_inner());
        let (context, errno, kind) = cause.clone().expect("poison flag set without a cause");
        let source = match errno {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::from(kind),
        };
        Err(WalError::io(
            format!("the log is poisoned (fail-stop) because {context} failed earlier; reopen it"),
            source,
        ))
    }
}

/// A position in the log: `(segment_id, offset)`, ordered as the log is.
pub(crate) type LogPos = (u64, u64);

#[derive(Debug, Default)]
struct CommitState {
    durable: LogPos,
    leader_running: bool,
}

/// Group commit: a durable appender waits until the durable position covers
/// its record. One waiter at a time (the leader) runs fdatasync on the active
/// segment without holding the appender lock, so appenders keep writing while
/// it runs and the next fdatasync covers all of them at once.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    state: Mutex<CommitState>,
    done: Condvar,
}

impl GroupCommit {
    /// Block until everything up to `target` is durable. `active` gives the
    /// segment currently written to (never older than `target`'s segment).
    pub fn wait_durable(
        &self,
        target: LogPos,
        poison: &Poison,
        active: impl Fn() -> Option<Arc<Segment>>,
    ) -> Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            poison.check()?;
            if st.durable >= target {
                return Ok(());
            }
            if st.leader_running {
                st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.leader_running = true;
            drop(st);
            let outcome = match active() {
                Some(seg) => {
                    let end = seg.len();
                    seg.sync_data()
                        .map(|()| {
                            seg.mark_synced(end);
                            seg.mark_durable_use();
                            (seg.id(), end)
                        })
                        .map_err(|e| (seg.id(), e))
                }
                None => Ok((0, 0)),
            };
            st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.leader_running = false;
            match outcome {
                Ok(pos) => st.durable = st.durable.max(pos),
                Err((id, e)) => poison.set(format!("fdatasync of segment {id}"), &e),
            }
            self.done.notify_all();
        }
    }

    /// Record that a whole segment up to `pos` is durable (after the sealing
    /// fdatasync of a rotation).
    pub fn mark_durable(&self, pos: LogPos) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.durable = st.durable.max(pos);
    }
}

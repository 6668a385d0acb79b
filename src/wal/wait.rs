// SPDX-License-Identifier: MIT
//! Waiting for durability: append without waiting, then wait until an index
//! is durable, sharing the group commit with the durable appends.

use super::Wal;
use crate::error::{Result, WalError};
use std::time::{Duration, Instant};

impl Wal {
    /// Wait until the record of index `index` is durable, for at most
    /// `timeout` (None: no limit). Returns `Ok(true)` once it is (at once
    /// when `index <= durable_index`, including indexes purged since), and
    /// `Ok(false)` when the timeout passed first. While it waits it takes
    /// part in group commit like a durable append: it joins the fdatasync
    /// under way, or leads the next one, which covers every other waiter
    /// and appender too, so a thousand waiters cost one fdatasync. A timeout
    /// of zero only checks: it starts no fdatasync. A thread that leads an
    /// fdatasync finishes it (other waiters depend on it), so the timeout
    /// bounds waiting for other threads, not one fdatasync's own length.
    ///
    /// `IndexNotFound` when `index > last_index` (nothing to wait for yet,
    /// or the record was dropped by a truncation, also one made while
    /// waiting); the poison error when a sync failed. After shutdown every
    /// record is durable (shutdown synced), so it returns `Ok(true)` or the
    /// poison error.
    pub fn wait_durable(&self, index: u64, timeout: Option<Duration>) -> Result<bool> {
        let inner = &*self.inner;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let state = inner.log_state();
            if index <= state.durable_index {
                return Ok(true);
            }
            if index > state.last_index {
                return Err(WalError::IndexNotFound {
                    index,
                    first: state.first_index,
                    last: state.last_index,
                });
            }
            inner.poison.check()?;
            // Everything appended now, the record included (a truncation
            // since would have moved the active segment: checked again).
            let Some(seg) = inner.active.load_full() else {
                return Ok(false);
            };
            let target = (seg.id(), seg.len());
            let reached = inner.group_commit.wait_durable_until(
                target,
                &inner.poison,
                || inner.active.load_full(),
                deadline,
            )?;
            if !reached {
                return Ok(inner.log_state().durable_index >= index);
            }
            if inner.log_state().durable_index >= index {
                return Ok(true);
            }
            // A truncation or reset restarted the durable index between
            // the two checks: look again.
        }
    }
}

// SPDX-License-Identifier: MIT
//! Reader holds: named places in the log (a consumer's position, a
//! replica's match index) kept in the stream's metadata, so they survive
//! reopen. `cleanup` and `purge_before` never delete a record at or above
//! the lowest hold, unless the hold lags by more than the configured limit
//! (`max_hold_lag_bytes`, `max_hold_lag`): then cleanup drops the hold and
//! reports it (a dead reader must not fill the disk).

use super::{Inner, Wal};
use crate::error::{Result, WalError};
use crate::format::meta::validate_meta_key;
use crate::segment::Segment;
use std::sync::Arc;

/// A reader hold: the records from `index` on are kept for `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub name: String,
    pub index: u64,
}

/// A hold `cleanup` dropped because it lagged by more than a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedHold {
    pub name: String,
    pub index: u64,
    /// Bytes of the log from the hold's record to the end.
    pub lag_bytes: u64,
    /// `now_ms` of the cleanup minus the start of the hold's segment's
    /// window.
    pub lag_ms: i64,
}

/// Where holds live in the metadata: `nwal.hold.{name}`, the index as 8
/// bytes little-endian.
const HOLD_PREFIX: &str = "nwal.hold.";

/// The metadata key of hold `name` (1-54 bytes of `[A-Za-z0-9._-]`).
pub(crate) fn hold_key(name: &str) -> Result<String> {
    let key = format!("{HOLD_PREFIX}{name}");
    if name.is_empty() || validate_meta_key(&key).is_err() {
        return Err(WalError::InvalidArgument(format!(
            "invalid hold name {name:?}: must be 1-{} bytes of [A-Za-z0-9._-]",
            crate::format::meta::MAX_META_KEY_LEN - HOLD_PREFIX.len()
        )));
    }
    Ok(key)
}

impl Wal {
    /// Set or move the hold `name` to `index`: from then on `cleanup` and
    /// `purge_before` keep the records from `index` on (within the lag
    /// limits). `index` is from `first_index` to `last_index + 1` (nothing
    /// held yet but what comes), else `IndexNotFound`. Durable when it
    /// returns (one metadata write); holds count toward the 64 metadata
    /// keys (`InvalidArgument` past them). After shutdown: `Shutdown`.
    pub fn hold(&self, name: &str, index: u64) -> Result<()> {
        let key = hold_key(name)?;
        let inner = &*self.inner;
        // Under the registry's writer lock: no cleanup or purge between the
        // check and the write.
        let _segments = inner.segments.writer();
        let state = inner.log_state();
        if index < state.first_index || index > state.last_index + 1 {
            return Err(WalError::IndexNotFound {
                index,
                first: state.first_index,
                last: state.last_index,
            });
        }
        inner.meta.update(|entries| {
            entries.insert(key, index.to_le_bytes().to_vec());
            Ok(())
        })
    }

    /// Release the hold `name`: returns whether there was one (releasing
    /// none writes nothing). Durable when it returns.
    pub fn release_hold(&self, name: &str) -> Result<bool> {
        let key = hold_key(name)?;
        let inner = &*self.inner;
        if inner.meta.get(&key)?.is_none() {
            return Ok(false);
        }
        inner.meta.update(|entries| {
            entries.remove(&key);
            Ok(())
        })?;
        Ok(true)
    }

    /// The index hold `name` keeps from, if it exists.
    pub fn hold_index(&self, name: &str) -> Result<Option<u64>> {
        let key = hold_key(name)?;
        Ok(self.inner.meta.get(&key)?.and_then(|v| decode_index(&v)))
    }

    /// Every hold, by name.
    pub fn holds(&self) -> Vec<Hold> {
        self.inner.holds()
    }
}

fn decode_index(value: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(value.try_into().ok()?))
}

/// The holds among metadata entries, by name.
pub(crate) fn holds_in<'a>(entries: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<Hold> {
    entries
        .into_iter()
        .filter_map(|(k, v)| {
            Some(Hold {
                name: k.strip_prefix(HOLD_PREFIX)?.to_string(),
                index: decode_index(v)?,
            })
        })
        .collect()
}

impl Inner {
    /// Every hold, by name.
    pub(crate) fn holds(&self) -> Vec<Hold> {
        let entries = self.meta.entries();
        holds_in(entries.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
    }

    /// The holds that stay and those that lag past a limit at `now_ms`,
    /// judged over `live` (in log order, with their file sizes).
    pub(crate) fn judge_holds(
        &self,
        live: &[Arc<Segment>],
        sizes: &[u64],
        now_ms: i64,
    ) -> (Vec<Hold>, Vec<DroppedHold>) {
        let (max_bytes, max_ms) = (self.config.max_hold_lag_bytes, self.config.max_hold_lag_ms);
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for hold in self.holds() {
            let Some((lag_bytes, lag_ms)) = lag(live, sizes, hold.index, now_ms) else {
                kept.push(hold);
                continue;
            };
            let over =
                (max_bytes != 0 && lag_bytes > max_bytes) || max_ms.is_some_and(|m| lag_ms > m);
            if over {
                dropped.push(DroppedHold {
                    name: hold.name,
                    index: hold.index,
                    lag_bytes,
                    lag_ms,
                });
            } else {
                kept.push(hold);
            }
        }
        (kept, dropped)
    }

    /// Forget `dropped` (one metadata write).
    pub(crate) fn drop_holds(&self, dropped: &[DroppedHold]) -> Result<()> {
        let keys: Vec<String> = dropped
            .iter()
            .map(|d| format!("{HOLD_PREFIX}{}", d.name))
            .collect();
        self.meta.update(|entries| {
            for k in &keys {
                entries.remove(k);
            }
            Ok(())
        })
    }
}

/// How far behind the end of the log index `index` is: the bytes from its
/// record to the end of the last segment file, and `now_ms` minus the
/// start of its segment's window. None without segments.
fn lag(live: &[Arc<Segment>], sizes: &[u64], index: u64, now_ms: i64) -> Option<(u64, i64)> {
    let p = live
        .iter()
        .position(|s| s.last_index() >= index)
        .unwrap_or(live.len().checked_sub(1)?);
    let seg = &live[p];
    // Where its record starts: 0 (the whole segment) when the footer cannot
    // tell, the end when the hold is past the segment's records.
    let start = if index > seg.last_index() {
        sizes[p]
    } else if index <= seg.first_index() {
        0
    } else {
        seg.end_of_record(index - seg.first_index() - 1)
            .ok()
            .flatten()
            .unwrap_or(0)
    };
    let after: u64 = sizes[p + 1..].iter().sum();
    Some((
        sizes[p].saturating_sub(start) + after,
        now_ms.saturating_sub(seg.window_start_ms()),
    ))
}

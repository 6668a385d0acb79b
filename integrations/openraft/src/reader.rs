// SPDX-License-Identifier: MIT
//! The log reader: entries by Raft index, straight from the stream's
//! records (lock-free reads, never the appender's lock), decoded.

use crate::codec::{decode, to_wal};
use crate::error::read_logs;
use nano_wal::{ReadBuf, Wal};
use openraft::{OptionalSend, RaftLogReader, RaftTypeConfig, StorageError};
use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// How many bytes of records one read brings in at most: a large range is
/// read in pieces of this size, so a reader never holds more than one piece
/// beside the entries it returns.
const READ_BYTES: u64 = 4 << 20;

/// Reads entries of a [`crate::LogStore`]'s log; given to openraft's
/// replication tasks (any number of them, each its own reader, reading
/// while the store appends).
pub struct LogReader<C: RaftTypeConfig> {
    wal: Arc<Wal>,
    buf: ReadBuf,
    _config: PhantomData<C>,
}

impl<C: RaftTypeConfig> LogReader<C> {
    pub(crate) fn new(wal: Arc<Wal>) -> Self {
        LogReader {
            wal,
            buf: ReadBuf::new(),
            _config: PhantomData,
        }
    }

    /// The entries of Raft indexes in `range` that the log holds, in order
    /// (none outside the log's first and last index: as openraft asks).
    pub(crate) fn entries(
        &mut self,
        range: impl RangeBounds<u64>,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => u64::MAX,
        };
        let state = self.wal.log_state();
        let from = to_wal(start.min(crate::MAX_RAFT_INDEX)).max(state.first_index);
        let to = to_wal(end.min(crate::MAX_RAFT_INDEX)).min(state.last_index.saturating_add(1));
        let mut entries = Vec::with_capacity(to.saturating_sub(from).min(4096) as usize);
        let mut next = from;
        while next < to {
            let count = usize::try_from(to - next).unwrap_or(usize::MAX);
            let refs = self
                .wal
                .read_range_into(next, count, READ_BYTES, &mut self.buf)
                .map_err(|e| read_logs(&e))?;
            for record in self.buf.iter() {
                entries.push(decode(record.content)?);
            }
            next += refs.len() as u64;
        }
        Ok(entries)
    }
}

impl<C: RaftTypeConfig> RaftLogReader<C> for LogReader<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        self.entries(range)
    }
}

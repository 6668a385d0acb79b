// SPDX-License-Identifier: MIT
//! The log store: openraft's `RaftLogStorage` on one nano_wal stream.

use crate::codec::{decode, encode, encode_into, to_raft, to_wal, MAX_RAFT_INDEX};
use crate::error::{read_logs, storage_error, store_error, write_logs};
use crate::flush::Flusher;
use crate::reader::LogReader;
use nano_wal::{Wal, WalOptions, WriteEntry};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    ErrorSubject, ErrorVerb, LogId, LogState, OptionalSend, RaftLogId, RaftLogReader,
    RaftTypeConfig, StorageError, Vote,
};
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The metadata keys of the store's own state.
const VOTE_KEY: &str = "raft.vote";
const PURGED_KEY: &str = "raft.purged";
const COMMITTED_KEY: &str = "raft.committed";

/// `save_committed` writes the committed log id to the metadata (one
/// fsync) when it moved this many entries past the saved one; in between
/// it only remembers it.
pub const COMMITTED_SAVE_INTERVAL: u64 = 1024;

/// What a store did since it was opened: for metrics and tests. Shared
/// (`LogStore::stats`), so it can be read while openraft owns the store.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Entries appended.
    pub appended: AtomicU64,
    /// Truncations that removed at least one entry (openraft's `truncate`,
    /// or an append over a conflicting tail).
    pub truncations: AtomicU64,
    /// Entries those truncations removed.
    pub truncated_entries: AtomicU64,
    /// Purges that moved the purge point.
    pub purges: AtomicU64,
}

/// An openraft log store on the nano_wal stream `stream` in `dir`.
///
/// Thread rules: openraft calls it from one task (`&mut self`); readers
/// from [`RaftLogStorage::get_log_reader`] read concurrently with it. One
/// process opens a stream at a time (nano_wal's stream lock).
pub struct LogStore<C: RaftTypeConfig> {
    wal: Arc<Wal>,
    flusher: Flusher<C>,
    reader: LogReader<C>,
    /// The log id of the last entry, or `last_purged` when there is none.
    last_log_id: Option<LogId<C::NodeId>>,
    last_purged: Option<LogId<C::NodeId>>,
    committed: Option<LogId<C::NodeId>>,
    committed_saved: Option<LogId<C::NodeId>>,
    /// Encoding buffers, one per entry of the largest append so far.
    encoded: Vec<Vec<u8>>,
    stats: Arc<StoreStats>,
}

impl<C: RaftTypeConfig> LogStore<C> {
    /// Open (or create) the store of stream `stream` in directory `dir`,
    /// completing a purge that a crash interrupted. `options` are the
    /// stream's (segment sizes and windows; retention is never applied,
    /// see the crate's documentation).
    pub fn open(
        dir: impl AsRef<Path>,
        stream: &str,
        options: WalOptions,
    ) -> Result<Self, StorageError<C::NodeId>> {
        let wal = Wal::open(dir, stream, options)
            .map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Read, &e))?;
        let wal = Arc::new(wal);
        let flusher = Flusher::start(Arc::clone(&wal)).map_err(store_error)?;
        let mut store = LogStore {
            reader: LogReader::new(Arc::clone(&wal)),
            wal,
            flusher,
            last_log_id: None,
            last_purged: None,
            committed: None,
            committed_saved: None,
            encoded: Vec::new(),
            stats: Arc::default(),
        };
        store.last_purged = store.meta(PURGED_KEY, ErrorSubject::Logs)?;
        store.committed = store.meta(COMMITTED_KEY, ErrorSubject::Store)?;
        store.committed_saved = store.committed.clone();
        store.complete_purge()?;
        store.last_log_id = store.read_last_log_id()?;
        Ok(store)
    }

    /// What this store did since it was opened.
    pub fn stats(&self) -> Arc<StoreStats> {
        Arc::clone(&self.stats)
    }

    /// The nano_wal stream under the store: for its state (`log_state`,
    /// `durable_index`), its event fd, or reading its records. Appending,
    /// truncating or purging through it bypasses the store's bookkeeping:
    /// don't.
    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    fn meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        subject: ErrorSubject<C::NodeId>,
    ) -> Result<Option<T>, StorageError<C::NodeId>> {
        match self.wal.meta_get(key) {
            Ok(Some(bytes)) => decode(&bytes).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(storage_error(subject, ErrorVerb::Read, &e)),
        }
    }

    fn put_meta<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        subject: ErrorSubject<C::NodeId>,
    ) -> Result<(), StorageError<C::NodeId>> {
        self.wal
            .meta_put(key, &encode(value)?)
            .map_err(|e| storage_error(subject, ErrorVerb::Write, &e))
    }

    /// The log id of the entry at stream index `wal_index` (which the log
    /// holds).
    fn log_id_at(&self, wal_index: u64) -> Result<LogId<C::NodeId>, StorageError<C::NodeId>> {
        let record = self.wal.read_index(wal_index).map_err(|e| read_logs(&e))?;
        let entry: C::Entry = decode(&record.content)?;
        Ok(entry.get_log_id().clone())
    }

    /// The last entry's log id, or the purge point when the log is empty.
    fn read_last_log_id(&self) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        let state = self.wal.log_state();
        if state.last_index >= state.first_index {
            self.log_id_at(state.last_index).map(Some)
        } else {
            Ok(self.last_purged.clone())
        }
    }

    /// Make the stream hold no entry at or below the purge point: after a
    /// `purge`, or at open when a crash came between saving the purge point
    /// and purging.
    fn complete_purge(&mut self) -> Result<(), StorageError<C::NodeId>> {
        let Some(purged) = &self.last_purged else {
            return Ok(());
        };
        let keep_from = to_wal(purged.index) + 1;
        let state = self.wal.log_state();
        if keep_from <= state.first_index {
            return Ok(());
        }
        if keep_from <= state.last_index + 1 {
            self.wal
                .purge_before(keep_from)
                .map_err(|e| write_logs(&e))?;
        } else {
            // A snapshot's purge point past the last entry: drop them all,
            // the next append comes after the snapshot.
            self.flusher.barrier().map_err(store_error)?;
            self.wal.reset(keep_from).map_err(|e| write_logs(&e))?;
        }
        Ok(())
    }

    /// Refuse to write or drop the entry at stream index `wal_index` when a
    /// purge covered it (openraft never does: purged entries are applied).
    fn check_not_purged(&self, wal_index: u64, what: &str) -> Result<(), StorageError<C::NodeId>> {
        match &self.last_purged {
            Some(p) if wal_index <= to_wal(p.index) => Err(store_error(format!(
                "{what} at Raft index {} would change purged entries (purged up to {})",
                to_raft(wal_index),
                p.index
            ))),
            _ => Ok(()),
        }
    }

    /// Drop every entry from stream index `from` on, durably.
    fn drop_from(&mut self, from: u64) -> Result<(), StorageError<C::NodeId>> {
        let state = self.wal.log_state();
        if from > state.last_index {
            return Ok(());
        }
        self.check_not_purged(from, "a truncation")?;
        // Entries below the first index that no purge covers (a log whose
        // start a snapshot or an append moved) are simply not there.
        let keep_through = (from - 1).max(state.first_index - 1);
        // Every queued flush callback is answered first, while its records
        // are still there to become durable.
        self.flusher.barrier().map_err(store_error)?;
        self.wal
            .truncate_after(keep_through)
            .map_err(|e| write_logs(&e))?;
        self.stats.truncations.fetch_add(1, Ordering::Relaxed);
        self.stats
            .truncated_entries
            .fetch_add(state.last_index - keep_through, Ordering::Relaxed);
        self.last_log_id = self.read_last_log_id()?;
        Ok(())
    }

    /// Make the next append land at Raft index `first`: drop a conflicting
    /// tail, or move an empty log's next index (openraft appends right
    /// after the last entry, or after a snapshot's purge point).
    fn make_room(&mut self, first: u64) -> Result<(), StorageError<C::NodeId>> {
        let want = to_wal(first);
        self.drop_from(want)?;
        let state = self.wal.log_state();
        if want == state.last_index + 1 {
            return Ok(());
        }
        if state.last_index >= state.first_index {
            return Err(store_error(format!(
                "an append at Raft index {first} would leave a hole after index {}",
                to_raft(state.last_index)
            )));
        }
        self.check_not_purged(want, "an append")?;
        self.flusher.barrier().map_err(store_error)?;
        self.wal.reset(want).map_err(|e| write_logs(&e))?;
        Ok(())
    }

    /// Encode `entries` into `self.encoded`; None when there are none.
    fn encode_entries<I: IntoIterator<Item = C::Entry>>(
        &mut self,
        entries: I,
    ) -> Result<Option<Encoded<C>>, StorageError<C::NodeId>> {
        let mut count = 0;
        let mut first = 0;
        let mut last: Option<LogId<C::NodeId>> = None;
        for entry in entries {
            let log_id = entry.get_log_id();
            match &last {
                None => first = log_id.index,
                Some(prev) if log_id.index == prev.index + 1 => {}
                Some(prev) => {
                    return Err(store_error(format!(
                        "entries to append are not consecutive: index {} after {}",
                        log_id.index, prev.index
                    )))
                }
            }
            if log_id.index > MAX_RAFT_INDEX {
                return Err(store_error(format!(
                    "Raft index {} is too large",
                    log_id.index
                )));
            }
            if count == self.encoded.len() {
                self.encoded.push(Vec::new());
            }
            let mut buf = std::mem::take(&mut self.encoded[count]);
            buf.clear();
            self.encoded[count] = encode_into(&entry, buf)?;
            last = Some(log_id.clone());
            count += 1;
        }
        Ok(last.map(|last| Encoded { count, first, last }))
    }
}

/// What `encode_entries` encoded: `count` entries in `encoded[..count]`,
/// of Raft indexes `first..=last.index`.
struct Encoded<C: RaftTypeConfig> {
    count: usize,
    first: u64,
    last: LogId<C::NodeId>,
}

impl<C: RaftTypeConfig> Drop for LogStore<C> {
    /// Saves the committed log id if the log is durable up to it, lets the
    /// flusher answer what is queued, then shuts the log down (`Wal::
    /// shutdown`: it syncs what was appended and releases the stream lock).
    /// Readers handed out (`get_log_reader`) keep their handle on the log
    /// and may outlive the store, in openraft's replication tasks after
    /// `Raft::shutdown`; without the shutdown here, reopening the directory
    /// then would fail with `Locked` until the last of them is gone.
    fn drop(&mut self) {
        if let Some(committed) = &self.committed {
            if self.committed != self.committed_saved
                && to_wal(committed.index) <= self.wal.durable_index()
            {
                let _ = self.put_meta(COMMITTED_KEY, committed, ErrorSubject::Store);
            }
        }
        self.flusher.stop();
        let _ = self.wal.shutdown();
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl<C: RaftTypeConfig> RaftLogReader<C> for LogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        self.reader.entries(range)
    }
}

impl<C: RaftTypeConfig> RaftLogStorage<C> for LogStore<C> {
    type LogReader = LogReader<C>;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<C::NodeId>> {
        Ok(LogState {
            last_purged_log_id: self.last_purged.clone(),
            last_log_id: self.last_log_id.clone(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        LogReader::new(Arc::clone(&self.wal))
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.put_meta(VOTE_KEY, vote, ErrorSubject::Vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<C::NodeId>>, StorageError<C::NodeId>> {
        self.meta(VOTE_KEY, ErrorSubject::Vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<C::NodeId>>,
    ) -> Result<(), StorageError<C::NodeId>> {
        self.committed = committed;
        let Some(c) = &self.committed else {
            return Ok(());
        };
        let due = self
            .committed_saved
            .as_ref()
            .is_none_or(|saved| c.index >= saved.index.saturating_add(COMMITTED_SAVE_INTERVAL));
        if due && to_wal(c.index) <= self.wal.durable_index() {
            self.put_meta(COMMITTED_KEY, c, ErrorSubject::Store)?;
            self.committed_saved = self.committed.clone();
        }
        Ok(())
    }

    async fn read_committed(
        &mut self,
    ) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.committed.clone())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded = self.encode_entries(entries)?;
        // Entries at or below the purge point are covered by what was
        // purged (applied, or in a snapshot): skipping them leaves the log
        // as appending and purging them would. openraft does not send them;
        // its storage suite does.
        let skip = match (&encoded, &self.last_purged) {
            (Some(e), Some(p)) if e.first <= p.index => {
                (p.index - e.first + 1).min(e.count as u64) as usize
            }
            _ => 0,
        };
        let Some(Encoded { count, first, last }) = encoded.filter(|e| e.count > skip) else {
            // Nothing new: flushed once everything before is.
            self.flusher.flush(self.wal.last_index(), callback);
            return Ok(());
        };
        let first = first + skip as u64;
        self.make_room(first)?;
        let writes: Vec<WriteEntry<'_>> = self.encoded[skip..count]
            .iter()
            .map(|content| WriteEntry {
                header: None,
                content,
            })
            .collect();
        let refs = self
            .wal
            .append_batch(&writes, now_ms(), false)
            .map_err(|e| write_logs(&e))?;
        self.last_log_id = Some(last);
        self.stats
            .appended
            .fetch_add((count - skip) as u64, Ordering::Relaxed);
        let last_index = refs.last().map_or(self.wal.last_index(), |r| r.index);
        self.flusher.flush(last_index, callback);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.drop_from(to_wal(log_id.index.min(MAX_RAFT_INDEX)))
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        if self
            .last_purged
            .as_ref()
            .is_some_and(|p| p.index >= log_id.index)
        {
            return Ok(());
        }
        if log_id.index > MAX_RAFT_INDEX - 1 {
            return Err(store_error(format!(
                "Raft index {} is too large",
                log_id.index
            )));
        }
        // The purge point first, durably: a crash after it and before the
        // purge leaves entries that open then purges.
        self.put_meta(PURGED_KEY, &log_id, ErrorSubject::Logs)?;
        self.last_purged = Some(log_id.clone());
        self.stats.purges.fetch_add(1, Ordering::Relaxed);
        self.complete_purge()?;
        if self
            .last_log_id
            .as_ref()
            .is_none_or(|last| last.index <= log_id.index)
        {
            self.last_log_id = Some(log_id);
        }
        Ok(())
    }
}

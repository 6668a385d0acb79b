// SPDX-License-Identifier: MIT
//! An [openraft](https://docs.rs/openraft/0.9) log store on nano_wal.
//!
//! [`LogStore`] implements openraft's `RaftLogStorage` (and
//! `RaftLogReader`) on one nano_wal stream: each Raft entry is one record
//! (postcard-encoded), at the stream index `raft_index + 1`; the vote, the
//! last purged log id and the committed log id live in the stream's
//! metadata (keys `raft.vote`, `raft.purged`, `raft.committed`), which is
//! durable on every put and survives truncation and purge.
//!
//! - `append` writes the entries without waiting and returns; openraft's
//!   flush callback is called by the store's flusher thread once the
//!   entries are durable, sharing the log's group commit (many appends in
//!   flight, one fdatasync).
//! - `truncate` and `purge` are nano_wal's `truncate_after` and
//!   `purge_before` (or `reset`, when a snapshot purges past the last
//!   entry), durable when they return. A purge first saves the purge point,
//!   and opening the store completes a purge that a crash interrupted.
//! - `save_vote` is durable on return. `save_committed` is kept in memory
//!   and saved every [`COMMITTED_SAVE_INTERVAL`] entries, once the log is
//!   durable up to it: a saved committed id is never ahead of the durable
//!   log, and after a crash it is at most that far behind (openraft
//!   re-applies less, never wrong entries).
//!
//! The stream's time retention does not apply: the store never calls
//! `cleanup`; Raft decides what is deleted, by purging.
//!
//! # Example
//! See `tests/cluster.rs` for three nodes in one process, and the README's
//! "Use as an openraft log store".

// openraft's trait methods return its `StorageError` (~190 bytes); the
// helpers return what they return.
#![allow(clippy::result_large_err)]

mod codec;
mod error;
mod flush;
mod reader;
mod store;

pub use codec::MAX_RAFT_INDEX;
pub use reader::LogReader;
pub use store::{LogStore, StoreStats, COMMITTED_SAVE_INTERVAL};

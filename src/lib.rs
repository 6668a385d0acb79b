// SPDX-License-Identifier: MIT
//! nano_wal: a concurrent write-ahead log engine.
//!
//! A log lives in a directory; a *stream* names one log in it. Records are
//! appended with the caller's time (`now_ms`), which picks a clock-aligned
//! window; each window's records go to segment files that expire
//! `retention` after the window ends. Every record carries a CRC32C, batches
//! are atomic across a crash, durable appends are group-committed, and
//! recovery on open cuts a torn tail. The on-disk format is in
//! `docs/FORMAT.md`; the C API is in `include/nano_wal.h`.
//!
//! # Examples
//!
//! ```
//! use nano_wal::{Wal, WalOptions};
//! use std::time::Duration;
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path().join("my_wal");
//! # let dir = dir.to_str().unwrap();
//! # /*
//! let dir = "/tmp/my_wal";
//! # */
//!
//! let options = WalOptions {
//!     retention: Duration::from_secs(3600),
//!     segment_duration: Duration::from_secs(600),
//!     ..Default::default()
//! };
//! let wal = Wal::new(dir, "stream-0", options).unwrap();
//!
//! let now_ms = 1711234567890i64;
//! let entry = wal.append(None, b"hello world", now_ms, false).unwrap();
//! let record = wal.read(entry).unwrap();
//! assert_eq!(&record.content[..], b"hello world");
//! for item in wal.replay(None).unwrap() {
//!     let (entry_ref, record) = item.unwrap();
//!     assert_eq!(entry_ref, entry);
//!     assert_eq!(record.header, None);
//! }
//! ```
//!
//! # Modules
//!
//! Bottom-up: each module uses only those above it.
//!
//! | Module | What it is for |
//! |---|---|
//! | `record` | The record vocabulary: `WriteEntry`, `EntryRef`, `Record`, `RecordView` |
//! | `error` | `WalError`, the one error type, and `Result` |
//! | `sync` | The locks, atomics and clock of the group commit and poisoning: std's, or loom's in the loom models |
//! | `sys` | The system calls that write, read, sync, truncate and lock, the event fd (and their fault injection) |
//! | `crc` | CRC32C of records, in pieces or whole |
//! | `format` | The on-disk format: constants, record size, CRC seed |
//! | `format::header` | The 48-byte segment header |
//! | `format::frame` | The 24-byte record frame: encoding, packing, every check of a record |
//! | `format::names` | Stream names and the segment, lock and metadata file names (built and parsed) |
//! | `format::meta` | The two slots of the metadata file: encoding, decoding, key and value limits |
//! | `options` | `WalOptions`, their validation, and the arithmetic of windows |
//! | `segment` | One segment file: its fds, published end and durable watermark |
//! | `scan` | Reading a segment's records in order, in large chunks |
//! | `recovery` | Open's recovery: list the segments, check headers, cut the newest's torn tail |
//! | `meta` | The metadata store: `{stream}.meta` read at open, each change written to the other slot and synced |
//! | `notify` | A wake-up for waiters on the appended or durable index: a fence and a load while nobody waits |
//! | `durability` | Group commit, waiting for durability with a deadline, and fail-stop poisoning |
//! | `wal` | The `Wal` handle and its shared state; sync, shutdown |
//! | `wal::open` | Opening a stream: directory, stream lock, recovery hand-off |
//! | `wal::append` | Appends: checking, encoding (packed or framed) and placing records |
//! | `wal::rotate` | Rotation to a new segment, sealing, pre-written zeros |
//! | `wal::truncate` | Truncation of the tail and reset: a new segment whose first index drops records |
//! | `wal::segments` | The registry of live segments and its writer lock |
//! | `wal::meta` | `Wal::meta_put`, `meta_get` and the purge point, over `meta` |
//! | `wal::wait` | `Wal::wait_durable`: wait, with a timeout, until an index is durable |
//! | `wal::holds` | Reader holds: named places kept in the metadata that retention and purge respect |
//! | `wal::cuts` | The notices a truncation leaves for the followers it cut |
//! | `read` | Lock-free reads by ref, coalesced; `ReadBuf` |
//! | `replay` | `Replay`: every record in log order |
//! | `follow` | `Follower`: reading the log's tail, waiting for new or durable records |
//! | `cleanup` | Retention: deleting expired segments |
//! | `inspect` | Read-only view of a log, for the `nwal` tool |
//! | `ffi` | The C API of `include/nano_wal.h`, over the Rust API |

mod cleanup;
mod crc;
mod durability;
mod error;
pub mod ffi;
mod follow;
pub mod format;
pub mod inspect;
mod meta;
mod notify;
mod options;
mod read;
mod record;
mod recovery;
mod replay;
mod scan;
mod segment;
mod sync;
mod sys;
mod wal;

pub use bytes::Bytes;
pub use cleanup::{CleanupResult, DeleteReason, DeletedSegment, Retained, SegmentRetention};
pub use error::{Result, WalError};
pub use follow::{FollowMode, Followed, Follower};
pub use format::names::{validate_stream_name, MAX_STREAM_NAME_LEN};
pub use options::{WalOptions, MIN_SEGMENT_BYTES};
pub use read::{read_batch, ReadBuf, ReadDescriptor};
#[allow(deprecated)]
pub use record::RecordRef;
pub use record::{EntryRef, LogState, Record, RecordView, WriteEntry};
pub use recovery::{RecoveryReport, RemovedReason, RemovedSegment, TailCut};
pub use replay::{Replay, ReplayBatch};
pub use segment::Segment;
pub use wal::{DroppedHold, Hold, Wal};

/// The README's Rust example runs as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

/// Test-only fault injection (cargo feature `fault-injection`).
#[cfg(feature = "fault-injection")]
pub mod fault {
    pub use crate::sys::{
        clear_faults, fdatasync_count, hold_fdatasync, inject_fault, release_fdatasync,
        set_segment_record_cap, wait_fdatasync_held, Fault, FaultOp,
    };
}

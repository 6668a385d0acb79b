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

mod cleanup;
mod crc;
mod durability;
mod error;
// The C API still names `RecordRef`, the former name of `RecordView`.
#[allow(deprecated)]
pub mod ffi;
pub mod format;
pub mod inspect;
mod options;
mod read;
mod record;
mod recovery;
mod replay;
mod scan;
mod segment;
mod sys;
mod wal;

pub use bytes::Bytes;
pub use cleanup::{CleanupResult, DeletedSegment};
pub use error::{Result, WalError};
pub use format::names::{validate_stream_name, MAX_STREAM_NAME_LEN};
pub use options::{WalOptions, MIN_SEGMENT_BYTES};
pub use read::{read_batch, ReadBuf, ReadDescriptor};
#[allow(deprecated)]
pub use record::RecordRef;
pub use record::{EntryRef, Record, RecordView, WriteEntry};
pub use replay::Replay;
pub use segment::Segment;
pub use wal::Wal;

/// The README's Rust example runs as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

/// Test-only fault injection (cargo feature `fault-injection`).
#[cfg(feature = "fault-injection")]
pub mod fault {
    pub use crate::sys::{clear_faults, inject_fault, Fault, FaultOp};
}

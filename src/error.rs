// SPDX-License-Identifier: MIT
//! The one error type of the engine. Every variant maps to exactly one C status
//! code (`nwal_status`), so the variants are chosen by what a caller must do
//! differently, not by where the failure happened.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Errors returned by every fallible operation of the engine.
#[derive(Debug)]
#[non_exhaustive]
pub enum WalError {
    /// An operating-system call failed. `context` says what the engine was
    /// doing (with the segment or path), `source` keeps the OS error (errno).
    Io { context: String, source: io::Error },
    /// The options passed to `Wal::open` are not valid, or the stream name
    /// is not allowed (1-200 bytes of `[A-Za-z0-9._-]` not starting with `.`,
    /// so it can never escape the directory; see [`crate::validate_stream_name`]).
    InvalidConfig(String),
    /// A ref or an argument is out of range: a record size of 0, a range past
    /// the segment's written end, a content larger than the format allows, a
    /// time whose window overflows.
    InvalidArgument(String),
    /// Bytes on disk do not verify: bad magic, bad CRC, impossible lengths, or
    /// a ref that does not cover exactly one whole record.
    CorruptedData {
        segment_id: u64,
        offset: u64,
        detail: String,
    },
    /// A record header longer than the format's u16 length field allows.
    HeaderTooLarge { size: usize, max: usize },
    /// The log was shut down (or dropped); no new appends or metadata puts
    /// are taken.
    Shutdown,
    /// The ref names a segment that does not exist (never did, or was deleted
    /// by `cleanup`).
    SegmentNotFound(u64),
    /// Another handle (in this or another process) holds the stream open.
    Locked(String),
    /// No record has this index: it lies outside `[first, last]`, the
    /// indexes the log holds (`last` is `first - 1` when it holds none), or
    /// outside the segment a ref names.
    IndexNotFound { index: u64, first: u64, last: u64 },
    /// A file of the stream other than a segment does not verify (its
    /// metadata file: neither slot checks out); `path` names it.
    CorruptedFile { path: PathBuf, detail: String },
    /// The stream's metadata has no such key.
    MetaKeyNotFound(String),
    /// The caller's buffer holds `capacity` bytes, the value `needed`;
    /// nothing was copied.
    BufferTooSmall { needed: usize, capacity: usize },
    /// The clock guard (`max_clock_skew`) refused an append: its `now_ms`
    /// lies more than `max_skew_ms` past `newest_window_end_ms`, the end of
    /// the newest window the log holds. Nothing was written.
    ClockSkew {
        now_ms: i64,
        newest_window_end_ms: i64,
        max_skew_ms: i64,
    },
    /// A purge would drop records a reader hold keeps: `hold` holds from
    /// `held_index` on, below the `index` asked for. Nothing was purged.
    Held {
        index: u64,
        hold: String,
        held_index: u64,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, WalError>;

impl WalError {
    /// Build an `Io` error with a description of the operation that failed.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        WalError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn corrupted(segment_id: u64, offset: u64, detail: impl Into<String>) -> Self {
        WalError::CorruptedData {
            segment_id,
            offset,
            detail: detail.into(),
        }
    }

    /// The OS error number behind an `Io` error, if there is one.
    pub fn os_error(&self) -> Option<i32> {
        match self {
            WalError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl fmt::Display for WalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalError::Io { context, source } if context.is_empty() => {
                write!(f, "I/O error: {source}")
            }
            WalError::Io { context, source } => write!(f, "I/O error: {context}: {source}"),
            WalError::InvalidConfig(msg) => write!(f, "invalid configuration: {msg}"),
            WalError::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            WalError::CorruptedData {
                segment_id,
                offset,
                detail,
            } => write!(
                f,
                "corrupted data in segment {segment_id} at offset {offset}: {detail}"
            ),
            WalError::HeaderTooLarge { size, max } => {
                write!(
                    f,
                    "record header of {size} bytes exceeds the maximum of {max}"
                )
            }
            WalError::Shutdown => write!(f, "the log has been shut down"),
            WalError::SegmentNotFound(id) => {
                write!(
                    f,
                    "segment {id} not found (never existed or deleted by cleanup)"
                )
            }
            WalError::Locked(what) => write!(f, "stream is locked by another handle: {what}"),
            WalError::IndexNotFound { index, first, last } if first > last => {
                write!(
                    f,
                    "index {index} not found (no record: the next index is {first})"
                )
            }
            WalError::IndexNotFound { index, first, last } => {
                write!(
                    f,
                    "index {index} not found (records hold {first} to {last})"
                )
            }
            WalError::CorruptedFile { path, detail } => {
                write!(f, "corrupted file {}: {detail}", path.display())
            }
            WalError::MetaKeyNotFound(key) => write!(f, "no metadata key {key:?}"),
            WalError::BufferTooSmall { needed, capacity } => write!(
                f,
                "buffer of {capacity} bytes is too small for the {needed}-byte value (nothing copied)"
            ),
            WalError::Held {
                index,
                hold,
                held_index,
            } => write!(
                f,
                "purge_before({index}): reader hold {hold:?} keeps the records from index \
                 {held_index} on; move or release it first (nothing purged)"
            ),
            WalError::ClockSkew {
                now_ms,
                newest_window_end_ms,
                max_skew_ms,
            } => write!(
                f,
                "clock guard: now_ms {now_ms} is {} ms past the end of the newest window \
                 ({newest_window_end_ms}), more than max_clock_skew ({max_skew_ms} ms); nothing \
                 was written",
                now_ms.saturating_sub(*newest_window_end_ms)
            ),
        }
    }
}

impl std::error::Error for WalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WalError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for WalError {
    fn from(source: io::Error) -> Self {
        WalError::Io {
            context: String::new(),
            source,
        }
    }
}

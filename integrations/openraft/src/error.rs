// SPDX-License-Identifier: MIT
//! nano_wal's errors as openraft's: a `StorageError` naming what the store
//! was doing, or an `io::Error` (for flush callbacks) of the same kind.

use nano_wal::WalError;
use openraft::{AnyError, ErrorSubject, ErrorVerb, NodeId, StorageError, StorageIOError};
use std::io;

/// `e`, raised while doing `verb` to `subject`.
pub(crate) fn storage_error<NID: NodeId>(
    subject: ErrorSubject<NID>,
    verb: ErrorVerb,
    e: &WalError,
) -> StorageError<NID> {
    StorageIOError::new(subject, verb, AnyError::new(e)).into()
}

/// A failed read of the log.
pub(crate) fn read_logs<NID: NodeId>(e: &WalError) -> StorageError<NID> {
    storage_error(ErrorSubject::Logs, ErrorVerb::Read, e)
}

/// A failed write to the log (append, truncation, purge).
pub(crate) fn write_logs<NID: NodeId>(e: &WalError) -> StorageError<NID> {
    storage_error(ErrorSubject::Logs, ErrorVerb::Write, e)
}

/// A failed store that is not the log's (the flusher thread, a broken
/// promise of the caller).
pub(crate) fn store_error<NID: NodeId>(detail: impl ToString) -> StorageError<NID> {
    StorageIOError::write(AnyError::error(detail.to_string())).into()
}

/// `e` as the `io::Error` a flush callback reports: an OS error keeps its
/// kind (and so its errno's meaning), with the engine's description.
pub(crate) fn to_io_error(e: &WalError) -> io::Error {
    match e {
        WalError::Io { source, .. } => io::Error::new(source.kind(), e.to_string()),
        _ => io::Error::other(e.to_string()),
    }
}

// SPDX-License-Identifier: MIT
//! The log's eventfd, for event loops: readable once the appended or the
//! durable index moved (or a truncation or shutdown happened) since the
//! caller last cleared it.

use super::Wal;
use crate::error::{Result, WalError};
use crate::sys::Event;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

impl Wal {
    /// The log's eventfd, created at the first call (and readable then):
    /// it becomes readable when a record is appended, when the durable
    /// index moves, and at a truncation, reset or shutdown, and stays so
    /// until [`Wal::clear_event`]. Poll it for readability (`POLLIN`,
    /// `EPOLLIN`); do not read or write it, nor close it: it belongs to the
    /// log and is closed when the last of the handle and its followers is
    /// dropped.
    ///
    /// The loop: `clear_event`, then take every record the followers have
    /// (`next` with a zero timeout until `TimedOut`), then poll. A record
    /// appended after the clear makes the fd readable; one appended before
    /// it is seen by the followers' calls after it. `Io` when no eventfd
    /// can be created (EMFILE, ENFILE, ENOMEM).
    pub fn event_fd(&self) -> Result<BorrowedFd<'_>> {
        let inner = &*self.inner;
        if let Some(event) = inner.event.get() {
            return Ok(event.fd());
        }
        let _creating = inner
            .event_creation
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if inner.event.get().is_none() {
            let event =
                Arc::new(Event::new().map_err(|e| WalError::io("creating the log's eventfd", e))?);
            inner.appended.attach(event.clone());
            inner.group_commit.durable_moved.attach(event.clone());
            let _ = inner.event.set(event);
        }
        Ok(inner.event.get().expect("created above").fd())
    }

    /// Make the eventfd unreadable until the next change (see
    /// [`Wal::event_fd`]); nothing to do before it was created.
    pub fn clear_event(&self) {
        if let Some(event) = self.inner.event.get() {
            event.clear();
        }
    }
}

// SPDX-License-Identifier: MIT
//! The stream's metadata slot on the [`Wal`] handle: a few small values
//! (a Raft vote and term, a snapshot's position) kept beside the log,
//! durable on `Ok` and untouched by whatever removes records (retention,
//! truncation, purge, reset).

use super::Wal;
use crate::error::Result;
use crate::format::meta::{validate_user_meta_key, RESERVED_KEY_PREFIX};

impl Wal {
    /// Set `key` to `value`, replacing any value it had: atomic (a crash
    /// leaves the old or the new value, never a mix) and durable when it
    /// returns `Ok`. Keys are 1-64 bytes of `[A-Za-z0-9._-]` not starting
    /// with `nwal.` (the engine's: reader holds), values at most 4096
    /// bytes, and a stream holds at most 64 keys and holds together;
    /// anything else is `InvalidArgument` and writes nothing.
    ///
    /// A put does not sync the log and a durable append does not sync the
    /// metadata: after a crash every acknowledged put and every acknowledged
    /// durable append is there, in no promised order relative to each other.
    /// A failed sync of the metadata file returns `Io` and makes the
    /// metadata read-only until the stream is reopened (fail-stop); the log
    /// goes on. After `shutdown`: `Shutdown`.
    pub fn meta_put(&self, key: &str, value: &[u8]) -> Result<()> {
        validate_user_meta_key(key)?;
        self.inner.meta.put(key, value)
    }

    /// The value of `key` (None when it has none). Lock-free: it never
    /// waits for a put's sync. A bad key is `InvalidArgument`.
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        validate_user_meta_key(key)?;
        self.inner.meta.get(key)
    }

    /// Copy the value of `key` into the front of `buf` and return its
    /// length. `MetaKeyNotFound` when the key has no value;
    /// `BufferTooSmall { needed, .. }` (nothing copied) when `buf` is
    /// shorter than the value.
    pub fn meta_get_into(&self, key: &str, buf: &mut [u8]) -> Result<usize> {
        validate_user_meta_key(key)?;
        self.inner.meta.get_into(key, buf)
    }

    /// Every key with its value, sorted by key (the holds' keys left out:
    /// see [`Wal::holds`]).
    pub fn meta_entries(&self) -> Vec<(String, Vec<u8>)> {
        let mut entries = self.inner.meta.entries();
        entries.retain(|(k, _)| !k.starts_with(RESERVED_KEY_PREFIX));
        entries
    }
}

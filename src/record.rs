// SPDX-License-Identifier: MIT
//! The words every layer uses for records: a record to write
//! ([`WriteEntry`]), where a record lives ([`EntryRef`]), and a record read
//! back, owned ([`Record`]) or borrowed ([`RecordView`]). Plain data with no
//! dependency on the rest of the crate, so any module may use it.

use bytes::Bytes;

/// Where a record lives: its segment, the byte offset of its first byte in
/// the segment file, its whole on-disk size (framing included), and its
/// index in the log (dense: one more than the record before it). Refs are
/// totally ordered by `(segment_id, offset)` in append order, so they serve as
/// log sequence numbers; the index orders them the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryRef {
    pub segment_id: u64,
    pub offset: u64,
    pub size: u64,
    pub index: u64,
}

/// Where a stream's indexes stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogState {
    /// The lowest readable index.
    pub first_index: u64,
    /// The highest appended index; `first_index - 1` when the log is empty.
    pub last_index: u64,
    /// The highest index known durable; `first_index - 1` if none is.
    pub durable_index: u64,
}

/// One record of an `append_batch`.
#[derive(Debug, Clone, Copy)]
pub struct WriteEntry<'a> {
    pub header: Option<&'a [u8]>,
    pub content: &'a [u8],
}

/// A record read back: its header (None when appended without one) and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub header: Option<Bytes>,
    pub content: Bytes,
}

/// A record borrowed from the buffer it was read into (a `ReadBuf`, or a
/// replay's chunk): its header (None when appended without one) and
/// content, valid until that buffer is next filled or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub header: Option<&'a [u8]>,
    pub content: &'a [u8],
}

/// The former name of [`RecordView`].
#[deprecated(note = "renamed to RecordView")]
pub type RecordRef<'a> = RecordView<'a>;

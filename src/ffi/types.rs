// SPDX-License-Identifier: MIT
//! The C-visible types: status codes, option and ref structs, record views,
//! and the opaque handles (non-`repr(C)` structs, which cbindgen declares as
//! `typedef struct X X;`).

#![allow(non_camel_case_types)]

use super::boundary::{Handle, Owned};
use crate::{Follower, ReadBuf, Record, Replay, Wal, WalError};
use std::ffi::{c_char, CStr};
use std::ptr::NonNull;
use std::sync::atomic::AtomicBool;

/// Status returned by every fallible function. `NWAL_OK` (0) is success;
/// each `NWAL_ERR_*` mirrors one engine error; `NWAL_DONE` only ends an
/// iteration. On any `NWAL_ERR_*`, `nwal_last_error_message()` describes the
/// failure on the calling thread.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nwal_status {
    /// Success.
    NWAL_OK = 0,
    /// An operating-system call failed; `nwal_last_os_error()` gives its errno.
    /// Also returned by appends, `nwal_sync` and `nwal_shutdown` on a log
    /// poisoned by an earlier failed fsync or truncate (reads, replay and
    /// cleanup still work; reopen the log to append again), and by
    /// `nwal_meta_put` after an earlier failed sync of the metadata file
    /// (reopen to put again).
    NWAL_ERR_IO = 1,
    /// The options are invalid (durations, size cap, file mode, non-zero
    /// reserved fields or unknown option flags), or `dir` is not a directory.
    NWAL_ERR_INVALID_CONFIG = 2,
    /// Bytes on disk do not verify (checksum, magic, lengths), or a ref inside
    /// a segment does not cover exactly one whole record, or neither slot of
    /// the stream's metadata file verifies (on open).
    NWAL_ERR_CORRUPTED_DATA = 3,
    /// A record header is longer than 65,535 bytes.
    NWAL_ERR_HEADER_TOO_LARGE = 4,
    /// The log was shut down (`nwal_shutdown`); no new appends, cleanups or
    /// metadata puts.
    NWAL_ERR_SHUTDOWN = 5,
    /// A ref names a segment that does not exist (never did, or was deleted by
    /// `nwal_cleanup`), or an index no record has (outside the log's
    /// `[first_index, last_index]`, or outside the segment a ref names), or a
    /// metadata key that has no value.
    NWAL_ERR_NOT_FOUND = 6,
    /// The stream is already open in another handle (this or another process).
    NWAL_ERR_LOCKED = 7,
    /// A NULL or inconsistent argument (NULL pointer with a non-zero length,
    /// NULL where an output is required, unknown flag bits, a bad stream name,
    /// a span outside its buffer), or a ref of size 0 or past a segment's
    /// written end, or a content larger than the format allows (1 GiB), or a
    /// `now_ms` so large that its segment's expiration overflows int64.
    NWAL_ERR_INVALID_ARGUMENT = 8,
    /// An internal error: the library panicked (a bug in nano_wal). The
    /// handle or iterator it happened on is poisoned: every later call on it
    /// but `nwal_close` (`nwal_iter_free`) returns `NWAL_ERR_PANIC`.
    NWAL_ERR_PANIC = 9,
    /// `nwal_meta_get`: the caller's buffer is smaller than the value; nothing
    /// was copied and `*out_len` holds the value's length. `nwal_retention`:
    /// the caller's array has fewer slots than the stream has segments;
    /// nothing was written and `*out_count` holds how many it needs.
    NWAL_ERR_BUFFER_TOO_SMALL = 10,
    /// An append's `now_ms` is further ahead of the log's newest window than
    /// `nwal_options.max_clock_skew_ms` allows (the clock guard); nothing
    /// was written.
    NWAL_ERR_CLOCK_SKEW = 11,
    /// `nwal_purge_before` would drop records a reader hold keeps; nothing
    /// was purged (move or release the hold first).
    NWAL_ERR_HELD = 12,
    /// `nwal_iter_next` reached the end of the log, or `nwal_follow_next`
    /// the end of a log that was shut down. Not an error.
    NWAL_DONE = 100,
    /// `nwal_wait_durable`, `nwal_follow_next`: the timeout passed first.
    /// Not an error.
    NWAL_TIMED_OUT = 101,
    /// `nwal_follow_next`: a truncation or reset dropped records the
    /// follower had returned; it goes on at the index it reports. Not an
    /// error.
    NWAL_CUT = 102,
    /// `nwal_follow_next`: records the follower had not reached yet were
    /// purged (or deleted by cleanup); it goes on at the index it reports.
    /// Not an error.
    NWAL_GAP = 103,
}

/// Defines `nwal_status::ALL` and `nwal_status::name` from the list of the
/// enumerators: `name` is an exhaustive `match`, so a variant missing from
/// the list does not compile, and each name is the identifier itself.
macro_rules! status_names {
    ($($status:ident),+ $(,)?) => {
        impl nwal_status {
            /// Every status, in the order of the enum.
            pub(crate) const ALL: &'static [nwal_status] = &[$(nwal_status::$status),+];

            /// The enumerator's name, as the header spells it.
            pub(crate) const fn name(self) -> &'static CStr {
                match self {
                    $(nwal_status::$status => {
                        const NAME: &CStr = c_name(concat!(stringify!($status), "\0"));
                        NAME
                    })+
                }
            }
        }
    };
}

status_names!(
    NWAL_OK,
    NWAL_ERR_IO,
    NWAL_ERR_INVALID_CONFIG,
    NWAL_ERR_CORRUPTED_DATA,
    NWAL_ERR_HEADER_TOO_LARGE,
    NWAL_ERR_SHUTDOWN,
    NWAL_ERR_NOT_FOUND,
    NWAL_ERR_LOCKED,
    NWAL_ERR_INVALID_ARGUMENT,
    NWAL_ERR_PANIC,
    NWAL_ERR_BUFFER_TOO_SMALL,
    NWAL_ERR_CLOCK_SKEW,
    NWAL_ERR_HELD,
    NWAL_DONE,
    NWAL_TIMED_OUT,
    NWAL_CUT,
    NWAL_GAP,
);

/// `s` (which ends in its only NUL) as a C string, at compile time.
const fn c_name(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(name) => name,
        Err(_) => panic!("a status name is not NUL-terminated"),
    }
}

/// Options of `nwal_open`. Start from `nwal_options_default()` and change
/// fields; never build one from scratch, so fields added later (carved out of
/// `reserved`) keep their defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct nwal_options {
    /// How long a segment is kept after its window ends, in ms. Must be
    /// `>= segment_duration_ms`. Default: 7 days.
    pub retention_ms: u64,
    /// Width of the clock-aligned window a segment covers, in ms. Must be > 0.
    /// Default: 1 hour.
    pub segment_duration_ms: u64,
    /// Roll to a new segment before the active one would grow past this many
    /// bytes. 0 = no cap (default), otherwise at least 65,536.
    pub max_segment_bytes: u64,
    /// Permission bits of created files; must include 0600. Default: 0600.
    pub file_mode: u32,
    /// Bit set of `NWAL_OPT_*` values. Default: 0.
    pub flags: u32,
    /// Index of the first record of a new stream; at least 1. Used only when
    /// the stream is created (its first segment file): a reopened stream
    /// keeps its indexes. Default: 1.
    pub first_index: u64,
    /// The clock guard: refuse (`NWAL_ERR_CLOCK_SKEW`, nothing written) an
    /// append whose `now_ms` lies more than this many ms past the end of the
    /// newest window the log holds; at least `segment_duration_ms` when
    /// not 0. 0 (the default): off, every `now_ms` is taken. See the
    /// README's "Clock guard" for what to set.
    pub max_clock_skew_ms: u64,
    /// The size budget: `nwal_cleanup` also deletes the oldest sealed
    /// segments, before they expire, while the stream's files hold more
    /// than this many bytes (never the active segment). 0 (the default):
    /// no budget.
    pub max_stream_bytes: u64,
    /// A reader hold (`nwal_hold`) whose place lies behind more than this
    /// many bytes of segment files is dropped by `nwal_cleanup`. 0 (the
    /// default): no limit.
    pub max_hold_lag_bytes: u64,
    /// A reader hold whose segment's window started more than this many ms
    /// before `nwal_cleanup`'s `now_ms` is dropped by it. 0 (the default):
    /// no limit.
    pub max_hold_lag_ms: u64,
    /// Must be all zero (`NWAL_ERR_INVALID_CONFIG` otherwise): room for new
    /// options without an ABI break.
    pub reserved: [u64; 3],
}

/// Where a record lives: a ref. Ordered by (segment_id, offset) as the log
/// is, and by `index` the same way, so it serves as a log sequence number.
/// Plain data: copy and store it freely; it stays valid until
/// `nwal_cleanup` deletes its segment. Reads check every field: the
/// record's checksum covers its offset and its index.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct nwal_entry_ref {
    /// The segment holding the record (segment ids grow with the log).
    pub segment_id: u64,
    /// Byte offset of the record in its segment file.
    pub offset: u64,
    /// Length of the whole record on disk (frame, header and content).
    pub size: u64,
    /// The record's index in the log: dense, one more than the record
    /// before it.
    pub index: u64,
}

/// Where the log's indexes stand (`nwal_log_state_get`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct nwal_log_state {
    /// The lowest readable index.
    pub first_index: u64,
    /// The highest appended index; `first_index - 1` when the log is empty.
    pub last_index: u64,
    /// The highest index known durable; `first_index - 1` if none is. Equal
    /// to `last_index` after an `NWAL_OK` `nwal_sync` or durable append with
    /// nothing appended since; after a reopen, every record kept is durable.
    pub durable_index: u64,
    /// Zero: room for more without an ABI break.
    pub reserved: [u64; 5],
}

/// One record of `nwal_append_batch`. `header` NULL (with `header_len` 0)
/// means "no header"; a non-NULL header of length 0 is an empty header.
/// The bytes are borrowed for the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nwal_write_entry {
    /// The record header, or NULL for none.
    pub header: *const u8,
    /// Length of `header` (0 when it is NULL; at most 65,535).
    pub header_len: usize,
    /// The record content; NULL only when `content_len` is 0.
    pub content: *const u8,
    /// Length of `content` (at most 1 GiB).
    pub content_len: usize,
}

/// One record of `nwal_append_batch_packed`: offsets into the call's single
/// buffer, no pointers (so Go can pass it through cgo).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct nwal_span {
    /// Offset of the record header in the buffer (ignored when `has_header` is 0).
    pub header_off: u64,
    /// Length of the record header (must be 0 when `has_header` is 0).
    pub header_len: u64,
    /// Offset of the content in the buffer.
    pub content_off: u64,
    /// Length of the content.
    pub content_len: u64,
    /// 1 if the record has a header (possibly empty), 0 if not.
    pub has_header: u32,
    /// Must be 0.
    pub reserved: u32,
}

/// A record read back: borrowed views into library-owned memory (see the
/// function that filled it for how long they stay valid). `header` is NULL
/// when the record was appended without a header; when `content_len` (or
/// `header_len`) is 0 the pointer may be any non-NULL value and must not be
/// dereferenced.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nwal_record {
    /// The record header, or NULL if it was appended without one.
    pub header: *const u8,
    /// Length of `header`.
    pub header_len: usize,
    /// The record content.
    pub content: *const u8,
    /// Length of `content`.
    pub content_len: usize,
}

/// What `nwal_open` did to recover the stream (`nwal_recovery_report_get`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct nwal_recovery_report {
    /// 1 when the stream had a segment (the fields below describe its
    /// newest one), 0 for a stream with none.
    pub has_tail: u32,
    /// 1 when a cut byte lay below `durable_watermark`: data once synced
    /// was cut, which open refuses unless salvaging. 0 otherwise: the proof
    /// that nothing acknowledged as durable was lost.
    pub cut_below_durable: u32,
    /// The newest segment.
    pub tail_segment_id: u64,
    /// Its file length as open found it, and as open left it (the end of
    /// its last whole record or batch).
    pub found_len: u64,
    pub kept_len: u64,
    /// Records kept in it.
    pub records_kept: u64,
    /// The highest offset of it that its records prove was synced.
    pub durable_watermark: u64,
    /// Segment files open removed (torn creations, segments a truncation,
    /// reset or purge had dropped).
    pub removed_segments: u64,
    /// Zero: room for more without an ABI break.
    pub reserved: [u64; 4],
}

/// What `nwal_cleanup` did.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct nwal_cleanup_result {
    /// Segment files of this stream deleted.
    pub deleted_segments: u64,
    /// Total size of the deleted files, in bytes.
    pub bytes_reclaimed: u64,
    /// Segment files of this stream left.
    pub live_segments: u64,
    /// Of `deleted_segments`, those deleted before they expired, for the
    /// size budget (`nwal_options.max_stream_bytes`).
    pub deleted_over_budget: u64,
    /// Reader holds dropped for lagging past `max_hold_lag_bytes` or
    /// `max_hold_lag_ms` (before any segment was deleted).
    pub dropped_holds: u64,
    /// Zero: room for more without an ABI break.
    pub reserved: [u64; 3],
}

/// One segment as `nwal_retention` judges it: why a cleanup at the given
/// time keeps it, or the rule by which it deletes it. Plain data, written
/// into the caller's array; no pointer.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct nwal_segment_retention {
    /// The segment (segment ids grow with the log).
    pub segment_id: u64,
    /// Its file size, in bytes.
    pub file_size: u64,
    /// When it expires: its window end plus `retention_ms`, ms since the
    /// Unix epoch.
    pub expiration_ms: i64,
    /// Why it stays: a bit set of `NWAL_KEPT_*`, never 0 when `deleted_by`
    /// is 0; 0 when a cleanup deletes it.
    pub kept: u32,
    /// 0 when it stays, otherwise the rule a cleanup deletes it by:
    /// `NWAL_DELETE_EXPIRED` or `NWAL_DELETE_SIZE_BUDGET`.
    pub deleted_by: u32,
    /// How many reader holds keep it (those at or below its last index,
    /// within their lag limits); 0 unless `kept` has `NWAL_KEPT_HELD`.
    pub holds: u64,
    /// The lowest index those holds keep from (0 when `holds` is 0).
    pub hold_index: u64,
    /// The name of the hold at `hold_index` (the first by name if several
    /// are there), NUL-terminated; `""` when `holds` is 0. Names are at most
    /// 54 bytes. The other holds are counted in `holds`, not named.
    pub hold_name: [c_char; 56],
    /// Zero: room for more without an ABI break.
    pub reserved: [u64; 4],
}

/// An open log stream (opaque). Created by `nwal_open`, released by
/// `nwal_close`; shared by any number of threads in between.
pub struct nwal {
    pub(crate) wal: Wal,
    /// Set when a call on this handle panicked.
    pub(crate) poisoned: AtomicBool,
}

/// The bytes behind the records of one `nwal_read_batch` (opaque). Released
/// by `nwal_read_buf_free`, independently of its log.
pub struct nwal_read_buf {
    /// The bytes the C records point into.
    pub(crate) bytes: ReadBytes,
}

/// What backs the records of one `nwal_read_batch`.
pub(crate) enum ReadBytes {
    /// One ref: the record read by the single-read path (one allocation).
    One(Record),
    /// Several refs: one buffer holding them all.
    Many(ReadBuf),
}

/// A replay iterator (opaque). Created by `nwal_iter_open`, released by
/// `nwal_iter_free`, independently of its log; used by one thread at a time.
pub struct nwal_iter {
    /// Its read buffer backs the caller's `nwal_record` of the record last
    /// returned until the next `nwal_iter_next` or `nwal_iter_free`.
    pub(crate) replay: Replay,
    /// Set when a call on this iterator panicked.
    pub(crate) poisoned: bool,
}

/// A follower of the log (opaque). Created by `nwal_follow_open`, released
/// by `nwal_follow_free`, independently of its log; used by one thread at a
/// time.
pub struct nwal_follower {
    pub(crate) follower: Follower,
    /// The record returned last: it backs the caller's `nwal_record` until
    /// the next `nwal_follow_next` or `nwal_follow_free`.
    pub(crate) last: Option<Record>,
    /// Set when a call on this follower panicked.
    pub(crate) poisoned: bool,
}

impl Handle for nwal {
    const NAME: &'static str = "handle";
    const RELEASE: &'static str = "nwal_close";
    type Target<'a> = &'a Wal;
    type Flag<'a> = &'a AtomicBool;

    #[inline]
    unsafe fn borrow<'a>(this: NonNull<Self>) -> (&'a AtomicBool, &'a Wal) {
        // SAFETY: live per the caller's guarantee; shared borrows only, which
        // concurrent calls from other threads allow (`nwal` is Sync).
        let handle = unsafe { this.as_ref() };
        (&handle.poisoned, &handle.wal)
    }
}

impl Owned for nwal {
    /// The final sync: its failure is `nwal_close`'s status.
    fn release(&self) -> Result<(), WalError> {
        self.wal.shutdown()
    }
}

impl Handle for nwal_iter {
    const NAME: &'static str = "iterator";
    const RELEASE: &'static str = "nwal_iter_free";
    type Target<'a> = &'a mut Replay;
    type Flag<'a> = &'a mut bool;

    #[inline]
    unsafe fn borrow<'a>(this: NonNull<Self>) -> (&'a mut bool, &'a mut Replay) {
        // SAFETY: live and used by this thread only, per the caller's
        // guarantee, so the one `&mut` is exclusive.
        let it = unsafe { &mut *this.as_ptr() };
        (&mut it.poisoned, &mut it.replay)
    }
}

impl Owned for nwal_iter {}

impl Handle for nwal_follower {
    const NAME: &'static str = "follower";
    const RELEASE: &'static str = "nwal_follow_free";
    type Target<'a> = (&'a mut Follower, &'a mut Option<Record>);
    type Flag<'a> = &'a mut bool;

    #[inline]
    unsafe fn borrow<'a>(
        this: NonNull<Self>,
    ) -> (&'a mut bool, (&'a mut Follower, &'a mut Option<Record>)) {
        // SAFETY: live and used by this thread only, per the caller's
        // guarantee, so the one `&mut` is exclusive; it is split into its
        // disjoint fields.
        let nwal_follower {
            follower,
            last,
            poisoned,
        } = unsafe { &mut *this.as_ptr() };
        (poisoned, (follower, last))
    }
}

impl Owned for nwal_follower {}

impl Owned for nwal_read_buf {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each name is the enumerator of the header with that value, and the
    /// header has no other.
    #[test]
    fn status_names_are_the_header_enumerators() {
        let header = include_str!("../../include/nano_wal.h");
        let body = &header[header.find("typedef enum nwal_status {").unwrap()..];
        let body = &body[..body.find("} nwal_status;").unwrap()];
        let enumerators: Vec<(String, i32)> = body
            .lines()
            .filter_map(|l| l.trim().strip_suffix(',')?.split_once(" = "))
            .map(|(name, value)| (name.to_string(), value.parse().unwrap()))
            .collect();
        let ours: Vec<(String, i32)> = nwal_status::ALL
            .iter()
            .map(|&s| (s.name().to_str().unwrap().to_string(), s as i32))
            .collect();
        assert_eq!(ours, enumerators);
    }
}

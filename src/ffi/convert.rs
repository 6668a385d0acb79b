// SPDX-License-Identifier: MIT
//! Conversions between the C types and the engine's: options both ways,
//! append flags, stream names and metadata keys, write entries and packed spans into
//! `WriteEntry`s, refs both ways, records, cleanup results, and the
//! objects handed to C.
//!
//! Input conversions check what C can get wrong and return
//! `NWAL_ERR_INVALID_ARGUMENT` (`NWAL_ERR_INVALID_CONFIG` for options);
//! the messages name the argument and are built only on failure.

use super::boundary::{engine, Failure, FfiResult};
use super::ptr::{bytes, header, Out};
use super::types::{
    nwal, nwal_cleanup_result, nwal_entry_ref, nwal_follower, nwal_iter, nwal_log_state,
    nwal_options, nwal_read_buf, nwal_record, nwal_recovery_report, nwal_segment_retention,
    nwal_span, nwal_status, nwal_write_entry, ReadBytes,
};
use super::{
    NWAL_DELETE_EXPIRED, NWAL_DELETE_SIZE_BUDGET, NWAL_DURABLE, NWAL_FOLLOW_DURABLE,
    NWAL_KEPT_ACTIVE, NWAL_KEPT_AFTER_KEPT, NWAL_KEPT_HELD, NWAL_KEPT_NOT_EXPIRED,
    NWAL_KEPT_WITHIN_BUDGET, NWAL_OPT_SALVAGE,
};
use crate::{
    validate_stream_name, CleanupResult, DeleteReason, EntryRef, FollowMode, Followed, Follower,
    LogState, ReadBuf, Record, RecordView, Replay, Retained, SegmentRetention, Wal, WalError,
    WalOptions, WriteEntry,
};
use std::ffi::{c_char, c_int, CStr};
use std::fmt;
use std::time::Duration;

/// The options as C sees them. Infallible (durations saturate at
/// `UINT64_MAX` ms), so `nwal_options_default` needs no fallback copy of
/// the defaults.
impl From<&WalOptions> for nwal_options {
    fn from(o: &WalOptions) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        nwal_options {
            retention_ms: ms(o.retention),
            segment_duration_ms: ms(o.segment_duration),
            max_segment_bytes: o.max_segment_bytes,
            file_mode: o.file_mode,
            flags: if o.salvage { NWAL_OPT_SALVAGE } else { 0 },
            first_index: o.first_index,
            max_clock_skew_ms: o.max_clock_skew.map_or(0, |d| ms(d).max(1)),
            max_stream_bytes: o.max_stream_bytes,
            max_hold_lag_bytes: o.max_hold_lag_bytes,
            max_hold_lag_ms: o.max_hold_lag.map_or(0, |d| ms(d).max(1)),
            reserved: [0; 3],
        }
    }
}

impl nwal_options {
    /// The options of `nwal_open`: the fields C must leave alone are
    /// checked here, the values themselves by `Wal::open`.
    pub(crate) fn wal_options(&self) -> FfiResult<WalOptions> {
        if self.reserved.iter().any(|&r| r != 0) {
            return Err(invalid_config(
                "nwal_options.reserved must be all zero (start from nwal_options_default())".into(),
            ));
        }
        if self.flags & !NWAL_OPT_SALVAGE != 0 {
            return Err(invalid_config(format!(
                "unknown nwal_options.flags bits {:#x}",
                self.flags & !NWAL_OPT_SALVAGE
            )));
        }
        Ok(WalOptions {
            retention: Duration::from_millis(self.retention_ms),
            segment_duration: Duration::from_millis(self.segment_duration_ms),
            max_segment_bytes: self.max_segment_bytes,
            file_mode: self.file_mode,
            salvage: self.flags & NWAL_OPT_SALVAGE != 0,
            first_index: self.first_index,
            max_clock_skew: (self.max_clock_skew_ms != 0)
                .then(|| Duration::from_millis(self.max_clock_skew_ms)),
            max_stream_bytes: self.max_stream_bytes,
            max_hold_lag_bytes: self.max_hold_lag_bytes,
            max_hold_lag: (self.max_hold_lag_ms != 0)
                .then(|| Duration::from_millis(self.max_hold_lag_ms)),
        })
    }
}

#[cold]
fn invalid_config(message: String) -> Failure {
    Failure {
        status: nwal_status::NWAL_ERR_INVALID_CONFIG,
        message: format!("nwal_open: invalid configuration: {message}"),
        os_error: 0,
    }
}

/// The stream name of `nwal_open`. A bad name is a bad argument here (the
/// Rust API, where the name is part of the configuration, says InvalidConfig).
pub(crate) fn stream_name(name: &CStr) -> FfiResult<&str> {
    let name = name
        .to_str()
        .map_err(|_| Failure::invalid(format!("nwal_open: stream name {name:?} is not UTF-8")))?;
    validate_stream_name(name).map_err(|e| match e {
        WalError::InvalidConfig(why) => Failure::invalid(format!("nwal_open: {why}")),
        other => Failure::invalid(format!("nwal_open: {other}")),
    })?;
    Ok(name)
}

/// A metadata key from C: `validate_meta_key` checks it in the engine;
/// here only that it is text at all.
pub(crate) fn meta_key<'a>(key: &'a CStr, function: &str) -> FfiResult<&'a str> {
    key.to_str().map_err(|_| {
        Failure::invalid(format!(
            "{function}: invalid metadata key {key:?}: must be 1-64 bytes of [A-Za-z0-9._-]"
        ))
    })
}

/// A hold name from C: the engine checks it; here only that it is text.
pub(crate) fn hold_name<'a>(name: &'a CStr, function: &str) -> FfiResult<&'a str> {
    name.to_str().map_err(|_| {
        Failure::invalid(format!(
            "{function}: invalid hold name {name:?}: must be 1-54 bytes of [A-Za-z0-9._-]"
        ))
    })
}

/// A hold's index for C, or `NWAL_ERR_NOT_FOUND` when there is no such
/// hold.
pub(crate) fn hold_found(index: Option<u64>, name: &str) -> FfiResult<u64> {
    index.ok_or_else(|| Failure {
        status: nwal_status::NWAL_ERR_NOT_FOUND,
        message: format!("nwal_hold_get: no reader hold named {name:?}"),
        os_error: 0,
    })
}

/// Whether `count` results fit in the caller's `cap` slots: `count` goes
/// to `out_count` either way (so the caller can size its array), and
/// `NWAL_ERR_BUFFER_TOO_SMALL` says they do not fit.
pub(crate) fn slots_fit(
    count: usize,
    cap: usize,
    out_count: Out<'_, usize>,
    (function, what): (&str, &str),
) -> FfiResult {
    out_count.write(count);
    if count > cap {
        return Err(Failure {
            status: nwal_status::NWAL_ERR_BUFFER_TOO_SMALL,
            message: format!("{function}: {count} {what}, but cap is {cap}; nothing was written"),
            os_error: 0,
        });
    }
    Ok(())
}

/// The outcome of `Wal::meta_get_into` for C: the value's length goes to
/// `out_len` on success and, with `NWAL_ERR_BUFFER_TOO_SMALL`, on that
/// failure too (so the caller can size its buffer); other failures write
/// nothing.
pub(crate) fn meta_len(
    result: crate::Result<usize>,
    out_len: Out<'_, usize>,
    function: &str,
) -> FfiResult {
    match result {
        Ok(len) => {
            out_len.write(len);
            Ok(())
        }
        Err(e) => {
            if let WalError::BufferTooSmall { needed, .. } = e {
                out_len.write(needed);
            }
            Err(engine(function)(e))
        }
    }
}

/// `NWAL_DURABLE` from an append's flags; any other bit is an error.
#[inline]
pub(crate) fn durable(flags: u32, function: &str) -> FfiResult<bool> {
    if flags & !NWAL_DURABLE != 0 {
        return Err(Failure::invalid(format!(
            "{function}: unknown flag bits {:#x} (only NWAL_DURABLE is defined)",
            flags & !NWAL_DURABLE
        )));
    }
    Ok(flags & NWAL_DURABLE != 0)
}

/// A C timeout in ms: negative waits without limit, 0 only checks.
#[inline]
pub(crate) fn timeout(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// The mode of `nwal_follow_open`'s flags; any other bit is an error.
pub(crate) fn follow_mode(flags: u32) -> FfiResult<FollowMode> {
    if flags & !NWAL_FOLLOW_DURABLE != 0 {
        return Err(Failure::invalid(format!(
            "nwal_follow_open: unknown flag bits {:#x} (only NWAL_FOLLOW_DURABLE is defined)",
            flags & !NWAL_FOLLOW_DURABLE
        )));
    }
    Ok(match flags {
        NWAL_FOLLOW_DURABLE => FollowMode::Durable,
        _ => FollowMode::Appended,
    })
}

/// What `nwal_follow_next` hands to C: its status, and the ref to write
/// (a record's, or for a cut or gap one holding only the index it goes on
/// at). A record is kept in `last`, which backs its C view.
pub(crate) fn followed(
    step: Followed,
    last: &mut Option<Record>,
) -> (nwal_status, Option<nwal_entry_ref>, Option<nwal_record>) {
    let at = |index| nwal_entry_ref {
        index,
        ..Default::default()
    };
    match step {
        Followed::Record(r, record) => {
            let view = nwal_record::from(&*last.insert(record));
            (nwal_status::NWAL_OK, Some(r.into()), Some(view))
        }
        Followed::Cut { next_index } => (nwal_status::NWAL_CUT, Some(at(next_index)), None),
        Followed::Gap { next_index } => (nwal_status::NWAL_GAP, Some(at(next_index)), None),
        Followed::TimedOut => (nwal_status::NWAL_TIMED_OUT, None, None),
        Followed::Shutdown => (nwal_status::NWAL_DONE, None, None),
    }
}

impl nwal_write_entry {
    /// The records of `nwal_append_batch`.
    ///
    /// # Safety
    /// Every entry's `header` and `content` follow `nwal_write_entry`'s
    /// rules (NULL or pointing to their lengths in readable bytes) and stay
    /// valid for `'a`.
    pub(crate) unsafe fn to_entries<'a>(
        entries: &[nwal_write_entry],
        function: &'static str,
    ) -> FfiResult<Vec<WriteEntry<'a>>> {
        // A plain loop: collecting an iterator of results (GenericShunt)
        // cost ~15 ns per entry here (perf).
        let mut converted = Vec::with_capacity(entries.len());
        for (index, e) in entries.iter().enumerate() {
            // Formatted only if a check fails: this runs per record.
            let what = |field| Field {
                function,
                array: "entries",
                index,
                field,
            };
            converted.push(WriteEntry {
                // SAFETY: the caller's guarantee, for this entry.
                header: unsafe { header(e.header, e.header_len, what("header")) }?,
                // SAFETY: as above.
                content: unsafe { bytes(e.content, e.content_len, what("content")) }?,
            });
        }
        Ok(converted)
    }
}

impl nwal_span {
    /// The records of `nwal_append_batch_packed`: each span checked against
    /// `buf`.
    pub(crate) fn to_entries<'a>(
        spans: &[nwal_span],
        buf: &'a [u8],
        function: &'static str,
    ) -> FfiResult<Vec<WriteEntry<'a>>> {
        // A plain loop, as in nwal_write_entry::to_entries.
        let mut entries = Vec::with_capacity(spans.len());
        for (index, s) in spans.iter().enumerate() {
            entries.push(s.entry(buf, function, index)?);
        }
        Ok(entries)
    }

    fn entry<'a>(
        &self,
        buf: &'a [u8],
        function: &'static str,
        index: usize,
    ) -> FfiResult<WriteEntry<'a>> {
        let what = |field| Field {
            function,
            array: "spans",
            index,
            field,
        };
        if self.reserved != 0
            || self.has_header > 1
            || (self.has_header == 0 && self.header_len != 0)
        {
            return Err(Failure::invalid(format!(
                "{function}: spans[{index}]: has_header must be 0 or 1, \
                 header_len 0 without a header, reserved 0"
            )));
        }
        let header = match self.has_header {
            0 => None,
            _ => Some(span_slice(
                buf,
                self.header_off,
                self.header_len,
                what("header"),
            )?),
        };
        let content = span_slice(buf, self.content_off, self.content_len, what("content"))?;
        Ok(WriteEntry { header, content })
    }
}

/// `buf[off..off + len]`, or an error naming `what` if it is not inside `buf`.
fn span_slice(buf: &[u8], off: u64, len: u64, what: Field) -> FfiResult<&[u8]> {
    let range = usize::try_from(off)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(o, l)| Some(o..o.checked_add(l)?))
        .filter(|r| r.end <= buf.len());
    match range {
        Some(r) => Ok(&buf[r]),
        None => Err(Failure::invalid(format!(
            "{what}: offset {off} + length {len} is outside the buffer of {} bytes",
            buf.len()
        ))),
    }
}

/// Names `array[index].field` of `function` in an error message.
#[derive(Clone, Copy)]
struct Field {
    function: &'static str,
    array: &'static str,
    index: usize,
    field: &'static str,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Field {
            function,
            array,
            index,
            field,
        } = self;
        write!(f, "{function}: {array}[{index}].{field}")
    }
}

impl From<EntryRef> for nwal_entry_ref {
    #[inline]
    fn from(r: EntryRef) -> Self {
        nwal_entry_ref {
            segment_id: r.segment_id,
            offset: r.offset,
            size: r.size,
            index: r.index,
        }
    }
}

impl From<nwal_entry_ref> for EntryRef {
    #[inline]
    fn from(r: nwal_entry_ref) -> Self {
        EntryRef {
            segment_id: r.segment_id,
            offset: r.offset,
            size: r.size,
            index: r.index,
        }
    }
}

impl nwal_record {
    /// Views of `header` and `content`, valid as long as their bytes are.
    #[inline]
    fn view(header: Option<&[u8]>, content: &[u8]) -> nwal_record {
        let (header, header_len) = match header {
            Some(h) => (h.as_ptr(), h.len()),
            None => (std::ptr::null(), 0),
        };
        nwal_record {
            header,
            header_len,
            content: content.as_ptr(),
            content_len: content.len(),
        }
    }
}

/// A view of a record read alone; valid as long as the record's bytes are.
impl From<&Record> for nwal_record {
    #[inline]
    fn from(r: &Record) -> Self {
        nwal_record::view(r.header.as_deref(), &r.content)
    }
}

/// A view of a record in a `ReadBuf` (or a replay's); valid until that
/// buffer is refilled, cleared or dropped.
impl From<RecordView<'_>> for nwal_record {
    #[inline]
    fn from(r: RecordView<'_>) -> Self {
        nwal_record::view(r.header, r.content)
    }
}

impl From<LogState> for nwal_log_state {
    fn from(s: LogState) -> Self {
        nwal_log_state {
            first_index: s.first_index,
            last_index: s.last_index,
            durable_index: s.durable_index,
            reserved: [0; 5],
        }
    }
}

impl From<&CleanupResult> for nwal_cleanup_result {
    fn from(r: &CleanupResult) -> Self {
        nwal_cleanup_result {
            deleted_segments: r.deleted.len() as u64,
            bytes_reclaimed: r.bytes_reclaimed,
            live_segments: r.live_count,
            deleted_over_budget: r
                .deleted
                .iter()
                .filter(|d| d.reason == DeleteReason::SizeBudget)
                .count() as u64,
            dropped_holds: r.dropped_holds.len() as u64,
            reserved: [0; 3],
        }
    }
}

impl From<&SegmentRetention> for nwal_segment_retention {
    fn from(r: &SegmentRetention) -> Self {
        let mut kept = 0;
        let mut holds = 0;
        // The hold keeping from the lowest index; the first by name (the
        // order of `kept`) among equals.
        let mut lowest: Option<(&str, u64)> = None;
        for k in &r.kept {
            kept |= match k {
                Retained::Active => NWAL_KEPT_ACTIVE,
                Retained::NotExpired { .. } => NWAL_KEPT_NOT_EXPIRED,
                Retained::Held { name, index } => {
                    holds += 1;
                    if lowest.is_none_or(|(_, at)| *index < at) {
                        lowest = Some((name, *index));
                    }
                    NWAL_KEPT_HELD
                }
                Retained::WithinBudget => NWAL_KEPT_WITHIN_BUDGET,
                Retained::AfterKept => NWAL_KEPT_AFTER_KEPT,
            };
        }
        let mut hold_name = [0 as c_char; 56];
        let name = lowest.map_or(&[][..], |(n, _)| n.as_bytes());
        // Hold names are at most 54 bytes; the last slot stays the NUL.
        for (slot, &b) in hold_name[..55].iter_mut().zip(name) {
            *slot = b as c_char;
        }
        nwal_segment_retention {
            segment_id: r.segment_id,
            file_size: r.file_size,
            expiration_ms: r.expiration_ms,
            kept,
            deleted_by: match r.deleted_by {
                None => 0,
                Some(DeleteReason::Expired) => NWAL_DELETE_EXPIRED,
                Some(DeleteReason::SizeBudget) => NWAL_DELETE_SIZE_BUDGET,
            },
            holds,
            hold_index: lowest.map_or(0, |(_, at)| at),
            hold_name,
            reserved: [0; 4],
        }
    }
}

impl nwal {
    pub(crate) fn new(wal: Wal) -> Box<nwal> {
        Box::new(nwal {
            wal,
            poisoned: Default::default(),
        })
    }
}

impl nwal_iter {
    pub(crate) fn new(replay: Replay) -> Box<nwal_iter> {
        Box::new(nwal_iter {
            replay,
            poisoned: false,
        })
    }
}

impl From<&crate::RecoveryReport> for nwal_recovery_report {
    fn from(r: &crate::RecoveryReport) -> Self {
        let tail = r.tail.as_ref();
        nwal_recovery_report {
            has_tail: u32::from(tail.is_some()),
            cut_below_durable: u32::from(r.cut_below_durable),
            tail_segment_id: tail.map_or(0, |t| t.segment_id),
            found_len: tail.map_or(0, |t| t.found_len),
            kept_len: tail.map_or(0, |t| t.kept_len),
            records_kept: tail.map_or(0, |t| t.records_kept),
            durable_watermark: r.durable_watermark,
            removed_segments: r.removed.len() as u64,
            reserved: [0; 4],
        }
    }
}

impl nwal_follower {
    pub(crate) fn new(follower: Follower) -> Box<nwal_follower> {
        Box::new(nwal_follower {
            follower,
            last: None,
            poisoned: false,
        })
    }
}

impl nwal_read_buf {
    /// Read the records of `refs` (at least one): a single ref by the
    /// single-read path (one allocation), several into one buffer.
    pub(crate) fn read(wal: &Wal, refs: &[nwal_entry_ref]) -> Result<nwal_read_buf, WalError> {
        let bytes = if let [one] = refs {
            ReadBytes::One(wal.read((*one).into())?)
        } else {
            let mut buf = ReadBuf::new();
            wal.read_batch_into(refs, &mut buf)?;
            ReadBytes::Many(buf)
        };
        Ok(nwal_read_buf { bytes })
    }

    /// Read the range of `wal` from index `from` (see `Wal::read_range_into`):
    /// the buffer and the records' refs.
    pub(crate) fn read_range(
        wal: &Wal,
        from: u64,
        max_count: usize,
        max_bytes: u64,
    ) -> Result<(nwal_read_buf, Vec<nwal_entry_ref>), WalError> {
        let mut buf = ReadBuf::new();
        let refs = wal.read_range_into(from, max_count, max_bytes, &mut buf)?;
        let refs = refs.into_iter().map(nwal_entry_ref::from).collect();
        Ok((
            nwal_read_buf {
                bytes: ReadBytes::Many(buf),
            },
            refs,
        ))
    }

    /// An empty buffer for the `_into` reads.
    pub(crate) fn empty() -> nwal_read_buf {
        nwal_read_buf {
            bytes: ReadBytes::Many(ReadBuf::new()),
        }
    }

    /// Its reusable buffer (the one record of a single-ref read is dropped
    /// for one).
    fn reusable(&mut self) -> &mut ReadBuf {
        if let ReadBytes::One(_) = self.bytes {
            self.bytes = ReadBytes::Many(ReadBuf::new());
        }
        match &mut self.bytes {
            ReadBytes::Many(buf) => buf,
            ReadBytes::One(_) => unreachable!("replaced just above"),
        }
    }

    /// Read the records of `refs` into it, replacing what it held (none
    /// left on error).
    pub(crate) fn read_into(&mut self, wal: &Wal, refs: &[nwal_entry_ref]) -> Result<(), WalError> {
        wal.read_batch_into(refs, self.reusable())
    }

    /// Read the range of `wal` from index `from` into it (see
    /// `Wal::read_range_into`), replacing what it held: the records' refs.
    pub(crate) fn read_range_into(
        &mut self,
        wal: &Wal,
        from: u64,
        max_count: usize,
        max_bytes: u64,
    ) -> Result<Vec<EntryRef>, WalError> {
        let buf = self.reusable();
        let read = wal.read_range_into(from, max_count, max_bytes, buf);
        if read.is_err() {
            buf.clear();
        }
        read
    }

    /// Views of its records, in the order of the refs. They point into
    /// heap memory it owns, so they stay valid when it moves (into its Box).
    pub(crate) fn records(&self) -> impl Iterator<Item = nwal_record> + '_ {
        let (one, many) = match &self.bytes {
            ReadBytes::One(r) => (Some(nwal_record::from(r)), None),
            ReadBytes::Many(buf) => (None, Some(buf.iter().map(nwal_record::from))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

impl nwal_status {
    /// The status of a C value (`nwal_status_name` takes an `int`).
    pub(crate) fn from_c_int(value: c_int) -> Option<nwal_status> {
        nwal_status::ALL
            .iter()
            .copied()
            .find(|&s| s as c_int == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_round_trip() {
        let c = nwal_options::from(&WalOptions::default());
        assert_eq!(c.wal_options().unwrap(), WalOptions::default());
        assert_eq!(c.reserved, [0; 3]);
        assert_eq!(c.first_index, 1);
    }

    #[test]
    fn options_reject_reserved_fields_and_unknown_flags() {
        let good = nwal_options::from(&WalOptions::default());
        let reserved = nwal_options {
            reserved: [0, 0, 1],
            ..good
        };
        let flags = nwal_options { flags: 2, ..good };
        for bad in [reserved, flags] {
            let f = bad.wal_options().unwrap_err();
            assert_eq!(f.status, nwal_status::NWAL_ERR_INVALID_CONFIG);
        }
    }

    #[test]
    fn spans_must_lie_inside_the_buffer() {
        let buf = b"hhcccc";
        let span = |header_off, header_len, content_len, has_header| nwal_span {
            header_off,
            header_len,
            content_off: 2,
            content_len,
            has_header,
            reserved: 0,
        };
        let ok = nwal_span::to_entries(&[span(0, 2, 4, 1), span(0, 0, 0, 0)], buf, "f").unwrap();
        assert_eq!(ok[0].header, Some(&b"hh"[..]));
        assert_eq!(ok[0].content, b"cccc");
        assert_eq!(ok[1].header, None);
        for bad in [
            span(0, 2, 5, 1),
            span(u64::MAX, 2, 4, 1),
            span(0, 1, 4, 0),
            span(0, 0, 4, 2),
        ] {
            let f = nwal_span::to_entries(&[span(0, 0, 1, 0), bad], buf, "f").unwrap_err();
            assert!(f.message.contains("spans[1]"), "{}", f.message);
        }
    }

    #[test]
    fn every_status_converts_from_its_value() {
        for &s in nwal_status::ALL {
            assert_eq!(nwal_status::from_c_int(s as c_int), Some(s));
        }
        assert_eq!(nwal_status::from_c_int(12345), None);
    }
}

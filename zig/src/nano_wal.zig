// SPDX-License-Identifier: MIT
//! nano_wal for Zig: the C API of libnano_wal, with the statuses as the
//! error set `Error` and slices instead of pointer-length pairs.
//!
//! The translated header is `c` (every C name, for what this file does not
//! wrap). Conventions follow the header's: inputs are borrowed for the call;
//! records read back are views into a `ReadBuf` (or the iterator) that stay
//! valid until it is released; times are the caller's clock in ms since the
//! Unix epoch. After an error, `lastErrorMessage()` describes it (on the
//! thread that made the call) and `lastOsError()` gives the errno of an
//! `error.Io`. An `error.InvalidArgument` this file finds itself (an output
//! slice shorter than its input) leaves the message unchanged.
const std = @import("std");

/// The translated header (`zig translate-c` of nano_wal.h).
pub const c = @import("c");

/// The failure statuses of the C API, one error each (`NWAL_ERR_IO` is
/// `error.Io`, ...); `UnknownStatus` is a value the header does not name.
pub const Error = error{
    Io,
    InvalidConfig,
    CorruptedData,
    HeaderTooLarge,
    Shutdown,
    NotFound,
    Locked,
    InvalidArgument,
    Panic,
    BufferTooSmall,
    ClockSkew,
    Held,
    UnknownStatus,
};

/// The functions return `enum nwal_status`, translated as `c_uint`, while
/// its enumerators are `c_int` constants: this is the one place that
/// converts them.
fn status(comptime enumerator: c_int) c_uint {
    return @intCast(enumerator);
}

/// `NWAL_OK` as nothing, every failure status as its error.
pub fn check(s: c_uint) Error!void {
    return switch (s) {
        status(c.NWAL_OK) => {},
        status(c.NWAL_ERR_IO) => error.Io,
        status(c.NWAL_ERR_INVALID_CONFIG) => error.InvalidConfig,
        status(c.NWAL_ERR_CORRUPTED_DATA) => error.CorruptedData,
        status(c.NWAL_ERR_HEADER_TOO_LARGE) => error.HeaderTooLarge,
        status(c.NWAL_ERR_SHUTDOWN) => error.Shutdown,
        status(c.NWAL_ERR_NOT_FOUND) => error.NotFound,
        status(c.NWAL_ERR_LOCKED) => error.Locked,
        status(c.NWAL_ERR_INVALID_ARGUMENT) => error.InvalidArgument,
        status(c.NWAL_ERR_PANIC) => error.Panic,
        status(c.NWAL_ERR_BUFFER_TOO_SMALL) => error.BufferTooSmall,
        status(c.NWAL_ERR_CLOCK_SKEW) => error.ClockSkew,
        status(c.NWAL_ERR_HELD) => error.Held,
        else => error.UnknownStatus,
    };
}

/// The C status of an error (`-1` for `UnknownStatus`), e.g. to print its
/// name with `statusName`.
pub fn statusOf(err: Error) c_int {
    return switch (err) {
        error.Io => c.NWAL_ERR_IO,
        error.InvalidConfig => c.NWAL_ERR_INVALID_CONFIG,
        error.CorruptedData => c.NWAL_ERR_CORRUPTED_DATA,
        error.HeaderTooLarge => c.NWAL_ERR_HEADER_TOO_LARGE,
        error.Shutdown => c.NWAL_ERR_SHUTDOWN,
        error.NotFound => c.NWAL_ERR_NOT_FOUND,
        error.Locked => c.NWAL_ERR_LOCKED,
        error.InvalidArgument => c.NWAL_ERR_INVALID_ARGUMENT,
        error.Panic => c.NWAL_ERR_PANIC,
        error.BufferTooSmall => c.NWAL_ERR_BUFFER_TOO_SMALL,
        error.ClockSkew => c.NWAL_ERR_CLOCK_SKEW,
        error.Held => c.NWAL_ERR_HELD,
        error.UnknownStatus => -1,
    };
}

/// The enumerator's name of a status, e.g. "NWAL_ERR_LOCKED".
pub fn statusName(s: c_int) [:0]const u8 {
    return std.mem.span(c.nwal_status_name(s));
}

/// The message of the last failed call on this thread ("" if none).
pub fn lastErrorMessage() [:0]const u8 {
    return std.mem.span(c.nwal_last_error_message());
}

/// The errno behind the last failed call on this thread, 0 if none.
pub fn lastOsError() c_int {
    return c.nwal_last_os_error();
}

/// The library's version, "MAJOR.MINOR.PATCH".
pub fn version() [:0]const u8 {
    return std.mem.span(c.nwal_version());
}

/// The version of the header the package was translated from.
pub const header_version = std.SemanticVersion{
    .major = c.NWAL_VERSION_MAJOR,
    .minor = c.NWAL_VERSION_MINOR,
    .patch = c.NWAL_VERSION_PATCH,
};

/// Append flag: return once the records survive power loss.
pub const durable: u32 = c.NWAL_DURABLE;
/// `Options.flags` bit: salvage a corrupted newest segment on open.
pub const opt_salvage: u32 = c.NWAL_OPT_SALVAGE;

pub const Options = c.nwal_options;
pub const Ref = c.nwal_entry_ref;
pub const Span = c.nwal_span;
pub const LogState = c.nwal_log_state;
pub const CleanupResult = c.nwal_cleanup_result;
pub const RecoveryReport = c.nwal_recovery_report;
/// One segment as `Log.retention` judges it; `holdName` gives its
/// `hold_name` as a slice.
pub const SegmentRetention = c.nwal_segment_retention;

/// `SegmentRetention.kept` bits: why a segment stays.
pub const kept_active: u32 = c.NWAL_KEPT_ACTIVE;
pub const kept_not_expired: u32 = c.NWAL_KEPT_NOT_EXPIRED;
pub const kept_held: u32 = c.NWAL_KEPT_HELD;
pub const kept_within_budget: u32 = c.NWAL_KEPT_WITHIN_BUDGET;
pub const kept_after_kept: u32 = c.NWAL_KEPT_AFTER_KEPT;
/// `SegmentRetention.deleted_by`: the rule a cleanup deletes it by (0: it
/// stays).
pub const delete_expired: u32 = c.NWAL_DELETE_EXPIRED;
pub const delete_size_budget: u32 = c.NWAL_DELETE_SIZE_BUDGET;

/// The name of the hold keeping `r` from the lowest index ("" when none
/// does): a view into `r`.
pub fn holdName(r: *const SegmentRetention) []const u8 {
    return std.mem.sliceTo(&r.hold_name, 0);
}

/// The default options; change fields of these, never build them from
/// scratch.
pub fn defaultOptions() Options {
    return c.nwal_options_default();
}

/// One record of `Log.appendBatch` (an `nwal_write_entry`).
pub fn writeEntry(header: ?[]const u8, content: []const u8) c.nwal_write_entry {
    return .{
        .header = if (header) |h| h.ptr else null,
        .header_len = if (header) |h| h.len else 0,
        .content = content.ptr,
        .content_len = content.len,
    };
}

/// A record read back (an `nwal_record`, same layout): views into the
/// library's memory, valid as long as what returned it.
pub const Record = extern struct {
    raw: c.nwal_record,

    /// The header, null if the record has none.
    pub fn header(self: Record) ?[]const u8 {
        const p = self.raw.header orelse return null;
        return if (self.raw.header_len == 0) &.{} else p[0..self.raw.header_len];
    }

    pub fn content(self: Record) []const u8 {
        return if (self.raw.content_len == 0) &.{} else self.raw.content[0..self.raw.content_len];
    }
};

/// The bytes behind the records of a read; `deinit` releases them. One
/// from `init` (or any other) can be refilled by the `...Into` reads,
/// which reuse its memory; each refill invalidates its earlier records.
pub const ReadBuf = struct {
    buf: ?*c.nwal_read_buf,

    /// An empty buffer for `Log.readInto`, `readBatchInto`, `readRangeInto`.
    pub fn init() Error!ReadBuf {
        var buf: ?*c.nwal_read_buf = null;
        try check(c.nwal_read_buf_new(&buf));
        return .{ .buf = buf };
    }

    pub fn deinit(self: ReadBuf) void {
        c.nwal_read_buf_free(self.buf);
    }
};

/// What `Log.readRange` read: the first `count` slots of its outputs.
pub const Range = struct {
    count: usize,
    buf: ReadBuf,
};

/// An open log stream; every method but `close` may run on any thread.
pub const Log = struct {
    handle: *c.nwal,

    /// Open (or create) stream `stream` in `dir`; `opts` null is the
    /// defaults.
    pub fn open(dir: [*:0]const u8, stream: [*:0]const u8, opts: ?*const Options) Error!Log {
        var w: ?*c.nwal = null;
        try check(c.nwal_open(dir, stream, opts, &w));
        return .{ .handle = w.? };
    }

    /// Shut down and release the handle (released even on error).
    pub fn close(self: Log) Error!void {
        return check(c.nwal_close(self.handle));
    }

    /// Stop appends and cleanups, sync, release the stream lock.
    pub fn shutdown(self: Log) Error!void {
        return check(c.nwal_shutdown(self.handle));
    }

    /// Append one record (`header` null: none); `flags` is 0 or `durable`.
    pub fn append(self: Log, header: ?[]const u8, content: []const u8, now_ms: i64, flags: u32) Error!Ref {
        var ref: Ref = undefined;
        const e = writeEntry(header, content);
        try check(c.nwal_append(self.handle, e.header, e.header_len, e.content, e.content_len, now_ms, flags, &ref));
        return ref;
    }

    /// Append `entries` atomically; their refs go to `out_refs` (null: not
    /// wanted; otherwise at least `entries.len` slots).
    pub fn appendBatch(self: Log, entries: []const c.nwal_write_entry, now_ms: i64, flags: u32, out_refs: ?[]Ref) Error!void {
        if (out_refs) |r| if (r.len < entries.len) return error.InvalidArgument;
        const refs: [*c]Ref = if (out_refs) |r| r.ptr else null;
        return check(c.nwal_append_batch(self.handle, entries.ptr, entries.len, now_ms, flags, refs));
    }

    /// Append the records that `spans` locate in `buf`, atomically.
    pub fn appendBatchPacked(self: Log, buf: []const u8, spans: []const Span, now_ms: i64, flags: u32, out_refs: ?[]Ref) Error!void {
        if (out_refs) |r| if (r.len < spans.len) return error.InvalidArgument;
        const refs: [*c]Ref = if (out_refs) |r| r.ptr else null;
        return check(c.nwal_append_batch_packed(self.handle, buf.ptr, buf.len, spans.ptr, spans.len, now_ms, flags, refs));
    }

    /// Read the records of `refs` into `out` (at least `refs.len` slots),
    /// in order; they stay valid until the returned buffer's `deinit`.
    pub fn readBatch(self: Log, refs: []const Ref, out: []Record) Error!ReadBuf {
        if (out.len < refs.len) return error.InvalidArgument;
        var buf: ?*c.nwal_read_buf = null;
        try check(c.nwal_read_batch(self.handle, refs.ptr, refs.len, @ptrCast(out.ptr), &buf));
        return .{ .buf = buf };
    }

    /// Read the records of indexes `from`, `from + 1`, ...: at most
    /// `out.len`, within `max_bytes` of headers and contents but at least
    /// one. `out_refs`, if not null, gets their refs (at least `out.len`
    /// slots).
    pub fn readRange(self: Log, from: u64, out: []Record, out_refs: ?[]Ref, max_bytes: u64) Error!Range {
        if (out_refs) |r| if (r.len < out.len) return error.InvalidArgument;
        const refs: [*c]Ref = if (out_refs) |r| r.ptr else null;
        var n: usize = 0;
        var buf: ?*c.nwal_read_buf = null;
        try check(c.nwal_read_range(self.handle, from, out.len, max_bytes, @ptrCast(out.ptr), refs, &n, &buf));
        return .{ .count = n, .buf = .{ .buf = buf } };
    }

    /// Read the record of `ref` into `buf`; valid until `buf`'s next read
    /// or `deinit`.
    pub fn readInto(self: Log, ref: Ref, buf: ReadBuf) Error!Record {
        var rec: Record = undefined;
        try check(c.nwal_read_into(self.handle, &ref, buf.buf, &rec.raw));
        return rec;
    }

    /// `readBatch` into `buf` (its memory reused): the records of `refs`
    /// into `out` (at least `refs.len` slots).
    pub fn readBatchInto(self: Log, refs: []const Ref, buf: ReadBuf, out: []Record) Error!void {
        if (out.len < refs.len) return error.InvalidArgument;
        return check(c.nwal_read_batch_into(self.handle, refs.ptr, refs.len, buf.buf, @ptrCast(out.ptr)));
    }

    /// `readRange` into `buf` (its memory reused): the number of records
    /// put in the first slots of `out` (and `out_refs`).
    pub fn readRangeInto(self: Log, from: u64, buf: ReadBuf, out: []Record, out_refs: ?[]Ref, max_bytes: u64) Error!usize {
        if (out_refs) |r| if (r.len < out.len) return error.InvalidArgument;
        const refs: [*c]Ref = if (out_refs) |r| r.ptr else null;
        var n: usize = 0;
        try check(c.nwal_read_range_into(self.handle, from, out.len, max_bytes, buf.buf, @ptrCast(out.ptr), refs, &n));
        return n;
    }

    /// Replay from the first record (`from` null) or from `from`
    /// (inclusive).
    pub fn replay(self: Log, from: ?*const Ref) Error!Iter {
        var it: ?*c.nwal_iter = null;
        try check(c.nwal_iter_open(self.handle, from, &it));
        return .{ .handle = it.? };
    }

    /// Replay from the record of index `from_index` (inclusive; one past
    /// the last index waits for the next appends).
    pub fn replayFromIndex(self: Log, from_index: u64) Error!Iter {
        var it: ?*c.nwal_iter = null;
        try check(c.nwal_iter_open_at(self.handle, from_index, &it));
        return .{ .handle = it.? };
    }

    /// Make everything appended so far durable.
    pub fn sync(self: Log) Error!void {
        return check(c.nwal_sync(self.handle));
    }

    /// Where the log's indexes stand.
    pub fn state(self: Log) Error!LogState {
        var st: LogState = undefined;
        try check(c.nwal_log_state_get(self.handle, &st));
        return st;
    }

    /// Drop every record with an index above `index` (from
    /// `first_index - 1` up; at or above `last_index` nothing changes): the
    /// next append gets `index + 1`. Durable; refs of dropped records then
    /// give `error.NotFound`.
    pub fn truncateAfter(self: Log, index: u64) Error!void {
        return check(c.nwal_truncate_after(self.handle, index));
    }

    /// `truncateAfter` without waiting for the disk, when the records it
    /// drops all lie in the active segment (else it is `truncateAfter`):
    /// durable with the next durable append, `sync` or close; a crash
    /// before that may bring the dropped records back.
    pub fn truncateAfterDeferred(self: Log, index: u64) Error!void {
        return check(c.nwal_truncate_after_deferred(self.handle, index));
    }

    /// Drop every record with an index below `index` (up to
    /// `last_index + 1`; at or below `first_index` nothing changes):
    /// `first_index` becomes `index` and the whole segments below it are
    /// deleted. Durable.
    pub fn purgeBefore(self: Log, index: u64) Error!void {
        return check(c.nwal_purge_before(self.handle, index));
    }

    /// `purgeBefore` without waiting for the disk: the purge point is
    /// written, not synced (readers see the new `first_index` at once). It
    /// becomes durable with the next `sync`, durable metadata change,
    /// durable purge, `reset` or close (not with a durable append); a crash
    /// before that may bring `first_index` back down as far as the last
    /// synced purge point, never lower. A purge that frees whole segments
    /// is synced anyway before it deletes them.
    pub fn purgeBeforeDeferred(self: Log, index: u64) Error!void {
        return check(c.nwal_purge_before_deferred(self.handle, index));
    }

    /// Drop every record: the log is empty and the next append gets
    /// `next_index` (1 to 2^63). Durable; the metadata is kept.
    pub fn reset(self: Log, next_index: u64) Error!void {
        return check(c.nwal_reset(self.handle, next_index));
    }

    /// Set `key` to `value` in the stream's metadata (keys of 1-64 bytes of
    /// `[A-Za-z0-9._-]`, values of at most 4096 bytes): atomic, and durable
    /// once it returns.
    pub fn metaPut(self: Log, key: [*:0]const u8, value: []const u8) Error!void {
        return check(c.nwal_meta_put(self.handle, key, value.ptr, value.len));
    }

    /// Copy the value of `key` into `buf` and return it (a prefix of `buf`):
    /// `error.BufferTooSmall` if it does not fit (`metaLen` says how long
    /// it is), `error.NotFound` if the key has no value.
    pub fn metaGet(self: Log, key: [*:0]const u8, buf: []u8) Error![]u8 {
        var n: usize = 0;
        try check(c.nwal_meta_get(self.handle, key, buf.ptr, buf.len, &n));
        return buf[0..n];
    }

    /// The length of the value of `key` (`error.NotFound` if it has none).
    pub fn metaLen(self: Log, key: [*:0]const u8) Error!usize {
        var n: usize = 0;
        const s = c.nwal_meta_get(self.handle, key, null, 0, &n);
        if (s != status(c.NWAL_ERR_BUFFER_TOO_SMALL)) try check(s);
        return n;
    }

    /// Delete the segments expired at `now_ms`, except the active one.
    pub fn cleanup(self: Log, now_ms: i64) Error!CleanupResult {
        var r: CleanupResult = undefined;
        try check(c.nwal_cleanup(self.handle, now_ms, &r));
        return r;
    }

    /// Why each segment stays, or the rule a cleanup at `now_ms` deletes it
    /// by, into `out` in log order; returns the prefix written. It deletes
    /// nothing. `error.BufferTooSmall` when the stream has more segments
    /// than `out` has slots (nothing written; `retentionCount` says how
    /// many it has).
    pub fn retention(self: Log, now_ms: i64, out: []SegmentRetention) Error![]SegmentRetention {
        var n: usize = 0;
        try check(c.nwal_retention(self.handle, now_ms, out.ptr, out.len, &n));
        return out[0..n];
    }

    /// The number of segments `retention` reports.
    pub fn retentionCount(self: Log, now_ms: i64) Error!usize {
        var n: usize = 0;
        const s = c.nwal_retention(self.handle, now_ms, null, 0, &n);
        if (s != status(c.NWAL_ERR_BUFFER_TOO_SMALL)) try check(s);
        return n;
    }

    /// What open did to recover the stream.
    pub fn recoveryReport(self: Log) Error!RecoveryReport {
        var r: RecoveryReport = undefined;
        try check(c.nwal_recovery_report_get(self.handle, &r));
        return r;
    }

    /// Wait until index `index` is durable, at most `timeout_ms` (negative:
    /// no limit; 0: only check): true once it is, false at the timeout.
    pub fn waitDurable(self: Log, index: u64, timeout_ms: i64) Error!bool {
        const s = c.nwal_wait_durable(self.handle, index, timeout_ms);
        if (s == status(c.NWAL_TIMED_OUT)) return false;
        try check(s);
        return true;
    }

    /// A follower from index `from`; with `durable_only`, of durable records.
    pub fn follow(self: Log, from: u64, durable_only: bool) Error!Follower {
        var f: ?*c.nwal_follower = null;
        try check(c.nwal_follow_open(self.handle, from, if (durable_only) follow_durable else 0, &f));
        return .{ .handle = f.? };
    }

    /// The log's event fd, readable once something moved since
    /// `clearEvent` (never read, write or close it).
    pub fn eventFd(self: Log) Error!c_int {
        var fd: c_int = -1;
        try check(c.nwal_event_fd(self.handle, &fd));
        return fd;
    }

    /// Make the event fd unreadable until the next change.
    pub fn clearEvent(self: Log) Error!void {
        try check(c.nwal_event_clear(self.handle));
    }

    /// Set or move the reader hold `name` to `index`.
    pub fn hold(self: Log, name: [*:0]const u8, index: u64) Error!void {
        try check(c.nwal_hold(self.handle, name, index));
    }

    /// Release the reader hold `name` (none: nothing to do).
    pub fn releaseHold(self: Log, name: [*:0]const u8) Error!void {
        try check(c.nwal_hold_release(self.handle, name));
    }

    /// The index the reader hold `name` keeps from (`error.NotFound`: none).
    pub fn holdIndex(self: Log, name: [*:0]const u8) Error!u64 {
        var index: u64 = 0;
        try check(c.nwal_hold_get(self.handle, name, &index));
        return index;
    }
};

/// `Log.follow` flag value: only records known durable.
pub const follow_durable: u32 = c.NWAL_FOLLOW_DURABLE;

/// A follower, used by one thread at a time.
pub const Follower = struct {
    handle: *c.nwal_follower,

    /// What `next` found: a record (valid until the next `next` or
    /// `deinit`), a timeout, a cut or gap with the index it goes on at, or
    /// the end of a log that was shut down.
    pub const Step = union(enum) {
        record: Iter.Item,
        timed_out,
        cut: u64,
        gap: u64,
        done,
    };

    pub fn next(self: Follower, timeout_ms: i64) Error!Step {
        var item: Iter.Item = undefined;
        const s = c.nwal_follow_next(self.handle, timeout_ms, &item.record.raw, &item.ref);
        if (s == status(c.NWAL_TIMED_OUT)) return .timed_out;
        if (s == status(c.NWAL_CUT)) return .{ .cut = item.ref.index };
        if (s == status(c.NWAL_GAP)) return .{ .gap = item.ref.index };
        if (s == status(c.NWAL_DONE)) return .done;
        try check(s);
        return .{ .record = item };
    }

    pub fn deinit(self: Follower) void {
        c.nwal_follow_free(self.handle);
    }
};

/// A replay iterator, used by one thread at a time.
pub const Iter = struct {
    handle: *c.nwal_iter,

    pub const Item = struct { ref: Ref, record: Record };

    /// The next record, null at the end of the log. The record is valid
    /// until the next `next` or `deinit`.
    pub fn next(self: Iter) Error!?Item {
        var item: Item = undefined;
        const s = c.nwal_iter_next(self.handle, &item.record.raw, &item.ref);
        if (s == status(c.NWAL_DONE)) return null;
        try check(s);
        return item;
    }

    /// Up to `out.len` next records at once (what as many `next` calls
    /// would return; fewer where the library's read buffer ends), their
    /// refs into `out_refs` if not null (at least `out.len` slots): the
    /// number returned, 0 at the end of the log. Valid until the next call
    /// or `deinit`.
    pub fn nextBatch(self: Iter, out: []Record, out_refs: ?[]Ref) Error!usize {
        if (out_refs) |r| if (r.len < out.len) return error.InvalidArgument;
        const refs: [*c]Ref = if (out_refs) |r| r.ptr else null;
        var n: usize = 0;
        const s = c.nwal_iter_next_batch(self.handle, @ptrCast(out.ptr), refs, out.len, &n);
        if (s == status(c.NWAL_DONE)) return 0;
        try check(s);
        return n;
    }

    pub fn deinit(self: Iter) void {
        c.nwal_iter_free(self.handle);
    }
};

// ---- tests (`zig build test`, against the installed library) ----

const testing = std.testing;
const test_now_ms: i64 = 1711234567890;

fn tmpLogDir(tmp: *testing.TmpDir) ![:0]u8 {
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    return testing.allocator.dupeZ(u8, dir);
}

test "waiting for durability, a follower and the event fd" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpLogDir(&tmp);
    defer testing.allocator.free(dir);
    const log = try Log.open(dir, "follow", null);
    _ = try log.append(null, "one", test_now_ms, 0);
    try testing.expect(!try log.waitDurable(1, 0));
    try testing.expect(try log.waitDurable(1, -1));
    try testing.expectError(error.NotFound, log.waitDurable(2, -1));

    const f = try log.follow(1, true);
    defer f.deinit();
    switch (try f.next(0)) {
        .record => |item| {
            try testing.expectEqual(@as(u64, 1), item.ref.index);
            try testing.expectEqualStrings("one", item.record.content());
        },
        else => return error.TestUnexpectedResult,
    }
    try testing.expect(try f.next(0) == .timed_out);
    try log.hold("reader", 1);
    try testing.expectEqual(@as(u64, 1), try log.holdIndex("reader"));
    try log.releaseHold("reader");
    try testing.expectError(error.NotFound, log.holdIndex("reader"));
    try log.truncateAfter(0);
    const step = try f.next(0);
    try testing.expect(step == .cut and step.cut == 1);

    const fd = try log.eventFd();
    try log.clearEvent();
    var pfd = [_]std.posix.pollfd{.{ .fd = fd, .events = std.posix.POLL.IN, .revents = 0 }};
    try testing.expectEqual(@as(usize, 0), try std.posix.poll(&pfd, 0));
    _ = try log.append(null, "two", test_now_ms, 0);
    try testing.expectEqual(@as(usize, 1), try std.posix.poll(&pfd, 0));
    try log.close();
    // The close synced "two": the durable follower gets it, then the end.
    try testing.expect(try f.next(-1) == .record);
    try testing.expect(try f.next(-1) == .done);
}

test "statuses map to errors and back" {
    try check(status(c.NWAL_OK));
    try testing.expectError(error.Locked, check(status(c.NWAL_ERR_LOCKED)));
    try testing.expectError(error.UnknownStatus, check(12345));
    inline for (@typeInfo(Error).error_set.?) |e| {
        const err = @field(Error, e.name);
        if (err != error.UnknownStatus) {
            try testing.expectError(err, check(@intCast(statusOf(err))));
            try testing.expect(std.mem.startsWith(u8, statusName(statusOf(err)), "NWAL_ERR_"));
        }
    }
    try testing.expectEqualStrings("NWAL_UNKNOWN_STATUS", statusName(statusOf(error.UnknownStatus)));
    var buf: [32]u8 = undefined;
    const v = try std.fmt.bufPrint(&buf, "{d}.{d}.{d}", .{ header_version.major, header_version.minor, header_version.patch });
    try testing.expectEqualStrings(v, version());
}

test "append, batches, reads by ref and index, replay, state, errors" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpLogDir(&tmp);
    defer testing.allocator.free(dir);

    var opts = defaultOptions();
    opts.segment_duration_ms = 10 * 60 * 1000;
    opts.retention_ms = 60 * 60 * 1000;
    opts.first_index = 10;
    const log = try Log.open(dir, "pkg", &opts);

    var refs: [5]Ref = undefined;
    refs[0] = try log.append("h0", "zero", test_now_ms, durable);
    refs[1] = try log.append(null, "one", test_now_ms, 0);
    const entries = [_]c.nwal_write_entry{ writeEntry("h2", "two"), writeEntry("", "three") };
    try log.appendBatch(&entries, test_now_ms, 0, refs[2..4]);
    const packed_buf = "hfour";
    const spans = [_]Span{.{ .header_off = 0, .header_len = 1, .content_off = 1, .content_len = 4, .has_header = 1, .reserved = 0 }};
    try log.appendBatchPacked(packed_buf, &spans, test_now_ms, durable, refs[4..5]);
    for (refs, 0..) |r, i| try testing.expectEqual(@as(u64, 10 + i), r.index);

    const want_headers = [_]?[]const u8{ "h0", null, "h2", "", "h" };
    const want_contents = [_][]const u8{ "zero", "one", "two", "three", "four" };
    var recs: [5]Record = undefined;
    const rb = try log.readBatch(&refs, &recs);
    for (recs, want_headers, want_contents) |rec, h, content| {
        try testing.expectEqual(h == null, rec.header() == null);
        if (h) |hh| try testing.expectEqualStrings(hh, rec.header().?);
        try testing.expectEqualStrings(content, rec.content());
    }
    rb.deinit();

    // By index: a budget of 7 bytes holds "h2" + "two" (5 bytes), not
    // "three" too (10).
    var range_refs: [4]Ref = undefined;
    const range = try log.readRange(12, recs[0..4], &range_refs, 7);
    try testing.expectEqual(@as(usize, 1), range.count);
    try testing.expectEqualStrings("two", recs[0].content());
    try testing.expectEqual(refs[2].offset, range_refs[0].offset);
    range.buf.deinit();
    try testing.expectError(error.InvalidArgument, log.readRange(12, &recs, &range_refs, 7));
    try testing.expectError(error.NotFound, log.readRange(15, recs[0..1], null, 0));

    var it = try log.replayFromIndex(13);
    var n: usize = 0;
    while (try it.next()) |item| : (n += 1) {
        try testing.expectEqual(refs[3 + n].index, item.ref.index);
        try testing.expectEqualStrings(want_contents[3 + n], item.record.content());
    }
    try testing.expectEqual(@as(usize, 2), n);
    it.deinit();
    it = try log.replay(&refs[4]);
    try testing.expectEqualStrings("four", (try it.next()).?.record.content());
    try testing.expect(try it.next() == null);
    it.deinit();

    try log.sync();
    const st = try log.state();
    try testing.expectEqual(@as(u64, 10), st.first_index);
    try testing.expectEqual(@as(u64, 14), st.last_index);
    try testing.expectEqual(@as(u64, 14), st.durable_index);
    const cr = try log.cleanup(test_now_ms);
    try testing.expectEqual(@as(u64, 0), cr.deleted_segments);

    try testing.expectError(error.Locked, Log.open(dir, "pkg", null));
    try testing.expect(std.mem.indexOf(u8, lastErrorMessage(), "locked") != null);
    try testing.expectError(error.InvalidArgument, Log.open(dir, "../bad", null));
    var bad = defaultOptions();
    bad.reserved[0] = 1;
    try testing.expectError(error.InvalidConfig, Log.open(dir, "other", &bad));
    try testing.expectError(error.Io, Log.open("/dev/null/wal", "s", null));
    try testing.expectEqual(@as(c_int, @intFromEnum(std.posix.E.NOTDIR)), lastOsError());
    const big = [_]u8{'h'} ** 65536;
    try testing.expectError(error.HeaderTooLarge, log.append(&big, "x", test_now_ms, 0));
    try testing.expect(std.mem.indexOf(u8, lastErrorMessage(), "65536") != null);
    try testing.expectError(error.InvalidArgument, log.append(null, "x", test_now_ms, 2));
    var missing = refs[0];
    missing.segment_id += 1000;
    try testing.expectError(error.NotFound, log.readBatch(&.{missing}, &recs));
    try testing.expectError(error.InvalidArgument, log.appendBatch(&entries, test_now_ms, 0, refs[0..1]));
    const bad_span = [_]Span{.{ .header_off = 0, .header_len = 0, .content_off = 3, .content_len = 9, .has_header = 0, .reserved = 0 }};
    try testing.expectError(error.InvalidArgument, log.appendBatchPacked(packed_buf, &bad_span, test_now_ms, 0, null));
    try testing.expectEqual(@as(u64, 14), (try log.state()).last_index);

    try log.shutdown();
    try testing.expectError(error.Shutdown, log.append(null, "late", test_now_ms, 0));
    try log.close();
}

test "batches of replayed records and reads into a kept buffer" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpLogDir(&tmp);
    defer testing.allocator.free(dir);
    const log = try Log.open(dir, "batch", null);
    var refs: [20]Ref = undefined;
    var text: [20][8]u8 = undefined;
    for (&refs, 0..) |*r, i| {
        const content = try std.fmt.bufPrint(&text[i], "rec-{d}", .{i});
        r.* = try log.append(null, content, test_now_ms, 0);
    }

    // Batches of 6: every record once, in order; 0 at the end.
    var it = try log.replay(null);
    var recs: [6]Record = undefined;
    var got: [6]Ref = undefined;
    var seen: usize = 0;
    while (true) {
        const n = try it.nextBatch(&recs, &got);
        if (n == 0) break;
        for (recs[0..n], got[0..n]) |rec, r| {
            var want: [8]u8 = undefined;
            try testing.expectEqualStrings(try std.fmt.bufPrint(&want, "rec-{d}", .{seen}), rec.content());
            try testing.expectEqual(refs[seen].index, r.index);
            seen += 1;
        }
    }
    try testing.expectEqual(@as(usize, 20), seen);
    try testing.expectError(error.InvalidArgument, it.nextBatch(recs[0..0], null));
    try testing.expectError(error.InvalidArgument, it.nextBatch(&recs, got[0..2]));
    it.deinit();

    // One buffer, refilled by each read.
    const buf = try ReadBuf.init();
    defer buf.deinit();
    try testing.expectEqualStrings("rec-3", (try log.readInto(refs[3], buf)).content());
    try testing.expectEqualStrings("rec-17", (try log.readInto(refs[17], buf)).content());
    var two: [2]Record = undefined;
    try log.readBatchInto(&.{ refs[9], refs[1] }, buf, &two);
    try testing.expectEqualStrings("rec-9", two[0].content());
    try testing.expectEqualStrings("rec-1", two[1].content());
    try testing.expectError(error.InvalidArgument, log.readBatchInto(&.{ refs[9], refs[1] }, buf, two[0..1]));
    var range_refs: [6]Ref = undefined;
    const n = try log.readRangeInto(refs[15].index, buf, &recs, &range_refs, std.math.maxInt(u64));
    try testing.expectEqual(@as(usize, 5), n);
    try testing.expectEqualStrings("rec-19", recs[4].content());
    try testing.expectEqual(refs[19].offset, range_refs[4].offset);
    var missing = refs[0];
    missing.segment_id += 1000;
    try testing.expectError(error.NotFound, log.readInto(missing, buf));
    try testing.expectEqualStrings("rec-0", (try log.readInto(refs[0], buf)).content());
    try log.close();
}

test "metadata: put, get, length, errors" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpLogDir(&tmp);
    defer testing.allocator.free(dir);
    const log = try Log.open(dir, "meta", null);

    try log.metaPut("raft.term", "12");
    try log.metaPut("empty", "");
    var buf: [8]u8 = undefined;
    try testing.expectEqualStrings("12", try log.metaGet("raft.term", &buf));
    try testing.expectEqual(@as(usize, 2), try log.metaLen("raft.term"));
    try testing.expectEqualStrings("", try log.metaGet("empty", &buf));
    try testing.expectEqual(@as(usize, 0), try log.metaLen("empty"));
    try log.metaPut("raft.term", "123456789");
    try testing.expectError(error.BufferTooSmall, log.metaGet("raft.term", &buf));
    try testing.expectEqual(@as(usize, 9), try log.metaLen("raft.term"));
    var big: [9]u8 = undefined;
    try testing.expectEqualStrings("123456789", try log.metaGet("raft.term", &big));
    try testing.expectError(error.NotFound, log.metaGet("missing", &buf));
    try testing.expectError(error.NotFound, log.metaLen("missing"));
    try testing.expectError(error.InvalidArgument, log.metaPut("bad key", "x"));
    const too_long = [_]u8{'v'} ** 4097;
    try testing.expectError(error.InvalidArgument, log.metaPut("k", &too_long));
    try testing.expect(std.mem.indexOf(u8, lastErrorMessage(), "4097") != null);
    try log.close();
}

test "truncate after an index, purge before one, reset" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpLogDir(&tmp);
    defer testing.allocator.free(dir);
    var log = try Log.open(dir, "trunc", null);
    var st: LogState = undefined;

    var refs: [4]Ref = undefined;
    for (&refs, 0..) |*r, i| r.* = try log.append(null, &.{@as(u8, '0') + @as(u8, @intCast(i))}, test_now_ms, 0);
    try log.truncateAfter(2);
    try testing.expectEqual(@as(u64, 2), (try log.state()).last_index);
    var recs: [1]Record = undefined;
    try testing.expectError(error.NotFound, log.readBatch(refs[2..3], &recs));
    const again = try log.append(null, "new", test_now_ms, 0);
    try testing.expectEqual(@as(u64, 3), again.index);
    try testing.expectError(error.NotFound, log.readBatch(refs[2..3], &recs));
    // Deferred: the same reads at once; sync makes it durable.
    try log.truncateAfterDeferred(2);
    try testing.expectEqual(@as(u64, 2), (try log.state()).last_index);
    const again2 = try log.append(null, "newer", test_now_ms, 0);
    try testing.expectEqual(@as(u64, 3), again2.index);
    try testing.expectError(error.NotFound, log.readBatch(&.{again}, &recs));
    try log.sync();

    // Purge the head: records 3 and 4 in segments an hour apart (the
    // default segment duration), then keep only 4.
    _ = try log.append(null, "later", test_now_ms + 3600 * 1000, 0);
    try log.purgeBefore(4);
    st = try log.state();
    try testing.expectEqual(@as(u64, 4), st.first_index);
    try testing.expectEqual(@as(u64, 4), st.last_index);
    try testing.expectError(error.NotFound, log.readRange(3, recs[0..1], null, 0));
    try testing.expectError(error.InvalidArgument, log.purgeBefore(6));
    try log.purgeBefore(1);
    try testing.expectEqual(@as(u64, 4), (try log.state()).first_index);
    // Deferred: the same checks; every record dropped, the sync makes it durable.
    try testing.expectError(error.InvalidArgument, log.purgeBeforeDeferred(6));
    try log.purgeBeforeDeferred(5);
    st = try log.state();
    try testing.expectEqual(@as(u64, 5), st.first_index);
    try testing.expectEqual(@as(u64, 4), st.last_index);
    try log.sync();

    try log.reset(500);
    st = try log.state();
    try testing.expectEqual(@as(u64, 500), st.first_index);
    try testing.expectEqual(@as(u64, 499), st.last_index);
    try testing.expectEqual(@as(u64, 500), (try log.append(null, "r", test_now_ms, durable)).index);
    try testing.expectError(error.InvalidArgument, log.reset(0));
    try testing.expectError(error.InvalidArgument, log.truncateAfter(10)); // below first_index - 1
    try log.close();

    log = try Log.open(dir, "trunc", null);
    st = try log.state();
    try testing.expectEqual(@as(u64, 500), st.first_index);
    try testing.expectEqual(@as(u64, 500), st.last_index);
    try log.shutdown();
    try testing.expectError(error.Shutdown, log.reset(1));
    try log.close();
}

test "retention: expiry, a hold, the size budget, the active segment" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpLogDir(&tmp);
    defer testing.allocator.free(dir);
    // Windows of 1 s kept 2 s after they end: window [w, w + 1000) expires
    // at w + 3000. One record in each of four windows: four segments.
    var opts = defaultOptions();
    opts.segment_duration_ms = 1000;
    opts.retention_ms = 2000;
    var log = try Log.open(dir, "ret", &opts);
    var refs: [4]Ref = undefined;
    for (&refs, 0..) |*r, i| r.* = try log.append(null, "x", @as(i64, @intCast(i)) * 1000, 0);
    try log.hold("replica", 2);

    try testing.expectEqual(@as(usize, 4), try log.retentionCount(0));
    var small: [3]SegmentRetention = undefined;
    try testing.expectError(error.BufferTooSmall, log.retention(0, &small));
    var slots: [8]SegmentRetention = undefined;
    var r = try log.retention(3999, &slots);
    try testing.expectEqual(@as(usize, 4), r.len);
    for (r, refs, 0..) |s, ref, i| {
        try testing.expectEqual(ref.segment_id, s.segment_id);
        try testing.expectEqual(@as(i64, @intCast(i)) * 1000 + 3000, s.expiration_ms);
        try testing.expect(s.file_size > 0);
    }
    try testing.expectEqual(delete_expired, r[0].deleted_by);
    try testing.expectEqual(@as(u32, 0), r[0].kept);
    try testing.expectEqual(kept_held | kept_not_expired, r[1].kept);
    try testing.expectEqual(@as(u64, 1), r[1].holds);
    try testing.expectEqual(@as(u64, 2), r[1].hold_index);
    try testing.expectEqualStrings("replica", holdName(&r[1]));
    try testing.expectEqual(kept_active | kept_held | kept_not_expired, r[3].kept);
    try testing.expectEqualStrings("", holdName(&r[0]));
    try log.releaseHold("replica");
    try log.close();

    // A one-byte budget: every sealed segment goes before it expires.
    opts.max_stream_bytes = 1;
    log = try Log.open(dir, "ret", &opts);
    r = try log.retention(0, &slots);
    for (r[0..3]) |s| try testing.expectEqual(delete_size_budget, s.deleted_by);
    try testing.expectEqual(kept_active | kept_not_expired, r[3].kept);
    const cr = try log.cleanup(0);
    try testing.expectEqual(@as(u64, 3), cr.deleted_over_budget);
    try log.close();

    // No budget to speak of: each unexpired segment is within it.
    opts.max_stream_bytes = std.math.maxInt(u64);
    log = try Log.open(dir, "ret", &opts);
    r = try log.retention(0, &slots);
    try testing.expectEqual(@as(usize, 1), r.len);
    try testing.expectEqual(kept_active | kept_not_expired | kept_within_budget, r[0].kept);
    try testing.expectError(error.InvalidArgument, check(c.nwal_retention(log.handle, 0, null, 1, null)));
    try log.close();
}

test "recovery report after a torn tail" {
    var tmp = testing.tmpDir(.{ .iterate = true });
    defer tmp.cleanup();
    const dir = try tmpLogDir(&tmp);
    defer testing.allocator.free(dir);
    var log = try Log.open(dir, "torn", null);
    var rr = try log.recoveryReport();
    try testing.expectEqual(@as(u32, 0), rr.has_tail);
    _ = try log.append(null, "one", test_now_ms, durable);
    const two = try log.append(null, "two", test_now_ms, durable);
    try log.close();

    // Garbage and zeros after the last record, as a torn write leaves.
    var it = tmp.dir.iterate();
    var name_buf: [256]u8 = undefined;
    var name: []const u8 = "";
    while (try it.next()) |entry| {
        if (std.mem.endsWith(u8, entry.name, ".seg")) {
            @memcpy(name_buf[0..entry.name.len], entry.name);
            name = name_buf[0..entry.name.len];
        }
    }
    const file = try tmp.dir.openFile(name, .{ .mode = .write_only });
    const size = try file.getEndPos();
    try file.seekTo(size);
    try file.writeAll(&([_]u8{ 0x2a, 0, 0, 0, 0x99 } ++ [_]u8{0} ** 27));
    file.close();

    log = try Log.open(dir, "torn", null);
    rr = try log.recoveryReport();
    try testing.expectEqual(@as(u32, 1), rr.has_tail);
    try testing.expectEqual(two.segment_id, rr.tail_segment_id);
    try testing.expectEqual(size + 32, rr.found_len);
    try testing.expectEqual(size, rr.kept_len);
    try testing.expectEqual(@as(u64, 2), rr.records_kept);
    try testing.expectEqual(@as(u32, 0), rr.cut_below_durable);
    try testing.expect(rr.durable_watermark > 0 and rr.durable_watermark <= size);
    try testing.expectEqual(@as(u64, 2), (try log.state()).last_index);
    try log.close();
}

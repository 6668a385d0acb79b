// The Zig consumer test of nano_wal. `nano_wal.zig` is generated at test
// time from the installed header (`zig translate-c nano_wal.h`, no
// @cImport, which Zig 0.17 removed); tests/install/check_consumers.sh puts
// it next to a copy of this file and runs
// `zig test nano_wal_test.zig -lc -lnano_wal`.
const std = @import("std");
const c = @import("nano_wal.zig");

fn expectStatus(want: anytype, got: anytype) !void {
    if (@as(i64, want) != @as(i64, got)) {
        std.debug.print("status {s}, want {s}: {s}\n", .{
            std.mem.span(c.nwal_status_name(@intCast(got))),
            std.mem.span(c.nwal_status_name(@intCast(want))),
            std.mem.span(c.nwal_last_error_message()),
        });
        return error.UnexpectedStatus;
    }
}

fn slice(ptr: [*c]const u8, len: usize) []const u8 {
    return if (len == 0) &.{} else ptr[0..len];
}

const now_ms: i64 = 1711234567890;

test "open, append, read, replay, close; errors" {
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    const alloc = std.testing.allocator;
    const dir = try tmp.dir.realpathAlloc(alloc, ".");
    defer alloc.free(dir);
    const dirz = try alloc.dupeZ(u8, dir);
    defer alloc.free(dirz);

    var opts = c.nwal_options_default();
    opts.segment_duration_ms = 10 * 60 * 1000;
    opts.retention_ms = 60 * 60 * 1000;
    var w: ?*c.nwal = null;
    try expectStatus(c.NWAL_OK, c.nwal_open(dirz.ptr, "zig", &opts, &w));

    const contents = [_][]const u8{ "first", "second", "third" };
    const header = "type=zig";
    var refs: [3]c.nwal_entry_ref = undefined;
    for (contents, 0..) |content, i| {
        const flags: u32 = if (i == 2) c.NWAL_DURABLE else 0;
        try expectStatus(c.NWAL_OK, c.nwal_append(w, header.ptr, header.len, content.ptr, content.len, now_ms, flags, &refs[i]));
    }
    try std.testing.expect(refs[1].offset > refs[0].offset and refs[2].offset > refs[1].offset);
    try std.testing.expect(refs[1].index == refs[0].index + 1 and refs[2].index == refs[1].index + 1);

    // Read back by ref: the records point into `buf` until it is freed.
    var recs: [3]c.nwal_record = undefined;
    var buf: ?*c.nwal_read_buf = null;
    try expectStatus(c.NWAL_OK, c.nwal_read_batch(w, &refs, refs.len, &recs, &buf));
    for (recs, contents) |rec, content| {
        try std.testing.expectEqualStrings(header, slice(rec.header, rec.header_len));
        try std.testing.expectEqualStrings(content, slice(rec.content, rec.content_len));
    }
    c.nwal_read_buf_free(buf);

    // Replay the whole log in order, then from refs[1] (inclusive).
    var it: ?*c.nwal_iter = null;
    try expectStatus(c.NWAL_OK, c.nwal_iter_open(w, null, &it));
    var rec: c.nwal_record = undefined;
    var ref: c.nwal_entry_ref = undefined;
    var n: usize = 0;
    while (true) : (n += 1) {
        const s = c.nwal_iter_next(it, &rec, &ref);
        if (s == c.NWAL_DONE) break;
        try expectStatus(c.NWAL_OK, s);
        try std.testing.expectEqual(refs[n].offset, ref.offset);
        try std.testing.expectEqual(refs[n].index, ref.index);
        try std.testing.expectEqualStrings(contents[n], slice(rec.content, rec.content_len));
    }
    try std.testing.expectEqual(@as(usize, 3), n);
    c.nwal_iter_free(it);
    try expectStatus(c.NWAL_OK, c.nwal_iter_open(w, &refs[1], &it));
    try expectStatus(c.NWAL_OK, c.nwal_iter_next(it, &rec, &ref));
    try std.testing.expectEqualStrings("second", slice(rec.content, rec.content_len));
    c.nwal_iter_free(it);

    // Errors: the stream is locked by `w`; a header over 65,535 bytes; a ref
    // into a segment that does not exist.
    var w2: ?*c.nwal = null;
    try expectStatus(c.NWAL_ERR_LOCKED, c.nwal_open(dirz.ptr, "zig", null, &w2));
    try std.testing.expect(w2 == null);
    try std.testing.expectEqualStrings("NWAL_ERR_LOCKED", std.mem.span(c.nwal_status_name(c.NWAL_ERR_LOCKED)));
    const big = try alloc.alloc(u8, 65536);
    defer alloc.free(big);
    @memset(big, 'h');
    try expectStatus(c.NWAL_ERR_HEADER_TOO_LARGE, c.nwal_append(w, big.ptr, big.len, "x", 1, now_ms, 0, null));
    try std.testing.expect(std.mem.indexOf(u8, std.mem.span(c.nwal_last_error_message()), "65536") != null);
    var missing = refs[0];
    missing.segment_id += 1000;
    try expectStatus(c.NWAL_ERR_NOT_FOUND, c.nwal_read_batch(w, &missing, 1, &recs, &buf));
    try expectStatus(c.NWAL_ERR_INVALID_ARGUMENT, c.nwal_append(w, null, 0, null, 5, now_ms, 0, null));

    try expectStatus(c.NWAL_OK, c.nwal_close(w));

    // Closed, the stream can be opened again and holds the three records.
    try expectStatus(c.NWAL_OK, c.nwal_open(dirz.ptr, "zig", null, &w));
    try expectStatus(c.NWAL_OK, c.nwal_iter_open(w, null, &it));
    n = 0;
    while (c.nwal_iter_next(it, &rec, &ref) == c.NWAL_OK) n += 1;
    try std.testing.expectEqual(@as(usize, 3), n);
    c.nwal_iter_free(it);
    try expectStatus(c.NWAL_OK, c.nwal_close(w));
}

// SPDX-License-Identifier: MIT
// The Zig consumer test of nano_wal: a package depending on the nano_wal
// package (build.zig.zon) and importing its module, run against a staged
// install by tests/install/check_consumers.sh.
const std = @import("std");
const nwal = @import("nano_wal");

const now_ms: i64 = 1711234567890;

test "open, append, read, replay, close; errors" {
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    const alloc = std.testing.allocator;
    const dir = try tmp.dir.realpathAlloc(alloc, ".");
    defer alloc.free(dir);
    const dirz = try alloc.dupeZ(u8, dir);
    defer alloc.free(dirz);

    var opts = nwal.defaultOptions();
    opts.segment_duration_ms = 10 * 60 * 1000;
    opts.retention_ms = 60 * 60 * 1000;
    const log = try nwal.Log.open(dirz, "zig", &opts);

    const contents = [_][]const u8{ "first", "second", "third" };
    var refs: [3]nwal.Ref = undefined;
    for (contents, 0..) |content, i| {
        refs[i] = try log.append("type=zig", content, now_ms, if (i == 2) nwal.durable else 0);
    }
    try std.testing.expect(refs[1].offset > refs[0].offset and refs[2].offset > refs[1].offset);
    try std.testing.expect(refs[1].index == refs[0].index + 1 and refs[2].index == refs[1].index + 1);

    // Read back by ref: the records are views into `buf` until its deinit.
    var recs: [3]nwal.Record = undefined;
    const buf = try log.readBatch(&refs, &recs);
    for (recs, contents) |rec, content| {
        try std.testing.expectEqualStrings("type=zig", rec.header().?);
        try std.testing.expectEqualStrings(content, rec.content());
    }
    buf.deinit();

    // Replay the whole log in order, then from refs[1] (inclusive).
    var it = try log.replay(null);
    var n: usize = 0;
    while (try it.next()) |item| : (n += 1) {
        try std.testing.expectEqual(refs[n].offset, item.ref.offset);
        try std.testing.expectEqual(refs[n].index, item.ref.index);
        try std.testing.expectEqualStrings(contents[n], item.record.content());
    }
    try std.testing.expectEqual(@as(usize, 3), n);
    it.deinit();
    it = try log.replay(&refs[1]);
    try std.testing.expectEqualStrings("second", (try it.next()).?.record.content());
    it.deinit();

    // Errors: the stream is locked by `log`; a header over 65,535 bytes; a
    // ref into a segment that does not exist; content NULL with a length
    // (through the translated header, which the package exposes as `c`).
    try std.testing.expectError(error.Locked, nwal.Log.open(dirz, "zig", null));
    try std.testing.expectEqualStrings("NWAL_ERR_LOCKED", nwal.statusName(nwal.statusOf(error.Locked)));
    const big = try alloc.alloc(u8, 65536);
    defer alloc.free(big);
    @memset(big, 'h');
    try std.testing.expectError(error.HeaderTooLarge, log.append(big, "x", now_ms, 0));
    try std.testing.expect(std.mem.indexOf(u8, nwal.lastErrorMessage(), "65536") != null);
    var missing = refs[0];
    missing.segment_id += 1000;
    try std.testing.expectError(error.NotFound, log.readBatch(&.{missing}, &recs));
    try std.testing.expectError(error.InvalidArgument, nwal.check(nwal.c.nwal_append(log.handle, null, 0, null, 5, now_ms, 0, null)));

    try log.metaPut("snapshot.index", "2");
    try log.close();

    // Closed, the stream can be opened again and holds the three records
    // and the metadata.
    const again = try nwal.Log.open(dirz, "zig", null);
    it = try again.replay(null);
    n = 0;
    while (try it.next()) |_| n += 1;
    try std.testing.expectEqual(@as(usize, 3), n);
    it.deinit();
    var value: [16]u8 = undefined;
    try std.testing.expectEqualStrings("2", try again.metaGet("snapshot.index", &value));
    try again.close();
}

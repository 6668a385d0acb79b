// SPDX-License-Identifier: MIT
//! A consumer of the nano_wal Zig package, as a user's package would be:
//! it depends on it in build.zig.zon and imports its module `nano_wal`.
//! `zig build test -Dinclude_dir=... -Dlib_dir=...` (passed on to the
//! package) runs consumer_test.zig against an installed library.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const include_dir = b.option([]const u8, "include_dir", "directory of the installed nano_wal.h");
    const lib_dir = b.option([]const u8, "lib_dir", "directory of the installed libnano_wal.so");

    const nano_wal = b.dependency("nano_wal", .{
        .target = target,
        .optimize = optimize,
        .include_dir = include_dir,
        .lib_dir = lib_dir,
    });
    const tests = b.addTest(.{ .root_module = b.createModule(.{
        .root_source_file = b.path("consumer_test.zig"),
        .target = target,
        .optimize = optimize,
        .imports = &.{.{ .name = "nano_wal", .module = nano_wal.module("nano_wal") }},
    }) });
    const test_step = b.step("test", "Run the consumer test");
    test_step.dependOn(&b.addRunArtifact(tests).step);
}

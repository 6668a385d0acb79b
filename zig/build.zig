// SPDX-License-Identifier: MIT
//! The Zig package of nano_wal: the installed C header translated by the
//! build system (`addTranslateC`, no @cImport) and wrapped in
//! src/nano_wal.zig, which turns the statuses into the error set `Error`.
//!
//! Options (both optional; the defaults are the C compiler's and the
//! linker's search paths, as for an install under /usr):
//!   -Dinclude_dir=DIR  the directory holding nano_wal.h
//!   -Dlib_dir=DIR      the directory holding libnano_wal.so, also added as
//!                      the run path of what links the module
//! `zig build test` runs the package's tests against that library.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const include_dir = b.option([]const u8, "include_dir", "directory of the installed nano_wal.h");
    const lib_dir = b.option([]const u8, "lib_dir", "directory of the installed libnano_wal.so (also the run path)");

    const header = b.addTranslateC(.{
        .root_source_file = b.path("src/c.h"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    if (include_dir) |dir| header.addIncludePath(.{ .cwd_relative = dir });

    const mod = b.addModule("nano_wal", .{
        .root_source_file = b.path("src/nano_wal.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{.{ .name = "c", .module = header.createModule() }},
    });
    mod.linkSystemLibrary("nano_wal", .{ .use_pkg_config = .no });
    if (lib_dir) |dir| {
        mod.addLibraryPath(.{ .cwd_relative = dir });
        mod.addRPath(.{ .cwd_relative = dir });
    }

    const tests = b.addTest(.{ .root_module = mod });
    const test_step = b.step("test", "Run the package's tests against the installed library");
    test_step.dependOn(&b.addRunArtifact(tests).step);
}

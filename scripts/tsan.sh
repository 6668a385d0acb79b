#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ThreadSanitizer on the engine's own synchronisation, from Rust and through
# the C API. Any report fails the run (halt_on_error=1, exit status 66).
# No suppressions.
#
# Everything that can race is instrumented: the engine, its dependencies and
# std itself, rebuilt with -Zsanitizer=thread (-Zbuild-std; needs the
# rust-src component, added here when missing). These are nightly flags;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
#
# 1. Rust: the multi-threaded test suites (stress, api, flaws, meta, follow
#    and the unit tests) without fault injection, then faults.rs and
#    follow.rs (its held-sync tests) with it. Apart because
#    the fault table is a global Mutex taken on every write and sync: it
#    would order the writers for TSan and hide races.
# 2. C: libnano_wal.a built the same way; every tests/c/test_concurrent*.c
#    and tests/c/test_follow.c compiled with gcc -fsanitize=thread and linked with the TSan runtime
#    that rustc ships (librustc-stable_rt.tsan.a, from the same LLVM that
#    instrumented the Rust code). gcc's own libtsan (gcc 12) lacks
#    __tsan_memcpy/__tsan_memmove/__tsan_memset, which that LLVM emits.
#
# Usage: scripts/tsan.sh [BUILD_DIR]   (default: build/tsan)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

build=${1:-build/tsan}
target=$(rustc -vV | sed -n 's/^host: //p')
sysroot=$(rustc --print sysroot)
need_rust_src
runtime="$sysroot/lib/rustlib/$target/lib/librustc-stable_rt.tsan.a"
[ -f "$runtime" ] || { echo "no TSan runtime at $runtime" >&2; exit 1; }

export RUSTC_BOOTSTRAP=1
# With --target, RUSTFLAGS reach every crate of the target (std included)
# but not build scripts, which run uninstrumented on the host.
export RUSTFLAGS="-Zsanitizer=thread"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
cargo_tsan=(-Zbuild-std --target "$target" --target-dir "$build/cargo" --locked)

section "TSan: Rust concurrency tests (stress, api, flaws, meta, follow, unit tests)"
cargo test "${cargo_tsan[@]}" --lib --test stress --test api --test flaws --test meta --test follow

section "TSan: Rust fault-injection tests (faults, follow with held syncs)"
cargo test "${cargo_tsan[@]}" --features fault-injection --test faults --test follow

section "TSan: C concurrency tests against the instrumented libnano_wal.a"
cargo build "${cargo_tsan[@]}" --lib
lib="$build/cargo/$target/debug/libnano_wal.a"
mkdir -p "$build/c"
for src in tests/c/test_concurrent*.c tests/c/test_follow.c; do
  name=$(basename "$src" .c)
  gcc -std=c11 -Wall -Wextra -Werror -g -O1 -fsanitize=thread -Iinclude \
    -c "$src" -o "$build/c/$name.o"
  # No -fsanitize=thread when linking: that would add gcc's libtsan next to
  # the runtime linked here.
  gcc -o "$build/c/$name" "$build/c/$name.o" "$lib" \
    -Wl,--whole-archive "$runtime" -Wl,--no-whole-archive \
    -lpthread -ldl -lm -lrt -lutil -lgcc_s
  "$build/c/$name"
done

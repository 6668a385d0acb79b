#!/usr/bin/env bash
# Runs every test suite of nano_wal. Installs what this machine lacks
# (idempotently: `apt-get update` at most once, then `apt-get install`).
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --all-features -- -D warnings

section "the declared minimum Rust version (rust-version in Cargo.toml) builds everything"
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
need_rust_toolchain "$msrv"
cargo "+$msrv" check --all-targets --target-dir target/msrv

section "cargo test"
cargo test

section "cargo test again with fault injection (tests that need it: faults.rs and parts of api, flaws, recovery)"
cargo test --features fault-injection

section "cargo test: the FFI panic boundary (test-only nwal_test_panic)"
cargo test --features test-panic --test ffi_panic

# The C ABI: C tests and examples through CTest, three times over (plain
# release build; ASan+UBSan; valgrind memcheck). The sanitizer and valgrind
# builds use the dev profile with the `test-panic` feature, so the panic test
# (tests/c/test_panic.c) runs in both.
need_apt cmake cmake
need_apt valgrind valgrind
need_apt c++ g++
need_apt pkg-config pkgconf

section "C ABI: release build, C tests and examples (CTest)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j2
ctest --test-dir build/release --output-on-failure -j2

section "Installed library used from Go (cgo) and Zig (tests/install/check_consumers.sh)"
tests/install/check_consumers.sh build/release .

section "ABI check: abidiff against the baseline abi/libnano_wal.abi"
scripts/check-abi.sh

section "C ABI: C tests and examples under AddressSanitizer + UBSan"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DNWAL_SANITIZE=ON \
  -DNWAL_CARGO_PROFILE=dev -DNWAL_CARGO_FEATURES=test-panic
cmake --build build/asan -j2
ctest --test-dir build/asan --output-on-failure -j2

section "C ABI: C tests and examples under valgrind memcheck"
cmake -S . -B build/valgrind -DCMAKE_BUILD_TYPE=Release -DNWAL_VALGRIND_TESTS=ON \
  -DNWAL_CARGO_PROFILE=dev -DNWAL_CARGO_FEATURES=test-panic \
  -DNWAL_CARGO_TARGET_DIR="$PWD/build/asan/cargo"
cmake --build build/valgrind -j2
ctest --test-dir build/valgrind --output-on-failure -j2

# The engine's own synchronisation under ThreadSanitizer: the multi-threaded
# Rust suites and the C concurrency tests, with the engine and std
# instrumented: -Zbuild-std needs the rust-src component (added if missing).
section "ThreadSanitizer: Rust and C concurrency tests (scripts/tsan.sh)"
need_rust_src
scripts/tsan.sh build/tsan

# The measuring stick (a separate crate, not built by the root
# `cargo test`): it must build cleanly, and a --quick run must measure every
# nano_wal column and raw limit (the bench exits non-zero when one fails; a
# peer's failure only shows in its cell). Nothing here checks a speed.
section "bench/: fmt, clippy, and a --quick run (bench/README.md)"
(cd bench && cargo fmt --check && cargo clippy --release --all-targets -- -D warnings)
cargo run --release --manifest-path bench/Cargo.toml -- --quick \
  --out target/bench-quick/BENCHMARKS.md

echo "All test suites passed."

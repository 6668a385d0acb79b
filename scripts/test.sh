#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the test suites of nano_wal: all of them, or the sections named.
# Installs what this machine lacks (idempotently: `apt-get update` at most
# once, then `apt-get install`); each section installs what it needs, so any
# one of them works on a fresh machine.
#
# Usage: scripts/test.sh [SECTION...]   no argument: every section, in order
#        scripts/test.sh --list         the section names, one per line
#
# Named sections run in the order below, whatever the order given
# (`scripts/test.sh asan c` runs c, then asan). The sections:
#   fmt        cargo fmt --check; the SPDX line of every source file
#   clippy     cargo clippy -D warnings, without and with all features
#   structure  tests/structure.rs alone: no module import cycle, thin C exports
#   msrv       cargo check of every target with the rust-version toolchain
#   rust       cargo test (unit, integration and doc tests)
#   faults     cargo test --features fault-injection
#   panic      the FFI panic boundary (cargo test --features test-panic)
#   openraft   the openraft log store (integrations/openraft): fmt, clippy,
#              openraft's own storage suite, the store's tests, a
#              three-node cluster
#   c          C tests, examples and install consumers through CTest (build/release)
#   filesystems the kill and power-loss tests on loop-mounted ext4, xfs and
#              btrfs, and the kill tests on tmpfs (needs root and loop
#              devices; ~2 min)
#   consumers  the Go module, Zig package and Python cffi declarations, and
#              their consumers, against an installed build/release
#   packaging  what a distribution needs: the install layouts (absolute,
#              relative and multiarch libdir, DESTDIR, the .pc under /usr),
#              the static archive beside another Rust staticlib, how
#              cargo and rustc are found, a Rust target triple
#   repro      reproducible builds: two release builds from two directories
#              give identical libraries and tool (~2.5 min)
#   offline    an offline CMake build from the vendored runtime crates, and
#              the release tarballs (~1.5 min)
#   abi        abidiff against the baseline abi/libnano_wal.abi
#   asan       C tests under AddressSanitizer + UBSan (build/asan)
#   valgrind   C tests under valgrind memcheck (build/valgrind)
#   tsan       ThreadSanitizer, Rust and C (scripts/tsan.sh, build/tsan)
#   loom       loom models of the group commit (src/durability/loom_models.rs):
#              every interleaving within 2 preemptions, each model's count
#              printed (target/loom; ~2 min to build, ~15 s of runs)
#   lazyfs     power cuts under LazyFS through the C API (tests/lazyfs/,
#              build/release), and a build that never syncs
#              (build/lazyfs-broken) must fail them; needs root and
#              /dev/fuse, and the vendored LazyFS tarball
#              (NWAL_LAZYFS_TARBALL, or see find_lazyfs_tarball) (~1 min,
#              +1 min the first time to build LazyFS into build/lazyfs)
#   bench      bench/: fmt, clippy and a --quick run
# Every section builds what it uses: `filesystems` and `consumers` (re)build
# build/release as `c` does (without running CTest); `valgrind` shares `asan`'s cargo target
# directory (build/asan/cargo) as a cache only, and builds there if needed.
# tests/README.md says what each suite proves.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

SECTIONS=(fmt clippy structure msrv rust faults panic openraft c filesystems consumers packaging repro offline abi asan valgrind tsan loom lazyfs bench)

usage() {
  echo "usage: scripts/test.sh [--list | SECTION...]"
  echo "sections: ${SECTIONS[*]}"
}

is_section() {
  local s
  for s in "${SECTIONS[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

for arg in "$@"; do
  case "$arg" in
    --list) printf '%s\n' "${SECTIONS[@]}"; exit 0 ;;
    -h | --help) usage; exit 0 ;;
    *)
      if ! is_section "$arg"; then
        echo "scripts/test.sh: unknown section '$arg'" >&2
        usage >&2
        exit 2
      fi
      ;;
  esac
done

selected=("$@")
# wanted SECTION: true when no section was named, or SECTION was.
wanted() {
  local s
  [ "${#selected[@]}" = 0 ] && return 0
  for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

# The C builds' tools. The release build checks its C++ and pkg-config
# consumers (CTest `cxx_test_header`, `install_consumers`), so they must be
# there before it is configured.
need_c_tools() {
  need_apt cmake cmake
  need_apt c++ g++
  need_apt pkg-config pkgconf
}

# The plain release build of the library, C tests and examples (build/release).
build_release() {
  need_c_tools
  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DNWAL_WERROR=ON
  cmake --build build/release -j2
}

run_fmt() {
  section "[fmt] every source file's SPDX line (scripts/spdx.sh); cargo fmt --check"
  scripts/spdx.sh
  cargo fmt --all -- --check
  # The crates outside the workspace: the xtask and the install test's
  # second Rust library.
  cargo fmt --manifest-path xtask/Cargo.toml -- --check
  cargo fmt --manifest-path tests/install/other_rust/Cargo.toml -- --check
}

run_clippy() {
  section "[clippy] cargo clippy"
  cargo clippy --all-targets -- -D warnings
  cargo clippy --all-targets --all-features -- -D warnings
  cargo clippy --manifest-path xtask/Cargo.toml --all-targets -- -D warnings
  cargo clippy --manifest-path tests/install/other_rust/Cargo.toml --target-dir target/other_rust \
    --all-targets -- -D warnings
}

run_structure() {
  section "[structure] the shape of src/: no module import cycle, thin C exports (tests/structure.rs)"
  cargo test --test structure
}

run_msrv() {
  section "[msrv] the declared minimum Rust version (rust-version in Cargo.toml) builds everything"
  local msrv
  msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
  need_rust_toolchain "$msrv"
  cargo "+$msrv" check --all-targets --target-dir target/msrv
}

run_rust() {
  section "[rust] cargo test"
  cargo test
}

run_faults() {
  section "[faults] cargo test again with fault injection (tests that need it: faults.rs and parts of api, flaws, recovery)"
  cargo test --features fault-injection
}

# integrations/openraft is its own workspace (its dependencies never enter
# the library's). It builds in target/openraft: nano_wal's rlib has no hash
# in its file name (the crate is also a cdylib), so a build of the library
# with other features in target/ would overwrite the one the store's tests
# link (they need `fault-injection`).
run_openraft() {
  section "[openraft] the openraft log store: fmt, clippy, openraft's storage suite, a three-node cluster"
  local manifest=integrations/openraft/Cargo.toml
  cargo fmt --manifest-path "$manifest" -- --check
  cargo clippy --manifest-path "$manifest" --target-dir target/openraft --all-targets -- -D warnings
  cargo test --manifest-path "$manifest" --target-dir target/openraft -- --nocapture
}

run_panic() {
  section "[panic] cargo test: the FFI panic boundary (test-only nwal_test_panic)"
  cargo test --features test-panic --test ffi_panic
}

# The C ABI: C tests and examples through CTest, three times over (plain
# release build; ASan+UBSan; valgrind memcheck). The sanitizer and valgrind
# builds use the dev profile with the `test-panic` feature, so the panic test
# (tests/c/test_panic.c) runs in both.
run_c() {
  section "[c] C ABI: release build, C tests and examples (CTest)"
  build_release
  ctest --test-dir build/release --output-on-failure -j2
}

# The section `filesystems`: the state of its mount, for fs_cleanup.
fs_mnt=""  # the mount point in use
fs_loop="" # the loop device in use

# Unmount and detach what fs_mount set up (on every exit: a failed test must
# not leave a mount or a loop device behind). A mount still busy (a child of
# a failed kill test not yet gone) is detached lazily.
fs_cleanup() {
  if [ -n "$fs_mnt" ] && mountpoint -q "$fs_mnt"; then
    umount "$fs_mnt" || umount -l "$fs_mnt" || echo "filesystems: cannot unmount $fs_mnt" >&2
  fi
  fs_mnt=""
  if [ -n "$fs_loop" ]; then
    losetup -d "$fs_loop" || echo "filesystems: cannot detach $fs_loop" >&2
  fi
  fs_loop=""
}

# fs_mount TYPE DIR: a fresh, empty TYPE filesystem mounted at DIR: a tmpfs,
# or an image file DIR.img made by TYPE's mkfs (sparse, as small as that mkfs
# allows: xfs refuses less than 300 MB, btrfs less than 109 MiB; ext4 has
# room for the tests, ten times their ~2 MB, with the 4 KiB blocks of any
# ext4 over 512 MB, where mke2fs would make 1 KiB ones) and loop-mounted,
# with each mkfs's and mount's defaults otherwise.
fs_mount() {
  local type=$1 dir=$2 img=$2.img
  mkdir -p "$dir"
  fs_mnt=$dir
  if [ "$type" = tmpfs ]; then
    mount -t tmpfs -o size=64m nwal-test "$dir"
    return
  fi
  rm -f "$img"
  case "$type" in
    ext4) truncate -s 32M "$img" && mkfs.ext4 -q -F -b 4096 "$img" ;;
    xfs) truncate -s 300M "$img" && mkfs.xfs -q -f "$img" ;;
    btrfs) truncate -s 110M "$img" && mkfs.btrfs -q -f "$img" >/dev/null ;;
  esac
  fs_loop=$(losetup --find --show "$img")
  mount "$fs_loop" "$dir"
}

# fs_run TYPE DIR LOG WHAT COMMAND...: run the test binary COMMAND (named
# WHAT) with its directories on DIR (TMPDIR) and NWAL_TEST_FS=TYPE, so a test
# whose directory is on another filesystem fails; output to the terminal and
# LOG.
fs_run() {
  local type=$1 dir=$2 log=$3 what=$4
  shift 4
  echo "[filesystems] $type: $what with TMPDIR=$dir" | tee -a "$log"
  TMPDIR=$dir NWAL_TEST_FS=$type "$@" 2>&1 | tee -a "$log"
}

# fs_test_exe JSON NAME: the executable of the integration test NAME in the
# JSON messages of `cargo test --no-run`.
fs_test_exe() {
  jq -r --arg t "$2" 'select(.reason == "compiler-artifact" and .target.name == $t
    and .executable != null) | .executable' <<<"$1"
}

# One row of the summary table.
fs_row() { printf '%-6s %-11s %-5s %-5s %-22s %-22s %s\n' "$@"; }

# fs_count LOG TEXT: the number that starts the line "NUMBER TEXT" of LOG
# (TEXT a sed pattern).
fs_count() { sed -n "s/^\([0-9]*\) $2\$/\1/p" "$1"; }

# The row of the summary table for a filesystem's log: the device, the test
# directories found on that filesystem (one per Rust tempdir, one per C
# test), the seconds, and the counts the tests printed ("-": not run there).
fs_summary() {
  local type=$1 log=$2 kill_rs kill_c power=-
  kill_rs=$(sed -n 's/^\([0-9]*\) acknowledged records, \([0-9]*\) truncations and resets$/\1 acked, \2 T+R/p' "$log")
  kill_c=$(sed -n 's/^[0-9]* kill points, \([0-9]*\) acknowledged records and \([0-9]*\) truncations and resets checked$/\1 acked, \2 T+R/p' "$log")
  if grep -q 'crash states checked$' "$log"; then
    power="tail $(fs_count "$log" 'crash states checked')"
    power+=", writeback $(fs_count "$log" 'writeback states, [0-9]* with records after a hole')"
    power+=", truncate+reset $(fs_count "$log" 'crash states of truncations and resets')"
    power+=", purge $(fs_count "$log" 'crash states of purges')"
    power+=", metadata $(fs_count "$log" 'metadata crash states checked')"
    power+="; recovery reports asserted $(fs_count "$log" 'recovery reports asserted' |
      awk '{ n += $1 } END { print n + 0 }')"
  fi
  fs_row "$type" "$(sed -n 's/^mounted: [^ ]* *\([^ ]*\).*/\1/p' "$log")" \
    "$(grep -c " on $type\$" "$log")" "$(sed -n 's/^seconds: //p' "$log")" \
    "${kill_rs:--}" "${kill_c:--}" "$power"
}

# The kill tests (Rust and C) and the power-loss tests on ext4, xfs and
# btrfs, and the kill tests on tmpfs (whose files do not outlive a power
# loss, so its crash states are not the power-loss tests' model).
# The binaries are built once, before any mount: the `rust` section's (dev
# profile, no feature) and build/release's test_kill, run as CTest runs it.
# Then a table of the counts each run printed (logs in build/filesystems).
run_filesystems() {
  section "[filesystems] kill and power-loss tests on ext4, xfs, btrfs (loop-mounted) and tmpfs"
  if [ "$(id -u)" != 0 ]; then
    echo "filesystems: needs root (mkfs on loop devices, mount)" >&2
    return 1
  fi
  if [ ! -e /dev/loop-control ]; then
    echo "filesystems: needs loop devices (no /dev/loop-control)" >&2
    return 1
  fi
  need_apt losetup mount
  need_apt findmnt util-linux
  need_apt mkfs.ext4 e2fsprogs
  need_apt mkfs.xfs xfsprogs
  need_apt mkfs.btrfs btrfs-progs
  need_apt jq jq
  build_release
  local json kill_rs power_loss
  json=$(cargo test --no-run --test kill --test power_loss --message-format=json)
  kill_rs=$(fs_test_exe "$json" kill)
  power_loss=$(fs_test_exe "$json" power_loss)
  local kill_c=(build/release/tests/c/test_kill build/release/tests/c/kill_child)

  local work=$PWD/build/filesystems type mnt log start
  rm -rf --one-file-system "$work"
  mkdir -p "$work"
  trap fs_cleanup EXIT
  trap 'exit 130' INT TERM
  for type in ext4 xfs btrfs tmpfs; do
    mnt=$work/$type
    log=$work/$type.log
    start=$SECONDS
    fs_mount "$type" "$mnt"
    findmnt -n -o FSTYPE,SOURCE,SIZE,AVAIL --target "$mnt" | sed 's/^/mounted: /' | tee "$log"
    fs_run "$type" "$mnt" "$log" "kill (Rust)" "$kill_rs" --nocapture
    fs_run "$type" "$mnt" "$log" "kill (C)" "${kill_c[@]}"
    if [ "$type" != tmpfs ]; then
      fs_run "$type" "$mnt" "$log" "power loss (Rust)" "$power_loss" --nocapture
    fi
    fs_cleanup
    rm -f "$mnt.img"
    rmdir "$mnt"
    echo "seconds: $((SECONDS - start))" >>"$log"
  done
  trap - EXIT INT TERM

  echo
  fs_row fs device dirs secs "kill (Rust)" "kill (C)" "power-loss crash states"
  for type in ext4 xfs btrfs tmpfs; do
    fs_summary "$type" "$work/$type.log"
  done
}

run_consumers() {
  section "[consumers] The Go, Zig and Python bindings against an installed library (tests/install/check_consumers.sh)"
  build_release
  tests/install/check_consumers.sh build/release .
}

# The layouts and checks a distribution relies on (docs/PACKAGING.md). The
# install matrix reuses build/release's cargo target directory: cargo has
# nothing to rebuild, each layout costs a configure and the links (~5 s in
# all).
run_packaging() {
  section "[packaging] install layouts (tests/install/check_matrix.sh)"
  build_release
  tests/install/check_matrix.sh . build/packaging/matrix "$PWD/build/release/cargo"
  section "[packaging] cargo and rustc found on PATH first; NWAL_RUST_TARGET (tests/install/check_toolchain.sh)"
  tests/install/check_toolchain.sh . build/packaging/toolchain "$PWD/build/release/cargo"
  section "[packaging] libnano_wal.a beside a Rust staticlib of another toolchain (tests/install/check_static_mix.sh)"
  local msrv
  msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
  need_rust_toolchain "$msrv"
  tests/install/check_static_mix.sh build/release . build/packaging/static-mix "$msrv"
}

# Two release builds from scratch in two directories (tests/install/check_repro.sh).
run_repro() {
  section "[repro] reproducible builds: two directories, identical libraries and tool (~2.5 min)"
  need_c_tools
  tests/install/check_repro.sh . build/repro
}

# scripts/vendor.sh --runtime-only and scripts/release-tarball.sh
# (tests/install/check_offline.sh): one release build from scratch.
run_offline() {
  section "[offline] offline build from vendored runtime crates; release tarballs (~1.5 min)"
  need_c_tools
  tests/install/check_offline.sh . build/offline
}

run_abi() {
  section "[abi] ABI check: abidiff against the baseline abi/libnano_wal.abi"
  scripts/check-abi.sh
}

run_asan() {
  section "[asan] C ABI: C tests and examples under AddressSanitizer + UBSan"
  need_c_tools
  cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DNWAL_SANITIZE=ON -DNWAL_WERROR=ON \
    -DNWAL_CARGO_PROFILE=dev -DNWAL_CARGO_FEATURES=test-panic
  cmake --build build/asan -j2
  ctest --test-dir build/asan --output-on-failure -j2
}

run_valgrind() {
  section "[valgrind] C ABI: C tests and examples under valgrind memcheck"
  need_c_tools
  need_apt valgrind valgrind
  cmake -S . -B build/valgrind -DCMAKE_BUILD_TYPE=Release -DNWAL_VALGRIND_TESTS=ON -DNWAL_WERROR=ON \
    -DNWAL_CARGO_PROFILE=dev -DNWAL_CARGO_FEATURES=test-panic \
    -DNWAL_CARGO_TARGET_DIR="$PWD/build/asan/cargo"
  cmake --build build/valgrind -j2
  ctest --test-dir build/valgrind --output-on-failure -j2
}

# The engine's own synchronisation under ThreadSanitizer: the multi-threaded
# Rust suites and the C concurrency tests, with the engine and std
# instrumented: -Zbuild-std needs the rust-src component (added if missing).
run_tsan() {
  section "[tsan] ThreadSanitizer: Rust and C concurrency tests (scripts/tsan.sh)"
  need_rust_src
  scripts/tsan.sh build/tsan
}

# The group commit's protocol under loom: the engine's own GroupCommit and
# Poison (over loom's locks and atomics, src/sync.rs) driven by a few
# durable appenders, every interleaving with at most 2 preemptions. Release
# mode (loom runs each model tens of thousands of times), in its own target
# directory (--cfg loom rebuilds every crate). Each model prints its name
# and the interleavings it ran; a failed assertion, a deadlock or a leak
# fails it. The summary must name at least one model, so a filter that
# matched nothing cannot pass.
run_loom() {
  section "[loom] loom models of the group commit: leader handoff, poisoning, the durable prefix"
  local log=target/loom/loom.log models
  mkdir -p target/loom
  RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib --target-dir target/loom \
    durability::loom_models -- --nocapture --test-threads=1 2>&1 | tee "$log"
  models=$(grep -o 'loom model [a-z_]*: [0-9]* interleavings.*' "$log" || true)
  if [ -z "$models" ]; then
    echo "[loom] no model ran" >&2
    exit 1
  fi
  echo
  echo "[loom] $(wc -l <<<"$models") models:"
  sed 's/^loom model /  /' <<<"$models"
}

# Power cuts under LazyFS (tests/lazyfs/power_cut.c, a CMake target that
# CTest does not run): LazyFS is built from the vendored LazyFS tarball
# (NWAL_LAZYFS_TARBALL, or found by find_lazyfs_tarball) into
# build/lazyfs by tests/lazyfs/build_lazyfs.sh, once per tarball. The test
# runs against build/release and must pass, then against
# build/lazyfs-broken (cargo feature test-skip-sync: no fdatasync or fsync
# reaches the disk) and must fail: the proof that it can see lost data.
# The vendored LazyFS tarball: NWAL_LAZYFS_TARBALL, else shared/vendor/ in a
# directory above the checkout or, for a clone, above the repository it was
# cloned from (a CI clone sits elsewhere than its origin).
find_lazyfs_tarball() {
  local name=lazyfs-a47a5ba.tar.gz origin dir
  if [ -n "${NWAL_LAZYFS_TARBALL:-}" ]; then
    echo "$NWAL_LAZYFS_TARBALL"
    return
  fi
  origin=$(git remote get-url origin 2>/dev/null || true)
  for dir in "$PWD" "$origin"; do
    [ -d "$dir" ] || continue
    dir=$(cd "$dir" && pwd)
    while [ "$dir" != / ]; do
      dir=$(dirname "$dir")
      if [ -f "$dir/shared/vendor/$name" ]; then
        echo "$dir/shared/vendor/$name"
        return
      fi
    done
  done
  echo "../shared/vendor/$name"
}

run_lazyfs() {
  section "[lazyfs] power cuts under LazyFS (tests/lazyfs/power_cut.c); a build that never syncs must fail them"
  local tarball
  tarball=$(find_lazyfs_tarball)
  if [ ! -f "$tarball" ]; then
    echo "[lazyfs] no LazyFS tarball at $tarball: set NWAL_LAZYFS_TARBALL to the vendored LazyFS tarball" >&2
    exit 1
  fi
  echo "[lazyfs] LazyFS from $tarball"
  if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
    echo "[lazyfs] needs root and /dev/fuse (it mounts LazyFS)" >&2
    exit 1
  fi
  need_c_tools
  need_apt fusermount3 fuse3
  need_apt_file /usr/include/fuse3/fuse.h libfuse3-dev
  need_apt_file /usr/include/toml.hpp libtoml11-dev
  need_apt_file /usr/include/spdlog/spdlog.h libspdlog-dev
  need_apt_file /usr/include/fmt/core.h libfmt-dev
  local lazyfs
  lazyfs=$(tests/lazyfs/build_lazyfs.sh "$tarball" build/lazyfs)
  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DNWAL_WERROR=ON
  cmake --build build/release --target lazyfs_power_cut -j2
  # Only the library and the test: no examples, no tool.
  cmake -S . -B build/lazyfs-broken -DCMAKE_BUILD_TYPE=Release -DNWAL_WERROR=ON \
    -DNWAL_CARGO_FEATURES=test-skip-sync -DNWAL_BUILD_EXAMPLES=OFF -DNWAL_INSTALL_TOOL=OFF
  cmake --build build/lazyfs-broken --target lazyfs_power_cut -j2
  mkdir -p build/lazyfs/run
  build/release/tests/c/lazyfs_power_cut "$lazyfs" build/lazyfs/run

  section "[lazyfs] the same power cuts against build/lazyfs-broken (test-skip-sync): they must fail"
  local out rc=0
  out=$(NWAL_LAZYFS_ITERS=7 build/lazyfs-broken/tests/c/lazyfs_power_cut "$lazyfs" build/lazyfs/run 2>&1) ||
    rc=$?
  # The summary and the first failures, not all of them.
  printf '%s\n' "$out" | grep '^FAIL' | head -n 5 || true
  printf '%s\n' "$out" | grep -v '^FAIL\|^  iteration'
  if [ "$rc" != 1 ] || ! printf '%s\n' "$out" | grep -q '^  failures: [1-9]'; then
    echo "[lazyfs] the build that never syncs was not caught (exit status $rc)" >&2
    exit 1
  fi
  echo "[lazyfs] the build that never syncs fails the power cuts, as it must"
}

# The measuring stick (a separate crate, not built by the root `cargo test`):
# it must build cleanly, and a --quick run must measure every nano_wal
# column and raw limit (the bench exits non-zero when one fails; a peer's
# failure only shows in its cell). Nothing here checks a speed.
run_bench() {
  section "[bench] bench/: fmt, clippy, and a --quick run (bench/README.md)"
  (cd bench && cargo fmt --check && cargo clippy --release --all-targets -- -D warnings)
  cargo run --release --manifest-path bench/Cargo.toml -- --quick \
    --out target/bench-quick/BENCHMARKS.md
}

ran=()
for s in "${SECTIONS[@]}"; do
  if wanted "$s"; then
    "run_$s"
    ran+=("$s")
  fi
done

if [ "${#selected[@]}" = 0 ]; then
  echo "All test suites passed."
else
  echo "Sections passed: ${ran[*]}"
fi

#!/bin/sh
# SPDX-License-Identifier: MIT
# Reproducible builds: the same source copied into two directories of
# different names and depths, each configured and built (release, the
# libraries and the tool only) in its own build directory with its own
# cargo target directory. The stripped shared libraries, the static
# archives (as they are: debug info included) and the stripped tools must be
# identical byte for byte, and none of them may contain the path of its
# source directory or of the cargo home. With NWAL_REPRODUCIBLE=OFF the paths would leak
# into the debug info, the panic locations and LLVM's symbol suffixes.
# Cost: two release builds from scratch (~15 s each on an idle 2-core
# machine, more when it is busy).
# usage: check_repro.sh SOURCE_DIR WORK_DIR
set -eu
src=$(cd "$1" && pwd)
work=$2
rm -rf "$work"
mkdir -p "$work/a" "$work/bb/deeper/path"
work=$(cd "$work" && pwd)
fail() { echo "check_repro: $*" >&2; exit 1; }

# The source as git knows it (tracked and new files, not ignored ones).
files=$(cd "$src" && git ls-files -co --exclude-standard)
for d in "$work/a/nano_wal" "$work/bb/deeper/path/nano_wal-src"; do
  mkdir -p "$d"
  (cd "$src" && echo "$files" | tar -cf - -T -) | (cd "$d" && tar -xf -)
done

n=0
for d in "$work/a/nano_wal" "$work/bb/deeper/path/nano_wal-src"; do
  n=$((n + 1))
  cmake -S "$d" -B "$d/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DNWAL_BUILD_EXAMPLES=OFF >"$work/build$n.log" 2>&1 &&
    cmake --build "$d/build" -j2 >>"$work/build$n.log" 2>&1 ||
    { cat "$work/build$n.log" >&2; fail "build in $d failed"; }
  # No build path left in what is installed (unstripped).
  cargo_home=${CARGO_HOME:-$HOME/.cargo}
  for f in "$d/build/libnano_wal.so" "$d/build/libnano_wal.a" "$d/build/cargo/release/nwal"; do
    for p in "$d" "$cargo_home"; do
      if grep -qF "$p" "$f"; then fail "$f contains the path $p"; fi
    done
  done
  mkdir -p "$work/out$n"
  strip -o "$work/out$n/libnano_wal.so" "$d/build/libnano_wal.so"
  cp "$d/build/libnano_wal.a" "$work/out$n/libnano_wal.a"
  strip -o "$work/out$n/nwal" "$d/build/cargo/release/nwal"
done
for f in libnano_wal.so libnano_wal.a nwal; do
  cmp "$work/out1/$f" "$work/out2/$f" || fail "$f differs between the two build directories"
done
echo "check_repro: OK (stripped libnano_wal.so and nwal, libnano_wal.a: identical from two directories)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ABI check: compares libnano_wal.so with the committed baseline
# abi/libnano_wal.abi (an `abidw` dump) using `abidiff` (Debian
# abigail-tools, installed if missing).
#
# The rule: the check FAILS when abidiff reports a change to the baseline's
# ABI (a function removed or its signature changed, a type reachable from
# an exported function changed; added functions are allowed) and the soname
# is still the baseline's: libnano_wal.so.0.<minor> while the version is
# 0.x, libnano_wal.so.<major> from 1.0 (build.rs). The baseline records the
# Cargo.toml version it was made from in abi/libnano_wal.abi.version.
#
# To change the ABI on purpose, in the same commit: bump the version in
# Cargo.toml so that the soname changes (0.1.x -> 0.2.0), then run
#   scripts/update-abi-baseline.sh        (same as: scripts/check-abi.sh --update)
# and commit abi/. After adding functions, refresh the baseline the same way
# (no version bump needed) so that they are checked from then on.
#
# abidiff compares types, so the library is built with full debuginfo for
# this check: the dev profile, no features, in build/abi/cargo (the ABI is
# that of the release build: same #[repr(C)] types, same exported symbols).
# The dump leaves out paths (--no-corpus-path, --no-comp-dir-path) and the
# two are compared with abidiff, never as text. abi/suppressions.ini hides
# the Rust internals of the opaque handle types (nwal, nwal_iter,
# nwal_read_buf), which C never sees.
#
# usage: scripts/check-abi.sh [--update]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

update=0
case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  *) echo "usage: scripts/check-abi.sh [--update]" >&2; exit 2 ;;
esac

need_apt abidiff abigail-tools

baseline=abi/libnano_wal.abi
baseline_version_file=abi/libnano_wal.abi.version
out=build/abi
mkdir -p "$out"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# The soname's version part for a crate version (as build.rs computes it).
abi_of() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  if [ "$major" = 0 ]; then echo "0.$minor"; else echo "$major"; fi
}

CARGO_TARGET_DIR="$PWD/$out/cargo" cargo build --locked --lib --quiet
lib="$out/cargo/debug/libnano_wal.so"
dump() { abidw --no-corpus-path --no-comp-dir-path --out-file "$2" "$1"; }
dump "$lib" "$out/current.abi"

if [ "$update" = 1 ]; then
  mkdir -p abi
  cp "$out/current.abi" "$baseline"
  echo "$version" >"$baseline_version_file"
  echo "ABI baseline updated: $baseline for nano_wal $version (soname libnano_wal.so.$(abi_of "$version"))"
  exit 0
fi

if [ ! -f "$baseline" ] || [ ! -f "$baseline_version_file" ]; then
  echo "ABI check: no baseline ($baseline); create it with scripts/update-abi-baseline.sh" >&2
  exit 1
fi
base_version=$(cat "$baseline_version_file")

# abidiff's exit status is a bit set: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change.
set +e
abidiff --no-added-syms --suppressions abi/suppressions.ini "$baseline" "$out/current.abi" >"$out/abidiff.txt" 2>&1
rc=$?
set -e
if [ $((rc & 3)) -ne 0 ]; then
  cat "$out/abidiff.txt" >&2
  echo "ABI check: abidiff failed (exit $rc)" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  cat "$out/abidiff.txt"
  if [ "$(abi_of "$version")" = "$(abi_of "$base_version")" ]; then
    echo "ABI check FAILED: the ABI changed (above) but the soname is still" \
      "libnano_wal.so.$(abi_of "$version") (version $version, baseline $base_version)." >&2
    echo "Undo the change, or bump the version in Cargo.toml so the soname changes" \
      "and run scripts/update-abi-baseline.sh in the same commit." >&2
    exit 1
  fi
  echo "ABI check: the ABI changed with a new soname (libnano_wal.so.$(abi_of "$base_version") ->" \
    "libnano_wal.so.$(abi_of "$version")): allowed. Refresh the baseline: scripts/update-abi-baseline.sh"
  exit 0
fi

# Unchanged. Say so when functions were added (they are unchecked until the
# baseline is refreshed).
set +e
abidiff --suppressions abi/suppressions.ini "$baseline" "$out/current.abi" >"$out/abidiff-added.txt" 2>&1
added_rc=$?
set -e
if [ "$added_rc" -ne 0 ]; then
  grep -i 'added' "$out/abidiff-added.txt" || true
  echo "ABI check: OK, with additions; refresh the baseline (scripts/update-abi-baseline.sh) to check them from now on"
else
  echo "ABI check: OK (libnano_wal.so.$(abi_of "$version") matches $baseline, made from $base_version)"
fi

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds libnano_wal with CMake (release) and runs examples-c/quickstart on a
# fresh temporary directory. Installs cmake and a C compiler if missing.
# Usage: scripts/quickstart.sh
# The library ends up in build/release/ (libnano_wal.so, libnano_wal.a),
# the header is include/nano_wal.h.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

need_apt cmake cmake
need_apt cc gcc libc6-dev
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo (Rust) is required to build the library: https://rustup.rs" >&2
  exit 1
fi

section "build libnano_wal and examples-c/quickstart (release)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j2 --target quickstart

section "run examples-c/quickstart"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/release/examples-c/quickstart "$tmp/wal"

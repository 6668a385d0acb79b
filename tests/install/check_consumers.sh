#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Go and Zig consumers of a staged install (the C and C++ ones are in
# check_install.sh):
#   - tests/go: a cgo binding (`#cgo pkg-config: nano_wal`) and its `go test`,
#     run with GODEBUG=cgocheck=2; stdlib only, no module downloads.
#   - tests/zig: `zig translate-c` of the installed header, then `zig test`
#     linking -lc -lnano_wal.
# Then checks that the README's "Use from C++/Go/Zig" code is verbatim from
# these tests. Installs what is missing, idempotently: Debian golang-go, and
# ziglang==0.15.2 from PyPI (run as `python3 -m ziglang`).
# usage: tests/install/check_consumers.sh BUILD_DIR [SOURCE_DIR]
#   BUILD_DIR is a configured and built CMake build tree of nano_wal.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "${2:-$(dirname "$0")/../..}" && pwd)
# shellcheck source=scripts/lib.sh
. "$src/scripts/lib.sh"

need_apt go golang-go
need_apt pkg-config pkgconf
if ! python3 -m ziglang version >/dev/null 2>&1; then
  python3 -m pip install -q --disable-pip-version-check ziglang==0.15.2
fi
zig() { python3 -m ziglang "$@"; }

out="$build/consumers"          # caches survive between runs
stage="$out/stage"
work="$out/work"
rm -rf "$stage" "$work"
mkdir -p "$work/zig"
cmake --install "$build" --prefix "$stage" >/dev/null
pc=$(find "$stage" -name nano_wal.pc)
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")

echo "--- Go $(go env GOVERSION): go test in tests/go (cgo, pkg-config nano_wal, staged install)"
(
  cd "$src/tests/go"
  export GOCACHE="$out/go-cache" GOPATH="$out/gopath" GOFLAGS= GOPROXY=off GO111MODULE=on \
    GOTOOLCHAIN=local CGO_ENABLED=1 LD_LIBRARY_PATH="$libdir"
  # Full cgo pointer checks: a run-time setting up to Go 1.20, a build-time
  # experiment from Go 1.21 (which rejects GODEBUG=cgocheck=2).
  minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
  if [ "${minor:-0}" -ge 21 ]; then export GOEXPERIMENT=cgocheck2; else export GODEBUG=cgocheck=2; fi
  go vet ./...
  go test -count=1 ./...
)

echo "--- Zig $(zig version): translate-c of the installed header, zig test"
cp "$src/tests/zig/nano_wal_test.zig" "$work/zig/"
zig translate-c -lc "$stage/include/nano_wal.h" >"$work/zig/nano_wal.zig"
(
  cd "$work/zig"
  zig test nano_wal_test.zig -lc -lnano_wal -L"$libdir" -rpath "$libdir" \
    --cache-dir "$out/zig-cache" --global-cache-dir "$out/zig-global-cache"
)

echo "--- README: the C++, Go and Zig code is verbatim from the consumer tests"
python3 "$src/tests/install/check_readme_code.py" "$src"
echo "consumers: OK (Go, Zig, README excerpts)"

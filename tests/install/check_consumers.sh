#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Go, Zig and Python bindings against a staged install (the C and C++
# consumers are in check_install.sh):
#   - go/: the Go module's `go vet` and `go test -race` with the full cgo
#     pointer checks (GODEBUG=cgocheck=2 up to Go 1.20, GOEXPERIMENT=cgocheck2
#     from 1.21); then tests/go, a program in its own module that requires
#     the Go module (a `replace` to go/, no download) and checks what it gets.
#   - zig/: the Zig package's `zig build test` (translate-c of the installed
#     header); then tests/zig, a package depending on it, `zig build test`.
#   - python/: tests/python/check_cdef.py (python/nano_wal.cdef up to date
#     with the installed header and accepted by cffi's API mode compiled
#     against it), then the README's cffi example against the library.
# Then checks that the C++, Go, Zig and Python code of README.md,
# go/README.md and zig/README.md is verbatim from these sources. Installs
# what is missing, idempotently: Debian golang-go, ziglang==0.15.2 (run as
# `python3 -m ziglang`) and cffi from PyPI.
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
if ! python3 -c 'import cffi' >/dev/null 2>&1; then
  python3 -m pip install -q --disable-pip-version-check cffi
fi
# cffi's API mode (check_cdef.py) compiles an extension: Python's headers.
if ! python3 -c 'import os, sysconfig
raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  need_apt python3-config python3-dev
fi
zig() { python3 -m ziglang "$@"; }

out="$build/consumers"          # caches survive between runs
stage="$out/stage"
work="$out/work"
rm -rf "$stage" "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$stage" >/dev/null
pc=$(find "$stage" -name nano_wal.pc)
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")

echo "--- Go $(go env GOVERSION): go/ (go vet, go test -race), then the consumer module tests/go"
(
  export GOCACHE="$out/go-cache" GOPATH="$out/gopath" GOFLAGS= GOPROXY=off GO111MODULE=on \
    GOTOOLCHAIN=local CGO_ENABLED=1 LD_LIBRARY_PATH="$libdir"
  # Full cgo pointer checks: a run-time setting up to Go 1.20, a build-time
  # experiment from Go 1.21 (which rejects GODEBUG=cgocheck=2).
  minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
  if [ "${minor:-0}" -ge 21 ]; then export GOEXPERIMENT=cgocheck2; else export GODEBUG=cgocheck=2; fi
  cd "$src/go"
  test -z "$(gofmt -l .)" || { gofmt -l . >&2; echo "go/: not gofmt-clean" >&2; exit 1; }
  go vet ./...
  go test -race -count=1 ./...
  cd "$src/tests/go"
  go vet ./...
  go build -race -o "$work/go-consumer" .
  "$work/go-consumer"
)

echo "--- Zig $(zig version): zig/ (zig build test), then the consumer package tests/zig"
zig_build_test() {
  (cd "$1" && zig build test -Dinclude_dir="$stage/include" -Dlib_dir="$libdir" \
    --cache-dir "$out/zig-cache" --global-cache-dir "$out/zig-global-cache" --summary all)
}
zig fmt --check "$src/zig" "$src/tests/zig"
zig_build_test "$src/zig"
zig_build_test "$src/tests/zig"

echo "--- Python $(python3 -c 'import sys, cffi; print(sys.version.split()[0], "cffi", cffi.__version__)'): python/nano_wal.cdef, the README's cffi example"
python3 "$src/tests/python/check_cdef.py" "$stage/include" "$libdir" "$work/python"
python3 "$src/tests/python/cffi_example.py" "$src/python/nano_wal.cdef" "$libdir/libnano_wal.so"

echo "--- READMEs: the C++, Go, Zig and Python code is verbatim from the sources the consumers test"
python3 "$src/tests/install/check_readme_code.py" "$src"
echo "consumers: OK (Go, Zig, Python, README excerpts)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Go binding's own benchmarks (go/nanowal/bench_test.go): what a Go
# caller pays per record through cgo, beside the C API column of
# BENCHMARKS.md. One op is one record. Builds the release library, installs
# it into build/go-bench/stage and runs `go test -bench` against it (no
# race detector, no cgo pointer checks: the speed a program gets).
# usage: bench/go-bench.sh [PATTERN]   (go test -bench PATTERN, default .;
#        COUNT=N repetitions, default 5)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
need_apt go golang-go
need_apt pkg-config pkgconf
need_apt cmake cmake
need_apt c++ g++
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j2 >/dev/null
out="$src/build/go-bench"
rm -rf "$out/stage"
cmake --install build/release --prefix "$out/stage" >/dev/null
pc=$(find "$out/stage" -name nano_wal.pc)
export PKG_CONFIG_PATH LD_LIBRARY_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")")
export GOCACHE="$out/go-cache" GOPATH="$out/gopath" GOFLAGS= GOPROXY=off GO111MODULE=on \
  GOTOOLCHAIN=local CGO_ENABLED=1
cd go
go test -run '^$' -bench "${1:-.}" -count "${COUNT:-5}" ./nanowal

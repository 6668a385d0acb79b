#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds LazyFS from the vendored LazyFS tarball into a cache directory and
# prints the path of the binary. The sources are never copied into the
# repository: the tarball is extracted under the cache directory, and the
# binary is reused as long as it was built from a tarball of the same
# SHA-256 (its name carries the hash).
#
# usage: tests/lazyfs/build_lazyfs.sh TARBALL CACHE_DIR
#
# LazyFS's own CMake files download toml11 and spdlog; Debian packages them
# (installed by scripts/test.sh lazyfs), so one g++ command builds it
# (~1 min on 2 cores).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: tests/lazyfs/build_lazyfs.sh TARBALL CACHE_DIR" >&2
  exit 2
fi
tarball=$1
mkdir -p "$2"
cache=$(cd "$2" && pwd)
if [ ! -f "$tarball" ]; then
  echo "build_lazyfs.sh: no LazyFS tarball at $tarball (set NWAL_LAZYFS_TARBALL)" >&2
  exit 1
fi

hash=$(sha256sum "$tarball" | cut -c1-16)
bin="$cache/lazyfs-$hash"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

src="$cache/src-$hash"
rm -rf "$src"
mkdir -p "$src"
tar -xzf "$tarball" -C "$src" --strip-components=1
echo "build_lazyfs.sh: building LazyFS from $tarball (~1 min)" >&2
(
  cd "$src"
  # shellcheck disable=SC2046 # pkg-config prints several words on purpose
  g++ -std=c++17 -O2 -w -I libs/libpcache/include -I lazyfs/include \
    $(pkg-config --cflags spdlog fuse3) \
    libs/libpcache/src/*.cpp libs/libpcache/src/config/*.cpp libs/libpcache/src/item/*.cpp \
    libs/libpcache/src/engine/page/*.cpp libs/libpcache/src/engine/backends/custom/*.cpp \
    lazyfs/src/*.cpp lazyfs/include/lazyfs/fusepp/Fuse.cpp \
    -o "$bin.tmp" $(pkg-config --libs spdlog fuse3) -lpthread
)
# Renamed into place only once complete, so an interrupted build is redone.
mv "$bin.tmp" "$bin"
rm -rf "$src"
echo "$bin"

#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the build into a staging prefix, then builds and runs
# examples-c/quickstart.c as an outside consumer would: with pkg-config
# (shared, and --static), and with CMake's find_package (both targets); the
# same for the C++17 RAII wrapper test tests/install/cxx_raii.cpp (pkg-config
# shared, find_package shared and static). Also that the nwal tool, its man
# page and its bash completion are installed. Go and Zig: check_consumers.sh.
# usage: check_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
stage="$build/install-check/stage"
work="$build/install-check/work"
rm -rf "$build/install-check"
mkdir -p "$work"

cmake --install "$build" --prefix "$stage" >/dev/null

# DESTDIR is honoured: everything lands under it, with the prefix inside.
destdir="$build/install-check/destdir"
DESTDIR="$destdir" cmake --install "$build" --prefix /opt/nwal >/dev/null
for f in include/nano_wal.h bin/nwal share/man/man1/nwal.1 share/bash-completion/completions/nwal; do
  test -f "$destdir/opt/nwal/$f"
done
test "$(find "$destdir/opt/nwal" -name 'libnano_wal.so.0.2' -type l | wc -l)" = 1
test ! -e /opt/nwal
pc=$(find "$stage" -name nano_wal.pc)
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH="$(dirname "$pc")"
example="$src/examples-c/quickstart.c"

test "$(pkg-config --modversion nano_wal)" = "$(sed -n 's/^version = "\(.*\)"/\1/p' "$src/Cargo.toml" | head -n1)"
test -L "$libdir/libnano_wal.so" && test -L "$libdir/libnano_wal.so.0.2"
# The operator tool is installed in bin/ and runs; its man page and its
# bash completion are installed with it, where man and bash-completion
# look for them.
"$stage/bin/nwal" --version | grep -q "^nwal $(pkg-config --modversion nano_wal)$"
cmp "$stage/share/man/man1/nwal.1" "$src/man/nwal.1"
cmp "$stage/share/bash-completion/completions/nwal" "$src/completions/nwal.bash"
bash --norc --noprofile -c '. "$1" && complete -p nwal' bash "$stage/share/bash-completion/completions/nwal" |
  grep -q -- '-F _nwal nwal$'

# pkg-config, shared: found through its soname at run time.
cc -std=c11 -Wall -Wextra -Werror "$example" $(pkg-config --cflags --libs nano_wal) -o "$work/q_shared"
readelf -d "$work/q_shared" | grep -q 'NEEDED.*libnano_wal.so.0.2'
LD_LIBRARY_PATH="$libdir" "$work/q_shared" "$work/wal1" | grep -q "quickstart: OK"

# C++17, pkg-config, shared: the RAII wrapper and its test.
c++ -std=c++17 -Wall -Wextra -Werror "$src/tests/install/cxx_raii.cpp" \
  $(pkg-config --cflags --libs nano_wal) -o "$work/cxx_shared"
LD_LIBRARY_PATH="$libdir" "$work/cxx_shared" "$work/wal5" | grep -q "cxx_raii: OK"

# pkg-config, static: no runtime dependency on the shared library.
cc -std=c11 -Wall -Wextra -Werror "$example" $(pkg-config --cflags nano_wal) \
  "$libdir/libnano_wal.a" $(pkg-config --static --libs-only-l nano_wal | sed 's/-lnano_wal//') -o "$work/q_static"
if readelf -d "$work/q_static" | grep -q libnano_wal; then
  echo "the static consumer depends on libnano_wal.so" >&2
  exit 1
fi
"$work/q_static" "$work/wal2" | grep -q "quickstart: OK"

# CMake find_package.
cmake -S "$src/tests/install" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$stage" \
  -DNWAL_EXAMPLE="$example" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cmake/quickstart_shared" "$work/wal3" | grep -q "quickstart: OK"
"$work/cmake/quickstart_static" "$work/wal4" | grep -q "quickstart: OK"
LD_LIBRARY_PATH="$libdir" "$work/cmake/cxx_raii_shared" "$work/wal6" | grep -q "cxx_raii: OK"
"$work/cmake/cxx_raii_static" "$work/wal7" | grep -q "cxx_raii: OK"
echo "install_consumers: OK (C and C++17: pkg-config shared+static, find_package shared+static)"

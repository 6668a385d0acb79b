#!/bin/sh
# SPDX-License-Identifier: MIT
# The install layouts a distribution uses, each configured, built and
# installed from one cargo build (every configuration points
# NWAL_CARGO_TARGET_DIR at the same directory with the same flags, so cargo
# has nothing to redo; each costs a configure, the pre-link and the links):
#   - prefix /usr, the multiarch libdir lib/<triplet>, DESTDIR: the files
#     land under DESTDIR only, the .pc carries absolute paths and pkg-config
#     gives just `-lnano_wal` (pkgconf recognises the system directories),
#     the CMake package of the DESTDIR tree resolves;
#   - an absolute CMAKE_INSTALL_LIBDIR outside the prefix (Nix/Guix style),
#     DESTDIR: the library, its links, the .pc and the CMake package are in
#     that directory, no path joins the prefix to it;
#   - a relative libdir, `cmake --install --prefix P` into another prefix
#     than configured: the .pc names P, and a C program built with it runs;
#   - NWAL_INSTALL_STATIC/TOOL=OFF and NWAL_INSTALL_EXAMPLES=ON install
#     what they say; at configure (no build): RUSTFLAGS reach cargo (before
#     the path remapping), CMAKE_BUILD_TYPE picks the cargo profile, -Werror
#     only with NWAL_WERROR, no RUSTFLAGS at all when there is nothing to
#     pass.
# The shared library's mode is CMake's for SHARED targets: 0755, or 0644
# with CMAKE_INSTALL_SO_NO_EXE (Debian policy; CMake's default where
# /etc/debian_version exists): set both ways here. Every case checks the
# symlinks libnano_wal.so -> libnano_wal.so.<abi> -> libnano_wal.so.X.Y.Z.
# usage: check_matrix.sh SOURCE_DIR WORK_DIR CARGO_TARGET_DIR
set -eu
src=$(cd "$1" && pwd)
work=$2
cargo_dir=$3
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$src/Cargo.toml" | head -n1)
minor=$(echo "$version" | cut -d. -f2)
abi="0.$minor"
triplet=$(cc -print-multiarch 2>/dev/null || true)
[ -n "$triplet" ] || triplet=$(cc -dumpmachine)

fail() { echo "check_matrix: $*" >&2; exit 1; }

# configure NAME CMAKE_ARGS...: configure and build one layout (no tests,
# no examples: only what is installed).
configure() {
  name=$1; shift
  cmake -S "$src" -B "$work/$name" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DNWAL_BUILD_EXAMPLES=OFF -DNWAL_CARGO_TARGET_DIR="$cargo_dir" "$@" >"$work/$name.log" 2>&1 ||
    { cat "$work/$name.log" >&2; fail "$name: configure failed"; }
  cmake --build "$work/$name" -j2 >>"$work/$name.log" 2>&1 ||
    { cat "$work/$name.log" >&2; fail "$name: build failed"; }
}

# check_libdir LIBDIR MODE: the library (with that mode) and its links as
# installed there.
check_libdir() {
  d=$1
  want=$2
  real="$d/libnano_wal.so.$version"
  [ -f "$real" ] && [ ! -L "$real" ] || fail "$real: missing"
  mode=$(stat -c %a "$real")
  [ "$mode" = "$want" ] || fail "$real: mode $mode, expected $want"
  [ "$(readlink "$d/libnano_wal.so.$abi")" = "libnano_wal.so.$version" ] || fail "$d/libnano_wal.so.$abi: bad link"
  [ "$(readlink "$d/libnano_wal.so")" = "libnano_wal.so.$abi" ] || fail "$d/libnano_wal.so: bad link"
  [ -f "$d/libnano_wal.a" ] || fail "$d/libnano_wal.a: missing"
  [ -f "$d/pkgconfig/nano_wal.pc" ] || fail "$d/pkgconfig/nano_wal.pc: missing"
  [ -f "$d/cmake/nano_wal/nano_walConfig.cmake" ] || fail "$d/cmake/nano_wal: missing"
}

# pc_var PC NAME: a variable of a .pc file, as written.
pc_var() { sed -n "s/^$2=//p" "$1"; }

# find_package_ok LIBDIR: a CMake project finds both targets through the
# package in LIBDIR/cmake/nano_wal (configure only: the imported files must
# exist). nano_wal_DIR names it: CMake searches lib64 only where the
# platform uses it.
find_package_ok() {
  mkdir -p "$work/fp"
  cat >"$work/fp/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(fp LANGUAGES C)
find_package(nano_wal CONFIG REQUIRED)
get_target_property(s nano_wal::shared LOCATION)
get_target_property(a nano_wal::static LOCATION)
foreach(f "${s}" "${a}")
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "imported file missing: ${f}")
  endif()
endforeach()
message(STATUS "nano_wal::shared=${s}")
EOF
  rm -rf "$work/fp/b"
  cmake -S "$work/fp" -B "$work/fp/b" -Dnano_wal_DIR="$1/cmake/nano_wal" >"$work/fp.log" 2>&1 ||
    { cat "$work/fp.log" >&2; fail "find_package in $1 failed"; }
}

echo "--- /usr, multiarch libdir lib/$triplet, DESTDIR"
configure usr -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR="lib/$triplet" -DCMAKE_INSTALL_SO_NO_EXE=1
dest="$work/usr-dest"
DESTDIR="$dest" cmake --install "$work/usr" >/dev/null
check_libdir "$dest/usr/lib/$triplet" 644
[ -x "$dest/usr/bin/nwal" ] || fail "nwal not installed"
[ -f "$dest/usr/include/nano_wal.h" ] || fail "header not installed"
[ "$(find "$dest" -mindepth 1 -maxdepth 1)" = "$dest/usr" ] || fail "files outside DESTDIR/usr: $(ls "$dest")"
pc="$dest/usr/lib/$triplet/pkgconfig/nano_wal.pc"
[ "$(pc_var "$pc" libdir)" = "/usr/lib/$triplet" ] || fail "$pc: libdir=$(pc_var "$pc" libdir)"
[ "$(pc_var "$pc" includedir)" = "/usr/include" ] || fail "$pc: includedir=$(pc_var "$pc" includedir)"
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs nano_wal | xargs)
[ "$flags" = "-lnano_wal" ] || fail "pkg-config under /usr gives '$flags', expected '-lnano_wal'"
find_package_ok "$dest/usr/lib/$triplet"

echo "--- absolute libdir outside the prefix, DESTDIR"
configure abs -DCMAKE_INSTALL_PREFIX=/opt/nwal -DCMAKE_INSTALL_LIBDIR=/opt/nwal-libs/lib64 \
  -DCMAKE_INSTALL_SO_NO_EXE=0
dest="$work/abs-dest"
DESTDIR="$dest" cmake --install "$work/abs" >/dev/null
check_libdir "$dest/opt/nwal-libs/lib64" 755
[ ! -e "$dest/opt/nwal/opt" ] || fail "the prefix was joined to the absolute libdir"
pc="$dest/opt/nwal-libs/lib64/pkgconfig/nano_wal.pc"
[ "$(pc_var "$pc" libdir)" = "/opt/nwal-libs/lib64" ] || fail "$pc: libdir=$(pc_var "$pc" libdir)"
[ "$(pc_var "$pc" includedir)" = "/opt/nwal/include" ] || fail "$pc: includedir=$(pc_var "$pc" includedir)"
if grep -qE '^(prefix|libdir|includedir)=.*//' "$pc"; then fail "$pc: a path with a doubled slash"; fi
# An absolute libdir is where the package is, once installed (not under
# DESTDIR): its targets name the absolute paths.
targets="$dest/opt/nwal-libs/lib64/cmake/nano_wal/nano_walTargets-release.cmake"
grep -q "\"/opt/nwal-libs/lib64/libnano_wal.so.$version\"" "$targets" || fail "$targets: shared library path"
grep -q '^set(_IMPORT_PREFIX "/opt/nwal")$' "$dest/opt/nwal-libs/lib64/cmake/nano_wal/nano_walTargets.cmake" ||
  fail "nano_walTargets.cmake: the prefix of the include directory"

echo "--- relative libdir lib64, installed with --prefix into another prefix"
configure rel -DCMAKE_INSTALL_PREFIX=/usr/local -DCMAKE_INSTALL_LIBDIR=lib64 -DCMAKE_INSTALL_SO_NO_EXE=0
stage="$work/rel-stage"
cmake --install "$work/rel" --prefix "$stage" >/dev/null
check_libdir "$stage/lib64" 755
pc="$stage/lib64/pkgconfig/nano_wal.pc"
[ "$(pc_var "$pc" libdir)" = "$stage/lib64" ] || fail "$pc: libdir=$(pc_var "$pc" libdir)"
[ "$(pc_var "$pc" includedir)" = "$stage/include" ] || fail "$pc: includedir=$(pc_var "$pc" includedir)"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror "$src/examples-c/quickstart.c" \
  $(PKG_CONFIG_PATH="$stage/lib64/pkgconfig" pkg-config --cflags --libs nano_wal) -o "$work/q"
LD_LIBRARY_PATH="$stage/lib64" "$work/q" "$work/wal" | grep -q "quickstart: OK" || fail "quickstart failed"
find_package_ok "$stage/lib64"

echo "--- options: no static library, no tool, the examples' sources"
configure opts -DCMAKE_INSTALL_PREFIX=/usr -DNWAL_INSTALL_STATIC=OFF -DNWAL_INSTALL_TOOL=OFF \
  -DNWAL_INSTALL_EXAMPLES=ON
dest="$work/opts-dest"
DESTDIR="$dest" cmake --install "$work/opts" >/dev/null
libdir=$(dirname "$(find "$dest" -name nano_wal.pc)")/..
[ -f "$libdir/libnano_wal.so.$version" ] || fail "opts: no shared library"
[ ! -e "$libdir/libnano_wal.a" ] || fail "opts: libnano_wal.a installed with NWAL_INSTALL_STATIC=OFF"
if grep -q 'nano_wal::static' "$libdir/cmake/nano_wal/nano_walTargets.cmake"; then
  fail "opts: the CMake package names nano_wal::static"
fi
[ ! -e "$dest/usr/bin/nwal" ] && [ ! -e "$dest/usr/share/man/man1/nwal.1" ] ||
  fail "opts: nwal or its man page installed with NWAL_INSTALL_TOOL=OFF"
cmp "$dest/usr/share/doc/nano_wal/examples/quickstart.c" "$src/examples-c/quickstart.c" ||
  fail "opts: the examples are not in share/doc/nano_wal/examples"

echo "--- options at configure: RUSTFLAGS, the profile of CMAKE_BUILD_TYPE, -Werror"
# configure_only NAME ARGS...: configure (no build) with the examples on.
configure_only() {
  name=$1; shift
  cmake -S "$src" -B "$work/$name" -DBUILD_TESTING=OFF -DNWAL_CARGO_TARGET_DIR="$cargo_dir" "$@" \
    >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; fail "$name: configure failed"; }
}
cargo_rule="CMakeFiles/nano_wal_cargo.dir/build.make"
RUSTFLAGS="--cfg nwal_probe" configure_only flags-debug -DCMAKE_BUILD_TYPE=Debug
grep -q 'RUSTFLAGS=--cfg\\ nwal_probe\\ --remap-path-prefix=' "$work/flags-debug/$cargo_rule" ||
  fail "RUSTFLAGS of the environment not handed to cargo before the path remapping"
grep -q -- '--profile dev' "$work/flags-debug/$cargo_rule" || fail "CMAKE_BUILD_TYPE=Debug does not build the dev profile"
grep -q -- '-Werror' "$work/flags-debug/examples-c/CMakeFiles/quickstart.dir/flags.make" &&
  fail "-Werror without NWAL_WERROR"
configure_only flags-werror -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNWAL_WERROR=ON -DNWAL_REPRODUCIBLE=OFF
grep -q -- '--profile release' "$work/flags-werror/$cargo_rule" || fail "RelWithDebInfo does not build the release profile"
grep -q -- '-Werror' "$work/flags-werror/examples-c/CMakeFiles/quickstart.dir/flags.make" ||
  fail "NWAL_WERROR=ON does not add -Werror"
if grep -q 'RUSTFLAGS' "$work/flags-werror/$cargo_rule"; then
  fail "RUSTFLAGS set with nothing to say (cargo's build.rustflags would be ignored)"
fi

echo "check_matrix: OK (/usr multiarch + DESTDIR, absolute libdir, relative libdir + --prefix, options)"

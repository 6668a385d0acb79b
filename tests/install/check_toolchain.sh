#!/bin/sh
# SPDX-License-Identifier: MIT
# How the CMake build finds and drives the Rust toolchain:
#   - cargo and rustc on PATH win over CARGO_HOME/bin (stand-ins that only
#     print a version: configure only), CARGO_HOME/bin is next when PATH has
#     none, and configure prints the versions of the ones chosen;
#   - NWAL_RUST_TARGET: an unknown triple fails at configure with a message
#     naming it; the host's triple given explicitly builds through cargo
#     --target, the libraries and the tool come from
#     <target dir>/<triple>/release, and cargo links with CMake's C compiler
#     (CARGO_TARGET_<TRIPLE>_LINKER). A real cross build needs only the
#     target's std (rustup target add) and a cross C toolchain.
# usage: check_toolchain.sh SOURCE_DIR WORK_DIR CARGO_TARGET_DIR
set -eu
src=$(cd "$1" && pwd)
work=$2
cargo_dir=$3
rm -rf "$work"
mkdir -p "$work/path" "$work/home/bin" "$work/empty"
work=$(cd "$work" && pwd)
cmake=$(command -v cmake)
fail() { echo "check_toolchain: $*" >&2; exit 1; }

# stand_in DIR TOOL VERSION: a TOOL in DIR that prints "TOOL VERSION".
stand_in() {
  printf '#!/bin/sh\necho "%s %s"\n' "$2" "$3" >"$1/$2"
  chmod +x "$1/$2"
}
stand_in "$work/path" cargo 0.0.1-on-path
stand_in "$work/path" rustc 0.0.1-on-path
stand_in "$work/home/bin" cargo 0.0.2-cargo-home
stand_in "$work/home/bin" rustc 0.0.2-cargo-home

echo "--- PATH before CARGO_HOME"
PATH="$work/path:$PATH" CARGO_HOME="$work/home" "$cmake" -S "$src" -B "$work/on-path" \
  -DBUILD_TESTING=OFF -DNWAL_BUILD_EXAMPLES=OFF >"$work/on-path.log" 2>&1 ||
  { cat "$work/on-path.log" >&2; fail "configure with cargo on PATH failed"; }
grep -qF -- "-- cargo: $work/path/cargo (cargo 0.0.1-on-path)" "$work/on-path.log" ||
  { cat "$work/on-path.log" >&2; fail "the cargo on PATH was not chosen"; }
grep -qF -- "-- rustc: $work/path/rustc (rustc 0.0.1-on-path)" "$work/on-path.log" ||
  fail "the rustc beside the chosen cargo was not chosen"

if [ -e /usr/bin/cargo ] || [ -e /bin/cargo ]; then
  echo "--- (skipped: CARGO_HOME when PATH has none; this system has /usr/bin/cargo)"
else
  echo "--- CARGO_HOME when PATH has none"
  PATH="$work/empty:/usr/bin:/bin" CARGO_HOME="$work/home" HOME="$work/empty" "$cmake" -S "$src" \
    -B "$work/home-only" -DBUILD_TESTING=OFF -DNWAL_BUILD_EXAMPLES=OFF >"$work/home-only.log" 2>&1 ||
    { cat "$work/home-only.log" >&2; fail "configure with cargo in CARGO_HOME failed"; }
  grep -qF -- "-- cargo: $work/home/bin/cargo (cargo 0.0.2-cargo-home)" "$work/home-only.log" ||
    { cat "$work/home-only.log" >&2; fail "the cargo of CARGO_HOME was not chosen"; }
fi

echo "--- NWAL_RUST_TARGET: an unknown triple"
if "$cmake" -S "$src" -B "$work/bad-target" -DBUILD_TESTING=OFF -DNWAL_BUILD_EXAMPLES=OFF \
  -DNWAL_RUST_TARGET=not-a-real-triple >"$work/bad-target.log" 2>&1; then
  fail "configure accepted NWAL_RUST_TARGET=not-a-real-triple"
fi
grep -q "NWAL_RUST_TARGET=not-a-real-triple is not a target" "$work/bad-target.log" ||
  { cat "$work/bad-target.log" >&2; fail "no clear message for an unknown triple"; }

host=$(rustc -vV | sed -n 's/^host: //p')
echo "--- NWAL_RUST_TARGET=$host given explicitly: built through cargo --target"
"$cmake" -S "$src" -B "$work/target" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DNWAL_BUILD_EXAMPLES=OFF -DNWAL_RUST_TARGET="$host" -DNWAL_CARGO_TARGET_DIR="$cargo_dir" \
  >"$work/target.log" 2>&1 || { cat "$work/target.log" >&2; fail "configure with the host triple failed"; }
grep -q "^-- Rust target: $host" "$work/target.log" || fail "configure did not name the target"
var=$(echo "$host" | tr 'a-z.-' 'A-Z__')
cc_path=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$work/target/CMakeCache.txt")
grep -rqF "CARGO_TARGET_${var}_LINKER=$cc_path" "$work/target/CMakeFiles/nano_wal_cargo.dir/" ||
  fail "cargo is not given CMake's C compiler as the linker"
"$cmake" --build "$work/target" -j2 >>"$work/target.log" 2>&1 ||
  { cat "$work/target.log" >&2; fail "build with the host triple failed"; }
out="$cargo_dir/$host/release"
[ -f "$out/libnano_wal.a" ] || fail "$out/libnano_wal.a: missing"
"$cmake" --install "$work/target" --prefix "$work/target-stage" >/dev/null
cmp "$work/target-stage/bin/nwal" "$out/nwal" || fail "the installed nwal is not $out/nwal"
readelf -W --dyn-syms "$work/target-stage/lib/libnano_wal.so" | grep -q 'nwal_open@@NWAL_0.1' ||
  fail "the library built for $host lacks nwal_open@@NWAL_0.1"
echo "check_toolchain: OK (PATH first, versions printed, unknown triple refused, --target $host honoured)"

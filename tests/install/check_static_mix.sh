#!/bin/sh
# SPDX-License-Identifier: MIT
# The installed static archive can be linked beside another Rust static
# library: its only global symbols are the nwal_* functions (the rest of the
# crate, its dependencies and its std are local to its one pre-linked
# object), and a C program linking it together with tests/install/other_rust
# (a staticlib with its own std, which panics and catches inside) runs both.
# The other library is built with another Rust toolchain when one is given
# (a component built by another compiler, as in a real program: another
# std, whose unmangled symbols such as rust_eh_personality collide); then
# the same link with cargo's own staticlib must fail with "multiple
# definition", the failure the pre-linked archive exists to avoid.
# usage: check_static_mix.sh BUILD_DIR SOURCE_DIR WORK_DIR [TOOLCHAIN]
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$3
toolchain=${4:+"+$4"}
rm -rf "$work/stage" "$work/bin" "$work/wal"
mkdir -p "$work/bin"
work=$(cd "$work" && pwd)
fail() { echo "check_static_mix: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/stage" >/dev/null
archive=$(find "$work/stage" -name libnano_wal.a)
[ -n "$archive" ] || fail "no libnano_wal.a installed"

# Global definitions of the archive (readelf, not nm: GNU nm hands objects
# to whatever LTO plugin is installed).
globals=$(readelf -sW "$archive" |
  awk '$1 ~ /^[0-9]+:$/ && ($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" {print $8}' | sort -u)
others=$(echo "$globals" | grep -v '^nwal_' || true)
[ -z "$others" ] || fail "libnano_wal.a defines global symbols besides nwal_*: $(echo "$others" | head -5)"
header_fns=$(grep -E '^[a-z][a-z0-9_ ]*[ *]nwal_[a-z_]+\(' "$src/include/nano_wal.h" |
  sed -E 's/^.*[ *](nwal_[a-z_]+)\(.*$/\1/' | sort -u)
[ "$globals" = "$header_fns" ] || fail "libnano_wal.a's globals differ from the header's functions"

# shellcheck disable=SC2086
cargo $toolchain build --quiet --release --manifest-path "$src/tests/install/other_rust/Cargo.toml" \
  --target-dir "$work/other-target"
other="$work/other-target/release/libother_rust.a"
libs="-lpthread -ldl -lm -lrt -lutil -lgcc_s"

# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror -I"$work/stage/include" "$src/tests/install/static_mix.c" \
  "$archive" "$other" $libs -o "$work/bin/static_mix"
"$work/bin/static_mix" "$work/wal" | grep -q "static_mix: OK" || fail "static_mix failed"

# The contrast, with another toolchain's std: cargo's staticlib as it comes.
if [ -n "$toolchain" ]; then
  raw=$(find "$build" -name libnano_wal.a -path '*/cargo/*' | head -n1)
  [ -n "$raw" ] || fail "no cargo staticlib under $build"
  # shellcheck disable=SC2086
  if cc -std=c11 -I"$work/stage/include" "$src/tests/install/static_mix.c" "$raw" "$other" $libs \
    -o "$work/bin/raw_mix" 2>"$work/raw.log"; then
    fail "cargo's own staticlib linked beside a Rust $4 staticlib: the contrast no longer holds"
  fi
  grep -q "multiple definition of .rust_eh_personality" "$work/raw.log" ||
    { cat "$work/raw.log" >&2; fail "the raw link failed for another reason"; }
  echo "check_static_mix: cargo's own staticlib beside Rust $4's: multiple definition of rust_eh_personality (expected)"
fi
echo "check_static_mix: OK (libnano_wal.a: only nwal_* global; linked and run beside another Rust staticlib)"

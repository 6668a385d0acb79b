#!/bin/sh
# SPDX-License-Identifier: MIT
# Offline builds from vendored crates:
#   - scripts/vendor.sh --runtime-only on a copy of the source: only the
#     crates the library and the tool are built from (no test crate, no
#     cbindgen: header generation lives in xtask/), then the CMake build
#     with CARGO_NET_OFFLINE=true and an empty CARGO_HOME (no registry
#     index or cache to fall back on), and the quickstart example runs;
#   - scripts/release-tarball.sh: the source and vendor tarballs unpacked
#     together resolve every crate offline (cargo metadata --locked under an
#     empty CARGO_HOME), and a second run gives the same bytes.
# Needs the crates of Cargo.lock in the registry cache or the network to
# vendor them first. Cost: one release build from scratch (~40 s idle).
# usage: check_offline.sh SOURCE_DIR WORK_DIR
set -eu
src=$(cd "$1" && pwd)
work=$2
rm -rf "$work"
mkdir -p "$work/tree" "$work/home" "$work/home2"
work=$(cd "$work" && pwd)
fail() { echo "check_offline: $*" >&2; exit 1; }

(cd "$src" && git ls-files -co --exclude-standard | tar -cf - -T -) | (cd "$work/tree" && tar -xf -)
bash "$src/scripts/vendor.sh" --runtime-only "$work/tree"
for c in cbindgen tempfile proptest crc32c loom; do
  [ ! -e "$work/tree/vendor/$c" ] || fail "the runtime set holds $c"
done
[ -d "$work/tree/vendor/libc" ] || fail "the runtime set lacks libc"

echo "--- CMake build, CARGO_NET_OFFLINE=true, empty CARGO_HOME, runtime crates only"
CARGO_NET_OFFLINE=true CARGO_HOME="$work/home" cmake -S "$work/tree" -B "$work/build" \
  -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >"$work/build.log" 2>&1 &&
  CARGO_NET_OFFLINE=true CARGO_HOME="$work/home" cmake --build "$work/build" -j2 >>"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; fail "offline build failed"; }
[ ! -e "$work/home/registry" ] || fail "the offline build used a registry ($work/home/registry)"
"$work/build/examples-c/quickstart" "$work/wal" | grep -q "quickstart: OK" || fail "quickstart failed"

echo "--- release tarballs: every crate offline, reproducible"
(cd "$src" && scripts/release-tarball.sh "$work/dist1" && scripts/release-tarball.sh "$work/dist2") >/dev/null 2>&1 ||
  fail "scripts/release-tarball.sh failed"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$src/Cargo.toml" | head -n1)
for f in "nano_wal-$version.tar.gz" "nano_wal-$version-vendor.tar.gz" SHA256SUMS; do
  cmp "$work/dist1/$f" "$work/dist2/$f" || fail "$f differs between two runs"
done
(cd "$work/dist1" && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS does not match"
mkdir -p "$work/rel"
tar -xzf "$work/dist1/nano_wal-$version.tar.gz" -C "$work/rel"
tar -xzf "$work/dist1/nano_wal-$version-vendor.tar.gz" -C "$work/rel"
# cargo finds .cargo/config.toml from its working directory (as CMake runs it).
(cd "$work/rel/nano_wal-$version" &&
  CARGO_NET_OFFLINE=true CARGO_HOME="$work/home2" cargo metadata --locked --offline --format-version 1 >/dev/null) ||
  fail "the release tarballs do not resolve offline"
echo "check_offline: OK (runtime crates only, offline CMake build; release tarballs complete and reproducible)"

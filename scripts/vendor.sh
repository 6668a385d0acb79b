#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Vendors the crates the library and the tool need, for an offline build.
#
# usage: scripts/vendor.sh [--runtime-only] SOURCE_DIR
#
# Writes SOURCE_DIR/vendor (the crates) and SOURCE_DIR/.cargo/config.toml
# (a source replacement: crates.io -> vendor/), so that
#   CARGO_NET_OFFLINE=true cmake -S SOURCE_DIR -B build && cmake --build build
# (or `cargo build --offline --locked`) needs no network. Needs the network,
# or a registry cache holding the crates of Cargo.lock, itself.
#
# Without --runtime-only: every crate of Cargo.lock (cargo resolves the
# dev-dependencies even to build only the library, so this is what an
# unmodified tree needs; `cargo test` works offline too, but for
# tests/header_fresh.rs, which runs the xtask crate).
#
# --runtime-only: only the crates the library and the tool are built from
# (`cargo tree -e normal,build`), and, because cargo would still look for
# the dev-dependencies, it removes the dev-dependency tables of
# SOURCE_DIR/Cargo.toml ([dev-dependencies] and those of a target, such as
# loom's under cfg(loom)) and regenerates SOURCE_DIR/Cargo.lock from the
# vendored crates (the same versions, without the test crates). It changes
# the tree: run it on an unpacked release, never on a checkout you work in
# (it refuses a tree with uncommitted changes).
set -euo pipefail
runtime_only=0
if [ "${1:-}" = "--runtime-only" ]; then runtime_only=1; shift; fi
[ $# = 1 ] || { echo "usage: scripts/vendor.sh [--runtime-only] SOURCE_DIR" >&2; exit 2; }
src=$(cd "$1" && pwd)
[ -f "$src/Cargo.toml" ] && [ -f "$src/Cargo.lock" ] || { echo "vendor.sh: $src has no Cargo.toml and Cargo.lock" >&2; exit 2; }
if [ "$runtime_only" = 1 ] && [ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" = "$src" ] &&
  [ -n "$(git -C "$src" status --porcelain)" ]; then
  echo "vendor.sh: $src is a git checkout with changes; --runtime-only rewrites Cargo.toml and Cargo.lock" >&2
  exit 2
fi
cd "$src"
rm -rf vendor
# From the registry cache if it has everything, else from the network.
cargo vendor --locked --offline vendor >/dev/null 2>&1 || cargo vendor --locked vendor >/dev/null
mkdir -p .cargo
cat >.cargo/config.toml <<'TOML'
# Written by scripts/vendor.sh: build from the crates in vendor/.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"
TOML

if [ "$runtime_only" = 1 ]; then
  # The crates the library and the tool are built from, on any platform.
  keep=$(cargo tree --offline --locked -e normal,build --target all --prefix none \
    --format '{p}' | sed 's/ (.*//; s/ \*$//' | sort -u | grep -v '^nano_wal ')
  for dir in vendor/*/; do
    dir=${dir%/}
    name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1)
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1)
    grep -qxF "$name v$version" <<<"$keep" || rm -rf "$dir"
  done
  # cargo resolves dev-dependencies for every build, a target's too: drop
  # them, then lock what remains (the vendored versions: the only ones it
  # can see).
  python3 - Cargo.toml <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"\n\[(target\.[^\]\n]+\.)?dev-dependencies\]\n.*?(?=\n\[|\Z)", "\n", s, flags=re.S)
open(p, "w").write(s)
PY
  cargo generate-lockfile --offline >/dev/null 2>&1
fi
echo "vendor.sh: $(find vendor -mindepth 1 -maxdepth 1 -type d | wc -l) crates, $(du -sh vendor | cut -f1) in $src/vendor"

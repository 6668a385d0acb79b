#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Makes the release tarballs of the commit checked out:
#   OUT_DIR/nano_wal-X.Y.Z.tar.gz         the source (git archive of HEAD)
#   OUT_DIR/nano_wal-X.Y.Z-vendor.tar.gz  every crate of Cargo.lock, as
#       nano_wal-X.Y.Z/vendor/, with nano_wal-X.Y.Z/.cargo/config.toml (a
#       source replacement: crates.io -> vendor/)
#   OUT_DIR/SHA256SUMS
# Unpacked into the same directory, the two give a tree that builds with no
# network: CARGO_NET_OFFLINE=true cmake -S nano_wal-X.Y.Z -B build ...
# (docs/PACKAGING.md). Both tarballs are reproducible: files sorted, owner
# 0, mtime of the commit, gzip without a timestamp. X.Y.Z is the version of
# Cargo.toml; the commit should be the release's tag.
#
# usage: scripts/release-tarball.sh [OUT_DIR]   (default: target/dist)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
name="nano_wal-$version"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "release-tarball.sh: note: uncommitted changes are not in the tarball (it is HEAD's)" >&2
fi
mtime=$(git log -1 --format=%ct HEAD)

git archive --format=tar --prefix="$name/" HEAD | gzip -n -9 >"$out/$name.tar.gz"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive --format=tar --prefix="$name/" HEAD | tar -xf - -C "$tmp"
scripts/vendor.sh "$tmp/$name" >/dev/null
tar --sort=name --mtime="@$mtime" --owner=0 --group=0 --numeric-owner --format=gnu \
  -C "$tmp" -cf - "$name/vendor" "$name/.cargo/config.toml" | gzip -n -9 >"$out/$name-vendor.tar.gz"

(cd "$out" && sha256sum "$name.tar.gz" "$name-vendor.tar.gz" >SHA256SUMS)
echo "release-tarball.sh: $out/$name.tar.gz, $out/$name-vendor.tar.gz ($(du -h "$out/$name-vendor.tar.gz" | cut -f1)), SHA256SUMS"

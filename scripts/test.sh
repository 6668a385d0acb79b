#!/usr/bin/env bash
# Runs every test suite of nano_wal. Installs what this machine lacks
# (idempotently: `apt-get update` at most once, then `apt-get install`).
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --all-features -- -D warnings

section "cargo test"
cargo test

section "cargo test: injected I/O faults"
cargo test --features fault-injection --test faults

echo "All test suites passed."

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rewrites the ABI baseline abi/libnano_wal.abi (and the version it was made
# from, abi/libnano_wal.abi.version) from the current source. Run it in the
# commit that changes the ABI together with a soname bump, or after adding
# functions; see scripts/check-abi.sh for the rule.
set -euo pipefail
exec "$(dirname "$0")/check-abi.sh" --update

#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports exactly the functions the header declares (plus
# the test-only names given as extra arguments): nothing more, nothing less.
# usage: check_exports.sh LIBRARY HEADER [EXTRA_SYMBOL...]
set -eu
lib=$1
header=$2
shift 2
# readelf, not nm: GNU nm hands objects to whatever LTO plugin is installed.
# Without the version suffix (@@NWAL_x.y); the version nodes' own absolute
# symbols are not functions.
exported=$(readelf -W --dyn-syms "$lib" |
  awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && !($7 == "ABS" && $4 == "OBJECT") {sub(/@.*/, "", $8); print $8}' |
  sort -u)
declared=$({
  grep -E '^[a-z][a-z0-9_ ]*[ *]nwal_[a-z_]+\(' "$header" | sed -E 's/^.*[ *](nwal_[a-z_]+)\(.*$/\1/'
  for extra in "$@"; do echo "$extra"; done
} | sort -u)
if [ "$exported" != "$declared" ]; then
  echo "exported symbols differ from the header's functions"
  echo "exported but not declared:"
  echo "$exported" | grep -vxF "$declared" || true
  echo "declared but not exported:"
  echo "$declared" | grep -vxF "$exported" || true
  exit 1
fi
echo "check_exports: OK ($(echo "$exported" | wc -l) nwal_* symbols)"

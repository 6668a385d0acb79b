#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every source file of the repository says its license in its first lines:
# `SPDX-License-Identifier: MIT` (in the comment syntax of its language).
#
# usage: scripts/spdx.sh          check: list the files without it, exit 1 if any
#        scripts/spdx.sh --fix    add the line where it is missing (after a
#                                 #! line, else first), then check
#
# The files: those git tracks (and new ones not ignored) whose names match
# the patterns below: Rust, C, C++, Go, Zig, CMake, shell, Python, the
# bash completion, the version script, the pkg-config and CMake templates.
set -euo pipefail
cd "$(dirname "$0")/.."

patterns=('*.rs' '*.c' '*.h' '*.cpp' '*.hpp' 'CMakeLists.txt' '*.cmake' '*.cmake.in' '*.pc.in'
  '*.sh' '*.py' '*.bash' '*.map' '*.go' '*.zig' '*.zon' '.ci/run')
tag="SPDX-License-Identifier: MIT"

# comment_line FILE: the SPDX line in FILE's comment syntax.
comment_line() {
  case "$1" in
    *.rs | *.go | *.zig | *.zon) echo "// $tag" ;;
    *.c | *.h | *.cpp | *.hpp | *.map) echo "/* $tag */" ;;
    *) echo "# $tag" ;;
  esac
}

files() {
  git ls-files -co --exclude-standard -- "${patterns[@]}" | sort -u | while read -r f; do
    [ -f "$f" ] && echo "$f"
  done
}

if [ "${1:-}" = "--fix" ]; then
  files | while read -r f; do
    head -n 3 "$f" | grep -qF "$tag" && continue
    line=$(comment_line "$f")
    if head -n 1 "$f" | grep -q '^#!'; then
      { head -n 1 "$f"; echo "$line"; tail -n +2 "$f"; } >"$f.spdx"
    else
      { echo "$line"; cat "$f"; } >"$f.spdx"
    fi
    chmod --reference="$f" "$f.spdx"
    mv "$f.spdx" "$f"
    echo "spdx.sh: added to $f"
  done
elif [ $# -gt 0 ]; then
  echo "usage: scripts/spdx.sh [--fix]" >&2
  exit 2
fi

missing=$(files | while read -r f; do head -n 3 "$f" | grep -qF "$tag" || echo "$f"; done)
if [ -n "$missing" ]; then
  echo "spdx.sh: no '$tag' in the first 3 lines of:" >&2
  echo "$missing" >&2
  echo "(scripts/spdx.sh --fix adds it)" >&2
  exit 1
fi
echo "spdx.sh: OK ($(files | wc -l) files)"

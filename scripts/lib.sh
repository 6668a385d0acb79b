# SPDX-License-Identifier: MIT
# Helpers shared by the scripts in this directory (sourced, not run).

section() { printf '\n==== %s ====\n' "$*"; }

_apt_updated=0
# need_apt CMD PACKAGE...: install PACKAGEs from Debian if CMD is missing.
need_apt() {
  local cmd=$1; shift
  if command -v "$cmd" >/dev/null 2>&1; then return 0; fi
  if [ "$_apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# need_apt_file FILE PACKAGE...: install PACKAGEs from Debian if FILE is
# missing (for libraries and headers, which have no command to look for).
need_apt_file() {
  local file=$1; shift
  if [ -e "$file" ]; then return 0; fi
  if [ "$_apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# need_rust_src: add the rust-src component (std's sources, for -Zbuild-std)
# if the active toolchain lacks it.
need_rust_src() {
  if [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then return 0; fi
  rustup component add rust-src
}

# need_rust_toolchain VERSION: install that Rust toolchain (minimal profile)
# if rustup does not have it yet.
need_rust_toolchain() {
  if rustup run "$1" rustc --version >/dev/null 2>&1; then return 0; fi
  rustup toolchain install "$1" --profile minimal
}

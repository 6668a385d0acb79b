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

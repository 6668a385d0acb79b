# SPDX-License-Identifier: MIT
# bash completion for nwal, the operator tool of nano_wal.
#
# Installed as bash-completion/completions/nwal (loaded on demand by the
# bash-completion package), or source it. Completes the commands, each
# command's options, the values of --format, a directory for DIR and, for
# STREAM, the streams of that directory (from the names of their files).
# Needs nothing from bash-completion.

# _nwal_streams DIR: the streams of the log directory DIR, one a line. A
# stream's files are {stream}.lock, {stream}.meta and
# {stream}_{expiration}_{id}.seg; a segment name is parsed from the right
# (the stream name may hold '_').
_nwal_streams() {
  local dir=$1 f name restore
  local -A seen=()
  [[ $dir == "~"* ]] && dir=$HOME${dir:1}
  [ -d "$dir" ] || return 0
  restore=$(shopt -p nullglob failglob)
  shopt -s nullglob
  shopt -u failglob
  for f in "$dir"/*.lock "$dir"/*.meta "$dir"/*.seg; do
    name=${f##*/}
    if [[ $name =~ ^(.+)_-?[0-9]+_[0-9]+\.seg$ ]]; then
      name=${BASH_REMATCH[1]}
    elif [[ $name =~ ^(.+)\.(lock|meta)$ ]]; then
      name=${BASH_REMATCH[1]}
    else
      continue
    fi
    # A valid stream name: 1-200 bytes of [A-Za-z0-9._-], no leading '.'.
    [[ $name =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]*$ ]] && ((${#name} <= 200)) || continue
    seen[$name]=1
  done
  eval "$restore"
  ((${#seen[@]})) && printf '%s\n' "${!seen[@]}"
}

# _nwal_options COMMAND: the options COMMAND takes.
_nwal_options() {
  case $1 in
    stat) echo "--now --max-stream-bytes" ;;
    verify) echo "--all --report --format" ;;
    dump) echo "--from --from-index --to-index --limit --format" ;;
    repair) echo "--dry-run --force" ;;
    bench) echo "--records --size" ;;
  esac
}

_nwal() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev="" opt
  local commands="stat verify dump repair meta bench help"
  COMPREPLY=()
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}

  if ((COMP_CWORD == 1)); then
    mapfile -t COMPREPLY < <(compgen -W "$commands --help --version" -- "$cur")
    return 0
  fi
  local cmd=${COMP_WORDS[1]}

  # The value of an option: `--opt VALUE`, or `--opt=VALUE`, which bash
  # splits at '=' (COMP_WORDBREAKS) into `--opt`, `=`, `VALUE`.
  opt=$prev
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" ]] && ((COMP_CWORD >= 3)); then
    opt=${COMP_WORDS[COMP_CWORD - 2]}
  fi
  case $opt in
    --format)
      if [[ $cmd == verify ]]; then
        mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur")
      else
        mapfile -t COMPREPLY < <(compgen -W "text json hex" -- "$cur")
      fi
      return 0
      ;;
    --from | --from-index | --to-index | --limit | --records | --size | --now | --max-stream-bytes) return 0 ;;
  esac

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_nwal_options "$cmd") --help" -- "$cur")
    return 0
  fi

  # The positional arguments before the word completed (DIR, STREAM),
  # skipping options and their values.
  local i w skip=0 npos=0 dir=""
  for ((i = 2; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ $w == "=" ]]; then
      skip=1
      continue
    fi
    if ((skip)); then
      skip=0
      continue
    fi
    case $w in
      --from | --from-index | --to-index | --limit | --format | --records | --size | --now | --max-stream-bytes) skip=1 ;;
      -*) ;;
      *)
        ((npos == 0)) && dir=$w
        ((npos++))
        ;;
    esac
  done

  case $cmd in
    help)
      ((npos == 0)) && mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
      ;;
    stat | verify | dump | repair | meta | bench)
      if ((npos == 0)); then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      elif ((npos == 1)) && [[ $cmd != bench ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_nwal_streams "$dir")" -- "$cur")
      fi
      ;;
  esac
  return 0
}

complete -F _nwal nwal

# shellcheck shell=bash
# Shared by scripts/deps.sh, deps-deploy.sh and deps-bench.sh (sourced, not run): the one
# "which packages are missing -> install them" step each of them takes with its own list.
#
#   source "$(dirname "$0")/lib-deps.sh"
#   deps_install [--after FUNC] NAME PKG...
#
# Installs the PKGs dpkg does not show as installed, as root or through sudo, and says so on
# stderr as "NAME: installing PKG...". When nothing is missing it does nothing at all (no
# apt-get update), so the scripts stay quick and idempotent. FUNC runs only after an install,
# with the command prefix for privileged steps as its arguments (none as root, else sudo):
# the follow-up a package needs (stopping a server it started) is only due when it was just
# installed. A failing apt-get ends the calling script (set -e).
deps_install() {
  local after="" name p
  local missing=() sudo=()
  if [ "${1:-}" = --after ]; then
    after=$2
    shift 2
  fi
  name=$1
  shift
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  echo "$name: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$after" ]; then "$after" "${sudo[@]}"; fi
}

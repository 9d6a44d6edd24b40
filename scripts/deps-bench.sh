#!/usr/bin/env bash
# Installs the Debian packages bench/run.sh needs on top of scripts/deps.sh: pgloader (the
# comparison loader), valgrind (callgrind: instructions per row), time (/usr/bin/time -v:
# peak RSS). Called by bench/run.sh only, never by the test suite. Idempotent, and quick
# when everything is already there (no apt-get update then). Runs as root or through sudo.
set -euo pipefail

packages=(pgloader valgrind time sqlite3 procps)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps-bench: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

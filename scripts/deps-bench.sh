#!/usr/bin/env bash
# Installs the Debian packages bench/run.sh needs on top of scripts/deps.sh: pgloader (the
# comparison loader), valgrind (callgrind: instructions per row), time (/usr/bin/time -v:
# peak RSS). Called by bench/run.sh only, never by the test suite. Idempotent, and quick
# when everything is already there (no apt-get update then). Runs as root or through sudo.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib-deps.sh disable=SC1091
source "$(dirname "$0")/lib-deps.sh"

packages=(pgloader valgrind time sqlite3 procps)

deps_install deps-bench "${packages[@]}"

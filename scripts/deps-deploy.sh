#!/usr/bin/env bash
# Installs the Debian packages the static checks of the deployment files need
# (tests/integration/deploy_static.test.sh); scripts/deps.sh calls it. Idempotent, and
# quick when everything is already there (no apt-get update then).
#   docker-compose      the compose loader (`docker-compose config`, no engine needed) and
#                       the compose specification's JSON schema it ships
#   python3-jsonschema  validates docker-compose.yml against that schema
#   python3-kubernetes  the Kubernetes API models the manifests are checked against
#   prometheus          promtool: check and unit-test the alert rules, check the config
#   (shellcheck)        the Dockerfile's RUN steps and the container health check script
#   yamllint            style and syntax of every YAML file
#   systemd             systemd-analyze verify / security of the units
#   binutils            readelf: the libraries the binaries link (runtime image packages)
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib-deps.sh disable=SC1091
source "$(dirname "$0")/lib-deps.sh"

packages=(
  docker-compose python3-jsonschema python3-kubernetes python3-yaml prometheus shellcheck
  yamllint systemd binutils
)

# The prometheus package may start a server where an init system runs; the checks only
# need promtool. Run after an install, with the sudo prefix as arguments.
stop_prometheus() {
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    "$@" systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
}

deps_install --after stop_prometheus deps-deploy "${packages[@]}"

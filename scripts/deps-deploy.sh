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

packages=(
  docker-compose python3-jsonschema python3-kubernetes python3-yaml prometheus shellcheck
  yamllint systemd binutils
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps-deploy: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package may start a server where an init system runs; the checks only
# need promtool.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

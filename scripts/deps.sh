#!/usr/bin/env bash
# Installs the Debian packages the build, the tests, the demo and the benchmarks need.
# Idempotent, and quick when everything is already there (no apt-get update then).
# Runs as root (CI, fresh machines) or through sudo when available.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  librdkafka-dev libavro-dev libsqlite3-dev sqlite3 libpq-dev libyaml-dev libjansson-dev
  libcurl4-openssl-dev libcmocka-dev liblz4-dev
  postgresql postgresql-contrib
  kcat jq python3 python3-avro python3-confluent-kafka python3-yaml time
  procps iproute2 util-linux psmisc
)

# The static validators of the deploy files (compose schema, Kubernetes models, promtool,
# yamllint, systemd-analyze) are part of the test suite too.
bash "$(dirname "$0")/deps-deploy.sh"

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The postgresql package starts a system cluster on port 5432; the tests and the demo run
# their own throwaway servers, so that one is not needed (and would hold the port).
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters -h 2>/dev/null | while read -r ver name port status _; do
    if [ "$status" = online ]; then "${sudo[@]}" pg_ctlcluster "$ver" "$name" stop || true; fi
  done
fi

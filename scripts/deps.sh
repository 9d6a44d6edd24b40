#!/usr/bin/env bash
# Installs the Debian packages the build, the tests, the demo and the benchmarks need.
# Idempotent, and quick when everything is already there (no apt-get update then).
# Runs as root (CI, fresh machines) or through sudo when available.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib-deps.sh disable=SC1091
source "$(dirname "$0")/lib-deps.sh"

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

# The postgresql package starts a system cluster on port 5432; the tests and the demo run
# their own throwaway servers, so that one is not needed (and would hold the port). Run
# after an install, with the sudo prefix as arguments.
stop_pg_clusters() {
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _ status _; do
      if [ "$status" = online ]; then "$@" pg_ctlcluster "$ver" "$name" stop || true; fi
    done
  fi
}

deps_install --after stop_pg_clusters deps "${packages[@]}"

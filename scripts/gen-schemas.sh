#!/usr/bin/env bash
# Regenerates schemas/ (the .avsc files of the fixture databases) from the build:
#   scripts/gen-schemas.sh [BUILD_DIR] [OUT_DIR]
# BUILD_DIR defaults to build/, OUT_DIR to schemas/. Writes the fixtures (cdc-fixtures)
# into a temporary directory, runs `cdc-producer -c config/pipeline.example.yml
# --write-schemas` over them (no Kafka, capture never installed), then replaces every
# .avsc under OUT_DIR (stale ones are removed; README.md and postgres/ stay).
# tests/integration/schemas_current.test.sh fails when schemas/ is not current.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
out=${2:-$root/schemas}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
producer=$build/producer/cdc-producer
fixtures=$build/tools/fixtures/cdc-fixtures
for bin in "$producer" "$fixtures"; do
    [[ -x $bin ]] || { echo "gen-schemas: $bin not built (scripts/build.sh ${1:-build})" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cdc-gen-schemas.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$fixtures" --out "$tmp/data" > /dev/null 2> "$tmp/fixtures.log" ||
    { cat "$tmp/fixtures.log" >&2; echo "gen-schemas: cdc-fixtures failed" >&2; exit 1; }
CDC_DATA_DIR=$tmp/data "$producer" -c "$root/config/pipeline.example.yml" \
    --write-schemas "$tmp/schemas" --log-level warn ||
    { echo "gen-schemas: cdc-producer --write-schemas failed" >&2; exit 1; }

mkdir -p "$out"
find "$out" -path "$out/postgres" -prune -o -name '*.avsc' -type f -print0 | xargs -0r rm -f
find "$out" -mindepth 1 -path "$out/postgres" -prune -o -type d -empty -print0 | xargs -0r rmdir
cp -R "$tmp/schemas/." "$out/"
echo "gen-schemas: $(find "$tmp/schemas" -name '*.avsc' | wc -l) schema file(s) in $out"

#!/usr/bin/env bash
# Benchmark (not a test): the audit of one large table, crm_contacts_scale written by
# `cdc-fixtures --scale N`, for each N given (default: 100000 and 1000000), against a
# throwaway PostgreSQL (tests/harness). The target is loaded through the sink's
# PostgreSQL side (tests/tools/audit_check load); the audit then runs under
# /usr/bin/time -v. Prints, per N: load time, audit wall time, rows/s and peak RSS; the
# peak RSS must not grow with N (the audit streams both sides).
#
#   CDC_BUILD_DIR=build bench/audit_1m.sh [N...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export CDC_SOURCE_DIR=${CDC_SOURCE_DIR:-$here}
export CDC_BUILD_DIR=${CDC_BUILD_DIR:-$here/build}
check=$CDC_BUILD_DIR/tests/tools/audit_check
fixtures=$CDC_BUILD_DIR/tools/fixtures/cdc-fixtures
for b in "$check" "$fixtures" /usr/bin/time; do
    [[ -x $b ]] || { echo "audit_1m: $b is missing (build the tree first)" >&2; exit 1; }
done
sizes=("$@")
((${#sizes[@]})) || sizes=(100000 1000000)

# shellcheck source=../tests/harness/stack.sh
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
cdc_stack_up --no-broker
printf '%-10s %10s %10s %12s %12s %14s\n' rows load_s audit_s rows_per_s peak_rss_kb result
for n in "${sizes[@]}"; do
    db=bench_$n
    cdc_pg_createdb "$db"
    dir=$CDC_TEST_TMPDIR/data_$n
    "$fixtures" --out "$dir" --scale "$n" >/dev/null
    cfg=$CDC_TEST_TMPDIR/bench_$n.yml
    cat >"$cfg" <<YAML
kafka: {bootstrap.servers: 127.0.0.1:9}
topic_prefix: bench
domains:
  - {name: crm, partitions: 1, target: "$(cdc_pg_conninfo "$db")"}
sources:
  - {name: scale, domain: crm, path: "$dir/scale/crm_contacts_scale.db"}
YAML
    t0=$(date +%s.%N)
    "$check" load "$cfg" crm
    t1=$(date +%s.%N)
    rc=0
    /usr/bin/time -v -o "$CDC_TEST_TMPDIR/time_$n" "$check" audit "$cfg" >"$CDC_TEST_TMPDIR/report_$n" || rc=$?
    t2=$(date +%s.%N)
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$CDC_TEST_TMPDIR/time_$n")
    result=$(sed -n 's/.*result: //p' "$CDC_TEST_TMPDIR/report_$n")
    awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v rss="$rss" -v res="$result (exit $rc)" \
        'BEGIN { printf "%-10d %10.1f %10.2f %12.0f %12d %14s\n", n, b - a, c - b, n / (c - b), rss, res }'
    grep -E '^  (rows|sha256)' "$CDC_TEST_TMPDIR/report_$n" | head -2 | sed 's/^/    /'
done

#!/usr/bin/env bash
# The benchmark suite's smoke check: `bench/run.sh --quick --no-history` (50,000 rows,
# 10 s streaming, one run of every measure, its own release build in build-release and its
# own stacks) must finish with exit 0 and print the table with a row for every measure,
# the ratio table, the money comparison with pgloader and the callgrind top functions,
# and must leave bench/history.md alone.
# labels: integration full
# timeout: 900
set -euo pipefail
src=${CDC_SOURCE_DIR:?}
out=$(mktemp "${TMPDIR:-/tmp}/bench-quick.XXXXXX")
trap 'rm -f "$out"' EXIT
fail() {
    echo "FAIL: $*" >&2
    tail -60 "$out" >&2
    exit 1
}

hist_before=$(sha256sum <"$src/bench/history.md")
rc=0
bash "$src/bench/run.sh" --quick --no-history >"$out" 2>&1 || rc=$?
((rc == 0)) || fail "bench/run.sh --quick exited $rc"

for row in '1. snapshot cdc (1 producer, 2 sinks)' '1. snapshot pgloader' '1. PostgreSQL COPY' \
    '2. streaming latency p50' '2. streaming latency p99' '3. replay into equal target' \
    '4. app commits/s, no capture' '4. app commits/s, capture + producer' \
    '5. peak RSS producer' '5. peak RSS sink' '6. snapshot cdc, 1 sink worker' \
    '7. producer instructions/row' '7. sink instructions/row'; do
    grep -qF "| $row" "$out" || fail "the table has no row '$row'"
done
grep -qE '^\| measure \| unit \| n \| min \| median \| max \|' "$out" || fail "no table header"
grep -qE '^\| cdc / pgloader rows/s \| [0-9.]+ \| >= 1.2 \| (met|NOT met) \|' "$out" ||
    fail "no cdc / pgloader ratio"
grep -qE '^\| streaming p99 ms \| [0-9.,]+ \| < 500 \| (met|NOT met) \|' "$out" || fail "no p99 ratio row"
grep -qE 'money: pgloader maps estimated_value REAL to .*; cdc target sum [0-9.]+ \(exact\)' "$out" ||
    fail "no money comparison"
grep -qE '^callgrind, producer, top functions' "$out" || fail "no callgrind top functions"
# Every measured value is a number (n/a only in the ratio rows of measures not run).
if grep -E '^\| [1-7]\. ' "$out" | grep -q 'n/a'; then fail "a measure has no value"; fi
[[ $(sha256sum <"$src/bench/history.md") == "$hist_before" ]] ||
    fail "--no-history changed bench/history.md"
echo "ok: bench --quick printed the table"
grep -E '^\| ' "$out"

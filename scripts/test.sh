#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs the quick tier (unit and
# integration tests) in the normal build and again in the sanitizer build (ASan + UBSan).
#   scripts/test.sh            quick tier, normal + sanitizer build (what CI runs)
#   scripts/test.sh --full     the full tier as well (large kill counts, seeded runs)
#   scripts/test.sh -R NAME    only the tests whose name matches NAME (normal build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tier=quick
filter=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) tier=full ;;
    -R) filter=(-R "$2"); shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

bash scripts/deps.sh
bash scripts/build.sh build
total_pass=0
total_fail=0

# Runs ctest in a build tree and adds its counts to the totals.
run_ctest() {
  local dir=$1; shift
  local log
  log=$(mktemp)
  local rc=0
  ctest --test-dir "$dir" --output-on-failure -j2 "$@" 2>&1 | tee "$log" || rc=$?
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1 || true)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "test.sh: ctest in $dir printed no summary (rc=$rc)" >&2
    total_fail=$((total_fail + 1))
    return 0
  fi
  local failed all
  failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  all=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  total_pass=$((total_pass + all - failed))
  total_fail=$((total_fail + failed))
}

if [ ${#filter[@]} -gt 0 ]; then
  run_ctest build "${filter[@]}"
else
  labels=(-L quick)
  [ "$tier" = full ] && labels=()
  run_ctest build "${labels[@]}"
  echo "== sanitizer build (AddressSanitizer + UndefinedBehaviorSanitizer), quick tier =="
  bash scripts/build.sh build-asan -DCDC_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest build-asan -L quick
fi

echo
echo "total: ${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]

#!/usr/bin/env bash
# The sink's PostgreSQL side (consumers/sink_apply.h; DESIGN.md invariants 5-8) against a
# real PostgreSQL: tests/tools/sink_apply_check creates target tables from row schemas,
# applies batches built from encoded-then-decoded records, and checks inserts, updates,
# deletes and tombstones, newest-per-key reduction, idempotent replay (superseded, never
# mismatch), monotonic positions, fencing between two workers, snapshot end markers,
# a pre-created table whose constraints refuse records (dead letters with table, key and
# column; the rest commits), exact money, parity for every kind, name collisions, cutover
# refusal and reconnection after a terminated backend.
# labels: integration quick
# timeout: 120
set -euo pipefail
: "${CDC_SOURCE_DIR:?CDC_SOURCE_DIR must point at the source tree}"
: "${CDC_BUILD_DIR:?CDC_BUILD_DIR must point at the build tree}"
check="$CDC_BUILD_DIR/tests/tools/sink_apply_check"
if [[ ! -x $check ]]; then
    echo "FAIL: $check is not built" >&2
    exit 1
fi
# shellcheck source=../harness/stack.sh
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
cdc_stack_up --no-broker
cdc_pg_createdb sink
conninfo=$(cdc_pg_conninfo sink)
out=$CDC_TEST_TMPDIR/sink_apply.out

if ! "$check" "$conninfo" >"$out"; then
    echo "FAIL: sink_apply_check" >&2
    sed 's/^/  | /' "$out" >&2
    exit 1
fi
cat "$out"
n=$(grep -c '^ok: ' "$out")
((n == 13)) || { echo "FAIL: expected 13 ok lines, got $n" >&2; exit 1; }

# Independent of our code: the stored rows as PostgreSQL sees them.
[[ $(cdc_psql sink "SELECT sum(price)::text FROM items WHERE id IN (1, 4, 6)") == 1213947.75 ]] || {
    echo "FAIL: money not exact" >&2
    exit 1
}
[[ $(cdc_psql sink "SELECT count(*) FROM _cdc_parity_outbox WHERE status = 'mismatch'") == 0 ]] || {
    echo "FAIL: parity mismatches recorded" >&2
    exit 1
}
echo "ok: sink apply against PostgreSQL"

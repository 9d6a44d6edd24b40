#!/usr/bin/env bash
# Two cdc-sink workers of one domain's group on a 6-partition topic:
#  1. both take partitions (each logs its assignment; together they hold all 6);
#  2. rows published while they run all arrive exactly once: row count, every row at its
#     position, exactly one parity result per applied version (a batch applied twice
#     would write two), stored offsets equal to the high watermarks;
#  3. SIGTERM makes each finish its open batches, leave the group and exit 0; a --once run
#     afterwards finds nothing to do.
# labels: integration quick
# timeout: 300
set -euo pipefail
# shellcheck source=sink_kafka_common.sh
source "$CDC_SOURCE_DIR/tests/integration/sink_kafka_common.sh"

sk_up
N=3000
"$FEED" rows "$CFG" s1 accounts 1 10 1 c # creates the table before the workers race for it

pids=()
for w in a b; do
    "$SINK" -c "$CFG" --domain crm --batch-rows 100 --batch-ms 50 \
        2>"$CDC_TEST_TMPDIR/worker-$w.err" &
    pids+=($!)
done
cdc_stack_on_down "kill ${pids[*]} 2>/dev/null; wait ${pids[*]} 2>/dev/null"

# holds WORKER: how many partition assignments the worker has logged so far.
holds() { grep -c "assigned st.crm \[" "$CDC_TEST_TMPDIR/worker-$1.err" || true; }
for _ in $(seq 1 300); do
    if (($(holds a) > 0 && $(holds b) > 0)); then break; fi
    sleep 0.1
done
(($(holds a) > 0 && $(holds b) > 0)) ||
    fail "both workers should hold partitions: a=$(holds a) b=$(holds b)
$(tail -5 "$CDC_TEST_TMPDIR/worker-a.err") $(tail -5 "$CDC_TEST_TMPDIR/worker-b.err")"
ok "both workers were assigned partitions"

"$FEED" rows "$CFG" s1 accounts 11 $((N - 10)) 1 c
"$FEED" rows "$CFG" s1 accounts 1 500 2 u
end=$(sk_hwm_sum st.crm)
[[ $end == $((N + 500)) ]] || fail "st.crm holds $end records"
q() { cdc_psql sink "$1"; }
for _ in $(seq 1 600); do
    [[ $(q "SELECT coalesce(sum(next_offset), 0) FROM _cdc_offsets WHERE domain = 'crm'") == "$end" ]] && break
    sleep 0.1
done
[[ $(q "SELECT sum(next_offset) FROM _cdc_offsets WHERE domain = 'crm'") == "$end" ]] ||
    fail "stored offsets $(q "SELECT kpartition, next_offset FROM _cdc_offsets") never reached $end"

# last_parts WORKER: every partition the worker was ever assigned.
last_parts() {
    grep -o "assigned st.crm \[[0-9]*\]" "$CDC_TEST_TMPDIR/worker-$1.err" | grep -o "[0-9]*" | sort -n
}
for w in a b; do
    kill -TERM "${pids[0]}" 2>/dev/null || true
    rc=0
    wait "${pids[0]}" || rc=$?
    [[ $rc == 0 ]] || fail "worker exited $rc after SIGTERM: $(tail -5 "$CDC_TEST_TMPDIR/worker-$w.err")"
    pids=("${pids[@]:1}")
done
ok "both workers exit 0 on SIGTERM"
union=$( (last_parts a; last_parts b) | sort -un | tr '\n' ' ')
[[ $union == "0 1 2 3 4 5 " ]] || fail "partitions held: $union"

[[ $(q "SELECT count(*) FROM accounts") == "$N" ]] || fail "accounts: $(q "SELECT count(*) FROM accounts")"
bad=$(q "SELECT count(*) FROM accounts WHERE _cdc_pos <> CASE WHEN id <= 500 THEN 2000000 + id
         ELSE 1000000 + id END")
[[ $bad == 0 ]] || fail "$bad rows not at their newest position"
# Exactly once: one parity result per version that was applied or superseded (a batch
# applied twice would add its results again: superseded the second time). Matches and
# superseded versions are counted per batch: a row stands for `results` results.
outbox=$(q "SELECT sum(results) FROM _cdc_parity_outbox WHERE domain = 'crm'")
[[ $outbox == $((N + 500)) ]] || fail "parity outbox has $outbox results, expected $((N + 500))"
mism=$(q "SELECT count(*) FROM _cdc_parity_outbox WHERE status = 'mismatch'")
[[ $mism == 0 ]] || fail "$mism parity mismatches"
ok "$N rows exactly once across two workers ($outbox outbox results, no duplicates)"

sk_sink --domain crm --once
[[ $rc == 0 ]] || fail "--once after the workers exited $rc"
grep -q " 0 batches, 0 rows applied" "$CDC_TEST_TMPDIR/sink.err" || fail "--once re-applied records"
ok "a --once run afterwards finds nothing to do"

#!/usr/bin/env bash
# kill -9 between commit and publish loses no parity result (DESIGN.md invariants 7, 8):
#  1. five times, cdc-sink kills itself with SIGKILL right after committing a batch and
#     before publishing its parity results (test hook CDC_SINK_CRASH_AFTER_COMMIT=1); each
#     time the batch's outbox rows are left unsent, and the next start publishes them;
#  2. cdc-validator is killed with SIGKILL while it counts, then run again with --once;
#  3. in the end every record of the domain topic was applied once and counted once:
#     sum(rows_seen) = records fed = outbox results, per table and status the state equals
#     the outbox, nothing is left unsent; the 7 unsent per-row results of an older sink's
#     outbox (no `results` column) were published and counted too.
# labels: integration quick
# timeout: 300
set -euo pipefail
# shellcheck source=sink_kafka_common.sh
source "$CDC_SOURCE_DIR/tests/integration/sink_kafka_common.sh"
VALIDATOR=$CDC_BUILD_DIR/consumers/cdc-validator
[[ -x $VALIDATOR ]] || fail "$VALIDATOR not built"
KILLS=${CDC_PARITY_KILLS:-5}

sk_up
# A killed member holds its partitions until its session times out: keep that short.
printf 'kafka_consumer:\n  session.timeout.ms: "3000"\n' >>"$CFG"
q() { cdc_psql sink "$1"; }
"$FEED" rows "$CFG" s1 accounts 1 300 1 c
"$FEED" rows "$CFG" s1 accounts 1 100 2 u
"$FEED" rows "$CFG" s1 notes 1 60 1 r
fed=$(sk_hwm_sum st.crm)
[[ $fed == 460 ]] || fail "st.crm holds $fed records"

# ---- 0. the outbox of an older sink: one row per result, no `results`, 7 unsent ------
# The first worker adds the column (DEFAULT 1) and publishes them before applying.
q "CREATE TABLE _cdc_parity_outbox (id bigserial PRIMARY KEY, domain text NOT NULL,
     source text, source_table text, key bytea, epoch bigint, pos bigint, op char(1),
     source_hash bytea, stored_hash bytea, status text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(), sent boolean NOT NULL DEFAULT false)" >/dev/null
q "INSERT INTO _cdc_parity_outbox (domain, source, source_table, key, epoch, pos, op, status)
   SELECT 'crm', 's1', 'legacy', int4send(i), 1, i, 'c',
          CASE WHEN i <= 5 THEN 'match' ELSE 'superseded' END FROM generate_series(1, 7) i" >/dev/null

# ---- 1. sink killed after commit, before publish ----------------------------------------
for k in $(seq 1 "$KILLS"); do
    rc=0
    CDC_SINK_CRASH_AFTER_COMMIT=1 timeout -k 5 120 "$SINK" -c "$CFG" --domain crm --once \
        --batch-rows 10 2>"$CDC_TEST_TMPDIR/sink-$k.err" || rc=$?
    [[ $rc == 137 ]] || fail "kill $k: cdc-sink exited $rc, expected 137 (SIGKILL)
$(tail -5 "$CDC_TEST_TMPDIR/sink-$k.err")"
    grep -q "killing this worker after commit 1" "$CDC_TEST_TMPDIR/sink-$k.err" ||
        fail "kill $k: the hook did not fire"
    # A row stands for `results` results (matches and superseded are counted per batch).
    unsent=$(q "SELECT coalesce(sum(results), 0) FROM _cdc_parity_outbox WHERE NOT sent")
    # Only this kill's batch (at most 10 rows): what earlier kills left was published when
    # this worker started, or the count would grow.
    ((unsent > 0 && unsent <= 10)) || fail "kill $k: $unsent outbox results unsent, expected 1..10"
done
applied=$(q "SELECT sum(results) FROM _cdc_parity_outbox WHERE source_table <> 'legacy'")
((applied > 0 && applied < fed)) || fail "$applied outbox results after $KILLS kills"
ok "$KILLS kills between commit and publish; $applied results committed, $unsent unsent"

# ---- 2. validator killed while it counts --------------------------------------------------
"$VALIDATOR" -c "$CFG" --batch-records 1 --batch-ms 1 2>"$CDC_TEST_TMPDIR/validator-bg.err" &
vpid=$!
cdc_stack_on_down "kill -9 $vpid 2>/dev/null; wait $vpid 2>/dev/null"
for _ in $(seq 1 300); do
    [[ $(q "SELECT to_regclass('_cdc_parity_state') IS NOT NULL") == t ]] &&
        (($(q "SELECT coalesce(sum(rows_seen), 0) FROM _cdc_parity_state") > 0)) && break
    sleep 0.1
done
kill -9 $vpid
wait $vpid 2>/dev/null || true
seen=$(q "SELECT coalesce(sum(rows_seen), 0) FROM _cdc_parity_state")
((seen > 0)) || fail "the background validator counted nothing: $(tail -5 "$CDC_TEST_TMPDIR/validator-bg.err")"
ok "validator killed with SIGKILL after counting $seen results"

# ---- 3. finish and compare -----------------------------------------------------------------
sk_sink --domain crm --once --batch-rows 10
[[ $rc == 0 ]] || fail "final cdc-sink --once exited $rc: $(tail -5 "$CDC_TEST_TMPDIR/sink.err")"
rc=0
timeout -k 5 120 "$VALIDATOR" -c "$CFG" --once 2>"$CDC_TEST_TMPDIR/validator.err" || rc=$?
[[ $rc == 0 ]] || fail "cdc-validator --once exited $rc: $(tail -5 "$CDC_TEST_TMPDIR/validator.err")"

[[ $(q "SELECT count(*) FROM _cdc_parity_outbox WHERE NOT sent") == 0 ]] || fail "outbox rows left unsent"
fresh="source_table <> 'legacy'"
[[ $(q "SELECT sum(results) FROM _cdc_parity_outbox WHERE $fresh") == "$fed" ]] ||
    fail "outbox results $(q "SELECT sum(results) FROM _cdc_parity_outbox WHERE $fresh"), records fed $fed"
[[ $(q "SELECT sum(rows_seen) FROM _cdc_parity_state WHERE domain = 'crm' AND $fresh") == "$fed" ]] ||
    fail "validator rows_seen $(q "SELECT sum(rows_seen) FROM _cdc_parity_state WHERE $fresh"), records fed $fed"
[[ $(q "SELECT rows_seen || ' ' || matches || ' ' || superseded FROM _cdc_parity_state
        WHERE source_table = 'legacy'") == "7 5 2" ]] ||
    fail "the older sink's per-row outbox rows were not counted: $(q "SELECT * FROM _cdc_parity_state WHERE source_table = 'legacy'")"
diff <(q "SELECT source_table, status, sum(results) FROM _cdc_parity_outbox GROUP BY 1, 2 ORDER BY 1, 2") \
    <(q "SELECT source_table, s, n FROM _cdc_parity_state,
           LATERAL (VALUES ('dead_letter', dead_letters), ('match', matches),
                           ('mismatch', mismatches), ('superseded', superseded)) v(s, n)
         WHERE n > 0 ORDER BY 1, 2") ||
    fail "parity state differs from the outbox (left: outbox, right: state)"
[[ $(q "SELECT sum(mismatches) FROM _cdc_parity_state") == 0 ]] || fail "mismatches after kills"
ok "after $KILLS sink kills and a validator kill: $fed records applied, $fed results counted once"

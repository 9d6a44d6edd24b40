#!/usr/bin/env bash
# kill -9 of sink workers at random moments while they apply (DESIGN.md invariants 5, 6):
# three workers in the crm group, the application workload writing into every fixture
# file, the producer snapshotting and streaming. CDC_SINK_KILLS times (default 5; the full
# variant 20) a random worker is killed with SIGKILL at a random moment and restarted. A
# sampler queries the target throughout and records every key's (_cdc_epoch, _cdc_pos).
# Afterwards (workload done, producer --once drain, the workers catch up by themselves,
# are stopped, and a --once run confirms):
#  1. the sampler never saw a row or tombstone go back to an older position;
#  2. the target equals the source (cdc-validator --audit: every row once with equal
#     values; no duplicate or lost row), counts per table equal, no parity mismatch;
#  3. every partition's stored offset moved as one chain (each committed batch starts
#     where the previous ended: no range applied twice, none skipped), and no partition
#     was held by two workers at once (assignment intervals from the logs).
# labels: integration quick
# timeout: 420
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

KILLS=${CDC_SINK_KILLS:-5}
RANDOM=${CDC_SINK_KILL_SEED:-11}
DB=synapse_business_core

se_up --scale 20000 # a 20,000-row crm source: its snapshot keeps the workers busy
# A killed worker's partitions move when its session expires: keep that short.
se_consumer_props session.timeout.ms=6000 heartbeat.interval.ms=500
se_offsets_history $DB
se_sampler_start core $DB monotonic
se_workload_start 3600 300 5
se_producer_start

declare -A inc=() # worker -> incarnation number
start_worker() {
    inc[$1]=$((${inc[$1]:-0} + 1))
    se_sink_start "$1.${inc[$1]}" crm --batch-rows 50 --batch-ms 100
}
# applying_worker: a running worker that committed a batch in the last second, once some do.
applying_worker() {
    local w='' current="'w1.${inc[w1]}', 'w2.${inc[w2]}', 'w3.${inc[w3]}'"
    for _ in $(seq 1 300); do
        w=$(cdc_psql $DB "SELECT split_part(app, '.', 1) FROM e2e_offsets_history
                          WHERE old_next IS NOT NULL AND app IN ($current)
                            AND at > clock_timestamp() - interval '1 second'
                          GROUP BY 1 ORDER BY random() LIMIT 1" 2>/dev/null || true)
        [[ -z $w ]] || break
        sleep 0.1
    done
    [[ -n $w ]] || fail "no worker committed anything for 30 s: $(tail -3 "$DIR"/sink-w*.log)"
    echo "$w"
}
for w in w1 w2 w3; do start_worker $w; done
owners=()
mid_tx=0
for k in $(seq 1 "$KILLS"); do
    w=$(applying_worker)
    se_sleep_ms $((RANDOM % 700))
    name=$w.${inc[$w]}
    # Half of the kills wait (up to 1 s) for the worker to be inside a transaction.
    if ((k % 2 == 0)); then
        for _ in $(seq 1 50); do
            st=$(cdc_psql $DB "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$name'
                               AND xact_start IS NOT NULL AND pid <> pg_backend_pid()")
            [[ $st == 0 ]] || break
            sleep 0.01
        done
        [[ $st == 0 ]] || mid_tx=$((mid_tx + 1))
    fi
    se_sink_kill "$name"
    owners+=("$DIR/sink-$name.log@$(now_ms)")
    commits=$(cdc_psql $DB "SELECT count(*) FROM e2e_offsets_history WHERE app = '$name' AND old_next IS NOT NULL")
    echo "kill $k: $name after $commits committed batches"
    start_worker "$w"
done
se_workload_stop
se_producer_stop
se_producer_once
# The restarted group catches up by itself; a --once run afterwards finds (almost) nothing.
se_wait_caught_up $DB crm 90
for w in w1 w2 w3; do
    owners+=("$DIR/sink-$w.${inc[$w]}.log")
    se_sink_stop "$w.${inc[$w]}"
done
se_sink_once crm
se_sampler_stop core 20
ok "$KILLS kills ($mid_tx caught inside a transaction): no key ever went back to an older position"

se_offsets_chain $DB
"$PY" "$SE_CHECK" ownership cdc.crm "${owners[@]}" || fail "a partition was held by two workers at once"
killed=$(cdc_psql $DB "SELECT count(DISTINCT app) FROM e2e_offsets_history
                       WHERE old_next IS NOT NULL AND app ~ '^w[123]\.'")
echo "worker incarnations that committed batches: $killed; cdc.crm holds $(se_hwm cdc.crm) records"
se_counts --domain crm
se_audit --domain crm
[[ $(cdc_psql $DB "SELECT count(*) FROM _cdc_parity_outbox WHERE status = 'mismatch'") == 0 ]] ||
    fail "parity mismatches after the kills"
[[ $(cdc_psql $DB "SELECT count(*) FROM _cdc_dead_letters WHERE domain = 'crm'") == 0 ]] ||
    fail "dead letters after the kills: $(cdc_psql $DB "SELECT reason FROM _cdc_dead_letters LIMIT 3")"
ok "after $KILLS kills the crm target equals the source; no duplicate, lost or stale row"

#!/usr/bin/env bash
# Consumer-group scaling on the 6-partition crm topic (fixtures plus a 20,000-row source):
# 1, 2 and 4 workers of one group, each run into a fresh target database, then 2 workers
# of which one is killed with SIGKILL while they apply. Each time:
#  1. every worker was assigned partitions (4 workers: each got at least one) and, from
#     the logs' assignment intervals, no partition was held by two workers at once;
#  2. every partition's stored offset moved as one chain (no range applied twice);
#  3. all rows arrive: counts per table and the audit equal the source;
#  4. with the kill: the survivor takes over the killed worker's partitions (assigned to
#     it after the kill) and finishes alone.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

se_up --scale 20000
se_consumer_props session.timeout.ms=6000 heartbeat.interval.ms=500
se_producer_once
echo "cdc.crm: $(se_hwm cdc.crm) records"

# phase NAME WORKERS [kill]
phase() {
    local name=$1 n=$2 kill=${3:-} db=scale_$1 cfg=$DIR/$1.yml i w logs=() victim='' t0
    sed "s#dbname=synapse_business_core#dbname=$db#" "$CFG" >"$cfg"
    cdc_pg_createdb "$db"
    se_offsets_history "$db"
    t0=$(now_ms)
    for i in $(seq 1 "$n"); do CFG=$cfg se_sink_start "$name-$i" crm --batch-rows 200 --batch-ms 100; done
    if [[ -n $kill ]]; then
        for _ in $(seq 1 300); do
            [[ $(cdc_psql "$db" "SELECT count(DISTINCT app) FROM e2e_offsets_history WHERE old_next IS NOT NULL") == "$n" ]] && break
            sleep 0.1
        done
        victim=$name-1
        se_sink_kill "$victim"
        logs+=("$DIR/sink-$victim.log@$(now_ms)")
        echo "$name: killed $victim after $(cdc_psql "$db" "SELECT count(*) FROM e2e_offsets_history
              WHERE app = '$victim' AND old_next IS NOT NULL") batches, at offsets $(se_stored "$db" crm) of $(se_hwm cdc.crm)"
    fi
    se_wait_caught_up "$db" crm 120
    echo "$name: $n worker(s) applied cdc.crm in $(($(now_ms) - t0)) ms"
    for i in $(seq 1 "$n"); do
        w=$name-$i
        [[ $w == "$victim" ]] && continue
        se_sink_stop "$w"
        logs+=("$DIR/sink-$w.log")
        grep -q "assigned cdc.crm \[" "$DIR/sink-$w.log" || fail "$w was never assigned a partition"
    done
    "$PY" "$SE_CHECK" ownership cdc.crm "${logs[@]}" || fail "$name: a partition was held by two workers at once"
    se_offsets_chain "$db"
    echo "$name: committed batches per worker: $(cdc_psql "$db" "SELECT string_agg(app || '=' || n, ' ' ORDER BY app)
          FROM (SELECT app, count(*) n FROM e2e_offsets_history WHERE old_next IS NOT NULL GROUP BY 1) c")"
    if [[ -n $kill ]]; then
        # The survivor's assignments after the kill cover the victim's partitions.
        local survivor=$name-2 vict_parts surv_parts
        vict_parts=$(grep -o "assigned cdc.crm \[[0-9]*\]" "$DIR/sink-$victim.log" | grep -o "[0-9]*" | sort -u | tr '\n' ' ')
        surv_parts=$(cdc_psql "$db" "SELECT string_agg(DISTINCT kpartition::text, ' ' ORDER BY kpartition::text)
                     FROM e2e_offsets_history WHERE app = '$survivor' AND old_next IS NOT NULL")
        for p in $vict_parts; do
            [[ " $surv_parts " == *" $p "* ]] || fail "$name: partition $p of the killed worker was not taken over ($surv_parts)"
        done
        echo "$name: $victim held [ $vict_parts], $survivor committed on [ $surv_parts ]"
    fi
    CFG=$cfg se_counts --domain crm
    CFG=$cfg se_audit --domain crm
    ok "$name: $n worker(s): each partition owned by one worker at a time, all rows arrived"
}
phase one 1
phase two 2
phase four 4
phase twokill 2 kill

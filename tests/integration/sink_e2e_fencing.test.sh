#!/usr/bin/env bash
# Fencing (DESIGN.md invariant 6): a worker paused past its session timeout and resumed
# commits nothing stale.
#  1. worker A (batches of up to 2 s) applies the snapshot, then keeps applying the
#     workload's changes; it is stopped with SIGSTOP while it holds open batches but no
#     open transaction;
#  2. worker B joins; once A's session expired B owns every partition and commits newer
#     batches on each of them;
#  3. SIGCONT: A's open batches start at offsets B has already moved past, so A's log says
#     they were fenced (rolled back) and every fenced batch's first offset is a committed
#     move of that partition by B (the range was B's, A's copy of it never committed);
#  4. nothing stale was written: the sampler never saw a key go back to an older position,
#     every partition's stored offset moved as one chain (each commit continues the
#     previous one), and in the end the target equals the source.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

DB=synapse_business_core
q() { cdc_psql $DB "$1"; }
se_up
se_consumer_props session.timeout.ms=6000 heartbeat.interval.ms=500
se_offsets_history $DB
se_sampler_start core $DB monotonic
se_producer_once
se_sink_start A crm --batch-rows 100000 --batch-ms 2000 --batch-min-ms 2000
se_wait_caught_up $DB crm 60
ok "A applied the snapshot"

snap_end=$(se_hwm cdc.crm)
se_workload_start 3600 200 9
se_producer_start
# A holds open batches only once the workload's changes are in Kafka, and the producer may
# take seconds to start on a busy machine: wait for 100 new records, then let A fetch them.
for _ in $(seq 1 120); do
    (($(se_hwm cdc.crm) >= snap_end + 100)) && break
    sleep 0.5
done
(($(se_hwm cdc.crm) >= snap_end + 100)) || fail "the workload's changes did not reach cdc.crm in 60 s"
sleep 1
# Stop A outside a transaction (a worker stopped inside one would hold the partition's
# offset row lock: B would wait for it instead of overtaking A).
for _ in $(seq 1 100); do
    kill -STOP "${SE_PID[A]}"
    [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'A'
            AND xact_start IS NOT NULL") == 0 ]] && break
    kill -CONT "${SE_PID[A]}"
    sleep 0.05
done
a_commits=$(q "SELECT count(*) FROM e2e_offsets_history WHERE app = 'A' AND old_next IS NOT NULL")
stopped_at=$(q "SELECT max(id) FROM e2e_offsets_history")
ok "A stopped after $a_commits committed batches"

se_sink_start B crm --batch-ms 100
for _ in $(seq 1 400); do
    [[ $(q "SELECT count(DISTINCT kpartition) FROM e2e_offsets_history
            WHERE app = 'B' AND old_next IS NOT NULL AND new_next > old_next") == 6 ]] && break
    sleep 0.1
done
[[ $(q "SELECT count(DISTINCT kpartition) FROM e2e_offsets_history
        WHERE app = 'B' AND old_next IS NOT NULL AND new_next > old_next") == 6 ]] ||
    fail "B did not take over every partition: $(grep -c assigned "$DIR/sink-B.log" || true) assignments"
[[ $(q "SELECT count(*) FROM e2e_offsets_history WHERE app = 'A' AND id > $stopped_at") == 0 ]] ||
    fail "A committed while it was stopped"
ok "B took over all 6 partitions and committed newer batches while A was stopped"

mark=$(wc -c <"$DIR/sink-A.log")
kill -CONT "${SE_PID[A]}"
for _ in $(seq 1 200); do
    tail -c +$((mark + 1)) "$DIR/sink-A.log" | grep -q "fenced" && break
    sleep 0.1
done
sleep 2 # let A rejoin the group and share the partitions with B
after=$(tail -c +$((mark + 1)) "$DIR/sink-A.log")
fenced=$(grep -o "cdc.crm \[[0-9]*\]: batch at offset [0-9]* fenced" <<<"$after" || true)
[[ -n $fenced ]] || fail "A's log after SIGCONT says nothing about a fenced batch:
$(tail -c +$((mark + 1)) "$DIR/sink-A.log" | head -20)"
echo "$fenced" | sed 's/^/A: /'
while read -r p off; do
    [[ $(q "SELECT count(*) FROM e2e_offsets_history WHERE app = 'B' AND kpartition = $p
            AND old_next = $off") == 1 ]] ||
        fail "partition $p: A's fenced batch at $off is not a range B committed"
    [[ $(q "SELECT count(*) FROM e2e_offsets_history WHERE app = 'A' AND kpartition = $p
            AND old_next = $off") == 0 ]] ||
        fail "partition $p: A committed its batch at $off although it was fenced"
done < <(sed -E 's/cdc.crm \[([0-9]+)\]: batch at offset ([0-9]+) fenced/\1 \2/' <<<"$fenced")
ok "A's $(wc -l <<<"$fenced") open batch(es) were fenced and rolled back; B's commits stand"

se_workload_stop
se_producer_stop
se_producer_once
se_wait_caught_up $DB crm 60
se_sink_stop A
se_sink_stop B
se_sink_once crm
se_sampler_stop core 20
se_offsets_chain $DB
se_counts --domain crm
se_audit --domain crm
ok "no stale write: positions monotonic, offsets one chain per partition, target equals source"

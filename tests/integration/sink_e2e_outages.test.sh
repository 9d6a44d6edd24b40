#!/usr/bin/env bash
# Outages while everything runs (DESIGN.md invariant 6, issue "Errors": retriable errors
# are retried): the workload writes, the producer streams, two crm workers and one worker
# each for analytics and f500 apply, a sampler watches the crm/f500 target. Mid-run:
#  1. PostgreSQL restarted (pg_ctl restart -m fast), later crashed (stop -m immediate) and
#     started again 3 s later;
#  2. every devbroker broker down for 10 s, then up again.
# Nobody intervenes: the same workers (never restarted) catch up by themselves once the
# workload stopped and the producer drained; they exit 0 on SIGTERM; their logs show the
# retries; the sampler never saw a key go back; the targets equal the sources (audit of
# all 20 files, counts) — no loss, no duplicate.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

se_up
se_sampler_start core synapse_business_core monotonic
se_workload_start 3600 200 33
se_producer_start
se_sink_start crm-a crm --batch-ms 100
se_sink_start crm-b crm --batch-ms 100
se_sink_start analytics analytics --batch-ms 100
se_sink_start f500 f500 --batch-ms 100
sleep 6
applied() { cdc_psql synapse_business_core "SELECT coalesce(sum(next_offset), 0) FROM _cdc_offsets"; }
before=$(applied)
((before > 0)) || fail "nothing applied before the outages"

cdc_pg_ctl restart -m fast >/dev/null
echo "PostgreSQL restarted (fast) at $(date +%T)"
sleep 4
cdc_pg_ctl stop -m immediate >/dev/null
echo "PostgreSQL crashed (immediate) at $(date +%T)"
sleep 3
cdc_pg_ctl start >/dev/null
echo "PostgreSQL started at $(date +%T)"
sleep 4
cdc_broker_ctl "down all" >/dev/null
echo "brokers down at $(date +%T)"
sleep 10
cdc_broker_ctl "up all" >/dev/null
echo "brokers up at $(date +%T)"
sleep 5
for w in crm-a crm-b analytics f500; do
    kill -0 "${SE_PID[$w]}" 2>/dev/null || { tail -20 "$DIR/sink-$w.log"; fail "worker $w died during the outages"; }
done
kill -0 "${SE_PID[producer]}" 2>/dev/null || { tail -20 "$DIR/producer.log"; fail "the producer died during the outages"; }

se_workload_stop
se_producer_stop
se_producer_once
se_wait_caught_up synapse_business_core crm 120
se_wait_caught_up synapse_business_core f500 120
se_wait_caught_up synapse_analytics analytics 120
ok "the workers caught up by themselves: $before records applied before the outages, $(applied) after"
for w in crm-a crm-b analytics f500; do
    retries=$(grep -c "retrying" "$DIR/sink-$w.log" || true)
    echo "$w: $retries retry message(s): $(grep "retrying" "$DIR/sink-$w.log" | head -1 | cut -c1-200)"
    se_sink_stop "$w"
done
(($(cat "$DIR"/sink-*.log | grep -c "retrying" || true) > 0)) || fail "no worker logged a retry: were the outages seen?"
se_sampler_stop core 20
se_counts
se_audit
ok "no loss after a PostgreSQL restart, a PostgreSQL crash and 10 s without brokers"

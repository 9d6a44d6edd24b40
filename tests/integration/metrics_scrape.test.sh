#!/usr/bin/env bash
# --metrics-port of cdc-producer, cdc-sink and cdc-validator (docs/operate.md "Metrics"),
# scraped over HTTP while the workers run on the 20 fixture databases:
#  1. every --help documents --metrics-port and --metrics-address; a bad port, and
#     --metrics-port with --uninstall / --audit, exit 2; a port in use exits 1 naming it;
#  2. the producer, one sink per domain and the validator serve /metrics: a strict parse
#     of the text format 0.0.4 (grammar, HELP/TYPE before samples, contiguous families,
#     counters end in _total, histograms cumulative with +Inf = _count), 404 elsewhere,
#     and every family the alert rules (deploy/prometheus/alerts.yml) use is present;
#  3. values after the snapshot: rows sent per source = the rows of that source's tables;
#     rows applied and validator matches per domain = the rows of its sources (and the
#     counts agree with PostgreSQL); install holds observed; every partition assigned;
#  4. after 3 s of application writes: backlog back to 0, acknowledge holds observed, rows
#     sent = applied + superseded over the sinks = results counted by the validator; with
#     the producer stopped, lag 0 (seconds and messages) on every partition; no dead
#     letter (sent or unresolved), no fence, no mismatch, no fatal error; batch histogram
#     count = batches;
#  5. a crm worker started on records waiting for it (--batch-ms 4000) shows lag > 0 in
#     messages and seconds, then 0 once it applied them.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"
M() { "$PY" "$CDC_SOURCE_DIR/tests/tools/metrics_scrape.py" "$@"; }

# ---- 1. CLI ----------------------------------------------------------------------------
for b in "$PRODUCER" "$SINK" "$VALIDATOR"; do
    h=$("$b" --help) || fail "$b --help exited non-zero"
    for opt in --metrics-port --metrics-address "docs/operate.md"; do
        grep -q -- "$opt" <<<"$h" || fail "$(basename "$b") --help does not mention $opt"
    done
done
expect_exit() { # expect_exit CODE PATTERN CMD...
    local want=$1 pat=$2 rc=0 err
    shift 2
    err=$("$@" 2>&1 >/dev/null) || rc=$?
    [[ $rc == "$want" ]] || fail "$(basename "$1") ${*:2} exited $rc, expected $want ($err)"
    grep -q -- "$pat" <<<"$err" || fail "$(basename "$1") ${*:2}: '$err' lacks '$pat'"
}
expect_exit 2 "metrics-port" "$PRODUCER" -c x.yml --metrics-port 70000
expect_exit 2 "metrics-port" "$SINK" -c x.yml --domain crm --metrics-port abc
expect_exit 2 "metrics-port" "$VALIDATOR" -c x.yml --metrics-port -1
expect_exit 2 "uninstall" "$PRODUCER" -c x.yml --uninstall --metrics-port 9999
expect_exit 2 "audit" "$VALIDATOR" -c x.yml --audit --metrics-port 9999
ok "every --help documents the metrics options; bad values exit 2"

se_up
expected=$DIR/expected.txt # "source domain rows" per source, counted before capture
"$PY" - "$CFG" >"$expected" <<'EOF'
import sqlite3, sys
sys.path.insert(0, __import__("os").environ["CDC_SOURCE_DIR"] + "/tests/tools")
from sink_e2e_check import load_config
for s in load_config(sys.argv[1])["sources"]:
    db = sqlite3.connect("file:%s?mode=ro" % s["path"], uri=True)
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
             "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cdc\\_%' ESCAPE '\\'")]
    print(s["name"], s["domain"], sum(db.execute('SELECT count(*) FROM "%s"' %
                                                 n.replace('"', '""')).fetchone()[0] for n in names))
EOF
total=$(awk '{n += $3} END {print n}' "$expected")
domain_rows() { awk -v d="$1" '$2 == d {n += $3} END {print n + 0}' "$expected"; }
((total > 100)) || fail "only $total fixture rows counted"
echo "fixtures: $total rows in $(wc -l <"$expected") sources"

# Free ports, chosen by the kernel (bound and released just before the workers take them).
read -r P_PROD P_CRM P_ANA P_F500 P_VAL < <("$PY" -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
for s in ss: s.close()')
url() { echo "http://127.0.0.1:$1/metrics"; }

"$PRODUCER" -c "$CFG" --metrics-port "$P_PROD" 2>>"$DIR/producer.log" &
SE_PID[producer]=$!
cdc_stack_on_down "kill ${SE_PID[producer]} 2>/dev/null; wait ${SE_PID[producer]} 2>/dev/null"
se_sink_start crm crm --metrics-port "$P_CRM"
se_sink_start analytics analytics --metrics-port "$P_ANA" --metrics-address 127.0.0.1
se_sink_start f500 f500 --metrics-port "$P_F500"
"$VALIDATOR" -c "$CFG" --metrics-port "$P_VAL" 2>>"$DIR/validator.log" &
SE_PID[validator]=$!
cdc_stack_on_down "kill ${SE_PID[validator]} 2>/dev/null; wait ${SE_PID[validator]} 2>/dev/null"

# ---- 2. the format ----------------------------------------------------------------------
wait_up() { # wait_up PORT NAME
    local i
    for i in $(seq 1 300); do # up to 60 s: the producer installs capture on 20 files first
        [[ $(M status "$(url "$1")" 2>/dev/null) == 200 ]] && return 0
        sleep 0.2
    done
    fail "$2 does not serve $(url "$1")"
}
wait_up "$P_PROD" producer
wait_up "$P_CRM" sink-crm
wait_up "$P_ANA" sink-analytics
wait_up "$P_F500" sink-f500
wait_up "$P_VAL" validator
[[ $(M status "http://127.0.0.1:$P_PROD/other") == 404 ]] || fail "GET /other is not 404"
# A port in use (the producer's): exit 1, naming it.
expect_exit 1 "$P_PROD" timeout -k 5 60 "$VALIDATOR" -c "$CFG" --metrics-port "$P_PROD"
ok "a metrics port in use exits 1 naming the port; GET /other is 404"

# Wait until everything went through: rows sent, applied, and counted by the validator.
get() { M "$@" 2>/dev/null || echo absent; }
for i in $(seq 1 300); do
    sent=$(get sum "$(url "$P_PROD")" cdc_producer_rows_sent_total)
    applied=$(($(get sum "$(url "$P_CRM")" cdc_sink_rows_applied_total | tr -dc 0-9) + \
        $(get sum "$(url "$P_ANA")" cdc_sink_rows_applied_total | tr -dc 0-9) + \
        $(get sum "$(url "$P_F500")" cdc_sink_rows_applied_total | tr -dc 0-9)))
    matched=$(get sum "$(url "$P_VAL")" cdc_validator_parity_results_total status=match)
    [[ $sent == "$total" && $applied == "$total" && $matched == "$total" ]] && break
    sleep 0.5
done
echo "sent=$sent applied=$applied matched=$matched (fixtures $total)"
[[ $sent == "$total" ]] || fail "cdc_producer_rows_sent_total is $sent, the fixtures hold $total rows"
[[ $applied == "$total" ]] || fail "cdc_sink_rows_applied_total sums to $applied, expected $total"
[[ $matched == "$total" ]] || fail "validator matches $matched, expected $total"
ok "rows sent = rows applied = parity matches = $total fixture rows"

# The families the alert rules use, and the ones docs/operate.md lists, per worker.
M check "$(url "$P_PROD")" cdc_producer_rows_sent_total cdc_producer_backlog_entries \
    cdc_producer_oldest_unacked_age_seconds cdc_producer_write_lock_hold_seconds \
    cdc_dead_letters_total cdc_errors_total || fail "producer /metrics"
for p in "$P_CRM" "$P_ANA" "$P_F500"; do
    M check "$(url "$p")" cdc_sink_rows_applied_total cdc_sink_batch_duration_seconds \
        cdc_sink_lag_seconds cdc_sink_lag_messages cdc_sink_rebalances_total \
        cdc_sink_fenced_batches_total cdc_dead_letters_total cdc_dead_letters_unresolved \
        cdc_errors_total || fail "sink /metrics on port $p"
done
M check "$(url "$P_VAL")" cdc_validator_parity_results_total cdc_parity_mismatches_total \
    cdc_errors_total || fail "validator /metrics"
# Every metric name alerts.yml uses is served by some worker.
all=$(M families "$(url "$P_PROD")" "$(url "$P_CRM")" "$(url "$P_ANA")" "$(url "$P_F500")" "$(url "$P_VAL")")
for name in $(grep -o 'cdc_[a-z_]*' "$CDC_SOURCE_DIR/deploy/prometheus/alerts.yml" | sort -u); do
    grep -qx "$name" <<<"$all" || fail "alerts.yml uses $name, which no worker serves"
done
ok "all five endpoints parse strictly; every family of the alert rules is served"

# ---- 3. values ----------------------------------------------------------------------------
expect() { # expect WHAT GOT WANT
    [[ $2 == "$3" ]] || fail "$1: got $2, expected $3"
}
PU=$(url "$P_PROD") VU=$(url "$P_VAL")
declare -A SU=([crm]=$(url "$P_CRM") [analytics]=$(url "$P_ANA") [f500]=$(url "$P_F500"))
declare -A PARTS=([crm]=6 [analytics]=6 [f500]=3)
while read -r src dom rows; do
    expect "rows sent by $src" "$(get sum "$PU" cdc_producer_rows_sent_total source="$src" domain="$dom")" "$rows"
    (($(get sum "$PU" cdc_producer_write_lock_hold_seconds_count source="$src" op=install) >= 1)) ||
        fail "$src: no install write-lock hold observed"
done <"$expected"
expect "backlog series" "$(get count "$PU" cdc_producer_backlog_entries)" "$(wc -l <"$expected")"
for dom in crm analytics f500; do
    u=${SU[$dom]}
    expect "$dom rows applied" "$(get sum "$u" cdc_sink_rows_applied_total domain="$dom")" "$(domain_rows "$dom")"
    expect "validator $dom matches" "$(get sum "$VU" cdc_validator_parity_results_total domain="$dom" status=match)" "$(domain_rows "$dom")"
    expect "$dom lag series" "$(get count "$u" cdc_sink_lag_seconds domain="$dom")" "${PARTS[$dom]}"
    expect "$dom assigned partitions" "$(get sum "$u" cdc_sink_assigned_partitions)" "${PARTS[$dom]}"
    (($(get sum "$u" cdc_sink_rebalances_total) >= 1)) || fail "$dom: no rebalance counted"
done
se_counts
ok "snapshot: rows sent per source, applied and matched per domain equal the fixtures"

# Changes: an application writes for 3 s; the producer streams and acknowledges them
# (acknowledge holds observed, backlog back to 0); every row record sent is applied or
# superseded by a sink and counted by the validator.
se_workload_start 3 30 7
se_workload_wait
consumed() { # applied + superseded over the three sinks
    local n=0 d
    for d in crm analytics f500; do
        n=$((n + $(get sum "${SU[$d]}" cdc_sink_rows_applied_total) + \
            $(get sum "${SU[$d]}" cdc_sink_rows_superseded_total)))
    done
    echo "$n"
}
results() { # everything the validator counted
    local n=0 st
    for st in match superseded mismatch dead_letter; do
        n=$((n + $(get sum "$VU" cdc_validator_parity_results_total status=$st)))
    done
    echo "$n"
}
for i in $(seq 1 150); do
    sent=$(get sum "$PU" cdc_producer_rows_sent_total)
    [[ $(get max "$PU" cdc_producer_backlog_entries) == 0 &&
        $(get max "$PU" cdc_producer_oldest_unacked_age_seconds) == 0 &&
        $(consumed) == "$sent" && $(results) == "$sent" ]] && break
    sleep 0.2
done
echo "after the workload: sent=$sent consumed=$(consumed) validator results=$(results)"
((sent > total)) || fail "rows sent did not grow with the workload ($sent)"
expect "producer backlog" "$(get max "$PU" cdc_producer_backlog_entries)" 0
expect "oldest unacked age" "$(get max "$PU" cdc_producer_oldest_unacked_age_seconds)" 0
expect "rows applied + superseded" "$(consumed)" "$sent"
expect "validator results" "$(results)" "$sent"
(($(get sum "$PU" cdc_producer_write_lock_hold_seconds_count op=acknowledge) >= 1)) ||
    fail "no acknowledge write-lock hold observed"
(($(get max "$PU" cdc_producer_acked_position) > 0)) || fail "acked position never moved"
expect "producer dead letters" "$(get sum "$PU" cdc_dead_letters_total)" 0
expect "producer fatal errors" "$(get sum "$PU" cdc_errors_total class=fatal)" 0
ok "stream: backlog back to 0, acknowledge holds observed, sent = applied + superseded = validated"

# Stop the producer (no more heartbeats), then every partition must reach lag 0.
se_producer_stop
for dom in crm analytics f500; do
    u=${SU[$dom]}
    # Up to 60 s: the last records (the producer's final heartbeats) wait for their batch
    # and the gauge is refreshed every 0.5 s; a loaded machine stretches both.
    for i in $(seq 1 240); do
        [[ $(get max "$u" cdc_sink_lag_seconds) == 0 && $(get max "$u" cdc_sink_lag_messages) == 0 ]] && break
        sleep 0.25
    done
    expect "$dom lag seconds" "$(get max "$u" cdc_sink_lag_seconds domain="$dom")" 0
    expect "$dom lag messages" "$(get max "$u" cdc_sink_lag_messages domain="$dom")" 0
    # One scrape; the two series are updated one after the other, so a scrape may fall
    # between them: take the first of a few that agrees.
    for i in 1 2 3 4 5; do
        read -r hist_count batches < <(M sums "$u" cdc_sink_batch_duration_seconds_count cdc_sink_batches_total)
        [[ $hist_count == "$batches" ]] && break
        sleep 0.1
    done
    expect "$dom batch histogram count" "$hist_count" "$batches"
    expect "$dom dead letters" "$(get sum "$u" cdc_dead_letters_total domain="$dom")" 0
    expect "$dom unresolved dead letters" "$(get sum "$u" cdc_dead_letters_unresolved domain="$dom")" 0
    expect "$dom fenced batches" "$(get sum "$u" cdc_sink_fenced_batches_total)" 0
    expect "$dom fatal errors" "$(get sum "$u" cdc_errors_total class=fatal)" 0
    expect "$dom read-back mismatches" "$(get sum "$u" cdc_sink_parity_mismatches_total)" 0
    expect "validator $dom mismatches" "$(get sum "$VU" cdc_validator_parity_results_total domain="$dom" status=mismatch)" 0
    expect "$dom mismatch series" "$(get sum "$VU" cdc_parity_mismatches_total domain="$dom")" 0
done
(($(get count "$VU" cdc_parity_mismatches_total) > 20)) ||
    fail "too few per-table mismatch series: $(get count "$VU" cdc_parity_mismatches_total)"
expect "validator fatal errors" "$(get sum "$VU" cdc_errors_total class=fatal)" 0
se_counts
ok "sinks: lag 0 on every partition, no dead letter, no fence; validator: no mismatch"

# Lag while records wait: with the crm worker stopped, the application writes and the
# producer publishes (--once); a new crm worker holding its batches for 4 s shows lag in
# messages and seconds, then 0 once they are applied.
se_sink_stop crm
se_workload_start 1 30 8
se_workload_wait
se_producer_once
se_sink_start crm2 crm --metrics-port "$P_CRM" --batch-ms 4000 --batch-min-ms 4000
u=${SU[crm]}
for i in $(seq 1 100); do
    [[ $(get sum "$u" cdc_sink_assigned_partitions) == 6 &&
        $(get max "$u" cdc_sink_lag_messages) != 0 && $(get max "$u" cdc_sink_lag_seconds) != 0 ]] && break
    sleep 0.1
done
lag_m=$(get max "$u" cdc_sink_lag_messages) lag_s=$(get max "$u" cdc_sink_lag_seconds)
echo "crm while its batches wait: lag $lag_m messages, $lag_s s"
[[ $lag_m != 0 && $lag_m != absent ]] || fail "crm lag in messages stayed $lag_m while records waited"
"$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)" "$lag_s" ||
    fail "crm lag in seconds stayed $lag_s while records waited"
for i in $(seq 1 100); do
    [[ $(get max "$u" cdc_sink_lag_seconds) == 0 && $(get max "$u" cdc_sink_lag_messages) == 0 ]] && break
    sleep 0.1
done
expect "crm lag seconds after apply" "$(get max "$u" cdc_sink_lag_seconds)" 0
expect "crm lag messages after apply" "$(get max "$u" cdc_sink_lag_messages)" 0
se_counts
ok "lag shows waiting records ($lag_m messages, $lag_s s) and returns to 0"

for w in crm2 analytics f500; do se_sink_stop "$w"; done
rc=0
kill -TERM "${SE_PID[validator]}"
wait "${SE_PID[validator]}" || rc=$?
[[ $rc == 0 ]] || fail "validator exited $rc after SIGTERM"
[[ $(M status "$VU" 2>/dev/null || true) != 200 ]] || fail "metrics still served after exit"
ok "every worker stopped with exit 0"

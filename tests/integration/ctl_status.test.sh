#!/usr/bin/env bash
# cdc-ctl status (docs/status.md) with the real producer, sink and validator on a harness
# stack, two crm sources from the fixtures:
#  1. --help documents every option and the exit codes; bad options exit 2;
#  2. nothing running: not ready (no heartbeat, parity unknown), exit 1, JSON fields;
#  3. producer, sink and validator running: READY TO FREEZE (exit 0, --until), lag 0 s,
#     producers idle; --watch refreshes;
#  4. backlog: the producer cannot acknowledge (the file's write lock is held): reason
#     "producer backlog";
#  5. a dead letter (a value the target's CHECK refuses): reason, then resolved by a fixed
#     source row, READY again;
#  6. a parity mismatch (a target trigger alters a value on write; the validator counts it):
#     reason, READY once the operator resolved it;
#  7. a stopped sink while records arrive: lag and "sink stopped" reasons, worker stopped;
#  8. a stopped producer: "producer stopped", state stopped (idle before);
#  9. cdc-ctl freeze (its _cdc_freeze rows) with the sink stopped: not DRAINED, naming the
#     partitions; sink started: --until drained exits 0;
# 10. the SQLite files unreadable (chmod 000, status run as an unprivileged user) and moved
#     away: status still answers READY and DRAINED.
# labels: integration quick
# timeout: 400
set -euo pipefail
# shellcheck source=../harness/stack.sh
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
# shellcheck source=producer_lib.sh
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"
CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
SINK=$CDC_BUILD_DIR/consumers/cdc-sink
VALIDATOR=$CDC_BUILD_DIR/consumers/cdc-validator
PY=/usr/bin/python3
for b in "$CTL" "$SINK" "$VALIDATOR" "$PRODUCER" "$FIXTURES"; do
    [[ -x $b ]] || fail "$b is not built"
done
ok() { echo "ok: $*"; }

# ---- 1. CLI ---------------------------------------------------------------------------
help=$("$CTL" status --help) || fail "status --help exited non-zero"
for opt in --config --domain --json --watch --until --timeout --verdict --max-lag-seconds \
    --heartbeat-timeout-seconds --log-level "Exit codes"; do
    grep -q -- "$opt" <<<"$help" || fail "--help does not mention $opt"
done
expect_usage() { # expect_usage PATTERN ARGS...
    local pat=$1 rc=0 err
    shift
    err=$("$CTL" status "$@" 2>&1 >/dev/null) || rc=$?
    [[ $rc == 2 ]] || fail "cdc-ctl status $* exited $rc, expected 2 ($err)"
    grep -q -- "$pat" <<<"$err" || fail "cdc-ctl status $*: message '$err' lacks '$pat'"
}
expect_usage "unknown option --bogus" --bogus
expect_usage "config is required" --json
expect_usage "--until" -c x.yml --until soon
expect_usage "--watch" -c x.yml --watch 0
expect_usage "--max-lag-seconds" -c x.yml --max-lag-seconds -1
expect_usage "--timeout is an option of --until" -c x.yml --timeout 5
expect_usage "/nonexistent.yml" -c /nonexistent.yml
ok "--help documents every option; bad options exit 2"

# ---- stack and config ---------------------------------------------------------------------
write_config() { # write_config FILE BOOTSTRAP DATA_DIR
    cat >"$1" <<EOF
kafka:
  bootstrap.servers: "$2"
topic_prefix: cdc
producer: {heartbeat_ms: 300}
domains:
  - name: crm
    partitions: 6
    target: "host=127.0.0.1 port=${CDC_TEST_PGPORT:-1} user=postgres dbname=core"
validation: {partitions: 3}
sources:
  - {name: epic7, domain: crm, path: "$3/epic7_sales_automation.db"}
  - {name: week3_bd, domain: crm, table_prefix: week3_, path: "$3/week3_business_development.db"}
EOF
}
broker_cfg=$(mktemp /tmp/ctl-status-broker.XXXXXX.yml)
write_config "$broker_cfg" 127.0.0.1:1 /nonexistent
export CDC_STACK_QUIET=1
cdc_stack_up --config "$broker_cfg"
rm -f "$broker_cfg"
DIR=$CDC_TEST_TMPDIR
cdc_pg_createdb core
producer_fixtures "$DIR/data"
CFG=$DIR/pipeline.yml
write_config "$CFG" "$CDC_TEST_BOOTSTRAP" "$DIR/data"
chmod 0644 "$CFG"
EPIC7=$DIR/data/epic7_sales_automation.db
q() { cdc_psql core "$1"; }
sq() { "$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA busy_timeout=5000")
for s in sys.argv[2:]:
    for r in c.execute(s): print("|".join(map(str, r)))
c.commit()' "$EPIC7" "$@"; }

declare -A PID=()
start() { # start NAME CMD...: a background worker, log $DIR/NAME.log
    local name=$1
    shift
    "$@" >>"$DIR/$name.log" 2>&1 &
    PID[$name]=$!
    cdc_stack_on_down "kill ${PID[$name]} 2>/dev/null; wait ${PID[$name]} 2>/dev/null"
}
stop() { # stop NAME: SIGTERM, must exit 0
    local rc=0
    kill -TERM "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" || rc=$?
    [[ $rc == 0 ]] || { tail -20 "$DIR/$1.log"; fail "$1 exited $rc after SIGTERM"; }
}
start_producer() { start producer "$PRODUCER" -c "$CFG"; }
start_sink() { start sink "$SINK" -c "$CFG" --domain crm --batch-ms 100; }
start_validator() { start validator "$VALIDATOR" -c "$CFG" --domain crm --batch-ms 100; }

# status ARGS...: one `cdc-ctl status --domain crm --json`; JSON in $DIR/st.json, exit in $rc.
status() {
    rc=0
    "$CTL" status -c "$CFG" --domain crm --json "$@" >"$DIR/st.json" 2>"$DIR/st.err" || rc=$?
}
# jcheck EXPR: a Python expression over d (the crm domain) and doc (the whole document).
jcheck() {
    "$PY" -c 'import json,sys
doc = json.load(open(sys.argv[1])); d = doc["domains"][0]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$DIR/st.json" "$1"
}
reasons() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))["domains"][0]
print("\n".join(d[sys.argv[2]]))' "$DIR/st.json" "${1:-not_ready}"; }
# has_reason REGEX [not_ready|not_drained|errors] (no pipe: grep -q would close it early)
has_reason() { grep -Eq -- "$1" <<<"$(reasons "${2:-not_ready}")"; }
# wait_reason REGEX SECONDS [ARGS...]: until status is not ready with a reason matching REGEX.
wait_reason() {
    local re=$1 secs=$2 i
    shift 2
    for ((i = 0; i < secs * 2; i++)); do
        status "$@"
        if [[ $rc == 1 ]] && has_reason "$re"; then
            echo "  reason: $(grep -E -- "$re" <<<"$(reasons)" | head -1)"
            return 0
        fi
        sleep 0.5
    done
    cat "$DIR/st.err" "$DIR/st.json" >&2
    fail "status never gave a reason matching /$re/ (exit $rc)"
}
wait_ready() { # wait_ready SECONDS [ARGS]
    local secs=$1 rc2=0
    shift
    "$CTL" status -c "$CFG" --domain crm --until ready --timeout "$secs" "$@" >"$DIR/st.txt" \
        2>"$DIR/st.err" || rc2=$?
    [[ $rc2 == 0 ]] || { cat "$DIR/st.txt"; tail -5 "$DIR/st.err"; fail "not READY within $secs s (exit $rc2)"; }
}

# ---- 2. nothing running -----------------------------------------------------------------------
status
[[ $rc == 1 ]] || fail "status with nothing running exited $rc"
has_reason "source epic7: no heartbeat" || fail "no 'no heartbeat' reason: $(reasons)"
has_reason "parity unknown" || fail "no 'parity unknown' reason: $(reasons)"
for f in '"ts"' '"verdict"' '"holds"' '"ready"' '"not_ready"' '"frozen"' '"drained"' \
    '"not_drained"' '"errors"' '"lag"' '"producers"' '"partitions"' '"workers"' '"dead_letters"' \
    '"parity"' '"lag_messages"' '"lag_seconds"' '"backlog_entries"' '"oldest_unacked_age_seconds"' \
    '"heartbeat_age_seconds"' '"unresolved_mismatches"' '"validator_lag_messages"' '"method"' \
    '"unresolved"' '"worker"' '"applied"' '"freeze"'; do
    grep -q "$f" "$DIR/st.json" || fail "JSON lacks $f: $(cat "$DIR/st.json")"
done
jcheck 'doc["verdict"] == "ready" and doc["holds"] is False and len(d["partitions"]) == 6' ||
    fail "JSON: $(cat "$DIR/st.json")"
q "SELECT count(*) FROM _cdc_freeze" >/dev/null || fail "_cdc_freeze was not created"
ok "nothing running: not ready (no heartbeat, parity unknown), exit 1; JSON fields present"

# ---- 3. READY ------------------------------------------------------------------------------------
start_producer
# A producer whose heartbeats no sink has applied yet (a source just added): not ready, even
# while the partitions' lag in seconds is still under the threshold.
wait_reason "source epic7: no heartbeat applied yet on [1-6] of 6 partitions" 30 --max-lag-seconds 600
start_sink
start_validator
# --max-lag-seconds 0: READY only once nothing at all waits (the initial sync is applied).
wait_ready 90 --max-lag-seconds 0
grep -q "READY TO FREEZE: yes" "$DIR/st.txt" || fail "report: $(cat "$DIR/st.txt")"
grep -q "verdict READY TO FREEZE: holds" "$DIR/st.txt" || fail "report: $(cat "$DIR/st.txt")"
status
[[ $rc == 0 ]] || fail "status exited $rc when ready: $(reasons)"
jcheck 'd["lag"]["seconds"] == 0 and all(p["state"] == "idle" for p in d["producers"])' ||
    fail "idle caught-up domain: $(cat "$DIR/st.json")"
jcheck 'd["workers"]["method"] == "offsets-activity" and d["workers"]["active_partitions"] > 0' ||
    fail "workers: $(cat "$DIR/st.json")"
# READY allows the validator to be behind by less than the lag threshold: wait for counts.
for ((i = 0; i < 20; i++)); do
    status
    jcheck 'd["parity"]["known"] and d["parity"]["rows_seen"] > 0 and d["parity"]["matches"] > 0' && break
    sleep 0.5
done
jcheck 'd["parity"]["known"] and d["parity"]["rows_seen"] > 0 and d["parity"]["matches"] > 0' ||
    fail "parity: $(cat "$DIR/st.json")"
"$CTL" status -c "$CFG" --domain crm >"$DIR/st.txt" || fail "human status exited non-zero"
n=$(timeout -s INT 2.5 "$CTL" status -c "$CFG" --domain crm --json --watch 1 2>/dev/null | grep -c '"domains"' || true)
((n >= 2)) || fail "--watch 1 printed $n documents in 2.5 s"
ok "READY TO FREEZE with everything applied (exit 0), lag 0 s, producers idle, --watch refreshes"

# ---- 4. backlog: the producer cannot acknowledge --------------------------------------------------
# One committed change, then the write lock held at once: the producer reads and sends the
# change but cannot record its acknowledgement, so the backlog ages while heartbeats go on.
# The lock must win the race with the producer's acknowledgement (it nearly always does:
# the producer needs a read and Kafka's confirmation first); an attempt it lost is retried.
backlog_attempt() {
    local i locker
    "$PY" - "$EPIC7" <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("UPDATE crm_contacts SET lead_score = lead_score + 1 WHERE contact_id = 'ct-00000001'")
c.execute("COMMIT")
c.execute("BEGIN IMMEDIATE")
time.sleep(8)
c.execute("ROLLBACK")
EOF
    locker=$!
    cdc_stack_on_down "kill $locker 2>/dev/null; wait $locker 2>/dev/null"
    for ((i = 0; i < 14; i++)); do
        sleep 0.5
        status --max-lag-seconds 2
        if [[ $rc == 1 ]] &&
            has_reason "source epic7: producer backlog [0-9]+ change-log entries, oldest [0-9.]+ s > 2 s"; then
            echo "  reason: $(grep backlog <<<"$(reasons)")"
            wait "$locker"
            return 0
        fi
    done
    wait "$locker"
    return 1
}
backlog_attempt || backlog_attempt || backlog_attempt ||
    fail "no backlog reason in 3 attempts: $(cat "$DIR/st.json")"
jcheck '[p for p in d["producers"] if p["source"] == "epic7"][0]["backlog_entries"] > 0' ||
    fail "backlog_entries: $(cat "$DIR/st.json")"
wait_ready 30 --max-lag-seconds 2
ok "a backlog the producer cannot acknowledge keeps the domain from READY, named"

# ---- 5. a dead letter ------------------------------------------------------------------------------
q "ALTER TABLE crm_contacts ADD CONSTRAINT lead_score_small CHECK (lead_score < 1000)" >/dev/null
sq "UPDATE crm_contacts SET lead_score = 5000 WHERE contact_id = 'ct-00000002'"
wait_reason "^1 unresolved dead letter" 20
jcheck 'd["dead_letters"]["unresolved"] == 1' || fail "dead_letters: $(cat "$DIR/st.json")"
sq "UPDATE crm_contacts SET lead_score = 50 WHERE contact_id = 'ct-00000002'"
wait_ready 30
ok "an unresolved dead letter keeps the domain from READY; resolved by a fixed row"

# ---- 6. a parity mismatch -----------------------------------------------------------------------------
cdc_psql core <<'EOF' >/dev/null
CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.contact_id = 'ct-00000003' THEN NEW.notes := coalesce(NEW.notes, '') || ' (tampered)'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tamper BEFORE INSERT OR UPDATE ON crm_contacts FOR EACH ROW EXECUTE FUNCTION tamper();
EOF
sq "UPDATE crm_contacts SET notes = 'call back' WHERE contact_id = 'ct-00000003'"
wait_reason "^1 unresolved parity mismatch$" 20
jcheck 'd["parity"]["unresolved_mismatches"] == 1 and d["parity"]["mismatches"] >= 1' ||
    fail "parity: $(cat "$DIR/st.json")"
q "DROP TRIGGER tamper ON crm_contacts" >/dev/null
q "UPDATE _cdc_parity_mismatches SET resolved_at = now()" >/dev/null
wait_ready 30
ok "an unresolved parity mismatch keeps the domain from READY"

# ---- 7. a stopped sink while records arrive ---------------------------------------------------------
stop sink
for i in 1 2 3 4 5 6 7 8; do
    sq "UPDATE crm_contacts SET lead_score = lead_score + 1 WHERE contact_id = 'ct-0000000$i'"
done
wait_reason "crm partition [0-9]: sink stopped \([0-9]+ messages waiting, last apply [0-9.]+ s ago > 2 s\)" \
    20 --max-lag-seconds 1 --heartbeat-timeout-seconds 2
has_reason "crm partition [0-9] lag [0-9]+ messages / [0-9.]+ s > 1 s" ||
    fail "no lag reason: $(reasons)"
jcheck 'any(p["worker"] == "stopped" and p["lag_messages"] > 0 for p in d["partitions"])' ||
    fail "partitions: $(cat "$DIR/st.json")"
jcheck 'all(p["state"] == "idle" for p in d["producers"])' ||
    fail "producers must stay idle (heartbeats read from Kafka): $(cat "$DIR/st.json")"
start_sink
wait_ready 30
ok "a stopped sink: lag and 'sink stopped' named; producers still idle; READY after restart"

# ---- 8. a stopped producer ------------------------------------------------------------------------------
stop producer
wait_reason "source epic7: producer stopped \(last heartbeat [0-9.]+ s ago > 2 s\)" 15 \
    --heartbeat-timeout-seconds 2
jcheck 'all(p["state"] == "stopped" for p in d["producers"])' || fail "producers: $(cat "$DIR/st.json")"
rc=0
"$CTL" status -c "$CFG" --domain crm --until ready --timeout 1 --heartbeat-timeout-seconds 2 \
    >"$DIR/st.txt" 2>"$DIR/st.err" || rc=$?
[[ $rc == 1 ]] || fail "--until ready --timeout 1 with the producer stopped exited $rc, expected 1"
grep -q "ready did not hold within 1 s" "$DIR/st.err" || fail "--until timeout: $(cat "$DIR/st.err")"
grep -q "verdict READY TO FREEZE: does not hold" "$DIR/st.txt" || fail "report: $(cat "$DIR/st.txt")"
start_producer
wait_ready 30
ok "a stopped producer is told from an idle one; --until times out with exit 1"

# ---- 9. freeze and DRAINED ---------------------------------------------------------------------------------
stop sink
sq "UPDATE crm_contacts SET lead_score = 7 WHERE contact_id = 'ct-00000004'"
sleep 1 # the producer sends and acknowledges it
"$CTL" freeze -c "$CFG" --domain crm >"$DIR/freeze.out" 2>&1 || { cat "$DIR/freeze.out"; fail "cdc-ctl freeze"; }
[[ $(q "SELECT count(*) FROM _cdc_freeze WHERE domain = 'crm'") == 2 ]] || fail "cdc-ctl freeze wrote no _cdc_freeze rows"
echo "  freeze rows (cdc-ctl freeze):" \
    "$(q "SELECT source || ' ' || epoch || ':' || position FROM _cdc_freeze" | tr '\n' ' ')"
status --verdict drained
[[ $rc == 1 ]] || fail "drained with the sink stopped? exit $rc"
jcheck 'd["frozen"] and not d["drained"]' || fail "frozen/drained: $(cat "$DIR/st.json")"
has_reason "source epic7: [1-6] of 6 partitions not applied up to the freeze position [0-9]+:[0-9]+" not_drained ||
    fail "not_drained: $(reasons not_drained)"
jcheck '[p for p in d["producers"] if p["source"] == "epic7"][0]["freeze"]["position"] > 0' ||
    fail "freeze in JSON: $(cat "$DIR/st.json")"
start_sink
rc=0
"$CTL" status -c "$CFG" --domain crm --until drained --timeout 30 >"$DIR/st.txt" 2>"$DIR/st.err" || rc=$?
[[ $rc == 0 ]] || { cat "$DIR/st.txt"; fail "not DRAINED within 30 s (exit $rc)"; }
grep -q "DRAINED: yes (frozen)" "$DIR/st.txt" || fail "report: $(cat "$DIR/st.txt")"
ok "frozen: not DRAINED while the sink is stopped (partitions named); DRAINED once applied"

# ---- 10. the SQLite files unreadable, then gone ----------------------------------------------------------
chmod 000 "$DIR"/data/*.db*
osuser=${CDC_TEST_PG_OSUSER:-cdc-test}
if [[ $(id -u) == 0 ]] && id "$osuser" >/dev/null 2>&1; then
    rc=0
    setpriv --reuid="$osuser" --regid="$osuser" --clear-groups -- \
        "$CTL" status -c "$CFG" --domain crm --verdict drained >"$DIR/st.txt" 2>"$DIR/st.err" || rc=$?
    [[ $rc == 0 ]] || { cat "$DIR/st.txt" "$DIR/st.err"; fail "status as $osuser with files chmod 000 exited $rc"; }
    ok "status as an unprivileged user with the SQLite files chmod 000: DRAINED"
fi
stop producer
mv "$DIR/data" "$DIR/data.away"
sleep 1.5
rc=0
"$CTL" status -c "$CFG" --domain crm --json --heartbeat-timeout-seconds 1 >"$DIR/st.json" \
    2>"$DIR/st.err" || rc=$?
[[ $rc == 1 ]] || fail "status with the files gone exited $rc"
has_reason "[Nn]o such file" && fail "status looked for the SQLite files: $(reasons)"
has_reason "source (epic7|week3_bd): producer stopped" || fail "reasons: $(reasons)"
jcheck 'd["drained"] and len(d["errors"]) == 0' || fail "status without the files: $(cat "$DIR/st.json")"
ok "status works without the SQLite files (drained; producer stopped named)"
stop validator
stop sink

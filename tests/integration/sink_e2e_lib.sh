# shellcheck shell=bash
# Shared by tests/integration/sink_e2e_*.test.sh (sourced, not a test itself): the whole
# pipeline with the real binaries — cdc-fixtures, cdc-workload, cdc-producer, cdc-sink,
# cdc-validator --audit — on a harness stack (PostgreSQL + devbroker with the example
# pipeline's topics).
#
#   source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"
#   se_up [--scale N]     stack + fixtures + $CFG (the example pipeline over them); exports
#                         PGHOST/PGPORT/PGUSER (the config's targets use them), DIR, CFG
#   se_up_epic7_crm [--scale N]   se_up, plus what the tests that change source epic7's
#                         tables and follow domain crm use: E7, CORE, CTL, q, app, dlq, open_list
#   se_consumer_props K=V...   extra kafka_consumer properties in $CFG
#   se_sink_start NAME DOMAIN [ARGS]   a background worker, log $DIR/sink-NAME.log,
#                         pid in SE_PID[NAME], PGAPPNAME=NAME (shows in the offsets history)
#   se_sink_stop NAME     SIGTERM, must exit 0;  se_sink_kill NAME: SIGKILL;
#   se_sink_wait NAME     wait for a --once worker, must exit 0
#   se_sink_once DOMAIN [ARGS]   cdc-sink --once, must exit 0
#   se_producer_once, se_producer_start, se_producer_stop
#   se_sampler_start NAME DB [MODE]; se_sampler_stop NAME  (fails on a violation)
#   se_offsets_history DB      records every change of _cdc_offsets (who, old, new)
#   se_offsets_chain DB        every partition's stored offset moved as one chain
#   se_audit [ARGS]            cdc-validator --audit --json: every table and check equal
#   se_counts [--domain D]     row counts of every source table equal in the target
: "${CDC_SOURCE_DIR:?CDC_SOURCE_DIR must point at the source tree}"
: "${CDC_BUILD_DIR:?CDC_BUILD_DIR must point at the build tree}"
# shellcheck source=../harness/stack.sh
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
# shellcheck source=producer_lib.sh
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"
SINK=$CDC_BUILD_DIR/consumers/cdc-sink
VALIDATOR=$CDC_BUILD_DIR/consumers/cdc-validator
PY=/usr/bin/python3
SE_CHECK=$CDC_SOURCE_DIR/tests/tools/sink_e2e_check.py
for _b in "$SINK" "$VALIDATOR" "$PRODUCER" "$FIXTURES" "$WORKLOAD"; do
    [[ -x $_b ]] || fail "$_b is not built"
done
declare -gA SE_PID=() SE_SAMPLER=()

ok() { echo "ok: $*"; }
now_ms() { date +%s%3N; }

se_up() {
    cdc_stack_up --config "$CDC_SOURCE_DIR/config/pipeline.example.yml"
    DIR=$CDC_TEST_TMPDIR
    # CDC_E2E_KEEP=DIR: keep the logs, data and summaries there after the test (debugging).
    if [[ -n ${CDC_E2E_KEEP:-} ]]; then
        cdc_stack_on_down "rm -rf '$CDC_E2E_KEEP'; cp -r '$DIR' '$CDC_E2E_KEEP' 2>/dev/null; rm -rf '$CDC_E2E_KEEP/pg'"
    fi
    export PGHOST=$CDC_TEST_PGHOST PGPORT=$CDC_TEST_PGPORT PGUSER=$CDC_TEST_PGUSER DIR
    export PATH=$CDC_TEST_PGBIN:$PATH
    cdc_pg_createdb synapse_business_core
    cdc_pg_createdb synapse_analytics
    producer_fixtures "$DIR/data" "$@"
    CFG=$DIR/pipeline.yml
    producer_config "$CFG" "$DIR/data"
    if [[ ${1:-} == --scale ]]; then
        producer_add_scale_source "$CFG" "$DIR/data"
    fi
    export CFG
}

# se_up_epic7_crm [--scale N]: se_up; then E7 (the source file epic7_sales_automation.db),
# CORE (the target database of domain crm), CTL (cdc-ctl) and the functions
#   q SQL       psql on $CORE, one value a line
#   app SQL     sqlite3 on $E7, as the application (waits up to 5 s for its locks)
#   dlq ARGS    cdc-ctl dlq ARGS for domain crm, stderr appended to $DIR/ctl.err
#   open_list   the open dead letters of crm, one a line, without the header
# shellcheck disable=SC2317  # the tests call those functions, this file does not
se_up_epic7_crm() {
    se_up "$@"
    E7=$DIR/data/epic7_sales_automation.db
    CORE=synapse_business_core
    CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
    q() { cdc_psql "$CORE" "$1"; }
    app() { sqlite3 -cmd ".timeout 5000" "$E7" "$1"; }
    dlq() { "$CTL" dlq "$@" -c "$CFG" --domain crm 2>>"$DIR/ctl.err"; }
    open_list() { dlq list | tail -n +2; }
}

# se_consumer_props K=V...: kafka_consumer properties for every worker of $CFG.
se_consumer_props() {
    local kv props=""
    for kv in "$@"; do props+="${props:+, }${kv%%=*}: \"${kv#*=}\""; done
    sed -i "s#^kafka_consumer: {}#kafka_consumer: {$props}#" "$CFG"
    grep -q "^kafka_consumer: {$props}" "$CFG" || fail "could not set kafka_consumer in $CFG"
}

se_sink_start() {
    local name=$1 domain=$2
    shift 2
    PGAPPNAME=$name "$SINK" -c "$CFG" --domain "$domain" "$@" >>"$DIR/sink-$name.log" 2>&1 &
    SE_PID[$name]=$!
    cdc_stack_on_down "kill ${SE_PID[$name]} 2>/dev/null; wait ${SE_PID[$name]} 2>/dev/null"
}

se_sink_stop() {
    local rc=0
    kill -TERM "${SE_PID[$1]}" 2>/dev/null || true
    wait "${SE_PID[$1]}" || rc=$?
    [[ $rc == 0 ]] || { tail -20 "$DIR/sink-$1.log"; fail "worker $1 exited $rc after SIGTERM"; }
}

# se_sink_wait NAME: waits for a --once worker, which must exit 0.
se_sink_wait() {
    local rc=0
    wait "${SE_PID[$1]}" || rc=$?
    [[ $rc == 0 ]] || { tail -20 "$DIR/sink-$1.log"; fail "worker $1 exited $rc"; }
}

se_sink_kill() {
    kill -9 "${SE_PID[$1]}" 2>/dev/null || true
    wait "${SE_PID[$1]}" 2>/dev/null || true
}

# se_sink_once DOMAIN [ARGS]: one --once worker; log $DIR/once-DOMAIN.log (appended).
se_sink_once() {
    local domain=$1 rc=0
    shift
    echo "--- $(date +%T.%N) cdc-sink --once $domain $*" >>"$DIR/once-$domain.log"
    PGAPPNAME=once-$domain timeout -k 5 120 "$SINK" -c "$CFG" --domain "$domain" --once "$@" \
        2>>"$DIR/once-$domain.log" || rc=$?
    [[ $rc == 0 ]] || { tail -20 "$DIR/once-$domain.log"; fail "cdc-sink --once --domain $domain exited $rc"; }
}

se_producer_once() {
    timeout -k 5 180 "$PRODUCER" -c "$CFG" --once "$@" 2>>"$DIR/producer.log" ||
        { tail -20 "$DIR/producer.log"; fail "cdc-producer --once $* failed"; }
}

se_producer_start() {
    "$PRODUCER" -c "$CFG" 2>>"$DIR/producer.log" &
    SE_PID[producer]=$!
    cdc_stack_on_down "kill ${SE_PID[producer]} 2>/dev/null; wait ${SE_PID[producer]} 2>/dev/null"
}

se_producer_stop() {
    local rc=0
    kill -TERM "${SE_PID[producer]}" 2>/dev/null || true
    wait "${SE_PID[producer]}" || rc=$?
    [[ $rc == 0 ]] || { tail -20 "$DIR/producer.log"; fail "producer exited $rc after SIGTERM"; }
}

# se_workload_start SECONDS RATE SEED: the application writing into every fixture file.
se_workload_start() {
    "$WORKLOAD" --dir "$DIR/data" --rate "$2" --seconds "$1" --seed "$3" \
        >"$DIR/workload.out" 2>"$DIR/workload.log" &
    SE_PID[workload]=$!
    cdc_stack_on_down "kill ${SE_PID[workload]} 2>/dev/null; wait ${SE_PID[workload]} 2>/dev/null"
}

# se_workload_wait: waits for it to finish (se_workload_stop: SIGTERM first); its writes
# must all have succeeded.
se_workload_stop() {
    kill -TERM "${SE_PID[workload]}" 2>/dev/null || true
    se_workload_wait
}

se_workload_wait() {
    local rc=0
    wait "${SE_PID[workload]}" || rc=$?
    [[ $rc == 0 ]] || { cat "$DIR/workload.out"; tail "$DIR/workload.log"; fail "workload writes failed (exit $rc)"; }
    echo "workload: $(grep -o 'ops=[0-9]* commits=[0-9]*' "$DIR/workload.out" | head -1)"
}

# se_sampler_start NAME DB [monotonic|unchanged]
se_sampler_start() {
    "$PY" "$SE_CHECK" sample "$2" "$DIR/sampler-$1.json" --mode "${3:-monotonic}" --interval-ms 10 \
        2>"$DIR/sampler-$1.err" &
    SE_SAMPLER[$1]=$!
    cdc_stack_on_down "kill ${SE_SAMPLER[$1]} 2>/dev/null; wait ${SE_SAMPLER[$1]} 2>/dev/null"
}

# se_sampler_stop NAME [MIN_SAMPLES]: stops it; fails on a violation or too few samples.
se_sampler_stop() {
    local rc=0 n
    kill -TERM "${SE_SAMPLER[$1]}"
    wait "${SE_SAMPLER[$1]}" || rc=$?
    [[ -s $DIR/sampler-$1.json ]] || { cat "$DIR/sampler-$1.err"; fail "sampler $1 wrote no summary"; }
    echo "sampler $1: $(cat "$DIR/sampler-$1.json")" | cut -c1-400
    [[ $rc == 0 ]] || fail "sampler $1 saw the target go back: $(cat "$DIR/sampler-$1.json")"
    n=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["samples"])' "$DIR/sampler-$1.json")
    ((n >= ${2:-10})) || fail "sampler $1 took only $n samples"
}

# se_offsets_history DB: every insert and update of _cdc_offsets is recorded in
# e2e_offsets_history with the writer's application_name (PGAPPNAME of the worker). An
# event trigger attaches the row trigger when the sink creates _cdc_offsets; the history
# holds committed changes only (a fenced, rolled-back batch leaves nothing).
se_offsets_history() {
    cdc_psql "$1" <<'SQL' >/dev/null
CREATE TABLE e2e_offsets_history (id bigserial PRIMARY KEY, domain text, topic text,
    kpartition int, old_next bigint, new_next bigint, app text,
    at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION e2e_offsets_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO e2e_offsets_history (domain, topic, kpartition, old_next, new_next, app)
  VALUES (NEW.domain, NEW.topic, NEW.kpartition,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.next_offset END, NEW.next_offset,
          current_setting('application_name'));
  RETURN NULL;
END $$;
CREATE FUNCTION e2e_offsets_attach() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
             WHERE object_identity IN ('public._cdc_offsets', '_cdc_offsets')) THEN
    CREATE OR REPLACE TRIGGER e2e_offsets_log AFTER INSERT OR UPDATE ON _cdc_offsets
      FOR EACH ROW EXECUTE FUNCTION e2e_offsets_log();
  END IF;
END $$;
CREATE EVENT TRIGGER e2e_offsets_attach ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION e2e_offsets_attach();
SQL
}

# se_offsets_chain DB: per partition, every committed move starts where the previous one
# ended and goes forward (two owners applying one range, or a stale batch, would break it).
se_offsets_chain() {
    local bad moves
    bad=$(cdc_psql "$1" "SELECT count(*) FROM (SELECT old_next, new_next, lag(new_next) OVER w prev,
            row_number() OVER w n FROM e2e_offsets_history
            WINDOW w AS (PARTITION BY domain, topic, kpartition ORDER BY id)) h
          WHERE (n > 1 AND old_next IS DISTINCT FROM prev) OR new_next < coalesce(old_next, 0)")
    moves=$(cdc_psql "$1" "SELECT count(*) FROM e2e_offsets_history WHERE old_next IS NOT NULL")
    [[ $bad == 0 ]] || {
        cdc_psql "$1" "SELECT * FROM (SELECT *, lag(new_next) OVER w prev FROM e2e_offsets_history
            WINDOW w AS (PARTITION BY domain, topic, kpartition ORDER BY id)) h
            WHERE old_next IS DISTINCT FROM prev OR new_next < old_next LIMIT 20" >&2
        fail "$bad stored-offset moves do not continue the previous one"
    }
    ((moves > 0)) || fail "no stored-offset moves recorded in $1"
    echo "offsets history of $1: $moves moves, one chain per partition"
}

# se_audit [ARGS]: cdc-validator --audit --json (ARGS e.g. --domain crm) must find every
# table and business check equal.
se_audit() {
    local rc=0
    "$VALIDATOR" -c "$CFG" --audit --json "$@" >"$DIR/audit.json" 2>"$DIR/audit.err" || rc=$?
    "$PY" "$SE_CHECK" audit "$DIR/audit.json" || { tail -5 "$DIR/audit.err"; fail "audit: target differs from source"; }
    [[ $rc == 0 ]] || { tail -5 "$DIR/audit.err"; fail "cdc-validator --audit exited $rc"; }
}

se_counts() {
    "$PY" "$SE_CHECK" counts "$CFG" "$@" || fail "row counts differ"
}

# se_hwm TOPIC: the sum of the high watermarks of the topic's partitions.
se_hwm() {
    "$PY" - "$CDC_TEST_BOOTSTRAP" "$1" <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "se-probe"})
md = c.list_topics(sys.argv[2], timeout=10)
print(sum(c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=10)[1]
          for p in md.topics[sys.argv[2]].partitions))
c.close()
EOF
}

# se_stored DB DOMAIN: the sum of the stored next offsets of the domain.
se_stored() {
    cdc_psql "$1" "SELECT coalesce(sum(next_offset), 0) FROM _cdc_offsets WHERE domain = '$2'" 2>/dev/null || echo -1
}

# se_wait_caught_up DB DOMAIN SECONDS: until the stored offsets reach the high watermarks.
se_wait_caught_up() {
    local end i
    end=$(se_hwm "cdc.$2")
    for i in $(seq 1 $(($3 * 5))); do
        [[ $(se_stored "$1" "$2") == "$end" ]] && return 0
        sleep 0.2
    done
    fail "domain $2: stored offsets $(se_stored "$1" "$2") never reached $end"
}

# se_sleep_ms MS
se_sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

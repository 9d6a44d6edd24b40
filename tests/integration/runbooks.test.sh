#!/usr/bin/env bash
# The runbooks (runbooks/*.md) run against the local stack, so their commands cannot rot:
# every fenced block marked `test=ID step=STEP` is extracted by tests/tools/runbook_blocks.py
# and run here as it is written (bash -euo pipefail, the variables of runbooks/local.env),
# its `expect=` lines must be in its output, and the outcome is checked with SQL, sqlite3
# and cdc-ctl. Between steps the test does what the platform or the application would
# (restart a worker, an application's write, a DBA's constraint).
#
# Stack: PostgreSQL + devbroker, the fixture files, the crm domain's sources minus
# week3_bd (added by the add-source runbook), producer, crm sink worker and validator.
# Scenarios, in this order (RB_SET=quick: only those marked *; runbooks_quick.test.sh):
#   alerts, scaling (a second worker),
#   dlq*        a CHECK constraint on the target refuses a row -> sink dead letter; the
#               constraint dropped, re-drive -> resolved, row in the target; (full: a
#               producer misfit resolved by hand, then fixed at the source)
#   repair      a target row altered behind the sink -> audit names it -> resnapshot --keys
#   replay*     a target table emptied -> replay from earliest -> equal again (audit); the
#               sink killed -9 and restarted -> READY; (full: re-snapshot of the domain)
#   schema-change  a column added at the source -> in the target, audit equal
#   add-source* week3_bd added to the running pipeline -> its rows arrive, audit equal;
#               (full: backed out again: capture removed from the file)
#   restored-source  a backup restored over epic7 -> refused -> --new-epoch -> the target
#               mirrors the restored file (a row written after the backup is gone)
#   rollback*   a cutover interrupted after the freeze -> unfreeze -> writes flow again
#   cutover*    DONE, marked, evidence, SQLite frozen, a late sink refuses the domain
# At the end every marked block of the runbooks covered must have been run.
# labels: integration full
# timeout: 900
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"
RB_SET=${RB_SET:-full}
RUNBOOKS=$CDC_SOURCE_DIR/runbooks
RBX=$CDC_SOURCE_DIR/tests/tools/runbook_blocks.py
CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
[[ -x $CTL ]] || fail "$CTL is not built"
for t in sqlite3 psql jq; do
    command -v "$t" >/dev/null || [[ $t == psql ]] || fail "$t is not installed"
done

# The marks must be consistent, and every runbook the set covers must have its steps.
MARKS=$("$PY" "$RBX" list "$RUNBOOKS") || fail "inconsistent runbook marks"
if [[ $RB_SET == quick ]]; then
    COVERED=(dlq replay add-source rollback cutover)
else
    COVERED=(alerts scaling dlq repair replay schema-change add-source restored-source rollback cutover)
fi
for id in "${COVERED[@]}"; do
    grep -q "^$id " <<<"$MARKS" || fail "no marked block of runbook test $id"
done
full() { [[ $RB_SET == full ]]; }

# ---- stack ----------------------------------------------------------------------------------
se_up
"$PY" - "$CFG" <<'PY'
import sys, yaml
class Dumper(yaml.SafeDumper):  # lists indented under their key, as people write them
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)
p = sys.argv[1]
c = yaml.safe_load(open(p))
c["sources"] = [s for s in c["sources"] if s["domain"] == "crm" and s["name"] != "week3_bd"]
c["producer"] = {"heartbeat_ms": 300}
yaml.dump(c, open(p, "w"), Dumper=Dumper, sort_keys=False)
PY
# shellcheck source=../../runbooks/local.env
source "$RUNBOOKS/local.env"
export PATH=$CDC_BUILD_DIR/tools/ctl:$CDC_BUILD_DIR/producer:$CDC_BUILD_DIR/consumers:$PATH
mkdir -p "$WORK/steps"
: >"$WORK/steps/ran"
q() { psql "$TARGET_DB" -XAtqc "$1"; }
app() { sqlite3 -cmd ".timeout 2000" "$SOURCE_DB" "$1"; }

validator_start() {
    PGAPPNAME=validator "$VALIDATOR" -c "$CFG" --domain crm --batch-ms 100 >>"$DIR/validator.log" 2>&1 &
    VPID=$!
    cdc_stack_on_down "kill $VPID 2>/dev/null; wait $VPID 2>/dev/null"
}
validator_restart() {
    kill "$VPID" 2>/dev/null || true
    wait "$VPID" 2>/dev/null || true
    validator_start
}
se_producer_start
se_sink_start crm crm --batch-ms 100
validator_start

# rb_step ID STEP: runs the runbook's block, shows its output, checks its expect block.
rb_step() {
    local id=$1 step=$2 f=$WORK/steps/$1.$2 rc=0
    {
        echo "set -euo pipefail"
        "$PY" "$RBX" get "$RUNBOOKS" "$id" "$step"
    } >"$f.sh" || fail "runbook step $id/$step is missing"
    echo "--- runbook $id/$step"
    (cd "$WORK" && bash "$f.sh") >"$f.out" 2>&1 || rc=$?
    { grep -v "level=info" "$f.out" || true; } | tail -n 25 | sed 's/^/    | /'
    [[ $rc == 0 ]] || fail "runbook step $id/$step exited $rc (script $f.sh)"
    "$PY" "$RBX" expect "$RUNBOOKS" "$id" "$step" "$f.out" || fail "runbook step $id/$step: expected output missing"
    echo "$id $step" >>"$WORK/steps/ran"
}
# rb_data ID STEP: the runbook's data block with the variables expanded.
rb_data() {
    "$PY" "$RBX" get "$RUNBOOKS" "$1" "$2" |
        "$PY" -c 'import os, sys; sys.stdout.write(os.path.expandvars(sys.stdin.read()))' ||
        fail "runbook data $1/$2 is missing"
    echo "$1 $2" >>"$WORK/steps/ran"
}
# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds.
wait_for() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    fail "timed out after $secs s waiting for $what"
}
target_is() { [[ $(q "$1" 2>/dev/null) == "$2" ]]; }

"$CTL" status -c "$CDC_CONFIG" --domain crm --until ready --timeout 120 >"$DIR/st0.txt" 2>&1 ||
    { cat "$DIR/st0.txt"; fail "crm never READY"; }
wait_for 60 "the crm snapshot" target_is "SELECT count(*) FROM generated_proposals" 58
read -r C1 C2 C3 C4 <<<"$(app "SELECT group_concat(contact_id, ' ') FROM (SELECT contact_id FROM crm_contacts ORDER BY contact_id LIMIT 4)")"
ok "stack up: crm READY, snapshot applied (contacts $C1 $C2 $C3 $C4)"

# ---- alerts, scaling -------------------------------------------------------------------------------
if full; then
    rb_step alerts status
    rb_step alerts json
    rb_step alerts wait
    ok "alerts: status, JSON and the wait on a healthy domain"

    rb_step scaling ceiling
    se_sink_start crm2 crm --batch-ms 100
    rb_step scaling watch
    sleep 2
    kill -0 "${SE_PID[crm2]}" || fail "the second worker exited: $(tail -3 "$DIR/sink-crm2.log")"
    grep -q "assigned cdc.crm" "$DIR/sink-crm2.log" || echo "  (the second worker holds no partition yet)"
    se_sink_stop crm2
    ok "scaling: ceiling read, a second worker joined and left, READY throughout"
fi

# ---- dead letters ------------------------------------------------------------------------------------
q "ALTER TABLE crm_contacts ADD CONSTRAINT rb_lead_score_max CHECK (lead_score <= 100) NOT VALID"
app "UPDATE crm_contacts SET lead_score = 150 WHERE contact_id = '$C1'"
open_dl() { "$CTL" dlq list -c "$CDC_CONFIG" --domain crm 2>/dev/null | tail -n +2 | grep -c . || true; }
dl_open() { (($(open_dl) >= 1)); }
wait_for 60 "the sink's dead letter" dl_open
rb_step dlq list
grep -P "\topen\t.*\tepic7\tcrm_contacts\t.*rb_lead_score_max" "$WORK/steps/dlq.list.out" >/dev/null ||
    fail "the dead letter does not name the constraint"
DLQ_ID=$(grep -P "\topen\t.*\tcrm_contacts\t" "$WORK/steps/dlq.list.out" | head -1 | cut -f1)
export DLQ_ID
[[ $(q "SELECT lead_score FROM crm_contacts WHERE contact_id = '$C1'") != 150 ]] || fail "refused row applied"
q "ALTER TABLE crm_contacts DROP CONSTRAINT rb_lead_score_max" # the fix, on the target side
rb_step dlq redrive
rb_step dlq verify
[[ $(q "SELECT lead_score FROM crm_contacts WHERE contact_id = '$C1'") == 150 ]] || fail "re-driven row not in the target"
ok "dead letter $DLQ_ID (target CHECK) re-driven after the fix: resolved, row in the target"
if full; then
    app "UPDATE crm_contacts SET lead_score = 'not a number' WHERE contact_id = '$C2'"
    wait_for 60 "the producer's dead letter" dl_open
    DLQ_ID=$("$CTL" dlq list -c "$CDC_CONFIG" --domain crm 2>/dev/null | tail -n +2 | grep "$C2" | cut -f1 | head -1)
    [[ -n $DLQ_ID ]] || fail "the producer's dead letter does not name $C2"
    rb_step dlq resolve
    rb_step dlq verify
    app "UPDATE crm_contacts SET lead_score = 7 WHERE contact_id = '$C2'" # the application's fix
    wait_for 60 "the fixed row" target_is "SELECT lead_score FROM crm_contacts WHERE contact_id = '$C2'" 7
    ok "dead letter $DLQ_ID (producer misfit) resolved by hand"
fi

# ---- repair from an audit ----------------------------------------------------------------------------
if full; then
    q "UPDATE crm_contacts SET notes = 'altered behind the sink' WHERE contact_id = '$C3'"
    rb_step repair audit
    jq -e --arg k "$C3" '.resnapshot[] | select(.table == "crm_contacts") | .keys[] | select(.contact_id == $k)' \
        "$WORK/audit.json" >/dev/null || fail "the audit does not list $C3 for re-snapshot"
    rb_step repair resnapshot
    rb_step repair verify
    [[ $(q "SELECT notes IS DISTINCT FROM 'altered behind the sink' FROM crm_contacts WHERE contact_id = '$C3'") == t ]] ||
        fail "$C3 not repaired"
    ok "repair: the altered row was named by the audit and re-sent"
fi

# ---- replay -------------------------------------------------------------------------------------------
q "DELETE FROM generated_proposals" # emptied by mistake, behind the sink
rb_step replay before
grep -q "result: differ" "$WORK/steps/replay.before.out" || fail "the audit did not see the emptied table"
export REPLAY_FROM=earliest
rb_step replay dry-run
rb_step replay replay
rb_step replay verify
[[ $(q "SELECT count(*) FROM generated_proposals") == 58 ]] || fail "generated_proposals not restored by the replay"
ok "replay from earliest: the emptied table is back (58 rows), audit equal"
se_sink_kill crm
app "UPDATE crm_contacts SET notes = 'while the sink was down' WHERE contact_id = '$C4'"
se_sink_start crm crm --batch-ms 100
rb_step replay after-crash
wait_for 30 "the change made while the sink was down" \
    target_is "SELECT notes FROM crm_contacts WHERE contact_id = '$C4'" "while the sink was down"
ok "sink killed -9 and restarted: resumed, READY, the change made meanwhile applied"
if full; then
    rb_step replay resnapshot-domain
    rb_step replay verify
    ok "re-snapshot of every source of the domain: audit equal"
fi

# ---- schema change ------------------------------------------------------------------------------------
if full; then
    app "ALTER TABLE crm_contacts ADD COLUMN rb_region TEXT DEFAULT 'emea'"
    wait_for 90 "the added column in the target" target_is \
        "SELECT count(*) FROM crm_contacts WHERE rb_region = 'emea'" "$(app "SELECT count(*) FROM crm_contacts")"
    rb_step schema-change verify
    grep -q "^target columns: .*rb_region" "$WORK/steps/schema-change.verify.out" || fail "rb_region not listed"
    ok "schema change: column added at the source, filled in the target, audit equal"
fi

# ---- add a source ---------------------------------------------------------------------------------------
export NEW_SOURCE=week3_bd NEW_SOURCE_DB=$DIR/data/week3_business_development.db NEW_TABLE_PREFIX=week3_
rb_step add-source names
entry=$(rb_data add-source entry)
awk -v e="$entry" '{ print } /^sources:/ { print e }' "$CDC_CONFIG" >"$CDC_CONFIG.new"
mv "$CDC_CONFIG.new" "$CDC_CONFIG"
rb_step add-source check
se_sink_stop crm # the platform's restarts: sinks and validator first, then the producer
se_sink_start crm crm --batch-ms 100
validator_restart
se_producer_stop
se_producer_start
rb_step add-source verify
n=$(q "SELECT count(*) FROM _cdc_tables WHERE source = '$NEW_SOURCE'")
((n > 0)) || fail "no target table of $NEW_SOURCE"
se_counts --domain crm
ok "source $NEW_SOURCE added: $n tables in the target, counts and audit equal"
if full; then
    se_producer_stop
    rb_step add-source backout
    grep -v "name: $NEW_SOURCE," "$CDC_CONFIG" >"$CDC_CONFIG.new"
    mv "$CDC_CONFIG.new" "$CDC_CONFIG"
    se_producer_start
    "$CTL" status -c "$CDC_CONFIG" --domain crm --until ready --timeout 120 >/dev/null 2>&1 || fail "not READY after the back-out"
    ok "add-source backed out: capture removed from the file, the pipeline READY without it"
fi

# ---- a source restored from a backup -----------------------------------------------------------------
if full; then
    export BACKUP_DB=$WORK/epic7-backup.db
    app ".backup '$BACKUP_DB'"
    cols=$(app "SELECT group_concat(name, ', ') FROM pragma_table_info('crm_contacts') WHERE name NOT IN ('contact_id', 'email')")
    app "INSERT INTO crm_contacts (contact_id, email, $cols) SELECT 'ct-after-backup', 'after-backup@example.com', $cols
         FROM crm_contacts WHERE contact_id = '$C1'"
    wait_for 30 "the row written after the backup" target_is \
        "SELECT count(*) FROM crm_contacts WHERE contact_id = 'ct-after-backup'" 1
    se_producer_stop
    rb_step restored-source restore
    rb_step restored-source refused
    rb_step restored-source new-epoch
    se_producer_start
    rb_step restored-source verify
    [[ $(q "SELECT count(*) FROM crm_contacts WHERE contact_id = 'ct-after-backup'") == 0 ]] ||
        fail "the row written after the backup is still in the target"
    ok "restored source: refused, new epoch, the target mirrors the restored file"
fi

# ---- rollback before the mark ------------------------------------------------------------------------
"$CTL" freeze -c "$CDC_CONFIG" --domain crm >"$DIR/freeze.out" # a cutover interrupted after its freeze
app "UPDATE crm_contacts SET notes = 'frozen?' WHERE contact_id = '$C1'" 2>"$DIR/frozen.err" &&
    fail "an application write succeeded while frozen"
grep -q "frozen for cutover" "$DIR/frozen.err" || fail "write error: $(cat "$DIR/frozen.err")"
rb_step rollback mark
rb_step rollback unfreeze
rb_step rollback verify
app "UPDATE crm_contacts SET notes = 'after the rollback' WHERE contact_id = '$C1'"
wait_for 30 "a write after the rollback in the target" \
    target_is "SELECT notes FROM crm_contacts WHERE contact_id = '$C1'" "after the rollback"
ok "rollback before the mark: unfrozen, READY, application writes reach PostgreSQL again"

# ---- cutover ----------------------------------------------------------------------------------------------
rb_step cutover ready
rb_step cutover audit
rb_step cutover run
rb_step cutover verify
[[ $(q "SELECT count(*) FROM _cdc_cutover WHERE domain = 'crm'") == 1 ]] || fail "crm not marked"
for t in crm_contacts generated_proposals; do
    [[ $(q "SELECT count(*) FROM $t") == "$(app "SELECT count(*) FROM $t")" ]] || fail "$t: target rows differ from the source"
done
[[ $(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'crm_contacts'::regclass AND attname = '_cdc_pos'") == 0 ]] ||
    fail "the target was not finalised"
app "UPDATE crm_contacts SET notes = 'too late' WHERE contact_id = '$C1'" 2>"$DIR/late.err" &&
    fail "SQLite writable after the cutover"
grep -q "frozen for cutover" "$DIR/late.err" || fail "late write error: $(cat "$DIR/late.err")"
rc=0
timeout 30 "$SINK" -c "$CDC_CONFIG" --domain crm --once >/dev/null 2>"$DIR/late-sink.err" || rc=$?
if [[ $rc != 1 ]] || ! grep -q "domain crm was cut over" "$DIR/late-sink.err"; then
    fail "a sink started after the cutover: exit $rc: $(tail -2 "$DIR/late-sink.err")"
fi
ok "cutover: DONE, marked, finalised, rows equal, SQLite frozen, a late sink refuses the domain"

# ---- every marked block of the covered runbooks was run --------------------------------------------------
missing=0
while read -r id step kind where; do
    [[ $kind == expect ]] && continue
    printf '%s\n' "${COVERED[@]}" | grep -qx "$id" || continue
    # The quick set leaves out these steps of the runbooks it covers (the full set runs them).
    if ! full && [[ " dlq/resolve replay/resnapshot-domain add-source/backout " == *" $id/$step "* ]]; then
        continue
    fi
    if ! grep -qx "$id $step" "$WORK/steps/ran"; then
        echo "marked block not run: $id/$step ($where)" >&2
        missing=$((missing + 1))
    fi
done <<<"$MARKS"
((missing == 0)) || fail "$missing marked runbook block(s) were not run"
ok "every marked block of ${COVERED[*]} was run ($(sort -u "$WORK/steps/ran" | wc -l) steps)"
echo PASS

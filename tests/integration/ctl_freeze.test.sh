#!/usr/bin/env bash
# cdc-ctl freeze / unfreeze on fixture files whose capture the producer installed:
#  - freeze makes an application write (sqlite3 CLI INSERT, UPDATE, DELETE) fail with the
#    message, and records the freeze position (= the change log's high-water mark);
#  - freeze again changes nothing and keeps the position (idempotent);
#  - the producer keeps running over a frozen file without taking the freeze triggers for
#    a changed capture (no reinstall, no new epoch, triggers still there);
#  - unfreeze restores writes, twice; freeze --domain covers every source of the domain;
#  - the freeze position is also a _cdc_freeze row in the domain's target (written once,
#    deleted by unfreeze).
# labels: integration quick
# timeout: 180
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"
CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
ok() { echo "ok: $*"; }

# PostgreSQL too: freeze records its position in the domain's target (_cdc_freeze).
cdc_stack_up --config "$CDC_SOURCE_DIR/config/pipeline.example.yml"
export PGHOST=$CDC_TEST_PGHOST PGPORT=$CDC_TEST_PGPORT PGUSER=$CDC_TEST_PGUSER
cdc_pg_createdb synapse_business_core
DIR=$CDC_TEST_TMPDIR
producer_fixtures "$DIR/data"
CFG=$DIR/pipeline.yml
producer_config "$CFG" "$DIR/data"
DB=$DIR/data/epic7_sales_automation.db
timeout 120 "$PRODUCER" -c "$CFG" --once 2>"$DIR/producer.log" || { tail "$DIR/producer.log"; fail "producer --once"; }
epoch0=$(sqlite3 "$DB" "SELECT value FROM _cdc_state WHERE key='epoch'")

app() { sqlite3 -cmd ".timeout 1000" "$DB" "$1" 2>&1; }
[[ -z $(app "UPDATE crm_contacts SET notes = notes WHERE rowid = 1") ]] || fail "write before freeze failed"
high=$(sqlite3 "$DB" "SELECT max(coalesce((SELECT max(seq) FROM _cdc_changes),0), coalesce((SELECT value FROM _cdc_state WHERE key='seq_floor'),0))")

"$CTL" freeze -c "$CFG" --source epic7 >"$DIR/freeze1" 2>"$DIR/freeze1.err" || { cat "$DIR/freeze1.err"; fail "freeze failed"; }
cat "$DIR/freeze1"
grep -q "^source=epic7 state=frozen epoch=$epoch0 position=$high .* changed=[1-9]" "$DIR/freeze1" ||
    fail "freeze did not report position $epoch0:$high with triggers created"
ntables=$(sqlite3 "$DB" "SELECT count(*) FROM _cdc_tables")
[[ $(sqlite3 "$DB" "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name LIKE '\_cdc\_freeze\_%' ESCAPE '\'") == $((ntables * 3)) ]] ||
    fail "expected 3 freeze triggers on each of $ntables captured tables"
[[ $(sqlite3 "$DB" "SELECT value FROM _cdc_state WHERE key='freeze_seq'") == "$high" ]] || fail "freeze_seq not recorded"
frow() { cdc_psql synapse_business_core "SELECT string_agg(source || ' ' || epoch || ':' || position, ',') FROM _cdc_freeze WHERE domain = 'crm'"; }
[[ $(frow) == "epic7 $epoch0:$high" ]] || fail "_cdc_freeze in the target: '$(frow)', expected epic7 $epoch0:$high"

for sql in "INSERT INTO crm_contacts(contact_id, first_name, last_name, email, company, lead_source, priority_tier, created_at, updated_at) VALUES ('frozen-1', 'a', 'b', 'f@x', 'c', 'web', 'gold', '2026-01-01', '2026-01-01')" \
           "UPDATE crm_contacts SET notes = 'x'" "DELETE FROM crm_contacts"; do
    out=$(app "$sql") && fail "write succeeded while frozen: $sql"
    echo "$out" | grep -q "table crm_contacts of source epic7 is frozen for cutover by cdc-ctl freeze (since .*, at position $epoch0:$high): writes go to PostgreSQL now; run cdc-ctl unfreeze to roll back" ||
        fail "unexpected error for '$sql': $out"
done
[[ $(sqlite3 "$DB" "SELECT count(*) FROM crm_contacts WHERE contact_id = 'frozen-1'") == 0 ]] || fail "frozen insert landed"
ok "frozen: INSERT/UPDATE/DELETE fail with the message ($out)"

# Twice: nothing changes, the first position stays.
app "SELECT 1" >/dev/null
"$CTL" freeze -c "$CFG" --source epic7 >"$DIR/freeze2" 2>&1 || fail "second freeze failed"
grep -q "^source=epic7 state=frozen epoch=$epoch0 position=$high .* changed=0$" "$DIR/freeze2" ||
    fail "second freeze changed something: $(cat "$DIR/freeze2")"
[[ $(frow) == "epic7 $epoch0:$high" ]] || fail "_cdc_freeze after the second freeze: '$(frow)'"
ok "freeze twice: idempotent, same position"

# The producer over the frozen file: the freeze triggers are not capture's business.
timeout 120 "$PRODUCER" -c "$CFG" --once 2>>"$DIR/producer.log" || { tail "$DIR/producer.log"; fail "producer --once over a frozen file"; }
[[ $(sqlite3 "$DB" "SELECT value FROM _cdc_state WHERE key='epoch'") == "$epoch0" ]] ||
    fail "the producer started a new epoch over the frozen file (it took the freeze triggers for a changed capture): $(grep -i 'epic7' "$DIR/producer.log" | grep -i -E 'trigger|reinstall|epoch' | tail -3)"
[[ $(sqlite3 "$DB" "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name LIKE '\_cdc\_freeze\_%' ESCAPE '\'") == $((ntables * 3)) ]] ||
    fail "the producer removed the freeze triggers"
app "DELETE FROM crm_contacts" >/dev/null && fail "write succeeded after the producer ran"
ok "the producer leaves a frozen file frozen (same epoch, triggers kept)"

for i in 1 2; do
    "$CTL" unfreeze -c "$CFG" --source epic7 >"$DIR/unfreeze$i" 2>&1 || fail "unfreeze $i failed"
    cat "$DIR/unfreeze$i"
    [[ -z $(app "UPDATE crm_contacts SET notes = notes WHERE rowid = 1") ]] || fail "write after unfreeze $i failed"
done
grep -q "changed=$((ntables * 3))$" "$DIR/unfreeze1" || fail "first unfreeze did not drop every trigger"
grep -q "changed=0$" "$DIR/unfreeze2" || fail "second unfreeze changed something"
[[ -z $(sqlite3 "$DB" "SELECT value FROM _cdc_state WHERE key LIKE 'freeze%'") ]] || fail "freeze position left behind"
[[ -z $(frow) ]] || fail "unfreeze left _cdc_freeze rows: $(frow)"
ok "unfreeze restores writes, twice"

# Freeze and unfreeze again (a second round), now per domain.
"$CTL" freeze -c "$CFG" --domain crm >"$DIR/freeze3" 2>&1 || fail "freeze --domain crm"
[[ $(grep -c "state=frozen" "$DIR/freeze3") == 4 ]] || fail "freeze --domain crm: $(cat "$DIR/freeze3")"
app "DELETE FROM crm_contacts" >/dev/null && fail "write succeeded while the domain is frozen"
"$CTL" unfreeze -c "$CFG" --domain crm >/dev/null 2>&1 || fail "unfreeze --domain crm"
[[ -z $(app "UPDATE crm_contacts SET notes = notes WHERE rowid = 1") ]] || fail "write after domain unfreeze failed"
ok "freeze/unfreeze --domain crm (second round)"

rc=0; "$CTL" freeze -c "$CFG" 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "freeze without --source/--domain: exit $rc"
rc=0; "$CTL" freeze -c "$CFG" --source nosuch 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "freeze of an unknown source: exit $rc"
ok "usage errors exit 2"

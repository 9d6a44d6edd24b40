#!/usr/bin/env bash
# cdc-ctl freeze records and cutover (docs/operate.md) on the full stack (sink_e2e_lib.sh:
# fixtures, the example pipeline, producer, crm sink and validator running):
#  1. freeze twice / unfreeze twice: _cdc_freeze rows written once (first position kept) and
#     deleted; an application write fails while frozen and works after;
#  2. cutover with an injected mismatch (a target row altered behind the sink's back):
#     exit 1, ROLLED BACK naming the table and key, every source unfrozen, nothing marked,
#     no constraint added;
#  3. the row repaired through the source, the happy path: exit 0, the report (file and
#     stdout) with the seed figures on both sides, evidence backups, constraints present in
#     pg_constraint, the domain marked; a sink started afterwards refuses the domain; an
#     INSERT through PostgreSQL into an INTEGER-keyed table gets a fresh key; the sources
#     stay frozen with capture stopped; a restarted producer refuses the cut-over files;
#  4. the analytics domain's cutover reports the seeds' 3 orphan test_assignments rows (FK to
#     posts, another source of the domain) and keeps them.
# labels: integration quick
# timeout: 420
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"
CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
[[ -x $CTL ]] || fail "$CTL is not built"
DB=synapse_business_core
q() { cdc_psql $DB "$1"; }
qa() { cdc_psql synapse_analytics "$1"; }

help=$("$CTL" cutover --help)
for opt in --config --domain --timeout --report --evidence-dir --max-lag-seconds "Exit codes"; do
    grep -q -- "$opt" <<<"$help" || fail "cutover --help lacks $opt"
done
rc=0
"$CTL" cutover -c /nonexistent.yml 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "cutover without --domain exited $rc"

se_up
sed -i 's/^producer:.*$//' "$CFG"
printf 'producer: {heartbeat_ms: 300}\n' >>"$CFG"
E7=$DIR/data/epic7_sales_automation.db
se_producer_start
se_sink_start crm crm --batch-ms 100
PGAPPNAME=validator "$VALIDATOR" -c "$CFG" --domain crm --batch-ms 100 >>"$DIR/validator.log" 2>&1 &
VPID=$!
cdc_stack_on_down "kill $VPID 2>/dev/null; wait $VPID 2>/dev/null"
"$CTL" status -c "$CFG" --domain crm --until ready --timeout 90 >"$DIR/st.txt" 2>"$DIR/st.err" ||
    { cat "$DIR/st.txt"; fail "crm never READY"; }
for _ in $(seq 1 150); do
    [[ $(q "SELECT count(*) FROM generated_proposals" 2>/dev/null) == 58 &&
        $(q "SELECT count(*) FROM crm_contacts" 2>/dev/null) == 16 ]] && break
    sleep 0.2
done
ok "crm READY TO FREEZE, snapshot applied"

# ---- 1. freeze / unfreeze twice, with the target's _cdc_freeze ------------------------------
"$CTL" freeze -c "$CFG" --domain crm >"$DIR/f1.out"
pos1=$(q "SELECT string_agg(source || ':' || epoch || ':' || position, ',' ORDER BY source) FROM _cdc_freeze WHERE domain = 'crm'")
[[ $(q "SELECT count(*) FROM _cdc_freeze WHERE domain = 'crm'") == 4 ]] || fail "freeze rows: $pos1"
sqlite3 "$E7" "UPDATE crm_contacts SET notes = 'x' WHERE contact_id = 'ct-00000001'" 2>"$DIR/app.err" &&
    fail "an application write succeeded while frozen"
grep -q "frozen for cutover" "$DIR/app.err" || fail "write error: $(cat "$DIR/app.err")"
"$CTL" freeze -c "$CFG" --domain crm >"$DIR/f2.out"
grep -q "changed=0" "$DIR/f2.out" || fail "second freeze changed something: $(cat "$DIR/f2.out")"
[[ $(q "SELECT string_agg(source || ':' || epoch || ':' || position, ',' ORDER BY source) FROM _cdc_freeze WHERE domain = 'crm'") == "$pos1" ]] ||
    fail "the second freeze moved the recorded position"
"$CTL" unfreeze -c "$CFG" --domain crm >/dev/null
"$CTL" unfreeze -c "$CFG" --domain crm >/dev/null
[[ $(q "SELECT count(*) FROM _cdc_freeze WHERE domain = 'crm'") == 0 ]] || fail "unfreeze left _cdc_freeze rows"
sqlite3 "$E7" "UPDATE crm_contacts SET notes = notes WHERE contact_id = 'ct-00000001'" ||
    fail "an application write failed after unfreeze"
ok "freeze twice (4 rows, first position kept), unfreeze twice (rows gone, writes work)"

# ---- 2. injected mismatch: rolled back -----------------------------------------------------------
q "UPDATE crm_contacts SET notes = 'altered behind the sink' WHERE contact_id = 'ct-00000003'" >/dev/null
rc=0
"$CTL" cutover -c "$CFG" --domain crm --timeout 60 --evidence-dir "$DIR/ev-bad" \
    >"$DIR/bad.out" 2>"$DIR/bad.err" || rc=$?
[[ $rc == 1 ]] || { cat "$DIR/bad.out"; tail "$DIR/bad.err"; fail "cutover with a mismatch exited $rc"; }
grep -q "ROLLED BACK" "$DIR/bad.out" || fail "report: $(cat "$DIR/bad.out")"
grep -q "^reason: audit: epic7/crm_contacts -> crm_contacts differ.*ct-00000003" "$DIR/bad.out" ||
    fail "the mismatch is not named: $(grep reason "$DIR/bad.out")"
[[ $(q "SELECT count(*) FROM _cdc_freeze WHERE domain = 'crm'") == 0 ]] || fail "left frozen (target)"
[[ $(sqlite3 "$E7" "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_cdc\\_freeze%' ESCAPE '\\'") == 0 ]] ||
    fail "left frozen (file)"
[[ $(q "SELECT count(*) FROM _cdc_cutover") == 0 ]] || fail "marked although rolled back"
[[ $(q "SELECT count(*) FROM pg_constraint WHERE contype = 'f'") == 0 ]] || fail "constraints added on rollback"
[[ -f $DIR/ev-bad/epic7.db ]] || fail "no evidence taken before the audit"
ok "injected mismatch: exit 1, rolled back, named: $(grep '^reason' "$DIR/bad.out" | cut -c1-150)"

# ---- 3. repaired, happy path ------------------------------------------------------------------------
sqlite3 "$E7" "UPDATE crm_contacts SET notes = notes || '' WHERE contact_id = 'ct-00000003'"
for _ in $(seq 1 100); do
    [[ $(q "SELECT notes IS DISTINCT FROM 'altered behind the sink' FROM crm_contacts WHERE contact_id = 'ct-00000003'") == t ]] && break
    sleep 0.2
done
max_before=$(q "SELECT max(campaign_id) FROM ab_test_campaigns")
rc=0
"$CTL" cutover -c "$CFG" --domain crm --timeout 60 --evidence-dir "$DIR/ev" \
    >"$DIR/ok.out" 2>"$DIR/ok.err" || rc=$?
[[ $rc == 0 ]] || { cat "$DIR/ok.out"; tail "$DIR/ok.err"; fail "cutover exited $rc"; }
cat "$DIR/ok.out"
grep -q "cutover of domain crm: DONE" "$DIR/ok.out" || fail "not DONE"
cmp -s "$DIR/ok.out" "$DIR/ev/report.txt" || fail "the report file differs from stdout"
grep -q "check crm pipeline value: source 1158000.00  target 1158000.00  ok" "$DIR/ok.out" ||
    fail "pipeline value not in the report"
grep -A1 "epic7/crm_contacts -> crm_contacts: match" "$DIR/ok.out" | grep -q "rows    source 16  target 16" ||
    fail "crm_contacts rows not in the report"
grep -A1 "epic7/generated_proposals -> generated_proposals: match" "$DIR/ok.out" | grep -q "source 58  target 58" ||
    fail "generated_proposals rows not in the report"
grep -q "freeze duration:" "$DIR/ok.out" || fail "no freeze duration"
grep -q "lag history" "$DIR/ok.out" || fail "no lag history"
[[ $(sqlite3 "$DIR/ev/epic7.db" "SELECT count(*) FROM crm_contacts") == 16 ]] || fail "evidence backup"
[[ $(q "SELECT count(*) FROM _cdc_cutover WHERE domain = 'crm'") == 1 ]] || fail "not marked"
fks=$(q "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'generated_proposals'::regclass")
((fks >= 1)) || fail "no foreign key on generated_proposals"
[[ $(q "SELECT count(*) FROM pg_indexes WHERE tablename = 'ab_test_campaigns' AND indexdef LIKE 'CREATE UNIQUE%campaign_name%'") == 1 ]] ||
    fail "no UNIQUE (campaign_name)"
[[ $(q "SELECT count(*) FROM pg_indexes WHERE indexname = 'generated_proposals_idx_generated_proposals_contact'") == 1 ]] ||
    fail "no secondary index"
[[ $(q "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'crm_contacts'::regclass AND attname = 'email'") == t ]] ||
    fail "crm_contacts.email is not NOT NULL"
[[ $(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'crm_contacts'::regclass AND attname LIKE '\\_cdc\\_%'") == 0 ]] ||
    fail "_cdc_ columns left"
new_id=$(q "INSERT INTO ab_test_campaigns (campaign_name, variant_a, variant_b, metric, status, start_date, created_at)
            VALUES ('born in postgres', 'a', 'b', 'ctr', 'draft', current_date, now()) RETURNING campaign_id" | head -1)
((new_id > max_before)) || fail "INSERT got key $new_id, highest was $max_before"
ok "cut over: report with the seed figures, constraints in pg_constraint, fresh key $new_id > $max_before"

rc=0
timeout 30 "$SINK" -c "$CFG" --domain crm --once >"$DIR/late.out" 2>"$DIR/late.err" || rc=$?
[[ $rc == 1 ]] || { cat "$DIR/late.err"; fail "a sink started after the cutover exited $rc"; }
grep -q "domain crm was cut over" "$DIR/late.err" || fail "late sink: $(tail -3 "$DIR/late.err")"
sleep 1
kill -0 "${SE_PID[crm]}" 2>/dev/null && grep -q "cut over" "$DIR/sink-crm.log" ||
    echo "  (the running sink: $(grep -c 'cut over' "$DIR/sink-crm.log") cut-over message(s))"
sqlite3 "$E7" "INSERT INTO ab_test_campaigns (campaign_name, variant_a, variant_b, metric, status, start_date, created_at)
               VALUES ('late', 'a', 'b', 'c', 'd', '2026-01-01', '2026-01-01')" 2>"$DIR/app.err" &&
    fail "SQLite writable after the cutover"
[[ $(sqlite3 "$E7" "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\\_cdc\\_ins%' ESCAPE '\\'") == 0 ]] ||
    fail "capture triggers left"
ok "a sink started afterwards refuses the domain; SQLite frozen with capture stopped"

# ---- 4. analytics: the seeds' orphans are reported and kept -------------------------------------
se_sink_start analytics analytics --batch-ms 100
PGAPPNAME=validator-a "$VALIDATOR" -c "$CFG" --domain analytics --batch-ms 100 >>"$DIR/validator-a.log" 2>&1 &
VPID2=$!
cdc_stack_on_down "kill $VPID2 2>/dev/null; wait $VPID2 2>/dev/null"
rc=0
"$CTL" cutover -c "$CFG" --domain analytics --timeout 90 --evidence-dir "$DIR/ev-a" \
    --report "$DIR/analytics-report.txt" >"$DIR/a.out" 2>"$DIR/a.err" || rc=$?
[[ $rc == 0 ]] || { cat "$DIR/a.out"; tail "$DIR/a.err"; fail "analytics cutover exited $rc"; }
grep -q 'abt_test_assignments: foreign key .*("post_id") -> content_posts added NOT VALID: 3 ORPHAN row(s)' "$DIR/a.out" ||
    fail "the 3 orphans are not reported: $(grep -i 'test_assignments' "$DIR/a.out")"
[[ $(grep -c 'orphan abt_test_assignments {"assignment_id":[123],"post_id":"post-2025-' "$DIR/a.out") == 3 ]] ||
    fail "orphan keys not listed: $(grep orphan "$DIR/a.out")"
[[ $(qa "SELECT count(*) FROM abt_test_assignments") == 3 ]] || fail "orphan rows dropped"
[[ $(qa "SELECT convalidated FROM pg_constraint WHERE conrelid = 'abt_test_assignments'::regclass AND contype = 'f'
         AND pg_get_constraintdef(oid) LIKE '%content_posts%'") == f ]] || fail "the FK to posts is not NOT VALID"
cmp -s "$DIR/a.out" "$DIR/analytics-report.txt" || fail "--report file differs from stdout"
ok "analytics cut over: 3 orphan test_assignments rows reported (keys listed) and kept"
echo "PASS"

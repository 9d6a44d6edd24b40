#!/usr/bin/env bash
# Schema evolution end to end (docs/schema-registry.md "Evolution"), with the registry
# stand-in, the real producer (running), the workload and the sink:
#   1. the producer streams epic7 with schema_registry.url set while cdc-workload writes;
#   2. mid-stream, three columns are added to crm_contacts with ALTER TABLE ADD COLUMN:
#      nullable with a DEFAULT, nullable without one, and NOT NULL with a DEFAULT; rows
#      are then updated with values in them;
#   3. the producer's schema watch reinstalls capture and re-snapshots the table with a new
#      envelope version, which the registry accepts under BACKWARD (every non-key field is
#      ["null", T] with default null): two versions under the subject;
#   4. the sink adds the three columns to the target table (auto-evolve) and applies the
#      re-snapshot: old rows hold what SQLite reports for them (the DEFAULT, or NULL), the
#      updated ones their values; the audit of epic7 finds source and target equal.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

DB=synapse_business_core
q() { cdc_psql $DB "$1"; }
se_up

/usr/bin/python3 "$CDC_SOURCE_DIR/tests/registry_standin/registry_standin.py" \
    --port-file "$DIR/registry.port" >"$DIR/registry.out" 2>"$DIR/registry.err" &
REG_PID=$!
cdc_stack_on_down "kill $REG_PID 2>/dev/null; wait $REG_PID 2>/dev/null"
for _ in $(seq 1 100); do
    [[ -s $DIR/registry.port ]] && break
    sleep 0.05
done
[[ -s $DIR/registry.port ]] || { cat "$DIR/registry.err"; fail "the registry stand-in did not start"; }
REG=http://127.0.0.1:$(cat "$DIR/registry.port")
printf 'schema_registry:\n  url: %s\n' "$REG" >>"$CFG"

E7=$DIR/data/epic7_sales_automation.db
"$PRODUCER" -c "$CFG" --source epic7 2>>"$DIR/producer.log" &
SE_PID[producer]=$!
cdc_stack_on_down "kill ${SE_PID[producer]} 2>/dev/null; wait ${SE_PID[producer]} 2>/dev/null"
se_workload_start 8 40 11
sleep 3
sqlite3 -cmd ".timeout 5000" "$E7" "ALTER TABLE crm_contacts ADD COLUMN region TEXT DEFAULT 'emea';
    ALTER TABLE crm_contacts ADD COLUMN score INTEGER;
    ALTER TABLE crm_contacts ADD COLUMN rank_no INTEGER NOT NULL DEFAULT 3;"
sqlite3 -cmd ".timeout 5000" "$E7" "UPDATE crm_contacts SET score = 90, region = 'apac', rank_no = 1
    WHERE contact_id IN (SELECT contact_id FROM crm_contacts ORDER BY contact_id LIMIT 3)"
ok "3 columns added mid-stream, 3 rows updated with values in them"
se_workload_wait
sleep 2
se_producer_stop
grep -q "crm_contacts.*re-snapshotting" "$DIR/producer.log" ||
    fail "the schema watch did not re-snapshot crm_contacts: $(grep crm_contacts "$DIR/producer.log" | tail -3)"
versions=$(/usr/bin/python3 -c 'import json,sys,urllib.request; print(len(json.load(urllib.request.urlopen(sys.argv[1]))))' \
    "$REG/subjects/cdc.crm-cdc.epic7.crm_contacts_envelope/versions")
((versions >= 2)) || fail "the subject has $versions version(s), expected the new one too"
ok "the new envelope version was registered under BACKWARD ($versions versions)"

se_sink_once crm
grep -q "added column region" "$DIR/once-crm.log" || fail "the sink did not add column region"
cols=$(q "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name) FROM information_schema.columns
          WHERE table_name = 'crm_contacts' AND column_name IN ('region', 'score', 'rank_no')")
[[ $cols == "rank_no:bigint,region:text,score:bigint" ]] || fail "target columns: $cols"
want=$(sqlite3 "$E7" "SELECT group_concat(contact_id || '|' || coalesce(region, '') || '|' || coalesce(score, '') || '|' || rank_no, ',')
                      FROM (SELECT * FROM crm_contacts ORDER BY contact_id)")
have=$(q "SELECT string_agg(contact_id || '|' || coalesce(region, '') || '|' || coalesce(score::text, '') || '|' || rank_no, ',' ORDER BY contact_id)
          FROM crm_contacts")
[[ $want == "$have" ]] || fail "new columns differ: source $want; target $have"
[[ $(q "SELECT count(*) FROM crm_contacts WHERE region = 'emea' AND score IS NULL AND rank_no = 3") -gt 0 ]] ||
    fail "no old row holds the DEFAULT / NULL"
ok "the target has the new columns with SQLite's values (defaults and NULL for old rows)"
"$VALIDATOR" -c "$CFG" --audit --json --domain crm --source epic7 >"$DIR/audit.json" 2>"$DIR/audit.err" ||
    { tail -5 "$DIR/audit.err"; fail "cdc-validator --audit exited non-zero"; }
"$PY" "$SE_CHECK" audit "$DIR/audit.json" || fail "audit: target differs from source"
ok "audit of epic7 clean after the evolution"

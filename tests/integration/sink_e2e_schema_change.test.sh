#!/usr/bin/env bash
# A dropped column and a changed column type (docs/schema-registry.md "Evolution"), the
# real producer and sink without a registry:
#   a. epic7.crm_contacts drops column notes (ALTER TABLE DROP COLUMN): the sink logs a
#      warning naming the target table, the source table and the column; rows keep flowing
#      (an update and an insert arrive), the target keeps the column and its values (the
#      new row gets NULL there), no dead letter, nothing deleted, the audit is clean;
#   b. epic7.roi_templates is rebuilt with base_cost REAL instead of DECIMAL(10,2) and one
#      value gets a third decimal (numeric(10,2) would round it): every record of the new
#      schema, and the snapshot end marker, is a dead letter naming the column, the target
#      type and the new one; no target row changes. The operator alters the target column
#      to double precision and re-drives: the rows arrive exactly, the audit is clean.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

se_up_epic7_crm
# The target rows of a table as text, without the sink's _cdc_ columns.
image() {
    q "SELECT string_agg(r::text, E'\n' ORDER BY r::text) FROM (SELECT to_jsonb(t) - '_cdc_synced_at'
       - '_cdc_pos' - '_cdc_epoch' - '_cdc_source' AS r FROM $1 t) s"
}

se_producer_once --source epic7
se_sink_once crm
rows0=$(q "SELECT count(*) FROM crm_contacts")
notes0=$(q "SELECT count(*) FROM crm_contacts WHERE notes IS NOT NULL")
((rows0 > 0 && notes0 > 0)) || fail "baseline: $rows0 contacts, $notes0 with notes"
[[ -z $(open_list) ]] || fail "dead letters before the changes: $(open_list)"
ok "baseline: $rows0 contacts ($notes0 with notes) applied"

# ---- a. dropped column ----------------------------------------------------------------
app "ALTER TABLE crm_contacts DROP COLUMN notes;
     UPDATE crm_contacts SET title = 'Chief Dropping Officer' WHERE contact_id = (SELECT min(contact_id) FROM crm_contacts);
     INSERT INTO crm_contacts SELECT 'ct-dropped-1', first_name, last_name, 'x@example.com', phone, company,
         'Newcomer', industry, company_size, linkedin_url, lead_source, priority_tier, lead_score,
         qualification_status, is_decision_maker, estimated_value, tags, last_contact_date,
         created_at, updated_at FROM crm_contacts WHERE contact_id = (SELECT min(contact_id) FROM crm_contacts)"
se_producer_once --source epic7
se_sink_once crm
# (the log quotes the message: " is \")
grep -q 'target table crm_contacts (source epic7 table crm_contacts): the record.s schema lacks column(s) ..notes.. .*dropped or renamed.*keeps them' \
    "$DIR/once-crm.log" || fail "no warning naming the dropped column: $(grep -i notes "$DIR/once-crm.log" | tail -2)"
(($(grep -c 'lacks column(s) ..notes' "$DIR/once-crm.log") == 1)) || fail "the warning is not logged once"
[[ $(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'crm_contacts' AND column_name = 'notes'") == 1 ]] ||
    fail "the target lost column notes"
[[ $(q "SELECT count(*) FROM crm_contacts") == $((rows0 + 1)) ]] || fail "target rows: expected $((rows0 + 1))"
[[ $(q "SELECT count(*) FROM crm_contacts WHERE notes IS NOT NULL") == "$notes0" ]] ||
    fail "notes values changed: $(q "SELECT count(*) FROM crm_contacts WHERE notes IS NOT NULL") of $notes0 left"
[[ $(q "SELECT notes IS NULL FROM crm_contacts WHERE contact_id = 'ct-dropped-1'") == t ]] || fail "the new row has notes"
[[ $(q "SELECT count(*) FROM crm_contacts WHERE title = 'Chief Dropping Officer'") == 1 ]] || fail "the update did not arrive"
[[ $(q "SELECT source_columns ? 'notes' FROM _cdc_tables WHERE target_table = 'crm_contacts'") == t ]] ||
    fail "the column history lost notes"
[[ -z $(open_list) ]] || fail "dead letters after the drop: $(open_list)"
se_audit --domain crm --source epic7
ok "dropped column: warned once, the target keeps notes ($notes0 values), update and insert arrived, audit clean"

# ---- b. changed type: DECIMAL(10,2) -> REAL ---------------------------------------------
before=$(image roi_templates)
nroi=$(app "SELECT count(*) FROM roi_templates")
[[ $(q "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'roi_templates'::regclass AND attname = 'base_cost'") == "numeric(10,2)" ]] ||
    fail "roi_templates.base_cost is not numeric(10,2) in the target"
create=$(app "SELECT sql FROM sqlite_master WHERE name = 'roi_templates'")
grep -q 'base_cost DECIMAL(10,2)' <<<"$create" || fail "unexpected source table: $create"
create=${create/base_cost DECIMAL(10,2)/base_cost REAL}
create=${create/CREATE TABLE roi_templates/CREATE TABLE roi_templates_new}
app "BEGIN; $create; INSERT INTO roi_templates_new SELECT * FROM roi_templates; DROP TABLE roi_templates;
     ALTER TABLE roi_templates_new RENAME TO roi_templates;
     UPDATE roi_templates SET base_cost = 1234.567 WHERE template_id = (SELECT min(template_id) FROM roi_templates); COMMIT"
se_producer_once --source epic7
(($(grep -c "snapshot of roi_templates done" "$DIR/producer.log") >= 2)) || fail "the producer did not re-snapshot roi_templates"
se_sink_once crm
[[ $(image roi_templates) == "$before" ]] || fail "target rows of roi_templates changed although the schema was refused"
open_list >"$DIR/open1"
reason='target table roi_templates (source epic7 table roi_templates): the record'"'"'s schema changed the type of column(s) "base_cost" to double precision (was numeric(10,2)) and the target column is numeric(10,2): the cast rounds'
fix='(ALTER TABLE "roi_templates" ALTER COLUMN "base_cost" TYPE double precision), then cdc-ctl dlq redrive'
keys=$({ grep -v "snapshot end marker" "$DIR/open1" || true; } | { grep -F "$reason" || true; } |
    { grep -F "$fix" || true; } | cut -f8 | sort -u | wc -l)
[[ $keys == "$nroi" ]] || { cat "$DIR/open1"; fail "expected a dead letter for each of the $nroi rows, got $keys keys"; }
grep "snapshot end marker" "$DIR/open1" | grep -F "$reason" | grep -qF "resolve this with cdc-ctl dlq resolve" ||
    fail "the snapshot end marker was not refused"
[[ $(grep -vcF "$reason" "$DIR/open1") == 0 ]] || fail "other dead letters: $(grep -vF "$reason" "$DIR/open1")"
grep -q 'level=warn .*target table roi_templates .*changed the type of column(s) ..base_cost.. to double precision' "$DIR/once-crm.log" ||
    fail "the refusal is not in the sink's log"
ok "changed type: $keys rows and the marker dead-lettered naming base_cost, numeric(10,2) and double precision; no target row changed"

q "ALTER TABLE roi_templates ALTER COLUMN base_cost TYPE double precision" >/dev/null
n=0
while IFS=$'\t' read -r id state rest; do
    if grep -q "snapshot end marker" <<<"$rest"; then
        dlq resolve --no-import --id "$id" >/dev/null || fail "resolve $id"
    else
        dlq redrive --no-import --id "$id" >>"$DIR/redrive.out" || { tail -3 "$DIR/ctl.err"; fail "redrive $id"; }
        n=$((n + 1))
    fi
done < <(open_list)
((n == nroi)) || fail "re-drove $n dead letters, expected $nroi"
se_producer_once --source epic7
se_sink_once crm
[[ -z $(open_list) ]] || fail "dead letters still open after the re-drive: $(open_list)"
want=$(app "SELECT group_concat(template_id || '|' || printf('%.3f', base_cost), ',') FROM (SELECT * FROM roi_templates ORDER BY template_id)")
have=$(q "SELECT string_agg(template_id || '|' || round(base_cost::numeric, 3), ',' ORDER BY template_id) FROM roi_templates")
[[ $want == "$have" ]] || fail "base_cost differs after the re-drive: source $want; target $have"
[[ $(q "SELECT count(*) FROM roi_templates WHERE base_cost = 1234.567::float8") == 1 ]] ||
    fail "1234.567 did not arrive exactly: $have"
grep -q 'column ..base_cost.. changed type from numeric(10,2) to double precision; the target.s double precision takes it' "$DIR/once-crm.log" ||
    fail "the sink did not log taking the changed type"
se_audit --domain crm --source epic7
ok "target column altered by hand + $n re-drives: base_cost exact (1234.567), no dead letter open, audit clean"

#!/usr/bin/env bash
# A pre-created target table whose primary key is not the source key (docs/config.md,
# target_unique_keys): crm_contacts with `id uuid PRIMARY KEY DEFAULT gen_random_uuid()`
# and the source key contact_id as a named UNIQUE constraint.
#  1. without target_unique_keys the sink refuses the table, naming the table, its primary
#     key, the source key and the config key to set (exit 1);
#  2. with `target_unique_keys: {crm_contacts: crm_contacts_contact_key}` the 16 contacts
#     arrive, each with a uuid from the default, and the _cdc_ columns are added;
#  3. an update keeps the row's uuid, a delete removes the row, an insert gets a new uuid;
#  4. a replay (stored offsets back to 0) changes nothing, not even _cdc_synced_at;
#  5. a name that is not a unique key over contact_id is refused, naming what it covers.
# labels: integration quick
# timeout: 240
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

DB=synapse_business_core
q() { cdc_psql $DB "$1"; }
se_up
E7=$DIR/data/epic7_sales_automation.db
q "CREATE TABLE crm_contacts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     contact_id text NOT NULL CONSTRAINT crm_contacts_contact_key UNIQUE,
     first_name varchar(40), estimated_value numeric(14, 2),
     other_key text CONSTRAINT crm_contacts_other_key UNIQUE)" >/dev/null
se_producer_once

# ---- 1. refused without the config key ------------------------------------------------
rc=0
timeout -k 5 120 "$SINK" -c "$CFG" --domain crm --once 2>"$DIR/refused.log" || rc=$?
[[ $rc == 1 ]] || { tail -5 "$DIR/refused.log"; fail "the sink exited $rc, expected 1"; }
grep -q "pre-created target table crm_contacts (source epic7 table crm_contacts): its primary key is (id), the source key is (contact_id); set target_unique_keys: {crm_contacts: <name>} of source epic7" "$DIR/refused.log" ||
    fail "refusal message: $(grep -i crm_contacts "$DIR/refused.log" | head -3)"
[[ $(q "SELECT count(*) FROM crm_contacts") == 0 ]] || fail "rows were written to the refused table"
ok "refused without target_unique_keys: $(grep -o 'pre-created target table crm_contacts.*' "$DIR/refused.log" | head -1)"

# ---- 5 (first, before any row): a unique key over another column ------------------------
set_key() {
    sed -i "s#^\(  - {name: epic7, domain: crm\)\(, target_unique_keys: {[^}]*}\)\?#\1, target_unique_keys: {crm_contacts: $1}#" "$CFG"
    grep -q "name: epic7, domain: crm, target_unique_keys: {crm_contacts: $1}" "$CFG" || fail "could not set target_unique_keys in $CFG"
}
set_key crm_contacts_other_key
rc=0
timeout -k 5 120 "$SINK" -c "$CFG" --domain crm --once 2>"$DIR/refused2.log" || rc=$?
[[ $rc == 1 ]] || fail "the sink exited $rc with a unique key over another column, expected 1"
grep -q "target_unique_keys of source epic7 names crm_contacts_other_key, which covers (other_key), not the source key" "$DIR/refused2.log" ||
    fail "refusal message: $(grep -i crm_contacts "$DIR/refused2.log" | head -3)"
ok "a unique key over another column is refused, naming what it covers"

# ---- 2. accepted with the config key --------------------------------------------------
set_key crm_contacts_contact_key
q "DELETE FROM _cdc_offsets" >/dev/null
se_sink_once crm
[[ $(q "SELECT count(*) FROM crm_contacts") == 16 ]] || fail "crm_contacts holds $(q "SELECT count(*) FROM crm_contacts") rows, expected 16"
[[ $(q "SELECT count(DISTINCT id) FROM crm_contacts WHERE id IS NOT NULL") == 16 ]] || fail "the uuids were not filled by the default"
[[ $(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'crm_contacts'
        AND column_name IN ('_cdc_source', '_cdc_epoch', '_cdc_pos', '_cdc_synced_at', 'last_name', 'lead_score')") == 6 ]] ||
    fail "the sink did not add the missing source columns and its _cdc_ columns"
[[ $(q "SELECT data_type FROM information_schema.columns WHERE table_name = 'crm_contacts' AND column_name = 'id'") == uuid ]] ||
    fail "the pre-created table was replaced"
want=$(sqlite3 "$E7" "SELECT printf('%.2f', SUM(estimated_value)) FROM crm_contacts")
got=$(q "SELECT to_char(SUM(estimated_value), 'FM999999999990.00') FROM crm_contacts")
[[ $got == "$want" ]] || fail "estimated_value: PostgreSQL $got, SQLite $want"
se_counts --domain crm
ok "16 contacts upserted on the unique constraint, uuids from the default, sum $got"

# ---- 3. update keeps the uuid, delete removes, insert gets a new uuid --------------------
uuid3=$(q "SELECT id FROM crm_contacts WHERE contact_id = 'ct-00000003'")
pos3=$(q "SELECT _cdc_pos FROM crm_contacts WHERE contact_id = 'ct-00000003'")
sqlite3 "$E7" "UPDATE crm_contacts SET first_name = 'Renamed', estimated_value = 4321.25
                 WHERE contact_id = 'ct-00000003';
               DELETE FROM crm_contacts WHERE contact_id = 'ct-00000005';"
# A new contact: a copy of ct-00000007 under a new key and email (the source's UNIQUE).
cols=$(sqlite3 "$E7" "SELECT group_concat(name, ', ') FROM pragma_table_info('crm_contacts') WHERE name NOT IN ('contact_id', 'email')")
sqlite3 "$E7" "INSERT INTO crm_contacts (contact_id, email, $cols)
               SELECT 'ct-99999999', 'new.' || email, $cols FROM crm_contacts WHERE contact_id = 'ct-00000007'"
se_producer_once
se_sink_once crm
[[ $(q "SELECT id || ' ' || first_name || ' ' || estimated_value FROM crm_contacts WHERE contact_id = 'ct-00000003'") == "$uuid3 Renamed 4321.25" ]] ||
    fail "ct-00000003 after the update: $(q "SELECT id, first_name, estimated_value FROM crm_contacts WHERE contact_id = 'ct-00000003'") (uuid was $uuid3)"
(($(q "SELECT _cdc_pos FROM crm_contacts WHERE contact_id = 'ct-00000003'") > pos3)) || fail "the update did not move _cdc_pos"
[[ $(q "SELECT count(*) FROM crm_contacts WHERE contact_id = 'ct-00000005'") == 0 ]] || fail "the deleted contact is still in the target"
[[ $(q "SELECT count(*) FROM crm_contacts WHERE contact_id = 'ct-99999999' AND id IS NOT NULL") == 1 ]] || fail "the new contact did not arrive"
[[ $(q "SELECT count(*) FROM crm_contacts") == 16 ]] || fail "crm_contacts holds $(q "SELECT count(*) FROM crm_contacts") rows, expected 16"
[[ $(q "SELECT count(*) FROM _cdc_dead_letters") == 0 ]] || fail "dead letters: $(q "SELECT reason FROM _cdc_dead_letters")"
se_counts --domain crm
ok "update kept uuid $uuid3, delete removed ct-00000005, insert ct-99999999 got a new uuid"

# ---- 4. replay changes nothing --------------------------------------------------------
snap() { q "SELECT md5(string_agg(t::text, '|' ORDER BY contact_id)) FROM crm_contacts t"; }
before=$(snap)
q "UPDATE _cdc_offsets SET next_offset = 0" >/dev/null
se_sink_once crm
[[ $(snap) == "$before" ]] || fail "the replay changed the target"
grep "rows applied" "$DIR/once-crm.log" | tail -1 | grep -q "0 rows applied" ||
    fail "the replay applied rows: $(grep "rows applied" "$DIR/once-crm.log" | tail -1)"
[[ $(q "SELECT count(*) FROM _cdc_tombstones WHERE target_table = 'crm_contacts'") == 1 ]] ||
    fail "tombstones: $(q "SELECT count(*) FROM _cdc_tombstones WHERE target_table = 'crm_contacts'")"
ok "a replay from offset 0 left every row (uuid, values, _cdc_ columns) unchanged"

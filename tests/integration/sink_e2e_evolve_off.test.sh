#!/usr/bin/env bash
# Auto-evolve switched off (docs/schema-registry.md "Evolution"), the real producer and
# sink without a registry:
#   1. domains[].auto_evolve: false for crm; a column is added to epic7.crm_contacts and the
#      producer re-snapshots the table with the new schema;
#   2. the sink does NOT add the column: every record of the new schema is a dead letter
#      whose reason names the table, the missing column and auto-evolve being off; the
#      snapshot end marker is refused too, so no target row is deleted (count unchanged);
#   3. the operator adds the column by hand (ALTER TABLE), re-drives the dead letters
#      (`cdc-ctl dlq redrive`) and resolves the keyless marker ones: the rows arrive with the
#      new column's values, no dead letter stays open, the audit of epic7 is clean;
#   4. `cdc-sink --no-auto-evolve` (config back to true) refuses a second new column the same
#      way; re-driven with auto-evolve on, the sink adds the column and the audit is clean.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

se_up_epic7_crm
target_has() { q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'crm_contacts' AND column_name = '$1'"; }
# redrive_all: every open dead letter with a key is re-driven, the keyless ones (refused
# snapshot end markers) resolved by hand, as the reason tells the operator (the list
# imported the topic once; each action then skips that import).
redrive_all() {
    local id state rest n=0 m=0
    while IFS=$'\t' read -r id state rest; do
        if grep -q "snapshot end marker" <<<"$rest"; then
            dlq resolve --no-import --id "$id" >/dev/null || fail "resolve $id"
            m=$((m + 1))
        else
            dlq redrive --no-import --id "$id" >>"$DIR/redrive.out" || { tail -3 "$DIR/ctl.err"; fail "redrive $id"; }
            n=$((n + 1))
        fi
    done < <(open_list)
    ((n > 0)) || fail "nothing to re-drive"
    echo "re-drove $n dead letter(s), resolved $m marker dead letter(s)"
}

"$SINK" --help | grep -q -- "--no-auto-evolve" || fail "cdc-sink --help does not document --no-auto-evolve"
sed -i 's/^  - name: crm$/&\n    auto_evolve: false/' "$CFG"
grep -A1 "^  - name: crm$" "$CFG" | grep -q "auto_evolve: false" || fail "could not set auto_evolve in $CFG"

se_producer_once --source epic7
se_sink_once crm
rows0=$(q "SELECT count(*) FROM crm_contacts")
((rows0 > 0)) || fail "crm_contacts not applied before the evolution"
[[ -z $(open_list) ]] || fail "dead letters before the evolution: $(open_list)"
ok "baseline: $rows0 rows of epic7.crm_contacts applied"

# 1-2: a new column, auto-evolve off.
app "ALTER TABLE crm_contacts ADD COLUMN region TEXT DEFAULT 'emea';
     UPDATE crm_contacts SET region = 'apac' WHERE contact_id = (SELECT min(contact_id) FROM crm_contacts)"
se_producer_once --source epic7
(($(grep -c "snapshot of crm_contacts done" "$DIR/producer.log") >= 2)) || fail "the producer did not re-snapshot crm_contacts"
se_sink_once crm
[[ $(target_has region) == 0 ]] || fail "the sink added column region although auto-evolve is off"
[[ $(q "SELECT count(*) FROM crm_contacts") == "$rows0" ]] || fail "target rows changed: the refused snapshot deleted rows"
grep -q 'lacks column(s) .*region.* text .*auto-evolve is off for domain crm' "$DIR/once-crm.log" ||
    fail "the sink did not log the refusal: $(grep -i region "$DIR/once-crm.log" | tail -2)"
open_list >"$DIR/open1"
# Every row (the re-snapshot; the updated one also by its change) is refused: one key each.
rows_dead=$(grep -v "snapshot end marker" "$DIR/open1" | grep 'crm_contacts.*lacks column(s) "region" text.*auto-evolve is off' |
    cut -f8 | sort -u | wc -l)
[[ $rows_dead == "$(app "SELECT count(*) FROM crm_contacts")" ]] ||
    { cat "$DIR/open1"; fail "expected a dead letter for every row of crm_contacts, got $rows_dead keys"; }
grep -q "snapshot end marker" "$DIR/open1" || fail "the snapshot end marker was applied (no marker dead letter)"
ok "auto-evolve off: column not added, $rows_dead rows dead-lettered naming the column, marker refused, no row deleted"

# 3: the operator adds the column, re-drives; nothing lost.
q "ALTER TABLE crm_contacts ADD COLUMN region text" >/dev/null
redrive_all
se_producer_once --source epic7
se_sink_once crm
[[ -z $(open_list) ]] || fail "dead letters still open after the re-drive: $(open_list)"
want=$(app "SELECT group_concat(contact_id || '|' || coalesce(region, ''), ',') FROM (SELECT * FROM crm_contacts ORDER BY contact_id)")
have=$(q "SELECT string_agg(contact_id || '|' || coalesce(region, ''), ',' ORDER BY contact_id) FROM crm_contacts")
[[ $want == "$have" ]] || fail "region differs after the re-drive: source $want; target $have"
se_audit --domain crm --source epic7
ok "column added by hand + redrive: every row arrived with its region, no dead letter open, audit clean"

# 4: --no-auto-evolve overrides auto_evolve: true; re-driven with auto-evolve on.
sed -i '/^    auto_evolve: false$/d' "$CFG"
app "ALTER TABLE crm_contacts ADD COLUMN score INTEGER;
     UPDATE crm_contacts SET score = 7 WHERE contact_id = (SELECT max(contact_id) FROM crm_contacts)"
se_producer_once --source epic7
se_sink_once crm --no-auto-evolve
[[ $(target_has score) == 0 ]] || fail "--no-auto-evolve: the sink added column score"
open_list >"$DIR/open2"
grep -q 'lacks column(s) "score" bigint.*auto-evolve is off' "$DIR/open2" || fail "--no-auto-evolve: no dead letter naming score"
redrive_all
se_producer_once --source epic7
se_sink_once crm
[[ $(target_has score) == 1 ]] || fail "auto-evolve on: the sink did not add column score"
[[ -z $(open_list) ]] || fail "dead letters still open: $(open_list)"
[[ $(q "SELECT count(*) FROM crm_contacts WHERE score = 7") == 1 ]] || fail "the updated score did not arrive"
se_audit --domain crm --source epic7
ok "--no-auto-evolve refused column score; re-driven with auto-evolve on, the sink added it; audit clean"

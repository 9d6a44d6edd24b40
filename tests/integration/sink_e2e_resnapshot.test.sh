#!/usr/bin/env bash
# Re-snapshot after rows were deleted behind capture's back (DESIGN.md invariant 5, end
# markers): after a full apply of the crm domain,
#  1. epic7.crm_contacts: its capture triggers are dropped with sqlite3 and 3 contacts
#     deleted (capture sees nothing); the next producer run reinstalls the triggers and
#     re-snapshots the table (schema check), ending with markers on every partition;
#  2. linkedin_bd.consultation_inquiries: same, 2 rows, but the way out is an operator's
#     `cdc-producer --new-epoch linkedin_bd` (a new epoch: every table re-snapshotted);
#  3. once the sink applied the markers on all 6 partitions, the deleted rows are gone
#     from the target (and only they: the other rows are at the new snapshot's
#     positions), the money figure follows ($1,158,000.00 minus the 3 contacts), and the
#     target equals the source (audit, counts).
# labels: integration quick
# timeout: 240
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

DB=synapse_business_core
q() { cdc_psql $DB "$1"; }
se_up
se_producer_once
se_sink_once crm
[[ $(q "SELECT count(*) FROM crm_contacts") == 16 ]] || fail "crm_contacts not applied"
[[ $(q "SELECT count(*) FROM consultation_inquiries") == 15 ]] || fail "consultation_inquiries not applied"
ok "crm applied: 16 contacts, 15 inquiries"

# delete_behind DB_FILE TABLE WHERE: drops the table's capture triggers, deletes rows.
delete_behind() {
    local trg
    trg=$(sqlite3 "$1" "SELECT group_concat('DROP TRIGGER \"' || name || '\";', ' ') FROM sqlite_master
                        WHERE type = 'trigger' AND tbl_name = '$2' AND name LIKE '\\_cdc\\_%' ESCAPE '\\'")
    [[ -n $trg ]] || fail "$2 in $1 has no capture triggers"
    sqlite3 "$1" "BEGIN; $trg DELETE FROM $2 WHERE $3; COMMIT;"
    [[ $(sqlite3 "$1" "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '$2'") == 0 ]] ||
        fail "$2: triggers left"
}
E7=$DIR/data/epic7_sales_automation.db
LI=$DIR/data/linkedin_business_development.db
remaining_value=$(sqlite3 "$E7" "SELECT printf('%.2f', 1158000 - SUM(estimated_value)) FROM crm_contacts
                            WHERE contact_id IN ('ct-00000002', 'ct-00000005', 'ct-00000011')")
delete_behind "$E7" crm_contacts "contact_id IN ('ct-00000002', 'ct-00000005', 'ct-00000011')"
gone_inq=$(sqlite3 "$LI" "SELECT group_concat(quote(inquiry_id)) FROM (SELECT inquiry_id FROM consultation_inquiries ORDER BY 1 LIMIT 2)") ||
    gone_inq=''
[[ -n $gone_inq ]] || fail "consultation_inquiries has no inquiry_id column: $(sqlite3 "$LI" ".schema consultation_inquiries" | head -3)"
delete_behind "$LI" consultation_inquiries "inquiry_id IN ($gone_inq)"
[[ $(sqlite3 "$E7" "SELECT count(*) FROM _cdc_changes WHERE tbl = 'crm_contacts' AND op = 'd'") == 0 ]] ||
    fail "capture saw the deletes"
ok "3 contacts and 2 inquiries deleted with the triggers dropped: capture saw nothing"

se_producer_once
se_producer_once --new-epoch linkedin_bd
grep -q "crm_contacts" <(grep -i "reinstall\|snapshot" "$DIR/producer.log") ||
    fail "the producer did not re-snapshot crm_contacts: $(tail -5 "$DIR/producer.log")"
se_sink_once crm

marks=$(q "SELECT count(DISTINCT kpartition) FROM _cdc_snapshot_marks WHERE source = 'epic7'
           AND source_table = 'crm_contacts' AND (epoch, h0) = (SELECT epoch, h0 FROM _cdc_snapshot_marks
           WHERE source = 'epic7' AND source_table = 'crm_contacts' ORDER BY epoch DESC, h0 DESC LIMIT 1)")
[[ $marks == 6 ]] || fail "the re-snapshot's end marker reached $marks of 6 partitions"
[[ $(q "SELECT count(*) FROM crm_contacts WHERE contact_id IN ('ct-00000002', 'ct-00000005', 'ct-00000011')") == 0 ]] ||
    fail "the contacts deleted behind capture's back are still in the target"
[[ $(q "SELECT count(*) FROM crm_contacts") == 13 ]] || fail "crm_contacts: $(q "SELECT count(*) FROM crm_contacts") rows"
[[ $(q "SELECT to_char(SUM(estimated_value), 'FM999999999990.00') FROM crm_contacts") == "$remaining_value" ]] ||
    fail "crm_contacts value $(q "SELECT SUM(estimated_value) FROM crm_contacts"), expected $remaining_value"
[[ $(q "SELECT count(*) FROM consultation_inquiries WHERE inquiry_id IN ($gone_inq)") == 0 ]] ||
    fail "the inquiries deleted behind capture's back are still in the target"
[[ $(q "SELECT count(*) FROM consultation_inquiries") == 13 ]] || fail "consultation_inquiries: wrong count"
q "SELECT source, source_table, epoch, h0, target_table, deleted_rows FROM _cdc_snapshot_done
   WHERE deleted_rows > 0 ORDER BY 1, 2" | sed 's/^/snapshot done: /'
[[ $(q "SELECT sum(deleted_rows) FROM _cdc_snapshot_done WHERE source IN ('epic7', 'linkedin_bd')") == 5 ]] ||
    fail "the end markers deleted $(q "SELECT sum(deleted_rows) FROM _cdc_snapshot_done") rows, expected 5"
ok "after the markers on all 6 partitions the 5 rows are gone (crm value now $remaining_value)"
se_counts --domain crm
se_audit --domain crm

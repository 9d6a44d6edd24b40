#!/usr/bin/env bash
# cdc-ctl dlq: a value that does not fit its column (text in crm_contacts.lead_score, an
# INTEGER column) becomes a producer dead letter; `dlq list` imports and lists it; fixing
# the source row (UPDATE to a valid value) resolves it automatically once the producer and
# the sink ran; redrive re-reads the key's current row (a new change-log entry, a newer
# position applied to the target, or a new dead letter while the row still misfits);
# resolve marks one resolved by hand.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"
CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
CORE=synapse_business_core

se_up
DB=$DIR/data/epic7_sales_automation.db
app() { sqlite3 -cmd ".timeout 1000" "$DB" "$1"; }
run() { se_producer_once; se_sink_once crm; }
dlq() { "$CTL" dlq "$@" -c "$CFG" --domain crm 2>>"$DIR/ctl.err"; }
open_count() { dlq list | tail -n +2 | grep -c . || true; }
run
[[ $(open_count) == 0 ]] || fail "dead letters before any misfit"

read -r c1 c2 <<<"$(app "SELECT group_concat(contact_id, ' ') FROM (SELECT contact_id FROM crm_contacts ORDER BY contact_id LIMIT 2)")"
app "UPDATE crm_contacts SET lead_score = 'not a number' WHERE contact_id = '$c1'"
run
dlq list >"$DIR/list1"
cat "$DIR/list1"
[[ $(tail -n +2 "$DIR/list1" | wc -l) == 1 ]] || fail "expected one open dead letter"
grep -P "\topen\t.*\tepic7\tcrm_contacts\t" "$DIR/list1" | grep -q "lead_score" ||
    fail "the dead letter does not name source, table and column"
grep -q "$c1" "$DIR/list1" || fail "the dead letter does not name the key $c1"
id1=$(tail -n +2 "$DIR/list1" | cut -f1)
dlq list >/dev/null
[[ $(dlq list --all | tail -n +2 | wc -l) == 1 ]] || fail "a second list imported the dead letter again"
ok "misfit -> dead letter $id1 listed with its reason"

app "UPDATE crm_contacts SET lead_score = 42 WHERE contact_id = '$c1'"
run
[[ $(open_count) == 0 ]] || { dlq list --all; fail "dead letter $id1 not resolved after the fix"; }
dlq list --all | grep -P "^$id1\tresolved " >/dev/null || fail "dead letter $id1 not listed as resolved"
[[ $(cdc_psql $CORE "SELECT lead_score FROM crm_contacts WHERE contact_id = '$c1'") == 42 ]] || fail "fixed row not applied"
ok "fixed at the source -> resolved automatically"

# Redrive of a resolved one: re-reads the current row (a newer position reaches the target).
pos0=$(cdc_psql $CORE "SELECT _cdc_pos FROM crm_contacts WHERE contact_id = '$c1'")
dlq redrive --id "$id1" >"$DIR/redrive1" || { cat "$DIR/ctl.err"; fail "redrive $id1"; }
cat "$DIR/redrive1"
grep -q "source=epic7 table=crm_contacts key={\"contact_id\":\"$c1\"} row=present logged_seq=" "$DIR/redrive1" || fail "redrive output"
seq=$(grep -o "logged_seq=[0-9]*" "$DIR/redrive1" | cut -d= -f2)
run
pos1=$(cdc_psql $CORE "SELECT _cdc_pos FROM crm_contacts WHERE contact_id = '$c1'")
((pos1 > pos0 && pos1 >= seq)) || fail "redrive did not re-send the row (position $pos0 -> $pos1, logged $seq)"
ok "redrive re-read the current row: position $pos0 -> $pos1"

# Redrive while the row still misfits: the current row is re-read and dead-lettered again.
app "UPDATE crm_contacts SET lead_score = 'still bad' WHERE contact_id = '$c2'"
run
id2=$(dlq list | tail -n +2 | cut -f1)
[[ -n $id2 ]] || fail "second misfit not listed"
dlq redrive --id "$id2" >/dev/null || fail "redrive $id2"
run
dlq list >"$DIR/list3"
[[ $(tail -n +2 "$DIR/list3" | wc -l) == 2 ]] || { cat "$DIR/list3"; fail "redrive of a still-misfit row did not dead-letter the re-read row"; }
[[ $(tail -n +2 "$DIR/list3" | cut -f6 | sort -u | wc -l) == 2 ]] || fail "the re-read has no newer position"
grep -q "still bad" "$DIR/list3" || fail "the re-read row's value is not in the reason"
ok "redrive of a still-misfit row: re-read, a new dead letter at a newer position"

dlq resolve --all >"$DIR/resolve" || fail "resolve --all"
grep -qx "resolved=2" "$DIR/resolve" || fail "resolve --all: $(cat "$DIR/resolve")"
[[ $(open_count) == 0 ]] || fail "open after resolve --all"
rc=0; dlq resolve --id "$id2" >/dev/null || rc=$?
[[ $rc == 1 ]] || fail "resolving a resolved dead letter: exit $rc"
rc=0; dlq redrive >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "redrive without --id: exit $rc"
ok "resolve by hand; usage errors"

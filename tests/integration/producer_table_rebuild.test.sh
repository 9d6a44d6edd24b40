#!/usr/bin/env bash
# A table rebuilt under a running producer (create new, copy, drop old, rename — what ORMs
# and SQLite's ALTER workaround do, which drops the capture triggers), with a row deleted
# during the rebuild (never logged) and changes after it: capture is reinstalled, the
# table re-snapshotted, its next changes arrive, and the deleted row is gone in the state
# rebuilt from the topic (the re-snapshot's end marker: rows older than its H0 not sent
# again are deleted).
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"

producer_setup_stack
dir=$CDC_TEST_TMPDIR
producer_fixtures "$dir/data"
db=$dir/data/epic7_sales_automation.db
cfg=$(producer_one_source_config epic7 "$db")

"$PRODUCER" -c "$cfg" 2> "$dir/producer.log" &
p=$!
cdc_stack_on_down "kill $p 2>/dev/null; wait $p 2>/dev/null"
wait_for_log "$dir/producer.log" "snapshot of crm_contacts done"

victim=$(sqlite3 "$db" "SELECT contact_id FROM crm_contacts ORDER BY contact_id LIMIT 1 OFFSET 3")
create=$(sqlite3 "$db" "SELECT sql FROM sqlite_master WHERE type='table' AND name='crm_contacts'")
create_new=${create/CREATE TABLE crm_contacts/CREATE TABLE crm_contacts_new}
sqlite3 "$db" <<SQL
.timeout 2000
PRAGMA legacy_alter_table=ON;
BEGIN IMMEDIATE;
$create_new;
INSERT INTO crm_contacts_new SELECT * FROM crm_contacts;
DELETE FROM crm_contacts_new WHERE contact_id = '$victim';
DROP TABLE crm_contacts;
ALTER TABLE crm_contacts_new RENAME TO crm_contacts;
COMMIT;
SQL
echo "rebuilt crm_contacts, deleting $victim unlogged"
wait_for_log "$dir/producer.log" "crm_contacts: triggers missing.*re-snapshotting"
wait_for_log "$dir/producer.log" "snapshot of crm_contacts done" 2
# Changes after the rebuild: an insert (a copy of a row under a new key) and an update.
/usr/bin/python3 - "$db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=2)
cols = [r[1] for r in db.execute("PRAGMA table_info(crm_contacts)")]
row = dict(zip(cols, db.execute("SELECT * FROM crm_contacts LIMIT 1").fetchone()))
row.update(contact_id="after-rebuild", email="after@example.com")
db.execute("INSERT INTO crm_contacts (%s) VALUES (%s)" % (",".join(cols), ",".join("?" * len(cols))),
           [row[c] for c in cols])
db.execute("UPDATE crm_contacts SET notes = 'changed after rebuild' "
           "WHERE contact_id = (SELECT min(contact_id) FROM crm_contacts WHERE contact_id LIKE 'ct-%')")
db.commit()
PY
sleep 1
kill -TERM "$p"
rc=0
wait "$p" || rc=$?
[[ $rc == 0 ]] || { tail "$dir/producer.log"; fail "producer exit $rc on SIGTERM"; }
"$PRODUCER" -c "$cfg" --once 2>> "$dir/producer.log" || fail "drain"
n=$(kcat -b "$CDC_TEST_BOOTSTRAP" -C -t cdc.crm -e -q -f '%h\n' 2>/dev/null | grep -c 'cdc.table=crm_contacts.*cdc.op=c' || true)
(( n >= 1 )) || { grep -v "snapshot progress" "$dir/producer.log" | tail -30; kcat -b "$CDC_TEST_BOOTSTRAP" -C -t cdc.crm -e -q -f "%h\n" | grep crm_contacts | tail -5; fail "the insert after the rebuild did not arrive"; }
u=$(kcat -b "$CDC_TEST_BOOTSTRAP" -C -t cdc.crm -e -q -f '%h\n' 2>/dev/null | grep -c 'cdc.table=crm_contacts.*cdc.op=u' || true)
(( u >= 1 )) || fail "the update after the rebuild did not arrive"
echo "ok: $n insert and $u update record(s) of crm_contacts after the rebuild"
pycheck rebuild "$cfg" || fail "rebuilt state differs (deleted row still there?)"

#!/usr/bin/env bash
# cdc-ctl resnapshot (docs/operate.md) through the signal table _cdc_signals, with the
# producer and the crm sink running (sink_e2e_lib.sh):
#  1. while the workload writes: a table re-snapshot (a new end marker reaches every
#     partition) and a re-send of listed keys; both signals marked done by the producer;
#     once the workload ended, the audit finds parity;
#  2. the audit -> resnapshot --keys round trip: a row deleted behind capture's back (an
#     INSERT OR REPLACE whose UNIQUE(email) conflict removes another contact: no delete
#     trigger fires) makes the audit fail naming the key; its --json document fed to
#     resnapshot --keys sends the delete; the audit passes again;
#  3. usage errors exit 2; a request for an unknown table is marked done with the reason.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"
CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
[[ -x $CTL ]] || fail "$CTL is not built"
q() { cdc_psql synapse_business_core "$1"; }

help=$("$CTL" resnapshot --help)
for opt in --config --source --table --keys --wait "Exit codes"; do
    grep -q -- "$opt" <<<"$help" || fail "resnapshot --help lacks $opt"
done
rc=0
"$CTL" resnapshot -c /nonexistent.yml 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "resnapshot without --source exited $rc"

se_up
printf 'producer: {heartbeat_ms: 300}\n' >>"$CFG"
E7=$DIR/data/epic7_sales_automation.db
se_producer_start
se_sink_start crm crm --batch-ms 100

# audit_until_equal SECONDS: the crm audit passes (the sink may still be applying).
audit_until_equal() {
    local i rc
    for ((i = 0; i < $1; i++)); do
        rc=0
        "$VALIDATOR" -c "$CFG" --audit --json --domain crm >"$DIR/audit.json" 2>"$DIR/audit.err" || rc=$?
        [[ $rc == 0 ]] && return 0
        sleep 1
    done
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print([t for t in d["tables"] if t["status"] != "match"][:3])' "$DIR/audit.json" || true
    fail "the crm audit never passed (exit $rc)"
}
audit_until_equal 60
ok "crm applied and equal"

# ---- 1. while the workload runs ------------------------------------------------------------------
se_workload_start 12 40 7
sleep 2
marks_before=$(q "SELECT count(*) FROM _cdc_snapshot_marks WHERE source = 'epic7' AND source_table = 'crm_contacts'")
"$CTL" resnapshot -c "$CFG" --source epic7 --table crm_contacts --wait 30 >"$DIR/r1.out" ||
    { cat "$DIR/r1.out"; fail "table resnapshot"; }
grep -q "done=.* result=ok: re-snapshot of crm_contacts queued" "$DIR/r1.out" || fail "r1: $(cat "$DIR/r1.out")"
sqlite3 "$E7" "SELECT contact_id FROM crm_contacts ORDER BY contact_id LIMIT 3" |
    "$PY" -c 'import json,sys; print(json.dumps([{"contact_id": l.strip()} for l in sys.stdin]))' >"$DIR/keys.json"
"$CTL" resnapshot -c "$CFG" --source epic7 --table crm_contacts --keys "$DIR/keys.json" --wait 30 \
    >"$DIR/r2.out" || { cat "$DIR/r2.out"; fail "keys resnapshot"; }
grep -q "kind=keys table=crm_contacts keys=3" "$DIR/r2.out" || fail "r2: $(cat "$DIR/r2.out")"
grep -q "result=ok: 3 key(s) of crm_contacts logged" "$DIR/r2.out" || fail "r2: $(cat "$DIR/r2.out")"
se_workload_wait
for _ in $(seq 1 100); do
    marks=$(q "SELECT count(*) FROM _cdc_snapshot_marks WHERE source = 'epic7' AND source_table = 'crm_contacts'")
    ((marks >= marks_before + 6)) && break
    sleep 0.3
done
((marks >= marks_before + 6)) || fail "the re-snapshot's end markers: $marks_before -> $marks"
audit_until_equal 60
ok "table re-snapshot (end marker on 6 partitions) and 3 keys re-sent while the workload ran; parity"

# ---- 2. audit -> resnapshot --keys round trip ---------------------------------------------------
victim=$(sqlite3 "$E7" "SELECT contact_id FROM crm_contacts ORDER BY contact_id LIMIT 1 OFFSET 4")
cols=$(sqlite3 "$E7" "SELECT group_concat(name, ', ') FROM pragma_table_info('crm_contacts') WHERE name <> 'contact_id'")
sqlite3 "$E7" "INSERT OR REPLACE INTO crm_contacts (contact_id, $cols)
               SELECT 'ct-ghost', $cols FROM crm_contacts WHERE contact_id = '$victim'"
[[ $(sqlite3 "$E7" "SELECT count(*) FROM crm_contacts WHERE contact_id = '$victim'") == 0 ]] ||
    fail "the REPLACE did not remove $victim"
[[ $(sqlite3 "$E7" "SELECT count(*) FROM _cdc_changes WHERE op = 'd'") == 0 ]] || true
for _ in $(seq 1 100); do
    [[ $(q "SELECT count(*) FROM crm_contacts WHERE contact_id = 'ct-ghost'") == 1 ]] && break
    sleep 0.2
done
rc=0
"$VALIDATOR" -c "$CFG" --audit --json --domain crm >"$DIR/audit.json" 2>"$DIR/audit.err" || rc=$?
[[ $rc == 1 ]] || fail "the audit did not see the row deleted behind capture (exit $rc)"
grep -q "\"contact_id\": *\"$victim\"" "$DIR/audit.json" || fail "the audit does not name $victim"
"$CTL" resnapshot -c "$CFG" --source epic7 --keys "$DIR/audit.json" --wait 30 >"$DIR/r3.out" ||
    { cat "$DIR/r3.out"; fail "resnapshot --keys from the audit"; }
grep -q "kind=keys table=crm_contacts keys=1" "$DIR/r3.out" || fail "r3: $(cat "$DIR/r3.out")"
audit_until_equal 30
[[ $(q "SELECT count(*) FROM crm_contacts WHERE contact_id = '$victim'") == 0 ]] || fail "$victim still in the target"
ok "audit named $victim (deleted behind capture); resnapshot --keys from its JSON repaired it"

# ---- 3. a request that cannot be carried out ------------------------------------------------------
"$CTL" resnapshot -c "$CFG" --source epic7 --table no_such_table --wait 30 >"$DIR/r4.out" ||
    fail "unknown table: $(cat "$DIR/r4.out")"
grep -q "result=error: table no_such_table is not captured in source epic7" "$DIR/r4.out" ||
    fail "r4: $(cat "$DIR/r4.out")"
ok "a request for an unknown table is done with the reason"
se_sink_stop crm
se_producer_stop
echo PASS

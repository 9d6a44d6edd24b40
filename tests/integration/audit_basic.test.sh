#!/usr/bin/env bash
# The audit (consumers/audit.h, docs/audit.md) against real SQLite files and a real
# PostgreSQL: the fixtures' crm, analytics and f500 sources are captured and snapshotted
# into their targets through the sink's PostgreSQL side (tests/tools/audit_check load:
# the producer's encoding, the Kafka side's decoding, cdc_sink_apply), then:
#   1. everything equal: exit 0, the seed figures on both sides, a SHA-256 per table;
#   2. a source change logged after the target's position: reported in flight, exit 0;
#   3. behind the sink's back, an UPDATE, a DELETE and an INSERT in three target tables:
#      exit 1 naming exactly those keys (different, missing, extra), in the JSON too, in
#      the form cdc-ctl resnapshot takes; the in-flight key is still not a difference.
# labels: integration quick
# timeout: 180
set -euo pipefail
: "${CDC_SOURCE_DIR:?CDC_SOURCE_DIR must point at the source tree}"
: "${CDC_BUILD_DIR:?CDC_BUILD_DIR must point at the build tree}"
check=$CDC_BUILD_DIR/tests/tools/audit_check
fixtures=$CDC_BUILD_DIR/tools/fixtures/cdc-fixtures
for b in "$check" "$fixtures"; do
    [[ -x $b ]] || { echo "FAIL: $b is not built" >&2; exit 1; }
done
fail() { echo "FAIL: $*" >&2; exit 1; }

# shellcheck source=../harness/stack.sh
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
cdc_stack_up --no-broker
cdc_pg_createdb synapse_business_core
cdc_pg_createdb synapse_analytics
data=$CDC_TEST_TMPDIR/data
"$fixtures" --out "$data" >/dev/null
export CDC_DATA_DIR=$data PGHOST=$CDC_TEST_PGHOST PGPORT=$CDC_TEST_PGPORT PGUSER=$CDC_TEST_PGUSER
cfg=$CDC_SOURCE_DIR/config/pipeline.example.yml
for domain in crm analytics f500; do
    "$check" load "$cfg" "$domain" || fail "loading $domain"
done
out=$CDC_TEST_TMPDIR/report.txt
json=$CDC_TEST_TMPDIR/report.json

# 1. All equal.
rc=0
"$check" audit "$cfg" >"$out" || rc=$?
((rc == 0)) || { cat "$out"; fail "audit of equal sides exited $rc"; }
grep -q '^check crm pipeline value: source 1158000.00 target 1158000.00 ok$' "$out" ||
    fail "pipeline value not shown on both sides"
grep -q '^check crm contacts: source 16 target 16 ok$' "$out" || fail "16 contacts not shown"
grep -q '^check generated proposals: source 58 target 58 ok$' "$out" || fail "58 proposals"
ntables=$(grep -c ' -> .*: match$' "$out")
((ntables == 73)) || fail "expected 73 matching tables, got $ntables"
nsha=$(grep -cE '^  sha256    source [0-9a-f]{64}$' "$out")
((nsha == ntables)) || fail "expected a SHA-256 per table, got $nsha"
grep -A3 '^crm / epic7 / crm_contacts -> crm_contacts: match$' "$out" |
    grep -q '^  rows      source 16  target 16$' || fail "crm_contacts counts"
# The digests of both sides are equal line by line.
paste -d' ' <(grep -E '^  sha256    source' "$out" | awk '{print $3}') \
    <(grep -E '^            target' "$out" | awk '{print $2}') |
    awk '$1 != $2 {bad=1} END {exit bad}' || fail "source and target SHA-256 differ"
# Tiny source chunks (many read transactions, keyset pagination over text, integer, date
# and composite keys) give the same digests.
rc=0
"$check" audit "$cfg" --chunk-rows 3 >"$out.chunked" || rc=$?
((rc == 0)) || { cat "$out.chunked"; fail "chunked audit exited $rc"; }
cmp -s <(grep -E '^  (rows|checksum|sha256)|^            target' "$out") \
    <(grep -E '^  (rows|checksum|sha256)|^            target' "$out.chunked") ||
    fail "3-row chunks changed a digest"
echo "ok: all equal: 73 tables, seed figures on both sides, a SHA-256 per table"

# 2. A source change the target has not applied yet: in flight, not a difference.
epic7=$data/epic7_sales_automation.db
inflight=$(sqlite3 "$epic7" "SELECT contact_id FROM crm_contacts ORDER BY contact_id LIMIT 1 OFFSET 3")
sqlite3 "$epic7" "PRAGMA busy_timeout=1000; UPDATE crm_contacts SET notes = coalesce(notes,'') || ' called' WHERE contact_id = '$inflight'"
[[ $(sqlite3 "$epic7" "SELECT count(*) FROM _cdc_changes WHERE tbl = 'crm_contacts' AND k1 = '$inflight'") == 1 ]] ||
    fail "the change was not logged"
rc=0
"$check" audit "$cfg" --domain crm >"$out" || rc=$?
((rc == 0)) || { cat "$out"; fail "in-flight change made the audit exit $rc"; }
grep -q '^crm / epic7 / crm_contacts -> crm_contacts: in_flight$' "$out" || { cat "$out"; fail "table not in flight"; }
grep -qF "different {\"contact_id\":\"$inflight\"}  (in flight: a newer change is not applied yet)" "$out" ||
    { cat "$out"; fail "key $inflight not reported in flight"; }
echo "ok: a change logged after the target's position is in flight, exit 0"

# 3. Behind the sink's back, one change in each of three tables.
upd=$(cdc_psql synapse_business_core "SELECT contact_id FROM crm_contacts WHERE contact_id <> '$inflight' ORDER BY contact_id COLLATE \"C\" LIMIT 1")
del=$(cdc_psql synapse_business_core "SELECT proposal_id FROM generated_proposals ORDER BY proposal_id COLLATE \"C\" LIMIT 1 OFFSET 7")
cdc_psql synapse_business_core \
    "UPDATE crm_contacts SET estimated_value = estimated_value + 1 WHERE contact_id = '$upd'" \
    "DELETE FROM generated_proposals WHERE proposal_id = '$del'" \
    "INSERT INTO roi_templates SELECT 'zz-extra', template_name, industry, base_cost, assumptions, is_active, created_at, _cdc_source, _cdc_epoch, _cdc_pos, _cdc_synced_at FROM roi_templates LIMIT 1"
rc=0
"$check" audit "$cfg" --domain crm >"$out" || rc=$?
((rc == 1)) || { cat "$out"; fail "audit after changes behind the sink's back exited $rc, want 1"; }
grep -qF "different {\"contact_id\":\"$upd\"}" "$out" || { cat "$out"; fail "UPDATE of $upd not named"; }
grep -qF "missing   {\"proposal_id\":\"$del\"}" "$out" || { cat "$out"; fail "DELETE of $del not named"; }
grep -qF 'extra     {"template_id":"zz-extra"}' "$out" || { cat "$out"; fail "INSERT not named"; }
grep -q '^check crm pipeline value: source 1158000.00 target 1158001.00 DIFFERS$' "$out" ||
    fail "pipeline value difference not shown"
grep -q '^crm / epic7 / crm_contacts -> crm_contacts: differ$' "$out" || fail "crm_contacts status"
grep -q '^crm / epic7 / generated_proposals -> generated_proposals: differ$' "$out" || fail "proposals status"
grep -q '^crm / epic7 / roi_templates -> roi_templates: differ$' "$out" || fail "roi_templates status"
ndiff=$(grep -c ' -> .*: differ$' "$out")
((ndiff == 3)) || { cat "$out"; fail "expected exactly 3 differing tables, got $ndiff"; }

rc=0
"$check" audit "$cfg" --domain crm --json >"$json" || rc=$?
((rc == 1)) || fail "--json exited $rc"
/usr/bin/python3 - "$json" "$upd" "$del" "$inflight" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
upd, dele, inflight = sys.argv[2:5]
assert doc["result"] == "differ", doc["result"]
got = sorted((r["source"], r["table"], json.dumps(k, sort_keys=True))
             for r in doc["resnapshot"] for k in r["keys"])
want = sorted([("epic7", "crm_contacts", json.dumps({"contact_id": upd})),
               ("epic7", "generated_proposals", json.dumps({"proposal_id": dele})),
               ("epic7", "roi_templates", json.dumps({"template_id": "zz-extra"}))])
assert got == want, (got, want)
kinds = {(t["table"], k["kind"], k["recheck"], json.dumps(k["key"]))
         for t in doc["tables"] for k in t["keys"]}
assert ("crm_contacts", "different", "in_flight", json.dumps({"contact_id": inflight})) in kinds, kinds
assert len(kinds) == 4, kinds
cc = [t for t in doc["tables"] if t["table"] == "crm_contacts"][0]
assert cc["source_stats"]["rows"] == 16 and cc["target_stats"]["rows"] == 16
assert cc["source_stats"]["sha256"] != cc["target_stats"]["sha256"]
checks = {c["name"]: c for c in doc["checks"]}
assert checks["crm pipeline value"]["status"] == "differ"
assert checks["crm pipeline value"]["target_value"] == "1158001.00"
print("json ok")
EOF
echo "ok: UPDATE, DELETE and INSERT behind the sink's back named exactly (human and JSON), exit 1"

# The same through cdc-validator, when it is built: exit 1 and the same resnapshot list.
validator=$CDC_BUILD_DIR/consumers/cdc-validator
if [[ -x $validator ]]; then
    rc=0
    "$validator" -c "$cfg" --audit --domain crm --json >"$json.validator" 2>/dev/null || rc=$?
    ((rc == 1)) || fail "cdc-validator --audit exited $rc, want 1"
    /usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a["resnapshot"] == b["resnapshot"], (a["resnapshot"], b["resnapshot"])' \
        "$json" "$json.validator" || fail "cdc-validator --audit listed other keys"
    echo "ok: cdc-validator --audit agrees"
fi

# Usage errors exit 2.
rc=0
"$check" audit "$cfg" --domain nosuch >/dev/null 2>&1 || rc=$?
((rc == 2)) || fail "unknown domain exited $rc, want 2"
echo "ok: audit"

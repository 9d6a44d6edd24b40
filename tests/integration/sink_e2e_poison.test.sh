#!/usr/bin/env bash
# Poison records end to end (DESIGN.md invariant 7): on the crm topic, before the
# producer's records, random bytes (partition 1) and a single-object record with an
# unknown schema fingerprint (partition 4), produced with kcat; and a pre-created target
# table (schemas/postgres/crm_contacts.sql) that three source rows do not fit: a first
# name too long for varchar(40) (ct-00000003), a value too large for numeric(10,2)
# (ct-00000004), a lead score violating a CHECK (ct-00000006).
#  1. each of the 5 lands in cdc.crm.dlq with its reason (read with kcat; the JSON
#     fields and headers of docs/dead-letters.md; the 3 rows name source, table, key and,
#     where PostgreSQL's error is about one value, the column);
#  2. the partitions continue: every other row of every crm table is in the target (13
#     of the 16 contacts, with equal values);
#  3. counts exposed: 5 rows in _cdc_dead_letters, the sink's summary line says 5;
#  4. the rows are fixed in the source (a newer version that fits): the sink applies
#     them, marks the 3 dead letters resolved, and the target equals the source.
# labels: integration quick
# timeout: 240
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

DB=synapse_business_core
q() { cdc_psql $DB "$1"; }
se_up
E7=$DIR/data/epic7_sales_automation.db
sqlite3 "$E7" "UPDATE crm_contacts SET first_name = 'Maximiliana-Alexandrina-Konstantina-Bartholomea'
                 WHERE contact_id = 'ct-00000003';
               UPDATE crm_contacts SET estimated_value = 123456789.5 WHERE contact_id = 'ct-00000004';
               UPDATE crm_contacts SET lead_score = 150 WHERE contact_id = 'ct-00000006';"
cdc_psql $DB <"$CDC_SOURCE_DIR/schemas/postgres/crm_contacts.sql" >/dev/null

# Random bytes behind a first byte that is neither framing (0x00 Confluent, 0xC3 Avro).
{ printf x; head -c 199 /dev/urandom; } >"$DIR/garbage.bin"
printf '\xc3\x01\xde\xad\xbe\xef\x01\x02\x03\x04\x02\x63' >"$DIR/unknownfp.bin"
kcat -P -b "$CDC_TEST_BOOTSTRAP" -t cdc.crm -p 1 -k garbage-key "$DIR/garbage.bin"
kcat -P -b "$CDC_TEST_BOOTSTRAP" -t cdc.crm -p 4 -k unknown-fp-key "$DIR/unknownfp.bin"
se_producer_once
se_sink_once crm
ok "producer and sink ran over 2 poison records and 3 rows the target refuses"

# ---- 1. dead-letter topic -----------------------------------------------------------
kcat -C -b "$CDC_TEST_BOOTSTRAP" -t cdc.crm.dlq -e -q -J >"$DIR/dlq.json"
"$PY" - "$DIR/dlq.json" "$DIR/garbage.bin" <<'EOF' || fail "dead letters differ"
import base64, json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
garbage = open(sys.argv[2], "rb").read()
assert len(msgs) == 5, "%d dead letters: %s" % (len(msgs), msgs)
by = {}
for m in msgs:
    v = json.loads(m["payload"])
    h = dict(zip(m["headers"][0::2], m["headers"][1::2])) if m.get("headers") else {}
    assert v["version"] == 1 and v["stage"] == "sink", v
    assert h.get("cdc.stage") == "sink" and h.get("cdc.reason"), (h, v)
    o = v["origin"]
    assert o["topic"] == "cdc.crm" and isinstance(o["offset"], int), v
    k = v.get("key", {}).get("contact_id") or {1: "garbage", 4: "unknownfp"}.get(o["partition"])
    by[k] = (m, v, h)
    print("dead letter %-12s partition %d offset %d: %s%s" % (
        k, o["partition"], o["offset"], v["reason"][:110],
        " (column %s)" % v["column"] if "column" in v else ""))
m, v, h = by["garbage"]
assert v["origin"]["partition"] == 1 and v["origin"]["offset"] == 0, v
assert base64.b64decode(v["payload_base64"]) == garbage, "payload is not the original bytes"
assert "neither Avro single-object nor Confluent framed" in v["reason"], v
m, v, h = by["unknownfp"]
assert v["origin"]["partition"] == 4 and v["origin"]["offset"] == 0, v
assert "unknown schema fingerprint 04030201efbeadde" in v["reason"], v
want = {"ct-00000003": ("value too long for type character varying(40)", "22001", "first_name"),
        "ct-00000004": ("numeric field overflow", "22003", "estimated_value"),
        "ct-00000006": ("crm_contacts_lead_score_check", "23514", None)}
for key, (reason, state, column) in want.items():
    m, v, h = by[key]
    assert column is None or (v.get("column") == column and h.get("cdc.column") == column), (key, v, h)
    assert v["source"] == "epic7" and v["table"] == "crm_contacts", v
    assert v["key"] == {"contact_id": key}, v
    assert reason in v["reason"] and state in v["reason"], (key, v["reason"])
    assert v["position"]["epoch"] >= 1 and v["position"]["h"] >= 0, v
    assert h.get("cdc.source") == "epic7" and h.get("cdc.table") == "crm_contacts", h
    # The row's own partition: a dead letter is keyed by the record's canonical key.
    assert m["partition"] == v["origin"]["partition"], m
    payload = base64.b64decode(v["payload_base64"])
    assert payload[:2] == b"\xc3\x01", "not the original record value"
print("5 dead letters with the documented fields")
EOF
ok "each poison record is in cdc.crm.dlq with its reason"

# ---- 2. the partitions continued ----------------------------------------------------
[[ $(q "SELECT count(*) FROM crm_contacts") == 13 ]] || fail "crm_contacts holds $(q "SELECT count(*) FROM crm_contacts") rows, expected 13"
[[ $(q "SELECT count(*) FROM crm_contacts WHERE contact_id IN ('ct-00000003', 'ct-00000004', 'ct-00000006')") == 0 ]] ||
    fail "a refused row is in the target"
want=$(sqlite3 "$E7" "SELECT printf('%.2f', SUM(estimated_value)) || ' ' || SUM(lead_score) FROM crm_contacts
                      WHERE contact_id NOT IN ('ct-00000003', 'ct-00000004', 'ct-00000006')")
got=$(q "SELECT to_char(SUM(estimated_value), 'FM999999999990.00') || ' ' || SUM(lead_score) FROM crm_contacts")
[[ $got == "$want" ]] || fail "the 13 contacts: PostgreSQL $got, SQLite $want"
[[ $(q "SELECT data_type || ':' || character_maximum_length FROM information_schema.columns
        WHERE table_name = 'crm_contacts' AND column_name = 'first_name'") == "character varying:40" ]] ||
    fail "the pre-created table was replaced"
[[ $(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'crm_contacts'
        AND column_name IN ('_cdc_source', '_cdc_epoch', '_cdc_pos', '_cdc_synced_at')") == 4 ]] ||
    fail "the sink did not add its _cdc_ columns to the pre-created table"
"$PY" "$SE_CHECK" counts "$CFG" --domain crm >"$DIR/counts.txt" || true
grep -v "^counts:" "$DIR/counts.txt" | grep -qv "epic7.crm_contacts -> crm_contacts: SQLite 16 row(s), PostgreSQL 13" &&
    fail "other tables differ: $(cat "$DIR/counts.txt")"
ok "the partitions continued: every other row arrived (13 contacts equal to the source)"

# ---- 3. counts ------------------------------------------------------------------------
[[ $(q "SELECT count(*) FROM _cdc_dead_letters WHERE domain = 'crm' AND resolved_at IS NULL") == 5 ]] ||
    fail "_cdc_dead_letters: $(q "SELECT koffset, source_table, reason FROM _cdc_dead_letters")"
grep "dead letters" "$DIR/once-crm.log" | tail -1 | grep -q " 5 dead letters (5 sent to the dead-letter topic)" ||
    fail "the sink's summary: $(grep "dead letters" "$DIR/once-crm.log" | tail -1)"
ok "5 dead letters counted in _cdc_dead_letters and in the sink's summary"

# ---- 4. fixed in the source: applied, resolved ------------------------------------------
sqlite3 "$E7" "UPDATE crm_contacts SET first_name = 'Maximiliana' WHERE contact_id = 'ct-00000003';
               UPDATE crm_contacts SET estimated_value = 12345.5 WHERE contact_id = 'ct-00000004';
               UPDATE crm_contacts SET lead_score = 95 WHERE contact_id = 'ct-00000006';"
se_producer_once
se_sink_once crm
[[ $(q "SELECT count(*) FROM crm_contacts") == 16 ]] || fail "the fixed rows were not applied"
[[ $(q "SELECT count(*) FROM _cdc_dead_letters WHERE domain = 'crm' AND resolved_at IS NOT NULL") == 3 ]] ||
    fail "dead letters resolved: $(q "SELECT source_table, resolved_at FROM _cdc_dead_letters")"
[[ $(q "SELECT count(*) FROM _cdc_dead_letters WHERE domain = 'crm' AND resolved_at IS NULL") == 2 ]] ||
    fail "the two undecodable records should stay unresolved"
se_counts --domain crm
se_audit --domain crm
ok "fixed rows applied, their 3 dead letters resolved (2 undecodable ones stay), target equals source"

#!/usr/bin/env bash
# The schema registry end to end (docs/schema-registry.md "Wire"), with the real binaries on
# a harness stack (PostgreSQL + devbroker) and the registry stand-in
# (tests/registry_standin/registry_standin.py):
#   1. the producer runs WITHOUT schema_registry: single-object records on cdc.crm;
#   2. the same config gains schema_registry.url; the producer runs again with a new epoch
#      for epic7 (every epic7 row sent again) and rows changed in linkedin_bd: Confluent
#      framed records follow the single-object ones on the same topic (a mixed topic);
#   3. an independent decoder (Debian's python3-avro) fetches every Confluent record's key
#      and value schema BY ID from the stand-in and decodes every byte; every single-object
#      record's key and value are read too; the subjects are topic-record-name ones with
#      BACKWARD compatibility set; a key seen in both framings went to the same partition;
#   4. one cdc-sink --once applies the mixed topic: the target equals the source (audit of
#      the crm domain, counts), including the rows changed after the switch.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

DB=synapse_business_core
q() { cdc_psql $DB "$1"; }
se_up

# --- the stand-in registry
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

# --- 1. single-object
se_producer_once --source epic7 --source linkedin_bd
so_end=$(se_hwm cdc.crm)
((so_end > 0)) || fail "no single-object records on cdc.crm"
ok "single-object phase: $so_end records on cdc.crm"

# --- 2. the same config with the registry
printf 'schema_registry:\n  url: %s\n' "$REG" >>"$CFG"
LI=$DIR/data/linkedin_business_development.db
sqlite3 "$LI" "UPDATE consultation_inquiries SET status = 'registry-' || status
               WHERE rowid IN (SELECT rowid FROM consultation_inquiries ORDER BY rowid LIMIT 4)"
se_producer_once --source epic7 --source linkedin_bd --new-epoch epic7
grep -q "Confluent wire format" "$DIR/producer.log" || fail "the producer did not use the registry"
all_end=$(se_hwm cdc.crm)
((all_end > so_end)) || fail "no records after the switch"
ok "registry phase: $((all_end - so_end)) more records"

# --- 3. independent decoding, subjects, partitions
/usr/bin/python3 - "$CDC_TEST_BOOTSTRAP" cdc.crm "$REG" "$so_end" <<'EOF'
import io
import json
import struct
import sys
import urllib.request

import avro.io
import avro.schema
from confluent_kafka import Consumer, TopicPartition

bootstrap, topic, reg, so_end = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        if failures < 20:
            print("FAIL: %s" % what, file=sys.stderr)


def get(path):
    with urllib.request.urlopen(reg + path) as r:
        return json.load(r)


by_id = {}


def schema_of(sid):
    if sid not in by_id:
        by_id[sid] = avro.schema.parse(get("/schemas/ids/%d" % sid)["schema"])
    return by_id[sid]


def read_all():
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "registry-e2e", "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=10)
    parts = sorted(md.topics[topic].partitions)
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    c.assign([TopicPartition(topic, p, 0) for p in parts if ends[p] > 0])
    got, left = [], sum(ends.values())
    while left > 0:
        m = c.poll(10)
        if m is None:
            break
        if m.error():
            continue
        got.append(m)
        left -= 1
    c.close()
    check(left == 0, "read every record of %s (%d left)" % (topic, left))
    return got


def decode(sid, body):
    buf = io.BytesIO(body)
    datum = avro.io.DatumReader(schema_of(sid)).read(avro.io.BinaryDecoder(buf))
    check(buf.tell() == len(body), "schema %d: decoded %d of %d bytes" % (sid, buf.tell(), len(body)))
    return datum


msgs = read_all()
framings = {"so": 0, "cf": 0}
key_parts = {}  # canonical key -> {framing: set(partitions)}
order_ok = True
rows_cf = ctl_cf = 0
for m in msgs:
    v, k = m.value(), m.key()
    if v[:2] == b"\xc3\x01":
        fr, hdr = "so", 10
        check(k[:2] == b"\xc3\x01", "single-object value with a single-object key")
    else:
        fr, hdr = "cf", 5
        check(v[0] == 0 and k[0] == 0, "Confluent value and key start with 0")
        (vid,) = struct.unpack(">I", v[1:5])
        (kid,) = struct.unpack(">I", k[1:5])
        key = decode(kid, k[5:])
        val = decode(vid, v[5:])
        name = schema_of(vid).fullname
        if name == "cdc.Control":
            ctl_cf += 1
            check(val["op"] in ("h", "m"), "control op %r" % val["op"])
            check(schema_of(kid).fullname == "cdc.ControlKey", "control key schema")
        else:
            rows_cf += 1
            check(name.endswith("_envelope"), "value schema %s is an envelope" % name)
            check(val["source"]["name"] == key["source"] and val["source"]["table"] == key["table"],
                  "key and envelope name the same table")
            check(val["op"] in ("c", "u", "d", "r"), "op %r" % val["op"])
    framings[fr] += 1
    if m.headers() and any(h[0] == "cdc.op" and h[1] in (b"c", b"u", b"d", b"r") for h in m.headers()):
        key_parts.setdefault(k[hdr:], {}).setdefault(fr, set()).add(m.partition())
check(framings["so"] > 0 and framings["cf"] > 0, "both framings on the topic: %r" % framings)
check(rows_cf > 0 and ctl_cf > 0, "Confluent rows (%d) and control records (%d)" % (rows_cf, ctl_cf))
both = 0
for key, fp in key_parts.items():
    allp = set().union(*fp.values())
    check(len(allp) == 1, "key %s went to partitions %r" % (key.hex(), fp))
    both += len(fp) == 2
check(both > 0, "keys sent in both framings")

subjects = set(get("/subjects"))
for s in ("cdc.crm-cdc.epic7.crm_contacts_envelope", "cdc.crm-cdc.epic7.crm_contacts_key",
          "cdc.crm-cdc.Control", "cdc.crm-cdc.ControlKey", "cdc.analytics-cdc.Control",
          "cdc.crm-cdc.linkedin_bd.consultation_inquiries_envelope"):
    check(s in subjects, "subject %s registered (have %d)" % (s, len(subjects)))
    if s in subjects:
        check(get("/config/%s" % s)["compatibilityLevel"] == "BACKWARD", "%s is BACKWARD" % s)
print("records: %r; Confluent: %d rows + %d control decoded by python3-avro with schemas by id; "
      "%d keys in both framings, each on one partition; %d subjects; %d failures"
      % (framings, rows_cf, ctl_cf, both, len(subjects), failures))
sys.exit(1 if failures else 0)
EOF
ok "independent decoding, subjects and partitions"

# --- 4. the sink applies the mixed topic
se_sink_once crm
grep -q "is a dead letter" "$DIR/once-crm.log" && { grep "is a dead letter" "$DIR/once-crm.log" | head -5; fail "dead letters"; }
[[ $(q "SELECT count(*) FROM consultation_inquiries WHERE status LIKE 'registry-%'") == 4 ]] ||
    fail "the rows changed after the switch are not in the target"
for s in epic7 linkedin_bd; do
    "$VALIDATOR" -c "$CFG" --audit --json --domain crm --source $s >"$DIR/audit-$s.json" \
        2>"$DIR/audit-$s.err" || { tail -5 "$DIR/audit-$s.err"; fail "audit of $s exited non-zero"; }
    "$PY" "$SE_CHECK" audit "$DIR/audit-$s.json" || fail "audit: target differs from source $s"
done
ok "the sink applied the mixed topic; the audit finds epic7 and linkedin_bd equal"

#!/usr/bin/env bash
# producer/publisher against a cdc-devbroker (tests/tools/publisher_check.c drives it):
#  1. start-up refuses a missing topic, a wrong partition count and an unreachable
#     broker, each with its documented message, the last within its time bound;
#  2. rows of many keys land on partition (murmur2(canonical key) & 0x7fffffff) % n,
#     recomputed here in Python from the Kafka key on the wire minus its framing, and
#     every version of a key lands on one partition;
#  3. every schema a record uses is on <prefix>.schemas, keyed by its fingerprint (16 hex
#     digits), with the exact text, written before the first record using it; records
#     decode with those texts (python3-avro);
#  4. headers cdc.source/table/op/position match the decoded envelope;
#  5. a heartbeat and a snapshot end marker on every partition, each naming its partition;
#     dead letters on the key's partition of <prefix>.<domain>.dlq (unkeyed: partition 0);
#  6. with every broker down records stay in flight and nothing is ackable; after up,
#     everything is delivered and the position becomes ackable;
#  7. a full producer queue blocks the send (back-pressure, nothing dropped) until stopped.
# labels: integration quick
# timeout: 240
set -euo pipefail
: "${CDC_SOURCE_DIR:?CDC_SOURCE_DIR must point at the source tree}"
: "${CDC_BUILD_DIR:?CDC_BUILD_DIR must point at the build tree}"
CHECK=$CDC_BUILD_DIR/tests/tools/publisher_check
[[ -x $CHECK ]] || { echo "FAIL: $CHECK not built" >&2; exit 1; }
PY=/usr/bin/python3
# shellcheck source=../harness/stack.sh
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# expect_refusal CONFIG TIMEOUT_MS: the start must fail with exit 1 exactly (a sanitizer
# report would exit otherwise), its message in $work/err.
expect_refusal() {
    local rc=0
    "$CHECK" start "$1" "$2" 2>"$work/err" || rc=$?
    [[ $rc == 1 ]] || fail "start with $1 exited $rc, expected 1: $(cat "$work/err")"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# write_config FILE BOOTSTRAP CRM_PARTITIONS [EXTRA_YAML_DOMAIN] [PRODUCER_PROPS]
write_config() {
    local extra_domain=${4:-} props=${5:-"{}"}
    cat >"$1" <<EOF
kafka:
  bootstrap.servers: "$2"
kafka_producer: $props
topic_prefix: pt
sources:
  - name: s1
    path: s1.db
    domain: crm
domains:
  - name: crm
    partitions: $3
    target: "host=127.0.0.1 dbname=unused"
$extra_domain
validation: {partitions: 3}
EOF
}

# The broker creates the topics of this config; its bootstrap is only known once it runs,
# so the configs the publisher reads are written afterwards.
write_config "$work/broker.yml" 127.0.0.1:1 6
cdc_stack_up --no-pg --config "$work/broker.yml"
BS=$CDC_TEST_BOOTSTRAP
ctl="$CDC_TEST_DEVBROKER --control $CDC_TEST_BROKER_CONTROL --send"
write_config "$work/pub.yml" "$BS" 6

# ---- 1. start-up refusals ----------------------------------------------------------
write_config "$work/ghost.yml" "$BS" 6 '  - {name: ghost, partitions: 2, target: "dbname=x"}'
expect_refusal "$work/ghost.yml" 5000
grep -q 'topic pt.ghost is missing (expected 2 partitions)' "$work/err" ||
    fail "missing topic message: $(cat "$work/err")"
grep -q 'topic pt.ghost.dlq is missing' "$work/err" || fail "dlq topic not named: $(cat "$work/err")"
ok "missing topic refused: $(head -1 "$work/err")"

write_config "$work/wrong.yml" "$BS" 4
expect_refusal "$work/wrong.yml" 5000
grep -q 'topic pt.crm has 6 partitions, the config says 4' "$work/err" ||
    fail "partition count message: $(cat "$work/err")"
ok "wrong partition count refused"

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_config "$work/unreach.yml" "127.0.0.1:$port" 6
expect_refusal "$work/unreach.yml" 3000
grep -q "Kafka cluster at 127.0.0.1:$port: cannot read cluster metadata within 3000 ms" "$work/err" ||
    fail "unreachable message: $(cat "$work/err")"
elapsed=$(sed -n 's/^elapsed_ms=//p' "$work/err")
((elapsed >= 2500 && elapsed < 6000)) || fail "unreachable broker took ${elapsed} ms (bound 3000)"
ok "unreachable broker refused after ${elapsed} ms"

"$CHECK" start "$work/pub.yml" 5000 || fail "start with the right topics failed"
ok "start with the right topics"

# ---- 2-5. publish and read everything back ------------------------------------------
"$CHECK" publish "$work/pub.yml" "$work" 300
BS=$BS MANIFEST=$work/manifest.json $PY - <<'PYEOF'
import io, json, os, sys
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING, KafkaError
import avro.schema, avro.io

def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

def murmur2(data):
    """Kafka's Utils.murmur2 (Java), written out independently of libcdc."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest, idx = length % 4, length & ~3
    if rest == 3:
        h ^= data[idx + 2] << 16
    if rest >= 2:
        h ^= data[idx + 1] << 8
    if rest >= 1:
        h ^= data[idx]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h

def signed(x):
    return x - (1 << 32) if x & 0x80000000 else x

# Vectors from Kafka's UtilsTest.testMurmur2: the Python port must be Kafka's function.
for s, want in [(b"21", -973932308), (b"foobar", -790332482),
                (b"a-little-bit-long-string", -985981536),
                (b"a-little-bit-longer-string", -1486304829),
                (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
                (b"abc", 479470107)]:
    if signed(murmur2(s)) != want:
        fail("python murmur2(%r) = %d, Kafka says %d" % (s, signed(murmur2(s)), want))

man = json.load(open(os.environ["MANIFEST"]))
NPART = man["partitions"]

def read_topic(topic, nparts):
    c = Consumer({"bootstrap.servers": os.environ["BS"], "group.id": "publisher-check",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(nparts)])
    out, eof = [], set()
    while len(eof) < nparts:
        msg = c.poll(10.0)
        if msg is None:
            fail("no message or EOF from %s within 10 s" % topic)
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                eof.add(msg.partition())
                continue
            fail("%s: %s" % (topic, msg.error()))
        out.append(msg)
    c.close()
    return out

def le_fp(b):
    return "%016x" % int.from_bytes(b, "little")

# ---- schemas topic: keyed by fingerprint, exact text, once each ----
schemas = {}
schema_ts = {}
for msg in read_topic("pt.schemas", 1):
    k = msg.key().decode()
    if k in schemas:
        fail("schema %s published twice in one process" % k)
    schemas[k] = msg.value().decode()
    schema_ts[k] = msg.timestamp()[1]
want = {man["envelope_fp"]: man["schemas"]["envelope"], man["key_fp"]: man["schemas"]["key"],
        man["control_fp"]: man["schemas"]["control"],
        man["control_key_fp"]: man["schemas"]["control_key"]}
for fp, text in want.items():
    if schemas.get(fp) != text:
        fail("pt.schemas has no exact text for %s (got %r)" % (fp, schemas.get(fp, "")[:80]))
print("ok: pt.schemas holds %d schemas keyed by fingerprint, exact texts" % len(schemas))

def reader(fp):
    return avro.io.DatumReader(avro.schema.parse(schemas[fp]))

def decode(fp, body):
    return reader(fp).read(avro.io.BinaryDecoder(io.BytesIO(body)))

# ---- domain topic ----
msgs = read_topic("pt.crm", NPART)
key_parts, rows, hb, markers, first_use = {}, 0, {}, {}, {}
want_keys = {k["key"]: k["partition"] for k in man["keys"]}
for msg in msgs:
    key, val, part = msg.key(), msg.value(), msg.partition()
    if key[:2] != b"\xc3\x01" or val[:2] != b"\xc3\x01":
        fail("record on partition %d is not single-object framed" % part)
    kfp, vfp = le_fp(key[2:10]), le_fp(val[2:10])
    for fp in (kfp, vfp):
        if fp not in schemas:
            fail("record uses schema %s which is not on pt.schemas" % fp)
        first_use[fp] = min(first_use.get(fp, 1 << 62), msg.timestamp()[1])
    canonical = key[10:]
    if vfp == man["envelope_fp"]:
        rows += 1
        if kfp != man["key_fp"]:
            fail("row key framed with %s, expected %s" % (kfp, man["key_fp"]))
        p = (murmur2(canonical) & 0x7FFFFFFF) % NPART
        if p != part:
            fail("key %s on partition %d, murmur2 says %d" % (canonical.hex(), part, p))
        if want_keys.get(canonical.hex()) != part:
            fail("key %s on partition %d, the producer computed %s"
                 % (canonical.hex(), part, want_keys.get(canonical.hex())))
        key_parts.setdefault(canonical, set()).add(part)
        env = decode(vfp, val[10:])
        k = decode(kfp, canonical)
        if k["source"] != "s1" or k["table"] != "accounts":
            fail("decoded key %r" % k)
        h = {n: v.decode() for n, v in (msg.headers() or [])}
        src = env["source"]
        expect = {"cdc.source": "s1", "cdc.table": "accounts", "cdc.op": env["op"],
                  "cdc.position": "%d:%d" % (src["epoch"], src["position"])}
        if h != expect:
            fail("headers %r, expected %r" % (h, expect))
        if (env["after"] is None) != (env["op"] == "d"):
            fail("after/op mismatch in %r" % env)
    elif vfp == man["control_fp"]:
        if kfp != man["control_key_fp"]:
            fail("control key framed with %s" % kfp)
        ctl = decode(vfp, val[10:])
        ck = decode(kfp, canonical)
        if ctl["partition"] != part or ck["partition"] != part or ck["source"] != "s1":
            fail("control record on partition %d says %r / key %r" % (part, ctl, ck))
        if ctl["op"] == "h":
            hb[part] = hb.get(part, 0) + 1
            b = ctl["heartbeat"]
            if (b["acked_position"], b["backlog_entries"], b["oldest_unacked_age_ms"]) != (120, 7, 1500):
                fail("heartbeat content %r" % ctl)
        elif ctl["op"] == "m":
            markers[part] = markers.get(part, 0) + 1
            e = ctl["snapshot_end"]
            if (e["table"], e["start_position"], e["rows"], ctl["epoch"]) != ("accounts", 100, len(want_keys), 3):
                fail("marker content %r" % ctl)
        else:
            fail("control op %r" % ctl["op"])
    else:
        fail("record with unknown value schema %s" % vfp)
if rows != man["rows_sent"]:
    fail("%d row records on pt.crm, %d sent" % (rows, man["rows_sent"]))
if len(key_parts) != len(want_keys):
    fail("%d distinct keys on pt.crm, %d sent" % (len(key_parts), len(want_keys)))
split = [k.hex() for k, ps in key_parts.items() if len(ps) != 1]
if split:
    fail("keys on more than one partition: %s" % split[:3])
used = {p for ps in key_parts.values() for p in ps}
if len(used) != NPART:
    fail("only partitions %s used by %d keys" % (sorted(used), len(key_parts)))
print("ok: %d rows of %d keys, each key on murmur2(canonical key) %% %d, all versions on one partition"
      % (rows, len(key_parts), NPART))
print("ok: headers cdc.source/table/op/position match every decoded envelope")
if sorted(hb) != list(range(NPART)) or set(hb.values()) != {1}:
    fail("heartbeats per partition: %r" % hb)
if sorted(markers) != list(range(NPART)) or set(markers.values()) != {1}:
    fail("snapshot end markers per partition: %r" % markers)
print("ok: one heartbeat and one snapshot end marker on each of the %d partitions" % NPART)
for fp, ts in first_use.items():
    if schema_ts[fp] > ts:
        fail("schema %s written at %d, after its first record at %d" % (fp, schema_ts[fp], ts))
print("ok: every schema was on pt.schemas before the first record using it")

# ---- dead letters ----
dl = read_topic("pt.crm.dlq", NPART)
if len(dl) != 2:
    fail("%d dead letters, expected 2" % len(dl))
for msg in dl:
    v = json.loads(msg.value())
    h = {n: x.decode() for n, x in (msg.headers() or [])}
    if v["version"] != 1 or v["stage"] != "producer" or h.get("cdc.stage") != "producer" \
            or h.get("cdc.position") != "3:120":
        fail("dead letter %r headers %r" % (v, h))
    if msg.key() is None:
        if msg.partition() != 0:
            fail("unkeyed dead letter on partition %d" % msg.partition())
    else:
        p = (murmur2(msg.key()) & 0x7FFFFFFF) % NPART
        if p != msg.partition() or v.get("column") != "amount":
            fail("keyed dead letter on partition %d, murmur2 says %d" % (msg.partition(), p))
print("ok: dead letters on their key's partition (unkeyed: 0), format version 1")
PYEOF

# ---- 6. acknowledgement waits for delivery -----------------------------------------
"$CHECK" ackdown "$work/pub.yml" "$ctl 'down all' >/dev/null" "$ctl 'up all' >/dev/null" ||
    fail "ackdown scenario"
ok "brokers down: nothing ackable; brokers up: delivered and ackable"

# ---- 7. back-pressure on a full queue ----------------------------------------------
write_config "$work/small.yml" "$BS" 6 '' '{queue.buffering.max.messages: "20"}'
"$CHECK" backpressure "$work/small.yml" "$ctl 'down all' >/dev/null" "$ctl 'up all' >/dev/null" ||
    fail "backpressure scenario"
ok "full queue: send waits (never drops) and gives up only when stopped"
echo "PASS"

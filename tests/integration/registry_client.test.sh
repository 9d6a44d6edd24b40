#!/usr/bin/env bash
# libcdc's schema registry client (libcdc/cdc_registry.c) against the stand-in that speaks
# Confluent's REST API (tests/registry_standin/registry_standin.py):
#   1. tests/tools/registry_check client: register (one HTTP request, then none: the
#      stand-in counts), same schema same id, by id (exact text), lookup, BACKWARD checks
#      (nullable column added: compatible; NOT NULL column added or type changed: not),
#      409 naming the subject and the registry's message, 404, 422, levels, 5xx twice then
#      success, a dropped connection, 5xx beyond the attempts, nothing listening;
#   2. registry_check auth against a stand-in requiring basic auth (401 without or with a
#      wrong password, never shown; URL userinfo works);
#   3. an independent decoder: registry_check encode writes records of the producer's codec
#      in the Confluent framing with ids registered under topic-record-name subjects;
#      python3-avro (Debian's, /usr/bin/python3) fetches each schema from the stand-in BY ID,
#      checks it is the exact text the codec generated, and decodes every byte.
# labels: integration quick
# timeout: 90
set -euo pipefail

: "${CDC_BUILD_DIR:?set CDC_BUILD_DIR to the build directory}"
: "${CDC_SOURCE_DIR:?set CDC_SOURCE_DIR to the source directory}"
check="$CDC_BUILD_DIR/tests/tools/registry_check"
standin="$CDC_SOURCE_DIR/tests/registry_standin/registry_standin.py"
if [[ ! -x "$check" ]]; then
    echo "FAIL: $check is not built" >&2
    exit 1
fi

work=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# start_standin NAME [ARGS...]: starts a stand-in, sets $url once it listens.
start_standin() {
    local name=$1
    shift
    /usr/bin/python3 "$standin" --port-file "$work/$name.port" "$@" \
        >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    for _ in $(seq 1 100); do
        [[ -s "$work/$name.port" ]] && break
        sleep 0.05
    done
    if [[ ! -s "$work/$name.port" ]]; then
        echo "FAIL: stand-in $name did not start" >&2
        cat "$work/$name.err" >&2
        exit 1
    fi
    url="http://127.0.0.1:$(cat "$work/$name.port")"
}

start_standin plain
"$check" client "$url"

start_standin auth --user alice --password 's3cret-pw'
"$check" auth "$url" alice 's3cret-pw' 2>"$work/auth.log"
if grep -q 's3cret-pw' "$work/auth.log"; then
    echo "FAIL: the password appears in the client's log:" >&2
    cat "$work/auth.log" >&2
    exit 1
fi

start_standin decode
mkdir "$work/enc"
"$check" encode "$url" "$work/enc"

/usr/bin/python3 - "$url" "$work/enc" <<'EOF'
import datetime
import decimal
import io
import json
import os
import struct
import sys
import urllib.request

import avro.io
import avro.schema

url, work = sys.argv[1], sys.argv[2]
with open(os.path.join(work, "manifest.json")) as f:
    manifest = json.load(f)
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL: %s" % what, file=sys.stderr)


def by_id(schema_id):
    with urllib.request.urlopen("%s/schemas/ids/%d" % (url, schema_id)) as r:
        return json.load(r)["schema"]


def subject_ids(subject):
    with urllib.request.urlopen("%s/subjects/%s/versions/latest" % (url, subject)) as r:
        return json.load(r)["id"]


schemas = {}
for kind, fname in (("key", "key_schema.json"), ("value", "envelope_schema.json")):
    sid = manifest[kind + "_id"]
    text = by_id(sid)
    with open(os.path.join(work, fname)) as f:
        check(text == f.read(), "%s schema id %d is the exact text the codec generated" % (kind, sid))
    check(subject_ids(manifest[kind + "_subject"]) == sid,
          "subject %s holds id %d" % (manifest[kind + "_subject"], sid))
    schemas[sid] = avro.schema.parse(text)
check(manifest["value_subject"] == "cdc.crm-cdc.epic7.deals_envelope",
      "value subject %s" % manifest["value_subject"])
check(manifest["key_subject"] == "cdc.crm-cdc.epic7.deals_key",
      "key subject %s" % manifest["key_subject"])


def decode(path):
    """Confluent framing: magic 0, 4-byte big-endian id, Avro binary of that schema."""
    with open(os.path.join(work, path), "rb") as f:
        data = f.read()
    check(len(data) >= 5 and data[0] == 0, "%s starts with the magic byte 0" % path)
    (sid,) = struct.unpack(">I", data[1:5])
    if sid not in schemas:  # an id we have not seen: fetch it like any consumer would
        schemas[sid] = avro.schema.parse(by_id(sid))
    buf = io.BytesIO(data[5:])
    datum = avro.io.DatumReader(schemas[sid]).read(avro.io.BinaryDecoder(buf))
    check(buf.tell() == len(data) - 5, "%s: decoded %d of %d bytes" % (path, buf.tell(), len(data) - 5))
    return sid, datum


decoded = []
for rec in manifest["records"]:
    ksid, key = decode(rec["key"])
    vsid, env = decode(rec["value"])
    check(ksid == manifest["key_id"], "%s carries the key id" % rec["key"])
    check(vsid == manifest["value_id"], "%s carries the value id" % rec["value"])
    check(env["op"] == rec["op"], "op %r" % env["op"])
    decoded.append((key, env))

check(len(decoded) == 3, "3 records")
(k0, e0), (k1, e1), (k2, e2) = decoded
check(k0 == {"source": "epic7", "table": "deals", "pk": {"id": 1, "region": "emea"}}, "key 0 %r" % k0)
check(k1["pk"] == {"id": -7, "region": "\u00e9t\u00e9"}, "key 1 %r" % k1)
check(k2 == k0, "the delete's key equals the row's")
a0 = e0["after"]
check(a0["name"] == "Acme GmbH", "name")
check(a0["amount"] == decimal.Decimal("125000.00"), "amount %r" % a0["amount"])
check(a0["price"] == 0.1 and a0["active"] is True, "price, active")
check(a0["created_at"] == datetime.datetime(2024, 3, 5, 12, 34, 56, 500000,
                                            tzinfo=datetime.timezone.utc), "created_at")
check(a0["due"] == datetime.date(2024, 3, 5), "due")
check(a0["data"] == b"\x00\x01\xff" and a0["total"] == "0.1", "data, total")
check(e0["source"]["name"] == "epic7" and e0["source"]["table"] == "deals"
      and e0["source"]["epoch"] == 3 and e0["source"]["position"] == 100
      and e0["source"]["stmt_time_us"] == 1700000000123456, "source block %r" % e0["source"])
check(e0["row_hash"] == b"\xde\xad\xbe\x00" and e0["ts_ms"] == 1700000000000, "row_hash, ts_ms")
check(e1["after"]["amount"] is None and e1["after"]["name"] == "Z\u00fcrich", "row 1 nulls")
check(e2["after"] is None and e2["row_hash"] is None and e2["op"] == "d", "delete")

print("python3-avro %s decoded %d Confluent-framed records with schemas fetched by id, %d failures"
      % (getattr(avro, "__version__", "?"), len(decoded), failures))
sys.exit(1 if failures else 0)
EOF
echo "registry_client: ok"

#!/usr/bin/env bash
# schemas/ is current and is what the producer sends:
#  1. scripts/gen-schemas.sh into a temp dir equals the committed schemas/ (every .avsc,
#     no stale or missing file); when not, fails with the command that regenerates it;
#  2. after a snapshot run over the fixtures, each .avsc's CRC-64-AVRO fingerprint of its
#     Parsing Canonical Form (computed here by python3-avro's canonical form and a CRC-64
#     written from the specification, independent of libcdc) is a key of cdc.schemas whose
#     value is the file byte for byte; every schema on cdc.schemas is a file; and every
#     record key and value on the domain topics carries (single-object header) the
#     fingerprint of one of the files.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"

regen="scripts/gen-schemas.sh $CDC_BUILD_DIR"
producer_setup_stack
dir=$CDC_TEST_TMPDIR
"$CDC_SOURCE_DIR/scripts/gen-schemas.sh" "$CDC_BUILD_DIR" "$dir/gen" > "$dir/gen.log" 2>&1 ||
    { cat "$dir/gen.log"; fail "scripts/gen-schemas.sh failed"; }
(cd "$CDC_SOURCE_DIR/schemas" && find . -name '*.avsc' | sort) > "$dir/committed.list"
(cd "$dir/gen" && find . -name '*.avsc' | sort) > "$dir/generated.list"
(( $(wc -l < "$dir/generated.list") > 100 )) ||
    fail "gen-schemas wrote only $(wc -l < "$dir/generated.list") files"
if ! diff -u "$dir/committed.list" "$dir/generated.list" > "$dir/list.diff"; then
    sed -n '3,40p' "$dir/list.diff"
    fail "schemas/ is stale (files missing or left over); regenerate with: $regen"
fi
stale=0
while IFS= read -r f; do
    cmp -s "$CDC_SOURCE_DIR/schemas/$f" "$dir/gen/$f" || { echo "differs: schemas/${f#./}"; stale=1; }
done < "$dir/generated.list"
(( stale == 0 )) || fail "schemas/ is stale; regenerate with: $regen"
echo "schemas/: $(wc -l < "$dir/generated.list") .avsc files, current"

# --write-schemas never writes to a source file (opened read-only, no capture).
producer_fixtures "$dir/data"
producer_config "$dir/pipeline.yml" "$dir/data"
(cd "$dir/data" && find . -type f | sort | xargs sha256sum) > "$dir/data.sums"
"$PRODUCER" -c "$dir/pipeline.yml" --write-schemas "$dir/ws1" 2> "$dir/ws.log" ||
    { cat "$dir/ws.log"; fail "--write-schemas failed"; }
(cd "$dir/data" && sha256sum --quiet -c "$dir/data.sums") ||
    fail "--write-schemas changed a source file"
diff -r "$dir/gen" "$dir/ws1" > /dev/null || fail "--write-schemas differs from gen-schemas.sh output"
# Config errors as in a run: a listed table missing (2), a file missing (1).
sed -i 's#- {name: twitter, #- {name: twitter, tables: [twitter_posts, no_such_table], #' "$dir/pipeline.yml"
grep -q no_such_table "$dir/pipeline.yml" || fail "test setup: could not list a missing table"
rc=0; "$PRODUCER" -c "$dir/pipeline.yml" --write-schemas "$dir/ws2" 2> "$dir/ws2.log" || rc=$?
if [[ $rc != 2 ]] || ! grep -q no_such_table "$dir/ws2.log"; then
    cat "$dir/ws2.log"; fail "missing table: exit $rc, expected 2 naming it"
fi
producer_config "$dir/pipeline.yml" "$dir/data"
mv "$dir/data/twitter_analytics.db" "$dir/twitter.db.away"
rc=0; "$PRODUCER" -c "$dir/pipeline.yml" --write-schemas "$dir/ws3" 2> "$dir/ws3.log" || rc=$?
if [[ $rc != 1 ]] || ! grep -q 'twitter_analytics.db' "$dir/ws3.log"; then
    cat "$dir/ws3.log"; fail "missing file: exit $rc, expected 1 naming it"
fi
mv "$dir/twitter.db.away" "$dir/data/twitter_analytics.db"

# A snapshot run publishes the schemas and the records.
"$PRODUCER" -c "$dir/pipeline.yml" --once 2> "$dir/producer.log" ||
    { tail -20 "$dir/producer.log"; fail "producer --once failed"; }
# With capture installed, the same schemas (capture's own _cdc_ tables are not sources).
"$PRODUCER" -c "$dir/pipeline.yml" --write-schemas "$dir/ws4" 2> "$dir/ws4.log" ||
    { cat "$dir/ws4.log"; fail "--write-schemas on captured files failed"; }
diff -r "$dir/gen" "$dir/ws4" || fail "--write-schemas differs once capture is installed"

/usr/bin/python3 - "$CDC_SOURCE_DIR/schemas" "$CDC_TEST_BOOTSTRAP" "$CDC_SOURCE_DIR/tests/tools" <<'PY'
import json, os, sys
import avro.schema
sys.path.insert(0, sys.argv[3])
from producer_topics import consume

root, bootstrap = sys.argv[1], sys.argv[2]

# CRC-64-AVRO as the Avro specification ("Schema Fingerprints") defines it.
EMPTY = 0xc15d213aa4d7a795
TABLE = []
for i in range(256):
    fp = i
    for _ in range(8):
        fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
    TABLE.append(fp)

def crc64(data):
    fp = EMPTY
    for b in data:
        fp = (fp >> 8) ^ TABLE[(fp ^ b) & 0xff]
    return fp

assert crc64(b'"int"') == 0x7275d51a3f395c8f, "CRC-64-AVRO self-check failed"

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

def simple_primitives(node):
    # python3-avro 1.11.1's canonical_form keeps {"type":"int"} when the primitive had
    # attributes (logicalType, cdc.*); the specification's [PRIMITIVES] rule (and Java's
    # SchemaNormalization) writes "int". Finish that rule here.
    if isinstance(node, dict):
        if set(node) == {"type"} and node["type"] in PRIMITIVES:
            return node["type"]
        return {k: simple_primitives(v) for k, v in node.items()}
    if isinstance(node, list):
        return [simple_primitives(v) for v in node]
    return node

def canonical(text):
    pcf = json.loads(avro.schema.parse(text).canonical_form)
    return json.dumps(simple_primitives(pcf), separators=(",", ":"), ensure_ascii=False)

files, count = {}, 0
for d, _, names in os.walk(root):
    for n in names:
        if n.endswith(".avsc"):
            p = os.path.join(d, n)
            text = open(p, "rb").read()
            pcf = canonical(text.decode())
            files["%016x" % crc64(pcf.encode())] = (os.path.relpath(p, root), text)
            count += 1
if count != len(files):
    sys.exit("two .avsc files under schemas/ have the same fingerprint")

errors = 0
recs, _ = consume(bootstrap, "cdc.schemas")
published = {}
for _, _, k, v in recs:
    published[k.decode()] = v
for fp, (name, text) in sorted(files.items(), key=lambda x: x[1][0]):
    if fp not in published:
        print("schemas/%s: fingerprint %s not on cdc.schemas" % (name, fp))
        errors += 1
    elif published[fp] != text:
        print("schemas/%s: cdc.schemas[%s] is not the file byte for byte" % (name, fp))
        errors += 1
for fp in published:
    if fp not in files:
        print("cdc.schemas[%s] has no file under schemas/" % fp)
        errors += 1
wire, n = set(), 0
for topic in ("cdc.crm", "cdc.analytics", "cdc.f500"):
    for _, _, k, v in consume(bootstrap, topic)[0]:
        for data in (k, v):
            if data[:2] != b"\xc3\x01":
                print("%s: a record without the single-object header" % topic)
                errors += 1
                continue
            wire.add("%016x" % int.from_bytes(data[2:10], "little"))
            n += 1
for fp in sorted(wire - set(files)):
    print("fingerprint %s on the wire has no file under schemas/" % fp)
    errors += 1
print("fingerprints: %d files, %d on cdc.schemas, %d distinct of %d framed keys/values on "
      "the wire, %d error(s)" % (len(files), len(published), len(wire), n, errors))
sys.exit(1 if errors else 0)
PY

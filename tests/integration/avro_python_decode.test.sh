#!/usr/bin/env bash
# An independent decoder reads what libcdc encodes: tests/tools/avro_sample writes sample
# rows, keys, envelopes and control records with their schema texts and the values they
# must decode to; python3-avro (Debian's python3-avro, not the pyenv python) parses each
# schema with avro.schema.parse, decodes each sample with avro.io.DatumReader, checks that
# every byte was consumed and compares value by value, plus a few literal values stated
# here independently of the C side.
# labels: integration quick
# timeout: 60
set -euo pipefail

: "${CDC_BUILD_DIR:?set CDC_BUILD_DIR to the build directory}"
sample="$CDC_BUILD_DIR/tests/tools/avro_sample"
if [[ ! -x "$sample" ]]; then
    echo "FAIL: $sample is not built (tests/CMakeLists.txt needs add_subdirectory(tools))" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$sample" "$work"

/usr/bin/python3 - "$work" <<'EOF'
import datetime
import decimal
import io
import json
import os
import struct
import sys

import avro.io
import avro.schema

work = sys.argv[1]
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
EPOCH_DATE = datetime.date(1970, 1, 1)


def norm(v):
    """Decoded datum -> the manifest's representation."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return ("double", struct.pack("<d", v))
    if isinstance(v, decimal.Decimal):
        return {"decimal": format(v, "f")}
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return (v - EPOCH) // datetime.timedelta(microseconds=1)
    if isinstance(v, datetime.date):
        return (v - EPOCH_DATE).days
    if isinstance(v, bytes):
        return {"hex": v.hex()}
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    raise TypeError("unexpected decoded type %r" % type(v))


def norm_expected(v):
    if isinstance(v, dict):
        if set(v) == {"double"}:
            return ("double", struct.pack("<d", float(v["double"])))
        return {k: norm_expected(x) for k, x in v.items()}
    return v


def decode(schema_file, data_file):
    with open(os.path.join(work, schema_file)) as f:
        schema = avro.schema.parse(f.read())
    with open(os.path.join(work, data_file), "rb") as f:
        data = f.read()
    buf = io.BytesIO(data)
    datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(data):
        raise AssertionError("%s: decoded %d of %d bytes" % (data_file, buf.tell(), len(data)))
    return datum


with open(os.path.join(work, "manifest.json")) as f:
    manifest = json.load(f)

failures = 0
decoded = {}
for s in manifest:
    try:
        datum = decode(s["schema"], s["data"])
        got, want = norm(datum), norm_expected(s["expected"])
        if got != want:
            raise AssertionError("decoded %r\n  expected %r" % (got, want))
        decoded[s["data"]] = datum
    except Exception as e:  # report every sample, then fail
        failures += 1
        print("FAIL %s (%s): %s" % (s["data"], s["schema"], e), file=sys.stderr)

# Literal expectations, independent of the C side's own conversion.
def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL literal: %s" % what, file=sys.stderr)

rows = [decoded.get(s["data"]) for s in manifest if s["data"].endswith("_row.bin")]
check(len(rows) == 6, "6 row samples")
if len(rows) == 6 and all(r is not None for r in rows):
    r0, r1, r2, r3, i0, i1 = rows
    check(r0["amount"] == decimal.Decimal("125000.00"), "amount 125000.00: %r" % r0["amount"])
    check(r0["price"] == 0.1, "price 0.1")
    check(r0["active"] is True, "active true")
    check(r0["created_at"] == datetime.datetime(2024, 3, 5, 12, 34, 56, 500000,
                                                tzinfo=datetime.timezone.utc),
          "created_at: %r" % r0["created_at"])
    check(r0["due"] == datetime.date(2024, 3, 5), "due 2024-03-05")
    check(r0["data"] == b"\x00\x01\xff", "blob bytes")
    check(r0["total"] == "0.1", "numeric text 0.1")
    check(r1["id"] == -2**63 and r1["amount"] is None and r1["name"] == "", "row 1 nulls")
    check(r2["id"] == 2**63 - 1, "int64 max")
    check(r2["region"] == "\u00e9t\u00e9", "utf-8 key text")
    check(r2["name"] == "Z\u00fcrich \U0001F600 \"q\"", "utf-8 text")
    check(r2["amount"] == decimal.Decimal("-999999999999.99"), "negative decimal")
    check(r2["created_at"] == datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc),
          "julian day 2415020.5 is 1900-01-01: %r" % r2["created_at"])
    check(r2["due"] == datetime.date(1899, 12, 31), "date before 1970")
    check(r2["total"] == "-12345678901234567890.5", "big numeric text")
    check(r3["amount"] == decimal.Decimal("0.05"), "0.05")
    check(struct.pack("<d", r3["price"]) == struct.pack("<d", -0.0), "negative zero double")
    check(r3["created_at"] == datetime.datetime(1969, 12, 31, 23, 59, 59, 999999,
                                                tzinfo=datetime.timezone.utc), "pre-epoch µs")
    check(r3["due"] == datetime.date(1, 1, 1), "year 1")
    check(r3["total"] == "-7", "integer in numeric")
    vals = list(i0.values())
    check(decimal.Decimal("19.9900") in vals, "mangled decimal column 19.9900: %r" % vals)
    check(datetime.date(2000, 2, 29) in vals, "leap day")
    check(decimal.Decimal("-0.0001") in list(i1.values()), "-0.0001")

envs = [decoded.get(s["data"]) for s in manifest if s["data"].endswith("_envelope.bin")]
check([e["op"] for e in envs if e] == ["c", "r", "u", "c", "d", "c", "r", "d"],
      "envelope ops: %r" % [e["op"] for e in envs if e])
check(bool(envs) and envs[-1] is not None and envs[-1]["after"] is None
      and envs[-1]["row_hash"] is None, "delete has no image")

print("%d samples decoded by python3-avro %s, %d failures" %
      (len(manifest), getattr(avro, "__version__", "?"), failures))
sys.exit(1 if failures else 0)
EOF

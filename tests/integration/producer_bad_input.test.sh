#!/usr/bin/env bash
# Bad input, one scenario each: a clear message naming the file/table/setting and the
# documented exit code (docs/producer.md "Exit codes"); a value that does not fit its
# column becomes a dead letter while the rest continues.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"

producer_setup_stack
dir=$CDC_TEST_TMPDIR
producer_fixtures "$dir/data"

# conf NAME PATH [TABLES] [EXTRA_TOP_LEVEL_YAML] [PARTITIONS] [BOOTSTRAP]: a one-source config
conf() {
    local f=$dir/$1.yml tables=${3:-'["*"]'}
    cat > "$f" <<YAML
kafka:
  bootstrap.servers: ${6:-$CDC_TEST_BOOTSTRAP}
topic_prefix: cdc
${4:-}
domains:
  - {name: crm, partitions: ${5:-6}, target: "dbname=x"}
validation: {partitions: 3}
sources:
  - {name: $1, domain: crm, path: "$2", tables: $tables}
YAML
    echo "$f"
}

# expect CODE PATTERN CONFIG: cdc-producer --once exits CODE and its log matches PATTERN.
expect() {
    local code=$1 pattern=$2 cfg=$3 rc=0 log
    log=$cfg.log
    "$PRODUCER" -c "$cfg" --once 2> "$log" || rc=$?
    [[ $rc == "$code" ]] || { cat "$log"; fail "$(basename "$cfg"): exit $rc, expected $code"; }
    grep -Eq "$pattern" "$log" || { cat "$log"; fail "$(basename "$cfg"): no message matching /$pattern/"; }
    echo "ok $(basename "$cfg" .yml): exit $rc: $(grep -E "$pattern" "$log" | head -1 | sed 's/.*msg=//' | cut -c1-180)"
}

epic7=$dir/data/epic7_sales_automation.db

expect 1 "missing\.db: No such file" "$(conf missing "$dir/missing.db")"
[[ ! -e $dir/missing.db ]] || fail "the missing file was created"

echo "just some text, not a database" > "$dir/text.db"
expect 1 "text\.db is not a SQLite database" "$(conf notadb "$dir/text.db")"

cp "$epic7" "$dir/corrupt.db"
sqlite3 "$dir/corrupt.db" "PRAGMA journal_mode=delete" > /dev/null
pagesize=$(sqlite3 "$dir/corrupt.db" "PRAGMA page_size")
head -c "$pagesize" /dev/urandom | dd of="$dir/corrupt.db" bs="$pagesize" seek=1 conv=notrunc 2>/dev/null
expect 1 "corrupt\.db is corrupt|corrupt\.db.*malformed" "$(conf corrupt "$dir/corrupt.db")"

expect 2 "no_such_table" "$(conf notable "$epic7" '["crm_contacts", "no_such_table"]')"

cp "$epic7" "$dir/fts.db"
sqlite3 "$dir/fts.db" "CREATE VIRTUAL TABLE docs USING fts5(body); INSERT INTO docs VALUES ('hello')"
expect 2 'docs.*virtual table' "$(conf virtual "$dir/fts.db" '["crm_contacts", "docs"]')"

expect 1 "Kafka cluster at 127\.0\.0\.1:1" "$(conf nobroker "$epic7" '["crm_contacts"]' '' 6 127.0.0.1:1)"
expect 1 "cdc\.crm has 6 partitions, the config says 4" "$(conf partitions "$epic7" '' '' 4)"
cfg=$(conf notopic "$epic7")
sed -i 's#^domains:#domains:\n  - {name: nosuchdomain, partitions: 2, target: "dbname=y"}#' "$cfg"
expect 1 "cdc\.nosuchdomain is missing" "$cfg"
expect 2 "enable\.idempotence" "$(conf owned "$epic7" '' 'kafka_producer: {enable.idempotence: "false"}')"

# Values that do not fit their column: dead letters, and the good rows still go through.
sqlite3 "$dir/misfit.db" <<'SQL'
CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT, d DECIMAL(4,2));
INSERT INTO t VALUES (1, 10, 'fine', 12.34);
INSERT INTO t VALUES (2, 'not a number', 'x', 1.5);
INSERT INTO t VALUES (3, 30, CAST(x'ff' AS TEXT), 2.5);
INSERT INTO t VALUES (4, 40, 'y', 123.45);
INSERT INTO t VALUES (5, 50, 'also fine', 99.99);
SQL
expect 0 "dead letter" "$(conf misfit "$dir/misfit.db")"
pycheck dlq "$dir/misfit.yml" > "$dir/dlq.jsonl"
cat "$dir/dlq.jsonl"
/usr/bin/python3 - "$dir/dlq.jsonl" <<'PY'
import json, sys
dl = [json.loads(l)["value"] for l in open(sys.argv[1])]
got = sorted((d["key"]["id"], d["column"]) for d in dl)
assert got == [(2, "n"), (3, "s"), (4, "d")], got
for d in dl:
    assert d["version"] == 1 and d["stage"] == "producer", d
    assert d["source"] == "misfit" and d["table"] == "t", d
    assert d["position"]["epoch"] >= 1 and "reason" in d and d["reason"], d
print("ok dead letters: 3 misfits (INTEGER text, invalid UTF-8, DECIMAL(4,2) overflow) named")
PY
n=$(kcat -b "$CDC_TEST_BOOTSTRAP" -C -t cdc.crm -e -q -f '%h\n' 2>/dev/null | grep -c 'cdc.source=misfit.*cdc.op=r' || true)
[[ $n == 2 ]] || fail "expected the 2 fitting rows on cdc.crm, found $n"
echo "ok: the 2 fitting rows were published"

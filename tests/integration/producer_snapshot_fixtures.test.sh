#!/usr/bin/env bash
# The snapshot of every fixture database, read back by an independent client: each record
# decoded by python3-avro with only the schema JSON of <prefix>.schemas; exactly one 'r'
# record per source row, every value equal to SQLite's, an end marker for every table on
# every partition, heartbeats on every partition. A second --once changes nothing.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"

producer_setup_stack
producer_fixtures "$CDC_TEST_TMPDIR/data"
producer_config "$CDC_TEST_TMPDIR/pipeline.yml" "$CDC_TEST_TMPDIR/data"

start=$(date +%s%N)
"$PRODUCER" -c "$CDC_TEST_TMPDIR/pipeline.yml" --once 2> "$CDC_TEST_TMPDIR/producer.log" ||
    { tail -30 "$CDC_TEST_TMPDIR/producer.log"; fail "cdc-producer --once failed"; }
echo "snapshot of 20 files: $(( ($(date +%s%N) - start) / 1000000 )) ms"
grep -o 'longest write-lock hold [0-9.]* ms' "$CDC_TEST_TMPDIR/producer.log"

pycheck snapshot "$CDC_TEST_TMPDIR/pipeline.yml"

# A second run has nothing to snapshot and nothing to stream: no new row records.
before=$(topic_rows "$CDC_TEST_TMPDIR/pipeline.yml")
"$PRODUCER" -c "$CDC_TEST_TMPDIR/pipeline.yml" --once 2> "$CDC_TEST_TMPDIR/producer2.log" ||
    { tail -30 "$CDC_TEST_TMPDIR/producer2.log"; fail "second --once failed"; }
after=$(topic_rows "$CDC_TEST_TMPDIR/pipeline.yml")
[[ $before == "$after" ]] || fail "second --once sent records again ($before -> $after)"
echo "ok: second run sent nothing new ($after row records)"

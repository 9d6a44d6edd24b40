#!/usr/bin/env bash
# Invariant 6's gap: records removed from a partition before the sink applied them.
#  1. > 5 MiB of incompressible rows to the 1-partition topic st.big: the devbroker drops
#     the oldest batches, so the partition starts above offset 0; a sink that never applied
#     anything (stored offset 0) stops with exit 1 naming the topic, partition, the missing
#     range [0, low) and the way out (re-snapshot); it applies nothing;
#  2. once the stored offset is moved to the low watermark (the documented way out after
#     a re-snapshot), the same worker applies the rest and exits 0;
#  3. a stored offset beyond the partition's end (the topic lost records) also stops it.
# labels: integration quick
# timeout: 300
set -euo pipefail
# shellcheck source=sink_kafka_common.sh
source "$CDC_SOURCE_DIR/tests/integration/sink_kafka_common.sh"

sk_up
"$FEED" rows "$CFG" big1 blobs 1 70 1 c # 70 x 100 KiB
low=$("$PY" - "$BS" <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "sk-probe"})
print(c.get_watermark_offsets(TopicPartition("st.big", 0), timeout=10)[0])
c.close()
EOF
)
((low > 0)) || fail "the devbroker kept everything (low watermark $low): the test needs more data"

sk_sink --domain big --once
[[ $rc == 1 ]] || fail "cdc-sink exited $rc on a gap, expected 1: $(tail -5 "$CDC_TEST_TMPDIR/sink.err")"
err=$(cat "$CDC_TEST_TMPDIR/sink.err")
grep -q "GAP in st.big \[0\]" <<<"$err" || fail "gap message does not name st.big [0]: $err"
grep -q "offsets \[0, $low)" <<<"$err" || fail "gap message does not name [0, $low): $err"
grep -q "re-snapshot" <<<"$err" || fail "gap message does not give the way out: $err"
[[ $(cdc_psql sink "SELECT count(*) FROM pg_tables WHERE tablename = 'blobs'") == 0 ]] ||
    fail "rows were applied past a gap"
ok "gap stops the worker: $(grep -o 'GAP in [^:]*: [^.]*' <<<"$err" | head -1)"

cdc_psql sink "UPDATE _cdc_offsets SET next_offset = $low WHERE domain = 'big'"
sk_sink --domain big --once
[[ $rc == 0 ]] || fail "after moving the stored offset: exit $rc: $(tail -5 "$CDC_TEST_TMPDIR/sink.err")"
[[ $(cdc_psql sink "SELECT count(*) FROM blobs") == $((70 - low)) ]] ||
    fail "blobs: $(cdc_psql sink "SELECT count(*) FROM blobs"), expected $((70 - low))"
[[ $(cdc_psql sink "SELECT min(id) FROM blobs") == $((low + 1)) ]] || fail "wrong rows applied"
ok "after the way out the remaining $((70 - low)) rows are applied"

cdc_psql sink "UPDATE _cdc_offsets SET next_offset = 1000 WHERE domain = 'big'"
sk_sink --domain big --once
[[ $rc == 1 ]] || fail "stored offset beyond the end: exit $rc"
grep -q "st.big \[0\]: the stored offset 1000 is beyond the end of the partition (70)" \
    "$CDC_TEST_TMPDIR/sink.err" || fail "beyond-end message: $(tail -3 "$CDC_TEST_TMPDIR/sink.err")"
ok "a stored offset beyond the partition's end stops the worker"

# shellcheck shell=bash
# Shared by tests/integration/sink_kafka_*.test.sh: a stack (PostgreSQL + devbroker with
# the topics of a small pipeline), its config, and helpers around cdc-sink and sink_feed.
#
#   source "$CDC_SOURCE_DIR/tests/integration/sink_kafka_common.sh"
#   sk_up            brings the stack up, writes $CFG (prefix st, domains crm:6 and big:1,
#                    both into database "sink"), exports SINK, FEED, BS
#   sk_offsets_sum DOMAIN_TOPIC   sum of high watermarks of a topic (Python client)
: "${CDC_SOURCE_DIR:?CDC_SOURCE_DIR must point at the source tree}"
: "${CDC_BUILD_DIR:?CDC_BUILD_DIR must point at the build tree}"
SINK=$CDC_BUILD_DIR/consumers/cdc-sink
FEED=$CDC_BUILD_DIR/tests/tools/sink_feed
PY=/usr/bin/python3
[[ -x $SINK ]] || { echo "FAIL: $SINK not built" >&2; exit 1; }
[[ -x $FEED ]] || { echo "FAIL: $FEED not built" >&2; exit 1; }
# shellcheck source=../harness/stack.sh
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# sk_write_config FILE BOOTSTRAP PG_CONNINFO
sk_write_config() {
    cat >"$1" <<EOF
kafka:
  bootstrap.servers: "$2"
topic_prefix: st
sources:
  - name: s1
    path: s1.db
    domain: crm
  - name: big1
    path: big1.db
    domain: big
domains:
  - name: crm
    partitions: 6
    target: "$3"
  - name: big
    partitions: 1
    target: "$3"
validation: {partitions: 3}
EOF
}

sk_up() {
    local broker_cfg
    broker_cfg=$(mktemp /tmp/sk-broker.XXXXXX.yml)
    sk_write_config "$broker_cfg" 127.0.0.1:1 "dbname=unused"
    cdc_stack_up --config "$broker_cfg"
    rm -f "$broker_cfg"
    cdc_pg_createdb sink
    BS=$CDC_TEST_BOOTSTRAP
    CFG=$CDC_TEST_TMPDIR/pipeline.yml
    sk_write_config "$CFG" "$BS" "$(cdc_pg_conninfo sink)"
    export BS CFG
}

# sk_hwm_sum TOPIC: the sum of the high watermarks of every partition of TOPIC.
sk_hwm_sum() {
    "$PY" - "$BS" "$1" <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "sk-probe"})
md = c.list_topics(sys.argv[2], timeout=10)
total = 0
for p in md.topics[sys.argv[2]].partitions:
    lo, hi = c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=10)
    total += hi
c.close()
print(total)
EOF
}

# sk_sink ARGS...: runs cdc-sink with the config and a bound on its run time; the exit
# status is in $rc, stderr in $CDC_TEST_TMPDIR/sink.err.
sk_sink() {
    # shellcheck disable=SC2034 # rc is the result the tests read
    rc=0
    timeout -k 5 120 "$SINK" -c "$CFG" "$@" 2>"$CDC_TEST_TMPDIR/sink.err" || rc=$?
}

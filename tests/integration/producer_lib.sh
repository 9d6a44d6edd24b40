# Shared by the producer_*.test.sh tests (sourced, not a test itself).
PRODUCER=$CDC_BUILD_DIR/producer/cdc-producer
FIXTURES=$CDC_BUILD_DIR/tools/fixtures/cdc-fixtures
WORKLOAD=$CDC_BUILD_DIR/tools/workload/cdc-workload
pycheck() { /usr/bin/python3 "$CDC_SOURCE_DIR/tests/tools/producer_topics.py" "$@"; }
export CDC_STACK_QUIET=1

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# A devbroker with the example pipeline's topics.
producer_setup_stack() {
    cdc_stack_up --no-pg --config "$CDC_SOURCE_DIR/config/pipeline.example.yml"
}

producer_fixtures() {
    "$FIXTURES" --out "$1" "${@:2}" > /dev/null 2> "$1.fixtures.log" || { cat "$1.fixtures.log"; fail "cdc-fixtures failed"; }
}

# producer_config OUT DATA_DIR: the example pipeline over DATA_DIR and the test broker
# (the state directory defaults to cdc-state next to OUT).
producer_config() {
    sed -e "s#\${CDC_DATA_DIR:-../demo-data}#$2#" \
        -e "s#\${CDC_BOOTSTRAP:-127.0.0.1:9092}#$CDC_TEST_BOOTSTRAP#" \
        "$CDC_SOURCE_DIR/config/pipeline.example.yml" > "$1"
}

# Number of row records on the domain topics (high watermarks minus control records is
# not needed: compare the same measure before and after).
topic_rows() {
    local n=0 t
    for t in cdc.crm cdc.analytics cdc.f500; do
        n=$(( n + $(kcat -b "$CDC_TEST_BOOTSTRAP" -C -t "$t" -e -q -f '%h\n' 2>/dev/null |
                      grep -c 'cdc.op=[cudr]' || true) ))
    done
    echo "$n"
}

# producer_add_scale_source CONFIG DATA_DIR: adds DATA_DIR/scale/crm_contacts_scale.db
# (cdc-fixtures --scale) as source "scale", so a snapshot takes long enough to be hit.
producer_add_scale_source() {
    sed -i "s#^sources:#sources:\n  - {name: scale, domain: crm, table_prefix: scale_, path: \"$2/scale/crm_contacts_scale.db\"}#" "$1"
}

# producer_one_source_config NAME PATH: a config with one crm source NAME at PATH, written
# to $CDC_TEST_TMPDIR/NAME.yml (printed).
producer_one_source_config() {
    local f=$CDC_TEST_TMPDIR/$1.yml
    cat > "$f" <<YAML
kafka:
  bootstrap.servers: $CDC_TEST_BOOTSTRAP
topic_prefix: cdc
domains:
  - {name: crm, partitions: 6, target: "dbname=x"}
validation: {partitions: 3}
sources:
  - {name: $1, domain: crm, path: "$2"}
YAML
    echo "$f"
}

# wait_for_log FILE PATTERN [COUNT] [SECONDS]: waits until PATTERN occurs COUNT times.
wait_for_log() {
    local i
    for i in $(seq 1 $(( ${4:-30} * 10 ))); do
        (( $(grep -Ec "$2" "$1" || true) >= ${3:-1} )) && return 0
        sleep 0.1
    done
    tail -20 "$1"
    fail "timed out waiting for /$2/ in $1"
}

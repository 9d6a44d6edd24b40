#!/usr/bin/env bash
# cdc-ctl topics against the devbroker: CreateTopics is unsupported there, which must be
# reported as such while the topics are still verified (exit 0 when they match); a topic
# with another partition count and a missing topic are reported (exit 1); usage errors
# exit 2.
# labels: integration quick
# timeout: 120
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
export CDC_STACK_QUIET=1
CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

cdc_stack_up --no-pg --config "$CDC_SOURCE_DIR/config/pipeline.example.yml"
CFG=$CDC_TEST_TMPDIR/pipeline.yml
sed -e "s#\${CDC_BOOTSTRAP:-127.0.0.1:9092}#$CDC_TEST_BOOTSTRAP#" \
    -e "s#\${CDC_DATA_DIR:-../demo-data}#$CDC_TEST_TMPDIR#" \
    "$CDC_SOURCE_DIR/config/pipeline.example.yml" >"$CFG"

rc=0
"$CTL" topics -c "$CFG" --timeout 5 >"$CDC_TEST_TMPDIR/out" 2>"$CDC_TEST_TMPDIR/err" || rc=$?
cat "$CDC_TEST_TMPDIR/out" "$CDC_TEST_TMPDIR/err"
[[ $rc == 0 ]] || fail "topics exited $rc on the devbroker with matching topics"
grep -q "the broker does not support CreateTopics" "$CDC_TEST_TMPDIR/err" ||
    fail "the unsupported CreateTopics was not reported"
grep -q "cdc-devbroker creates topics with -c CONFIG" "$CDC_TEST_TMPDIR/err" || fail "no hint"
[[ $(grep -c ' exists$' "$CDC_TEST_TMPDIR/out") == 8 ]] || fail "expected 8 verified topics"
grep -qx "cdc.crm 6 6 exists" "$CDC_TEST_TMPDIR/out" || fail "cdc.crm not verified"
grep -qx "cdc.schemas 1 1 exists" "$CDC_TEST_TMPDIR/out" || fail "cdc.schemas not verified"
ok "devbroker: CreateTopics unsupported, reported; 8 topics verified, exit 0"

"$CTL" topics -c "$CFG" --verify-only >"$CDC_TEST_TMPDIR/out" 2>&1 || fail "--verify-only failed"
! grep -q CreateTopics "$CDC_TEST_TMPDIR/out" || fail "--verify-only tried CreateTopics"
ok "--verify-only"

# Another partition count for crm, and a domain whose topics do not exist.
sed -e '0,/partitions: 6/s//partitions: 4/' "$CFG" >"$CDC_TEST_TMPDIR/bad.yml"
sed -i 's#^validation:#  - {name: extra, partitions: 2, target: "dbname=x"}\nvalidation:#' "$CDC_TEST_TMPDIR/bad.yml"
rc=0
"$CTL" topics -c "$CDC_TEST_TMPDIR/bad.yml" --verify-only >"$CDC_TEST_TMPDIR/out" 2>"$CDC_TEST_TMPDIR/err" || rc=$?
cat "$CDC_TEST_TMPDIR/out" "$CDC_TEST_TMPDIR/err"
[[ $rc == 1 ]] || fail "differences gave exit $rc, expected 1"
grep -qx "cdc.crm 4 6 MISMATCH" "$CDC_TEST_TMPDIR/out" || fail "crm mismatch not reported"
grep -qx "cdc.extra 2 0 missing" "$CDC_TEST_TMPDIR/out" || fail "missing topic not reported"
grep -q "topic cdc.crm has 6 partitions, the config says 4" "$CDC_TEST_TMPDIR/err" || fail "no mismatch message"
ok "mismatch and missing topics: exit 1, named"

"$CTL" topics --help | grep -q "replication-factor" || fail "--help"
rc=0; "$CTL" topics -c "$CFG" --replication-factor 0 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "bad --replication-factor exit $rc"
rc=0; "$CTL" topics 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "missing -c exit $rc"
rc=0; "$CTL" nosuch 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "unknown subcommand exit $rc"
ok "usage errors exit 2"

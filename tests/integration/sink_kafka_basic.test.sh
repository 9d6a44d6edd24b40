#!/usr/bin/env bash
# cdc-sink's Kafka side against a devbroker and PostgreSQL (records published by
# tests/tools/sink_feed as the producer would):
#  1. --help documents every option and the exit codes; bad options and values, a missing
#     -c/--domain and a domain not in the config exit 2 naming the problem;
#  2. `cdc-sink --once` applies two tables of rows (inserts, updates, deletes) on 6
#     partitions: PostgreSQL holds exactly the newest version of every key, at its
#     position; deletes leave tombstones; heartbeats and snapshot markers are recorded;
#     _cdc_offsets ends at every partition's high watermark;
#  3. garbage bytes, an unknown fingerprint and a Confluent-framed record land in
#     st.crm.dlq (read with kcat) with the documented JSON and headers, on the partition
#     they came from, and their partitions continue;
#  4. a second --once is a no-op (stored offsets: nothing re-applied, no new dead letters);
#     new records are picked up by a third run;
#  5. fencing: a running worker whose partition's stored offset was moved under it (as
#     another owner would) drops its batch, re-reads the stored offset, seeks there and
#     goes on; every row arrives and the offsets end at the high watermarks.
# labels: integration quick
# timeout: 300
set -euo pipefail
# shellcheck source=sink_kafka_common.sh
source "$CDC_SOURCE_DIR/tests/integration/sink_kafka_common.sh"

# ---- 1. CLI ------------------------------------------------------------------------
"$SINK" --help >"${TMPDIR:-/tmp}/sk-help.$$" || fail "--help exited non-zero"
help=$(cat "${TMPDIR:-/tmp}/sk-help.$$")
rm -f "${TMPDIR:-/tmp}/sk-help.$$"
for opt in --config --domain --once --batch-rows --batch-ms --log-level --log-format --help \
    "Exit codes"; do
    grep -q -- "$opt" <<<"$help" || fail "--help does not mention $opt"
done
ok "--help documents every option"
expect_usage() { # expect_usage PATTERN ARGS...
    local pat=$1 rc=0
    shift
    "$SINK" "$@" >/dev/null 2>"${TMPDIR:-/tmp}/sk-err.$$" || rc=$?
    local err
    err=$(cat "${TMPDIR:-/tmp}/sk-err.$$")
    rm -f "${TMPDIR:-/tmp}/sk-err.$$"
    [[ $rc == 2 ]] || fail "cdc-sink $* exited $rc, expected 2 ($err)"
    grep -q -- "$pat" <<<"$err" || fail "cdc-sink $*: message '$err' lacks '$pat'"
}
expect_usage "unknown option --bogus" --bogus
expect_usage "domain is required" -c /nonexistent.yml
expect_usage "--batch-rows" -c x.yml --domain crm --batch-rows 0
expect_usage "--batch-ms" -c x.yml --domain crm --batch-ms abc
expect_usage "--log-level" -c x.yml --domain crm --log-level loud
expect_usage "needs a value" -c x.yml --domain
expect_usage "/nonexistent.yml" -c /nonexistent.yml --domain crm
ok "bad options exit 2"

sk_up
expect_usage 'domain "nope" is not in the config' -c "$CFG" --domain nope
ok "unknown domain exits 2"

# ---- 2. rows -----------------------------------------------------------------------
"$FEED" rows "$CFG" s1 accounts 1 200 1 c
"$FEED" rows "$CFG" s1 notes 1 100 1 r
"$FEED" rows "$CFG" s1 accounts 1 50 2 u
"$FEED" rows "$CFG" s1 notes 1 10 2 d
"$FEED" control "$CFG" s1 notes 1 100
"$FEED" raw "$CFG" st.crm 2 garbage
"$FEED" raw "$CFG" st.crm 4 unknownfp
"$FEED" raw "$CFG" st.crm 1 confluent
"$FEED" rows "$CFG" s1 accounts 51 10 2 u # after the dead letters on their partitions
end=$(sk_hwm_sum st.crm)
[[ $end == $((200 + 100 + 50 + 10 + 6 * 2 + 3 + 10)) ]] || fail "st.crm holds $end records"

sk_sink --domain crm --once --batch-rows 37
[[ $rc == 0 ]] || fail "cdc-sink --once exited $rc: $(tail -20 "$CDC_TEST_TMPDIR/sink.err")"
ok "cdc-sink --once exit 0"

q() { cdc_psql sink "$1"; }
[[ $(q "SELECT count(*) FROM accounts") == 200 ]] || fail "accounts: $(q "SELECT count(*) FROM accounts") rows"
[[ $(q "SELECT sum(balance) FROM accounts") == 20102.60 ]] ||
    fail "accounts balance sum $(q "SELECT sum(balance) FROM accounts")"
bad=$(q "SELECT count(*) FROM accounts WHERE _cdc_pos <> CASE WHEN id <= 60 THEN 2000000 + id
         ELSE 1000000 + id END OR name <> 'acct-' || id || '-v' || CASE WHEN id <= 60 THEN 2
         ELSE 1 END OR _cdc_epoch <> 1 OR _cdc_source <> 's1'")
[[ $bad == 0 ]] || fail "$bad accounts rows not at their newest version"
[[ $(q "SELECT count(*) FROM notes") == 90 ]] || fail "notes: $(q "SELECT count(*) FROM notes") rows"
[[ $(q "SELECT count(*) FROM notes WHERE n <= 10") == 0 ]] || fail "deleted notes still there"
[[ $(q "SELECT count(*) FROM notes WHERE data = '\\x00ff'::bytea || set_byte('\\x00'::bytea, 0, (n % 256)::int)
        AND region = 'r' || (n % 3) AND body = 'note ' || n || ' v1'") == 90 ]] ||
    fail "notes values differ"
[[ $(q "SELECT count(*) FROM _cdc_tombstones WHERE target_table = 'notes'") == 10 ]] ||
    fail "tombstones: $(q "SELECT count(*) FROM _cdc_tombstones")"
[[ $(q "SELECT count(*) FROM _cdc_heartbeats WHERE domain = 'crm' AND source = 's1'") == 6 ]] ||
    fail "heartbeats: $(q "SELECT count(*) FROM _cdc_heartbeats")"
[[ $(q "SELECT sum(next_offset) FROM _cdc_offsets WHERE domain = 'crm' AND topic = 'st.crm'") == "$end" ]] ||
    fail "stored offsets $(q "SELECT kpartition, next_offset FROM _cdc_offsets")"
ok "PostgreSQL holds the newest version of every key; offsets at the end ($end)"

# ---- 3. dead letters ---------------------------------------------------------------
kcat -C -b "$BS" -t st.crm.dlq -e -q -J >"$CDC_TEST_TMPDIR/dlq.json"
"$PY" - "$CDC_TEST_TMPDIR/dlq.json" <<'EOF' || fail "dead letters differ"
import base64, json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(msgs) == 3, f"{len(msgs)} dead letters: {msgs}"
want = {2: (b"this is not avro", "neither Avro single-object nor Confluent framed"),
        4: (bytes.fromhex("c301deadbeef010203040263"),
            "unknown schema fingerprint 04030201efbeadde"),
        1: (bytes.fromhex("00000000070263"), "Confluent framed (schema id 7)")}
for m in msgs:
    v = json.loads(m["payload"])
    o = v["origin"]
    payload, reason = want[o["partition"]]
    assert m["partition"] == o["partition"], m
    assert m["key"] == "rawkey", m
    assert v["version"] == 1 and v["stage"] == "sink", v
    assert o["topic"] == "st.crm" and isinstance(o["offset"], int), v
    assert reason in v["reason"], v
    assert base64.b64decode(v["payload_base64"]) == payload, v
    assert "source" not in v and "key" not in v, v
    h = {}
    for i in range(0, len(m.get("headers") or []), 2):
        h[m["headers"][i]] = m["headers"][i + 1]
    assert h.get("cdc.stage") == "sink" and reason in h.get("cdc.reason", ""), m
print("dead letters ok")
EOF
[[ $(q "SELECT count(*) FROM _cdc_dead_letters WHERE domain = 'crm'") == 3 ]] ||
    fail "_cdc_dead_letters: $(q "SELECT koffset, reason FROM _cdc_dead_letters")"
ok "3 dead letters in st.crm.dlq with the documented JSON; partitions 1, 2, 4 continued"

# ---- 4. second run is a no-op; new records are picked up ---------------------------
before=$(q "SELECT string_agg(kpartition || ':' || next_offset || ':' || updated_at, ',' ORDER BY kpartition)
            FROM _cdc_offsets WHERE domain = 'crm'")
sk_sink --domain crm --once
[[ $rc == 0 ]] || fail "second --once exited $rc: $(tail -5 "$CDC_TEST_TMPDIR/sink.err")"
after=$(q "SELECT string_agg(kpartition || ':' || next_offset || ':' || updated_at, ',' ORDER BY kpartition)
           FROM _cdc_offsets WHERE domain = 'crm'")
[[ $before == "$after" ]] || fail "second run moved offsets: $before -> $after"
grep -q " 0 batches, 0 rows applied" "$CDC_TEST_TMPDIR/sink.err" ||
    fail "second run applied something: $(grep batches "$CDC_TEST_TMPDIR/sink.err")"
[[ $(kcat -C -b "$BS" -t st.crm.dlq -e -q | wc -l) == 3 ]] || fail "second run added dead letters"
ok "second --once is a no-op"

"$FEED" rows "$CFG" s1 accounts 201 50 1 c
sk_sink --domain crm --once
[[ $rc == 0 ]] || fail "third --once exited $rc"
[[ $(q "SELECT count(*) FROM accounts") == 250 ]] || fail "new rows not applied"
[[ $(q "SELECT sum(next_offset) FROM _cdc_offsets WHERE domain = 'crm'") == "$(sk_hwm_sum st.crm)" ]] ||
    fail "offsets not at the end after the third run"
ok "third --once applied the 50 new rows"

# ---- 5. fenced batch -----------------------------------------------------------------
"$SINK" -c "$CFG" --domain crm --batch-ms 20 2>"$CDC_TEST_TMPDIR/worker.err" &
worker=$!
cdc_stack_on_down "kill $worker 2>/dev/null; wait $worker 2>/dev/null"
for _ in $(seq 1 300); do
    [[ $(grep -c "assigned st.crm \[" "$CDC_TEST_TMPDIR/worker.err" || true) == 6 ]] && break
    sleep 0.1
done
back=$(q "SELECT next_offset - 5 FROM _cdc_offsets WHERE domain = 'crm' AND kpartition = 0")
q "UPDATE _cdc_offsets SET next_offset = $back WHERE domain = 'crm' AND kpartition = 0" >/dev/null
"$FEED" rows "$CFG" s1 accounts 251 60 1 c
end=$(sk_hwm_sum st.crm)
for _ in $(seq 1 300); do
    [[ $(q "SELECT sum(next_offset) FROM _cdc_offsets WHERE domain = 'crm'") == "$end" ]] && break
    sleep 0.1
done
kill -TERM $worker
rc=0
wait $worker || rc=$?
[[ $rc == 0 ]] || fail "worker exited $rc after SIGTERM: $(tail -5 "$CDC_TEST_TMPDIR/worker.err")"
grep -q "st.crm \[0\]: batch at offset [0-9]* fenced" "$CDC_TEST_TMPDIR/worker.err" ||
    fail "no fenced batch on partition 0: $(grep -c . "$CDC_TEST_TMPDIR/worker.err") log lines"
[[ $(q "SELECT sum(next_offset) FROM _cdc_offsets WHERE domain = 'crm'") == "$end" ]] ||
    fail "offsets did not reach $end after the fence"
[[ $(q "SELECT count(*) FROM accounts") == 310 ]] || fail "accounts: $(q "SELECT count(*) FROM accounts")"
ok "a fenced batch is dropped, the worker re-reads the stored offset and catches up"

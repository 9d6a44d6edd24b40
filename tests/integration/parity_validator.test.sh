#!/usr/bin/env bash
# Parity results from the sink's outbox to cdc-validator's state (docs/parity.md):
#  1. --help documents every option and the exit codes; bad options exit 2;
#  2. rows applied by `cdc-sink --once` reach `cdc-validator --once`: per table rows_seen
#     and matches/superseded equal the sink's outbox, 0 mismatches, last position the
#     newest; every outbox row is marked sent; the validation topic holds far fewer
#     records than the domain topic (one per batch and table);
#  3. a replay (stored offsets reset to 0, cdc-sink --once again) adds only `superseded`,
#     never `mismatch`;
#  4. a target trigger that alters a value on write: the sink's read-back hash differs,
#     the validator counts exactly one mismatch, stores it with its key and logs it at
#     error level with the key;
#  5. records published twice (CDC_SINK_CRASH_BEFORE_MARK: a sink killed between Kafka's
#     confirmation and marking the rows sent) are counted once;
#  6. a second `cdc-validator --once` finds nothing new (its offsets are stored).
# labels: integration quick
# timeout: 300
set -euo pipefail
# shellcheck source=sink_kafka_common.sh
source "$CDC_SOURCE_DIR/tests/integration/sink_kafka_common.sh"
VALIDATOR=$CDC_BUILD_DIR/consumers/cdc-validator
[[ -x $VALIDATOR ]] || fail "$VALIDATOR not built"

# ---- 1. CLI ------------------------------------------------------------------------
help=$("$VALIDATOR" --help) || fail "--help exited non-zero"
for opt in --config --once --domain --audit --json --source --table --max-keys --batch-records \
    --batch-ms --log-level --log-format --help "Exit codes"; do
    grep -q -- "$opt" <<<"$help" || fail "--help does not mention $opt"
done
expect_usage() { # expect_usage PATTERN ARGS...
    local pat=$1 rc=0 err
    shift
    err=$("$VALIDATOR" "$@" 2>&1 >/dev/null) || rc=$?
    [[ $rc == 2 ]] || fail "cdc-validator $* exited $rc, expected 2 ($err)"
    grep -q -- "$pat" <<<"$err" || fail "cdc-validator $*: message '$err' lacks '$pat'"
}
expect_usage "unknown option --bogus" --bogus
expect_usage "config is required" --once
expect_usage "--json is an option of --audit" -c x.yml --json
expect_usage "--batch-records" -c x.yml --batch-records 0
expect_usage "needs a value" -c x.yml --domain
expect_usage "/nonexistent.yml" -c /nonexistent.yml
ok "--help documents every option; bad options exit 2"

sk_up
expect_usage 'domain "nope" is not in the config' -c "$CFG" --domain nope

q() { cdc_psql sink "$1"; }
vrun() { # cdc-validator --once; status in $rc, stderr in validator.err
    rc=0
    timeout -k 5 120 "$VALIDATOR" -c "$CFG" --once 2>"$CDC_TEST_TMPDIR/validator.err" || rc=$?
    [[ $rc == 0 ]] || fail "cdc-validator --once exited $rc: $(tail -5 "$CDC_TEST_TMPDIR/validator.err")"
}
state() { # state TABLE COLUMN
    q "SELECT coalesce(sum($2), 0) FROM _cdc_parity_state WHERE domain = 'crm' AND source = 's1'
       AND source_table = '$1'"
}
outbox() { # outbox TABLE [STATUS]
    local cond=""
    [[ -z ${2:-} ]] || cond="AND status = '$2'"
    # A row stands for `results` results (matches and superseded are counted per batch).
    q "SELECT coalesce(sum(results), 0) FROM _cdc_parity_outbox WHERE domain = 'crm'
       AND source_table = '$1' $cond"
}
check_state_equals_outbox() {
    local t col st
    for t in accounts notes; do
        [[ $(state "$t" rows_seen) == "$(outbox "$t")" ]] ||
            fail "$t: rows_seen $(state "$t" rows_seen), outbox $(outbox "$t")"
        for col in matches:match superseded:superseded mismatches:mismatch \
            dead_letters:dead_letter; do
            st=${col#*:}
            [[ $(state "$t" "${col%%:*}") == "$(outbox "$t" "$st")" ]] ||
                fail "$t: ${col%%:*} $(state "$t" "${col%%:*}"), outbox $st $(outbox "$t" "$st")"
        done
    done
    [[ $(q "SELECT count(*) FROM _cdc_parity_outbox WHERE NOT sent") == 0 ]] ||
        fail "$(q "SELECT count(*) FROM _cdc_parity_outbox WHERE NOT sent") outbox rows unsent"
}

# ---- 2. rows -> parity state ---------------------------------------------------------
"$FEED" rows "$CFG" s1 accounts 1 200 1 c
"$FEED" rows "$CFG" s1 notes 1 100 1 r
"$FEED" rows "$CFG" s1 accounts 1 50 2 u
"$FEED" rows "$CFG" s1 notes 1 10 2 d
sk_sink --domain crm --once --batch-rows 40
[[ $rc == 0 ]] || fail "cdc-sink --once exited $rc: $(tail -5 "$CDC_TEST_TMPDIR/sink.err")"
grep -q "360 parity results published" "$CDC_TEST_TMPDIR/sink.err" ||
    fail "sink did not publish 360 results: $(grep parity "$CDC_TEST_TMPDIR/sink.err")"
vrun
[[ $(state accounts rows_seen) == 250 && $(state notes rows_seen) == 110 ]] ||
    fail "rows_seen accounts $(state accounts rows_seen) notes $(state notes rows_seen)"
check_state_equals_outbox
[[ $(q "SELECT sum(mismatches) FROM _cdc_parity_state") == 0 ]] || fail "mismatches found"
# Every key's newest version is a match (200 accounts, 90 live notes + 10 deletes).
(($(state accounts matches) >= 200 && $(state notes matches) >= 100)) ||
    fail "matches accounts $(state accounts matches) notes $(state notes matches)"
[[ $(q "SELECT last_epoch || ':' || last_pos FROM _cdc_parity_state WHERE source_table = 'accounts'") == 1:2000050 ]] ||
    fail "accounts last position $(q "SELECT last_epoch, last_pos FROM _cdc_parity_state")"
[[ $(q "SELECT last_epoch || ':' || last_pos FROM _cdc_parity_state WHERE source_table = 'notes'") == 1:2000010 ]] ||
    fail "notes last position $(q "SELECT last_epoch, last_pos FROM _cdc_parity_state")"
vrecs=$(sk_hwm_sum st.validation)
((vrecs > 0 && vrecs * 10 < 360)) || fail "$vrecs validation records for 360 results"
ok "360 results in $vrecs validation records; state equals the outbox, 0 mismatches"

# ---- 3. replay: superseded, never mismatch ----------------------------------------------
matches_before=$(q "SELECT sum(matches) FROM _cdc_parity_state")
sup_before=$(q "SELECT sum(superseded) FROM _cdc_parity_state")
q "UPDATE _cdc_offsets SET next_offset = 0 WHERE domain = 'crm'" >/dev/null
sk_sink --domain crm --once --batch-rows 40
[[ $rc == 0 ]] || fail "replay cdc-sink --once exited $rc"
vrun
[[ $(q "SELECT sum(superseded) FROM _cdc_parity_state") == $((sup_before + 360)) ]] ||
    fail "replay: superseded $(q "SELECT sum(superseded) FROM _cdc_parity_state"), expected $((sup_before + 360))"
[[ $(q "SELECT sum(matches) FROM _cdc_parity_state") == "$matches_before" ]] || fail "replay added matches"
[[ $(q "SELECT sum(mismatches) FROM _cdc_parity_state") == 0 ]] || fail "replay yielded mismatches"
check_state_equals_outbox
ok "a replay of 360 records yields 360 superseded, 0 mismatches"

# ---- 4. a mismatch: a target trigger changes a value --------------------------------------
cdc_psql sink <<'EOF'
CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id = 7 THEN NEW.name := NEW.name || ' (tampered)'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tamper BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION tamper();
EOF
"$FEED" rows "$CFG" s1 accounts 5 5 3 u # ids 5..9, version 3: id 7 is altered on write
sk_sink --domain crm --once
[[ $rc == 0 ]] || fail "cdc-sink --once exited $rc"
vrun
[[ $(state accounts mismatches) == 1 ]] || fail "accounts mismatches $(state accounts mismatches)"
[[ $(q "SELECT key_json || ' ' || op || ' ' || epoch || ':' || pos FROM _cdc_parity_mismatches") == '{"id":7} u 1:3000007' ]] ||
    fail "mismatch row: $(q "SELECT key_json, op, epoch, pos FROM _cdc_parity_mismatches")"
[[ $(q "SELECT count(*) FROM _cdc_parity_mismatches WHERE source_hash <> stored_hash AND
        length(source_hash) = 8 AND key = (SELECT key FROM _cdc_parity_outbox WHERE status = 'mismatch')") == 1 ]] ||
    fail "mismatch hashes/key not stored"
grep -q 'level=error.*parity MISMATCH: domain crm source s1 table accounts key {\\\?"id\\\?":7}' \
    "$CDC_TEST_TMPDIR/validator.err" ||
    fail "mismatch not logged at error level with its key: $(grep -i mismatch "$CDC_TEST_TMPDIR/validator.err")"
check_state_equals_outbox
ok "a value altered on write is one mismatch, stored and logged with key {\"id\":7}"

# ---- 5. published twice, counted once -------------------------------------------------
# A sink killed after Kafka confirmed its publication but before it marked the rows sent
# publishes the same rows again at its next start.
"$FEED" rows "$CFG" s1 notes 201 30 1 c
rc=0
CDC_SINK_CRASH_BEFORE_MARK=1 timeout -k 5 120 "$SINK" -c "$CFG" --domain crm --once \
    2>"$CDC_TEST_TMPDIR/sink.err" || rc=$?
[[ $rc == 137 ]] || fail "cdc-sink with CDC_SINK_CRASH_BEFORE_MARK=1 exited $rc, expected 137 (SIGKILL)"
unsent=$(q "SELECT coalesce(sum(results), 0) FROM _cdc_parity_outbox WHERE NOT sent")
((unsent > 0)) || fail "no outbox results unsent after the crash"
vrun # counts the first copy of the rows of the batch(es) committed before the crash
[[ $(state notes rows_seen) == $((220 + unsent)) ]] ||
    fail "notes rows_seen $(state notes rows_seen), expected $((220 + unsent))"
sk_sink --domain crm --once # publishes the same rows again at start
[[ $rc == 0 ]] || fail "cdc-sink --once exited $rc"
vrun
grep -Eq "parity records counted \(([1-9][0-9]*) duplicates" "$CDC_TEST_TMPDIR/validator.err" ||
    fail "no duplicates reported: $(grep 'parity records' "$CDC_TEST_TMPDIR/validator.err")"
[[ $(state notes rows_seen) == $((220 + 30)) ]] || fail "republished records counted again: notes rows_seen $(state notes rows_seen)"
check_state_equals_outbox
ok "records published twice (crash between delivery and marking) are counted once"

# ---- 6. nothing new --------------------------------------------------------------------
vrun
grep -q "0 parity records counted (0 duplicates" "$CDC_TEST_TMPDIR/validator.err" ||
    fail "second run counted something: $(grep 'parity records' "$CDC_TEST_TMPDIR/validator.err")"
[[ $(q "SELECT sum(next_offset) FROM _cdc_validator_offsets WHERE domain = 'crm'") == "$(sk_hwm_sum st.validation)" ]] ||
    fail "validator offsets $(q "SELECT kpartition, next_offset FROM _cdc_validator_offsets WHERE domain = 'crm'")"
ok "a second validator run finds nothing new; offsets at the end of st.validation"

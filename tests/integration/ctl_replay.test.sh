#!/usr/bin/env bash
# cdc-ctl replay with a producer and a crm sink worker running: from earliest, from an
# offset and from a time (search by record timestamps on the devbroker), each time the
# stored offsets move back, the running worker is fenced, re-applies up to the high
# watermarks, and the target is unchanged and in parity with the sources (audit).
# A replay past the end changes nothing (exit 1).
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"
CTL=$CDC_BUILD_DIR/tools/ctl/cdc-ctl
CORE=synapse_business_core

se_up
echo "producer: {heartbeat_ms: 500}" >>"$CFG"
se_producer_start
se_sink_start crm crm

# caught_up: every crm partition's stored offset at (or past) the high watermark.
caught_up() {
    local i end
    end=$(se_hwm cdc.crm)
    for i in $(seq 1 300); do
        (($(se_stored $CORE crm) >= end)) && return 0
        sleep 0.2
    done
    fail "crm: stored offsets $(se_stored $CORE crm) never reached $(se_hwm cdc.crm)"
}
# The crm target's content, _cdc_ positions included (a replay must not move them).
target_digest() {
    cdc_psql $CORE "SELECT string_agg(t || ':' || d, ' ' ORDER BY t) FROM (
        SELECT 'crm_contacts' t, md5(string_agg(c::text, '|' ORDER BY c.contact_id)) d
          FROM (SELECT contact_id, lead_score, estimated_value, notes, _cdc_epoch, _cdc_pos FROM crm_contacts) c
        UNION ALL SELECT 'rows', count(*)::text FROM crm_contacts) x"
}
# The producer may still be sending its snapshot while the first records are applied:
# wait until its "snapshot of ... done" lines stop growing for 2 s before the first
# catch-up, or the baseline audit finds rows that were not sent yet.
prev=-1 still=0
for i in $(seq 1 300); do
    n=$(grep -c "snapshot of .* done" "$DIR/producer.log" || true)
    if ((n > 0 && n == prev)); then
        ((++still >= 10)) && break
    else
        still=0
    fi
    prev=$n
    sleep 0.2
done
caught_up
# Some application writes, after a moment, so that a time in between splits the topic.
sleep 1.2
T1=$(date +%s%3N)
T1_ISO=$(date -u -d "@$((T1 / 1000)).$(printf %03d $((T1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.3
for i in 1 2 3 4 5; do
    sqlite3 -cmd ".timeout 1000" "$DIR/data/epic7_sales_automation.db" \
        "UPDATE crm_contacts SET lead_score = lead_score + 1 WHERE rowid = $i"
done
# The producer acknowledges a change only after Kafka confirmed it: once the file's
# acknowledged sequence covers the updates, the high watermark read by caught_up does too.
for i in $(seq 1 300); do
    acked=$(sqlite3 -cmd ".timeout 1000" "$DIR/data/epic7_sales_automation.db" \
        "SELECT (SELECT value FROM _cdc_state WHERE key = 'acked_seq') >=
                (SELECT coalesce(max(seq), 0) FROM _cdc_changes)")
    [[ $acked == 1 ]] && break
    sleep 0.2
done
caught_up
before=$(target_digest)
se_audit --domain crm
ok "baseline: caught up and in parity ($before)"

replay() { # replay NAME ARGS...: must exit 0 with --wait
    local name=$1 rc=0
    shift
    "$CTL" replay -c "$CFG" --domain crm "$@" --wait --timeout 120 >"$DIR/replay-$name.out" 2>"$DIR/replay-$name.err" || rc=$?
    cat "$DIR/replay-$name.out"
    [[ $rc == 0 ]] || { cat "$DIR/replay-$name.err"; tail "$DIR/sink-crm.log"; fail "replay $name exited $rc"; }
    grep -q "action=moved" "$DIR/replay-$name.out" || fail "replay $name moved no offset"
    [[ $(grep -c "^partition=[0-9]* next=.* lag=0$" "$DIR/replay-$name.out") == 6 ]] ||
        fail "replay $name: not every partition caught up"
    caught_up
    [[ $(target_digest) == "$before" ]] || fail "replay $name changed the target: $(target_digest) != $before"
    se_audit --domain crm
}

fenced0=$(grep -c "fenced (another worker moved" "$DIR/sink-crm.log" || true)
replay earliest --from earliest
grep -q "^partition=0 stored=[0-9]* target=0 low=0" "$DIR/replay-earliest.out" || fail "earliest is not offset 0"
(($(grep -c "fenced (another worker moved" "$DIR/sink-crm.log" || true) > fenced0)) ||
    fail "the running worker was never fenced by the replay"
ok "replay --from earliest: worker fenced, re-applied, target unchanged, audit equal"

replay offset --from 2
[[ $(grep -c "target=2 " "$DIR/replay-offset.out") == 6 ]] || fail "--from 2 did not target offset 2 everywhere"
ok "replay --from 2: same"

replay time --from "@$T1"
# The time lies between the snapshot and the updates: a partition's target is inside it.
grep "^partition=" "$DIR/replay-time.out" | grep -v " next=" | awk '{
    split($3, t, "="); split($4, l, "="); split($5, h, "=");
    if (t[2] > l[2] && t[2] < h[2]) inside++ } END { exit inside > 0 ? 0 : 1 }' ||
    fail "no partition's time target is strictly inside the partition"
grep -q "search by record timestamps" "$DIR/replay-time.err" || fail "the devbroker path (timestamp search) was not used"
ok "replay --from @$T1 (search by timestamps): same"

"$CTL" replay -c "$CFG" --domain crm --from "$T1_ISO" --dry-run >"$DIR/replay-iso.out" 2>&1 || fail "ISO time"
diff <(grep -o "partition=[0-9]* stored=[^ ]* target=[0-9]*" "$DIR/replay-iso.out" | sed 's/stored=[^ ]* //') \
     <(grep "^partition=.* action=" "$DIR/replay-time.out" | grep -o "partition=[0-9]* stored=[^ ]* target=[0-9]*" | sed 's/stored=[^ ]* //') >/dev/null ||
    echo "note: ISO and @ms targets differ (the worker moved meanwhile): $(cat "$DIR/replay-iso.out")"
grep -q "action=none(dry-run)" "$DIR/replay-iso.out" || fail "--dry-run"
ok "ISO 8601 time accepted ($T1_ISO), --dry-run changes nothing"

rc=0
"$CTL" replay -c "$CFG" --domain crm --from 99999999 >"$DIR/replay-far.out" 2>&1 || rc=$?
[[ $rc == 1 ]] && grep -q "beyond the end" "$DIR/replay-far.out" && grep -q "nothing changed" "$DIR/replay-far.out" ||
    fail "replay past the end: exit $rc: $(cat "$DIR/replay-far.out")"
rc=0; "$CTL" replay -c "$CFG" --domain crm --from yesterday 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "bad --from exit $rc"
ok "past the end: exit 1, nothing changed; bad --from: exit 2"
se_sink_stop crm
se_producer_stop

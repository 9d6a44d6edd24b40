#!/usr/bin/env bash
# kill -9 of the producer at random moments (during the snapshot and while streaming),
# restarted each time, with the workload writing throughout; then a --once drain. The
# state rebuilt from the topics equals the files (nothing missing), and for every key
# the positions never decrease in topic order: records re-sent after a crash carry the
# position of their new read, which is never below anything sent before it
# (docs/producer.md "Crashes"). Kills: CDC_PRODUCER_KILLS (default 5; the full variant 20).
# labels: integration quick
# timeout: 600
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"

kills=${CDC_PRODUCER_KILLS:-5}
producer_setup_stack
dir=$CDC_TEST_TMPDIR
producer_fixtures "$dir/data" --scale 100000
producer_config "$dir/pipeline.yml" "$dir/data"
producer_add_scale_source "$dir/pipeline.yml" "$dir/data"

"$WORKLOAD" --dir "$dir/data" --rate 300 --seconds $(( kills * 12 / 10 + 3 )) --seed 42 \
    > "$dir/workload.out" 2> "$dir/workload.log" &
wl=$!
cdc_stack_on_down "kill $wl 2>/dev/null; wait $wl 2>/dev/null"
RANDOM=${CDC_PRODUCER_KILL_SEED:-7}
for i in $(seq 1 "$kills"); do
    "$PRODUCER" -c "$dir/pipeline.yml" 2>> "$dir/producer.log" &
    p=$!
    ms=$(( 200 + RANDOM % 1800 ))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$p"
    wait "$p" 2>/dev/null || true
    echo "kill $i after $ms ms"
done
rc=0
wait "$wl" || rc=$?
[[ $rc == 0 ]] || { cat "$dir/workload.out"; fail "workload writes failed (exit $rc)"; }
echo "workload: $(grep -o 'ops=[0-9]* commits=[0-9]*' "$dir/workload.out") $(grep -o 'failures=[0-9]*' "$dir/workload.out" | head -1)"
"$PRODUCER" -c "$dir/pipeline.yml" --once 2>> "$dir/producer.log" ||
    { tail -20 "$dir/producer.log"; fail "draining --once failed"; }
echo "snapshot resumes: $(grep -c 'resuming the snapshot' "$dir/producer.log" || true)"
grep -o 'longest write-lock hold [0-9.]* ms' "$dir/producer.log" | sort -t' ' -k4 -g | tail -1 || true
pycheck rebuild "$dir/pipeline.yml" || fail "rebuilt state differs after $kills kills"

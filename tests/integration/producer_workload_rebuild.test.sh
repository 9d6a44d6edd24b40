#!/usr/bin/env bash
# The application workload writes into the 20 fixture files while the producer snapshots
# and streams them; afterwards the state rebuilt from the topics (the largest position per
# key wins, deletes remove) equals every table of every file, positions per key never
# decrease in topic order, and the workload never saw a write fail.
# Seeds: CDC_PRODUCER_SEEDS (default "1 2 3"); producer_workload_rebuild_full runs 10.
# labels: integration quick
# timeout: 600
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"

for seed in ${CDC_PRODUCER_SEEDS:-1 2 3}; do
    (
        producer_setup_stack
        dir=$CDC_TEST_TMPDIR
        producer_fixtures "$dir/data"
        producer_config "$dir/pipeline.yml" "$dir/data"
        "$PRODUCER" -c "$dir/pipeline.yml" 2> "$dir/producer.log" &
        ppid_=$!
        cdc_stack_on_down "kill $ppid_ 2>/dev/null; wait $ppid_ 2>/dev/null"
        "$WORKLOAD" --dir "$dir/data" --rate 300 --seconds 8 --seed "$seed" \
            > "$dir/workload.out" 2> "$dir/workload.log" ||
            { cat "$dir/workload.out"; tail "$dir/workload.log"; fail "seed $seed: workload writes failed"; }
        kill -TERM "$ppid_"
        rc=0
        wait "$ppid_" || rc=$?
        [[ $rc == 0 ]] || { tail -20 "$dir/producer.log"; fail "seed $seed: producer exit $rc on SIGTERM"; }
        "$PRODUCER" -c "$dir/pipeline.yml" --once 2>> "$dir/producer.log" ||
            { tail -20 "$dir/producer.log"; fail "seed $seed: draining --once failed"; }
        echo "seed $seed: workload: $(grep -o 'ops=[0-9]* commits=[0-9]*' "$dir/workload.out")" \
             "$(grep -o 'failures=[0-9]*' "$dir/workload.out" | head -1)"
        echo "seed $seed: producer $(grep -o 'longest write-lock hold [0-9.]* ms' "$dir/producer.log" | tail -2 | tr '\n' ' ')"
        pycheck rebuild "$dir/pipeline.yml" || fail "seed $seed: rebuilt state differs"
    )
done

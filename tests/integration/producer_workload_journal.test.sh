#!/usr/bin/env bash
# Rollback-journal files (journal_mode=delete): the application workload (busy timeout
# 1 s, 200 writes/s for 8 s) writes into the 20 fixture files and a 100,000-row scale
# file while the producer installs capture, snapshots and streams them. In this mode a
# reader's SHARED lock holds back a writer's COMMIT, so the producer's reads and its
# acknowledge transactions must stay short. Checks: the workload saw no failed write
# (exit 0, failures=0), the files stay in journal_mode=delete, the state rebuilt from the
# topics equals every table of every file, and the producer's longest write-lock hold
# (install, acknowledge, prune) is printed from its log ("producer stopping: exit 0,
# longest write-lock hold X ms"), with the three longest holds and what they were.
# Seeds: CDC_PRODUCER_SEEDS (default "1").
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"

for seed in ${CDC_PRODUCER_SEEDS:-1}; do
    (
        producer_setup_stack
        dir=$CDC_TEST_TMPDIR
        producer_fixtures "$dir/data" --journal delete --scale 100000
        # cdc-fixtures bulk-loads with synchronous=OFF: without this, the first fsync of
        # the scale file (the producer's install commit) would write back its ~10 MB of
        # dirty pages and measure the fixture generator, not the producer.
        sync
        nfiles=0
        while IFS= read -r f; do
            mode=$(sqlite3 "$f" 'PRAGMA journal_mode')
            [[ $mode == delete ]] || fail "$f: journal_mode is $mode, expected delete"
            nfiles=$((nfiles + 1))
        done < <(find "$dir/data" -name '*.db')
        (( nfiles == 21 )) || fail "expected 21 fixture files (20 + scale), found $nfiles"
        producer_config "$dir/pipeline.yml" "$dir/data"
        # A 100,000-row source keeps the snapshot running while the workload writes.
        producer_add_scale_source "$dir/pipeline.yml" "$dir/data"
        # The workload runs first, so the producer's install and its whole snapshot
        # happen under writes, then the stream.
        "$WORKLOAD" --dir "$dir/data" --rate 200 --seconds 8 --seed "$seed" \
            > "$dir/workload.out" 2> "$dir/workload.log" &
        wpid=$!
        cdc_stack_on_down "kill $wpid 2>/dev/null; wait $wpid 2>/dev/null"
        sleep 1
        "$PRODUCER" -c "$dir/pipeline.yml" 2> "$dir/producer.log" &
        ppid_=$!
        cdc_stack_on_down "kill $ppid_ 2>/dev/null; wait $ppid_ 2>/dev/null"
        wait "$wpid" ||
            { cat "$dir/workload.out"; grep -i 'busy\|fail\|error' "$dir/workload.log" | tail;
              tail -5 "$dir/producer.log"
              fail "seed $seed: workload writes failed in rollback-journal mode"; }
        grep -q ' failures=0 ' "$dir/workload.out" ||
            { cat "$dir/workload.out"; fail "seed $seed: workload reports failures"; }
        grep -q 'snapshot progress: scale crm_contacts' "$dir/producer.log" ||
            { tail -20 "$dir/producer.log"; fail "seed $seed: the scale snapshot did not run during the workload"; }
        kill -TERM "$ppid_"
        rc=0
        wait "$ppid_" || rc=$?
        [[ $rc == 0 ]] || { tail -20 "$dir/producer.log"; fail "seed $seed: producer exit $rc on SIGTERM"; }
        hold=$(grep -o 'producer stopping: exit 0, longest write-lock hold [0-9.]* ms' \
                    "$dir/producer.log" | grep -o '[0-9.]* ms' || true)
        [[ -n $hold ]] || { tail -20 "$dir/producer.log"; fail "seed $seed: no longest write-lock hold in the producer log"; }
        "$PRODUCER" -c "$dir/pipeline.yml" --once 2>> "$dir/producer.log" ||
            { tail -20 "$dir/producer.log"; fail "seed $seed: draining --once failed"; }
        echo "seed $seed (journal_mode=delete): workload:" \
             "$(grep -o 'ops=[0-9]* commits=[0-9]*' "$dir/workload.out")" \
             "$(grep -o 'failures=[0-9]* busy_failures=[0-9]*' "$dir/workload.out" | head -1)" \
             "$(grep -o 'commit_p99_us=[0-9]*' "$dir/workload.out")"
        echo "seed $seed (journal_mode=delete): producer longest write-lock hold $hold" \
             "(install / acknowledge / prune, while the workload ran); the longest:"
        grep -Eo 'source [^ ]+: (capture epoch .*write lock held [0-9.]+ ms|longest write-lock hold so far [0-9.]+ ms \(acknowledge [0-9:]+, [0-9]+ row)' \
            "$dir/producer.log" | awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "ms" || $(i+1) == "ms,") v = $i; print v "\t" $0 }' |
            sort -rn | head -3 | cut -f2- | sed 's/^/    /'
        grep -q 'source scale: snapshot of crm_contacts done' "$dir/producer.log" ||
            { tail -20 "$dir/producer.log"; fail "seed $seed: the scale snapshot never finished"; }
        grep -E "snapshot progress: scale crm_contacts: .*\(done\)" "$dir/producer.log" |
            sed 's/.*msg="snapshot progress: /    snapshot /; s/"$//'
        pycheck rebuild "$dir/pipeline.yml" || fail "seed $seed: rebuilt state differs"
        # The files stay rollback-journal files: the producer never switches them to WAL.
        while IFS= read -r f; do
            mode=$(sqlite3 "$f" 'PRAGMA journal_mode')
            [[ $mode == delete ]] || fail "$f: journal_mode became $mode after the run"
        done < <(find "$dir/data" -name '*.db')
    )
done

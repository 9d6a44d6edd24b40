#!/usr/bin/env bash
# A source file replaced by an older copy of itself (restored from a backup) is refused
# with the documented message (exit 1); --new-epoch accepts it and re-snapshots it, and
# the state rebuilt from the topic (end-marker semantics: rows older than the new
# snapshot's H0 that it did not send again are gone) equals the restored file.
# labels: integration quick
# timeout: 300
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
source "$CDC_SOURCE_DIR/tests/integration/producer_lib.sh"

producer_setup_stack
dir=$CDC_TEST_TMPDIR
producer_fixtures "$dir/data"
db=$dir/data/epic7_sales_automation.db
cfg=$(producer_one_source_config epic7 "$db")

"$PRODUCER" -c "$cfg" --once 2> "$dir/run1.log" || { cat "$dir/run1.log"; fail "first run"; }
sqlite3 "$db" ".backup '$dir/backup.db'"
"$WORKLOAD" --dir "$dir/data" --files epic7_sales_automation.db --ops 300 --rate 0 --seed 3 > /dev/null 2>&1 ||
    fail "workload failed"
"$PRODUCER" -c "$cfg" --once 2> "$dir/run2.log" || { cat "$dir/run2.log"; fail "second run"; }

rm -f "$db-wal" "$db-shm"
cp "$dir/backup.db" "$db"
rc=0
"$PRODUCER" -c "$cfg" --once 2> "$dir/run3.log" || rc=$?
[[ $rc == 1 ]] || { cat "$dir/run3.log"; fail "restored copy: exit $rc, expected 1"; }
grep -q "replaced by an older copy" "$dir/run3.log" && grep -q -- "--new-epoch epic7" "$dir/run3.log" ||
    { cat "$dir/run3.log"; fail "no refusal message"; }
echo "ok refused: $(grep -o 'source epic7 (.*' "$dir/run3.log" | head -1 | cut -c1-300)"

"$PRODUCER" -c "$cfg" --once --new-epoch epic7 2> "$dir/run4.log" || { cat "$dir/run4.log"; fail "--new-epoch run"; }
grep -q "new epoch .* started on request" "$dir/run4.log" || { cat "$dir/run4.log"; fail "no new epoch"; }
grep -q "full snapshot" "$dir/run4.log" || { cat "$dir/run4.log"; fail "no re-snapshot"; }
"$PRODUCER" -c "$cfg" --once 2> "$dir/run5.log" || { cat "$dir/run5.log"; fail "run after the new epoch"; }
echo "ok: --new-epoch accepted the copy and re-snapshotted it"
pycheck rebuild "$cfg" || fail "rebuilt state differs from the restored file"

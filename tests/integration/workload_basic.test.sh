#!/usr/bin/env bash
# cdc-workload on its own small SQLite files (one WAL, one rollback journal): writes of
# every kind happen and add up to the row counts, files stay intact, VARCHAR(10) holds,
# the same seed gives the same writes, a lock holder makes it report busy failures and
# exit 1, a freeze trigger counts as "rejected", SIGTERM still prints the summary.
# labels: integration quick
# timeout: 180
set -euo pipefail

WL="${CDC_BUILD_DIR:?}/tools/workload/cdc-workload"
[ -x "$WL" ] || { echo "FAIL: $WL not built"; exit 1; }
PY=/usr/bin/python3
tmp=$(mktemp -d)
bg_pids=()
cleanup() {
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# Value of key in a key=value summary line.
get() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# Builds the test files in $1: crm.db (WAL) and legacy/notes.db (rollback journal).
make_files() {
    mkdir -p "$1/legacy"
    sqlite3 "$1/crm.db" >/dev/null <<'EOF'
PRAGMA journal_mode=WAL;
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    code VARCHAR(10),
    balance DECIMAL(10,2) NOT NULL DEFAULT 0,
    created_at DATETIME,
    active BOOLEAN,
    meta JSON);
CREATE TABLE tags (tag TEXT PRIMARY KEY, weight REAL, label VARCHAR(10));
CREATE TABLE daily_stats (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    day DATE NOT NULL,
    clicks INTEGER NOT NULL CHECK (clicks >= 0),
    stage TEXT NOT NULL CHECK (stage IN ('new', 'won', 'lost')),
    revenue DECIMAL(10,2),
    PRIMARY KEY (account_id, day));
CREATE TABLE settings (k TEXT PRIMARY KEY, v BLOB, updated TIMESTAMP) WITHOUT ROWID;
CREATE TABLE events (ts TIMESTAMP, kind TEXT, payload);
CREATE TABLE _cdc_changes (seq INTEGER PRIMARY KEY, tbl TEXT);
CREATE VIEW active_accounts AS SELECT * FROM accounts WHERE active = 1;
INSERT INTO accounts (name, code, balance, active) VALUES
    ('Acme', 'A1', 100.50, 1), ('Globex', 'G1', 20.00, 0), ('Initech', 'I1', 7.25, 1);
INSERT INTO tags VALUES ('vip', 1.5, 'VIP'), ('cold', 0.2, 'Cold');
INSERT INTO daily_stats VALUES (1, '2024-01-01', 3, 'new', 10.00), (2, '2024-01-02', 0, 'won', 99.99);
INSERT INTO settings VALUES ('theme', x'00ff', '2024-01-01 00:00:00');
INSERT INTO events VALUES ('2024-01-01 10:00:00', 'login', 'x');
INSERT INTO _cdc_changes (tbl) VALUES ('accounts');
EOF
    sqlite3 "$1/legacy/notes.db" >/dev/null <<'EOF'
PRAGMA journal_mode=DELETE;
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, amount DECIMAL(10,2));
INSERT INTO notes (body, amount) VALUES ('first', 1.00), ('second', 2.50);
EOF
}

TABLES_CRM="accounts tags daily_stats settings events"
total_rows() {
    local n=0 t
    for t in $TABLES_CRM; do n=$((n + $(sqlite3 "$1/crm.db" "SELECT count(*) FROM $t"))); done
    echo $((n + $(sqlite3 "$1/legacy/notes.db" "SELECT count(*) FROM notes")))
}

# --- 1. a paced run: every kind of write, counts add up -----------------------------
d="$tmp/run"
make_files "$d"
before=$(total_rows "$d")
cdc_before=$(sqlite3 "$d/crm.db" "SELECT count(*) FROM _cdc_changes")
notes_before=$(sqlite3 "$d/legacy/notes.db" .dump | md5sum)
set +e
summary=$("$WL" --dir "$d" --rate 200 --seconds 3 --seed 7 --report "$tmp/report.json" \
    2>"$tmp/run.err")
rc=$?
set -e
echo "summary: $summary"
[ "$rc" -eq 0 ] || { cat "$tmp/run.err"; fail "exit $rc, expected 0"; }
for k in inserts updates deletes key_changes commits; do
    v=$(get "$k" "$summary")
    if [ -z "$v" ] || [ "$v" -le 0 ]; then fail "$k=$v, expected > 0"; fi
done
[ "$(get failures "$summary")" = 0 ] || fail "failures in a run without contention"
[ "$(get files "$summary")" = 2 ] || fail "expected 2 files (recursive *.db)"
[ "$(get tables "$summary")" = 6 ] || fail "expected 6 tables (no view, no _cdc_*)"
ops=$(get ops "$summary")
# 200/s for 3 s: about 600 operations (sleep-based pacing, never more than scheduled; the
# lower bound leaves room for a loaded CI machine).
if [ "$ops" -lt 360 ] || [ "$ops" -gt 610 ]; then
    fail "ops=$ops, expected about 600 at 200/s for 3 s"
fi
sum=$(($(get inserts "$summary") + $(get updates "$summary") + $(get deletes "$summary") +
    $(get key_changes "$summary")))
[ "$sum" -le "$ops" ] || fail "more committed writes ($sum) than operations ($ops)"
after=$(total_rows "$d")
expect=$((before + $(get inserts "$summary") - $(get deletes "$summary")))
[ "$after" -eq "$expect" ] || fail "rows: $before -> $after, summary says $expect"
ok "row counts: $before -> $after = inserts - deletes"
[ "$(sqlite3 "$d/crm.db" "SELECT count(*) FROM _cdc_changes")" = "$cdc_before" ] ||
    fail "_cdc_ table was written"
[ "$(sqlite3 "$d/legacy/notes.db" .dump | md5sum)" != "$notes_before" ] ||
    fail "the rollback-journal file in a subdirectory was never written"
for f in "$d/crm.db" "$d/legacy/notes.db"; do
    [ "$(sqlite3 "$f" "PRAGMA integrity_check")" = ok ] || fail "integrity_check $f"
done
[ "$(sqlite3 "$d/crm.db" "PRAGMA journal_mode")" = wal ] || fail "journal mode changed"
[ "$(sqlite3 "$d/legacy/notes.db" "PRAGMA journal_mode")" = delete ] || fail "journal mode changed"
ok "integrity_check ok, journal modes kept"
long=$(sqlite3 "$d/crm.db" "SELECT (SELECT count(*) FROM accounts WHERE length(code) > 10) +
    (SELECT count(*) FROM tags WHERE length(label) > 10)")
[ "$long" = 0 ] || fail "$long VARCHAR(10) values longer than 10 characters"
[ "$(sqlite3 "$d/crm.db" "SELECT count(*) FROM accounts WHERE length(code) BETWEEN 1 AND 10")" -gt 0 ] ||
    fail "no VARCHAR(10) values written"
bad=$(sqlite3 "$d/crm.db" "SELECT count(*) FROM accounts WHERE meta IS NOT NULL AND NOT json_valid(meta)")
[ "$bad" = 0 ] || fail "$bad invalid JSON values"
cents=$(sqlite3 "$d/crm.db" "SELECT count(*) FROM accounts WHERE balance <> round(balance, 2)")
[ "$cents" = 0 ] || fail "$cents DECIMAL(10,2) values with more than 2 decimals"
nonascii=$(sqlite3 "$d/crm.db" "SELECT
    (SELECT count(*) FROM accounts WHERE length(CAST(name AS BLOB)) > length(name)) +
    (SELECT count(*) FROM events WHERE length(CAST(kind AS BLOB)) > length(kind))")
[ "$nonascii" -gt 0 ] || fail "no non-ASCII text written"
dates=$(sqlite3 "$d/crm.db" "SELECT count(*) FROM daily_stats WHERE day <> date(day)")
[ "$dates" = 0 ] || fail "$dates DATE values not ISO dates"
nulls=$(sqlite3 "$d/crm.db" "SELECT count(*) FROM accounts WHERE code IS NULL OR created_at IS NULL")
[ "$nulls" -gt 0 ] || fail "no NULLs in nullable columns"
orphans=$(sqlite3 "$d/crm.db" "SELECT count(*) FROM daily_stats WHERE account_id NOT IN (SELECT id FROM accounts)")
children=$(sqlite3 "$d/crm.db" "SELECT count(*) FROM daily_stats")
echo "daily_stats: $children rows, $orphans whose account was deleted or re-keyed since"
ok "VARCHAR(10), JSON, cents, non-ASCII, ISO dates, NULLs"
"$PY" - "$tmp/report.json" "$summary" <<'EOF' || fail "JSON report differs from the summary"
import json, sys
rep = json.load(open(sys.argv[1]))
line = dict(kv.split("=", 1) for kv in sys.argv[2].split())
for k, v in line.items():
    assert k in rep, k
    assert abs(float(rep[k]) - float(v)) < 0.2, (k, rep[k], v)
EOF
ok "JSON report"

# --- 2. same seed, same files, fixed --ops: same writes ------------------------------
for run in a b c; do
    make_files "$tmp/det-$run"
done
"$WL" --dir "$tmp/det-a" --rate 0 --ops 800 --seed 42 >"$tmp/det-a.out" 2>/dev/null
"$WL" --dir "$tmp/det-b" --rate 0 --ops 800 --seed 42 >"$tmp/det-b.out" 2>/dev/null
"$WL" --dir "$tmp/det-c" --rate 0 --ops 800 --seed 43 >"$tmp/det-c.out" 2>/dev/null
for run in a b c; do
    sqlite3 "$tmp/det-$run/crm.db" .dump >"$tmp/det-$run.dump"
    sqlite3 "$tmp/det-$run/legacy/notes.db" .dump >>"$tmp/det-$run.dump"
done
[ "$(get ops "$(cat "$tmp/det-a.out")")" = 800 ] || fail "--ops 800 ran $(cat "$tmp/det-a.out")"
cmp -s "$tmp/det-a.dump" "$tmp/det-b.dump" || {
    diff "$tmp/det-a.dump" "$tmp/det-b.dump" | head -20
    fail "same seed gave different contents"
}
! cmp -s "$tmp/det-a.dump" "$tmp/det-c.dump" || fail "a different seed gave the same contents"
ok "seed 42 twice: identical .dump; seed 43 differs"

# --- 3. a lock holder: busy failures are detected, exit 1 -----------------------------
d="$tmp/busy"
make_files "$d"
"$PY" - "$d/crm.db" "$tmp/locked" <<'EOF' &
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(3)
con.execute("ROLLBACK")
EOF
bg_pids+=($!)
for _ in $(seq 100); do [ -e "$tmp/locked" ] && break; sleep 0.05; done
[ -e "$tmp/locked" ] || fail "lock holder did not start"
set +e
summary=$("$WL" --dir "$d" --files crm.db --rate 20 --seconds 2 --seed 1 2>"$tmp/busy.err")
rc=$?
set -e
echo "summary: $summary"
[ "$rc" -eq 1 ] || fail "exit $rc with a lock held for 3 s, expected 1"
busy=$(get busy_failures "$summary")
[ "$busy" -gt 0 ] || fail "busy_failures=$busy"
[ "$(get failures "$summary")" -ge "$busy" ] || fail "failures < busy_failures"
grep -q 'write failed: file=crm.db table=' "$tmp/busy.err" || fail "failure not logged with file"
grep -q 'database is locked' "$tmp/busy.err" || fail "failure not logged with SQLite's message"
wait "${bg_pids[-1]}"
ok "lock held 3 s: busy_failures=$busy, exit 1"

# --- 4. a frozen table: rejected, not failed -----------------------------------------
d="$tmp/frozen"
make_files "$d"
sqlite3 "$d/crm.db" <<'EOF'
CREATE TRIGGER _cdc_freeze_tags_i BEFORE INSERT ON tags BEGIN SELECT RAISE(ABORT, 'cdc: table tags is frozen for cutover'); END;
CREATE TRIGGER _cdc_freeze_tags_u BEFORE UPDATE ON tags BEGIN SELECT RAISE(ABORT, 'cdc: table tags is frozen for cutover'); END;
CREATE TRIGGER _cdc_freeze_tags_d BEFORE DELETE ON tags BEGIN SELECT RAISE(ABORT, 'cdc: table tags is frozen for cutover'); END;
EOF
summary=$("$WL" --dir "$d" --files crm.db --tables tags,events --rate 0 --ops 200 --seed 3 \
    2>"$tmp/frozen.err") || fail "exit $? with a frozen table, expected 0"
echo "summary: $summary"
[ "$(get rejected "$summary")" -gt 0 ] || fail "no rejected writes"
[ "$(get failures "$summary")" = 0 ] || fail "frozen writes counted as failures"
[ "$(grep -c 'write rejected' "$tmp/frozen.err")" = 1 ] || fail "rejected not logged once"
[ "$(sqlite3 "$d/crm.db" "SELECT group_concat(tag) FROM (SELECT tag FROM tags ORDER BY tag)")" = cold,vip ] ||
    fail "frozen table changed"
ok "frozen table: rejected=$(get rejected "$summary"), logged once"

# --- 5. SIGTERM stops early and still prints the summary -----------------------------
d="$tmp/term"
make_files "$d"
"$WL" --dir "$d" --rate 100 --seconds 60 >"$tmp/term.out" 2>/dev/null &
pid=$!
bg_pids+=("$pid")
sleep 1
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM"
grep -q '^ops=[1-9][0-9]* commits=' "$tmp/term.out" || fail "no summary after SIGTERM"
ok "SIGTERM: $(cut -d' ' -f1-2 "$tmp/term.out")"

# --- 6. usage errors exit 2 ----------------------------------------------------------
mkdir -p "$tmp/empty"
for args in "--rate 10" "--dir $tmp/empty --seconds 1" "--dir $d --mix 1,2,3" \
    "--dir $d --rate -1" "--dir $d --tables nosuch --ops 1" "--dir $d --files nosuch.db --ops 1"; do
    set +e
    # shellcheck disable=SC2086
    "$WL" $args >/dev/null 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "cdc-workload $args: exit $rc, expected 2"
done
"$WL" --help | grep -q -- '--mix' || fail "--help does not document --mix"
ok "usage errors exit 2"
echo "PASS workload_basic"

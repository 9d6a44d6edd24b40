#!/usr/bin/env bash
# cdc-fixtures reproduces the seeds: file set, tables, row counts and money figures,
# checked with SQL over the generated files; plus determinism, --scale, --journal and
# the CLI's exit codes.
# labels: integration quick
# timeout: 300
set -euo pipefail

BIN="${CDC_BUILD_DIR:?CDC_BUILD_DIR is not set}/tools/fixtures/cdc-fixtures"
[[ -x "$BIN" ]] || { echo "FAIL: $BIN is not built" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL: the sqlite3 CLI is required" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

checks=0
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() {
    checks=$((checks + 1))
    echo "ok $checks - $*"
}
# expect FILE SQL EXPECTED LABEL: the SQL's output must equal EXPECTED exactly.
expect() {
    local got
    got=$(sqlite3 -batch -noheader "$1" "$2") || fail "$4: query failed on $1: $2"
    [[ "$got" == "$3" ]] || fail "$4: expected '$3', got '$got' ($1: $2)"
    ok "$4"
}
# count FILE TABLE N
count() {
    expect "$1" "SELECT count(*) FROM \"$2\"" "$3" "$(basename "$1") $2 has $3 rows"
}

EXPECTED_FILES="ab_testing.db
advanced_graph_rag_analytics.db
business_development/linkedin_business_development.db
content_analytics.db
cross_platform_analytics.db
cross_platform_performance.db
epic16_abm_campaigns.db
epic16_enterprise_onboarding.db
epic16_fortune500_acquisition.db
epic7_sales_automation.db
linkedin_business_development.db
optimized_performance_analytics.db
performance_analytics.db
revenue_acceleration.db
synapse_content_intelligence.db
twitter_analytics.db
unified_business_intelligence.db
unified_content_management.db
unified_dashboard.db
week3_business_development.db"

# --- generate ----------------------------------------------------------------------------
A="$tmp/a"
"$BIN" --out "$A" >"$tmp/a.out" 2>"$tmp/a.err" || fail "cdc-fixtures failed: $(cat "$tmp/a.err")"

files=$(cd "$A" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
[[ "$files" == "$EXPECTED_FILES" ]] || fail "file set differs:
$(diff <(echo "$EXPECTED_FILES") <(echo "$files") || true)"
ok "exactly the 20 seed files exist (no -wal, -shm or stray files)"

[[ $(wc -l <"$tmp/a.out") -eq 20 ]] || fail "stdout should have 20 lines: $(cat "$tmp/a.out")"
while read -r path tables rows; do
    [[ -f "$path" ]] || fail "stdout names $path, which does not exist"
    n=$(sqlite3 "$path" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'")
    [[ "$tables" == "tables=$n" ]] || fail "$path: stdout says $tables, file has $n tables"
    [[ "$rows" == rows=* ]] || fail "$path: no rows= field in stdout"
done <"$tmp/a.out"
ok "stdout: one 'PATH tables=N rows=M' line per file, table counts match the files"
grep -qx "$A/epic7_sales_automation.db tables=9 rows=134" "$tmp/a.out" ||
    fail "stdout line for epic7 should say tables=9 rows=134: $(cat "$tmp/a.out")"
ok "stdout reports epic7 as tables=9 rows=134"

while read -r f; do
    expect "$A/$f" "PRAGMA integrity_check" "ok" "integrity_check $f"
    expect "$A/$f" "PRAGMA journal_mode" "wal" "journal_mode wal $f"
done <<<"$EXPECTED_FILES"

# --- crm: epic7_sales_automation.db (seeds 000, 004) --------------------------------------
E="$A/epic7_sales_automation.db"
expect "$E" "SELECT count(*), printf('%.2f', SUM(estimated_value)) FROM crm_contacts" \
    "16|1158000.00" "crm_contacts: 16 contacts, \$1,158,000.00"
expect "$E" "SELECT priority_tier, count(*), printf('%.2f', SUM(estimated_value)) FROM crm_contacts GROUP BY 1 ORDER BY 1" \
    "gold|6|210000.00
platinum|8|895000.00
silver|2|53000.00" "crm_contacts tiers: 8 platinum \$895K, 6 gold \$210K, 2 silver \$53K"
expect "$E" "SELECT count(*) FROM crm_contacts WHERE qualification_status = 'qualified'" "14" \
    "crm_contacts: 14 qualified (qualification_status)"
expect "$E" "SELECT type FROM pragma_table_info('crm_contacts') WHERE name = 'estimated_value'" \
    "REAL" "crm_contacts.estimated_value is declared REAL"
expect "$E" "SELECT count(*) FROM crm_contacts WHERE typeof(estimated_value) <> 'real'" "0" \
    "crm_contacts.estimated_value is stored as REAL"
expect "$E" "SELECT count(*) FROM pragma_table_info('crm_contacts')" "21" "crm_contacts has 21 columns"
expect "$E" "SELECT count(*), printf('%.2f', SUM(proposal_value)) FROM generated_proposals" \
    "58|4470000.00" "generated_proposals: 58 proposals, \$4,470,000.00"
count "$E" linkedin_automation_tracking 42
count "$E" ab_test_campaigns 4
count "$E" revenue_forecasts 11
count "$E" roi_templates 3
count "$E" lead_scoring_history 0
count "$E" sales_pipeline 0
count "$E" ab_test_results 0
tables=$(sqlite3 "$E" "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
total=0
for t in $tables; do total=$((total + $(sqlite3 "$E" "SELECT count(*) FROM \"$t\""))); done
[[ $(wc -w <<<"$tables") -eq 9 && $total -eq 134 ]] ||
    fail "epic7 should have 9 tables and 134 rows, has $(wc -w <<<"$tables") and $total"
ok "epic7: 9 tables, 134 rows in total"

# --- crm: LinkedIn files (seed 001) -------------------------------------------------------
L="$A/linkedin_business_development.db"
D="$A/business_development/linkedin_business_development.db"
count "$L" linkedin_posts 7
count "$L" consultation_inquiries 15
count "$L" business_pipeline 0
count "$D" linkedin_posts 7
count "$D" consultation_inquiries 1
expect "$L" "SELECT printf('%.2f', SUM(estimated_value)) FROM consultation_inquiries" \
    "555000.00" "primary consultation pipeline is \$555K"
diverged=$(sqlite3 "$L" "ATTACH '$D' AS dup;
  SELECT count(*) FROM main.linkedin_posts p JOIN dup.linkedin_posts d USING (post_id)
  WHERE p.impressions IS NOT d.impressions OR p.likes IS NOT d.likes OR p.content IS NOT d.content")
[[ "$diverged" -ge 1 ]] || fail "the duplicate's shared posts should differ from the primary's"
ok "duplicate diverges: $diverged shared posts carry other values"

# --- analytics (seed 002) -----------------------------------------------------------------
AB="$A/ab_testing.db"
count "$AB" ab_tests 9
count "$AB" test_variants 36
count "$AB" test_assignments 3
count "$A/cross_platform_analytics.db" attribution_tracking 16
count "$A/cross_platform_analytics.db" conversion_paths 1
count "$A/performance_analytics.db" content_patterns 5
count "$A/revenue_acceleration.db" revenue_opportunities 2
count "$A/content_analytics.db" posts 1
count "$A/content_analytics.db" weekly_performance 1
# The orphans: every test_assignments.post_id is missing from every posts table.
posts_tables=0
orphans=$(sqlite3 "$AB" "SELECT post_id FROM test_assignments ORDER BY 1")
while read -r f; do
    for t in $(sqlite3 "$A/$f" "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%posts'"); do
        posts_tables=$((posts_tables + 1))
        cols=$(sqlite3 "$A/$f" "SELECT group_concat(name) FROM pragma_table_info('$t') WHERE name IN ('post_id', 'tweet_id')")
        col=${cols%%,*}
        [[ -n "$col" ]] || continue
        for id in $orphans; do
            hit=$(sqlite3 "$A/$f" "SELECT count(*) FROM \"$t\" WHERE \"$col\" = '$id'")
            [[ "$hit" == 0 ]] || fail "post $id of test_assignments exists in $f $t"
        done
    done
done <<<"$EXPECTED_FILES"
[[ $posts_tables -ge 4 ]] || fail "expected several posts tables, found $posts_tables"
expect "$AB" "ATTACH '$A/content_analytics.db' AS ca;
  SELECT count(*) FROM test_assignments WHERE post_id NOT IN (SELECT post_id FROM ca.posts)" \
    "3" "test_assignments: 3 rows whose posts are missing (checked against $posts_tables posts tables)"
expect "$AB" "SELECT \"table\", \"parent\" FROM pragma_foreign_key_check WHERE \"table\" = 'test_assignments' LIMIT 1" \
    "test_assignments|posts" "test_assignments declares REFERENCES posts (the orphan FK)"

# --- f500 (seed 003) ----------------------------------------------------------------------
F1="$A/epic16_fortune500_acquisition.db"
F2="$A/epic16_abm_campaigns.db"
F3="$A/epic16_enterprise_onboarding.db"
f500_tables=0
for f in "$F1" "$F2" "$F3"; do
    for t in $(sqlite3 "$f" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'"); do
        f500_tables=$((f500_tables + 1))
        n=$(sqlite3 "$f" "SELECT count(*) FROM \"$t\"")
        [[ $n -ge 1 && $n -le 100 ]] || fail "$(basename "$f") $t: $n rows, expected a small count"
    done
done
[[ $f500_tables -eq 15 ]] || fail "f500 files should hold 15 tables, hold $f500_tables"
ok "f500: 15 tables (each with a small number of rows)"
expect "$F1" "SELECT count(*) FROM sqlite_master WHERE type = 'table'" "6" "f500 acquisition has 6 tables"
expect "$F2" "SELECT count(*) FROM sqlite_master WHERE type = 'table'" "4" "f500 ABM has 4 tables"
expect "$F3" "SELECT count(*) FROM sqlite_master WHERE type = 'table'" "5" "f500 onboarding has 5 tables"
expect "$F1" "SELECT count(*) FROM prospects WHERE json_valid(decision_makers)
  AND (tech_stack IS NULL OR json_valid(tech_stack)) AND (pain_points IS NULL OR json_valid(pain_points))" \
    "12" "f500 prospects: decision_makers, tech_stack, pain_points are JSON in TEXT"
expect "$F1" "SELECT count(*) FROM prospects WHERE json_array_length(decision_makers) >= 1" "11" \
    "f500 prospects: 11 carry decision makers"

# --- column variety the later stages rely on -----------------------------------------------
expect "$E" "SELECT count(*) FROM sqlite_master WHERE name = 'roi_templates' AND sql LIKE '%WITHOUT ROWID%'" \
    "1" "a WITHOUT ROWID table (roi_templates)"
expect "$E" "SELECT count(*) FROM pragma_table_info('revenue_forecasts') WHERE pk > 0" "2" \
    "a composite primary key (revenue_forecasts)"
expect "$A/unified_dashboard.db" "SELECT count(*) FROM dashboard_snapshots WHERE typeof(thumbnail) = 'blob'" \
    "2" "BLOB values (dashboard_snapshots.thumbnail)"
expect "$E" "SELECT count(*) FROM crm_contacts WHERE first_name GLOB '*[^ -~]*' OR last_name GLOB '*[^ -~]*'" \
    "7" "non-ASCII contact names"

# --- determinism --------------------------------------------------------------------------
B="$tmp/b"
"$BIN" --out "$B" >"$tmp/b.out" 2>/dev/null || fail "second run failed"
while read -r f; do
    cmp -s <(sqlite3 "$A/$f" .dump) <(sqlite3 "$B/$f" .dump) || fail "$f differs between two runs"
done <<<"$EXPECTED_FILES"
ok "two runs give identical .dump output for all 20 files"
[[ "$(sed "s|^$A/||" "$tmp/a.out")" == "$(sed "s|^$B/||" "$tmp/b.out")" ]] ||
    fail "stdout differs between runs"
ok "two runs print the same report"

# --- existing files are replaced ----------------------------------------------------------
echo "not a database" >"$A/epic7_sales_automation.db"
echo "stale wal" >"$A/epic7_sales_automation.db-wal"
echo "stale shm" >"$A/ab_testing.db-shm"
"$BIN" --out "$A/" >/dev/null 2>&1 || fail "rerun over existing files failed"
[[ ! -e "$A/epic7_sales_automation.db-wal" && ! -e "$A/ab_testing.db-shm" ]] ||
    fail "stale -wal/-shm files survived a rerun"
expect "$E" "SELECT printf('%.2f', SUM(estimated_value)) FROM crm_contacts" "1158000.00" \
    "a rerun replaces a corrupt file and stale -wal/-shm"

# --- --scale -------------------------------------------------------------------------------
C="$tmp/c"
"$BIN" --out "$C" --scale 1000 --batch 300 >"$tmp/c.out" 2>"$tmp/c.err" || fail "--scale 1000 failed: $(cat "$tmp/c.err")"
line=$(tail -n 1 "$tmp/c.out")
[[ "$line" =~ ^crm_contacts_scale\ rows=1000\ sum=([0-9]+\.[0-9][0-9])$ ]] ||
    fail "last line should be 'crm_contacts_scale rows=1000 sum=X.XX': $line"
sum=${BASH_REMATCH[1]}
S="$C/scale/crm_contacts_scale.db"
expect "$S" "SELECT count(*), printf('%.2f', SUM(estimated_value)) FROM crm_contacts" "1000|$sum" \
    "scale: 1000 rows summing to the printed $sum"
expect "$S" "SELECT count(DISTINCT contact_id), count(DISTINCT email) FROM crm_contacts" "1000|1000" \
    "scale: contact ids and emails are unique"
expect "$S" "PRAGMA journal_mode" "wal" "scale file is in WAL mode"
[[ "$(sqlite3 "$S" "SELECT group_concat(name || ' ' || type, ',') FROM pragma_table_info('crm_contacts')")" == \
   "$(sqlite3 "$C/epic7_sales_automation.db" "SELECT group_concat(name || ' ' || type, ',') FROM pragma_table_info('crm_contacts')")" ]] ||
    fail "scale crm_contacts columns differ from the fixture's"
ok "scale crm_contacts has the fixture's columns and types"
[[ $(grep -c "tables=" "$tmp/c.out") -eq 21 ]] || fail "--scale run should report 21 files"
ok "--scale run reports 21 files"

# --- --journal delete ----------------------------------------------------------------------
J="$tmp/j"
"$BIN" --out "$J" --journal delete >/dev/null 2>&1 || fail "--journal delete failed"
while read -r f; do
    expect "$J/$f" "PRAGMA journal_mode" "delete" "journal_mode delete $f"
done <<<"$EXPECTED_FILES"
expect "$J/epic7_sales_automation.db" "SELECT printf('%.2f', SUM(estimated_value)) FROM crm_contacts" \
    "1158000.00" "--journal delete writes the same figures"

# --- CLI errors ----------------------------------------------------------------------------
set +e
"$BIN" >/dev/null 2>&1
rc_missing=$?
"$BIN" --out "$tmp/x" --scale abc >/dev/null 2>&1
rc_scale=$?
"$BIN" --out "$tmp/x" --scale -5 >/dev/null 2>&1
rc_negative=$?
"$BIN" --out "$tmp/x" --journal memory >/dev/null 2>&1
rc_journal=$?
"$BIN" --bogus >/dev/null 2>&1
rc_bogus=$?
touch "$tmp/plainfile"
"$BIN" --out "$tmp/plainfile/sub" >/dev/null 2>"$tmp/err.txt"
rc_dir=$?
"$BIN" --help >"$tmp/help.txt" 2>&1
rc_help=$?
set -e
[[ $rc_missing -eq 2 && $rc_scale -eq 2 && $rc_negative -eq 2 && $rc_journal -eq 2 && $rc_bogus -eq 2 ]] ||
    fail "usage errors should exit 2 (missing --out $rc_missing, --scale abc $rc_scale, --scale -5 $rc_negative, --journal $rc_journal, unknown option $rc_bogus)"
ok "usage errors exit 2"
[[ $rc_dir -eq 1 ]] || fail "an uncreatable --out should exit 1, got $rc_dir"
grep -q "$tmp/plainfile/sub" "$tmp/err.txt" || fail "the error should name the path: $(cat "$tmp/err.txt")"
ok "an uncreatable output directory exits 1 and names the path"
[[ $rc_help -eq 0 ]] && grep -q -- "--scale" "$tmp/help.txt" && grep -q -- "--journal" "$tmp/help.txt" ||
    fail "--help should exit 0 and document the options"
ok "--help documents the options"

echo "PASS: $checks checks"

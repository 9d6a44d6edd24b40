#!/usr/bin/env bash
# Parity hashing against a real PostgreSQL (DESIGN.md invariant 8, docs/parity-hash.md):
# tests/tools/canon_pg_check inserts tricky values of every kind through libpq (text
# parameters, as the sink sends them), reads them back with RETURNING and SELECT on a
# session with the pinned settings, and checks that the canonical rows and hashes of the
# source values (cdc_convert → cdc_canon) equal those of the stored rows (cdc_pgtext →
# cdc_canon), that different values stay different, and that an unpinned session is
# refused. Then the stored values are changed behind its back, once in ways PostgreSQL
# considers the same value (must still be equal) and once in ways a person would call
# different (must be a mismatch naming the row).
# labels: integration quick
# timeout: 120
set -euo pipefail
: "${CDC_SOURCE_DIR:?CDC_SOURCE_DIR must point at the source tree}"
: "${CDC_BUILD_DIR:?CDC_BUILD_DIR must point at the build tree}"
check="$CDC_BUILD_DIR/tests/tools/canon_pg_check"
if [[ ! -x $check ]]; then
    echo "FAIL: $check is not built" >&2
    exit 1
fi
# shellcheck source=../harness/stack.sh
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
cdc_stack_up --no-broker
cdc_pg_createdb canon
conninfo=$(cdc_pg_conninfo canon)
out=$CDC_TEST_TMPDIR/canon.out

fail() {
    echo "FAIL: $*" >&2
    sed 's/^/  | /' "$out" >&2
    exit 1
}

# 1. Every row equal through RETURNING and SELECT, differences kept, unpinned refused.
"$check" "$conninfo" >"$out" || fail "canon_pg_check found a difference"
rows=$(grep -c '^row [0-9]*: equal row_hash=[0-9a-f]\{16\} ' "$out" || true)
((rows == 10)) || fail "expected 10 equal rows, got $rows"
grep -q '^table sha256: equal [0-9a-f]\{64\}$' "$out" || fail "no equal table digest"
grep -q '^table sha256 with TimeZone=Asia/Kolkata: equal$' "$out" || fail "time zone"
grep -q "^text NULL vs '': differ$" "$out" || fail "NULL vs ''"
grep -q "^text '' vs 'NULL': differ$" "$out" || fail "'' vs 'NULL'"
grep -q "^long 0 vs text '0': differ$" "$out" || fail "0 vs '0'"
grep -q "^text 'a ' vs 'a': differ$" "$out" || fail "'a' vs 'a '"
grep -q '^unpinned session (DateStyle SQL): refused$' "$out" || fail "unpinned session"
if grep -q 'MISMATCH\|SAME\|ACCEPTED' "$out"; then fail "unexpected result line"; fi
echo "ok: 10 rows equal on both sides, differences kept"

# The stored values really are the tricky ones (checked by PostgreSQL, not by our code).
got=$(cdc_psql canon "SET TimeZone = 'UTC'" \
    "SELECT c_json = '{\"a\": {\"y\": 1.50, \"z\": \"é\"}, \"b\": 1}'::jsonb
            AND c_text = 'a ' AND c_ts = '2024-01-15 08:30:00+00' AND c_dec = 1.50
     FROM canon_check WHERE id = 4")
[[ $got == t ]] || fail "row 4 is not stored as expected: $got"
got=$(cdc_psql canon "SELECT c_text IS NULL, (SELECT c_text = '' FROM canon_check WHERE id = 2),
     (SELECT c_text = 'NULL' FROM canon_check WHERE id = 3),
     (SELECT c_blob = '\\x0000ff00'::bytea FROM canon_check WHERE id = 5),
     (SELECT c_double::text = '-0' FROM canon_check WHERE id = 6)
     FROM canon_check WHERE id = 1")
[[ $got == 't|t|t|t|t' ]] || fail "rows 1, 2, 3, 5, 6 are not stored as expected: $got"

# 2. Changes PostgreSQL treats as the same value keep the hashes equal.
cdc_psql canon "UPDATE canon_check SET c_json = '{\"b\":1,   \"a\":{\"z\":\"\\u00e9\",\"y\":1.50}}',
                   c_num = '1E2', c_dec = '1.5', c_ts = '2024-01-15 03:30:00-05'
                WHERE id = 4" >/dev/null
"$check" "$conninfo" --verify >"$out" || fail "an equivalent rewrite was reported as a mismatch"
grep -q '^verify: all rows equal$' "$out" || fail "verify did not report equality"
echo "ok: equivalent rewrites keep the hashes"

# 3. Each change a person would call different is a mismatch naming its row.
changes=(
    "UPDATE canon_check SET c_text = 'a' WHERE id = 4"
    "UPDATE canon_check SET c_text = NULL WHERE id = 2"
    "UPDATE canon_check SET c_text = '' WHERE id = 1"
    "UPDATE canon_check SET c_double = 0 WHERE id = 6"
    "UPDATE canon_check SET c_num = 1.5 WHERE id = 7"
    "UPDATE canon_check SET c_ts = c_ts + interval '1 microsecond' WHERE id = 8"
    "UPDATE canon_check SET c_json = '{\"a\": 2, \"\": []}' WHERE id = 7"
    "UPDATE canon_check SET c_blob = '\\x000000ff' WHERE id = 5"
    "UPDATE canon_check SET c_date = '0001-12-31' WHERE id = 6"
)
for change in "${changes[@]}"; do
    id=${change##* }
    cdc_psql canon "CREATE TABLE saved AS SELECT * FROM canon_check" "$change" >/dev/null
    if "$check" "$conninfo" --verify >"$out"; then
        fail "not detected: $change"
    fi
    grep -q "^stored row $id: MISMATCH$" "$out" || fail "mismatch does not name row $id: $change"
    n=$(grep -c 'MISMATCH$' "$out")
    ((n == 2)) || fail "expected exactly row $id to differ ($n lines): $change"
    cdc_psql canon "TRUNCATE canon_check" "INSERT INTO canon_check SELECT * FROM saved" \
        "DROP TABLE saved" >/dev/null
done
"$check" "$conninfo" --verify >"$out" || fail "restoring the table did not restore equality"
echo "ok: ${#changes[@]} real changes detected, each naming its row"

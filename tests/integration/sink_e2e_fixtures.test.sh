#!/usr/bin/env bash
# All 20 fixture databases end to end through the real binaries: cdc-producer --once, then
# per domain two cdc-sink --once workers of one group at the same time, and:
#  1. every row present with equal values (cdc-validator --audit: canonical rows, counts,
#     checksums, SHA-256 per table, all "match"), counts per table equal (independent
#     count of every SQLite table against its PostgreSQL table);
#  2. the seed figures to the cent in PostgreSQL: $1,158,000.00 over 16 contacts, tiers
#     8/6/2 with $895,000.00/$210,000.00/$53,000.00, 58 proposals ($4,470,000.00), the
#     primary consultation pipeline $555,000.00, the 3 orphan test_assignments rows
#     (posts missing) present;
#  3. no dead letters, no parity mismatches, stored offsets at the high watermarks;
#  4. a second --once per domain applies nothing.
# labels: integration quick
# timeout: 240
set -euo pipefail
source "$CDC_SOURCE_DIR/tests/integration/sink_e2e_lib.sh"

se_up
se_producer_once
for d in crm analytics f500; do
    for w in a b; do se_sink_start "$d-$w" "$d" --once; done
    for w in a b; do se_sink_wait "$d-$w"; done
done
ok "producer --once, then two --once workers per domain exited 0"

se_counts
se_audit
ok "every table of the 20 files equal in PostgreSQL (audit and counts)"

core() { cdc_psql synapse_business_core "$1"; }
ana() { cdc_psql synapse_analytics "$1"; }
expect() { # expect LABEL GOT WANT
    [[ $2 == "$3" ]] || fail "$1: PostgreSQL says '$2', expected '$3'"
    ok "$1: $3"
}
expect "crm_contacts value" "$(core "SELECT count(*) || ' ' || to_char(SUM(estimated_value), 'FM999999999990.00') FROM crm_contacts")" \
    "16 1158000.00"
expect "tiers" "$(core "SELECT string_agg(priority_tier || ':' || n || ':' || v, ' ' ORDER BY priority_tier)
    FROM (SELECT priority_tier, count(*) n, to_char(SUM(estimated_value), 'FM999999999990.00') v
          FROM crm_contacts GROUP BY 1) t")" \
    "gold:6:210000.00 platinum:8:895000.00 silver:2:53000.00"
expect "generated_proposals" "$(core "SELECT count(*) || ' ' || to_char(SUM(proposal_value), 'FM999999999990.00') FROM generated_proposals")" \
    "58 4470000.00"
expect "consultation pipeline" "$(core "SELECT count(*) || ' ' || to_char(SUM(estimated_value), 'FM999999999990.00') FROM consultation_inquiries")" \
    "15 555000.00"
expect "duplicate's inquiries" "$(core "SELECT count(*) FROM dup_consultation_inquiries")" 1
expect "orphan test_assignments" "$(ana "SELECT count(*) FROM abt_test_assignments a
    WHERE NOT EXISTS (SELECT 1 FROM content_posts p WHERE p.post_id = a.post_id)")" 3
expect "f500 tables prefixed" "$(core "SELECT count(*) FROM pg_tables WHERE tablename ~ '^(f500|abm|onboarding)_'
    AND tablename IN ('f500_prospects', 'abm_campaigns', 'onboarding_milestones')")" 3

for db in synapse_business_core synapse_analytics; do
    expect "$db dead letters" "$(cdc_psql $db "SELECT count(*) FROM _cdc_dead_letters")" 0
    expect "$db parity mismatches" "$(cdc_psql $db "SELECT count(*) FROM _cdc_parity_outbox WHERE status = 'mismatch'")" 0
done
for d in crm f500; do
    expect "$d offsets at the end" "$(se_stored synapse_business_core $d)" "$(se_hwm cdc.$d)"
done
expect "analytics offsets at the end" "$(se_stored synapse_analytics analytics)" "$(se_hwm cdc.analytics)"

for d in crm analytics f500; do
    se_sink_once "$d"
    grep "batches, .* rows applied" "$DIR/once-$d.log" | tail -1 | grep -q " 0 batches, 0 rows applied" ||
        fail "a second --once of $d applied something: $(grep batches "$DIR/once-$d.log")"
done
ok "a second --once per domain applies nothing"

#!/usr/bin/env bash
# The migration demo on the embedded default stack: generated seed databases, a local
# throwaway PostgreSQL and cdc-devbroker. Installs what it needs, builds, runs, tears down.
#
#   1. generates the seeds' 20 SQLite files (cdc-fixtures) into demo-data/
#   2. starts PostgreSQL and the devbroker with every topic of config/pipeline.example.yml
#   3. runs the producer, two sink workers per domain and the validator
#   4. keeps the applications writing (cdc-workload) while everything streams
#   5. shows `cdc-ctl status` reaching READY TO FREEZE
#   6. proves parity with the audit: the seed figures on both sides, SHA-256 per table
#   7. cuts over all three domains (freeze, drain, audit, finalise) and prints the reports
#   8. tears everything down
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh
bash scripts/build.sh build >/dev/null
export CDC_BUILD_DIR=$root/build CDC_SOURCE_DIR=$root
bin=$root/build
config=$root/config/pipeline.example.yml
logs=$root/demo-data/logs

step() { printf '\n== %s ==\n' "$*"; }

step "1. seed databases (cdc-fixtures)"
export CDC_DATA_DIR=$root/demo-data
rm -rf "$CDC_DATA_DIR" "$root/config/cdc-state"
"$bin/tools/fixtures/cdc-fixtures" --out "$CDC_DATA_DIR" | sed "s|$root/||"
mkdir -p "$logs"

step "2. local stack: PostgreSQL + cdc-devbroker with the pipeline's topics"
# shellcheck source=tests/harness/stack.sh
source "$root/tests/harness/stack.sh"
cdc_stack_up --config "$config"
export CDC_BOOTSTRAP=$CDC_TEST_BOOTSTRAP PGHOST=$CDC_TEST_PGHOST PGPORT=$CDC_TEST_PGPORT
export PGUSER=$CDC_TEST_PGUSER
echo "PostgreSQL at $PGHOST:$PGPORT, Kafka bootstrap $CDC_BOOTSTRAP"
for db in synapse_business_core synapse_analytics; do
  cdc_pg_createdb "$db"
done
"$bin/tools/ctl/cdc-ctl" topics -c "$config" --verify-only 2>>"$logs/ctl.log"

step "3. producer, two sink workers per domain, validator"
workers=()
start() { # start NAME CMD...: a background worker whose log goes to demo-data/logs/NAME.log
  local name=$1; shift
  "$@" 2>"$logs/$name.log" &
  workers+=($!)
  cdc_stack_on_down "kill $! 2>/dev/null; wait $! 2>/dev/null"
  echo "started $name (pid $!)"
}
start producer "$bin/producer/cdc-producer" -c "$config"
for domain in crm analytics f500; do
  for i in 1 2; do
    start "sink-$domain-$i" "$bin/consumers/cdc-sink" -c "$config" --domain "$domain"
  done
done
start validator "$bin/consumers/cdc-validator" -c "$config"

step "4. the applications keep writing (cdc-workload, 15 s at 100 changes/s)"
# Every file but epic7's: the seeds' protected $1.158M pipeline stays as the seeds give it,
# so its figures can be shown on both sides at the end.
others=$(cd "$CDC_DATA_DIR" && find . -name '*.db' ! -name epic7_sales_automation.db |
  sed 's|^\./||' | paste -sd, -)
"$bin/tools/workload/cdc-workload" --dir "$CDC_DATA_DIR" --files "$others" --rate 100 \
  --seconds 15 --seed 1 2>"$logs/workload.log"

step "5. cutover readiness (cdc-ctl status --until ready)"
"$bin/tools/ctl/cdc-ctl" status -c "$config" --until ready --timeout 120 2>>"$logs/ctl.log"

step "6. parity: the audit compares every table of every source with its target"
"$bin/consumers/cdc-validator" -c "$config" --audit >"$logs/audit.txt" 2>>"$logs/ctl.log"
echo "(full report: demo-data/logs/audit.txt; the protected pipeline tables:)"
grep -A4 -E '^crm / epic7 / (crm_contacts|generated_proposals) ' "$logs/audit.txt"
grep -E '^(check|audit)' "$logs/audit.txt" || true
echo "tables equal on both sides: $(grep -cE ': match' "$logs/audit.txt")"
psql -X -At -d synapse_business_core -c "
  SELECT 'target crm_contacts: ' || COUNT(*) || ' contacts, pipeline \$' ||
         to_char(SUM(estimated_value), 'FM999999999990.00') FROM crm_contacts;
  SELECT '  ' || priority_tier || ': ' || COUNT(*) || ' contacts, \$' ||
         to_char(SUM(estimated_value), 'FM999999999990.00')
  FROM crm_contacts GROUP BY priority_tier ORDER BY SUM(estimated_value) DESC;"
sqlite3 "$CDC_DATA_DIR/epic7_sales_automation.db" "
  SELECT 'source crm_contacts: ' || COUNT(*) || ' contacts, pipeline \$' ||
         printf('%.2f', SUM(estimated_value)) FROM crm_contacts;"

step "7. cutover of every domain (cdc-ctl cutover: freeze, drain, audit, finalise, mark)"
for domain in crm f500 analytics; do
  echo "--- $domain ---"
  "$bin/tools/ctl/cdc-ctl" cutover -c "$config" --domain "$domain" \
    --evidence-dir "$root/demo-data/evidence-$domain" 2>>"$logs/cutover-$domain.log" |
    tee "$logs/report-$domain.txt" |
    grep -E '^cutover|^freeze|^timings|  check |^target finalisation|ORPHAN|  orphan ' |
    sed -n '1,24p'
done
echo "(full reports: demo-data/logs/report-*.txt; evidence backups: demo-data/evidence-*)"

step "8. tear down"
cdc_stack_down
echo "demo finished; worker logs are in demo-data/logs/"

#!/usr/bin/env bash
# The migration demo on the embedded default stack: generated seed databases, a local
# throwaway PostgreSQL and cdc-devbroker. Installs what it needs, builds, runs, tears down.
#
# What it does today (it grows with each component):
#   1. generates the seeds' 20 SQLite files (cdc-fixtures) into demo-data/
#   2. starts PostgreSQL and the devbroker with every topic of config/pipeline.example.yml
#   3. creates the target databases and shows the topics and the seed figures at the source
#   4. runs the application workload against the files for a few seconds
#   5. tears everything down
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh
bash scripts/build.sh build
export CDC_BUILD_DIR=$root/build CDC_SOURCE_DIR=$root
bin=$root/build/tools

step() { printf '\n== %s ==\n' "$*"; }

step "1. seed databases (cdc-fixtures)"
export CDC_DATA_DIR=$root/demo-data
"$bin/fixtures/cdc-fixtures" --out "$CDC_DATA_DIR"

step "2. local stack: PostgreSQL + cdc-devbroker with the pipeline's topics"
# shellcheck source=tests/harness/stack.sh
source "$root/tests/harness/stack.sh"
cdc_stack_up --config "$root/config/pipeline.example.yml"
export CDC_BOOTSTRAP=$CDC_TEST_BOOTSTRAP PGHOST=$CDC_TEST_PGHOST PGPORT=$CDC_TEST_PGPORT
export PGUSER=$CDC_TEST_PGUSER
echo "PostgreSQL at $PGHOST:$PGPORT, Kafka bootstrap $CDC_BOOTSTRAP"

step "3. targets, topics and the seed figures at the source"
for db in synapse_business_core synapse_analytics; do
  cdc_pg_createdb "$db"
  echo "created database $db"
done
kcat -b "$CDC_BOOTSTRAP" -L -J | python3 -c '
import json, sys
md = json.load(sys.stdin)
for t in sorted(md["topics"], key=lambda t: t["topic"]):
    print("topic %-24s partitions=%d" % (t["topic"], len(t["partitions"])))'
sqlite3 "$CDC_DATA_DIR/epic7_sales_automation.db" "
  SELECT 'crm_contacts: ' || COUNT(*) || ' contacts, pipeline \$' || printf('%.2f', SUM(estimated_value))
  FROM crm_contacts;
  SELECT '  ' || priority_tier || ': ' || COUNT(*) || ' contacts, \$' || printf('%.2f', SUM(estimated_value))
  FROM crm_contacts GROUP BY priority_tier ORDER BY SUM(estimated_value) DESC;
  SELECT 'generated_proposals: ' || COUNT(*) FROM generated_proposals;"

step "4. the applications keep writing (cdc-workload, 5 s at 50 changes/s)"
"$bin/workload/cdc-workload" --dir "$CDC_DATA_DIR" --rate 50 --seconds 5 --seed 1

step "5. tear down"
cdc_stack_down
echo "demo finished: the producer, sinks, validator and cutover join this demo as they land"

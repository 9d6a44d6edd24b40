#!/usr/bin/env bash
# The full tier of producer_workload_rebuild: 10 seeded runs.
# labels: integration full
# timeout: 1800
set -euo pipefail
CDC_PRODUCER_SEEDS="1 2 3 4 5 6 7 8 9 10" exec bash "$CDC_SOURCE_DIR/tests/integration/producer_workload_rebuild.test.sh"

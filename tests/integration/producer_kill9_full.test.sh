#!/usr/bin/env bash
# The full tier of producer_kill9: 20 kills.
# labels: integration full
# timeout: 1800
set -euo pipefail
CDC_PRODUCER_KILLS=20 exec bash "$CDC_SOURCE_DIR/tests/integration/producer_kill9.test.sh"

#!/usr/bin/env bash
# The full tier of sink_e2e_kill9: 20 kills of sink workers during apply.
# labels: integration full
# timeout: 1800
set -euo pipefail
CDC_SINK_KILLS=${CDC_SINK_KILLS:-20} exec bash "$CDC_SOURCE_DIR/tests/integration/sink_e2e_kill9.test.sh"

#!/usr/bin/env bash
# The quick set of the runbook test (runbooks.test.sh has the description): the runbooks
# for cutover, rollback before the mark, replay, dead-letter re-drive and adding a source,
# run from their Markdown against the local stack, outcomes checked.
# labels: integration quick
# timeout: 420
set -euo pipefail
RB_SET=quick
# shellcheck source=runbooks.test.sh
source "$CDC_SOURCE_DIR/tests/integration/runbooks.test.sh"

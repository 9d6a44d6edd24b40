# Sourced by the devbroker_*.test.sh scripts (not a test itself: no .test.sh suffix).
# Sets BIN (the devbroker) and TMP (a scratch directory removed on exit), stops every
# process handed to dbk_track on exit (newest first), and gives fail(), which shows the
# devbroker's stderr ($TMP/stderr) and any $TMP/*.err before exiting 1.

BIN="$CDC_BUILD_DIR/tools/devbroker/cdc-devbroker"
TMP=$(mktemp -d)
_DBK_PIDS=()

_dbk_cleanup() {
    local i
    for ((i = ${#_DBK_PIDS[@]} - 1; i >= 0; i--)); do
        kill "${_DBK_PIDS[i]}" 2>/dev/null || true
        wait "${_DBK_PIDS[i]}" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap _dbk_cleanup EXIT

fail() {
    local f
    echo "FAIL: $*" >&2
    for f in "$TMP/stderr" "$TMP"/*.err; do
        [[ -e "$f" ]] && { echo "--- $f:" >&2; cat "$f" >&2; }
    done
    exit 1
}

# dbk_track PID: stop PID on exit if it still runs; dbk_untrack PID once it was waited for
# (so that a reused PID is never killed).
dbk_track() { _DBK_PIDS+=("$1"); }
dbk_untrack() {
    local p kept=()
    for p in "${_DBK_PIDS[@]}"; do
        [[ "$p" == "$1" ]] || kept+=("$p")
    done
    _DBK_PIDS=("${kept[@]}")
}

# dbk_wait_ready BOOTSTRAP_FILE PID: 0 once the file has content, 1 if PID exited first or
# 15 s passed.
dbk_wait_ready() {
    for _ in $(seq 1 150); do
        [[ -s "$1" ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    [[ -s "$1" ]]
}

# dbk_start ARGS...: starts the devbroker with ARGS, its bootstrap file $TMP/bootstrap,
# control socket $TMP/ctl.sock, stdout $TMP/stdout and stderr $TMP/stderr; waits until it
# is ready and sets BROKER_PID and BS (the bootstrap list).
dbk_start() {
    "$BIN" "$@" -f "$TMP/bootstrap" -s "$TMP/ctl.sock" >"$TMP/stdout" 2>"$TMP/stderr" &
    BROKER_PID=$!
    dbk_track "$BROKER_PID"
    dbk_wait_ready "$TMP/bootstrap" "$BROKER_PID" ||
        fail "devbroker not ready (exited, or no bootstrap file after 15 s)"
    BS=$(cat "$TMP/bootstrap")
}

# dbk_ctl COMMAND: the devbroker's reply to a control command, on stdout.
dbk_ctl() { "$BIN" -s "$TMP/ctl.sock" --send "$1"; }

# dbk_stop PID: SIGTERM must end PID with exit 0 and no sanitizer report in $TMP/stderr
# (under ASan this also proves no leak was reported).
dbk_stop() {
    local rc
    kill -TERM "$1"
    set +e
    wait "$1"
    rc=$?
    set -e
    dbk_untrack "$1"
    [[ $rc -eq 0 ]] || fail "devbroker exited $rc after SIGTERM"
    if grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$TMP/stderr" 2>/dev/null; then
        fail "sanitizer report in the devbroker's stderr"
    fi
}

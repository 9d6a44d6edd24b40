#!/usr/bin/env bash
# labels: integration quick
# timeout: 120
#
# The cdc-devbroker command line: --help, exit codes of usage and config errors, the fixed
# --port bootstrap (kcat through it), "port in use", control socket handling (stale file
# replaced, live one refused) and a clean SIGTERM shutdown.
set -euo pipefail

# shellcheck source=lib/devbroker.sh
source "$CDC_SOURCE_DIR/tests/integration/lib/devbroker.sh"

# Runs the devbroker with the given arguments, expecting exit code $1; stderr in $TMP/last.err.
expect_exit() {
    local want=$1 rc
    shift
    set +e
    timeout 30 "$BIN" "$@" >"$TMP/last.out" 2>"$TMP/last.err"
    rc=$?
    set -e
    [[ $rc -eq $want ]] || fail "cdc-devbroker $* exited $rc, expected $want"
}

# --help: exit 0, says what it is for and what it cannot do.
expect_exit 0 --help
for word in development "never for production" "memory only" "5 MiB" "100,000" CreateTopics \
    offsets-for-times "consumer-group" compaction read_committed "auto-creat" "Exit codes"; do
    grep -qi -- "$word" "$TMP/last.out" || fail "--help does not mention '$word'"
done
[[ ! -s "$TMP/last.err" ]] || fail "--help wrote to stderr"

# Usage errors: exit 2 with a message.
expect_exit 2 --no-such-option
expect_exit 2 --brokers abc
grep -q "brokers 'abc'" "$TMP/last.err" || fail "--brokers abc: message does not name the value"
expect_exit 2 --port 70000
expect_exit 2 --topic "bad name"
expect_exit 2 --topic t:0
expect_exit 2 --topic t:3 --topic t:4
grep -q "topic 't'" "$TMP/last.err" || fail "conflicting --topic: message does not name it"
expect_exit 2 stray-argument
expect_exit 2 --send ping
grep -q -- "--control" "$TMP/last.err" || fail "--send without --control: no hint"

# Config errors: exit 2 naming the file (and line and key when it is a content error).
expect_exit 2 -c "$TMP/missing.yml"
grep -q "$TMP/missing.yml" "$TMP/last.err" || fail "missing config: message does not name the file"
printf 'domains:\n  - name: crm\n    partitionz: 3\n    target: x\nsources: []\n' >"$TMP/bad.yml"
expect_exit 2 -c "$TMP/bad.yml"
grep -q "bad.yml:3" "$TMP/last.err" || fail "bad config: message does not name file:line"
grep -q "partitionz" "$TMP/last.err" || fail "bad config: message does not name the key"

# --send to nobody: operational failure (1) naming the socket.
expect_exit 1 -s "$TMP/nobody.sock" --send ping
grep -q "nobody.sock" "$TMP/last.err" || fail "--send to a missing socket: path not named"

# A free port, found by binding port 0; retried if someone takes it in between.
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A stale control socket file (its owner died without removing it) must be replaced.
/usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
    "$TMP/ctl.sock"
[[ -S "$TMP/ctl.sock" ]] || fail "could not make a stale socket file"

started=""
for attempt in 1 2 3; do
    PORT=$(free_port)
    rm -f "$TMP/bootstrap"
    "$BIN" -P "$PORT" -t fixed:2 -b 2 -f "$TMP/bootstrap" -s "$TMP/ctl.sock" \
        >"$TMP/fixed.out" 2>"$TMP/fixed.err" &
    pid=$!
    dbk_track "$pid"
    if dbk_wait_ready "$TMP/bootstrap" "$pid"; then
        started=yes
        break
    fi
    grep -q "port in use" "$TMP/fixed.err" || fail "devbroker on port $PORT did not start"
done
[[ -n "$started" ]] || fail "no free port after 3 attempts"
[[ "$(cat "$TMP/bootstrap")" == "127.0.0.1:$PORT" ]] || fail "bootstrap file: $(cat "$TMP/bootstrap")"
[[ "$(cat "$TMP/fixed.out")" == "127.0.0.1:$PORT" ]] || fail "stdout: $(cat "$TMP/fixed.out")"
[[ $(wc -l <"$TMP/fixed.out") -eq 1 ]] || fail "stdout has more than one line"

# kcat through the fixed port: metadata, then produce and consume.
kcat -L -b "127.0.0.1:$PORT" -t fixed >"$TMP/meta.txt" || fail "kcat -L via 127.0.0.1:$PORT"
cat "$TMP/meta.txt"
grep -q 'topic "fixed" with 2 partitions' "$TMP/meta.txt" || fail "topic not seen via fixed port"
grep -q ' 2 brokers:' "$TMP/meta.txt" || fail "brokers not listed via fixed port"
printf 'through the fixed port\n' | kcat -P -b "127.0.0.1:$PORT" -t fixed -p 1 \
    -X message.timeout.ms=10000
got=$(timeout 30 kcat -C -b "127.0.0.1:$PORT" -t fixed -p 1 -o beginning -e -q)
[[ "$got" == "through the fixed port" ]] || fail "consumed '$got' via the fixed port"

# With broker 1 down, the fixed port still bootstraps (relayed to broker 2).
[[ "$(dbk_ctl 'down 1')" == "ok broker 1 down" ]] || fail "down 1"
kcat -L -b "127.0.0.1:$PORT" -t fixed -m 10 >/dev/null || fail "bootstrap with broker 1 down"
dbk_ctl 'up 1' >/dev/null

# A second devbroker on the same port: exit 1 naming the port. On the same live control
# socket: exit 1 naming the socket.
expect_exit 1 -P "$PORT" -t other
grep -q "$PORT" "$TMP/last.err" || fail "port in use: message does not name port $PORT"
grep -qi "in use" "$TMP/last.err" || fail "port in use: message does not say so"
expect_exit 1 -s "$TMP/ctl.sock" -t other
grep -q "ctl.sock" "$TMP/last.err" || fail "live control socket: message does not name it"
[[ "$(dbk_ctl ping)" == "ok" ]] || fail "first devbroker lost its socket"

# SIGTERM: exit 0, the control socket is removed, the bootstrap file stays.
dbk_stop "$pid"
[[ ! -e "$TMP/ctl.sock" ]] || fail "control socket not removed on exit"
[[ -s "$TMP/bootstrap" ]] || fail "bootstrap file removed on exit"
if kcat -L -b "127.0.0.1:$PORT" -m 2 >/dev/null 2>&1; then
    fail "port $PORT still answers after shutdown"
fi

echo "PASS devbroker_cli"

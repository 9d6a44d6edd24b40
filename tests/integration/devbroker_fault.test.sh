#!/usr/bin/env bash
# labels: integration quick
# timeout: 120
#
# Fault injection through the control socket: while every broker is down a produce cannot
# complete (kcat with a short message.timeout.ms fails; a producer with a long timeout
# holds its message undelivered), after "up all" the held message is delivered and
# consumed; "rtt" really delays responses; bad commands get "error:" and exit 1.
set -euo pipefail

# shellcheck source=lib/devbroker.sh
source "$CDC_SOURCE_DIR/tests/integration/lib/devbroker.sh"
PY=/usr/bin/python3

dbk_start -t faults:1 -b 3

[[ "$(dbk_ctl ping)" == "ok" ]] || fail "ping"

# Bad commands: an "error:" reply and exit status 1.
for bad in "down 7" "up 0" "rtt 2" "rtt 2 -5" "rtt x 10" "frobnicate" "down"; do
    set +e
    reply=$(dbk_ctl "$bad")
    rc=$?
    set -e
    [[ $rc -eq 1 && "$reply" == error:* ]] || fail "'$bad' gave rc=$rc reply '$reply'"
done

# The producer that will hold a message across the outage; it connects while all is up.
cat >"$TMP/hold.py" <<'EOF'
import os, subprocess, sys, time
from confluent_kafka import Producer

bs, devbroker, ctl_sock = sys.argv[1:4]
reports = []
p = Producer({"bootstrap.servers": bs, "message.timeout.ms": 60000,
              "reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 500,
              "allow.auto.create.topics": False, "acks": "all"})
cb = lambda err, msg: reports.append((err, msg.value() if msg else None))

p.produce("faults", b"warm-up", partition=0, on_delivery=cb)
p.flush(20)
assert reports and reports[0][0] is None, "warm-up not delivered: %r" % reports
print("warm-up delivered")

def ctl(cmd):
    out = subprocess.run([devbroker, "-s", ctl_sock, "--send", cmd], capture_output=True,
                         text=True)
    assert out.returncode == 0 and out.stdout.startswith("ok"), (cmd, out)

ctl("down all")
print("all brokers down", flush=True)
# Tell the shell to run its short-timeout kcat now, and wait until it is done.
open(sys.argv[4], "w").close()
deadline = time.time() + 60
while not os.path.exists(sys.argv[5]):
    assert time.time() < deadline, "shell never finished its kcat"
    time.sleep(0.1)

reports.clear()
p.produce("faults", b"held across the outage", partition=0, on_delivery=cb)
t0 = time.time()
while time.time() - t0 < 5:
    p.poll(0.2)
assert not reports, "delivery report while every broker is down: %r" % reports
assert len(p) == 1, "message not pending while down (queue length %d)" % len(p)
print("still pending after 5 s with every broker down")

ctl("up all")
t_up = time.time()
left = p.flush(30)
assert left == 0, "%d messages still undelivered 30 s after up" % left
assert len(reports) == 1 and reports[0][0] is None, "delivery failed: %r" % reports
print("delivered %.1f s after up all" % (time.time() - t_up))
EOF

"$PY" "$TMP/hold.py" "$BS" "$BIN" "$TMP/ctl.sock" "$TMP/go" "$TMP/done" >"$TMP/hold.out" 2>&1 &
HOLD_PID=$!
dbk_track "$HOLD_PID"

for _ in $(seq 1 300); do
    [[ -e "$TMP/go" ]] && break
    kill -0 "$HOLD_PID" 2>/dev/null || { cat "$TMP/hold.out" >&2; fail "hold.py died early"; }
    sleep 0.1
done
[[ -e "$TMP/go" ]] || fail "hold.py never took the brokers down"

# First half: kcat with a 3 s message timeout cannot deliver while everything is down.
set +e
printf 'lost while down\n' | timeout 60 kcat -P -b "$BS" -t faults -p 0 \
    -X message.timeout.ms=3000 -X reconnect.backoff.max.ms=500 2>"$TMP/kcat_down.err"
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "kcat produce while down returned rc=$rc"
echo "kcat produce while all brokers down failed as expected (rc=$rc): $(grep ERROR "$TMP/kcat_down.err" | tail -1)"
touch "$TMP/done"

# Second half: the held message is delivered once the brokers are back.
if ! wait "$HOLD_PID"; then
    dbk_untrack "$HOLD_PID"
    cat "$TMP/hold.out" >&2
    fail "hold.py failed"
fi
dbk_untrack "$HOLD_PID"
cat "$TMP/hold.out"

got=$(timeout 30 kcat -C -b "$BS" -t faults -p 0 -o beginning -e -q -f '%s\n')
expected=$(printf 'warm-up\nheld across the outage')
[[ "$got" == "$expected" ]] || fail "consumed:
$got
expected:
$expected"

# A single broker down: the others keep answering metadata.
[[ "$(dbk_ctl 'down 1')" == "ok broker 1 down" ]] || fail "down 1"
kcat -L -b "$BS" -t faults -m 10 >/dev/null || fail "metadata with broker 1 down"
[[ "$(dbk_ctl 'up 1')" == "ok broker 1 up" ]] || fail "up 1"

# rtt: 1500 ms of latency on every broker makes a fresh metadata round trip slow, and 0
# makes it fast again.
elapsed_ms() {
    local t0 t1
    t0=$(date +%s%N)
    kcat -L -b "$BS" -t faults -m 20 >/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
[[ "$(dbk_ctl 'rtt all 1500')" == "ok all 3 brokers rtt 1500 ms" ]] || fail "rtt all 1500"
slow=$(elapsed_ms)
[[ "$(dbk_ctl 'rtt all 0')" == "ok all 3 brokers rtt 0 ms" ]] || fail "rtt all 0"
[[ "$(dbk_ctl 'rtt 2 0')" == "ok broker 2 rtt 0 ms" ]] || fail "rtt 2 0"
fast=$(elapsed_ms)
echo "kcat -L with rtt 1500: ${slow} ms, with rtt 0: ${fast} ms"
((slow >= 1500)) || fail "rtt 1500 did not slow metadata (${slow} ms)"
((fast < 1500)) || fail "rtt 0 did not restore speed (${fast} ms)"

# A clean stop: SIGTERM exits 0 (under ASan this also proves no leak was reported).
dbk_stop "$BROKER_PID"

echo "PASS devbroker_fault"

#!/usr/bin/env bash
# labels: integration quick
# timeout: 300
#
# The test harness itself (tests/harness/stack.sh):
#  1. brings PostgreSQL + the devbroker up and down CDC_HARNESS_CYCLES times (default 20),
#     each time checking that PostgreSQL answers SELECT 1 and the broker answers kcat -L;
#  2. stacks whose shell dies in every way a test can die: SIGTERM, SIGINT, SIGHUP,
#     SIGKILL (the reaper must clean up), a failing command under set -e, an EXIT trap
#     of the test's own (must be chained and the exit status kept), traps replaced by the
#     test (the reaper again), and SIGTERM in the middle of cdc_stack_up;
#  3. after each: no process whose command line names a stack directory, no recorded
#     pid alive, no listener on a recorded port, no stack directory left.
# The leftover check is itself checked against a planted leftover, so it can fail.
set -euo pipefail
: "${CDC_SOURCE_DIR:?CDC_SOURCE_DIR must point at the source tree}"
: "${CDC_BUILD_DIR:?CDC_BUILD_DIR must point at the build tree}"
# shellcheck source=tests/harness/stack.sh source-path=SCRIPTDIR/../..
source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

# Prints what must be gone after teardown: "dir D", "port P", "pid PID START" lines.
describe_stack() {
    local port pid kid
    printf 'dir %s\n' "$CDC_TEST_TMPDIR"
    if [[ -n ${CDC_TEST_PGPORT:-} ]]; then
        printf 'port %s\n' "$CDC_TEST_PGPORT"
        pid=$(cdc_pg_pid)
        _cdc_proc_stat "$pid" && printf 'pid %s %s\n' "$pid" "$_CDC_PSTART"
        for kid in $(pgrep -P "$pid"); do
            _cdc_proc_stat "$kid" && printf 'pid %s %s\n' "$kid" "$_CDC_PSTART"
        done
    fi
    if [[ -n ${CDC_TEST_BOOTSTRAP:-} ]]; then
        for port in ${CDC_TEST_BOOTSTRAP//,/ }; do printf 'port %s\n' "${port##*:}"; done
        _cdc_proc_stat "$CDC_TEST_BROKER_PID" &&
            printf 'pid %s %s\n' "$CDC_TEST_BROKER_PID" "$_CDC_PSTART"
    fi
    pid=$(<"$CDC_TEST_TMPDIR/reaper.pid")
    _cdc_proc_stat "$pid" && printf 'pid %s %s\n' "$pid" "$_CDC_PSTART"
    return 0
}

# Child mode: bash harness_cycle.test.sh --child MODE INFO_FILE READY_FILE
if [[ ${1:-} == --child ]]; then
    mode=$2 info=$3 ready=$4
    case $mode in
    chain) trap 'echo "chained status=$?" >"$info.chain"' EXIT ;;
    startup)
        touch "$ready"
        cdc_stack_up
        exit 0
        ;;
    esac
    cdc_stack_up
    describe_stack >"$info"
    case $mode in
    fail)
        false
        echo "set -e did not stop the child" >&2
        exit 0
        ;;
    chain) exit 3 ;;
    clobber)
        trap - EXIT INT TERM HUP
        exit 0
        ;;
    esac
    touch "$ready"
    while :; do sleep 0.1; done
fi

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/cdc-harness-test.XXXXXXXXXX")
# The startup cases put stacks below $work; as root, PostgreSQL's user must traverse it.
chmod 0711 "$work"
planted='' child=''
# Installed before cdc_stack_up, so it is chained behind the stack's own EXIT trap. A
# child still running after a failure gets SIGTERM, so its stack goes too.
trap 'for p in $planted $child; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

# Prints every process (but us) whose command line names one of the directories given;
# returns 1 when there is one.
procs_naming() {
    local p pid d joined found=0
    local -a argv
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        { mapfile -d '' -t argv <"$p/cmdline"; } 2>/dev/null || continue
        joined=" ${argv[*]} "
        for d in "$@"; do
            if [[ $joined == *"$d"* ]]; then
                echo "leftover process $pid: ${argv[*]}"
                found=1
            fi
        done
    done
    return $found
}

# Prints every leftover of the described stacks (files given as arguments); returns 1
# when there is one. Ports that something unrelated listens on again (another test
# running in parallel picked the same port) are reported but not counted.
leftovers() {
    local -a dirs=() ports=() pids=()
    local kind a b f p d found=0 owner
    for f in "$@"; do
        while read -r kind a b; do
            case $kind in
            dir) dirs+=("$a") ;;
            port) ports+=("$a") ;;
            pid) pids+=("$a:$b") ;;
            esac
        done <"$f"
    done
    for d in "${dirs[@]}"; do
        if [[ -e $d ]]; then
            echo "leftover directory: $d"
            found=1
        fi
    done
    procs_naming "${dirs[@]}" || found=1
    for p in "${pids[@]}"; do
        if _cdc_proc_stat "${p%%:*}" && [[ $_CDC_PSTART == "${p#*:}" && $_CDC_PSTATE != Z ]]; then
            echo "leftover process ${p%%:*} (recorded at stack start): $(tr '\0' ' ' <"/proc/${p%%:*}/cmdline")"
            found=1
        fi
    done
    for p in "${ports[@]}"; do
        _cdc_port_listening "$p" || continue
        owner=$(ss -Hltnp "sport = :$p" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 || true)
        owner=${owner#pid=}
        if [[ -n $owner && -r /proc/$owner/cmdline ]] &&
            ! grep -qF -e "${dirs[0]}" "/proc/$owner/cmdline"; then
            echo "note: port $p is listened on again by unrelated pid $owner:" \
                "$(tr '\0' ' ' <"/proc/$owner/cmdline")" >&2
            continue
        fi
        echo "leftover listener on port $p (pid ${owner:-unknown})"
        found=1
    done
    return $found
}

# Waits up to SECONDS for the described stacks to be gone, then fails with the list.
expect_clean() {
    local secs=$1 what=$2 i out
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        leftovers "$@" >/dev/null && return 0
        sleep 0.1
    done
    out=$(leftovers "$@") || true
    fail "$what: leftovers after ${secs}s:"$'\n'"$out"
}

now_ms() {
    _cdc_now
    echo $((_CDC_NOW_US / 1000))
}

test_start=$(now_ms)
ok() {
    printf 'ok (%6d ms): %s\n' $(($(now_ms) - test_start)) "$*"
}

# ---- 0. the leftover check must see a planted leftover ----
plant=$work/planted-stack
mkdir "$plant"
# Its output must not go to ctest's pipe, or ctest would wait for it on failure.
(exec -a "$plant/planted-sleep" sleep 30) </dev/null >/dev/null 2>&1 &
planted=$!
for ((i = 0; i < 100; i++)); do
    _cdc_pid_cmdline_has "$planted" "$plant/" && break
    sleep 0.05
done
printf 'dir %s\n' "$plant" >"$work/plant.info"
if leftovers "$work/plant.info" >"$work/plant.out"; then
    fail "the leftover check did not notice a planted directory and process"
fi
grep -q "leftover directory: $plant" "$work/plant.out" || fail "planted directory not reported"
grep -q "leftover process $planted" "$work/plant.out" || fail "planted process not reported"
kill "$planted"
wait "$planted" 2>/dev/null || true
planted=''
rmdir "$plant"
leftovers "$work/plant.info" >/dev/null || fail "leftover check still fails after removal"
ok "the leftover check reports planted leftovers"

# ---- 1. up/down cycles ----
cycles=${CDC_HARNESS_CYCLES:-20}
total_up=0 total_down=0
for ((c = 1; c <= cycles; c++)); do
    t0=$(now_ms)
    cdc_stack_up
    t1=$(now_ms)
    describe_stack >"$work/cycle.$c.info"
    [[ $(cdc_psql postgres 'SELECT 1') == 1 ]] || fail "cycle $c: PostgreSQL did not answer SELECT 1"
    kcat -L -b "$CDC_TEST_BOOTSTRAP" -m 10 >"$work/kcat.out" 2>&1 ||
        fail "cycle $c: kcat -L failed: $(cat "$work/kcat.out")"
    grep -q ' brokers:' "$work/kcat.out" || fail "cycle $c: no broker list from kcat -L"
    t2=$(now_ms)
    cdc_stack_down
    t3=$(now_ms)
    [[ -z ${CDC_TEST_TMPDIR:-} ]] || fail "cycle $c: CDC_TEST_TMPDIR still set after cdc_stack_down"
    leftovers "$work/cycle.$c.info" >"$work/left.out" ||
        fail "cycle $c: leftovers right after cdc_stack_down:"$'\n'"$(cat "$work/left.out")"
    printf 'cycle %2d: up %4d ms, checks %4d ms, down %4d ms\n' "$c" $((t1 - t0)) $((t2 - t1)) $((t3 - t2))
    total_up=$((total_up + t1 - t0))
    total_down=$((total_down + t3 - t2))
done
cdc_stack_down # idempotent when nothing is up
expect_clean 1 "after $cycles cycles" "$work"/cycle.*.info
ok "$cycles cycles, mean up $((total_up / cycles)) ms, mean down $((total_down / cycles)) ms"

# ---- 2. interrupted stacks ----
# Starts a child in MODE, waits for it to be ready, sends SIGNAL (or none), checks its
# exit status and that its stack is gone within GRACE seconds.
run_child() {
    local mode=$1 sig=$2 want=$3 grace=$4 info=$work/child.$1.info ready=$work/child.$1.ready
    local pid st=0 i
    # SIGINT would be ignored by a background child of a script: give it back.
    env --default-signal=INT bash "$self" --child "$mode" "$info" "$ready" &
    pid=$!
    child=$pid
    if [[ $sig != none ]]; then
        for ((i = 0; i < 300; i++)); do
            [[ -e $ready ]] && break
            _cdc_pid_alive "$pid" || break
            sleep 0.1
        done
        [[ -e $ready ]] || fail "child $mode never became ready"
        kill -"$sig" "$pid"
    fi
    wait "$pid" || st=$?
    child=''
    [[ $st == "$want" ]] || fail "child $mode: exit status $st, expected $want"
    [[ -s $info ]] || fail "child $mode: no stack description written"
    expect_clean "$grace" "child $mode" "$info"
    ok "child $mode (signal $sig): status $st, nothing left"
}
run_child term TERM 143 1
run_child int INT 130 1
run_child hup HUP 129 1
run_child fail none 1 1
run_child chain none 3 1
[[ $(cat "$work/child.chain.info.chain") == "chained status=3" ]] ||
    fail "the test's own EXIT trap was not chained with its status: $(cat "$work/child.chain.info.chain")"
ok "the test's own EXIT trap ran after teardown and saw status 3"
# Without traps only the reaper (polling twice a second) can clean up.
run_child kill KILL 137 15
run_child clobber none 0 15

# SIGTERM while cdc_stack_up is still working: the child uses its own TMPDIR so that
# whatever it created can be found without its description.
template_dir=${TMPDIR:-/tmp}
for delay in 0 0.03 0.06 0.1 0.15 0.2 0.25; do
    tdir=$work/startup.$delay
    mkdir "$tdir"
    TMPDIR=$tdir CDC_PG_TEMPLATE_DIR=$template_dir \
        env --default-signal=INT bash "$self" --child startup /dev/null "$tdir/ready" &
    pid=$!
    child=$pid
    for ((i = 0; i < 300; i++)); do
        [[ -e $tdir/ready ]] && break
        sleep 0.01
    done
    sleep "$delay"
    kill -TERM "$pid" 2>/dev/null || true
    st=0
    wait "$pid" || st=$?
    child=''
    [[ $st == 143 || $st == 0 ]] || fail "startup interrupted after ${delay}s: exit status $st"
    # Teardown ran in the child's trap (or, after a completed start, its EXIT trap);
    # allow the reaper its polling period in case it is the one still finishing.
    for ((i = 0; i < 30; i++)); do
        procs_naming "$tdir/" >/dev/null && ! compgen -G "$tdir/cdc-stack.*" >/dev/null && break
        sleep 0.1
    done
    if compgen -G "$tdir/cdc-stack.*" >/dev/null; then
        fail "startup interrupted after ${delay}s: left $(ls -d "$tdir"/cdc-stack.*)"
    fi
    out=$(procs_naming "$tdir/") || fail "startup interrupted after ${delay}s: $out"
    ok "SIGTERM ${delay}s into cdc_stack_up (status $st): nothing left"
done

echo "PASS: harness cycles and interruptions leave nothing behind"

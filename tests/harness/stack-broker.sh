# shellcheck shell=bash
# The cdc-devbroker of tests/harness/stack.sh (sourced by it; not a public API).
#
# Layout inside the stack directory T:
#   T/broker/bootstrap      written by the devbroker once its topics exist (the ready signal)
#   T/broker/control.sock   its control socket
#   T/broker/stdout.log, T/broker/stderr.log
#   T/broker/pid

# Sets _CDC_DEVBROKER_BIN to the devbroker binary: $CDC_DEVBROKER, else the build tree's.
_cdc_broker_find_bin() {
    local bin=${CDC_DEVBROKER:-}
    if [[ -z $bin ]]; then
        if [[ -z ${CDC_BUILD_DIR:-} ]]; then
            _cdc_err "neither CDC_DEVBROKER nor CDC_BUILD_DIR is set; cannot find cdc-devbroker" \
                "(or pass --no-broker)"
            return 1
        fi
        bin=$CDC_BUILD_DIR/tools/devbroker/cdc-devbroker
    fi
    if [[ ! -x $bin ]]; then
        _cdc_err "cdc-devbroker not found or not executable: $bin" \
            "(build it: cmake --build BUILD --target cdc-devbroker; or pass --no-broker)"
        return 1
    fi
    _CDC_DEVBROKER_BIN=$bin
}

# Starts the devbroker for stack directory T with extra arguments, waits (bounded by
# CDC_STACK_BROKER_TIMEOUT seconds, default 15) for its bootstrap file and control socket.
# Sets _CDC_BROKER_PID and _CDC_BROKER_BOOTSTRAP.
_cdc_broker_start() {
    local dir=$1/broker pid st deadline timeout=${CDC_STACK_BROKER_TIMEOUT:-15}
    shift
    _cdc_broker_find_bin || return 1
    mkdir -m 0700 -- "$dir" || {
        _cdc_err "cannot create $dir"
        return 1
    }
    if ((${#dir} + 14 > 107)); then
        _cdc_err "control socket path $dir/control.sock is too long; use a shorter TMPDIR"
        return 1
    fi
    "$_CDC_DEVBROKER_BIN" --bootstrap-file "$dir/bootstrap" --control "$dir/control.sock" "$@" \
        </dev/null >"$dir/stdout.log" 2>"$dir/stderr.log" &
    pid=$!
    printf '%s\n' "$pid" >"$dir/pid"
    _CDC_BROKER_PID=$pid
    _cdc_now
    deadline=$((_CDC_NOW_US + timeout * 1000000))
    while [[ ! -s $dir/bootstrap || ! -S $dir/control.sock ]]; do
        if ! _cdc_pid_alive "$pid"; then
            st=0
            wait "$pid" 2>/dev/null || st=$?
            _cdc_err "cdc-devbroker exited with status $st before it was ready" \
                "($_CDC_DEVBROKER_BIN $*)"
            _cdc_tail "$dir/stderr.log"
            return 1
        fi
        _cdc_now
        if ((_CDC_NOW_US >= deadline)); then
            _cdc_err "cdc-devbroker (pid $pid) not ready after ${timeout}s: no bootstrap file" \
                "$dir/bootstrap or no control socket"
            _cdc_tail "$dir/stderr.log"
            return 1
        fi
        sleep 0.02
    done
    { read -r _CDC_BROKER_BOOTSTRAP <"$dir/bootstrap"; } 2>/dev/null
    if [[ -z ${_CDC_BROKER_BOOTSTRAP:-} ]]; then
        _cdc_err "cdc-devbroker wrote an empty bootstrap file $dir/bootstrap"
        return 1
    fi
}

# Stops the devbroker of stack directory T: SIGTERM, SIGKILL after 5 s. Safe when it
# does not run. The pid is only signalled while its command line still names T.
_cdc_broker_stop() {
    local dir=$1/broker pid=''
    [[ -f $dir/pid ]] || return 0
    { read -r pid <"$dir/pid"; } 2>/dev/null || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    if _cdc_pid_alive "$pid" && _cdc_pid_cmdline_has "$pid" "$dir/"; then
        _cdc_kill_wait "$pid" 5 || return 1
    fi
    _cdc_reap "$pid"
    return 0
}

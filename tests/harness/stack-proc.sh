# shellcheck shell=bash
# Process, clock and port helpers for tests/harness/stack.sh (sourced by it; not a public
# API). Every helper avoids forking where bash can do the job, because teardown runs
# them in loops and in the trap of a dying shell.

# Prints a harness diagnostic on stderr (stdout stays free for test data).
_cdc_log() {
    [[ ${CDC_STACK_QUIET:-0} == 1 ]] || printf 'cdc-stack: %s\n' "$*" >&2
}

# Prints an error on stderr; always shown, whatever CDC_STACK_QUIET says.
_cdc_err() {
    printf 'cdc-stack: error: %s\n' "$*" >&2
}

# Prints the last lines of a log file, indented, so a failure shows its cause.
_cdc_tail() {
    local file=$1 lines=${2:-40}
    if [[ -s $file ]]; then
        printf 'cdc-stack: ---- last %s lines of %s ----\n' "$lines" "$file" >&2
        tail -n "$lines" -- "$file" | sed 's/^/  | /' >&2
        printf 'cdc-stack: ---- end of %s ----\n' "$file" >&2
    else
        printf 'cdc-stack: (%s is empty or missing)\n' "$file" >&2
    fi
}

# Sets _CDC_NOW_US to the wall clock in microseconds. EPOCHREALTIME needs no fork; the
# decimal separator depends on the locale, hence both . and , are stripped.
_cdc_now() {
    _CDC_NOW_US=${EPOCHREALTIME//[.,]/}
}

# Reads /proc/PID/stat into _CDC_PSTATE, _CDC_PPPID and _CDC_PSTART (start time in clock
# ticks since boot; together with the pid it names one process, whatever pid reuse does).
# Returns 1 when the process does not exist.
_cdc_proc_stat() {
    local line rest
    local -a f
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    # The command name (field 2) may contain spaces and parentheses; cut after the last ')'.
    rest=${line##*) }
    read -r -a f <<<"$rest"
    _CDC_PSTATE=${f[0]}
    _CDC_PPPID=${f[1]}
    _CDC_PSTART=${f[19]}
}

# True when PID runs (exists and is not a zombie waiting to be reaped).
_cdc_pid_alive() {
    [[ -n ${1:-} ]] || return 1
    _cdc_proc_stat "$1" || return 1
    [[ $_CDC_PSTATE != Z && $_CDC_PSTATE != X ]]
}

# True when the command line of PID contains STRING. Used before signalling a pid read
# from a file, so a recycled pid of an unrelated process is never killed.
_cdc_pid_cmdline_has() {
    local pid=$1 needle=$2
    local -a argv
    { mapfile -d '' -t argv <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
    [[ " ${argv[*]} " == *"$needle"* ]]
}

# Reaps PID when it is a child of this shell, so it does not linger as a zombie.
_cdc_reap() {
    wait "$1" 2>/dev/null || true
}

# Waits until PID is gone, at most TIMEOUT_MS milliseconds. Returns 1 on timeout.
_cdc_wait_gone() {
    local pid=$1 deadline
    _cdc_now
    deadline=$((_CDC_NOW_US + $2 * 1000))
    while _cdc_pid_alive "$pid"; do
        _cdc_now
        ((_CDC_NOW_US < deadline)) || return 1
        sleep 0.02
    done
    _cdc_reap "$pid"
    return 0
}

# Stops PID: SIGTERM, then SIGKILL after GRACE seconds. Returns 1 if it survives both.
_cdc_kill_wait() {
    local pid=$1 grace=${2:-5}
    _cdc_pid_alive "$pid" || {
        _cdc_reap "$pid"
        return 0
    }
    kill -TERM "$pid" 2>/dev/null || true
    _cdc_wait_gone "$pid" $((grace * 1000)) && return 0
    _cdc_err "pid $pid ignored SIGTERM for ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    _cdc_wait_gone "$pid" 5000 && return 0
    _cdc_err "pid $pid survived SIGKILL"
    return 1
}

# True when some socket listens on TCP PORT (any address, IPv4 or IPv6). Reads
# /proc/net/tcp* (no dependency on ss/netstat) with awk: bash's `read` would do one
# system call per byte on /proc files, tens of milliseconds with many TIME_WAIT lines.
_cdc_port_listening() {
    local hex
    printf -v hex '%04X' "$1"
    awk -v port="$hex" '$4 == "0A" && substr($2, index($2, ":") + 1) == port { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Sets _CDC_PORT to a TCP port in 20000-60000 that nothing listens on right now. Another
# process may still take it before we bind; callers retry on "address in use".
_cdc_pick_port() {
    local i
    for ((i = 0; i < 50; i++)); do
        _CDC_PORT=$((20000 + SRANDOM % 40001))
        _cdc_port_listening "$_CDC_PORT" || return 0
    done
    _cdc_err "found no free TCP port in 20000-60000 after 50 tries"
    return 1
}

# Stops every process whose command line names directory DIR (as an argument or as the
# start of a path), except the pids given after DIR: SIGQUIT for a postmaster (immediate
# shutdown), SIGTERM for the rest, SIGKILL after 5 s. Teardown's safety net: everything
# the harness starts names the stack directory in its arguments, also when an
# interrupted cdc_stack_up never got to record a pid. Returns 1 when something survives
# SIGKILL.
_cdc_kill_dir_procs() {
    local top=$1 dir=$1/ p pid rc=0
    local -a argv victims=()
    shift
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ $pid == "$BASHPID" || " $* " == *" $pid "* ]] && continue
        { mapfile -d '' -t argv <"$p/cmdline"; } 2>/dev/null || continue
        ((${#argv[@]})) || continue
        [[ " ${argv[*]} " == *"$dir"* || " ${argv[*]} " == *" $top "* ]] || continue
        victims+=("$pid")
        if [[ ${argv[0]##*/} == postgres && " ${argv[*]} " == *" -D "* ]]; then
            kill -QUIT "$pid" 2>/dev/null || true
        else
            kill -TERM "$pid" 2>/dev/null || true
        fi
        _cdc_err "stopping pid $pid, still running in $top: ${argv[*]}"
    done
    for pid in "${victims[@]}"; do
        _cdc_wait_gone "$pid" 5000 && continue
        kill -KILL "$pid" 2>/dev/null || true
        _cdc_wait_gone "$pid" 2000 || {
            _cdc_err "pid $pid survived SIGKILL"
            rc=1
        }
    done
    return $rc
}

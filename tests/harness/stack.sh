# shellcheck shell=bash source-path=SCRIPTDIR
# Test harness: a throwaway PostgreSQL and a cdc-devbroker per test, in one temp dir.
#
#   source "$CDC_SOURCE_DIR/tests/harness/stack.sh"
#   cdc_stack_up [--no-pg] [--no-broker] [--broker-args "ARGS"] [--config FILE]
#   cdc_pg_createdb sink
#   cdc_psql sink "SELECT 1"
#   cdc_broker_ctl "down 1"
#   cdc_stack_down            # optional: the EXIT/INT/TERM/HUP traps call it too
#
# See tests/harness/README.md for the exported variables and the guarantees. Every
# function prints what failed (with the log tail) on stderr and returns non-zero; they
# work under `set -euo pipefail` and also when called in a condition.
#
# Teardown happens in three ways, so no server outlives its test:
#   1. cdc_stack_down, called by the test or by the traps installed by cdc_stack_up
#      (previous EXIT/INT/TERM/HUP traps are chained, not clobbered);
#   2. a reaper process (tests/harness/reaper.sh, own session) that tears the stack down
#      when the shell that brought it up dies without running its traps (SIGKILL, e.g.
#      a ctest timeout, or a test that replaced the EXIT trap);
#   3. teardown itself escalates: SIGTERM then SIGKILL for the devbroker, SIGQUIT (what
#      `pg_ctl stop -m immediate` sends) then SIGKILL for PostgreSQL, and the same for
#      any other process whose command line still names the stack directory.

if [[ -n ${_CDC_STACK_SOURCED:-} && ${_CDC_STACK_SOURCED} == "${BASH_SOURCE[0]}" ]]; then
    return 0
fi
_CDC_STACK_SOURCED=${BASH_SOURCE[0]}
_CDC_HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=stack-proc.sh
source "$_CDC_HARNESS_DIR/stack-proc.sh"
# shellcheck source=stack-pg.sh
source "$_CDC_HARNESS_DIR/stack-pg.sh"
# shellcheck source=stack-broker.sh
source "$_CDC_HARNESS_DIR/stack-broker.sh"

_CDC_STACK_DIR=''   # temp dir of the stack this shell brought up ('' when down)
_CDC_STACK_OWNER='' # $BASHPID of that shell; subshells inherit the variables, not the stack
_CDC_STACK_IN_TRAP=0
_CDC_STACK_STARTING=0
_CDC_STACK_TEARING=0  # 1 while cdc_stack_down runs: a signal then waits for it to finish
_CDC_STACK_PENDING='' # "SIG CODE" of a signal that arrived during teardown
_CDC_STACK_ON_DOWN=()
declare -gA _CDC_TRAP_PREV=() _CDC_TRAP_MINE=()

_CDC_STACK_EXPORTS=(CDC_TEST_TMPDIR CDC_TEST_PGHOST CDC_TEST_PGPORT CDC_TEST_PGUSER
    CDC_TEST_PGBIN CDC_TEST_PGCONNINFO CDC_TEST_PG_DATADIR CDC_TEST_PG_LOG
    CDC_TEST_BOOTSTRAP CDC_TEST_BROKER_CONTROL CDC_TEST_BROKER_PID CDC_TEST_BROKER_LOG
    CDC_TEST_DEVBROKER)

# ---------------------------------------------------------------------------------------
# Traps

# Prints the command of a `trap -p` line (the third word once the line is re-parsed).
_cdc_trap_cmd() {
    [[ -n $1 ]] || return 0
    eval "set -- $1"
    printf '%s' "$3"
}

# Installs our EXIT/INT/TERM/HUP handlers, remembering the previous ones to chain them.
# A signal the shell ignores ('' trap, e.g. SIGINT in a background job) stays ignored.
_cdc_traps_install() {
    local sig line
    # In a ( subshell ) that has not set a trap yet, `trap -p` still lists the parent's
    # handlers although they are not active here; chaining them would run the parent's
    # EXIT command when the subshell exits. Resetting a trap on an untrapped signal makes
    # bash drop that inherited list (signals ignored for real stay listed as '').
    if [[ $BASHPID != "$$" ]]; then
        for sig in WINCH URG XCPU XFSZ; do
            if [[ -z $(trap -p "$sig") ]]; then
                trap - "$sig"
                break
            fi
        done
    fi
    for sig in EXIT INT TERM HUP; do
        line=$(trap -p "$sig")
        if [[ -n $line && -z $(_cdc_trap_cmd "$line") ]]; then
            _CDC_TRAP_MINE[$sig]=''
            continue
        fi
        _CDC_TRAP_PREV[$sig]=$(_cdc_trap_cmd "$line")
        case $sig in
        EXIT) _CDC_TRAP_MINE[$sig]='_cdc_stack_on_exit' ;;
        INT) _CDC_TRAP_MINE[$sig]='_cdc_stack_on_signal INT 130' ;;
        TERM) _CDC_TRAP_MINE[$sig]='_cdc_stack_on_signal TERM 143' ;;
        HUP) _CDC_TRAP_MINE[$sig]='_cdc_stack_on_signal HUP 129' ;;
        esac
        # shellcheck disable=SC2064
        trap "${_CDC_TRAP_MINE[$sig]}" "$sig"
    done
}

# Puts back the handlers that were there before cdc_stack_up, for each signal whose
# handler is still ours (a test that replaced one keeps its own).
_cdc_traps_restore() {
    local sig mine
    for sig in "${!_CDC_TRAP_MINE[@]}"; do
        mine=${_CDC_TRAP_MINE[$sig]}
        [[ -n $mine && $(_cdc_trap_cmd "$(trap -p "$sig")") == "$mine" ]] || continue
        if [[ -n ${_CDC_TRAP_PREV[$sig]:-} ]]; then
            # shellcheck disable=SC2064
            trap -- "${_CDC_TRAP_PREV[$sig]}" "$sig"
        else
            trap - "$sig"
        fi
    done
    _CDC_TRAP_MINE=()
    _CDC_TRAP_PREV=()
}

_cdc_status() { return "$1"; }

# EXIT handler: tear down, then run the previous EXIT trap with $? unchanged. Not
# calling `exit` keeps the shell's exit status.
_cdc_stack_on_exit() {
    local st=$? prev=${_CDC_TRAP_PREV[EXIT]:-}
    set +e
    _CDC_STACK_IN_TRAP=1
    cdc_stack_down
    if [[ -n $prev ]]; then
        _cdc_status "$st"
        eval "$prev"
    fi
    _cdc_status "$st"
}

# INT/TERM/HUP handler: tear down, run the previous handler of that signal, exit with
# 128+signo (which runs the EXIT chain; cdc_stack_down is idempotent). A signal that
# interrupts a teardown in progress lets it finish first (cdc_stack_down then comes back
# here): a second teardown on top would find the directory half gone and stop early.
_cdc_stack_on_signal() {
    local sig=$1 code=$2 prev=${_CDC_TRAP_PREV[$1]:-}
    if ((_CDC_STACK_TEARING)); then
        _CDC_STACK_PENDING="$sig $code"
        return 0
    fi
    set +e
    _CDC_STACK_IN_TRAP=1
    _cdc_log "caught SIG$sig; tearing the stack down"
    cdc_stack_down
    [[ -n $prev ]] && eval "$prev"
    exit "$code"
}

# ---------------------------------------------------------------------------------------
# Reaper

# Starts tests/harness/reaper.sh in its own session (immune to terminal signals and to
# kills of our process group) and waits until it has recorded its pid in T/reaper.pid,
# so teardown can always stop it.
_cdc_reaper_start() {
    local t=$1 owner=$BASHPID i
    _cdc_proc_stat "$owner" || return 1
    # The ( ... & ) double fork makes init (or the nearest subreaper) its parent, so a
    # kill of our process tree (ctest's timeout) does not take the reaper with it.
    (setsid bash "$_CDC_HARNESS_DIR/reaper.sh" "$owner" "$_CDC_PSTART" "$t" \
        </dev/null >/dev/null 2>&1 &)
    for ((i = 0; i < 500; i++)); do
        [[ -s $t/reaper.pid ]] && return 0
        sleep 0.01
    done
    _cdc_err "the reaper (tests/harness/reaper.sh) did not start within 5 s"
    return 1
}

# Tears down stack directory T: broker, PostgreSQL, the directory, and (unless we are
# the reaper) the reaper. Everything is read from T, so the reaper can do it too.
_cdc_stack_teardown_dir() {
    local t=$1 self_is_reaper=${2:-0} reaper='' rc=0
    [[ -n $t && -d $t ]] || return 0
    { read -r reaper <"$t/reaper.pid"; } 2>/dev/null || reaper=''
    _cdc_broker_stop "$t" || rc=1
    _cdc_pg_stop "$t" || rc=1
    _cdc_kill_dir_procs "$t" "$reaper" || rc=1
    if ! rm -rf -- "$t" || [[ -e $t ]]; then
        _cdc_err "cannot remove the stack directory $t"
        rc=1
    fi
    if ((self_is_reaper == 0)) && [[ $reaper =~ ^[0-9]+$ ]] &&
        _cdc_pid_alive "$reaper" && _cdc_pid_cmdline_has "$reaper" "$t"; then
        _cdc_kill_wait "$reaper" 2 || rc=1
    fi
    return $rc
}

# ---------------------------------------------------------------------------------------
# Public API

# Brings up the stack (see the header). On failure, tears down what it started, prints
# the cause and returns 1; usage errors return 2.
# shellcheck disable=SC2120 # options are optional; callers need not pass "$@"
cdc_stack_up() {
    local want_pg=1 want_broker=1 config='' t start var
    local -a broker_args=() words
    while (($#)); do
        case $1 in
        --no-pg) want_pg=0 ;;
        --no-broker) want_broker=0 ;;
        --broker-args | --config)
            if (($# < 2)); then
                _cdc_err "cdc_stack_up: $1 needs a value"
                return 2
            fi
            if [[ $1 == --config ]]; then config=$2; else
                read -r -a words <<<"$2"
                broker_args+=("${words[@]}")
            fi
            shift
            ;;
        --broker-args=*)
            read -r -a words <<<"${1#*=}"
            broker_args+=("${words[@]}")
            ;;
        --config=*) config=${1#*=} ;;
        *)
            _cdc_err "cdc_stack_up: unknown option '$1'" \
                "(use --no-pg, --no-broker, --broker-args ARGS, --config FILE)"
            return 2
            ;;
        esac
        shift
    done
    if [[ -n $config ]]; then
        if [[ ! -r $config ]]; then
            _cdc_err "cdc_stack_up: --config $config: no such readable file"
            return 2
        fi
        # Absolute, so the broker's command line and log name the file unambiguously.
        [[ $config == /* ]] || config=$PWD/$config
        broker_args=(-c "$config" "${broker_args[@]}")
    fi
    if [[ -n $_CDC_STACK_DIR && $_CDC_STACK_OWNER == "$BASHPID" ]]; then
        _cdc_err "cdc_stack_up: a stack is already up in this shell ($_CDC_STACK_DIR);" \
            "call cdc_stack_down first"
        return 2
    fi
    # Fail before starting anything when a binary is missing.
    if ((want_pg)); then _cdc_pg_find_bin || return 1; fi
    if ((want_broker)); then _cdc_broker_find_bin || return 1; fi
    # A subshell inherits the parent's variables but not its stack: forget them, exported
    # ones included (else --no-pg in a subshell would leave the parent's PG visible).
    _CDC_STACK_DIR=''
    for var in "${_CDC_STACK_EXPORTS[@]}"; do unset "$var"; done
    _CDC_STACK_ON_DOWN=()
    _CDC_STACK_IN_TRAP=0
    _cdc_now
    start=$_CDC_NOW_US
    # While starting, a trap's teardown also stops the last process we spawned: one that
    # has not exec'd yet does not show the stack directory in its command line.
    _CDC_STACK_STARTING=1
    _CDC_STACK_BG_BEFORE=${!:-}

    # Traps first, and the directory straight into _CDC_STACK_DIR in one command (traps
    # run between commands), so that a signal at any point finds what exists to remove.
    _CDC_STACK_OWNER=$BASHPID
    _cdc_traps_install
    _CDC_STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cdc-stack.XXXXXXXXXX") || {
        _cdc_err "mktemp -d failed in ${TMPDIR:-/tmp}"
        _CDC_STACK_DIR=''
        _CDC_STACK_STARTING=0
        _cdc_traps_restore
        return 1
    }
    t=$_CDC_STACK_DIR
    if ! _cdc_reaper_start "$t"; then
        cdc_stack_down
        return 1
    fi
    export CDC_TEST_TMPDIR=$t
    if ((want_pg)); then
        if ! _cdc_pg_start "$t"; then
            cdc_stack_down
            return 1
        fi
        export CDC_TEST_PGHOST=127.0.0.1 CDC_TEST_PGPORT=$_CDC_PG_PORT CDC_TEST_PGUSER=postgres
        export CDC_TEST_PGBIN=$_CDC_PGBIN CDC_TEST_PG_DATADIR=$t/pg/data
        export CDC_TEST_PG_LOG=$t/pg/postgresql.log
        export CDC_TEST_PGCONNINFO="host=127.0.0.1 port=$_CDC_PG_PORT user=postgres"
    fi
    if ((want_broker)); then
        if ! _cdc_broker_start "$t" "${broker_args[@]}"; then
            cdc_stack_down
            return 1
        fi
        export CDC_TEST_BOOTSTRAP=$_CDC_BROKER_BOOTSTRAP CDC_TEST_BROKER_PID=$_CDC_BROKER_PID
        export CDC_TEST_BROKER_CONTROL=$t/broker/control.sock
        export CDC_TEST_BROKER_LOG=$t/broker/stderr.log CDC_TEST_DEVBROKER=$_CDC_DEVBROKER_BIN
    fi
    _CDC_STACK_STARTING=0
    _cdc_now
    _cdc_log "up in $(((_CDC_NOW_US - start) / 1000)) ms: $t${CDC_TEST_PGPORT:+, pg 127.0.0.1:$CDC_TEST_PGPORT}${CDC_TEST_BOOTSTRAP:+, broker $CDC_TEST_BOOTSTRAP}"
    return 0
}

# Tears the stack down: runs the cdc_stack_on_down commands (last registered first),
# stops the devbroker and PostgreSQL, removes the temp dir, stops the reaper, unsets the
# CDC_TEST_* variables and restores the traps found by cdc_stack_up. Idempotent; a
# no-op in a subshell of the shell that brought the stack up. Returns 1 if something
# could not be stopped or removed.
cdc_stack_down() {
    local t=$_CDC_STACK_DIR rc=0 i var start
    [[ -n $t ]] || return 0
    if [[ $_CDC_STACK_OWNER != "$BASHPID" ]]; then
        _cdc_log "cdc_stack_down in a subshell: the stack belongs to pid $_CDC_STACK_OWNER; ignored"
        return 0
    fi
    _cdc_now
    start=$_CDC_NOW_US
    _CDC_STACK_TEARING=1
    for ((i = ${#_CDC_STACK_ON_DOWN[@]} - 1; i >= 0; i--)); do
        eval "${_CDC_STACK_ON_DOWN[i]}" ||
            _cdc_log "cleanup command returned non-zero (continuing): ${_CDC_STACK_ON_DOWN[i]}"
    done
    _CDC_STACK_ON_DOWN=()
    if ((_CDC_STACK_STARTING)) && [[ -n ${!:-} && ${!} != "${_CDC_STACK_BG_BEFORE:-}" ]] &&
        _cdc_proc_stat "$!" && [[ $_CDC_PPPID == "$BASHPID" ]]; then
        _cdc_kill_wait "$!" 2 || rc=1
    fi
    _CDC_STACK_STARTING=0
    _cdc_stack_teardown_dir "$t" || rc=1
    _CDC_STACK_DIR=''
    for var in "${_CDC_STACK_EXPORTS[@]}"; do unset "$var"; done
    _CDC_STACK_TEARING=0
    _cdc_now
    if ((rc == 0)); then
        _cdc_log "down in $(((_CDC_NOW_US - start) / 1000)) ms: $t"
    else
        _cdc_err "teardown of $t was incomplete (see above)"
    fi
    if [[ -n $_CDC_STACK_PENDING ]]; then
        # shellcheck disable=SC2086 # "SIG CODE"
        set -- $_CDC_STACK_PENDING
        _CDC_STACK_PENDING=''
        _cdc_stack_on_signal "$1" "$2"
    fi
    ((_CDC_STACK_IN_TRAP)) || _cdc_traps_restore
    return $rc
}

# Registers a shell command that cdc_stack_down runs (in this shell, so `wait PID`
# works; last registered first) before it stops the servers, e.g. to stop a worker.
cdc_stack_on_down() {
    _CDC_STACK_ON_DOWN+=("$*")
}

# Fails with a message unless the named part of the stack is up.
_cdc_need() {
    case $1 in
    pg) [[ -n ${CDC_TEST_PGPORT:-} ]] && return 0 ;;
    broker) [[ -n ${CDC_TEST_BROKER_CONTROL:-} ]] && return 0 ;;
    esac
    _cdc_err "$2: no $1 is up (call cdc_stack_up first${3:+; $3})"
    return 1
}

# Runs psql against database DB of the stack: -X (no psqlrc), -At (bare values),
# -q (no command tags), ON_ERROR_STOP. Each SQL argument is one -c; with none, the SQL
# is read from stdin.
cdc_psql() {
    _cdc_need pg cdc_psql "not with --no-pg" || return 1
    if (($# < 1)); then
        _cdc_err "usage: cdc_psql DB [SQL...]"
        return 2
    fi
    local db=$1 sql
    local -a args=(-X -A -t -q -v ON_ERROR_STOP=1 -h "$CDC_TEST_PGHOST" -p "$CDC_TEST_PGPORT"
        -U "$CDC_TEST_PGUSER" -d "$db")
    shift
    for sql in "$@"; do args+=(-c "$sql"); done
    PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10} "$CDC_TEST_PGBIN/psql" "${args[@]}"
}

# Creates database NAME (any characters; quoted as an identifier).
cdc_pg_createdb() {
    if (($# != 1)); then
        _cdc_err "usage: cdc_pg_createdb NAME"
        return 2
    fi
    cdc_psql postgres "CREATE DATABASE \"${1//\"/\"\"}\"" || {
        _cdc_err "cannot create database '$1' (log: ${CDC_TEST_PG_LOG:-})"
        return 1
    }
}

# Prints a libpq connection string for database DB ("host=... port=... user=... dbname=DB").
cdc_pg_conninfo() {
    _cdc_need pg cdc_pg_conninfo || return 1
    printf '%s dbname=%s\n' "$CDC_TEST_PGCONNINFO" "$1"
}

# Runs pg_ctl on the stack's cluster as the server's OS user, with -D and -l filled in,
# e.g. `cdc_pg_ctl restart -m fast` or `cdc_pg_ctl stop -m immediate` then
# `cdc_pg_ctl start`. The port stays the same across restarts.
cdc_pg_ctl() {
    _cdc_need pg cdc_pg_ctl || return 1
    local pg=$CDC_TEST_TMPDIR/pg
    if ! (cd "$pg" && _cdc_as_pg "$CDC_TEST_PGBIN/pg_ctl" "$@" -D "$pg/data" -l "$pg/postgresql.log" \
        -w -t 60 -s); then
        _cdc_err "pg_ctl $* failed for $pg/data"
        _cdc_tail "$pg/postgresql.log" 20
        return 1
    fi
}

# Prints the postmaster's pid (e.g. to kill -9 it in a crash test).
cdc_pg_pid() {
    _cdc_need pg cdc_pg_pid || return 1
    local pid
    { read -r pid <"$CDC_TEST_PG_DATADIR/postmaster.pid"; } 2>/dev/null || {
        _cdc_err "PostgreSQL is not running (no $CDC_TEST_PG_DATADIR/postmaster.pid)"
        return 1
    }
    printf '%s\n' "$pid"
}

# Sends one control command to the devbroker and prints its reply; fails unless the
# reply starts with "ok".
cdc_broker_ctl() {
    _cdc_need broker cdc_broker_ctl "not with --no-broker" || return 1
    if (($# < 1)); then
        _cdc_err "usage: cdc_broker_ctl COMMAND (down N|up N|down all|up all|rtt N MS|topics|ping)"
        return 2
    fi
    "$CDC_TEST_DEVBROKER" --control "$CDC_TEST_BROKER_CONTROL" --send "$*" || {
        _cdc_err "devbroker control command '$*' failed"
        return 1
    }
}

# shellcheck shell=bash
# The throwaway PostgreSQL of tests/harness/stack.sh (sourced by it; not a public API).
#
# Layout inside the stack directory T:
#   T/pg/            owned by the PostgreSQL OS user
#   T/pg/data/       the cluster (copied from the template)
#   T/pg/run/        unix_socket_directories
#   T/pg/postgresql.log   server log
#
# PostgreSQL refuses to run as root, so as root the server runs as the system user
# "cdc-test" (CDC_TEST_PG_OSUSER overrides the name), created on first use. Not as root,
# it runs as the calling user.

# Bumped whenever the template's settings change, so an old cached template is rebuilt.
_CDC_PG_TEMPLATE_FORMAT=1

# Sets _CDC_PGBIN to the newest /usr/lib/postgresql/<major>/bin with initdb, pg_ctl,
# postgres and psql, or to $CDC_PGBIN when set.
_cdc_pg_find_bin() {
    local dir best='' tool
    if [[ -n ${CDC_PGBIN:-} ]]; then
        best=$CDC_PGBIN
    else
        # sort -V orders 9.6 < 10 < 15 < 16 correctly.
        while IFS= read -r dir; do
            [[ -x $dir/initdb && -x $dir/pg_ctl ]] && best=$dir
        done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
    fi
    for tool in initdb pg_ctl postgres psql; do
        if [[ ! -x $best/$tool ]]; then
            _cdc_err "no PostgreSQL server binaries: ${best:-/usr/lib/postgresql/*/bin}/$tool" \
                "missing (install postgresql-15, or set CDC_PGBIN)"
            return 1
        fi
    done
    _CDC_PGBIN=$best
}

# Sets _CDC_PG_OSUSER (empty: run as ourselves), _CDC_PG_UID and _CDC_PG_GID. As root,
# creates the system user when missing; a concurrent creation by another stack is fine.
_cdc_pg_osuser() {
    _CDC_PG_OSUSER=''
    _CDC_PG_UID=$EUID
    _CDC_PG_GID=$(id -g)
    ((EUID == 0)) || return 0
    local user=${CDC_TEST_PG_OSUSER:-cdc-test} out
    if ! id -u "$user" >/dev/null 2>&1; then
        if ! out=$(useradd --system --user-group --no-create-home \
            --shell /usr/sbin/nologin "$user" 2>&1); then
            if ! id -u "$user" >/dev/null 2>&1; then
                _cdc_err "cannot create the system user '$user' for PostgreSQL: $out"
                return 1
            fi
        fi
    fi
    _CDC_PG_OSUSER=$user
    _CDC_PG_UID=$(id -u "$user") && _CDC_PG_GID=$(id -g "$user") || return 1
}

# Runs a command as the PostgreSQL OS user (directly when we are not root).
_cdc_as_pg() {
    if [[ -n $_CDC_PG_OSUSER ]]; then
        setpriv --reuid="$_CDC_PG_UID" --regid="$_CDC_PG_GID" --init-groups -- "$@"
    else
        "$@"
    fi
}

# Sets _CDC_PG_TEMPLATE to a cached, cleanly shut down cluster made by initdb once per
# PostgreSQL version, calling uid and template format. Built under flock so concurrent
# stacks wait for one initdb; each stack then copies it (cp -a keeps ownership and modes),
# which costs tens of milliseconds instead of initdb's second or two.
_cdc_pg_template() {
    local ver out tdir marker want lockfd rc=0
    out=$("$_CDC_PGBIN/postgres" --version) || {
        _cdc_err "cannot run $_CDC_PGBIN/postgres --version"
        return 1
    }
    [[ $out =~ \(PostgreSQL\)\ ([0-9][0-9.a-z]*) ]] || {
        _cdc_err "unexpected PostgreSQL version string: $out"
        return 1
    }
    ver=${BASH_REMATCH[1]}
    tdir=${CDC_PG_TEMPLATE_DIR:-${TMPDIR:-/tmp}}/cdc-pg-template-$ver-$EUID
    marker=$tdir/cdc-template-ready
    want="format=$_CDC_PG_TEMPLATE_FORMAT osuser=${_CDC_PG_OSUSER:-self}"
    _CDC_PG_TEMPLATE=$tdir/data
    if [[ -f $marker && $(<"$marker") == "$want" ]]; then
        return 0
    fi

    exec {lockfd}>>"$tdir.lock" || {
        _cdc_err "cannot open the template lock $tdir.lock"
        return 1
    }
    if ! flock -w 300 "$lockfd"; then
        _cdc_err "timed out waiting for the template lock $tdir.lock"
        exec {lockfd}>&-
        return 1
    fi
    # Another stack may have built it while we waited for the lock.
    if [[ ! -f $marker || $(<"$marker") != "$want" ]]; then
        _cdc_pg_template_build "$tdir" "$marker" "$want" || rc=1
    fi
    # Closed before any server starts, or the postmaster would inherit the lock forever.
    exec {lockfd}>&-
    return $rc
}

# Builds the template in TDIR (helper of _cdc_pg_template, runs under its lock).
_cdc_pg_template_build() {
    local tdir=$1 marker=$2 want=$3 start
    _cdc_now
    start=$_CDC_NOW_US
    if [[ -e $tdir && ! -O $tdir ]]; then
        _cdc_err "$tdir exists but belongs to another user; remove it or set TMPDIR"
        return 1
    fi
    if ! { rm -rf -- "$tdir" && mkdir -m 0755 -- "$tdir" && mkdir -m 0700 -- "$tdir/data"; }; then
        _cdc_err "cannot create the PostgreSQL template directory $tdir"
        return 1
    fi
    if [[ -n $_CDC_PG_OSUSER ]] && ! chown "$_CDC_PG_UID:$_CDC_PG_GID" "$tdir/data"; then
        _cdc_err "cannot chown $tdir/data to $_CDC_PG_OSUSER"
        return 1
    fi
    # -N: no fsync of the new files (throwaway data); small WAL segments copy faster;
    # the C locale makes sorting deterministic and independent of the host's locales.
    if ! (cd "$tdir" && _cdc_as_pg "$_CDC_PGBIN/initdb" -D "$tdir/data" -U postgres \
        --auth=trust -E UTF8 --locale=C -N --wal-segsize=1) >"$tdir/initdb.log" 2>&1; then
        _cdc_err "initdb failed for the PostgreSQL template in $tdir" \
            "(running as ${_CDC_PG_OSUSER:-$(id -un)}; is ${TMPDIR:-/tmp} reachable by it?)"
        _cdc_tail "$tdir/initdb.log"
        return 1
    fi
    # Speed over durability: the data lives for one test. fsync=off loses data only in an
    # OS crash; synchronous_commit=off also loses the last commits when PostgreSQL itself
    # is killed (`pg_ctl stop -m immediate` in the outage tests), which is why the sink
    # sets synchronous_commit=on for its batch transactions. Port and socket directory
    # differ per stack, hence the include written by _cdc_pg_start.
    if ! cat >>"$tdir/data/postgresql.conf" <<'EOF'; then

# --- cdc test harness (tests/harness/stack-pg.sh) ---
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
include_if_exists = 'cdc-stack.conf'
EOF
        _cdc_err "cannot write $tdir/data/postgresql.conf"
        return 1
    fi
    printf '%s\n' "$want" >"$marker" || return 1
    _cdc_now
    _cdc_log "built the PostgreSQL template $tdir in $(((_CDC_NOW_US - start) / 1000)) ms"
}

# Copies the template into T/pg and starts the server on a free port, retrying with
# another port when the chosen one was taken in between. Sets _CDC_PG_PORT.
_cdc_pg_start() {
    local t=$1 pg=$1/pg attempt
    _cdc_pg_find_bin && _cdc_pg_osuser && _cdc_pg_template || return 1
    if ! mkdir -m 0755 -- "$pg" "$pg/run" || ! cp -a -- "$_CDC_PG_TEMPLATE" "$pg/data"; then
        _cdc_err "cannot copy the PostgreSQL template $_CDC_PG_TEMPLATE to $pg/data"
        return 1
    fi
    if [[ -n $_CDC_PG_OSUSER ]]; then
        # The server user must reach T/pg: T itself stays root's, traversable only.
        # The data directory already belongs to the server user (cp -a of the template).
        if ! { chmod 0711 -- "$t" && chown "$_CDC_PG_UID:$_CDC_PG_GID" -- "$pg" "$pg/run"; }; then
            _cdc_err "cannot hand $pg to the PostgreSQL user $_CDC_PG_OSUSER"
            return 1
        fi
    fi
    if [[ -n $_CDC_PG_OSUSER ]] && ! _cdc_as_pg test -w "$pg/run"; then
        _cdc_err "the PostgreSQL user $_CDC_PG_OSUSER cannot reach $pg: some parent directory" \
            "is not searchable by it (e.g. a TMPDIR made by mktemp -d, mode 0700);" \
            "use TMPDIR=/tmp or chmod o+x that directory"
        return 1
    fi
    if ((${#pg} + 20 > 107)); then
        _cdc_err "socket path $pg/run/.s.PGSQL.NNNNN is too long for a unix socket;" \
            "use a shorter TMPDIR"
        return 1
    fi
    # The log belongs to the server user: `cdc_pg_ctl restart` reopens it as that user.
    : >"$pg/postgresql.log" || return 1
    if [[ -n $_CDC_PG_OSUSER ]]; then
        chown "$_CDC_PG_UID:$_CDC_PG_GID" -- "$pg/postgresql.log" || return 1
    fi
    for attempt in 1 2 3 4 5 6 7 8; do
        _cdc_pick_port || return 1
        printf "port = %d\nunix_socket_directories = '%s'\n" "$_CDC_PORT" "$pg/run" \
            >"$pg/data/cdc-stack.conf" || return 1
        _cdc_pg_spawn "$pg" && return 0
        # Another process took the port between the check and the bind: pick another.
        if grep -q -e 'Address already in use' -e 'could not create any TCP/IP' \
            -- "$pg/postgresql.log" 2>/dev/null; then
            _cdc_log "port $_CDC_PORT was taken (attempt $attempt); trying another"
            : >"$pg/postgresql.log"
            continue
        fi
        break
    done
    _cdc_err "PostgreSQL failed to start in $pg/data (port $_CDC_PORT, bin $_CDC_PGBIN," \
        "user ${_CDC_PG_OSUSER:-$(id -un)})"
    _cdc_tail "$pg/postgresql.log"
    return 1
}

# Starts the postmaster of directory PG as a child of this shell and waits (at most
# CDC_STACK_PG_TIMEOUT seconds, default 60) until postmaster.pid says "ready", which is
# what `pg_ctl start -w` waits for. Started directly rather than through pg_ctl so that
# this shell is its parent: it can be waited for (no zombie where pid 1 does not reap)
# and its death is noticed at once; the 20 ms polling also beats pg_ctl's 100 ms.
# Sets _CDC_PG_PORT and _CDC_PG_PID. Returns 1 when the server exits or times out.
_cdc_pg_spawn() {
    local pg=$1 pid deadline timeout=${CDC_STACK_PG_TIMEOUT:-60}
    local -a as=() lines
    [[ -n $_CDC_PG_OSUSER ]] &&
        as=(setpriv --reuid="$_CDC_PG_UID" --regid="$_CDC_PG_GID" --init-groups --)
    # The absolute -D puts T into the postmaster's command line, which teardown and the
    # leftover checks rely on.
    (cd "$pg" && exec "${as[@]}" "$_CDC_PGBIN/postgres" -D "$pg/data") \
        </dev/null >>"$pg/postgresql.log" 2>&1 &
    pid=$!
    _cdc_now
    deadline=$((_CDC_NOW_US + timeout * 1000000))
    while :; do
        if ! _cdc_pid_alive "$pid"; then
            _cdc_reap "$pid"
            return 1
        fi
        lines=()
        { mapfile -t lines <"$pg/data/postmaster.pid"; } 2>/dev/null || true
        if [[ ${lines[0]:-} == "$pid" && ${lines[7]:-} == ready* ]]; then
            _CDC_PG_PORT=$_CDC_PORT
            _CDC_PG_PID=$pid
            return 0
        fi
        _cdc_now
        if ((_CDC_NOW_US >= deadline)); then
            _cdc_err "PostgreSQL (pid $pid) not ready after ${timeout}s"
            kill -KILL "$pid" 2>/dev/null || true
            _cdc_wait_gone "$pid" 5000 || true
            return 1
        fi
        sleep 0.02
    done
}

# Stops the server of stack directory T the way `pg_ctl stop -m immediate` does (SIGQUIT
# to the postmaster: no checkpoint, the data is thrown away), polled every 20 ms instead
# of pg_ctl's 100 ms; SIGKILL for whatever still runs after 10 s. Safe when nothing runs.
_cdc_pg_stop() {
    local t=$1 pg=$1/pg pm='' kids='' kid rc=0
    [[ -f $pg/data/postmaster.pid ]] || return 0
    { read -r pm <"$pg/data/postmaster.pid"; } 2>/dev/null || pm=''
    [[ $pm =~ ^[0-9]+$ ]] || return 0
    # A pid from a stale file may belong to an unrelated process by now.
    if ! { _cdc_pid_alive "$pm" && _cdc_pid_cmdline_has "$pm" "$pg/data"; }; then
        _cdc_reap "$pm"
        return 0
    fi
    kids=$(pgrep -P "$pm" 2>/dev/null || true)
    kill -QUIT "$pm" 2>/dev/null || true
    if ! _cdc_wait_gone "$pm" 10000; then
        _cdc_err "PostgreSQL (pid $pm) still runs 10 s after SIGQUIT; killing it"
        pkill -KILL -P "$pm" 2>/dev/null || true
        kill -KILL "$pm" 2>/dev/null || true
        _cdc_wait_gone "$pm" 5000 || {
            _cdc_err "PostgreSQL postmaster $pm survived SIGKILL"
            rc=1
        }
    fi
    # The postmaster waits for its children on immediate shutdown; make sure anyway.
    for kid in $kids; do
        _cdc_wait_gone "$kid" 5000 && continue
        kill -KILL "$kid" 2>/dev/null || true
        _cdc_wait_gone "$kid" 2000 || rc=1
    done
    return $rc
}

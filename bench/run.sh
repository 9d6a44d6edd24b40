#!/usr/bin/env bash
# The benchmark suite of issue 9 (not a test; docs/bench.md explains every measure):
# release build, a throwaway local stack (tests/harness: PostgreSQL + cdc-devbroker) per
# run, each measure --runs times, a min/median/max table with the ratios and targets on
# stdout, and the same table appended to bench/history.md with the commit and machine.
#
#   bench/run.sh [--rows N] [--runs R] [--quick] [--big] [--no-history] [--note TEXT]
#                [--only LIST] [--no-build] [--keep DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    cat <<'EOF'
Usage: bench/run.sh [options]

Runs the benchmark suite against a local stack and prints min / median / max per
measure, the ratios and the targets (docs/bench.md).

Options:
  --rows N        rows of the scaled crm_contacts table (default 1000000)
  --runs R        repetitions of every measure (default 3)
  --quick         a small version of everything (50,000 rows, 10 s streaming, 5 s
                  source impact, runs=1): a smoke check in under 3 minutes
  --big           also the memory point at 10,000,000 rows (and 1M rows with the same
                  partition count and producer linger.ms 100); adds about 20 minutes
                  and needs 20 GB free in TMPDIR and about 2.5 GB of RAM for the devbroker
  --only LIST     comma-separated subset: snapshot,scaling,stream,impact,cost
                  (replay, pgloader and COPY are part of snapshot)
  --no-history    do not append to bench/history.md
  --note TEXT     a note for the history section (e.g. "machine shared")
  --no-build      use build-release as it is
  --keep DIR      copy logs, results and callgrind files to DIR at the end
  -h, --help      this text

Environment: BENCH_SINK_ARGS (extra cdc-sink options, e.g. "--batch-ms 20"),
BENCH_PARTITIONS (partitions of the snapshot topic; default sized to keep every record
in the devbroker's 5 MiB-per-partition window).

Exit codes: 0 done (targets missed are reported, not an error), 1 a measure failed
(wrong row count or sum, a gap, a worker exited), 2 usage error.
EOF
}

rows=1000000 runs=3 quick=0 big=0 history=1 note="" only="" build=1 keep=""
while (($#)); do
    case $1 in
    --rows) rows=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    --quick) quick=1 ;;
    --big) big=1 ;;
    --only) only=${2:?}; shift ;;
    --no-history) history=0 ;;
    --note) note=${2:?}; shift ;;
    --no-build) build=0 ;;
    --keep) keep=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $rows =~ ^[0-9]+$ && $rows -ge 1000 ]] || { echo "bench: --rows must be >= 1000" >&2; exit 2; }
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || { echo "bench: --runs must be >= 1" >&2; exit 2; }
stream_s=60 impact_s=20 cg_small=5000 cg_large=25000 big_rows=10000000
if ((quick)); then
    rows=50000 runs=1 stream_s=10 impact_s=5 cg_small=1000 cg_large=5000
fi
want() { [[ -z $only || ",$only," == *",$1,"* ]]; }

export CDC_SOURCE_DIR=$here
export CDC_BUILD_DIR=${BENCH_BUILD_DIR:-$here/build-release}
export CDC_STACK_QUIET=1
B=$CDC_BUILD_DIR
PRODUCER=$B/producer/cdc-producer SINK=$B/consumers/cdc-sink
FIXTURES=$B/tools/fixtures/cdc-fixtures WORKLOAD=$B/tools/workload/cdc-workload
PY=/usr/bin/python3 TOOL=$here/bench/benchtool.py
log() { echo "bench: $(date +%T) $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }

bash "$here/scripts/deps-bench.sh"
if ((build)); then
    log "release build in $B"
    # -g only adds symbols for callgrind; warnings stay errors at -O3 as in every build.
    cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release \
        "-DCMAKE_C_FLAGS=-g" >"$here/bench/.cmake.log" 2>&1 ||
        { cat "$here/bench/.cmake.log"; die "cmake configure"; }
    cmake --build "$B" -j"$(nproc)" --target cdc-producer cdc-sink cdc-fixtures cdc-workload \
        cdc-devbroker >>"$here/bench/.cmake.log" 2>&1 || { tail -n 30 "$here/bench/.cmake.log"; die "build"; }
    rm -f "$here/bench/.cmake.log"
fi
for b in "$PRODUCER" "$SINK" "$FIXTURES" "$WORKLOAD" "$B/tools/devbroker/cdc-devbroker"; do
    [[ -x $b ]] || die "$b is not built"
done

# shellcheck source=../tests/harness/stack.sh
source "$here/tests/harness/stack.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdc-bench.XXXXXXXX")
chmod 0755 "$WORK"
RES=$WORK/results.tsv
: >"$RES"
NOTES=$WORK/notes.txt
: >"$NOTES"
cleanup() {
    if [[ -n $keep ]]; then
        mkdir -p "$keep" && cp -r "$WORK"/. "$keep"/ 2>/dev/null || true
        find "$keep" -name '*.db' -delete -o -name '*.csv' -size +10M -delete 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }
note() { echo "$*" >>"$NOTES"; log "$*"; }
now_us() { date +%s%6N; }
# track PID: killed at the stack's teardown if still running (a failed measure).
track() { cdc_stack_on_down "kill $1 2>/dev/null; wait $1 2>/dev/null"; }

# --- the stack --------------------------------------------------------------------------
# bench_stack_up CONFIG: a fresh PostgreSQL + devbroker with CONFIG's topics, and
# track_commit_timestamp on, so PostgreSQL gives the commit time of every target row.
bench_stack_up() {
    cdc_stack_up --config "$1"
    cdc_psql postgres "ALTER SYSTEM SET track_commit_timestamp = on" \
        "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
    cdc_pg_ctl restart -m fast >/dev/null
    export PGHOST=$CDC_TEST_PGHOST PGPORT=$CDC_TEST_PGPORT PGUSER=$CDC_TEST_PGUSER
    export PATH=$CDC_TEST_PGBIN:$PATH CDC_BOOTSTRAP=$CDC_TEST_BOOTSTRAP
}

# write_cfg OUT PARTITIONS DB SOURCE_NAME PATH: one source, domain crm. $CFG_PRODUCER, when
# set, is the body of a kafka_producer: {...} map (producer-only librdkafka properties:
# the sinks never read that section).
CFG_PRODUCER=""
write_cfg() {
    local prod=""
    [[ -z $CFG_PRODUCER ]] || prod="kafka_producer: {$CFG_PRODUCER}"
    cat >"$1" <<YAML
kafka:
  bootstrap.servers: "\${CDC_BOOTSTRAP:-127.0.0.1:9}"
$prod
topic_prefix: bench
domains:
  - {name: crm, partitions: $2, target: "host=\${PGHOST:-127.0.0.1} port=\${PGPORT:-5432} user=postgres dbname=$3"}
validation: {partitions: 3}
producer: {state_dir: "$(dirname "$1")/state-$4"}
sources:
  - {name: $4, domain: crm, path: "$5"}
YAML
}

stored() { cdc_psql "$1" "SELECT coalesce(sum(next_offset), 0) FROM _cdc_offsets WHERE domain = 'crm'" 2>/dev/null || echo 0; }
hwm() { "$PY" "$TOOL" hwm "$CDC_TEST_BOOTSTRAP" bench.crm; }
vmhwm_mib() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo nan; }
time_rss_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }
# CPU seconds (user + system) of a live process, and of the stack's PostgreSQL (postmaster
# and its children alive now).
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_cpu_s() {
    local pm
    pm=$(cdc_pg_pid)
    { cpu_s "$pm"; echo; for c in $(pgrep -P "$pm"); do cpu_s "$c"; echo; done; } | awk '{s += $1} END {printf "%.2f", s}'
}
sinks_gap() { grep -il 'gap' "$@" 2>/dev/null | head -1; }

# partitions_for ROWS [BYTES]: partitions that keep every record of the snapshot in the
# devbroker (5 MiB each) at BYTES a row (default 240: about 160 bytes a row with lz4
# measured at 48 partitions, 1.5x margin for murmur2's imbalance), at least 12, a multiple
# of 12.
partitions_for() {
    local p=$(($1 * ${2:-240} / (5 * 1024 * 1024) + 1))
    ((p < 12)) && p=12
    echo $(((p + 11) / 12 * 12))
}

# --- fixtures ---------------------------------------------------------------------------
# scale_file N: a pristine crm_contacts_scale.db of N rows (made once), its exact sum in
# $WORK/scale-N.sum.
scale_file() {
    local d=$WORK/scale-$1
    if [[ ! -f $d/scale/crm_contacts_scale.db ]]; then
        local t0=$SECONDS
        "$FIXTURES" --out "$d" --scale "$1" 2>"$d.log" | tail -n 1 >"$WORK/scale-$1.out" || die "cdc-fixtures --scale $1"
        sed -n 's/.* sum=//p' "$WORK/scale-$1.out" >"$WORK/scale-$1.sum"
        log "fixture: $1 rows in $((SECONDS - t0)) s, sum $(cat "$WORK/scale-$1.sum")"
    fi
    echo "$d/scale/crm_contacts_scale.db"
}

# --- 1, 3, 5, 6: snapshot (and replay, COPY, pgloader) ----------------------------------
# snap_run TAG N WORKERS PARTITIONS [replay] [compare]: one snapshot through the pipeline
# into a fresh stack; the clock runs from the producer's start to the PostgreSQL commit of
# the batch that brought the stored offsets to the topic's end (lag 0), with count and
# money sum checked.
snap_run() {
    local tag=$1 n=$2 workers=$3 parts=$4 opts=" ${*:5} " src sum run cfg db=bench_cdc
    local t0 t1 total s i rc got end_us secs rate deadline sink_rss=0 r
    src=$(scale_file "$n")
    sum=$(cat "$WORK/scale-$n.sum")
    run=$WORK/$tag
    mkdir -p "$run"
    chmod 0755 "$run"
    cp "$src" "$run/src.db"
    cfg=$run/pipeline.yml
    write_cfg "$cfg" "$parts" "$db" scale "$run/src.db"
    bench_stack_up "$cfg"
    cdc_pg_createdb "$db"
    cdc_psql "$db" "CREATE EXTENSION pg_stat_statements"
    local -a spid=()
    local pg0 bk0
    pg0=$(pg_cpu_s)
    bk0=$(cpu_s "$CDC_TEST_BROKER_PID")
    t0=$(now_us)
    /usr/bin/time -v -o "$run/producer.time" "$PRODUCER" -c "$cfg" --once 2>"$run/producer.log" &
    local ppid=$!
    track "$ppid"
    for i in $(seq 1 "$workers"); do
        # shellcheck disable=SC2086
        "$SINK" -c "$cfg" --domain crm ${BENCH_SINK_ARGS:-} 2>"$run/sink-$i.log" &
        spid+=($!)
        track "${spid[-1]}"
    done
    rc=0
    wait "$ppid" || rc=$?
    ((rc == 0)) || { tail -n 5 "$run/producer.log"; die "$tag: producer exited $rc"; }
    total=$(hwm)
    deadline=$((SECONDS + 120 + n / 1000))
    while :; do
        s=$(stored "$db")
        ((s >= total)) && break
        for i in "${spid[@]}"; do
            kill -0 "$i" 2>/dev/null || { tail -n 5 "$run"/sink-*.log; die "$tag: a sink exited (stored $s of $total)"; }
        done
        ((SECONDS < deadline)) || die "$tag: no parity after $((deadline - SECONDS)) s: stored $s of $total"
        sleep 0.2
    done
    # 16 integer digits: the 10M fixture's sum has 13 (12 printed '#' and failed the run).
    got=$(cdc_psql "$db" "SELECT count(*) || ' ' || to_char(sum(estimated_value), 'FM9999999999999990.00') FROM crm_contacts")
    end_us=$(cdc_psql "$db" "SELECT (extract(epoch FROM greatest(
        (SELECT max(pg_xact_commit_timestamp(xmin)) FROM crm_contacts),
        (SELECT max(pg_xact_commit_timestamp(xmin)) FROM _cdc_offsets))) * 1e6)::bigint")
    [[ $got == "$n $sum" ]] || die "$tag: target has count/sum '$got', source '$n $sum'"
    # Where PostgreSQL's time went: the sinks' statements by total execution time.
    cdc_psql "$db" "SELECT round(total_exec_time::numeric / 1000, 2) || ' s, ' || calls || ' calls, '
        || rows || ' rows: ' || regexp_replace(left(query, 150), '\s+', ' ', 'g')
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT 8" >"$WORK/pgstat-$tag.txt" 2>/dev/null || true
    [[ -z $(sinks_gap "$run"/sink-*.log) ]] || die "$tag: a sink reported a gap (raise BENCH_PARTITIONS): $(grep -ih gap "$run"/sink-*.log | head -1)"
    local cpu_sinks=0 cpu_pg cpu_bk cpu_prod
    cpu_pg=$(awk -v a="$pg0" -v b="$(pg_cpu_s)" 'BEGIN {printf "%.1f", b - a}')
    cpu_bk=$(awk -v a="$bk0" -v b="$(cpu_s "$CDC_TEST_BROKER_PID")" 'BEGIN {printf "%.1f", b - a}')
    cpu_prod=$(awk -F': ' '/(User|System) time/ {s += $2} END {printf "%.1f", s}' "$run/producer.time")
    for i in "${spid[@]}"; do
        cpu_sinks=$(awk -v a="$cpu_sinks" -v b="$(cpu_s "$i")" 'BEGIN {printf "%.1f", a + b}')
        r=$(vmhwm_mib "$i")
        sink_rss=$(awk -v a="$sink_rss" -v b="$r" 'BEGIN {print (b > a ? b : a)}')
        kill -TERM "$i"
    done
    for i in "${spid[@]}"; do wait "$i" || die "$tag: sink exited $? after SIGTERM"; done
    # The devbroker holds the whole topic in memory: its peak says how full the window was.
    local bk_rss
    bk_rss=$(vmhwm_mib "$CDC_TEST_BROKER_PID")
    secs=$(awk -v a="$t0" -v b="$end_us" 'BEGIN {printf "%.3f", (b - a) / 1e6}')
    rate=$(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
    SNAP_RATE=$rate SNAP_PROD_RSS=$(time_rss_mib "$run/producer.time") SNAP_SINK_RSS=$sink_rss
    note "$tag: $n rows, $workers sink(s), $parts partitions, $total records: parity in $secs s = $rate rows/s; CPU s: producer $cpu_prod, sinks $cpu_sinks, PostgreSQL $cpu_pg, devbroker $cpu_bk; RSS producer $SNAP_PROD_RSS MiB, sinks $sink_rss MiB, devbroker $bk_rss MiB; sum $sum exact"

    if [[ $opts == *" replay "* ]]; then
        cdc_psql "$db" "UPDATE _cdc_offsets SET next_offset = 0 WHERE domain = 'crm'"
        spid=()
        t0=$(now_us)
        for i in $(seq 1 "$workers"); do
            # shellcheck disable=SC2086
            "$SINK" -c "$cfg" --domain crm --once ${BENCH_SINK_ARGS:-} 2>"$run/replay-$i.log" &
            spid+=($!)
        track "${spid[-1]}"
        done
        # The first stored-offset move marks the start of the apply: the group join before
        # it (and the rebalance when the first --once worker leaves) is reported apart.
        local t_first=""
        while kill -0 "${spid[0]}" 2>/dev/null || kill -0 "${spid[-1]}" 2>/dev/null; do
            [[ -z $t_first && $(stored "$db") -gt 0 ]] && t_first=$(now_us)
            sleep 0.1
        done
        for i in "${spid[@]}"; do wait "$i" || { tail -n 5 "$run"/replay-*.log; die "$tag: replay sink exited $?"; }; done
        t1=$(now_us)
        end_us=$(cdc_psql "$db" "SELECT (extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) * 1e6)::bigint FROM _cdc_offsets")
        s=$(stored "$db")
        got=$(cdc_psql "$db" "SELECT count(*) || ' ' || to_char(sum(estimated_value), 'FM9999999999999990.00') FROM crm_contacts")
        [[ $got == "$n $sum" && $s -ge $total ]] || die "$tag: after replay count/sum '$got', stored $s of $total"
        [[ -z $(sinks_gap "$run"/replay-*.log) ]] || die "$tag: replay hit a gap"
        [[ -n $t_first ]] || t_first=$t0
        secs=$(awk -v a="$t_first" -v b="$end_us" 'BEGIN {printf "%.3f", (b - a) / 1e6}')
        result replay rows/s "$(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')"
        result replay_wall rows/s "$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / ((b - a) / 1e6)}')"
        log "$tag: replay of $total records into the equal target: applied in $secs s, $(((t1 - t0) / 1000)) ms wall with group joins"
    fi

    if [[ $opts == *" compare "* ]]; then
        # COPY: the same rows from a CSV (exported once, outside the clock) into a table of
        # the sink's own shape (its DDL, primary key included).
        local csv=$WORK/scale-$n.csv cols
        cols=$(sqlite3 "$src" "SELECT group_concat('\"' || name || '\"', ',') FROM pragma_table_info('crm_contacts')")
        [[ -f $csv ]] || sqlite3 -csv -noheader "$src" "SELECT * FROM crm_contacts" >"$csv"
        cdc_pg_createdb bench_copy
        pg_dump -s -t crm_contacts "$db" | cdc_psql bench_copy >/dev/null
        t0=$(now_us)
        psql -X -q -v ON_ERROR_STOP=1 -d bench_copy -c "\\copy crm_contacts ($cols) FROM '$csv' WITH (FORMAT csv)"
        t1=$(now_us)
        got=$(cdc_psql bench_copy "SELECT count(*) || ' ' || to_char(sum(estimated_value), 'FM9999999999999990.00') FROM crm_contacts")
        [[ $got == "$n $sum" ]] || die "$tag: COPY target has count/sum '$got'"
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e6}')
        result snapshot_copy rows/s "$(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')"
        log "$tag: COPY of $n rows in $secs s"

        # pgloader with its defaults except the prefetch (its default heap cannot hold
        # the default prefetch of 1M wide rows).
        cdc_pg_createdb bench_pgloader
        t0=$(now_us)
        rc=0
        pgloader --with "prefetch rows = 10000" "sqlite://$src" \
            "postgresql://postgres@$PGHOST:$PGPORT/bench_pgloader" >"$run/pgloader.log" 2>&1 || rc=$?
        t1=$(now_us)
        ((rc == 0)) || { tail -n 20 "$run/pgloader.log"; die "$tag: pgloader exited $rc"; }
        got=$(cdc_psql bench_pgloader "SELECT count(*) || ' ' || sum(estimated_value)::numeric(20,2) || ' ' ||
               (SELECT data_type FROM information_schema.columns WHERE table_name = 'crm_contacts'
                AND column_name = 'estimated_value') FROM crm_contacts")
        read -r pc psum ptype <<<"$got"
        [[ $pc == "$n" ]] || die "$tag: pgloader loaded $pc rows of $n"
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e6}')
        result snapshot_pgloader rows/s "$(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')"
        log "$tag: pgloader $n rows in $secs s; estimated_value as $ptype: sum $psum vs source $sum"
        PGL_MONEY="pgloader maps estimated_value REAL to $ptype: target sum $psum, source sum $sum ($([[ $psum == "$sum" ]] && echo exact || echo NOT exact)); cdc target sum $sum (exact)"
    fi
    cdc_stack_down
}

# --- 2: streaming latency ---------------------------------------------------------------
stream_run() {
    local tag=$1 run=$WORK/$1 db=bench_stream cfg epic tables i ppid lagpid wlpid prpid
    local hwm_end t_end deadline probes wl
    mkdir -p "$run"
    chmod 0755 "$run"
    "$FIXTURES" --out "$run/data" >/dev/null 2>"$run/fixtures.log" || die "cdc-fixtures"
    epic=$run/data/epic7_sales_automation.db
    # One row already, so the snapshot creates the target table before the clock runs.
    sqlite3 "$epic" "CREATE TABLE bench_probe (id INTEGER PRIMARY KEY, src_us INTEGER NOT NULL, note TEXT);
                     INSERT INTO bench_probe VALUES (0, 0, 'start')"
    tables=$(sqlite3 "$epic" "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cdc_%' AND name <> 'bench_probe'")
    cfg=$run/pipeline.yml
    write_cfg "$cfg" 6 "$db" epic7 "$epic"
    bench_stack_up "$cfg"
    cdc_pg_createdb "$db"
    "$PRODUCER" -c "$cfg" 2>"$run/producer.log" &
    ppid=$!
    track "$ppid"
    local -a spid=()
    for i in 1 2; do
        # shellcheck disable=SC2086
        "$SINK" -c "$cfg" --domain crm ${BENCH_SINK_ARGS:-} 2>"$run/sink-$i.log" &
        spid+=($!)
        track "${spid[-1]}"
    done
    deadline=$((SECONDS + 60))
    until [[ $(cdc_psql "$db" "SELECT count(*) FROM crm_contacts" 2>/dev/null) == 16 ]] &&
        [[ $(cdc_psql "$db" "SELECT count(*) FROM bench_probe" 2>/dev/null) == 1 ]]; do
        ((SECONDS < deadline)) || die "$tag: the initial snapshot did not arrive in 60 s"
        sleep 0.2
    done
    "$PY" "$TOOL" lag "$CDC_TEST_BOOTSTRAP" bench.crm "$(cdc_pg_conninfo "$db")" crm "$run/lag.csv" &
    lagpid=$!
    track "$lagpid"
    "$WORKLOAD" --dir "$run/data" --files epic7_sales_automation.db --tables "$tables" \
        --rate 1000 --seconds "$stream_s" --seed 7 >"$run/workload.out" 2>"$run/workload.log" &
    wlpid=$!
    track "$wlpid"
    "$PY" "$TOOL" probe "$epic" "$stream_s" "$run/probe.csv" 2>"$run/probe.log" &
    prpid=$!
    track "$prpid"
    wait "$wlpid" || { tail -n 5 "$run/workload.log"; die "$tag: workload failed"; }
    wait "$prpid" || { cat "$run/probe.log"; die "$tag: probe writes failed"; }
    t_end=$(now_us)
    hwm_end=$(hwm)
    deadline=$((SECONDS + 120))
    until (($(stored "$db") >= hwm_end)); do
        ((SECONDS < deadline)) || die "$tag: sinks did not drain in 120 s"
        for i in "${spid[@]}"; do kill -0 "$i" 2>/dev/null || die "$tag: a sink exited"; done
        sleep 0.05
    done
    result stream_drain ms "$((($(now_us) - t_end) / 1000))"
    kill -TERM "$lagpid"
    wait "$lagpid" || true
    probes=$(wc -l <"$run/probe.csv")
    deadline=$((SECONDS + 30))
    until (($(cdc_psql "$db" "SELECT count(*) FROM bench_probe WHERE id > 0") >= probes)); do
        ((SECONDS < deadline)) || die "$tag: probe rows missing in the target"
        sleep 0.1
    done
    cdc_psql "$db" "COPY (SELECT id, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e6)::bigint
                    FROM bench_probe) TO STDOUT WITH (FORMAT csv)" >"$run/target.csv"
    "$PY" "$TOOL" latency "$run/probe.csv" "$run/target.csv" "$run/latency.json" >"$run/latency.txt"
    "$PY" "$TOOL" split "$CDC_TEST_BOOTSTRAP" bench.crm "$run/probe.csv" "$run/target.csv" \
        "$run/split.json" >"$run/split.txt" 2>"$run/split.log" || echo "split failed" >"$run/split.txt"
    for k in src_to_kafka kafka_to_pg; do
        result "latency_${k}_p50" ms "$(sed -n "s/.*${k}_p50_ms=\([0-9.]*\).*/\1/p" "$run/split.txt")"
    done
    read -r lq1 lq4 lend growing <<<"$("$PY" "$TOOL" lagsummary "$run/lag.csv")"
    for k in p50 p99 max; do
        result "latency_$k" ms "$(sed -n "s/.*${k}_ms=\([0-9.]*\).*/\1/p" "$run/latency.txt")"
    done
    result stream_end_lag records "$lend"
    result probe_busy writes "$(cat "$run/probe.csv.failures" 2>/dev/null || echo nan)"
    wl=$(grep -o 'ops=[0-9]* commits=[0-9]*' "$run/workload.out" | head -1)
    note "$tag: workload $wl in ${stream_s} s ($(grep -o 'ops_per_s=[0-9.]*' "$run/workload.out")), probe rows $probes ($(cat "$run/probe.csv.failures" 2>/dev/null || echo '?') refused: busy for more than 1 s); latency $(cat "$run/latency.txt"); split at Kafka (CreateTime, ms resolution): $(cat "$run/split.txt"); lag (records) first quarter avg $lq1, last quarter avg $lq4, at end $lend: growing backlog: $growing"
    for i in "${spid[@]}" "$ppid"; do kill -TERM "$i"; done
    for i in "${spid[@]}" "$ppid"; do wait "$i" || die "$tag: a worker exited $? after SIGTERM"; done
    cdc_stack_down
}

# --- 4: source impact -------------------------------------------------------------------
# impact_one DIR LABEL: the workload as fast as it can go on epic7 for impact_s seconds.
impact_one() {
    "$WORKLOAD" --dir "$1" --files epic7_sales_automation.db --rate 0 --seconds "$impact_s" --seed 3 \
        >"$1.$2.out" 2>"$1.$2.log" || { tail -n 5 "$1.$2.log"; die "impact: workload ($2) failed"; }
    result "impact_$2_cps" commits/s "$(grep -o 'commits_per_s=[0-9.]*' "$1.$2.out" | cut -d= -f2)"
    result "impact_$2_p99" us "$(grep -o 'commit_p99_us=[0-9.]*' "$1.$2.out" | cut -d= -f2)"
}

kvs() { tr ' ' '\n' <"$1" | grep -E '^(commits|commit_p50_us|commit_p99_us|commits_per_s|busy_failures)=' | tr '\n' ' '; }

impact_run() {
    local tag=$1 run=$WORK/$1 cfg ppid ntab deadline
    mkdir -p "$run"
    chmod 0755 "$run"
    "$FIXTURES" --out "$run/plain" >/dev/null 2>"$run/fixtures.log" || die "cdc-fixtures"
    "$FIXTURES" --out "$run/cdc" >/dev/null 2>>"$run/fixtures.log" || die "cdc-fixtures"
    impact_one "$run/plain" plain
    cfg=$run/pipeline.yml
    write_cfg "$cfg" 6 bench_impact epic7 "$run/cdc/epic7_sales_automation.db"
    bench_stack_up "$cfg"
    "$PRODUCER" -c "$cfg" 2>"$run/producer.log" &
    ppid=$!
    track "$ppid"
    ntab=$(sqlite3 "$run/cdc/epic7_sales_automation.db" "SELECT count(*) FROM sqlite_master WHERE type = 'table'
           AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cdc_%'")
    deadline=$((SECONDS + 30))
    until (($(grep -c 'snapshot of .* done' "$run/producer.log" || true) >= ntab)); do
        ((SECONDS < deadline)) || { tail -n 5 "$run/producer.log"; die "$tag: producer did not finish its snapshot"; }
        sleep 0.1
    done
    impact_one "$run/cdc" cdc
    kill -TERM "$ppid"
    wait "$ppid" || die "$tag: producer exited $? after SIGTERM"
    # The same captured file with the producer stopped: the triggers' own cost, apart from
    # the producer's reads, acknowledgements and CPU.
    impact_one "$run/cdc" trig
    note "$tag: plain: $(kvs "$run/plain.plain.out") / capture + producer: $(kvs "$run/cdc.cdc.out") / capture, producer stopped: $(kvs "$run/cdc.trig.out"); producer: $(grep -o 'longest write-lock hold [0-9.]* ms' "$run/producer.log" | tail -1)"
    cdc_stack_down
}

# --- 7: instructions per row ------------------------------------------------------------
# Callgrind counts every thread of the process (librdkafka's included), not PostgreSQL.
# Two sizes, so the per-row figure is the slope, without start-up and shutdown.
cost_run() {
    local run=$WORK/cost n cfg ir_p=() ir_s=() rc
    mkdir -p "$run"
    chmod 0755 "$run"
    for n in "$cg_small" "$cg_large"; do
        local src
        src=$(scale_file "$n")
        cp "$src" "$run/src-$n.db"
        cfg=$run/pipeline-$n.yml
        write_cfg "$cfg" 12 bench_cost scale "$run/src-$n.db"
        bench_stack_up "$cfg"
        cdc_pg_createdb bench_cost
        valgrind --tool=callgrind --callgrind-out-file="$run/producer-$n.cg" \
            "$PRODUCER" -c "$cfg" --once >/dev/null 2>"$run/producer-$n.log" || die "cost: producer under callgrind"
        rc=0
        valgrind --tool=callgrind --callgrind-out-file="$run/sink-$n.cg" \
            "$SINK" -c "$cfg" --domain crm --once >/dev/null 2>"$run/sink-$n.log" || rc=$?
        ((rc == 0)) || { tail -n 5 "$run/sink-$n.log"; die "cost: sink under callgrind exited $rc"; }
        [[ $(cdc_psql bench_cost "SELECT count(*) FROM crm_contacts") == "$n" ]] || die "cost: sink applied a wrong count"
        ir_p+=("$(awk '/^summary:/ {print $2}' "$run/producer-$n.cg")")
        ir_s+=("$(awk '/^summary:/ {print $2}' "$run/sink-$n.cg")")
        cdc_stack_down
    done
    local d=$((cg_large - cg_small))
    result ir_producer Ir/row "$(((ir_p[1] - ir_p[0]) / d))"
    result ir_sink Ir/row "$(((ir_s[1] - ir_s[0]) / d))"
    for w in producer sink; do
        { callgrind_annotate --inclusive=no "$run/$w-$cg_large.cg" 2>/dev/null || true; } |
            awk '/file:function/ {f = 1; getline; next} f && NF {print}' |
            sed -e 's#/work/[^ ]*/\([^/ ]*:\)#\1#' -e 's#\./[^ ]*/\([^/ ]*:\)#\1#' |
            awk 'NR <= 25' >"$WORK/top-$w.txt"
    done
    note "cost: producer ${ir_p[0]} Ir at $cg_small rows, ${ir_p[1]} at $cg_large; sink ${ir_s[0]} / ${ir_s[1]}"
}

# --- the runs ---------------------------------------------------------------------------
# In a function, so that bash has read all of it before it runs: editing this file during
# a long run cannot change what the run does.
main() {
SNAP_PARTS=${BENCH_PARTITIONS:-$(partitions_for "$rows")}
t_start=$SECONDS
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
PGL_MONEY=""
for r in $(seq 1 "$runs"); do
    if want snapshot; then
        snap_run "snap$r" "$rows" 2 "$SNAP_PARTS" replay compare
        result snapshot_cdc rows/s "$SNAP_RATE"
        result rss_producer MiB "$SNAP_PROD_RSS"
        result rss_sink MiB "$SNAP_SINK_RSS"
    fi
    if want scaling; then
        snap_run "snap1w$r" "$rows" 1 "$SNAP_PARTS"
        result snapshot_cdc_1w rows/s "$SNAP_RATE"
    fi
    if want stream; then stream_run "stream$r"; fi
    if want impact; then impact_run "impact$r"; fi
done
if want cost; then cost_run; fi
if ((big)); then
    # At 10M rows the producer (100-230k rows/s) outruns the 2 sinks (11-45k rows/s), so the
    # devbroker must hold nearly the whole topic. With 468 partitions at the default
    # linger.ms=5 each partition gets 1-2 records a batch, lz4 has nothing to work with
    # and a record takes ~380 bytes on the wire instead of ~190 (measured: 1M rows,
    # producer alone, bytes fetched / records): partitions evicted records the sinks had
    # not applied (GAP). linger.ms=100 brings it back to ~180-205 bytes (200 ms: ~175,
    # but the 16 MiB producer queue then throttles the producer); more partitions alone
    # would not help, they shrink every batch further. So for both big points: linger.ms
    # 100 and partitions sized at 300 bytes a row (576 at 10M: ~68% of the window at the
    # measured size). It costs the producer memory (RSS 26 -> 50 MiB at 1M rows: the
    # queue holds 100 ms of records, bounded by queue.buffering.max.kbytes), so both big
    # points use the same settings and the 1M series above keeps the defaults. Measured
    # on 2 shared cores: 10M rows passed without a gap, devbroker peak 2.1 GB.
    bp=${BENCH_PARTITIONS:-$(partitions_for "$big_rows" 300)}
    CFG_PRODUCER="linger.ms: 100"
    t0=$SECONDS
    snap_run big "$big_rows" 2 "$bp"
    result snapshot_cdc_big rows/s "$SNAP_RATE"
    result rss_producer_big MiB "$SNAP_PROD_RSS"
    result rss_sink_big MiB "$SNAP_SINK_RSS"
    snap_run big1m 1000000 2 "$bp"
    result rss_producer_big1m MiB "$SNAP_PROD_RSS"
    result rss_sink_big1m MiB "$SNAP_SINK_RSS"
    CFG_PRODUCER=""
    note "big: $big_rows rows and 1,000,000 rows with $bp partitions and producer linger.ms 100 took $((SECONDS - t0)) s (fixture included)"
    rm -rf "$WORK/scale-$big_rows"
fi

# --- report -----------------------------------------------------------------------------
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$here" status --porcelain 2>/dev/null) ]] && commit+=-dirty
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
[[ -n $PGL_MONEY ]] && note "money: $PGL_MONEY"
echo
echo "== bench $commit · rows $rows · runs $runs · partitions $SNAP_PARTS · $machine"
"$PY" "$TOOL" table "$RES" "$rows" "$runs" "$WORK/table.md"
echo "notes:"
sed 's/^/  /' "$NOTES"
if [[ -s $WORK/pgstat-snap1.txt ]]; then
    echo "PostgreSQL statements of the first snapshot by total time (pg_stat_statements):"
    sed 's/^/  /' "$WORK/pgstat-snap1.txt"
fi
for w in producer sink; do
    [[ -s $WORK/top-$w.txt ]] && { echo "callgrind, $w, top functions by own instructions ($cg_large rows):"; sed 's/^/  /' "$WORK/top-$w.txt" | head -15; }
done
if ((history)); then
    {
        echo
        echo "## $(date -u '+%Y-%m-%d %H:%M UTC') · $commit · rows $rows · runs $runs$( ((quick)) && echo ' · quick')"
        echo
        echo "Machine: $machine; load average at start $load_start; binaries built $(date -u -r "$SINK" '+%Y-%m-%d %H:%M UTC')$( ((build)) || echo ' (--no-build)'); partitions $SNAP_PARTS; sink options: ${BENCH_SINK_ARGS:-defaults}; took $(((SECONDS - t_start) / 60)) min.${note:+ Note: $note}"
        echo
        cat "$WORK/table.md"
        echo
        sed 's/^/- /' "$NOTES"
        if [[ -s $WORK/pgstat-snap1.txt ]]; then
            echo
            echo "PostgreSQL statements of the first snapshot by total time (pg_stat_statements):"
            echo
            echo '```'
            cat "$WORK/pgstat-snap1.txt"
            echo '```'
        fi
        for w in producer sink; do
            if [[ -s $WORK/top-$w.txt ]]; then
                echo
                echo "Callgrind, $w, top functions by own instructions ($cg_large rows):"
                echo
                echo '```'
                head -12 "$WORK/top-$w.txt"
                echo '```'
            fi
        done
    } >>"$here/bench/history.md"
    log "appended to bench/history.md"
fi
}
main
exit

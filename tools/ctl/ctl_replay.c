/*
 * cdc-ctl replay: moves a domain's stored offsets (_cdc_offsets in its target, invariant 6)
 * back so that its sink workers apply the records again from there.
 *
 * Safe with workers running: a worker's next batch finds the stored offset moved (its
 * fenced UPDATE ... WHERE next_offset = <first> matches nothing), drops the batch, re-reads
 * the stored offset and seeks to it; a worker assigned later starts from it. Apply is
 * idempotent and monotonic (invariant 5), so re-applying older records changes nothing
 * that is newer. A replay never moves a stored offset forward (that would skip records):
 * a partition whose worker has not reached the target yet keeps its offset.
 *
 * All or nothing: every partition's target is computed first; if one cannot reach back
 * (the records were removed by retention: target below the low watermark) nothing is
 * written and the way out - a re-snapshot - is named.
 */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "ctl.h"
#include "sink_pg.h"
#include "sink_schema.h"

#define PROG "cdc-ctl replay"

static void usage(FILE *out, const char *prog)
{
    (void)prog; /* the text names PROG itself */
    fprintf(
        out,
        "Usage: " PROG " -c CONFIG --domain NAME --from earliest|OFFSET|TIME\n"
        "                      [--partition P] [--wait] [--timeout S] [--dry-run]\n"
        "\n"
        "Rewrites the stored offsets of the domain's sink (_cdc_offsets in its target) so\n"
        "the workers apply <prefix>.<domain> again from there. Safe while workers run: their\n"
        "next batch is fenced, they re-read the stored offset and seek to it (a running\n"
        "producer's heartbeats give every partition a next batch within producer.heartbeat_ms).\n"
        "A stored offset is never moved forward.\n"
        "\n"
        "--from:\n"
        "  earliest      the partition's first available offset (low watermark)\n"
        "  OFFSET        a Kafka offset (digits), the same for every chosen partition\n"
        "  TIME          a record timestamp: ISO 8601 (2026-11-21T23:40:00Z, 2026-11-21\n"
        "                23:40:00.250+01:00; no zone = UTC) or @MS (unix milliseconds): the\n"
        "                first record at or after it (offsets-for-times, or a search by\n"
        "                timestamps where the broker cannot answer, e.g. cdc-devbroker)\n"
        "A target below the low watermark cannot be replayed (retention removed those\n"
        "records): nothing is changed and the command points to a re-snapshot.\n"
        "\n"
        "Output (stdout): one line per partition\n"
        "  partition=P stored=S target=T low=L high=H action=moved|unchanged\n"
        "and with --wait, when the workers are back at the high watermarks:\n"
        "  partition=P next=N high=H lag=K\n"
        "\n"
        "Options:\n"
        "%s"
        "  -d, --domain NAME      the domain (required)\n"
        "      --from WHERE       earliest, OFFSET or TIME (required)\n"
        "      --partition P      only this partition (default: all of the domain's)\n"
        "      --wait             wait until the stored offsets reach the high watermarks\n"
        "                         seen at the replay, printing progress on stderr\n"
        "      --timeout S        --wait limit in seconds, 1..86400 (default 600)\n"
        "      --dry-run          compute and print the targets, change nothing\n"
        "\n"
        "Exit codes:\n"
        "  0  offsets rewritten (and with --wait, re-applied up to the high watermarks)\n"
        "  1  cannot reach back (re-snapshot instead), domain cut over, Kafka or PostgreSQL\n"
        "     unusable, or --wait timed out (lag per partition printed)\n"
        "  2  usage or config error\n",
        cdc_cli_common_help);
}

typedef enum { FROM_EARLIEST, FROM_OFFSET, FROM_TIME } from_kind_t;

/* ISO 8601 date-time (T or blank, optional fraction, Z / +HH:MM / none = UTC) or @MS. */
static int parse_time(const char *s, int64_t *out_ms)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    long long ms;
    const char *p;

    if (s[0] == '@') {
        unsigned long long v;
        if (cdc_cli_parse_ull(s + 1, 0, (unsigned long long)INT64_MAX, &v) < 0)
            return -1;
        *out_ms = (int64_t)v;
        return 0;
    }
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2 || m != 5)
            return -1;
        p += 1 + m;
        if (*p == ':') {
            char *end = NULL;
            if (!isdigit((unsigned char)p[1]))
                return -1;
            sec = strtod(p + 1, &end);
            p = end;
        }
    }
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61)
        return -1;
    ms = (long long)timegm(&tm) * 1000 + (long long)(sec * 1000 + 0.5);
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5)
            return -1;
        ms -= (*p == '+' ? 1 : -1) * ((long long)oh * 3600 + om * 60) * 1000;
        p += 1 + m;
    }
    if (*p != '\0')
        return -1;
    *out_ms = ms;
    return 0;
}

typedef struct part_plan_s {
    int32_t partition;
    int64_t lo, hi;
    int has_stored;
    int64_t stored;
    int64_t target;
    int move;
} part_plan_t;

/* Stored next offsets of the domain's topic; absent partitions keep has_stored = 0. */
static int read_stored(PGconn *conn, const char *domain, const char *topic, part_plan_t *plan,
                       size_t n, char *errstr, size_t errstr_size)
{
    const char *p[2] = {domain, topic};
    PGresult *res = NULL;
    if (cdc_sink_pg_exec(conn,
                         "SELECT kpartition, next_offset FROM _cdc_offsets"
                         " WHERE domain = $1 AND topic = $2",
                         2, p, &res, errstr, errstr_size) != CDC_SINK_PG_OK)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        int32_t part = (int32_t)strtol(PQgetvalue(res, r, 0), NULL, 10);
        for (size_t i = 0; i < n; i++)
            if (plan[i].partition == part) {
                plan[i].has_stored = 1;
                plan[i].stored = strtoll(PQgetvalue(res, r, 1), NULL, 10);
            }
    }
    PQclear(res);
    return 0;
}

static int domain_cut_over(PGconn *conn, const char *domain, char *errstr, size_t errstr_size)
{
    const char *p[1] = {domain};
    PGresult *res = NULL;
    int cut;
    if (cdc_sink_pg_exec(conn, "SELECT 1 FROM _cdc_cutover WHERE domain = $1", 1, p, &res, errstr,
                         errstr_size) != CDC_SINK_PG_OK)
        return -1;
    cut = PQntuples(res) > 0;
    PQclear(res);
    return cut;
}

/* One transaction: every moved partition's stored offset. */
static int write_offsets(PGconn *conn, const char *domain, const char *topic,
                         const part_plan_t *plan, size_t n, char *errstr, size_t errstr_size)
{
    cdc_sink_pg_class_t cls = cdc_sink_pg_exec(conn, "BEGIN", 0, NULL, NULL, errstr, errstr_size);
    for (size_t i = 0; i < n && cls == CDC_SINK_PG_OK; i++) {
        char part[16], off[24];
        const char *p[4] = {domain, topic, part, off};
        if (!plan[i].move)
            continue;
        snprintf(part, sizeof part, "%d", (int)plan[i].partition);
        snprintf(off, sizeof off, "%" PRId64, plan[i].target);
        cls = cdc_sink_pg_exec(conn,
                               "INSERT INTO _cdc_offsets (domain, topic, kpartition, next_offset)"
                               " VALUES ($1, $2, $3::int, $4::bigint)"
                               " ON CONFLICT (domain, topic, kpartition) DO UPDATE"
                               " SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                               4, p, NULL, errstr, errstr_size);
    }
    if (cls == CDC_SINK_PG_OK)
        cls = cdc_sink_pg_exec(conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size);
    if (cls != CDC_SINK_PG_OK) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    return 0;
}

/* Polls the stored offsets until every partition reached its high watermark. */
static int wait_applied(PGconn *conn, const char *domain, const char *topic, part_plan_t *plan,
                        size_t n, int timeout_s)
{
    int64_t deadline = ctl_now_ms() + (int64_t)timeout_s * 1000, last_print = 0;
    char errstr[1024];
    int done = 0;

    while (!done) {
        for (size_t i = 0; i < n; i++)
            plan[i].has_stored = 0;
        if (read_stored(conn, domain, topic, plan, n, errstr, sizeof errstr) < 0) {
            fprintf(stderr, PROG ": %s\n", errstr);
            return -1;
        }
        done = 1;
        for (size_t i = 0; i < n; i++)
            if (!plan[i].has_stored || plan[i].stored < plan[i].hi)
                done = 0;
        int64_t now = ctl_now_ms();
        if (done || now - last_print >= 2000 || now > deadline) {
            fprintf(stderr, PROG ": %s:", topic);
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, " [%d] %" PRId64 "/%" PRId64, (int)plan[i].partition,
                        plan[i].has_stored ? plan[i].stored : 0, plan[i].hi);
            fprintf(stderr, "\n");
            last_print = now;
        }
        if (done)
            break;
        if (now > deadline) {
            fprintf(stderr, PROG ": the workers did not reach the high watermarks within %d s\n",
                    timeout_s);
            break;
        }
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        int64_t next = plan[i].has_stored ? plan[i].stored : 0;
        printf("partition=%d next=%" PRId64 " high=%" PRId64 " lag=%" PRId64 "\n",
               (int)plan[i].partition, next, plan[i].hi, plan[i].hi > next ? plan[i].hi - next : 0);
    }
    return done ? 0 : -1;
}

enum { OPT_FROM = CDC_CLI_OPT_FIRST_OWN, OPT_PARTITION, OPT_WAIT, OPT_TIMEOUT, OPT_DRY };

typedef struct replay_args_s {
    const char *domain, *from;
    long partition, timeout_s;
    int wait, dry;
} replay_args_t;

static int own_option(void *ctx, int c, const char *arg)
{
    replay_args_t *a = ctx;

    switch (c) {
    case 'd':
        a->domain = arg;
        break;
    case OPT_FROM:
        a->from = arg;
        break;
    case OPT_PARTITION:
        if (cdc_cli_parse_long(arg, 0, 100000, &a->partition) < 0)
            return cdc_cli_usage_error(PROG, "--partition: \"%s\" is not a partition number", arg);
        break;
    case OPT_WAIT:
        a->wait = 1;
        break;
    case OPT_TIMEOUT:
        if (cdc_cli_parse_long(arg, 1, 86400, &a->timeout_s) < 0)
            return cdc_cli_usage_error(PROG, "--timeout: \"%s\" is not 1..86400", arg);
        break;
    case OPT_DRY:
        a->dry = 1;
        break;
    }
    return 0;
}

int ctl_replay_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"domain", required_argument, NULL, 'd'},
        {"from", required_argument, NULL, OPT_FROM},
        {"partition", required_argument, NULL, OPT_PARTITION},
        {"wait", no_argument, NULL, OPT_WAIT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"dry-run", no_argument, NULL, OPT_DRY},
        {NULL, 0, NULL, 0},
    };
    replay_args_t a = {NULL, NULL, -1, 600, 0, 0};
    const cdc_cli_spec_t spec = {PROG, ":c:d:h", longopts, usage, own_option, &a};
    const char *config_path = NULL, *domain, *from;
    cdc_config_t *conf = NULL;
    const cdc_domain_t *d;
    ctl_reader_t *reader = NULL;
    PGconn *conn = NULL;
    part_plan_t *plan = NULL;
    char *topic = NULL;
    char errstr[2048];
    from_kind_t kind = FROM_EARLIEST;
    int64_t from_value = 0;
    long partition;
    int rc;
    size_t n = 0;

    if ((rc = cdc_cli_parse(&spec, argc, argv, &config_path)) != CDC_CLI_RUN)
        goto out;
    rc = CTL_EXIT_USAGE;
    domain = a.domain;
    from = a.from;
    partition = a.partition;
    if (domain == NULL || from == NULL) {
        cdc_cli_usage_error(PROG, "%s is required", domain == NULL ? "--domain" : "--from");
        goto out;
    }
    if (strcmp(from, "earliest") == 0) {
        kind = FROM_EARLIEST;
    } else if (isdigit((unsigned char)from[0]) && strspn(from, "0123456789") == strlen(from)) {
        unsigned long long v;
        if (cdc_cli_parse_ull(from, 0, (unsigned long long)INT64_MAX, &v) < 0) {
            cdc_cli_usage_error(PROG, "--from: offset \"%s\" is out of range", from);
            goto out;
        }
        kind = FROM_OFFSET;
        from_value = (int64_t)v;
    } else if (parse_time(from, &from_value) == 0) {
        kind = FROM_TIME;
    } else {
        cdc_cli_usage_error(
            PROG, "--from: \"%s\" is not earliest, an offset, an ISO 8601 time or @MS", from);
        goto out;
    }
    if ((conf = cdc_cli_load_config(PROG, config_path)) == NULL ||
        !(d = cdc_cli_domain(PROG, conf, domain)))
        goto out;
    if (partition >= d->partitions) {
        cdc_cli_usage_error(PROG, "--partition %ld: domain %s has partitions 0..%d", partition,
                            domain, d->partitions - 1);
        goto out;
    }
    rc = CTL_EXIT_OPERATIONAL;
    topic = ctl_domain_topic(conf, domain);
    if ((reader = ctl_reader_new(conf, errstr, sizeof errstr)) == NULL) {
        fprintf(stderr, PROG ": %s\n", errstr);
        goto out;
    }
    if ((conn = ctl_pg_connect(PROG, conf, d)) == NULL)
        goto out;
    /* The sink's own DDL (idempotent): a replay may precede the first worker. */
    if (cdc_sink_schema_metadata(conn, errstr, sizeof errstr) != CDC_SINK_PG_OK) {
        fprintf(stderr, PROG ": domain %s: %s\n", domain, errstr);
        goto out;
    }
    int cut = domain_cut_over(conn, domain, errstr, sizeof errstr);
    if (cut != 0) {
        if (cut < 0)
            fprintf(stderr, PROG ": %s\n", errstr);
        else
            fprintf(stderr,
                    PROG ": domain %s is cut over (_cdc_cutover): PostgreSQL is the system of "
                         "record and its sinks refuse to write; nothing to replay\n",
                    domain);
        goto out;
    }
    n = partition >= 0 ? 1 : (size_t)d->partitions;
    plan = cdc_calloc(n, sizeof *plan);
    for (size_t i = 0; i < n; i++)
        plan[i].partition = partition >= 0 ? (int32_t)partition : (int32_t)i;
    if (read_stored(conn, domain, topic, plan, n, errstr, sizeof errstr) < 0) {
        fprintf(stderr, PROG ": %s\n", errstr);
        goto out;
    }
    int unreachable = 0;
    for (size_t i = 0; i < n; i++) {
        part_plan_t *pp = &plan[i];
        int searched = 0;
        if (ctl_watermarks(reader, topic, pp->partition, &pp->lo, &pp->hi, errstr, sizeof errstr) <
            0) {
            fprintf(stderr, PROG ": %s\n", errstr);
            goto out;
        }
        switch (kind) {
        case FROM_EARLIEST:
            pp->target = pp->lo;
            break;
        case FROM_OFFSET:
            if (from_value > pp->hi) {
                fprintf(stderr,
                        PROG ": %s [%d]: offset %" PRId64 " is beyond the end of the partition "
                             "(%" PRId64 ")\n",
                        topic, (int)pp->partition, from_value, pp->hi);
                unreachable = 1;
            }
            pp->target = from_value;
            break;
        case FROM_TIME: {
            int64_t mo, ts;
            /* Records before the low watermark are gone: if the first one left is already
             * newer than the time, what came before it cannot be replayed. */
            int r = pp->lo > 0 ? ctl_reader_at(reader, topic, pp->partition, pp->lo, pp->hi, &mo,
                                               &ts, errstr, sizeof errstr)
                               : 1;
            if (r < 0) {
                fprintf(stderr, PROG ": %s\n", errstr);
                goto out;
            }
            if (r == 0 && ts > from_value) {
                pp->target = pp->lo - 1; /* reported below as unreachable */
                break;
            }
            if (ctl_offset_for_time(reader, topic, pp->partition, pp->lo, pp->hi, from_value,
                                    &pp->target, &searched, errstr, sizeof errstr) < 0) {
                fprintf(stderr, PROG ": %s\n", errstr);
                goto out;
            }
            cdc_log_info("%s [%d]: time %" PRId64 " ms is offset %" PRId64 " (%s)", topic,
                         (int)pp->partition, from_value, pp->target,
                         searched ? "search by record timestamps" : "offsets-for-times");
            break;
        }
        }
        if (pp->target < pp->lo) {
            fprintf(stderr,
                    PROG ": %s [%d]: cannot reach back: the replay would start before the first "
                         "available offset %" PRId64
                         " (older records were removed by retention). Replay cannot restore "
                         "them; re-snapshot the domain's sources instead (`cdc-producer -c %s "
                         "--new-epoch SOURCE`, or `cdc-ctl resnapshot`)\n",
                    topic, (int)pp->partition, pp->lo, conf->path);
            unreachable = 1;
        }
        /* Never forward: a worker that has not reached the target yet keeps its offset. */
        pp->move = !pp->has_stored || pp->stored > pp->target;
        if (pp->has_stored && pp->stored <= pp->target)
            pp->target = pp->stored;
    }
    if (unreachable) {
        fprintf(stderr, PROG ": nothing changed\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        printf("partition=%d stored=%s%" PRId64 " target=%" PRId64 " low=%" PRId64 " high=%" PRId64
               " action=%s\n",
               (int)plan[i].partition, plan[i].has_stored ? "" : "none:", plan[i].stored,
               plan[i].target, plan[i].lo, plan[i].hi,
               a.dry          ? "none(dry-run)"
               : plan[i].move ? "moved"
                              : "unchanged");
    fflush(stdout);
    if (a.dry) {
        rc = CTL_EXIT_OK;
        goto out;
    }
    if (write_offsets(conn, domain, topic, plan, n, errstr, sizeof errstr) < 0) {
        fprintf(stderr, PROG ": domain %s: writing _cdc_offsets: %s\n", domain, errstr);
        goto out;
    }
    cdc_log_info("domain %s: stored offsets rewritten; running workers pick them up at their "
                 "next batch",
                 domain);
    if (a.wait && wait_applied(conn, domain, topic, plan, n, (int)a.timeout_s) < 0)
        goto out;
    rc = CTL_EXIT_OK;
out:
    free(plan);
    free(topic);
    if (conn)
        PQfinish(conn);
    ctl_reader_destroy(reader);
    cdc_config_destroy(conf);
    return rc;
}

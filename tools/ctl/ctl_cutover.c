/*
 * cdc-ctl cutover: the end of dual running for one domain (docs/operate.md "cdc-ctl
 * cutover"). Steps, each timed for the report:
 *
 *   1. wait until READY TO FREEZE (the status verdict);
 *   2. freeze every source of the domain (cdc-ctl freeze);
 *   3. evidence: an online backup of every source file (sqlite3_backup_*);
 *   4. wait until DRAINED (every change up to the freeze positions applied);
 *   5. the audit (cdc_audit_run): every table and business check must match;
 *   6. finalise the target and mark the domain cut over, in one PostgreSQL transaction
 *      (ctl_finalize.c): from its commit on, PostgreSQL is the system of record;
 *   7. ANALYZE, stop capture at the sources (the freeze stays), the final report.
 *
 * Any failure before the commit of step 6 is rolled back: the sources this run froze are
 * unfrozen, the target is untouched (step 6 is one transaction), SQLite stays the system of
 * record, and the command exits 1 with the reason.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "ctl.h"
#include "ctl_cutover.h"
#include "ctl_status_int.h"
#include "sink_pg.h"
#include "sink_schema.h"

#define PROG "cdc-ctl cutover"

static void usage(FILE *out, const char *prog)
{
    (void)prog; /* the text names PROG itself */
    fprintf(out,
            "Usage: " PROG " -c CONFIG --domain D [--timeout S] [--report FILE]\n"
            "                       [--evidence-dir DIR] [--max-lag-seconds X]\n"
            "\n"
            "Moves domain D's system of record from SQLite to PostgreSQL:\n"
            "  1. waits until READY TO FREEZE (cdc-ctl status);\n"
            "  2. freezes every source of the domain (application writes to SQLite fail);\n"
            "  3. takes evidence: an online backup of every source file (SQLite backup API)\n"
            "     into the evidence directory, with its SHA-256;\n"
            "  4. waits until DRAINED (every change up to the freeze position applied);\n"
            "  5. runs the audit: every table (rows, SHA-256) and business check must match;\n"
            "  6. finalises the target in one transaction: UNIQUE and secondary indexes, CHECK\n"
            "     constraints and foreign keys from the source schema (rows violating them\n"
            "     are reported and kept: the constraint is added NOT VALID), integer keys\n"
            "     generated past their highest value, the domain's tombstones and the _cdc_\n"
            "     columns removed, and the domain marked in _cdc_cutover (sinks refuse it);\n"
            "  7. ANALYZE, stops capture at the sources (capture triggers dropped, the\n"
            "     freeze kept: the files stay read-only evidence), prints the final report.\n"
            "A failure before step 6 commits rolls back: the sources are unfrozen, the target\n"
            "is unchanged, SQLite stays the system of record; the reason is printed.\n"
            "Runs where the SQLite files are, with the producer, the domain's sinks and the\n"
            "validator running.\n"
            "\n"
            "Options:\n"
            "%s"
            "  -d, --domain D         the domain to cut over (required)\n"
            "      --timeout S        how long to wait for READY and for DRAINED, each\n"
            "                         (default 120)\n"
            "      --report FILE      also write the final report to FILE (default\n"
            "                         EVIDENCE_DIR/report.txt)\n"
            "      --evidence-dir DIR where the backups go (created; default\n"
            "                         ./cutover-D-<UTC time>)\n"
            "      --max-lag-seconds X\n"
            "                         READY's lag threshold (default 5)\n"
            "\n"
            "Output: progress on stderr; the final report (also on rollback) on stdout.\n"
            "\n"
            "Exit codes:\n"
            "  0  the domain is cut over\n"
            "  1  rolled back (the reason is named: not READY, not DRAINED, an audit\n"
            "     difference, a target error), already cut over, or cut over with a problem\n"
            "     after the mark (named in the report: ANALYZE, stopping capture)\n"
            "  2  usage or config error\n",
            cdc_cli_common_help);
}

/* One lag sample of a wait. */
typedef struct lag_sample_s {
    const char *phase;
    double t_s;
    int64_t messages;
    double seconds;
} lag_sample_t;

typedef struct cutover_s {
    const cdc_config_t *conf;
    const cdc_domain_t *d;
    double timeout_s;
    cdc_ctl_status_opts_t opts;
    char *evidence_dir, *report_path;
    int64_t t0_ms;
    char started[32];
    /* progress */
    int frozen_by_us;
    int64_t freeze_ms, mark_ms;
    double step_s[7];
    lag_sample_t *lag;
    size_t nlag;
    cdc_buf_t sources; /* report lines */
    cdc_buf_t audit;
    ctl_final_t fin;
    cdc_buf_t problems; /* after the mark */
    char reason[8192];
} cutover_t;

static const char *const step_names[7] = {"ready", "freeze",   "evidence",    "drained",
                                          "audit", "finalise", "stop capture"};

static void utc_now(char *out, size_t n, const char *fmt)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, fmt, &tm);
}

static double since_s(int64_t ms)
{
    return (double)(ctl_now_ms() - ms) / 1000.0;
}

/* Polls the status verdict (ready, or drained) every second until it holds or the
 * timeout; records the lag. Returns 0, or -1 with the open reasons in c->reason. */
static int wait_verdict(cutover_t *c, rd_kafka_t *rk, int drained)
{
    const char *phase = drained ? "drained" : "ready";
    int64_t start = ctl_now_ms(), last_log = 0;
    for (;;) {
        cdc_ctl_domain_t *dom = cdc_ctl_domain_new(c->conf, c->d);
        cdc_ctl_status_read_pg(c->conf, dom);
        cdc_ctl_status_read_kafka(c->conf, rk, dom, &c->opts);
        cdc_ctl_status_evaluate(dom, &c->opts);
        lag_sample_t s = {phase, since_s(c->t0_ms), 0, 0};
        for (int p = 0; p < dom->nparts; p++) {
            if (dom->parts[p].lag_messages > 0)
                s.messages += dom->parts[p].lag_messages;
            if (dom->parts[p].lag_s > s.seconds)
                s.seconds = dom->parts[p].lag_s;
        }
        c->lag = cdc_realloc(c->lag, (c->nlag + 1) * sizeof *c->lag);
        c->lag[c->nlag++] = s;
        int holds = drained ? dom->drained : dom->ready;
        const cdc_ctl_reasons_t *r = drained ? &dom->not_drained : &dom->not_ready;
        if (!holds && since_s(start) >= c->timeout_s) {
            size_t off =
                (size_t)snprintf(c->reason, sizeof c->reason, "%s did not hold within %g s:",
                                 drained ? "DRAINED" : "READY TO FREEZE", c->timeout_s);
            for (size_t i = 0; i < r->count && off < sizeof c->reason; i++)
                off += (size_t)snprintf(c->reason + off, sizeof c->reason - off, " %s%s",
                                        r->items[i], i + 1 < r->count ? ";" : "");
            cdc_ctl_domain_free(dom);
            return -1;
        }
        if (!holds && r->count > 0 && ctl_now_ms() - last_log >= 5000) {
            cdc_log_info("domain %s: waiting for %s: %s%s", c->d->name, phase, r->items[0],
                         r->count > 1 ? " (and more)" : "");
            last_log = ctl_now_ms();
        }
        cdc_ctl_domain_free(dom);
        if (holds)
            return 0;
        usleep(1000000);
    }
}

/* Freezes every source of the domain; on a failure the caller rolls back. */
static int freeze_all(cutover_t *c)
{
    c->frozen_by_us = 1;
    c->freeze_ms = ctl_now_ms();
    for (size_t i = 0; i < c->conf->n_sources; i++) {
        const cdc_source_t *s = &c->conf->sources[i];
        if (strcmp(s->domain, c->d->name) != 0)
            continue;
        if (ctl_freeze_source(PROG, c->conf, s, 1, stderr) < 0) {
            snprintf(c->reason, sizeof c->reason, "freezing source %s failed (see above)", s->name);
            return -1;
        }
    }
    return 0;
}

static void unfreeze_all(cutover_t *c)
{
    for (size_t i = 0; i < c->conf->n_sources; i++) {
        const cdc_source_t *s = &c->conf->sources[i];
        if (strcmp(s->domain, c->d->name) == 0 && ctl_freeze_source(PROG, c->conf, s, 0, stderr))
            cdc_log_error("source %s: UNFREEZE FAILED: run cdc-ctl unfreeze -c %s --source %s",
                          s->name, c->conf->path, s->name);
    }
}

static int take_evidence(cutover_t *c)
{
    char err[2048];
    if (mkdir(c->evidence_dir, 0755) < 0 && errno != EEXIST) {
        snprintf(c->reason, sizeof c->reason, "cannot create the evidence directory %s: %s",
                 c->evidence_dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < c->conf->n_sources; i++) {
        const cdc_source_t *s = &c->conf->sources[i];
        char *path = NULL, hex[65];
        int64_t bytes = 0;
        if (strcmp(s->domain, c->d->name) != 0)
            continue;
        int rc = ctl_evidence_backup(s, c->evidence_dir, &path, &bytes, hex, err, sizeof err);
        if (rc == 0)
            cdc_buf_printf(&c->sources, "  %s: %s -> evidence %s (%" PRId64 " bytes, sha256 %s)\n",
                           s->name, s->path, path, bytes, hex);
        free(path);
        if (rc < 0) {
            snprintf(c->reason, sizeof c->reason, "evidence: %s", err);
            return -1;
        }
    }
    return 0;
}

/* The final report, on stdout and in the report file. */
static void report(cutover_t *c, int done)
{
    cdc_buf_t b = CDC_BUF_INIT;
    char finished[32];
    utc_now(finished, sizeof finished, "%Y-%m-%dT%H:%M:%SZ");
    cdc_buf_printf(&b, "cutover of domain %s: %s\n", c->d->name,
                   done ? "DONE (PostgreSQL is the system of record)"
                        : "ROLLED BACK (SQLite stays the system of record)");
    if (!done)
        cdc_buf_printf(&b, "reason: %s\n", c->reason);
    cdc_buf_printf(&b, "started %s, finished %s, %.1f s in all\n", c->started, finished,
                   since_s(c->t0_ms));
    if (c->freeze_ms)
        cdc_buf_printf(&b, "freeze duration: %.2f s (%s)\n",
                       (double)((done ? c->mark_ms : ctl_now_ms()) - c->freeze_ms) / 1000.0,
                       done ? "freeze to the cut-over mark; the sources stay frozen"
                            : "freeze to unfreeze");
    cdc_buf_put_str(&b, "timings:");
    for (int i = 0; i < 7; i++)
        if (c->step_s[i] > 0)
            cdc_buf_printf(&b, " %s %.2f s%s", step_names[i], c->step_s[i], i < 6 ? "," : "");
    cdc_buf_put_str(&b, "\n");
    if (c->sources.len)
        cdc_buf_printf(&b, "sources (frozen, evidence):\n%s", cdc_buf_cstr(&c->sources));
    if (c->audit.len)
        cdc_buf_printf(&b, "audit (rows and SHA-256 per table; business checks):\n%s",
                       cdc_buf_cstr(&c->audit));
    if (c->fin.lines.len)
        cdc_buf_printf(&b,
                       "target finalisation (%ld NOT NULL, %ld DEFAULT, %ld UNIQUE, %ld indexes, "
                       "%ld CHECK + %ld NOT VALID, "
                       "%ld foreign keys + %ld NOT VALID with %ld orphan row(s), %ld identities, "
                       "%ld untranslated):\n%s",
                       c->fin.not_nulls, c->fin.defaults, c->fin.uniques, c->fin.indexes,
                       c->fin.checks, c->fin.checks_invalid, c->fin.fks, c->fin.fks_orphaned,
                       c->fin.orphans, c->fin.identities, c->fin.untranslated,
                       cdc_buf_cstr(&c->fin.lines));
    if (c->nlag) {
        size_t step = c->nlag > 30 ? c->nlag / 30 + 1 : 1;
        cdc_buf_put_str(&b,
                        "lag history (t since start: phase, messages waiting, oldest change s):\n");
        for (size_t i = 0; i < c->nlag; i += step)
            cdc_buf_printf(&b, "  %7.1f s  %-7s %6" PRId64 " msgs  %.2f s\n", c->lag[i].t_s,
                           c->lag[i].phase, c->lag[i].messages, c->lag[i].seconds);
        if ((c->nlag - 1) % step)
            cdc_buf_printf(&b, "  %7.1f s  %-7s %6" PRId64 " msgs  %.2f s\n",
                           c->lag[c->nlag - 1].t_s, c->lag[c->nlag - 1].phase,
                           c->lag[c->nlag - 1].messages, c->lag[c->nlag - 1].seconds);
    }
    if (c->problems.len)
        cdc_buf_printf(&b, "problems after the mark (the domain IS cut over):\n%s",
                       cdc_buf_cstr(&c->problems));
    fputs(cdc_buf_cstr(&b), stdout);
    fflush(stdout);
    if (c->report_path) {
        FILE *fp = fopen(c->report_path, "w");
        if (fp == NULL || fputs(cdc_buf_cstr(&b), fp) < 0 || fclose(fp) != 0)
            cdc_log_error("cannot write the report %s: %s", c->report_path, strerror(errno));
        else
            cdc_log_info("report written to %s", c->report_path);
    }
    cdc_buf_free(&b);
}

/* Already cut over? 1 yes (reason set), 0 no, -1 error (reason set). */
static int already_cut(cutover_t *c, PGconn *conn)
{
    const char *p[1] = {c->d->name};
    PGresult *r = NULL;
    char err[1024];
    if (cdc_sink_schema_metadata(conn, err, sizeof err) != CDC_SINK_PG_OK ||
        cdc_sink_pg_exec(conn, "SELECT cut_at FROM _cdc_cutover WHERE domain = $1", 1, p, &r, err,
                         sizeof err) != CDC_SINK_PG_OK) {
        snprintf(c->reason, sizeof c->reason, "target of domain %s: %s", c->d->name, err);
        return -1;
    }
    int cut = PQntuples(r) > 0;
    if (cut)
        snprintf(c->reason, sizeof c->reason, "domain %s was already cut over at %s (_cdc_cutover)",
                 c->d->name, PQgetvalue(r, 0, 0));
    PQclear(r);
    return cut;
}

/* Steps 1-7; returns the exit code. */
static int run(cutover_t *c)
{
    char err[4096];
    rd_kafka_t *rk = NULL;
    PGconn *conn = NULL;
    int64_t t;
    int rc = CTL_EXIT_OPERATIONAL, done = 0;

    if ((conn = ctl_pg_connect(PROG, c->conf, c->d)) == NULL) {
        snprintf(c->reason, sizeof c->reason, "cannot connect to the target of domain %s",
                 c->d->name);
        goto fail;
    }
    if (already_cut(c, conn) != 0)
        goto fail;
    if ((rk = ctl_kafka_reader(c->conf, "ctl-cutover", err, sizeof err)) == NULL) {
        snprintf(c->reason, sizeof c->reason, "Kafka consumer: %s", err);
        goto fail;
    }
    cdc_log_info("domain %s: 1/7 waiting for READY TO FREEZE (up to %g s)", c->d->name,
                 c->timeout_s);
    t = ctl_now_ms();
    if (wait_verdict(c, rk, 0) < 0)
        goto fail;
    c->step_s[0] = since_s(t);
    cdc_log_info("domain %s: 2/7 freezing its sources", c->d->name);
    t = ctl_now_ms();
    if (freeze_all(c) < 0)
        goto fail;
    c->step_s[1] = since_s(t);
    cdc_log_info("domain %s: 3/7 evidence backups into %s", c->d->name, c->evidence_dir);
    t = ctl_now_ms();
    if (take_evidence(c) < 0)
        goto fail;
    c->step_s[2] = since_s(t);
    cdc_log_info("domain %s: 4/7 waiting for DRAINED (up to %g s)", c->d->name, c->timeout_s);
    t = ctl_now_ms();
    if (wait_verdict(c, rk, 1) < 0)
        goto fail;
    c->step_s[3] = since_s(t);
    cdc_log_info("domain %s: 5/7 audit", c->d->name);
    t = ctl_now_ms();
    if (ctl_cutover_audit(c->conf, c->d, &c->audit, c->reason, sizeof c->reason) < 0)
        goto fail;
    c->step_s[4] = since_s(t);
    cdc_log_info("domain %s: 6/7 finalising the target and marking the domain cut over",
                 c->d->name);
    t = ctl_now_ms();
    if (ctl_finalize_target(c->conf, c->d, conn, &c->fin, err, sizeof err) < 0) {
        snprintf(c->reason, sizeof c->reason, "finalising the target: %s", err);
        goto fail;
    }
    c->mark_ms = ctl_now_ms();
    done = 1;
    rc = CTL_EXIT_OK;
    ctl_finalize_analyze(conn, &c->fin);
    c->step_s[5] = since_s(t);
    cdc_log_info("domain %s: 7/7 cut over; stopping capture at the sources", c->d->name);
    t = ctl_now_ms();
    for (size_t i = 0; i < c->conf->n_sources; i++) {
        const cdc_source_t *s = &c->conf->sources[i];
        if (strcmp(s->domain, c->d->name) != 0)
            continue;
        int n = ctl_stop_capture(c->conf, s, err, sizeof err);
        if (n < 0) {
            cdc_buf_printf(&c->problems,
                           "  source %s: capture NOT stopped: %s (the file stays frozen)\n",
                           s->name, err);
            rc = CTL_EXIT_OPERATIONAL;
        } else {
            cdc_buf_printf(&c->sources, "  %s: capture stopped (%d trigger(s) dropped; frozen)\n",
                           s->name, n);
        }
    }
    c->step_s[6] = since_s(t);
    goto out;
fail:
    cdc_log_error("domain %s: %s", c->d->name, c->reason);
    if (c->frozen_by_us) {
        cdc_log_info("domain %s: rolling back: unfreezing its sources", c->d->name);
        unfreeze_all(c);
    }
out:
    report(c, done);
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (conn != NULL)
        PQfinish(conn);
    return rc;
}

enum { OPT_TIMEOUT = CDC_CLI_OPT_FIRST_OWN, OPT_REPORT, OPT_EVIDENCE, OPT_MAX_LAG };

typedef struct cutover_args_s {
    cutover_t *c;
    const char *domain, *report_path, *evidence;
} cutover_args_t;

static int own_option(void *ctx, int ch, const char *arg)
{
    cutover_args_t *a = ctx;

    switch (ch) {
    case 'd':
        a->domain = arg;
        break;
    case OPT_TIMEOUT:
        if (cdc_cli_parse_double(arg, 1, &a->c->timeout_s) != 0)
            return cdc_cli_usage_error(PROG, "--timeout: \"%s\" is not a number of seconds >= 1",
                                       arg);
        break;
    case OPT_REPORT:
        a->report_path = arg;
        break;
    case OPT_EVIDENCE:
        a->evidence = arg;
        break;
    case OPT_MAX_LAG:
        if (cdc_cli_parse_double(arg, 0, &a->c->opts.max_lag_s) != 0)
            return cdc_cli_usage_error(PROG, "--max-lag-seconds: \"%s\" is not a number >= 0", arg);
        break;
    }
    return 0;
}

int ctl_cutover_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"domain", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"report", required_argument, NULL, OPT_REPORT},
        {"evidence-dir", required_argument, NULL, OPT_EVIDENCE},
        {"max-lag-seconds", required_argument, NULL, OPT_MAX_LAG},
        {NULL, 0, NULL, 0},
    };
    cutover_t c;
    cutover_args_t a = {&c, NULL, NULL, NULL};
    const cdc_cli_spec_t spec = {PROG, ":c:d:h", longopts, usage, own_option, &a};
    const char *config_path = NULL, *domain, *report_path, *evidence;
    cdc_config_t *conf = NULL;
    int rc;

    memset(&c, 0, sizeof c);
    c.timeout_s = 120;
    c.opts.max_lag_s = 5;
    c.opts.heartbeat_timeout_s = 10;
    c.opts.group_timeout_ms = 2000;
    if ((rc = cdc_cli_parse(&spec, argc, argv, &config_path)) != CDC_CLI_RUN)
        goto out;
    rc = CTL_EXIT_USAGE;
    domain = a.domain;
    report_path = a.report_path;
    evidence = a.evidence;
    if (domain == NULL) {
        cdc_cli_usage_error(PROG, "--domain is required");
        goto out;
    }
    if ((conf = cdc_cli_load_config(PROG, config_path)) == NULL ||
        (c.d = cdc_cli_domain(PROG, conf, domain)) == NULL)
        goto out;
    c.conf = conf;
    c.t0_ms = ctl_now_ms();
    utc_now(c.started, sizeof c.started, "%Y-%m-%dT%H:%M:%SZ");
    if (evidence != NULL) {
        c.evidence_dir = cdc_strdup(evidence);
    } else {
        char ts[32];
        utc_now(ts, sizeof ts, "%Y%m%dT%H%M%SZ");
        c.evidence_dir = cdc_asprintf("cutover-%s-%s", domain, ts);
    }
    c.report_path =
        report_path ? cdc_strdup(report_path) : cdc_asprintf("%s/report.txt", c.evidence_dir);
    if (report_path == NULL && mkdir(c.evidence_dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", c.evidence_dir, strerror(errno));
        rc = CTL_EXIT_OPERATIONAL;
        goto out;
    }
    rc = run(&c);
out:
    ctl_final_free(&c.fin);
    cdc_buf_free(&c.sources);
    cdc_buf_free(&c.audit);
    cdc_buf_free(&c.problems);
    free(c.lag);
    free(c.evidence_dir);
    free(c.report_path);
    cdc_config_destroy(conf);
    return rc;
}

/*
 * ctl_status: `cdc-ctl status` options, the refresh loop (--watch, --until) and the exit
 * code (see ctl_status.h, docs/status.md).
 */
#include "ctl_status.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc_alloc.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "ctl.h"
#include "ctl_status_int.h"

#define PROG "cdc-ctl status"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

enum {
    OPT_JSON = CDC_CLI_OPT_FIRST_OWN,
    OPT_WATCH,
    OPT_UNTIL,
    OPT_VERDICT,
    OPT_TIMEOUT,
    OPT_MAX_LAG,
    OPT_HB_TIMEOUT,
};

static void usage(FILE *out, const char *prog)
{
    (void)prog; /* the text names PROG itself */
    fprintf(
        out,
        "Usage: cdc-ctl status -c CONFIG [--domain D]... [--json] [--watch N]\n"
        "                      [--until ready|drained [--timeout S]] [--verdict ready|drained]\n"
        "                      [--max-lag-seconds X] [--heartbeat-timeout-seconds Y]\n"
        "\n"
        "Per domain and partition: producer state and backlog (from heartbeats), lag in\n"
        "messages and as the age of the oldest change not yet applied, live sink workers,\n"
        "unresolved dead letters, parity state, and two verdicts: READY TO FREEZE and,\n"
        "once every source of the domain is frozen, DRAINED. Reads Kafka and the target\n"
        "databases only, never the SQLite files. docs/status.md has the details.\n"
        "\n"
        "Options:\n"
        "%s"
        "  -d, --domain D         only domain D (repeatable; default every domain)\n"
        "      --json             one JSON document per refresh on stdout (fields in\n"
        "                         docs/status.md) instead of the report\n"
        "      --watch N          refresh every N seconds until interrupted (or, with\n"
        "                         --until, until the verdict holds)\n"
        "      --until V          wait until verdict V (ready or drained) holds in every\n"
        "                         selected domain, checking every second (or every N s of\n"
        "                         --watch); prints the final status\n"
        "      --timeout S        give up waiting after S seconds (default 0: no limit)\n"
        "      --verdict V        the verdict the exit code tells about without waiting\n"
        "                         (ready or drained; default ready, or the one of --until)\n"
        "      --max-lag-seconds X\n"
        "                         READY needs every oldest unapplied change, producer\n"
        "                         backlog and validator lag younger than X (default 5)\n"
        "      --heartbeat-timeout-seconds Y\n"
        "                         a producer whose newest heartbeat is older than Y, or a\n"
        "                         partition with waiting records and no apply for Y, is\n"
        "                         stopped (default 10)\n"
        "\n"
        "Exit codes:\n"
        "  0  the asked-for verdict holds for every selected domain\n"
        "  1  it does not (reasons in the output), the state could not be read, or\n"
        "     --until timed out\n"
        "  2  usage or config error\n",
        cdc_cli_common_help);
}

typedef struct status_args_s {
    const char *config;
    const char **domains;
    size_t ndomains;
    int json;
    long watch_s;
    const char *until;
    const char *verdict;
    double timeout_s;
    cdc_ctl_status_opts_t opts;
} status_args_t;

static int parse_verdict(const char *opt, const char *arg, const char **out)
{
    if (strcmp(arg, "ready") != 0 && strcmp(arg, "drained") != 0)
        return cdc_cli_usage_error(PROG, "%s: \"%s\" is not ready|drained", opt, arg);
    *out = arg;
    return 0;
}

static int own_option(void *ctx, int c, const char *arg)
{
    status_args_t *a = ctx;
    int rc;

    switch (c) {
    case 'd':
        a->domains = cdc_realloc(a->domains, (a->ndomains + 1) * sizeof *a->domains);
        a->domains[a->ndomains++] = arg;
        break;
    case OPT_JSON:
        a->json = 1;
        break;
    case OPT_WATCH:
        if (cdc_cli_parse_long(arg, 1, 86400, &a->watch_s) != 0)
            return cdc_cli_usage_error(PROG,
                                       "--watch: \"%s\" is not a number of seconds"
                                       " in 1..86400",
                                       arg);
        break;
    case OPT_UNTIL:
        if ((rc = parse_verdict("--until", arg, &a->until)) != 0)
            return rc;
        break;
    case OPT_VERDICT:
        if ((rc = parse_verdict("--verdict", arg, &a->verdict)) != 0)
            return rc;
        break;
    case OPT_TIMEOUT:
        if (cdc_cli_parse_double(arg, 0, &a->timeout_s) != 0)
            return cdc_cli_usage_error(PROG, "--timeout: \"%s\" is not a number of seconds", arg);
        break;
    case OPT_MAX_LAG:
        if (cdc_cli_parse_double(arg, 0, &a->opts.max_lag_s) != 0)
            return cdc_cli_usage_error(PROG, "--max-lag-seconds: \"%s\" is not a number >= 0", arg);
        break;
    case OPT_HB_TIMEOUT:
        if (cdc_cli_parse_double(arg, 0.1, &a->opts.heartbeat_timeout_s) != 0)
            return cdc_cli_usage_error(
                PROG, "--heartbeat-timeout-seconds: \"%s\" is not a number >= 0.1", arg);
        break;
    }
    return 0;
}

/* Returns CDC_CLI_RUN, 0 after --help, or the usage error's exit code (message printed). */
static int parse_args(int argc, char **argv, status_args_t *a)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"domain", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, OPT_JSON},
        {"watch", required_argument, NULL, OPT_WATCH},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"verdict", required_argument, NULL, OPT_VERDICT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"max-lag-seconds", required_argument, NULL, OPT_MAX_LAG},
        {"heartbeat-timeout-seconds", required_argument, NULL, OPT_HB_TIMEOUT},
        {NULL, 0, NULL, 0},
    };
    const cdc_cli_spec_t spec = {PROG, ":c:d:h", longopts, usage, own_option, a};
    int rc;

    if ((rc = cdc_cli_parse(&spec, argc, argv, &a->config)) != CDC_CLI_RUN)
        return rc;
    if (a->until != NULL && a->verdict != NULL && strcmp(a->until, a->verdict) != 0)
        return cdc_cli_usage_error(PROG, "--until %s and --verdict %s ask for different verdicts",
                                   a->until, a->verdict);
    if (a->timeout_s > 0 && a->until == NULL)
        return cdc_cli_usage_error(PROG, "--timeout is an option of --until");
    if (a->verdict == NULL)
        a->verdict = a->until != NULL ? a->until : "ready";
    return CDC_CLI_RUN;
}

/* The selected domains' topics and the validation topic exist: checked once per refresh,
 * so an unreachable cluster costs one timeout, not one per partition. */
static int kafka_reachable(const cdc_config_t *conf, rd_kafka_t *rk, const cdc_domain_t **sel,
                           size_t nsel, char *errstr, size_t errstr_size)
{
    cdc_topic_spec_t *topics = NULL, *want;
    size_t n = cdc_config_topics(conf, &topics), k = 0;
    int rc;

    want = cdc_calloc(n > 0 ? n : 1, sizeof *want);
    for (size_t i = 0; i < n; i++) {
        int keep = topics[i].kind == CDC_TOPIC_VALIDATION;

        for (size_t j = 0; j < nsel && topics[i].kind == CDC_TOPIC_DOMAIN; j++)
            keep |= strcmp(topics[i].domain, sel[j]->name) == 0;
        if (keep)
            want[k++] = topics[i]; /* shallow: freed with topics */
    }
    rc = cdc_kafka_check_topics(rk, want, k, 5000, errstr, errstr_size);
    free(want);
    cdc_config_topics_free(topics, n);
    return rc;
}

/* One snapshot of every selected domain into doms; returns whether the verdict holds. */
static int refresh(const cdc_config_t *conf, rd_kafka_t *rk, const status_args_t *a,
                   const cdc_domain_t **sel, size_t nsel, cdc_ctl_domain_t **doms)
{
    char errstr[2048];
    int kafka_ok = kafka_reachable(conf, rk, sel, nsel, errstr, sizeof errstr) == 0;
    int holds = 1;

    for (size_t i = 0; i < nsel; i++) {
        cdc_ctl_domain_free(doms[i]);
        doms[i] = cdc_ctl_domain_new(conf, sel[i]);
        /* The target first: a high watermark read later only makes the lag larger. */
        cdc_ctl_status_read_pg(conf, doms[i]);
        if (kafka_ok)
            cdc_ctl_status_read_kafka(conf, rk, doms[i], &a->opts);
        else
            cdc_ctl_reasons_add(&doms[i]->errors, "Kafka: %s", errstr);
        cdc_ctl_status_evaluate(doms[i], &a->opts);
        holds &= strcmp(a->verdict, "drained") == 0 ? doms[i]->drained : doms[i]->ready;
    }
    return holds;
}

static void print(const status_args_t *a, cdc_ctl_domain_t **doms, size_t n, int holds)
{
    if (a->json)
        cdc_ctl_status_print_json(stdout, doms, n, a->verdict, holds);
    else
        cdc_ctl_status_print_text(stdout, doms, n, a->verdict);
}

/* One progress line on stderr: the first reason the awaited verdict does not hold. */
static void log_waiting(const status_args_t *a, cdc_ctl_domain_t **doms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cdc_ctl_reasons_t *r =
            strcmp(a->until, "drained") == 0 ? &doms[i]->not_drained : &doms[i]->not_ready;

        if (r->count > 0) {
            cdc_log_info("waiting for %s: domain %s: %s%s", a->until, doms[i]->conf->name,
                         r->items[0], r->count > 1 ? " (and more)" : "");
            return;
        }
    }
}

/* Sleeps up to s seconds, waking early on a signal. */
static void nap(double s)
{
    for (double left = s; left > 0 && !stop_requested; left -= 0.1)
        usleep(100000);
}

int ctl_status_main(int argc, char **argv)
{
    status_args_t a = {
        .opts = {.max_lag_s = 5, .heartbeat_timeout_s = 10, .group_timeout_ms = 2000}};
    cdc_config_t *conf = NULL;
    const cdc_domain_t **sel = NULL;
    cdc_ctl_domain_t **doms = NULL;
    rd_kafka_t *rk = NULL;
    size_t nsel = 0;
    int rc, holds = 0;
    int64_t start;
    char errstr[1024];

    if ((rc = parse_args(argc, argv, &a)) != CDC_CLI_RUN)
        goto out;
    rc = CTL_EXIT_USAGE;
    if ((conf = cdc_cli_load_config(PROG, a.config)) == NULL)
        goto out;
    sel = cdc_calloc(conf->n_domains + a.ndomains + 1, sizeof *sel);
    for (size_t i = 0; i < a.ndomains; i++)
        if ((sel[nsel++] = cdc_cli_domain(PROG, conf, a.domains[i])) == NULL)
            goto out;
    if (a.ndomains == 0)
        for (size_t i = 0; i < conf->n_domains; i++)
            sel[nsel++] = &conf->domains[i];
    rc = CTL_EXIT_OPERATIONAL;
    if ((rk = ctl_kafka_reader(conf, "ctl-status", errstr, sizeof errstr)) == NULL) {
        fprintf(stderr, "%s: Kafka consumer: %s\n", PROG, errstr);
        goto out;
    }
    doms = cdc_calloc(nsel + 1, sizeof *doms);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    start = ctl_now_ms();
    for (;;) {
        int last;

        holds = refresh(conf, rk, &a, sel, nsel, doms);
        last = stop_requested || (a.until != NULL && holds) ||
               (a.until != NULL && a.timeout_s > 0 &&
                (double)(ctl_now_ms() - start) / 1000.0 >= a.timeout_s) ||
               (a.until == NULL && a.watch_s == 0);
        if (a.watch_s > 0 || last)
            print(&a, doms, nsel, holds);
        if (last)
            break;
        if (a.until != NULL && a.watch_s == 0)
            log_waiting(&a, doms, nsel);
        nap(a.watch_s > 0 ? (double)a.watch_s : 1.0);
    }
    if (a.until != NULL && !holds && !stop_requested)
        fprintf(stderr, "%s: %s did not hold within %g s\n", PROG, a.until, a.timeout_s);
    rc = holds ? CTL_EXIT_OK : CTL_EXIT_OPERATIONAL;
out:
    if (doms != NULL)
        for (size_t i = 0; i < nsel; i++)
            cdc_ctl_domain_free(doms[i]);
    free(doms);
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    free(sel);
    free(a.domains);
    cdc_config_destroy(conf);
    return rc;
}

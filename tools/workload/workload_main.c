/*
 * cdc-workload: writes inserts, updates, key changes and deletes into live SQLite files
 * the way the applications do, at a steady rate, and proves by its exit code that none of
 * its writes failed (busy timeouts included) while the CDC producer was running.
 *
 * This file is the CLI and the pacing loop; the tables are read in wl_schema.c, values
 * made in wl_value.c, rows picked in wl_rows.c, transactions run in wl_ops.c and counted
 * in wl_stats.c.
 */
#include "cdc_alloc.h"
#include "cdc_cli.h"
#include "cdc_config.h"
#include "cdc_log.h"
#include "wl_files.h"
#include "wl_ops.h"
#include "wl_stats.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_OPERATIONAL 1
#define EXIT_USAGE       2

/* Most catch-up the pacing allows after a stall: an application whose requests waited
 * on a lock does not replay minutes of backlog at once. */
#define MAX_LAG_NS 1000000000LL

static volatile sig_atomic_t stop_requested = 0;

typedef struct options_s {
    const char *dir;
    const char *config;
    const char *files;
    const char *tables;
    const char *report;
    double rate;
    double seconds;
    unsigned long long ops;
    unsigned long long seed;
    unsigned mix[4];
    long busy_timeout_ms;
} options_t;

enum {
    OPT_DIR = CDC_CLI_OPT_FIRST_OWN,
    OPT_RATE,
    OPT_SECONDS,
    OPT_OPS,
    OPT_SEED,
    OPT_FILES,
    OPT_TABLES,
    OPT_MIX,
    OPT_BUSY,
    OPT_REPORT,
};

/* One table drives getopt_long and --help, so the two cannot disagree. */
static const struct optdoc_s {
    const char *name;
    int has_arg;
    int val;
    const char *arg;
    const char *help;
} optdocs[] = {
    {"dir", 1, OPT_DIR, "DIR", "write to every *.db file under DIR (recursively)"},
    {"config", 1, 'c', "FILE", "or: write to the source files of this pipeline config"},
    {"rate", 1, OPT_RATE, "N",
     "about N operations per second (default 100; 0: as fast as possible)"},
    {"seconds", 1, OPT_SECONDS, "S", "stop after S seconds (fractions allowed)"},
    {"ops", 1, OPT_OPS, "N", "stop after exactly N operations (deterministic with --seed)"},
    {"seed", 1, OPT_SEED, "K",
     "seed of the choice sequence (default 1); same seed and same\n"
     "                         files: same writes"},
    {"files", 1, OPT_FILES, "LIST",
     "only these files: comma-separated base names or paths\n"
     "                         relative to DIR"},
    {"tables", 1, OPT_TABLES, "LIST", "only these tables (comma-separated names)"},
    {"mix", 1, OPT_MIX, "I,U,D,K",
     "weights of insert, update, delete, key-changing update\n"
     "                         (default 30,50,12,8)"},
    {"busy-timeout", 1, OPT_BUSY, "MS", "sqlite3_busy_timeout of every connection (default 1000)"},
    {"report", 1, OPT_REPORT, "FILE", "also write the summary as a JSON object to FILE"},
    {"log-level", 1, CDC_CLI_OPT_LOG_LEVEL, "LEVEL", "error, warn, info (default) or debug"},
    {"help", 0, 'h', NULL, "this text"},
};
#define N_OPTS (sizeof(optdocs) / sizeof(optdocs[0]))

static void usage(FILE *out, const char *prog)
{
    (void)prog;
    fprintf(out,
            "Usage: cdc-workload --dir DIR [--rate N] [--seconds S | --ops N] [options]\n"
            "       cdc-workload -c CONFIG ...\n"
            "\n"
            "Writes realistic inserts, updates (also of primary keys) and deletes into SQLite\n"
            "files, as the applications would: busy timeout 1 s, BEGIN IMMEDIATE, 1-3\n"
            "statements per transaction. Tables, keys, types, foreign keys and CHECK lists\n"
            "are introspected; tables named sqlite_* or _cdc_*, views and virtual tables are\n"
            "left alone. Without --seconds and --ops it runs until SIGINT/SIGTERM.\n"
            "\n"
            "Options:\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char left[64];
        const struct optdoc_s *o = &optdocs[i];
        int shortopt = o->val < 256;
        snprintf(left, sizeof(left), "%s%s--%s%s%s", shortopt ? "-" : "    ",
                 shortopt ? (char[]){(char)o->val, ',', ' ', 0} : "", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(out, "  %-22s %s\n", left, o->help);
    }
    fprintf(out,
            "\n"
            "At the end (also after SIGINT/SIGTERM) prints one line of key=value on stdout:\n"
            "  ops commits inserts updates deletes key_changes failures busy_failures rejected\n"
            "  constraint_retries constraint_giveups commit_p50_us commit_p99_us commits_per_s\n"
            "  ops_per_s elapsed_s files tables seed\n"
            "Counts of writes include committed transactions only. commit_*_us is the latency\n"
            "of a whole transaction (BEGIN IMMEDIATE to COMMIT), busy waits included. A write\n"
            "refused by a freeze trigger (message containing \"frozen\") counts as rejected, a\n"
            "CHECK/UNIQUE/NOT NULL conflict is retried with other values; neither is a failure.\n"
            "\n"
            "Exit codes: 0 no write failed,\n"
            "            1 at least one write failed (SQLITE_BUSY after the busy timeout, or\n"
            "              any other error; each is logged with file and table), or the\n"
            "              report could not be written,\n"
            "            2 usage error (bad option, no file or table to write to).\n");
}

static int parse_mix(const char *s, unsigned mix[4])
{
    unsigned long long total = 0;
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        char *end = NULL;
        if (*p < '0' || *p > '9')
            return -1;
        unsigned long v = strtoul(p, &end, 10);
        if (v > 1000000 || (i < 3 ? *end != ',' : *end != '\0'))
            return -1;
        mix[i] = (unsigned)v;
        total += v;
        p = end + 1;
    }
    return total > 0 ? 0 : -1;
}

/* The workload's own options (cdc_cli_parse handles -c, --log-level, --help, mistakes). */
static int own_option(void *ctx, int c, const char *arg)
{
    options_t *o = ctx;
    double d;

    switch (c) {
    case OPT_DIR:
        o->dir = arg;
        return 0;
    case OPT_RATE:
        if (cdc_cli_parse_double(arg, 0, &o->rate) != 0)
            return cdc_cli_usage_error("cdc-workload", "--rate '%s': expected a number >= 0", arg);
        return 0;
    case OPT_SECONDS:
        if (cdc_cli_parse_double(arg, 0, &d) != 0 || d <= 0)
            return cdc_cli_usage_error("cdc-workload", "--seconds '%s': expected a number > 0",
                                       arg);
        o->seconds = d;
        return 0;
    case OPT_OPS:
        if (cdc_cli_parse_ull(arg, 1, (unsigned long long)INT64_MAX, &o->ops) != 0)
            return cdc_cli_usage_error("cdc-workload", "--ops '%s': expected a positive integer",
                                       arg);
        return 0;
    case OPT_SEED:
        if (cdc_cli_parse_ull(arg, 0, (unsigned long long)INT64_MAX, &o->seed) != 0)
            return cdc_cli_usage_error("cdc-workload",
                                       "--seed '%s': expected an integer in 0..2^63-1", arg);
        return 0;
    case OPT_FILES:
        o->files = arg;
        return 0;
    case OPT_TABLES:
        o->tables = arg;
        return 0;
    case OPT_MIX:
        if (parse_mix(arg, o->mix) != 0)
            return cdc_cli_usage_error("cdc-workload",
                                       "--mix '%s': expected four non-negative weights I,U,D,K "
                                       "(insert, update, delete, key change), not all 0",
                                       arg);
        return 0;
    case OPT_BUSY: {
        unsigned long long ms;
        if (cdc_cli_parse_ull(arg, 0, 3600000, &ms) != 0)
            return cdc_cli_usage_error(
                "cdc-workload", "--busy-timeout '%s': expected milliseconds 0..3600000", arg);
        o->busy_timeout_ms = (long)ms;
        return 0;
    }
    case OPT_REPORT:
        o->report = arg;
        return 0;
    default: /* every value of optdocs is handled above or by cdc_cli_parse */
        return cdc_cli_usage_error("cdc-workload", "unhandled option %d", c);
    }
}

/* Returns -1 to continue, or the exit code. */
static int parse_options(int argc, char **argv, options_t *o)
{
    struct option longopts[N_OPTS + 1];
    const cdc_cli_spec_t spec = {.prog = "cdc-workload",
                                 .shortopts = ":c:h",
                                 .longopts = longopts,
                                 .usage = usage,
                                 .own = own_option,
                                 .ctx = o};
    int rc;

    for (size_t i = 0; i < N_OPTS; i++)
        longopts[i] = (struct option){optdocs[i].name, optdocs[i].has_arg, NULL, optdocs[i].val};
    memset(&longopts[N_OPTS], 0, sizeof(longopts[N_OPTS]));
    rc = cdc_cli_parse(&spec, argc, argv, &o->config);
    if (rc != CDC_CLI_RUN)
        return rc;
    if (!o->dir == !o->config)
        return cdc_cli_usage_error("cdc-workload", "%s",
                                   "give exactly one of --dir DIR and -c/--config FILE");
    return -1;
}

/* 1 if name is one of the comma-separated items of list. */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

/* A source's `tables` as a --tables filter; NULL (all tables) for the default ["*"]. */
static char *source_tables(const cdc_source_t *s)
{
    char *joined = NULL;
    for (size_t i = 0; i < s->tables.count; i++) {
        if (strcmp(s->tables.items[i], "*") == 0) {
            free(joined);
            return NULL;
        }
        char *next =
            cdc_asprintf("%s%s%s", joined ? joined : "", joined ? "," : "", s->tables.items[i]);
        free(joined);
        joined = next;
    }
    return joined;
}

/* Opens the files to write: under --dir, or the sources of a pipeline config. */
static int open_files(const options_t *o, cdc_wl_files_t *files, char *err, size_t errsz)
{
    int rc = -1;
    char **paths = NULL;
    long n = 0;
    cdc_config_t *conf = NULL;
    if (o->dir) {
        n = cdc_wl_files_find(o->dir, o->files, &paths, err, errsz);
        if (n < 0)
            goto out;
        for (long i = 0; i < n; i++) {
            char *full = cdc_asprintf("%s/%s", o->dir, paths[i]);
            int orc = cdc_wl_files_open(files, full, paths[i], o->tables, (int)o->busy_timeout_ms,
                                        err, errsz);
            free(full);
            if (orc != 0)
                goto out;
        }
    } else {
        conf = cdc_config_load(o->config, err, errsz);
        if (!conf)
            goto out;
        for (size_t i = 0; i < conf->n_sources; i++) {
            const cdc_source_t *s = &conf->sources[i];
            if (o->files && !in_list(o->files, s->name))
                continue;
            /* The source's own table list applies unless --tables overrides it. */
            char *filter = o->tables ? cdc_strdup(o->tables) : source_tables(s);
            int orc = cdc_wl_files_open(files, s->path, s->name, filter, (int)o->busy_timeout_ms,
                                        err, errsz);
            free(filter);
            if (orc != 0)
                goto out;
        }
    }
    rc = 0;
out:
    for (long i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    cdc_config_destroy(conf);
    return rc;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sleeps until the absolute monotonic time due_ns; returns early on a stop signal. */
static void sleep_until(int64_t due_ns)
{
    struct timespec ts = {.tv_sec = due_ns / 1000000000LL, .tv_nsec = due_ns % 1000000000LL};
    while (!stop_requested && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/*
 * The loop: the choice of the next transaction (file, 1-3 operations) is drawn first,
 * then the pacing sleeps until it is due. Timing decides only when a transaction runs,
 * never what it does, so a fixed --ops gives the same writes on every run.
 */
static void run(const options_t *o, cdc_wl_files_t *active, cdc_wl_runner_t *r)
{
    int64_t start = mono_ns();
    int64_t deadline = o->seconds > 0 ? start + (int64_t)(o->seconds * 1e9) : INT64_MAX;
    double interval_ns = o->rate > 0 ? 1e9 / o->rate : 0;
    int64_t due = start;
    while (!stop_requested) {
        if (o->ops && r->stats->ops >= o->ops)
            break;
        unsigned n_ops = 1 + (unsigned)cdc_wl_rng_below(&r->rng, 3);
        if (o->ops && o->ops - r->stats->ops < n_ops)
            n_ops = (unsigned)(o->ops - r->stats->ops);
        /* Every selected table is equally likely to start a transaction, so a file with
         * one table does not get as many writes as a file with twenty. */
        uint64_t pick = cdc_wl_rng_below(&r->rng, r->stats->tables);
        cdc_wl_file_t *f = active->items;
        while (pick >= f->n_sel) {
            pick -= f->n_sel;
            f++;
        }
        if (interval_ns > 0) {
            if (due >= deadline)
                break;
            sleep_until(due);
            if (stop_requested)
                break;
        } else if (mono_ns() >= deadline) {
            break;
        }
        cdc_wl_ops_run_txn(r, f, n_ops);
        if (interval_ns > 0) {
            int64_t now = mono_ns();
            due += (int64_t)(interval_ns * n_ops);
            if (due < now - MAX_LAG_NS)
                due = now - MAX_LAG_NS;
        }
        if (mono_ns() >= deadline)
            break;
    }
    r->stats->elapsed_s = (double)(mono_ns() - start) / 1e9;
}

int main(int argc, char **argv)
{
    options_t o = {.rate = 100, .seed = 1, .mix = {30, 50, 12, 8}, .busy_timeout_ms = 1000};
    cdc_wl_files_t files = {0}, active = {0};
    cdc_wl_stats_t stats = {0};
    cdc_wl_runner_t runner = {0};
    char err[1024];
    int rc;

    cdc_log_set_component("workload");
    rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = EXIT_USAGE;
    if (open_files(&o, &files, err, sizeof(err)) != 0) {
        fprintf(stderr, "cdc-workload: %s\n", err);
        goto out;
    }
    /* Only files with a table to write take part; a borrowed view, closed via files. */
    active.items = cdc_calloc(files.count ? files.count : 1, sizeof(*active.items));
    for (size_t i = 0; i < files.count; i++) {
        if (files.items[i].n_sel == 0)
            continue;
        active.items[active.count++] = files.items[i];
        stats.tables += files.items[i].n_sel;
    }
    if (active.count == 0) {
        fprintf(stderr, "cdc-workload: no table to write to in %s%s%s\n", o.dir ? o.dir : o.config,
                o.tables ? " matching --tables " : "", o.tables ? o.tables : "");
        goto out;
    }
    stats.files = active.count;
    stats.seed = o.seed;
    cdc_wl_rng_seed(&runner.rng, o.seed);
    memcpy(runner.mix, o.mix, sizeof(runner.mix));
    runner.stats = &stats;

    /* No SA_RESTART there: the pacing sleep returns at once. */
    cdc_cli_stop_on_signals(&stop_requested);

    cdc_log_info("starting: files=%zu tables=%zu rate=%g seconds=%g ops=%llu seed=%llu "
                 "mix=%u,%u,%u,%u busy_timeout_ms=%ld",
                 stats.files, stats.tables, o.rate, o.seconds, o.ops, o.seed, o.mix[0], o.mix[1],
                 o.mix[2], o.mix[3], o.busy_timeout_ms);
    run(&o, &active, &runner);

    cdc_wl_stats_print(&stats, stdout);
    rc = stats.failures ? EXIT_OPERATIONAL : 0;
    if (o.report && cdc_wl_stats_write_json(&stats, o.report, err, sizeof(err)) != 0) {
        cdc_log_error("%s", err);
        rc = EXIT_OPERATIONAL;
    }
    if (stats.failures)
        cdc_log_error("%llu write(s) failed (%llu busy): exit 1",
                      (unsigned long long)stats.failures, (unsigned long long)stats.busy_failures);
out:
    free(active.items);
    cdc_wl_files_close(&files);
    cdc_wl_stats_clear(&stats);
    return rc;
}

/*
 * cdc-validator: parity state from <prefix>.validation (validator_consume.h), or with
 * --audit a direct source-vs-target comparison (audit.h). DESIGN.md invariant 8.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cdc_cli.h"
#include "cdc_config.h"
#include "cdc_log.h"
#include "cdc_metrics.h"
#include "validator_consume.h"

#define PROG             "cdc-validator"
#define EXIT_OPERATIONAL 1
#define EXIT_USAGE       CDC_CLI_EXIT_USAGE

static volatile sig_atomic_t stop_flag;

static void usage(FILE *out, const char *prog)
{
    (void)prog; /* the text names the binary itself */
    fputs("Usage: cdc-validator -c CONFIG [--once] [--domain NAME] [--metrics-port PORT]\n"
          "                     [options]\n"
          "       cdc-validator -c CONFIG --audit [--domain NAME] [--source NAME] [--table T]\n"
          "                     [--json] [--max-keys N]\n"
          "\n"
          "Without --audit: one member of the consumer group <prefix>.validator. Reads the sink\n"
          "workers' parity results from <prefix>.validation and keeps, in each domain's target\n"
          "database, _cdc_parity_state (per domain, source and table: rows seen, matches,\n"
          "superseded, mismatches, dead letters, last position) and _cdc_parity_mismatches (one\n"
          "row per mismatch with its key), with its own offsets stored in the same transaction\n"
          "(_cdc_validator_offsets). A mismatch is logged at error level, with its key, as soon\n"
          "as it is seen. `cdc-ctl status` reads this state (docs/parity.md).\n"
          "\n"
          "With --audit: compares every captured table of the sources directly with its target\n"
          "table (row counts, order-independent checksums, SHA-256 per table in key order,\n"
          "differing keys found by a merge in key order, the config's checks:) and writes a\n"
          "report to stdout (docs/audit.md). Reads only; writes nothing.\n"
          "\n"
          "Options:\n"
          "  -c, --config FILE      pipeline config (YAML), required\n"
          "  -d, --domain NAME      only this domain (consume mode: consumer group\n"
          "                         <prefix>.validator.NAME, records of other domains are left\n"
          "                         to the group that serves them)\n"
          "      --once             consume mode: count what exists now and exit 0 (every\n"
          "                         assigned partition is read up to the end offset observed\n"
          "                         when it was assigned; the first assignment is awaited 30 s)\n"
          "      --batch-records N  consume mode: records per partition batch, 1..100000\n"
          "                         (default 1000)\n"
          "      --batch-ms MS      consume mode: a partition batch is applied when it is MS ms\n"
          "                         old, 1..600000 (default 200)\n"
          "      --audit            compare sources and targets directly (see above)\n"
          "      --source NAME      --audit: only this source\n"
          "      --table T          --audit: only this SQLite table\n"
          "      --json             --audit: one JSON document instead of the human report\n"
          "      --max-keys N       --audit: differing keys listed per table, 0..1000000\n"
          "                         (default 100; the rest are counted)\n"
          "      --metrics-port PORT\n"
          "                         consume mode: serve Prometheus metrics on\n"
          "                         http://ADDR:PORT/metrics (parity results by status,\n"
          "                         mismatches per table, errors; docs/operate.md \"Metrics\");\n"
          "                         0 or absent: off\n"
          "      --metrics-address ADDR\n"
          "                         address the metrics server binds (default\n"
          "                         $CDC_METRICS_ADDRESS, else 127.0.0.1; 0.0.0.0 in containers)\n"
          "      --log-level L      error, warn, info (default) or debug\n"
          "      --log-format F     kv (default) or json\n"
          "  -h, --help             this text\n"
          "\n"
          "Exit codes:\n"
          "  0  consume mode: stopped by SIGINT/SIGTERM, or --once finished;\n"
          "     --audit: every table and check matches\n"
          "  1  operational failure (PostgreSQL or Kafka unusable, a gap in the validation\n"
          "     topic, no assignment within 30 s with --once, the metrics port in use);\n"
          "     --audit: a difference was found,\n"
          "     or a file, table or server could not be read\n"
          "  2  usage or config error (bad option, unreadable config, unknown domain or source)\n",
          out);
}

static int run_audit(const cdc_config_t *conf, const cdc_audit_opts_t *aopts)
{
    char errstr[2048] = "";
    int r = cdc_audit_run(conf, aopts, stdout, errstr, sizeof errstr);

    fflush(stdout);
    switch (r) {
    case CDC_AUDIT_MATCH:
        return 0;
    case CDC_AUDIT_DIFFER:
        return EXIT_OPERATIONAL;
    case CDC_AUDIT_USAGE:
        fprintf(stderr, PROG ": %s\n", errstr);
        return EXIT_USAGE;
    default:
        cdc_log_error("audit: %s", errstr);
        return EXIT_OPERATIONAL;
    }
}

enum {
    OPT_ONCE = CDC_CLI_OPT_FIRST_OWN,
    OPT_BATCH_RECORDS,
    OPT_BATCH_MS,
    OPT_AUDIT,
    OPT_SOURCE,
    OPT_TABLE,
    OPT_JSON,
    OPT_MAX_KEYS,
    OPT_METRICS_PORT,
    OPT_METRICS_ADDRESS
};

/* What the options set: the two modes' options and the checks between them. */
typedef struct validator_args_s {
    cdc_validator_opts_t opts;
    cdc_audit_opts_t aopts;
    const char *audit_only; /* the last --audit-only option given, for the error */
    int audit;
    long metrics_port;
    const char *metrics_addr;
} validator_args_t;

static int own_option(void *ctx, int c, const char *arg)
{
    validator_args_t *a = ctx;
    long n;

    switch (c) {
    case 'd':
        a->opts.domain = arg;
        a->aopts.domain = arg;
        break;
    case OPT_ONCE:
        a->opts.once = 1;
        break;
    case OPT_BATCH_RECORDS:
        if (cdc_cli_long_option(PROG, "--batch-records", arg, 1, 100000, &n) != 0)
            return EXIT_USAGE;
        a->opts.batch_records = (int)n;
        break;
    case OPT_BATCH_MS:
        if (cdc_cli_long_option(PROG, "--batch-ms", arg, 1, 600000, &n) != 0)
            return EXIT_USAGE;
        a->opts.batch_ms = (int)n;
        break;
    case OPT_AUDIT:
        a->audit = 1;
        break;
    case OPT_SOURCE:
        a->aopts.source = arg;
        a->audit_only = "--source";
        break;
    case OPT_TABLE:
        a->aopts.table = arg;
        a->audit_only = "--table";
        break;
    case OPT_JSON:
        a->aopts.json = 1;
        a->audit_only = "--json";
        break;
    case OPT_MAX_KEYS:
        if (cdc_cli_long_option(PROG, "--max-keys", arg, 0, 1000000, &n) != 0)
            return EXIT_USAGE;
        a->aopts.max_keys = (size_t)n;
        a->audit_only = "--max-keys";
        break;
    case OPT_METRICS_PORT:
        if (cdc_cli_parse_long(arg, 0, 65535, &a->metrics_port) != 0)
            return cdc_cli_usage_error(PROG, "--metrics-port: \"%s\" is not a port 0..65535", arg);
        break;
    case OPT_METRICS_ADDRESS:
        a->metrics_addr = arg;
        break;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"domain", required_argument, NULL, 'd'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"batch-records", required_argument, NULL, OPT_BATCH_RECORDS},
        {"batch-ms", required_argument, NULL, OPT_BATCH_MS},
        {"audit", no_argument, NULL, OPT_AUDIT},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"table", required_argument, NULL, OPT_TABLE},
        {"json", no_argument, NULL, OPT_JSON},
        {"max-keys", required_argument, NULL, OPT_MAX_KEYS},
        {"metrics-port", required_argument, NULL, OPT_METRICS_PORT},
        {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
        {NULL, 0, NULL, 0},
    };
    validator_args_t a = {
        .opts = {0, NULL, 1000, 200, 30000, &stop_flag, NULL},
        .metrics_addr = getenv("CDC_METRICS_ADDRESS"),
    };
    const cdc_cli_spec_t spec = {PROG, ":c:d:h", longopts, usage, own_option, &a};
    cdc_validator_opts_t *opts = &a.opts;
    const char *config_path = NULL;
    cdc_config_t *conf = NULL;
    char errstr[2048];
    int rc;
    cdc_metrics_server_t *metrics_srv = NULL;

    cdc_log_set_component("validator");
    cdc_audit_opts_init(&a.aopts);
    if ((rc = cdc_cli_parse(&spec, argc, argv, &config_path)) != CDC_CLI_RUN)
        goto out;
    rc = EXIT_USAGE;
    /* The mode checks come before loading the config, -c's presence before them. */
    if (!config_path) {
        cdc_cli_usage_error(PROG, "-c/--config is required");
        goto out;
    }
    if (!a.audit && a.audit_only) {
        cdc_cli_usage_error(PROG, "%s is an option of --audit", a.audit_only);
        goto out;
    }
    if (a.audit && a.metrics_port > 0) {
        cdc_cli_usage_error(PROG,
                            "--metrics-port is an option of the consume mode, not of --audit");
        goto out;
    }
    if (a.audit && opts->once) {
        cdc_cli_usage_error(PROG, "--once is an option of the consume mode, not of --audit (an "
                                  "audit always runs once)");
        goto out;
    }
    if ((conf = cdc_cli_load_config(PROG, config_path)) == NULL ||
        (opts->domain && !cdc_cli_domain(PROG, conf, opts->domain)))
        goto out;
    cdc_log_set_context("domain", opts->domain ? opts->domain : "all");
    cdc_cli_stop_on_signals(&stop_flag);

    if (a.audit) {
        rc = run_audit(conf, &a.aopts);
        goto out;
    }
    if (a.metrics_port > 0) {
        opts->metrics = cdc_metrics_new();
        metrics_srv = cdc_metrics_serve(opts->metrics, a.metrics_addr, (int)a.metrics_port, errstr,
                                        sizeof errstr);
        if (!metrics_srv) {
            cdc_log_error("%s", errstr);
            rc = EXIT_OPERATIONAL;
            goto out;
        }
    }
    rc = cdc_validator_run(conf, opts, errstr, sizeof errstr) == 0 ? 0 : EXIT_OPERATIONAL;
    if (rc != 0)
        cdc_log_error("%s", errstr);
out:
    cdc_metrics_server_stop(metrics_srv);
    cdc_metrics_destroy(opts->metrics);
    cdc_config_destroy(conf);
    return rc;
}

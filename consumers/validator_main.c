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

#define EXIT_OPERATIONAL 1
#define EXIT_USAGE       2

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
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

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "cdc-validator: %s: \"%s\" is not an integer in %ld..%ld\n", opt, s, lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
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
        fprintf(stderr, "cdc-validator: %s\n", errstr);
        return EXIT_USAGE;
    default:
        cdc_log_error("audit: %s", errstr);
        return EXIT_OPERATIONAL;
    }
}

int main(int argc, char **argv)
{
    enum {
        OPT_ONCE = 256,
        OPT_BATCH_RECORDS,
        OPT_BATCH_MS,
        OPT_AUDIT,
        OPT_SOURCE,
        OPT_TABLE,
        OPT_JSON,
        OPT_MAX_KEYS,
        OPT_LOG_LEVEL,
        OPT_LOG_FORMAT,
        OPT_METRICS_PORT,
        OPT_METRICS_ADDRESS
    };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"domain", required_argument, NULL, 'd'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"batch-records", required_argument, NULL, OPT_BATCH_RECORDS},
        {"batch-ms", required_argument, NULL, OPT_BATCH_MS},
        {"audit", no_argument, NULL, OPT_AUDIT},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"table", required_argument, NULL, OPT_TABLE},
        {"json", no_argument, NULL, OPT_JSON},
        {"max-keys", required_argument, NULL, OPT_MAX_KEYS},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"metrics-port", required_argument, NULL, OPT_METRICS_PORT},
        {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cdc_validator_opts_t opts = {0, NULL, 1000, 200, 30000, &stop_flag, NULL};
    cdc_audit_opts_t aopts;
    const char *config_path = NULL, *audit_only = NULL;
    cdc_config_t *conf = NULL;
    cdc_log_level_t level;
    cdc_log_format_t format;
    char errstr[2048];
    int c, rc = EXIT_USAGE, audit = 0;
    long n, metrics_port = 0;
    const char *metrics_addr = getenv("CDC_METRICS_ADDRESS");
    cdc_metrics_server_t *metrics_srv = NULL;

    cdc_log_set_component("validator");
    cdc_audit_opts_init(&aopts);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'd':
            opts.domain = optarg;
            aopts.domain = optarg;
            break;
        case OPT_ONCE:
            opts.once = 1;
            break;
        case OPT_BATCH_RECORDS:
            if (parse_int("--batch-records", optarg, 1, 100000, &n) < 0)
                goto out;
            opts.batch_records = (int)n;
            break;
        case OPT_BATCH_MS:
            if (parse_int("--batch-ms", optarg, 1, 600000, &n) < 0)
                goto out;
            opts.batch_ms = (int)n;
            break;
        case OPT_AUDIT:
            audit = 1;
            break;
        case OPT_SOURCE:
            aopts.source = optarg;
            audit_only = "--source";
            break;
        case OPT_TABLE:
            aopts.table = optarg;
            audit_only = "--table";
            break;
        case OPT_JSON:
            aopts.json = 1;
            audit_only = "--json";
            break;
        case OPT_MAX_KEYS:
            if (parse_int("--max-keys", optarg, 0, 1000000, &n) < 0)
                goto out;
            aopts.max_keys = (size_t)n;
            audit_only = "--max-keys";
            break;
        case OPT_LOG_LEVEL:
            if (cdc_log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, "cdc-validator: --log-level: \"%s\" is not error|warn|info|debug\n",
                        optarg);
                goto out;
            }
            cdc_log_set_level(level);
            break;
        case OPT_LOG_FORMAT:
            if (cdc_log_format_parse(optarg, &format) < 0) {
                fprintf(stderr, "cdc-validator: --log-format: \"%s\" is not kv|json\n", optarg);
                goto out;
            }
            cdc_log_set_format(format);
            break;
        case OPT_METRICS_PORT:
            if (cdc_cli_parse_long(optarg, 0, 65535, &metrics_port) != 0) {
                fprintf(stderr, "cdc-validator: --metrics-port: \"%s\" is not a port 0..65535\n",
                        optarg);
                goto out;
            }
            break;
        case OPT_METRICS_ADDRESS:
            metrics_addr = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        case ':':
            fprintf(stderr, "cdc-validator: option %s needs a value (see --help)\n",
                    argv[optind - 1]);
            goto out;
        default:
            fprintf(stderr, "cdc-validator: unknown option %s (see --help)\n", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cdc-validator: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        goto out;
    }
    if (!config_path) {
        fprintf(stderr, "cdc-validator: -c/--config is required (see --help)\n");
        goto out;
    }
    if (!audit && audit_only) {
        fprintf(stderr, "cdc-validator: %s is an option of --audit (see --help)\n", audit_only);
        goto out;
    }
    if (audit && metrics_port > 0) {
        fprintf(stderr, "cdc-validator: --metrics-port is an option of the consume mode, not of "
                        "--audit\n");
        goto out;
    }
    if (audit && opts.once) {
        fprintf(stderr, "cdc-validator: --once is an option of the consume mode, not of --audit "
                        "(an audit always runs once)\n");
        goto out;
    }
    conf = cdc_config_load(config_path, errstr, sizeof errstr);
    if (!conf) {
        fprintf(stderr, "cdc-validator: %s\n", errstr);
        goto out;
    }
    if (opts.domain && !cdc_config_domain(conf, opts.domain)) {
        fprintf(stderr,
                "cdc-validator: domain \"%s\" is not in the config %s (domains:", opts.domain,
                config_path);
        for (size_t i = 0; i < conf->n_domains; i++)
            fprintf(stderr, " %s", conf->domains[i].name);
        fprintf(stderr, ")\n");
        goto out;
    }
    cdc_log_set_context("domain", opts.domain ? opts.domain : "all");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (audit) {
        rc = run_audit(conf, &aopts);
        goto out;
    }
    if (metrics_port > 0) {
        opts.metrics = cdc_metrics_new();
        metrics_srv =
            cdc_metrics_serve(opts.metrics, metrics_addr, (int)metrics_port, errstr, sizeof errstr);
        if (!metrics_srv) {
            cdc_log_error("%s", errstr);
            rc = EXIT_OPERATIONAL;
            goto out;
        }
    }
    rc = cdc_validator_run(conf, &opts, errstr, sizeof errstr) == 0 ? 0 : EXIT_OPERATIONAL;
    if (rc != 0)
        cdc_log_error("%s", errstr);
out:
    cdc_metrics_server_stop(metrics_srv);
    cdc_metrics_destroy(opts.metrics);
    cdc_config_destroy(conf);
    return rc;
}

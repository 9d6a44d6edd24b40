/*
 * cdc-sink: one worker of a domain's consumer group (DESIGN.md "Components"). Decodes the
 * domain topic's records and applies them to the domain's PostgreSQL target idempotently
 * (sink_apply.h), storing offsets with the data (sink_consumer.h).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_cli.h"
#include "cdc_config.h"
#include "cdc_log.h"
#include "cdc_metrics.h"
#include "sink_consumer.h"

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
    fputs("Usage: cdc-sink -c CONFIG --domain NAME [options]\n"
          "\n"
          "One worker of a domain's sink consumer group: reads <prefix>.<domain>, decodes the\n"
          "records with the schemas of <prefix>.schemas and applies them to the domain's\n"
          "PostgreSQL target (domains[].target in the config), one transaction per partition\n"
          "batch that also moves the partition's stored offset (_cdc_offsets). Start several\n"
          "workers of one domain to share its partitions. Undecodable or refused records go to\n"
          "<prefix>.<domain>.dlq.\n"
          "\n"
          "Options:\n"
          "  -c, --config FILE      pipeline config (YAML), required\n"
          "  -d, --domain NAME      the domain to sink (one of the config's domains), required\n"
          "      --once             apply what exists now and exit 0: every partition assigned\n"
          "                         to this worker is read up to the end offset observed when it\n"
          "                         was assigned (the first assignment is awaited up to 30 s)\n"
          "      --batch-rows N     records per partition batch, 1..1000000 (default 5000)\n"
          "      --batch-ms MS      a partition batch is applied when it is MS ms old,\n"
          "                         1..600000 (default 200)\n"
          "      --metrics-port PORT\n"
          "                         serve Prometheus metrics on http://ADDR:PORT/metrics (rows\n"
          "                         applied, batch duration, lag per partition, dead letters,\n"
          "                         rebalances, fenced batches, errors; docs/operate.md\n"
          "                         \"Metrics\"); 0 or absent: off\n"
          "      --metrics-address ADDR\n"
          "                         address the metrics server binds (default\n"
          "                         $CDC_METRICS_ADDRESS, else 127.0.0.1; 0.0.0.0 in containers)\n"
          "      --log-level L      error, warn, info (default) or debug\n"
          "      --log-format F     kv (default) or json\n"
          "  -h, --help             this text\n"
          "\n"
          "Offsets: a worker resumes only from the offset stored in the target database (none\n"
          "stored: 0). A stored offset below the partition's first available offset is a gap:\n"
          "the worker stops (exit 1) naming the topic, partition and missing range; the way out\n"
          "is a re-snapshot of the domain's sources. Offsets are also committed to Kafka, only\n"
          "for lag tools. SIGINT/SIGTERM: finish the open batches, leave the group, exit 0.\n"
          "\n"
          "Exit codes:\n"
          "  0  stopped by SIGINT/SIGTERM, or --once finished\n"
          "  1  operational failure (gap, PostgreSQL or Kafka unusable, schema or target table\n"
          "     conflict, domain cut over, no assignment within 30 s with --once, the\n"
          "     metrics port in use)\n"
          "  2  usage or config error (bad option, unreadable config, unknown domain)\n",
          out);
}

/* Parses an integer option in [lo, hi]; returns -1 (with a message) when it is not one. */
static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "cdc-sink: %s: \"%s\" is not an integer in %ld..%ld\n", opt, s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        OPT_ONCE = 256,
        OPT_BATCH_ROWS,
        OPT_BATCH_MS,
        OPT_LOG_LEVEL,
        OPT_LOG_FORMAT,
        OPT_METRICS_PORT,
        OPT_METRICS_ADDRESS
    };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"domain", required_argument, NULL, 'd'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"batch-rows", required_argument, NULL, OPT_BATCH_ROWS},
        {"batch-ms", required_argument, NULL, OPT_BATCH_MS},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"metrics-port", required_argument, NULL, OPT_METRICS_PORT},
        {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cdc_sink_run_opts_t opts = {0, 5000, 200, 30000, &stop_flag, NULL};
    const char *config_path = NULL, *domain = NULL;
    cdc_config_t *conf = NULL;
    cdc_log_level_t level;
    cdc_log_format_t format;
    char errstr[2048];
    int c, rc = EXIT_USAGE;
    long metrics_port = 0;
    const char *metrics_addr = getenv("CDC_METRICS_ADDRESS");
    cdc_metrics_server_t *metrics_srv = NULL;

    cdc_log_set_component("sink");
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'd':
            domain = optarg;
            break;
        case OPT_ONCE:
            opts.once = 1;
            break;
        case OPT_BATCH_ROWS:
            if (parse_int("--batch-rows", optarg, 1, 1000000, &opts.batch_rows) < 0)
                goto out;
            break;
        case OPT_BATCH_MS:
            if (parse_int("--batch-ms", optarg, 1, 600000, &opts.batch_ms) < 0)
                goto out;
            break;
        case OPT_LOG_LEVEL:
            if (cdc_log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, "cdc-sink: --log-level: \"%s\" is not error|warn|info|debug\n",
                        optarg);
                goto out;
            }
            cdc_log_set_level(level);
            break;
        case OPT_LOG_FORMAT:
            if (cdc_log_format_parse(optarg, &format) < 0) {
                fprintf(stderr, "cdc-sink: --log-format: \"%s\" is not kv|json\n", optarg);
                goto out;
            }
            cdc_log_set_format(format);
            break;
        case OPT_METRICS_PORT:
            if (cdc_cli_parse_long(optarg, 0, 65535, &metrics_port) != 0) {
                fprintf(stderr, "cdc-sink: --metrics-port: \"%s\" is not a port 0..65535\n",
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
            fprintf(stderr, "cdc-sink: option %s needs a value (see --help)\n", argv[optind - 1]);
            goto out;
        default:
            fprintf(stderr, "cdc-sink: unknown option %s (see --help)\n", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cdc-sink: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        goto out;
    }
    if (!config_path || !domain) {
        fprintf(stderr, "cdc-sink: %s is required (see --help)\n",
                !config_path ? "-c/--config" : "--domain");
        goto out;
    }
    conf = cdc_config_load(config_path, errstr, sizeof(errstr));
    if (!conf) {
        fprintf(stderr, "cdc-sink: %s\n", errstr);
        goto out;
    }
    if (!cdc_config_domain(conf, domain)) {
        fprintf(stderr, "cdc-sink: domain \"%s\" is not in the config %s (domains:", domain,
                config_path);
        for (size_t i = 0; i < conf->n_domains; i++)
            fprintf(stderr, " %s", conf->domains[i].name);
        fprintf(stderr, ")\n");
        goto out;
    }
    cdc_log_set_context("domain", domain); /* every line of this worker names its domain */

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (metrics_port > 0) {
        opts.metrics = cdc_metrics_new();
        metrics_srv = cdc_metrics_serve(opts.metrics, metrics_addr, (int)metrics_port, errstr,
                                        sizeof(errstr));
        if (!metrics_srv) {
            cdc_log_error("%s", errstr);
            rc = EXIT_OPERATIONAL;
            goto out;
        }
    }
    rc = cdc_sink_run(conf, domain, &opts, errstr, sizeof(errstr)) == 0 ? 0 : EXIT_OPERATIONAL;
    if (rc != 0)
        cdc_log_error("%s", errstr);
out:
    cdc_metrics_server_stop(metrics_srv);
    cdc_metrics_destroy(opts.metrics);
    cdc_config_destroy(conf);
    return rc;
}

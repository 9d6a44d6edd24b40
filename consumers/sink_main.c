/*
 * cdc-sink: one worker of a domain's consumer group (DESIGN.md "Components"). Decodes the
 * domain topic's records and applies them to the domain's PostgreSQL target idempotently
 * (sink_apply.h), storing offsets with the data (sink_consumer.h).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_cli.h"
#include "cdc_config.h"
#include "cdc_log.h"
#include "cdc_metrics.h"
#include "sink_consumer.h"

#define PROG             "cdc-sink"
#define EXIT_OPERATIONAL 1
#define EXIT_USAGE       CDC_CLI_EXIT_USAGE

static volatile sig_atomic_t stop_flag;

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
          "                         1..600000 (default 200); a batch is applied earlier when\n"
          "                         its partition is caught up or nothing else was fetched\n"
          "      --batch-bytes N    memory budget of all open batches of this worker, bytes,\n"
          "                         1048576..4294967296 (default 12582912 = 12 MiB): over it,\n"
          "                         the largest open batch is applied\n"
          "      --batch-min-ms MS  no batch is applied early (caught up, idle) before it is\n"
          "                         MS ms old, 0..600000 (default 50: fewer, larger target\n"
          "                         transactions; 0 lowers latency, docs/bench.md)\n"
          "      --metrics-port PORT\n"
          "                         serve Prometheus metrics on http://ADDR:PORT/metrics (rows\n"
          "                         applied, batch duration, lag per partition, dead letters,\n"
          "                         rebalances, fenced batches, errors; docs/operate.md\n"
          "                         \"Metrics\"); 0 or absent: off\n"
          "      --metrics-address ADDR\n"
          "                         address the metrics server binds (default\n"
          "                         $CDC_METRICS_ADDRESS, else 127.0.0.1; 0.0.0.0 in containers)\n"
          "      --no-auto-evolve   a record whose schema has columns the target table lacks\n"
          "                         is not applied but dead-lettered, naming them (overrides\n"
          "                         domains[].auto_evolve: true; docs/schema-registry.md)\n"
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

int main(int argc, char **argv)
{
    enum {
        OPT_ONCE = CDC_CLI_OPT_FIRST_OWN,
        OPT_BATCH_ROWS,
        OPT_BATCH_MS,
        OPT_BATCH_BYTES,
        OPT_BATCH_MIN_MS,
        OPT_METRICS_PORT,
        OPT_METRICS_ADDRESS
    };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"domain", required_argument, NULL, 'd'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"batch-rows", required_argument, NULL, OPT_BATCH_ROWS},
        {"batch-ms", required_argument, NULL, OPT_BATCH_MS},
        {"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
        {"batch-min-ms", required_argument, NULL, OPT_BATCH_MIN_MS},
        {"log-level", required_argument, NULL, CDC_CLI_OPT_LOG_LEVEL},
        {"log-format", required_argument, NULL, CDC_CLI_OPT_LOG_FORMAT},
        {"metrics-port", required_argument, NULL, OPT_METRICS_PORT},
        {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
        {"no-auto-evolve", no_argument, NULL, 'E'}, /* long only: not in the short string */
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cdc_sink_run_opts_t opts = {0, 5000, 200, 30000, &stop_flag, NULL, 0, 50};
    const char *config_path = NULL, *domain = NULL;
    cdc_config_t *conf = NULL;
    char errstr[2048];
    int c, r, rc = EXIT_USAGE;
    long n, metrics_port = 0;
    const char *metrics_addr = getenv("CDC_METRICS_ADDRESS");
    cdc_metrics_server_t *metrics_srv = NULL;
    int no_auto_evolve = 0;

    cdc_log_set_component("sink");
    /* glibc gives each thread that allocates (librdkafka's broker threads too) an arena of
     * its own, up to 8 per core, and memory freed in one is not reused by the others: two
     * arenas keep the peak RSS near what the worker holds (docs/bench.md "Sink hot path").
     * MALLOC_ARENA_MAX in the environment still decides when set. */
    if (getenv("MALLOC_ARENA_MAX") == NULL)
        mallopt(M_ARENA_MAX, 2);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:d:h", longopts, NULL)) != -1) {
        if ((r = cdc_cli_common_option(PROG, c, optarg, &config_path)) == 1)
            continue;
        if (r != 0)
            goto out;
        switch (c) {
        case 'd':
            domain = optarg;
            break;
        case OPT_ONCE:
            opts.once = 1;
            break;
        case OPT_BATCH_ROWS:
            if (cdc_cli_long_option(PROG, "--batch-rows", optarg, 1, 1000000, &n) != 0)
                goto out;
            opts.batch_rows = (int)n;
            break;
        case OPT_BATCH_MS:
            if (cdc_cli_long_option(PROG, "--batch-ms", optarg, 1, 600000, &n) != 0)
                goto out;
            opts.batch_ms = (int)n;
            break;
        case OPT_BATCH_BYTES:
            if (cdc_cli_long_option(PROG, "--batch-bytes", optarg, 1048576, 4294967296L, &n) != 0)
                goto out;
            opts.batch_bytes = n;
            break;
        case OPT_BATCH_MIN_MS:
            if (cdc_cli_long_option(PROG, "--batch-min-ms", optarg, 0, 600000, &n) != 0)
                goto out;
            opts.batch_min_ms = (int)n;
            break;
        case OPT_METRICS_PORT:
            if (cdc_cli_parse_long(optarg, 0, 65535, &metrics_port) != 0) {
                cdc_cli_usage_error(PROG, "--metrics-port: \"%s\" is not a port 0..65535", optarg);
                goto out;
            }
            break;
        case OPT_METRICS_ADDRESS:
            metrics_addr = optarg;
            break;
        case 'E':
            no_auto_evolve = 1;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            cdc_cli_getopt_error(PROG, c, argv);
            goto out;
        }
    }
    if (optind < argc) {
        cdc_cli_usage_error(PROG, "unexpected argument \"%s\"", argv[optind]);
        goto out;
    }
    if (!config_path || !domain) {
        cdc_cli_usage_error(PROG, "%s is required", !config_path ? "-c/--config" : "--domain");
        goto out;
    }
    if ((conf = cdc_cli_load_config(PROG, config_path)) == NULL ||
        !cdc_cli_domain(PROG, conf, domain))
        goto out;
    cdc_log_set_context("domain", domain); /* every line of this worker names its domain */
    for (size_t i = 0; i < conf->n_domains && no_auto_evolve; i++)
        conf->domains[i].auto_evolve = 0;
    cdc_cli_stop_on_signals(&stop_flag);

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

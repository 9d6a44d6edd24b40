/*
 * cdc-producer: command line of the producer (docs/producer.md). Parses options, loads
 * the config, sets up logging and signals, and hands over to the runner.
 */
#include "cdc_alloc.h"
#include "cdc_cli.h"
#include "cdc_config.h"
#include "cdc_log.h"
#include "cdc_metrics.h"
#include "runner.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define PROG "cdc-producer"

static volatile sig_atomic_t g_stop;

/* What the options ask for, filled by own_option. */
typedef struct cli_s {
    cdc_runner_opts_t *opts;
    const char **only; /* argc + 1 slots: every argument could be a --source */
    const char *schemas_dir;
    int uninstall;
    long metrics_port;
    const char *metrics_addr;
} cli_t;

static void usage(FILE *out, const char *prog)
{
    (void)prog;
    fprintf(out,
            "Usage: cdc-producer -c CONFIG [--once] [--source NAME]... [--new-epoch SOURCE]\n"
            "                    [--metrics-port PORT [--metrics-address ADDR]]\n"
            "                    [--log-level L] [--log-format kv|json]\n"
            "       cdc-producer -c CONFIG --uninstall [--source NAME]...\n"
            "       cdc-producer -c CONFIG --write-schemas DIR [--source NAME]...\n"
            "\n"
            "Installs change capture in every source SQLite file of CONFIG, snapshots the\n"
            "captured tables in key-ordered chunks, streams their changes as Avro records to\n"
            "<prefix>.<domain>, and publishes heartbeats and snapshot end markers. A position is\n"
            "acknowledged in the file (and the change log pruned) only after Kafka confirmed\n"
            "every record up to it. Details: docs/producer.md.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE      pipeline config (required; keys in docs/config.md)\n"
            "      --once             do the work that exists now (snapshots, then the stream\n"
            "                         until a read finds nothing), flush, acknowledge, exit 0\n"
            "  -s, --source NAME      only this source (repeatable; default: every source)\n"
            "      --new-epoch SOURCE start a new capture epoch for SOURCE and re-snapshot it:\n"
            "                         the way to accept a file that was replaced by an older\n"
            "                         copy (restored from a backup), which is refused otherwise\n"
            "      --uninstall        remove capture (every _cdc_ table and trigger, nothing\n"
            "                         else) from the selected sources, then exit\n"
            "      --write-schemas DIR\n"
            "                         write the schemas a run would publish to\n"
            "                         <prefix>.schemas, then exit: DIR/<source>/<table>.key.avsc,\n"
            "                         DIR/<source>/<table>.envelope.avsc, DIR/cdc.Control.avsc,\n"
            "                         DIR/cdc.ControlKey.avsc; each the published JSON byte for\n"
            "                         byte (no trailing newline). No Kafka; files are opened\n"
            "                         read-only and capture is never installed\n"
            "      --metrics-port PORT\n"
            "                         serve Prometheus metrics on http://ADDR:PORT/metrics\n"
            "                         while running (rows sent, backlog, write-lock holds, dead\n"
            "                         letters, errors; docs/operate.md \"Metrics\"); 0 or\n"
            "                         absent: off\n"
            "      --metrics-address ADDR\n"
            "                         address the metrics server binds (default\n"
            "                         $CDC_METRICS_ADDRESS, else 127.0.0.1; 0.0.0.0 in\n"
            "                         containers)\n"
            "      --log-level L      error, warn, info (default), debug\n"
            "      --log-format F     kv (default) or json\n"
            "  -h, --help             this text\n"
            "\n"
            "Signals: SIGINT/SIGTERM stop reading, flush Kafka (at most 10 s), acknowledge\n"
            "what was confirmed, exit 0.\n"
            "\n"
            "Exit codes:\n"
            "  0  success (--once done, stopped by a signal, uninstall or schemas done)\n"
            "  1  operational failure: a source file missing, unreadable, not a database or\n"
            "     corrupt; a file behind the acknowledged position (older copy); Kafka\n"
            "     unreachable at start, a topic missing or with another partition count; a\n"
            "     fatal Kafka error (nothing more is acknowledged); a state file unreadable;\n"
            "     another producer using the same producer.state_dir; the DIR of\n"
            "     --write-schemas not writable; the metrics port in use\n"
            "  2  usage or config error: unknown option, config file invalid, a Kafka\n"
            "     property the tool owns set in the config, a table named in tables: missing\n"
            "     from its file, a virtual table to capture, a bad keys:/columns: entry,\n"
            "     two tables whose Avro names collide, an unknown --source/--new-epoch name\n");
}

/* The producer's own options (cdc_cli_parse handles -c, --log-*, --help and mistakes). */
static int own_option(void *ctx, int c, const char *arg)
{
    cli_t *cli = ctx;

    switch (c) {
    case 'o':
        cli->opts->once = 1;
        return 0;
    case 's':
        cli->only[cli->opts->n_only++] = arg;
        return 0;
    case 'e':
        cli->opts->new_epoch = arg;
        return 0;
    case 'u':
        cli->uninstall = 1;
        return 0;
    case 'w':
        cli->schemas_dir = arg;
        return 0;
    case 'P':
        if (cdc_cli_parse_long(arg, 0, 65535, &cli->metrics_port) != 0)
            return cdc_cli_usage_error(PROG, "--metrics-port %s: use a port 0..65535", arg);
        return 0;
    case 'A':
        cli->metrics_addr = arg;
        return 0;
    default: /* every value of longopts is handled above or by cdc_cli_parse */
        return cdc_cli_usage_error(PROG, "unhandled option %d", c);
    }
}

/* The option combinations that make no sense: a usage error, or 0. */
static int check_combinations(const cli_t *cli)
{
    const cdc_runner_opts_t *opts = cli->opts;

    if (cli->uninstall && (opts->once || opts->new_epoch))
        return cdc_cli_usage_error(PROG, "--uninstall goes with neither --once nor --new-epoch");
    if (cli->metrics_port > 0 && (cli->uninstall || cli->schemas_dir))
        return cdc_cli_usage_error(PROG, "--metrics-port goes with neither --uninstall nor "
                                         "--write-schemas");
    if (cli->schemas_dir && (cli->uninstall || opts->once || opts->new_epoch))
        return cdc_cli_usage_error(PROG, "--write-schemas goes with none of --uninstall, --once, "
                                         "--new-epoch");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"once", no_argument, NULL, 'o'},
        {"source", required_argument, NULL, 's'},
        {"new-epoch", required_argument, NULL, 'e'},
        {"uninstall", no_argument, NULL, 'u'},
        {"write-schemas", required_argument, NULL, 'w'},
        {"metrics-port", required_argument, NULL, 'P'},
        {"metrics-address", required_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    cdc_runner_opts_t opts = {0};
    cli_t cli = {.opts = &opts,
                 .only = cdc_calloc((size_t)argc + 1, sizeof *cli.only),
                 .metrics_addr = getenv("CDC_METRICS_ADDRESS")};
    const cdc_cli_spec_t spec = {PROG, ":c:s:h", longopts, usage, own_option, &cli};
    cdc_config_t *conf = NULL;
    int code;
    char err[2048];
    cdc_metrics_server_t *metrics_srv = NULL;

    cdc_log_set_component("producer");
    code = cdc_cli_parse(&spec, argc, argv, &config_path);
    if (code != CDC_CLI_RUN)
        goto out;
    if (config_path == NULL) {
        code = cdc_cli_usage_error(PROG, "-c CONFIG is required");
        goto out;
    }
    if ((code = check_combinations(&cli)) != 0)
        goto out;
    code = CDC_CLI_EXIT_USAGE;
    conf = cdc_config_load(config_path, err, sizeof err);
    if (conf == NULL) {
        cdc_log_error("%s", err);
        goto out;
    }
    if (cdc_config_check_kafka_props(&conf->kafka, "kafka", err, sizeof err) < 0 ||
        cdc_config_check_kafka_props(&conf->kafka_producer, "kafka_producer", err, sizeof err) <
            0) {
        cdc_log_error("%s: %s", config_path, err);
        goto out;
    }
    opts.only = cli.only;
    opts.stop = &g_stop;
    cdc_cli_stop_on_signals(&g_stop);
    if (cli.metrics_port > 0) {
        opts.metrics = cdc_metrics_new();
        metrics_srv = cdc_metrics_serve(opts.metrics, cli.metrics_addr, (int)cli.metrics_port, err,
                                        sizeof err);
        if (metrics_srv == NULL) {
            cdc_log_error("%s", err);
            code = 1;
            goto out;
        }
    }
    if (cli.schemas_dir)
        code = cdc_runner_write_schemas(conf, &opts, cli.schemas_dir);
    else
        code = cli.uninstall ? cdc_runner_uninstall(conf, &opts) : cdc_runner_run(conf, &opts);
out:
    cdc_metrics_server_stop(metrics_srv);
    cdc_metrics_destroy(opts.metrics);
    cdc_config_destroy(conf);
    free(cli.only);
    return code;
}

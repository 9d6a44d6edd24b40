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
#include <string.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *out)
{
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

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"once", no_argument, NULL, 'o'},
        {"source", required_argument, NULL, 's'},
        {"new-epoch", required_argument, NULL, 'e'},
        {"uninstall", no_argument, NULL, 'u'},
        {"write-schemas", required_argument, NULL, 'w'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"metrics-port", required_argument, NULL, 'P'},
        {"metrics-address", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *schemas_dir = NULL;
    const char **only = cdc_calloc((size_t)argc + 1, sizeof *only);
    cdc_runner_opts_t opts = {0};
    cdc_config_t *conf = NULL;
    int uninstall = 0, opt, code = 2;
    char err[2048];
    long metrics_port = 0;
    const char *metrics_addr = getenv("CDC_METRICS_ADDRESS");
    cdc_metrics_server_t *metrics_srv = NULL;

    cdc_log_set_component("producer");
    while ((opt = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'o':
            opts.once = 1;
            break;
        case 's':
            only[opts.n_only++] = optarg;
            break;
        case 'e':
            opts.new_epoch = optarg;
            break;
        case 'u':
            uninstall = 1;
            break;
        case 'w':
            schemas_dir = optarg;
            break;
        case 'l': {
            cdc_log_level_t lvl;
            if (cdc_log_level_parse(optarg, &lvl) < 0) {
                fprintf(stderr, "cdc-producer: --log-level %s: use error, warn, info or debug\n",
                        optarg);
                goto out;
            }
            cdc_log_set_level(lvl);
            break;
        }
        case 'f': {
            cdc_log_format_t fmt;
            if (cdc_log_format_parse(optarg, &fmt) < 0) {
                fprintf(stderr, "cdc-producer: --log-format %s: use kv or json\n", optarg);
                goto out;
            }
            cdc_log_set_format(fmt);
            break;
        }
        case 'P':
            if (cdc_cli_parse_long(optarg, 0, 65535, &metrics_port) != 0) {
                fprintf(stderr, "cdc-producer: --metrics-port %s: use a port 0..65535\n", optarg);
                goto out;
            }
            break;
        case 'A':
            metrics_addr = optarg;
            break;
        case 'h':
            usage(stdout);
            code = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cdc-producer: unexpected argument %s (see --help)\n", argv[optind]);
        goto out;
    }
    if (config_path == NULL) {
        fprintf(stderr, "cdc-producer: -c CONFIG is required (see --help)\n");
        goto out;
    }
    if (uninstall && (opts.once || opts.new_epoch)) {
        fprintf(stderr, "cdc-producer: --uninstall goes with neither --once nor --new-epoch\n");
        goto out;
    }
    if (metrics_port > 0 && (uninstall || schemas_dir)) {
        fprintf(stderr, "cdc-producer: --metrics-port goes with neither --uninstall nor "
                        "--write-schemas\n");
        goto out;
    }
    if (schemas_dir && (uninstall || opts.once || opts.new_epoch)) {
        fprintf(stderr, "cdc-producer: --write-schemas goes with none of --uninstall, --once, "
                        "--new-epoch\n");
        goto out;
    }
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
    opts.only = only;
    opts.stop = &g_stop;
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
    }
    if (metrics_port > 0) {
        opts.metrics = cdc_metrics_new();
        metrics_srv =
            cdc_metrics_serve(opts.metrics, metrics_addr, (int)metrics_port, err, sizeof err);
        if (metrics_srv == NULL) {
            cdc_log_error("%s", err);
            code = 1;
            goto out;
        }
    }
    if (schemas_dir)
        code = cdc_runner_write_schemas(conf, &opts, schemas_dir);
    else
        code = uninstall ? cdc_runner_uninstall(conf, &opts) : cdc_runner_run(conf, &opts);
out:
    cdc_metrics_server_stop(metrics_srv);
    cdc_metrics_destroy(opts.metrics);
    cdc_config_destroy(conf);
    free(only);
    return code;
}

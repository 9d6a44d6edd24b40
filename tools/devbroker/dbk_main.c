/*
 * cdc-devbroker: librdkafka's mock cluster as a local Kafka for development and tests.
 *
 * Start-up order matters for the waiters: the bootstrap line and file appear only after
 * every topic is created and visible to a client, the fixed port listens and the control
 * socket accepts, so anything that sees the file can use all of them at once.
 */
#include "cdc_alloc.h"
#include "cdc_cli.h"
#include "cdc_log.h"
#include "dbk_cluster.h"
#include "dbk_command.h"
#include "dbk_control.h"
#include "dbk_forward.h"
#include "dbk_topics.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_OPERATIONAL 1
#define EXIT_USAGE       2

/* How long the topics may take to become visible before start-up is declared failed. */
#define READY_TIMEOUT_MS 15000
/* How long --send waits for the devbroker's reply. */
#define SEND_TIMEOUT_MS 10000

static volatile sig_atomic_t stop_requested = 0;

typedef struct options_s {
    const char *config;
    long brokers;
    long partitions;
    long port;
    const char *bootstrap_file;
    const char *control;
    const char *send;
    const char **topic_args; /* borrowed from argv */
    size_t n_topic_args;
} options_t;

static void usage(FILE *out, const char *prog)
{
    (void)prog;
    fprintf(
        out,
        "Usage: cdc-devbroker [options]\n"
        "       cdc-devbroker -s PATH --send COMMAND\n"
        "\n"
        "A local Kafka cluster FOR DEVELOPMENT AND TESTS ONLY, never for production:\n"
        "librdkafka's mock cluster (rdkafka_mock.h) running in this process, so producers and\n"
        "consumers talk to it over TCP like to a real cluster.\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE         create every topic of the pipeline config (domain topics,\n"
        "                            .dlq, .validation, .schemas) with its partition count\n"
        "  -b, --brokers N           number of mock brokers, 1..%d (default 3)\n"
        "  -p, --partitions N        partitions of a --topic given without a count (default 6)\n"
        "  -t, --topic NAME[:PARTS]  create one more topic (repeatable)\n"
        "  -P, --port PORT           fixed bootstrap port on 127.0.0.1 (0 or absent: the\n"
        "                            brokers' own ephemeral ports); relayed to the first broker\n"
        "                            that is up, clients then use the brokers' own addresses\n"
        "  -f, --bootstrap-file F    when ready, write the bootstrap string to F atomically\n"
        "                            (F.tmp, then rename)\n"
        "  -s, --control PATH        unix socket for fault injection (removed on exit)\n"
        "      --send COMMAND        client mode: send COMMAND to the devbroker at --control\n"
        "                            PATH, print its reply on stdout\n"
        "      --log-level LEVEL     error, warn, info (default) or debug\n"
        "  -h, --help                this text\n"
        "\n"
        "When ready (topics created and visible), prints exactly one line on stdout, the\n"
        "bootstrap string host:port[,host:port...], then runs until SIGINT or SIGTERM.\n"
        "Logs go to stderr.\n"
        "\n"
        "Control commands (one line each; reply one line, \"ok ...\" or \"error: ...\"):\n"
        "  down N | down all     take broker N (1-based) or every broker down: connections\n"
        "                        are closed and new ones refused; data is kept\n"
        "  up N | up all         bring it back\n"
        "  rtt N|all MS          add MS ms of latency to a broker's responses (0 clears)\n"
        "  topics                list name:partitions, comma-separated\n"
        "  ping                  reply \"ok\"\n"
        "  help                  list the commands\n"
        "\n"
        "Limits (librdkafka 2.0.2 mock cluster):\n"
        "  - memory only: everything is gone when the process exits\n"
        "  - keeps at most 5 MiB of record batches or 100,000 batches per partition and\n"
        "    silently drops the oldest batches beyond that (the log start offset moves;\n"
        "    consumers behind it get OFFSET_OUT_OF_RANGE)\n"
        "  - no CreateTopics/DeleteTopics (topics come from -c and --topic), no\n"
        "    offsets-for-times (timestamp lookups return no offset), no consumer-group\n"
        "    listing or describing, no log compaction, no read_committed filtering (aborted\n"
        "    transactions are delivered), no SASL/TLS, no DescribeConfigs\n"
        "  - a client Metadata request that allows auto-creation (the librdkafka producer's\n"
        "    default) creates an unknown topic with 4 partitions; the devbroker warns when it\n"
        "    sees one. Set allow.auto.create.topics=false in clients.\n"
        "\n"
        "Exit codes: 0 stopped by SIGINT/SIGTERM (or --send got an \"ok\" reply),\n"
        "            1 operational failure (port in use, socket error, --send got an error\n"
        "              reply or no reply),\n"
        "            2 usage or config error.\n",
        CDC_DBK_MAX_BROKERS);
}

enum { OPT_SEND = CDC_CLI_OPT_FIRST_OWN };

/* The devbroker's own options (cdc_cli_parse handles -c, --log-level, --help, mistakes). */
static int own_option(void *ctx, int c, const char *arg)
{
    options_t *o = ctx;

    switch (c) {
    case 'b':
        if (cdc_cli_parse_long(arg, 1, CDC_DBK_MAX_BROKERS, &o->brokers) != 0)
            return cdc_cli_usage_error(
                "cdc-devbroker", "--brokers '%s': expected a number of brokers in 1..32", arg);
        return 0;
    case 'p':
        if (cdc_cli_parse_long(arg, 1, CDC_DBK_MAX_PARTITIONS, &o->partitions) != 0)
            return cdc_cli_usage_error("cdc-devbroker",
                                       "--partitions '%s': expected a number in 1..1000", arg);
        return 0;
    case 't':
        o->topic_args = cdc_realloc(o->topic_args, (o->n_topic_args + 1) * sizeof(*o->topic_args));
        o->topic_args[o->n_topic_args++] = arg;
        return 0;
    case 'P':
        if (cdc_cli_parse_long(arg, 0, 65535, &o->port) != 0)
            return cdc_cli_usage_error("cdc-devbroker",
                                       "--port '%s': expected a TCP port in 0..65535", arg);
        return 0;
    case 'f':
        o->bootstrap_file = arg;
        return 0;
    case 's':
        o->control = arg;
        return 0;
    case OPT_SEND:
        o->send = arg;
        return 0;
    default: /* every value of longopts is handled above or by cdc_cli_parse */
        return cdc_cli_usage_error("cdc-devbroker", "unhandled option %d", c);
    }
}

/* Returns -1 to continue, or the exit code. */
static int parse_options(int argc, char **argv, options_t *o)
{
    /* Not CDC_CLI_COMMON_LONGOPTS: the devbroker has no --log-format. */
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"topic", required_argument, NULL, 't'},
        {"port", required_argument, NULL, 'P'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"control", required_argument, NULL, 's'},
        {"send", required_argument, NULL, OPT_SEND},
        {"log-level", required_argument, NULL, CDC_CLI_OPT_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const cdc_cli_spec_t spec = {.prog = "cdc-devbroker",
                                 .shortopts = ":c:b:p:t:P:f:s:h",
                                 .longopts = longopts,
                                 .usage = usage,
                                 .own = own_option,
                                 .ctx = o};
    int rc = cdc_cli_parse(&spec, argc, argv, &o->config);

    if (rc != CDC_CLI_RUN)
        return rc;
    if (o->send != NULL && o->control == NULL)
        return cdc_cli_usage_error("cdc-devbroker", "%s",
                                   "--send needs --control PATH (the devbroker's socket)");
    return -1;
}

/* Client mode: the reply goes to stdout for the caller's script to read. */
static int run_send(const options_t *o)
{
    char err[512];
    char *reply = NULL;
    int rc;

    if (cdc_dbk_control_send(o->control, o->send, SEND_TIMEOUT_MS, &reply, err, sizeof(err)) != 0) {
        fprintf(stderr, "cdc-devbroker: %s\n", err);
        return EXIT_OPERATIONAL;
    }
    printf("%s\n", reply);
    fflush(stdout);
    rc = strncmp(reply, "ok", 2) == 0 ? 0 : EXIT_OPERATIONAL;
    free(reply);
    return rc;
}

/* Write to F.tmp and rename: a waiter polling for F sees the whole line or nothing. */
static int write_bootstrap_file(const char *path, const char *bootstrap, char *errstr,
                                size_t errstr_size)
{
    char *tmp = cdc_asprintf("%s.tmp", path);
    char *line = cdc_asprintf("%s\n", bootstrap);
    size_t len = strlen(line);
    int fd = -1;
    int rc = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, len) != (ssize_t)len || close(fd) != 0) {
        snprintf(errstr, errstr_size, "bootstrap file '%s': %s", tmp, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(errstr, errstr_size, "bootstrap file '%s': rename: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(line);
    return rc;
}

/* SIGINT/SIGTERM stay blocked everywhere except inside the main loop's ppoll, so every
 * thread librdkafka starts inherits the block and the signal always wakes the main loop. */
static void install_signals(sigset_t *old_mask)
{
    sigset_t block;

    cdc_cli_stop_on_signals(&stop_requested);
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, old_mask);
}

static int run_broker(const options_t *o)
{
    char err[1024];
    cdc_dbk_topics_t topics = {0};
    cdc_dbk_cluster_t *cluster = NULL;
    cdc_dbk_forward_t *forward = NULL;
    cdc_dbk_control_t *control = NULL;
    char *bootstrap = NULL;
    sigset_t run_mask;
    int rc = EXIT_USAGE;

    if (o->config != NULL && cdc_dbk_topics_add_config(&topics, o->config, err, sizeof(err)))
        goto fail;
    for (size_t i = 0; i < o->n_topic_args; i++) {
        if (cdc_dbk_topics_add_arg(&topics, o->topic_args[i], (int)o->partitions, err,
                                   sizeof(err)) != 0)
            goto fail;
    }
    if (o->control != NULL && cdc_dbk_control_path_check(o->control, err, sizeof(err)) != 0)
        goto fail;

    rc = EXIT_OPERATIONAL;
    install_signals(&run_mask);
    cluster = cdc_dbk_cluster_new((int)o->brokers, err, sizeof(err));
    if (cluster == NULL ||
        cdc_dbk_cluster_create_topics(cluster, &topics, READY_TIMEOUT_MS, err, sizeof(err)))
        goto fail;
    if (o->port > 0) {
        struct sockaddr_in up[CDC_DBK_MAX_BROKERS];
        int n = cdc_dbk_cluster_broker_count(cluster);
        for (int id = 1; id <= n; id++)
            cdc_dbk_cluster_broker_addr(cluster, id, &up[id - 1]);
        forward = cdc_dbk_forward_start((int)o->port, up, n, err, sizeof(err));
        if (forward == NULL)
            goto fail;
        bootstrap = cdc_asprintf("127.0.0.1:%ld", o->port);
    } else {
        bootstrap = cdc_strdup(cdc_dbk_cluster_bootstraps(cluster));
    }
    if (o->control != NULL) {
        control = cdc_dbk_control_open(o->control, cluster, err, sizeof(err));
        if (control == NULL)
            goto fail;
    }

    printf("%s\n", bootstrap);
    fflush(stdout);
    if (o->bootstrap_file != NULL &&
        write_bootstrap_file(o->bootstrap_file, bootstrap, err, sizeof(err)) != 0)
        goto fail;
    cdc_log_info("ready: bootstrap.servers=%s, %zu topics, %ld brokers", bootstrap, topics.count,
                 o->brokers);

    while (!stop_requested) {
        struct pollfd fds[CDC_DBK_CONTROL_MAX_FDS];
        size_t n = control ? cdc_dbk_control_pollfds(control, fds) : 0;
        int r = ppoll(fds, (nfds_t)n, NULL, &run_mask);
        if (r < 0 && errno != EINTR) {
            snprintf(err, sizeof(err), "poll: %s", strerror(errno));
            goto fail;
        }
        if (r > 0)
            cdc_dbk_control_serve(control, fds, n);
    }
    cdc_log_info("signal received, shutting down");
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "cdc-devbroker: %s\n", err);
out:
    cdc_dbk_control_close(control);
    cdc_dbk_forward_stop(forward);
    cdc_dbk_cluster_destroy(cluster);
    cdc_dbk_topics_clear(&topics);
    free(bootstrap);
    return rc;
}

int main(int argc, char **argv)
{
    options_t o = {.brokers = 3, .partitions = 6};
    int rc;

    cdc_log_set_component("devbroker");
    rc = parse_options(argc, argv, &o);
    if (rc < 0)
        rc = o.send != NULL ? run_send(&o) : run_broker(&o);
    free(o.topic_args);
    return rc;
}

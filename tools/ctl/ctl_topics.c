/*
 * cdc-ctl topics: creates the config's topics with their partition counts (Admin API
 * CreateTopics), then verifies every topic from metadata and reports differences.
 *
 * A topic that already exists is not an error for the creation step (running the command
 * twice is fine); its partition count is what the verification checks. A partition count
 * that differs is never "fixed" here: adding partitions moves keys to other partitions
 * (invariant 4), so it is reported and the operator decides. The devbroker (librdkafka's
 * mock cluster) has no CreateTopics: that is reported as such, and the verification still
 * runs (cdc-devbroker -c CONFIG creates the topics itself).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "ctl.h"

#define PROG "cdc-ctl topics"

static void usage(FILE *out, const char *prog)
{
    (void)prog; /* the text names PROG itself */
    fprintf(out,
            "Usage: " PROG " -c CONFIG [--replication-factor N] [--verify-only] [--timeout S]\n"
            "\n"
            "Creates every topic the config implies (<prefix>.<domain> and <prefix>.<domain>.dlq\n"
            "with the domain's partitions, <prefix>.validation with validation.partitions,\n"
            "<prefix>.schemas with 1) through the Admin API (CreateTopics), then reads the\n"
            "cluster's metadata and prints one line per topic on stdout:\n"
            "  TOPIC WANTED ACTUAL STATUS   (STATUS: created, exists, missing, MISMATCH)\n"
            "Existing topics are left as they are; a different partition count is reported,\n"
            "never changed (more partitions would move keys to other partitions).\n"
            "A broker without CreateTopics (cdc-devbroker) is reported and the topics are still\n"
            "verified.\n"
            "\n"
            "Options:\n"
            "%s"
            "      --replication-factor N  replicas per partition, 1..32767, or -1 for the\n"
            "                         broker's default (default -1)\n"
            "      --verify-only      do not create anything, only verify\n"
            "      --timeout S        seconds to wait for the cluster, 1..3600 (default 30)\n"
            "\n"
            "Exit codes:\n"
            "  0  every topic exists with its configured partition count\n"
            "  1  a topic is missing or has another partition count, or the cluster cannot be\n"
            "     reached\n"
            "  2  usage or config error\n",
            cdc_cli_common_help);
}

typedef enum { ST_NONE, ST_CREATED, ST_EXISTS, ST_FAILED } create_state_t;

/* Sends CreateTopics for every topic; fills state[i]. Returns 0 when the request was
 * answered, 1 when the broker does not support it, -1 on another failure (printed). */
static int create_topics(rd_kafka_t *rk, const cdc_topic_spec_t *topics, size_t n, int rf,
                         int timeout_ms, create_state_t *state)
{
    rd_kafka_NewTopic_t **nt = cdc_calloc(n, sizeof *nt);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    char errstr[512];
    int rc = -1;

    /* Admin requests go to the controller. A cluster that answers metadata but names no
     * controller (librdkafka's mock cluster, i.e. the devbroker) cannot create topics. */
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (merr) {
        fprintf(stderr, PROG ": cannot reach the cluster: %s\n", rd_kafka_err2str(merr));
        goto out;
    }
    rd_kafka_metadata_destroy(md);
    if (rd_kafka_controllerid(rk, timeout_ms < 3000 ? timeout_ms : 3000) < 0) {
        fprintf(stderr, PROG ": the broker does not support CreateTopics (it names no "
                             "controller; cdc-devbroker creates topics with -c CONFIG). Verifying "
                             "the topics only.\n");
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        nt[i] =
            rd_kafka_NewTopic_new(topics[i].name, topics[i].partitions, rf, errstr, sizeof errstr);
        if (nt[i] == NULL) {
            fprintf(stderr, PROG ": topic %s: %s\n", topics[i].name, errstr);
            goto out;
        }
    }
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, errstr, sizeof errstr);
    rd_kafka_CreateTopics(rk, nt, n, opts, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    if (ev == NULL) {
        fprintf(stderr, PROG ": CreateTopics: no answer within %d ms\n", timeout_ms);
        goto out;
    }
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
        err == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION || err == RD_KAFKA_RESP_ERR_INVALID_REQUEST) {
        fprintf(stderr,
                PROG ": the broker does not support CreateTopics (%s); cdc-devbroker creates "
                     "topics with -c CONFIG. Verifying the topics only.\n",
                rd_kafka_event_error_string(ev));
        rc = 1;
        goto out;
    }
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        /* The cluster answered metadata just before: a controller that never answers
         * CreateTopics is what librdkafka's mock cluster does. */
        fprintf(stderr,
                PROG ": the broker does not support CreateTopics (%s; cdc-devbroker creates "
                     "topics with -c CONFIG). Verifying the topics only.\n",
                rd_kafka_event_error_string(ev));
        rc = 1;
        goto out;
    }
    if (err) {
        fprintf(stderr, PROG ": CreateTopics failed: %s\n", rd_kafka_event_error_string(ev));
        goto out;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t nres = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &nres);
    int unsupported = 0;
    for (size_t r = 0; r < nres; r++) {
        const char *name = rd_kafka_topic_result_name(tr[r]);
        rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(tr[r]);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(topics[i].name, name) != 0)
                continue;
            if (terr == RD_KAFKA_RESP_ERR_NO_ERROR) {
                state[i] = ST_CREATED;
            } else if (terr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                state[i] = ST_EXISTS;
            } else if (terr == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION ||
                       terr == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
                       terr == RD_KAFKA_RESP_ERR_INVALID_REQUEST) {
                unsupported = 1;
            } else {
                state[i] = ST_FAILED;
                fprintf(stderr, PROG ": creating %s: %s\n", name,
                        rd_kafka_topic_result_error_string(tr[r])
                            ? rd_kafka_topic_result_error_string(tr[r])
                            : rd_kafka_err2str(terr));
            }
        }
    }
    if (unsupported) {
        fprintf(stderr, PROG ": the broker does not support CreateTopics; cdc-devbroker creates "
                             "topics with -c CONFIG. Verifying the topics only.\n");
        rc = 1;
        goto out;
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n; i++)
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Partition count of topic in md, -1 when absent. */
static int md_partitions(const rd_kafka_metadata_t *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            return md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                       ? -1
                       : md->topics[i].partition_cnt;
    return -1;
}

/* Metadata of all topics; a topic just created may take a moment to show: retried. */
static int verify(rd_kafka_t *rk, const cdc_topic_spec_t *topics, size_t n,
                  const create_state_t *state, int timeout_ms)
{
    const rd_kafka_metadata_t *md = NULL;
    int64_t deadline = ctl_now_ms() + timeout_ms;
    int bad = 0;

    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
        if (err) {
            fprintf(stderr, PROG ": cannot read the cluster's metadata: %s\n",
                    rd_kafka_err2str(err));
            return -1;
        }
        int pending = 0;
        for (size_t i = 0; i < n; i++)
            if (state[i] == ST_CREATED && md_partitions(md, topics[i].name) < 0)
                pending = 1;
        if (!pending || ctl_now_ms() > deadline)
            break;
        rd_kafka_metadata_destroy(md);
        md = NULL;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        int actual = md_partitions(md, topics[i].name);
        const char *st;
        if (actual < 0) {
            st = "missing";
            bad++;
        } else if (actual != topics[i].partitions) {
            st = "MISMATCH";
            bad++;
        } else {
            st = state[i] == ST_CREATED ? "created" : "exists";
        }
        printf("%s %d %d %s\n", topics[i].name, topics[i].partitions, actual < 0 ? 0 : actual, st);
        if (actual >= 0 && actual != topics[i].partitions)
            fprintf(stderr,
                    PROG ": topic %s has %d partitions, the config says %d: the producer refuses "
                         "to run; recreate the topic (data is lost) or change the config\n",
                    topics[i].name, actual, topics[i].partitions);
        else if (actual < 0)
            fprintf(stderr, PROG ": topic %s is missing\n", topics[i].name);
    }
    rd_kafka_metadata_destroy(md);
    return bad;
}

enum { OPT_RF = CDC_CLI_OPT_FIRST_OWN, OPT_VERIFY, OPT_TIMEOUT };

typedef struct topics_args_s {
    long rf, timeout_s;
    int verify_only;
} topics_args_t;

static int own_option(void *ctx, int c, const char *arg)
{
    topics_args_t *a = ctx;

    switch (c) {
    case OPT_RF:
        if (cdc_cli_parse_long(arg, -1, 32767, &a->rf) < 0 || a->rf == 0)
            return cdc_cli_usage_error(PROG, "--replication-factor: \"%s\" is not -1 or 1..32767",
                                       arg);
        break;
    case OPT_VERIFY:
        a->verify_only = 1;
        break;
    case OPT_TIMEOUT:
        if (cdc_cli_parse_long(arg, 1, 3600, &a->timeout_s) < 0)
            return cdc_cli_usage_error(PROG, "--timeout: \"%s\" is not 1..3600", arg);
        break;
    }
    return 0;
}

int ctl_topics_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"replication-factor", required_argument, NULL, OPT_RF},
        {"verify-only", no_argument, NULL, OPT_VERIFY},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {NULL, 0, NULL, 0},
    };
    topics_args_t a = {-1, 30, 0};
    const cdc_cli_spec_t spec = {PROG, ":c:h", longopts, usage, own_option, &a};
    const char *config_path = NULL;
    cdc_config_t *conf = NULL;
    cdc_topic_spec_t *topics = NULL;
    create_state_t *state = NULL;
    rd_kafka_t *rk = NULL;
    int rc, n = 0;
    size_t nt = 0;
    char errstr[1024];

    if ((rc = cdc_cli_parse(&spec, argc, argv, &config_path)) != CDC_CLI_RUN)
        goto out;
    rc = CTL_EXIT_USAGE;
    if ((conf = cdc_cli_load_config(PROG, config_path)) == NULL)
        goto out;
    rc = CTL_EXIT_OPERATIONAL;
    nt = cdc_config_topics(conf, &topics);
    state = cdc_calloc(nt ? nt : 1, sizeof *state);
    if ((rk = ctl_kafka_admin(conf, errstr, sizeof errstr)) == NULL) {
        fprintf(stderr, PROG ": %s\n", errstr);
        goto out;
    }
    int created_ok = 1;
    if (!a.verify_only) {
        int r = create_topics(rk, topics, nt, (int)a.rf, (int)a.timeout_s * 1000, state);
        created_ok = r >= 0;
    }
    n = verify(rk, topics, nt, state, (int)a.timeout_s * 1000);
    if (n < 0)
        goto out;
    if (n > 0) {
        fprintf(stderr, PROG ": %d topic(s) differ from the config %s\n", n, conf->path);
        goto out;
    }
    rc = created_ok ? CTL_EXIT_OK : CTL_EXIT_OPERATIONAL;
out:
    if (rk)
        rd_kafka_destroy(rk);
    free(state);
    if (topics)
        cdc_config_topics_free(topics, nt);
    cdc_config_destroy(conf);
    return rc;
}

/*
 * sink_consumer_setup: a sink worker's start (sink_consumer_int.h): the target database
 * (retried while the server comes up), schemas, dead-letter producer, parity publisher
 * (and its start-up sweep), the consumer with the sink's queue bounds, topic checks and
 * the subscription. The loop and the partitions' batches: sink_consumer.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "sink_consumer_int.h"

#define START_DB_TRIES 8 /* about 30 s of backoff before a worker gives up at start */

/* Opens the target database, retrying for a while when the server is not reachable yet. */
static int open_db(worker_t *w, char *errstr, size_t errstr_size)
{
    int backoff = BACKOFF_FIRST_MS * 4;
    for (int attempt = 1;; attempt++) {
        cdc_sink_status_t st = cdc_sink_db_open(w->conf, w->domain, &w->db, errstr, errstr_size);
        if (st == CDC_SINK_OK)
            return 0;
        if (st != CDC_SINK_RETRIABLE || attempt >= START_DB_TRIES || stopping(w))
            return -1;
        cdc_log_warn("target database of domain %s (retrying in %d ms): %s", w->domain, backoff,
                     errstr);
        cdc_time_sleep_ms(backoff);
        backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
    }
}

/* The domain topic, its dead-letter topic and the schemas topic must exist as configured. */
static int check_topics(worker_t *w, char *errstr, size_t errstr_size)
{
    cdc_topic_spec_t *all = NULL, mine[3];
    size_t n = cdc_config_topics(w->conf, &all), k = 0;
    int rc;

    for (size_t i = 0; i < n && k < 3; i++)
        if ((all[i].domain && strcmp(all[i].domain, w->domain) == 0) ||
            all[i].kind == CDC_TOPIC_SCHEMAS)
            mine[k++] = all[i];
    rc = cdc_kafka_check_topics(w->rk, mine, k, KAFKA_TIMEOUT_MS, errstr, errstr_size);
    cdc_config_topics_free(all, n);
    return rc;
}

/*
 * The sink's own consumer queue bounds, unless the config sets them. librdkafka 2.0
 * compares queued.min.messages with the whole consumer queue (the partitions' queues are
 * forwarded to it) and, once a bound is reached, fetches again only after about a second:
 * with the cdc_kafka defaults (10,000 messages, 8 MiB) a worker read ~12k records a
 * second and idled the rest (bench, 200k rows). So the count bound is lifted and the
 * byte bound holds about a second of snapshot reading (16 MiB; 8 MiB starved the worker,
 * 24 MiB cost ~35 MiB of peak RSS for nothing, docs/bench.md "Sink hot path");
 * fetch.max.bytes bounds how far one fetch response overshoots it. The open batches have
 * their own budget (--batch-bytes).
 * fetch.wait.max.ms bounds how long a broker may hold an empty fetch: brokers that do not
 * answer as soon as records arrive (the devbroker's mock cluster waits the whole 500 ms
 * default) would otherwise add it to the latency of a quiet partition.
 */
static const char *const sink_consumer_props[][2] = {
    {"queued.min.messages", "1000000"},
    {"queued.max.messages.kbytes", "16384"},
    {"fetch.max.bytes", "4194304"},
    {"fetch.wait.max.ms", "20"},
};

static int user_set(const cdc_config_t *conf, const char *name)
{
    const cdc_kvlist_t *lists[2] = {&conf->kafka, &conf->kafka_consumer};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->count; i++)
            if (strcmp(lists[l]->items[i].key, name) == 0)
                return 1;
    return 0;
}

static int sink_conf(const cdc_config_t *conf, rd_kafka_conf_t *kc, char *errstr,
                     size_t errstr_size)
{
    char err[256];
    for (size_t i = 0; i < sizeof(sink_consumer_props) / sizeof(sink_consumer_props[0]); i++)
        if (!user_set(conf, sink_consumer_props[i][0]) &&
            rd_kafka_conf_set(kc, sink_consumer_props[i][0], sink_consumer_props[i][1], err,
                              sizeof(err)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "librdkafka property `%s`: %s", sink_consumer_props[i][0],
                     err);
            return -1;
        }
    return 0;
}

int cdc_sink_worker_setup(worker_t *w, char *errstr, size_t errstr_size)
{
    char *group = cdc_kafka_sink_group(w->conf, w->domain);
    rd_kafka_conf_t *kc = NULL;
    char err[512];
    int rc = -1;

    w->topic = cdc_asprintf("%s.%s", w->conf->topic_prefix, w->domain);
    if (open_db(w, errstr, errstr_size) < 0)
        goto out;
    w->schemas = cdc_sink_schemas_new(w->conf, w->domain, errstr, errstr_size);
    if (!w->schemas)
        goto out;
    w->dec = cdc_sink_decoder_new(w->schemas);
    w->dlq = cdc_sink_dlq_new(w->conf, w->domain, errstr, errstr_size);
    if (!w->dlq)
        goto out;
    w->outbox = cdc_sink_outbox_new(w->conf, w->domain, errstr, errstr_size);
    if (!w->outbox)
        goto out;
    /* Parity results a crashed worker committed but did not publish (sink_outbox.h). */
    if (cdc_sink_outbox_publish(w->outbox, w->db, err, sizeof(err)) < 0)
        cdc_log_warn("parity outbox of domain %s not published yet (retried): %s", w->domain, err);
    kc = cdc_kafka_conf_new(w->conf, CDC_KAFKA_CONSUMER, group, errstr, errstr_size);
    if (!kc)
        goto out;
    if (sink_conf(w->conf, kc, errstr, errstr_size) < 0) {
        rd_kafka_conf_destroy(kc);
        goto out;
    }
    rd_kafka_conf_set_rebalance_cb(kc, cdc_sink_worker_rebalance_cb);
    rd_kafka_conf_set_opaque(kc, w);
    w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    if (!w->rk) {
        rd_kafka_conf_destroy(kc);
        snprintf(errstr, errstr_size, "cannot create the consumer of %s: %s", w->topic, err);
        goto out;
    }
    rd_kafka_poll_set_consumer(w->rk);
    if (check_topics(w, err, sizeof(err)) < 0) {
        snprintf(errstr, errstr_size, "Kafka cluster: %s", err);
        goto out;
    }
    if (cdc_sink_schemas_load(w->schemas, KAFKA_TIMEOUT_MS, err, sizeof(err)) < 0)
        cdc_log_warn("%s (read again when a record needs a schema)", err);
    if (cdc_kafka_subscribe(w->rk, w->topic, errstr, errstr_size) < 0)
        goto out;
    cdc_log_info("worker of domain %s: group %s, topic %s, %zu schemas known", w->domain, group,
                 w->topic, cdc_sink_schemas_count(w->schemas));
    rc = 0;
out:
    free(group);
    return rc;
}

#include "cdc_kafka.h"

#include "cdc_alloc.h"
#include "cdc_log.h"

#include <stdio.h>
#include <string.h>

/* Bounded defaults, applied only where the user's config set nothing. */
static const char *const producer_defaults[][2] = {
    {"queue.buffering.max.kbytes", "16384"},
    {"queue.buffering.max.messages", "100000"},
    {"compression.type", "lz4"},
    {"linger.ms", "5"},
    /* Retriable errors are retried until they succeed or turn fatal: a record that timed
     * out would leave a hole below positions we could otherwise acknowledge. */
    {"message.timeout.ms", "0"},
};

static const char *const consumer_defaults[][2] = {
    {"queued.max.messages.kbytes", "8192"}, {"queued.min.messages", "10000"},
    {"fetch.max.bytes", "8388608"},         {"max.partition.fetch.bytes", "1048576"},
    {"session.timeout.ms", "10000"},        {"heartbeat.interval.ms", "1000"},
};

static int set_prop(rd_kafka_conf_t *kc, const char *name, const char *value, char *errstr,
                    size_t errstr_size)
{
    char err[256];
    if (rd_kafka_conf_set(kc, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "librdkafka property `%s`: %s", name, err);
        return -1;
    }
    return 0;
}

static int set_list(rd_kafka_conf_t *kc, const cdc_kvlist_t *l, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < l->count; i++)
        if (set_prop(kc, l->items[i].key, l->items[i].value, errstr, errstr_size) < 0)
            return -1;
    return 0;
}

static int user_set(const cdc_config_t *c, const cdc_kvlist_t *role, const char *name)
{
    const cdc_kvlist_t *lists[2] = {&c->kafka, role};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->count; i++)
            if (strcmp(lists[l]->items[i].key, name) == 0)
                return 1;
    return 0;
}

rd_kafka_conf_t *cdc_kafka_conf_new(const cdc_config_t *c, cdc_kafka_role_t role,
                                    const char *group_id, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    const cdc_kvlist_t *role_props =
        role == CDC_KAFKA_PRODUCER ? &c->kafka_producer : &c->kafka_consumer;
    if (set_list(kc, &c->kafka, errstr, errstr_size) < 0 ||
        set_list(kc, role_props, errstr, errstr_size) < 0)
        goto err;
    const char *const(*defs)[2] =
        role == CDC_KAFKA_PRODUCER ? producer_defaults : consumer_defaults;
    size_t n_defs = role == CDC_KAFKA_PRODUCER
                        ? sizeof(producer_defaults) / sizeof(producer_defaults[0])
                        : sizeof(consumer_defaults) / sizeof(consumer_defaults[0]);
    for (size_t i = 0; i < n_defs; i++)
        if (!user_set(c, role_props, defs[i][0]) &&
            set_prop(kc, defs[i][0], defs[i][1], errstr, errstr_size) < 0)
            goto err;
    if (role == CDC_KAFKA_PRODUCER) {
        if (set_prop(kc, "enable.idempotence", "true", errstr, errstr_size) < 0 ||
            set_prop(kc, "acks", "all", errstr, errstr_size) < 0)
            goto err;
    } else {
        if (!group_id) {
            snprintf(errstr, errstr_size, "a consumer needs a group id");
            goto err;
        }
        if (set_prop(kc, "group.id", group_id, errstr, errstr_size) < 0 ||
            set_prop(kc, "enable.auto.commit", "false", errstr, errstr_size) < 0 ||
            set_prop(kc, "enable.auto.offset.store", "false", errstr, errstr_size) < 0 ||
            set_prop(kc, "auto.offset.reset", "error", errstr, errstr_size) < 0)
            goto err;
    }
    /* Nothing relies on auto-creation: a mistyped topic must fail, not appear with the
     * broker's default partition count (the devbroker creates 4). Consumers never ask for
     * it by default (and warn when told so against brokers older than Metadata v4, like
     * the devbroker); producers do, so they are told not to. */
    if (role == CDC_KAFKA_PRODUCER &&
        set_prop(kc, "allow.auto.create.topics", "false", errstr, errstr_size) < 0)
        goto err;
    rd_kafka_conf_set_log_cb(kc, cdc_kafka_log_cb);
    return kc;
err:
    rd_kafka_conf_destroy(kc);
    return NULL;
}

char *cdc_kafka_sink_group(const cdc_config_t *c, const char *domain)
{
    return cdc_asprintf("%s.%s.sink", c->topic_prefix, domain);
}

int cdc_kafka_check_topics(rd_kafka_t *rk, const cdc_topic_spec_t *topics, size_t n, int timeout_ms,
                           char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size,
                 "cannot read cluster metadata within %d ms (is the broker reachable? check "
                 "kafka.bootstrap.servers): %s",
                 timeout_ms, rd_kafka_err2str(err));
        return -1;
    }
    size_t off = 0;
    errstr[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int found = -1;
        for (int t = 0; t < md->topic_cnt; t++) {
            if (strcmp(md->topics[t].topic, topics[i].name) == 0 && !md->topics[t].err) {
                found = md->topics[t].partition_cnt;
                break;
            }
        }
        if (found == topics[i].partitions || off >= errstr_size)
            continue;
        if (found < 0)
            off += (size_t)snprintf(errstr + off, errstr_size - off,
                                    "%stopic %s is missing (expected %d partitions)",
                                    off ? "; " : "", topics[i].name, topics[i].partitions);
        else
            off += (size_t)snprintf(errstr + off, errstr_size - off,
                                    "%stopic %s has %d partitions, the config says %d",
                                    off ? "; " : "", topics[i].name, found, topics[i].partitions);
    }
    rd_kafka_metadata_destroy(md);
    if (off && off < errstr_size)
        snprintf(errstr + off, errstr_size - off,
                 " (create them with their partition counts on the cluster; locally "
                 "`cdc-devbroker -c CONFIG` does it)");
    return off ? -1 : 0;
}

void cdc_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug */
    cdc_log_level_t l = level <= 3   ? CDC_LOG_ERROR
                        : level == 4 ? CDC_LOG_WARN
                        : level <= 6 ? CDC_LOG_INFO
                                     : CDC_LOG_DEBUG;
    CDC_LOG(l, "rdkafka %s: %s", fac, buf);
}

int cdc_kafka_subscribe(rd_kafka_t *rk, const char *topic, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t e;

    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(errstr, errstr_size, "cannot subscribe to %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

#include "sink_dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "cdc_alloc.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "cdc_murmur2.h"

struct cdc_sink_dlq_s {
    rd_kafka_t *rk;
    char *topic;
    int32_t partitions;
    uint64_t sent;
};

/* The delivery report of one dead letter, written by dr_cb in our own poll. On the heap:
 * a sender that gives up waiting marks it abandoned and dr_cb frees it later. */
typedef struct pending_s {
    int done;
    int abandoned;
    rd_kafka_resp_err_t err;
} pending_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    pending_t *p = m->_private;
    if (!p)
        return;
    if (p->abandoned) {
        if (m->err)
            cdc_log_warn("late dead letter to %s failed: %s", rd_kafka_topic_name(m->rkt),
                         rd_kafka_err2str(m->err));
        free(p);
        return;
    }
    p->err = m->err;
    p->done = 1;
}

cdc_sink_dlq_t *cdc_sink_dlq_new(const cdc_config_t *conf, const char *domain, char *errstr,
                                 size_t errstr_size)
{
    const cdc_domain_t *dom = cdc_config_domain(conf, domain);
    cdc_sink_dlq_t *d = NULL;
    rd_kafka_conf_t *kc = NULL;
    char err[512];

    if (!dom) {
        snprintf(errstr, errstr_size, "domain %s is not in the config %s", domain, conf->path);
        return NULL;
    }
    kc = cdc_kafka_conf_new(conf, CDC_KAFKA_PRODUCER, NULL, errstr, errstr_size);
    if (!kc)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    d = cdc_calloc(1, sizeof(*d));
    d->topic = cdc_asprintf("%s.%s.dlq", conf->topic_prefix, domain);
    d->partitions = dom->partitions;
    d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    if (!d->rk) {
        rd_kafka_conf_destroy(kc);
        snprintf(errstr, errstr_size, "cannot create the dead-letter producer for %s: %s", d->topic,
                 err);
        cdc_sink_dlq_destroy(d);
        return NULL;
    }
    return d;
}

void cdc_sink_dlq_destroy(cdc_sink_dlq_t *d)
{
    if (!d)
        return;
    if (d->rk) {
        if (rd_kafka_flush(d->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            cdc_log_warn("%d dead letter(s) to %s still undelivered at close",
                         rd_kafka_outq_len(d->rk), d->topic);
        rd_kafka_destroy(d->rk);
    }
    free(d->topic);
    free(d);
}

const char *cdc_sink_dlq_topic(const cdc_sink_dlq_t *d)
{
    return d->topic;
}

uint64_t cdc_sink_dlq_count(const cdc_sink_dlq_t *d)
{
    return d->sent;
}

int cdc_sink_dlq_send(cdc_sink_dlq_t *d, const cdc_dlq_info_t *info, const void *canon_key,
                      size_t canon_key_len, const void *orig_key, size_t orig_key_len,
                      int timeout_ms, char *errstr, size_t errstr_size)
{
    pending_t *p = cdc_calloc(1, sizeof(*p));
    char *value = cdc_dlq_value_json(info);
    rd_kafka_headers_t *hdrs = cdc_dlq_headers(info);
    const void *key = canon_key ? canon_key : orig_key;
    size_t key_len = canon_key ? canon_key_len : orig_key_len;
    int32_t partition = canon_key ? cdc_murmur2_partition(canon_key, canon_key_len, d->partitions)
                                  : info->origin_partition;
    int64_t deadline = now_ms() + timeout_ms;
    int rc = -1;

    if (partition < 0 || partition >= d->partitions)
        partition = 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        d->rk, RD_KAFKA_V_TOPIC(d->topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key, key ? key_len : 0), RD_KAFKA_V_VALUE(value, strlen(value)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(p),
        RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(hdrs); /* producev takes the headers only on success */
        snprintf(errstr, errstr_size, "cannot queue a dead letter to %s [%d]: %s", d->topic,
                 (int)partition, rd_kafka_err2str(err));
        goto out;
    }
    while (!p->done && now_ms() < deadline)
        rd_kafka_poll(d->rk, 50);
    if (!p->done) {
        /* The record stays queued (records never time out) and may still be delivered: the
         * caller retries, which can leave a duplicate, never a loss. */
        p->abandoned = 1;
        p = NULL;
        snprintf(errstr, errstr_size,
                 "dead letter to %s [%d] not confirmed within %d ms (is the broker reachable?)",
                 d->topic, (int)partition, timeout_ms);
        goto out;
    }
    if (p->err) {
        snprintf(errstr, errstr_size, "dead letter to %s [%d] failed: %s", d->topic, (int)partition,
                 rd_kafka_err2str(p->err));
        goto out;
    }
    d->sent++;
    cdc_log_info("dead letter to %s [%d]: %s", d->topic, (int)partition, info->reason);
    rc = 0;
out:
    free(p); /* NULL when abandoned to dr_cb */
    free(value);
    return rc;
}

#include "publisher_int.h"

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"
#include "cdc_framing.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "cdc_murmur2.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *cdc_publisher_status_name(cdc_publisher_status_t st)
{
    switch (st) {
    case CDC_PUB_OK:
        return "ok";
    case CDC_PUB_TIMEOUT:
        return "timeout";
    case CDC_PUB_STOPPED:
        return "stopped";
    case CDC_PUB_TOO_LARGE:
        return "too-large";
    case CDC_PUB_INVALID:
        return "invalid";
    case CDC_PUB_FAILED:
        return "failed";
    }
    return "unknown";
}

int64_t cdc_pub_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cdc_publisher_status_t cdc_pub_set_error(cdc_publisher_t *pub, cdc_publisher_status_t st,
                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pub->error, sizeof(pub->error), fmt, ap);
    va_end(ap);
    return st;
}

/* The first failure is the one worth reporting; later ones are its consequences. */
void cdc_pub_fail(cdc_publisher_t *pub, const char *fmt, ...)
{
    if (pub->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pub->error, sizeof(pub->error), fmt, ap);
    va_end(ap);
    pub->failed = 1;
    cdc_log_error("publisher failed: %s", pub->error);
}

/* ---- librdkafka callbacks (served in the caller's thread) ---- */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    cdc_publisher_t *pub = opaque;
    uint64_t tag = (uint64_t)(uintptr_t)m->_private;
    /* Compared by name: librdkafka does not promise that the handle in a delivery report
     * is the pointer rd_kafka_topic_new() returned. */
    if (strcmp(rd_kafka_topic_name(m->rkt), pub->schemas_topic) == 0) {
        if (!m->err)
            cdc_pub_fp_set(pub, tag, SLOT_DELIVERED);
    } else if (tag) {
        cdc_ack_tracker_delivered(pub->tracker, tag, !m->err);
    }
    if (m->err)
        cdc_pub_fail(pub, "delivery to %s [%" PRId32 "] failed: %s", rd_kafka_topic_name(m->rkt),
                     m->partition, rd_kafka_err2str(m->err));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cdc_publisher_t *pub = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        cdc_pub_fail(pub, "fatal Kafka producer error %s: %s", rd_kafka_err2name(orig), buf);
        return;
    }
    /* Transport errors are retried by librdkafka forever (message.timeout.ms=0); they
     * only delay acknowledgement, so they are not a failure. Each one is already in the
     * log through cdc_kafka_log_cb: only losing the whole cluster gets a line of its own. */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        cdc_log_warn("every Kafka broker is unreachable; records wait in the queue: %s", reason);
    else
        cdc_log_debug("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ---- construction ---- */

static const char *bootstrap_servers(const cdc_config_t *conf)
{
    const cdc_kvlist_t *lists[2] = {&conf->kafka_producer, &conf->kafka};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->count; i++)
            if (strcmp(lists[l]->items[i].key, "bootstrap.servers") == 0 ||
                strcmp(lists[l]->items[i].key, "metadata.broker.list") == 0)
                return lists[l]->items[i].value;
    return "(bootstrap.servers not set)";
}

static int fingerprint_of(const char *json, uint64_t *out, char *errstr, size_t errstr_size)
{
    return cdc_avro_fingerprint(json, strlen(json), out, errstr, errstr_size);
}

cdc_publisher_t *cdc_publisher_new(const cdc_config_t *conf, cdc_ack_tracker_t *tracker,
                                   const cdc_publisher_opts_t *opts, char *errstr,
                                   size_t errstr_size)
{
    cdc_publisher_t *pub = cdc_calloc(1, sizeof(*pub));
    cdc_topic_spec_t *topics = NULL;
    size_t n_topics = 0;
    rd_kafka_conf_t *kc = NULL;
    char err[512];

    pub->conf = conf;
    pub->tracker = tracker;
    if (opts)
        pub->opts = *opts;
    if (pub->opts.start_timeout_ms <= 0)
        pub->opts.start_timeout_ms = DEFAULT_TIMEOUT_MS;
    if (pub->opts.schema_timeout_ms <= 0)
        pub->opts.schema_timeout_ms = DEFAULT_TIMEOUT_MS;
    if (pub->opts.close_timeout_ms <= 0)
        pub->opts.close_timeout_ms = DEFAULT_TIMEOUT_MS;
    cdc_buf_init(&pub->key_buf);
    cdc_buf_init(&pub->val_buf);

    if (fingerprint_of(cdc_avro_schema_control_json(), &pub->ctl_fp, err, sizeof(err)) < 0 ||
        fingerprint_of(cdc_avro_schema_control_key_json(), &pub->ctl_key_fp, err, sizeof(err)) <
            0) {
        snprintf(errstr, errstr_size, "control schema: %s", err);
        goto err;
    }
    pub->ctl_val_framing_len = cdc_framing_single_object_encode(pub->ctl_fp, pub->ctl_val_framing);
    pub->ctl_key_framing_len =
        cdc_framing_single_object_encode(pub->ctl_key_fp, pub->ctl_key_framing);

    kc = cdc_kafka_conf_new(conf, CDC_KAFKA_PRODUCER, NULL, errstr, errstr_size);
    if (!kc)
        goto err;
    rd_kafka_conf_set_dr_msg_cb(kc, dr_msg_cb);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    rd_kafka_conf_set_opaque(kc, pub);
    pub->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    if (!pub->rk) {
        snprintf(errstr, errstr_size, "cannot create the Kafka producer: %s", err);
        goto err;
    }
    kc = NULL; /* rd_kafka_new took it */

    n_topics = cdc_config_topics(conf, &topics);
    if (cdc_kafka_check_topics(pub->rk, topics, n_topics, pub->opts.start_timeout_ms, err,
                               sizeof(err)) < 0) {
        snprintf(errstr, errstr_size, "Kafka cluster at %s: %s", bootstrap_servers(conf), err);
        goto err;
    }

    pub->domains = cdc_calloc(conf->n_domains ? conf->n_domains : 1, sizeof(pub_domain_t));
    for (size_t i = 0; i < conf->n_domains; i++) {
        pub_domain_t *d = &pub->domains[pub->n_domains++];
        char *name = cdc_asprintf("%s.%s", conf->topic_prefix, conf->domains[i].name);
        char *dlq = cdc_asprintf("%s.%s.dlq", conf->topic_prefix, conf->domains[i].name);
        d->name = cdc_strdup(conf->domains[i].name);
        d->partitions = conf->domains[i].partitions;
        d->rkt = rd_kafka_topic_new(pub->rk, name, NULL);
        d->dlq_rkt = rd_kafka_topic_new(pub->rk, dlq, NULL);
        free(name);
        free(dlq);
        if (!d->rkt || !d->dlq_rkt) {
            snprintf(errstr, errstr_size, "cannot create topic handles for domain %s: %s", d->name,
                     rd_kafka_err2str(rd_kafka_last_error()));
            goto err;
        }
    }
    pub->schemas_topic = cdc_asprintf("%s.schemas", conf->topic_prefix);
    pub->schemas_rkt = rd_kafka_topic_new(pub->rk, pub->schemas_topic, NULL);
    if (!pub->schemas_rkt) {
        snprintf(errstr, errstr_size, "cannot create a topic handle for %s: %s", pub->schemas_topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto err;
    }
    snprintf(pub->error, sizeof(pub->error), "no error");
    cdc_config_topics_free(topics, n_topics);
    return pub;
err:
    if (kc)
        rd_kafka_conf_destroy(kc);
    cdc_config_topics_free(topics, n_topics);
    pub->opts.close_timeout_ms = 1; /* nothing was produced: do not wait on close */
    cdc_publisher_destroy(pub);
    return NULL;
}

void cdc_publisher_destroy(cdc_publisher_t *pub)
{
    if (!pub)
        return;
    if (pub->rk) {
        rd_kafka_flush(pub->rk, pub->opts.close_timeout_ms);
        int left = rd_kafka_outq_len(pub->rk);
        if (left > 0)
            cdc_log_warn("publisher closing with %d records undelivered after %d ms; their "
                         "positions stay unacknowledged and are sent again on restart",
                         left, pub->opts.close_timeout_ms);
    }
    for (size_t i = 0; i < pub->n_domains; i++) {
        if (pub->domains[i].rkt)
            rd_kafka_topic_destroy(pub->domains[i].rkt);
        if (pub->domains[i].dlq_rkt)
            rd_kafka_topic_destroy(pub->domains[i].dlq_rkt);
        free(pub->domains[i].name);
    }
    if (pub->schemas_rkt)
        rd_kafka_topic_destroy(pub->schemas_rkt);
    if (pub->rk)
        rd_kafka_destroy(pub->rk);
    free(pub->domains);
    free(pub->schemas_topic);
    free(pub->fp);
    free(pub->fp_state);
    cdc_buf_free(&pub->key_buf);
    cdc_buf_free(&pub->val_buf);
    free(pub);
}

const char *cdc_publisher_error(const cdc_publisher_t *pub)
{
    return pub->error;
}

int cdc_publisher_failed(const cdc_publisher_t *pub)
{
    return pub->failed;
}

const pub_domain_t *cdc_pub_find_domain(const cdc_publisher_t *pub, const char *name)
{
    for (size_t i = 0; i < pub->n_domains; i++)
        if (strcmp(pub->domains[i].name, name) == 0)
            return &pub->domains[i];
    return NULL;
}

int32_t cdc_publisher_partition(const cdc_publisher_t *pub, const char *domain, const void *key,
                                size_t key_len)
{
    const pub_domain_t *d = cdc_pub_find_domain(pub, domain);
    return d ? cdc_murmur2_partition(key, key_len, d->partitions) : -1;
}

/* ---- producing ---- */

cdc_publisher_status_t cdc_pub_produce(cdc_publisher_t *pub, rd_kafka_topic_t *rkt,
                                       int32_t partition, const void *key, size_t key_len,
                                       const void *value, size_t value_len,
                                       rd_kafka_headers_t *headers, uint64_t tag)
{
    int64_t waiting_since = 0, last_warn = 0;
    cdc_publisher_status_t st = CDC_PUB_OK;
    for (;;) {
        if (pub->failed) {
            st = CDC_PUB_FAILED;
            break;
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
            pub->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)tag), RD_KAFKA_V_END);
        if (!err)
            return CDC_PUB_OK; /* librdkafka owns the headers now */
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            int64_t t = cdc_pub_now_ms();
            if (!waiting_since)
                waiting_since = last_warn = t;
            if (pub->opts.stop && *pub->opts.stop) {
                st = cdc_pub_set_error(pub, CDC_PUB_STOPPED,
                                       "stopped while waiting for room in the producer queue");
                break;
            }
            if (t - last_warn >= QUEUE_FULL_WARN_MS) {
                cdc_log_warn("producer queue full for %" PRId64 " ms (%d records undelivered); "
                             "waiting for Kafka",
                             t - waiting_since, rd_kafka_outq_len(pub->rk));
                last_warn = t;
            }
            rd_kafka_poll(pub->rk, QUEUE_FULL_POLL_MS);
            continue;
        }
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
            st = cdc_pub_set_error(pub, CDC_PUB_TOO_LARGE,
                                   "record of %zu bytes (key %zu bytes) for %s [%" PRId32
                                   "] exceeds message.max.bytes",
                                   value_len, key_len, rd_kafka_topic_name(rkt), partition);
            break;
        }
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            char buf[256];
            rd_kafka_fatal_error(pub->rk, buf, sizeof(buf));
            cdc_pub_fail(pub, "fatal Kafka producer error: %s", buf);
        } else {
            cdc_pub_fail(pub, "cannot produce to %s [%" PRId32 "]: %s", rd_kafka_topic_name(rkt),
                         partition, rd_kafka_err2str(err));
        }
        st = CDC_PUB_FAILED;
        break;
    }
    if (headers)
        rd_kafka_headers_destroy(headers);
    return st;
}

/* A framed payload (value, or key framing header) whose single-object fingerprint was
 * not confirmed on <prefix>.schemas. Other framings are not ours to check here. */
static int unpublished_schema(const cdc_publisher_t *pub, const void *p, size_t len, uint64_t *fp)
{
    return cdc_framing_detect(p, len, fp, NULL, NULL) == CDC_FRAMING_SINGLE_OBJECT &&
           !cdc_publisher_schema_known(pub, *fp);
}

cdc_publisher_status_t cdc_publisher_send_row(cdc_publisher_t *pub, const cdc_publisher_row_t *r)
{
    if (pub->failed)
        return CDC_PUB_FAILED;
    const pub_domain_t *d = cdc_pub_find_domain(pub, r->domain);
    if (!d)
        return cdc_pub_set_error(pub, CDC_PUB_INVALID, "unknown domain %s", r->domain);
    uint64_t fp;
    if (unpublished_schema(pub, r->value, r->value_len, &fp) ||
        (r->key_framing_len && unpublished_schema(pub, r->key_framing, r->key_framing_len, &fp)))
        return cdc_pub_set_error(pub, CDC_PUB_INVALID,
                                 "record of %s.%s uses schema %016" PRIx64
                                 " which is not confirmed on %s yet (call ensure_schema first)",
                                 r->source, r->table, fp, pub->schemas_topic);
    int32_t partition = cdc_murmur2_partition(r->key, r->key_len, d->partitions);

    cdc_buf_reset(&pub->key_buf);
    cdc_buf_put(&pub->key_buf, r->key_framing, r->key_framing_len);
    cdc_buf_put(&pub->key_buf, r->key, r->key_len);

    char pos[48], op[2] = {r->op, '\0'};
    snprintf(pos, sizeof(pos), "%" PRId64 ":%" PRId64, r->position.epoch, r->position.h);
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "cdc.source", -1, r->source, -1);
    rd_kafka_header_add(h, "cdc.table", -1, r->table, -1);
    rd_kafka_header_add(h, "cdc.op", -1, op, -1);
    rd_kafka_header_add(h, "cdc.position", -1, pos, -1);

    cdc_publisher_status_t st =
        cdc_pub_produce(pub, d->rkt, partition, pub->key_buf.data, pub->key_buf.len, r->value,
                        r->value_len, h, r->batch);
    if (st == CDC_PUB_OK && r->batch)
        cdc_ack_tracker_add(pub->tracker, r->batch);
    return st;
}

cdc_publisher_status_t cdc_publisher_send_dead_letter(cdc_publisher_t *pub, const char *domain,
                                                      const cdc_dlq_info_t *info, const void *key,
                                                      size_t key_len, uint64_t batch)
{
    if (pub->failed)
        return CDC_PUB_FAILED;
    const pub_domain_t *d = cdc_pub_find_domain(pub, domain);
    if (!d)
        return cdc_pub_set_error(pub, CDC_PUB_INVALID, "unknown domain %s for a dead letter",
                                 domain);
    int32_t partition = key ? cdc_murmur2_partition(key, key_len, d->partitions) : 0;
    char *value = cdc_dlq_value_json(info);
    cdc_publisher_status_t st = cdc_pub_produce(pub, d->dlq_rkt, partition, key, key ? key_len : 0,
                                                value, strlen(value), cdc_dlq_headers(info), batch);
    free(value);
    if (st == CDC_PUB_OK && batch)
        cdc_ack_tracker_add(pub->tracker, batch);
    return st;
}

/* ---- serving delivery reports ---- */

cdc_publisher_status_t cdc_publisher_poll(cdc_publisher_t *pub, int timeout_ms)
{
    rd_kafka_poll(pub->rk, timeout_ms);
    return pub->failed ? CDC_PUB_FAILED : CDC_PUB_OK;
}

cdc_publisher_status_t cdc_publisher_flush(cdc_publisher_t *pub, int timeout_ms)
{
    rd_kafka_flush(pub->rk, timeout_ms);
    if (pub->failed)
        return CDC_PUB_FAILED;
    int left = rd_kafka_outq_len(pub->rk);
    if (left > 0)
        return cdc_pub_set_error(pub, CDC_PUB_TIMEOUT, "%d records still undelivered after %d ms",
                                 left, timeout_ms);
    return CDC_PUB_OK;
}

int cdc_publisher_queued(const cdc_publisher_t *pub)
{
    return rd_kafka_outq_len(pub->rk);
}

/*
 * What the publisher sends besides rows: schemas on <prefix>.schemas (once per process,
 * delivery confirmed before use) and control records (heartbeats, snapshot end markers)
 * on every partition of a domain topic.
 */
#include "publisher_int.h"

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"
#include "cdc_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- fingerprint set ---- */

static size_t fp_slot(const cdc_publisher_t *pub, uint64_t fp)
{
    size_t mask = pub->fp_cap - 1;
    size_t i = (size_t)(fp ^ (fp >> 29)) & mask;
    while (pub->fp_state[i] != SLOT_EMPTY && pub->fp[i] != fp)
        i = (i + 1) & mask;
    return i;
}

static void fp_grow(cdc_publisher_t *pub)
{
    uint64_t *old = pub->fp;
    unsigned char *old_state = pub->fp_state;
    size_t old_cap = pub->fp_cap;
    pub->fp_cap = old_cap ? old_cap * 2 : 64;
    pub->fp = cdc_calloc(pub->fp_cap, sizeof(uint64_t));
    pub->fp_state = cdc_calloc(pub->fp_cap, 1);
    for (size_t i = 0; i < old_cap; i++) {
        if (old_state[i] == SLOT_EMPTY)
            continue;
        size_t j = fp_slot(pub, old[i]);
        pub->fp[j] = old[i];
        pub->fp_state[j] = old_state[i];
    }
    free(old);
    free(old_state);
}

int cdc_pub_fp_state(const cdc_publisher_t *pub, uint64_t fp)
{
    return pub->fp_cap ? pub->fp_state[fp_slot(pub, fp)] : SLOT_EMPTY;
}

void cdc_pub_fp_set(cdc_publisher_t *pub, uint64_t fp, int state)
{
    if ((pub->fp_count + 1) * 2 > pub->fp_cap)
        fp_grow(pub);
    size_t i = fp_slot(pub, fp);
    if (pub->fp_state[i] == SLOT_EMPTY)
        pub->fp_count++;
    pub->fp[i] = fp;
    pub->fp_state[i] = (unsigned char)state;
}

int cdc_publisher_schema_known(const cdc_publisher_t *pub, uint64_t fingerprint)
{
    return cdc_pub_fp_state(pub, fingerprint) == SLOT_DELIVERED;
}

/* ---- schemas ---- */

/* Serves delivery reports until the schema fp is confirmed, the publisher fails or
 * timeout_ms pass. */
static cdc_publisher_status_t await_schema(cdc_publisher_t *pub, uint64_t fp, int timeout_ms)
{
    int64_t deadline = cdc_pub_now_ms() + timeout_ms;
    for (;;) {
        if (pub->failed)
            return CDC_PUB_FAILED;
        if (cdc_pub_fp_state(pub, fp) == SLOT_DELIVERED)
            return CDC_PUB_OK;
        int64_t left = deadline - cdc_pub_now_ms();
        if (left <= 0)
            return cdc_pub_set_error(pub, CDC_PUB_TIMEOUT,
                                     "schema %016" PRIx64 " not confirmed on %s within %d ms "
                                     "(is the Kafka cluster reachable?)",
                                     fp, pub->schemas_topic, timeout_ms);
        rd_kafka_poll(pub->rk, left < 50 ? (int)left : 50);
    }
}

cdc_publisher_status_t cdc_publisher_ensure_schema(cdc_publisher_t *pub, const char *json,
                                                   size_t len, uint64_t fingerprint)
{
    if (pub->failed)
        return CDC_PUB_FAILED;
    int state = cdc_pub_fp_state(pub, fingerprint);
    if (state == SLOT_DELIVERED)
        return CDC_PUB_OK;
    if (state == SLOT_EMPTY) {
        char err[256];
        uint64_t actual;
        if (cdc_avro_fingerprint(json, len, &actual, err, sizeof(err)) < 0)
            return cdc_pub_set_error(pub, CDC_PUB_INVALID, "schema %016" PRIx64 " is not valid: %s",
                                     fingerprint, err);
        if (actual != fingerprint)
            return cdc_pub_set_error(pub, CDC_PUB_INVALID,
                                     "schema fingerprint %016" PRIx64
                                     " given, its text has %016" PRIx64,
                                     fingerprint, actual);
        char key[17];
        snprintf(key, sizeof(key), "%016" PRIx64, fingerprint);
        /* A full queue here waits like any record; the schema is small and rare. */
        cdc_publisher_status_t st =
            cdc_pub_produce(pub, pub->schemas_rkt, 0, key, 16, json, len, NULL, fingerprint);
        if (st != CDC_PUB_OK)
            return st;
        cdc_pub_fp_set(pub, fingerprint, SLOT_SENT);
    }
    /* SENT: produced earlier, maybe by a call that timed out; wait for that record
     * rather than producing it again. */
    return await_schema(pub, fingerprint, pub->opts.schema_timeout_ms);
}

/* ---- control records ---- */

cdc_publisher_status_t cdc_publisher_set_control_framing(cdc_publisher_t *pub,
                                                         const void *key_framing, size_t key_len,
                                                         const void *value_framing,
                                                         size_t value_len)
{
    if (key_len > CONTROL_FRAMING_MAX || value_len > CONTROL_FRAMING_MAX)
        return cdc_pub_set_error(pub, CDC_PUB_INVALID, "control framing longer than %d bytes",
                                 CONTROL_FRAMING_MAX);
    memcpy(pub->ctl_key_framing, key_framing, key_len);
    pub->ctl_key_framing_len = key_len;
    memcpy(pub->ctl_val_framing, value_framing, value_len);
    pub->ctl_val_framing_len = value_len;
    return CDC_PUB_OK;
}

static cdc_publisher_status_t ensure_control_schemas(cdc_publisher_t *pub)
{
    const char *v = cdc_avro_schema_control_json(), *k = cdc_avro_schema_control_key_json();
    cdc_publisher_status_t st = cdc_publisher_ensure_schema(pub, v, strlen(v), pub->ctl_fp);
    if (st == CDC_PUB_OK)
        st = cdc_publisher_ensure_schema(pub, k, strlen(k), pub->ctl_key_fp);
    return st;
}

/* One control record per partition of the source's domain topic; ctl->partition is set
 * here. Every record is counted under batch (0: untracked). */
static cdc_publisher_status_t send_control(cdc_publisher_t *pub, cdc_avro_control_t *ctl,
                                           const char *source, uint64_t batch)
{
    if (pub->failed)
        return CDC_PUB_FAILED;
    const cdc_source_t *src = cdc_config_source(pub->conf, source);
    if (!src)
        return cdc_pub_set_error(pub, CDC_PUB_INVALID, "unknown source %s (not in %s)", source,
                                 pub->conf->path ? pub->conf->path : "the config");
    const pub_domain_t *d = cdc_pub_find_domain(pub, src->domain);
    if (!d)
        return cdc_pub_set_error(pub, CDC_PUB_INVALID, "source %s names unknown domain %s", source,
                                 src->domain);
    cdc_publisher_status_t st = ensure_control_schemas(pub);
    if (st != CDC_PUB_OK)
        return st;
    ctl->source = cdc_avro_str(source);
    for (int32_t p = 0; p < d->partitions; p++) {
        char err[256];
        ctl->partition = p;
        ctl->ts_ms = wall_ms();
        cdc_buf_reset(&pub->val_buf);
        cdc_buf_put(&pub->val_buf, pub->ctl_val_framing, pub->ctl_val_framing_len);
        if (cdc_avro_encode_control(&pub->val_buf, ctl, err, sizeof(err)) != CDC_AVRO_OK)
            return cdc_pub_set_error(pub, CDC_PUB_INVALID, "control record of %s: %s", source, err);
        cdc_buf_reset(&pub->key_buf);
        cdc_buf_put(&pub->key_buf, pub->ctl_key_framing, pub->ctl_key_framing_len);
        cdc_avro_encode_control_key(&pub->key_buf, source, p);
        st = cdc_pub_produce(pub, d->rkt, p, pub->key_buf.data, pub->key_buf.len, pub->val_buf.data,
                             pub->val_buf.len, NULL, batch);
        if (st != CDC_PUB_OK)
            return st;
        if (batch)
            cdc_ack_tracker_add(pub->tracker, batch);
    }
    return CDC_PUB_OK;
}

cdc_publisher_status_t cdc_publisher_heartbeat(cdc_publisher_t *pub, const char *source,
                                               int64_t epoch, int64_t acked_position,
                                               int64_t backlog_entries,
                                               int64_t oldest_unacked_age_ms)
{
    cdc_avro_control_t ctl = {0};
    ctl.op = 'h';
    ctl.epoch = epoch;
    ctl.acked_position = acked_position;
    ctl.backlog_entries = backlog_entries;
    ctl.oldest_unacked_age_ms = oldest_unacked_age_ms;
    return send_control(pub, &ctl, source, 0);
}

cdc_publisher_status_t cdc_publisher_snapshot_end(cdc_publisher_t *pub, const char *source,
                                                  const char *table, int64_t epoch,
                                                  int64_t start_position, int64_t rows,
                                                  uint64_t batch)
{
    cdc_avro_control_t ctl = {0};
    ctl.op = 'm';
    ctl.epoch = epoch;
    ctl.table = cdc_avro_str(table);
    ctl.start_position = start_position;
    ctl.rows = rows;
    return send_control(pub, &ctl, source, batch);
}

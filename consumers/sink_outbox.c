/*
 * sink_outbox: the parity publisher's Kafka side (sink_outbox.h, docs/parity.md): the
 * producer, cdc.Parity records built from _cdc_parity_outbox rows, delivery reports.
 * When and which rows are published: sink_outbox_pub.c.
 */
#include "sink_outbox_int.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc_alloc.h"
#include "cdc_avro_value.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "cdc_murmur2.h"
#include "parity_record.h"
#include "sink_copy.h"

#define OUTBOX_CHUNK_ROWS   1000 /* outbox rows per cdc.Parity record: bounds its size */
#define OUTBOX_RETRY_MIN_MS 1000

int64_t cdc_sink_outbox_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Served by rd_kafka_poll/rd_kafka_flush on the worker's thread. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    outbox_pub_t *p = m->_private;
    (void)rk;
    (void)opaque;
    if (p == NULL)
        return;
    if (m->err) {
        p->failed++;
        p->last_err = m->err;
    } else {
        p->delivered++;
    }
}

outbox_pub_t *cdc_sink_outbox_pub_new(cdc_sink_outbox_t *o, int own)
{
    outbox_pub_t *p = cdc_calloc(1, sizeof(*p));
    p->own = own;
    p->next = o->pubs;
    o->pubs = p;
    return p;
}

cdc_sink_outbox_t *cdc_sink_outbox_new(const cdc_config_t *conf, const char *domain, char *errstr,
                                       size_t errstr_size)
{
    cdc_sink_outbox_t *o = cdc_calloc(1, sizeof(*o));
    rd_kafka_conf_t *kc = cdc_kafka_conf_new(conf, CDC_KAFKA_PRODUCER, NULL, errstr, errstr_size);
    const char *crash = getenv("CDC_SINK_CRASH_AFTER_COMMIT");
    const char *crash_mark = getenv("CDC_SINK_CRASH_BEFORE_MARK");
    char err[512];

    o->conf = conf;
    o->domain = cdc_strdup(domain);
    o->topic = cdc_asprintf("%s.validation", conf->topic_prefix);
    o->schemas_topic = cdc_asprintf("%s.schemas", conf->topic_prefix);
    o->partitions = conf->validation_partitions > 0 ? conf->validation_partitions : 1;
    o->retry_ms = OUTBOX_RETRY_MIN_MS;
    o->swept_at = cdc_sink_outbox_mono_ms();
    o->crash_after = crash && *crash ? strtol(crash, NULL, 10) : 0;
    if (o->crash_after > 0)
        cdc_log_warn("test hook CDC_SINK_CRASH_AFTER_COMMIT=%ld: this worker kills itself after "
                     "its committed batch number %ld, before publishing its parity results",
                     o->crash_after, o->crash_after);
    o->crash_before_mark = crash_mark && *crash_mark ? strtol(crash_mark, NULL, 10) : 0;
    if (o->crash_before_mark > 0)
        cdc_log_warn("test hook CDC_SINK_CRASH_BEFORE_MARK=%ld: this worker kills itself when "
                     "Kafka confirmed its publication number %ld, before marking the rows sent",
                     o->crash_before_mark, o->crash_before_mark);
    if (!kc)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    rd_kafka_conf_set_opaque(kc, o);
    o->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    if (!o->rk) {
        rd_kafka_conf_destroy(kc);
        snprintf(errstr, errstr_size, "cannot create the parity producer for %s: %s", o->topic,
                 err);
        goto fail;
    }
    return o;
fail:
    cdc_sink_outbox_destroy(o);
    return NULL;
}

void cdc_sink_outbox_destroy(cdc_sink_outbox_t *o)
{
    if (!o)
        return;
    if (o->rk) {
        if (rd_kafka_flush(o->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            cdc_log_warn("%d parity record(s) to %s still undelivered at close (their outbox "
                         "rows stay unsent and are published again)",
                         rd_kafka_outq_len(o->rk), o->topic);
        rd_kafka_destroy(o->rk);
    }
    while (o->pubs) {
        outbox_pub_t *p = o->pubs;
        o->pubs = p->next;
        free(p->txs);
        free(p);
    }
    free(o->own);
    free(o->domain);
    free(o->topic);
    free(o->schemas_topic);
    free(o);
}

/* Queues one message, serving delivery reports while the queue is full. */
static int produce(cdc_sink_outbox_t *o, outbox_pub_t *pub, const char *topic, int32_t partition,
                   const void *key, size_t key_len, const void *val, size_t val_len, char *errstr,
                   size_t errstr_size)
{
    int64_t deadline = cdc_sink_outbox_mono_ms() + OUTBOX_FLUSH_MS;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            o->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)val, val_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(pub), RD_KAFKA_V_END);
        if (!err) {
            pub->queued++;
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || cdc_sink_outbox_mono_ms() > deadline) {
            snprintf(errstr, errstr_size, "cannot queue a parity record to %s [%d]: %s", topic,
                     (int)partition, rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(o->rk, 50);
    }
}

/* The key columns of (source, table) as JSON, from the worker's table descriptors; NULL
 * when no descriptor of that table is loaded (after a restart) or the key does not
 * decode with it (the columns changed). Caller frees. */
static char *key_json(const cdc_sink_db_t *db, const char *source, const char *table,
                      const unsigned char *key, size_t key_len)
{
    const cdc_sink_table_t *t;
    cdc_decoded_value_t *vals = NULL;
    cdc_avro_str_t s, tb;
    cdc_buf_t out = CDC_BUF_INIT, scratch = CDC_BUF_INIT;
    char err[256], *res = NULL;

    for (t = db->tables; t; t = t->next)
        if (strcmp(t->source, source) == 0 && strcmp(t->table, table) == 0)
            break;
    if (!t || t->nkeys == 0)
        return NULL;
    vals = cdc_calloc(t->nkeys, sizeof(*vals));
    if (cdc_avro_decode_key(key, key_len, t->cols, t->ncols, &s, &tb, vals, err, sizeof err) !=
        CDC_AVRO_OK)
        goto out;
    cdc_buf_put_byte(&out, '{');
    for (size_t k = 0; k < t->nkeys; k++) {
        const cdc_column_t *col = &t->cols[t->key_cols[k]];
        if (k > 0)
            cdc_buf_put_byte(&out, ',');
        cdc_sink_copy_put_json_string(&out, col->name, strlen(col->name));
        cdc_buf_put_byte(&out, ':');
        cdc_sink_copy_put_json_value(&out, &col->type, &vals[k], &scratch);
    }
    cdc_buf_put_byte(&out, '}');
    res = cdc_strdup(cdc_buf_cstr(&out));
out:
    free(vals);
    cdc_buf_free(&out);
    cdc_buf_free(&scratch);
    return res;
}

/* The record being built: one (tx, source, table) chunk. Entry bytes are owned here. */
typedef struct chunk_s {
    cdc_parity_rec_t rec;
    long nrows; /* outbox rows in it (one may stand for many counted results) */
    size_t cap;
    void **owned; /* PQunescapeBytea results and key JSON strings */
    size_t nowned, owned_cap;
} chunk_t;

static void chunk_own(chunk_t *c, void *p)
{
    if (c->nowned == c->owned_cap) {
        c->owned_cap = c->owned_cap ? c->owned_cap * 2 : 32;
        c->owned = cdc_realloc(c->owned, c->owned_cap * sizeof(*c->owned));
    }
    c->owned[c->nowned++] = p;
}

static void chunk_reset(chunk_t *c)
{
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]); /* PQfreemem is free() on every platform we build for */
    c->nowned = 0;
    c->nrows = 0;
    c->rec.nentries = 0;
    c->rec.rows = c->rec.matches = c->rec.superseded = c->rec.mismatches = 0;
    c->rec.dead_letters = 0;
    c->rec.has_last = 0;
}

static const unsigned char *bytea_of(chunk_t *c, const PGresult *res, int row, int col, size_t *len)
{
    unsigned char *p;
    *len = 0;
    if (PQgetisnull(res, row, col))
        return NULL;
    p = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), len);
    if (p)
        chunk_own(c, p);
    return p;
}

/* Columns of the publication's SELECT. */
enum {
    C_ID,
    C_TX,
    C_SOURCE,
    C_TABLE,
    C_EPOCH,
    C_POS,
    C_OP,
    C_STATUS,
    C_KEY,
    C_SRC_H,
    C_STO_H,
    C_RESULTS
};

#define SELECT_COLUMNS                                                                             \
    "SELECT o.id, o.batch_tx AS tx, coalesce(o.source, ''),"                                       \
    " coalesce(o.source_table, ''), o.epoch, o.pos, o.op, o.status,"                               \
    " CASE WHEN o.status IN ('mismatch', 'dead_letter') THEN o.key END,"                           \
    " CASE WHEN o.status IN ('mismatch', 'dead_letter') THEN o.source_hash END,"                   \
    " CASE WHEN o.status IN ('mismatch', 'dead_letter') THEN o.stored_hash END,"                   \
    " o.results"                                                                                   \
    " FROM _cdc_parity_outbox o WHERE o.domain = $1 AND NOT o.sent"

/* Rows of up to $2 batch transactions at least $3 seconds old (the sweep). */
static const char select_sweep_sql[] =
    SELECT_COLUMNS " AND o.batch_tx IN (SELECT DISTINCT batch_tx FROM _cdc_parity_outbox"
                   " WHERE domain = $1 AND NOT sent AND created_at <= now() - $3::int *"
                   " interval '1 second' LIMIT $2::int)"
                   " ORDER BY 2, 3, 4, 1";

/* Rows of the given batch transactions (a worker's own). */
static const char select_txs_sql[] =
    SELECT_COLUMNS " AND o.batch_tx = ANY($2::bigint[]) ORDER BY 2, 3, 4, 1";

const char *cdc_sink_outbox_select_sql(int with_txs)
{
    return with_txs ? select_txs_sql : select_sweep_sql;
}

/* Adds row r of res to the chunk; returns the results it stands for. */
static int64_t chunk_add(chunk_t *c, const cdc_sink_db_t *db, const PGresult *res, int r)
{
    const char *status = PQgetvalue(res, r, C_STATUS);
    int has_pos = !PQgetisnull(res, r, C_EPOCH) && !PQgetisnull(res, r, C_POS);
    int64_t epoch = has_pos ? strtoll(PQgetvalue(res, r, C_EPOCH), NULL, 10) : 0;
    int64_t pos = has_pos ? strtoll(PQgetvalue(res, r, C_POS), NULL, 10) : 0;
    cdc_parity_rec_t *rec = &c->rec;
    /* A counted row (match, superseded) stands for this many results; others for one. */
    int64_t n = strtoll(PQgetvalue(res, r, C_RESULTS), NULL, 10);

    if (c->nrows++ == 0)
        rec->batch_id = strtoll(PQgetvalue(res, r, C_ID), NULL, 10); /* ORDER BY ..., id */
    if (n < 1)
        n = 1;
    rec->rows += n;
    if (has_pos && (!rec->has_last || epoch > rec->last_epoch ||
                    (epoch == rec->last_epoch && pos > rec->last_pos))) {
        rec->has_last = 1;
        rec->last_epoch = epoch;
        rec->last_pos = pos;
    }
    if (strcmp(status, "match") == 0) {
        rec->matches += n;
        return n;
    }
    if (strcmp(status, "superseded") == 0) {
        rec->superseded += n;
        return n;
    }
    if (strcmp(status, "mismatch") == 0)
        rec->mismatches += n;
    else
        rec->dead_letters += n; /* "dead_letter": the only other status the sink writes */
    if (rec->nentries == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        rec->entries = cdc_realloc(rec->entries, c->cap * sizeof(*rec->entries));
    }
    cdc_parity_entry_t *e = &rec->entries[rec->nentries++];
    memset(e, 0, sizeof(*e));
    e->status = cdc_avro_str(strcmp(status, "mismatch") == 0 ? "mismatch" : "dead_letter");
    e->op = PQgetisnull(res, r, C_OP) ? 0 : PQgetvalue(res, r, C_OP)[0];
    e->key = bytea_of(c, res, r, C_KEY, &e->key_len);
    if (e->key) {
        char *kj = key_json(db, PQgetvalue(res, r, C_SOURCE), PQgetvalue(res, r, C_TABLE), e->key,
                            e->key_len);
        if (kj) {
            chunk_own(c, kj);
            e->key_json = cdc_avro_str(kj);
        }
    }
    e->has_pos = has_pos;
    e->epoch = epoch;
    e->pos = pos;
    e->source_hash = bytea_of(c, res, r, C_SRC_H, &e->source_hash_len);
    e->stored_hash = bytea_of(c, res, r, C_STO_H, &e->stored_hash_len);
    return n;
}

/* Encodes and queues the chunk; returns 0 or -1. */
static int chunk_send(cdc_sink_outbox_t *o, outbox_pub_t *pub, chunk_t *c, cdc_buf_t *key,
                      cdc_buf_t *val, char *errstr, size_t errstr_size)
{
    c->rec.ts_ms = wall_ms();
    cdc_buf_reset(key);
    cdc_buf_reset(val);
    cdc_parity_key(key, &c->rec);
    cdc_parity_encode(val, &c->rec);
    int32_t part = cdc_murmur2_partition(key->data, key->len, o->partitions);
    return produce(o, pub, o->topic, part < 0 ? 0 : part, key->data, key->len, val->data, val->len,
                   errstr, errstr_size);
}

/* The schema text on <prefix>.schemas (key: fingerprint as 16 hex digits), once. */
static int send_schema(cdc_sink_outbox_t *o, outbox_pub_t *pub, char *errstr, size_t errstr_size)
{
    char fp[17];
    const char *json = cdc_parity_schema_json();
    snprintf(fp, sizeof fp, "%016" PRIx64, cdc_parity_fingerprint());
    return produce(o, pub, o->schemas_topic, 0, fp, 16, json, strlen(json), errstr, errstr_size);
}

static void add_tx(outbox_pub_t *pub, int64_t tx)
{
    if (pub->ntx > 0 && pub->txs[pub->ntx - 1] == tx)
        return; /* rows come ordered by batch_tx */
    pub->txs = cdc_realloc(pub->txs, (pub->ntx + 1) * sizeof(*pub->txs));
    pub->txs[pub->ntx++] = tx;
}

int cdc_sink_outbox_queue_rows(cdc_sink_outbox_t *o, const cdc_sink_db_t *db, const PGresult *res,
                               outbox_pub_t *pub, char *errstr, size_t errstr_size)
{
    chunk_t c;
    cdc_buf_t key = CDC_BUF_INIT, val = CDC_BUF_INIT;
    int n = PQntuples(res), rc = -1;

    memset(&c, 0, sizeof c);
    /* Considered sent from here on; a publication that fails clears it again. */
    if (n > 0 && !o->schema_sent) {
        if (send_schema(o, pub, errstr, errstr_size) < 0)
            goto out;
        o->schema_sent = 1;
    }
    for (int r = 0; r < n; r++) {
        int first_of_group =
            r == 0 || strcmp(PQgetvalue(res, r, C_TX), PQgetvalue(res, r - 1, C_TX)) ||
            strcmp(PQgetvalue(res, r, C_SOURCE), PQgetvalue(res, r - 1, C_SOURCE)) ||
            strcmp(PQgetvalue(res, r, C_TABLE), PQgetvalue(res, r - 1, C_TABLE));
        add_tx(pub, strtoll(PQgetvalue(res, r, C_TX), NULL, 10));
        if (c.nrows > 0 && (first_of_group || c.nrows >= OUTBOX_CHUNK_ROWS)) {
            if (chunk_send(o, pub, &c, &key, &val, errstr, errstr_size) < 0)
                goto out;
            pub->records++;
            chunk_reset(&c);
        }
        if (c.nrows == 0) {
            c.rec.domain = cdc_avro_str(o->domain);
            c.rec.source = cdc_avro_str(PQgetvalue(res, r, C_SOURCE));
            c.rec.table = cdc_avro_str(PQgetvalue(res, r, C_TABLE));
        }
        pub->rows += chunk_add(&c, db, res, r);
    }
    if (c.nrows > 0) {
        if (chunk_send(o, pub, &c, &key, &val, errstr, errstr_size) < 0)
            goto out;
        pub->records++;
    }
    rc = 0;
out:
    chunk_reset(&c);
    free(c.rec.entries);
    free(c.owned);
    cdc_buf_free(&key);
    cdc_buf_free(&val);
    return rc;
}

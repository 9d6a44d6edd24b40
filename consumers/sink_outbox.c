/*
 * sink_outbox: _cdc_parity_outbox -> <prefix>.validation (sink_outbox.h, docs/parity.md).
 */
#include "sink_outbox.h"

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "cdc_alloc.h"
#include "cdc_avro_value.h"
#include "cdc_buf.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "cdc_murmur2.h"
#include "parity_record.h"
#include "sink_copy.h"
#include "sink_db.h"

#define OUTBOX_CHUNK_ROWS   1000  /* results per cdc.Parity record: bounds its size */
#define OUTBOX_ROUND_TX     16    /* batch transactions published per round */
#define OUTBOX_MAX_ROUNDS   1000  /* per call: a backlog larger than this waits a call */
#define OUTBOX_FLUSH_MS     10000 /* delivery of one round */
#define OUTBOX_PRUNE_MS     60000 /* deleting old sent rows, at most this often */
#define OUTBOX_RETRY_MIN_MS 1000
#define OUTBOX_RETRY_MAX_MS 30000
/* Serializes the publishers of one domain (pg_advisory_xact_lock(int, int) space, apart
 * from the sink's one-bigint DDL lock). "cdcp". */
#define OUTBOX_LOCK_CLASS 0x63646370

struct cdc_sink_outbox_s {
    const cdc_config_t *conf;
    char *domain;
    char *topic;
    char *schemas_topic;
    int32_t partitions;
    rd_kafka_t *rk;
    int schema_sent; /* cdc.Parity confirmed on <prefix>.schemas by this process */
    int column_ok;   /* _cdc_parity_outbox.batch_tx verified by this process */
    /* delivery reports of the current round (dr_cb, served by rd_kafka_flush); reports of
     * an earlier round that timed out carry another round number and are not counted */
    uintptr_t round;
    uint64_t delivered, failed;
    rd_kafka_resp_err_t last_err;
    /* retry after a failed publication */
    int pending;
    int retry_ms;
    int64_t retry_at;
    int64_t pruned_at;
    /* test hooks */
    long crash_after;       /* CDC_SINK_CRASH_AFTER_COMMIT */
    long crash_before_mark; /* CDC_SINK_CRASH_BEFORE_MARK */
    long rounds;
    long commits;
    uint64_t rows_sent, records_sent;
};

static int64_t mono_ms(void)
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

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    cdc_sink_outbox_t *o = opaque;
    (void)rk;
    if ((uintptr_t)m->_private != o->round)
        return;
    if (m->err) {
        o->failed++;
        o->last_err = m->err;
    } else {
        o->delivered++;
    }
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
    free(o->domain);
    free(o->topic);
    free(o->schemas_topic);
    free(o);
}

/* Queues one message, serving delivery reports while the queue is full. */
static int produce(cdc_sink_outbox_t *o, const char *topic, int32_t partition, const void *key,
                   size_t key_len, const void *val, size_t val_len, char *errstr,
                   size_t errstr_size)
{
    int64_t deadline = mono_ms() + OUTBOX_FLUSH_MS;
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(o->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)val, val_len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE((void *)o->round), RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || mono_ms() > deadline) {
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

/* Columns of the round's SELECT. */
enum { C_ID, C_TX, C_SOURCE, C_TABLE, C_EPOCH, C_POS, C_OP, C_STATUS, C_KEY, C_SRC_H, C_STO_H };

static const char select_sql[] =
    "SELECT o.id, o.batch_tx AS tx, coalesce(o.source, ''),"
    " coalesce(o.source_table, ''), o.epoch, o.pos, o.op, o.status,"
    " CASE WHEN o.status IN ('mismatch', 'dead_letter') THEN o.key END,"
    " CASE WHEN o.status IN ('mismatch', 'dead_letter') THEN o.source_hash END,"
    " CASE WHEN o.status IN ('mismatch', 'dead_letter') THEN o.stored_hash END"
    " FROM _cdc_parity_outbox o WHERE o.domain = $1 AND NOT o.sent"
    " AND o.batch_tx IN (SELECT DISTINCT batch_tx FROM _cdc_parity_outbox"
    " WHERE domain = $1 AND NOT sent LIMIT $2::int)"
    " ORDER BY 2, 3, 4, 1";

/* Adds row r of res to the chunk. */
static void chunk_add(chunk_t *c, const cdc_sink_db_t *db, const PGresult *res, int r)
{
    const char *status = PQgetvalue(res, r, C_STATUS);
    int has_pos = !PQgetisnull(res, r, C_EPOCH) && !PQgetisnull(res, r, C_POS);
    int64_t epoch = has_pos ? strtoll(PQgetvalue(res, r, C_EPOCH), NULL, 10) : 0;
    int64_t pos = has_pos ? strtoll(PQgetvalue(res, r, C_POS), NULL, 10) : 0;
    cdc_parity_rec_t *rec = &c->rec;

    if (rec->rows == 0)
        rec->batch_id = strtoll(PQgetvalue(res, r, C_ID), NULL, 10); /* ORDER BY ..., id */
    rec->rows++;
    if (has_pos && (!rec->has_last || epoch > rec->last_epoch ||
                    (epoch == rec->last_epoch && pos > rec->last_pos))) {
        rec->has_last = 1;
        rec->last_epoch = epoch;
        rec->last_pos = pos;
    }
    if (strcmp(status, "match") == 0) {
        rec->matches++;
        return;
    }
    if (strcmp(status, "superseded") == 0) {
        rec->superseded++;
        return;
    }
    if (strcmp(status, "mismatch") == 0)
        rec->mismatches++;
    else
        rec->dead_letters++; /* "dead_letter": the only other status the sink writes */
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
}

/* Encodes and queues the chunk; returns 0 or -1. */
static int chunk_send(cdc_sink_outbox_t *o, chunk_t *c, cdc_buf_t *key, cdc_buf_t *val,
                      char *errstr, size_t errstr_size)
{
    c->rec.ts_ms = wall_ms();
    cdc_buf_reset(key);
    cdc_buf_reset(val);
    cdc_parity_key(key, &c->rec);
    cdc_parity_encode(val, &c->rec);
    int32_t part = cdc_murmur2_partition(key->data, key->len, o->partitions);
    return produce(o, o->topic, part < 0 ? 0 : part, key->data, key->len, val->data, val->len,
                   errstr, errstr_size);
}

/* The schema text on <prefix>.schemas (key: fingerprint as 16 hex digits), once. */
static int send_schema(cdc_sink_outbox_t *o, char *errstr, size_t errstr_size)
{
    char fp[17];
    const char *json = cdc_parity_schema_json();
    snprintf(fp, sizeof fp, "%016" PRIx64, cdc_parity_fingerprint());
    return produce(o, o->schemas_topic, 0, fp, 16, json, strlen(json), errstr, errstr_size);
}

static int exec_ok(PGconn *conn, const char *sql, int n, const char *const *p, PGresult **res,
                   char *errstr, size_t errstr_size)
{
    return cdc_sink_pg_exec(conn, sql, n, p, res, errstr, errstr_size) == CDC_SINK_PG_OK ? 0 : -1;
}

/* One round: lock, read up to OUTBOX_ROUND_TX transactions' rows, publish, confirm, mark
 * sent, commit. Sets *nrows to the rows published (0: the outbox is empty). */
static int publish_round(cdc_sink_outbox_t *o, cdc_sink_db_t *db, long *nrows, char *errstr,
                         size_t errstr_size)
{
    PGconn *conn = db->conn;
    PGresult *res = NULL;
    char limit[16], lock_class[16];
    const char *sel_p[2] = {o->domain, limit};
    const char *lock_p[2] = {lock_class, o->domain};
    chunk_t c;
    cdc_buf_t key = CDC_BUF_INIT, val = CDC_BUF_INIT, txs = CDC_BUF_INIT;
    uint64_t queued = 0, records = 0;
    long marked = 0;
    int rc = -1, n;

    memset(&c, 0, sizeof c);
    *nrows = 0;
    snprintf(limit, sizeof limit, "%d", OUTBOX_ROUND_TX);
    snprintf(lock_class, sizeof lock_class, "%d", OUTBOX_LOCK_CLASS);
    if (exec_ok(conn, "BEGIN", 0, NULL, NULL, errstr, errstr_size) < 0 ||
        exec_ok(conn, "SELECT pg_advisory_xact_lock($1::int, hashtext($2))", 2, lock_p, NULL,
                errstr, errstr_size) < 0 ||
        exec_ok(conn, select_sql, 2, sel_p, &res, errstr, errstr_size) < 0)
        goto out;
    n = PQntuples(res);
    if (n == 0) {
        rc = exec_ok(conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size);
        goto out;
    }
    o->round++;
    o->delivered = o->failed = 0;
    if (!o->schema_sent) {
        if (send_schema(o, errstr, errstr_size) < 0)
            goto out;
        queued++;
    }
    cdc_buf_put_byte(&txs, '{');
    for (int r = 0; r < n; r++) {
        int first_of_group =
            r == 0 || strcmp(PQgetvalue(res, r, C_TX), PQgetvalue(res, r - 1, C_TX)) ||
            strcmp(PQgetvalue(res, r, C_SOURCE), PQgetvalue(res, r - 1, C_SOURCE)) ||
            strcmp(PQgetvalue(res, r, C_TABLE), PQgetvalue(res, r - 1, C_TABLE));
        if (r == 0 || strcmp(PQgetvalue(res, r, C_TX), PQgetvalue(res, r - 1, C_TX)) != 0) {
            if (r > 0)
                cdc_buf_put_byte(&txs, ',');
            cdc_buf_put_str(&txs, PQgetvalue(res, r, C_TX));
        }
        if (c.rec.rows > 0 && (first_of_group || c.rec.rows >= OUTBOX_CHUNK_ROWS)) {
            if (chunk_send(o, &c, &key, &val, errstr, errstr_size) < 0)
                goto out;
            queued++;
            records++;
            chunk_reset(&c);
        }
        if (c.rec.rows == 0) {
            c.rec.domain = cdc_avro_str(o->domain);
            c.rec.source = cdc_avro_str(PQgetvalue(res, r, C_SOURCE));
            c.rec.table = cdc_avro_str(PQgetvalue(res, r, C_TABLE));
        }
        chunk_add(&c, db, res, r);
    }
    if (chunk_send(o, &c, &key, &val, errstr, errstr_size) < 0)
        goto out;
    queued++;
    records++;
    cdc_buf_put_byte(&txs, '}');
    /* Every record of the round must be confirmed before any row is marked sent. */
    rd_kafka_flush(o->rk, OUTBOX_FLUSH_MS);
    if (o->delivered != queued) {
        snprintf(errstr, errstr_size,
                 "parity records to %s: %" PRIu64 " of %" PRIu64 " confirmed within %d ms%s%s",
                 o->topic, o->delivered, queued, OUTBOX_FLUSH_MS, o->failed ? ", last error: " : "",
                 o->failed ? rd_kafka_err2str(o->last_err) : "");
        goto out;
    }
    o->schema_sent = 1;
    if (o->crash_before_mark > 0 && ++o->rounds >= o->crash_before_mark) {
        cdc_log_warn("test hook CDC_SINK_CRASH_BEFORE_MARK=%ld: killing this worker after "
                     "publication %ld was confirmed, before marking its rows sent",
                     o->crash_before_mark, o->rounds);
        raise(SIGKILL);
    }
    {
        const char *up_p[2] = {o->domain, cdc_buf_cstr(&txs)};
        if (cdc_sink_pg_exec_count(conn,
                                   "UPDATE _cdc_parity_outbox SET sent = true WHERE domain = $1"
                                   " AND NOT sent AND batch_tx = ANY($2::bigint[])",
                                   2, up_p, &marked, errstr, errstr_size) != CDC_SINK_PG_OK ||
            exec_ok(conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size) < 0)
            goto out;
    }
    if (marked != n)
        cdc_log_warn("parity outbox of domain %s: %d rows published, %ld marked sent", o->domain, n,
                     marked);
    o->rows_sent += (uint64_t)n;
    o->records_sent += records;
    *nrows = n;
    cdc_log_debug("parity outbox of domain %s: %d results in %" PRIu64 " records to %s", o->domain,
                  n, records, o->topic);
    rc = 0;
out:
    if (rc < 0 && PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    PQclear(res);
    chunk_reset(&c);
    free(c.rec.entries);
    free(c.owned);
    cdc_buf_free(&key);
    cdc_buf_free(&val);
    cdc_buf_free(&txs);
    return rc;
}

/* Sent rows are kept an hour for inspection, then deleted (at most once a minute). */
static void prune(cdc_sink_outbox_t *o, cdc_sink_db_t *db)
{
    const char *p[1] = {o->domain};
    char err[512];
    long n = 0;

    if (o->pruned_at && mono_ms() - o->pruned_at < OUTBOX_PRUNE_MS)
        return;
    o->pruned_at = mono_ms();
    if (cdc_sink_pg_exec_count(db->conn,
                               "DELETE FROM _cdc_parity_outbox WHERE domain = $1 AND sent"
                               " AND created_at < now() - interval '1 hour'",
                               1, p, &n, err, sizeof err) != CDC_SINK_PG_OK)
        cdc_log_warn("parity outbox of domain %s: deleting old sent rows: %s", o->domain, err);
    else if (n > 0)
        cdc_log_debug("parity outbox of domain %s: %ld old sent rows deleted", o->domain, n);
}

/*
 * The grouping column (sink_outbox.h): added when missing. Checked in the catalog first,
 * because ALTER TABLE takes an exclusive lock even when the column exists, and every
 * worker comes here at start. Rows already present get the ALTER's own transaction id:
 * they form one group, consistently from then on.
 */
static int ensure_column(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr, size_t errstr_size)
{
    PGresult *res = NULL;
    int rc = -1;

    if (o->column_ok)
        return 0;
    if (exec_ok(db->conn,
                "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('_cdc_parity_outbox')"
                " AND attname = 'batch_tx' AND NOT attisdropped",
                0, NULL, &res, errstr, errstr_size) < 0)
        goto out;
    /* Under the sink's DDL lock (sink_schema.c), so concurrent workers do not race on the
     * catalog; IF NOT EXISTS makes the loser of the race a no-op. */
    if (PQntuples(res) == 0 &&
        (exec_ok(db->conn, "BEGIN", 0, NULL, NULL, errstr, errstr_size) < 0 ||
         exec_ok(db->conn, "SELECT pg_advisory_xact_lock(28266710541855595)", 0, NULL, NULL, errstr,
                 errstr_size) < 0 ||
         exec_ok(db->conn,
                 "ALTER TABLE _cdc_parity_outbox ADD COLUMN IF NOT EXISTS batch_tx bigint"
                 " NOT NULL DEFAULT txid_current()",
                 0, NULL, NULL, errstr, errstr_size) < 0 ||
         exec_ok(db->conn,
                 "CREATE INDEX IF NOT EXISTS _cdc_parity_outbox_unsent_tx ON _cdc_parity_outbox"
                 " (domain, batch_tx) WHERE NOT sent",
                 0, NULL, NULL, errstr, errstr_size) < 0 ||
         exec_ok(db->conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size) < 0)) {
        PQclear(PQexec(db->conn, "ROLLBACK"));
        goto out;
    }
    o->column_ok = 1;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int cdc_sink_outbox_publish(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr,
                            size_t errstr_size)
{
    long n = 0;

    if (cdc_sink_db_ensure(db, errstr, errstr_size) != CDC_SINK_OK ||
        ensure_column(o, db, errstr, errstr_size) < 0)
        goto fail;
    for (int round = 0; round < OUTBOX_MAX_ROUNDS; round++) {
        if (publish_round(o, db, &n, errstr, errstr_size) < 0)
            goto fail;
        if (n == 0)
            break;
    }
    prune(o, db);
    o->pending = 0;
    o->retry_ms = OUTBOX_RETRY_MIN_MS;
    return 0;
fail:
    o->pending = 1;
    o->retry_at = mono_ms() + o->retry_ms;
    o->retry_ms = o->retry_ms * 2 > OUTBOX_RETRY_MAX_MS ? OUTBOX_RETRY_MAX_MS : o->retry_ms * 2;
    return -1;
}

void cdc_sink_outbox_after_commit(cdc_sink_outbox_t *o, cdc_sink_db_t *db)
{
    char err[1024];

    o->commits++;
    if (o->crash_after > 0 && o->commits >= o->crash_after) {
        cdc_log_warn("test hook CDC_SINK_CRASH_AFTER_COMMIT=%ld: killing this worker after "
                     "commit %ld, before publishing",
                     o->crash_after, o->commits);
        raise(SIGKILL);
    }
    /* While a failed publication backs off, the rows wait for the tick: retrying after
     * every batch would stall the sink for the flush timeout each time. */
    if (o->pending && mono_ms() < o->retry_at)
        return;
    if (cdc_sink_outbox_publish(o, db, err, sizeof err) < 0)
        cdc_log_warn("parity outbox of domain %s not published (retrying in %d ms; the results "
                     "wait in _cdc_parity_outbox): %s",
                     o->domain, (int)(o->retry_at - mono_ms()), err);
}

void cdc_sink_outbox_tick(cdc_sink_outbox_t *o, cdc_sink_db_t *db)
{
    char err[1024];

    if (!o->pending || mono_ms() < o->retry_at)
        return;
    if (cdc_sink_outbox_publish(o, db, err, sizeof err) < 0)
        cdc_log_warn("parity outbox of domain %s not published (retrying in %d ms): %s", o->domain,
                     (int)(o->retry_at - mono_ms()), err);
    else
        cdc_log_info("parity outbox of domain %s published after an earlier failure", o->domain);
}

int cdc_sink_outbox_pending(const cdc_sink_outbox_t *o)
{
    return o->pending;
}

uint64_t cdc_sink_outbox_rows_sent(const cdc_sink_outbox_t *o)
{
    return o->rows_sent;
}

uint64_t cdc_sink_outbox_records_sent(const cdc_sink_outbox_t *o)
{
    return o->records_sent;
}

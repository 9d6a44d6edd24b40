#include "sink_consumer_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_log.h"
#include "sink_db.h"
#include "sink_schema.h"

/* How often a target that refused a schema (columns missing while auto-evolve is off, a
 * changed type it cannot hold) is looked at again, so the operator's ALTER TABLE is noticed
 * without a restart. */
#define REFUSED_RECHECK_MS 1000

/* The table descriptor of an envelope schema, retrying while PostgreSQL is away. */
static const cdc_sink_table_t *table_for(worker_t *w, const cdc_sink_schema_t *sc)
{
    const cdc_sink_table_t *t = NULL;
    char err[1024];
    int backoff = BACKOFF_FIRST_MS;

    if (sc == w->last_schema)
        t = w->last_table;
    for (; t == NULL;) {
        cdc_sink_status_t st = cdc_sink_db_table(w->db, sc->source, sc->table, sc->cols, sc->ncols,
                                                 &t, err, sizeof(err));
        if (st == CDC_SINK_OK)
            break;
        if (st != CDC_SINK_RETRIABLE) {
            cdc_sink_worker_fail(w, "target table of %s.%s: %s", sc->source, sc->table, err);
            return NULL;
        }
        if (stopping(w))
            return NULL;
        cdc_log_warn("target table of %s.%s (retrying in %d ms): %s", sc->source, sc->table,
                     backoff, err);
        cdc_time_sleep_ms(backoff);
        backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
    }
    w->last_schema = sc;
    w->last_table = t;
    if (t->refused != NULL && cdc_time_now_ms() - t->refused_checked_ms >= REFUSED_RECHECK_MS) {
        /* The descriptor belongs to this worker's db handle and no batch holds rows of a
         * refused one, so re-reading its columns here is safe. A failed check keeps the
         * refusal (and the record becomes a dead letter, never lost). */
        cdc_sink_table_t *mt = (cdc_sink_table_t *)t;
        mt->refused_checked_ms = cdc_time_now_ms();
        if (cdc_sink_db_ensure(w->db, err, sizeof(err)) != CDC_SINK_OK ||
            cdc_sink_schema_table_setup(w->db->conn, w->db->domain, mt, err, sizeof(err)) !=
                CDC_SINK_PG_OK)
            cdc_log_warn("target table %s: checking its columns again: %s", t->target, err);
    }
    if (t->ndropped > 0 && !t->dropped_counted) {
        ((cdc_sink_table_t *)t)->dropped_counted = 1;
        cdc_sink_metrics_dropped_columns(w->metrics, t->ndropped);
    }
    return t;
}

/* The newest descriptor of (source, table) refuses its schema (sink_schema.h). */
static const cdc_sink_table_t *refused_table(const worker_t *w, cdc_avro_str_t source,
                                             cdc_avro_str_t table)
{
    for (const cdc_sink_table_t *t = w->db->tables; t != NULL; t = t->next)
        if (strlen(t->source) == source.len && memcmp(t->source, source.p, source.len) == 0 &&
            strlen(t->table) == table.len && memcmp(t->table, table.p, table.len) == 0)
            return t->refused != NULL ? t : NULL;
    return NULL;
}

static cdc_avro_str_t avro_str_or_empty(const char *s)
{
    cdc_avro_str_t r = {s ? s : NULL, s ? strlen(s) : 0};
    return r;
}

/* An undecodable record: to the dead-letter topic (confirmed), then its bookkeeping entry
 * in the batch. Returns 0, or -1 when the worker is stopping or failed before delivery. */
static int dead_letter(worker_t *w, const rd_kafka_message_t *m, const cdc_sink_rec_t *rec,
                       part_t *p)
{
    cdc_dlq_info_t info = {0};
    char err[512];
    int backoff = BACKOFF_FIRST_MS;

    info.stage = "sink";
    info.source = rec->dead.source;
    info.table = rec->dead.table;
    info.key_json = rec->dead.key_json;
    info.reason = rec->dead.reason;
    info.has_position = rec->dead.has_pos;
    info.position = rec->dead.pos;
    info.origin_topic = w->topic;
    info.origin_partition = m->partition;
    info.origin_offset = m->offset;
    info.payload = m->payload;
    info.payload_len = m->len;
    cdc_log_warn("%s [%d] offset %" PRId64 " is a dead letter: %s", w->topic, (int)m->partition,
                 m->offset, rec->dead.reason);
    while (cdc_sink_dlq_send(w->dlq, &info, rec->dead.key, rec->dead.key_len, m->key, m->key_len,
                             DLQ_TIMEOUT_MS, err, sizeof(err)) < 0) {
        if (stopping(w))
            return -1;
        cdc_log_warn("%s (retrying in %d ms)", err, backoff);
        cdc_time_sleep_ms(backoff);
        backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
    }
    cdc_sink_batch_add_dead_letter(p->batch, m->offset, avro_str_or_empty(rec->dead.source),
                                   avro_str_or_empty(rec->dead.table), rec->dead.key,
                                   rec->dead.key_len, rec->dead.has_pos ? &rec->dead.pos : NULL,
                                   rec->dead.reason);
    return 0;
}

/* A row of a schema the target refuses (columns it lacks while auto-evolve is off, a
 * changed type it cannot hold): a dead letter with the refusal as its reason, so
 * `cdc-ctl dlq redrive` brings it once the operator altered the target. */
static int refused_row(worker_t *w, const rd_kafka_message_t *m, cdc_sink_rec_t *rec,
                       const cdc_sink_table_t *t, part_t *p)
{
    const cdc_sink_schema_t *sc = rec->row.schema;
    cdc_buf_t kj = CDC_BUF_INIT;
    int rc;

    cdc_sink_key_json(sc, rec->row.key_vals, &kj);
    rec->kind = CDC_SINK_REC_DEAD;
    snprintf(rec->dead.reason, sizeof(rec->dead.reason), "%s", t->refused);
    rec->dead.source = sc->source;
    rec->dead.table = sc->table;
    rec->dead.key_json = cdc_buf_cstr(&kj);
    rec->dead.key = rec->row.key;
    rec->dead.key_len = rec->row.key_len;
    rec->dead.has_pos = 1;
    rec->dead.pos = rec->row.pos;
    rc = dead_letter(w, m, rec, p);
    cdc_buf_free(&kj);
    return rc;
}

/* The snapshot end marker of a table whose snapshot rows were refused: applying it would
 * delete every target row older than the snapshot (invariant 5), rows that only wait for
 * their redrive. It becomes a dead letter instead (no key: resolved by the operator). */
static int refused_marker(worker_t *w, const rd_kafka_message_t *m, cdc_sink_rec_t *rec,
                          const cdc_sink_table_t *t, part_t *p)
{
    char *source = cdc_strndup(rec->ctl.source.p, rec->ctl.source.len);
    int rc;

    rec->kind = CDC_SINK_REC_DEAD;
    snprintf(rec->dead.reason, sizeof(rec->dead.reason),
             "snapshot end marker (H0 %lld:%lld) not applied, so no target row is deleted (once "
             "the rows are re-driven, resolve this with cdc-ctl dlq resolve, or re-snapshot the "
             "table): %s",
             (long long)rec->ctl.epoch, (long long)rec->ctl.start_position, t->refused);
    rec->dead.source = source;
    rec->dead.table = t->table;
    rec->dead.key_json = NULL;
    rec->dead.key = NULL;
    rec->dead.key_len = 0;
    rec->dead.has_pos = 1;
    rec->dead.pos = (cdc_pos_t){rec->ctl.epoch, rec->ctl.start_position};
    rc = dead_letter(w, m, rec, p);
    free(source);
    return rc;
}

/* Decodes m into p's batch. Returns 0 when added, -1 when not (stopping or failed). */
static int add_record(worker_t *w, const rd_kafka_message_t *m, part_t *p)
{
    cdc_sink_rec_t rec;
    char err[1024];
    int backoff = BACKOFF_FIRST_MS;
    const cdc_sink_table_t *t;

    for (;;) {
        cdc_sink_decode(w->dec, m->key, m->key_len, m->payload, m->len, KAFKA_TIMEOUT_MS, &rec, err,
                        sizeof(err));
        if (rec.kind != CDC_SINK_REC_RETRY)
            break;
        if (stopping(w))
            return -1;
        cdc_log_warn("%s [%d] offset %" PRId64 ": reading the schemas (retrying in %d ms): %s",
                     w->topic, (int)m->partition, m->offset, backoff, err);
        cdc_time_sleep_ms(backoff);
        backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
    }
    switch (rec.kind) {
    case CDC_SINK_REC_ROW:
        t = table_for(w, rec.row.schema);
        if (!t)
            return -1;
        if (t->refused != NULL)
            return refused_row(w, m, &rec, t, p);
        cdc_sink_batch_add_row(p->batch, t, m->offset, rec.row.op, rec.row.pos, rec.row.key,
                               rec.row.key_len, rec.row.key_vals, rec.row.after, rec.row.row_hash,
                               rec.row.row_hash_len);
        return 0;
    case CDC_SINK_REC_HEARTBEAT:
        cdc_sink_batch_add_heartbeat(p->batch, m->offset, rec.ctl.source, rec.ctl.epoch,
                                     rec.ctl.acked_position, rec.ctl.backlog_entries,
                                     rec.ctl.oldest_unacked_age_ms, rec.ctl.ts_ms);
        return 0;
    case CDC_SINK_REC_MARKER:
        if ((t = refused_table(w, rec.ctl.source, rec.ctl.table)) != NULL)
            return refused_marker(w, m, &rec, t, p);
        cdc_sink_batch_add_marker(p->batch, m->offset, rec.ctl.source, rec.ctl.table, rec.ctl.epoch,
                                  rec.ctl.start_position);
        return 0;
    case CDC_SINK_REC_DEAD:
        return dead_letter(w, m, &rec, p);
    case CDC_SINK_REC_RETRY:
        break;
    }
    return -1;
}

/* Checks m's offset against the partition's next expected one. Returns 1 to take it, 0
 * when it was dropped (and the partition re-seeked if needed). */
static int offset_expected(worker_t *w, const rd_kafka_message_t *m, part_t *p)
{
    int64_t expected = batch_open(p) ? p->batch_end : p->next;

    if (m->offset == expected) {
        p->seeked_to = -1;
        p->seek_tries = 0;
        return 1;
    }
    if (m->offset < expected) {
        cdc_log_debug("%s [%d]: offset %" PRId64 " already read (expected %" PRId64 "), dropped",
                      w->topic, (int)m->partition, m->offset, expected);
        return 0;
    }
    /* Ahead of the expected offset: fetched before a seek, or a real hole. Seek twice
     * before believing the hole, so a message left over from before a seek never makes
     * us skip records. */
    if (p->seeked_to != expected || p->seek_tries < 2) {
        if (p->seeked_to != expected)
            p->seek_tries = 0;
        p->seeked_to = expected;
        p->seek_tries++;
        cdc_log_info("%s [%d]: got offset %" PRId64 ", expected %" PRId64 "; seeking back",
                     w->topic, (int)m->partition, m->offset, expected);
        cdc_sink_worker_seek(w, m->partition, expected);
        return 0;
    }
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(w->rk, w->topic, m->partition, &lo, &hi,
                                         KAFKA_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        lo > expected) {
        p->next = expected;
        cdc_sink_worker_fail(w,
                             "GAP in %s [%d]: offsets [%" PRId64 ", %" PRId64
                             ") were removed before this "
                             "domain's sink applied them; re-snapshot the sources of domain %s "
                             "(`cdc-producer --new-epoch` or `cdc-ctl resnapshot`)",
                             w->topic, (int)m->partition, expected, lo, w->domain);
        return 0;
    }
    cdc_log_warn("%s [%d]: offsets [%" PRId64 ", %" PRId64 ") hold no records; continuing",
                 w->topic, (int)m->partition, expected, m->offset);
    p->seeked_to = -1;
    p->seek_tries = 0;
    return 1;
}

static void consumer_error(worker_t *w, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
        m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        /* auto.offset.reset=error: the position fell below the partition's start while we
         * were reading (retention, or the devbroker's 5 MiB cap). */
        part_t *p = m->partition >= 0 && m->partition < w->nparts ? &w->parts[m->partition] : NULL;
        if (p && p->assigned && cdc_sink_worker_check_watermarks(w, m->partition, p) == 0)
            cdc_sink_worker_fail(w, "%s [%d]: %s", w->topic, (int)m->partition,
                                 rd_kafka_message_errstr(m));
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(w->rk, why, sizeof(why));
        cdc_sink_worker_fail(w, "Kafka consumer of %s: %s", w->topic, why);
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        cdc_sink_worker_fail(w, "topic %s: %s (create it: `cdc-ctl topics`)", w->topic,
                             rd_kafka_message_errstr(m));
        return;
    }
    cdc_log_warn("Kafka consumer of %s: %s", w->topic, rd_kafka_message_errstr(m));
}

void cdc_sink_worker_handle_message(worker_t *w, rd_kafka_message_t *m)
{
    part_t *p = NULL;

    if (m->err) {
        consumer_error(w, m);
        goto drop;
    }
    p = m->partition < w->nparts ? &w->parts[m->partition] : NULL;
    if (!p || !p->assigned || !offset_expected(w, m, p))
        goto drop;
    if (w->opts->once && m->offset >= p->end)
        goto drop; /* beyond what --once promised to read */
    if (!batch_open(p))
        p->opened_ms = cdc_time_now_ms();
    if (add_record(w, m, p) < 0)
        goto drop;
    p->batch_end = m->offset + 1;
    if (p->nmsgs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->msgs = cdc_realloc(p->msgs, p->cap * sizeof(*p->msgs));
    }
    p->msgs[p->nmsgs++] = m;
    return;
drop:
    rd_kafka_message_destroy(m);
}

/*
 * source_read: one stream batch or one snapshot chunk of a source, encoded and handed to
 * the publisher under a tracker batch (source.h). Each read is one short transaction in
 * stream.c / snapshot.c; encoding and sending happen after it ended.
 */
#include "source_int.h"

#include "cdc_alloc.h"
#include "cdc_canon.h"
#include "cdc_convert.h"
#include "cdc_hash.h"
#include "cdc_log.h"
#include "sqlite_util.h"
#include "stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

cdc_src_tag_t *cdc_src_tag_new(cdc_src_t *src, src_tag_kind_t kind)
{
    cdc_src_tag_t *tag = cdc_calloc(1, sizeof *tag);

    tag->src = src;
    tag->kind = kind;
    tag->next = src->tags;
    if (src->tags)
        src->tags->prev = tag;
    src->tags = tag;
    return tag;
}

void cdc_src_tag_free(cdc_src_tag_t *tag)
{
    if (tag->prev)
        tag->prev->next = tag->next;
    else
        tag->src->tags = tag->next;
    if (tag->next)
        tag->next->prev = tag->prev;
    free(tag->table);
    cdc_key_clear(&tag->last_key);
    free(tag);
}

cdc_src_t *cdc_src_tag_source(const cdc_src_tag_t *tag)
{
    return tag->src;
}

static src_table_t *find_table(cdc_src_t *src, const char *name)
{
    for (size_t i = 0; i < src->n_tables; i++)
        if (strcmp(src->tables[i].ti->name, name) == 0)
            return &src->tables[i];
    return NULL;
}

void cdc_src_apply_tag(cdc_src_tag_t *tag)
{
    cdc_src_t *src = tag->src;
    src_table_t *t = tag->table ? find_table(src, tag->table) : NULL;
    cdc_pstate_table_t *e = tag->table ? cdc_pstate_table(src->state, tag->table, 0) : NULL;

    switch (tag->kind) {
    case SRC_TAG_STREAM:
        if (tag->prune_to > src->ack_pending)
            src->ack_pending = tag->prune_to;
        break;
    case SRC_TAG_CHUNK:
    case SRC_TAG_SNAPSHOT_DONE:
        /* A tag of a snapshot that was restarted since (table reinstalled) is stale. */
        if (t == NULL || e == NULL || t->gen != tag->gen)
            break;
        e->epoch = tag->snap_epoch;
        e->h0 = tag->h0;
        e->started = 1;
        e->rows = tag->rows;
        if (tag->last_key.n)
            cdc_key_copy(&e->last_key, tag->last_key.values, tag->last_key.n);
        if (tag->kind == SRC_TAG_SNAPSHOT_DONE)
            e->done = 1;
        src->state_dirty = 1;
        break;
    }
    cdc_src_tag_free(tag);
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The envelope's row_hash: XXH64 of the canonical row of the mapped values (cdc_canon.h),
 * column by column so each conversion's scratch is consumed before the next. 0 when a
 * value does not convert: the encoder then reports the misfit with its full details. */
static int row_hash(cdc_src_t *src, const src_table_t *t, unsigned char out[CDC_HASH_ROW_SIZE])
{
    size_t n;
    const cdc_column_t *cols = cdc_table_codec_columns(t->codec, &n);
    char why[512];

    cdc_canon_begin(&src->canon, n);
    for (size_t i = 0; i < n; i++) {
        cdc_mapped_t m;
        if (cdc_convert_value(&cols[i], &t->vals[i], &m, &src->scratch, why, sizeof why) !=
            CDC_CONVERT_OK)
            return 0;
        if (cdc_canon_add(&src->canon, &cols[i].type, &m, why, sizeof why) < 0)
            return 0;
    }
    cdc_hash_row(src->canon.data, src->canon.len, out);
    return 1;
}

/* Sends a dead letter for a record that cannot be produced as it is. */
static cdc_publisher_status_t dead_letter(cdc_src_t *src, const src_table_t *t, cdc_pos_t pos,
                                          const char *column, const char *reason,
                                          const char *key_json, const void *key, size_t key_len,
                                          uint64_t batch)
{
    cdc_dlq_info_t info = {0};

    info.stage = "producer";
    info.source = src->cs->name;
    info.table = t->ti->name;
    info.key_json = key_json;
    info.column = column;
    info.reason = reason;
    info.has_position = 1;
    info.position = pos;
    cdc_log_warn("source %s: table %s: key %s: dead letter: %s", src->cs->name, t->ti->name,
                 key_json ? key_json : "?", reason);
    cdc_pmetrics_dead_letter(src->metrics);
    return cdc_publisher_send_dead_letter(src->pub, src->cs->domain, &info, key, key_len, batch);
}

/*
 * Encodes one record (op 'd': from the key values, else from t->vals) and sends it, or its
 * dead letter when a value does not fit. Returns OK, or STOPPED / FAILED (the caller stops).
 */
static cdc_publisher_status_t send_one(cdc_src_t *src, src_table_t *t, char op,
                                       const cdc_value_t *key, cdc_pos_t pos, int64_t stmt_us,
                                       uint64_t batch)
{
    unsigned char hash[CDC_HASH_ROW_SIZE];
    cdc_record_meta_t meta = {.pos = pos, .stmt_time_us = stmt_us, .ts_ms = now_ms()};
    cdc_record_t rec;
    cdc_record_misfit_t misfit;
    cdc_record_status_t rs;
    cdc_publisher_status_t ps;
    char why[1024];

    if (op != 'd' && row_hash(src, t, hash)) {
        meta.row_hash = hash;
        meta.row_hash_len = sizeof hash;
    }
    if (op == 'd')
        rs = cdc_table_codec_encode_delete(t->codec, key, &meta, &rec, &misfit, why, sizeof why);
    else
        rs = cdc_table_codec_encode(t->codec, op, t->vals, &meta, &rec, &misfit, why, sizeof why);
    if (rs == CDC_RECORD_MISFIT)
        return dead_letter(src, t, pos, misfit.column, misfit.reason, misfit.key_json, misfit.key,
                           misfit.key_len, batch);
    if (rs != CDC_RECORD_OK) {
        cdc_buf_reset(&src->keyjson);
        cdc_table_codec_key_json(t->codec, key, &src->keyjson);
        return dead_letter(src, t, pos, NULL, why, cdc_buf_cstr(&src->keyjson), NULL, 0, batch);
    }
    cdc_publisher_row_t row = {
        .domain = src->cs->domain,
        .source = src->cs->name,
        .table = t->ti->name,
        .op = op,
        .position = pos,
        .key = rec.key,
        .key_len = rec.key_len,
        .key_framing = rec.framed_key,
        .key_framing_len = rec.framed_key_len - rec.key_len,
        .value = rec.framed_value,
        .value_len = rec.framed_value_len,
        .batch = batch,
    };
    ps = cdc_publisher_send_row(src->pub, &row);
    if (ps == CDC_PUB_OK)
        cdc_pmetrics_row_sent(src->metrics);
    if (ps == CDC_PUB_TOO_LARGE || ps == CDC_PUB_INVALID) {
        snprintf(why, sizeof why, "record not produced: %s", cdc_publisher_error(src->pub));
        cdc_buf_reset(&src->keyjson);
        cdc_table_codec_key_json(t->codec, key, &src->keyjson);
        ps = dead_letter(src, t, pos, NULL, why, cdc_buf_cstr(&src->keyjson), rec.key, rec.key_len,
                         batch);
    }
    return ps;
}

/* Fills t->vals with a row image (plus the rowid for rowid-keyed tables). */
static void set_row(src_table_t *t, const cdc_value_t *row, size_t n_cols, const cdc_value_t *key)
{
    memcpy(t->vals, row, n_cols * sizeof *row);
    if (t->rowid_extra)
        t->vals[n_cols] = key[0];
}

/* Julian day (the trigger's julianday('now')) to unix µs. */
static int64_t julian_us(double jd)
{
    return (int64_t)llround((jd - 2440587.5) * 86400000000.0);
}

typedef struct read_ctx_s {
    cdc_src_t *src;
    src_table_t *t; /* snapshot */
    cdc_src_tag_t *tag;
    uint64_t batch;
    cdc_publisher_status_t ps;
} read_ctx_t;

static void open_batch(read_ctx_t *c, cdc_pos_t pos)
{
    if (c->batch == 0)
        c->batch = cdc_ack_tracker_open(c->src->tracker, pos, c->tag);
}

static int on_change(void *opaque, const cdc_stream_change_t *ch)
{
    read_ctx_t *c = opaque;
    src_table_t *t = &c->src->tables[ch->table];

    open_batch(c, ch->pos);
    if (ch->op != 'd')
        set_row(t, ch->row, ch->n_cols, ch->key);
    c->ps = send_one(c->src, t, ch->op, ch->key, ch->pos, julian_us(ch->stmt_julian), c->batch);
    return c->ps != CDC_PUB_OK;
}

static cdc_src_err_t read_error(cdc_src_t *src, cdc_read_err_t re, const char *table,
                                const char *msg, char *errstr, size_t errstr_size)
{
    if (re == CDC_READ_EBUSY) {
        cdc_log_warn("source %s: %s%s%s: %s (retrying)", src->cs->name, table ? "table " : "",
                     table ? table : "", table ? "" : "stream", msg);
        return CDC_SRC_OK;
    }
    snprintf(errstr, errstr_size, "source %s (%s)%s%s: %s", src->cs->name, src->cs->path,
             table ? ": table " : "", table ? table : "", msg);
    return CDC_SRC_EOPER;
}

static cdc_src_err_t pub_error(cdc_src_t *src, cdc_publisher_status_t ps, char *errstr,
                               size_t errstr_size)
{
    if (ps == CDC_PUB_STOPPED)
        return CDC_SRC_ESTOP;
    snprintf(errstr, errstr_size, "source %s: Kafka: %s", src->cs->name,
             cdc_publisher_error(src->pub));
    return CDC_SRC_EOPER;
}

cdc_src_err_t cdc_src_stream_once(cdc_src_t *src, int *did, size_t *rows, char *errstr,
                                  size_t errstr_size)
{
    read_ctx_t c = {.src = src, .ps = CDC_PUB_OK};
    cdc_stream_batch_t out = {0};
    cdc_read_err_t re;
    char msg[1024];

    *did = 0;
    *rows = 0;
    c.tag = cdc_src_tag_new(src, SRC_TAG_STREAM);
    re = cdc_stream_read(src->db, src->infos, src->n_tables, src->stream_after,
                         (size_t)src->conf->producer.stream_batch_rows, on_change, &c, &out, msg,
                         sizeof msg);
    if (re == CDC_READ_EABORTED)
        return pub_error(src, c.ps, errstr, errstr_size); /* batch left open: never acked */
    if (re != CDC_READ_OK) {
        cdc_src_tag_free(c.tag);
        if (re == CDC_READ_ESTALE) {
            src->need_refresh = 1;
            return CDC_SRC_OK;
        }
        return read_error(src, re, NULL, msg, errstr, errstr_size);
    }
    src->data_version = out.data_version;
    if (out.epoch > src->epoch)
        src->epoch = out.epoch;
    if (out.last_seq <= src->stream_after) {
        cdc_src_tag_free(c.tag);
        return CDC_SRC_OK;
    }
    open_batch(&c, (cdc_pos_t){out.epoch, out.h});
    c.tag->prune_to = out.last_seq;
    cdc_ack_tracker_close(src->tracker, c.batch);
    src->stream_after = out.last_seq;
    *did = 1;
    *rows = out.log_rows;
    if (out.null_keys)
        cdc_log_warn("source %s: %zu change(s) with a NULL key part skipped", src->cs->name,
                     out.null_keys);
    return CDC_SRC_OK;
}

static int on_row(void *opaque, const cdc_snapshot_row_t *row)
{
    read_ctx_t *c = opaque;

    open_batch(c, row->pos);
    set_row(c->t, row->row, row->n_cols, row->key);
    c->ps = send_one(c->src, c->t, 'r', row->key, row->pos, -1, c->batch);
    return c->ps != CDC_PUB_OK;
}

static void start_progress(cdc_src_t *src, src_table_t *t)
{
    int64_t total = -1;
    cdc_progress_method_t m;
    char msg[512];

    if (cdc_progress_estimate(src->db, t->ti, &total, &m, msg, sizeof msg) < 0)
        total = -1;
    t->progress = cdc_progress_new(src->cs->name, t->ti->name, total, 5.0);
    cdc_progress_add(t->progress, (uint64_t)t->rows);
}

/* The end marker of a finished snapshot, in its own tracker batch. */
static cdc_src_err_t finish_snapshot(cdc_src_t *src, src_table_t *t, cdc_pos_t pos, char *errstr,
                                     size_t errstr_size)
{
    cdc_src_tag_t *tag = cdc_src_tag_new(src, SRC_TAG_SNAPSHOT_DONE);
    uint64_t batch;
    cdc_publisher_status_t ps;

    tag->table = cdc_strdup(t->ti->name);
    tag->gen = t->gen;
    tag->snap_epoch = t->snap_epoch;
    tag->h0 = t->h0;
    tag->rows = t->rows;
    cdc_key_copy(&tag->last_key, t->cursor.values, t->cursor.n);
    batch = cdc_ack_tracker_open(src->tracker, pos, tag);
    ps = cdc_publisher_snapshot_end(src->pub, src->cs->name, t->ti->name, t->snap_epoch, t->h0,
                                    t->rows, batch);
    if (ps != CDC_PUB_OK)
        return pub_error(src, ps, errstr, errstr_size);
    cdc_ack_tracker_close(src->tracker, batch);
    t->snap_wanted = 0;
    cdc_progress_report(t->progress, 1);
    cdc_progress_destroy(t->progress);
    t->progress = NULL;
    cdc_log_info("source %s: snapshot of %s done: %lld row(s), H0 %lld:%lld", src->cs->name,
                 t->ti->name, (long long)t->rows, (long long)t->snap_epoch, (long long)t->h0);
    return CDC_SRC_OK;
}

cdc_src_err_t cdc_src_snapshot_once(cdc_src_t *src, int *did, char *errstr, size_t errstr_size)
{
    read_ctx_t c = {.src = src, .ps = CDC_PUB_OK};
    cdc_snapshot_chunk_t out = {0};
    src_table_t *t = NULL;
    cdc_read_err_t re;
    cdc_src_err_t rc = CDC_SRC_OK;
    char msg[1024];

    *did = 0;
    /* Round-robin over the tables to snapshot, starting where the last chunk was. */
    for (size_t k = 0; k < src->n_tables && t == NULL; k++) {
        size_t i = (src->snap_next + k) % src->n_tables;
        if (src->tables[i].snap_wanted) {
            t = &src->tables[i];
            src->snap_next = i; /* stay on one table until it is done: fewer open markers */
        }
    }
    if (t == NULL)
        return CDC_SRC_OK;
    *did = 1;
    if (t->progress == NULL)
        start_progress(src, t);
    c.t = t;
    c.tag = cdc_src_tag_new(src, SRC_TAG_CHUNK);
    re = cdc_snapshot_chunk(src->db, t->ti, t->cursor.n ? t->cursor.values : NULL,
                            (size_t)src->conf->producer.snapshot_chunk_rows, on_row, &c, &out, msg,
                            sizeof msg);
    if (re == CDC_READ_EABORTED) {
        rc = pub_error(src, c.ps, errstr, errstr_size);
        goto out;
    }
    if (re != CDC_READ_OK) {
        cdc_src_tag_free(c.tag);
        rc = read_error(src, re, t->ti->name, msg, errstr, errstr_size);
        goto out;
    }
    if (!t->snap_started) {
        t->snap_started = 1;
        t->snap_epoch = out.epoch;
        t->h0 = out.h;
        if (out.null_keys)
            cdc_log_warn("source %s: table %s: %zu row(s) with a NULL key part left out",
                         src->cs->name, t->ti->name, out.null_keys);
    }
    open_batch(&c, (cdc_pos_t){out.epoch, out.h});
    if (out.rows)
        cdc_key_copy(&t->cursor, out.last_key.values, out.last_key.n);
    t->rows += (int64_t)out.rows;
    c.tag->table = cdc_strdup(t->ti->name);
    c.tag->gen = t->gen;
    c.tag->snap_epoch = t->snap_epoch;
    c.tag->h0 = t->h0;
    c.tag->rows = t->rows;
    cdc_key_copy(&c.tag->last_key, t->cursor.values, t->cursor.n);
    cdc_ack_tracker_close(src->tracker, c.batch);
    cdc_progress_add(t->progress, out.rows);
    cdc_progress_report(t->progress, 0);
    if (out.done)
        rc = finish_snapshot(src, t, (cdc_pos_t){out.epoch, out.h}, errstr, errstr_size);
out:
    cdc_snapshot_chunk_clear(&out);
    return rc;
}

cdc_src_err_t cdc_src_step(cdc_src_t *src, int *busy, int *idle, char *errstr, size_t errstr_size)
{
    int64_t sv;
    int did_stream = 0, did_chunk = 0;
    size_t rows = 0;
    cdc_src_err_t rc;

    *busy = 0;
    *idle = 0;
    if (cdc_sqlite_schema_version(src->db, &sv, errstr, errstr_size) != SQLITE_OK)
        return CDC_SRC_EOPER;
    if (sv != src->schema_version || src->need_refresh) {
        if ((rc = cdc_src_refresh(src, 0, errstr, errstr_size)) != CDC_SRC_OK)
            return rc;
        if (src->need_refresh)
            return CDC_SRC_OK; /* capture could not be converged yet: stream stays stale */
    }
    if ((rc = cdc_src_stream_once(src, &did_stream, &rows, errstr, errstr_size)) != CDC_SRC_OK)
        return rc;
    if (src->need_refresh) {
        *busy = 1;
        return CDC_SRC_OK;
    }
    if ((rc = cdc_src_snapshot_once(src, &did_chunk, errstr, errstr_size)) != CDC_SRC_OK)
        return rc;
    *busy = did_stream || did_chunk;
    *idle = !did_stream && !did_chunk;
    return CDC_SRC_OK;
}

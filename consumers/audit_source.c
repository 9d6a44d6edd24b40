/*
 * audit_source: the SQLite side of the audit. Tables and their typing come from the same
 * code the producer uses (table_info + table codec), so a value maps here exactly as it
 * was mapped when it was sent. Reads go by key-ordered chunks in short read transactions
 * (keyset pagination, like the producer's snapshot), so the audit never holds a reader
 * open long enough to block a checkpoint or, in rollback-journal mode, a writer.
 */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "cdc_alloc.h"
#include "cdc_canon.h"
#include "../producer/position.h"
#include "../producer/schema_files.h"
#include "sink_pg.h"

void audit_row_init(audit_row_t *r, size_t ncols)
{
    memset(r, 0, sizeof *r);
    r->vals = cdc_calloc(ncols + 1, sizeof *r->vals);
    r->scratch = cdc_calloc(ncols + 1, sizeof *r->scratch);
    r->raw = cdc_calloc(ncols + 1, sizeof *r->raw);
    cdc_buf_init(&r->canon);
}

void audit_row_free(audit_row_t *r, size_t ncols)
{
    if (r->scratch != NULL)
        for (size_t i = 0; i < ncols; i++)
            cdc_buf_free(&r->scratch[i]);
    free(r->scratch);
    free(r->vals);
    free(r->raw);
    cdc_buf_free(&r->canon);
    memset(r, 0, sizeof *r);
}

int audit_row_finish(const audit_table_t *t, audit_row_t *r, char *errstr, size_t errstr_size)
{
    if (cdc_canon_row(t->cols, r->vals, t->ncols, &r->canon, errstr, errstr_size) < 0)
        return -1;
    r->hash = cdc_hash_xxh64(r->canon.data, r->canon.len, 0);
    return 0;
}

int audit_src_open(const cdc_source_t *src, sqlite3 **db, char *errstr, size_t errstr_size)
{
    int rc = sqlite3_open_v2(src->path, db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s: cannot open %s: %s", src->name, src->path,
                 *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(*db, 1000);
    return 0;
}

int audit_src_tables(sqlite3 *db, const cdc_source_t *src, const char *only, char ***names,
                     size_t *n, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc = -1, step;

    *names = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT tbl FROM \"_cdc_tables\" ORDER BY tbl", -1, &st, NULL) !=
        SQLITE_OK) {
        snprintf(errstr, errstr_size,
                 "source %s (%s): capture is not installed (no _cdc_tables): %s", src->name,
                 src->path, sqlite3_errmsg(db));
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (name == NULL || (only != NULL && sqlite3_stricmp(only, name) != 0))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = cdc_realloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = cdc_strdup(name);
    }
    if (step != SQLITE_DONE) {
        snprintf(errstr, errstr_size, "source %s (%s): reading _cdc_tables: %s", src->name,
                 src->path, sqlite3_errmsg(db));
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static const cdc_strlist_t *config_keys(const cdc_source_t *src, const char *table)
{
    for (size_t i = 0; i < src->n_keys; i++)
        if (sqlite3_stricmp(src->keys[i].table, table) == 0)
            return &src->keys[i].columns;
    return NULL;
}

/* The producer's own codec (cdc_schema_codec_new, as producer/source.c builds it): the
 * rowid of a rowid-keyed table is one extra column, under the alias table_info chose. */
int audit_table_new(sqlite3 *db, const cdc_source_t *src, const char *name, audit_table_t **out,
                    char *errstr, size_t errstr_size)
{
    audit_table_t *t = cdc_calloc(1, sizeof *t);
    char tmp[1024];
    size_t n;
    int rc = -1;

    t->src = src;
    t->table = cdc_strdup(name);
    if (cdc_table_info_load(db, name, config_keys(src, name), &t->ti, tmp, sizeof tmp) !=
        CDC_TABLE_INFO_OK) {
        snprintf(errstr, errstr_size, "source %s: %s", src->name, tmp);
        goto out;
    }
    t->rowid_extra = t->ti->key_kind == CDC_KEY_ROWID;
    t->codec = cdc_schema_codec_new(src, t->ti, &n, tmp, sizeof tmp);
    if (t->codec == NULL) {
        snprintf(errstr, errstr_size, "source %s table %s: %s", src->name, name, tmp);
        goto out;
    }
    t->cols = cdc_table_codec_columns(t->codec, &t->ncols);
    t->nkeys = cdc_table_codec_key_count(t->codec);
    t->key_col = cdc_calloc(t->nkeys + 1, sizeof *t->key_col);
    for (size_t k = 0; k < t->nkeys; k++)
        t->key_col[k] = cdc_table_codec_key_column(t->codec, k);
    {
        char *full = cdc_asprintf("%s%s", src->table_prefix ? src->table_prefix : "", name);
        t->target = cdc_sink_pg_ident_clip(full);
        t->target_q = cdc_sink_pg_ident_quote(full);
        free(full);
    }
    rc = 0;
out:
    if (rc != 0) {
        audit_table_free(t);
        t = NULL;
    }
    *out = t;
    return rc;
}

void audit_table_free(audit_table_t *t)
{
    if (t == NULL)
        return;
    cdc_table_codec_destroy(t->codec);
    cdc_table_info_destroy(t->ti);
    free(t->key_col);
    free(t->table);
    free(t->target);
    free(t->target_q);
    free(t);
}

/* Appends key part k of t as SQLite reads it: the quoted column or the rowid alias. */
static void key_expr(const audit_table_t *t, size_t k, cdc_buf_t *b)
{
    const cdc_column_t *c = &t->cols[t->key_col[k]];
    if (t->rowid_extra && t->key_col[k] == t->ncols - 1) {
        cdc_buf_put_str(b, c->name);
        return;
    }
    cdc_buf_put_byte(b, '"');
    for (const char *p = c->name; *p; p++) {
        if (*p == '"')
            cdc_buf_put_byte(b, '"');
        cdc_buf_put_byte(b, (unsigned char)*p);
    }
    cdc_buf_put_byte(b, '"');
}

/* "SELECT c1, ..., [rowid][, extra] FROM "t"" */
static void select_cols(const audit_table_t *t, cdc_buf_t *b, const char *extra)
{
    cdc_buf_put_str(b, "SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        if (i > 0)
            cdc_buf_put_str(b, ", ");
        if (t->rowid_extra && i == t->ncols - 1) {
            cdc_buf_put_str(b, t->cols[i].name);
            continue;
        }
        cdc_buf_put_byte(b, '"');
        for (const char *p = t->cols[i].name; *p; p++) {
            if (*p == '"')
                cdc_buf_put_byte(b, '"');
            cdc_buf_put_byte(b, (unsigned char)*p);
        }
        cdc_buf_put_byte(b, '"');
    }
    if (extra != NULL)
        cdc_buf_printf(b, ", %s", extra);
    cdc_buf_printf(b, " FROM \"");
    for (const char *p = t->ti->name; *p; p++) {
        if (*p == '"')
            cdc_buf_put_byte(b, '"');
        cdc_buf_put_byte(b, (unsigned char)*p);
    }
    cdc_buf_put_byte(b, '"');
}

/* 1 when key part k maps to a time kind, whose SQLite storage (text in several formats,
 * unix seconds, julian days) sorts by its instant only through julianday(). */
static int time_key(const audit_table_t *t, size_t k)
{
    cdc_col_kind_t kind = t->cols[t->key_col[k]].type.kind;
    return kind == CDC_COL_TIMESTAMP || kind == CDC_COL_DATE;
}

/*
 * The terms of the SQLite order, separated by ", ": per key part the column COLLATE
 * BINARY, preceded for time kinds by its instant as a julian day (integers are unix
 * seconds, as cdc_convert reads them; text that is no date sorts first, as -1). The raw
 * column breaks ties of equal instants (sub-millisecond differences), so the order is
 * total and keyset pagination never skips a row.
 */
static size_t order_terms(const audit_table_t *t, cdc_buf_t *b)
{
    size_t n = 0;
    for (size_t k = 0; k < t->nkeys; k++) {
        if (time_key(t, k)) {
            cdc_buf_put_str(b, n++ ? ", " : "");
            cdc_buf_put_str(b, "coalesce(CASE WHEN typeof(");
            key_expr(t, k, b);
            cdc_buf_put_str(b, ") = 'integer' THEN julianday(");
            key_expr(t, k, b);
            cdc_buf_put_str(b, ", 'unixepoch') ELSE julianday(");
            key_expr(t, k, b);
            cdc_buf_put_str(b, ") END, -1)");
        }
        cdc_buf_put_str(b, n++ ? ", " : "");
        key_expr(t, k, b);
        cdc_buf_put_str(b, " COLLATE BINARY");
    }
    return n;
}

struct audit_src_scan_s {
    sqlite3 *db;
    const audit_table_t *t;
    int chunk_rows;
    sqlite3_stmt *first, *next; /* the first chunk; the chunks after the last key */
    sqlite3_stmt *cur;          /* the running one, NULL between chunks */
    int in_tx, done, nchunks;
    int rows_in_chunk;
    size_t nterms;      /* order terms, selected after the columns */
    cdc_value_t *last;  /* order terms of the last row returned, owned copies */
    cdc_buf_t *lastbuf; /* bytes of last[i] */
    cdc_pos_t pos_first, pos_last;
};

audit_src_scan_t *audit_src_scan_new(sqlite3 *db, const audit_table_t *t, int chunk_rows,
                                     char *errstr, size_t errstr_size)
{
    audit_src_scan_t *s = cdc_calloc(1, sizeof *s);
    cdc_buf_t w = CDC_BUF_INIT, terms = CDC_BUF_INIT, sql = CDC_BUF_INIT;

    s->db = db;
    s->t = t;
    s->chunk_rows = chunk_rows > 0 ? chunk_rows : 2000;
    s->nterms = order_terms(t, &terms);
    s->last = cdc_calloc(s->nterms, sizeof *s->last);
    s->lastbuf = cdc_calloc(s->nterms, sizeof *s->lastbuf);
    /* Rows with a NULL key part are skipped like the producer's snapshot skips them. */
    for (size_t k = 0; k < t->nkeys; k++) {
        cdc_buf_put_str(&w, k ? " AND " : " WHERE ");
        key_expr(t, k, &w);
        cdc_buf_put_str(&w, " IS NOT NULL");
    }
    select_cols(t, &sql, cdc_buf_cstr(&terms));
    cdc_buf_printf(&sql, "%s ORDER BY %s LIMIT %d", cdc_buf_cstr(&w), cdc_buf_cstr(&terms),
                   s->chunk_rows);
    if (sqlite3_prepare_v2(db, cdc_buf_cstr(&sql), -1, &s->first, NULL) != SQLITE_OK)
        goto fail;
    cdc_buf_reset(&sql);
    select_cols(t, &sql, cdc_buf_cstr(&terms));
    cdc_buf_printf(&sql, "%s AND (%s) > (", cdc_buf_cstr(&w), cdc_buf_cstr(&terms));
    for (size_t i = 0; i < s->nterms; i++)
        cdc_buf_printf(&sql, "%s?%zu", i ? ", " : "", i + 1);
    cdc_buf_printf(&sql, ") ORDER BY %s LIMIT %d", cdc_buf_cstr(&terms), s->chunk_rows);
    if (sqlite3_prepare_v2(db, cdc_buf_cstr(&sql), -1, &s->next, NULL) != SQLITE_OK)
        goto fail;
    cdc_buf_free(&w);
    cdc_buf_free(&terms);
    cdc_buf_free(&sql);
    return s;
fail:
    snprintf(errstr, errstr_size, "source %s table %s: preparing the scan: %s", t->src->name,
             t->table, sqlite3_errmsg(db));
    cdc_buf_free(&w);
    cdc_buf_free(&terms);
    cdc_buf_free(&sql);
    audit_src_scan_free(s);
    return NULL;
}

static int chunk_begin(audit_src_scan_t *s, char *errstr, size_t errstr_size)
{
    cdc_position_state_t ps;
    char tmp[512];

    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    s->in_tx = 1;
    if (cdc_position_read(s->db, &ps, tmp, sizeof tmp) != CDC_CAPTURE_EOK) {
        snprintf(errstr, errstr_size, "source %s: reading the capture position: %s",
                 s->t->src->name, tmp);
        return -1;
    }
    s->pos_last = (cdc_pos_t){ps.epoch, ps.high};
    if (s->nchunks++ == 0) {
        s->pos_first = s->pos_last;
        s->cur = s->first;
    } else {
        s->cur = s->next;
        if (cdc_record_bind_values(s->next, 1, s->last, s->nterms) != SQLITE_OK)
            goto fail;
    }
    s->rows_in_chunk = 0;
    return 0;
fail:
    snprintf(errstr, errstr_size, "source %s table %s: %s", s->t->src->name, s->t->table,
             sqlite3_errmsg(s->db));
    return -1;
}

static void chunk_end(audit_src_scan_t *s)
{
    if (s->cur != NULL)
        sqlite3_reset(s->cur);
    s->cur = NULL;
    if (s->in_tx)
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    s->in_tx = 0;
}

/* Keeps owned copies of the row's order terms, the lower limit of the next chunk. */
static void remember_terms(audit_src_scan_t *s)
{
    cdc_record_values_from_stmt(s->cur, (int)s->t->ncols, s->nterms, s->last);
    for (size_t i = 0; i < s->nterms; i++) {
        cdc_value_t *v = &s->last[i];
        if (v->type == CDC_VAL_TEXT || v->type == CDC_VAL_BLOB) {
            cdc_buf_reset(&s->lastbuf[i]);
            cdc_buf_put(&s->lastbuf[i], v->p, v->len);
            cdc_buf_put_byte(&s->lastbuf[i], 0);
            v->p = s->lastbuf[i].data;
        }
    }
}

int audit_src_scan_next(audit_src_scan_t *s, audit_row_t *r, char *errstr, size_t errstr_size)
{
    const audit_table_t *t = s->t;
    int step;

    for (;;) {
        if (s->done)
            return 0;
        if (s->cur == NULL && chunk_begin(s, errstr, errstr_size) < 0)
            return -1;
        step = sqlite3_step(s->cur);
        if (step == SQLITE_ROW)
            break;
        if (step != SQLITE_DONE) {
            snprintf(errstr, errstr_size, "source %s table %s: reading: %s", t->src->name, t->table,
                     sqlite3_errmsg(s->db));
            return -1;
        }
        /* A short chunk is the last one. */
        if (s->rows_in_chunk < s->chunk_rows)
            s->done = 1;
        chunk_end(s);
    }
    s->rows_in_chunk++;
    cdc_record_values_from_stmt(s->cur, 0, t->ncols, r->raw);
    remember_terms(s);
    r->misfit = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (cdc_convert_value(&t->cols[i], &r->raw[i], &r->vals[i], &r->scratch[i], r->why,
                              sizeof r->why) != CDC_CONVERT_OK) {
            r->misfit = 1;
            break;
        }
    }
    if (!r->misfit && audit_row_finish(t, r, r->why, sizeof r->why) < 0)
        r->misfit = 1;
    return 1;
}

void audit_src_scan_positions(const audit_src_scan_t *s, cdc_pos_t *first, cdc_pos_t *last)
{
    *first = s->pos_first;
    *last = s->pos_last;
}

void audit_src_scan_free(audit_src_scan_t *s)
{
    if (s == NULL)
        return;
    chunk_end(s);
    sqlite3_finalize(s->first);
    sqlite3_finalize(s->next);
    for (size_t i = 0; i < s->nterms; i++)
        cdc_buf_free(&s->lastbuf[i]);
    free(s->lastbuf);
    free(s->last);
    free(s);
}

int audit_src_lookup(sqlite3 *db, const audit_table_t *t, const cdc_value_t *kv, int *found,
                     cdc_buf_t *canon, int64_t *epoch, int64_t *log_seq, char *errstr,
                     size_t errstr_size)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    sqlite3_stmt *row = NULL, *log = NULL;
    cdc_position_state_t ps;
    audit_row_t r;
    char tmp[512];
    int rc = -1, in_tx = 0, step;

    audit_row_init(&r, t->ncols);
    *found = 0;
    *log_seq = 0;
    select_cols(t, &sql, NULL);
    for (size_t k = 0; k < t->nkeys; k++) {
        cdc_buf_put_str(&sql, k ? " AND " : " WHERE ");
        key_expr(t, k, &sql);
        cdc_buf_printf(&sql, " COLLATE BINARY = ?%zu", k + 1);
    }
    if (sqlite3_prepare_v2(db, cdc_buf_cstr(&sql), -1, &row, NULL) != SQLITE_OK)
        goto sqlerr;
    cdc_buf_reset(&sql);
    cdc_buf_put_str(&sql, "SELECT max(seq) FROM \"_cdc_changes\" WHERE tbl = ?1");
    for (size_t k = 0; k < t->nkeys; k++)
        cdc_buf_printf(&sql, " AND k%zu = ?%zu", k + 1, k + 2);
    if (sqlite3_prepare_v2(db, cdc_buf_cstr(&sql), -1, &log, NULL) != SQLITE_OK)
        goto sqlerr;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto sqlerr;
    in_tx = 1;
    if (cdc_position_read(db, &ps, tmp, sizeof tmp) != CDC_CAPTURE_EOK) {
        snprintf(errstr, errstr_size, "source %s: %s", t->src->name, tmp);
        goto out;
    }
    *epoch = ps.epoch;
    if (cdc_record_bind_values(row, 1, kv, t->nkeys) != SQLITE_OK)
        goto sqlerr;
    step = sqlite3_step(row);
    if (step == SQLITE_ROW) {
        *found = 1;
        cdc_record_values_from_stmt(row, 0, t->ncols, r.raw);
        for (size_t i = 0; i < t->ncols && *found == 1; i++)
            if (cdc_convert_value(&t->cols[i], &r.raw[i], &r.vals[i], &r.scratch[i], tmp,
                                  sizeof tmp) != CDC_CONVERT_OK)
                *found = 2;
        if (*found == 1 && audit_row_finish(t, &r, tmp, sizeof tmp) < 0)
            *found = 2;
        cdc_buf_reset(canon);
        if (*found == 1)
            cdc_buf_put(canon, r.canon.data, r.canon.len);
    } else if (step != SQLITE_DONE) {
        goto sqlerr;
    }
    sqlite3_bind_text(log, 1, t->table, -1, SQLITE_STATIC);
    if (cdc_record_bind_values(log, 2, kv, t->nkeys) != SQLITE_OK)
        goto sqlerr;
    if (sqlite3_step(log) != SQLITE_ROW)
        goto sqlerr;
    *log_seq = sqlite3_column_int64(log, 0);
    rc = 0;
    goto out;
sqlerr:
    snprintf(errstr, errstr_size, "source %s table %s: re-reading a key: %s", t->src->name,
             t->table, sqlite3_errmsg(db));
out:
    sqlite3_finalize(row);
    sqlite3_finalize(log);
    if (in_tx)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    audit_row_free(&r, t->ncols);
    cdc_buf_free(&sql);
    return rc;
}

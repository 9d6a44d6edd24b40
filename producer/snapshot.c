#include "snapshot.h"

#include "capture.h"
#include "cdc_alloc.h"
#include "cdc_log.h"
#include "position.h"
#include "sqlite_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a chunk keeps retrying a file locked by writers before giving up for now. */
#define READ_BUSY_BUDGET_MS 10000.0
#define BACKOFF_FIRST_MS    0.5
#define BACKOFF_MAX_MS      4.0
#define ROWBUF_BLOCK        65536

const char *cdc_read_err2str(cdc_read_err_t err)
{
    switch (err) {
    case CDC_READ_OK:
        return "ok";
    case CDC_READ_ESQLITE:
        return "sqlite error";
    case CDC_READ_EBUSY:
        return "database busy";
    case CDC_READ_ENOCAPTURE:
        return "capture not installed";
    case CDC_READ_EABORTED:
        return "aborted by the callback";
    case CDC_READ_ESTALE:
        return "table list stale";
    }
    return "unknown error";
}

void cdc_read_backoff(int attempt)
{
    double ms = BACKOFF_FIRST_MS;
    for (int i = 0; i < attempt && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    struct timespec ts = {(time_t)(ms / 1000.0), (long)((ms - (long)(ms / 1000.0) * 1000) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* --- owned keys and row buffers --------------------------------------------------------- */

static unsigned char *dup_bytes(const unsigned char *p, size_t len)
{
    unsigned char *d = cdc_malloc(len + 1);
    if (len)
        memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

void cdc_key_clear(cdc_key_t *k)
{
    for (size_t i = 0; i < k->n; i++)
        free((void *)k->values[i].p);
    free(k->values);
    k->values = NULL;
    k->n = 0;
}

void cdc_key_copy(cdc_key_t *dst, const cdc_value_t *src, size_t n)
{
    cdc_value_t *v = cdc_calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = src[i];
        if (src[i].type == CDC_VAL_TEXT || src[i].type == CDC_VAL_BLOB)
            v[i].p = dup_bytes(src[i].p, src[i].len);
        else
            v[i].p = NULL;
    }
    /* src may point into *dst: free the old values only after copying. */
    cdc_key_clear(dst);
    dst->values = v;
    dst->n = n;
}

void cdc_snapshot_chunk_clear(cdc_snapshot_chunk_t *c)
{
    cdc_key_clear(&c->last_key);
    memset(c, 0, sizeof(*c));
}

typedef struct cdc_rowbuf_block_s {
    struct cdc_rowbuf_block_s *next;
    size_t used, size;
    unsigned char data[];
} rowbuf_block_t;

void cdc_rowbuf_init(cdc_rowbuf_t *b, size_t width)
{
    memset(b, 0, sizeof(*b));
    b->width = width;
}

cdc_value_t *cdc_rowbuf_add(cdc_rowbuf_t *b)
{
    if (b->n_rows == b->cap_rows) {
        b->cap_rows = b->cap_rows ? b->cap_rows * 2 : 64;
        size_t w = b->width ? b->width : 1;
        b->values = cdc_realloc(b->values, b->cap_rows * w * sizeof(*b->values));
    }
    cdc_value_t *row = b->values + b->n_rows * b->width;
    memset(row, 0, b->width * sizeof(*row));
    b->n_rows++;
    return row;
}

/* Bytes never move once stored (values point at them), so the buffer grows by blocks. */
static unsigned char *rowbuf_store(cdc_rowbuf_t *b, const void *src, size_t len)
{
    rowbuf_block_t *blk = b->blocks;
    if (!blk || blk->size - blk->used < len + 1) {
        size_t size = len + 1 > ROWBUF_BLOCK ? len + 1 : ROWBUF_BLOCK;
        blk = cdc_malloc(sizeof(*blk) + size);
        blk->size = size;
        blk->used = 0;
        blk->next = b->blocks;
        b->blocks = blk;
    }
    unsigned char *p = blk->data + blk->used;
    if (len)
        memcpy(p, src, len);
    p[len] = '\0';
    blk->used += len + 1;
    return p;
}

void cdc_rowbuf_set_column(cdc_rowbuf_t *b, cdc_value_t *dst, sqlite3_stmt *st, int col)
{
    cdc_value_t v;

    cdc_sqlite_column_values(st, col, 1, &v);
    cdc_rowbuf_set_value(b, dst, &v);
}

void cdc_rowbuf_set_value(cdc_rowbuf_t *b, cdc_value_t *dst, const cdc_value_t *src)
{
    *dst = *src;
    if (src->type == CDC_VAL_TEXT || src->type == CDC_VAL_BLOB)
        dst->p = rowbuf_store(b, src->p, src->len);
    else
        dst->p = NULL;
}

const cdc_value_t *cdc_rowbuf_row(const cdc_rowbuf_t *b, size_t i)
{
    return b->values + i * b->width;
}

void cdc_rowbuf_reset(cdc_rowbuf_t *b)
{
    while (b->blocks) {
        rowbuf_block_t *next = b->blocks->next;
        free(b->blocks);
        b->blocks = next;
    }
    b->n_rows = 0;
}

void cdc_rowbuf_free(cdc_rowbuf_t *b)
{
    cdc_rowbuf_reset(b);
    free(b->values);
    memset(b, 0, sizeof(*b));
}

int cdc_read_value_same(const cdc_value_t *a, const cdc_value_t *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case CDC_VAL_NULL:
        return 1;
    case CDC_VAL_INTEGER:
        return a->i == b->i;
    case CDC_VAL_REAL:
        return memcmp(&a->r, &b->r, sizeof(a->r)) == 0 || a->r == b->r;
    case CDC_VAL_TEXT:
    case CDC_VAL_BLOB:
        return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
    }
    return 0;
}

int cdc_read_bind(sqlite3_stmt *st, int idx, const cdc_value_t *v)
{
    switch (v->type) {
    case CDC_VAL_INTEGER:
        return sqlite3_bind_int64(st, idx, v->i);
    case CDC_VAL_REAL:
        return sqlite3_bind_double(st, idx, v->r);
    case CDC_VAL_TEXT:
        return sqlite3_bind_text64(st, idx, (const char *)v->p, v->len, SQLITE_TRANSIENT,
                                   SQLITE_UTF8);
    case CDC_VAL_BLOB:
        return sqlite3_bind_blob64(st, idx, v->p ? (const void *)v->p : (const void *)"", v->len,
                                   SQLITE_TRANSIENT);
    case CDC_VAL_NULL:
        break;
    }
    return sqlite3_bind_null(st, idx);
}

/* --- the chunk query ---------------------------------------------------------------------- */

/* Appends key part i as an SQL expression: the quoted column, or the bare rowid alias. */
static void key_expr(cdc_sqlbuf_t *b, const cdc_table_info_t *ti, size_t i)
{
    if (ti->key_columns[i] < 0)
        cdc_sqlbuf_append(b, ti->rowid_alias);
    else
        cdc_sqlbuf_ident(b, ti->columns[ti->key_columns[i]].name);
}

/* 1 when key part i can hold NULL (rowids, NOT NULL columns and WITHOUT ROWID keys
 * cannot). */
static int key_nullable(const cdc_table_info_t *ti, size_t i)
{
    if (ti->key_columns[i] < 0 || ti->kind == CDC_TABLE_WITHOUT_ROWID)
        return 0;
    return !ti->columns[ti->key_columns[i]].not_null;
}

/*
 * SELECT <columns>, <rowid parts of the key> FROM "t" WHERE <key parts NOT NULL>
 * [AND (k1,..) > (?1,..)] ORDER BY k1,.. LIMIT ?n. The row value comparison keeps the
 * query on the key's index; each part compares with its column's collation, exactly as
 * the ORDER BY does, so no row is skipped or repeated at chunk boundaries.
 */
static char *chunk_sql(const cdc_table_info_t *ti, int with_after)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_append(&b, "SELECT ");
    for (size_t c = 0; c < ti->n_columns; c++) {
        if (c)
            cdc_sqlbuf_append(&b, ", ");
        cdc_sqlbuf_ident(&b, ti->columns[c].name);
    }
    for (size_t k = 0; k < ti->n_keys; k++) {
        if (ti->key_columns[k] < 0) {
            cdc_sqlbuf_append(&b, ti->n_columns || k ? ", " : "");
            cdc_sqlbuf_append(&b, ti->rowid_alias);
        }
    }
    cdc_sqlbuf_append(&b, " FROM ");
    cdc_sqlbuf_ident(&b, ti->name);
    const char *sep = " WHERE ";
    for (size_t k = 0; k < ti->n_keys; k++) {
        if (key_nullable(ti, k)) {
            cdc_sqlbuf_append(&b, sep);
            key_expr(&b, ti, k);
            cdc_sqlbuf_append(&b, " IS NOT NULL");
            sep = " AND ";
        }
    }
    if (with_after) {
        cdc_sqlbuf_append(&b, sep);
        cdc_sqlbuf_append(&b, ti->n_keys > 1 ? "(" : "");
        for (size_t k = 0; k < ti->n_keys; k++) {
            if (k)
                cdc_sqlbuf_append(&b, ", ");
            key_expr(&b, ti, k);
        }
        cdc_sqlbuf_append(&b, ti->n_keys > 1 ? ") > (" : " > ");
        for (size_t k = 0; k < ti->n_keys; k++)
            cdc_sqlbuf_printf(&b, "%s?%zu", k ? ", " : "", k + 1);
        cdc_sqlbuf_append(&b, ti->n_keys > 1 ? ")" : "");
    }
    cdc_sqlbuf_append(&b, " ORDER BY ");
    for (size_t k = 0; k < ti->n_keys; k++) {
        if (k)
            cdc_sqlbuf_append(&b, ", ");
        key_expr(&b, ti, k);
    }
    cdc_sqlbuf_printf(&b, " LIMIT ?%zu", ti->n_keys + 1);
    return b.s; /* owned by the caller */
}

/* Counts rows with a NULL key part, in its own statement outside the chunk's
 * transaction (only tables whose key can hold NULL pay for it). */
static int count_null_keys(sqlite3 *db, const cdc_table_info_t *ti, size_t *out, char *errstr,
                           size_t errstr_size)
{
    *out = 0;
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_append(&b, "SELECT count(*) FROM ");
    cdc_sqlbuf_ident(&b, ti->name);
    const char *sep = " WHERE ";
    int any = 0;
    for (size_t k = 0; k < ti->n_keys; k++) {
        if (key_nullable(ti, k)) {
            cdc_sqlbuf_append(&b, sep);
            key_expr(&b, ti, k);
            cdc_sqlbuf_append(&b, " IS NULL");
            sep = " OR ";
            any = 1;
        }
    }
    int rc = SQLITE_OK;
    sqlite3_stmt *st = NULL;
    if (!any)
        goto out;
    for (int attempt = 0;; attempt++) {
        rc = cdc_sqlite_prepare(db, b.s, &st, errstr, errstr_size);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                *out = (size_t)sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
            }
        }
        sqlite3_finalize(st);
        st = NULL;
        if ((rc & 0xff) != SQLITE_BUSY || attempt > 200)
            break;
        cdc_read_backoff(attempt);
    }
    if (rc != SQLITE_OK)
        cdc_sqlite_error(db, rc, "counting rows with a NULL key", errstr, errstr_size);
out:
    cdc_sqlbuf_free(&b);
    return rc;
}

/* One attempt: BEGIN, position, SELECT into rows, COMMIT. Returns a SQLite code
 * (SQLITE_BUSY: roll back and retry) or -1 for "capture not installed". */
static int chunk_attempt(sqlite3 *db, sqlite3_stmt *st, const cdc_table_info_t *ti,
                         cdc_rowbuf_t *rows, cdc_position_state_t *pos, char *errstr,
                         size_t errstr_size)
{
    int rc = cdc_sqlite_exec(db, "BEGIN", "BEGIN (snapshot chunk)", errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    cdc_capture_err_t cerr = cdc_position_read(db, pos, errstr, errstr_size);
    if (cerr == CDC_CAPTURE_ENOCAPTURE) {
        rc = -1;
        goto out;
    }
    if (cerr != CDC_CAPTURE_EOK) {
        rc = sqlite3_errcode(db);
        if (rc == SQLITE_OK)
            rc = SQLITE_ERROR;
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cdc_value_t *row = cdc_rowbuf_add(rows);
        for (size_t c = 0; c < ti->n_columns; c++)
            cdc_rowbuf_set_column(rows, &row[c], st, (int)c);
        int extra = (int)ti->n_columns;
        for (size_t k = 0; k < ti->n_keys; k++) {
            if (ti->key_columns[k] < 0)
                cdc_rowbuf_set_column(rows, &row[ti->n_columns + k], st, extra++);
            else
                row[ti->n_columns + k] = row[ti->key_columns[k]];
        }
    }
    if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "reading a snapshot chunk", errstr, errstr_size);
        goto out;
    }
    rc = cdc_sqlite_exec(db, "COMMIT", "COMMIT (snapshot chunk)", errstr, errstr_size);
out:
    sqlite3_reset(st);
    cdc_sqlite_rollback_open(db);
    return rc;
}

cdc_read_err_t cdc_snapshot_chunk(sqlite3 *db, const cdc_table_info_t *ti,
                                  const cdc_value_t *after_key, size_t limit,
                                  cdc_snapshot_row_fn fn, void *opaque, cdc_snapshot_chunk_t *out,
                                  char *errstr, size_t errstr_size)
{
    cdc_read_err_t err = CDC_READ_ESQLITE;
    char *sql = NULL;
    sqlite3_stmt *st = NULL;
    cdc_rowbuf_t rows;
    cdc_position_state_t pos;
    size_t delivered = 0, null_keys = 0;
    int retries = 0, rc;
    double hold = 0;
    cdc_rowbuf_init(&rows, ti->n_columns + ti->n_keys);
    if (limit == 0)
        limit = CDC_SNAPSHOT_DEFAULT_LIMIT;
    if (ti->kind == CDC_TABLE_VIRTUAL || ti->n_keys == 0) {
        snprintf(errstr, errstr_size, "%s: table %s has no key to page by", cdc_sqlite_path(db),
                 ti->name);
        goto out;
    }
    if (!sqlite3_get_autocommit(db)) {
        snprintf(errstr, errstr_size,
                 "%s: snapshot of %s: the connection is inside a transaction; each chunk "
                 "needs its own short one",
                 cdc_sqlite_path(db), ti->name);
        goto out;
    }
    for (size_t k = 0; after_key && k < ti->n_keys; k++) {
        /* (k1, k2) > (NULL, ..) matches nothing: the table would look finished. */
        if (after_key[k].type == CDC_VAL_NULL) {
            snprintf(errstr, errstr_size, "%s: snapshot of %s: resume key part %zu is NULL",
                     cdc_sqlite_path(db), ti->name, k + 1);
            goto out;
        }
    }
    if (!after_key) {
        if (count_null_keys(db, ti, &null_keys, errstr, errstr_size) != SQLITE_OK)
            goto out;
        if (null_keys)
            cdc_log_warn("%s: table %s: %zu row(s) have a NULL in key %s and are left out of "
                         "the snapshot (capture cannot tell them apart); name NOT NULL key "
                         "columns in the config's keys",
                         cdc_sqlite_path(db), ti->name, null_keys,
                         ti->n_keys == 1 && ti->key_columns[0] >= 0
                             ? ti->columns[ti->key_columns[0]].name
                             : "columns");
    }
    sql = chunk_sql(ti, after_key != NULL);
    /* Prepared before the transaction: preparing may read the schema. */
    if (cdc_sqlite_prepare(db, sql, &st, errstr, errstr_size) != SQLITE_OK)
        goto out;
    if (after_key)
        for (size_t k = 0; k < ti->n_keys; k++)
            cdc_read_bind(st, (int)k + 1, &after_key[k]);
    sqlite3_bind_int64(st, (int)ti->n_keys + 1, (sqlite3_int64)limit);
    double start = cdc_sqlite_now_ms();
    for (int attempt = 0;; attempt++) {
        cdc_rowbuf_reset(&rows);
        double t0 = cdc_sqlite_now_ms();
        rc = chunk_attempt(db, st, ti, &rows, &pos, errstr, errstr_size);
        double t1 = cdc_sqlite_now_ms();
        if (t1 - t0 > hold)
            hold = t1 - t0;
        if (rc == SQLITE_OK)
            break;
        if (rc == -1) {
            err = CDC_READ_ENOCAPTURE;
            goto out;
        }
        if (!cdc_sqlite_is_busy(rc))
            goto out;
        retries++;
        if (t1 - start > READ_BUSY_BUDGET_MS) {
            snprintf(errstr, errstr_size,
                     "%s: snapshot of %s: the file stayed locked by writers for %.0f ms",
                     cdc_sqlite_path(db), ti->name, t1 - start);
            err = CDC_READ_EBUSY;
            goto out;
        }
        cdc_read_backoff(attempt);
    }
    err = CDC_READ_OK;
    for (size_t i = 0; i < rows.n_rows; i++) {
        const cdc_value_t *row = cdc_rowbuf_row(&rows, i);
        cdc_snapshot_row_t r = {.pos = {pos.epoch, pos.high},
                                .key = row + ti->n_columns,
                                .n_keys = ti->n_keys,
                                .row = row,
                                .n_cols = ti->n_columns};
        if (fn(opaque, &r) != 0) {
            snprintf(errstr, errstr_size, "snapshot of %s stopped by its consumer", ti->name);
            err = CDC_READ_EABORTED;
            break;
        }
        delivered++;
    }
out:
    if (err == CDC_READ_OK || err == CDC_READ_EABORTED) {
        if (delivered) {
            const cdc_value_t *last = cdc_rowbuf_row(&rows, delivered - 1);
            cdc_key_copy(&out->last_key, last + ti->n_columns, ti->n_keys);
        } else if (!after_key) {
            cdc_key_clear(&out->last_key);
        } else {
            cdc_key_copy(&out->last_key, after_key, ti->n_keys);
        }
        out->epoch = pos.epoch;
        out->h = pos.high;
        out->rows = delivered;
        out->done = err == CDC_READ_OK && rows.n_rows < limit;
        out->null_keys = null_keys;
        out->hold_ms = hold;
        out->busy_retries = retries;
    }
    sqlite3_finalize(st);
    free(sql);
    cdc_rowbuf_free(&rows);
    return err;
}

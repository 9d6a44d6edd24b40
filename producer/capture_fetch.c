/* Reading the change log for the stream: cdc_capture_fetch (declared in capture.h). */
#include "capture.h"

#include "capture_sql.h"
#include "cdc_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cdc_change_batch_destroy(cdc_change_batch_t *batch)
{
    if (!batch)
        return;
    for (size_t i = 0; i < batch->n_changes; i++) {
        cdc_change_t *c = &batch->changes[i];
        for (size_t k = 0; k < c->n_keys; k++)
            free((void *)c->keys[k].p);
        free(c->keys);
        free((void *)c->table);
    }
    free(batch->changes);
    free(batch);
}

static int key_width(sqlite3 *db, int *width, char *errstr, size_t errstr_size)
{
    int64_t n = 0;
    int rc = cdc_sqlite_query_int64(db,
                                    "SELECT count(*) FROM pragma_table_info('_cdc_changes','main') "
                                    "WHERE name GLOB 'k[0-9]*'",
                                    "reading the columns of _cdc_changes", &n, errstr, errstr_size);
    if (rc == SQLITE_OK)
        *width = (int)n;
    return rc;
}

/* Copies one column value; text and blob bytes get their own NUL-terminated buffer. */
static void copy_value(sqlite3_stmt *st, int col, cdc_value_t *v)
{
    cdc_sqlite_column_values(st, col, 1, v);
    if (v->type == CDC_VAL_TEXT || v->type == CDC_VAL_BLOB) {
        unsigned char *p = cdc_malloc(v->len + 1);
        if (v->len)
            memcpy(p, v->p, v->len);
        p[v->len] = '\0';
        v->p = p;
    }
}

/* The upper bound of the batch: the seq of the limit-th row after `after`. */
static int batch_bounds(sqlite3 *db, cdc_change_batch_t *b, size_t limit, char *errstr,
                        size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = cdc_sqlite_prepare(db,
                                "SELECT max(seq), count(*) FROM (SELECT seq FROM \"_cdc_changes\" "
                                "WHERE seq > ?1 ORDER BY seq LIMIT ?2)",
                                &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, b->after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        b->n_rows = (size_t)sqlite3_column_int64(st, 1);
        b->upto = b->n_rows ? sqlite3_column_int64(st, 0) : b->after;
        rc = SQLITE_OK;
    } else {
        cdc_sqlite_error(db, rc, "reading _cdc_changes", errstr, errstr_size);
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * One entry per (table, typed key): GROUP BY compares values by storage class already
 * (no affinity on k columns) except that 1 and 1.0 compare equal, hence typeof() in the
 * grouping. With a single max() aggregate, SQLite takes the bare columns (op) from the
 * row holding the maximum: the newest operation of each key.
 */
static char *coalesce_sql(int width)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_append(&b, "SELECT c.tbl, max(c.seq), c.op, t.key_count");
    for (int i = 1; i <= width; i++)
        cdc_sqlbuf_printf(&b, ", c.k%d", i);
    cdc_sqlbuf_append(&b, " FROM \"_cdc_changes\" c JOIN \"_cdc_tables\" t ON t.tbl = c.tbl "
                          "WHERE c.seq > ?1 AND c.seq <= ?2 AND c.seq > t.key_since "
                          "GROUP BY c.tbl");
    for (int i = 1; i <= width; i++)
        cdc_sqlbuf_printf(&b, ", typeof(c.k%d), c.k%d", i, i);
    cdc_sqlbuf_append(&b, " ORDER BY 2");
    return b.s;
}

cdc_capture_err_t cdc_capture_fetch(sqlite3 *db, int64_t after, size_t limit,
                                    cdc_change_batch_t **out, char *errstr, size_t errstr_size)
{
    cdc_change_batch_t *b = cdc_calloc(1, sizeof(*b));
    sqlite3_stmt *st = NULL;
    char *sql = NULL;
    int began = 0, width = 0;
    cdc_capture_err_t err = CDC_CAPTURE_ESQLITE;
    size_t cap = 0;
    int rc;
    *out = NULL;
    b->after = b->upto = after;
    if (limit == 0)
        limit = 1;
    if (cdc_sqlite_read_begin(db, &began, errstr, errstr_size) != SQLITE_OK)
        goto out;
    int exists = cdc_sqlite_table_exists(db, CDC_CAPTURE_CHANGES, errstr, errstr_size);
    if (exists <= 0) {
        if (exists == 0) {
            snprintf(errstr, errstr_size, "%s: capture is not installed (no _cdc_changes)",
                     cdc_sqlite_path(db));
            err = CDC_CAPTURE_ENOCAPTURE;
        }
        goto out;
    }
    if (key_width(db, &width, errstr, errstr_size) != SQLITE_OK ||
        batch_bounds(db, b, limit, errstr, errstr_size) != SQLITE_OK)
        goto out;
    if (b->n_rows == 0) {
        err = CDC_CAPTURE_EOK;
        goto out;
    }
    sql = coalesce_sql(width);
    if (cdc_sqlite_prepare(db, sql, &st, errstr, errstr_size) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, b->after);
    sqlite3_bind_int64(st, 2, b->upto);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (b->n_changes == cap) {
            cap = cap ? cap * 2 : 64;
            b->changes = cdc_realloc(b->changes, cap * sizeof(*b->changes));
        }
        cdc_change_t *c = &b->changes[b->n_changes++];
        memset(c, 0, sizeof(*c));
        c->table = cdc_strdup((const char *)sqlite3_column_text(st, 0));
        c->seq = sqlite3_column_int64(st, 1);
        const char *op = (const char *)sqlite3_column_text(st, 2);
        c->op = op && *op ? op[0] : '?';
        int nk = sqlite3_column_int(st, 3);
        if (nk < 0)
            nk = 0;
        if (nk > width)
            nk = width;
        c->n_keys = (size_t)nk;
        c->keys = cdc_calloc(c->n_keys ? c->n_keys : 1, sizeof(*c->keys));
        for (int k = 0; k < nk; k++)
            copy_value(st, 4 + k, &c->keys[k]);
    }
    if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "reading _cdc_changes", errstr, errstr_size);
        goto out;
    }
    err = CDC_CAPTURE_EOK;
out:
    /* Locked by a writer (rollback-journal mode): retriable, unlike real errors. */
    if (err == CDC_CAPTURE_ESQLITE && ((sqlite3_errcode(db) & 0xff) == SQLITE_BUSY ||
                                       (sqlite3_errcode(db) & 0xff) == SQLITE_LOCKED))
        err = CDC_CAPTURE_EBUSY;
    sqlite3_finalize(st);
    free(sql);
    cdc_sqlite_read_end(db, began);
    if (err == CDC_CAPTURE_EOK)
        *out = b;
    else
        cdc_change_batch_destroy(b);
    return err;
}

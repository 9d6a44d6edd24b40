#include "stream.h"

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

#define READ_BUSY_BUDGET_MS 10000.0
#define WAIT_POLL_MS        5

/* One entry of a batch, kept until the transaction has ended. Its values (keys, then
 * columns and the row's own key for an upsert) live in the batch's value buffer. */
typedef struct entry_s {
    size_t table;
    char op;
    int64_t seq;
    double ts;
    size_t first; /* index of its first value */
    size_t n_keys;
    size_t n_cols; /* 0 for a delete */
} entry_t;

typedef struct batch_s {
    const cdc_table_info_t *const *tables;
    size_t n;
    sqlite3_stmt **lookup; /* per table, prepared on first use */
    sqlite3_stmt *ts;
    cdc_rowbuf_t values; /* width 1: entry values are consecutive */
    entry_t *entries;
    size_t n_entries, cap_entries;
    size_t null_keys;
    int64_t data_version;
} batch_t;

/* SELECT <columns>, <key parts> FROM "t" WHERE k1 = ?1 AND ...: the key parts are read
 * back so the row's exact key can be compared with the logged one. */
static char *lookup_sql(const cdc_table_info_t *ti)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_append(&b, "SELECT ");
    for (size_t c = 0; c < ti->n_columns; c++) {
        cdc_sqlbuf_append(&b, c ? ", " : "");
        cdc_sqlbuf_ident(&b, ti->columns[c].name);
    }
    for (size_t k = 0; k < ti->n_keys; k++) {
        cdc_sqlbuf_append(&b, ti->n_columns || k ? ", " : "");
        if (ti->key_columns[k] < 0)
            cdc_sqlbuf_append(&b, ti->rowid_alias);
        else
            cdc_sqlbuf_ident(&b, ti->columns[ti->key_columns[k]].name);
    }
    cdc_sqlbuf_append(&b, " FROM ");
    cdc_sqlbuf_ident(&b, ti->name);
    for (size_t k = 0; k < ti->n_keys; k++) {
        cdc_sqlbuf_append(&b, k ? " AND " : " WHERE ");
        if (ti->key_columns[k] < 0)
            cdc_sqlbuf_append(&b, ti->rowid_alias);
        else
            cdc_sqlbuf_ident(&b, ti->columns[ti->key_columns[k]].name);
        cdc_sqlbuf_printf(&b, " = ?%zu", k + 1);
    }
    return b.s; /* owned by the caller */
}

static int find_table(const batch_t *b, const char *name, size_t *idx)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->tables[i]->name, name) == 0) {
            *idx = i;
            return 1;
        }
    }
    return 0;
}

static entry_t *add_entry(batch_t *b)
{
    if (b->n_entries == b->cap_entries) {
        b->cap_entries = b->cap_entries ? b->cap_entries * 2 : 64;
        b->entries = cdc_realloc(b->entries, b->cap_entries * sizeof(*b->entries));
    }
    entry_t *e = &b->entries[b->n_entries++];
    memset(e, 0, sizeof(*e));
    return e;
}

/* Reads the current row of change c into a new entry. */
static int read_entry(sqlite3 *db, batch_t *b, const cdc_change_t *c, size_t t, char *errstr,
                      size_t errstr_size)
{
    const cdc_table_info_t *ti = b->tables[t];
    int rc;
    if (!b->lookup[t]) {
        char *sql = lookup_sql(ti);
        rc = cdc_sqlite_prepare(db, sql, &b->lookup[t], errstr, errstr_size);
        free(sql);
        if (rc != SQLITE_OK)
            return rc;
    }
    sqlite3_stmt *st = b->lookup[t];
    entry_t *e = add_entry(b);
    e->table = t;
    e->seq = c->seq;
    e->n_keys = c->n_keys;
    e->first = b->values.n_rows;
    for (size_t k = 0; k < c->n_keys; k++) {
        cdc_rowbuf_set_value(&b->values, cdc_rowbuf_add(&b->values), &c->keys[k]);
        cdc_read_bind(st, (int)k + 1, &c->keys[k]);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        /* The row, then its own key: an upsert only if that key is exactly the logged one. */
        size_t first_col = b->values.n_rows;
        for (size_t i = 0; i < ti->n_columns + ti->n_keys; i++)
            cdc_rowbuf_set_column(&b->values, cdc_rowbuf_add(&b->values), st, (int)i);
        int same = 1;
        for (size_t k = 0; k < ti->n_keys && same; k++)
            same = cdc_read_value_same(cdc_rowbuf_row(&b->values, first_col + ti->n_columns + k),
                                       &c->keys[k]);
        if (same) {
            e->n_cols = ti->n_columns;
            e->op = c->op == 'u' ? 'u' : 'c';
        } else {
            b->values.n_rows = first_col; /* drop the image: the logged key is gone */
            e->op = 'd';
        }
        rc = SQLITE_DONE;
    } else if (rc == SQLITE_DONE) {
        e->op = 'd';
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return cdc_sqlite_error(db, rc, "reading a changed row", errstr, errstr_size);

    sqlite3_bind_int64(b->ts, 1, c->seq);
    rc = sqlite3_step(b->ts);
    if (rc == SQLITE_ROW) {
        e->ts = sqlite3_column_double(b->ts, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK; /* cannot happen in one snapshot; ts stays 0 */
    } else {
        cdc_sqlite_error(db, rc, "reading the statement time of a change", errstr, errstr_size);
    }
    sqlite3_reset(b->ts);
    return rc;
}

static int has_null_key(const cdc_change_t *c)
{
    for (size_t k = 0; k < c->n_keys; k++)
        if (c->keys[k].type == CDC_VAL_NULL)
            return 1;
    return 0;
}

/* One attempt: the whole batch in one read transaction. Returns a SQLite code, or -1
 * (no capture) / -2 (stale table list), with errstr set. */
static int batch_attempt(sqlite3 *db, batch_t *b, int64_t after, size_t limit,
                         cdc_position_state_t *pos, cdc_change_batch_t **changes, char *errstr,
                         size_t errstr_size)
{
    sqlite3_stmt *dv = NULL;
    int rc = cdc_sqlite_exec(db, "BEGIN", "BEGIN (stream batch)", errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    cdc_capture_err_t cerr = cdc_position_read(db, pos, errstr, errstr_size);
    if (cerr == CDC_CAPTURE_EOK)
        cerr = cdc_capture_fetch(db, after, limit, changes, errstr, errstr_size);
    if (cerr != CDC_CAPTURE_EOK) {
        rc = cerr == CDC_CAPTURE_ENOCAPTURE ? -1 : sqlite3_errcode(db);
        if (rc == SQLITE_OK)
            rc = SQLITE_ERROR;
        goto out;
    }
    rc = cdc_sqlite_prepare(db, "PRAGMA data_version", &dv, errstr, errstr_size);
    if (rc != SQLITE_OK)
        goto out;
    if ((rc = sqlite3_step(dv)) != SQLITE_ROW) {
        cdc_sqlite_error(db, rc, "PRAGMA data_version", errstr, errstr_size);
        goto out;
    }
    b->data_version = sqlite3_column_int64(dv, 0);
    for (size_t i = 0; i < (*changes)->n_changes; i++) {
        const cdc_change_t *c = &(*changes)->changes[i];
        size_t t;
        if (!find_table(b, c->table, &t) || c->n_keys != b->tables[t]->n_keys) {
            snprintf(errstr, errstr_size,
                     "%s: the change log has entries for table %s (%zu key part(s)) that the "
                     "stream was not given: reload the captured tables",
                     cdc_sqlite_path(db), c->table, c->n_keys);
            rc = -2;
            goto out;
        }
        if (has_null_key(c)) {
            b->null_keys++;
            continue;
        }
        rc = read_entry(db, b, c, t, errstr, errstr_size);
        if (rc != SQLITE_OK)
            goto out;
    }
    rc = cdc_sqlite_exec(db, "COMMIT", "COMMIT (stream batch)", errstr, errstr_size);
out:
    sqlite3_finalize(dv);
    cdc_sqlite_rollback_open(db);
    return rc;
}

static void batch_reset(batch_t *b)
{
    cdc_rowbuf_reset(&b->values);
    b->n_entries = 0;
    b->null_keys = 0;
}

cdc_read_err_t cdc_stream_read(sqlite3 *db, const cdc_table_info_t *const *tables, size_t n,
                               int64_t after_seq, size_t limit, cdc_stream_fn fn, void *opaque,
                               cdc_stream_batch_t *out, char *errstr, size_t errstr_size)
{
    cdc_read_err_t err = CDC_READ_ESQLITE;
    cdc_change_batch_t *changes = NULL;
    cdc_position_state_t pos;
    batch_t b;
    int retries = 0, rc;
    double hold = 0;
    size_t upserts = 0, deletes = 0;
    memset(&b, 0, sizeof(b));
    memset(&pos, 0, sizeof(pos));
    b.tables = tables;
    b.n = n;
    b.lookup = cdc_calloc(n ? n : 1, sizeof(*b.lookup));
    cdc_rowbuf_init(&b.values, 1);
    if (limit == 0)
        limit = CDC_STREAM_DEFAULT_LIMIT;
    if (!sqlite3_get_autocommit(db)) {
        snprintf(errstr, errstr_size,
                 "%s: stream: the connection is inside a transaction; a batch needs its own "
                 "short one",
                 cdc_sqlite_path(db));
        goto out;
    }
    if (cdc_sqlite_prepare(db, "SELECT ts FROM \"_cdc_changes\" WHERE seq = ?1", &b.ts, errstr,
                           errstr_size) != SQLITE_OK) {
        if (cdc_capture_installed(db, NULL, 0) == 0) {
            snprintf(errstr, errstr_size, "%s: capture is not installed", cdc_sqlite_path(db));
            err = CDC_READ_ENOCAPTURE;
        }
        goto out;
    }
    double start = cdc_sqlite_now_ms();
    for (int attempt = 0;; attempt++) {
        batch_reset(&b);
        cdc_change_batch_destroy(changes);
        changes = NULL;
        double t0 = cdc_sqlite_now_ms();
        rc = batch_attempt(db, &b, after_seq, limit, &pos, &changes, errstr, errstr_size);
        double t1 = cdc_sqlite_now_ms();
        if (t1 - t0 > hold)
            hold = t1 - t0;
        if (rc == SQLITE_OK)
            break;
        if (rc == -1 || rc == -2) {
            err = rc == -1 ? CDC_READ_ENOCAPTURE : CDC_READ_ESTALE;
            goto out;
        }
        if (!cdc_sqlite_is_busy(rc))
            goto out;
        retries++;
        if (t1 - start > READ_BUSY_BUDGET_MS) {
            snprintf(errstr, errstr_size,
                     "%s: stream: the file stayed locked by writers for %.0f ms",
                     cdc_sqlite_path(db), t1 - start);
            err = CDC_READ_EBUSY;
            goto out;
        }
        cdc_read_backoff(attempt);
    }
    if (b.null_keys)
        cdc_log_warn("%s: %zu change(s) with a NULL key part skipped (capture cannot tell such "
                     "rows apart); name NOT NULL key columns in the config's keys",
                     cdc_sqlite_path(db), b.null_keys);
    err = CDC_READ_OK;
    for (size_t i = 0; i < b.n_entries; i++) {
        const entry_t *e = &b.entries[i];
        const cdc_value_t *v = cdc_rowbuf_row(&b.values, e->first);
        cdc_stream_change_t ch = {.pos = {pos.epoch, pos.high},
                                  .table = e->table,
                                  .op = e->op,
                                  .key = v,
                                  .n_keys = e->n_keys,
                                  .row = e->n_cols ? v + e->n_keys : NULL,
                                  .n_cols = e->n_cols,
                                  .seq = e->seq,
                                  .stmt_julian = e->ts};
        if (fn(opaque, &ch) != 0) {
            snprintf(errstr, errstr_size, "stream batch stopped by its consumer");
            err = CDC_READ_EABORTED;
            break;
        }
        if (e->n_cols)
            upserts++;
        else
            deletes++;
    }
out:
    if (out && (err == CDC_READ_OK || err == CDC_READ_EABORTED)) {
        memset(out, 0, sizeof(*out));
        out->epoch = pos.epoch;
        out->h = pos.high;
        out->last_seq = err == CDC_READ_OK ? changes->upto : after_seq;
        out->log_rows = err == CDC_READ_OK ? changes->n_rows : 0;
        out->upserts = upserts;
        out->deletes = deletes;
        out->null_keys = b.null_keys;
        out->data_version = b.data_version;
        out->hold_ms = hold;
        out->busy_retries = retries;
    }
    for (size_t i = 0; i < n; i++)
        sqlite3_finalize(b.lookup[i]);
    free(b.lookup);
    sqlite3_finalize(b.ts);
    cdc_rowbuf_free(&b.values);
    free(b.entries);
    cdc_change_batch_destroy(changes);
    return err;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int cdc_stream_wait(sqlite3 *db, int64_t *version, int timeout_ms)
{
    sqlite3_stmt *st = NULL;
    int result = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
        goto out;
    double start = cdc_sqlite_now_ms();
    for (;;) {
        /* Each step is its own tiny read transaction: in rollback-journal mode a SHARED
         * lock for microseconds, in WAL mode a look at the wal-index header. */
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int64_t v = sqlite3_column_int64(st, 0);
            if (*version < 0) {
                *version = v;
            } else if (v != *version) {
                *version = v;
                result = 1;
                goto out;
            }
        } else if (!cdc_sqlite_is_busy(rc)) {
            goto out; /* a writer busy right now just means: look again shortly */
        }
        sqlite3_reset(st);
        if (cdc_sqlite_now_ms() - start >= (double)timeout_ms) {
            result = 0;
            goto out;
        }
        sleep_ms(WAIT_POLL_MS);
    }
out:
    sqlite3_finalize(st);
    return result;
}

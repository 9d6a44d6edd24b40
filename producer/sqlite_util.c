#include "sqlite_util.h"

#include "cdc_alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a COMMIT may wait for readers (rollback-journal mode) before we give the lock
 * back: while we wait we hold PENDING, which keeps new readers out. */
#define COMMIT_WAIT_MS   10.0
#define BACKOFF_FIRST_MS 1.0
#define BACKOFF_MAX_MS   50.0

void cdc_sqlbuf_init(cdc_sqlbuf_t *b)
{
    b->cap = 256;
    b->len = 0;
    b->s = cdc_malloc(b->cap);
    b->s[0] = '\0';
}

static void sqlbuf_reserve(cdc_sqlbuf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    while (b->len + extra + 1 > b->cap)
        b->cap *= 2;
    b->s = cdc_realloc(b->s, b->cap);
}

void cdc_sqlbuf_printf(cdc_sqlbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = cdc_vasprintf(fmt, ap);
    va_end(ap);
    cdc_sqlbuf_append(b, text);
    free(text);
}

void cdc_sqlbuf_append(cdc_sqlbuf_t *b, const char *text)
{
    size_t n = strlen(text);
    sqlbuf_reserve(b, n);
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

static void sqlbuf_quoted(cdc_sqlbuf_t *b, const char *text, char quote)
{
    size_t n = strlen(text);
    sqlbuf_reserve(b, 2 * n + 2);
    b->s[b->len++] = quote;
    for (const char *p = text; *p; p++) {
        if (*p == quote)
            b->s[b->len++] = quote;
        b->s[b->len++] = *p;
    }
    b->s[b->len++] = quote;
    b->s[b->len] = '\0';
}

void cdc_sqlbuf_ident(cdc_sqlbuf_t *b, const char *name)
{
    sqlbuf_quoted(b, name, '"');
}

void cdc_sqlbuf_literal(cdc_sqlbuf_t *b, const char *text)
{
    sqlbuf_quoted(b, text, '\'');
}

char *cdc_sqlbuf_take(cdc_sqlbuf_t *b)
{
    char *s = b->s;
    cdc_sqlbuf_init(b);
    return s;
}

void cdc_sqlbuf_free(cdc_sqlbuf_t *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

char *cdc_sqlite_quote_ident(const char *name)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_ident(&b, name);
    return b.s;
}

char *cdc_sqlite_quote_literal(const char *text)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_literal(&b, text);
    return b.s;
}

uint64_t cdc_sqlite_name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

double cdc_sqlite_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

const char *cdc_sqlite_path(sqlite3 *db)
{
    const char *p = sqlite3_db_filename(db, "main");
    return (p && *p) ? p : ":memory:";
}

int cdc_sqlite_error(sqlite3 *db, int rc, const char *what, char *errstr, size_t errstr_size)
{
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s: %s: %s", cdc_sqlite_path(db), what, sqlite3_errmsg(db));
    return rc;
}

int cdc_sqlite_exec(sqlite3 *db, const char *sql, const char *what, char *errstr,
                    size_t errstr_size)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        cdc_sqlite_error(db, rc, what ? what : sql, errstr, errstr_size);
    return rc;
}

int cdc_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, char *errstr,
                       size_t errstr_size)
{
    *out = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        char what[160];
        snprintf(what, sizeof(what), "preparing \"%.120s\"", sql);
        cdc_sqlite_error(db, rc, what, errstr, errstr_size);
    }
    return rc;
}

int cdc_sqlite_query_int64(sqlite3 *db, const char *sql, const char *what, int64_t *out,
                           char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = cdc_sqlite_prepare(db, sql, &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        goto out;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        cdc_sqlite_error(db, rc, what, errstr, errstr_size);
        goto out;
    }
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

int cdc_sqlite_schema_version(sqlite3 *db, int64_t *out, char *errstr, size_t errstr_size)
{
    return cdc_sqlite_query_int64(db, "PRAGMA main.schema_version", "reading PRAGMA schema_version",
                                  out, errstr, errstr_size);
}

void cdc_sqlite_column_values(sqlite3_stmt *st, int first_col, size_t n, cdc_value_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int col = first_col + (int)i;
        cdc_value_t *v = &out[i];

        memset(v, 0, sizeof(*v));
        switch (sqlite3_column_type(st, col)) {
        case SQLITE_INTEGER:
            v->type = CDC_VAL_INTEGER;
            v->i = sqlite3_column_int64(st, col);
            break;
        case SQLITE_FLOAT:
            v->type = CDC_VAL_REAL;
            v->r = sqlite3_column_double(st, col);
            break;
        case SQLITE_TEXT:
            /* Pointer first, then its length (SQLite's documented order). */
            v->type = CDC_VAL_TEXT;
            v->p = sqlite3_column_text(st, col);
            v->len = (size_t)sqlite3_column_bytes(st, col);
            break;
        case SQLITE_BLOB:
            v->type = CDC_VAL_BLOB;
            v->p = sqlite3_column_blob(st, col);
            v->len = (size_t)sqlite3_column_bytes(st, col);
            break;
        default:
            v->type = CDC_VAL_NULL;
            break;
        }
    }
}

void cdc_sqlite_rollback_open(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int cdc_sqlite_table_exists(sqlite3 *db, const char *name, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int result = -1;
    if (cdc_sqlite_prepare(db, "SELECT 1 FROM main.sqlite_master WHERE type='table' AND name=?1",
                           &st, errstr, errstr_size) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        result = 1;
    else if (rc == SQLITE_DONE)
        result = 0;
    else
        cdc_sqlite_error(db, rc, "reading sqlite_master", errstr, errstr_size);
out:
    sqlite3_finalize(st);
    return result;
}

static void sleep_ms(double ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000.0);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000.0) * 1e6);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Jitter keeps two producers (or a producer and a retrying app) from retrying in step. */
static double backoff_ms(int retry)
{
    double base = BACKOFF_FIRST_MS;
    for (int i = 0; i < retry && base < BACKOFF_MAX_MS; i++)
        base *= 2;
    if (base > BACKOFF_MAX_MS)
        base = BACKOFF_MAX_MS;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double jitter = (double)((unsigned long)ts.tv_nsec % 1000u) / 1000.0; /* [0,1) */
    return base * (0.5 + jitter / 2.0);
}

int cdc_sqlite_is_busy(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static int read_busy_timeout(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int ms = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA busy_timeout", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ms = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return ms;
}

/* COMMIT, retrying a busy COMMIT (readers still hold SHARED locks) for COMMIT_WAIT_MS. */
static int commit_briefly(sqlite3 *db)
{
    double start = cdc_sqlite_now_ms();
    for (;;) {
        int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (!cdc_sqlite_is_busy(rc) || cdc_sqlite_now_ms() - start >= COMMIT_WAIT_MS)
            return rc;
        sleep_ms(0.5);
    }
}

int cdc_sqlite_write_tx(sqlite3 *db, int timeout_ms, cdc_sqlite_txfn_t fn, void *arg,
                        cdc_sqlite_txstats_t *stats, char *errstr, size_t errstr_size)
{
    cdc_sqlite_txstats_t local = {0};
    cdc_sqlite_txstats_t *st = stats ? stats : &local;
    int rc = SQLITE_OK;
    if (!sqlite3_get_autocommit(db)) {
        snprintf(errstr, errstr_size,
                 "%s: a write transaction was requested while another transaction is open",
                 cdc_sqlite_path(db));
        return SQLITE_MISUSE;
    }
    int saved_timeout = read_busy_timeout(db);
    sqlite3_busy_timeout(db, 0);
    double start = cdc_sqlite_now_ms();
    for (int retry = 0;; retry++) {
        st->attempts++;
        rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            double t0 = cdc_sqlite_now_ms();
            rc = fn(db, arg, errstr, errstr_size);
            if (rc == SQLITE_OK) {
                rc = commit_briefly(db);
                if (rc != SQLITE_OK && !cdc_sqlite_is_busy(rc))
                    cdc_sqlite_error(db, rc, "COMMIT", errstr, errstr_size);
            }
            if (rc != SQLITE_OK && !sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            double held = cdc_sqlite_now_ms() - t0;
            if (held > st->hold_ms)
                st->hold_ms = held;
            if (rc == SQLITE_OK || !cdc_sqlite_is_busy(rc))
                goto out;
        } else if (!cdc_sqlite_is_busy(rc)) {
            cdc_sqlite_error(db, rc, "BEGIN IMMEDIATE", errstr, errstr_size);
            goto out;
        }
        st->busy_retries++;
        double waited = cdc_sqlite_now_ms() - start;
        if (waited >= (double)timeout_ms) {
            snprintf(errstr, errstr_size,
                     "%s: the database stayed locked by other connections for %.0f ms "
                     "(%d attempts); giving up for now",
                     cdc_sqlite_path(db), waited, st->attempts);
            rc = SQLITE_BUSY;
            goto out;
        }
        double pause = backoff_ms(retry);
        sleep_ms(pause);
        st->wait_ms += pause;
    }
out:
    sqlite3_busy_timeout(db, saved_timeout);
    return rc;
}

int cdc_sqlite_read_begin(sqlite3 *db, int *began, char *errstr, size_t errstr_size)
{
    *began = 0;
    if (!sqlite3_get_autocommit(db))
        return SQLITE_OK;
    int rc = cdc_sqlite_exec(db, "BEGIN", "BEGIN (read)", errstr, errstr_size);
    if (rc == SQLITE_OK)
        *began = 1;
    return rc;
}

void cdc_sqlite_read_end(sqlite3 *db, int began)
{
    /* A read transaction has nothing to keep: COMMIT only releases the snapshot. */
    if (began && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/*
 * Helpers shared by the test_capture*.c, test_snapshot.c and test_stream.c unit tests:
 * temporary SQLite files in a mkdtemp directory (removed afterwards), in WAL or
 * rollback-journal mode, capture install/check that fail the test on error, and text
 * renderings of values, of the change log and of the whole database (for exact
 * before/after comparisons).
 * Everything is static inline so each test executable takes only what it uses.
 */
#ifndef TEST_CAPTURE_UTIL_H
#define TEST_CAPTURE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "capture.h"
#include "cdc_alloc.h"
#include "sqlite_util.h"
#include "table_info.h"

typedef struct tdb_s {
    char dir[64];
    char path[128];
    const char *mode; /* "wal" or "delete" */
    sqlite3 *db;
} tdb_t;

static inline void tdb_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("SQL failed (%s): %s", err ? err : "?", sql);
    sqlite3_free(err);
}

static inline sqlite3 *tdb_connect(const tdb_t *t)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(t->path, &db) != SQLITE_OK)
        fail_msg("cannot open %s", t->path);
    sqlite3_busy_timeout(db, 1000);
    return db;
}

/* Creates a fresh database file in its own temporary directory. */
static inline tdb_t *tdb_open(const char *mode)
{
    tdb_t *t = cdc_calloc(1, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/cdc-capture-XXXXXX");
    if (!mkdtemp(t->dir))
        fail_msg("mkdtemp failed");
    snprintf(t->path, sizeof(t->path), "%s/source.db", t->dir);
    t->mode = mode;
    t->db = tdb_connect(t);
    char *sql = cdc_asprintf("PRAGMA journal_mode=%s", mode);
    tdb_exec(t->db, sql);
    free(sql);
    return t;
}

static inline void tdb_close(tdb_t *t)
{
    if (!t)
        return;
    sqlite3_close(t->db);
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
        unlink(p);
    }
    rmdir(t->dir);
    free(t);
}

static inline int64_t tdb_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare failed (%s): %s", sqlite3_errmsg(db), sql);
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Rows of every query result column joined with '|' and rows with '\n'; caller frees. */
static inline char *tdb_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare failed (%s): %s", sqlite3_errmsg(db), sql);
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            cdc_sqlbuf_printf(&b, "%s%s", i ? "|" : "", v ? v : "NULL");
        }
        cdc_sqlbuf_append(&b, "\n");
    }
    sqlite3_finalize(st);
    return b.s;
}

static inline void assert_text(sqlite3 *db, const char *sql, const char *expected)
{
    char *got = tdb_text(db, sql);
    assert_string_equal(got, expected);
    free(got);
}

/* The change log as "tbl op key,key\n" lines in seq order, keys rendered with quote()
 * so text '1' and integer 1 differ; trailing NULL key columns (narrower keys) omitted. */
static inline char *tdb_log(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT * FROM _cdc_changes ORDER BY seq", -1, &st, NULL) !=
        SQLITE_OK)
        fail_msg("prepare failed: %s", sqlite3_errmsg(db));
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(db, "SELECT quote(?1)", -1, &q, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int last = sqlite3_column_count(st) - 1;
        while (last >= 4 && sqlite3_column_type(st, last) == SQLITE_NULL)
            last--;
        cdc_sqlbuf_printf(&b, "%s %s ", (const char *)sqlite3_column_text(st, 1),
                          (const char *)sqlite3_column_text(st, 2));
        for (int i = 4; i <= last; i++) {
            sqlite3_reset(q);
            sqlite3_bind_value(q, 1, sqlite3_column_value(st, i));
            sqlite3_step(q);
            cdc_sqlbuf_printf(&b, "%s%s", i > 4 ? "," : "",
                              (const char *)sqlite3_column_text(q, 0));
        }
        cdc_sqlbuf_append(&b, "\n");
    }
    sqlite3_finalize(q);
    sqlite3_finalize(st);
    return b.s;
}

/* An in-process dump: every schema object (sorted) and every row of every ordinary
 * table (by rowid / key order), values with quote(). Caller frees. */
static inline char *tdb_dump(sqlite3 *db)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    char *schema = tdb_text(db, "SELECT type, name, tbl_name, sql FROM sqlite_master "
                                "ORDER BY type, name");
    cdc_sqlbuf_append(&b, schema);
    free(schema);
    char *tables = tdb_text(db, "SELECT name FROM sqlite_master WHERE type='table' AND "
                                "sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name");
    for (char *line = strtok(tables, "\n"); line; line = strtok(NULL, "\n")) {
        char *q = cdc_sqlite_quote_ident(line);
        char *sql = cdc_asprintf("SELECT * FROM %s", q);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            fail_msg("dump prepare failed: %s", sql);
        sqlite3_stmt *quote = NULL;
        sqlite3_prepare_v2(db, "SELECT quote(?1)", -1, &quote, NULL);
        cdc_sqlbuf_printf(&b, "-- %s\n", line);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                sqlite3_reset(quote);
                sqlite3_bind_value(quote, 1, sqlite3_column_value(st, i));
                sqlite3_step(quote);
                cdc_sqlbuf_printf(&b, "%s%s", i ? "," : "",
                                  (const char *)sqlite3_column_text(quote, 0));
            }
            cdc_sqlbuf_append(&b, "\n");
        }
        sqlite3_finalize(quote);
        sqlite3_finalize(st);
        free(sql);
        free(q);
    }
    free(tables);
    return b.s;
}

/* `sqlite3 FILE .dump` through the CLI, or NULL when the CLI is not installed. */
static inline char *tdb_cli_dump(const char *path)
{
    if (system("command -v sqlite3 >/dev/null 2>&1") != 0)
        return NULL;
    char *cmd = cdc_asprintf("sqlite3 '%s' .dump", path);
    FILE *f = popen(cmd, "r");
    free(cmd);
    if (!f)
        return NULL;
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
        buf[n] = '\0';
        cdc_sqlbuf_append(&b, buf);
    }
    if (pclose(f) != 0)
        fail_msg("sqlite3 .dump failed");
    return b.s;
}

/* Each test twice, its prestate the journal mode tdb_open takes. */
#define TDB_BOTH(f)                                                                                \
    cmocka_unit_test_prestate(f, (void *)"wal"), cmocka_unit_test_prestate(f, (void *)"delete")

/* Every table of the database, as the capture spec's table list. */
static const char *const TDB_ALL[] = {"*"};

/* cdc_capture_install (do_install) or cdc_capture_check of the given tables and keys;
 * fails the test on error. The caller destroys the report. */
static inline cdc_capture_report_t *tdb_capture(sqlite3 *db, int do_install,
                                                const char *const *tables, size_t n,
                                                const cdc_table_keys_t *keys, size_t n_keys)
{
    char err[1024] = "";
    cdc_capture_spec_t spec = {.tables = tables, .n_tables = n, .keys = keys, .n_keys = n_keys};
    cdc_capture_report_t *r = NULL;
    cdc_capture_err_t e = do_install ? cdc_capture_install(db, &spec, &r, err, sizeof(err))
                                     : cdc_capture_check(db, &spec, &r, err, sizeof(err));
    if (e != CDC_CAPTURE_EOK)
        fail_msg("%s failed: %s: %s", do_install ? "install" : "check", cdc_capture_err2str(e),
                 err);
    return r;
}

/* Installs capture on every table with an epoch above min_epoch; returns the epoch. */
static inline int64_t tdb_install_all(sqlite3 *db, int64_t min_epoch)
{
    char err[1024] = "";
    cdc_capture_spec_t spec = {.tables = TDB_ALL, .n_tables = 1, .min_epoch = min_epoch};
    cdc_capture_report_t *r = NULL;
    cdc_capture_err_t e = cdc_capture_install(db, &spec, &r, err, sizeof(err));
    int64_t epoch;

    if (e != CDC_CAPTURE_EOK)
        fail_msg("install failed: %s: %s", cdc_capture_err2str(e), err);
    epoch = r->epoch;
    cdc_capture_report_destroy(r);
    return epoch;
}

/* The report's entry for table name; fails the test when it has none. */
static inline const cdc_capture_table_t *tdb_report_table(const cdc_capture_report_t *r,
                                                          const char *name)
{
    for (size_t i = 0; i < r->n_tables; i++)
        if (strcmp(r->tables[i].table, name) == 0)
            return &r->tables[i];
    fail_msg("table %s not in report", name);
    return NULL;
}

/* The table's description; fails the test when it cannot be read. Caller destroys it. */
static inline cdc_table_info_t *tdb_table_info(sqlite3 *db, const char *name)
{
    char err[512] = "";
    cdc_table_info_t *ti = NULL;
    if (cdc_table_info_load(db, name, NULL, &ti, err, sizeof(err)) != CDC_TABLE_INFO_OK)
        fail_msg("table_info %s: %s", name, err);
    return ti;
}

/* Appends v as SQL-like text; typed puts the storage class first (i1, r1.5, t'1'), so that
 * tests telling integer 1 from text '1' see the difference. */
static inline void tdb_render_value(cdc_sqlbuf_t *b, const cdc_value_t *v, int typed)
{
    switch (v->type) {
    case CDC_VAL_NULL:
        cdc_sqlbuf_append(b, "NULL");
        break;
    case CDC_VAL_INTEGER:
        cdc_sqlbuf_printf(b, "%s%lld", typed ? "i" : "", (long long)v->i);
        break;
    case CDC_VAL_REAL:
        cdc_sqlbuf_printf(b, "%s%.17g", typed ? "r" : "", v->r);
        break;
    case CDC_VAL_TEXT:
        cdc_sqlbuf_printf(b, "%s'%.*s'", typed ? "t" : "", (int)v->len, (const char *)v->p);
        break;
    case CDC_VAL_BLOB:
        cdc_sqlbuf_append(b, "x");
        for (size_t i = 0; i < v->len; i++)
            cdc_sqlbuf_printf(b, "%02x", v->p[i]);
        break;
    }
}

#endif

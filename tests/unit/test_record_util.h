/*
 * Helpers of test_record.c: in-memory SQLite tables and their columns, the comparison of a
 * decoded value with what SQLite itself returns for the stored value, and avro-c's generic
 * reader over our bytes. Everything is static inline, like test_capture_util.h.
 */
#ifndef TEST_RECORD_UTIL_H
#define TEST_RECORD_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_avro_value.h"
#include "cdc_config.h"
#include "cdc_convert.h"
#include "cdc_framing.h"
#include "cdc_murmur2.h"
#include "cdc_names.h"
#include "record.h"
#include "test_avro_util.h"

#define MAXCOLS    16
#define PARTITIONS 6
#define SOURCE     "s1"

/* ------------------------------------------------------------------ SQLite helpers */

static inline void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("SQL failed (%s): %s", err ? err : "?", sql);
    sqlite3_free(err);
}

static inline sqlite3 *db_open(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    exec(db, sql);
    return db;
}

static inline sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare failed (%s): %s", sqlite3_errmsg(db), sql);
    return st;
}

/* The table's columns as the capture helper reports them: name, declared type, NOT NULL
 * and key position, straight from pragma_table_info. */
typedef struct tcols_s {
    cdc_column_t cols[MAXCOLS];
    size_t n;
} tcols_t;

static inline void load_cols(sqlite3 *db, const char *table, tcols_t *t)
{
    sqlite3_stmt *st =
        prepare(db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid");
    memset(t, 0, sizeof(*t));
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        cdc_column_t *c = &t->cols[t->n++];
        c->name = cdc_strdup((const char *)sqlite3_column_text(st, 0));
        c->decl_type = cdc_strdup((const char *)sqlite3_column_text(st, 1));
        c->not_null = sqlite3_column_int(st, 2);
        c->pk_index = sqlite3_column_int(st, 3);
    }
    sqlite3_finalize(st);
    assert_true(t->n > 0);
}

static inline void free_cols(tcols_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->cols[i].name);
        free(t->cols[i].decl_type);
    }
}

static inline cdc_table_codec_t *codec_for(sqlite3 *db, const char *table, const cdc_kvlist_t *ov)
{
    tcols_t t;
    char err[512] = "";
    cdc_table_codec_t *c;

    load_cols(db, table, &t);
    c = cdc_table_codec_new(SOURCE, table, t.cols, t.n, ov, err, sizeof err);
    free_cols(&t);
    if (c == NULL)
        fail_msg("codec for %s: %s", table, err);
    return c;
}

/* One SQL expression over a bound value, as text (NULL result: ""). */
static inline char *sql_text(sqlite3 *db, const char *sql, const cdc_value_t *v, const char *arg2)
{
    sqlite3_stmt *st = prepare(db, sql);
    char *r;

    assert_int_equal(cdc_record_bind_values(st, 1, v, 1), SQLITE_OK);
    if (arg2 != NULL)
        sqlite3_bind_text(st, 2, arg2, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    r = cdc_strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_finalize(st);
    return r;
}

static inline int64_t sql_int(sqlite3 *db, const char *sql, const cdc_value_t *v)
{
    char *t = sql_text(db, sql, v, NULL);
    int64_t r = strtoll(t, NULL, 10);
    free(t);
    return r;
}

/* ------------------------------------------------ decoded value vs SQLite's own value */

static inline double raw_number(const cdc_value_t *v)
{
    if (v->type == CDC_VAL_INTEGER)
        return (double)v->i;
    if (v->type == CDC_VAL_REAL)
        return v->r;
    assert_int_equal(v->type, CDC_VAL_TEXT);
    return strtod((const char *)v->p, NULL);
}

/* Compares a decoded value m of column col with the value SQLite stores (raw), using
 * SQLite's own functions for the representations that need computing. */
static inline void assert_matches_sqlite(sqlite3 *db, const cdc_column_t *col,
                                         const cdc_value_t *raw, const cdc_mapped_t *m)
{
    cdc_buf_t b = CDC_BUF_INIT;
    char fmt[16], *want = NULL;

    if (raw->type == CDC_VAL_NULL) {
        assert_true(m->is_null);
        return;
    }
    assert_false(m->is_null);
    switch (col->type.kind) {
    case CDC_COL_LONG:
    case CDC_COL_BOOLEAN:
        assert_int_equal(raw->type, CDC_VAL_INTEGER);
        assert_true(m->l == raw->i);
        break;
    case CDC_COL_DOUBLE:
        assert_true(m->d == raw_number(raw));
        break;
    case CDC_COL_DECIMAL:
        /* SQLite's printf('%.Sf') of the stored value is the exact decimal text. */
        assert_int_equal(cdc_convert_decimal_text(m->p, m->len, col->type.scale, &b), 0);
        snprintf(fmt, sizeof fmt, "%%.%df", col->type.scale);
        want = sql_text(db, "SELECT printf(?2, ?1)", raw, fmt);
        assert_string_equal(cdc_buf_cstr(&b), want);
        break;
    case CDC_COL_NUMERIC:
        cdc_buf_put(&b, m->p, m->len);
        assert_true(strtod(cdc_buf_cstr(&b), NULL) == raw_number(raw));
        break;
    case CDC_COL_TIMESTAMP:
        if (raw->type == CDC_VAL_INTEGER)
            assert_true(m->l == raw->i * 1000000);
        else
            assert_true(m->l == sql_int(db,
                                        "SELECT CAST(strftime('%s', ?1) AS INTEGER) * 1000000 + "
                                        "CAST(substr(strftime('%f', ?1), 4) AS INTEGER) * 1000",
                                        raw));
        break;
    case CDC_COL_DATE:
        assert_true(m->l == sql_int(db,
                                    raw->type == CDC_VAL_INTEGER
                                        ? "SELECT CAST(julianday(?1, 'unixepoch') - 2440587.5 "
                                          "AS INTEGER)"
                                        : "SELECT CAST(julianday(?1) - 2440587.5 AS INTEGER)",
                                    raw));
        break;
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
    case CDC_COL_BLOB:
        if (raw->type == CDC_VAL_TEXT || raw->type == CDC_VAL_BLOB) {
            assert_int_equal(m->len, raw->len);
            if (m->len > 0)
                assert_memory_equal(m->p, raw->p, m->len);
        } else {
            /* A number in a text/JSON column: its text, numerically equal. */
            cdc_buf_put(&b, m->p, m->len);
            assert_true(strtod(cdc_buf_cstr(&b), NULL) == raw_number(raw));
        }
        break;
    }
    free(want);
    cdc_buf_free(&b);
}

/* Checks the envelope fields besides "after" as avro-c reads them. */
static inline void avro_assert_envelope(avro_value_t *env, const char *table, char op,
                                        const cdc_record_meta_t *meta)
{
    avro_value_t f, src, v;
    const void *bp = NULL;
    size_t bsize = 0;
    int b = -1;
    char ops[2] = {op, 0};

    avro_field(env, "op", &f);
    avro_assert_str(&f, ops, 1);
    avro_field(env, "source", &src);
    avro_field(&src, "name", &f);
    avro_assert_str(&f, SOURCE, strlen(SOURCE));
    avro_field(&src, "table", &f);
    avro_assert_str(&f, table, strlen(table));
    assert_true(avro_long(&src, "epoch") == meta->pos.epoch);
    assert_true(avro_long(&src, "position") == meta->pos.h);
    avro_field(&src, "snapshot", &f);
    assert_int_equal(avro_value_get_boolean(&f, &b), 0);
    assert_int_equal(b, op == 'r');
    avro_field(&src, "stmt_time_us", &f);
    if (meta->stmt_time_us == -1) {
        assert_int_equal(avro_unwrap(&f, 1, &v), 0);
    } else {
        int64_t l = 0;
        assert_int_equal(avro_unwrap(&f, 1, &v), 1);
        assert_int_equal(avro_value_get_long(&v, &l), 0);
        assert_true(l == meta->stmt_time_us);
    }
    avro_field(env, "row_hash", &f);
    if (op == 'd' || meta->row_hash == NULL) {
        assert_int_equal(avro_unwrap(&f, 1, &v), 0);
    } else {
        assert_int_equal(avro_unwrap(&f, 1, &v), 1);
        assert_int_equal(avro_value_get_bytes(&v, &bp, &bsize), 0);
        assert_int_equal(bsize, meta->row_hash_len);
        assert_memory_equal(bp, meta->row_hash, bsize);
    }
    assert_true(avro_long(env, "ts_ms") == meta->ts_ms);
}

#endif
